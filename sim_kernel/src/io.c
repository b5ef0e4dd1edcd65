/*
 * io.c - the I/O manager's core: driver and device objects, IRPs and their stack locations,
 * IoCallDriver with the checks Driver Verifier makes when a dispatch routine returns, and
 * IoCompleteRequest with completion routines, pending and cancel.
 *
 * An IRP belongs to whoever holds it, as in NT: the I/O manager allocates it (io_irp_allocate),
 * drivers pass it down and complete it, and the originator frees it once it is complete. The
 * simulator keeps a wrapper around every IRP it made, so a completed IRP used again is caught.
 * Locking: io_lock guards device lists, device extensions' bookkeeping and interfaces; the cancel
 * spin lock guards Cancel/CancelRoutine hand-offs, as in NT.
 */
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "timeline.h"

#define IO_IRP_MAGIC 0x50524957u
#define IO_IRP_FREED_MAGIC 0x44455246u
#define IO_IRP_POISON 0xDD
#define IO_MAX_STACK 16
/* Freed driver-built IRPs kept (poisoned) before their memory goes, so a second free is caught. */
#define IO_RETIRED_IRPS 64

struct io_irp {
    ULONG magic;
    bool completed;
    /* What the originator did after STATUS_PENDING, decided under the lock against the completion:
     * until then it holds the IRP and completion only marks it complete; then it either waits for
     * UserEvent or has left, and the completion calls finish(finish_context) in its place. */
    enum { IO_ORIGINATOR_HOLDS, IO_ORIGINATOR_WAITS, IO_ORIGINATOR_LEFT } originator;
    void (*finish)(void *context);
    void *finish_context;
    /* A driver-built IRP the I/O manager finishes itself (a threaded or an associated one): called
     * once it has completed, the IRP lock dropped. */
    void (*done)(PIRP irp);
    /* Held while the IRP completes (completion routines may IoMarkIrpPending), and while the
     * I/O manager reads the pending marks after a dispatch routine returned: another thread may
     * be completing the IRP by then. Recursive: a completion routine may complete another time.
     * Not a host mutex: completion routines are driver code, which may reach scheduling points
     * and spin-lock hand-offs while it is held, so it is a lock word the scheduler knows (owner,
     * depth), taken as a spin lock is (io_irp_lock). */
    ULONG_PTR lock_owner;
    unsigned lock_depth;
    IRP irp;
    IO_STACK_LOCATION stack[];
};

/* What the simulator keeps about a device, behind DEVICE_OBJECT.DeviceObjectExtension. */
struct io_device {
    WCHAR name[128];
    UNICODE_STRING name_string;
    bool deleted;
    LONG opens;                     /* file objects open on it (io_lock): an exclusive device allows one */
    LIST_ENTRY deleted_link;        /* on io_deleted while references outlive IoDeleteDevice (io_lock) */
    LONG work_items;                /* IoQueueWorkItem items queued or running (atomic) */
    struct io_startio startio;      /* startio.c's */
    size_t size;                    /* the device, this record and the extension, all one block */
};

static pthread_mutex_t io_lock = PTHREAD_MUTEX_INITIALIZER;
static KSPIN_LOCK io_cancel_lock;
static LIST_ENTRY io_deleted;       /* deleted devices not yet freed: an unload looks for its driver's */
static struct io_irp *io_retired[IO_RETIRED_IRPS];  /* io_lock */
static unsigned io_retired_next;

void io_boot(void)
{
    pthread_mutex_init(&io_lock, NULL);
    KeInitializeSpinLock(&io_cancel_lock);
    InitializeListHead(&io_deleted);
    for (unsigned i = 0; i < IO_RETIRED_IRPS; i++) {
        free(io_retired[i]);
        io_retired[i] = NULL;
    }
    io_retired_next = 0;
}

/* ---- IRPs ---- */

static struct io_irp *io_wrapper(PIRP irp)
{
    return CONTAINING_RECORD(irp, struct io_irp, irp);
}

static void io_check_is_irp(PIRP irp)
{
    if (irp == NULL || irp->Type != IO_TYPE_IRP || io_wrapper(irp)->magic != IO_IRP_MAGIC)
        rule_stop(RULE_IO_NOT_AN_IRP, (ULONG_PTR)irp, 0, 0, 0);
}

static void io_check_irp(PIRP irp)
{
    io_check_is_irp(irp);
    if (io_irp_completed(irp))
        rule_stop(RULE_IO_IRP_COMPLETED_TWICE, (ULONG_PTR)irp, 0, 0, 0);
}

/* Owner-recursive: a thread that holds the lock takes it again. A contended one is waited for as
 * a spin lock is: in controlled mode the turn goes to others until it is free. */
static void io_irp_lock(struct io_irp *w)
{
    struct _KTHREAD *self = thread_current_quiet();
    ULONG_PTR expected = 0;

    if (__atomic_load_n(&w->lock_owner, __ATOMIC_RELAXED) == (ULONG_PTR)self) {
        w->lock_depth++;
        return;
    }
    while (!__atomic_compare_exchange_n(&w->lock_owner, &expected, (ULONG_PTR)self, false, __ATOMIC_ACQUIRE,
                                        __ATOMIC_RELAXED)) {
        expected = 0;
        if (sched_is_controlled())
            sched_spin_wait(self, &w->lock_owner);
        else
            sched_yield();
    }
    w->lock_depth = 1;
}

static void io_irp_unlock(struct io_irp *w)
{
    if (--w->lock_depth == 0)
        __atomic_store_n(&w->lock_owner, 0, __ATOMIC_RELEASE);
}

PIRP io_irp_allocate(CCHAR stack_size)
{
    struct io_irp *w;
    PIRP irp;

    if (stack_size < 1 || stack_size > IO_MAX_STACK)
        return NULL;
    w = calloc(1, sizeof *w + (size_t)stack_size * sizeof(IO_STACK_LOCATION));
    if (w == NULL)
        return NULL;
    w->magic = IO_IRP_MAGIC;
    irp = &w->irp;
    irp->Type = IO_TYPE_IRP;
    irp->Size = IoSizeOfIrp(stack_size);
    irp->StackCount = stack_size;
    irp->CurrentLocation = (CHAR)(stack_size + 1);
    irp->Tail.Overlay.CurrentStackLocation = &w->stack[stack_size];
    irp->Tail.Overlay.Thread = (PETHREAD)thread_current();
    return irp;
}

bool io_irp_completed(PIRP irp)
{
    struct io_irp *w = io_wrapper(irp);
    bool completed;

    io_irp_lock(w);
    completed = w->completed;
    io_irp_unlock(w);
    return completed;
}

void io_irp_free(PIRP irp)
{
    struct io_irp *w = io_wrapper(irp);

    memset(w, 0xDD, sizeof *w + (size_t)irp->StackCount * sizeof(IO_STACK_LOCATION));
    free(w);
}

enum io_irp_kind io_irp_kind(PIRP irp)
{
    if (irp == NULL)
        return IO_IRP_NONE;
    if (irp->Type == IO_TYPE_IRP && io_wrapper(irp)->magic == IO_IRP_MAGIC)
        return IO_IRP_LIVE;
    if (irp->Type == (CSHORT)(IO_IRP_POISON * 0x101) && io_wrapper(irp)->magic == IO_IRP_FREED_MAGIC)
        return IO_IRP_FREED;
    return IO_IRP_NONE;
}

/* Read under the IRP lock: a completion on another thread moves CurrentLocation. */
bool io_irp_in_flight(PIRP irp)
{
    struct io_irp *w = io_wrapper(irp);
    bool held;

    io_irp_lock(w);
    held = irp->CurrentLocation <= irp->StackCount;
    io_irp_unlock(w);
    return held;
}

void io_irp_set_done(PIRP irp, void (*done)(PIRP irp))
{
    io_wrapper(irp)->done = done;
}

/* The I/O manager's part of IoReuseIrp: the IRP may complete and be handed back again. */
void io_irp_reset(PIRP irp)
{
    struct io_irp *w = io_wrapper(irp);

    io_irp_lock(w);
    w->completed = false;
    w->originator = IO_ORIGINATOR_HOLDS;
    io_irp_unlock(w);
}

/* A freed driver-built IRP: poisoned, its header (with the IRP lock, which a completion that freed
 * it from its own completion routine still drops) kept, its memory let go IO_RETIRED_IRPS frees
 * later. */
void io_irp_retire(PIRP irp)
{
    struct io_irp *w = io_wrapper(irp);
    struct io_irp *evicted;

    memset(irp, IO_IRP_POISON, sizeof *irp + (size_t)irp->StackCount * sizeof(IO_STACK_LOCATION));
    w->magic = IO_IRP_FREED_MAGIC;
    host_lock(&io_lock);
    evicted = io_retired[io_retired_next];
    io_retired[io_retired_next] = w;
    io_retired_next = (io_retired_next + 1) % IO_RETIRED_IRPS;
    host_unlock(&io_lock);
    free(evicted);
}

/* ---- Driver objects ---- */

static NTSTATUS NTAPI io_invalid_device_request(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    (void)DeviceObject;
    Irp->IoStatus.Status = STATUS_INVALID_DEVICE_REQUEST;
    Irp->IoStatus.Information = 0;
    IofCompleteRequest(Irp, IO_NO_INCREMENT);
    return STATUS_INVALID_DEVICE_REQUEST;
}

/* ---- Driver and device objects as objects ---- */

static void io_driver_object_delete(PVOID body)
{
    memset(body, 0xDD, sizeof(DRIVER_OBJECT));
    free(body);
}

static bool io_driver_object_describe(PVOID body, char *buf, size_t size)
{
    const struct sim_driver *driver = ((PDRIVER_OBJECT)body)->DriverSection;

    snprintf(buf, size, "driver %s", driver->name);
    return true;
}

static struct _OBJECT_TYPE io_driver_type = {
    .name = "Driver",
    .delete_procedure = io_driver_object_delete,
    .describe_procedure = io_driver_object_describe,
};

static void io_device_name_text(PDEVICE_OBJECT device, char *buf, size_t size);

/* The last reference to a deleted device: its memory, which must hold no set timer or the like. */
static void io_device_object_delete(PVOID body)
{
    PDEVICE_OBJECT device = body;
    size_t size = ((struct io_device *)device->DeviceObjectExtension)->size;

    pool_check_free_range((ULONG_PTR)device, size, NonPagedPool);
    memset(device, 0xDD, sizeof *device);
    free(device);
}

static bool io_device_object_describe(PVOID body, char *buf, size_t size)
{
    char name[64];

    io_device_name_text(body, name, sizeof name);
    snprintf(buf, size, "device %s", name);
    return true;
}

/* Windows' devices are objects: drivers may reference them (ObReferenceObject) beyond
 * IoDeleteDevice, and the memory goes with the last reference. */
static struct _OBJECT_TYPE io_device_type = {
    .name = "Device",
    .delete_procedure = io_device_object_delete,
    .describe_procedure = io_device_object_describe,
};

PDRIVER_OBJECT io_driver_object_create(const struct sim_driver *driver)
{
    PDRIVER_OBJECT object = calloc(1, sizeof *object + sizeof(DRIVER_EXTENSION));

    if (object == NULL)
        return NULL;
    object->Type = IO_TYPE_DRIVER;
    object->Size = (CSHORT)sizeof *object;
    object->DriverExtension = (PDRIVER_EXTENSION)(object + 1);
    object->DriverExtension->DriverObject = object;
    object->DriverSection = (PVOID)driver;
    for (int i = 0; i <= IRP_MJ_MAXIMUM_FUNCTION; i++)
        object->MajorFunction[i] = io_invalid_device_request;
    object_create(object, &io_driver_type);
    object_charge(object, driver);
    return object;
}

void io_driver_object_release(PDRIVER_OBJECT object)
{
    object_release(object);
}

void io_driver_object_free(PDRIVER_OBJECT object)
{
    free(object);
}

const struct sim_driver *io_driver_of(PDEVICE_OBJECT device)
{
    return device->DriverObject ? device->DriverObject->DriverSection : NULL;
}

/* ---- Devices ---- */

static struct io_device *io_device_of(PDEVICE_OBJECT device)
{
    return (struct io_device *)device->DeviceObjectExtension;
}

struct io_startio *io_device_startio(PDEVICE_OBJECT device)
{
    return &io_device_of(device)->startio;
}

/* IoCreateDevice puts the record right after its device. */
static PDEVICE_OBJECT io_device_from(struct io_device *d)
{
    return (PDEVICE_OBJECT)d - 1;
}

/* The device's name as created, or NULL for an unnamed device. */
static PCUNICODE_STRING io_device_name(PDEVICE_OBJECT device)
{
    struct io_device *d = io_device_of(device);

    return d->name_string.Length ? &d->name_string : NULL;
}

static bool io_copy_name(struct io_device *d, PCUNICODE_STRING name)
{
    USHORT max = (USHORT)(sizeof d->name - sizeof(WCHAR));

    if (name == NULL || name->Length == 0)
        return true;
    if (name->Length > max)
        return false;
    memcpy(d->name, name->Buffer, name->Length);
    d->name_string.Buffer = d->name;
    d->name_string.Length = name->Length;
    d->name_string.MaximumLength = (USHORT)(name->Length + sizeof(WCHAR));
    return true;
}

/* IRQL <= APC_LEVEL. The device and its zeroed extension come from nonpaged memory. */
NTSTATUS NTAPI IoCreateDevice(PDRIVER_OBJECT DriverObject, ULONG DeviceExtensionSize, PUNICODE_STRING DeviceName,
                              DEVICE_TYPE DeviceType, ULONG DeviceCharacteristics, BOOLEAN Exclusive,
                              PDEVICE_OBJECT *DeviceObject)
{
    PDEVICE_OBJECT device;
    struct io_device *d;
    NTSTATUS status;

    rule_check_irql(RULE_IO_ABOVE_APC, irql_current(), (ULONG_PTR)DriverObject, 0, 0);
    RULE_CHECK_ARGUMENT(DriverObject, RULE_READS);
    RULE_CHECK_ARGUMENT(DeviceObject, RULE_WRITES);
    *DeviceObject = NULL;
    device = calloc(1, sizeof *device + sizeof *d + DeviceExtensionSize);
    if (device == NULL)
        return STATUS_INSUFFICIENT_RESOURCES;
    d = (struct io_device *)(device + 1);
    d->size = sizeof *device + sizeof *d + DeviceExtensionSize;
    if (!io_copy_name(d, DeviceName)) {
        free(device);
        return STATUS_OBJECT_NAME_INVALID;
    }
    if (d->name_string.Length != 0 &&
        (status = ns_insert(&d->name_string, NS_DEVICE, device, NULL)) != STATUS_SUCCESS) {
        free(device);
        return status;
    }
    device->Type = IO_TYPE_DEVICE;
    device->Size = (USHORT)sizeof *device;
    device->DriverObject = DriverObject;
    device->DeviceType = DeviceType;
    device->Characteristics = DeviceCharacteristics;
    device->Flags = DO_DEVICE_INITIALIZING | (Exclusive ? DO_EXCLUSIVE : 0);
    device->StackSize = 1;
    KeInitializeDeviceQueue(&device->DeviceQueue);
    device->DeviceObjectExtension = (struct _DEVOBJ_EXTENSION *)d;
    device->DeviceExtension = DeviceExtensionSize ? (PVOID)(d + 1) : NULL;
    KeInitializeEvent(&device->DeviceLock, SynchronizationEvent, TRUE);
    object_create(device, &io_device_type);
    host_lock(&io_lock);
    device->NextDevice = DriverObject->DeviceObject;
    DriverObject->DeviceObject = device;
    host_unlock(&io_lock);
    *DeviceObject = device;
    return STATUS_SUCCESS;
}

static void io_unlink_device(PDEVICE_OBJECT device)
{
    host_lock(&io_lock);
    for (PDEVICE_OBJECT *link = &device->DriverObject->DeviceObject; *link != NULL; link = &(*link)->NextDevice) {
        if (*link == device) {
            *link = device->NextDevice;
            break;
        }
    }
    host_unlock(&io_lock);
}

/* What families that keep state per device do when it is deleted (iotimer.c: its timer goes). */
#define IO_DELETE_HOOKS 4
static void (*io_delete_hooks[IO_DELETE_HOOKS])(PDEVICE_OBJECT device);

/* Before main (a constructor), so the table is fixed once any device exists. */
void io_register_delete_hook(void (*hook)(PDEVICE_OBJECT device))
{
    for (int i = 0; i < IO_DELETE_HOOKS; i++) {
        if (io_delete_hooks[i] == NULL) {
            io_delete_hooks[i] = hook;
            return;
        }
    }
    abort();
}

static void io_run_delete_hooks(PDEVICE_OBJECT device)
{
    for (int i = 0; i < IO_DELETE_HOOKS && io_delete_hooks[i] != NULL; i++)
        io_delete_hooks[i](device);
}

/* IRQL <= APC_LEVEL. Once per device; open files keep it until their last close. */
VOID NTAPI IoDeleteDevice(PDEVICE_OBJECT DeviceObject)
{
    struct io_device *d;

    rule_check_irql(RULE_IO_ABOVE_APC, irql_current(), (ULONG_PTR)DeviceObject, 0, 0);
    if (DeviceObject == NULL || DeviceObject->Type != IO_TYPE_DEVICE)
        rule_stop(RULE_IO_NOT_A_DEVICE, (ULONG_PTR)DeviceObject, 0, 0, 0);
    d = io_device_of(DeviceObject);
    if (d->deleted)
        rule_stop(RULE_IO_DEVICE_DELETED_TWICE, (ULONG_PTR)DeviceObject, 0, 0, 0);
    io_run_delete_hooks(DeviceObject);
    /* Under io_lock, so io_device_open either finds the name and references the device first, or
     * no longer finds it. */
    host_lock(&io_lock);
    d->deleted = true;
    InsertTailList(&io_deleted, &d->deleted_link);
    ns_remove_target(DeviceObject);
    host_unlock(&io_lock);
    deviface_device_deleted(DeviceObject);
    io_unlink_device(DeviceObject);
    io_device_release(DeviceObject);
}

void io_device_reference(PDEVICE_OBJECT device)
{
    InterlockedIncrement(&device->ReferenceCount);
}

void io_device_release(PDEVICE_OBJECT device)
{
    struct io_device *d = io_device_of(device);

    if (InterlockedDecrement(&device->ReferenceCount) < 0 && d->deleted) {
        host_lock(&io_lock);
        RemoveEntryList(&d->deleted_link);
        host_unlock(&io_lock);
        object_release(device);
    }
}

void io_device_work_queued(PDEVICE_OBJECT device)
{
    InterlockedIncrement(&io_device_of(device)->work_items);
    io_device_reference(device);
}

/* The count drops first: the release may free the device. */
void io_device_work_done(PDEVICE_OBJECT device)
{
    InterlockedDecrement(&io_device_of(device)->work_items);
    io_device_release(device);
}

/* Under io_lock, which a deleted device's last release takes before freeing it. */
LONG io_driver_work_items(PDRIVER_OBJECT driver)
{
    LONG items = 0;

    host_lock(&io_lock);
    for (PDEVICE_OBJECT device = driver->DeviceObject; device != NULL; device = device->NextDevice)
        items += __atomic_load_n(&io_device_of(device)->work_items, __ATOMIC_ACQUIRE);
    for (PLIST_ENTRY e = io_deleted.Flink; e != &io_deleted; e = e->Flink) {
        struct io_device *d = CONTAINING_RECORD(e, struct io_device, deleted_link);

        if (io_device_from(d)->DriverObject == driver)
            items += __atomic_load_n(&d->work_items, __ATOMIC_ACQUIRE);
    }
    host_unlock(&io_lock);
    return items;
}

/* "\Device\Tidy" or "unnamed", for the unload report. */
static void io_device_name_text(PDEVICE_OBJECT device, char *buf, size_t size)
{
    PCUNICODE_STRING name = io_device_name(device);
    size_t n = 0;

    if (name == NULL) {
        snprintf(buf, size, "unnamed");
        return;
    }
    for (USHORT i = 0; i < name->Length / sizeof(WCHAR) && n + 1 < size; i++)
        buf[n++] = (char)name->Buffer[i];
    buf[n] = '\0';
}

/* The unload check's inventory of devices: those the driver has not deleted (its own list, which
 * only its unload changes by now), and deleted ones that open files or queued work items still
 * reference, which would send those into its dispatch routines after its image is gone. */
static void io_collect_leftovers(struct driver_check *check)
{
    PDRIVER_OBJECT driver = driver_check_object(check);
    char name[96];

    for (PDEVICE_OBJECT device = driver->DeviceObject; device != NULL; device = device->NextDevice) {
        io_device_name_text(device, name, sizeof name);
        driver_check_pending(check, "device", device, NULL, "not deleted, %s", name);
    }
    host_lock(&io_lock);
    for (PLIST_ENTRY e = io_deleted.Flink; e != &io_deleted; e = e->Flink) {
        PDEVICE_OBJECT device = io_device_from(CONTAINING_RECORD(e, struct io_device, deleted_link));
        LONG references = __atomic_load_n(&device->ReferenceCount, __ATOMIC_ACQUIRE) + 1;

        if (device->DriverObject != driver || references <= 0)
            continue;
        io_device_name_text(device, name, sizeof name);
        driver_check_pending(check, "device", device, NULL,
                             "deleted but still referenced %ld time(s) (open files, work items), %s",
                             (long)references, name);
    }
    host_unlock(&io_lock);
}

static struct driver_inventory io_inventory = {
    .order = DRIVER_INVENTORY_OBJECTS,
    .collect = io_collect_leftovers,
};
DRIVER_INVENTORY(io_inventory)

/* IopCheckDeviceAndDriver's checks: a device still initializing or already deleted cannot be
 * opened, and an exclusive one only once. */
static NTSTATUS io_device_check_open(PDEVICE_OBJECT device, const struct io_device *d)
{
    if (d->deleted || (device->Flags & DO_DEVICE_INITIALIZING))
        return STATUS_NO_SUCH_DEVICE;
    if ((device->Flags & DO_EXCLUSIVE) && d->opens != 0)
        return STATUS_ACCESS_DENIED;
    return STATUS_SUCCESS;
}

NTSTATUS io_device_open(PCUNICODE_STRING name, PDEVICE_OBJECT *device)
{
    enum ns_kind kind = NS_DEVICE;
    PDEVICE_OBJECT found;
    NTSTATUS status;

    *device = NULL;
    host_lock(&io_lock);
    found = ns_lookup(name, &kind);
    if (found == NULL)
        status = STATUS_OBJECT_NAME_NOT_FOUND;
    else if (kind != NS_DEVICE)
        status = STATUS_OBJECT_TYPE_MISMATCH;
    else
        status = io_device_check_open(found, io_device_of(found));
    if (status == STATUS_SUCCESS) {
        io_device_of(found)->opens++;
        io_device_reference(found);
        *device = found;
    }
    host_unlock(&io_lock);
    return status;
}

void io_device_close(PDEVICE_OBJECT device)
{
    host_lock(&io_lock);
    io_device_of(device)->opens--;
    host_unlock(&io_lock);
    io_device_release(device);
}

PCUNICODE_STRING io_device_stack_name(PDEVICE_OBJECT device)
{
    PCUNICODE_STRING name = NULL;

    host_lock(&io_lock);
    for (; device != NULL && name == NULL; device = device->AttachedDevice)
        name = io_device_name(device);
    host_unlock(&io_lock);
    return name;
}

/* Without io_lock, as IoGetAttachedDevice walks the stack on Windows: every request starts here,
 * and a stack changes only when a device is attached or detached (atomic stores of the link). */
PDEVICE_OBJECT io_device_top(PDEVICE_OBJECT device)
{
    PDEVICE_OBJECT above;

    while ((above = __atomic_load_n(&device->AttachedDevice, __ATOMIC_ACQUIRE)) != NULL)
        device = above;
    return device;
}

/* IRQL <= APC_LEVEL. Puts SourceDevice on top of TargetDevice's stack; returns the device below. */
PDEVICE_OBJECT NTAPI IoAttachDeviceToDeviceStack(PDEVICE_OBJECT SourceDevice, PDEVICE_OBJECT TargetDevice)
{
    PDEVICE_OBJECT top;

    rule_check_irql(RULE_IO_ABOVE_APC, irql_current(), (ULONG_PTR)SourceDevice, 0, 0);
    RULE_CHECK_ARGUMENT(SourceDevice, RULE_WRITES);
    RULE_CHECK_ARGUMENT(TargetDevice, RULE_READS);
    host_lock(&io_lock);
    for (top = TargetDevice; top->AttachedDevice != NULL; top = top->AttachedDevice)
        ;
    SourceDevice->StackSize = (CCHAR)(top->StackSize + 1);
    __atomic_store_n(&top->AttachedDevice, SourceDevice, __ATOMIC_RELEASE);
    host_unlock(&io_lock);
    return top;
}

/* IRQL <= APC_LEVEL. */
VOID NTAPI IoDetachDevice(PDEVICE_OBJECT TargetDevice)
{
    rule_check_irql(RULE_IO_ABOVE_APC, irql_current(), (ULONG_PTR)TargetDevice, 0, 0);
    host_lock(&io_lock);
    __atomic_store_n(&TargetDevice->AttachedDevice, NULL, __ATOMIC_RELEASE);
    host_unlock(&io_lock);
}

/* ---- Symbolic links ---- */

/* PASSIVE_LEVEL. */
NTSTATUS NTAPI IoCreateSymbolicLink(PUNICODE_STRING SymbolicLinkName, PUNICODE_STRING DeviceName)
{
    rule_check_irql(RULE_IO_NOT_PASSIVE, irql_current(), (ULONG_PTR)SymbolicLinkName, 0, 0);
    RULE_CHECK_ARGUMENT(SymbolicLinkName, RULE_READS);
    RULE_CHECK_ARGUMENT(DeviceName, RULE_READS);
    return ns_insert_link(SymbolicLinkName, DeviceName, thread_charged(thread_current()));
}

/* PASSIVE_LEVEL. */
NTSTATUS NTAPI IoDeleteSymbolicLink(PUNICODE_STRING SymbolicLinkName)
{
    rule_check_irql(RULE_IO_NOT_PASSIVE, irql_current(), (ULONG_PTR)SymbolicLinkName, 0, 0);
    RULE_CHECK_ARGUMENT(SymbolicLinkName, RULE_READS);
    return ns_remove(SymbolicLinkName, NS_SYMLINK);
}

/* ---- IoCallDriver ---- */

struct io_dispatch_state {
    KIRQL irql;
    unsigned spinlocks_held;
    unsigned fast_mutexes_held;
    PLIST_ENTRY first_mutant;
    unsigned critical_regions;
    unsigned guarded_regions;
    const struct sim_driver *callee;    /* the dispatch routine's driver, named by a broken rule */
};

static void io_save_state(const struct _KTHREAD *self, struct io_dispatch_state *state)
{
    state->irql = self->irql;
    state->spinlocks_held = self->spinlocks_held;
    state->fast_mutexes_held = self->fast_mutexes_held;
    state->first_mutant = self->mutants_owned.Flink;
    state->critical_regions = self->critical_regions;
    state->guarded_regions = self->guarded_regions;
}

/* A driver that passed the IRP down may return the lower driver's STATUS_PENDING unmarked: its
 * own location is marked when the IRP completes, by its completion routine or by the I/O manager. */
static bool io_marked_pending(PIRP irp, PIO_STACK_LOCATION stack)
{
    struct io_irp *w = io_wrapper(irp);
    bool marked;

    io_irp_lock(w);
    marked = (stack->Control & SL_PENDING_RETURNED) ||
             (stack > w->stack && ((stack - 1)->Control & SL_PENDING_RETURNED));
    io_irp_unlock(w);
    return marked;
}

/* What Windows (Driver Verifier) checks when a dispatch routine returns. A held spin lock or
 * mutex also leaves the IRQL raised; it is checked first because it is the cause to name. */
static void io_check_return(const struct _KTHREAD *self, const struct io_dispatch_state *before,
                            PDEVICE_OBJECT device, PDRIVER_DISPATCH routine, PIRP irp, PIO_STACK_LOCATION stack,
                            NTSTATUS status)
{
    bugcheck_blame(before->callee, (const void *)routine);
    if (self->spinlocks_held != before->spinlocks_held)
        rule_stop_detail(RULE_IO_DISPATCH_HELD_SPIN_LOCK, (ULONG_PTR)routine, 0, 0, 0,
                         "the dispatch routine at %p returned holding %u spin lock(s)", (void *)routine,
                         self->spinlocks_held - before->spinlocks_held);
    if (self->fast_mutexes_held != before->fast_mutexes_held || self->mutants_owned.Flink != before->first_mutant)
        rule_stop(RULE_IO_DISPATCH_HELD_MUTEX, (ULONG_PTR)routine, 0, 0, 0);
    if (self->critical_regions != before->critical_regions || self->guarded_regions != before->guarded_regions)
        rule_stop_detail(RULE_IO_DISPATCH_HELD_MUTEX, (ULONG_PTR)routine, 0, 0, 0,
                         "the dispatch routine at %p returned with %d critical and %d guarded region(s) left "
                         "unbalanced", (void *)routine, (int)(self->critical_regions - before->critical_regions),
                         (int)(self->guarded_regions - before->guarded_regions));
    if (self->irql != before->irql)
        rule_stop(RULE_IO_DISPATCH_CHANGED_IRQL, (ULONG_PTR)device, before->irql, self->irql, 0);
    if (status == STATUS_PENDING && !io_marked_pending(irp, stack))
        rule_stop(RULE_IO_PENDING_NOT_MARKED, (ULONG_PTR)routine, (ULONG_PTR)device, 0, 0);
    bugcheck_blame(NULL, NULL);
}

/* ---- The dispatch routine a thread runs, and the waits it makes ---- */

#define IO_PASSED_DOWN 4

/* One dispatch routine running on a thread, innermost first (KTHREAD.dispatch_frame), with what
 * identifies the last IRPs it passed down: their completion routines' contexts and their
 * UserEvents, what a wait for such an IRP waits on. */
struct io_dispatch_frame {
    PDRIVER_DISPATCH routine;
    UCHAR major;
    const struct sim_driver *driver;
    struct {
        PVOID context;
        PKEVENT event;
    } passed[IO_PASSED_DOWN];
    unsigned passed_count;
    struct io_dispatch_frame *outer;
};

/* How far past a completion routine's context an event may lie and still be taken for its own: a
 * context structure that holds the event (the event itself is the usual context). */
#define IO_CONTEXT_REACH 512

static void io_note_passed_down(struct io_dispatch_frame *frame, PIO_STACK_LOCATION next, PIRP irp)
{
    unsigned slot;

    if (frame == NULL)
        return;
    slot = frame->passed_count++ % IO_PASSED_DOWN;
    frame->passed[slot].context = next->CompletionRoutine != NULL ? next->Context : NULL;
    frame->passed[slot].event = irp->UserEvent;
}

static bool io_waits_for_passed_down(const struct io_dispatch_frame *frame, const void *object)
{
    unsigned count = frame->passed_count < IO_PASSED_DOWN ? frame->passed_count : IO_PASSED_DOWN;

    for (unsigned i = 0; i < count; i++) {
        const char *context = frame->passed[i].context;

        if (object == frame->passed[i].event ||
            (context != NULL && (const char *)object >= context && (const char *)object < context + IO_CONTEXT_REACH))
            return true;
    }
    return false;
}

static void io_describe_timeout(const LARGE_INTEGER *timeout, char *buf, size_t size)
{
    if (timeout == NULL)
        snprintf(buf, size, "no timeout (for ever)");
    else if (timeout->QuadPart < 0)
        snprintf(buf, size, "a timeout of %.3f ms", (double)-timeout->QuadPart / 1e4);
    else
        snprintf(buf, size, "an absolute timeout");
}

/* The seed's guideline: a dispatch routine does not wait with a non-zero timeout (a warning). */
static void io_check_dispatch_wait(struct _KTHREAD *self, ULONG count, PVOID objects[], const LARGE_INTEGER *timeout,
                                   const char *ddi)
{
    const struct io_dispatch_frame *frame = self->dispatch_frame;
    char routine[160];
    char how_long[64];

    if (frame == NULL || count == 0 || (timeout != NULL && timeout->QuadPart == 0) || frame->major == IRP_MJ_PNP ||
        frame->major == IRP_MJ_POWER)
        return;
    for (ULONG i = 0; i < count; i++) {
        if (io_waits_for_passed_down(frame, objects[i]))
            return;
    }
    bugcheck_describe_code((const void *)frame->routine, routine, sizeof routine);
    io_describe_timeout(timeout, how_long, sizeof how_long);
    rule_warn(RULE_IO_DISPATCH_WAIT_WITH_TIMEOUT, "%s in the dispatch routine %s (%s, driver %s) waits on the %s at %p%s "
              "with %s", ddi, routine, timeline_major_name(frame->major), frame->driver ? frame->driver->name : "none",
              disp_type_name(((const DISPATCHER_HEADER *)objects[0])->Type), objects[0],
              count > 1 ? " (and others)" : "", how_long);
}

static struct disp_wait_check io_dispatch_wait_check = { .check = io_check_dispatch_wait };
DISP_WAIT_CHECK(io_dispatch_wait_check)

/* Runs a dispatch routine as the innermost one of the thread, on its timeline track. */
static NTSTATUS io_run_dispatch(struct _KTHREAD *self, PDRIVER_DISPATCH routine, PDEVICE_OBJECT device, PIRP irp,
                                UCHAR major)
{
    struct io_dispatch_frame frame = { .routine = routine, .major = major, .driver = io_driver_of(device),
                                       .outer = self->dispatch_frame };
    NTSTATUS status;

    self->dispatch_frame = &frame;
    thread_charge(self, frame.driver);
    timeline_routine(TIMELINE_DISPATCH, (const void *)routine, irp, major, true);
    timeline_irp_dispatched(irp);
    status = routine(device, irp);
    timeline_routine(TIMELINE_DISPATCH, (const void *)routine, irp, major, false);
    self->dispatch_frame = frame.outer;
    return status;
}

/* IRQL <= DISPATCH_LEVEL. Runs the next driver's dispatch routine in the caller's thread. */
NTSTATUS FASTCALL IofCallDriver(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    struct _KTHREAD *self = thread_current();
    const struct sim_driver *caller = self->driver;
    struct io_dispatch_state before;
    PIO_STACK_LOCATION stack;
    PDRIVER_DISPATCH routine;
    NTSTATUS status;

    rule_check_irql(RULE_IO_CALL_ABOVE_DISPATCH, self->irql, 0, 0, 0);
    RULE_CHECK_ARGUMENT(Irp, RULE_WRITES);
    io_check_irp(Irp);
    if (DeviceObject == NULL || DeviceObject->Type != IO_TYPE_DEVICE || DeviceObject->DriverObject == NULL)
        rule_stop(RULE_IO_NOT_A_DEVICE, (ULONG_PTR)DeviceObject, 0, 0, 0);
    if (--Irp->CurrentLocation <= 0)
        rule_stop(RULE_IO_NO_MORE_STACK_LOCATIONS, (ULONG_PTR)Irp, 0, 0, 0);
    stack = --Irp->Tail.Overlay.CurrentStackLocation;
    stack->DeviceObject = DeviceObject;
    routine = DeviceObject->DriverObject->MajorFunction[stack->MajorFunction];
    io_note_passed_down(self->dispatch_frame, stack, Irp);
    io_save_state(self, &before);
    before.callee = io_driver_of(DeviceObject);
    status = io_run_dispatch(self, routine, DeviceObject, Irp, stack->MajorFunction);
    thread_charge(self, caller);
    io_check_return(self, &before, DeviceObject, routine, Irp, stack, status);
    return status;
}

/* ---- IoCompleteRequest ---- */

static bool io_should_invoke(PIRP irp, UCHAR control)
{
    if (irp->Cancel && (control & SL_INVOKE_ON_CANCEL))
        return true;
    return NT_SUCCESS(irp->IoStatus.Status) ? (control & SL_INVOKE_ON_SUCCESS) != 0
                                            : (control & SL_INVOKE_ON_ERROR) != 0;
}

/* Moves up one stack location; runs the completion routine the driver above set there.
 * Returns false when that routine stops the completion (STATUS_MORE_PROCESSING_REQUIRED). */
static bool io_complete_one(struct _KTHREAD *self, PIRP irp)
{
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(irp);
    PIO_COMPLETION_ROUTINE routine = stack->CompletionRoutine;
    PVOID context = stack->Context;
    bool invoke = routine != NULL && io_should_invoke(irp, stack->Control);
    const struct sim_driver *caller = self->driver;
    PDEVICE_OBJECT upper;
    NTSTATUS status;

    irp->PendingReturned = (stack->Control & SL_PENDING_RETURNED) != 0;
    irp->CurrentLocation++;
    irp->Tail.Overlay.CurrentStackLocation++;
    upper = irp->CurrentLocation > irp->StackCount ? NULL : IoGetCurrentIrpStackLocation(irp)->DeviceObject;
    if (!invoke) {
        if (irp->PendingReturned && upper != NULL)
            IoMarkIrpPending(irp);
        return true;
    }
    thread_charge(self, upper ? io_driver_of(upper) : caller);
    timeline_routine(TIMELINE_COMPLETION, (const void *)routine, irp, 0, true);
    status = routine(upper, irp, context);
    timeline_routine(TIMELINE_COMPLETION, (const void *)routine, irp, 0, false);
    thread_charge(self, caller);
    return status != STATUS_MORE_PROCESSING_REQUIRED;
}

/* What completion does for the originator once the IRP lock is dropped: the originator may free
 * the IRP as soon as either happens, so both are copied out under the lock. */
struct io_hand_back {
    PKEVENT event;                  /* the waiting originator's */
    void (*finish)(void *context);  /* the departed originator's */
    void *context;
    void (*done)(PIRP irp);         /* a threaded driver-built IRP's */
};

/* IRP lock held: every driver is done, the result goes back to the originator. */
static struct io_hand_back io_finish(PIRP irp)
{
    struct io_irp *w = io_wrapper(irp);
    struct io_hand_back back = { NULL, NULL, NULL, w->done };

    w->completed = true;
    if (irp->UserIosb != NULL)
        *irp->UserIosb = irp->IoStatus;
    if (w->originator == IO_ORIGINATOR_WAITS)
        back.event = irp->UserEvent;
    else if (w->originator == IO_ORIGINATOR_LEFT)
        back = (struct io_hand_back){ NULL, w->finish, w->finish_context, NULL };
    return back;
}

static void io_check_not_queued(PIRP irp)
{
    const KDEVICE_QUEUE *queue = devqueue_queue_of(&irp->Tail.Overlay.DeviceQueueEntry);

    if (queue != NULL)
        rule_stop_detail(RULE_IO_COMPLETE_QUEUED_IRP, (ULONG_PTR)irp, (ULONG_PTR)queue, 0, 0,
                         "IRP %p is still in the device queue at %p", (void *)irp, (const void *)queue);
}

/* IRQL <= DISPATCH_LEVEL. */
VOID FASTCALL IofCompleteRequest(PIRP Irp, CCHAR PriorityBoost)
{
    struct _KTHREAD *self = thread_current();
    struct io_hand_back back = { NULL, NULL, NULL, NULL };
    PDRIVER_CANCEL cancel_routine;
    bool finished = true;

    RULE_CHECK_ARGUMENT(Irp, RULE_WRITES);
    (void)PriorityBoost;
    rule_check_irql(RULE_IO_COMPLETE_ABOVE_DISPATCH, self->irql, (ULONG_PTR)Irp, 0, 0);
    io_check_irp(Irp);
    if (Irp->IoStatus.Status == STATUS_PENDING || Irp->IoStatus.Status == -1)
        rule_stop(RULE_IO_COMPLETE_PENDING_STATUS, (ULONG_PTR)Irp->IoStatus.Status, (ULONG_PTR)Irp, 0, 0);
    /* Read as IoSetCancelRoutine writes it, atomically: a racing IoCancelIrp (of a thread that
     * ends, say) may clear it at this moment, and either value is a legal state to check. */
    cancel_routine = __atomic_load_n(&Irp->CancelRoutine, __ATOMIC_ACQUIRE);
    if (cancel_routine != NULL)
        rule_stop(RULE_IO_COMPLETE_WITH_CANCEL_ROUTINE, (ULONG_PTR)cancel_routine, (ULONG_PTR)Irp, 0, 0);
    io_check_not_queued(Irp);
    timeline_irp_completing(Irp, true);
    io_irp_lock(io_wrapper(Irp));
    while (finished && Irp->CurrentLocation <= Irp->StackCount)
        finished = io_complete_one(self, Irp);
    if (finished)
        back = io_finish(Irp);
    io_irp_unlock(io_wrapper(Irp));
    timeline_irp_completing(Irp, false);
    if (back.event != NULL)
        KeSetEvent(back.event, IO_NO_INCREMENT, FALSE);
    if (back.finish != NULL)
        back.finish(back.context);
    if (back.done != NULL)
        back.done(Irp);
}

/* ---- The originator's side ---- */

/* After STATUS_PENDING: false if the IRP has completed meanwhile (the originator goes on with it),
 * else the completion will do what `how` says. */
static bool io_irp_hand_over(PIRP irp, int how, void (*finish)(void *context), void *context)
{
    struct io_irp *w = io_wrapper(irp);
    bool handed;

    io_irp_lock(w);
    handed = !w->completed;
    if (handed) {
        w->originator = how;
        w->finish = finish;
        w->finish_context = context;
    }
    io_irp_unlock(w);
    return handed;
}

/* Calls the top driver. Any status but STATUS_PENDING means the IRP is complete by now, or the
 * dispatch routine broke the rule. */
static NTSTATUS io_irp_call(PDEVICE_OBJECT top, PIRP irp, PIO_STATUS_BLOCK iosb, PKEVENT done)
{
    UCHAR major = IoGetNextIrpStackLocation(irp)->MajorFunction;
    PDRIVER_DISPATCH routine = top->DriverObject->MajorFunction[major];
    const struct sim_driver *callee = io_driver_of(top);
    NTSTATUS status;

    irp->UserEvent = done;
    irp->UserIosb = iosb;
    status = IofCallDriver(top, irp);
    if (status != STATUS_PENDING && !io_irp_completed(irp)) {
        bugcheck_blame(callee, (const void *)routine);
        rule_stop_detail(RULE_IO_DISPATCH_NOT_COMPLETED, (ULONG_PTR)routine, (ULONG_PTR)irp, 0, 0,
                         "the dispatch routine at %p for major function 0x%02X returned %s, but IRP %p "
                         "was neither completed nor marked pending", (void *)routine, major,
                         wdmsim_status_text(status).text,
                         (void *)irp);
    }
    return status;
}

NTSTATUS io_irp_send(PDEVICE_OBJECT top, PIRP irp, PIO_STATUS_BLOCK iosb)
{
    KEVENT done;
    NTSTATUS status;

    KeInitializeEvent(&done, NotificationEvent, FALSE);
    status = io_irp_call(top, irp, iosb, &done);
    if (status != STATUS_PENDING)
        return status;
    if (io_irp_hand_over(irp, IO_ORIGINATOR_WAITS, NULL, NULL))
        KeWaitForSingleObject(&done, Executive, KernelMode, FALSE, NULL);
    return iosb->Status;
}

NTSTATUS io_irp_start(PDEVICE_OBJECT top, PIRP irp, PIO_STATUS_BLOCK iosb, void (*finish)(void *context),
                      void *context, bool *handed_over)
{
    NTSTATUS status = io_irp_call(top, irp, iosb, NULL);

    *handed_over = status == STATUS_PENDING && io_irp_hand_over(irp, IO_ORIGINATOR_LEFT, finish, context);
    return status;
}

/* ---- Cancel ---- */

/* IRQL <= DISPATCH_LEVEL. */
VOID NTAPI IoAcquireCancelSpinLock(PKIRQL Irql)
{
    RULE_CHECK_ARGUMENT(Irql, RULE_WRITES);
    KeAcquireSpinLock(&io_cancel_lock, Irql);
}

/* DISPATCH_LEVEL, holding the cancel spin lock. */
VOID NTAPI IoReleaseCancelSpinLock(KIRQL Irql)
{
    KeReleaseSpinLock(&io_cancel_lock, Irql);
}

/* IRQL <= DISPATCH_LEVEL. TRUE if a cancel routine was called. The originator may cancel an IRP
 * that completed meanwhile (it frees its IRPs only afterwards): that finds no cancel routine. */
BOOLEAN NTAPI IoCancelIrp(PIRP Irp)
{
    PDRIVER_CANCEL routine;
    KIRQL irql;

    rule_check_irql(RULE_IO_CALL_ABOVE_DISPATCH, irql_current(), 0, 0, 0);
    io_check_is_irp(Irp);
    IoAcquireCancelSpinLock(&irql);
    Irp->Cancel = TRUE;
    routine = IoSetCancelRoutine(Irp, NULL);
    if (routine == NULL) {
        IoReleaseCancelSpinLock(irql);
        return FALSE;
    }
    Irp->CancelIrql = irql;
    routine(IoGetCurrentIrpStackLocation(Irp)->DeviceObject, Irp);
    return TRUE;
}
