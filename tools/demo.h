/*
 * demo.h - `wdmsim demo`, the DebugPrint pipeline end to end.
 */
#ifndef WDMSIM_DEMO_H
#define WDMSIM_DEMO_H

#include <stddef.h>

/* Runs the demo on a fresh kernel, the Monitor also saving its rows as tab-separated text to
 * save_path when it is not NULL; returns the exit status (0 when every event is accounted for). */
int demo(const char *save_path);
/* Where the driver module file (say "tracedrv.so") is: $WDMSIM_DRIVER_DIR, then the installed tree
 * next to this program, then built, where the build that made this program put it. */
void demo_module_path(const char *file, const char *built, char *path, size_t size);

#endif /* WDMSIM_DEMO_H */
