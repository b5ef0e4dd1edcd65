/*
 * run_conformance.c - host side of the crossbuild check: loads conformance_driver.c as the driver
 * "conformance" (DriverEntry on a System thread with a real driver object, which its I/O checks
 * need), expects STATUS_SUCCESS, then unloads it, which stops the machine if it left anything, and
 * checks no pool is charged to it. The same driver source is built into a Windows .sys by
 * build_windows_driver.sh.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <wdmsim/wdmsim.h>

DRIVER_INITIALIZE DriverEntry;
extern ULONG ConformanceFailures;
extern PCSTR ConformanceFirstFailure;
extern ULONG ConformanceFirstFailureLine;

static int boot(void **state)
{
    (void)state;
    wdmsim_boot(NULL);
    return 0;
}

static int shut_down(void **state)
{
    (void)state;
    wdmsim_shutdown();
    return 0;
}

static void DriverEntry_of_conformance_driver_returns_STATUS_SUCCESS(void **state)
{
    PDRIVER_OBJECT driver = NULL;
    size_t leaked_bytes = 0;
    NTSTATUS status;

    (void)state;
    status = wdmsim_driver_load("conformance", DriverEntry, &driver);
    if (status != STATUS_SUCCESS)
        fail_msg("DriverEntry returned %s: %u check(s) failed, the first at "
                 "conformance_driver.c:%u: %s",
                 wdmsim_status_text(status).text, ConformanceFailures, ConformanceFirstFailureLine,
                 ConformanceFirstFailure ? ConformanceFirstFailure : "?");
    assert_int_equal(KeGetCurrentIrql(), PASSIVE_LEVEL);
    wdmsim_driver_unload(driver);
    assert_int_equal(wdmsim_pool_outstanding_by_driver("conformance", &leaked_bytes), 0);
    assert_int_equal(leaked_bytes, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(DriverEntry_of_conformance_driver_returns_STATUS_SUCCESS,
                                        boot, shut_down),
    };

    return cmocka_run_group_tests_name("crossbuild_conformance", tests, NULL, NULL);
}
