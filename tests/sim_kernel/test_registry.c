/*
 * test_registry.c - the configuration manager (registry.c): keys opened by absolute and relative
 * names, case-insensitive; values of every type and the three value information classes, with
 * Windows' two "buffer too small" statuses; enumeration order; the key information classes;
 * deletion, with its handles left pointing at a deleted key; volatile keys; the handle rules an
 * application meets; the host's wdmsim_registry_* calls; and the STOPs for bad input.
 */
#include "wdmsim_test_drivers.h"

#define TEST_KEY L"\\Registry\\Machine\\Software\\wdmsim"

static UNICODE_STRING name_of(PCWSTR text)
{
    UNICODE_STRING name;

    RtlInitUnicodeString(&name, text);
    return name;
}

static NTSTATUS create_key(PHANDLE key, HANDLE root, PCWSTR path, ULONG options, PULONG disposition)
{
    UNICODE_STRING name = name_of(path);
    OBJECT_ATTRIBUTES attributes;

    InitializeObjectAttributes(&attributes, &name, OBJ_CASE_INSENSITIVE | OBJ_KERNEL_HANDLE, root, NULL);
    return ZwCreateKey(key, KEY_ALL_ACCESS, &attributes, 0, NULL, options, disposition);
}

static NTSTATUS open_key(PHANDLE key, HANDLE root, PCWSTR path)
{
    UNICODE_STRING name = name_of(path);
    OBJECT_ATTRIBUTES attributes;

    InitializeObjectAttributes(&attributes, &name, OBJ_CASE_INSENSITIVE | OBJ_KERNEL_HANDLE, root, NULL);
    return ZwOpenKey(key, KEY_READ, &attributes);
}

/* The test's own key, \Registry\Machine\Software\wdmsim, made afresh. */
static HANDLE test_key(void)
{
    HANDLE key;

    assert_int_equal(create_key(&key, NULL, TEST_KEY, REG_OPTION_NON_VOLATILE, NULL), STATUS_SUCCESS);
    return key;
}

static NTSTATUS set_value(HANDLE key, PCWSTR name, ULONG type, const void *data, ULONG size)
{
    UNICODE_STRING value_name = name_of(name);

    return ZwSetValueKey(key, &value_name, 0, type, (PVOID)data, size);
}

static NTSTATUS query_value(HANDLE key, PCWSTR name, KEY_VALUE_INFORMATION_CLASS class, void *buffer, ULONG length,
                            PULONG result)
{
    UNICODE_STRING value_name = name_of(name);

    return ZwQueryValueKey(key, &value_name, class, buffer, length, result);
}

/* ---- Keys by name ---- */

static void ZwCreateKey_makes_a_key_and_then_opens_it_as_an_existing_one(void **state)
{
    HANDLE first, second;
    ULONG disposition = 0;

    (void)state;
    assert_int_equal(create_key(&first, NULL, TEST_KEY, 0, &disposition), STATUS_SUCCESS);
    assert_int_equal(disposition, REG_CREATED_NEW_KEY);
    assert_int_equal(create_key(&second, NULL, TEST_KEY, 0, &disposition), STATUS_SUCCESS);
    assert_int_equal(disposition, REG_OPENED_EXISTING_KEY);
    assert_ptr_not_equal(first, second);
    /* Kernel handles: the top bit is set. */
    assert_true((LONG_PTR)first < 0);
    ZwClose(first);
    ZwClose(second);
}

static void ZwCreateKey_makes_only_the_last_key_of_the_path(void **state)
{
    HANDLE key = (HANDLE)1;

    (void)state;
    assert_int_equal(create_key(&key, NULL, TEST_KEY L"\\missing\\child", 0, NULL), STATUS_OBJECT_NAME_NOT_FOUND);
    assert_null(key);
}

static void ZwOpenKey_compares_names_case_insensitively(void **state)
{
    HANDLE made = test_key(), opened;

    (void)state;
    assert_int_equal(open_key(&opened, NULL, L"\\REGISTRY\\machine\\SOFTWARE\\WDMSIM"), STATUS_SUCCESS);
    ZwClose(opened);
    assert_int_equal(open_key(&opened, NULL, TEST_KEY L"\\nothing"), STATUS_OBJECT_NAME_NOT_FOUND);
    ZwClose(made);
}

static void ZwOpenKey_takes_names_relative_to_RootDirectory_without_a_leading_backslash(void **state)
{
    HANDLE root = test_key(), child, again;

    (void)state;
    assert_int_equal(create_key(&child, root, L"Child", 0, NULL), STATUS_SUCCESS);
    ZwClose(child);
    assert_int_equal(open_key(&again, root, L"child"), STATUS_SUCCESS);
    ZwClose(again);
    assert_int_equal(open_key(&again, root, L"\\Child"), STATUS_OBJECT_PATH_SYNTAX_BAD);
    assert_int_equal(open_key(&again, NULL, L"Registry\\Machine"), STATUS_OBJECT_PATH_SYNTAX_BAD);
    assert_int_equal(open_key(&again, NULL, L"\\Device\\Null"), STATUS_OBJECT_PATH_NOT_FOUND);
    assert_int_equal(open_key(&again, NULL, TEST_KEY L"\\\\Child"), STATUS_OBJECT_NAME_INVALID);
    ZwClose(root);
}

/* A refused name takes nothing from the keys it walked through (found by fuzz_registry: each
 * refusal used to drop a reference it had not taken, freeing a key still in the tree). */
static void a_malformed_name_leaves_the_keys_on_its_way_as_they_were(void **state)
{
    HANDLE key = test_key(), child, bad;
    UCHAR buffer[64];
    PKEY_BASIC_INFORMATION info = (PKEY_BASIC_INFORMATION)buffer;
    ULONG result;

    (void)state;
    assert_int_equal(create_key(&child, key, L"Child", 0, NULL), STATUS_SUCCESS);
    ZwClose(child);
    for (int i = 0; i < 3; i++)
        assert_int_equal(open_key(&bad, key, L"Child\\\\b"), STATUS_OBJECT_NAME_INVALID);
    assert_int_equal(ZwEnumerateKey(key, 0, KeyBasicInformation, buffer, sizeof buffer, &result), STATUS_SUCCESS);
    assert_true(wide_equals(info->Name, (USHORT)info->NameLength, "Child"));
    assert_int_equal(open_key(&child, key, L"Child"), STATUS_SUCCESS);
    ZwClose(child);
    ZwClose(key);
}

static void the_machine_has_the_keys_a_fresh_Windows_has(void **state)
{
    static const PCWSTR keys[] = {
        L"\\Registry\\Machine\\System\\CurrentControlSet\\Services",
        L"\\Registry\\Machine\\System\\CurrentControlSet\\Control\\Class",
        L"\\Registry\\Machine\\System\\CurrentControlSet\\Enum\\Root",
        L"\\Registry\\Machine\\Software\\Microsoft\\Windows NT\\CurrentVersion",
        L"\\Registry\\Machine\\Hardware\\DeviceMap",
        L"\\Registry\\Machine\\Hardware\\Description\\System",
        L"\\Registry\\User\\.Default",
    };
    HANDLE key;

    (void)state;
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        assert_int_equal(open_key(&key, NULL, keys[i]), STATUS_SUCCESS);
        ZwClose(key);
    }
}

/* ---- Values ---- */

static void ZwSetValueKey_stores_every_type_as_given(void **state)
{
    static const WCHAR sz[] = L"text", expand[] = L"%SystemRoot%\\x", multi[] = L"one\0two\0";
    static const ULONG dword = 0x12345678;
    static const ULONGLONG qword = 0x1122334455667788ULL;
    static const UCHAR binary[] = { 1, 2, 3, 0, 5 };
    static const struct {
        PCWSTR name;
        ULONG type;
        const void *data;
        ULONG size;
    } values[] = {
        { L"Sz", REG_SZ, sz, sizeof sz },           { L"Expand", REG_EXPAND_SZ, expand, sizeof expand },
        { L"Multi", REG_MULTI_SZ, multi, sizeof multi }, { L"Dword", REG_DWORD, &dword, sizeof dword },
        { L"Qword", REG_QWORD, &qword, sizeof qword }, { L"Binary", REG_BINARY, binary, sizeof binary },
        { L"None", REG_NONE, NULL, 0 },
    };
    HANDLE key = test_key();
    UCHAR buffer[128];
    PKEY_VALUE_PARTIAL_INFORMATION info = (PKEY_VALUE_PARTIAL_INFORMATION)buffer;
    ULONG result;

    (void)state;
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++)
        assert_int_equal(set_value(key, values[i].name, values[i].type, values[i].data, values[i].size), 0);
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        assert_int_equal(query_value(key, values[i].name, KeyValuePartialInformation, buffer, sizeof buffer, &result),
                         STATUS_SUCCESS);
        assert_int_equal(result, FIELD_OFFSET(KEY_VALUE_PARTIAL_INFORMATION, Data) + values[i].size);
        assert_int_equal(info->Type, values[i].type);
        assert_int_equal(info->DataLength, values[i].size);
        assert_memory_equal(info->Data, values[i].data ? values[i].data : "", values[i].size);
    }
    ZwClose(key);
}

static void ZwQueryValueKey_gives_BUFFER_TOO_SMALL_below_the_fixed_part_and_BUFFER_OVERFLOW_above(void **state)
{
    static const UCHAR data[40] = { 7 };
    HANDLE key = test_key();
    UCHAR buffer[80];
    PKEY_VALUE_PARTIAL_INFORMATION info = (PKEY_VALUE_PARTIAL_INFORMATION)buffer;
    ULONG result = 0;

    (void)state;
    assert_int_equal(set_value(key, L"Blob", REG_BINARY, data, sizeof data), STATUS_SUCCESS);
    /* A size probe: no buffer at all. */
    assert_int_equal(query_value(key, L"Blob", KeyValuePartialInformation, NULL, 0, &result), STATUS_BUFFER_TOO_SMALL);
    assert_int_equal(result, 12 + sizeof data);
    /* Below the fixed part: nothing is written. */
    memset(buffer, 0xAA, sizeof buffer);
    assert_int_equal(query_value(key, L"Blob", KeyValuePartialInformation, buffer, 11, &result),
                     STATUS_BUFFER_TOO_SMALL);
    assert_int_equal(buffer[0], 0xAA);
    /* The fixed part fits, the data does not: the fixed part is written, and as much data as fits. */
    assert_int_equal(query_value(key, L"Blob", KeyValuePartialInformation, buffer, 20, &result),
                     STATUS_BUFFER_OVERFLOW);
    assert_int_equal(result, 12 + sizeof data);
    assert_int_equal(info->Type, REG_BINARY);
    assert_int_equal(info->DataLength, sizeof data);
    assert_int_equal(buffer[20], 0xAA);
    assert_int_equal(query_value(key, L"Blob", KeyValuePartialInformation, buffer, result, &result), STATUS_SUCCESS);
    ZwClose(key);
}

static void KeyValueFullInformation_puts_the_data_after_the_name_ULONG_aligned(void **state)
{
    static const ULONG dword = 42;
    HANDLE key = test_key();
    UCHAR buffer[64];
    PKEY_VALUE_FULL_INFORMATION full = (PKEY_VALUE_FULL_INFORMATION)buffer;
    PKEY_VALUE_BASIC_INFORMATION basic = (PKEY_VALUE_BASIC_INFORMATION)buffer;
    ULONG result;

    (void)state;
    assert_int_equal(set_value(key, L"Abcde", REG_DWORD, &dword, sizeof dword), STATUS_SUCCESS);
    assert_int_equal(query_value(key, L"abcde", KeyValueFullInformation, buffer, sizeof buffer, &result), 0);
    assert_int_equal(full->NameLength, 10);
    assert_true(wide_equals(full->Name, (USHORT)full->NameLength, "Abcde"));
    assert_int_equal(full->DataOffset, 32);        /* 20 + 10, rounded up to a ULONG */
    assert_int_equal(full->DataLength, sizeof dword);
    assert_int_equal(*(PULONG)(buffer + full->DataOffset), 42);
    assert_int_equal(result, 36);
    assert_int_equal(query_value(key, L"ABCDE", KeyValueBasicInformation, buffer, sizeof buffer, &result), 0);
    assert_int_equal(basic->Type, REG_DWORD);
    assert_int_equal(result, 12 + 10);
    ZwClose(key);
}

/* The data offset is ULONG-aligned even with no data: the padding is part of what is needed. */
static void KeyValueFullInformation_of_an_empty_value_needs_its_padding_too(void **state)
{
    HANDLE key = test_key();
    UCHAR buffer[64];
    ULONG result;

    (void)state;
    assert_int_equal(set_value(key, L"Abc", REG_BINARY, NULL, 0), STATUS_SUCCESS);
    assert_int_equal(query_value(key, L"Abc", KeyValueFullInformation, buffer, 26, &result), STATUS_BUFFER_OVERFLOW);
    assert_int_equal(result, 28);                      /* 20 + 6, rounded up to a ULONG */
    assert_int_equal(query_value(key, L"Abc", KeyValueFullInformation, buffer, 28, &result), STATUS_SUCCESS);
    assert_int_equal(((PKEY_VALUE_FULL_INFORMATION)buffer)->DataOffset, 28);
    ZwClose(key);
}

static void ZwQueryValueKey_of_a_missing_value_is_OBJECT_NAME_NOT_FOUND_and_the_empty_name_is_the_default(void **state)
{
    static const WCHAR text[] = L"default";
    HANDLE key = test_key();
    UCHAR buffer[64];
    ULONG result;

    (void)state;
    assert_int_equal(query_value(key, L"", KeyValuePartialInformation, buffer, sizeof buffer, &result),
                     STATUS_OBJECT_NAME_NOT_FOUND);
    assert_int_equal(set_value(key, L"", REG_SZ, text, sizeof text), STATUS_SUCCESS);
    assert_int_equal(query_value(key, L"", KeyValuePartialInformation, buffer, sizeof buffer, &result), 0);
    assert_int_equal(query_value(key, L"Other", KeyValuePartialInformation, buffer, sizeof buffer, &result),
                     STATUS_OBJECT_NAME_NOT_FOUND);
    ZwClose(key);
}

static void ZwEnumerateValueKey_gives_values_in_the_order_they_were_first_set(void **state)
{
    static const ULONG one = 1, two = 2;
    HANDLE key = test_key();
    UCHAR buffer[64];
    PKEY_VALUE_BASIC_INFORMATION info = (PKEY_VALUE_BASIC_INFORMATION)buffer;
    ULONG result;

    (void)state;
    set_value(key, L"Zeta", REG_DWORD, &one, sizeof one);
    set_value(key, L"Alpha", REG_DWORD, &one, sizeof one);
    set_value(key, L"zeta", REG_DWORD, &two, sizeof two);     /* replaced in place */
    assert_int_equal(ZwEnumerateValueKey(key, 0, KeyValueBasicInformation, buffer, sizeof buffer, &result), 0);
    assert_true(wide_equals(info->Name, (USHORT)info->NameLength, "Zeta"));
    assert_int_equal(ZwEnumerateValueKey(key, 1, KeyValueBasicInformation, buffer, sizeof buffer, &result), 0);
    assert_true(wide_equals(info->Name, (USHORT)info->NameLength, "Alpha"));
    assert_int_equal(ZwEnumerateValueKey(key, 2, KeyValueBasicInformation, buffer, sizeof buffer, &result),
                     STATUS_NO_MORE_ENTRIES);
    assert_int_equal(query_value(key, L"ZETA", KeyValuePartialInformation, buffer, sizeof buffer, &result), 0);
    assert_int_equal(*(PULONG)((PKEY_VALUE_PARTIAL_INFORMATION)buffer)->Data, 2);
    ZwClose(key);
}

static void ZwDeleteValueKey_removes_a_value_once(void **state)
{
    static const ULONG one = 1;
    UNICODE_STRING name = name_of(L"Gone");
    HANDLE key = test_key();
    UCHAR buffer[32];
    ULONG result;

    (void)state;
    set_value(key, L"Gone", REG_DWORD, &one, sizeof one);
    assert_int_equal(ZwDeleteValueKey(key, &name), STATUS_SUCCESS);
    assert_int_equal(ZwDeleteValueKey(key, &name), STATUS_OBJECT_NAME_NOT_FOUND);
    assert_int_equal(query_value(key, L"Gone", KeyValuePartialInformation, buffer, sizeof buffer, &result),
                     STATUS_OBJECT_NAME_NOT_FOUND);
    ZwClose(key);
}

/* ---- Subkeys and key information ---- */

static void ZwEnumerateKey_gives_subkeys_in_name_order_whatever_their_case(void **state)
{
    static const PCWSTR made[] = { L"beta", L"Alpha", L"GAMMA" };
    static const char *const expected[] = { "Alpha", "beta", "GAMMA" };
    HANDLE key = test_key(), child;
    UCHAR buffer[64];
    PKEY_BASIC_INFORMATION info = (PKEY_BASIC_INFORMATION)buffer;
    ULONG result;

    (void)state;
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(create_key(&child, key, made[i], 0, NULL), STATUS_SUCCESS);
        ZwClose(child);
    }
    for (ULONG i = 0; i < 3; i++) {
        assert_int_equal(ZwEnumerateKey(key, i, KeyBasicInformation, buffer, sizeof buffer, &result), 0);
        assert_true(wide_equals(info->Name, (USHORT)info->NameLength, expected[i]));
        assert_int_equal(result, 16 + info->NameLength);
    }
    assert_int_equal(ZwEnumerateKey(key, 3, KeyBasicInformation, buffer, sizeof buffer, &result),
                     STATUS_NO_MORE_ENTRIES);
    ZwClose(key);
}

static void ZwQueryKey_counts_subkeys_and_values_with_their_longest_names_and_data(void **state)
{
    static const UCHAR data[9] = { 0 };
    UNICODE_STRING class_name = name_of(L"Cls");
    UNICODE_STRING child_name = name_of(L"Longer");
    OBJECT_ATTRIBUTES attributes;
    HANDLE key = test_key(), child;
    UCHAR buffer[128];
    PKEY_FULL_INFORMATION full = (PKEY_FULL_INFORMATION)buffer;
    PKEY_NODE_INFORMATION node = (PKEY_NODE_INFORMATION)buffer;
    PKEY_CACHED_INFORMATION cached = (PKEY_CACHED_INFORMATION)buffer;
    ULONG result;

    (void)state;
    InitializeObjectAttributes(&attributes, &child_name, OBJ_KERNEL_HANDLE, key, NULL);
    assert_int_equal(ZwCreateKey(&child, KEY_ALL_ACCESS, &attributes, 0, &class_name, 0, NULL), STATUS_SUCCESS);
    set_value(key, L"Val", REG_BINARY, data, sizeof data);
    assert_int_equal(ZwQueryKey(key, KeyFullInformation, buffer, sizeof buffer, &result), STATUS_SUCCESS);
    assert_int_equal(full->SubKeys, 1);
    assert_int_equal(full->MaxNameLen, 12);
    assert_int_equal(full->MaxClassLen, 6);
    assert_int_equal(full->Values, 1);
    assert_int_equal(full->MaxValueNameLen, 6);
    assert_int_equal(full->MaxValueDataLen, 9);
    assert_int_equal(full->ClassOffset, 0xFFFFFFFF);    /* the key itself has no class */
    assert_int_equal(ZwQueryKey(child, KeyNodeInformation, buffer, sizeof buffer, &result), STATUS_SUCCESS);
    assert_true(wide_equals(node->Name, (USHORT)node->NameLength, "Longer"));
    assert_int_equal(node->ClassOffset, 36);           /* 24 + 12 */
    assert_int_equal(node->ClassLength, 6);
    assert_true(wide_equals((PWCHAR)(buffer + node->ClassOffset), 6, "Cls"));
    assert_int_equal(result, 42);
    assert_int_equal(ZwQueryKey(key, KeyCachedInformation, buffer, sizeof buffer, &result), STATUS_SUCCESS);
    assert_int_equal(cached->SubKeys, 1);
    assert_int_equal(cached->NameLength, 12);
    assert_int_equal(result, sizeof(KEY_CACHED_INFORMATION));
    assert_int_equal(ZwQueryKey(key, KeyCachedInformation, buffer, 39, &result), STATUS_BUFFER_TOO_SMALL);
    ZwClose(child);
    ZwClose(key);
}

static void KeyNameInformation_is_the_full_path_from_REGISTRY(void **state)
{
    HANDLE key = test_key();
    UCHAR buffer[128];
    PKEY_NAME_INFORMATION info = (PKEY_NAME_INFORMATION)buffer;
    ULONG result;

    (void)state;
    assert_int_equal(ZwQueryKey(key, KeyNameInformation, buffer, sizeof buffer, &result), STATUS_SUCCESS);
    assert_true(wide_equals(info->Name, (USHORT)info->NameLength, "\\REGISTRY\\MACHINE\\SOFTWARE\\wdmsim"));
    assert_int_equal(ZwQueryKey(key, KeyNameInformation, buffer, 10, &result), STATUS_BUFFER_OVERFLOW);
    assert_int_equal(result, 4 + info->NameLength);
    ZwClose(key);
}

/* ---- Deletion and volatile keys ---- */

static void ZwDeleteKey_refuses_a_key_with_subkeys(void **state)
{
    HANDLE key = test_key(), child;

    (void)state;
    assert_int_equal(create_key(&child, key, L"Child", 0, NULL), STATUS_SUCCESS);
    assert_int_equal(ZwDeleteKey(key), STATUS_CANNOT_DELETE);
    assert_int_equal(ZwDeleteKey(child), STATUS_SUCCESS);
    assert_int_equal(ZwDeleteKey(key), STATUS_SUCCESS);
    ZwClose(child);
    ZwClose(key);
}

static void a_deleted_key_keeps_its_handles_but_every_call_on_them_gets_KEY_DELETED(void **state)
{
    static const ULONG one = 1;
    HANDLE key = test_key(), other, child;
    UCHAR buffer[64];
    ULONG result, disposition;

    (void)state;
    assert_int_equal(open_key(&other, NULL, TEST_KEY), STATUS_SUCCESS);
    assert_int_equal(ZwDeleteKey(key), STATUS_SUCCESS);
    assert_int_equal(set_value(key, L"V", REG_DWORD, &one, sizeof one), STATUS_KEY_DELETED);
    assert_int_equal(query_value(other, L"V", KeyValuePartialInformation, buffer, sizeof buffer, &result),
                     STATUS_KEY_DELETED);
    assert_int_equal(ZwQueryKey(other, KeyBasicInformation, buffer, sizeof buffer, &result), STATUS_KEY_DELETED);
    assert_int_equal(ZwEnumerateKey(key, 0, KeyBasicInformation, buffer, sizeof buffer, &result), STATUS_KEY_DELETED);
    assert_int_equal(ZwFlushKey(key), STATUS_KEY_DELETED);
    assert_int_equal(ZwDeleteKey(other), STATUS_KEY_DELETED);
    assert_int_equal(create_key(&child, key, L"Child", 0, NULL), STATUS_KEY_DELETED);
    assert_int_equal(open_key(&child, NULL, TEST_KEY), STATUS_OBJECT_NAME_NOT_FOUND);
    /* The name is free again: a new key, not the deleted one. */
    assert_int_equal(create_key(&child, NULL, TEST_KEY, 0, &disposition), STATUS_SUCCESS);
    assert_int_equal(disposition, REG_CREATED_NEW_KEY);
    assert_int_equal(ZwClose(key), STATUS_SUCCESS);
    assert_int_equal(ZwClose(other), STATUS_SUCCESS);
    ZwClose(child);
}

static void the_roots_of_the_hives_cannot_be_deleted(void **state)
{
    HANDLE key;

    (void)state;
    assert_int_equal(create_key(&key, NULL, L"\\Registry\\Machine\\Software", 0, NULL), STATUS_SUCCESS);
    assert_int_equal(ZwDeleteKey(key), STATUS_CANNOT_DELETE);
    ZwClose(key);
}

static void a_volatile_key_takes_only_volatile_subkeys(void **state)
{
    HANDLE key, child;

    (void)state;
    assert_int_equal(create_key(&key, NULL, TEST_KEY, REG_OPTION_VOLATILE, NULL), STATUS_SUCCESS);
    assert_int_equal(create_key(&child, key, L"Stable", REG_OPTION_NON_VOLATILE, NULL), STATUS_CHILD_MUST_BE_VOLATILE);
    assert_int_equal(create_key(&child, key, L"Fleeting", REG_OPTION_VOLATILE, NULL), STATUS_SUCCESS);
    ZwClose(child);
    assert_int_equal(create_key(&child, NULL, L"\\Registry\\Machine\\Hardware\\Mine", 0, NULL),
                     STATUS_CHILD_MUST_BE_VOLATILE);
    assert_int_equal(create_key(&child, key, L"Odd", 0x100, NULL), STATUS_INVALID_PARAMETER);
    ZwClose(key);
}

/* ---- Handles ---- */

static void a_key_handle_used_after_close_is_INVALID_HANDLE_and_another_type_is_a_mismatch(void **state)
{
    UNICODE_STRING event_name = name_of(L"\\BaseNamedObjects\\RegistryTest");
    HANDLE key = test_key(), event;
    UCHAR buffer[64];
    ULONG result;

    (void)state;
    assert_int_equal(ZwClose(key), STATUS_SUCCESS);
    assert_int_equal(ZwQueryKey(key, KeyBasicInformation, buffer, sizeof buffer, &result), STATUS_INVALID_HANDLE);
    assert_non_null(IoCreateNotificationEvent(&event_name, &event));
    assert_int_equal(ZwQueryKey(event, KeyBasicInformation, buffer, sizeof buffer, &result), STATUS_OBJECT_TYPE_MISMATCH);
    ZwClose(event);
}

struct app_run {
    NTSTATUS open, set, query, kernel_bit, null_name, odd_name, odd_path;
    HANDLE handle;
};

static void application_reads_a_key(void *context)
{
    struct app_run *run = context;
    UNICODE_STRING name = name_of(TEST_KEY);
    OBJECT_ATTRIBUTES attributes;
    static const ULONG one = 1;
    UCHAR buffer[32];
    ULONG result;

    /* An application cannot ask for a kernel handle: the attribute is dropped. */
    InitializeObjectAttributes(&attributes, &name, OBJ_CASE_INSENSITIVE | OBJ_KERNEL_HANDLE, NULL, NULL);
    run->open = ZwOpenKey(&run->handle, KEY_READ, &attributes);
    run->kernel_bit = (LONG_PTR)run->handle < 0;
    run->set = set_value(run->handle, L"V", REG_DWORD, &one, sizeof one);
    run->query = ZwQueryKey(run->handle, KeyBasicInformation, buffer, sizeof buffer, &result);
    /* What stops a driver is an error status for an application, whose arguments NT probes. */
    run->null_name = ZwQueryValueKey(run->handle, NULL, KeyValuePartialInformation, buffer, sizeof buffer, &result);
    name.Length = 3;
    run->odd_name = ZwQueryValueKey(run->handle, &name, KeyValuePartialInformation, buffer, sizeof buffer, &result);
    ZwClose(run->handle);
    run->odd_path = ZwOpenKey(&run->handle, KEY_READ, &attributes);
}

static void an_application_gets_the_rights_it_asked_for_and_statuses_for_bad_arguments(void **state)
{
    struct app_run run = { 0 };
    HANDLE key = test_key();

    (void)state;
    wdmsim_process_run(wdmsim_process_create("app.exe"), application_reads_a_key, &run);
    assert_int_equal(run.open, STATUS_SUCCESS);
    assert_false(run.kernel_bit);
    assert_int_equal(run.set, STATUS_ACCESS_DENIED);
    assert_int_equal(run.query, STATUS_SUCCESS);
    assert_int_equal(run.null_name, STATUS_ACCESS_VIOLATION);
    assert_int_equal(run.odd_name, STATUS_INVALID_PARAMETER);
    assert_int_equal(run.odd_path, STATUS_OBJECT_NAME_INVALID);
    ZwClose(key);
}

/* ---- The host's calls ---- */

static void the_host_sets_and_reads_values_by_path_making_the_keys_on_the_way(void **state)
{
    WCHAR text[16];
    ULONG type, length;
    HANDLE key;
    UCHAR buffer[64];
    ULONG result;

    (void)state;
    assert_int_equal(wdmsim_registry_set_dword(WDMSIM_REGISTRY_SERVICES "demo\\Parameters", "Level", 3), 0);
    assert_int_equal(wdmsim_registry_set_string(WDMSIM_REGISTRY_SERVICES "demo\\Parameters", "Name", "abc"), 0);
    assert_int_equal(open_key(&key, NULL, L"\\Registry\\Machine\\System\\CurrentControlSet\\Services\\demo\\Parameters"),
                     STATUS_SUCCESS);
    assert_int_equal(query_value(key, L"Level", KeyValuePartialInformation, buffer, sizeof buffer, &result), 0);
    assert_int_equal(*(PULONG)((PKEY_VALUE_PARTIAL_INFORMATION)buffer)->Data, 3);
    ZwClose(key);
    assert_int_equal(wdmsim_registry_get_value(WDMSIM_REGISTRY_SERVICES "DEMO\\parameters", "name", &type, text, 4,
                                               &length),
                     STATUS_BUFFER_OVERFLOW);
    assert_int_equal(type, REG_SZ);
    assert_int_equal(length, 8);
    assert_int_equal(wdmsim_registry_get_value(WDMSIM_REGISTRY_SERVICES "demo\\Parameters", "Name", &type, text,
                                               sizeof text, &length),
                     STATUS_SUCCESS);
    assert_true(wide_equals(text, 6, "abc"));
    assert_int_equal(wdmsim_registry_delete_value(WDMSIM_REGISTRY_SERVICES "demo\\Parameters", "Name"), 0);
    assert_int_equal(wdmsim_registry_get_value(WDMSIM_REGISTRY_SERVICES "demo\\Parameters", "Name", &type, text,
                                               sizeof text, &length),
                     STATUS_OBJECT_NAME_NOT_FOUND);
    assert_int_equal(wdmsim_registry_delete_key(WDMSIM_REGISTRY_SERVICES "demo"), STATUS_SUCCESS);
    assert_int_equal(wdmsim_registry_create_key("\\Elsewhere\\Key"), STATUS_OBJECT_NAME_INVALID);
}

static void every_boot_starts_from_the_same_fresh_registry(void **state)
{
    ULONG type, length, value;

    assert_int_equal(wdmsim_registry_set_dword(WDMSIM_REGISTRY_SERVICES "demo", "Start", 2), 0);
    wdmsim_test_shutdown(state);
    wdmsim_test_boot(state);
    assert_int_equal(wdmsim_registry_get_value(WDMSIM_REGISTRY_SERVICES "demo", "Start", &type, &value, sizeof value,
                                               &length),
                     STATUS_OBJECT_NAME_NOT_FOUND);
}

/* ---- Bad input stops the machine ---- */

static void query_value_at_dispatch_level(void *context)
{
    HANDLE key = test_key();
    UCHAR buffer[32];
    ULONG result;
    KIRQL old;

    (void)context;
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    query_value(key, L"V", KeyValuePartialInformation, buffer, sizeof buffer, &result);
}

static void ZwQueryValueKey_above_PASSIVE_LEVEL_stops_the_machine(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(query_value_at_dispatch_level, NULL, 0xC4, 0xE6, "zw.registry_not_passive", &stop);
    wdmsim_assert_report_has(&stop, "ZwQueryValueKey");
}

static void query_with_a_null_value_name(void *context)
{
    HANDLE key = test_key();
    UCHAR buffer[32];
    ULONG result;

    (void)context;
    ZwQueryValueKey(key, NULL, KeyValuePartialInformation, buffer, sizeof buffer, &result);
}

static void a_NULL_ValueName_stops_with_the_access_violation_it_would_cause(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(query_with_a_null_value_name, NULL, 0x1E, 0xC0000005, "registry.null_pointer", &stop);
    wdmsim_assert_report_has(&stop, "ZwQueryValueKey was called with ValueName NULL");
}

static void set_with_an_odd_length_name(void *context)
{
    HANDLE key = test_key();
    UNICODE_STRING name = name_of(L"Name");
    ULONG one = 1;

    (void)context;
    name.Length = 3;
    ZwSetValueKey(key, &name, 0, REG_DWORD, &one, sizeof one);
}

static void a_name_of_odd_length_is_a_malformed_string_Driver_Verifier_stops_for(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(set_with_an_odd_length_name, NULL, 0xC4, 0xE4, "zw.malformed_unicode_string", &stop);
    wdmsim_assert_report_has(&stop, "Length 3");
}

/* ---- A driver that leaves a key open ---- */

static VOID NTAPI LeakyUnload(PDRIVER_OBJECT DriverObject)
{
    UNREFERENCED_PARAMETER(DriverObject);
}

static NTSTATUS NTAPI LeakyEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    OBJECT_ATTRIBUTES attributes;
    HANDLE key;

    InitializeObjectAttributes(&attributes, RegistryPath, OBJ_CASE_INSENSITIVE | OBJ_KERNEL_HANDLE, NULL, NULL);
    DriverObject->DriverUnload = LeakyUnload;
    return ZwOpenKey(&key, KEY_READ, &attributes);
}

static void load_and_unload_the_leaky_driver(void *context)
{
    PDRIVER_OBJECT driver = load_in_child("leaky", LeakyEntry);

    (void)context;
    if (driver != NULL)
        wdmsim_driver_unload(driver);
}

static void a_key_handle_left_open_at_unload_is_a_leak_naming_the_key(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(load_and_unload_the_leaky_driver, NULL, 0xC4, 0x62, "driver.unload_leaked_references", &stop);
    wdmsim_assert_report_has(&stop, "Key object");
    wdmsim_assert_report_has(&stop, "Services\\leaky");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        wdmsim_test(ZwCreateKey_makes_a_key_and_then_opens_it_as_an_existing_one),
        wdmsim_test(ZwCreateKey_makes_only_the_last_key_of_the_path),
        wdmsim_test(ZwOpenKey_compares_names_case_insensitively),
        wdmsim_test(ZwOpenKey_takes_names_relative_to_RootDirectory_without_a_leading_backslash),
        wdmsim_test(a_malformed_name_leaves_the_keys_on_its_way_as_they_were),
        wdmsim_test(the_machine_has_the_keys_a_fresh_Windows_has),
        wdmsim_test(ZwSetValueKey_stores_every_type_as_given),
        wdmsim_test(ZwQueryValueKey_gives_BUFFER_TOO_SMALL_below_the_fixed_part_and_BUFFER_OVERFLOW_above),
        wdmsim_test(KeyValueFullInformation_puts_the_data_after_the_name_ULONG_aligned),
        wdmsim_test(KeyValueFullInformation_of_an_empty_value_needs_its_padding_too),
        wdmsim_test(ZwQueryValueKey_of_a_missing_value_is_OBJECT_NAME_NOT_FOUND_and_the_empty_name_is_the_default),
        wdmsim_test(ZwEnumerateValueKey_gives_values_in_the_order_they_were_first_set),
        wdmsim_test(ZwDeleteValueKey_removes_a_value_once),
        wdmsim_test(ZwEnumerateKey_gives_subkeys_in_name_order_whatever_their_case),
        wdmsim_test(ZwQueryKey_counts_subkeys_and_values_with_their_longest_names_and_data),
        wdmsim_test(KeyNameInformation_is_the_full_path_from_REGISTRY),
        wdmsim_test(ZwDeleteKey_refuses_a_key_with_subkeys),
        wdmsim_test(a_deleted_key_keeps_its_handles_but_every_call_on_them_gets_KEY_DELETED),
        wdmsim_test(the_roots_of_the_hives_cannot_be_deleted),
        wdmsim_test(a_volatile_key_takes_only_volatile_subkeys),
        wdmsim_test(a_key_handle_used_after_close_is_INVALID_HANDLE_and_another_type_is_a_mismatch),
        wdmsim_test(an_application_gets_the_rights_it_asked_for_and_statuses_for_bad_arguments),
        wdmsim_test(the_host_sets_and_reads_values_by_path_making_the_keys_on_the_way),
        wdmsim_test(every_boot_starts_from_the_same_fresh_registry),
        wdmsim_test(ZwQueryValueKey_above_PASSIVE_LEVEL_stops_the_machine),
        wdmsim_test(a_NULL_ValueName_stops_with_the_access_violation_it_would_cause),
        wdmsim_test(a_name_of_odd_length_is_a_malformed_string_Driver_Verifier_stops_for),
        wdmsim_test(a_key_handle_left_open_at_unload_is_a_leak_naming_the_key),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
