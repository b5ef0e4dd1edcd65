/*
 * test_consumer_driver.c - hosting drivers with the installed package: a module built here with
 * add_wdmsim_driver(), and TraceDrv as installed in WDMSIM_DRIVER_DIR, each loaded and unloaded
 * cleanly (TraceDrv alone: its DebugPrint thread gives up after five virtual minutes).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <wdmsim/wdmsim.h>

static int boot_virtual(void **state)
{
    struct wdmsim_config config = { .clock = WDMSIM_CLOCK_VIRTUAL };

    (void)state;
    wdmsim_boot(&config);
    return 0;
}

static int shut_down(void **state)
{
    (void)state;
    assert_int_equal(wdmsim_shutdown(), 0);
    return 0;
}

static void a_module_built_with_add_wdmsim_driver_loads_and_unloads(void **state)
{
    PDRIVER_OBJECT driver = NULL;

    (void)state;
    assert_int_equal(wdmsim_driver_load_module(CONSUMER_DRIVER, "consumer", &driver), STATUS_SUCCESS);
    assert_non_null(driver->DeviceObject);
    wdmsim_driver_unload(driver);
}

static void the_installed_TraceDrv_loads_and_unloads(void **state)
{
    LARGE_INTEGER six_minutes = { .QuadPart = -6LL * 60 * 10000000 };
    PDRIVER_OBJECT driver = NULL;

    (void)state;
    assert_int_equal(wdmsim_driver_load_module(INSTALLED_TRACEDRV, "TraceDrv", &driver), STATUS_SUCCESS);
    KeDelayExecutionThread(KernelMode, FALSE, &six_minutes);
    wdmsim_driver_unload(driver);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(a_module_built_with_add_wdmsim_driver_loads_and_unloads, boot_virtual,
                                        shut_down),
        cmocka_unit_test_setup_teardown(the_installed_TraceDrv_loads_and_unloads, boot_virtual, shut_down),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
