/*
 * consumer_driver.c - a driver built outside wdmsim with add_wdmsim_driver() from the installed
 * package: it creates a device named from INIT data in DriverEntry and deletes it in Unload.
 */
#include <wdm.h>

DRIVER_INITIALIZE DriverEntry;
static DRIVER_UNLOAD ConsumerUnload;

static WCHAR ConsumerDeviceName[] __attribute__((section("INIT"))) = L"\\Device\\Consumer";

static VOID NTAPI ConsumerUnload(PDRIVER_OBJECT DriverObject)
{
    IoDeleteDevice(DriverObject->DeviceObject);
}

NTSTATUS NTAPI DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    UNICODE_STRING Name;
    PDEVICE_OBJECT Device;

    UNREFERENCED_PARAMETER(RegistryPath);
    DriverObject->DriverUnload = ConsumerUnload;
    RtlInitUnicodeString(&Name, ConsumerDeviceName);
    return IoCreateDevice(DriverObject, 0, &Name, FILE_DEVICE_UNKNOWN, 0, FALSE, &Device);
}
