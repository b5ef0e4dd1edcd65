/*
 * rules.c - the rule catalog: one row per kernel rule a DDI enforces, with the bug check Windows
 * (or Driver Verifier, which the simulator always runs) raises, why, and the usual fix.
 * Checks, STOP reports and docs/irql-rules.md all read this table. Read-only: no locking.
 */
#include <stdarg.h>
#include <stdio.h>

#include "internal.h"

#define C4 0xC4u, "DRIVER_VERIFIER_DETECTED_VIOLATION"
#define C2 0xC2u, "BAD_POOL_CALLER"

static const struct rule rule_catalog[RULE_COUNT] = {
    [RULE_RAISE_IRQL_TO_LOWER] = {
        { "irql.raise_to_lower", "KeRaiseIrql", "the new IRQL is lower than the current IRQL, or not an IRQL at all",
          C4, 0x30,
          "KeRaiseIrql only raises; going down with it would hide a missing KeLowerIrql.",
          "Lower with KeLowerIrql(OldIrql), passing the IRQL the matching KeRaiseIrql saved." },
        RULE_STATE, 0 },
    [RULE_LOWER_IRQL_TO_HIGHER] = {
        { "irql.lower_to_higher", "KeLowerIrql", "the new IRQL is higher than the current IRQL",
          C4, 0x31,
          "KeLowerIrql only lowers; a higher value means the saved IRQL was lost or swapped.",
          "Pass exactly the OldIrql that KeRaiseIrql or KeAcquireSpinLock returned." },
        RULE_STATE, 0 },
    [RULE_SPINLOCK_ACQUIRE_ABOVE_DISPATCH] = {
        { "spinlock.acquire_above_dispatch", "KeAcquireSpinLock, KeAcquireSpinLockRaiseToDpc",
          "called above DISPATCH_LEVEL", C4, 0x42,
          "KeAcquireSpinLock raises to DISPATCH_LEVEL; called higher it would lower the IRQL.",
          "Above DISPATCH_LEVEL use the interrupt spin lock (KeSynchronizeExecution) instead." },
        RULE_IRQL_AT_MOST, DISPATCH_LEVEL },
    [RULE_SPINLOCK_ACQUIRE_RECURSIVE] = {
        { "spinlock.recursive_acquire",
          "KeAcquireSpinLock, KeAcquireSpinLockAtDpcLevel, ExInterlocked*List",
          "the calling thread already owns the spin lock", 0x0Fu, "SPIN_LOCK_ALREADY_OWNED", -1,
          "Spin locks are not recursive: the second acquire spins forever on a real machine.",
          "Release the lock before calling code that takes it again; never call ExInterlocked*List "
          "with a lock you hold." },
        RULE_STATE, 0 },
    [RULE_SPINLOCK_RELEASE_NOT_OWNER] = {
        { "spinlock.release_not_owner", "KeReleaseSpinLock, KeReleaseSpinLockFromDpcLevel",
          "the calling thread does not own the spin lock", 0x10u, "SPIN_LOCK_NOT_OWNED", -1,
          "Releasing a lock you do not hold (a double release, or another thread's lock) breaks "
          "the mutual exclusion of whoever holds it.",
          "Release each lock exactly once, on the thread that acquired it." },
        RULE_STATE, 0 },
    [RULE_SPINLOCK_RELEASE_NOT_AT_DISPATCH] = {
        { "spinlock.release_not_at_dispatch", "KeReleaseSpinLock",
          "called at an IRQL other than DISPATCH_LEVEL", C4, 0x32,
          "Holding a spin lock means running at DISPATCH_LEVEL; any other IRQL at release means "
          "the IRQL was changed while it was held, or the lock was already released.",
          "Do not change the IRQL while holding a spin lock; release it once with the OldIrql "
          "from its acquire." },
        RULE_IRQL_EXACTLY, DISPATCH_LEVEL },
    [RULE_SPINLOCK_AT_DPC_BELOW_DISPATCH] = {
        { "spinlock.at_dpc_level_below_dispatch", "KeAcquireSpinLockAtDpcLevel",
          "called below DISPATCH_LEVEL", C4, 0x40,
          "The AtDpcLevel form does not raise the IRQL, so below DISPATCH_LEVEL the holder can "
          "be preempted while other processors spin.",
          "Use KeAcquireSpinLock at PASSIVE_LEVEL or APC_LEVEL; keep the AtDpcLevel form for "
          "DPCs and code already at DISPATCH_LEVEL." },
        RULE_IRQL_AT_LEAST, DISPATCH_LEVEL },
    [RULE_SPINLOCK_FROM_DPC_BELOW_DISPATCH] = {
        { "spinlock.from_dpc_level_below_dispatch", "KeReleaseSpinLockFromDpcLevel",
          "called below DISPATCH_LEVEL", C4, 0x41,
          "The FromDpcLevel form pairs with KeAcquireSpinLockAtDpcLevel; below DISPATCH_LEVEL "
          "the lock was taken another way or the IRQL was lowered while holding it.",
          "Pair KeAcquireSpinLock with KeReleaseSpinLock and the AtDpcLevel form with the "
          "FromDpcLevel form." },
        RULE_IRQL_AT_LEAST, DISPATCH_LEVEL },
    [RULE_LIST_CORRUPT] = {
        { "list.corrupt_links", "InsertHeadList, InsertTailList, RemoveEntryList, RemoveHeadList, "
          "RemoveTailList", "a neighbouring entry does not point back at the entry",
          0x139u, "KERNEL_SECURITY_CHECK_FAILURE", 3,
          "The list links are corrupt: usually an entry removed twice, inserted twice, freed "
          "while still on a list, or a list head that was never initialised.",
          "Call InitializeListHead before use; remove an entry exactly once; never free memory "
          "that is still linked into a list." },
        RULE_STATE, 0 },
    [RULE_POOL_ZERO_SIZE] = {
        { "pool.zero_size", "ExAllocatePool, ExAllocatePoolWithTag", "NumberOfBytes is 0",
          C2, 0x00,
          "A zero-byte allocation is almost always a length computed wrongly.",
          "Check the size computation; allocate at least one byte or skip the allocation." },
        RULE_STATE, 0 },
    [RULE_POOL_NONPAGED_ABOVE_DISPATCH] = {
        { "pool.nonpaged_alloc_above_dispatch", "ExAllocatePool, ExAllocatePoolWithTag",
          "a nonpaged allocation above DISPATCH_LEVEL", C2, 0x08,
          "The pool allocator takes locks that work only up to DISPATCH_LEVEL.",
          "Allocate beforehand, at DISPATCH_LEVEL or below, and hand the memory in." },
        RULE_IRQL_AT_MOST, DISPATCH_LEVEL },
    [RULE_POOL_PAGED_ABOVE_APC] = {
        { "pool.paged_alloc_above_apc", "ExAllocatePool, ExAllocatePoolWithTag",
          "a PagedPool allocation above APC_LEVEL", C2, 0x08,
          "Paged pool can cause a page fault, and page faults cannot be served at "
          "DISPATCH_LEVEL or above.",
          "Use NonPagedPool (NonPagedPoolNx) for memory touched at DISPATCH_LEVEL, or allocate "
          "at PASSIVE_LEVEL." },
        RULE_IRQL_AT_MOST, APC_LEVEL },
    [RULE_POOL_MUST_SUCCEED] = {
        { "pool.must_succeed", "ExAllocatePool, ExAllocatePoolWithTag",
          "a MustSucceed pool type", C2, 0x9A,
          "MustSucceed pool types are obsolete; the kernel refuses them.",
          "Use NonPagedPoolNx and handle a NULL return." },
        RULE_STATE, 0 },
    [RULE_POOL_ZERO_TAG] = {
        { "pool.zero_tag", "ExAllocatePoolWithTag", "the pool tag is 0",
          C2, 0x9B,
          "A tag of 0 makes the allocation untraceable in pool reports.",
          "Use a four-character tag unique to your driver, such as 'gbDP'." },
        RULE_STATE, 0 },
    [RULE_POOL_FREE_NONPAGED_ABOVE_DISPATCH] = {
        { "pool.nonpaged_free_above_dispatch", "ExFreePool, ExFreePoolWithTag",
          "freeing nonpaged pool above DISPATCH_LEVEL", C2, 0x09,
          "The pool allocator takes locks that work only up to DISPATCH_LEVEL.",
          "Free the block later, at DISPATCH_LEVEL or below." },
        RULE_IRQL_AT_MOST, DISPATCH_LEVEL },
    [RULE_POOL_FREE_PAGED_ABOVE_APC] = {
        { "pool.paged_free_above_apc", "ExFreePool, ExFreePoolWithTag",
          "freeing PagedPool above APC_LEVEL", C2, 0x09,
          "Freeing paged pool can touch pageable memory, which faults at DISPATCH_LEVEL.",
          "Free paged pool at PASSIVE_LEVEL or APC_LEVEL, e.g. from a work item." },
        RULE_IRQL_AT_MOST, APC_LEVEL },
    [RULE_POOL_DOUBLE_FREE] = {
        { "pool.double_free", "ExFreePool, ExFreePoolWithTag", "the block was already freed",
          C2, 0x07,
          "Freeing a block twice corrupts the pool for every driver in the system.",
          "Free each block once and set your pointer to NULL after freeing it." },
        RULE_STATE, 0 },
    [RULE_POOL_FREE_BAD_ADDRESS] = {
        { "pool.free_bad_address", "ExFreePool, ExFreePoolWithTag",
          "the address is not one the pool returned (NULL, an interior pointer, stack memory)",
          C2, 0x46,
          "The pool can only free the exact address an allocation returned.",
          "Free the pointer ExAllocatePoolWithTag returned, not an offset into it; check for NULL "
          "before freeing." },
        RULE_STATE, 0 },
    [RULE_POOL_FREE_TAG_MISMATCH] = {
        { "pool.free_tag_mismatch", "ExFreePoolWithTag",
          "the tag differs from the one the block was allocated with", C2, 0x0A,
          "A different tag means the code frees a block it did not allocate, or mixes up tags.",
          "Free with the same tag you allocated with." },
        RULE_STATE, 0 },
};

const struct rule *rule_get(enum rule_id id)
{
    return &rule_catalog[id];
}

static SIM_NORETURN void rule_stop_with(enum rule_id id, ULONG_PTR a, ULONG_PTR b, ULONG_PTR c,
                                         ULONG_PTR d, const char *detail)
{
    const struct rule *rule = rule_get(id);
    ULONG_PTR params[4] = { a, b, c, d };

    if (rule->info.subcode >= 0) {
        params[0] = (ULONG_PTR)rule->info.subcode;
        params[1] = a;
        params[2] = b;
        params[3] = c;
    }
    bugcheck_stop(rule->info.code, params, rule, detail);
}

SIM_NORETURN void rule_stop(enum rule_id id, ULONG_PTR a, ULONG_PTR b, ULONG_PTR c, ULONG_PTR d)
{
    rule_stop_with(id, a, b, c, d, NULL);
}

SIM_NORETURN void rule_stop_detail(enum rule_id id, ULONG_PTR a, ULONG_PTR b, ULONG_PTR c, ULONG_PTR d,
                                   const char *fmt, ...)
{
    char detail[256];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    rule_stop_with(id, a, b, c, d, detail);
}

static bool rule_irql_allowed(const struct rule *rule, KIRQL irql)
{
    switch (rule->kind) {
    case RULE_IRQL_AT_MOST:
        return irql <= rule->irql;
    case RULE_IRQL_AT_LEAST:
        return irql >= rule->irql;
    case RULE_IRQL_EXACTLY:
        return irql == rule->irql;
    case RULE_STATE:
        break;
    }
    return true;
}

void rule_check_irql(enum rule_id id, ULONG_PTR a, ULONG_PTR b, ULONG_PTR c, ULONG_PTR d)
{
    if (!rule_irql_allowed(rule_get(id), irql_current()))
        rule_stop(id, a, b, c, d);
}

size_t wdmsim_rule_count(void)
{
    return RULE_COUNT;
}

const struct wdmsim_rule_info *wdmsim_rule_at(size_t index)
{
    return index < RULE_COUNT ? &rule_catalog[index].info : NULL;
}

static void rules_write_row(FILE *out, const struct rule *rule)
{
    const struct wdmsim_rule_info *info = &rule->info;
    static const char *const relation[] = {
        [RULE_IRQL_AT_MOST] = "&le; ", [RULE_IRQL_AT_LEAST] = "&ge; ", [RULE_IRQL_EXACTLY] = "= ",
    };
    char irql[32] = "-";
    char code[32];

    if (rule->kind != RULE_STATE)
        snprintf(irql, sizeof irql, "%s%s", relation[rule->kind], irql_name(rule->irql));
    if (info->subcode >= 0)
        snprintf(code, sizeof code, "0x%X / 0x%llX", info->code, (unsigned long long)info->subcode);
    else
        snprintf(code, sizeof code, "0x%X", info->code);
    fprintf(out, "| `%s` | %s | %s | %s | %s %s | %s | %s |\n", info->id, info->ddi, info->condition,
            irql, code, info->code_name, info->explanation, info->fix);
}

void wdmsim_rules_write_markdown(FILE *out)
{
    fputs("# The rule catalog\n\n"
          "Generated by `wdmsim rules` from `sim_kernel/src/rules.c`; do not edit by hand.\n"
          "Each row is one rule a DDI checks on entry. Breaking it stops the simulated machine with\n"
          "the bug check shown (parameter 1 is the subcode where there is one), as Windows with\n"
          "Driver Verifier would. The IRQL column is the IRQL the DDI requires, where the rule is about\n"
          "IRQL.\n\n"
          "| rule | DDI | broken when | IRQL | bug check | why | fix |\n"
          "|---|---|---|---|---|---|---|\n",
          out);
    for (size_t i = 0; i < RULE_COUNT; i++)
        rules_write_row(out, &rule_catalog[i]);
}
