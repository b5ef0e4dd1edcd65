/*
 * BenchDrv.c - the smallest driver that traces with the DebugPrint core: DriverEntry starts
 * logging, Unload ends it. The benchmark calls DebugPrintMsg in this module as the driver's own
 * code. Pure WDM code.
 */
#include <wdm.h>

#include "DebugPrint.h"

DRIVER_INITIALIZE DriverEntry;
static DRIVER_UNLOAD BenchUnload;

static VOID NTAPI BenchUnload(PDRIVER_OBJECT DriverObject)
{
    UNREFERENCED_PARAMETER(DriverObject);
    DebugPrintClose();
}

NTSTATUS NTAPI DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    UNREFERENCED_PARAMETER(RegistryPath);
    DriverObject->DriverUnload = BenchUnload;
    DebugPrintInit("BenchDrv");
    return STATUS_SUCCESS;
}
