/*
 * bench.h - what the benchmark figures share: the wall clock, medians, the two result lines each
 * figure prints, and simulated threads made from pthreads. Simulator world: host code.
 */
#ifndef WDMSIM_BENCH_H
#define WDMSIM_BENCH_H

#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include <wdmsim/wdmsim.h>

/* How hard each figure works: full for docs/performance.md, quick for checks (< 30 s in all),
 * smoke for the ctest that only checks every figure line is printed. */
enum bench_mode { BENCH_FULL, BENCH_QUICK, BENCH_SMOKE };

struct bench_options {
    enum bench_mode mode;
    int repeats;                    /* each measurement (ours and baseline interleaved), median kept */
    const char *only;               /* run only the figures whose group is named this, or NULL for all */
};

/* Monotonic host time in nanoseconds. */
double bench_now_ns(void);
/* The median of values (sorted in place). */
double bench_median(double *values, size_t count);
/* The value at fraction (0.99: 99th percentile) of values (sorted in place). */
double bench_percentile(double *values, size_t count, double fraction);

/* ours and baseline in unit. cost: ratio = ours / baseline; otherwise (a throughput) ratio =
 * baseline / ours, so lower is always better. goal: the limit on the ratio, shown in the
 * table. note: what was measured, shown under the row. */
void bench_report(const char *name, bool cost, double ours, double baseline, const char *unit, double goal,
                  const char *note);
/* Virtual time: simulated seconds per wall second. */
void bench_report_speedup(const char *name, double simulated_s, double wall_s, double goal, const char *note);
/* A figure that could not be measured: says why and fails the run. */
void bench_report_failure(const char *name, const char *why);

/* ---- The baselines' building blocks: what a careful host programmer would write ---- */

/* An auto-reset event handed over by spinning, then sleeping in a futex: the waiter spins up to
 * BENCH_SPIN_ROUNDS pauses (the simulator's own budget, sched.c) before it sleeps, and the setter
 * makes a futex call only when the waiter sleeps. */
#define BENCH_SPIN_ROUNDS 200

struct bench_futex_event {
    atomic_int state;               /* 0 clear, 1 set, 2 clear with a sleeper */
};

void bench_futex_event_set(struct bench_futex_event *event);
void bench_futex_event_wait(struct bench_futex_event *event);

static inline void bench_pause(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

/* A test-and-test-and-set lock, inline. */
static inline void bench_ttas_lock(atomic_int *lock)
{
    while (atomic_exchange_explicit(lock, 1, memory_order_acquire) != 0)
        while (atomic_load_explicit(lock, memory_order_relaxed) != 0)
            bench_pause();
}

static inline void bench_ttas_unlock(atomic_int *lock)
{
    atomic_store_explicit(lock, 0, memory_order_release);
}

/* A lock-free multi-producer, single-consumer list: producers push, the consumer takes everything
 * at once and reverses it into arrival order. */
struct bench_mpsc_node {
    struct bench_mpsc_node *next;
};

static inline bool bench_mpsc_push(_Atomic(struct bench_mpsc_node *) *head, struct bench_mpsc_node *node)
{
    struct bench_mpsc_node *old = atomic_load_explicit(head, memory_order_relaxed);

    do
        node->next = old;
    while (!atomic_compare_exchange_weak_explicit(head, &old, node, memory_order_release, memory_order_relaxed));
    return old == NULL;             /* the list was empty: the consumer may need waking */
}

/* Everything pushed so far, oldest first, or NULL. */
struct bench_mpsc_node *bench_mpsc_take_all(_Atomic(struct bench_mpsc_node *) *head);

/* A pthread that is a simulated thread: its first act is a DDI call, which adopts it, before
 * bench_thread_start returns (so a starter waiting in the dispatcher never finds nobody to run). */
struct bench_thread {
    pthread_t host;
    void (*fn)(void *context);
    void *context;
    sem_t adopted;
};

void bench_thread_start(struct bench_thread *thread, void (*fn)(void *context), void *context);
void bench_thread_join(struct bench_thread *thread);

/* The figures. */
void bench_event_ping_pong(const struct bench_options *options);
void bench_interlocked_list(const struct bench_options *options);
void bench_debugprint_msg(const struct bench_options *options);
void bench_debugprint_pipeline(const struct bench_options *options);
void bench_virtual_time(const struct bench_options *options);
void bench_spin_lock(const struct bench_options *options);
void bench_pool(const struct bench_options *options);
void bench_scale(const struct bench_options *options);
void bench_explore(const struct bench_options *options);

#endif /* WDMSIM_BENCH_H */
