/*
 * driver_pnp.c - the PnP manager, as far as a root-enumerated driver meets it: for a driver whose
 * DriverEntry set AddDevice, an unnamed PDO owned by \Driver\PnpManager (whose PnP dispatch
 * completes every IRP with success), AddDevice, then IRP_MN_START_DEVICE sent to the top of the
 * stack and waited for; at unload IRP_MN_REMOVE_DEVICE, then the PDO is deleted. Each PDO has a
 * device node in the registry, as an installed device has: its hardware key
 * Enum\ROOT\<NAME>\0000 (whose values answer IoGetDeviceProperty, and whose Device Parameters
 * subkey is IoOpenDeviceRegistryKey's PLUGPLAY_REGKEY_DEVICE) and its software key
 * Control\Class\{System class}\NNNN (PLUGPLAY_REGKEY_DRIVER), made before AddDevice with the values
 * an INF for the System class would write, unless the host set them first.
 * Locking: none of its own; it runs on the thread that loads or unloads the driver, and what it
 * creates is charged to the PnP manager while it does.
 */
#include <stdio.h>
#include <string.h>

#include "driver_private.h"

#define PNP_CURRENT_CONTROL_SET "\\Registry\\Machine\\System\\CurrentControlSet\\"
#define PNP_HARDWARE_PROFILE PNP_CURRENT_CONTROL_SET "Hardware Profiles\\Current\\System\\CurrentControlSet\\"
#define PNP_SYSTEM_CLASS "{4d36e97d-e325-11ce-bfc1-08002be10318}"
#define PNP_PATH_MAX 384
#define PNP_VALUE_MAX 256

static struct driver *pnp_manager;  /* owns the root-enumerated PDOs */

/* The bus driver's side of every PnP IRP sent to a root-enumerated PDO: nothing to do. */
static NTSTATUS NTAPI driver_pdo_pnp(PDEVICE_OBJECT device, PIRP irp)
{
    (void)device;
    irp->IoStatus.Status = STATUS_SUCCESS;
    IofCompleteRequest(irp, IO_NO_INCREMENT);
    return STATUS_SUCCESS;
}

/* Sends IRP_MJ_PNP with minor to the top of pdo's stack, as the PnP manager, and waits for it. */
static NTSTATUS driver_send_pnp(struct _KTHREAD *self, PDEVICE_OBJECT pdo, UCHAR minor)
{
    const struct sim_driver *caller = self->driver;
    PDEVICE_OBJECT top = io_device_top(pdo);
    PIO_STACK_LOCATION stack;
    IO_STATUS_BLOCK iosb = { 0 };
    PIRP irp;
    NTSTATUS status;

    irp = io_irp_allocate(top->StackSize);
    if (irp == NULL)
        return STATUS_INSUFFICIENT_RESOURCES;
    /* Every PnP IRP starts out "not supported", so a driver that ignores one passes that back. */
    irp->IoStatus.Status = STATUS_NOT_SUPPORTED;
    stack = IoGetNextIrpStackLocation(irp);
    stack->MajorFunction = IRP_MJ_PNP;
    stack->MinorFunction = minor;
    thread_charge(self, &pnp_manager->base);
    status = io_irp_send(top, irp, &iosb);
    thread_charge(self, caller);
    io_irp_free(irp);
    return status;
}

static PDEVICE_OBJECT driver_create_pdo(struct _KTHREAD *self)
{
    const struct sim_driver *caller = self->driver;
    PDEVICE_OBJECT pdo = NULL;

    thread_charge(self, &pnp_manager->base);
    if (NT_SUCCESS(IoCreateDevice(pnp_manager->object, 0, NULL, FILE_DEVICE_UNKNOWN, 0, FALSE, &pdo)))
        pdo->Flags &= ~DO_DEVICE_INITIALIZING;
    thread_charge(self, caller);
    return pdo;
}

static void driver_delete_pdo(struct _KTHREAD *self, struct driver *d)
{
    const struct sim_driver *caller = self->driver;

    thread_charge(self, &pnp_manager->base);
    IoDeleteDevice(d->pdo);
    thread_charge(self, caller);
    d->pdo = NULL;
}

/* ---- The device node in the registry ---- */

/* The device ID: ROOT\ and the driver's name in capitals, as root-enumerated devices are named. */
static void pnp_device_id(const struct driver *d, char *out, size_t size)
{
    size_t n = (size_t)snprintf(out, size, "ROOT\\");

    for (const char *c = d->base.name; *c != 0 && n + 1 < size; c++)
        out[n++] = (char)(*c >= 'a' && *c <= 'z' ? *c - 'a' + 'A' : *c);
    out[n] = 0;
}

/* The hardware key, Enum\<device ID>\0000, under prefix (where CurrentControlSet is). */
static void pnp_hardware_key(const struct driver *d, const char *prefix, char *out, size_t size)
{
    char id[96];

    pnp_device_id(d, id, sizeof id);
    snprintf(out, size, "%sEnum\\%s\\0000", prefix, id);
}

/* A REG_SZ (or, with multi, a REG_MULTI_SZ of one string) from a narrow one, kept if already set. */
static NTSTATUS pnp_seed_string(const char *key, const char *name, const char *value, bool multi)
{
    WCHAR wide[PNP_VALUE_MAX];
    size_t n = 0;

    for (; value[n] != 0 && n + 2 < PNP_VALUE_MAX; n++)
        wide[n] = (WCHAR)(unsigned char)value[n];
    wide[n++] = 0;
    if (multi)
        wide[n++] = 0;
    return registry_set(key, name, multi ? REG_MULTI_SZ : REG_SZ, wide, (ULONG)(n * sizeof(WCHAR)), true);
}

/* The values an INF of the System class would have written, and both keys. */
static NTSTATUS pnp_seed_node(const struct driver *d)
{
    char key[PNP_PATH_MAX], id[PNP_PATH_MAX], driver_key[64], software[PNP_PATH_MAX];
    NTSTATUS status;

    pnp_hardware_key(d, PNP_CURRENT_CONTROL_SET, key, sizeof key);
    pnp_device_id(d, id, sizeof id);
    snprintf(driver_key, sizeof driver_key, PNP_SYSTEM_CLASS "\\%04u", (unsigned)d->index);
    status = pnp_seed_string(key, "DeviceDesc", d->base.name, false);
    if (NT_SUCCESS(status))
        status = pnp_seed_string(key, "HardwareID", id, true);
    if (NT_SUCCESS(status))
        status = pnp_seed_string(key, "Class", "System", false);
    if (NT_SUCCESS(status))
        status = pnp_seed_string(key, "ClassGUID", PNP_SYSTEM_CLASS, false);
    if (NT_SUCCESS(status))
        status = pnp_seed_string(key, "Driver", driver_key, false);
    if (NT_SUCCESS(status))
        status = pnp_seed_string(key, "Mfg", "(Standard system devices)", false);
    if (NT_SUCCESS(status))
        status = pnp_seed_string(key, "Service", d->base.name, false);
    snprintf(software, sizeof software, "%sControl\\Class\\%s", PNP_CURRENT_CONTROL_SET, driver_key);
    if (NT_SUCCESS(status))
        status = pnp_seed_string(software, "DriverDesc", d->base.name, false);
    strncat(key, "\\Device Parameters", sizeof key - strlen(key) - 1);
    return NT_SUCCESS(status) ? registry_create_path(key) : status;
}

/* The driver whose PDO device is; a STOP for any other device (or pointer). */
static const struct driver *pnp_node_of(PDEVICE_OBJECT device, const char *ddi)
{
    const struct driver *d = driver_of_pdo(device);

    if (d == NULL)
        rule_stop_detail(RULE_PNP_NOT_A_PDO, (ULONG_PTR)device, 0, 0, 0,
                         "%s was given %p, which is not the PDO of a device the PnP manager enumerated", ddi,
                         (void *)device);
    return d;
}

/* The software key's path: Control\Class\ + the hardware key's Driver value. */
static NTSTATUS pnp_software_key(const struct driver *d, const char *prefix, char *out, size_t size)
{
    char hardware[PNP_PATH_MAX], narrow[PNP_VALUE_MAX];
    WCHAR value[PNP_VALUE_MAX];
    ULONG type, length;
    size_t n = 0;
    NTSTATUS status;

    pnp_hardware_key(d, PNP_CURRENT_CONTROL_SET, hardware, sizeof hardware);
    status = registry_get(hardware, "Driver", &type, value, sizeof value - sizeof(WCHAR), &length);
    if (!NT_SUCCESS(status) || type != REG_SZ)
        return NT_SUCCESS(status) ? STATUS_OBJECT_NAME_NOT_FOUND : status;
    for (; n < length / sizeof(WCHAR) && value[n] != 0; n++)
        narrow[n] = value[n] < 0x100 ? (char)value[n] : '?';
    narrow[n] = 0;
    snprintf(out, size, "%sControl\\Class\\%s", prefix, narrow);
    return STATUS_SUCCESS;
}

/* PASSIVE_LEVEL. A kernel handle to the device's hardware key's Device Parameters
 * (PLUGPLAY_REGKEY_DEVICE) or its software key (PLUGPLAY_REGKEY_DRIVER), either under the current
 * hardware profile with PLUGPLAY_REGKEY_CURRENT_HWPROFILE; made if missing. The caller closes it
 * with ZwClose. DeviceObject must be the PDO. */
NTSTATUS NTAPI IoOpenDeviceRegistryKey(PDEVICE_OBJECT DeviceObject, ULONG DevInstKeyType, ACCESS_MASK DesiredAccess,
                                       PHANDLE DevInstRegKey)
{
    ULONG which = DevInstKeyType & ~(ULONG)PLUGPLAY_REGKEY_CURRENT_HWPROFILE;
    const char *prefix = (DevInstKeyType & PLUGPLAY_REGKEY_CURRENT_HWPROFILE) ? PNP_HARDWARE_PROFILE
                                                                              : PNP_CURRENT_CONTROL_SET;
    const struct driver *d;
    char path[PNP_PATH_MAX];
    NTSTATUS status = STATUS_SUCCESS;

    rule_check_irql(RULE_IO_NOT_PASSIVE, irql_current(), (ULONG_PTR)DeviceObject, DevInstKeyType, 0);
    d = pnp_node_of(DeviceObject, "IoOpenDeviceRegistryKey");
    if (DevInstRegKey == NULL || (which != PLUGPLAY_REGKEY_DEVICE && which != PLUGPLAY_REGKEY_DRIVER))
        return STATUS_INVALID_PARAMETER;
    *DevInstRegKey = NULL;
    if (which == PLUGPLAY_REGKEY_DEVICE) {
        pnp_hardware_key(d, prefix, path, sizeof path);
        strncat(path, "\\Device Parameters", sizeof path - strlen(path) - 1);
    } else {
        status = pnp_software_key(d, prefix, path, sizeof path);
    }
    return NT_SUCCESS(status) ? registry_open_path(path, DesiredAccess, DevInstRegKey) : status;
}

/* What a property is made of: a value of the hardware key, or a ULONG the PnP manager knows. */
struct pnp_property {
    const char *value;              /* the hardware key's value, or NULL */
    bool computed;
    ULONG number;
    const char *text;               /* a computed REG_SZ (EnumeratorName) */
};

/* NULL-valued, not computed: a property a root-enumerated device does not have. */
static const struct pnp_property pnp_properties[] = {
    [DevicePropertyDeviceDescription] = { "DeviceDesc", false, 0, NULL },
    [DevicePropertyHardwareID] = { "HardwareID", false, 0, NULL },
    [DevicePropertyCompatibleIDs] = { "CompatibleIDs", false, 0, NULL },
    [DevicePropertyClassName] = { "Class", false, 0, NULL },
    [DevicePropertyClassGuid] = { "ClassGUID", false, 0, NULL },
    [DevicePropertyDriverKeyName] = { "Driver", false, 0, NULL },
    [DevicePropertyManufacturer] = { "Mfg", false, 0, NULL },
    [DevicePropertyFriendlyName] = { "FriendlyName", false, 0, NULL },
    [DevicePropertyLocationInformation] = { "LocationInformation", false, 0, NULL },
    [DevicePropertyUINumber] = { "UINumber", false, 0, NULL },
    [DevicePropertyEnumeratorName] = { NULL, true, 0, "ROOT" },
    [DevicePropertyInstallState] = { NULL, true, InstallStateInstalled, NULL },
    [DevicePropertyRemovalPolicy] = { NULL, true, RemovalPolicyExpectNoRemoval, NULL },
    [DevicePropertyContainerID] = { NULL, false, 0, NULL },
};

/* A computed property into the caller's buffer; its length in *needed. */
static void pnp_computed(const struct pnp_property *p, PVOID buffer, ULONG length, PULONG needed)
{
    WCHAR text[16];
    size_t n = 0;

    if (p->text == NULL) {
        *needed = sizeof(ULONG);
        if (length >= sizeof(ULONG))
            memcpy(buffer, &p->number, sizeof(ULONG));
        return;
    }
    for (; p->text[n] != 0; n++)
        text[n] = (WCHAR)p->text[n];
    text[n++] = 0;
    *needed = (ULONG)(n * sizeof(WCHAR));
    if (length >= *needed)
        memcpy(buffer, text, *needed);
}

/* PASSIVE_LEVEL. A property of the device node, as the hardware key's values (DeviceDesc,
 * HardwareID, Class, ClassGUID, Driver, Mfg ...) or the PnP manager (EnumeratorName "ROOT",
 * InstallState, RemovalPolicy) give it. STATUS_BUFFER_TOO_SMALL with *ResultLength the size it
 * needs; STATUS_OBJECT_NAME_NOT_FOUND for one the device lacks (a root-enumerated PDO has no bus
 * number, address, resources or object name); STATUS_INVALID_PARAMETER_2 for an unknown one. */
NTSTATUS NTAPI IoGetDeviceProperty(PDEVICE_OBJECT DeviceObject, DEVICE_REGISTRY_PROPERTY DeviceProperty,
                                   ULONG BufferLength, PVOID PropertyBuffer, PULONG ResultLength)
{
    const struct pnp_property *p;
    const struct driver *d;
    char key[PNP_PATH_MAX];
    ULONG type;
    NTSTATUS status;

    rule_check_irql(RULE_IO_NOT_PASSIVE, irql_current(), (ULONG_PTR)DeviceObject, DeviceProperty, 0);
    d = pnp_node_of(DeviceObject, "IoGetDeviceProperty");
    if ((unsigned)DeviceProperty > DevicePropertyContainerID)
        return STATUS_INVALID_PARAMETER_2;
    if (ResultLength == NULL || (PropertyBuffer == NULL && BufferLength != 0))
        return STATUS_INVALID_PARAMETER;
    *ResultLength = 0;
    p = &pnp_properties[DeviceProperty];
    if (p->computed) {
        pnp_computed(p, PropertyBuffer, BufferLength, ResultLength);
        return BufferLength >= *ResultLength ? STATUS_SUCCESS : STATUS_BUFFER_TOO_SMALL;
    }
    if (p->value == NULL)
        return STATUS_OBJECT_NAME_NOT_FOUND;
    pnp_hardware_key(d, PNP_CURRENT_CONTROL_SET, key, sizeof key);
    status = registry_get(key, p->value, &type, PropertyBuffer, BufferLength, ResultLength);
    return status == STATUS_BUFFER_OVERFLOW ? STATUS_BUFFER_TOO_SMALL : status;
}

/* ---- Enumeration, start and removal ---- */

NTSTATUS driver_pnp_add_and_start(struct driver *d)
{
    struct _KTHREAD *self = thread_current();
    NTSTATUS status = pnp_seed_node(d);

    if (!NT_SUCCESS(status))
        return status;
    d->pdo = driver_create_pdo(self);
    if (d->pdo == NULL)
        return STATUS_INSUFFICIENT_RESOURCES;
    status = d->object->DriverExtension->AddDevice(d->object, d->pdo);
    if (!NT_SUCCESS(status)) {
        driver_delete_pdo(self, d);
        return status;
    }
    status = driver_send_pnp(self, d->pdo, IRP_MN_START_DEVICE);
    if (!NT_SUCCESS(status)) {
        driver_send_pnp(self, d->pdo, IRP_MN_REMOVE_DEVICE);
        driver_delete_pdo(self, d);
    }
    return status;
}

void driver_pnp_remove(struct driver *d)
{
    struct _KTHREAD *self = thread_current();

    driver_send_pnp(self, d->pdo, IRP_MN_REMOVE_DEVICE);
    driver_delete_pdo(self, d);
}

void driver_pnp_boot(void)
{
    pnp_manager = driver_of(driver_intern("PnpManager"));
    if (!driver_make_object(pnp_manager, NULL))
        abort();
    pnp_manager->object->MajorFunction[IRP_MJ_PNP] = driver_pdo_pnp;
}
