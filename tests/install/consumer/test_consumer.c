/*
 * test_consumer.c - CMocka cases registered by add_wdmsim_test() from the installed package: one
 * DDI used correctly, one misuse caught in capture mode with its exact STOP code, and a race found
 * by wdmsim_explore whose token replays it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
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

/* Two simulated threads read, call a DDI (a scheduling point) and write back: a lost update. */
static LONG consumer_counter;

static void increment_racily(void *context)
{
    LARGE_INTEGER now;
    LONG seen = consumer_counter;

    (void)context;
    KeQuerySystemTime(&now);
    consumer_counter = seen + 1;
}

static void two_threads_increment(void *context)
{
    PKTHREAD first, second;

    (void)context;
    consumer_counter = 0;
    first = wdmsim_thread_start(NULL, increment_racily, NULL);
    second = wdmsim_thread_start(NULL, increment_racily, NULL);
    wdmsim_thread_join(first);
    wdmsim_thread_join(second);
    if (consumer_counter != 2)
        KeBugCheckEx(0xE0000002, (ULONG_PTR)consumer_counter, 0, 0, 0);
}

static void wdmsim_explore_finds_a_lost_update_and_its_token_replays_it(void **state)
{
    struct wdmsim_explore_config config = { "pct:3", 0, 500, NULL };
    struct wdmsim_explore_result found, again;
    char replay[300];

    (void)state;
    assert_int_equal(wdmsim_explore(&config, two_threads_increment, NULL, &found), 1);
    assert_int_equal(found.stop.code, 0xE0000002);
    snprintf(replay, sizeof replay, "replay:%s", found.token);
    config.strategy = replay;
    assert_int_equal(wdmsim_explore(&config, two_threads_increment, NULL, &again), 1);
    assert_string_equal(again.token, found.token);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(KeAcquireSpinLock_raises_to_DISPATCH_LEVEL_and_release_restores),
        cmocka_unit_test(KeAcquireSpinLock_twice_stops_with_SPIN_LOCK_ALREADY_OWNED),
        cmocka_unit_test(wdmsim_explore_finds_a_lost_update_and_its_token_replays_it),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
