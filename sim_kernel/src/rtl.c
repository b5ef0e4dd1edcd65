/*
 * rtl.c - the counted-string and memory DDIs. Lengths are in bytes, as in the DDK, and WCHAR is
 * 16-bit (-fshort-wchar), so every wide loop is written here rather than borrowed from the C
 * library, whose wide functions assume a 32-bit wchar_t. The ANSI code page is Latin-1 (the
 * letters of Windows-1252); case mapping covers ASCII and Latin-1. Strings an Rtl routine
 * allocates (AllocateDestinationString) come from the caller's paged pool, so a driver that never
 * frees them leaks them at unload. Windows keeps most of these routines, and the code page tables,
 * in pageable code: those are checked for PASSIVE_LEVEL (RtlHashUnicodeString: APC_LEVEL).
 * No shared state, no locking.
 */
#include "internal.h"

/* The pool tags of strings the Rtl routines allocate (ReactOS's TAG_USTR and TAG_ASTR), which
 * pool reports show as UstR and AstR. */
#define RTL_UNICODE_TAG 'RtsU'
#define RTL_ANSI_TAG 'RtsA'
/* Bug check 0xA's operation code for an instruction fetch: pageable code run too high. */
#define RTL_EXECUTE 8

/* The pageable routines: what Driver Verifier's IRQL checking makes fault every time. */
#define rtl_check_pageable(rule, ddi) \
    rule_check_irql((rule), (ULONG_PTR)(ddi), irql_current(), RTL_EXECUTE, (ULONG_PTR)__builtin_return_address(0))

/* ROS's MAX_USTRING: the largest even MaximumLength a UNICODE_STRING can have. */
#define RTL_MAX_USTRING 0xFFFE
#define RTL_MAX_ASTRING 0xFFFF

/* Counts the units before the NUL, stopping once the count passes limit. */
static size_t rtl_wide_length(PCWSTR s, size_t limit)
{
    size_t n = 0;

    while (n <= limit && s[n] != 0)
        n++;
    return n;
}

static size_t rtl_narrow_length(PCSZ s, size_t limit)
{
    size_t n = 0;

    while (n <= limit && s[n] != 0)
        n++;
    return n;
}

/*
 * The NLS upcase table reduced to ASCII and Latin-1: a-z, the accented letters U+00E0-U+00FE
 * (not the division sign U+00F7), y-diaeresis to U+0178 and micro sign to Greek capital mu.
 * Other characters are left as they are.
 */
WCHAR rtl_upcase(WCHAR c)
{
    if ((c >= L'a' && c <= L'z') || (c >= 0xE0 && c <= 0xFE && c != 0xF7))
        return (WCHAR)(c - 0x20);
    if (c == 0xFF)
        return 0x0178;
    if (c == 0xB5)
        return 0x039C;
    return c;
}

static WCHAR rtl_downcase(WCHAR c)
{
    if ((c >= L'A' && c <= L'Z') || (c >= 0xC0 && c <= 0xDE && c != 0xD7))
        return (WCHAR)(c + 0x20);
    if (c == 0x0178)
        return 0xFF;
    return c;
}

char rtl_ansi_char(WCHAR c)
{
    return c <= 0xFF ? (char)c : '?';
}

WCHAR rtl_wide_char(char c)
{
    return (UCHAR)c;
}

/* Paged pool for a string the caller frees with RtlFree*String: at least 1 byte, as a string of
 * no characters still has a buffer. */
static PVOID rtl_allocate(size_t bytes, ULONG tag)
{
    return ExAllocatePoolWithTag(PagedPool, bytes ? bytes : sizeof(WCHAR), tag);
}

/* IRQL <= DISPATCH_LEVEL when DestinationString is non-paged, else PASSIVE_LEVEL. */
VOID NTAPI RtlInitUnicodeString(PUNICODE_STRING DestinationString, PCWSTR SourceString)
{
    size_t bytes;

    RULE_CHECK_ARGUMENT(DestinationString, RULE_WRITES);
    DestinationString->Buffer = (PWSTR)SourceString;
    if (SourceString == NULL) {
        DestinationString->Length = DestinationString->MaximumLength = 0;
        return;
    }
    bytes = rtl_wide_length(SourceString, RTL_MAX_USTRING / sizeof(WCHAR)) * sizeof(WCHAR);
    if (bytes > RTL_MAX_USTRING - sizeof(WCHAR))
        bytes = RTL_MAX_USTRING - sizeof(WCHAR);
    DestinationString->Length = (USHORT)bytes;
    DestinationString->MaximumLength = (USHORT)(bytes + sizeof(WCHAR));
}

/* IRQL <= DISPATCH_LEVEL when DestinationString is non-paged, else PASSIVE_LEVEL. */
VOID NTAPI RtlInitAnsiString(PANSI_STRING DestinationString, PCSZ SourceString)
{
    size_t bytes;

    RULE_CHECK_ARGUMENT(DestinationString, RULE_WRITES);
    DestinationString->Buffer = (PCHAR)SourceString;
    if (SourceString == NULL) {
        DestinationString->Length = DestinationString->MaximumLength = 0;
        return;
    }
    bytes = rtl_narrow_length(SourceString, RTL_MAX_ASTRING);
    if (bytes > RTL_MAX_ASTRING - 1)
        bytes = RTL_MAX_ASTRING - 1;
    DestinationString->Length = (USHORT)bytes;
    DestinationString->MaximumLength = (USHORT)(bytes + 1);
}

/* IRQL <= DISPATCH_LEVEL with non-paged strings, else PASSIVE_LEVEL. */
BOOLEAN NTAPI RtlEqualUnicodeString(PCUNICODE_STRING String1, PCUNICODE_STRING String2,
                                   BOOLEAN CaseInSensitive)
{
    size_t count;

    RULE_CHECK_ARGUMENT(String1, RULE_READS);
    RULE_CHECK_ARGUMENT(String2, RULE_READS);
    if (String1->Length != String2->Length)
        return FALSE;
    count = String1->Length / sizeof(WCHAR);
    if (count > 0) {
        RULE_CHECK_ARGUMENT(String1->Buffer, RULE_READS);
        RULE_CHECK_ARGUMENT(String2->Buffer, RULE_READS);
    }
    for (size_t i = 0; i < count; i++) {
        WCHAR a = String1->Buffer[i];
        WCHAR b = String2->Buffer[i];

        if (a != b && (!CaseInSensitive || rtl_upcase(a) != rtl_upcase(b)))
            return FALSE;
    }
    return TRUE;
}

/*
 * IRQL <= DISPATCH_LEVEL with non-paged strings, else PASSIVE_LEVEL. The terminator is written
 * byte-wise because a truncated copy may end on an odd byte.
 */
VOID NTAPI RtlCopyUnicodeString(PUNICODE_STRING DestinationString, PCUNICODE_STRING SourceString)
{
    USHORT bytes;

    RULE_CHECK_ARGUMENT(DestinationString, RULE_WRITES);
    if (SourceString == NULL) {
        DestinationString->Length = 0;
        return;
    }
    bytes = SourceString->Length < DestinationString->MaximumLength ? SourceString->Length
                                                                     : DestinationString->MaximumLength;
    memmove(DestinationString->Buffer, SourceString->Buffer, bytes);
    DestinationString->Length = bytes;
    if ((size_t)bytes + sizeof(WCHAR) <= DestinationString->MaximumLength)
        memset((PUCHAR)DestinationString->Buffer + bytes, 0, sizeof(WCHAR));
}

/* PASSIVE_LEVEL. Frees a Buffer that an Rtl or Io routine allocated from pool (as
 * IoRegisterDeviceInterface does) and empties the string. */
VOID NTAPI RtlFreeUnicodeString(PUNICODE_STRING UnicodeString)
{
    rtl_check_pageable(RULE_RTL_STRING_NOT_PASSIVE, RtlFreeUnicodeString);
    RULE_CHECK_ARGUMENT(UnicodeString, RULE_WRITES);
    if (UnicodeString->Buffer != NULL)
        ExFreePool(UnicodeString->Buffer);
    UnicodeString->Buffer = NULL;
    UnicodeString->Length = UnicodeString->MaximumLength = 0;
}

/* Any IRQL with resident buffers. Returns how many leading bytes match. */
SIZE_T NTAPI RtlCompareMemory(const VOID *Source1, const VOID *Source2, SIZE_T Length)
{
    const UCHAR *a = Source1;
    const UCHAR *b = Source2;
    SIZE_T n = 0;

    while (n < Length && a[n] == b[n])
        n++;
    return n;
}

/* PASSIVE_LEVEL. Frees a Buffer RtlUnicodeStringToAnsiString allocated and empties the string. */
VOID NTAPI RtlFreeAnsiString(PANSI_STRING AnsiString)
{
    rtl_check_pageable(RULE_RTL_STRING_NOT_PASSIVE, RtlFreeAnsiString);
    if (AnsiString->Buffer != NULL)
        ExFreePool(AnsiString->Buffer);
    AnsiString->Buffer = NULL;
    AnsiString->Length = AnsiString->MaximumLength = 0;
}

/*
 * PASSIVE_LEVEL. Converts through the ANSI code page and terminates the result, so the
 * destination needs room for the terminator too (else STATUS_BUFFER_OVERFLOW, nothing written);
 * allocated, its MaximumLength is exactly that.
 */
NTSTATUS NTAPI RtlAnsiStringToUnicodeString(PUNICODE_STRING DestinationString, PCANSI_STRING SourceString,
                                            BOOLEAN AllocateDestinationString)
{
    size_t count = SourceString->Length;
    size_t bytes = (count + 1) * sizeof(WCHAR);

    rtl_check_pageable(RULE_RTL_STRING_NOT_PASSIVE, RtlAnsiStringToUnicodeString);
    if (bytes > MAXUSHORT)
        return STATUS_INVALID_PARAMETER_2;
    if (AllocateDestinationString) {
        DestinationString->Buffer = rtl_allocate(bytes, RTL_UNICODE_TAG);
        if (DestinationString->Buffer == NULL)
            return STATUS_NO_MEMORY;
        DestinationString->MaximumLength = (USHORT)bytes;
    } else if (bytes > DestinationString->MaximumLength) {
        return STATUS_BUFFER_OVERFLOW;
    }
    for (size_t i = 0; i < count; i++)
        DestinationString->Buffer[i] = rtl_wide_char(SourceString->Buffer[i]);
    DestinationString->Buffer[count] = 0;
    DestinationString->Length = (USHORT)(count * sizeof(WCHAR));
    return STATUS_SUCCESS;
}

/*
 * PASSIVE_LEVEL. Converts through the ANSI code page (unmappable characters become '?') and
 * terminates the result. A destination too small for it all takes what fits, terminated, and the
 * status is STATUS_BUFFER_OVERFLOW; one with no room at all is left as it is.
 */
NTSTATUS NTAPI RtlUnicodeStringToAnsiString(PANSI_STRING DestinationString, PCUNICODE_STRING SourceString,
                                            BOOLEAN AllocateDestinationString)
{
    size_t count = SourceString->Length / sizeof(WCHAR);
    NTSTATUS status = STATUS_SUCCESS;

    rtl_check_pageable(RULE_RTL_STRING_NOT_PASSIVE, RtlUnicodeStringToAnsiString);
    if (count + 1 > MAXUSHORT)
        return STATUS_INVALID_PARAMETER_2;
    if (AllocateDestinationString) {
        DestinationString->Buffer = rtl_allocate(count + 1, RTL_ANSI_TAG);
        if (DestinationString->Buffer == NULL)
            return STATUS_NO_MEMORY;
        DestinationString->MaximumLength = (USHORT)(count + 1);
    } else if (count + 1 > DestinationString->MaximumLength) {
        if (DestinationString->MaximumLength == 0)
            return STATUS_BUFFER_OVERFLOW;
        status = STATUS_BUFFER_OVERFLOW;
        count = DestinationString->MaximumLength - 1u;
    }
    for (size_t i = 0; i < count; i++)
        DestinationString->Buffer[i] = rtl_ansi_char(SourceString->Buffer[i]);
    DestinationString->Buffer[count] = '\0';
    DestinationString->Length = (USHORT)count;
    return status;
}

/* Appends bytes at the end of Destination, terminating it when a WCHAR more fits. */
static NTSTATUS rtl_append(PUNICODE_STRING Destination, const WCHAR *source, size_t bytes)
{
    size_t length = Destination->Length;

    if (bytes == 0)
        return STATUS_SUCCESS;
    if (length + bytes > Destination->MaximumLength)
        return STATUS_BUFFER_TOO_SMALL;
    memmove((PUCHAR)Destination->Buffer + length, source, bytes);
    Destination->Length = (USHORT)(length + bytes);
    if (length + bytes + sizeof(WCHAR) <= Destination->MaximumLength)
        memset((PUCHAR)Destination->Buffer + length + bytes, 0, sizeof(WCHAR));
    return STATUS_SUCCESS;
}

/* Any IRQL with resident buffers. STATUS_BUFFER_TOO_SMALL (Destination unchanged) when the whole
 * of Source does not fit. */
NTSTATUS NTAPI RtlAppendUnicodeToString(PUNICODE_STRING Destination, PCWSTR Source)
{
    if (Source == NULL)
        return STATUS_SUCCESS;
    return rtl_append(Destination, Source, rtl_wide_length(Source, RTL_MAX_USTRING) * sizeof(WCHAR));
}

/* Any IRQL with resident buffers. As RtlAppendUnicodeToString, Source's Length bytes. */
NTSTATUS NTAPI RtlAppendUnicodeStringToString(PUNICODE_STRING Destination, PCUNICODE_STRING Source)
{
    return rtl_append(Destination, Source->Buffer, Source->Length);
}

static WCHAR rtl_fold(WCHAR c, BOOLEAN case_insensitive)
{
    return case_insensitive ? rtl_upcase(c) : c;
}

/* PASSIVE_LEVEL. < 0, 0 or > 0 as String1 sorts before, with or after String2: the first
 * differing character decides, else the shorter string sorts first. */
LONG NTAPI RtlCompareUnicodeString(PCUNICODE_STRING String1, PCUNICODE_STRING String2, BOOLEAN CaseInSensitive)
{
    size_t count1 = String1->Length / sizeof(WCHAR);
    size_t count2 = String2->Length / sizeof(WCHAR);

    rtl_check_pageable(RULE_RTL_STRING_NOT_PASSIVE, RtlCompareUnicodeString);
    for (size_t i = 0; i < count1 && i < count2; i++) {
        LONG difference = (LONG)rtl_fold(String1->Buffer[i], CaseInSensitive) -
                          (LONG)rtl_fold(String2->Buffer[i], CaseInSensitive);

        if (difference != 0)
            return difference;
    }
    return (LONG)String1->Length - (LONG)String2->Length;
}

/* PASSIVE_LEVEL. String1 is a prefix of String2 (an equal string is one). */
BOOLEAN NTAPI RtlPrefixUnicodeString(PCUNICODE_STRING String1, PCUNICODE_STRING String2, BOOLEAN CaseInSensitive)
{
    rtl_check_pageable(RULE_RTL_STRING_NOT_PASSIVE, RtlPrefixUnicodeString);
    if (String1->Length > String2->Length)
        return FALSE;
    for (size_t i = 0; i < String1->Length / sizeof(WCHAR); i++)
        if (rtl_fold(String1->Buffer[i], CaseInSensitive) != rtl_fold(String2->Buffer[i], CaseInSensitive))
            return FALSE;
    return TRUE;
}

/* Upcase and downcase: Source's characters mapped into Destination, not terminated; allocated, the
 * buffer is exactly Source's Length. */
static NTSTATUS rtl_map_case(PUNICODE_STRING Destination, PCUNICODE_STRING Source, BOOLEAN Allocate,
                             WCHAR (*map)(WCHAR))
{
    size_t count = Source->Length / sizeof(WCHAR);

    if (Allocate) {
        Destination->Buffer = rtl_allocate(Source->Length, RTL_UNICODE_TAG);
        if (Destination->Buffer == NULL)
            return STATUS_NO_MEMORY;
        Destination->MaximumLength = Source->Length;
    } else if (Source->Length > Destination->MaximumLength) {
        return STATUS_BUFFER_OVERFLOW;
    }
    for (size_t i = 0; i < count; i++)
        Destination->Buffer[i] = map(Source->Buffer[i]);
    Destination->Length = (USHORT)(count * sizeof(WCHAR));
    return STATUS_SUCCESS;
}

/* PASSIVE_LEVEL. Destination may be Source (in place). */
NTSTATUS NTAPI RtlUpcaseUnicodeString(PUNICODE_STRING DestinationString, PCUNICODE_STRING SourceString,
                                      BOOLEAN AllocateDestinationString)
{
    rtl_check_pageable(RULE_RTL_STRING_NOT_PASSIVE, RtlUpcaseUnicodeString);
    return rtl_map_case(DestinationString, SourceString, AllocateDestinationString, rtl_upcase);
}

/* PASSIVE_LEVEL. Destination may be Source (in place). */
NTSTATUS NTAPI RtlDowncaseUnicodeString(PUNICODE_STRING DestinationString, PCUNICODE_STRING SourceString,
                                        BOOLEAN AllocateDestinationString)
{
    rtl_check_pageable(RULE_RTL_STRING_NOT_PASSIVE, RtlDowncaseUnicodeString);
    return rtl_map_case(DestinationString, SourceString, AllocateDestinationString, rtl_downcase);
}

static bool rtl_base_valid(ULONG base)
{
    return base == 2 || base == 8 || base == 10 || base == 16;
}

/* PASSIVE_LEVEL. Value in Base (0: 10; 2, 8, 10 or 16, else STATUS_INVALID_PARAMETER), upper-case
 * digits, terminated: STATUS_BUFFER_OVERFLOW when the digits and the terminator do not fit. */
NTSTATUS NTAPI RtlIntegerToUnicodeString(ULONG Value, ULONG Base, PUNICODE_STRING String)
{
    WCHAR digits[33];
    size_t n = 0;

    rtl_check_pageable(RULE_RTL_STRING_NOT_PASSIVE, RtlIntegerToUnicodeString);
    if (Base == 0)
        Base = 10;
    if (!rtl_base_valid(Base))
        return STATUS_INVALID_PARAMETER;
    do {
        digits[n++] = (WCHAR)"0123456789ABCDEF"[Value % Base];
        Value /= Base;
    } while (Value != 0);
    if ((n + 1) * sizeof(WCHAR) > String->MaximumLength)
        return STATUS_BUFFER_OVERFLOW;
    for (size_t i = 0; i < n; i++)
        String->Buffer[i] = digits[n - 1 - i];
    String->Buffer[n] = 0;
    String->Length = (USHORT)(n * sizeof(WCHAR));
    return STATUS_SUCCESS;
}

static int rtl_digit(WCHAR c)
{
    if (c >= L'0' && c <= L'9')
        return c - L'0';
    if (c >= L'A' && c <= L'Z')
        return c - L'A' + 10;
    if (c >= L'a' && c <= L'z')
        return c - L'a' + 10;
    return -1;
}

/* Base 0 reads a 0x, 0o or 0b prefix (else 10); 2, 8, 10 and 16 are taken as given. */
static ULONG rtl_read_base(const WCHAR **p, const WCHAR *end, ULONG base)
{
    static const struct { WCHAR letter; ULONG base; } prefixes[] = { { L'x', 16 }, { L'o', 8 }, { L'b', 2 } };

    if (base != 0)
        return base;
    for (size_t i = 0; end - *p >= 2 && (*p)[0] == L'0' && i < ARRAYSIZE(prefixes); i++) {
        if ((*p)[1] == prefixes[i].letter) {
            *p += 2;
            return prefixes[i].base;
        }
    }
    return 10;
}

/*
 * PASSIVE_LEVEL. Skips leading white space, takes a sign, reads digits of Base (0: from the
 * prefix) up to the first that is not one, and stores the value (negated for '-'). Base other than
 * 0, 2, 8, 10, 16: STATUS_INVALID_PARAMETER; Value NULL: STATUS_ACCESS_VIOLATION.
 */
NTSTATUS NTAPI RtlUnicodeStringToInteger(PCUNICODE_STRING String, ULONG Base, PULONG Value)
{
    const WCHAR *p = String->Buffer;
    const WCHAR *end = p + String->Length / sizeof(WCHAR);
    bool negative = false;
    ULONG total = 0;
    int digit;

    rtl_check_pageable(RULE_RTL_STRING_NOT_PASSIVE, RtlUnicodeStringToInteger);
    while (p < end && *p <= L' ')
        p++;
    if (p < end && (*p == L'+' || *p == L'-'))
        negative = *p++ == L'-';
    if (Base != 0 && !rtl_base_valid(Base))
        return STATUS_INVALID_PARAMETER;
    Base = rtl_read_base(&p, end, Base);
    if (Value == NULL)
        return STATUS_ACCESS_VIOLATION;
    for (; p < end && (digit = rtl_digit(*p)) >= 0 && (ULONG)digit < Base; p++)
        total = total * Base + (ULONG)digit;
    *Value = negative ? (ULONG)-(LONG)total : total;
    return STATUS_SUCCESS;
}

/* Any IRQL with resident buffers. As RtlCopyUnicodeString, for bytes. */
VOID NTAPI RtlCopyString(PSTRING DestinationString, const STRING *SourceString)
{
    USHORT bytes;

    if (SourceString == NULL) {
        DestinationString->Length = 0;
        return;
    }
    bytes = SourceString->Length < DestinationString->MaximumLength ? SourceString->Length
                                                                     : DestinationString->MaximumLength;
    if (bytes != 0)
        memmove(DestinationString->Buffer, SourceString->Buffer, bytes);
    DestinationString->Length = bytes;
    if (bytes < DestinationString->MaximumLength)
        DestinationString->Buffer[bytes] = '\0';
}

/* IRQL <= APC_LEVEL. The x65599 hash (the default): h = h * 65599 + c over the characters,
 * upcased when CaseInSensitive. */
NTSTATUS NTAPI RtlHashUnicodeString(PCUNICODE_STRING String, BOOLEAN CaseInSensitive, ULONG HashAlgorithm,
                                    PULONG HashValue)
{
    ULONG hash = 0;

    rtl_check_pageable(RULE_RTL_HASH_ABOVE_APC, RtlHashUnicodeString);
    if (String == NULL || HashValue == NULL)
        return STATUS_INVALID_PARAMETER;
    if (HashAlgorithm != HASH_STRING_ALGORITHM_DEFAULT && HashAlgorithm != HASH_STRING_ALGORITHM_X65599)
        return STATUS_INVALID_PARAMETER;
    for (size_t i = 0; i < String->Length / sizeof(WCHAR); i++)
        hash = hash * 65599u + rtl_fold(String->Buffer[i], CaseInSensitive);
    *HashValue = hash;
    return STATUS_SUCCESS;
}
