/*
 * test_devlookup.c - a driver finding another's device by name: IoGetDeviceObjectPointer opens it
 * (the target sees CREATE, and CLEANUP as the handle is closed again), returns the file object
 * referenced and the top of the device's stack (IoGetRelatedDeviceObject), and the caller's
 * ObDereferenceObject sends CLOSE; a reference never dropped is found at unload.
 */
#include <wdm.h>

#include <wdmsim/test.h>

#define TARGET_DEVICE L"\\Device\\WdmsimTarget"

static struct {
    PDEVICE_OBJECT device;          /* the named one */
    PDEVICE_OBJECT filter;          /* attached over it, unnamed */
    LONG creates, cleanups, closes;
} target;

static NTSTATUS NTAPI target_dispatch(PDEVICE_OBJECT device, PIRP irp)
{
    UCHAR major = IoGetCurrentIrpStackLocation(irp)->MajorFunction;

    if (device == target.filter) {
        IoSkipCurrentIrpStackLocation(irp);
        return IoCallDriver(target.device, irp);
    }
    if (major == IRP_MJ_CREATE)
        InterlockedIncrement(&target.creates);
    else if (major == IRP_MJ_CLEANUP)
        InterlockedIncrement(&target.cleanups);
    else if (major == IRP_MJ_CLOSE)
        InterlockedIncrement(&target.closes);
    irp->IoStatus.Status = STATUS_SUCCESS;
    IoCompleteRequest(irp, IO_NO_INCREMENT);
    return STATUS_SUCCESS;
}

static VOID NTAPI target_unload(PDRIVER_OBJECT driver)
{
    (void)driver;
    IoDetachDevice(target.device);
    IoDeleteDevice(target.filter);
    IoDeleteDevice(target.device);
}

static NTSTATUS NTAPI target_entry(PDRIVER_OBJECT driver, PUNICODE_STRING registry_path)
{
    UNICODE_STRING name;

    (void)registry_path;
    for (int i = 0; i <= IRP_MJ_MAXIMUM_FUNCTION; i++)
        driver->MajorFunction[i] = target_dispatch;
    driver->DriverUnload = target_unload;
    RtlInitUnicodeString(&name, TARGET_DEVICE);
    if (!NT_SUCCESS(IoCreateDevice(driver, 0, &name, FILE_DEVICE_UNKNOWN, 0, FALSE, &target.device)))
        return STATUS_UNSUCCESSFUL;
    if (!NT_SUCCESS(IoCreateDevice(driver, 0, NULL, FILE_DEVICE_UNKNOWN, 0, FALSE, &target.filter))) {
        IoDeleteDevice(target.device);
        return STATUS_UNSUCCESSFUL;
    }
    IoAttachDeviceToDeviceStack(target.filter, target.device);
    target.device->Flags &= ~DO_DEVICE_INITIALIZING;
    target.filter->Flags &= ~DO_DEVICE_INITIALIZING;
    return STATUS_SUCCESS;
}

static PDRIVER_OBJECT target_driver;

static int setup(void **state)
{
    memset(&target, 0, sizeof target);
    wdmsim_test_boot(state);
    assert_int_equal(wdmsim_driver_load("target", target_entry, &target_driver), STATUS_SUCCESS);
    return 0;
}

static int teardown(void **state)
{
    wdmsim_driver_unload(target_driver);
    return wdmsim_test_shutdown(state);
}

#define devlookup_test(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

static void IoGetDeviceObjectPointer_returns_a_referenced_file_and_the_top_of_the_devices_stack(void **state)
{
    UNICODE_STRING name;
    PFILE_OBJECT file = NULL;
    PDEVICE_OBJECT device = NULL;

    (void)state;
    RtlInitUnicodeString(&name, TARGET_DEVICE);
    assert_int_equal(IoGetDeviceObjectPointer(&name, FILE_READ_DATA, &file, &device), STATUS_SUCCESS);
    assert_ptr_equal(device, target.filter);
    assert_ptr_equal(file->DeviceObject, target.device);
    assert_ptr_equal(IoGetRelatedDeviceObject(file), target.filter);
    /* Opened through the stack, and the handle closed again: the file lives on by its reference. */
    assert_int_equal(target.creates, 1);
    assert_int_equal(target.cleanups, 1);
    assert_int_equal(target.closes, 0);
    ObDereferenceObject(file);
    assert_int_equal(target.closes, 1);
}

static void IoGetDeviceObjectPointer_on_a_name_nobody_has_fails_with_STATUS_OBJECT_NAME_NOT_FOUND(void **state)
{
    UNICODE_STRING name;
    PFILE_OBJECT file = NULL;
    PDEVICE_OBJECT device = NULL;

    (void)state;
    RtlInitUnicodeString(&name, L"\\Device\\WdmsimNobody");
    assert_int_equal(IoGetDeviceObjectPointer(&name, FILE_READ_DATA, &file, &device), STATUS_OBJECT_NAME_NOT_FOUND);
    assert_null(file);
    assert_null(device);
}

/* ---- Stops ---- */

static PFILE_OBJECT kept_file;

static VOID NTAPI keeper_unload(PDRIVER_OBJECT driver)
{
    (void)driver;
}

static NTSTATUS NTAPI keeper_entry(PDRIVER_OBJECT driver, PUNICODE_STRING registry_path)
{
    UNICODE_STRING name;
    PDEVICE_OBJECT device;

    (void)registry_path;
    driver->DriverUnload = keeper_unload;
    RtlInitUnicodeString(&name, TARGET_DEVICE);
    return IoGetDeviceObjectPointer(&name, FILE_READ_DATA, &kept_file, &device);
}

static void unload_keeping_the_file(void *context)
{
    PDRIVER_OBJECT driver;

    (void)context;
    memset(&target, 0, sizeof target);
    if (!NT_SUCCESS(wdmsim_driver_load("target", target_entry, &driver)))
        return;
    if (NT_SUCCESS(wdmsim_driver_load("keeper", keeper_entry, &driver)))
        wdmsim_driver_unload(driver);
}

static void a_file_reference_never_dropped_is_a_leak_at_unload(void **state)
{
    (void)state;
    wdmsim_assert_stops(unload_keeping_the_file, NULL, 0xC4, 0x62, "driver.unload_leaked_references", NULL);
}

static void look_up_at_dispatch(void *context)
{
    UNICODE_STRING name;
    PFILE_OBJECT file;
    PDEVICE_OBJECT device;
    KIRQL old;

    (void)context;
    RtlInitUnicodeString(&name, TARGET_DEVICE);
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    IoGetDeviceObjectPointer(&name, FILE_READ_DATA, &file, &device);
}

static void IoGetDeviceObjectPointer_above_PASSIVE_LEVEL_stops_with_IrqlIoPassive5(void **state)
{
    (void)state;
    wdmsim_assert_stops(look_up_at_dispatch, NULL, 0xC4, 0x2000E, "io.device_pointer_not_passive", NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        devlookup_test(IoGetDeviceObjectPointer_returns_a_referenced_file_and_the_top_of_the_devices_stack),
        devlookup_test(IoGetDeviceObjectPointer_on_a_name_nobody_has_fails_with_STATUS_OBJECT_NAME_NOT_FOUND),
        cmocka_unit_test(a_file_reference_never_dropped_is_a_leak_at_unload),
        cmocka_unit_test(IoGetDeviceObjectPointer_above_PASSIVE_LEVEL_stops_with_IrqlIoPassive5),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
