/*
 * init_keeper_module.c - the classic INIT mistake, as a PnP driver module for test_driver.c: its
 * DriverEntry keeps a pointer to a name in its section INIT instead of copying it, and its
 * IRP_MN_REMOVE_DEVICE handler reads the name long after the loader discarded INIT.
 */
#include <wdm.h>

DRIVER_INITIALIZE DriverEntry;
static DRIVER_ADD_DEVICE KeeperAddDevice;
static DRIVER_DISPATCH KeeperPnp;
static DRIVER_UNLOAD KeeperUnload;

typedef struct _KEEPER_EXTENSION {
    PDEVICE_OBJECT Lower;
} KEEPER_EXTENSION, *PKEEPER_EXTENSION;

static WCHAR KeeperName[] __attribute__((section("INIT"))) = L"InitKeeper";

/* The bug: a pointer into INIT, where a copy in pool was needed. */
PCWSTR KeptName;

/* Any IRQL: the length of the kept name, read through the kept pointer. Never inlined, so the
 * STOP's backtrace names it in optimised builds too (the fuzz preset's clang -O2 would). */
__attribute__((noinline)) ULONG KeeperNameLength(VOID)
{
    ULONG Length = 0;

    while (KeptName[Length] != 0)
        Length++;
    return Length;
}

static NTSTATUS NTAPI KeeperPnp(PDEVICE_OBJECT Fdo, PIRP Irp)
{
    PKEEPER_EXTENSION dx = Fdo->DeviceExtension;
    PDEVICE_OBJECT Lower = dx->Lower;
    NTSTATUS status;

    if (IoGetCurrentIrpStackLocation(Irp)->MinorFunction != IRP_MN_REMOVE_DEVICE) {
        IoSkipCurrentIrpStackLocation(Irp);
        return IoCallDriver(Lower, Irp);
    }
    Irp->IoStatus.Information = KeeperNameLength();
    IoSkipCurrentIrpStackLocation(Irp);
    status = IoCallDriver(Lower, Irp);
    IoDetachDevice(Lower);
    IoDeleteDevice(Fdo);
    return status;
}

static NTSTATUS NTAPI KeeperAddDevice(PDRIVER_OBJECT DriverObject, PDEVICE_OBJECT Pdo)
{
    PDEVICE_OBJECT Fdo;
    NTSTATUS status;

    status = IoCreateDevice(DriverObject, sizeof(KEEPER_EXTENSION), NULL, FILE_DEVICE_UNKNOWN, 0, FALSE, &Fdo);
    if (!NT_SUCCESS(status))
        return status;
    ((PKEEPER_EXTENSION)Fdo->DeviceExtension)->Lower = IoAttachDeviceToDeviceStack(Fdo, Pdo);
    Fdo->Flags &= ~DO_DEVICE_INITIALIZING;
    return STATUS_SUCCESS;
}

static VOID NTAPI KeeperUnload(PDRIVER_OBJECT DriverObject)
{
    UNREFERENCED_PARAMETER(DriverObject);
}

NTSTATUS NTAPI DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    UNREFERENCED_PARAMETER(RegistryPath);
    KeptName = KeeperName;
    DriverObject->DriverExtension->AddDevice = KeeperAddDevice;
    DriverObject->DriverUnload = KeeperUnload;
    DriverObject->MajorFunction[IRP_MJ_PNP] = KeeperPnp;
    return STATUS_SUCCESS;
}
