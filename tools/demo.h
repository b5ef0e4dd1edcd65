/*
 * demo.h - `wdmsim demo`, the DebugPrint pipeline end to end.
 */
#ifndef WDMSIM_DEMO_H
#define WDMSIM_DEMO_H

/* Runs the demo on a fresh kernel; returns the exit status (0 when every event is accounted for). */
int demo(void);

#endif /* WDMSIM_DEMO_H */
