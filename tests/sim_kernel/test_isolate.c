/*
 * test_isolate.c - runs in a child of their own: how wdmsim_run_isolated and
 * wdmsim_run_expecting_stop say a scenario ended (finished, leaked, exited, timed out), where the
 * child's output goes, that only the child made for the run reports a STOP through it, and that a
 * case of an isolated suite can skip itself.
 */
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <ntddk.h>

#include <wdmsim/test.h>

static void allocates_and_frees(void *context)
{
    (void)context;
    ExFreePoolWithTag(ExAllocatePoolWithTag(NonPagedPool, 8, 'eerF'), 'eerF');
}

static void leaks_a_block(void *context)
{
    (void)context;
    ExAllocatePoolWithTag(NonPagedPool, 8, 'kaeL');
}

static void leaks_a_block_it_allows(void *context)
{
    wdmsim_allow_leaks();
    leaks_a_block(context);
}

/* _exit, so that no sanitizer's check at exit changes the status. */
static void prints_and_exits(void *context)
{
    (void)context;
    printf("on stdout\n");
    fprintf(stderr, "on stderr\n");
    fflush(NULL);
    _exit(5);
}

static void an_isolated_scenario_that_returns_clean_has_finished(void **state)
{
    struct wdmsim_stop result;

    (void)state;
    wdmsim_run_isolated(allocates_and_frees, NULL, NULL, 0, &result);
    assert_true(result.finished);
    assert_false(result.stopped);
    assert_int_equal(result.exit_signal, 0);
    assert_int_equal(result.leaks, 0);
    assert_string_equal(result.report, "");
}

static void an_isolated_scenario_that_leaks_reports_the_leak_and_its_lines(void **state)
{
    struct wdmsim_stop result;
    FILE *output = tmpfile();
    char text[2048] = "";

    (void)state;
    assert_non_null(output);
    wdmsim_run_isolated(leaks_a_block, NULL, output, 0, &result);
    rewind(output);
    assert_true(fread(text, 1, sizeof text - 1, output) > 0);
    fclose(output);
    assert_true(result.finished);
    assert_int_equal(result.leaks, 1);
    assert_non_null(strstr(result.report, "1 leaked resource"));
    assert_non_null(strstr(text, "Leak"));
}

static void leaks_a_scenario_allows_are_not_counted(void **state)
{
    struct wdmsim_stop result;
    FILE *output = tmpfile();

    (void)state;
    wdmsim_run_isolated(leaks_a_block_it_allows, NULL, output, 0, &result);
    fclose(output);
    assert_true(result.finished);
    assert_int_equal(result.leaks, 0);
}

static void an_isolated_scenario_that_exits_reports_its_status_and_output(void **state)
{
    struct wdmsim_stop result;
    FILE *output = tmpfile();
    char text[256] = "";

    (void)state;
    wdmsim_run_isolated(prints_and_exits, NULL, output, 0, &result);
    rewind(output);
    assert_true(fread(text, 1, sizeof text - 1, output) > 0);
    fclose(output);
    assert_false(result.finished);
    assert_false(result.stopped);
    assert_int_equal(result.exit_status, 5);
    assert_non_null(strstr(result.report, "exit status 5"));
    assert_non_null(strstr(text, "on stdout\n"));
    assert_non_null(strstr(text, "on stderr\n"));
}

static void a_scenario_expected_to_stop_that_leaks_says_so(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_run_expecting_stop(leaks_a_block, NULL, &stop);
    assert_false(stop.stopped);
    assert_true(stop.finished);
    assert_int_equal(stop.leaks, 1);
    assert_non_null(strstr(stop.report, "leaked"));
}

/* A process the scenario forks is not the run's child: its STOP goes to stderr, as a program's. */
static void forks_a_process_that_stops(void *context)
{
    int *exit_status = context;
    int status = 0;
    pid_t child = fork();

    if (child == 0) {
        close(STDERR_FILENO);
        KeBugCheckEx(0xE4, 0, 0, 0, 0);
    }
    waitpid(child, &status, 0);
    *exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    if (*exit_status != WDMSIM_STOP_EXIT_STATUS)
        KeBugCheckEx(0xE0000001, (ULONG_PTR)*exit_status, 0, 0, 0);
}

static void a_process_the_scenario_forks_stops_as_a_program_does(void **state)
{
    struct wdmsim_stop result;
    int exit_status = 0;

    (void)state;
    wdmsim_run_isolated(forks_a_process_that_stops, &exit_status, NULL, 0, &result);
    assert_false(result.stopped);
    assert_true(result.finished);
}

static volatile int spinning = 1;

static void spins_without_a_DDI(void *context)
{
    (void)context;
    while (spinning)
        ;
}

/* The one case here that waits for host time: a second, the shortest limit there is. */
static void a_scenario_still_running_at_its_time_limit_is_killed_and_says_so(void **state)
{
    struct wdmsim_stop result;

    (void)state;
    wdmsim_run_isolated(spins_without_a_DDI, NULL, NULL, 1, &result);
    assert_true(result.timed_out);
    assert_false(result.finished);
    assert_false(result.stopped);
    assert_int_equal(result.exit_signal, SIGKILL);
    assert_non_null(strstr(result.report, "did not end within 1 s"));
}

/* skip() ends the case's child at once: CMocka's own jump would run the next cases in the child. */
static void a_case_that_skips_itself_is_reported_skipped(void **state)
{
    (void)state;
    skip();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        wdmsim_test(an_isolated_scenario_that_returns_clean_has_finished),
        wdmsim_test(an_isolated_scenario_that_leaks_reports_the_leak_and_its_lines),
        wdmsim_test(leaks_a_scenario_allows_are_not_counted),
        wdmsim_test(an_isolated_scenario_that_exits_reports_its_status_and_output),
        wdmsim_test(a_scenario_expected_to_stop_that_leaks_says_so),
        wdmsim_test(a_process_the_scenario_forks_stops_as_a_program_does),
        wdmsim_test(a_case_that_skips_itself_is_reported_skipped),
        wdmsim_test(a_scenario_still_running_at_its_time_limit_is_killed_and_says_so),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
