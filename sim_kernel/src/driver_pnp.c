/*
 * driver_pnp.c - the PnP manager, as far as a root-enumerated driver meets it: for a driver whose
 * DriverEntry set AddDevice, an unnamed PDO owned by \Driver\PnpManager (whose PnP dispatch
 * completes every IRP with success), AddDevice, then IRP_MN_START_DEVICE sent to the top of the
 * stack and waited for; at unload IRP_MN_REMOVE_DEVICE, then the PDO is deleted.
 * Locking: none of its own; it runs on the thread that loads or unloads the driver, and what it
 * creates is charged to the PnP manager while it does.
 */
#include "driver_private.h"

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

NTSTATUS driver_pnp_add_and_start(struct driver *d)
{
    struct _KTHREAD *self = thread_current();
    NTSTATUS status;

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
