/*
 * DbgPrtGUID.h - what the DebugPrint driver shares with its readers: the device interface GUID
 * the Monitor enumerates, and the statistics IOCTL. Plain DDK types, usable by driver and host.
 */
#ifndef DBGPRTGUID_H
#define DBGPRTGUID_H

#include <wdm.h>

/* {6B0E0B4C-3F5A-4A0E-9C2B-5D1E8F7A9B31}: the book's value is lost; this one is this project's own.
 * An initializer, so each user defines its own const GUID. */
#define DEBUGPRINT_GUID_INIT { 0x6b0e0b4c, 0x3f5a, 0x4a0e, { 0x9c, 0x2b, 0x5d, 0x1e, 0x8f, 0x7a, 0x9b, 0x31 } }

/* Events held for a reader; further writes are dropped (and counted) while no Monitor reads. */
#define DBGPRT_MAX_QUEUED 4096

#define IOCTL_DEBUGPRINT_GET_STATISTICS CTL_CODE(FILE_DEVICE_UNKNOWN, 0x800, METHOD_BUFFERED, FILE_ANY_ACCESS)

typedef struct _DBGPRT_STATISTICS {
    ULONG Received;     /* events written to the driver */
    ULONG Read;         /* events handed to a reader */
    ULONG Truncated;    /* of those, cut to the reader's buffer */
    ULONG Dropped;      /* refused: queue full or out of pool */
    ULONG Cleared;      /* still queued when the device was removed */
    ULONG Queued;       /* waiting for a reader now */
} DBGPRT_STATISTICS, *PDBGPRT_STATISTICS;

#endif /* DBGPRTGUID_H */
