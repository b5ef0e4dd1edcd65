/*
 * workitem.c - ExQueueWorkItem on a small pool of system worker threads ("worker-0" ...), which
 * take items from one FIFO queue and run each routine at PASSIVE_LEVEL, charged to the driver that
 * queued it. Like the DPC thread, an idle worker waits in the dispatcher, so it counts as blocked.
 * Locking: the queue, under the dispatcher lock; routines run without it.
 */
#include <stdint.h>
#include <stdio.h>

#include "internal.h"
#include "timeline.h"

#define WORKER_THREADS 2
/* How long an unload waits for a worker returning from one of the driver's routines. */
#define WORKITEM_UNLOAD_WAIT_MS 5000

/*
 * While an item is queued the kernel owns its List, as NT's queue does: List.Flink links to the
 * next queued item (the last one points to work_end, so it is never NULL) and List.Blink carries
 * the driver that queued it. ExInitializeWorkItem sets Flink to NULL and a worker sets it back to
 * NULL when it takes the item, before the routine runs: a non-NULL Flink means "queued".
 */
static LIST_ENTRY work_end;
static PLIST_ENTRY work_head;
static PLIST_ENTRY *work_tail;
static KEVENT work_ready;        /* synchronization: an item was queued */
static KEVENT work_stop;         /* notification: the workers must end */
static struct _KTHREAD *workers[WORKER_THREADS];

static void workitem_enqueue_locked(PWORK_QUEUE_ITEM item, const struct sim_driver *driver)
{
    item->List.Flink = &work_end;
    item->List.Blink = (PLIST_ENTRY)(uintptr_t)driver;
    *work_tail = &item->List;
    work_tail = &item->List.Flink;
    event_signal_locked(&work_ready);
}

/* Lock held: the oldest queued item, now no longer queued; NULL when there is none or the workers
 * are stopping. */
static PWORK_QUEUE_ITEM workitem_dequeue_locked(const struct sim_driver **driver)
{
    PLIST_ENTRY entry = work_head;

    if (entry == &work_end || work_stop.Header.SignalState != 0)
        return NULL;
    work_head = entry->Flink;
    if (work_head == &work_end)
        work_tail = &work_head;
    *driver = (const struct sim_driver *)(uintptr_t)entry->Blink;
    entry->Flink = entry->Blink = NULL;
    return CONTAINING_RECORD(entry, WORK_QUEUE_ITEM, List);
}

/* The unload check's inventory of queued work items: the queuing driver's (List.Blink), or in its
 * memory. */
static void workitem_collect_leftovers(struct driver_check *check)
{
    disp_lock();
    for (PLIST_ENTRY entry = work_head; entry != &work_end; entry = entry->Flink) {
        PWORK_QUEUE_ITEM item = CONTAINING_RECORD(entry, WORK_QUEUE_ITEM, List);
        const struct sim_driver *driver = (const struct sim_driver *)(uintptr_t)entry->Blink;

        if (driver_check_owns(check, driver_index(driver), item))
            driver_check_pending(check, "work item", item, (const void *)item->WorkerRoutine, "still queued");
    }
    disp_unlock();
}

/* A worker still running (not waiting in) a routine of the driver: most often on its way back
 * from setting the event the driver's Unload waited for. */
static bool workitem_worker_returning(const struct driver_check *check)
{
    bool returning = false;

    disp_lock();
    for (int i = 0; i < WORKER_THREADS; i++)
        returning |= thread_charged(workers[i]) == driver_check_driver(check) && !workers[i]->wait.waiting;
    disp_unlock();
    return returning;
}

/* Such a worker may finish first, as the unload's one tick of delay lets it on the virtual clock;
 * on the real clock that tick does not wait for it, so this does, for up to
 * WORKITEM_UNLOAD_WAIT_MS of the clock. One still running then is reported with the threads. */
static void workitem_settle(const struct driver_check *check)
{
    LARGE_INTEGER one_ms = { .QuadPart = -10000 };

    for (int waited = 0; waited < WORKITEM_UNLOAD_WAIT_MS && workitem_worker_returning(check); waited++)
        KeDelayExecutionThread(KernelMode, FALSE, &one_ms);
}

static struct driver_inventory workitem_inventory = {
    .order = DRIVER_INVENTORY_QUEUED,
    .settle = workitem_settle,
    .collect = workitem_collect_leftovers,
};
DRIVER_INVENTORY(workitem_inventory)

/* Lock held: the mutexes and fast mutexes the calling worker still holds. */
static unsigned workitem_locks_held_locked(const struct _KTHREAD *self)
{
    unsigned held = self->fast_mutexes_held;

    for (const LIST_ENTRY *e = self->mutants_owned.Flink; e != &self->mutants_owned; e = e->Flink)
        held++;
    return held;
}

/* The checks Windows makes when a worker routine returns. A fast mutex also leaves the IRQL at
 * APC_LEVEL; the held lock is checked first because it is the cause the report should name. */
static void workitem_check_return(struct _KTHREAD *self, PWORK_QUEUE_ITEM item,
                                  PWORKER_THREAD_ROUTINE routine, PVOID parameter)
{
    unsigned held;

    disp_lock();
    held = workitem_locks_held_locked(self);
    disp_unlock();
    /* P3 is the thread's APC-disable count as Windows reports it: one decrement per held lock. */
    if (held != 0)
        rule_stop_detail(RULE_WORKER_RETURNED_WITH_APCS_DISABLED, (ULONG_PTR)routine, 0,
                         region_combined_apc_disable(self, held), 1,
                         "the work item routine at %p returned holding %u mutex(es) or fast mutex(es)",
                         (void *)routine, held);
    if (self->critical_regions != 0 || self->guarded_regions != 0)
        rule_stop_detail(RULE_WORKER_RETURNED_WITH_APCS_DISABLED, (ULONG_PTR)routine, 0,
                         region_combined_apc_disable(self, 0), 1,
                         "the work item routine at %p returned inside %u critical and %u guarded region(s)",
                         (void *)routine, self->critical_regions, self->guarded_regions);
    if (self->irql != PASSIVE_LEVEL)
        rule_stop_detail(RULE_WORKER_RETURNED_AT_BAD_IRQL, (ULONG_PTR)routine, self->irql,
                         (ULONG_PTR)parameter, (ULONG_PTR)item,
                         "the work item routine at %p returned at %s", (void *)routine,
                         irql_name(self->irql));
}

/* The item is no longer queued: the routine may free it or queue it again, so only the copies
 * taken here are used afterwards (the item's address is only reported, never read). An item of the
 * I/O manager (driver NULL) leaves the thread's driver alone: an unload may be reading it as soon
 * as the routine has let its device go. */
static void workitem_run(struct _KTHREAD *self, PWORK_QUEUE_ITEM item, const struct sim_driver *driver)
{
    PWORKER_THREAD_ROUTINE routine = item->WorkerRoutine;
    PVOID parameter = item->Parameter;

    if (driver != NULL)
        thread_charge(self, driver);
    timeline_routine(TIMELINE_WORK_ITEM, driver ? (const void *)routine : NULL, item, 0, true);
    routine(parameter);
    timeline_routine(TIMELINE_WORK_ITEM, driver ? (const void *)routine : NULL, item, 0, false);
    workitem_check_return(self, item, routine, parameter);
    if (driver != NULL)
        thread_charge(self, NULL);
}

static void workitem_thread_main(void *unused)
{
    struct _KTHREAD *self = thread_current();
    PVOID events[2] = { &work_ready, &work_stop };
    const struct sim_driver *driver;
    PWORK_QUEUE_ITEM item;

    (void)unused;
    while (KeWaitForMultipleObjects(2, events, WaitAny, Executive, KernelMode, FALSE, NULL, NULL) ==
           STATUS_WAIT_0) {
        disp_lock();
        while ((item = workitem_dequeue_locked(&driver)) != NULL) {
            disp_unlock();
            workitem_run(self, item, driver);
            disp_lock();
        }
        disp_unlock();
    }
}

void workitem_boot(void)
{
    char name[16];

    work_head = &work_end;
    work_tail = &work_head;
    KeInitializeEvent(&work_ready, SynchronizationEvent, FALSE);
    KeInitializeEvent(&work_stop, NotificationEvent, FALSE);
    for (int i = 0; i < WORKER_THREADS; i++) {
        snprintf(name, sizeof name, "worker-%d", i);
        workers[i] = thread_new(name);
        workers[i]->system = true;
        workers[i]->worker = true;
        thread_spawn(workers[i], workitem_thread_main, NULL);
    }
}

/* Items still queued are dropped: their routines never run, as after a real shutdown. */
void workitem_shutdown(void)
{
    disp_lock();
    event_signal_locked(&work_stop);
    disp_unlock();
    for (int i = 0; i < WORKER_THREADS; i++)
        thread_join(workers[i]);
}

static void workitem_queue(PWORK_QUEUE_ITEM WorkItem, WORK_QUEUE_TYPE QueueType, const struct sim_driver *driver)
{
    disp_lock();
    if (WorkItem->List.Flink != NULL)
        rule_stop_detail(RULE_WORK_ITEM_QUEUED_TWICE, (ULONG_PTR)WorkItem, (ULONG_PTR)QueueType, 0, 0,
                         "the work item at %p (routine %p) is queued and has not started yet",
                         (void *)WorkItem, (void *)WorkItem->WorkerRoutine);
    workitem_enqueue_locked(WorkItem, driver);
    disp_unlock();
}

void workitem_queue_for_io(PWORK_QUEUE_ITEM item, WORK_QUEUE_TYPE type)
{
    workitem_queue(item, type, NULL);
}

/* IRQL <= DISPATCH_LEVEL. The routine runs later on a worker thread at PASSIVE_LEVEL. */
VOID NTAPI ExQueueWorkItem(PWORK_QUEUE_ITEM WorkItem, WORK_QUEUE_TYPE QueueType)
{
    struct _KTHREAD *self = thread_current();

    rule_check_irql(RULE_KE_ABOVE_DISPATCH, self->irql, (ULONG_PTR)WorkItem, (ULONG_PTR)QueueType, 0);
    RULE_CHECK_ARGUMENT(WorkItem, RULE_WRITES);
    workitem_queue(WorkItem, QueueType, self->driver);
}
