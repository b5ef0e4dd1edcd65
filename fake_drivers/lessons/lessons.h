/*
 * lessons.h - one small faulty routine per kernel rule: the minimal form of a classic mistake.
 * Driver world: each lesson is plain WDM code that would blue-screen a real machine.
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
/* The fixed twin: runs clean. */
VOID LessonLockOrderInversionFixed(VOID);

#endif /* LESSONS_H */
