/*
 * internal.h - the few internal types and functions the sim_kernel components share.
 * Simulator world: names carry their component's prefix (thread_, irql_, rule_, bugcheck_, pool_,
 * clock_, spinlock_, kernel_). Grouped by the source file that defines them.
 */
#ifndef WDMSIM_INTERNAL_H
#define WDMSIM_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/types.h>
#include <time.h>
#include <ntifs.h>
#include <wdmsim/wdmsim.h>

#define SIM_NORETURN __attribute__((noreturn))

/* ---- boot.c: the machine's life cycle ---- */

/* Boots with the defaults if nothing has booted yet; every DDI reaches it through thread_current. */
void kernel_ensure_booted(void);
/* Changes with every boot, so state cached by a host thread can tell it belongs to an old kernel.
 * Inline: every DDI reads it to find its thread. */
extern atomic_uint kernel_generation_counter;
static inline unsigned kernel_generation(void)
{
    return atomic_load_explicit(&kernel_generation_counter, memory_order_acquire);
}
/* The configuration of the latest boot: a STOP test's child boots with the same one. */
const struct wdmsim_config *kernel_last_config(void);
/* Before a fork: let the other simulated threads settle into the dispatcher (virtual clock). */
void kernel_quiesce(void);
/* In a child made by fork(): forget the parent's kernel without touching its locks or threads. */
void kernel_forget_after_fork(void);
/* The leaks every shutdown (wdmsim_boot's of a running kernel included) found since the process
 * began or forgot its parent's kernel. */
size_t kernel_leaks_found(void);

/* ---- driver.c: the registry of drivers (the life cycle's other jobs: driver_*.c) ---- */

void driver_boot(void);
/* Forgets every driver; a module still loaded stays mapped (abandoned threads may run its code). */
void driver_shutdown(void);
/* What host code runs as with wdmsim_run_as_driver: the loaded driver of that name, or a record
 * made for the name. */
const struct sim_driver *driver_intern(const char *name);
/* A driver's small number, kept in kernel objects with no room for a pointer: KTIMER.Processor and
 * KDPC.Number hold the index of the driver that initialised them. 0 is host code. */
USHORT driver_index(const struct sim_driver *driver);
const struct sim_driver *driver_at(USHORT index);

/* ---- driver_check.c: what a driver leaves behind at unload ---- */

/* The unload check asks every registered inventory for what the driver still has alive. A family
 * of resources registers one (DRIVER_INVENTORY below) in its own file; the check names none. */
struct driver_check;

/* The order inventories are taken in, which is also the order of the report. */
enum driver_inventory_order {
    DRIVER_INVENTORY_MEMORY,        /* pool: first, since later ones ask driver_check_owns */
    DRIVER_INVENTORY_RUNNING,       /* code of the driver running now: threads */
    DRIVER_INVENTORY_QUEUED,        /* code that would run later: timers, DPCs, work items */
    DRIVER_INVENTORY_OBJECTS,       /* objects the driver made and did not delete: devices */
    DRIVER_INVENTORY_REFERENCES,    /* references and handles it holds */
    DRIVER_INVENTORY_NOTES,         /* not leaks: said on stderr when nothing else is left */
};

struct driver_inventory {
    enum driver_inventory_order order;
    /* Optional: before any inventory is taken, waits for what ends by itself (work items whose
     * routine is running), as Windows keeps an image while such references last. */
    void (*settle)(const struct driver_check *check);
    /* Reports each leftover through the driver_check_* calls below. */
    void (*collect)(struct driver_check *check);
    struct driver_inventory *next;  /* the check's list, sorted by order */
};

/* Before main (single-threaded): adds an inventory to every later unload check. */
void driver_inventory_register(struct driver_inventory *inventory);
#define DRIVER_INVENTORY(inventory)                                                                \
    __attribute__((constructor)) static void inventory##_register(void)                           \
    {                                                                                              \
        driver_inventory_register(&inventory);                                                     \
    }

const struct sim_driver *driver_check_driver(const struct driver_check *check);
PDRIVER_OBJECT driver_check_object(const struct driver_check *check);
/* Is the kernel object at address the driver's: charged to it (a driver index), in its image, or
 * in one of its pool blocks (known once the MEMORY inventories are taken)? */
bool driver_check_owns(const struct driver_check *check, USHORT charged, const void *address);
/* A pool block still allocated (0xC4/0x62): what describes it in one line. */
void driver_check_pool_block(struct driver_check *check, const void *address, size_t size, const char *what);
/* An operation that would run the driver's code (0xCE): kind ("timer"), the object, the routine it
 * would run (or NULL), and a note. Only copies, so it may be called under any lock. */
void driver_check_pending(struct driver_check *check, const char *kind, const void *object, const void *code,
                          const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* A reference or handle still held (0xC4/0x62). */
void driver_check_reference(struct driver_check *check, const char *what);
/* Something to tell the developer that Windows does not stop for (DRIVER_INVENTORY_NOTES). */
void driver_check_note(struct driver_check *check, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- debug.c: DbgPrint and assertions ---- */

/* Windows' default debug filter again: only DPFLTR_ERROR_LEVEL messages get through. */
void debug_boot(void);

/* ---- region.c: critical and guarded regions, the thread's APC state ---- */

/* KTHREAD.CombinedApcDisable as Windows reports it in bug check parameters, for a thread that
 * owns mutexes_held mutexes besides its regions. */
ULONG region_combined_apc_disable(const struct _KTHREAD *thread, unsigned mutexes_held);
/* Are the caller's normal kernel APCs disabled (a region, an owned KMUTEX, or IRQL >= APC_LEVEL),
 * as the DDIs that require it check? */
bool region_normal_apcs_disabled(const struct _KTHREAD *self);

/* ---- irp.c: IRPs drivers build ---- */

/* Forgets the last boot's built IRPs. */
void irp_boot(void);

/* ---- iotimer.c: devices' one-second timers ---- */

/* Forgets the last boot's timers. */
void iotimer_boot(void);

/* ---- removelock.c: remove locks ---- */

/* Forgets the last boot's remove locks. */
void removelock_boot(void);

/* ---- devqueue.c: device queues ---- */

/* Forgets the last boot's queued entries. */
void devqueue_boot(void);
/* The queue an entry is in now, or NULL. */
const KDEVICE_QUEUE *devqueue_queue_of(const KDEVICE_QUEUE_ENTRY *entry);

/* ---- lookaside.c: lookaside lists ---- */

/* Forgets the last boot's lists. */
void lookaside_boot(void);

/* ---- resource.c: executive resources (ERESOURCE) ---- */

/* Forgets the last boot's resources. */
void resource_boot(void);

/* ---- host.c: the host threads simulated threads run on ---- */

struct host_thread {
    struct host_worker *worker;     /* a kept host thread, given back when this one is joined */
};

void host_thread_start(struct host_thread *thread, void *(*fn)(void *), void *context);
/* Waits for the thread's function to return, then keeps its host thread for the next start. */
void host_thread_join(const struct host_thread *thread);
/* A thread left running for good (abandoned at shutdown): its host thread is never used again. */
void host_thread_detach(const struct host_thread *thread);
/* Called on a started thread: ends its function at once, as if it had returned. */
SIM_NORETURN void host_thread_exit(void);
/* A word one thread sleeps on while it is 0, at most relative long (NULL: for ever) - true once it
 * is set - and the store that sets it to 1 and wakes the sleeper. The word's memory must outlive
 * any thread that may still set it. */
bool host_word_wait(uint32_t *word, const struct timespec *relative);
void host_word_set(uint32_t *word);
/* Whether host thread tid (of this process) sleeps, how often it has gone to sleep so far, and the
 * futex word it sleeps on, if any (0 otherwise); false if it cannot be read. */
struct host_sleep {
    bool sleeping;
    unsigned long long switches;
    uintptr_t futex;
};
bool host_thread_sleep(long tid, struct host_sleep *sleep);
/* The calling thread's host id (gettid). */
long host_thread_id(void);
/* The calling host thread's stack: its lowest address and the address just above it. */
void host_stack_limits(uintptr_t *low, uintptr_t *high);

/* ---- thread.c: simulated threads (KTHREAD) ---- */

struct sim_driver {
    char name[64];
};

/* What a thread waits for; guarded by the dispatcher lock. */
struct thread_wait {
    bool waiting;                   /* blocked in the dispatcher until `status` is set */
    WAIT_TYPE type;
    ULONG count;
    PKWAIT_BLOCK blocks;            /* the caller's WaitBlockArray, or own_blocks */
    KWAIT_BLOCK own_blocks[THREAD_WAIT_OBJECTS];
    LONGLONG deadline;              /* interrupt time; DISP_NO_DEADLINE for none */
    LIST_ENTRY timeout_link;        /* on the scheduler's list of waits with a deadline */
    NTSTATUS status;
    const char *what;               /* the DDI that waits, for the deadlock report */
    uint64_t timeline_flow;         /* the timeline's arrow from whoever ended the wait (0: none) */
};

/* What the controlled scheduler keeps about a thread; guarded by the dispatcher lock. */
struct thread_sched {
    LIST_ENTRY link;                /* on the scheduler's list, in creation order */
    unsigned id;                    /* its creation ordinal in this kernel: names it in a schedule */
    long long priority;             /* the pct strategy's: the highest that can run has the turn */
    PKSPIN_LOCK spinning_on;        /* a spin lock another thread holds, or NULL */
    bool away;                      /* lost the turn while in host code (see sched_thread_begin) */
    long host_tid;                  /* its host thread's id, to see whether it sleeps in host code */
    bool ended;                     /* off the schedule for good */
};

/* Where a thread runs (processor.c): only the thread itself reads or changes it, except that the
 * DPC thread takes each DPC's processor while it runs the routine. */
struct processor_place {
    bool placed;                    /* given a processor yet (threads are, at their first query) */
    UCHAR processor;                /* the processor it runs on */
    UCHAR home;                     /* the one it was given, where a reverted affinity takes it */
    KAFFINITY system_affinity;      /* KeSetSystemAffinityThread(Ex)'s; 0: none, the user affinity */
};

/* ---- lockorder.c: the lock-order checker (Driver Verifier's deadlock detection) ---- */

/* The kinds of lock whose order is checked. */
enum lockorder_kind {
    LOCKORDER_SPIN_LOCK,
    LOCKORDER_FAST_MUTEX,
    LOCKORDER_GUARDED_MUTEX,
    LOCKORDER_MUTEX,                /* KMUTEX, taken by a wait */
    LOCKORDER_RESOURCE,             /* ERESOURCE, shared or exclusive */
};

#define LOCKORDER_MAX_HELD 16

/* One lock a thread holds, in the order it took them. Only the thread itself changes its stack;
 * a pool free reads every thread's lock addresses and count (atomics) for a lock still held. */
struct lockorder_held {
    const void *lock;
    const void *site;               /* the driver code that acquired it */
    unsigned depth;                 /* recursive acquisitions of a KMUTEX or ERESOURCE */
    int class_index;                /* its class, once looked up (-1 before) */
    unsigned generation;            /* the checker's, when class_index was looked up */
    enum lockorder_kind kind;
};

#define LOCKORDER_KNOWN_PAIRS 32

/* A pair of locks whose order this thread has had checked: taking `to` while holding `from`
 * needs no look at the shared tables while the checker's generation stays the same. */
struct lockorder_known_pair {
    const void *from, *to;
    int to_class;
    unsigned generation;
};

struct lockorder_thread {
    unsigned count;
    unsigned overflow;              /* acquisitions past LOCKORDER_MAX_HELD, not recorded */
    struct lockorder_held held[LOCKORDER_MAX_HELD];
    struct lockorder_known_pair known[LOCKORDER_KNOWN_PAIRS];   /* direct-mapped by the pair */
};

struct _KTHREAD {
    DISPATCHER_HEADER header;       /* a thread is waitable: signalled when it ends */
    KIRQL irql;
    unsigned spinlocks_held;        /* spin locks this thread owns right now */
    unsigned fast_mutexes_held;     /* FAST_MUTEX acquisitions not yet released */
    LIST_ENTRY mutants_owned;       /* KMUTANT.MutantListEntry of each mutex it owns (dispatcher lock) */
    unsigned critical_regions;      /* KeEnterCriticalRegion nesting (region.c) */
    unsigned guarded_regions;       /* KeEnterGuardedRegion nesting (region.c) */
    const struct sim_driver *driver;/* whose code runs: resources are charged to it; NULL = host */
    PEPROCESS process;              /* its own process: System, or the user process it runs for */
    PEPROCESS current_process;      /* where its handles resolve: its own, or the one it attached to */
    PRKAPC_STATE attach_top;        /* the state of its latest KeStackAttachProcess; NULL: not attached */
    bool adopted;                   /* a host thread that called a DDI, not a PsCreateSystemThread one */
    bool system;                    /* created by PsCreateSystemThread (or a kernel service thread) */
    bool in_dpc;                    /* running a DPC routine */
    bool worker;                    /* a system worker thread: work items run on it */
    bool terminated;
    long tid;
    char name[32];
    KPRIORITY priority;             /* the current priority: base plus what is left of a boost */
    KPRIORITY base_priority;        /* both atomic: KeQueryPriorityThread reads without a lock */
    NTSTATUS exit_status;
    struct thread_wait wait;
    struct io_dispatch_frame *dispatch_frame;   /* the innermost dispatch routine it runs (io.c) */
    unsigned timeline_thread;       /* its lane in the timeline + 1 (0: none yet); its own to touch */
    struct host_thread host;        /* the host thread of a spawned thread */
    void (*start)(void *);          /* what a spawned thread runs */
    void *start_context;
    pthread_cond_t wake;            /* signalled, under the dispatcher lock, when the wait ends or
                                     * (controlled mode) the turn comes to it */
    struct thread_sched sched;
    struct processor_place cpu;     /* the processor it runs on (processor.c) */
    struct lockorder_thread lock_order; /* the locks it holds, for the lock-order checker */
    struct _KTHREAD *next;          /* all threads of this kernel, under the thread registry lock */
};

/* Whose code the thread runs from now on. Only the thread itself changes it (or its creator, before
 * it runs), but an unload's check and the reports read every thread's: the store is atomic (and,
 * relaxed, as cheap as a plain one), and so are those reads, through thread_charged. */
static inline void thread_charge(struct _KTHREAD *thread, const struct sim_driver *driver)
{
    __atomic_store_n(&thread->driver, driver, __ATOMIC_RELAXED);
}

static inline const struct sim_driver *thread_charged(const struct _KTHREAD *thread)
{
    return __atomic_load_n(&thread->driver, __ATOMIC_RELAXED);
}

/* A new KTHREAD (not yet registered or running) with an unsignalled thread header. */
struct _KTHREAD *thread_new(const char *name);
/* Dispatcher lock held: thread's wait was satisfied by a set or release with increment. As Windows
 * boosts a variable-priority thread (base below LOW_REALTIME_PRIORITY): to base + increment, at
 * most 15, if that is above its current priority. The simulator's scheduler does not order
 * threads by these priorities: KeQueryPriorityThread shows them, nothing else uses them. */
void thread_boost_locked(struct _KTHREAD *thread, KPRIORITY increment);
/* Dispatcher lock held: thread ends a time slice (the simulator's are its blocking waits); a boost
 * decays one level, never below the base priority, as Windows decays one per quantum. */
void thread_decay_locked(struct _KTHREAD *thread);
/* Adds a thread to the registry and counts it as runnable. */
void thread_register(struct _KTHREAD *thread);
/* Makes thread the calling host thread's KTHREAD (a system thread's first act). */
void thread_set_current(struct _KTHREAD *thread);
/* Starts a registered simulated thread on a new host thread running fn(context); when fn returns
 * the thread ends with STATUS_SUCCESS (as a returning system thread start routine does). */
void thread_spawn(struct _KTHREAD *thread, void (*fn)(void *), void *context);
/* Waits for a spawned thread to end (in the dispatcher, so its end takes a turn and virtual time
 * moves), then for its host thread to finish. PASSIVE_LEVEL. */
void thread_join(struct _KTHREAD *thread);
/* Forgets and frees a spawned thread that is not an object, once it has ended and been joined. */
void thread_free_ended(struct _KTHREAD *thread);
/* The calling simulated thread ends: exit checks, then its object is signalled. Returns to the
 * caller, which must then leave the host thread. */
void thread_exit_current(NTSTATUS status);
/* What a family does for a thread about to end, at PASSIVE_LEVEL with no lock held, before the exit
 * checks: irp.c cancels the thread's IRPs and waits for them. Registered before main. */
void thread_ending_register(void (*hook)(struct _KTHREAD *thread));

/* What a family checks when any thread ends, with the dispatcher lock held: a lock the thread
 * still owns, a region it is still in. Registered in the family's own file (THREAD_EXIT_CHECK). */
enum thread_exit_order {
    THREAD_EXIT_OWNERSHIP,          /* what it still owns: first, as the likelier cause */
    THREAD_EXIT_STATE,              /* the state it leaves in: regions entered */
};

struct thread_exit_check {
    enum thread_exit_order order;
    void (*check)(const struct _KTHREAD *self);
    struct thread_exit_check *next;
};

/* Before main (single-threaded): adds a check to every later thread end. */
void thread_exit_check_register(struct thread_exit_check *check);
#define THREAD_EXIT_CHECK(check)                                                                   \
    __attribute__((constructor)) static void check##_register(void)                               \
    {                                                                                              \
        thread_exit_check_register(&check);                                                        \
    }
/* Appends one line per thread: what it waits for, or that it runs (dispatcher lock held). */
void thread_describe_waits(char *buf, size_t size);
/* Where a request comes from, as NT's previous mode: UserMode for an application's own code. */
KPROCESSOR_MODE thread_previous_mode(void);
/* The calling thread's KTHREAD: boots the kernel and adopts the host thread when needed. In
 * controlled mode this is the scheduling point of a DDI's entry. */
struct _KTHREAD *thread_current(void);
/* The calling host thread's KTHREAD and the kernel it belongs to (thread.c's; for the inline
 * look-up below, which every DDI makes, so it costs two thread-local reads and no call). */
extern __thread struct _KTHREAD *thread_tls_self;
extern __thread unsigned thread_tls_generation;
/* The look-up's slow path: boots and adopts as needed. */
struct _KTHREAD *thread_current_slow(void);
/* The same without the scheduling point: for helpers every DDI calls after its entry (its IRQL). */
static inline struct _KTHREAD *thread_current_quiet(void)
{
    struct _KTHREAD *self = thread_tls_self;

    if (__builtin_expect(self == NULL || thread_tls_generation != kernel_generation(), 0))
        self = thread_current_slow();
    return self;
}
/* The calling thread's KTHREAD if it has one in this kernel, else NULL; never adopts. */
struct _KTHREAD *thread_current_if_known(void);
void thread_boot(void);
void thread_shutdown(void);
/* Calls fn(thread, context) for every registered thread, under the registry lock (taken after the
 * dispatcher lock, if that is held): fn must take no lock and may not stop the machine. */
void thread_for_each(void (*fn)(const struct _KTHREAD *thread, void *context), void *context);
/* Is the thread at address `candidate` registered and not ended? */
bool thread_is_running(ULONG_PTR candidate);
/* Copies the name of the live thread at address `candidate` into buf; false if there is none. */
bool thread_name_of(ULONG_PTR candidate, char *buf, size_t size);

/* ---- dispatcher.c: the one wait/satisfy path ---- */

/* DISPATCHER_HEADER.Type, with NT's values. */
enum disp_type {
    DISP_EVENT_NOTIFICATION = 0,
    DISP_EVENT_SYNCHRONIZATION = 1,
    DISP_MUTANT = 2,
    DISP_PROCESS = 3,
    DISP_SEMAPHORE = 5,
    DISP_THREAD = 6,
    DISP_TIMER_NOTIFICATION = 8,
    DISP_TIMER_SYNCHRONIZATION = 9,
};

#define DISP_NO_DEADLINE ((LONGLONG)0x7FFFFFFFFFFFFFFFLL)

void disp_boot(void);
/* In controlled mode taking the lock is a scheduling point (see sched.c); the scheduler's own
 * code takes it with disp_acquire, which never is. */
void disp_lock(void);
void disp_unlock(void);
void disp_acquire(void);
void disp_release(void);
/* Lock held: set word (host_word_set) right after the lock is next dropped, so the thread woken
 * does not find the lock still taken. */
void disp_set_after_release(uint32_t *word);
bool disp_held(void);
/* For helpers whose contract says "lock held". */
static inline void disp_assert_held(void)
{
    if (!disp_held())
        abort();
}
pthread_mutex_t *disp_mutex(void);
/* Sets up a dispatcher header: type, Size (the whole object's size in ULONGs, as Windows keeps it,
 * from size in bytes), signal state, empty wait list. Any IRQL, no lock needed. */
void disp_init_header(DISPATCHER_HEADER *header, enum disp_type type, size_t size, LONG signal_state);
/* Lock held (it reads the wait list): stops the machine unless header is an initialised dispatcher object. */
void disp_check_object(const DISPATCHER_HEADER *header);
/* Lock held: the object's state rose; satisfy the waits it now can, oldest first. */
void disp_wait_test(DISPATCHER_HEADER *header);
/* The same, boosting each thread whose wait it satisfies by increment (thread_boost_locked). */
void disp_wait_test_boost(DISPATCHER_HEADER *header, KPRIORITY increment);
/* Lock held: end thread's wait with status (a timeout, or the object satisfied it). */
void disp_end_wait(struct _KTHREAD *thread, NTSTATUS status);
/* A Ke timeout (NULL, 0, relative < 0, absolute > 0) as an interrupt-time deadline. */
LONGLONG disp_deadline(const LARGE_INTEGER *timeout);
/* Lock held: the waits that have a deadline. */
PLIST_ENTRY disp_timeout_list(void);
/* Lock held: expire every wait and timer whose deadline is <= now (interrupt time). */
void disp_expire(LONGLONG now);
/* Lock held: the earliest deadline of any wait or timer, or DISP_NO_DEADLINE. */
LONGLONG disp_next_deadline(void);
/* A wait for ever on one object by a kernel routine that checked its own IRQL rule; `what` names
 * the routine in deadlock reports. */
NTSTATUS disp_wait_for(struct _KTHREAD *self, PVOID object, const char *what);
/* "SynchronizationEvent", "Mutex" ...: a DISPATCHER_HEADER's Type as reports name it. */
const char *disp_type_name(UCHAR type);
/* What a family checks when a thread calls KeWaitForSingleObject or KeWaitForMultipleObjects,
 * after the IRQL rules (the I/O manager: a dispatch routine that waits). Registered before main
 * with DISP_WAIT_CHECK; timeout as the caller gave it (NULL: for ever). */
struct disp_wait_check {
    void (*check)(struct _KTHREAD *self, ULONG count, PVOID objects[], const LARGE_INTEGER *timeout,
                  const char *ddi);
    struct disp_wait_check *next;
};
void disp_wait_check_register(struct disp_wait_check *check);
#define DISP_WAIT_CHECK(check)                                                                     \
    __attribute__((constructor)) static void check##_register(void)                               \
    {                                                                                              \
        disp_wait_check_register(&check);                                                          \
    }
/* The `what` of a fast mutex's wait: reports show the fast mutex and its owner, not its event. */
extern const char disp_fast_mutex_wait[];

/* ---- sched.c: who can run, blocking and waking, virtual time, deadlocks, and the turn ---- */

/*
 * Controlled mode: exactly one simulated thread has the turn and runs; the others wait at a
 * scheduling point until a strategy (strategy.c) gives it to them. A voluntary point (a DDI's
 * entry, after a wake) is skipped while the thread holds a host lock, so the thread that gets the
 * turn never finds one taken; a forced one (a block, a contended spin lock) is not.
 */
enum sched_point_kind {
    SCHED_POINT_DDI,                /* a DDI's entry: where is the return address */
    SCHED_POINT_WAKE,               /* after readying a thread */
    SCHED_POINT_BLOCK,              /* blocking in the dispatcher: where is the waiting DDI's name */
    SCHED_POINT_SPIN,               /* a contended spin lock: where is the lock */
    SCHED_POINT_START,              /* a thread's first turn, taken at the creator's point */
    SCHED_POINT_END,                /* a thread ended */
    SCHED_POINT_BOOT,               /* the booting thread lets the kernel's threads reach their waits */
};

extern bool sched_controlled_mode;
extern __thread unsigned sched_host_locks;

static inline bool sched_is_controlled(void)
{
    return __atomic_load_n(&sched_controlled_mode, __ATOMIC_RELAXED);
}

/* The host's mutexes, counted: a voluntary scheduling point waits until the thread holds none. */
static inline void host_lock(pthread_mutex_t *mutex)
{
    if (pthread_mutex_lock(mutex) != 0)
        abort();
    sched_host_locks++;
}

static inline void host_unlock(pthread_mutex_t *mutex)
{
    sched_host_locks--;
    if (pthread_mutex_unlock(mutex) != 0)
        abort();
}

/* controlled: one thread at a time, as strategy_begin decided for this boot. */
void sched_boot(bool controlled);
void sched_shutdown(void);
/* Lock held: a new simulated thread can run (adoption, PsCreateSystemThread). */
void sched_thread_started(struct _KTHREAD *thread);
/* Controlled mode, no lock held: a new thread's first act is to wait for its first turn. */
void sched_thread_begin(struct _KTHREAD *self);
/* Lock held: a simulated thread is gone for good. */
void sched_thread_ended(struct _KTHREAD *thread);
/* Lock held: block the calling thread until its wait ends; time may move meanwhile. */
void sched_block(struct _KTHREAD *self);
/* Lock held: a blocked thread's wait ended; it can run again. */
void sched_ready(struct _KTHREAD *thread);
/* Controlled mode: a voluntary scheduling point of the calling thread (see above). */
void sched_point(struct _KTHREAD *self, enum sched_point_kind kind, const void *where);
/* Controlled mode, after the dispatcher lock is dropped: a point if the thread readied another. */
void sched_after_unlock(void);
/* Controlled mode, no lock held: the calling thread found lock held by another thread: the turn
 * goes to others until the lock is free. */
void sched_spin_wait(struct _KTHREAD *self, PKSPIN_LOCK lock);
/* Lock held: a wait or timer with a deadline appeared (the real clock's timer thread re-arms). */
void sched_deadline_added(void);
/* Boot's last step, by the booting thread: returns once every thread the boot started is idle in
 * its first wait (a host thread still starting may hold an allocator lock a fork would inherit). */
void sched_wait_boot_idle(void);
size_t sched_runnable(void);

/* ---- strategy.c: who gets the turn in controlled mode, the decision log, replay tokens ---- */

#define STRATEGY_MAX_CHECKPOINTS 40
#define STRATEGY_MAX_FORCED 16
#define STRATEGY_MAX_MARKS 240

/* dfs: a decision that is not the default one (the current thread if it can go on, else the
 * first in creation order): at decision `step`, candidate `choice`. */
struct strategy_forced {
    unsigned long long step;
    unsigned choice;
};

struct strategy_plan {
    enum { STRATEGY_FREE, STRATEGY_RANDOM, STRATEGY_PCT, STRATEGY_DFS } kind;
    unsigned depth;                 /* pct: the bug depth d (d - 1 priority change points); dfs: the
                                     * most preemptions a schedule may have */
    unsigned long long seed;
    unsigned long long length;      /* pct: the expected number of decisions k */
    unsigned long long max_steps;   /* more decisions than this: a livelock */
    bool replay;                    /* the schedule must match what follows */
    unsigned long long expect_steps;
    unsigned long long expect_digest;
    unsigned checkpoints;
    unsigned short checkpoint[STRATEGY_MAX_CHECKPOINTS];
    unsigned forced_count;          /* dfs: the schedule, as its decisions off the default */
    struct strategy_forced forced[STRATEGY_MAX_FORCED];
    unsigned marks;                 /* the marks of the token's decisions, in groups of mark_group */
    unsigned long long mark_group;
    unsigned char mark[STRATEGY_MAX_MARKS];
};

/* What a schedule made, for reports and for the parent of a forked schedule. */
struct strategy_summary {
    int controlled;
    unsigned long long seed;
    unsigned long long steps;
    char strategy[32];
    char token[256];
    char decisions[6144];           /* the last 50 decisions, a line each */
};

/* Parses random:SEED, pct:D:SEED[:K] or replay:TOKEN; false, with the reason in error, if spec is
 * none of them or (replay) a token of another build. */
bool strategy_parse(const char *spec, struct strategy_plan *plan, char *error, size_t size);
/* dfs, after a kernel ran plan's schedule: the next schedule in depth-first order with at most
 * plan->depth preemptions (the deepest decision with an alternative left); false when every one
 * has run. */
bool strategy_dfs_next(struct strategy_plan *plan);
/* The same for wdmsim_explore's strategies: random, pct:D, dfs:P (seeds come separately), or
 * replay:TOKEN. */
bool strategy_parse_kind(const char *spec, struct strategy_plan *plan, char *error, size_t size);
/* The plan of every kernel booted from now on, ahead of WDMSIM_SCHED and the boot's config: what
 * wdmsim_explore's children run. */
void strategy_override(const struct strategy_plan *plan);
/* At boot: the plan this kernel runs (override, else spec, else WDMSIM_SCHED; "free": none); a bad
 * one ends the program with status 2 and the reason. Starts its decisions afresh; true when the
 * kernel runs controlled. */
bool strategy_begin(const char *spec);
/* Lock held: a thread joins the schedule (pct gives it a random priority). */
void strategy_thread_added(struct _KTHREAD *thread);
/* Lock held: the decision at a scheduling point: the index of the candidate (count >= 1, in
 * creation order) that gets the turn. current made the point. */
size_t strategy_pick(struct _KTHREAD *const *candidates, size_t count, const struct _KTHREAD *current,
                     enum sched_point_kind kind, const void *where);
/* How many decisions this kernel's schedule has made. */
unsigned long long strategy_steps(void);
/* At a kernel's end: a replay that made fewer decisions than its token, or others, has diverged. */
void strategy_finish(void);
void strategy_summarize(struct strategy_summary *summary);
/* The summary of a schedule of plan whose process ended without one: an unchecked token. */
void strategy_summarize_plan(const struct strategy_plan *plan, struct strategy_summary *summary);
/* Writes what a failing schedule prints: seed, token, the command that replays it, decisions. */
void strategy_print_failure(FILE *out, const struct strategy_summary *summary);

/* ---- hash.c: growable hash tables (linear hashing), owned and locked by their users ---- */

/* Embedded in an entry; the table chains entries through it. */
struct hash_link {
    struct hash_link *next;
    uint64_t signature;             /* the entry's hash, kept for splits and quick compares */
};

struct hash_table {
    struct hash_link **buckets;
    size_t capacity;                /* buckets allocated */
    size_t low_mask;                /* buckets before this round of splits, minus one */
    size_t split;                   /* the next bucket to split */
    size_t count;                   /* entries */
};

void hash_init(struct hash_table *table);
/* Frees the buckets; the entries are the owner's. */
void hash_destroy(struct hash_table *table);
void hash_insert(struct hash_table *table, struct hash_link *link, uint64_t signature);
/* link must be in the table. */
void hash_remove(struct hash_table *table, struct hash_link *link);
/* The first entry with this signature, then the next: the caller compares its own keys. */
struct hash_link *hash_first(const struct hash_table *table, uint64_t signature);
struct hash_link *hash_next(const struct hash_link *link);
/* Every entry, bucket by bucket: index < hash_bucket_count; the table must not change meanwhile. */
size_t hash_bucket_count(const struct hash_table *table);
struct hash_link *hash_bucket(const struct hash_table *table, size_t index);
/* Empties the table: every entry, chained through next, for the owner to free. */
struct hash_link *hash_drain(struct hash_table *table);
uint64_t hash_mix(uint64_t value);
uint64_t hash_pointer(const void *pointer);
uint64_t hash_bytes(const void *bytes, size_t size);

#define HASH_ENTRY(link, type, member) ((type *)((char *)(link) - offsetof(type, member)))

/* ---- irql.c ---- */

static inline KIRQL irql_current(void)
{
    return thread_current_quiet()->irql;
}

const char *irql_name(KIRQL irql);
/* Moves the current thread to irql without the raise/lower rules: for the kernel's own use. */
void irql_set(KIRQL irql);

/* ---- rules.c: the rule catalog ---- */

enum rule_kind {
    RULE_IRQL_AT_MOST,      /* the DDI needs IRQL <= irql */
    RULE_IRQL_AT_LEAST,     /* the DDI needs IRQL >= irql */
    RULE_IRQL_EXACTLY,      /* the DDI needs IRQL == irql */
    RULE_STATE,             /* a condition the component checks itself */
    RULE_UNHANDLED_EXCEPTION, /* the DDI raises an exception nobody handles: 0x1E, or 0x7E in a
                                 system thread; the subcode is the NTSTATUS raised */
    RULE_WARNING,           /* a guideline: breaking it warns (rule_warn), the machine goes on */
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
    RULE_POOL_FREE_ACTIVE_TIMER,
    RULE_POOL_FREE_QUEUED_DPC,
    RULE_DISPATCHER_UNINITIALIZED,
    RULE_KE_ABOVE_DISPATCH,
    RULE_WAIT_ABOVE_DISPATCH,
    RULE_WAIT_AT_DISPATCH_FOREVER,
    RULE_WAIT_AT_DISPATCH_WITH_TIMEOUT,
    RULE_WAIT_IN_DPC,
    RULE_WAIT_TOO_MANY_OBJECTS,
    RULE_SET_EVENT_ABOVE_DISPATCH,
    RULE_WAIT_TRUE_ABOVE_APC,
    RULE_DEADLOCK,
    RULE_LIVELOCK,
    RULE_MUTEX_RELEASE_NOT_OWNER,
    RULE_MUTEX_RECURSION_LIMIT,
    RULE_MUTEX_HELD_AT_THREAD_EXIT,
    RULE_FAST_MUTEX_ACQUIRE_ABOVE_APC,
    RULE_FAST_MUTEX_RELEASE_NOT_AT_APC,
    RULE_FAST_MUTEX_RECURSIVE,
    RULE_FAST_MUTEX_RELEASE_NOT_OWNER,
    RULE_SEMAPHORE_LIMIT_EXCEEDED,
    RULE_DPC_CHANGED_IRQL,
    RULE_PS_NOT_PASSIVE,
    RULE_PS_LOOKUP_ABOVE_APC,
    RULE_OB_NOT_PASSIVE,
    RULE_ZW_NOT_PASSIVE,
    RULE_OB_NOT_AN_OBJECT,
    RULE_HANDLE_USER_AS_KERNEL,
    RULE_OB_COUNT_ZERO,
    RULE_WORKER_RETURNED_AT_BAD_IRQL,
    RULE_WORKER_RETURNED_WITH_APCS_DISABLED,
    RULE_WORK_ITEM_QUEUED_TWICE,
    RULE_WORKER_THREAD_TERMINATED,
    RULE_IO_NOT_AN_IRP,
    RULE_IO_IRP_COMPLETED_TWICE,
    RULE_IO_NOT_A_DEVICE,
    RULE_IO_DEVICE_DELETED_TWICE,
    RULE_IO_ABOVE_APC,
    RULE_IO_NOT_PASSIVE,
    RULE_IO_CALL_ABOVE_DISPATCH,
    RULE_IO_NO_MORE_STACK_LOCATIONS,
    RULE_IO_DISPATCH_CHANGED_IRQL,
    RULE_IO_DISPATCH_HELD_SPIN_LOCK,
    RULE_IO_DISPATCH_HELD_MUTEX,
    RULE_IO_PENDING_NOT_MARKED,
    RULE_IO_COMPLETE_ABOVE_DISPATCH,
    RULE_IO_COMPLETE_PENDING_STATUS,
    RULE_IO_COMPLETE_WITH_CANCEL_ROUTINE,
    RULE_DRIVER_LEFT_PENDING_OPERATIONS,
    RULE_DRIVER_LEFT_POOL,
    RULE_DRIVER_LEFT_REFERENCES,
    RULE_DRIVER_INIT_TOUCHED,
    RULE_DRIVER_INIT_TOUCHED_AT_DISPATCH,
    RULE_ZW_FILE_NOT_PASSIVE,
    RULE_IO_DISPATCH_NOT_COMPLETED,
    RULE_IO_WORK_ITEM_ABOVE_DISPATCH,
    RULE_IO_WORK_ITEM_FREED_QUEUED,
    RULE_PROCESS_ATTACH_IN_DPC,
    RULE_PROCESS_ATTACH_ABOVE_APC,
    RULE_PROCESS_ATTACH_NOT_A_PROCESS,
    RULE_PROCESS_DETACH_ABOVE_APC,
    RULE_PROCESS_DETACH_NOT_ATTACHED,
    RULE_PROCESS_DETACH_OUT_OF_ORDER,
    RULE_PROCESS_ATTACHED_AT_THREAD_EXIT,
    RULE_CRASH_ACCESS_VIOLATION,
    RULE_CRASH_PAGE_FAULT,
    RULE_CRASH_PAGE_FAULT_AT_DISPATCH,
    RULE_CRASH_ILLEGAL_INSTRUCTION,
    RULE_CRASH_INTEGER_DIVIDE_BY_ZERO,
    RULE_CRASH_INTEGER_OVERFLOW,
    RULE_CRASH_FLOAT,
    RULE_CRASH_IN_PAGE_ERROR,
    RULE_CRASH_STACK_OVERFLOW,
    RULE_DEBUG_ASSERTION_FAILED,
    RULE_DEBUG_BREAKPOINT,
    RULE_DEBUG_UNICODE_ABOVE_PASSIVE,
    RULE_PAGED_CODE_ABOVE_APC,
    RULE_CRITICAL_REGION_ENTER_ABOVE_APC,
    RULE_CRITICAL_REGION_LEAVE_ABOVE_APC,
    RULE_CRITICAL_REGION_UNBALANCED,
    RULE_GUARDED_REGION_ABOVE_APC,
    RULE_GUARDED_REGION_UNBALANCED,
    RULE_REGION_HELD_AT_THREAD_EXIT,
    RULE_RESOURCE_ACQUIRE_ABOVE_APC,
    RULE_RESOURCE_APCS_ENABLED,
    RULE_RESOURCE_NOT_INITIALIZED,
    RULE_RESOURCE_MISALIGNED,
    RULE_RESOURCE_INITIALIZED_TWICE,
    RULE_RESOURCE_DELETE_UNINITIALIZED,
    RULE_RESOURCE_DELETED_IN_USE,
    RULE_RESOURCE_RELEASE_NOT_OWNED,
    RULE_RESOURCE_EXCLUSIVE_WHILE_SHARED,
    RULE_RESOURCE_HELD_AT_THREAD_EXIT,
    RULE_RESOURCE_FREED_ACTIVE,
    RULE_POOL_RAISED_FAILURE,
    RULE_SLIST_MISALIGNED,
    RULE_LOOKASIDE_PAGED_ABOVE_APC,
    RULE_LOOKASIDE_NOT_INITIALIZED,
    RULE_LOOKASIDE_FREED_ACTIVE,
    RULE_FAST_MUTEX_UNSAFE_APCS_ENABLED,
    RULE_FAST_MUTEX_UNSAFE_RELEASE_APCS_ENABLED,
    RULE_RTL_STRING_NOT_PASSIVE,
    RULE_RTL_HASH_ABOVE_APC,
    RULE_STRSAFE_UNICODE_ABOVE_PASSIVE,
    RULE_DPC_TARGET_NOT_A_PROCESSOR,
    RULE_LOCK_ORDER_CYCLE,
    RULE_LOCK_RELEASE_OUT_OF_ORDER,
    RULE_LOCK_HELD_AT_THREAD_EXIT,
    RULE_LOCK_FREED_HELD,
    RULE_NULL_ARGUMENT,
    RULE_NULL_ARGUMENT_AT_DISPATCH,
    RULE_DRIVER_UNLOADED_IMAGE_TOUCHED,
    RULE_DEVQUEUE_NOT_AT_DISPATCH,
    RULE_IO_START_PACKET_ABOVE_DISPATCH,
    RULE_IO_NO_START_IO,
    RULE_IO_COMPLETE_QUEUED_IRP,
    RULE_IRP_ABOVE_DISPATCH,
    RULE_IRP_BUILD_NOT_PASSIVE,
    RULE_IRP_FREE_NOT_AN_IRP,
    RULE_IRP_FREE_IN_USE,
    RULE_IRP_FREE_THREADED,
    RULE_IOTIMER_NOT_PASSIVE,
    RULE_IOTIMER_INITIALIZED_TWICE,
    RULE_IOTIMER_ABOVE_DISPATCH,
    RULE_IOTIMER_NOT_INITIALIZED,
    RULE_REMOVE_LOCK_ABOVE_DISPATCH,
    RULE_REMOVE_LOCK_RELEASE_NOT_ACQUIRED,
    RULE_REMOVE_LOCK_RELEASED_TOO_OFTEN,
    RULE_CSQ_ABOVE_DISPATCH,
    RULE_IO_DEVICE_POINTER_NOT_PASSIVE,
    RULE_ZW_REGISTRY_NOT_PASSIVE,
    RULE_REGISTRY_NULL_POINTER,
    RULE_ZW_MALFORMED_UNICODE_STRING,
    RULE_PNP_NOT_A_PDO,
    RULE_ERRORLOG_ABOVE_DISPATCH,
    RULE_ERRORLOG_NOT_AN_ENTRY,
    RULE_IO_DISPATCH_WAIT_WITH_TIMEOUT,
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
/* The same, with a detail text that may be longer than rule_stop_detail's buffer. */
SIM_NORETURN void rule_stop_text(enum rule_id id, ULONG_PTR a, ULONG_PTR b, ULONG_PTR c, ULONG_PTR d,
                                 const char *detail);
/* The catalog itself (rules.c), for the inline IRQL checks below, which every DDI makes. */
extern const struct rule rule_catalog[RULE_COUNT];

/* Whether irql satisfies an IRQL rule's row: for a path that checks first and stops later. */
static inline bool rule_irql_ok(enum rule_id id, KIRQL irql)
{
    const struct rule *rule = &rule_catalog[id];

    switch (rule->kind) {
    case RULE_IRQL_AT_MOST:
        return irql <= rule->irql;
    case RULE_IRQL_AT_LEAST:
        return irql >= rule->irql;
    case RULE_IRQL_EXACTLY:
        return irql == rule->irql;
    case RULE_STATE:
    case RULE_UNHANDLED_EXCEPTION:
    case RULE_WARNING:
        break;
    }
    return true;
}

/* The entry check of an IRQL rule: stops unless the current IRQL satisfies the row. */
static inline void rule_check_irql(enum rule_id id, ULONG_PTR a, ULONG_PTR b, ULONG_PTR c, ULONG_PTR d)
{
    if (__builtin_expect(!rule_irql_ok(id, irql_current()), 0))
        rule_stop(id, a, b, c, d);
}

/* A warning rule (severity WDMSIM_RULE_WARNS) is broken: one line on stderr, "wdmsim: warning: ID:
 * text", counted and told to the observers; when warnings are fatal (wdmsim_warnings_fatal,
 * WDMSIM_WARNINGS=fatal) the machine stops on the rule instead, with text as the detail. */
void rule_warn(enum rule_id id, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Told of every warning (registered before main with RULE_WARNING_OBSERVER: the timeline). */
struct rule_warning_observer {
    void (*warned)(const struct rule *rule, const char *text);
    struct rule_warning_observer *next;
};
void rule_warning_observer_register(struct rule_warning_observer *observer);
#define RULE_WARNING_OBSERVER(observer)                                                            \
    __attribute__((constructor)) static void observer##_register(void)                            \
    {                                                                                              \
        rule_warning_observer_register(&observer);                                                 \
    }

/* Windows maps nothing in the first 64 KB: a pointer there is NULL, or a field of a NULL record. */
#define RULE_NULL_REGION 0x10000u
/* Operations a pointer argument is used for, as a page fault's bug check codes them. */
#define RULE_READS 0u
#define RULE_WRITES 1u
#define RULE_RUNS 8u
/* A pointer argument the DDI would use at once is in the first 64 KB: the STOP of the fault Windows
 * would take inside the DDI (0x1E or 0x7E, 0xD1 at DISPATCH_LEVEL and above), raised before it,
 * naming the DDI, the argument and how to fix it (fix may be NULL: the catalog's). caller is the
 * DDI's return address, the instruction the report blames. */
SIM_NORETURN void rule_stop_null_argument(const char *ddi, const char *argument, uintptr_t pointer,
                                          ULONG_PTR operation, const void *caller, const char *fix);

/* The pointer is passed as a number: a const pointer parameter makes GCC take the call for a read
 * of what it points at (an out parameter not yet written, "may be used uninitialized"). */
static inline void rule_check_pointer(uintptr_t pointer, const char *ddi, const char *argument,
                                      ULONG_PTR operation, const void *caller)
{
    if (pointer < RULE_NULL_REGION)
        rule_stop_null_argument(ddi, argument, pointer, operation, caller, NULL);
}

/* In a DDI: its pointer argument (an expression of its parameters, named as written) is checked. */
#define RULE_CHECK_ARGUMENT(argument, operation)                                                    \
    rule_check_pointer((uintptr_t)(argument), __func__, #argument, (operation), __builtin_return_address(0))

/* A system service's pointer argument: an application's (previous mode UserMode) is probed, and a
 * bad one makes the service return STATUS_ACCESS_VIOLATION, as its exception handler does (false);
 * a kernel-mode caller's is used at once, and a NULL one is the fault (ddi.null_argument). */
static inline bool rule_probe_pointer(uintptr_t pointer, const char *ddi, const char *argument, ULONG_PTR operation,
                                      const void *caller)
{
    if (pointer >= RULE_NULL_REGION)
        return true;
    if (thread_previous_mode() == UserMode)
        return false;
    rule_stop_null_argument(ddi, argument, pointer, operation, caller, NULL);
}

#define RULE_PROBE_ARGUMENT(argument, operation)                                                    \
    rule_probe_pointer((uintptr_t)(argument), __func__, #argument, (operation), __builtin_return_address(0))

/* ---- symbolize.c ---- */

/* "function+0xoffset (object) at file:line" for the code address pc (a return address: lookup is
 * pc - 1, the call), as far as the object's symbols and line table tell; dladdr's answer when
 * they tell nothing. */
void symbolize(const void *pc, const void *lookup, char *out, size_t size);
/* Before forking children that may stop: read the program's index once, for all of them. */
void symbolize_prepare(void);
/* The report is made inside a signal handler (a stack overflow's): from now on, dladdr's names
 * only, since libdw allocates and a sanitizer's allocator may be locked by the interrupted code. */
void symbolize_from_signal_handler(void);

/* ---- format.c: the kernel's printf (DbgPrint, ntstrsafe) ---- */

struct format_out {
    void *buf;                      /* char units, or WCHAR units when wide */
    size_t size;                    /* in units, the terminator included; at least 1 */
    size_t used;                    /* units written so far, before the terminator */
    bool wide;
    bool truncated;                 /* something did not fit */
};
/* Formats format (WCHAR units when wide_format) with ap into out, after what it holds, cutting off
 * at its end and terminating it. Text whose width differs from the output's is converted, and
 * conversion_rule (RULE_COUNT: none) checks the IRQL first. */
void format_v(struct format_out *out, const void *format, bool wide_format, enum rule_id conversion_rule,
              va_list *ap);

/* ---- rtl.c ---- */

/* The simulator's ANSI code page: Latin-1, the letters of Windows-1252; others become '?'. */
char rtl_ansi_char(WCHAR c);
WCHAR rtl_wide_char(char c);

/* ---- bugcheck.c ---- */

/* What a forked child (wdmsim_run_expecting_stop, wdmsim_explore) sends its parent. */
struct bugcheck_record {
    enum { BUGCHECK_RECORD_RETURNED, BUGCHECK_RECORD_STOP, BUGCHECK_RECORD_EXHAUSTED } kind;
    size_t leaks;                   /* what the kernel's shutdown found, when the child ran one */
    int exit_status;                /* the parent's note: the child exited so, with no record */
    bool sanitizer;                 /* a sanitizer reported an error and ended the child */
    unsigned long long steps;       /* the schedule's decisions */
    /* Sent only when something failed (bugcheck_record_failed): a passing schedule's record ends
     * here, which keeps the 15 KB of text below off the pipe. */
    struct wdmsim_stop stop;
    struct strategy_summary schedule;
};

/* The child ended by this signal without a STOP: the stop's signal and the line its report is. */
void bugcheck_note_signal(struct wdmsim_stop *stop, int signal_number);
/* A record that carries a failure, and so its report and summary. */
bool bugcheck_record_failed(const struct bugcheck_record *record);
/* Reads one record as bugcheck_write_record sent it; false at the end of the pipe. */
bool bugcheck_read_record(int fd, struct bugcheck_record *record);

/* Forks a child that forgets the parent's kernel, sends STOP records to the pipe whose write end
 * it gets, and runs body(that fd, context), then ends. Returns the child; *read_fd is the pipe's
 * read end. */
pid_t bugcheck_fork(void (*body)(int fd, void *context), void *context, int *read_fd);
/* Waits for a child to end; the signal that killed it, or 0 and its *exit_status. */
int bugcheck_wait_child(pid_t child, int *exit_status);
void bugcheck_write_record(int fd, const struct bugcheck_record *record);
/* Reads up to size bytes (fewer only at the end of the pipe); how many it got. */
size_t bugcheck_read_all(int fd, void *data, size_t size);

/* A return address as a backtrace line names it: "symbol+0xoffset (object) at file:line". */
void bugcheck_name_frame(const void *frame, char *buf, size_t size);
/* The next STOP on this thread starts its backtrace at the frame of this instruction (a crash's). */
void bugcheck_backtrace_from(const void *ip);
/* The STOP about to be raised on this thread is about a routine of driver (a dispatch routine that
 * broke an IRP rule, run from another driver's or the host's thread): the report names both. */
void bugcheck_blame(const struct sim_driver *driver, const void *routine);
/* detail: NULL, or one line saying what exactly happened (which thread owns the lock ...). */
SIM_NORETURN void bugcheck_stop(ULONG code, const ULONG_PTR params[4], const struct rule *rule,
                                const char *detail);
const char *bugcheck_code_name(ULONG code);
/* A code address as "function+0xoffset" ("function" at its start; "(file+0xoffset)" for a static one). */
void bugcheck_describe_code(const void *where, char *buf, size_t size);
/* Told of every STOP once its report is built, before the report goes out (registered before main,
 * with BUGCHECK_STOP_OBSERVER, by a component bugcheck.c must not name: the timeline). */
struct bugcheck_stop_observer {
    void (*stopping)(const struct wdmsim_stop *stop);
    struct bugcheck_stop_observer *next;
};
void bugcheck_stop_observer_register(struct bugcheck_stop_observer *observer);
#define BUGCHECK_STOP_OBSERVER(observer)                                                           \
    __attribute__((constructor)) static void observer##_register(void)                            \
    {                                                                                              \
        bugcheck_stop_observer_register(&observer);                                                \
    }

/* ---- crash.c: faults of simulated threads become STOPs ---- */

/* A fault of a simulated thread, as its signal reported it. */
struct crash_fault {
    int signal_number;
    int code;                       /* si_code */
    uintptr_t address;              /* si_addr */
    uintptr_t ip;                   /* the faulting instruction */
    ULONG_PTR error;                /* the x86-64 page fault error code */
};

/* At boot: the handlers of SIGSEGV, SIGBUS, SIGILL and SIGFPE (the actions before are kept). */
void crash_boot(void);
/* A thread becomes simulated: its alternate signal stack, once per host thread. */
void crash_thread_enter(void);
/* A component that knows some faults better (a driver's discarded INIT section) registers a claim
 * once: on the faulting thread, outside the signal handler, it stops the machine with its own rule
 * or returns to leave the fault to the generic ones. */
void crash_register_claim(void (*claim)(const struct crash_fault *fault));
/* The operation code a page-fault bug check carries: 0 for a read, else write or execute. */
ULONG_PTR crash_operation(const struct crash_fault *fault, ULONG_PTR write, ULONG_PTR execute);

/* ---- spinlock.c ---- */

/* One step of a busy wait: tells the processor so (a sibling hyperthread runs meanwhile). */
static inline void spinlock_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/* Take and drop a KSPIN_LOCK with owner checks but no IRQL change (the caller manages IRQL). */
void spinlock_acquire(PKSPIN_LOCK lock, struct _KTHREAD *self);
void spinlock_release(PKSPIN_LOCK lock, struct _KTHREAD *self);

/* ---- lockorder.c (the types are above struct _KTHREAD) ---- */

/* Forgets the last boot's classes and order; reads WDMSIM_LOCK_ORDER (0 or off: no checking). */
void lockorder_boot(void);
/* An initialiser DDI ran: the lock's class is the driver code that called it (site). A
 * SynchronizationEvent stands for the FAST_MUTEX around it, since ExInitializeFastMutex is inline. */
void lockorder_init(const void *lock, enum lockorder_kind kind, const void *site);
void lockorder_init_event(const PRKEVENT event, const void *site);
/* The lock is gone (ExDeleteResourceLite): its record goes. */
void lockorder_forget(const void *lock);
/* self takes lock: an edge from each lock it holds (a cycle stops the machine with 0xC4/0x1001),
 * then the lock joins its stack. Spin locks and fast mutexes call it before waiting for the lock;
 * KMUTEXes and ERESOURCEs once they hold it. A try-acquire that succeeded never waited: its lock
 * joins the stack without edges (lockorder_try_acquired). */
void lockorder_acquire(struct _KTHREAD *self, const void *lock, enum lockorder_kind kind, const void *site);
void lockorder_try_acquired(struct _KTHREAD *self, const void *lock, enum lockorder_kind kind, const void *site);
/* After KeWaitForSingleObject/KeWaitForMultipleObjects: the mutexes the wait made self own. */
void lockorder_waited(struct _KTHREAD *self, ULONG count, PVOID objects[], WAIT_TYPE type, NTSTATUS status,
                      const void *site);
/* self releases lock: it leaves the stack (a lock not on it is left to the kind's own checks). */
void lockorder_release(struct _KTHREAD *self, const void *lock);
/* The same for a release that restores an IRQL saved at the acquire (KeReleaseSpinLock,
 * ExReleaseFastMutex): lowering below what a lock taken later still needs stops with 0xC4/0x1003. */
void lockorder_release_lowering(struct _KTHREAD *self, const void *lock, KIRQL new_irql);

/* ---- pool.c ---- */

void pool_boot(void);
/* Memory about to be freed (a pool block, or memory the kernel frees itself, such as a deleted
 * device and its extension) must hold no live kernel object: each registered check stops the
 * machine if it holds one of its family's (a set timer, a queued DPC, an ERESOURCE). */
void pool_check_free_range(ULONG_PTR address, size_t size, POOL_TYPE type);

struct pool_free_check {
    void (*check)(ULONG_PTR address, size_t size, POOL_TYPE type);
    /* How many things of its family exist for check to look for: while it is 0 the check could find
     * nothing, and a free may skip it (read with acquire before the free looks its block up). */
    const atomic_size_t *watched;
    struct pool_free_check *next;
};

/* Before main (single-threaded): adds a check to every later free. */
void pool_free_check_register(struct pool_free_check *check);
#define POOL_FREE_CHECK(check)                                                                     \
    __attribute__((constructor)) static void check##_register(void)                               \
    {                                                                                              \
        pool_free_check_register(&check);                                                          \
    }
/* Frees every block still allocated and returns how many there were. */
size_t pool_shutdown(void);

/* ---- event.c ---- */

/* Lock held: signal an event and satisfy its waiters; returns the previous state. */
LONG event_signal_locked(PRKEVENT event);

/* ---- timer.c ---- */

void timer_boot(void);
/* Lock held: the earliest due time of a set timer (interrupt time), or DISP_NO_DEADLINE. */
LONGLONG timer_next_due(void);
/* Lock held: fire every timer due at or before now: signal, re-arm if periodic, queue its DPC. */
void timer_expire(LONGLONG now);

/* ---- dpc.c ---- */

void dpc_boot(void);
void dpc_shutdown(void);
/* Lock held: queue a DPC unless it is queued already. */
void dpc_queue_locked(PKDPC dpc, PVOID argument1, PVOID argument2);
/* The index of the driver that initialised dpc (KDPC.Number carries its target processor too). */
USHORT dpc_driver_index(const KDPC *dpc);

/* ---- workitem.c: system worker threads ---- */

void workitem_boot(void);
void workitem_shutdown(void);
/* ExQueueWorkItem for the I/O manager (IoQueueWorkItem): the item is charged to no driver, its
 * routine charges the device's driver itself. */
void workitem_queue_for_io(PWORK_QUEUE_ITEM item, WORK_QUEUE_TYPE type);

/* ---- rtl.c: counted strings ---- */

/* A character as the NLS upcase table maps it (ASCII and Latin-1): how names compare. */
WCHAR rtl_upcase(WCHAR c);

/* ---- registry.c: the configuration manager ---- */

/* A fresh registry with the machine's keys (Services, Control\Class, Enum\ROOT, ...). */
void registry_boot(void);
/* After the object manager's shutdown: frees every key, and the opens nobody closed. */
void registry_shutdown(void);
/* By narrow path ("\Registry\Machine\..."), for the I/O manager and the host: makes the key with
 * every missing key on its way (STATUS_OBJECT_NAME_INVALID for a path it cannot make). */
NTSTATUS registry_create_path(const char *path);
/* The same, then a kernel handle to it for the calling thread's driver (IoOpenDeviceRegistryKey). */
NTSTATUS registry_open_path(const char *path, ACCESS_MASK access, PHANDLE handle);
/* Sets a value of the key at path (made if needed); only_if_missing keeps a value already there. */
NTSTATUS registry_set(const char *path, const char *name, ULONG type, const void *data, ULONG length,
                      bool only_if_missing);
/* Reads a value: STATUS_OBJECT_NAME_NOT_FOUND, or STATUS_BUFFER_OVERFLOW with *length the size
 * it needs when size is too small (what fits is copied). */
NTSTATUS registry_get(const char *path, const char *name, PULONG type, void *data, ULONG size, PULONG length);

/* ---- errorlog.c: the I/O manager's error log ---- */

/* An empty log, no entries allocated. */
void errorlog_boot(void);
/* Frees the log and every entry still allocated (each was reported at its driver's unload). */
void errorlog_shutdown(void);

/* ---- namespace.c: \Device, \?? (\DosDevices), \BaseNamedObjects ---- */

enum ns_kind { NS_DEVICE, NS_SYMLINK, NS_EVENT };

void ns_boot(void);
void ns_shutdown(void);
/* Adds a name; link is the target name of a symbolic link (NULL otherwise). */
NTSTATUS ns_insert(PCUNICODE_STRING name, enum ns_kind kind, void *target, PCUNICODE_STRING link);
/* A symbolic link a driver makes with IoCreateSymbolicLink: owner is remembered for its unload. */
NTSTATUS ns_insert_link(PCUNICODE_STRING name, PCUNICODE_STRING link, const struct sim_driver *owner);
NTSTATUS ns_remove(PCUNICODE_STRING name, enum ns_kind kind);
/* Removes every name of a device or event (not the links that point at it). */
void ns_remove_target(void *target);
/* The device or event a name means, following symbolic links; NULL if none. */
void *ns_lookup(PCUNICODE_STRING name, enum ns_kind *kind);

/* ---- io.c: driver and device objects, IRPs ---- */

void io_boot(void);
/* A device's StartIo state, kept where Windows keeps it, beside the device (its DEVOBJ_EXTENSION's
 * StartIoFlags, StartIoCount, StartIoKey); startio.c's, under its lock. */
struct io_startio {
    KSPIN_LOCK lock;
    ULONG flags;                    /* IoSetStartIoAttributes' choices (atomic) */
    LONG depth;                     /* deferred StartIo: calls of it running now (at most one per thread) */
    bool next_requested;            /* deferred: an IoStartNextPacket(ByKey) to run once StartIo returns */
    bool next_by_key;
    bool next_cancelable;
    ULONG next_key;
};
struct io_startio *io_device_startio(PDEVICE_OBJECT device);
/* Registers what a family does when IoDeleteDevice deletes a device (before its memory can go). */
void io_register_delete_hook(void (*hook)(PDEVICE_OBJECT device));
/* A driver object is an object (type "Driver", charged to its driver): its driver's release drops
 * the kernel's reference, and the memory goes with the last one. */
PDRIVER_OBJECT io_driver_object_create(const struct sim_driver *driver);
void io_driver_object_release(PDRIVER_OBJECT object);
/* At shutdown, after the object manager has forgotten every object: frees the memory. */
void io_driver_object_free(PDRIVER_OBJECT object);
/* An open file or queued work item keeps a device (and so its driver) alive. */
void io_device_reference(PDEVICE_OBJECT device);
void io_device_release(PDEVICE_OBJECT device);
/* IoQueueWorkItem's hold on a device from queuing until its routine has returned: a reference, and
 * a count an unload waits on. */
void io_device_work_queued(PDEVICE_OBJECT device);
void io_device_work_done(PDEVICE_OBJECT device);
/* How many IoQueueWorkItem items of the driver's devices, deleted or not, are queued or running. */
LONG io_driver_work_items(PDRIVER_OBJECT driver);
/* The originator's side of an IRP: allocate, then free once io_irp_completed says it is done. */
PIRP io_irp_allocate(CCHAR stack_size);
bool io_irp_completed(PIRP irp);
/* Sends irp to the top of a device stack and waits for it; returns its final status (iosb filled).
 * A dispatch routine that returns neither STATUS_PENDING nor a completed IRP stops the machine. */
NTSTATUS io_irp_send(PDEVICE_OBJECT top, PIRP irp, PIO_STATUS_BLOCK iosb);
/* Sends irp without waiting: returns the dispatch routine's status. When that is STATUS_PENDING
 * and the IRP is still in progress, *handed_over is true and finish(context) runs once it is
 * complete, on the completing thread (iosb filled first); otherwise the IRP is complete and the
 * caller goes on with it as after io_irp_send. */
NTSTATUS io_irp_start(PDEVICE_OBJECT top, PIRP irp, PIO_STATUS_BLOCK iosb, void (*finish)(void *context),
                      void *context, bool *handed_over);
void io_irp_free(PIRP irp);
/* What IoFreeIrp finds at an address: an IRP of the I/O manager's making, one freed already, or
 * something else. */
enum io_irp_kind { IO_IRP_NONE, IO_IRP_FREED, IO_IRP_LIVE };
enum io_irp_kind io_irp_kind(PIRP irp);
/* A driver holds one of its stack locations now (it was sent and has not completed back up). */
bool io_irp_in_flight(PIRP irp);
/* A threaded driver-built IRP: done(irp) runs on the completing thread once it has completed. */
void io_irp_set_done(PIRP irp, void (*done)(PIRP irp));
/* IoReuseIrp's part: the IRP is no longer complete. */
void io_irp_reset(PIRP irp);
/* IoFreeIrp's: poisoned and kept a while, so a second free is recognised. */
void io_irp_retire(PIRP irp);
/* The driver whose dispatch routines serve device (NULL for none). */
const struct sim_driver *io_driver_of(PDEVICE_OBJECT device);
/* The device a name means, symbolic links followed, opened for a new file object: referenced and
 * counted until io_device_close. STATUS_OBJECT_NAME_NOT_FOUND, STATUS_OBJECT_TYPE_MISMATCH (a name
 * that is not a device), STATUS_NO_SUCH_DEVICE (initializing or deleted), STATUS_ACCESS_DENIED (an
 * exclusive device already open). */
NTSTATUS io_device_open(PCUNICODE_STRING name, PDEVICE_OBJECT *device);
void io_device_close(PDEVICE_OBJECT device);
/* The highest device attached above device (device itself when none is): where its IRPs go. */
PDEVICE_OBJECT io_device_top(PDEVICE_OBJECT device);
/* The name of the lowest named device of device's stack, from device up; NULL if none has one. */
PCUNICODE_STRING io_device_stack_name(PDEVICE_OBJECT device);

/* ---- object.c: the object manager (headers kept outside the bodies, keyed by address) ---- */

/* An object type: defined, with its procedures, by the component that owns the objects (as NT's
 * ObCreateObjectType takes them from its caller), and handed to object_create. The object manager
 * calls the procedures and names no type. Any procedure may be NULL. */
struct _OBJECT_TYPE {
    const char *name;                                   /* as the debugger's !object names it */
    void (*delete_procedure)(PVOID body);               /* the last reference: frees the body */
    void (*close_procedure)(PVOID body);                /* the last handle (NT's CloseProcedure) */
    /* A few words for reports ("thread system-1 (tid 8)"); false when there is nothing to say. */
    bool (*describe_procedure)(PVOID body, char *buf, size_t size);
    /* The dispatcher object a wait on a handle to body waits for (NT's default object). */
    PVOID (*wait_procedure)(PVOID body);
};

void object_boot(void);
/* Forgets every object (bodies stay with their components); returns how many still held
 * references a driver took, with one line each on stderr. */
size_t object_shutdown(void);
/* Makes body an object of type, charged to the current thread's driver. The kernel holds its
 * first reference (a system thread's own, while it runs) until object_release. */
void object_create(PVOID body, POBJECT_TYPE type);
/* Charges body to driver instead: the driver whose unload reports references left on it. */
void object_charge(PVOID body, const struct sim_driver *driver);
/* One more kernel reference, as a thread holds on its process; object_release drops it. Not a
 * driver's reference, so never a leak of one. */
void object_hold(PVOID body);
/* Drops the kernel's reference; the object is deleted if nothing else holds it. */
void object_release(PVOID body);
/* At shutdown: drops the kernel's reference of a body still in use, never deleting it. */
void object_abandon(PVOID body);
/* ObReferenceObject without the IRQL check: stops unless body is a live object. */
LONG_PTR object_reference(PVOID body);
/* A reference to body if it is a live object of type (any type for NULL), in one look-up; false
 * when it is not of type. Stops, as object_reference, when type is NULL and body is no object. */
bool object_reference_typed(PVOID body, POBJECT_TYPE type);
/* A reference to body; a body that is not an object yet (a host or service thread asked for by
 * NtCurrentThread()) becomes a borrowed one of type, which deletion never frees. */
void object_reference_or_borrow(PVOID body, POBJECT_TYPE type);
/* The handle count of a live object; the last close runs the type's close procedure, then
 * deletes an unreferenced object. */
void object_handle_opened(PVOID body);
void object_handle_closed(PVOID body);
/* How many handles a live object has (0 for a body that is no object). */
LONG_PTR object_handle_count(PVOID body);
/* The type of FILE_OBJECTs (Windows' IoFileObjectType, which wdm.h does not declare yet). */
extern POBJECT_TYPE object_file_type;
void file_boot(void);
/* The calling thread is ending: cancels the overlapped requests it made and waits for them. */
void file_thread_ending(struct _KTHREAD *self);
/* The type of a live object, or NULL. */
POBJECT_TYPE object_type_of(PVOID body);
/* What a wait on a handle to body waits for, from its type's wait procedure; NULL: nothing. */
PVOID object_wait_target(PVOID body);
/* "Thread object 0x... (thread system-1 (tid 42))", for reports; body must be a live object. */
void object_describe(PVOID body, char *buf, size_t size);

/* ---- deviface.c: device interfaces ---- */

void deviface_boot(void);
void deviface_shutdown(void);
/* A device is deleted: its interfaces are disabled and forgotten, as when PnP removes a device. */
void deviface_device_deleted(PDEVICE_OBJECT device);

/* ---- handle.c: handle tables ---- */

struct handle_table;

void handle_boot(void);
/* Empties every table, the kernel's and each process's; returns how many handles were left open,
 * with one line each on stderr. */
size_t handle_shutdown(void);
/* A new handle to object (its handle count goes up): in the kernel's table, with the top bit, for
 * OBJ_KERNEL_HANDLE; otherwise in the current (attached) process's table, which for System is the
 * kernel's table too, without the bit. Of the other attributes only OBJ_INHERIT stays with it. */
HANDLE handle_create(PVOID object, ACCESS_MASK access, ULONG attributes);
/* The lookup of every DDI that takes a handle (ObReferenceObjectByHandle's, without its IRQL
 * check): a new reference to the object in *object (NULL on failure), and optionally the handle's
 * attributes and access. NtCurrentThread()/NtCurrentProcess() mean the current thread and process;
 * a kernel handle needs KernelMode; any other resolves in the current process's table. A failure
 * is explained on stderr when another process holds that handle. */
NTSTATUS handle_reference(HANDLE handle, POBJECT_TYPE type, KPROCESSOR_MODE mode, PVOID *object,
                          POBJECT_HANDLE_INFORMATION info);
/* The kernel's table, which is the System process's. */
struct handle_table *handle_kernel_table(void);
/* A process's new, empty table, and its end. */
struct handle_table *handle_table_create(void);
void handle_table_free(struct handle_table *table);
/* Closes every handle in table through the close path (close procedures run on the calling
 * thread), with a line each on stderr naming `process` as the one that left it open; returns how
 * many there were. */
size_t handle_table_close_all(struct handle_table *table, const char *process);
/* Whether table holds handle as a handle without the top bit; if so, describes its object. */
bool handle_table_describe(struct handle_table *table, HANDLE handle, char *what, size_t size);

/* ---- process.c: processes, their handle tables, a thread's process context ---- */

/* Makes System (id 4, whose table is the kernel's); before any thread exists. */
void process_boot(void);
/* After the object manager's shutdown: frees every process; returns how many handles processes
 * left open when they ended (each was reported then), for the leak count. */
size_t process_shutdown(void);
PEPROCESS process_system(void);
/* The calling thread's current process: the one it attached to, else its own. */
PEPROCESS process_current(void);
struct handle_table *process_handle_table(PEPROCESS process);
/* "app.exe (id 1000)". Reads only what never changes, so any live or deleted process will do. */
void process_describe(PEPROCESS process, char *buf, size_t size);
/* The report's Process line: the current process and, when attached, the thread's own. */
void process_describe_context(const struct _KTHREAD *thread, char *buf, size_t size);
/* Which process other than `except` holds handle (without the top bit): its name and the object. */
bool process_find_handle_owner(HANDLE handle, PEPROCESS except, char *owner, size_t owner_size, char *what,
                               size_t what_size);
/* Calls fn, under the process lock, for the table of each live user process, with a label such
 * as "process app.exe (id 1000)". */
void process_for_each_table(void (*fn)(void *context, struct handle_table *table, const char *owner),
                            void *context);
/* A new thread will run in process: a user process is referenced until process_thread_ended
 * (its body outlives that, so the thread may still name it). */
void process_set_thread_owner(struct _KTHREAD *thread, PEPROCESS process);
void process_thread_ended(const struct _KTHREAD *thread);
/* The exit check: a thread that ends attached to another process stops the machine (0x5). */
void process_check_exit(const struct _KTHREAD *self);

/* ---- thread.c, system threads: the thread object type and shutdown ---- */

/* The delete procedure of thread objects: frees the KTHREAD of an ended PsCreateSystemThread thread. */
void thread_object_delete(PVOID body);
/* At shutdown: joins the host threads of ended system threads; those still running are left to
 * their host threads, unfreed. Returns how many still ran, with a line each on stderr. */
size_t thread_system_shutdown(void);

/* ---- processor.c: the processors ---- */

/* The simulated machine's processors, all in group 0. */
#define PROCESSOR_COUNT 4
/* A boot places threads from processor 0 again. */
void processor_boot(void);
/* The processor thread runs on (placing it on first use). */
unsigned processor_of(struct _KTHREAD *thread);
/* The DPC thread, around a DPC routine: runs on processor, and back. */
void processor_run_on(struct _KTHREAD *thread, unsigned processor);

/* ---- time.c: the one clock ---- */

void clock_boot(const struct wdmsim_config *config);
/* System time: 100 ns units since 1601-01-01 UTC. */
LONGLONG clock_system_time(void);
/* Time since boot in 100 ns units (never goes back). */
LONGLONG clock_since_boot(void);
/* The same, on the real clock to a few milliseconds only, for a fraction of the cost. */
LONGLONG clock_since_boot_coarse(void);
bool clock_is_virtual_mode(void);
/* Virtual clock: moves time since boot forward to since_boot (never back). */
void clock_advance_to(LONGLONG since_boot);
/* Real clock: busy-waits for ticks (100 ns units) of host time. */
void clock_spin_real(LONGLONG ticks);
/* A condition variable whose timed waits run on the clock clock_wait_until uses. */
void clock_cond_init(pthread_cond_t *cond);
/* Real clock: wait on cond until signalled or until time since boot reaches since_boot. */
void clock_wait_until(pthread_cond_t *cond, pthread_mutex_t *mutex, LONGLONG since_boot);
/* Host time, for the waits that must use it (the watchdog; a host thread joining a controlled
 * schedule): wait on cond (default clock), or for word to be set, at most ms milliseconds; false
 * when the time ran out. */
bool clock_host_wait_ms(pthread_cond_t *cond, pthread_mutex_t *mutex, unsigned ms);
bool clock_host_wait_word_ms(uint32_t *word, unsigned ms);
/* Host time in seconds, for progress lines and nothing the simulation decides. */
double clock_host_seconds(void);
/* The local time-zone bias in 100 ns units for a given system time (local = system - bias). */
LONGLONG clock_time_zone_bias(LONGLONG system_time);

#endif /* WDMSIM_INTERNAL_H */
