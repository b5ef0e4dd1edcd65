/*
 * bench.c - wdmsim-bench: what the simulation costs against the fastest plain host code doing the
 * same work, how fast the DebugPrint pipeline moves events, and whether costs stay flat as the
 * kernel fills up (issues 6 and 15). Each figure is a ratio against a baseline measured in
 * the same run, the two interleaved and repeated, the median kept, because the machines this runs
 * on are shared and noisy. Prints a table for people and one `bench ...` line per figure.
 * Simulator world: host code.
 */
#include <fcntl.h>
#include <linux/futex.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

/* The goal for the full ctest run of the default preset, in seconds. */
#define BENCH_CTEST_GOAL_S 10.0

static bool bench_failed;

double bench_now_ns(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static int bench_compare(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

double bench_percentile(double *values, size_t count, double fraction)
{
    size_t at;

    if (count == 0)
        return NAN;
    qsort(values, count, sizeof *values, bench_compare);
    at = (size_t)(fraction * (double)(count - 1) + 0.5);
    return values[at < count ? at : count - 1];
}

double bench_median(double *values, size_t count)
{
    return bench_percentile(values, count, 0.5);
}

/* The table row first, then the machine-readable line, so a reader of either finds each figure. */
void bench_report(const char *name, bool cost, double ours, double baseline, const char *unit, double goal,
                  const char *note)
{
    double ratio = cost ? ours / baseline : baseline / ours;

    printf("%-34s %14.4g %14.4g  %-10s %8.3f  <= %-5.2f %s\n", name, ours, baseline, unit, ratio, goal,
           ratio <= goal ? "met" : "MISSED");
    if (note != NULL)
        printf("    %s\n", note);
    printf("bench %s ratio=%.3f value=%.6g unit=%s baseline=%.6g\n", name, ratio, ours, unit, baseline);
    fflush(stdout);
}

void bench_report_speedup(const char *name, double simulated_s, double wall_s, double goal, const char *note)
{
    double speedup = simulated_s / wall_s;

    printf("%-34s %14.4g %14.4g  %-10s %8.0fx >= %-5.0f %s\n", name, wall_s, simulated_s, "s", speedup, goal,
           speedup >= goal ? "met" : "MISSED");
    if (note != NULL)
        printf("    %s\n", note);
    printf("bench %s speedup=%.0f value=%.6g unit=wall_s baseline=%.6g\n", name, speedup, wall_s, simulated_s);
    fflush(stdout);
}

void bench_report_failure(const char *name, const char *why)
{
    printf("%-34s FAILED: %s\n", name, why);
    fflush(stdout);
    bench_failed = true;
}

static void bench_futex(atomic_int *word, int op, int value)
{
    syscall(SYS_futex, word, op | FUTEX_PRIVATE_FLAG, value, NULL, NULL, 0);
}

void bench_futex_event_set(struct bench_futex_event *event)
{
    if (atomic_exchange(&event->state, 1) == 2)
        bench_futex(&event->state, FUTEX_WAKE, 1);
}

void bench_futex_event_wait(struct bench_futex_event *event)
{
    int expected;

    for (int i = 0; i < BENCH_SPIN_ROUNDS; i++) {
        expected = 1;
        if (atomic_compare_exchange_weak(&event->state, &expected, 0))
            return;
        bench_pause();
    }
    for (;;) {
        expected = 1;
        if (atomic_compare_exchange_strong(&event->state, &expected, 0))
            return;
        /* expected is 0 or 2 now: say a sleeper is here, then sleep unless it was set meanwhile. */
        if (expected == 2 || atomic_compare_exchange_strong(&event->state, &expected, 2))
            bench_futex(&event->state, FUTEX_WAIT, 2);
    }
}

struct bench_mpsc_node *bench_mpsc_take_all(_Atomic(struct bench_mpsc_node *) *head)
{
    struct bench_mpsc_node *taken = atomic_exchange_explicit(head, NULL, memory_order_acquire), *ordered = NULL;

    while (taken != NULL) {
        struct bench_mpsc_node *next = taken->next;

        taken->next = ordered;
        ordered = taken;
        taken = next;
    }
    return ordered;
}

static void *bench_thread_main(void *arg)
{
    struct bench_thread *thread = arg;

    KeGetCurrentIrql();
    sem_post(&thread->adopted);
    thread->fn(thread->context);
    return NULL;
}

void bench_thread_start(struct bench_thread *thread, void (*fn)(void *context), void *context)
{
    thread->fn = fn;
    thread->context = context;
    if (sem_init(&thread->adopted, 0, 0) != 0 || pthread_create(&thread->host, NULL, bench_thread_main, thread) != 0)
        abort();
    while (sem_wait(&thread->adopted) != 0)
        ;
}

void bench_thread_join(struct bench_thread *thread)
{
    pthread_join(thread->host, NULL);
    sem_destroy(&thread->adopted);
}

/* Figure 6: the default preset's full ctest run, as a child process in the source tree, only when
 * that build exists; the bench never builds it. Its baseline is the goal, not a measurement. */
static void bench_ctest(void)
{
    char marker[4096];
    double start, wall;
    int status;
    pid_t child;

    snprintf(marker, sizeof marker, "%s/build/default/CTestTestfile.cmake", WDMSIM_SOURCE_DIR);
    if (access(marker, R_OK) != 0) {
        printf("ctest_default: skipped (no build/default tree: cmake --preset default && cmake --build --preset default)\n");
        return;
    }
    start = bench_now_ns();
    child = fork();
    if (child == 0) {
        int null = open("/dev/null", O_WRONLY);

        if (null < 0 || dup2(null, STDOUT_FILENO) < 0 || dup2(null, STDERR_FILENO) < 0 || chdir(WDMSIM_SOURCE_DIR) != 0)
            _exit(127);
        execlp("ctest", "ctest", "--preset", "default", (char *)NULL);
        _exit(127);
    }
    if (child < 0 || waitpid(child, &status, 0) != child) {
        bench_report_failure("ctest_default", "could not run ctest");
        return;
    }
    wall = (bench_now_ns() - start) / 1e9;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        bench_report_failure("ctest_default", "ctest --preset default failed: its time is not a figure");
        return;
    }
    bench_report("ctest_default", true, wall, BENCH_CTEST_GOAL_S, "s", 1.0,
                 "ctest --preset default (jobs 2, as built); baseline = the 10 s goal, not a measurement");
}

static void bench_ctest_group(const struct bench_options *options)
{
    if (options->mode == BENCH_FULL || options->only != NULL)
        bench_ctest();
}

static const struct {
    const char *name;
    void (*run)(const struct bench_options *options);
} bench_groups[] = {
    { "ping_pong", bench_event_ping_pong },
    { "list", bench_interlocked_list },
    { "spinlock", bench_spin_lock },
    { "pool", bench_pool },
    { "msg", bench_debugprint_msg },
    { "pipeline", bench_debugprint_pipeline },
    { "virtual_time", bench_virtual_time },
    { "explore", bench_explore },
    { "scale", bench_scale },
    { "ctest", bench_ctest_group },
};

static bool bench_group_known(const char *name)
{
    for (size_t g = 0; g < sizeof bench_groups / sizeof bench_groups[0]; g++)
        if (strcmp(name, bench_groups[g].name) == 0)
            return true;
    return false;
}

static void bench_usage(void)
{
    fprintf(stderr, "usage: wdmsim-bench [--quick] [--smoke] [--only GROUP]\n"
                    "  --quick  fewer iterations (under 30 s), no ctest run\n"
                    "  --smoke  tiny iterations: only checks that every figure is printed\n"
                    "  --only   one group of figures, for profiling: ping_pong, list, spinlock, pool,\n"
                    "           msg, pipeline, virtual_time, explore, scale or ctest\n");
}

int main(int argc, char **argv)
{
    struct bench_options options = { .mode = BENCH_FULL, .repeats = 5 };

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0 && options.mode == BENCH_FULL) {
            options.mode = BENCH_QUICK;
            options.repeats = 3;
        } else if (strcmp(argv[i], "--smoke") == 0) {
            options.mode = BENCH_SMOKE;
            options.repeats = 1;
        } else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc && bench_group_known(argv[i + 1])) {
            options.only = argv[++i];
        } else if (strcmp(argv[i], "--quick") != 0) {
            bench_usage();
            return 2;
        }
    }
    printf("wdmsim-bench (%s mode; each figure the median of %d interleaved runs; lower ratio is better)\n\n",
           options.mode == BENCH_FULL ? "full" : options.mode == BENCH_QUICK ? "quick" : "smoke", options.repeats);
    printf("%-34s %14s %14s  %-10s %8s  %s\n", "figure", "wdmsim", "baseline", "unit", "ratio", "goal");
    for (size_t g = 0; g < sizeof bench_groups / sizeof bench_groups[0]; g++)
        if (options.only == NULL || strcmp(options.only, bench_groups[g].name) == 0)
            bench_groups[g].run(&options);
    return bench_failed ? 1 : 0;
}
