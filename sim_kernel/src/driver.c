/*
 * driver.c - the driver life cycle, as the I/O manager, the PnP manager and the loader see it.
 * Load: a DRIVER_OBJECT, DriverEntry on a System thread at PASSIVE_LEVEL with a RegistryPath from
 * pool that is freed when it returns, the module's INIT section made inaccessible, then AddDevice
 * and IRP_MN_START_DEVICE for a PnP driver. Unload: IRP_MN_REMOVE_DEVICE, DriverUnload on a System
 * thread, then the check that nothing of the driver is left; anything left stops the machine with
 * the list. A module is a shared object mapped with dlopen(RTLD_LOCAL), as Windows maps a .sys, and
 * unmapped only after that check.
 * Locking: driver_lock guards the registry (every driver this kernel knows, by index) and is a
 * leaf. A driver's other fields belong to the host thread that loads or unloads it.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <elf.h>
#include <fcntl.h>
#include <link.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <ucontext.h>
#include <unistd.h>

#include "internal.h"

#define DRIVER_NAME_MAX (sizeof(((struct sim_driver *)0)->name) - 1)
/* How long an unload waits for IoQueueWorkItem items of the driver's devices to finish. */
#define DRIVER_WORK_ITEM_WAIT_MS 5000
#define DRIVER_OBJECT_PREFIX "\\Driver\\"
#define DRIVER_SERVICES_KEY "\\Registry\\Machine\\System\\CurrentControlSet\\Services\\"
/* The I/O manager's registry path buffer: a pool dump shows "RegP". */
#define DRIVER_REGISTRY_TAG 'PgeR'
/* Room for the list of what a driver left behind: most of a STOP report. */
#define DRIVER_DETAIL_SIZE 6144
#define DRIVER_MAX_PENDING 32
/* Modules whose INIT section is discarded at the same time. */
#define DRIVER_MAX_DISCARDED 64
/* KDPC.Number, which carries a driver's index, is 16 bits wide. */
#define DRIVER_MAX_INDEX 0xFFFF
/* x86-64 page fault error code bits, and the operation codes of bug checks 0x50 and 0xD1. */
#define DRIVER_FAULT_WRITE 0x2
#define DRIVER_FAULT_FETCH 0x10
#define DRIVER_0x50_WRITE 2
#define DRIVER_0x50_EXECUTE 0x10
#define DRIVER_0xD1_WRITE 1
#define DRIVER_0xD1_EXECUTE 8

struct driver_range {
    uintptr_t start;
    size_t size;
};

enum driver_state {
    DRIVER_HOST_CODE,       /* a name host code runs as (wdmsim_run_as_driver, the PnP manager) */
    DRIVER_LOADED,
    DRIVER_UNLOADED,        /* kept until shutdown: reports may still name it */
};

struct driver {
    struct sim_driver base;         /* first: the part every component sees */
    USHORT index;
    enum driver_state state;
    PDRIVER_OBJECT object;
    PDEVICE_OBJECT pdo;             /* PnP driver: the device the PnP manager enumerated for it */
    void *module;                   /* dlopen handle; NULL for a driver linked into the host */
    dev_t file_device;              /* the module's file, to map a second copy of a loaded one */
    ino_t file_inode;
    struct driver_range image;      /* the module's mapped segments */
    struct driver_range init;       /* its section INIT, discarded when DriverEntry returns */
    WCHAR object_name[sizeof DRIVER_OBJECT_PREFIX + DRIVER_NAME_MAX];
    WCHAR service_name[DRIVER_NAME_MAX + 1];
};

static pthread_mutex_t driver_lock = PTHREAD_MUTEX_INITIALIZER;
static struct driver **drivers;     /* by index; index 0 is host code and stays NULL */
static size_t driver_count;
static size_t driver_capacity;
static struct driver *pnp_manager;  /* owns the root-enumerated PDOs */

/* Read by the fault handler without a lock: a slot is set before its pages are protected and
 * cleared before they are unmapped. */
static _Atomic(struct driver *) discarded[DRIVER_MAX_DISCARDED];
static struct sigaction previous_segv;

static WCHAR hardware_database_text[] = L"\\REGISTRY\\MACHINE\\HARDWARE\\DESCRIPTION\\SYSTEM";
static UNICODE_STRING hardware_database = {
    sizeof hardware_database_text - sizeof(WCHAR), sizeof hardware_database_text, hardware_database_text
};

static void driver_lock_acquire(void)
{
    host_lock(&driver_lock);
}

static void driver_lock_release(void)
{
    host_unlock(&driver_lock);
}

static struct driver *driver_of(const struct sim_driver *driver)
{
    return (struct driver *)driver;
}

/* ---- The registry ---- */

/* Lock held: a new record for name, or NULL when the index space is exhausted. */
static struct driver *driver_new_locked(const char *name, enum driver_state state)
{
    struct driver *d;

    if (driver_count > DRIVER_MAX_INDEX)
        return NULL;
    if (driver_count == driver_capacity) {
        size_t capacity = driver_capacity * 2;
        struct driver **grown = realloc(drivers, capacity * sizeof *grown);

        if (grown == NULL)
            abort();
        drivers = grown;
        driver_capacity = capacity;
    }
    d = calloc(1, sizeof *d);
    if (d == NULL)
        abort();
    snprintf(d->base.name, sizeof d->base.name, "%s", name);
    d->index = (USHORT)driver_count;
    d->state = state;
    drivers[driver_count++] = d;
    return d;
}

/* Lock held: the live driver (loaded, or host code's) called name; loaded ones first. */
static struct driver *driver_find_locked(const char *name, bool loaded_only)
{
    struct driver *found = NULL;

    for (size_t i = 1; i < driver_count; i++) {
        struct driver *d = drivers[i];

        if (d->state == DRIVER_UNLOADED || strcmp(d->base.name, name) != 0)
            continue;
        if (d->state == DRIVER_LOADED)
            return d;
        if (!loaded_only)
            found = d;
    }
    return found;
}

const struct sim_driver *driver_intern(const char *name)
{
    struct driver *d;

    driver_lock_acquire();
    d = driver_find_locked(name, false);
    if (d == NULL)
        d = driver_new_locked(name, DRIVER_HOST_CODE);
    driver_lock_release();
    if (d == NULL)
        abort();
    return &d->base;
}

USHORT driver_index(const struct sim_driver *driver)
{
    return driver ? driver_of(driver)->index : 0;
}

const struct sim_driver *driver_at(USHORT index)
{
    const struct sim_driver *driver = NULL;

    driver_lock_acquire();
    if (index != 0 && index < driver_count)
        driver = &drivers[index]->base;
    driver_lock_release();
    return driver;
}

static void driver_wide_copy(WCHAR *to, size_t capacity, const char *prefix, const char *name,
                             PUNICODE_STRING string)
{
    size_t n = 0;

    for (const char *p = prefix; *p != '\0' && n + 1 < capacity; p++)
        to[n++] = (WCHAR)(unsigned char)*p;
    for (const char *p = name; *p != '\0' && n + 1 < capacity; p++)
        to[n++] = (WCHAR)(unsigned char)*p;
    to[n] = 0;
    string->Buffer = to;
    string->Length = (USHORT)(n * sizeof(WCHAR));
    string->MaximumLength = (USHORT)((n + 1) * sizeof(WCHAR));
}

/* A DRIVER_OBJECT as the I/O manager fills it before DriverEntry. */
static bool driver_make_object(struct driver *d, PDRIVER_INITIALIZE entry)
{
    PDRIVER_OBJECT object = io_driver_object_create(&d->base);

    if (object == NULL)
        return false;
    driver_wide_copy(d->object_name, sizeof d->object_name / sizeof(WCHAR), DRIVER_OBJECT_PREFIX,
                     d->base.name, &object->DriverName);
    driver_wide_copy(d->service_name, sizeof d->service_name / sizeof(WCHAR), "", d->base.name,
                     &object->DriverExtension->ServiceKeyName);
    object->HardwareDatabase = &hardware_database;
    object->DriverInit = entry;
    object->DriverStart = (PVOID)d->image.start;
    object->DriverSize = (ULONG)d->image.size;
    d->object = object;
    return true;
}

static NTSTATUS driver_check_name(const char *name)
{
    size_t length = name ? strlen(name) : 0;

    if (length == 0 || length > DRIVER_NAME_MAX || strchr(name, '\\') != NULL)
        return STATUS_OBJECT_NAME_INVALID;
    return STATUS_SUCCESS;
}

/* A new loaded driver called name, unless a loaded driver has that name already. */
static NTSTATUS driver_register(const char *name, struct driver **out)
{
    NTSTATUS status = driver_check_name(name);

    *out = NULL;
    if (!NT_SUCCESS(status))
        return status;
    kernel_ensure_booted();
    driver_lock_acquire();
    if (driver_find_locked(name, true) != NULL)
        status = STATUS_OBJECT_NAME_COLLISION;
    else if ((*out = driver_new_locked(name, DRIVER_LOADED)) == NULL)
        status = STATUS_INSUFFICIENT_RESOURCES;
    driver_lock_release();
    return status;
}

static struct driver *driver_of_object(PDRIVER_OBJECT object, const char *api)
{
    struct driver *found = NULL;

    driver_lock_acquire();
    for (size_t i = 1; i < driver_count && found == NULL; i++) {
        if (drivers[i]->state == DRIVER_LOADED && drivers[i]->object == object)
            found = drivers[i];
    }
    driver_lock_release();
    if (found == NULL) {
        fprintf(stderr, "wdmsim: %s(%p): not the driver object of a loaded driver\n", api, (void *)object);
        abort();
    }
    return found;
}

/* ---- Running driver code on a System thread ---- */

struct driver_call {
    struct driver *driver;
    void (*fn)(struct driver_call *call);
    PDRIVER_INITIALIZE entry;
    PUNICODE_STRING registry_path;
    NTSTATUS status;
};

static void driver_call_main(void *context)
{
    struct driver_call *call = context;

    call->fn(call);
}

/* Runs call->fn on a new System thread at PASSIVE_LEVEL, charged to the driver, and returns once
 * it has ended. The caller waits in the dispatcher, so virtual time moves while the driver waits. */
static void driver_run_system_thread(struct driver_call *call, const char *verb)
{
    struct _KTHREAD *thread;
    char name[32];

    snprintf(name, sizeof name, "%s %.24s", verb, call->driver->base.name);
    thread = thread_new(name);
    thread->system = true;
    thread_charge(thread, &call->driver->base);
    thread_spawn(thread, driver_call_main, call);
    KeWaitForSingleObject(&thread->header, Executive, KernelMode, FALSE, NULL);
    /* Frees any ended spawned thread, and joins its host thread. */
    thread_object_delete(thread);
}

/* Pool, as the I/O manager's: charged to no driver, and freed when DriverEntry returns, so a
 * driver that keeps the pointer instead of a copy reads freed pool. */
static PUNICODE_STRING driver_registry_path(const char *name)
{
    size_t chars = strlen(DRIVER_SERVICES_KEY) + strlen(name) + 1;
    PUNICODE_STRING path = ExAllocatePoolWithTag(PagedPool, sizeof *path + chars * sizeof(WCHAR),
                                                 DRIVER_REGISTRY_TAG);

    if (path != NULL)
        driver_wide_copy((WCHAR *)(path + 1), chars, DRIVER_SERVICES_KEY, name, path);
    return path;
}

/* ---- The PnP manager ---- */

/* The bus driver's side of every PnP IRP sent to a root-enumerated PDO: nothing to do. */
static NTSTATUS NTAPI driver_pdo_pnp(PDEVICE_OBJECT device, PIRP irp)
{
    (void)device;
    irp->IoStatus.Status = STATUS_SUCCESS;
    IofCompleteRequest(irp, IO_NO_INCREMENT);
    return STATUS_SUCCESS;
}

/* Sends IRP_MJ_PNP with minor to the top of pdo's stack, as the PnP manager, and waits for it. */
static NTSTATUS driver_send_pnp(struct _KTHREAD *self, PDEVICE_OBJECT pdo, UCHAR minor)
{
    const struct sim_driver *caller = self->driver;
    PDEVICE_OBJECT top = io_device_top(pdo);
    PIO_STACK_LOCATION stack;
    IO_STATUS_BLOCK iosb = { 0 };
    PIRP irp;
    NTSTATUS status;

    irp = io_irp_allocate(top->StackSize);
    if (irp == NULL)
        return STATUS_INSUFFICIENT_RESOURCES;
    /* Every PnP IRP starts out "not supported", so a driver that ignores one passes that back. */
    irp->IoStatus.Status = STATUS_NOT_SUPPORTED;
    stack = IoGetNextIrpStackLocation(irp);
    stack->MajorFunction = IRP_MJ_PNP;
    stack->MinorFunction = minor;
    thread_charge(self, &pnp_manager->base);
    status = io_irp_send(top, irp, &iosb);
    thread_charge(self, caller);
    io_irp_free(irp);
    return status;
}

static PDEVICE_OBJECT driver_create_pdo(struct _KTHREAD *self)
{
    const struct sim_driver *caller = self->driver;
    PDEVICE_OBJECT pdo = NULL;

    thread_charge(self, &pnp_manager->base);
    if (NT_SUCCESS(IoCreateDevice(pnp_manager->object, 0, NULL, FILE_DEVICE_UNKNOWN, 0, FALSE, &pdo)))
        pdo->Flags &= ~DO_DEVICE_INITIALIZING;
    thread_charge(self, caller);
    return pdo;
}

static void driver_delete_pdo(struct _KTHREAD *self, struct driver *d)
{
    const struct sim_driver *caller = self->driver;

    thread_charge(self, &pnp_manager->base);
    IoDeleteDevice(d->pdo);
    thread_charge(self, caller);
    d->pdo = NULL;
}

/* AddDevice for one root-enumerated device, then IRP_MN_START_DEVICE; a device that fails to start
 * is removed again. */
static NTSTATUS driver_add_and_start(struct driver *d)
{
    struct _KTHREAD *self = thread_current();
    NTSTATUS status;

    d->pdo = driver_create_pdo(self);
    if (d->pdo == NULL)
        return STATUS_INSUFFICIENT_RESOURCES;
    status = d->object->DriverExtension->AddDevice(d->object, d->pdo);
    if (!NT_SUCCESS(status)) {
        driver_delete_pdo(self, d);
        return status;
    }
    status = driver_send_pnp(self, d->pdo, IRP_MN_START_DEVICE);
    if (!NT_SUCCESS(status)) {
        driver_send_pnp(self, d->pdo, IRP_MN_REMOVE_DEVICE);
        driver_delete_pdo(self, d);
    }
    return status;
}

/* ---- INIT: discarded when DriverEntry returns ---- */

static const struct driver *driver_discarded_at(uintptr_t address)
{
    for (size_t i = 0; i < DRIVER_MAX_DISCARDED; i++) {
        const struct driver *d = atomic_load(&discarded[i]);

        if (d != NULL && address >= d->init.start && address < d->init.start + d->init.size)
            return d;
    }
    return NULL;
}

/* What the faulting thread's signal handler hands to driver_init_fault_stop. */
struct driver_fault {
    uintptr_t address;
    ULONG_PTR error;                /* the x86-64 page fault error code */
    ULONG_PTR ip;
    const struct driver *driver;
};

static __thread struct driver_fault fault;

static ULONG_PTR driver_fault_operation(ULONG_PTR write, ULONG_PTR execute)
{
    if (fault.error & DRIVER_FAULT_FETCH)
        return execute;
    return (fault.error & DRIVER_FAULT_WRITE) ? write : 0;
}

/* Stops the machine for a touch of a discarded INIT page, as Windows stops for a freed driver page.
 * It runs on the faulting thread, entered as if the faulting instruction had called it (see
 * driver_fault), so the STOP path runs outside the signal handler and its backtrace goes on into
 * the driver's code. */
__attribute__((force_align_arg_pointer, noinline)) static SIM_NORETURN void driver_init_fault_stop(void)
{
    const struct _KTHREAD *self = thread_current_if_known();
    size_t offset = fault.address - fault.driver->init.start;

    if (self != NULL && self->irql >= DISPATCH_LEVEL)
        rule_stop_detail(RULE_DRIVER_INIT_TOUCHED_AT_DISPATCH, fault.address, self->irql,
                         driver_fault_operation(DRIVER_0xD1_WRITE, DRIVER_0xD1_EXECUTE), fault.ip,
                         "%p is %zu bytes into the INIT section of %s, discarded when its DriverEntry returned",
                         (void *)fault.address, offset, fault.driver->base.name);
    rule_stop_detail(RULE_DRIVER_INIT_TOUCHED, fault.address,
                     driver_fault_operation(DRIVER_0x50_WRITE, DRIVER_0x50_EXECUTE), fault.ip, 0,
                     "%p is %zu bytes into the INIT section of %s, discarded when its DriverEntry returned",
                     (void *)fault.address, offset, fault.driver->base.name);
}

/* A fault on a discarded INIT page is the driver's; any other goes to whoever handled SIGSEGV
 * before. The handler itself only records the fault and, on x86-64, makes the thread return from
 * the signal into driver_init_fault_stop with the faulting address as its return address: the
 * STOP path allocates, takes locks and unwinds, none of which a signal handler may do. */
static void driver_fault(int signal_number, siginfo_t *info, void *context)
{
    const struct driver *d = driver_discarded_at((uintptr_t)info->si_addr);

    (void)signal_number;
    if (d == NULL) {
        sigaction(SIGSEGV, &previous_segv, NULL);
        return;
    }
    fault.address = (uintptr_t)info->si_addr;
    fault.driver = d;
#if defined(__x86_64__)
    {
        ucontext_t *uc = context;
        greg_t *sp = (greg_t *)uc->uc_mcontext.gregs[REG_RSP] - 1;

        fault.error = (ULONG_PTR)uc->uc_mcontext.gregs[REG_ERR];
        fault.ip = (ULONG_PTR)uc->uc_mcontext.gregs[REG_RIP];
        *sp = uc->uc_mcontext.gregs[REG_RIP];
        uc->uc_mcontext.gregs[REG_RSP] = (greg_t)sp;
        uc->uc_mcontext.gregs[REG_RIP] = (greg_t)driver_init_fault_stop;
    }
#else
    (void)context;
    fault.error = 0;
    fault.ip = 0;
    driver_init_fault_stop();
#endif
}

/* Lock held. A STOP test's child starts with default signal actions, so this checks each time. */
static void driver_install_fault_handler_locked(void)
{
    struct sigaction action, current;

    sigaction(SIGSEGV, NULL, &current);
    if ((current.sa_flags & SA_SIGINFO) && current.sa_sigaction == driver_fault)
        return;
    memset(&action, 0, sizeof action);
    action.sa_sigaction = driver_fault;
    action.sa_flags = SA_SIGINFO;
    sigemptyset(&action.sa_mask);
    sigaction(SIGSEGV, &action, &previous_segv);
}

static NTSTATUS driver_discard_init(struct driver *d)
{
    size_t slot = DRIVER_MAX_DISCARDED;

    if (d->init.size == 0)
        return STATUS_SUCCESS;
    driver_lock_acquire();
    for (size_t i = 0; i < DRIVER_MAX_DISCARDED && slot == DRIVER_MAX_DISCARDED; i++) {
        if (atomic_load(&discarded[i]) == NULL)
            slot = i;
    }
    if (slot < DRIVER_MAX_DISCARDED) {
        driver_install_fault_handler_locked();
        atomic_store(&discarded[slot], d);
    }
    driver_lock_release();
    if (slot == DRIVER_MAX_DISCARDED)
        return STATUS_INSUFFICIENT_RESOURCES;
    if (mprotect((void *)d->init.start, d->init.size, PROT_NONE) != 0)
        abort();
    return STATUS_SUCCESS;
}

static void driver_forget_init(const struct driver *d)
{
    for (size_t i = 0; i < DRIVER_MAX_DISCARDED; i++) {
        struct driver *expected = (struct driver *)d;

        atomic_compare_exchange_strong(&discarded[i], &expected, NULL);
    }
}

/* ---- What a driver leaves behind ---- */

struct driver_pending {
    const char *kind;
    const void *object;
    const void *code;               /* the driver routine it would run, or NULL */
    char note[112];
};

struct driver_check {
    const struct driver *driver;
    const struct _KTHREAD *self;
    struct driver_range *blocks;    /* its pool blocks: kernel objects inside them are its own */
    size_t block_count;
    size_t block_capacity;
    struct driver_pending pending[DRIVER_MAX_PENDING];
    size_t pending_count;           /* may exceed DRIVER_MAX_PENDING: the rest are only counted */
    char leaks[DRIVER_DETAIL_SIZE]; /* pool blocks, references and handles, one line each */
    size_t leaks_used;
    size_t pool_blocks;
    size_t objects;                 /* references and handles */
};

static bool driver_range_holds(const struct driver_range *range, const void *address)
{
    return (uintptr_t)address >= range->start && (uintptr_t)address - range->start < range->size;
}

/* Is the kernel object at address the driver's: charged to it, in its image or in its pool? */
static bool driver_owns(const struct driver_check *check, USHORT charged, const void *address)
{
    if (charged == check->driver->index || driver_range_holds(&check->driver->image, address))
        return true;
    for (size_t i = 0; i < check->block_count; i++) {
        if (driver_range_holds(&check->blocks[i], address))
            return true;
    }
    return false;
}

static struct driver_pending *driver_add_pending(struct driver_check *check, const char *kind,
                                                 const void *object, const void *code)
{
    struct driver_pending *p = check->pending_count < DRIVER_MAX_PENDING ? &check->pending[check->pending_count]
                                                                         : NULL;

    check->pending_count++;
    if (p != NULL)
        *p = (struct driver_pending){ .kind = kind, .object = object, .code = code };
    return p;
}

static void driver_add_leak(struct driver_check *check, const char *what)
{
    int n;

    if (check->leaks_used >= sizeof check->leaks)
        return;
    n = snprintf(check->leaks + check->leaks_used, sizeof check->leaks - check->leaks_used,
                 "\n          - %s", what);
    if (n > 0)
        check->leaks_used += (size_t)n;
}

static void driver_found_pool(void *context, const void *address, size_t size, const char *what)
{
    struct driver_check *check = context;

    if (check->block_count == check->block_capacity) {
        size_t capacity = check->block_capacity ? check->block_capacity * 2 : 16;
        struct driver_range *grown = realloc(check->blocks, capacity * sizeof *grown);

        if (grown == NULL)
            abort();
        check->blocks = grown;
        check->block_capacity = capacity;
    }
    check->blocks[check->block_count++] = (struct driver_range){ (uintptr_t)address, size };
    check->pool_blocks++;
    driver_add_leak(check, what);
}

static void driver_found_object(void *context, const char *what)
{
    struct driver_check *check = context;

    check->objects++;
    driver_add_leak(check, what);
}

/* Dispatcher and registry locks held: only copies. */
static void driver_found_thread(void *context, const struct _KTHREAD *thread)
{
    struct driver_check *check = context;
    struct driver_pending *p;

    if (thread_charged(thread) != &check->driver->base || thread->terminated || thread == check->self)
        return;
    p = driver_add_pending(check, "thread", thread, NULL);
    if (p == NULL)
        return;
    if (thread->wait.waiting)
        snprintf(p->note, sizeof p->note, "%s (tid %ld) runs the driver's code, waiting in %s", thread->name,
                 thread->tid, thread->wait.what);
    else
        snprintf(p->note, sizeof p->note, "%s (tid %ld) runs the driver's code", thread->name, thread->tid);
}

/* Dispatcher lock held: only copies. */
static void driver_found_timer(void *context, PKTIMER timer)
{
    struct driver_check *check = context;
    PKDPC dpc = timer->Dpc;
    struct driver_pending *p;
    LONGLONG due_ms;

    if (!driver_owns(check, (USHORT)timer->Processor, timer) &&
        (dpc == NULL || !driver_owns(check, dpc->Number, dpc)))
        return;
    p = driver_add_pending(check, "timer", timer, dpc ? (const void *)dpc->DeferredRoutine : NULL);
    if (p == NULL)
        return;
    due_ms = ((LONGLONG)timer->DueTime.QuadPart - clock_since_boot()) / 10000;
    if (timer->Period != 0)
        snprintf(p->note, sizeof p->note, "still set: due in %lld ms, then every %u ms, DPC %p", due_ms,
                 (unsigned)timer->Period, (void *)dpc);
    else
        snprintf(p->note, sizeof p->note, "still set: due in %lld ms, DPC %p", due_ms, (void *)dpc);
}

/* Dispatcher lock held: only copies. */
static void driver_found_dpc(void *context, PKDPC dpc)
{
    struct driver_check *check = context;
    struct driver_pending *p;

    if (!driver_owns(check, dpc->Number, dpc))
        return;
    p = driver_add_pending(check, "DPC", dpc, (const void *)dpc->DeferredRoutine);
    if (p != NULL)
        snprintf(p->note, sizeof p->note, "still queued");
}

/* Dispatcher lock held: only copies. */
static void driver_found_work_item(void *context, PWORK_QUEUE_ITEM item, const struct sim_driver *driver)
{
    struct driver_check *check = context;
    struct driver_pending *p;

    if (!driver_owns(check, driver_index(driver), item))
        return;
    p = driver_add_pending(check, "work item", item, (const void *)item->WorkerRoutine);
    if (p != NULL)
        snprintf(p->note, sizeof p->note, "still queued");
}

/* "not deleted, \Device\Tidy": the note of a device leftover. */
static void driver_note_device(struct driver_pending *p, PDEVICE_OBJECT device, const char *state)
{
    PCUNICODE_STRING name = io_device_name(device);
    int n = snprintf(p->note, sizeof p->note, "%s, ", state);

    if (name == NULL)
        snprintf(p->note + n, sizeof p->note - (size_t)n, "unnamed");
    for (USHORT i = 0; name != NULL && i < name->Length / sizeof(WCHAR) && (size_t)n + 1 < sizeof p->note; i++)
        p->note[n++] = (char)name->Buffer[i];
    if (name != NULL)
        p->note[n] = '\0';
}

/* io_lock held: only copies. A deleted device that open files or queued work items still hold
 * sends them into the driver's dispatch routines after its image is gone. */
static void driver_found_deleted_device(void *context, PDEVICE_OBJECT device, LONG references)
{
    struct driver_check *check = context;
    struct driver_pending *p = driver_add_pending(check, "device", device, NULL);
    char state[96];

    snprintf(state, sizeof state, "deleted but still referenced %ld time(s) (open files, work items)",
             (long)references);
    if (p != NULL)
        driver_note_device(p, device, state);
}

static void driver_find_devices(struct driver_check *check)
{
    for (PDEVICE_OBJECT device = check->driver->object->DeviceObject; device != NULL; device = device->NextDevice) {
        struct driver_pending *p = driver_add_pending(check, "device", device, NULL);

        if (p != NULL)
            driver_note_device(p, device, "not deleted");
    }
    io_for_each_deleted_device(check->driver->object, driver_found_deleted_device, check);
}

/* "TraceTimerDpc+0x0 (tracedrv.so)" or "0x7f... (tracedrv.so)": where a routine lives. */
static void driver_describe_code(const void *code, char *buf, size_t size)
{
    const char *object = "?";
    Dl_info info;

    if (dladdr(code, &info) == 0) {
        snprintf(buf, size, "%p", code);
        return;
    }
    if (info.dli_fname != NULL)
        object = strrchr(info.dli_fname, '/') ? strrchr(info.dli_fname, '/') + 1 : info.dli_fname;
    if (info.dli_sname != NULL)
        snprintf(buf, size, "%s+0x%tx (%s)", info.dli_sname, (const char *)code - (const char *)info.dli_saddr,
                 object);
    else
        snprintf(buf, size, "%p (%s)", code, object);
}

/* Looks for everything of the driver that is still alive. */
static void driver_collect(struct driver_check *check)
{
    const struct sim_driver *driver = &check->driver->base;

    pool_for_each_block_of(driver, driver_found_pool, check);
    thread_for_each(driver_found_thread, check);
    timer_for_each_set(driver_found_timer, check);
    dpc_for_each_queued(driver_found_dpc, check);
    workitem_for_each_queued(driver_found_work_item, check);
    driver_find_devices(check);
    object_for_each_reference_of(driver, driver_found_object, check);
    handle_for_each_of(driver, driver_found_object, check);
}

static size_t driver_append(char *buf, size_t size, size_t used, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static size_t driver_append(char *buf, size_t size, size_t used, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (used >= size)
        return used;
    va_start(ap, fmt);
    n = vsnprintf(buf + used, size - used, fmt, ap);
    va_end(ap);
    return n > 0 ? used + (size_t)n : used;
}

static SIM_NORETURN void driver_stop(const struct driver_check *check, const char *when)
{
    static char detail[DRIVER_DETAIL_SIZE + 512];
    const char *name = check->driver->base.name;
    size_t total = check->pending_count + check->pool_blocks + check->objects;
    size_t used = driver_append(detail, sizeof detail, 0, "%s %s and left %zu thing%s behind:", name, when,
                                total, total == 1 ? "" : "s");
    char code[128];

    for (size_t i = 0; i < check->pending_count && i < DRIVER_MAX_PENDING; i++) {
        const struct driver_pending *p = &check->pending[i];

        used = driver_append(detail, sizeof detail, used, "\n          - %s %p %s", p->kind, p->object, p->note);
        if (p->code != NULL) {
            driver_describe_code(p->code, code, sizeof code);
            used = driver_append(detail, sizeof detail, used, "; it would run %s", code);
        }
    }
    if (check->pending_count > DRIVER_MAX_PENDING)
        used = driver_append(detail, sizeof detail, used, "\n          - and %zu more pending operations",
                             check->pending_count - DRIVER_MAX_PENDING);
    driver_append(detail, sizeof detail, used, "%.*s", (int)check->leaks_used, check->leaks);
    if (check->pending_count > 0) {
        const struct driver_pending *first = &check->pending[0];

        rule_stop_text(RULE_DRIVER_LEFT_PENDING_OPERATIONS,
                       (ULONG_PTR)(first->code ? first->code : first->object), 0, (ULONG_PTR)first->object, 0,
                       detail);
    }
    if (check->pool_blocks > 0)
        rule_stop_text(RULE_DRIVER_LEFT_POOL, (ULONG_PTR)name, (ULONG_PTR)check->driver, check->pool_blocks, 0,
                       detail);
    rule_stop_text(RULE_DRIVER_LEFT_REFERENCES, (ULONG_PTR)name, (ULONG_PTR)check->driver, check->objects, 0, detail);
}

/* Windows keeps a driver's image while an IoQueueWorkItem item of one of its devices is queued or
 * its routine runs (the item holds a device reference): such items finish first, for up to
 * DRIVER_WORK_ITEM_WAIT_MS of the clock; one still there then is reported as the device's
 * reference. On the real clock this is what lets a routine return after setting the event Unload
 * waited for. */
static void driver_wait_for_io_work_items(struct driver *d)
{
    LARGE_INTEGER one_ms = { .QuadPart = -10000 };

    for (int waited = 0; waited < DRIVER_WORK_ITEM_WAIT_MS && io_driver_work_items(d->object) > 0; waited++)
        KeDelayExecutionThread(KernelMode, FALSE, &one_ms);
}

/* Windows does not stop for it, but a link left behind still holds its name: a reload of the driver
 * fails in IoCreateSymbolicLink with STATUS_OBJECT_NAME_COLLISION, far from the cause. */
static void driver_warn_link(void *context, const char *link)
{
    const struct driver *d = context;

    fprintf(stderr,
            "wdmsim: unload: %s left the symbolic link %s; a reload's IoCreateSymbolicLink of that name "
            "will fail with STATUS_OBJECT_NAME_COLLISION: call IoDeleteSymbolicLink in DriverUnload\n",
            d->base.name, link);
}

/* Code of the driver on its way out (a worker returning from the driver's work item routine after
 * setting the event Unload waited for, a DPC finishing) may finish first, as Windows keeps an image
 * until such references are gone: on the virtual clock one tick of delay returns only once every
 * other simulated thread is blocked, and IoQueueWorkItem items are waited for on either clock. Then
 * anything of the driver still alive stops the machine. */
static void driver_verify(struct driver *d, const char *when)
{
    LARGE_INTEGER one_tick = { .QuadPart = -1 };
    struct driver_check *check = calloc(1, sizeof *check);

    if (check == NULL)
        abort();
    KeDelayExecutionThread(KernelMode, FALSE, &one_tick);
    driver_wait_for_io_work_items(d);
    check->driver = d;
    check->self = thread_current();
    driver_collect(check);
    if (check->pending_count + check->pool_blocks + check->objects > 0)
        driver_stop(check, when);
    ns_for_each_link_of(&d->base, driver_warn_link, d);
    free(check->blocks);
    free(check);
}

/* The driver is gone: its object freed and its module unmapped; the record stays for reports. */
static void driver_release(struct driver *d)
{
    if (d->object != NULL)
        io_driver_object_free(d->object);
    d->object = NULL;
    driver_forget_init(d);
    if (d->module != NULL)
        dlclose(d->module);
    d->module = NULL;
    driver_lock_acquire();
    d->state = DRIVER_UNLOADED;
    driver_lock_release();
}

/* ---- Load ---- */

static void driver_entry_main(struct driver_call *call)
{
    call->status = call->entry(call->driver->object, call->registry_path);
}

static void driver_start_main(struct driver_call *call)
{
    call->status = driver_add_and_start(call->driver);
}

static void driver_unload_main(struct driver_call *call)
{
    struct driver *d = call->driver;
    struct _KTHREAD *self = thread_current();

    if (d->pdo != NULL) {
        driver_send_pnp(self, d->pdo, IRP_MN_REMOVE_DEVICE);
        driver_delete_pdo(self, d);
    }
    d->object->DriverUnload(d->object);
}

static void driver_unload_and_verify(struct driver *d, const char *when)
{
    struct driver_call call = { .driver = d, .fn = driver_unload_main };

    driver_run_system_thread(&call, "unload");
    driver_verify(d, when);
    driver_release(d);
}

/* As the I/O manager does when DriverEntry succeeds: the devices it created are ready for opens
 * (devices made later, in AddDevice, are the driver's to clear). */
static void driver_ready_devices(PDRIVER_OBJECT object)
{
    for (PDEVICE_OBJECT device = object->DeviceObject; device != NULL; device = device->NextDevice)
        device->Flags &= ~DO_DEVICE_INITIALIZING;
}

/* DriverEntry, the INIT discard, and for a PnP driver its device. A driver whose DriverEntry failed
 * is not unloaded (Unload is not called) but must have left nothing; one whose device did not
 * start is unloaded, as the PnP manager unloads a driver left without devices. */
static NTSTATUS driver_load(struct driver *d, PDRIVER_INITIALIZE entry, PDRIVER_OBJECT *out)
{
    struct driver_call call = { .driver = d, .fn = driver_entry_main, .entry = entry };
    char when[64];

    if (!driver_make_object(d, entry) || (call.registry_path = driver_registry_path(d->base.name)) == NULL) {
        driver_release(d);
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    driver_run_system_thread(&call, "load");
    ExFreePoolWithTag(call.registry_path, DRIVER_REGISTRY_TAG);
    if (!NT_SUCCESS(call.status)) {
        snprintf(when, sizeof when, "failed DriverEntry with status 0x%08X", (unsigned)call.status);
        driver_verify(d, when);
        driver_release(d);
        return call.status;
    }
    driver_ready_devices(d->object);
    call.status = driver_discard_init(d);
    if (NT_SUCCESS(call.status) && d->object->DriverExtension->AddDevice != NULL) {
        call.fn = driver_start_main;
        driver_run_system_thread(&call, "start");
    }
    if (NT_SUCCESS(call.status)) {
        *out = d->object;
        return STATUS_SUCCESS;
    }
    snprintf(when, sizeof when, "was unloaded after its device failed to start (0x%08X)", (unsigned)call.status);
    if (d->object->DriverUnload != NULL) {
        driver_unload_and_verify(d, when);
    } else {
        driver_verify(d, when);
        driver_release(d);
    }
    return call.status;
}

NTSTATUS wdmsim_driver_load(const char *name, PDRIVER_INITIALIZE entry, PDRIVER_OBJECT *driver)
{
    struct driver *d;
    NTSTATUS status;

    *driver = NULL;
    status = driver_register(name, &d);
    if (!NT_SUCCESS(status))
        return status;
    return driver_load(d, entry, driver);
}

/* ---- Modules ---- */

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

/* Lock held: is this file mapped for a loaded driver already? */
static bool driver_file_loaded_locked(const struct stat *st)
{
    for (size_t i = 1; i < driver_count; i++) {
        const struct driver *d = drivers[i];

        if (d->state == DRIVER_LOADED && d->module != NULL && d->file_device == st->st_dev &&
            d->file_inode == st->st_ino)
            return true;
    }
    return false;
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
    driver_lock_acquire();
    copy = driver_file_loaded_locked(&st);
    d->file_device = st.st_dev;
    d->file_inode = st.st_ino;
    driver_lock_release();
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

/* ---- Unload ---- */

void wdmsim_driver_unload(PDRIVER_OBJECT driver)
{
    struct driver *d = driver_of_object(driver, "wdmsim_driver_unload");

    if (driver->DriverUnload == NULL) {
        fprintf(stderr, "wdmsim: %s has no DriverUnload routine, so it cannot be unloaded: like Windows, the "
                        "simulator keeps it loaded until shutdown\n", d->base.name);
        return;
    }
    driver_unload_and_verify(d, "unloaded");
}

/* ---- Host code as a driver ---- */

void wdmsim_run_as_driver(const char *driver_name, wdmsim_scenario_fn *fn, void *context)
{
    struct _KTHREAD *self = thread_current();
    const struct sim_driver *saved = self->driver;

    thread_charge(self, driver_intern(driver_name));
    fn(context);
    thread_charge(self, saved);
}

/* ---- Boot and shutdown ---- */

/* In a child made by fork() the parent's registry and discarded modules are not this kernel's. */
void driver_boot(void)
{
    if (pthread_mutex_init(&driver_lock, NULL) != 0)
        abort();
    for (size_t i = 0; i < DRIVER_MAX_DISCARDED; i++)
        atomic_store(&discarded[i], NULL);
    driver_capacity = 16;
    drivers = calloc(driver_capacity, sizeof *drivers);
    if (drivers == NULL)
        abort();
    driver_count = 1;
    driver_lock_acquire();
    pnp_manager = driver_new_locked("PnpManager", DRIVER_HOST_CODE);
    driver_lock_release();
    if (!driver_make_object(pnp_manager, NULL))
        abort();
    pnp_manager->object->MajorFunction[IRP_MJ_PNP] = driver_pdo_pnp;
}

/* A driver still loaded keeps its module mapped: its threads, abandoned by the shutdown, may
 * still run its code. */
void driver_shutdown(void)
{
    driver_lock_acquire();
    for (size_t i = 1; i < driver_count; i++) {
        struct driver *d = drivers[i];

        if (d->state == DRIVER_LOADED)
            fprintf(stderr, "wdmsim: shutdown: driver %s is still loaded\n", d->base.name);
        driver_forget_init(d);
        if (d->object != NULL)
            io_driver_object_free(d->object);
        free(d);
    }
    free(drivers);
    drivers = NULL;
    driver_count = driver_capacity = 0;
    pnp_manager = NULL;
    driver_lock_release();
}
