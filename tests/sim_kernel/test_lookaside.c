/*
 * test_lookaside.c - lookaside lists: misses go to the allocate routine, freed blocks are cached up
 * to the list's depth and handed out again, deleting gives every cached block back, the blocks are
 * the driver's pool, and the misuse that stops the machine (an uninitialised or twice-initialised
 * list, a list in freed pool, one an unload leaves behind).
 */
#include "wdmsim_test.h"

#define LOOKASIDE_TAG 'kooL'
#define BLOCK_SIZE 40
/* The depth the simulator keeps, as Windows starts a list with. */
#define DEPTH 4

static NPAGED_LOOKASIDE_LIST nonpaged;

static size_t pool_blocks(void)
{
    return wdmsim_pool_outstanding_by_tag(LOOKASIDE_TAG, NULL);
}

/* The counters of the list, as a debugger's !lookaside shows them. */
static void check_counts(const GENERAL_LOOKASIDE *l, ULONG allocates, ULONG misses, ULONG frees, ULONG free_misses,
                         USHORT cached)
{
    assert_int_equal(l->TotalAllocates, allocates);
    assert_int_equal(l->AllocateMisses, misses);
    assert_int_equal(l->TotalFrees, frees);
    assert_int_equal(l->FreeMisses, free_misses);
    assert_int_equal(ExQueryDepthSList((PSLIST_HEADER)&l->ListHead), cached);
}

static void an_allocation_from_an_empty_list_is_a_miss_served_from_pool(void **state)
{
    PVOID block;

    (void)state;
    ExInitializeNPagedLookasideList(&nonpaged, NULL, NULL, POOL_NX_ALLOCATION, BLOCK_SIZE, LOOKASIDE_TAG, 0);
    assert_int_equal(nonpaged.L.Depth, DEPTH);
    assert_int_equal(nonpaged.L.Size, BLOCK_SIZE);
    assert_int_equal(nonpaged.L.Type, NonPagedPoolNx);
    block = ExAllocateFromNPagedLookasideList(&nonpaged);
    assert_non_null(block);
    check_counts(&nonpaged.L, 1, 1, 0, 0, 0);
    assert_int_equal(pool_blocks(), 1);
    ExFreeToNPagedLookasideList(&nonpaged, block);
    ExDeleteNPagedLookasideList(&nonpaged);
}

static void a_freed_block_is_cached_and_handed_out_again(void **state)
{
    PVOID first, again;

    (void)state;
    ExInitializeNPagedLookasideList(&nonpaged, NULL, NULL, 0, BLOCK_SIZE, LOOKASIDE_TAG, 0);
    first = ExAllocateFromNPagedLookasideList(&nonpaged);
    ExFreeToNPagedLookasideList(&nonpaged, first);
    check_counts(&nonpaged.L, 1, 1, 1, 0, 1);
    assert_int_equal(pool_blocks(), 1);
    again = ExAllocateFromNPagedLookasideList(&nonpaged);
    assert_ptr_equal(again, first);
    check_counts(&nonpaged.L, 2, 1, 1, 0, 0);
    ExFreeToNPagedLookasideList(&nonpaged, again);
    ExDeleteNPagedLookasideList(&nonpaged);
}

static void the_list_caches_no_more_than_its_depth_and_deleting_frees_the_cache(void **state)
{
    PVOID blocks[DEPTH + 2];

    (void)state;
    ExInitializeNPagedLookasideList(&nonpaged, NULL, NULL, 0, BLOCK_SIZE, LOOKASIDE_TAG, 0);
    for (int i = 0; i < DEPTH + 2; i++)
        blocks[i] = ExAllocateFromNPagedLookasideList(&nonpaged);
    for (int i = 0; i < DEPTH + 2; i++)
        ExFreeToNPagedLookasideList(&nonpaged, blocks[i]);
    check_counts(&nonpaged.L, DEPTH + 2, DEPTH + 2, DEPTH + 2, 2, DEPTH);
    assert_int_equal(pool_blocks(), DEPTH);
    ExDeleteNPagedLookasideList(&nonpaged);
    assert_int_equal(pool_blocks(), 0);
}

static int own_allocations, own_frees;

static PVOID NTAPI OwnAllocate(POOL_TYPE PoolType, SIZE_T NumberOfBytes, ULONG Tag)
{
    own_allocations++;
    return ExAllocatePoolWithTag(PoolType, NumberOfBytes, Tag);
}

static VOID NTAPI OwnFree(PVOID Buffer)
{
    own_frees++;
    ExFreePoolWithTag(Buffer, LOOKASIDE_TAG);
}

static void the_drivers_own_routines_serve_the_misses_and_take_the_overflow(void **state)
{
    PVOID blocks[DEPTH + 1];

    (void)state;
    own_allocations = own_frees = 0;
    ExInitializeNPagedLookasideList(&nonpaged, OwnAllocate, OwnFree, 0, BLOCK_SIZE, LOOKASIDE_TAG, 0);
    for (int i = 0; i < DEPTH + 1; i++)
        blocks[i] = ExAllocateFromNPagedLookasideList(&nonpaged);
    for (int i = 0; i < DEPTH + 1; i++)
        ExFreeToNPagedLookasideList(&nonpaged, blocks[i]);
    assert_int_equal(own_allocations, DEPTH + 1);
    assert_int_equal(own_frees, 1);
    ExDeleteNPagedLookasideList(&nonpaged);
    assert_int_equal(own_frees, DEPTH + 1);
}

static void a_paged_list_works_at_APC_LEVEL(void **state)
{
    PAGED_LOOKASIDE_LIST paged;
    KIRQL old;
    PVOID block;

    (void)state;
    ExInitializePagedLookasideList(&paged, NULL, NULL, 0, BLOCK_SIZE, LOOKASIDE_TAG, 0);
    assert_int_equal(paged.L.Type, PagedPool);
    KeRaiseIrql(APC_LEVEL, &old);
    block = ExAllocateFromPagedLookasideList(&paged);
    ExFreeToPagedLookasideList(&paged, block);
    KeLowerIrql(old);
    ExDeletePagedLookasideList(&paged);
    assert_int_equal(pool_blocks(), 0);
}

static PLOOKASIDE_LIST_EX seen_lookaside;

static PVOID NTAPI ExAllocate(POOL_TYPE PoolType, SIZE_T NumberOfBytes, ULONG Tag, PLOOKASIDE_LIST_EX Lookaside)
{
    seen_lookaside = Lookaside;
    return ExAllocatePoolWithTag(PoolType, NumberOfBytes, Tag);
}

static void a_LOOKASIDE_LIST_EX_passes_itself_to_its_routines_and_flushes_its_cache(void **state)
{
    LOOKASIDE_LIST_EX ex;
    PVOID block;

    (void)state;
    assert_int_equal(ExInitializeLookasideListEx(&ex, NULL, NULL, NonPagedPoolNx, 3, BLOCK_SIZE, LOOKASIDE_TAG, 0),
                     STATUS_INVALID_PARAMETER_5);
    assert_int_equal(ExInitializeLookasideListEx(&ex, ExAllocate, NULL, NonPagedPoolNx, 0, BLOCK_SIZE,
                                                 LOOKASIDE_TAG, 0),
                     STATUS_SUCCESS);
    block = ExAllocateFromLookasideListEx(&ex);
    assert_ptr_equal(seen_lookaside, &ex);
    ExFreeToLookasideListEx(&ex, block);
    assert_int_equal(pool_blocks(), 1);
    ExFlushLookasideListEx(&ex);
    assert_int_equal(pool_blocks(), 0);
    block = ExAllocateFromLookasideListEx(&ex);
    assert_non_null(block);
    ExFreeToLookasideListEx(&ex, block);
    ExDeleteLookasideListEx(&ex);
    assert_int_equal(pool_blocks(), 0);
}

/* ---- Misuse ---- */

static void paged_at_dispatch(void *context)
{
    static PAGED_LOOKASIDE_LIST paged;
    KIRQL old;

    (void)context;
    ExInitializePagedLookasideList(&paged, NULL, NULL, 0, BLOCK_SIZE, LOOKASIDE_TAG, 0);
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    ExAllocateFromPagedLookasideList(&paged);
}

static void a_paged_list_used_at_DISPATCH_LEVEL_stops_with_C4(void **state)
{
    (void)state;
    wdmsim_assert_stops(paged_at_dispatch, NULL, 0xC4, 0x20006, "lookaside.paged_above_apc", NULL);
}

static void allocate_raising(void *context)
{
    (void)context;
    ExInitializeNPagedLookasideList(&nonpaged, NULL, NULL, POOL_RAISE_IF_ALLOCATION_FAILURE, BLOCK_SIZE,
                                    LOOKASIDE_TAG, 0);
    wdmsim_pool_fail_nth(1);
    ExAllocateFromNPagedLookasideList(&nonpaged);
}

static void a_list_asked_to_raise_stops_with_0x1E_when_its_allocation_fails(void **state)
{
    (void)state;
    wdmsim_assert_stops(allocate_raising, NULL, 0x1E, 0xC000009A, "pool.raised_failure", NULL);
}

static void allocate_uninitialized(void *context)
{
    static NPAGED_LOOKASIDE_LIST never_initialized;

    (void)context;
    ExAllocateFromNPagedLookasideList(&never_initialized);
}

static void allocating_from_a_list_never_initialised_stops_with_0x1E_access_violation(void **state)
{
    (void)state;
    wdmsim_assert_stops(allocate_uninitialized, NULL, 0x1E, 0xC0000005, "lookaside.not_initialized", NULL);
}

static void delete_twice(void *context)
{
    (void)context;
    ExInitializeNPagedLookasideList(&nonpaged, NULL, NULL, 0, BLOCK_SIZE, LOOKASIDE_TAG, 0);
    ExDeleteNPagedLookasideList(&nonpaged);
    ExDeleteNPagedLookasideList(&nonpaged);
}

static void deleting_a_list_twice_stops_with_KERNEL_SECURITY_CHECK_FAILURE(void **state)
{
    (void)state;
    wdmsim_assert_stops(delete_twice, NULL, 0x139, 3, "list.corrupt_links", NULL);
}

static void initialize_twice(void *context)
{
    (void)context;
    ExInitializeNPagedLookasideList(&nonpaged, NULL, NULL, 0, BLOCK_SIZE, LOOKASIDE_TAG, 0);
    ExInitializeNPagedLookasideList(&nonpaged, NULL, NULL, 0, BLOCK_SIZE, LOOKASIDE_TAG, 0);
}

static void initialising_a_live_list_again_stops_with_KERNEL_SECURITY_CHECK_FAILURE(void **state)
{
    (void)state;
    wdmsim_assert_stops(initialize_twice, NULL, 0x139, 3, "list.corrupt_links", NULL);
}

static void free_pool_holding_a_list(void *context)
{
    PNPAGED_LOOKASIDE_LIST pooled = ExAllocatePoolWithTag(NonPagedPoolNx, sizeof *pooled, LOOKASIDE_TAG);

    (void)context;
    ExInitializeNPagedLookasideList(pooled, NULL, NULL, 0, BLOCK_SIZE, LOOKASIDE_TAG, 0);
    ExFreePoolWithTag(pooled, LOOKASIDE_TAG);
}

static void freeing_pool_that_holds_a_live_list_stops_with_C4_CC(void **state)
{
    (void)state;
    wdmsim_assert_stops(free_pool_holding_a_list, NULL, 0xC4, 0xCC, "lookaside.freed_active", NULL);
}

static NPAGED_LOOKASIDE_LIST driver_list;

static VOID NTAPI ForgetfulUnload(PDRIVER_OBJECT DriverObject)
{
    UNREFERENCED_PARAMETER(DriverObject);
}

static NTSTATUS NTAPI ForgetfulDriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    UNREFERENCED_PARAMETER(RegistryPath);
    DriverObject->DriverUnload = ForgetfulUnload;
    ExInitializeNPagedLookasideList(&driver_list, OwnAllocate, OwnFree, 0, BLOCK_SIZE, LOOKASIDE_TAG, 0);
    ExFreeToNPagedLookasideList(&driver_list, ExAllocateFromNPagedLookasideList(&driver_list));
    return STATUS_SUCCESS;
}

static void load_and_unload_forgetful(void *context)
{
    PDRIVER_OBJECT driver;

    (void)context;
    if (wdmsim_driver_load("forgetful", ForgetfulDriverEntry, &driver) == STATUS_SUCCESS)
        wdmsim_driver_unload(driver);
}

static void an_unload_that_leaves_a_list_undeleted_stops_with_0xCE_and_its_cached_pool(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(load_and_unload_forgetful, NULL, 0xCE, WDMSIM_ANY_PARAM, "driver.unload_pending_operations",
                        &stop);
    wdmsim_assert_report_has(&stop, "- lookaside list");
    wdmsim_assert_report_has(&stop, "NPAGED_LOOKASIDE_LIST not deleted, 1 block(s) cached");
    wdmsim_assert_report_has(&stop, "cached; it would run ");
    wdmsim_assert_report_has(&stop, "- pool block");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        wdmsim_test(an_allocation_from_an_empty_list_is_a_miss_served_from_pool),
        wdmsim_test(a_freed_block_is_cached_and_handed_out_again),
        wdmsim_test(the_list_caches_no_more_than_its_depth_and_deleting_frees_the_cache),
        wdmsim_test(the_drivers_own_routines_serve_the_misses_and_take_the_overflow),
        wdmsim_test(a_paged_list_works_at_APC_LEVEL),
        wdmsim_test(a_LOOKASIDE_LIST_EX_passes_itself_to_its_routines_and_flushes_its_cache),
        wdmsim_test(a_paged_list_used_at_DISPATCH_LEVEL_stops_with_C4),
        wdmsim_test(a_list_asked_to_raise_stops_with_0x1E_when_its_allocation_fails),
        wdmsim_test(allocating_from_a_list_never_initialised_stops_with_0x1E_access_violation),
        wdmsim_test(deleting_a_list_twice_stops_with_KERNEL_SECURITY_CHECK_FAILURE),
        wdmsim_test(initialising_a_live_list_again_stops_with_KERNEL_SECURITY_CHECK_FAILURE),
        wdmsim_test(freeing_pool_that_holds_a_live_list_stops_with_C4_CC),
        wdmsim_test(an_unload_that_leaves_a_list_undeleted_stops_with_0xCE_and_its_cached_pool),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
