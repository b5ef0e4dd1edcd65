/*
 * test_driver_pnp.c - the PnP manager (driver_pnp.c): a driver with AddDevice gets a root-enumerated
 * PDO, AddDevice, IRP_MN_START_DEVICE, and IRP_MN_REMOVE_DEVICE before DriverUnload; a device that
 * fails to start is removed and its driver unloaded. The PDO's device node: its properties and
 * registry keys, and the STOP for asking them of another device.
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
    void (*in_add_device)(PDEVICE_OBJECT pdo, PDEVICE_OBJECT fdo);  /* runs once the FDO is attached */
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
    if (pnp.in_add_device != NULL)
        pnp.in_add_device(Pdo, fdo);
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

/* ---- The device node ---- */

static struct {
    NTSTATUS description, hardware_id, enumerator, too_small, bus_number, unknown, install_state;
    WCHAR text[64];
    ULONG length, needed, state;
    NTSTATUS open_device, query_device, open_driver, query_driver;
    ULONG tuning;
    WCHAR driver_key[160];
    ULONG driver_key_length;
} node;

static void read_the_device_node(PDEVICE_OBJECT pdo, PDEVICE_OBJECT fdo)
{
    WCHAR small[2];
    UCHAR buffer[256];
    PKEY_VALUE_PARTIAL_INFORMATION value = (PKEY_VALUE_PARTIAL_INFORMATION)buffer;
    PKEY_NAME_INFORMATION name = (PKEY_NAME_INFORMATION)buffer;
    UNICODE_STRING tuning;
    HANDLE key;
    ULONG result;

    (void)fdo;
    node.description = IoGetDeviceProperty(pdo, DevicePropertyDeviceDescription, sizeof node.text, node.text,
                                           &node.length);
    node.hardware_id = IoGetDeviceProperty(pdo, DevicePropertyHardwareID, sizeof node.text, node.text, &node.length);
    node.enumerator = IoGetDeviceProperty(pdo, DevicePropertyEnumeratorName, sizeof small, small, &node.needed);
    node.install_state = IoGetDeviceProperty(pdo, DevicePropertyInstallState, sizeof node.state, &node.state, &result);
    node.bus_number = IoGetDeviceProperty(pdo, DevicePropertyBusNumber, sizeof node.state, &node.state, &result);
    node.unknown = IoGetDeviceProperty(pdo, (DEVICE_REGISTRY_PROPERTY)0x40, 0, NULL, &result);
    node.too_small = IoGetDeviceProperty(pdo, DevicePropertyClassGuid, 4, small, &result);
    RtlInitUnicodeString(&tuning, L"Tuning");
    node.open_device = IoOpenDeviceRegistryKey(pdo, PLUGPLAY_REGKEY_DEVICE, KEY_READ, &key);
    if (NT_SUCCESS(node.open_device)) {
        node.query_device = ZwQueryValueKey(key, &tuning, KeyValuePartialInformation, buffer, sizeof buffer, &result);
        node.tuning = *(PULONG)value->Data;
        ZwClose(key);
    }
    node.open_driver = IoOpenDeviceRegistryKey(pdo, PLUGPLAY_REGKEY_DRIVER, KEY_READ, &key);
    if (NT_SUCCESS(node.open_driver)) {
        node.query_driver = ZwQueryKey(key, KeyNameInformation, buffer, sizeof buffer, &result);
        node.driver_key_length = name->NameLength;
        memcpy(node.driver_key, name->Name, name->NameLength < sizeof node.driver_key ? name->NameLength : 0);
        ZwClose(key);
    }
}

static void AddDevice_reads_its_PDO_properties_and_keys_from_the_device_node(void **state)
{
    PDRIVER_OBJECT driver;

    (void)state;
    memset(&pnp, 0, sizeof pnp);
    pnp.in_add_device = read_the_device_node;
    assert_int_equal(wdmsim_registry_set_dword("\\Registry\\Machine\\System\\CurrentControlSet\\Enum\\ROOT\\"
                                               "PNPNODE\\0000\\Device Parameters", "Tuning", 12), STATUS_SUCCESS);
    driver = load("pnpnode", PnpDriverEntry);
    assert_int_equal(node.description, STATUS_SUCCESS);
    assert_int_equal(node.hardware_id, STATUS_SUCCESS);
    /* A REG_MULTI_SZ: the one hardware ID, then the empty string that ends the list. */
    assert_int_equal(node.length, sizeof L"ROOT\\PNPNODE" + sizeof(WCHAR));
    assert_true(wide_equals(node.text, sizeof L"ROOT\\PNPNODE" - sizeof(WCHAR), "ROOT\\PNPNODE"));
    assert_int_equal(node.enumerator, STATUS_BUFFER_TOO_SMALL);
    assert_int_equal(node.needed, sizeof L"ROOT");
    assert_int_equal(node.install_state, STATUS_SUCCESS);
    assert_int_equal(node.state, InstallStateInstalled);
    assert_int_equal(node.bus_number, STATUS_OBJECT_NAME_NOT_FOUND);
    assert_int_equal(node.unknown, STATUS_INVALID_PARAMETER_2);
    assert_int_equal(node.too_small, STATUS_BUFFER_TOO_SMALL);
    assert_int_equal(node.open_device, STATUS_SUCCESS);
    assert_int_equal(node.query_device, STATUS_SUCCESS);
    assert_int_equal(node.tuning, 12);
    assert_int_equal(node.open_driver, STATUS_SUCCESS);
    assert_int_equal(node.query_driver, STATUS_SUCCESS);
    assert_true(wide_equals(node.driver_key, (USHORT)(strlen("\\REGISTRY\\MACHINE\\SYSTEM\\CurrentControlSet\\Control\\"
                                                              "Class\\{4d36e97d-e325-11ce-bfc1-08002be10318}\\") * 2),
                            "\\REGISTRY\\MACHINE\\SYSTEM\\CurrentControlSet\\Control\\Class\\"
                            "{4d36e97d-e325-11ce-bfc1-08002be10318}\\"));
    wdmsim_driver_unload(driver);
}

static void ask_the_fdo_for_a_property(PDEVICE_OBJECT pdo, PDEVICE_OBJECT fdo)
{
    WCHAR text[32];
    ULONG length;

    (void)pdo;
    IoGetDeviceProperty(fdo, DevicePropertyDeviceDescription, sizeof text, text, &length);
}

static void load_a_driver_that_asks_its_fdo(void *context)
{
    PDRIVER_OBJECT driver;

    (void)context;
    memset(&pnp, 0, sizeof pnp);
    pnp.in_add_device = ask_the_fdo_for_a_property;
    wdmsim_driver_load("pnpfdo", PnpDriverEntry, &driver);
}

static void a_device_property_asked_of_an_FDO_stops_with_INVALID_PDO(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(load_a_driver_that_asks_its_fdo, NULL, 0xCA, 0x2, "pnp.not_a_pdo", &stop);
    wdmsim_assert_report_has(&stop, "IoGetDeviceProperty");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        wdmsim_test(a_PnP_driver_gets_AddDevice_START_then_REMOVE_before_Unload),
        wdmsim_test(a_PnP_dispatch_that_neither_completes_nor_pends_START_stops_with_0xC9_0x226),
        wdmsim_test(a_PnP_driver_whose_device_fails_to_start_is_removed_and_unloaded),
        wdmsim_test(AddDevice_reads_its_PDO_properties_and_keys_from_the_device_node),
        wdmsim_test(a_device_property_asked_of_an_FDO_stops_with_INVALID_PDO),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
