// cplusplus.cpp - every header a driver or a test includes, compiled as C++ by check_cplusplus.sh:
// a CMocka case that uses DDIs through <wdmsim/test.h>.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <ntddk.h>
#include <ntifs.h>
#include <wdm.h>
#include <wdmsim/test.h>
#include <wdmsim/wdmsim.h>

static void a_spin_lock_from_cplusplus(void **state)
{
    KSPIN_LOCK lock;
    KIRQL old_irql;
    UNICODE_STRING name;

    (void)state;
    KeInitializeSpinLock(&lock);
    KeAcquireSpinLock(&lock, &old_irql);
    assert_int_equal(KeGetCurrentIrql(), DISPATCH_LEVEL);
    KeReleaseSpinLock(&lock, old_irql);
    RtlInitUnicodeString(&name, L"\\Device\\CPlusPlus");
    assert_int_equal(name.Length, 17 * sizeof(WCHAR));
}

int main()
{
    const struct CMUnitTest tests[] = { wdmsim_test(a_spin_lock_from_cplusplus) };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
