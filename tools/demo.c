/*
 * demo.c - `wdmsim demo`: the DebugPrint pipeline end to end on the simulated kernel. The DebugPrint
 * driver and TraceDrv load as modules (each with its own copy of what it links); the Monitor reads
 * as its own user process; an application process drives TraceDrv, whose dispatch routines, timer
 * DPC and work item all trace; then everything unloads, and the summary accounts for every event.
 * Simulator world: host code driving the kernel through DDIs and the wdmsim_ host API.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "DbgPrtGUID.h"
#include "DebugPrint.h"
#include "TraceDrv.h"
#include "demo.h"
#include "monitor.h"

#define DEMO_TICKS_PER_SECOND 10000000LL
/* How long the application keeps the device open: long enough for TraceDrv's timer to tick. */
#define DEMO_APP_SECONDS 3

typedef VOID get_statistics_fn(PDEBUGPRINT_STATISTICS);

struct demo_app {
    NTSTATUS open, write, read, ioctl_size, ioctl_work, close;
    ULONG buffer_size;
    char echo[64];
};

void demo_module_path(const char *file, const char *built, char *path, size_t size)
{
    const char *dir = getenv("WDMSIM_DRIVER_DIR");
    char self[PATH_MAX];
    ssize_t n;

    if (dir != NULL) {
        snprintf(path, size, "%s/%s", dir, file);
        return;
    }
    n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n > 0) {
        self[n] = '\0';
        *strrchr(self, '/') = '\0';
        snprintf(path, size, "%s/../%s/%s", self, WDMSIM_INSTALLED_DRIVER_DIR, file);
        if (access(path, R_OK) == 0)
            return;
    }
    snprintf(path, size, "%s", built);
}

static NTSTATUS demo_load(const char *file, const char *built, const char *name, PDRIVER_OBJECT *driver)
{
    char path[PATH_MAX + 64];
    NTSTATUS status;

    demo_module_path(file, built, path, sizeof path);
    status = wdmsim_driver_load_module(path, name, driver);
    printf("  loaded %-12s %s: %s\n", name, path, wdmsim_status_text(status).text);
    return status;
}

static NTSTATUS demo_open(PCWSTR name, ULONG attributes, PHANDLE handle)
{
    UNICODE_STRING unicode;
    OBJECT_ATTRIBUTES object;
    IO_STATUS_BLOCK iosb;

    RtlInitUnicodeString(&unicode, name);
    InitializeObjectAttributes(&object, &unicode, OBJ_CASE_INSENSITIVE | attributes, NULL, NULL);
    return ZwCreateFile(handle, GENERIC_READ | GENERIC_WRITE, &object, &iosb, NULL, 0,
                        FILE_SHARE_READ | FILE_SHARE_WRITE, FILE_OPEN, 0, NULL, 0);
}

static NTSTATUS demo_ioctl(HANDLE device, ULONG code, PVOID out, ULONG out_length)
{
    IO_STATUS_BLOCK iosb;

    return ZwDeviceIoControlFile(device, NULL, NULL, NULL, &iosb, code, NULL, 0, out, out_length);
}

/* The application: what a Win32 program would do with CreateFile, WriteFile, ReadFile and
 * DeviceIoControl, here as Zw calls in its own process. */
static void demo_app_main(void *context)
{
    static char hello[] = "Hello from TraceApp";
    struct demo_app *app = context;
    LARGE_INTEGER offset = { .QuadPart = 0 }, pause = { .QuadPart = -DEMO_APP_SECONDS * DEMO_TICKS_PER_SECOND };
    IO_STATUS_BLOCK iosb;
    HANDLE device;

    app->open = demo_open(TRACEDRV_LINK_NAME, 0, &device);
    if (!NT_SUCCESS(app->open))
        return;
    app->write = ZwWriteFile(device, NULL, NULL, NULL, &iosb, hello, sizeof hello - 1, &offset, NULL);
    app->read = ZwReadFile(device, NULL, NULL, NULL, &iosb, app->echo, sizeof app->echo - 1, &offset, NULL);
    app->ioctl_size = demo_ioctl(device, IOCTL_TRACEDRV_GET_BUFFER_SIZE, &app->buffer_size, sizeof app->buffer_size);
    app->ioctl_work = demo_ioctl(device, IOCTL_TRACEDRV_QUEUE_WORK_ITEM, NULL, 0);
    KeDelayExecutionThread(KernelMode, FALSE, &pause);
    app->close = ZwClose(device);
}

static bool demo_app_ok(const struct demo_app *app)
{
    return NT_SUCCESS(app->open) && NT_SUCCESS(app->write) && NT_SUCCESS(app->read) &&
           NT_SUCCESS(app->ioctl_size) && NT_SUCCESS(app->ioctl_work) && NT_SUCCESS(app->close);
}

static NTSTATUS demo_driver_statistics(DBGPRT_STATISTICS *statistics)
{
    HANDLE device;
    NTSTATUS status = demo_open(L"\\Device\\PHDDebugPrint", OBJ_KERNEL_HANDLE, &device);

    if (!NT_SUCCESS(status))
        return status;
    status = demo_ioctl(device, IOCTL_DEBUGPRINT_GET_STATISTICS, statistics, sizeof *statistics);
    ZwClose(device);
    return status;
}

static void demo_run_app(struct demo_app *app)
{
    PEPROCESS process = wdmsim_process_create("TraceApp");

    printf("\n== TraceApp opens \\??\\TraceDrv, writes, reads, sends IOCTLs, and keeps it open %d s\n",
           DEMO_APP_SECONDS);
    wdmsim_process_run(process, demo_app_main, app);
    wdmsim_process_terminate(process);
    printf("== TraceApp done: open %s, write %s, read %s (\"%s\"), buffer size %u, work item %s\n",
           wdmsim_status_text(app->open).text, wdmsim_status_text(app->write).text, wdmsim_status_text(app->read).text, app->echo, app->buffer_size,
           wdmsim_status_text(app->ioctl_work).text);
}

static void demo_summary(const DEBUGPRINT_STATISTICS *trace, const DBGPRT_STATISTICS *driver, size_t rows,
                         size_t leaks)
{
    printf("\nSummary\n");
    printf("  TraceDrv's DebugPrint, before Unload: produced %u = delivered %u + cleared %u + dropped %u"
           " + queued %u\n", trace->Produced, trace->Delivered, trace->Cleared, trace->Dropped, trace->Queued);
    printf("  the DebugPrint driver: received %u, read by the Monitor %u, truncated %u, dropped %u, left %u\n",
           driver->Received, driver->Read, driver->Truncated, driver->Dropped, driver->Queued);
    printf("  the Monitor showed %zu event rows\n", rows);
    printf("  leaks at shutdown (pool, threads, handles, references): %zu\n", leaks);
    printf("  rule violations: none (any would have stopped the machine with a report)\n");
    printf("  rule warnings: %zu (each printed on stderr as \"wdmsim: warning: ...\" when it happened)\n",
           wdmsim_warning_count());
}

int demo(const char *save_path)
{
    struct wdmsim_config config = { .clock = WDMSIM_CLOCK_VIRTUAL };
    PDRIVER_OBJECT debugprint = NULL, tracedrv = NULL;
    DEBUGPRINT_STATISTICS trace = { 0 };
    DBGPRT_STATISTICS driver = { 0 };
    struct demo_app app = { 0 };
    struct monitor *monitor;
    get_statistics_fn *statistics;
    size_t rows, leaks;
    FILE *saved = NULL;

    printf("wdmsim demo: DebugPrint on the simulated Windows kernel (virtual clock)\n\n");
    wdmsim_boot(&config);
    if (!NT_SUCCESS(demo_load("debugprint.so", WDMSIM_BUILT_DEBUGPRINT, "DebugPrint", &debugprint)))
        return 1;
    if (save_path != NULL && (saved = fopen(save_path, "w")) == NULL) {
        fprintf(stderr, "wdmsim: cannot write %s\n", save_path);
        return 2;
    }
    monitor = monitor_start(stdout, saved, MONITOR_SHOW_MILLISECONDS);
    if (monitor == NULL || !NT_SUCCESS(demo_load("tracedrv.so", WDMSIM_BUILT_TRACEDRV, "TraceDrv", &tracedrv)))
        return 1;
    demo_run_app(&app);
    statistics = (get_statistics_fn *)wdmsim_driver_symbol(tracedrv, "DebugPrintGetStatistics");
    if (statistics != NULL)
        statistics(&trace);
    printf("\n== unloading TraceDrv: it cancels its timer, waits for its work item, closes DebugPrint\n");
    wdmsim_driver_unload(tracedrv);
    demo_driver_statistics(&driver);
    rows = monitor_stop(monitor);
    if (saved != NULL)
        fclose(saved);
    printf("\n== unloading the DebugPrint driver\n");
    wdmsim_driver_unload(debugprint);
    leaks = wdmsim_shutdown();
    demo_summary(&trace, &driver, rows, leaks);
    return demo_app_ok(&app) && statistics != NULL && leaks == 0 && rows > 0 && rows == driver.Read &&
                   driver.Read == driver.Received && driver.Received >= trace.Delivered &&
                   trace.Produced == trace.Delivered + trace.Cleared + trace.Dropped + trace.Queued
               ? 0
               : 1;
}
