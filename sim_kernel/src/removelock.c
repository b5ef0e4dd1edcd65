/*
 * removelock.c - remove locks (IO_REMOVE_LOCK): a count of the I/O in progress on a device, one
 * for the lock itself until IoReleaseRemoveLockAndWait, which marks the device removed (later
 * acquires fail with STATUS_DELETE_PENDING) and waits for the count to reach zero. The headers are
 * the checked build's, so, as its kernel does, every acquire is tracked by its tag (with the file and
 * line of the acquire): a release must name a tag that is held, and a tag still held when the driver
 * unloads is reported with where it was acquired.
 * Locking: Common.IoCount is interlocked, as on Windows; the tracking records are guarded by the
 * dispatcher lock.
 */
#include "internal.h"

/* What IoInitializeRemoveLockEx writes to Dbg.Signature in the checked build: "RmLk". */
#define REMOVELOCK_SIGNATURE 0x6B4C6D52

struct removelock_tag {
    PVOID tag;
    PCSTR file;
    ULONG line;
    struct removelock_tag *next;
};

struct removelock_record {
    PIO_REMOVE_LOCK lock;
    USHORT driver;                  /* the index of the driver that initialised it */
    struct removelock_tag *tags;    /* held now, newest first */
    struct removelock_record *next;
};

static struct removelock_record *records;

static void removelock_free_tags(struct removelock_tag *tag)
{
    while (tag != NULL) {
        struct removelock_tag *next = tag->next;

        free(tag);
        tag = next;
    }
}

/* A new boot forgets the last one's locks (their memory was the drivers'). */
void removelock_boot(void)
{
    while (records != NULL) {
        struct removelock_record *next = records->next;

        removelock_free_tags(records->tags);
        free(records);
        records = next;
    }
}

/* Dispatcher lock held. */
static struct removelock_record **removelock_link_of(const IO_REMOVE_LOCK *lock)
{
    struct removelock_record **link = &records;

    disp_assert_held();
    while (*link != NULL && (*link)->lock != lock)
        link = &(*link)->next;
    return link;
}

/* Dispatcher lock held. The record of lock, made if the lock has none (an initialised one's memory
 * reused, or a lock of the free build's layout that never asked for tracking). */
static struct removelock_record *removelock_record_of(PIO_REMOVE_LOCK lock)
{
    struct removelock_record **link = removelock_link_of(lock);

    if (*link == NULL) {
        *link = calloc(1, sizeof **link);
        if (*link == NULL)
            abort();
        (*link)->lock = lock;
        (*link)->driver = driver_index(thread_current()->driver);
    }
    return *link;
}

static bool removelock_tracked(ULONG size)
{
    return size >= sizeof(IO_REMOVE_LOCK);
}

static void removelock_track(PIO_REMOVE_LOCK lock, PVOID tag, PCSTR file, ULONG line)
{
    struct removelock_tag *held = malloc(sizeof *held);
    struct removelock_record *record;

    if (held == NULL)
        abort();
    disp_lock();
    record = removelock_record_of(lock);
    *held = (struct removelock_tag){ tag, file, line, record->tags };
    record->tags = held;
    disp_unlock();
}

/* The held tag taken away, or a STOP naming it: the checked build's break on an unknown tag. */
static void removelock_untrack(PIO_REMOVE_LOCK lock, PVOID tag)
{
    struct removelock_tag **link = NULL, *held = NULL;
    struct removelock_record *record;

    disp_lock();
    record = *removelock_link_of(lock);
    if (record != NULL)
        for (link = &record->tags; *link != NULL && (*link)->tag != tag; link = &(*link)->next)
            ;
    if (link != NULL && *link != NULL) {
        held = *link;
        *link = held->next;
    }
    disp_unlock();
    if (held == NULL)
        rule_stop_detail(RULE_REMOVE_LOCK_RELEASE_NOT_ACQUIRED, 0, (ULONG_PTR)lock, (ULONG_PTR)tag, 0,
                         "remove lock %p is not held with tag %p", (void *)lock, tag);
    free(held);
}

/* One count less; the last one (only after IoReleaseRemoveLockAndWait) ends the wait. */
static void removelock_drop(PIO_REMOVE_LOCK lock)
{
    LONG count = InterlockedDecrement(&lock->Common.IoCount);

    if (count < 0 || (count == 0 && !__atomic_load_n(&lock->Common.Removed, __ATOMIC_ACQUIRE)))
        rule_stop_detail(RULE_REMOVE_LOCK_RELEASED_TOO_OFTEN, 0, (ULONG_PTR)lock, (ULONG_PTR)count, 0,
                         "remove lock %p released more often than it was acquired", (void *)lock);
    if (count == 0)
        KeSetEvent(&lock->Common.RemoveEvent, IO_NO_INCREMENT, FALSE);
}

/* IRQL <= DISPATCH_LEVEL. A lock not removed, counting itself once. */
VOID NTAPI IoInitializeRemoveLockEx(PIO_REMOVE_LOCK Lock, ULONG AllocateTag, ULONG MaxLockedMinutes,
                                    ULONG HighWatermark, ULONG RemlockSize)
{
    struct removelock_record *record;

    rule_check_irql(RULE_REMOVE_LOCK_ABOVE_DISPATCH, irql_current(), (ULONG_PTR)Lock, 0, 0);
    RtlZeroMemory(Lock, RemlockSize < sizeof *Lock ? RemlockSize : sizeof *Lock);
    Lock->Common.IoCount = 1;
    KeInitializeEvent(&Lock->Common.RemoveEvent, SynchronizationEvent, FALSE);
    if (removelock_tracked(RemlockSize)) {
        Lock->Dbg.Signature = REMOVELOCK_SIGNATURE;
        Lock->Dbg.HighWatermark = (LONG)HighWatermark;
        Lock->Dbg.MaxLockedTicks = (LONGLONG)MaxLockedMinutes * 60 * 10000000LL;
        Lock->Dbg.AllocateTag = (LONG)AllocateTag;
        InitializeListHead(&Lock->Dbg.LockList);
    }
    disp_lock();
    record = removelock_record_of(Lock);
    removelock_free_tags(record->tags);
    record->tags = NULL;
    record->driver = driver_index(thread_current()->driver);
    disp_unlock();
}

/* IRQL <= DISPATCH_LEVEL. STATUS_SUCCESS: held with Tag until IoReleaseRemoveLock(Tag);
 * STATUS_DELETE_PENDING: the device is being removed, and the lock is not held. */
NTSTATUS NTAPI IoAcquireRemoveLockEx(PIO_REMOVE_LOCK RemoveLock, PVOID Tag, PCSTR File, ULONG Line,
                                     ULONG RemlockSize)
{
    rule_check_irql(RULE_REMOVE_LOCK_ABOVE_DISPATCH, irql_current(), (ULONG_PTR)RemoveLock, (ULONG_PTR)Tag, 0);
    InterlockedIncrement(&RemoveLock->Common.IoCount);
    if (__atomic_load_n(&RemoveLock->Common.Removed, __ATOMIC_ACQUIRE)) {
        if (InterlockedDecrement(&RemoveLock->Common.IoCount) == 0)
            KeSetEvent(&RemoveLock->Common.RemoveEvent, IO_NO_INCREMENT, FALSE);
        return STATUS_DELETE_PENDING;
    }
    if (removelock_tracked(RemlockSize))
        removelock_track(RemoveLock, Tag, File, Line);
    return STATUS_SUCCESS;
}

/* IRQL <= DISPATCH_LEVEL. Releases one acquire made with Tag. */
VOID NTAPI IoReleaseRemoveLockEx(PIO_REMOVE_LOCK RemoveLock, PVOID Tag, ULONG RemlockSize)
{
    rule_check_irql(RULE_REMOVE_LOCK_ABOVE_DISPATCH, irql_current(), (ULONG_PTR)RemoveLock, (ULONG_PTR)Tag, 0);
    if (removelock_tracked(RemlockSize))
        removelock_untrack(RemoveLock, Tag);
    removelock_drop(RemoveLock);
}

/* PASSIVE_LEVEL, holding the lock with Tag (from IRP_MN_REMOVE_DEVICE): marks the device removed,
 * releases Tag and the lock's own count, and waits until every other acquire is released. */
VOID NTAPI IoReleaseRemoveLockAndWaitEx(PIO_REMOVE_LOCK RemoveLock, PVOID Tag, ULONG RemlockSize)
{
    __atomic_store_n(&RemoveLock->Common.Removed, TRUE, __ATOMIC_RELEASE);
    if (removelock_tracked(RemlockSize))
        removelock_untrack(RemoveLock, Tag);
    removelock_drop(RemoveLock);
    if (InterlockedDecrement(&RemoveLock->Common.IoCount) > 0)
        KeWaitForSingleObject(&RemoveLock->Common.RemoveEvent, Executive, KernelMode, FALSE, NULL);
}

/* ---- What an unload leaves ---- */

/* A tag still held on a lock of the driver's: the I/O it guarded never finished, or its release was
 * forgotten; either way IoReleaseRemoveLockAndWait would wait for ever. */
static void removelock_collect_leftovers(struct driver_check *check)
{
    disp_lock();
    for (struct removelock_record *r = records; r != NULL; r = r->next)
        for (struct removelock_tag *t = r->tags; t != NULL; t = t->next)
            if (driver_check_owns(check, r->driver, r->lock))
                driver_check_pending(check, "remove lock", r->lock, NULL,
                                     "still held with tag %p, acquired at %s:%lu", t->tag,
                                     t->file != NULL ? t->file : "?", (unsigned long)t->line);
    disp_unlock();
}

static struct driver_inventory removelock_inventory = {
    .order = DRIVER_INVENTORY_OBJECTS,
    .collect = removelock_collect_leftovers,
};
DRIVER_INVENTORY(removelock_inventory)
