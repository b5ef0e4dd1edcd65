/*
 * test_status.c - the status names of sim_kernel/src/status.c: the name of each value, the first
 * of two names sharing a value, the printed form (32 bits, never sign-extended), unknown values,
 * and a table that agrees with ntstatus.h value by value.
 */
#include <wdmsim/test.h>

static void wdmsim_status_name_names_STATUS_OBJECT_NAME_NOT_FOUND(void **state)
{
    (void)state;
    assert_string_equal(wdmsim_status_name(STATUS_OBJECT_NAME_NOT_FOUND), "STATUS_OBJECT_NAME_NOT_FOUND");
    assert_string_equal(wdmsim_status_name(STATUS_BUFFER_OVERFLOW), "STATUS_BUFFER_OVERFLOW");
    assert_string_equal(wdmsim_status_name(STATUS_PENDING), "STATUS_PENDING");
    assert_string_equal(wdmsim_status_name(STATUS_OBJECT_NAME_EXISTS), "STATUS_OBJECT_NAME_EXISTS");
}

static void wdmsim_status_name_gives_the_first_of_two_names_for_one_value(void **state)
{
    (void)state;
    assert_string_equal(wdmsim_status_name(STATUS_WAIT_0), "STATUS_SUCCESS");
    assert_string_equal(wdmsim_status_name(STATUS_ABANDONED_WAIT_0), "STATUS_ABANDONED");
}

static void wdmsim_status_name_of_an_undefined_value_is_NULL(void **state)
{
    (void)state;
    assert_null(wdmsim_status_name((NTSTATUS)0xC0FFEE01));
    assert_null(wdmsim_status_name((NTSTATUS)0x12345678));
}

static void wdmsim_status_text_prints_32_bits_and_the_name(void **state)
{
    (void)state;
    assert_string_equal(wdmsim_status_text(STATUS_OBJECT_NAME_NOT_FOUND).text,
                        "0xC0000034 STATUS_OBJECT_NAME_NOT_FOUND");
    assert_string_equal(wdmsim_status_text(STATUS_SUCCESS).text, "0x00000000 STATUS_SUCCESS");
    assert_string_equal(wdmsim_status_text(STATUS_INVALID_PARAMETER_12).text,
                        "0xC00000FA STATUS_INVALID_PARAMETER_12");
}

static void wdmsim_status_text_of_an_undefined_value_is_the_value_alone(void **state)
{
    (void)state;
    assert_string_equal(wdmsim_status_text((NTSTATUS)0xC0FFEE01).text, "0xC0FFEE01");
}

static void wdmsim_status_text_holds_every_value_and_name_whole(void **state)
{
    NTSTATUS value;
    const char *name;

    (void)state;
    for (size_t i = 0; (name = wdmsim_status_at(i, &value)) != NULL; i++) {
        char expected[128];

        snprintf(expected, sizeof expected, "0x%08X %s", (unsigned)value, wdmsim_status_name(value));
        assert_string_equal(wdmsim_status_text(value).text, expected);
    }
}

static void the_status_table_is_sorted_by_value_with_each_name_once(void **state)
{
    NTSTATUS previous = 0;
    NTSTATUS value;
    const char *name;

    (void)state;
    assert_true(wdmsim_status_count() >= 200);
    for (size_t i = 0; (name = wdmsim_status_at(i, &value)) != NULL; i++) {
        assert_true((ULONG)value >= (ULONG)previous);
        for (size_t j = 0; j < i; j++) {
            NTSTATUS other;

            assert_string_not_equal(wdmsim_status_at(j, &other), name);
        }
        previous = value;
    }
    assert_null(wdmsim_status_at(wdmsim_status_count(), &value));
}

static void the_statuses_drivers_commonly_return_are_defined(void **state)
{
    (void)state;
    assert_int_equal((ULONG)STATUS_NO_MORE_ENTRIES, 0x8000001Au);
    assert_int_equal((ULONG)STATUS_INVALID_DEVICE_STATE, 0xC0000184u);
    assert_int_equal((ULONG)STATUS_DELETE_PENDING, 0xC0000056u);
    assert_int_equal((ULONG)STATUS_DEVICE_NOT_READY, 0xC00000A3u);
    assert_int_equal((ULONG)STATUS_DEVICE_REMOVED, 0xC00002B6u);
    assert_int_equal((ULONG)STATUS_NOT_FOUND, 0xC0000225u);
    assert_true(NT_SUCCESS(STATUS_OBJECT_NAME_EXISTS));
    assert_false(NT_SUCCESS(STATUS_BUFFER_OVERFLOW));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(wdmsim_status_name_names_STATUS_OBJECT_NAME_NOT_FOUND),
        cmocka_unit_test(wdmsim_status_name_gives_the_first_of_two_names_for_one_value),
        cmocka_unit_test(wdmsim_status_name_of_an_undefined_value_is_NULL),
        cmocka_unit_test(wdmsim_status_text_prints_32_bits_and_the_name),
        cmocka_unit_test(wdmsim_status_text_of_an_undefined_value_is_the_value_alone),
        cmocka_unit_test(wdmsim_status_text_holds_every_value_and_name_whole),
        cmocka_unit_test(the_status_table_is_sorted_by_value_with_each_name_once),
        cmocka_unit_test(the_statuses_drivers_commonly_return_are_defined),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
