/*
 * rtl.c - the counted-string and memory DDIs. Lengths are in bytes, as in the DDK, and WCHAR is
 * 16-bit (-fshort-wchar), so every wide loop is written here rather than borrowed from the C
 * library, whose wide functions assume a 32-bit wchar_t. No shared state, no locking.
 */
#include "internal.h"

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

/* IRQL <= DISPATCH_LEVEL when DestinationString is non-paged, else PASSIVE_LEVEL. */
VOID NTAPI RtlInitUnicodeString(PUNICODE_STRING DestinationString, PCWSTR SourceString)
{
    size_t bytes;

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
    size_t count = String1->Length / sizeof(WCHAR);

    if (String1->Length != String2->Length)
        return FALSE;
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
