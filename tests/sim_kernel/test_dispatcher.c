/*
 * test_dispatcher.c - the one wait path: KeWaitForSingleObject, KeWaitForMultipleObjects and
 * KeDelayExecutionThread. What each returns, which object a WaitAny takes, that a WaitAll takes
 * all or nothing, the four kinds of timeout on the virtual clock, the IRQL rules of a wait, and
 * the deadlock report. Blocked waiters are simulated threads (wdmsim_test_threads.h).
 */
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <wdmsim/test.h>
#include "wdmsim_test_threads.h"

#define TICKS_PER_SECOND 10000000LL
#define FIVE 5

static LONGLONG system_time(void)
{
    LARGE_INTEGER now;

    KeQuerySystemTime(&now);
    return now.QuadPart;
}

static LARGE_INTEGER relative_seconds(LONGLONG seconds)
{
    LARGE_INTEGER timeout = { .QuadPart = -seconds * TICKS_PER_SECOND };

    return timeout;
}

static LARGE_INTEGER zero_timeout(void)
{
    LARGE_INTEGER timeout = { .QuadPart = 0 };

    return timeout;
}

/* Sync events given initial states; returns the array of pointers a multiple wait takes. */
static void init_sync_events(KEVENT *events, PVOID *objects, const LONG *states, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        KeInitializeEvent(&events[i], SynchronizationEvent, states[i] ? TRUE : FALSE);
        objects[i] = &events[i];
    }
}

static void check_states(KEVENT *events, const LONG *states, size_t count)
{
    for (size_t i = 0; i < count; i++)
        assert_int_equal(KeReadStateEvent(&events[i]), states[i]);
}

static size_t count_waiters(const KEVENT *event)
{
    size_t n = 0;

    for (const LIST_ENTRY *e = event->Header.WaitListHead.Flink; e != &event->Header.WaitListHead; e = e->Flink)
        n++;
    return n;
}

/* A simulated thread blocked in one KeWaitForMultipleObjects call. */
struct multi_waiter {
    struct wdmsim_test_thread thread;
    ULONG count;
    PVOID *objects;
    WAIT_TYPE type;
    PKWAIT_BLOCK blocks;
    atomic_int status;
    atomic_bool returned;
};

static void wait_multiple(void *context)
{
    struct multi_waiter *w = context;
    NTSTATUS status = KeWaitForMultipleObjects(w->count, w->objects, w->type, Executive, KernelMode, FALSE,
                                               NULL, w->blocks);

    atomic_store(&w->status, status);
    atomic_store(&w->returned, true);
}

static void start_multi_waiter(struct multi_waiter *w, ULONG count, PVOID *objects, WAIT_TYPE type,
                               PKWAIT_BLOCK blocks)
{
    w->count = count;
    w->objects = objects;
    w->type = type;
    w->blocks = blocks;
    atomic_store(&w->status, -1);
    atomic_store(&w->returned, false);
    wdmsim_test_thread_start(&w->thread, wait_multiple, w);
    wdmsim_test_settle();
}

/* ---- WaitAny ---- */

static void WaitAny_returns_STATUS_WAIT_0_plus_the_lowest_signalled_index_and_takes_only_that_object(void **state)
{
    KEVENT events[3];
    PVOID objects[3];
    static const LONG before[3] = { 0, 1, 1 }, after[3] = { 0, 0, 1 };

    (void)state;
    init_sync_events(events, objects, before, 3);
    assert_int_equal(KeWaitForMultipleObjects(3, objects, WaitAny, Executive, KernelMode, FALSE, NULL, NULL),
                     STATUS_WAIT_0 + 1);
    check_states(events, after, 3);
}

static void WaitAny_of_a_blocked_thread_returns_the_index_of_the_object_that_was_set(void **state)
{
    KEVENT events[3];
    PVOID objects[3];
    struct multi_waiter w;
    static const LONG none[3] = { 0, 0, 0 };

    (void)state;
    init_sync_events(events, objects, none, 3);
    start_multi_waiter(&w, 3, objects, WaitAny, NULL);
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(count_waiters(&events[i]), 1);
    KeSetEvent(&events[2], IO_NO_INCREMENT, FALSE);
    wdmsim_test_thread_join(&w.thread);
    assert_int_equal(atomic_load(&w.status), STATUS_WAIT_0 + 2);
    check_states(events, none, 3);
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(count_waiters(&events[i]), 0);
}

static void WaitAny_may_name_an_object_twice_and_returns_its_first_index(void **state)
{
    KEVENT event;
    PVOID objects[2] = { &event, &event };

    (void)state;
    KeInitializeEvent(&event, NotificationEvent, TRUE);
    assert_int_equal(KeWaitForMultipleObjects(2, objects, WaitAny, Executive, KernelMode, FALSE, NULL, NULL),
                     STATUS_WAIT_0);
}

static void WaitAny_poll_with_nothing_signalled_returns_STATUS_TIMEOUT(void **state)
{
    KEVENT events[2];
    PVOID objects[2];
    LARGE_INTEGER poll = zero_timeout();
    static const LONG none[2] = { 0, 0 };

    (void)state;
    init_sync_events(events, objects, none, 2);
    assert_int_equal(KeWaitForMultipleObjects(2, objects, WaitAny, Executive, KernelMode, FALSE, &poll, NULL),
                     STATUS_TIMEOUT);
    check_states(events, none, 2);
}

/* ---- WaitAll ---- */

static void WaitAll_with_one_of_two_signalled_consumes_nothing_and_a_poll_times_out(void **state)
{
    KEVENT events[2];
    PVOID objects[2];
    LARGE_INTEGER poll = zero_timeout();
    static const LONG half[2] = { 1, 0 };

    (void)state;
    init_sync_events(events, objects, half, 2);
    assert_int_equal(KeWaitForMultipleObjects(2, objects, WaitAll, Executive, KernelMode, FALSE, &poll, NULL),
                     STATUS_TIMEOUT);
    check_states(events, half, 2);
}

static void WaitAll_that_times_out_leaves_the_signalled_sync_event_signalled(void **state)
{
    KEVENT events[2];
    PVOID objects[2];
    LARGE_INTEGER one_second = relative_seconds(1);
    static const LONG half[2] = { 1, 0 };
    LONGLONG start = system_time();

    (void)state;
    init_sync_events(events, objects, half, 2);
    assert_int_equal(KeWaitForMultipleObjects(2, objects, WaitAll, Executive, KernelMode, FALSE, &one_second,
                                              NULL), STATUS_TIMEOUT);
    assert_int_equal(system_time() - start, TICKS_PER_SECOND);
    check_states(events, half, 2);
}

static void WaitAll_blocked_on_two_sync_events_takes_both_at_once_when_the_second_is_set(void **state)
{
    KEVENT events[2];
    PVOID objects[2];
    struct multi_waiter w;
    static const LONG none[2] = { 0, 0 }, half[2] = { 1, 0 };

    (void)state;
    init_sync_events(events, objects, none, 2);
    start_multi_waiter(&w, 2, objects, WaitAll, NULL);
    KeSetEvent(&events[0], IO_NO_INCREMENT, FALSE);
    wdmsim_test_settle();
    /* One of two: the waiter stays blocked and the first event keeps its signal. */
    assert_false(atomic_load(&w.returned));
    check_states(events, half, 2);
    assert_int_equal(count_waiters(&events[0]), 1);
    KeSetEvent(&events[1], IO_NO_INCREMENT, FALSE);
    wdmsim_test_thread_join(&w.thread);
    assert_int_equal(atomic_load(&w.status), STATUS_SUCCESS);
    check_states(events, none, 2);
    assert_int_equal(count_waiters(&events[0]), 0);
    assert_int_equal(count_waiters(&events[1]), 0);
}

static void WaitAll_signal_taken_by_another_wait_in_between_keeps_the_WaitAll_blocked(void **state)
{
    KEVENT events[2];
    PVOID objects[2];
    struct multi_waiter w;
    LARGE_INTEGER poll = zero_timeout();
    static const LONG none[2] = { 0, 0 }, second[2] = { 0, 1 };

    (void)state;
    init_sync_events(events, objects, none, 2);
    start_multi_waiter(&w, 2, objects, WaitAll, NULL);
    KeSetEvent(&events[0], IO_NO_INCREMENT, FALSE);
    assert_int_equal(KeWaitForSingleObject(&events[0], Executive, KernelMode, FALSE, &poll), STATUS_SUCCESS);
    KeSetEvent(&events[1], IO_NO_INCREMENT, FALSE);
    wdmsim_test_settle();
    assert_false(atomic_load(&w.returned));
    check_states(events, second, 2);
    KeSetEvent(&events[0], IO_NO_INCREMENT, FALSE);
    wdmsim_test_thread_join(&w.thread);
    assert_int_equal(atomic_load(&w.status), STATUS_SUCCESS);
    check_states(events, none, 2);
}

static void WaitAll_naming_an_object_twice_returns_STATUS_INVALID_PARAMETER_MIX(void **state)
{
    KEVENT event;
    PVOID objects[2] = { &event, &event };

    (void)state;
    KeInitializeEvent(&event, SynchronizationEvent, TRUE);
    assert_int_equal(KeWaitForMultipleObjects(2, objects, WaitAll, Executive, KernelMode, FALSE, NULL, NULL),
                     STATUS_INVALID_PARAMETER_MIX);
    assert_int_equal(KeReadStateEvent(&event), 1);
}

/* ---- More than THREAD_WAIT_OBJECTS objects ---- */

static void a_callers_WaitBlockArray_carries_a_WaitAll_on_five_objects(void **state)
{
    KEVENT events[FIVE];
    PVOID objects[FIVE];
    KWAIT_BLOCK blocks[FIVE];
    struct multi_waiter w;
    static const LONG none[FIVE] = { 0 };

    (void)state;
    init_sync_events(events, objects, none, FIVE);
    start_multi_waiter(&w, FIVE, objects, WaitAll, blocks);
    /* The wait blocks queued on the objects are the caller's. */
    for (size_t i = 0; i < FIVE; i++)
        assert_ptr_equal(events[i].Header.WaitListHead.Flink, &blocks[i].WaitListEntry);
    for (size_t i = 0; i < FIVE - 1; i++) {
        KeSetEvent(&events[i], IO_NO_INCREMENT, FALSE);
        wdmsim_test_settle();
        assert_false(atomic_load(&w.returned));
    }
    KeSetEvent(&events[FIVE - 1], IO_NO_INCREMENT, FALSE);
    wdmsim_test_thread_join(&w.thread);
    assert_int_equal(atomic_load(&w.status), STATUS_SUCCESS);
    check_states(events, none, FIVE);
}

static void a_callers_WaitBlockArray_carries_a_WaitAny_on_five_objects(void **state)
{
    KEVENT events[FIVE];
    PVOID objects[FIVE];
    KWAIT_BLOCK blocks[FIVE];
    struct multi_waiter w;
    static const LONG none[FIVE] = { 0 };

    (void)state;
    init_sync_events(events, objects, none, FIVE);
    start_multi_waiter(&w, FIVE, objects, WaitAny, blocks);
    KeSetEvent(&events[4], IO_NO_INCREMENT, FALSE);
    wdmsim_test_thread_join(&w.thread);
    assert_int_equal(atomic_load(&w.status), STATUS_WAIT_0 + 4);
    check_states(events, none, FIVE);
}

/* ---- Timeouts on the virtual clock ---- */

static void a_relative_timeout_returns_STATUS_TIMEOUT_exactly_that_much_later(void **state)
{
    KEVENT event;
    LARGE_INTEGER timeout = relative_seconds(3);
    LONGLONG start = system_time();

    (void)state;
    KeInitializeEvent(&event, NotificationEvent, FALSE);
    assert_int_equal(KeWaitForSingleObject(&event, Executive, KernelMode, FALSE, &timeout), STATUS_TIMEOUT);
    assert_int_equal(system_time() - start, 3 * TICKS_PER_SECOND);
    assert_int_equal(count_waiters(&event), 0);
}

static void an_absolute_timeout_returns_STATUS_TIMEOUT_at_that_system_time(void **state)
{
    KEVENT event;
    LARGE_INTEGER deadline = { .QuadPart = system_time() + 7 * TICKS_PER_SECOND };

    (void)state;
    KeInitializeEvent(&event, NotificationEvent, FALSE);
    assert_true(deadline.QuadPart > 0);
    assert_int_equal(KeWaitForSingleObject(&event, Executive, KernelMode, FALSE, &deadline), STATUS_TIMEOUT);
    assert_int_equal(system_time(), deadline.QuadPart);
}

static void an_absolute_timeout_already_past_returns_STATUS_TIMEOUT_at_once(void **state)
{
    KEVENT event;
    LONGLONG start = system_time();
    LARGE_INTEGER deadline = { .QuadPart = start - TICKS_PER_SECOND };

    (void)state;
    KeInitializeEvent(&event, NotificationEvent, FALSE);
    assert_int_equal(KeWaitForSingleObject(&event, Executive, KernelMode, FALSE, &deadline), STATUS_TIMEOUT);
    assert_int_equal(system_time(), start);
}

static void a_zero_timeout_polls_without_time_passing(void **state)
{
    KEVENT event;
    LARGE_INTEGER poll = zero_timeout();
    LONGLONG start = system_time();

    (void)state;
    KeInitializeEvent(&event, SynchronizationEvent, FALSE);
    assert_int_equal(KeWaitForSingleObject(&event, Executive, KernelMode, FALSE, &poll), STATUS_TIMEOUT);
    KeSetEvent(&event, IO_NO_INCREMENT, FALSE);
    assert_int_equal(KeWaitForSingleObject(&event, Executive, KernelMode, FALSE, &poll), STATUS_SUCCESS);
    assert_int_equal(KeReadStateEvent(&event), 0);
    assert_int_equal(system_time(), start);
}

static void a_wait_on_a_signalled_object_returns_before_its_timeout(void **state)
{
    KEVENT event;
    LARGE_INTEGER timeout = relative_seconds(60);
    LONGLONG start = system_time();

    (void)state;
    KeInitializeEvent(&event, NotificationEvent, TRUE);
    assert_int_equal(KeWaitForSingleObject(&event, Executive, KernelMode, FALSE, &timeout), STATUS_SUCCESS);
    assert_int_equal(system_time(), start);
}

static void a_poll_at_DISPATCH_LEVEL_is_allowed(void **state)
{
    KEVENT events[2];
    PVOID objects[2];
    LARGE_INTEGER poll = zero_timeout();
    static const LONG second[2] = { 0, 1 };
    KIRQL old;

    (void)state;
    init_sync_events(events, objects, second, 2);
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    assert_int_equal(KeWaitForSingleObject(&events[0], Executive, KernelMode, FALSE, &poll), STATUS_TIMEOUT);
    assert_int_equal(KeWaitForMultipleObjects(2, objects, WaitAny, Executive, KernelMode, FALSE, &poll, NULL),
                     STATUS_WAIT_0 + 1);
    assert_int_equal(KeGetCurrentIrql(), DISPATCH_LEVEL);
    KeLowerIrql(old);
}

/* What STOP scenarios use: statics, so the parent knows the addresses the child's report names. */
static KEVENT scenario_event;
static LARGE_INTEGER scenario_timeout;
static LONGLONG scenario_far_timeout;

static void wait_for_ever_with_a_timeout_too_far_to_reach(void *context)
{
    LARGE_INTEGER one_tick = { .QuadPart = -1 };

    (void)context;
    KeInitializeEvent(&scenario_event, NotificationEvent, FALSE);
    KeDelayExecutionThread(KernelMode, FALSE, &one_tick);  /* so "now + timeout" would overflow */
    scenario_timeout.QuadPart = scenario_far_timeout;
    KeWaitForSingleObject(&scenario_event, Executive, KernelMode, FALSE, &scenario_timeout);
}

static void a_relative_timeout_too_long_for_the_clock_waits_for_ever_instead_of_timing_out_at_once(void **state)
{
    static const LONGLONG far[] = { -0x7FFFFFFFFFFFFFFFLL, -0x7FFFFFFFFFFFFFFFLL - 1 };
    struct wdmsim_stop stop;

    (void)state;
    for (size_t i = 0; i < sizeof far / sizeof far[0]; i++) {
        scenario_far_timeout = far[i];
        wdmsim_assert_stops(wait_for_ever_with_a_timeout_too_far_to_reach, NULL, 0xE2, WDMSIM_ANY_PARAM,
                            "sched.deadlock", &stop);
    }
}

/* ---- KeDelayExecutionThread ---- */

static void KeDelayExecutionThread_advances_virtual_time_by_exactly_the_interval(void **state)
{
    LARGE_INTEGER interval = { .QuadPart = -(90 * TICKS_PER_SECOND + 1234) };
    LONGLONG start = system_time();

    (void)state;
    assert_int_equal(KeDelayExecutionThread(KernelMode, FALSE, &interval), STATUS_SUCCESS);
    assert_int_equal(system_time() - start, 90 * TICKS_PER_SECOND + 1234);
}

static void KeDelayExecutionThread_to_an_absolute_time_returns_at_that_time(void **state)
{
    LARGE_INTEGER until = { .QuadPart = system_time() + 3600 * TICKS_PER_SECOND };

    (void)state;
    assert_int_equal(KeDelayExecutionThread(KernelMode, FALSE, &until), STATUS_SUCCESS);
    assert_int_equal(system_time(), until.QuadPart);
}

/* ---- Misuse ---- */

static void poll_at_high_level(void *context)
{
    KIRQL old;

    (void)context;
    KeInitializeEvent(&scenario_event, NotificationEvent, TRUE);
    scenario_timeout.QuadPart = 0;
    KeRaiseIrql(HIGH_LEVEL, &old);
    KeWaitForSingleObject(&scenario_event, Executive, KernelMode, FALSE, &scenario_timeout);
}

static void a_wait_above_DISPATCH_LEVEL_even_a_poll_stops_with_C4_120(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(poll_at_high_level, NULL, 0xC4, 0x120, "wait.above_dispatch", &stop);
    assert_int_equal(stop.params[1], HIGH_LEVEL);
    assert_int_equal(stop.params[2], (ULONG_PTR)&scenario_event);
    assert_int_equal(stop.params[3], (ULONG_PTR)&scenario_timeout);
}

static void wait_forever_at_dispatch(void *context)
{
    KIRQL old;

    (void)context;
    KeInitializeEvent(&scenario_event, NotificationEvent, TRUE);
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    KeWaitForSingleObject(&scenario_event, Executive, KernelMode, FALSE, NULL);
}

static void a_wait_without_timeout_at_DISPATCH_LEVEL_stops_with_C4_121_even_on_a_signalled_object(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(wait_forever_at_dispatch, NULL, 0xC4, 0x121, "wait.at_dispatch_forever", &stop);
    assert_int_equal(stop.params[1], DISPATCH_LEVEL);
    assert_int_equal(stop.params[2], (ULONG_PTR)&scenario_event);
}

static void wait_with_timeout_at_dispatch(void *context)
{
    PVOID objects[1] = { &scenario_event };
    KIRQL old;

    (void)context;
    KeInitializeEvent(&scenario_event, NotificationEvent, FALSE);
    scenario_timeout.QuadPart = -1;
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    KeWaitForMultipleObjects(1, objects, WaitAny, Executive, KernelMode, FALSE, &scenario_timeout, NULL);
}

static void a_wait_with_a_nonzero_timeout_at_DISPATCH_LEVEL_stops_with_C4_122(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(wait_with_timeout_at_dispatch, NULL, 0xC4, 0x122, "wait.at_dispatch_with_timeout", &stop);
    assert_int_equal(stop.params[1], DISPATCH_LEVEL);
    assert_int_equal(stop.params[2], (ULONG_PTR)&scenario_event);
    assert_int_equal(stop.params[3], (ULONG_PTR)&scenario_timeout);
}

static void delay_at_dispatch(void *context)
{
    KIRQL old;

    (void)context;
    scenario_timeout.QuadPart = -TICKS_PER_SECOND;
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    KeDelayExecutionThread(KernelMode, FALSE, &scenario_timeout);
}

static void KeDelayExecutionThread_at_DISPATCH_LEVEL_stops_with_C4_122(void **state)
{
    (void)state;
    wdmsim_assert_stops(delay_at_dispatch, NULL, 0xC4, 0x122, "wait.at_dispatch_with_timeout", NULL);
}

static VOID NTAPI waiting_dpc(PKDPC dpc, PVOID context, PVOID argument1, PVOID argument2)
{
    (void)dpc;
    (void)argument1;
    (void)argument2;
    KeWaitForSingleObject(context, Executive, KernelMode, FALSE, NULL);
}

static void wait_inside_a_dpc(void *context)
{
    static KDPC dpc;
    static KEVENT never;

    (void)context;
    KeInitializeEvent(&scenario_event, NotificationEvent, TRUE);
    KeInitializeEvent(&never, NotificationEvent, FALSE);
    KeInitializeDpc(&dpc, waiting_dpc, &scenario_event);
    KeInsertQueueDpc(&dpc, NULL, NULL);
    KeWaitForSingleObject(&never, Executive, KernelMode, FALSE, NULL);
}

static void a_wait_inside_a_DPC_stops_with_ATTEMPTED_SWITCH_FROM_DPC_even_on_a_signalled_object(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(wait_inside_a_dpc, NULL, 0xB8, WDMSIM_ANY_PARAM, "wait.in_dpc", &stop);
    assert_int_not_equal(stop.params[0], 0);
    assert_int_equal(stop.params[1], stop.params[0]);
    assert_non_null(strstr(stop.report, "Thread:   dpc "));
    assert_non_null(strstr(stop.report, "IRQL:     DISPATCH_LEVEL"));
}

static VOID NTAPI polling_dpc(PKDPC dpc, PVOID context, PVOID argument1, PVOID argument2)
{
    LARGE_INTEGER poll = { .QuadPart = 0 };

    (void)dpc;
    (void)argument2;
    *(NTSTATUS *)argument1 = KeWaitForSingleObject(context, Executive, KernelMode, FALSE, &poll);
}

static void a_poll_inside_a_DPC_is_allowed(void **state)
{
    KEVENT event;
    KDPC dpc;
    NTSTATUS first = -1, second = -1;

    (void)state;
    KeInitializeEvent(&event, SynchronizationEvent, TRUE);
    KeInitializeDpc(&dpc, polling_dpc, &event);
    KeInsertQueueDpc(&dpc, &first, NULL);
    KeFlushQueuedDpcs();
    KeInsertQueueDpc(&dpc, &second, NULL);
    KeFlushQueuedDpcs();
    assert_int_equal(first, STATUS_SUCCESS);
    assert_int_equal(second, STATUS_TIMEOUT);
}

static KEVENT many_events[MAXIMUM_WAIT_OBJECTS + 1];
static PVOID many_objects[MAXIMUM_WAIT_OBJECTS + 1];
static KWAIT_BLOCK many_blocks[MAXIMUM_WAIT_OBJECTS + 1];

static void init_many(void)
{
    for (size_t i = 0; i < MAXIMUM_WAIT_OBJECTS + 1; i++) {
        KeInitializeEvent(&many_events[i], NotificationEvent, TRUE);
        many_objects[i] = &many_events[i];
    }
}

static void wait_on_65_objects(void *context)
{
    (void)context;
    init_many();
    KeWaitForMultipleObjects(MAXIMUM_WAIT_OBJECTS + 1, many_objects, WaitAny, Executive, KernelMode, FALSE,
                             NULL, many_blocks);
}

static void wait_on_4_objects_without_blocks(void *context)
{
    (void)context;
    init_many();
    KeWaitForMultipleObjects(THREAD_WAIT_OBJECTS + 1, many_objects, WaitAny, Executive, KernelMode, FALSE,
                             NULL, NULL);
}

static void more_than_64_objects_stops_with_MAXIMUM_WAIT_OBJECTS_EXCEEDED(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(wait_on_65_objects, NULL, 0x0C, 0, "wait.too_many_objects", &stop);
    for (int i = 1; i < 4; i++)
        assert_int_equal(stop.params[i], 0);
}

static void more_than_3_objects_without_a_WaitBlockArray_stops_with_MAXIMUM_WAIT_OBJECTS_EXCEEDED(void **state)
{
    (void)state;
    wdmsim_assert_stops(wait_on_4_objects_without_blocks, NULL, 0x0C, 0, "wait.too_many_objects", NULL);
}

static void sixty_four_objects_with_a_WaitBlockArray_are_allowed(void **state)
{
    (void)state;
    init_many();
    assert_int_equal(KeWaitForMultipleObjects(MAXIMUM_WAIT_OBJECTS, many_objects, WaitAll, Executive, KernelMode,
                                              FALSE, NULL, many_blocks), STATUS_SUCCESS);
}

static void wait_on_zeroed_event(void *context)
{
    (void)context;
    memset(&scenario_event, 0, sizeof scenario_event);
    KeWaitForSingleObject(&scenario_event, Executive, KernelMode, FALSE, NULL);
}

static void a_wait_on_an_uninitialised_event_stops_with_C4_1002(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(wait_on_zeroed_event, NULL, 0xC4, 0x1002, "dispatcher.uninitialized_object", &stop);
    assert_int_equal(stop.params[1], (ULONG_PTR)&scenario_event);
}

static void wait_all_on_a_zeroed_second_event(void *context)
{
    static KEVENT good;
    PVOID objects[2] = { &good, &scenario_event };

    (void)context;
    KeInitializeEvent(&good, NotificationEvent, TRUE);
    memset(&scenario_event, 0, sizeof scenario_event);
    KeWaitForMultipleObjects(2, objects, WaitAll, Executive, KernelMode, FALSE, NULL, NULL);
}

static void a_multiple_wait_with_one_uninitialised_object_stops_with_C4_1002(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(wait_all_on_a_zeroed_second_event, NULL, 0xC4, 0x1002, "dispatcher.uninitialized_object",
                        &stop);
    assert_int_equal(stop.params[1], (ULONG_PTR)&scenario_event);
}

/* ---- The deadlock report (the acceptance test of the dispatcher issue) ---- */

static void wait_forever_on_an_event_nobody_sets(void *context)
{
    (void)context;
    KeInitializeEvent(&scenario_event, NotificationEvent, FALSE);
    KeWaitForSingleObject(&scenario_event, Executive, KernelMode, FALSE, NULL);
}

static void a_lone_thread_waiting_for_ever_stops_with_a_deadlock_report_naming_it_and_its_event(void **state)
{
    struct wdmsim_stop stop;
    char expected[160];

    (void)state;
    wdmsim_assert_stops(wait_forever_on_an_event_nobody_sets, NULL, 0xE2, WDMSIM_ANY_PARAM, "sched.deadlock",
                        &stop);
    assert_string_equal(stop.code_name, "MANUALLY_INITIATED_CRASH");
    snprintf(expected, sizeof expected, "main: in KeWaitForSingleObject, for notification event %p",
             (void *)&scenario_event);
    if (strstr(stop.report, expected) == NULL)
        print_message("expected \"%s\" in:\n%s", expected, stop.report);
    assert_non_null(strstr(stop.report, expected));
    /* The DPC thread idles in a wait too, and the report says so. */
    assert_non_null(strstr(stop.report, "dpc: in KeWaitForSingleObject, for synchronization event"));
}

/* ---- DISPATCHER_HEADER ---- */

/* Windows' dispatcher object types (KOBJECTS) and each object's size in ULONGs, which code that
 * inspects a header reads. */
static void every_dispatcher_object_carries_the_Windows_type_and_its_size_in_ULONGs(void **state)
{
    KEVENT notification, synchronization;
    KMUTEX mutex;
    KSEMAPHORE semaphore;
    KTIMER timer, sync_timer;

    (void)state;
    memset(&notification, 0x55, sizeof notification);
    KeInitializeEvent(&notification, NotificationEvent, FALSE);
    KeInitializeEvent(&synchronization, SynchronizationEvent, FALSE);
    KeInitializeMutex(&mutex, 0);
    KeInitializeSemaphore(&semaphore, 0, 1);
    KeInitializeTimer(&timer);
    KeInitializeTimerEx(&sync_timer, SynchronizationTimer);
    assert_int_equal(notification.Header.Type, 0);
    assert_int_equal(notification.Header.Size, 6);
    assert_int_equal(synchronization.Header.Type, 1);
    assert_int_equal(synchronization.Header.Size, 6);
    assert_int_equal(mutex.Header.Type, 2);
    assert_int_equal(mutex.Header.Size, 14);
    assert_int_equal(semaphore.Header.Type, 5);
    assert_int_equal(semaphore.Header.Size, 8);
    assert_int_equal(timer.Header.Type, 8);
    assert_int_equal(timer.Header.Size, 16);
    assert_int_equal(sync_timer.Header.Type, 9);
    assert_int_equal(sync_timer.Header.Size, 16);
    assert_int_equal(((DISPATCHER_HEADER *)KeGetCurrentThread())->Type, 6);
    assert_int_not_equal(((DISPATCHER_HEADER *)KeGetCurrentThread())->Size, 0);
    assert_int_equal(((DISPATCHER_HEADER *)IoGetCurrentProcess())->Type, 3);
    assert_int_not_equal(((DISPATCHER_HEADER *)IoGetCurrentProcess())->Size, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        wdmsim_test(every_dispatcher_object_carries_the_Windows_type_and_its_size_in_ULONGs),
        wdmsim_test(WaitAny_returns_STATUS_WAIT_0_plus_the_lowest_signalled_index_and_takes_only_that_object),
        wdmsim_test(WaitAny_of_a_blocked_thread_returns_the_index_of_the_object_that_was_set),
        wdmsim_test(WaitAny_may_name_an_object_twice_and_returns_its_first_index),
        wdmsim_test(WaitAny_poll_with_nothing_signalled_returns_STATUS_TIMEOUT),
        wdmsim_test(WaitAll_with_one_of_two_signalled_consumes_nothing_and_a_poll_times_out),
        wdmsim_test(WaitAll_that_times_out_leaves_the_signalled_sync_event_signalled),
        wdmsim_test(WaitAll_blocked_on_two_sync_events_takes_both_at_once_when_the_second_is_set),
        wdmsim_test(WaitAll_signal_taken_by_another_wait_in_between_keeps_the_WaitAll_blocked),
        wdmsim_test(WaitAll_naming_an_object_twice_returns_STATUS_INVALID_PARAMETER_MIX),
        wdmsim_test(a_callers_WaitBlockArray_carries_a_WaitAll_on_five_objects),
        wdmsim_test(a_callers_WaitBlockArray_carries_a_WaitAny_on_five_objects),
        wdmsim_test(a_relative_timeout_returns_STATUS_TIMEOUT_exactly_that_much_later),
        wdmsim_test(an_absolute_timeout_returns_STATUS_TIMEOUT_at_that_system_time),
        wdmsim_test(an_absolute_timeout_already_past_returns_STATUS_TIMEOUT_at_once),
        wdmsim_test(a_zero_timeout_polls_without_time_passing),
        wdmsim_test(a_wait_on_a_signalled_object_returns_before_its_timeout),
        wdmsim_test(a_poll_at_DISPATCH_LEVEL_is_allowed),
        wdmsim_test(a_relative_timeout_too_long_for_the_clock_waits_for_ever_instead_of_timing_out_at_once),
        wdmsim_test(KeDelayExecutionThread_advances_virtual_time_by_exactly_the_interval),
        wdmsim_test(KeDelayExecutionThread_to_an_absolute_time_returns_at_that_time),
        wdmsim_test(a_wait_above_DISPATCH_LEVEL_even_a_poll_stops_with_C4_120),
        wdmsim_test(a_wait_without_timeout_at_DISPATCH_LEVEL_stops_with_C4_121_even_on_a_signalled_object),
        wdmsim_test(a_wait_with_a_nonzero_timeout_at_DISPATCH_LEVEL_stops_with_C4_122),
        wdmsim_test(KeDelayExecutionThread_at_DISPATCH_LEVEL_stops_with_C4_122),
        wdmsim_test(a_wait_inside_a_DPC_stops_with_ATTEMPTED_SWITCH_FROM_DPC_even_on_a_signalled_object),
        wdmsim_test(a_poll_inside_a_DPC_is_allowed),
        wdmsim_test(more_than_64_objects_stops_with_MAXIMUM_WAIT_OBJECTS_EXCEEDED),
        wdmsim_test(more_than_3_objects_without_a_WaitBlockArray_stops_with_MAXIMUM_WAIT_OBJECTS_EXCEEDED),
        wdmsim_test(sixty_four_objects_with_a_WaitBlockArray_are_allowed),
        wdmsim_test(a_wait_on_an_uninitialised_event_stops_with_C4_1002),
        wdmsim_test(a_multiple_wait_with_one_uninitialised_object_stops_with_C4_1002),
        wdmsim_test(a_lone_thread_waiting_for_ever_stops_with_a_deadlock_report_naming_it_and_its_event),
    };

    /* A STOP scenario's child boots from the environment: on the virtual clock, like the tests. */
    setenv("WDMSIM_CLOCK", "virtual", 1);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
