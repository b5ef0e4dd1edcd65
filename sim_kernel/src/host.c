/*
 * host.c - the host threads simulated threads run on, behind one thin layer. A host thread, once
 * made, is kept: when its function returns it parks until it is given another, so a kernel's
 * threads (several per boot, one boot per explored schedule) cost a futex wake each instead of a
 * clone. Each runs on a stack of our own rather than one from glibc's cache: a child made by
 * fork() inherits the stacks of the parent's threads, which do not exist in it, and glibc would
 * hand them out again to the child's new threads - whose ids ThreadSanitizer still counts as the
 * parent's live threads ("dup thread with used id"), which ends the child. For the same reason a
 * forked child forgets the parent's parked threads. A kept thread takes the processor affinity of
 * whoever starts it, as a new one would inherit it.
 * It also holds the futex word one thread sleeps on until another hands it the turn, and reads
 * from /proc whether a host thread sleeps, and on what.
 * Locking: host_pool_lock guards the list of parked threads (a leaf); a worker's words are its own.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <linux/futex.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "internal.h"

/* Glibc's default; mapped lazily, so only the pages a thread touches cost memory. */
#define HOST_STACK_SIZE (8u << 20)

struct host_worker {
    pthread_t id;
    cpu_set_t affinity;             /* as its last starter's */
    uint32_t given;                 /* set when fn is given; cleared by the worker as it starts it */
    uint32_t returned;              /* set when fn has returned, for host_thread_join */
    void *(*fn)(void *);
    void *context;
    jmp_buf exit;                   /* host_thread_exit returns here */
    struct host_worker *next;       /* on the parked list */
};

static pthread_mutex_t host_pool_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t host_pool_once = PTHREAD_ONCE_INIT;
static struct host_worker *host_parked;
static __thread struct host_worker *host_self;

static void host_forget_parked(void)
{
    host_parked = NULL;
    pthread_mutex_init(&host_pool_lock, NULL);
}

static void host_pool_init(void)
{
    if (pthread_atfork(NULL, NULL, host_forget_parked) != 0)
        abort();
}

static size_t host_guard_size(void)
{
    return (size_t)sysconf(_SC_PAGESIZE);
}

/* A stack with an inaccessible guard page below it, as glibc gives: an overflow faults. */
static void *host_stack_new(void)
{
    char *mapping = mmap(NULL, HOST_STACK_SIZE + host_guard_size(), PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);

    if (mapping == MAP_FAILED || mprotect(mapping, host_guard_size(), PROT_NONE) != 0)
        abort();
    return mapping + host_guard_size();
}

static void host_park(struct host_worker *worker)
{
    host_lock(&host_pool_lock);
    worker->next = host_parked;
    host_parked = worker;
    host_unlock(&host_pool_lock);
}

static SIM_NORETURN void *host_worker_main(void *arg)
{
    struct host_worker *worker = arg;

    host_self = worker;
    for (;;) {
        host_word_wait(&worker->given, NULL);
        __atomic_store_n(&worker->given, 0, __ATOMIC_RELAXED);
        if (setjmp(worker->exit) == 0)
            worker->fn(worker->context);
        host_word_set(&worker->returned);
    }
}

static struct host_worker *host_worker_take(void)
{
    struct host_worker *worker;
    pthread_attr_t attr;

    pthread_once(&host_pool_once, host_pool_init);
    host_lock(&host_pool_lock);
    worker = host_parked;
    if (worker != NULL)
        host_parked = worker->next;
    host_unlock(&host_pool_lock);
    if (worker != NULL)
        return worker;
    worker = calloc(1, sizeof *worker);
    if (worker == NULL || pthread_attr_init(&attr) != 0 ||
        pthread_attr_setstack(&attr, host_stack_new(), HOST_STACK_SIZE) != 0 ||
        pthread_create(&worker->id, &attr, host_worker_main, worker) != 0)
        abort();
    pthread_attr_destroy(&attr);
    return worker;
}

static void host_worker_inherit_affinity(struct host_worker *worker)
{
    cpu_set_t mine;

    if (pthread_getaffinity_np(pthread_self(), sizeof mine, &mine) != 0 || CPU_EQUAL(&mine, &worker->affinity))
        return;
    if (pthread_setaffinity_np(worker->id, sizeof mine, &mine) == 0)
        worker->affinity = mine;
}

void host_thread_start(struct host_thread *thread, void *(*fn)(void *), void *context)
{
    struct host_worker *worker = host_worker_take();

    host_worker_inherit_affinity(worker);

    worker->fn = fn;
    worker->context = context;
    __atomic_store_n(&worker->returned, 0, __ATOMIC_RELAXED);
    thread->worker = worker;
    host_word_set(&worker->given);
}

void host_thread_join(const struct host_thread *thread)
{
    host_word_wait(&thread->worker->returned, NULL);
    host_park(thread->worker);
}

void host_thread_detach(const struct host_thread *thread)
{
    (void)thread;
}

void host_thread_exit(void)
{
    longjmp(host_self->exit, 1);
}

bool host_word_wait(uint32_t *word, const struct timespec *relative)
{
    while (__atomic_load_n(word, __ATOMIC_ACQUIRE) == 0) {
        if (syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, 0, relative, NULL, 0) != 0 && errno == ETIMEDOUT)
            return __atomic_load_n(word, __ATOMIC_ACQUIRE) != 0;
    }
    return true;
}

void host_word_set(uint32_t *word)
{
    __atomic_store_n(word, 1, __ATOMIC_RELEASE);
    syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

long host_thread_id(void)
{
    return (long)syscall(SYS_gettid);
}

void host_stack_limits(uintptr_t *low, uintptr_t *high)
{
    pthread_attr_t attr;
    void *base;
    size_t size;

    if (pthread_getattr_np(pthread_self(), &attr) != 0 || pthread_attr_getstack(&attr, &base, &size) != 0)
        abort();
    pthread_attr_destroy(&attr);
    *low = (uintptr_t)base;
    *high = (uintptr_t)base + size;
}

static bool host_read_task_file(long tid, const char *name, char *buf, size_t size)
{
    char path[64];
    FILE *file;
    size_t length;

    snprintf(path, sizeof path, "/proc/self/task/%ld/%s", tid, name);
    file = fopen(path, "r");
    if (file == NULL)
        return false;
    length = fread(buf, 1, size - 1, file);
    buf[length] = '\0';
    fclose(file);
    return length > 0;
}

bool host_thread_sleep(long tid, struct host_sleep *sleep)
{
    char status[2048], syscall_line[256];
    const char *state, *switches;
    unsigned long long number, futex;

    if (!host_read_task_file(tid, "status", status, sizeof status) ||
        (state = strstr(status, "\nState:")) == NULL ||
        (switches = strstr(status, "\nvoluntary_ctxt_switches:")) == NULL)
        return false;
    sleep->sleeping = strncmp(state, "\nState:\tS", strlen("\nState:\tS")) == 0;
    sleep->switches = strtoull(switches + strlen("\nvoluntary_ctxt_switches:"), NULL, 10);
    sleep->futex = 0;
    if (host_read_task_file(tid, "syscall", syscall_line, sizeof syscall_line) &&
        sscanf(syscall_line, "%llu %llx", &number, &futex) == 2 && number == SYS_futex)
        sleep->futex = (uintptr_t)futex;
    return true;
}
