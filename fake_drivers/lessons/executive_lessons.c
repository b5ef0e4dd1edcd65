/*
 * executive_lessons.c - mistakes with executive locks: an ERESOURCE taken with normal kernel APCs
 * enabled, a fast mutex taken again by its owner through a helper, and a system thread that ends
 * with a KMUTEX still held on an error path. Each has its fixed twin.
 */
#include "lessons.h"

#define LESSON_TAG 'nssL'

static FAST_MUTEX LessonFastMutex;
static KMUTEX LessonThreadMutex;
static ULONG LessonCounter;

/* Takes the device's resource exclusively, with or without the critical region it needs. */
static VOID LessonUseResource(BOOLEAN CriticalRegion)
{
    PERESOURCE Resource = ExAllocatePoolWithTag(NonPagedPoolNx, sizeof *Resource, LESSON_TAG);

    if (Resource == NULL)
        return;
    ExInitializeResourceLite(Resource);
    if (CriticalRegion)
        KeEnterCriticalRegion();
    ExAcquireResourceExclusiveLite(Resource, TRUE);
    ExReleaseResourceLite(Resource);
    if (CriticalRegion)
        KeLeaveCriticalRegion();
    ExDeleteResourceLite(Resource);
    ExFreePoolWithTag(Resource, LESSON_TAG);
}

VOID LessonResourceWithoutCriticalRegion(VOID)
{
    LessonUseResource(FALSE);
}

/* The fix: KeEnterCriticalRegion before acquiring, KeLeaveCriticalRegion after releasing. */
VOID LessonResourceWithoutCriticalRegionFixed(VOID)
{
    LessonUseResource(TRUE);
}

/* A helper that takes the counter's mutex itself. */
static VOID LessonIncrementCounter(VOID)
{
    ExAcquireFastMutex(&LessonFastMutex);
    LessonCounter++;
    ExReleaseFastMutex(&LessonFastMutex);
}

VOID LessonFastMutexRecursion(VOID)
{
    ExInitializeFastMutex(&LessonFastMutex);
    ExAcquireFastMutex(&LessonFastMutex);
    LessonIncrementCounter();
    ExReleaseFastMutex(&LessonFastMutex);
}

/* The fix: the helper is called without the mutex (or a variant expects it held). */
VOID LessonFastMutexRecursionFixed(VOID)
{
    ExInitializeFastMutex(&LessonFastMutex);
    LessonIncrementCounter();
}

KSTART_ROUTINE LessonThreadReturnsHoldingMutex;
KSTART_ROUTINE LessonThreadReleasesMutex;

/* The mistake: the error path returns before the release. */
VOID NTAPI LessonThreadReturnsHoldingMutex(PVOID Context)
{
    UNREFERENCED_PARAMETER(Context);
    KeWaitForSingleObject(&LessonThreadMutex, Executive, KernelMode, FALSE, NULL);
    if (LessonCounter == 0)
        PsTerminateSystemThread(STATUS_UNSUCCESSFUL);
    KeReleaseMutex(&LessonThreadMutex, FALSE);
    PsTerminateSystemThread(STATUS_SUCCESS);
}

/* The fix: every path releases what the thread acquired. */
VOID NTAPI LessonThreadReleasesMutex(PVOID Context)
{
    NTSTATUS Status = STATUS_SUCCESS;

    UNREFERENCED_PARAMETER(Context);
    KeWaitForSingleObject(&LessonThreadMutex, Executive, KernelMode, FALSE, NULL);
    if (LessonCounter == 0)
        Status = STATUS_UNSUCCESSFUL;
    KeReleaseMutex(&LessonThreadMutex, FALSE);
    PsTerminateSystemThread(Status);
}

/* Runs Routine on a system thread of its own and waits until it has ended. */
static VOID LessonRunThread(PKSTART_ROUTINE Routine)
{
    HANDLE Handle;
    PVOID Thread;

    LessonCounter = 0;
    KeInitializeMutex(&LessonThreadMutex, 0);
    if (!NT_SUCCESS(PsCreateSystemThread(&Handle, THREAD_ALL_ACCESS, NULL, NULL, NULL, Routine, NULL)))
        return;
    if (NT_SUCCESS(ObReferenceObjectByHandle(Handle, SYNCHRONIZE, NULL, KernelMode, &Thread, NULL))) {
        KeWaitForSingleObject(Thread, Executive, KernelMode, FALSE, NULL);
        ObDereferenceObject(Thread);
    }
    ZwClose(Handle);
}

VOID LessonMutexHeldAtThreadExit(VOID)
{
    LessonRunThread(LessonThreadReturnsHoldingMutex);
}

VOID LessonMutexHeldAtThreadExitFixed(VOID)
{
    LessonRunThread(LessonThreadReleasesMutex);
}
