/*
 * lockorder_module.c - a driver built as a module for test_lockorder.c: two spin locks its
 * DriverEntry initialises, taken in either order by routines host code calls through
 * wdmsim_driver_symbol(). Loaded again from the same file it lands at the same address, so its
 * locks' classes would be the old copy's if the unload had not forgotten them.
 */
#include <wdm.h>

DRIVER_INITIALIZE DriverEntry;
static DRIVER_UNLOAD OrderUnload;

KSPIN_LOCK QueueLock;
KSPIN_LOCK DeviceLock;

VOID OrderQueueThenDevice(VOID);
VOID OrderDeviceThenQueue(VOID);

static VOID Nest(PKSPIN_LOCK Outer, PKSPIN_LOCK Inner)
{
    KIRQL OuterIrql;

    KeAcquireSpinLock(Outer, &OuterIrql);
    KeAcquireSpinLockAtDpcLevel(Inner);
    KeReleaseSpinLockFromDpcLevel(Inner);
    KeReleaseSpinLock(Outer, OuterIrql);
}

VOID OrderQueueThenDevice(VOID)
{
    Nest(&QueueLock, &DeviceLock);
}

VOID OrderDeviceThenQueue(VOID)
{
    Nest(&DeviceLock, &QueueLock);
}

static VOID NTAPI OrderUnload(PDRIVER_OBJECT DriverObject)
{
    UNREFERENCED_PARAMETER(DriverObject);
}

NTSTATUS NTAPI DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    UNREFERENCED_PARAMETER(RegistryPath);
    KeInitializeSpinLock(&QueueLock);
    KeInitializeSpinLock(&DeviceLock);
    DriverObject->DriverUnload = OrderUnload;
    return STATUS_SUCCESS;
}
