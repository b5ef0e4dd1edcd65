/*
 * printer_module.c - a second DebugPrint user for the scenarios, next to TraceDrv: it traces two
 * lines from DriverEntry (after DebugPrint's own "logging started") and one from Unload. Its name
 * lives in the section INIT, which the loader discards after DriverEntry: DebugPrintInit must copy
 * it, not keep the pointer.
 */
#include <wdm.h>

#include "DebugPrint.h"

DRIVER_INITIALIZE DriverEntry;
static DRIVER_UNLOAD PrinterUnload;

static char PrinterName[] __attribute__((section("INIT"))) = "Printer";

static VOID NTAPI PrinterUnload(PDRIVER_OBJECT DriverObject)
{
    UNREFERENCED_PARAMETER(DriverObject);
    DebugPrintMsg("Printer unloading");
    DebugPrintClose();
}

NTSTATUS NTAPI DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    DebugPrintInit(PrinterName);
    DebugPrint("RegistryPath is %T", RegistryPath);
    DebugPrintMsg("Printer started");
    DriverObject->DriverUnload = PrinterUnload;
    return STATUS_SUCCESS;
}
