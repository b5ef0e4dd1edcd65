/*
 * test_strsafe.c - ntstrsafe.h's functions (sim_kernel/src/strsafe.c) as the WDK documents them:
 * bounded copies and concatenations that always terminate, STATUS_BUFFER_OVERFLOW with the
 * truncated result, STATUS_INVALID_PARAMETER for bad sizes, unterminated destinations and NULLs,
 * the Cb forms counting bytes, the Ex forms' end, remaining count and flags, lengths, printf, the
 * UNICODE_STRING forms, and the one IRQL rule (text conversions at PASSIVE_LEVEL).
 */
#include <wdmsim/test.h>
#include <ntstrsafe.h>

#define WSTR_EQUAL(buffer, literal) assert_memory_equal((buffer), (literal), sizeof(literal))

/* ---- Copy ---- */

static void RtlStringCchCopyW_copies_and_terminates(void **state)
{
    WCHAR d[8];

    (void)state;
    assert_int_equal(RtlStringCchCopyW(d, ARRAYSIZE(d), L"abc"), STATUS_SUCCESS);
    WSTR_EQUAL(d, L"abc");
}

static void RtlStringCchCopyA_truncates_terminated_with_BUFFER_OVERFLOW(void **state)
{
    char d[4];

    (void)state;
    assert_int_equal(RtlStringCchCopyA(d, sizeof d, "abcdef"), STATUS_BUFFER_OVERFLOW);
    assert_string_equal(d, "abc");
    assert_int_equal(RtlStringCchCopyA(d, sizeof d, "abc"), STATUS_SUCCESS);
}

static void a_zero_or_oversized_destination_is_INVALID_PARAMETER(void **state)
{
    char d[4] = "xyz";

    (void)state;
    assert_int_equal(RtlStringCchCopyA(d, 0, "a"), STATUS_INVALID_PARAMETER);
    assert_string_equal(d, "xyz");
    assert_int_equal(RtlStringCchCopyA(d, (size_t)NTSTRSAFE_MAX_CCH + 1, "a"), STATUS_INVALID_PARAMETER);
    assert_string_equal(d, "");
    assert_int_equal(RtlStringCchCopyA(NULL, 4, "a"), STATUS_INVALID_PARAMETER);
    assert_int_equal(RtlStringCchCopyA(d, 4, NULL), STATUS_INVALID_PARAMETER);
}

static void RtlStringCbCopyW_counts_bytes_and_ignores_an_odd_one(void **state)
{
    WCHAR d[4];

    (void)state;
    assert_int_equal(RtlStringCbCopyW(d, 7, L"abc"), STATUS_BUFFER_OVERFLOW);
    WSTR_EQUAL(d, L"ab");
    assert_int_equal(RtlStringCbCopyW(d, sizeof d, L"abc"), STATUS_SUCCESS);
    WSTR_EQUAL(d, L"abc");
}

static void RtlStringCchCopyN_takes_at_most_N_characters(void **state)
{
    char d[8];
    WCHAR w[8];

    (void)state;
    assert_int_equal(RtlStringCchCopyNA(d, sizeof d, "abcdef", 3), STATUS_SUCCESS);
    assert_string_equal(d, "abc");
    assert_int_equal(RtlStringCbCopyNW(w, sizeof w, L"abcdef", 4), STATUS_SUCCESS);
    WSTR_EQUAL(w, L"ab");
    assert_int_equal(RtlStringCchCopyNA(d, 3, "abcdef", 5), STATUS_BUFFER_OVERFLOW);
    assert_string_equal(d, "ab");
}

/* ---- Cat ---- */

static void RtlStringCchCatW_appends_what_fits(void **state)
{
    WCHAR d[6] = L"ab";

    (void)state;
    assert_int_equal(RtlStringCchCatW(d, ARRAYSIZE(d), L"cd"), STATUS_SUCCESS);
    WSTR_EQUAL(d, L"abcd");
    assert_int_equal(RtlStringCchCatW(d, ARRAYSIZE(d), L"efg"), STATUS_BUFFER_OVERFLOW);
    WSTR_EQUAL(d, L"abcde");
    assert_int_equal(RtlStringCchCatW(d, ARRAYSIZE(d), L"h"), STATUS_BUFFER_OVERFLOW);
    assert_int_equal(RtlStringCchCatW(d, ARRAYSIZE(d), L""), STATUS_SUCCESS);
}

static void a_destination_with_no_terminator_inside_it_is_INVALID_PARAMETER(void **state)
{
    char d[4] = { 'a', 'b', 'c', 'd' };

    (void)state;
    assert_int_equal(RtlStringCchCatA(d, sizeof d, "e"), STATUS_INVALID_PARAMETER);
    assert_memory_equal(d, "abcd", 4);
}

static void RtlStringCbCatNA_appends_at_most_N_bytes(void **state)
{
    char d[8] = "ab";

    (void)state;
    assert_int_equal(RtlStringCbCatNA(d, sizeof d, "cdef", 2), STATUS_SUCCESS);
    assert_string_equal(d, "abcd");
}

/* ---- Ex forms ---- */

static void the_Ex_forms_give_the_terminator_and_the_room_left(void **state)
{
    char d[8];
    char *end;
    size_t left;
    WCHAR w[5];
    WCHAR *wend;

    (void)state;
    assert_int_equal(RtlStringCchCopyExA(d, sizeof d, "abc", &end, &left, 0), STATUS_SUCCESS);
    assert_ptr_equal(end, d + 3);
    assert_int_equal(left, 5);
    assert_int_equal(RtlStringCchCatExA(d, sizeof d, "defgh", &end, &left, 0), STATUS_BUFFER_OVERFLOW);
    assert_string_equal(d, "abcdefg");
    assert_ptr_equal(end, d + 7);
    assert_int_equal(left, 1);
    assert_int_equal(RtlStringCbCopyExW(w, sizeof w + 1 - 2, L"a", &wend, &left, 0), STATUS_SUCCESS);
    assert_ptr_equal(wend, w + 1);
    assert_int_equal(left, 3 * sizeof(WCHAR) + 1);
}

static void IGNORE_NULLS_takes_a_NULL_source_as_empty_and_a_NULL_buffer_of_size_0(void **state)
{
    char d[4] = "xyz";
    char *end = d + 1;
    size_t left = 9;

    (void)state;
    assert_int_equal(RtlStringCchCopyExA(d, sizeof d, NULL, &end, &left, STRSAFE_IGNORE_NULLS), STATUS_SUCCESS);
    assert_string_equal(d, "");
    assert_ptr_equal(end, d);
    assert_int_equal(left, 4);
    assert_int_equal(RtlStringCchCopyExA(NULL, 0, "", NULL, NULL, STRSAFE_IGNORE_NULLS), STATUS_SUCCESS);
    assert_int_equal(RtlStringCchCopyExA(NULL, 0, "a", NULL, NULL, STRSAFE_IGNORE_NULLS), STATUS_INVALID_PARAMETER);
    assert_int_equal(RtlStringCchCopyExA(NULL, 4, "", NULL, NULL, STRSAFE_IGNORE_NULLS), STATUS_INVALID_PARAMETER);
    assert_int_equal(RtlStringCchCopyExA(d, 0, "a", NULL, NULL, 0), STATUS_BUFFER_OVERFLOW);
}

static void FILL_BEHIND_NULL_fills_the_rest_after_success(void **state)
{
    char d[6];

    (void)state;
    assert_int_equal(RtlStringCchCopyExA(d, sizeof d, "ab", NULL, NULL, STRSAFE_FILL_BYTE('*')), STATUS_SUCCESS);
    assert_memory_equal(d, "ab\0***", 6);
}

static void FILL_ON_FAILURE_fills_the_whole_buffer_and_terminates_it(void **state)
{
    char d[5];
    char *end;
    size_t left;

    (void)state;
    assert_int_equal(RtlStringCchCopyExA(d, sizeof d, "abcdefg", &end, &left, STRSAFE_FAILURE_BYTE('#')),
                     STATUS_BUFFER_OVERFLOW);
    assert_memory_equal(d, "####", 5);
    assert_ptr_equal(end, d + 4);
    assert_int_equal(left, 1);
}

static void NULL_ON_FAILURE_and_NO_TRUNCATION_leave_no_truncated_copy(void **state)
{
    char d[4];

    (void)state;
    assert_int_equal(RtlStringCchCopyExA(d, sizeof d, "abcdef", NULL, NULL, STRSAFE_NULL_ON_FAILURE),
                     STATUS_BUFFER_OVERFLOW);
    assert_string_equal(d, "");
    assert_int_equal(RtlStringCchCopyExA(d, sizeof d, "abcdef", NULL, NULL, STRSAFE_NO_TRUNCATION),
                     STATUS_BUFFER_OVERFLOW);
    assert_string_equal(d, "");
}

static void a_concatenation_with_NO_TRUNCATION_keeps_the_string_as_it_was(void **state)
{
    char d[6] = "ab";

    (void)state;
    assert_int_equal(RtlStringCchCatExA(d, sizeof d, "cdefg", NULL, NULL, STRSAFE_NO_TRUNCATION),
                     STATUS_BUFFER_OVERFLOW);
    assert_string_equal(d, "ab");
    assert_int_equal(RtlStringCchCatExA(d, sizeof d, "cdefg", NULL, NULL, STRSAFE_NULL_ON_FAILURE),
                     STATUS_BUFFER_OVERFLOW);
    assert_string_equal(d, "");
}

static void unknown_flags_are_INVALID_PARAMETER(void **state)
{
    char d[4];

    (void)state;
    assert_int_equal(RtlStringCchCopyExA(d, sizeof d, "a", NULL, NULL, 0x8000), STATUS_INVALID_PARAMETER);
    assert_int_equal(RtlStringCchCopyExA(d, sizeof d, "a", NULL, NULL, STRSAFE_IGNORE_NULL_UNICODE_STRINGS),
                     STATUS_INVALID_PARAMETER);
}

/* ---- Length ---- */

static void RtlStringCchLength_counts_up_to_the_terminator_within_the_maximum(void **state)
{
    size_t n = 99;

    (void)state;
    assert_int_equal(RtlStringCchLengthA("abc", 4, &n), STATUS_SUCCESS);
    assert_int_equal(n, 3);
    assert_int_equal(RtlStringCchLengthA("abc", 3, &n), STATUS_INVALID_PARAMETER);
    assert_int_equal(n, 0);
    assert_int_equal(RtlStringCbLengthW(L"abc", 8, &n), STATUS_SUCCESS);
    assert_int_equal(n, 6);
    assert_int_equal(RtlStringCchLengthW(NULL, 8, &n), STATUS_INVALID_PARAMETER);
    assert_int_equal(RtlStringCchLengthW(L"a", 8, NULL), STATUS_SUCCESS);
}

/* ---- Printf ---- */

static void RtlStringCbPrintfA_formats_and_truncates_terminated(void **state)
{
    char d[8];

    (void)state;
    assert_int_equal(RtlStringCbPrintfA(d, sizeof d, "x=%d", 42), STATUS_SUCCESS);
    assert_string_equal(d, "x=42");
    assert_int_equal(RtlStringCbPrintfA(d, sizeof d, "value=%d", 12345), STATUS_BUFFER_OVERFLOW);
    assert_string_equal(d, "value=1");
    assert_int_equal(RtlStringCbPrintfA(d, 0, "x"), STATUS_INVALID_PARAMETER);
}

static void RtlStringCchPrintfExW_reports_its_end(void **state)
{
    WCHAR d[8];
    WCHAR *end;
    size_t left;

    (void)state;
    assert_int_equal(RtlStringCchPrintfExW(d, ARRAYSIZE(d), &end, &left, 0, L"%s-%u", L"ab", 7u), STATUS_SUCCESS);
    WSTR_EQUAL(d, L"ab-7");
    assert_ptr_equal(end, d + 4);
    assert_int_equal(left, 4);
}

static NTSTATUS vprint(char *d, size_t size, const char *format, ...)
{
    va_list ap;
    NTSTATUS status;

    va_start(ap, format);
    status = RtlStringCbVPrintfA(d, size, format, ap);
    va_end(ap);
    return status;
}

static void RtlStringCbVPrintfA_takes_a_va_list(void **state)
{
    char d[16];

    (void)state;
    assert_int_equal(vprint(d, sizeof d, "%s:%03d", "id", 5), STATUS_SUCCESS);
    assert_string_equal(d, "id:005");
}

static void format_numbers_at(void *context)
{
    char d[16];
    WCHAR w[16];
    KIRQL old;

    KeRaiseIrql(DISPATCH_LEVEL, &old);
    RtlStringCbPrintfA(d, sizeof d, "%d %s", 1, "ok");
    RtlStringCbPrintfW(w, sizeof w, L"%d %s", 1, L"ok");
    if (context != NULL)
        RtlStringCbPrintfA(d, sizeof d, "%wZ", (PCUNICODE_STRING)context);
    KeLowerIrql(old);
}

static void printf_at_DISPATCH_LEVEL_works_until_text_changes_width(void **state)
{
    UNICODE_STRING name = RTL_CONSTANT_STRING(L"name");
    struct wdmsim_stop stop;

    (void)state;
    format_numbers_at(NULL);
    wdmsim_assert_stops(format_numbers_at, &name, 0x0A, WDMSIM_ANY_PARAM, "strsafe.unicode_conversion_above_passive",
                        &stop);
    assert_int_equal(stop.params[1], DISPATCH_LEVEL);
}

/* ---- UNICODE_STRING ---- */

static void RtlUnicodeStringInit_counts_and_refuses_a_too_long_string(void **state)
{
    static WCHAR long_text[NTSTRSAFE_UNICODE_STRING_MAX_CCH + 1];
    UNICODE_STRING s;

    (void)state;
    assert_int_equal(RtlUnicodeStringInit(&s, L"abc"), STATUS_SUCCESS);
    assert_int_equal(s.Length, 6);
    assert_int_equal(s.MaximumLength, 8);
    for (size_t i = 0; i < NTSTRSAFE_UNICODE_STRING_MAX_CCH; i++)
        long_text[i] = L'x';
    assert_int_equal(RtlUnicodeStringInit(&s, long_text), STATUS_INVALID_PARAMETER);
    assert_int_equal(s.Length, 0);
}

static void RtlUnicodeStringValidate_refuses_odd_or_inconsistent_lengths(void **state)
{
    WCHAR b[4];
    UNICODE_STRING ok = { 2, 8, b }, odd = { 3, 8, b }, over = { 10, 8, b }, no_buffer = { 0, 8, NULL };

    (void)state;
    assert_int_equal(RtlUnicodeStringValidate(&ok), STATUS_SUCCESS);
    assert_int_equal(RtlUnicodeStringValidate(&odd), STATUS_INVALID_PARAMETER);
    assert_int_equal(RtlUnicodeStringValidate(&over), STATUS_INVALID_PARAMETER);
    assert_int_equal(RtlUnicodeStringValidate(&no_buffer), STATUS_INVALID_PARAMETER);
    assert_int_equal(RtlUnicodeStringValidate(NULL), STATUS_INVALID_PARAMETER);
}

static void RtlUnicodeStringCopy_copies_without_a_terminator_and_truncates_with_BUFFER_OVERFLOW(void **state)
{
    WCHAR b[3] = { 0x5A5A, 0x5A5A, 0x5A5A };
    UNICODE_STRING d = { 0, sizeof b, b };
    UNICODE_STRING s = RTL_CONSTANT_STRING(L"ab");
    UNICODE_STRING big = RTL_CONSTANT_STRING(L"abcd");

    (void)state;
    assert_int_equal(RtlUnicodeStringCopy(&d, &s), STATUS_SUCCESS);
    assert_int_equal(d.Length, 4);
    assert_int_equal(b[2], 0x5A5A);
    assert_int_equal(RtlUnicodeStringCopy(&d, &big), STATUS_BUFFER_OVERFLOW);
    assert_int_equal(d.Length, 6);
    assert_memory_equal(b, L"abc", 6);
}

static void copying_into_an_empty_buffer_or_catting_into_a_full_one_is_INVALID_PARAMETER(void **state)
{
    WCHAR b[2] = { L'x', L'y' };
    UNICODE_STRING empty = { 0, 0, NULL };
    UNICODE_STRING full = { 4, 4, b };

    (void)state;
    assert_int_equal(RtlUnicodeStringCopyString(&empty, L"a"), STATUS_INVALID_PARAMETER);
    assert_int_equal(RtlUnicodeStringCopyString(&empty, L""), STATUS_SUCCESS);
    assert_int_equal(RtlUnicodeStringCatString(&full, L"a"), STATUS_INVALID_PARAMETER);
    assert_int_equal(full.Length, 4);
}

static void RtlUnicodeStringCat_appends_and_CatEx_NO_TRUNCATION_keeps_the_original(void **state)
{
    WCHAR b[4];
    UNICODE_STRING d = { 0, sizeof b, b };
    UNICODE_STRING s = RTL_CONSTANT_STRING(L"ab");
    UNICODE_STRING r;

    (void)state;
    assert_int_equal(RtlUnicodeStringCat(&d, &s), STATUS_SUCCESS);
    assert_int_equal(RtlUnicodeStringCatStringEx(&d, L"cde", &r, STRSAFE_NO_TRUNCATION), STATUS_BUFFER_OVERFLOW);
    assert_int_equal(d.Length, 4);
    assert_ptr_equal(r.Buffer, b + 2);
    assert_int_equal(r.MaximumLength, 4);
    assert_int_equal(r.Length, 0);
    assert_int_equal(RtlUnicodeStringCatEx(&d, &s, &r, 0), STATUS_SUCCESS);
    assert_int_equal(d.Length, 8);
    assert_memory_equal(b, L"abab", 8);
    assert_int_equal(r.MaximumLength, 0);
}

static void RtlUnicodeStringPrintf_formats_into_the_buffer_with_no_terminator(void **state)
{
    WCHAR b[6];
    UNICODE_STRING d = { 0, sizeof b, b };
    UNICODE_STRING r;

    (void)state;
    assert_int_equal(RtlUnicodeStringPrintf(&d, L"%d-%s", 12, L"ab"), STATUS_SUCCESS);
    assert_int_equal(d.Length, 10);
    assert_memory_equal(b, L"12-ab", 10);
    assert_int_equal(RtlUnicodeStringPrintfEx(&d, &r, STRSAFE_FILL_BEHIND | 0x41, L"%d", 123456789),
                     STATUS_BUFFER_OVERFLOW);
    assert_int_equal(d.Length, 12);
    assert_memory_equal(b, L"123456", 12);
    assert_int_equal(RtlUnicodeStringPrintfEx(&d, &r, STRSAFE_FILL_BEHIND | 0x41, L"%d", 7), STATUS_SUCCESS);
    assert_int_equal(d.Length, 2);
    assert_int_equal(b[1], 0x4141);
    assert_int_equal(r.MaximumLength, 10);
}

static void RtlUnicodeStringCopyEx_ZERO_LENGTH_ON_FAILURE_empties_it(void **state)
{
    WCHAR b[2];
    UNICODE_STRING d = { 0, sizeof b, b };
    UNICODE_STRING s = RTL_CONSTANT_STRING(L"abc");

    (void)state;
    assert_int_equal(RtlUnicodeStringCopyEx(&d, &s, NULL, STRSAFE_ZERO_LENGTH_ON_FAILURE), STATUS_BUFFER_OVERFLOW);
    assert_int_equal(d.Length, 0);
    assert_int_equal(RtlUnicodeStringCopyEx(&d, NULL, NULL, 0), STATUS_INVALID_PARAMETER);
    assert_int_equal(RtlUnicodeStringCopyEx(&d, NULL, NULL, STRSAFE_IGNORE_NULLS), STATUS_SUCCESS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        wdmsim_test(RtlStringCchCopyW_copies_and_terminates),
        wdmsim_test(RtlStringCchCopyA_truncates_terminated_with_BUFFER_OVERFLOW),
        wdmsim_test(a_zero_or_oversized_destination_is_INVALID_PARAMETER),
        wdmsim_test(RtlStringCbCopyW_counts_bytes_and_ignores_an_odd_one),
        wdmsim_test(RtlStringCchCopyN_takes_at_most_N_characters),
        wdmsim_test(RtlStringCchCatW_appends_what_fits),
        wdmsim_test(a_destination_with_no_terminator_inside_it_is_INVALID_PARAMETER),
        wdmsim_test(RtlStringCbCatNA_appends_at_most_N_bytes),
        wdmsim_test(the_Ex_forms_give_the_terminator_and_the_room_left),
        wdmsim_test(IGNORE_NULLS_takes_a_NULL_source_as_empty_and_a_NULL_buffer_of_size_0),
        wdmsim_test(FILL_BEHIND_NULL_fills_the_rest_after_success),
        wdmsim_test(FILL_ON_FAILURE_fills_the_whole_buffer_and_terminates_it),
        wdmsim_test(NULL_ON_FAILURE_and_NO_TRUNCATION_leave_no_truncated_copy),
        wdmsim_test(a_concatenation_with_NO_TRUNCATION_keeps_the_string_as_it_was),
        wdmsim_test(unknown_flags_are_INVALID_PARAMETER),
        wdmsim_test(RtlStringCchLength_counts_up_to_the_terminator_within_the_maximum),
        wdmsim_test(RtlStringCbPrintfA_formats_and_truncates_terminated),
        wdmsim_test(RtlStringCchPrintfExW_reports_its_end),
        wdmsim_test(RtlStringCbVPrintfA_takes_a_va_list),
        wdmsim_test(printf_at_DISPATCH_LEVEL_works_until_text_changes_width),
        wdmsim_test(RtlUnicodeStringInit_counts_and_refuses_a_too_long_string),
        wdmsim_test(RtlUnicodeStringValidate_refuses_odd_or_inconsistent_lengths),
        wdmsim_test(RtlUnicodeStringCopy_copies_without_a_terminator_and_truncates_with_BUFFER_OVERFLOW),
        wdmsim_test(copying_into_an_empty_buffer_or_catting_into_a_full_one_is_INVALID_PARAMETER),
        wdmsim_test(RtlUnicodeStringCat_appends_and_CatEx_NO_TRUNCATION_keeps_the_original),
        wdmsim_test(RtlUnicodeStringPrintf_formats_into_the_buffer_with_no_terminator),
        wdmsim_test(RtlUnicodeStringCopyEx_ZERO_LENGTH_ON_FAILURE_empties_it),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
