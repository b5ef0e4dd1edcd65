/*
 * test_driver_check.c - what a driver leaves behind (driver_check.c and the inventories families
 * register): a thread, a timer, a work item, a device, pool, a reference, a handle each stop the
 * machine with the list, pending operations first; a symbolic link left behind is only a warning.
 */
#include "wdmsim_test_drivers.h"

#define ONE_SECOND_MS 1000

/* ---- What a driver can leave behind at unload ---- */

static VOID NTAPI DoNothingUnload(PDRIVER_OBJECT DriverObject)
{
    UNREFERENCED_PARAMETER(DriverObject);
}

static KTIMER leaky_timer;
static KDPC leaky_dpc;

/* Exported (the test program is linked with -rdynamic), so the report can name it. */
VOID NTAPI LeakyTimerDpc(PKDPC Dpc, PVOID Context, PVOID Argument1, PVOID Argument2)
{
    UNREFERENCED_PARAMETER(Dpc);
    UNREFERENCED_PARAMETER(Context);
    UNREFERENCED_PARAMETER(Argument1);
    UNREFERENCED_PARAMETER(Argument2);
}

static NTSTATUS NTAPI TimerLeavingDriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    LARGE_INTEGER due = { .QuadPart = -10000LL * ONE_SECOND_MS };

    UNREFERENCED_PARAMETER(RegistryPath);
    KeInitializeTimerEx(&leaky_timer, NotificationTimer);
    KeInitializeDpc(&leaky_dpc, LeakyTimerDpc, NULL);
    KeSetTimerEx(&leaky_timer, due, ONE_SECOND_MS, &leaky_dpc);
    DriverObject->DriverUnload = DoNothingUnload;
    return STATUS_SUCCESS;
}

static void load_and_unload(void *entry)
{
    PDRIVER_OBJECT driver = load_in_child("leaky", (PDRIVER_INITIALIZE)entry);

    if (driver != NULL)
        wdmsim_driver_unload(driver);
}

static void an_unload_that_leaves_a_timer_set_stops_with_0xCE(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(load_and_unload, (void *)TimerLeavingDriverEntry, 0xCE, WDMSIM_ANY_PARAM,
                        "driver.unload_pending_operations", &stop);
    assert_int_equal(stop.params[0], (unsigned long long)(ULONG_PTR)LeakyTimerDpc);
    assert_int_equal(stop.params[2], (unsigned long long)(ULONG_PTR)&leaky_timer);
    wdmsim_assert_report_has(&stop, "leaky unloaded and left 1 thing behind");
    wdmsim_assert_report_has(&stop, "timer");
    wdmsim_assert_report_has(&stop, "then every 1000 ms");
    wdmsim_assert_report_has(&stop, "it would run LeakyTimerDpc");
}

static KEVENT never_set;

static VOID NTAPI WaitForeverThread(PVOID Context)
{
    UNREFERENCED_PARAMETER(Context);
    KeWaitForSingleObject(&never_set, Executive, KernelMode, FALSE, NULL);
}

static NTSTATUS NTAPI ThreadLeavingDriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    HANDLE thread;
    NTSTATUS status;

    UNREFERENCED_PARAMETER(RegistryPath);
    KeInitializeEvent(&never_set, NotificationEvent, FALSE);
    status = PsCreateSystemThread(&thread, THREAD_ALL_ACCESS, NULL, NULL, NULL, WaitForeverThread, NULL);
    if (NT_SUCCESS(status))
        ZwClose(thread);
    DriverObject->DriverUnload = DoNothingUnload;
    return status;
}

static void an_unload_that_leaves_a_system_thread_running_stops_with_0xCE(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(load_and_unload, (void *)ThreadLeavingDriverEntry, 0xCE, WDMSIM_ANY_PARAM,
                        "driver.unload_pending_operations", &stop);
    wdmsim_assert_report_has(&stop, "thread");
    wdmsim_assert_report_has(&stop, "runs the driver's code, waiting in KeWaitForSingleObject");
}

static WORK_QUEUE_ITEM leaky_item;
static KEVENT release_blockers;
static WORK_QUEUE_ITEM blockers[2];    /* as many as the simulator has worker threads */

VOID NTAPI LeakyWorkRoutine(PVOID Parameter)
{
    UNREFERENCED_PARAMETER(Parameter);
}

static VOID NTAPI BlockWorker(PVOID Parameter)
{
    UNREFERENCED_PARAMETER(Parameter);
    KeWaitForSingleObject(&release_blockers, Executive, KernelMode, FALSE, NULL);
}

static NTSTATUS NTAPI WorkLeavingDriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    UNREFERENCED_PARAMETER(RegistryPath);
    ExInitializeWorkItem(&leaky_item, LeakyWorkRoutine, NULL);
    ExQueueWorkItem(&leaky_item, DelayedWorkQueue);
    DriverObject->DriverUnload = DoNothingUnload;
    return STATUS_SUCCESS;
}

/* Host code keeps every worker busy, so the driver's item can only wait in the queue. */
static void occupy_workers_then_load_and_unload(void *unused)
{
    (void)unused;
    KeInitializeEvent(&release_blockers, NotificationEvent, FALSE);
    for (size_t i = 0; i < sizeof blockers / sizeof blockers[0]; i++) {
        ExInitializeWorkItem(&blockers[i], BlockWorker, NULL);
        ExQueueWorkItem(&blockers[i], DelayedWorkQueue);
    }
    wdmsim_test_settle();
    load_and_unload((void *)WorkLeavingDriverEntry);
}

static void an_unload_that_leaves_a_work_item_queued_stops_with_0xCE(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(occupy_workers_then_load_and_unload, NULL, 0xCE, WDMSIM_ANY_PARAM,
                        "driver.unload_pending_operations", &stop);
    wdmsim_assert_report_has(&stop, "work item");
    wdmsim_assert_report_has(&stop, "still queued; it would run LeakyWorkRoutine");
}

static VOID NTAPI WaitForeverWork(PVOID Parameter)
{
    UNREFERENCED_PARAMETER(Parameter);
    KeWaitForSingleObject(&never_set, Executive, KernelMode, FALSE, NULL);
}

static NTSTATUS NTAPI StuckWorkDriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    UNREFERENCED_PARAMETER(RegistryPath);
    KeInitializeEvent(&never_set, NotificationEvent, FALSE);
    ExInitializeWorkItem(&leaky_item, WaitForeverWork, NULL);
    ExQueueWorkItem(&leaky_item, DelayedWorkQueue);
    DriverObject->DriverUnload = DoNothingUnload;
    return STATUS_SUCCESS;
}

static void an_unload_while_a_worker_runs_the_drivers_routine_stops_with_0xCE(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(load_and_unload, (void *)StuckWorkDriverEntry, 0xCE, WDMSIM_ANY_PARAM,
                        "driver.unload_pending_operations", &stop);
    wdmsim_assert_report_has(&stop, "- thread");
    wdmsim_assert_report_has(&stop, "worker-");
    wdmsim_assert_report_has(&stop, "runs the driver's code, waiting in KeWaitForSingleObject");
}

static NTSTATUS NTAPI DeviceKeepingDriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    UNICODE_STRING name;
    PDEVICE_OBJECT device;

    UNREFERENCED_PARAMETER(RegistryPath);
    RtlInitUnicodeString(&name, L"\\Device\\Forgotten");
    DriverObject->DriverUnload = DoNothingUnload;
    return IoCreateDevice(DriverObject, 0, &name, FILE_DEVICE_UNKNOWN, 0, FALSE, &device);
}

static void an_unload_that_leaves_a_device_stops_with_0xCE(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(load_and_unload, (void *)DeviceKeepingDriverEntry, 0xCE, WDMSIM_ANY_PARAM,
                        "driver.unload_pending_operations", &stop);
    wdmsim_assert_report_has(&stop, "device");
    wdmsim_assert_report_has(&stop, "not deleted, \\Device\\Forgotten");
}

static NTSTATUS NTAPI PoolKeepingDriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    UNREFERENCED_PARAMETER(RegistryPath);
    ExAllocatePoolWithTag(PagedPool, 24, LEAK_TAG);
    ExAllocatePoolWithTag(NonPagedPoolNx, 8, LEAK_TAG);
    DriverObject->DriverUnload = DoNothingUnload;
    return STATUS_SUCCESS;
}

static void an_unload_that_leaves_pool_stops_with_C4_62_and_the_block_count(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(load_and_unload, (void *)PoolKeepingDriverEntry, 0xC4, 0x62, "driver.unload_leaked_pool",
                        &stop);
    assert_int_equal(stop.params[3], 2);
    wdmsim_assert_report_has(&stop, "'Leak', PagedPool, 24 bytes, allocated by PoolKeepingDriverEntry+0x");
    wdmsim_assert_report_has(&stop, "'Leak', NonPagedPoolNx, 8 bytes, allocated by PoolKeepingDriverEntry+0x");
    wdmsim_assert_report_has(&stop, "at tests/sim_kernel/test_driver_check.c:");
}

/* DebugPrint's original mistake: the thread object is referenced and never dereferenced. */
static KEVENT stop_thread;
static PVOID thread_object;
static HANDLE kept_handle;

static VOID NTAPI StoppableThread(PVOID Context)
{
    UNREFERENCED_PARAMETER(Context);
    KeWaitForSingleObject(&stop_thread, Executive, KernelMode, FALSE, NULL);
}

static VOID NTAPI StopThreadUnload(PDRIVER_OBJECT DriverObject)
{
    UNREFERENCED_PARAMETER(DriverObject);
    KeSetEvent(&stop_thread, IO_NO_INCREMENT, FALSE);
    KeWaitForSingleObject(thread_object, Executive, KernelMode, FALSE, NULL);
}

static NTSTATUS NTAPI ReferenceKeepingDriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    HANDLE thread;
    NTSTATUS status;

    UNREFERENCED_PARAMETER(RegistryPath);
    KeInitializeEvent(&stop_thread, NotificationEvent, FALSE);
    status = PsCreateSystemThread(&thread, THREAD_ALL_ACCESS, NULL, NULL, NULL, StoppableThread, NULL);
    if (!NT_SUCCESS(status))
        return status;
    ObReferenceObjectByHandle(thread, THREAD_ALL_ACCESS, NULL, KernelMode, &thread_object, NULL);
    ZwClose(thread);
    DriverObject->DriverUnload = StopThreadUnload;
    return STATUS_SUCCESS;
}

static void an_unload_that_keeps_a_reference_stops_with_C4_62(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(load_and_unload, (void *)ReferenceKeepingDriverEntry, 0xC4, 0x62,
                        "driver.unload_leaked_references", &stop);
    assert_int_equal(stop.params[3], 1);
    wdmsim_assert_report_has(&stop, "1 reference(s) to the Thread object");
}

/* A device is an object like any other: a reference the driver keeps on it is a leak. */
static VOID NTAPI DeviceKeptUnload(PDRIVER_OBJECT DriverObject)
{
    UNREFERENCED_PARAMETER(DriverObject);
}

static NTSTATUS NTAPI DeviceReferenceKeepingDriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    PDEVICE_OBJECT device;

    UNREFERENCED_PARAMETER(RegistryPath);
    if (!NT_SUCCESS(IoCreateDevice(DriverObject, 0, NULL, FILE_DEVICE_UNKNOWN, 0, FALSE, &device)))
        return STATUS_UNSUCCESSFUL;
    ObReferenceObject(device);
    DriverObject->DriverUnload = DeviceKeptUnload;
    IoDeleteDevice(device);
    return STATUS_SUCCESS;
}

static void an_unload_that_keeps_a_reference_to_its_deleted_device_stops_with_C4_62(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(load_and_unload, (void *)DeviceReferenceKeepingDriverEntry, 0xC4, 0x62,
                        "driver.unload_leaked_references", &stop);
    wdmsim_assert_report_has(&stop, "1 reference(s) to the Device object");
}

static NTSTATUS NTAPI HandleKeepingDriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    NTSTATUS status;

    UNREFERENCED_PARAMETER(RegistryPath);
    KeInitializeEvent(&stop_thread, NotificationEvent, FALSE);
    status = PsCreateSystemThread(&kept_handle, THREAD_ALL_ACCESS, NULL, NULL, NULL, StoppableThread, NULL);
    if (!NT_SUCCESS(status))
        return status;
    ObReferenceObjectByHandle(kept_handle, THREAD_ALL_ACCESS, NULL, KernelMode, &thread_object, NULL);
    DriverObject->DriverUnload = StopThreadUnload;
    return STATUS_SUCCESS;
}

static VOID NTAPI StopThreadDereferenceUnload(PDRIVER_OBJECT DriverObject)
{
    StopThreadUnload(DriverObject);
    ObDereferenceObject(thread_object);
}

static NTSTATUS NTAPI HandleOnlyKeepingDriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    NTSTATUS status = HandleKeepingDriverEntry(DriverObject, RegistryPath);

    DriverObject->DriverUnload = StopThreadDereferenceUnload;
    return status;
}

static void an_unload_that_keeps_a_handle_open_stops_with_C4_62(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(load_and_unload, (void *)HandleOnlyKeepingDriverEntry, 0xC4, 0x62,
                        "driver.unload_leaked_references", &stop);
    assert_int_equal(stop.params[3], 1);
    wdmsim_assert_report_has(&stop, "kernel handle");
    wdmsim_assert_report_has(&stop, "still open");
}

static NTSTATUS NTAPI EverythingLeavingDriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    NTSTATUS status = TimerLeavingDriverEntry(DriverObject, RegistryPath);

    if (NT_SUCCESS(status))
        status = PoolKeepingDriverEntry(DriverObject, RegistryPath);
    if (NT_SUCCESS(status))
        status = DeviceKeepingDriverEntry(DriverObject, RegistryPath);
    return status;
}

static void one_stop_lists_every_kind_of_leftover_pending_operations_first(void **state)
{
    struct wdmsim_stop stop;
    const char *timer, *device, *pool;

    (void)state;
    wdmsim_assert_stops(load_and_unload, (void *)EverythingLeavingDriverEntry, 0xCE, WDMSIM_ANY_PARAM,
                        "driver.unload_pending_operations", &stop);
    wdmsim_assert_report_has(&stop, "leaky unloaded and left 4 things behind");
    timer = strstr(stop.report, "- timer");
    device = strstr(stop.report, "- device");
    pool = strstr(stop.report, "- pool block");
    assert_non_null(timer);
    assert_non_null(device);
    assert_non_null(pool);
    assert_true(timer < pool && device < pool);
}

/* ---- A symbolic link left behind ---- */

static NTSTATUS link_status;

static VOID NTAPI LinkForgettingUnload(PDRIVER_OBJECT DriverObject)
{
    IoDeleteDevice(DriverObject->DeviceObject);
}

static NTSTATUS NTAPI LinkForgettingDriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    UNICODE_STRING device_name, link_name;
    PDEVICE_OBJECT device;
    NTSTATUS status;

    UNREFERENCED_PARAMETER(RegistryPath);
    RtlInitUnicodeString(&device_name, L"\\Device\\Forgetful");
    RtlInitUnicodeString(&link_name, L"\\??\\Forgetful");
    status = IoCreateDevice(DriverObject, 0, &device_name, FILE_DEVICE_UNKNOWN, 0, FALSE, &device);
    if (!NT_SUCCESS(status))
        return status;
    link_status = IoCreateSymbolicLink(&link_name, &device_name);
    DriverObject->DriverUnload = LinkForgettingUnload;
    return STATUS_SUCCESS;
}

static void unload_driver(void *driver)
{
    wdmsim_driver_unload(driver);
}

/* Windows does not stop for a link left behind, nor does the simulator; but it says so, because
 * the next load of the driver fails in IoCreateSymbolicLink, far from the cause. */
static void an_unload_that_leaves_its_symbolic_link_warns_and_a_reload_collides(void **state)
{
    char err[1024];

    (void)state;
    wdmsim_capture_stderr(unload_driver, load("forgetful", LinkForgettingDriverEntry), err, sizeof err);
    assert_int_equal(link_status, STATUS_SUCCESS);
    assert_non_null(strstr(err, "forgetful left the symbolic link \\??\\FORGETFUL -> \\DEVICE\\FORGETFUL"));
    assert_non_null(strstr(err, "IoDeleteSymbolicLink"));
    wdmsim_capture_stderr(unload_driver, load("forgetful", LinkForgettingDriverEntry), err, sizeof err);
    assert_int_equal(link_status, STATUS_OBJECT_NAME_COLLISION);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        wdmsim_test(an_unload_that_leaves_a_timer_set_stops_with_0xCE),
        wdmsim_test(an_unload_that_leaves_a_system_thread_running_stops_with_0xCE),
        wdmsim_test(an_unload_that_leaves_a_work_item_queued_stops_with_0xCE),
        wdmsim_test(an_unload_while_a_worker_runs_the_drivers_routine_stops_with_0xCE),
        wdmsim_test(an_unload_that_leaves_a_device_stops_with_0xCE),
        wdmsim_test(an_unload_that_leaves_pool_stops_with_C4_62_and_the_block_count),
        wdmsim_test(an_unload_that_keeps_a_reference_stops_with_C4_62),
        wdmsim_test(an_unload_that_keeps_a_reference_to_its_deleted_device_stops_with_C4_62),
        wdmsim_test(an_unload_that_keeps_a_handle_open_stops_with_C4_62),
        wdmsim_test(one_stop_lists_every_kind_of_leftover_pending_operations_first),
        wdmsim_test(an_unload_that_leaves_its_symbolic_link_warns_and_a_reload_collides),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
