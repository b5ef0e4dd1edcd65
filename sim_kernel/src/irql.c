/*
 * irql.c - the current IRQL of each simulated thread, and the raise/lower DDIs with their rules.
 * Each simulated thread stands for a processor of its own, so the IRQL lives in its KTHREAD and
 * needs no lock: only the owning thread reads or writes it.
 */
#include <stdio.h>

#include "internal.h"
#include "timeline.h"

void irql_set(KIRQL irql)
{
    struct _KTHREAD *self = thread_current_quiet();

    timeline_irql(self->irql, irql);
    self->irql = irql;
}

const char *irql_name(KIRQL irql)
{
    static const char *const names[] = { "PASSIVE_LEVEL", "APC_LEVEL", "DISPATCH_LEVEL" };
    static const char *const device[] = { [CMCI_LEVEL] = "CMCI_LEVEL", [CLOCK_LEVEL] = "CLOCK_LEVEL",
                                          [IPI_LEVEL] = "IPI_LEVEL", [HIGH_LEVEL] = "HIGH_LEVEL" };

    if (irql < 3)
        return names[irql];
    if (irql <= HIGH_LEVEL && device[irql] != NULL)
        return device[irql];
    return irql <= HIGH_LEVEL ? "DIRQL" : "invalid IRQL";
}

/* Any IRQL. */
KIRQL NTAPI KeGetCurrentIrql(VOID)
{
    return irql_current();
}

/* Any IRQL; NewIrql must not be below the current IRQL. */
KIRQL FASTCALL KfRaiseIrql(KIRQL NewIrql)
{
    struct _KTHREAD *self = thread_current();
    KIRQL old = self->irql;

    if (NewIrql < old || NewIrql > HIGH_LEVEL)
        rule_stop(RULE_RAISE_IRQL_TO_LOWER, old, NewIrql, 0, 0);
    timeline_irql(old, NewIrql);
    self->irql = NewIrql;
    return old;
}

/* Any IRQL; NewIrql must not be above the current IRQL. */
VOID FASTCALL KfLowerIrql(KIRQL NewIrql)
{
    struct _KTHREAD *self = thread_current();

    if (NewIrql > self->irql)
        rule_stop(RULE_LOWER_IRQL_TO_HIGHER, self->irql, NewIrql, 0, 0);
    timeline_irql(self->irql, NewIrql);
    self->irql = NewIrql;
}

/* IRQL <= DISPATCH_LEVEL. */
KIRQL NTAPI KeRaiseIrqlToDpcLevel(VOID)
{
    return KfRaiseIrql(DISPATCH_LEVEL);
}
