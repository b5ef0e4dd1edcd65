/*
 * rtl_registry.c - the Rtl registry helpers drivers read and write their parameters with:
 * RtlQueryRegistryValues and its query table, RtlWriteRegistryValue, RtlDeleteRegistryValue,
 * RtlCheckRegistryKey and RtlCreateRegistryKey. Built on the Zw key calls, as NT's are: each
 * opens its key with a kernel handle, charged to the calling driver, and closes it before it
 * returns; the value buffer is paged pool, freed before it returns too.
 * No shared state, no locking.
 */
#include "internal.h"

#define RTL_REGISTRY_TAG 'vrqR'
#define RTL_REGISTRY_PATH_CHARS 1024
#define RTL_REGISTRY_FIRST_BUFFER 256

static const char *const rtl_registry_roots[RTL_REGISTRY_MAXIMUM] = {
    [RTL_REGISTRY_SERVICES] = "\\Registry\\Machine\\System\\CurrentControlSet\\Services",
    [RTL_REGISTRY_CONTROL] = "\\Registry\\Machine\\System\\CurrentControlSet\\Control",
    [RTL_REGISTRY_WINDOWS_NT] = "\\Registry\\Machine\\Software\\Microsoft\\Windows NT\\CurrentVersion",
    [RTL_REGISTRY_DEVICEMAP] = "\\Registry\\Machine\\Hardware\\DeviceMap",
    /* No user is logged on: a system thread's current user is .Default. */
    [RTL_REGISTRY_USER] = "\\Registry\\User\\.Default",
};

static size_t rtl_wide_count(PCWSTR s)
{
    size_t n = 0;

    while (s[n] != 0)
        n++;
    return n;
}

/* root (narrow) + "\" + path, or path alone for RTL_REGISTRY_ABSOLUTE; false when too long. */
static bool rtl_registry_path(ULONG relative, PCWSTR path, WCHAR *out, UNICODE_STRING *name)
{
    const char *root = rtl_registry_roots[relative];
    size_t n = 0, count;

    if (relative != RTL_REGISTRY_ABSOLUTE) {
        while (*root != 0 && n < RTL_REGISTRY_PATH_CHARS)
            out[n++] = (WCHAR)(unsigned char)*root++;
        if (path[0] == L'\\')
            path++;
        if (path[0] != 0 && n < RTL_REGISTRY_PATH_CHARS)
            out[n++] = L'\\';
    }
    count = rtl_wide_count(path);
    if (n + count >= RTL_REGISTRY_PATH_CHARS)
        return false;
    for (size_t i = 0; i < count; i++)
        out[n++] = path[i];
    out[n] = 0;
    name->Buffer = out;
    name->Length = (USHORT)(n * sizeof(WCHAR));
    name->MaximumLength = (USHORT)((n + 1) * sizeof(WCHAR));
    return true;
}

/* The key RelativeTo and Path name, opened (or made, for writing) with a kernel handle; with
 * RTL_REGISTRY_HANDLE, Path is the caller's handle, which stays the caller's (*owned false). */
static NTSTATUS rtl_registry_open(ULONG relative_to, PCWSTR path, bool create, PHANDLE key, bool *owned)
{
    ULONG relative = relative_to & ~(ULONG)RTL_REGISTRY_OPTIONAL;
    WCHAR buffer[RTL_REGISTRY_PATH_CHARS];
    UNICODE_STRING name;
    OBJECT_ATTRIBUTES attributes;

    *owned = false;
    if (relative & RTL_REGISTRY_HANDLE) {
        *key = (HANDLE)path;
        return STATUS_SUCCESS;
    }
    if (relative >= RTL_REGISTRY_MAXIMUM || path == NULL)
        return STATUS_INVALID_PARAMETER;
    if (!rtl_registry_path(relative, path, buffer, &name))
        return STATUS_BUFFER_TOO_SMALL;
    InitializeObjectAttributes(&attributes, &name, OBJ_CASE_INSENSITIVE | OBJ_KERNEL_HANDLE, NULL, NULL);
    *owned = true;
    if (create)
        return ZwCreateKey(key, KEY_WRITE, &attributes, 0, NULL, REG_OPTION_NON_VOLATILE, NULL);
    return ZwOpenKey(key, KEY_READ, &attributes);
}

static void rtl_registry_close(HANDLE key, bool owned)
{
    if (owned)
        ZwClose(key);
}

/* ---- RtlQueryRegistryValues ---- */

/* One query's state: the table entry at work, the key it reads, and the value buffer. */
struct rtl_query {
    PRTL_QUERY_REGISTRY_TABLE entry;
    PVOID context;
    PVOID environment;
    PVOID direct;                   /* where the next DIRECT result goes */
    PKEY_VALUE_FULL_INFORMATION info;
    ULONG info_size;
};

/* DIRECT: a string into the caller's UNICODE_STRING (its Buffer from paged pool when NULL, for the
 * caller to free with RtlFreeUnicodeString); data of up to a ULONG into EntryContext itself;
 * longer data into a buffer whose first LONG is its size - negative: the data alone, positive:
 * the data after its length and type. A buffer too small fails the query with
 * STATUS_BUFFER_TOO_SMALL. */
static NTSTATUS rtl_query_direct(ULONG type, const void *data, ULONG length, PVOID destination)
{
    if (type == REG_SZ || type == REG_EXPAND_SZ || type == REG_MULTI_SZ) {
        PUNICODE_STRING string = destination;
        USHORT bytes = (USHORT)(length < 0xFFFE ? length : 0xFFFE);

        if (string->Buffer == NULL) {
            string->Buffer = ExAllocatePoolWithTag(PagedPool, bytes ? bytes : sizeof(WCHAR), RTL_REGISTRY_TAG);
            if (string->Buffer == NULL)
                return STATUS_NO_MEMORY;
            string->MaximumLength = bytes;
        } else if (bytes > string->MaximumLength) {
            return STATUS_BUFFER_TOO_SMALL;
        }
        RtlCopyMemory(string->Buffer, data, bytes);
        string->Length = (USHORT)(bytes >= sizeof(WCHAR) ? bytes - sizeof(WCHAR) : 0);
        return STATUS_SUCCESS;
    }
    if (length <= sizeof(ULONG)) {
        RtlCopyMemory(destination, data, length);
        return STATUS_SUCCESS;
    }
    if (*(PLONG)destination < 0) {
        if ((ULONG)-*(PLONG)destination < length)
            return STATUS_BUFFER_TOO_SMALL;
        RtlCopyMemory(destination, data, length);
        return STATUS_SUCCESS;
    }
    if (*(PULONG)destination < 2 * sizeof(ULONG) + length)
        return STATUS_BUFFER_TOO_SMALL;
    ((PULONG)destination)[0] = length;
    ((PULONG)destination)[1] = type;
    RtlCopyMemory((PULONG)destination + 2, data, length);
    return STATUS_SUCCESS;
}

/* One value to the entry: DIRECT into EntryContext (successive UNICODE_STRINGs for the strings of
 * a REG_MULTI_SZ), or to its QueryRoutine, whose STATUS_BUFFER_TOO_SMALL counts as success. */
static NTSTATUS rtl_query_give(struct rtl_query *q, PWSTR name, ULONG type, PVOID data, ULONG length)
{
    PRTL_QUERY_REGISTRY_TABLE entry = q->entry;
    NTSTATUS status;

    if (entry->Flags & RTL_QUERY_REGISTRY_DIRECT) {
        status = rtl_query_direct(type, data, length, q->direct);
        q->direct = (PUCHAR)q->direct + sizeof(UNICODE_STRING);
        return status;
    }
    status = entry->QueryRoutine(name, type, data, length, q->context, entry->EntryContext);
    return status == STATUS_BUFFER_TOO_SMALL ? STATUS_SUCCESS : status;
}

/* The environment's value of the variable name (count chars), or NULL. An environment block is
 * NAME=value strings, each terminated, ending with an empty one. */
static PCWSTR rtl_query_variable(PCWSTR environment, PCWSTR name, size_t count)
{
    for (PCWSTR e = environment; e != NULL && *e != 0; e += rtl_wide_count(e) + 1) {
        UNICODE_STRING a = { (USHORT)(count * sizeof(WCHAR)), (USHORT)(count * sizeof(WCHAR)), (PWSTR)e };
        UNICODE_STRING b = { (USHORT)(count * sizeof(WCHAR)), (USHORT)(count * sizeof(WCHAR)), (PWSTR)name };

        if (rtl_wide_count(e) > count && e[count] == L'=' && RtlEqualUnicodeString(&a, &b, TRUE))
            return e + count + 1;
    }
    return NULL;
}

/* Writes s[0..n) to out (capacity chars) from *at on; false when it does not fit. */
static bool rtl_query_append(PWSTR out, size_t capacity, size_t *at, PCWSTR s, size_t n)
{
    if (*at + n >= capacity)
        return false;
    for (size_t i = 0; i < n; i++)
        out[(*at)++] = s[i];
    return true;
}

/* A REG_EXPAND_SZ with %NAME% replaced from the environment block (a kernel thread has none, so
 * with a NULL Environment the string stays as it is); unknown names stay too. Paged pool, or NULL. */
static PWSTR rtl_query_expand(PCWSTR source, size_t count, PCWSTR environment, ULONG *length)
{
    size_t capacity = count + 1, at = 0;
    PWSTR out = NULL;

    for (int pass = 0; pass < 8 && out == NULL; pass++, capacity *= 2) {
        bool fits = true;

        out = ExAllocatePoolWithTag(PagedPool, capacity * sizeof(WCHAR), RTL_REGISTRY_TAG);
        if (out == NULL)
            return NULL;
        at = 0;
        for (size_t i = 0; i < count && fits; i++) {
            size_t end = i + 1;
            PCWSTR value = NULL;

            while (source[i] == L'%' && end < count && source[end] != L'%')
                end++;
            if (source[i] == L'%' && end < count)
                value = rtl_query_variable(environment, source + i + 1, end - i - 1);
            if (value != NULL) {
                fits = rtl_query_append(out, capacity, &at, value, rtl_wide_count(value));
                i = end;
            } else {
                fits = rtl_query_append(out, capacity, &at, source + i, 1);
            }
        }
        if (!fits) {
            ExFreePoolWithTag(out, RTL_REGISTRY_TAG);
            out = NULL;
        }
    }
    if (out != NULL) {
        out[at] = 0;
        *length = (ULONG)((at + 1) * sizeof(WCHAR));
    }
    return out;
}

/* A value as the entry asked for it: unless NOEXPAND, each string of a REG_MULTI_SZ on its own
 * (as REG_SZ) and a REG_EXPAND_SZ with a % in it expanded (then REG_SZ). */
static NTSTATUS rtl_query_deliver(struct rtl_query *q, PWSTR name, ULONG type, PVOID data, ULONG length)
{
    PCWSTR chars = data;
    size_t count = length / sizeof(WCHAR);
    NTSTATUS status = STATUS_SUCCESS;

    if (q->entry->Flags & RTL_QUERY_REGISTRY_NOEXPAND)
        return rtl_query_give(q, name, type, data, length);
    if (type == REG_MULTI_SZ) {
        for (size_t i = 0; i < count && chars[i] != 0 && NT_SUCCESS(status);) {
            size_t end = i;

            while (end < count && chars[end] != 0)
                end++;
            status = rtl_query_give(q, name, REG_SZ, (PVOID)(chars + i),
                                    (ULONG)((end - i + (end < count)) * sizeof(WCHAR)));
            i = end + 1;
        }
        return status;
    }
    if (type == REG_EXPAND_SZ) {
        for (size_t i = 0; i < count; i++) {
            ULONG expanded_length;
            PWSTR expanded;

            if (chars[i] != L'%')
                continue;
            expanded = rtl_query_expand(chars, count && chars[count - 1] == 0 ? count - 1 : count,
                                        q->environment, &expanded_length);
            if (expanded == NULL)
                return STATUS_NO_MEMORY;
            status = rtl_query_give(q, name, REG_SZ, expanded, expanded_length);
            ExFreePoolWithTag(expanded, RTL_REGISTRY_TAG);
            return status;
        }
    }
    return rtl_query_give(q, name, type, data, length);
}

/* The entry's default, for a value that is missing (or empty of the default's type, or REG_NONE):
 * nothing when the entry is REQUIRED (STATUS_OBJECT_NAME_NOT_FOUND) or has no default type. A
 * DefaultLength of 0 is the length of a default string (REG_SZ, REG_EXPAND_SZ, REG_MULTI_SZ). */
static NTSTATUS rtl_query_default(struct rtl_query *q)
{
    PRTL_QUERY_REGISTRY_TABLE entry = q->entry;
    ULONG length = entry->DefaultLength;
    PCWSTR chars = entry->DefaultData;

    if (entry->Flags & RTL_QUERY_REGISTRY_REQUIRED)
        return STATUS_OBJECT_NAME_NOT_FOUND;
    if (entry->DefaultType == REG_NONE)
        return STATUS_SUCCESS;
    if (length == 0 && chars != NULL && (entry->DefaultType == REG_SZ || entry->DefaultType == REG_EXPAND_SZ))
        length = (ULONG)((rtl_wide_count(chars) + 1) * sizeof(WCHAR));
    if (length == 0 && chars != NULL && entry->DefaultType == REG_MULTI_SZ) {
        size_t n = 0;

        while (chars[n] != 0)
            n += rtl_wide_count(chars + n) + 1;
        length = (ULONG)((n + 1) * sizeof(WCHAR));
    }
    return rtl_query_deliver(q, entry->Name, entry->DefaultType, entry->DefaultData, length);
}

/* The value whose full information q->info holds. TYPECHECK compares the stored type with the
 * one in the top byte of Flags: STATUS_OBJECT_TYPE_MISMATCH when they differ. */
static NTSTATUS rtl_query_value(struct rtl_query *q, PWSTR name)
{
    PKEY_VALUE_FULL_INFORMATION info = q->info;
    ULONG flags = q->entry->Flags;
    ULONG expected = (flags & RTL_QUERY_REGISTRY_TYPECHECK_MASK) >> RTL_QUERY_REGISTRY_TYPECHECK_SHIFT;

    if (info->Type == REG_NONE || (info->DataLength == 0 && info->Type == q->entry->DefaultType))
        return rtl_query_default(q);
    if ((flags & RTL_QUERY_REGISTRY_TYPECHECK) && info->Type != expected)
        return STATUS_OBJECT_TYPE_MISMATCH;
    return rtl_query_deliver(q, name, info->Type, (PUCHAR)info + info->DataOffset, info->DataLength);
}

/* ZwQueryValueKey or ZwEnumerateValueKey into q->info, grown until the value fits. */
static NTSTATUS rtl_query_fetch(struct rtl_query *q, HANDLE key, PUNICODE_STRING name, ULONG index)
{
    for (;;) {
        ULONG needed = 0;
        NTSTATUS status = name != NULL
                              ? ZwQueryValueKey(key, name, KeyValueFullInformation, q->info, q->info_size, &needed)
                              : ZwEnumerateValueKey(key, index, KeyValueFullInformation, q->info, q->info_size,
                                                    &needed);

        if (status != STATUS_BUFFER_OVERFLOW && status != STATUS_BUFFER_TOO_SMALL)
            return status;
        ExFreePoolWithTag(q->info, RTL_REGISTRY_TAG);
        q->info_size = needed;
        q->info = ExAllocatePoolWithTag(PagedPool, needed, RTL_REGISTRY_TAG);
        if (q->info == NULL)
            return STATUS_NO_MEMORY;
    }
}

static NTSTATUS rtl_query_named(struct rtl_query *q, HANDLE key)
{
    UNICODE_STRING name;
    NTSTATUS status;

    RtlInitUnicodeString(&name, q->entry->Name);
    status = rtl_query_fetch(q, key, &name, 0);
    if (status == STATUS_OBJECT_NAME_NOT_FOUND)
        return rtl_query_default(q);
    if (NT_SUCCESS(status))
        status = rtl_query_value(q, q->entry->Name);
    if (NT_SUCCESS(status) && (q->entry->Flags & RTL_QUERY_REGISTRY_DELETE))
        ZwDeleteValueKey(key, &name);
    return status;
}

/* Name NULL: the routine gets every value of the key, with its name terminated. */
static NTSTATUS rtl_query_all(struct rtl_query *q, HANDLE key)
{
    ULONG index = 0;
    NTSTATUS status;

    while (NT_SUCCESS(status = rtl_query_fetch(q, key, NULL, index)) && status != STATUS_NO_MORE_ENTRIES) {
        UNICODE_STRING name = { (USHORT)q->info->NameLength, (USHORT)q->info->NameLength, q->info->Name };
        PWSTR copy = ExAllocatePoolWithTag(PagedPool, name.Length + sizeof(WCHAR), RTL_REGISTRY_TAG);

        if (copy == NULL)
            return STATUS_NO_MEMORY;
        RtlCopyMemory(copy, name.Buffer, name.Length);
        copy[name.Length / sizeof(WCHAR)] = 0;
        status = rtl_query_value(q, copy);
        if (NT_SUCCESS(status) && (q->entry->Flags & RTL_QUERY_REGISTRY_DELETE)) {
            name.Buffer = copy;
            if (NT_SUCCESS(ZwDeleteValueKey(key, &name)))
                index--;
        }
        ExFreePoolWithTag(copy, RTL_REGISTRY_TAG);
        if (!NT_SUCCESS(status))
            return status;
        index++;
    }
    if (status == STATUS_NO_MORE_ENTRIES)
        return index == 0 && (q->entry->Flags & RTL_QUERY_REGISTRY_REQUIRED) ? STATUS_OBJECT_NAME_NOT_FOUND
                                                                             : STATUS_SUCCESS;
    return status;
}

/* SUBKEY: the entries after this one read Name, a subkey of the top key, until TOPKEY or the next
 * SUBKEY; *current is that subkey's handle (or top). */
static NTSTATUS rtl_query_subkey(struct rtl_query *q, HANDLE top, PHANDLE current)
{
    UNICODE_STRING name;
    OBJECT_ATTRIBUTES attributes;

    if (q->entry->Name == NULL)
        return STATUS_INVALID_PARAMETER;
    RtlInitUnicodeString(&name, q->entry->Name);
    InitializeObjectAttributes(&attributes, &name, OBJ_CASE_INSENSITIVE | OBJ_KERNEL_HANDLE, top, NULL);
    return ZwOpenKey(current, KEY_READ, &attributes);
}

static NTSTATUS rtl_query_entry(struct rtl_query *q, HANDLE top, PHANDLE current)
{
    PRTL_QUERY_REGISTRY_TABLE entry = q->entry;
    NTSTATUS status;

    if ((entry->Flags & RTL_QUERY_REGISTRY_DIRECT) &&
        ((entry->Flags & RTL_QUERY_REGISTRY_SUBKEY) || entry->Name == NULL || entry->QueryRoutine != NULL))
        return STATUS_INVALID_PARAMETER;
    if ((entry->Flags & (RTL_QUERY_REGISTRY_TOPKEY | RTL_QUERY_REGISTRY_SUBKEY)) && *current != top) {
        ZwClose(*current);
        *current = top;
    }
    q->direct = entry->EntryContext;
    if (entry->Flags & RTL_QUERY_REGISTRY_SUBKEY) {
        status = rtl_query_subkey(q, top, current);
        if (!NT_SUCCESS(status) || entry->QueryRoutine == NULL)
            return status;
    } else if (entry->Name != NULL) {
        return rtl_query_named(q, *current);
    } else if (entry->Flags & RTL_QUERY_REGISTRY_NOVALUE) {
        return entry->QueryRoutine(NULL, REG_NONE, NULL, 0, q->context, entry->EntryContext);
    }
    return rtl_query_all(q, *current);
}

/* The table ends at an entry with no QueryRoutine that is neither SUBKEY nor DIRECT. */
static bool rtl_query_table_ended(const RTL_QUERY_REGISTRY_TABLE *entry)
{
    return entry->QueryRoutine == NULL && !(entry->Flags & (RTL_QUERY_REGISTRY_SUBKEY | RTL_QUERY_REGISTRY_DIRECT));
}

/* PASSIVE_LEVEL; may wait. Runs the query table against the key RelativeTo and Path name (see
 * rtl_registry_open), entry by entry, and stops at the first failure. RTL_REGISTRY_OPTIONAL is
 * accepted and changes nothing, as in NT's own implementation. */
NTSTATUS NTAPI RtlQueryRegistryValues(ULONG RelativeTo, PCWSTR Path, PRTL_QUERY_REGISTRY_TABLE QueryTable,
                                      PVOID Context, PVOID Environment)
{
    struct rtl_query q = { NULL, Context, Environment, NULL, NULL, RTL_REGISTRY_FIRST_BUFFER };
    HANDLE top, current;
    bool owned;
    NTSTATUS status;

    rule_check_irql(RULE_ZW_REGISTRY_NOT_PASSIVE, irql_current(), (ULONG_PTR)RelativeTo, (ULONG_PTR)Path, 0);
    status = rtl_registry_open(RelativeTo, Path, false, &top, &owned);
    if (!NT_SUCCESS(status))
        return status;
    q.info = ExAllocatePoolWithTag(PagedPool, q.info_size, RTL_REGISTRY_TAG);
    if (q.info == NULL) {
        rtl_registry_close(top, owned);
        return STATUS_NO_MEMORY;
    }
    current = top;
    for (q.entry = QueryTable; NT_SUCCESS(status) && !rtl_query_table_ended(q.entry); q.entry++)
        status = rtl_query_entry(&q, top, &current);
    if (current != top)
        ZwClose(current);
    rtl_registry_close(top, owned);
    if (q.info != NULL)
        ExFreePoolWithTag(q.info, RTL_REGISTRY_TAG);
    return status;
}

/* ---- The single-value helpers ---- */

/* PASSIVE_LEVEL. Sets a value, making the key if it is missing (its parent must exist). */
NTSTATUS NTAPI RtlWriteRegistryValue(ULONG RelativeTo, PCWSTR Path, PCWSTR ValueName, ULONG ValueType,
                                     PVOID ValueData, ULONG ValueLength)
{
    UNICODE_STRING name;
    HANDLE key;
    bool owned;
    NTSTATUS status;

    rule_check_irql(RULE_ZW_REGISTRY_NOT_PASSIVE, irql_current(), (ULONG_PTR)RelativeTo, (ULONG_PTR)Path, 0);
    status = rtl_registry_open(RelativeTo, Path, true, &key, &owned);
    if (!NT_SUCCESS(status))
        return status;
    RtlInitUnicodeString(&name, ValueName);
    status = ZwSetValueKey(key, &name, 0, ValueType, ValueData, ValueLength);
    rtl_registry_close(key, owned);
    return status;
}

/* PASSIVE_LEVEL. Deletes a value (the key is made first if it is missing, as NT does). */
NTSTATUS NTAPI RtlDeleteRegistryValue(ULONG RelativeTo, PCWSTR Path, PCWSTR ValueName)
{
    UNICODE_STRING name;
    HANDLE key;
    bool owned;
    NTSTATUS status;

    rule_check_irql(RULE_ZW_REGISTRY_NOT_PASSIVE, irql_current(), (ULONG_PTR)RelativeTo, (ULONG_PTR)Path, 0);
    status = rtl_registry_open(RelativeTo, Path, true, &key, &owned);
    if (!NT_SUCCESS(status))
        return status;
    RtlInitUnicodeString(&name, ValueName);
    status = ZwDeleteValueKey(key, &name);
    rtl_registry_close(key, owned);
    return status;
}

/* PASSIVE_LEVEL. STATUS_SUCCESS when the key exists. With RTL_REGISTRY_HANDLE the handle is
 * closed, as NT closes it. */
NTSTATUS NTAPI RtlCheckRegistryKey(ULONG RelativeTo, PWSTR Path)
{
    HANDLE key;
    bool owned;
    NTSTATUS status;

    rule_check_irql(RULE_ZW_REGISTRY_NOT_PASSIVE, irql_current(), (ULONG_PTR)RelativeTo, (ULONG_PTR)Path, 0);
    status = rtl_registry_open(RelativeTo, Path, false, &key, &owned);
    if (NT_SUCCESS(status))
        ZwClose(key);
    return NT_SUCCESS(status) ? STATUS_SUCCESS : status;
}

/* PASSIVE_LEVEL. Makes the key (its parent must exist); an existing key is success. */
NTSTATUS NTAPI RtlCreateRegistryKey(ULONG RelativeTo, PWSTR Path)
{
    HANDLE key;
    bool owned;
    NTSTATUS status;

    rule_check_irql(RULE_ZW_REGISTRY_NOT_PASSIVE, irql_current(), (ULONG_PTR)RelativeTo, (ULONG_PTR)Path, 0);
    status = rtl_registry_open(RelativeTo, Path, true, &key, &owned);
    if (NT_SUCCESS(status))
        rtl_registry_close(key, owned);
    return NT_SUCCESS(status) ? STATUS_SUCCESS : status;
}
