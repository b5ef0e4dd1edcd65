/*
 * test_debugprint_drivers.c - several driver modules in one simulated machine, as the DebugPrint
 * demo runs them: the DebugPrint driver, TraceDrv and Printer (two users of the DebugPrint core,
 * each with its own copy of its globals: event list, system thread, statistics). Each scenario
 * loads and unloads them through the host API, whose unload check would stop the machine if a
 * driver left anything behind; time is virtual, so minutes of retries cost milliseconds.
 */
#include <wdmsim/test.h>

#include "DebugPrint.h"

#define MS (-10000LL)

typedef VOID get_statistics_fn(PDEBUGPRINT_STATISTICS Statistics);

static PDRIVER_OBJECT load_module(const char *path, const char *name)
{
    PDRIVER_OBJECT driver = NULL;
    NTSTATUS status = wdmsim_driver_load_module(path, name, &driver);

    if (!NT_SUCCESS(status))
        print_message("wdmsim_driver_load_module(%s) returned %s\n", path, wdmsim_status_text(status).text);
    assert_int_equal(status, STATUS_SUCCESS);
    return driver;
}

static get_statistics_fn *statistics_function(PDRIVER_OBJECT driver)
{
    get_statistics_fn *get = (get_statistics_fn *)wdmsim_driver_symbol(driver, "DebugPrintGetStatistics");

    assert_non_null(get);
    return get;
}

/* Every message a driver produced is delivered, cleared, dropped or still queued. */
static void statistics_of(PDRIVER_OBJECT driver, DEBUGPRINT_STATISTICS *statistics)
{
    statistics_function(driver)(statistics);
    assert_int_equal(statistics->Produced,
                     statistics->Delivered + statistics->Cleared + statistics->Dropped + statistics->Queued);
}

static void let_time_pass(LONGLONG milliseconds)
{
    LARGE_INTEGER interval = { .QuadPart = milliseconds * MS };

    KeDelayExecutionThread(KernelMode, FALSE, &interval);
}

static void TraceDrv_without_the_DebugPrint_driver_gives_up_after_five_minutes_and_unloads_cleanly(void **state)
{
    PDRIVER_OBJECT tracedrv = load_module(TRACEDRV_MODULE, "TraceDrv");
    DEBUGPRINT_STATISTICS statistics;

    (void)state;
    let_time_pass(6 * 60 * 1000);
    statistics_of(tracedrv, &statistics);
    assert_int_equal(statistics.Delivered, 0);
    assert_int_equal(statistics.Queued, 0);
    assert_true(statistics.Cleared > 0);
    /* Once it gave up, the timer DPC's traces are ignored. */
    assert_true(statistics.Ignored > 0);
    wdmsim_driver_unload(tracedrv);
}

static void the_DebugPrint_driver_and_TraceDrv_load_and_unload_cleanly(void **state)
{
    PDRIVER_OBJECT debugprint = load_module(DEBUGPRINT_MODULE, "DebugPrint");
    PDRIVER_OBJECT tracedrv = load_module(TRACEDRV_MODULE, "TraceDrv");
    DEBUGPRINT_STATISTICS statistics;

    (void)state;
    let_time_pass(3500);
    statistics_of(tracedrv, &statistics);
    /* Logging started, the RegistryPath, DriverEntry completed, and three timer ticks. */
    assert_true(statistics.Produced >= 6);
    assert_int_equal(statistics.Delivered, statistics.Produced);
    assert_int_equal(statistics.Dropped, 0);
    wdmsim_driver_unload(tracedrv);
    wdmsim_driver_unload(debugprint);
}

static void two_DebugPrint_users_keep_their_own_event_lists_and_threads(void **state)
{
    PDRIVER_OBJECT debugprint = load_module(DEBUGPRINT_MODULE, "DebugPrint");
    PDRIVER_OBJECT tracedrv = load_module(TRACEDRV_MODULE, "TraceDrv");
    PDRIVER_OBJECT printer = load_module(PRINTER_MODULE, "Printer");
    DEBUGPRINT_STATISTICS traced, printed;

    (void)state;
    assert_ptr_not_equal(statistics_function(tracedrv), statistics_function(printer));
    let_time_pass(2500);
    statistics_of(printer, &printed);
    statistics_of(tracedrv, &traced);
    /* Printer: logging started, its RegistryPath, "Printer started"; TraceDrv traces its ticks too. */
    assert_int_equal(printed.Produced, 3);
    assert_int_equal(printed.Delivered, 3);
    assert_true(traced.Produced > printed.Produced);
    assert_int_equal(traced.Delivered, traced.Produced);
    wdmsim_driver_unload(printer);
    wdmsim_driver_unload(tracedrv);
    wdmsim_driver_unload(debugprint);
}

/* In the STOP child: CMocka asserts there would end the child, not fail the test. */
static void unload_the_DebugPrint_driver_first(void *unused)
{
    PDRIVER_OBJECT debugprint = NULL, tracedrv = NULL;

    (void)unused;
    if (!NT_SUCCESS(wdmsim_driver_load_module(DEBUGPRINT_MODULE, "DebugPrint", &debugprint)) ||
        !NT_SUCCESS(wdmsim_driver_load_module(TRACEDRV_MODULE, "TraceDrv", &tracedrv)))
        return;
    let_time_pass(1500);
    wdmsim_driver_unload(debugprint);
}

static void unloading_the_DebugPrint_driver_while_TraceDrv_has_it_open_stops_with_0xCE(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(unload_the_DebugPrint_driver_first, NULL, 0xCE, WDMSIM_ANY_PARAM,
                        "driver.unload_pending_operations", &stop);
    wdmsim_assert_report_has(&stop, "DebugPrint unloaded and left 1 thing behind");
    wdmsim_assert_report_has(&stop, "deleted but still referenced 1 time(s)");
    wdmsim_assert_report_has(&stop, "\\Device\\PHDDebugPrint");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        wdmsim_test(TraceDrv_without_the_DebugPrint_driver_gives_up_after_five_minutes_and_unloads_cleanly),
        wdmsim_test(the_DebugPrint_driver_and_TraceDrv_load_and_unload_cleanly),
        wdmsim_test(two_DebugPrint_users_keep_their_own_event_lists_and_threads),
        wdmsim_test(unloading_the_DebugPrint_driver_while_TraceDrv_has_it_open_stops_with_0xCE),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
