/*
 * list_lessons.c - list mistakes: removing an entry that is no longer on the list.
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
    RemoveEntryList(&LessonFirst.ListEntry);
}
