/*
 * counter_module.c - a tidy legacy driver built as a module for test_driver.c: each loaded copy
 * has its own globals (LoadCount, a device name kept in pool), and its section INIT holds data
 * that only DriverEntry uses, so discarding INIT costs it nothing.
 */
#include <wdm.h>

#define COUNTER_TAG 'tnoC'

DRIVER_INITIALIZE DriverEntry;
static DRIVER_UNLOAD CounterUnload;

/* Only DriverEntry reads it: it copies what it needs into pool. */
static WCHAR DeviceNamePrefix[] __attribute__((section("INIT"))) = L"\\Device\\Counter";

LONG LoadCount;
PWCHAR DeviceNameCopy;

/* Host code calls it through wdmsim_driver_symbol(): one copy's count moves, not the other's. */
LONG CounterBump(VOID)
{
    return InterlockedIncrement(&LoadCount);
}

static VOID NTAPI CounterUnload(PDRIVER_OBJECT DriverObject)
{
    UNREFERENCED_PARAMETER(DriverObject);
    ExFreePoolWithTag(DeviceNameCopy, COUNTER_TAG);
    DeviceNameCopy = NULL;
}

NTSTATUS NTAPI DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    UNREFERENCED_PARAMETER(RegistryPath);
    DeviceNameCopy = ExAllocatePoolWithTag(NonPagedPoolNx, sizeof DeviceNamePrefix, COUNTER_TAG);
    if (DeviceNameCopy == NULL)
        return STATUS_INSUFFICIENT_RESOURCES;
    RtlCopyMemory(DeviceNameCopy, DeviceNamePrefix, sizeof DeviceNamePrefix);
    InterlockedIncrement(&LoadCount);
    DriverObject->DriverUnload = CounterUnload;
    return STATUS_SUCCESS;
}
