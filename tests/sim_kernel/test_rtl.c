/*
 * test_rtl.c - the string and memory DDIs of sim_kernel/src/rtl.c: byte lengths, no copies where
 * the DDK makes none, truncation and terminators, Latin-1 case folding, partial memory matches.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <wdm.h>

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
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
