/*
 * wdmsim/test.h - CMocka support for suites that test drivers on wdmsim (installed with the
 * package; the project's own suites use it too): a fresh kernel per case, one assertion for "this
 * scenario stopped the machine with this bug check and rule", a check of an object's waiters, and
 * stderr captured around a call (the simulator's leak lines go there).
 *
 * A suite built with add_wdmsim_test() runs each case in a child process of its own (the library
 * wdmsim::test wraps cmocka_run_group_tests): a STOP on any thread, a crash, a deadlock, an exit or
 * a leak found when the case's kernel shuts down fails that case, with its report, and the other
 * cases run. CMocka asserts work in the case as usual; a case whose leaks are its own business
 * calls wdmsim_allow_leaks(). CMocka's output (CMOCKA_MESSAGE_OUTPUT=stdout|tap|subunit|xml) is
 * the parent's, complete. A suite program also takes:
 *   --list            prints the names of its cases (those the filter selects) and runs none
 *   --filter GLOB     runs only the cases whose names match (fnmatch: *, ?, [...]);
 *                     the environment's WDMSIM_TEST_FILTER when not given
 *   --no-isolation    runs every case in the program's own process (for a debugger);
 *                     WDMSIM_TEST_ISOLATION=0 does the same
 * WDMSIM_TEST_TIMEOUT=SECONDS kills and fails a case still running after that much host time (a
 * hang the simulator cannot see, such as a loop with no DDI in it); add_wdmsim_test() sets half
 * the suite's ctest TIMEOUT.
 * Limits of isolation: CMocka's checks of will_return values left unused and of test_malloc
 * blocks left allocated see the parent, not the case, and so do not run; a case's global
 * variables go with its child.
 */
#ifndef WDMSIM_TEST_H
#define WDMSIM_TEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <wdmsim/wdmsim.h>

/* cmocka.h declares its functions without C linkage for C++. */
#ifdef __cplusplus
extern "C" {
#endif

#include <cmocka.h>

#define WDMSIM_ANY_PARAM (-1LL)

static inline int wdmsim_test_boot(void **state)
{
    struct wdmsim_config config;

    (void)state;
    memset(&config, 0, sizeof config);
    config.clock = WDMSIM_CLOCK_VIRTUAL;
    config.time_zone_bias_set = 1;
    wdmsim_boot(&config);
    return 0;
}

static inline int wdmsim_test_shutdown(void **state)
{
    (void)state;
    wdmsim_shutdown();
    return 0;
}

#define wdmsim_test(fn) cmocka_unit_test_setup_teardown(fn, wdmsim_test_boot, wdmsim_test_shutdown)

/* Asserts a status, naming both (value and ntstatus.h name) when they differ. */
#define wdmsim_assert_status_equal(actual, expected) \
    wdmsim_assert_status_equal_at((NTSTATUS)(actual), (NTSTATUS)(expected), #actual)

static inline void wdmsim_assert_status_equal_at(NTSTATUS actual, NTSTATUS expected, const char *what)
{
    if (actual != expected)
        print_message("%s is %s, expected %s\n", what, wdmsim_status_text(actual).text,
                      wdmsim_status_text(expected).text);
    assert_int_equal((ULONG)actual, (ULONG)expected);
}

/* Runs scenario in a child kernel and asserts it stopped with code, parameter 1 (the subcode
 * for codes that have one; WDMSIM_ANY_PARAM to skip) and rule id ("" for a KeBugCheckEx). */
static inline void wdmsim_assert_stops(wdmsim_scenario_fn *scenario, void *context, unsigned int code,
                                       long long param1, const char *rule, struct wdmsim_stop *out)
{
    static struct wdmsim_stop stop;

    wdmsim_run_expecting_stop(scenario, context, &stop);
    if (!stop.stopped || stop.code != code || strcmp(stop.rule, rule) != 0)
        print_message("expected STOP 0x%X (%s), got:\n%s", code, rule, stop.report);
    assert_true(stop.stopped);
    assert_int_equal(stop.code, code);
    if (param1 != WDMSIM_ANY_PARAM)
        assert_int_equal(stop.params[0], (unsigned long long)param1);
    assert_string_equal(stop.rule, rule);
    if (out != NULL)
        *out = stop;
}

/* Asserts that a STOP report contains text, printing the report when it does not (on stderr:
 * CMocka's print_message cuts a message at 1 KB, and a report is longer). */
static inline void wdmsim_assert_report_has(const struct wdmsim_stop *stop, const char *text)
{
    if (strstr(stop->report, text) == NULL)
        fprintf(stderr, "the report lacks \"%s\":\n%s", text, stop->report);
    assert_non_null(strstr(stop->report, text));
}

/* The threads waiting for a dispatcher object, oldest first, are exactly expected (NULL-ended). */
static inline void wdmsim_assert_waiters(const DISPATCHER_HEADER *header, const PKTHREAD *expected)
{
    const LIST_ENTRY *e = header->WaitListHead.Flink;

    for (; *expected != NULL; expected++, e = e->Flink) {
        assert_ptr_not_equal(e, &header->WaitListHead);
        assert_ptr_equal(CONTAINING_RECORD(e, KWAIT_BLOCK, WaitListEntry)->Thread, *expected);
    }
    assert_ptr_equal(e, &header->WaitListHead);
}

/* Runs fn(context) with what it writes on stderr copied into buf (always NUL-terminated). */
static inline void wdmsim_capture_stderr(void (*fn)(void *), void *context, char *buf, size_t size)
{
    FILE *capture = tmpfile();
    int saved = dup(STDERR_FILENO);
    size_t got;

    assert_non_null(capture);
    fflush(stderr);
    dup2(fileno(capture), STDERR_FILENO);
    fn(context);
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    rewind(capture);
    got = fread(buf, 1, size - 1, capture);
    buf[got] = '\0';
    fclose(capture);
}

static inline void wdmsim_test_shutdown_into(void *leaked)
{
    *(size_t *)leaked = wdmsim_shutdown();
}

/* wdmsim_shutdown(), with the leak lines it writes on stderr copied into buf. */
static inline size_t wdmsim_shutdown_capturing_stderr(char *buf, size_t size)
{
    size_t leaked = 0;

    wdmsim_capture_stderr(wdmsim_test_shutdown_into, &leaked, buf, size);
    return leaked;
}

/* What wdmsim::test gives CMocka: cmocka_run_group_tests, wrapped (add_wdmsim_test links with
 * -Wl,--wrap=_cmocka_run_group_tests,--wrap=_skip). Not called directly. */
int __wrap__cmocka_run_group_tests(const char *group_name, const struct CMUnitTest *tests, size_t count,
                                   CMFixtureFunction group_setup, CMFixtureFunction group_teardown);
void __wrap__skip(const char *file, int line);

#ifdef __cplusplus
}
#endif

#endif /* WDMSIM_TEST_H */
