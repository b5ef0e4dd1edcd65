/*
 * test_driver_init.c - the INIT section (driver_init.c): data a module keeps in INIT is discarded
 * when DriverEntry returns, and a later touch stops the machine, with 0x50 or, at DISPATCH_LEVEL,
 * 0xD1. The module is modules/init_keeper_module.c.
 */
#include "wdmsim_test_drivers.h"

static void load_and_unload_the_init_keeper(void *unused)
{
    PDRIVER_OBJECT driver = NULL;

    (void)unused;
    if (NT_SUCCESS(wdmsim_driver_load_module(INIT_KEEPER_MODULE, "initkeep", &driver)))
        wdmsim_driver_unload(driver);
}

static void INIT_data_read_by_a_dispatch_routine_after_DriverEntry_stops_with_0x50(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(load_and_unload_the_init_keeper, NULL, 0x50, WDMSIM_ANY_PARAM,
                        "driver.init_discarded_touched", &stop);
    assert_int_equal(stop.params[1], 0);
    wdmsim_assert_report_has(&stop, "bytes into the INIT section of initkeep");
    wdmsim_assert_report_has(&stop, "KeeperNameLength");
}

static void peek_at_dispatch_level(void *unused)
{
    PDRIVER_OBJECT driver = NULL;
    ULONG (*peek)(VOID);
    KIRQL irql;

    (void)unused;
    if (!NT_SUCCESS(wdmsim_driver_load_module(INIT_KEEPER_MODULE, "initkeep", &driver)))
        return;
    peek = (ULONG (*)(VOID))wdmsim_driver_symbol(driver, "KeeperNameLength");
    KeRaiseIrql(DISPATCH_LEVEL, &irql);
    peek();
}

static void INIT_data_read_at_DISPATCH_LEVEL_stops_with_0xD1(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(peek_at_dispatch_level, NULL, 0xD1, WDMSIM_ANY_PARAM,
                        "driver.init_discarded_touched_at_dispatch", &stop);
    assert_int_equal(stop.params[1], DISPATCH_LEVEL);
    assert_int_equal(stop.params[2], 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        wdmsim_test(INIT_data_read_by_a_dispatch_routine_after_DriverEntry_stops_with_0x50),
        wdmsim_test(INIT_data_read_at_DISPATCH_LEVEL_stops_with_0xD1),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
