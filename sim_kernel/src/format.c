/*
 * format.c - the kernel's printf, shared by DbgPrint (debug.c) and the ntstrsafe printf functions
 * (strsafe.c): the C runtime's format codes as the kernel has them - %wZ and %Z for counted
 * strings, %ws, %ls, %hs, %S and %C for text of the other width, the I64, I32 and I size prefixes,
 * Windows' LLP64 sizes (l is 32 bits), %p as 16 upper-case hex digits - from a narrow or a wide
 * format into narrow or wide output, cut off at the buffer's end and always terminated. Text that
 * changes width goes through the simulator's ANSI code page (rtl_ansi_char, rtl_wide_char), and
 * the rule the caller names checks the IRQL first, as that is where Windows touches its pageable
 * code page tables. No shared state, no locking.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

/* The longest piece one number conversion can produce (width and precision included). */
#define FORMAT_PIECE_SIZE 512

/* The format being read: narrow (char) or wide (WCHAR) units. */
struct format_in {
    const void *text;
    bool wide;
    size_t at;
};

static unsigned format_unit(const struct format_in *in, size_t i)
{
    return in->wide ? ((const WCHAR *)in->text)[i] : (unsigned char)((const char *)in->text)[i];
}

static unsigned format_peek(const struct format_in *in, size_t ahead)
{
    for (size_t i = 0; i < ahead; i++)
        if (format_unit(in, in->at + i) == 0)
            return 0;
    return format_unit(in, in->at + ahead);
}

static bool format_take(struct format_in *in, const char *word)
{
    size_t n = strlen(word);

    for (size_t i = 0; i < n; i++)
        if (format_peek(in, i) != (unsigned char)word[i])
            return false;
    in->at += n;
    return true;
}

/* ---- Output ---- */

static void format_put_unit(struct format_out *out, unsigned unit)
{
    if (out->used + 1 >= out->size) {
        out->truncated = true;
        return;
    }
    if (out->wide)
        ((WCHAR *)out->buf)[out->used++] = (WCHAR)unit;
    else
        ((char *)out->buf)[out->used++] = (char)unit;
}

static void format_terminate(struct format_out *out)
{
    if (out->wide)
        ((WCHAR *)out->buf)[out->used] = 0;
    else
        ((char *)out->buf)[out->used] = '\0';
}

/* One unit of text of either width, converted to the output's width. */
static void format_put_text_unit(struct format_out *out, unsigned unit, bool wide)
{
    if (wide && !out->wide)
        unit = (unsigned char)rtl_ansi_char((WCHAR)unit);
    else if (!wide && out->wide)
        unit = rtl_wide_char((char)unit);
    format_put_unit(out, unit);
}

/* ---- Conversion specifications ---- */

/* One conversion: its flags, width and precision as the host's printf takes them, the argument
 * size its length modifiers give (l is 32 bits), and the width of its text argument. */
struct format_spec {
    char flags[8];
    int width;                      /* -1: none */
    int precision;                  /* -1: none */
    unsigned size;                  /* in bytes, for integers: 1, 2, 4, 8 */
    bool long_text;                 /* w or l: Unicode text (s, c, Z) */
    bool short_text;                /* h: ANSI text (s, c) */
    char conversion;
};

static void format_parse_length(struct format_in *in, struct format_spec *spec)
{
    spec->size = 4;
    if (format_take(in, "I64") || format_take(in, "ll"))
        spec->size = 8;
    else if (format_take(in, "I32"))
        spec->size = 4;
    else if (format_take(in, "hh"))
        spec->size = 1, spec->short_text = true;
    else if (format_take(in, "I") || format_take(in, "z") || format_take(in, "j") || format_take(in, "t"))
        spec->size = 8;
    else if (format_take(in, "h"))
        spec->size = 2, spec->short_text = true;
    else if (format_take(in, "l") || format_take(in, "w"))
        spec->long_text = true;
}

static int format_parse_number(struct format_in *in, va_list *ap)
{
    int value = 0;

    if (format_take(in, "*"))
        return va_arg(*ap, int);
    while (format_peek(in, 0) >= '0' && format_peek(in, 0) <= '9')
        value = value * 10 + (int)(format_unit(in, in->at++) - '0');
    return value;
}

/* in is after the '%'; leaves it after the conversion character. */
static void format_parse_spec(struct format_in *in, struct format_spec *spec, va_list *ap)
{
    size_t n = 0;
    unsigned c;

    memset(spec, 0, sizeof *spec);
    while ((c = format_peek(in, 0)) != 0 && strchr("-+ #0", (int)c) != NULL && n + 1 < sizeof spec->flags) {
        spec->flags[n++] = (char)c;
        in->at++;
    }
    spec->width = -1;
    spec->precision = -1;
    c = format_peek(in, 0);
    if (c == '*' || (c >= '0' && c <= '9'))
        spec->width = format_parse_number(in, ap);
    if (format_take(in, "."))
        spec->precision = format_parse_number(in, ap);
    format_parse_length(in, spec);
    c = format_peek(in, 0);
    spec->conversion = c < 0x80 ? (char)c : '?';
    if (c != 0)
        in->at++;
}

/* Whether a text conversion's argument is Unicode. %s and %c take the format's own width, %S and
 * %C the other one, h and w/l say it outright; %Z is an ANSI_STRING, %wZ a UNICODE_STRING. */
static bool format_text_is_wide(const struct format_spec *spec, bool wide_format)
{
    if (spec->conversion == 'Z')
        return spec->long_text;
    if (spec->short_text)
        return false;
    if (spec->long_text)
        return true;
    return (spec->conversion == 'S' || spec->conversion == 'C') ? !wide_format : wide_format;
}

/* ---- Arguments ---- */

static void format_put_padding(struct format_out *out, int count)
{
    for (int i = 0; i < count; i++)
        format_put_unit(out, ' ');
}

/* Text of length units (either width), within the spec's width and precision. */
static void format_put_text(struct format_out *out, const struct format_spec *spec, const void *text, size_t length,
                            bool wide)
{
    bool left = strchr(spec->flags, '-') != NULL;
    int pad;

    if (spec->precision >= 0 && (size_t)spec->precision < length)
        length = (size_t)spec->precision;
    pad = spec->width > (int)length ? spec->width - (int)length : 0;
    if (!left)
        format_put_padding(out, pad);
    for (size_t i = 0; i < length; i++)
        format_put_text_unit(out, wide ? ((const WCHAR *)text)[i] : (unsigned char)((const char *)text)[i], wide);
    if (left)
        format_put_padding(out, pad);
}

static size_t format_length(const void *text, bool wide)
{
    size_t n = 0;

    if (wide)
        while (((const WCHAR *)text)[n] != 0)
            n++;
    else
        n = strlen(text);
    return n;
}

static void format_put_null(struct format_out *out, const struct format_spec *spec)
{
    format_put_text(out, spec, "(null)", 6, false);
}

/* %s, %S, %c, %C, %Z, %wZ and their h/w/l forms. */
static void format_text_argument(struct format_out *out, const struct format_spec *spec, bool wide, va_list *ap)
{
    const void *text;
    PCUNICODE_STRING unicode;
    PCANSI_STRING ansi;
    WCHAR unit;

    switch (spec->conversion) {
    case 'c':
    case 'C':
        unit = (WCHAR)va_arg(*ap, int);
        if (!wide)
            unit = (UCHAR)unit;
        format_put_text(out, spec, &unit, 1, true);
        return;
    case 'Z':
        if (wide) {
            unicode = va_arg(*ap, PCUNICODE_STRING);
            if (unicode == NULL || unicode->Buffer == NULL)
                return format_put_null(out, spec);
            return format_put_text(out, spec, unicode->Buffer, unicode->Length / sizeof(WCHAR), true);
        }
        ansi = va_arg(*ap, PCANSI_STRING);
        if (ansi == NULL || ansi->Buffer == NULL)
            return format_put_null(out, spec);
        return format_put_text(out, spec, ansi->Buffer, ansi->Length, false);
    default:
        text = va_arg(*ap, const void *);
        if (text == NULL)
            return format_put_null(out, spec);
        format_put_text(out, spec, text, format_length(text, wide), wide);
    }
}

/* An argument of up to 32 bits arrives promoted to int; its size says how much of it counts. */
static long long format_narrowed(unsigned int value, unsigned size, bool is_signed)
{
    if (size == 4)
        return is_signed ? (long long)(int)value : (long long)value;
    if (size == 2)
        return is_signed ? (long long)(SHORT)value : (long long)(USHORT)value;
    return is_signed ? (long long)(signed char)value : (long long)(UCHAR)value;
}

static long long format_integer_argument(const struct format_spec *spec, bool is_signed, va_list *ap)
{
    if (spec->size == 8)
        return va_arg(*ap, long long);
    return format_narrowed(va_arg(*ap, unsigned int), spec->size, is_signed);
}

/* A number through the host's printf (narrow, ASCII), then out in the output's width. */
static void format_put_number(struct format_out *out, const struct format_spec *spec, char conversion,
                              long long number)
{
    char host_format[32], piece[FORMAT_PIECE_SIZE];
    int width = spec->width < 0 ? 0 : spec->width;

    if (spec->precision >= 0) {
        snprintf(host_format, sizeof host_format, "%%%s*.*ll%c", spec->flags, conversion);
        snprintf(piece, sizeof piece, host_format, width, spec->precision, number);
    } else {
        snprintf(host_format, sizeof host_format, "%%%s*ll%c", spec->flags, conversion);
        snprintf(piece, sizeof piece, host_format, width, number);
    }
    for (const char *p = piece; *p != '\0'; p++)
        format_put_unit(out, (unsigned char)*p);
}

static void format_put_pointer(struct format_out *out, const struct format_spec *spec, va_list *ap)
{
    char digits[24];

    snprintf(digits, sizeof digits, "%016llX", (unsigned long long)(uintptr_t)va_arg(*ap, void *));
    format_put_text(out, spec, digits, strlen(digits), false);
}

static void format_convert(struct format_out *out, const struct format_spec *spec, bool wide_format,
                           enum rule_id conversion_rule, const void *format, va_list *ap)
{
    bool wide;

    switch (spec->conversion) {
    case 'd':
    case 'i':
        return format_put_number(out, spec, 'd', format_integer_argument(spec, true, ap));
    case 'u':
    case 'o':
    case 'x':
    case 'X':
        return format_put_number(out, spec, spec->conversion, format_integer_argument(spec, false, ap));
    case 'p':
        return format_put_pointer(out, spec, ap);
    case 'c':
    case 'C':
    case 's':
    case 'S':
    case 'Z':
        wide = format_text_is_wide(spec, wide_format);
        if (wide != out->wide && conversion_rule != RULE_COUNT)
            rule_check_irql(conversion_rule, (ULONG_PTR)format, irql_current(), 0, 0);
        return format_text_argument(out, spec, wide, ap);
    case '%':
        return format_put_unit(out, '%');
    default:
        /* Floating point (which kernel code may not use without saving the FPU state) and unknown
         * codes are printed as written, consuming nothing. */
        format_put_unit(out, '%');
        if (spec->conversion != '\0')
            format_put_unit(out, (unsigned char)spec->conversion);
    }
}

void format_v(struct format_out *out, const void *format, bool wide_format, enum rule_id conversion_rule,
              va_list *ap)
{
    struct format_in in = { format, wide_format, 0 };
    struct format_spec spec;
    unsigned unit;

    while ((unit = format_unit(&in, in.at)) != 0) {
        in.at++;
        if (unit != '%') {
            format_put_text_unit(out, unit, wide_format);
            continue;
        }
        format_parse_spec(&in, &spec, ap);
        format_convert(out, &spec, wide_format, conversion_rule, format, ap);
    }
    format_terminate(out);
}
