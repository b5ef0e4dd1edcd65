/*
 * DebugPrint.h - trace output from a driver to the DebugPrint driver and its Monitor, after
 * chapter 14 of "Writing Windows WDM Device Drivers". Pure WDM code: add DebugPrint.c to a
 * driver, call DebugPrintInit in DriverEntry and DebugPrintClose in Unload. Each driver that
 * includes it has its own copy of the state (its own event list and system thread).
 */
#ifndef DEBUGPRINT_H
#define DEBUGPRINT_H

#include <stdarg.h>
#include <wdm.h>

#define DEBUGPRINT_DEVICE_NAME L"\\Device\\PHDDebugPrint"

/* The Monitor reads 1024-byte buffers, so an event (time, driver name, message, NULs) never
 * exceeds that: longer messages are cut short. */
#define DEBUGPRINT_MAX_EVENT 1024
/* Events waiting for the system thread; while the DebugPrint driver is missing (up to five
 * minutes at boot) or slow, further events are dropped, and counted, instead of eating pool. */
#define DEBUGPRINT_MAX_QUEUED 1024
/* Longer driver names are cut short. */
#define DEBUGPRINT_MAX_NAME 63
/* DebugPrint's format buffer: 99 characters and a NUL, as in the book. */
#define DEBUGPRINT_FORMAT_BUFFER 100
/* Opening the DebugPrint device: one try every 20 seconds, for five minutes. */
#define DEBUGPRINT_OPEN_RETRY_SECONDS 20
#define DEBUGPRINT_OPEN_GIVE_UP_SECONDS 300

/* What happened to every message; Produced == Delivered + Cleared + Dropped + Queued. */
typedef struct _DEBUGPRINT_STATISTICS {
    ULONG Produced;             /* messages accepted while logging was on */
    ULONG Delivered;            /* written to the DebugPrint driver */
    ULONG Cleared;              /* still queued when logging ended or the device never came: freed */
    ULONG Dropped;              /* DroppedQueueFull + DroppedNoMemory + DroppedWriteFailed */
    ULONG DroppedQueueFull;
    ULONG DroppedNoMemory;
    ULONG DroppedWriteFailed;
    ULONG Queued;               /* waiting for the system thread right now */
    ULONG Ignored;              /* calls made while logging was off */
} DEBUGPRINT_STATISTICS, *PDEBUGPRINT_STATISTICS;

/* One queued event: the data written to the DebugPrint driver is EventData[0 .. Len): the GMT time
 * as TIME_FIELDS, the driver name and the message, each string NUL-terminated. */
typedef struct _DEBUGPRINT_EVENT {
    LIST_ENTRY ListEntry;
    ULONG Len;
    UCHAR EventData[1];
} DEBUGPRINT_EVENT, *PDEBUGPRINT_EVENT;

/* PASSIVE_LEVEL. Starts logging: copies the name, starts the system thread. */
VOID DebugPrintInit(char *DriverName);
/* PASSIVE_LEVEL. Ends logging: everything queued is delivered, the thread has ended on return. */
VOID DebugPrintClose(VOID);
/* IRQL <= DISPATCH_LEVEL. Queues one message. */
VOID DebugPrintMsg(char *Msg);
/* IRQL <= DISPATCH_LEVEL. Formats (see DebugSprintf) into 100 bytes and queues the message. */
VOID DebugPrint(const char *Format, ...);
/* IRQL <= DISPATCH_LEVEL. The same with a buffer of Max bytes. */
VOID DebugPrint2(int Max, const char *Format, ...);
/* Any IRQL. Formats into Buffer (Max bytes, always NUL-terminated); returns the length written.
 * %c %C %d %i %D %u %x %l %L %s %S %T %I %%; width from '*' or digits; see DebugPrint.c. */
int DebugSprintf(char *Buffer, int Max, const char *Format, va_list Args);
/* IRQL <= DISPATCH_LEVEL. */
VOID DebugPrintGetStatistics(PDEBUGPRINT_STATISTICS Statistics);

#endif /* DEBUGPRINT_H */
