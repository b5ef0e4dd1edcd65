/*
 * lockorder_lessons.c - a lock-order inversion: the read path takes the queue lock, then the device
 * lock; the cancel path takes the device lock, then the queue lock. Run one after the other, as
 * here, they never deadlock; run at the same moment on two processors, each holds the lock the
 * other spins on, for ever. The fixed twin's cancel path takes the locks in the read path's order.
 */
#include "lessons.h"

static KSPIN_LOCK QueueLock;    /* the queue of pending requests */
static KSPIN_LOCK DeviceLock;   /* the device's state */

/* Not static, so that reports can name them. */
KSTART_ROUTINE LessonReadPath;
KSTART_ROUTINE LessonCancelPath;
KSTART_ROUTINE LessonCancelPathFixed;

VOID NTAPI LessonReadPath(PVOID Context)
{
    KIRQL OldIrql;

    UNREFERENCED_PARAMETER(Context);
    KeAcquireSpinLock(&QueueLock, &OldIrql);
    KeAcquireSpinLockAtDpcLevel(&DeviceLock);
    KeReleaseSpinLockFromDpcLevel(&DeviceLock);
    KeReleaseSpinLock(&QueueLock, OldIrql);
    PsTerminateSystemThread(STATUS_SUCCESS);
}

/* The mistake: the device lock first. */
VOID NTAPI LessonCancelPath(PVOID Context)
{
    KIRQL OldIrql;

    UNREFERENCED_PARAMETER(Context);
    KeAcquireSpinLock(&DeviceLock, &OldIrql);
    KeAcquireSpinLockAtDpcLevel(&QueueLock);
    KeReleaseSpinLockFromDpcLevel(&QueueLock);
    KeReleaseSpinLock(&DeviceLock, OldIrql);
    PsTerminateSystemThread(STATUS_SUCCESS);
}

/* The fix: one order for the pair, queue lock first, on every path. */
VOID NTAPI LessonCancelPathFixed(PVOID Context)
{
    KIRQL OldIrql;

    UNREFERENCED_PARAMETER(Context);
    KeAcquireSpinLock(&QueueLock, &OldIrql);
    KeAcquireSpinLockAtDpcLevel(&DeviceLock);
    KeReleaseSpinLockFromDpcLevel(&DeviceLock);
    KeReleaseSpinLock(&QueueLock, OldIrql);
    PsTerminateSystemThread(STATUS_SUCCESS);
}

/* Runs Routine on a system thread of its own and waits until it has ended. */
static VOID LessonRunOnSystemThread(PKSTART_ROUTINE Routine)
{
    HANDLE Handle;
    PVOID Thread;

    if (!NT_SUCCESS(PsCreateSystemThread(&Handle, THREAD_ALL_ACCESS, NULL, NULL, NULL, Routine, NULL)))
        return;
    if (NT_SUCCESS(ObReferenceObjectByHandle(Handle, SYNCHRONIZE, NULL, KernelMode, &Thread, NULL))) {
        KeWaitForSingleObject(Thread, Executive, KernelMode, FALSE, NULL);
        ObDereferenceObject(Thread);
    }
    ZwClose(Handle);
}

VOID LessonLockOrderInversion(VOID)
{
    KeInitializeSpinLock(&QueueLock);
    KeInitializeSpinLock(&DeviceLock);
    LessonRunOnSystemThread(LessonReadPath);
    LessonRunOnSystemThread(LessonCancelPath);
}

VOID LessonLockOrderInversionFixed(VOID)
{
    KeInitializeSpinLock(&QueueLock);
    KeInitializeSpinLock(&DeviceLock);
    LessonRunOnSystemThread(LessonReadPath);
    LessonRunOnSystemThread(LessonCancelPathFixed);
}
