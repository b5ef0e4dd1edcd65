/*
 * DebugPrintDriver.c - the receiving DebugPrint driver (chapter 14): \Device\PHDDebugPrint with a
 * device interface. Test drivers write events to it; the Monitor reads them, one event per read.
 * A write queues a copy of the event (bounded; drops counted) or completes the one pending read.
 *
 * Locking: QueueLock guards the event queue, the pending read and the statistics. Unlike the
 * book's driver, the pending read is cancel-safe: whoever clears its cancel routine (a write,
 * Cleanup, or the cancel routine itself, which the I/O manager has cleared) owns and completes
 * it, and a read is queued only after checking Irp->Cancel under the lock. IRPs are completed
 * after the lock is released.
 *
 * A zero-length read has no room for an event: it completes at once with STATUS_SUCCESS and no
 * data, never waits, and leaves every event queued for the next real read (an event handed to it
 * would vanish).
 */
#include <wdm.h>

#include "DbgPrtGUID.h"

#define DBGPRT_TAG 'tPbD'

typedef struct _DBGPRT_EVENT {
    LIST_ENTRY ListEntry;
    ULONG Len;
    UCHAR EventData[1];
} DBGPRT_EVENT, *PDBGPRT_EVENT;

typedef struct _DEVICE_EXTENSION {
    PDEVICE_OBJECT fdo;
    PDEVICE_OBJECT NextStackDevice;
    UNICODE_STRING ifSymLinkName;
    BOOLEAN Started;
    KSPIN_LOCK QueueLock;
    LIST_ENTRY EventList;
    PIRP ReadIrp;
    DBGPRT_STATISTICS Statistics;
} DEVICE_EXTENSION, *PDEVICE_EXTENSION;

DRIVER_INITIALIZE DriverEntry;
static DRIVER_ADD_DEVICE DbpAddDevice;
static DRIVER_UNLOAD DbpUnload;
static DRIVER_DISPATCH DbpCreateClose;
static DRIVER_DISPATCH DbpCleanup;
static DRIVER_DISPATCH DbpRead;
static DRIVER_DISPATCH DbpWrite;
static DRIVER_DISPATCH DbpDeviceControl;
static DRIVER_DISPATCH DbpPnp;
static DRIVER_DISPATCH DbpPassDown;
static DRIVER_CANCEL DbpCancelRead;

static NTSTATUS CompleteIrp(PIRP Irp, NTSTATUS Status, ULONG_PTR Information)
{
    Irp->IoStatus.Status = Status;
    Irp->IoStatus.Information = Information;
    IoCompleteRequest(Irp, IO_NO_INCREMENT);
    return Status;
}

/* Copies an event into a read buffer, truncating it as the book does; frees the event. */
static ULONG CopyEventToRead(PDEVICE_EXTENSION dx, PDBGPRT_EVENT Event, PIRP Irp)
{
    ULONG Room = IoGetCurrentIrpStackLocation(Irp)->Parameters.Read.Length;
    ULONG Count = Event->Len < Room ? Event->Len : Room;

    RtlCopyMemory(Irp->AssociatedIrp.SystemBuffer, Event->EventData, Count);
    dx->Statistics.Read++;
    if (Count < Event->Len)
        dx->Statistics.Truncated++;
    ExFreePoolWithTag(Event, DBGPRT_TAG);
    return Count;
}

static PDBGPRT_EVENT DequeueEvent(PDEVICE_EXTENSION dx)
{
    if (IsListEmpty(&dx->EventList))
        return NULL;
    dx->Statistics.Queued--;
    return CONTAINING_RECORD(RemoveHeadList(&dx->EventList), DBGPRT_EVENT, ListEntry);
}

/* QueueLock held: takes the pending read if nobody else has claimed it; NULL otherwise. */
static PIRP ClaimPendingRead(PDEVICE_EXTENSION dx, PFILE_OBJECT OnlyFor)
{
    PIRP Irp = dx->ReadIrp;

    if (Irp == NULL || (OnlyFor != NULL && IoGetCurrentIrpStackLocation(Irp)->FileObject != OnlyFor))
        return NULL;
    if (IoSetCancelRoutine(Irp, NULL) == NULL)
        return NULL;
    dx->ReadIrp = NULL;
    return Irp;
}

static VOID NTAPI DbpCancelRead(PDEVICE_OBJECT fdo, PIRP Irp)
{
    PDEVICE_EXTENSION dx = fdo->DeviceExtension;
    KIRQL OldIrql;

    IoReleaseCancelSpinLock(Irp->CancelIrql);
    KeAcquireSpinLock(&dx->QueueLock, &OldIrql);
    if (dx->ReadIrp == Irp)
        dx->ReadIrp = NULL;
    KeReleaseSpinLock(&dx->QueueLock, OldIrql);
    CompleteIrp(Irp, STATUS_CANCELLED, 0);
}

static NTSTATUS NTAPI DbpRead(PDEVICE_OBJECT fdo, PIRP Irp)
{
    PDEVICE_EXTENSION dx = fdo->DeviceExtension;
    PDBGPRT_EVENT Event;
    KIRQL OldIrql;
    ULONG Count;

    if (IoGetCurrentIrpStackLocation(Irp)->Parameters.Read.Length == 0)
        return CompleteIrp(Irp, STATUS_SUCCESS, 0);
    KeAcquireSpinLock(&dx->QueueLock, &OldIrql);
    if ((Event = DequeueEvent(dx)) != NULL) {
        Count = CopyEventToRead(dx, Event, Irp);
        KeReleaseSpinLock(&dx->QueueLock, OldIrql);
        return CompleteIrp(Irp, STATUS_SUCCESS, Count);
    }
    if (dx->ReadIrp != NULL || !dx->Started) {
        KeReleaseSpinLock(&dx->QueueLock, OldIrql);
        return CompleteIrp(Irp, STATUS_UNSUCCESSFUL, 0);
    }
    IoSetCancelRoutine(Irp, DbpCancelRead);
    if (Irp->Cancel && IoSetCancelRoutine(Irp, NULL) != NULL) {
        KeReleaseSpinLock(&dx->QueueLock, OldIrql);
        return CompleteIrp(Irp, STATUS_CANCELLED, 0);
    }
    IoMarkIrpPending(Irp);
    dx->ReadIrp = Irp;
    KeReleaseSpinLock(&dx->QueueLock, OldIrql);
    return STATUS_PENDING;
}

static PDBGPRT_EVENT CopyWrite(PIRP Irp, ULONG Length)
{
    PDBGPRT_EVENT Event = ExAllocatePoolWithTag(NonPagedPoolNx, FIELD_OFFSET(DBGPRT_EVENT, EventData) + Length,
                                                DBGPRT_TAG);

    if (Event != NULL) {
        RtlCopyMemory(Event->EventData, Irp->AssociatedIrp.SystemBuffer, Length);
        Event->Len = Length;
    }
    return Event;
}

static NTSTATUS NTAPI DbpWrite(PDEVICE_OBJECT fdo, PIRP Irp)
{
    PDEVICE_EXTENSION dx = fdo->DeviceExtension;
    ULONG Length = IoGetCurrentIrpStackLocation(Irp)->Parameters.Write.Length;
    PDBGPRT_EVENT Event;
    PIRP Reader = NULL;
    ULONG Count = 0;
    KIRQL OldIrql;

    if (Length == 0)
        return CompleteIrp(Irp, STATUS_SUCCESS, 0);
    Event = CopyWrite(Irp, Length);
    KeAcquireSpinLock(&dx->QueueLock, &OldIrql);
    dx->Statistics.Received++;
    if (Event == NULL || dx->Statistics.Queued >= DBGPRT_MAX_QUEUED) {
        dx->Statistics.Dropped++;
        KeReleaseSpinLock(&dx->QueueLock, OldIrql);
        if (Event != NULL)
            ExFreePoolWithTag(Event, DBGPRT_TAG);
        return CompleteIrp(Irp, Event == NULL ? STATUS_INSUFFICIENT_RESOURCES : STATUS_SUCCESS, Length);
    }
    InsertTailList(&dx->EventList, &Event->ListEntry);
    dx->Statistics.Queued++;
    if ((Reader = ClaimPendingRead(dx, NULL)) != NULL)
        Count = CopyEventToRead(dx, DequeueEvent(dx), Reader);
    KeReleaseSpinLock(&dx->QueueLock, OldIrql);
    if (Reader != NULL)
        CompleteIrp(Reader, STATUS_SUCCESS, Count);
    return CompleteIrp(Irp, STATUS_SUCCESS, Length);
}

static NTSTATUS NTAPI DbpCleanup(PDEVICE_OBJECT fdo, PIRP Irp)
{
    PDEVICE_EXTENSION dx = fdo->DeviceExtension;
    PIRP Reader;
    KIRQL OldIrql;

    KeAcquireSpinLock(&dx->QueueLock, &OldIrql);
    Reader = ClaimPendingRead(dx, IoGetCurrentIrpStackLocation(Irp)->FileObject);
    KeReleaseSpinLock(&dx->QueueLock, OldIrql);
    if (Reader != NULL)
        CompleteIrp(Reader, STATUS_CANCELLED, 0);
    return CompleteIrp(Irp, STATUS_SUCCESS, 0);
}

static NTSTATUS NTAPI DbpCreateClose(PDEVICE_OBJECT fdo, PIRP Irp)
{
    UNREFERENCED_PARAMETER(fdo);
    return CompleteIrp(Irp, STATUS_SUCCESS, 0);
}

static NTSTATUS NTAPI DbpDeviceControl(PDEVICE_OBJECT fdo, PIRP Irp)
{
    PDEVICE_EXTENSION dx = fdo->DeviceExtension;
    PIO_STACK_LOCATION Stack = IoGetCurrentIrpStackLocation(Irp);
    KIRQL OldIrql;

    if (Stack->Parameters.DeviceIoControl.IoControlCode != IOCTL_DEBUGPRINT_GET_STATISTICS)
        return CompleteIrp(Irp, STATUS_SUCCESS, 0);
    if (Stack->Parameters.DeviceIoControl.OutputBufferLength < sizeof(DBGPRT_STATISTICS))
        return CompleteIrp(Irp, STATUS_BUFFER_TOO_SMALL, 0);
    KeAcquireSpinLock(&dx->QueueLock, &OldIrql);
    RtlCopyMemory(Irp->AssociatedIrp.SystemBuffer, &dx->Statistics, sizeof(DBGPRT_STATISTICS));
    KeReleaseSpinLock(&dx->QueueLock, OldIrql);
    return CompleteIrp(Irp, STATUS_SUCCESS, sizeof(DBGPRT_STATISTICS));
}

/* ---- Plug and Play ---- */

static NTSTATUS NTAPI DbpPassDown(PDEVICE_OBJECT fdo, PIRP Irp)
{
    PDEVICE_EXTENSION dx = fdo->DeviceExtension;

    IoSkipCurrentIrpStackLocation(Irp);
    return IoCallDriver(dx->NextStackDevice, Irp);
}

/* Removal: refuse further reads, cancel the pending one, free what is queued. */
static VOID ClearQueues(PDEVICE_EXTENSION dx)
{
    PDBGPRT_EVENT Event;
    PIRP Reader;
    KIRQL OldIrql;

    KeAcquireSpinLock(&dx->QueueLock, &OldIrql);
    dx->Started = FALSE;
    Reader = ClaimPendingRead(dx, NULL);
    while ((Event = DequeueEvent(dx)) != NULL) {
        dx->Statistics.Cleared++;
        ExFreePoolWithTag(Event, DBGPRT_TAG);
    }
    KeReleaseSpinLock(&dx->QueueLock, OldIrql);
    if (Reader != NULL)
        CompleteIrp(Reader, STATUS_CANCELLED, 0);
}

static NTSTATUS StartDevice(PDEVICE_OBJECT fdo, PIRP Irp)
{
    PDEVICE_EXTENSION dx = fdo->DeviceExtension;
    NTSTATUS status;

    IoSkipCurrentIrpStackLocation(Irp);
    status = IoCallDriver(dx->NextStackDevice, Irp);
    if (NT_SUCCESS(status)) {
        dx->Started = TRUE;
        IoSetDeviceInterfaceState(&dx->ifSymLinkName, TRUE);
    }
    return status;
}

static NTSTATUS RemoveDevice(PDEVICE_OBJECT fdo, PIRP Irp)
{
    PDEVICE_EXTENSION dx = fdo->DeviceExtension;
    NTSTATUS status;

    IoSetDeviceInterfaceState(&dx->ifSymLinkName, FALSE);
    ClearQueues(dx);
    Irp->IoStatus.Status = STATUS_SUCCESS;
    IoSkipCurrentIrpStackLocation(Irp);
    status = IoCallDriver(dx->NextStackDevice, Irp);
    RtlFreeUnicodeString(&dx->ifSymLinkName);
    IoDetachDevice(dx->NextStackDevice);
    IoDeleteDevice(fdo);
    return status;
}

static NTSTATUS NTAPI DbpPnp(PDEVICE_OBJECT fdo, PIRP Irp)
{
    switch (IoGetCurrentIrpStackLocation(Irp)->MinorFunction) {
    case IRP_MN_START_DEVICE:
        return StartDevice(fdo, Irp);
    case IRP_MN_REMOVE_DEVICE:
        return RemoveDevice(fdo, Irp);
    default:
        return DbpPassDown(fdo, Irp);
    }
}

static NTSTATUS NTAPI DbpAddDevice(PDRIVER_OBJECT DriverObject, PDEVICE_OBJECT pdo)
{
    static const GUID InterfaceGuid = DEBUGPRINT_GUID_INIT;
    UNICODE_STRING DeviceName;
    PDEVICE_OBJECT fdo;
    PDEVICE_EXTENSION dx;
    NTSTATUS status;

    RtlInitUnicodeString(&DeviceName, L"\\Device\\PHDDebugPrint");
    status = IoCreateDevice(DriverObject, sizeof(DEVICE_EXTENSION), &DeviceName, FILE_DEVICE_UNKNOWN, 0, FALSE,
                            &fdo);
    if (!NT_SUCCESS(status))
        return status;
    dx = fdo->DeviceExtension;
    dx->fdo = fdo;
    KeInitializeSpinLock(&dx->QueueLock);
    InitializeListHead(&dx->EventList);
    status = IoRegisterDeviceInterface(pdo, &InterfaceGuid, NULL, &dx->ifSymLinkName);
    if (!NT_SUCCESS(status)) {
        IoDeleteDevice(fdo);
        return status;
    }
    dx->NextStackDevice = IoAttachDeviceToDeviceStack(fdo, pdo);
    fdo->Flags |= DO_BUFFERED_IO;
    fdo->Flags &= ~DO_DEVICE_INITIALIZING;
    return STATUS_SUCCESS;
}

static VOID NTAPI DbpUnload(PDRIVER_OBJECT DriverObject)
{
    UNREFERENCED_PARAMETER(DriverObject);
}

NTSTATUS NTAPI DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    UNREFERENCED_PARAMETER(RegistryPath);
    DriverObject->DriverExtension->AddDevice = DbpAddDevice;
    DriverObject->DriverUnload = DbpUnload;
    DriverObject->MajorFunction[IRP_MJ_CREATE] = DbpCreateClose;
    DriverObject->MajorFunction[IRP_MJ_CLOSE] = DbpCreateClose;
    DriverObject->MajorFunction[IRP_MJ_CLEANUP] = DbpCleanup;
    DriverObject->MajorFunction[IRP_MJ_READ] = DbpRead;
    DriverObject->MajorFunction[IRP_MJ_WRITE] = DbpWrite;
    DriverObject->MajorFunction[IRP_MJ_DEVICE_CONTROL] = DbpDeviceControl;
    DriverObject->MajorFunction[IRP_MJ_PNP] = DbpPnp;
    DriverObject->MajorFunction[IRP_MJ_POWER] = DbpPassDown;
    DriverObject->MajorFunction[IRP_MJ_SYSTEM_CONTROL] = DbpPassDown;
    return STATUS_SUCCESS;
}
