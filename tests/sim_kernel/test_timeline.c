/*
 * test_timeline.c - the timeline a run writes under WDMSIM_TIMELINE: a small scenario (a driver
 * whose write dispatch routine takes a spin lock and queues a DPC, the DPC sets an event a test
 * thread waits for) is recorded, and the file is checked against the Chrome trace-event format
 * with a validator of our own (required fields, B/E well nested per thread, flows paired), then
 * for what it must show. Also the SVG picture, a file that cannot be written, a full ring, and the
 * instants of a STOP and of a warning.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wdmsim_test_threads.h"

#define TL_DEVICE L"\\Device\\TimelineTest"

/* ---- A minimal JSON reader: enough to validate what the timeline writes ---- */

enum json_type { JSON_NULL, JSON_BOOL, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT };

struct json {
    enum json_type type;
    double number;
    char *string;                   /* a string's text, an object member's key */
    struct json *items;             /* an array's elements or an object's members */
    size_t count;
    struct json *value;             /* an object member's value */
};

struct json_reader {
    const char *p;
    bool failed;
};

static void json_skip(struct json_reader *r)
{
    while (isspace((unsigned char)*r->p))
        r->p++;
}

static bool json_expect(struct json_reader *r, char c)
{
    json_skip(r);
    if (*r->p != c)
        return !(r->failed = true);
    r->p++;
    return true;
}

static void json_value(struct json_reader *r, struct json *v);

static char *json_string_text(struct json_reader *r)
{
    size_t cap = 16, n = 0;
    char *text = malloc(cap);

    if (!json_expect(r, '"'))
        return text;
    while (*r->p && *r->p != '"') {
        char c = *r->p++;

        if (c == '\\') {
            c = *r->p++;
            if (c == 'u') {
                c = (char)strtol((char[]){ r->p[0], r->p[1], r->p[2], r->p[3], 0 }, NULL, 16);
                r->p += 4;
            } else if (c == 'n') {
                c = '\n';
            } else if (c != '"' && c != '\\' && c != '/') {
                r->failed = true;
            }
        } else if ((unsigned char)c < 0x20) {
            r->failed = true;
        }
        if (n + 2 > cap)
            text = realloc(text, cap *= 2);
        text[n++] = c;
    }
    text[n] = '\0';
    r->failed |= *r->p != '"';
    if (*r->p)
        r->p++;
    return text;
}

static void json_list(struct json_reader *r, struct json *v, char close, bool members)
{
    size_t cap = 8;

    v->items = calloc(cap, sizeof *v->items);
    json_skip(r);
    if (*r->p == close) {
        r->p++;
        return;
    }
    do {
        struct json *item;

        if (v->count == cap) {
            v->items = realloc(v->items, (cap *= 2) * sizeof *v->items);
            memset(v->items + v->count, 0, (cap - v->count) * sizeof *v->items);
        }
        item = &v->items[v->count++];
        if (members) {
            json_skip(r);
            item->string = json_string_text(r);
            json_expect(r, ':');
            item->value = calloc(1, sizeof *item->value);
            json_value(r, item->value);
        } else {
            json_value(r, item);
        }
        json_skip(r);
    } while (!r->failed && *r->p == ',' && r->p++);
    json_expect(r, close);
}

static void json_value(struct json_reader *r, struct json *v)
{
    char *end;

    json_skip(r);
    if (*r->p == '{') {
        r->p++;
        v->type = JSON_OBJECT;
        json_list(r, v, '}', true);
    } else if (*r->p == '[') {
        r->p++;
        v->type = JSON_ARRAY;
        json_list(r, v, ']', false);
    } else if (*r->p == '"') {
        v->type = JSON_STRING;
        v->string = json_string_text(r);
    } else if (strncmp(r->p, "true", 4) == 0 || strncmp(r->p, "null", 4) == 0) {
        v->type = *r->p == 't' ? JSON_BOOL : JSON_NULL;
        r->p += 4;
    } else if (strncmp(r->p, "false", 5) == 0) {
        v->type = JSON_BOOL;
        r->p += 5;
    } else {
        v->type = JSON_NUMBER;
        v->number = strtod(r->p, &end);
        r->failed |= end == r->p;
        r->p = end;
    }
}

static void json_free(struct json *v)
{
    for (size_t i = 0; i < v->count; i++) {
        if (v->type == JSON_OBJECT) {
            free(v->items[i].string);
            json_free(v->items[i].value);
            free(v->items[i].value);
        } else {
            json_free(&v->items[i]);
        }
    }
    free(v->items);
    free(v->string);
}

static const struct json *json_get(const struct json *object, const char *key)
{
    for (size_t i = 0; object->type == JSON_OBJECT && i < object->count; i++) {
        if (strcmp(object->items[i].string, key) == 0)
            return object->items[i].value;
    }
    return NULL;
}

static const char *json_text(const struct json *object, const char *key)
{
    const struct json *v = json_get(object, key);

    return v != NULL && v->type == JSON_STRING ? v->string : NULL;
}

static char *read_file(const char *path)
{
    FILE *in = fopen(path, "r");
    char *text;
    long size;

    assert_non_null(in);
    fseek(in, 0, SEEK_END);
    size = ftell(in);
    rewind(in);
    text = calloc(1, (size_t)size + 1);
    assert_int_equal(fread(text, 1, (size_t)size, in), (size_t)size);
    fclose(in);
    return text;
}

/* ---- The validator: the trace-event format's rules, as Perfetto and chrome://tracing read them ---- */

#define MAX_TRACKS 256
#define MAX_DEPTH 64

struct track {
    double pid, tid;
    const char *open[MAX_DEPTH];    /* the names of its open B events */
    double open_ts[MAX_DEPTH];
    size_t depth;
};

struct trace_check {
    struct track tracks[MAX_TRACKS];
    size_t track_count;
    char problem[256];
};

static struct track *track_of(struct trace_check *c, double pid, double tid)
{
    for (size_t i = 0; i < c->track_count; i++) {
        if (c->tracks[i].pid == pid && c->tracks[i].tid == tid)
            return &c->tracks[i];
    }
    assert_true(c->track_count < MAX_TRACKS);
    c->tracks[c->track_count].pid = pid;
    c->tracks[c->track_count].tid = tid;
    return &c->tracks[c->track_count++];
}

static bool trace_fail(struct trace_check *c, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(c->problem, sizeof c->problem, fmt, ap);
    va_end(ap);
    return false;
}

static bool trace_nesting(struct trace_check *c, const struct json *e, const char *ph, size_t index)
{
    struct track *t = track_of(c, json_get(e, "pid")->number, json_get(e, "tid")->number);
    double ts = json_get(e, "ts")->number;

    if (*ph == 'B') {
        if (t->depth == MAX_DEPTH)
            return trace_fail(c, "event %zu: nesting deeper than %d", index, MAX_DEPTH);
        t->open_ts[t->depth] = ts;
        t->open[t->depth++] = json_text(e, "name");
    } else if (*ph == 'E') {
        if (t->depth == 0)
            return trace_fail(c, "event %zu: E with no open B on its thread", index);
        if (strcmp(t->open[--t->depth], json_text(e, "name")) != 0)
            return trace_fail(c, "event %zu: E '%s' closes B '%s'", index, json_text(e, "name"), t->open[t->depth]);
        if (ts < t->open_ts[t->depth])
            return trace_fail(c, "event %zu: E before its B", index);
    }
    return true;
}

/* Every flow id has exactly one start and one end, and its steps come between. */
static bool trace_flows(struct trace_check *c, const struct json *events)
{
    for (size_t i = 0; i < events->count; i++) {
        const struct json *e = &events->items[i];
        const char *ph = json_text(e, "ph");
        size_t starts = 0, ends = 0;

        if (strcmp(ph, "s") != 0 && strcmp(ph, "f") != 0 && strcmp(ph, "t") != 0)
            continue;
        if (json_get(e, "id") == NULL)
            return trace_fail(c, "event %zu: a flow event without an id", i);
        for (size_t k = 0; k < events->count; k++) {
            const char *other = json_text(&events->items[k], "ph");
            const struct json *id = json_get(&events->items[k], "id");

            if (id == NULL || id->number != json_get(e, "id")->number)
                continue;
            starts += strcmp(other, "s") == 0;
            ends += strcmp(other, "f") == 0;
        }
        if (starts != 1 || ends != 1)
            return trace_fail(c, "flow %g: %zu starts and %zu ends", json_get(e, "id")->number, starts, ends);
    }
    return true;
}

static bool trace_event_fields(struct trace_check *c, const struct json *e, size_t i)
{
    static const char *const numbers[] = { "ts", "pid", "tid" };
    const char *ph = json_text(e, "ph");

    if (e->type != JSON_OBJECT || ph == NULL || strlen(ph) != 1 || strchr("BEXisftM", *ph) == NULL)
        return trace_fail(c, "event %zu: no valid ph", i);
    if (json_text(e, "name") == NULL)
        return trace_fail(c, "event %zu: no name", i);
    for (size_t k = 0; k < 3; k++) {
        if (json_get(e, numbers[k]) == NULL || json_get(e, numbers[k])->type != JSON_NUMBER)
            return trace_fail(c, "event %zu: no numeric %s", i, numbers[k]);
    }
    if (*ph == 'X' && json_get(e, "dur") == NULL)
        return trace_fail(c, "event %zu: X without dur", i);
    return true;
}

/* Whether text is a valid trace: c->problem says why not. */
static bool trace_valid(const char *text, struct json *root, struct trace_check *c)
{
    struct json_reader r = { text, false };
    const struct json *events;

    json_value(&r, root);
    json_skip(&r);
    if (r.failed || *r.p != '\0')
        return trace_fail(c, "not JSON (at offset %zu)", (size_t)(r.p - text));
    events = json_get(root, "traceEvents");
    if (events == NULL || events->type != JSON_ARRAY)
        return trace_fail(c, "no traceEvents array");
    for (size_t i = 0; i < events->count; i++) {
        if (!trace_event_fields(c, &events->items[i], i) ||
            !trace_nesting(c, &events->items[i], json_text(&events->items[i], "ph"), i))
            return false;
    }
    for (size_t t = 0; t < c->track_count; t++) {
        if (c->tracks[t].depth != 0)
            return trace_fail(c, "thread %g: B '%s' never ends", c->tracks[t].tid, c->tracks[t].open[0]);
    }
    return trace_flows(c, events);
}

/* Reads and validates a timeline; the caller frees root. */
static const struct json *load_valid_trace(const char *path, struct json *root)
{
    static struct trace_check check;
    char *text = read_file(path);
    bool valid;

    memset(&check, 0, sizeof check);
    memset(root, 0, sizeof *root);
    valid = trace_valid(text, root, &check);
    if (!valid)
        print_message("%s: %s\n", path, check.problem);
    free(text);
    assert_true(valid);
    return json_get(root, "traceEvents");
}

/* How many events have this phase and category, and a name containing `name` (NULL: any). */
static size_t count_events(const struct json *events, const char *ph, const char *cat, const char *name)
{
    size_t n = 0;

    for (size_t i = 0; i < events->count; i++) {
        const struct json *e = &events->items[i];
        const char *c = json_text(e, "cat");

        n += strcmp(json_text(e, "ph"), ph) == 0 && (cat == NULL || (c && strcmp(c, cat) == 0)) &&
             (name == NULL || strstr(json_text(e, "name"), name) != NULL);
    }
    return n;
}

/* The tid of the thread whose thread_name metadata contains name (-1: none). */
static double tid_named(const struct json *events, const char *name)
{
    for (size_t i = 0; i < events->count; i++) {
        const struct json *e = &events->items[i];
        const struct json *args = json_get(e, "args");

        if (strcmp(json_text(e, "name"), "thread_name") == 0 && args && strstr(json_text(args, "name"), name))
            return json_get(e, "tid")->number;
    }
    return -1;
}

/* ---- The scenario's driver ---- */

static struct {
    KSPIN_LOCK lock;
    KDPC dpc;
    KEVENT done;
    PDEVICE_OBJECT device;
    LARGE_INTEGER dispatch_wait;    /* the timeout its write routine waits with (QuadPart 1: none) */
} tl;

static VOID NTAPI tl_dpc_routine(PKDPC dpc, PVOID context, PVOID argument1, PVOID argument2)
{
    (void)dpc;
    (void)context;
    (void)argument1;
    (void)argument2;
    KeAcquireSpinLockAtDpcLevel(&tl.lock);
    KeReleaseSpinLockFromDpcLevel(&tl.lock);
    KeSetEvent(&tl.done, IO_NO_INCREMENT, FALSE);
}

static NTSTATUS tl_complete(PIRP irp, ULONG_PTR information)
{
    irp->IoStatus.Status = STATUS_SUCCESS;
    irp->IoStatus.Information = information;
    IoCompleteRequest(irp, IO_NO_INCREMENT);
    return STATUS_SUCCESS;
}

static NTSTATUS NTAPI tl_create_close(PDEVICE_OBJECT device, PIRP irp)
{
    (void)device;
    return tl_complete(irp, 0);
}

static NTSTATUS NTAPI tl_write(PDEVICE_OBJECT device, PIRP irp)
{
    KIRQL old;
    KEVENT never;

    (void)device;
    if (tl.dispatch_wait.QuadPart != 1) {
        KeInitializeEvent(&never, NotificationEvent, FALSE);
        KeWaitForSingleObject(&never, Executive, KernelMode, FALSE, &tl.dispatch_wait);
    }
    KeAcquireSpinLock(&tl.lock, &old);
    KeInsertQueueDpc(&tl.dpc, NULL, NULL);
    KeReleaseSpinLock(&tl.lock, old);
    return tl_complete(irp, IoGetCurrentIrpStackLocation(irp)->Parameters.Write.Length);
}

static VOID NTAPI tl_unload(PDRIVER_OBJECT driver)
{
    IoDeleteDevice(driver->DeviceObject);
}

static NTSTATUS NTAPI tl_entry(PDRIVER_OBJECT driver, PUNICODE_STRING registry_path)
{
    UNICODE_STRING name;
    NTSTATUS status;

    (void)registry_path;
    driver->MajorFunction[IRP_MJ_CREATE] = tl_create_close;
    driver->MajorFunction[IRP_MJ_CLOSE] = tl_create_close;
    driver->MajorFunction[IRP_MJ_WRITE] = tl_write;
    driver->DriverUnload = tl_unload;
    KeInitializeSpinLock(&tl.lock);
    KeInitializeDpc(&tl.dpc, tl_dpc_routine, NULL);
    RtlInitUnicodeString(&name, TL_DEVICE);
    status = IoCreateDevice(driver, 0, &name, FILE_DEVICE_UNKNOWN, 0, FALSE, &tl.device);
    if (NT_SUCCESS(status))
        tl.device->Flags &= ~DO_DEVICE_INITIALIZING;
    return status;
}

static void wait_for_done(void *context)
{
    (void)context;
    KeWaitForSingleObject(&tl.done, Executive, KernelMode, FALSE, NULL);
}

/* A waiter blocks on the event; a write's dispatch routine takes the spin lock and queues the DPC,
 * which sets the event. Then everything is undone and the kernel shut down: the file is written. */
static void run_scenario(void *unused)
{
    struct wdmsim_test_thread waiter;
    PDRIVER_OBJECT driver = NULL;
    UNICODE_STRING name;
    OBJECT_ATTRIBUTES attributes;
    IO_STATUS_BLOCK iosb;
    HANDLE handle = NULL;
    char text[] = "hello";

    (void)unused;
    KeInitializeEvent(&tl.done, NotificationEvent, FALSE);
    wdmsim_driver_load("TimelineTest", tl_entry, &driver);
    wdmsim_test_thread_start(&waiter, wait_for_done, NULL);
    wdmsim_test_settle();
    RtlInitUnicodeString(&name, TL_DEVICE);
    InitializeObjectAttributes(&attributes, &name, OBJ_CASE_INSENSITIVE | OBJ_KERNEL_HANDLE, NULL, NULL);
    ZwCreateFile(&handle, GENERIC_WRITE | SYNCHRONIZE, &attributes, &iosb, NULL, FILE_ATTRIBUTE_NORMAL, 0, FILE_OPEN,
                 FILE_SYNCHRONOUS_IO_NONALERT, NULL, 0);
    ZwWriteFile(handle, NULL, NULL, NULL, &iosb, text, sizeof text, NULL, NULL);
    wdmsim_test_thread_join(&waiter);
    ZwClose(handle);
    wdmsim_driver_unload(driver);
    wdmsim_shutdown();
}

/* A fresh kernel recording to a new file named like template (its XXXXXX replaced). */
static void boot_recording(char *path, int suffix_length)
{
    int fd = mkstemps(path, suffix_length);

    assert_true(fd >= 0);
    close(fd);
    setenv("WDMSIM_TIMELINE", path, 1);
    memset(&tl, 0, sizeof tl);
    tl.dispatch_wait.QuadPart = 1;
    wdmsim_test_boot(NULL);
}

/* ---- The cases ---- */

static void a_recorded_run_is_a_valid_trace_with_a_track_per_thread_in_its_process(void **state)
{
    char path[] = "/tmp/wdmsim-timeline-XXXXXX.json";
    struct json root;
    const struct json *events;

    (void)state;
    boot_recording(path, 5);
    run_scenario(NULL);
    events = load_valid_trace(path, &root);
    assert_true(tid_named(events, "worker-0") > 0);
    assert_true(tid_named(events, "dpc") > 0);
    assert_int_equal(count_events(events, "M", NULL, "process_name") >= 2, 1);
    json_free(&root);
    unlink(path);
}

static void the_trace_shows_irql_spin_locks_the_dpc_the_dispatch_and_its_completion_by_name(void **state)
{
    char path[] = "/tmp/wdmsim-timeline-XXXXXX.json";
    struct json root;
    const struct json *events;

    (void)state;
    boot_recording(path, 5);
    run_scenario(NULL);
    events = load_valid_trace(path, &root);
    assert_true(count_events(events, "B", "irql", "DISPATCH_LEVEL") >= 2);
    assert_true(count_events(events, "B", "spin lock", "spin lock 0x") >= 2);
    assert_int_equal(count_events(events, "B", "dpc", "tl_dpc_routine"), 1);
    assert_int_equal(count_events(events, "B", "dispatch", "tl_write"), 1);
    assert_int_equal(count_events(events, "B", "dispatch", "tl_create_close"), 2);
    assert_true(count_events(events, "B", "irp", "IoCompleteRequest") >= 3);
    json_free(&root);
    unlink(path);
}

/* The waiter's wait ends with an arrow from the DPC's KeSetEvent; each IRP's from its dispatch. */
static void flows_join_the_set_event_to_the_wait_and_each_dispatch_to_its_completion(void **state)
{
    char path[] = "/tmp/wdmsim-timeline-XXXXXX.json";
    struct json root;
    const struct json *events;
    double waiter = -1, dpc;
    bool woken_by_dpc = false;

    (void)state;
    boot_recording(path, 5);
    run_scenario(NULL);
    events = load_valid_trace(path, &root);
    dpc = tid_named(events, "dpc");
    for (size_t i = 0; i < events->count; i++) {
        const struct json *e = &events->items[i];
        const struct json *args = json_get(e, "args");

        if (strcmp(json_text(e, "ph"), "B") == 0 && args && json_text(args, "ddi") &&
            strstr(json_text(e, "name"), "NotificationEvent") && json_get(e, "tid")->number != dpc)
            waiter = json_get(e, "tid")->number;
    }
    for (size_t i = 0; i < events->count; i++) {
        const struct json *s = &events->items[i];

        if (strcmp(json_text(s, "ph"), "s") != 0 || json_get(s, "tid")->number != dpc)
            continue;
        for (size_t k = 0; k < events->count; k++) {
            const struct json *f = &events->items[k];

            woken_by_dpc |= strcmp(json_text(f, "ph"), "f") == 0 &&
                            json_get(f, "id")->number == json_get(s, "id")->number &&
                            json_get(f, "tid")->number == waiter;
        }
    }
    assert_true(woken_by_dpc);
    assert_true(count_events(events, "s", "dispatch", "IRP") >= 3);  /* create, write, close */
    assert_int_equal(count_events(events, "s", "dispatch", "IRP"), count_events(events, "f", "irp", "IRP"));
    json_free(&root);
    unlink(path);
}

/* Released out of order, two spin locks still make well-nested slices (the inner one is cut and
 * begun again). */
static void spin_locks_released_out_of_order_still_nest(void **state)
{
    char path[] = "/tmp/wdmsim-timeline-XXXXXX.json";
    KSPIN_LOCK a, b;
    KIRQL old;
    struct json root;
    const struct json *events;

    (void)state;
    boot_recording(path, 5);
    KeInitializeSpinLock(&a);
    KeInitializeSpinLock(&b);
    KeAcquireSpinLock(&a, &old);
    KeAcquireSpinLockAtDpcLevel(&b);
    KeReleaseSpinLockFromDpcLevel(&a);
    KeReleaseSpinLock(&b, old);
    wdmsim_shutdown();
    events = load_valid_trace(path, &root);
    assert_int_equal(count_events(events, "B", "spin lock", NULL), 3);     /* a, b, and b again */
    json_free(&root);
    unlink(path);
}

static void a_full_ring_keeps_the_latest_events_and_says_so_in_the_file(void **state)
{
    char path[] = "/tmp/wdmsim-timeline-XXXXXX.json";
    struct json root;
    const struct json *events;
    const struct json *other;

    (void)state;
    setenv("WDMSIM_TIMELINE_EVENTS", "16", 1);
    boot_recording(path, 5);
    run_scenario(NULL);
    events = load_valid_trace(path, &root);
    assert_int_equal(count_events(events, "i", "note", "ring full"), 1);
    other = json_get(&root, "otherData");
    assert_non_null(other);
    assert_true(json_get(other, "events_dropped")->number > 0);
    assert_true(json_get(other, "events_kept")->number <= 16);
    json_free(&root);
    unlink(path);
}

static void booting_with(void *path)
{
    setenv("WDMSIM_TIMELINE", path, 1);
    wdmsim_test_boot(NULL);
    wdmsim_shutdown();
}

static void a_file_that_cannot_be_written_is_named_on_stderr_and_the_run_goes_on(void **state)
{
    char output[4096] = "";
    FILE *out = tmpfile();
    struct wdmsim_stop result;

    (void)state;
    assert_non_null(out);
    wdmsim_run_isolated(booting_with, "/nonexistent-directory/t.json", out, 30, &result);
    rewind(out);
    output[fread(output, 1, sizeof output - 1, out)] = '\0';
    fclose(out);
    assert_int_equal(result.finished, 1);
    assert_non_null(strstr(output, "wdmsim: WDMSIM_TIMELINE: cannot write the timeline to /nonexistent-directory/t.json"));
}

static void recurse_on_a_spin_lock(void *path)
{
    KSPIN_LOCK lock;
    KIRQL old;

    setenv("WDMSIM_TIMELINE", path, 1);
    wdmsim_test_boot(NULL);
    KeInitializeSpinLock(&lock);
    KeAcquireSpinLock(&lock, &old);
    KeAcquireSpinLockAtDpcLevel(&lock);
}

/* Written on the STOP's path, with the slices still open closed and the STOP an instant. */
static void a_stop_writes_the_file_with_the_stop_as_an_instant(void **state)
{
    char path[] = "/tmp/wdmsim-timeline-XXXXXX.json";
    struct json root;
    const struct json *events;
    int fd = mkstemps(path, 5);

    (void)state;
    close(fd);
    wdmsim_assert_stops(recurse_on_a_spin_lock, path, 0x0F, WDMSIM_ANY_PARAM, "spinlock.recursive_acquire", NULL);
    events = load_valid_trace(path, &root);
    assert_int_equal(count_events(events, "i", "stop", "STOP 0x0000000F SPIN_LOCK_ALREADY_OWNED"), 1);
    json_free(&root);
    unlink(path);
}

static void a_rule_warning_is_an_instant_on_its_thread(void **state)
{
    char path[] = "/tmp/wdmsim-timeline-XXXXXX.json";
    struct json root;
    const struct json *events;

    (void)state;
    boot_recording(path, 5);
    tl.dispatch_wait.QuadPart = -10;    /* 1 us */
    run_scenario(NULL);
    events = load_valid_trace(path, &root);
    assert_int_equal(count_events(events, "i", "warning", "io.dispatch_wait_with_timeout"), 1);
    json_free(&root);
    unlink(path);
}

/* ---- The picture ---- */

/* Every element closed in order; returns how many elements there are (-1: not well formed). */
static long xml_elements(const char *text)
{
    char stack[64][32];
    int depth = 0;
    long elements = 0;

    for (const char *p = strchr(text, '<'); p != NULL; p = strchr(p + 1, '<')) {
        const char *end = strchr(p, '>');
        size_t n = strcspn(p + 1, " />\n");

        if (end == NULL)
            return -1;
        if (p[1] == '?')
            continue;
        if (p[1] == '/') {
            n = strcspn(p + 2, " >");
            if (depth == 0 || strncmp(stack[depth - 1], p + 2, n) != 0 || stack[depth - 1][n] != '\0')
                return -1;
            depth--;
        } else if (n == 0 || n >= sizeof stack[0]) {
            return -1;
        } else if (end[-1] != '/') {
            if (depth == 64)
                return -1;
            memcpy(stack[depth], p + 1, n);
            stack[depth++][n] = '\0';
            elements++;
        } else {
            elements++;
        }
    }
    return depth == 0 ? elements : -1;
}

static size_t occurrences(const char *text, const char *what)
{
    size_t n = 0;

    for (const char *p = strstr(text, what); p != NULL; p = strstr(p + 1, what))
        n++;
    return n;
}

static void a_timeline_named_svg_is_a_well_formed_picture_with_a_lane_per_thread(void **state)
{
    char path[] = "/tmp/wdmsim-timeline-XXXXXX.svg";
    char *text;

    (void)state;
    boot_recording(path, 4);
    run_scenario(NULL);
    text = read_file(path);
    assert_true(xml_elements(text) > 10);
    assert_non_null(strstr(text, "<svg xmlns=\"http://www.w3.org/2000/svg\""));
    assert_true(occurrences(text, "class=\"lane\"") >= 4);   /* main, the waiter, dpc, a worker */
    assert_non_null(strstr(text, ">dpc (tid"));
    assert_non_null(strstr(text, "tl_write"));
    assert_non_null(strstr(text, "tl_dpc_routine"));
    assert_true(occurrences(text, "class=\"flow\"") >= 1);
    free(text);
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        wdmsim_test(a_recorded_run_is_a_valid_trace_with_a_track_per_thread_in_its_process),
        wdmsim_test(the_trace_shows_irql_spin_locks_the_dpc_the_dispatch_and_its_completion_by_name),
        wdmsim_test(flows_join_the_set_event_to_the_wait_and_each_dispatch_to_its_completion),
        wdmsim_test(spin_locks_released_out_of_order_still_nest),
        wdmsim_test(a_full_ring_keeps_the_latest_events_and_says_so_in_the_file),
        wdmsim_test(a_file_that_cannot_be_written_is_named_on_stderr_and_the_run_goes_on),
        wdmsim_test(a_stop_writes_the_file_with_the_stop_as_an_instant),
        wdmsim_test(a_rule_warning_is_an_instant_on_its_thread),
        wdmsim_test(a_timeline_named_svg_is_a_well_formed_picture_with_a_lane_per_thread),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
