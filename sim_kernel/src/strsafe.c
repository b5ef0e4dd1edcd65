/*
 * strsafe.c - ntstrsafe.h's functions: bounded copy, concatenation, printf and length of
 * NUL-terminated strings (RtlString*, narrow and wide, counted in characters or bytes) and of
 * UNICODE_STRINGs (RtlUnicodeString*). One worker does every RtlString* operation on units of
 * either width (struct strsafe_call), one every RtlUnicodeString* operation (struct ustr_call); the
 * DDIs only describe the call. Results are as the WDK's ntstrsafe.h documents them: what fits is
 * written and terminated, STATUS_BUFFER_OVERFLOW says it was cut, STATUS_INVALID_PARAMETER says an
 * argument was wrong, and the Ex forms' flags decide what a failure leaves. Any IRQL (the printf
 * functions check their text conversions, format.c). No shared state, no locking.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#include <ntstrsafe.h>

/* ---- Units of either width ---- */

static size_t strsafe_unit(bool wide)
{
    return wide ? sizeof(WCHAR) : sizeof(char);
}

static unsigned strsafe_get(const void *s, bool wide, size_t i)
{
    return wide ? ((const WCHAR *)s)[i] : (unsigned char)((const char *)s)[i];
}

static void strsafe_put(void *s, bool wide, size_t i, unsigned c)
{
    if (wide)
        ((WCHAR *)s)[i] = (WCHAR)c;
    else
        ((char *)s)[i] = (char)c;
}

/* The length of s if a NUL comes within max units. */
static bool strsafe_length(const void *s, bool wide, size_t max, size_t *length)
{
    for (size_t n = 0; n < max; n++) {
        if (strsafe_get(s, wide, n) == 0) {
            *length = n;
            return true;
        }
    }
    return false;
}

/* ---- The RtlString* worker ---- */

enum strsafe_op { STRSAFE_COPY, STRSAFE_CAT, STRSAFE_PRINTF };

struct strsafe_call {
    enum strsafe_op op;
    bool wide;
    bool ex;                        /* an Ex form: flags apply, a zero-sized buffer is allowed */
    bool bytes;                     /* a Cb form: sizes and *remaining in bytes */
    void *dest;
    size_t size;                    /* cchDest or cbDest, as the caller gave it */
    const void *src;                /* the source string, or the format */
    size_t src_max;                 /* the N forms' limit, in units; SIZE_MAX: none */
    va_list *ap;                    /* STRSAFE_PRINTF */
    void **end;                     /* Ex: receives the terminator's address */
    size_t *remaining;              /* Ex: receives the units (bytes) left, the terminator's included */
    DWORD flags;
    size_t cch;                     /* worked out: the buffer in units */
    size_t original;                /* STRSAFE_CAT: the destination's length before */
    size_t length;                  /* the result's length */
};

static bool strsafe_source_empty(const struct strsafe_call *c)
{
    return c->src_max == 0 || strsafe_get(c->src, c->wide, 0) == 0;
}

static NTSTATUS strsafe_validate(struct strsafe_call *c)
{
    c->cch = c->bytes ? c->size / strsafe_unit(c->wide) : c->size;
    if (c->cch > NTSTRSAFE_MAX_CCH || (c->src_max != SIZE_MAX && c->src_max > NTSTRSAFE_MAX_CCH)) {
        if (c->dest != NULL && c->cch > 0)
            strsafe_put(c->dest, c->wide, 0, 0);
        return STATUS_INVALID_PARAMETER;
    }
    if (!c->ex && c->cch == 0)
        return STATUS_INVALID_PARAMETER;
    if (c->flags & ~(DWORD)STRSAFE_VALID_FLAGS)
        return STATUS_INVALID_PARAMETER;
    if (c->flags & STRSAFE_IGNORE_NULLS) {
        if (c->src == NULL)
            c->src = c->wide ? (const void *)L"" : (const void *)"";
        if (c->dest == NULL && c->cch != 0)
            return STATUS_INVALID_PARAMETER;
    }
    if (c->src == NULL || (c->dest == NULL && c->cch != 0))
        return STATUS_INVALID_PARAMETER;
    return STATUS_SUCCESS;
}

/* Copies the source after what the destination holds, as much as fits. */
static NTSTATUS strsafe_copy(struct strsafe_call *c)
{
    size_t n = 0;
    size_t room = c->cch - c->original - 1;
    unsigned unit;

    while (n < c->src_max && (unit = strsafe_get(c->src, c->wide, n)) != 0) {
        if (n == room) {
            c->length = c->original + n;
            strsafe_put(c->dest, c->wide, c->length, 0);
            return STATUS_BUFFER_OVERFLOW;
        }
        strsafe_put(c->dest, c->wide, c->original + n++, unit);
    }
    c->length = c->original + n;
    strsafe_put(c->dest, c->wide, c->length, 0);
    return STATUS_SUCCESS;
}

static NTSTATUS strsafe_printf(struct strsafe_call *c)
{
    struct format_out out = { c->dest, c->cch, 0, c->wide, false };

    format_v(&out, c->src, c->wide, RULE_STRSAFE_UNICODE_ABOVE_PASSIVE, c->ap);
    c->length = out.used;
    return out.truncated ? STATUS_BUFFER_OVERFLOW : STATUS_SUCCESS;
}

static NTSTATUS strsafe_do(struct strsafe_call *c)
{
    if (c->cch == 0) {
        c->length = 0;
        if (strsafe_source_empty(c))
            return STATUS_SUCCESS;
        return c->dest == NULL ? STATUS_INVALID_PARAMETER : STATUS_BUFFER_OVERFLOW;
    }
    if (c->op == STRSAFE_CAT && !strsafe_length(c->dest, c->wide, c->cch, &c->original))
        return STATUS_INVALID_PARAMETER;
    return c->op == STRSAFE_PRINTF ? strsafe_printf(c) : strsafe_copy(c);
}

/* What the Ex flags make of a failure: fill, empty, or (a concatenation) the string as it was. */
static void strsafe_fail(struct strsafe_call *c)
{
    int fill = STRSAFE_GET_FILL_PATTERN(c->flags);

    if (c->dest == NULL || c->cch == 0 || c->cch > NTSTRSAFE_MAX_CCH)
        return;
    if (c->flags & STRSAFE_FILL_ON_FAILURE) {
        memset(c->dest, fill, c->bytes ? c->size : c->cch * strsafe_unit(c->wide));
        c->length = fill == 0 ? 0 : c->cch - 1;
        strsafe_put(c->dest, c->wide, c->length, 0);
    }
    if ((c->flags & STRSAFE_NULL_ON_FAILURE) || ((c->flags & STRSAFE_NO_TRUNCATION) && c->op != STRSAFE_CAT))
        c->length = 0;
    else if ((c->flags & STRSAFE_NO_TRUNCATION) && c->op == STRSAFE_CAT)
        c->length = c->original;
    else
        return;
    strsafe_put(c->dest, c->wide, c->length, 0);
}

static void strsafe_fill_behind(const struct strsafe_call *c)
{
    size_t unit = strsafe_unit(c->wide);
    size_t total = c->bytes ? c->size : c->cch * unit;
    size_t used = (c->length + 1) * unit;

    if ((c->flags & STRSAFE_FILL_BEHIND_NULL) && c->dest != NULL && total > used)
        memset((char *)c->dest + used, STRSAFE_GET_FILL_PATTERN(c->flags), total - used);
}

static void strsafe_report(const struct strsafe_call *c)
{
    size_t unit = strsafe_unit(c->wide);
    size_t left = c->cch - c->length;

    if (c->end != NULL)
        *c->end = c->dest == NULL ? NULL : (char *)c->dest + c->length * unit;
    if (c->remaining != NULL)
        *c->remaining = c->bytes ? left * unit + c->size % unit : left;
}

static NTSTATUS strsafe_run(struct strsafe_call *c)
{
    NTSTATUS status = strsafe_validate(c);

    if (NT_SUCCESS(status))
        status = strsafe_do(c);
    if (status == STATUS_SUCCESS)
        strsafe_fill_behind(c);
    else if (c->ex)
        strsafe_fail(c);
    if (c->ex && (status == STATUS_SUCCESS || status == STATUS_BUFFER_OVERFLOW))
        strsafe_report(c);
    return status;
}

/* ---- The RtlString* DDIs: Cch/Cb x A/W x Copy, CopyN, Cat, CatN, Printf and their Ex forms ---- */

#define STRSAFE_NONE SIZE_MAX

static NTSTATUS strsafe_string(enum strsafe_op op, bool wide, bool bytes, void *dest, size_t size,
                               const void *src, size_t src_max, va_list *ap)
{
    struct strsafe_call c = { .op = op, .wide = wide, .bytes = bytes, .dest = dest, .size = size,
                              .src = src, .src_max = src_max, .ap = ap };

    return strsafe_run(&c);
}

static NTSTATUS strsafe_string_ex(enum strsafe_op op, bool wide, bool bytes, void *dest, size_t size,
                                  const void *src, size_t src_max, va_list *ap, void *end, size_t *remaining,
                                  DWORD flags)
{
    struct strsafe_call c = { .op = op, .wide = wide, .ex = true, .bytes = bytes, .dest = dest, .size = size,
                              .src = src, .src_max = src_max, .ap = ap, .end = end, .remaining = remaining,
                              .flags = flags };

    return strsafe_run(&c);
}

/* A Cb form's N limit, in units. */
static size_t strsafe_units(size_t bytes, bool wide)
{
    return bytes / strsafe_unit(wide);
}

#define STRSAFE_COPY_CAT_DDIS(Op, OP, A, wide, CH)                                                               \
    NTSTATUS NTAPI RtlStringCch##Op##A(CH *pszDest, size_t cchDest, const CH *pszSrc)                            \
    {                                                                                                            \
        return strsafe_string(OP, wide, false, pszDest, cchDest, pszSrc, STRSAFE_NONE, NULL);                    \
    }                                                                                                            \
    NTSTATUS NTAPI RtlStringCb##Op##A(CH *pszDest, size_t cbDest, const CH *pszSrc)                              \
    {                                                                                                            \
        return strsafe_string(OP, wide, true, pszDest, cbDest, pszSrc, STRSAFE_NONE, NULL);                      \
    }                                                                                                            \
    NTSTATUS NTAPI RtlStringCch##Op##Ex##A(CH *pszDest, size_t cchDest, const CH *pszSrc, CH **ppszDestEnd,      \
                                           size_t *pcchRemaining, DWORD dwFlags)                                 \
    {                                                                                                            \
        return strsafe_string_ex(OP, wide, false, pszDest, cchDest, pszSrc, STRSAFE_NONE, NULL, ppszDestEnd,     \
                                 pcchRemaining, dwFlags);                                                        \
    }                                                                                                            \
    NTSTATUS NTAPI RtlStringCb##Op##Ex##A(CH *pszDest, size_t cbDest, const CH *pszSrc, CH **ppszDestEnd,        \
                                          size_t *pcbRemaining, DWORD dwFlags)                                   \
    {                                                                                                            \
        return strsafe_string_ex(OP, wide, true, pszDest, cbDest, pszSrc, STRSAFE_NONE, NULL, ppszDestEnd,       \
                                 pcbRemaining, dwFlags);                                                         \
    }                                                                                                            \
    NTSTATUS NTAPI RtlStringCch##Op##N##A(CH *pszDest, size_t cchDest, const CH *pszSrc, size_t cchMax)          \
    {                                                                                                            \
        return strsafe_string(OP, wide, false, pszDest, cchDest, pszSrc, cchMax, NULL);                          \
    }                                                                                                            \
    NTSTATUS NTAPI RtlStringCb##Op##N##A(CH *pszDest, size_t cbDest, const CH *pszSrc, size_t cbMax)             \
    {                                                                                                            \
        return strsafe_string(OP, wide, true, pszDest, cbDest, pszSrc, strsafe_units(cbMax, wide), NULL);        \
    }                                                                                                            \
    NTSTATUS NTAPI RtlStringCch##Op##NEx##A(CH *pszDest, size_t cchDest, const CH *pszSrc, size_t cchMax,        \
                                            CH **ppszDestEnd, size_t *pcchRemaining, DWORD dwFlags)              \
    {                                                                                                            \
        return strsafe_string_ex(OP, wide, false, pszDest, cchDest, pszSrc, cchMax, NULL, ppszDestEnd,           \
                                 pcchRemaining, dwFlags);                                                        \
    }                                                                                                            \
    NTSTATUS NTAPI RtlStringCb##Op##NEx##A(CH *pszDest, size_t cbDest, const CH *pszSrc, size_t cbMax,           \
                                           CH **ppszDestEnd, size_t *pcbRemaining, DWORD dwFlags)                \
    {                                                                                                            \
        return strsafe_string_ex(OP, wide, true, pszDest, cbDest, pszSrc, strsafe_units(cbMax, wide), NULL,      \
                                 ppszDestEnd, pcbRemaining, dwFlags);                                            \
    }

STRSAFE_COPY_CAT_DDIS(Copy, STRSAFE_COPY, A, false, char)
STRSAFE_COPY_CAT_DDIS(Copy, STRSAFE_COPY, W, true, WCHAR)
STRSAFE_COPY_CAT_DDIS(Cat, STRSAFE_CAT, A, false, char)
STRSAFE_COPY_CAT_DDIS(Cat, STRSAFE_CAT, W, true, WCHAR)

#define STRSAFE_PRINTF_DDIS(A, wide, CH)                                                                         \
    NTSTATUS NTAPI RtlStringCchVPrintf##A(CH *pszDest, size_t cchDest, const CH *pszFormat, va_list argList)     \
    {                                                                                                            \
        va_list ap;                                                                                              \
        NTSTATUS status;                                                                                         \
                                                                                                                 \
        va_copy(ap, argList);                                                                                    \
        status = strsafe_string(STRSAFE_PRINTF, wide, false, pszDest, cchDest, pszFormat, STRSAFE_NONE, &ap);    \
        va_end(ap);                                                                                              \
        return status;                                                                                           \
    }                                                                                                            \
    NTSTATUS NTAPI RtlStringCbVPrintf##A(CH *pszDest, size_t cbDest, const CH *pszFormat, va_list argList)       \
    {                                                                                                            \
        va_list ap;                                                                                              \
        NTSTATUS status;                                                                                         \
                                                                                                                 \
        va_copy(ap, argList);                                                                                    \
        status = strsafe_string(STRSAFE_PRINTF, wide, true, pszDest, cbDest, pszFormat, STRSAFE_NONE, &ap);      \
        va_end(ap);                                                                                              \
        return status;                                                                                           \
    }                                                                                                            \
    NTSTATUS NTAPI RtlStringCchVPrintfEx##A(CH *pszDest, size_t cchDest, CH **ppszDestEnd, size_t *pcchRemaining, \
                                            DWORD dwFlags, const CH *pszFormat, va_list argList)                 \
    {                                                                                                            \
        va_list ap;                                                                                              \
        NTSTATUS status;                                                                                         \
                                                                                                                 \
        va_copy(ap, argList);                                                                                    \
        status = strsafe_string_ex(STRSAFE_PRINTF, wide, false, pszDest, cchDest, pszFormat, STRSAFE_NONE, &ap,  \
                                   ppszDestEnd, pcchRemaining, dwFlags);                                         \
        va_end(ap);                                                                                              \
        return status;                                                                                           \
    }                                                                                                            \
    NTSTATUS NTAPI RtlStringCbVPrintfEx##A(CH *pszDest, size_t cbDest, CH **ppszDestEnd, size_t *pcbRemaining,   \
                                           DWORD dwFlags, const CH *pszFormat, va_list argList)                  \
    {                                                                                                            \
        va_list ap;                                                                                              \
        NTSTATUS status;                                                                                         \
                                                                                                                 \
        va_copy(ap, argList);                                                                                    \
        status = strsafe_string_ex(STRSAFE_PRINTF, wide, true, pszDest, cbDest, pszFormat, STRSAFE_NONE, &ap,    \
                                   ppszDestEnd, pcbRemaining, dwFlags);                                          \
        va_end(ap);                                                                                              \
        return status;                                                                                           \
    }                                                                                                            \
    NTSTATUS RtlStringCchPrintf##A(CH *pszDest, size_t cchDest, const CH *pszFormat, ...)                        \
    {                                                                                                            \
        va_list ap;                                                                                              \
        NTSTATUS status;                                                                                         \
                                                                                                                 \
        va_start(ap, pszFormat);                                                                                 \
        status = RtlStringCchVPrintf##A(pszDest, cchDest, pszFormat, ap);                                        \
        va_end(ap);                                                                                              \
        return status;                                                                                           \
    }                                                                                                            \
    NTSTATUS RtlStringCbPrintf##A(CH *pszDest, size_t cbDest, const CH *pszFormat, ...)                          \
    {                                                                                                            \
        va_list ap;                                                                                              \
        NTSTATUS status;                                                                                         \
                                                                                                                 \
        va_start(ap, pszFormat);                                                                                 \
        status = RtlStringCbVPrintf##A(pszDest, cbDest, pszFormat, ap);                                          \
        va_end(ap);                                                                                              \
        return status;                                                                                           \
    }                                                                                                            \
    NTSTATUS RtlStringCchPrintfEx##A(CH *pszDest, size_t cchDest, CH **ppszDestEnd, size_t *pcchRemaining,       \
                                     DWORD dwFlags, const CH *pszFormat, ...)                                    \
    {                                                                                                            \
        va_list ap;                                                                                              \
        NTSTATUS status;                                                                                         \
                                                                                                                 \
        va_start(ap, pszFormat);                                                                                 \
        status = RtlStringCchVPrintfEx##A(pszDest, cchDest, ppszDestEnd, pcchRemaining, dwFlags, pszFormat, ap); \
        va_end(ap);                                                                                              \
        return status;                                                                                           \
    }                                                                                                            \
    NTSTATUS RtlStringCbPrintfEx##A(CH *pszDest, size_t cbDest, CH **ppszDestEnd, size_t *pcbRemaining,          \
                                    DWORD dwFlags, const CH *pszFormat, ...)                                     \
    {                                                                                                            \
        va_list ap;                                                                                              \
        NTSTATUS status;                                                                                         \
                                                                                                                 \
        va_start(ap, pszFormat);                                                                                 \
        status = RtlStringCbVPrintfEx##A(pszDest, cbDest, ppszDestEnd, pcbRemaining, dwFlags, pszFormat, ap);    \
        va_end(ap);                                                                                              \
        return status;                                                                                           \
    }

STRSAFE_PRINTF_DDIS(A, false, char)
STRSAFE_PRINTF_DDIS(W, true, WCHAR)

/* Length: STATUS_INVALID_PARAMETER (and 0) when no NUL comes within the maximum. */
static NTSTATUS strsafe_string_length(const void *psz, bool wide, bool bytes, size_t max, size_t *out)
{
    size_t cch = bytes ? max / strsafe_unit(wide) : max;
    size_t length = 0;
    bool found = psz != NULL && cch <= NTSTRSAFE_MAX_CCH && strsafe_length(psz, wide, cch, &length);

    if (out != NULL)
        *out = found ? (bytes ? length * strsafe_unit(wide) : length) : 0;
    return found ? STATUS_SUCCESS : STATUS_INVALID_PARAMETER;
}

NTSTATUS NTAPI RtlStringCchLengthA(const char *psz, size_t cchMax, size_t *pcchLength)
{
    return strsafe_string_length(psz, false, false, cchMax, pcchLength);
}

NTSTATUS NTAPI RtlStringCchLengthW(const WCHAR *psz, size_t cchMax, size_t *pcchLength)
{
    return strsafe_string_length(psz, true, false, cchMax, pcchLength);
}

NTSTATUS NTAPI RtlStringCbLengthA(const char *psz, size_t cbMax, size_t *pcbLength)
{
    return strsafe_string_length(psz, false, true, cbMax, pcbLength);
}

NTSTATUS NTAPI RtlStringCbLengthW(const WCHAR *psz, size_t cbMax, size_t *pcbLength)
{
    return strsafe_string_length(psz, true, true, cbMax, pcbLength);
}

/* ---- UNICODE_STRING ---- */

#define USTR_MAX_BYTES (NTSTRSAFE_UNICODE_STRING_MAX_CCH * sizeof(WCHAR))

/* A counted string ntstrsafe accepts: even lengths, Length <= MaximumLength <= the maximum, and
 * a buffer unless both are 0. */
static bool ustr_valid(PCUNICODE_STRING s)
{
    return (s->Length & 1) == 0 && (s->MaximumLength & 1) == 0 && s->Length <= s->MaximumLength &&
           s->MaximumLength <= USTR_MAX_BYTES && (s->Buffer != NULL || s->MaximumLength == 0);
}

NTSTATUS NTAPI RtlUnicodeStringValidateEx(PCUNICODE_STRING SourceString, DWORD dwFlags)
{
    if (dwFlags & ~(DWORD)STRSAFE_UNICODE_STRING_VALID_FLAGS)
        return STATUS_INVALID_PARAMETER;
    if (SourceString == NULL)
        return (dwFlags & STRSAFE_IGNORE_NULLS) ? STATUS_SUCCESS : STATUS_INVALID_PARAMETER;
    return ustr_valid(SourceString) ? STATUS_SUCCESS : STATUS_INVALID_PARAMETER;
}

NTSTATUS NTAPI RtlUnicodeStringValidate(PCUNICODE_STRING SourceString)
{
    return RtlUnicodeStringValidateEx(SourceString, 0);
}

/* As RtlInitUnicodeString, but a string of NTSTRSAFE_UNICODE_STRING_MAX_CCH characters or more is
 * refused (STATUS_INVALID_PARAMETER, and the string emptied). */
NTSTATUS NTAPI RtlUnicodeStringInitEx(PUNICODE_STRING DestinationString, NTSTRSAFE_PCWSTR pszSrc, DWORD dwFlags)
{
    size_t length = 0;

    if (DestinationString == NULL || (dwFlags & ~(DWORD)STRSAFE_UNICODE_STRING_VALID_FLAGS))
        return STATUS_INVALID_PARAMETER;
    DestinationString->Length = DestinationString->MaximumLength = 0;
    DestinationString->Buffer = (PWSTR)pszSrc;
    if (pszSrc == NULL)
        return (dwFlags & STRSAFE_IGNORE_NULLS) ? STATUS_SUCCESS : STATUS_INVALID_PARAMETER;
    if (!strsafe_length(pszSrc, true, NTSTRSAFE_UNICODE_STRING_MAX_CCH, &length)) {
        DestinationString->Buffer = NULL;
        return STATUS_INVALID_PARAMETER;
    }
    DestinationString->Length = (USHORT)(length * sizeof(WCHAR));
    DestinationString->MaximumLength = (USHORT)((length + 1) * sizeof(WCHAR));
    return STATUS_SUCCESS;
}

NTSTATUS NTAPI RtlUnicodeStringInit(PUNICODE_STRING DestinationString, NTSTRSAFE_PCWSTR pszSrc)
{
    return RtlUnicodeStringInitEx(DestinationString, pszSrc, 0);
}

struct ustr_call {
    enum strsafe_op op;
    PUNICODE_STRING dest;
    const WCHAR *src;               /* copy/cat: the characters; printf: the format */
    size_t src_count;               /* copy/cat: how many */
    va_list *ap;
    PUNICODE_STRING remaining;      /* Ex: receives the unused rest of the buffer */
    DWORD flags;
    bool dest_valid;                /* worked out: the failure flags may touch the destination */
    size_t original;                /* STRSAFE_CAT: the destination's characters before */
};

static bool ustr_source_empty(const struct ustr_call *c)
{
    return c->op == STRSAFE_PRINTF ? c->src[0] == 0 : c->src_count == 0;
}

static NTSTATUS ustr_validate(struct ustr_call *c)
{
    if (c->flags & ~(DWORD)STRSAFE_UNICODE_STRING_VALID_FLAGS)
        return STATUS_INVALID_PARAMETER;
    if (c->src == NULL) {
        if (!(c->flags & STRSAFE_IGNORE_NULLS))
            return STATUS_INVALID_PARAMETER;
        c->src = L"";
        c->src_count = 0;
    }
    if (c->dest == NULL)
        return (c->flags & STRSAFE_IGNORE_NULLS) && ustr_source_empty(c) ? STATUS_SUCCESS : STATUS_INVALID_PARAMETER;
    if (!ustr_valid(c->dest))
        return STATUS_INVALID_PARAMETER;
    c->dest_valid = true;
    return STATUS_SUCCESS;
}

static NTSTATUS ustr_copy(struct ustr_call *c, size_t room)
{
    size_t n = c->src_count < room ? c->src_count : room;

    if (n != 0)
        memmove(c->dest->Buffer + c->original, c->src, n * sizeof(WCHAR));
    c->dest->Length = (USHORT)((c->original + n) * sizeof(WCHAR));
    return n < c->src_count ? STATUS_BUFFER_OVERFLOW : STATUS_SUCCESS;
}

/* Formats into a host buffer with room for the terminator a UNICODE_STRING need not have. */
static NTSTATUS ustr_printf(struct ustr_call *c, size_t room)
{
    WCHAR *text = malloc((room + 1) * sizeof(WCHAR));
    struct format_out out = { text, room + 1, 0, true, false };

    if (text == NULL)
        abort();
    format_v(&out, c->src, true, RULE_STRSAFE_UNICODE_ABOVE_PASSIVE, c->ap);
    if (out.used != 0)
        memcpy(c->dest->Buffer, text, out.used * sizeof(WCHAR));
    free(text);
    c->dest->Length = (USHORT)(out.used * sizeof(WCHAR));
    return out.truncated ? STATUS_BUFFER_OVERFLOW : STATUS_SUCCESS;
}

/* A full (or empty) buffer and something to put in it is a bad argument, as documented. */
static NTSTATUS ustr_do(struct ustr_call *c)
{
    size_t room;

    if (c->dest == NULL)
        return STATUS_SUCCESS;
    c->original = c->op == STRSAFE_CAT ? c->dest->Length / sizeof(WCHAR) : 0;
    room = c->dest->MaximumLength / sizeof(WCHAR) - c->original;
    if (room == 0 && !ustr_source_empty(c))
        return STATUS_INVALID_PARAMETER;
    return c->op == STRSAFE_PRINTF ? ustr_printf(c, room) : ustr_copy(c, room);
}

static void ustr_fail(struct ustr_call *c)
{
    PUNICODE_STRING d = c->dest;
    int fill = STRSAFE_GET_FILL_PATTERN(c->flags);

    if (!c->dest_valid || d->MaximumLength == 0)
        return;
    if (c->flags & STRSAFE_FILL_ON_FAILURE) {
        memset(d->Buffer, fill, d->MaximumLength);
        d->Length = fill == 0 ? 0 : d->MaximumLength;
    }
    if ((c->flags & STRSAFE_ZERO_LENGTH_ON_FAILURE) || ((c->flags & STRSAFE_NO_TRUNCATION) && c->op != STRSAFE_CAT))
        d->Length = 0;
    else if ((c->flags & STRSAFE_NO_TRUNCATION) && c->op == STRSAFE_CAT)
        d->Length = (USHORT)(c->original * sizeof(WCHAR));
}

static void ustr_fill_behind(const struct ustr_call *c)
{
    PUNICODE_STRING d = c->dest;

    if (d != NULL && (c->flags & STRSAFE_FILL_BEHIND) && d->Length < d->MaximumLength)
        memset((PUCHAR)d->Buffer + d->Length, STRSAFE_GET_FILL_PATTERN(c->flags), d->MaximumLength - d->Length);
}

static void ustr_report(const struct ustr_call *c)
{
    PUNICODE_STRING d = c->dest;
    PUNICODE_STRING r = c->remaining;

    if (r == NULL)
        return;
    r->Buffer = d ? d->Buffer + d->Length / sizeof(WCHAR) : NULL;
    r->Length = 0;
    r->MaximumLength = d ? (USHORT)(d->MaximumLength - d->Length) : 0;
}

static NTSTATUS ustr_run(struct ustr_call *c)
{
    NTSTATUS status = ustr_validate(c);

    if (NT_SUCCESS(status))
        status = ustr_do(c);
    if (status == STATUS_SUCCESS)
        ustr_fill_behind(c);
    else
        ustr_fail(c);
    if (status == STATUS_SUCCESS || status == STATUS_BUFFER_OVERFLOW)
        ustr_report(c);
    return status;
}

static NTSTATUS ustr_from_string(enum strsafe_op op, PUNICODE_STRING dest, PCUNICODE_STRING src,
                                 PUNICODE_STRING remaining, DWORD flags)
{
    struct ustr_call c = { .op = op, .dest = dest, .remaining = remaining, .flags = flags };

    if (src != NULL) {
        if (!ustr_valid(src))
            return STATUS_INVALID_PARAMETER;
        c.src = src->Buffer != NULL ? src->Buffer : L"";
        c.src_count = src->Length / sizeof(WCHAR);
    }
    return ustr_run(&c);
}

static NTSTATUS ustr_from_chars(enum strsafe_op op, PUNICODE_STRING dest, const WCHAR *src,
                                PUNICODE_STRING remaining, DWORD flags)
{
    struct ustr_call c = { .op = op, .dest = dest, .src = src, .remaining = remaining, .flags = flags };

    if (src != NULL)
        strsafe_length(src, true, NTSTRSAFE_MAX_CCH, &c.src_count);
    return ustr_run(&c);
}

static NTSTATUS ustr_format(PUNICODE_STRING dest, PUNICODE_STRING remaining, DWORD flags, const WCHAR *format,
                            va_list argList)
{
    struct ustr_call c = { .op = STRSAFE_PRINTF, .dest = dest, .src = format, .remaining = remaining,
                           .flags = flags };
    va_list ap;
    NTSTATUS status;

    va_copy(ap, argList);
    c.ap = &ap;
    status = ustr_run(&c);
    va_end(ap);
    return status;
}

NTSTATUS NTAPI RtlUnicodeStringCopy(PUNICODE_STRING DestinationString, PCUNICODE_STRING SourceString)
{
    return ustr_from_string(STRSAFE_COPY, DestinationString, SourceString, NULL, 0);
}

NTSTATUS NTAPI RtlUnicodeStringCopyEx(PUNICODE_STRING DestinationString, PCUNICODE_STRING SourceString,
                                      PUNICODE_STRING RemainingString, DWORD dwFlags)
{
    return ustr_from_string(STRSAFE_COPY, DestinationString, SourceString, RemainingString, dwFlags);
}

NTSTATUS NTAPI RtlUnicodeStringCopyString(PUNICODE_STRING DestinationString, NTSTRSAFE_PCWSTR pszSrc)
{
    return ustr_from_chars(STRSAFE_COPY, DestinationString, pszSrc, NULL, 0);
}

NTSTATUS NTAPI RtlUnicodeStringCopyStringEx(PUNICODE_STRING DestinationString, NTSTRSAFE_PCWSTR pszSrc,
                                            PUNICODE_STRING RemainingString, DWORD dwFlags)
{
    return ustr_from_chars(STRSAFE_COPY, DestinationString, pszSrc, RemainingString, dwFlags);
}

NTSTATUS NTAPI RtlUnicodeStringCat(PUNICODE_STRING DestinationString, PCUNICODE_STRING SourceString)
{
    return ustr_from_string(STRSAFE_CAT, DestinationString, SourceString, NULL, 0);
}

NTSTATUS NTAPI RtlUnicodeStringCatEx(PUNICODE_STRING DestinationString, PCUNICODE_STRING SourceString,
                                     PUNICODE_STRING RemainingString, DWORD dwFlags)
{
    return ustr_from_string(STRSAFE_CAT, DestinationString, SourceString, RemainingString, dwFlags);
}

NTSTATUS NTAPI RtlUnicodeStringCatString(PUNICODE_STRING DestinationString, NTSTRSAFE_PCWSTR pszSrc)
{
    return ustr_from_chars(STRSAFE_CAT, DestinationString, pszSrc, NULL, 0);
}

NTSTATUS NTAPI RtlUnicodeStringCatStringEx(PUNICODE_STRING DestinationString, NTSTRSAFE_PCWSTR pszSrc,
                                           PUNICODE_STRING RemainingString, DWORD dwFlags)
{
    return ustr_from_chars(STRSAFE_CAT, DestinationString, pszSrc, RemainingString, dwFlags);
}

NTSTATUS NTAPI RtlUnicodeStringVPrintf(PUNICODE_STRING DestinationString, NTSTRSAFE_PCWSTR pszFormat,
                                       va_list argList)
{
    return ustr_format(DestinationString, NULL, 0, pszFormat, argList);
}

NTSTATUS NTAPI RtlUnicodeStringVPrintfEx(PUNICODE_STRING DestinationString, PUNICODE_STRING RemainingString,
                                         DWORD dwFlags, NTSTRSAFE_PCWSTR pszFormat, va_list argList)
{
    return ustr_format(DestinationString, RemainingString, dwFlags, pszFormat, argList);
}

NTSTATUS RtlUnicodeStringPrintf(PUNICODE_STRING DestinationString, NTSTRSAFE_PCWSTR pszFormat, ...)
{
    va_list ap;
    NTSTATUS status;

    va_start(ap, pszFormat);
    status = ustr_format(DestinationString, NULL, 0, pszFormat, ap);
    va_end(ap);
    return status;
}

NTSTATUS RtlUnicodeStringPrintfEx(PUNICODE_STRING DestinationString, PUNICODE_STRING RemainingString, DWORD dwFlags,
                                  NTSTRSAFE_PCWSTR pszFormat, ...)
{
    va_list ap;
    NTSTATUS status;

    va_start(ap, pszFormat);
    status = ustr_format(DestinationString, RemainingString, dwFlags, pszFormat, ap);
    va_end(ap);
    return status;
}
