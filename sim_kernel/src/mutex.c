/*
 * mutex.c - KMUTEX and FAST_MUTEX. A KMUTEX is a dispatcher object: dispatcher.c makes a waiter
 * its owner (recursively), this file releases it and hands it on. A FAST_MUTEX is NT's: Count is
 * 1 when free and each acquirer decrements it; whoever does not reach 0 sleeps on the embedded
 * synchronization event, and a release that finds such a sleeper (Count still below 1 after its
 * increment) sets the event once for it.
 * Locking: a KMUTEX's fields under the dispatcher lock. A FAST_MUTEX's Count and Owner are
 * atomics; OldIrql belongs to the owner; the hand-off goes through the event, so a set that comes
 * before its sleeper blocks is kept by the event and no wake-up is lost.
 */
#include <stdio.h>

#include "internal.h"

/* ---- KMUTEX ---- */

/* Stops unless Mutex is an initialised mutex; returns its header. Lock held. */
static DISPATCHER_HEADER *mutex_header(PRKMUTEX Mutex)
{
    disp_check_object(&Mutex->Header);
    if (Mutex->Header.Type != DISP_MUTANT)
        rule_stop_detail(RULE_DISPATCHER_UNINITIALIZED, (ULONG_PTR)Mutex, 0, 0, 0,
                         "the object at %p is a dispatcher object of type %u, not a mutex",
                         (void *)Mutex, Mutex->Header.Type);
    return &Mutex->Header;
}

/* The name of a lock's owner for a STOP report; the owner may have ended since. */
static void mutex_describe_owner(const void *owner, const char *free_text, char *buf, size_t size)
{
    if (owner == NULL)
        snprintf(buf, size, "%s", free_text);
    else if (!thread_name_of((ULONG_PTR)owner, buf, size))
        snprintf(buf, size, "a thread that no longer exists");
}

/* Any IRQL. Level is reserved: drivers pass 0. */
VOID NTAPI KeInitializeMutex(PRKMUTEX Mutex, ULONG Level)
{
    (void)Level;
    disp_init_header(&Mutex->Header, DISP_MUTANT, 1);
    Mutex->OwnerThread = NULL;
    Mutex->Abandoned = FALSE;
    Mutex->ApcDisable = 1;
}

/* IRQL <= DISPATCH_LEVEL (<= APC_LEVEL with Wait = TRUE). The previous state: 0 = now free. */
LONG NTAPI KeReleaseMutex(PRKMUTEX Mutex, BOOLEAN Wait)
{
    struct _KTHREAD *self = thread_current();
    char owner[96];
    LONG previous;

    rule_check_irql(RULE_KE_ABOVE_DISPATCH, self->irql, (ULONG_PTR)Mutex, 0, 0);
    if (Wait)
        rule_check_irql(RULE_WAIT_TRUE_ABOVE_APC, self->irql, (ULONG_PTR)Mutex, 0, 0);
    disp_lock();
    mutex_header(Mutex);
    if (Mutex->OwnerThread != (PKTHREAD)self) {
        mutex_describe_owner(Mutex->OwnerThread, "nobody: the mutex is free (released too often?)", owner,
                             sizeof owner);
        rule_stop_detail(RULE_MUTEX_RELEASE_NOT_OWNER, (ULONG_PTR)Mutex, (ULONG_PTR)Mutex->OwnerThread,
                         (ULONG_PTR)self, 0, "thread %s released the mutex at %p, owned by %s", self->name,
                         (void *)Mutex, owner);
    }
    previous = Mutex->Header.SignalState++;
    if (Mutex->Header.SignalState == 1) {
        Mutex->OwnerThread = NULL;
        RemoveEntryList(&Mutex->MutantListEntry);
        disp_wait_test(&Mutex->Header);
    }
    disp_unlock();
    return previous;
}

/* IRQL <= DISPATCH_LEVEL. 1 = free; 0 or less = owned (1 - n for n acquisitions). */
LONG NTAPI KeReadStateMutex(PRKMUTEX Mutex)
{
    LONG state;

    rule_check_irql(RULE_KE_ABOVE_DISPATCH, irql_current(), (ULONG_PTR)Mutex, 0, 0);
    disp_lock();
    state = mutex_header(Mutex)->SignalState;
    disp_unlock();
    return state;
}

/* ---- FAST_MUTEX ---- */

/* Stops unless the fast mutex was set up by ExInitializeFastMutex (its event says so). */
static void fast_mutex_check(PFAST_MUTEX FastMutex)
{
    const DISPATCHER_HEADER *event = &FastMutex->Event.Header;

    disp_lock();
    if (event->Type != DISP_EVENT_SYNCHRONIZATION || event->WaitListHead.Flink == NULL ||
        event->WaitListHead.Blink == NULL)
        rule_stop_detail(RULE_DISPATCHER_UNINITIALIZED, (ULONG_PTR)FastMutex, 0, 0, 0,
                         "the fast mutex at %p was not set up by ExInitializeFastMutex", (void *)FastMutex);
    disp_unlock();
}

static struct _KTHREAD *fast_mutex_owner(const FAST_MUTEX *FastMutex)
{
    return (struct _KTHREAD *)__atomic_load_n(&FastMutex->Owner, __ATOMIC_RELAXED);
}

/* The caller now owns the fast mutex: record it and the IRQL to restore at release. */
static void fast_mutex_take(PFAST_MUTEX FastMutex, struct _KTHREAD *self, KIRQL old)
{
    __atomic_store_n(&FastMutex->Owner, (PKTHREAD)self, __ATOMIC_RELAXED);
    FastMutex->OldIrql = old;
    self->fast_mutexes_held++;
}

/* IRQL <= APC_LEVEL; may wait. Raises to APC_LEVEL until ExReleaseFastMutex. */
VOID FASTCALL ExAcquireFastMutex(PFAST_MUTEX FastMutex)
{
    struct _KTHREAD *self = thread_current();
    KIRQL old;

    rule_check_irql(RULE_FAST_MUTEX_ACQUIRE_ABOVE_APC, self->irql, (ULONG_PTR)FastMutex, 0, 0);
    fast_mutex_check(FastMutex);
    if (fast_mutex_owner(FastMutex) == self)
        rule_stop_detail(RULE_FAST_MUTEX_RECURSIVE, (ULONG_PTR)FastMutex, 0, 0, 0,
                         "thread %s already owns the fast mutex at %p", self->name, (void *)FastMutex);
    old = KfRaiseIrql(APC_LEVEL);
    if (__atomic_sub_fetch(&FastMutex->Count, 1, __ATOMIC_ACQ_REL) != 0) {
        __atomic_add_fetch(&FastMutex->Contention, 1, __ATOMIC_RELAXED);
        disp_wait_for(self, &FastMutex->Event, disp_fast_mutex_wait);
    }
    fast_mutex_take(FastMutex, self, old);
}

/* IRQL <= APC_LEVEL; never waits. TRUE: acquired, and the IRQL raised to APC_LEVEL. */
BOOLEAN FASTCALL ExTryToAcquireFastMutex(PFAST_MUTEX FastMutex)
{
    struct _KTHREAD *self = thread_current();
    LONG expected = FM_LOCK_BIT;
    KIRQL old;

    rule_check_irql(RULE_FAST_MUTEX_ACQUIRE_ABOVE_APC, self->irql, (ULONG_PTR)FastMutex, 0, 0);
    fast_mutex_check(FastMutex);
    old = KfRaiseIrql(APC_LEVEL);
    if (!__atomic_compare_exchange_n(&FastMutex->Count, &expected, 0, false, __ATOMIC_ACQ_REL,
                                     __ATOMIC_RELAXED)) {
        KfLowerIrql(old);
        return FALSE;
    }
    fast_mutex_take(FastMutex, self, old);
    return TRUE;
}

/* IRQL == APC_LEVEL (the fast mutex is held); lowers to the IRQL saved by the acquire. */
VOID FASTCALL ExReleaseFastMutex(PFAST_MUTEX FastMutex)
{
    struct _KTHREAD *self = thread_current();
    struct _KTHREAD *owner;
    char name[96];
    KIRQL old;

    rule_check_irql(RULE_FAST_MUTEX_RELEASE_NOT_AT_APC, self->irql, self->fast_mutexes_held,
                    (ULONG_PTR)FastMutex, 0);
    fast_mutex_check(FastMutex);
    owner = fast_mutex_owner(FastMutex);
    if (owner != self) {
        mutex_describe_owner(owner, "nobody: the fast mutex is free (released twice?)", name, sizeof name);
        rule_stop_detail(RULE_FAST_MUTEX_RELEASE_NOT_OWNER, (ULONG_PTR)FastMutex, (ULONG_PTR)owner,
                         (ULONG_PTR)self, 0, "thread %s released the fast mutex at %p, owned by %s",
                         self->name, (void *)FastMutex, name);
    }
    old = (KIRQL)FastMutex->OldIrql;
    self->fast_mutexes_held--;
    __atomic_store_n(&FastMutex->Owner, NULL, __ATOMIC_RELAXED);
    if (__atomic_add_fetch(&FastMutex->Count, 1, __ATOMIC_ACQ_REL) != FM_LOCK_BIT)
        KeSetEvent(&FastMutex->Event, 0, FALSE);
    KfLowerIrql(old);
}
