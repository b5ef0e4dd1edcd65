/*
 * fuzz_app.c - the application thread of the driver fuzz targets. The host hands it one call at
 * a time: it sets `call`, signals `go` and waits for `done`, so the thread and the host never run
 * driver code at the same time and `call` needs no lock of its own.
 */
#include "fuzz_app.h"

struct fuzz_app {
    PEPROCESS process;
    KEVENT go;                      /* synchronization: a call is ready */
    KEVENT done;                    /* synchronization: the call returned */
    wdmsim_scenario_fn *fn;
    void *context;
};

static struct fuzz_app app;

static void fuzz_app_thread(void *unused)
{
    (void)unused;
    for (;;) {
        KeWaitForSingleObject(&app.go, Executive, UserMode, FALSE, NULL);
        app.fn(app.context);
        KeSetEvent(&app.done, IO_NO_INCREMENT, FALSE);
    }
}

void fuzz_app_start(const char *image_name)
{
    app.process = wdmsim_process_create(image_name);
    KeInitializeEvent(&app.go, SynchronizationEvent, FALSE);
    KeInitializeEvent(&app.done, SynchronizationEvent, FALSE);
    wdmsim_thread_start(app.process, fuzz_app_thread, NULL);
}

void fuzz_app_run(wdmsim_scenario_fn *fn, void *context)
{
    app.fn = fn;
    app.context = context;
    KeSetEvent(&app.go, IO_NO_INCREMENT, FALSE);
    KeWaitForSingleObject(&app.done, Executive, KernelMode, FALSE, NULL);
}
