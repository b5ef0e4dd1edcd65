/*
 * registry.c - the configuration manager: an in-memory registry under \REGISTRY whose keys are
 * opened as objects of type Key - one object per open, as NT's key objects - through the handle
 * tables like every other object. A key holds values, in the order they were first set, and
 * subkeys, sorted by upcased name (the order ZwEnumerateKey gives, as a hive's index does); names
 * compare case-insensitively and keep the case they were created with. A deleted key leaves the
 * tree at once; the opens that still name it get STATUS_KEY_DELETED. The machine's keys
 * (Services, Control, Enum, ...) exist from boot, and every boot starts from them afresh, as a
 * machine restored from one image; CurrentControlSet is a key of its own, not a link.
 * Locking: registry_lock guards the tree, every key and value, and the list of opens. It is a
 * leaf: nothing else is called while it is held, so the DDIs check their handles before taking
 * it and copy names in and results out under it. Helpers that need it assert it (reg_assert_held).
 */
#include <stdio.h>
#include <string.h>

#include "internal.h"

/* The limits NT puts on names: 255 characters per key name, 16383 per value name. */
#define REG_MAX_KEY_NAME_CHARS 255
#define REG_MAX_VALUE_NAME_CHARS 16383
/* A narrow path the host or the I/O manager names a key by ("\Registry\Machine\..."). */
#define REG_MAX_PATH_CHARS 1024
#define REG_NO_CLASS 0xFFFFFFFFu

struct reg_name {
    WCHAR *chars;
    USHORT length;                  /* bytes, as a UNICODE_STRING's */
};

struct reg_value {
    struct reg_name name;
    ULONG type;
    UCHAR *data;
    ULONG length;
    struct reg_value *next;         /* the next one set first */
};

struct reg_key {
    struct reg_name name;           /* its own name, in the case it was created with */
    struct reg_name class_name;     /* ZwCreateKey's Class; length 0 for none */
    struct reg_key *parent;         /* kept while this key is (one of its refs) */
    struct reg_key **children;      /* sorted by upcased name */
    ULONG child_count;
    ULONG child_capacity;
    struct reg_value *values;
    ULONG value_count;
    bool is_volatile;
    bool hive_root;                 /* \REGISTRY, MACHINE, SYSTEM ...: never deleted */
    bool deleted;
    LONGLONG last_write;            /* system time */
    unsigned refs;                  /* one while in the tree, one per open, one per child not freed */
};

/* The body of a Key object: what one open names. */
struct reg_open {
    struct reg_key *key;
    LIST_ENTRY link;                /* on reg_opens */
};

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct reg_key *reg_root;    /* \REGISTRY */
static LIST_ENTRY reg_opens;

static __thread bool reg_lock_mine;   /* this thread holds registry_lock */

static void reg_lock(void)
{
    host_lock(&registry_lock);
    reg_lock_mine = true;
}

static void reg_unlock(void)
{
    reg_lock_mine = false;
    host_unlock(&registry_lock);
}

static void reg_assert_held(void)
{
    if (!reg_lock_mine)
        abort();
}

/* ---- Names ---- */

/* Upcased, character by character: the order of subkeys and the equality of every name. */
static int reg_compare(const WCHAR *a, USHORT a_length, const WCHAR *b, USHORT b_length)
{
    size_t a_count = a_length / sizeof(WCHAR), b_count = b_length / sizeof(WCHAR);

    for (size_t i = 0; i < a_count && i < b_count; i++) {
        WCHAR x = rtl_upcase(a[i]), y = rtl_upcase(b[i]);

        if (x != y)
            return x < y ? -1 : 1;
    }
    return a_count == b_count ? 0 : a_count < b_count ? -1 : 1;
}

static bool reg_name_copy(struct reg_name *to, const WCHAR *chars, USHORT length)
{
    to->chars = malloc(length + sizeof(WCHAR));
    if (to->chars == NULL)
        return false;
    if (length != 0)
        memcpy(to->chars, chars, length);
    to->chars[length / sizeof(WCHAR)] = 0;
    to->length = length;
    return true;
}

/* A narrow name (ASCII or Latin-1) as WCHARs, for the host's calls; false when it is too long. */
static bool reg_widen(const char *narrow, WCHAR *wide, size_t capacity, USHORT *length)
{
    size_t n = 0;

    for (; narrow[n] != 0; n++) {
        if (n + 1 >= capacity)
            return false;
        wide[n] = (WCHAR)(unsigned char)narrow[n];
    }
    wide[n] = 0;
    *length = (USHORT)(n * sizeof(WCHAR));
    return true;
}

/* The next component of a path from *pos on (past one backslash); false at the end. An empty
 * component (two backslashes, a trailing one) has length 0. */
static bool reg_component(const WCHAR *path, size_t count, size_t *pos, const WCHAR **chars, USHORT *length)
{
    size_t start, end;

    if (*pos >= count)
        return false;
    start = path[*pos] == L'\\' ? *pos + 1 : *pos;
    for (end = start; end < count && path[end] != L'\\'; end++)
        ;
    *chars = path + start;
    *length = (USHORT)((end - start) * sizeof(WCHAR));
    *pos = end;
    return true;
}

/* ---- Keys ---- */

/* Lock held: the subkey called name, or where it would go (*slot). */
static struct reg_key *reg_child(const struct reg_key *key, const WCHAR *chars, USHORT length, ULONG *slot)
{
    ULONG low = 0, high = key->child_count;

    reg_assert_held();
    while (low < high) {
        ULONG mid = low + (high - low) / 2;
        const struct reg_name *name = &key->children[mid]->name;
        int order = reg_compare(chars, length, name->chars, name->length);

        if (order == 0) {
            if (slot != NULL)
                *slot = mid;
            return key->children[mid];
        }
        if (order < 0)
            high = mid;
        else
            low = mid + 1;
    }
    if (slot != NULL)
        *slot = low;
    return NULL;
}

static void reg_value_free(struct reg_value *value)
{
    free(value->name.chars);
    free(value->data);
    free(value);
}

static void reg_key_free(struct reg_key *key)
{
    for (struct reg_value *v = key->values, *next; v != NULL; v = next) {
        next = v->next;
        reg_value_free(v);
    }
    free(key->children);
    free(key->name.chars);
    free(key->class_name.chars);
    free(key);
}

/* Lock held: one reference less; a key nothing holds any more is freed, and lets go of its parent. */
static void reg_key_release(struct reg_key *key)
{
    reg_assert_held();
    while (key != NULL && --key->refs == 0) {
        struct reg_key *parent = key->parent;

        reg_key_free(key);
        key = parent;
    }
}

/* Lock held: a new subkey of parent at slot; NULL when memory ran out. */
static struct reg_key *reg_key_insert(struct reg_key *parent, ULONG slot, const WCHAR *chars, USHORT length,
                                      bool is_volatile)
{
    struct reg_key *key = calloc(1, sizeof *key);

    reg_assert_held();
    if (key == NULL || !reg_name_copy(&key->name, chars, length)) {
        free(key);
        return NULL;
    }
    if (parent->child_count == parent->child_capacity) {
        ULONG capacity = parent->child_capacity ? parent->child_capacity * 2 : 4;
        struct reg_key **grown = realloc(parent->children, capacity * sizeof *grown);

        if (grown == NULL) {
            reg_key_free(key);
            return NULL;
        }
        parent->children = grown;
        parent->child_capacity = capacity;
    }
    memmove(parent->children + slot + 1, parent->children + slot,
            (parent->child_count - slot) * sizeof *parent->children);
    parent->children[slot] = key;
    parent->child_count++;
    parent->refs++;
    parent->last_write = clock_system_time();
    key->parent = parent;
    key->is_volatile = is_volatile;
    key->last_write = parent->last_write;
    key->refs = 1;
    return key;
}

/* Lock held: takes a key without subkeys out of the tree. */
static void reg_key_unlink(struct reg_key *key)
{
    struct reg_key *parent = key->parent;
    ULONG slot;

    reg_assert_held();
    reg_child(parent, key->name.chars, key->name.length, &slot);
    memmove(parent->children + slot, parent->children + slot + 1,
            (parent->child_count - slot - 1) * sizeof *parent->children);
    parent->child_count--;
    parent->last_write = clock_system_time();
    key->deleted = true;
    reg_key_release(key);
}

/* Lock held: the path of key from \REGISTRY on, as WCHARs (no terminator); its length in bytes,
 * which may exceed capacity (then only what fits is written). */
static size_t reg_key_path(const struct reg_key *key, WCHAR *out, size_t capacity)
{
    size_t total = 0, at;

    reg_assert_held();
    for (const struct reg_key *k = key; k != NULL; k = k->parent)
        total += sizeof(WCHAR) + k->name.length;
    at = total / sizeof(WCHAR);
    for (const struct reg_key *k = key; k != NULL; k = k->parent) {
        size_t count = k->name.length / sizeof(WCHAR);

        at -= count + 1;
        for (size_t i = 0; i <= count; i++) {
            if (at + i < capacity)
                out[at + i] = i == 0 ? L'\\' : k->name.chars[i - 1];
        }
    }
    return total;
}

/* ---- Values ---- */

/* Lock held: the value called name, and the link that points at it. */
static struct reg_value *reg_value_find(struct reg_key *key, const WCHAR *chars, USHORT length,
                                        struct reg_value ***link)
{
    struct reg_value **at = &key->values;

    reg_assert_held();
    for (; *at != NULL; at = &(*at)->next) {
        if (reg_compare(chars, length, (*at)->name.chars, (*at)->name.length) == 0)
            break;
    }
    if (link != NULL)
        *link = at;
    return *at;
}

/* Lock held: sets a value, in place when it exists (it keeps its position). */
static NTSTATUS reg_value_set(struct reg_key *key, const WCHAR *chars, USHORT length, ULONG type,
                              const void *data, ULONG size)
{
    struct reg_value **link;
    struct reg_value *value = reg_value_find(key, chars, length, &link);
    UCHAR *copy = malloc(size ? size : 1);

    reg_assert_held();
    if (copy == NULL)
        return STATUS_INSUFFICIENT_RESOURCES;
    if (size != 0)
        memcpy(copy, data, size);
    if (value == NULL) {
        value = calloc(1, sizeof *value);
        if (value == NULL || !reg_name_copy(&value->name, chars, length)) {
            free(value);
            free(copy);
            return STATUS_INSUFFICIENT_RESOURCES;
        }
        *link = value;
        key->value_count++;
    }
    free(value->data);
    value->type = type;
    value->data = copy;
    value->length = size;
    key->last_write = clock_system_time();
    return STATUS_SUCCESS;
}

/* ---- The information classes ---- */

/* What a query writes: every put stays inside the caller's Length; overflow says one did not fit. */
struct reg_out {
    UCHAR *buffer;
    ULONG length;
    bool overflow;
};

static void reg_put(struct reg_out *out, ULONG offset, const void *data, size_t size)
{
    size_t room = offset < out->length ? out->length - offset : 0;

    if (size > room)
        out->overflow = true;
    if (room != 0 && size != 0)
        memcpy(out->buffer + offset, data, size < room ? size : room);
}

static void reg_put_ulong(struct reg_out *out, ULONG offset, ULONG value)
{
    reg_put(out, offset, &value, sizeof value);
}

static ULONG reg_align(ULONG offset, ULONG alignment)
{
    return (offset + alignment - 1) & ~(alignment - 1);
}

/* As Windows documents it: below the class's fixed part nothing is written and the status is
 * STATUS_BUFFER_TOO_SMALL; from there on the fixed part and as much of the rest as fits are
 * written and the status is STATUS_BUFFER_OVERFLOW until everything fits. *result is the length
 * everything needs, either way. */
static NTSTATUS reg_out_status(const struct reg_out *out, ULONG minimum, ULONG needed, PULONG result)
{
    *result = needed;
    if (out->length < minimum)
        return STATUS_BUFFER_TOO_SMALL;
    /* A Full value of no data still needs its ULONG-aligned data offset: padding counts too. */
    return out->overflow || needed > out->length ? STATUS_BUFFER_OVERFLOW : STATUS_SUCCESS;
}

/* Lock held. */
static NTSTATUS reg_value_information(const struct reg_value *v, KEY_VALUE_INFORMATION_CLASS class,
                                      struct reg_out *out, PULONG result)
{
    ULONG minimum, data_at;

    reg_assert_held();
    switch (class) {
    case KeyValueBasicInformation:
        minimum = FIELD_OFFSET(KEY_VALUE_BASIC_INFORMATION, Name);
        if (out->length >= minimum) {
            KEY_VALUE_BASIC_INFORMATION head = { 0, v->type, v->name.length, { 0 } };

            reg_put(out, 0, &head, minimum);
            reg_put(out, minimum, v->name.chars, v->name.length);
        }
        return reg_out_status(out, minimum, minimum + v->name.length, result);
    case KeyValueFullInformation:
    case KeyValueFullInformationAlign64:
        minimum = FIELD_OFFSET(KEY_VALUE_FULL_INFORMATION, Name);
        data_at = reg_align(minimum + v->name.length, class == KeyValueFullInformation ? sizeof(ULONG) : 8);
        if (out->length >= minimum) {
            KEY_VALUE_FULL_INFORMATION head = { 0, v->type, data_at, v->length, v->name.length, { 0 } };

            reg_put(out, 0, &head, minimum);
            reg_put(out, minimum, v->name.chars, v->name.length);
            reg_put(out, data_at, v->data, v->length);
        }
        return reg_out_status(out, minimum, data_at + v->length, result);
    case KeyValuePartialInformation:
        minimum = FIELD_OFFSET(KEY_VALUE_PARTIAL_INFORMATION, Data);
        if (out->length >= minimum) {
            KEY_VALUE_PARTIAL_INFORMATION head = { 0, v->type, v->length, { 0 } };

            reg_put(out, 0, &head, minimum);
            reg_put(out, minimum, v->data, v->length);
        }
        return reg_out_status(out, minimum, minimum + v->length, result);
    case KeyValuePartialInformationAlign64:
        minimum = FIELD_OFFSET(KEY_VALUE_PARTIAL_INFORMATION_ALIGN64, Data);
        if (out->length >= minimum) {
            reg_put_ulong(out, 0, v->type);
            reg_put_ulong(out, sizeof(ULONG), v->length);
            reg_put(out, minimum, v->data, v->length);
        }
        return reg_out_status(out, minimum, minimum + v->length, result);
    default:
        return STATUS_INVALID_PARAMETER;
    }
}

/* Lock held: the longest subkey name and class, value name and data. */
struct reg_maxima {
    ULONG name, class_name, value_name, value_data;
};

static struct reg_maxima reg_key_maxima(const struct reg_key *key)
{
    struct reg_maxima m = { 0, 0, 0, 0 };

    reg_assert_held();
    for (ULONG i = 0; i < key->child_count; i++) {
        const struct reg_key *child = key->children[i];

        m.name = child->name.length > m.name ? child->name.length : m.name;
        m.class_name = child->class_name.length > m.class_name ? child->class_name.length : m.class_name;
    }
    for (const struct reg_value *v = key->values; v != NULL; v = v->next) {
        m.value_name = v->name.length > m.value_name ? v->name.length : m.value_name;
        m.value_data = v->length > m.value_data ? v->length : m.value_data;
    }
    return m;
}

static NTSTATUS reg_key_basic(const struct reg_key *key, struct reg_out *out, PULONG result)
{
    ULONG minimum = FIELD_OFFSET(KEY_BASIC_INFORMATION, Name);

    if (out->length >= minimum) {
        KEY_BASIC_INFORMATION head = { { .QuadPart = key->last_write }, 0, key->name.length, { 0 } };

        reg_put(out, 0, &head, minimum);
        reg_put(out, minimum, key->name.chars, key->name.length);
    }
    return reg_out_status(out, minimum, minimum + key->name.length, result);
}

/* The class follows the name, ULONG-aligned; ClassOffset is all ones for a key without one. */
static NTSTATUS reg_key_node(const struct reg_key *key, struct reg_out *out, PULONG result)
{
    ULONG minimum = FIELD_OFFSET(KEY_NODE_INFORMATION, Name);
    ULONG class_at = reg_align(minimum + key->name.length, sizeof(ULONG));
    ULONG needed = key->class_name.length ? class_at + key->class_name.length : minimum + key->name.length;

    if (out->length >= minimum) {
        KEY_NODE_INFORMATION head = { { .QuadPart = key->last_write },
                                      0,
                                      key->class_name.length ? class_at : REG_NO_CLASS,
                                      key->class_name.length,
                                      key->name.length,
                                      { 0 } };

        reg_put(out, 0, &head, minimum);
        reg_put(out, minimum, key->name.chars, key->name.length);
        reg_put(out, class_at, key->class_name.chars, key->class_name.length);
    }
    return reg_out_status(out, minimum, needed, result);
}

static NTSTATUS reg_key_full(const struct reg_key *key, struct reg_out *out, PULONG result)
{
    ULONG minimum = FIELD_OFFSET(KEY_FULL_INFORMATION, Class);
    struct reg_maxima m = reg_key_maxima(key);

    if (out->length >= minimum) {
        KEY_FULL_INFORMATION head = { { .QuadPart = key->last_write },
                                      0,
                                      key->class_name.length ? (ULONG)minimum : REG_NO_CLASS,
                                      key->class_name.length,
                                      key->child_count,
                                      m.name,
                                      m.class_name,
                                      key->value_count,
                                      m.value_name,
                                      m.value_data,
                                      { 0 } };

        reg_put(out, 0, &head, minimum);
        reg_put(out, minimum, key->class_name.chars, key->class_name.length);
    }
    return reg_out_status(out, minimum, minimum + key->class_name.length, result);
}

static NTSTATUS reg_key_name_information(const struct reg_key *key, struct reg_out *out, PULONG result)
{
    ULONG minimum = FIELD_OFFSET(KEY_NAME_INFORMATION, Name);
    WCHAR path[REG_MAX_PATH_CHARS];
    size_t length = reg_key_path(key, path, REG_MAX_PATH_CHARS);

    if (length > sizeof path)
        return STATUS_INSUFFICIENT_RESOURCES;
    if (out->length >= minimum) {
        reg_put_ulong(out, 0, (ULONG)length);
        reg_put(out, minimum, path, length);
    }
    return reg_out_status(out, minimum, minimum + (ULONG)length, result);
}

/* A fixed structure: too small is STATUS_BUFFER_TOO_SMALL, never an overflow. */
static NTSTATUS reg_key_cached(const struct reg_key *key, struct reg_out *out, PULONG result)
{
    struct reg_maxima m = reg_key_maxima(key);
    KEY_CACHED_INFORMATION info = { { .QuadPart = key->last_write },
                                    0,
                                    key->child_count,
                                    m.name,
                                    key->value_count,
                                    m.value_name,
                                    m.value_data,
                                    key->name.length };

    if (out->length >= sizeof info)
        reg_put(out, 0, &info, sizeof info);
    return reg_out_status(out, sizeof info, sizeof info, result);
}

/* Lock held. ZwEnumerateKey answers the first three classes, ZwQueryKey all five. */
static NTSTATUS reg_key_information(const struct reg_key *key, KEY_INFORMATION_CLASS class, struct reg_out *out,
                                    PULONG result)
{
    reg_assert_held();
    switch (class) {
    case KeyBasicInformation:
        return reg_key_basic(key, out, result);
    case KeyNodeInformation:
        return reg_key_node(key, out, result);
    case KeyFullInformation:
        return reg_key_full(key, out, result);
    case KeyNameInformation:
        return reg_key_name_information(key, out, result);
    case KeyCachedInformation:
        return reg_key_cached(key, out, result);
    default:
        return STATUS_INVALID_PARAMETER;
    }
}

/* ---- The Key object type ---- */

static void reg_open_delete(PVOID body)
{
    struct reg_open *open = body;

    reg_lock();
    RemoveEntryList(&open->link);
    reg_key_release(open->key);
    reg_unlock();
    free(open);
}

/* "key \REGISTRY\...\Name"; a path too long for buf keeps its end, which names the key. */
static bool reg_open_describe(PVOID body, char *buf, size_t size)
{
    const struct reg_open *open = body;
    WCHAR path[REG_MAX_PATH_CHARS];
    size_t chars, n, first = 0;

    reg_lock();
    chars = reg_key_path(open->key, path, REG_MAX_PATH_CHARS) / sizeof(WCHAR);
    n = (size_t)snprintf(buf, size, "%skey ", open->key->deleted ? "deleted " : "");
    reg_unlock();
    if (chars > REG_MAX_PATH_CHARS)
        chars = REG_MAX_PATH_CHARS;
    if (n + chars + 1 > size && size > n + 4) {
        first = chars - (size - n - 4);
        n += (size_t)snprintf(buf + n, size - n, "...");
    }
    for (size_t i = first; i < chars && n + 1 < size; i++)
        buf[n++] = path[i] < 0x80 ? (char)path[i] : '?';
    buf[n < size ? n : size - 1] = 0;
    return true;
}

static struct _OBJECT_TYPE reg_key_type = {
    .name = "Key",
    .delete_procedure = reg_open_delete,
    .describe_procedure = reg_open_describe,
};

/* A new Key object for key (whose ref it takes over), charged to the current thread's driver. */
static struct reg_open *reg_open_new(struct reg_key *key)
{
    struct reg_open *open = calloc(1, sizeof *open);

    if (open == NULL)
        return NULL;
    open->key = key;
    reg_lock();
    InsertTailList(&reg_opens, &open->link);
    reg_unlock();
    object_create(open, &reg_key_type);
    return open;
}

/* What a key handle grants, with the generic rights mapped as the Key type maps them. */
static ACCESS_MASK reg_map_access(ACCESS_MASK access)
{
    ACCESS_MASK mapped = access & ~(ACCESS_MASK)(GENERIC_READ | GENERIC_WRITE | GENERIC_EXECUTE | GENERIC_ALL |
                                                MAXIMUM_ALLOWED);

    if (access & (GENERIC_READ | GENERIC_EXECUTE))
        mapped |= KEY_READ;
    if (access & GENERIC_WRITE)
        mapped |= KEY_WRITE;
    if (access & (GENERIC_ALL | MAXIMUM_ALLOWED))
        mapped |= KEY_ALL_ACCESS;
    return mapped;
}

/* The Key object a handle names, referenced. A UserMode caller needs every right in `needed`;
 * KernelMode skips the check, as on Windows. */
static NTSTATUS reg_reference(HANDLE handle, ACCESS_MASK needed, KPROCESSOR_MODE mode, struct reg_open **open)
{
    OBJECT_HANDLE_INFORMATION info;
    PVOID object;
    NTSTATUS status = handle_reference(handle, &reg_key_type, mode, &object, &info);

    *open = NULL;
    if (!NT_SUCCESS(status))
        return status;
    if (mode == UserMode && (info.GrantedAccess & needed) != needed) {
        ObDereferenceObject(object);
        return STATUS_ACCESS_DENIED;
    }
    *open = object;
    return STATUS_SUCCESS;
}

/* A handle for a new open of key (whose ref the open takes over). */
static NTSTATUS reg_hand_out(struct reg_key *key, ACCESS_MASK access, ULONG attributes, KPROCESSOR_MODE mode,
                             PHANDLE handle)
{
    struct reg_open *open = reg_open_new(key);

    if (open == NULL) {
        reg_lock();
        reg_key_release(key);
        reg_unlock();
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    if (mode == UserMode)
        attributes &= ~(ULONG)OBJ_KERNEL_HANDLE;
    *handle = handle_create(open, reg_map_access(access), attributes);
    object_release(open);
    return STATUS_SUCCESS;
}

/* ---- Bad pointers and strings ---- */

/* A NULL pointer the call would read or write through. NT probes an application's pointers, so
 * it gets STATUS_ACCESS_VIOLATION; a kernel-mode caller's are not probed, and the access
 * violation nobody handles is named here instead of happening. */
static NTSTATUS reg_check_pointer(const void *pointer, KPROCESSOR_MODE mode, const char *ddi, const char *parameter)
{
    if (pointer != NULL)
        return STATUS_SUCCESS;
    if (mode == UserMode)
        return STATUS_ACCESS_VIOLATION;
    rule_stop_detail(RULE_REGISTRY_NULL_POINTER, (ULONG_PTR)__builtin_return_address(0), 0, 0, 0,
                     "%s was called with %s NULL", ddi, parameter);
}

/* A buffer of length bytes the DDI writes to: NULL is fine only for length 0 (a size probe). */
static NTSTATUS reg_check_buffer(const void *buffer, ULONG length, KPROCESSOR_MODE mode, const char *ddi)
{
    return length != 0 ? reg_check_pointer(buffer, mode, ddi, "a buffer of non-zero Length") : STATUS_SUCCESS;
}

/* A string the call reads: whole WCHARs inside the buffer. Driver Verifier stops a kernel-mode
 * caller that breaks it; an application's string is captured and refused with user_status. */
static NTSTATUS reg_check_string(PCUNICODE_STRING string, KPROCESSOR_MODE mode, const char *ddi,
                                 const char *parameter, NTSTATUS user_status)
{
    if (string->Length % sizeof(WCHAR) == 0 && string->Length <= string->MaximumLength &&
        (string->Length == 0 || string->Buffer != NULL))
        return STATUS_SUCCESS;
    if (mode == UserMode)
        return user_status;
    rule_stop_detail(RULE_ZW_MALFORMED_UNICODE_STRING, (ULONG_PTR)string, 0, 0, 0,
                     "%s got %s with Length %u, MaximumLength %u, Buffer %p", ddi, parameter,
                     (unsigned)string->Length, (unsigned)string->MaximumLength, (void *)string->Buffer);
}

/* A value name: a well-formed string within NT's limit. */
static NTSTATUS reg_check_value_name(PCUNICODE_STRING name, KPROCESSOR_MODE mode, const char *ddi)
{
    NTSTATUS status = reg_check_pointer(name, mode, ddi, "ValueName");

    if (NT_SUCCESS(status))
        status = reg_check_string(name, mode, ddi, "a ValueName", STATUS_INVALID_PARAMETER);
    if (NT_SUCCESS(status) && name->Length / sizeof(WCHAR) > REG_MAX_VALUE_NAME_CHARS)
        status = STATUS_INVALID_PARAMETER;
    return status;
}

/* ---- Opening by name ---- */

/* Where a name leads: the deepest key that exists on its way (referenced), and the first
 * component that does not (length 0: none, the name is found whole). */
struct reg_walk {
    struct reg_key *key;
    const WCHAR *missing;
    USHORT missing_length;
    bool missing_is_last;
};

/* Lock held: walks path's components from key; only a walk that succeeds references walk->key. */
static NTSTATUS reg_walk_locked(struct reg_key *key, const WCHAR *path, size_t count, struct reg_walk *walk)
{
    size_t pos = 0;
    const WCHAR *chars;
    USHORT length;

    reg_assert_held();
    *walk = (struct reg_walk){ key, NULL, 0, false };
    while (reg_component(path, count, &pos, &chars, &length)) {
        struct reg_key *child;

        if (length == 0 || length / sizeof(WCHAR) > REG_MAX_KEY_NAME_CHARS)
            return length == 0 ? STATUS_OBJECT_NAME_INVALID : STATUS_INVALID_PARAMETER;
        child = walk->key->deleted ? NULL : reg_child(walk->key, chars, length, NULL);
        if (child == NULL) {
            walk->missing = chars;
            walk->missing_length = length;
            walk->missing_is_last = pos >= count;
            break;
        }
        walk->key = child;
    }
    if (walk->key->deleted)
        return STATUS_KEY_DELETED;
    walk->key->refs++;
    return STATUS_SUCCESS;
}

/* Whether an absolute name starts with \REGISTRY as a whole component: the only root of keys. */
static bool reg_is_registry_name(const WCHAR *chars, size_t count, size_t *prefix)
{
    static const WCHAR registry[] = L"\\REGISTRY";
    USHORT length = sizeof registry - sizeof(WCHAR);

    *prefix = length / sizeof(WCHAR);
    return count >= *prefix && reg_compare(chars, length, registry, length) == 0 &&
           (count == *prefix || chars[*prefix] == L'\\');
}

/* The name in attributes, walked from its root: RootDirectory's key for a relative name, else
 * \REGISTRY for an absolute one. On success walk->key is referenced. */
static NTSTATUS reg_walk(POBJECT_ATTRIBUTES attributes, KPROCESSOR_MODE mode, struct reg_walk *walk)
{
    PCUNICODE_STRING name;
    struct reg_open *root = NULL;
    struct reg_key *start = reg_root;
    const WCHAR *chars;
    size_t count, prefix = 0;
    NTSTATUS status;

    status = reg_check_pointer(attributes, mode, "ZwCreateKey or ZwOpenKey", "ObjectAttributes");
    if (!NT_SUCCESS(status))
        return status;
    name = attributes->ObjectName;
    if (name == NULL)
        return STATUS_OBJECT_NAME_INVALID;
    status = reg_check_string(name, mode, "ZwCreateKey or ZwOpenKey", "an ObjectName", STATUS_OBJECT_NAME_INVALID);
    if (!NT_SUCCESS(status))
        return status;
    chars = name->Buffer;
    count = name->Length / sizeof(WCHAR);
    if (attributes->RootDirectory != NULL) {
        if (count != 0 && chars[0] == L'\\')
            return STATUS_OBJECT_PATH_SYNTAX_BAD;
        status = reg_reference(attributes->RootDirectory, 0, mode, &root);
        if (!NT_SUCCESS(status))
            return status;
        start = root->key;
    } else if (count == 0 || chars[0] != L'\\') {
        return STATUS_OBJECT_PATH_SYNTAX_BAD;
    } else if (!reg_is_registry_name(chars, count, &prefix)) {
        return STATUS_OBJECT_PATH_NOT_FOUND;
    }
    reg_lock();
    status = reg_walk_locked(start, count != 0 ? chars + prefix : NULL, count - prefix, walk);
    reg_unlock();
    if (root != NULL)
        ObDereferenceObject(root);
    return status;
}

/* Lock held: the subkey a create makes at the end of the walk, referenced (its ref passes from
 * the walk's key to it). */
static NTSTATUS reg_create_locked(struct reg_walk *walk, PCUNICODE_STRING class_name, ULONG options,
                                  struct reg_key **made)
{
    bool is_volatile = (options & REG_OPTION_VOLATILE) != 0;
    struct reg_key *key;
    ULONG slot;

    reg_assert_held();
    if (!walk->missing_is_last)
        return STATUS_OBJECT_NAME_NOT_FOUND;
    if (walk->key->is_volatile && !is_volatile)
        return STATUS_CHILD_MUST_BE_VOLATILE;
    reg_child(walk->key, walk->missing, walk->missing_length, &slot);
    key = reg_key_insert(walk->key, slot, walk->missing, walk->missing_length, is_volatile);
    if (key == NULL)
        return STATUS_INSUFFICIENT_RESOURCES;
    if (class_name != NULL && class_name->Length != 0 &&
        !reg_name_copy(&key->class_name, class_name->Buffer, class_name->Length)) {
        reg_key_unlink(key);
        return STATUS_INSUFFICIENT_RESOURCES;
    }
    key->refs++;
    reg_key_release(walk->key);
    *made = key;
    return STATUS_SUCCESS;
}

/* PASSIVE_LEVEL. Opens the key ObjectAttributes names, or makes it when only its last component
 * is missing (its parent must exist: no key on the way is made). A volatile parent takes only
 * volatile subkeys. Class is kept for KeyNodeInformation and KeyFullInformation; TitleIndex is
 * ignored, as on Windows. Symbolic links (REG_OPTION_CREATE_LINK, REG_OPTION_OPEN_LINK) are not
 * supported: STATUS_NOT_IMPLEMENTED. */
NTSTATUS NTAPI ZwCreateKey(PHANDLE KeyHandle, ACCESS_MASK DesiredAccess, POBJECT_ATTRIBUTES ObjectAttributes,
                           ULONG TitleIndex, PUNICODE_STRING Class, ULONG CreateOptions, PULONG Disposition)
{
    KPROCESSOR_MODE mode;
    struct reg_walk walk;
    struct reg_key *key;
    ULONG disposition = REG_OPENED_EXISTING_KEY;
    NTSTATUS status;

    rule_check_irql(RULE_ZW_REGISTRY_NOT_PASSIVE, irql_current(), (ULONG_PTR)KeyHandle, 0, 0);
    (void)TitleIndex;
    mode = thread_previous_mode();
    status = reg_check_pointer(KeyHandle, mode, "ZwCreateKey", "KeyHandle");
    if (!NT_SUCCESS(status))
        return status;
    *KeyHandle = NULL;
    if (CreateOptions & ~(ULONG)REG_LEGAL_OPTION)
        return STATUS_INVALID_PARAMETER;
    if (CreateOptions & (REG_OPTION_CREATE_LINK | REG_OPTION_OPEN_LINK))
        return STATUS_NOT_IMPLEMENTED;
    status = Class != NULL ? reg_check_string(Class, mode, "ZwCreateKey", "a Class", STATUS_INVALID_PARAMETER)
                           : STATUS_SUCCESS;
    if (NT_SUCCESS(status))
        status = reg_walk(ObjectAttributes, mode, &walk);
    if (!NT_SUCCESS(status))
        return status;
    reg_lock();
    key = walk.key;
    if (walk.missing != NULL) {
        status = reg_create_locked(&walk, Class, CreateOptions, &key);
        disposition = REG_CREATED_NEW_KEY;
        if (!NT_SUCCESS(status))
            reg_key_release(walk.key);
    }
    reg_unlock();
    if (!NT_SUCCESS(status))
        return status;
    if (Disposition != NULL)
        *Disposition = disposition;
    return reg_hand_out(key, DesiredAccess, ObjectAttributes->Attributes, mode, KeyHandle);
}

/* PASSIVE_LEVEL. Opens an existing key: STATUS_OBJECT_NAME_NOT_FOUND when it, or a key on the
 * way to it, does not exist. */
NTSTATUS NTAPI ZwOpenKey(PHANDLE KeyHandle, ACCESS_MASK DesiredAccess, POBJECT_ATTRIBUTES ObjectAttributes)
{
    KPROCESSOR_MODE mode;
    struct reg_walk walk;
    NTSTATUS status;

    rule_check_irql(RULE_ZW_REGISTRY_NOT_PASSIVE, irql_current(), (ULONG_PTR)KeyHandle, 0, 0);
    mode = thread_previous_mode();
    status = reg_check_pointer(KeyHandle, mode, "ZwOpenKey", "KeyHandle");
    if (!NT_SUCCESS(status))
        return status;
    *KeyHandle = NULL;
    status = reg_walk(ObjectAttributes, mode, &walk);
    if (!NT_SUCCESS(status))
        return status;
    if (walk.missing != NULL) {
        reg_lock();
        reg_key_release(walk.key);
        reg_unlock();
        return STATUS_OBJECT_NAME_NOT_FOUND;
    }
    return reg_hand_out(walk.key, DesiredAccess, ObjectAttributes->Attributes, mode, KeyHandle);
}

/* ---- Calls on an open key ---- */

/* Lock held on success: the key a handle names, not deleted. The caller unlocks and lets go. */
static NTSTATUS reg_begin(HANDLE handle, ACCESS_MASK needed, KPROCESSOR_MODE mode, struct reg_open **open)
{
    NTSTATUS status = reg_reference(handle, needed, mode, open);

    if (!NT_SUCCESS(status))
        return status;
    reg_lock();
    if (!(*open)->key->deleted)
        return STATUS_SUCCESS;
    reg_unlock();
    ObDereferenceObject(*open);
    return STATUS_KEY_DELETED;
}

static NTSTATUS reg_end(struct reg_open *open, NTSTATUS status)
{
    reg_unlock();
    ObDereferenceObject(open);
    return status;
}

/* PASSIVE_LEVEL. Deletes a key that has no subkeys (STATUS_CANNOT_DELETE otherwise, and for the
 * roots of the hives). The handle stays valid, to be closed; every call on it, and on every other
 * open of the key, then gets STATUS_KEY_DELETED. */
NTSTATUS NTAPI ZwDeleteKey(HANDLE KeyHandle)
{
    struct reg_open *open;
    NTSTATUS status;

    rule_check_irql(RULE_ZW_REGISTRY_NOT_PASSIVE, irql_current(), (ULONG_PTR)KeyHandle, 0, 0);
    status = reg_begin(KeyHandle, DELETE, thread_previous_mode(), &open);
    if (!NT_SUCCESS(status))
        return status;
    if (open->key->child_count != 0 || open->key->hive_root)
        return reg_end(open, STATUS_CANNOT_DELETE);
    reg_key_unlink(open->key);
    return reg_end(open, STATUS_SUCCESS);
}

/* PASSIVE_LEVEL. The registry lives in memory, so there is nothing to write back; the key must
 * still be there. */
NTSTATUS NTAPI ZwFlushKey(HANDLE KeyHandle)
{
    struct reg_open *open;
    NTSTATUS status;

    rule_check_irql(RULE_ZW_REGISTRY_NOT_PASSIVE, irql_current(), (ULONG_PTR)KeyHandle, 0, 0);
    status = reg_begin(KeyHandle, 0, thread_previous_mode(), &open);
    return NT_SUCCESS(status) ? reg_end(open, STATUS_SUCCESS) : status;
}

/* PASSIVE_LEVEL. KeyBasicInformation, KeyNodeInformation, KeyFullInformation, KeyNameInformation
 * (the full path) and KeyCachedInformation; buffer too small: see reg_out_status. */
NTSTATUS NTAPI ZwQueryKey(HANDLE KeyHandle, KEY_INFORMATION_CLASS KeyInformationClass, PVOID KeyInformation,
                          ULONG Length, PULONG ResultLength)
{
    KPROCESSOR_MODE mode;
    struct reg_out out = { KeyInformation, Length, false };
    struct reg_open *open;
    NTSTATUS status;

    rule_check_irql(RULE_ZW_REGISTRY_NOT_PASSIVE, irql_current(), (ULONG_PTR)KeyHandle, KeyInformationClass, 0);
    mode = thread_previous_mode();
    status = reg_check_pointer(ResultLength, mode, "ZwQueryKey", "ResultLength");
    if (NT_SUCCESS(status))
        status = reg_check_buffer(KeyInformation, Length, mode, "ZwQueryKey");
    if (!NT_SUCCESS(status))
        return status;
    if ((unsigned)KeyInformationClass > KeyCachedInformation)
        return KeyInformationClass < MaxKeyInfoClass ? STATUS_NOT_IMPLEMENTED : STATUS_INVALID_PARAMETER;
    status = reg_begin(KeyHandle, KeyInformationClass == KeyNameInformation ? 0 : KEY_QUERY_VALUE, mode, &open);
    if (!NT_SUCCESS(status))
        return status;
    return reg_end(open, reg_key_information(open->key, KeyInformationClass, &out, ResultLength));
}

/* PASSIVE_LEVEL. Subkey number Index in name order (KeyBasicInformation, KeyNodeInformation,
 * KeyFullInformation); past the last, STATUS_NO_MORE_ENTRIES. */
NTSTATUS NTAPI ZwEnumerateKey(HANDLE KeyHandle, ULONG Index, KEY_INFORMATION_CLASS KeyInformationClass,
                              PVOID KeyInformation, ULONG Length, PULONG ResultLength)
{
    KPROCESSOR_MODE mode;
    struct reg_out out = { KeyInformation, Length, false };
    struct reg_open *open;
    NTSTATUS status;

    rule_check_irql(RULE_ZW_REGISTRY_NOT_PASSIVE, irql_current(), (ULONG_PTR)KeyHandle, Index, 0);
    mode = thread_previous_mode();
    status = reg_check_pointer(ResultLength, mode, "ZwEnumerateKey", "ResultLength");
    if (NT_SUCCESS(status))
        status = reg_check_buffer(KeyInformation, Length, mode, "ZwEnumerateKey");
    if (!NT_SUCCESS(status))
        return status;
    if ((unsigned)KeyInformationClass > KeyFullInformation)
        return STATUS_INVALID_PARAMETER;
    status = reg_begin(KeyHandle, KEY_ENUMERATE_SUB_KEYS, mode, &open);
    if (!NT_SUCCESS(status))
        return status;
    if (Index >= open->key->child_count)
        return reg_end(open, STATUS_NO_MORE_ENTRIES);
    return reg_end(open, reg_key_information(open->key->children[Index], KeyInformationClass, &out, ResultLength));
}

/* PASSIVE_LEVEL. Sets (or replaces, in place) a value of any type; the empty name is the key's
 * default value. Windows does not check that the data fits the type (a REG_DWORD of 3 bytes is
 * stored as given), and neither does the simulator. */
NTSTATUS NTAPI ZwSetValueKey(HANDLE KeyHandle, PUNICODE_STRING ValueName, ULONG TitleIndex, ULONG Type, PVOID Data,
                             ULONG DataSize)
{
    KPROCESSOR_MODE mode;
    struct reg_open *open;
    NTSTATUS status;

    rule_check_irql(RULE_ZW_REGISTRY_NOT_PASSIVE, irql_current(), (ULONG_PTR)KeyHandle, Type, 0);
    (void)TitleIndex;
    mode = thread_previous_mode();
    status = reg_check_value_name(ValueName, mode, "ZwSetValueKey");
    if (NT_SUCCESS(status) && DataSize != 0)
        status = reg_check_pointer(Data, mode, "ZwSetValueKey", "Data (with a non-zero DataSize)");
    if (!NT_SUCCESS(status))
        return status;
    status = reg_begin(KeyHandle, KEY_SET_VALUE, mode, &open);
    if (!NT_SUCCESS(status))
        return status;
    return reg_end(open, reg_value_set(open->key, ValueName->Buffer, ValueName->Length, Type, Data, DataSize));
}

/* PASSIVE_LEVEL. KeyValueBasicInformation, KeyValueFullInformation(Align64) and
 * KeyValuePartialInformation(Align64); buffer too small: see reg_out_status. */
NTSTATUS NTAPI ZwQueryValueKey(HANDLE KeyHandle, PUNICODE_STRING ValueName,
                               KEY_VALUE_INFORMATION_CLASS KeyValueInformationClass, PVOID KeyValueInformation,
                               ULONG Length, PULONG ResultLength)
{
    KPROCESSOR_MODE mode;
    struct reg_out out = { KeyValueInformation, Length, false };
    struct reg_open *open;
    struct reg_value *value;
    NTSTATUS status;

    rule_check_irql(RULE_ZW_REGISTRY_NOT_PASSIVE, irql_current(), (ULONG_PTR)KeyHandle, KeyValueInformationClass, 0);
    mode = thread_previous_mode();
    status = reg_check_pointer(ResultLength, mode, "ZwQueryValueKey", "ResultLength");
    if (NT_SUCCESS(status))
        status = reg_check_buffer(KeyValueInformation, Length, mode, "ZwQueryValueKey");
    if (NT_SUCCESS(status))
        status = reg_check_value_name(ValueName, mode, "ZwQueryValueKey");
    if (!NT_SUCCESS(status))
        return status;
    status = reg_begin(KeyHandle, KEY_QUERY_VALUE, mode, &open);
    if (!NT_SUCCESS(status))
        return status;
    value = reg_value_find(open->key, ValueName->Buffer, ValueName->Length, NULL);
    if (value == NULL)
        return reg_end(open, STATUS_OBJECT_NAME_NOT_FOUND);
    return reg_end(open, reg_value_information(value, KeyValueInformationClass, &out, ResultLength));
}

/* PASSIVE_LEVEL. Value number Index, in the order values were first set; past the last,
 * STATUS_NO_MORE_ENTRIES. */
NTSTATUS NTAPI ZwEnumerateValueKey(HANDLE KeyHandle, ULONG Index,
                                   KEY_VALUE_INFORMATION_CLASS KeyValueInformationClass, PVOID KeyValueInformation,
                                   ULONG Length, PULONG ResultLength)
{
    KPROCESSOR_MODE mode;
    struct reg_out out = { KeyValueInformation, Length, false };
    struct reg_open *open;
    struct reg_value *value;
    NTSTATUS status;

    rule_check_irql(RULE_ZW_REGISTRY_NOT_PASSIVE, irql_current(), (ULONG_PTR)KeyHandle, Index, 0);
    mode = thread_previous_mode();
    status = reg_check_pointer(ResultLength, mode, "ZwEnumerateValueKey", "ResultLength");
    if (NT_SUCCESS(status))
        status = reg_check_buffer(KeyValueInformation, Length, mode, "ZwEnumerateValueKey");
    if (!NT_SUCCESS(status))
        return status;
    status = reg_begin(KeyHandle, KEY_QUERY_VALUE, mode, &open);
    if (!NT_SUCCESS(status))
        return status;
    value = open->key->values;
    for (ULONG i = 0; value != NULL && i < Index; i++)
        value = value->next;
    if (value == NULL)
        return reg_end(open, STATUS_NO_MORE_ENTRIES);
    return reg_end(open, reg_value_information(value, KeyValueInformationClass, &out, ResultLength));
}

/* PASSIVE_LEVEL. STATUS_OBJECT_NAME_NOT_FOUND when the key has no such value. */
NTSTATUS NTAPI ZwDeleteValueKey(HANDLE KeyHandle, PUNICODE_STRING ValueName)
{
    KPROCESSOR_MODE mode;
    struct reg_open *open;
    struct reg_value **link;
    struct reg_value *value;
    NTSTATUS status;

    rule_check_irql(RULE_ZW_REGISTRY_NOT_PASSIVE, irql_current(), (ULONG_PTR)KeyHandle, 0, 0);
    mode = thread_previous_mode();
    status = reg_check_value_name(ValueName, mode, "ZwDeleteValueKey");
    if (!NT_SUCCESS(status))
        return status;
    status = reg_begin(KeyHandle, KEY_SET_VALUE, mode, &open);
    if (!NT_SUCCESS(status))
        return status;
    value = reg_value_find(open->key, ValueName->Buffer, ValueName->Length, &link);
    if (value == NULL)
        return reg_end(open, STATUS_OBJECT_NAME_NOT_FOUND);
    *link = value->next;
    reg_value_free(value);
    open->key->value_count--;
    open->key->last_write = clock_system_time();
    return reg_end(open, STATUS_SUCCESS);
}

/* ---- By narrow path: the machine's own keys, the I/O manager's and the host's ---- */

/* Lock held: the key at path ("\Registry\..."), made with every missing key on its way when
 * create (non-volatile, under a non-volatile parent); NULL if it is not there or cannot be. */
static struct reg_key *reg_path_locked(const char *path, bool create)
{
    WCHAR wide[REG_MAX_PATH_CHARS];
    size_t prefix, pos, count;
    struct reg_key *key = reg_root;
    const WCHAR *chars;
    USHORT length;

    reg_assert_held();
    if (!reg_widen(path, wide, REG_MAX_PATH_CHARS, &length))
        return NULL;
    count = length / sizeof(WCHAR);
    if (!reg_is_registry_name(wide, count, &prefix))
        return NULL;
    pos = prefix;
    while (key != NULL && reg_component(wide, count, &pos, &chars, &length)) {
        ULONG slot;
        struct reg_key *child;

        if (length == 0 || length / sizeof(WCHAR) > REG_MAX_KEY_NAME_CHARS)
            return NULL;
        child = reg_child(key, chars, length, &slot);
        if (child == NULL && create && !key->is_volatile)
            child = reg_key_insert(key, slot, chars, length, false);
        key = child;
    }
    return key;
}

NTSTATUS registry_create_path(const char *path)
{
    struct reg_key *key;

    kernel_ensure_booted();
    reg_lock();
    key = reg_path_locked(path, true);
    reg_unlock();
    return key != NULL ? STATUS_SUCCESS : STATUS_OBJECT_NAME_INVALID;
}

NTSTATUS registry_open_path(const char *path, ACCESS_MASK access, PHANDLE handle)
{
    struct reg_key *key;

    reg_lock();
    key = reg_path_locked(path, true);
    if (key != NULL)
        key->refs++;
    reg_unlock();
    *handle = NULL;
    if (key == NULL)
        return STATUS_OBJECT_NAME_INVALID;
    return reg_hand_out(key, access, OBJ_KERNEL_HANDLE | OBJ_CASE_INSENSITIVE, KernelMode, handle);
}

NTSTATUS registry_set(const char *path, const char *name, ULONG type, const void *data, ULONG length,
                      bool only_if_missing)
{
    WCHAR wide[REG_MAX_PATH_CHARS];
    USHORT name_length;
    struct reg_key *key;
    NTSTATUS status = STATUS_SUCCESS;

    kernel_ensure_booted();
    if (!reg_widen(name, wide, REG_MAX_PATH_CHARS, &name_length))
        return STATUS_INVALID_PARAMETER;
    reg_lock();
    key = reg_path_locked(path, true);
    if (key == NULL)
        status = STATUS_OBJECT_NAME_INVALID;
    else if (!only_if_missing || reg_value_find(key, wide, name_length, NULL) == NULL)
        status = reg_value_set(key, wide, name_length, type, data, length);
    reg_unlock();
    return status;
}

NTSTATUS registry_get(const char *path, const char *name, PULONG type, void *data, ULONG size, PULONG length)
{
    WCHAR wide[REG_MAX_PATH_CHARS];
    USHORT name_length;
    struct reg_key *key;
    struct reg_value *value = NULL;
    NTSTATUS status = STATUS_OBJECT_NAME_NOT_FOUND;

    kernel_ensure_booted();
    if (!reg_widen(name, wide, REG_MAX_PATH_CHARS, &name_length))
        return STATUS_INVALID_PARAMETER;
    reg_lock();
    key = reg_path_locked(path, false);
    if (key != NULL)
        value = reg_value_find(key, wide, name_length, NULL);
    if (value != NULL) {
        *type = value->type;
        *length = value->length;
        status = value->length <= size ? STATUS_SUCCESS : STATUS_BUFFER_OVERFLOW;
        if (data != NULL)
            memcpy(data, value->data, value->length <= size ? value->length : size);
    }
    reg_unlock();
    return status;
}

/* ---- The host's calls ---- */

NTSTATUS wdmsim_registry_create_key(const char *path)
{
    return registry_create_path(path);
}

/* Lock held: takes key and its subtree out, deepest first. */
static void reg_unlink_tree(struct reg_key *key)
{
    reg_assert_held();
    while (key->child_count != 0)
        reg_unlink_tree(key->children[key->child_count - 1]);
    reg_key_unlink(key);
}

NTSTATUS wdmsim_registry_delete_key(const char *path)
{
    struct reg_key *key;
    NTSTATUS status = STATUS_SUCCESS;

    kernel_ensure_booted();
    reg_lock();
    key = reg_path_locked(path, false);
    if (key == NULL)
        status = STATUS_OBJECT_NAME_NOT_FOUND;
    else if (key->hive_root)
        status = STATUS_CANNOT_DELETE;
    else
        reg_unlink_tree(key);
    reg_unlock();
    return status;
}

NTSTATUS wdmsim_registry_set_value(const char *path, const char *name, ULONG type, const void *data, ULONG length)
{
    return registry_set(path, name, type, data, length, false);
}

NTSTATUS wdmsim_registry_set_dword(const char *path, const char *name, ULONG value)
{
    return registry_set(path, name, REG_DWORD, &value, sizeof value, false);
}

NTSTATUS wdmsim_registry_set_string(const char *path, const char *name, const char *value)
{
    WCHAR wide[REG_MAX_PATH_CHARS];
    USHORT length;

    if (!reg_widen(value, wide, REG_MAX_PATH_CHARS, &length))
        return STATUS_INVALID_PARAMETER;
    return registry_set(path, name, REG_SZ, wide, length + sizeof(WCHAR), false);
}

NTSTATUS wdmsim_registry_get_value(const char *path, const char *name, ULONG *type, void *data, ULONG size,
                                   ULONG *length)
{
    return registry_get(path, name, type, data, size, length);
}

NTSTATUS wdmsim_registry_delete_value(const char *path, const char *name)
{
    WCHAR wide[REG_MAX_PATH_CHARS];
    USHORT name_length;
    struct reg_key *key;
    struct reg_value **link;
    struct reg_value *value = NULL;

    kernel_ensure_booted();
    if (!reg_widen(name, wide, REG_MAX_PATH_CHARS, &name_length))
        return STATUS_INVALID_PARAMETER;
    reg_lock();
    key = reg_path_locked(path, false);
    if (key != NULL)
        value = reg_value_find(key, wide, name_length, &link);
    if (value != NULL) {
        *link = value->next;
        reg_value_free(value);
        key->value_count--;
    }
    reg_unlock();
    return value != NULL ? STATUS_SUCCESS : STATUS_OBJECT_NAME_NOT_FOUND;
}

/* ---- Boot and shutdown ---- */

/* The machine's keys, as a fresh Windows has them. The HARDWARE hive is volatile: rebuilt at
 * every boot from what the machine finds. */
static const struct {
    const char *path;
    bool is_volatile;
} reg_machine_keys[] = {
    { "\\REGISTRY\\MACHINE\\SYSTEM\\CurrentControlSet\\Services", false },
    { "\\REGISTRY\\MACHINE\\SYSTEM\\CurrentControlSet\\Control\\Class", false },
    { "\\REGISTRY\\MACHINE\\SYSTEM\\CurrentControlSet\\Enum\\ROOT", false },
    { "\\REGISTRY\\MACHINE\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion", false },
    { "\\REGISTRY\\MACHINE\\HARDWARE", true },
    { "\\REGISTRY\\USER\\.DEFAULT", false },
};

/* The roots of the hives, which no call deletes. */
static const char *const reg_hive_roots[] = {
    "\\REGISTRY\\MACHINE", "\\REGISTRY\\USER", "\\REGISTRY\\MACHINE\\SYSTEM", "\\REGISTRY\\MACHINE\\SOFTWARE",
    "\\REGISTRY\\MACHINE\\HARDWARE", "\\REGISTRY\\USER\\.DEFAULT",
};

static void reg_boot_keys(void)
{
    for (size_t i = 0; i < sizeof reg_machine_keys / sizeof reg_machine_keys[0]; i++) {
        struct reg_key *key = reg_path_locked(reg_machine_keys[i].path, true);

        if (key == NULL)
            abort();
        key->is_volatile = reg_machine_keys[i].is_volatile;
    }
    for (size_t i = 0; i < sizeof reg_hive_roots / sizeof reg_hive_roots[0]; i++)
        reg_path_locked(reg_hive_roots[i], false)->hive_root = true;
}

/* The volatile HARDWARE hive's keys, made directly (reg_path_locked makes only non-volatile ones). */
static void reg_boot_hardware(void)
{
    static const WCHAR *const names[] = { L"DESCRIPTION", L"System", NULL };
    static const WCHAR devicemap[] = L"DEVICEMAP";
    struct reg_key *key = reg_path_locked("\\REGISTRY\\MACHINE\\HARDWARE", false);
    ULONG slot;

    reg_child(key, devicemap, sizeof devicemap - sizeof(WCHAR), &slot);
    if (reg_key_insert(key, slot, devicemap, sizeof devicemap - sizeof(WCHAR), true) == NULL)
        abort();
    for (size_t i = 0; names[i] != NULL; i++) {
        USHORT length = 0;

        while (names[i][length / sizeof(WCHAR)] != 0)
            length += sizeof(WCHAR);
        reg_child(key, names[i], length, &slot);
        key = reg_key_insert(key, slot, names[i], length, true);
        if (key == NULL)
            abort();
    }
}

void registry_boot(void)
{
    static const WCHAR root_name[] = L"REGISTRY";

    pthread_mutex_init(&registry_lock, NULL);
    InitializeListHead(&reg_opens);
    reg_root = calloc(1, sizeof *reg_root);
    if (reg_root == NULL || !reg_name_copy(&reg_root->name, root_name, sizeof root_name - sizeof(WCHAR)))
        abort();
    reg_root->refs = 1;
    reg_root->hive_root = true;
    reg_root->last_write = clock_system_time();
    reg_lock();
    reg_boot_keys();
    reg_boot_hardware();
    reg_unlock();
}

/* Frees a key and its subtree whatever their refs: nothing can name them any more. */
static void reg_free_tree(struct reg_key *key)
{
    for (ULONG i = 0; i < key->child_count; i++)
        reg_free_tree(key->children[i]);
    reg_key_free(key);
}

/* After the object manager's shutdown: the opens still alive (their handles were reported as
 * leaks) go first, then the tree. */
void registry_shutdown(void)
{
    reg_lock();
    while (!IsListEmpty(&reg_opens)) {
        struct reg_open *open = CONTAINING_RECORD(RemoveHeadList(&reg_opens), struct reg_open, link);

        if (open->key->deleted)
            reg_key_release(open->key);
        free(open);
    }
    if (reg_root != NULL)
        reg_free_tree(reg_root);
    reg_root = NULL;
    reg_unlock();
}
