/*
 * iowork.c - IoAllocateWorkItem, IoQueueWorkItem, IoFreeWorkItem: a work item tied to a device,
 * on top of the system worker threads. While the item is queued and its routine runs, the I/O
 * manager holds a reference on the device, so the device (and its driver) outlives the routine, and
 * an unload waits for it; the routine runs charged to the device's driver, the rest of the item's
 * run to the I/O manager.
 * Locking: the item's queue state is workitem.c's, and its routine and context are set and read
 * under the same dispatcher lock.
 */
#include "internal.h"
#include "timeline.h"

/* How long an unload waits for IoQueueWorkItem items of the driver's devices to finish. */
#define IOWORK_UNLOAD_WAIT_MS 5000

/* The I/O manager's work item block: a pool dump shows "IoWk", charged to the allocating driver. */
#define IOWORK_TAG 'kWoI'

struct _IO_WORKITEM {
    WORK_QUEUE_ITEM item;           /* List.Flink is non-NULL exactly while the item is queued */
    PDEVICE_OBJECT device;
    PIO_WORKITEM_ROUTINE routine;
    PVOID context;
};

/* The routine may free the work item, so only the copies taken before it runs are used after. Once
 * it returns the thread runs no driver code: then the device is let go, and an unload waiting for
 * it may proceed. */
static VOID NTAPI iowork_run(PVOID parameter)
{
    struct _IO_WORKITEM *work = parameter;
    struct _KTHREAD *self = thread_current();
    PDEVICE_OBJECT device = work->device;
    PIO_WORKITEM_ROUTINE routine;
    PVOID context;

    disp_lock();
    routine = work->routine;
    context = work->context;
    disp_unlock();
    thread_charge(self, io_driver_of(device));
    timeline_routine(TIMELINE_WORK_ITEM, (const void *)routine, work, 0, true);
    routine(device, context);
    timeline_routine(TIMELINE_WORK_ITEM, (const void *)routine, work, 0, false);
    thread_charge(self, NULL);
    io_device_work_done(device);
}

/* IRQL <= DISPATCH_LEVEL. NULL when pool runs out. */
PIO_WORKITEM NTAPI IoAllocateWorkItem(PDEVICE_OBJECT DeviceObject)
{
    struct _IO_WORKITEM *work;

    rule_check_irql(RULE_IO_WORK_ITEM_ABOVE_DISPATCH, irql_current(), (ULONG_PTR)DeviceObject, 0, 0);
    RULE_CHECK_ARGUMENT(DeviceObject, RULE_READS);
    work = ExAllocatePoolWithTag(NonPagedPoolNx, sizeof *work, IOWORK_TAG);
    if (work == NULL)
        return NULL;
    ExInitializeWorkItem(&work->item, iowork_run, work);
    work->device = DeviceObject;
    work->routine = NULL;
    work->context = NULL;
    return work;
}

/* IRQL <= DISPATCH_LEVEL. The routine runs later on a worker thread at PASSIVE_LEVEL; the device
 * stays referenced until it returns. Queuing a queued item stops the machine (0xE4). */
VOID NTAPI IoQueueWorkItem(PIO_WORKITEM IoWorkItem, PIO_WORKITEM_ROUTINE WorkerRoutine, WORK_QUEUE_TYPE QueueType,
                           PVOID Context)
{
    rule_check_irql(RULE_IO_WORK_ITEM_ABOVE_DISPATCH, irql_current(), (ULONG_PTR)IoWorkItem,
                    (ULONG_PTR)WorkerRoutine, 0);
    RULE_CHECK_ARGUMENT(IoWorkItem, RULE_WRITES);
    RULE_CHECK_ARGUMENT(WorkerRoutine, RULE_RUNS);
    io_device_work_queued(IoWorkItem->device);
    /* Under the queue's lock: the item may be running (and just re-queued by its own routine). */
    disp_lock();
    IoWorkItem->routine = WorkerRoutine;
    IoWorkItem->context = Context;
    disp_unlock();
    workitem_queue_for_io(&IoWorkItem->item, QueueType);
}

/* IRQL <= DISPATCH_LEVEL. Only an item that is not queued: from its own routine, or once that ran. */
VOID NTAPI IoFreeWorkItem(PIO_WORKITEM IoWorkItem)
{
    bool queued;

    rule_check_irql(RULE_IO_WORK_ITEM_ABOVE_DISPATCH, irql_current(), (ULONG_PTR)IoWorkItem, 0, 0);
    RULE_CHECK_ARGUMENT(IoWorkItem, RULE_WRITES);
    disp_lock();
    queued = IoWorkItem->item.List.Flink != NULL;
    disp_unlock();
    if (queued)
        rule_stop_detail(RULE_IO_WORK_ITEM_FREED_QUEUED, (ULONG_PTR)IoWorkItem, (ULONG_PTR)IoWorkItem,
                         (ULONG_PTR)(IoWorkItem + 1), 0,
                         "the work item at %p (routine %p) is queued and its routine has not started",
                         (void *)IoWorkItem, (void *)IoWorkItem->routine);
    ExFreePoolWithTag(IoWorkItem, IOWORK_TAG);
}

/* Windows keeps a driver's image while an IoQueueWorkItem item of one of its devices is queued or
 * its routine runs (the item holds a device reference): an unload lets such items finish first,
 * for up to IOWORK_UNLOAD_WAIT_MS of the clock; one still there then is reported as the device's
 * reference. On the real clock this is what lets a routine return after setting the event Unload
 * waited for. */
static void iowork_settle(const struct driver_check *check)
{
    PDRIVER_OBJECT driver = driver_check_object(check);
    LARGE_INTEGER one_ms = { .QuadPart = -10000 };

    for (int waited = 0; waited < IOWORK_UNLOAD_WAIT_MS && io_driver_work_items(driver) > 0; waited++)
        KeDelayExecutionThread(KernelMode, FALSE, &one_ms);
}

static struct driver_inventory iowork_inventory = {
    .order = DRIVER_INVENTORY_OBJECTS,
    .settle = iowork_settle,
};
DRIVER_INVENTORY(iowork_inventory)
