/*
 * thread.c - simulated threads (KTHREAD) and the adoption of host threads: a thread the simulator
 * did not create becomes a PASSIVE_LEVEL thread of the System process on its first DDI call.
 * Locking: registry_lock guards the registry list. A KTHREAD's wait state and header are under
 * the dispatcher lock; its other fields are touched only by its own thread.
 * Lock order: the dispatcher lock may be held when taking registry_lock, never the reverse.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "internal.h"

/* The base priority of an ordinary thread, as Windows gives a new thread. */
#define THREAD_DEFAULT_PRIORITY 8

__thread struct _KTHREAD *thread_tls_self;
__thread unsigned thread_tls_generation;

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct _KTHREAD *registry_head;

static atomic_uint system_thread_serial;    /* names PsCreateSystemThread threads */
/* Host threads of ended PsCreateSystemThread threads that nobody has joined yet: those that deleted
 * their own object on the way out. Under registry_lock. */
static struct host_thread *reap_list;
static size_t reap_count, reap_capacity;

static pthread_once_t exit_key_once = PTHREAD_ONCE_INIT;
static pthread_key_t exit_key;

static bool thread_unregister(struct _KTHREAD *thread)
{
    bool found = false;

    host_lock(&registry_lock);
    for (struct _KTHREAD **link = &registry_head; *link != NULL; link = &(*link)->next) {
        if (*link == thread) {
            *link = thread->next;
            found = true;
            break;
        }
    }
    host_unlock(&registry_lock);
    return found;
}

/* Written only before main (constructors), read-only after; sorted by order. */
static struct thread_exit_check *exit_checks;

void thread_exit_check_register(struct thread_exit_check *check)
{
    struct thread_exit_check **link = &exit_checks;

    while (*link != NULL && (*link)->order <= check->order)
        link = &(*link)->next;
    check->next = *link;
    *link = check;
}

/* Dispatcher lock held: what Windows checks when any thread ends; then the families' checks. */
static void thread_check_exit(struct _KTHREAD *self)
{
    process_check_exit(self);
    if (!IsListEmpty(&self->mutants_owned)) {
        PKMUTANT mutant = CONTAINING_RECORD(self->mutants_owned.Flink, KMUTANT, MutantListEntry);

        rule_stop_detail(RULE_MUTEX_HELD_AT_THREAD_EXIT, (ULONG_PTR)self, (ULONG_PTR)mutant, 0, 0,
                         "thread %s ends owning the mutex at %p", self->name, (void *)mutant);
    }
    for (const struct thread_exit_check *c = exit_checks; c != NULL; c = c->next)
        c->check(self);
}

/* A host thread ended: its thread object is signalled and it no longer counts as runnable,
 * unless a shutdown already dropped it with the rest of its kernel. */
static void thread_host_exit(void *value)
{
    struct _KTHREAD *thread = value;

    if (!thread_unregister(thread))
        return;
    /* No scheduling point: its creator may be in pthread_join for it, holding the turn. */
    disp_acquire();
    thread_check_exit(thread);
    thread->header.SignalState = 1;
    disp_wait_test(&thread->header);
    sched_thread_ended(thread);
    disp_release();
    pthread_cond_destroy(&thread->wake);
    free(thread);
}

static void thread_make_exit_key(void)
{
    if (pthread_key_create(&exit_key, thread_host_exit) != 0)
        abort();
}

struct _KTHREAD *thread_new(const char *name)
{
    struct _KTHREAD *t = calloc(1, sizeof *t);

    if (t == NULL)
        abort();
    disp_init_header(&t->header, DISP_THREAD, sizeof *t, 0);
    InitializeListHead(&t->mutants_owned);
    pthread_cond_init(&t->wake, NULL);
    t->irql = PASSIVE_LEVEL;
    t->priority = t->base_priority = THREAD_DEFAULT_PRIORITY;
    t->wait.deadline = DISP_NO_DEADLINE;
    t->process = t->current_process = process_system();
    snprintf(t->name, sizeof t->name, "%s", name);
    return t;
}

void thread_register(struct _KTHREAD *thread)
{
    host_lock(&registry_lock);
    thread->next = registry_head;
    registry_head = thread;
    host_unlock(&registry_lock);
    disp_lock();
    sched_thread_started(thread);
    disp_unlock();
}

void thread_set_current(struct _KTHREAD *thread)
{
    crash_thread_enter();
    thread_tls_self = thread;
    thread_tls_generation = kernel_generation();
}

static struct _KTHREAD *thread_adopt(void)
{
    long tid = (long)syscall(SYS_gettid);
    bool main_thread = tid == (long)getpid();
    struct _KTHREAD *t = thread_new("main");

    t->adopted = true;
    t->tid = tid;
    thread_register(t);
    /* After registering: a controlled schedule gives the thread an id of its own. */
    if (!main_thread)
        snprintf(t->name, sizeof t->name, "host-%ld", t->tid);

    pthread_once(&exit_key_once, thread_make_exit_key);
    pthread_setspecific(exit_key, t);
    thread_set_current(t);
    if (sched_is_controlled())
        sched_thread_begin(t);
    return t;
}

/* The first DDI of a host thread, or of any thread after a new boot: boot if needed, adopt. */
__attribute__((noinline)) struct _KTHREAD *thread_current_slow(void)
{
    kernel_ensure_booted();
    /* A boot adopts the thread that booted it: adopting it again would count it twice. */
    return thread_tls_self != NULL && thread_tls_generation == kernel_generation() ? thread_tls_self : thread_adopt();
}

/* Every DDI finds its thread here first: in controlled mode that makes it a scheduling point.
 * Never inlined: its return address is how a decision names the DDI it was made in. */
__attribute__((noinline)) struct _KTHREAD *thread_current(void)
{
    struct _KTHREAD *self = thread_current_quiet();

    if (__builtin_expect(sched_is_controlled(), 0))
        sched_point(self, SCHED_POINT_DDI, __builtin_return_address(0));
    return self;
}

/* An application's own code (host code on a thread of a user process) is UserMode; drivers' code,
 * dispatch routines running in that thread included, and everything in System are KernelMode. */
KPROCESSOR_MODE thread_previous_mode(void)
{
    const struct _KTHREAD *self = thread_current();

    return thread_charged(self) == NULL && !self->system && self->process != process_system() ? UserMode
                                                                                               : KernelMode;
}

struct _KTHREAD *thread_current_if_known(void)
{
    if (thread_tls_self != NULL && thread_tls_generation == kernel_generation() && wdmsim_is_booted())
        return thread_tls_self;
    return NULL;
}

void thread_boot(void)
{
    pthread_mutex_init(&registry_lock, NULL);
    registry_head = NULL;
    atomic_store(&system_thread_serial, 0);
    /* In a child made by fork() these are the parent's threads, which do not exist here. */
    reap_count = 0;
}

void thread_shutdown(void)
{
    struct _KTHREAD *t, *next;

    host_lock(&registry_lock);
    for (t = registry_head; t != NULL; t = next) {
        next = t->next;
        free(t);
    }
    registry_head = NULL;
    host_unlock(&registry_lock);
    thread_tls_self = NULL;
}

bool thread_name_of(ULONG_PTR candidate, char *buf, size_t size)
{
    bool found = false;

    host_lock(&registry_lock);
    for (struct _KTHREAD *t = registry_head; t != NULL && !found; t = t->next) {
        if ((ULONG_PTR)t == candidate) {
            snprintf(buf, size, "%s (tid %ld)", t->name, t->tid);
            found = true;
        }
    }
    host_unlock(&registry_lock);
    return found;
}

/* IRQL <= APC_LEVEL. A new reference to the running thread with this id, for ObDereferenceObject;
 * STATUS_INVALID_PARAMETER for an id no running thread has. */
NTSTATUS NTAPI PsLookupThreadByThreadId(HANDLE ThreadId, PETHREAD *Thread)
{
    struct _KTHREAD *found = NULL;

    rule_check_irql(RULE_PS_LOOKUP_ABOVE_APC, irql_current(), (ULONG_PTR)ThreadId, 0, 0);
    RULE_CHECK_ARGUMENT(Thread, RULE_WRITES);
    host_lock(&registry_lock);
    for (struct _KTHREAD *t = registry_head; t != NULL && found == NULL; t = t->next) {
        if ((ULONG_PTR)t->tid == (ULONG_PTR)ThreadId && !__atomic_load_n(&t->terminated, __ATOMIC_ACQUIRE))
            found = t;
    }
    /* Under the registry lock, so the thread cannot be freed first; a host thread the kernel
     * adopted becomes an object here, as NtCurrentThread() makes it one. */
    if (found != NULL)
        object_reference_or_borrow(found, *PsThreadType);
    host_unlock(&registry_lock);
    if (found == NULL)
        return STATUS_INVALID_PARAMETER;
    *Thread = (PETHREAD)found;
    return STATUS_SUCCESS;
}

void thread_for_each(void (*fn)(const struct _KTHREAD *thread, void *context), void *context)
{
    host_lock(&registry_lock);
    for (const struct _KTHREAD *t = registry_head; t != NULL; t = t->next)
        fn(t, context);
    host_unlock(&registry_lock);
}

bool thread_is_running(ULONG_PTR candidate)
{
    bool running = false;

    host_lock(&registry_lock);
    for (struct _KTHREAD *t = registry_head; t != NULL; t = t->next) {
        if ((ULONG_PTR)t == candidate) {
            running = !__atomic_load_n(&t->terminated, __ATOMIC_ACQUIRE);
            break;
        }
    }
    host_unlock(&registry_lock);
    return running;
}

static void *thread_host_main(void *arg)
{
    struct _KTHREAD *thread = arg;

    thread_set_current(thread);
    if (sched_is_controlled())
        sched_thread_begin(thread);
    else
        thread->tid = (long)syscall(SYS_gettid);
    thread->start(thread->start_context);
    thread_exit_current(STATUS_SUCCESS);
    return NULL;
}

void thread_spawn(struct _KTHREAD *thread, void (*fn)(void *), void *context)
{
    thread->start = fn;
    thread->start_context = context;
    thread_register(thread);
    host_thread_start(&thread->host, thread_host_main, thread);
}

void thread_join(struct _KTHREAD *thread)
{
    disp_wait_for(thread_current(), &thread->header, "the end of a thread");
    host_thread_join(&thread->host);
}

void thread_free_ended(struct _KTHREAD *thread)
{
    thread_unregister(thread);
    pthread_cond_destroy(&thread->wake);
    free(thread);
}

/* What a PsCreateSystemThread thread runs, until it tells its creator that it has started. */
struct thread_start {
    PKSTART_ROUTINE routine;
    PVOID context;
    HANDLE tid;                     /* the new thread's id, for the creator's ClientId */
    KEVENT started;
};

/* The record lives on the creator's stack, which the creator may leave as soon as `started` is
 * set: the routine and its context are copied out first. */
static void thread_system_main(void *arg)
{
    struct thread_start *start = arg;
    PKSTART_ROUTINE routine = start->routine;
    PVOID context = start->context;

    start->tid = PsGetCurrentThreadId();
    KeSetEvent(&start->started, 0, FALSE);
    if (routine == NULL)
        rule_stop_null_argument("PsCreateSystemThread", "StartRoutine", 0, RULE_RUNS, NULL,
                                "The new thread starts by calling it: pass the thread's routine.");
    routine(context);
}

/* Only PsCreateSystemThread threads are objects owned by the object manager, and only they run
 * thread_system_main. */
static bool thread_is_object(const struct _KTHREAD *thread)
{
    return thread->start == thread_system_main;
}

#define THREAD_ENDING_HOOKS 4
static void (*ending_hooks[THREAD_ENDING_HOOKS])(struct _KTHREAD *thread);

void thread_ending_register(void (*hook)(struct _KTHREAD *thread))
{
    for (int i = 0; i < THREAD_ENDING_HOOKS; i++) {
        if (ending_hooks[i] == NULL) {
            ending_hooks[i] = hook;
            return;
        }
    }
    abort();
}

/* The checks Windows makes when a thread ends, then the end itself. */
void thread_exit_current(NTSTATUS status)
{
    struct _KTHREAD *self = thread_current();

    self->irql = PASSIVE_LEVEL;
    file_thread_ending(self);
    for (int i = 0; i < THREAD_ENDING_HOOKS && ending_hooks[i] != NULL; i++)
        ending_hooks[i](self);
    /* Before the dispatcher lock: the last reference to a process closes the handles it has left. */
    process_thread_ended(self);
    disp_lock();
    thread_check_exit(self);
    __atomic_store_n(&self->terminated, true, __ATOMIC_RELEASE);
    self->exit_status = status;
    self->header.SignalState = 1;
    disp_wait_test(&self->header);
    sched_thread_ended(self);
    /* The running thread's own reference goes while the dispatcher lock is held, so whoever sees
     * the thread ended also sees that it no longer touches its KTHREAD: this may free it. */
    if (thread_is_object(self))
        object_release(self);
    disp_unlock();
    /* The host thread is kept for another start: it must not take itself for this one. */
    thread_set_current(NULL);
}

static void thread_describe_object(char *buf, size_t size, const DISPATCHER_HEADER *header)
{
    static const char *const names[] = {
        [DISP_EVENT_NOTIFICATION] = "notification event", [DISP_EVENT_SYNCHRONIZATION] = "synchronization event",
        [DISP_MUTANT] = "mutex", [DISP_PROCESS] = "process", [DISP_SEMAPHORE] = "semaphore", [DISP_THREAD] = "thread",
        [DISP_TIMER_NOTIFICATION] = "notification timer", [DISP_TIMER_SYNCHRONIZATION] = "synchronization timer",
    };
    const struct _KTHREAD *owner = NULL;

    if (header->Type == DISP_MUTANT)
        owner = (const struct _KTHREAD *)((const KMUTANT *)header)->OwnerThread;
    else if (header->Type == DISP_THREAD)
        owner = (const struct _KTHREAD *)header;
    snprintf(buf, size, "%s %p%s%s", names[header->Type], (const void *)header,
             owner ? (header->Type == DISP_MUTANT ? " owned by " : " named ") : "", owner ? owner->name : "");
}

/* A fast mutex waits on its embedded event: the report names the fast mutex and its owner. */
static void thread_describe_fast_mutex(char *buf, size_t size, const DISPATCHER_HEADER *event)
{
    const FAST_MUTEX *fast_mutex = CONTAINING_RECORD(event, FAST_MUTEX, Event);
    const struct _KTHREAD *owner = (const struct _KTHREAD *)__atomic_load_n(&fast_mutex->Owner, __ATOMIC_RELAXED);

    snprintf(buf, size, "fast mutex %p%s%s", (const void *)fast_mutex, owner ? " owned by " : "",
             owner ? owner->name : "");
}

/* Registry lock held: a thread of a controlled schedule waiting for a spin lock to be free. */
static size_t thread_describe_spinner(char *buf, size_t size, const struct _KTHREAD *t)
{
    ULONG_PTR owner = __atomic_load_n(t->sched.spinning_on, __ATOMIC_RELAXED);
    const struct _KTHREAD *o = registry_head;

    while (o != NULL && (ULONG_PTR)o != owner)
        o = o->next;
    if (o == NULL)
        return (size_t)snprintf(buf, size, "\n          %s: spins on the spin lock at %p, owned by the thread at %p, "
                                "which has ended without releasing it", t->name, (void *)t->sched.spinning_on,
                                (void *)owner);
    return (size_t)snprintf(buf, size, "\n          %s: spins on the spin lock at %p, owned by %s", t->name,
                            (void *)t->sched.spinning_on, o->name);
}

static size_t thread_describe_one(char *buf, size_t size, const struct _KTHREAD *t)
{
    char object[128];
    int n;

    if (t->terminated)
        return (size_t)snprintf(buf, size, "\n          %s: ended with status %s", t->name,
                                wdmsim_status_text(t->exit_status).text);
    if (t->sched.spinning_on != NULL)
        return thread_describe_spinner(buf, size, t);
    if (!t->wait.waiting)
        return (size_t)snprintf(buf, size, "\n          %s: running at %s", t->name, irql_name(t->irql));
    n = snprintf(buf, size, "\n          %s: in %s, for", t->name, t->wait.what);
    for (ULONG i = 0; i < t->wait.count && (size_t)n < size; i++) {
        if (t->wait.what == disp_fast_mutex_wait)
            thread_describe_fast_mutex(object, sizeof object, t->wait.blocks[i].Object);
        else
            thread_describe_object(object, sizeof object, t->wait.blocks[i].Object);
        n += snprintf(buf + n, size - (size_t)n, "%s %s", i ? (t->wait.type == WaitAll ? " and" : " or") : "",
                      object);
    }
    if (t->wait.count == 0 && (size_t)n < size)
        n += snprintf(buf + n, size - (size_t)n, " time to pass");
    return (size_t)n;
}

/* Dispatcher and registry locks held: a thread still running the driver's code, other than the
 * one checking. */
static void thread_check_leftover_locked(struct driver_check *check, const struct _KTHREAD *t,
                                         const struct _KTHREAD *self)
{
    if (thread_charged(t) != driver_check_driver(check) || t->terminated || t == self)
        return;
    if (t->wait.waiting)
        driver_check_pending(check, "thread", t, NULL, "%s (tid %ld) runs the driver's code, waiting in %s",
                             t->name, t->tid, t->wait.what);
    else
        driver_check_pending(check, "thread", t, NULL, "%s (tid %ld) runs the driver's code", t->name, t->tid);
}

/* The unload check's inventory of threads. */
static void thread_collect_leftovers(struct driver_check *check)
{
    const struct _KTHREAD *self = thread_current();

    disp_lock();
    host_lock(&registry_lock);
    for (const struct _KTHREAD *t = registry_head; t != NULL; t = t->next)
        thread_check_leftover_locked(check, t, self);
    host_unlock(&registry_lock);
    disp_unlock();
}

static struct driver_inventory thread_inventory = {
    .order = DRIVER_INVENTORY_RUNNING,
    .collect = thread_collect_leftovers,
};
DRIVER_INVENTORY(thread_inventory)

void thread_describe_waits(char *buf, size_t size)
{
    size_t used = 0;

    buf[0] = '\0';
    host_lock(&registry_lock);
    for (const struct _KTHREAD *t = registry_head; t != NULL && used < size; t = t->next)
        used += thread_describe_one(buf + used, size - used, t);
    host_unlock(&registry_lock);
}

static void thread_reap_later_locked(struct host_thread host)
{
    if (reap_count == reap_capacity) {
        reap_capacity = reap_capacity ? reap_capacity * 2 : 16;
        reap_list = realloc(reap_list, reap_capacity * sizeof *reap_list);
        if (reap_list == NULL)
            abort();
    }
    reap_list[reap_count++] = host;
}

/* Joins the host threads waiting to be reaped. They have left the simulation and need none of its
 * locks to finish, so this wait is short; joined, none is left to hold a host lock at a fork. */
static void thread_reap(void)
{
    struct host_thread *hosts;
    size_t count;

    host_lock(&registry_lock);
    hosts = reap_list;
    count = reap_count;
    reap_list = NULL;
    reap_count = reap_capacity = 0;
    host_unlock(&registry_lock);
    for (size_t i = 0; i < count; i++)
        host_thread_join(&hosts[i]);
    free(hosts);
}

/* The thread type's delete procedure. The thread has ended and let go of its KTHREAD when it
 * dropped its own reference (thread_exit_current). Its host thread is joined here, or later when
 * this is that thread deleting its own object on the way out. */
void thread_object_delete(PVOID body)
{
    struct _KTHREAD *thread = body;
    struct host_thread host = thread->host;
    bool self = thread == thread_tls_self;

    thread_unregister(thread);
    pthread_cond_destroy(&thread->wake);
    free(thread);
    if (self) {
        host_lock(&registry_lock);
        thread_reap_later_locked(host);
        host_unlock(&registry_lock);
    } else {
        host_thread_join(&host);
    }
}

static bool thread_type_describe(PVOID body, char *buf, size_t size)
{
    char name[48];

    if (!thread_name_of((ULONG_PTR)body, name, sizeof name))
        return false;
    snprintf(buf, size, "thread %s", name);
    return true;
}

/* A thread is its own dispatcher object, signalled when it ends. */
static PVOID thread_type_wait_target(PVOID body)
{
    return body;
}

static struct _OBJECT_TYPE thread_type = {
    .name = "Thread",
    .delete_procedure = thread_object_delete,
    .describe_procedure = thread_type_describe,
    .wait_procedure = thread_type_wait_target,
};
static POBJECT_TYPE thread_type_pointer = &thread_type;
POBJECT_TYPE *PsThreadType = &thread_type_pointer;

size_t thread_system_shutdown(void)
{
    struct _KTHREAD *abandoned = NULL, **link = &registry_head, *t;
    char line[256];
    size_t count = 0;

    disp_lock();
    host_lock(&registry_lock);
    while ((t = *link) != NULL) {
        if (!t->system || t->terminated) {
            /* Ended, but a leaked reference kept the object: thread_shutdown frees the KTHREAD. */
            if (t->terminated && thread_is_object(t))
                thread_reap_later_locked(t->host);
            link = &t->next;
            continue;
        }
        *link = t->next;
        t->next = abandoned;
        abandoned = t;
        thread_describe_one(line, sizeof line, t);
        fprintf(stderr, "wdmsim: shutdown: leaked a running system thread, charged to %s:%s\n",
                thread_charged(t) ? thread_charged(t)->name : "host code", line);
        count++;
    }
    host_unlock(&registry_lock);
    for (t = abandoned; t != NULL; t = t->next) {
        if (thread_is_object(t))
            object_abandon(t);
    }
    disp_unlock();
    thread_reap();
    return count;
}

/* Any IRQL. */
PKTHREAD NTAPI KeGetCurrentThread(VOID)
{
    return (PKTHREAD)thread_current();
}

/* Any IRQL. */
PETHREAD NTAPI PsGetCurrentThread(VOID)
{
    return (PETHREAD)thread_current();
}

/* Any IRQL. */
HANDLE NTAPI PsGetCurrentThreadId(VOID)
{
    return (HANDLE)(ULONG_PTR)thread_current()->tid;
}

/* Any IRQL. The bounds of the calling thread's stack (a simulated thread's stack is its host
 * thread's), so that IoGetRemainingStackSize measures what is left. */
VOID NTAPI IoGetStackLimits(PULONG_PTR LowLimit, PULONG_PTR HighLimit)
{
    uintptr_t low, high;

    RULE_CHECK_ARGUMENT(LowLimit, RULE_WRITES);
    RULE_CHECK_ARGUMENT(HighLimit, RULE_WRITES);
    host_stack_limits(&low, &high);
    *LowLimit = low;
    *HighLimit = high;
}

/* Any IRQL. The thread's id, as PsGetCurrentThreadId gives it in the thread itself. */
HANDLE NTAPI PsGetThreadId(PETHREAD Thread)
{
    RULE_CHECK_ARGUMENT(Thread, RULE_READS);
    return (HANDLE)(ULONG_PTR)((struct _KTHREAD *)Thread)->tid;
}

/* Any IRQL. The thread's own process, whatever process it is attached to now. */
PEPROCESS NTAPI PsGetThreadProcess(PETHREAD Thread)
{
    RULE_CHECK_ARGUMENT(Thread, RULE_READS);
    return ((struct _KTHREAD *)Thread)->process;
}

/* Any IRQL. The id of the thread's own process. */
HANDLE NTAPI PsGetThreadProcessId(PETHREAD Thread)
{
    RULE_CHECK_ARGUMENT(Thread, RULE_READS);
    return PsGetProcessId(((struct _KTHREAD *)Thread)->process);
}

/* Any IRQL. TRUE for a thread the kernel made (PsCreateSystemThread, worker and DPC threads);
 * FALSE for an application's thread, even while it runs a driver's dispatch routine. */
BOOLEAN NTAPI PsIsSystemThread(PETHREAD Thread)
{
    RULE_CHECK_ARGUMENT(Thread, RULE_READS);
    return ((struct _KTHREAD *)Thread)->system;
}

/* Any IRQL. The mode of the code that called into the kernel: UserMode for an application's
 * request, KernelMode for a driver's or the system's own. */
KPROCESSOR_MODE NTAPI ExGetPreviousMode(VOID)
{
    return thread_previous_mode();
}

/* The highest priority a boost reaches: the top of the variable range. */
#define THREAD_BOOST_CEILING (LOW_REALTIME_PRIORITY - 1)

void thread_boost_locked(struct _KTHREAD *thread, KPRIORITY increment)
{
    KPRIORITY base = __atomic_load_n(&thread->base_priority, __ATOMIC_RELAXED);
    KPRIORITY boosted = base + increment;

    disp_assert_held();
    if (increment <= 0 || base >= LOW_REALTIME_PRIORITY)
        return;
    if (boosted > THREAD_BOOST_CEILING)
        boosted = THREAD_BOOST_CEILING;
    if (boosted > __atomic_load_n(&thread->priority, __ATOMIC_RELAXED))
        __atomic_store_n(&thread->priority, boosted, __ATOMIC_RELAXED);
}

void thread_decay_locked(struct _KTHREAD *thread)
{
    KPRIORITY current = __atomic_load_n(&thread->priority, __ATOMIC_RELAXED);

    disp_assert_held();
    if (current > __atomic_load_n(&thread->base_priority, __ATOMIC_RELAXED))
        __atomic_store_n(&thread->priority, current - 1, __ATOMIC_RELAXED);
}

/* PASSIVE_LEVEL. Sets the base and the current priority, ending any boost (as Windows); returns the
 * old current priority. */
KPRIORITY NTAPI KeSetPriorityThread(PKTHREAD Thread, KPRIORITY Priority)
{
    struct _KTHREAD *thread = (struct _KTHREAD *)Thread;
    KPRIORITY old;

    rule_check_irql(RULE_PS_NOT_PASSIVE, irql_current(), (ULONG_PTR)Thread, (ULONG_PTR)Priority, 0);
    RULE_CHECK_ARGUMENT(Thread, RULE_WRITES);
    disp_lock();
    old = __atomic_load_n(&thread->priority, __ATOMIC_RELAXED);
    __atomic_store_n(&thread->base_priority, Priority, __ATOMIC_RELAXED);
    __atomic_store_n(&thread->priority, Priority, __ATOMIC_RELAXED);
    disp_unlock();
    return old;
}

/* Any IRQL. The current priority: the base plus what is left of a boost. */
KPRIORITY NTAPI KeQueryPriorityThread(PKTHREAD Thread)
{
    RULE_CHECK_ARGUMENT(Thread, RULE_READS);
    return __atomic_load_n(&((struct _KTHREAD *)Thread)->priority, __ATOMIC_RELAXED);
}

static void thread_system_name(char *buf, size_t size, const struct sim_driver *driver)
{
    unsigned serial = atomic_fetch_add(&system_thread_serial, 1) + 1;

    if (driver != NULL)
        snprintf(buf, size, "%.20s-%u", driver->name, serial);
    else
        snprintf(buf, size, "system-%u", serial);
}

/* Since Vista the handle is a kernel handle whatever the caller asks, but the documentation still
 * requires OBJ_KERNEL_HANDLE outside System: on older Windows the handle went into the caller's
 * process, where the application could use it. */
static void thread_warn_user_handle(ULONG attributes)
{
    char where[64];

    if (process_current() == process_system() || (attributes & OBJ_KERNEL_HANDLE) != 0)
        return;
    process_describe(process_current(), where, sizeof where);
    fprintf(stderr, "wdmsim: PsCreateSystemThread in process %s without OBJ_KERNEL_HANDLE: outside the "
            "System process pass OBJ_KERNEL_HANDLE in ObjectAttributes, or Windows XP puts the thread's "
            "handle in that process's table\n", where);
}

/* PASSIVE_LEVEL. The thread runs in the process ProcessHandle names (NULL: System), charged to the
 * caller's driver; the handle is a kernel handle, and closing it does not stop the thread. */
NTSTATUS NTAPI PsCreateSystemThread(PHANDLE ThreadHandle, ULONG DesiredAccess, POBJECT_ATTRIBUTES ObjectAttributes,
                                    HANDLE ProcessHandle, PCLIENT_ID ClientId, PKSTART_ROUTINE StartRoutine,
                                    PVOID StartContext)
{
    struct thread_start start = { .routine = StartRoutine, .context = StartContext };
    ULONG attributes = ObjectAttributes != NULL ? ObjectAttributes->Attributes : 0;
    const struct sim_driver *driver;
    struct _KTHREAD *thread;
    PVOID process;
    NTSTATUS status;
    char name[32];
    HANDLE handle;

    rule_check_irql(RULE_PS_NOT_PASSIVE, irql_current(), (ULONG_PTR)StartRoutine, 0, 0);
    RULE_CHECK_ARGUMENT(ThreadHandle, RULE_WRITES);
    /* Only now: the check above boots the kernel when this is the program's first DDI. */
    process = process_system();
    if (ProcessHandle != NULL) {
        status = handle_reference(ProcessHandle, *PsProcessType, KernelMode, &process, NULL);
        if (!NT_SUCCESS(status))
            return status;
    }
    thread_warn_user_handle(attributes);
    thread_reap();
    driver = thread_current()->driver;
    thread_system_name(name, sizeof name, driver);
    thread = thread_new(name);
    thread->system = true;
    thread_charge(thread, driver);
    process_set_thread_owner(thread, process);
    if (ProcessHandle != NULL)
        ObDereferenceObject(process);
    object_create(thread, *PsThreadType);
    handle = handle_create(thread, DesiredAccess, (attributes & OBJ_INHERIT) | OBJ_KERNEL_HANDLE);
    KeInitializeEvent(&start.started, NotificationEvent, FALSE);
    thread_spawn(thread, thread_system_main, &start);
    KeWaitForSingleObject(&start.started, Executive, KernelMode, FALSE, NULL);
    *ThreadHandle = handle;
    if (ClientId != NULL) {
        ClientId->UniqueProcess = PsGetProcessId(process);
        ClientId->UniqueThread = start.tid;
    }
    return STATUS_SUCCESS;
}

/* PASSIVE_LEVEL. Ends the calling system thread and does not return; any other caller gets
 * STATUS_INVALID_PARAMETER. */
NTSTATUS NTAPI PsTerminateSystemThread(NTSTATUS ExitStatus)
{
    struct _KTHREAD *self = thread_current();

    rule_check_irql(RULE_PS_NOT_PASSIVE, self->irql, (ULONG_PTR)ExitStatus, 0, 0);
    if (self->worker)
        rule_stop(RULE_WORKER_THREAD_TERMINATED, (ULONG_PTR)self, 0, 0, 0);
    if (!self->system)
        return STATUS_INVALID_PARAMETER;
    thread_exit_current(ExitStatus);
    host_thread_exit();
}
