/*
 * run_conformance.c - host side of the crossbuild check: loads conformance_driver.c as the driver
 * "conformance", calls its DriverEntry from PASSIVE_LEVEL and expects STATUS_SUCCESS, no leaked
 * pool and the IRQL restored. The same driver source is built into a Windows .sys by
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

struct driver_entry_call {
    UNICODE_STRING registry_path;
    NTSTATUS status;
    KIRQL irql_after;
};

static void call_driver_entry(void *context)
{
    struct driver_entry_call *call = context;

    call->status = DriverEntry(NULL, &call->registry_path);
    call->irql_after = KeGetCurrentIrql();
}

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
    static WCHAR path[] = L"\\Registry\\Machine\\System\\CurrentControlSet\\Services\\conformance";
    struct driver_entry_call call = { .status = STATUS_PENDING };
    size_t leaked_bytes = 0;

    (void)state;
    RtlInitUnicodeString(&call.registry_path, path);
    wdmsim_run_as_driver("conformance", call_driver_entry, &call);

    if (call.status != STATUS_SUCCESS)
        fail_msg("DriverEntry returned 0x%08X: %u check(s) failed, the first at "
                 "conformance_driver.c:%u: %s",
                 (unsigned int)call.status, ConformanceFailures, ConformanceFirstFailureLine,
                 ConformanceFirstFailure ? ConformanceFirstFailure : "?");
    assert_int_equal(call.irql_after, PASSIVE_LEVEL);
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
