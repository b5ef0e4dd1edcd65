/*
 * thread.c - simulated threads (KTHREAD) and the adoption of host threads: a thread the simulator
 * did not create becomes a PASSIVE_LEVEL thread of the System process on its first DDI call.
 * Locking: registry_lock guards the registry list and the driver table. A KTHREAD's wait state
 * and header are under the dispatcher lock; its other fields are touched only by its own thread.
 * Lock order: the dispatcher lock may be held when taking registry_lock, never the reverse.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "internal.h"

#define THREAD_MAX_DRIVERS 64
/* The base priority of an ordinary thread, as Windows gives a new thread. */
#define THREAD_DEFAULT_PRIORITY 8

static __thread struct _KTHREAD *tls_thread;
static __thread unsigned tls_generation;

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct _KTHREAD *registry_head;
static struct sim_driver driver_table[THREAD_MAX_DRIVERS];
static size_t driver_count;

static pthread_once_t exit_key_once = PTHREAD_ONCE_INIT;
static pthread_key_t exit_key;

static bool thread_unregister(struct _KTHREAD *thread)
{
    bool found = false;

    pthread_mutex_lock(&registry_lock);
    for (struct _KTHREAD **link = &registry_head; *link != NULL; link = &(*link)->next) {
        if (*link == thread) {
            *link = thread->next;
            found = true;
            break;
        }
    }
    pthread_mutex_unlock(&registry_lock);
    return found;
}

/* A host thread ended: its thread object is signalled and it no longer counts as runnable,
 * unless a shutdown already dropped it with the rest of its kernel. */
static void thread_host_exit(void *value)
{
    struct _KTHREAD *thread = value;

    if (!thread_unregister(thread))
        return;
    disp_lock();
    thread->header.SignalState = 1;
    disp_wait_test(&thread->header);
    sched_thread_ended(thread);
    disp_unlock();
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
    disp_init_header(&t->header, DISP_THREAD, 0);
    InitializeListHead(&t->mutants_owned);
    pthread_cond_init(&t->wake, NULL);
    t->irql = PASSIVE_LEVEL;
    t->priority = THREAD_DEFAULT_PRIORITY;
    t->wait.deadline = DISP_NO_DEADLINE;
    snprintf(t->name, sizeof t->name, "%s", name);
    return t;
}

void thread_register(struct _KTHREAD *thread)
{
    pthread_mutex_lock(&registry_lock);
    thread->next = registry_head;
    registry_head = thread;
    pthread_mutex_unlock(&registry_lock);
    disp_lock();
    sched_thread_started(thread);
    disp_unlock();
}

void thread_set_current(struct _KTHREAD *thread)
{
    tls_thread = thread;
    tls_generation = kernel_generation();
}

static struct _KTHREAD *thread_adopt(void)
{
    long tid = (long)syscall(SYS_gettid);
    char name[32];
    struct _KTHREAD *t;

    if (tid == (long)getpid())
        snprintf(name, sizeof name, "main");
    else
        snprintf(name, sizeof name, "host-%ld", tid);
    t = thread_new(name);
    t->adopted = true;
    t->tid = tid;
    thread_register(t);

    pthread_once(&exit_key_once, thread_make_exit_key);
    pthread_setspecific(exit_key, t);
    thread_set_current(t);
    return t;
}

struct _KTHREAD *thread_current(void)
{
    if (tls_thread != NULL && tls_generation == kernel_generation())
        return tls_thread;
    kernel_ensure_booted();
    return thread_adopt();
}

struct _KTHREAD *thread_current_if_known(void)
{
    if (tls_thread != NULL && tls_generation == kernel_generation() && wdmsim_is_booted())
        return tls_thread;
    return NULL;
}

void thread_boot(void)
{
    pthread_mutex_init(&registry_lock, NULL);
    registry_head = NULL;
    driver_count = 0;
}

void thread_shutdown(void)
{
    struct _KTHREAD *t, *next;

    pthread_mutex_lock(&registry_lock);
    for (t = registry_head; t != NULL; t = next) {
        next = t->next;
        free(t);
    }
    registry_head = NULL;
    driver_count = 0;
    pthread_mutex_unlock(&registry_lock);
    tls_thread = NULL;
}

const struct sim_driver *thread_driver_intern(const char *name)
{
    const struct sim_driver *found = NULL;

    pthread_mutex_lock(&registry_lock);
    for (size_t i = 0; i < driver_count && found == NULL; i++) {
        if (strcmp(driver_table[i].name, name) == 0)
            found = &driver_table[i];
    }
    if (found == NULL && driver_count < THREAD_MAX_DRIVERS) {
        snprintf(driver_table[driver_count].name, sizeof driver_table[0].name, "%s", name);
        found = &driver_table[driver_count++];
    }
    pthread_mutex_unlock(&registry_lock);
    if (found == NULL)
        abort();
    return found;
}

bool thread_name_of(ULONG_PTR candidate, char *buf, size_t size)
{
    bool found = false;

    pthread_mutex_lock(&registry_lock);
    for (struct _KTHREAD *t = registry_head; t != NULL && !found; t = t->next) {
        if ((ULONG_PTR)t == candidate) {
            snprintf(buf, size, "%s (tid %ld)", t->name, t->tid);
            found = true;
        }
    }
    pthread_mutex_unlock(&registry_lock);
    return found;
}

static void *thread_host_main(void *arg)
{
    struct _KTHREAD *thread = arg;

    thread_set_current(thread);
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
    if (pthread_create(&thread->host, NULL, thread_host_main, thread) != 0)
        abort();
}

void thread_join(struct _KTHREAD *thread)
{
    pthread_join(thread->host, NULL);
}

/* The checks Windows makes when a thread ends, then the end itself. */
void thread_exit_current(NTSTATUS status)
{
    struct _KTHREAD *self = thread_current();

    self->irql = PASSIVE_LEVEL;
    disp_lock();
    if (!IsListEmpty(&self->mutants_owned)) {
        PKMUTANT mutant = CONTAINING_RECORD(self->mutants_owned.Flink, KMUTANT, MutantListEntry);

        rule_stop_detail(RULE_MUTEX_HELD_AT_THREAD_EXIT, (ULONG_PTR)self, (ULONG_PTR)mutant, 0, 0,
                         "thread %s ends owning the mutex at %p", self->name, (void *)mutant);
    }
    self->terminated = true;
    self->exit_status = status;
    self->header.SignalState = 1;
    disp_wait_test(&self->header);
    sched_thread_ended(self);
    disp_unlock();
}

static void thread_describe_object(char *buf, size_t size, const DISPATCHER_HEADER *header)
{
    static const char *const names[] = {
        [DISP_EVENT_NOTIFICATION] = "notification event", [DISP_EVENT_SYNCHRONIZATION] = "synchronization event",
        [DISP_MUTANT] = "mutex", [DISP_SEMAPHORE] = "semaphore", [DISP_THREAD] = "thread",
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

static size_t thread_describe_one(char *buf, size_t size, const struct _KTHREAD *t)
{
    char object[128];
    int n;

    if (t->terminated)
        return (size_t)snprintf(buf, size, "\n          %s: ended with status 0x%08X", t->name,
                                (unsigned)t->exit_status);
    if (!t->wait.waiting)
        return (size_t)snprintf(buf, size, "\n          %s: running at %s", t->name, irql_name(t->irql));
    n = snprintf(buf, size, "\n          %s: in %s, for", t->name, t->wait.what);
    for (ULONG i = 0; i < t->wait.count && (size_t)n < size; i++) {
        thread_describe_object(object, sizeof object, t->wait.blocks[i].Object);
        n += snprintf(buf + n, size - (size_t)n, "%s %s", i ? (t->wait.type == WaitAll ? " and" : " or") : "",
                      object);
    }
    if (t->wait.count == 0 && (size_t)n < size)
        n += snprintf(buf + n, size - (size_t)n, " time to pass");
    return (size_t)n;
}

void thread_describe_waits(char *buf, size_t size)
{
    size_t used = 0;

    buf[0] = '\0';
    pthread_mutex_lock(&registry_lock);
    for (const struct _KTHREAD *t = registry_head; t != NULL && used < size; t = t->next)
        used += thread_describe_one(buf + used, size - used, t);
    pthread_mutex_unlock(&registry_lock);
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

/* PASSIVE_LEVEL. Returns the old priority. */
KPRIORITY NTAPI KeSetPriorityThread(PKTHREAD Thread, KPRIORITY Priority)
{
    struct _KTHREAD *thread = (struct _KTHREAD *)Thread;
    KPRIORITY old;

    rule_check_irql(RULE_PS_NOT_PASSIVE, irql_current(), (ULONG_PTR)Thread, (ULONG_PTR)Priority, 0);
    old = thread->priority;
    thread->priority = Priority;
    return old;
}

/* Any IRQL. */
KPRIORITY NTAPI KeQueryPriorityThread(PKTHREAD Thread)
{
    return ((struct _KTHREAD *)Thread)->priority;
}

void wdmsim_run_as_driver(const char *driver_name, wdmsim_scenario_fn *fn, void *context)
{
    struct _KTHREAD *self = thread_current();
    const struct sim_driver *saved = self->driver;

    self->driver = thread_driver_intern(driver_name);
    fn(context);
    self->driver = saved;
}
