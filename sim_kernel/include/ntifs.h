/*
 * ntifs.h - the installable-file-system surface: everything in ntddk.h plus the process DDIs a
 * driver needs to run in another process's context, ZwWaitForSingleObject (a wait on a handle:
 * an event, a thread, or a file doing overlapped I/O) and ZwFlushBuffersFile. Driver world: real DDK names, signatures and
 * layouts only (PsGetProcessId and PsInitialSystemProcess come from ntddk.h in the DDK, and
 * PsProcessType from wdm.h; ntifs.h includes both there, so code that includes it builds either way).
 */
#ifndef _NTIFS_
#define _NTIFS_

#include <ntddk.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Filled by KeStackAttachProcess, handed back to KeUnstackDetachProcess; opaque to drivers. */
typedef struct _KAPC_STATE {
    LIST_ENTRY ApcListHead[MaximumMode];
    PKPROCESS Process;
    BOOLEAN KernelApcInProgress;
    BOOLEAN KernelApcPending;
    BOOLEAN UserApcPending;
} KAPC_STATE, *PKAPC_STATE, *PRKAPC_STATE;

typedef struct _ACCESS_STATE *PACCESS_STATE;

extern POBJECT_TYPE *PsProcessType;
extern PEPROCESS PsInitialSystemProcess;

NTKERNELAPI VOID NTAPI KeStackAttachProcess(PRKPROCESS Process, PRKAPC_STATE ApcState);
NTKERNELAPI VOID NTAPI KeUnstackDetachProcess(PRKAPC_STATE ApcState);
NTKERNELAPI HANDLE NTAPI PsGetProcessId(PEPROCESS Process);
NTKERNELAPI PEPROCESS NTAPI PsGetThreadProcess(PETHREAD Thread);
NTKERNELAPI BOOLEAN NTAPI PsIsSystemThread(PETHREAD Thread);
NTKERNELAPI NTSTATUS NTAPI PsLookupProcessByProcessId(HANDLE ProcessId, PEPROCESS *Process);
NTKERNELAPI NTSTATUS NTAPI PsLookupThreadByThreadId(HANDLE ThreadId, PETHREAD *Thread);
NTSYSAPI NTSTATUS NTAPI ZwWaitForSingleObject(HANDLE Handle, BOOLEAN Alertable, PLARGE_INTEGER Timeout);
NTSYSAPI NTSTATUS NTAPI RtlDowncaseUnicodeString(PUNICODE_STRING DestinationString, PCUNICODE_STRING SourceString,
                                                 BOOLEAN AllocateDestinationString);
NTSYSAPI NTSTATUS NTAPI ZwFlushBuffersFile(HANDLE FileHandle, PIO_STATUS_BLOCK IoStatusBlock);
NTKERNELAPI NTSTATUS NTAPI ObOpenObjectByPointer(PVOID Object, ULONG HandleAttributes,
                                                 PACCESS_STATE PassedAccessState, ACCESS_MASK DesiredAccess,
                                                 POBJECT_TYPE ObjectType, KPROCESSOR_MODE AccessMode,
                                                 PHANDLE Handle);

C_ASSERT(sizeof(KAPC_STATE) == 48 && offsetof(KAPC_STATE, Process) == 32);     /* x64 layout */

#ifdef __cplusplus
}
#endif

#endif /* _NTIFS_ */
