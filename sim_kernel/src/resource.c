/*
 * resource.c - executive resources (ERESOURCE): locks with many shared owners or one exclusive
 * owner, both recursive. The ERESOURCE's own fields keep its state as Windows keeps it (Flag,
 * ActiveCount, OwnerEntry for the exclusive owner, OwnerTable for shared owners, the waiter and
 * contention counts); the simulator adds a record per initialised resource, with its waiters in
 * order. Each waiter blocks in the dispatcher on an event of its own, which the releaser sets
 * after handing it ownership, so a woken waiter owns the resource without looking again, and the
 * scheduler sees every block and wake. SharedWaiters and ExclusiveWaiters stay NULL.
 * Fairness, as Windows: a shared request waits while an exclusive request waits (unless the
 * caller already shares it, or uses ExAcquireSharedStarveExclusive); an exclusive release grants
 * every waiting shared request at once if there are any, else the oldest exclusive one; the last
 * shared release grants the oldest exclusive request.
 * Locking: the dispatcher lock guards every resource's fields, the records and their waiters.
 */
#include <stdatomic.h>
#include <stdio.h>

#include "internal.h"

#define RESOURCE_OWNER_TABLE_FIRST_SIZE 4

enum resource_share {
    RESOURCE_SHARED,                /* ExAcquireResourceSharedLite */
    RESOURCE_STARVE_EXCLUSIVE,      /* ExAcquireSharedStarveExclusive */
    RESOURCE_WAIT_FOR_EXCLUSIVE,    /* ExAcquireSharedWaitForExclusive */
};

struct resource_record {
    PERESOURCE resource;
    POWNER_ENTRY table;             /* the resource's OwnerTable: the kernel's memory, freed here */
    USHORT driver;                  /* the index of the driver that initialised it */
    LIST_ENTRY waiters;             /* struct resource_waiter, oldest first */
    struct resource_record *next;
};

/* On the waiting thread's stack while it waits. */
struct resource_waiter {
    LIST_ENTRY link;
    struct _KTHREAD *thread;
    bool exclusive;
    KEVENT granted;                 /* set once the releaser has made the thread an owner */
};

static struct resource_record *records;
/* How many records there are, read without the lock by the pool's free check. */
static atomic_size_t record_count;

/* ---- The records of initialised resources ---- */

/* Lock held. */
static struct resource_record *resource_record_of(const ERESOURCE *resource)
{
    disp_assert_held();
    for (struct resource_record *r = records; r != NULL; r = r->next) {
        if (r->resource == resource)
            return r;
    }
    return NULL;
}

/* Lock held: the record, or a STOP for a resource ExInitializeResourceLite never set up. */
static struct resource_record *resource_checked(PERESOURCE resource, const char *ddi)
{
    struct resource_record *record = resource_record_of(resource);

    disp_assert_held();
    if (record == NULL)
        rule_stop_detail(RULE_RESOURCE_NOT_INITIALIZED, (ULONG_PTR)resource, 0, 0, 0,
                         "%s on %p, which ExInitializeResourceLite did not set up (or which was deleted)", ddi,
                         (void *)resource);
    return record;
}

/* Free, with no owner or waiter, as ExInitializeResourceLite leaves it. */
static void resource_reset(PERESOURCE resource, struct resource_record *record)
{
    free(record->table);
    record->table = NULL;
    memset(resource, 0, sizeof *resource);
    InitializeListHead(&resource->SystemResourcesList);
}

static void resource_forget(struct resource_record **link)
{
    struct resource_record *gone = *link;

    *link = gone->next;
    atomic_fetch_sub(&record_count, 1);
    free(gone->table);
    free(gone);
}

/* A new boot forgets the resources of the last (their memory is the drivers', and may be gone). */
void resource_boot(void)
{
    while (records != NULL)
        resource_forget(&records);
}

/* ---- Owners ---- */

static bool resource_exclusive(const ERESOURCE *resource)
{
    return (resource->Flag & ResourceOwnedExclusive) != 0;
}

static ULONG resource_table_size(const ERESOURCE *resource)
{
    return resource->OwnerTable ? resource->OwnerTable[0].TableSize : 0;
}

/* Lock held: the shared owner entry of owner, or NULL. Entry 0 holds the table's size. */
static POWNER_ENTRY resource_shared_entry(const ERESOURCE *resource, ERESOURCE_THREAD owner)
{
    disp_assert_held();
    for (ULONG i = 1; i < resource_table_size(resource); i++) {
        if (resource->OwnerTable[i].OwnerThread == owner)
            return &resource->OwnerTable[i];
    }
    return NULL;
}

static POWNER_ENTRY resource_free_entry(PERESOURCE resource, struct resource_record *record)
{
    ULONG size = resource_table_size(resource);
    ULONG grown = size ? size * 2 : RESOURCE_OWNER_TABLE_FIRST_SIZE;
    POWNER_ENTRY table;

    for (ULONG i = 1; i < size; i++) {
        if (resource->OwnerTable[i].OwnerThread == 0)
            return &resource->OwnerTable[i];
    }
    table = calloc(grown, sizeof *table);
    if (table == NULL)
        abort();
    if (size != 0)
        memcpy(table, resource->OwnerTable, size * sizeof *table);
    free(record->table);
    table[0].TableSize = grown;
    resource->OwnerTable = record->table = table;
    return &table[size ? size : 1];
}

/* Lock held: owner shares the resource once more. */
static void resource_add_share(PERESOURCE resource, struct resource_record *record, ERESOURCE_THREAD owner)
{
    POWNER_ENTRY entry = resource_shared_entry(resource, owner);

    disp_assert_held();
    if (entry != NULL) {
        entry->OwnerCount++;
        return;
    }
    entry = resource_free_entry(resource, record);
    entry->OwnerThread = owner;
    entry->OwnerCount = 1;
    resource->ActiveCount++;
    resource->ActiveEntries++;
}

static void resource_take_exclusive(PERESOURCE resource, ERESOURCE_THREAD owner)
{
    resource->Flag |= ResourceOwnedExclusive;
    resource->ActiveCount = 1;
    resource->OwnerEntry.OwnerThread = owner;
    resource->OwnerEntry.OwnerCount = 1;
}

/* Lock held: how many times owner holds the resource, shared or exclusive. */
static ULONG resource_count_of(const ERESOURCE *resource, ERESOURCE_THREAD owner)
{
    const OWNER_ENTRY *entry;

    disp_assert_held();
    if (resource_exclusive(resource))
        return resource->OwnerEntry.OwnerThread == owner ? resource->OwnerEntry.OwnerCount : 0;
    entry = resource_shared_entry(resource, owner);
    return entry ? entry->OwnerCount : 0;
}

/* ---- Handing the resource to its waiters ---- */

static void resource_grant(struct resource_waiter *waiter)
{
    RemoveEntryList(&waiter->link);
    event_signal_locked(&waiter->granted);
}

/* Lock held: every waiting shared request becomes an owner at once. True if there was one. */
static bool resource_grant_shared_waiters(PERESOURCE resource, struct resource_record *record)
{
    PLIST_ENTRY e = record->waiters.Flink;
    bool granted = false;

    disp_assert_held();
    while (e != &record->waiters) {
        struct resource_waiter *waiter = CONTAINING_RECORD(e, struct resource_waiter, link);

        e = e->Flink;
        if (waiter->exclusive)
            continue;
        resource_add_share(resource, record, (ERESOURCE_THREAD)waiter->thread);
        resource->NumberOfSharedWaiters--;
        resource_grant(waiter);
        granted = true;
    }
    return granted;
}

/* Lock held: the oldest waiting exclusive request becomes the owner. */
static void resource_grant_exclusive_waiter(PERESOURCE resource, struct resource_record *record)
{
    disp_assert_held();
    for (PLIST_ENTRY e = record->waiters.Flink; e != &record->waiters; e = e->Flink) {
        struct resource_waiter *waiter = CONTAINING_RECORD(e, struct resource_waiter, link);

        if (waiter->exclusive) {
            resource_take_exclusive(resource, (ERESOURCE_THREAD)waiter->thread);
            resource->NumberOfExclusiveWaiters--;
            resource_grant(waiter);
            return;
        }
    }
}

/* Lock held: the resource has no owner left; after an exclusive release shared waiters go first. */
static void resource_hand_on(PERESOURCE resource, struct resource_record *record, bool was_exclusive)
{
    disp_assert_held();
    if (was_exclusive && resource_grant_shared_waiters(resource, record))
        return;
    if (resource->NumberOfExclusiveWaiters != 0)
        resource_grant_exclusive_waiter(resource, record);
    else
        resource_grant_shared_waiters(resource, record);
}

/* Lock held on entry, not on return: queues the caller and blocks in the dispatcher until a
 * releaser has made it an owner. */
static void resource_wait(PERESOURCE resource, struct resource_record *record, struct _KTHREAD *self,
                          bool exclusive, const char *ddi)
{
    struct resource_waiter waiter = { .thread = self, .exclusive = exclusive };

    disp_assert_held();
    disp_init_header(&waiter.granted.Header, DISP_EVENT_NOTIFICATION, sizeof waiter.granted, 0);
    InsertTailList(&record->waiters, &waiter.link);
    if (exclusive)
        resource->NumberOfExclusiveWaiters++;
    else
        resource->NumberOfSharedWaiters++;
    resource->ContentionCount++;
    disp_unlock();
    disp_wait_for(self, &waiter.granted, ddi);
}

/* ---- Acquiring ---- */

/* IRQL <= APC_LEVEL with normal kernel APCs disabled, as every acquire requires. */
static void resource_check_acquire(PERESOURCE resource, struct _KTHREAD *self)
{
    rule_check_irql(RULE_RESOURCE_ACQUIRE_ABOVE_APC, self->irql, (ULONG_PTR)resource, 0, 0);
    if (!region_normal_apcs_disabled(self))
        rule_stop_detail(RULE_RESOURCE_APCS_ENABLED, self->irql, region_combined_apc_disable(self, 0),
                         (ULONG_PTR)resource, 0,
                         "thread %s acquires the resource at %p outside a critical region", self->name,
                         (void *)resource);
}

/* The start of every acquire: its checks, then the lock, held on return, and the record. */
static struct resource_record *resource_acquire_begin(PERESOURCE resource, struct _KTHREAD *self, const char *ddi)
{
    resource_check_acquire(resource, self);
    disp_lock();
    return resource_checked(resource, ddi);
}

/* Lock held: the exclusive owner's acquires, of either kind, recurse at once. */
static bool resource_recurse_exclusive(PERESOURCE resource, ERESOURCE_THREAD me)
{
    disp_assert_held();
    if (!resource_exclusive(resource) || resource->OwnerEntry.OwnerThread != me)
        return false;
    resource->OwnerEntry.OwnerCount++;
    return true;
}

/* Lock held on entry, not on return: a request that cannot be granted now waits for its grant,
 * or with Wait FALSE is refused. */
static bool resource_wait_or_refuse(PERESOURCE resource, struct resource_record *record, struct _KTHREAD *self,
                                    BOOLEAN wait, bool exclusive, const char *ddi)
{
    disp_assert_held();
    if (!wait) {
        disp_unlock();
        return false;
    }
    resource_wait(resource, record, self, exclusive, ddi);
    return true;
}

static bool resource_acquire_exclusive(PERESOURCE resource, BOOLEAN wait, const char *ddi)
{
    struct _KTHREAD *self = thread_current();
    ERESOURCE_THREAD me = (ERESOURCE_THREAD)self;
    struct resource_record *record = resource_acquire_begin(resource, self, ddi);

    if (resource->ActiveCount == 0) {
        resource_take_exclusive(resource, me);
    } else if (!resource_recurse_exclusive(resource, me)) {
        if (wait && resource_shared_entry(resource, me) != NULL)
            rule_stop_detail(RULE_RESOURCE_EXCLUSIVE_WHILE_SHARED, (ULONG_PTR)resource, me, 0, 0,
                             "thread %s asks for exclusive access to the resource at %p that it shares: it "
                             "would wait for itself", self->name, (void *)resource);
        return resource_wait_or_refuse(resource, record, self, wait, true, ddi);
    }
    disp_unlock();
    return true;
}

/* Lock held: may the caller share the resource now, without waiting? */
static bool resource_may_share(const ERESOURCE *resource, ERESOURCE_THREAD me, enum resource_share how)
{
    bool shares = resource_shared_entry(resource, me) != NULL;

    disp_assert_held();
    if (resource->ActiveCount == 0)
        return true;
    if (resource_exclusive(resource))
        return false;
    if (resource->NumberOfExclusiveWaiters == 0)
        return true;
    if (how == RESOURCE_WAIT_FOR_EXCLUSIVE)
        return false;
    return shares || how == RESOURCE_STARVE_EXCLUSIVE;
}

static bool resource_acquire_shared(PERESOURCE resource, BOOLEAN wait, enum resource_share how, const char *ddi)
{
    struct _KTHREAD *self = thread_current();
    ERESOURCE_THREAD me = (ERESOURCE_THREAD)self;
    struct resource_record *record = resource_acquire_begin(resource, self, ddi);

    if (!resource_recurse_exclusive(resource, me)) {
        if (!resource_may_share(resource, me, how))
            return resource_wait_or_refuse(resource, record, self, wait, false, ddi);
        resource_add_share(resource, record, me);
    }
    disp_unlock();
    return true;
}

/* An acquire's result, told to the lock-order checker: a hold that waited (or could have) orders
 * after the caller's locks; one taken with Wait FALSE never waited. */
static BOOLEAN resource_ordered(BOOLEAN acquired, PERESOURCE resource, BOOLEAN wait, const void *site)
{
    if (acquired && wait)
        lockorder_acquire(thread_current_quiet(), resource, LOCKORDER_RESOURCE, site);
    else if (acquired)
        lockorder_try_acquired(thread_current_quiet(), resource, LOCKORDER_RESOURCE, site);
    return acquired;
}

/* IRQL <= APC_LEVEL, normal kernel APCs disabled; may wait (Wait TRUE). The caller's own
 * exclusive hold recurses; shared access it holds must be released first. */
BOOLEAN NTAPI ExAcquireResourceExclusiveLite(PERESOURCE Resource, BOOLEAN Wait)
{
    return resource_ordered(resource_acquire_exclusive(Resource, Wait, "ExAcquireResourceExclusiveLite"), Resource,
                            Wait, __builtin_return_address(0));
}

/* IRQL <= APC_LEVEL, normal kernel APCs disabled; may wait. Waits behind exclusive waiters unless
 * the caller already holds the resource. */
BOOLEAN NTAPI ExAcquireResourceSharedLite(PERESOURCE Resource, BOOLEAN Wait)
{
    return resource_ordered(resource_acquire_shared(Resource, Wait, RESOURCE_SHARED, "ExAcquireResourceSharedLite"),
                            Resource, Wait, __builtin_return_address(0));
}

/* IRQL <= APC_LEVEL, normal kernel APCs disabled; may wait. Shares even ahead of exclusive
 * waiters; waits only for an exclusive owner. */
BOOLEAN NTAPI ExAcquireSharedStarveExclusive(PERESOURCE Resource, BOOLEAN Wait)
{
    return resource_ordered(
        resource_acquire_shared(Resource, Wait, RESOURCE_STARVE_EXCLUSIVE, "ExAcquireSharedStarveExclusive"), Resource,
        Wait, __builtin_return_address(0));
}

/* IRQL <= APC_LEVEL, normal kernel APCs disabled; may wait. Lets exclusive waiters go first even
 * when the caller already shares the resource (then only a release on its behalf, with
 * ExReleaseResourceForThreadLite, lets it go on). */
BOOLEAN NTAPI ExAcquireSharedWaitForExclusive(PERESOURCE Resource, BOOLEAN Wait)
{
    return resource_ordered(
        resource_acquire_shared(Resource, Wait, RESOURCE_WAIT_FOR_EXCLUSIVE, "ExAcquireSharedWaitForExclusive"),
        Resource, Wait, __builtin_return_address(0));
}

/* IRQL <= APC_LEVEL; enters a critical region, then acquires (waiting). Returns the thread's
 * Win32 thread, which a kernel thread does not have: NULL. */
PVOID NTAPI ExEnterCriticalRegionAndAcquireResourceExclusive(PERESOURCE Resource)
{
    KeEnterCriticalRegion();
    resource_ordered(resource_acquire_exclusive(Resource, TRUE, "ExEnterCriticalRegionAndAcquireResourceExclusive"),
                     Resource, TRUE, __builtin_return_address(0));
    return NULL;
}

PVOID NTAPI ExEnterCriticalRegionAndAcquireResourceShared(PERESOURCE Resource)
{
    KeEnterCriticalRegion();
    resource_ordered(
        resource_acquire_shared(Resource, TRUE, RESOURCE_SHARED, "ExEnterCriticalRegionAndAcquireResourceShared"),
        Resource, TRUE, __builtin_return_address(0));
    return NULL;
}

PVOID NTAPI ExEnterCriticalRegionAndAcquireSharedWaitForExclusive(PERESOURCE Resource)
{
    KeEnterCriticalRegion();
    resource_ordered(resource_acquire_shared(Resource, TRUE, RESOURCE_WAIT_FOR_EXCLUSIVE,
                                             "ExEnterCriticalRegionAndAcquireSharedWaitForExclusive"),
                     Resource, TRUE, __builtin_return_address(0));
    return NULL;
}

/* ---- Releasing ---- */

static SIM_NORETURN void resource_stop_not_owned(PERESOURCE resource, ERESOURCE_THREAD owner, const char *ddi)
{
    rule_stop_detail(RULE_RESOURCE_RELEASE_NOT_OWNED, (ULONG_PTR)resource, owner, (ULONG_PTR)resource->OwnerTable,
                     0, "%s of the resource at %p for owner %p, which does not hold it", ddi, (void *)resource,
                     (void *)owner);
}

/* Lock held: one hold of owner's ends; the last one hands the resource on. */
static void resource_release_locked(PERESOURCE resource, struct resource_record *record, ERESOURCE_THREAD owner,
                                    const char *ddi)
{
    POWNER_ENTRY entry;

    disp_assert_held();
    if (resource_exclusive(resource)) {
        if (resource->OwnerEntry.OwnerThread != owner)
            resource_stop_not_owned(resource, owner, ddi);
        if (--resource->OwnerEntry.OwnerCount != 0)
            return;
        resource->OwnerEntry.OwnerThread = 0;
        resource->Flag &= ~ResourceOwnedExclusive;
        resource->ActiveCount = 0;
        resource_hand_on(resource, record, true);
        return;
    }
    entry = resource_shared_entry(resource, owner);
    if (entry == NULL)
        resource_stop_not_owned(resource, owner, ddi);
    if (--entry->OwnerCount != 0)
        return;
    entry->OwnerThread = 0;
    resource->ActiveEntries--;
    if (--resource->ActiveCount == 0)
        resource_hand_on(resource, record, false);
}

/* Entered from a DDI that has made its entry's scheduling point and IRQL check. */
static void resource_release(PERESOURCE resource, ERESOURCE_THREAD owner, const char *ddi)
{
    disp_lock();
    resource_release_locked(resource, resource_checked(resource, ddi), owner, ddi);
    disp_unlock();
}

/* IRQL <= DISPATCH_LEVEL. Ends one of the calling thread's holds. */
VOID FASTCALL ExReleaseResourceLite(PERESOURCE Resource)
{
    struct _KTHREAD *self = thread_current();

    rule_check_irql(RULE_KE_ABOVE_DISPATCH, self->irql, (ULONG_PTR)Resource, 0, 0);
    resource_release(Resource, (ERESOURCE_THREAD)self, "ExReleaseResourceLite");
    lockorder_release(self, Resource);
}

/* IRQL <= DISPATCH_LEVEL. Ends one hold of the given owner: a thread (ExGetCurrentResourceThread
 * on it) or the pointer ExSetResourceOwnerPointer gave the hold. */
VOID NTAPI ExReleaseResourceForThreadLite(PERESOURCE Resource, ERESOURCE_THREAD ResourceThreadId)
{
    struct _KTHREAD *self = thread_current();

    rule_check_irql(RULE_KE_ABOVE_DISPATCH, self->irql, (ULONG_PTR)Resource, 0, 0);
    resource_release(Resource, ResourceThreadId, "ExReleaseResourceForThreadLite");
    if (ResourceThreadId == (ERESOURCE_THREAD)self)
        lockorder_release(self, Resource);
}

/* IRQL <= APC_LEVEL. Releases, then leaves the critical region the acquire entered. */
VOID FASTCALL ExReleaseResourceAndLeaveCriticalRegion(PERESOURCE Resource)
{
    struct _KTHREAD *self = thread_current();

    rule_check_irql(RULE_KE_ABOVE_DISPATCH, self->irql, (ULONG_PTR)Resource, 0, 0);
    resource_release(Resource, (ERESOURCE_THREAD)self, "ExReleaseResourceAndLeaveCriticalRegion");
    lockorder_release(self, Resource);
    KeLeaveCriticalRegion();
}

/* IRQL <= DISPATCH_LEVEL. The exclusive owner keeps its holds as shared ones, and the shared
 * requests waiting are granted with it. */
VOID NTAPI ExConvertExclusiveToSharedLite(PERESOURCE Resource)
{
    struct _KTHREAD *self = thread_current();
    ERESOURCE_THREAD me = (ERESOURCE_THREAD)self;
    struct resource_record *record;
    ULONG count;

    rule_check_irql(RULE_KE_ABOVE_DISPATCH, self->irql, (ULONG_PTR)Resource, 0, 0);
    disp_lock();
    record = resource_checked(Resource, "ExConvertExclusiveToSharedLite");
    if (!resource_exclusive(Resource) || Resource->OwnerEntry.OwnerThread != me)
        resource_stop_not_owned(Resource, me, "ExConvertExclusiveToSharedLite");
    count = Resource->OwnerEntry.OwnerCount;
    Resource->Flag &= ~ResourceOwnedExclusive;
    Resource->OwnerEntry.OwnerThread = 0;
    Resource->OwnerEntry.OwnerCount = 0;
    Resource->ActiveCount = 0;
    resource_add_share(Resource, record, me);
    resource_shared_entry(Resource, me)->OwnerCount = count;
    resource_grant_shared_waiters(Resource, record);
    disp_unlock();
}

/* IRQL <= DISPATCH_LEVEL. The caller's holds now belong to OwnerPointer (by convention with its
 * two low bits set, so that it is no thread's address): another thread may release them with
 * ExReleaseResourceForThreadLite(Resource, (ERESOURCE_THREAD)OwnerPointer). */
VOID NTAPI ExSetResourceOwnerPointer(PERESOURCE Resource, PVOID OwnerPointer)
{
    struct _KTHREAD *self = thread_current();
    ERESOURCE_THREAD me = (ERESOURCE_THREAD)self;
    POWNER_ENTRY entry;

    rule_check_irql(RULE_KE_ABOVE_DISPATCH, self->irql, (ULONG_PTR)Resource, 0, 0);
    disp_lock();
    resource_checked(Resource, "ExSetResourceOwnerPointer");
    if (resource_exclusive(Resource) && Resource->OwnerEntry.OwnerThread == me)
        entry = &Resource->OwnerEntry;
    else if ((entry = resource_shared_entry(Resource, me)) == NULL)
        resource_stop_not_owned(Resource, me, "ExSetResourceOwnerPointer");
    entry->OwnerThread = (ERESOURCE_THREAD)OwnerPointer;
    disp_unlock();
    lockorder_release(self, Resource);
}

/* ---- Questions ---- */

/* IRQL <= DISPATCH_LEVEL. */
BOOLEAN NTAPI ExIsResourceAcquiredExclusiveLite(PERESOURCE Resource)
{
    struct _KTHREAD *self = thread_current();
    ERESOURCE_THREAD me = (ERESOURCE_THREAD)self;
    BOOLEAN owned;

    rule_check_irql(RULE_KE_ABOVE_DISPATCH, self->irql, (ULONG_PTR)Resource, 0, 0);
    disp_lock();
    resource_checked(Resource, "ExIsResourceAcquiredExclusiveLite");
    owned = resource_exclusive(Resource) && Resource->OwnerEntry.OwnerThread == me;
    disp_unlock();
    return owned;
}

/* IRQL <= DISPATCH_LEVEL. How many holds the caller has, shared or exclusive (0: none). */
ULONG NTAPI ExIsResourceAcquiredSharedLite(PERESOURCE Resource)
{
    struct _KTHREAD *self = thread_current();
    ULONG count;

    rule_check_irql(RULE_KE_ABOVE_DISPATCH, self->irql, (ULONG_PTR)Resource, 0, 0);
    disp_lock();
    resource_checked(Resource, "ExIsResourceAcquiredSharedLite");
    count = resource_count_of(Resource, (ERESOURCE_THREAD)self);
    disp_unlock();
    return count;
}

static ULONG resource_waiter_count(PERESOURCE resource, bool exclusive, const char *ddi)
{
    ULONG count;

    rule_check_irql(RULE_KE_ABOVE_DISPATCH, thread_current()->irql, (ULONG_PTR)resource, 0, 0);
    disp_lock();
    resource_checked(resource, ddi);
    count = exclusive ? resource->NumberOfExclusiveWaiters : resource->NumberOfSharedWaiters;
    disp_unlock();
    return count;
}

/* IRQL <= DISPATCH_LEVEL. */
ULONG NTAPI ExGetExclusiveWaiterCount(PERESOURCE Resource)
{
    return resource_waiter_count(Resource, true, "ExGetExclusiveWaiterCount");
}

/* IRQL <= DISPATCH_LEVEL. */
ULONG NTAPI ExGetSharedWaiterCount(PERESOURCE Resource)
{
    return resource_waiter_count(Resource, false, "ExGetSharedWaiterCount");
}

/* ---- Life cycle ---- */

/* IRQL <= DISPATCH_LEVEL; the resource in nonpaged memory. Free, with no owner or waiter. */
NTSTATUS NTAPI ExInitializeResourceLite(PERESOURCE Resource)
{
    struct _KTHREAD *self = thread_current();
    struct resource_record *record;

    rule_check_irql(RULE_KE_ABOVE_DISPATCH, self->irql, (ULONG_PTR)Resource, 0, 0);
    if ((ULONG_PTR)Resource % sizeof(PVOID) != 0)
        rule_stop(RULE_RESOURCE_MISALIGNED, (ULONG_PTR)Resource, 0, 0, 0);
    record = calloc(1, sizeof *record);
    if (record == NULL)
        abort();
    disp_lock();
    if (resource_record_of(Resource) != NULL)
        rule_stop_detail(RULE_RESOURCE_INITIALIZED_TWICE, (ULONG_PTR)Resource, 0, 0, 0,
                         "the resource at %p is initialised and was never deleted", (void *)Resource);
    memset(Resource, 0, sizeof *Resource);
    InitializeListHead(&Resource->SystemResourcesList);
    record->resource = Resource;
    record->driver = driver_index(thread_charged(self));
    InitializeListHead(&record->waiters);
    record->next = records;
    records = record;
    atomic_fetch_add(&record_count, 1);
    disp_unlock();
    lockorder_init(Resource, LOCKORDER_RESOURCE, __builtin_return_address(0));
    return STATUS_SUCCESS;
}

/* Lock held: a resource may go only when nobody holds it or waits for it. */
static void resource_check_unused(PERESOURCE resource, const char *ddi)
{
    disp_assert_held();
    if (resource->ActiveCount != 0 || resource->NumberOfExclusiveWaiters + resource->NumberOfSharedWaiters != 0)
        rule_stop_detail(RULE_RESOURCE_DELETED_IN_USE, (ULONG_PTR)resource, resource->OwnerEntry.OwnerThread, 0, 0,
                         "%s on the resource at %p, still held by %d owner(s) with %u waiter(s)", ddi,
                         (void *)resource, resource->ActiveCount,
                         (unsigned)(resource->NumberOfExclusiveWaiters + resource->NumberOfSharedWaiters));
}

/* IRQL <= DISPATCH_LEVEL. As a delete and a new initialisation, for a resource nobody holds. */
NTSTATUS NTAPI ExReinitializeResourceLite(PERESOURCE Resource)
{
    struct resource_record *record;

    rule_check_irql(RULE_KE_ABOVE_DISPATCH, thread_current()->irql, (ULONG_PTR)Resource, 0, 0);
    disp_lock();
    record = resource_checked(Resource, "ExReinitializeResourceLite");
    resource_check_unused(Resource, "ExReinitializeResourceLite");
    resource_reset(Resource, record);
    disp_unlock();
    return STATUS_SUCCESS;
}

/* IRQL <= DISPATCH_LEVEL. For a resource nobody holds or waits for; its memory may then go. */
NTSTATUS NTAPI ExDeleteResourceLite(PERESOURCE Resource)
{
    struct resource_record **link = &records;

    rule_check_irql(RULE_KE_ABOVE_DISPATCH, thread_current()->irql, (ULONG_PTR)Resource, 0, 0);
    disp_lock();
    while (*link != NULL && (*link)->resource != Resource)
        link = &(*link)->next;
    if (*link == NULL)
        rule_stop_detail(RULE_RESOURCE_DELETE_UNINITIALIZED, (ULONG_PTR)Resource, 0, 0, 0,
                         "the resource at %p was not initialised, or was deleted already", (void *)Resource);
    resource_check_unused(Resource, "ExDeleteResourceLite");
    resource_reset(Resource, *link);
    resource_forget(link);
    disp_unlock();
    lockorder_forget(Resource);
    return STATUS_SUCCESS;
}

/* ---- Checks of the other families' events: a thread's end, a free, an unload ---- */

/* Lock held: the first resource owner still holds, or NULL. */
static PERESOURCE resource_held_by(ERESOURCE_THREAD owner)
{
    disp_assert_held();
    for (const struct resource_record *r = records; r != NULL; r = r->next) {
        if (resource_count_of(r->resource, owner) != 0)
            return r->resource;
    }
    return NULL;
}

/* Dispatcher lock held. Verifier's deadlock detection: a thread must not end holding a resource
 * (one whose holds went to an owner pointer is no longer the thread's). */
static void resource_check_thread_exit(const struct _KTHREAD *self)
{
    PERESOURCE held = resource_held_by((ERESOURCE_THREAD)self);

    disp_assert_held();
    if (held != NULL)
        rule_stop_detail(RULE_RESOURCE_HELD_AT_THREAD_EXIT, (ULONG_PTR)held, (ULONG_PTR)self, 0, 0,
                         "thread %s ends holding the resource at %p", self->name, (void *)held);
}

static struct thread_exit_check resource_exit_check = {
    .order = THREAD_EXIT_OWNERSHIP,
    .check = resource_check_thread_exit,
};
THREAD_EXIT_CHECK(resource_exit_check)

/* Freed memory must hold no initialised resource: it would stay on the kernel's list. */
static void resource_check_free(ULONG_PTR address, size_t size, POOL_TYPE type)
{
    PERESOURCE found = NULL;

    (void)type;
    /* Without the lock when no resource exists, as lookaside.c's and timer.c's checks. */
    if (atomic_load(&record_count) == 0)
        return;
    disp_lock();
    for (const struct resource_record *r = records; r != NULL && found == NULL; r = r->next) {
        if ((ULONG_PTR)r->resource >= address && (ULONG_PTR)r->resource - address < size)
            found = r->resource;
    }
    disp_unlock();
    if (found != NULL)
        rule_stop_detail(RULE_RESOURCE_FREED_ACTIVE, (ULONG_PTR)found, address, size, 0,
                         "the resource at %p is initialised and was never deleted", (void *)found);
}

static struct pool_free_check resource_free_check = {
    .check = resource_check_free,
    .watched = &record_count,
};
POOL_FREE_CHECK(resource_free_check)

/* The unload check's inventory: resources the driver initialised, or that lie in its memory, and
 * did not delete (the kernel's list would point into its freed image or pool). */
static void resource_collect_leftovers(struct driver_check *check)
{
    disp_lock();
    for (const struct resource_record *r = records; r != NULL; r = r->next) {
        const ERESOURCE *resource = r->resource;

        if (driver_check_owns(check, r->driver, resource))
            driver_check_pending(check, "resource", resource, NULL,
                                 "initialised and not deleted, %d owner(s), %u waiter(s)", resource->ActiveCount,
                                 (unsigned)(resource->NumberOfExclusiveWaiters + resource->NumberOfSharedWaiters));
    }
    disp_unlock();
}

static struct driver_inventory resource_inventory = {
    .order = DRIVER_INVENTORY_OBJECTS,
    .collect = resource_collect_leftovers,
};
DRIVER_INVENTORY(resource_inventory)
