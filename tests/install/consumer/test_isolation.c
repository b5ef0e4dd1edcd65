/*
 * test_isolation.c - a suite whose cases end each in its own way, run by check_isolation.sh: one
 * passes, one stops the machine, one leaks pool, one dereferences NULL. Each runs in a child of its
 * own (add_wdmsim_test), so the suite reports 1 pass and 3 failures, each with its report.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <wdmsim/test.h>

static void a_case_that_passes(void **state)
{
    PVOID block = ExAllocatePoolWithTag(NonPagedPool, 16, 'ssaP');

    (void)state;
    assert_non_null(block);
    ExFreePoolWithTag(block, 'ssaP');
}

static void a_case_that_stops(void **state)
{
    KSPIN_LOCK lock;
    KIRQL first, second;

    (void)state;
    KeInitializeSpinLock(&lock);
    KeAcquireSpinLock(&lock, &first);
    KeAcquireSpinLock(&lock, &second);
}

static void a_case_that_leaks(void **state)
{
    (void)state;
    assert_non_null(ExAllocatePoolWithTag(NonPagedPool, 16, 'kaeL'));
}

/* The pointer and the store are volatile, so that no compiler can see the NULL and emit a trap
 * instead, nor drop a store nothing reads; UBSan, which would report the NULL itself and end the
 * case's process, does not check this one. */
__attribute__((no_sanitize("undefined"))) static void a_case_that_dereferences_NULL(void **state)
{
    volatile int *volatile nothing = NULL;

    (void)state;
    *nothing = 1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        wdmsim_test(a_case_that_passes),
        wdmsim_test(a_case_that_stops),
        wdmsim_test(a_case_that_leaks),
        wdmsim_test(a_case_that_dereferences_NULL),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
