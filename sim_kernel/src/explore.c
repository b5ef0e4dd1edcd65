/*
 * explore.c - wdmsim_explore: a scenario under many controlled schedules, each on a fresh kernel,
 * until one fails. The schedules run in a forked child, one after another (a fork per child, not
 * per schedule); the child sends a record per schedule, and one that stops the machine, leaks or
 * crashes ends the child and the search. The child's own output goes to a file that is emptied at
 * each schedule, so a failure can show what its schedule printed.
 * Locking: host code on the calling thread; the child is a process of its own.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "internal.h"

#define EXPLORE_DEFAULT_STRATEGY "pct:3"
#define EXPLORE_PROGRESS_SECONDS 2.0
#define EXPLORE_OUTPUT_SHOWN 4096

struct explore_run {
    wdmsim_scenario_fn *scenario;
    void *context;
    struct strategy_plan plan;      /* the seed changes per schedule */
    unsigned long long next_seed;   /* the child's first schedule */
    unsigned long long end_seed;    /* one past its last */
    int output_fd;
};

static int crash_fd = -1;

/* A crash that is no simulated thread's (theirs are STOPs, from crash.c, which passes the others
 * on to this), an abort, or a signal sent: the schedule's decisions still reach the parent, then
 * the signal ends the child. */
static void explore_crash_handler(int signal_number)
{
    static struct bugcheck_record record;

    record.kind = BUGCHECK_RECORD_STOP;
    bugcheck_note_signal(&record.stop, signal_number);
    strategy_summarize(&record.schedule);
    bugcheck_write_record(crash_fd, &record);
    signal(signal_number, SIG_DFL);
    raise(signal_number);
}

/* Sanitizer builds: an error AddressSanitizer reports (a use after free, say) ends the child
 * through this, after its report. UBSan's end it without: that child gets an unchecked token. */
void __sanitizer_set_death_callback(void (*callback)(void)) __attribute__((weak));

static void explore_sanitizer_death(void)
{
    static struct bugcheck_record record;

    record.kind = BUGCHECK_RECORD_RETURNED;
    record.sanitizer = true;
    strategy_summarize(&record.schedule);
    bugcheck_write_record(crash_fd, &record);
}

static void explore_catch_crashes(int fd)
{
    static const int crash_signals[] = { SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT };

    crash_fd = fd;
    for (size_t i = 0; i < sizeof crash_signals / sizeof crash_signals[0]; i++)
        signal(crash_signals[i], explore_crash_handler);
    if (__sanitizer_set_death_callback != NULL)
        __sanitizer_set_death_callback(explore_sanitizer_death);
}

static void explore_one(const struct explore_run *run, unsigned long long seed, struct bugcheck_record *record)
{
    struct wdmsim_config config = { .clock = WDMSIM_CLOCK_VIRTUAL };
    struct strategy_plan plan = run->plan;

    if (ftruncate(run->output_fd, 0) != 0 || lseek(run->output_fd, 0, SEEK_SET) != 0)
        abort();
    plan.seed = plan.replay ? plan.seed : seed;
    strategy_override(&plan);
    wdmsim_boot(&config);
    run->scenario(run->context);
    memset(record, 0, sizeof *record);
    record->kind = BUGCHECK_RECORD_RETURNED;
    record->leaks = wdmsim_shutdown();
    /* What it printed belongs to this schedule's output, before the next one empties it. */
    fflush(stdout);
    /* Naming the decisions costs a symbol look-up each: only a failure needs them. */
    if (record->leaks != 0)
        strategy_summarize(&record->schedule);
    record->steps = strategy_steps();
}

/* One thread runs at a time, so the child needs one processor, and on one a hand-off of the turn
 * is a switch on the spot rather than a wake-up sent to another processor. Its threads inherit it. */
static void explore_one_processor(void)
{
    cpu_set_t one;
    int cpu = sched_getcpu();

    CPU_ZERO(&one);
    CPU_SET(cpu >= 0 ? cpu : 0, &one);
    sched_setaffinity(0, sizeof one, &one);
}

static void explore_child_body(int fd, void *context)
{
    static struct bugcheck_record record;
    struct explore_run *run = context;

    explore_catch_crashes(fd);
    explore_one_processor();
    if (dup2(run->output_fd, STDOUT_FILENO) < 0 || dup2(run->output_fd, STDERR_FILENO) < 0)
        abort();
    for (unsigned long long seed = run->next_seed; seed != run->end_seed; seed++) {
        explore_one(run, seed, &record);
        bugcheck_write_record(fd, &record);
        if (record.leaks != 0)
            return;
        /* dfs finds its next schedule in the decisions of the one that just ran. */
        if (run->plan.kind == STRATEGY_DFS && !strategy_dfs_next(&run->plan)) {
            memset(&record, 0, sizeof record);
            record.kind = BUGCHECK_RECORD_EXHAUSTED;
            bugcheck_write_record(fd, &record);
            return;
        }
    }
}

/* ---- The parent's side ---- */

struct explore_search {
    const struct wdmsim_explore_config *config;
    FILE *report;
    struct explore_run run;
    struct wdmsim_explore_result *result;
    double started, last_progress;
    bool diverged;                  /* a replay whose schedule no longer matches its token */
};

static void explore_output_of_schedule(int fd, char *buf, size_t size)
{
    off_t length = lseek(fd, 0, SEEK_END);
    off_t from = length > (off_t)size - 1 ? length - (off_t)size + 1 : 0;
    ssize_t got = pread(fd, buf, size - 1, from);

    buf[got > 0 ? got : 0] = '\0';
}

static void explore_print_failure(struct explore_search *search, const struct bugcheck_record *record,
                                  const char *what)
{
    static char output[EXPLORE_OUTPUT_SHOWN];
    FILE *out = search->report;

    explore_output_of_schedule(search->run.output_fd, output, sizeof output);
    if (search->result->schedules == 0)
        fprintf(out, "wdmsim explore: pct's first run, which measures the scenario's length with one priority "
                "(pct:1, seed 0) before any seed is tried, failed: %s\n", what);
    else
        fprintf(out, "wdmsim explore: schedule %llu (seed %llu) failed: %s\n", search->result->schedules,
                search->result->seed, what);
    if (record->stop.stopped)
        fputs(record->stop.report, out);
    if (output[0] != '\0')
        fprintf(out, "What the schedule printed (its last %d bytes at most):\n%s%s", EXPLORE_OUTPUT_SHOWN, output,
                output[strlen(output) - 1] == '\n' ? "" : "\n");
    strategy_print_failure(out, &record->schedule);
    fprintf(out, "(The command replays the schedule in every kernel the program boots: in a program of several "
            "tests, replay it with wdmsim_explore and .strategy = \"replay:%s\" on this scenario.)\n",
            record->schedule.token);
    fflush(out);
}

static void explore_describe(const struct bugcheck_record *record, char *what, size_t size)
{
    if (record->sanitizer)
        snprintf(what, size, "a sanitizer found an error (its report is in what the schedule printed)");
    else if (record->exit_status != 0)
        snprintf(what, size, "its process exited with status %d and no report (the scenario called exit, or a "
                 "sanitizer stopped it: see what it printed)", record->exit_status);
    else if (record->stop.stopped)
        snprintf(what, size, "STOP 0x%08X %s%s%s", record->stop.code, record->stop.code_name,
                 record->stop.rule[0] ? ", rule " : "", record->stop.rule);
    else if (record->stop.exit_signal != 0)
        snprintf(what, size, "crashed with signal %d (%s)", record->stop.exit_signal,
                 strsignal(record->stop.exit_signal));
    else
        snprintf(what, size, "wdmsim_shutdown found %zu leaked resource(s)", record->leaks);
}

static void explore_fail(struct explore_search *search, const struct bugcheck_record *record, unsigned long long seed)
{
    struct wdmsim_explore_result *result = search->result;
    char what[160];

    result->failed = 1;
    result->seed = seed;
    result->stop = record->stop;
    result->leaks = record->leaks;
    snprintf(result->token, sizeof result->token, "%s", record->schedule.token);
    snprintf(result->strategy, sizeof result->strategy, "%s", record->schedule.strategy);
    explore_describe(record, what, sizeof what);
    if (!record->stop.stopped && record->stop.exit_signal == 0)
        explore_output_of_schedule(search->run.output_fd, result->stop.report, sizeof result->stop.report);
    explore_print_failure(search, record, what);
}

static void explore_progress(struct explore_search *search)
{
    double now = clock_host_seconds();

    if (now - search->last_progress < EXPLORE_PROGRESS_SECONDS)
        return;
    search->last_progress = now;
    fprintf(search->report, "wdmsim explore: %llu schedules, %.0f/s, 0 failures\n", search->result->schedules,
            (double)search->result->schedules / (now - search->started));
    fflush(search->report);
}

/* A replay that no longer matches its token ends its child with status 2 and says where. */
static bool explore_replay_diverged(struct explore_search *search, int signal_number, int exit_status)
{
    static char output[EXPLORE_OUTPUT_SHOWN];

    if (!search->run.plan.replay || signal_number != 0 || exit_status != 2)
        return false;
    explore_output_of_schedule(search->run.output_fd, output, sizeof output);
    fprintf(search->report, "wdmsim explore: the replay was refused:\n%s", output);
    search->diverged = true;
    return true;
}

/* A child that ended without a record for the schedule it ran: a signal, or an exit of its own. */
static void explore_child_vanished(struct explore_search *search, unsigned long long seed, int signal_number,
                                   int exit_status)
{
    static struct bugcheck_record record;
    struct strategy_plan plan = search->run.plan;

    if (explore_replay_diverged(search, signal_number, exit_status))
        return;
    memset(&record, 0, sizeof record);
    plan.seed = plan.replay ? plan.seed : seed;
    strategy_summarize_plan(&plan, &record.schedule);
    record.exit_status = signal_number == 0 ? exit_status : 0;
    if (signal_number != 0)
        bugcheck_note_signal(&record.stop, signal_number);
    explore_fail(search, &record, seed);
}

/* Runs seeds [from, end) in children until all have run or one fails; counts what ran. */
static void explore_seeds(struct explore_search *search, unsigned long long from, unsigned long long end,
                          bool counted)
{
    static struct bugcheck_record record;

    while (from != end && !search->result->failed && !search->diverged) {
        int fd, signal_number, exit_status;
        pid_t child;

        search->run.next_seed = from;
        search->run.end_seed = end;
        child = bugcheck_fork(explore_child_body, &search->run, &fd);
        while (from != end && bugcheck_read_record(fd, &record)) {
            if (record.kind == BUGCHECK_RECORD_EXHAUSTED) {
                from = end;
                break;
            }
            search->result->schedules += counted;
            if (bugcheck_record_failed(&record)) {
                explore_fail(search, &record, from);
                break;
            }
            search->run.plan.length = counted ? search->run.plan.length : record.steps;
            from++;
            explore_progress(search);
        }
        close(fd);
        signal_number = bugcheck_wait_child(child, &exit_status);
        if (!search->result->failed && from != end) {
            search->result->schedules += counted;
            explore_child_vanished(search, from, signal_number, exit_status);
        }
    }
}

static bool explore_configure(const struct wdmsim_explore_config *config, wdmsim_scenario_fn *scenario,
                              struct strategy_plan *plan)
{
    const char *env = getenv("WDMSIM_SCHED");
    const char *strategy = config && config->strategy ? config->strategy : EXPLORE_DEFAULT_STRATEGY;
    char error[256];

    if (env != NULL && strncmp(env, "replay:", 7) == 0)
        strategy = env;
    if (config == NULL || scenario == NULL) {
        fprintf(stderr, "wdmsim_explore: %s is NULL; nothing was run\n", config == NULL ? "the configuration"
                                                                                      : "the scenario");
        return false;
    }
    if (!strategy_parse_kind(strategy, plan, error, sizeof error)) {
        fprintf(stderr, "wdmsim_explore: %s; nothing was run\n", error);
        return false;
    }
    if (plan->kind == STRATEGY_DFS && !plan->replay && config->first_seed != 0) {
        fprintf(stderr, "wdmsim_explore: dfs enumerates its schedules from the first: first_seed must be 0; "
                "nothing was run\n");
        return false;
    }
    if (!plan->replay && config->seeds == 0) {
        fprintf(stderr, "wdmsim_explore: seeds is 0: say how many schedules to try; nothing was run\n");
        return false;
    }
    return true;
}

/* pct's change points fall among the scenario's decisions: one single-priority schedule (pct:1,
 * seed 0) measures how many there are, so a seed means the same schedule in any range. */
static void explore_calibrate(struct explore_search *search)
{
    struct strategy_plan pct = search->run.plan;

    search->run.plan.depth = 1;
    explore_seeds(search, 0, 1, false);
    pct.length = search->run.plan.length > 0 ? search->run.plan.length : 1;
    search->run.plan = pct;
}

int wdmsim_explore(const struct wdmsim_explore_config *config, wdmsim_scenario_fn *scenario, void *context,
                   struct wdmsim_explore_result *result)
{
    struct explore_search search = { .config = config, .result = result };
    unsigned long long first = config ? config->first_seed : 0, count = config ? config->seeds : 0;

    memset(result, 0, sizeof *result);
    if (!explore_configure(config, scenario, &search.run.plan))
        return -1;
    search.report = config->report ? config->report : stderr;
    search.run.scenario = scenario;
    search.run.context = context;
    search.run.output_fd = memfd_create("wdmsim-explore-output", 0);
    if (search.run.output_fd < 0)
        abort();
    search.started = search.last_progress = clock_host_seconds();
    if (search.run.plan.replay)
        explore_seeds(&search, search.run.plan.seed, search.run.plan.seed + 1, true);
    else {
        if (search.run.plan.kind == STRATEGY_PCT)
            explore_calibrate(&search);
        explore_seeds(&search, first, first + count, true);
    }
    close(search.run.output_fd);
    return search.diverged ? -1 : result->failed;
}
