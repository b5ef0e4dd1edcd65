/*
 * test_resource.c - executive resources (ERESOURCE): shared and exclusive holds and their
 * recursion, who waits and who is granted in what order, owner pointers, the critical-region
 * helpers, and Driver Verifier's checks. Client threads acquire, say so, and release when told;
 * the test thread settles after each step and asserts on the whole resource.
 */
#include <stdatomic.h>

#include "wdmsim_test_threads.h"

#define RESOURCE_TEST_TAG 'tseR'

static ERESOURCE resource;

/* The resource as the calling thread and every waiter see it. */
static void check_resource(BOOLEAN mine_exclusive, ULONG my_holds, ULONG exclusive_waiters, ULONG shared_waiters)
{
    assert_int_equal(ExIsResourceAcquiredExclusiveLite(&resource), mine_exclusive);
    assert_int_equal(ExIsResourceAcquiredSharedLite(&resource), my_holds);
    assert_int_equal(ExGetExclusiveWaiterCount(&resource), exclusive_waiters);
    assert_int_equal(ExGetSharedWaiterCount(&resource), shared_waiters);
}

static int boot_with_resource(void **state)
{
    int result = wdmsim_test_boot(state);

    ExInitializeResourceLite(&resource);
    KeEnterCriticalRegion();
    return result;
}

static int delete_resource_and_shutdown(void **state)
{
    KeLeaveCriticalRegion();
    ExDeleteResourceLite(&resource);
    return wdmsim_test_shutdown(state);
}

#define resource_test(fn) cmocka_unit_test_setup_teardown(fn, boot_with_resource, delete_resource_and_shutdown)

/* ---- Client threads ---- */

enum how { EXCLUSIVE, SHARED, STARVE_EXCLUSIVE, WAIT_FOR_EXCLUSIVE };

struct client {
    enum how how;
    BOOLEAN wait;
    atomic_int answer;              /* -1 until the acquire returns, then its BOOLEAN */
    KEVENT release;
    struct wdmsim_test_thread thread;
};

static BOOLEAN acquire(enum how how, BOOLEAN wait)
{
    switch (how) {
    case EXCLUSIVE:
        return ExAcquireResourceExclusiveLite(&resource, wait);
    case SHARED:
        return ExAcquireResourceSharedLite(&resource, wait);
    case STARVE_EXCLUSIVE:
        return ExAcquireSharedStarveExclusive(&resource, wait);
    default:
        return ExAcquireSharedWaitForExclusive(&resource, wait);
    }
}

static void client_main(void *context)
{
    struct client *c = context;
    BOOLEAN acquired;

    KeEnterCriticalRegion();
    acquired = acquire(c->how, c->wait);
    atomic_store(&c->answer, acquired);
    KeWaitForSingleObject(&c->release, Executive, KernelMode, FALSE, NULL);
    if (acquired)
        ExReleaseResourceLite(&resource);
    KeLeaveCriticalRegion();
}

/* Starts a client and lets it get as far as it can: holding the resource, or queued for it. */
static void client_start(struct client *c, enum how how, BOOLEAN wait)
{
    c->how = how;
    c->wait = wait;
    atomic_init(&c->answer, -1);
    KeInitializeEvent(&c->release, NotificationEvent, FALSE);
    wdmsim_test_thread_start(&c->thread, client_main, c);
    wdmsim_test_settle();
}

static BOOLEAN client_holds(struct client *c)
{
    return atomic_load(&c->answer) == TRUE;
}

static BOOLEAN client_waits(struct client *c)
{
    return atomic_load(&c->answer) == -1;
}

static void client_finish(struct client *c)
{
    KeSetEvent(&c->release, IO_NO_INCREMENT, FALSE);
    wdmsim_test_thread_join(&c->thread);
}

/* ---- One thread ---- */

static void a_new_resource_is_free(void **state)
{
    (void)state;
    check_resource(FALSE, 0, 0, 0);
    assert_int_equal(resource.ActiveCount, 0);
    assert_int_equal(resource.Flag & ResourceOwnedExclusive, 0);
}

static void an_exclusive_hold_recurses_and_ends_with_the_last_release(void **state)
{
    (void)state;
    assert_true(ExAcquireResourceExclusiveLite(&resource, TRUE));
    assert_true(ExAcquireResourceExclusiveLite(&resource, FALSE));
    assert_true(ExAcquireResourceSharedLite(&resource, FALSE));
    check_resource(TRUE, 3, 0, 0);
    ExReleaseResourceLite(&resource);
    ExReleaseResourceLite(&resource);
    check_resource(TRUE, 1, 0, 0);
    ExReleaseResourceLite(&resource);
    check_resource(FALSE, 0, 0, 0);
}

static void a_shared_hold_recurses_but_is_never_exclusive(void **state)
{
    (void)state;
    assert_true(ExAcquireResourceSharedLite(&resource, TRUE));
    assert_true(ExAcquireResourceSharedLite(&resource, TRUE));
    check_resource(FALSE, 2, 0, 0);
    assert_false(ExAcquireResourceExclusiveLite(&resource, FALSE));
    ExReleaseResourceLite(&resource);
    ExReleaseResourceLite(&resource);
    check_resource(FALSE, 0, 0, 0);
}

static void the_critical_region_helpers_enter_and_leave_with_the_hold(void **state)
{
    (void)state;
    KeLeaveCriticalRegion();
    assert_null(ExEnterCriticalRegionAndAcquireResourceExclusive(&resource));
    assert_true(KeAreApcsDisabled());
    check_resource(TRUE, 1, 0, 0);
    ExReleaseResourceAndLeaveCriticalRegion(&resource);
    assert_false(KeAreApcsDisabled());
    assert_null(ExEnterCriticalRegionAndAcquireResourceShared(&resource));
    assert_null(ExEnterCriticalRegionAndAcquireSharedWaitForExclusive(&resource));
    check_resource(FALSE, 2, 0, 0);
    ExReleaseResourceAndLeaveCriticalRegion(&resource);
    ExReleaseResourceAndLeaveCriticalRegion(&resource);
    assert_false(KeAreApcsDisabled());
    KeEnterCriticalRegion();
}

static void APC_LEVEL_is_as_good_as_a_critical_region(void **state)
{
    KIRQL old;

    (void)state;
    KeLeaveCriticalRegion();
    KeRaiseIrql(APC_LEVEL, &old);
    assert_true(ExAcquireResourceExclusiveLite(&resource, FALSE));
    ExReleaseResourceLite(&resource);
    KeLowerIrql(old);
    KeEnterCriticalRegion();
}

static void converting_keeps_the_holds_as_shared_ones(void **state)
{
    (void)state;
    ExAcquireResourceExclusiveLite(&resource, TRUE);
    ExAcquireResourceExclusiveLite(&resource, TRUE);
    ExConvertExclusiveToSharedLite(&resource);
    check_resource(FALSE, 2, 0, 0);
    assert_int_equal(resource.Flag & ResourceOwnedExclusive, 0);
    ExReleaseResourceLite(&resource);
    ExReleaseResourceLite(&resource);
    check_resource(FALSE, 0, 0, 0);
}

static void reinitializing_forgets_the_contention(void **state)
{
    struct client waiter;

    (void)state;
    ExAcquireResourceExclusiveLite(&resource, TRUE);
    client_start(&waiter, SHARED, TRUE);
    ExReleaseResourceLite(&resource);
    wdmsim_test_settle();
    client_finish(&waiter);
    assert_int_equal(resource.ContentionCount, 1);
    assert_int_equal(ExReinitializeResourceLite(&resource), STATUS_SUCCESS);
    assert_int_equal(resource.ContentionCount, 0);
    check_resource(FALSE, 0, 0, 0);
}

/* ---- Many threads: who waits, who is granted ---- */

static void shared_holds_go_together(void **state)
{
    struct client other;

    (void)state;
    ExAcquireResourceSharedLite(&resource, TRUE);
    client_start(&other, SHARED, TRUE);
    assert_true(client_holds(&other));
    assert_int_equal(resource.ActiveCount, 2);
    client_finish(&other);
    ExReleaseResourceLite(&resource);
    check_resource(FALSE, 0, 0, 0);
}

static void an_exclusive_request_waits_for_the_last_shared_hold(void **state)
{
    struct client writer;

    (void)state;
    ExAcquireResourceSharedLite(&resource, TRUE);
    client_start(&writer, EXCLUSIVE, TRUE);
    assert_true(client_waits(&writer));
    check_resource(FALSE, 1, 1, 0);
    ExReleaseResourceLite(&resource);
    wdmsim_test_settle();
    assert_true(client_holds(&writer));
    check_resource(FALSE, 0, 0, 0);
    assert_int_equal(resource.Flag & ResourceOwnedExclusive, ResourceOwnedExclusive);
    client_finish(&writer);
}

static void a_new_shared_request_waits_behind_an_exclusive_waiter_unless_it_starves_it(void **state)
{
    struct client writer, reader, starver;

    (void)state;
    ExAcquireResourceSharedLite(&resource, TRUE);
    client_start(&writer, EXCLUSIVE, TRUE);
    client_start(&reader, SHARED, TRUE);
    client_start(&starver, STARVE_EXCLUSIVE, TRUE);
    assert_true(client_waits(&reader));
    assert_true(client_holds(&starver));
    /* The caller's own shared hold recurses past the waiter: it would deadlock otherwise. */
    assert_true(ExAcquireResourceSharedLite(&resource, FALSE));
    check_resource(FALSE, 2, 1, 1);
    ExReleaseResourceLite(&resource);
    ExReleaseResourceLite(&resource);
    client_finish(&starver);
    wdmsim_test_settle();
    assert_true(client_holds(&writer));
    assert_true(client_waits(&reader));
    client_finish(&writer);
    wdmsim_test_settle();
    assert_true(client_holds(&reader));
    client_finish(&reader);
}

static void an_exclusive_release_grants_every_shared_waiter_before_an_older_exclusive_one(void **state)
{
    struct client writer, reader1, reader2;

    (void)state;
    ExAcquireResourceExclusiveLite(&resource, TRUE);
    client_start(&writer, EXCLUSIVE, TRUE);
    client_start(&reader1, SHARED, TRUE);
    client_start(&reader2, SHARED, TRUE);
    check_resource(TRUE, 1, 1, 2);
    ExReleaseResourceLite(&resource);
    wdmsim_test_settle();
    assert_true(client_holds(&reader1));
    assert_true(client_holds(&reader2));
    assert_true(client_waits(&writer));
    check_resource(FALSE, 0, 1, 0);
    client_finish(&reader1);
    client_finish(&reader2);
    wdmsim_test_settle();
    assert_true(client_holds(&writer));
    client_finish(&writer);
}

static void exclusive_waiters_are_granted_oldest_first(void **state)
{
    struct client first, second;

    (void)state;
    ExAcquireResourceExclusiveLite(&resource, TRUE);
    client_start(&first, EXCLUSIVE, TRUE);
    client_start(&second, EXCLUSIVE, TRUE);
    check_resource(TRUE, 1, 2, 0);
    ExReleaseResourceLite(&resource);
    wdmsim_test_settle();
    assert_true(client_holds(&first));
    assert_true(client_waits(&second));
    client_finish(&first);
    wdmsim_test_settle();
    assert_true(client_holds(&second));
    client_finish(&second);
}

static void Wait_FALSE_answers_FALSE_at_once_instead_of_waiting(void **state)
{
    struct client writer, reader;

    (void)state;
    ExAcquireResourceExclusiveLite(&resource, TRUE);
    client_start(&writer, EXCLUSIVE, FALSE);
    client_start(&reader, SHARED, FALSE);
    assert_int_equal(atomic_load(&writer.answer), FALSE);
    assert_int_equal(atomic_load(&reader.answer), FALSE);
    check_resource(TRUE, 1, 0, 0);
    client_finish(&writer);
    client_finish(&reader);
    ExReleaseResourceLite(&resource);
}

static void wait_for_exclusive_lets_a_waiting_writer_go_first_even_past_its_own_hold(void **state)
{
    struct client writer;

    (void)state;
    ExAcquireResourceSharedLite(&resource, TRUE);
    client_start(&writer, EXCLUSIVE, TRUE);
    assert_false(ExAcquireSharedWaitForExclusive(&resource, FALSE));
    assert_true(ExAcquireResourceSharedLite(&resource, FALSE));
    ExReleaseResourceLite(&resource);
    ExReleaseResourceLite(&resource);
    wdmsim_test_settle();
    client_finish(&writer);
}

static void converting_grants_the_waiting_shared_requests(void **state)
{
    struct client reader;

    (void)state;
    ExAcquireResourceExclusiveLite(&resource, TRUE);
    client_start(&reader, SHARED, TRUE);
    assert_true(client_waits(&reader));
    ExConvertExclusiveToSharedLite(&resource);
    wdmsim_test_settle();
    assert_true(client_holds(&reader));
    check_resource(FALSE, 1, 0, 0);
    client_finish(&reader);
    ExReleaseResourceLite(&resource);
}

/* A hold handed to an owner pointer is released by another thread on the pointer's behalf. */
static void release_for_owner_pointer(void *context)
{
    ExReleaseResourceForThreadLite(&resource, (ERESOURCE_THREAD)context);
}

static void an_owner_pointer_takes_over_the_hold_for_another_thread_to_release(void **state)
{
    static ULONG request;
    PVOID owner = (PVOID)((ULONG_PTR)&request | 3);
    struct wdmsim_test_thread releaser;

    (void)state;
    ExAcquireResourceExclusiveLite(&resource, TRUE);
    ExSetResourceOwnerPointer(&resource, owner);
    assert_false(ExIsResourceAcquiredExclusiveLite(&resource));
    assert_int_equal(resource.OwnerEntry.OwnerThread, (ERESOURCE_THREAD)owner);
    wdmsim_test_thread_start(&releaser, release_for_owner_pointer, owner);
    wdmsim_test_thread_join(&releaser);
    check_resource(FALSE, 0, 0, 0);
    assert_int_equal(resource.ActiveCount, 0);
}

/* ---- Misuse ---- */

static ERESOURCE scenario_resource;

static void acquire_outside_a_critical_region(void *context)
{
    (void)context;
    ExInitializeResourceLite(&scenario_resource);
    ExAcquireResourceExclusiveLite(&scenario_resource, TRUE);
}

static void acquiring_with_normal_kernel_APCs_enabled_stops_with_C4_37(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(acquire_outside_a_critical_region, NULL, 0xC4, 0x37, "resource.acquire_with_apcs_enabled",
                        &stop);
    assert_int_equal(stop.params[1], PASSIVE_LEVEL);
    assert_int_equal(stop.params[3], (ULONG_PTR)&scenario_resource);
}

static void acquire_at_dispatch(void *context)
{
    KIRQL old;

    (void)context;
    ExInitializeResourceLite(&scenario_resource);
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    ExAcquireResourceSharedLite(&scenario_resource, FALSE);
}

static void acquiring_at_DISPATCH_LEVEL_stops_with_C4_20007(void **state)
{
    (void)state;
    wdmsim_assert_stops(acquire_at_dispatch, NULL, 0xC4, 0x20007, "resource.acquire_above_apc", NULL);
}

static void release_twice(void *context)
{
    (void)context;
    ExInitializeResourceLite(&scenario_resource);
    KeEnterCriticalRegion();
    ExAcquireResourceSharedLite(&scenario_resource, TRUE);
    ExReleaseResourceLite(&scenario_resource);
    ExReleaseResourceLite(&scenario_resource);
}

static void a_release_without_a_hold_stops_with_0xE3_RESOURCE_NOT_OWNED(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(release_twice, NULL, 0xE3, WDMSIM_ANY_PARAM, "resource.release_not_owned", &stop);
    assert_int_equal(stop.params[0], (ULONG_PTR)&scenario_resource);
}

static void exclusive_after_shared(void *context)
{
    (void)context;
    ExInitializeResourceLite(&scenario_resource);
    KeEnterCriticalRegion();
    ExAcquireResourceSharedLite(&scenario_resource, TRUE);
    ExAcquireResourceExclusiveLite(&scenario_resource, TRUE);
}

static void asking_for_exclusive_access_while_sharing_stops_with_C4_1000(void **state)
{
    (void)state;
    wdmsim_assert_stops(exclusive_after_shared, NULL, 0xC4, 0x1000, "resource.exclusive_while_shared", NULL);
}

static void delete_while_held(void *context)
{
    (void)context;
    ExInitializeResourceLite(&scenario_resource);
    KeEnterCriticalRegion();
    ExAcquireResourceExclusiveLite(&scenario_resource, TRUE);
    ExDeleteResourceLite(&scenario_resource);
}

static void deleting_a_held_resource_stops_with_C4_100B(void **state)
{
    (void)state;
    wdmsim_assert_stops(delete_while_held, NULL, 0xC4, 0x100B, "resource.deleted_in_use", NULL);
}

static void delete_twice(void *context)
{
    (void)context;
    ExInitializeResourceLite(&scenario_resource);
    ExDeleteResourceLite(&scenario_resource);
    ExDeleteResourceLite(&scenario_resource);
}

static void deleting_twice_stops_with_C4_D1(void **state)
{
    (void)state;
    wdmsim_assert_stops(delete_twice, NULL, 0xC4, 0xD1, "resource.delete_uninitialized", NULL);
}

static void initialize_twice(void *context)
{
    (void)context;
    ExInitializeResourceLite(&scenario_resource);
    ExInitializeResourceLite(&scenario_resource);
}

static void initializing_a_live_resource_again_stops_with_C4_D0(void **state)
{
    (void)state;
    wdmsim_assert_stops(initialize_twice, NULL, 0xC4, 0xD0, "resource.initialized_twice", NULL);
}

static void acquire_uninitialized(void *context)
{
    static ERESOURCE never_initialized;

    (void)context;
    KeEnterCriticalRegion();
    ExAcquireResourceSharedLite(&never_initialized, TRUE);
}

static void using_a_resource_never_initialized_stops_with_C4_1002(void **state)
{
    (void)state;
    wdmsim_assert_stops(acquire_uninitialized, NULL, 0xC4, 0x1002, "resource.not_initialized", NULL);
}

static VOID NTAPI end_holding(PVOID context)
{
    UNREFERENCED_PARAMETER(context);
    ExAcquireResourceExclusiveLite(&scenario_resource, TRUE);
    KeLeaveCriticalRegion();
}

static VOID NTAPI enter_region_then_end_holding(PVOID context)
{
    KeEnterCriticalRegion();
    end_holding(context);
}

static void start_a_thread_that_ends_holding(void *context)
{
    HANDLE handle;
    PVOID thread;

    (void)context;
    ExInitializeResourceLite(&scenario_resource);
    PsCreateSystemThread(&handle, THREAD_ALL_ACCESS, NULL, NULL, NULL, enter_region_then_end_holding, NULL);
    ObReferenceObjectByHandle(handle, THREAD_ALL_ACCESS, *PsThreadType, KernelMode, &thread, NULL);
    KeWaitForSingleObject(thread, Executive, KernelMode, FALSE, NULL);
}

static void a_thread_that_ends_holding_a_resource_stops_with_C4_100A(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(start_a_thread_that_ends_holding, NULL, 0xC4, 0x100A, "resource.held_at_thread_exit", &stop);
    assert_int_equal(stop.params[1], (ULONG_PTR)&scenario_resource);
}

static void free_pool_with_a_resource(void *context)
{
    PERESOURCE pooled = ExAllocatePoolWithTag(NonPagedPoolNx, sizeof *pooled, RESOURCE_TEST_TAG);

    (void)context;
    ExInitializeResourceLite(pooled);
    ExFreePoolWithTag(pooled, RESOURCE_TEST_TAG);
}

static void freeing_pool_that_holds_a_live_resource_stops_with_C4_D2(void **state)
{
    (void)state;
    wdmsim_assert_stops(free_pool_with_a_resource, NULL, 0xC4, 0xD2, "resource.freed_active", NULL);
}

static ERESOURCE driver_resource;

static VOID NTAPI ForgetfulUnload(PDRIVER_OBJECT DriverObject)
{
    UNREFERENCED_PARAMETER(DriverObject);
}

static NTSTATUS NTAPI ForgetfulDriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    UNREFERENCED_PARAMETER(RegistryPath);
    DriverObject->DriverUnload = ForgetfulUnload;
    return ExInitializeResourceLite(&driver_resource);
}

static void load_and_unload_forgetful(void *context)
{
    PDRIVER_OBJECT driver;

    (void)context;
    if (wdmsim_driver_load("forgetful", ForgetfulDriverEntry, &driver) == STATUS_SUCCESS)
        wdmsim_driver_unload(driver);
}

static void an_unload_that_leaves_a_resource_undeleted_stops_with_0xCE(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(load_and_unload_forgetful, NULL, 0xCE, WDMSIM_ANY_PARAM, "driver.unload_pending_operations",
                        &stop);
    wdmsim_assert_report_has(&stop, "- resource");
    wdmsim_assert_report_has(&stop, "initialised and not deleted");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        resource_test(a_new_resource_is_free),
        resource_test(an_exclusive_hold_recurses_and_ends_with_the_last_release),
        resource_test(a_shared_hold_recurses_but_is_never_exclusive),
        resource_test(the_critical_region_helpers_enter_and_leave_with_the_hold),
        resource_test(APC_LEVEL_is_as_good_as_a_critical_region),
        resource_test(converting_keeps_the_holds_as_shared_ones),
        resource_test(reinitializing_forgets_the_contention),
        resource_test(shared_holds_go_together),
        resource_test(an_exclusive_request_waits_for_the_last_shared_hold),
        resource_test(a_new_shared_request_waits_behind_an_exclusive_waiter_unless_it_starves_it),
        resource_test(an_exclusive_release_grants_every_shared_waiter_before_an_older_exclusive_one),
        resource_test(exclusive_waiters_are_granted_oldest_first),
        resource_test(Wait_FALSE_answers_FALSE_at_once_instead_of_waiting),
        resource_test(wait_for_exclusive_lets_a_waiting_writer_go_first_even_past_its_own_hold),
        resource_test(converting_grants_the_waiting_shared_requests),
        resource_test(an_owner_pointer_takes_over_the_hold_for_another_thread_to_release),
        wdmsim_test(acquiring_with_normal_kernel_APCs_enabled_stops_with_C4_37),
        wdmsim_test(acquiring_at_DISPATCH_LEVEL_stops_with_C4_20007),
        wdmsim_test(a_release_without_a_hold_stops_with_0xE3_RESOURCE_NOT_OWNED),
        wdmsim_test(asking_for_exclusive_access_while_sharing_stops_with_C4_1000),
        wdmsim_test(deleting_a_held_resource_stops_with_C4_100B),
        wdmsim_test(deleting_twice_stops_with_C4_D1),
        wdmsim_test(initializing_a_live_resource_again_stops_with_C4_D0),
        wdmsim_test(using_a_resource_never_initialized_stops_with_C4_1002),
        wdmsim_test(a_thread_that_ends_holding_a_resource_stops_with_C4_100A),
        wdmsim_test(freeing_pool_that_holds_a_live_resource_stops_with_C4_D2),
        wdmsim_test(an_unload_that_leaves_a_resource_undeleted_stops_with_0xCE),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
