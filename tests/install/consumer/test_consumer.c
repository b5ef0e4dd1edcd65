/*
 * test_consumer.c - CMocka cases registered by add_wdmsim_test() from the installed package: one
 * DDI used correctly, and one misuse caught in capture mode with its exact STOP code.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <wdmsim/wdmsim.h>

static void KeAcquireSpinLock_raises_to_DISPATCH_LEVEL_and_release_restores(void **state)
{
    KSPIN_LOCK lock;
    KIRQL old_irql;

    (void)state;
    KeInitializeSpinLock(&lock);
    KeAcquireSpinLock(&lock, &old_irql);
    assert_int_equal(KeGetCurrentIrql(), DISPATCH_LEVEL);
    KeReleaseSpinLock(&lock, old_irql);
    assert_int_equal(KeGetCurrentIrql(), PASSIVE_LEVEL);
}

static void acquire_twice(void *context)
{
    KSPIN_LOCK lock;
    KIRQL first;
    KIRQL second;

    (void)context;
    KeInitializeSpinLock(&lock);
    KeAcquireSpinLock(&lock, &first);
    KeAcquireSpinLock(&lock, &second);
    KeReleaseSpinLock(&lock, second);
    KeReleaseSpinLock(&lock, first);
}

static void KeAcquireSpinLock_twice_stops_with_SPIN_LOCK_ALREADY_OWNED(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_run_expecting_stop(acquire_twice, NULL, &stop);
    assert_int_equal(stop.stopped, 1);
    assert_int_equal(stop.code, 0x0F);
    assert_string_equal(stop.code_name, "SPIN_LOCK_ALREADY_OWNED");
    assert_non_null(strstr(stop.report, "*** STOP: 0x0000000F"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(KeAcquireSpinLock_raises_to_DISPATCH_LEVEL_and_release_restores),
        cmocka_unit_test(KeAcquireSpinLock_twice_stops_with_SPIN_LOCK_ALREADY_OWNED),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
