/*
 * test_deviface.c - device interfaces: a PnP driver registers one on its PDO in AddDevice and
 * enables it when started, as DebugPrint's driver does; the host finds it by class with
 * wdmsim_device_interfaces() and opens the device through it; disabling (or the device's removal)
 * makes it disappear. The name is pool the driver frees with RtlFreeUnicodeString.
 */
#include <wdmsim/test.h>

#define PNP_DEVICE L"\\Device\\WdmsimPnp"

static const GUID test_class = { 0x53f5630d, 0xb6bf, 0x11d0, { 0x94, 0xf2, 0x00, 0xa0, 0xc9, 0x1e, 0xfb, 0x8b } };
static const GUID other_class = { 0x12345678, 0x9abc, 0xdef0, { 1, 2, 3, 4, 5, 6, 7, 8 } };

static struct {
    BOOLEAN keep_enabled_at_removal;    /* forget to disable: the PnP manager does it */
    PDEVICE_OBJECT pdo;
    PDEVICE_OBJECT fdo;
    PDEVICE_OBJECT lower;
    UNICODE_STRING link;
    NTSTATUS enable_status;
    int creates;
} pnp;

static NTSTATUS NTAPI pnp_create_close(PDEVICE_OBJECT device, PIRP irp)
{
    (void)device;
    if (IoGetCurrentIrpStackLocation(irp)->MajorFunction == IRP_MJ_CREATE)
        pnp.creates++;
    irp->IoStatus.Status = STATUS_SUCCESS;
    IoCompleteRequest(irp, IO_NO_INCREMENT);
    return STATUS_SUCCESS;
}

static NTSTATUS NTAPI pnp_dispatch_pnp(PDEVICE_OBJECT device, PIRP irp)
{
    UCHAR minor = IoGetCurrentIrpStackLocation(irp)->MinorFunction;
    NTSTATUS status;

    if (minor == IRP_MN_REMOVE_DEVICE && !pnp.keep_enabled_at_removal)
        IoSetDeviceInterfaceState(&pnp.link, FALSE);
    IoSkipCurrentIrpStackLocation(irp);
    status = IoCallDriver(pnp.lower, irp);
    if (minor == IRP_MN_START_DEVICE && NT_SUCCESS(status))
        pnp.enable_status = IoSetDeviceInterfaceState(&pnp.link, TRUE);
    if (minor == IRP_MN_REMOVE_DEVICE) {
        RtlFreeUnicodeString(&pnp.link);
        IoDetachDevice(pnp.lower);
        IoDeleteDevice(device);
    }
    return status;
}

static NTSTATUS NTAPI pnp_add_device(PDRIVER_OBJECT driver, PDEVICE_OBJECT pdo)
{
    UNICODE_STRING name;
    NTSTATUS status;

    RtlInitUnicodeString(&name, PNP_DEVICE);
    status = IoCreateDevice(driver, 0, &name, FILE_DEVICE_UNKNOWN, 0, FALSE, &pnp.fdo);
    if (!NT_SUCCESS(status))
        return status;
    status = IoRegisterDeviceInterface(pdo, &test_class, NULL, &pnp.link);
    if (!NT_SUCCESS(status)) {
        IoDeleteDevice(pnp.fdo);
        return status;
    }
    pnp.pdo = pdo;
    pnp.lower = IoAttachDeviceToDeviceStack(pnp.fdo, pdo);
    pnp.fdo->Flags &= ~DO_DEVICE_INITIALIZING;
    return STATUS_SUCCESS;
}

static VOID NTAPI pnp_unload(PDRIVER_OBJECT driver)
{
    (void)driver;
}

static NTSTATUS NTAPI pnp_entry(PDRIVER_OBJECT driver, PUNICODE_STRING registry_path)
{
    (void)registry_path;
    driver->DriverExtension->AddDevice = pnp_add_device;
    driver->DriverUnload = pnp_unload;
    driver->MajorFunction[IRP_MJ_CREATE] = pnp_create_close;
    driver->MajorFunction[IRP_MJ_CLOSE] = pnp_create_close;
    driver->MajorFunction[IRP_MJ_PNP] = pnp_dispatch_pnp;
    return STATUS_SUCCESS;
}

static int setup(void **state)
{
    memset(&pnp, 0, sizeof pnp);
    return wdmsim_test_boot(state);
}

#define deviface_test(fn) cmocka_unit_test_setup_teardown(fn, setup, wdmsim_test_shutdown)

static PDRIVER_OBJECT load_pnp(void)
{
    PDRIVER_OBJECT driver = NULL;

    assert_int_equal(wdmsim_driver_load("pnp", pnp_entry, &driver), STATUS_SUCCESS);
    return driver;
}

static NTSTATUS open_name(PCWSTR name)
{
    UNICODE_STRING string;
    OBJECT_ATTRIBUTES attributes;
    IO_STATUS_BLOCK iosb;
    HANDLE handle;
    NTSTATUS status;

    RtlInitUnicodeString(&string, name);
    InitializeObjectAttributes(&attributes, &string, OBJ_CASE_INSENSITIVE | OBJ_KERNEL_HANDLE, NULL, NULL);
    status = ZwCreateFile(&handle, GENERIC_READ, &attributes, &iosb, NULL, 0, 0, FILE_OPEN, 0, NULL, 0);
    if (NT_SUCCESS(status))
        ZwClose(handle);
    return status;
}

static void utf16_to_ascii(const WCHAR *from, char *to, size_t size)
{
    size_t i;

    for (i = 0; i + 1 < size && from[i] != 0; i++)
        to[i] = (char)from[i];
    to[i] = '\0';
}

static void IoRegisterDeviceInterface_names_the_instance_in_pool_the_driver_frees(void **state)
{
    PDRIVER_OBJECT driver = load_pnp();
    char name[WDMSIM_INTERFACE_NAME_MAX];
    size_t bytes = 0;

    (void)state;
    utf16_to_ascii(pnp.link.Buffer, name, sizeof name);
    assert_string_equal(name, "\\??\\ROOT#SYSTEM#0000#{53f5630d-b6bf-11d0-94f2-00a0c91efb8b}");
    assert_int_equal(pnp.link.Length, strlen(name) * sizeof(WCHAR));
    assert_int_equal(pnp.link.MaximumLength, pnp.link.Length + sizeof(WCHAR));
    assert_int_equal(wdmsim_pool_outstanding_by_tag('iDoI', &bytes), 1);
    assert_int_equal(bytes, pnp.link.MaximumLength);
    wdmsim_driver_unload(driver);
    assert_int_equal(wdmsim_pool_outstanding_by_tag('iDoI', NULL), 0);
}

static void an_enabled_interface_is_listed_by_class_and_opens_the_device_the_driver_named(void **state)
{
    PDRIVER_OBJECT driver = load_pnp();
    struct wdmsim_device_interface found[2];

    (void)state;
    assert_int_equal(pnp.enable_status, STATUS_SUCCESS);
    assert_int_equal(wdmsim_device_interfaces(&test_class, found, 2), 1);
    assert_int_equal(wdmsim_device_interfaces(&other_class, found, 2), 0);
    assert_int_equal(wdmsim_device_interfaces(&test_class, NULL, 0), 1);
    assert_memory_equal(found[0].name, pnp.link.Buffer, pnp.link.MaximumLength);
    assert_int_equal(open_name(found[0].name), STATUS_SUCCESS);
    assert_int_equal(pnp.creates, 1);
    wdmsim_driver_unload(driver);
}

static void a_disabled_interface_disappears_and_no_longer_opens(void **state)
{
    PDRIVER_OBJECT driver = load_pnp();
    struct wdmsim_device_interface found[1];

    (void)state;
    assert_int_equal(wdmsim_device_interfaces(&test_class, found, 1), 1);
    assert_int_equal(IoSetDeviceInterfaceState(&pnp.link, FALSE), STATUS_SUCCESS);
    assert_int_equal(wdmsim_device_interfaces(&test_class, NULL, 0), 0);
    assert_int_equal(open_name(found[0].name), STATUS_OBJECT_NAME_NOT_FOUND);
    assert_int_equal(IoSetDeviceInterfaceState(&pnp.link, FALSE), STATUS_OBJECT_NAME_NOT_FOUND);
    assert_int_equal(IoSetDeviceInterfaceState(&pnp.link, TRUE), STATUS_SUCCESS);
    assert_int_equal(IoSetDeviceInterfaceState(&pnp.link, TRUE), STATUS_OBJECT_NAME_EXISTS);
    assert_int_equal(open_name(found[0].name), STATUS_SUCCESS);
    wdmsim_driver_unload(driver);
    assert_int_equal(wdmsim_device_interfaces(&test_class, NULL, 0), 0);
}

static void registering_again_gives_the_same_name_and_a_reference_string_another(void **state)
{
    PDRIVER_OBJECT driver = load_pnp();
    UNICODE_STRING again, with_reference, reference;
    char name[WDMSIM_INTERFACE_NAME_MAX];

    (void)state;
    RtlInitUnicodeString(&reference, L"second");
    assert_int_equal(IoRegisterDeviceInterface(pnp.pdo, &test_class, NULL, &again), STATUS_SUCCESS);
    assert_true(RtlEqualUnicodeString(&again, &pnp.link, FALSE));
    assert_int_equal(IoRegisterDeviceInterface(pnp.pdo, &test_class, &reference, &with_reference), STATUS_SUCCESS);
    utf16_to_ascii(with_reference.Buffer, name, sizeof name);
    assert_string_equal(name, "\\??\\ROOT#SYSTEM#0000#{53f5630d-b6bf-11d0-94f2-00a0c91efb8b}\\second");
    /* Registered, not enabled: only the first is listed. */
    assert_int_equal(wdmsim_device_interfaces(&test_class, NULL, 0), 1);
    RtlFreeUnicodeString(&again);
    RtlFreeUnicodeString(&with_reference);
    assert_null(again.Buffer);
    assert_int_equal(again.Length, 0);
    wdmsim_driver_unload(driver);
}

static void removing_the_device_disables_an_interface_its_driver_left_enabled(void **state)
{
    PDRIVER_OBJECT driver;
    struct wdmsim_device_interface found[1];

    (void)state;
    pnp.keep_enabled_at_removal = TRUE;
    driver = load_pnp();
    assert_int_equal(wdmsim_device_interfaces(&test_class, found, 1), 1);
    wdmsim_driver_unload(driver);
    assert_int_equal(wdmsim_device_interfaces(&test_class, NULL, 0), 0);
    assert_int_equal(open_name(found[0].name), STATUS_OBJECT_NAME_NOT_FOUND);
}

static void IoSetDeviceInterfaceState_of_an_unknown_name_returns_STATUS_OBJECT_NAME_NOT_FOUND(void **state)
{
    UNICODE_STRING name;

    (void)state;
    RtlInitUnicodeString(&name, L"\\??\\ROOT#SYSTEM#0042#{53f5630d-b6bf-11d0-94f2-00a0c91efb8b}");
    assert_int_equal(IoSetDeviceInterfaceState(&name, TRUE), STATUS_OBJECT_NAME_NOT_FOUND);
}

static void register_at_dispatch_level(void *context)
{
    UNICODE_STRING link;
    KIRQL old;

    (void)context;
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    IoRegisterDeviceInterface(NULL, &test_class, NULL, &link);
}

static void IoRegisterDeviceInterface_above_PASSIVE_LEVEL_stops_with_0xC4_0x2000A(void **state)
{
    (void)state;
    wdmsim_assert_stops(register_at_dispatch_level, NULL, 0xC4, 0x2000A, "io.not_passive", NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        deviface_test(IoRegisterDeviceInterface_names_the_instance_in_pool_the_driver_frees),
        deviface_test(an_enabled_interface_is_listed_by_class_and_opens_the_device_the_driver_named),
        deviface_test(a_disabled_interface_disappears_and_no_longer_opens),
        deviface_test(registering_again_gives_the_same_name_and_a_reference_string_another),
        deviface_test(removing_the_device_disables_an_interface_its_driver_left_enabled),
        deviface_test(IoSetDeviceInterfaceState_of_an_unknown_name_returns_STATUS_OBJECT_NAME_NOT_FOUND),
        deviface_test(IoRegisterDeviceInterface_above_PASSIVE_LEVEL_stops_with_0xC4_0x2000A),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
