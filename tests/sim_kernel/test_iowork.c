/*
 * test_iowork.c - IoAllocateWorkItem, IoQueueWorkItem, IoFreeWorkItem: the routine runs later at
 * PASSIVE_LEVEL on a worker thread with its device and context, charged to the device's driver;
 * the device stays referenced (so alive, even deleted) until the routine returns, and an unload
 * waits for it as Windows keeps the image; an item may be freed by its own routine but not while
 * queued. Completion is awaited on events, never by sleeping.
 */
#include <wdmsim/test.h>
#include "wdmsim_test_threads.h"

#define ROUTINE_TAG 'kroW'
#define BLOCKERS 8      /* more than the simulator's worker threads: the next item stays queued */

static struct {
    PDEVICE_OBJECT device;
    PIO_WORKITEM item;
    KEVENT release;                 /* the routine waits for it when told to */
    KEVENT done;                    /* the routine has run */
    BOOLEAN wait_for_release;
    BOOLEAN free_itself;
    PDEVICE_OBJECT seen_device;
    PVOID seen_context;
    KIRQL irql;
    PKTHREAD thread;
    PVOID block;                    /* pool the routine allocated */
} work;

static VOID NTAPI routine(PDEVICE_OBJECT device, PVOID context)
{
    work.seen_device = device;
    work.seen_context = context;
    work.irql = KeGetCurrentIrql();
    work.thread = KeGetCurrentThread();
    work.block = ExAllocatePoolWithTag(NonPagedPoolNx, 16, ROUTINE_TAG);
    if (work.wait_for_release)
        KeWaitForSingleObject(&work.release, Executive, KernelMode, FALSE, NULL);
    /* Touches the device after waiting: it must still be there, deleted or not. */
    RtlZeroMemory(device->DeviceExtension, 16);
    if (work.free_itself)
        IoFreeWorkItem(work.item);
    KeSetEvent(&work.done, IO_NO_INCREMENT, FALSE);
}

static VOID NTAPI work_unload(PDRIVER_OBJECT driver)
{
    if (driver->DeviceObject != NULL)
        IoDeleteDevice(driver->DeviceObject);
}

static NTSTATUS NTAPI work_entry(PDRIVER_OBJECT driver, PUNICODE_STRING registry_path)
{
    NTSTATUS status;

    (void)registry_path;
    driver->DriverUnload = work_unload;
    status = IoCreateDevice(driver, 16, NULL, FILE_DEVICE_UNKNOWN, 0, FALSE, &work.device);
    if (!NT_SUCCESS(status))
        return status;
    work.device->Flags &= ~DO_DEVICE_INITIALIZING;
    work.item = IoAllocateWorkItem(work.device);
    if (work.item == NULL) {
        IoDeleteDevice(work.device);
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    return STATUS_SUCCESS;
}

static int setup(void **state)
{
    memset(&work, 0, sizeof work);
    KeInitializeEvent(&work.release, NotificationEvent, FALSE);
    KeInitializeEvent(&work.done, NotificationEvent, FALSE);
    return wdmsim_test_boot(state);
}

#define iowork_test(fn) cmocka_unit_test_setup_teardown(fn, setup, wdmsim_test_shutdown)

static PDRIVER_OBJECT load_worker(void)
{
    PDRIVER_OBJECT driver = NULL;

    assert_int_equal(wdmsim_driver_load("worker", work_entry, &driver), STATUS_SUCCESS);
    return driver;
}

static void wait_done(void)
{
    KeWaitForSingleObject(&work.done, Executive, KernelMode, FALSE, NULL);
}

static void IoQueueWorkItem_runs_the_routine_at_PASSIVE_LEVEL_with_its_device_charged_to_its_driver(void **state)
{
    PDRIVER_OBJECT driver = load_worker();

    (void)state;
    IoQueueWorkItem(work.item, routine, DelayedWorkQueue, &work);
    wait_done();
    assert_ptr_equal(work.seen_device, work.device);
    assert_ptr_equal(work.seen_context, &work);
    assert_int_equal(work.irql, PASSIVE_LEVEL);
    assert_ptr_not_equal(work.thread, KeGetCurrentThread());
    assert_int_equal(wdmsim_pool_outstanding_by_driver("worker", NULL), 2);
    ExFreePoolWithTag(work.block, ROUTINE_TAG);
    IoFreeWorkItem(work.item);
    assert_int_equal(wdmsim_pool_outstanding_by_driver("worker", NULL), 0);
    wdmsim_driver_unload(driver);
}

static void IoQueueWorkItem_keeps_the_device_referenced_until_the_routine_returns(void **state)
{
    PDRIVER_OBJECT driver = load_worker();
    LARGE_INTEGER one_tick = { .QuadPart = -1 };

    (void)state;
    work.wait_for_release = TRUE;
    assert_int_equal(work.device->ReferenceCount, 0);
    IoQueueWorkItem(work.item, routine, DelayedWorkQueue, NULL);
    assert_int_equal(work.device->ReferenceCount, 1);
    KeDelayExecutionThread(KernelMode, FALSE, &one_tick);
    assert_non_null(work.thread);
    /* Deleted while the routine runs: the I/O manager's reference keeps it until the routine returns. */
    IoDeleteDevice(work.device);
    KeSetEvent(&work.release, IO_NO_INCREMENT, FALSE);
    wait_done();
    ExFreePoolWithTag(work.block, ROUTINE_TAG);
    IoFreeWorkItem(work.item);
    wdmsim_driver_unload(driver);
}

static void IoFreeWorkItem_from_its_own_routine_is_allowed(void **state)
{
    PDRIVER_OBJECT driver = load_worker();

    (void)state;
    work.free_itself = TRUE;
    IoQueueWorkItem(work.item, routine, DelayedWorkQueue, NULL);
    wait_done();
    ExFreePoolWithTag(work.block, ROUTINE_TAG);
    wdmsim_driver_unload(driver);
}

/* ---- Unload while a routine still runs ---- */

/* The routine outlives the Unload that deleted its device, then tidies up after itself. */
static VOID NTAPI lingering_routine(PDEVICE_OBJECT device, PVOID context)
{
    (void)device;
    (void)context;
    KeWaitForSingleObject(&work.release, Executive, KernelMode, FALSE, NULL);
    IoFreeWorkItem(work.item);
    KeSetEvent(&work.done, IO_NO_INCREMENT, FALSE);
}

static void release_after_one_second(void *context)
{
    LARGE_INTEGER one_second = { .QuadPart = -10000000LL };

    (void)context;
    KeDelayExecutionThread(KernelMode, FALSE, &one_second);
    KeSetEvent(&work.release, IO_NO_INCREMENT, FALSE);
}

static LONGLONG system_time(void)
{
    LARGE_INTEGER now;

    KeQuerySystemTime(&now);
    return now.QuadPart;
}

static void an_unload_waits_for_an_IoQueueWorkItem_routine_still_running_on_its_deleted_device(void **state)
{
    PDRIVER_OBJECT driver = load_worker();
    struct wdmsim_test_thread releaser;
    LONGLONG start;

    (void)state;
    IoQueueWorkItem(work.item, lingering_routine, DelayedWorkQueue, NULL);
    wdmsim_test_settle();
    wdmsim_test_thread_start(&releaser, release_after_one_second, NULL);
    start = system_time();
    wdmsim_driver_unload(driver);
    assert_int_equal(KeReadStateEvent(&work.done), 1);
    assert_true(system_time() - start >= 10000000LL);
    wdmsim_test_thread_join(&releaser);
}

static void unload_under_a_routine_that_never_returns(void *context)
{
    PDRIVER_OBJECT driver;

    (void)context;
    wdmsim_driver_load("worker", work_entry, &driver);
    IoQueueWorkItem(work.item, lingering_routine, DelayedWorkQueue, NULL);
    wdmsim_driver_unload(driver);
}

static void an_unload_under_an_IoQueueWorkItem_routine_that_never_returns_stops_with_0xCE(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(unload_under_a_routine_that_never_returns, NULL, 0xCE, WDMSIM_ANY_PARAM,
                        "driver.unload_pending_operations", &stop);
    wdmsim_assert_report_has(&stop, "deleted but still referenced 1 time(s)");
}

/* ---- Misuse: an item that stays queued behind busy workers ---- */

static KEVENT blockers_release;
static WORK_QUEUE_ITEM blockers[BLOCKERS];

static VOID NTAPI block(PVOID unused)
{
    (void)unused;
    KeWaitForSingleObject(&blockers_release, Executive, KernelMode, FALSE, NULL);
}

static void queue_behind_busy_workers(void)
{
    PDRIVER_OBJECT driver;

    KeInitializeEvent(&blockers_release, NotificationEvent, FALSE);
    for (int i = 0; i < BLOCKERS; i++) {
        ExInitializeWorkItem(&blockers[i], block, NULL);
        ExQueueWorkItem(&blockers[i], DelayedWorkQueue);
    }
    wdmsim_driver_load("worker", work_entry, &driver);
    IoQueueWorkItem(work.item, routine, DelayedWorkQueue, NULL);
}

static void free_a_queued_item(void *context)
{
    (void)context;
    queue_behind_busy_workers();
    IoFreeWorkItem(work.item);
}

static void IoFreeWorkItem_of_a_queued_item_stops_with_0xE4_0(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(free_a_queued_item, NULL, 0xE4, 0, "worker.item_freed_while_queued", &stop);
    assert_int_not_equal(stop.params[1], 0);
    assert_int_equal(stop.params[1], stop.params[2]);
    assert_true(stop.params[3] > stop.params[2]);
}

static void queue_a_queued_item(void *context)
{
    (void)context;
    queue_behind_busy_workers();
    IoQueueWorkItem(work.item, routine, DelayedWorkQueue, NULL);
}

static void IoQueueWorkItem_of_a_queued_item_stops_with_0xE4_1(void **state)
{
    (void)state;
    wdmsim_assert_stops(queue_a_queued_item, NULL, 0xE4, 1, "worker.item_queued_twice", NULL);
}

static void allocate_above_dispatch(void *context)
{
    KIRQL old;

    (void)context;
    KeRaiseIrql(HIGH_LEVEL, &old);
    IoAllocateWorkItem(NULL);
}

static void IoAllocateWorkItem_above_DISPATCH_LEVEL_stops_with_0xC4_0x20022(void **state)
{
    (void)state;
    wdmsim_assert_stops(allocate_above_dispatch, NULL, 0xC4, 0x20022, "io.work_item_above_dispatch", NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        iowork_test(IoQueueWorkItem_runs_the_routine_at_PASSIVE_LEVEL_with_its_device_charged_to_its_driver),
        iowork_test(IoQueueWorkItem_keeps_the_device_referenced_until_the_routine_returns),
        iowork_test(IoFreeWorkItem_from_its_own_routine_is_allowed),
        iowork_test(an_unload_waits_for_an_IoQueueWorkItem_routine_still_running_on_its_deleted_device),
        iowork_test(an_unload_under_an_IoQueueWorkItem_routine_that_never_returns_stops_with_0xCE),
        iowork_test(IoFreeWorkItem_of_a_queued_item_stops_with_0xE4_0),
        iowork_test(IoQueueWorkItem_of_a_queued_item_stops_with_0xE4_1),
        iowork_test(IoAllocateWorkItem_above_DISPATCH_LEVEL_stops_with_0xC4_0x20022),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
