/*
 * driver.c - the registry of drivers: every driver this kernel has known, by a small index that
 * kernel objects with no room for a pointer carry (KTIMER.Processor, KDPC.Number), and the names
 * host code runs as. Records of unloaded drivers stay until shutdown, so reports can name them.
 * Live records are also in two growable hash tables (hash.c), by name and by driver object, so
 * that loading a driver costs the same with 1,000 loaded as with 10.
 * The life cycle's other jobs have files of their own (see driver_private.h).
 * Locking: driver_lock guards the registry and is a leaf. A driver's other fields belong to the
 * host thread that loads or unloads it.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "driver_private.h"

/* KDPC.Number carries a driver's index in its low 12 bits (and the DPC's target processor above). */
#define DRIVER_MAX_INDEX 0x0FFF

static pthread_mutex_t driver_lock = PTHREAD_MUTEX_INITIALIZER;
static struct driver **drivers;     /* by index; index 0 is host code and stays NULL */
static size_t driver_count;
static size_t driver_capacity;
static struct hash_table driver_names;      /* records not unloaded, by name */
static struct hash_table driver_objects;    /* loaded drivers with an object, by its address */

static WCHAR hardware_database_text[] = L"\\REGISTRY\\MACHINE\\HARDWARE\\DESCRIPTION\\SYSTEM";
static UNICODE_STRING hardware_database = {
    sizeof hardware_database_text - sizeof(WCHAR), sizeof hardware_database_text, hardware_database_text
};

static void driver_lock_acquire(void)
{
    host_lock(&driver_lock);
}

static void driver_lock_release(void)
{
    host_unlock(&driver_lock);
}

/* Lock held: a new record for name, or NULL when the index space is exhausted. */
static struct driver *driver_new_locked(const char *name, enum driver_state state)
{
    struct driver *d;

    if (driver_count > DRIVER_MAX_INDEX)
        return NULL;
    if (driver_count == driver_capacity) {
        size_t capacity = driver_capacity * 2;
        struct driver **grown = realloc(drivers, capacity * sizeof *grown);

        if (grown == NULL)
            abort();
        drivers = grown;
        driver_capacity = capacity;
    }
    d = calloc(1, sizeof *d);
    if (d == NULL)
        abort();
    snprintf(d->base.name, sizeof d->base.name, "%s", name);
    d->index = (USHORT)driver_count;
    d->state = state;
    drivers[driver_count++] = d;
    hash_insert(&driver_names, &d->by_name, hash_bytes(d->base.name, strlen(d->base.name)));
    return d;
}

/* Lock held: the live driver (loaded, or host code's) called name; loaded ones first. */
static struct driver *driver_find_locked(const char *name, bool loaded_only)
{
    struct driver *found = NULL;

    for (struct hash_link *l = hash_first(&driver_names, hash_bytes(name, strlen(name))); l != NULL;
         l = hash_next(l)) {
        struct driver *d = HASH_ENTRY(l, struct driver, by_name);

        if (strcmp(d->base.name, name) != 0)
            continue;
        if (d->state == DRIVER_LOADED)
            return d;
        if (!loaded_only)
            found = d;
    }
    return found;
}

const struct sim_driver *driver_intern(const char *name)
{
    struct driver *d;

    driver_lock_acquire();
    d = driver_find_locked(name, false);
    if (d == NULL)
        d = driver_new_locked(name, DRIVER_HOST_CODE);
    driver_lock_release();
    if (d == NULL)
        abort();
    return &d->base;
}

USHORT driver_index(const struct sim_driver *driver)
{
    return driver ? driver_of(driver)->index : 0;
}

const struct sim_driver *driver_at(USHORT index)
{
    const struct sim_driver *driver = NULL;

    driver_lock_acquire();
    if (index != 0 && index < driver_count)
        driver = &drivers[index]->base;
    driver_lock_release();
    return driver;
}

void driver_wide_copy(WCHAR *to, size_t capacity, const char *prefix, const char *name, PUNICODE_STRING string)
{
    size_t n = 0;

    for (const char *p = prefix; *p != '\0' && n + 1 < capacity; p++)
        to[n++] = (WCHAR)(unsigned char)*p;
    for (const char *p = name; *p != '\0' && n + 1 < capacity; p++)
        to[n++] = (WCHAR)(unsigned char)*p;
    to[n] = 0;
    string->Buffer = to;
    string->Length = (USHORT)(n * sizeof(WCHAR));
    string->MaximumLength = (USHORT)((n + 1) * sizeof(WCHAR));
}

bool driver_make_object(struct driver *d, PDRIVER_INITIALIZE entry)
{
    PDRIVER_OBJECT object = io_driver_object_create(&d->base);

    if (object == NULL)
        return false;
    driver_wide_copy(d->object_name, sizeof d->object_name / sizeof(WCHAR), DRIVER_OBJECT_PREFIX,
                     d->base.name, &object->DriverName);
    driver_wide_copy(d->service_name, sizeof d->service_name / sizeof(WCHAR), "", d->base.name,
                     &object->DriverExtension->ServiceKeyName);
    object->HardwareDatabase = &hardware_database;
    object->DriverInit = entry;
    object->DriverStart = (PVOID)d->image.start;
    object->DriverSize = (ULONG)d->image.size;
    driver_lock_acquire();
    d->object = object;
    d->in_objects = true;
    hash_insert(&driver_objects, &d->by_object, hash_pointer(object));
    driver_lock_release();
    return true;
}

static NTSTATUS driver_check_name(const char *name)
{
    size_t length = name ? strlen(name) : 0;

    if (length == 0 || length > DRIVER_NAME_MAX || strchr(name, '\\') != NULL)
        return STATUS_OBJECT_NAME_INVALID;
    return STATUS_SUCCESS;
}

NTSTATUS driver_register(const char *name, struct driver **out)
{
    NTSTATUS status = driver_check_name(name);

    *out = NULL;
    if (!NT_SUCCESS(status))
        return status;
    kernel_ensure_booted();
    driver_lock_acquire();
    if (driver_find_locked(name, true) != NULL)
        status = STATUS_OBJECT_NAME_COLLISION;
    else if ((*out = driver_new_locked(name, DRIVER_LOADED)) == NULL)
        status = STATUS_INSUFFICIENT_RESOURCES;
    driver_lock_release();
    return status;
}

struct driver *driver_of_object(PDRIVER_OBJECT object, const char *api)
{
    struct driver *found = NULL;

    driver_lock_acquire();
    for (struct hash_link *l = hash_first(&driver_objects, hash_pointer(object)); l != NULL && found == NULL;
         l = hash_next(l)) {
        struct driver *d = HASH_ENTRY(l, struct driver, by_object);

        if (d->state == DRIVER_LOADED && d->object == object)
            found = d;
    }
    driver_lock_release();
    if (found == NULL) {
        fprintf(stderr, "wdmsim: %s(%p): not the driver object of a loaded driver\n", api, (void *)object);
        abort();
    }
    return found;
}

struct driver *driver_of_pdo(PDEVICE_OBJECT pdo)
{
    struct driver *found = NULL;

    driver_lock_acquire();
    for (size_t i = 1; i < driver_count && found == NULL && pdo != NULL; i++) {
        if (drivers[i]->state == DRIVER_LOADED && drivers[i]->pdo == pdo)
            found = drivers[i];
    }
    driver_lock_release();
    return found;
}

void driver_mark_unloaded(struct driver *d)
{
    driver_lock_acquire();
    if (d->state != DRIVER_UNLOADED)
        hash_remove(&driver_names, &d->by_name);
    if (d->in_objects)
        hash_remove(&driver_objects, &d->by_object);
    d->in_objects = false;
    d->state = DRIVER_UNLOADED;
    driver_lock_release();
}

void wdmsim_run_as_driver(const char *driver_name, wdmsim_scenario_fn *fn, void *context)
{
    struct _KTHREAD *self = thread_current();
    const struct sim_driver *saved = self->driver;

    thread_charge(self, driver_intern(driver_name));
    fn(context);
    thread_charge(self, saved);
}

/* In a child made by fork() the parent's registry and discarded modules are not this kernel's. */
void driver_boot(void)
{
    if (pthread_mutex_init(&driver_lock, NULL) != 0)
        abort();
    driver_capacity = 16;
    drivers = calloc(driver_capacity, sizeof *drivers);
    if (drivers == NULL)
        abort();
    driver_count = 1;
    hash_init(&driver_names);
    hash_init(&driver_objects);
    driver_init_boot();
    driver_module_boot();
    driver_pnp_boot();
}

/* A driver still loaded keeps its module mapped: its threads, abandoned by the shutdown, may
 * still run its code. */
void driver_shutdown(void)
{
    driver_lock_acquire();
    for (size_t i = 1; i < driver_count; i++) {
        struct driver *d = drivers[i];

        if (d->state == DRIVER_LOADED)
            fprintf(stderr, "wdmsim: shutdown: driver %s is still loaded\n", d->base.name);
        driver_forget_init(d);
        if (d->object != NULL)
            io_driver_object_free(d->object);
        free(d);
    }
    free(drivers);
    drivers = NULL;
    driver_count = driver_capacity = 0;
    hash_destroy(&driver_names);
    hash_destroy(&driver_objects);
    driver_lock_release();
}
