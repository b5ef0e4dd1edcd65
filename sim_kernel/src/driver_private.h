/*
 * driver_private.h - what the files of the driver life cycle share, and only they include: the
 * driver record (kept by driver.c's registry) and the step each file adds to load and unload.
 *   driver.c        the registry of drivers resources are charged to
 *   driver_load.c   load (DriverEntry on a System thread) and unload (DriverUnload)
 *   driver_pnp.c    the PnP manager: the root-enumerated PDO, AddDevice, START and REMOVE,
 *                   the device node's registry keys and properties
 *   driver_init.c   the INIT section, discarded when DriverEntry returns
 *   driver_module.c modules: a driver built as a shared object, mapped as Windows maps a .sys
 *   driver_check.c  the leftover check, from the inventories families register (internal.h)
 * Locking: driver_lock (driver.c) guards the registry and is a leaf; a driver's other fields
 * belong to the host thread that loads or unloads it.
 */
#ifndef WDMSIM_DRIVER_PRIVATE_H
#define WDMSIM_DRIVER_PRIVATE_H

#include <stdint.h>

#include "internal.h"

#define DRIVER_NAME_MAX (sizeof(((struct sim_driver *)0)->name) - 1)
#define DRIVER_OBJECT_PREFIX "\\Driver\\"

struct driver_range {
    uintptr_t start;
    size_t size;
};

enum driver_state {
    DRIVER_HOST_CODE,       /* a name host code runs as (wdmsim_run_as_driver, the PnP manager) */
    DRIVER_LOADED,
    DRIVER_UNLOADED,        /* kept until shutdown: reports may still name it */
};

struct driver {
    struct sim_driver base;         /* first: the part every component sees */
    USHORT index;
    enum driver_state state;
    PDRIVER_OBJECT object;
    struct hash_link by_name;       /* in the registry's names, until unloaded */
    struct hash_link by_object;     /* in the registry's objects while in_objects */
    bool in_objects;                /* from driver_make_object until unloaded */
    PDEVICE_OBJECT pdo;             /* PnP driver: the device the PnP manager enumerated for it */
    void *module;                   /* its kept module (driver_module.c); NULL for a driver linked
                                     * into the host */
    struct driver_range image;      /* the module's mapped segments */
    struct driver_range init;       /* its section INIT, discarded when DriverEntry returns */
    WCHAR object_name[sizeof DRIVER_OBJECT_PREFIX + DRIVER_NAME_MAX];
    WCHAR service_name[DRIVER_NAME_MAX + 1];
};

static inline struct driver *driver_of(const struct sim_driver *driver)
{
    return (struct driver *)driver;
}

static inline bool driver_range_holds(const struct driver_range *range, const void *address)
{
    return (uintptr_t)address >= range->start && (uintptr_t)address - range->start < range->size;
}

/* ---- driver.c: the registry ---- */

/* A new loaded driver called name, unless a loaded driver has that name already. */
NTSTATUS driver_register(const char *name, struct driver **out);
/* The loaded driver whose DRIVER_OBJECT this is; aborts, naming api, for any other pointer. */
struct driver *driver_of_object(PDRIVER_OBJECT object, const char *api);
/* The loaded driver whose root-enumerated PDO this is, or NULL (an FDO, any other pointer). */
struct driver *driver_of_pdo(PDEVICE_OBJECT pdo);
/* A DRIVER_OBJECT as the I/O manager fills it before DriverEntry (entry NULL for host code). */
bool driver_make_object(struct driver *d, PDRIVER_INITIALIZE entry);
/* to = prefix + name as a WCHAR string of at most capacity characters, described by string. */
void driver_wide_copy(WCHAR *to, size_t capacity, const char *prefix, const char *name, PUNICODE_STRING string);
/* The record stays, for reports, as an unloaded driver's. */
void driver_mark_unloaded(struct driver *d);

/* ---- driver_load.c ---- */

/* DriverEntry, the INIT discard and for a PnP driver its device; on failure the driver is checked
 * for leftovers and released. */
NTSTATUS driver_load(struct driver *d, PDRIVER_INITIALIZE entry, PDRIVER_OBJECT *out);
/* The driver is gone: its object freed and its module unmapped; the record stays for reports. */
void driver_release(struct driver *d);

/* ---- driver_module.c ---- */

/* The driver's module waits, as good as unmapped, for the next driver from its file. */
void driver_module_release(struct driver *d);
/* At boot: the claim that reports a fault in an unloaded driver's image (crash.c). */
void driver_module_boot(void);

/* ---- driver_pnp.c: the PnP manager ---- */

void driver_pnp_boot(void);
/* On the driver's load thread: AddDevice for one root-enumerated PDO, then IRP_MN_START_DEVICE; a
 * device that fails to start is removed again. */
NTSTATUS driver_pnp_add_and_start(struct driver *d);
/* On its unload thread, before DriverUnload: IRP_MN_REMOVE_DEVICE, then the PDO is deleted. */
void driver_pnp_remove(struct driver *d);

/* ---- driver_init.c: the INIT section ---- */

void driver_init_boot(void);
/* Makes the module's INIT pages inaccessible; a later touch stops the machine. */
NTSTATUS driver_discard_init(struct driver *d);
/* Before its pages are unmapped: a fault there is no longer the driver's. */
void driver_forget_init(const struct driver *d);

/* ---- driver_check.c: the leftover check ---- */

/* Lets code of the driver on its way out finish, then stops the machine if anything of the driver
 * is still alive; `when` says what happened ("unloaded"). */
void driver_verify(struct driver *d, const char *when);

#endif /* WDMSIM_DRIVER_PRIVATE_H */
