/*
 * errorlog.c - the I/O manager's error log: IoAllocateErrorLogEntry hands a driver a zeroed
 * IO_ERROR_LOG_PACKET of up to ERROR_LOG_MAXIMUM_SIZE bytes; IoWriteErrorLogEntry copies it into
 * the log (with the time, the driver's and the device's names), which the host reads with
 * wdmsim_error_log_*; IoFreeErrorLogEntry drops one unwritten. An entry neither written nor freed
 * at its driver's unload is a leak (its inventory). The entries are the kernel's memory, not the
 * driver's pool.
 * Locking: errorlog_lock (a leaf) guards the allocated entries and the log.
 */
#include <stdio.h>
#include <string.h>

#include "internal.h"

/* One entry a driver holds, between IoAllocateErrorLogEntry and its write or free. */
struct errorlog_slot {
    LIST_ENTRY link;
    USHORT driver;                  /* the driver whose code allocated it */
    UCHAR size;                     /* EntrySize */
    char driver_name[64];           /* of the IoObject, taken at allocation as Windows references it */
    char device_name[64];
    union {
        IO_ERROR_LOG_PACKET packet; /* what the driver gets */
        UCHAR bytes[ERROR_LOG_MAXIMUM_SIZE];
    } entry;
};

static pthread_mutex_t errorlog_lock = PTHREAD_MUTEX_INITIALIZER;
static LIST_ENTRY errorlog_held;
static struct wdmsim_error_log_entry *errorlog_entries;
static size_t errorlog_count, errorlog_capacity;

static __thread bool errorlog_lock_mine;  /* this thread holds errorlog_lock */

static void errorlog_lock_acquire(void)
{
    host_lock(&errorlog_lock);
    errorlog_lock_mine = true;
}

static void errorlog_lock_release(void)
{
    errorlog_lock_mine = false;
    host_unlock(&errorlog_lock);
}

void errorlog_boot(void)
{
    pthread_mutex_init(&errorlog_lock, NULL);
    InitializeListHead(&errorlog_held);
    errorlog_entries = NULL;
    errorlog_count = errorlog_capacity = 0;
}

void errorlog_shutdown(void)
{
    errorlog_lock_acquire();
    while (!IsListEmpty(&errorlog_held))
        free(CONTAINING_RECORD(RemoveHeadList(&errorlog_held), struct errorlog_slot, link));
    free(errorlog_entries);
    errorlog_entries = NULL;
    errorlog_count = errorlog_capacity = 0;
    errorlog_lock_release();
}

/* Lock held: the slot of an entry a driver holds, or NULL. */
static struct errorlog_slot *errorlog_find_locked(PVOID entry)
{
    if (!errorlog_lock_mine)
        abort();
    for (PLIST_ENTRY e = errorlog_held.Flink; e != &errorlog_held; e = e->Flink) {
        struct errorlog_slot *slot = CONTAINING_RECORD(e, struct errorlog_slot, link);

        if (&slot->entry.packet == entry)
            return slot;
    }
    return NULL;
}

/* The slot of entry, taken off the held list; a STOP for anything else. */
static struct errorlog_slot *errorlog_take(PVOID entry, const char *ddi)
{
    struct errorlog_slot *slot;

    errorlog_lock_acquire();
    slot = errorlog_find_locked(entry);
    if (slot != NULL)
        RemoveEntryList(&slot->link);
    errorlog_lock_release();
    if (slot == NULL)
        rule_stop_detail(RULE_ERRORLOG_NOT_AN_ENTRY, (ULONG_PTR)entry, 0, 0, 0,
                         "%s(%p): not an entry IoAllocateErrorLogEntry returned, or one already written or freed",
                         ddi, entry);
    return slot;
}

/* The driver an IoObject (a device or driver object) belongs to, or NULL for anything else. */
static PDRIVER_OBJECT errorlog_driver_of(PVOID io_object)
{
    CSHORT type = io_object != NULL ? *(CSHORT *)io_object : 0;

    if (type == IO_TYPE_DEVICE)
        return ((PDEVICE_OBJECT)io_object)->DriverObject;
    return type == IO_TYPE_DRIVER ? io_object : NULL;
}

/* Narrows what fits of a counted WCHAR string into out (size bytes, terminated). */
static void errorlog_narrow(char *out, size_t size, const WCHAR *text, size_t count)
{
    size_t n = 0;

    for (; n < count && n + 1 < size && text[n] != 0; n++)
        out[n] = text[n] < 0x80 ? (char)text[n] : '?';
    out[n] = 0;
}

/* The names the log shows: the IoObject's driver, and the named device of its stack. */
static void errorlog_names(struct errorlog_slot *slot, PVOID io_object, PDRIVER_OBJECT driver)
{
    PCUNICODE_STRING device = NULL;

    errorlog_narrow(slot->driver_name, sizeof slot->driver_name, driver->DriverName.Buffer,
                    driver->DriverName.Length / sizeof(WCHAR));
    if (io_object != driver)
        device = io_device_stack_name(io_object);
    if (device != NULL)
        errorlog_narrow(slot->device_name, sizeof slot->device_name, device->Buffer, device->Length / sizeof(WCHAR));
}

/* <= DISPATCH_LEVEL. A zeroed entry of EntrySize bytes, or NULL when the size is below
 * sizeof(IO_ERROR_LOG_PACKET) or above ERROR_LOG_MAXIMUM_SIZE, or IoObject is neither a device
 * nor a driver object. */
PVOID NTAPI IoAllocateErrorLogEntry(PVOID IoObject, UCHAR EntrySize)
{
    struct errorlog_slot *slot;
    PDRIVER_OBJECT driver;

    rule_check_irql(RULE_ERRORLOG_ABOVE_DISPATCH, irql_current(), (ULONG_PTR)IoObject, EntrySize, 0);
    driver = errorlog_driver_of(IoObject);
    if (EntrySize < sizeof(IO_ERROR_LOG_PACKET) || EntrySize > ERROR_LOG_MAXIMUM_SIZE || driver == NULL)
        return NULL;
    slot = calloc(1, sizeof *slot);
    if (slot == NULL)
        return NULL;
    slot->driver = driver_index(thread_charged(thread_current_quiet()));
    slot->size = EntrySize;
    errorlog_names(slot, IoObject, driver);
    errorlog_lock_acquire();
    InsertTailList(&errorlog_held, &slot->link);
    errorlog_lock_release();
    return &slot->entry.packet;
}

/* The insertion strings at StringOffset: NumberOfStrings terminated WCHAR strings inside the entry. */
static void errorlog_strings(const struct errorlog_slot *slot, struct wdmsim_error_log_entry *out)
{
    const IO_ERROR_LOG_PACKET *p = &slot->entry.packet;
    size_t at = p->StringOffset, n = 0;

    for (USHORT i = 0; i < p->NumberOfStrings && at + sizeof(WCHAR) <= slot->size; i++) {
        const WCHAR *s = (const WCHAR *)(slot->entry.bytes + at);
        size_t count = 0;

        while (at + (count + 1) * sizeof(WCHAR) <= slot->size && s[count] != 0)
            count++;
        errorlog_narrow(out->strings + n, sizeof out->strings - n, s, count);
        n += strlen(out->strings + n);
        if (n + 1 < sizeof out->strings)
            out->strings[n++] = '\n';
        out->strings[n] = 0;
        at += (count + 1) * sizeof(WCHAR);
    }
}

/* The log's record of a written entry. */
static void errorlog_record(const struct errorlog_slot *slot, struct wdmsim_error_log_entry *out)
{
    const IO_ERROR_LOG_PACKET *p = &slot->entry.packet;
    size_t dump_room = slot->size - FIELD_OFFSET(IO_ERROR_LOG_PACKET, DumpData);

    memset(out, 0, sizeof *out);
    out->time = clock_system_time();
    memcpy(out->driver, slot->driver_name, sizeof out->driver);
    memcpy(out->device, slot->device_name, sizeof out->device);
    out->major_function = p->MajorFunctionCode;
    out->retry_count = p->RetryCount;
    out->event_category = p->EventCategory;
    out->error_code = p->ErrorCode;
    out->unique_error_value = p->UniqueErrorValue;
    out->final_status = p->FinalStatus;
    out->sequence_number = p->SequenceNumber;
    out->io_control_code = p->IoControlCode;
    out->device_offset = p->DeviceOffset.QuadPart;
    out->dump_data_size = (unsigned short)(p->DumpDataSize < dump_room ? p->DumpDataSize : dump_room);
    memcpy(out->dump_data, p->DumpData, out->dump_data_size);
    out->number_of_strings = p->NumberOfStrings;
    errorlog_strings(slot, out);
}

/* Appends a record; a log that cannot grow loses it, as a full event log does. */
static void errorlog_append(const struct wdmsim_error_log_entry *record)
{
    errorlog_lock_acquire();
    if (errorlog_count == errorlog_capacity) {
        size_t capacity = errorlog_capacity ? errorlog_capacity * 2 : 8;
        struct wdmsim_error_log_entry *grown = realloc(errorlog_entries, capacity * sizeof *grown);

        if (grown != NULL) {
            errorlog_entries = grown;
            errorlog_capacity = capacity;
        }
    }
    if (errorlog_count < errorlog_capacity)
        errorlog_entries[errorlog_count++] = *record;
    errorlog_lock_release();
}

/* <= DISPATCH_LEVEL. The entry goes to the log; it is the I/O manager's from now on. The IoObject
 * it was allocated for names the driver and device. */
VOID NTAPI IoWriteErrorLogEntry(PVOID ElEntry)
{
    struct wdmsim_error_log_entry *record;
    struct errorlog_slot *slot;

    rule_check_irql(RULE_ERRORLOG_ABOVE_DISPATCH, irql_current(), (ULONG_PTR)ElEntry, 0, 0);
    slot = errorlog_take(ElEntry, "IoWriteErrorLogEntry");
    record = malloc(sizeof *record);
    if (record != NULL) {
        errorlog_record(slot, record);
        errorlog_append(record);
        free(record);
    }
    free(slot);
}

/* <= DISPATCH_LEVEL. Drops an entry that was not written. */
VOID NTAPI IoFreeErrorLogEntry(PVOID ElEntry)
{
    rule_check_irql(RULE_ERRORLOG_ABOVE_DISPATCH, irql_current(), (ULONG_PTR)ElEntry, 0, 0);
    free(errorlog_take(ElEntry, "IoFreeErrorLogEntry"));
}

/* The unload check's inventory: entries the driver allocated and neither wrote nor freed. */
static void errorlog_collect(struct driver_check *check)
{
    USHORT driver = driver_index(driver_check_driver(check));
    char what[128];

    errorlog_lock_acquire();
    for (PLIST_ENTRY e = errorlog_held.Flink; e != &errorlog_held; e = e->Flink) {
        const struct errorlog_slot *slot = CONTAINING_RECORD(e, struct errorlog_slot, link);

        if (slot->driver != driver)
            continue;
        snprintf(what, sizeof what, "error log entry %p (ErrorCode 0x%08X) from IoAllocateErrorLogEntry, "
                 "neither written nor freed", (const void *)&slot->entry.packet,
                 (unsigned)slot->entry.packet.ErrorCode);
        driver_check_reference(check, what);
    }
    errorlog_lock_release();
}

static struct driver_inventory errorlog_inventory = {
    .order = DRIVER_INVENTORY_REFERENCES,
    .collect = errorlog_collect,
};
DRIVER_INVENTORY(errorlog_inventory)

size_t wdmsim_error_log_count(void)
{
    size_t count;

    errorlog_lock_acquire();
    count = errorlog_count;
    errorlog_lock_release();
    return count;
}

int wdmsim_error_log_entry(size_t index, struct wdmsim_error_log_entry *entry)
{
    int found;

    errorlog_lock_acquire();
    found = index < errorlog_count;
    if (found)
        *entry = errorlog_entries[index];
    errorlog_lock_release();
    return found;
}
