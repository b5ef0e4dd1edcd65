/*
 * test_removelock.c - remove locks as a PnP driver uses them: each request holds the lock with its
 * IRP as the tag; IRP_MN_REMOVE_DEVICE's IoReleaseRemoveLockAndWait marks the device removed (new
 * acquires fail with STATUS_DELETE_PENDING) and waits until the requests in progress have released
 * it. The checked build's tag tracking: a release with a tag not held stops, and a tag still held
 * at unload is named with where it was acquired.
 */
#include <stdbool.h>
#include <wdm.h>

#include <wdmsim/test.h>
#include "wdmsim_test_threads.h"

#define LOCK_TAG 'kLmR'

static IO_REMOVE_LOCK lock;
static int request_a, request_b, removal;   /* their addresses are the tags */
static LONG removal_done;

static int setup(void **state)
{
    wdmsim_test_boot(state);
    memset(&lock, 0xA5, sizeof lock);
    IoInitializeRemoveLock(&lock, LOCK_TAG, 1, 100);
    return 0;
}

#define removelock_test(fn) cmocka_unit_test_setup_teardown(fn, setup, wdmsim_test_shutdown)

static void IoInitializeRemoveLock_makes_a_lock_that_counts_itself_once(void **state)
{
    (void)state;
    assert_false(lock.Common.Removed);
    assert_int_equal(lock.Common.IoCount, 1);
    assert_int_equal(KeReadStateEvent(&lock.Common.RemoveEvent), 0);
    assert_int_equal(lock.Dbg.AllocateTag, LOCK_TAG);
    assert_int_equal(lock.Dbg.HighWatermark, 100);
}

static void each_acquire_counts_until_its_release_and_a_tag_may_be_held_twice(void **state)
{
    (void)state;
    assert_int_equal(IoAcquireRemoveLock(&lock, &request_a), STATUS_SUCCESS);
    assert_int_equal(IoAcquireRemoveLock(&lock, &request_a), STATUS_SUCCESS);
    assert_int_equal(IoAcquireRemoveLock(&lock, &request_b), STATUS_SUCCESS);
    assert_int_equal(lock.Common.IoCount, 4);
    IoReleaseRemoveLock(&lock, &request_a);
    IoReleaseRemoveLock(&lock, &request_b);
    IoReleaseRemoveLock(&lock, &request_a);
    assert_int_equal(lock.Common.IoCount, 1);
}

/* The removal, on a thread of its own, waits for the request still holding the lock. */
static void remove_device(void *context)
{
    (void)context;
    if (IoAcquireRemoveLock(&lock, &removal) == STATUS_SUCCESS)
        IoReleaseRemoveLockAndWait(&lock, &removal);
    InterlockedExchange(&removal_done, 1);
}

static void IoReleaseRemoveLockAndWait_refuses_new_acquires_and_waits_for_those_in_progress(void **state)
{
    struct wdmsim_test_thread remover;

    (void)state;
    removal_done = 0;
    assert_int_equal(IoAcquireRemoveLock(&lock, &request_a), STATUS_SUCCESS);
    wdmsim_test_thread_start(&remover, remove_device, NULL);
    wdmsim_test_settle();
    assert_true(lock.Common.Removed);
    assert_int_equal(removal_done, 0);
    assert_int_equal(IoAcquireRemoveLock(&lock, &request_b), STATUS_DELETE_PENDING);
    assert_int_equal(lock.Common.IoCount, 1);   /* request_a's alone */
    IoReleaseRemoveLock(&lock, &request_a);
    wdmsim_test_thread_join(&remover);
    assert_int_equal(removal_done, 1);
    assert_int_equal(lock.Common.IoCount, 0);
}

static void with_nothing_in_progress_IoReleaseRemoveLockAndWait_returns_at_once(void **state)
{
    (void)state;
    remove_device(NULL);
    assert_int_equal(lock.Common.IoCount, 0);
    assert_int_equal(IoAcquireRemoveLock(&lock, &request_a), STATUS_DELETE_PENDING);
}

/* ---- Stops ---- */

static void release_a_tag_not_held(void *context)
{
    (void)context;
    IoInitializeRemoveLock(&lock, LOCK_TAG, 0, 0);
    IoAcquireRemoveLock(&lock, &request_a);
    IoReleaseRemoveLock(&lock, &request_b);
}

static void a_release_with_a_tag_not_held_stops_naming_the_tag(void **state)
{
    struct wdmsim_stop stop;
    char line[64];

    (void)state;
    wdmsim_assert_stops(release_a_tag_not_held, NULL, 0x1E, 0x80000003, "removelock.release_not_acquired", &stop);
    snprintf(line, sizeof line, "not held with tag %p", (void *)&request_b);
    wdmsim_assert_report_has(&stop, line);
}

static void release_twice(void *context)
{
    (void)context;
    IoInitializeRemoveLock(&lock, LOCK_TAG, 0, 0);
    IoAcquireRemoveLock(&lock, &request_a);
    IoReleaseRemoveLock(&lock, &request_a);
    IoReleaseRemoveLock(&lock, &request_a);
}

static void releasing_an_acquire_twice_stops(void **state)
{
    (void)state;
    wdmsim_assert_stops(release_twice, NULL, 0x1E, 0x80000003, "removelock.release_not_acquired", NULL);
}

/* Without the checked build's tracking (the free build's lock size), the count still tells. */
static void release_untracked_more_than_acquired(void *context)
{
    (void)context;
    IoInitializeRemoveLockEx(&lock, LOCK_TAG, 0, 0, sizeof(IO_REMOVE_LOCK_COMMON_BLOCK));
    IoReleaseRemoveLockEx(&lock, &request_a, sizeof(IO_REMOVE_LOCK_COMMON_BLOCK));
}

static void more_releases_than_acquires_stop_even_without_tag_tracking(void **state)
{
    (void)state;
    wdmsim_assert_stops(release_untracked_more_than_acquired, NULL, 0x1E, 0x80000003,
                        "removelock.released_too_often", NULL);
}

static void acquire_above_dispatch(void *context)
{
    KIRQL old;

    (void)context;
    IoInitializeRemoveLock(&lock, LOCK_TAG, 0, 0);
    KeRaiseIrql(HIGH_LEVEL, &old);
    IoAcquireRemoveLock(&lock, &request_a);
}

static void IoAcquireRemoveLock_above_DISPATCH_LEVEL_stops_with_IrqlIoDispatch(void **state)
{
    (void)state;
    wdmsim_assert_stops(acquire_above_dispatch, NULL, 0xC4, 0x20022, "removelock.above_dispatch", NULL);
}

/* ---- Unload ---- */

static VOID NTAPI holder_unload(PDRIVER_OBJECT driver)
{
    (void)driver;
}

static NTSTATUS NTAPI holder_entry(PDRIVER_OBJECT driver, PUNICODE_STRING registry_path)
{
    (void)registry_path;
    driver->DriverUnload = holder_unload;
    IoInitializeRemoveLock(&lock, LOCK_TAG, 0, 0);
    return IoAcquireRemoveLock(&lock, &request_a);
}

static void unload_holding_a_tag(void *context)
{
    PDRIVER_OBJECT driver;

    (void)context;
    if (NT_SUCCESS(wdmsim_driver_load("holder", holder_entry, &driver)))
        wdmsim_driver_unload(driver);
}

static void a_tag_still_held_at_unload_stops_with_0xCE_naming_it_and_its_acquire(void **state)
{
    struct wdmsim_stop stop;
    char line[64];

    (void)state;
    wdmsim_assert_stops(unload_holding_a_tag, NULL, 0xCE, WDMSIM_ANY_PARAM, "driver.unload_pending_operations",
                        &stop);
    snprintf(line, sizeof line, "still held with tag %p, acquired at", (void *)&request_a);
    wdmsim_assert_report_has(&stop, line);
    wdmsim_assert_report_has(&stop, "test_removelock.c:");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        removelock_test(IoInitializeRemoveLock_makes_a_lock_that_counts_itself_once),
        removelock_test(each_acquire_counts_until_its_release_and_a_tag_may_be_held_twice),
        removelock_test(IoReleaseRemoveLockAndWait_refuses_new_acquires_and_waits_for_those_in_progress),
        removelock_test(with_nothing_in_progress_IoReleaseRemoveLockAndWait_returns_at_once),
        cmocka_unit_test(a_release_with_a_tag_not_held_stops_naming_the_tag),
        cmocka_unit_test(releasing_an_acquire_twice_stops),
        cmocka_unit_test(more_releases_than_acquires_stop_even_without_tag_tracking),
        cmocka_unit_test(IoAcquireRemoveLock_above_DISPATCH_LEVEL_stops_with_IrqlIoDispatch),
        cmocka_unit_test(a_tag_still_held_at_unload_stops_with_0xCE_naming_it_and_its_acquire),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
