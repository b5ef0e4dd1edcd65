/*
 * debug.c - debug output and assertions. DbgPrint and its Ex, v and WithPrefix forms are filtered
 * per component and level as the kernel filters them (a mask per component, Kd_<name>_Mask, and
 * the system-wide Kd_WIN2000_Mask, whose default lets every DPFLTR_ERROR_LEVEL message through),
 * formatted with the kernel's format codes (%wZ, %ws, %Z, %I64d; %p as 16 hex digits) into at
 * most 512 bytes, and handed to a host sink: stderr, unless a test captures it. No kernel debugger
 * is ever attached, so DbgBreakPoint and a failed ASSERT are breakpoints nobody handles: they stop
 * the machine, the assertion with its expression, file and line.
 * Locking: the masks are atomics (DbgSetDebugFilterState may race with a print, as on Windows);
 * debug_lock guards the sink and is held while a message goes out, so messages never interleave.
 * It is a leaf: the sink is host code that must not call back into the kernel.
 */
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

/* The most one DbgPrint call passes on, prefix and NUL included, as Windows documents. */
#define DEBUG_MESSAGE_SIZE 512
/* Kd_WIN2000_Mask's default: errors of every component get through. */
#define DEBUG_DEFAULT_SYSTEM_MASK (1u << DPFLTR_ERROR_LEVEL)
/* The expression PAGED_CODE() asserts (wdm.h): RtlAssert reports it as the IRQL rule it is. */
#define DEBUG_PAGED_CODE_EXPRESSION "KeGetCurrentIrql() <= APC_LEVEL"
/* The ComponentId DbgSetDebugFilterState and DbgQueryDebugFilterState take for Kd_WIN2000_Mask. */
#define DEBUG_SYSTEM_COMPONENT ((ULONG)-1)
/* Bug check 0xD1's operation code for an instruction fetch. */
#define DEBUG_0xD1_EXECUTE 8

static atomic_uint component_masks[DPFLTR_ENDOFTABLE_ID];
static atomic_uint system_mask = DEBUG_DEFAULT_SYSTEM_MASK;

static pthread_mutex_t debug_lock = PTHREAD_MUTEX_INITIALIZER;
static wdmsim_debug_sink_fn *debug_sink;
static void *debug_sink_context;

/* A boot starts with Windows' default filter: only errors get through. */
void debug_boot(void)
{
    for (size_t i = 0; i < DPFLTR_ENDOFTABLE_ID; i++)
        atomic_store(&component_masks[i], 0);
    atomic_store(&system_mask, DEBUG_DEFAULT_SYSTEM_MASK);
}

void wdmsim_debug_set_sink(wdmsim_debug_sink_fn *sink, void *context)
{
    host_lock(&debug_lock);
    debug_sink = sink;
    debug_sink_context = context;
    host_unlock(&debug_lock);
}

/* A Level of 0-31 names one bit; a larger one is a mask itself (DPFLTR_MASK | bits). */
static ULONG debug_level_bits(ULONG level)
{
    return level < 32 ? 1u << level : level & ~(ULONG)DPFLTR_MASK;
}

static atomic_uint *debug_mask_of(ULONG component)
{
    if (component == DEBUG_SYSTEM_COMPONENT)
        return &system_mask;
    return component < DPFLTR_ENDOFTABLE_ID ? &component_masks[component] : NULL;
}

static bool debug_enabled(ULONG component, ULONG level)
{
    ULONG bits = debug_level_bits(level);

    if (atomic_load(&system_mask) & bits)
        return true;
    return component < DPFLTR_ENDOFTABLE_ID && (atomic_load(&component_masks[component]) & bits) != 0;
}

static void debug_emit(const char *message)
{
    host_lock(&debug_lock);
    if (debug_sink != NULL) {
        debug_sink(debug_sink_context, message);
    } else {
        fputs(message, stderr);
        fflush(stderr);
    }
    host_unlock(&debug_lock);
}

/* ---- The kernel's printf ---- */

struct debug_out {
    char *buf;
    size_t size;
    size_t used;                    /* stops growing at size - 1: the rest is cut off */
};

static void debug_put(struct debug_out *out, const char *text, size_t length)
{
    size_t room = out->size - 1 - out->used;
    size_t n = length < room ? length : room;

    memcpy(out->buf + out->used, text, n);
    out->used += n;
    out->buf[out->used] = '\0';
}

/* One conversion: its flags, width and precision as the host's printf takes them, the argument
 * size its length modifiers give (Windows' LLP64 sizes: l is 32 bits), and whether it is wide. */
struct debug_spec {
    char flags[8];
    int width;                      /* -1: none */
    int precision;                  /* -1: none */
    unsigned size;                  /* in bytes, for integers: 1, 2, 4, 8 */
    bool wide;                      /* w, l (for c, s, Z), or the S and C conversions */
    bool narrow;                    /* h (for c, s): never wide */
    char conversion;
};

static const char *debug_parse_length(const char *p, struct debug_spec *spec)
{
    spec->size = 4;
    if (strncmp(p, "I64", 3) == 0)
        return spec->size = 8, p + 3;
    if (strncmp(p, "I32", 3) == 0)
        return spec->size = 4, p + 3;
    if (strncmp(p, "hh", 2) == 0)
        return spec->size = 1, spec->narrow = true, p + 2;
    if (strncmp(p, "ll", 2) == 0)
        return spec->size = 8, p + 2;
    switch (*p) {
    case 'I':
    case 'z':
    case 'j':
    case 't':
        return spec->size = 8, p + 1;
    case 'h':
        return spec->size = 2, spec->narrow = true, p + 1;
    case 'l':
    case 'w':
        return spec->wide = true, p + 1;
    default:
        return p;
    }
}

static const char *debug_parse_number(const char *p, int *value, va_list *ap)
{
    if (*p == '*') {
        *value = va_arg(*ap, int);
        return p + 1;
    }
    *value = 0;
    while (*p >= '0' && *p <= '9')
        *value = *value * 10 + (*p++ - '0');
    return p;
}

/* p points after '%'; returns the character after the conversion. */
static const char *debug_parse_spec(const char *p, struct debug_spec *spec, va_list *ap)
{
    size_t n = 0;

    memset(spec, 0, sizeof *spec);
    while (strchr("-+ #0", *p) != NULL && *p != '\0' && n + 1 < sizeof spec->flags)
        spec->flags[n++] = *p++;
    spec->width = -1;
    spec->precision = -1;
    if (*p == '*' || (*p >= '0' && *p <= '9'))
        p = debug_parse_number(p, &spec->width, ap);
    if (*p == '.')
        p = debug_parse_number(p + 1, &spec->precision, ap);
    p = debug_parse_length(p, spec);
    spec->conversion = *p;
    if (spec->conversion == 'S' || spec->conversion == 'C')
        spec->wide = true;
    if (spec->narrow)
        spec->wide = false;
    return *p != '\0' ? p + 1 : p;
}

static void debug_put_formatted(struct debug_out *out, const struct debug_spec *spec, const char *conversion,
                                const char *text, long long number)
{
    char host_format[32], piece[DEBUG_MESSAGE_SIZE];
    int n;

    if (text != NULL) {
        snprintf(host_format, sizeof host_format, "%%%s*.*s", spec->flags);
        n = snprintf(piece, sizeof piece, host_format, spec->width < 0 ? 0 : spec->width,
                     spec->precision < 0 ? (int)strlen(text) : spec->precision, text);
    } else if (spec->precision >= 0) {
        snprintf(host_format, sizeof host_format, "%%%s*.*ll%s", spec->flags, conversion);
        n = snprintf(piece, sizeof piece, host_format, spec->width < 0 ? 0 : spec->width, spec->precision, number);
    } else {
        snprintf(host_format, sizeof host_format, "%%%s*ll%s", spec->flags, conversion);
        n = snprintf(piece, sizeof piece, host_format, spec->width < 0 ? 0 : spec->width, number);
    }
    if (n > 0)
        debug_put(out, piece, strlen(piece));
}

/* Windows converts with the ANSI code page; the simulator keeps ASCII and shows others as '?'. */
static void debug_narrow(char *to, size_t size, const WCHAR *from, size_t length)
{
    size_t n = 0;

    for (; n < length && n + 1 < size; n++)
        to[n] = from[n] < 0x80 ? (char)from[n] : '?';
    to[n] = '\0';
}

static size_t debug_wide_length(const WCHAR *s)
{
    size_t n = 0;

    while (s[n] != 0)
        n++;
    return n;
}

static const char *debug_wide_text(char *buf, size_t size, const WCHAR *wide, size_t length)
{
    if (wide == NULL)
        return "(null)";
    debug_narrow(buf, size, wide, length);
    return buf;
}

/* %s, %ws, %S, %Z, %wZ, %c, %wc, %C: the argument as narrow text, in buf when converted. */
static const char *debug_text_argument(const struct debug_spec *spec, char *buf, size_t size, va_list *ap)
{
    const char *narrow;
    const WCHAR *wide;
    PCANSI_STRING ansi;
    PCUNICODE_STRING unicode;
    WCHAR c;

    switch (spec->conversion) {
    case 'c':
    case 'C':
        c = (WCHAR)va_arg(*ap, int);
        return debug_wide_text(buf, size, &c, 1);
    case 'Z':
        if (spec->wide) {
            unicode = va_arg(*ap, PCUNICODE_STRING);
            return unicode ? debug_wide_text(buf, size, unicode->Buffer, unicode->Length / sizeof(WCHAR))
                           : "(null)";
        }
        ansi = va_arg(*ap, PCANSI_STRING);
        if (ansi == NULL || ansi->Buffer == NULL)
            return "(null)";
        snprintf(buf, size, "%.*s", (int)ansi->Length, ansi->Buffer);
        return buf;
    default:
        if (spec->wide) {
            wide = va_arg(*ap, const WCHAR *);
            return debug_wide_text(buf, size, wide, wide ? debug_wide_length(wide) : 0);
        }
        narrow = va_arg(*ap, const char *);
        return narrow ? narrow : "(null)";
    }
}

/* An argument of up to 32 bits arrives promoted to int; its size says how much of it counts. */
static long long debug_narrowed(unsigned int value, unsigned size, bool is_signed)
{
    if (size == 4)
        return is_signed ? (long long)(int)value : (long long)value;
    if (size == 2)
        return is_signed ? (long long)(SHORT)value : (long long)(USHORT)value;
    return is_signed ? (long long)(signed char)value : (long long)(UCHAR)value;
}

static long long debug_integer_argument(const struct debug_spec *spec, bool is_signed, va_list *ap)
{
    if (spec->size == 8)
        return va_arg(*ap, long long);
    return debug_narrowed(va_arg(*ap, unsigned int), spec->size, is_signed);
}

/* Unicode codes convert through pageable code page tables: at PASSIVE_LEVEL only. */
static void debug_check_unicode(const struct debug_spec *spec, const char *format)
{
    if (spec->wide && strchr("csZSC", spec->conversion) != NULL)
        rule_check_irql(RULE_DEBUG_UNICODE_ABOVE_PASSIVE, (ULONG_PTR)format, irql_current(), 0, 0);
}

static void debug_convert(struct debug_out *out, const struct debug_spec *spec, const char *format, va_list *ap)
{
    char text[DEBUG_MESSAGE_SIZE], pointer[24];

    debug_check_unicode(spec, format);
    switch (spec->conversion) {
    case 'd':
    case 'i':
        debug_put_formatted(out, spec, "d", NULL, debug_integer_argument(spec, true, ap));
        break;
    case 'u':
    case 'o':
    case 'x':
    case 'X':
        debug_put_formatted(out, spec, (char[]){ spec->conversion, '\0' }, NULL,
                            debug_integer_argument(spec, false, ap));
        break;
    case 'p':
        /* The kernel prints a pointer as all its hex digits, upper case, without 0x. */
        snprintf(pointer, sizeof pointer, "%016llX", (unsigned long long)(uintptr_t)va_arg(*ap, void *));
        debug_put_formatted(out, spec, "s", pointer, 0);
        break;
    case 'c':
    case 'C':
    case 's':
    case 'S':
    case 'Z':
        debug_put_formatted(out, spec, "s", debug_text_argument(spec, text, sizeof text, ap), 0);
        break;
    case '%':
        debug_put(out, "%", 1);
        break;
    default:
        /* Floating point (which the kernel's DbgPrint does not support) and unknown codes are
         * printed as written, consuming nothing. */
        debug_put(out, "%", 1);
        debug_put(out, &spec->conversion, spec->conversion != '\0');
        break;
    }
}

static void debug_format(struct debug_out *out, const char *format, va_list *ap)
{
    struct debug_spec spec;
    const char *p = format;

    while (*p != '\0') {
        const char *percent = strchr(p, '%');
        size_t plain = percent ? (size_t)(percent - p) : strlen(p);

        debug_put(out, p, plain);
        if (percent == NULL)
            return;
        p = debug_parse_spec(percent + 1, &spec, ap);
        debug_convert(out, &spec, format, ap);
    }
}

/* ---- The DDIs ---- */

static ULONG debug_print(PCCH prefix, ULONG component, ULONG level, PCCH format, va_list ap)
{
    char message[DEBUG_MESSAGE_SIZE];
    struct debug_out out = { message, sizeof message, 0 };
    va_list copy;

    message[0] = '\0';
    if (!debug_enabled(component, level))
        return STATUS_SUCCESS;
    if (prefix != NULL)
        debug_put(&out, prefix, strlen(prefix));
    va_copy(copy, ap);
    debug_format(&out, format, &copy);
    va_end(copy);
    debug_emit(message);
    return STATUS_SUCCESS;
}

/* Any IRQL up to DIRQL (Unicode codes: PASSIVE_LEVEL). As DbgPrintEx with the DEFAULT component
 * at DPFLTR_INFO_LEVEL, as since Windows Vista: filtered out unless DEFAULT's mask lets it in. */
ULONG DbgPrint(PCSTR Format, ...)
{
    va_list ap;
    ULONG status;

    va_start(ap, Format);
    status = debug_print(NULL, DPFLTR_DEFAULT_ID, DPFLTR_INFO_LEVEL, Format, ap);
    va_end(ap);
    return status;
}

/* Any IRQL up to DIRQL (Unicode codes: PASSIVE_LEVEL). */
ULONG DbgPrintEx(ULONG ComponentId, ULONG Level, PCSTR Format, ...)
{
    va_list ap;
    ULONG status;

    va_start(ap, Format);
    status = debug_print(NULL, ComponentId, Level, Format, ap);
    va_end(ap);
    return status;
}

ULONG NTAPI vDbgPrintEx(ULONG ComponentId, ULONG Level, PCCH Format, va_list arglist)
{
    return debug_print(NULL, ComponentId, Level, Format, arglist);
}

/* The Prefix goes before the message, within its 512 bytes. */
ULONG NTAPI vDbgPrintExWithPrefix(PCCH Prefix, ULONG ComponentId, ULONG Level, PCCH Format, va_list arglist)
{
    return debug_print(Prefix, ComponentId, Level, Format, arglist);
}

/* TRUE when a message of this component and level would get through, FALSE when not; ComponentId
 * (ULONG)-1 asks about the system-wide mask alone. */
NTSTATUS NTAPI DbgQueryDebugFilterState(ULONG ComponentId, ULONG Level)
{
    atomic_uint *mask = debug_mask_of(ComponentId);
    ULONG bits = debug_level_bits(Level);

    if (mask == NULL)
        return STATUS_INVALID_PARAMETER_1;
    return ((atomic_load(&system_mask) | atomic_load(mask)) & bits) ? TRUE : FALSE;
}

/* Sets or clears the Level bits of the component's mask (as `ed nt!Kd_IHVDRIVER_Mask` or the
 * Debug Print Filter registry key would); (ULONG)-1 means the system-wide mask. */
NTSTATUS NTAPI DbgSetDebugFilterState(ULONG ComponentId, ULONG Level, BOOLEAN State)
{
    atomic_uint *mask = debug_mask_of(ComponentId);
    ULONG bits = debug_level_bits(Level);

    if (mask == NULL)
        return STATUS_INVALID_PARAMETER_1;
    if (State)
        atomic_fetch_or(mask, bits);
    else
        atomic_fetch_and(mask, ~bits);
    return STATUS_SUCCESS;
}

/* No kernel debugger is attached: the breakpoint is an exception nobody handles. */
VOID NTAPI DbgBreakPoint(VOID)
{
    rule_stop(RULE_DEBUG_BREAKPOINT, (ULONG_PTR)__builtin_return_address(0), 0, 0, 0);
}

VOID NTAPI DbgBreakPointWithStatus(ULONG Status)
{
    rule_stop_detail(RULE_DEBUG_BREAKPOINT, (ULONG_PTR)__builtin_return_address(0), Status, 0, 0,
                     "DbgBreakPointWithStatus(%s)", wdmsim_status_text((NTSTATUS)Status).text);
}

/* What ASSERT, NT_ASSERT and PAGED_CODE call when their expression is false: the checked
 * kernel's message, then the breakpoint it would break into the debugger with. */
VOID NTAPI RtlAssert(PVOID FailedAssertion, PVOID FileName, ULONG LineNumber, PSTR Message)
{
    const char *expression = FailedAssertion;
    char message[DEBUG_MESSAGE_SIZE];
    ULONG_PTR caller = (ULONG_PTR)__builtin_return_address(0);

    snprintf(message, sizeof message, "\n*** Assertion failed: %s%s%s\n***   Source File: %s, line %u\n\n",
             Message ? Message : "", Message ? " " : "", expression, (const char *)FileName, (unsigned)LineNumber);
    debug_emit(message);
    if (strcmp(expression, DEBUG_PAGED_CODE_EXPRESSION) == 0 && irql_current() > APC_LEVEL)
        rule_stop_detail(RULE_PAGED_CODE_ABOVE_APC, caller, irql_current(), DEBUG_0xD1_EXECUTE, caller,
                         "PAGED_CODE() at %s, line %u, reached at %s", (const char *)FileName, (unsigned)LineNumber,
                         irql_name(irql_current()));
    rule_stop_detail(RULE_DEBUG_ASSERTION_FAILED, caller, 0, 0, 0, "ASSERT(%s)%s%s%s failed at %s, line %u",
                     expression, Message ? " (" : "", Message ? Message : "", Message ? ")" : "",
                     (const char *)FileName, (unsigned)LineNumber);
}
