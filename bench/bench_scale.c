/*
 * bench_scale.c - costs that must stay flat as the kernel fills up: referencing an object, opening
 * a named device, loading a driver, each measured with few and with many of its kind live, in one
 * kernel, the two interleaved. The working set is the same in both (the same 1,000 objects, the
 * same device, one more driver), so the ratio is what the bigger tables cost, not the host's caches.
 * Simulator world: host code hosting drivers linked into the bench.
 */
#include <stdio.h>
#include <stdlib.h>

#include "bench.h"

#define SCALE_OBJECTS_FEW 1000
#define SCALE_OBJECTS_MANY 100000
#define SCALE_NAMES_FEW 100
#define SCALE_NAMES_MANY 16000
#define SCALE_DRIVERS_FEW 10
#define SCALE_DRIVERS_MANY 1000
#define SCALE_NAME_CHARS 64

static PUNICODE_STRING scale_name(UNICODE_STRING *string, WCHAR buffer[SCALE_NAME_CHARS], const char *format, long n)
{
    char text[SCALE_NAME_CHARS];
    int length = snprintf(text, sizeof text, format, n);

    for (int i = 0; i <= length; i++)
        buffer[i] = (WCHAR)text[i];
    string->Buffer = buffer;
    string->Length = (USHORT)(length * sizeof(WCHAR));
    string->MaximumLength = (USHORT)((length + 1) * sizeof(WCHAR));
    return string;
}

/* Named events: objects with a kernel handle each and a name each, which host code can make by
 * the hundred thousand. */
struct scale_events {
    PKEVENT *events;
    HANDLE *handles;
    long count;
};

static bool scale_events_grow(struct scale_events *set, long count)
{
    WCHAR buffer[SCALE_NAME_CHARS];
    UNICODE_STRING name;

    for (; set->count < count; set->count++) {
        scale_name(&name, buffer, "\\BaseNamedObjects\\Scale%ld", set->count);
        set->events[set->count] = IoCreateNotificationEvent(&name, &set->handles[set->count]);
        if (set->events[set->count] == NULL)
            return false;
    }
    return true;
}

static void scale_events_close(struct scale_events *set)
{
    for (long i = 0; i < set->count; i++)
        ZwClose(set->handles[i]);
    set->count = 0;
}

static void scale_boot(void)
{
    struct wdmsim_config config = { .clock = WDMSIM_CLOCK_REAL };

    wdmsim_boot(&config);
}

static bool scale_shutdown(const char *figure)
{
    if (wdmsim_shutdown() == 0)
        return true;
    bench_report_failure(figure, "the kernel reported leaks at shutdown");
    return false;
}

/* ---- Objects ---- */

/* Nanoseconds per reference + dereference by handle and by pointer, over the first 1,000 objects. */
static double scale_objects_round(const struct scale_events *set, long rounds)
{
    double start = bench_now_ns();

    for (long r = 0; r < rounds; r++) {
        for (long i = 0; i < SCALE_OBJECTS_FEW; i++) {
            PVOID object;

            if (!NT_SUCCESS(ObReferenceObjectByHandle(set->handles[i], EVENT_ALL_ACCESS, *ExEventObjectType, KernelMode,
                                                      &object, NULL)))
                abort();
            ObReferenceObject(object);
            ObDereferenceObject(object);
            ObDereferenceObject(object);
        }
    }
    return (bench_now_ns() - start) / (double)(rounds * SCALE_OBJECTS_FEW);
}

static void scale_objects(const struct bench_options *options)
{
    long rounds = options->mode == BENCH_FULL ? 200 : options->mode == BENCH_QUICK ? 50 : 1;
    long many = options->mode == BENCH_SMOKE ? 2 * SCALE_OBJECTS_FEW : SCALE_OBJECTS_MANY;
    double few_ns[options->repeats], many_ns[options->repeats];
    struct scale_events set = { malloc(many * sizeof(PKEVENT)), malloc(many * sizeof(HANDLE)), 0 };
    char note[200];

    if (set.events == NULL || set.handles == NULL)
        abort();
    scale_boot();
    for (int r = 0; r < options->repeats; r++) {
        if (!scale_events_grow(&set, SCALE_OBJECTS_FEW))
            break;
        few_ns[r] = scale_objects_round(&set, rounds);
        if (!scale_events_grow(&set, many))
            break;
        many_ns[r] = scale_objects_round(&set, rounds);
        scale_events_close(&set);
    }
    free(set.events);
    free(set.handles);
    if (set.count != 0) {
        bench_report_failure("scale_objects", "IoCreateNotificationEvent failed");
        return;
    }
    if (!scale_shutdown("scale_objects"))
        return;
    snprintf(note, sizeof note, "ObReferenceObjectByHandle + ObReferenceObject + 2 ObDereferenceObject on the same "
             "%d objects, with %ld live vs %d live", SCALE_OBJECTS_FEW, many, SCALE_OBJECTS_FEW);
    bench_report("scale_objects", true, bench_median(many_ns, (size_t)options->repeats),
                 bench_median(few_ns, (size_t)options->repeats), "ns/op", 1.5, note);
}

/* ---- Names ---- */

static NTSTATUS NTAPI scale_complete(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    UNREFERENCED_PARAMETER(DeviceObject);
    Irp->IoStatus.Status = STATUS_SUCCESS;
    Irp->IoStatus.Information = 0;
    IoCompleteRequest(Irp, IO_NO_INCREMENT);
    return STATUS_SUCCESS;
}

static VOID NTAPI scale_unload(PDRIVER_OBJECT DriverObject)
{
    while (DriverObject->DeviceObject != NULL)
        IoDeleteDevice(DriverObject->DeviceObject);
}

/* A device that opens and closes, and nothing more. */
static NTSTATUS NTAPI scale_device_entry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    UNICODE_STRING name = RTL_CONSTANT_STRING(L"\\Device\\BenchScale");
    PDEVICE_OBJECT device;

    UNREFERENCED_PARAMETER(RegistryPath);
    DriverObject->MajorFunction[IRP_MJ_CREATE] = scale_complete;
    DriverObject->MajorFunction[IRP_MJ_CLOSE] = scale_complete;
    DriverObject->DriverUnload = scale_unload;
    return IoCreateDevice(DriverObject, 0, &name, FILE_DEVICE_UNKNOWN, 0, FALSE, &device);
}

/* Nanoseconds per ZwCreateFile + ZwClose of \Device\BenchScale. */
static double scale_names_round(long opens)
{
    UNICODE_STRING name = RTL_CONSTANT_STRING(L"\\Device\\BenchScale");
    OBJECT_ATTRIBUTES attributes;
    IO_STATUS_BLOCK iosb;
    double start = bench_now_ns();

    InitializeObjectAttributes(&attributes, &name, OBJ_CASE_INSENSITIVE | OBJ_KERNEL_HANDLE, NULL, NULL);
    for (long i = 0; i < opens; i++) {
        HANDLE handle;

        if (!NT_SUCCESS(ZwCreateFile(&handle, GENERIC_READ, &attributes, &iosb, NULL, 0, FILE_SHARE_READ, FILE_OPEN, 0,
                                     NULL, 0)))
            abort();
        ZwClose(handle);
    }
    return (bench_now_ns() - start) / (double)opens;
}

static void scale_names(const struct bench_options *options)
{
    long opens = options->mode == BENCH_FULL ? 100000 : options->mode == BENCH_QUICK ? 20000 : 10;
    long many = options->mode == BENCH_SMOKE ? 2 * SCALE_NAMES_FEW : SCALE_NAMES_MANY;
    double few_ns[options->repeats], many_ns[options->repeats];
    struct scale_events set = { malloc(many * sizeof(PKEVENT)), malloc(many * sizeof(HANDLE)), 0 };
    PDRIVER_OBJECT driver;
    char note[200];

    if (set.events == NULL || set.handles == NULL)
        abort();
    scale_boot();
    if (!NT_SUCCESS(wdmsim_driver_load("BenchScale", scale_device_entry, &driver))) {
        bench_report_failure("scale_names", "cannot load the device's driver");
        return;
    }
    /* The kernel names a few things of its own: the device, its driver. */
    for (int r = 0; r < options->repeats && set.count == 0; r++) {
        if (!scale_events_grow(&set, SCALE_NAMES_FEW))
            break;
        few_ns[r] = scale_names_round(opens);
        if (!scale_events_grow(&set, many))
            break;
        many_ns[r] = scale_names_round(opens);
        scale_events_close(&set);
    }
    free(set.events);
    free(set.handles);
    wdmsim_driver_unload(driver);
    if (set.count != 0) {
        bench_report_failure("scale_names", "IoCreateNotificationEvent failed");
        return;
    }
    if (!scale_shutdown("scale_names"))
        return;
    snprintf(note, sizeof note, "ZwCreateFile + ZwClose of a named device with %ld named events beside it vs %d",
             many, SCALE_NAMES_FEW);
    bench_report("scale_names", true, bench_median(many_ns, (size_t)options->repeats),
                 bench_median(few_ns, (size_t)options->repeats), "ns/open", 1.5, note);
}

/* ---- Drivers ---- */

static VOID NTAPI scale_empty_unload(PDRIVER_OBJECT DriverObject)
{
    UNREFERENCED_PARAMETER(DriverObject);
}

static NTSTATUS NTAPI scale_empty_entry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    UNREFERENCED_PARAMETER(RegistryPath);
    DriverObject->DriverUnload = scale_empty_unload;
    return STATUS_SUCCESS;
}

struct scale_drivers {
    PDRIVER_OBJECT *loaded;
    long count;
};

static bool scale_drivers_grow(struct scale_drivers *set, long count)
{
    char name[32];

    for (; set->count < count; set->count++) {
        snprintf(name, sizeof name, "Scale%ld", set->count);
        if (!NT_SUCCESS(wdmsim_driver_load(name, scale_empty_entry, &set->loaded[set->count])))
            return false;
    }
    return true;
}

/* Nanoseconds per load of one more driver (each unloaded after, untimed). */
static double scale_drivers_round(long loads)
{
    double total = 0;
    char name[32];

    for (long i = 0; i < loads; i++) {
        PDRIVER_OBJECT driver;
        double start = bench_now_ns();

        snprintf(name, sizeof name, "ScaleExtra%ld", i);
        if (!NT_SUCCESS(wdmsim_driver_load(name, scale_empty_entry, &driver)))
            abort();
        total += bench_now_ns() - start;
        wdmsim_driver_unload(driver);
    }
    return total / (double)loads;
}

static void scale_drivers(const struct bench_options *options)
{
    long loads = options->mode == BENCH_FULL ? 2000 : options->mode == BENCH_QUICK ? 500 : 4;
    long many = options->mode == BENCH_SMOKE ? 2 * SCALE_DRIVERS_FEW : SCALE_DRIVERS_MANY;
    double few_ns[options->repeats], many_ns[options->repeats];
    struct scale_drivers set = { malloc(many * sizeof(PDRIVER_OBJECT)), 0 };
    bool loaded = true;
    char note[160];

    if (set.loaded == NULL)
        abort();
    scale_boot();
    for (int r = 0; r < options->repeats && loaded; r++) {
        loaded = scale_drivers_grow(&set, SCALE_DRIVERS_FEW);
        few_ns[r] = loaded ? scale_drivers_round(loads) : 0;
        loaded = loaded && scale_drivers_grow(&set, many);
        many_ns[r] = loaded ? scale_drivers_round(loads) : 0;
        while (set.count > 0)
            wdmsim_driver_unload(set.loaded[--set.count]);
    }
    free(set.loaded);
    if (!loaded) {
        bench_report_failure("scale_drivers", "wdmsim_driver_load failed");
        return;
    }
    if (!scale_shutdown("scale_drivers"))
        return;
    snprintf(note, sizeof note, "wdmsim_driver_load of a driver with an empty DriverEntry, %ld loaded vs %d", many,
             SCALE_DRIVERS_FEW);
    bench_report("scale_drivers", true, bench_median(many_ns, (size_t)options->repeats),
                 bench_median(few_ns, (size_t)options->repeats), "ns/load", 1.5, note);
}

void bench_scale(const struct bench_options *options)
{
    scale_objects(options);
    scale_names(options);
    scale_drivers(options);
}
