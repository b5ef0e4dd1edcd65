/*
 * test_mutex.c - KMUTEX, FAST_MUTEX (and its unsafe forms) and KGUARDED_MUTEX: state, owner, waiters and IRQL after every call; the
 * hand-off to the oldest waiter; contention between threads; every misuse stopping with its code.
 * Concurrency uses the handshakes of wdmsim_test_threads.h only: no sleeps, no timing.
 */
#include <stdatomic.h>
#include <stdio.h>

#include <wdmsim/test.h>
#include "wdmsim_test_threads.h"

#define CONTENDED_ROUNDS 2000
#define CONTENDERS 3
/* DISPATCHER_HEADER.Type values, as NT numbers its objects. */
#define SYNCHRONIZATION_EVENT_TYPE 1
#define MUTANT_TYPE 2

/* Expected waiters, oldest first, as a NULL-terminated list. */
#define WAITERS(...) ((const PKTHREAD[]){ __VA_ARGS__, NULL })
#define NO_WAITERS ((const PKTHREAD[]){ NULL })

/* A test thread running body on up to two objects. Its fields are written by the thread and read
 * by the test only after a handshake (a settle, a join). No CMocka asserts in bodies: STOP
 * scenarios use workers too, in a forked child. */
struct worker {
    struct wdmsim_test_thread thread;
    void (*body)(struct worker *);
    PVOID objects[2];
    KEVENT go;                  /* set by the test thread: carry on */
    NTSTATUS status;            /* what the body's first wait returned */
    KIRQL irql;                 /* the body's IRQL while it holds the lock */
};

static void worker_run(void *context)
{
    struct worker *w = context;

    w->body(w);
}

static void worker_start(struct worker *w, void (*body)(struct worker *), PVOID object0, PVOID object1)
{
    w->body = body;
    w->objects[0] = object0;
    w->objects[1] = object1;
    w->status = STATUS_PENDING;
    KeInitializeEvent(&w->go, SynchronizationEvent, FALSE);
    wdmsim_test_thread_start(&w->thread, worker_run, w);
}

static NTSTATUS wait_for(PVOID object)
{
    return KeWaitForSingleObject(object, Executive, KernelMode, FALSE, NULL);
}

/* The whole observable state of a KMUTEX, and the caller's IRQL. */
static void check_mutex(KMUTEX *mutex, LONG state, PKTHREAD owner, const PKTHREAD *waiters, KIRQL irql)
{
    assert_int_equal(mutex->Header.Type, MUTANT_TYPE);
    assert_int_equal(mutex->Header.SignalState, state);
    assert_int_equal(KeReadStateMutex(mutex), state);
    assert_ptr_equal(mutex->OwnerThread, owner);
    assert_int_equal(mutex->Abandoned, FALSE);
    assert_int_equal(mutex->ApcDisable, 1);
    wdmsim_assert_waiters(&mutex->Header, waiters);
    assert_int_equal(KeGetCurrentIrql(), irql);
}

/* The whole observable state of a FAST_MUTEX (its event included), and the caller's IRQL. */
static void check_fast_mutex(FAST_MUTEX *fast, LONG count, PKTHREAD owner, ULONG contention,
                             const PKTHREAD *waiters, KIRQL irql)
{
    assert_int_equal(fast->Count, count);
    assert_ptr_equal(fast->Owner, owner);
    assert_int_equal(fast->Contention, contention);
    assert_int_equal(fast->Event.Header.Type, SYNCHRONIZATION_EVENT_TYPE);
    assert_int_equal(fast->Event.Header.SignalState, 0);
    wdmsim_assert_waiters(&fast->Event.Header, waiters);
    assert_int_equal(KeGetCurrentIrql(), irql);
}

/* ---- KMUTEX ---- */

static void KeInitializeMutex_makes_a_free_signalled_mutex(void **state)
{
    KMUTEX mutex;

    (void)state;
    memset(&mutex, 0xA5, sizeof mutex);
    KeInitializeMutex(&mutex, 0);
    check_mutex(&mutex, 1, NULL, NO_WAITERS, PASSIVE_LEVEL);
}

static void KeWaitForMutexObject_on_a_free_mutex_makes_the_caller_its_owner(void **state)
{
    PKTHREAD me = KeGetCurrentThread();
    KMUTEX mutex;

    (void)state;
    KeInitializeMutex(&mutex, 0);
    assert_int_equal(KeWaitForMutexObject(&mutex, Executive, KernelMode, FALSE, NULL), STATUS_SUCCESS);
    check_mutex(&mutex, 0, me, NO_WAITERS, PASSIVE_LEVEL);
    assert_int_equal(KeReleaseMutex(&mutex, FALSE), 0);
    check_mutex(&mutex, 1, NULL, NO_WAITERS, PASSIVE_LEVEL);
}

static void the_owner_acquires_recursively_and_releases_once_per_acquisition(void **state)
{
    PKTHREAD me = KeGetCurrentThread();
    KMUTEX mutex;

    (void)state;
    KeInitializeMutex(&mutex, 0);
    for (LONG held = 1; held <= 3; held++) {
        assert_int_equal(wait_for(&mutex), STATUS_SUCCESS);
        check_mutex(&mutex, 1 - held, me, NO_WAITERS, PASSIVE_LEVEL);
    }
    assert_int_equal(KeReleaseMutex(&mutex, FALSE), -2);
    check_mutex(&mutex, -1, me, NO_WAITERS, PASSIVE_LEVEL);
    assert_int_equal(KeReleaseMutex(&mutex, FALSE), -1);
    check_mutex(&mutex, 0, me, NO_WAITERS, PASSIVE_LEVEL);
    assert_int_equal(KeReleaseMutex(&mutex, FALSE), 0);
    check_mutex(&mutex, 1, NULL, NO_WAITERS, PASSIVE_LEVEL);
}

static void mutexes_may_be_released_in_any_order(void **state)
{
    PKTHREAD me = KeGetCurrentThread();
    KMUTEX first, second, third;

    (void)state;
    KeInitializeMutex(&first, 0);
    KeInitializeMutex(&second, 0);
    KeInitializeMutex(&third, 0);
    wait_for(&first);
    wait_for(&second);
    wait_for(&third);
    assert_int_equal(KeReleaseMutex(&second, FALSE), 0);
    check_mutex(&first, 0, me, NO_WAITERS, PASSIVE_LEVEL);
    check_mutex(&second, 1, NULL, NO_WAITERS, PASSIVE_LEVEL);
    check_mutex(&third, 0, me, NO_WAITERS, PASSIVE_LEVEL);
    assert_int_equal(KeReleaseMutex(&first, FALSE), 0);
    check_mutex(&first, 1, NULL, NO_WAITERS, PASSIVE_LEVEL);
    check_mutex(&third, 0, me, NO_WAITERS, PASSIVE_LEVEL);
    assert_int_equal(KeReleaseMutex(&third, FALSE), 0);
    check_mutex(&third, 1, NULL, NO_WAITERS, PASSIVE_LEVEL);
}

static void KeReleaseMutex_at_DISPATCH_LEVEL_is_allowed(void **state)
{
    KMUTEX mutex;
    KIRQL old;

    (void)state;
    KeInitializeMutex(&mutex, 0);
    wait_for(&mutex);
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    assert_int_equal(KeReleaseMutex(&mutex, FALSE), 0);
    check_mutex(&mutex, 1, NULL, NO_WAITERS, DISPATCH_LEVEL);
    KeLowerIrql(old);
}

/* Acquires objects[0], holds it until go, then releases it. */
static void hold_mutex_until_go(struct worker *w)
{
    w->status = wait_for(w->objects[0]);
    wait_for(&w->go);
    KeReleaseMutex(w->objects[0], FALSE);
}

static void a_zero_timeout_wait_on_another_threads_mutex_times_out_and_changes_nothing(void **state)
{
    struct worker holder;
    LARGE_INTEGER zero;
    KMUTEX mutex;

    (void)state;
    zero.QuadPart = 0;
    KeInitializeMutex(&mutex, 0);
    worker_start(&holder, hold_mutex_until_go, &mutex, NULL);
    wdmsim_test_settle();
    check_mutex(&mutex, 0, holder.thread.kthread, NO_WAITERS, PASSIVE_LEVEL);

    assert_int_equal(KeWaitForSingleObject(&mutex, Executive, KernelMode, FALSE, &zero), STATUS_TIMEOUT);
    check_mutex(&mutex, 0, holder.thread.kthread, NO_WAITERS, PASSIVE_LEVEL);

    KeSetEvent(&holder.go, IO_NO_INCREMENT, FALSE);
    wdmsim_test_thread_join(&holder.thread);
    check_mutex(&mutex, 1, NULL, NO_WAITERS, PASSIVE_LEVEL);
}

static void KeReleaseMutex_hands_the_mutex_to_the_oldest_waiter(void **state)
{
    PKTHREAD me = KeGetCurrentThread();
    struct worker first, second;
    KMUTEX mutex;

    (void)state;
    KeInitializeMutex(&mutex, 0);
    wait_for(&mutex);
    worker_start(&first, hold_mutex_until_go, &mutex, NULL);
    wdmsim_test_settle();
    worker_start(&second, hold_mutex_until_go, &mutex, NULL);
    wdmsim_test_settle();
    check_mutex(&mutex, 0, me, WAITERS(first.thread.kthread, second.thread.kthread), PASSIVE_LEVEL);

    assert_int_equal(KeReleaseMutex(&mutex, FALSE), 0);
    check_mutex(&mutex, 0, first.thread.kthread, WAITERS(second.thread.kthread), PASSIVE_LEVEL);
    wdmsim_test_settle();
    assert_int_equal(first.status, STATUS_SUCCESS);
    assert_int_equal(second.status, STATUS_PENDING);

    KeSetEvent(&first.go, IO_NO_INCREMENT, FALSE);
    wdmsim_test_thread_join(&first.thread);
    check_mutex(&mutex, 0, second.thread.kthread, NO_WAITERS, PASSIVE_LEVEL);
    wdmsim_test_settle();
    assert_int_equal(second.status, STATUS_SUCCESS);

    KeSetEvent(&second.go, IO_NO_INCREMENT, FALSE);
    wdmsim_test_thread_join(&second.thread);
    check_mutex(&mutex, 1, NULL, NO_WAITERS, PASSIVE_LEVEL);
}

/* WaitAll on objects[0] (a mutex) and objects[1]; holds the mutex until go. */
static void wait_all_then_hold_mutex_until_go(struct worker *w)
{
    w->status = KeWaitForMultipleObjects(2, w->objects, WaitAll, Executive, KernelMode, FALSE, NULL, NULL);
    wait_for(&w->go);
    KeReleaseMutex(w->objects[0], FALSE);
}

static void a_WaitAll_on_a_mutex_and_an_event_takes_both_at_one_instant(void **state)
{
    PKTHREAD me = KeGetCurrentThread();
    struct worker waiter;
    KMUTEX mutex;
    KEVENT event;

    (void)state;
    KeInitializeMutex(&mutex, 0);
    KeInitializeEvent(&event, SynchronizationEvent, FALSE);
    worker_start(&waiter, wait_all_then_hold_mutex_until_go, &mutex, &event);
    wdmsim_test_settle();
    check_mutex(&mutex, 1, NULL, WAITERS(waiter.thread.kthread), PASSIVE_LEVEL);

    /* The free mutex alone does not satisfy the WaitAll, so this thread can still take it. */
    assert_int_equal(wait_for(&mutex), STATUS_SUCCESS);
    check_mutex(&mutex, 0, me, WAITERS(waiter.thread.kthread), PASSIVE_LEVEL);
    /* Nor does the event alone: it stays signalled instead of being consumed. */
    KeSetEvent(&event, IO_NO_INCREMENT, FALSE);
    assert_int_equal(event.Header.SignalState, 1);
    assert_int_equal(waiter.status, STATUS_PENDING);

    assert_int_equal(KeReleaseMutex(&mutex, FALSE), 0);
    check_mutex(&mutex, 0, waiter.thread.kthread, NO_WAITERS, PASSIVE_LEVEL);
    assert_int_equal(event.Header.SignalState, 0);
    wdmsim_test_settle();
    assert_int_equal(waiter.status, STATUS_SUCCESS);
    KeSetEvent(&waiter.go, IO_NO_INCREMENT, FALSE);
    wdmsim_test_thread_join(&waiter.thread);
    check_mutex(&mutex, 1, NULL, NO_WAITERS, PASSIVE_LEVEL);
}

/* ---- KMUTEX misuse ---- */

static KMUTEX scenario_mutex;
static FAST_MUTEX scenario_fast_mutex;

static void release_scenario_mutex(struct worker *w)
{
    (void)w;
    KeReleaseMutex(&scenario_mutex, FALSE);
}

static void release_a_mutex_main_owns_from_another_thread(void *context)
{
    struct worker other;

    (void)context;
    KeInitializeMutex(&scenario_mutex, 0);
    wait_for(&scenario_mutex);
    worker_start(&other, release_scenario_mutex, NULL, NULL);
    wdmsim_test_thread_join(&other.thread);
}

static void KeReleaseMutex_by_a_non_owner_stops_with_0x1E_STATUS_MUTANT_NOT_OWNED(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(release_a_mutex_main_owns_from_another_thread, NULL, 0x1E, (ULONG)STATUS_MUTANT_NOT_OWNED,
                        "mutex.release_not_owner", &stop);
    assert_int_equal(stop.params[1], (ULONG_PTR)&scenario_mutex);
    assert_non_null(strstr(stop.report, "KMODE_EXCEPTION_NOT_HANDLED"));
    assert_non_null(strstr(stop.report, "owned by main"));
    assert_non_null(strstr(stop.report, "Thread:   System:"));
}

/* Runs routine on a new system thread and waits for it to end, unless a STOP ends the machine. */
static void run_system_thread(PKSTART_ROUTINE routine, PVOID context)
{
    HANDLE handle;
    PVOID thread;

    PsCreateSystemThread(&handle, THREAD_ALL_ACCESS, NULL, NULL, NULL, routine, context);
    ObReferenceObjectByHandle(handle, SYNCHRONIZE, *PsThreadType, KernelMode, &thread, NULL);
    ZwClose(handle);
    wait_for(thread);
    ObDereferenceObject(thread);
}

static VOID NTAPI release_scenario_mutex_in_system_thread(PVOID context)
{
    (void)context;
    KeReleaseMutex(&scenario_mutex, FALSE);
}

static void release_a_mutex_main_owns_from_a_system_thread(void *context)
{
    (void)context;
    KeInitializeMutex(&scenario_mutex, 0);
    wait_for(&scenario_mutex);
    run_system_thread(release_scenario_mutex_in_system_thread, NULL);
}

static void KeReleaseMutex_by_a_non_owner_in_a_system_thread_stops_with_0x7E(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(release_a_mutex_main_owns_from_a_system_thread, NULL, 0x7E,
                        (ULONG)STATUS_MUTANT_NOT_OWNED, "mutex.release_not_owner", &stop);
    assert_int_equal(stop.params[1], (ULONG_PTR)&scenario_mutex);
    assert_non_null(strstr(stop.report, "SYSTEM_THREAD_EXCEPTION_NOT_HANDLED"));
    assert_non_null(strstr(stop.report, "owned by main"));
}

static void release_a_free_mutex(void *context)
{
    (void)context;
    KeInitializeMutex(&scenario_mutex, 0);
    KeReleaseMutex(&scenario_mutex, FALSE);
}

static void KeReleaseMutex_of_a_free_mutex_stops_with_0x1E_naming_nobody(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(release_a_free_mutex, NULL, 0x1E, (ULONG)STATUS_MUTANT_NOT_OWNED, "mutex.release_not_owner",
                        &stop);
    assert_non_null(strstr(stop.report, "owned by nobody"));
}

static void release_with_wait_true_at_dispatch(void *context)
{
    KIRQL old;

    (void)context;
    KeInitializeMutex(&scenario_mutex, 0);
    wait_for(&scenario_mutex);
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    KeReleaseMutex(&scenario_mutex, TRUE);
}

static void KeReleaseMutex_with_Wait_TRUE_at_DISPATCH_LEVEL_stops_with_C4_20016(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(release_with_wait_true_at_dispatch, NULL, 0xC4, 0x20016, "ke.wait_true_above_apc", &stop);
    assert_int_equal(stop.params[1], DISPATCH_LEVEL);
    assert_int_equal(stop.params[2], (ULONG_PTR)&scenario_mutex);
}

static void release_above_dispatch(void *context)
{
    KIRQL old;

    (void)context;
    KeInitializeMutex(&scenario_mutex, 0);
    wait_for(&scenario_mutex);
    KeRaiseIrql(HIGH_LEVEL, &old);
    KeReleaseMutex(&scenario_mutex, FALSE);
}

static void KeReleaseMutex_above_DISPATCH_LEVEL_stops_with_C4_20011(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(release_above_dispatch, NULL, 0xC4, 0x20011, "ke.above_dispatch", &stop);
    assert_int_equal(stop.params[1], HIGH_LEVEL);
}

static void read_state_above_dispatch(void *context)
{
    KIRQL old;

    (void)context;
    KeInitializeMutex(&scenario_mutex, 0);
    KeRaiseIrql(HIGH_LEVEL, &old);
    KeReadStateMutex(&scenario_mutex);
}

static void KeReadStateMutex_above_DISPATCH_LEVEL_stops_with_C4_20011(void **state)
{
    (void)state;
    wdmsim_assert_stops(read_state_above_dispatch, NULL, 0xC4, 0x20011, "ke.above_dispatch", NULL);
}

static KEVENT scenario_event;

static void release_an_event_as_a_mutex(void *context)
{
    (void)context;
    KeInitializeEvent(&scenario_event, NotificationEvent, FALSE);
    KeReleaseMutex((PRKMUTEX)&scenario_event, FALSE);
}

static void KeReleaseMutex_on_an_event_stops_with_C4_1002(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(release_an_event_as_a_mutex, NULL, 0xC4, 0x1002, "dispatcher.uninitialized_object", &stop);
    assert_non_null(strstr(stop.report, "not a mutex"));
}

/* Acquires the scenario mutex and ends, by returning or by PsTerminateSystemThread. */
static VOID NTAPI acquire_scenario_mutex_and_end(PVOID terminate)
{
    wait_for(&scenario_mutex);
    if (terminate != NULL)
        PsTerminateSystemThread(STATUS_SUCCESS);
}

static void end_a_system_thread_owning_a_mutex(void *terminate)
{
    KeInitializeMutex(&scenario_mutex, 0);
    run_system_thread(acquire_scenario_mutex_and_end, terminate);
}

static void check_terminate_held_mutex(const struct wdmsim_stop *stop)
{
    assert_int_equal(stop->params[1], (ULONG_PTR)&scenario_mutex);
    assert_non_null(strstr(stop->report, "THREAD_TERMINATE_HELD_MUTEX"));
    assert_non_null(strstr(stop->report, "ends owning the mutex"));
}

static void a_system_thread_returning_with_a_mutex_stops_with_THREAD_TERMINATE_HELD_MUTEX(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(end_a_system_thread_owning_a_mutex, NULL, 0x4000008A, WDMSIM_ANY_PARAM,
                        "mutex.held_at_thread_exit", &stop);
    check_terminate_held_mutex(&stop);
}

static void PsTerminateSystemThread_with_a_mutex_held_stops_with_THREAD_TERMINATE_HELD_MUTEX(void **state)
{
    static int terminate = 1;
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(end_a_system_thread_owning_a_mutex, &terminate, 0x4000008A, WDMSIM_ANY_PARAM,
                        "mutex.held_at_thread_exit", &stop);
    check_terminate_held_mutex(&stop);
}

static KMUTEX scenario_second_mutex;

static KEVENT scenario_holding;

/* Takes objects[1], says so, then waits for objects[0], which the test thread holds. */
static void take_second_then_wait_first(struct worker *w)
{
    wait_for(w->objects[1]);
    KeSetEvent(&scenario_holding, IO_NO_INCREMENT, FALSE);
    wait_for(w->objects[0]);
}

/* Runs in a child kernel on whatever clock it boots with, so the handshake is an event. */
static void two_threads_take_two_mutexes_in_opposite_order(void *context)
{
    struct worker other;

    (void)context;
    KeInitializeMutex(&scenario_mutex, 0);
    KeInitializeMutex(&scenario_second_mutex, 0);
    KeInitializeEvent(&scenario_holding, NotificationEvent, FALSE);
    wait_for(&scenario_mutex);
    worker_start(&other, take_second_then_wait_first, &scenario_mutex, &scenario_second_mutex);
    wait_for(&scenario_holding);
    wait_for(&scenario_second_mutex);
}

static void a_mutex_deadlock_stops_with_0xE2_naming_both_owners(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(two_threads_take_two_mutexes_in_opposite_order, NULL, 0xE2, WDMSIM_ANY_PARAM,
                        "sched.deadlock", &stop);
    assert_non_null(strstr(stop.report, "main: in KeWaitForSingleObject, for mutex"));
    assert_non_null(strstr(stop.report, "owned by main"));
    assert_non_null(strstr(stop.report, "owned by System:"));
}

/* ---- FAST_MUTEX ---- */

static void ExInitializeFastMutex_makes_a_free_fast_mutex(void **state)
{
    FAST_MUTEX fast;

    (void)state;
    memset(&fast, 0xA5, sizeof fast);
    ExInitializeFastMutex(&fast);
    check_fast_mutex(&fast, 1, NULL, 0, NO_WAITERS, PASSIVE_LEVEL);
}

static void ExAcquireFastMutex_raises_to_APC_LEVEL_and_ExReleaseFastMutex_restores_PASSIVE_LEVEL(void **state)
{
    FAST_MUTEX fast;

    (void)state;
    ExInitializeFastMutex(&fast);
    ExAcquireFastMutex(&fast);
    check_fast_mutex(&fast, 0, KeGetCurrentThread(), 0, NO_WAITERS, APC_LEVEL);
    assert_int_equal(fast.OldIrql, PASSIVE_LEVEL);
    ExReleaseFastMutex(&fast);
    check_fast_mutex(&fast, 1, NULL, 0, NO_WAITERS, PASSIVE_LEVEL);
}

static void ExAcquireFastMutex_at_APC_LEVEL_leaves_APC_LEVEL_after_the_release(void **state)
{
    FAST_MUTEX fast;
    KIRQL old;

    (void)state;
    ExInitializeFastMutex(&fast);
    KeRaiseIrql(APC_LEVEL, &old);
    ExAcquireFastMutex(&fast);
    check_fast_mutex(&fast, 0, KeGetCurrentThread(), 0, NO_WAITERS, APC_LEVEL);
    assert_int_equal(fast.OldIrql, APC_LEVEL);
    ExReleaseFastMutex(&fast);
    check_fast_mutex(&fast, 1, NULL, 0, NO_WAITERS, APC_LEVEL);
    KeLowerIrql(old);
}

/* Acquires the fast mutex objects[0], holds it until go, then releases it. */
static void hold_fast_mutex_until_go(struct worker *w)
{
    ExAcquireFastMutex(w->objects[0]);
    w->irql = KeGetCurrentIrql();
    w->status = STATUS_SUCCESS;
    wait_for(&w->go);
    ExReleaseFastMutex(w->objects[0]);
}

static void a_contended_ExAcquireFastMutex_waits_and_gets_the_mutex_at_the_release(void **state)
{
    PKTHREAD me = KeGetCurrentThread();
    struct worker waiter;
    FAST_MUTEX fast;

    (void)state;
    ExInitializeFastMutex(&fast);
    ExAcquireFastMutex(&fast);
    worker_start(&waiter, hold_fast_mutex_until_go, &fast, NULL);
    wdmsim_test_settle();
    check_fast_mutex(&fast, -1, me, 1, WAITERS(waiter.thread.kthread), APC_LEVEL);
    assert_int_equal(waiter.status, STATUS_PENDING);

    ExReleaseFastMutex(&fast);
    assert_int_equal(KeGetCurrentIrql(), PASSIVE_LEVEL);
    wdmsim_test_settle();
    check_fast_mutex(&fast, 0, waiter.thread.kthread, 1, NO_WAITERS, PASSIVE_LEVEL);
    assert_int_equal(waiter.status, STATUS_SUCCESS);
    assert_int_equal(waiter.irql, APC_LEVEL);

    KeSetEvent(&waiter.go, IO_NO_INCREMENT, FALSE);
    wdmsim_test_thread_join(&waiter.thread);
    check_fast_mutex(&fast, 1, NULL, 1, NO_WAITERS, PASSIVE_LEVEL);
}

static void two_waiters_get_a_fast_mutex_one_after_the_other(void **state)
{
    PKTHREAD me = KeGetCurrentThread();
    struct worker first, second;
    FAST_MUTEX fast;

    (void)state;
    ExInitializeFastMutex(&fast);
    ExAcquireFastMutex(&fast);
    worker_start(&first, hold_fast_mutex_until_go, &fast, NULL);
    wdmsim_test_settle();
    worker_start(&second, hold_fast_mutex_until_go, &fast, NULL);
    wdmsim_test_settle();
    check_fast_mutex(&fast, -2, me, 2, WAITERS(first.thread.kthread, second.thread.kthread), APC_LEVEL);

    ExReleaseFastMutex(&fast);
    wdmsim_test_settle();
    check_fast_mutex(&fast, -1, first.thread.kthread, 2, WAITERS(second.thread.kthread), PASSIVE_LEVEL);
    KeSetEvent(&first.go, IO_NO_INCREMENT, FALSE);
    wdmsim_test_thread_join(&first.thread);
    wdmsim_test_settle();
    check_fast_mutex(&fast, 0, second.thread.kthread, 2, NO_WAITERS, PASSIVE_LEVEL);
    KeSetEvent(&second.go, IO_NO_INCREMENT, FALSE);
    wdmsim_test_thread_join(&second.thread);
    check_fast_mutex(&fast, 1, NULL, 2, NO_WAITERS, PASSIVE_LEVEL);
}

struct counter {
    FAST_MUTEX fast;
    long value;
};

static void count_under_fast_mutex(void *context)
{
    struct counter *counter = context;

    for (int i = 0; i < CONTENDED_ROUNDS; i++) {
        ExAcquireFastMutex(&counter->fast);
        counter->value++;
        ExReleaseFastMutex(&counter->fast);
    }
}

/* The joins wait in the dispatcher, so a lost wake-up would stop the machine as a deadlock. */
static void a_fast_mutex_excludes_other_threads(void **state)
{
    struct wdmsim_test_thread threads[CONTENDERS];
    struct counter counter;

    (void)state;
    ExInitializeFastMutex(&counter.fast);
    counter.value = 0;
    for (int i = 0; i < CONTENDERS; i++)
        wdmsim_test_thread_start(&threads[i], count_under_fast_mutex, &counter);
    for (int i = 0; i < CONTENDERS; i++)
        wdmsim_test_thread_join(&threads[i]);
    assert_int_equal(counter.value, CONTENDERS * CONTENDED_ROUNDS);
    assert_int_equal(counter.fast.Count, 1);
    assert_null(counter.fast.Owner);
    wdmsim_assert_waiters(&counter.fast.Event.Header, NO_WAITERS);
    assert_int_equal(KeGetCurrentIrql(), PASSIVE_LEVEL);
}

static void ExTryToAcquireFastMutex_on_a_free_fast_mutex_acquires_it_and_raises(void **state)
{
    FAST_MUTEX fast;

    (void)state;
    ExInitializeFastMutex(&fast);
    assert_true(ExTryToAcquireFastMutex(&fast));
    check_fast_mutex(&fast, 0, KeGetCurrentThread(), 0, NO_WAITERS, APC_LEVEL);
    ExReleaseFastMutex(&fast);
    check_fast_mutex(&fast, 1, NULL, 0, NO_WAITERS, PASSIVE_LEVEL);
}

static void ExTryToAcquireFastMutex_on_a_held_fast_mutex_returns_FALSE_and_leaves_the_irql(void **state)
{
    struct worker holder;
    FAST_MUTEX fast;

    (void)state;
    ExInitializeFastMutex(&fast);
    worker_start(&holder, hold_fast_mutex_until_go, &fast, NULL);
    wdmsim_test_settle();
    check_fast_mutex(&fast, 0, holder.thread.kthread, 0, NO_WAITERS, PASSIVE_LEVEL);

    assert_false(ExTryToAcquireFastMutex(&fast));
    check_fast_mutex(&fast, 0, holder.thread.kthread, 0, NO_WAITERS, PASSIVE_LEVEL);

    KeSetEvent(&holder.go, IO_NO_INCREMENT, FALSE);
    wdmsim_test_thread_join(&holder.thread);
    check_fast_mutex(&fast, 1, NULL, 0, NO_WAITERS, PASSIVE_LEVEL);
}

static void ExTryToAcquireFastMutex_by_the_owner_returns_FALSE_instead_of_waiting_for_itself(void **state)
{
    FAST_MUTEX fast;

    (void)state;
    ExInitializeFastMutex(&fast);
    ExAcquireFastMutex(&fast);
    assert_false(ExTryToAcquireFastMutex(&fast));
    check_fast_mutex(&fast, 0, KeGetCurrentThread(), 0, NO_WAITERS, APC_LEVEL);
    ExReleaseFastMutex(&fast);
    check_fast_mutex(&fast, 1, NULL, 0, NO_WAITERS, PASSIVE_LEVEL);
}

/* ---- FAST_MUTEX misuse ---- */

static void acquire_fast_at_dispatch(void *context)
{
    KIRQL old;

    (void)context;
    ExInitializeFastMutex(&scenario_fast_mutex);
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    ExAcquireFastMutex(&scenario_fast_mutex);
}

static void ExAcquireFastMutex_at_DISPATCH_LEVEL_stops_with_C4_33(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(acquire_fast_at_dispatch, NULL, 0xC4, 0x33, "fast_mutex.acquire_above_apc", &stop);
    assert_int_equal(stop.params[1], DISPATCH_LEVEL);
    assert_int_equal(stop.params[2], (ULONG_PTR)&scenario_fast_mutex);
}

static void try_fast_at_dispatch(void *context)
{
    KIRQL old;

    (void)context;
    ExInitializeFastMutex(&scenario_fast_mutex);
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    ExTryToAcquireFastMutex(&scenario_fast_mutex);
}

static void ExTryToAcquireFastMutex_at_DISPATCH_LEVEL_stops_with_C4_33(void **state)
{
    (void)state;
    wdmsim_assert_stops(try_fast_at_dispatch, NULL, 0xC4, 0x33, "fast_mutex.acquire_above_apc", NULL);
}

static void acquire_fast_twice(void *context)
{
    (void)context;
    ExInitializeFastMutex(&scenario_fast_mutex);
    ExAcquireFastMutex(&scenario_fast_mutex);
    ExAcquireFastMutex(&scenario_fast_mutex);
}

static void ExAcquireFastMutex_by_its_owner_stops_with_C4_1000_instead_of_hanging(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(acquire_fast_twice, NULL, 0xC4, 0x1000, "fast_mutex.recursive_acquire", &stop);
    assert_int_equal(stop.params[1], (ULONG_PTR)&scenario_fast_mutex);
    assert_non_null(strstr(stop.report, "thread main already owns the fast mutex"));
}

static void release_fast_after_lowering(void *context)
{
    (void)context;
    ExInitializeFastMutex(&scenario_fast_mutex);
    ExAcquireFastMutex(&scenario_fast_mutex);
    KeLowerIrql(PASSIVE_LEVEL);
    ExReleaseFastMutex(&scenario_fast_mutex);
}

static void ExReleaseFastMutex_at_PASSIVE_LEVEL_stops_with_C4_34(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(release_fast_after_lowering, NULL, 0xC4, 0x34, "fast_mutex.release_not_at_apc", &stop);
    assert_int_equal(stop.params[1], PASSIVE_LEVEL);
    assert_int_equal(stop.params[2], 1);
    assert_int_equal(stop.params[3], (ULONG_PTR)&scenario_fast_mutex);
}

static void release_scenario_fast_mutex_at_apc(struct worker *w)
{
    KIRQL old;

    (void)w;
    KeRaiseIrql(APC_LEVEL, &old);
    ExReleaseFastMutex(&scenario_fast_mutex);
}

static void release_a_fast_mutex_main_owns_from_another_thread(void *context)
{
    struct worker other;

    (void)context;
    ExInitializeFastMutex(&scenario_fast_mutex);
    ExAcquireFastMutex(&scenario_fast_mutex);
    worker_start(&other, release_scenario_fast_mutex_at_apc, NULL, NULL);
    wdmsim_test_thread_join(&other.thread);
}

static void ExReleaseFastMutex_by_a_non_owner_stops_with_C4_1004_naming_the_owner(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(release_a_fast_mutex_main_owns_from_another_thread, NULL, 0xC4, 0x1004,
                        "fast_mutex.release_not_owner", &stop);
    assert_int_equal(stop.params[1], (ULONG_PTR)&scenario_fast_mutex);
    assert_non_null(strstr(stop.report, "owned by main"));
    assert_non_null(strstr(stop.report, "Thread:   System:"));
}

static void release_fast_twice(void *context)
{
    KIRQL old;

    (void)context;
    ExInitializeFastMutex(&scenario_fast_mutex);
    ExAcquireFastMutex(&scenario_fast_mutex);
    ExReleaseFastMutex(&scenario_fast_mutex);
    KeRaiseIrql(APC_LEVEL, &old);
    ExReleaseFastMutex(&scenario_fast_mutex);
}

static void ExReleaseFastMutex_twice_stops_with_C4_1004_naming_nobody(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(release_fast_twice, NULL, 0xC4, 0x1004, "fast_mutex.release_not_owner", &stop);
    assert_non_null(strstr(stop.report, "owned by nobody"));
}

static void acquire_a_zeroed_fast_mutex(void *context)
{
    (void)context;
    memset(&scenario_fast_mutex, 0, sizeof scenario_fast_mutex);
    ExAcquireFastMutex(&scenario_fast_mutex);
}

static void ExAcquireFastMutex_on_an_uninitialised_fast_mutex_stops_with_C4_1002(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(acquire_a_zeroed_fast_mutex, NULL, 0xC4, 0x1002, "dispatcher.uninitialized_object", &stop);
    assert_int_equal(stop.params[1], (ULONG_PTR)&scenario_fast_mutex);
    assert_non_null(strstr(stop.report, "was not set up by ExInitializeFastMutex"));
}

/* Waits for the fast mutex objects[0], which the test thread holds while it waits for this
 * thread to finish. */
static void acquire_fast_mutex(struct worker *w)
{
    ExAcquireFastMutex(w->objects[0]);
}

static void hold_a_fast_mutex_and_wait_for_its_waiter(void *context)
{
    struct worker other;

    (void)context;
    ExInitializeFastMutex(&scenario_fast_mutex);
    ExAcquireFastMutex(&scenario_fast_mutex);
    worker_start(&other, acquire_fast_mutex, &scenario_fast_mutex, NULL);
    KeWaitForSingleObject(other.thread.kthread, Executive, KernelMode, FALSE, NULL);
}

static void a_fast_mutex_deadlock_stops_with_0xE2_naming_the_fast_mutex_and_its_owner(void **state)
{
    struct wdmsim_stop stop;
    char waiter[128];

    (void)state;
    wdmsim_assert_stops(hold_a_fast_mutex_and_wait_for_its_waiter, NULL, 0xE2, WDMSIM_ANY_PARAM,
                        "sched.deadlock", &stop);
    assert_non_null(strstr(stop.report, "main: in KeWaitForSingleObject, for thread"));
    snprintf(waiter, sizeof waiter, ": in ExAcquireFastMutex, for fast mutex %p owned by main\n",
             (void *)&scenario_fast_mutex);
    assert_non_null(strstr(stop.report, waiter));
}

/* ---- Unsafe fast mutexes and guarded mutexes ---- */

static void ExAcquireFastMutexUnsafe_in_a_critical_region_leaves_the_IRQL_alone(void **state)
{
    FAST_MUTEX fast;

    (void)state;
    ExInitializeFastMutex(&fast);
    KeEnterCriticalRegion();
    ExAcquireFastMutexUnsafe(&fast);
    assert_int_equal(KeGetCurrentIrql(), PASSIVE_LEVEL);
    assert_ptr_equal(fast.Owner, KeGetCurrentThread());
    assert_int_equal(fast.Count, 0);
    ExReleaseFastMutexUnsafe(&fast);
    assert_null(fast.Owner);
    assert_int_equal(fast.Count, FM_LOCK_BIT);
    KeLeaveCriticalRegion();
}

static void acquire_unsafe_with_apcs_enabled(void *context)
{
    (void)context;
    ExInitializeFastMutex(&scenario_fast_mutex);
    ExAcquireFastMutexUnsafe(&scenario_fast_mutex);
}

static void ExAcquireFastMutexUnsafe_with_normal_kernel_APCs_enabled_stops_with_C4_39(void **state)
{
    (void)state;
    wdmsim_assert_stops(acquire_unsafe_with_apcs_enabled, NULL, 0xC4, 0x39,
                        "fast_mutex.unsafe_acquire_with_apcs_enabled", NULL);
}

static void release_unsafe_after_leaving_the_region(void *context)
{
    (void)context;
    ExInitializeFastMutex(&scenario_fast_mutex);
    KeEnterCriticalRegion();
    ExAcquireFastMutexUnsafe(&scenario_fast_mutex);
    KeLeaveCriticalRegion();
    ExReleaseFastMutexUnsafe(&scenario_fast_mutex);
}

static void ExReleaseFastMutexUnsafe_after_leaving_the_region_stops_with_C4_3A(void **state)
{
    (void)state;
    wdmsim_assert_stops(release_unsafe_after_leaving_the_region, NULL, 0xC4, 0x3A,
                        "fast_mutex.unsafe_release_with_apcs_enabled", NULL);
}

static void KeAcquireGuardedMutex_holds_it_inside_a_guarded_region_at_PASSIVE_LEVEL(void **state)
{
    KGUARDED_MUTEX guarded;

    (void)state;
    KeInitializeGuardedMutex(&guarded);
    KeAcquireGuardedMutex(&guarded);
    assert_int_equal(KeGetCurrentIrql(), PASSIVE_LEVEL);
    assert_true(KeAreAllApcsDisabled());
    assert_ptr_equal(guarded.Owner, KeGetCurrentThread());
    assert_false(KeTryToAcquireGuardedMutex(&guarded));
    KeReleaseGuardedMutex(&guarded);
    assert_false(KeAreAllApcsDisabled());
    assert_null(guarded.Owner);
    assert_true(KeTryToAcquireGuardedMutex(&guarded));
    assert_true(KeAreAllApcsDisabled());
    KeReleaseGuardedMutex(&guarded);
    assert_false(KeAreApcsDisabled());
}

static KGUARDED_MUTEX shared_guarded;
static atomic_int guarded_acquired;

static void acquire_guarded_and_release(void *context)
{
    (void)context;
    KeAcquireGuardedMutex(&shared_guarded);
    atomic_store(&guarded_acquired, 1);
    KeReleaseGuardedMutex(&shared_guarded);
}

static void a_guarded_mutex_makes_a_second_thread_wait_until_it_is_released(void **state)
{
    struct wdmsim_test_thread waiter;

    (void)state;
    KeInitializeGuardedMutex(&shared_guarded);
    atomic_store(&guarded_acquired, 0);
    KeAcquireGuardedMutex(&shared_guarded);
    wdmsim_test_thread_start(&waiter, acquire_guarded_and_release, NULL);
    wdmsim_test_settle();
    assert_int_equal(atomic_load(&guarded_acquired), 0);
    assert_int_equal(shared_guarded.Contention, 1);
    KeReleaseGuardedMutex(&shared_guarded);
    wdmsim_test_thread_join(&waiter);
    assert_int_equal(atomic_load(&guarded_acquired), 1);
    assert_null(shared_guarded.Owner);
}

static void KeAcquireGuardedMutexUnsafe_inside_a_guarded_region_works(void **state)
{
    KGUARDED_MUTEX guarded;

    (void)state;
    KeInitializeGuardedMutex(&guarded);
    KeEnterGuardedRegion();
    KeAcquireGuardedMutexUnsafe(&guarded);
    assert_ptr_equal(guarded.Owner, KeGetCurrentThread());
    KeReleaseGuardedMutexUnsafe(&guarded);
    KeLeaveGuardedRegion();
    assert_null(guarded.Owner);
}

static KGUARDED_MUTEX scenario_guarded;

static void acquire_guarded_unsafe_in_a_critical_region(void *context)
{
    (void)context;
    KeInitializeGuardedMutex(&scenario_guarded);
    KeEnterCriticalRegion();
    KeAcquireGuardedMutexUnsafe(&scenario_guarded);
}

static void KeAcquireGuardedMutexUnsafe_in_only_a_critical_region_stops_with_C4_39(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(acquire_guarded_unsafe_in_a_critical_region, NULL, 0xC4, 0x39,
                        "fast_mutex.unsafe_acquire_with_apcs_enabled", &stop);
    wdmsim_assert_report_has(&stop, "outside a guarded region");
}

static void acquire_guarded_twice(void *context)
{
    (void)context;
    KeInitializeGuardedMutex(&scenario_guarded);
    KeAcquireGuardedMutex(&scenario_guarded);
    KeAcquireGuardedMutex(&scenario_guarded);
}

static void KeAcquireGuardedMutex_by_its_owner_stops_with_C4_1000(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(acquire_guarded_twice, NULL, 0xC4, 0x1000, "fast_mutex.recursive_acquire", &stop);
    wdmsim_assert_report_has(&stop, "already owns the guarded mutex");
}

static void acquire_uninitialised_guarded(void *context)
{
    static KGUARDED_MUTEX never_initialised;

    (void)context;
    KeAcquireGuardedMutex(&never_initialised);
}

static void KeAcquireGuardedMutex_on_an_uninitialised_mutex_stops_with_C4_1002(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(acquire_uninitialised_guarded, NULL, 0xC4, 0x1002, "dispatcher.uninitialized_object", &stop);
    wdmsim_assert_report_has(&stop, "was not set up by KeInitializeGuardedMutex");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        wdmsim_test(KeInitializeMutex_makes_a_free_signalled_mutex),
        wdmsim_test(KeWaitForMutexObject_on_a_free_mutex_makes_the_caller_its_owner),
        wdmsim_test(the_owner_acquires_recursively_and_releases_once_per_acquisition),
        wdmsim_test(mutexes_may_be_released_in_any_order),
        wdmsim_test(KeReleaseMutex_at_DISPATCH_LEVEL_is_allowed),
        wdmsim_test(a_zero_timeout_wait_on_another_threads_mutex_times_out_and_changes_nothing),
        wdmsim_test(KeReleaseMutex_hands_the_mutex_to_the_oldest_waiter),
        wdmsim_test(a_WaitAll_on_a_mutex_and_an_event_takes_both_at_one_instant),
        wdmsim_test(KeReleaseMutex_by_a_non_owner_stops_with_0x1E_STATUS_MUTANT_NOT_OWNED),
        wdmsim_test(KeReleaseMutex_by_a_non_owner_in_a_system_thread_stops_with_0x7E),
        wdmsim_test(KeReleaseMutex_of_a_free_mutex_stops_with_0x1E_naming_nobody),
        wdmsim_test(KeReleaseMutex_with_Wait_TRUE_at_DISPATCH_LEVEL_stops_with_C4_20016),
        wdmsim_test(KeReleaseMutex_above_DISPATCH_LEVEL_stops_with_C4_20011),
        wdmsim_test(KeReadStateMutex_above_DISPATCH_LEVEL_stops_with_C4_20011),
        wdmsim_test(KeReleaseMutex_on_an_event_stops_with_C4_1002),
        wdmsim_test(a_system_thread_returning_with_a_mutex_stops_with_THREAD_TERMINATE_HELD_MUTEX),
        wdmsim_test(PsTerminateSystemThread_with_a_mutex_held_stops_with_THREAD_TERMINATE_HELD_MUTEX),
        wdmsim_test(a_mutex_deadlock_stops_with_0xE2_naming_both_owners),
        wdmsim_test(ExInitializeFastMutex_makes_a_free_fast_mutex),
        wdmsim_test(ExAcquireFastMutex_raises_to_APC_LEVEL_and_ExReleaseFastMutex_restores_PASSIVE_LEVEL),
        wdmsim_test(ExAcquireFastMutex_at_APC_LEVEL_leaves_APC_LEVEL_after_the_release),
        wdmsim_test(a_contended_ExAcquireFastMutex_waits_and_gets_the_mutex_at_the_release),
        wdmsim_test(two_waiters_get_a_fast_mutex_one_after_the_other),
        wdmsim_test(a_fast_mutex_excludes_other_threads),
        wdmsim_test(ExTryToAcquireFastMutex_on_a_free_fast_mutex_acquires_it_and_raises),
        wdmsim_test(ExTryToAcquireFastMutex_on_a_held_fast_mutex_returns_FALSE_and_leaves_the_irql),
        wdmsim_test(ExTryToAcquireFastMutex_by_the_owner_returns_FALSE_instead_of_waiting_for_itself),
        wdmsim_test(ExAcquireFastMutex_at_DISPATCH_LEVEL_stops_with_C4_33),
        wdmsim_test(ExTryToAcquireFastMutex_at_DISPATCH_LEVEL_stops_with_C4_33),
        wdmsim_test(ExAcquireFastMutex_by_its_owner_stops_with_C4_1000_instead_of_hanging),
        wdmsim_test(ExReleaseFastMutex_at_PASSIVE_LEVEL_stops_with_C4_34),
        wdmsim_test(ExReleaseFastMutex_by_a_non_owner_stops_with_C4_1004_naming_the_owner),
        wdmsim_test(ExReleaseFastMutex_twice_stops_with_C4_1004_naming_nobody),
        wdmsim_test(ExAcquireFastMutex_on_an_uninitialised_fast_mutex_stops_with_C4_1002),
        wdmsim_test(ExAcquireFastMutexUnsafe_in_a_critical_region_leaves_the_IRQL_alone),
        wdmsim_test(ExAcquireFastMutexUnsafe_with_normal_kernel_APCs_enabled_stops_with_C4_39),
        wdmsim_test(ExReleaseFastMutexUnsafe_after_leaving_the_region_stops_with_C4_3A),
        wdmsim_test(KeAcquireGuardedMutex_holds_it_inside_a_guarded_region_at_PASSIVE_LEVEL),
        wdmsim_test(a_guarded_mutex_makes_a_second_thread_wait_until_it_is_released),
        wdmsim_test(KeAcquireGuardedMutexUnsafe_inside_a_guarded_region_works),
        wdmsim_test(KeAcquireGuardedMutexUnsafe_in_only_a_critical_region_stops_with_C4_39),
        wdmsim_test(KeAcquireGuardedMutex_by_its_owner_stops_with_C4_1000),
        wdmsim_test(KeAcquireGuardedMutex_on_an_uninitialised_mutex_stops_with_C4_1002),
        wdmsim_test(a_fast_mutex_deadlock_stops_with_0xE2_naming_the_fast_mutex_and_its_owner),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
