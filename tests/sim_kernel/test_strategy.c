/*
 * test_strategy.c - who gets the turn in controlled mode. One simulated thread runs at a time; the
 * same plan and seed make the same decisions, so the same order of DDI calls, every time; pct with
 * depth 1 runs the highest-priority thread until it blocks; WDMSIM_SCHED that names no plan is
 * refused before anything runs. Orders are observed, never timed.
 */
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <wdmsim/test.h>
#include "wdmsim_test_threads.h"

#define THREADS 3
#define STEPS 6
#define SEEDS 10
#define HOST_ROUNDS 100000

/* The order in which the threads passed their steps: thread index per step. */
struct trace {
    int order[THREADS * STEPS];
    atomic_int length;
    atomic_int running;             /* threads between two DDI calls right now */
    atomic_int most_running;
};

static struct trace trace;

static void note_running(void)
{
    int now = atomic_fetch_add(&trace.running, 1) + 1;

    if (now > atomic_load(&trace.most_running))
        atomic_store(&trace.most_running, now);
    /* Host code with no DDI in it: in controlled mode no other thread can run meanwhile. */
    for (volatile int i = 0; i < HOST_ROUNDS; i++)
        ;
    atomic_fetch_sub(&trace.running, 1);
}

static void take_steps(void *context)
{
    int index = (int)(ULONG_PTR)context;
    LARGE_INTEGER now;

    for (int step = 0; step < STEPS; step++) {
        KeQuerySystemTime(&now);
        trace.order[atomic_fetch_add(&trace.length, 1)] = index;
        note_running();
    }
}

/* Boots with schedule, runs THREADS threads taking STEPS steps each, and shuts down. */
static void run_traced(const char *schedule, struct trace *out)
{
    struct wdmsim_config config = { .clock = WDMSIM_CLOCK_VIRTUAL, .schedule = schedule };
    struct wdmsim_test_thread threads[THREADS];

    memset(&trace, 0, sizeof trace);
    wdmsim_boot(&config);
    for (int i = 0; i < THREADS; i++)
        wdmsim_test_thread_start(&threads[i], take_steps, (void *)(ULONG_PTR)i);
    for (int i = 0; i < THREADS; i++)
        wdmsim_test_thread_join(&threads[i]);
    assert_int_equal(wdmsim_shutdown(), 0);
    *out = trace;
    assert_int_equal(atomic_load(&out->length), THREADS * STEPS);
}

static bool same_order(const struct trace *a, const struct trace *b)
{
    return memcmp(a->order, b->order, sizeof a->order) == 0;
}

static void a_seed_makes_the_same_order_of_DDI_calls_every_time(void **state)
{
    struct trace first, again;

    (void)state;
    run_traced("random:7", &first);
    for (int i = 0; i < 5; i++) {
        run_traced("random:7", &again);
        assert_true(same_order(&first, &again));
    }
    run_traced("pct:3:7", &first);
    run_traced("pct:3:7", &again);
    assert_true(same_order(&first, &again));
}

static void other_seeds_make_other_orders(void **state)
{
    struct trace first, other;
    bool differs = false;

    (void)state;
    run_traced("random:0", &first);
    for (int seed = 1; seed < SEEDS && !differs; seed++) {
        char schedule[32];

        snprintf(schedule, sizeof schedule, "random:%d", seed);
        run_traced(schedule, &other);
        differs = !same_order(&first, &other);
    }
    assert_true(differs);
}

static void only_one_thread_runs_between_two_scheduling_points(void **state)
{
    struct trace seen;

    (void)state;
    run_traced("random:3", &seen);
    assert_int_equal(atomic_load(&seen.most_running), 1);
}

/* pct:1 has no change point: the thread with the highest priority keeps the turn until it ends,
 * so each thread's steps come in one run. */
static void pct_with_depth_1_runs_each_thread_to_its_end(void **state)
{
    struct trace seen;

    (void)state;
    for (int seed = 0; seed < SEEDS; seed++) {
        char schedule[32];
        int runs = 1;

        snprintf(schedule, sizeof schedule, "pct:1:%d", seed);
        run_traced(schedule, &seen);
        for (int i = 1; i < THREADS * STEPS; i++)
            runs += seen.order[i] != seen.order[i - 1];
        assert_int_equal(runs, THREADS);
    }
}

/* Runs this program again as `program --boot` with WDMSIM_SCHED=value; its exit status and
 * what it wrote on stderr. */
static int boot_under(const char *value, char *err, size_t size)
{
    int fds[2], status;
    ssize_t got;
    pid_t child;

    assert_int_equal(pipe(fds), 0);
    fflush(NULL);
    child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        dup2(fds[1], STDERR_FILENO);
        setenv("WDMSIM_SCHED", value, 1);
        execl("/proc/self/exe", "test_strategy", "--boot", (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    got = read(fds[0], err, size - 1);
    err[got > 0 ? got : 0] = '\0';
    close(fds[0]);
    assert_int_equal(waitpid(child, &status, 0), child);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void WDMSIM_SCHED_that_names_no_plan_is_refused_before_anything_runs(void **state)
{
    static const char *const bad[] = { "fifo:3", "random", "random:x", "pct:0:1", "pct:3", "replay:w1-zz" };
    char err[1024];

    (void)state;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(boot_under(bad[i], err, sizeof err), 2);
        assert_non_null(strstr(err, "WDMSIM_SCHED"));
        assert_non_null(strstr(err, "nothing was run"));
        assert_null(strstr(err, "booted"));
    }
    assert_int_equal(boot_under("pct:3:1", err, sizeof err), 0);
    assert_non_null(strstr(err, "booted"));
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_seed_makes_the_same_order_of_DDI_calls_every_time),
        cmocka_unit_test(other_seeds_make_other_orders),
        cmocka_unit_test(only_one_thread_runs_between_two_scheduling_points),
        cmocka_unit_test(pct_with_depth_1_runs_each_thread_to_its_end),
        cmocka_unit_test(WDMSIM_SCHED_that_names_no_plan_is_refused_before_anything_runs),
    };

    if (argc == 2 && strcmp(argv[1], "--boot") == 0) {
        KeGetCurrentIrql();
        fprintf(stderr, "booted\n");
        return (int)wdmsim_shutdown();
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
