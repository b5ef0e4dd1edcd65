/*
 * region.c - a thread's APC state. A critical region (KeEnterCriticalRegion) disables normal
 * kernel and user APCs, a guarded region (KeEnterGuardedRegion) all APCs; each is a nesting count
 * of the thread's, and a KMUTEX the thread owns disables normal kernel APCs too, as in Windows,
 * where acquiring one subtracts its ApcDisable. The simulator delivers no APCs, so the state shows
 * in KeAreApcsDisabled / KeAreAllApcsDisabled and in the checks that read it: an unbalanced leave,
 * a thread ending inside a region, a dispatch or worker routine returning with it changed, and the
 * DDIs that require APCs disabled.
 * Locking: the counts are the thread's own and only it touches them; its owned mutexes are read
 * under the dispatcher lock, which guards that list.
 */
#include "internal.h"

/* KTHREAD.CombinedApcDisable as Windows keeps it: SpecialApcDisable in the high 16 bits,
 * KernelApcDisable in the low 16, each counting down from 0 as regions are entered. */
ULONG region_combined_apc_disable(const struct _KTHREAD *thread, unsigned mutexes_held)
{
    USHORT kernel = (USHORT)-(SHORT)(thread->critical_regions + mutexes_held);
    USHORT special = (USHORT)-(SHORT)thread->guarded_regions;

    return ((ULONG)special << 16) | kernel;
}

static unsigned region_mutexes_owned(const struct _KTHREAD *self)
{
    unsigned owned = 0;

    disp_lock();
    for (const LIST_ENTRY *e = self->mutants_owned.Flink; e != &self->mutants_owned; e = e->Flink)
        owned++;
    disp_unlock();
    return owned;
}

/* Dispatcher lock held. A thread must end with every region it entered left (what it owns is
 * checked first, by the families that own it). */
static void region_check_exit(const struct _KTHREAD *self)
{
    disp_assert_held();
    if (self->critical_regions == 0 && self->guarded_regions == 0)
        return;
    rule_stop_detail(RULE_REGION_HELD_AT_THREAD_EXIT, 0, region_combined_apc_disable(self, 0), self->irql, 0,
                     "thread %s ends inside %u critical and %u guarded region(s)", self->name,
                     self->critical_regions, self->guarded_regions);
}

static struct thread_exit_check region_exit_check = {
    .order = THREAD_EXIT_STATE,
    .check = region_check_exit,
};
THREAD_EXIT_CHECK(region_exit_check)

bool region_normal_apcs_disabled(const struct _KTHREAD *self)
{
    return self->irql >= APC_LEVEL || region_combined_apc_disable(self, region_mutexes_owned(self)) != 0;
}

/* IRQL <= APC_LEVEL. Disables normal kernel and user APCs until the matching leave; nests. */
VOID NTAPI KeEnterCriticalRegion(VOID)
{
    struct _KTHREAD *self = thread_current();

    rule_check_irql(RULE_CRITICAL_REGION_ENTER_ABOVE_APC, self->irql, 0, 0, 0);
    self->critical_regions++;
}

/* IRQL <= APC_LEVEL. Leaves the innermost critical region. */
VOID NTAPI KeLeaveCriticalRegion(VOID)
{
    struct _KTHREAD *self = thread_current();

    rule_check_irql(RULE_CRITICAL_REGION_LEAVE_ABOVE_APC, self->irql, 0, 0, 0);
    if (self->critical_regions == 0)
        rule_stop_detail(RULE_CRITICAL_REGION_UNBALANCED, (ULONG_PTR)self, 0, 0, 0,
                         "thread %s is in no critical region", self->name);
    self->critical_regions--;
}

/* IRQL <= APC_LEVEL. Disables all APCs, special kernel APCs too, until the matching leave. */
VOID NTAPI KeEnterGuardedRegion(VOID)
{
    struct _KTHREAD *self = thread_current();

    rule_check_irql(RULE_GUARDED_REGION_ABOVE_APC, self->irql, 0, 0, 0);
    self->guarded_regions++;
}

/* IRQL <= APC_LEVEL. Leaves the innermost guarded region. */
VOID NTAPI KeLeaveGuardedRegion(VOID)
{
    struct _KTHREAD *self = thread_current();

    rule_check_irql(RULE_GUARDED_REGION_ABOVE_APC, self->irql, 0, 0, 0);
    if (self->guarded_regions == 0)
        rule_stop_detail(RULE_GUARDED_REGION_UNBALANCED, (ULONG_PTR)self, 0, 0, 0,
                         "thread %s is in no guarded region", self->name);
    self->guarded_regions--;
}

/* IRQL <= DISPATCH_LEVEL. TRUE inside a critical or guarded region, or while owning a KMUTEX:
 * whenever normal kernel APCs are disabled (KTHREAD.CombinedApcDisable != 0). */
BOOLEAN NTAPI KeAreApcsDisabled(VOID)
{
    struct _KTHREAD *self = thread_current();

    rule_check_irql(RULE_KE_ABOVE_DISPATCH, self->irql, 0, 0, 0);
    return region_combined_apc_disable(self, region_mutexes_owned(self)) != 0;
}

/* IRQL <= DISPATCH_LEVEL. TRUE inside a guarded region or at APC_LEVEL and above: whenever special
 * kernel APCs are disabled as well. */
BOOLEAN NTAPI KeAreAllApcsDisabled(VOID)
{
    struct _KTHREAD *self = thread_current();

    rule_check_irql(RULE_KE_ABOVE_DISPATCH, self->irql, 0, 0, 0);
    return self->guarded_regions != 0 || self->irql >= APC_LEVEL;
}
