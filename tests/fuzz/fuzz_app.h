/*
 * fuzz_app.h - the simulated application fuzz_debugprint_driver acts as: one user process with one
 * thread that lives as long as the fuzzing process, so each input costs two event hand-offs
 * instead of a thread's start and end. Only for inputs whose I/O is over when they return: the
 * thread never ends, so nothing cancels and waits for a request still in flight.
 */
#ifndef WDMSIM_FUZZ_APP_H
#define WDMSIM_FUZZ_APP_H

#include <wdmsim/wdmsim.h>

/* Starts the application process and its thread (once; the kernel must be booted). */
void fuzz_app_start(const char *image_name);
/* Runs fn(context) on the application's thread and returns when it has returned. */
void fuzz_app_run(wdmsim_scenario_fn *fn, void *context);

#endif /* WDMSIM_FUZZ_APP_H */
