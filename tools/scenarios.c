/*
 * scenarios.c - the scenarios `wdmsim explore` ships. Each runs on a fresh kernel in the
 * explorer's child, as one schedule: it loads the driver modules, races simulated threads
 * (wdmsim_thread_start, never raw pthreads, so a schedule replays), checks what it can count, and
 * unloads everything, so the shutdown after it finds nothing left. A failed check prints what was
 * wrong on stderr, which the explorer shows as what the schedule printed, and stops the machine
 * with KeBugCheckEx(SCENARIO_CHECK_FAILED | line): a CMocka assert cannot work in the child.
 * Simulator world: host code; the printers run TraceDrv's own copy of DebugPrint as its code.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ntifs.h>

#include "DbgPrtGUID.h"
#include "DebugPrint.h"
#include "TraceDrv.h"
#include "monitor.h"
#include "scenarios.h"

#define SCENARIO_MAX_ROWS 64
#define SCENARIO_MS (-10000LL)
/* How often (1 ms apart) the scenario looks whether the Monitor has read every event. */
#define SCENARIO_CATCH_UP_POLLS 1000
/* Messages per printer: enough for a print to meet a close in the middle of a series. */
#define SCENARIO_SERIES 3

#define CHECK(ok, a, b, ...) scenario_check((ok), __LINE__, (ULONG_PTR)(a), (ULONG_PTR)(b), __VA_ARGS__)

typedef VOID debugprint_fn(const char *Format, ...);
typedef VOID debugprint_close_fn(VOID);
typedef VOID debugprint_statistics_fn(PDEBUGPRINT_STATISTICS Statistics);

static void scenario_check(bool ok, int line, ULONG_PTR a, ULONG_PTR b, const char *format, ...)
    __attribute__((format(printf, 5, 6)));

static void scenario_check(bool ok, int line, ULONG_PTR a, ULONG_PTR b, const char *format, ...)
{
    va_list args;

    if (ok)
        return;
    fflush(stdout);
    fprintf(stderr, "scenario check failed (scenarios.c:%d): ", line);
    va_start(args, format);
    vfprintf(stderr, format, args);
    va_end(args);
    fprintf(stderr, "\n");
    KeBugCheckEx(SCENARIO_CHECK_FAILED | (ULONG)line, a, b, 0, 0);
}

/* ---- Opening devices, the DebugPrint driver's statistics ---- */

static NTSTATUS scenario_open(PCWSTR name, ULONG attributes, ACCESS_MASK access, PHANDLE handle)
{
    UNICODE_STRING unicode;
    OBJECT_ATTRIBUTES object;
    IO_STATUS_BLOCK iosb;

    RtlInitUnicodeString(&unicode, name);
    InitializeObjectAttributes(&object, &unicode, OBJ_CASE_INSENSITIVE | attributes, NULL, NULL);
    return ZwCreateFile(handle, access, &object, &iosb, NULL, 0, FILE_SHARE_READ | FILE_SHARE_WRITE, FILE_OPEN, 0,
                        NULL, 0);
}

/* Through its IOCTL, with a kernel handle of its own. */
static DBGPRT_STATISTICS debugprint_driver_statistics(void)
{
    DBGPRT_STATISTICS s = { 0 };
    IO_STATUS_BLOCK iosb;
    HANDLE device;
    NTSTATUS status = scenario_open(DEBUGPRINT_DEVICE_NAME, OBJ_KERNEL_HANDLE, GENERIC_READ | GENERIC_WRITE, &device);

    CHECK(NT_SUCCESS(status), status, 0, "opening the DebugPrint driver for its statistics: %s", wdmsim_status_text(status).text);
    status = ZwDeviceIoControlFile(device, NULL, NULL, NULL, &iosb, IOCTL_DEBUGPRINT_GET_STATISTICS, NULL, 0, &s,
                                   sizeof s);
    CHECK(NT_SUCCESS(status), status, 0, "IOCTL_DEBUGPRINT_GET_STATISTICS: %s", wdmsim_status_text(status).text);
    ZwClose(device);
    return s;
}

static void delay_ms(LONGLONG milliseconds)
{
    LARGE_INTEGER interval = { .QuadPart = milliseconds * SCENARIO_MS };

    KeDelayExecutionThread(KernelMode, FALSE, &interval);
}

static PDRIVER_OBJECT scenario_load(const char *path, const char *name)
{
    PDRIVER_OBJECT driver = NULL;
    NTSTATUS status = wdmsim_driver_load_module(path, name, &driver);

    CHECK(NT_SUCCESS(status), status, 0, "loading %s from %s: %s", name, path, wdmsim_status_text(status).text);
    return driver;
}

/* ---- The pipeline: the DebugPrint driver, the Monitor, TraceDrv ---- */

struct pipeline {
    PDRIVER_OBJECT debugprint, tracedrv;
    debugprint_fn *print;                   /* TraceDrv's own copy of DebugPrint */
    debugprint_close_fn *close;
    debugprint_statistics_fn *statistics;
    struct monitor *monitor;
    FILE *tsv;                              /* the Monitor's rows, saved in memory */
    char *text;
    size_t text_size;
    size_t rows;                            /* the events the Monitor showed */
    const char *message[SCENARIO_MAX_ROWS]; /* TraceDrv's, in arrival order, into text */
    size_t messages;
};

static void *tracedrv_symbol(const struct pipeline *p, const char *name)
{
    void *symbol = wdmsim_driver_symbol(p->tracedrv, name);

    CHECK(symbol != NULL, 0, 0, "TraceDrv has no symbol %s", name);
    return symbol;
}

/* The Monitor shows its rows on stdout: the explorer prints them when the schedule fails. */
static void pipeline_start(struct pipeline *p, const struct scenario_modules *modules)
{
    memset(p, 0, sizeof *p);
    p->debugprint = scenario_load(modules->debugprint, "DebugPrint");
    p->tsv = open_memstream(&p->text, &p->text_size);
    CHECK(p->tsv != NULL, 0, 0, "open_memstream failed");
    p->monitor = monitor_start(stdout, p->tsv, MONITOR_SHOW_MILLISECONDS);
    CHECK(p->monitor != NULL, 0, 0, "the Monitor could not open the DebugPrint driver");
    p->tracedrv = scenario_load(modules->tracedrv, "TraceDrv");
    p->print = (debugprint_fn *)tracedrv_symbol(p, "DebugPrint");
    p->close = (debugprint_close_fn *)tracedrv_symbol(p, "DebugPrintClose");
    p->statistics = (debugprint_statistics_fn *)tracedrv_symbol(p, "DebugPrintGetStatistics");
}

/* TraceDrv's DebugPrint statistics, with the identity that holds at every moment. */
static DEBUGPRINT_STATISTICS tracedrv_statistics(const struct pipeline *p)
{
    DEBUGPRINT_STATISTICS s;

    p->statistics(&s);
    CHECK(s.Produced == s.Delivered + s.Cleared + s.Dropped + s.Queued, s.Produced, s.Delivered,
          "TraceDrv's DebugPrint: produced %u != delivered %u + cleared %u + dropped %u + queued %u", s.Produced,
          s.Delivered, s.Cleared, s.Dropped, s.Queued);
    return s;
}

/* Once TraceDrv writes no more: waits for the Monitor to read every event the driver holds. */
static DBGPRT_STATISTICS pipeline_catch_up(void)
{
    DBGPRT_STATISTICS s = debugprint_driver_statistics();

    for (int i = 0; i < SCENARIO_CATCH_UP_POLLS && s.Queued != 0; i++) {
        delay_ms(1);
        s = debugprint_driver_statistics();
    }
    CHECK(s.Queued == 0, s.Queued, s.Received, "the Monitor left %u of %u events unread for %d ms", s.Queued,
          s.Received, SCENARIO_CATCH_UP_POLLS);
    CHECK(s.Read == s.Received && s.Dropped == 0 && s.Truncated == 0, s.Read, s.Received,
          "the DebugPrint driver received %u events, handed %u to the Monitor, dropped %u, truncated %u", s.Received,
          s.Read, s.Dropped, s.Truncated);
    return s;
}

/* Splits the Monitor's saved rows (driver, time, message) and keeps TraceDrv's messages. */
static void pipeline_split_rows(struct pipeline *p)
{
    char *line, *next;

    for (line = p->text; line != NULL && *line != '\0'; line = next) {
        char *driver = line, *time = strchr(line, '\t'), *message = time ? strchr(time + 1, '\t') : NULL;

        next = strchr(line, '\n');
        CHECK(message != NULL && next != NULL, 0, 0, "a row the Monitor saved is not driver, time, message: %s",
              line);
        *next++ = '\0';
        *time = '\0';
        if (strcmp(driver, "TraceDrv") != 0)
            continue;
        CHECK(p->messages < SCENARIO_MAX_ROWS, p->messages, 0, "more than %d rows from TraceDrv", SCENARIO_MAX_ROWS);
        p->message[p->messages++] = message + 1;
    }
}

/* Stops the Monitor (its close cancels its pending read) and reads back what it saved. */
static void pipeline_stop_monitor(struct pipeline *p)
{
    p->rows = monitor_stop(p->monitor);
    p->monitor = NULL;
    CHECK(fclose(p->tsv) == 0, 0, 0, "the Monitor's saved rows could not be closed");
    p->tsv = NULL;
    pipeline_split_rows(p);
}

static void pipeline_end(struct pipeline *p)
{
    wdmsim_driver_unload(p->debugprint);
    free(p->text);
}

/* Where message is among TraceDrv's rows, or -1; a message must not arrive twice. */
static long pipeline_row_of(const struct pipeline *p, const char *message)
{
    long found = -1;

    for (size_t i = 0; i < p->messages; i++) {
        if (strcmp(p->message[i], message) != 0)
            continue;
        CHECK(found < 0, i, found, "\"%s\" arrived twice, as rows %ld and %zu", message, found, i);
        found = (long)i;
    }
    return found;
}

static void pipeline_expect_row(const struct pipeline *p, const char *message)
{
    CHECK(pipeline_row_of(p, message) >= 0, 0, 0, "\"%s\" never reached the Monitor", message);
}

/* "Timer tick 1 at IRQL 2", "Timer tick 2 ..." in order: how many arrived. */
static ULONG pipeline_ticks(const struct pipeline *p)
{
    ULONG ticks = 0;

    for (size_t i = 0; i < p->messages; i++) {
        char expected[64];

        if (strncmp(p->message[i], "Timer tick ", 11) != 0)
            continue;
        snprintf(expected, sizeof expected, "Timer tick %u at IRQL 2", ++ticks);
        CHECK(strcmp(p->message[i], expected) == 0, i, ticks, "row %zu is \"%s\", expected \"%s\"", i, p->message[i],
              expected);
    }
    return ticks;
}

/* ---- Printers: TraceDrv's DebugPrint from PASSIVE_LEVEL, DISPATCH_LEVEL or a DPC ---- */

enum printer_where { PRINT_AT_PASSIVE, PRINT_AT_DISPATCH, PRINT_IN_DPC };

struct printer {
    const struct pipeline *pipeline;
    enum printer_where where;
    const char *prefix;             /* its messages are "<prefix> 0", "<prefix> 1" ... */
    PKTHREAD thread;
    KDPC dpc;
    KEVENT done;                    /* the DPC has printed */
};

static void printer_series(const struct printer *p)
{
    for (ULONG i = 0; i < SCENARIO_SERIES; i++)
        p->pipeline->print("%s %u", p->prefix, i);
}

static VOID NTAPI printer_dpc(PKDPC dpc, PVOID context, PVOID argument1, PVOID argument2)
{
    struct printer *p = context;

    (void)dpc;
    (void)argument1;
    (void)argument2;
    CHECK(KeGetCurrentIrql() == DISPATCH_LEVEL, KeGetCurrentIrql(), 0, "a DPC runs at IRQL %d",
          KeGetCurrentIrql());
    printer_series(p);
    KeSetEvent(&p->done, IO_NO_INCREMENT, FALSE);
}

static void printer_as_tracedrv(void *context)
{
    struct printer *p = context;
    KIRQL old;

    switch (p->where) {
    case PRINT_AT_PASSIVE:
        printer_series(p);
        break;
    case PRINT_AT_DISPATCH:
        KeRaiseIrql(DISPATCH_LEVEL, &old);
        printer_series(p);
        KeLowerIrql(old);
        break;
    case PRINT_IN_DPC:
        KeInitializeEvent(&p->done, NotificationEvent, FALSE);
        KeInitializeDpc(&p->dpc, printer_dpc, p);
        KeInsertQueueDpc(&p->dpc, NULL, NULL);
        KeWaitForSingleObject(&p->done, Executive, KernelMode, FALSE, NULL);
        break;
    }
}

static void printer_main(void *context)
{
    wdmsim_run_as_driver("TraceDrv", printer_as_tracedrv, context);
}

static void printers_start(struct printer printers[3], const struct pipeline *pipeline)
{
    static const char *const prefixes[] = { "passive", "dispatch", "dpc" };

    for (int i = 0; i < 3; i++) {
        printers[i] = (struct printer){ .pipeline = pipeline, .where = (enum printer_where)i,
                                        .prefix = prefixes[i] };
        printers[i].thread = wdmsim_thread_start(NULL, printer_main, &printers[i]);
    }
}

static void printers_join(struct printer printers[3])
{
    for (int i = 0; i < 3; i++)
        wdmsim_thread_join(printers[i].thread);
}

/* A printer's messages among TraceDrv's rows: "<prefix> 0" .. "<prefix> n-1" in order, n returned.
 * A print after DebugPrintClose is ignored, and so is every later one of the same thread. */
static ULONG printer_rows(const struct printer *p, const struct pipeline *pipeline)
{
    ULONG next = 0;
    size_t length = strlen(p->prefix);

    for (size_t i = 0; i < pipeline->messages; i++) {
        const char *m = pipeline->message[i];
        char expected[32];

        if (strncmp(m, p->prefix, length) != 0 || m[length] != ' ')
            continue;
        snprintf(expected, sizeof expected, "%s %u", p->prefix, next++);
        CHECK(strcmp(m, expected) == 0, i, next, "row %zu is \"%s\", expected \"%s\"", i, m, expected);
    }
    return next;
}

/* ---- TraceApp: an application using TraceDrv ---- */

struct trace_app {
    bool hold;                      /* keep the device open 1.5 s, so TraceDrv's timer ticks */
    NTSTATUS open, write, read, ioctl, close;
    ULONG_PTR read_length;
    char echo[16];
};

static void trace_app_main(void *context)
{
    static char hello[] = "hello";
    struct trace_app *app = context;
    LARGE_INTEGER offset = { .QuadPart = 0 };
    IO_STATUS_BLOCK iosb;
    HANDLE device;

    app->open = scenario_open(TRACEDRV_LINK_NAME, 0, GENERIC_READ | GENERIC_WRITE, &device);
    if (!NT_SUCCESS(app->open))
        return;
    app->write = ZwWriteFile(device, NULL, NULL, NULL, &iosb, hello, sizeof hello - 1, &offset, NULL);
    app->read = ZwReadFile(device, NULL, NULL, NULL, &iosb, app->echo, sizeof app->echo - 1, &offset, NULL);
    app->read_length = iosb.Information;
    app->ioctl = ZwDeviceIoControlFile(device, NULL, NULL, NULL, &iosb, IOCTL_TRACEDRV_QUEUE_WORK_ITEM, NULL, 0,
                                       NULL, 0);
    if (app->hold)
        delay_ms(1500);
    app->close = ZwClose(device);
}

static void trace_app_check(const struct trace_app *app, bool read_and_write)
{
    CHECK(NT_SUCCESS(app->open) && NT_SUCCESS(app->ioctl) && NT_SUCCESS(app->close), app->open, app->ioctl,
          "TraceApp: open %s, IOCTL %s, close %s", wdmsim_status_text(app->open).text, wdmsim_status_text(app->ioctl).text,
          wdmsim_status_text(app->close).text);
    if (read_and_write)
        CHECK(NT_SUCCESS(app->write) && NT_SUCCESS(app->read) && app->read_length == 5 &&
                  strcmp(app->echo, "hello") == 0, app->write, app->read,
              "TraceApp: write %s, read %s of %lu bytes \"%s\"", wdmsim_status_text(app->write).text, wdmsim_status_text(app->read).text,
              (unsigned long)app->read_length, app->echo);
}

/* ---- debugprint-print ---- */

/* What TraceDrv traces besides its timer ticks and the printers' series. */
static void debugprint_print_expect(const struct pipeline *p, ULONG ticks)
{
    char ioctl[40], unload[40];

    snprintf(ioctl, sizeof ioctl, "DeviceIoControl %08X", (unsigned)IOCTL_TRACEDRV_QUEUE_WORK_ITEM);
    snprintf(unload, sizeof unload, "Unload after %u timer ticks", ticks);
    CHECK(pipeline_row_of(p, "DebugPrint logging started") == 0, 0, 0, "the first row is not DebugPrintInit's");
    pipeline_expect_row(p, "RegistryPath is \\Registry\\Machine\\System\\CurrentControlSet\\Services\\TraceDrv");
    pipeline_expect_row(p, "DriverEntry completed");
    pipeline_expect_row(p, "CREATE");
    pipeline_expect_row(p, "Write 5 bytes: hello");
    pipeline_expect_row(p, "Read 5 bytes at IRQL 0");
    pipeline_expect_row(p, ioctl);
    pipeline_expect_row(p, "Work item at IRQL 0");
    pipeline_expect_row(p, "CLOSE");
    pipeline_expect_row(p, unload);
    CHECK(pipeline_row_of(p, "DebugPrint logging ended") == (long)p->messages - 1, 0, 0,
          "the last row is not DebugPrintClose's");
}

/* TraceDrv traces from DriverEntry, dispatch, a work item and its timer's DPC while three threads
 * print as TraceDrv at PASSIVE_LEVEL, at DISPATCH_LEVEL and from a DPC; then it unloads (its
 * Unload closes DebugPrint). Every event reaches the Monitor once, each thread's in order. */
static void debugprint_print(void *context)
{
    struct trace_app app = { .hold = true };
    struct printer printers[3];
    struct pipeline p;
    DBGPRT_STATISTICS driver;
    PEPROCESS process;
    PKTHREAD app_thread;
    ULONG ticks;

    pipeline_start(&p, context);
    process = wdmsim_process_create("TraceApp");
    app_thread = wdmsim_thread_start(process, trace_app_main, &app);
    printers_start(printers, &p);
    printers_join(printers);
    wdmsim_thread_join(app_thread);
    wdmsim_process_terminate(process);
    trace_app_check(&app, true);
    wdmsim_driver_unload(p.tracedrv);
    driver = pipeline_catch_up();
    pipeline_stop_monitor(&p);
    CHECK(p.rows == driver.Read && p.messages == driver.Read, p.rows, driver.Read,
          "the Monitor showed %zu rows, %zu of them TraceDrv's; the driver handed it %u", p.rows, p.messages,
          driver.Read);
    ticks = pipeline_ticks(&p);
    CHECK(ticks >= 1, ticks, 0, "TraceDrv's timer never ticked while TraceApp held the device 1.5 s");
    for (int i = 0; i < 3; i++)
        CHECK(printer_rows(&printers[i], &p) == SCENARIO_SERIES, i, 0, "the %s printer's series is incomplete",
              printers[i].prefix);
    debugprint_print_expect(&p, ticks);
    CHECK(p.messages == 11 + ticks + 3 * SCENARIO_SERIES, p.messages, ticks, "%zu rows from TraceDrv, expected %u",
          p.messages, 11 + ticks + 3 * SCENARIO_SERIES);
    pipeline_end(&p);
}

/* ---- debugprint-close ---- */

static void closer_as_tracedrv(void *context)
{
    ((const struct pipeline *)context)->close();
}

static void closer_main(void *context)
{
    wdmsim_run_as_driver("TraceDrv", closer_as_tracedrv, context);
}

/* TraceDrv's work item, queued through a kernel handle: busy while TraceApp's has yet to finish. */
static void tracedrv_queue_work_item(void)
{
    IO_STATUS_BLOCK iosb;
    HANDLE device;
    NTSTATUS status = scenario_open(TRACEDRV_DEVICE_NAME, OBJ_KERNEL_HANDLE, GENERIC_READ | GENERIC_WRITE, &device);

    CHECK(NT_SUCCESS(status), status, 0, "opening TraceDrv: %s", wdmsim_status_text(status).text);
    status = ZwDeviceIoControlFile(device, NULL, NULL, NULL, &iosb, IOCTL_TRACEDRV_QUEUE_WORK_ITEM, NULL, 0, NULL, 0);
    CHECK(NT_SUCCESS(status) || status == STATUS_DEVICE_BUSY, status, 0, "IOCTL_TRACEDRV_QUEUE_WORK_ITEM: %s",
          wdmsim_status_text(status).text);
    status = ZwClose(device);
    CHECK(NT_SUCCESS(status), status, 0, "closing TraceDrv: %s", wdmsim_status_text(status).text);
}

/* After DebugPrintClose: every print was delivered or ignored, none cleared, dropped or queued. */
static DEBUGPRINT_STATISTICS debugprint_close_statistics(const struct pipeline *p)
{
    DEBUGPRINT_STATISTICS s = tracedrv_statistics(p);
    /* DebugPrintInit, DriverEntry's two, the series, TraceApp's CREATE and IOCTL, Close's own. */
    ULONG made = 1 + 2 + 3 * SCENARIO_SERIES + 2 + 1;

    CHECK(s.Delivered == s.Produced && s.Queued == 0 && s.Cleared == 0 && s.Dropped == 0, s.Produced, s.Delivered,
          "after DebugPrintClose: produced %u, delivered %u, cleared %u, dropped %u, queued %u", s.Produced,
          s.Delivered, s.Cleared, s.Dropped, s.Queued);
    CHECK(s.Produced + s.Ignored >= made, s.Produced, s.Ignored, "produced %u + ignored %u < the %u prints made",
          s.Produced, s.Ignored, made);
    return s;
}

/* Three threads print as TraceDrv (PASSIVE_LEVEL, DISPATCH_LEVEL, a DPC) and TraceApp queues
 * TraceDrv's work item while a fourth thread calls DebugPrintClose; then TraceDrv's work item is
 * queued again and TraceDrv unloads at once, its Unload waiting for the item, which may not have
 * started. Each print is delivered or ignored, never lost or leaked, and a thread's delivered
 * prints are the first of its series. */
static void debugprint_close(void *context)
{
    struct trace_app app = { .hold = false };
    struct printer printers[3];
    struct pipeline p;
    DEBUGPRINT_STATISTICS s;
    DBGPRT_STATISTICS driver;
    PEPROCESS process;
    PKTHREAD app_thread, closer;
    ULONG series_rows = 0;

    pipeline_start(&p, context);
    process = wdmsim_process_create("TraceApp");
    app_thread = wdmsim_thread_start(process, trace_app_main, &app);
    printers_start(printers, &p);
    closer = wdmsim_thread_start(NULL, closer_main, &p);
    wdmsim_thread_join(closer);
    printers_join(printers);
    wdmsim_thread_join(app_thread);
    wdmsim_process_terminate(process);
    trace_app_check(&app, false);
    s = debugprint_close_statistics(&p);
    tracedrv_queue_work_item();
    wdmsim_driver_unload(p.tracedrv);
    driver = pipeline_catch_up();
    CHECK(driver.Received == s.Delivered, driver.Received, s.Delivered,
          "TraceDrv delivered %u events, the DebugPrint driver received %u", s.Delivered, driver.Received);
    pipeline_stop_monitor(&p);
    CHECK(p.rows == driver.Read && p.messages == driver.Read, p.rows, driver.Read,
          "the Monitor showed %zu rows, %zu of them TraceDrv's; the driver handed it %u", p.rows, p.messages,
          driver.Read);
    CHECK(pipeline_row_of(&p, "DebugPrint logging started") == 0, 0, 0, "the first row is not DebugPrintInit's");
    pipeline_expect_row(&p, "DebugPrint logging ended");
    pipeline_ticks(&p);
    for (int i = 0; i < 3; i++)
        series_rows += printer_rows(&printers[i], &p);
    CHECK(s.Ignored >= 3 * SCENARIO_SERIES - series_rows, s.Ignored, series_rows,
          "%u of the series' prints arrived, but only %u prints were ignored", series_rows, s.Ignored);
    pipeline_end(&p);
}

/* ---- debugprint-driver-io: the DebugPrint driver alone ---- */

#define IO_EVENTS 3

struct io_run {
    HANDLE reader;                  /* the Reader process's overlapped handle */
    HANDLE writer;                  /* a kernel handle */
    PEPROCESS process;
    const char *write_text;         /* what the next writer thread writes */
    NTSTATUS started;               /* a read's ZwReadFile status */
    IO_STATUS_BLOCK iosb;           /* a pending read's, written by its completion */
    char buffer[64];
    bool late_read[2];              /* "late 0", "late 1" was read */
};

static void io_write(struct io_run *run, const char *text)
{
    LARGE_INTEGER offset = { .QuadPart = 0 };
    ULONG length = (ULONG)strlen(text);
    IO_STATUS_BLOCK iosb;
    NTSTATUS status = ZwWriteFile(run->writer, NULL, NULL, NULL, &iosb, (PVOID)text, length, &offset, NULL);

    CHECK(NT_SUCCESS(status) && iosb.Information == length, status, iosb.Information,
          "ZwWriteFile of \"%s\": %s, %lu bytes", text, wdmsim_status_text(status).text, (unsigned long)iosb.Information);
}

static void io_writer_series(void *context)
{
    char text[16];

    for (int i = 0; i < IO_EVENTS; i++) {
        snprintf(text, sizeof text, "event %d", i);
        io_write(context, text);
    }
}

static void io_writer_one(void *context)
{
    struct io_run *run = context;

    io_write(run, run->write_text);
}

static NTSTATUS io_start_read(struct io_run *run)
{
    LARGE_INTEGER offset = { .QuadPart = 0 };

    memset(run->buffer, 0, sizeof run->buffer);
    run->iosb.Status = STATUS_PENDING;
    run->iosb.Information = 0;
    run->started = ZwReadFile(run->reader, NULL, NULL, NULL, &run->iosb, run->buffer, sizeof run->buffer - 1,
                              &offset, NULL);
    return run->started;
}

/* A read that returned data: the text expected, or one of the late events not read before. */
static void io_check_data(struct io_run *run, const char *expected)
{
    int late = -1;

    CHECK(run->iosb.Status == STATUS_SUCCESS && run->iosb.Information == strlen(run->buffer), run->iosb.Status,
          run->iosb.Information, "a read returned %s, %lu bytes \"%s\"", wdmsim_status_text(run->iosb.Status).text,
          (unsigned long)run->iosb.Information, run->buffer);
    if (expected != NULL) {
        CHECK(strcmp(run->buffer, expected) == 0, 0, 0, "read \"%s\", expected \"%s\"", run->buffer, expected);
        return;
    }
    if (sscanf(run->buffer, "late %d", &late) != 1 || late < 0 || late > 1 || run->late_read[late])
        CHECK(false, late, 0, "read \"%s\", expected a late event not read before", run->buffer);
    run->late_read[late] = true;
}

/* The reader: opens the device for overlapped I/O, as the Monitor does, and reads the series, each
 * read completing at once (an event was queued) or pending until a write completes it. */
static void io_reader_series(void *context)
{
    struct io_run *run = context;
    NTSTATUS status = scenario_open(DEBUGPRINT_DEVICE_NAME, 0, GENERIC_READ | GENERIC_WRITE | SYNCHRONIZE,
                                    &run->reader);

    CHECK(NT_SUCCESS(status), status, 0, "the reader's open: %s", wdmsim_status_text(status).text);
    for (int i = 0; i < IO_EVENTS; i++) {
        char expected[16];

        snprintf(expected, sizeof expected, "event %d", i);
        status = io_start_read(run);
        if (status == STATUS_PENDING) {
            status = ZwWaitForSingleObject(run->reader, FALSE, NULL);
            CHECK(status == STATUS_SUCCESS, status, 0, "waiting for a pending read: %s", wdmsim_status_text(status).text);
        } else {
            CHECK(status == run->iosb.Status, status, run->iosb.Status, "ZwReadFile returned %s, its IOSB %s",
                  wdmsim_status_text(status).text, wdmsim_status_text(run->iosb.Status).text);
        }
        io_check_data(run, expected);
    }
}

/* A read its thread leaves pending: the thread's end cancels it (IoCancelThreadIo). */
static void io_reader_leaves(void *context)
{
    io_start_read(context);
}

/* Reads until one pends, then closes the handle: the cleanup cancels that read. */
static void io_reader_closes(void *context)
{
    struct io_run *run = context;
    NTSTATUS status;

    for (int i = 0; i < 3 && (status = io_start_read(run)) != STATUS_PENDING; i++)
        io_check_data(run, NULL);
    CHECK(run->started == STATUS_PENDING, run->started, 0, "no read pended: %s", wdmsim_status_text(run->started).text);
    status = ZwClose(run->reader);
    CHECK(NT_SUCCESS(status), status, 0, "the reader's close: %s", wdmsim_status_text(status).text);
}

/* What became of a read left pending while a late event was written: it got the event, or it was
 * cancelled and the event is still queued. */
static void io_check_late_read(struct io_run *run)
{
    if (run->started == STATUS_PENDING && run->iosb.Status == STATUS_CANCELLED)
        CHECK(run->iosb.Information == 0, run->iosb.Information, 0, "a cancelled read returned %lu bytes",
              (unsigned long)run->iosb.Information);
    else
        io_check_data(run, NULL);
}

/* Runs a reader of the Reader process and a writer of "text" at the same time. */
static void io_race(struct io_run *run, wdmsim_scenario_fn *reader, const char *text)
{
    PKTHREAD r, w;

    run->write_text = text;
    r = wdmsim_thread_start(run->process, reader, run);
    w = wdmsim_thread_start(NULL, io_writer_one, run);
    wdmsim_thread_join(r);
    wdmsim_thread_join(w);
}

static void io_check_statistics(const struct io_run *run, ULONG written)
{
    DBGPRT_STATISTICS s = debugprint_driver_statistics();
    ULONG read = IO_EVENTS + run->late_read[0] + run->late_read[1];

    CHECK(s.Received == written && s.Read == read && s.Queued == written - read && s.Dropped == 0 &&
              s.Truncated == 0, s.Received, s.Read,
          "the DebugPrint driver: received %u (written %u), read %u (%u), queued %u, dropped %u, truncated %u",
          s.Received, written, s.Read, read, s.Queued, s.Dropped, s.Truncated);
}

/* The DebugPrint driver alone: a writer's events read by an overlapped reader whose reads pend
 * until a write completes them; a pending read cancelled by its thread's end, one by the cleanup
 * of the reader's close, each racing a write that may complete it instead. */
static void debugprint_driver_io(void *context)
{
    const struct scenario_modules *modules = context;
    PDRIVER_OBJECT debugprint = scenario_load(modules->debugprint, "DebugPrint");
    struct io_run run = { .process = wdmsim_process_create("Reader") };
    NTSTATUS status = scenario_open(DEBUGPRINT_DEVICE_NAME, OBJ_KERNEL_HANDLE, GENERIC_READ | GENERIC_WRITE,
                                    &run.writer);
    PKTHREAD r, w;

    CHECK(NT_SUCCESS(status), status, 0, "the writer's open: %s", wdmsim_status_text(status).text);
    r = wdmsim_thread_start(run.process, io_reader_series, &run);
    w = wdmsim_thread_start(NULL, io_writer_series, &run);
    wdmsim_thread_join(r);
    wdmsim_thread_join(w);
    io_check_statistics(&run, IO_EVENTS);
    io_race(&run, io_reader_leaves, "late 0");
    io_check_late_read(&run);
    io_check_statistics(&run, IO_EVENTS + 1);
    io_race(&run, io_reader_closes, "late 1");
    io_check_late_read(&run);
    io_check_statistics(&run, IO_EVENTS + 2);
    wdmsim_process_terminate(run.process);
    ZwClose(run.writer);
    wdmsim_driver_unload(debugprint);
}

/* ---- The table ---- */

static const struct scenario scenarios[] = {
    { "debugprint-print",
      "TraceDrv and threads print at PASSIVE, at DISPATCH and in DPCs, the Monitor reads, TraceDrv "
      "unloads: every event arrives once, in order",
      debugprint_print },
    { "debugprint-close",
      "prints at PASSIVE, at DISPATCH and in a DPC race DebugPrintClose, then TraceDrv's unload races "
      "its work item: each print delivered or ignored",
      debugprint_close },
    { "debugprint-driver-io",
      "the DebugPrint driver: writes, pending overlapped reads, a read cancelled by its thread's end, "
      "one by the cleanup of a close",
      debugprint_driver_io },
};

size_t scenario_count(void)
{
    return sizeof scenarios / sizeof scenarios[0];
}

const struct scenario *scenario_at(size_t index)
{
    return index < scenario_count() ? &scenarios[index] : NULL;
}

const struct scenario *scenario_find(const char *name)
{
    for (size_t i = 0; i < scenario_count(); i++) {
        if (strcmp(scenarios[i].name, name) == 0)
            return &scenarios[i];
    }
    return NULL;
}
