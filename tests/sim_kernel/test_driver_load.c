/*
 * test_driver_load.c - load and unload (driver_load.c): DriverEntry and DriverUnload run on System
 * threads at PASSIVE_LEVEL with the names the I/O manager gives, a failed DriverEntry is never
 * unloaded (but must leave nothing), the RegistryPath is freed pool once DriverEntry returns, and
 * a driver without DriverUnload stays loaded.
 */
#include "wdmsim_test_drivers.h"

#define REGISTRY_TAG 'PgeR'     /* the I/O manager's tag for the RegistryPath buffer */

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
        wdmsim_test(a_driver_without_DriverUnload_stays_loaded),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
