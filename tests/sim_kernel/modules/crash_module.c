/*
 * crash_module.c - a driver whose DriverEntry writes through a NULL pointer, as one that uses a
 * failed allocation unchecked does: test_crash.c loads it and expects the STOP Windows gives.
 */
#include <wdm.h>

DRIVER_INITIALIZE DriverEntry;

/* Volatile, so that the compiler keeps the store instead of a trap of its own. */
static volatile LONG *volatile Counters;

/* Not checked by UBSan, which would report the NULL first and end the process. */
__attribute__((no_sanitize("undefined"))) NTSTATUS NTAPI DriverEntry(PDRIVER_OBJECT DriverObject,
                                                                     PUNICODE_STRING RegistryPath)
{
    UNREFERENCED_PARAMETER(DriverObject);
    UNREFERENCED_PARAMETER(RegistryPath);
    *Counters = 1;
    return STATUS_SUCCESS;
}
