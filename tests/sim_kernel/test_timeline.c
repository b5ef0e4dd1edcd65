/*
 * test_timeline.c - the timeline a run writes under WDMSIM_TIMELINE: a small scenario (a driver
 * whose write dispatch routine takes a spin lock and queues a DPC, the DPC sets an event a test
 * thread waits for) is recorded, and the file is checked against the Chrome trace-event format
 * with a validator of our own (required fields, B/E well nested per thread, flows paired), then
 * for what it must show. Also the SVG picture, a file that cannot be written, a full ring, and the
 * instants of a STOP and of a warning.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wdmsim_test_threads.h"
#include "wdmsim_trace_check.h"

#define TL_DEVICE L"\\Device\\TimelineTest"

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
    assert_true(count_events(events, "s", "irp", "IRP") >= 3);   /* create, write, close */
    assert_int_equal(count_events(events, "s", "irp", "IRP"), count_events(events, "f", "irp", "IRP"));
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

static void a_ring_size_that_is_no_number_is_named_on_stderr_and_the_default_used(void **state)
{
    char path[] = "/tmp/wdmsim-timeline-XXXXXX.json";
    char output[4096] = "";
    FILE *out = tmpfile();
    struct wdmsim_stop result;
    struct json root;
    int fd = mkstemps(path, 5);

    (void)state;
    assert_non_null(out);
    close(fd);
    setenv("WDMSIM_TIMELINE_EVENTS", "lots", 1);
    wdmsim_run_isolated(booting_with, path, out, 30, &result);
    rewind(out);
    output[fread(output, 1, sizeof output - 1, out)] = '\0';
    fclose(out);
    assert_int_equal(result.finished, 1);
    assert_non_null(strstr(output, "wdmsim: WDMSIM_TIMELINE_EVENTS=lots is not a number of events from 16 to"));
    load_valid_trace(path, &root);
    assert_int_equal(json_get(json_get(&root, "otherData"), "ring_capacity")->number, 65536);
    json_free(&root);
    unlink(path);
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
        wdmsim_test(a_ring_size_that_is_no_number_is_named_on_stderr_and_the_default_used),
        wdmsim_test(a_stop_writes_the_file_with_the_stop_as_an_instant),
        wdmsim_test(a_rule_warning_is_an_instant_on_its_thread),
        wdmsim_test(a_timeline_named_svg_is_a_well_formed_picture_with_a_lane_per_thread),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
