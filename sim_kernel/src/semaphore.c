/*
 * semaphore.c - KSEMAPHORE: SignalState is the count, each satisfied wait takes one (dispatcher.c
 * does that); a release adds to it, never beyond Limit, and wakes as many waiters as it can.
 * Locking: the dispatcher lock, for every state change and every read.
 */
#include "internal.h"

/* Stops unless Semaphore is an initialised semaphore; returns its header. Lock held. */
static DISPATCHER_HEADER *semaphore_header(PRKSEMAPHORE Semaphore)
{
    disp_check_object(&Semaphore->Header);
    if (Semaphore->Header.Type != DISP_SEMAPHORE)
        rule_stop_detail(RULE_DISPATCHER_UNINITIALIZED, (ULONG_PTR)Semaphore, 0, 0, 0,
                         "the object at %p is a dispatcher object of type %u, not a semaphore",
                         (void *)Semaphore, Semaphore->Header.Type);
    return &Semaphore->Header;
}

/* Any IRQL (the current documentation asks for PASSIVE_LEVEL; older kernels never checked).
 * Count >= 0 is the initial count, Limit > 0 the most it may ever reach. */
VOID NTAPI KeInitializeSemaphore(PRKSEMAPHORE Semaphore, LONG Count, LONG Limit)
{
    RULE_CHECK_ARGUMENT(Semaphore, RULE_WRITES);
    disp_init_header(&Semaphore->Header, DISP_SEMAPHORE, sizeof *Semaphore, Count);
    Semaphore->Limit = Limit;
}

/* IRQL <= DISPATCH_LEVEL (<= APC_LEVEL with Wait = TRUE). Adds Adjustment; the previous count. */
LONG NTAPI KeReleaseSemaphore(PRKSEMAPHORE Semaphore, KPRIORITY Increment, LONG Adjustment, BOOLEAN Wait)
{
    KIRQL irql = irql_current();
    DISPATCHER_HEADER *header;
    LONG previous, count;

    RULE_CHECK_ARGUMENT(Semaphore, RULE_WRITES);
    rule_check_irql(RULE_KE_ABOVE_DISPATCH, irql, (ULONG_PTR)Semaphore, 0, 0);
    if (Wait)
        rule_check_irql(RULE_WAIT_TRUE_ABOVE_APC, irql, (ULONG_PTR)Semaphore, 0, 0);
    disp_lock();
    header = semaphore_header(Semaphore);
    previous = header->SignalState;
    /* As NT: a negative Adjustment fails like an overflow, since the count must not drop here. */
    if (__builtin_add_overflow(previous, Adjustment, &count) || count > Semaphore->Limit || count < previous)
        rule_stop_detail(RULE_SEMAPHORE_LIMIT_EXCEEDED, (ULONG_PTR)Semaphore, (ULONG_PTR)Adjustment,
                         (ULONG_PTR)Semaphore->Limit, 0,
                         "releasing %d to the semaphore at %p would pass its limit %d; the count "
                         "stays %d", Adjustment, (void *)Semaphore, Semaphore->Limit, previous);
    header->SignalState = count;
    disp_wait_test_boost(header, Increment);
    disp_unlock();
    return previous;
}

/* Any IRQL. The current count: 0 = not signalled. */
LONG NTAPI KeReadStateSemaphore(PRKSEMAPHORE Semaphore)
{
    LONG count;

    RULE_CHECK_ARGUMENT(Semaphore, RULE_READS);
    disp_lock();
    count = semaphore_header(Semaphore)->SignalState;
    disp_unlock();
    return count;
}
