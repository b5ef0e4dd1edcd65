/*
 * wdmsim_test_threads.h - extra simulated threads for concurrency tests, and the two handshakes
 * that make them deterministic on the virtual clock without a single sleep.
 *
 * The scheduler counts simulated threads: a thread that can run holds virtual time still, and
 * when every one is blocked in the dispatcher time jumps to the next deadline (or, with none, the
 * machine stops with a deadlock). So:
 *
 * - A test thread is a pthread whose first act is a DDI call, which adopts it as a PASSIVE_LEVEL
 *   thread of the System process. wdmsim_test_thread_start() returns only once that happened (a
 *   host semaphore, not a dispatcher wait: the starter must not block in the dispatcher before the
 *   new thread counts, or nobody could run).
 * - wdmsim_test_settle() is a one-tick KeDelayExecutionThread. Its deadline can only be reached
 *   when every other simulated thread is blocked (or gone), so when it returns each test thread
 *   has got as far as it can: a waiter started before it is now queued on its object. Starting
 *   waiters one by one with a settle after each queues them in a known order. It costs one tick
 *   (100 ns) of simulated time.
 * - wdmsim_test_thread_join() first waits for the thread in the dispatcher (so time can move while
 *   it finishes a timed wait), then joins the host thread.
 *
 * Test threads record what they see in atomics; the test thread asserts (a CMocka assert on any
 * other thread ends the whole test program).
 *
 * For tests about thread objects, two system-thread start routines: wdmsim_test_return_at_once
 * ends at once, wdmsim_test_wait_for_release waits until the test sets
 * wdmsim_test_thread_release, which wdmsim_test_boot_with_release (a CMocka setup) resets.
 */
#ifndef WDMSIM_TEST_THREADS_H
#define WDMSIM_TEST_THREADS_H

#include <pthread.h>
#include <semaphore.h>
#include <stdlib.h>

#include <wdm.h>

#include "wdmsim_test.h"

struct wdmsim_test_thread {
    pthread_t host;
    void (*fn)(void *context);
    void *context;
    sem_t adopted;
    KEVENT done;                    /* notification: fn has returned */
    PKTHREAD kthread;               /* the thread's KTHREAD, valid once started */
};

static inline void *wdmsim_test_thread_main(void *arg)
{
    struct wdmsim_test_thread *t = arg;

    t->kthread = KeGetCurrentThread();
    sem_post(&t->adopted);
    t->fn(t->context);
    KeSetEvent(&t->done, IO_NO_INCREMENT, FALSE);
    return NULL;
}

static inline void wdmsim_test_thread_start(struct wdmsim_test_thread *t, void (*fn)(void *), void *context)
{
    t->fn = fn;
    t->context = context;
    t->kthread = NULL;
    KeInitializeEvent(&t->done, NotificationEvent, FALSE);
    if (sem_init(&t->adopted, 0, 0) != 0 || pthread_create(&t->host, NULL, wdmsim_test_thread_main, t) != 0)
        abort();
    while (sem_wait(&t->adopted) != 0)
        ;
}

static inline void wdmsim_test_thread_join(struct wdmsim_test_thread *t)
{
    KeWaitForSingleObject(&t->done, Executive, KernelMode, FALSE, NULL);
    if (pthread_join(t->host, NULL) != 0)
        abort();
    sem_destroy(&t->adopted);
}

static inline void wdmsim_test_settle(void)
{
    LARGE_INTEGER one_tick = { .QuadPart = -1 };

    KeDelayExecutionThread(KernelMode, FALSE, &one_tick);
}

static KEVENT wdmsim_test_thread_release;

static inline VOID NTAPI wdmsim_test_return_at_once(PVOID unused)
{
    (void)unused;
}

static inline VOID NTAPI wdmsim_test_wait_for_release(PVOID unused)
{
    (void)unused;
    KeWaitForSingleObject(&wdmsim_test_thread_release, Executive, KernelMode, FALSE, NULL);
}

static inline int wdmsim_test_boot_with_release(void **state)
{
    KeInitializeEvent(&wdmsim_test_thread_release, NotificationEvent, FALSE);
    return wdmsim_test_boot(state);
}

#endif /* WDMSIM_TEST_THREADS_H */
