/*
 * test_interlocked.c - the interlocked operations wdm.h defines inline, as the DDK defines them
 * on compiler intrinsics: what each returns (the new value, or the value before), every width,
 * and that concurrent updates add up.
 */
#include "wdmsim_test.h"
#include "wdmsim_test_threads.h"

#define ADDERS 2
#define ADDS 10000

static void Increment_Decrement_and_Add_return_the_new_value(void **state)
{
    LONG volatile value = 5;
    LONGLONG volatile wide = 0x7FFFFFFFLL;
    SHORT volatile narrow = 0;

    (void)state;
    assert_int_equal(InterlockedIncrement(&value), 6);
    assert_int_equal(InterlockedDecrement(&value), 5);
    assert_int_equal(InterlockedAdd(&value, 10), 15);
    assert_int_equal(InterlockedIncrementAcquire(&value), 16);
    assert_int_equal(InterlockedDecrementRelease(&value), 15);
    assert_int_equal(InterlockedIncrementRelease(&value), 16);
    assert_int_equal(InterlockedDecrementAcquire(&value), 15);
    assert_int_equal(InterlockedIncrement64(&wide), 0x80000000LL);
    assert_int_equal(InterlockedAdd64(&wide, 0x100000000LL), 0x180000000LL);
    assert_int_equal(InterlockedDecrement64(&wide), 0x17FFFFFFFLL);
    assert_int_equal(InterlockedDecrement16(&narrow), -1);
    assert_int_equal(InterlockedIncrement16(&narrow), 0);
}

static void Exchange_and_ExchangeAdd_return_the_value_before(void **state)
{
    LONG volatile value = 5;
    LONGLONG volatile wide = 1;
    CHAR volatile byte = 'a';
    SHORT volatile narrow = 7;

    (void)state;
    assert_int_equal(InterlockedExchangeAdd(&value, 3), 5);
    assert_int_equal(value, 8);
    assert_int_equal(InterlockedExchange(&value, 1), 8);
    assert_int_equal(InterlockedExchangeAcquire(&value, 2), 1);
    assert_int_equal(InterlockedExchangeAdd64(&wide, 0x100000000LL), 1);
    assert_int_equal(InterlockedExchange64(&wide, -1), 0x100000001LL);
    assert_int_equal(InterlockedExchange8(&byte, 'b'), 'a');
    assert_int_equal(InterlockedExchange16(&narrow, 9), 7);
    assert_int_equal(byte, 'b');
    assert_int_equal(narrow, 9);
}

static void CompareExchange_swaps_only_on_a_match_and_returns_the_value_before(void **state)
{
    LONG volatile value = 1;
    LONGLONG volatile wide = 10;
    SHORT volatile narrow = 3;
    PVOID volatile pointer = NULL;
    int target, other;

    (void)state;
    assert_int_equal(InterlockedCompareExchange(&value, 2, 9), 1);
    assert_int_equal(value, 1);
    assert_int_equal(InterlockedCompareExchange(&value, 2, 1), 1);
    assert_int_equal(value, 2);
    assert_int_equal(InterlockedCompareExchangeAcquire(&value, 3, 2), 2);
    assert_int_equal(InterlockedCompareExchangeRelease(&value, 4, 3), 3);
    assert_int_equal(InterlockedCompareExchange64(&wide, 20, 10), 10);
    assert_int_equal(InterlockedCompareExchange64Acquire(&wide, 30, 20), 20);
    assert_int_equal(InterlockedCompareExchange64Release(&wide, 40, 99), 30);
    assert_int_equal(wide, 30);
    assert_int_equal(InterlockedCompareExchange16(&narrow, 4, 3), 3);
    assert_null(InterlockedCompareExchangePointer(&pointer, &target, NULL));
    assert_ptr_equal(InterlockedCompareExchangePointer(&pointer, NULL, &other), &target);
    assert_ptr_equal(pointer, &target);
}

static void And_Or_and_Xor_return_the_value_before_at_every_width(void **state)
{
    LONG volatile value = 0x0F;
    CHAR volatile byte = 0x0F;
    SHORT volatile narrow = 0x0F;
    LONGLONG volatile wide = 0x0F;

    (void)state;
    assert_int_equal(InterlockedAnd(&value, 0x3C), 0x0F);
    assert_int_equal(InterlockedOr(&value, 0x40), 0x0C);
    assert_int_equal(InterlockedXor(&value, 0x4C), 0x4C);
    assert_int_equal(value, 0);
    assert_int_equal(InterlockedOr8(&byte, 0x30), 0x0F);
    assert_int_equal(InterlockedAnd8(&byte, 0x11), 0x3F);
    assert_int_equal(InterlockedXor8(&byte, 0x01), 0x11);
    assert_int_equal(InterlockedXor16(&narrow, 0x0F), 0x0F);
    assert_int_equal(InterlockedOr16(&narrow, 0x100), 0);
    assert_int_equal(InterlockedAnd16(&narrow, 0), 0x100);
    assert_int_equal(InterlockedOr64(&wide, 0x100000000LL), 0x0F);
    assert_int_equal(InterlockedAnd64(&wide, 0x100000000LL), 0x10000000FLL);
    assert_int_equal(InterlockedXor64(&wide, 0x100000000LL), 0x100000000LL);
    assert_int_equal(wide, 0);
}

static void the_64_bit_spin_lock_forms_are_plain_interlocked_operations(void **state)
{
    LARGE_INTEGER statistic = { .QuadPart = 1 };
    LONGLONG volatile value = 5;
    LONGLONG exchange = 6, comparand = 5;
    KSPIN_LOCK lock;

    (void)state;
    KeInitializeSpinLock(&lock);
    ExInterlockedAddLargeStatistic(&statistic, 0x100000000LL);
    assert_int_equal(statistic.QuadPart, 0x100000001LL);
    assert_int_equal(ExInterlockedCompareExchange64(&value, &exchange, &comparand, &lock), 5);
    assert_int_equal(value, 6);
    KeMemoryBarrier();
    KeMemoryBarrierWithoutFence();
}

static LONG volatile shared_counter;
static LONGLONG volatile shared_wide;

static void add_many(void *context)
{
    (void)context;
    for (int i = 0; i < ADDS; i++) {
        InterlockedIncrement(&shared_counter);
        InterlockedExchangeAdd64(&shared_wide, 2);
    }
}

static void concurrent_increments_add_up(void **state)
{
    struct wdmsim_test_thread threads[ADDERS];

    (void)state;
    shared_counter = 0;
    shared_wide = 0;
    for (int i = 0; i < ADDERS; i++)
        wdmsim_test_thread_start(&threads[i], add_many, NULL);
    for (int i = 0; i < ADDERS; i++)
        wdmsim_test_thread_join(&threads[i]);
    assert_int_equal(shared_counter, ADDERS * ADDS);
    assert_int_equal(shared_wide, 2LL * ADDERS * ADDS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        wdmsim_test(Increment_Decrement_and_Add_return_the_new_value),
        wdmsim_test(Exchange_and_ExchangeAdd_return_the_value_before),
        wdmsim_test(CompareExchange_swaps_only_on_a_match_and_returns_the_value_before),
        wdmsim_test(And_Or_and_Xor_return_the_value_before_at_every_width),
        wdmsim_test(the_64_bit_spin_lock_forms_are_plain_interlocked_operations),
        wdmsim_test(concurrent_increments_add_up),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
