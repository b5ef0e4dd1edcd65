/*
 * lookaside.c - lookaside lists: a driver's cache of same-sized blocks. A freed block goes on the
 * list's SLIST while the list holds fewer than Depth, else back through the list's free routine;
 * an allocation takes from the SLIST, else through the allocate routine (ExAllocatePoolWithTag and
 * ExFreePool unless the driver gives its own), so the blocks are the driver's pool. Windows' balance
 * set manager tunes Depth by the miss rate; the simulator keeps the initial depth. Every initialised
 * list is recorded, for the checks other families make: freed memory holding a live list
 * (0xC4/0xCC), an unload leaving one (0xCE).
 * Locking: the dispatcher lock guards the records; the allocate and free routines, driver code,
 * run without it. A list's SLIST is interlocked, its counters are updated atomically.
 */
#include <stdatomic.h>
#include <stdio.h>

#include "internal.h"

/* Windows' initial and maximum depth of a lookaside list (ExMinimumLookasideDepth and the cap). */
#define LOOKASIDE_DEPTH 4
#define LOOKASIDE_MAXIMUM_DEPTH 256
#define LOOKASIDE_EX_FLAGS (EX_LOOKASIDE_LIST_EX_FLAGS_RAISE_ON_FAIL | EX_LOOKASIDE_LIST_EX_FLAGS_FAIL_NO_RAISE)

enum lookaside_kind { LOOKASIDE_NPAGED, LOOKASIDE_PAGED, LOOKASIDE_EX };

struct lookaside_record {
    PGENERAL_LOOKASIDE_POOL list;   /* the L of an NPAGED/PAGED_LOOKASIDE_LIST or LOOKASIDE_LIST_EX */
    enum lookaside_kind kind;
    bool raise;                     /* a failed allocation raises STATUS_INSUFFICIENT_RESOURCES */
    USHORT driver;                  /* the index of the driver that initialised it */
    struct lookaside_record *next;
};

static struct lookaside_record *records;
/* How many records there are, read without the lock by the pool's free check. */
static atomic_size_t record_count;

static const char *const lookaside_names[] = { "NPAGED_LOOKASIDE_LIST", "PAGED_LOOKASIDE_LIST", "LOOKASIDE_LIST_EX" };

/* A new boot forgets the last one's lists (their memory was the drivers'). */
void lookaside_boot(void)
{
    while (records != NULL) {
        struct lookaside_record *next = records->next;

        free(records);
        records = next;
    }
    atomic_store(&record_count, 0);
}

/* Lock held. */
static struct lookaside_record **lookaside_link_of(const void *list)
{
    struct lookaside_record **link = &records;

    disp_assert_held();
    while (*link != NULL && (*link)->list != list)
        link = &(*link)->next;
    return link;
}

/* A copy of the record of a live list of kind, or a STOP: the routines of a list never
 * initialised (or deleted) are garbage, and calling them faults. */
static struct lookaside_record lookaside_checked(const void *list, enum lookaside_kind kind, const char *ddi)
{
    struct lookaside_record found = { 0 };
    struct lookaside_record *record;

    disp_lock();
    record = *lookaside_link_of(list);
    if (record != NULL)
        found = *record;
    disp_unlock();
    if (record == NULL || found.kind != kind)
        rule_stop_detail(RULE_LOOKASIDE_NOT_INITIALIZED, 0, (ULONG_PTR)list, 0, 0, "%s on %p, which is no %s that was initialised and not deleted", ddi, list,
                         lookaside_names[kind]);
    return found;
}

static void lookaside_count(ULONG *counter)
{
    __atomic_fetch_add(counter, 1, __ATOMIC_RELAXED);
}

/* ---- Initialise and delete ---- */

static void lookaside_init(PGENERAL_LOOKASIDE_POOL list, enum lookaside_kind kind, POOL_TYPE type, bool raise,
                           SIZE_T size, ULONG tag)
{
    struct lookaside_record *record = calloc(1, sizeof *record);
    struct lookaside_record **link;

    if (record == NULL)
        abort();
    *record = (struct lookaside_record){ list, kind, raise, driver_index(thread_charged(thread_current())), NULL };
    InitializeSListHead(&list->ListHead);
    list->Depth = LOOKASIDE_DEPTH;
    list->MaximumDepth = LOOKASIDE_MAXIMUM_DEPTH;
    list->TotalAllocates = list->AllocateMisses = list->TotalFrees = list->FreeMisses = 0;
    list->Type = type;
    list->Tag = tag;
    /* A freed block is linked through its first bytes, so it holds an SLIST_ENTRY at least. */
    list->Size = (ULONG)(size < LOOKASIDE_MINIMUM_BLOCK_SIZE ? LOOKASIDE_MINIMUM_BLOCK_SIZE : size);
    disp_lock();
    link = lookaside_link_of(list);
    if (*link != NULL) {
        disp_unlock();
        free(record);
        rule_stop_detail(RULE_LIST_CORRUPT, 0, 0, 0, 0,
                         "the lookaside list at %p is initialised already and not deleted: Windows would link "
                         "it into the kernel's list of lookaside lists twice", (void *)list);
    }
    record->next = records;
    records = record;
    atomic_fetch_add(&record_count, 1);
    disp_unlock();
}

static VOID lookaside_free_block(PGENERAL_LOOKASIDE_POOL list, enum lookaside_kind kind, PVOID block)
{
    if (kind == LOOKASIDE_EX)
        list->FreeEx(block, (PLOOKASIDE_LIST_EX)list);
    else
        list->Free(block);
}

/* Every block still on the list goes back through the free routine. */
static void lookaside_flush(PGENERAL_LOOKASIDE_POOL list, enum lookaside_kind kind)
{
    PSLIST_ENTRY entry = InterlockedFlushSList(&list->ListHead);

    while (entry != NULL) {
        PSLIST_ENTRY next = entry->Next;

        lookaside_free_block(list, kind, entry);
        entry = next;
    }
}

/* Deleting a list Windows does not know unlinks garbage from the kernel's list of them. */
static void lookaside_delete(PGENERAL_LOOKASIDE_POOL list, enum lookaside_kind kind, const char *ddi)
{
    struct lookaside_record **link;
    struct lookaside_record *gone = NULL;

    disp_lock();
    link = lookaside_link_of(list);
    if (*link != NULL && (*link)->kind == kind) {
        gone = *link;
        *link = gone->next;
        atomic_fetch_sub(&record_count, 1);
    }
    disp_unlock();
    if (gone == NULL)
        rule_stop_detail(RULE_LIST_CORRUPT, 0, 0, 0, 0,
                         "%s on %p, which is no %s that was initialised and not deleted", ddi, (void *)list,
                         lookaside_names[kind]);
    free(gone);
    lookaside_flush(list, kind);
}

static PVOID NTAPI lookaside_default_allocate(POOL_TYPE type, SIZE_T size, ULONG tag)
{
    return ExAllocatePoolWithTag(type, size, tag);
}

static VOID NTAPI lookaside_default_free(PVOID block)
{
    ExFreePool(block);
}

/* IRQL <= DISPATCH_LEVEL. Flags may hold POOL_NX_ALLOCATION and POOL_RAISE_IF_ALLOCATION_FAILURE;
 * Depth is reserved (0). */
VOID NTAPI ExInitializeNPagedLookasideList(PNPAGED_LOOKASIDE_LIST Lookaside, PALLOCATE_FUNCTION Allocate,
                                           PFREE_FUNCTION Free, ULONG Flags, SIZE_T Size, ULONG Tag, USHORT Depth)
{
    PGENERAL_LOOKASIDE_POOL list = (PGENERAL_LOOKASIDE_POOL)&Lookaside->L;

    (void)Depth;
    rule_check_irql(RULE_KE_ABOVE_DISPATCH, thread_current()->irql, (ULONG_PTR)Lookaside, 0, 0);
    lookaside_init(list, LOOKASIDE_NPAGED, (POOL_TYPE)(NonPagedPool | (Flags & POOL_NX_ALLOCATION)),
                   (Flags & POOL_RAISE_IF_ALLOCATION_FAILURE) != 0, Size, Tag);
    list->Allocate = Allocate ? Allocate : lookaside_default_allocate;
    list->Free = Free ? Free : lookaside_default_free;
}

/* IRQL <= APC_LEVEL. */
VOID NTAPI ExInitializePagedLookasideList(PPAGED_LOOKASIDE_LIST Lookaside, PALLOCATE_FUNCTION Allocate,
                                          PFREE_FUNCTION Free, ULONG Flags, SIZE_T Size, ULONG Tag, USHORT Depth)
{
    PGENERAL_LOOKASIDE_POOL list = (PGENERAL_LOOKASIDE_POOL)&Lookaside->L;

    (void)Depth;
    rule_check_irql(RULE_LOOKASIDE_PAGED_ABOVE_APC, thread_current()->irql, (ULONG_PTR)Lookaside, 0, 0);
    lookaside_init(list, LOOKASIDE_PAGED, PagedPool, (Flags & POOL_RAISE_IF_ALLOCATION_FAILURE) != 0, Size, Tag);
    list->Allocate = Allocate ? Allocate : lookaside_default_allocate;
    list->Free = Free ? Free : lookaside_default_free;
}

static PVOID NTAPI lookaside_default_allocate_ex(POOL_TYPE type, SIZE_T size, ULONG tag, PLOOKASIDE_LIST_EX lookaside)
{
    (void)lookaside;
    return ExAllocatePoolWithTag(type, size, tag);
}

static VOID NTAPI lookaside_default_free_ex(PVOID block, PLOOKASIDE_LIST_EX lookaside)
{
    (void)lookaside;
    ExFreePool(block);
}

/* IRQL <= DISPATCH_LEVEL (<= APC_LEVEL for a paged pool type). STATUS_INVALID_PARAMETER_5 for
 * Flags other than one of the two EX_LOOKASIDE_LIST_EX_FLAGS_*. */
NTSTATUS NTAPI ExInitializeLookasideListEx(PLOOKASIDE_LIST_EX Lookaside, PALLOCATE_FUNCTION_EX Allocate,
                                           PFREE_FUNCTION_EX Free, POOL_TYPE PoolType, ULONG Flags, SIZE_T Size,
                                           ULONG Tag, USHORT Depth)
{
    PGENERAL_LOOKASIDE_POOL list = &Lookaside->L;
    KIRQL irql = thread_current()->irql;

    (void)Depth;
    rule_check_irql((PoolType & PagedPool) ? RULE_LOOKASIDE_PAGED_ABOVE_APC : RULE_KE_ABOVE_DISPATCH, irql,
                    (ULONG_PTR)Lookaside, 0, 0);
    if ((Flags & ~LOOKASIDE_EX_FLAGS) != 0 || Flags == LOOKASIDE_EX_FLAGS)
        return STATUS_INVALID_PARAMETER_5;
    lookaside_init(list, LOOKASIDE_EX, PoolType, (Flags & EX_LOOKASIDE_LIST_EX_FLAGS_RAISE_ON_FAIL) != 0, Size, Tag);
    list->AllocateEx = Allocate ? Allocate : lookaside_default_allocate_ex;
    list->FreeEx = Free ? Free : lookaside_default_free_ex;
    return STATUS_SUCCESS;
}

/* IRQL <= DISPATCH_LEVEL. Frees every block the list still holds. */
VOID NTAPI ExDeleteNPagedLookasideList(PNPAGED_LOOKASIDE_LIST Lookaside)
{
    rule_check_irql(RULE_KE_ABOVE_DISPATCH, thread_current()->irql, (ULONG_PTR)Lookaside, 0, 0);
    lookaside_delete((PGENERAL_LOOKASIDE_POOL)&Lookaside->L, LOOKASIDE_NPAGED, "ExDeleteNPagedLookasideList");
}

/* IRQL <= APC_LEVEL. */
VOID NTAPI ExDeletePagedLookasideList(PPAGED_LOOKASIDE_LIST Lookaside)
{
    rule_check_irql(RULE_LOOKASIDE_PAGED_ABOVE_APC, thread_current()->irql, (ULONG_PTR)Lookaside, 0, 0);
    lookaside_delete((PGENERAL_LOOKASIDE_POOL)&Lookaside->L, LOOKASIDE_PAGED, "ExDeletePagedLookasideList");
}

/* The IRQL rule of a LOOKASIDE_LIST_EX follows its pool type. */
static void lookaside_check_ex_irql(PLOOKASIDE_LIST_EX lookaside)
{
    KIRQL irql = thread_current()->irql;

    rule_check_irql((lookaside->L.Type & PagedPool) ? RULE_LOOKASIDE_PAGED_ABOVE_APC : RULE_KE_ABOVE_DISPATCH, irql,
                    (ULONG_PTR)lookaside, 0, 0);
}

/* IRQL <= DISPATCH_LEVEL (<= APC_LEVEL for paged pool). */
VOID NTAPI ExDeleteLookasideListEx(PLOOKASIDE_LIST_EX Lookaside)
{
    lookaside_check_ex_irql(Lookaside);
    lookaside_delete(&Lookaside->L, LOOKASIDE_EX, "ExDeleteLookasideListEx");
}

/* IRQL <= DISPATCH_LEVEL (<= APC_LEVEL for paged pool). Frees the blocks the list holds; the list
 * stays. */
VOID NTAPI ExFlushLookasideListEx(PLOOKASIDE_LIST_EX Lookaside)
{
    lookaside_check_ex_irql(Lookaside);
    lookaside_checked(&Lookaside->L, LOOKASIDE_EX, "ExFlushLookasideListEx");
    lookaside_flush(&Lookaside->L, LOOKASIDE_EX);
}

/* ---- Allocate and free ---- */

static PVOID lookaside_allocate(PGENERAL_LOOKASIDE_POOL list, enum lookaside_kind kind, const char *ddi)
{
    struct lookaside_record record = lookaside_checked(list, kind, ddi);
    PVOID block;

    lookaside_count(&list->TotalAllocates);
    block = InterlockedPopEntrySList(&list->ListHead);
    if (block != NULL)
        return block;
    lookaside_count(&list->AllocateMisses);
    if (kind == LOOKASIDE_EX)
        block = list->AllocateEx(list->Type, list->Size, list->Tag, (PLOOKASIDE_LIST_EX)list);
    else
        block = list->Allocate(list->Type, list->Size, list->Tag);
    if (block == NULL && record.raise)
        rule_stop_detail(RULE_POOL_RAISED_FAILURE, (ULONG_PTR)list, list->Size, list->Tag, 0,
                         "%s: the list's allocation of %u bytes failed and raises STATUS_INSUFFICIENT_RESOURCES",
                         ddi, (unsigned)list->Size);
    return block;
}

static void lookaside_free(PGENERAL_LOOKASIDE_POOL list, enum lookaside_kind kind, PVOID block, const char *ddi)
{
    lookaside_checked(list, kind, ddi);
    lookaside_count(&list->TotalFrees);
    if (ExQueryDepthSList(&list->ListHead) >= list->Depth) {
        lookaside_count(&list->FreeMisses);
        lookaside_free_block(list, kind, block);
        return;
    }
    InterlockedPushEntrySList(&list->ListHead, block);
}

/* IRQL <= DISPATCH_LEVEL. A block of the list's size: a cached one, or a new one (NULL if that
 * fails, unless the list was asked to raise). */
PVOID NTAPI ExAllocateFromNPagedLookasideList(PNPAGED_LOOKASIDE_LIST Lookaside)
{
    rule_check_irql(RULE_KE_ABOVE_DISPATCH, thread_current()->irql, (ULONG_PTR)Lookaside, 0, 0);
    return lookaside_allocate((PGENERAL_LOOKASIDE_POOL)&Lookaside->L, LOOKASIDE_NPAGED,
                              "ExAllocateFromNPagedLookasideList");
}

/* IRQL <= DISPATCH_LEVEL. Caches the block while the list holds fewer than its depth. */
VOID NTAPI ExFreeToNPagedLookasideList(PNPAGED_LOOKASIDE_LIST Lookaside, PVOID Entry)
{
    rule_check_irql(RULE_KE_ABOVE_DISPATCH, thread_current()->irql, (ULONG_PTR)Lookaside, 0, 0);
    lookaside_free((PGENERAL_LOOKASIDE_POOL)&Lookaside->L, LOOKASIDE_NPAGED, Entry, "ExFreeToNPagedLookasideList");
}

/* IRQL <= APC_LEVEL. */
PVOID NTAPI ExAllocateFromPagedLookasideList(PPAGED_LOOKASIDE_LIST Lookaside)
{
    rule_check_irql(RULE_LOOKASIDE_PAGED_ABOVE_APC, thread_current()->irql, (ULONG_PTR)Lookaside, 0, 0);
    return lookaside_allocate((PGENERAL_LOOKASIDE_POOL)&Lookaside->L, LOOKASIDE_PAGED,
                              "ExAllocateFromPagedLookasideList");
}

/* IRQL <= APC_LEVEL. */
VOID NTAPI ExFreeToPagedLookasideList(PPAGED_LOOKASIDE_LIST Lookaside, PVOID Entry)
{
    rule_check_irql(RULE_LOOKASIDE_PAGED_ABOVE_APC, thread_current()->irql, (ULONG_PTR)Lookaside, 0, 0);
    lookaside_free((PGENERAL_LOOKASIDE_POOL)&Lookaside->L, LOOKASIDE_PAGED, Entry, "ExFreeToPagedLookasideList");
}

PVOID NTAPI ExAllocateFromLookasideListEx(PLOOKASIDE_LIST_EX Lookaside)
{
    lookaside_check_ex_irql(Lookaside);
    return lookaside_allocate(&Lookaside->L, LOOKASIDE_EX, "ExAllocateFromLookasideListEx");
}

VOID NTAPI ExFreeToLookasideListEx(PLOOKASIDE_LIST_EX Lookaside, PVOID Entry)
{
    lookaside_check_ex_irql(Lookaside);
    lookaside_free(&Lookaside->L, LOOKASIDE_EX, Entry, "ExFreeToLookasideListEx");
}

/* ---- The other families' checks: a free, an unload ---- */

/* Freed memory must hold no live list: the kernel's list of them would point into it. */
static void lookaside_check_free(ULONG_PTR address, size_t size, POOL_TYPE type)
{
    const void *found = NULL;

    (void)type;
    /* Without the lock when no list exists, so frees do not queue on the dispatcher lock: a list
     * initialised before the free, in this thread or one it synchronised with, is counted by then. */
    if (atomic_load(&record_count) == 0)
        return;
    disp_lock();
    for (const struct lookaside_record *r = records; r != NULL && found == NULL; r = r->next) {
        if ((ULONG_PTR)r->list >= address && (ULONG_PTR)r->list - address < size)
            found = r->list;
    }
    disp_unlock();
    if (found != NULL)
        rule_stop_detail(RULE_LOOKASIDE_FREED_ACTIVE, (ULONG_PTR)found, address, size, 0,
                         "the lookaside list at %p was initialised and never deleted", found);
}

static struct pool_free_check lookaside_free_check = {
    .check = lookaside_check_free,
    .watched = &record_count,
};
POOL_FREE_CHECK(lookaside_free_check)

/* The driver's own allocate routine of a list, which the kernel would call into the unloaded
 * image; NULL for the kernel's default. */
static const void *lookaside_driver_routine(const struct lookaside_record *r)
{
    const void *routine = r->kind == LOOKASIDE_EX ? (const void *)r->list->AllocateEx : (const void *)r->list->Allocate;

    if (routine == (const void *)lookaside_default_allocate || routine == (const void *)lookaside_default_allocate_ex)
        return NULL;
    return routine;
}

/* The unload check's inventory: lists the driver initialised, or that lie in its memory, and did
 * not delete. */
static void lookaside_collect_leftovers(struct driver_check *check)
{
    disp_lock();
    for (const struct lookaside_record *r = records; r != NULL; r = r->next) {
        if (driver_check_owns(check, r->driver, r->list))
            driver_check_pending(check, "lookaside list", r->list, lookaside_driver_routine(r),
                                 "%s not deleted, %u block(s) cached", lookaside_names[r->kind],
                                 (unsigned)ExQueryDepthSList(&r->list->ListHead));
    }
    disp_unlock();
}

static struct driver_inventory lookaside_inventory = {
    .order = DRIVER_INVENTORY_QUEUED,
    .collect = lookaside_collect_leftovers,
};
DRIVER_INVENTORY(lookaside_inventory)
