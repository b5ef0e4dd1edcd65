/*
 * dpc.c - DPCs: one queue, drained in order by one simulated DPC thread ("dpc", System process)
 * at DISPATCH_LEVEL: a DPC never runs concurrently with itself. Each queued DPC is marked with the
 * processor it is queued to (its DpcData points at that processor's mark, as Windows' points at
 * the processor's DPC data): its target (KeSetTargetProcessorDpc), else the processor of the
 * thread that queues it (a timer's DPC: the thread that expires the timer); the routine runs on
 * that processor (KeGetCurrentProcessorNumber). One queue still serves them all, in order.
 * The DPC thread idles in a dispatcher wait, so it counts as blocked when there is no work.
 * Locking: the queue, each KDPC's queued mark (DpcData) and the running flag, under the
 * dispatcher lock; the routine itself runs without it. dpc_queued_count mirrors the queue's length
 * for pool frees, which look at the queue only when some DPC is queued.
 */
#include <stdatomic.h>
#include <stdlib.h>

#include "internal.h"
#include "timeline.h"

#define DPC_OBJECT_TYPE 0x13     /* DpcObject, as NT marks a KDPC */
#define DPC_MEDIUM_IMPORTANCE 1
/* KDPC.Number: the creator's driver index in the low 12 bits (driver.c keeps indexes below 4096,
 * for this), the target processor + 1 above them (0: whichever processor queues it). */
#define DPC_DRIVER_BITS 12
#define DPC_DRIVER_MASK ((1u << DPC_DRIVER_BITS) - 1)
/* The largest target the 4 bits hold: any processor number from 14 up, none of which exists. */
#define DPC_TARGET_NONE_SUCH 15u

static LIST_ENTRY dpc_queue;
static char dpc_processor_marks[PROCESSOR_COUNT];
static atomic_size_t dpc_queued_count;
static KEVENT dpc_work;          /* synchronization: there is work, or the thread must stop */
static KEVENT dpc_drained;       /* notification: the queue is empty and no DPC runs */
static struct _KTHREAD *dpc_thread;
static bool dpc_running;
static bool dpc_stopping;

USHORT dpc_driver_index(const KDPC *dpc)
{
    return dpc->Number & DPC_DRIVER_MASK;
}

static unsigned dpc_target(const KDPC *dpc)
{
    return dpc->Number >> DPC_DRIVER_BITS;
}

/* The processor a DPC is queued to now: its target, else the queuing thread's. */
static unsigned dpc_processor_for(const KDPC *dpc)
{
    struct _KTHREAD *self = thread_current_if_known();

    if (dpc_target(dpc) != 0)
        return dpc_target(dpc) - 1;
    return self != NULL ? processor_of(self) : 0;
}

void dpc_queue_locked(PKDPC dpc, PVOID argument1, PVOID argument2)
{
    if (dpc->DpcData != NULL)
        return;
    dpc->SystemArgument1 = argument1;
    dpc->SystemArgument2 = argument2;
    dpc->DpcData = &dpc_processor_marks[dpc_processor_for(dpc)];
    InsertTailList(&dpc_queue, &dpc->DpcListEntry);
    atomic_fetch_add(&dpc_queued_count, 1);
    dpc_drained.Header.SignalState = 0;
    event_signal_locked(&dpc_work);
}

/* Without the lock when nothing is queued, as timer_set_in_range. */
static bool dpc_queued_in_range(const void *start, size_t size, PKDPC *found)
{
    bool hit = false;

    if (atomic_load(&dpc_queued_count) == 0)
        return false;
    disp_lock();
    for (PLIST_ENTRY e = dpc_queue.Flink; e != &dpc_queue && !hit; e = e->Flink) {
        PKDPC dpc = CONTAINING_RECORD(e, KDPC, DpcListEntry);

        if ((const char *)dpc >= (const char *)start && (const char *)dpc < (const char *)start + size) {
            *found = dpc;
            hit = true;
        }
    }
    disp_unlock();
    return hit;
}

/* Freed memory must hold no queued DPC: the DPC thread would run it from garbage. */
static void dpc_check_free(ULONG_PTR address, size_t size, POOL_TYPE type)
{
    PKDPC dpc;

    (void)type;
    if (dpc_queued_in_range((const void *)address, size, &dpc))
        rule_stop_detail(RULE_POOL_FREE_QUEUED_DPC, (ULONG_PTR)dpc, address, address + size, 0,
                         "the DPC at %p is still queued", (void *)dpc);
}

static struct pool_free_check dpc_free_check = { .check = dpc_check_free, .watched = &dpc_queued_count };
POOL_FREE_CHECK(dpc_free_check)

/* The unload check's inventory of queued DPCs. */
static void dpc_collect_leftovers(struct driver_check *check)
{
    disp_lock();
    for (PLIST_ENTRY e = dpc_queue.Flink; e != &dpc_queue; e = e->Flink) {
        PKDPC dpc = CONTAINING_RECORD(e, KDPC, DpcListEntry);

        if (driver_check_owns(check, dpc_driver_index(dpc), dpc))
            driver_check_pending(check, "DPC", dpc, (const void *)dpc->DeferredRoutine, "still queued");
    }
    disp_unlock();
}

static struct driver_inventory dpc_inventory = {
    .order = DRIVER_INVENTORY_QUEUED,
    .collect = dpc_collect_leftovers,
};
DRIVER_INVENTORY(dpc_inventory)

/* One run of a DPC, copied from the KDPC under the lock as it is dequeued: from then on the KDPC may
 * be queued again, with new arguments, while this run goes on (NT's retire loop copies them too). */
struct dpc_call {
    PKDPC dpc;
    PKDEFERRED_ROUTINE routine;
    PVOID context;
    PVOID argument1;
    PVOID argument2;
    const struct sim_driver *driver;    /* the routine's driver: what it allocates is charged to it */
    unsigned processor;                 /* where it was queued, and so runs */
};

static void dpc_run(struct _KTHREAD *self, const struct dpc_call *call)
{
    timeline_irql(self->irql, DISPATCH_LEVEL);
    self->irql = DISPATCH_LEVEL;
    self->in_dpc = true;
    processor_run_on(self, call->processor);
    thread_charge(self, call->driver);
    if (call->routine == NULL)
        rule_stop_null_argument("a queued DPC", "its DeferredRoutine", 0, RULE_RUNS, call->dpc,
                                "Give KeInitializeDpc the routine before queueing the DPC or setting a "
                                "timer with it.");
    timeline_routine(TIMELINE_DPC, (const void *)call->routine, call->dpc, 0, true);
    call->routine(call->dpc, call->context, call->argument1, call->argument2);
    timeline_routine(TIMELINE_DPC, (const void *)call->routine, call->dpc, 0, false);
    if (self->irql != DISPATCH_LEVEL)
        rule_stop_detail(RULE_DPC_CHANGED_IRQL, (ULONG_PTR)self->irql << 16 | DISPATCH_LEVEL << 8,
                         (ULONG_PTR)call->routine, (ULONG_PTR)call->dpc, 0,
                         "the DPC routine at %p returned at %s", (void *)call->routine,
                         irql_name(self->irql));
    thread_charge(self, NULL);
    self->in_dpc = false;
    timeline_irql(self->irql, PASSIVE_LEVEL);
    self->irql = PASSIVE_LEVEL;
}

/* Lock held on entry and exit: run every queued DPC, dropping the lock around each routine. */
static void dpc_drain_locked(struct _KTHREAD *self)
{
    while (!IsListEmpty(&dpc_queue)) {
        PKDPC dpc = CONTAINING_RECORD(RemoveHeadList(&dpc_queue), KDPC, DpcListEntry);
        struct dpc_call call = { dpc, dpc->DeferredRoutine, dpc->DeferredContext, dpc->SystemArgument1,
                                 dpc->SystemArgument2, driver_at(dpc_driver_index(dpc)),
                                 (unsigned)((const char *)dpc->DpcData - dpc_processor_marks) };

        dpc->DpcData = NULL;
        atomic_fetch_sub(&dpc_queued_count, 1);
        dpc_running = true;
        disp_unlock();
        dpc_run(self, &call);
        disp_lock();
        dpc_running = false;
    }
    event_signal_locked(&dpc_drained);
}

static void dpc_thread_main(void *unused)
{
    struct _KTHREAD *self = thread_current();

    (void)unused;
    for (;;) {
        KeWaitForSingleObject(&dpc_work, Executive, KernelMode, FALSE, NULL);
        disp_lock();
        if (dpc_stopping) {
            disp_unlock();
            return;
        }
        dpc_drain_locked(self);
        disp_unlock();
    }
}

void dpc_boot(void)
{
    InitializeListHead(&dpc_queue);
    atomic_store(&dpc_queued_count, 0);
    KeInitializeEvent(&dpc_work, SynchronizationEvent, FALSE);
    KeInitializeEvent(&dpc_drained, NotificationEvent, TRUE);
    dpc_running = false;
    dpc_stopping = false;
    dpc_thread = thread_new("dpc");
    dpc_thread->system = true;
    thread_spawn(dpc_thread, dpc_thread_main, NULL);
}

void dpc_shutdown(void)
{
    disp_lock();
    dpc_stopping = true;
    event_signal_locked(&dpc_work);
    disp_unlock();
    thread_join(dpc_thread);
}

/* Any IRQL. */
VOID NTAPI KeInitializeDpc(PRKDPC Dpc, PKDEFERRED_ROUTINE DeferredRoutine, PVOID DeferredContext)
{
    RULE_CHECK_ARGUMENT(Dpc, RULE_WRITES);
    Dpc->Type = DPC_OBJECT_TYPE;
    Dpc->Importance = DPC_MEDIUM_IMPORTANCE;
    /* Windows keeps only a target processor here; the simulator keeps the creator too, which the
     * routine runs charged to and which an unload looks for. */
    Dpc->Number = driver_index(thread_current()->driver) & DPC_DRIVER_MASK;
    /* As Windows, DpcListEntry and the system arguments keep whatever they held: DpcData alone
     * says whether the DPC is queued, and an insert writes the arguments. */
    Dpc->DeferredRoutine = DeferredRoutine;
    Dpc->DeferredContext = DeferredContext;
    Dpc->DpcData = NULL;
}

/* Any IRQL. The processor the DPC is queued to from now on (Windows checks nothing here: a number
 * with no processor faults when the DPC is queued). */
VOID NTAPI KeSetTargetProcessorDpc(PRKDPC Dpc, CCHAR Number)
{
    unsigned target = (unsigned)(UCHAR)Number + 1;

    if (target > DPC_TARGET_NONE_SUCH)
        target = DPC_TARGET_NONE_SUCH;
    Dpc->Number = (USHORT)((Dpc->Number & DPC_DRIVER_MASK) | target << DPC_DRIVER_BITS);
}

/* Any IRQL. FALSE, with nothing changed, if the DPC is already queued. */
BOOLEAN NTAPI KeInsertQueueDpc(PRKDPC Dpc, PVOID SystemArgument1, PVOID SystemArgument2)
{
    BOOLEAN queued;

    RULE_CHECK_ARGUMENT(Dpc, RULE_WRITES);
    if (dpc_target(Dpc) > PROCESSOR_COUNT)
        rule_stop_detail(RULE_DPC_TARGET_NOT_A_PROCESSOR, (ULONG_PTR)Dpc, dpc_target(Dpc) - 1, 0, 0,
                         "the DPC at %p targets processor %u%s; the machine has %u (0 to %u)", (void *)Dpc,
                         dpc_target(Dpc) - 1, dpc_target(Dpc) == DPC_TARGET_NONE_SUCH ? " or above" : "",
                         PROCESSOR_COUNT, PROCESSOR_COUNT - 1);

    disp_lock();
    queued = Dpc->DpcData == NULL;
    dpc_queue_locked(Dpc, SystemArgument1, SystemArgument2);
    disp_unlock();
    return queued;
}

/* Any IRQL. TRUE if the DPC was queued and is now removed before it ran. */
BOOLEAN NTAPI KeRemoveQueueDpc(PRKDPC Dpc)
{
    BOOLEAN removed;

    RULE_CHECK_ARGUMENT(Dpc, RULE_WRITES);
    disp_lock();
    removed = Dpc->DpcData != NULL;
    if (removed) {
        RemoveEntryList(&Dpc->DpcListEntry);
        Dpc->DpcData = NULL;
        atomic_fetch_sub(&dpc_queued_count, 1);
    }
    disp_unlock();
    return removed;
}

/* PASSIVE_LEVEL. Returns once every DPC queued before the call has run. */
VOID NTAPI KeFlushQueuedDpcs(VOID)
{
    rule_check_irql(RULE_PS_NOT_PASSIVE, irql_current(), 0, 0, 0);
    KeWaitForSingleObject(&dpc_drained, Executive, KernelMode, FALSE, NULL);
}
