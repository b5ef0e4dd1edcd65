/*
 * test_irql.c - the current IRQL of a thread, KeRaiseIrql/KeLowerIrql and their rules.
 */
#include <pthread.h>

#include <wdmsim/test.h>

static void KeGetCurrentIrql_in_an_adopted_host_thread_is_PASSIVE_LEVEL(void **state)
{
    (void)state;
    assert_int_equal(KeGetCurrentIrql(), PASSIVE_LEVEL);
}

static void KeRaiseIrql_returns_the_old_irql_and_KeLowerIrql_restores_it(void **state)
{
    KIRQL at_apc, at_dispatch;

    (void)state;
    KeRaiseIrql(APC_LEVEL, &at_apc);
    assert_int_equal(at_apc, PASSIVE_LEVEL);
    assert_int_equal(KeGetCurrentIrql(), APC_LEVEL);
    KeRaiseIrql(DISPATCH_LEVEL, &at_dispatch);
    assert_int_equal(at_dispatch, APC_LEVEL);
    assert_int_equal(KeGetCurrentIrql(), DISPATCH_LEVEL);
    KeLowerIrql(at_dispatch);
    assert_int_equal(KeGetCurrentIrql(), APC_LEVEL);
    KeLowerIrql(at_apc);
    assert_int_equal(KeGetCurrentIrql(), PASSIVE_LEVEL);
}

static void KeRaiseIrql_to_the_current_level_is_allowed(void **state)
{
    KIRQL old;

    (void)state;
    KeRaiseIrql(PASSIVE_LEVEL, &old);
    assert_int_equal(old, PASSIVE_LEVEL);
    assert_int_equal(KeGetCurrentIrql(), PASSIVE_LEVEL);
}

static void KeRaiseIrqlToDpcLevel_raises_to_DISPATCH_LEVEL(void **state)
{
    KIRQL old;

    (void)state;
    old = KeRaiseIrqlToDpcLevel();
    assert_int_equal(old, PASSIVE_LEVEL);
    assert_int_equal(KeGetCurrentIrql(), DISPATCH_LEVEL);
    KeLowerIrql(old);
}

static void raise_to_lower(void *context)
{
    KIRQL old;

    (void)context;
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    KeRaiseIrql(APC_LEVEL, &old);
}

static void KeRaiseIrql_to_a_lower_level_stops_with_C4_30_current_and_requested(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(raise_to_lower, NULL, 0xC4, 0x30, "irql.raise_to_lower", &stop);
    assert_int_equal(stop.params[1], DISPATCH_LEVEL);
    assert_int_equal(stop.params[2], APC_LEVEL);
}

static void raise_beyond_high_level(void *context)
{
    KIRQL old;

    (void)context;
    KeRaiseIrql(HIGH_LEVEL + 1, &old);
}

static void KeRaiseIrql_beyond_HIGH_LEVEL_stops_with_C4_30(void **state)
{
    (void)state;
    wdmsim_assert_stops(raise_beyond_high_level, NULL, 0xC4, 0x30, "irql.raise_to_lower", NULL);
}

static void lower_to_higher(void *context)
{
    (void)context;
    KeLowerIrql(DISPATCH_LEVEL);
}

static void KeLowerIrql_to_a_higher_level_stops_with_C4_31_current_and_requested(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(lower_to_higher, NULL, 0xC4, 0x31, "irql.lower_to_higher", &stop);
    assert_int_equal(stop.params[1], PASSIVE_LEVEL);
    assert_int_equal(stop.params[2], DISPATCH_LEVEL);
    assert_non_null(strstr(stop.report, "IRQL:     PASSIVE_LEVEL (0)"));
}

static void *observe_irql(void *result)
{
    *(KIRQL *)result = KeGetCurrentIrql();
    return NULL;
}

static void irql_belongs_to_each_thread_not_to_the_machine(void **state)
{
    KIRQL old, seen = 0xFF;
    pthread_t other;

    (void)state;
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    assert_int_equal(pthread_create(&other, NULL, observe_irql, &seen), 0);
    assert_int_equal(pthread_join(other, NULL), 0);
    assert_int_equal(seen, PASSIVE_LEVEL);
    assert_int_equal(KeGetCurrentIrql(), DISPATCH_LEVEL);
    KeLowerIrql(old);
}

static void a_fresh_boot_adopts_the_thread_again_at_PASSIVE_LEVEL(void **state)
{
    KIRQL old;

    (void)state;
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    wdmsim_boot(NULL);
    assert_int_equal(KeGetCurrentIrql(), PASSIVE_LEVEL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        wdmsim_test(KeGetCurrentIrql_in_an_adopted_host_thread_is_PASSIVE_LEVEL),
        wdmsim_test(KeRaiseIrql_returns_the_old_irql_and_KeLowerIrql_restores_it),
        wdmsim_test(KeRaiseIrql_to_the_current_level_is_allowed),
        wdmsim_test(KeRaiseIrqlToDpcLevel_raises_to_DISPATCH_LEVEL),
        wdmsim_test(KeRaiseIrql_to_a_lower_level_stops_with_C4_30_current_and_requested),
        wdmsim_test(KeRaiseIrql_beyond_HIGH_LEVEL_stops_with_C4_30),
        wdmsim_test(KeLowerIrql_to_a_higher_level_stops_with_C4_31_current_and_requested),
        wdmsim_test(irql_belongs_to_each_thread_not_to_the_machine),
        wdmsim_test(a_fresh_boot_adopts_the_thread_again_at_PASSIVE_LEVEL),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
