/*
 * list.c - the interlocked list DDIs and RtlFailFast, the end of the inline list checks in wdm.h,
 * ExInterlockedAddUlong and ExInterlockedAddLargeInteger, and the interlocked singly linked lists
 * (SLIST): LIFO lists with a depth, kept in x64's 16-byte
 * header as Windows keeps them (Depth and Sequence in the first word, the first entry's address
 * shifted right by 4 in NextEntry), so entries must be 16-byte aligned.
 * Locking: each list is guarded by the caller's KSPIN_LOCK, taken with the owner checks of
 * spinlock.c at HIGH_LEVEL, since the real routines also disable interrupts (an ISR may share them).
 * Windows changes an SLIST header with one 16-byte compare-and-swap; the simulator takes one of
 * its own spin locks, chosen by the header's address, the same way, and writes the header's words
 * atomically so that ExQueryDepthSList may read the depth without it.
 */
#include "internal.h"
#include "timeline.h"

#define LIST_SLIST_LOCKS 16
#define LIST_SLIST_DEPTH_MASK 0xFFFFull
#define LIST_SLIST_SEQUENCE_ONE 0x10000ull
#define LIST_SLIST_ADDRESS_SHIFT 4

static KSPIN_LOCK slist_locks[LIST_SLIST_LOCKS];

struct list_guard {
    struct _KTHREAD *self;
    KIRQL old_irql;
    PKSPIN_LOCK lock;
    bool drivers;                   /* the driver's lock, not one of the kernel's SList locks */
};

/* Always inline, so that the return address it records for the lock-order checker is the DDI's
 * caller: the driver code that passed its lock. */
static inline __attribute__((always_inline)) struct list_guard list_lock(PKSPIN_LOCK lock)
{
    struct list_guard guard = { thread_current(), 0, lock, (uintptr_t)lock - (uintptr_t)slist_locks >= sizeof slist_locks };

    guard.old_irql = guard.self->irql;
    timeline_irql(guard.old_irql, HIGH_LEVEL);
    guard.self->irql = HIGH_LEVEL;
    if (guard.drivers)
        lockorder_acquire(guard.self, lock, LOCKORDER_SPIN_LOCK, __builtin_return_address(0));
    spinlock_acquire(lock, guard.self);
    return guard;
}

static void list_unlock(const struct list_guard *guard)
{
    if (guard->drivers)
        lockorder_release(guard->self, guard->lock);
    spinlock_release(guard->lock, guard->self);
    timeline_irql(HIGH_LEVEL, guard->old_irql);
    guard->self->irql = guard->old_irql;
}

/* The lock taken for an ExInterlocked*List routine, after the checks of its arguments: the lock
 * and the head must be there, and the head initialised - a zeroed head (never given to
 * InitializeListHead) has NULL links, which the routine would follow at once. The links are read
 * under the lock, as other threads change them under it; the STOP is made after releasing it. */
static struct list_guard list_lock_head(PLIST_ENTRY head, PKSPIN_LOCK lock, const char *ddi, const void *caller)
{
    struct list_guard guard;
    PLIST_ENTRY flink;

    rule_check_pointer((uintptr_t)lock, ddi, "Lock", RULE_WRITES, caller);
    rule_check_pointer((uintptr_t)head, ddi, "ListHead", RULE_WRITES, caller);
    guard = list_lock(lock);
    flink = head->Flink;
    if ((uintptr_t)flink >= RULE_NULL_REGION && (uintptr_t)head->Blink >= RULE_NULL_REGION)
        return guard;
    list_unlock(&guard);
    rule_stop_null_argument(ddi, "ListHead->Flink or ListHead->Blink", (uintptr_t)flink, RULE_READS, caller,
                            "The list head was never initialised: call InitializeListHead on it first.");
}

/* Any IRQL. Returns the previous first entry, or NULL if the list was empty. */
PLIST_ENTRY FASTCALL ExInterlockedInsertHeadList(PLIST_ENTRY ListHead, PLIST_ENTRY ListEntry,
                                                 PKSPIN_LOCK Lock)
{
    struct list_guard guard;
    PLIST_ENTRY previous;

    RULE_CHECK_ARGUMENT(ListEntry, RULE_WRITES);
    guard = list_lock_head(ListHead, Lock, __func__, __builtin_return_address(0));
    previous = IsListEmpty(ListHead) ? NULL : ListHead->Flink;
    InsertHeadList(ListHead, ListEntry);
    list_unlock(&guard);
    return previous;
}

/* Any IRQL. Returns the previous last entry, or NULL if the list was empty. */
PLIST_ENTRY FASTCALL ExInterlockedInsertTailList(PLIST_ENTRY ListHead, PLIST_ENTRY ListEntry,
                                                 PKSPIN_LOCK Lock)
{
    struct list_guard guard;
    PLIST_ENTRY previous;

    RULE_CHECK_ARGUMENT(ListEntry, RULE_WRITES);
    guard = list_lock_head(ListHead, Lock, __func__, __builtin_return_address(0));
    previous = IsListEmpty(ListHead) ? NULL : ListHead->Blink;
    InsertTailList(ListHead, ListEntry);
    list_unlock(&guard);
    return previous;
}

/* Any IRQL. Returns the removed entry, or NULL (not ListHead, unlike RemoveHeadList) when empty. */
PLIST_ENTRY FASTCALL ExInterlockedRemoveHeadList(PLIST_ENTRY ListHead, PKSPIN_LOCK Lock)
{
    struct list_guard guard;
    PLIST_ENTRY entry;

    guard = list_lock_head(ListHead, Lock, __func__, __builtin_return_address(0));
    entry = IsListEmpty(ListHead) ? NULL : RemoveHeadList(ListHead);
    list_unlock(&guard);
    return entry;
}

/* Any IRQL. Returns the previous first entry, or NULL. */
PSINGLE_LIST_ENTRY FASTCALL ExInterlockedPushEntryList(PSINGLE_LIST_ENTRY ListHead,
                                                       PSINGLE_LIST_ENTRY ListEntry, PKSPIN_LOCK Lock)
{
    struct list_guard guard;
    PSINGLE_LIST_ENTRY previous;

    RULE_CHECK_ARGUMENT(ListHead, RULE_WRITES);
    RULE_CHECK_ARGUMENT(ListEntry, RULE_WRITES);
    RULE_CHECK_ARGUMENT(Lock, RULE_WRITES);
    guard = list_lock(Lock);
    previous = ListHead->Next;
    PushEntryList(ListHead, ListEntry);
    list_unlock(&guard);
    return previous;
}

/* Any IRQL. Returns the removed entry, or NULL. */
PSINGLE_LIST_ENTRY FASTCALL ExInterlockedPopEntryList(PSINGLE_LIST_ENTRY ListHead, PKSPIN_LOCK Lock)
{
    struct list_guard guard;
    PSINGLE_LIST_ENTRY entry;

    RULE_CHECK_ARGUMENT(ListHead, RULE_WRITES);
    RULE_CHECK_ARGUMENT(Lock, RULE_WRITES);
    guard = list_lock(Lock);
    entry = PopEntryList(ListHead);
    list_unlock(&guard);
    return entry;
}

/* Any IRQL. Adds under the caller's spin lock and returns the value before. */
ULONG NTAPI ExInterlockedAddUlong(PULONG Addend, ULONG Increment, PKSPIN_LOCK Lock)
{
    struct list_guard guard;
    ULONG before;

    RULE_CHECK_ARGUMENT(Addend, RULE_WRITES);
    RULE_CHECK_ARGUMENT(Lock, RULE_WRITES);
    guard = list_lock(Lock);
    before = *Addend;
    *Addend = before + Increment;
    list_unlock(&guard);
    return before;
}

/* Any IRQL. Adds under the caller's spin lock and returns the value before. */
LARGE_INTEGER NTAPI ExInterlockedAddLargeInteger(PLARGE_INTEGER Addend, LARGE_INTEGER Increment, PKSPIN_LOCK Lock)
{
    struct list_guard guard;
    LARGE_INTEGER before;

    RULE_CHECK_ARGUMENT(Addend, RULE_WRITES);
    RULE_CHECK_ARGUMENT(Lock, RULE_WRITES);
    guard = list_lock(Lock);
    before = *Addend;
    Addend->QuadPart = before.QuadPart + Increment.QuadPart;
    list_unlock(&guard);
    return before;
}

/* ---- SLIST ---- */

/* The header keeps an entry's address >> 4, so a misaligned one would come back as another
 * address; Windows raises STATUS_DATATYPE_MISALIGNMENT for a misaligned header. */
static void slist_check_aligned(const void *address, const char *what, const void *caller)
{
    if ((ULONG_PTR)address % 16 != 0)
        rule_stop_detail(RULE_SLIST_MISALIGNED, (ULONG_PTR)caller, (ULONG_PTR)address, 0, 0,
                         "the %s at %p is not 16-byte aligned", what, address);
}

static struct list_guard slist_lock(const SLIST_HEADER *head)
{
    return list_lock(&slist_locks[((ULONG_PTR)head >> LIST_SLIST_ADDRESS_SHIFT) % LIST_SLIST_LOCKS]);
}

/* Lock held. */
static PSLIST_ENTRY slist_first(const SLIST_HEADER *head)
{
    return (PSLIST_ENTRY)(__atomic_load_n(&head->Region, __ATOMIC_RELAXED) & ~0xFull);
}

/* Lock held: the new first entry, depth and sequence, each word stored whole. */
static void slist_set(PSLIST_HEADER head, PSLIST_ENTRY first, ULONGLONG depth, ULONGLONG sequence_step)
{
    ULONGLONG word = __atomic_load_n(&head->Alignment, __ATOMIC_RELAXED);
    ULONGLONG sequence = (word & ~LIST_SLIST_DEPTH_MASK) + sequence_step;

    __atomic_store_n(&head->Alignment, sequence | (depth & LIST_SLIST_DEPTH_MASK), __ATOMIC_RELAXED);
    __atomic_store_n(&head->Region, (ULONGLONG)(ULONG_PTR)first, __ATOMIC_RELAXED);
}

/* Any IRQL. An empty list: both words zero. */
VOID NTAPI InitializeSListHead(PSLIST_HEADER SListHead)
{
    RULE_CHECK_ARGUMENT(SListHead, RULE_WRITES);
    slist_check_aligned(SListHead, "SLIST_HEADER", __builtin_return_address(0));
    __atomic_store_n(&SListHead->Alignment, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&SListHead->Region, 0, __ATOMIC_RELAXED);
}

/* Any IRQL (header and entries in nonpaged memory). Returns the previous first entry, or NULL. */
PSLIST_ENTRY NTAPI ExpInterlockedPushEntrySList(PSLIST_HEADER ListHead, PSLIST_ENTRY ListEntry)
{
    struct list_guard guard;
    PSLIST_ENTRY previous;

    RULE_CHECK_ARGUMENT(ListHead, RULE_WRITES);
    RULE_CHECK_ARGUMENT(ListEntry, RULE_WRITES);
    slist_check_aligned(ListEntry, "SLIST_ENTRY", __builtin_return_address(0));
    guard = slist_lock(ListHead);
    previous = slist_first(ListHead);
    ListEntry->Next = previous;
    slist_set(ListHead, ListEntry, ExQueryDepthSList(ListHead) + 1u, LIST_SLIST_SEQUENCE_ONE);
    list_unlock(&guard);
    return previous;
}

/* Any IRQL. Returns the first entry, removed, or NULL when the list is empty. */
PSLIST_ENTRY NTAPI ExpInterlockedPopEntrySList(PSLIST_HEADER ListHead)
{
    struct list_guard guard;
    PSLIST_ENTRY first;

    RULE_CHECK_ARGUMENT(ListHead, RULE_WRITES);
    guard = slist_lock(ListHead);
    first = slist_first(ListHead);
    if (first != NULL)
        slist_set(ListHead, first->Next, ExQueryDepthSList(ListHead) - 1u, 0);
    list_unlock(&guard);
    return first;
}

/* Any IRQL. Empties the list and returns its entries, still linked, first first. */
PSLIST_ENTRY NTAPI ExpInterlockedFlushSList(PSLIST_HEADER ListHead)
{
    struct list_guard guard;
    PSLIST_ENTRY first;

    RULE_CHECK_ARGUMENT(ListHead, RULE_WRITES);
    guard = slist_lock(ListHead);
    first = slist_first(ListHead);
    slist_set(ListHead, NULL, 0, 0);
    list_unlock(&guard);
    return first;
}

/* Any IRQL; without the lock, as Windows reads it: the depth as of some moment. */
USHORT NTAPI ExQueryDepthSList(PSLIST_HEADER SListHead)
{
    RULE_CHECK_ARGUMENT(SListHead, RULE_READS);
    return (USHORT)(__atomic_load_n(&SListHead->Alignment, __ATOMIC_RELAXED) & LIST_SLIST_DEPTH_MASK);
}

/* Any IRQL; never returns. The WDK's list checks end here (__fastfail on Windows). */
DECLSPEC_NORETURN VOID NTAPI RtlFailFast(ULONG Code)
{
    if (Code == FAST_FAIL_CORRUPT_LIST_ENTRY)
        rule_stop(RULE_LIST_CORRUPT, 0, 0, 0, 0);
    KeBugCheckEx(0x139, Code, 0, 0, 0);
}
