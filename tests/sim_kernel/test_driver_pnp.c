/*
 * test_driver_pnp.c - the PnP manager (driver_pnp.c): a driver with AddDevice gets a root-enumerated
 * PDO, AddDevice, IRP_MN_START_DEVICE, and IRP_MN_REMOVE_DEVICE before DriverUnload; a device that
 * fails to start is removed and its driver unloaded.
 */
#include "wdmsim_test_drivers.h"

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        wdmsim_test(a_PnP_driver_gets_AddDevice_START_then_REMOVE_before_Unload),
        wdmsim_test(a_PnP_dispatch_that_neither_completes_nor_pends_START_stops_with_0xC9_0x226),
        wdmsim_test(a_PnP_driver_whose_device_fails_to_start_is_removed_and_unloaded),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
