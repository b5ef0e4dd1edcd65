/*
 * demo.h - `wdmsim demo`, the DebugPrint pipeline end to end.
 */
#ifndef WDMSIM_DEMO_H
#define WDMSIM_DEMO_H

/* Runs the demo on a fresh kernel, the Monitor also saving its rows as tab-separated text to
 * save_path when it is not NULL; returns the exit status (0 when every event is accounted for). */
int demo(const char *save_path);

#endif /* WDMSIM_DEMO_H */
