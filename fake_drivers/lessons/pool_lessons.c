/*
 * pool_lessons.c - pool mistakes: paged pool at DISPATCH_LEVEL, and freeing a block twice; each with its
 * fixed twin.
 */
#include "lessons.h"

#define LESSON_TAG 'nssL'

VOID LessonPagedPoolAtDispatch(VOID)
{
    KIRQL OldIrql;
    PVOID Buffer;

    KeRaiseIrql(DISPATCH_LEVEL, &OldIrql);
    Buffer = ExAllocatePoolWithTag(PagedPool, 64, LESSON_TAG);
    if (Buffer != NULL)
        ExFreePoolWithTag(Buffer, LESSON_TAG);
    KeLowerIrql(OldIrql);
}

VOID LessonPoolDoubleFree(VOID)
{
    PVOID Buffer = ExAllocatePoolWithTag(NonPagedPoolNx, 64, LESSON_TAG);

    if (Buffer == NULL)
        return;
    ExFreePoolWithTag(Buffer, LESSON_TAG);
    ExFreePoolWithTag(Buffer, LESSON_TAG);
}

/* The fix: at DISPATCH_LEVEL only nonpaged pool. */
VOID LessonPagedPoolAtDispatchFixed(VOID)
{
    KIRQL OldIrql;
    PVOID Buffer;

    KeRaiseIrql(DISPATCH_LEVEL, &OldIrql);
    Buffer = ExAllocatePoolWithTag(NonPagedPoolNx, 64, LESSON_TAG);
    if (Buffer != NULL)
        ExFreePoolWithTag(Buffer, LESSON_TAG);
    KeLowerIrql(OldIrql);
}

/* The fix: free once and forget the pointer, so that a second free is of NULL and skipped. */
VOID LessonPoolDoubleFreeFixed(VOID)
{
    PVOID Buffer = ExAllocatePoolWithTag(NonPagedPoolNx, 64, LESSON_TAG);

    if (Buffer == NULL)
        return;
    ExFreePoolWithTag(Buffer, LESSON_TAG);
    Buffer = NULL;
    if (Buffer != NULL)
        ExFreePoolWithTag(Buffer, LESSON_TAG);
}
