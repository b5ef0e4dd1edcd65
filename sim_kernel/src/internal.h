/*
 * internal.h - the few internal types and functions the sim_kernel components share.
 * Simulator world: names carry their component's prefix (thread_, irql_, rule_, bugcheck_, pool_,
 * clock_, spinlock_, kernel_). Grouped by the source file that defines them.
 */
#ifndef WDMSIM_INTERNAL_H
#define WDMSIM_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <wdm.h>
#include <wdmsim/wdmsim.h>

#define SIM_NORETURN __attribute__((noreturn))

/* ---- boot.c: the machine's life cycle ---- */

/* Boots with the defaults if nothing has booted yet; every DDI reaches it through thread_current. */
void kernel_ensure_booted(void);
/* Changes with every boot, so state cached by a host thread can tell it belongs to an old kernel. */
unsigned kernel_generation(void);
/* In a child made by fork(): forget the parent's kernel without touching its locks or threads. */
void kernel_forget_after_fork(void);

/* ---- thread.c: simulated threads (KTHREAD) ---- */

struct sim_driver {
    char name[64];
};

struct _KTHREAD {
    KIRQL irql;
    unsigned spinlocks_held;        /* spin locks this thread owns right now */
    const struct sim_driver *driver;/* whose code runs: resources are charged to it; NULL = host */
    bool adopted;                   /* a host thread that called a DDI, not a PsCreateSystemThread one */
    long tid;
    char name[32];
    struct _KTHREAD *next;          /* all threads of this kernel, under the thread registry lock */
};

/* The calling thread's KTHREAD: boots the kernel and adopts the host thread when needed. */
struct _KTHREAD *thread_current(void);
/* The calling thread's KTHREAD if it has one in this kernel, else NULL; never adopts. */
struct _KTHREAD *thread_current_if_known(void);
void thread_boot(void);
void thread_shutdown(void);
const struct sim_driver *thread_driver_intern(const char *name);
/* Copies the name of the live thread at address `candidate` into buf; false if there is none. */
bool thread_name_of(ULONG_PTR candidate, char *buf, size_t size);

/* ---- irql.c ---- */

KIRQL irql_current(void);
const char *irql_name(KIRQL irql);
/* Moves the current thread to irql without the raise/lower rules: for the kernel's own use. */
void irql_set(KIRQL irql);

/* ---- rules.c: the rule catalog ---- */

enum rule_kind {
    RULE_IRQL_AT_MOST,      /* the DDI needs IRQL <= irql */
    RULE_IRQL_AT_LEAST,     /* the DDI needs IRQL >= irql */
    RULE_IRQL_EXACTLY,      /* the DDI needs IRQL == irql */
    RULE_STATE,             /* a condition the component checks itself */
};

enum rule_id {
    RULE_RAISE_IRQL_TO_LOWER,
    RULE_LOWER_IRQL_TO_HIGHER,
    RULE_SPINLOCK_ACQUIRE_ABOVE_DISPATCH,
    RULE_SPINLOCK_ACQUIRE_RECURSIVE,
    RULE_SPINLOCK_RELEASE_NOT_OWNER,
    RULE_SPINLOCK_RELEASE_NOT_AT_DISPATCH,
    RULE_SPINLOCK_AT_DPC_BELOW_DISPATCH,
    RULE_SPINLOCK_FROM_DPC_BELOW_DISPATCH,
    RULE_LIST_CORRUPT,
    RULE_POOL_ZERO_SIZE,
    RULE_POOL_NONPAGED_ABOVE_DISPATCH,
    RULE_POOL_PAGED_ABOVE_APC,
    RULE_POOL_MUST_SUCCEED,
    RULE_POOL_ZERO_TAG,
    RULE_POOL_FREE_NONPAGED_ABOVE_DISPATCH,
    RULE_POOL_FREE_PAGED_ABOVE_APC,
    RULE_POOL_DOUBLE_FREE,
    RULE_POOL_FREE_BAD_ADDRESS,
    RULE_POOL_FREE_TAG_MISMATCH,
    RULE_COUNT
};

struct rule {
    struct wdmsim_rule_info info;
    enum rule_kind kind;
    KIRQL irql;
};

const struct rule *rule_get(enum rule_id id);
/* Stops the machine for this rule. With a subcode row the parameters are (subcode, a, b, c),
 * otherwise (a, b, c, d). */
SIM_NORETURN void rule_stop(enum rule_id id, ULONG_PTR a, ULONG_PTR b, ULONG_PTR c, ULONG_PTR d);
/* The same, with one more line for the report saying what exactly happened (printf format). */
SIM_NORETURN void rule_stop_detail(enum rule_id id, ULONG_PTR a, ULONG_PTR b, ULONG_PTR c, ULONG_PTR d,
                                   const char *fmt, ...) __attribute__((format(printf, 6, 7)));
/* The entry check of an IRQL rule: stops unless the current IRQL satisfies the row. */
void rule_check_irql(enum rule_id id, ULONG_PTR a, ULONG_PTR b, ULONG_PTR c, ULONG_PTR d);

/* ---- bugcheck.c ---- */

/* detail: NULL, or one line saying what exactly happened (which thread owns the lock ...). */
SIM_NORETURN void bugcheck_stop(ULONG code, const ULONG_PTR params[4], const struct rule *rule,
                                const char *detail);
const char *bugcheck_code_name(ULONG code);

/* ---- spinlock.c ---- */

/* Take and drop a KSPIN_LOCK with owner checks but no IRQL change (the caller manages IRQL). */
void spinlock_acquire(PKSPIN_LOCK lock, struct _KTHREAD *self);
void spinlock_release(PKSPIN_LOCK lock, struct _KTHREAD *self);

/* ---- pool.c ---- */

void pool_boot(void);
/* Frees every block still allocated and returns how many there were. */
size_t pool_shutdown(void);

/* ---- time.c: the one clock ---- */

void clock_boot(const struct wdmsim_config *config);
/* System time: 100 ns units since 1601-01-01 UTC. */
LONGLONG clock_system_time(void);
/* Time since boot in 100 ns units (never goes back). */
LONGLONG clock_since_boot(void);
/* The local time-zone bias in 100 ns units for a given system time (local = system - bias). */
LONGLONG clock_time_zone_bias(LONGLONG system_time);

#endif /* WDMSIM_INTERNAL_H */
