/*
 * thread.c - simulated threads (KTHREAD) and the adoption of host threads: a thread the simulator
 * did not create becomes a PASSIVE_LEVEL thread of the System process on its first DDI call.
 * Locking: registry_lock guards the registry list and the driver table; a KTHREAD's own fields
 * are touched only by the thread it describes.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "internal.h"

#define THREAD_MAX_DRIVERS 64

static __thread struct _KTHREAD *tls_thread;
static __thread unsigned tls_generation;

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct _KTHREAD *registry_head;
static struct sim_driver driver_table[THREAD_MAX_DRIVERS];
static size_t driver_count;

static pthread_once_t exit_key_once = PTHREAD_ONCE_INIT;
static pthread_key_t exit_key;

/* A host thread ended: drop its KTHREAD unless a shutdown already freed it. */
static void thread_host_exit(void *value)
{
    struct _KTHREAD **link;

    pthread_mutex_lock(&registry_lock);
    for (link = &registry_head; *link != NULL; link = &(*link)->next) {
        if (*link == value) {
            *link = (*link)->next;
            free(value);
            break;
        }
    }
    pthread_mutex_unlock(&registry_lock);
}

static void thread_make_exit_key(void)
{
    if (pthread_key_create(&exit_key, thread_host_exit) != 0)
        abort();
}

static struct _KTHREAD *thread_adopt(void)
{
    struct _KTHREAD *t = calloc(1, sizeof *t);

    if (t == NULL)
        abort();
    t->irql = PASSIVE_LEVEL;
    t->adopted = true;
    t->tid = (long)syscall(SYS_gettid);
    if (t->tid == (long)getpid())
        snprintf(t->name, sizeof t->name, "main");
    else
        snprintf(t->name, sizeof t->name, "host-%ld", t->tid);

    pthread_mutex_lock(&registry_lock);
    t->next = registry_head;
    registry_head = t;
    pthread_mutex_unlock(&registry_lock);

    pthread_once(&exit_key_once, thread_make_exit_key);
    pthread_setspecific(exit_key, t);
    tls_thread = t;
    tls_generation = kernel_generation();
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

void wdmsim_run_as_driver(const char *driver_name, wdmsim_scenario_fn *fn, void *context)
{
    struct _KTHREAD *self = thread_current();
    const struct sim_driver *saved = self->driver;

    self->driver = thread_driver_intern(driver_name);
    fn(context);
    self->driver = saved;
}
