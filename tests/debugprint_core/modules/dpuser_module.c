/*
 * dpuser_module.c - a test driver that hosts the DebugPrint core, as the book's Wdm1 does:
 * DebugPrintInit in DriverEntry, DebugPrintClose in Unload. Its DebugPrint name is its service name
 * (the last part of RegistryPath), so two copies loaded under two names trace under two names.
 * The helpers of dpuser.h trace at PASSIVE_LEVEL, at DISPATCH_LEVEL and from a DPC.
 */
#include <wdm.h>

#include "DebugPrint.h"
#include "dpuser.h"

DRIVER_INITIALIZE DriverEntry;
static DRIVER_UNLOAD DpUserUnload;
static KDEFERRED_ROUTINE DpUserDpc;

/* One helper call's work; in a DPC, Done tells the waiting caller it is finished. */
typedef struct _DPUSER_WORK {
    const char *Prefix;
    ULONG First;
    ULONG Count;
    char *Msg;                  /* non-NULL: one DebugPrintMsg instead of the series */
    KEVENT Done;
} DPUSER_WORK, *PDPUSER_WORK;

static VOID DoWork(const DPUSER_WORK *Work)
{
    if (Work->Msg != NULL) {
        DebugPrintMsg(Work->Msg);
        return;
    }
    for (ULONG i = 0; i < Work->Count; i++)
        DebugPrint("%s %u", Work->Prefix, Work->First + i);
}

static VOID NTAPI DpUserDpc(PKDPC Dpc, PVOID Context, PVOID Argument1, PVOID Argument2)
{
    PDPUSER_WORK Work = Context;

    UNREFERENCED_PARAMETER(Dpc);
    UNREFERENCED_PARAMETER(Argument1);
    UNREFERENCED_PARAMETER(Argument2);
    DoWork(Work);
    KeSetEvent(&Work->Done, IO_NO_INCREMENT, FALSE);
}

/* The KDPC lives on this stack: the kernel is done with it once its routine has run, and the
 * routine's last act is to set Done. */
static VOID Run(ULONG Where, const char *Prefix, ULONG First, ULONG Count, char *Msg)
{
    DPUSER_WORK Work;
    KIRQL OldIrql;
    KDPC Dpc;

    Work.Prefix = Prefix;
    Work.First = First;
    Work.Count = Count;
    Work.Msg = Msg;
    switch (Where) {
    case DPUSER_AT_DISPATCH:
        KeRaiseIrql(DISPATCH_LEVEL, &OldIrql);
        DoWork(&Work);
        KeLowerIrql(OldIrql);
        break;
    case DPUSER_IN_DPC:
        KeInitializeEvent(&Work.Done, NotificationEvent, FALSE);
        KeInitializeDpc(&Dpc, DpUserDpc, &Work);
        KeInsertQueueDpc(&Dpc, NULL, NULL);
        KeWaitForSingleObject(&Work.Done, Executive, KernelMode, FALSE, NULL);
        break;
    default:
        DoWork(&Work);
        break;
    }
}

VOID DpUserPrintSeries(ULONG Where, const char *Prefix, ULONG First, ULONG Count)
{
    Run(Where, Prefix, First, Count, NULL);
}

VOID DpUserPrintMsg(ULONG Where, char *Msg)
{
    Run(Where, NULL, 0, 0, Msg);
}

VOID DpUserClose(VOID)
{
    DebugPrintClose();
}

static VOID NTAPI DpUserUnload(PDRIVER_OBJECT DriverObject)
{
    UNREFERENCED_PARAMETER(DriverObject);
    DebugPrintClose();
}

/* Name: the last part of RegistryPath, narrowed; the buffer is DriverEntry's own, which
 * DebugPrintInit must copy. */
static VOID ServiceName(PCUNICODE_STRING RegistryPath, char *Name, ULONG Size)
{
    ULONG Count = RegistryPath->Length / sizeof(WCHAR);
    ULONG Start = Count;
    ULONG i;

    while (Start > 0 && RegistryPath->Buffer[Start - 1] != L'\\')
        Start--;
    for (i = 0; Start + i < Count && i + 1 < Size; i++)
        Name[i] = (char)RegistryPath->Buffer[Start + i];
    Name[i] = '\0';
}

NTSTATUS NTAPI DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    char Name[DEBUGPRINT_MAX_NAME + 1];

    ServiceName(RegistryPath, Name, sizeof Name);
    DebugPrintInit(Name);
    DriverObject->DriverUnload = DpUserUnload;
    return STATUS_SUCCESS;
}
