/*
 * deviface.c - device interfaces: IoRegisterDeviceInterface names an instance of an interface
 * class on a PDO (\??\ROOT#SYSTEM#0000#{guid}, the registry key Windows would make), and
 * IoSetDeviceInterfaceState turns that name into a symbolic link to the device stack's name and
 * back. Host programs find a device by its class with wdmsim_device_interfaces(), as an
 * application does with SetupDiGetClassDevs.
 * Locking: deviface_lock guards the registrations; it is taken before io_lock and ns_lock.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* The interface name buffer handed to the driver: a pool dump shows "IoDi". */
#define DEVIFACE_TAG 'iDoI'
#define DEVIFACE_NAME_MAX WDMSIM_INTERFACE_NAME_MAX

struct deviface {
    struct deviface *next;          /* registrations in the order they were made */
    PDEVICE_OBJECT pdo;
    GUID guid;
    unsigned instance;              /* the PDO's number in the name, the same for all its interfaces */
    bool enabled;                   /* the symbolic link exists */
    WCHAR name[DEVIFACE_NAME_MAX];
    UNICODE_STRING link;            /* name, counted */
};

static pthread_mutex_t deviface_lock = PTHREAD_MUTEX_INITIALIZER;
static struct deviface *deviface_head;
static unsigned deviface_next_instance;

void deviface_boot(void)
{
    pthread_mutex_init(&deviface_lock, NULL);
    deviface_head = NULL;
    deviface_next_instance = 0;
}

void deviface_shutdown(void)
{
    struct deviface *next;

    for (struct deviface *d = deviface_head; d != NULL; d = next) {
        next = d->next;
        free(d);
    }
    deviface_head = NULL;
}

/* ---- Names ---- */

struct deviface_writer {
    WCHAR *out;
    size_t used;
    bool overflow;
};

static void deviface_put(struct deviface_writer *w, WCHAR c)
{
    if (w->used + 1 >= DEVIFACE_NAME_MAX)
        w->overflow = true;
    else
        w->out[w->used++] = c;
}

static void deviface_put_text(struct deviface_writer *w, const char *text)
{
    while (*text != '\0')
        deviface_put(w, (WCHAR)(unsigned char)*text++);
}

static void deviface_put_decimal(struct deviface_writer *w, unsigned value, int digits)
{
    unsigned scale = 1;

    while (--digits > 0)
        scale *= 10;
    for (; scale != 0; scale /= 10)
        deviface_put(w, (WCHAR)('0' + value / scale % 10));
}

/* digits lower-case hex digits of value, most significant first. */
static void deviface_put_hex(struct deviface_writer *w, unsigned long value, int digits)
{
    static const char hex[] = "0123456789abcdef";

    while (digits-- > 0)
        deviface_put(w, (WCHAR)hex[(value >> (4 * digits)) & 0xF]);
}

/* \??\ROOT#SYSTEM#0000#{53f5630d-b6bf-11d0-94f2-00a0c91efb8b}, then \reference if there is one. */
static bool deviface_make_name(struct deviface *d, PCUNICODE_STRING reference)
{
    struct deviface_writer w = { d->name, 0, false };

    deviface_put_text(&w, "\\??\\ROOT#SYSTEM#");
    deviface_put_decimal(&w, d->instance, 4);
    deviface_put_text(&w, "#{");
    deviface_put_hex(&w, d->guid.Data1, 8);
    deviface_put(&w, '-');
    deviface_put_hex(&w, d->guid.Data2, 4);
    deviface_put(&w, '-');
    deviface_put_hex(&w, d->guid.Data3, 4);
    deviface_put(&w, '-');
    for (int i = 0; i < 8; i++) {
        if (i == 2)
            deviface_put(&w, '-');
        deviface_put_hex(&w, d->guid.Data4[i], 2);
    }
    deviface_put(&w, '}');
    if (reference != NULL && reference->Length != 0) {
        deviface_put(&w, '\\');
        for (size_t i = 0; i < reference->Length / sizeof(WCHAR); i++)
            deviface_put(&w, reference->Buffer[i]);
    }
    d->name[w.used] = 0;
    d->link.Buffer = d->name;
    d->link.Length = (USHORT)(w.used * sizeof(WCHAR));
    d->link.MaximumLength = (USHORT)((w.used + 1) * sizeof(WCHAR));
    return !w.overflow;
}

/* ---- Registrations ---- */

/* Lock held: the PDO's instance number, a new one for a PDO seen for the first time. */
static unsigned deviface_instance_locked(PDEVICE_OBJECT pdo)
{
    for (const struct deviface *d = deviface_head; d != NULL; d = d->next) {
        if (d->pdo == pdo)
            return d->instance;
    }
    return deviface_next_instance++;
}

static struct deviface *deviface_find_locked(PCUNICODE_STRING link)
{
    for (struct deviface *d = deviface_head; d != NULL; d = d->next) {
        if (RtlEqualUnicodeString(&d->link, link, TRUE))
            return d;
    }
    return NULL;
}

static void deviface_append_locked(struct deviface *d)
{
    struct deviface **tail = &deviface_head;

    while (*tail != NULL)
        tail = &(*tail)->next;
    *tail = d;
}

/* Lock held: the registration of (pdo, guid, reference), made now if there is none. */
static NTSTATUS deviface_register_locked(PDEVICE_OBJECT pdo, const GUID *guid, PCUNICODE_STRING reference,
                                         struct deviface **found)
{
    struct deviface *d = calloc(1, sizeof *d);
    struct deviface *same;

    if (d == NULL)
        return STATUS_INSUFFICIENT_RESOURCES;
    d->pdo = pdo;
    d->guid = *guid;
    d->instance = deviface_instance_locked(pdo);
    if (!deviface_make_name(d, reference)) {
        free(d);
        return STATUS_INVALID_PARAMETER;
    }
    same = deviface_find_locked(&d->link);
    if (same != NULL) {
        free(d);
        *found = same;
        return STATUS_SUCCESS;
    }
    deviface_append_locked(d);
    *found = d;
    return STATUS_SUCCESS;
}

/* A pool copy of the link for the driver, which frees it with RtlFreeUnicodeString. */
static NTSTATUS deviface_copy_out(const UNICODE_STRING *link, PUNICODE_STRING out)
{
    out->Buffer = ExAllocatePoolWithTag(PagedPool, link->MaximumLength, DEVIFACE_TAG);
    if (out->Buffer == NULL) {
        out->Length = out->MaximumLength = 0;
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    memcpy(out->Buffer, link->Buffer, link->MaximumLength);
    out->Length = link->Length;
    out->MaximumLength = link->MaximumLength;
    return STATUS_SUCCESS;
}

/* PASSIVE_LEVEL. Registering the same (PDO, class, reference string) again gives the same name. */
NTSTATUS NTAPI IoRegisterDeviceInterface(PDEVICE_OBJECT PhysicalDeviceObject, const GUID *InterfaceClassGuid,
                                         PUNICODE_STRING ReferenceString, PUNICODE_STRING SymbolicLinkName)
{
    UNICODE_STRING link;
    WCHAR name[DEVIFACE_NAME_MAX];
    struct deviface *d;
    NTSTATUS status;

    rule_check_irql(RULE_IO_NOT_PASSIVE, irql_current(), (ULONG_PTR)PhysicalDeviceObject, 0, 0);
    RULE_CHECK_ARGUMENT(InterfaceClassGuid, RULE_READS);
    RULE_CHECK_ARGUMENT(SymbolicLinkName, RULE_WRITES);
    if (PhysicalDeviceObject == NULL || PhysicalDeviceObject->Type != IO_TYPE_DEVICE)
        return STATUS_INVALID_DEVICE_REQUEST;
    if (InterfaceClassGuid == NULL || SymbolicLinkName == NULL)
        return STATUS_INVALID_PARAMETER;
    host_lock(&deviface_lock);
    status = deviface_register_locked(PhysicalDeviceObject, InterfaceClassGuid, ReferenceString, &d);
    if (NT_SUCCESS(status)) {
        memcpy(name, d->name, sizeof name);
        link = d->link;
        link.Buffer = name;
    }
    host_unlock(&deviface_lock);
    return NT_SUCCESS(status) ? deviface_copy_out(&link, SymbolicLinkName) : status;
}

/* Lock held. The link points at the name the driver gave its device (the FDO's, as the PDOs the
 * simulator's PnP manager makes are unnamed). */
static NTSTATUS deviface_enable_locked(struct deviface *d)
{
    PCUNICODE_STRING target;
    NTSTATUS status;

    if (d->enabled)
        return STATUS_OBJECT_NAME_EXISTS;
    target = io_device_stack_name(d->pdo);
    if (target == NULL)
        return STATUS_INVALID_DEVICE_REQUEST;
    status = ns_insert(&d->link, NS_SYMLINK, NULL, target);
    d->enabled = NT_SUCCESS(status);
    return status;
}

static NTSTATUS deviface_disable_locked(struct deviface *d)
{
    if (!d->enabled)
        return STATUS_OBJECT_NAME_NOT_FOUND;
    d->enabled = false;
    return ns_remove(&d->link, NS_SYMLINK);
}

/* PASSIVE_LEVEL. Enabling an enabled interface returns STATUS_OBJECT_NAME_EXISTS; disabling one
 * that is not enabled STATUS_OBJECT_NAME_NOT_FOUND. */
NTSTATUS NTAPI IoSetDeviceInterfaceState(PUNICODE_STRING SymbolicLinkName, BOOLEAN Enable)
{
    struct deviface *d;
    NTSTATUS status;

    rule_check_irql(RULE_IO_NOT_PASSIVE, irql_current(), (ULONG_PTR)SymbolicLinkName, Enable, 0);
    RULE_CHECK_ARGUMENT(SymbolicLinkName, RULE_READS);
    if (SymbolicLinkName == NULL || SymbolicLinkName->Buffer == NULL)
        return STATUS_INVALID_PARAMETER;
    host_lock(&deviface_lock);
    d = deviface_find_locked(SymbolicLinkName);
    if (d == NULL)
        status = STATUS_OBJECT_NAME_NOT_FOUND;
    else
        status = Enable ? deviface_enable_locked(d) : deviface_disable_locked(d);
    host_unlock(&deviface_lock);
    return status;
}

void deviface_device_deleted(PDEVICE_OBJECT device)
{
    struct deviface *gone = NULL, *next;

    host_lock(&deviface_lock);
    for (struct deviface **link = &deviface_head; *link != NULL;) {
        struct deviface *d = *link;

        if (d->pdo != device) {
            link = &d->next;
            continue;
        }
        if (d->enabled)
            deviface_disable_locked(d);
        *link = d->next;
        d->next = gone;
        gone = d;
    }
    host_unlock(&deviface_lock);
    for (struct deviface *d = gone; d != NULL; d = next) {
        next = d->next;
        free(d);
    }
}

size_t wdmsim_device_interfaces(const GUID *guid, struct wdmsim_device_interface *found, size_t max)
{
    size_t count = 0;

    kernel_ensure_booted();
    host_lock(&deviface_lock);
    for (const struct deviface *d = deviface_head; d != NULL; d = d->next) {
        if (!d->enabled || memcmp(&d->guid, guid, sizeof *guid) != 0)
            continue;
        if (count < max)
            memcpy(found[count].name, d->name, sizeof found[count].name);
        count++;
    }
    host_unlock(&deviface_lock);
    return count;
}
