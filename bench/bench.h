/*
 * bench.h - what the benchmark figures share: the wall clock, medians, the two result lines each
 * figure prints, and simulated threads made from pthreads. Simulator world: host code.
 */
#ifndef WDMSIM_BENCH_H
#define WDMSIM_BENCH_H

#include <pthread.h>
#include <semaphore.h>
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
void bench_explore(const struct bench_options *options);

#endif /* WDMSIM_BENCH_H */
