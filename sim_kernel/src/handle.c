/*
 * handle.c - handle tables and the DDIs that resolve and close handles. A handle is four times an
 * index into its table (Windows leaves the two low bits to the caller); a kernel handle also has
 * the top bit set, which is how a lookup knows to use the kernel's table. Each process will bring
 * a table of the same kind for handles without that bit, valid only in that process.
 * Locking: each table has its own mutex. A handle's object is referenced under it, so a close
 * cannot delete the object between the lookup and the reference. Table lock, then object lock.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "internal.h"

#define HANDLE_KERNEL_FLAG ((ULONG_PTR)0xFFFFFFFF80000000ull)
#define HANDLE_INDEX_SHIFT 2
#define HANDLE_TABLE_MIN_CAPACITY 64
/* The most entries a table may have: the index must stay below the kernel flag. */
#define HANDLE_TABLE_MAX_CAPACITY ((size_t)1 << 29)

struct handle_entry {
    PVOID object;                   /* NULL: a free entry */
    ACCESS_MASK granted;
    ULONG attributes;               /* the handle's own flags, as HandleAttributes reports them */
    const struct sim_driver *driver;/* whose code opened it, for the leak report */
    size_t next_free;               /* free entries form a stack; 0 ends it */
};

struct handle_table {
    pthread_mutex_t lock;
    struct handle_entry *entries;   /* entry 0 is never used, so no handle is NULL */
    size_t capacity;
    size_t first_free;
    size_t used;                    /* entries ever handed out (the highest index is used - 1) */
    ULONG_PTR flag;                 /* set in every handle of this table */
};

static struct handle_table kernel_table;

static void handle_table_init(struct handle_table *table, ULONG_PTR flag)
{
    if (pthread_mutex_init(&table->lock, NULL) != 0)
        abort();
    table->entries = NULL;
    table->capacity = 0;
    table->first_free = 0;
    table->used = 1;
    table->flag = flag;
}

static void handle_table_lock(struct handle_table *table)
{
    if (pthread_mutex_lock(&table->lock) != 0)
        abort();
}

static void handle_table_unlock(struct handle_table *table)
{
    if (pthread_mutex_unlock(&table->lock) != 0)
        abort();
}

static HANDLE handle_value(const struct handle_table *table, size_t index)
{
    return (HANDLE)(table->flag | (ULONG_PTR)index << HANDLE_INDEX_SHIFT);
}

/* Lock held: a free entry's index, growing the table when every entry is taken. */
static size_t handle_table_take_locked(struct handle_table *table)
{
    size_t index = table->first_free;
    struct handle_entry *entries;
    size_t capacity;

    if (index != 0) {
        table->first_free = table->entries[index].next_free;
        return index;
    }
    if (table->used >= table->capacity) {
        capacity = table->capacity ? table->capacity * 2 : HANDLE_TABLE_MIN_CAPACITY;
        entries = capacity <= HANDLE_TABLE_MAX_CAPACITY
                      ? realloc(table->entries, capacity * sizeof *entries) : NULL;
        if (entries == NULL)
            abort();
        table->entries = entries;
        table->capacity = capacity;
    }
    return table->used++;
}

/* Lock held: the entry a handle of this table names, or NULL when it names none. */
static struct handle_entry *handle_table_entry_locked(struct handle_table *table, HANDLE handle)
{
    size_t index = ((ULONG_PTR)handle & ~table->flag) >> HANDLE_INDEX_SHIFT;

    if (index == 0 || index >= table->used || table->entries[index].object == NULL)
        return NULL;
    return &table->entries[index];
}

/* The table that holds handle. Only kernel handles exist until processes do. */
static struct handle_table *handle_table_of(HANDLE handle)
{
    if (((ULONG_PTR)handle & HANDLE_KERNEL_FLAG) == HANDLE_KERNEL_FLAG)
        return &kernel_table;
    return NULL;
}

/* Frees every entry; returns how many handles were still open, with one line each on stderr. */
static size_t handle_table_destroy(struct handle_table *table, const char *owner)
{
    size_t open = 0;
    char what[128];

    for (size_t i = 1; i < table->used; i++) {
        const struct handle_entry *entry = &table->entries[i];

        if (entry->object == NULL)
            continue;
        object_describe(entry->object, what, sizeof what);
        fprintf(stderr, "wdmsim: shutdown: leaked %s handle %p to the %s, opened by %s\n", owner,
                handle_value(table, i), what, entry->driver ? entry->driver->name : "host code");
        open++;
    }
    free(table->entries);
    table->entries = NULL;
    table->capacity = 0;
    return open;
}

void handle_boot(void)
{
    handle_table_init(&kernel_table, HANDLE_KERNEL_FLAG);
}

size_t handle_shutdown(void)
{
    size_t open;

    handle_table_lock(&kernel_table);
    open = handle_table_destroy(&kernel_table, "kernel");
    handle_table_unlock(&kernel_table);
    return open;
}

HANDLE handle_create(PVOID object, ACCESS_MASK access, ULONG attributes)
{
    struct handle_table *table = &kernel_table;
    size_t index;

    handle_table_lock(table);
    index = handle_table_take_locked(table);
    table->entries[index] = (struct handle_entry){ object, access, attributes, thread_current()->driver, 0 };
    object_handle_opened(object);
    handle_table_unlock(table);
    return handle_value(table, index);
}

/* NtCurrentThread(): a new reference to the calling thread, whichever thread that is. */
static NTSTATUS handle_reference_current_thread(POBJECT_TYPE type, struct handle_entry *found)
{
    PVOID self = KeGetCurrentThread();

    if (type != NULL && type != *PsThreadType)
        return STATUS_OBJECT_TYPE_MISMATCH;
    object_reference_or_borrow(self, *PsThreadType);
    *found = (struct handle_entry){ self, THREAD_ALL_ACCESS, 0, NULL, 0 };
    return STATUS_SUCCESS;
}

static NTSTATUS handle_reference(HANDLE handle, POBJECT_TYPE type, KPROCESSOR_MODE mode,
                                 struct handle_entry *found)
{
    struct handle_table *table = handle_table_of(handle);
    struct handle_entry *entry;
    NTSTATUS status = STATUS_SUCCESS;

    /* User mode never sees the kernel's table, whatever process it runs in. */
    if (table == NULL || (table == &kernel_table && mode == UserMode))
        return STATUS_INVALID_HANDLE;
    handle_table_lock(table);
    entry = handle_table_entry_locked(table, handle);
    if (entry == NULL) {
        status = STATUS_INVALID_HANDLE;
    } else if (type != NULL && object_type_of(entry->object) != type) {
        status = STATUS_OBJECT_TYPE_MISMATCH;
    } else {
        object_reference(entry->object);
        *found = *entry;
    }
    handle_table_unlock(table);
    return status;
}

/* PASSIVE_LEVEL. KernelMode skips the access check; on failure *Object is NULL. */
NTSTATUS NTAPI ObReferenceObjectByHandle(HANDLE Handle, ACCESS_MASK DesiredAccess, POBJECT_TYPE ObjectType,
                                         KPROCESSOR_MODE AccessMode, PVOID *Object,
                                         POBJECT_HANDLE_INFORMATION HandleInformation)
{
    struct handle_entry found;
    NTSTATUS status;

    rule_check_irql(RULE_OB_NOT_PASSIVE, irql_current(), (ULONG_PTR)Handle, (ULONG_PTR)ObjectType, 0);
    /* Only a UserMode reference checks access, and user mode can hold no valid handle before
     * processes exist: every handle is a kernel handle. */
    (void)DesiredAccess;
    *Object = NULL;
    if (Handle == NtCurrentThread())
        status = handle_reference_current_thread(ObjectType, &found);
    else
        status = handle_reference(Handle, ObjectType, AccessMode, &found);
    if (!NT_SUCCESS(status))
        return status;
    *Object = found.object;
    if (HandleInformation != NULL) {
        HandleInformation->HandleAttributes = found.attributes;
        HandleInformation->GrantedAccess = found.granted;
    }
    return STATUS_SUCCESS;
}

/* PASSIVE_LEVEL. Closing a thread's handle does not stop the thread. */
NTSTATUS NTAPI ZwClose(HANDLE Handle)
{
    struct handle_table *table;
    struct handle_entry *entry;
    PVOID object = NULL;

    rule_check_irql(RULE_ZW_NOT_PASSIVE, irql_current(), (ULONG_PTR)Handle, 0, 0);
    table = handle_table_of(Handle);
    if (table == NULL)
        return STATUS_INVALID_HANDLE;
    handle_table_lock(table);
    entry = handle_table_entry_locked(table, Handle);
    if (entry != NULL) {
        object = entry->object;
        entry->object = NULL;
        entry->next_free = table->first_free;
        table->first_free = (size_t)(entry - table->entries);
    }
    handle_table_unlock(table);
    if (object == NULL)
        return STATUS_INVALID_HANDLE;
    object_handle_closed(object);
    return STATUS_SUCCESS;
}
