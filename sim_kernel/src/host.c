/*
 * host.c - the host threads simulated threads run on, behind one thin layer. Each runs on a stack
 * of our own, recycled here rather than by glibc: a child made by fork() inherits the stacks of
 * the parent's threads, which do not exist in it, and glibc's cache would hand them out again to
 * the child's new threads - whose ids ThreadSanitizer still counts as the parent's live threads
 * ("dup thread with used id"), which ends the child. Ours only ever recycles the stack of a thread
 * that has been joined.
 * It also holds the futex word one thread sleeps on until another hands it the turn.
 * Locking: host_stack_lock guards the list of free stacks (a leaf).
 */
#include <errno.h>
#include <linux/futex.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "internal.h"

/* Glibc's default; mapped lazily, so only the pages a thread touches cost memory. */
#define HOST_STACK_SIZE (8u << 20)

struct host_free_stack {
    struct host_free_stack *next;
};

static pthread_mutex_t host_stack_lock = PTHREAD_MUTEX_INITIALIZER;
static struct host_free_stack *host_free_stacks;

static size_t host_guard_size(void)
{
    return (size_t)sysconf(_SC_PAGESIZE);
}

/* A stack with an inaccessible guard page below it, as glibc gives: an overflow faults. */
static void *host_stack_take(void)
{
    struct host_free_stack *stack;
    char *mapping;

    host_lock(&host_stack_lock);
    stack = host_free_stacks;
    if (stack != NULL)
        host_free_stacks = stack->next;
    host_unlock(&host_stack_lock);
    if (stack != NULL)
        return stack;
    mapping = mmap(NULL, HOST_STACK_SIZE + host_guard_size(), PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (mapping == MAP_FAILED || mprotect(mapping, host_guard_size(), PROT_NONE) != 0)
        abort();
    return mapping + host_guard_size();
}

static void host_stack_give(void *stack)
{
    struct host_free_stack *free_stack = stack;

    host_lock(&host_stack_lock);
    free_stack->next = host_free_stacks;
    host_free_stacks = free_stack;
    host_unlock(&host_stack_lock);
}

void host_thread_start(struct host_thread *thread, void *(*fn)(void *), void *context)
{
    pthread_attr_t attr;

    thread->stack = host_stack_take();
    if (pthread_attr_init(&attr) != 0 || pthread_attr_setstack(&attr, thread->stack, HOST_STACK_SIZE) != 0 ||
        pthread_create(&thread->id, &attr, fn, context) != 0)
        abort();
    pthread_attr_destroy(&attr);
}

void host_thread_join(const struct host_thread *thread)
{
    if (pthread_join(thread->id, NULL) != 0)
        abort();
    host_stack_give(thread->stack);
}

void host_thread_detach(const struct host_thread *thread)
{
    if (pthread_detach(thread->id) != 0)
        abort();
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
