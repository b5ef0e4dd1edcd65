/*
 * test_demo_timeline.c - the "done when": `WDMSIM_TIMELINE=t.json wdmsim demo` writes a
 * trace Perfetto opens (checked by the same validator as the kernel's own timeline tests) showing
 * the DebugPrint pipeline: its processes and threads, the dispatch routines of both drivers, the
 * timer's DPC, the work item, the wake-ups; `wdmsim demo --timeline t.svg` draws it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "wdmsim_trace_check.h"

/* Runs `wdmsim demo` with the environment given (NAME=VALUE ... or ""); returns its exit status. */
static int run_demo(const char *environment, const char *arguments)
{
    char command[4096];
    int status;

    snprintf(command, sizeof command, "%s '%s' demo %s >/dev/null 2>&1", environment, WDMSIM_PROGRAM, arguments);
    status = system(command);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static double process_named(const struct json *events, const char *name)
{
    for (size_t i = 0; i < events->count; i++) {
        const struct json *e = &events->items[i];
        const struct json *args = json_get(e, "args");

        if (strcmp(json_text(e, "name"), "process_name") == 0 && args && strstr(json_text(args, "name"), name))
            return json_get(e, "pid")->number;
    }
    return -1;
}

static void WDMSIM_TIMELINE_makes_the_demo_write_a_valid_trace_of_the_whole_pipeline(void **state)
{
    char path[] = "/tmp/wdmsim-demo-timeline-XXXXXX.json";
    char environment[128];
    struct json root;
    const struct json *events;
    int fd = mkstemps(path, 5);

    (void)state;
    assert_true(fd >= 0);
    close(fd);
    snprintf(environment, sizeof environment, "WDMSIM_TIMELINE=%s", path);
    assert_int_equal(run_demo(environment, ""), 0);
    events = load_valid_trace(path, &root);
    assert_true(process_named(events, "System (id 4)") == 4);
    assert_true(process_named(events, "DbgPrtMonitor") > 4);
    assert_true(process_named(events, "TraceApp") > 4);
    assert_true(tid_named(events, "TraceDrv-1") > 0);      /* TraceDrv's DebugPrint system thread */
    assert_true(count_events(events, "B", "dispatch", "DbpWrite") >= 1);
    assert_true(count_events(events, "B", "dispatch", "DbpRead") >= 1);
    assert_true(count_events(events, "B", "dispatch", "TraceWrite") >= 1);
    assert_true(count_events(events, "B", "dpc", "TraceTimerDpc") >= 1);
    assert_true(count_events(events, "B", "work item", "TraceWorkItem") >= 1);
    assert_true(count_events(events, "B", "spin lock", NULL) >= 10);
    assert_true(count_events(events, "f", "wake", NULL) >= 10);
    assert_int_equal(json_get(json_get(&root, "otherData"), "events_dropped")->number, 0);
    json_free(&root);
    unlink(path);
}

static void the_demo_with_a_timeline_named_svg_draws_a_lane_for_every_thread(void **state)
{
    char path[] = "/tmp/wdmsim-demo-timeline-XXXXXX.svg";
    char arguments[128];
    char *text;
    int fd = mkstemps(path, 4);

    (void)state;
    assert_true(fd >= 0);
    close(fd);
    snprintf(arguments, sizeof arguments, "--timeline %s", path);
    assert_int_equal(run_demo("", arguments), 0);
    text = read_file(path);
    assert_true(xml_elements(text) > 100);
    assert_true(occurrences(text, "class=\"lane\"") >= 10);
    assert_non_null(strstr(text, ">TraceApp (id"));
    assert_non_null(strstr(text, "DbpWrite"));
    free(text);
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(WDMSIM_TIMELINE_makes_the_demo_write_a_valid_trace_of_the_whole_pipeline),
        cmocka_unit_test(the_demo_with_a_timeline_named_svg_draws_a_lane_for_every_thread),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
