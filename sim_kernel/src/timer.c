/*
 * timer.c - KTIMER. Set timers wait in one queue ordered by due time (interrupt time). Expiry
 * signals the timer (a notification timer releases every waiter, a synchronization timer one),
 * queues its DPC if it has one, and re-arms a periodic timer. A timer set in the past fires at once.
 * Locking: the queue and every timer field, under the dispatcher lock. timer_set_count mirrors the
 * queue's length for pool frees, which look at the queue only when some timer is set.
 */
#include <stdatomic.h>

#include "internal.h"

#define TIMER_TICKS_PER_MS 10000LL

static LIST_ENTRY timer_queue;
static atomic_size_t timer_set_count;

void timer_boot(void)
{
    InitializeListHead(&timer_queue);
    atomic_store(&timer_set_count, 0);
}

static PKTIMER timer_of(PLIST_ENTRY entry)
{
    return CONTAINING_RECORD(entry, KTIMER, TimerListEntry);
}

static void timer_check(PKTIMER timer)
{
    disp_check_object(&timer->Header);
    if (timer->Header.Type != DISP_TIMER_NOTIFICATION && timer->Header.Type != DISP_TIMER_SYNCHRONIZATION)
        rule_stop_detail(RULE_DISPATCHER_UNINITIALIZED, (ULONG_PTR)timer, 0, 0, 0,
                         "the object at %p is a dispatcher object of type %u, not a timer",
                         (void *)timer, timer->Header.Type);
}

static void timer_insert(PKTIMER timer)
{
    PLIST_ENTRY e = timer_queue.Flink;

    while (e != &timer_queue && timer_of(e)->DueTime.QuadPart <= timer->DueTime.QuadPart)
        e = e->Flink;
    InsertTailList(e, &timer->TimerListEntry);
    timer->Header.Inserted = TRUE;
    atomic_fetch_add(&timer_set_count, 1);
    sched_deadline_added();
}

static void timer_remove(PKTIMER timer)
{
    RemoveEntryList(&timer->TimerListEntry);
    timer->Header.Inserted = FALSE;
    atomic_fetch_sub(&timer_set_count, 1);
}

static void timer_fire(PKTIMER timer)
{
    timer_remove(timer);
    timer->Header.SignalState = 1;
    disp_wait_test(&timer->Header);
    if (timer->Period != 0) {
        timer->DueTime.QuadPart += (LONGLONG)timer->Period * TIMER_TICKS_PER_MS;
        timer_insert(timer);
    }
    if (timer->Dpc != NULL)
        dpc_queue_locked(timer->Dpc, NULL, NULL);
}

LONGLONG timer_next_due(void)
{
    return IsListEmpty(&timer_queue) ? DISP_NO_DEADLINE : (LONGLONG)timer_of(timer_queue.Flink)->DueTime.QuadPart;
}

void timer_expire(LONGLONG now)
{
    while (!IsListEmpty(&timer_queue) && (LONGLONG)timer_of(timer_queue.Flink)->DueTime.QuadPart <= now)
        timer_fire(timer_of(timer_queue.Flink));
}

/* Without the lock when no timer is set, so frees do not queue on the dispatcher lock: a timer
 * set before the free, in this thread or one it synchronised with, is counted by then. */
static bool timer_set_in_range(const void *start, size_t size, PKTIMER *found)
{
    bool hit = false;

    if (atomic_load(&timer_set_count) == 0)
        return false;
    disp_lock();
    for (PLIST_ENTRY e = timer_queue.Flink; e != &timer_queue && !hit; e = e->Flink) {
        const char *at = (const char *)timer_of(e);

        if (at >= (const char *)start && at < (const char *)start + size) {
            *found = timer_of(e);
            hit = true;
        }
    }
    disp_unlock();
    return hit;
}

/* Freed memory must hold no set timer: it would fire into garbage. */
static void timer_check_free(ULONG_PTR address, size_t size, POOL_TYPE type)
{
    PKTIMER timer;

    if (timer_set_in_range((const void *)address, size, &timer))
        rule_stop_detail(RULE_POOL_FREE_ACTIVE_TIMER, (ULONG_PTR)timer, (ULONG_PTR)type, address, 0,
                         "the timer at %p is still set", (void *)timer);
}

static struct pool_free_check timer_free_check = { .check = timer_check_free, .watched = &timer_set_count };
POOL_FREE_CHECK(timer_free_check)

/* Dispatcher lock held: a set timer is the driver's when it or its DPC is. */
static void timer_check_leftover_locked(struct driver_check *check, PKTIMER timer)
{
    PKDPC dpc = timer->Dpc;
    LONGLONG due_ms;

    if (!driver_check_owns(check, (USHORT)timer->Processor, timer) &&
        (dpc == NULL || !driver_check_owns(check, dpc_driver_index(dpc), dpc)))
        return;
    due_ms = ((LONGLONG)timer->DueTime.QuadPart - clock_since_boot()) / 10000;
    if (timer->Period != 0)
        driver_check_pending(check, "timer", timer, dpc ? (const void *)dpc->DeferredRoutine : NULL,
                             "still set: due in %lld ms, then every %u ms, DPC %p", due_ms,
                             (unsigned)timer->Period, (void *)dpc);
    else
        driver_check_pending(check, "timer", timer, dpc ? (const void *)dpc->DeferredRoutine : NULL,
                             "still set: due in %lld ms, DPC %p", due_ms, (void *)dpc);
}

/* The unload check's inventory of set timers. */
static void timer_collect_leftovers(struct driver_check *check)
{
    disp_lock();
    for (PLIST_ENTRY e = timer_queue.Flink; e != &timer_queue; e = e->Flink)
        timer_check_leftover_locked(check, timer_of(e));
    disp_unlock();
}

static struct driver_inventory timer_inventory = {
    .order = DRIVER_INVENTORY_QUEUED,
    .collect = timer_collect_leftovers,
};
DRIVER_INVENTORY(timer_inventory)

/* Lock held: whether timer is in the queue. Found by address, not by Header.Inserted, since a
 * timer being initialised may be garbage. */
static bool timer_queued_locked(PKTIMER timer)
{
    disp_assert_held();
    if (atomic_load(&timer_set_count) == 0)
        return false;
    for (PLIST_ENTRY e = timer_queue.Flink; e != &timer_queue; e = e->Flink)
        if (timer_of(e) == timer)
            return true;
    return false;
}

/* IRQL <= DISPATCH_LEVEL. Windows' initialisation leaves the timer table alone: a timer still set
 * stays queued, and its expiry, when due, signals it and queues the DPC it was set with. Only the
 * period is forgotten. */
VOID NTAPI KeInitializeTimerEx(PKTIMER Timer, TIMER_TYPE Type)
{
    bool queued;

    rule_check_irql(RULE_KE_ABOVE_DISPATCH, irql_current(), (ULONG_PTR)Timer, 0, 0);
    RULE_CHECK_ARGUMENT(Timer, RULE_WRITES);
    disp_lock();
    queued = timer_queued_locked(Timer);
    disp_init_header(&Timer->Header,
                     Type == SynchronizationTimer ? DISP_TIMER_SYNCHRONIZATION : DISP_TIMER_NOTIFICATION,
                     sizeof *Timer, 0);
    Timer->Header.Inserted = queued;
    if (!queued) {
        Timer->DueTime.QuadPart = 0;
        Timer->TimerListEntry.Flink = Timer->TimerListEntry.Blink = NULL;
        Timer->Dpc = NULL;
    }
    /* Windows keeps the timer's processor here; with one timer queue the simulator keeps the
     * creator instead, so an unload can find the timers a driver left set. */
    Timer->Processor = driver_index(thread_current()->driver);
    Timer->Period = 0;
    disp_unlock();
}

/* IRQL <= DISPATCH_LEVEL. */
VOID NTAPI KeInitializeTimer(PKTIMER Timer)
{
    RULE_CHECK_ARGUMENT(Timer, RULE_WRITES);
    KeInitializeTimerEx(Timer, NotificationTimer);
}

/* IRQL <= DISPATCH_LEVEL. Period in milliseconds (0: once). TRUE if the timer was already set. */
BOOLEAN NTAPI KeSetTimerEx(PKTIMER Timer, LARGE_INTEGER DueTime, LONG Period, PKDPC Dpc)
{
    BOOLEAN was_set;

    rule_check_irql(RULE_KE_ABOVE_DISPATCH, irql_current(), (ULONG_PTR)Timer, 0, 0);
    RULE_CHECK_ARGUMENT(Timer, RULE_WRITES);
    disp_lock();
    timer_check(Timer);
    was_set = Timer->Header.Inserted;
    if (was_set)
        timer_remove(Timer);
    Timer->Header.SignalState = 0;
    Timer->DueTime.QuadPart = (ULONGLONG)disp_deadline(&DueTime);
    Timer->Period = Period > 0 ? (ULONG)Period : 0;
    Timer->Dpc = Dpc;
    timer_insert(Timer);
    timer_expire(clock_since_boot());
    disp_unlock();
    return was_set;
}

/* IRQL <= DISPATCH_LEVEL. TRUE if the timer was already set. */
BOOLEAN NTAPI KeSetTimer(PKTIMER Timer, LARGE_INTEGER DueTime, PKDPC Dpc)
{
    RULE_CHECK_ARGUMENT(Timer, RULE_WRITES);
    return KeSetTimerEx(Timer, DueTime, 0, Dpc);
}

/* IRQL <= DISPATCH_LEVEL. TRUE if the timer was set; a DPC already queued still runs. */
BOOLEAN NTAPI KeCancelTimer(PKTIMER Timer)
{
    BOOLEAN was_set;

    rule_check_irql(RULE_KE_ABOVE_DISPATCH, irql_current(), (ULONG_PTR)Timer, 0, 0);
    RULE_CHECK_ARGUMENT(Timer, RULE_WRITES);
    disp_lock();
    timer_check(Timer);
    was_set = Timer->Header.Inserted;
    if (was_set)
        timer_remove(Timer);
    disp_unlock();
    return was_set;
}

/* IRQL <= DISPATCH_LEVEL. TRUE if signalled. */
BOOLEAN NTAPI KeReadStateTimer(PKTIMER Timer)
{
    BOOLEAN state;

    rule_check_irql(RULE_KE_ABOVE_DISPATCH, irql_current(), (ULONG_PTR)Timer, 0, 0);
    RULE_CHECK_ARGUMENT(Timer, RULE_READS);
    disp_lock();
    timer_check(Timer);
    state = Timer->Header.SignalState != 0;
    disp_unlock();
    return state;
}
