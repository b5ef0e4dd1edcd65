/*
 * driver_init.c - a module's section INIT, which the Windows loader discards once DriverEntry
 * returns: its pages become PROT_NONE, and a later touch stops the machine as Windows stops for a
 * freed driver page (0x50, or 0xD1 at DISPATCH_LEVEL and above). The SIGSEGV handler recognises
 * such a fault by its address; any other goes to the handler installed before.
 * Locking: init_lock serialises taking a slot and installing the handler. The handler reads the
 * slots without a lock: a slot is set before its pages are protected and cleared before they are
 * unmapped.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>

#include "driver_private.h"

/* Modules whose INIT section is discarded at the same time. */
#define DRIVER_MAX_DISCARDED 64
/* x86-64 page fault error code bits, and the operation codes of bug checks 0x50 and 0xD1. */
#define DRIVER_FAULT_WRITE 0x2
#define DRIVER_FAULT_FETCH 0x10
#define DRIVER_0x50_WRITE 2
#define DRIVER_0x50_EXECUTE 0x10
#define DRIVER_0xD1_WRITE 1
#define DRIVER_0xD1_EXECUTE 8

static pthread_mutex_t init_lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic(struct driver *) discarded[DRIVER_MAX_DISCARDED];
static struct sigaction previous_segv;

/* In a child made by fork() the parent's discarded modules are not this kernel's. */
void driver_init_boot(void)
{
    if (pthread_mutex_init(&init_lock, NULL) != 0)
        abort();
    for (size_t i = 0; i < DRIVER_MAX_DISCARDED; i++)
        atomic_store(&discarded[i], NULL);
}

static const struct driver *driver_discarded_at(uintptr_t address)
{
    for (size_t i = 0; i < DRIVER_MAX_DISCARDED; i++) {
        const struct driver *d = atomic_load(&discarded[i]);

        if (d != NULL && address >= d->init.start && address < d->init.start + d->init.size)
            return d;
    }
    return NULL;
}

/* What the faulting thread's signal handler hands to driver_init_fault_stop. */
struct driver_fault {
    uintptr_t address;
    ULONG_PTR error;                /* the x86-64 page fault error code */
    ULONG_PTR ip;
    const struct driver *driver;
};

static __thread struct driver_fault fault;

static ULONG_PTR driver_fault_operation(ULONG_PTR write, ULONG_PTR execute)
{
    if (fault.error & DRIVER_FAULT_FETCH)
        return execute;
    return (fault.error & DRIVER_FAULT_WRITE) ? write : 0;
}

/* Stops the machine for a touch of a discarded INIT page, as Windows stops for a freed driver page.
 * It runs on the faulting thread, entered as if the faulting instruction had called it (see
 * driver_fault), so the STOP path runs outside the signal handler and its backtrace goes on into
 * the driver's code. */
__attribute__((force_align_arg_pointer, noinline)) static SIM_NORETURN void driver_init_fault_stop(void)
{
    const struct _KTHREAD *self = thread_current_if_known();
    size_t offset = fault.address - fault.driver->init.start;

    if (self != NULL && self->irql >= DISPATCH_LEVEL)
        rule_stop_detail(RULE_DRIVER_INIT_TOUCHED_AT_DISPATCH, fault.address, self->irql,
                         driver_fault_operation(DRIVER_0xD1_WRITE, DRIVER_0xD1_EXECUTE), fault.ip,
                         "%p is %zu bytes into the INIT section of %s, discarded when its DriverEntry returned",
                         (void *)fault.address, offset, fault.driver->base.name);
    rule_stop_detail(RULE_DRIVER_INIT_TOUCHED, fault.address,
                     driver_fault_operation(DRIVER_0x50_WRITE, DRIVER_0x50_EXECUTE), fault.ip, 0,
                     "%p is %zu bytes into the INIT section of %s, discarded when its DriverEntry returned",
                     (void *)fault.address, offset, fault.driver->base.name);
}

/* A fault on a discarded INIT page is the driver's; any other goes to whoever handled SIGSEGV
 * before. The handler itself only records the fault and, on x86-64, makes the thread return from
 * the signal into driver_init_fault_stop with the faulting address as its return address: the
 * STOP path allocates, takes locks and unwinds, none of which a signal handler may do. */
static void driver_fault(int signal_number, siginfo_t *info, void *context)
{
    const struct driver *d = driver_discarded_at((uintptr_t)info->si_addr);

    (void)signal_number;
    if (d == NULL) {
        sigaction(SIGSEGV, &previous_segv, NULL);
        return;
    }
    fault.address = (uintptr_t)info->si_addr;
    fault.driver = d;
#if defined(__x86_64__)
    {
        ucontext_t *uc = context;
        greg_t *sp = (greg_t *)uc->uc_mcontext.gregs[REG_RSP] - 1;

        fault.error = (ULONG_PTR)uc->uc_mcontext.gregs[REG_ERR];
        fault.ip = (ULONG_PTR)uc->uc_mcontext.gregs[REG_RIP];
        *sp = uc->uc_mcontext.gregs[REG_RIP];
        uc->uc_mcontext.gregs[REG_RSP] = (greg_t)sp;
        uc->uc_mcontext.gregs[REG_RIP] = (greg_t)driver_init_fault_stop;
    }
#else
    (void)context;
    fault.error = 0;
    fault.ip = 0;
    driver_init_fault_stop();
#endif
}

/* init_lock held. A STOP test's child starts with default signal actions, so this checks each time. */
static void driver_install_fault_handler_locked(void)
{
    struct sigaction action, current;

    sigaction(SIGSEGV, NULL, &current);
    if ((current.sa_flags & SA_SIGINFO) && current.sa_sigaction == driver_fault)
        return;
    memset(&action, 0, sizeof action);
    action.sa_sigaction = driver_fault;
    action.sa_flags = SA_SIGINFO;
    sigemptyset(&action.sa_mask);
    sigaction(SIGSEGV, &action, &previous_segv);
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
    if (slot < DRIVER_MAX_DISCARDED) {
        driver_install_fault_handler_locked();
        atomic_store(&discarded[slot], d);
    }
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
