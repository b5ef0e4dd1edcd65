/*
 * list_lessons.c - list mistakes: removing an entry that is no longer on the list, and its fixed
 * twin.
 */
#include "lessons.h"

typedef struct _LESSON_EVENT {
    LIST_ENTRY ListEntry;
    ULONG Number;
} LESSON_EVENT;

static LIST_ENTRY LessonEvents;
static LESSON_EVENT LessonFirst, LessonSecond;

VOID LessonListDoubleRemove(VOID)
{
    InitializeListHead(&LessonEvents);
    InsertTailList(&LessonEvents, &LessonFirst.ListEntry);
    InsertTailList(&LessonEvents, &LessonSecond.ListEntry);
    RemoveEntryList(&LessonFirst.ListEntry);
    RemoveEntryList(&LessonFirst.ListEntry);    /* again, though it is no longer on the list */
}

/* The fix: after removing an entry, point it at itself, so that removing it again is harmless. */
VOID LessonListDoubleRemoveFixed(VOID)
{
    InitializeListHead(&LessonEvents);
    InsertTailList(&LessonEvents, &LessonFirst.ListEntry);
    InsertTailList(&LessonEvents, &LessonSecond.ListEntry);
    RemoveEntryList(&LessonFirst.ListEntry);
    InitializeListHead(&LessonFirst.ListEntry);
    RemoveEntryList(&LessonFirst.ListEntry);    /* harmless now: the entry points at itself */
}
