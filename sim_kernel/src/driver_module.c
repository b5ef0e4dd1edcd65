/*
 * driver_module.c - drivers built as modules: a shared object mapped with dlopen(RTLD_NOW |
 * RTLD_LOCAL), as Windows maps a .sys, so each has its own DriverEntry and globals. Finds the
 * image's extent and its INIT section (from the file's section headers) and maps a second driver
 * from an already loaded file as a copy of its own.
 *
 * A mapped module is kept when its driver unloads, for the next driver from the same file (a test
 * program loads the same drivers kernel after kernel; an explored schedule, every schedule): its
 * code pages become readable only and its data read-only, as good as unmapped for stale code that
 * runs or writes there - crash.c hands such a fault to this file's claim, which stops with the bug
 * check Windows raises for it (0xCE) - and the next load makes them accessible again and puts back the writable
 * data as it was right after mapping, before DriverEntry ran. Mapping and relocating a module with
 * dlopen is most of a load's cost. The data is copied with raw read/write system calls: a
 * sanitizer would take an ordinary copy across the module's global redzones for an overflow.
 * Every page stays readable while the module waits: dladdr and the unwinder, reading its symbols
 * and unwind tables for a report, and LeakSanitizer, scanning its data at exit, must not fault. At exit every module is made
 * accessible again, for the destructors the dynamic loader runs in it.
 * Locking: module_lock guards the kept modules (a leaf). The claim walks them without it: a module
 * is linked, whole, before its driver runs, a record is never unlinked, and in_use is an atomic.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <elf.h>
#include <fcntl.h>
#include <link.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "driver_private.h"

#define DRIVER_MODULE_MAX_SPANS 8

/* Pages of a mapped module and the protection the loader gave them. */
struct driver_module_span {
    uintptr_t start;
    size_t size;
    int protection;
};

struct driver_kept_module {
    struct driver_kept_module *next;
    void *handle;
    dev_t device;                   /* the file it was mapped from, as it was then */
    ino_t inode;
    struct timespec modified;
    off_t file_size;
    _Atomic bool in_use;
    char driver_name[64];           /* the driver that unloaded it last, for a report */
    PDRIVER_INITIALIZE entry;
    struct driver_range image, init;
    struct driver_module_span spans[DRIVER_MODULE_MAX_SPANS];
    unsigned span_count;
    struct driver_range data;       /* its writable data, past the part made read-only after relocation */
    int data_copy;                  /* a memfd: data as it was right after mapping */
};

static pthread_mutex_t module_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t module_exit_once = PTHREAD_ONCE_INIT;
static struct driver_kept_module *kept_modules;

struct driver_image_search {
    uintptr_t base;
    struct driver_range *image;
};

static int driver_image_of(struct dl_phdr_info *info, size_t size, void *context)
{
    struct driver_image_search *search = context;
    uintptr_t low = UINTPTR_MAX, high = 0;

    (void)size;
    if (info->dlpi_addr != search->base)
        return 0;
    for (ElfW(Half) i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];

        if (ph->p_type != PT_LOAD)
            continue;
        if (info->dlpi_addr + ph->p_vaddr < low)
            low = info->dlpi_addr + ph->p_vaddr;
        if (info->dlpi_addr + ph->p_vaddr + ph->p_memsz > high)
            high = info->dlpi_addr + ph->p_vaddr + ph->p_memsz;
    }
    *search->image = (struct driver_range){ low, high > low ? high - low : 0 };
    return 1;
}

static bool driver_read_at(int fd, void *buf, size_t size, off_t offset)
{
    return pread(fd, buf, size, offset) == (ssize_t)size;
}

/* The module's section INIT as mapped at base, from the section headers in its file (the Windows
 * loader reads a .sys file's section table the same way); size 0 when it has none. */
static struct driver_range driver_find_init(const char *path, uintptr_t base)
{
    struct driver_range init = { 0, 0 };
    ElfW(Ehdr) eh;
    ElfW(Shdr) names, sh;
    char name[sizeof "INIT"];
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0)
        return init;
    if (driver_read_at(fd, &eh, sizeof eh, 0) && memcmp(eh.e_ident, ELFMAG, SELFMAG) == 0 &&
        eh.e_ident[EI_CLASS] == (sizeof(void *) == 8 ? ELFCLASS64 : ELFCLASS32) &&
        eh.e_shentsize == sizeof sh && eh.e_shstrndx != SHN_UNDEF && eh.e_shstrndx < eh.e_shnum &&
        driver_read_at(fd, &names, sizeof names, (off_t)(eh.e_shoff + (ElfW(Off))eh.e_shstrndx * sizeof sh))) {
        for (ElfW(Half) i = 0; i < eh.e_shnum && init.size == 0; i++) {
            if (!driver_read_at(fd, &sh, sizeof sh, (off_t)(eh.e_shoff + (ElfW(Off))i * sizeof sh)) ||
                !(sh.sh_flags & SHF_ALLOC) || sh.sh_size == 0 ||
                !driver_read_at(fd, name, sizeof name, (off_t)(names.sh_offset + sh.sh_name)))
                continue;
            if (memcmp(name, "INIT", sizeof name) == 0)
                init = (struct driver_range){ base + sh.sh_addr, sh.sh_size };
        }
    }
    close(fd);
    return init;
}

/* dlopen maps a file once however often it is opened; a second driver from the same file gets a
 * copy of its own, as a second .sys would, from an anonymous file with the same bytes. */
static void *driver_dlopen_copy(const char *path, const char *name)
{
    char copy_path[64], buf[65536];
    int in = open(path, O_RDONLY | O_CLOEXEC);
    int out = memfd_create(name, MFD_CLOEXEC);
    void *module = NULL;
    ssize_t n = 0;

    if (in >= 0 && out >= 0) {
        while ((n = read(in, buf, sizeof buf)) > 0 && write(out, buf, (size_t)n) == n)
            ;
        snprintf(copy_path, sizeof copy_path, "/proc/self/fd/%d", out);
        if (n == 0)
            module = dlopen(copy_path, RTLD_NOW | RTLD_LOCAL);
    }
    if (in >= 0)
        close(in);
    if (out >= 0)
        close(out);
    return module;
}

static NTSTATUS driver_dlopen_status(const char *path)
{
    const char *why = dlerror();

    fprintf(stderr, "wdmsim: cannot load driver module %s: %s\n", path, why ? why : "unknown error");
    return (why != NULL && strstr(why, "undefined symbol") != NULL) ? STATUS_PROCEDURE_NOT_FOUND
                                                                   : STATUS_INVALID_IMAGE_FORMAT;
}

static uintptr_t driver_page_down(uintptr_t address)
{
    return address & ~((uintptr_t)sysconf(_SC_PAGESIZE) - 1);
}

static uintptr_t driver_page_up(uintptr_t address)
{
    return driver_page_down(address + (uintptr_t)sysconf(_SC_PAGESIZE) - 1);
}

static int driver_protection_of(ElfW(Word) flags)
{
    return (flags & PF_R ? PROT_READ : 0) | (flags & PF_W ? PROT_WRITE : 0) | (flags & PF_X ? PROT_EXEC : 0);
}

/* The module's loaded segments as the loader protected them, RELRO (read-only once relocated)
 * apart; its writable data is the rest of the writable segment. */
struct driver_span_search {
    uintptr_t base;
    struct driver_kept_module *kept;
};

static int driver_spans_of(struct dl_phdr_info *info, size_t size, void *context)
{
    const struct driver_span_search *search = context;
    struct driver_kept_module *kept = search->kept;
    uintptr_t relro_end = 0;

    (void)size;
    if (info->dlpi_addr != search->base)
        return 0;
    kept->span_count = 0;
    for (ElfW(Half) i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        uintptr_t start = info->dlpi_addr + ph->p_vaddr;

        if (ph->p_type == PT_GNU_RELRO)
            relro_end = driver_page_down(start + ph->p_memsz);
        if (ph->p_type != PT_LOAD || kept->span_count == DRIVER_MODULE_MAX_SPANS)
            continue;
        kept->spans[kept->span_count++] = (struct driver_module_span){
            driver_page_down(start), driver_page_up(start + ph->p_memsz) - driver_page_down(start),
            driver_protection_of(ph->p_flags) };
    }
    for (unsigned i = 0; i < kept->span_count; i++) {
        struct driver_module_span *span = &kept->spans[i];
        uintptr_t data = span->start < relro_end && relro_end < span->start + span->size ? relro_end : span->start;

        if (span->protection & PROT_WRITE)
            kept->data = (struct driver_range){ data, span->start + span->size - data };
    }
    return 1;
}

/* Readable (see the header): code cannot run, data cannot be written. */
static int driver_parked_protection(const struct driver_module_span *span)
{
    return span->protection & ~(PROT_WRITE | PROT_EXEC);
}

static void driver_module_protect(const struct driver_kept_module *kept, bool parked)
{
    for (unsigned i = 0; i < kept->span_count; i++) {
        const struct driver_module_span *span = &kept->spans[i];
        uintptr_t start = span->start;
        size_t size = span->size;

        /* Only the writable data: the RELRO part of the segment stays as the loader left it. */
        if (span->protection & PROT_WRITE) {
            start = kept->data.start;
            size = kept->data.size;
        }
        if (size != 0 && mprotect((void *)start, size, parked ? driver_parked_protection(span) : span->protection) != 0)
            abort();
    }
}

static bool driver_module_copy_data(const struct driver_kept_module *kept, bool save)
{
    long done = syscall(save ? SYS_pwrite64 : SYS_pread64, kept->data_copy, (void *)kept->data.start,
                        kept->data.size, 0);

    return done == (long)kept->data.size;
}

static bool driver_same_file(const struct driver_kept_module *kept, const struct stat *st)
{
    return kept->device == st->st_dev && kept->inode == st->st_ino;
}

static bool driver_same_version(const struct driver_kept_module *kept, const struct stat *st)
{
    return driver_same_file(kept, st) && kept->file_size == st->st_size &&
           kept->modified.tv_sec == st->st_mtim.tv_sec && kept->modified.tv_nsec == st->st_mtim.tv_nsec;
}

/* A kept module of this file, unused, made like new; NULL if none. *mapped: whether this file is
 * mapped at all, in which case a new mapping must be a copy (dlopen would return the same one). */
static struct driver_kept_module *driver_module_reuse(const struct stat *st, bool *mapped)
{
    struct driver_kept_module *kept;

    *mapped = false;
    host_lock(&module_lock);
    for (kept = kept_modules; kept != NULL; kept = kept->next) {
        *mapped = *mapped || driver_same_file(kept, st);
        if (!kept->in_use && driver_same_version(kept, st)) {
            kept->in_use = true;
            break;
        }
    }
    host_unlock(&module_lock);
    if (kept != NULL) {
        driver_module_protect(kept, false);
        if (!driver_module_copy_data(kept, false))
            abort();
    }
    return kept;
}

/* Registered after the dynamic loader's own exit handler, so it runs before it. */
static void driver_module_unpark_all(void)
{
    host_lock(&module_lock);
    for (struct driver_kept_module *kept = kept_modules; kept != NULL; kept = kept->next) {
        if (!kept->in_use)
            driver_module_protect(kept, false);
    }
    host_unlock(&module_lock);
}

static void driver_module_register_exit(void)
{
    if (atexit(driver_module_unpark_all) != 0)
        abort();
}

/* A record for a module just mapped, its data saved as it is before any of its code ran. */
static struct driver_kept_module *driver_module_keep(void *handle, const char *path, const struct stat *st)
{
    struct driver_kept_module *kept = calloc(1, sizeof *kept);
    struct driver_image_search search = { 0, NULL };
    struct link_map *map;

    if (kept == NULL)
        abort();
    *kept = (struct driver_kept_module){ .handle = handle, .device = st->st_dev, .inode = st->st_ino,
                                         .modified = st->st_mtim, .file_size = st->st_size, .in_use = true,
                                         .data_copy = -1 };
    if (dlinfo(handle, RTLD_DI_LINKMAP, &map) != 0) {
        free(kept);
        return NULL;
    }
    search = (struct driver_image_search){ map->l_addr, &kept->image };
    dl_iterate_phdr(driver_image_of, &search);
    kept->init = driver_find_init(path, map->l_addr);
    kept->entry = (PDRIVER_INITIALIZE)dlsym(handle, "DriverEntry");
    dl_iterate_phdr(driver_spans_of, &(struct driver_span_search){ map->l_addr, kept });
    kept->data_copy = memfd_create("wdmsim-module-data", MFD_CLOEXEC);
    if (kept->data_copy < 0 || !driver_module_copy_data(kept, true))
        abort();
    pthread_once(&module_exit_once, driver_module_register_exit);
    host_lock(&module_lock);
    kept->next = kept_modules;
    kept_modules = kept;
    host_unlock(&module_lock);
    return kept;
}

void driver_module_release(struct driver *d)
{
    struct driver_kept_module *kept = d->module;

    snprintf(kept->driver_name, sizeof kept->driver_name, "%s", d->base.name);
    driver_module_protect(kept, true);
    host_lock(&module_lock);
    kept->in_use = false;
    host_unlock(&module_lock);
    d->module = NULL;
}

/* crash.c's claim: a fault in the image of a module whose driver has unloaded is stale code
 * running, or stale code writing the driver's globals. */
static void driver_module_claim(const struct crash_fault *fault)
{
    for (const struct driver_kept_module *kept = kept_modules; kept != NULL; kept = kept->next) {
        if (kept->in_use || fault->address < kept->image.start || fault->address - kept->image.start >= kept->image.size)
            continue;
        rule_stop_detail(RULE_DRIVER_UNLOADED_IMAGE_TOUCHED, fault->address, crash_operation(fault, 1, 8), fault->ip,
                         0, "%p is %zu bytes into the image of %s, which has unloaded", (void *)fault->address,
                         (size_t)(fault->address - kept->image.start), kept->driver_name);
    }
}

void driver_module_boot(void)
{
    crash_register_claim(driver_module_claim);
}

/* Maps the module (or reuses a kept one) and finds its image, its INIT section and its DriverEntry. */
static NTSTATUS driver_map(struct driver *d, const char *path, PDRIVER_INITIALIZE *entry)
{
    long page = sysconf(_SC_PAGESIZE);
    struct driver_kept_module *kept;
    struct stat st;
    bool mapped;

    if (stat(path, &st) != 0)
        return STATUS_OBJECT_NAME_NOT_FOUND;
    kept = driver_module_reuse(&st, &mapped);
    if (kept == NULL) {
        void *handle = mapped ? driver_dlopen_copy(path, d->base.name) : dlopen(path, RTLD_NOW | RTLD_LOCAL);

        if (handle == NULL || (kept = driver_module_keep(handle, path, &st)) == NULL)
            return driver_dlopen_status(path);
    }
    d->module = kept;
    d->image = kept->image;
    d->init = kept->init;
    if (d->init.start % (uintptr_t)page != 0 || d->init.size % (size_t)page != 0) {
        fprintf(stderr, "wdmsim: driver module %s: its INIT section is not on whole pages, so it cannot be "
                        "discarded after DriverEntry: build it with add_wdmsim_driver()\n", path);
        return STATUS_INVALID_IMAGE_FORMAT;
    }
    *entry = kept->entry;
    return *entry != NULL ? STATUS_SUCCESS : STATUS_DRIVER_ENTRYPOINT_NOT_FOUND;
}

NTSTATUS wdmsim_driver_load_module(const char *path, const char *name, PDRIVER_OBJECT *driver)
{
    PDRIVER_INITIALIZE entry = NULL;
    struct driver *d;
    NTSTATUS status;

    *driver = NULL;
    status = driver_register(name, &d);
    if (!NT_SUCCESS(status))
        return status;
    status = driver_map(d, path, &entry);
    if (!NT_SUCCESS(status)) {
        driver_release(d);
        return status;
    }
    return driver_load(d, entry, driver);
}

void *wdmsim_driver_symbol(PDRIVER_OBJECT driver, const char *symbol)
{
    struct driver *d = driver_of_object(driver, "wdmsim_driver_symbol");

    return d->module ? dlsym(((struct driver_kept_module *)d->module)->handle, symbol) : NULL;
}
