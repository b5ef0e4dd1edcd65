/*
 * processor.c - the simulated machine's processors: PROCESSOR_COUNT of them, all active, in
 * group 0, and the processor each simulated thread runs on. A thread is given one at its first
 * query, round robin in that order, and keeps it: the simulator never migrates a thread by itself.
 * A system affinity (KeSetSystemAffinityThread(Ex)) that excludes its processor moves it to the
 * lowest processor of the affinity, and reverting takes it back to the one it was given. A DPC
 * routine runs on its DPC's processor (dpc.c: the target, or the processor that queued it).
 * Windows defers a move made at DISPATCH_LEVEL until the IRQL drops; the simulator moves at once.
 * Locking: a thread's place is its own (struct processor_place); the round-robin counter is atomic.
 */
#include <stdatomic.h>

#include "internal.h"

#define PROCESSOR_ACTIVE_MASK ((KAFFINITY)((1ull << PROCESSOR_COUNT) - 1))

static atomic_uint processor_next;

void processor_boot(void)
{
    atomic_store(&processor_next, 0);
}

unsigned processor_of(struct _KTHREAD *thread)
{
    struct processor_place *place = &thread->cpu;

    if (!place->placed) {
        place->home = (UCHAR)(atomic_fetch_add(&processor_next, 1) % PROCESSOR_COUNT);
        place->processor = place->home;
        place->placed = true;
    }
    return place->processor;
}

void processor_run_on(struct _KTHREAD *thread, unsigned processor)
{
    processor_of(thread);
    thread->cpu.processor = (UCHAR)processor;
}

/* Any IRQL. */
ULONG NTAPI KeQueryActiveProcessorCount(PKAFFINITY ActiveProcessors)
{
    if (ActiveProcessors != NULL)
        *ActiveProcessors = PROCESSOR_ACTIVE_MASK;
    return PROCESSOR_COUNT;
}

/* Any IRQL. Group 0 or ALL_PROCESSOR_GROUPS: every processor; another group has none. */
ULONG NTAPI KeQueryActiveProcessorCountEx(USHORT GroupNumber)
{
    return GroupNumber == 0 || GroupNumber == ALL_PROCESSOR_GROUPS ? PROCESSOR_COUNT : 0;
}

/* Any IRQL. */
KAFFINITY NTAPI KeQueryActiveProcessors(VOID)
{
    return PROCESSOR_ACTIVE_MASK;
}

/* Any IRQL. Below DISPATCH_LEVEL the answer may be stale by the time it is used, as on Windows. */
ULONG NTAPI KeGetCurrentProcessorNumber(VOID)
{
    return processor_of(thread_current());
}

/* Any IRQL. The system-wide index and, when ProcNumber is given, the group-relative number. */
ULONG NTAPI KeGetCurrentProcessorNumberEx(PPROCESSOR_NUMBER ProcNumber)
{
    unsigned processor = processor_of(thread_current());

    if (ProcNumber != NULL) {
        ProcNumber->Group = 0;
        ProcNumber->Number = (UCHAR)processor;
        ProcNumber->Reserved = 0;
    }
    return processor;
}

/* The lowest processor of affinity, unless the thread's own is in it. */
static void processor_follow(struct _KTHREAD *self, KAFFINITY affinity)
{
    unsigned processor = processor_of(self);

    if (affinity & ((KAFFINITY)1 << processor))
        return;
    self->cpu.processor = (UCHAR)__builtin_ctzll(affinity);
}

/* An affinity takes effect only when it names processors that exist and one of them is active. */
static bool processor_affinity_valid(KAFFINITY affinity)
{
    return affinity != 0 && (affinity & ~PROCESSOR_ACTIVE_MASK) == 0;
}

/* IRQL <= DISPATCH_LEVEL. The previous system affinity (0: none, the user affinity applied). */
KAFFINITY NTAPI KeSetSystemAffinityThreadEx(KAFFINITY Affinity)
{
    struct _KTHREAD *self = thread_current();
    KAFFINITY previous = self->cpu.system_affinity;

    rule_check_irql(RULE_KE_ABOVE_DISPATCH, self->irql, 0, 0, 0);
    if (!processor_affinity_valid(Affinity))
        return previous;
    self->cpu.system_affinity = Affinity;
    processor_follow(self, Affinity);
    return previous;
}

/* IRQL <= DISPATCH_LEVEL. */
VOID NTAPI KeSetSystemAffinityThread(KAFFINITY Affinity)
{
    KeSetSystemAffinityThreadEx(Affinity);
}

/* IRQL <= DISPATCH_LEVEL. Affinity 0 restores the user affinity (the thread goes back to the
 * processor it was given); another valid one becomes the system affinity again. */
VOID NTAPI KeRevertToUserAffinityThreadEx(KAFFINITY Affinity)
{
    struct _KTHREAD *self = thread_current();

    rule_check_irql(RULE_KE_ABOVE_DISPATCH, self->irql, 0, 0, 0);
    if (self->cpu.system_affinity == 0)
        return;
    if (Affinity == 0) {
        self->cpu.system_affinity = 0;
        self->cpu.processor = self->cpu.home;
    } else if (processor_affinity_valid(Affinity)) {
        self->cpu.system_affinity = Affinity;
        processor_follow(self, Affinity);
    }
}

/* IRQL <= DISPATCH_LEVEL. */
VOID NTAPI KeRevertToUserAffinityThread(VOID)
{
    KeRevertToUserAffinityThreadEx(0);
}
