/*
 * test_format.c - the kernel's printf of sim_kernel/src/format.c, through the ntstrsafe printf
 * functions in both widths (DbgPrint's use is in test_debug.c): Windows' integer sizes and
 * prefixes, %p, width and precision, counted strings, text of either width in either output,
 * the code page, and what is not converted.
 */
#include <wdmsim/test.h>
#include <ntstrsafe.h>

static void numbers_take_Windows_sizes_and_the_I_prefixes(void **state)
{
    char out[128];

    (void)state;
    assert_int_equal(RtlStringCchPrintfA(out, ARRAYSIZE(out), "%d %u %x %X %ld %hd %hhx", -1, 3000000000u, 255u,
                                         255u, (LONG)-5, 70000, 0x1FF),
                     STATUS_SUCCESS);
    assert_string_equal(out, "-1 3000000000 ff FF -5 4464 ff");
    assert_int_equal(RtlStringCchPrintfA(out, ARRAYSIZE(out), "%I64d %I64X %lld %Id %I32u", -5000000000LL,
                                         0x123456789ABCULL, 1LL << 40, (LONG_PTR)-2, 7u),
                     STATUS_SUCCESS);
    assert_string_equal(out, "-5000000000 123456789ABC 1099511627776 -2 7");
}

static void a_pointer_prints_as_16_upper_case_hex_digits(void **state)
{
    char out[32];

    (void)state;
    RtlStringCchPrintfA(out, ARRAYSIZE(out), "%p", (void *)(ULONG_PTR)0xABCDEF);
    assert_string_equal(out, "0000000000ABCDEF");
}

static void width_precision_and_flags_apply_to_numbers_and_text(void **state)
{
    char out[64];

    (void)state;
    RtlStringCchPrintfA(out, ARRAYSIZE(out), "[%5d|%-5d|%05d|%.3d|%5s|%-5s|%.2s|%*d]", 42, 42, 42, 7, "ab", "ab",
                        "abcdef", 4, 9);
    assert_string_equal(out, "[   42|42   |00042|007|   ab|ab   |ab|   9]");
}

static void counted_strings_print_their_Length_only(void **state)
{
    UNICODE_STRING u = { 4, 12, L"abcdef" };
    ANSI_STRING a = { 3, 7, "uvwxyz" };
    char out[32];

    (void)state;
    RtlStringCchPrintfA(out, ARRAYSIZE(out), "%wZ|%Z", &u, &a);
    assert_string_equal(out, "ab|uvw");
}

static void NULL_text_prints_as_null_in_parentheses(void **state)
{
    char out[32];

    (void)state;
    RtlStringCchPrintfA(out, ARRAYSIZE(out), "%s|%ws|%wZ", (char *)NULL, (WCHAR *)NULL, (UNICODE_STRING *)NULL);
    assert_string_equal(out, "(null)|(null)|(null)");
}

static void in_ANSI_output_S_ws_and_ls_take_Unicode_text(void **state)
{
    char out[64];

    (void)state;
    RtlStringCchPrintfA(out, ARRAYSIZE(out), "%s %S %ws %ls %hs %c%C%wc", "a", L"b", L"c", L"d", "e", 'f', L'g', L'h');
    assert_string_equal(out, "a b c d e fgh");
}

static void in_Unicode_output_s_is_Unicode_and_S_hs_are_ANSI(void **state)
{
    WCHAR out[64];

    (void)state;
    RtlStringCchPrintfW(out, ARRAYSIZE(out), L"%s %S %hs %ws %c%C %d", L"a", "b", "c", L"d", L'e', 'f', 12);
    assert_memory_equal(out, L"a b c d ef 12", sizeof L"a b c d ef 12");
}

static void text_changing_width_goes_through_the_Latin1_code_page(void **state)
{
    char narrow[16];
    WCHAR wide[16];

    (void)state;
    RtlStringCchPrintfA(narrow, ARRAYSIZE(narrow), "%ws", L"\x00E9\x20AC");
    assert_string_equal(narrow, "\xE9?");
    RtlStringCchPrintfW(wide, ARRAYSIZE(wide), L"%S", "\xE9");
    assert_int_equal(wide[0], 0x00E9);
    assert_int_equal(wide[1], 0);
}

static void percent_prints_itself_and_floating_point_is_not_converted(void **state)
{
    char out[32];

    (void)state;
    RtlStringCchPrintfA(out, ARRAYSIZE(out), "100%% %f %d", 5);
    assert_string_equal(out, "100% %f 5");
}

static void a_wide_format_keeps_characters_beyond_Latin1(void **state)
{
    WCHAR out[8];

    (void)state;
    RtlStringCchPrintfW(out, ARRAYSIZE(out), L"\x20AC%d", 1);
    assert_memory_equal(out, L"\x20AC" L"1", 3 * sizeof(WCHAR));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        wdmsim_test(numbers_take_Windows_sizes_and_the_I_prefixes),
        wdmsim_test(a_pointer_prints_as_16_upper_case_hex_digits),
        wdmsim_test(width_precision_and_flags_apply_to_numbers_and_text),
        wdmsim_test(counted_strings_print_their_Length_only),
        wdmsim_test(NULL_text_prints_as_null_in_parentheses),
        wdmsim_test(in_ANSI_output_S_ws_and_ls_take_Unicode_text),
        wdmsim_test(in_Unicode_output_s_is_Unicode_and_S_hs_are_ANSI),
        wdmsim_test(text_changing_width_goes_through_the_Latin1_code_page),
        wdmsim_test(percent_prints_itself_and_floating_point_is_not_converted),
        wdmsim_test(a_wide_format_keeps_characters_beyond_Latin1),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
