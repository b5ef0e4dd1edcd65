/*
 * test_rtl.c - the string and memory DDIs of sim_kernel/src/rtl.c: byte lengths, no copies where
 * the DDK makes none, truncation and terminators, Latin-1 case folding, partial memory matches,
 * ANSI/Unicode conversion into given or allocated buffers (freed, or leaked and found), appends,
 * ordering, prefixes, numbers both ways, hashes, and the IRQL each routine needs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <wdmsim/test.h>
#include <ntifs.h>

#define SENTINEL 0xA5A5

static void check_ustring(const UNICODE_STRING *s, const void *buffer, int length, int maximum)
{
    assert_ptr_equal(s->Buffer, buffer);
    assert_int_equal(s->Length, length);
    assert_int_equal(s->MaximumLength, maximum);
}

static UNICODE_STRING counted(PWSTR buffer, USHORT length, USHORT maximum)
{
    UNICODE_STRING s = { length, maximum, buffer };
    return s;
}

static BOOLEAN equal(PCWSTR a, PCWSTR b, BOOLEAN case_insensitive)
{
    UNICODE_STRING sa, sb;

    RtlInitUnicodeString(&sa, a);
    RtlInitUnicodeString(&sb, b);
    return RtlEqualUnicodeString(&sa, &sb, case_insensitive);
}

static PWSTR wide_run(size_t units)
{
    PWSTR s = malloc((units + 1) * sizeof(WCHAR));

    assert_non_null(s);
    for (size_t i = 0; i < units; i++)
        s[i] = L'x';
    s[units] = 0;
    return s;
}

static PCHAR narrow_run(size_t bytes)
{
    PCHAR s = malloc(bytes + 1);

    assert_non_null(s);
    memset(s, 'x', bytes);
    s[bytes] = 0;
    return s;
}

/* ---- Layouts ---- */

static void UNICODE_STRING_and_ANSI_STRING_have_the_x64_DDK_layout(void **state)
{
    (void)state;
    assert_int_equal(sizeof(WCHAR), 2);
    assert_int_equal(sizeof(UNICODE_STRING), 16);
    assert_int_equal(offsetof(UNICODE_STRING, Length), 0);
    assert_int_equal(offsetof(UNICODE_STRING, MaximumLength), 2);
    assert_int_equal(offsetof(UNICODE_STRING, Buffer), 8);
    assert_int_equal(sizeof(ANSI_STRING), 16);
    assert_int_equal(offsetof(ANSI_STRING, Length), 0);
    assert_int_equal(offsetof(ANSI_STRING, MaximumLength), 2);
    assert_int_equal(offsetof(ANSI_STRING, Buffer), 8);
}

/* ---- RtlInitUnicodeString / RtlInitAnsiString ---- */

static void RtlInitUnicodeString_on_Device_PHDDebugPrint_points_at_source_with_byte_lengths(void **state)
{
    static const WCHAR name[] = L"\\Device\\PHDDebugPrint";
    UNICODE_STRING s;

    (void)state;
    memset(&s, 0x5A, sizeof s);
    RtlInitUnicodeString(&s, name);
    check_ustring(&s, name, 21 * 2, 22 * 2);
}

static void RtlInitUnicodeString_on_NULL_gives_empty_string_with_NULL_buffer(void **state)
{
    UNICODE_STRING s;

    (void)state;
    memset(&s, 0x5A, sizeof s);
    RtlInitUnicodeString(&s, NULL);
    check_ustring(&s, NULL, 0, 0);
}

static void RtlInitUnicodeString_on_empty_string_counts_only_the_terminator(void **state)
{
    static const WCHAR empty[] = L"";
    UNICODE_STRING s;

    (void)state;
    RtlInitUnicodeString(&s, empty);
    check_ustring(&s, empty, 0, 2);
}

static void RtlInitUnicodeString_on_0x7FFE_characters_fits_exactly(void **state)
{
    PWSTR text = wide_run(0x7FFE);
    UNICODE_STRING s;

    (void)state;
    RtlInitUnicodeString(&s, text);
    check_ustring(&s, text, 0xFFFC, 0xFFFE);
    free(text);
}

static void RtlInitUnicodeString_longer_than_0xFFFC_bytes_clamps_to_0xFFFC_and_0xFFFE(void **state)
{
    PWSTR text = wide_run(0x9000);
    UNICODE_STRING s;

    (void)state;
    RtlInitUnicodeString(&s, text);
    check_ustring(&s, text, 0xFFFC, 0xFFFE);
    free(text);
}

static void RtlInitAnsiString_counts_bytes_and_one_for_the_terminator(void **state)
{
    static const char name[] = "DebugPrint";
    ANSI_STRING s;

    (void)state;
    memset(&s, 0x5A, sizeof s);
    RtlInitAnsiString(&s, name);
    assert_ptr_equal(s.Buffer, name);
    assert_int_equal(s.Length, 10);
    assert_int_equal(s.MaximumLength, 11);
}

static void RtlInitAnsiString_on_NULL_gives_empty_string_with_NULL_buffer(void **state)
{
    ANSI_STRING s;

    (void)state;
    memset(&s, 0x5A, sizeof s);
    RtlInitAnsiString(&s, NULL);
    assert_null(s.Buffer);
    assert_int_equal(s.Length, 0);
    assert_int_equal(s.MaximumLength, 0);
}

static void RtlInitAnsiString_longer_than_0xFFFE_bytes_clamps_to_0xFFFE_and_0xFFFF(void **state)
{
    PCHAR exact = narrow_run(0xFFFE);
    PCHAR longer = narrow_run(0x12345);
    ANSI_STRING s;

    (void)state;
    RtlInitAnsiString(&s, exact);
    assert_int_equal(s.Length, 0xFFFE);
    assert_int_equal(s.MaximumLength, 0xFFFF);
    RtlInitAnsiString(&s, longer);
    assert_ptr_equal(s.Buffer, longer);
    assert_int_equal(s.Length, 0xFFFE);
    assert_int_equal(s.MaximumLength, 0xFFFF);
    free(exact);
    free(longer);
}

/* ---- RtlEqualUnicodeString ---- */

static void RtlEqualUnicodeString_case_sensitive_tells_case_apart(void **state)
{
    (void)state;
    assert_true(equal(L"\\Device\\PHDDebugPrint", L"\\Device\\PHDDebugPrint", FALSE));
    assert_false(equal(L"\\Device\\PHDDebugPrint", L"\\DEVICE\\phddebugprint", FALSE));
    assert_false(equal(L"abc", L"abd", FALSE));
}

static void RtlEqualUnicodeString_case_insensitive_folds_ASCII(void **state)
{
    (void)state;
    assert_true(equal(L"\\Device\\PHDDebugPrint", L"\\DEVICE\\phddebugprint", TRUE));
    assert_true(equal(L"az09_[]{}", L"AZ09_[]{}", TRUE));
    assert_false(equal(L"[", L"{", TRUE));
    assert_false(equal(L"@", L"`", TRUE));
}

static void RtlEqualUnicodeString_case_insensitive_folds_Latin1(void **state)
{
    (void)state;
    assert_true(equal(L"caf\xE9", L"CAF\xC9", TRUE));
    assert_true(equal(L"\xE0\xFE", L"\xC0\xDE", TRUE));
    assert_true(equal(L"\xFF", L"\x0178", TRUE));
    assert_true(equal(L"\xB5", L"\x039C", TRUE));
    assert_false(equal(L"caf\xE9", L"CAF\xC9", FALSE));
}

static void RtlEqualUnicodeString_case_insensitive_keeps_division_and_multiplication_signs_apart(void **state)
{
    (void)state;
    assert_false(equal(L"\xF7", L"\xD7", TRUE));
    assert_false(equal(L"\xDF", L"\xFF", TRUE));
}

static void RtlEqualUnicodeString_compares_Length_bytes_not_up_to_the_terminator(void **state)
{
    WCHAR a[] = L"PrintA";
    WCHAR b[] = L"PrintB";
    UNICODE_STRING sa = counted(a, 10, sizeof a);
    UNICODE_STRING sb = counted(b, 10, sizeof b);

    (void)state;
    assert_true(RtlEqualUnicodeString(&sa, &sb, FALSE));
    sb.Length = 12;
    assert_false(RtlEqualUnicodeString(&sa, &sb, TRUE));
    sa.Length = sb.Length = 0;
    assert_true(RtlEqualUnicodeString(&sa, &sb, FALSE));
}

/* ---- RtlCopyUnicodeString ---- */

static void RtlCopyUnicodeString_copies_and_terminates_when_there_is_room(void **state)
{
    WCHAR src_text[] = L"Monitor";
    WCHAR dst_text[16];
    UNICODE_STRING src = counted(src_text, 14, sizeof src_text);
    UNICODE_STRING dst = counted(dst_text, 0, sizeof dst_text);

    (void)state;
    memset(dst_text, 0xA5, sizeof dst_text);
    RtlCopyUnicodeString(&dst, &src);
    check_ustring(&dst, dst_text, 14, sizeof dst_text);
    assert_memory_equal(dst_text, L"Monitor", 16);
    assert_int_equal(dst_text[8], SENTINEL);
}

static void RtlCopyUnicodeString_truncates_to_MaximumLength_without_terminator(void **state)
{
    WCHAR src_text[] = L"DebugPrint";
    WCHAR dst_text[8];
    UNICODE_STRING src = counted(src_text, 20, sizeof src_text);
    UNICODE_STRING dst = counted(dst_text, 0, 10);

    (void)state;
    memset(dst_text, 0xA5, sizeof dst_text);
    RtlCopyUnicodeString(&dst, &src);
    check_ustring(&dst, dst_text, 10, 10);
    assert_memory_equal(dst_text, L"Debug", 10);
    assert_int_equal(dst_text[5], SENTINEL);
}

static void RtlCopyUnicodeString_into_exactly_Length_bytes_writes_no_terminator(void **state)
{
    WCHAR src_text[] = L"abc";
    WCHAR dst_text[4];
    UNICODE_STRING src = counted(src_text, 6, sizeof src_text);
    UNICODE_STRING dst = counted(dst_text, 0, 6);

    (void)state;
    memset(dst_text, 0xA5, sizeof dst_text);
    RtlCopyUnicodeString(&dst, &src);
    check_ustring(&dst, dst_text, 6, 6);
    assert_memory_equal(dst_text, L"abc", 6);
    assert_int_equal(dst_text[3], SENTINEL);
}

static void RtlCopyUnicodeString_copies_only_Length_bytes_of_the_source(void **state)
{
    WCHAR src_text[] = L"abcdef";
    WCHAR dst_text[8];
    UNICODE_STRING src = counted(src_text, 4, sizeof src_text);
    UNICODE_STRING dst = counted(dst_text, 0, sizeof dst_text);

    (void)state;
    memset(dst_text, 0xA5, sizeof dst_text);
    RtlCopyUnicodeString(&dst, &src);
    check_ustring(&dst, dst_text, 4, sizeof dst_text);
    assert_memory_equal(dst_text, L"ab", 6);
    assert_int_equal(dst_text[3], SENTINEL);
}

static void RtlCopyUnicodeString_with_odd_MaximumLength_stays_inside_it(void **state)
{
    WCHAR src_text[] = L"abc";
    WCHAR dst_text[6];
    unsigned char *dst_bytes = (unsigned char *)dst_text;
    UNICODE_STRING src = counted(src_text, 6, sizeof src_text);
    UNICODE_STRING dst = counted(dst_text, 0, 5);

    (void)state;
    memset(dst_text, 0xA5, sizeof dst_text);
    RtlCopyUnicodeString(&dst, &src);
    assert_int_equal(dst.Length, 5);
    assert_memory_equal(dst_bytes, src_text, 5);
    assert_int_equal(dst_bytes[5], 0xA5);

    memset(dst_text, 0xA5, sizeof dst_text);
    dst.MaximumLength = 9;
    RtlCopyUnicodeString(&dst, &src);
    assert_int_equal(dst.Length, 6);
    assert_memory_equal(dst_bytes, L"abc", 8);
    assert_int_equal(dst_bytes[8], 0xA5);
}

static void RtlCopyUnicodeString_from_NULL_empties_the_destination_only(void **state)
{
    WCHAR dst_text[] = L"keep";
    UNICODE_STRING dst = counted(dst_text, 8, sizeof dst_text);

    (void)state;
    RtlCopyUnicodeString(&dst, NULL);
    check_ustring(&dst, dst_text, 0, sizeof dst_text);
    assert_memory_equal(dst_text, L"keep", sizeof dst_text);
}

/* ---- RtlCompareMemory and the memory macros ---- */

static void RtlCompareMemory_returns_Length_when_everything_matches(void **state)
{
    static const char a[] = "PHDDebugPrint";

    (void)state;
    assert_int_equal(RtlCompareMemory(a, "PHDDebugPrint", sizeof a), sizeof a);
    assert_int_equal(RtlCompareMemory(a, "xyz", 0), 0);
}

static void RtlCompareMemory_counts_the_bytes_before_the_first_difference(void **state)
{
    static const unsigned char a[] = { 1, 2, 3, 4, 5, 6 };
    static const unsigned char b[] = { 1, 2, 3, 9, 5, 6 };
    static const unsigned char c[] = { 0, 2, 3, 4, 5, 6 };

    (void)state;
    assert_int_equal(RtlCompareMemory(a, b, sizeof a), 3);
    assert_int_equal(RtlCompareMemory(a, b, 3), 3);
    assert_int_equal(RtlCompareMemory(a, b, 2), 2);
    assert_int_equal(RtlCompareMemory(a, c, sizeof a), 0);
}

static void Rtl_memory_macros_copy_move_fill_zero_and_compare(void **state)
{
    char buffer[8] = "abcdefg";
    char copy[8];

    (void)state;
    RtlCopyMemory(copy, buffer, sizeof buffer);
    assert_true(RtlEqualMemory(copy, "abcdefg", 8));
    RtlMoveMemory(buffer + 1, buffer, 5);
    assert_memory_equal(buffer, "aabcdeg", 8);
    RtlFillMemory(buffer, 3, 'z');
    assert_memory_equal(buffer, "zzzcdeg", 8);
    RtlZeroMemory(buffer + 4, 4);
    assert_memory_equal(buffer, "zzzc\0\0\0\0", 8);
    assert_false(RtlEqualMemory(buffer, copy, 8));
}

/* ---- RtlAnsiStringToUnicodeString / RtlUnicodeStringToAnsiString ---- */

static void RtlAnsiStringToUnicodeString_allocates_a_terminated_copy_freed_by_RtlFreeUnicodeString(void **state)
{
    ANSI_STRING a;
    UNICODE_STRING u;

    (void)state;
    RtlInitAnsiString(&a, "Caf\xE9");
    assert_int_equal(RtlAnsiStringToUnicodeString(&u, &a, TRUE), STATUS_SUCCESS);
    assert_int_equal(u.Length, 8);
    assert_int_equal(u.MaximumLength, 10);
    assert_memory_equal(u.Buffer, L"Caf\x00E9", 10);
    RtlFreeUnicodeString(&u);
    check_ustring(&u, NULL, 0, 0);
}

static void RtlAnsiStringToUnicodeString_into_a_buffer_without_room_for_the_terminator_overflows(void **state)
{
    WCHAR buffer[3] = { SENTINEL, SENTINEL, SENTINEL };
    UNICODE_STRING u = counted(buffer, 0, sizeof buffer);
    ANSI_STRING a;

    (void)state;
    RtlInitAnsiString(&a, "abc");
    assert_int_equal(RtlAnsiStringToUnicodeString(&u, &a, FALSE), STATUS_BUFFER_OVERFLOW);
    assert_int_equal(buffer[0], SENTINEL);
    RtlInitAnsiString(&a, "ab");
    assert_int_equal(RtlAnsiStringToUnicodeString(&u, &a, FALSE), STATUS_SUCCESS);
    check_ustring(&u, buffer, 4, 6);
    assert_memory_equal(buffer, L"ab", 6);
}

static void RtlUnicodeStringToAnsiString_maps_what_Latin1_lacks_to_a_question_mark(void **state)
{
    ANSI_STRING a;
    UNICODE_STRING u;

    (void)state;
    RtlInitUnicodeString(&u, L"\x00E9\x20AC!");
    assert_int_equal(RtlUnicodeStringToAnsiString(&a, &u, TRUE), STATUS_SUCCESS);
    assert_int_equal(a.Length, 3);
    assert_int_equal(a.MaximumLength, 4);
    assert_memory_equal(a.Buffer, "\xE9?!", 4);
    RtlFreeAnsiString(&a);
    assert_null(a.Buffer);
    assert_int_equal(a.Length | a.MaximumLength, 0);
}

static void RtlUnicodeStringToAnsiString_truncates_to_the_buffer_and_says_BUFFER_OVERFLOW(void **state)
{
    char buffer[4];
    ANSI_STRING a = { 0, sizeof buffer, buffer };
    UNICODE_STRING u;

    (void)state;
    RtlInitUnicodeString(&u, L"abcdef");
    assert_int_equal(RtlUnicodeStringToAnsiString(&a, &u, FALSE), STATUS_BUFFER_OVERFLOW);
    assert_int_equal(a.Length, 3);
    assert_string_equal(buffer, "abc");
}

static void leak_a_converted_string(void *context)
{
    ANSI_STRING a;
    UNICODE_STRING u;

    (void)context;
    RtlInitAnsiString(&a, "never freed");
    RtlAnsiStringToUnicodeString(&u, &a, TRUE);
}

static void an_allocated_string_never_freed_is_a_leak(void **state)
{
    char output[4096];
    size_t leaked;

    (void)state;
    leak_a_converted_string(NULL);
    wdmsim_allow_leaks();
    leaked = wdmsim_shutdown_capturing_stderr(output, sizeof output);
    assert_int_equal(leaked, 1);
    assert_non_null(strstr(output, "UstR  PagedPool"));
}

/* ---- Appending ---- */

static void RtlAppendUnicodeToString_appends_and_terminates_when_a_WCHAR_more_fits(void **state)
{
    WCHAR buffer[8];
    UNICODE_STRING s = counted(buffer, 0, sizeof buffer);

    (void)state;
    assert_int_equal(RtlAppendUnicodeToString(&s, L"abc"), STATUS_SUCCESS);
    assert_int_equal(RtlAppendUnicodeToString(&s, L"de"), STATUS_SUCCESS);
    assert_int_equal(s.Length, 10);
    assert_memory_equal(buffer, L"abcde", 12);
}

static void RtlAppendUnicodeToString_that_does_not_fit_leaves_the_string_and_says_BUFFER_TOO_SMALL(void **state)
{
    WCHAR buffer[4] = { L'x', L'y', SENTINEL, SENTINEL };
    UNICODE_STRING s = counted(buffer, 4, sizeof buffer);

    (void)state;
    assert_int_equal(RtlAppendUnicodeToString(&s, L"abc"), STATUS_BUFFER_TOO_SMALL);
    assert_int_equal(s.Length, 4);
    assert_int_equal(buffer[2], SENTINEL);
    assert_int_equal(RtlAppendUnicodeToString(&s, L"ab"), STATUS_SUCCESS);
    assert_int_equal(s.Length, 8);
}

static void RtlAppendUnicodeStringToString_appends_Length_bytes(void **state)
{
    WCHAR buffer[8];
    UNICODE_STRING d = counted(buffer, 0, sizeof buffer);
    UNICODE_STRING part = counted(L"abcdef", 4, 14);

    (void)state;
    assert_int_equal(RtlAppendUnicodeStringToString(&d, &part), STATUS_SUCCESS);
    assert_int_equal(RtlAppendUnicodeStringToString(&d, &part), STATUS_SUCCESS);
    assert_int_equal(d.Length, 8);
    assert_memory_equal(buffer, L"abab", 10);
    d.MaximumLength = 10;
    assert_int_equal(RtlAppendUnicodeStringToString(&d, &part), STATUS_BUFFER_TOO_SMALL);
}

/* ---- Comparing ---- */

static LONG compare(PCWSTR a, PCWSTR b, BOOLEAN case_insensitive)
{
    UNICODE_STRING sa, sb;

    RtlInitUnicodeString(&sa, a);
    RtlInitUnicodeString(&sb, b);
    return RtlCompareUnicodeString(&sa, &sb, case_insensitive);
}

static void RtlCompareUnicodeString_orders_by_the_first_difference_then_by_length(void **state)
{
    (void)state;
    assert_true(compare(L"abc", L"abd", FALSE) < 0);
    assert_true(compare(L"abd", L"abc", FALSE) > 0);
    assert_true(compare(L"ab", L"abc", FALSE) < 0);
    assert_true(compare(L"abc", L"ab", FALSE) > 0);
    assert_int_equal(compare(L"abc", L"abc", FALSE), 0);
    assert_true(compare(L"ABC", L"abc", FALSE) < 0);
    assert_int_equal(compare(L"ABC", L"abc", TRUE), 0);
    assert_int_equal(compare(L"\x00C9t\x00C9", L"\x00E9t\x00E9", TRUE), 0);
}

static void RtlPrefixUnicodeString_is_true_for_a_prefix_and_an_equal_string(void **state)
{
    UNICODE_STRING prefix, name;

    (void)state;
    RtlInitUnicodeString(&prefix, L"\\Device\\");
    RtlInitUnicodeString(&name, L"\\Device\\PHDDebugPrint");
    assert_true(RtlPrefixUnicodeString(&prefix, &name, FALSE));
    assert_true(RtlPrefixUnicodeString(&name, &name, FALSE));
    assert_false(RtlPrefixUnicodeString(&name, &prefix, FALSE));
    RtlInitUnicodeString(&prefix, L"\\DEVICE\\");
    assert_false(RtlPrefixUnicodeString(&prefix, &name, FALSE));
    assert_true(RtlPrefixUnicodeString(&prefix, &name, TRUE));
}

/* ---- Case ---- */

static void RtlUpcaseUnicodeString_maps_ASCII_and_Latin1_in_place(void **state)
{
    WCHAR buffer[] = L"ab\x00E9\x00FF\x00B5z";
    UNICODE_STRING s = counted(buffer, 12, sizeof buffer);

    (void)state;
    assert_int_equal(RtlUpcaseUnicodeString(&s, &s, FALSE), STATUS_SUCCESS);
    assert_memory_equal(buffer, L"AB\x00C9\x0178\x039CZ", 12);
}

static void RtlDowncaseUnicodeString_allocates_exactly_Length_bytes(void **state)
{
    UNICODE_STRING source, lower;

    (void)state;
    RtlInitUnicodeString(&source, L"AB\x00C9\x0178\x00D7");
    assert_int_equal(RtlDowncaseUnicodeString(&lower, &source, TRUE), STATUS_SUCCESS);
    assert_int_equal(lower.Length, 10);
    assert_int_equal(lower.MaximumLength, 10);
    assert_memory_equal(lower.Buffer, L"ab\x00E9\x00FF\x00D7", 10);
    RtlFreeUnicodeString(&lower);
}

static void RtlUpcaseUnicodeString_into_a_short_buffer_overflows_and_writes_nothing(void **state)
{
    WCHAR buffer[2] = { SENTINEL, SENTINEL };
    UNICODE_STRING d = counted(buffer, 0, sizeof buffer);
    UNICODE_STRING source;

    (void)state;
    RtlInitUnicodeString(&source, L"abc");
    assert_int_equal(RtlUpcaseUnicodeString(&d, &source, FALSE), STATUS_BUFFER_OVERFLOW);
    assert_int_equal(buffer[0], SENTINEL);
}

/* ---- Numbers ---- */

static void RtlIntegerToUnicodeString_writes_digits_of_the_base_terminated(void **state)
{
    WCHAR buffer[40];
    UNICODE_STRING s = counted(buffer, 0, sizeof buffer);

    (void)state;
    assert_int_equal(RtlIntegerToUnicodeString(1234, 0, &s), STATUS_SUCCESS);
    assert_memory_equal(buffer, L"1234", 10);
    assert_int_equal(s.Length, 8);
    assert_int_equal(RtlIntegerToUnicodeString(0xBEEF, 16, &s), STATUS_SUCCESS);
    assert_memory_equal(buffer, L"BEEF", 10);
    assert_int_equal(RtlIntegerToUnicodeString(5, 2, &s), STATUS_SUCCESS);
    assert_memory_equal(buffer, L"101", 8);
    assert_int_equal(RtlIntegerToUnicodeString(0xFFFFFFFF, 8, &s), STATUS_SUCCESS);
    assert_memory_equal(buffer, L"37777777777", 24);
    assert_int_equal(RtlIntegerToUnicodeString(0, 10, &s), STATUS_SUCCESS);
    assert_memory_equal(buffer, L"0", 4);
}

static void RtlIntegerToUnicodeString_checks_the_base_and_the_room_for_the_terminator(void **state)
{
    WCHAR buffer[4];
    UNICODE_STRING s = counted(buffer, 0, sizeof buffer);

    (void)state;
    assert_int_equal(RtlIntegerToUnicodeString(1, 7, &s), STATUS_INVALID_PARAMETER);
    assert_int_equal(RtlIntegerToUnicodeString(1234, 10, &s), STATUS_BUFFER_OVERFLOW);
    assert_int_equal(RtlIntegerToUnicodeString(123, 10, &s), STATUS_SUCCESS);
}

static ULONG to_integer(PCWSTR text, ULONG base, NTSTATUS expected)
{
    UNICODE_STRING s;
    ULONG value = 0xDEADBEEF;

    RtlInitUnicodeString(&s, text);
    assert_int_equal(RtlUnicodeStringToInteger(&s, base, &value), expected);
    return value;
}

static void RtlUnicodeStringToInteger_reads_sign_prefix_and_digits_up_to_the_first_other(void **state)
{
    (void)state;
    assert_int_equal(to_integer(L"  1234", 0, STATUS_SUCCESS), 1234);
    assert_int_equal(to_integer(L"-12", 10, STATUS_SUCCESS), (ULONG)-12);
    assert_int_equal(to_integer(L"+7", 0, STATUS_SUCCESS), 7);
    assert_int_equal(to_integer(L"0x1fZ", 0, STATUS_SUCCESS), 0x1F);
    assert_int_equal(to_integer(L"0b101", 0, STATUS_SUCCESS), 5);
    assert_int_equal(to_integer(L"0o17", 0, STATUS_SUCCESS), 15);
    assert_int_equal(to_integer(L"ff", 16, STATUS_SUCCESS), 255);
    assert_int_equal(to_integer(L"12a", 10, STATUS_SUCCESS), 12);
    assert_int_equal(to_integer(L"xyz", 10, STATUS_SUCCESS), 0);
}

static void RtlUnicodeStringToInteger_refuses_a_bad_base_and_a_NULL_value(void **state)
{
    UNICODE_STRING s;

    (void)state;
    assert_int_equal(to_integer(L"12", 3, STATUS_INVALID_PARAMETER), 0xDEADBEEF);
    RtlInitUnicodeString(&s, L"12");
    assert_int_equal(RtlUnicodeStringToInteger(&s, 10, NULL), STATUS_ACCESS_VIOLATION);
}

/* ---- RtlCopyString ---- */

static void RtlCopyString_copies_what_fits_and_terminates_when_there_is_room(void **state)
{
    char buffer[4] = { 'q', 'q', 'q', 'q' };
    STRING d = { 0, sizeof buffer, buffer };
    STRING s;

    (void)state;
    RtlInitAnsiString(&s, "ab");
    RtlCopyString(&d, &s);
    assert_int_equal(d.Length, 2);
    assert_memory_equal(buffer, "ab\0q", 4);
    RtlInitAnsiString(&s, "abcdef");
    RtlCopyString(&d, &s);
    assert_int_equal(d.Length, 4);
    assert_memory_equal(buffer, "abcd", 4);
    RtlCopyString(&d, NULL);
    assert_int_equal(d.Length, 0);
}

/* ---- RtlHashUnicodeString ---- */

static void RtlHashUnicodeString_is_x65599_over_the_characters(void **state)
{
    UNICODE_STRING s;
    ULONG hash = 0, upper = 0;

    (void)state;
    RtlInitUnicodeString(&s, L"ab");
    assert_int_equal(RtlHashUnicodeString(&s, FALSE, HASH_STRING_ALGORITHM_DEFAULT, &hash), STATUS_SUCCESS);
    assert_int_equal(hash, (ULONG)('a' * 65599u + 'b'));
    assert_int_equal(RtlHashUnicodeString(&s, TRUE, HASH_STRING_ALGORITHM_X65599, &hash), STATUS_SUCCESS);
    RtlInitUnicodeString(&s, L"AB");
    assert_int_equal(RtlHashUnicodeString(&s, FALSE, HASH_STRING_ALGORITHM_X65599, &upper), STATUS_SUCCESS);
    assert_int_equal(hash, upper);
}

static void RtlHashUnicodeString_refuses_NULLs_and_unknown_algorithms(void **state)
{
    UNICODE_STRING s;
    ULONG hash;

    (void)state;
    RtlInitUnicodeString(&s, L"ab");
    assert_int_equal(RtlHashUnicodeString(NULL, FALSE, 0, &hash), STATUS_INVALID_PARAMETER);
    assert_int_equal(RtlHashUnicodeString(&s, FALSE, 0, NULL), STATUS_INVALID_PARAMETER);
    assert_int_equal(RtlHashUnicodeString(&s, FALSE, HASH_STRING_ALGORITHM_INVALID, &hash),
                     STATUS_INVALID_PARAMETER);
}

/* ---- IRQL ---- */

static void convert_at_dispatch(void *context)
{
    ANSI_STRING a;
    UNICODE_STRING u;
    KIRQL old;

    (void)context;
    RtlInitAnsiString(&a, "x");
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    RtlAnsiStringToUnicodeString(&u, &a, TRUE);
}

static void converting_a_string_above_PASSIVE_LEVEL_stops_with_0xA(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(convert_at_dispatch, NULL, 0x0A, WDMSIM_ANY_PARAM, "rtl.string_not_passive", &stop);
    assert_int_equal(stop.params[0], (ULONG_PTR)RtlAnsiStringToUnicodeString);
    assert_int_equal(stop.params[1], DISPATCH_LEVEL);
    assert_int_equal(stop.params[2], 8);
}

static void compare_at_apc(void *context)
{
    UNICODE_STRING s;
    KIRQL old;

    (void)context;
    RtlInitUnicodeString(&s, L"x");
    KeRaiseIrql(APC_LEVEL, &old);
    RtlCompareUnicodeString(&s, &s, TRUE);
}

static void comparing_at_APC_LEVEL_stops_too(void **state)
{
    (void)state;
    wdmsim_assert_stops(compare_at_apc, NULL, 0x0A, WDMSIM_ANY_PARAM, "rtl.string_not_passive", NULL);
}

static void hash_at(void *context)
{
    UNICODE_STRING s;
    ULONG hash;
    KIRQL old;

    RtlInitUnicodeString(&s, L"x");
    KeRaiseIrql(*(KIRQL *)context, &old);
    RtlHashUnicodeString(&s, TRUE, 0, &hash);
    KeLowerIrql(old);
}

static void RtlHashUnicodeString_works_at_APC_LEVEL_and_stops_at_DISPATCH_LEVEL(void **state)
{
    KIRQL irql = APC_LEVEL;

    (void)state;
    hash_at(&irql);
    irql = DISPATCH_LEVEL;
    wdmsim_assert_stops(hash_at, &irql, 0x0A, WDMSIM_ANY_PARAM, "rtl.hash_above_apc", NULL);
}

static void copying_and_appending_work_at_DISPATCH_LEVEL(void **state)
{
    WCHAR buffer[8];
    UNICODE_STRING d = counted(buffer, 0, sizeof buffer);
    char narrow[4];
    STRING a = { 0, sizeof narrow, narrow };
    STRING source;
    KIRQL old;

    (void)state;
    RtlInitAnsiString(&source, "abc");
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    assert_int_equal(RtlAppendUnicodeToString(&d, L"ab"), STATUS_SUCCESS);
    RtlCopyString(&a, &source);
    KeLowerIrql(old);
    assert_int_equal(a.Length, 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(UNICODE_STRING_and_ANSI_STRING_have_the_x64_DDK_layout),
        cmocka_unit_test(RtlInitUnicodeString_on_Device_PHDDebugPrint_points_at_source_with_byte_lengths),
        cmocka_unit_test(RtlInitUnicodeString_on_NULL_gives_empty_string_with_NULL_buffer),
        cmocka_unit_test(RtlInitUnicodeString_on_empty_string_counts_only_the_terminator),
        cmocka_unit_test(RtlInitUnicodeString_on_0x7FFE_characters_fits_exactly),
        cmocka_unit_test(RtlInitUnicodeString_longer_than_0xFFFC_bytes_clamps_to_0xFFFC_and_0xFFFE),
        cmocka_unit_test(RtlInitAnsiString_counts_bytes_and_one_for_the_terminator),
        cmocka_unit_test(RtlInitAnsiString_on_NULL_gives_empty_string_with_NULL_buffer),
        cmocka_unit_test(RtlInitAnsiString_longer_than_0xFFFE_bytes_clamps_to_0xFFFE_and_0xFFFF),
        cmocka_unit_test(RtlEqualUnicodeString_case_sensitive_tells_case_apart),
        cmocka_unit_test(RtlEqualUnicodeString_case_insensitive_folds_ASCII),
        cmocka_unit_test(RtlEqualUnicodeString_case_insensitive_folds_Latin1),
        cmocka_unit_test(RtlEqualUnicodeString_case_insensitive_keeps_division_and_multiplication_signs_apart),
        cmocka_unit_test(RtlEqualUnicodeString_compares_Length_bytes_not_up_to_the_terminator),
        cmocka_unit_test(RtlCopyUnicodeString_copies_and_terminates_when_there_is_room),
        cmocka_unit_test(RtlCopyUnicodeString_truncates_to_MaximumLength_without_terminator),
        cmocka_unit_test(RtlCopyUnicodeString_into_exactly_Length_bytes_writes_no_terminator),
        cmocka_unit_test(RtlCopyUnicodeString_copies_only_Length_bytes_of_the_source),
        cmocka_unit_test(RtlCopyUnicodeString_with_odd_MaximumLength_stays_inside_it),
        cmocka_unit_test(RtlCopyUnicodeString_from_NULL_empties_the_destination_only),
        cmocka_unit_test(RtlCompareMemory_returns_Length_when_everything_matches),
        cmocka_unit_test(RtlCompareMemory_counts_the_bytes_before_the_first_difference),
        cmocka_unit_test(Rtl_memory_macros_copy_move_fill_zero_and_compare),
        wdmsim_test(RtlAnsiStringToUnicodeString_allocates_a_terminated_copy_freed_by_RtlFreeUnicodeString),
        wdmsim_test(RtlAnsiStringToUnicodeString_into_a_buffer_without_room_for_the_terminator_overflows),
        wdmsim_test(RtlUnicodeStringToAnsiString_maps_what_Latin1_lacks_to_a_question_mark),
        wdmsim_test(RtlUnicodeStringToAnsiString_truncates_to_the_buffer_and_says_BUFFER_OVERFLOW),
        wdmsim_test(an_allocated_string_never_freed_is_a_leak),
        wdmsim_test(RtlAppendUnicodeToString_appends_and_terminates_when_a_WCHAR_more_fits),
        wdmsim_test(RtlAppendUnicodeToString_that_does_not_fit_leaves_the_string_and_says_BUFFER_TOO_SMALL),
        wdmsim_test(RtlAppendUnicodeStringToString_appends_Length_bytes),
        wdmsim_test(RtlCompareUnicodeString_orders_by_the_first_difference_then_by_length),
        wdmsim_test(RtlPrefixUnicodeString_is_true_for_a_prefix_and_an_equal_string),
        wdmsim_test(RtlUpcaseUnicodeString_maps_ASCII_and_Latin1_in_place),
        wdmsim_test(RtlDowncaseUnicodeString_allocates_exactly_Length_bytes),
        wdmsim_test(RtlUpcaseUnicodeString_into_a_short_buffer_overflows_and_writes_nothing),
        wdmsim_test(RtlIntegerToUnicodeString_writes_digits_of_the_base_terminated),
        wdmsim_test(RtlIntegerToUnicodeString_checks_the_base_and_the_room_for_the_terminator),
        wdmsim_test(RtlUnicodeStringToInteger_reads_sign_prefix_and_digits_up_to_the_first_other),
        wdmsim_test(RtlUnicodeStringToInteger_refuses_a_bad_base_and_a_NULL_value),
        wdmsim_test(RtlCopyString_copies_what_fits_and_terminates_when_there_is_room),
        wdmsim_test(RtlHashUnicodeString_is_x65599_over_the_characters),
        wdmsim_test(RtlHashUnicodeString_refuses_NULLs_and_unknown_algorithms),
        wdmsim_test(converting_a_string_above_PASSIVE_LEVEL_stops_with_0xA),
        wdmsim_test(comparing_at_APC_LEVEL_stops_too),
        wdmsim_test(RtlHashUnicodeString_works_at_APC_LEVEL_and_stops_at_DISPATCH_LEVEL),
        wdmsim_test(copying_and_appending_work_at_DISPATCH_LEVEL),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
