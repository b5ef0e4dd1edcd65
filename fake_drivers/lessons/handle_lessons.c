/*
 * handle_lessons.c - the book's "same process" trap: the first DebugPrint design opened its log in
 * DriverEntry and wrote to it from a dispatch routine. DriverEntry runs in the System process, so a
 * handle opened there without OBJ_KERNEL_HANDLE is an entry of System's handle table; a dispatch
 * routine runs in the process of the application that called it, where that handle names nothing
 * (or the application's own object). The fixed twin opens the log with OBJ_KERNEL_HANDLE.
 *
 * One driver, two devices: the log (it counts what is written to it) and the device applications
 * write to, whose writes the driver copies to the log.
 */
#include "lessons.h"

#define LESSON_LOG_DEVICE L"\\Device\\WdmsimLessonLog"
#define LESSON_DEVICE L"\\Device\\WdmsimLesson"

static PDEVICE_OBJECT LessonLogDevice;
static HANDLE LessonLogHandle;
static ULONG LessonLogWrites;

static NTSTATUS LessonComplete(PIRP Irp, NTSTATUS Status, ULONG_PTR Information)
{
    Irp->IoStatus.Status = Status;
    Irp->IoStatus.Information = Information;
    IoCompleteRequest(Irp, IO_NO_INCREMENT);
    return Status;
}

/* Copies what the application wrote to the log, through the handle DriverEntry opened. */
static NTSTATUS LessonWriteLog(PVOID Buffer, ULONG Length)
{
    IO_STATUS_BLOCK IoStatus;
    LARGE_INTEGER Offset;

    Offset.QuadPart = 0;
    return ZwWriteFile(LessonLogHandle, NULL, NULL, NULL, &IoStatus, Buffer, Length, &Offset, NULL);
}

DRIVER_DISPATCH LessonHandleDispatch;

NTSTATUS NTAPI LessonHandleDispatch(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PIO_STACK_LOCATION Stack = IoGetCurrentIrpStackLocation(Irp);
    ULONG Length;

    if (Stack->MajorFunction != IRP_MJ_WRITE)
        return LessonComplete(Irp, STATUS_SUCCESS, 0);
    Length = Stack->Parameters.Write.Length;
    if (DeviceObject == LessonLogDevice) {
        LessonLogWrites++;
        return LessonComplete(Irp, STATUS_SUCCESS, Length);
    }
    return LessonComplete(Irp, LessonWriteLog(Irp->AssociatedIrp.SystemBuffer, Length), Length);
}

static VOID NTAPI LessonHandleUnload(PDRIVER_OBJECT DriverObject)
{
    UNICODE_STRING Link;

    ZwClose(LessonLogHandle);
    RtlInitUnicodeString(&Link, LESSON_HANDLE_LINK);
    IoDeleteSymbolicLink(&Link);
    while (DriverObject->DeviceObject != NULL)
        IoDeleteDevice(DriverObject->DeviceObject);
}

static NTSTATUS LessonCreateDevice(PDRIVER_OBJECT DriverObject, PCWSTR Name, PDEVICE_OBJECT *Device)
{
    UNICODE_STRING DeviceName;
    NTSTATUS Status;

    RtlInitUnicodeString(&DeviceName, Name);
    Status = IoCreateDevice(DriverObject, 0, &DeviceName, FILE_DEVICE_UNKNOWN, 0, FALSE, Device);
    if (NT_SUCCESS(Status))
        (*Device)->Flags = ((*Device)->Flags | DO_BUFFERED_IO) & ~DO_DEVICE_INITIALIZING;
    return Status;
}

/* Creates both devices and opens the log with the attributes given. */
static NTSTATUS LessonHandleStart(PDRIVER_OBJECT DriverObject, ULONG Attributes)
{
    UNICODE_STRING Name, Link;
    OBJECT_ATTRIBUTES ObjectAttributes;
    IO_STATUS_BLOCK IoStatus;
    PDEVICE_OBJECT Device;
    NTSTATUS Status;

    LessonLogWrites = 0;
    DriverObject->MajorFunction[IRP_MJ_CREATE] = LessonHandleDispatch;
    DriverObject->MajorFunction[IRP_MJ_CLOSE] = LessonHandleDispatch;
    DriverObject->MajorFunction[IRP_MJ_WRITE] = LessonHandleDispatch;
    DriverObject->DriverUnload = LessonHandleUnload;
    Status = LessonCreateDevice(DriverObject, LESSON_LOG_DEVICE, &LessonLogDevice);
    if (NT_SUCCESS(Status))
        Status = LessonCreateDevice(DriverObject, LESSON_DEVICE, &Device);
    RtlInitUnicodeString(&Name, LESSON_DEVICE);
    RtlInitUnicodeString(&Link, LESSON_HANDLE_LINK);
    if (NT_SUCCESS(Status))
        Status = IoCreateSymbolicLink(&Link, &Name);
    RtlInitUnicodeString(&Name, LESSON_LOG_DEVICE);
    InitializeObjectAttributes(&ObjectAttributes, &Name, Attributes, NULL, NULL);
    if (NT_SUCCESS(Status))
        Status = ZwCreateFile(&LessonLogHandle, GENERIC_WRITE, &ObjectAttributes, &IoStatus, NULL,
                              FILE_ATTRIBUTE_NORMAL, 0, FILE_OPEN, 0, NULL, 0);
    if (!NT_SUCCESS(Status)) {
        IoDeleteSymbolicLink(&Link);
        while (DriverObject->DeviceObject != NULL)
            IoDeleteDevice(DriverObject->DeviceObject);
    }
    return Status;
}

/* The mistake: a handle of the System process, where DriverEntry runs. */
NTSTATUS NTAPI LessonSameProcessHandleEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    UNREFERENCED_PARAMETER(RegistryPath);
    return LessonHandleStart(DriverObject, OBJ_CASE_INSENSITIVE);
}

/* The fix: a kernel handle, valid in every process. */
NTSTATUS NTAPI LessonSameProcessHandleFixedEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    UNREFERENCED_PARAMETER(RegistryPath);
    return LessonHandleStart(DriverObject, OBJ_CASE_INSENSITIVE | OBJ_KERNEL_HANDLE);
}
