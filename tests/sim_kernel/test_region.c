/*
 * test_region.c - critical and guarded regions: per-thread nesting counts, what KeAreApcsDisabled
 * and KeAreAllApcsDisabled report (a held KMUTEX counts, as in Windows), and the misuse that
 * stops the machine: an unbalanced leave, a region at the wrong IRQL, a thread that ends in one.
 */
#include "wdmsim_test.h"

/* The whole APC state of the calling thread. */
static void check_apcs(BOOLEAN normal_disabled, BOOLEAN all_disabled)
{
    assert_int_equal(KeAreApcsDisabled(), normal_disabled);
    assert_int_equal(KeAreAllApcsDisabled(), all_disabled);
}

static void a_thread_starts_with_every_APC_enabled(void **state)
{
    (void)state;
    check_apcs(FALSE, FALSE);
}

static void a_critical_region_disables_normal_kernel_APCs_only(void **state)
{
    (void)state;
    KeEnterCriticalRegion();
    check_apcs(TRUE, FALSE);
    KeLeaveCriticalRegion();
    check_apcs(FALSE, FALSE);
}

static void a_guarded_region_disables_all_APCs(void **state)
{
    (void)state;
    KeEnterGuardedRegion();
    check_apcs(TRUE, TRUE);
    KeLeaveGuardedRegion();
    check_apcs(FALSE, FALSE);
}

static void regions_nest_and_APCs_come_back_with_the_outermost_leave(void **state)
{
    (void)state;
    KeEnterCriticalRegion();
    KeEnterCriticalRegion();
    KeEnterGuardedRegion();
    KeLeaveGuardedRegion();
    check_apcs(TRUE, FALSE);
    KeLeaveCriticalRegion();
    check_apcs(TRUE, FALSE);
    KeLeaveCriticalRegion();
    check_apcs(FALSE, FALSE);
}

static void APC_LEVEL_disables_all_APCs_without_a_region(void **state)
{
    KIRQL old;

    (void)state;
    KeRaiseIrql(APC_LEVEL, &old);
    check_apcs(FALSE, TRUE);
    KeLowerIrql(old);
}

static void an_owned_KMUTEX_disables_normal_kernel_APCs(void **state)
{
    KMUTEX mutex;

    (void)state;
    KeInitializeMutex(&mutex, 0);
    KeWaitForSingleObject(&mutex, Executive, KernelMode, FALSE, NULL);
    check_apcs(TRUE, FALSE);
    KeReleaseMutex(&mutex, FALSE);
    check_apcs(FALSE, FALSE);
}

/* Runs on a second thread: its regions are its own. */
static void enter_and_record(void *context)
{
    BOOLEAN *seen = context;

    seen[0] = KeAreApcsDisabled();
    KeEnterCriticalRegion();
    seen[1] = KeAreApcsDisabled();
    KeLeaveCriticalRegion();
}

static void each_thread_has_its_own_regions(void **state)
{
    BOOLEAN seen[2] = { TRUE, FALSE };
    PKTHREAD other;

    (void)state;
    KeEnterGuardedRegion();
    other = wdmsim_thread_start(NULL, enter_and_record, seen);
    wdmsim_thread_join(other);
    assert_int_equal(seen[0], FALSE);
    assert_int_equal(seen[1], TRUE);
    check_apcs(TRUE, TRUE);
    KeLeaveGuardedRegion();
}

/* ---- Misuse ---- */

static void leave_critical_unentered(void *context)
{
    (void)context;
    KeEnterCriticalRegion();
    KeLeaveCriticalRegion();
    KeLeaveCriticalRegion();
}

static void a_critical_leave_without_an_enter_stops_with_C4_3E(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(leave_critical_unentered, NULL, 0xC4, 0x3E, "region.critical_leave_unbalanced", &stop);
    wdmsim_assert_report_has(&stop, "is in no critical region");
}

static void leave_guarded_unentered(void *context)
{
    (void)context;
    KeLeaveGuardedRegion();
}

static void a_guarded_leave_without_an_enter_stops_with_C4_4000E(void **state)
{
    (void)state;
    wdmsim_assert_stops(leave_guarded_unentered, NULL, 0xC4, 0x4000E, "region.guarded_leave_unbalanced", NULL);
}

static void enter_critical_at_dispatch(void *context)
{
    KIRQL old;

    (void)context;
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    KeEnterCriticalRegion();
}

static void KeEnterCriticalRegion_at_DISPATCH_LEVEL_stops_with_C4_11A(void **state)
{
    (void)state;
    wdmsim_assert_stops(enter_critical_at_dispatch, NULL, 0xC4, 0x11A, "region.critical_enter_above_apc", NULL);
}

static void leave_critical_at_dispatch(void *context)
{
    KIRQL old;

    (void)context;
    KeEnterCriticalRegion();
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    KeLeaveCriticalRegion();
}

static void KeLeaveCriticalRegion_at_DISPATCH_LEVEL_stops_with_C4_11B(void **state)
{
    (void)state;
    wdmsim_assert_stops(leave_critical_at_dispatch, NULL, 0xC4, 0x11B, "region.critical_leave_above_apc", NULL);
}

static void enter_guarded_at_dispatch(void *context)
{
    KIRQL old;

    (void)context;
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    KeEnterGuardedRegion();
}

static void KeEnterGuardedRegion_at_DISPATCH_LEVEL_stops_with_C4(void **state)
{
    (void)state;
    wdmsim_assert_stops(enter_guarded_at_dispatch, NULL, 0xC4, 0x4000E, "region.guarded_above_apc", NULL);
}

static VOID NTAPI end_inside_regions(PVOID context)
{
    UNREFERENCED_PARAMETER(context);
    KeEnterCriticalRegion();
    KeEnterGuardedRegion();
    PsTerminateSystemThread(STATUS_SUCCESS);
}

static void start_a_thread_that_ends_inside_regions(void *context)
{
    HANDLE handle;
    PVOID thread;

    (void)context;
    PsCreateSystemThread(&handle, THREAD_ALL_ACCESS, NULL, NULL, NULL, end_inside_regions, NULL);
    ObReferenceObjectByHandle(handle, THREAD_ALL_ACCESS, *PsThreadType, KernelMode, &thread, NULL);
    KeWaitForSingleObject(thread, Executive, KernelMode, FALSE, NULL);
}

static void a_thread_that_ends_inside_a_region_stops_with_0x20_and_its_disable_count(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(start_a_thread_that_ends_inside_regions, NULL, 0x20, 0, "region.held_at_thread_exit", &stop);
    /* CombinedApcDisable: SpecialApcDisable -1 above KernelApcDisable -1. */
    assert_int_equal(stop.params[1], 0xFFFFFFFF);
    wdmsim_assert_report_has(&stop, "ends inside 1 critical and 1 guarded region(s)");
}

static void ask_at_HIGH_LEVEL(void *context)
{
    KIRQL old;

    (void)context;
    KeRaiseIrql(HIGH_LEVEL, &old);
    KeAreApcsDisabled();
}

static void KeAreApcsDisabled_above_DISPATCH_LEVEL_stops_with_C4_20011(void **state)
{
    (void)state;
    wdmsim_assert_stops(ask_at_HIGH_LEVEL, NULL, 0xC4, 0x20011,
                        "ke.above_dispatch", NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        wdmsim_test(a_thread_starts_with_every_APC_enabled),
        wdmsim_test(a_critical_region_disables_normal_kernel_APCs_only),
        wdmsim_test(a_guarded_region_disables_all_APCs),
        wdmsim_test(regions_nest_and_APCs_come_back_with_the_outermost_leave),
        wdmsim_test(APC_LEVEL_disables_all_APCs_without_a_region),
        wdmsim_test(an_owned_KMUTEX_disables_normal_kernel_APCs),
        wdmsim_test(each_thread_has_its_own_regions),
        wdmsim_test(a_critical_leave_without_an_enter_stops_with_C4_3E),
        wdmsim_test(a_guarded_leave_without_an_enter_stops_with_C4_4000E),
        wdmsim_test(KeEnterCriticalRegion_at_DISPATCH_LEVEL_stops_with_C4_11A),
        wdmsim_test(KeLeaveCriticalRegion_at_DISPATCH_LEVEL_stops_with_C4_11B),
        wdmsim_test(KeEnterGuardedRegion_at_DISPATCH_LEVEL_stops_with_C4),
        wdmsim_test(a_thread_that_ends_inside_a_region_stops_with_0x20_and_its_disable_count),
        wdmsim_test(KeAreApcsDisabled_above_DISPATCH_LEVEL_stops_with_C4_20011),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
