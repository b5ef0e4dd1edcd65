/*
 * devqueue.c - device queues (KDEVICE_QUEUE): a busy flag and a list of KDEVICE_QUEUE_ENTRYs, in
 * arrival order or by sort key, through which a driver (or IoStartPacket) serialises its requests.
 * An insert into an idle queue only makes it busy (the caller starts that request itself); a
 * remove from an empty queue makes it idle again.
 * Every entry in a queue is also recorded, so the I/O manager can tell an IRP that is still queued
 * (completing one stops the machine) and the unload check can find entries left in a queue of the
 * driver's: on Windows nothing would ever take them out.
 * Locking: the queue's own spin lock guards its list, Busy and its entries' Inserted, as on Windows;
 * the records are guarded by the dispatcher lock, taken inside the queue's lock.
 */
#include "internal.h"

/* KOBJECTS' DeviceQueueObject: what KeInitializeDeviceQueue writes to Type. */
#define DEVQUEUE_TYPE 0x14

struct devqueue_record {
    const KDEVICE_QUEUE_ENTRY *entry;
    const KDEVICE_QUEUE *queue;
    USHORT driver;                  /* the index of the driver whose code inserted it */
    struct devqueue_record *next;
};

static struct devqueue_record *records;
static LONG recorded;               /* entries recorded now: the completion check's fast path */

/* A new boot forgets the last one's entries (their memory was the drivers'). */
void devqueue_boot(void)
{
    while (records != NULL) {
        struct devqueue_record *next = records->next;

        free(records);
        records = next;
    }
    __atomic_store_n(&recorded, 0, __ATOMIC_RELEASE);
}

/* Dispatcher lock held. */
static struct devqueue_record **devqueue_link_of(const KDEVICE_QUEUE_ENTRY *entry)
{
    struct devqueue_record **link = &records;

    disp_assert_held();
    while (*link != NULL && (*link)->entry != entry)
        link = &(*link)->next;
    return link;
}

static void devqueue_record(const KDEVICE_QUEUE *queue, const KDEVICE_QUEUE_ENTRY *entry)
{
    struct devqueue_record *record = malloc(sizeof *record);

    if (record == NULL)
        abort();
    *record = (struct devqueue_record){ entry, queue, driver_index(thread_current()->driver), NULL };
    disp_lock();
    record->next = records;
    records = record;
    __atomic_add_fetch(&recorded, 1, __ATOMIC_RELEASE);
    disp_unlock();
}

static void devqueue_forget(const KDEVICE_QUEUE_ENTRY *entry)
{
    struct devqueue_record **link, *record;

    disp_lock();
    link = devqueue_link_of(entry);
    record = *link;
    if (record != NULL) {
        *link = record->next;
        __atomic_sub_fetch(&recorded, 1, __ATOMIC_RELEASE);
    }
    disp_unlock();
    free(record);
}

/* A queue initialised again starts empty: entries it held are no longer queued anywhere. */
static void devqueue_forget_queue(const KDEVICE_QUEUE *queue)
{
    struct devqueue_record **link = &records;

    if (__atomic_load_n(&recorded, __ATOMIC_ACQUIRE) == 0)
        return;
    disp_lock();
    while (*link != NULL) {
        struct devqueue_record *record = *link;

        if (record->queue != queue) {
            link = &record->next;
            continue;
        }
        *link = record->next;
        __atomic_sub_fetch(&recorded, 1, __ATOMIC_RELEASE);
        free(record);
    }
    disp_unlock();
}

const KDEVICE_QUEUE *devqueue_queue_of(const KDEVICE_QUEUE_ENTRY *entry)
{
    const KDEVICE_QUEUE *queue = NULL;
    struct devqueue_record *record;

    if (__atomic_load_n(&recorded, __ATOMIC_ACQUIRE) == 0)
        return NULL;
    disp_lock();
    record = *devqueue_link_of(entry);
    if (record != NULL)
        queue = record->queue;
    disp_unlock();
    return queue;
}

/* ---- The list: the queue's lock held ---- */

static void devqueue_link(PKDEVICE_QUEUE queue, PKDEVICE_QUEUE_ENTRY before, PKDEVICE_QUEUE_ENTRY entry)
{
    InsertTailList(before != NULL ? &before->DeviceListEntry : &queue->DeviceListHead, &entry->DeviceListEntry);
    entry->Inserted = TRUE;
    devqueue_record(queue, entry);
}

static void devqueue_unlink(PKDEVICE_QUEUE_ENTRY entry)
{
    RemoveEntryList(&entry->DeviceListEntry);
    entry->Inserted = FALSE;
    devqueue_forget(entry);
}

static PKDEVICE_QUEUE_ENTRY devqueue_entry_of(PLIST_ENTRY link)
{
    return CONTAINING_RECORD(link, KDEVICE_QUEUE_ENTRY, DeviceListEntry);
}

/* The first entry whose key is above key: a new entry goes before it, behind its equals. */
static PKDEVICE_QUEUE_ENTRY devqueue_first_above(PKDEVICE_QUEUE queue, ULONG key)
{
    for (PLIST_ENTRY e = queue->DeviceListHead.Flink; e != &queue->DeviceListHead; e = e->Flink)
        if (devqueue_entry_of(e)->SortKey > key)
            return devqueue_entry_of(e);
    return NULL;
}

/* The first entry whose key is at least key, or, with none, the first of all: a disk's elevator
 * goes on from the current position and wraps around. The queue is not empty. */
static PKDEVICE_QUEUE_ENTRY devqueue_first_from(PKDEVICE_QUEUE queue, ULONG key)
{
    for (PLIST_ENTRY e = queue->DeviceListHead.Flink; e != &queue->DeviceListHead; e = e->Flink)
        if (devqueue_entry_of(e)->SortKey >= key)
            return devqueue_entry_of(e);
    return devqueue_entry_of(queue->DeviceListHead.Flink);
}

/* Busy and not empty: entry goes before `before` (NULL: at the tail). Idle: it becomes busy. */
static BOOLEAN devqueue_insert(PKDEVICE_QUEUE queue, PKDEVICE_QUEUE_ENTRY entry, bool by_key, ULONG key)
{
    BOOLEAN queued;

    KeAcquireSpinLockAtDpcLevel(&queue->Lock);
    queued = queue->Busy;
    if (by_key)
        entry->SortKey = key;
    if (queued)
        devqueue_link(queue, by_key ? devqueue_first_above(queue, key) : NULL, entry);
    else
        entry->Inserted = FALSE;
    queue->Busy = TRUE;
    KeReleaseSpinLockFromDpcLevel(&queue->Lock);
    return queued;
}

/* The next entry (the first, or by key), or NULL with the queue now idle. */
static PKDEVICE_QUEUE_ENTRY devqueue_remove(PKDEVICE_QUEUE queue, bool by_key, ULONG key)
{
    PKDEVICE_QUEUE_ENTRY entry = NULL;

    KeAcquireSpinLockAtDpcLevel(&queue->Lock);
    if (IsListEmpty(&queue->DeviceListHead))
        queue->Busy = FALSE;
    else
        entry = by_key ? devqueue_first_from(queue, key) : devqueue_entry_of(queue->DeviceListHead.Flink);
    if (entry != NULL)
        devqueue_unlink(entry);
    KeReleaseSpinLockFromDpcLevel(&queue->Lock);
    return entry;
}

/* ---- The DDIs ---- */

/* IRQL <= DISPATCH_LEVEL. An idle, empty queue. */
VOID NTAPI KeInitializeDeviceQueue(PKDEVICE_QUEUE DeviceQueue)
{
    rule_check_irql(RULE_KE_ABOVE_DISPATCH, irql_current(), (ULONG_PTR)DeviceQueue, 0, 0);
    devqueue_forget_queue(DeviceQueue);
    DeviceQueue->Type = DEVQUEUE_TYPE;
    DeviceQueue->Size = sizeof *DeviceQueue;
    InitializeListHead(&DeviceQueue->DeviceListHead);
    KeInitializeSpinLock(&DeviceQueue->Lock);
    DeviceQueue->Busy = FALSE;
}

/* DISPATCH_LEVEL. TRUE: queued at the tail; FALSE: the queue was idle, now busy, and the caller
 * goes on with this request itself. */
BOOLEAN NTAPI KeInsertDeviceQueue(PKDEVICE_QUEUE DeviceQueue, PKDEVICE_QUEUE_ENTRY DeviceQueueEntry)
{
    rule_check_irql(RULE_DEVQUEUE_NOT_AT_DISPATCH, irql_current(), (ULONG_PTR)DeviceQueue, 0, 0);
    return devqueue_insert(DeviceQueue, DeviceQueueEntry, false, 0);
}

/* DISPATCH_LEVEL. As KeInsertDeviceQueue, but queued behind every entry with a key up to SortKey. */
BOOLEAN NTAPI KeInsertByKeyDeviceQueue(PKDEVICE_QUEUE DeviceQueue, PKDEVICE_QUEUE_ENTRY DeviceQueueEntry,
                                       ULONG SortKey)
{
    rule_check_irql(RULE_DEVQUEUE_NOT_AT_DISPATCH, irql_current(), (ULONG_PTR)DeviceQueue, 0, 0);
    return devqueue_insert(DeviceQueue, DeviceQueueEntry, true, SortKey);
}

/* DISPATCH_LEVEL. The first entry, or NULL: the queue was empty and is now idle. */
PKDEVICE_QUEUE_ENTRY NTAPI KeRemoveDeviceQueue(PKDEVICE_QUEUE DeviceQueue)
{
    rule_check_irql(RULE_DEVQUEUE_NOT_AT_DISPATCH, irql_current(), (ULONG_PTR)DeviceQueue, 0, 0);
    return devqueue_remove(DeviceQueue, false, 0);
}

/* DISPATCH_LEVEL. The first entry with a key of at least SortKey, else the first; NULL as above. */
PKDEVICE_QUEUE_ENTRY NTAPI KeRemoveByKeyDeviceQueue(PKDEVICE_QUEUE DeviceQueue, ULONG SortKey)
{
    rule_check_irql(RULE_DEVQUEUE_NOT_AT_DISPATCH, irql_current(), (ULONG_PTR)DeviceQueue, 0, 0);
    return devqueue_remove(DeviceQueue, true, SortKey);
}

/* DISPATCH_LEVEL. As KeRemoveByKeyDeviceQueue, but an idle queue is left alone: NULL. */
PKDEVICE_QUEUE_ENTRY NTAPI KeRemoveByKeyDeviceQueueIfBusy(PKDEVICE_QUEUE DeviceQueue, ULONG SortKey)
{
    bool busy;

    rule_check_irql(RULE_DEVQUEUE_NOT_AT_DISPATCH, irql_current(), (ULONG_PTR)DeviceQueue, 0, 0);
    KeAcquireSpinLockAtDpcLevel(&DeviceQueue->Lock);
    busy = DeviceQueue->Busy;
    KeReleaseSpinLockFromDpcLevel(&DeviceQueue->Lock);
    return busy ? devqueue_remove(DeviceQueue, true, SortKey) : NULL;
}

/* IRQL <= DISPATCH_LEVEL. TRUE if the entry was in the queue (it is out now); the queue stays busy
 * even when it becomes empty: only a remove makes it idle. */
BOOLEAN NTAPI KeRemoveEntryDeviceQueue(PKDEVICE_QUEUE DeviceQueue, PKDEVICE_QUEUE_ENTRY DeviceQueueEntry)
{
    BOOLEAN removed;
    KIRQL old;

    rule_check_irql(RULE_KE_ABOVE_DISPATCH, irql_current(), (ULONG_PTR)DeviceQueue, 0, 0);
    KeAcquireSpinLock(&DeviceQueue->Lock, &old);
    removed = DeviceQueueEntry->Inserted;
    if (removed)
        devqueue_unlink(DeviceQueueEntry);
    KeReleaseSpinLock(&DeviceQueue->Lock, old);
    return removed;
}

/* ---- What an unload leaves ---- */

/* An entry still in a queue of the driver's (in its device extension, image or pool), or one its
 * code inserted: on Windows its request would never be started or completed. */
static void devqueue_collect_leftovers(struct driver_check *check)
{
    disp_lock();
    for (struct devqueue_record *r = records; r != NULL; r = r->next)
        if (driver_check_owns(check, r->driver, r->queue))
            driver_check_pending(check, "device queue entry", r->entry, NULL,
                                 "still in the device queue at %p: its request is never started or completed",
                                 (const void *)r->queue);
    disp_unlock();
}

static struct driver_inventory devqueue_inventory = {
    .order = DRIVER_INVENTORY_QUEUED,
    .collect = devqueue_collect_leftovers,
};
DRIVER_INVENTORY(devqueue_inventory)
