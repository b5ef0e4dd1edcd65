/*
 * test_workitem.c - ExQueueWorkItem: routines run later at PASSIVE_LEVEL on system worker threads,
 * in queue order, charged to the driver that queued them; an item may be freed or queued again
 * by its own routine; misuse (queuing a queued item, returning at a raised IRQL or holding a
 * mutex) stops the machine. Completion is awaited on events the routines set, never by sleeping.
 */
#include <stdbool.h>

#include <wdmsim/test.h>
#include "wdmsim_test_threads.h"

#define TEST_TAG 'tseT'
#define FIFO_ITEMS 12
#define BLOCKERS 8      /* more than the simulator's worker threads: one always stays queued */

static void wait_for(PKEVENT event)
{
    KeWaitForSingleObject(event, Executive, KernelMode, FALSE, NULL);
}

/* ---- Where and how a routine runs ---- */

struct probe {
    WORK_QUEUE_ITEM item;
    KEVENT done;
    KIRQL irql;
    PKTHREAD thread;
    int runs;
};

static VOID NTAPI record_context(PVOID parameter)
{
    struct probe *probe = parameter;

    probe->irql = KeGetCurrentIrql();
    probe->thread = KeGetCurrentThread();
    probe->runs++;
    KeSetEvent(&probe->done, IO_NO_INCREMENT, FALSE);
}

static void init_probe(struct probe *probe, PWORKER_THREAD_ROUTINE routine)
{
    *probe = (struct probe){ .irql = HIGH_LEVEL };
    KeInitializeEvent(&probe->done, NotificationEvent, FALSE);
    ExInitializeWorkItem(&probe->item, routine, probe);
}

static void ExInitializeWorkItem_fills_the_item_and_leaves_it_unqueued(void **state)
{
    struct probe probe;

    (void)state;
    probe.item.List.Flink = &probe.item.List;
    init_probe(&probe, record_context);
    assert_ptr_equal(probe.item.WorkerRoutine, record_context);
    assert_ptr_equal(probe.item.Parameter, &probe);
    assert_null(probe.item.List.Flink);
}

static void ExQueueWorkItem_runs_the_routine_at_PASSIVE_LEVEL_on_a_worker_thread(void **state)
{
    struct probe probe;

    (void)state;
    init_probe(&probe, record_context);
    ExQueueWorkItem(&probe.item, DelayedWorkQueue);
    wait_for(&probe.done);
    assert_int_equal(probe.runs, 1);
    assert_int_equal(probe.irql, PASSIVE_LEVEL);
    assert_non_null(probe.thread);
    assert_ptr_not_equal(probe.thread, KeGetCurrentThread());
    assert_null(probe.item.List.Flink);
}

static void ExQueueWorkItem_at_DISPATCH_LEVEL_is_allowed(void **state)
{
    struct probe probe;
    KIRQL old;

    (void)state;
    init_probe(&probe, record_context);
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    ExQueueWorkItem(&probe.item, CriticalWorkQueue);
    assert_int_equal(KeGetCurrentIrql(), DISPATCH_LEVEL);
    KeLowerIrql(old);
    wait_for(&probe.done);
    assert_int_equal(probe.irql, PASSIVE_LEVEL);
}

/* ---- Queue order: gated routines, released one at a time ---- */

struct fifo {
    WORK_QUEUE_ITEM items[FIFO_ITEMS];
    KSPIN_LOCK lock;
    int started[FIFO_ITEMS];        /* item indexes in the order their routines started */
    PKTHREAD threads[FIFO_ITEMS];
    int count;
    int finished;
    KEVENT gate;                    /* synchronization: each KeSetEvent lets one routine finish */
    KEVENT all_finished;
};

static struct fifo fifo;

static VOID NTAPI start_then_wait_at_the_gate(PVOID parameter)
{
    int index = (int)(ULONG_PTR)parameter;
    KIRQL old;
    int finished;

    KeAcquireSpinLock(&fifo.lock, &old);
    fifo.threads[fifo.count] = KeGetCurrentThread();
    fifo.started[fifo.count++] = index;
    KeReleaseSpinLock(&fifo.lock, old);
    wait_for(&fifo.gate);
    KeAcquireSpinLock(&fifo.lock, &old);
    finished = ++fifo.finished;
    KeReleaseSpinLock(&fifo.lock, old);
    if (finished == FIFO_ITEMS)
        KeSetEvent(&fifo.all_finished, IO_NO_INCREMENT, FALSE);
}

/* How many routines have started; false unless they are the first ones queued. Routines that
 * start together on different workers may record themselves in either order, so the check is on
 * the set: one more opening of the gate must add exactly the next item. */
static bool started_are_the_first_queued(int *count)
{
    bool seen[FIFO_ITEMS] = { false };
    bool first = true;
    KIRQL old;

    KeAcquireSpinLock(&fifo.lock, &old);
    *count = fifo.count;
    for (int i = 0; i < fifo.count; i++) {
        int index = fifo.started[i];

        first = first && index < fifo.count && !seen[index];
        seen[index] = true;
    }
    KeReleaseSpinLock(&fifo.lock, old);
    return first;
}

/* Nothing is asserted until every routine has finished: a failed assert would leave workers
 * waiting at the gate, and the teardown waiting for them. */
static void ExQueueWorkItem_starts_items_in_the_order_they_were_queued(void **state)
{
    int started_after[FIFO_ITEMS + 1];
    bool in_order;

    (void)state;
    fifo = (struct fifo){ .count = 0 };
    KeInitializeSpinLock(&fifo.lock);
    KeInitializeEvent(&fifo.gate, SynchronizationEvent, FALSE);
    KeInitializeEvent(&fifo.all_finished, NotificationEvent, FALSE);
    for (int i = 0; i < FIFO_ITEMS; i++) {
        ExInitializeWorkItem(&fifo.items[i], start_then_wait_at_the_gate, (PVOID)(ULONG_PTR)i);
        ExQueueWorkItem(&fifo.items[i], DelayedWorkQueue);
    }
    /* Settled: every worker has taken an item and waits at the gate; the rest are still queued. */
    wdmsim_test_settle();
    in_order = started_are_the_first_queued(&started_after[0]);
    /* Each opening of the gate ends one routine, whose worker then starts the next queued item. */
    for (int opened = 1; opened <= FIFO_ITEMS; opened++) {
        KeSetEvent(&fifo.gate, IO_NO_INCREMENT, FALSE);
        wdmsim_test_settle();
        in_order = started_are_the_first_queued(&started_after[opened]) && in_order;
    }
    wait_for(&fifo.all_finished);

    assert_true(in_order);
    assert_in_range(started_after[0], 1, FIFO_ITEMS - 1);
    for (int opened = 1; opened <= FIFO_ITEMS; opened++) {
        int expected = started_after[0] + opened;

        assert_int_equal(started_after[opened], expected < FIFO_ITEMS ? expected : FIFO_ITEMS);
    }
    for (int i = 0; i < started_after[0]; i++) {
        for (int j = i + 1; j < started_after[0]; j++)
            assert_ptr_not_equal(fifo.threads[i], fifo.threads[j]);
    }
    assert_int_equal(fifo.finished, FIFO_ITEMS);
}

/* ---- The routine owns its item ---- */

struct owned_item {
    WORK_QUEUE_ITEM item;
    PKEVENT done;
};

static VOID NTAPI free_own_item(PVOID parameter)
{
    struct owned_item *owned = parameter;
    PKEVENT done = owned->done;

    ExFreePoolWithTag(owned, TEST_TAG);
    KeSetEvent(done, IO_NO_INCREMENT, FALSE);
}

static void a_routine_may_free_its_own_item(void **state)
{
    struct owned_item *owned = ExAllocatePoolWithTag(NonPagedPool, sizeof *owned, TEST_TAG);
    KEVENT done;

    (void)state;
    assert_non_null(owned);
    KeInitializeEvent(&done, NotificationEvent, FALSE);
    owned->done = &done;
    ExInitializeWorkItem(&owned->item, free_own_item, owned);
    ExQueueWorkItem(&owned->item, DelayedWorkQueue);
    wait_for(&done);
    assert_int_equal(wdmsim_pool_outstanding_by_tag(TEST_TAG, NULL), 0);
}

#define REQUEUES 3

static VOID NTAPI queue_self_again(PVOID parameter)
{
    struct probe *probe = parameter;

    if (++probe->runs < REQUEUES)
        ExQueueWorkItem(&probe->item, DelayedWorkQueue);
    else
        KeSetEvent(&probe->done, IO_NO_INCREMENT, FALSE);
}

static void a_routine_may_queue_its_own_item_again(void **state)
{
    struct probe probe;

    (void)state;
    init_probe(&probe, queue_self_again);
    ExQueueWorkItem(&probe.item, DelayedWorkQueue);
    wait_for(&probe.done);
    assert_int_equal(probe.runs, REQUEUES);
    assert_null(probe.item.List.Flink);
}

/* ---- Driver attribution ---- */

struct charged {
    WORK_QUEUE_ITEM item;
    KEVENT done;
    PVOID block;
};

static VOID NTAPI allocate_in_routine(PVOID parameter)
{
    struct charged *charged = parameter;

    charged->block = ExAllocatePoolWithTag(NonPagedPool, 32, TEST_TAG);
    KeSetEvent(&charged->done, IO_NO_INCREMENT, FALSE);
}

static void queue_charged(void *context)
{
    struct charged *charged = context;

    ExQueueWorkItem(&charged->item, DelayedWorkQueue);
}

static void init_charged(struct charged *charged)
{
    charged->block = NULL;
    KeInitializeEvent(&charged->done, NotificationEvent, FALSE);
    ExInitializeWorkItem(&charged->item, allocate_in_routine, charged);
}

static void the_routine_runs_as_the_driver_that_queued_it(void **state)
{
    struct charged by_driver, by_host;

    (void)state;
    init_charged(&by_driver);
    init_charged(&by_host);
    wdmsim_run_as_driver("queuer", queue_charged, &by_driver);
    wait_for(&by_driver.done);
    queue_charged(&by_host);
    wait_for(&by_host.done);
    assert_non_null(by_driver.block);
    assert_non_null(by_host.block);
    assert_int_equal(wdmsim_pool_outstanding_by_driver("queuer", NULL), 1);
    assert_int_equal(wdmsim_pool_outstanding_by_driver(NULL, NULL), 1);
    ExFreePoolWithTag(by_driver.block, TEST_TAG);
    ExFreePoolWithTag(by_host.block, TEST_TAG);
}

/* ---- Misuse: each scenario runs in a child kernel booted like the test's own, on the virtual
 * clock; no CMocka asserts there ---- */

static WORK_QUEUE_ITEM scenario_item;
static KEVENT never_set;

/* The caller blocks here while a worker breaks the rule; if none does, the machine deadlocks. */
static void wait_forever(void)
{
    KeInitializeEvent(&never_set, NotificationEvent, FALSE);
    wait_for(&never_set);
}

static VOID NTAPI do_nothing(PVOID parameter)
{
    UNREFERENCED_PARAMETER(parameter);
}

static void queue_above_dispatch(void *context)
{
    KIRQL old;

    (void)context;
    ExInitializeWorkItem(&scenario_item, do_nothing, NULL);
    KeRaiseIrql(HIGH_LEVEL, &old);
    ExQueueWorkItem(&scenario_item, DelayedWorkQueue);
}

static void ExQueueWorkItem_above_DISPATCH_LEVEL_stops_with_C4_20011(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(queue_above_dispatch, NULL, 0xC4, 0x20011, "ke.above_dispatch", &stop);
    assert_int_equal(stop.params[1], HIGH_LEVEL);
    assert_int_equal(stop.params[2], (ULONG_PTR)&scenario_item);
}

static WORK_QUEUE_ITEM blockers[BLOCKERS];
static KEVENT blockers_gate;

static VOID NTAPI wait_at_blockers_gate(PVOID parameter)
{
    UNREFERENCED_PARAMETER(parameter);
    wait_for(&blockers_gate);
}

/* Every worker takes a blocker and waits at a gate that never opens; the rest stay queued, and so
 * does anything queued after them. */
static void occupy_every_worker(void)
{
    KeInitializeEvent(&blockers_gate, NotificationEvent, FALSE);
    for (int i = 0; i < BLOCKERS; i++) {
        ExInitializeWorkItem(&blockers[i], wait_at_blockers_gate, NULL);
        ExQueueWorkItem(&blockers[i], DelayedWorkQueue);
    }
    wdmsim_test_settle();
}

static void queue_a_queued_item(void *context)
{
    (void)context;
    occupy_every_worker();
    ExInitializeWorkItem(&scenario_item, do_nothing, NULL);
    ExQueueWorkItem(&scenario_item, DelayedWorkQueue);
    ExQueueWorkItem(&scenario_item, CriticalWorkQueue);
}

static void queuing_an_item_still_queued_stops_with_WORKER_INVALID_1(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(queue_a_queued_item, NULL, 0xE4, 1, "worker.item_queued_twice", &stop);
    assert_int_equal(stop.params[1], (ULONG_PTR)&scenario_item);
    assert_int_equal(stop.params[2], CriticalWorkQueue);
    assert_non_null(strstr(stop.report, "WORKER_INVALID"));
}

#define SCENARIO_PARAMETER ((PVOID)(ULONG_PTR)0x5EED)

static VOID NTAPI return_at_dispatch(PVOID parameter)
{
    KIRQL old;

    UNREFERENCED_PARAMETER(parameter);
    KeRaiseIrql(DISPATCH_LEVEL, &old);
}

static void queue_and_wait(PWORKER_THREAD_ROUTINE routine)
{
    ExInitializeWorkItem(&scenario_item, routine, SCENARIO_PARAMETER);
    ExQueueWorkItem(&scenario_item, DelayedWorkQueue);
    wait_forever();
}

static void queue_returning_at_dispatch(void *context)
{
    (void)context;
    queue_and_wait(return_at_dispatch);
}

static void a_routine_returning_at_DISPATCH_LEVEL_stops_with_WORKER_THREAD_RETURNED_AT_BAD_IRQL(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(queue_returning_at_dispatch, NULL, 0xE1, (long long)(ULONG_PTR)return_at_dispatch,
                        "worker.returned_at_bad_irql", &stop);
    assert_int_equal(stop.params[1], DISPATCH_LEVEL);
    assert_int_equal(stop.params[2], (ULONG_PTR)SCENARIO_PARAMETER);
    assert_int_equal(stop.params[3], (ULONG_PTR)&scenario_item);
    assert_non_null(strstr(stop.report, "Thread:   worker-"));
}

static FAST_MUTEX scenario_fast_mutex;
static KMUTEX scenario_mutex;

static VOID NTAPI return_holding_a_fast_mutex(PVOID parameter)
{
    UNREFERENCED_PARAMETER(parameter);
    ExAcquireFastMutex(&scenario_fast_mutex);
}

static VOID NTAPI return_holding_a_mutex(PVOID parameter)
{
    UNREFERENCED_PARAMETER(parameter);
    KeWaitForSingleObject(&scenario_mutex, Executive, KernelMode, FALSE, NULL);
}

static void queue_returning_holding_a_fast_mutex(void *context)
{
    (void)context;
    ExInitializeFastMutex(&scenario_fast_mutex);
    queue_and_wait(return_holding_a_fast_mutex);
}

static void queue_returning_holding_a_mutex(void *context)
{
    (void)context;
    KeInitializeMutex(&scenario_mutex, 0);
    queue_and_wait(return_holding_a_mutex);
}

static VOID NTAPI return_inside_a_guarded_region(PVOID parameter)
{
    UNREFERENCED_PARAMETER(parameter);
    KeEnterGuardedRegion();
}

static void queue_returning_inside_a_guarded_region(void *context)
{
    (void)context;
    queue_and_wait(return_inside_a_guarded_region);
}

static void check_apc_index_mismatch(const struct wdmsim_stop *stop)
{
    assert_int_equal(stop->params[3], 1);
    assert_non_null(strstr(stop->report, "APC_INDEX_MISMATCH"));
    assert_non_null(strstr(stop->report, "Thread:   worker-"));
}

static void a_routine_returning_holding_a_fast_mutex_stops_with_APC_INDEX_MISMATCH(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(queue_returning_holding_a_fast_mutex, NULL, 0x1,
                        (long long)(ULONG_PTR)return_holding_a_fast_mutex,
                        "worker.returned_with_apcs_disabled", &stop);
    check_apc_index_mismatch(&stop);
}

static void a_routine_returning_inside_a_guarded_region_stops_with_APC_INDEX_MISMATCH(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(queue_returning_inside_a_guarded_region, NULL, 0x1,
                        (long long)(ULONG_PTR)return_inside_a_guarded_region,
                        "worker.returned_with_apcs_disabled", &stop);
    check_apc_index_mismatch(&stop);
    /* SpecialApcDisable -1 in the high half of CombinedApcDisable. */
    assert_int_equal(stop.params[2], 0xFFFF0000);
}

static void a_routine_returning_holding_a_KMUTEX_stops_with_APC_INDEX_MISMATCH(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(queue_returning_holding_a_mutex, NULL, 0x1,
                        (long long)(ULONG_PTR)return_holding_a_mutex,
                        "worker.returned_with_apcs_disabled", &stop);
    check_apc_index_mismatch(&stop);
}

static WORK_QUEUE_ITEM terminating_item;

static VOID NTAPI terminate_the_worker(PVOID parameter)
{
    (void)parameter;
    PsTerminateSystemThread(STATUS_SUCCESS);
}

static void queue_an_item_that_ends_its_worker(void *context)
{
    KEVENT never;

    (void)context;
    KeInitializeEvent(&never, NotificationEvent, FALSE);
    ExInitializeWorkItem(&terminating_item, terminate_the_worker, NULL);
    ExQueueWorkItem(&terminating_item, DelayedWorkQueue);
    KeWaitForSingleObject(&never, Executive, KernelMode, FALSE, NULL);
}

static void PsTerminateSystemThread_from_a_work_item_stops_with_ACTIVE_EX_WORKER_THREAD_TERMINATION(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(queue_an_item_that_ends_its_worker, NULL, 0xE9, WDMSIM_ANY_PARAM,
                        "worker.thread_terminated", &stop);
    assert_non_null(strstr(stop.report, "Thread:   worker-"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        wdmsim_test(ExInitializeWorkItem_fills_the_item_and_leaves_it_unqueued),
        wdmsim_test(ExQueueWorkItem_runs_the_routine_at_PASSIVE_LEVEL_on_a_worker_thread),
        wdmsim_test(ExQueueWorkItem_at_DISPATCH_LEVEL_is_allowed),
        wdmsim_test(ExQueueWorkItem_starts_items_in_the_order_they_were_queued),
        wdmsim_test(a_routine_may_free_its_own_item),
        wdmsim_test(a_routine_may_queue_its_own_item_again),
        wdmsim_test(the_routine_runs_as_the_driver_that_queued_it),
        wdmsim_test(ExQueueWorkItem_above_DISPATCH_LEVEL_stops_with_C4_20011),
        wdmsim_test(queuing_an_item_still_queued_stops_with_WORKER_INVALID_1),
        wdmsim_test(a_routine_returning_at_DISPATCH_LEVEL_stops_with_WORKER_THREAD_RETURNED_AT_BAD_IRQL),
        wdmsim_test(a_routine_returning_holding_a_fast_mutex_stops_with_APC_INDEX_MISMATCH),
        wdmsim_test(a_routine_returning_inside_a_guarded_region_stops_with_APC_INDEX_MISMATCH),
        wdmsim_test(a_routine_returning_holding_a_KMUTEX_stops_with_APC_INDEX_MISMATCH),
        wdmsim_test(PsTerminateSystemThread_from_a_work_item_stops_with_ACTIVE_EX_WORKER_THREAD_TERMINATION),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
