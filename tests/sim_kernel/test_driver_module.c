/*
 * test_driver_module.c - drivers built as modules (driver_module.c): each loaded copy of one module
 * has its own globals, a module loaded again starts as built, an unloaded one can no longer run or
 * be written, the image is DriverStart/DriverSize, a missing file is refused, and a driver linked
 * into the host has no module symbols. The modules are in modules/.
 */
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "wdmsim_test_drivers.h"

/* ---- Modules ---- */

static VOID NTAPI LinkedUnload(PDRIVER_OBJECT DriverObject)
{
    UNREFERENCED_PARAMETER(DriverObject);
}

/* A driver linked into the test program, not built as a module. */
static NTSTATUS NTAPI LinkedDriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    UNREFERENCED_PARAMETER(RegistryPath);
    DriverObject->DriverUnload = LinkedUnload;
    return STATUS_SUCCESS;
}

static PDRIVER_OBJECT load_module(const char *path, const char *name)
{
    PDRIVER_OBJECT driver = NULL;
    NTSTATUS status = wdmsim_driver_load_module(path, name, &driver);

    if (!NT_SUCCESS(status))
        print_message("wdmsim_driver_load_module(%s) returned %s\n", path, wdmsim_status_text(status).text);
    assert_int_equal(status, STATUS_SUCCESS);
    return driver;
}

static void two_copies_of_one_module_each_have_their_own_globals(void **state)
{
    PDRIVER_OBJECT first = load_module(COUNTER_MODULE, "counter1");
    PDRIVER_OBJECT second = load_module(COUNTER_MODULE, "counter2");
    LONG *first_count = wdmsim_driver_symbol(first, "LoadCount");
    LONG *second_count = wdmsim_driver_symbol(second, "LoadCount");
    LONG (*bump_first)(VOID) = (LONG (*)(VOID))wdmsim_driver_symbol(first, "CounterBump");

    (void)state;
    assert_non_null(first_count);
    assert_non_null(second_count);
    assert_ptr_not_equal(first_count, second_count);
    assert_int_equal(*first_count, 1);
    assert_int_equal(*second_count, 1);
    assert_int_equal(bump_first(), 2);
    assert_int_equal(*first_count, 2);
    assert_int_equal(*second_count, 1);
    wdmsim_driver_unload(first);
    wdmsim_driver_unload(second);
}

/* The simulator keeps an unloaded module mapped for the next load of its file: that load must
 * still find the module's data as the file has it, not as the last driver left it. */
static void a_module_loaded_again_starts_with_its_globals_as_built(void **state)
{
    PDRIVER_OBJECT driver = load_module(COUNTER_MODULE, "counter");
    LONG (*bump)(VOID) = (LONG (*)(VOID))wdmsim_driver_symbol(driver, "CounterBump");

    (void)state;
    assert_int_equal(bump(), 2);
    assert_int_equal(bump(), 3);
    wdmsim_driver_unload(driver);
    driver = load_module(COUNTER_MODULE, "counter");
    assert_int_equal(*(LONG *)wdmsim_driver_symbol(driver, "LoadCount"), 1);
    assert_non_null(wdmsim_driver_symbol(driver, "DeviceNameCopy"));
    wdmsim_driver_unload(driver);
}

/* Runs fn in a child; true when the child died in it instead of returning (with the default action
 * for a fault: CMocka's handler would carry on with the next case). */
static bool dies_in_child(void (*fn)(void *), void *context)
{
    int status;
    pid_t child = fork();

    if (child == 0) {
        signal(SIGSEGV, SIG_DFL);
        fn(context);
        _exit(0);
    }
    assert_true(child > 0);
    assert_int_equal(waitpid(child, &status, 0), child);
    return !(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void call_bump(void *bump)
{
    ((LONG (*)(VOID))bump)();
}

static void write_count(void *count)
{
    *(volatile LONG *)count = 5;
}

/* As on Windows, where an unloaded driver's image is gone: stale code that calls into it or writes
 * its globals faults instead of running on. */
static void an_unloaded_modules_code_cannot_run_and_its_data_cannot_be_written(void **state)
{
    PDRIVER_OBJECT driver = load_module(COUNTER_MODULE, "counter");
    void *bump = wdmsim_driver_symbol(driver, "CounterBump");
    void *count = wdmsim_driver_symbol(driver, "LoadCount");

    (void)state;
    assert_false(dies_in_child(write_count, count));
    wdmsim_driver_unload(driver);
    assert_true(dies_in_child(call_bump, bump));
    assert_true(dies_in_child(write_count, count));
}

/* A scenario: CounterBump of a counter driver that has unloaded. */
static void calls_an_unloaded_drivers_routine(void *context)
{
    PDRIVER_OBJECT driver = load_module(COUNTER_MODULE, "counter");
    void *bump = wdmsim_driver_symbol(driver, "CounterBump");

    (void)context;
    wdmsim_driver_unload(driver);
    call_bump(bump);
}

static void writes_an_unloaded_drivers_global(void *context)
{
    PDRIVER_OBJECT driver = load_module(COUNTER_MODULE, "counter");
    void *count = wdmsim_driver_symbol(driver, "LoadCount");

    (void)context;
    wdmsim_driver_unload(driver);
    write_count(count);
}

static void running_or_writing_an_unloaded_drivers_image_stops_with_0xCE(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(calls_an_unloaded_drivers_routine, NULL, 0xCE, WDMSIM_ANY_PARAM,
                        "driver.unloaded_image_touched", &stop);
    assert_int_equal(stop.params[1], 8);
    wdmsim_assert_report_has(&stop, "into the image of counter, which has unloaded");
    wdmsim_assert_report_has(&stop, "calls_an_unloaded_drivers_routine+0x");
    wdmsim_assert_stops(writes_an_unloaded_drivers_global, NULL, 0xCE, WDMSIM_ANY_PARAM,
                        "driver.unloaded_image_touched", &stop);
    assert_int_equal(stop.params[1], 1);
}

static void a_module_reports_its_image_as_DriverStart_and_DriverSize(void **state)
{
    PDRIVER_OBJECT driver = load_module(COUNTER_MODULE, "counter");
    const char *count = wdmsim_driver_symbol(driver, "LoadCount");
    const char *entry = (const char *)driver->DriverInit;
    const char *start = driver->DriverStart;

    (void)state;
    assert_non_null(start);
    assert_true(entry >= start && entry < start + driver->DriverSize);
    assert_true(count >= start && count < start + driver->DriverSize);
    assert_null(wdmsim_driver_symbol(driver, "NoSuchSymbol"));
    wdmsim_driver_unload(driver);
}

static void a_missing_module_file_is_STATUS_OBJECT_NAME_NOT_FOUND(void **state)
{
    PDRIVER_OBJECT driver = (PDRIVER_OBJECT)1;

    (void)state;
    assert_int_equal(wdmsim_driver_load_module("/nonexistent/driver.so", "ghost", &driver),
                     STATUS_OBJECT_NAME_NOT_FOUND);
    assert_null(driver);
}

static void a_driver_linked_into_the_host_has_no_module_symbols(void **state)
{
    PDRIVER_OBJECT driver = load("linked", LinkedDriverEntry);

    (void)state;
    assert_null(wdmsim_driver_symbol(driver, "LoadCount"));
    assert_null(driver->DriverStart);
    wdmsim_driver_unload(driver);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        wdmsim_test(two_copies_of_one_module_each_have_their_own_globals),
        wdmsim_test(a_module_loaded_again_starts_with_its_globals_as_built),
        wdmsim_test(an_unloaded_modules_code_cannot_run_and_its_data_cannot_be_written),
        wdmsim_test(running_or_writing_an_unloaded_drivers_image_stops_with_0xCE),
        wdmsim_test(a_module_reports_its_image_as_DriverStart_and_DriverSize),
        wdmsim_test(a_missing_module_file_is_STATUS_OBJECT_NAME_NOT_FOUND),
        wdmsim_test(a_driver_linked_into_the_host_has_no_module_symbols),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
