/*
 * test_semaphore.c - KSEMAPHORE: count, limit, waiters and IRQL after every call; a release
 * waking as many waiters as it adds, oldest first; the limit; every misuse stopping with its code.
 * Concurrency uses the handshakes of wdmsim_test_threads.h only: no sleeps, no timing.
 */
#include <wdmsim/test.h>
#include "wdmsim_test_threads.h"

/* Expected waiters, oldest first, as a NULL-terminated list. */
#define WAITERS(...) ((const PKTHREAD[]){ __VA_ARGS__, NULL })
#define NO_WAITERS ((const PKTHREAD[]){ NULL })
/* DISPATCHER_HEADER.Type of a semaphore, as NT numbers its objects. */
#define SEMAPHORE_TYPE 5

/* A test thread that takes one from a semaphore and then waits for go. Its status is written by
 * the thread and read by the test only after a handshake (a settle, a join). */
struct worker {
    struct wdmsim_test_thread thread;
    PRKSEMAPHORE semaphore;
    KEVENT go;                  /* set by the test thread: end */
    NTSTATUS status;            /* what the wait on the semaphore returned */
};

static void take_one_until_go(void *context)
{
    struct worker *w = context;

    w->status = KeWaitForSingleObject(w->semaphore, Executive, KernelMode, FALSE, NULL);
    KeWaitForSingleObject(&w->go, Executive, KernelMode, FALSE, NULL);
}

static void worker_start(struct worker *w, PRKSEMAPHORE semaphore)
{
    w->semaphore = semaphore;
    w->status = STATUS_PENDING;
    KeInitializeEvent(&w->go, SynchronizationEvent, FALSE);
    wdmsim_test_thread_start(&w->thread, take_one_until_go, w);
}

static void worker_finish(struct worker *w)
{
    KeSetEvent(&w->go, IO_NO_INCREMENT, FALSE);
    wdmsim_test_thread_join(&w->thread);
}

/* The whole observable state of a semaphore, and the caller's IRQL. */
static void check_semaphore(KSEMAPHORE *semaphore, LONG count, LONG limit, const PKTHREAD *waiters, KIRQL irql)
{
    assert_int_equal(semaphore->Header.Type, SEMAPHORE_TYPE);
    assert_int_equal(semaphore->Header.SignalState, count);
    assert_int_equal(KeReadStateSemaphore(semaphore), count);
    assert_int_equal(semaphore->Limit, limit);
    wdmsim_assert_waiters(&semaphore->Header, waiters);
    assert_int_equal(KeGetCurrentIrql(), irql);
}

/* A worker that got past the semaphore now waits for its go event. */
static void check_passed(struct worker *w)
{
    assert_int_equal(w->status, STATUS_SUCCESS);
    wdmsim_assert_waiters(&w->go.Header, WAITERS(w->thread.kthread));
}

static void check_still_waiting(struct worker *w)
{
    assert_int_equal(w->status, STATUS_PENDING);
    wdmsim_assert_waiters(&w->go.Header, NO_WAITERS);
}

static void KeInitializeSemaphore_sets_the_count_and_the_limit(void **state)
{
    KSEMAPHORE semaphore;

    (void)state;
    memset(&semaphore, 0xA5, sizeof semaphore);
    KeInitializeSemaphore(&semaphore, 2, 5);
    check_semaphore(&semaphore, 2, 5, NO_WAITERS, PASSIVE_LEVEL);
}

static void each_satisfied_wait_takes_one_until_the_count_is_zero(void **state)
{
    KSEMAPHORE semaphore;
    LARGE_INTEGER zero;

    (void)state;
    zero.QuadPart = 0;
    KeInitializeSemaphore(&semaphore, 2, 2);
    assert_int_equal(KeWaitForSingleObject(&semaphore, Executive, KernelMode, FALSE, &zero), STATUS_SUCCESS);
    check_semaphore(&semaphore, 1, 2, NO_WAITERS, PASSIVE_LEVEL);
    assert_int_equal(KeWaitForSingleObject(&semaphore, Executive, KernelMode, FALSE, &zero), STATUS_SUCCESS);
    check_semaphore(&semaphore, 0, 2, NO_WAITERS, PASSIVE_LEVEL);
    assert_int_equal(KeWaitForSingleObject(&semaphore, Executive, KernelMode, FALSE, &zero), STATUS_TIMEOUT);
    check_semaphore(&semaphore, 0, 2, NO_WAITERS, PASSIVE_LEVEL);
}

static void KeReleaseSemaphore_returns_the_previous_count_and_may_reach_the_limit(void **state)
{
    KSEMAPHORE semaphore;

    (void)state;
    KeInitializeSemaphore(&semaphore, 1, 5);
    assert_int_equal(KeReleaseSemaphore(&semaphore, SEMAPHORE_INCREMENT, 2, FALSE), 1);
    check_semaphore(&semaphore, 3, 5, NO_WAITERS, PASSIVE_LEVEL);
    assert_int_equal(KeReleaseSemaphore(&semaphore, SEMAPHORE_INCREMENT, 2, FALSE), 3);
    check_semaphore(&semaphore, 5, 5, NO_WAITERS, PASSIVE_LEVEL);
}

static void KeReleaseSemaphore_at_DISPATCH_LEVEL_is_allowed(void **state)
{
    KSEMAPHORE semaphore;
    KIRQL old;

    (void)state;
    KeInitializeSemaphore(&semaphore, 0, 1);
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    assert_int_equal(KeReleaseSemaphore(&semaphore, SEMAPHORE_INCREMENT, 1, FALSE), 0);
    check_semaphore(&semaphore, 1, 1, NO_WAITERS, DISPATCH_LEVEL);
    KeLowerIrql(old);
}

static void KeReadStateSemaphore_reads_the_count_at_any_irql(void **state)
{
    KSEMAPHORE semaphore;
    KIRQL old;

    (void)state;
    KeInitializeSemaphore(&semaphore, 3, 4);
    KeRaiseIrql(HIGH_LEVEL, &old);
    assert_int_equal(KeReadStateSemaphore(&semaphore), 3);
    KeLowerIrql(old);
}

/* The example of the book's chapter: a count of 2 lets two of three threads through. */
static void with_a_count_of_two_two_of_three_waiters_proceed_and_one_waits(void **state)
{
    struct worker workers[3];
    KSEMAPHORE semaphore;

    (void)state;
    KeInitializeSemaphore(&semaphore, 2, 2);
    for (int i = 0; i < 3; i++) {
        worker_start(&workers[i], &semaphore);
        wdmsim_test_settle();
    }
    check_semaphore(&semaphore, 0, 2, WAITERS(workers[2].thread.kthread), PASSIVE_LEVEL);
    check_passed(&workers[0]);
    check_passed(&workers[1]);
    check_still_waiting(&workers[2]);

    assert_int_equal(KeReleaseSemaphore(&semaphore, SEMAPHORE_INCREMENT, 1, FALSE), 0);
    check_semaphore(&semaphore, 0, 2, NO_WAITERS, PASSIVE_LEVEL);
    wdmsim_test_settle();
    check_passed(&workers[2]);
    for (int i = 0; i < 3; i++)
        worker_finish(&workers[i]);
    check_semaphore(&semaphore, 0, 2, NO_WAITERS, PASSIVE_LEVEL);
}

static void a_release_of_n_wakes_the_n_oldest_waiters_each_taking_one(void **state)
{
    struct worker workers[3];
    KSEMAPHORE semaphore;

    (void)state;
    KeInitializeSemaphore(&semaphore, 0, 10);
    for (int i = 0; i < 3; i++) {
        worker_start(&workers[i], &semaphore);
        wdmsim_test_settle();
    }
    check_semaphore(&semaphore, 0, 10,
                    WAITERS(workers[0].thread.kthread, workers[1].thread.kthread, workers[2].thread.kthread),
                    PASSIVE_LEVEL);

    assert_int_equal(KeReleaseSemaphore(&semaphore, SEMAPHORE_INCREMENT, 2, FALSE), 0);
    check_semaphore(&semaphore, 0, 10, WAITERS(workers[2].thread.kthread), PASSIVE_LEVEL);
    wdmsim_test_settle();
    check_passed(&workers[0]);
    check_passed(&workers[1]);
    check_still_waiting(&workers[2]);

    assert_int_equal(KeReleaseSemaphore(&semaphore, SEMAPHORE_INCREMENT, 3, FALSE), 0);
    check_semaphore(&semaphore, 2, 10, NO_WAITERS, PASSIVE_LEVEL);
    wdmsim_test_settle();
    check_passed(&workers[2]);
    for (int i = 0; i < 3; i++)
        worker_finish(&workers[i]);
    check_semaphore(&semaphore, 2, 10, NO_WAITERS, PASSIVE_LEVEL);
}

/* ---- Misuse ---- */

static KSEMAPHORE scenario_semaphore;

struct release {
    LONG count, limit, adjustment;
};

static void release_beyond(void *context)
{
    const struct release *r = context;

    KeInitializeSemaphore(&scenario_semaphore, r->count, r->limit);
    KeReleaseSemaphore(&scenario_semaphore, SEMAPHORE_INCREMENT, r->adjustment, FALSE);
}

static void KeReleaseSemaphore_past_the_limit_stops_with_0x1E_and_leaves_the_count(void **state)
{
    struct release r = { 2, 2, 1 };
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(release_beyond, &r, 0x1E, (ULONG)STATUS_SEMAPHORE_LIMIT_EXCEEDED,
                        "semaphore.limit_exceeded", &stop);
    assert_int_equal(stop.params[1], (ULONG_PTR)&scenario_semaphore);
    assert_int_equal(stop.params[2], 1);
    assert_int_equal(stop.params[3], 2);
    assert_non_null(strstr(stop.report, "KMODE_EXCEPTION_NOT_HANDLED"));
    assert_non_null(strstr(stop.report, "would pass its limit 2; the count stays 2"));
}

static void KeReleaseSemaphore_that_overflows_the_count_stops_with_0x1E(void **state)
{
    struct release r = { 1, MAXLONG, MAXLONG };
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(release_beyond, &r, 0x1E, (ULONG)STATUS_SEMAPHORE_LIMIT_EXCEEDED,
                        "semaphore.limit_exceeded", &stop);
    assert_non_null(strstr(stop.report, "the count stays 1"));
}

static void KeReleaseSemaphore_with_a_negative_adjustment_stops_like_an_overflow(void **state)
{
    struct release r = { 3, 5, -1 };
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(release_beyond, &r, 0x1E, (ULONG)STATUS_SEMAPHORE_LIMIT_EXCEEDED,
                        "semaphore.limit_exceeded", &stop);
    assert_non_null(strstr(stop.report, "the count stays 3"));
}

static VOID NTAPI release_beyond_in_system_thread(PVOID context)
{
    release_beyond(context);
}

static void release_beyond_from_a_system_thread(void *context)
{
    HANDLE handle;
    PVOID thread;

    PsCreateSystemThread(&handle, THREAD_ALL_ACCESS, NULL, NULL, NULL, release_beyond_in_system_thread, context);
    ObReferenceObjectByHandle(handle, SYNCHRONIZE, *PsThreadType, KernelMode, &thread, NULL);
    ZwClose(handle);
    KeWaitForSingleObject(thread, Executive, KernelMode, FALSE, NULL);
    ObDereferenceObject(thread);
}

static void KeReleaseSemaphore_past_the_limit_in_a_system_thread_stops_with_0x7E(void **state)
{
    struct release r = { 1, 1, 1 };
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(release_beyond_from_a_system_thread, &r, 0x7E, (ULONG)STATUS_SEMAPHORE_LIMIT_EXCEEDED,
                        "semaphore.limit_exceeded", &stop);
    assert_non_null(strstr(stop.report, "SYSTEM_THREAD_EXCEPTION_NOT_HANDLED"));
    assert_non_null(strstr(stop.report, "the count stays 1"));
}

static void release_with_wait_true_at_dispatch(void *context)
{
    KIRQL old;

    (void)context;
    KeInitializeSemaphore(&scenario_semaphore, 0, 1);
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    KeReleaseSemaphore(&scenario_semaphore, SEMAPHORE_INCREMENT, 1, TRUE);
}

static void KeReleaseSemaphore_with_Wait_TRUE_at_DISPATCH_LEVEL_stops_with_C4_20016(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(release_with_wait_true_at_dispatch, NULL, 0xC4, 0x20016, "ke.wait_true_above_apc", &stop);
    assert_int_equal(stop.params[1], DISPATCH_LEVEL);
    assert_int_equal(stop.params[2], (ULONG_PTR)&scenario_semaphore);
}

static void release_above_dispatch(void *context)
{
    KIRQL old;

    (void)context;
    KeInitializeSemaphore(&scenario_semaphore, 0, 1);
    KeRaiseIrql(HIGH_LEVEL, &old);
    KeReleaseSemaphore(&scenario_semaphore, SEMAPHORE_INCREMENT, 1, FALSE);
}

static void KeReleaseSemaphore_above_DISPATCH_LEVEL_stops_with_C4_20011(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(release_above_dispatch, NULL, 0xC4, 0x20011, "ke.above_dispatch", &stop);
    assert_int_equal(stop.params[1], HIGH_LEVEL);
}

static KMUTEX scenario_mutex;

static void release_a_mutex_as_a_semaphore(void *context)
{
    (void)context;
    KeInitializeMutex(&scenario_mutex, 0);
    KeReleaseSemaphore((PRKSEMAPHORE)&scenario_mutex, SEMAPHORE_INCREMENT, 1, FALSE);
}

static void KeReleaseSemaphore_on_a_mutex_stops_with_C4_1002(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(release_a_mutex_as_a_semaphore, NULL, 0xC4, 0x1002, "dispatcher.uninitialized_object",
                        &stop);
    assert_non_null(strstr(stop.report, "not a semaphore"));
}

static void read_a_zeroed_semaphore(void *context)
{
    (void)context;
    memset(&scenario_semaphore, 0, sizeof scenario_semaphore);
    KeReadStateSemaphore(&scenario_semaphore);
}

static void KeReadStateSemaphore_on_an_uninitialised_semaphore_stops_with_C4_1002(void **state)
{
    (void)state;
    wdmsim_assert_stops(read_a_zeroed_semaphore, NULL, 0xC4, 0x1002, "dispatcher.uninitialized_object", NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        wdmsim_test(KeInitializeSemaphore_sets_the_count_and_the_limit),
        wdmsim_test(each_satisfied_wait_takes_one_until_the_count_is_zero),
        wdmsim_test(KeReleaseSemaphore_returns_the_previous_count_and_may_reach_the_limit),
        wdmsim_test(KeReleaseSemaphore_at_DISPATCH_LEVEL_is_allowed),
        wdmsim_test(KeReadStateSemaphore_reads_the_count_at_any_irql),
        wdmsim_test(with_a_count_of_two_two_of_three_waiters_proceed_and_one_waits),
        wdmsim_test(a_release_of_n_wakes_the_n_oldest_waiters_each_taking_one),
        wdmsim_test(KeReleaseSemaphore_past_the_limit_stops_with_0x1E_and_leaves_the_count),
        wdmsim_test(KeReleaseSemaphore_past_the_limit_in_a_system_thread_stops_with_0x7E),
        wdmsim_test(KeReleaseSemaphore_that_overflows_the_count_stops_with_0x1E),
        wdmsim_test(KeReleaseSemaphore_with_a_negative_adjustment_stops_like_an_overflow),
        wdmsim_test(KeReleaseSemaphore_with_Wait_TRUE_at_DISPATCH_LEVEL_stops_with_C4_20016),
        wdmsim_test(KeReleaseSemaphore_above_DISPATCH_LEVEL_stops_with_C4_20011),
        wdmsim_test(KeReleaseSemaphore_on_a_mutex_stops_with_C4_1002),
        wdmsim_test(KeReadStateSemaphore_on_an_uninitialised_semaphore_stops_with_C4_1002),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
