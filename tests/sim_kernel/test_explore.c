/*
 * test_explore.c - wdmsim_explore: a scenario under many controlled schedules, each on a fresh
 * kernel in its own process. A clean scenario passes every seed; a race is found, reported with a
 * token, and the token replays it - through wdmsim_explore, and in a new process under
 * WDMSIM_SCHED=replay:TOKEN, through wdmsim_run_expecting_stop or called directly; leaks, crashes
 * and livelocks fail a schedule; bad configurations and tokens run nothing.
 */
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <wdmsim/test.h>
#include "wdmsim_test_threads.h"

#define LOST_UPDATE_CODE 0xE0000001u
#define RACE_SEEDS 200
#define REPLAYS 20

/* ---- Scenarios ---- */

static LONG shared_counter;

/* Read, a DDI (a scheduling point), write: two of these can lose an update. */
static void increment_racily(void *unused)
{
    LARGE_INTEGER now;
    LONG seen;

    (void)unused;
    seen = shared_counter;
    KeQuerySystemTime(&now);
    shared_counter = seen + 1;
}

static void two_threads_increment(wdmsim_scenario_fn *increment)
{
    struct wdmsim_test_thread first, second;

    shared_counter = 0;
    wdmsim_test_thread_start(&first, increment, NULL);
    wdmsim_test_thread_start(&second, increment, NULL);
    wdmsim_test_thread_join(&first);
    wdmsim_test_thread_join(&second);
    if (shared_counter != 2)
        KeBugCheckEx(LOST_UPDATE_CODE, (ULONG_PTR)shared_counter, 0, 0, 0);
}

static void lost_update(void *unused)
{
    (void)unused;
    two_threads_increment(increment_racily);
}

/* The same race with another DDI where increment_racily asks the time: the same decisions, but
 * for the point each thread reaches in the middle. */
static void increment_racily_asking_its_id(void *unused)
{
    LONG seen;

    (void)unused;
    seen = shared_counter;
    PsGetCurrentThreadId();
    shared_counter = seen + 1;
}

static void lost_update_asking_ids(void *unused)
{
    (void)unused;
    two_threads_increment(increment_racily_asking_its_id);
}

/* 200 decisions of the main thread alone first: a schedule longer than a token has marks for. */
static void ask_the_time_200_times(void)
{
    LARGE_INTEGER now;

    for (int i = 0; i < 200; i++)
        KeQuerySystemTime(&now);
}

/* The races of the long schedules ask three times, so that their difference spans several groups
 * of a long token's marks: a group's 5-bit mark hides a difference in one build of 32, by where
 * the build put the two DDIs, and the next group catches it. */
static void increment_racily_asking_the_time_thrice(void *unused)
{
    LARGE_INTEGER now;
    LONG seen;

    (void)unused;
    seen = shared_counter;
    for (int i = 0; i < 3; i++)
        KeQuerySystemTime(&now);
    shared_counter = seen + 1;
}

static void increment_racily_asking_its_id_thrice(void *unused)
{
    LONG seen;

    (void)unused;
    seen = shared_counter;
    for (int i = 0; i < 3; i++)
        PsGetCurrentThreadId();
    shared_counter = seen + 1;
}

static void long_lost_update(void *unused)
{
    (void)unused;
    ask_the_time_200_times();
    two_threads_increment(increment_racily_asking_the_time_thrice);
}

static void long_lost_update_asking_ids(void *unused)
{
    (void)unused;
    ask_the_time_200_times();
    two_threads_increment(increment_racily_asking_its_id_thrice);
}

static KSPIN_LOCK counter_lock;

static void increment_under_a_spin_lock(void *unused)
{
    LARGE_INTEGER now;
    KIRQL irql;

    (void)unused;
    KeAcquireSpinLock(&counter_lock, &irql);
    shared_counter++;
    KeQuerySystemTime(&now);
    KeReleaseSpinLock(&counter_lock, irql);
}

static void locked_update(void *unused)
{
    (void)unused;
    KeInitializeSpinLock(&counter_lock);
    two_threads_increment(increment_under_a_spin_lock);
}

static void leak_a_pool_block(void *unused)
{
    (void)unused;
    ExAllocatePoolWithTag(NonPagedPool, 16, 'kaeL');
}

static void dereference_null(void *unused)
{
    volatile LONG *nowhere = NULL;

    (void)unused;
    KeQuerySystemTime(&(LARGE_INTEGER){ 0 });
    *nowhere = 1;
}

static void print_and_exit(void *unused)
{
    (void)unused;
    fprintf(stderr, "giving up here\n");
    exit(3);
}

static void print_then_leak(void *unused)
{
    (void)unused;
    printf("printed on stdout before the leak\n");
    leak_a_pool_block(NULL);
}

static volatile LONG never_set;

static void poll_for_ever(void *unused)
{
    LARGE_INTEGER now;

    (void)unused;
    while (never_set == 0)
        KeQuerySystemTime(&now);
}

/* ---- Helpers ---- */

static FILE *quiet(void)
{
    FILE *sink = fopen("/dev/null", "w");

    assert_non_null(sink);
    return sink;
}

static int explore(const char *strategy, unsigned long long first, unsigned long long seeds,
                   wdmsim_scenario_fn *scenario, struct wdmsim_explore_result *result, FILE *report)
{
    struct wdmsim_explore_config config = { strategy, first, seeds, report };

    return wdmsim_explore(&config, scenario, NULL, result);
}

static void find_lost_update(struct wdmsim_explore_result *result)
{
    assert_int_equal(explore("random", 0, RACE_SEEDS, lost_update, result, NULL), 1);
    assert_int_equal(result->failed, 1);
    assert_int_equal(result->stop.code, LOST_UPDATE_CODE);
    assert_true(result->token[0] != '\0');
}

/* ---- Cases ---- */

static void a_clean_scenario_passes_every_seed_and_counts_them(void **state)
{
    struct wdmsim_explore_result result;

    (void)state;
    assert_int_equal(explore("random", 0, 50, locked_update, &result, NULL), 0);
    assert_int_equal(result.schedules, 50);
    assert_int_equal(result.failed, 0);
    assert_int_equal(explore("pct:3", 100, 50, locked_update, &result, NULL), 0);
    assert_int_equal(result.schedules, 50);
}

static void a_lost_update_is_found_and_reported_with_its_seed_and_token(void **state)
{
    struct wdmsim_explore_result result;

    (void)state;
    find_lost_update(&result);
    assert_true(result.schedules >= 1 && result.schedules <= RACE_SEEDS);
    assert_int_equal(result.seed, result.schedules - 1);
    assert_true(result.stop.stopped);
    assert_int_equal(result.stop.params[0], 1);
    assert_non_null(strstr(result.strategy, "random:"));
}

static void a_token_replays_the_same_failure_every_time(void **state)
{
    struct wdmsim_explore_result found, again;
    char strategy[300];
    FILE *sink = quiet();

    (void)state;
    find_lost_update(&found);
    snprintf(strategy, sizeof strategy, "replay:%s", found.token);
    for (int i = 0; i < REPLAYS; i++) {
        assert_int_equal(explore(strategy, 0, 1, lost_update, &again, sink), 1);
        assert_int_equal(again.stop.code, LOST_UPDATE_CODE);
        assert_string_equal(again.token, found.token);
    }
    fclose(sink);
}

static void the_same_seed_fails_the_same_way_in_a_narrower_range(void **state)
{
    struct wdmsim_explore_result wide, narrow;

    (void)state;
    find_lost_update(&wide);
    assert_int_equal(explore("random", wide.seed, 1, lost_update, &narrow, NULL), 1);
    assert_int_equal(narrow.seed, wide.seed);
    assert_string_equal(narrow.token, wide.token);
}

static void a_scenario_that_leaks_fails_with_what_the_shutdown_found(void **state)
{
    struct wdmsim_explore_result result;
    FILE *sink = quiet();

    (void)state;
    assert_int_equal(explore("random", 0, 10, leak_a_pool_block, &result, sink), 1);
    assert_int_equal(result.schedules, 1);
    assert_int_equal(result.stop.stopped, 0);
    assert_int_equal(result.leaks, 1);
    assert_non_null(strstr(result.stop.report, "leaked pool blocks"));
    assert_int_equal(explore("random", 0, 10, print_then_leak, &result, sink), 1);
    assert_non_null(strstr(result.stop.report, "printed on stdout before the leak"));
    assert_non_null(strstr(result.stop.report, "Leak"));
    fclose(sink);
}

static void a_crash_fails_the_schedule_with_its_STOP_and_a_token_that_replays_it(void **state)
{
    struct wdmsim_explore_result result, again;
    char strategy[300];
    FILE *sink = quiet();

    (void)state;
    assert_int_equal(explore("pct:3", 0, 10, dereference_null, &result, sink), 1);
    /* Under a sanitizer its own report (UBSan's "runtime error", ASan's) may come first, and end
     * the process. */
    if (result.stop.code != 0x1E)
        print_message("exit signal %d, report:\n%s\n", result.stop.exit_signal, result.stop.report);
    assert_true((result.stop.code == 0x1E && strcmp(result.stop.rule, "crash.access_violation") == 0) ||
                strstr(result.stop.report, "Sanitizer") != NULL || strstr(result.stop.report, "runtime error") != NULL);
    assert_true(result.token[0] != '\0');
    snprintf(strategy, sizeof strategy, "replay:%s", result.token);
    assert_int_equal(explore(strategy, 0, 1, dereference_null, &again, sink), 1);
    assert_int_equal(again.stop.code, result.stop.code);
    assert_int_equal(again.stop.exit_signal, result.stop.exit_signal);
    fclose(sink);
}

static void a_scenario_that_exits_fails_with_its_status_and_what_it_printed(void **state)
{
    struct wdmsim_explore_result result;
    FILE *report = tmpfile();
    char text[4096];
    size_t length;

    (void)state;
    assert_int_equal(explore("random", 0, 10, print_and_exit, &result, report), 1);
    rewind(report);
    length = fread(text, 1, sizeof text - 1, report);
    text[length] = '\0';
    fclose(report);
    assert_non_null(strstr(text, "exited with status 3"));
    assert_non_null(strstr(result.stop.report, "giving up here"));
    assert_int_equal(result.schedules, 1);
    assert_int_equal(result.seed, 0);
}

static void a_scenario_that_never_finishes_stops_as_a_livelock(void **state)
{
    struct wdmsim_explore_result result;
    FILE *sink = quiet();

    (void)state;
    setenv("WDMSIM_SCHED_MAX_STEPS", "5000", 1);
    assert_int_equal(explore("random", 0, 3, poll_for_ever, &result, sink), 1);
    unsetenv("WDMSIM_SCHED_MAX_STEPS");
    assert_string_equal(result.stop.rule, "sched.livelock");
    assert_int_equal(result.stop.code, 0xE2);
    fclose(sink);
}

/* The lost update needs one preemption: between a thread's read and its write. */
static void dfs_without_preemptions_runs_every_schedule_then_stops_and_none_loses_an_update(void **state)
{
    struct wdmsim_explore_result result;

    (void)state;
    assert_int_equal(explore("dfs:0", 0, 1000, lost_update, &result, NULL), 0);
    assert_true(result.schedules >= 2);
    assert_true(result.schedules < 1000);
}

static void dfs_with_one_preemption_finds_the_lost_update_and_its_token_replays_it(void **state)
{
    struct wdmsim_explore_result found, again;
    char strategy[300];

    (void)state;
    assert_int_equal(explore("dfs:1", 0, 1000, lost_update, &found, NULL), 1);
    assert_int_equal(found.stop.code, LOST_UPDATE_CODE);
    assert_non_null(strstr(found.strategy, "dfs:1"));
    snprintf(strategy, sizeof strategy, "replay:%s", found.token);
    assert_int_equal(explore(strategy, 0, 1, lost_update, &again, NULL), 1);
    assert_string_equal(again.token, found.token);
}

static void bad_configurations_run_nothing(void **state)
{
    struct wdmsim_explore_config config = { "random", 0, 1, NULL };
    struct wdmsim_explore_result result;

    (void)state;
    assert_int_equal(wdmsim_explore(&config, NULL, NULL, &result), -1);
    assert_int_equal(wdmsim_explore(NULL, lost_update, NULL, &result), -1);
    assert_int_equal(explore("random", 0, 0, lost_update, &result, NULL), -1);
    assert_int_equal(explore("fifo", 0, 5, lost_update, &result, NULL), -1);
    assert_int_equal(explore("pct:0", 0, 5, lost_update, &result, NULL), -1);
    assert_int_equal(explore("replay:w1-nonsense", 0, 1, lost_update, &result, NULL), -1);
    assert_int_equal(explore("dfs:1", 5, 10, lost_update, &result, NULL), -1);
    assert_int_equal(result.schedules, 0);
}

/* The build id is the token's second field: another build's token is refused. */
static void a_token_from_another_build_runs_nothing(void **state)
{
    struct wdmsim_explore_result found, result;
    char strategy[300];
    char *build;

    (void)state;
    find_lost_update(&found);
    snprintf(strategy, sizeof strategy, "replay:%s", found.token);
    build = strchr(strategy, '-') + 1;
    build[0] = build[0] == '0' ? '1' : '0';
    assert_int_equal(explore(strategy, 0, 1, lost_update, &result, NULL), -1);
    assert_int_equal(result.schedules, 0);
}

static void a_token_replayed_against_another_scenario_is_refused_as_diverged(void **state)
{
    struct wdmsim_explore_result found, result;
    char strategy[300];
    FILE *report = tmpfile();
    char text[4096];
    size_t length;

    (void)state;
    find_lost_update(&found);
    snprintf(strategy, sizeof strategy, "replay:%s", found.token);
    assert_int_equal(explore(strategy, 0, 1, locked_update, &result, report), -1);
    rewind(report);
    length = fread(text, 1, sizeof text - 1, report);
    text[length] = '\0';
    fclose(report);
    assert_non_null(strstr(text, "diverged"));
}

/* The line of text that starts with start holds needle. */
static bool line_has(const char *text, const char *start, const char *needle)
{
    const char *line = strstr(text, start), *found;

    if (line == NULL)
        return false;
    found = strstr(line, needle);
    return found != NULL && memchr(line, '\n', (size_t)(found - line)) == NULL;
}

static void replay_into_text(const char *token, wdmsim_scenario_fn *scenario, char *text, size_t size)
{
    struct wdmsim_explore_result result;
    char strategy[300];
    FILE *report = tmpfile();
    size_t length;

    snprintf(strategy, sizeof strategy, "replay:%s", token);
    assert_int_equal(explore(strategy, 0, 1, scenario, &result, report), -1);
    rewind(report);
    length = fread(text, 1, size - 1, report);
    text[length] = '\0';
    fclose(report);
}

/* Everything before the first PsGetCurrentThreadId is the same schedule: the replay goes that far
 * and names that decision, its thread and its DDI. */
static void a_diverged_replay_names_the_first_decision_that_differs_and_its_DDI(void **state)
{
    struct wdmsim_explore_result found;
    char text[4096];

    (void)state;
    find_lost_update(&found);
    assert_non_null(strchr(found.token, '~'));
    replay_into_text(found.token, lost_update_asking_ids, text, sizeof text);
    assert_non_null(strstr(text, "is the first that differs"));
    assert_non_null(strstr(strstr(text, "is the first that differs"), "at 'PsGetCurrentThreadId+"));
}

/* A longer schedule's marks each cover a few decisions: the replay names the first group that
 * differs, and the first decision of that group, listed before the verdict, is the
 * PsGetCurrentThreadId where the token's schedule asked the time. */
static void a_long_diverged_replay_names_the_few_decisions_the_first_difference_is_among(void **state)
{
    struct wdmsim_explore_result found;
    static char text[32768];
    char line[32];
    const char *differs, *tilde;
    unsigned long long first, last;

    (void)state;
    assert_int_equal(explore("random", 0, RACE_SEEDS, long_lost_update, &found, NULL), 1);
    tilde = strchr(found.token, '~');
    assert_non_null(tilde);
    assert_non_null(strchr(tilde, ':'));
    replay_into_text(found.token, long_lost_update_asking_ids, text, sizeof text);
    differs = strstr(text, "the first decision that differs is one of #");
    assert_non_null(differs);
    assert_int_equal(sscanf(differs, "the first decision that differs is one of #%llu..#%llu", &first, &last), 2);
    assert_true(first < last);
    snprintf(line, sizeof line, "  #%-7llu ", first);
    assert_true(line_has(text, line, "PsGetCurrentThreadId+"));
}

/* ---- A token in a new process ---- */

static void run_lost_update_expecting_stop(void)
{
    struct wdmsim_stop stop;

    wdmsim_run_expecting_stop(lost_update, NULL, &stop);
    exit(stop.stopped && stop.code == LOST_UPDATE_CODE ? 0 : 1);
}

/* Runs this program again, as `program MODE`, under WDMSIM_SCHED=replay:token; its exit status. */
static int rerun_with_token(const char *mode, const char *token)
{
    char schedule[300];
    int status;
    pid_t child;

    snprintf(schedule, sizeof schedule, "replay:%s", token);
    fflush(NULL);
    child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        setenv("WDMSIM_SCHED", schedule, 1);
        execl("/proc/self/exe", "test_explore", mode, (char *)NULL);
        _exit(127);
    }
    assert_int_equal(waitpid(child, &status, 0), child);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
}

static void the_token_replays_in_a_new_process_through_run_expecting_stop_or_called_directly(void **state)
{
    struct wdmsim_explore_result found;

    (void)state;
    find_lost_update(&found);
    assert_int_equal(rerun_with_token("--expecting-stop", found.token), 0);
    assert_int_equal(rerun_with_token("--directly", found.token), WDMSIM_STOP_EXIT_STATUS);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_clean_scenario_passes_every_seed_and_counts_them),
        cmocka_unit_test(a_lost_update_is_found_and_reported_with_its_seed_and_token),
        cmocka_unit_test(a_token_replays_the_same_failure_every_time),
        cmocka_unit_test(the_same_seed_fails_the_same_way_in_a_narrower_range),
        cmocka_unit_test(a_scenario_that_leaks_fails_with_what_the_shutdown_found),
        cmocka_unit_test(a_crash_fails_the_schedule_with_its_STOP_and_a_token_that_replays_it),
        cmocka_unit_test(a_scenario_that_exits_fails_with_its_status_and_what_it_printed),
        cmocka_unit_test(a_scenario_that_never_finishes_stops_as_a_livelock),
        cmocka_unit_test(dfs_without_preemptions_runs_every_schedule_then_stops_and_none_loses_an_update),
        cmocka_unit_test(dfs_with_one_preemption_finds_the_lost_update_and_its_token_replays_it),
        cmocka_unit_test(bad_configurations_run_nothing),
        cmocka_unit_test(a_token_from_another_build_runs_nothing),
        cmocka_unit_test(a_token_replayed_against_another_scenario_is_refused_as_diverged),
        cmocka_unit_test(a_diverged_replay_names_the_first_decision_that_differs_and_its_DDI),
        cmocka_unit_test(a_long_diverged_replay_names_the_few_decisions_the_first_difference_is_among),
        cmocka_unit_test(the_token_replays_in_a_new_process_through_run_expecting_stop_or_called_directly),
    };

    if (argc == 2 && strcmp(argv[1], "--expecting-stop") == 0)
        run_lost_update_expecting_stop();
    if (argc == 2 && strcmp(argv[1], "--directly") == 0) {
        lost_update(NULL);
        wdmsim_shutdown();
        return 0;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
