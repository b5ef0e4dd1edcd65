/*
 * fuzz_debugprint_driver.c - the DebugPrint driver (fake_drivers/debugprint) through the I/O
 * manager, as an application drives it: writes, reads and the statistics IOCTL of any sizes,
 * zero included, on an overlapped handle (the Monitor's) or a synchronous one, and what each read
 * returns decoded as the Monitor decodes it (tools/monitor.c). One kernel and one driver serve
 * the whole process; for each input the application's thread (fuzz_app.c) opens the device,
 * makes its calls and closes it, and then the queue is drained.
 *
 * The target keeps a model of the driver - its event queue and statistics - and checks every
 * status, byte count and byte against it: nothing lost, nothing made up, events in order, a read
 * cut to its buffer. A synchronous read with nothing queued would wait for ever (the target has
 * no second writer), so the target never makes one; everything else an application may do is
 * fair.
 */
#include <stdlib.h>

#include "DbgPrtGUID.h"
#include "fuzz_app.h"
#include "fuzz_check.h"
#include "fuzz_input.h"
#include "monitor.h"

#define DRIVER_MAX_OPS 64
#define DRIVER_MAX_LENGTH 1100

NTSTATUS NTAPI DebugPrintDriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath);

struct model_event {
    uint8_t *data;
    ULONG length;
};

/* What the driver should hold and have counted. */
struct driver_model {
    struct model_event queue[DRIVER_MAX_OPS];
    int head, tail;
    DBGPRT_STATISTICS expected;
};

/* The read an overlapped handle left pending, until a write or the close completes it. */
struct pending_read {
    bool active;
    uint8_t *buffer;
    ULONG length;
    IO_STATUS_BLOCK iosb;
};

struct driver_case {
    struct fuzz_input in;
    bool synchronous;
    HANDLE device;
    struct pending_read pending;
};

static bool started;
static HANDLE drain_handle;         /* the host's kernel handle, for draining between inputs */
static struct driver_model model;

static HANDLE open_device(ULONG attributes, ACCESS_MASK access, ULONG options)
{
    UNICODE_STRING name;
    OBJECT_ATTRIBUTES object;
    IO_STATUS_BLOCK iosb;
    HANDLE handle = NULL;
    NTSTATUS status;

    RtlInitUnicodeString(&name, L"\\Device\\PHDDebugPrint");
    InitializeObjectAttributes(&object, &name, OBJ_CASE_INSENSITIVE | attributes, NULL, NULL);
    status = ZwCreateFile(&handle, access, &object, &iosb, NULL, 0, FILE_SHARE_READ | FILE_SHARE_WRITE, FILE_OPEN,
                          options, NULL, 0);
    FUZZ_CHECK(status == STATUS_SUCCESS, "opening the DebugPrint device: %s", wdmsim_status_text(status).text);
    return handle;
}

static void driver_fuzz_start(void)
{
    struct wdmsim_config config = { .clock = WDMSIM_CLOCK_VIRTUAL, .time_zone_bias_set = 1 };
    PDRIVER_OBJECT driver;

    wdmsim_boot(&config);
    FUZZ_CHECK(wdmsim_driver_load("DebugPrint", DebugPrintDriverEntry, &driver) == STATUS_SUCCESS,
               "the DebugPrint driver did not load");
    fuzz_app_start("FuzzApp");
    started = true;
    drain_handle = open_device(OBJ_KERNEL_HANDLE, GENERIC_READ | GENERIC_WRITE, 0);
}

/* ---- The model ---- */

static int model_queued(void)
{
    return model.tail - model.head;
}

static void model_push(const uint8_t *data, ULONG length)
{
    struct model_event *e = &model.queue[model.tail++ % DRIVER_MAX_OPS];

    e->data = malloc(length);
    FUZZ_CHECK(e->data != NULL, "out of memory");
    memcpy(e->data, data, length);
    e->length = length;
    model.expected.Received++;
    model.expected.Queued++;
}

/* The head event handed to a read of length bytes, which got count bytes into buffer. */
static void model_read(const uint8_t *buffer, ULONG length, ULONG_PTR count)
{
    struct model_event *e = &model.queue[model.head++ % DRIVER_MAX_OPS];
    ULONG expected = e->length < length ? e->length : length;
    struct monitor_event decoded;

    FUZZ_CHECK(count == expected, "a %u-byte read of a %u-byte event returned %lu bytes", length, e->length,
               (unsigned long)count);
    FUZZ_CHECK(memcmp(buffer, e->data, expected) == 0, "a read returned bytes that were not written");
    monitor_decode(buffer, (ULONG)count, &decoded);
    model.expected.Read++;
    model.expected.Queued--;
    if (expected < e->length)
        model.expected.Truncated++;
    free(e->data);
}

static void check_statistics(const DBGPRT_STATISTICS *s)
{
    const DBGPRT_STATISTICS *e = &model.expected;

    FUZZ_CHECK(s->Received == e->Received && s->Read == e->Read && s->Truncated == e->Truncated &&
                   s->Dropped == 0 && s->Cleared == 0 && s->Queued == e->Queued,
               "statistics: received %u/%u read %u/%u truncated %u/%u dropped %u cleared %u queued %u/%u",
               s->Received, e->Received, s->Read, e->Read, s->Truncated, e->Truncated, s->Dropped, s->Cleared,
               s->Queued, e->Queued);
}

/* ---- The application's calls ---- */

static PLARGE_INTEGER byte_offset(struct driver_case *c, LARGE_INTEGER *zero)
{
    zero->QuadPart = 0;
    return c->synchronous && fuzz_u8(&c->in) % 2 ? NULL : zero;
}

static void app_write(struct driver_case *c)
{
    ULONG length = fuzz_u16(&c->in) % DRIVER_MAX_LENGTH;
    uint8_t *data = malloc(length > 0 ? length : 1);
    LARGE_INTEGER zero;
    IO_STATUS_BLOCK iosb;
    NTSTATUS status;

    FUZZ_CHECK(data != NULL, "out of memory");
    memset(data, 0, length);
    fuzz_bytes(&c->in, data, length);
    status = ZwWriteFile(c->device, NULL, NULL, NULL, &iosb, length > 0 ? data : NULL, length,
                         byte_offset(c, &zero), NULL);
    FUZZ_CHECK(status == STATUS_SUCCESS && iosb.Information == length, "a %u-byte write: %s, %lu bytes", length,
               wdmsim_status_text(status).text, (unsigned long)iosb.Information);
    if (length > 0)
        model_push(data, length);
    free(data);
    /* The write completed the pending read before it returned, in this thread. */
    if (c->pending.active && model_queued() > 0) {
        FUZZ_CHECK(c->pending.iosb.Status == STATUS_SUCCESS, "the pending read: %s",
                   wdmsim_status_text(c->pending.iosb.Status).text);
        model_read(c->pending.buffer, c->pending.length, c->pending.iosb.Information);
        c->pending.active = false;
        free(c->pending.buffer);
    }
}

static void app_read(struct driver_case *c)
{
    ULONG length = fuzz_u8(&c->in) % 4 == 0 ? 0 : fuzz_u16(&c->in) % DRIVER_MAX_LENGTH;
    uint8_t *buffer;
    IO_STATUS_BLOCK iosb = { .Status = STATUS_PENDING };
    LARGE_INTEGER zero;
    NTSTATUS status;

    if (length > 0 && model_queued() == 0 && c->synchronous)
        return;
    buffer = malloc(length > 0 ? length : 1);
    FUZZ_CHECK(buffer != NULL, "out of memory");
    if (length > 0 && model_queued() == 0 && !c->pending.active) {
        zero.QuadPart = 0;
        c->pending = (struct pending_read){ .active = true, .buffer = buffer, .length = length,
                                            .iosb = { .Status = STATUS_PENDING } };
        status = ZwReadFile(c->device, NULL, NULL, NULL, &c->pending.iosb, buffer, length, &zero, NULL);
        FUZZ_CHECK(status == STATUS_PENDING, "a read with nothing queued: %s", wdmsim_status_text(status).text);
        return;
    }
    status = ZwReadFile(c->device, NULL, NULL, NULL, &iosb, length > 0 ? buffer : NULL, length, byte_offset(c, &zero),
                        NULL);
    if (length == 0)
        FUZZ_CHECK(status == STATUS_SUCCESS && iosb.Information == 0, "a zero-length read: %s, %lu bytes",
                   wdmsim_status_text(status).text, (unsigned long)iosb.Information);
    else if (model_queued() == 0)
        FUZZ_CHECK(status == STATUS_UNSUCCESSFUL, "a second pending read: %s", wdmsim_status_text(status).text);
    else {
        FUZZ_CHECK(status == STATUS_SUCCESS, "a read of a queued event: %s", wdmsim_status_text(status).text);
        model_read(buffer, length, iosb.Information);
    }
    free(buffer);
}

static void app_statistics(struct driver_case *c)
{
    ULONG length = fuzz_u8(&c->in) % (2 * sizeof(DBGPRT_STATISTICS));
    DBGPRT_STATISTICS *s = malloc(length > 0 ? length : 1);
    IO_STATUS_BLOCK iosb;
    NTSTATUS status;

    FUZZ_CHECK(s != NULL, "out of memory");
    status = ZwDeviceIoControlFile(c->device, NULL, NULL, NULL, &iosb, IOCTL_DEBUGPRINT_GET_STATISTICS, NULL, 0,
                                   length > 0 ? s : NULL, length);
    if (length < sizeof *s) {
        FUZZ_CHECK(status == STATUS_BUFFER_TOO_SMALL, "statistics into %u bytes: %s", length, wdmsim_status_text(status).text);
    } else {
        FUZZ_CHECK(status == STATUS_SUCCESS && iosb.Information == sizeof *s, "statistics: %s",
                   wdmsim_status_text(status).text);
        check_statistics(s);
    }
    free(s);
}

/* The application's thread: open, the calls, close (whose cleanup cancels a pending read). */
static void app_run(void *context)
{
    struct driver_case *c = context;
    ULONG options = c->synchronous ? FILE_SYNCHRONOUS_IO_NONALERT : 0;

    c->device = open_device(0, GENERIC_READ | GENERIC_WRITE | SYNCHRONIZE, options);
    for (int op = 0; op < DRIVER_MAX_OPS && fuzz_left(&c->in) > 0; op++) {
        switch (fuzz_u8(&c->in) % 4) {
        case 0:
        case 1: app_write(c); break;
        case 2: app_read(c); break;
        default: app_statistics(c); break;
        }
    }
    ZwClose(c->device);
    if (c->pending.active) {
        FUZZ_CHECK(c->pending.iosb.Status == STATUS_CANCELLED && c->pending.iosb.Information == 0,
                   "a pending read at close: %s", wdmsim_status_text(c->pending.iosb.Status).text);
        free(c->pending.buffer);
    }
}

/* Reads what the input left queued, so the next input starts from an empty queue. */
static void drain(void)
{
    static uint8_t buffer[2048];

    while (model_queued() > 0) {
        LARGE_INTEGER zero = { .QuadPart = 0 };
        IO_STATUS_BLOCK iosb;
        NTSTATUS status = ZwReadFile(drain_handle, NULL, NULL, NULL, &iosb, buffer, sizeof buffer, &zero, NULL);

        FUZZ_CHECK(status == STATUS_SUCCESS, "draining: %s", wdmsim_status_text(status).text);
        model_read(buffer, sizeof buffer, iosb.Information);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct driver_case c = { .in = { data, size, 0 } };

    if (!started)
        driver_fuzz_start();
    c.synchronous = fuzz_u8(&c.in) % 4 == 0;
    fuzz_app_run(app_run, &c);
    drain();
    return 0;
}
