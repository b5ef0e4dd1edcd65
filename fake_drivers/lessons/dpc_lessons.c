/*
 * dpc_lessons.c - freeing memory that holds a DPC still queued: the DPC runs later, from freed
 * pool. The fixed twin takes the DPC off the queue first.
 */
#include "lessons.h"

#define LESSON_TAG 'nssL'

typedef struct _LESSON_DEVICE {
    KDPC Dpc;
    ULONG Interrupts;
} LESSON_DEVICE;

KDEFERRED_ROUTINE LessonCountDpc;

VOID NTAPI LessonCountDpc(PKDPC Dpc, PVOID Context, PVOID Argument1, PVOID Argument2)
{
    UNREFERENCED_PARAMETER(Dpc);
    UNREFERENCED_PARAMETER(Argument1);
    UNREFERENCED_PARAMETER(Argument2);
    ((LESSON_DEVICE *)Context)->Interrupts++;
}

/* Queues the device's DPC at DISPATCH_LEVEL, where it cannot run yet, then frees the device with
 * or without taking the DPC off the queue first. */
static VOID LessonQueueAndFree(BOOLEAN RemoveFirst)
{
    LESSON_DEVICE *Device = ExAllocatePoolWithTag(NonPagedPoolNx, sizeof *Device, LESSON_TAG);
    KIRQL OldIrql;

    if (Device == NULL)
        return;
    Device->Interrupts = 0;
    KeInitializeDpc(&Device->Dpc, LessonCountDpc, Device);
    KeRaiseIrql(DISPATCH_LEVEL, &OldIrql);
    KeInsertQueueDpc(&Device->Dpc, NULL, NULL);
    if (RemoveFirst)
        KeRemoveQueueDpc(&Device->Dpc);
    ExFreePoolWithTag(Device, LESSON_TAG);
    KeLowerIrql(OldIrql);
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
