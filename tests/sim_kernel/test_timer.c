/*
 * test_timer.c - KTIMER on the virtual clock: what KeSetTimer(Ex), KeCancelTimer and
 * KeReadStateTimer return, when timers fire and in what order, whom a notification or a
 * synchronization timer releases, periodic timers, timer DPCs, and the misuse that stops the machine.
 */
#include <stdatomic.h>
#include <stdlib.h>

#include <wdmsim/test.h>
#include "wdmsim_test_threads.h"

#define TICKS_PER_MS 10000LL
#define TICKS_PER_SECOND 10000000LL
#define PERIODS 4
#define TAG_TIMER 'rmiT'

static LONGLONG system_time(void)
{
    LARGE_INTEGER now;

    KeQuerySystemTime(&now);
    return now.QuadPart;
}

static LARGE_INTEGER relative(LONGLONG ticks)
{
    LARGE_INTEGER due = { .QuadPart = -ticks };

    return due;
}

static void delay(LONGLONG ticks)
{
    LARGE_INTEGER interval = relative(ticks);

    KeDelayExecutionThread(KernelMode, FALSE, &interval);
}

/* The whole observable state of a timer: its type, whether it is signalled, whether it is set
 * (in the timer queue), how many threads wait on it, and the caller's IRQL. */
static void check_timer(KTIMER *timer, TIMER_TYPE type, BOOLEAN signalled, BOOLEAN set, size_t waiters)
{
    size_t n = 0;

    assert_int_equal(timer->Header.Type, type == SynchronizationTimer ? 9 : 8);
    assert_int_equal(KeReadStateTimer(timer), signalled);
    assert_int_equal(timer->Header.Inserted, set);
    for (const LIST_ENTRY *e = timer->Header.WaitListHead.Flink; e != &timer->Header.WaitListHead; e = e->Flink)
        n++;
    assert_int_equal(n, waiters);
    assert_int_equal(KeGetCurrentIrql(), PASSIVE_LEVEL);
}

/* ---- Waiter threads ---- */

struct waiter {
    struct wdmsim_test_thread thread;
    KTIMER *timer;
    atomic_int status;
    atomic_int released;            /* 0 while waiting, then 1, 2 ... in the order of release */
};

static atomic_int release_count;

static void wait_for_timer(void *context)
{
    struct waiter *w = context;
    NTSTATUS status = KeWaitForSingleObject(w->timer, Executive, KernelMode, FALSE, NULL);

    atomic_store(&w->status, status);
    atomic_store(&w->released, atomic_fetch_add(&release_count, 1) + 1);
}

/* Queues count waiters on timer, each blocked before the next starts. */
static void start_waiters(struct waiter *waiters, size_t count, KTIMER *timer)
{
    atomic_store(&release_count, 0);
    for (size_t i = 0; i < count; i++) {
        waiters[i].timer = timer;
        atomic_store(&waiters[i].status, -1);
        atomic_store(&waiters[i].released, 0);
        wdmsim_test_thread_start(&waiters[i].thread, wait_for_timer, &waiters[i]);
        wdmsim_test_settle();
    }
}

/* ---- DPC recorder ---- */

struct dpc_record {
    atomic_int runs;
    atomic_int irql;
    atomic_int order;               /* set from a shared sequence when it runs */
    _Atomic(PVOID) context;
    _Atomic(PKTHREAD) thread;
    atomic_llong when[PERIODS + 1];
};

static atomic_int dpc_sequence;

static VOID NTAPI record_dpc(PKDPC dpc, PVOID context, PVOID argument1, PVOID argument2)
{
    struct dpc_record *r = context;
    int run = atomic_fetch_add(&r->runs, 1);

    (void)dpc;
    (void)argument1;
    (void)argument2;
    atomic_store(&r->irql, KeGetCurrentIrql());
    atomic_store(&r->context, context);
    atomic_store(&r->thread, KeGetCurrentThread());
    atomic_store(&r->order, atomic_fetch_add(&dpc_sequence, 1) + 1);
    if (run <= PERIODS)
        atomic_store(&r->when[run], system_time());
}

static void init_record(struct dpc_record *r)
{
    atomic_store(&r->runs, 0);
    atomic_store(&r->irql, -1);
    atomic_store(&r->order, 0);
    atomic_store(&r->context, NULL);
    atomic_store(&r->thread, NULL);
    for (int i = 0; i <= PERIODS; i++)
        atomic_store(&r->when[i], 0);
}

/* ---- Setting, reading and cancelling ---- */

static void KeInitializeTimer_makes_a_notification_timer_neither_set_nor_signalled(void **state)
{
    KTIMER timer, sync;

    (void)state;
    KeInitializeTimer(&timer);
    KeInitializeTimerEx(&sync, SynchronizationTimer);
    check_timer(&timer, NotificationTimer, FALSE, FALSE, 0);
    check_timer(&sync, SynchronizationTimer, FALSE, FALSE, 0);
}

static void KeSetTimer_returns_FALSE_for_an_idle_timer_and_TRUE_when_it_re_sets_a_set_one(void **state)
{
    KTIMER timer;

    (void)state;
    KeInitializeTimer(&timer);
    assert_false(KeSetTimer(&timer, relative(TICKS_PER_SECOND), NULL));
    check_timer(&timer, NotificationTimer, FALSE, TRUE, 0);
    assert_true(KeSetTimer(&timer, relative(2 * TICKS_PER_SECOND), NULL));
    check_timer(&timer, NotificationTimer, FALSE, TRUE, 0);
    assert_true(KeCancelTimer(&timer));
}

static void re_setting_a_timer_moves_its_due_time(void **state)
{
    KTIMER timer;
    LONGLONG start = system_time();

    (void)state;
    KeInitializeTimer(&timer);
    KeSetTimer(&timer, relative(TICKS_PER_SECOND), NULL);
    KeSetTimer(&timer, relative(5 * TICKS_PER_SECOND), NULL);
    assert_int_equal(KeWaitForSingleObject(&timer, Executive, KernelMode, FALSE, NULL), STATUS_SUCCESS);
    assert_int_equal(system_time() - start, 5 * TICKS_PER_SECOND);
}

static void KeReadStateTimer_is_FALSE_until_the_timer_fires_and_FALSE_again_once_it_is_re_set(void **state)
{
    KTIMER timer;

    (void)state;
    KeInitializeTimer(&timer);
    assert_false(KeReadStateTimer(&timer));
    KeSetTimer(&timer, relative(TICKS_PER_SECOND), NULL);
    check_timer(&timer, NotificationTimer, FALSE, TRUE, 0);
    delay(TICKS_PER_SECOND);
    check_timer(&timer, NotificationTimer, TRUE, FALSE, 0);
    assert_false(KeSetTimer(&timer, relative(TICKS_PER_SECOND), NULL));
    check_timer(&timer, NotificationTimer, FALSE, TRUE, 0);
    assert_true(KeCancelTimer(&timer));
}

static void KeCancelTimer_returns_TRUE_for_a_set_timer_and_it_then_never_fires(void **state)
{
    KTIMER timer;

    (void)state;
    KeInitializeTimer(&timer);
    KeSetTimer(&timer, relative(TICKS_PER_SECOND), NULL);
    assert_true(KeCancelTimer(&timer));
    check_timer(&timer, NotificationTimer, FALSE, FALSE, 0);
    delay(10 * TICKS_PER_SECOND);
    check_timer(&timer, NotificationTimer, FALSE, FALSE, 0);
}

static void KeCancelTimer_returns_FALSE_for_an_idle_or_already_fired_timer_and_keeps_its_state(void **state)
{
    KTIMER timer;

    (void)state;
    KeInitializeTimer(&timer);
    assert_false(KeCancelTimer(&timer));
    KeSetTimer(&timer, relative(TICKS_PER_SECOND), NULL);
    delay(TICKS_PER_SECOND);
    assert_false(KeCancelTimer(&timer));
    check_timer(&timer, NotificationTimer, TRUE, FALSE, 0);
}

/* ---- Firing ---- */

static void a_timer_fires_at_its_due_time_not_before(void **state)
{
    KTIMER timer;
    LONGLONG start = system_time();

    (void)state;
    KeInitializeTimer(&timer);
    KeSetTimer(&timer, relative(3 * TICKS_PER_SECOND), NULL);
    delay(3 * TICKS_PER_SECOND - 1);
    check_timer(&timer, NotificationTimer, FALSE, TRUE, 0);
    delay(1);
    check_timer(&timer, NotificationTimer, TRUE, FALSE, 0);
    assert_int_equal(system_time() - start, 3 * TICKS_PER_SECOND);
}

static void an_absolute_due_time_fires_at_that_system_time(void **state)
{
    KTIMER timer;
    LARGE_INTEGER due = { .QuadPart = system_time() + 90 * TICKS_PER_SECOND };

    (void)state;
    KeInitializeTimer(&timer);
    KeSetTimer(&timer, due, NULL);
    assert_int_equal(KeWaitForSingleObject(&timer, Executive, KernelMode, FALSE, NULL), STATUS_SUCCESS);
    assert_int_equal(system_time(), due.QuadPart);
}

static void a_timer_set_in_the_past_fires_at_once(void **state)
{
    KTIMER timer;
    LONGLONG start = system_time();
    LARGE_INTEGER past = { .QuadPart = start - TICKS_PER_SECOND };

    (void)state;
    KeInitializeTimer(&timer);
    assert_false(KeSetTimer(&timer, past, NULL));
    check_timer(&timer, NotificationTimer, TRUE, FALSE, 0);
    assert_int_equal(system_time(), start);
}

static void timers_fire_in_due_time_order_whatever_order_they_were_set_in(void **state)
{
    static const LONGLONG due[3] = { 3 * TICKS_PER_SECOND, 1 * TICKS_PER_SECOND, 2 * TICKS_PER_SECOND };
    static const int expected_order[3] = { 3, 1, 2 };
    KTIMER timers[3];
    KDPC dpcs[3];
    struct dpc_record records[3];
    LONGLONG start = system_time();

    (void)state;
    atomic_store(&dpc_sequence, 0);
    for (int i = 0; i < 3; i++) {
        init_record(&records[i]);
        KeInitializeTimer(&timers[i]);
        KeInitializeDpc(&dpcs[i], record_dpc, &records[i]);
        KeSetTimer(&timers[i], relative(due[i]), &dpcs[i]);
    }
    assert_int_equal(KeWaitForSingleObject(&timers[0], Executive, KernelMode, FALSE, NULL), STATUS_SUCCESS);
    KeFlushQueuedDpcs();
    for (int i = 0; i < 3; i++) {
        assert_int_equal(atomic_load(&records[i].runs), 1);
        assert_int_equal(atomic_load(&records[i].order), expected_order[i]);
        /* Time cannot pass while the DPC thread can run, so each DPC ran at its timer's due time. */
        assert_int_equal(atomic_load(&records[i].when[0]) - start, due[i]);
    }
}

static void a_notification_timer_releases_every_waiter_and_stays_signalled(void **state)
{
    KTIMER timer;
    struct waiter waiters[3];

    (void)state;
    KeInitializeTimer(&timer);
    KeSetTimer(&timer, relative(TICKS_PER_SECOND), NULL);
    start_waiters(waiters, 3, &timer);
    check_timer(&timer, NotificationTimer, FALSE, TRUE, 3);
    assert_int_equal(KeWaitForSingleObject(&timer, Executive, KernelMode, FALSE, NULL), STATUS_SUCCESS);
    wdmsim_test_settle();
    assert_int_equal(atomic_load(&release_count), 3);
    check_timer(&timer, NotificationTimer, TRUE, FALSE, 0);
    for (int i = 0; i < 3; i++) {
        wdmsim_test_thread_join(&waiters[i].thread);
        assert_int_equal(atomic_load(&waiters[i].status), STATUS_SUCCESS);
    }
}

static void a_synchronization_timer_releases_one_waiter_in_FIFO_order_and_resets(void **state)
{
    KTIMER timer;
    struct waiter waiters[2];

    (void)state;
    KeInitializeTimerEx(&timer, SynchronizationTimer);
    start_waiters(waiters, 2, &timer);
    for (int round = 0; round < 2; round++) {
        KeSetTimer(&timer, relative(TICKS_PER_SECOND), NULL);
        delay(2 * TICKS_PER_SECOND);
        check_timer(&timer, SynchronizationTimer, FALSE, FALSE, (size_t)(1 - round));
        for (int i = 0; i < 2; i++)
            assert_int_equal(atomic_load(&waiters[i].released), i <= round ? i + 1 : 0);
    }
    for (int i = 0; i < 2; i++) {
        wdmsim_test_thread_join(&waiters[i].thread);
        assert_int_equal(atomic_load(&waiters[i].status), STATUS_SUCCESS);
    }
}

static void a_synchronization_timer_with_no_waiter_stays_signalled_until_a_wait_takes_it(void **state)
{
    KTIMER timer;
    LARGE_INTEGER poll = { .QuadPart = 0 };

    (void)state;
    KeInitializeTimerEx(&timer, SynchronizationTimer);
    KeSetTimer(&timer, relative(TICKS_PER_SECOND), NULL);
    delay(TICKS_PER_SECOND);
    check_timer(&timer, SynchronizationTimer, TRUE, FALSE, 0);
    assert_int_equal(KeWaitForSingleObject(&timer, Executive, KernelMode, FALSE, &poll), STATUS_SUCCESS);
    check_timer(&timer, SynchronizationTimer, FALSE, FALSE, 0);
}

static void a_periodic_timer_fires_every_Period_milliseconds_of_simulated_time(void **state)
{
    KTIMER timer;
    KDPC dpc;
    struct dpc_record record;
    LONGLONG start = system_time();
    const LONGLONG first = 100 * TICKS_PER_MS, period = 250 * TICKS_PER_MS;

    (void)state;
    init_record(&record);
    KeInitializeTimerEx(&timer, SynchronizationTimer);
    KeInitializeDpc(&dpc, record_dpc, &record);
    assert_false(KeSetTimerEx(&timer, relative(first), 250, &dpc));
    for (int i = 0; i < PERIODS; i++) {
        assert_int_equal(KeWaitForSingleObject(&timer, Executive, KernelMode, FALSE, NULL), STATUS_SUCCESS);
        assert_int_equal(system_time() - start, first + i * period);
        /* Re-armed as it fired: still set, and the wait took the signal. */
        check_timer(&timer, SynchronizationTimer, FALSE, TRUE, 0);
    }
    /* A periodic timer is always in the queue, so cancelling it returns TRUE. */
    assert_true(KeCancelTimer(&timer));
    KeFlushQueuedDpcs();
    assert_int_equal(atomic_load(&record.runs), PERIODS);
    for (int i = 0; i < PERIODS; i++)
        assert_int_equal(atomic_load(&record.when[i]) - start, first + i * period);
    delay(TICKS_PER_SECOND);
    assert_int_equal(atomic_load(&record.runs), PERIODS);
}

static void a_timer_DPC_runs_at_DISPATCH_LEVEL_with_its_DeferredContext_on_another_thread(void **state)
{
    KTIMER timer;
    KDPC dpc;
    struct dpc_record record;

    (void)state;
    init_record(&record);
    KeInitializeTimer(&timer);
    KeInitializeDpc(&dpc, record_dpc, &record);
    KeSetTimer(&timer, relative(TICKS_PER_SECOND), &dpc);
    delay(2 * TICKS_PER_SECOND);
    assert_int_equal(atomic_load(&record.runs), 1);
    assert_int_equal(atomic_load(&record.irql), DISPATCH_LEVEL);
    assert_ptr_equal(atomic_load(&record.context), &record);
    assert_ptr_not_equal(atomic_load(&record.thread), KeGetCurrentThread());
    check_timer(&timer, NotificationTimer, TRUE, FALSE, 0);
}

static void KeCancelTimer_before_expiry_keeps_the_DPC_from_running(void **state)
{
    KTIMER timer;
    KDPC dpc;
    struct dpc_record record;

    (void)state;
    init_record(&record);
    KeInitializeTimer(&timer);
    KeInitializeDpc(&dpc, record_dpc, &record);
    KeSetTimer(&timer, relative(TICKS_PER_SECOND), &dpc);
    assert_true(KeCancelTimer(&timer));
    delay(2 * TICKS_PER_SECOND);
    KeFlushQueuedDpcs();
    assert_int_equal(atomic_load(&record.runs), 0);
}

static void a_timer_in_pool_may_be_freed_once_cancelled(void **state)
{
    PKTIMER timer = ExAllocatePoolWithTag(NonPagedPool, sizeof *timer, TAG_TIMER);

    (void)state;
    assert_non_null(timer);
    KeInitializeTimer(timer);
    KeSetTimer(timer, relative(TICKS_PER_SECOND), NULL);
    KeCancelTimer(timer);
    ExFreePool(timer);
}

/* ---- Misuse ---- */

struct pool_timer {
    ULONG cookie;
    KTIMER timer;
};

static struct pool_timer *scenario_block;

static void free_pool_with_a_set_timer(void *context)
{
    LARGE_INTEGER one_minute = { .QuadPart = -60 * TICKS_PER_SECOND };

    (void)context;
    scenario_block = ExAllocatePoolWithTag(NonPagedPool, sizeof *scenario_block, TAG_TIMER);
    KeInitializeTimer(&scenario_block->timer);
    KeSetTimer(&scenario_block->timer, one_minute, NULL);
    ExFreePool(scenario_block);
}

static void freeing_pool_that_holds_a_set_timer_stops_with_C4_15(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(free_pool_with_a_set_timer, NULL, 0xC4, 0x15, "pool.free_active_timer", &stop);
    /* The child's allocation is at an address only the report knows; check the parameters agree. */
    assert_int_equal(stop.params[1], stop.params[3] + offsetof(struct pool_timer, timer));
    assert_int_equal(stop.params[2], NonPagedPool);
}

static KTIMER scenario_timer;

static void set_timer_at_high_level(void *context)
{
    KIRQL old;

    (void)context;
    KeInitializeTimer(&scenario_timer);
    KeRaiseIrql(HIGH_LEVEL, &old);
    KeSetTimer(&scenario_timer, relative(TICKS_PER_SECOND), NULL);
}

static void cancel_timer_at_high_level(void *context)
{
    KIRQL old;

    (void)context;
    KeInitializeTimer(&scenario_timer);
    KeRaiseIrql(HIGH_LEVEL, &old);
    KeCancelTimer(&scenario_timer);
}

static void read_timer_at_high_level(void *context)
{
    KIRQL old;

    (void)context;
    KeInitializeTimer(&scenario_timer);
    KeRaiseIrql(HIGH_LEVEL, &old);
    KeReadStateTimer(&scenario_timer);
}

static void initialize_timer_at_high_level(void *context)
{
    KIRQL old;

    (void)context;
    KeRaiseIrql(HIGH_LEVEL, &old);
    KeInitializeTimer(&scenario_timer);
}

static void the_timer_DDIs_above_DISPATCH_LEVEL_stop_with_C4_20011(void **state)
{
    wdmsim_scenario_fn *const scenarios[] = {
        set_timer_at_high_level, cancel_timer_at_high_level, read_timer_at_high_level,
        initialize_timer_at_high_level,
    };
    struct wdmsim_stop stop;

    (void)state;
    for (size_t i = 0; i < sizeof scenarios / sizeof scenarios[0]; i++) {
        wdmsim_assert_stops(scenarios[i], NULL, 0xC4, 0x20011, "ke.above_dispatch", &stop);
        assert_int_equal(stop.params[1], HIGH_LEVEL);
        assert_int_equal(stop.params[2], (ULONG_PTR)&scenario_timer);
    }
}

static void set_zeroed_timer(void *context)
{
    (void)context;
    memset(&scenario_timer, 0, sizeof scenario_timer);
    KeSetTimer(&scenario_timer, relative(TICKS_PER_SECOND), NULL);
}

static void KeSetTimer_on_an_uninitialised_timer_stops_with_C4_1002(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(set_zeroed_timer, NULL, 0xC4, 0x1002, "dispatcher.uninitialized_object", &stop);
    assert_int_equal(stop.params[1], (ULONG_PTR)&scenario_timer);
}

static KEVENT scenario_event;

static void set_an_event_as_a_timer(void *context)
{
    (void)context;
    KeInitializeEvent(&scenario_event, NotificationEvent, FALSE);
    KeSetTimer((PKTIMER)&scenario_event, relative(TICKS_PER_SECOND), NULL);
}

static void KeSetTimer_on_an_event_stops_with_C4_1002(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(set_an_event_as_a_timer, NULL, 0xC4, 0x1002, "dispatcher.uninitialized_object", &stop);
    assert_non_null(strstr(stop.report, "not a timer"));
}

/* ---- Initialising a set timer ---- */

/* As Wine's ntoskrnl test, validated on Windows: initialising a timer that is still set does not
 * take it off the timer queue; its old expiry still comes, signals it (now as a synchronization
 * timer) and queues the DPC it was set with. The timer is usable again afterwards. */
static void KeInitializeTimerEx_on_a_set_timer_lets_its_old_expiry_fire(void **state)
{
    KTIMER timer;
    KDPC dpc;
    struct dpc_record record;
    LARGE_INTEGER poll = { .QuadPart = 0 };
    LARGE_INTEGER wait = relative(40 * TICKS_PER_MS);

    (void)state;
    init_record(&record);
    KeInitializeDpc(&dpc, record_dpc, &record);
    KeInitializeTimer(&timer);
    KeSetTimerEx(&timer, relative(20 * TICKS_PER_MS), 0, &dpc);
    KeInitializeTimerEx(&timer, SynchronizationTimer);
    check_timer(&timer, SynchronizationTimer, FALSE, TRUE, 0);
    assert_int_equal(KeWaitForSingleObject(&timer, Executive, KernelMode, FALSE, &wait), STATUS_SUCCESS);
    KeFlushQueuedDpcs();
    assert_int_equal(atomic_load(&record.runs), 1);
    check_timer(&timer, SynchronizationTimer, FALSE, FALSE, 0);
    assert_int_equal(KeWaitForSingleObject(&timer, Executive, KernelMode, FALSE, &poll), STATUS_TIMEOUT);

    assert_false(KeSetTimerEx(&timer, relative(20 * TICKS_PER_MS), 0, &dpc));
    assert_int_equal(KeWaitForSingleObject(&timer, Executive, KernelMode, FALSE, &wait), STATUS_SUCCESS);
    KeFlushQueuedDpcs();
    assert_int_equal(atomic_load(&record.runs), 2);
}

/* Re-initialising a set periodic timer keeps the expiry already due but forgets the period. */
static void KeInitializeTimer_on_a_set_periodic_timer_fires_once_more_then_stays_idle(void **state)
{
    KTIMER timer;

    (void)state;
    KeInitializeTimer(&timer);
    KeSetTimerEx(&timer, relative(10 * TICKS_PER_MS), 10, NULL);
    KeInitializeTimer(&timer);
    check_timer(&timer, NotificationTimer, FALSE, TRUE, 0);
    delay(15 * TICKS_PER_MS);
    check_timer(&timer, NotificationTimer, TRUE, FALSE, 0);
    assert_false(KeCancelTimer(&timer));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        wdmsim_test(KeInitializeTimer_makes_a_notification_timer_neither_set_nor_signalled),
        wdmsim_test(KeInitializeTimerEx_on_a_set_timer_lets_its_old_expiry_fire),
        wdmsim_test(KeInitializeTimer_on_a_set_periodic_timer_fires_once_more_then_stays_idle),
        wdmsim_test(KeSetTimer_returns_FALSE_for_an_idle_timer_and_TRUE_when_it_re_sets_a_set_one),
        wdmsim_test(re_setting_a_timer_moves_its_due_time),
        wdmsim_test(KeReadStateTimer_is_FALSE_until_the_timer_fires_and_FALSE_again_once_it_is_re_set),
        wdmsim_test(KeCancelTimer_returns_TRUE_for_a_set_timer_and_it_then_never_fires),
        wdmsim_test(KeCancelTimer_returns_FALSE_for_an_idle_or_already_fired_timer_and_keeps_its_state),
        wdmsim_test(a_timer_fires_at_its_due_time_not_before),
        wdmsim_test(an_absolute_due_time_fires_at_that_system_time),
        wdmsim_test(a_timer_set_in_the_past_fires_at_once),
        wdmsim_test(timers_fire_in_due_time_order_whatever_order_they_were_set_in),
        wdmsim_test(a_notification_timer_releases_every_waiter_and_stays_signalled),
        wdmsim_test(a_synchronization_timer_releases_one_waiter_in_FIFO_order_and_resets),
        wdmsim_test(a_synchronization_timer_with_no_waiter_stays_signalled_until_a_wait_takes_it),
        wdmsim_test(a_periodic_timer_fires_every_Period_milliseconds_of_simulated_time),
        wdmsim_test(a_timer_DPC_runs_at_DISPATCH_LEVEL_with_its_DeferredContext_on_another_thread),
        wdmsim_test(KeCancelTimer_before_expiry_keeps_the_DPC_from_running),
        wdmsim_test(a_timer_in_pool_may_be_freed_once_cancelled),
        wdmsim_test(freeing_pool_that_holds_a_set_timer_stops_with_C4_15),
        wdmsim_test(the_timer_DDIs_above_DISPATCH_LEVEL_stop_with_C4_20011),
        wdmsim_test(KeSetTimer_on_an_uninitialised_timer_stops_with_C4_1002),
        wdmsim_test(KeSetTimer_on_an_event_stops_with_C4_1002),
    };

    /* A STOP scenario's child boots from the environment: on the virtual clock, like the tests. */
    setenv("WDMSIM_CLOCK", "virtual", 1);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
