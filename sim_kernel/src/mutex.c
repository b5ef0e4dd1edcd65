/*
 * mutex.c - KMUTEX, FAST_MUTEX and KGUARDED_MUTEX. A KMUTEX is a dispatcher object: dispatcher.c
 * makes a waiter its owner (recursively), this file releases it and hands it on. A FAST_MUTEX is
 * NT's: Count is 1 when free and each acquirer decrements it; whoever does not reach 0 sleeps on
 * the embedded synchronization event, and a release that finds such a sleeper (Count still below 1
 * after its increment) sets the event once for it. A KGUARDED_MUTEX is the same protocol on the
 * same layout (a gate for the event), held inside a guarded region instead of at APC_LEVEL.
 * Locking: a KMUTEX's fields under the dispatcher lock. A FAST_MUTEX's Count and Owner are
 * atomics; OldIrql belongs to the owner; the hand-off goes through the event, so a set that comes
 * before its sleeper blocks is kept by the event and no wake-up is lost.
 */
#include <stdio.h>

#include "internal.h"

/* What KeReleaseMutex gives the thread it wakes: Windows' MUTANT_INCREMENT. */
#define MUTEX_INCREMENT 1

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
    RULE_CHECK_ARGUMENT(Mutex, RULE_WRITES);
    (void)Level;
    disp_init_header(&Mutex->Header, DISP_MUTANT, sizeof *Mutex, 1);
    Mutex->OwnerThread = NULL;
    Mutex->Abandoned = FALSE;
    Mutex->ApcDisable = 1;
    lockorder_init(Mutex, LOCKORDER_MUTEX, __builtin_return_address(0));
}

/* IRQL <= DISPATCH_LEVEL (<= APC_LEVEL with Wait = TRUE). The previous state: 0 = now free. */
LONG NTAPI KeReleaseMutex(PRKMUTEX Mutex, BOOLEAN Wait)
{
    struct _KTHREAD *self = thread_current();
    char owner[96];
    LONG previous;

    rule_check_irql(RULE_KE_ABOVE_DISPATCH, self->irql, (ULONG_PTR)Mutex, 0, 0);
    RULE_CHECK_ARGUMENT(Mutex, RULE_WRITES);
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
    lockorder_release(self, Mutex);
    previous = Mutex->Header.SignalState++;
    if (Mutex->Header.SignalState == 1) {
        Mutex->OwnerThread = NULL;
        RemoveEntryList(&Mutex->MutantListEntry);
        disp_wait_test_boost(&Mutex->Header, MUTEX_INCREMENT);
    }
    disp_unlock();
    return previous;
}

/* IRQL <= DISPATCH_LEVEL. 1 = free; 0 or less = owned (1 - n for n acquisitions). */
LONG NTAPI KeReadStateMutex(PRKMUTEX Mutex)
{
    LONG state;

    rule_check_irql(RULE_KE_ABOVE_DISPATCH, irql_current(), (ULONG_PTR)Mutex, 0, 0);
    RULE_CHECK_ARGUMENT(Mutex, RULE_READS);
    disp_lock();
    state = mutex_header(Mutex)->SignalState;
    disp_unlock();
    return state;
}

/* ---- FAST_MUTEX and KGUARDED_MUTEX: one protocol ---- */

/* The fields the fast-mutex protocol uses, which a KGUARDED_MUTEX lays out as a FAST_MUTEX does
 * (its gate standing for the event). */
struct fm {
    volatile LONG *count;
    PKTHREAD *owner;
    ULONG *contention;
    PRKEVENT event;
    const void *object;
    const char *kind;               /* "fast mutex" or "guarded mutex", for reports */
    const char *initializer;
    const char *wait_what;          /* the wait's name in deadlock reports */
};

static struct fm fm_of_fast(PFAST_MUTEX m)
{
    return (struct fm){ &m->Count, &m->Owner, &m->Contention, &m->Event, m, "fast mutex", "ExInitializeFastMutex",
                        disp_fast_mutex_wait };
}

static struct fm fm_of_guarded(PKGUARDED_MUTEX m)
{
    return (struct fm){ &m->Count, &m->Owner, &m->Contention, (PRKEVENT)(void *)&m->Gate, m, "guarded mutex",
                        "KeInitializeGuardedMutex", "KeAcquireGuardedMutex" };
}

/* Stops unless the mutex was set up by its initialiser (its event or gate says so). */
static void fm_check(const struct fm *m)
{
    const DISPATCHER_HEADER *event = &m->event->Header;

    disp_lock();
    if (event->Type != DISP_EVENT_SYNCHRONIZATION || event->WaitListHead.Flink == NULL ||
        event->WaitListHead.Blink == NULL)
        rule_stop_detail(RULE_DISPATCHER_UNINITIALIZED, (ULONG_PTR)m->object, 0, 0, 0,
                         "the %s at %p was not set up by %s", m->kind, m->object, m->initializer);
    disp_unlock();
}

static struct _KTHREAD *fm_owner(const struct fm *m)
{
    return (struct _KTHREAD *)__atomic_load_n(m->owner, __ATOMIC_RELAXED);
}

static void fm_check_not_owner(const struct fm *m, const struct _KTHREAD *self)
{
    if (fm_owner(m) == self)
        rule_stop_detail(RULE_FAST_MUTEX_RECURSIVE, (ULONG_PTR)m->object, 0, 0, 0,
                         "thread %s already owns the %s at %p", self->name, m->kind, m->object);
}

/* Waits, when another thread holds it, until the releaser's set of the event hands it over. */
static void fm_lock(const struct fm *m, struct _KTHREAD *self)
{
    if (__atomic_sub_fetch(m->count, 1, __ATOMIC_ACQ_REL) != 0) {
        __atomic_add_fetch(m->contention, 1, __ATOMIC_RELAXED);
        disp_wait_for(self, m->event, m->wait_what);
    }
    __atomic_store_n(m->owner, (PKTHREAD)self, __ATOMIC_RELAXED);
    self->fast_mutexes_held++;
}

static bool fm_try_lock(const struct fm *m, struct _KTHREAD *self)
{
    LONG expected = FM_LOCK_BIT;

    if (!__atomic_compare_exchange_n(m->count, &expected, 0, false, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
        return false;
    __atomic_store_n(m->owner, (PKTHREAD)self, __ATOMIC_RELAXED);
    self->fast_mutexes_held++;
    return true;
}

static void fm_unlock(const struct fm *m, struct _KTHREAD *self)
{
    struct _KTHREAD *owner = fm_owner(m);
    char name[96];

    if (owner != self) {
        mutex_describe_owner(owner, "nobody: it is free (released twice?)", name, sizeof name);
        rule_stop_detail(RULE_FAST_MUTEX_RELEASE_NOT_OWNER, (ULONG_PTR)m->object, (ULONG_PTR)owner, (ULONG_PTR)self,
                         0, "thread %s released the %s at %p, owned by %s", self->name, m->kind, m->object, name);
    }
    self->fast_mutexes_held--;
    __atomic_store_n(m->owner, NULL, __ATOMIC_RELAXED);
    if (__atomic_add_fetch(m->count, 1, __ATOMIC_ACQ_REL) != FM_LOCK_BIT)
        KeSetEvent(m->event, 0, FALSE);
}

/* The unsafe forms leave APCs to the caller: they must already be off (rule_id says how far). */
static void fm_check_unsafe(const struct fm *m, const struct _KTHREAD *self, enum rule_id id, bool need_guarded)
{
    bool disabled = need_guarded ? self->guarded_regions != 0 || self->irql >= APC_LEVEL
                                 : region_normal_apcs_disabled(self);

    if (!disabled)
        rule_stop_detail(id, (ULONG_PTR)m->object, self->irql, region_combined_apc_disable(self, 0), 0,
                         "thread %s uses the unsafe form on the %s at %p below APC_LEVEL outside a %s region",
                         self->name, m->kind, m->object, need_guarded ? "guarded" : "critical or guarded");
}

/* ---- FAST_MUTEX ---- */

/* IRQL <= APC_LEVEL; may wait. Raises to APC_LEVEL until ExReleaseFastMutex. */
VOID FASTCALL ExAcquireFastMutex(PFAST_MUTEX FastMutex)
{
    struct _KTHREAD *self = thread_current();
    struct fm m;
    KIRQL old;

    RULE_CHECK_ARGUMENT(FastMutex, RULE_WRITES);
    m = fm_of_fast(FastMutex);
    rule_check_irql(RULE_FAST_MUTEX_ACQUIRE_ABOVE_APC, self->irql, (ULONG_PTR)FastMutex, 0, 0);
    fm_check(&m);
    fm_check_not_owner(&m, self);
    old = KfRaiseIrql(APC_LEVEL);
    lockorder_acquire(self, FastMutex, LOCKORDER_FAST_MUTEX, __builtin_return_address(0));
    fm_lock(&m, self);
    FastMutex->OldIrql = old;
}

/* IRQL <= APC_LEVEL; never waits. TRUE: acquired, and the IRQL raised to APC_LEVEL. */
BOOLEAN FASTCALL ExTryToAcquireFastMutex(PFAST_MUTEX FastMutex)
{
    struct _KTHREAD *self = thread_current();
    struct fm m;
    KIRQL old;

    RULE_CHECK_ARGUMENT(FastMutex, RULE_WRITES);
    m = fm_of_fast(FastMutex);
    rule_check_irql(RULE_FAST_MUTEX_ACQUIRE_ABOVE_APC, self->irql, (ULONG_PTR)FastMutex, 0, 0);
    fm_check(&m);
    old = KfRaiseIrql(APC_LEVEL);
    if (!fm_try_lock(&m, self)) {
        KfLowerIrql(old);
        return FALSE;
    }
    lockorder_try_acquired(self, FastMutex, LOCKORDER_FAST_MUTEX, __builtin_return_address(0));
    FastMutex->OldIrql = old;
    return TRUE;
}

/* IRQL == APC_LEVEL (the fast mutex is held); lowers to the IRQL saved by the acquire. */
VOID FASTCALL ExReleaseFastMutex(PFAST_MUTEX FastMutex)
{
    struct _KTHREAD *self = thread_current();
    struct fm m;
    KIRQL old;

    RULE_CHECK_ARGUMENT(FastMutex, RULE_WRITES);
    m = fm_of_fast(FastMutex);
    rule_check_irql(RULE_FAST_MUTEX_RELEASE_NOT_AT_APC, self->irql, self->fast_mutexes_held,
                    (ULONG_PTR)FastMutex, 0);
    fm_check(&m);
    old = (KIRQL)FastMutex->OldIrql;
    lockorder_release_lowering(self, FastMutex, old);
    fm_unlock(&m, self);
    KfLowerIrql(old);
}

/* At APC_LEVEL or with normal kernel APCs disabled; may wait. No IRQL change. */
VOID FASTCALL ExAcquireFastMutexUnsafe(PFAST_MUTEX FastMutex)
{
    struct _KTHREAD *self = thread_current();
    struct fm m;

    RULE_CHECK_ARGUMENT(FastMutex, RULE_WRITES);
    m = fm_of_fast(FastMutex);
    fm_check_unsafe(&m, self, RULE_FAST_MUTEX_UNSAFE_APCS_ENABLED, false);
    fm_check(&m);
    fm_check_not_owner(&m, self);
    lockorder_acquire(self, FastMutex, LOCKORDER_FAST_MUTEX, __builtin_return_address(0));
    fm_lock(&m, self);
}

/* At APC_LEVEL or with normal kernel APCs disabled. */
VOID FASTCALL ExReleaseFastMutexUnsafe(PFAST_MUTEX FastMutex)
{
    struct _KTHREAD *self = thread_current();
    struct fm m;

    RULE_CHECK_ARGUMENT(FastMutex, RULE_WRITES);
    m = fm_of_fast(FastMutex);
    fm_check_unsafe(&m, self, RULE_FAST_MUTEX_UNSAFE_RELEASE_APCS_ENABLED, false);
    fm_check(&m);
    lockorder_release(self, FastMutex);
    fm_unlock(&m, self);
}

/* ---- KGUARDED_MUTEX: a fast mutex held inside a guarded region instead of at APC_LEVEL ---- */

/* IRQL <= DISPATCH_LEVEL. Free, with its gate a synchronization event. */
VOID FASTCALL KeInitializeGuardedMutex(PKGUARDED_MUTEX Mutex)
{
    rule_check_irql(RULE_KE_ABOVE_DISPATCH, thread_current()->irql, (ULONG_PTR)Mutex, 0, 0);
    RULE_CHECK_ARGUMENT(Mutex, RULE_WRITES);
    Mutex->Count = FM_LOCK_BIT;
    Mutex->Owner = NULL;
    Mutex->Contention = 0;
    Mutex->CombinedApcDisable = 0;
    disp_init_header(&Mutex->Gate.Header, DISP_EVENT_SYNCHRONIZATION, sizeof Mutex->Gate, 0);
    lockorder_init(Mutex, LOCKORDER_GUARDED_MUTEX, __builtin_return_address(0));
}

/* IRQL <= APC_LEVEL; may wait. Enters a guarded region until KeReleaseGuardedMutex. */
VOID FASTCALL KeAcquireGuardedMutex(PKGUARDED_MUTEX Mutex)
{
    struct _KTHREAD *self = thread_current();
    struct fm m;

    RULE_CHECK_ARGUMENT(Mutex, RULE_WRITES);
    m = fm_of_guarded(Mutex);
    rule_check_irql(RULE_FAST_MUTEX_ACQUIRE_ABOVE_APC, self->irql, (ULONG_PTR)Mutex, 0, 0);
    fm_check(&m);
    fm_check_not_owner(&m, self);
    KeEnterGuardedRegion();
    lockorder_acquire(self, Mutex, LOCKORDER_GUARDED_MUTEX, __builtin_return_address(0));
    fm_lock(&m, self);
}

/* IRQL <= APC_LEVEL; never waits. TRUE: acquired, inside a guarded region. */
BOOLEAN FASTCALL KeTryToAcquireGuardedMutex(PKGUARDED_MUTEX Mutex)
{
    struct _KTHREAD *self = thread_current();
    struct fm m;

    RULE_CHECK_ARGUMENT(Mutex, RULE_WRITES);
    m = fm_of_guarded(Mutex);
    rule_check_irql(RULE_FAST_MUTEX_ACQUIRE_ABOVE_APC, self->irql, (ULONG_PTR)Mutex, 0, 0);
    fm_check(&m);
    KeEnterGuardedRegion();
    if (fm_try_lock(&m, self)) {
        lockorder_try_acquired(self, Mutex, LOCKORDER_GUARDED_MUTEX, __builtin_return_address(0));
        return TRUE;
    }
    KeLeaveGuardedRegion();
    return FALSE;
}

/* IRQL <= APC_LEVEL. Releases, then leaves the guarded region the acquire entered. */
VOID FASTCALL KeReleaseGuardedMutex(PKGUARDED_MUTEX Mutex)
{
    struct _KTHREAD *self = thread_current();
    struct fm m;

    RULE_CHECK_ARGUMENT(Mutex, RULE_WRITES);
    m = fm_of_guarded(Mutex);
    rule_check_irql(RULE_FAST_MUTEX_ACQUIRE_ABOVE_APC, self->irql, (ULONG_PTR)Mutex, 0, 0);
    fm_check(&m);
    lockorder_release(self, Mutex);
    fm_unlock(&m, self);
    KeLeaveGuardedRegion();
}

/* Inside a guarded region or at APC_LEVEL; may wait. */
VOID FASTCALL KeAcquireGuardedMutexUnsafe(PKGUARDED_MUTEX Mutex)
{
    struct _KTHREAD *self = thread_current();
    struct fm m;

    RULE_CHECK_ARGUMENT(Mutex, RULE_WRITES);
    m = fm_of_guarded(Mutex);
    fm_check_unsafe(&m, self, RULE_FAST_MUTEX_UNSAFE_APCS_ENABLED, true);
    fm_check(&m);
    fm_check_not_owner(&m, self);
    lockorder_acquire(self, Mutex, LOCKORDER_GUARDED_MUTEX, __builtin_return_address(0));
    fm_lock(&m, self);
}

/* Inside a guarded region or at APC_LEVEL. */
VOID FASTCALL KeReleaseGuardedMutexUnsafe(PKGUARDED_MUTEX Mutex)
{
    struct _KTHREAD *self = thread_current();
    struct fm m;

    RULE_CHECK_ARGUMENT(Mutex, RULE_WRITES);
    m = fm_of_guarded(Mutex);
    fm_check_unsafe(&m, self, RULE_FAST_MUTEX_UNSAFE_RELEASE_APCS_ENABLED, true);
    fm_check(&m);
    lockorder_release(self, Mutex);
    fm_unlock(&m, self);
}
