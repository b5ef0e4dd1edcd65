/*
 * isolate.c - runs in a child process of their own: wdmsim_run_isolated (what add_wdmsim_test()
 * suites run each case in) and wdmsim_run_expecting_stop. The child forgets the caller's kernel,
 * runs the scenario, shuts down the kernel it leaves and sends one record: a STOP (from the
 * bugcheck path itself), or "finished" with the leaks its shutdowns found. A child that ends
 * without a record crashed or exited; the parent says which. A run may have a time limit: a child
 * still silent then is killed.
 * Locking: host code on the caller's thread; the child is a process of its own.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

struct isolated_run {
    wdmsim_scenario_fn *scenario;
    void *context;
    bool boot;                      /* boot with the configuration of the caller's latest boot */
    int output_fd;                  /* the child's stdout and stderr; -1: the caller's */
    unsigned timeout_seconds;       /* of host time; 0: none */
};

static bool leaks_allowed;          /* in the child: wdmsim_allow_leaks() was called */

void wdmsim_allow_leaks(void)
{
    leaks_allowed = true;
}

static void isolate_redirect_output(int fd)
{
    if (fd < 0)
        return;
    if (dup2(fd, STDOUT_FILENO) < 0 || dup2(fd, STDERR_FILENO) < 0)
        abort();
}

static void isolate_child_body(int fd, void *context)
{
    static struct bugcheck_record finished;
    const struct isolated_run *run = context;

    isolate_redirect_output(run->output_fd);
    leaks_allowed = false;
    if (run->boot)
        wdmsim_boot(kernel_last_config());
    run->scenario(run->context);
    wdmsim_shutdown();
    fflush(stdout);
    fflush(stderr);
    finished.kind = BUGCHECK_RECORD_RETURNED;
    finished.leaks = leaks_allowed ? 0 : kernel_leaks_found();
    bugcheck_write_record(fd, &finished);
}

/* What ended a run, as one line of its report when no STOP report says it. */
static void isolate_describe(struct wdmsim_stop *result, unsigned timeout_seconds)
{
    if (result->timed_out)
        snprintf(result->report, sizeof result->report, "the scenario did not end within %u s of host time and "
                 "was killed: a hang the simulator cannot see (a loop that calls no DDI, a wait on host "
                 "code), or a run that needs more time\n", timeout_seconds);
    else if (result->exit_signal != 0)
        bugcheck_note_signal(result, result->exit_signal);
    else if (!result->finished && !result->stopped)
        snprintf(result->report, sizeof result->report, "the scenario ended its process with exit status %d "
                 "before it returned (exit(), or a sanitizer's report: see what it printed)\n", result->exit_status);
    else if (result->leaks != 0)
        snprintf(result->report, sizeof result->report, "wdmsim_shutdown found %zu leaked resource(s) after the "
                 "scenario, each named on its stderr (wdmsim_allow_leaks() in the scenario accepts them)\n",
                 result->leaks);
}

/* Host time decides only that a run is hung, never what it does: the child writes its one record
 * as it ends, so the pipe stays silent until then. */
static bool isolate_ends_in_time(int fd, pid_t child, unsigned timeout_seconds)
{
    struct pollfd end = { .fd = fd, .events = POLLIN };
    int ready;

    if (timeout_seconds == 0)
        return true;
    while ((ready = poll(&end, 1, (int)(timeout_seconds * 1000u))) < 0 && errno == EINTR)
        ;
    if (ready != 0)
        return true;
    kill(child, SIGKILL);
    return false;
}

static void isolate_run(const struct isolated_run *run, struct wdmsim_stop *result)
{
    static struct bugcheck_record record;
    int fd, exit_status;
    bool got, in_time;
    pid_t child;

    memset(result, 0, sizeof *result);
    child = bugcheck_fork(isolate_child_body, (void *)run, &fd);
    in_time = isolate_ends_in_time(fd, child, run->timeout_seconds);
    got = in_time && bugcheck_read_record(fd, &record);
    close(fd);
    result->exit_signal = bugcheck_wait_child(child, &exit_status);
    if (got && record.kind == BUGCHECK_RECORD_STOP) {
        *result = record.stop;
        return;
    }
    result->timed_out = !in_time;
    result->finished = got && result->exit_signal == 0;
    result->leaks = got ? record.leaks : 0;
    result->exit_status = got ? 0 : exit_status;
    isolate_describe(result, run->timeout_seconds);
}

void wdmsim_run_isolated(wdmsim_scenario_fn *scenario, void *context, FILE *output, unsigned timeout_seconds,
                         struct wdmsim_stop *result)
{
    struct isolated_run run = { scenario, context, wdmsim_is_booted() != 0, -1, timeout_seconds };

    if (output != NULL) {
        fflush(output);
        run.output_fd = fileno(output);
    }
    isolate_run(&run, result);
}

void wdmsim_run_expecting_stop(wdmsim_scenario_fn *scenario, void *context, struct wdmsim_stop *stop)
{
    struct isolated_run run = { scenario, context, true, -1, 0 };

    isolate_run(&run, stop);
    if (stop->finished && stop->leaks == 0)
        snprintf(stop->report, sizeof stop->report, "the scenario returned without a STOP\n");
}
