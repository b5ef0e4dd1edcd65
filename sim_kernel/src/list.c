/*
 * list.c - the interlocked list DDIs and RtlFailFast, the end of the inline list checks in wdm.h.
 * Locking: each list is guarded by the caller's KSPIN_LOCK, taken with the owner checks of
 * spinlock.c at HIGH_LEVEL, since the real routines also disable interrupts (an ISR may share them).
 */
#include "internal.h"

struct list_guard {
    struct _KTHREAD *self;
    KIRQL old_irql;
    PKSPIN_LOCK lock;
};

static struct list_guard list_lock(PKSPIN_LOCK lock)
{
    struct list_guard guard = { thread_current(), 0, lock };

    guard.old_irql = guard.self->irql;
    guard.self->irql = HIGH_LEVEL;
    spinlock_acquire(lock, guard.self);
    return guard;
}

static void list_unlock(const struct list_guard *guard)
{
    spinlock_release(guard->lock, guard->self);
    guard->self->irql = guard->old_irql;
}

/* Any IRQL. Returns the previous first entry, or NULL if the list was empty. */
PLIST_ENTRY FASTCALL ExInterlockedInsertHeadList(PLIST_ENTRY ListHead, PLIST_ENTRY ListEntry,
                                                 PKSPIN_LOCK Lock)
{
    struct list_guard guard = list_lock(Lock);
    PLIST_ENTRY previous = IsListEmpty(ListHead) ? NULL : ListHead->Flink;

    InsertHeadList(ListHead, ListEntry);
    list_unlock(&guard);
    return previous;
}

/* Any IRQL. Returns the previous last entry, or NULL if the list was empty. */
PLIST_ENTRY FASTCALL ExInterlockedInsertTailList(PLIST_ENTRY ListHead, PLIST_ENTRY ListEntry,
                                                 PKSPIN_LOCK Lock)
{
    struct list_guard guard = list_lock(Lock);
    PLIST_ENTRY previous = IsListEmpty(ListHead) ? NULL : ListHead->Blink;

    InsertTailList(ListHead, ListEntry);
    list_unlock(&guard);
    return previous;
}

/* Any IRQL. Returns the removed entry, or NULL (not ListHead, unlike RemoveHeadList) when empty. */
PLIST_ENTRY FASTCALL ExInterlockedRemoveHeadList(PLIST_ENTRY ListHead, PKSPIN_LOCK Lock)
{
    struct list_guard guard = list_lock(Lock);
    PLIST_ENTRY entry = IsListEmpty(ListHead) ? NULL : RemoveHeadList(ListHead);

    list_unlock(&guard);
    return entry;
}

/* Any IRQL. Returns the previous first entry, or NULL. */
PSINGLE_LIST_ENTRY FASTCALL ExInterlockedPushEntryList(PSINGLE_LIST_ENTRY ListHead,
                                                       PSINGLE_LIST_ENTRY ListEntry, PKSPIN_LOCK Lock)
{
    struct list_guard guard = list_lock(Lock);
    PSINGLE_LIST_ENTRY previous = ListHead->Next;

    PushEntryList(ListHead, ListEntry);
    list_unlock(&guard);
    return previous;
}

/* Any IRQL. Returns the removed entry, or NULL. */
PSINGLE_LIST_ENTRY FASTCALL ExInterlockedPopEntryList(PSINGLE_LIST_ENTRY ListHead, PKSPIN_LOCK Lock)
{
    struct list_guard guard = list_lock(Lock);
    PSINGLE_LIST_ENTRY entry = PopEntryList(ListHead);

    list_unlock(&guard);
    return entry;
}

/* Any IRQL; never returns. The WDK's list checks end here (__fastfail on Windows). */
DECLSPEC_NORETURN VOID NTAPI RtlFailFast(ULONG Code)
{
    if (Code == FAST_FAIL_CORRUPT_LIST_ENTRY)
        rule_stop(RULE_LIST_CORRUPT, 0, 0, 0, 0);
    KeBugCheckEx(0x139, Code, 0, 0, 0);
}
