/*
 * driver_load.c - load and unload. Load: a DRIVER_OBJECT, DriverEntry on a System thread at
 * PASSIVE_LEVEL with a RegistryPath from pool that is freed when it returns (its service key and
 * Parameters made first, keeping what the host set there), the INIT discard, then
 * the PnP manager's AddDevice and START. Unload: REMOVE, DriverUnload on a System thread, then the
 * leftover check; the module is unmapped only after it.
 * Locking: none of its own; a driver being loaded or unloaded belongs to the host thread doing it,
 * which waits for the System thread in the dispatcher, so virtual time moves meanwhile.
 */
#include <stdio.h>
#include <string.h>

#include "driver_private.h"

#define DRIVER_SERVICES_KEY "\\Registry\\Machine\\System\\CurrentControlSet\\Services\\"
/* The I/O manager's registry path buffer: a pool dump shows "RegP". */
#define DRIVER_REGISTRY_TAG 'PgeR'

/* ---- Running driver code on a System thread ---- */

struct driver_call {
    struct driver *driver;
    void (*fn)(struct driver_call *call);
    PDRIVER_INITIALIZE entry;
    PUNICODE_STRING registry_path;
    NTSTATUS status;
};

static void driver_call_main(void *context)
{
    struct driver_call *call = context;

    call->fn(call);
}

/* Runs call->fn on a new System thread at PASSIVE_LEVEL, charged to the driver, and returns once
 * it has ended. The caller waits in the dispatcher, so virtual time moves while the driver waits. */
static void driver_run_system_thread(struct driver_call *call, const char *verb)
{
    struct _KTHREAD *thread;
    char name[32];

    snprintf(name, sizeof name, "%s %.24s", verb, call->driver->base.name);
    thread = thread_new(name);
    thread->system = true;
    thread_charge(thread, &call->driver->base);
    thread_spawn(thread, driver_call_main, call);
    KeWaitForSingleObject(&thread->header, Executive, KernelMode, FALSE, NULL);
    /* Frees any ended spawned thread, and joins its host thread. */
    thread_object_delete(thread);
}

/* Pool, as the I/O manager's: charged to no driver, and freed when DriverEntry returns, so a
 * driver that keeps the pointer instead of a copy reads freed pool. */
static PUNICODE_STRING driver_registry_path(const char *name)
{
    size_t chars = strlen(DRIVER_SERVICES_KEY) + strlen(name) + 1;
    PUNICODE_STRING path = ExAllocatePoolWithTag(PagedPool, sizeof *path + chars * sizeof(WCHAR),
                                                 DRIVER_REGISTRY_TAG);

    if (path != NULL)
        driver_wide_copy((WCHAR *)(path + 1), chars, DRIVER_SERVICES_KEY, name, path);
    return path;
}

/* The driver's service key, as installing it would have made it: Parameters, and the values the
 * service control manager writes (a kernel driver, started on demand), unless the host set them. */
static NTSTATUS driver_service_key(const char *name)
{
    static const ULONG kernel_driver = 1, demand_start = 3, error_normal = 1;
    char key[sizeof DRIVER_SERVICES_KEY + DRIVER_NAME_MAX + 16];
    char file[DRIVER_NAME_MAX + sizeof ".sys"];
    WCHAR image[sizeof "\\SystemRoot\\System32\\drivers\\" + sizeof file];
    UNICODE_STRING image_path;
    NTSTATUS status;

    snprintf(key, sizeof key, "%s%s\\Parameters", DRIVER_SERVICES_KEY, name);
    status = registry_create_path(key);
    key[strlen(key) - strlen("\\Parameters")] = 0;
    snprintf(file, sizeof file, "%s.sys", name);
    driver_wide_copy(image, sizeof image / sizeof(WCHAR), "\\SystemRoot\\System32\\drivers\\", file, &image_path);
    if (NT_SUCCESS(status))
        status = registry_set(key, "Type", REG_DWORD, &kernel_driver, sizeof kernel_driver, true);
    if (NT_SUCCESS(status))
        status = registry_set(key, "Start", REG_DWORD, &demand_start, sizeof demand_start, true);
    if (NT_SUCCESS(status))
        status = registry_set(key, "ErrorControl", REG_DWORD, &error_normal, sizeof error_normal, true);
    if (NT_SUCCESS(status))
        status = registry_set(key, "ImagePath", REG_EXPAND_SZ, image, image_path.Length + sizeof(WCHAR), true);
    return status;
}

void driver_release(struct driver *d)
{
    if (d->object != NULL)
        io_driver_object_release(d->object);
    d->object = NULL;
    driver_forget_init(d);
    if (d->module != NULL)
        driver_module_release(d);
    driver_mark_unloaded(d);
}

/* ---- Load ---- */

static void driver_entry_main(struct driver_call *call)
{
    call->status = call->entry(call->driver->object, call->registry_path);
}

static void driver_start_main(struct driver_call *call)
{
    call->status = driver_pnp_add_and_start(call->driver);
}

static void driver_unload_main(struct driver_call *call)
{
    struct driver *d = call->driver;

    if (d->pdo != NULL)
        driver_pnp_remove(d);
    d->object->DriverUnload(d->object);
}

static void driver_unload_and_verify(struct driver *d, const char *when)
{
    struct driver_call call = { .driver = d, .fn = driver_unload_main };

    driver_run_system_thread(&call, "unload");
    driver_verify(d, when);
    driver_release(d);
}

/* As the I/O manager does when DriverEntry succeeds: the devices it created are ready for opens
 * (devices made later, in AddDevice, are the driver's to clear). */
static void driver_ready_devices(PDRIVER_OBJECT object)
{
    for (PDEVICE_OBJECT device = object->DeviceObject; device != NULL; device = device->NextDevice)
        device->Flags &= ~DO_DEVICE_INITIALIZING;
}

/* A driver whose DriverEntry failed is not unloaded (Unload is not called) but must have left
 * nothing; one whose device did not start is unloaded, as the PnP manager unloads a driver left
 * without devices. */
NTSTATUS driver_load(struct driver *d, PDRIVER_INITIALIZE entry, PDRIVER_OBJECT *out)
{
    struct driver_call call = { .driver = d, .fn = driver_entry_main, .entry = entry };
    char when[128];

    if (!NT_SUCCESS(driver_service_key(d->base.name)) || !driver_make_object(d, entry) ||
        (call.registry_path = driver_registry_path(d->base.name)) == NULL) {
        driver_release(d);
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    driver_run_system_thread(&call, "load");
    ExFreePoolWithTag(call.registry_path, DRIVER_REGISTRY_TAG);
    if (!NT_SUCCESS(call.status)) {
        snprintf(when, sizeof when, "failed DriverEntry with status %s", wdmsim_status_text(call.status).text);
        driver_verify(d, when);
        driver_release(d);
        return call.status;
    }
    driver_ready_devices(d->object);
    call.status = driver_discard_init(d);
    if (NT_SUCCESS(call.status) && d->object->DriverExtension->AddDevice != NULL) {
        call.fn = driver_start_main;
        driver_run_system_thread(&call, "start");
    }
    if (NT_SUCCESS(call.status)) {
        *out = d->object;
        return STATUS_SUCCESS;
    }
    snprintf(when, sizeof when, "was unloaded after its device failed to start (%s)",
             wdmsim_status_text(call.status).text);
    if (d->object->DriverUnload != NULL) {
        driver_unload_and_verify(d, when);
    } else {
        driver_verify(d, when);
        driver_release(d);
    }
    return call.status;
}

NTSTATUS wdmsim_driver_load(const char *name, PDRIVER_INITIALIZE entry, PDRIVER_OBJECT *driver)
{
    struct driver *d;
    NTSTATUS status;

    *driver = NULL;
    status = driver_register(name, &d);
    if (!NT_SUCCESS(status))
        return status;
    return driver_load(d, entry, driver);
}

/* ---- Unload ---- */

void wdmsim_driver_unload(PDRIVER_OBJECT driver)
{
    struct driver *d = driver_of_object(driver, "wdmsim_driver_unload");

    if (driver->DriverUnload == NULL) {
        fprintf(stderr, "wdmsim: %s has no DriverUnload routine, so it cannot be unloaded: like Windows, the "
                        "simulator keeps it loaded until shutdown\n", d->base.name);
        return;
    }
    driver_unload_and_verify(d, "unloaded");
}
