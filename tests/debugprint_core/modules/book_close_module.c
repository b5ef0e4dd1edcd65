/*
 * book_close_module.c - the book's DebugPrintInit/DebugPrintClose thread handling, reduced to the
 * system thread, with the flaw the fixed core no longer has: Close hands ObDereferenceObject the
 * address of ThreadObjectPointer instead of the thread object it holds. On Windows that corrupts
 * whatever lies before the variable; the simulator stops the machine instead.
 */
#include <wdm.h>

DRIVER_INITIALIZE DriverEntry;
static DRIVER_UNLOAD BookUnload;
static KSTART_ROUTINE BookSystemThread;

static BOOLEAN ExitNow;
static KEVENT ThreadEvent;
static KEVENT ThreadExiting;
static PVOID ThreadObjectPointer;

/* ExitNow is written before ThreadEvent is set, so the wait orders the read after the write. */
static VOID NTAPI BookSystemThread(PVOID Context)
{
    UNREFERENCED_PARAMETER(Context);
    KeSetPriorityThread(KeGetCurrentThread(), LOW_REALTIME_PRIORITY);
    while (!ExitNow)
        KeWaitForSingleObject(&ThreadEvent, Executive, KernelMode, FALSE, NULL);
    KeSetEvent(&ThreadExiting, IO_NO_INCREMENT, FALSE);
    PsTerminateSystemThread(STATUS_SUCCESS);
}

static VOID NTAPI BookUnload(PDRIVER_OBJECT DriverObject)
{
    UNREFERENCED_PARAMETER(DriverObject);
    ExitNow = TRUE;
    KeSetEvent(&ThreadEvent, IO_NO_INCREMENT, FALSE);
    KeWaitForSingleObject(&ThreadExiting, Executive, KernelMode, FALSE, NULL);
    ObDereferenceObject(&ThreadObjectPointer);
}

NTSTATUS NTAPI DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    HANDLE ThreadHandle;
    NTSTATUS status;

    UNREFERENCED_PARAMETER(RegistryPath);
    ExitNow = FALSE;
    KeInitializeEvent(&ThreadEvent, SynchronizationEvent, FALSE);
    KeInitializeEvent(&ThreadExiting, SynchronizationEvent, FALSE);
    status = PsCreateSystemThread(&ThreadHandle, THREAD_ALL_ACCESS, NULL, NULL, NULL, BookSystemThread, NULL);
    if (!NT_SUCCESS(status))
        return status;
    status = ObReferenceObjectByHandle(ThreadHandle, THREAD_ALL_ACCESS, NULL, KernelMode, &ThreadObjectPointer,
                                       NULL);
    ZwClose(ThreadHandle);
    DriverObject->DriverUnload = BookUnload;
    return status;
}
