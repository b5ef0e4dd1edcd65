/*
 * test_event.c - KEVENT: what KeSetEvent, KePulseEvent, KeResetEvent, KeClearEvent and
 * KeReadStateEvent return and leave behind, who a set releases and in what order, and the misuse
 * that stops the machine. Waiters are simulated threads queued one by one (wdmsim_test_threads.h).
 */
#include <stdatomic.h>
#include <stdlib.h>

#include <ntddk.h>

#include <wdmsim/test.h>
#include "wdmsim_test_threads.h"

#define WAITERS 3

/* The whole observable state of an event: its type, its signal state, the threads waiting on it
 * in queue order, and the caller's IRQL (untouched by every event DDI). */
static void check_event(KEVENT *event, EVENT_TYPE type, LONG state, PKTHREAD const *waiters, size_t count)
{
    const LIST_ENTRY *head = &event->Header.WaitListHead;
    const LIST_ENTRY *entry = head->Flink;

    assert_int_equal(event->Header.Type, type);
    assert_int_equal(KeReadStateEvent(event), state);
    for (size_t i = 0; i < count; i++, entry = entry->Flink) {
        assert_ptr_not_equal(entry, head);
        assert_ptr_equal(CONTAINING_RECORD(entry, KWAIT_BLOCK, WaitListEntry)->Thread, waiters[i]);
    }
    assert_ptr_equal(entry, head);
    assert_int_equal(KeGetCurrentIrql(), PASSIVE_LEVEL);
}

/* ---- Waiter threads ---- */

struct waiter {
    struct wdmsim_test_thread thread;
    KEVENT *event;
    atomic_int status;
    atomic_int released;            /* 0 while waiting, then 1, 2, 3 in the order of release */
};

static atomic_int release_count;

static void wait_for_event(void *context)
{
    struct waiter *w = context;
    NTSTATUS status = KeWaitForSingleObject(w->event, Executive, KernelMode, FALSE, NULL);

    atomic_store(&w->status, status);
    atomic_store(&w->released, atomic_fetch_add(&release_count, 1) + 1);
}

/* Queues count waiters on event, oldest first: each one is blocked before the next starts. */
static void start_waiters(struct waiter *waiters, size_t count, KEVENT *event, PKTHREAD *threads)
{
    atomic_store(&release_count, 0);
    for (size_t i = 0; i < count; i++) {
        waiters[i].event = event;
        atomic_store(&waiters[i].status, -1);
        atomic_store(&waiters[i].released, 0);
        wdmsim_test_thread_start(&waiters[i].thread, wait_for_event, &waiters[i]);
        wdmsim_test_settle();
        threads[i] = waiters[i].thread.kthread;
    }
}

static void join_waiters(struct waiter *waiters, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        wdmsim_test_thread_join(&waiters[i].thread);
        assert_int_equal(atomic_load(&waiters[i].status), STATUS_SUCCESS);
    }
}

/* ---- Initial state ---- */

static void KeInitializeEvent_sets_the_type_and_the_initial_state(void **state)
{
    KEVENT notification, synchronization;

    (void)state;
    KeInitializeEvent(&notification, NotificationEvent, TRUE);
    KeInitializeEvent(&synchronization, SynchronizationEvent, FALSE);
    check_event(&notification, NotificationEvent, 1, NULL, 0);
    check_event(&synchronization, SynchronizationEvent, 0, NULL, 0);
}

/* ---- KeSetEvent ---- */

static void KeSetEvent_returns_the_previous_state_and_does_not_count(void **state)
{
    KEVENT event;
    LARGE_INTEGER poll = { .QuadPart = 0 };

    (void)state;
    KeInitializeEvent(&event, SynchronizationEvent, FALSE);
    assert_int_equal(KeSetEvent(&event, IO_NO_INCREMENT, FALSE), 0);
    check_event(&event, SynchronizationEvent, 1, NULL, 0);
    assert_int_not_equal(KeSetEvent(&event, IO_NO_INCREMENT, FALSE), 0);
    check_event(&event, SynchronizationEvent, 1, NULL, 0);
    /* Two sets, one wait's worth: the second set changed nothing. */
    assert_int_equal(KeWaitForSingleObject(&event, Executive, KernelMode, FALSE, &poll), STATUS_SUCCESS);
    assert_int_equal(KeWaitForSingleObject(&event, Executive, KernelMode, FALSE, &poll), STATUS_TIMEOUT);
    check_event(&event, SynchronizationEvent, 0, NULL, 0);
}

/* A driver may have written any value into SignalState; a set leaves exactly 1 (as Windows). */
static void KeSetEvent_leaves_SignalState_at_1_whatever_it_was(void **state)
{
    KEVENT event;

    (void)state;
    KeInitializeEvent(&event, NotificationEvent, FALSE);
    event.Header.SignalState = 5;
    assert_int_equal(KeSetEvent(&event, IO_NO_INCREMENT, FALSE), 5);
    assert_int_equal(event.Header.SignalState, 1);
    event.Header.SignalState = -3;
    assert_int_equal(KeSetEvent(&event, IO_NO_INCREMENT, FALSE), -3);
    assert_int_equal(KeReadStateEvent(&event), 1);
}

static void KeSetEvent_on_sync_event_with_no_waiter_stays_signalled_until_one_wait_consumes_it(void **state)
{
    KEVENT event;

    (void)state;
    KeInitializeEvent(&event, SynchronizationEvent, FALSE);
    KeSetEvent(&event, IO_NO_INCREMENT, FALSE);
    wdmsim_test_settle();
    check_event(&event, SynchronizationEvent, 1, NULL, 0);
    assert_int_equal(KeWaitForSingleObject(&event, Executive, KernelMode, FALSE, NULL), STATUS_SUCCESS);
    check_event(&event, SynchronizationEvent, 0, NULL, 0);
}

static void KeSetEvent_on_sync_event_releases_exactly_one_waiter_in_FIFO_order_and_resets(void **state)
{
    KEVENT event;
    struct waiter waiters[WAITERS];
    PKTHREAD threads[WAITERS];

    (void)state;
    KeInitializeEvent(&event, SynchronizationEvent, FALSE);
    start_waiters(waiters, WAITERS, &event, threads);
    check_event(&event, SynchronizationEvent, 0, threads, WAITERS);
    for (size_t set = 0; set < WAITERS; set++) {
        /* The waiter it satisfied consumed the signal: the previous state is always 0. */
        assert_int_equal(KeSetEvent(&event, IO_NO_INCREMENT, FALSE), 0);
        wdmsim_test_settle();
        check_event(&event, SynchronizationEvent, 0, threads + set + 1, WAITERS - set - 1);
        for (size_t i = 0; i < WAITERS; i++)
            assert_int_equal(atomic_load(&waiters[i].released), i <= set ? (int)i + 1 : 0);
    }
    join_waiters(waiters, WAITERS);
}

static void KeSetEvent_on_notification_event_releases_all_waiters_and_stays_signalled(void **state)
{
    KEVENT event;
    struct waiter waiters[WAITERS];
    PKTHREAD threads[WAITERS];

    (void)state;
    KeInitializeEvent(&event, NotificationEvent, FALSE);
    start_waiters(waiters, WAITERS, &event, threads);
    check_event(&event, NotificationEvent, 0, threads, WAITERS);
    assert_int_equal(KeSetEvent(&event, IO_NO_INCREMENT, FALSE), 0);
    wdmsim_test_settle();
    check_event(&event, NotificationEvent, 1, NULL, 0);
    /* All three are released by the one set; the order they then run in is up to the scheduler. */
    assert_int_equal(atomic_load(&release_count), WAITERS);
    join_waiters(waiters, WAITERS);
    assert_int_not_equal(KeSetEvent(&event, IO_NO_INCREMENT, FALSE), 0);
    assert_int_equal(KeWaitForSingleObject(&event, Executive, KernelMode, FALSE, NULL), STATUS_SUCCESS);
    check_event(&event, NotificationEvent, 1, NULL, 0);
}

static void KeSetEvent_with_Wait_TRUE_at_PASSIVE_LEVEL_sets_the_event_like_Wait_FALSE(void **state)
{
    KEVENT event;

    (void)state;
    KeInitializeEvent(&event, NotificationEvent, FALSE);
    assert_int_equal(KeSetEvent(&event, IO_NO_INCREMENT, TRUE), 0);
    check_event(&event, NotificationEvent, 1, NULL, 0);
}

static void KeSetEvent_at_DISPATCH_LEVEL_is_allowed(void **state)
{
    KEVENT event;
    KIRQL old;

    (void)state;
    KeInitializeEvent(&event, NotificationEvent, FALSE);
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    assert_int_equal(KeSetEvent(&event, IO_NO_INCREMENT, FALSE), 0);
    assert_int_equal(KeGetCurrentIrql(), DISPATCH_LEVEL);
    KeLowerIrql(old);
    check_event(&event, NotificationEvent, 1, NULL, 0);
}

static VOID NTAPI set_event_dpc(PKDPC dpc, PVOID context, PVOID argument1, PVOID argument2)
{
    (void)dpc;
    (void)argument1;
    (void)argument2;
    KeSetEvent(context, IO_NO_INCREMENT, FALSE);
}

static void KeSetEvent_from_a_DPC_wakes_a_waiting_thread(void **state)
{
    KEVENT event;
    KDPC dpc;

    (void)state;
    KeInitializeEvent(&event, SynchronizationEvent, FALSE);
    KeInitializeDpc(&dpc, set_event_dpc, &event);
    /* The DPC may run before or after this thread blocks; either way the wait is satisfied. */
    assert_true(KeInsertQueueDpc(&dpc, NULL, NULL));
    assert_int_equal(KeWaitForSingleObject(&event, Executive, KernelMode, FALSE, NULL), STATUS_SUCCESS);
    check_event(&event, SynchronizationEvent, 0, NULL, 0);
}

/* ---- KePulseEvent ---- */

static void KePulseEvent_releases_every_current_waiter_of_a_notification_event_and_leaves_it_reset(void **state)
{
    KEVENT event;
    struct waiter waiters[2];
    PKTHREAD threads[2];

    (void)state;
    KeInitializeEvent(&event, NotificationEvent, FALSE);
    start_waiters(waiters, 2, &event, threads);
    assert_int_equal(KePulseEvent(&event, IO_NO_INCREMENT, FALSE), 0);
    check_event(&event, NotificationEvent, 0, NULL, 0);
    wdmsim_test_settle();
    assert_int_equal(atomic_load(&release_count), 2);
    join_waiters(waiters, 2);
    check_event(&event, NotificationEvent, 0, NULL, 0);
}

static void KePulseEvent_on_a_sync_event_releases_one_waiter_and_leaves_it_reset(void **state)
{
    KEVENT event;
    struct waiter waiters[2];
    PKTHREAD threads[2];

    (void)state;
    KeInitializeEvent(&event, SynchronizationEvent, FALSE);
    start_waiters(waiters, 2, &event, threads);
    assert_int_equal(KePulseEvent(&event, IO_NO_INCREMENT, FALSE), 0);
    wdmsim_test_settle();
    check_event(&event, SynchronizationEvent, 0, threads + 1, 1);
    assert_int_equal(atomic_load(&waiters[0].released), 1);
    assert_int_equal(atomic_load(&waiters[1].released), 0);
    KeSetEvent(&event, IO_NO_INCREMENT, FALSE);
    join_waiters(waiters, 2);
    check_event(&event, SynchronizationEvent, 0, NULL, 0);
}

static void KePulseEvent_on_a_signalled_event_returns_nonzero_and_resets_it(void **state)
{
    KEVENT event;

    (void)state;
    KeInitializeEvent(&event, NotificationEvent, TRUE);
    assert_int_not_equal(KePulseEvent(&event, IO_NO_INCREMENT, FALSE), 0);
    check_event(&event, NotificationEvent, 0, NULL, 0);
    assert_int_equal(KePulseEvent(&event, IO_NO_INCREMENT, FALSE), 0);
    check_event(&event, NotificationEvent, 0, NULL, 0);
}

/* ---- KeResetEvent, KeClearEvent, KeReadStateEvent ---- */

static void KeResetEvent_returns_the_previous_state_and_leaves_the_event_reset(void **state)
{
    KEVENT event;

    (void)state;
    KeInitializeEvent(&event, NotificationEvent, TRUE);
    assert_int_not_equal(KeResetEvent(&event), 0);
    check_event(&event, NotificationEvent, 0, NULL, 0);
    assert_int_equal(KeResetEvent(&event), 0);
    check_event(&event, NotificationEvent, 0, NULL, 0);
}

static void KeClearEvent_leaves_the_event_reset(void **state)
{
    KEVENT event;

    (void)state;
    KeInitializeEvent(&event, SynchronizationEvent, TRUE);
    KeClearEvent(&event);
    check_event(&event, SynchronizationEvent, 0, NULL, 0);
    KeClearEvent(&event);
    check_event(&event, SynchronizationEvent, 0, NULL, 0);
}

static void KeReadStateEvent_reads_without_consuming_even_at_DISPATCH_LEVEL(void **state)
{
    KEVENT event;
    KIRQL old;

    (void)state;
    KeInitializeEvent(&event, SynchronizationEvent, TRUE);
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    assert_int_not_equal(KeReadStateEvent(&event), 0);
    assert_int_not_equal(KeReadStateEvent(&event), 0);
    KeLowerIrql(old);
    check_event(&event, SynchronizationEvent, 1, NULL, 0);
}

static void a_reset_event_makes_the_next_wait_block(void **state)
{
    KEVENT event;
    LARGE_INTEGER one_second = { .QuadPart = -10000000LL };

    (void)state;
    KeInitializeEvent(&event, NotificationEvent, TRUE);
    KeResetEvent(&event);
    assert_int_equal(KeWaitForSingleObject(&event, Executive, KernelMode, FALSE, &one_second), STATUS_TIMEOUT);
    check_event(&event, NotificationEvent, 0, NULL, 0);
}

/* ---- Misuse ---- */

static KEVENT scenario_event;

static void set_event_at_high_level(void *context)
{
    KIRQL old;

    (void)context;
    KeInitializeEvent(&scenario_event, NotificationEvent, FALSE);
    KeRaiseIrql(HIGH_LEVEL, &old);
    KeSetEvent(&scenario_event, IO_NO_INCREMENT, FALSE);
}

static void KeSetEvent_above_DISPATCH_LEVEL_stops_with_C4_80(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(set_event_at_high_level, NULL, 0xC4, 0x80, "event.set_above_dispatch", &stop);
    assert_int_equal(stop.params[1], HIGH_LEVEL);
    assert_int_equal(stop.params[2], (ULONG_PTR)&scenario_event);
}

static void set_event_wait_true_at_dispatch(void *context)
{
    KIRQL old;

    (void)context;
    KeInitializeEvent(&scenario_event, NotificationEvent, FALSE);
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    KeSetEvent(&scenario_event, IO_NO_INCREMENT, TRUE);
}

static void KeSetEvent_with_Wait_TRUE_at_DISPATCH_LEVEL_stops_with_C4_20016(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(set_event_wait_true_at_dispatch, NULL, 0xC4, 0x20016, "ke.wait_true_above_apc", &stop);
    assert_int_equal(stop.params[1], DISPATCH_LEVEL);
    assert_int_equal(stop.params[2], (ULONG_PTR)&scenario_event);
}

static void pulse_event_wait_true_at_dispatch(void *context)
{
    KIRQL old;

    (void)context;
    KeInitializeEvent(&scenario_event, NotificationEvent, FALSE);
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    KePulseEvent(&scenario_event, IO_NO_INCREMENT, TRUE);
}

static void KePulseEvent_with_Wait_TRUE_at_DISPATCH_LEVEL_stops_with_C4_20016(void **state)
{
    (void)state;
    wdmsim_assert_stops(pulse_event_wait_true_at_dispatch, NULL, 0xC4, 0x20016, "ke.wait_true_above_apc", NULL);
}

static void reset_event_at_high_level(void *context)
{
    KIRQL old;

    (void)context;
    KeInitializeEvent(&scenario_event, NotificationEvent, TRUE);
    KeRaiseIrql(HIGH_LEVEL, &old);
    KeResetEvent(&scenario_event);
}

static void clear_event_at_high_level(void *context)
{
    KIRQL old;

    (void)context;
    KeInitializeEvent(&scenario_event, NotificationEvent, TRUE);
    KeRaiseIrql(HIGH_LEVEL, &old);
    KeClearEvent(&scenario_event);
}

static void read_event_at_high_level(void *context)
{
    KIRQL old;

    (void)context;
    KeInitializeEvent(&scenario_event, NotificationEvent, TRUE);
    KeRaiseIrql(HIGH_LEVEL, &old);
    KeReadStateEvent(&scenario_event);
}

static void pulse_event_at_high_level(void *context)
{
    KIRQL old;

    (void)context;
    KeInitializeEvent(&scenario_event, NotificationEvent, TRUE);
    KeRaiseIrql(HIGH_LEVEL, &old);
    KePulseEvent(&scenario_event, IO_NO_INCREMENT, FALSE);
}

static void the_other_event_DDIs_above_DISPATCH_LEVEL_stop_with_C4_20011(void **state)
{
    wdmsim_scenario_fn *const scenarios[] = {
        reset_event_at_high_level, clear_event_at_high_level, read_event_at_high_level,
        pulse_event_at_high_level,
    };
    struct wdmsim_stop stop;

    (void)state;
    for (size_t i = 0; i < sizeof scenarios / sizeof scenarios[0]; i++) {
        wdmsim_assert_stops(scenarios[i], NULL, 0xC4, 0x20011, "ke.above_dispatch", &stop);
        assert_int_equal(stop.params[1], HIGH_LEVEL);
        assert_int_equal(stop.params[2], (ULONG_PTR)&scenario_event);
    }
}

static void set_zeroed_event(void *context)
{
    (void)context;
    memset(&scenario_event, 0, sizeof scenario_event);
    KeSetEvent(&scenario_event, IO_NO_INCREMENT, FALSE);
}

static void KeSetEvent_on_an_uninitialised_event_stops_with_C4_1002(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(set_zeroed_event, NULL, 0xC4, 0x1002, "dispatcher.uninitialized_object", &stop);
    assert_int_equal(stop.params[1], (ULONG_PTR)&scenario_event);
}

static KTIMER scenario_timer;

static void set_a_timer_as_an_event(void *context)
{
    (void)context;
    KeInitializeTimer(&scenario_timer);
    KeSetEvent((PRKEVENT)&scenario_timer, IO_NO_INCREMENT, FALSE);
}

static void KeSetEvent_on_a_dispatcher_object_that_is_not_an_event_stops_with_C4_1002(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(set_a_timer_as_an_event, NULL, 0xC4, 0x1002, "dispatcher.uninitialized_object", &stop);
    assert_int_equal(stop.params[1], (ULONG_PTR)&scenario_timer);
    assert_non_null(strstr(stop.report, "not an event"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        wdmsim_test(KeInitializeEvent_sets_the_type_and_the_initial_state),
        wdmsim_test(KeSetEvent_returns_the_previous_state_and_does_not_count),
        wdmsim_test(KeSetEvent_leaves_SignalState_at_1_whatever_it_was),
        wdmsim_test(KeSetEvent_on_sync_event_with_no_waiter_stays_signalled_until_one_wait_consumes_it),
        wdmsim_test(KeSetEvent_on_sync_event_releases_exactly_one_waiter_in_FIFO_order_and_resets),
        wdmsim_test(KeSetEvent_on_notification_event_releases_all_waiters_and_stays_signalled),
        wdmsim_test(KeSetEvent_with_Wait_TRUE_at_PASSIVE_LEVEL_sets_the_event_like_Wait_FALSE),
        wdmsim_test(KeSetEvent_at_DISPATCH_LEVEL_is_allowed),
        wdmsim_test(KeSetEvent_from_a_DPC_wakes_a_waiting_thread),
        wdmsim_test(KePulseEvent_releases_every_current_waiter_of_a_notification_event_and_leaves_it_reset),
        wdmsim_test(KePulseEvent_on_a_sync_event_releases_one_waiter_and_leaves_it_reset),
        wdmsim_test(KePulseEvent_on_a_signalled_event_returns_nonzero_and_resets_it),
        wdmsim_test(KeResetEvent_returns_the_previous_state_and_leaves_the_event_reset),
        wdmsim_test(KeClearEvent_leaves_the_event_reset),
        wdmsim_test(KeReadStateEvent_reads_without_consuming_even_at_DISPATCH_LEVEL),
        wdmsim_test(a_reset_event_makes_the_next_wait_block),
        wdmsim_test(KeSetEvent_above_DISPATCH_LEVEL_stops_with_C4_80),
        wdmsim_test(KeSetEvent_with_Wait_TRUE_at_DISPATCH_LEVEL_stops_with_C4_20016),
        wdmsim_test(KePulseEvent_with_Wait_TRUE_at_DISPATCH_LEVEL_stops_with_C4_20016),
        wdmsim_test(the_other_event_DDIs_above_DISPATCH_LEVEL_stop_with_C4_20011),
        wdmsim_test(KeSetEvent_on_an_uninitialised_event_stops_with_C4_1002),
        wdmsim_test(KeSetEvent_on_a_dispatcher_object_that_is_not_an_event_stops_with_C4_1002),
    };

    /* A STOP scenario's child boots from the environment: on the virtual clock, like the tests. */
    setenv("WDMSIM_CLOCK", "virtual", 1);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
