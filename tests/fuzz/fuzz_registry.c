/*
 * fuzz_registry.c - the registry calls an application controls: ZwCreateKey and ZwOpenKey with
 * names built from a few components (absolute under \Registry\Machine\Software\Fuzz, or relative
 * to an open key), cut or lengthened to any Length and MaximumLength over a buffer of exactly
 * MaximumLength bytes, NULL names, any options and access; ZwSetValueKey of any type and data;
 * ZwQueryValueKey, ZwEnumerateValueKey, ZwQueryKey and ZwEnumerateKey with any class (valid or
 * not), index and buffer length, over a buffer of exactly that length; ZwDeleteValueKey,
 * ZwDeleteKey, ZwFlushKey and ZwClose. Each input runs on the thread of one application process;
 * one kernel serves the whole fuzzing process, and the keys stay from one input to the next.
 *
 * Everything here is legal for an application (its bad strings and NULL pointers get statuses),
 * so a STOP, a crash or a sanitizer report is a finding. Besides, each query's result must keep
 * to Windows' contract: STATUS_SUCCESS means *ResultLength bytes fit in Length, while
 * STATUS_BUFFER_OVERFLOW and STATUS_BUFFER_TOO_SMALL mean they did not; a handle comes back
 * exactly when an open succeeds.
 */
#include <stdbool.h>
#include <stdlib.h>

#include <ntifs.h>
#include <wdmsim/wdmsim.h>

#include "fuzz_app.h"
#include "fuzz_check.h"
#include "fuzz_input.h"

#define REG_MAX_OPS 48
#define REG_HANDLES 4
#define REG_MAX_NAME 96
#define REG_MAX_BUFFER 320

struct reg_case {
    struct fuzz_input in;
    HANDLE handles[REG_HANDLES];
};

static bool started;

static const char *const reg_components[] = {
    "A", "b", "Key", "KEY", "key\\Sub", "", "\\", "Sub\\", "..", "a\\b\\c", "Parameters", "\\Registry",
};

static void reg_fuzz_start(void)
{
    struct wdmsim_config config = { .clock = WDMSIM_CLOCK_VIRTUAL, .time_zone_bias_set = 1 };

    wdmsim_boot(&config);
    if (!NT_SUCCESS(wdmsim_registry_create_key("\\Registry\\Machine\\Software\\Fuzz")))
        abort();
    fuzz_app_start("regfuzz.exe");
    started = true;
}

/* Appends a narrow text as WCHARs; false when the name is full. */
static bool reg_append(WCHAR *name, size_t *n, const char *text)
{
    for (; *text != 0; text++) {
        if (*n >= REG_MAX_NAME)
            return false;
        name[(*n)++] = (WCHAR)(unsigned char)*text;
    }
    return true;
}

/* A name of up to three components, absolute (under Fuzz) or relative; then a Length and a
 * MaximumLength of its own (any, often the right ones) over a buffer of MaximumLength bytes. */
static PUNICODE_STRING reg_name(struct reg_case *c, bool absolute, UNICODE_STRING *string)
{
    WCHAR text[REG_MAX_NAME];
    size_t n = 0;
    uint8_t shape = fuzz_u8(&c->in);

    if (shape % 16 == 0)
        return NULL;
    if (absolute)
        reg_append(text, &n, "\\Registry\\Machine\\Software\\Fuzz\\");
    for (uint8_t parts = (uint8_t)(1 + fuzz_below(&c->in, 3)); parts > 0; parts--) {
        reg_append(text, &n, reg_components[fuzz_below(&c->in, sizeof reg_components / sizeof reg_components[0])]);
        if (parts > 1)
            reg_append(text, &n, "\\");
    }
    string->MaximumLength = (USHORT)(n * sizeof(WCHAR));
    string->Length = string->MaximumLength;
    if (shape % 4 == 1)
        string->Length = (USHORT)fuzz_below(&c->in, REG_MAX_NAME * sizeof(WCHAR) + 8);
    if (shape % 4 == 2)
        string->MaximumLength = (USHORT)fuzz_below(&c->in, REG_MAX_NAME * sizeof(WCHAR) + 8);
    string->Buffer = string->MaximumLength ? malloc(string->MaximumLength) : NULL;
    if (string->Buffer != NULL)
        memcpy(string->Buffer, text, string->MaximumLength < n * sizeof(WCHAR) ? string->MaximumLength
                                                                                : n * sizeof(WCHAR));
    if (string->Buffer != NULL && string->MaximumLength > n * sizeof(WCHAR))
        memset((uint8_t *)string->Buffer + n * sizeof(WCHAR), 'x', string->MaximumLength - n * sizeof(WCHAR));
    return string;
}

static HANDLE reg_handle(struct reg_case *c)
{
    uint8_t which = fuzz_u8(&c->in);

    return which % 8 == 7 ? (HANDLE)(uintptr_t)fuzz_u16(&c->in) : c->handles[which % REG_HANDLES];
}

static void reg_open(struct reg_case *c, bool create)
{
    int slot = (int)fuzz_below(&c->in, REG_HANDLES);
    HANDLE root = fuzz_u8(&c->in) % 3 == 0 ? c->handles[(slot + 1) % REG_HANDLES] : NULL;
    UNICODE_STRING string = { 0, 0, NULL };
    OBJECT_ATTRIBUTES attributes;
    ACCESS_MASK access = fuzz_u8(&c->in) % 2 ? KEY_ALL_ACCESS : fuzz_u32(&c->in);
    ULONG options = fuzz_u8(&c->in) % 4 ? fuzz_below(&c->in, 2) : fuzz_u32(&c->in);
    ULONG disposition = 0;
    HANDLE handle = (HANDLE)(uintptr_t)1;
    NTSTATUS status;

    InitializeObjectAttributes(&attributes, reg_name(c, root == NULL, &string), OBJ_CASE_INSENSITIVE, root, NULL);
    if (c->handles[slot] != NULL)
        ZwClose(c->handles[slot]);
    c->handles[slot] = NULL;
    status = create ? ZwCreateKey(&handle, access, &attributes, 0, NULL, options, &disposition)
                    : ZwOpenKey(&handle, access, &attributes);
    FUZZ_CHECK(NT_SUCCESS(status) == (handle != NULL), "status 0x%08X with handle %p", (unsigned)status, handle);
    FUZZ_CHECK(!create || !NT_SUCCESS(status) || disposition == REG_CREATED_NEW_KEY ||
                   disposition == REG_OPENED_EXISTING_KEY,
               "disposition %u", (unsigned)disposition);
    c->handles[slot] = NT_SUCCESS(status) ? handle : NULL;
    free(string.Buffer);
}

/* A value name: the usual few (a string of its own, *made false), or any string from reg_name
 * (*made true: its buffer is the caller's to free). */
static PUNICODE_STRING reg_value_name(struct reg_case *c, UNICODE_STRING *string, bool *made)
{
    static const WCHAR names[][8] = { L"", L"Level", L"level", L"Name", L"Data" };
    uint8_t which = fuzz_u8(&c->in);

    *made = which % 8 == 7;
    if (*made)
        return reg_name(c, false, string);
    RtlInitUnicodeString(string, names[which % 5]);
    return string;
}

/* The contract of every query: what came back fits exactly when it says so. */
static void reg_check_result(NTSTATUS status, ULONG length, ULONG result)
{
    if (status == STATUS_SUCCESS)
        FUZZ_CHECK(result <= length, "success with %u bytes in a buffer of %u", (unsigned)result, (unsigned)length);
    if (status == STATUS_BUFFER_OVERFLOW || status == STATUS_BUFFER_TOO_SMALL)
        FUZZ_CHECK(result > length, "0x%08X with %u bytes for a buffer of %u", (unsigned)status, (unsigned)result,
                   (unsigned)length);
}

static void reg_set(struct reg_case *c)
{
    UNICODE_STRING string = { 0, 0, NULL };
    bool made;
    PUNICODE_STRING name = reg_value_name(c, &string, &made);
    ULONG type = fuzz_u8(&c->in) % 8 ? fuzz_below(&c->in, 12) : fuzz_u32(&c->in);
    ULONG size = fuzz_below(&c->in, REG_MAX_BUFFER);
    uint8_t *data = size ? malloc(size) : NULL;

    if (data != NULL) {
        memset(data, 0, size);
        fuzz_bytes(&c->in, data, size);
    }
    ZwSetValueKey(reg_handle(c), name, 0, type, data, size);
    free(data);
    if (made)
        free(string.Buffer);
}

/* One of the four queries, with any class and a buffer of exactly Length bytes (none for 0). */
static void reg_query(struct reg_case *c)
{
    uint8_t which = fuzz_u8(&c->in);
    ULONG class = fuzz_u8(&c->in) % 8 ? fuzz_below(&c->in, 12) : fuzz_u32(&c->in);
    ULONG length = fuzz_below(&c->in, REG_MAX_BUFFER);
    ULONG index = fuzz_below(&c->in, 8);
    uint8_t *buffer = length ? malloc(length) : NULL;
    UNICODE_STRING string = { 0, 0, NULL };
    bool made = false;
    HANDLE key = reg_handle(c);
    ULONG result = 0;
    NTSTATUS status;

    switch (which % 4) {
    case 0:
        status = ZwQueryValueKey(key, reg_value_name(c, &string, &made), (KEY_VALUE_INFORMATION_CLASS)class, buffer,
                                 length, &result);
        break;
    case 1:
        status = ZwEnumerateValueKey(key, index, (KEY_VALUE_INFORMATION_CLASS)class, buffer, length, &result);
        break;
    case 2:
        status = ZwQueryKey(key, (KEY_INFORMATION_CLASS)class, buffer, length, &result);
        break;
    default:
        status = ZwEnumerateKey(key, index, (KEY_INFORMATION_CLASS)class, buffer, length, &result);
        break;
    }
    reg_check_result(status, length, result);
    free(buffer);
    if (made)
        free(string.Buffer);
}

static void reg_delete(struct reg_case *c)
{
    UNICODE_STRING string = { 0, 0, NULL };
    bool made;

    switch (fuzz_u8(&c->in) % 3) {
    case 0:
        ZwDeleteKey(reg_handle(c));
        break;
    case 1:
        ZwDeleteValueKey(reg_handle(c), reg_value_name(c, &string, &made));
        if (made)
            free(string.Buffer);
        break;
    default:
        ZwFlushKey(reg_handle(c));
        break;
    }
}

static void reg_run(void *context)
{
    struct reg_case *c = context;

    for (int op = 0; op < REG_MAX_OPS && fuzz_left(&c->in) > 0; op++) {
        switch (fuzz_u8(&c->in) % 6) {
        case 0:
            reg_open(c, true);
            break;
        case 1:
            reg_open(c, false);
            break;
        case 2:
            reg_set(c);
            break;
        case 3:
        case 4:
            reg_query(c);
            break;
        default:
            reg_delete(c);
            break;
        }
    }
    for (int i = 0; i < REG_HANDLES; i++) {
        if (c->handles[i] != NULL)
            FUZZ_CHECK(ZwClose(c->handles[i]) == STATUS_SUCCESS, "closing an open key handle failed");
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct reg_case c = { .in = { data, size, 0 } };

    if (!started)
        reg_fuzz_start();
    fuzz_app_run(reg_run, &c);
    return 0;
}
