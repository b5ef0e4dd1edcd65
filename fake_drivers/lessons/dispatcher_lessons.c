/*
 * dispatcher_lessons.c - mistakes with waits, mutexes, timers and object references, among them
 * the book's own: DebugPrintClose passing the address of its thread pointer to ObDereferenceObject.
 * Each has its fixed twin, named ...Fixed.
 */
#include "lessons.h"

#define LESSON_TAG 'nssL'

typedef struct _LESSON_CONTEXT {
    KTIMER Timer;
    ULONG Ticks;
} LESSON_CONTEXT;

static KEVENT LessonEvent;
static KMUTEX LessonMutex;
static PVOID LessonThreadObject;

VOID LessonWaitAtDispatch(VOID)
{
    KIRQL OldIrql;

    KeInitializeEvent(&LessonEvent, NotificationEvent, FALSE);
    KeRaiseIrql(DISPATCH_LEVEL, &OldIrql);
    KeWaitForSingleObject(&LessonEvent, Executive, KernelMode, FALSE, NULL);
    KeLowerIrql(OldIrql);
}

VOID LessonMutexReleaseNotOwner(VOID)
{
    KeInitializeMutex(&LessonMutex, 0);
    KeReleaseMutex(&LessonMutex, FALSE);
}

VOID LessonFreePoolWithTimerSet(VOID)
{
    LESSON_CONTEXT *Context = ExAllocatePoolWithTag(NonPagedPoolNx, sizeof *Context, LESSON_TAG);
    LARGE_INTEGER DueTime;

    if (Context == NULL)
        return;
    KeInitializeTimer(&Context->Timer);
    DueTime.QuadPart = -10000000LL;
    KeSetTimer(&Context->Timer, DueTime, NULL);
    ExFreePoolWithTag(Context, LESSON_TAG);
}

VOID LessonZwAtDispatch(VOID)
{
    KIRQL OldIrql;

    KeRaiseIrql(DISPATCH_LEVEL, &OldIrql);
    ZwClose(NULL);
    KeLowerIrql(OldIrql);
}

static VOID NTAPI LessonThread(PVOID Context)
{
    UNREFERENCED_PARAMETER(Context);
    PsTerminateSystemThread(STATUS_SUCCESS);
}

VOID LessonDereferenceAddressOfPointer(VOID)
{
    HANDLE ThreadHandle;

    if (!NT_SUCCESS(PsCreateSystemThread(&ThreadHandle, THREAD_ALL_ACCESS, NULL, NULL, NULL, LessonThread, NULL)))
        return;
    if (NT_SUCCESS(ObReferenceObjectByHandle(ThreadHandle, THREAD_ALL_ACCESS, NULL, KernelMode,
                                             &LessonThreadObject, NULL))) {
        KeWaitForSingleObject(LessonThreadObject, Executive, KernelMode, FALSE, NULL);
        ObDereferenceObject(&LessonThreadObject);
    }
    ZwClose(ThreadHandle);
}

/* The fix: at DISPATCH_LEVEL only a zero timeout, which polls the event without waiting. */
VOID LessonWaitAtDispatchFixed(VOID)
{
    LARGE_INTEGER Zero;
    KIRQL OldIrql;

    Zero.QuadPart = 0;
    KeInitializeEvent(&LessonEvent, NotificationEvent, FALSE);
    KeRaiseIrql(DISPATCH_LEVEL, &OldIrql);
    KeWaitForSingleObject(&LessonEvent, Executive, KernelMode, FALSE, &Zero);
    KeLowerIrql(OldIrql);
}

/* The fix: release only what this thread acquired. */
VOID LessonMutexReleaseNotOwnerFixed(VOID)
{
    KeInitializeMutex(&LessonMutex, 0);
    KeWaitForSingleObject(&LessonMutex, Executive, KernelMode, FALSE, NULL);
    KeReleaseMutex(&LessonMutex, FALSE);
}

/* The fix: cancel the timer before freeing the memory that holds it. */
VOID LessonFreePoolWithTimerSetFixed(VOID)
{
    LESSON_CONTEXT *Context = ExAllocatePoolWithTag(NonPagedPoolNx, sizeof *Context, LESSON_TAG);
    LARGE_INTEGER DueTime;

    if (Context == NULL)
        return;
    KeInitializeTimer(&Context->Timer);
    DueTime.QuadPart = -10000000LL;
    KeSetTimer(&Context->Timer, DueTime, NULL);
    KeCancelTimer(&Context->Timer);
    ExFreePoolWithTag(Context, LESSON_TAG);
}

/* Starts LessonThread; *Thread: its object, referenced. */
static NTSTATUS LessonStartThread(PVOID *Thread)
{
    HANDLE ThreadHandle;
    NTSTATUS Status;

    Status = PsCreateSystemThread(&ThreadHandle, THREAD_ALL_ACCESS, NULL, NULL, NULL, LessonThread, NULL);
    if (!NT_SUCCESS(Status))
        return Status;
    Status = ObReferenceObjectByHandle(ThreadHandle, SYNCHRONIZE, NULL, KernelMode, Thread, NULL);
    ZwClose(ThreadHandle);
    return Status;
}

/* The fix: Zw calls at PASSIVE_LEVEL only (DebugPrint hands them to its system thread). */
VOID LessonZwAtDispatchFixed(VOID)
{
    PVOID Thread;

    if (!NT_SUCCESS(LessonStartThread(&Thread)))
        return;
    KeWaitForSingleObject(Thread, Executive, KernelMode, FALSE, NULL);
    ObDereferenceObject(Thread);
}

/* The fix: pass the pointer, not its address. */
VOID LessonDereferenceAddressOfPointerFixed(VOID)
{
    if (!NT_SUCCESS(LessonStartThread(&LessonThreadObject)))
        return;
    KeWaitForSingleObject(LessonThreadObject, Executive, KernelMode, FALSE, NULL);
    ObDereferenceObject(LessonThreadObject);
    LessonThreadObject = NULL;
}
