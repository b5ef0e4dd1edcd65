/*
 * unload_lessons.c - a DriverUnload that leaves the driver's system thread running: once the image
 * is gone the thread runs code that no longer exists. The fixed twin's unload tells the thread to
 * end and waits for its thread object before returning.
 */
#include "lessons.h"

static KEVENT LessonStopEvent;
static PVOID LessonWorkerThread;

KSTART_ROUTINE LessonWorker;

/* Works until DriverUnload says stop. */
VOID NTAPI LessonWorker(PVOID Context)
{
    UNREFERENCED_PARAMETER(Context);
    KeWaitForSingleObject(&LessonStopEvent, Executive, KernelMode, FALSE, NULL);
    PsTerminateSystemThread(STATUS_SUCCESS);
}

/* The mistake: nothing stops the worker, and nothing waits for it. */
static VOID NTAPI LessonUnloadForgettingThread(PDRIVER_OBJECT DriverObject)
{
    UNREFERENCED_PARAMETER(DriverObject);
    ObDereferenceObject(LessonWorkerThread);
}

/* The fix: signal the worker, wait until its thread has ended, then let go of it. */
static VOID NTAPI LessonUnloadStoppingThread(PDRIVER_OBJECT DriverObject)
{
    UNREFERENCED_PARAMETER(DriverObject);
    KeSetEvent(&LessonStopEvent, IO_NO_INCREMENT, FALSE);
    KeWaitForSingleObject(LessonWorkerThread, Executive, KernelMode, FALSE, NULL);
    ObDereferenceObject(LessonWorkerThread);
}

static NTSTATUS LessonStartWorker(VOID)
{
    OBJECT_ATTRIBUTES Attributes;
    HANDLE Handle;
    NTSTATUS Status;

    KeInitializeEvent(&LessonStopEvent, NotificationEvent, FALSE);
    InitializeObjectAttributes(&Attributes, NULL, OBJ_KERNEL_HANDLE, NULL, NULL);
    Status = PsCreateSystemThread(&Handle, THREAD_ALL_ACCESS, &Attributes, NULL, NULL, LessonWorker, NULL);
    if (!NT_SUCCESS(Status))
        return Status;
    Status = ObReferenceObjectByHandle(Handle, SYNCHRONIZE, NULL, KernelMode, &LessonWorkerThread, NULL);
    ZwClose(Handle);
    if (!NT_SUCCESS(Status))
        KeSetEvent(&LessonStopEvent, IO_NO_INCREMENT, FALSE);
    return Status;
}

NTSTATUS NTAPI LessonUnloadLeavesThreadEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    UNREFERENCED_PARAMETER(RegistryPath);
    DriverObject->DriverUnload = LessonUnloadForgettingThread;
    return LessonStartWorker();
}

NTSTATUS NTAPI LessonUnloadLeavesThreadFixedEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    UNREFERENCED_PARAMETER(RegistryPath);
    DriverObject->DriverUnload = LessonUnloadStoppingThread;
    return LessonStartWorker();
}
