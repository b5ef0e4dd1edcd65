/*
 * test_driver.c - the driver life cycle: DriverEntry and DriverUnload run on System threads at
 * PASSIVE_LEVEL, a failed DriverEntry is never unloaded, the RegistryPath is freed pool once
 * DriverEntry returns, a PnP driver gets AddDevice, START and REMOVE, and whatever a driver leaves
 * behind - a thread, a timer, a work item, a device, pool, a reference, a handle - stops the machine
 * with the list. Modules: each loaded copy has its own globals, a module loaded again starts as
 * built, an unloaded one can no longer run or be written, and INIT data touched after DriverEntry
 * stops the machine. The drivers are small ones written here and in modules/.
 */
#include <stdatomic.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/wait.h>
#include <unistd.h>

#include <wdmsim/test.h>
#include "wdmsim_test_threads.h"

#define LEAK_TAG 'kaeL'
#define REGISTRY_TAG 'PgeR'     /* the I/O manager's tag for the RegistryPath buffer */
#define ONE_SECOND_MS 1000

static bool wide_equals(const WCHAR *text, USHORT length, const char *expected)
{
    size_t n = strlen(expected);

    if (length != n * sizeof(WCHAR))
        return false;
    for (size_t i = 0; i < n; i++) {
        if (text[i] != (WCHAR)expected[i])
            return false;
    }
    return true;
}

static bool unicode_equals(PCUNICODE_STRING string, const char *expected)
{
    return wide_equals(string->Buffer, string->Length, expected);
}

static PDRIVER_OBJECT load(const char *name, PDRIVER_INITIALIZE entry)
{
    PDRIVER_OBJECT driver = NULL;
    NTSTATUS status = wdmsim_driver_load(name, entry, &driver);

    if (!NT_SUCCESS(status))
        print_message("wdmsim_driver_load(%s) returned 0x%08X\n", name, (unsigned)status);
    assert_int_equal(status, STATUS_SUCCESS);
    assert_non_null(driver);
    return driver;
}

/* In a STOP scenario's child: CMocka asserts would end the child, not fail the test. */
static PDRIVER_OBJECT load_in_child(const char *name, PDRIVER_INITIALIZE entry)
{
    PDRIVER_OBJECT driver = NULL;

    if (!NT_SUCCESS(wdmsim_driver_load(name, entry, &driver)))
        return NULL;
    return driver;
}

/* ---- A tidy driver: what DriverEntry and Unload see ---- */

static struct {
    int entries;
    int unloads;
    PKTHREAD entry_thread;
    KIRQL entry_irql;
    bool registry_path_ok;
    bool driver_name_ok;
    size_t registry_blocks_during_entry;
    PKTHREAD unload_thread;
    KIRQL unload_irql;
} tidy;

static VOID NTAPI TidyUnload(PDRIVER_OBJECT DriverObject)
{
    tidy.unloads++;
    tidy.unload_thread = KeGetCurrentThread();
    tidy.unload_irql = KeGetCurrentIrql();
    IoDeleteDevice(DriverObject->DeviceObject);
}

static NTSTATUS NTAPI TidyDriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    UNICODE_STRING name;
    PDEVICE_OBJECT device;

    tidy.entries++;
    tidy.entry_thread = KeGetCurrentThread();
    tidy.entry_irql = KeGetCurrentIrql();
    tidy.registry_path_ok =
        unicode_equals(RegistryPath, "\\Registry\\Machine\\System\\CurrentControlSet\\Services\\tidy");
    tidy.driver_name_ok = unicode_equals(&DriverObject->DriverName, "\\Driver\\tidy");
    tidy.registry_blocks_during_entry = wdmsim_pool_outstanding_by_tag(REGISTRY_TAG, NULL);
    DriverObject->DriverUnload = TidyUnload;
    RtlInitUnicodeString(&name, L"\\Device\\Tidy");
    return IoCreateDevice(DriverObject, 0, &name, FILE_DEVICE_UNKNOWN, 0, FALSE, &device);
}

/* The I/O manager clears DO_DEVICE_INITIALIZING on DriverEntry's devices; tidy never does. */
static void devices_created_in_DriverEntry_are_ready_for_opens_when_it_returns(void **state)
{
    PDRIVER_OBJECT driver;

    (void)state;
    memset(&tidy, 0, sizeof tidy);
    driver = load("tidy", TidyDriverEntry);
    assert_int_equal(driver->DeviceObject->Flags & DO_DEVICE_INITIALIZING, 0);
    wdmsim_driver_unload(driver);
}

static void DriverEntry_runs_on_a_system_thread_at_PASSIVE_LEVEL_with_its_names(void **state)
{
    PDRIVER_OBJECT driver;

    (void)state;
    memset(&tidy, 0, sizeof tidy);
    tidy.entry_irql = HIGH_LEVEL;
    driver = load("tidy", TidyDriverEntry);
    assert_int_equal(tidy.entries, 1);
    assert_non_null(tidy.entry_thread);
    assert_ptr_not_equal(tidy.entry_thread, KeGetCurrentThread());
    assert_int_equal(tidy.entry_irql, PASSIVE_LEVEL);
    assert_true(tidy.registry_path_ok);
    assert_true(tidy.driver_name_ok);
    assert_true(unicode_equals(&driver->DriverExtension->ServiceKeyName, "tidy"));
    assert_ptr_equal(driver->DriverInit, TidyDriverEntry);
    assert_ptr_equal(driver->DriverExtension->DriverObject, driver);
    assert_non_null(driver->DeviceObject);
    assert_int_equal(tidy.unloads, 0);
    wdmsim_driver_unload(driver);
}

static void the_RegistryPath_buffer_is_pool_freed_when_DriverEntry_returns(void **state)
{
    PDRIVER_OBJECT driver;

    (void)state;
    memset(&tidy, 0, sizeof tidy);
    driver = load("tidy", TidyDriverEntry);
    assert_int_equal(tidy.registry_blocks_during_entry, 1);
    assert_int_equal(wdmsim_pool_outstanding_by_tag(REGISTRY_TAG, NULL), 0);
    wdmsim_driver_unload(driver);
}

static void a_driver_that_deletes_what_it_made_unloads_cleanly_on_a_system_thread(void **state)
{
    PDRIVER_OBJECT driver;

    (void)state;
    memset(&tidy, 0, sizeof tidy);
    tidy.unload_irql = HIGH_LEVEL;
    driver = load("tidy", TidyDriverEntry);
    wdmsim_driver_unload(driver);
    assert_int_equal(tidy.unloads, 1);
    assert_non_null(tidy.unload_thread);
    assert_ptr_not_equal(tidy.unload_thread, KeGetCurrentThread());
    assert_int_equal(tidy.unload_irql, PASSIVE_LEVEL);
    assert_int_equal(wdmsim_pool_outstanding_by_driver("tidy", NULL), 0);
    /* The name is free again. */
    driver = load("tidy", TidyDriverEntry);
    wdmsim_driver_unload(driver);
    assert_int_equal(tidy.unloads, 2);
}

static void a_second_driver_with_a_loaded_name_is_refused(void **state)
{
    PDRIVER_OBJECT driver = load("tidy", TidyDriverEntry);
    PDRIVER_OBJECT second = driver;

    (void)state;
    assert_int_equal(wdmsim_driver_load("tidy", TidyDriverEntry, &second), STATUS_OBJECT_NAME_COLLISION);
    assert_null(second);
    assert_int_equal(wdmsim_driver_load("", TidyDriverEntry, &second), STATUS_OBJECT_NAME_INVALID);
    assert_int_equal(wdmsim_driver_load("a\\b", TidyDriverEntry, &second), STATUS_OBJECT_NAME_INVALID);
    wdmsim_driver_unload(driver);
}

/* ---- DriverEntry that fails ---- */

static int failing_unloads;

static VOID NTAPI FailingUnload(PDRIVER_OBJECT DriverObject)
{
    UNREFERENCED_PARAMETER(DriverObject);
    failing_unloads++;
}

static NTSTATUS NTAPI FailingDriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    UNREFERENCED_PARAMETER(RegistryPath);
    DriverObject->DriverUnload = FailingUnload;
    return STATUS_UNSUCCESSFUL;
}

static void a_failed_DriverEntry_is_returned_and_Unload_is_never_called(void **state)
{
    PDRIVER_OBJECT driver = (PDRIVER_OBJECT)1;

    (void)state;
    failing_unloads = 0;
    assert_int_equal(wdmsim_driver_load("failing", FailingDriverEntry, &driver), STATUS_UNSUCCESSFUL);
    assert_null(driver);
    assert_int_equal(failing_unloads, 0);
    /* Nothing of it is left, its name included. */
    assert_int_equal(wdmsim_driver_load("failing", FailingDriverEntry, &driver), STATUS_UNSUCCESSFUL);
}

static NTSTATUS NTAPI DeviceLeavingDriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    UNICODE_STRING name;
    PDEVICE_OBJECT device;

    UNREFERENCED_PARAMETER(RegistryPath);
    RtlInitUnicodeString(&name, L"\\Device\\Abandoned");
    IoCreateDevice(DriverObject, 0, &name, FILE_DEVICE_UNKNOWN, 0, FALSE, &device);
    return STATUS_INSUFFICIENT_RESOURCES;
}

static void fail_leaving_a_device(void *unused)
{
    PDRIVER_OBJECT driver;

    (void)unused;
    wdmsim_driver_load("abandoner", DeviceLeavingDriverEntry, &driver);
}

static void a_failed_DriverEntry_that_leaves_a_device_stops_with_0xCE(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(fail_leaving_a_device, NULL, 0xCE, WDMSIM_ANY_PARAM, "driver.unload_pending_operations",
                        &stop);
    wdmsim_assert_report_has(&stop, "abandoner failed DriverEntry with status 0xC000009A");
    wdmsim_assert_report_has(&stop, "device");
    wdmsim_assert_report_has(&stop, "\\Device\\Abandoned");
}

static NTSTATUS NTAPI PoolLeavingDriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    UNREFERENCED_PARAMETER(DriverObject);
    UNREFERENCED_PARAMETER(RegistryPath);
    ExAllocatePoolWithTag(NonPagedPoolNx, 40, LEAK_TAG);
    return STATUS_UNSUCCESSFUL;
}

static void fail_leaving_pool(void *unused)
{
    PDRIVER_OBJECT driver;

    (void)unused;
    wdmsim_driver_load("spiller", PoolLeavingDriverEntry, &driver);
}

static void a_failed_DriverEntry_that_leaves_pool_stops_with_C4_62(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(fail_leaving_pool, NULL, 0xC4, 0x62, "driver.unload_leaked_pool", &stop);
    assert_int_equal(stop.params[3], 1);
    wdmsim_assert_report_has(&stop, "pool block");
    wdmsim_assert_report_has(&stop, "'Leak'");
    wdmsim_assert_report_has(&stop, "40 bytes");
}

/* ---- The RegistryPath is the I/O manager's ---- */

static PUNICODE_STRING kept_registry_path;

static VOID NTAPI PathFreeingUnload(PDRIVER_OBJECT DriverObject)
{
    UNREFERENCED_PARAMETER(DriverObject);
    ExFreePool(kept_registry_path);
}

static NTSTATUS NTAPI PathKeepingDriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    kept_registry_path = RegistryPath;
    DriverObject->DriverUnload = PathFreeingUnload;
    return STATUS_SUCCESS;
}

static void keep_and_free_the_registry_path(void *unused)
{
    PDRIVER_OBJECT driver = load_in_child("keeper", PathKeepingDriverEntry);

    (void)unused;
    if (driver != NULL)
        wdmsim_driver_unload(driver);
}

static void a_driver_that_kept_the_RegistryPath_holds_freed_pool(void **state)
{
    (void)state;
    wdmsim_assert_stops(keep_and_free_the_registry_path, NULL, 0xC2, WDMSIM_ANY_PARAM, "pool.double_free", NULL);
}

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
    wdmsim_assert_report_has(&stop, "'Leak', PagedPool, 24 bytes");
    wdmsim_assert_report_has(&stop, "'Leak', NonPagedPoolNx, 8 bytes");
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

/* ---- Charging ---- */

static KTIMER charged_timer;
static KDPC charged_dpc;
static KEVENT dpc_ran;
static PVOID dpc_block;

static VOID NTAPI AllocatingDpc(PKDPC Dpc, PVOID Context, PVOID Argument1, PVOID Argument2)
{
    UNREFERENCED_PARAMETER(Dpc);
    UNREFERENCED_PARAMETER(Context);
    UNREFERENCED_PARAMETER(Argument1);
    UNREFERENCED_PARAMETER(Argument2);
    dpc_block = ExAllocatePoolWithTag(NonPagedPoolNx, 16, LEAK_TAG);
    KeSetEvent(&dpc_ran, IO_NO_INCREMENT, FALSE);
}

static VOID NTAPI FreeDpcBlockUnload(PDRIVER_OBJECT DriverObject)
{
    UNREFERENCED_PARAMETER(DriverObject);
    KeCancelTimer(&charged_timer);
    KeFlushQueuedDpcs();
    ExFreePoolWithTag(dpc_block, LEAK_TAG);
}

static NTSTATUS NTAPI TimerDpcDriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    LARGE_INTEGER due = { .QuadPart = -10000LL * 10 };

    UNREFERENCED_PARAMETER(RegistryPath);
    KeInitializeEvent(&dpc_ran, NotificationEvent, FALSE);
    KeInitializeTimer(&charged_timer);
    KeInitializeDpc(&charged_dpc, AllocatingDpc, NULL);
    KeSetTimer(&charged_timer, due, &charged_dpc);
    DriverObject->DriverUnload = FreeDpcBlockUnload;
    return STATUS_SUCCESS;
}

static void a_timer_DPC_runs_charged_to_the_driver_that_initialised_it(void **state)
{
    PDRIVER_OBJECT driver = load("dpcdrv", TimerDpcDriverEntry);

    (void)state;
    KeWaitForSingleObject(&dpc_ran, Executive, KernelMode, FALSE, NULL);
    assert_int_equal(wdmsim_pool_outstanding_by_driver("dpcdrv", NULL), 1);
    assert_int_equal(wdmsim_pool_outstanding_by_driver("", NULL), 0);
    wdmsim_driver_unload(driver);
    assert_int_equal(wdmsim_pool_outstanding_by_driver("dpcdrv", NULL), 0);
}

/* The unload check reads whose code every thread runs while those threads change it. Relaxed
 * atomics, which order nothing, hand the turn over here, so under ThreadSanitizer the two accesses
 * are concurrent as far as it can tell, and a plain access on either side is reported as a race
 * (bench_smoke once caught the reader thread of a pipeline doing it). */
static atomic_bool busy_charged;
static atomic_bool busy_stop;

static void spin_as_driver(void *context)
{
    (void)context;
    atomic_store_explicit(&busy_charged, true, memory_order_relaxed);
    while (!atomic_load_explicit(&busy_stop, memory_order_relaxed))
        ;
}

static void run_as_busy_driver(void *context)
{
    wdmsim_run_as_driver("busy", spin_as_driver, context);
}

static void an_unload_checks_threads_while_they_change_whose_code_they_run(void **state)
{
    struct wdmsim_config real = { .clock = WDMSIM_CLOCK_REAL, .schedule = "free" };
    struct wdmsim_test_thread busy;

    (void)state;
    /* The real clock: the busy thread never blocks, and virtual time would wait for it. */
    wdmsim_boot(&real);
    atomic_store(&busy_charged, false);
    atomic_store(&busy_stop, false);
    wdmsim_test_thread_start(&busy, run_as_busy_driver, NULL);
    while (!atomic_load_explicit(&busy_charged, memory_order_relaxed))
        ;
    tidy.entries = 0;
    wdmsim_driver_unload(load("tidy", TidyDriverEntry));
    atomic_store_explicit(&busy_stop, true, memory_order_relaxed);
    wdmsim_test_thread_join(&busy);
    assert_int_equal(tidy.entries, 1);
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

/* ---- A driver without DriverUnload ---- */

static NTSTATUS NTAPI UnloadlessDriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    UNREFERENCED_PARAMETER(DriverObject);
    UNREFERENCED_PARAMETER(RegistryPath);
    return STATUS_SUCCESS;
}

static void a_driver_without_DriverUnload_stays_loaded(void **state)
{
    PDRIVER_OBJECT driver = load("permanent", UnloadlessDriverEntry);
    PDRIVER_OBJECT again;

    (void)state;
    wdmsim_driver_unload(driver);
    assert_int_equal(wdmsim_driver_load("permanent", UnloadlessDriverEntry, &again), STATUS_OBJECT_NAME_COLLISION);
}

/* ---- A PnP driver ---- */

static struct {
    char log[128];
    PDEVICE_OBJECT pdo;
    bool pdo_is_the_pnp_managers;
    KIRQL start_irql;
    PKTHREAD start_thread;
    NTSTATUS start_status;      /* what START returns */
    bool forget_start;          /* START returns success without completing or passing the IRP on */
} pnp;

typedef struct _PNP_EXTENSION {
    PDEVICE_OBJECT Lower;
} PNP_EXTENSION, *PPNP_EXTENSION;

static void pnp_log(const char *step)
{
    strncat(pnp.log, step, sizeof pnp.log - strlen(pnp.log) - 1);
}

static NTSTATUS NTAPI PnpDispatch(PDEVICE_OBJECT Fdo, PIRP Irp)
{
    PDEVICE_OBJECT lower = ((PPNP_EXTENSION)Fdo->DeviceExtension)->Lower;
    NTSTATUS status;

    switch (IoGetCurrentIrpStackLocation(Irp)->MinorFunction) {
    case IRP_MN_START_DEVICE:
        pnp_log("START ");
        pnp.start_irql = KeGetCurrentIrql();
        pnp.start_thread = KeGetCurrentThread();
        if (pnp.forget_start)
            return STATUS_SUCCESS;
        if (!NT_SUCCESS(pnp.start_status)) {
            Irp->IoStatus.Status = pnp.start_status;
            IoCompleteRequest(Irp, IO_NO_INCREMENT);
            return pnp.start_status;
        }
        IoSkipCurrentIrpStackLocation(Irp);
        return IoCallDriver(lower, Irp);
    case IRP_MN_REMOVE_DEVICE:
        pnp_log("REMOVE ");
        IoSkipCurrentIrpStackLocation(Irp);
        status = IoCallDriver(lower, Irp);
        IoDetachDevice(lower);
        IoDeleteDevice(Fdo);
        return status;
    default:
        IoSkipCurrentIrpStackLocation(Irp);
        return IoCallDriver(lower, Irp);
    }
}

static NTSTATUS NTAPI PnpAddDevice(PDRIVER_OBJECT DriverObject, PDEVICE_OBJECT Pdo)
{
    PDEVICE_OBJECT fdo;
    NTSTATUS status;

    pnp_log("AddDevice ");
    pnp.pdo = Pdo;
    pnp.pdo_is_the_pnp_managers = unicode_equals(&Pdo->DriverObject->DriverName, "\\Driver\\PnpManager");
    status = IoCreateDevice(DriverObject, sizeof(PNP_EXTENSION), NULL, FILE_DEVICE_UNKNOWN, 0, FALSE, &fdo);
    if (!NT_SUCCESS(status))
        return status;
    ((PPNP_EXTENSION)fdo->DeviceExtension)->Lower = IoAttachDeviceToDeviceStack(fdo, Pdo);
    fdo->Flags &= ~DO_DEVICE_INITIALIZING;
    return STATUS_SUCCESS;
}

static VOID NTAPI PnpUnload(PDRIVER_OBJECT DriverObject)
{
    UNREFERENCED_PARAMETER(DriverObject);
    pnp_log("Unload");
}

static NTSTATUS NTAPI PnpDriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    UNREFERENCED_PARAMETER(RegistryPath);
    pnp_log("DriverEntry ");
    DriverObject->DriverExtension->AddDevice = PnpAddDevice;
    DriverObject->DriverUnload = PnpUnload;
    DriverObject->MajorFunction[IRP_MJ_PNP] = PnpDispatch;
    return STATUS_SUCCESS;
}

static void a_PnP_driver_gets_AddDevice_START_then_REMOVE_before_Unload(void **state)
{
    PDRIVER_OBJECT driver;

    (void)state;
    memset(&pnp, 0, sizeof pnp);
    pnp.start_irql = HIGH_LEVEL;
    driver = load("pnpdrv", PnpDriverEntry);
    assert_string_equal(pnp.log, "DriverEntry AddDevice START ");
    assert_true(pnp.pdo_is_the_pnp_managers);
    assert_non_null(pnp.pdo);
    assert_null(pnp.pdo->DeviceExtension);
    assert_int_equal(pnp.start_irql, PASSIVE_LEVEL);
    assert_ptr_not_equal(pnp.start_thread, KeGetCurrentThread());
    assert_non_null(driver->DeviceObject);
    assert_ptr_equal(pnp.pdo->AttachedDevice, driver->DeviceObject);
    wdmsim_driver_unload(driver);
    assert_string_equal(pnp.log, "DriverEntry AddDevice START REMOVE Unload");
}

static void a_PnP_driver_whose_device_fails_to_start_is_removed_and_unloaded(void **state)
{
    PDRIVER_OBJECT driver = (PDRIVER_OBJECT)1;

    (void)state;
    memset(&pnp, 0, sizeof pnp);
    pnp.start_status = STATUS_INSUFFICIENT_RESOURCES;
    assert_int_equal(wdmsim_driver_load("pnpdrv", PnpDriverEntry, &driver), STATUS_INSUFFICIENT_RESOURCES);
    assert_null(driver);
    assert_string_equal(pnp.log, "DriverEntry AddDevice START REMOVE Unload");
}

static void load_a_driver_that_forgets_its_start_irp(void *context)
{
    PDRIVER_OBJECT driver;

    (void)context;
    memset(&pnp, 0, sizeof pnp);
    pnp.forget_start = true;
    wdmsim_driver_load("pnpdrv", PnpDriverEntry, &driver);
}

/* The PnP manager waits for a START that will never complete; it stops instead of hanging. */
static void a_PnP_dispatch_that_neither_completes_nor_pends_START_stops_with_0xC9_0x226(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(load_a_driver_that_forgets_its_start_irp, NULL, 0xC9, 0x226,
                        "io.dispatch_returned_without_completing", &stop);
    assert_non_null(strstr(stop.report, "major function 0x1B"));
}

/* ---- Modules ---- */

static PDRIVER_OBJECT load_module(const char *path, const char *name)
{
    PDRIVER_OBJECT driver = NULL;
    NTSTATUS status = wdmsim_driver_load_module(path, name, &driver);

    if (!NT_SUCCESS(status))
        print_message("wdmsim_driver_load_module(%s) returned 0x%08X\n", path, (unsigned)status);
    assert_int_equal(status, STATUS_SUCCESS);
    return driver;
}

static void two_copies_of_one_module_each_have_their_own_globals(void **state)
{
    PDRIVER_OBJECT first = load_module(COUNTER_MODULE, "counter1");
    PDRIVER_OBJECT second = load_module(COUNTER_MODULE, "counter2");
    LONG *first_count = wdmsim_driver_symbol(first, "LoadCount");
    LONG *second_count = wdmsim_driver_symbol(second, "LoadCount");
    LONG (*bump_first)(VOID) = (LONG (*)(VOID))wdmsim_driver_symbol(first, "CounterBump");

    (void)state;
    assert_non_null(first_count);
    assert_non_null(second_count);
    assert_ptr_not_equal(first_count, second_count);
    assert_int_equal(*first_count, 1);
    assert_int_equal(*second_count, 1);
    assert_int_equal(bump_first(), 2);
    assert_int_equal(*first_count, 2);
    assert_int_equal(*second_count, 1);
    wdmsim_driver_unload(first);
    wdmsim_driver_unload(second);
}

/* The simulator keeps an unloaded module mapped for the next load of its file: that load must
 * still find the module's data as the file has it, not as the last driver left it. */
static void a_module_loaded_again_starts_with_its_globals_as_built(void **state)
{
    PDRIVER_OBJECT driver = load_module(COUNTER_MODULE, "counter");
    LONG (*bump)(VOID) = (LONG (*)(VOID))wdmsim_driver_symbol(driver, "CounterBump");

    (void)state;
    assert_int_equal(bump(), 2);
    assert_int_equal(bump(), 3);
    wdmsim_driver_unload(driver);
    driver = load_module(COUNTER_MODULE, "counter");
    assert_int_equal(*(LONG *)wdmsim_driver_symbol(driver, "LoadCount"), 1);
    assert_non_null(wdmsim_driver_symbol(driver, "DeviceNameCopy"));
    wdmsim_driver_unload(driver);
}

/* Runs fn in a child; true when the child died in it instead of returning (with the default action
 * for a fault: CMocka's handler would carry on with the next case). */
static bool dies_in_child(void (*fn)(void *), void *context)
{
    int status;
    pid_t child = fork();

    if (child == 0) {
        signal(SIGSEGV, SIG_DFL);
        fn(context);
        _exit(0);
    }
    assert_true(child > 0);
    assert_int_equal(waitpid(child, &status, 0), child);
    return !(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void call_bump(void *bump)
{
    ((LONG (*)(VOID))bump)();
}

static void write_count(void *count)
{
    *(volatile LONG *)count = 5;
}

/* As on Windows, where an unloaded driver's image is gone: stale code that calls into it or writes
 * its globals faults instead of running on. */
static void an_unloaded_modules_code_cannot_run_and_its_data_cannot_be_written(void **state)
{
    PDRIVER_OBJECT driver = load_module(COUNTER_MODULE, "counter");
    void *bump = wdmsim_driver_symbol(driver, "CounterBump");
    void *count = wdmsim_driver_symbol(driver, "LoadCount");

    (void)state;
    assert_false(dies_in_child(write_count, count));
    wdmsim_driver_unload(driver);
    assert_true(dies_in_child(call_bump, bump));
    assert_true(dies_in_child(write_count, count));
}

static void a_module_reports_its_image_as_DriverStart_and_DriverSize(void **state)
{
    PDRIVER_OBJECT driver = load_module(COUNTER_MODULE, "counter");
    const char *count = wdmsim_driver_symbol(driver, "LoadCount");
    const char *entry = (const char *)driver->DriverInit;
    const char *start = driver->DriverStart;

    (void)state;
    assert_non_null(start);
    assert_true(entry >= start && entry < start + driver->DriverSize);
    assert_true(count >= start && count < start + driver->DriverSize);
    assert_null(wdmsim_driver_symbol(driver, "NoSuchSymbol"));
    wdmsim_driver_unload(driver);
}

static void a_missing_module_file_is_STATUS_OBJECT_NAME_NOT_FOUND(void **state)
{
    PDRIVER_OBJECT driver = (PDRIVER_OBJECT)1;

    (void)state;
    assert_int_equal(wdmsim_driver_load_module("/nonexistent/driver.so", "ghost", &driver),
                     STATUS_OBJECT_NAME_NOT_FOUND);
    assert_null(driver);
}

static void a_driver_linked_into_the_host_has_no_module_symbols(void **state)
{
    PDRIVER_OBJECT driver = load("tidy", TidyDriverEntry);

    (void)state;
    assert_null(wdmsim_driver_symbol(driver, "LoadCount"));
    assert_null(driver->DriverStart);
    wdmsim_driver_unload(driver);
}

static void load_and_unload_the_init_keeper(void *unused)
{
    PDRIVER_OBJECT driver = NULL;

    (void)unused;
    if (NT_SUCCESS(wdmsim_driver_load_module(INIT_KEEPER_MODULE, "initkeep", &driver)))
        wdmsim_driver_unload(driver);
}

static void INIT_data_read_by_a_dispatch_routine_after_DriverEntry_stops_with_0x50(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(load_and_unload_the_init_keeper, NULL, 0x50, WDMSIM_ANY_PARAM,
                        "driver.init_discarded_touched", &stop);
    assert_int_equal(stop.params[1], 0);
    wdmsim_assert_report_has(&stop, "bytes into the INIT section of initkeep");
    wdmsim_assert_report_has(&stop, "KeeperNameLength");
}

static void peek_at_dispatch_level(void *unused)
{
    PDRIVER_OBJECT driver = NULL;
    ULONG (*peek)(VOID);
    KIRQL irql;

    (void)unused;
    if (!NT_SUCCESS(wdmsim_driver_load_module(INIT_KEEPER_MODULE, "initkeep", &driver)))
        return;
    peek = (ULONG (*)(VOID))wdmsim_driver_symbol(driver, "KeeperNameLength");
    KeRaiseIrql(DISPATCH_LEVEL, &irql);
    peek();
}

static void INIT_data_read_at_DISPATCH_LEVEL_stops_with_0xD1(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(peek_at_dispatch_level, NULL, 0xD1, WDMSIM_ANY_PARAM,
                        "driver.init_discarded_touched_at_dispatch", &stop);
    assert_int_equal(stop.params[1], DISPATCH_LEVEL);
    assert_int_equal(stop.params[2], 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        wdmsim_test(DriverEntry_runs_on_a_system_thread_at_PASSIVE_LEVEL_with_its_names),
        wdmsim_test(devices_created_in_DriverEntry_are_ready_for_opens_when_it_returns),
        wdmsim_test(the_RegistryPath_buffer_is_pool_freed_when_DriverEntry_returns),
        wdmsim_test(a_driver_that_deletes_what_it_made_unloads_cleanly_on_a_system_thread),
        wdmsim_test(a_second_driver_with_a_loaded_name_is_refused),
        wdmsim_test(a_failed_DriverEntry_is_returned_and_Unload_is_never_called),
        wdmsim_test(a_failed_DriverEntry_that_leaves_a_device_stops_with_0xCE),
        wdmsim_test(a_failed_DriverEntry_that_leaves_pool_stops_with_C4_62),
        wdmsim_test(a_driver_that_kept_the_RegistryPath_holds_freed_pool),
        wdmsim_test(an_unload_that_leaves_a_timer_set_stops_with_0xCE),
        wdmsim_test(an_unload_that_leaves_a_system_thread_running_stops_with_0xCE),
        wdmsim_test(an_unload_that_leaves_a_work_item_queued_stops_with_0xCE),
        wdmsim_test(an_unload_while_a_worker_runs_the_drivers_routine_stops_with_0xCE),
        wdmsim_test(an_unload_that_leaves_a_device_stops_with_0xCE),
        wdmsim_test(an_unload_that_leaves_pool_stops_with_C4_62_and_the_block_count),
        wdmsim_test(an_unload_that_keeps_a_reference_stops_with_C4_62),
        wdmsim_test(an_unload_that_keeps_a_handle_open_stops_with_C4_62),
        wdmsim_test(one_stop_lists_every_kind_of_leftover_pending_operations_first),
        wdmsim_test(a_timer_DPC_runs_charged_to_the_driver_that_initialised_it),
        wdmsim_test(an_unload_checks_threads_while_they_change_whose_code_they_run),
        wdmsim_test(an_unload_that_leaves_its_symbolic_link_warns_and_a_reload_collides),
        wdmsim_test(a_driver_without_DriverUnload_stays_loaded),
        wdmsim_test(a_PnP_driver_gets_AddDevice_START_then_REMOVE_before_Unload),
        wdmsim_test(a_PnP_dispatch_that_neither_completes_nor_pends_START_stops_with_0xC9_0x226),
        wdmsim_test(a_PnP_driver_whose_device_fails_to_start_is_removed_and_unloaded),
        wdmsim_test(two_copies_of_one_module_each_have_their_own_globals),
        wdmsim_test(a_module_loaded_again_starts_with_its_globals_as_built),
        wdmsim_test(an_unloaded_modules_code_cannot_run_and_its_data_cannot_be_written),
        wdmsim_test(a_module_reports_its_image_as_DriverStart_and_DriverSize),
        wdmsim_test(a_missing_module_file_is_STATUS_OBJECT_NAME_NOT_FOUND),
        wdmsim_test(a_driver_linked_into_the_host_has_no_module_symbols),
        wdmsim_test(INIT_data_read_by_a_dispatch_routine_after_DriverEntry_stops_with_0x50),
        wdmsim_test(INIT_data_read_at_DISPATCH_LEVEL_stops_with_0xD1),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
