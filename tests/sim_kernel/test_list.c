/*
 * test_list.c - the DDK's inline list helpers (as wdm.h defines them, link checks included) and
 * the interlocked list DDIs of list.c: return values, order, IRQL and lock state after each call;
 * the interlocked singly linked lists (SLIST) and the spin-lock forms of interlocked addition.
 */

#include <wdmsim/test.h>
#include "wdmsim_test_threads.h"

#define PRODUCERS 2
#define PER_PRODUCER 5000

struct item {
    int value;
    LIST_ENTRY link;
    SINGLE_LIST_ENTRY slink;
};

static int value_of(PLIST_ENTRY entry)
{
    return CONTAINING_RECORD(entry, struct item, link)->value;
}

static void InitializeListHead_makes_an_empty_list(void **state)
{
    LIST_ENTRY head;

    (void)state;
    InitializeListHead(&head);
    assert_true(IsListEmpty(&head));
    assert_ptr_equal(head.Flink, &head);
    assert_ptr_equal(head.Blink, &head);
}

static void InsertTailList_appends_and_InsertHeadList_prepends(void **state)
{
    LIST_ENTRY head;
    struct item a = { .value = 1 }, b = { .value = 2 }, c = { .value = 3 };

    (void)state;
    InitializeListHead(&head);
    InsertTailList(&head, &b.link);
    InsertTailList(&head, &c.link);
    InsertHeadList(&head, &a.link);
    assert_false(IsListEmpty(&head));
    assert_int_equal(value_of(head.Flink), 1);
    assert_int_equal(value_of(head.Flink->Flink), 2);
    assert_int_equal(value_of(head.Blink), 3);
    assert_ptr_equal(head.Blink->Flink, &head);
}

static void RemoveHeadList_and_RemoveTailList_on_an_empty_list_return_the_head(void **state)
{
    LIST_ENTRY head;

    (void)state;
    InitializeListHead(&head);
    assert_ptr_equal(RemoveHeadList(&head), &head);
    assert_ptr_equal(RemoveTailList(&head), &head);
    assert_true(IsListEmpty(&head));
}

static void RemoveHeadList_and_RemoveTailList_take_from_their_ends(void **state)
{
    LIST_ENTRY head;
    struct item a = { .value = 1 }, b = { .value = 2 }, c = { .value = 3 };

    (void)state;
    InitializeListHead(&head);
    InsertTailList(&head, &a.link);
    InsertTailList(&head, &b.link);
    InsertTailList(&head, &c.link);
    assert_int_equal(value_of(RemoveHeadList(&head)), 1);
    assert_int_equal(value_of(RemoveTailList(&head)), 3);
    assert_int_equal(value_of(RemoveHeadList(&head)), 2);
    assert_true(IsListEmpty(&head));
}

static void RemoveEntryList_returns_TRUE_only_when_the_list_becomes_empty(void **state)
{
    LIST_ENTRY head;
    struct item a = { .value = 1 }, b = { .value = 2 };

    (void)state;
    InitializeListHead(&head);
    InsertTailList(&head, &a.link);
    InsertTailList(&head, &b.link);
    assert_false(RemoveEntryList(&a.link));
    assert_true(RemoveEntryList(&b.link));
    assert_true(IsListEmpty(&head));
}

static void PushEntryList_and_PopEntryList_work_as_a_stack_and_pop_NULL_when_empty(void **state)
{
    SINGLE_LIST_ENTRY head = { NULL };
    struct item a = { .value = 1 }, b = { .value = 2 };

    (void)state;
    PushEntryList(&head, &a.slink);
    PushEntryList(&head, &b.slink);
    assert_int_equal(CONTAINING_RECORD(PopEntryList(&head), struct item, slink)->value, 2);
    assert_int_equal(CONTAINING_RECORD(PopEntryList(&head), struct item, slink)->value, 1);
    assert_null(PopEntryList(&head));
}

static LIST_ENTRY scenario_head;
static struct item scenario_items[2];

static void remove_entry_twice(void *context)
{
    (void)context;
    InitializeListHead(&scenario_head);
    InsertTailList(&scenario_head, &scenario_items[0].link);
    InsertTailList(&scenario_head, &scenario_items[1].link);
    RemoveEntryList(&scenario_items[0].link);
    RemoveEntryList(&scenario_items[0].link);
}

static void removing_an_entry_twice_stops_with_KERNEL_SECURITY_CHECK_FAILURE_3(void **state)
{
    (void)state;
    wdmsim_assert_stops(remove_entry_twice, NULL, 0x139, 3, "list.corrupt_links", NULL);
}

static void insert_entry_twice(void *context)
{
    (void)context;
    InitializeListHead(&scenario_head);
    InsertTailList(&scenario_head, &scenario_items[0].link);
    InsertTailList(&scenario_head, &scenario_items[1].link);
    InsertHeadList(&scenario_head, &scenario_items[1].link);
    RemoveTailList(&scenario_head);
}

static void an_entry_inserted_twice_stops_on_the_next_removal(void **state)
{
    (void)state;
    wdmsim_assert_stops(insert_entry_twice, NULL, 0x139, 3, "list.corrupt_links", NULL);
}

/* The interlocked DDIs: after each call, the IRQL is what it was and the lock is free. */
static void check_interlocked_state(const KSPIN_LOCK *lock, KIRQL irql)
{
    assert_int_equal(*lock, 0);
    assert_int_equal(KeGetCurrentIrql(), irql);
}

static void ExInterlockedInsertTailList_returns_the_previous_last_entry_or_NULL(void **state)
{
    LIST_ENTRY head;
    KSPIN_LOCK lock;
    struct item a = { .value = 1 }, b = { .value = 2 };

    (void)state;
    InitializeListHead(&head);
    KeInitializeSpinLock(&lock);
    assert_null(ExInterlockedInsertTailList(&head, &a.link, &lock));
    check_interlocked_state(&lock, PASSIVE_LEVEL);
    assert_ptr_equal(ExInterlockedInsertTailList(&head, &b.link, &lock), &a.link);
    assert_ptr_equal(head.Blink, &b.link);
}

static void ExInterlockedInsertHeadList_returns_the_previous_first_entry_or_NULL(void **state)
{
    LIST_ENTRY head;
    KSPIN_LOCK lock;
    struct item a = { .value = 1 }, b = { .value = 2 };

    (void)state;
    InitializeListHead(&head);
    KeInitializeSpinLock(&lock);
    assert_null(ExInterlockedInsertHeadList(&head, &a.link, &lock));
    assert_ptr_equal(ExInterlockedInsertHeadList(&head, &b.link, &lock), &a.link);
    assert_ptr_equal(head.Flink, &b.link);
    check_interlocked_state(&lock, PASSIVE_LEVEL);
}

static void ExInterlockedRemoveHeadList_returns_NULL_not_the_head_when_empty(void **state)
{
    LIST_ENTRY head;
    KSPIN_LOCK lock;
    struct item a = { .value = 1 }, b = { .value = 2 };

    (void)state;
    InitializeListHead(&head);
    KeInitializeSpinLock(&lock);
    assert_null(ExInterlockedRemoveHeadList(&head, &lock));
    ExInterlockedInsertTailList(&head, &a.link, &lock);
    ExInterlockedInsertTailList(&head, &b.link, &lock);
    assert_int_equal(value_of(ExInterlockedRemoveHeadList(&head, &lock)), 1);
    assert_int_equal(value_of(ExInterlockedRemoveHeadList(&head, &lock)), 2);
    assert_null(ExInterlockedRemoveHeadList(&head, &lock));
    check_interlocked_state(&lock, PASSIVE_LEVEL);
}

static void ExInterlockedPushEntryList_and_Pop_return_the_previous_and_removed_entries(void **state)
{
    SINGLE_LIST_ENTRY head = { NULL };
    KSPIN_LOCK lock;
    struct item a = { .value = 1 }, b = { .value = 2 };

    (void)state;
    KeInitializeSpinLock(&lock);
    assert_null(ExInterlockedPushEntryList(&head, &a.slink, &lock));
    assert_ptr_equal(ExInterlockedPushEntryList(&head, &b.slink, &lock), &a.slink);
    assert_ptr_equal(ExInterlockedPopEntryList(&head, &lock), &b.slink);
    assert_ptr_equal(ExInterlockedPopEntryList(&head, &lock), &a.slink);
    assert_null(ExInterlockedPopEntryList(&head, &lock));
    check_interlocked_state(&lock, PASSIVE_LEVEL);
}

static void interlocked_list_calls_at_DISPATCH_LEVEL_return_at_DISPATCH_LEVEL(void **state)
{
    LIST_ENTRY head;
    KSPIN_LOCK lock;
    struct item a = { .value = 1 };
    KIRQL old;

    (void)state;
    InitializeListHead(&head);
    KeInitializeSpinLock(&lock);
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    ExInterlockedInsertTailList(&head, &a.link, &lock);
    check_interlocked_state(&lock, DISPATCH_LEVEL);
    assert_ptr_equal(ExInterlockedRemoveHeadList(&head, &lock), &a.link);
    check_interlocked_state(&lock, DISPATCH_LEVEL);
    KeLowerIrql(old);
}

static KSPIN_LOCK scenario_lock;

static void insert_while_holding_the_lock(void *context)
{
    KIRQL old;

    (void)context;
    InitializeListHead(&scenario_head);
    KeInitializeSpinLock(&scenario_lock);
    KeAcquireSpinLock(&scenario_lock, &old);
    ExInterlockedInsertTailList(&scenario_head, &scenario_items[0].link, &scenario_lock);
}

static void ExInterlockedInsertTailList_with_a_lock_you_hold_stops_with_SPIN_LOCK_ALREADY_OWNED(void **state)
{
    (void)state;
    wdmsim_assert_stops(insert_while_holding_the_lock, NULL, 0x0F, (long long)(ULONG_PTR)&scenario_lock,
                        "spinlock.recursive_acquire", NULL);
}

struct shared_list {
    LIST_ENTRY head;
    KSPIN_LOCK lock;
    struct item items[PRODUCERS][PER_PRODUCER];
};

struct producer {
    struct shared_list *list;
    int id;
};

static void produce(void *context)
{
    struct producer *p = context;
    KIRQL old;

    for (int i = 0; i < PER_PRODUCER; i++) {
        struct item *item = &p->list->items[p->id][i];

        item->value = p->id * PER_PRODUCER + i;
        if (i % 2)
            KeRaiseIrql(DISPATCH_LEVEL, &old);
        ExInterlockedInsertTailList(&p->list->head, &item->link, &p->list->lock);
        if (i % 2)
            KeLowerIrql(old);
    }
}

static void concurrent_producers_lose_nothing_and_keep_their_own_order(void **state)
{
    static struct shared_list list;
    struct producer producers[PRODUCERS];
    struct wdmsim_test_thread threads[PRODUCERS];
    int next[PRODUCERS] = { 0 };
    int received = 0;
    PLIST_ENTRY entry;

    (void)state;
    InitializeListHead(&list.head);
    KeInitializeSpinLock(&list.lock);
    for (int i = 0; i < PRODUCERS; i++) {
        producers[i] = (struct producer){ &list, i };
        wdmsim_test_thread_start(&threads[i], produce, &producers[i]);
    }
    while (received < PRODUCERS * PER_PRODUCER) {
        entry = ExInterlockedRemoveHeadList(&list.head, &list.lock);
        if (entry == NULL)
            continue;
        int value = value_of(entry);
        int id = value / PER_PRODUCER;

        assert_int_equal(value % PER_PRODUCER, next[id]);
        next[id]++;
        received++;
    }
    for (int i = 0; i < PRODUCERS; i++)
        wdmsim_test_thread_join(&threads[i]);
    assert_true(IsListEmpty(&list.head));
    check_interlocked_state(&list.lock, PASSIVE_LEVEL);
}

/* ---- Interlocked singly linked lists (SLIST) ---- */

struct slist_item {
    SLIST_ENTRY entry;
    int value;
};

static int slist_value(PSLIST_ENTRY entry)
{
    return CONTAINING_RECORD(entry, struct slist_item, entry)->value;
}

static void InitializeSListHead_makes_an_empty_list_of_depth_0(void **state)
{
    SLIST_HEADER head;

    (void)state;
    memset(&head, 0xA5, sizeof head);
    InitializeSListHead(&head);
    assert_int_equal(QueryDepthSList(&head), 0);
    assert_null(InterlockedPopEntrySList(&head));
    assert_null(InterlockedFlushSList(&head));
}

static void SList_push_and_pop_are_last_in_first_out_and_count_the_depth(void **state)
{
    SLIST_HEADER head;
    struct slist_item a = { .value = 1 }, b = { .value = 2 }, c = { .value = 3 };

    (void)state;
    InitializeSListHead(&head);
    assert_null(InterlockedPushEntrySList(&head, &a.entry));
    assert_ptr_equal(InterlockedPushEntrySList(&head, &b.entry), &a.entry);
    assert_ptr_equal(ExInterlockedPushEntrySList(&head, &c.entry, NULL), &b.entry);
    assert_int_equal(ExQueryDepthSList(&head), 3);
    assert_int_equal(slist_value(InterlockedPopEntrySList(&head)), 3);
    assert_int_equal(slist_value(ExInterlockedPopEntrySList(&head, NULL)), 2);
    assert_int_equal(QueryDepthSList(&head), 1);
    assert_int_equal(slist_value(InterlockedPopEntrySList(&head)), 1);
    assert_null(InterlockedPopEntrySList(&head));
    assert_int_equal(QueryDepthSList(&head), 0);
}

static void SList_flush_returns_every_entry_still_linked_and_empties_the_list(void **state)
{
    SLIST_HEADER head;
    struct slist_item a = { .value = 1 }, b = { .value = 2 };
    PSLIST_ENTRY first;

    (void)state;
    InitializeSListHead(&head);
    InterlockedPushEntrySList(&head, &a.entry);
    InterlockedPushEntrySList(&head, &b.entry);
    first = ExInterlockedFlushSList(&head);
    assert_ptr_equal(first, &b.entry);
    assert_ptr_equal(first->Next, &a.entry);
    assert_null(a.entry.Next);
    assert_int_equal(QueryDepthSList(&head), 0);
    assert_null(InterlockedPopEntrySList(&head));
}

static void the_SList_header_keeps_the_depth_and_the_first_entry_shifted_right_by_4(void **state)
{
    SLIST_HEADER head;
    struct slist_item a = { .value = 1 };

    (void)state;
    InitializeSListHead(&head);
    InterlockedPushEntrySList(&head, &a.entry);
    assert_int_equal(head.HeaderX64.Depth, 1);
    assert_int_equal(head.HeaderX64.NextEntry, (ULONG_PTR)&a.entry >> 4);
    assert_int_not_equal(head.HeaderX64.Sequence, 0);
}

#define SLIST_PUSHERS 2
#define SLIST_PER_PUSHER 2000

struct slist_pusher {
    PSLIST_HEADER head;
    struct slist_item *items;
};

static void push_all(void *context)
{
    struct slist_pusher *p = context;

    for (int i = 0; i < SLIST_PER_PUSHER; i++)
        InterlockedPushEntrySList(p->head, &p->items[i].entry);
}

static void SList_pushes_from_many_threads_lose_no_entry(void **state)
{
    static struct slist_item items[SLIST_PUSHERS][SLIST_PER_PUSHER];
    static SLIST_HEADER head;
    struct slist_pusher pushers[SLIST_PUSHERS];
    struct wdmsim_test_thread threads[SLIST_PUSHERS];
    int popped = 0;

    (void)state;
    InitializeSListHead(&head);
    for (int i = 0; i < SLIST_PUSHERS; i++) {
        pushers[i] = (struct slist_pusher){ &head, items[i] };
        wdmsim_test_thread_start(&threads[i], push_all, &pushers[i]);
    }
    for (int i = 0; i < SLIST_PUSHERS; i++)
        wdmsim_test_thread_join(&threads[i]);
    assert_int_equal(QueryDepthSList(&head), SLIST_PUSHERS * SLIST_PER_PUSHER);
    while (InterlockedPopEntrySList(&head) != NULL)
        popped++;
    assert_int_equal(popped, SLIST_PUSHERS * SLIST_PER_PUSHER);
}

static void push_misaligned_entry(void *context)
{
    static SLIST_HEADER head;
    static char memory[sizeof(SLIST_ENTRY) + 32] __attribute__((aligned(16)));

    (void)context;
    InitializeSListHead(&head);
    InterlockedPushEntrySList(&head, (PSLIST_ENTRY)(memory + 8));
}

static void pushing_a_misaligned_SList_entry_stops_with_0x1E_STATUS_DATATYPE_MISALIGNMENT(void **state)
{
    (void)state;
    wdmsim_assert_stops(push_misaligned_entry, NULL, 0x1E, 0x80000002, "slist.misaligned", NULL);
}

static void initialize_misaligned_header(void *context)
{
    static char memory[sizeof(SLIST_HEADER) + 32] __attribute__((aligned(16)));

    (void)context;
    InitializeSListHead((PSLIST_HEADER)(memory + 8));
}

static void InitializeSListHead_of_a_misaligned_header_stops_with_0x1E(void **state)
{
    (void)state;
    wdmsim_assert_stops(initialize_misaligned_header, NULL, 0x1E, 0x80000002, "slist.misaligned", NULL);
}

/* ---- Interlocked additions under a spin lock ---- */

static void ExInterlockedAddUlong_and_AddLargeInteger_return_the_value_before(void **state)
{
    KSPIN_LOCK lock;
    ULONG counter = 40;
    LARGE_INTEGER big = { .QuadPart = 0x100000000LL }, step = { .QuadPart = 5 }, before;

    (void)state;
    KeInitializeSpinLock(&lock);
    assert_int_equal(ExInterlockedAddUlong(&counter, 2, &lock), 40);
    assert_int_equal(counter, 42);
    before = ExInterlockedAddLargeInteger(&big, step, &lock);
    assert_int_equal(before.QuadPart, 0x100000000LL);
    assert_int_equal(big.QuadPart, 0x100000005LL);
    check_interlocked_state(&lock, PASSIVE_LEVEL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        wdmsim_test(InitializeListHead_makes_an_empty_list),
        wdmsim_test(InsertTailList_appends_and_InsertHeadList_prepends),
        wdmsim_test(RemoveHeadList_and_RemoveTailList_on_an_empty_list_return_the_head),
        wdmsim_test(RemoveHeadList_and_RemoveTailList_take_from_their_ends),
        wdmsim_test(RemoveEntryList_returns_TRUE_only_when_the_list_becomes_empty),
        wdmsim_test(PushEntryList_and_PopEntryList_work_as_a_stack_and_pop_NULL_when_empty),
        wdmsim_test(removing_an_entry_twice_stops_with_KERNEL_SECURITY_CHECK_FAILURE_3),
        wdmsim_test(an_entry_inserted_twice_stops_on_the_next_removal),
        wdmsim_test(ExInterlockedInsertTailList_returns_the_previous_last_entry_or_NULL),
        wdmsim_test(ExInterlockedInsertHeadList_returns_the_previous_first_entry_or_NULL),
        wdmsim_test(ExInterlockedRemoveHeadList_returns_NULL_not_the_head_when_empty),
        wdmsim_test(ExInterlockedPushEntryList_and_Pop_return_the_previous_and_removed_entries),
        wdmsim_test(interlocked_list_calls_at_DISPATCH_LEVEL_return_at_DISPATCH_LEVEL),
        wdmsim_test(ExInterlockedInsertTailList_with_a_lock_you_hold_stops_with_SPIN_LOCK_ALREADY_OWNED),
        wdmsim_test(concurrent_producers_lose_nothing_and_keep_their_own_order),
        wdmsim_test(InitializeSListHead_makes_an_empty_list_of_depth_0),
        wdmsim_test(SList_push_and_pop_are_last_in_first_out_and_count_the_depth),
        wdmsim_test(SList_flush_returns_every_entry_still_linked_and_empties_the_list),
        wdmsim_test(the_SList_header_keeps_the_depth_and_the_first_entry_shifted_right_by_4),
        wdmsim_test(SList_pushes_from_many_threads_lose_no_entry),
        wdmsim_test(pushing_a_misaligned_SList_entry_stops_with_0x1E_STATUS_DATATYPE_MISALIGNMENT),
        wdmsim_test(InitializeSListHead_of_a_misaligned_header_stops_with_0x1E),
        wdmsim_test(ExInterlockedAddUlong_and_AddLargeInteger_return_the_value_before),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
