/*
 * test_pool.c - ExAllocatePool(WithTag)/ExFreePool(WithTag), ExAllocatePool2 and the other
 * allocators: allocation, accounting per tag and driver, the report, fault injection, and every
 * pool rule as a STOP caught in a forked child.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <cmocka.h>

#include <wdm.h>
#include <wdmsim/wdmsim.h>

#include "wdmsim_test_threads.h"

#define TAG_TEST 'tseT'
#define TAG_OTHER 'rhtO'
#define TAG_UNTAGGED 'enoN'
#define BAD_POOL_CALLER 0xC2u

/* What a scenario in the forked child saw, in memory shared with the parent. */
struct child_record {
    ULONG_PTR address;
};

static struct child_record *child;

static int group_setup(void **state)
{
    (void)state;
    child = mmap(NULL, sizeof *child, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    return child == MAP_FAILED ? -1 : 0;
}

static int group_teardown(void **state)
{
    (void)state;
    return munmap(child, sizeof *child);
}

static int setup(void **state)
{
    (void)state;
    memset(child, 0, sizeof *child);
    wdmsim_boot(NULL);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    wdmsim_shutdown();
    return 0;
}

static void assert_pool_stop(const struct wdmsim_stop *stop, ULONG subcode, const char *rule)
{
    if (!stop->stopped)
        print_error("%s", stop->report);
    assert_int_equal(stop->stopped, 1);
    assert_int_equal(stop->code, BAD_POOL_CALLER);
    assert_int_equal(stop->params[0], subcode);
    assert_string_equal(stop->rule, rule);
}

static void assert_stats(size_t allocations, size_t frees, size_t blocks, size_t bytes)
{
    struct wdmsim_pool_stats stats;

    wdmsim_pool_stats(&stats);
    assert_int_equal(stats.allocations, allocations);
    assert_int_equal(stats.frees, frees);
    assert_int_equal(stats.outstanding_blocks, blocks);
    assert_int_equal(stats.outstanding_bytes, bytes);
}

/* ---- Allocation that works ---- */

static void ExAllocatePoolWithTag_returns_uninitialised_memory_that_ExFreePool_releases(void **state)
{
    unsigned char *p;

    (void)state;
    assert_stats(0, 0, 0, 0);
    p = ExAllocatePoolWithTag(NonPagedPoolNx, 100, TAG_TEST);
    assert_non_null(p);
    assert_stats(1, 0, 1, 100);
    for (size_t i = 0; i < 100; i++)
        assert_int_not_equal(p[i], 0);
    memset(p, 0x5A, 100);
    ExFreePool(p);
    assert_stats(1, 1, 0, 0);
}

static void ExAllocatePoolWithTag_aligns_small_blocks_to_16_and_large_ones_to_a_page(void **state)
{
    void *blocks[64];
    void *page;
    void *line;

    (void)state;
    for (size_t i = 0; i < 64; i++) {
        blocks[i] = ExAllocatePoolWithTag(NonPagedPool, i + 1, TAG_TEST);
        assert_non_null(blocks[i]);
        assert_int_equal((uintptr_t)blocks[i] % 16, 0);
    }
    page = ExAllocatePoolWithTag(PagedPool, PAGE_SIZE + 1, TAG_TEST);
    line = ExAllocatePoolWithTag(NonPagedPoolNxCacheAligned, 24, TAG_TEST);
    assert_int_equal((uintptr_t)page % PAGE_SIZE, 0);
    assert_int_equal((uintptr_t)line % 64, 0);
    for (size_t i = 0; i < 64; i++)
        ExFreePool(blocks[i]);
    ExFreePool(page);
    ExFreePool(line);
    assert_stats(66, 66, 0, 0);
}

static void ExAllocatePool_tags_the_block_None(void **state)
{
    size_t bytes;
    void *p;

    (void)state;
    p = ExAllocatePool(NonPagedPool, 40);
    assert_non_null(p);
    assert_int_equal(wdmsim_pool_outstanding_by_tag(TAG_UNTAGGED, &bytes), 1);
    assert_int_equal(bytes, 40);
    ExFreePoolWithTag(p, TAG_UNTAGGED);
    assert_int_equal(wdmsim_pool_outstanding_by_tag(TAG_UNTAGGED, NULL), 0);
}

static void ExAllocatePoolWithTag_accepts_every_usable_pool_type(void **state)
{
    static const POOL_TYPE types[] = { NonPagedPool, PagedPool, NonPagedPoolCacheAligned,
                                       PagedPoolCacheAligned, NonPagedPoolNx,
                                       NonPagedPoolNxCacheAligned };

    (void)state;
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        void *p = ExAllocatePoolWithTag(types[i], 8, TAG_TEST);

        assert_non_null(p);
        ExFreePoolWithTag(p, TAG_TEST);
    }
    assert_stats(6, 6, 0, 0);
}

static void ExAllocatePoolWithTag_from_paged_pool_at_APC_LEVEL_is_allowed(void **state)
{
    KIRQL old;
    void *p;

    (void)state;
    KeRaiseIrql(APC_LEVEL, &old);
    p = ExAllocatePoolWithTag(PagedPool, 32, TAG_TEST);
    assert_non_null(p);
    ExFreePool(p);
    KeLowerIrql(old);
    assert_stats(1, 1, 0, 0);
}

static void ExAllocatePoolWithTag_and_ExFreePool_of_nonpaged_pool_at_DISPATCH_LEVEL_are_allowed(void **state)
{
    KIRQL old;
    void *p;

    (void)state;
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    p = ExAllocatePoolWithTag(NonPagedPoolNx, 32, TAG_TEST);
    assert_non_null(p);
    ExFreePoolWithTag(p, TAG_TEST);
    KeLowerIrql(old);
    assert_stats(1, 1, 0, 0);
}

static void ExFreePoolWithTag_with_tag_0_skips_the_tag_check(void **state)
{
    void *p;

    (void)state;
    p = ExAllocatePoolWithTag(NonPagedPool, 16, TAG_TEST);
    ExFreePoolWithTag(p, 0);
    assert_stats(1, 1, 0, 0);
}

static void ExFreePool_finds_each_of_thousands_of_blocks_freed_out_of_order(void **state)
{
    enum { COUNT = 5000 };
    static void *blocks[COUNT];

    (void)state;
    for (size_t i = 0; i < COUNT; i++) {
        blocks[i] = ExAllocatePoolWithTag(NonPagedPool, 1 + i % 64, TAG_TEST);
        assert_non_null(blocks[i]);
    }
    for (size_t i = 0; i < COUNT; i += 2)
        ExFreePool(blocks[i]);
    for (size_t i = COUNT; i-- > 1;) {
        if (i % 2)
            ExFreePoolWithTag(blocks[i], TAG_TEST);
    }
    assert_stats(COUNT, COUNT, 0, 0);
}

/* ---- Accounting and the report ---- */

static void allocate_three_blocks(void *context)
{
    void **blocks = context;

    blocks[0] = ExAllocatePoolWithTag(NonPagedPool, 10, TAG_TEST);
    blocks[1] = ExAllocatePoolWithTag(PagedPool, 20, TAG_TEST);
    blocks[2] = ExAllocatePoolWithTag(NonPagedPool, 30, TAG_OTHER);
}

static void wdmsim_pool_outstanding_counts_blocks_and_bytes_per_tag(void **state)
{
    void *blocks[3];
    size_t bytes;

    (void)state;
    allocate_three_blocks(blocks);
    assert_int_equal(wdmsim_pool_outstanding_by_tag(TAG_TEST, &bytes), 2);
    assert_int_equal(bytes, 30);
    assert_int_equal(wdmsim_pool_outstanding_by_tag(TAG_OTHER, &bytes), 1);
    assert_int_equal(bytes, 30);
    assert_int_equal(wdmsim_pool_outstanding_by_tag('enuU', &bytes), 0);
    assert_int_equal(bytes, 0);
    ExFreePool(blocks[0]);
    assert_int_equal(wdmsim_pool_outstanding_by_tag(TAG_TEST, &bytes), 1);
    assert_int_equal(bytes, 20);
    ExFreePool(blocks[1]);
    ExFreePool(blocks[2]);
    assert_int_equal(wdmsim_pool_outstanding_by_tag(TAG_TEST, NULL), 0);
}

static void wdmsim_pool_outstanding_charges_each_block_to_the_driver_that_allocated_it(void **state)
{
    void *driver_blocks[3];
    void *host_block;
    size_t bytes;

    (void)state;
    wdmsim_run_as_driver("alpha", allocate_three_blocks, driver_blocks);
    host_block = ExAllocatePoolWithTag(NonPagedPool, 7, TAG_TEST);
    assert_int_equal(wdmsim_pool_outstanding_by_driver("alpha", &bytes), 3);
    assert_int_equal(bytes, 60);
    assert_int_equal(wdmsim_pool_outstanding_by_driver(NULL, &bytes), 1);
    assert_int_equal(bytes, 7);
    assert_int_equal(wdmsim_pool_outstanding_by_driver("", NULL), 1);
    assert_int_equal(wdmsim_pool_outstanding_by_driver("beta", &bytes), 0);

    /* Whoever frees a block, it stays charged to its allocator until it is gone. */
    ExFreePool(driver_blocks[0]);
    assert_int_equal(wdmsim_pool_outstanding_by_driver("alpha", &bytes), 2);
    assert_int_equal(bytes, 50);
    ExFreePool(driver_blocks[1]);
    ExFreePool(driver_blocks[2]);
    ExFreePool(host_block);
    assert_int_equal(wdmsim_pool_outstanding_by_driver("alpha", NULL), 0);
    assert_int_equal(wdmsim_pool_outstanding_by_driver(NULL, NULL), 0);
}

static void allocate_trace_event(void *context)
{
    *(void **)context = ExAllocatePoolWithTag(NonPagedPoolNx, 48, 'gbDP');
}

static char *report_text(size_t *count)
{
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream(&text, &size);

    assert_non_null(out);
    *count = wdmsim_pool_report(out);
    assert_int_equal(fclose(out), 0);
    return text;
}

static void wdmsim_pool_report_lists_each_outstanding_block(void **state)
{
    void *event;
    void *untagged;
    char address[32];
    char *text;
    size_t count;

    (void)state;
    wdmsim_run_as_driver("tracedrv", allocate_trace_event, &event);
    untagged = ExAllocatePool(PagedPool, 5);
    text = report_text(&count);
    assert_int_equal(count, 2);
    snprintf(address, sizeof address, "%p", event);
    assert_non_null(strstr(text, "tracedrv"));
    assert_non_null(strstr(text, "PDbg"));
    assert_non_null(strstr(text, "NonPagedPoolNx"));
    assert_non_null(strstr(text, " 48 "));
    assert_non_null(strstr(text, address));
    assert_non_null(strstr(text, "None"));
    assert_non_null(strstr(text, "PagedPool "));
    assert_true(strstr(text, "tracedrv") < strstr(text, "None"));
    assert_non_null(strstr(text, "    allocated by allocate_trace_event+0x"));
    assert_non_null(strstr(text, "    allocated by wdmsim_pool_report_lists_each_outstanding_block+0x"));
    free(text);

    ExFreePool(event);
    ExFreePool(untagged);
    text = report_text(&count);
    assert_int_equal(count, 0);
    assert_null(strstr(text, "tracedrv"));
    free(text);
}

/* ---- ExAllocatePool2 and the other allocators ---- */

static BOOLEAN all_bytes_are(const unsigned char *p, size_t size, unsigned char value)
{
    for (size_t i = 0; i < size; i++) {
        if (p[i] != value)
            return FALSE;
    }
    return TRUE;
}

static void ExAllocatePool2_zeroes_the_block_unless_POOL_FLAG_UNINITIALIZED(void **state)
{
    unsigned char *zeroed, *raw;

    (void)state;
    zeroed = ExAllocatePool2(POOL_FLAG_NON_PAGED, 64, TAG_TEST);
    raw = ExAllocatePool2(POOL_FLAG_NON_PAGED | POOL_FLAG_UNINITIALIZED, 64, TAG_TEST);
    assert_non_null(zeroed);
    assert_non_null(raw);
    assert_true(all_bytes_are(zeroed, 64, 0));
    assert_false(all_bytes_are(raw, 64, 0));
    assert_stats(2, 0, 2, 128);
    ExFreePoolWithTag(zeroed, TAG_TEST);
    ExFreePoolWithTag(raw, TAG_TEST);
}

static void ExAllocatePool2_takes_its_pool_type_and_alignment_from_the_flags(void **state)
{
    void *nonpaged, *paged, *executable, *aligned;
    size_t count;
    char *text;

    (void)state;
    nonpaged = ExAllocatePool2(POOL_FLAG_NON_PAGED, 8, TAG_TEST);
    paged = ExAllocatePool2(POOL_FLAG_PAGED, 8, TAG_TEST);
    executable = ExAllocatePool2(POOL_FLAG_NON_PAGED_EXECUTE, 8, TAG_TEST);
    aligned = ExAllocatePool2(POOL_FLAG_NON_PAGED | POOL_FLAG_CACHE_ALIGNED, 8, TAG_TEST);
    text = report_text(&count);
    assert_int_equal(count, 4);
    assert_non_null(strstr(text, "NonPagedPoolNx "));
    assert_non_null(strstr(text, "PagedPool "));
    assert_non_null(strstr(text, "NonPagedPool "));
    assert_non_null(strstr(text, "NonPagedPoolNxCacheAligned"));
    assert_int_equal((ULONG_PTR)aligned % 64, 0);
    free(text);
    ExFreePool(nonpaged);
    ExFreePool(paged);
    ExFreePool(executable);
    ExFreePool(aligned);
}

static void ExAllocatePool2_fails_without_exactly_one_pool_kind_or_with_an_unknown_required_flag(void **state)
{
    (void)state;
    assert_null(ExAllocatePool2(0, 8, TAG_TEST));
    assert_null(ExAllocatePool2(POOL_FLAG_NON_PAGED | POOL_FLAG_PAGED, 8, TAG_TEST));
    assert_null(ExAllocatePool2(POOL_FLAG_NON_PAGED | POOL_FLAG_RESERVED2, 8, TAG_TEST));
    assert_stats(0, 0, 0, 0);
}

static void ExAllocatePool2_ignores_an_optional_flag_it_does_not_simulate(void **state)
{
    void *p;

    (void)state;
    p = ExAllocatePool2(POOL_FLAG_NON_PAGED | POOL_FLAG_SPECIAL_POOL, 8, TAG_TEST);
    assert_non_null(p);
    ExFreePool(p);
}

static POOL_EXTENDED_PARAMETER pool_parameter(POOL_EXTENDED_PARAMETER_TYPE type, BOOLEAN optional)
{
    POOL_EXTENDED_PARAMETER parameter;

    memset(&parameter, 0, sizeof parameter);
    parameter.Type = type;
    parameter.Optional = optional;
    return parameter;
}

static void ExAllocatePool3_with_a_priority_and_node_0_allocates_as_ExAllocatePool2(void **state)
{
    POOL_EXTENDED_PARAMETER parameters[2] = { pool_parameter(PoolExtendedParameterPriority, FALSE),
                                              pool_parameter(PoolExtendedParameterNumaNode, FALSE) };
    unsigned char *p;

    (void)state;
    assert_int_equal(sizeof(POOL_EXTENDED_PARAMETER), 16);
    parameters[0].Priority = HighPoolPriority;
    parameters[1].PreferredNode = 0;
    p = ExAllocatePool3(POOL_FLAG_NON_PAGED, 32, TAG_TEST, parameters, 2);
    assert_non_null(p);
    assert_true(all_bytes_are(p, 32, 0));
    assert_stats(1, 0, 1, 32);
    ExFreePoolWithTag(p, TAG_TEST);
    p = ExAllocatePool3(POOL_FLAG_PAGED, 8, TAG_TEST, NULL, 0);
    assert_non_null(p);
    ExFreePool(p);
}

static void ExAllocatePool3_fails_for_a_required_parameter_it_cannot_honour(void **state)
{
    POOL_EXTENDED_PARAMETER unknown = pool_parameter((POOL_EXTENDED_PARAMETER_TYPE)77, FALSE);
    POOL_EXTENDED_PARAMETER secure = pool_parameter(PoolExtendedParameterSecurePool, FALSE);
    POOL_EXTENDED_PARAMETER node = pool_parameter(PoolExtendedParameterNumaNode, FALSE);

    (void)state;
    node.PreferredNode = 3;
    assert_null(ExAllocatePool3(POOL_FLAG_NON_PAGED, 8, TAG_TEST, &unknown, 1));
    assert_null(ExAllocatePool3(POOL_FLAG_NON_PAGED, 8, TAG_TEST, &secure, 1));
    assert_null(ExAllocatePool3(POOL_FLAG_NON_PAGED, 8, TAG_TEST, &node, 1));
    assert_null(ExAllocatePool3(POOL_FLAG_NON_PAGED, 8, TAG_TEST, NULL, 1));
    assert_null(ExAllocatePool3(POOL_FLAG_NON_PAGED | POOL_FLAG_PAGED, 8, TAG_TEST, NULL, 0));
    assert_stats(0, 0, 0, 0);
}

static void ExAllocatePool3_ignores_optional_parameters_and_takes_any_node_when_allowed(void **state)
{
    POOL_EXTENDED_PARAMETER parameters[3] = { pool_parameter((POOL_EXTENDED_PARAMETER_TYPE)77, TRUE),
                                              pool_parameter(PoolExtendedParameterSecurePool, TRUE),
                                              pool_parameter(PoolExtendedParameterNumaNode, FALSE) };
    void *p;

    (void)state;
    parameters[2].PreferredNode = 3 | MM_ANY_NODE_OK;
    p = ExAllocatePool3(POOL_FLAG_NON_PAGED, 8, TAG_TEST, parameters, 3);
    assert_non_null(p);
    ExFreePool(p);
}

static void allocate3_raising_on_refusal(void *context)
{
    POOL_EXTENDED_PARAMETER secure = pool_parameter(PoolExtendedParameterSecurePool, FALSE);

    (void)context;
    ExAllocatePool3(POOL_FLAG_NON_PAGED | POOL_FLAG_RAISE_ON_FAILURE, 8, TAG_TEST, &secure, 1);
}

static void ExAllocatePool3_refused_with_POOL_FLAG_RAISE_ON_FAILURE_raises(void **state)
{
    (void)state;
    wdmsim_assert_stops(allocate3_raising_on_refusal, NULL, 0x1E, 0xC000009A, "pool.raised_failure", NULL);
}

static void ExAllocatePool2_that_fails_returns_NULL(void **state)
{
    (void)state;
    wdmsim_pool_fail_nth(1);
    assert_null(ExAllocatePool2(POOL_FLAG_NON_PAGED, 8, TAG_TEST));
    assert_stats(0, 0, 0, 0);
}

static void allocate_raising_on_failure(void *context)
{
    (void)context;
    wdmsim_pool_fail_nth(1);
    ExAllocatePool2(POOL_FLAG_NON_PAGED | POOL_FLAG_RAISE_ON_FAILURE, 8, TAG_TEST);
}

static void ExAllocatePool2_that_fails_with_RAISE_ON_FAILURE_stops_with_0x1E_STATUS_INSUFFICIENT_RESOURCES(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_run_expecting_stop(allocate_raising_on_failure, NULL, &stop);
    assert_int_equal(stop.stopped, 1);
    assert_int_equal(stop.code, 0x1E);
    assert_int_equal(stop.params[0], 0xC000009A);
    assert_string_equal(stop.rule, "pool.raised_failure");
}

static void allocate_paged_pool2_at_dispatch(void *context)
{
    KIRQL old;

    (void)context;
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    ExAllocatePool2(POOL_FLAG_PAGED, 8, TAG_TEST);
}

static void ExAllocatePool2_of_paged_pool_at_dispatch_stops_with_BAD_POOL_CALLER_8(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_run_expecting_stop(allocate_paged_pool2_at_dispatch, NULL, &stop);
    assert_pool_stop(&stop, 0x08, "pool.paged_alloc_above_apc");
}

static void ExAllocatePoolZero_zeroes_and_ExAllocatePoolUninitialized_does_not(void **state)
{
    unsigned char *zeroed, *raw;

    (void)state;
    zeroed = ExAllocatePoolZero(NonPagedPoolNx, 32, TAG_TEST);
    raw = ExAllocatePoolUninitialized(NonPagedPoolNx, 32, TAG_TEST);
    assert_true(all_bytes_are(zeroed, 32, 0));
    assert_false(all_bytes_are(raw, 32, 0));
    ExFreePool(zeroed);
    ExFreePool(raw);
}

static void ExAllocatePoolWithQuotaTag_with_POOL_QUOTA_FAIL_INSTEAD_OF_RAISE_returns_NULL_on_failure(void **state)
{
    void *p;

    (void)state;
    p = ExAllocatePoolWithQuotaTag(PagedPool, 8, TAG_TEST);
    assert_non_null(p);
    ExFreePoolWithTag(p, TAG_TEST);
    wdmsim_pool_fail_nth(1);
    assert_null(ExAllocatePoolWithQuotaTag((POOL_TYPE)(PagedPool | POOL_QUOTA_FAIL_INSTEAD_OF_RAISE), 8, TAG_TEST));
}

static void allocate_quota_that_fails(void *context)
{
    (void)context;
    wdmsim_pool_fail_nth(1);
    ExAllocatePoolWithQuotaTag(PagedPool, 8, TAG_TEST);
}

static void ExAllocatePoolWithQuotaTag_that_fails_raises_and_stops_with_0x1E(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_run_expecting_stop(allocate_quota_that_fails, NULL, &stop);
    assert_int_equal(stop.code, 0x1E);
    assert_string_equal(stop.rule, "pool.raised_failure");
}

static void ExAllocatePoolWithTagPriority_allocates_as_ExAllocatePoolWithTag(void **state)
{
    size_t bytes;
    void *p;

    (void)state;
    p = ExAllocatePoolWithTagPriority(NonPagedPoolNx, 24, TAG_OTHER, LowPoolPriority);
    assert_non_null(p);
    assert_int_equal(wdmsim_pool_outstanding_by_tag(TAG_OTHER, &bytes), 1);
    assert_int_equal(bytes, 24);
    ExFreePoolWithTag(p, TAG_OTHER);
}

/* ---- Fault injection ---- */

static void wdmsim_pool_fail_nth_fails_exactly_that_allocation_once(void **state)
{
    struct wdmsim_pool_stats stats;
    void *p[4];

    (void)state;
    wdmsim_pool_fail_nth(3);
    for (int i = 0; i < 4; i++)
        p[i] = ExAllocatePoolWithTag(NonPagedPool, 8, TAG_TEST);
    assert_non_null(p[0]);
    assert_non_null(p[1]);
    assert_null(p[2]);
    assert_non_null(p[3]);
    wdmsim_pool_stats(&stats);
    assert_int_equal(stats.failed_injected, 1);
    assert_int_equal(stats.allocations, 3);
    assert_int_equal(stats.outstanding_blocks, 3);
    ExFreePool(p[0]);
    ExFreePool(p[1]);
    ExFreePool(p[3]);
}

static void wdmsim_pool_fail_nth_0_cancels_a_pending_failure(void **state)
{
    struct wdmsim_pool_stats stats;
    void *p;

    (void)state;
    wdmsim_pool_fail_nth(1);
    wdmsim_pool_fail_nth(0);
    p = ExAllocatePoolWithTag(NonPagedPool, 8, TAG_TEST);
    assert_non_null(p);
    ExFreePool(p);
    wdmsim_pool_stats(&stats);
    assert_int_equal(stats.failed_injected, 0);
}

static void wdmsim_pool_fail_tag_fails_every_allocation_with_that_tag_until_reset(void **state)
{
    struct wdmsim_pool_stats stats;
    void *other;
    void *p;

    (void)state;
    wdmsim_pool_fail_tag(TAG_TEST);
    assert_null(ExAllocatePoolWithTag(NonPagedPool, 8, TAG_TEST));
    assert_null(ExAllocatePoolWithTag(PagedPool, 16, TAG_TEST));
    other = ExAllocatePoolWithTag(NonPagedPool, 8, TAG_OTHER);
    assert_non_null(other);
    wdmsim_pool_fail_tag(0);
    p = ExAllocatePoolWithTag(NonPagedPool, 8, TAG_TEST);
    assert_non_null(p);
    wdmsim_pool_stats(&stats);
    assert_int_equal(stats.failed_injected, 2);
    assert_int_equal(stats.allocations, 2);
    ExFreePool(other);
    ExFreePool(p);
}

/* ---- Shutdown ---- */

static void wdmsim_shutdown_frees_and_counts_the_blocks_still_allocated(void **state)
{
    void *kept;

    (void)state;
    wdmsim_allow_leaks();           /* the leaks are what this case checks */
    kept = ExAllocatePoolWithTag(NonPagedPool, 8, TAG_TEST);
    ExAllocatePoolWithTag(PagedPool, 8, TAG_TEST);
    ExAllocatePoolWithTag(NonPagedPool, 8, TAG_TEST);
    ExFreePool(kept);
    assert_int_equal(wdmsim_shutdown(), 2);
    wdmsim_boot(NULL);
    assert_stats(0, 0, 0, 0);
}

/* ---- Many threads at once ---- */

#define WORKERS 8
#define ROUNDS 2000
#define WINDOW 16

struct worker {
    struct wdmsim_test_thread thread;
    unsigned char fill;
    size_t corrupted;               /* blocks whose contents another thread changed */
    size_t failed;                  /* allocations that returned NULL */
};

static void worker_main(void *arg)
{
    struct worker *w = arg;
    unsigned char *held[WINDOW] = { 0 };
    size_t sizes[WINDOW] = { 0 };

    for (size_t round = 0; round < ROUNDS; round++) {
        size_t slot = round % WINDOW;

        if (held[slot] != NULL) {
            for (size_t i = 0; i < sizes[slot]; i++)
                w->corrupted += held[slot][i] != w->fill;
            ExFreePoolWithTag(held[slot], TAG_TEST + w->fill);
        }
        sizes[slot] = 1 + (round * 7 + w->fill) % 200;
        held[slot] = ExAllocatePoolWithTag(round % 2 ? PagedPool : NonPagedPoolNx, sizes[slot],
                                           TAG_TEST + w->fill);
        if (held[slot] == NULL)
            w->failed++;
        else
            memset(held[slot], w->fill, sizes[slot]);
    }
    for (size_t slot = 0; slot < WINDOW; slot++) {
        if (held[slot] != NULL)
            ExFreePool(held[slot]);
    }
}

static void ExAllocatePoolWithTag_and_ExFreePool_from_many_threads_keep_the_books_balanced(void **state)
{
    struct worker workers[WORKERS];

    (void)state;
    for (int i = 0; i < WORKERS; i++) {
        workers[i] = (struct worker){ .fill = (unsigned char)(i + 1) };
        wdmsim_test_thread_start(&workers[i].thread, worker_main, &workers[i]);
    }
    for (int i = 0; i < WORKERS; i++) {
        wdmsim_test_thread_join(&workers[i].thread);
        assert_int_equal(workers[i].corrupted, 0);
        assert_int_equal(workers[i].failed, 0);
    }
    assert_stats(WORKERS * ROUNDS, WORKERS * ROUNDS, 0, 0);
}

/* ---- Allocation misuse: each stops the machine ---- */

static void allocate_must_succeed(void *context)
{
    (void)context;
    ExAllocatePoolWithTag(NonPagedPoolMustSucceed, 64, TAG_TEST);
}

static void ExAllocatePoolWithTag_of_a_MustSucceed_type_stops_with_BAD_POOL_CALLER_9A(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_run_expecting_stop(allocate_must_succeed, NULL, &stop);
    assert_pool_stop(&stop, 0x9A, "pool.must_succeed");
    assert_int_equal(stop.params[1], NonPagedPoolMustSucceed);
    assert_int_equal(stop.params[2], 64);
    assert_int_equal(stop.params[3], TAG_TEST);
}

static void allocate_cache_aligned_must_succeed_at_dispatch(void *context)
{
    KIRQL old;

    (void)context;
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    ExAllocatePool(NonPagedPoolCacheAlignedMustS, 64);
}

static void ExAllocatePool_of_CacheAlignedMustS_stops_with_9A_before_any_IRQL_check(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_run_expecting_stop(allocate_cache_aligned_must_succeed_at_dispatch, NULL, &stop);
    assert_pool_stop(&stop, 0x9A, "pool.must_succeed");
    assert_int_equal(stop.params[1], NonPagedPoolCacheAlignedMustS);
    assert_int_equal(stop.params[3], TAG_UNTAGGED);
}

static void allocate_paged_at_dispatch(void *context)
{
    KIRQL old;

    (void)context;
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    ExAllocatePoolWithTag(PagedPool, 100, TAG_TEST);
}

static void ExAllocatePoolWithTag_at_dispatch_from_paged_pool_stops_with_BAD_POOL_CALLER_8(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_run_expecting_stop(allocate_paged_at_dispatch, NULL, &stop);
    assert_pool_stop(&stop, 0x08, "pool.paged_alloc_above_apc");
    assert_int_equal(stop.params[1], DISPATCH_LEVEL);
    assert_int_equal(stop.params[2], PagedPool);
    assert_int_equal(stop.params[3], 100);
}

static void allocate_nonpaged_at_clock_level(void *context)
{
    KIRQL old;

    (void)context;
    KeRaiseIrql(CLOCK_LEVEL, &old);
    ExAllocatePoolWithTag(NonPagedPoolNx, 100, TAG_TEST);
}

static void ExAllocatePoolWithTag_above_dispatch_from_nonpaged_pool_stops_with_BAD_POOL_CALLER_8(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_run_expecting_stop(allocate_nonpaged_at_clock_level, NULL, &stop);
    assert_pool_stop(&stop, 0x08, "pool.nonpaged_alloc_above_dispatch");
    assert_int_equal(stop.params[1], CLOCK_LEVEL);
    assert_int_equal(stop.params[2], NonPagedPoolNx);
    assert_int_equal(stop.params[3], 100);
}

static void allocate_zero_bytes(void *context)
{
    (void)context;
    ExAllocatePoolWithTag(PagedPool, 0, TAG_TEST);
}

static void ExAllocatePoolWithTag_of_zero_bytes_stops_with_BAD_POOL_CALLER_0(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_run_expecting_stop(allocate_zero_bytes, NULL, &stop);
    assert_pool_stop(&stop, 0x00, "pool.zero_size");
    assert_int_equal(stop.params[1], 0);
    assert_int_equal(stop.params[2], PagedPool);
    assert_int_equal(stop.params[3], TAG_TEST);
}

static void allocate_with_tag_zero(void *context)
{
    (void)context;
    ExAllocatePoolWithTag(NonPagedPool, 12, 0);
}

static void ExAllocatePoolWithTag_with_tag_0_stops_with_BAD_POOL_CALLER_9B(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_run_expecting_stop(allocate_with_tag_zero, NULL, &stop);
    assert_pool_stop(&stop, 0x9B, "pool.zero_tag");
    assert_int_equal(stop.params[1], NonPagedPool);
    assert_int_equal(stop.params[2], 12);
    assert_int_equal(stop.params[3], 0);
}

/* ---- Free misuse ---- */

static void free_null(void *context)
{
    (void)context;
    ExFreePool(NULL);
}

static void ExFreePool_of_NULL_stops_with_BAD_POOL_CALLER_46(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_run_expecting_stop(free_null, NULL, &stop);
    assert_pool_stop(&stop, 0x46, "pool.free_bad_address");
    assert_int_equal(stop.params[1], 0);
    assert_int_equal(stop.params[2], 0);
    assert_int_equal(stop.params[3], 0);
}

static void free_interior_pointer(void *context)
{
    char *p = ExAllocatePoolWithTag(NonPagedPool, 64, TAG_TEST);

    (void)context;
    child->address = (ULONG_PTR)(p + 16);
    ExFreePool(p + 16);
}

static void ExFreePool_of_an_interior_pointer_stops_with_BAD_POOL_CALLER_46(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_run_expecting_stop(free_interior_pointer, NULL, &stop);
    assert_pool_stop(&stop, 0x46, "pool.free_bad_address");
    assert_int_equal(stop.params[1], child->address);
    assert_int_not_equal(child->address, 0);
}

static void free_stack_address(void *context)
{
    char on_stack[32];

    (void)context;
    child->address = (ULONG_PTR)on_stack;
    ExFreePoolWithTag(on_stack, TAG_TEST);
}

static void ExFreePoolWithTag_of_stack_memory_stops_with_BAD_POOL_CALLER_46(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_run_expecting_stop(free_stack_address, NULL, &stop);
    assert_pool_stop(&stop, 0x46, "pool.free_bad_address");
    assert_int_equal(stop.params[1], child->address);
}

static void free_twice(void *context)
{
    void *p = ExAllocatePoolWithTag(NonPagedPool, 64, TAG_TEST);

    (void)context;
    child->address = (ULONG_PTR)p;
    ExFreePool(p);
    ExFreePool(p);
}

static void ExFreePool_twice_stops_with_BAD_POOL_CALLER_7(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_run_expecting_stop(free_twice, NULL, &stop);
    assert_pool_stop(&stop, 0x07, "pool.double_free");
    assert_int_equal(stop.params[1], 0);
    assert_int_equal(stop.params[2], TAG_TEST);
    assert_int_equal(stop.params[3], child->address);
}

static void free_twice_with_a_few_frees_between(void *context)
{
    void *p = ExAllocatePoolWithTag(PagedPool, 24, TAG_OTHER);

    (void)context;
    child->address = (ULONG_PTR)p;
    ExFreePool(p);
    for (int i = 0; i < 100; i++)
        ExFreePool(ExAllocatePoolWithTag(NonPagedPool, 16, TAG_TEST));
    ExFreePoolWithTag(p, TAG_OTHER);
}

static void ExFreePool_twice_with_other_frees_between_still_stops_with_BAD_POOL_CALLER_7(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_run_expecting_stop(free_twice_with_a_few_frees_between, NULL, &stop);
    assert_pool_stop(&stop, 0x07, "pool.double_free");
    assert_int_equal(stop.params[2], TAG_OTHER);
    assert_int_equal(stop.params[3], child->address);
}

#define MANY_FREES 4096

static void free_twice_with_many_frees_between(void *context)
{
    static void *others[MANY_FREES];
    void *p = ExAllocatePoolWithTag(NonPagedPool, 16, TAG_TEST);

    (void)context;
    /* All allocated before p is freed, so none can reuse p's address once the pool lets it go. */
    for (size_t i = 0; i < MANY_FREES; i++)
        others[i] = ExAllocatePoolWithTag(NonPagedPool, 16, TAG_OTHER);
    ExFreePool(p);
    for (size_t i = 0; i < MANY_FREES; i++)
        ExFreePool(others[i]);
    child->address = (ULONG_PTR)p;
    ExFreePool(p);
}

static void ExFreePool_twice_long_after_the_first_free_still_stops_as_a_bad_address(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_run_expecting_stop(free_twice_with_many_frees_between, NULL, &stop);
    assert_pool_stop(&stop, 0x46, "pool.free_bad_address");
    assert_int_equal(stop.params[1], child->address);
}

static void free_paged_at_dispatch(void *context)
{
    void *p = ExAllocatePoolWithTag(PagedPool, 64, TAG_TEST);
    KIRQL old;

    (void)context;
    child->address = (ULONG_PTR)p;
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    ExFreePool(p);
}

static void ExFreePool_of_paged_pool_at_dispatch_stops_with_BAD_POOL_CALLER_9(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_run_expecting_stop(free_paged_at_dispatch, NULL, &stop);
    assert_pool_stop(&stop, 0x09, "pool.paged_free_above_apc");
    assert_int_equal(stop.params[1], DISPATCH_LEVEL);
    assert_int_equal(stop.params[2], PagedPool);
    assert_int_equal(stop.params[3], child->address);
}

static void free_nonpaged_at_high_level(void *context)
{
    void *p = ExAllocatePoolWithTag(NonPagedPoolNx, 64, TAG_TEST);
    KIRQL old;

    (void)context;
    child->address = (ULONG_PTR)p;
    KeRaiseIrql(HIGH_LEVEL, &old);
    ExFreePoolWithTag(p, TAG_TEST);
}

static void ExFreePoolWithTag_of_nonpaged_pool_above_dispatch_stops_with_BAD_POOL_CALLER_9(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_run_expecting_stop(free_nonpaged_at_high_level, NULL, &stop);
    assert_pool_stop(&stop, 0x09, "pool.nonpaged_free_above_dispatch");
    assert_int_equal(stop.params[1], HIGH_LEVEL);
    assert_int_equal(stop.params[2], NonPagedPoolNx);
    assert_int_equal(stop.params[3], child->address);
}

static void free_with_wrong_tag(void *context)
{
    void *p = ExAllocatePoolWithTag(NonPagedPool, 64, TAG_TEST);

    (void)context;
    child->address = (ULONG_PTR)p;
    ExFreePoolWithTag(p, TAG_OTHER);
}

static void ExFreePoolWithTag_with_another_tag_stops_with_BAD_POOL_CALLER_A(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_run_expecting_stop(free_with_wrong_tag, NULL, &stop);
    assert_pool_stop(&stop, 0x0A, "pool.free_tag_mismatch");
    assert_int_equal(stop.params[1], child->address);
    assert_int_equal(stop.params[2], TAG_TEST);
    assert_int_equal(stop.params[3], TAG_OTHER);
}

#define POOL_TEST(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        POOL_TEST(ExAllocatePoolWithTag_returns_uninitialised_memory_that_ExFreePool_releases),
        POOL_TEST(ExAllocatePoolWithTag_aligns_small_blocks_to_16_and_large_ones_to_a_page),
        POOL_TEST(ExAllocatePool_tags_the_block_None),
        POOL_TEST(ExAllocatePoolWithTag_accepts_every_usable_pool_type),
        POOL_TEST(ExAllocatePoolWithTag_from_paged_pool_at_APC_LEVEL_is_allowed),
        POOL_TEST(ExAllocatePoolWithTag_and_ExFreePool_of_nonpaged_pool_at_DISPATCH_LEVEL_are_allowed),
        POOL_TEST(ExFreePoolWithTag_with_tag_0_skips_the_tag_check),
        POOL_TEST(ExFreePool_finds_each_of_thousands_of_blocks_freed_out_of_order),
        POOL_TEST(wdmsim_pool_outstanding_counts_blocks_and_bytes_per_tag),
        POOL_TEST(wdmsim_pool_outstanding_charges_each_block_to_the_driver_that_allocated_it),
        POOL_TEST(wdmsim_pool_report_lists_each_outstanding_block),
        POOL_TEST(ExAllocatePool2_zeroes_the_block_unless_POOL_FLAG_UNINITIALIZED),
        POOL_TEST(ExAllocatePool2_takes_its_pool_type_and_alignment_from_the_flags),
        POOL_TEST(ExAllocatePool2_fails_without_exactly_one_pool_kind_or_with_an_unknown_required_flag),
        POOL_TEST(ExAllocatePool3_with_a_priority_and_node_0_allocates_as_ExAllocatePool2),
        POOL_TEST(ExAllocatePool3_fails_for_a_required_parameter_it_cannot_honour),
        POOL_TEST(ExAllocatePool3_ignores_optional_parameters_and_takes_any_node_when_allowed),
        POOL_TEST(ExAllocatePool3_refused_with_POOL_FLAG_RAISE_ON_FAILURE_raises),
        POOL_TEST(ExAllocatePool2_ignores_an_optional_flag_it_does_not_simulate),
        POOL_TEST(ExAllocatePool2_that_fails_returns_NULL),
        POOL_TEST(ExAllocatePool2_that_fails_with_RAISE_ON_FAILURE_stops_with_0x1E_STATUS_INSUFFICIENT_RESOURCES),
        POOL_TEST(ExAllocatePool2_of_paged_pool_at_dispatch_stops_with_BAD_POOL_CALLER_8),
        POOL_TEST(ExAllocatePoolZero_zeroes_and_ExAllocatePoolUninitialized_does_not),
        POOL_TEST(ExAllocatePoolWithQuotaTag_with_POOL_QUOTA_FAIL_INSTEAD_OF_RAISE_returns_NULL_on_failure),
        POOL_TEST(ExAllocatePoolWithQuotaTag_that_fails_raises_and_stops_with_0x1E),
        POOL_TEST(ExAllocatePoolWithTagPriority_allocates_as_ExAllocatePoolWithTag),
        POOL_TEST(wdmsim_pool_fail_nth_fails_exactly_that_allocation_once),
        POOL_TEST(wdmsim_pool_fail_nth_0_cancels_a_pending_failure),
        POOL_TEST(wdmsim_pool_fail_tag_fails_every_allocation_with_that_tag_until_reset),
        POOL_TEST(wdmsim_shutdown_frees_and_counts_the_blocks_still_allocated),
        POOL_TEST(ExAllocatePoolWithTag_and_ExFreePool_from_many_threads_keep_the_books_balanced),
        POOL_TEST(ExAllocatePoolWithTag_of_a_MustSucceed_type_stops_with_BAD_POOL_CALLER_9A),
        POOL_TEST(ExAllocatePool_of_CacheAlignedMustS_stops_with_9A_before_any_IRQL_check),
        POOL_TEST(ExAllocatePoolWithTag_at_dispatch_from_paged_pool_stops_with_BAD_POOL_CALLER_8),
        POOL_TEST(ExAllocatePoolWithTag_above_dispatch_from_nonpaged_pool_stops_with_BAD_POOL_CALLER_8),
        POOL_TEST(ExAllocatePoolWithTag_of_zero_bytes_stops_with_BAD_POOL_CALLER_0),
        POOL_TEST(ExAllocatePoolWithTag_with_tag_0_stops_with_BAD_POOL_CALLER_9B),
        POOL_TEST(ExFreePool_of_NULL_stops_with_BAD_POOL_CALLER_46),
        POOL_TEST(ExFreePool_of_an_interior_pointer_stops_with_BAD_POOL_CALLER_46),
        POOL_TEST(ExFreePoolWithTag_of_stack_memory_stops_with_BAD_POOL_CALLER_46),
        POOL_TEST(ExFreePool_twice_stops_with_BAD_POOL_CALLER_7),
        POOL_TEST(ExFreePool_twice_with_other_frees_between_still_stops_with_BAD_POOL_CALLER_7),
        POOL_TEST(ExFreePool_twice_long_after_the_first_free_still_stops_as_a_bad_address),
        POOL_TEST(ExFreePool_of_paged_pool_at_dispatch_stops_with_BAD_POOL_CALLER_9),
        POOL_TEST(ExFreePoolWithTag_of_nonpaged_pool_above_dispatch_stops_with_BAD_POOL_CALLER_9),
        POOL_TEST(ExFreePoolWithTag_with_another_tag_stops_with_BAD_POOL_CALLER_A),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
