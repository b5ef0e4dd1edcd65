/*
 * dpuser.h - what the DebugPrint user test driver (dpuser_module.c) offers the tests that host it:
 * helpers a test finds with wdmsim_driver_symbol() and calls as that driver's code (inside
 * wdmsim_run_as_driver), to trace from the contexts driver code traces from and to end logging
 * before Unload. Plain DDK types, usable by driver and host code.
 */
#ifndef DPUSER_H
#define DPUSER_H

#include <wdm.h>

/* Where a helper's messages are made. */
#define DPUSER_AT_PASSIVE 0     /* the calling thread, at PASSIVE_LEVEL */
#define DPUSER_AT_DISPATCH 1    /* the calling thread, raised to DISPATCH_LEVEL */
#define DPUSER_IN_DPC 2         /* a DPC (DISPATCH_LEVEL, the DPC thread); the caller waits for it */

/* PASSIVE_LEVEL. Count messages "<Prefix> <n>", n = First, First + 1, ..., through DebugPrint. */
typedef VOID DPUSER_PRINT_SERIES(ULONG Where, const char *Prefix, ULONG First, ULONG Count);
/* PASSIVE_LEVEL. One message through DebugPrintMsg, as it is. */
typedef VOID DPUSER_PRINT_MSG(ULONG Where, char *Msg);
/* PASSIVE_LEVEL. DebugPrintClose now, so the final statistics can be read; Unload's does nothing. */
typedef VOID DPUSER_CLOSE(VOID);

DPUSER_PRINT_SERIES DpUserPrintSeries;
DPUSER_PRINT_MSG DpUserPrintMsg;
DPUSER_CLOSE DpUserClose;

#endif /* DPUSER_H */
