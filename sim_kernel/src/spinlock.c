/*
 * spinlock.c - KSPIN_LOCK. The lock word holds the owning KTHREAD's address (0 = free), the way
 * checked kernels record the owner, so recursion and release by a non-owner are caught at once.
 * Locking: the lock word itself, taken by atomic compare-and-swap and released by its owner's
 * atomic store. In controlled mode a contended acquire does not spin: it hands the turn to other
 * threads until the lock is free.
 */
#include <sched.h>
#include <stdio.h>

#include "internal.h"
#include "timeline.h"

/* Failed attempts between two checks that the owner still exists. */
#define SPINLOCK_OWNER_CHECK_INTERVAL 4096
/* Failed attempts between two yields: a few pauses (about 100 ns here) catch a lock that is about
 * to be released without a system call, and the yields let a preempted owner run (simulated
 * threads outnumber processors). Measured (docs/performance.md): yielding at every attempt cost
 * the pipeline a quarter of its throughput; spinning 16 or 64 times made two threads on one list
 * two to three times slower than 4 and gained the pipeline nothing. */
#define SPINLOCK_SPINS_PER_YIELD 4

static void spinlock_describe_owner(ULONG_PTR owner, char *buf, size_t size)
{
    if (owner == 0)
        snprintf(buf, size, "nobody: the lock is free (released twice?)");
    else if (!thread_name_of(owner, buf, size))
        snprintf(buf, size, "a thread that no longer exists");
}

/* The owner ended without releasing the lock: on Windows this processor would spin for ever. */
static SIM_NORETURN void spinlock_stop_orphaned(PKSPIN_LOCK lock, struct _KTHREAD *self, ULONG_PTR owner)
{
    rule_stop_detail(RULE_DEADLOCK, 0, 0, 0, 0,
                     "thread %s spins on the spin lock at %p, owned by the thread at %p, which has ended "
                     "without releasing it", self->name, (void *)lock, (void *)owner);
}

/* One compare-and-swap when the lock is free; only a failed one looks at the owner, so a
 * recursive acquire still stops before the first spin. */
void spinlock_acquire(PKSPIN_LOCK lock, struct _KTHREAD *self)
{
    ULONG_PTR me = (ULONG_PTR)self;
    ULONG_PTR expected = 0;

    for (unsigned attempts = 1;
         !__atomic_compare_exchange_n(lock, &expected, me, false, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED); attempts++) {
        if (expected == me)
            rule_stop_detail(RULE_SPINLOCK_ACQUIRE_RECURSIVE, (ULONG_PTR)lock, 0, 0, 0,
                             "thread %s already owns the spin lock at %p", self->name, (void *)lock);
        if (attempts % SPINLOCK_OWNER_CHECK_INTERVAL == 0 && !thread_is_running(expected))
            spinlock_stop_orphaned(lock, self, expected);
        expected = 0;
        if (sched_is_controlled())
            sched_spin_wait(self, lock);
        else if (attempts % SPINLOCK_SPINS_PER_YIELD == 0)
            sched_yield();
        else
            spinlock_relax();
    }
    self->spinlocks_held++;
    timeline_lock(lock, true);
}

/* A plain release store after the owner check: while this thread owns the lock no other thread's
 * acquire or release can change the word, so the check cannot go stale before the store, and the
 * store costs less than a second locked instruction per acquire/release pair. */
void spinlock_release(PKSPIN_LOCK lock, struct _KTHREAD *self)
{
    ULONG_PTR owner = __atomic_load_n(lock, __ATOMIC_RELAXED);
    char text[96];

    if (owner != (ULONG_PTR)self) {
        spinlock_describe_owner(owner, text, sizeof text);
        rule_stop_detail(RULE_SPINLOCK_RELEASE_NOT_OWNER, (ULONG_PTR)lock, 0, 0, 0,
                         "thread %s released the spin lock at %p, owned by %s", self->name,
                         (void *)lock, text);
    }
    timeline_lock(lock, false);
    __atomic_store_n(lock, 0, __ATOMIC_RELEASE);
    self->spinlocks_held--;
}

/* Any IRQL. */
VOID NTAPI KeInitializeSpinLock(PKSPIN_LOCK SpinLock)
{
    RULE_CHECK_ARGUMENT(SpinLock, RULE_WRITES);
    __atomic_store_n(SpinLock, 0, __ATOMIC_RELEASE);
    lockorder_init(SpinLock, LOCKORDER_SPIN_LOCK, __builtin_return_address(0));
}

/* IRQL <= DISPATCH_LEVEL; raises to DISPATCH_LEVEL and returns the old IRQL. */
KIRQL NTAPI KeAcquireSpinLockRaiseToDpc(PKSPIN_LOCK SpinLock)
{
    struct _KTHREAD *self = thread_current();
    KIRQL old = self->irql;

    rule_check_irql(RULE_SPINLOCK_ACQUIRE_ABOVE_DISPATCH, old, (ULONG_PTR)SpinLock, 0, 0);
    RULE_CHECK_ARGUMENT(SpinLock, RULE_WRITES);
    timeline_irql(old, DISPATCH_LEVEL);
    self->irql = DISPATCH_LEVEL;
    lockorder_acquire(self, SpinLock, LOCKORDER_SPIN_LOCK, __builtin_return_address(0));
    spinlock_acquire(SpinLock, self);
    return old;
}

/* IRQL == DISPATCH_LEVEL (the lock is held); lowers to NewIrql. */
VOID NTAPI KeReleaseSpinLock(PKSPIN_LOCK SpinLock, KIRQL NewIrql)
{
    struct _KTHREAD *self = thread_current();

    rule_check_irql(RULE_SPINLOCK_RELEASE_NOT_AT_DISPATCH, self->irql, (ULONG_PTR)SpinLock, 0, 0);
    RULE_CHECK_ARGUMENT(SpinLock, RULE_WRITES);
    lockorder_release_lowering(self, SpinLock, NewIrql);
    spinlock_release(SpinLock, self);
    KfLowerIrql(NewIrql);
}

/* IRQL >= DISPATCH_LEVEL; no IRQL change. */
VOID NTAPI KeAcquireSpinLockAtDpcLevel(PKSPIN_LOCK SpinLock)
{
    struct _KTHREAD *self = thread_current();

    rule_check_irql(RULE_SPINLOCK_AT_DPC_BELOW_DISPATCH, self->irql, (ULONG_PTR)SpinLock, 0, 0);
    RULE_CHECK_ARGUMENT(SpinLock, RULE_WRITES);
    lockorder_acquire(self, SpinLock, LOCKORDER_SPIN_LOCK, __builtin_return_address(0));
    spinlock_acquire(SpinLock, self);
}

/* IRQL >= DISPATCH_LEVEL; no IRQL change. */
VOID NTAPI KeReleaseSpinLockFromDpcLevel(PKSPIN_LOCK SpinLock)
{
    struct _KTHREAD *self = thread_current();

    rule_check_irql(RULE_SPINLOCK_FROM_DPC_BELOW_DISPATCH, self->irql, (ULONG_PTR)SpinLock, 0, 0);
    RULE_CHECK_ARGUMENT(SpinLock, RULE_WRITES);
    lockorder_release(self, SpinLock);
    spinlock_release(SpinLock, self);
}
