/*
 * irp.c - IRPs drivers build themselves: IoAllocateIrp, IoReuseIrp, IoFreeIrp, IoMakeAssociatedIrp
 * (the I/O manager frees an associated IRP when it completes, and completes its master with the
 * last one), and the builders IoBuildAsynchronousFsdRequest, IoBuildSynchronousFsdRequest and
 * IoBuildDeviceIoControlRequest. Allocated and asynchronous IRPs are the driver's: it frees them,
 * usually in its completion routine, which then returns STATUS_MORE_PROCESSING_REQUIRED; one never
 * freed is found at unload. Synchronous and IOCTL requests are "threaded": the I/O manager finishes
 * them once they complete (the output copied back, the caller's IO_STATUS_BLOCK filled and its
 * event set, the IRP freed), cancels and waits for those still out when their thread ends, and a
 * driver must not free them. Freeing an IRP twice, one still in use or queued, or a threaded one
 * stops the machine with Driver Verifier's codes.
 * Locking: the records of built IRPs are guarded by the dispatcher lock; the buffers and the IRP
 * are the builder's until it sends the IRP, then the completing thread's.
 */
#include <string.h>

#include "internal.h"

/* The I/O manager's buffers for built requests, charged to it: a pool dump shows "IoBf". */
#define IRP_BUFFER_TAG 'fBoI'

struct irp_record {
    PIRP irp;
    USHORT driver;                  /* the index of the driver that built it */
    bool threaded;                  /* the I/O manager frees it when it completes */
    PVOID system_buffer;            /* the I/O manager's copy of the caller's buffer, or NULL */
    PVOID out;                      /* where a threaded request's output goes back, or NULL */
    ULONG out_length;
    PKEVENT event;                  /* a threaded request's caller's event */
    struct _KTHREAD *thread;        /* a threaded request's: the thread that built it */
    PKEVENT thread_ending;          /* set when its thread, ending, waits for it (and will free it) */
    bool completed;
    struct irp_record *next;
};

static struct irp_record *records;

/* A new boot forgets the last one's IRPs. */
void irp_boot(void)
{
    while (records != NULL) {
        struct irp_record *next = records->next;

        free(records);
        records = next;
    }
}

/* Dispatcher lock held. */
static struct irp_record **irp_link_of(PIRP irp)
{
    struct irp_record **link = &records;

    disp_assert_held();
    while (*link != NULL && (*link)->irp != irp)
        link = &(*link)->next;
    return link;
}

static struct irp_record *irp_record_new(PIRP irp, bool threaded)
{
    struct irp_record *record = calloc(1, sizeof *record);

    if (record == NULL)
        abort();
    record->irp = irp;
    record->driver = driver_index(thread_current()->driver);
    record->threaded = threaded;
    record->thread = threaded ? thread_current() : NULL;
    disp_lock();
    record->next = records;
    records = record;
    disp_unlock();
    return record;
}

/* The record of a built IRP, taken off the list (NULL: not one built here, or gone). */
static struct irp_record *irp_record_take(PIRP irp)
{
    struct irp_record **link, *record;

    disp_lock();
    link = irp_link_of(irp);
    record = *link;
    if (record != NULL)
        *link = record->next;
    disp_unlock();
    return record;
}

static bool irp_is_threaded(PIRP irp)
{
    struct irp_record *record;
    bool threaded;

    disp_lock();
    record = *irp_link_of(irp);
    threaded = record != NULL && record->threaded;
    disp_unlock();
    return threaded;
}

static void irp_buffer_free(PVOID buffer);

/* A finished threaded request let go: its buffer and IRP freed, then its caller's event set. */
static void irp_record_release(struct irp_record *record)
{
    PKEVENT event = record->event;

    irp_buffer_free(record->system_buffer);
    io_irp_retire(record->irp);
    free(record);
    if (event != NULL)
        KeSetEvent(event, IO_NO_INCREMENT, FALSE);
}

/* Pool of the I/O manager's, whoever's code asks. */
static PVOID irp_buffer_allocate(SIZE_T size)
{
    struct _KTHREAD *self = thread_current();
    const struct sim_driver *caller = self->driver;
    PVOID buffer;

    thread_charge(self, NULL);
    buffer = ExAllocatePoolWithTag(NonPagedPoolNx, size, IRP_BUFFER_TAG);
    thread_charge(self, caller);
    return buffer;
}

static void irp_buffer_free(PVOID buffer)
{
    struct _KTHREAD *self = thread_current();
    const struct sim_driver *caller = self->driver;

    if (buffer == NULL)
        return;
    thread_charge(self, NULL);
    ExFreePoolWithTag(buffer, IRP_BUFFER_TAG);
    thread_charge(self, caller);
}

/* ---- Allocate, reuse, free ---- */

/* IRQL <= DISPATCH_LEVEL. An IRP with StackSize empty stack locations, the driver's to free; NULL
 * when memory runs out. ChargeQuota has no effect: the simulator keeps no quotas. */
PIRP NTAPI IoAllocateIrp(CCHAR StackSize, BOOLEAN ChargeQuota)
{
    PIRP irp;

    (void)ChargeQuota;
    rule_check_irql(RULE_IRP_ABOVE_DISPATCH, irql_current(), (ULONG_PTR)StackSize, 0, 0);
    irp = io_irp_allocate(StackSize);
    if (irp == NULL)
        return NULL;
    irp->Tail.Overlay.Thread = NULL;
    irp_record_new(irp, false);
    return irp;
}

/* Stops unless irp is an IRP the driver may free now. */
static void irp_check_free(PIRP irp)
{
    const KDEVICE_QUEUE *queue;

    switch (io_irp_kind(irp)) {
    case IO_IRP_NONE:
        rule_stop(RULE_IRP_FREE_NOT_AN_IRP, (ULONG_PTR)irp, 0, 0, 0);
    case IO_IRP_FREED:
        rule_stop_detail(RULE_IRP_FREE_NOT_AN_IRP, (ULONG_PTR)irp, 0, 0, 0, "IRP %p was freed already",
                         (void *)irp);
    case IO_IRP_LIVE:
        break;
    }
    if (irp_is_threaded(irp))
        rule_stop(RULE_IRP_FREE_THREADED, (ULONG_PTR)irp, 0, 0, 0);
    queue = devqueue_queue_of(&irp->Tail.Overlay.DeviceQueueEntry);
    if (queue != NULL)
        rule_stop_detail(RULE_IRP_FREE_IN_USE, (ULONG_PTR)irp, 0, 0, 0, "IRP %p is still in the device queue at %p",
                         (void *)irp, (const void *)queue);
    if (io_irp_in_flight(irp))
        rule_stop_detail(RULE_IRP_FREE_IN_USE, (ULONG_PTR)irp, 0, 0, 0,
                         "IRP %p was sent and has not completed back up (at stack location %d of %d)", (void *)irp,
                         irp->CurrentLocation, irp->StackCount);
}

/* IRQL <= DISPATCH_LEVEL. An IRP from IoAllocateIrp or IoBuildAsynchronousFsdRequest, not in use:
 * never sent, or completed back up to its builder's completion routine. */
VOID NTAPI IoFreeIrp(PIRP Irp)
{
    struct irp_record *record;

    rule_check_irql(RULE_IRP_ABOVE_DISPATCH, irql_current(), (ULONG_PTR)Irp, 0, 0);
    irp_check_free(Irp);
    record = irp_record_take(Irp);
    if (record != NULL)
        irp_buffer_free(record->system_buffer);
    free(record);
    io_irp_retire(Irp);
}

/* IRQL <= DISPATCH_LEVEL. An IRP of IoAllocateIrp's, made as new again for another request: its
 * stack locations cleared, IoStatus.Status set to Status. */
VOID NTAPI IoReuseIrp(PIRP Irp, NTSTATUS Iostatus)
{
    CCHAR stack_size;
    USHORT size;

    rule_check_irql(RULE_IRP_ABOVE_DISPATCH, irql_current(), (ULONG_PTR)Irp, 0, 0);
    if (io_irp_kind(Irp) != IO_IRP_LIVE)
        rule_stop(RULE_IRP_FREE_NOT_AN_IRP, (ULONG_PTR)Irp, 0, 0, 0);
    stack_size = Irp->StackCount;
    size = Irp->Size;
    memset(Irp, 0, sizeof *Irp + (size_t)stack_size * sizeof(IO_STACK_LOCATION));
    Irp->Type = IO_TYPE_IRP;
    Irp->Size = size;
    Irp->StackCount = stack_size;
    Irp->CurrentLocation = (CHAR)(stack_size + 1);
    Irp->Tail.Overlay.CurrentStackLocation = (PIO_STACK_LOCATION)(Irp + 1) + stack_size;
    Irp->IoStatus.Status = Iostatus;
    io_irp_reset(Irp);
}

/* ---- Associated IRPs ---- */

/* An associated IRP has completed all the way up: the I/O manager frees it, and the last one of its
 * master completes the master. */
static void irp_associated_done(PIRP irp)
{
    PIRP master = irp->AssociatedIrp.MasterIrp;
    struct irp_record *record = irp_record_take(irp);

    free(record);
    io_irp_retire(irp);
    if (InterlockedDecrement(&master->AssociatedIrp.IrpCount) == 0)
        IoCompleteRequest(master, IO_NO_INCREMENT);
}

/* IRQL <= DISPATCH_LEVEL. An IRP that does part of Irp's work: the caller sets the master's
 * AssociatedIrp.IrpCount to the number it makes; each is freed by the I/O manager when it completes
 * (unless a completion routine keeps it with STATUS_MORE_PROCESSING_REQUIRED, and then the driver
 * frees it), and the master completes when the last one has. */
PIRP NTAPI IoMakeAssociatedIrp(PIRP Irp, CCHAR StackSize)
{
    PIRP irp;

    rule_check_irql(RULE_IRP_ABOVE_DISPATCH, irql_current(), (ULONG_PTR)Irp, 0, 0);
    irp = io_irp_allocate(StackSize);
    if (irp == NULL)
        return NULL;
    irp->Flags |= IRP_ASSOCIATED_IRP;
    irp->AssociatedIrp.MasterIrp = Irp;
    irp->Tail.Overlay.Thread = Irp->Tail.Overlay.Thread;
    irp->RequestorMode = Irp->RequestorMode;
    irp_record_new(irp, false);
    io_irp_set_done(irp, irp_associated_done);
    return irp;
}

/* ---- The builders ---- */

/* Runs on the completing thread once a threaded request has completed: the output back to the
 * caller (IoStatus is in its IO_STATUS_BLOCK already), the IRP freed, and last the event, after
 * which the caller may let its buffers and event go. If its thread is ending and waits for it,
 * that thread frees it instead. */
static void irp_threaded_done(PIRP irp)
{
    struct irp_record **link, *record;
    PKEVENT thread_ending = NULL;
    ULONG_PTR count;

    disp_lock();
    link = irp_link_of(irp);
    record = *link;
    if (record != NULL && record->thread_ending != NULL) {
        record->completed = true;
        thread_ending = record->thread_ending;
    } else if (record != NULL) {
        *link = record->next;
    }
    disp_unlock();
    if (record == NULL)
        return;
    if (record->out != NULL && record->system_buffer != NULL && !NT_ERROR(irp->IoStatus.Status)) {
        count = irp->IoStatus.Information < record->out_length ? irp->IoStatus.Information : record->out_length;
        memcpy(record->out, record->system_buffer, count);
    }
    if (thread_ending != NULL) {
        if (record->event != NULL)
            KeSetEvent(record->event, IO_NO_INCREMENT, FALSE);
        KeSetEvent(thread_ending, IO_NO_INCREMENT, FALSE);
        return;
    }
    irp_record_release(record);
}

/* An IRP for the device with its next stack location set for major; NULL without memory. */
static PIRP irp_build(PDEVICE_OBJECT device, UCHAR major, PIO_STATUS_BLOCK iosb, bool threaded)
{
    PIRP irp = io_irp_allocate(device->StackSize);
    PIO_STACK_LOCATION stack;

    if (irp == NULL)
        return NULL;
    if (!threaded)
        irp->Tail.Overlay.Thread = NULL;
    irp->UserIosb = iosb;
    irp->RequestorMode = KernelMode;
    stack = IoGetNextIrpStackLocation(irp);
    stack->MajorFunction = major;
    stack->DeviceObject = device;
    return irp;
}

/* The I/O manager's copy of length bytes of in (none if NULL), for a buffered device. */
static bool irp_attach_buffer(struct irp_record *record, ULONG length, const void *in, ULONG in_length)
{
    if (length == 0)
        return true;
    record->system_buffer = irp_buffer_allocate(length);
    if (record->system_buffer == NULL)
        return false;
    memset(record->system_buffer, 0, length);
    if (in != NULL && in_length != 0)
        memcpy(record->system_buffer, in, in_length);
    record->irp->AssociatedIrp.SystemBuffer = record->system_buffer;
    return true;
}

/* An unused built IRP let go: its builder ran out of memory. */
static PIRP irp_abandon(PIRP irp)
{
    struct irp_record *record = irp_record_take(irp);

    if (record != NULL)
        irp_buffer_free(record->system_buffer);
    free(record);
    io_irp_retire(irp);
    return NULL;
}

/* A read, write, flush or shutdown; buffers as the device asks (direct I/O is served as buffered
 * until MDLs exist, as the Zw calls do). */
static PIRP irp_build_fsd(ULONG major, PDEVICE_OBJECT device, PVOID buffer, ULONG length, PLARGE_INTEGER offset,
                          PIO_STATUS_BLOCK iosb, bool threaded, struct irp_record **built)
{
    PIRP irp = irp_build(device, (UCHAR)major, iosb, threaded);
    PIO_STACK_LOCATION stack;
    struct irp_record *record;
    bool transfer = major == IRP_MJ_READ || major == IRP_MJ_WRITE;

    if (irp == NULL)
        return NULL;
    record = irp_record_new(irp, threaded);
    *built = record;
    if (!transfer)
        return irp;
    stack = IoGetNextIrpStackLocation(irp);
    stack->Parameters.Read.Length = length;
    stack->Parameters.Read.ByteOffset.QuadPart = offset != NULL ? offset->QuadPart : 0;
    irp->UserBuffer = buffer;
    if (!(device->Flags & (DO_BUFFERED_IO | DO_DIRECT_IO)))
        return irp;
    if (major == IRP_MJ_READ) {
        record->out = buffer;
        record->out_length = length;
    }
    if (!irp_attach_buffer(record, length, major == IRP_MJ_WRITE ? buffer : NULL, length))
        return irp_abandon(irp);
    return irp;
}

/* IRQL <= DISPATCH_LEVEL. A read, write, flush or shutdown IRP the caller sends and frees (in its
 * completion routine); NULL without memory. */
PIRP NTAPI IoBuildAsynchronousFsdRequest(ULONG MajorFunction, PDEVICE_OBJECT DeviceObject, PVOID Buffer,
                                         ULONG Length, PLARGE_INTEGER StartingOffset, PIO_STATUS_BLOCK IoStatusBlock)
{
    struct irp_record *record;

    rule_check_irql(RULE_IRP_ABOVE_DISPATCH, irql_current(), (ULONG_PTR)DeviceObject, 0, 0);
    return irp_build_fsd(MajorFunction, DeviceObject, Buffer, Length, StartingOffset, IoStatusBlock, false, &record);
}

/* PASSIVE_LEVEL. As IoBuildAsynchronousFsdRequest, but threaded: the I/O manager finishes it and
 * sets Event when it completes. */
PIRP NTAPI IoBuildSynchronousFsdRequest(ULONG MajorFunction, PDEVICE_OBJECT DeviceObject, PVOID Buffer,
                                        ULONG Length, PLARGE_INTEGER StartingOffset, PKEVENT Event,
                                        PIO_STATUS_BLOCK IoStatusBlock)
{
    struct irp_record *record = NULL;
    PIRP irp;

    rule_check_irql(RULE_IRP_BUILD_NOT_PASSIVE, irql_current(), (ULONG_PTR)DeviceObject, 0, 0);
    irp = irp_build_fsd(MajorFunction, DeviceObject, Buffer, Length, StartingOffset, IoStatusBlock, true, &record);
    if (irp == NULL)
        return NULL;
    irp->UserEvent = Event;
    record->event = Event;
    io_irp_set_done(irp, irp_threaded_done);
    return irp;
}

/* The buffers of an IOCTL by its method: buffered ones (and, until MDLs exist, direct ones) get one
 * system buffer for input and output; METHOD_NEITHER passes the caller's pointers. */
static bool irp_ioctl_buffers(struct irp_record *record, ULONG code, PVOID in, ULONG in_length, PVOID out,
                              ULONG out_length)
{
    PIO_STACK_LOCATION stack = IoGetNextIrpStackLocation(record->irp);
    ULONG size = in_length > out_length ? in_length : out_length;

    if (METHOD_FROM_CTL_CODE(code) == METHOD_NEITHER) {
        stack->Parameters.DeviceIoControl.Type3InputBuffer = in;
        record->irp->UserBuffer = out;
        return true;
    }
    record->out = out;
    record->out_length = out_length;
    return irp_attach_buffer(record, size, in, in_length);
}

/* PASSIVE_LEVEL. A threaded IRP_MJ_(INTERNAL_)DEVICE_CONTROL request; NULL without memory. */
PIRP NTAPI IoBuildDeviceIoControlRequest(ULONG IoControlCode, PDEVICE_OBJECT DeviceObject, PVOID InputBuffer,
                                         ULONG InputBufferLength, PVOID OutputBuffer, ULONG OutputBufferLength,
                                         BOOLEAN InternalDeviceIoControl, PKEVENT Event,
                                         PIO_STATUS_BLOCK IoStatusBlock)
{
    UCHAR major = InternalDeviceIoControl ? IRP_MJ_INTERNAL_DEVICE_CONTROL : IRP_MJ_DEVICE_CONTROL;
    struct irp_record *record;
    PIO_STACK_LOCATION stack;
    PIRP irp;

    rule_check_irql(RULE_IRP_BUILD_NOT_PASSIVE, irql_current(), (ULONG_PTR)DeviceObject, 0, 0);
    irp = irp_build(DeviceObject, major, IoStatusBlock, true);
    if (irp == NULL)
        return NULL;
    record = irp_record_new(irp, true);
    stack = IoGetNextIrpStackLocation(irp);
    stack->Parameters.DeviceIoControl.IoControlCode = IoControlCode;
    stack->Parameters.DeviceIoControl.InputBufferLength = InputBufferLength;
    stack->Parameters.DeviceIoControl.OutputBufferLength = OutputBufferLength;
    if (!irp_ioctl_buffers(record, IoControlCode, InputBuffer, InputBufferLength, OutputBuffer, OutputBufferLength))
        return irp_abandon(irp);
    irp->UserEvent = Event;
    record->event = Event;
    io_irp_set_done(irp, irp_threaded_done);
    return irp;
}

/* ---- A thread that ends ---- */

/* How long an ending thread waits for a cancelled request, as NT waits in IoCancelThreadIo. */
#define IRP_CANCEL_WAIT_SECONDS 300

/* A threaded request of thread's still in progress, now kept for it (its completion will set
 * finished and leave the freeing to it); NULL if none is left. */
static struct irp_record *irp_keep_for_ending(struct _KTHREAD *thread, PKEVENT finished)
{
    struct irp_record *found = NULL;

    disp_lock();
    for (struct irp_record *r = records; r != NULL && found == NULL; r = r->next)
        if (r->threaded && r->thread == thread && r->thread_ending == NULL)
            found = r;
    if (found != NULL)
        found->thread_ending = finished;
    disp_unlock();
    return found;
}

/* After the wait: a completed request is freed here; one still out is left to complete later. */
static void irp_let_go_after_ending(struct irp_record *record)
{
    bool completed;

    disp_lock();
    completed = record->completed;
    if (completed)
        *irp_link_of(record->irp) = record->next;
    else
        record->thread_ending = NULL;
    disp_unlock();
    if (completed) {
        record->event = NULL;       /* already set */
        irp_record_release(record);
    }
}

/* As IoCancelThreadIo: each threaded request the ending thread built and that is still in progress
 * is cancelled and waited for, so no completion writes into a stack or buffers that are gone. */
static void irp_thread_ending(struct _KTHREAD *thread)
{
    LARGE_INTEGER wait = { .QuadPart = -(LONGLONG)IRP_CANCEL_WAIT_SECONDS * 10000000LL };
    struct irp_record *record;
    KEVENT finished;

    for (;;) {
        KeInitializeEvent(&finished, NotificationEvent, FALSE);
        record = irp_keep_for_ending(thread, &finished);
        if (record == NULL)
            return;
        IoCancelIrp(record->irp);
        KeWaitForSingleObject(&finished, Executive, KernelMode, FALSE, &wait);
        irp_let_go_after_ending(record);
    }
}

__attribute__((constructor)) static void irp_register(void)
{
    thread_ending_register(irp_thread_ending);
}

/* ---- What an unload leaves ---- */

/* IRPs the driver built to free itself and did not: Verifier's pool tracking sees the memory. */
static void irp_collect_leftovers(struct driver_check *check)
{
    disp_lock();
    for (struct irp_record *r = records; r != NULL; r = r->next)
        if (!r->threaded && driver_check_owns(check, r->driver, r->irp))
            driver_check_pool_block(check, r->irp, IoSizeOfIrp(r->irp->StackCount),
                                    "an IRP from IoAllocateIrp or IoBuildAsynchronousFsdRequest, never freed (IoFreeIrp)");
    disp_unlock();
}

static struct driver_inventory irp_inventory = {
    .order = DRIVER_INVENTORY_MEMORY,
    .collect = irp_collect_leftovers,
};
DRIVER_INVENTORY(irp_inventory)
