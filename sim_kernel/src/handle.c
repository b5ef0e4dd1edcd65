/*
 * handle.c - handle tables and the DDIs that resolve, open and close handles. A handle is four
 * times an index into its process's table; the kernel's table is System's, and OBJ_KERNEL_HANDLE
 * handles there carry the top bit, which lets KernelMode reach them from any process. Any other
 * handle resolves only in the current (attached) process: one opened in DriverEntry without
 * OBJ_KERNEL_HANDLE fails in an application's process, the DebugPrint book's trap.
 * Locking: one mutex per table, under which a handle's object is referenced, so a close cannot
 * delete it in between. The process lock comes before a table's, a table's before the object lock.
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
/* What NtCurrentProcess() grants (PROCESS_ALL_ACCESS, which wdm.h does not define). */
#define HANDLE_PROCESS_ALL_ACCESS (STANDARD_RIGHTS_REQUIRED | SYNCHRONIZE | 0xFFFF)

struct handle_entry {
    PVOID object;                   /* NULL: a free entry */
    ACCESS_MASK granted;
    ULONG attributes;               /* the handle's own flags, as HandleAttributes reports them */
    const struct sim_driver *driver;/* whose code opened it, for the leak report */
    size_t next_free;               /* free entries form a stack; 0 ends it */
    bool kernel;                    /* handed out with the top bit (OBJ_KERNEL_HANDLE) */
};

struct handle_table {
    pthread_mutex_t lock;
    struct handle_entry *entries;   /* entry 0 is never used, so no handle is NULL */
    size_t capacity;
    size_t first_free;
    size_t used;                    /* entries ever handed out (the highest index is used - 1) */
};

static struct handle_table kernel_table;

static void handle_table_init(struct handle_table *table)
{
    if (pthread_mutex_init(&table->lock, NULL) != 0)
        abort();
    table->entries = NULL;
    table->capacity = 0;
    table->first_free = 0;
    table->used = 1;
}

static void handle_table_lock(struct handle_table *table)
{
    host_lock(&table->lock);
}

static void handle_table_unlock(struct handle_table *table)
{
    host_unlock(&table->lock);
}

static bool handle_is_kernel(HANDLE handle)
{
    return ((ULONG_PTR)handle & HANDLE_KERNEL_FLAG) == HANDLE_KERNEL_FLAG;
}

/* Lock held: the value entry `index` was handed out as. */
static HANDLE handle_value(const struct handle_table *table, size_t index)
{
    return (HANDLE)((table->entries[index].kernel ? HANDLE_KERNEL_FLAG : 0) | (ULONG_PTR)index << HANDLE_INDEX_SHIFT);
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

/* Lock held: the entry a handle names in this table, or NULL when it names none. In System's
 * table a handle resolves with or without the top bit, as both index the same table on Windows. */
static struct handle_entry *handle_table_entry_locked(struct handle_table *table, HANDLE handle)
{
    size_t index = ((ULONG_PTR)handle & ~HANDLE_KERNEL_FLAG) >> HANDLE_INDEX_SHIFT;

    if (index == 0 || index >= table->used || table->entries[index].object == NULL)
        return NULL;
    return &table->entries[index];
}

/* Lock held: frees an entry and returns the object it held. */
static PVOID handle_table_release_locked(struct handle_table *table, struct handle_entry *entry)
{
    PVOID object = entry->object;

    entry->object = NULL;
    entry->next_free = table->first_free;
    table->first_free = (size_t)(entry - table->entries);
    return object;
}

struct handle_table *handle_kernel_table(void)
{
    return &kernel_table;
}

struct handle_table *handle_table_create(void)
{
    struct handle_table *table = malloc(sizeof *table);

    if (table == NULL)
        abort();
    handle_table_init(table);
    return table;
}

void handle_table_free(struct handle_table *table)
{
    free(table->entries);
    if (pthread_mutex_destroy(&table->lock) != 0)
        abort();
    free(table);
}

/* Lock held: how a leak line names the owner of entry `index`. */
static const char *handle_owner_label(const struct handle_table *table, size_t index, const char *owner)
{
    return table->entries[index].kernel ? "kernel" : owner;
}

/* Frees every entry; returns how many handles were still open, with one line each on stderr. */
static size_t handle_table_destroy_locked(struct handle_table *table, const char *owner)
{
    size_t open = 0;
    char what[128];

    for (size_t i = 1; i < table->used; i++) {
        const struct handle_entry *entry = &table->entries[i];

        if (entry->object == NULL)
            continue;
        object_describe(entry->object, what, sizeof what);
        fprintf(stderr, "wdmsim: shutdown: leaked %s handle %p to the %s, opened by %s\n",
                handle_owner_label(table, i, owner), handle_value(table, i), what,
                entry->driver ? entry->driver->name : "host code");
        open++;
    }
    free(table->entries);
    table->entries = NULL;
    table->capacity = 0;
    table->first_free = 0;
    table->used = 1;
    return open;
}

static void handle_destroy_table(void *leaked, struct handle_table *table, const char *owner)
{
    handle_table_lock(table);
    *(size_t *)leaked += handle_table_destroy_locked(table, owner);
    handle_table_unlock(table);
}

void handle_boot(void)
{
    handle_table_init(&kernel_table);
}

size_t handle_shutdown(void)
{
    size_t open = 0;
    char system[64], owner[80];

    process_describe(process_system(), system, sizeof system);
    snprintf(owner, sizeof owner, "process %s", system);
    handle_destroy_table(&open, &kernel_table, owner);
    process_for_each_table(handle_destroy_table, &open);
    return open;
}

size_t handle_table_close_all(struct handle_table *table, const char *process)
{
    const struct sim_driver *driver = NULL;
    HANDLE value = NULL;
    size_t closed = 0;
    PVOID object;
    char what[128];

    for (;;) {
        object = NULL;
        handle_table_lock(table);
        for (size_t i = 1; i < table->used && object == NULL; i++) {
            if (table->entries[i].object == NULL)
                continue;
            value = handle_value(table, i);
            driver = table->entries[i].driver;
            object = handle_table_release_locked(table, &table->entries[i]);
        }
        handle_table_unlock(table);
        if (object == NULL)
            return closed;
        object_describe(object, what, sizeof what);
        fprintf(stderr, "wdmsim: process exit: %s left handle %p to the %s open, opened by %s; closing it\n",
                process, value, what, driver ? driver->name : "host code");
        object_handle_closed(object);
        closed++;
    }
}

bool handle_table_describe(struct handle_table *table, HANDLE handle, char *what, size_t size)
{
    struct handle_entry *entry;
    bool found = false;

    handle_table_lock(table);
    entry = handle_table_entry_locked(table, handle);
    if (entry != NULL && !entry->kernel) {
        object_describe(entry->object, what, size);
        found = true;
    }
    handle_table_unlock(table);
    return found;
}

struct handle_found {
    HANDLE handle;
    PVOID object;
};

/* The handles of one table the checked driver opened: copied under the lock, reported without it. */
static void handle_table_collect_leftovers(struct driver_check *check, struct handle_table *table,
                                           const char *owner)
{
    const struct sim_driver *driver = driver_check_driver(check);
    struct handle_found *found;
    size_t count = 0;
    char what[128], line[224];

    handle_table_lock(table);
    found = malloc((table->used + 1) * sizeof *found);
    if (found == NULL)
        abort();
    for (size_t i = 1; i < table->used; i++) {
        if (table->entries[i].object != NULL && table->entries[i].driver == driver)
            found[count++] = (struct handle_found){ handle_value(table, i), table->entries[i].object };
    }
    handle_table_unlock(table);
    for (size_t i = 0; i < count; i++) {
        object_describe(found[i].object, what, sizeof what);
        snprintf(line, sizeof line, "%s handle %p to the %s, still open", owner, found[i].handle, what);
        driver_check_reference(check, line);
    }
    free(found);
}

static void handle_collect_in_process(void *check, struct handle_table *table, const char *owner)
{
    handle_table_collect_leftovers(check, table, owner);
}

/* The unload check's inventory of handles: the kernel's table, then each process's. */
static void handle_collect_leftovers(struct driver_check *check)
{
    handle_table_collect_leftovers(check, &kernel_table, "kernel");
    process_for_each_table(handle_collect_in_process, check);
}

static struct driver_inventory handle_inventory = {
    .order = DRIVER_INVENTORY_REFERENCES,
    .collect = handle_collect_leftovers,
};
DRIVER_INVENTORY(handle_inventory)

HANDLE handle_create(PVOID object, ACCESS_MASK access, ULONG attributes)
{
    struct _KTHREAD *self = thread_current();
    bool kernel = (attributes & OBJ_KERNEL_HANDLE) != 0;
    struct handle_table *table = kernel ? &kernel_table : process_handle_table(self->current_process);
    HANDLE handle;
    size_t index;

    handle_table_lock(table);
    index = handle_table_take_locked(table);
    table->entries[index] = (struct handle_entry){ object, access, attributes & OBJ_INHERIT, self->driver, 0, kernel };
    object_handle_opened(object);
    handle = handle_value(table, index);
    handle_table_unlock(table);
    return handle;
}

/* Windows says nothing when a handle fails in the wrong process. The simulator names the process
 * that does hold it, since that is nearly always a handle opened in one context and used in another. */
static void handle_explain(HANDLE handle, NTSTATUS status)
{
    PEPROCESS here = process_current();
    char where[64], owner[80], what[128];

    if (handle_is_kernel(handle) || !process_find_handle_owner(handle, here, owner, sizeof owner, what, sizeof what))
        return;
    process_describe(here, where, sizeof where);
    fprintf(stderr, "wdmsim: handle %p %s in process %s: it is a handle of %s, to the %s. A handle opened "
            "without OBJ_KERNEL_HANDLE is valid only in the process that opened it: open it with "
            "OBJ_KERNEL_HANDLE, or make every call on it in that process (for System: from a system thread)\n",
            handle, status == STATUS_OBJECT_TYPE_MISMATCH ? "names an object of another type" : "is not open",
            where, owner, what);
}

/* Driver Verifier's check (0xC4 / 0xF6): driver code may refer to a process handle as KernelMode
 * only in the System process, where every such handle was opened by kernel code. */
static void handle_check_kernel_mode(HANDLE handle, KPROCESSOR_MODE mode)
{
    PEPROCESS here = process_current();

    if (mode != KernelMode || handle_is_kernel(handle) || here == process_system() ||
        thread_charged(thread_current()) == NULL)
        return;
    handle_explain(handle, STATUS_INVALID_HANDLE);
    rule_stop(RULE_HANDLE_USER_AS_KERNEL, (ULONG_PTR)handle, (ULONG_PTR)here, 0, 0);
}

/* NtCurrentThread(): a new reference to the calling thread, whichever thread that is. */
static NTSTATUS handle_reference_current_thread(POBJECT_TYPE type, struct handle_entry *found)
{
    PVOID self = KeGetCurrentThread();

    if (type != NULL && type != *PsThreadType)
        return STATUS_OBJECT_TYPE_MISMATCH;
    object_reference_or_borrow(self, *PsThreadType);
    *found = (struct handle_entry){ self, THREAD_ALL_ACCESS, 0, NULL, 0, false };
    return STATUS_SUCCESS;
}

/* NtCurrentProcess(): a new reference to the current (attached) process. */
static NTSTATUS handle_reference_current_process(POBJECT_TYPE type, struct handle_entry *found)
{
    PEPROCESS process = process_current();

    if (type != NULL && type != *PsProcessType)
        return STATUS_OBJECT_TYPE_MISMATCH;
    object_reference(process);
    *found = (struct handle_entry){ process, HANDLE_PROCESS_ALL_ACCESS, 0, NULL, 0, false };
    return STATUS_SUCCESS;
}

static NTSTATUS handle_reference_entry(HANDLE handle, POBJECT_TYPE type, KPROCESSOR_MODE mode,
                                       struct handle_entry *found)
{
    struct handle_table *table;
    struct handle_entry *entry;
    NTSTATUS status = STATUS_SUCCESS;

    /* User mode never sees the kernel's table, whatever process it runs in. */
    if (handle_is_kernel(handle) && mode == UserMode)
        return STATUS_INVALID_HANDLE;
    handle_check_kernel_mode(handle, mode);
    table = handle_is_kernel(handle) ? &kernel_table : process_handle_table(process_current());
    handle_table_lock(table);
    entry = handle_table_entry_locked(table, handle);
    if (entry == NULL) {
        status = STATUS_INVALID_HANDLE;
    } else if (!object_reference_typed(entry->object, type)) {
        status = STATUS_OBJECT_TYPE_MISMATCH;
    } else {
        *found = *entry;
    }
    handle_table_unlock(table);
    return status;
}

NTSTATUS handle_reference(HANDLE handle, POBJECT_TYPE type, KPROCESSOR_MODE mode, PVOID *object,
                          POBJECT_HANDLE_INFORMATION info)
{
    struct handle_entry found;
    NTSTATUS status;

    *object = NULL;
    if (handle == NtCurrentThread())
        status = handle_reference_current_thread(type, &found);
    else if (handle == NtCurrentProcess())
        status = handle_reference_current_process(type, &found);
    else
        status = handle_reference_entry(handle, type, mode, &found);
    if (!NT_SUCCESS(status)) {
        handle_explain(handle, status);
        return status;
    }
    *object = found.object;
    if (info != NULL) {
        info->HandleAttributes = found.attributes;
        info->GrantedAccess = found.granted;
    }
    return STATUS_SUCCESS;
}

/* PASSIVE_LEVEL. KernelMode skips the access check; on failure *Object is NULL. */
NTSTATUS NTAPI ObReferenceObjectByHandle(HANDLE Handle, ACCESS_MASK DesiredAccess, POBJECT_TYPE ObjectType,
                                         KPROCESSOR_MODE AccessMode, PVOID *Object,
                                         POBJECT_HANDLE_INFORMATION HandleInformation)
{
    rule_check_irql(RULE_OB_NOT_PASSIVE, irql_current(), (ULONG_PTR)Handle, (ULONG_PTR)ObjectType, 0);
    RULE_CHECK_ARGUMENT(Object, RULE_WRITES);
    /* KernelMode skips the access check, and UserMode gets what it asks for too: without security
     * descriptors or generic mappings there is nothing to check DesiredAccess against. */
    (void)DesiredAccess;
    return handle_reference(Handle, ObjectType, AccessMode, Object, HandleInformation);
}

/* PASSIVE_LEVEL. A new handle to an object the caller holds: in the current process's table, or
 * the kernel's with OBJ_KERNEL_HANDLE (which only KernelMode callers may ask for). */
NTSTATUS NTAPI ObOpenObjectByPointer(PVOID Object, ULONG HandleAttributes, PACCESS_STATE PassedAccessState,
                                     ACCESS_MASK DesiredAccess, POBJECT_TYPE ObjectType, KPROCESSOR_MODE AccessMode,
                                     PHANDLE Handle)
{
    rule_check_irql(RULE_OB_NOT_PASSIVE, irql_current(), (ULONG_PTR)Object, (ULONG_PTR)ObjectType, 0);
    RULE_CHECK_ARGUMENT(Object, RULE_READS);
    RULE_CHECK_ARGUMENT(Handle, RULE_WRITES);
    /* No security model: the access state would only carry what DesiredAccess says. */
    (void)PassedAccessState;
    object_reference(Object);
    if (ObjectType != NULL && object_type_of(Object) != ObjectType) {
        ObDereferenceObject(Object);
        *Handle = NULL;
        return STATUS_OBJECT_TYPE_MISMATCH;
    }
    if (AccessMode != KernelMode)
        HandleAttributes &= ~(ULONG)OBJ_KERNEL_HANDLE;
    *Handle = handle_create(Object, DesiredAccess, HandleAttributes);
    ObDereferenceObject(Object);
    return STATUS_SUCCESS;
}

static NTSTATUS handle_close(struct handle_table *table, HANDLE handle)
{
    struct handle_entry *entry;
    PVOID object = NULL;

    handle_table_lock(table);
    entry = handle_table_entry_locked(table, handle);
    if (entry != NULL)
        object = handle_table_release_locked(table, entry);
    handle_table_unlock(table);
    if (object == NULL) {
        handle_explain(handle, STATUS_INVALID_HANDLE);
        return STATUS_INVALID_HANDLE;
    }
    object_handle_closed(object);
    return STATUS_SUCCESS;
}

/* PASSIVE_LEVEL; may wait. Waits for the object a handle names, as KeWaitForSingleObject does
 * (Timeout NULL for ever, 0 for a poll): an event, a thread, a process (until it ends), or a file,
 * signalled when an I/O request on it completes (overlapped I/O). A UserMode caller needs
 * SYNCHRONIZE access. The object stays referenced while the thread waits, so closing the handle
 * meanwhile is safe. */
NTSTATUS NTAPI ZwWaitForSingleObject(HANDLE Handle, BOOLEAN Alertable, PLARGE_INTEGER Timeout)
{
    KPROCESSOR_MODE mode = thread_previous_mode();
    OBJECT_HANDLE_INFORMATION info;
    PVOID object, waitable;
    NTSTATUS status;

    rule_check_irql(RULE_ZW_NOT_PASSIVE, irql_current(), (ULONG_PTR)Handle, 0, 0);
    status = handle_reference(Handle, NULL, mode, &object, &info);
    if (!NT_SUCCESS(status))
        return status;
    waitable = object_wait_target(object);
    if (mode == UserMode && !(info.GrantedAccess & SYNCHRONIZE))
        status = STATUS_ACCESS_DENIED;
    else if (waitable == NULL)
        status = STATUS_OBJECT_TYPE_MISMATCH;
    else
        status = KeWaitForSingleObject(waitable, UserRequest, mode, Alertable, Timeout);
    ObDereferenceObject(object);
    return status;
}

/* PASSIVE_LEVEL. Closing a thread's handle does not stop the thread. */
/* PASSIVE_LEVEL. ZwClose for a caller that says which mode the handle came from: a kernel handle
 * is closed only for KernelMode; for UserMode it is STATUS_INVALID_HANDLE, as Windows refuses an
 * application's attempt to close the kernel's handles. */
NTSTATUS NTAPI ObCloseHandle(HANDLE Handle, KPROCESSOR_MODE PreviousMode)
{
    rule_check_irql(RULE_ZW_NOT_PASSIVE, irql_current(), (ULONG_PTR)Handle, 0, 0);
    if (PreviousMode != KernelMode && handle_is_kernel(Handle))
        return STATUS_INVALID_HANDLE;
    return ZwClose(Handle);
}

NTSTATUS NTAPI ZwClose(HANDLE Handle)
{
    KAPC_STATE state;
    NTSTATUS status;

    rule_check_irql(RULE_ZW_NOT_PASSIVE, irql_current(), (ULONG_PTR)Handle, 0, 0);
    if (!handle_is_kernel(Handle))
        return handle_close(process_handle_table(process_current()), Handle);
    /* Windows closes a kernel handle attached to System, so close procedures run there. */
    KeStackAttachProcess((PRKPROCESS)(void *)process_system(), &state);
    status = handle_close(&kernel_table, Handle);
    KeUnstackDetachProcess(&state);
    return status;
}
