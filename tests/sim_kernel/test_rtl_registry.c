/*
 * test_rtl_registry.c - the Rtl registry helpers (rtl_registry.c): RtlQueryRegistryValues with the
 * query-table forms drivers use (DIRECT, REQUIRED, defaults, TYPECHECK, SUBKEY and TOPKEY, a
 * routine per value, REG_MULTI_SZ split, REG_EXPAND_SZ expanded, NOEXPAND), RelativeTo and
 * RTL_REGISTRY_HANDLE, the single-value helpers, and a driver that reads its Parameters in
 * DriverEntry from values the host seeded before loading it.
 */
#include "wdmsim_test_drivers.h"

#define PARAMETERS WDMSIM_REGISTRY_SERVICES "rtltest\\Parameters"
#define PARAMETERS_W L"rtltest\\Parameters"

static void seed(void)
{
    static const WCHAR multi[] = L"first\0second\0";
    static const WCHAR expand[] = L"%Root%\\file";
    static const UCHAR blob[10] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 };

    assert_int_equal(wdmsim_registry_set_dword(PARAMETERS, "Level", 4), STATUS_SUCCESS);
    assert_int_equal(wdmsim_registry_set_string(PARAMETERS, "Name", "trace"), STATUS_SUCCESS);
    assert_int_equal(wdmsim_registry_set_value(PARAMETERS, "List", REG_MULTI_SZ, multi, sizeof multi), 0);
    assert_int_equal(wdmsim_registry_set_value(PARAMETERS, "Path", REG_EXPAND_SZ, expand, sizeof expand), 0);
    assert_int_equal(wdmsim_registry_set_value(PARAMETERS, "Blob", REG_BINARY, blob, sizeof blob), 0);
    assert_int_equal(wdmsim_registry_set_dword(PARAMETERS "\\Sub", "Inner", 7), STATUS_SUCCESS);
}

static int boot_and_seed(void **state)
{
    int result = wdmsim_test_boot(state);

    seed();
    return result;
}

#define rtl_test(fn) cmocka_unit_test_setup_teardown(fn, boot_and_seed, wdmsim_test_shutdown)

/* ---- DIRECT ---- */

static void DIRECT_reads_a_dword_and_a_string_whose_buffer_it_allocates(void **state)
{
    ULONG level = 0, missing = 99, fallback = 5;
    UNICODE_STRING name = { 0, 0, NULL };
    RTL_QUERY_REGISTRY_TABLE table[] = {
        { NULL, RTL_QUERY_REGISTRY_DIRECT, L"Level", &level, REG_NONE, NULL, 0 },
        { NULL, RTL_QUERY_REGISTRY_DIRECT, L"Name", &name, REG_NONE, NULL, 0 },
        { NULL, RTL_QUERY_REGISTRY_DIRECT, L"Missing", &missing, REG_DWORD, &fallback, sizeof fallback },
        { NULL, 0, NULL, NULL, 0, NULL, 0 },
    };

    (void)state;
    assert_int_equal(RtlQueryRegistryValues(RTL_REGISTRY_SERVICES, PARAMETERS_W, table, NULL, NULL), STATUS_SUCCESS);
    assert_int_equal(level, 4);
    assert_true(unicode_equals(&name, "trace"));
    assert_int_equal(name.MaximumLength, 12);
    assert_int_equal(missing, 5);
    RtlFreeUnicodeString(&name);
}

static void DIRECT_into_a_string_too_small_fails_with_BUFFER_TOO_SMALL(void **state)
{
    WCHAR small[3];
    UNICODE_STRING name = { 0, sizeof small, small };
    RTL_QUERY_REGISTRY_TABLE table[] = {
        { NULL, RTL_QUERY_REGISTRY_DIRECT, L"Name", &name, REG_NONE, NULL, 0 },
        { NULL, 0, NULL, NULL, 0, NULL, 0 },
    };

    (void)state;
    assert_int_equal(RtlQueryRegistryValues(RTL_REGISTRY_SERVICES, PARAMETERS_W, table, NULL, NULL),
                     STATUS_BUFFER_TOO_SMALL);
}

static void DIRECT_data_longer_than_a_ULONG_goes_to_a_buffer_sized_by_its_first_LONG(void **state)
{
    LONG data_only[4] = { -16 };
    ULONG with_header[6] = { sizeof with_header };
    LONG too_small[2] = { -8 };
    RTL_QUERY_REGISTRY_TABLE table[] = {
        { NULL, RTL_QUERY_REGISTRY_DIRECT, L"Blob", data_only, REG_NONE, NULL, 0 },
        { NULL, RTL_QUERY_REGISTRY_DIRECT, L"Blob", with_header, REG_NONE, NULL, 0 },
        { NULL, 0, NULL, NULL, 0, NULL, 0 },
    };

    (void)state;
    assert_int_equal(RtlQueryRegistryValues(RTL_REGISTRY_SERVICES, PARAMETERS_W, table, NULL, NULL), STATUS_SUCCESS);
    assert_int_equal(((PUCHAR)data_only)[0], 1);
    assert_int_equal(((PUCHAR)data_only)[9], 10);
    assert_int_equal(with_header[0], 10);
    assert_int_equal(with_header[1], REG_BINARY);
    assert_int_equal(((PUCHAR)&with_header[2])[9], 10);
    table[0].EntryContext = too_small;
    assert_int_equal(RtlQueryRegistryValues(RTL_REGISTRY_SERVICES, PARAMETERS_W, table, NULL, NULL),
                     STATUS_BUFFER_TOO_SMALL);
}

static void REQUIRED_fails_for_a_missing_value_even_with_a_default(void **state)
{
    ULONG value = 0, fallback = 1;
    RTL_QUERY_REGISTRY_TABLE table[] = {
        { NULL, RTL_QUERY_REGISTRY_DIRECT | RTL_QUERY_REGISTRY_REQUIRED, L"Missing", &value, REG_DWORD, &fallback,
          sizeof fallback },
        { NULL, 0, NULL, NULL, 0, NULL, 0 },
    };

    (void)state;
    assert_int_equal(RtlQueryRegistryValues(RTL_REGISTRY_SERVICES, PARAMETERS_W, table, NULL, NULL),
                     STATUS_OBJECT_NAME_NOT_FOUND);
    assert_int_equal(value, 0);
}

static void TYPECHECK_refuses_a_value_of_another_type(void **state)
{
    ULONG value = 0;
    RTL_QUERY_REGISTRY_TABLE table[] = {
        { NULL,
          RTL_QUERY_REGISTRY_DIRECT | RTL_QUERY_REGISTRY_TYPECHECK | (REG_DWORD << RTL_QUERY_REGISTRY_TYPECHECK_SHIFT),
          L"Name", &value, REG_NONE, NULL, 0 },
        { NULL, 0, NULL, NULL, 0, NULL, 0 },
    };

    (void)state;
    assert_int_equal(RtlQueryRegistryValues(RTL_REGISTRY_SERVICES, PARAMETERS_W, table, NULL, NULL),
                     STATUS_OBJECT_TYPE_MISMATCH);
    table[0].Name = L"Level";
    assert_int_equal(RtlQueryRegistryValues(RTL_REGISTRY_SERVICES, PARAMETERS_W, table, NULL, NULL), STATUS_SUCCESS);
    assert_int_equal(value, 4);
}

static void SUBKEY_moves_the_following_entries_into_a_subkey_until_TOPKEY(void **state)
{
    ULONG inner = 0, level = 0;
    RTL_QUERY_REGISTRY_TABLE table[] = {
        { NULL, RTL_QUERY_REGISTRY_SUBKEY, L"Sub", NULL, REG_NONE, NULL, 0 },
        { NULL, RTL_QUERY_REGISTRY_DIRECT, L"Inner", &inner, REG_NONE, NULL, 0 },
        { NULL, RTL_QUERY_REGISTRY_TOPKEY | RTL_QUERY_REGISTRY_DIRECT, L"Level", &level, REG_NONE, NULL, 0 },
        { NULL, 0, NULL, NULL, 0, NULL, 0 },
    };

    (void)state;
    assert_int_equal(RtlQueryRegistryValues(RTL_REGISTRY_SERVICES, PARAMETERS_W, table, NULL, NULL), STATUS_SUCCESS);
    assert_int_equal(inner, 7);
    assert_int_equal(level, 4);
}

static void DIRECT_with_a_query_routine_or_without_a_name_is_an_invalid_parameter(void **state)
{
    ULONG value;
    RTL_QUERY_REGISTRY_TABLE table[] = {
        { NULL, RTL_QUERY_REGISTRY_DIRECT, NULL, &value, REG_NONE, NULL, 0 },
        { NULL, 0, NULL, NULL, 0, NULL, 0 },
    };

    (void)state;
    assert_int_equal(RtlQueryRegistryValues(RTL_REGISTRY_SERVICES, PARAMETERS_W, table, NULL, NULL),
                     STATUS_INVALID_PARAMETER);
}

/* ---- Query routines ---- */

struct seen {
    char log[256];
    unsigned calls;
};

static void log_wide(struct seen *seen, PCWSTR text, size_t count)
{
    size_t n = strlen(seen->log);

    for (size_t i = 0; i < count && text[i] != 0 && n + 2 < sizeof seen->log; i++)
        seen->log[n++] = (char)text[i];
    seen->log[n++] = ' ';
    seen->log[n] = 0;
}

static NTSTATUS NTAPI record_value(PWSTR ValueName, ULONG ValueType, PVOID ValueData, ULONG ValueLength,
                                   PVOID Context, PVOID EntryContext)
{
    struct seen *seen = Context;

    (void)EntryContext;
    seen->calls++;
    if (ValueType == REG_SZ || ValueType == REG_EXPAND_SZ || ValueType == REG_MULTI_SZ)
        log_wide(seen, ValueData, ValueLength / sizeof(WCHAR));
    else
        log_wide(seen, ValueName, 64);
    return STATUS_SUCCESS;
}

static void a_routine_gets_each_string_of_a_REG_MULTI_SZ_unless_NOEXPAND(void **state)
{
    struct seen seen = { "", 0 };
    RTL_QUERY_REGISTRY_TABLE table[] = {
        { record_value, 0, L"List", NULL, REG_NONE, NULL, 0 },
        { NULL, 0, NULL, NULL, 0, NULL, 0 },
    };

    (void)state;
    assert_int_equal(RtlQueryRegistryValues(RTL_REGISTRY_SERVICES, PARAMETERS_W, table, &seen, NULL), STATUS_SUCCESS);
    assert_string_equal(seen.log, "first second ");
    seen = (struct seen){ "", 0 };
    table[0].Flags = RTL_QUERY_REGISTRY_NOEXPAND;
    assert_int_equal(RtlQueryRegistryValues(RTL_REGISTRY_SERVICES, PARAMETERS_W, table, &seen, NULL), STATUS_SUCCESS);
    assert_int_equal(seen.calls, 1);
}

static void a_REG_EXPAND_SZ_is_expanded_from_the_Environment_block(void **state)
{
    static const WCHAR environment[] = L"OTHER=x\0ROOT=C:\\Windows\0";
    struct seen seen = { "", 0 };
    RTL_QUERY_REGISTRY_TABLE table[] = {
        { record_value, 0, L"Path", NULL, REG_NONE, NULL, 0 },
        { NULL, 0, NULL, NULL, 0, NULL, 0 },
    };

    (void)state;
    assert_int_equal(RtlQueryRegistryValues(RTL_REGISTRY_SERVICES, PARAMETERS_W, table, &seen, (PVOID)environment),
                     STATUS_SUCCESS);
    assert_string_equal(seen.log, "C:\\Windows\\file ");
    seen = (struct seen){ "", 0 };
    assert_int_equal(RtlQueryRegistryValues(RTL_REGISTRY_SERVICES, PARAMETERS_W, table, &seen, NULL), STATUS_SUCCESS);
    assert_string_equal(seen.log, "%Root%\\file ");
}

static void a_routine_without_a_name_gets_every_value_of_the_key(void **state)
{
    struct seen seen = { "", 0 };
    RTL_QUERY_REGISTRY_TABLE table[] = {
        { record_value, RTL_QUERY_REGISTRY_NOEXPAND, NULL, NULL, REG_NONE, NULL, 0 },
        { NULL, 0, NULL, NULL, 0, NULL, 0 },
    };

    (void)state;
    assert_int_equal(RtlQueryRegistryValues(RTL_REGISTRY_SERVICES, PARAMETERS_W, table, &seen, NULL), STATUS_SUCCESS);
    assert_int_equal(seen.calls, 5);
    assert_string_equal(seen.log, "Level trace first %Root%\\file Blob ");
}

static void RTL_REGISTRY_HANDLE_queries_a_key_the_caller_opened(void **state)
{
    UNICODE_STRING path;
    OBJECT_ATTRIBUTES attributes;
    HANDLE key;
    ULONG level = 0;
    RTL_QUERY_REGISTRY_TABLE table[] = {
        { NULL, RTL_QUERY_REGISTRY_DIRECT, L"Level", &level, REG_NONE, NULL, 0 },
        { NULL, 0, NULL, NULL, 0, NULL, 0 },
    };

    (void)state;
    RtlInitUnicodeString(&path, L"\\Registry\\Machine\\System\\CurrentControlSet\\Services\\rtltest\\Parameters");
    InitializeObjectAttributes(&attributes, &path, OBJ_CASE_INSENSITIVE | OBJ_KERNEL_HANDLE, NULL, NULL);
    assert_int_equal(ZwOpenKey(&key, KEY_READ, &attributes), STATUS_SUCCESS);
    assert_int_equal(RtlQueryRegistryValues(RTL_REGISTRY_HANDLE, (PCWSTR)key, table, NULL, NULL), STATUS_SUCCESS);
    assert_int_equal(level, 4);
    /* The caller's handle is still the caller's to close. */
    assert_int_equal(ZwClose(key), STATUS_SUCCESS);
}

/* ---- The single-value helpers ---- */

static void RtlWriteRegistryValue_and_friends_work_relative_to_a_predefined_key(void **state)
{
    ULONG value = 11, read = 0;
    RTL_QUERY_REGISTRY_TABLE table[] = {
        { NULL, RTL_QUERY_REGISTRY_DIRECT | RTL_QUERY_REGISTRY_REQUIRED, L"Written", &read, REG_NONE, NULL, 0 },
        { NULL, 0, NULL, NULL, 0, NULL, 0 },
    };

    (void)state;
    assert_int_equal(RtlCheckRegistryKey(RTL_REGISTRY_CONTROL, L"Mine"), STATUS_OBJECT_NAME_NOT_FOUND);
    assert_int_equal(RtlCreateRegistryKey(RTL_REGISTRY_CONTROL, L"Mine"), STATUS_SUCCESS);
    assert_int_equal(RtlCheckRegistryKey(RTL_REGISTRY_CONTROL, L"Mine"), STATUS_SUCCESS);
    assert_int_equal(RtlWriteRegistryValue(RTL_REGISTRY_CONTROL, L"Mine", L"Written", REG_DWORD, &value, sizeof value),
                     STATUS_SUCCESS);
    assert_int_equal(RtlQueryRegistryValues(RTL_REGISTRY_CONTROL, L"Mine", table, NULL, NULL), STATUS_SUCCESS);
    assert_int_equal(read, 11);
    assert_int_equal(RtlDeleteRegistryValue(RTL_REGISTRY_CONTROL, L"Mine", L"Written"), STATUS_SUCCESS);
    assert_int_equal(RtlQueryRegistryValues(RTL_REGISTRY_CONTROL, L"Mine", table, NULL, NULL),
                     STATUS_OBJECT_NAME_NOT_FOUND);
    assert_int_equal(RtlCheckRegistryKey(RTL_REGISTRY_MAXIMUM, L"Mine"), STATUS_INVALID_PARAMETER);
}

/* ---- A driver reads its Parameters in DriverEntry ---- */

static struct {
    NTSTATUS status;
    ULONG level;
    ULONG start;
    WCHAR name[16];
} entry_saw;

static VOID NTAPI ParamsUnload(PDRIVER_OBJECT DriverObject)
{
    UNREFERENCED_PARAMETER(DriverObject);
}

/* As drivers do: RegistryPath\Parameters, absolute, with defaults for what is not set. */
static NTSTATUS NTAPI ParamsEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    static ULONG default_level = 1;
    WCHAR path[160];
    UNICODE_STRING parameters = { 0, sizeof path, path };
    UNICODE_STRING name = { 0, sizeof entry_saw.name, entry_saw.name };
    RTL_QUERY_REGISTRY_TABLE table[] = {
        { NULL, RTL_QUERY_REGISTRY_DIRECT, L"Start", &entry_saw.start, REG_NONE, NULL, 0 },
        { NULL, RTL_QUERY_REGISTRY_SUBKEY, L"Parameters", NULL, REG_NONE, NULL, 0 },
        { NULL, RTL_QUERY_REGISTRY_DIRECT, L"Level", &entry_saw.level, REG_DWORD, &default_level, sizeof(ULONG) },
        { NULL, RTL_QUERY_REGISTRY_DIRECT, L"Name", &name, REG_NONE, NULL, 0 },
        { NULL, 0, NULL, NULL, 0, NULL, 0 },
    };

    DriverObject->DriverUnload = ParamsUnload;
    RtlCopyUnicodeString(&parameters, RegistryPath);
    path[parameters.Length / sizeof(WCHAR)] = 0;
    entry_saw.status = RtlQueryRegistryValues(RTL_REGISTRY_ABSOLUTE, path, table, NULL, NULL);
    return STATUS_SUCCESS;
}

static void DriverEntry_reads_the_Parameters_the_host_seeded_before_the_load(void **state)
{
    PDRIVER_OBJECT driver;

    (void)state;
    assert_int_equal(wdmsim_registry_set_dword(WDMSIM_REGISTRY_SERVICES "params\\Parameters", "Level", 9), 0);
    assert_int_equal(wdmsim_registry_set_string(WDMSIM_REGISTRY_SERVICES "params\\Parameters", "Name", "seeded"), 0);
    driver = load("params", ParamsEntry);
    assert_int_equal(entry_saw.status, STATUS_SUCCESS);
    assert_int_equal(entry_saw.level, 9);
    assert_int_equal(entry_saw.start, 3);               /* SERVICE_DEMAND_START, as installed */
    assert_true(wide_equals(entry_saw.name, 12, "seeded"));
    wdmsim_driver_unload(driver);
}

static void a_driver_without_seeded_Parameters_gets_its_defaults(void **state)
{
    PDRIVER_OBJECT driver;
    ULONG type, length;
    WCHAR image[64];

    (void)state;
    driver = load("plain", ParamsEntry);
    assert_int_equal(entry_saw.status, STATUS_SUCCESS);
    assert_int_equal(entry_saw.level, 1);
    assert_int_equal(wdmsim_registry_get_value(WDMSIM_REGISTRY_SERVICES "plain", "ImagePath", &type, image,
                                               sizeof image, &length),
                     STATUS_SUCCESS);
    assert_int_equal(type, REG_EXPAND_SZ);
    assert_true(wide_equals(image, (USHORT)(length - sizeof(WCHAR)), "\\SystemRoot\\System32\\drivers\\plain.sys"));
    wdmsim_driver_unload(driver);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        rtl_test(DIRECT_reads_a_dword_and_a_string_whose_buffer_it_allocates),
        rtl_test(DIRECT_into_a_string_too_small_fails_with_BUFFER_TOO_SMALL),
        rtl_test(DIRECT_data_longer_than_a_ULONG_goes_to_a_buffer_sized_by_its_first_LONG),
        rtl_test(REQUIRED_fails_for_a_missing_value_even_with_a_default),
        rtl_test(TYPECHECK_refuses_a_value_of_another_type),
        rtl_test(SUBKEY_moves_the_following_entries_into_a_subkey_until_TOPKEY),
        rtl_test(DIRECT_with_a_query_routine_or_without_a_name_is_an_invalid_parameter),
        rtl_test(a_routine_gets_each_string_of_a_REG_MULTI_SZ_unless_NOEXPAND),
        rtl_test(a_REG_EXPAND_SZ_is_expanded_from_the_Environment_block),
        rtl_test(a_routine_without_a_name_gets_every_value_of_the_key),
        rtl_test(RTL_REGISTRY_HANDLE_queries_a_key_the_caller_opened),
        rtl_test(RtlWriteRegistryValue_and_friends_work_relative_to_a_predefined_key),
        rtl_test(DriverEntry_reads_the_Parameters_the_host_seeded_before_the_load),
        rtl_test(a_driver_without_seeded_Parameters_gets_its_defaults),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
