/*
 * driver_check.c - what a driver leaves behind. After DriverUnload (or a failed DriverEntry) the
 * check asks every registered inventory for what of the driver is still alive: each family of
 * resources registers its own (DRIVER_INVENTORY in its file), and this file names none. Anything
 * found stops the machine with the whole list: 0xCE for operations that would run the driver's
 * code, 0xC4/0x62 for pool, references and handles.
 * Locking: the inventory list is written only before main (constructors) and read-only after. A
 * check belongs to the thread running it; inventories may report into it under their own locks,
 * since reporting only copies.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "driver_private.h"

/* Room for the list of what a driver left behind: most of a STOP report. */
#define DRIVER_DETAIL_SIZE 6144
#define DRIVER_MAX_PENDING 32

struct driver_pending {
    const char *kind;
    const void *object;
    const void *code;               /* the driver routine it would run, or NULL */
    char note[112];
};

struct driver_check {
    const struct driver *driver;
    struct driver_range *blocks;    /* its pool blocks: kernel objects inside them are its own */
    size_t block_count;
    size_t block_capacity;
    struct driver_pending pending[DRIVER_MAX_PENDING];
    size_t pending_count;           /* may exceed DRIVER_MAX_PENDING: the rest are only counted */
    char leaks[DRIVER_DETAIL_SIZE]; /* pool blocks, references and handles, one line each */
    size_t leaks_used;
    size_t pool_blocks;
    size_t objects;                 /* references and handles */
};

static struct driver_inventory *inventories;

void driver_inventory_register(struct driver_inventory *inventory)
{
    struct driver_inventory **link = &inventories;

    while (*link != NULL && (*link)->order <= inventory->order)
        link = &(*link)->next;
    inventory->next = *link;
    *link = inventory;
}

const struct sim_driver *driver_check_driver(const struct driver_check *check)
{
    return &check->driver->base;
}

PDRIVER_OBJECT driver_check_object(const struct driver_check *check)
{
    return check->driver->object;
}

bool driver_check_owns(const struct driver_check *check, USHORT charged, const void *address)
{
    if (charged == check->driver->index || driver_range_holds(&check->driver->image, address))
        return true;
    for (size_t i = 0; i < check->block_count; i++) {
        if (driver_range_holds(&check->blocks[i], address))
            return true;
    }
    return false;
}

static size_t driver_check_found(const struct driver_check *check)
{
    return check->pending_count + check->pool_blocks + check->objects;
}

static void driver_check_add_leak(struct driver_check *check, const char *what)
{
    int n;

    if (check->leaks_used >= sizeof check->leaks)
        return;
    n = snprintf(check->leaks + check->leaks_used, sizeof check->leaks - check->leaks_used,
                 "\n          - %s", what);
    if (n > 0)
        check->leaks_used += (size_t)n;
}

void driver_check_pool_block(struct driver_check *check, const void *address, size_t size, const char *what)
{
    if (check->block_count == check->block_capacity) {
        size_t capacity = check->block_capacity ? check->block_capacity * 2 : 16;
        struct driver_range *grown = realloc(check->blocks, capacity * sizeof *grown);

        if (grown == NULL)
            abort();
        check->blocks = grown;
        check->block_capacity = capacity;
    }
    check->blocks[check->block_count++] = (struct driver_range){ (uintptr_t)address, size };
    check->pool_blocks++;
    driver_check_add_leak(check, what);
}

void driver_check_pending(struct driver_check *check, const char *kind, const void *object, const void *code,
                          const char *fmt, ...)
{
    struct driver_pending *p = check->pending_count < DRIVER_MAX_PENDING ? &check->pending[check->pending_count]
                                                                         : NULL;
    va_list ap;

    check->pending_count++;
    if (p == NULL)
        return;
    *p = (struct driver_pending){ .kind = kind, .object = object, .code = code };
    va_start(ap, fmt);
    vsnprintf(p->note, sizeof p->note, fmt, ap);
    va_end(ap);
}

void driver_check_reference(struct driver_check *check, const char *what)
{
    check->objects++;
    driver_check_add_leak(check, what);
}

/* Notes are taken last, so a check that found nothing else is final by then; with leftovers the
 * STOP report says more than a note would. */
void driver_check_note(struct driver_check *check, const char *fmt, ...)
{
    va_list ap;

    if (driver_check_found(check) > 0)
        return;
    fprintf(stderr, "wdmsim: unload: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

/* "TraceTimerDpc+0x0 (tracedrv.so)" or "0x7f... (tracedrv.so)": where a routine lives. */
static void driver_describe_code(const void *code, char *buf, size_t size)
{
    const char *object = "?";
    Dl_info info;

    if (dladdr(code, &info) == 0) {
        snprintf(buf, size, "%p", code);
        return;
    }
    if (info.dli_fname != NULL)
        object = strrchr(info.dli_fname, '/') ? strrchr(info.dli_fname, '/') + 1 : info.dli_fname;
    if (info.dli_sname != NULL)
        snprintf(buf, size, "%s+0x%tx (%s)", info.dli_sname, (const char *)code - (const char *)info.dli_saddr,
                 object);
    else
        snprintf(buf, size, "%p (%s)", code, object);
}

static size_t driver_append(char *buf, size_t size, size_t used, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static size_t driver_append(char *buf, size_t size, size_t used, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (used >= size)
        return used;
    va_start(ap, fmt);
    n = vsnprintf(buf + used, size - used, fmt, ap);
    va_end(ap);
    return n > 0 ? used + (size_t)n : used;
}

static SIM_NORETURN void driver_stop(const struct driver_check *check, const char *when)
{
    static char detail[DRIVER_DETAIL_SIZE + 512];
    const char *name = check->driver->base.name;
    size_t total = driver_check_found(check);
    size_t used = driver_append(detail, sizeof detail, 0, "%s %s and left %zu thing%s behind:", name, when,
                                total, total == 1 ? "" : "s");
    char code[128];

    for (size_t i = 0; i < check->pending_count && i < DRIVER_MAX_PENDING; i++) {
        const struct driver_pending *p = &check->pending[i];

        used = driver_append(detail, sizeof detail, used, "\n          - %s %p %s", p->kind, p->object, p->note);
        if (p->code != NULL) {
            driver_describe_code(p->code, code, sizeof code);
            used = driver_append(detail, sizeof detail, used, "; it would run %s", code);
        }
    }
    if (check->pending_count > DRIVER_MAX_PENDING)
        used = driver_append(detail, sizeof detail, used, "\n          - and %zu more pending operations",
                             check->pending_count - DRIVER_MAX_PENDING);
    driver_append(detail, sizeof detail, used, "%.*s", (int)check->leaks_used, check->leaks);
    if (check->pending_count > 0) {
        const struct driver_pending *first = &check->pending[0];

        rule_stop_text(RULE_DRIVER_LEFT_PENDING_OPERATIONS,
                       (ULONG_PTR)(first->code ? first->code : first->object), 0, (ULONG_PTR)first->object, 0,
                       detail);
    }
    if (check->pool_blocks > 0)
        rule_stop_text(RULE_DRIVER_LEFT_POOL, (ULONG_PTR)name, (ULONG_PTR)check->driver, check->pool_blocks, 0,
                       detail);
    rule_stop_text(RULE_DRIVER_LEFT_REFERENCES, (ULONG_PTR)name, (ULONG_PTR)check->driver, check->objects, 0, detail);
}

/* Code of the driver on its way out (a worker returning from the driver's work item routine after
 * setting the event Unload waited for, a DPC finishing) may finish first, as Windows keeps an image
 * until such references are gone: on the virtual clock one tick of delay returns only once every
 * other simulated thread is blocked, and the inventories' settle steps wait for what they know
 * ends by itself. Then anything of the driver still alive stops the machine. */
void driver_verify(struct driver *d, const char *when)
{
    LARGE_INTEGER one_tick = { .QuadPart = -1 };
    struct driver_check *check = calloc(1, sizeof *check);

    if (check == NULL)
        abort();
    check->driver = d;
    KeDelayExecutionThread(KernelMode, FALSE, &one_tick);
    for (const struct driver_inventory *i = inventories; i != NULL; i = i->next) {
        if (i->settle != NULL)
            i->settle(check);
    }
    for (const struct driver_inventory *i = inventories; i != NULL; i = i->next) {
        if (i->collect != NULL)
            i->collect(check);
    }
    if (driver_check_found(check) > 0)
        driver_stop(check, when);
    free(check->blocks);
    free(check);
}
