/*
 * fuzz_sprintf.c - DebugSprintf (debugprint_core/DebugPrint.c) on formats made of its documented
 * conversions (%c %C %d %i %D %u %x %l %L %s %S %T %I, widths of 1-4 digits or '*', %%, unknown
 * letters, literal text, a '%' at the end) and arguments of exactly the types its va_args read:
 * the target builds the format and the types together, and each call site below passes each
 * argument with its own type, so no call is undefined. Strings are NULL, NUL-terminated, or
 * unterminated and bounded by a width no longer than they are; UNICODE_STRINGs have any lengths
 * over a buffer of exactly MaximumLength bytes, or a NULL buffer. Checks: the output is
 * NUL-terminated, its length returned, and it is the start of what a larger buffer gets.
 */
#include <stdlib.h>

#include "DebugPrint.h"
#include "fuzz_check.h"
#include "fuzz_input.h"

#define SPRINTF_MAX_ARGS 3
#define SPRINTF_MAX_FORMAT 256
#define SPRINTF_LARGE 8192
#define SPRINTF_MAX_UNTERMINATED 10000

enum sprintf_type { T_INT, T_LONGLONG, T_ULONG, T_LARGE, T_ANSI, T_WIDE, T_COUNTED, T_IRP };

struct sprintf_arg {
    enum sprintf_type type;
    int i;
    LONGLONG ll;
    ULONG ul;
    LARGE_INTEGER large;
    char *ansi;
    WCHAR *wide;
    UNICODE_STRING *counted;
    PIRP irp;
};

/* An IRP whose current stack location names a major and a minor function. */
struct sprintf_irp {
    IRP irp;
    IO_STACK_LOCATION stack;
};

struct sprintf_case {
    char format[SPRINTF_MAX_FORMAT + 16];
    size_t length;
    struct sprintf_arg args[SPRINTF_MAX_ARGS];
    int count;
    UNICODE_STRING counted[SPRINTF_MAX_ARGS];
    struct sprintf_irp irps[SPRINTF_MAX_ARGS];
    void *allocated[SPRINTF_MAX_ARGS];
    int max;
    char *buffer;
};

/* ---- Arguments ---- */

/* A string of count units (bytes or WCHARs) from the input in a block of exactly that size, with
 * a terminating zero unit when terminated (what the input does not fill stays zero). */
static void *sprintf_units(struct sprintf_case *c, struct fuzz_input *in, size_t unit, size_t count, int terminated)
{
    size_t bytes = (count + (terminated ? 1 : 0)) * unit;
    unsigned char *block = calloc(bytes > 0 ? bytes : 1, 1);

    FUZZ_CHECK(block != NULL, "out of memory");
    fuzz_bytes(in, block, count * unit);
    c->allocated[c->count] = block;
    return block;
}

/* %s or %S: NULL, terminated, or (only when the width bounds it) as long as the width, which a
 * '*' may make too large to allocate. */
static void *sprintf_string(struct sprintf_case *c, struct fuzz_input *in, size_t unit, int width)
{
    uint8_t choice = fuzz_u8(in);

    if (choice % 8 == 0)
        return NULL;
    if (width > 0 && width <= SPRINTF_MAX_UNTERMINATED && choice % 2 == 1)
        return sprintf_units(c, in, unit, (size_t)width, 0);
    return sprintf_units(c, in, unit, fuzz_u8(in) % 40, 1);
}

/* %T: NULL; or Length and MaximumLength as they come, over MaximumLength bytes or no buffer. */
static UNICODE_STRING *sprintf_counted(struct sprintf_case *c, struct fuzz_input *in)
{
    UNICODE_STRING *s = &c->counted[c->count];
    uint8_t choice = fuzz_u8(in);

    if (choice % 8 == 0)
        return NULL;
    s->Length = fuzz_u16(in);
    s->MaximumLength = fuzz_u8(in);
    s->Buffer = choice % 8 == 1 ? NULL : sprintf_units(c, in, 1, s->MaximumLength, 0);
    return s;
}

static PIRP sprintf_irp(struct sprintf_case *c, struct fuzz_input *in)
{
    struct sprintf_irp *made = &c->irps[c->count];

    if (fuzz_u8(in) % 8 == 0)
        return NULL;
    made->stack.MajorFunction = fuzz_u8(in);
    made->stack.MinorFunction = fuzz_u8(in);
    made->irp.Tail.Overlay.CurrentStackLocation = &made->stack;
    return &made->irp;
}

/* The next argument, of the type its conversion reads; width is the conversion's. */
static void sprintf_add_arg(struct sprintf_case *c, struct fuzz_input *in, enum sprintf_type type, int width)
{
    struct sprintf_arg *a = &c->args[c->count];

    a->type = type;
    switch (type) {
    case T_INT: a->i = (int)fuzz_u32(in); break;
    case T_LONGLONG: a->ll = (LONGLONG)fuzz_u64(in); break;
    case T_ULONG: a->ul = fuzz_u32(in); break;
    case T_LARGE: a->large.QuadPart = (LONGLONG)fuzz_u64(in); break;
    case T_ANSI: a->ansi = sprintf_string(c, in, 1, width); break;
    case T_WIDE: a->wide = sprintf_string(c, in, sizeof(WCHAR), width); break;
    case T_COUNTED: a->counted = sprintf_counted(c, in); break;
    case T_IRP: a->irp = sprintf_irp(c, in); break;
    }
    c->count++;
}

/* ---- The format ---- */

static void sprintf_put(struct sprintf_case *c, char ch)
{
    c->format[c->length++] = ch;
}

static enum sprintf_type sprintf_conversion_type(char conversion)
{
    switch (conversion) {
    case 'D': case 'l': return T_LONGLONG;
    case 'u': case 'x': return T_ULONG;
    case 'L': return T_LARGE;
    case 's': return T_ANSI;
    case 'S': return T_WIDE;
    case 'T': return T_COUNTED;
    case 'I': return T_IRP;
    default: return T_INT;
    }
}

/* A width of 1-4 digits (zeros included), or '*' with its int argument; the width in effect,
 * 0 for none. needed: the arguments the conversion after it still needs room for. */
static int sprintf_width(struct sprintf_case *c, struct fuzz_input *in, int needed)
{
    uint8_t choice = fuzz_u8(in) % 4;
    int width = 0;

    if (choice == 1) {
        for (int digits = 1 + fuzz_u8(in) % 4; digits > 0; digits--) {
            char digit = (char)('0' + fuzz_u8(in) % 10);

            sprintf_put(c, digit);
            width = width * 10 + (digit - '0');
        }
    } else if (choice == 2 && c->count + 1 + needed <= SPRINTF_MAX_ARGS) {
        int star = fuzz_u8(in) % 2 ? (int)(fuzz_u8(in) % 48) : (int)fuzz_u32(in);

        sprintf_put(c, '*');
        c->args[c->count] = (struct sprintf_arg){ .type = T_INT, .i = star };
        c->count++;
        width = star > 0 ? star : 0;
    }
    return width;
}

static void sprintf_conversion(struct sprintf_case *c, struct fuzz_input *in)
{
    static const char conversions[] = "cCdiDuxlLsSTI";
    char conversion = conversions[fuzz_u8(in) % (sizeof conversions - 1)];
    int width;

    sprintf_put(c, '%');
    width = sprintf_width(c, in, 1);
    sprintf_put(c, conversion);
    sprintf_add_arg(c, in, sprintf_conversion_type(conversion), width);
}

/* Literal text never holds a '%' (it would be a conversion the types do not know of). */
static void sprintf_literal(struct sprintf_case *c, struct fuzz_input *in)
{
    char ch = (char)fuzz_u8(in);

    sprintf_put(c, ch == '%' || ch == '\0' ? '.' : ch);
}

/* Anything else after '%' prints itself and reads no argument. */
static void sprintf_other(struct sprintf_case *c, struct fuzz_input *in)
{
    static const char others[] = "%abefghjkmnopqrtvwyzAEFGHJKMNOPQRUVWXYZ!-. ";

    sprintf_put(c, '%');
    sprintf_width(c, in, 0);
    sprintf_put(c, others[fuzz_u8(in) % (sizeof others - 1)]);
}

/* A '%' (with a width, maybe '*') ends the output where it ends the format. */
static void sprintf_format(struct sprintf_case *c, struct fuzz_input *in)
{
    while (c->length < SPRINTF_MAX_FORMAT && fuzz_left(in) > 0) {
        uint8_t token = fuzz_u8(in) % 8;

        if (token < 4)
            sprintf_literal(c, in);
        else if (token < 6 && c->count < SPRINTF_MAX_ARGS)
            sprintf_conversion(c, in);
        else if (token == 6)
            sprintf_other(c, in);
        else if (fuzz_u8(in) % 16 == 0) {
            sprintf_put(c, '%');
            sprintf_width(c, in, 0);
            break;
        }
    }
    c->format[c->length] = '\0';
}

/* ---- The calls ---- */

/* Formats into the case's buffer and into a large one, and compares them. The output may hold
 * NULs of its own (%c of 0, a wide character whose low byte is 0, as the book narrows them), so
 * the checks go by the length returned. */
static void sprintf_call(struct sprintf_case *c, ...)
{
    static char large[SPRINTF_LARGE];
    va_list args, again;
    int length, full;

    va_start(args, c);
    va_copy(again, args);
    length = DebugSprintf(c->buffer, c->max, c->format, args);
    full = DebugSprintf(large, sizeof large, c->format, again);
    va_end(again);
    va_end(args);
    FUZZ_CHECK(full >= 0 && full < SPRINTF_LARGE && large[full] == '\0', "large buffer: %d", full);
    if (c->buffer == NULL || c->max <= 0) {
        FUZZ_CHECK(length == 0, "no buffer, yet %d characters", length);
        return;
    }
    FUZZ_CHECK(length >= 0 && length < c->max && c->buffer[length] == '\0',
               "a %d-byte buffer: returned %d, not NUL-terminated there", c->max, length);
    FUZZ_CHECK(length == (full < c->max - 1 ? full : c->max - 1) && memcmp(c->buffer, large, (size_t)length) == 0,
               "a %d-byte buffer holds \"%s\", not the start of \"%s\"", c->max, c->buffer, large);
}

/* One call site per sequence of argument types (8 + 64 + 512), so that each argument is passed
 * with the type its conversion reads. The preprocessor does not expand a macro inside its own
 * expansion, hence one copy of the switch per argument position. */
#define SPRINTF_DONE(...) sprintf_call(__VA_ARGS__); return
#define SPRINTF_ARG2(...)                                                                          \
    switch (a[2].type) {                                                                           \
    case T_INT: SPRINTF_DONE(__VA_ARGS__, a[2].i); case T_LONGLONG: SPRINTF_DONE(__VA_ARGS__, a[2].ll);  \
    case T_ULONG: SPRINTF_DONE(__VA_ARGS__, a[2].ul); case T_LARGE: SPRINTF_DONE(__VA_ARGS__, a[2].large); \
    case T_ANSI: SPRINTF_DONE(__VA_ARGS__, a[2].ansi); case T_WIDE: SPRINTF_DONE(__VA_ARGS__, a[2].wide); \
    case T_COUNTED: SPRINTF_DONE(__VA_ARGS__, a[2].counted); case T_IRP: SPRINTF_DONE(__VA_ARGS__, a[2].irp); \
    }                                                                                              \
    return
#define SPRINTF_ARG1(NEXT, ...)                                                                    \
    switch (a[1].type) {                                                                           \
    case T_INT: NEXT(__VA_ARGS__, a[1].i); case T_LONGLONG: NEXT(__VA_ARGS__, a[1].ll);              \
    case T_ULONG: NEXT(__VA_ARGS__, a[1].ul); case T_LARGE: NEXT(__VA_ARGS__, a[1].large);           \
    case T_ANSI: NEXT(__VA_ARGS__, a[1].ansi); case T_WIDE: NEXT(__VA_ARGS__, a[1].wide);            \
    case T_COUNTED: NEXT(__VA_ARGS__, a[1].counted); case T_IRP: NEXT(__VA_ARGS__, a[1].irp);        \
    }                                                                                              \
    return
#define SPRINTF_ARG0(NEXT, ...)                                                                    \
    switch (a[0].type) {                                                                           \
    case T_INT: NEXT(__VA_ARGS__, a[0].i); case T_LONGLONG: NEXT(__VA_ARGS__, a[0].ll);              \
    case T_ULONG: NEXT(__VA_ARGS__, a[0].ul); case T_LARGE: NEXT(__VA_ARGS__, a[0].large);           \
    case T_ANSI: NEXT(__VA_ARGS__, a[0].ansi); case T_WIDE: NEXT(__VA_ARGS__, a[0].wide);            \
    case T_COUNTED: NEXT(__VA_ARGS__, a[0].counted); case T_IRP: NEXT(__VA_ARGS__, a[0].irp);        \
    }                                                                                              \
    return
#define SPRINTF_THEN_ARG1(...) SPRINTF_ARG1(SPRINTF_DONE, __VA_ARGS__)
#define SPRINTF_THEN_ARGS12(...) SPRINTF_ARG1(SPRINTF_ARG2, __VA_ARGS__)

static void sprintf_call_with_args(struct sprintf_case *c)
{
    const struct sprintf_arg *a = c->args;

    switch (c->count) {
    case 0: SPRINTF_DONE(c);
    case 1: SPRINTF_ARG0(SPRINTF_DONE, c);
    case 2: SPRINTF_ARG0(SPRINTF_THEN_ARG1, c);
    default: SPRINTF_ARG0(SPRINTF_THEN_ARGS12, c);
    }
}

static void sprintf_free(struct sprintf_case *c)
{
    for (int i = 0; i < SPRINTF_MAX_ARGS; i++)
        free(c->allocated[i]);
    free(c->buffer);
    free(c);
}

/* Input: the buffer (a size from -2 to 300, or no buffer), then the format's tokens with their
 * arguments' values. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_input in = { data, size, 0 };
    struct sprintf_case *c = calloc(1, sizeof *c);
    uint16_t buffer = fuzz_u16(&in);

    FUZZ_CHECK(c != NULL, "out of memory");
    c->max = (int)(buffer % 303) - 2;
    if (c->max > 0 && buffer / 303 % 16 != 0) {
        c->buffer = malloc((size_t)c->max);
        FUZZ_CHECK(c->buffer != NULL, "out of memory");
    }
    sprintf_format(c, &in);
    sprintf_call_with_args(c);
    sprintf_free(c);
    return 0;
}
