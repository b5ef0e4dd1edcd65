/*
 * dpc_lessons.c - freeing memory that holds a DPC still queued: the DPC runs later, from freed
 * pool. The fixed twin takes the DPC off the queue first.
 * The routine runs at DISPATCH_LEVEL holding the adapter lock, which the adapter's own DPC (queued
 * first) also needs: the device's DPC waits in the queue behind it, on any machine and under any
 * schedule, until the lock is released.
 */
#include "lessons.h"

#define LESSON_TAG 'nssL'

typedef struct _LESSON_DEVICE {
    KDPC Dpc;
    ULONG Interrupts;
} LESSON_DEVICE;

static KSPIN_LOCK LessonAdapterLock;
static KDPC LessonAdapterDpc;

KDEFERRED_ROUTINE LessonAdapterDpcRoutine;
KDEFERRED_ROUTINE LessonCountDpc;

VOID NTAPI LessonAdapterDpcRoutine(PKDPC Dpc, PVOID Context, PVOID Argument1, PVOID Argument2)
{
    UNREFERENCED_PARAMETER(Dpc);
    UNREFERENCED_PARAMETER(Context);
    UNREFERENCED_PARAMETER(Argument1);
    UNREFERENCED_PARAMETER(Argument2);
    KeAcquireSpinLockAtDpcLevel(&LessonAdapterLock);
    KeReleaseSpinLockFromDpcLevel(&LessonAdapterLock);
}

VOID NTAPI LessonCountDpc(PKDPC Dpc, PVOID Context, PVOID Argument1, PVOID Argument2)
{
    UNREFERENCED_PARAMETER(Dpc);
    UNREFERENCED_PARAMETER(Argument1);
    UNREFERENCED_PARAMETER(Argument2);
    ((LESSON_DEVICE *)Context)->Interrupts++;
}

/* Queues the device's DPC, then frees the device with or without taking the DPC off the queue
 * first. */
static VOID LessonQueueAndFree(BOOLEAN RemoveFirst)
{
    LESSON_DEVICE *Device = ExAllocatePoolWithTag(NonPagedPoolNx, sizeof *Device, LESSON_TAG);
    KIRQL OldIrql;

    if (Device == NULL)
        return;
    Device->Interrupts = 0;
    KeInitializeSpinLock(&LessonAdapterLock);
    KeInitializeDpc(&LessonAdapterDpc, LessonAdapterDpcRoutine, NULL);
    KeInitializeDpc(&Device->Dpc, LessonCountDpc, Device);
    KeAcquireSpinLock(&LessonAdapterLock, &OldIrql);
    KeInsertQueueDpc(&LessonAdapterDpc, NULL, NULL);
    KeInsertQueueDpc(&Device->Dpc, NULL, NULL);
    if (RemoveFirst)
        KeRemoveQueueDpc(&Device->Dpc);
    ExFreePoolWithTag(Device, LESSON_TAG);
    KeReleaseSpinLock(&LessonAdapterLock, OldIrql);
    KeFlushQueuedDpcs();
}

VOID LessonFreePoolWithDpcQueued(VOID)
{
    LessonQueueAndFree(FALSE);
}

/* The fix: KeRemoveQueueDpc before the free (or KeFlushQueuedDpcs at PASSIVE_LEVEL). */
VOID LessonFreePoolWithDpcQueuedFixed(VOID)
{
    LessonQueueAndFree(TRUE);
}
