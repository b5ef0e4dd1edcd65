/*
 * wdmsim_test_drivers.h - what the driver life-cycle tests share: loading a driver linked into the
 * test program (in the test's process, or in a STOP scenario's child), comparing its names, and the
 * tag its leaks use.
 */
#ifndef WDMSIM_TEST_DRIVERS_H
#define WDMSIM_TEST_DRIVERS_H

#include <stdbool.h>

#include "wdmsim_test.h"
#include "wdmsim_test_threads.h"

#define LEAK_TAG 'kaeL'

static inline bool wide_equals(const WCHAR *text, USHORT length, const char *expected)
{
    size_t n = strlen(expected);

    if (length != n * sizeof(WCHAR))
        return false;
    for (size_t i = 0; i < n; i++) {
        if (text[i] != (WCHAR)expected[i])
            return false;
    }
    return true;
}

static inline bool unicode_equals(PCUNICODE_STRING string, const char *expected)
{
    return wide_equals(string->Buffer, string->Length, expected);
}

static inline PDRIVER_OBJECT load(const char *name, PDRIVER_INITIALIZE entry)
{
    PDRIVER_OBJECT driver = NULL;
    NTSTATUS status = wdmsim_driver_load(name, entry, &driver);

    if (!NT_SUCCESS(status))
        print_message("wdmsim_driver_load(%s) returned %s\n", name, wdmsim_status_text(status).text);
    assert_int_equal(status, STATUS_SUCCESS);
    assert_non_null(driver);
    return driver;
}

/* In a STOP scenario's child: CMocka asserts would end the child, not fail the test. */
static inline PDRIVER_OBJECT load_in_child(const char *name, PDRIVER_INITIALIZE entry)
{
    PDRIVER_OBJECT driver = NULL;

    if (!NT_SUCCESS(wdmsim_driver_load(name, entry, &driver)))
        return NULL;
    return driver;
}

#endif /* WDMSIM_TEST_DRIVERS_H */
