/*
 * dispatcher_lessons.c - mistakes with waits, mutexes, timers and object references, among them
 * the book's own: DebugPrintClose passing the address of its thread pointer to ObDereferenceObject.
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
