/*
 * test_version.c - the Windows version drivers see: PsGetVersion and RtlGetVersion report
 * Windows 10 22H2 (10.0.19045), a free build without a service pack, and agree with each other.
 */
#include <string.h>

#include <ntddk.h>
#include <wdmsim/test.h>

static void PsGetVersion_reports_Windows_10_build_19045_and_a_free_build(void **state)
{
    ULONG major = 0, minor = 99, build = 0;
    UNICODE_STRING csd = { 0 };

    (void)state;
    assert_false(PsGetVersion(&major, &minor, &build, &csd));
    assert_int_equal(major, 10);
    assert_int_equal(minor, 0);
    assert_int_equal(build, 19045);
    assert_int_equal(csd.Length, 0);
    assert_non_null(csd.Buffer);
    /* Every output is optional. */
    assert_false(PsGetVersion(NULL, NULL, NULL, NULL));
}

static void RtlGetVersion_fills_the_base_record_and_leaves_what_follows_it(void **state)
{
    RTL_OSVERSIONINFOEXW info;

    (void)state;
    memset(&info, 0x55, sizeof info);
    info.dwOSVersionInfoSize = sizeof(RTL_OSVERSIONINFOW);
    assert_int_equal(RtlGetVersion((PRTL_OSVERSIONINFOW)&info), STATUS_SUCCESS);
    assert_int_equal(info.dwMajorVersion, 10);
    assert_int_equal(info.dwMinorVersion, 0);
    assert_int_equal(info.dwBuildNumber, 19045);
    assert_int_equal(info.dwPlatformId, 2);      /* VER_PLATFORM_WIN32_NT */
    assert_int_equal(info.szCSDVersion[0], 0);
    assert_int_equal(info.wServicePackMajor, 0x5555);
}

static void RtlGetVersion_fills_the_extended_fields_for_an_extended_record(void **state)
{
    RTL_OSVERSIONINFOEXW info;
    ULONG build = 0;

    (void)state;
    memset(&info, 0x55, sizeof info);
    info.dwOSVersionInfoSize = sizeof info;
    assert_int_equal(RtlGetVersion((PRTL_OSVERSIONINFOW)&info), STATUS_SUCCESS);
    assert_int_equal(info.wServicePackMajor, 0);
    assert_int_equal(info.wServicePackMinor, 0);
    assert_int_equal(info.wProductType, 1);      /* VER_NT_WORKSTATION */
    PsGetVersion(NULL, NULL, &build, NULL);
    assert_int_equal(info.dwBuildNumber, build);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        wdmsim_test(PsGetVersion_reports_Windows_10_build_19045_and_a_free_build),
        wdmsim_test(RtlGetVersion_fills_the_base_record_and_leaves_what_follows_it),
        wdmsim_test(RtlGetVersion_fills_the_extended_fields_for_an_extended_record),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
