/*
 * namespace.c - the object name space: \Device\X device names, symbolic links (\??\X and
 * \DosDevices\X, which are the same directory) and named events (\BaseNamedObjects\X). Names
 * compare case-insensitively, as with OBJ_CASE_INSENSITIVE, which every caller here uses. Entries
 * sit in two growable hash tables (hash.c): by canonical (upper-case) name, and by target, so a
 * look-up, an insert and a device's removal cost the same with 16,000 names as with 100.
 * Locking: ns_lock guards the tables; entries hold their own copy of the name.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define NS_MAX_NAME 256
#define NS_LINK_DEPTH 8

struct ns_entry {
    struct hash_link by_name;       /* in ns_names */
    struct hash_link by_target;     /* in ns_targets, unless a symbolic link */
    enum ns_kind kind;
    void *target;                   /* the device or event; NULL for a symbolic link */
    const struct sim_driver *owner; /* the driver whose IoCreateSymbolicLink made a link, or NULL */
    WCHAR name[NS_MAX_NAME];
    USHORT length;                  /* characters */
    WCHAR link[NS_MAX_NAME];        /* symbolic links: the name they point at */
    USHORT link_length;
};

static pthread_mutex_t ns_lock = PTHREAD_MUTEX_INITIALIZER;
static struct hash_table ns_names, ns_targets;

static WCHAR ns_upcase(WCHAR c)
{
    return c >= 'a' && c <= 'z' ? (WCHAR)(c - 'a' + 'A') : c;
}

/* \DosDevices\ is another name for \??\; compare the rest. */
static size_t ns_skip_alias(const WCHAR *name, size_t length)
{
    static const char alias[] = "\\DOSDEVICES\\";
    size_t n = sizeof alias - 1;

    if (length < n)
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (ns_upcase(name[i]) != (WCHAR)alias[i])
            return 0;
    }
    return n;
}

/* Canonical form: upper case, \DosDevices\ written as \??\. Returns the length, 0 if too long. */
static USHORT ns_canonical(const WCHAR *name, size_t length, WCHAR out[NS_MAX_NAME])
{
    size_t skip = ns_skip_alias(name, length);
    size_t used = 0;

    if (skip != 0) {
        out[used++] = '\\';
        out[used++] = '?';
        out[used++] = '?';
        out[used++] = '\\';
    }
    if (length - skip + used >= NS_MAX_NAME)
        return 0;
    for (size_t i = skip; i < length; i++)
        out[used++] = ns_upcase(name[i]);
    return (USHORT)used;
}

static uint64_t ns_hash(const WCHAR *canonical, USHORT length)
{
    return hash_bytes(canonical, length * sizeof(WCHAR));
}

static struct ns_entry *ns_find_locked(const WCHAR *canonical, USHORT length)
{
    for (struct hash_link *l = hash_first(&ns_names, ns_hash(canonical, length)); l != NULL; l = hash_next(l)) {
        struct ns_entry *e = HASH_ENTRY(l, struct ns_entry, by_name);

        if (e->length == length && memcmp(e->name, canonical, length * sizeof(WCHAR)) == 0)
            return e;
    }
    return NULL;
}

/* A device or event named after target (a symbolic link has none). */
static struct ns_entry *ns_find_target_locked(const void *target)
{
    for (struct hash_link *l = hash_first(&ns_targets, hash_pointer(target)); l != NULL; l = hash_next(l)) {
        struct ns_entry *e = HASH_ENTRY(l, struct ns_entry, by_target);

        if (e->target == target)
            return e;
    }
    return NULL;
}

static void ns_link_locked(struct ns_entry *e)
{
    hash_insert(&ns_names, &e->by_name, ns_hash(e->name, e->length));
    if (e->kind != NS_SYMLINK)
        hash_insert(&ns_targets, &e->by_target, hash_pointer(e->target));
}

static void ns_unlink_locked(struct ns_entry *e)
{
    hash_remove(&ns_names, &e->by_name);
    if (e->kind != NS_SYMLINK)
        hash_remove(&ns_targets, &e->by_target);
}

void ns_boot(void)
{
    pthread_mutex_init(&ns_lock, NULL);
    hash_init(&ns_names);
    hash_init(&ns_targets);
}

void ns_shutdown(void)
{
    struct hash_link *l, *next;

    hash_destroy(&ns_targets);
    for (l = hash_drain(&ns_names); l != NULL; l = next) {
        next = l->next;
        free(HASH_ENTRY(l, struct ns_entry, by_name));
    }
}

static NTSTATUS ns_insert_entry(PCUNICODE_STRING name, enum ns_kind kind, void *target, PCUNICODE_STRING link,
                                const struct sim_driver *owner)
{
    struct ns_entry *e;
    NTSTATUS status = STATUS_SUCCESS;

    if (name == NULL || name->Buffer == NULL || name->Length == 0)
        return STATUS_OBJECT_NAME_INVALID;
    e = calloc(1, sizeof *e);
    if (e == NULL)
        return STATUS_INSUFFICIENT_RESOURCES;
    e->kind = kind;
    e->target = target;
    e->owner = owner;
    e->length = ns_canonical(name->Buffer, name->Length / sizeof(WCHAR), e->name);
    if (link != NULL)
        e->link_length = ns_canonical(link->Buffer, link->Length / sizeof(WCHAR), e->link);
    if (e->length == 0 || (link != NULL && e->link_length == 0)) {
        free(e);
        return STATUS_OBJECT_NAME_INVALID;
    }
    host_lock(&ns_lock);
    if (ns_find_locked(e->name, e->length) != NULL) {
        status = STATUS_OBJECT_NAME_COLLISION;
    } else {
        ns_link_locked(e);
    }
    host_unlock(&ns_lock);
    if (status != STATUS_SUCCESS)
        free(e);
    return status;
}

NTSTATUS ns_insert(PCUNICODE_STRING name, enum ns_kind kind, void *target, PCUNICODE_STRING link)
{
    return ns_insert_entry(name, kind, target, link, NULL);
}

NTSTATUS ns_insert_link(PCUNICODE_STRING name, PCUNICODE_STRING link, const struct sim_driver *owner)
{
    return ns_insert_entry(name, NS_SYMLINK, NULL, link, owner);
}

NTSTATUS ns_remove(PCUNICODE_STRING name, enum ns_kind kind)
{
    WCHAR canonical[NS_MAX_NAME];
    USHORT length;
    NTSTATUS status = STATUS_OBJECT_NAME_NOT_FOUND;
    struct ns_entry *e;

    if (name == NULL || name->Buffer == NULL)
        return STATUS_OBJECT_NAME_INVALID;
    length = ns_canonical(name->Buffer, name->Length / sizeof(WCHAR), canonical);
    host_lock(&ns_lock);
    e = length != 0 ? ns_find_locked(canonical, length) : NULL;
    if (e != NULL && e->kind == kind) {
        ns_unlink_locked(e);
        status = STATUS_SUCCESS;
    } else {
        e = NULL;
    }
    host_unlock(&ns_lock);
    free(e);
    return status;
}

void ns_remove_target(void *target)
{
    struct ns_entry *e;

    host_lock(&ns_lock);
    while ((e = ns_find_target_locked(target)) != NULL) {
        ns_unlink_locked(e);
        free(e);
    }
    host_unlock(&ns_lock);
}

/* A line for each link: where it points, as the object manager shows it ("\??\X -> \DEVICE\Y"). */
static void ns_describe_link(const struct ns_entry *e, char *buf, size_t size)
{
    size_t used = 0;

    for (USHORT i = 0; i < e->length && used + 1 < size; i++)
        buf[used++] = (char)e->name[i];
    for (const char *arrow = " -> "; *arrow != '\0' && used + 1 < size; arrow++)
        buf[used++] = *arrow;
    for (USHORT i = 0; i < e->link_length && used + 1 < size; i++)
        buf[used++] = (char)e->link[i];
    buf[used] = '\0';
}

/* The unload check's note on links a driver left: Windows does not stop for one, but it still
 * holds its name, so a reload fails in IoCreateSymbolicLink with STATUS_OBJECT_NAME_COLLISION, far
 * from the cause. */
static void ns_collect_leftovers(struct driver_check *check)
{
    const struct sim_driver *owner = driver_check_driver(check);
    char line[2 * NS_MAX_NAME + 8];

    host_lock(&ns_lock);
    for (size_t i = 0; i < hash_bucket_count(&ns_names); i++) {
        for (const struct hash_link *l = hash_bucket(&ns_names, i); l != NULL; l = l->next) {
            const struct ns_entry *e = HASH_ENTRY(l, const struct ns_entry, by_name);

            if (e->kind == NS_SYMLINK && e->owner == owner) {
                ns_describe_link(e, line, sizeof line);
                driver_check_note(check,
                                  "%s left the symbolic link %s; a reload's IoCreateSymbolicLink of that name "
                                  "will fail with STATUS_OBJECT_NAME_COLLISION: call IoDeleteSymbolicLink in "
                                  "DriverUnload", owner->name, line);
            }
        }
    }
    host_unlock(&ns_lock);
}

static struct driver_inventory ns_inventory = {
    .order = DRIVER_INVENTORY_NOTES,
    .collect = ns_collect_leftovers,
};
DRIVER_INVENTORY(ns_inventory)

void *ns_lookup(PCUNICODE_STRING name, enum ns_kind *kind)
{
    WCHAR canonical[NS_MAX_NAME];
    USHORT length;
    void *found = NULL;

    if (name == NULL || name->Buffer == NULL)
        return NULL;
    length = ns_canonical(name->Buffer, name->Length / sizeof(WCHAR), canonical);
    host_lock(&ns_lock);
    for (int depth = 0; depth < NS_LINK_DEPTH && length != 0; depth++) {
        struct ns_entry *e = ns_find_locked(canonical, length);

        if (e == NULL)
            break;
        if (e->kind != NS_SYMLINK) {
            *kind = e->kind;
            found = e->target;
            break;
        }
        memcpy(canonical, e->link, e->link_length * sizeof(WCHAR));
        length = e->link_length;
    }
    host_unlock(&ns_lock);
    return found;
}
