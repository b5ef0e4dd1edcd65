/*
 * bench_explore.c - figure 7: controlled schedules per second. The scenario is DebugPrint's life in
 * small: the DebugPrint driver and BenchDrv load (DebugPrintInit), BenchDrv traces three events,
 * then both unload (DebugPrintClose). wdmsim_explore runs it under pct:3, each schedule on a fresh
 * kernel; the baseline is the same scenario free running, a fresh kernel each run, in-process, on
 * every processor or on one, whichever is faster.
 * The ratio is the cost of one explored schedule over one free run. Simulator world: host code.
 */
#define _GNU_SOURCE
#include <sched.h>
#include <stdio.h>

#include "bench.h"

#define BENCH_EXPLORE_DRIVER "BenchDrv"

typedef VOID (*bench_msg_fn)(PCHAR Message);

static VOID NTAPI bench_explore_prints(PVOID context)
{
    bench_msg_fn msg = (bench_msg_fn)context;
    static char text[] = "explore: a trace event";
    KIRQL old;

    msg(text);
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    msg(text);
    KeLowerIrql(old);
    msg(text);
}

static void bench_explore_prints_as_driver(void *context)
{
    bench_explore_prints(context);
}

/* Init, three prints (PASSIVE, DISPATCH, PASSIVE), close: a STOP if any step fails. */
static void bench_explore_scenario(void *unused)
{
    PDRIVER_OBJECT debugprint, benchdrv;
    void *msg;

    (void)unused;
    if (!NT_SUCCESS(wdmsim_driver_load_module(BENCH_DEBUGPRINT_MODULE, "DebugPrint", &debugprint)) ||
        !NT_SUCCESS(wdmsim_driver_load_module(BENCH_BENCHDRV_MODULE, BENCH_EXPLORE_DRIVER, &benchdrv)) ||
        (msg = wdmsim_driver_symbol(benchdrv, "DebugPrintMsg")) == NULL)
        KeBugCheckEx(0xE0000007, 0, 0, 0, 0);
    wdmsim_run_as_driver(BENCH_EXPLORE_DRIVER, bench_explore_prints_as_driver, msg);
    wdmsim_driver_unload(benchdrv);
    wdmsim_driver_unload(debugprint);
}

static double bench_free_runs(unsigned long runs)
{
    struct wdmsim_config config = { .clock = WDMSIM_CLOCK_VIRTUAL, .schedule = "free" };
    double start = bench_now_ns();

    for (unsigned long i = 0; i < runs; i++) {
        wdmsim_boot(&config);
        bench_explore_scenario(NULL);
        if (wdmsim_shutdown() != 0)
            return -1;
    }
    return (bench_now_ns() - start) / (double)runs;
}

/* The same on one processor, as the explorer's children run: a kernel's threads inherit the
 * booting thread's affinity. On a virtual machine a wake-up sent to another processor costs more
 * than the parallelism gains, so this is often the stronger baseline. */
static double bench_free_runs_on_one_processor(unsigned long runs)
{
    cpu_set_t all, one;
    double ns;

    if (sched_getaffinity(0, sizeof all, &all) != 0)
        return -1;
    CPU_ZERO(&one);
    CPU_SET(sched_getcpu() >= 0 ? sched_getcpu() : 0, &one);
    sched_setaffinity(0, sizeof one, &one);
    ns = bench_free_runs(runs);
    sched_setaffinity(0, sizeof all, &all);
    return ns;
}

/* The stronger of the two free-running baselines. */
static double bench_best_free_runs(unsigned long runs)
{
    double spread = bench_free_runs(runs), one = bench_free_runs_on_one_processor(runs);

    if (spread < 0 || one < 0)
        return -1;
    return spread < one ? spread : one;
}

static double bench_explored(unsigned long long first, unsigned long long seeds)
{
    struct wdmsim_explore_config config = { "pct:3", first, seeds, NULL };
    struct wdmsim_explore_result result;
    double start = bench_now_ns();

    if (wdmsim_explore(&config, bench_explore_scenario, NULL, &result) != 0)
        return -1;
    return (bench_now_ns() - start) / (double)seeds;
}

void bench_explore(const struct bench_options *options)
{
    unsigned long per_repeat = options->mode == BENCH_FULL ? 2000 : options->mode == BENCH_QUICK ? 500 : 10;
    double ours[8], baseline[8];
    char note[224];
    int repeats = options->repeats < 8 ? options->repeats : 8;

    for (int r = 0; r < repeats; r++) {
        ours[r] = bench_explored((unsigned long long)r * per_repeat, per_repeat);
        baseline[r] = bench_best_free_runs(per_repeat);
        if (ours[r] < 0 || baseline[r] < 0) {
            bench_report_failure("explore", "a schedule of the DebugPrint scenario failed or leaked");
            return;
        }
    }
    snprintf(note, sizeof note, "DebugPrint init + 3 prints + close under pct:3, %lu schedules a run; baseline: "
             "the same free running, fresh kernel each, on all or one processor(s), the faster", per_repeat);
    bench_report("explore", false, 1e9 / bench_median(ours, (size_t)repeats),
                 1e9 / bench_median(baseline, (size_t)repeats), "sched/s", 2.0, note);
}
