/*
 * test_spinlock.c - KSPIN_LOCK: IRQL before and after each call, the owner kept in the lock word,
 * mutual exclusion, and every misuse stopping with its Windows code.
 */
#include <pthread.h>
#include <stdlib.h>

#include <wdmsim/test.h>
#include "wdmsim_test_threads.h"

#define CONTENDED_ROUNDS 20000

/* The whole observable state of a spin lock and its user. */
static void check_lock(const KSPIN_LOCK *lock, int held_by_me, KIRQL irql)
{
    if (held_by_me)
        assert_int_not_equal(*lock, 0);
    else
        assert_int_equal(*lock, 0);
    assert_int_equal(KeGetCurrentIrql(), irql);
}

static void KeInitializeSpinLock_leaves_the_lock_free(void **state)
{
    KSPIN_LOCK lock = (KSPIN_LOCK)-1;

    (void)state;
    KeInitializeSpinLock(&lock);
    check_lock(&lock, 0, PASSIVE_LEVEL);
}

static void KeAcquireSpinLock_raises_to_DISPATCH_LEVEL_and_KeReleaseSpinLock_restores_the_old_irql(void **state)
{
    KSPIN_LOCK lock;
    KIRQL old;

    (void)state;
    KeInitializeSpinLock(&lock);
    KeAcquireSpinLock(&lock, &old);
    assert_int_equal(old, PASSIVE_LEVEL);
    check_lock(&lock, 1, DISPATCH_LEVEL);
    KeReleaseSpinLock(&lock, old);
    check_lock(&lock, 0, PASSIVE_LEVEL);
}

static void KeAcquireSpinLock_at_APC_LEVEL_saves_APC_LEVEL(void **state)
{
    KSPIN_LOCK lock;
    KIRQL at_apc, old;

    (void)state;
    KeInitializeSpinLock(&lock);
    KeRaiseIrql(APC_LEVEL, &at_apc);
    KeAcquireSpinLock(&lock, &old);
    assert_int_equal(old, APC_LEVEL);
    KeReleaseSpinLock(&lock, old);
    check_lock(&lock, 0, APC_LEVEL);
    KeLowerIrql(at_apc);
}

static void KeAcquireSpinLockRaiseToDpc_returns_the_old_irql(void **state)
{
    KSPIN_LOCK lock;
    KIRQL old;

    (void)state;
    KeInitializeSpinLock(&lock);
    old = KeAcquireSpinLockRaiseToDpc(&lock);
    assert_int_equal(old, PASSIVE_LEVEL);
    check_lock(&lock, 1, DISPATCH_LEVEL);
    KeReleaseSpinLock(&lock, old);
    check_lock(&lock, 0, PASSIVE_LEVEL);
}

static void AtDpcLevel_forms_at_DISPATCH_LEVEL_leave_the_irql_alone(void **state)
{
    KSPIN_LOCK lock;
    KIRQL old;

    (void)state;
    KeInitializeSpinLock(&lock);
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    KeAcquireSpinLockAtDpcLevel(&lock);
    check_lock(&lock, 1, DISPATCH_LEVEL);
    KeReleaseSpinLockFromDpcLevel(&lock);
    check_lock(&lock, 0, DISPATCH_LEVEL);
    KeLowerIrql(old);
}

static void two_different_locks_may_be_nested(void **state)
{
    KSPIN_LOCK outer, inner;
    KIRQL old;

    (void)state;
    KeInitializeSpinLock(&outer);
    KeInitializeSpinLock(&inner);
    KeAcquireSpinLock(&outer, &old);
    KeAcquireSpinLockAtDpcLevel(&inner);
    KeReleaseSpinLockFromDpcLevel(&inner);
    KeReleaseSpinLock(&outer, old);
    check_lock(&outer, 0, PASSIVE_LEVEL);
    check_lock(&inner, 0, PASSIVE_LEVEL);
}

struct counter {
    KSPIN_LOCK lock;
    long value;
};

static void count_under_lock(void *context)
{
    struct counter *counter = context;
    KIRQL old;

    for (int i = 0; i < CONTENDED_ROUNDS; i++) {
        KeAcquireSpinLock(&counter->lock, &old);
        counter->value++;
        KeReleaseSpinLock(&counter->lock, old);
    }
}

static void a_spin_lock_excludes_other_threads(void **state)
{
    struct counter counter = { 0, 0 };
    struct wdmsim_test_thread threads[3];

    (void)state;
    KeInitializeSpinLock(&counter.lock);
    for (int i = 0; i < 3; i++)
        wdmsim_test_thread_start(&threads[i], count_under_lock, &counter);
    for (int i = 0; i < 3; i++)
        wdmsim_test_thread_join(&threads[i]);
    assert_int_equal(counter.value, 3 * CONTENDED_ROUNDS);
    check_lock(&counter.lock, 0, PASSIVE_LEVEL);
}

static KSPIN_LOCK scenario_lock;

static void acquire_twice(void *context)
{
    KIRQL old;

    (void)context;
    KeInitializeSpinLock(&scenario_lock);
    KeAcquireSpinLock(&scenario_lock, &old);
    KeAcquireSpinLockAtDpcLevel(&scenario_lock);
}

static void acquiring_a_lock_you_own_stops_with_SPIN_LOCK_ALREADY_OWNED(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(acquire_twice, NULL, 0x0F, (long long)(ULONG_PTR)&scenario_lock,
                        "spinlock.recursive_acquire", &stop);
    assert_non_null(strstr(stop.report, "SPIN_LOCK_ALREADY_OWNED"));
    assert_non_null(strstr(stop.report, "thread main already owns the spin lock"));
}

static void release_a_free_lock_at_dispatch(void *context)
{
    KIRQL old;

    (void)context;
    KeInitializeSpinLock(&scenario_lock);
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    KeReleaseSpinLock(&scenario_lock, old);
}

static void releasing_a_lock_nobody_holds_stops_with_SPIN_LOCK_NOT_OWNED(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(release_a_free_lock_at_dispatch, NULL, 0x10,
                        (long long)(ULONG_PTR)&scenario_lock, "spinlock.release_not_owner", &stop);
    assert_non_null(strstr(stop.report, "nobody: the lock is free"));
}

static void release_twice(void *context)
{
    KIRQL old;

    (void)context;
    KeInitializeSpinLock(&scenario_lock);
    KeAcquireSpinLock(&scenario_lock, &old);
    KeReleaseSpinLock(&scenario_lock, old);
    KeReleaseSpinLock(&scenario_lock, old);
}

static void a_double_KeReleaseSpinLock_stops_with_C4_32_for_the_wrong_irql(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(release_twice, NULL, 0xC4, 0x32, "spinlock.release_not_at_dispatch", &stop);
    assert_int_equal(stop.params[1], PASSIVE_LEVEL);
    assert_int_equal(stop.params[2], (ULONG_PTR)&scenario_lock);
}

static void *release_from_another_thread(void *context)
{
    KIRQL old;

    (void)context;
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    KeReleaseSpinLockFromDpcLevel(&scenario_lock);
    return NULL;
}

static void acquire_then_release_elsewhere(void *context)
{
    pthread_t other;
    KIRQL old;

    (void)context;
    KeInitializeSpinLock(&scenario_lock);
    KeAcquireSpinLock(&scenario_lock, &old);
    pthread_create(&other, NULL, release_from_another_thread, NULL);
    pthread_join(other, NULL);
}

static void releasing_another_threads_lock_stops_with_SPIN_LOCK_NOT_OWNED_naming_the_owner(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(acquire_then_release_elsewhere, NULL, 0x10,
                        (long long)(ULONG_PTR)&scenario_lock, "spinlock.release_not_owner", &stop);
    assert_non_null(strstr(stop.report, "owned by main"));
    assert_non_null(strstr(stop.report, "Thread:   host-"));
}

static void at_dpc_level_at_passive(void *context)
{
    (void)context;
    KeInitializeSpinLock(&scenario_lock);
    KeAcquireSpinLockAtDpcLevel(&scenario_lock);
}

static void KeAcquireSpinLockAtDpcLevel_below_DISPATCH_LEVEL_stops_with_C4_40(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(at_dpc_level_at_passive, NULL, 0xC4, 0x40,
                        "spinlock.at_dpc_level_below_dispatch", &stop);
    assert_int_equal(stop.params[1], PASSIVE_LEVEL);
    assert_int_equal(stop.params[2], (ULONG_PTR)&scenario_lock);
}

static void from_dpc_level_after_lowering(void *context)
{
    KIRQL old;

    (void)context;
    KeInitializeSpinLock(&scenario_lock);
    KeAcquireSpinLock(&scenario_lock, &old);
    KeLowerIrql(old);
    KeReleaseSpinLockFromDpcLevel(&scenario_lock);
}

static void KeReleaseSpinLockFromDpcLevel_below_DISPATCH_LEVEL_stops_with_C4_41(void **state)
{
    (void)state;
    wdmsim_assert_stops(from_dpc_level_after_lowering, NULL, 0xC4, 0x41,
                        "spinlock.from_dpc_level_below_dispatch", NULL);
}

static void acquire_at_high_level(void *context)
{
    KIRQL old;

    (void)context;
    KeInitializeSpinLock(&scenario_lock);
    KeRaiseIrql(HIGH_LEVEL, &old);
    KeAcquireSpinLock(&scenario_lock, &old);
}

static void KeAcquireSpinLock_above_DISPATCH_LEVEL_stops_with_C4_42(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(acquire_at_high_level, NULL, 0xC4, 0x42, "spinlock.acquire_above_dispatch", &stop);
    assert_int_equal(stop.params[1], HIGH_LEVEL);
}

static void *acquire_and_end(void *context)
{
    KIRQL old;

    (void)context;
    KeAcquireSpinLock(&scenario_lock, &old);
    return NULL;
}

static void acquire_a_lock_whose_owner_ended(void *context)
{
    pthread_t owner;
    KIRQL old;

    (void)context;
    KeInitializeSpinLock(&scenario_lock);
    pthread_create(&owner, NULL, acquire_and_end, NULL);
    pthread_join(owner, NULL);
    KeAcquireSpinLock(&scenario_lock, &old);
}

/* With lock-order checking on, the owner's end stops first (lockorder.held_at_thread_exit,
 * test_lockorder.c); without it the lock is found orphaned when someone spins on it. */
static void without_lock_order_checks_spinning_on_a_lock_whose_owner_ended_stops_with_a_deadlock_report(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    setenv("WDMSIM_LOCK_ORDER", "off", 1);
    wdmsim_assert_stops(acquire_a_lock_whose_owner_ended, NULL, 0xE2, WDMSIM_ANY_PARAM, "sched.deadlock", &stop);
    unsetenv("WDMSIM_LOCK_ORDER");
    assert_non_null(strstr(stop.report, "which has ended without releasing it"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        wdmsim_test(KeInitializeSpinLock_leaves_the_lock_free),
        wdmsim_test(KeAcquireSpinLock_raises_to_DISPATCH_LEVEL_and_KeReleaseSpinLock_restores_the_old_irql),
        wdmsim_test(KeAcquireSpinLock_at_APC_LEVEL_saves_APC_LEVEL),
        wdmsim_test(KeAcquireSpinLockRaiseToDpc_returns_the_old_irql),
        wdmsim_test(AtDpcLevel_forms_at_DISPATCH_LEVEL_leave_the_irql_alone),
        wdmsim_test(two_different_locks_may_be_nested),
        wdmsim_test(a_spin_lock_excludes_other_threads),
        wdmsim_test(acquiring_a_lock_you_own_stops_with_SPIN_LOCK_ALREADY_OWNED),
        wdmsim_test(releasing_a_lock_nobody_holds_stops_with_SPIN_LOCK_NOT_OWNED),
        wdmsim_test(a_double_KeReleaseSpinLock_stops_with_C4_32_for_the_wrong_irql),
        wdmsim_test(releasing_another_threads_lock_stops_with_SPIN_LOCK_NOT_OWNED_naming_the_owner),
        wdmsim_test(KeAcquireSpinLockAtDpcLevel_below_DISPATCH_LEVEL_stops_with_C4_40),
        wdmsim_test(KeReleaseSpinLockFromDpcLevel_below_DISPATCH_LEVEL_stops_with_C4_41),
        wdmsim_test(KeAcquireSpinLock_above_DISPATCH_LEVEL_stops_with_C4_42),
        wdmsim_test(without_lock_order_checks_spinning_on_a_lock_whose_owner_ended_stops_with_a_deadlock_report),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
