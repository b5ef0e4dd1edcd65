/*
 * driver_module.c - drivers built as modules: a shared object mapped with dlopen(RTLD_NOW |
 * RTLD_LOCAL), as Windows maps a .sys, so each has its own DriverEntry and globals. Finds the
 * image's extent and its INIT section (from the file's section headers) and maps a second driver
 * from an already loaded file as a copy of its own.
 * Locking: none of its own; the registry's lock is taken through driver_claim_file.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <elf.h>
#include <fcntl.h>
#include <link.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "driver_private.h"

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

/* Maps the module and finds its image, its INIT section and its DriverEntry. */
static NTSTATUS driver_map(struct driver *d, const char *path, PDRIVER_INITIALIZE *entry)
{
    struct driver_image_search search = { 0, &d->image };
    long page = sysconf(_SC_PAGESIZE);
    struct link_map *map;
    struct stat st;
    bool copy;

    if (stat(path, &st) != 0)
        return STATUS_OBJECT_NAME_NOT_FOUND;
    copy = driver_claim_file(d, &st);
    d->module = copy ? driver_dlopen_copy(path, d->base.name) : dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (d->module == NULL)
        return driver_dlopen_status(path);
    if (dlinfo(d->module, RTLD_DI_LINKMAP, &map) != 0)
        return driver_dlopen_status(path);
    search.base = map->l_addr;
    dl_iterate_phdr(driver_image_of, &search);
    d->init = driver_find_init(path, map->l_addr);
    if (d->init.start % (uintptr_t)page != 0 || d->init.size % (size_t)page != 0) {
        fprintf(stderr, "wdmsim: driver module %s: its INIT section is not on whole pages, so it cannot be "
                        "discarded after DriverEntry: build it with add_wdmsim_driver()\n", path);
        return STATUS_INVALID_IMAGE_FORMAT;
    }
    *entry = (PDRIVER_INITIALIZE)dlsym(d->module, "DriverEntry");
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

    return d->module ? dlsym(d->module, symbol) : NULL;
}
