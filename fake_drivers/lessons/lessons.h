/*
 * lessons.h - one small faulty routine per kernel rule: the minimal form of a classic mistake.
 * Driver world: each lesson is plain WDM code that would blue-screen a real machine; its twin
 * named ...Fixed is the same code corrected, and runs clean.
 */
#ifndef LESSONS_H
#define LESSONS_H

#include <wdm.h>

VOID LessonSpinLockRecursion(VOID);
VOID LessonPagedPoolAtDispatch(VOID);
VOID LessonListDoubleRemove(VOID);
VOID LessonInterlockedWithHeldLock(VOID);
VOID LessonPoolDoubleFree(VOID);
VOID LessonWaitAtDispatch(VOID);
VOID LessonMutexReleaseNotOwner(VOID);
VOID LessonFreePoolWithTimerSet(VOID);
VOID LessonZwAtDispatch(VOID);
VOID LessonDereferenceAddressOfPointer(VOID);
VOID LessonLockOrderInversion(VOID);
VOID LessonFreePoolWithDpcQueued(VOID);
VOID LessonResourceWithoutCriticalRegion(VOID);
VOID LessonFastMutexRecursion(VOID);
VOID LessonMutexHeldAtThreadExit(VOID);

VOID LessonSpinLockRecursionFixed(VOID);
VOID LessonPagedPoolAtDispatchFixed(VOID);
VOID LessonListDoubleRemoveFixed(VOID);
VOID LessonInterlockedWithHeldLockFixed(VOID);
VOID LessonPoolDoubleFreeFixed(VOID);
VOID LessonWaitAtDispatchFixed(VOID);
VOID LessonMutexReleaseNotOwnerFixed(VOID);
VOID LessonFreePoolWithTimerSetFixed(VOID);
VOID LessonZwAtDispatchFixed(VOID);
VOID LessonDereferenceAddressOfPointerFixed(VOID);
VOID LessonLockOrderInversionFixed(VOID);
VOID LessonFreePoolWithDpcQueuedFixed(VOID);
VOID LessonResourceWithoutCriticalRegionFixed(VOID);
VOID LessonFastMutexRecursionFixed(VOID);
VOID LessonMutexHeldAtThreadExitFixed(VOID);

/* Lessons that are a whole driver: loaded, then unloaded. */
DRIVER_INITIALIZE LessonUnloadLeavesThreadEntry;
DRIVER_INITIALIZE LessonUnloadLeavesThreadFixedEntry;
/* A driver lesson an application then writes to, through this link to the driver's device. */
#define LESSON_HANDLE_LINK L"\\??\\WdmsimLesson"
DRIVER_INITIALIZE LessonSameProcessHandleEntry;
DRIVER_INITIALIZE LessonSameProcessHandleFixedEntry;
/* A driver lesson whose race the explorer finds: a reader and a writer through this link. */
#define LESSON_READ_LINK L"\\??\\WdmsimLessonRead"
DRIVER_INITIALIZE LessonPendingReadRaceEntry;
DRIVER_INITIALIZE LessonPendingReadRaceFixedEntry;

#endif /* LESSONS_H */
