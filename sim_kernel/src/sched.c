/*
 * sched.c - who can run. The scheduler counts the simulated threads that can run. A thread leaves
 * the count when it blocks in the dispatcher and comes back when whoever ends its wait readies it
 * (the waker counts it, so the count never touches zero between a wake-up and the run).
 *
 * When the count reaches zero the machine is idle. On the virtual clock the thread that blocked
 * last moves time to the earliest deadline (a wait's timeout, a timer) and expires it, until some
 * thread can run: a five-minute wait costs microseconds. With no deadline anywhere every thread
 * waits for ever: a deadlock, reported with what each thread waits for. On the real clock a timer
 * thread expires deadlines as host time reaches them.
 *
 * A blocking thread first spins for a few microseconds with the lock dropped when some other
 * simulated thread can run and at most one per host processor can: a hand-off between two busy
 * threads (one sets the event the other waits for) then costs no sleep and no futex wake-up,
 * which on a virtual machine can take tens of microseconds. The bound lets the spinner be one more
 * than the processors because a thread counted as runnable is often blocked in host code instead
 * (a main thread joining the others); with more runnable threads the spin would take a processor
 * from one that needs it, so it is skipped. The spinning thread counts as blocked, so nothing else
 * changes.
 *
 * Locking: everything here runs under the dispatcher lock, but for the spin, which only reads the
 * thread's own waiting flag (written atomically by disp_end_wait), and the count of spinning
 * threads, an atomic that shutdown waits on: a spinner takes the lock again when its spin ends,
 * which must not happen to the next boot's lock.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

/* About 5 us at 25 ns a pause: longer than a typical hand-off, far shorter than a sleep. */
#define SCHED_SPIN_ROUNDS 200

static size_t runnable;
static LIST_ENTRY timeout_list;

static pthread_cond_t idle_cond;    /* broadcast when a thread blocks, for sched_wait_boot_idle */

static pthread_t timer_thread;
static pthread_cond_t timer_cond;
static bool timer_running;
static bool timer_stopping;
static bool timer_waiting;          /* the timer thread has reached its first wait */
static size_t host_processors;      /* spinning pays only while a waker has one of its own */
static atomic_int spinners;         /* threads spinning with the lock dropped */

PLIST_ENTRY sched_timeout_list(void)
{
    return &timeout_list;
}

size_t sched_runnable(void)
{
    return runnable;
}

static SIM_NORETURN void sched_deadlock(void)
{
    char threads[2048];

    thread_describe_waits(threads, sizeof threads);
    rule_stop_detail(RULE_DEADLOCK, 0, 0, 0, 0, "the threads and what they wait for:%s", threads);
}

/* The machine is idle: expire deadlines until a thread can run, or report the deadlock. */
static void sched_idle(void)
{
    if (!clock_is_virtual_mode()) {
        if (disp_next_deadline() == DISP_NO_DEADLINE)
            sched_deadlock();
        return;
    }
    while (runnable == 0) {
        LONGLONG next = disp_next_deadline();

        if (next == DISP_NO_DEADLINE)
            sched_deadlock();
        clock_advance_to(next);
        disp_expire(clock_since_boot());
    }
}

void sched_thread_started(struct _KTHREAD *thread)
{
    (void)thread;
    runnable++;
}

void sched_thread_ended(struct _KTHREAD *thread)
{
    (void)thread;
    runnable--;
    if (runnable == 0)
        sched_idle();
}

static bool sched_waiting(const struct _KTHREAD *self)
{
    return __atomic_load_n(&self->wait.waiting, __ATOMIC_ACQUIRE);
}

/* Lock held on entry and exit, dropped while spinning. */
static void sched_spin(struct _KTHREAD *self)
{
    if (runnable == 0 || runnable > host_processors)
        return;
    atomic_fetch_add(&spinners, 1);
    disp_unlock();
    for (int i = 0; i < SCHED_SPIN_ROUNDS && sched_waiting(self); i++)
        spinlock_relax();
    disp_lock();
    atomic_fetch_sub(&spinners, 1);
}

void sched_block(struct _KTHREAD *self)
{
    runnable--;
    if (runnable == 0)
        sched_idle();
    pthread_cond_broadcast(&idle_cond);
    if (sched_waiting(self))
        sched_spin(self);
    while (sched_waiting(self))
        pthread_cond_wait(&self->wake, disp_mutex());
}

void sched_ready(struct _KTHREAD *thread)
{
    runnable++;
    pthread_cond_signal(&thread->wake);
}

void sched_deadline_added(void)
{
    if (timer_running)
        pthread_cond_signal(&timer_cond);
}

/* The real clock's timer thread: a host thread, not a simulated one, so it never counts as runnable. */
static void *sched_timer_main(void *unused)
{
    (void)unused;
    disp_lock();
    while (!timer_stopping) {
        LONGLONG next = disp_next_deadline();

        if (next <= clock_since_boot()) {
            disp_expire(clock_since_boot());
            /* What fired may have woken nobody: with no deadline left, everyone waits for ever. */
            if (runnable == 0)
                sched_idle();
        } else {
            timer_waiting = true;
            pthread_cond_broadcast(&idle_cond);
            clock_wait_until(&timer_cond, disp_mutex(), next);
        }
    }
    disp_unlock();
    return NULL;
}

void sched_boot(void)
{
    runnable = 0;
    InitializeListHead(&timeout_list);
    pthread_cond_init(&idle_cond, NULL);
    timer_running = false;
    timer_stopping = false;
    timer_waiting = false;
    host_processors = (size_t)sysconf(_SC_NPROCESSORS_ONLN);
    /* A forked child inherits the count of a parent's spinners, which do not exist in it. */
    atomic_store(&spinners, 0);
    if (clock_is_virtual_mode())
        return;
    clock_cond_init(&timer_cond);
    if (pthread_create(&timer_thread, NULL, sched_timer_main, NULL) != 0)
        abort();
    timer_running = true;
}

void sched_wait_boot_idle(void)
{
    disp_lock();
    while (runnable > 1 || (timer_running && !timer_waiting))
        pthread_cond_wait(&idle_cond, disp_mutex());
    disp_unlock();
}

/* Threads abandoned blocked (a leaked thread waiting for ever) may still be spinning: each takes
 * the dispatcher lock once more, then sleeps for good, before the next boot sets the lock up. */
void sched_shutdown(void)
{
    while (atomic_load(&spinners) > 0)
        spinlock_relax();
    if (!timer_running)
        return;
    disp_lock();
    timer_stopping = true;
    pthread_cond_signal(&timer_cond);
    disp_unlock();
    pthread_join(timer_thread, NULL);
    timer_running = false;
}

/* Host API: move virtual time forward by delta, firing what falls due on the way, each deadline at
 * its own time and in order (a timer due before a wait's timeout satisfies the wait first). */
void wdmsim_clock_advance(long long delta)
{
    LONGLONG target, next;

    kernel_ensure_booted();
    if (!clock_is_virtual_mode()) {
        fprintf(stderr, "wdmsim: wdmsim_clock_advance needs the virtual clock; this kernel runs on "
                        "the real one (boot with .clock = WDMSIM_CLOCK_VIRTUAL or WDMSIM_CLOCK=virtual)\n");
        abort();
    }
    if (delta < 0) {
        fprintf(stderr, "wdmsim: wdmsim_clock_advance(%lld): time never goes back\n", delta);
        abort();
    }
    disp_lock();
    target = clock_since_boot() + delta;
    while ((next = disp_next_deadline()) <= target) {
        clock_advance_to(next);
        disp_expire(clock_since_boot());
    }
    clock_advance_to(target);
    disp_unlock();
}
