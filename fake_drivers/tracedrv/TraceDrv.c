/*
 * TraceDrv.c - a test driver in the spirit of the book's Wdm1: it traces with DebugPrint from
 * DriverEntry, from its dispatch routines (which run in the calling application's process), from a
 * periodic timer's DPC at DISPATCH_LEVEL and from a work item at PASSIVE_LEVEL; Unload stops all
 * of them before DebugPrintClose, so no code of the driver runs after it is unloaded.
 * Locking: BufferLock guards the shared buffer; WorkQueued/WorkIdle make the work item single-shot.
 */
#include <wdm.h>

#include "DebugPrint.h"
#include "TraceDrv.h"

typedef struct _TRACEDRV_EXTENSION {
    KSPIN_LOCK BufferLock;
    UCHAR Buffer[TRACEDRV_BUFFER_SIZE];
    ULONG BufferUsed;
    KTIMER Timer;
    KDPC TimerDpc;
    ULONG Ticks;
    PIO_WORKITEM WorkItem;
    volatile LONG WorkQueued;
    KEVENT WorkIdle;
} TRACEDRV_EXTENSION, *PTRACEDRV_EXTENSION;

DRIVER_INITIALIZE DriverEntry;
static DRIVER_UNLOAD TraceUnload;
static DRIVER_DISPATCH TraceCreateClose;
static DRIVER_DISPATCH TraceRead;
static DRIVER_DISPATCH TraceWrite;
static DRIVER_DISPATCH TraceDeviceControl;
static KDEFERRED_ROUTINE TraceTimerDpc;
static IO_WORKITEM_ROUTINE TraceWorkItem;

static NTSTATUS CompleteIrp(PIRP Irp, NTSTATUS Status, ULONG_PTR Information)
{
    Irp->IoStatus.Status = Status;
    Irp->IoStatus.Information = Information;
    IoCompleteRequest(Irp, IO_NO_INCREMENT);
    return Status;
}

static NTSTATUS NTAPI TraceCreateClose(PDEVICE_OBJECT Device, PIRP Irp)
{
    UNREFERENCED_PARAMETER(Device);
    DebugPrint("%I", Irp);
    return CompleteIrp(Irp, STATUS_SUCCESS, 0);
}

static NTSTATUS NTAPI TraceRead(PDEVICE_OBJECT Device, PIRP Irp)
{
    PTRACEDRV_EXTENSION dx = Device->DeviceExtension;
    ULONG Length = IoGetCurrentIrpStackLocation(Irp)->Parameters.Read.Length;
    KIRQL OldIrql;

    KeAcquireSpinLock(&dx->BufferLock, &OldIrql);
    if (Length > dx->BufferUsed)
        Length = dx->BufferUsed;
    /* A zero-length request has no system buffer, and copying to or from NULL is undefined. */
    if (Length > 0)
        RtlCopyMemory(Irp->AssociatedIrp.SystemBuffer, dx->Buffer, Length);
    KeReleaseSpinLock(&dx->BufferLock, OldIrql);
    DebugPrint("Read %u bytes at IRQL %d", Length, KeGetCurrentIrql());
    return CompleteIrp(Irp, STATUS_SUCCESS, Length);
}

static NTSTATUS NTAPI TraceWrite(PDEVICE_OBJECT Device, PIRP Irp)
{
    PTRACEDRV_EXTENSION dx = Device->DeviceExtension;
    ULONG Length = IoGetCurrentIrpStackLocation(Irp)->Parameters.Write.Length;
    KIRQL OldIrql;

    if (Length > TRACEDRV_BUFFER_SIZE)
        return CompleteIrp(Irp, STATUS_INVALID_PARAMETER, 0);
    KeAcquireSpinLock(&dx->BufferLock, &OldIrql);
    if (Length > 0)
        RtlCopyMemory(dx->Buffer, Irp->AssociatedIrp.SystemBuffer, Length);
    dx->BufferUsed = Length;
    KeReleaseSpinLock(&dx->BufferLock, OldIrql);
    DebugPrint("Write %u bytes: %*s", Length, (int)Length, (const char *)Irp->AssociatedIrp.SystemBuffer);
    return CompleteIrp(Irp, STATUS_SUCCESS, Length);
}

static VOID NTAPI TraceWorkItem(PDEVICE_OBJECT Device, PVOID Context)
{
    PTRACEDRV_EXTENSION dx = Device->DeviceExtension;

    UNREFERENCED_PARAMETER(Context);
    DebugPrint("Work item at IRQL %d", KeGetCurrentIrql());
    /* Idle first, then free to queue again: the other order lets a QueueWork in between clear
     * WorkIdle and queue the item, and this set then tells Unload the queued item is idle. */
    KeSetEvent(&dx->WorkIdle, IO_NO_INCREMENT, FALSE);
    InterlockedExchange(&dx->WorkQueued, 0);
}

static NTSTATUS QueueWork(PTRACEDRV_EXTENSION dx)
{
    if (InterlockedCompareExchange(&dx->WorkQueued, 1, 0) != 0)
        return STATUS_DEVICE_BUSY;
    KeClearEvent(&dx->WorkIdle);
    IoQueueWorkItem(dx->WorkItem, TraceWorkItem, DelayedWorkQueue, NULL);
    return STATUS_SUCCESS;
}

static NTSTATUS NTAPI TraceDeviceControl(PDEVICE_OBJECT Device, PIRP Irp)
{
    PTRACEDRV_EXTENSION dx = Device->DeviceExtension;
    PIO_STACK_LOCATION Stack = IoGetCurrentIrpStackLocation(Irp);
    ULONG Code = Stack->Parameters.DeviceIoControl.IoControlCode;
    KIRQL OldIrql;

    DebugPrint("DeviceIoControl %x", Code);
    switch (Code) {
    case IOCTL_TRACEDRV_ZERO_BUFFER:
        KeAcquireSpinLock(&dx->BufferLock, &OldIrql);
        RtlZeroMemory(dx->Buffer, sizeof dx->Buffer);
        dx->BufferUsed = 0;
        KeReleaseSpinLock(&dx->BufferLock, OldIrql);
        return CompleteIrp(Irp, STATUS_SUCCESS, 0);
    case IOCTL_TRACEDRV_GET_BUFFER_SIZE:
        if (Stack->Parameters.DeviceIoControl.OutputBufferLength < sizeof(ULONG))
            return CompleteIrp(Irp, STATUS_BUFFER_TOO_SMALL, 0);
        *(PULONG)Irp->AssociatedIrp.SystemBuffer = TRACEDRV_BUFFER_SIZE;
        return CompleteIrp(Irp, STATUS_SUCCESS, sizeof(ULONG));
    case IOCTL_TRACEDRV_QUEUE_WORK_ITEM:
        return CompleteIrp(Irp, QueueWork(dx), 0);
    default:
        return CompleteIrp(Irp, STATUS_INVALID_DEVICE_REQUEST, 0);
    }
}

static VOID NTAPI TraceTimerDpc(PKDPC Dpc, PVOID Context, PVOID Argument1, PVOID Argument2)
{
    PTRACEDRV_EXTENSION dx = Context;

    UNREFERENCED_PARAMETER(Dpc);
    UNREFERENCED_PARAMETER(Argument1);
    UNREFERENCED_PARAMETER(Argument2);
    dx->Ticks++;
    DebugPrint("Timer tick %u at IRQL %d", dx->Ticks, KeGetCurrentIrql());
}

static VOID NTAPI TraceUnload(PDRIVER_OBJECT DriverObject)
{
    PDEVICE_OBJECT Device = DriverObject->DeviceObject;
    PTRACEDRV_EXTENSION dx = Device->DeviceExtension;
    UNICODE_STRING LinkName;

    KeCancelTimer(&dx->Timer);
    KeFlushQueuedDpcs();
    KeWaitForSingleObject(&dx->WorkIdle, Executive, KernelMode, FALSE, NULL);
    IoFreeWorkItem(dx->WorkItem);
    RtlInitUnicodeString(&LinkName, TRACEDRV_LINK_NAME);
    IoDeleteSymbolicLink(&LinkName);
    DebugPrint("Unload after %u timer ticks", dx->Ticks);
    IoDeleteDevice(Device);
    DebugPrintClose();
}

static NTSTATUS CreateDevice(PDRIVER_OBJECT DriverObject, PDEVICE_OBJECT *Device)
{
    UNICODE_STRING DeviceName, LinkName;
    NTSTATUS status;

    RtlInitUnicodeString(&DeviceName, TRACEDRV_DEVICE_NAME);
    RtlInitUnicodeString(&LinkName, TRACEDRV_LINK_NAME);
    status = IoCreateDevice(DriverObject, sizeof(TRACEDRV_EXTENSION), &DeviceName, FILE_DEVICE_UNKNOWN, 0, FALSE,
                            Device);
    if (!NT_SUCCESS(status))
        return status;
    status = IoCreateSymbolicLink(&LinkName, &DeviceName);
    if (!NT_SUCCESS(status))
        IoDeleteDevice(*Device);
    return status;
}

static NTSTATUS StartDevice(PDEVICE_OBJECT Device)
{
    PTRACEDRV_EXTENSION dx = Device->DeviceExtension;
    LARGE_INTEGER DueTime;

    KeInitializeSpinLock(&dx->BufferLock);
    KeInitializeEvent(&dx->WorkIdle, NotificationEvent, TRUE);
    dx->WorkItem = IoAllocateWorkItem(Device);
    if (dx->WorkItem == NULL)
        return STATUS_INSUFFICIENT_RESOURCES;
    KeInitializeTimerEx(&dx->Timer, NotificationTimer);
    KeInitializeDpc(&dx->TimerDpc, TraceTimerDpc, dx);
    DueTime.QuadPart = -(LONGLONG)TRACEDRV_TIMER_PERIOD_MS * 10000;
    KeSetTimerEx(&dx->Timer, DueTime, TRACEDRV_TIMER_PERIOD_MS, &dx->TimerDpc);
    Device->Flags |= DO_BUFFERED_IO;
    Device->Flags &= ~DO_DEVICE_INITIALIZING;
    return STATUS_SUCCESS;
}

NTSTATUS NTAPI DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    PDEVICE_OBJECT Device;
    NTSTATUS status;

    DebugPrintInit("TraceDrv");
    DebugPrint("RegistryPath is %T", RegistryPath);
    DriverObject->DriverUnload = TraceUnload;
    DriverObject->MajorFunction[IRP_MJ_CREATE] = TraceCreateClose;
    DriverObject->MajorFunction[IRP_MJ_CLOSE] = TraceCreateClose;
    DriverObject->MajorFunction[IRP_MJ_READ] = TraceRead;
    DriverObject->MajorFunction[IRP_MJ_WRITE] = TraceWrite;
    DriverObject->MajorFunction[IRP_MJ_DEVICE_CONTROL] = TraceDeviceControl;
    status = CreateDevice(DriverObject, &Device);
    if (NT_SUCCESS(status))
        status = StartDevice(Device);
    if (!NT_SUCCESS(status)) {
        if (DriverObject->DeviceObject != NULL) {
            UNICODE_STRING LinkName;

            RtlInitUnicodeString(&LinkName, TRACEDRV_LINK_NAME);
            IoDeleteSymbolicLink(&LinkName);
            IoDeleteDevice(DriverObject->DeviceObject);
        }
        DebugPrintClose();
        return status;
    }
    DebugPrintMsg("DriverEntry completed");
    return STATUS_SUCCESS;
}
