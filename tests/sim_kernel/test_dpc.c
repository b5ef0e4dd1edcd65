/*
 * test_dpc.c - DPCs: KeInsertQueueDpc, KeRemoveQueueDpc and KeFlushQueuedDpcs, and how queued
 * DPCs run: in queue order, one at a time, at DISPATCH_LEVEL on the simulator's "dpc" thread,
 * with their DeferredContext and arguments. Plus the misuse that stops the machine.
 *
 * To look at a DPC while it is still queued, a test closes a "gate": it holds a spin lock and
 * queues a gate DPC that takes the same lock. Until the test releases the lock, the DPC thread is
 * stuck in (or about to run) the gate DPC, and since the queue is FIFO every DPC queued after it
 * stays queued. Holding a spin lock puts the test thread at DISPATCH_LEVEL, where all DPC DDIs
 * but KeFlushQueuedDpcs may be called.
 */
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <wdmsim/test.h>

#define TAG_DPC 'cpDT'
#define RECORDS 3
#define SELF_REQUEUES 50
#define BUSY_ROUNDS 1000

/* ---- The gate ---- */

static KSPIN_LOCK gate_lock;
static KDPC gate_dpc;

static VOID NTAPI gate_routine(PKDPC dpc, PVOID context, PVOID argument1, PVOID argument2)
{
    (void)dpc;
    (void)context;
    (void)argument1;
    (void)argument2;
    KeAcquireSpinLockAtDpcLevel(&gate_lock);
    KeReleaseSpinLockFromDpcLevel(&gate_lock);
}

static KIRQL close_gate(void)
{
    KIRQL old;

    KeInitializeSpinLock(&gate_lock);
    KeInitializeDpc(&gate_dpc, gate_routine, NULL);
    KeAcquireSpinLock(&gate_lock, &old);
    KeInsertQueueDpc(&gate_dpc, NULL, NULL);
    return old;
}

static void open_gate(KIRQL old)
{
    KeReleaseSpinLock(&gate_lock, old);
}

/* ---- What a DPC saw ---- */

struct dpc_record {
    atomic_int runs;
    atomic_int order;               /* from a shared sequence, when it last ran */
    atomic_int irql;
    _Atomic(PVOID) context;
    _Atomic(PVOID) argument1;
    _Atomic(PVOID) argument2;
    _Atomic(PKTHREAD) thread;
};

static atomic_int dpc_sequence;

static void init_record(struct dpc_record *r)
{
    atomic_store(&r->runs, 0);
    atomic_store(&r->order, 0);
    atomic_store(&r->irql, -1);
    atomic_store(&r->context, NULL);
    atomic_store(&r->argument1, NULL);
    atomic_store(&r->argument2, NULL);
    atomic_store(&r->thread, NULL);
}

static VOID NTAPI record_dpc(PKDPC dpc, PVOID context, PVOID argument1, PVOID argument2)
{
    struct dpc_record *r = context;

    (void)dpc;
    atomic_store(&r->irql, KeGetCurrentIrql());
    atomic_store(&r->context, context);
    atomic_store(&r->argument1, argument1);
    atomic_store(&r->argument2, argument2);
    atomic_store(&r->thread, KeGetCurrentThread());
    atomic_store(&r->order, atomic_fetch_add(&dpc_sequence, 1) + 1);
    atomic_fetch_add(&r->runs, 1);
}

/* The whole observable state of a DPC object: initialised for this routine and context, and
 * queued (DpcData set, on a list) or not. */
static void check_dpc(const KDPC *dpc, PKDEFERRED_ROUTINE routine, PVOID context, bool queued)
{
    assert_ptr_equal(dpc->DeferredRoutine, routine);
    assert_ptr_equal(dpc->DeferredContext, context);
    if (queued)
        assert_non_null(dpc->DpcData);
    else
        assert_null(dpc->DpcData);
}

/* ---- KeInsertQueueDpc ---- */

static void KeInitializeDpc_leaves_the_DPC_unqueued_with_its_routine_and_context(void **state)
{
    KDPC dpc;
    struct dpc_record record;

    (void)state;
    KeInitializeDpc(&dpc, record_dpc, &record);
    check_dpc(&dpc, record_dpc, &record, false);
}

/* As Windows (ReactOS's kmtest KeDpc, run on Windows): the list entry and the system arguments
 * keep whatever they held; Type, Importance, routine, context and DpcData are written. */
static void KeInitializeDpc_leaves_the_list_entry_and_the_system_arguments_as_they_were(void **state)
{
    KDPC dpc;
    struct dpc_record record;
    void *const filler = (void *)(ULONG_PTR)0x5555555555555555ULL;

    (void)state;
    memset(&dpc, 0x55, sizeof dpc);
    KeInitializeDpc(&dpc, record_dpc, &record);
    assert_int_equal(dpc.Type, 0x13); /* DpcObject */
    assert_int_equal(dpc.Importance, 1); /* MediumImportance */
    assert_ptr_equal(dpc.DpcListEntry.Flink, filler);
    assert_ptr_equal(dpc.DpcListEntry.Blink, filler);
    assert_ptr_equal(dpc.SystemArgument1, filler);
    assert_ptr_equal(dpc.SystemArgument2, filler);
    check_dpc(&dpc, record_dpc, &record, false);
}

static void KeInsertQueueDpc_returns_FALSE_when_already_queued_and_keeps_the_first_arguments(void **state)
{
    KDPC dpc;
    struct dpc_record record;
    KIRQL old;

    (void)state;
    init_record(&record);
    KeInitializeDpc(&dpc, record_dpc, &record);
    old = close_gate();
    assert_true(KeInsertQueueDpc(&dpc, (PVOID)0x11, (PVOID)0x12));
    check_dpc(&dpc, record_dpc, &record, true);
    assert_false(KeInsertQueueDpc(&dpc, (PVOID)0x21, (PVOID)0x22));
    check_dpc(&dpc, record_dpc, &record, true);
    open_gate(old);
    KeFlushQueuedDpcs();
    assert_int_equal(atomic_load(&record.runs), 1);
    assert_ptr_equal(atomic_load(&record.argument1), (PVOID)0x11);
    assert_ptr_equal(atomic_load(&record.argument2), (PVOID)0x12);
    check_dpc(&dpc, record_dpc, &record, false);
}

static void DPCs_run_in_queue_order_at_DISPATCH_LEVEL_on_one_other_thread_with_their_arguments(void **state)
{
    KDPC dpcs[RECORDS];
    struct dpc_record records[RECORDS];
    KIRQL old;

    (void)state;
    atomic_store(&dpc_sequence, 0);
    old = close_gate();
    for (int i = 0; i < RECORDS; i++) {
        init_record(&records[i]);
        KeInitializeDpc(&dpcs[i], record_dpc, &records[i]);
        assert_true(KeInsertQueueDpc(&dpcs[i], (PVOID)(ULONG_PTR)(i + 1), (PVOID)(ULONG_PTR)(i + 100)));
    }
    open_gate(old);
    KeFlushQueuedDpcs();
    for (int i = 0; i < RECORDS; i++) {
        assert_int_equal(atomic_load(&records[i].runs), 1);
        assert_int_equal(atomic_load(&records[i].order), i + 1);
        assert_int_equal(atomic_load(&records[i].irql), DISPATCH_LEVEL);
        assert_ptr_equal(atomic_load(&records[i].context), &records[i]);
        assert_ptr_equal(atomic_load(&records[i].argument1), (PVOID)(ULONG_PTR)(i + 1));
        assert_ptr_equal(atomic_load(&records[i].argument2), (PVOID)(ULONG_PTR)(i + 100));
        assert_ptr_not_equal(atomic_load(&records[i].thread), KeGetCurrentThread());
        assert_ptr_equal(atomic_load(&records[i].thread), atomic_load(&records[0].thread));
    }
    assert_int_equal(KeGetCurrentIrql(), PASSIVE_LEVEL);
}

/* A DPC that re-queues itself from its own routine and counts how many copies of it run at once. */
struct reentrancy {
    KDPC dpc;
    atomic_int inside;
    atomic_int most_inside;
    atomic_int runs;
    atomic_int requeue_refused;
};

static VOID NTAPI requeueing_dpc(PKDPC dpc, PVOID context, PVOID argument1, PVOID argument2)
{
    struct reentrancy *r = context;
    int inside = atomic_fetch_add(&r->inside, 1) + 1;
    LARGE_INTEGER now;

    (void)argument1;
    (void)argument2;
    if (inside > atomic_load(&r->most_inside))
        atomic_store(&r->most_inside, inside);
    for (int i = 0; i < BUSY_ROUNDS; i++)
        KeQuerySystemTime(&now);
    /* NT dequeues a DPC before calling it, so it may queue itself again. Another thread may have
     * queued it meanwhile, which makes this insert return FALSE: that is allowed. */
    if (atomic_fetch_add(&r->runs, 1) + 1 < SELF_REQUEUES && !KeInsertQueueDpc(dpc, NULL, NULL))
        atomic_fetch_add(&r->requeue_refused, 1);
    atomic_fetch_sub(&r->inside, 1);
}

static void a_DPC_never_runs_concurrently_with_itself(void **state)
{
    struct reentrancy r;

    (void)state;
    atomic_store(&r.inside, 0);
    atomic_store(&r.most_inside, 0);
    atomic_store(&r.runs, 0);
    atomic_store(&r.requeue_refused, 0);
    KeInitializeDpc(&r.dpc, requeueing_dpc, &r);
    /* Keep inserting it from this thread too while it runs and re-queues itself on the DPC thread. */
    while (atomic_load(&r.runs) < SELF_REQUEUES)
        KeInsertQueueDpc(&r.dpc, NULL, NULL);
    KeFlushQueuedDpcs();
    assert_int_equal(atomic_load(&r.most_inside), 1);
    assert_true(atomic_load(&r.runs) >= SELF_REQUEUES);
}

static void a_DPC_may_queue_itself_again_from_its_routine(void **state)
{
    struct reentrancy r;

    (void)state;
    atomic_store(&r.inside, 0);
    atomic_store(&r.most_inside, 0);
    atomic_store(&r.runs, 0);
    atomic_store(&r.requeue_refused, 0);
    KeInitializeDpc(&r.dpc, requeueing_dpc, &r);
    assert_true(KeInsertQueueDpc(&r.dpc, NULL, NULL));
    KeFlushQueuedDpcs();
    /* Nobody else queued it, so each insert from the routine found it dequeued and returned TRUE. */
    assert_int_equal(atomic_load(&r.runs), SELF_REQUEUES);
    assert_int_equal(atomic_load(&r.requeue_refused), 0);
    check_dpc(&r.dpc, requeueing_dpc, &r, false);
}

/* ---- KeRemoveQueueDpc ---- */

static void KeRemoveQueueDpc_takes_a_queued_DPC_off_the_queue_before_it_runs(void **state)
{
    KDPC dpc;
    struct dpc_record record;
    KIRQL old;

    (void)state;
    init_record(&record);
    KeInitializeDpc(&dpc, record_dpc, &record);
    old = close_gate();
    KeInsertQueueDpc(&dpc, NULL, NULL);
    assert_true(KeRemoveQueueDpc(&dpc));
    check_dpc(&dpc, record_dpc, &record, false);
    assert_false(KeRemoveQueueDpc(&dpc));
    open_gate(old);
    KeFlushQueuedDpcs();
    assert_int_equal(atomic_load(&record.runs), 0);
    /* It can be queued again afterwards. */
    assert_true(KeInsertQueueDpc(&dpc, NULL, NULL));
    KeFlushQueuedDpcs();
    assert_int_equal(atomic_load(&record.runs), 1);
}

static void KeRemoveQueueDpc_returns_FALSE_for_a_DPC_that_is_not_queued(void **state)
{
    KDPC dpc;
    struct dpc_record record;

    (void)state;
    init_record(&record);
    KeInitializeDpc(&dpc, record_dpc, &record);
    assert_false(KeRemoveQueueDpc(&dpc));
    KeInsertQueueDpc(&dpc, NULL, NULL);
    KeFlushQueuedDpcs();
    assert_false(KeRemoveQueueDpc(&dpc));
    assert_int_equal(atomic_load(&record.runs), 1);
}

static void KeRemoveQueueDpc_keeps_the_DPCs_queued_around_it_in_order(void **state)
{
    KDPC dpcs[RECORDS];
    struct dpc_record records[RECORDS];
    KIRQL old;

    (void)state;
    atomic_store(&dpc_sequence, 0);
    old = close_gate();
    for (int i = 0; i < RECORDS; i++) {
        init_record(&records[i]);
        KeInitializeDpc(&dpcs[i], record_dpc, &records[i]);
        KeInsertQueueDpc(&dpcs[i], NULL, NULL);
    }
    assert_true(KeRemoveQueueDpc(&dpcs[1]));
    open_gate(old);
    KeFlushQueuedDpcs();
    assert_int_equal(atomic_load(&records[0].order), 1);
    assert_int_equal(atomic_load(&records[1].runs), 0);
    assert_int_equal(atomic_load(&records[2].order), 2);
}

/* ---- KeFlushQueuedDpcs ---- */

struct chain {
    KDPC dpcs[RECORDS];
    atomic_int ran;
};

static VOID NTAPI chain_dpc(PKDPC dpc, PVOID context, PVOID argument1, PVOID argument2)
{
    struct chain *c = context;
    int next = atomic_fetch_add(&c->ran, 1) + 1;
    LARGE_INTEGER now;

    (void)dpc;
    (void)argument1;
    (void)argument2;
    for (int i = 0; i < BUSY_ROUNDS; i++)
        KeQuerySystemTime(&now);
    if (next < RECORDS)
        KeInsertQueueDpc(&c->dpcs[next], NULL, NULL);
}

static void KeFlushQueuedDpcs_returns_once_the_queued_DPCs_and_those_they_queue_have_run(void **state)
{
    struct chain c;

    (void)state;
    atomic_store(&c.ran, 0);
    for (int i = 0; i < RECORDS; i++)
        KeInitializeDpc(&c.dpcs[i], chain_dpc, &c);
    KeInsertQueueDpc(&c.dpcs[0], NULL, NULL);
    KeFlushQueuedDpcs();
    assert_int_equal(atomic_load(&c.ran), RECORDS);
}

static void KeFlushQueuedDpcs_with_nothing_queued_returns_at_once(void **state)
{
    LARGE_INTEGER before, after;

    (void)state;
    KeQuerySystemTime(&before);
    KeFlushQueuedDpcs();
    KeFlushQueuedDpcs();
    KeQuerySystemTime(&after);
    assert_int_equal(after.QuadPart, before.QuadPart);
}

static void a_DPC_in_pool_may_be_freed_once_removed_from_the_queue(void **state)
{
    PKDPC dpc = ExAllocatePoolWithTag(NonPagedPool, sizeof *dpc, TAG_DPC);
    struct dpc_record record;
    KIRQL old;

    (void)state;
    assert_non_null(dpc);
    init_record(&record);
    KeInitializeDpc(dpc, record_dpc, &record);
    old = close_gate();
    KeInsertQueueDpc(dpc, NULL, NULL);
    assert_true(KeRemoveQueueDpc(dpc));
    ExFreePool(dpc);
    open_gate(old);
    KeFlushQueuedDpcs();
    assert_int_equal(atomic_load(&record.runs), 0);
}

/* ---- Misuse ---- */

static KDPC scenario_dpc;

static VOID NTAPI lowering_dpc(PKDPC dpc, PVOID context, PVOID argument1, PVOID argument2)
{
    (void)dpc;
    (void)context;
    (void)argument1;
    (void)argument2;
    KeLowerIrql(PASSIVE_LEVEL);
}

static void run_a_DPC_that_lowers_to_passive(void *context)
{
    (void)context;
    KeInitializeDpc(&scenario_dpc, lowering_dpc, NULL);
    KeInsertQueueDpc(&scenario_dpc, NULL, NULL);
    KeFlushQueuedDpcs();
}

static void a_DPC_that_returns_at_PASSIVE_LEVEL_stops_with_IRQL_UNEXPECTED_VALUE_on_the_dpc_thread(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(run_a_DPC_that_lowers_to_passive, NULL, 0xC8, (PASSIVE_LEVEL << 16) | (DISPATCH_LEVEL << 8),
                        "dpc.changed_irql", &stop);
    assert_int_equal(stop.params[1], (ULONG_PTR)lowering_dpc);
    assert_int_equal(stop.params[2], (ULONG_PTR)&scenario_dpc);
    assert_non_null(strstr(stop.report, "Thread:   dpc "));
}

static VOID NTAPI raising_dpc(PKDPC dpc, PVOID context, PVOID argument1, PVOID argument2)
{
    KIRQL old;

    (void)dpc;
    (void)context;
    (void)argument1;
    (void)argument2;
    KeRaiseIrql(HIGH_LEVEL, &old);
}

static void run_a_DPC_that_raises_to_high(void *context)
{
    (void)context;
    KeInitializeDpc(&scenario_dpc, raising_dpc, NULL);
    KeInsertQueueDpc(&scenario_dpc, NULL, NULL);
    KeFlushQueuedDpcs();
}

static void a_DPC_that_returns_at_HIGH_LEVEL_stops_with_IRQL_UNEXPECTED_VALUE(void **state)
{
    (void)state;
    wdmsim_assert_stops(run_a_DPC_that_raises_to_high, NULL, 0xC8, (HIGH_LEVEL << 16) | (DISPATCH_LEVEL << 8),
                        "dpc.changed_irql", NULL);
}

struct pool_dpc {
    ULONG cookie;
    KDPC dpc;
};

static VOID NTAPI idle_dpc(PKDPC dpc, PVOID context, PVOID argument1, PVOID argument2)
{
    (void)dpc;
    (void)context;
    (void)argument1;
    (void)argument2;
}

static void free_pool_with_a_queued_dpc(void *context)
{
    struct pool_dpc *block = ExAllocatePoolWithTag(NonPagedPool, sizeof *block, TAG_DPC);

    (void)context;
    KeInitializeDpc(&block->dpc, idle_dpc, NULL);
    close_gate();
    KeInsertQueueDpc(&block->dpc, NULL, NULL);
    ExFreePool(block);
}

static void freeing_pool_that_holds_a_queued_DPC_stops_with_TIMER_OR_DPC_INVALID(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(free_pool_with_a_queued_dpc, NULL, 0xC7, 1, "pool.free_queued_dpc", &stop);
    assert_string_equal(stop.code_name, "TIMER_OR_DPC_INVALID");
    /* The child's block is at an address only the report knows: dpc = start + offset, end = start + size. */
    assert_int_equal(stop.params[1], stop.params[2] + offsetof(struct pool_dpc, dpc));
    assert_int_equal(stop.params[3], stop.params[2] + sizeof(struct pool_dpc));
}

static void flush_at_dispatch(void *context)
{
    KIRQL old;

    (void)context;
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    KeFlushQueuedDpcs();
}

static void KeFlushQueuedDpcs_above_PASSIVE_LEVEL_stops_with_C4_2001C(void **state)
{
    (void)state;
    wdmsim_assert_stops(flush_at_dispatch, NULL, 0xC4, 0x2001C, "ps.not_passive", NULL);
}

/* ---- Processors ---- */

static VOID NTAPI processor_dpc(PKDPC dpc, PVOID context, PVOID argument1, PVOID argument2)
{
    (void)dpc;
    (void)argument1;
    (void)argument2;
    *(ULONG *)context = KeGetCurrentProcessorNumber();
}

static void a_DPC_runs_on_the_processor_that_queued_it(void **state)
{
    KDPC dpc;
    ULONG ran_on = 99;

    (void)state;
    KeInitializeDpc(&dpc, processor_dpc, &ran_on);
    KeSetSystemAffinityThreadEx(1u << 2);
    KeInsertQueueDpc(&dpc, NULL, NULL);
    KeFlushQueuedDpcs();
    assert_int_equal(ran_on, 2);
    KeSetSystemAffinityThreadEx(1u << 1);
    KeInsertQueueDpc(&dpc, NULL, NULL);
    KeFlushQueuedDpcs();
    assert_int_equal(ran_on, 1);
    KeRevertToUserAffinityThreadEx(0);
}

static void KeSetTargetProcessorDpc_sends_it_to_that_processor(void **state)
{
    KDPC dpc;
    ULONG ran_on = 99;

    (void)state;
    KeInitializeDpc(&dpc, processor_dpc, &ran_on);
    KeSetTargetProcessorDpc(&dpc, 3);
    KeSetSystemAffinityThreadEx(1u << 0);
    KeInsertQueueDpc(&dpc, NULL, NULL);
    KeFlushQueuedDpcs();
    assert_int_equal(ran_on, 3);
    KeRevertToUserAffinityThreadEx(0);
}

static void queue_dpc_for_processor_9(void *context)
{
    static KDPC dpc;

    (void)context;
    KeInitializeDpc(&dpc, processor_dpc, NULL);
    KeSetTargetProcessorDpc(&dpc, 9);
    KeInsertQueueDpc(&dpc, NULL, NULL);
}

static void queuing_a_DPC_for_a_processor_the_machine_lacks_stops(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(queue_dpc_for_processor_9, NULL, 0x1E, 0xC0000005, "dpc.target_not_a_processor", &stop);
    assert_int_equal(stop.params[2], 9);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        wdmsim_test(KeInitializeDpc_leaves_the_DPC_unqueued_with_its_routine_and_context),
        wdmsim_test(KeInitializeDpc_leaves_the_list_entry_and_the_system_arguments_as_they_were),
        wdmsim_test(KeInsertQueueDpc_returns_FALSE_when_already_queued_and_keeps_the_first_arguments),
        wdmsim_test(DPCs_run_in_queue_order_at_DISPATCH_LEVEL_on_one_other_thread_with_their_arguments),
        wdmsim_test(a_DPC_never_runs_concurrently_with_itself),
        wdmsim_test(a_DPC_may_queue_itself_again_from_its_routine),
        wdmsim_test(KeRemoveQueueDpc_takes_a_queued_DPC_off_the_queue_before_it_runs),
        wdmsim_test(KeRemoveQueueDpc_returns_FALSE_for_a_DPC_that_is_not_queued),
        wdmsim_test(a_DPC_runs_on_the_processor_that_queued_it),
        wdmsim_test(KeSetTargetProcessorDpc_sends_it_to_that_processor),
        wdmsim_test(queuing_a_DPC_for_a_processor_the_machine_lacks_stops),
        wdmsim_test(KeRemoveQueueDpc_keeps_the_DPCs_queued_around_it_in_order),
        wdmsim_test(KeFlushQueuedDpcs_returns_once_the_queued_DPCs_and_those_they_queue_have_run),
        wdmsim_test(KeFlushQueuedDpcs_with_nothing_queued_returns_at_once),
        wdmsim_test(a_DPC_in_pool_may_be_freed_once_removed_from_the_queue),
        wdmsim_test(a_DPC_that_returns_at_PASSIVE_LEVEL_stops_with_IRQL_UNEXPECTED_VALUE_on_the_dpc_thread),
        wdmsim_test(a_DPC_that_returns_at_HIGH_LEVEL_stops_with_IRQL_UNEXPECTED_VALUE),
        wdmsim_test(freeing_pool_that_holds_a_queued_DPC_stops_with_TIMER_OR_DPC_INVALID),
        wdmsim_test(KeFlushQueuedDpcs_above_PASSIVE_LEVEL_stops_with_C4_2001C),
    };

    /* A STOP scenario's child boots from the environment: on the virtual clock, like the tests. */
    setenv("WDMSIM_CLOCK", "virtual", 1);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
