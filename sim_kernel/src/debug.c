/*
 * debug.c - debug output and assertions. DbgPrint and its Ex, v and WithPrefix forms are filtered
 * per component and level as the kernel filters them (a mask per component, Kd_<name>_Mask, and
 * the system-wide Kd_WIN2000_Mask, whose default lets every DPFLTR_ERROR_LEVEL message through),
 * formatted with the kernel's format codes (format.c: %wZ, %ws, %Z, %I64d; %p as 16 hex digits)
 * into at most 512 bytes, and handed to a host sink: stderr, unless a test captures it. No kernel debugger
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

/* ---- The DDIs ---- */

static ULONG debug_print(PCCH prefix, ULONG component, ULONG level, PCCH format, va_list ap)
{
    char message[DEBUG_MESSAGE_SIZE];
    struct format_out out = { message, sizeof message, 0, false, false };
    va_list copy;

    if (!debug_enabled(component, level))
        return STATUS_SUCCESS;
    if (prefix != NULL) {
        out.used = strnlen(prefix, sizeof message - 1);
        memcpy(message, prefix, out.used);
    }
    va_copy(copy, ap);
    format_v(&out, format, false, RULE_DEBUG_UNICODE_ABOVE_PASSIVE, &copy);
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
