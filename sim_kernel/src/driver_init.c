/*
 * driver_init.c - a module's section INIT, which the Windows loader discards once DriverEntry
 * returns: its pages become PROT_NONE, and a later touch stops the machine as Windows stops for a
 * freed driver page (0x50, or 0xD1 at DISPATCH_LEVEL and above). crash.c catches the fault; this
 * file's claim recognises it by its address.
 * Locking: init_lock serialises taking a slot. The claim reads the slots without a lock: a slot is
 * set before its pages are protected and cleared before they are unmapped.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/mman.h>

#include "driver_private.h"

/* Modules whose INIT section is discarded at the same time. */
#define DRIVER_MAX_DISCARDED 64
/* The operation codes of bug checks 0x50 and 0xD1. */
#define DRIVER_0x50_WRITE 2
#define DRIVER_0x50_EXECUTE 0x10
#define DRIVER_0xD1_WRITE 1
#define DRIVER_0xD1_EXECUTE 8

static pthread_mutex_t init_lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic(struct driver *) discarded[DRIVER_MAX_DISCARDED];

static const struct driver *driver_discarded_at(uintptr_t address)
{
    for (size_t i = 0; i < DRIVER_MAX_DISCARDED; i++) {
        const struct driver *d = atomic_load(&discarded[i]);

        if (d != NULL && address >= d->init.start && address < d->init.start + d->init.size)
            return d;
    }
    return NULL;
}

/* crash.c's claim: a touch of a discarded INIT page stops the machine as Windows stops for a freed
 * driver page; any other fault is not this file's. */
static void driver_init_claim(const struct crash_fault *fault)
{
    const struct driver *d = driver_discarded_at(fault->address);
    const struct _KTHREAD *self = thread_current_if_known();
    size_t offset;

    if (d == NULL || fault->signal_number != SIGSEGV)
        return;
    offset = fault->address - d->init.start;
    if (self != NULL && self->irql >= DISPATCH_LEVEL)
        rule_stop_detail(RULE_DRIVER_INIT_TOUCHED_AT_DISPATCH, fault->address, self->irql,
                         crash_operation(fault, DRIVER_0xD1_WRITE, DRIVER_0xD1_EXECUTE), fault->ip,
                         "%p is %zu bytes into the INIT section of %s, discarded when its DriverEntry returned",
                         (void *)fault->address, offset, d->base.name);
    rule_stop_detail(RULE_DRIVER_INIT_TOUCHED, fault->address,
                     crash_operation(fault, DRIVER_0x50_WRITE, DRIVER_0x50_EXECUTE), fault->ip, 0,
                     "%p is %zu bytes into the INIT section of %s, discarded when its DriverEntry returned",
                     (void *)fault->address, offset, d->base.name);
}

/* In a child made by fork() the parent's discarded modules are not this kernel's. */
void driver_init_boot(void)
{
    if (pthread_mutex_init(&init_lock, NULL) != 0)
        abort();
    for (size_t i = 0; i < DRIVER_MAX_DISCARDED; i++)
        atomic_store(&discarded[i], NULL);
    crash_register_claim(driver_init_claim);
}

NTSTATUS driver_discard_init(struct driver *d)
{
    size_t slot = DRIVER_MAX_DISCARDED;

    if (d->init.size == 0)
        return STATUS_SUCCESS;
    host_lock(&init_lock);
    for (size_t i = 0; i < DRIVER_MAX_DISCARDED && slot == DRIVER_MAX_DISCARDED; i++) {
        if (atomic_load(&discarded[i]) == NULL)
            slot = i;
    }
    if (slot < DRIVER_MAX_DISCARDED)
        atomic_store(&discarded[slot], d);
    host_unlock(&init_lock);
    if (slot == DRIVER_MAX_DISCARDED)
        return STATUS_INSUFFICIENT_RESOURCES;
    if (mprotect((void *)d->init.start, d->init.size, PROT_NONE) != 0)
        abort();
    return STATUS_SUCCESS;
}

void driver_forget_init(const struct driver *d)
{
    for (size_t i = 0; i < DRIVER_MAX_DISCARDED; i++) {
        struct driver *expected = (struct driver *)d;

        atomic_compare_exchange_strong(&discarded[i], &expected, NULL);
    }
}
