/*
 * test_ddis.c - the list of DDIs the simulator provides (sim_kernel/src/ddis.c, extracted from the
 * driver headers) and the page written from it: each DDI in its DDK header with its kind, the rules
 * the catalog names it in (patterns, Name(Ex) and A/W forms included), and families not provided
 * that really are not.
 */
#include <stdlib.h>

#include <wdmsim/test.h>

static const struct wdmsim_ddi_info *find_ddi(const char *name)
{
    for (size_t i = 0; i < wdmsim_ddi_count(); i++)
        if (strcmp(wdmsim_ddi_at(i)->name, name) == 0)
            return wdmsim_ddi_at(i);
    return NULL;
}

static void check_ddi(const char *name, const char *header, const char *kind)
{
    const struct wdmsim_ddi_info *ddi = find_ddi(name);

    if (ddi == NULL)
        fail_msg("%s is not in the list", name);
    assert_string_equal(ddi->header, header);
    assert_string_equal(ddi->kind, kind);
}

static void the_list_holds_functions_inline_functions_and_macros_in_their_DDK_headers(void **state)
{
    (void)state;
    assert_true(wdmsim_ddi_count() >= 380);
    assert_null(wdmsim_ddi_at(wdmsim_ddi_count()));
    check_ddi("KeSetEvent", "wdm.h", "function");
    check_ddi("InitializeListHead", "wdm.h", "inline");
    check_ddi("PAGED_CODE", "wdm.h", "macro");
    check_ddi("RtlCopyString", "ntddk.h", "function");
    check_ddi("RtlDowncaseUnicodeString", "ntifs.h", "function");
    check_ddi("RtlStringCchPrintfA", "ntstrsafe.h", "function");
    check_ddi("KeStallExecutionProcessor", "wdm.h", "function");
}

static void each_DDI_is_listed_once(void **state)
{
    (void)state;
    for (size_t i = 0; i < wdmsim_ddi_count(); i++)
        for (size_t j = i + 1; j < wdmsim_ddi_count(); j++)
            assert_string_not_equal(wdmsim_ddi_at(i)->name, wdmsim_ddi_at(j)->name);
}

static void no_family_said_to_be_missing_is_provided(void **state)
{
    (void)state;
    assert_true(wdmsim_ddi_missing_family_count() > 0);
    for (size_t i = 0; i < wdmsim_ddi_missing_family_count(); i++) {
        char examples[512];
        char *save = NULL;

        snprintf(examples, sizeof examples, "%s", wdmsim_ddi_missing_family_at(i)->examples);
        for (char *name = strtok_r(examples, ", ", &save); name != NULL; name = strtok_r(NULL, ", ", &save))
            if (find_ddi(name) != NULL)
                fail_msg("%s is provided, but listed under \"%s\" as not provided", name,
                         wdmsim_ddi_missing_family_at(i)->family);
    }
}

static char *coverage_page(void)
{
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream(&text, &size);

    assert_non_null(out);
    wdmsim_ddis_write_markdown(out);
    fclose(out);
    return text;
}

static void a_DDI_row_names_the_rules_that_name_it(void **state)
{
    char *page = coverage_page();

    (void)state;
    assert_non_null(strstr(page, "| `KeSetSystemAffinityThreadEx` | function | `ke.above_dispatch` |\n"));
    assert_non_null(strstr(page, "| `KeRevertToUserAffinityThread` | function | `ke.above_dispatch` |\n"));
    assert_non_null(strstr(page, "| `RtlStringCbVPrintfExW` | function | `strsafe.unicode_conversion_above_passive` |\n"));
    assert_non_null(strstr(page, "| `RtlHashUnicodeString` | function | `rtl.hash_above_apc` |\n"));
    assert_non_null(strstr(page, "| `RtlStringCchCopyA` | function | - |\n"));
    assert_non_null(strstr(page, "## ntstrsafe.h ("));
    assert_non_null(strstr(page, "| Power management | PoStartNextPowerIrp"));
    free(page);
}

/* ---- MmGetSystemRoutineAddress ---- */

static PVOID routine(PCWSTR name)
{
    UNICODE_STRING string;

    RtlInitUnicodeString(&string, name);
    return MmGetSystemRoutineAddress(&string);
}

/* A driver probing for an optional DDI finds each exported function the simulator provides, at
 * the address its own calls reach. */
static void MmGetSystemRoutineAddress_finds_each_exported_function_the_simulator_provides(void **state)
{
    (void)state;
    assert_ptr_equal(routine(L"KeSetEvent"), (PVOID)KeSetEvent);
    assert_ptr_equal(routine(L"ExAllocatePool2"), (PVOID)ExAllocatePool2);
    assert_ptr_equal(routine(L"MmGetSystemRoutineAddress"), (PVOID)MmGetSystemRoutineAddress);
    for (size_t i = 0; i < wdmsim_ddi_count(); i++) {
        const struct wdmsim_ddi_info *ddi = wdmsim_ddi_at(i);
        WCHAR name[128];
        size_t n = 0;

        if (strcmp(ddi->kind, "function") != 0 || strcmp(ddi->header, "ntstrsafe.h") == 0)
            continue;
        for (; ddi->name[n] != '\0'; n++)
            name[n] = (WCHAR)ddi->name[n];
        name[n] = 0;
        assert_non_null(routine(name));
    }
}

/* Each DDI a family the simulator lacks is shown by (its examples are plain names). */
static void check_missing_family_not_exported(const struct wdmsim_ddi_family *family)
{
    const char *p = family->examples;

    while (*p != '\0') {
        WCHAR name[128];
        size_t n = 0;

        while (*p == ',' || *p == ' ')
            p++;
        while (*p != '\0' && *p != ',' && n + 1 < ARRAYSIZE(name))
            name[n++] = (WCHAR)*p++;
        name[n] = 0;
        if (n > 0)
            assert_null(routine(name));
    }
}

/* Not found, as on a Windows version without them: a DDK family the simulator lacks, a macro or
 * inline function (no export), an ntstrsafe.h function, a name that is no DDI at all. */
static void MmGetSystemRoutineAddress_returns_NULL_for_what_the_simulator_does_not_export(void **state)
{
    (void)state;
    for (size_t i = 0; i < wdmsim_ddi_missing_family_count(); i++)
        check_missing_family_not_exported(wdmsim_ddi_missing_family_at(i));
    assert_null(routine(L"KeAcquireSpinLock"));
    assert_null(routine(L"IoGetRemainingStackSize"));
    assert_null(routine(L"RtlStringCchCopyW"));
    assert_null(routine(L"host_stack_limits"));
    assert_null(routine(L"wdmsim_boot"));
    assert_null(routine(L""));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(the_list_holds_functions_inline_functions_and_macros_in_their_DDK_headers),
        cmocka_unit_test(each_DDI_is_listed_once),
        cmocka_unit_test(no_family_said_to_be_missing_is_provided),
        cmocka_unit_test(a_DDI_row_names_the_rules_that_name_it),
        wdmsim_test(MmGetSystemRoutineAddress_finds_each_exported_function_the_simulator_provides),
        wdmsim_test(MmGetSystemRoutineAddress_returns_NULL_for_what_the_simulator_does_not_export),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
