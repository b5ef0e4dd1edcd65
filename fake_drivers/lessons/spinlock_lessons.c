/*
 * spinlock_lessons.c - spin-lock mistakes: taking a lock twice, directly or through an
 * ExInterlocked*List call that uses the lock the caller already holds. Each has its fixed twin.
 */
#include "lessons.h"

static KSPIN_LOCK LessonLock;
static LIST_ENTRY LessonList;
static LIST_ENTRY LessonEntry;

VOID LessonSpinLockRecursion(VOID)
{
    KIRQL OldIrql;

    KeInitializeSpinLock(&LessonLock);
    KeAcquireSpinLock(&LessonLock, &OldIrql);
    KeAcquireSpinLock(&LessonLock, &OldIrql);
}

VOID LessonInterlockedWithHeldLock(VOID)
{
    KIRQL OldIrql;

    InitializeListHead(&LessonList);
    KeInitializeSpinLock(&LessonLock);
    KeAcquireSpinLock(&LessonLock, &OldIrql);
    ExInterlockedInsertTailList(&LessonList, &LessonEntry, &LessonLock);
    KeReleaseSpinLock(&LessonLock, OldIrql);
}

/* The fix: release the lock before anything can take it again. */
VOID LessonSpinLockRecursionFixed(VOID)
{
    KIRQL OldIrql;

    KeInitializeSpinLock(&LessonLock);
    KeAcquireSpinLock(&LessonLock, &OldIrql);
    KeReleaseSpinLock(&LessonLock, OldIrql);
    KeAcquireSpinLock(&LessonLock, &OldIrql);
    KeReleaseSpinLock(&LessonLock, OldIrql);
}

/* The fix: under the lock, the plain list call; the ExInterlocked form takes the lock itself. */
VOID LessonInterlockedWithHeldLockFixed(VOID)
{
    KIRQL OldIrql;

    InitializeListHead(&LessonList);
    KeInitializeSpinLock(&LessonLock);
    KeAcquireSpinLock(&LessonLock, &OldIrql);
    InsertTailList(&LessonList, &LessonEntry);
    KeReleaseSpinLock(&LessonLock, OldIrql);
}
