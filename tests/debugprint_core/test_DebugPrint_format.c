/*
 * test_DebugPrint_format.c - DebugSprintf, DebugPrint's formatter (the book's Table 6.1): every
 * conversion, widths from '*' and from digits (0 included, unlike the original), strings cut to
 * their width, upper-case zero-padded hex, INT_MIN, and output that is always NUL-terminated.
 */
#include <limits.h>
#include <stdlib.h>

#include "DebugPrint.h"
#include <wdmsim/test.h>

static char out[256];

static int format_into(char *buffer, int max, const char *fmt, ...)
{
    va_list args;
    int length;

    va_start(args, fmt);
    length = DebugSprintf(buffer, max, fmt, args);
    va_end(args);
    return length;
}

#define format(max, ...) format_into(out, (max), __VA_ARGS__)

static void plain_text_is_copied_and_the_length_returned(void **state)
{
    (void)state;
    assert_int_equal(format(sizeof out, "no conversions", 0), 14);
    assert_string_equal(out, "no conversions");
}

static void percent_c_and_C_print_a_character_and_a_narrowed_wide_character(void **state)
{
    (void)state;
    format(sizeof out, "%c%C", 'a', (int)L'B');
    assert_string_equal(out, "aB");
}

static void percent_d_and_i_print_signed_ints_including_INT_MIN(void **state)
{
    (void)state;
    format(sizeof out, "%d %i %d %d", 42, -7, 0, INT_MIN);
    assert_string_equal(out, "42 -7 0 -2147483648");
}

static void percent_D_prints_a_signed_64_bit_value(void **state)
{
    (void)state;
    format(sizeof out, "%D %D", (LONGLONG)-1234567890123LL, (LONGLONG)LLONG_MIN);
    assert_string_equal(out, "-1234567890123 -9223372036854775808");
}

static void percent_u_prints_an_unsigned_ULONG(void **state)
{
    (void)state;
    format(sizeof out, "%u", (ULONG)4294967295u);
    assert_string_equal(out, "4294967295");
}

static void percent_x_prints_eight_upper_case_zero_padded_digits(void **state)
{
    (void)state;
    format(sizeof out, "%x %x", (ULONG)0xbeef, (ULONG)0xDEADBEEF);
    assert_string_equal(out, "0000BEEF DEADBEEF");
}

static void a_width_below_eight_keeps_that_many_low_order_hex_digits(void **state)
{
    (void)state;
    format(sizeof out, "%4x %1x %*x", (ULONG)0x12345678, (ULONG)0xABC, 2, (ULONG)0x1234);
    assert_string_equal(out, "5678 C 34");
}

static void a_star_width_of_zero_or_less_is_ignored(void **state)
{
    (void)state;
    format(sizeof out, "%*x|%*x", 0, (ULONG)0xAB, -3, (ULONG)0xCD);
    assert_string_equal(out, "000000AB|000000CD");
}

static void percent_l_prints_sixteen_hex_digits_and_width_keeps_the_low_ones(void **state)
{
    (void)state;
    format(sizeof out, "%l %12l %4l", (LONGLONG)0x0123456789ABCDEFLL, (LONGLONG)0x0123456789ABCDEFLL,
           (LONGLONG)0x0123456789ABCDEFLL);
    assert_string_equal(out, "0123456789ABCDEF 456789ABCDEF CDEF");
}

static void percent_L_prints_a_LARGE_INTEGER_in_hex(void **state)
{
    LARGE_INTEGER value = { .QuadPart = 0x1122334455667788LL };

    (void)state;
    format(sizeof out, "%L", value);
    assert_string_equal(out, "1122334455667788");
}

static void percent_s_prints_a_string_and_its_width_is_a_maximum(void **state)
{
    (void)state;
    format(sizeof out, "[%s] [%3s] [%*s]", "DebugPrint", "DebugPrint", 5, "DebugPrint");
    assert_string_equal(out, "[DebugPrint] [Deb] [Debug]");
}

static void a_width_containing_a_zero_works(void **state)
{
    (void)state;
    format(sizeof out, "[%10s] [%10x]", "abcdefghijklmno", (ULONG)0x1F);
    assert_string_equal(out, "[abcdefghij] [0000001F]");
}

static void percent_S_prints_a_wide_string_narrowed_and_cut_to_width(void **state)
{
    (void)state;
    format(sizeof out, "%S %3S", L"Wide", L"Wide");
    assert_string_equal(out, "Wide Wid");
}

static void percent_T_prints_a_counted_UNICODE_STRING(void **state)
{
    WCHAR text[] = L"\\Registry\\Machine";
    UNICODE_STRING counted = { 18, sizeof text, text };

    (void)state;
    format(sizeof out, "%T|%4T", &counted, &counted);
    assert_string_equal(out, "\\Registry|\\Reg");
}

static void percent_T_stops_at_an_embedded_NUL(void **state)
{
    WCHAR text[] = L"ab\0cd";
    UNICODE_STRING counted = { 10, sizeof text, text };

    (void)state;
    format(sizeof out, "%T", &counted);
    assert_string_equal(out, "ab");
}

/* The buffer holds MaximumLength bytes; a Length beyond it must not be believed. Under ASan the
 * buffer is exactly those bytes; without it, the characters past them would be printed. */
static void percent_T_reads_no_more_than_MaximumLength_when_Length_exceeds_it(void **state)
{
    WCHAR *text = malloc(3 * sizeof(WCHAR));
    WCHAR beyond[] = L"abcdefg";
    UNICODE_STRING broken = { 14, 6, text };
    UNICODE_STRING broken_in_place = { 14, 6, beyond };

    (void)state;
    memcpy(text, L"xyz", 3 * sizeof(WCHAR));
    format(sizeof out, "%T|%T", &broken, &broken_in_place);
    assert_string_equal(out, "xyz|abc");
    free(text);
}

static void percent_T_with_a_NULL_buffer_prints_null_whatever_its_lengths(void **state)
{
    UNICODE_STRING empty = { 0, 0, NULL };
    UNICODE_STRING broken = { 8, 8, NULL };

    (void)state;
    format(sizeof out, "%T|%T", &empty, &broken);
    assert_string_equal(out, "(null)|(null)");
}

static void NULL_strings_print_as_null(void **state)
{
    (void)state;
    format(sizeof out, "%s %S %T", (char *)NULL, (WCHAR *)NULL, (UNICODE_STRING *)NULL);
    assert_string_equal(out, "(null) (null) (null)");
}

static void percent_I_names_the_major_and_the_PnP_minor_function(void **state)
{
    struct {
        IRP irp;
        IO_STACK_LOCATION stack[1];
    } storage;

    (void)state;
    memset(&storage, 0, sizeof storage);
    storage.irp.Tail.Overlay.CurrentStackLocation = &storage.stack[0];
    storage.stack[0].MajorFunction = IRP_MJ_READ;
    format(sizeof out, "%I", &storage.irp);
    assert_string_equal(out, "READ");
    storage.stack[0].MajorFunction = IRP_MJ_PNP;
    storage.stack[0].MinorFunction = IRP_MN_START_DEVICE;
    format(sizeof out, "%I", &storage.irp);
    assert_string_equal(out, "PNP:START_DEVICE");
    storage.stack[0].MinorFunction = 0x40;
    format(sizeof out, "%I", &storage.irp);
    assert_string_equal(out, "PNP:00000040");
}

static void double_percent_prints_one_and_an_unknown_conversion_prints_its_letter(void **state)
{
    (void)state;
    format(sizeof out, "100%% %q", 0);
    assert_string_equal(out, "100% q");
}

static void a_percent_at_the_end_ends_the_output(void **state)
{
    (void)state;
    format(sizeof out, "abc%", 0);
    assert_string_equal(out, "abc");
}

static void output_is_cut_to_the_buffer_and_always_NUL_terminated(void **state)
{
    (void)state;
    memset(out, 'Z', sizeof out);
    assert_int_equal(format(6, "%s %d", "overflowing", 12345), 5);
    assert_string_equal(out, "overf");
    assert_int_equal(format(1, "anything", 0), 0);
    assert_string_equal(out, "");
}

static void a_NULL_buffer_or_no_room_writes_nothing(void **state)
{
    (void)state;
    assert_int_equal(format_into(NULL, 10, "x"), 0);
    out[0] = 'Z';
    assert_int_equal(format(0, "x", 0), 0);
    assert_int_equal(out[0], 'Z');
}

/* Under ASan these buffers are exactly their text: reading one byte more fails the test. */
static void a_string_width_stops_reading_at_the_width_so_unterminated_buffers_are_safe(void **state)
{
    char *ansi = malloc(5);
    WCHAR *wide = malloc(3 * sizeof(WCHAR));

    (void)state;
    memcpy(ansi, "abcde", 5);
    memcpy(wide, L"xyz", 3 * sizeof(WCHAR));
    format(sizeof out, "%5s|%*s|%3S", ansi, 5, ansi, wide);
    assert_string_equal(out, "abcde|abcde|xyz");
    free(ansi);
    free(wide);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(plain_text_is_copied_and_the_length_returned),
        cmocka_unit_test(percent_c_and_C_print_a_character_and_a_narrowed_wide_character),
        cmocka_unit_test(percent_d_and_i_print_signed_ints_including_INT_MIN),
        cmocka_unit_test(percent_D_prints_a_signed_64_bit_value),
        cmocka_unit_test(percent_u_prints_an_unsigned_ULONG),
        cmocka_unit_test(percent_x_prints_eight_upper_case_zero_padded_digits),
        cmocka_unit_test(a_width_below_eight_keeps_that_many_low_order_hex_digits),
        cmocka_unit_test(a_star_width_of_zero_or_less_is_ignored),
        cmocka_unit_test(percent_l_prints_sixteen_hex_digits_and_width_keeps_the_low_ones),
        cmocka_unit_test(percent_L_prints_a_LARGE_INTEGER_in_hex),
        cmocka_unit_test(percent_s_prints_a_string_and_its_width_is_a_maximum),
        cmocka_unit_test(a_width_containing_a_zero_works),
        cmocka_unit_test(percent_S_prints_a_wide_string_narrowed_and_cut_to_width),
        cmocka_unit_test(percent_T_prints_a_counted_UNICODE_STRING),
        cmocka_unit_test(percent_T_stops_at_an_embedded_NUL),
        cmocka_unit_test(percent_T_reads_no_more_than_MaximumLength_when_Length_exceeds_it),
        cmocka_unit_test(percent_T_with_a_NULL_buffer_prints_null_whatever_its_lengths),
        cmocka_unit_test(NULL_strings_print_as_null),
        cmocka_unit_test(percent_I_names_the_major_and_the_PnP_minor_function),
        cmocka_unit_test(double_percent_prints_one_and_an_unknown_conversion_prints_its_letter),
        cmocka_unit_test(a_percent_at_the_end_ends_the_output),
        cmocka_unit_test(output_is_cut_to_the_buffer_and_always_NUL_terminated),
        cmocka_unit_test(a_NULL_buffer_or_no_room_writes_nothing),
        cmocka_unit_test(a_string_width_stops_reading_at_the_width_so_unterminated_buffers_are_safe),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
