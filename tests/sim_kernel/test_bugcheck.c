/*
 * test_bugcheck.c - one STOP path: the report's shape, both sinks (print-and-exit for programs,
 * capture for tests), STOPs on other threads, and scenarios that end without one.
 */
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <ntddk.h>

#include <wdmsim/test.h>

static void driver_bugchecks(void *context)
{
    (void)context;
    KeBugCheckEx(0xDEAD, 1, 2, 3, 0xFFFFF80000001234ULL);
}

static void KeBugCheckEx_stops_with_the_drivers_code_and_parameters(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(driver_bugchecks, NULL, 0xDEAD, 1, "", &stop);
    assert_int_equal(stop.params[1], 2);
    assert_int_equal(stop.params[2], 3);
    assert_int_equal(stop.params[3], 0xFFFFF80000001234ULL);
    assert_string_equal(stop.code_name, "(driver-defined bug check code)");
}

static void the_report_opens_with_the_Windows_STOP_line(void **state)
{
    struct wdmsim_stop stop;
    const char *expected = "*** STOP: 0x0000DEAD (0x0000000000000001, 0x0000000000000002, "
                           "0x0000000000000003, 0xFFFFF80000001234)\n";

    (void)state;
    wdmsim_assert_stops(driver_bugchecks, NULL, 0xDEAD, 1, "", &stop);
    assert_memory_equal(stop.report, expected, strlen(expected));
}

static void driver_bugchecks_with_an_exception(void *context)
{
    (void)context;
    KeBugCheckEx(0x1E, (ULONG_PTR)(ULONG)STATUS_ACCESS_VIOLATION, 0, 0, 0);
}

static void an_unhandled_exception_report_names_the_exception_status(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(driver_bugchecks_with_an_exception, NULL, 0x1E, 0xC0000005, "", &stop);
    wdmsim_assert_report_has(&stop, "KMODE_EXCEPTION_NOT_HANDLED\n"
                                    "Exception: 0xC0000005 STATUS_ACCESS_VIOLATION (parameter 1)\n");
}

static void a_report_of_another_code_names_no_exception(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(driver_bugchecks, NULL, 0xDEAD, 1, "", &stop);
    assert_null(strstr(stop.report, "Exception:"));
}

static void KeBugCheck_passes_four_zero_parameters(void *context)
{
    (void)context;
    KeBugCheck(0xBEEF);
}

static void KeBugCheck_is_KeBugCheckEx_with_zero_parameters(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(KeBugCheck_passes_four_zero_parameters, NULL, 0xBEEF, 0, "", &stop);
    assert_int_equal(stop.params[1] | stop.params[2] | stop.params[3], 0);
}

static void lower_irql_in_driver(void *context)
{
    (void)context;
    KeLowerIrql(DISPATCH_LEVEL);
}

static void break_a_rule_as_a_driver(void *context)
{
    wdmsim_run_as_driver("tracedrv", lower_irql_in_driver, context);
}

static void a_rule_report_names_rule_why_fix_irql_thread_driver_and_backtrace(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(break_a_rule_as_a_driver, NULL, 0xC4, 0x31, "irql.lower_to_higher", &stop);
    assert_string_equal(stop.code_name, "DRIVER_VERIFIER_DETECTED_VIOLATION");
    assert_non_null(strstr(stop.report, "\nDRIVER_VERIFIER_DETECTED_VIOLATION\n"));
    assert_non_null(strstr(stop.report, "Rule:     irql.lower_to_higher: the new IRQL is higher"));
    assert_non_null(strstr(stop.report, "DDI:      KeLowerIrql\n"));
    assert_non_null(strstr(stop.report, "Why:      "));
    assert_non_null(strstr(stop.report, "Fix:      "));
    assert_non_null(strstr(stop.report, "IRQL:     PASSIVE_LEVEL (0)"));
    assert_non_null(strstr(stop.report, "Thread:   main"));
    assert_non_null(strstr(stop.report, "Process:  System"));
    assert_non_null(strstr(stop.report, "Driver:   tracedrv"));
    assert_non_null(strstr(stop.report, "Backtrace:\n"));
    assert_non_null(strstr(stop.report, "KfLowerIrql+0x"));
    assert_non_null(strstr(stop.report, "wdmsim_run_as_driver+0x"));
}

static void the_arguments_are_labelled_as_the_debugger_labels_them(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(break_a_rule_as_a_driver, NULL, 0xC4, 0x31, "irql.lower_to_higher", &stop);
    wdmsim_assert_report_has(&stop, "Arguments:\nArg1: 0000000000000031, violation type (subcode)\nArg2: ");
    wdmsim_assert_stops(driver_bugchecks, NULL, 0xDEAD, 1, "", &stop);
    wdmsim_assert_report_has(&stop, "Arg4: fffff80000001234, defined by the driver that called KeBugCheckEx\n");
}

/* A static function: dladdr cannot name it, the DWARF symbol and line tables can. */
static void static_caller_of_KeLowerIrql(void *context)
{
    (void)context;
    KeLowerIrql(DISPATCH_LEVEL);
    /* Not a tail call (an optimised build would jump, and this frame would not be on the stack). */
    __asm__ __volatile__("" ::: "memory");
}

static void backtrace_frames_name_static_functions_and_their_source_lines(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(static_caller_of_KeLowerIrql, NULL, 0xC4, 0x31, "irql.lower_to_higher", &stop);
    wdmsim_assert_report_has(&stop, "KfLowerIrql+0x");
    wdmsim_assert_report_has(&stop, "at sim_kernel/src/irql.c:");
    wdmsim_assert_report_has(&stop, "static_caller_of_KeLowerIrql+0x");
    wdmsim_assert_report_has(&stop, "(test_bugcheck) at tests/sim_kernel/test_bugcheck.c:");
}

static void *bugcheck_on_worker(void *context)
{
    (void)context;
    KeBugCheckEx(0xE3, 0, 0, 0, 0);
}

static void stop_on_another_thread(void *context)
{
    pthread_t worker;

    (void)context;
    pthread_create(&worker, NULL, bugcheck_on_worker, NULL);
    pthread_join(worker, NULL);
}

static void a_STOP_on_another_thread_is_captured_too(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(stop_on_another_thread, NULL, 0xE3, 0, "", &stop);
    assert_non_null(strstr(stop.report, "Thread:   host-"));
}

static void returns_quietly(void *context)
{
    *(int *)context = 1;
}

static void a_scenario_that_returns_reports_no_STOP(void **state)
{
    struct wdmsim_stop stop;
    int ran_in_child = 0;

    (void)state;
    wdmsim_run_expecting_stop(returns_quietly, &ran_in_child, &stop);
    assert_false(stop.stopped);
    assert_int_equal(stop.exit_signal, 0);
    assert_int_equal(ran_in_child, 0);
}

static void crashes(void *context)
{
    (void)context;
    raise(SIGSEGV);
}

static void a_scenario_that_crashes_reports_the_signal(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_run_expecting_stop(crashes, NULL, &stop);
    assert_false(stop.stopped);
    assert_int_equal(stop.exit_signal, SIGSEGV);
    assert_non_null(strstr(stop.report, "signal"));
}

static void the_default_sink_prints_the_report_to_stderr_and_exits_86(void **state)
{
    int fds[2];
    int status;
    char text[512] = { 0 };
    pid_t child;

    (void)state;
    assert_int_equal(pipe(fds), 0);
    child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        dup2(fds[1], STDERR_FILENO);
        KeBugCheckEx(0xE4, 0, 0, 0, 0);
    }
    close(fds[1]);
    assert_true(read(fds[0], text, sizeof text - 1) > 0);
    close(fds[0]);
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), WDMSIM_STOP_EXIT_STATUS);
    assert_non_null(strstr(text, "*** STOP: 0x000000E4"));
    assert_non_null(strstr(text, "WORKER_INVALID"));
}

static void the_kernel_boots_itself_on_the_first_DDI(void **state)
{
    (void)state;
    wdmsim_shutdown();
    assert_false(wdmsim_is_booted());
    assert_int_equal(KeGetCurrentIrql(), PASSIVE_LEVEL);
    assert_true(wdmsim_is_booted());
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        wdmsim_test(KeBugCheckEx_stops_with_the_drivers_code_and_parameters),
        wdmsim_test(the_report_opens_with_the_Windows_STOP_line),
        wdmsim_test(an_unhandled_exception_report_names_the_exception_status),
        wdmsim_test(a_report_of_another_code_names_no_exception),
        wdmsim_test(KeBugCheck_is_KeBugCheckEx_with_zero_parameters),
        wdmsim_test(a_rule_report_names_rule_why_fix_irql_thread_driver_and_backtrace),
        wdmsim_test(the_arguments_are_labelled_as_the_debugger_labels_them),
        wdmsim_test(backtrace_frames_name_static_functions_and_their_source_lines),
        wdmsim_test(a_STOP_on_another_thread_is_captured_too),
        wdmsim_test(a_scenario_that_returns_reports_no_STOP),
        wdmsim_test(a_scenario_that_crashes_reports_the_signal),
        wdmsim_test(the_default_sink_prints_the_report_to_stderr_and_exits_86),
        wdmsim_test(the_kernel_boots_itself_on_the_first_DDI),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
