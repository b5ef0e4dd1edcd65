/*
 * race_lessons.c - the DebugPrint driver's race, from the book: a read pends until an event
 * arrives (here: a write), and the application's thread may end meanwhile, which cancels the read.
 * The write path takes the pending read and completes it; the mistake is to ignore what
 * IoSetCancelRoutine returns. NULL means the I/O manager has already taken the cancel routine to
 * call it, so the cancel routine completes the read too: one read, completed twice. It happens
 * only when the cancel falls between the two, so the lesson's scenario is run by the explorer under
 * many schedules. The fixed twin leaves the read to the cancel routine when IoSetCancelRoutine
 * returns NULL.
 */
#include "lessons.h"

#define LESSON_READ_DEVICE L"\\Device\\WdmsimLessonRead"

static KSPIN_LOCK LessonReadLock;       /* guards LessonPendingRead */
static PIRP LessonPendingRead;
static BOOLEAN LessonReadFixed;         /* the fixed twin is loaded */

static NTSTATUS LessonCompleteRead(PIRP Irp, NTSTATUS Status, ULONG_PTR Information)
{
    Irp->IoStatus.Status = Status;
    Irp->IoStatus.Information = Information;
    IoCompleteRequest(Irp, IO_NO_INCREMENT);
    return Status;
}

DRIVER_CANCEL LessonCancelRead;

VOID NTAPI LessonCancelRead(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    KIRQL OldIrql;

    UNREFERENCED_PARAMETER(DeviceObject);
    IoReleaseCancelSpinLock(Irp->CancelIrql);
    KeAcquireSpinLock(&LessonReadLock, &OldIrql);
    if (LessonPendingRead == Irp)
        LessonPendingRead = NULL;
    KeReleaseSpinLock(&LessonReadLock, OldIrql);
    LessonCompleteRead(Irp, STATUS_CANCELLED, 0);
}

static NTSTATUS LessonPendRead(PIRP Irp)
{
    KIRQL OldIrql;

    KeAcquireSpinLock(&LessonReadLock, &OldIrql);
    IoSetCancelRoutine(Irp, LessonCancelRead);
    if (Irp->Cancel && IoSetCancelRoutine(Irp, NULL) != NULL) {
        KeReleaseSpinLock(&LessonReadLock, OldIrql);
        return LessonCompleteRead(Irp, STATUS_CANCELLED, 0);
    }
    IoMarkIrpPending(Irp);
    LessonPendingRead = Irp;
    KeReleaseSpinLock(&LessonReadLock, OldIrql);
    return STATUS_PENDING;
}

/* An event arrived: it completes the pending read, if there is one. */
static VOID LessonCompletePendingRead(PVOID Data, ULONG Length)
{
    PIRP Read;
    KIRQL OldIrql;
    ULONG Copied;

    KeAcquireSpinLock(&LessonReadLock, &OldIrql);
    Read = LessonPendingRead;
    LessonPendingRead = NULL;
    KeReleaseSpinLock(&LessonReadLock, OldIrql);
    if (Read == NULL)
        return;
    if (LessonReadFixed) {
        /* The fix: NULL means the cancel routine is about to run, and it completes the read. */
        if (IoSetCancelRoutine(Read, NULL) == NULL)
            return;
    } else {
        IoSetCancelRoutine(Read, NULL);     /* the mistake: what it returns is ignored */
    }
    Copied = IoGetCurrentIrpStackLocation(Read)->Parameters.Read.Length;
    if (Copied > Length)
        Copied = Length;
    RtlCopyMemory(Read->AssociatedIrp.SystemBuffer, Data, Copied);
    LessonCompleteRead(Read, STATUS_SUCCESS, Copied);
}

DRIVER_DISPATCH LessonReadDispatch;

NTSTATUS NTAPI LessonReadDispatch(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PIO_STACK_LOCATION Stack = IoGetCurrentIrpStackLocation(Irp);

    UNREFERENCED_PARAMETER(DeviceObject);
    switch (Stack->MajorFunction) {
    case IRP_MJ_READ:
        return LessonPendRead(Irp);
    case IRP_MJ_WRITE:
        LessonCompletePendingRead(Irp->AssociatedIrp.SystemBuffer, Stack->Parameters.Write.Length);
        return LessonCompleteRead(Irp, STATUS_SUCCESS, Stack->Parameters.Write.Length);
    default:
        return LessonCompleteRead(Irp, STATUS_SUCCESS, 0);
    }
}

static VOID NTAPI LessonReadUnload(PDRIVER_OBJECT DriverObject)
{
    UNICODE_STRING Link;

    RtlInitUnicodeString(&Link, LESSON_READ_LINK);
    IoDeleteSymbolicLink(&Link);
    IoDeleteDevice(DriverObject->DeviceObject);
}

static NTSTATUS LessonReadStart(PDRIVER_OBJECT DriverObject, BOOLEAN Fixed)
{
    UNICODE_STRING Name, Link;
    PDEVICE_OBJECT Device;
    NTSTATUS Status;

    LessonReadFixed = Fixed;
    LessonPendingRead = NULL;
    KeInitializeSpinLock(&LessonReadLock);
    DriverObject->MajorFunction[IRP_MJ_CREATE] = LessonReadDispatch;
    DriverObject->MajorFunction[IRP_MJ_CLOSE] = LessonReadDispatch;
    DriverObject->MajorFunction[IRP_MJ_CLEANUP] = LessonReadDispatch;
    DriverObject->MajorFunction[IRP_MJ_READ] = LessonReadDispatch;
    DriverObject->MajorFunction[IRP_MJ_WRITE] = LessonReadDispatch;
    DriverObject->DriverUnload = LessonReadUnload;
    RtlInitUnicodeString(&Name, LESSON_READ_DEVICE);
    RtlInitUnicodeString(&Link, LESSON_READ_LINK);
    Status = IoCreateDevice(DriverObject, 0, &Name, FILE_DEVICE_UNKNOWN, 0, FALSE, &Device);
    if (!NT_SUCCESS(Status))
        return Status;
    Device->Flags = (Device->Flags | DO_BUFFERED_IO) & ~DO_DEVICE_INITIALIZING;
    Status = IoCreateSymbolicLink(&Link, &Name);
    if (!NT_SUCCESS(Status))
        IoDeleteDevice(Device);
    return Status;
}

NTSTATUS NTAPI LessonPendingReadRaceEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    UNREFERENCED_PARAMETER(RegistryPath);
    return LessonReadStart(DriverObject, FALSE);
}

NTSTATUS NTAPI LessonPendingReadRaceFixedEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    UNREFERENCED_PARAMETER(RegistryPath);
    return LessonReadStart(DriverObject, TRUE);
}
