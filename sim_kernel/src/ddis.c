/*
 * ddis.c - the DDIs the simulator provides, and the page that lists them (docs/ddi-coverage.md,
 * `wdmsim ddis`). The list is the driver headers themselves: the build extracts every function,
 * inline function and function-like macro they declare (ddi_list.sh), so a family that adds a DDI
 * to a header adds it here too. Each DDI's rules come from the rule catalog, whose rows name the
 * DDIs they guard. The DDK families the simulator does not provide are a table of their own, each
 * with the DDIs that show it; a test checks none of those is provided. MmGetSystemRoutineAddress
 * looks names up in the same list, so a driver probing for an optional DDI finds exactly those
 * the simulator provides. Read-only: no locking.
 */
#include <ctype.h>
#include <fnmatch.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

#define DDI_FUNCTION "function"
#define DDI_STRSAFE_FUNCTION DDI_FUNCTION
#define DDI_INLINE "inline"
#define DDI_MACRO "macro"
#define DDI(name, header, kind) { #name, header, kind },

static const struct wdmsim_ddi_info ddi_table[] = {
#include "ddi_list.inc"
};

#undef DDI

/* The kernel's exports, which MmGetSystemRoutineAddress finds: the functions of the list but those
 * of ntstrsafe.h (the DDK's are inline, compiled into each driver). Naming each one here also links
 * it into every program that links the kernel. */
struct ddi_export {
    const char *name;
    PVOID address;
};

#define DDI_EXPORT_DDI_FUNCTION(name) { #name, (PVOID)(uintptr_t)&name },
#define DDI_EXPORT_DDI_STRSAFE_FUNCTION(name)
#define DDI_EXPORT_DDI_INLINE(name)
#define DDI_EXPORT_DDI_MACRO(name)
#define DDI(name, header, kind) DDI_EXPORT_##kind(name)

static const struct ddi_export ddi_exports[] = {
#include "ddi_list.inc"
};

#undef DDI

/* What a driver may look for and not find: the DDK families the simulator lacks. */
static const struct wdmsim_ddi_family ddi_missing[] = {
    { "Memory descriptor lists, mapping and contiguous memory", "IoAllocateMdl, MmProbeAndLockPages, "
      "MmGetSystemAddressForMdlSafe, MmMapIoSpace, MmAllocateContiguousMemory" },
    { "DMA, interrupts and hardware access", "IoGetDmaAdapter, IoConnectInterrupt, KeSynchronizeExecution, "
      "READ_PORT_UCHAR, WRITE_REGISTER_ULONG" },
    { "Power management", "PoStartNextPowerIrp, PoCallDriver, PoRequestPowerIrp, PoSetPowerState" },
    { "WMI and event tracing", "IoWMIRegistrationControl, EtwRegister, EtwWrite" },
    { "Callbacks and notifications", "ExCreateCallback, PsSetCreateProcessNotifyRoutine, ObRegisterCallbacks, "
      "CmRegisterCallbackEx" },
    { "Sections and virtual memory", "ZwCreateSection, ZwMapViewOfSection, ZwAllocateVirtualMemory" },
    { "Security", "SeAccessCheck, SeCaptureSubjectContext, IoCreateDeviceSecure" },
    { "Structured exception handling and user buffers", "ExRaiseStatus, ProbeForRead, ProbeForWrite" },
    { "Floating-point and extended processor state", "KeSaveFloatingPointState, KeSaveExtendedProcessorState" },
    { "High-resolution and coalescable timers", "ExAllocateTimer, ExSetTimer, KeSetCoalescableTimer" },
    { "Processor groups beyond group 0", "KeSetSystemGroupAffinityThread, KeGetProcessorNumberFromIndex" },
    { "File systems and the cache manager", "FsRtlEnterFileSystem, CcInitializeCacheMap" },
    { "GUIDs, 64-bit numbers and UTF-8 in strings", "RtlGUIDFromString, RtlStringFromGUID, "
      "RtlInt64ToUnicodeString, RtlUTF8ToUnicodeN, RtlStringCchCopyUnicodeString" },
};

size_t wdmsim_ddi_count(void)
{
    return ARRAYSIZE(ddi_table);
}

const struct wdmsim_ddi_info *wdmsim_ddi_at(size_t index)
{
    return index < ARRAYSIZE(ddi_table) ? &ddi_table[index] : NULL;
}

/* PASSIVE_LEVEL. The address of the kernel routine SystemRoutineName names, or NULL when the
 * simulator exports none by that name (as Windows answers for a routine its version lacks). */
PVOID NTAPI MmGetSystemRoutineAddress(PUNICODE_STRING SystemRoutineName)
{
    char name[128];
    USHORT length;

    RULE_CHECK_ARGUMENT(SystemRoutineName, RULE_READS);
    length = SystemRoutineName->Length / sizeof(WCHAR);
    if (length == 0 || length >= sizeof name)
        return NULL;
    rule_check_pointer((uintptr_t)SystemRoutineName->Buffer, "MmGetSystemRoutineAddress",
                       "SystemRoutineName->Buffer", RULE_READS, __builtin_return_address(0));
    for (USHORT i = 0; i < length; i++) {
        WCHAR c = SystemRoutineName->Buffer[i];

        if (c == 0 || c > 0x7F)
            return NULL;
        name[i] = (char)c;
    }
    name[length] = '\0';
    for (size_t i = 0; i < ARRAYSIZE(ddi_exports); i++) {
        if (strcmp(ddi_exports[i].name, name) == 0)
            return ddi_exports[i].address;
    }
    return NULL;
}

size_t wdmsim_ddi_missing_family_count(void)
{
    return ARRAYSIZE(ddi_missing);
}

const struct wdmsim_ddi_family *wdmsim_ddi_missing_family_at(size_t index)
{
    return index < ARRAYSIZE(ddi_missing) ? &ddi_missing[index] : NULL;
}

static bool ddi_word_char(char c)
{
    return isalnum((unsigned char)c) || c == '_' || c == '*';
}

/* The word's variant with a suffix written after it as Name(Ex) or NameA/W, if p starts one. */
static bool ddi_variant(const char *p, const char *word, char *variant, size_t size)
{
    size_t n = strlen(word);
    size_t s = 0;

    if (p[0] == '/' && isupper((unsigned char)p[1]) && !ddi_word_char(p[2]) && n > 0) {
        snprintf(variant, size, "%.*s%c", (int)n - 1, word, p[1]);
        return true;
    }
    if (p[0] != '(')
        return false;
    while (isalnum((unsigned char)p[1 + s]))
        s++;
    if (s == 0 || p[1 + s] != ')')
        return false;
    snprintf(variant, size, "%s%.*s", word, (int)s, p + 1);
    return true;
}

/* Whether a rule row's DDI text names ddi: each word of it is a name or an fnmatch pattern
 * (ExGet*WaiterCount), which may carry a suffix as Name(Ex) or an A/W pair as NameA/W. */
static bool ddi_named_in(const char *text, const char *ddi)
{
    const char *p = text;
    char word[128], variant[160];

    while (*p != '\0') {
        size_t n = 0;

        while (*p != '\0' && !ddi_word_char(*p))
            p++;
        while (ddi_word_char(*p) && n + 1 < sizeof word)
            word[n++] = *p++;
        word[n] = '\0';
        if (n == 0 || strcmp(word, "*") == 0)
            continue;
        if (fnmatch(word, ddi, 0) == 0)
            return true;
        if (ddi_variant(p, word, variant, sizeof variant) && fnmatch(variant, ddi, 0) == 0)
            return true;
    }
    return false;
}

static void ddis_write_rules(FILE *out, const char *ddi)
{
    bool any = false;

    for (size_t i = 0; i < wdmsim_rule_count(); i++) {
        const struct wdmsim_rule_info *rule = wdmsim_rule_at(i);

        if (!ddi_named_in(rule->ddi, ddi))
            continue;
        fprintf(out, "%s`%s`", any ? ", " : "", rule->id);
        any = true;
    }
    if (!any)
        fputs("-", out);
}

static int ddis_compare(const void *a, const void *b)
{
    const struct wdmsim_ddi_info *x = *(const struct wdmsim_ddi_info *const *)a;
    const struct wdmsim_ddi_info *y = *(const struct wdmsim_ddi_info *const *)b;

    return strcmp(x->name, y->name);
}

static void ddis_write_header(FILE *out, const char *header)
{
    const struct wdmsim_ddi_info *sorted[ARRAYSIZE(ddi_table)];
    size_t count = 0;

    for (size_t i = 0; i < ARRAYSIZE(ddi_table); i++)
        if (strcmp(ddi_table[i].header, header) == 0)
            sorted[count++] = &ddi_table[i];
    qsort(sorted, count, sizeof sorted[0], ddis_compare);
    fprintf(out, "\n## %s (%zu)\n\n| DDI | kind | rules checked |\n|---|---|---|\n", header, count);
    for (size_t i = 0; i < count; i++) {
        fprintf(out, "| `%s` | %s | ", sorted[i]->name, sorted[i]->kind);
        ddis_write_rules(out, sorted[i]->name);
        fputs(" |\n", out);
    }
}

static size_t ddis_count_kind(const char *kind)
{
    size_t count = 0;

    for (size_t i = 0; i < ARRAYSIZE(ddi_table); i++)
        count += strcmp(ddi_table[i].kind, kind) == 0;
    return count;
}

void wdmsim_ddis_write_markdown(FILE *out)
{
    static const char *const headers[] = { "wdm.h", "ntddk.h", "ntifs.h", "ntstrsafe.h" };

    fprintf(out,
            "# DDI coverage\n\n"
            "Generated by `wdmsim ddis` from the driver headers (`sim_kernel/include`) and the rule catalog\n"
            "(`sim_kernel/src/rules.c`); do not edit by hand. The simulator provides %zu DDIs: %zu functions,\n"
            "%zu inline functions and %zu macros, each in the header the DDK declares it in. The rules are\n"
            "those the DDI checks on entry ([irql-rules.md](irql-rules.md) explains each); a DDI with none\n"
            "still validates what it documents, returning the status Windows returns.\n",
            ARRAYSIZE(ddi_table), ddis_count_kind(DDI_FUNCTION), ddis_count_kind(DDI_INLINE),
            ddis_count_kind(DDI_MACRO));
    for (size_t i = 0; i < ARRAYSIZE(headers); i++)
        ddis_write_header(out, headers[i]);
    fputs("\n## Not provided\n\nThe DDK families the simulator does not provide: a driver that calls one of these does "
          "not build\nagainst the simulator's headers.\n\n"
          "| family | for example |\n|---|---|\n",
          out);
    for (size_t i = 0; i < ARRAYSIZE(ddi_missing); i++)
        fprintf(out, "| %s | %s |\n", ddi_missing[i].family, ddi_missing[i].examples);
}
