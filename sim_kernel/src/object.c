/*
 * object.c - the object manager. Each object has a header (type, counts, the driver charged with
 * it) kept in a table keyed by the body's address, never inside the body: a pointer that is not an
 * object is recognised instead of being trusted. An object is deleted, by its type's delete
 * procedure, when no reference, handle or kernel reference is left; the last few deleted bodies
 * are remembered so that a late dereference is reported as one too many. Types are defined by the
 * components that own them (struct _OBJECT_TYPE in internal.h, with their procedures): the object
 * manager calls those procedures and names no type itself.
 * The table is a growable hash table (hash.c), so a look-up costs the same with 100,000 objects
 * as with 100.
 * Locking: object_lock guards the table and the graves. It is a leaf: nothing is called under it,
 * and delete procedures run after it is released.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "internal.h"

#define OBJECT_GRAVES 256

struct object_header {
    PVOID body;
    POBJECT_TYPE type;
    LONG_PTR pointer_count;         /* references taken by ObReferenceObject(ByHandle) */
    LONG_PTR handle_count;
    LONG_PTR kernel_count;          /* the kernel's own reference: a system thread's while it runs */
    const struct sim_driver *driver;
    bool borrowed;                  /* a host or service thread: its body is not ours to delete */
    struct hash_link link;          /* in objects, by the body's address */
};

struct object_grave {
    PVOID body;
    POBJECT_TYPE type;
};

static pthread_mutex_t object_lock = PTHREAD_MUTEX_INITIALIZER;
static struct hash_table objects;
static struct object_grave graves[OBJECT_GRAVES];   /* a ring: the newest at grave_next - 1 */
static size_t grave_next;

static void object_lock_acquire(void)
{
    host_lock(&object_lock);
}

static void object_lock_release(void)
{
    host_unlock(&object_lock);
}

static LONG_PTR object_total(const struct object_header *header)
{
    return header->pointer_count + header->handle_count + header->kernel_count;
}

static struct object_header *object_find_locked(PVOID body)
{
    for (struct hash_link *l = hash_first(&objects, hash_pointer(body)); l != NULL; l = hash_next(l)) {
        struct object_header *h = HASH_ENTRY(l, struct object_header, link);

        if (h->body == body)
            return h;
    }
    return NULL;
}

static void object_unlink_locked(struct object_header *header)
{
    hash_remove(&objects, &header->link);
}

/* The type of the most recently deleted object at body, or NULL. */
static POBJECT_TYPE object_grave_of_locked(PVOID body)
{
    for (size_t i = 1; i <= OBJECT_GRAVES; i++) {
        const struct object_grave *grave = &graves[(grave_next - i) % OBJECT_GRAVES];

        if (grave->body == body)
            return grave->type;
    }
    return NULL;
}

/* Never adopts the caller: the System process becomes an object while the kernel boots. */
static struct object_header *object_header_new(PVOID body, POBJECT_TYPE type, bool borrowed)
{
    struct object_header *header = calloc(1, sizeof *header);
    const struct _KTHREAD *self = thread_current_if_known();

    if (header == NULL)
        abort();
    header->body = body;
    header->type = type;
    header->driver = self != NULL ? self->driver : NULL;
    header->borrowed = borrowed;
    return header;
}

static void object_link_locked(struct object_header *header)
{
    struct object_header *stale = object_find_locked(header->body);

    /* Only a borrowed body can be reused under a live header: its thread ended while a driver still
     * held a reference, and its memory now belongs to someone else. */
    if (stale != NULL) {
        object_unlink_locked(stale);
        free(stale);
    }
    hash_insert(&objects, &header->link, hash_pointer(header->body));
}

/* Lock held: the counts just dropped; unlink the header if nothing is left. True when it was. */
static bool object_unlink_if_unused_locked(struct object_header *header)
{
    if (object_total(header) != 0)
        return false;
    object_unlink_locked(header);
    graves[grave_next % OBJECT_GRAVES] = (struct object_grave){ header->body, header->type };
    grave_next++;
    return true;
}

/* Lock not held: runs the delete procedure of an unlinked header and frees it. */
static void object_delete(struct object_header *header)
{
    if (!header->borrowed && header->type->delete_procedure != NULL)
        header->type->delete_procedure(header->body);
    free(header);
}

static void object_describe_as(PVOID body, POBJECT_TYPE type, char *buf, size_t size)
{
    char detail[96];

    if (type->describe_procedure != NULL && type->describe_procedure(body, detail, sizeof detail))
        snprintf(buf, size, "%s object %p (%s)", type->name, body, detail);
    else
        snprintf(buf, size, "%s object %p", type->name, body);
}

void object_describe(PVOID body, char *buf, size_t size)
{
    object_describe_as(body, object_type_of(body), buf, size);
}

/* Reads a pointer at an address a driver passed, without trusting it: false if it is unreadable.
 * The kernel copies the memory, so a bad address fails the call instead of crashing the host. */
static bool object_peek_pointer(const void *address, PVOID *value)
{
    struct iovec local = { value, sizeof *value };
    struct iovec remote = { (void *)address, sizeof *value };

    return process_vm_readv(getpid(), &local, 1, &remote, 1, 0) == (ssize_t)sizeof *value;
}

static SIM_NORETURN void object_stop_not_an_object(PVOID body)
{
    POBJECT_TYPE type;
    PVOID held = NULL;
    char what[128];

    if (object_peek_pointer(body, &held) && (type = object_type_of(held)) != NULL) {
        object_describe_as(held, type, what, sizeof what);
        rule_stop_detail(RULE_OB_NOT_AN_OBJECT, (ULONG_PTR)body, (ULONG_PTR)held, 0, 0,
                         "%p is not an object, but the memory there holds a pointer to the %s: "
                         "pass that pointer, not its address", body, what);
    }
    rule_stop_detail(RULE_OB_NOT_AN_OBJECT, (ULONG_PTR)body, 0, 0, 0,
                     "%p is not an object the object manager knows", body);
}

/* change: +1 for a reference, -1 for a dereference; it is the count reported in parameter 3. */
static SIM_NORETURN void object_stop_deleted(PVOID body, POBJECT_TYPE type, LONG_PTR change)
{
    rule_stop_detail(RULE_OB_COUNT_ZERO, (ULONG_PTR)body, (ULONG_PTR)change, 0, 0,
                     "the %s object at %p was deleted when its last reference went: %s", type->name,
                     body, change < 0 ? "this dereference is one too many"
                                      : "this reference comes after the last one was dropped");
}

static SIM_NORETURN void object_stop_only_others_left(PVOID body, LONG_PTR handles, LONG_PTR kernel)
{
    char what[128];

    object_describe(body, what, sizeof what);
    rule_stop_detail(RULE_OB_COUNT_ZERO, (ULONG_PTR)body, (ULONG_PTR)-1, 0, 0,
                     "the %s has no references left to drop: only %ld handle(s) and %ld kernel "
                     "reference(s) (a running thread's own) keep it alive", what, (long)handles,
                     (long)kernel);
}

static size_t object_report_leak(struct object_header *header)
{
    char what[128];

    if (header->pointer_count == 0)
        return 0;
    object_describe_as(header->body, header->type, what, sizeof what);
    fprintf(stderr, "wdmsim: shutdown: leaked %ld reference(s) to the %s, charged to %s\n",
            (long)header->pointer_count, what, header->driver ? header->driver->name : "host code");
    return 1;
}

void object_boot(void)
{
    if (pthread_mutex_init(&object_lock, NULL) != 0)
        abort();
    hash_init(&objects);
    memset(graves, 0, sizeof graves);
    grave_next = 0;
}

size_t object_shutdown(void)
{
    struct hash_link *left, *next;
    size_t leaked = 0;

    object_lock_acquire();
    left = hash_drain(&objects);
    object_lock_release();
    for (struct hash_link *l = left; l != NULL; l = next) {
        struct object_header *h = HASH_ENTRY(l, struct object_header, link);

        next = l->next;
        leaked += object_report_leak(h);
        free(h);
    }
    return leaked;
}

/* The unload check's inventory of references the driver took (ObReferenceObject(ByHandle)) on
 * objects charged to it: copied under the lock, reported without it. */
static void object_collect_leftovers(struct driver_check *check)
{
    const struct sim_driver *driver = driver_check_driver(check);
    struct object_header *copies = NULL, *grown;
    size_t count = 0, capacity = 0;
    char what[128], line[192];

    object_lock_acquire();
    for (size_t i = 0; i < hash_bucket_count(&objects); i++) {
        for (const struct hash_link *l = hash_bucket(&objects, i); l != NULL; l = l->next) {
            const struct object_header *h = HASH_ENTRY(l, const struct object_header, link);

            if (h->driver != driver || h->pointer_count == 0)
                continue;
            if (count == capacity) {
                capacity = capacity ? capacity * 2 : 8;
                grown = realloc(copies, capacity * sizeof *copies);
                if (grown == NULL)
                    abort();
                copies = grown;
            }
            copies[count++] = *h;
        }
    }
    object_lock_release();
    for (size_t i = 0; i < count; i++) {
        object_describe_as(copies[i].body, copies[i].type, what, sizeof what);
        snprintf(line, sizeof line, "%ld reference(s) to the %s", (long)copies[i].pointer_count, what);
        driver_check_reference(check, line);
    }
    free(copies);
}

static struct driver_inventory object_inventory = {
    .order = DRIVER_INVENTORY_REFERENCES,
    .collect = object_collect_leftovers,
};
DRIVER_INVENTORY(object_inventory)

void object_create(PVOID body, POBJECT_TYPE type)
{
    struct object_header *header = object_header_new(body, type, false);

    header->kernel_count = 1;
    object_lock_acquire();
    object_link_locked(header);
    object_lock_release();
}

void object_charge(PVOID body, const struct sim_driver *driver)
{
    object_lock_acquire();
    object_find_locked(body)->driver = driver;
    object_lock_release();
}

void object_hold(PVOID body)
{
    object_lock_acquire();
    object_find_locked(body)->kernel_count++;
    object_lock_release();
}

void object_release(PVOID body)
{
    struct object_header *header;
    bool unused;

    object_lock_acquire();
    header = object_find_locked(body);
    header->kernel_count--;
    unused = object_unlink_if_unused_locked(header);
    object_lock_release();
    if (unused)
        object_delete(header);
}

void object_abandon(PVOID body)
{
    struct object_header *header;
    bool unused;

    object_lock_acquire();
    header = object_find_locked(body);
    header->kernel_count--;
    unused = object_total(header) == 0;
    if (unused)
        object_unlink_locked(header);
    object_lock_release();
    if (unused)
        free(header);
}

POBJECT_TYPE object_type_of(PVOID body)
{
    struct object_header *header;
    POBJECT_TYPE type;

    object_lock_acquire();
    header = object_find_locked(body);
    type = header ? header->type : NULL;
    object_lock_release();
    return type;
}

LONG_PTR object_reference(PVOID body)
{
    struct object_header *header;
    POBJECT_TYPE dead;
    LONG_PTR count;

    object_lock_acquire();
    header = object_find_locked(body);
    if (header == NULL) {
        dead = object_grave_of_locked(body);
        object_lock_release();
        if (dead != NULL)
            object_stop_deleted(body, dead, 1);
        object_stop_not_an_object(body);
    }
    header->pointer_count++;
    count = object_total(header);
    object_lock_release();
    return count;
}

bool object_reference_typed(PVOID body, POBJECT_TYPE type)
{
    struct object_header *header;

    if (type == NULL) {
        object_reference(body);
        return true;
    }
    object_lock_acquire();
    header = object_find_locked(body);
    if (header != NULL && header->type == type)
        header->pointer_count++;
    object_lock_release();
    return header != NULL && header->type == type;
}

void object_reference_or_borrow(PVOID body, POBJECT_TYPE type)
{
    struct object_header *fresh = object_header_new(body, type, true);
    struct object_header *header;

    fresh->pointer_count = 1;
    object_lock_acquire();
    header = object_find_locked(body);
    if (header != NULL)
        header->pointer_count++;
    else
        object_link_locked(fresh);
    object_lock_release();
    if (header != NULL)
        free(fresh);
}

static LONG_PTR object_dereference(PVOID body)
{
    struct object_header *header;
    POBJECT_TYPE dead;
    LONG_PTR count, handles, kernel;
    bool unused;

    object_lock_acquire();
    header = object_find_locked(body);
    if (header == NULL) {
        dead = object_grave_of_locked(body);
        object_lock_release();
        if (dead != NULL)
            object_stop_deleted(body, dead, -1);
        object_stop_not_an_object(body);
    }
    if (header->pointer_count == 0) {
        handles = header->handle_count;
        kernel = header->kernel_count;
        object_lock_release();
        object_stop_only_others_left(body, handles, kernel);
    }
    header->pointer_count--;
    count = object_total(header);
    unused = object_unlink_if_unused_locked(header);
    object_lock_release();
    if (unused)
        object_delete(header);
    return count;
}

void object_handle_opened(PVOID body)
{
    struct object_header *header;

    object_lock_acquire();
    header = object_find_locked(body);
    header->handle_count++;
    object_lock_release();
}

void object_handle_closed(PVOID body)
{
    struct object_header *header;
    void (*close_procedure)(PVOID body);
    bool unused = false;

    object_lock_acquire();
    header = object_find_locked(body);
    header->handle_count--;
    close_procedure = header->handle_count == 0 ? header->type->close_procedure : NULL;
    /* A kernel reference keeps the object alive while its close procedure runs, so a File's
     * IRP_MJ_CLEANUP always comes before its IRP_MJ_CLOSE. */
    if (close_procedure != NULL)
        header->kernel_count++;
    else
        unused = object_unlink_if_unused_locked(header);
    object_lock_release();
    if (close_procedure != NULL) {
        close_procedure(body);
        object_release(body);
    } else if (unused) {
        object_delete(header);
    }
}

PVOID object_wait_target(PVOID body)
{
    POBJECT_TYPE type = object_type_of(body);

    return type != NULL && type->wait_procedure != NULL ? type->wait_procedure(body) : NULL;
}

LONG_PTR object_handle_count(PVOID body)
{
    struct object_header *header;
    LONG_PTR count;

    object_lock_acquire();
    header = object_find_locked(body);
    count = header ? header->handle_count : 0;
    object_lock_release();
    return count;
}

/* IRQL <= DISPATCH_LEVEL. Returns the new count, which drivers must treat as reserved. */
LONG_PTR FASTCALL ObfReferenceObject(PVOID Object)
{
    rule_check_irql(RULE_KE_ABOVE_DISPATCH, irql_current(), (ULONG_PTR)Object, 0, 0);
    return object_reference(Object);
}

/* IRQL <= DISPATCH_LEVEL. A reference, as ObReferenceObject takes, once the object is of
 * ObjectType (NULL: any type); STATUS_OBJECT_TYPE_MISMATCH takes none. Access is not checked: a
 * pointer, unlike a handle, carries no granted access. */
NTSTATUS NTAPI ObReferenceObjectByPointer(PVOID Object, ACCESS_MASK DesiredAccess, POBJECT_TYPE ObjectType,
                                          KPROCESSOR_MODE AccessMode)
{
    (void)DesiredAccess;
    (void)AccessMode;
    rule_check_irql(RULE_KE_ABOVE_DISPATCH, irql_current(), (ULONG_PTR)Object, 0, 0);
    /* A pointer that is no object stops here, with the report ObReferenceObject gives. */
    if (ObjectType == NULL || object_type_of(Object) == NULL) {
        object_reference(Object);
        return STATUS_SUCCESS;
    }
    return object_reference_typed(Object, ObjectType) ? STATUS_SUCCESS : STATUS_OBJECT_TYPE_MISMATCH;
}

/* IRQL <= DISPATCH_LEVEL. The last reference deletes the object, unless a handle keeps it. */
LONG_PTR FASTCALL ObfDereferenceObject(PVOID Object)
{
    rule_check_irql(RULE_KE_ABOVE_DISPATCH, irql_current(), (ULONG_PTR)Object, 0, 0);
    return object_dereference(Object);
}
