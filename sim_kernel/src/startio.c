/*
 * startio.c - StartIo: IoStartPacket, IoStartNextPacket(ByKey) and IoSetStartIoAttributes, the I/O
 * manager's serialisation of a device's requests through DEVICE_OBJECT.DeviceQueue and the driver's
 * DriverStartIo, one IRP at a time (DeviceObject->CurrentIrp), at DISPATCH_LEVEL.
 * A packet started with a cancel routine can be cancelled while it waits: IoStartPacket sets the
 * routine and looks at Irp->Cancel under the cancel spin lock, and IoStartNextPacket(Cancelable)
 * holds that lock while it takes the next IRP out, so a cancel routine either finds its IRP still
 * queued (and takes it out with KeRemoveEntryDeviceQueue) or finds it current.
 * A device with deferred StartIo (IoSetStartIoAttributes) never runs StartIo inside StartIo: an
 * IoStartNextPacket made while StartIo runs is remembered and carried out once it has returned.
 * Locking: the cancel spin lock before the queue's; a device's StartIo state under its own lock.
 */
#include "internal.h"

/* The attributes in DEVOBJ_EXTENSION.StartIoFlags, as Windows names them. */
#define DOE_SIO_DEFERRED 0x4
#define DOE_SIO_NO_CANCEL 0x8

static ULONG startio_flags(PDEVICE_OBJECT device)
{
    return __atomic_load_n(&io_device_startio(device)->flags, __ATOMIC_ACQUIRE);
}

static void startio_check_device(PDEVICE_OBJECT device)
{
    if (device == NULL || device->Type != IO_TYPE_DEVICE || device->DriverObject == NULL)
        rule_stop(RULE_IO_NOT_A_DEVICE, (ULONG_PTR)device, 0, 0, 0);
    if (device->DriverObject->DriverStartIo == NULL)
        rule_stop_detail(RULE_IO_NO_START_IO, 0, DISPATCH_LEVEL, 8, 0,
                         "device %p: its driver's DriverStartIo is NULL", (void *)device);
}

/* The driver's StartIo, charged to the device's driver as its dispatch routines are. */
static void startio_call(PDEVICE_OBJECT device, PIRP irp)
{
    struct _KTHREAD *self = thread_current();
    const struct sim_driver *caller = self->driver;

    thread_charge(self, io_driver_of(device));
    device->DriverObject->DriverStartIo(device, irp);
    thread_charge(self, caller);
}

/* DISPATCH_LEVEL. The next IRP (the first, or by key) becomes current and goes to StartIo; with
 * none the queue is idle again and CurrentIrp NULL. */
static void startio_next(PDEVICE_OBJECT device, bool cancelable, bool by_key, ULONG key)
{
    KIRQL cancel_irql = DISPATCH_LEVEL;
    PKDEVICE_QUEUE_ENTRY entry;
    PIRP irp = NULL;

    if (cancelable)
        IoAcquireCancelSpinLock(&cancel_irql);
    device->CurrentIrp = NULL;
    entry = by_key ? KeRemoveByKeyDeviceQueue(&device->DeviceQueue, key) : KeRemoveDeviceQueue(&device->DeviceQueue);
    if (entry != NULL) {
        irp = CONTAINING_RECORD(entry, IRP, Tail.Overlay.DeviceQueueEntry);
        device->CurrentIrp = irp;
        if (cancelable && (startio_flags(device) & DOE_SIO_NO_CANCEL))
            IoSetCancelRoutine(irp, NULL);
    }
    if (cancelable)
        IoReleaseCancelSpinLock(cancel_irql);
    if (irp != NULL)
        startio_call(device, irp);
}

/* ---- Deferred StartIo ---- */

/* An IoStartNextPacket while StartIo runs: remembered (true), else StartIo now counts as running. */
static bool startio_defer(PDEVICE_OBJECT device, bool cancelable, bool by_key, ULONG key)
{
    struct io_startio *s = io_device_startio(device);
    bool deferred;

    KeAcquireSpinLockAtDpcLevel(&s->lock);
    deferred = s->depth > 0;
    if (deferred) {
        s->next_requested = true;
        s->next_cancelable = cancelable;
        s->next_by_key = by_key;
        s->next_key = key;
    } else {
        s->depth = 1;
    }
    KeReleaseSpinLockFromDpcLevel(&s->lock);
    return deferred;
}

static void startio_enter(PDEVICE_OBJECT device)
{
    struct io_startio *s = io_device_startio(device);

    KeAcquireSpinLockAtDpcLevel(&s->lock);
    s->depth++;
    KeReleaseSpinLockFromDpcLevel(&s->lock);
}

/* StartIo has returned: the last one out carries out what was deferred meanwhile, in turn. */
static void startio_leave(PDEVICE_OBJECT device)
{
    struct io_startio *s = io_device_startio(device);
    bool run, cancelable = false, by_key = false;
    ULONG key = 0;

    for (;;) {
        KeAcquireSpinLockAtDpcLevel(&s->lock);
        run = s->depth == 1 && s->next_requested;
        if (run) {
            s->next_requested = false;
            cancelable = s->next_cancelable;
            by_key = s->next_by_key;
            key = s->next_key;
        } else {
            s->depth--;
        }
        KeReleaseSpinLockFromDpcLevel(&s->lock);
        if (!run)
            return;
        startio_next(device, cancelable, by_key, key);
    }
}

/* DISPATCH_LEVEL. IoStartNextPacket(ByKey)'s work, deferred while StartIo runs if the device asked. */
static void startio_request(PDEVICE_OBJECT device, bool cancelable, bool by_key, ULONG key)
{
    if (!(startio_flags(device) & DOE_SIO_DEFERRED)) {
        startio_next(device, cancelable, by_key, key);
        return;
    }
    if (startio_defer(device, cancelable, by_key, key))
        return;
    startio_next(device, cancelable, by_key, key);
    startio_leave(device);
}

/* ---- IoStartPacket ---- */

/* The queue was idle: irp is current and goes to StartIo at once. Cancel spin lock held if
 * cancelable (released here, before StartIo runs). */
static void startio_begin(PDEVICE_OBJECT device, PIRP irp, bool cancelable, KIRQL cancel_irql)
{
    bool deferred = (startio_flags(device) & DOE_SIO_DEFERRED) != 0;

    device->CurrentIrp = irp;
    if (cancelable) {
        if (startio_flags(device) & DOE_SIO_NO_CANCEL)
            IoSetCancelRoutine(irp, NULL);
        IoReleaseCancelSpinLock(cancel_irql);
    }
    if (deferred)
        startio_enter(device);
    startio_call(device, irp);
    if (deferred)
        startio_leave(device);
}

/* The IRP was queued, cancel spin lock held: cancelled already (IoCancelIrp found no routine to
 * call then), it goes to its cancel routine now, which releases the lock. */
static void startio_queued(PDEVICE_OBJECT device, PIRP irp, PDRIVER_CANCEL cancel, KIRQL cancel_irql)
{
    if (!irp->Cancel) {
        IoReleaseCancelSpinLock(cancel_irql);
        return;
    }
    irp->CancelIrql = cancel_irql;
    IoSetCancelRoutine(irp, NULL);
    cancel(device, irp);
}

/* IRQL <= DISPATCH_LEVEL. Starts the IRP at once if the device is idle (StartIo runs in this
 * call, at DISPATCH_LEVEL), else queues it (by *Key if given) for IoStartNextPacket. */
VOID NTAPI IoStartPacket(PDEVICE_OBJECT DeviceObject, PIRP Irp, PULONG Key, PDRIVER_CANCEL CancelFunction)
{
    PKDEVICE_QUEUE_ENTRY entry = &Irp->Tail.Overlay.DeviceQueueEntry;
    KIRQL old, cancel_irql = DISPATCH_LEVEL;
    BOOLEAN queued;

    rule_check_irql(RULE_IO_START_PACKET_ABOVE_DISPATCH, irql_current(), (ULONG_PTR)DeviceObject,
                    (ULONG_PTR)Irp, 0);
    startio_check_device(DeviceObject);
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    if (CancelFunction != NULL) {
        IoAcquireCancelSpinLock(&cancel_irql);
        IoSetCancelRoutine(Irp, CancelFunction);
    }
    queued = Key != NULL ? KeInsertByKeyDeviceQueue(&DeviceObject->DeviceQueue, entry, *Key)
                         : KeInsertDeviceQueue(&DeviceObject->DeviceQueue, entry);
    if (!queued)
        startio_begin(DeviceObject, Irp, CancelFunction != NULL, cancel_irql);
    else if (CancelFunction != NULL)
        startio_queued(DeviceObject, Irp, CancelFunction, cancel_irql);
    KeLowerIrql(old);
}

/* DISPATCH_LEVEL. The current packet is done: the next one becomes current and goes to StartIo,
 * or, with none, the device is idle. Cancelable: packets were started with a cancel routine. */
VOID NTAPI IoStartNextPacket(PDEVICE_OBJECT DeviceObject, BOOLEAN Cancelable)
{
    rule_check_irql(RULE_DEVQUEUE_NOT_AT_DISPATCH, irql_current(), (ULONG_PTR)DeviceObject, 0, 0);
    startio_check_device(DeviceObject);
    startio_request(DeviceObject, Cancelable, false, 0);
}

/* IRQL <= DISPATCH_LEVEL. As IoStartNextPacket, but the next packet is the first with a key of at
 * least Key, else the first. */
VOID NTAPI IoStartNextPacketByKey(PDEVICE_OBJECT DeviceObject, BOOLEAN Cancelable, ULONG Key)
{
    KIRQL old;

    rule_check_irql(RULE_IO_START_PACKET_ABOVE_DISPATCH, irql_current(), (ULONG_PTR)DeviceObject, 0, 0);
    startio_check_device(DeviceObject);
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    startio_request(DeviceObject, Cancelable, true, Key);
    KeLowerIrql(old);
}

/* IRQL <= DISPATCH_LEVEL. Deferred: StartIo is never called inside StartIo. NonCancelable: the
 * cancel routine is cleared as a packet becomes current. Attributes only add up, as on Windows. */
VOID NTAPI IoSetStartIoAttributes(PDEVICE_OBJECT DeviceObject, BOOLEAN DeferredStartIo, BOOLEAN NonCancelable)
{
    ULONG flags = (DeferredStartIo ? DOE_SIO_DEFERRED : 0) | (NonCancelable ? DOE_SIO_NO_CANCEL : 0);

    rule_check_irql(RULE_IO_START_PACKET_ABOVE_DISPATCH, irql_current(), (ULONG_PTR)DeviceObject, 0, 0);
    if (DeviceObject == NULL || DeviceObject->Type != IO_TYPE_DEVICE)
        rule_stop(RULE_IO_NOT_A_DEVICE, (ULONG_PTR)DeviceObject, 0, 0, 0);
    __atomic_fetch_or(&io_device_startio(DeviceObject)->flags, flags, __ATOMIC_RELEASE);
}
