/*
 * DebugPrint.c - the test-driver side of DebugPrint (chapter 14 of "Writing Windows WDM Device
 * Drivers"): trace calls build events in nonpaged pool and queue them on an interlocked list; a
 * system thread, which alone makes the Zw calls (PASSIVE_LEVEL, its own process context), opens
 * \Device\PHDDebugPrint and writes each event to it.
 *
 * Locking: StateLock guards the started flag, ExitNow, the driver name and the statistics, and a
 * message is counted and inserted while it is held. So once DebugPrintClose has cleared the
 * started flag no event can join the list, and a message racing with Close either arrives
 * before the thread's last drain or is ignored; it never touches the freed name. EventListLock
 * guards EventList and is used only by the ExInterlocked list calls, as the DDK requires.
 * Lock order: StateLock, then EventListLock.
 */
#include "DebugPrint.h"

#define DEBUGPRINT_TAG 'tPbD'
#define DEBUGPRINT_TICKS_PER_SECOND 10000000LL

static KSPIN_LOCK StateLock;
static BOOLEAN DebugPrintStarted;
static BOOLEAN ExitNow;
static char *DriverName;
static ULONG DriverNameLen;        /* including the NUL */
static DEBUGPRINT_STATISTICS Statistics;

static LIST_ENTRY EventList;
static KSPIN_LOCK EventListLock;
static KEVENT ThreadEvent;         /* synchronization: a message arrived, or logging ends */
static KEVENT ThreadExiting;
static PVOID ThreadObjectPointer;

/* ---- Formatting (DebugSprintf) ---- */

typedef struct _DEBUGPRINT_OUTPUT {
    char *Buffer;
    int Max;
    int Used;
} DEBUGPRINT_OUTPUT;

static void OutChar(DEBUGPRINT_OUTPUT *Out, char c)
{
    if (Out->Used < Out->Max - 1)
        Out->Buffer[Out->Used++] = c;
}

static void OutDecimal(DEBUGPRINT_OUTPUT *Out, LONGLONG Value, BOOLEAN Signed)
{
    char Digits[20];
    int Count = 0;
    ULONGLONG Magnitude = (ULONGLONG)Value;

    if (Signed && Value < 0) {
        OutChar(Out, '-');
        Magnitude = 0 - (ULONGLONG)Value;
    }
    do {
        Digits[Count++] = (char)('0' + Magnitude % 10);
        Magnitude /= 10;
    } while (Magnitude != 0);
    while (Count > 0)
        OutChar(Out, Digits[--Count]);
}

/* The low Count hex digits of Value, zero-padded and upper case. */
static void OutHex(DEBUGPRINT_OUTPUT *Out, ULONGLONG Value, int Count)
{
    static const char Hex[] = "0123456789ABCDEF";

    while (Count-- > 0)
        OutChar(Out, Hex[(Value >> (4 * Count)) & 0xF]);
}

/* A width is a maximum for strings: they are cut short, never padded, and never read past it
 * (a driver may print a buffer that has no NUL, such as a write's data). */
static void OutAnsi(DEBUGPRINT_OUTPUT *Out, const char *s, int Width)
{
    if (s == NULL)
        s = "(null)";
    for (int i = 0; (Width == 0 || i < Width) && s[i] != '\0'; i++)
        OutChar(Out, s[i]);
}

static void OutWide(DEBUGPRINT_OUTPUT *Out, const WCHAR *s, int Count, int Width)
{
    if (s == NULL) {
        OutAnsi(Out, NULL, Width);
        return;
    }
    for (int i = 0; (Count < 0 || i < Count) && (Width == 0 || i < Width) && s[i] != 0; i++)
        OutChar(Out, (char)s[i]);
}

/* A broken caller's Length may exceed MaximumLength, the size of Buffer: read no further than
 * the smaller of the two. */
static void OutUnicodeString(DEBUGPRINT_OUTPUT *Out, const UNICODE_STRING *s, int Width)
{
    USHORT Bytes;

    if (s == NULL) {
        OutAnsi(Out, NULL, Width);
        return;
    }
    Bytes = s->Length < s->MaximumLength ? s->Length : s->MaximumLength;
    OutWide(Out, s->Buffer, Bytes / (int)sizeof(WCHAR), Width);
}

static const char *const MajorNames[IRP_MJ_MAXIMUM_FUNCTION + 1] = {
    "CREATE", "CREATE_NAMED_PIPE", "CLOSE", "READ", "WRITE", "QUERY_INFORMATION", "SET_INFORMATION",
    "QUERY_EA", "SET_EA", "FLUSH_BUFFERS", "QUERY_VOLUME_INFORMATION", "SET_VOLUME_INFORMATION",
    "DIRECTORY_CONTROL", "FILE_SYSTEM_CONTROL", "DEVICE_CONTROL", "INTERNAL_DEVICE_CONTROL", "SHUTDOWN",
    "LOCK_CONTROL", "CLEANUP", "CREATE_MAILSLOT", "QUERY_SECURITY", "SET_SECURITY", "POWER",
    "SYSTEM_CONTROL", "DEVICE_CHANGE", "QUERY_QUOTA", "SET_QUOTA", "PNP",
};

/* PnP minor codes 0x00-0x18; 0x0E has no name (the book prints "Nowt"). */
static const char *const PnpNames[] = {
    "START_DEVICE", "QUERY_REMOVE_DEVICE", "REMOVE_DEVICE", "CANCEL_REMOVE_DEVICE", "STOP_DEVICE",
    "QUERY_STOP_DEVICE", "CANCEL_STOP_DEVICE", "QUERY_DEVICE_RELATIONS", "QUERY_INTERFACE",
    "QUERY_CAPABILITIES", "QUERY_RESOURCES", "QUERY_RESOURCE_REQUIREMENTS", "QUERY_DEVICE_TEXT",
    "FILTER_RESOURCE_REQUIREMENTS", "Nowt", "READ_CONFIG", "WRITE_CONFIG", "EJECT", "SET_LOCK", "QUERY_ID",
    "QUERY_PNP_DEVICE_STATE", "QUERY_BUS_INFORMATION", "DEVICE_USAGE_NOTIFICATION", "SURPRISE_REMOVAL",
    "QUERY_LEGACY_BUS_INFORMATION",
};

static const char *const PowerNames[] = { "WAIT_WAKE", "POWER_SEQUENCE", "SET_POWER", "QUERY_POWER" };

static const char *const WmiNames[] = {
    "QUERY_ALL_DATA", "QUERY_SINGLE_INSTANCE", "CHANGE_SINGLE_INSTANCE", "CHANGE_SINGLE_ITEM",
    "ENABLE_EVENTS", "DISABLE_EVENTS", "ENABLE_COLLECTION", "DISABLE_COLLECTION", "REGINFO", "EXECUTE_METHOD",
};

static const char *MinorName(UCHAR Major, UCHAR Minor)
{
    if (Major == IRP_MJ_PNP)
        return Minor < sizeof PnpNames / sizeof PnpNames[0] ? PnpNames[Minor] : NULL;
    if (Major == IRP_MJ_POWER)
        return Minor < sizeof PowerNames / sizeof PowerNames[0] ? PowerNames[Minor] : NULL;
    return Minor < sizeof WmiNames / sizeof WmiNames[0] ? WmiNames[Minor] : NULL;
}

/* %I: the IRP's major function, and for PnP, Power and WMI IRPs its minor function. */
static void OutIrp(DEBUGPRINT_OUTPUT *Out, PIRP Irp)
{
    PIO_STACK_LOCATION Stack;
    const char *Minor;

    if (Irp == NULL) {
        OutAnsi(Out, NULL, 0);
        return;
    }
    Stack = IoGetCurrentIrpStackLocation(Irp);
    if (Stack->MajorFunction > IRP_MJ_MAXIMUM_FUNCTION) {
        OutHex(Out, Stack->MajorFunction, 2);
        return;
    }
    OutAnsi(Out, MajorNames[Stack->MajorFunction], 0);
    if (Stack->MajorFunction != IRP_MJ_PNP && Stack->MajorFunction != IRP_MJ_POWER &&
        Stack->MajorFunction != IRP_MJ_SYSTEM_CONTROL)
        return;
    OutChar(Out, ':');
    Minor = MinorName(Stack->MajorFunction, Stack->MinorFunction);
    if (Minor != NULL)
        OutAnsi(Out, Minor, 0);
    else
        OutHex(Out, Stack->MinorFunction, 8);
}

/* Width 1-15 gives that many low-order digits; otherwise all of them (8 or 16). */
static int HexDigits(int Width, int All)
{
    return Width > 0 && Width < All ? Width : All;
}

static void OutConversion(DEBUGPRINT_OUTPUT *Out, char Conversion, int Width, va_list *Args)
{
    switch (Conversion) {
    case 'c': OutChar(Out, (char)va_arg(*Args, int)); break;
    case 'C': OutChar(Out, (char)(WCHAR)va_arg(*Args, int)); break;
    case 'd':
    case 'i': OutDecimal(Out, va_arg(*Args, int), TRUE); break;
    case 'D': OutDecimal(Out, va_arg(*Args, LONGLONG), TRUE); break;
    case 'u': OutDecimal(Out, va_arg(*Args, ULONG), FALSE); break;
    case 'x': OutHex(Out, va_arg(*Args, ULONG), HexDigits(Width, 8)); break;
    case 'l': OutHex(Out, (ULONGLONG)va_arg(*Args, LONGLONG), HexDigits(Width, 16)); break;
    case 'L': OutHex(Out, (ULONGLONG)va_arg(*Args, LARGE_INTEGER).QuadPart, HexDigits(Width, 16)); break;
    case 's': OutAnsi(Out, va_arg(*Args, const char *), Width); break;
    case 'S': OutWide(Out, va_arg(*Args, const WCHAR *), -1, Width); break;
    case 'T': OutUnicodeString(Out, va_arg(*Args, const UNICODE_STRING *), Width); break;
    case 'I': OutIrp(Out, va_arg(*Args, PIRP)); break;
    default: OutChar(Out, Conversion); break;
    }
}

/* '*' takes the width from the next argument (used only when > 0); digits give it directly. */
static const char *ParseWidth(const char *p, int *Width, va_list *Args)
{
    *Width = 0;
    if (*p == '*') {
        int FromArgs = va_arg(*Args, int);

        *Width = FromArgs > 0 ? FromArgs : 0;
        return p + 1;
    }
    while (*p >= '0' && *p <= '9' && *Width < 10000)
        *Width = *Width * 10 + (*p++ - '0');
    return p;
}

int DebugSprintf(char *Buffer, int Max, const char *Format, va_list Args)
{
    DEBUGPRINT_OUTPUT Out = { Buffer, Max, 0 };
    va_list Copy;
    int Width;

    if (Buffer == NULL || Max <= 0)
        return 0;
    va_copy(Copy, Args);
    for (const char *p = Format; *p != '\0'; p++) {
        if (*p != '%') {
            OutChar(&Out, *p);
            continue;
        }
        p = ParseWidth(p + 1, &Width, &Copy);
        if (*p == '\0')
            break;
        OutConversion(&Out, *p, Width, &Copy);
    }
    va_end(Copy);
    Buffer[Out.Used] = '\0';
    return Out.Used;
}

/* ---- Events ---- */

static ULONG BoundedLength(const char *s, ULONG Max)
{
    ULONG Length = 0;

    while (Length < Max && s[Length] != '\0')
        Length++;
    return Length;
}

/* StateLock held: one nonpaged event with the time, the name and the message (cut to fit). */
static PDEBUGPRINT_EVENT BuildEvent(const char *Msg)
{
    ULONG Room = DEBUGPRINT_MAX_EVENT - sizeof(TIME_FIELDS) - DriverNameLen - 1;
    ULONG MsgLen = BoundedLength(Msg, Room);
    ULONG EventDataLen = sizeof(TIME_FIELDS) + DriverNameLen + MsgLen + 1;
    PDEBUGPRINT_EVENT pEvent;
    LARGE_INTEGER Now;
    TIME_FIELDS NowTF;
    PUCHAR Data;

    pEvent = ExAllocatePoolWithTag(NonPagedPoolNx, FIELD_OFFSET(DEBUGPRINT_EVENT, EventData) + EventDataLen,
                                   DEBUGPRINT_TAG);
    if (pEvent == NULL)
        return NULL;
    KeQuerySystemTime(&Now);
    RtlTimeToTimeFields(&Now, &NowTF);
    Data = pEvent->EventData;
    RtlCopyMemory(Data, &NowTF, sizeof(TIME_FIELDS));
    Data += sizeof(TIME_FIELDS);
    RtlCopyMemory(Data, DriverName, DriverNameLen);
    Data += DriverNameLen;
    RtlCopyMemory(Data, Msg, MsgLen);
    Data[MsgLen] = '\0';
    pEvent->Len = EventDataLen;
    return pEvent;
}

VOID DebugPrintMsg(char *Msg)
{
    PDEBUGPRINT_EVENT pEvent = NULL;
    KIRQL OldIrql;

    KeAcquireSpinLock(&StateLock, &OldIrql);
    if (!DebugPrintStarted) {
        Statistics.Ignored++;
        KeReleaseSpinLock(&StateLock, OldIrql);
        return;
    }
    Statistics.Produced++;
    if (Statistics.Queued >= DEBUGPRINT_MAX_QUEUED)
        Statistics.DroppedQueueFull++;
    else if ((pEvent = BuildEvent(Msg)) == NULL)
        Statistics.DroppedNoMemory++;
    else {
        Statistics.Queued++;
        ExInterlockedInsertTailList(&EventList, &pEvent->ListEntry, &EventListLock);
    }
    KeReleaseSpinLock(&StateLock, OldIrql);
    if (pEvent != NULL)
        KeSetEvent(&ThreadEvent, IO_NO_INCREMENT, FALSE);
}

static VOID FormatAndSend(int Max, const char *Format, va_list Args)
{
    char *Buffer;

    if (Max <= 0)
        return;
    Buffer = ExAllocatePoolWithTag(NonPagedPoolNx, (SIZE_T)Max, DEBUGPRINT_TAG);
    if (Buffer == NULL) {
        DebugPrintMsg("DebugPrint: Could not allocate buffer");
        return;
    }
    DebugSprintf(Buffer, Max, Format, Args);
    DebugPrintMsg(Buffer);
    ExFreePoolWithTag(Buffer, DEBUGPRINT_TAG);
}

VOID DebugPrint(const char *Format, ...)
{
    va_list Args;

    va_start(Args, Format);
    FormatAndSend(DEBUGPRINT_FORMAT_BUFFER, Format, Args);
    va_end(Args);
}

VOID DebugPrint2(int Max, const char *Format, ...)
{
    va_list Args;

    va_start(Args, Format);
    FormatAndSend(Max, Format, Args);
    va_end(Args);
}

VOID DebugPrintGetStatistics(PDEBUGPRINT_STATISTICS Out)
{
    KIRQL OldIrql;

    KeAcquireSpinLock(&StateLock, &OldIrql);
    *Out = Statistics;
    Out->Dropped = Statistics.DroppedQueueFull + Statistics.DroppedNoMemory + Statistics.DroppedWriteFailed;
    KeReleaseSpinLock(&StateLock, OldIrql);
}

/* ---- The system thread ---- */

static BOOLEAN ExitRequested(VOID)
{
    BOOLEAN Exit;
    KIRQL OldIrql;

    KeAcquireSpinLock(&StateLock, &OldIrql);
    Exit = ExitNow;
    KeReleaseSpinLock(&StateLock, OldIrql);
    return Exit;
}

/* Counts what became of one event that left the list. */
static VOID CountDequeued(ULONG *Outcome)
{
    KIRQL OldIrql;

    KeAcquireSpinLock(&StateLock, &OldIrql);
    Statistics.Queued--;
    (*Outcome)++;
    KeReleaseSpinLock(&StateLock, OldIrql);
}

static PDEBUGPRINT_EVENT NextEvent(VOID)
{
    PLIST_ENTRY pListEntry = ExInterlockedRemoveHeadList(&EventList, &EventListLock);

    return pListEntry == NULL ? NULL : CONTAINING_RECORD(pListEntry, DEBUGPRINT_EVENT, ListEntry);
}

static VOID ClearEvents(VOID)
{
    PDEBUGPRINT_EVENT pEvent;

    while ((pEvent = NextEvent()) != NULL) {
        ExFreePoolWithTag(pEvent, DEBUGPRINT_TAG);
        CountDequeued(&Statistics.Cleared);
    }
}

static VOID WriteEvents(HANDLE Device)
{
    PDEBUGPRINT_EVENT pEvent;

    while ((pEvent = NextEvent()) != NULL) {
        IO_STATUS_BLOCK IoStatus;
        LARGE_INTEGER ByteOffset;
        NTSTATUS status;

        ByteOffset.QuadPart = 0;
        status = ZwWriteFile(Device, NULL, NULL, NULL, &IoStatus, pEvent->EventData, pEvent->Len,
                             &ByteOffset, NULL);
        ExFreePoolWithTag(pEvent, DEBUGPRINT_TAG);
        CountDequeued(NT_SUCCESS(status) ? &Statistics.Delivered : &Statistics.DroppedWriteFailed);
    }
}

static BOOLEAN TryOpen(PHANDLE Device)
{
    UNICODE_STRING DebugPrintName;
    OBJECT_ATTRIBUTES ObjectAttributes;
    IO_STATUS_BLOCK IoStatus;
    NTSTATUS status;

    RtlInitUnicodeString(&DebugPrintName, DEBUGPRINT_DEVICE_NAME);
    InitializeObjectAttributes(&ObjectAttributes, &DebugPrintName, OBJ_CASE_INSENSITIVE | OBJ_KERNEL_HANDLE,
                               NULL, NULL);
    status = ZwCreateFile(Device, GENERIC_READ | GENERIC_WRITE, &ObjectAttributes, &IoStatus, NULL,
                          FILE_ATTRIBUTE_NORMAL, FILE_SHARE_READ | FILE_SHARE_WRITE, FILE_OPEN, 0, NULL, 0);
    return NT_SUCCESS(status) && *Device != NULL;
}

/* Waits about one second for a message or for Close; events keep queuing meanwhile. */
static VOID WaitOneSecond(VOID)
{
    LARGE_INTEGER OneSecondTimeout;

    OneSecondTimeout.QuadPart = -DEBUGPRINT_TICKS_PER_SECOND;
    KeWaitForSingleObject(&ThreadEvent, Executive, KernelMode, FALSE, &OneSecondTimeout);
}

/* The DebugPrint driver may start after this one: try every 20 s for five minutes, checking
 * ExitNow at least every second. */
static BOOLEAN OpenDevice(PHANDLE Device)
{
    LARGE_INTEGER Now, NextTry, GiveUp;

    KeQuerySystemTime(&Now);
    GiveUp.QuadPart = Now.QuadPart + DEBUGPRINT_OPEN_GIVE_UP_SECONDS * DEBUGPRINT_TICKS_PER_SECOND;
    for (;;) {
        if (TryOpen(Device))
            return TRUE;
        NextTry.QuadPart = Now.QuadPart + DEBUGPRINT_OPEN_RETRY_SECONDS * DEBUGPRINT_TICKS_PER_SECOND;
        if (NextTry.QuadPart > GiveUp.QuadPart)
            return FALSE;
        while (Now.QuadPart < NextTry.QuadPart) {
            if (ExitRequested())
                return FALSE;
            WaitOneSecond();
            KeQuerySystemTime(&Now);
        }
    }
}

/* Drains first: what queued while the device was missing goes as soon as it opens. Exit is read
 * before the drain: whatever Close queued before asking to exit is written. */
static VOID Serve(HANDLE Device)
{
    for (;;) {
        BOOLEAN Exit = ExitRequested();

        WriteEvents(Device);
        if (Exit)
            return;
        WaitOneSecond();
    }
}

static VOID StopLogging(VOID)
{
    KIRQL OldIrql;

    KeAcquireSpinLock(&StateLock, &OldIrql);
    DebugPrintStarted = FALSE;
    ExitNow = TRUE;
    KeReleaseSpinLock(&StateLock, OldIrql);
}

static VOID NTAPI DebugPrintSystemThread(PVOID Context)
{
    HANDLE Device = NULL;

    UNREFERENCED_PARAMETER(Context);
    KeSetPriorityThread(KeGetCurrentThread(), LOW_REALTIME_PRIORITY);
    if (OpenDevice(&Device)) {
        Serve(Device);
        ZwClose(Device);
    } else {
        StopLogging();
    }
    ClearEvents();
    KeSetEvent(&ThreadExiting, IO_NO_INCREMENT, FALSE);
    PsTerminateSystemThread(STATUS_SUCCESS);
}

/* ---- Start and end ---- */

static BOOLEAN CopyDriverName(const char *Name)
{
    ULONG Length = BoundedLength(Name, DEBUGPRINT_MAX_NAME);

    DriverName = ExAllocatePoolWithTag(NonPagedPoolNx, Length + 1, DEBUGPRINT_TAG);
    if (DriverName == NULL)
        return FALSE;
    RtlCopyMemory(DriverName, Name, Length);
    DriverName[Length] = '\0';
    DriverNameLen = Length + 1;
    return TRUE;
}

static VOID FreeDriverName(VOID)
{
    ExFreePoolWithTag(DriverName, DEBUGPRINT_TAG);
    DriverName = NULL;
    DriverNameLen = 0;
}

static BOOLEAN StartThread(VOID)
{
    HANDLE ThreadHandle;
    NTSTATUS status;

    status = PsCreateSystemThread(&ThreadHandle, THREAD_ALL_ACCESS, NULL, NULL, NULL, DebugPrintSystemThread, NULL);
    if (!NT_SUCCESS(status))
        return FALSE;
    status = ObReferenceObjectByHandle(ThreadHandle, THREAD_ALL_ACCESS, NULL, KernelMode, &ThreadObjectPointer,
                                       NULL);
    ZwClose(ThreadHandle);
    if (NT_SUCCESS(status))
        return TRUE;
    ThreadObjectPointer = NULL;
    StopLogging();
    KeSetEvent(&ThreadEvent, IO_NO_INCREMENT, FALSE);
    return FALSE;
}

VOID DebugPrintInit(char *Name)
{
    RtlZeroMemory(&Statistics, sizeof Statistics);
    KeInitializeSpinLock(&StateLock);
    KeInitializeSpinLock(&EventListLock);
    InitializeListHead(&EventList);
    KeInitializeEvent(&ThreadEvent, SynchronizationEvent, FALSE);
    KeInitializeEvent(&ThreadExiting, NotificationEvent, FALSE);
    ExitNow = FALSE;
    ThreadObjectPointer = NULL;
    if (!CopyDriverName(Name))
        return;
    DebugPrintStarted = TRUE;
    if (!StartThread()) {
        StopLogging();
        FreeDriverName();
        return;
    }
    DebugPrintMsg("DebugPrint logging started");
}

VOID DebugPrintClose(VOID)
{
    if (ThreadObjectPointer == NULL)
        return;
    DebugPrintMsg("DebugPrint logging ended");
    StopLogging();
    KeSetEvent(&ThreadEvent, IO_NO_INCREMENT, FALSE);
    KeWaitForSingleObject(ThreadObjectPointer, Executive, KernelMode, FALSE, NULL);
    ObDereferenceObject(ThreadObjectPointer);
    ThreadObjectPointer = NULL;
    FreeDriverName();
}
