/*
 * wdmsim_test_threads.h - extra simulated threads for concurrency tests, and the two handshakes
 * that make them deterministic on the virtual clock without a single sleep.
 *
 * The scheduler counts simulated threads: a thread that can run holds virtual time still, and
 * when every one is blocked in the dispatcher time jumps to the next deadline (or, with none, the
 * machine stops with a deadlock). So:
 *
 * - A test thread is a simulated thread of the System process at PASSIVE_LEVEL, started by
 *   wdmsim_thread_start: it counts as able to run from the moment it is started, and a controlled
 *   schedule (WDMSIM_SCHED) has it on its list from the start, so every test stays replayable.
 * - wdmsim_test_settle() is a one-tick KeDelayExecutionThread. Its deadline can only be reached
 *   when every other simulated thread is blocked (or gone), so when it returns each test thread
 *   has got as far as it can: a waiter started before it is now queued on its object. Starting
 *   waiters one by one with a settle after each queues them in a known order. It costs one tick
 *   (100 ns) of simulated time.
 * - wdmsim_test_thread_join() waits for the thread in the dispatcher (so time can move while it
 *   finishes a timed wait), then frees it.
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

#include <wdm.h>
#include <wdmsim/wdmsim.h>

#include <wdmsim/test.h>

struct wdmsim_test_thread {
    void (*fn)(void *context);
    void *context;
    PKTHREAD kthread;               /* the thread's KTHREAD, valid once started */
};

static inline void wdmsim_test_thread_main(void *arg)
{
    struct wdmsim_test_thread *t = arg;

    t->fn(t->context);
}

static inline void wdmsim_test_thread_start(struct wdmsim_test_thread *t, void (*fn)(void *), void *context)
{
    t->fn = fn;
    t->context = context;
    t->kthread = wdmsim_thread_start(NULL, wdmsim_test_thread_main, t);
}

static inline void wdmsim_test_thread_join(struct wdmsim_test_thread *t)
{
    wdmsim_thread_join(t->kthread);
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
