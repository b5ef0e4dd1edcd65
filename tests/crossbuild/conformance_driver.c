/*
 * conformance_driver.c - a WDM driver whose DriverEntry calls every DDI that sim_kernel/include/wdm.h
 * and ntddk.h declare, at the IRQL Windows allows, and checks each result against the documented
 * behaviour. The same source builds into the host runner (against wdmsim::kernel) and, with
 * mingw-w64, into conformance.sys. It grows with every issue: each new DDI gets a call here.
 * KfLowerIrql and RtlFailFast are reached only through KeLowerIrql and the list helpers: mingw-w64's
 * x64 DDK does not declare them for drivers; RTL_QUERY_REGISTRY_TYPECHECK and KEY_CACHED_INFORMATION
 * are left out for the same reason. ConformIo opens the driver's own device from inside
 * DriverEntry, through a filter device attached on top, and removes both before returning.
 */
#include <ntifs.h>
#include <ntstrsafe.h>

#define CONFORMANCE_TAG 'fnoC'

#define MANUALLY_INITIATED_CRASH_CODE 0x000000E2
#define IRQL_NOT_LESS_OR_EQUAL_CODE 0x0000000A

#define ONE_MILLISECOND 10000LL             /* in 100 ns units */
#define ONE_MINUTE (60LL * 10000000LL)
#define ONE_DAY (24LL * 60LL * ONE_MINUTE)

/* 2000-01-01 00:00:00.000 UTC (a Saturday) and 2024-02-29 12:34:56.789 (a Thursday). */
#define Y2K_SYSTEM_TIME 125911584000000000LL
#define LEAP_DAY_SYSTEM_TIME 133536836967890000LL

/* The first failed check, for the host runner or a debugger; DriverEntry fails when any did. */
ULONG ConformanceFailures;
PCSTR ConformanceFirstFailure;
ULONG ConformanceFirstFailureLine;

typedef struct _CONFORMANCE_NODE {
    ULONG Value;
    LIST_ENTRY Link;
    SINGLE_LIST_ENTRY StackLink;
} CONFORMANCE_NODE, *PCONFORMANCE_NODE;

/* What a DPC routine saw; written at DISPATCH_LEVEL, read after KeFlushQueuedDpcs. */
typedef struct _CONFORMANCE_DPC {
    ULONG Runs;
    KIRQL Irql;
    PVOID Argument1;
    KEVENT Ran;
} CONFORMANCE_DPC, *PCONFORMANCE_DPC;

/* What the system thread saw; read after waiting for the thread object. */
typedef struct _CONFORMANCE_THREAD {
    KIRQL Irql;
    PKTHREAD Self;
    PETHREAD SelfAsEthread;
    HANDLE SelfId;
    KPRIORITY InitialPriority;
    KPRIORITY OldPriority;
    KPRIORITY NewPriority;
} CONFORMANCE_THREAD, *PCONFORMANCE_THREAD;

/* What the work item routine saw; lives on DriverEntry's stack while the item is in pool. */
typedef struct _CONFORMANCE_WORK_RESULT {
    KIRQL Irql;
    PKTHREAD Thread;
    KEVENT Done;
} CONFORMANCE_WORK_RESULT, *PCONFORMANCE_WORK_RESULT;

typedef struct _CONFORMANCE_WORK {
    WORK_QUEUE_ITEM Item;
    PCONFORMANCE_WORK_RESULT Result;
} CONFORMANCE_WORK, *PCONFORMANCE_WORK;

DRIVER_INITIALIZE DriverEntry;

static VOID Expect(BOOLEAN Holds, PCSTR Check, ULONG Line)
{
    if (Holds)
        return;
    if (ConformanceFailures++ == 0) {
        ConformanceFirstFailure = Check;
        ConformanceFirstFailureLine = Line;
    }
}

#define EXPECT(condition) Expect((BOOLEAN)((condition) != 0), #condition, __LINE__)

static ULONG NodeValue(PLIST_ENTRY Entry)
{
    return CONTAINING_RECORD(Entry, CONFORMANCE_NODE, Link)->Value;
}

static VOID ConformStatusMacros(VOID)
{
    EXPECT(NT_SUCCESS(STATUS_SUCCESS) && NT_SUCCESS(STATUS_PENDING));
    EXPECT(!NT_SUCCESS(STATUS_UNSUCCESSFUL) && !NT_SUCCESS(STATUS_BUFFER_OVERFLOW));
    EXPECT(NT_INFORMATION(STATUS_OBJECT_NAME_EXISTS) && !NT_INFORMATION(STATUS_SUCCESS));
    EXPECT(NT_WARNING(STATUS_BUFFER_OVERFLOW) && !NT_WARNING(STATUS_INSUFFICIENT_RESOURCES));
    EXPECT(NT_ERROR(STATUS_INSUFFICIENT_RESOURCES) && !NT_ERROR(STATUS_TIMEOUT));
    EXPECT(FIELD_OFFSET(CONFORMANCE_NODE, Link) == (LONG)sizeof(PVOID));
}

static VOID ConformIrql(VOID)
{
    KIRQL oldIrql;
    KIRQL previous;

    EXPECT(KeGetCurrentIrql() == PASSIVE_LEVEL);

    KeRaiseIrql(APC_LEVEL, &oldIrql);
    EXPECT(oldIrql == PASSIVE_LEVEL);
    EXPECT(KeGetCurrentIrql() == APC_LEVEL);

    previous = KfRaiseIrql(DISPATCH_LEVEL);
    EXPECT(previous == APC_LEVEL);
    EXPECT(KeGetCurrentIrql() == DISPATCH_LEVEL);

    KeRaiseIrql(DISPATCH_LEVEL, &previous);
    EXPECT(previous == DISPATCH_LEVEL);
    KeLowerIrql(APC_LEVEL);
    EXPECT(KeGetCurrentIrql() == APC_LEVEL);

    KeLowerIrql(oldIrql);
    EXPECT(KeGetCurrentIrql() == PASSIVE_LEVEL);

    oldIrql = KeRaiseIrqlToDpcLevel();
    EXPECT(oldIrql == PASSIVE_LEVEL);
    EXPECT(KeGetCurrentIrql() == DISPATCH_LEVEL);
    KeLowerIrql(oldIrql);
    EXPECT(KeGetCurrentIrql() == PASSIVE_LEVEL);
}

static VOID ConformSpinLocks(VOID)
{
    KSPIN_LOCK lock;
    KIRQL oldIrql;
    KIRQL apcIrql;

    KeInitializeSpinLock(&lock);

    KeAcquireSpinLock(&lock, &oldIrql);
    EXPECT(oldIrql == PASSIVE_LEVEL);
    EXPECT(KeGetCurrentIrql() == DISPATCH_LEVEL);
    KeReleaseSpinLock(&lock, oldIrql);
    EXPECT(KeGetCurrentIrql() == PASSIVE_LEVEL);

    oldIrql = KeAcquireSpinLockRaiseToDpc(&lock);
    EXPECT(oldIrql == PASSIVE_LEVEL);
    EXPECT(KeGetCurrentIrql() == DISPATCH_LEVEL);
    KeReleaseSpinLock(&lock, oldIrql);
    EXPECT(KeGetCurrentIrql() == PASSIVE_LEVEL);

    KeRaiseIrql(DISPATCH_LEVEL, &oldIrql);
    KeAcquireSpinLockAtDpcLevel(&lock);
    EXPECT(KeGetCurrentIrql() == DISPATCH_LEVEL);
    KeReleaseSpinLockFromDpcLevel(&lock);
    EXPECT(KeGetCurrentIrql() == DISPATCH_LEVEL);
    KeLowerIrql(oldIrql);

    KeRaiseIrql(APC_LEVEL, &oldIrql);
    KeAcquireSpinLock(&lock, &apcIrql);
    EXPECT(apcIrql == APC_LEVEL);
    KeReleaseSpinLock(&lock, apcIrql);
    EXPECT(KeGetCurrentIrql() == APC_LEVEL);
    KeLowerIrql(oldIrql);
    EXPECT(KeGetCurrentIrql() == PASSIVE_LEVEL);
}

static VOID ConformLists(VOID)
{
    CONFORMANCE_NODE nodes[3];
    LIST_ENTRY head;
    SINGLE_LIST_ENTRY stack;
    PLIST_ENTRY entry;
    ULONG i;

    for (i = 0; i < 3; i++)
        nodes[i].Value = i + 1;

    InitializeListHead(&head);
    EXPECT(IsListEmpty(&head));
    InsertTailList(&head, &nodes[0].Link);
    InsertTailList(&head, &nodes[1].Link);
    InsertHeadList(&head, &nodes[2].Link);
    EXPECT(!IsListEmpty(&head));
    EXPECT(NodeValue(head.Flink) == 3 && NodeValue(head.Blink) == 2);

    entry = RemoveHeadList(&head);
    EXPECT(NodeValue(entry) == 3);
    entry = RemoveTailList(&head);
    EXPECT(NodeValue(entry) == 2);
    EXPECT(RemoveEntryList(&nodes[0].Link) == TRUE);
    EXPECT(IsListEmpty(&head));

    InsertTailList(&head, &nodes[0].Link);
    InsertTailList(&head, &nodes[1].Link);
    EXPECT(RemoveEntryList(&nodes[0].Link) == FALSE);
    EXPECT(RemoveHeadList(&head) == &nodes[1].Link);
    EXPECT(IsListEmpty(&head));

    stack.Next = NULL;
    EXPECT(PopEntryList(&stack) == NULL);
    PushEntryList(&stack, &nodes[0].StackLink);
    PushEntryList(&stack, &nodes[1].StackLink);
    EXPECT(PopEntryList(&stack) == &nodes[1].StackLink);
    EXPECT(PopEntryList(&stack) == &nodes[0].StackLink);
    EXPECT(PopEntryList(&stack) == NULL);
}

static VOID ConformInterlockedLists(VOID)
{
    PCONFORMANCE_NODE nodes[3];
    LIST_ENTRY head;
    SINGLE_LIST_ENTRY stack;
    KSPIN_LOCK lock;
    KIRQL oldIrql;
    ULONG i;

    for (i = 0; i < 3; i++) {
        nodes[i] = ExAllocatePoolWithTag(NonPagedPool, sizeof(CONFORMANCE_NODE), CONFORMANCE_TAG);
        EXPECT(nodes[i] != NULL);
        if (nodes[i] == NULL) {
            while (i-- > 0)
                ExFreePoolWithTag(nodes[i], CONFORMANCE_TAG);
            return;
        }
        nodes[i]->Value = i + 1;
    }

    KeInitializeSpinLock(&lock);
    InitializeListHead(&head);
    EXPECT(ExInterlockedRemoveHeadList(&head, &lock) == NULL);
    EXPECT(ExInterlockedInsertTailList(&head, &nodes[0]->Link, &lock) == NULL);
    EXPECT(ExInterlockedInsertTailList(&head, &nodes[1]->Link, &lock) == &nodes[0]->Link);
    EXPECT(ExInterlockedInsertHeadList(&head, &nodes[2]->Link, &lock) == &nodes[0]->Link);
    EXPECT(KeGetCurrentIrql() == PASSIVE_LEVEL);

    KeRaiseIrql(DISPATCH_LEVEL, &oldIrql);
    EXPECT(NodeValue(ExInterlockedRemoveHeadList(&head, &lock)) == 3);
    EXPECT(KeGetCurrentIrql() == DISPATCH_LEVEL);
    KeLowerIrql(oldIrql);

    EXPECT(ExInterlockedRemoveHeadList(&head, &lock) == &nodes[0]->Link);
    EXPECT(ExInterlockedRemoveHeadList(&head, &lock) == &nodes[1]->Link);
    EXPECT(ExInterlockedRemoveHeadList(&head, &lock) == NULL);
    EXPECT(IsListEmpty(&head));
    EXPECT(ExInterlockedInsertHeadList(&head, &nodes[0]->Link, &lock) == NULL);
    EXPECT(ExInterlockedRemoveHeadList(&head, &lock) == &nodes[0]->Link);

    stack.Next = NULL;
    EXPECT(ExInterlockedPopEntryList(&stack, &lock) == NULL);
    EXPECT(ExInterlockedPushEntryList(&stack, &nodes[0]->StackLink, &lock) == NULL);
    EXPECT(ExInterlockedPushEntryList(&stack, &nodes[1]->StackLink, &lock) == &nodes[0]->StackLink);
    EXPECT(ExInterlockedPopEntryList(&stack, &lock) == &nodes[1]->StackLink);
    EXPECT(ExInterlockedPopEntryList(&stack, &lock) == &nodes[0]->StackLink);
    EXPECT(ExInterlockedPopEntryList(&stack, &lock) == NULL);

    /* The interlocked calls must have released the caller's lock. */
    KeAcquireSpinLock(&lock, &oldIrql);
    KeReleaseSpinLock(&lock, oldIrql);
    EXPECT(KeGetCurrentIrql() == PASSIVE_LEVEL);

    for (i = 0; i < 3; i++)
        ExFreePoolWithTag(nodes[i], CONFORMANCE_TAG);
}

static VOID ConformPool(VOID)
{
    PUCHAR block;
    PVOID paged;
    PVOID page;
    KIRQL oldIrql;

    block = ExAllocatePoolWithTag(NonPagedPool, 64, CONFORMANCE_TAG);
    EXPECT(block != NULL);
    if (block != NULL) {
        EXPECT(((ULONG_PTR)block & 15) == 0);
        RtlFillMemory(block, 64, 0x5A);
        EXPECT(block[0] == 0x5A && block[63] == 0x5A);
        ExFreePoolWithTag(block, CONFORMANCE_TAG);
    }

    paged = ExAllocatePool(PagedPool, 32);
    EXPECT(paged != NULL);
    if (paged != NULL)
        ExFreePool(paged);

    /* Requests of PAGE_SIZE or more are page-aligned. */
    page = ExAllocatePoolWithTag(PagedPool, PAGE_SIZE, CONFORMANCE_TAG);
    EXPECT(page != NULL);
    if (page != NULL) {
        EXPECT(((ULONG_PTR)page & (PAGE_SIZE - 1)) == 0);
        ExFreePoolWithTag(page, CONFORMANCE_TAG);
    }

    KeRaiseIrql(DISPATCH_LEVEL, &oldIrql);
    block = ExAllocatePoolWithTag(NonPagedPool, 16, CONFORMANCE_TAG);
    EXPECT(block != NULL);
    if (block != NULL)
        ExFreePoolWithTag(block, CONFORMANCE_TAG);
    KeLowerIrql(oldIrql);
}

static BOOLEAN TimeFieldsAre(const TIME_FIELDS *Fields, CSHORT Year, CSHORT Month, CSHORT Day,
                             CSHORT Hour, CSHORT Minute, CSHORT Second, CSHORT Milliseconds,
                             CSHORT Weekday)
{
    return (BOOLEAN)(Fields->Year == Year && Fields->Month == Month && Fields->Day == Day &&
                     Fields->Hour == Hour && Fields->Minute == Minute && Fields->Second == Second &&
                     Fields->Milliseconds == Milliseconds && Fields->Weekday == Weekday);
}

static VOID ConformTimeConversions(VOID)
{
    LARGE_INTEGER time;
    TIME_FIELDS fields;

    time.QuadPart = 0;
    RtlTimeToTimeFields(&time, &fields);
    EXPECT(TimeFieldsAre(&fields, 1601, 1, 1, 0, 0, 0, 0, 1));

    time.QuadPart = Y2K_SYSTEM_TIME;
    RtlTimeToTimeFields(&time, &fields);
    EXPECT(TimeFieldsAre(&fields, 2000, 1, 1, 0, 0, 0, 0, 6));

    RtlZeroMemory(&fields, sizeof(fields));
    fields.Year = 2024;
    fields.Month = 2;
    fields.Day = 29;
    fields.Hour = 12;
    fields.Minute = 34;
    fields.Second = 56;
    fields.Milliseconds = 789;
    time.QuadPart = 0;
    EXPECT(RtlTimeFieldsToTime(&fields, &time) == TRUE);
    EXPECT(time.QuadPart == LEAP_DAY_SYSTEM_TIME);
    RtlTimeToTimeFields(&time, &fields);
    EXPECT(TimeFieldsAre(&fields, 2024, 2, 29, 12, 34, 56, 789, 4));

    fields.Day = 30;
    EXPECT(RtlTimeFieldsToTime(&fields, &time) == FALSE);
    fields.Day = 29;
    fields.Year = 2023;
    EXPECT(RtlTimeFieldsToTime(&fields, &time) == FALSE);
    fields.Year = 2024;
    fields.Month = 13;
    EXPECT(RtlTimeFieldsToTime(&fields, &time) == FALSE);
}

static VOID ConformClock(VOID)
{
    LARGE_INTEGER now;
    LARGE_INTEGER later;
    LARGE_INTEGER back;
    LARGE_INTEGER local;
    LARGE_INTEGER system;
    LARGE_INTEGER ticks;
    LARGE_INTEGER laterTicks;
    TIME_FIELDS fields;
    ULONG increment;
    LONGLONG bias;

    KeQuerySystemTime(&now);
    EXPECT(now.QuadPart >= Y2K_SYSTEM_TIME);
    RtlTimeToTimeFields(&now, &fields);
    EXPECT(fields.Year >= 2000 && fields.Month >= 1 && fields.Month <= 12);
    EXPECT(fields.Day >= 1 && fields.Day <= 31 && fields.Hour < 24 && fields.Minute < 60);
    EXPECT(fields.Second < 60 && fields.Milliseconds < 1000 && fields.Weekday < 7);
    EXPECT(RtlTimeFieldsToTime(&fields, &back) == TRUE);
    EXPECT(back.QuadPart == now.QuadPart - now.QuadPart % ONE_MILLISECOND);
    KeQuerySystemTime(&later);
    EXPECT(later.QuadPart >= now.QuadPart);

    KeQueryTickCount(&ticks);
    KeQueryTickCount(&laterTicks);
    EXPECT(ticks.QuadPart >= 0 && laterTicks.QuadPart >= ticks.QuadPart);
    increment = KeQueryTimeIncrement();
    EXPECT(increment > 0 && increment <= 10000000);

    ExSystemTimeToLocalTime(&now, &local);
    ExLocalTimeToSystemTime(&local, &system);
    EXPECT(system.QuadPart == now.QuadPart);
    bias = now.QuadPart - local.QuadPart;
    EXPECT(bias % ONE_MINUTE == 0 && bias > -ONE_DAY && bias < ONE_DAY);
}

static VOID ConformCounters(VOID)
{
    LARGE_INTEGER frequency;
    LARGE_INTEGER counter;
    LARGE_INTEGER laterCounter;
    ULONGLONG interrupt;
    ULONGLONG unbiased;

    counter = KeQueryPerformanceCounter(&frequency);
    EXPECT(frequency.QuadPart > 0 && counter.QuadPart >= 0);
    interrupt = KeQueryInterruptTime();
    unbiased = KeQueryUnbiasedInterruptTime();
    EXPECT(unbiased <= KeQueryInterruptTime());
    KeStallExecutionProcessor(10);
    laterCounter = KeQueryPerformanceCounter(NULL);
    EXPECT(laterCounter.QuadPart - counter.QuadPart >= frequency.QuadPart / 100000);
    EXPECT(KeQueryInterruptTime() >= interrupt);
}

static VOID NTAPI ConformanceProcessorDpc(PKDPC Dpc, PVOID DeferredContext, PVOID SystemArgument1,
                                          PVOID SystemArgument2)
{
    UNREFERENCED_PARAMETER(Dpc);
    UNREFERENCED_PARAMETER(SystemArgument1);
    UNREFERENCED_PARAMETER(SystemArgument2);
    *(volatile ULONG *)DeferredContext = KeGetCurrentProcessorNumber();
}

static VOID ConformProcessors(VOID)
{
    KAFFINITY active = 0;
    KAFFINITY previous;
    ULONG count = KeQueryActiveProcessorCount(&active);
    ULONG last = count - 1;
    PROCESSOR_NUMBER number;
    KDPC dpc;
    volatile ULONG ranOn = MAXULONG;

    EXPECT(count >= 1 && count <= 64 && active == KeQueryActiveProcessors());
    EXPECT(KeQueryActiveProcessorCountEx(ALL_PROCESSOR_GROUPS) >= count);
    EXPECT(KeGetCurrentProcessorNumberEx(&number) < KeQueryActiveProcessorCountEx(ALL_PROCESSOR_GROUPS));

    previous = KeSetSystemAffinityThreadEx((KAFFINITY)1 << last);
    EXPECT(KeGetCurrentProcessorNumber() == last);
    KeRevertToUserAffinityThreadEx(previous);

    KeInitializeDpc(&dpc, ConformanceProcessorDpc, (PVOID)&ranOn);
    KeSetTargetProcessorDpc(&dpc, (CCHAR)last);
    EXPECT(KeInsertQueueDpc(&dpc, NULL, NULL) == TRUE);
    KeFlushQueuedDpcs();
    EXPECT(ranOn == last);
}

static VOID ConformStrings(VOID)
{
    static WCHAR conformance[] = L"Conformance";
    UNICODE_STRING constant = RTL_CONSTANT_STRING(L"Conformance");
    UNICODE_STRING name;
    UNICODE_STRING other;
    UNICODE_STRING copy;
    ANSI_STRING ansi;
    WCHAR sameBuffer[12];
    WCHAR copyBuffer[8];

    RtlInitUnicodeString(&name, conformance);
    EXPECT(name.Buffer == conformance);
    EXPECT(name.Length == 11 * sizeof(WCHAR) && name.MaximumLength == 12 * sizeof(WCHAR));
    EXPECT(constant.Length == name.Length && constant.MaximumLength == name.MaximumLength);
    EXPECT(RtlEqualUnicodeString(&constant, &name, FALSE) == TRUE);
    RtlInitUnicodeString(&other, NULL);
    EXPECT(other.Length == 0 && other.MaximumLength == 0 && other.Buffer == NULL);

    RtlInitAnsiString(&ansi, "wdm");
    EXPECT(ansi.Length == 3 && ansi.MaximumLength == 4 && ansi.Buffer[0] == 'w');
    RtlInitAnsiString(&ansi, NULL);
    EXPECT(ansi.Length == 0 && ansi.MaximumLength == 0 && ansi.Buffer == NULL);

    RtlCopyMemory(sameBuffer, name.Buffer, name.MaximumLength);
    other.Buffer = sameBuffer;
    other.Length = name.Length;
    other.MaximumLength = sizeof(sameBuffer);
    EXPECT(RtlEqualUnicodeString(&name, &other, FALSE) == TRUE);
    other.Length = 7 * sizeof(WCHAR);
    EXPECT(RtlEqualUnicodeString(&name, &other, FALSE) == FALSE);
    RtlInitUnicodeString(&other, L"CONFORMANCE");
    EXPECT(RtlEqualUnicodeString(&name, &other, FALSE) == FALSE);
    EXPECT(RtlEqualUnicodeString(&name, &other, TRUE) == TRUE);

    copy.Buffer = copyBuffer;
    copy.Length = 0;
    copy.MaximumLength = sizeof(copyBuffer);
    RtlCopyUnicodeString(&copy, &name);
    EXPECT(copy.Length == sizeof(copyBuffer));
    EXPECT(RtlCompareMemory(copy.Buffer, name.Buffer, copy.Length) == copy.Length);
    RtlInitUnicodeString(&other, L"wdm");
    RtlCopyUnicodeString(&copy, &other);
    EXPECT(copy.Length == 3 * sizeof(WCHAR) && copy.MaximumLength == sizeof(copyBuffer));
    EXPECT(RtlEqualUnicodeString(&copy, &other, FALSE) == TRUE);
    RtlCopyUnicodeString(&copy, NULL);
    EXPECT(copy.Length == 0);
}

static VOID ConformConversions(VOID)
{
    ANSI_STRING ansi;
    ANSI_STRING back;
    UNICODE_STRING wide;
    UNICODE_STRING prefix;
    UNICODE_STRING number;
    WCHAR numberBuffer[12];
    ULONG value = 0;
    ULONG hash = 0;
    ULONG upperHash = 0;

    RtlInitAnsiString(&ansi, "Wdm42");
    EXPECT(RtlAnsiStringToUnicodeString(&wide, &ansi, TRUE) == STATUS_SUCCESS);
    EXPECT(wide.Length == 5 * sizeof(WCHAR) && wide.Buffer[4] == L'2' && wide.Buffer[5] == 0);
    EXPECT(RtlUnicodeStringToAnsiString(&back, &wide, TRUE) == STATUS_SUCCESS);
    EXPECT(back.Length == 5 && RtlCompareMemory(back.Buffer, "Wdm42", 6) == 6);
    RtlFreeAnsiString(&back);
    EXPECT(back.Buffer == NULL);

    RtlInitUnicodeString(&prefix, L"WDM");
    EXPECT(RtlPrefixUnicodeString(&prefix, &wide, TRUE) == TRUE);
    EXPECT(RtlPrefixUnicodeString(&prefix, &wide, FALSE) == FALSE);
    EXPECT(RtlCompareUnicodeString(&prefix, &wide, FALSE) < 0);
    EXPECT(RtlUpcaseUnicodeString(&wide, &wide, FALSE) == STATUS_SUCCESS);
    EXPECT(RtlPrefixUnicodeString(&prefix, &wide, FALSE) == TRUE);
    EXPECT(RtlDowncaseUnicodeString(&wide, &wide, FALSE) == STATUS_SUCCESS);
    EXPECT(wide.Buffer[0] == L'w' && wide.Buffer[1] == L'd');

    number.Buffer = numberBuffer;
    number.Length = 0;
    number.MaximumLength = 10 * sizeof(WCHAR);
    EXPECT(RtlIntegerToUnicodeString(0xBEEF, 16, &number) == STATUS_SUCCESS);
    EXPECT(number.Length == 4 * sizeof(WCHAR) && numberBuffer[0] == L'B');
    EXPECT(RtlUnicodeStringToInteger(&number, 16, &value) == STATUS_SUCCESS && value == 0xBEEF);
    EXPECT(RtlAppendUnicodeToString(&number, L"!") == STATUS_SUCCESS && number.Length == 5 * sizeof(WCHAR));
    EXPECT(RtlAppendUnicodeStringToString(&number, &prefix) == STATUS_SUCCESS);
    EXPECT(RtlAppendUnicodeStringToString(&number, &prefix) == STATUS_BUFFER_TOO_SMALL);

    EXPECT(RtlHashUnicodeString(&wide, TRUE, HASH_STRING_ALGORITHM_X65599, &hash) == STATUS_SUCCESS);
    RtlUpcaseUnicodeString(&wide, &wide, FALSE);
    EXPECT(RtlHashUnicodeString(&wide, FALSE, HASH_STRING_ALGORITHM_DEFAULT, &upperHash) == STATUS_SUCCESS);
    EXPECT(hash == upperHash);
    RtlFreeUnicodeString(&wide);

    back.Buffer = (PCHAR)numberBuffer;
    back.Length = 0;
    back.MaximumLength = 4;
    RtlCopyString(&back, &ansi);
    EXPECT(back.Length == 4 && back.Buffer[3] == '4');
}

static VOID ConformSafeStrings(VOID)
{
    CHAR narrow[8];
    WCHAR wide[8];
    PSTR end = NULL;
    size_t remaining = 0;
    size_t length = 0;

    EXPECT(RtlStringCchCopyA(narrow, ARRAYSIZE(narrow), "wdm") == STATUS_SUCCESS);
    EXPECT(RtlStringCchCatA(narrow, ARRAYSIZE(narrow), "sim!!") == STATUS_BUFFER_OVERFLOW);
    EXPECT(RtlCompareMemory(narrow, "wdmsim!", 8) == 8);
    EXPECT(RtlStringCchLengthA(narrow, ARRAYSIZE(narrow), &length) == STATUS_SUCCESS && length == 7);
    EXPECT(RtlStringCbCopyExA(narrow, sizeof(narrow), "ab", &end, &remaining, STRSAFE_FILL_BEHIND_NULL) ==
           STATUS_SUCCESS);
    EXPECT(end == narrow + 2 && remaining == 6 && narrow[7] == 0);
    EXPECT(RtlStringCchCopyA(narrow, 0, "x") == STATUS_INVALID_PARAMETER);
    EXPECT(RtlStringCbPrintfA(narrow, sizeof(narrow), "%d-%s", 42, "ok") == STATUS_SUCCESS);
    EXPECT(RtlCompareMemory(narrow, "42-ok", 6) == 6);
    EXPECT(RtlStringCbPrintfA(narrow, sizeof(narrow), "%08X", 0xABCDEFu) == STATUS_BUFFER_OVERFLOW);
    EXPECT(narrow[7] == 0);
    EXPECT(RtlStringCchPrintfW(wide, ARRAYSIZE(wide), L"%u", 1234567u) == STATUS_SUCCESS);
    EXPECT(wide[0] == L'1' && wide[7] == 0);
    EXPECT(RtlStringCbCopyW(wide, sizeof(wide), L"0123456789") == STATUS_BUFFER_OVERFLOW);
    EXPECT(wide[6] == L'6' && wide[7] == 0);
    EXPECT(RtlStringCchCopyNW(wide, ARRAYSIZE(wide), L"abcdef", 2) == STATUS_SUCCESS && wide[2] == 0);
}

static VOID ConformMemory(VOID)
{
    UCHAR a[16];
    UCHAR b[16];
    ULONG i;

    RtlFillMemory(a, sizeof(a), 0xA5);
    RtlZeroMemory(b, sizeof(b));
    EXPECT(a[0] == 0xA5 && a[15] == 0xA5 && b[0] == 0 && b[15] == 0);
    EXPECT(RtlCompareMemory(a, b, sizeof(a)) == 0);

    RtlCopyMemory(b, a, sizeof(a));
    EXPECT(RtlEqualMemory(a, b, sizeof(a)));
    EXPECT(RtlCompareMemory(a, b, sizeof(a)) == sizeof(a));
    b[5] = 0;
    EXPECT(!RtlEqualMemory(a, b, sizeof(a)));
    EXPECT(RtlCompareMemory(a, b, sizeof(a)) == 5);
    EXPECT(RtlCompareMemory(a, b, 0) == 0);

    for (i = 0; i < sizeof(a); i++)
        a[i] = (UCHAR)i;
    RtlMoveMemory(a + 2, a, 8);
    EXPECT(a[0] == 0 && a[1] == 1 && a[2] == 0 && a[9] == 7 && a[10] == 10);
}

C_ASSERT(sizeof(ULONG) == 4);

/* INFO and TRACE output of a driver component: sent only where a debug filter lets it in. */
static VOID ConformDebugOutput(VOID)
{
    ULONG table[5];
    ULONG unused = 0;

    DBG_UNREFERENCED_LOCAL_VARIABLE(unused);
    EXPECT(ARRAYSIZE(table) == 5 && RTL_NUMBER_OF(table) == 5);
    EXPECT(DbgPrintEx(DPFLTR_IHVDRIVER_ID, DPFLTR_INFO_LEVEL, "conformance: %s %d %p\n", "info", 1,
                      (PVOID)table) == STATUS_SUCCESS);
    KdPrintEx((DPFLTR_IHVDRIVER_ID, DPFLTR_TRACE_LEVEL, "conformance: trace\n"));
    ASSERT(ARRAYSIZE(table) == 5);
    ASSERTMSG("five entries", RTL_NUMBER_OF(table) == 5);
    NT_ASSERT(KeGetCurrentIrql() == PASSIVE_LEVEL);
    PAGED_CODE();
}

/* KeAreAllApcsDisabled is left out: mingw-w64's DDK does not declare it. */
static VOID ConformRegions(VOID)
{
    EXPECT(KeAreApcsDisabled() == FALSE);
    KeEnterCriticalRegion();
    EXPECT(KeAreApcsDisabled() == TRUE);
    KeEnterGuardedRegion();
    EXPECT(KeAreApcsDisabled() == TRUE);
    KeLeaveGuardedRegion();
    KeLeaveCriticalRegion();
    EXPECT(KeAreApcsDisabled() == FALSE);
}

static ERESOURCE ConformanceResource;

static VOID ConformResources(VOID)
{
    EXPECT(ExInitializeResourceLite(&ConformanceResource) == STATUS_SUCCESS);
    KeEnterCriticalRegion();
    EXPECT(ExAcquireResourceExclusiveLite(&ConformanceResource, TRUE) == TRUE);
    EXPECT(ExAcquireResourceSharedLite(&ConformanceResource, FALSE) == TRUE);
    EXPECT(ExIsResourceAcquiredExclusiveLite(&ConformanceResource) == TRUE);
    EXPECT(ExIsResourceAcquiredSharedLite(&ConformanceResource) == 2);
    ExConvertExclusiveToSharedLite(&ConformanceResource);
    EXPECT(ExIsResourceAcquiredExclusiveLite(&ConformanceResource) == FALSE);
    EXPECT(ExAcquireSharedStarveExclusive(&ConformanceResource, FALSE) == TRUE);
    EXPECT(ExGetExclusiveWaiterCount(&ConformanceResource) == 0 && ExGetSharedWaiterCount(&ConformanceResource) == 0);
    ExReleaseResourceLite(&ConformanceResource);
    ExReleaseResourceLite(&ConformanceResource);
    ExReleaseResourceForThreadLite(&ConformanceResource, ExGetCurrentResourceThread());
    EXPECT(ExIsResourceAcquiredSharedLite(&ConformanceResource) == 0);
    KeLeaveCriticalRegion();
    ExEnterCriticalRegionAndAcquireResourceShared(&ConformanceResource);
    ExReleaseResourceAndLeaveCriticalRegion(&ConformanceResource);
    EXPECT(ExReinitializeResourceLite(&ConformanceResource) == STATUS_SUCCESS);
    EXPECT(ExDeleteResourceLite(&ConformanceResource) == STATUS_SUCCESS);
}

static VOID ConformEvents(VOID)
{
    KEVENT notification;
    KEVENT synchronization;
    KIRQL oldIrql;

    KeInitializeEvent(&notification, NotificationEvent, FALSE);
    EXPECT(notification.Header.Type == 0 && notification.Header.Size == sizeof(KEVENT) / sizeof(ULONG));
    EXPECT(KeReadStateEvent(&notification) == 0);
    EXPECT(KeSetEvent(&notification, IO_NO_INCREMENT, FALSE) == 0);
    EXPECT(KeReadStateEvent(&notification) != 0);
    EXPECT(KeSetEvent(&notification, IO_NO_INCREMENT, FALSE) != 0);
    EXPECT(KeResetEvent(&notification) != 0);
    EXPECT(KeReadStateEvent(&notification) == 0);
    EXPECT(KeResetEvent(&notification) == 0);
    KeSetEvent(&notification, IO_NO_INCREMENT, FALSE);
    KeClearEvent(&notification);
    EXPECT(KeReadStateEvent(&notification) == 0);
    EXPECT(KePulseEvent(&notification, IO_NO_INCREMENT, FALSE) == 0);
    EXPECT(KeReadStateEvent(&notification) == 0);
    /* A set leaves exactly 1, whatever the state held. */
    notification.Header.SignalState = 5;
    EXPECT(KeSetEvent(&notification, IO_NO_INCREMENT, FALSE) == 5);
    EXPECT(KeReadStateEvent(&notification) == 1);

    KeInitializeEvent(&synchronization, SynchronizationEvent, TRUE);
    EXPECT(KeReadStateEvent(&synchronization) != 0);
    KeRaiseIrql(DISPATCH_LEVEL, &oldIrql);
    EXPECT(KePulseEvent(&synchronization, IO_NO_INCREMENT, FALSE) != 0);
    EXPECT(KeReadStateEvent(&synchronization) == 0);
    EXPECT(KeSetEvent(&synchronization, IO_NO_INCREMENT, FALSE) == 0);
    EXPECT(KeResetEvent(&synchronization) != 0);
    KeClearEvent(&synchronization);
    EXPECT(KeReadStateEvent(&synchronization) == 0);
    KeLowerIrql(oldIrql);
}

static VOID ConformWaits(VOID)
{
    KEVENT unsignalled;
    KEVENT signalled;
    KEVENT synchronization;
    KSEMAPHORE semaphore;
    KMUTEX mutex;
    PVOID objects[4];
    KWAIT_BLOCK waitBlocks[4];
    LARGE_INTEGER timeout;
    LARGE_INTEGER before;
    LARGE_INTEGER after;
    KIRQL oldIrql;

    KeInitializeEvent(&unsignalled, NotificationEvent, FALSE);
    KeInitializeEvent(&signalled, NotificationEvent, TRUE);
    timeout.QuadPart = 0;
    EXPECT(KeWaitForSingleObject(&unsignalled, Executive, KernelMode, FALSE, &timeout) == STATUS_TIMEOUT);
    KeRaiseIrql(DISPATCH_LEVEL, &oldIrql);
    EXPECT(KeWaitForSingleObject(&signalled, Executive, KernelMode, FALSE, &timeout) == STATUS_SUCCESS);
    KeLowerIrql(oldIrql);
    EXPECT(KeWaitForSingleObject(&signalled, Executive, KernelMode, FALSE, NULL) == STATUS_SUCCESS);
    EXPECT(KeReadStateEvent(&signalled) != 0);
    timeout.QuadPart = -ONE_MILLISECOND;
    EXPECT(KeWaitForSingleObject(&unsignalled, Executive, KernelMode, FALSE, &timeout) == STATUS_TIMEOUT);

    objects[0] = &unsignalled;
    objects[1] = &signalled;
    timeout.QuadPart = 0;
    EXPECT(KeWaitForMultipleObjects(2, objects, WaitAny, Executive, KernelMode, FALSE, &timeout, NULL) ==
           STATUS_WAIT_1);
    EXPECT(KeWaitForMultipleObjects(2, objects, WaitAll, Executive, KernelMode, FALSE, &timeout, NULL) ==
           STATUS_TIMEOUT);

    /* More objects than THREAD_WAIT_OBJECTS need the caller's wait blocks; WaitAll takes every
     * object at once: the synchronization event resets, the count drops, the mutex is owned. */
    KeInitializeEvent(&synchronization, SynchronizationEvent, TRUE);
    KeInitializeSemaphore(&semaphore, 1, 1);
    KeInitializeMutex(&mutex, 0);
    objects[0] = &signalled;
    objects[1] = &synchronization;
    objects[2] = &semaphore;
    objects[3] = &mutex;
    EXPECT(KeWaitForMultipleObjects(4, objects, WaitAll, Executive, KernelMode, FALSE, NULL, waitBlocks) ==
           STATUS_SUCCESS);
    EXPECT(KeReadStateEvent(&signalled) != 0);
    EXPECT(KeReadStateEvent(&synchronization) == 0);
    EXPECT(KeReadStateSemaphore(&semaphore) == 0);
    EXPECT(KeReadStateMutex(&mutex) == 0);
    EXPECT(KeReleaseMutex(&mutex, FALSE) == 0);
    EXPECT(KeReadStateMutex(&mutex) == 1);

    KeQuerySystemTime(&before);
    timeout.QuadPart = -ONE_MILLISECOND;
    EXPECT(KeDelayExecutionThread(KernelMode, FALSE, &timeout) == STATUS_SUCCESS);
    KeQuerySystemTime(&after);
    EXPECT(after.QuadPart >= before.QuadPart);
}

static VOID ConformMutexes(VOID)
{
    KMUTEX mutex;
    FAST_MUTEX fastMutex;
    KIRQL oldIrql;

    KeInitializeMutex(&mutex, 0);
    EXPECT(KeReadStateMutex(&mutex) == 1);
    EXPECT(KeWaitForSingleObject(&mutex, Executive, KernelMode, FALSE, NULL) == STATUS_SUCCESS);
    EXPECT(KeReadStateMutex(&mutex) == 0);
    EXPECT(KeWaitForSingleObject(&mutex, Executive, KernelMode, FALSE, NULL) == STATUS_SUCCESS);
    EXPECT(KeReadStateMutex(&mutex) == -1);
    EXPECT(KeReleaseMutex(&mutex, FALSE) == -1);
    KeRaiseIrql(DISPATCH_LEVEL, &oldIrql);
    EXPECT(KeReleaseMutex(&mutex, FALSE) == 0);
    EXPECT(KeReadStateMutex(&mutex) == 1);
    KeLowerIrql(oldIrql);

    ExInitializeFastMutex(&fastMutex);
    ExAcquireFastMutex(&fastMutex);
    EXPECT(KeGetCurrentIrql() == APC_LEVEL);
    ExReleaseFastMutex(&fastMutex);
    EXPECT(KeGetCurrentIrql() == PASSIVE_LEVEL);
    EXPECT(ExTryToAcquireFastMutex(&fastMutex) == TRUE);
    EXPECT(KeGetCurrentIrql() == APC_LEVEL);
    ExReleaseFastMutex(&fastMutex);
    EXPECT(KeGetCurrentIrql() == PASSIVE_LEVEL);
}

static VOID ConformSemaphores(VOID)
{
    KSEMAPHORE semaphore;
    LARGE_INTEGER zero;
    KIRQL oldIrql;

    zero.QuadPart = 0;
    KeInitializeSemaphore(&semaphore, 0, 2);
    EXPECT(KeReadStateSemaphore(&semaphore) == 0);
    EXPECT(KeWaitForSingleObject(&semaphore, Executive, KernelMode, FALSE, &zero) == STATUS_TIMEOUT);
    EXPECT(KeReleaseSemaphore(&semaphore, IO_NO_INCREMENT, 2, FALSE) == 0);
    EXPECT(KeReadStateSemaphore(&semaphore) == 2);
    EXPECT(KeWaitForSingleObject(&semaphore, Executive, KernelMode, FALSE, &zero) == STATUS_SUCCESS);
    EXPECT(KeWaitForSingleObject(&semaphore, Executive, KernelMode, FALSE, NULL) == STATUS_SUCCESS);
    EXPECT(KeReadStateSemaphore(&semaphore) == 0);
    KeRaiseIrql(DISPATCH_LEVEL, &oldIrql);
    EXPECT(KeReleaseSemaphore(&semaphore, IO_NO_INCREMENT, 1, FALSE) == 0);
    EXPECT(KeReadStateSemaphore(&semaphore) == 1);
    KeLowerIrql(oldIrql);
}

static VOID NTAPI ConformanceDpc(PKDPC Dpc, PVOID DeferredContext, PVOID SystemArgument1, PVOID SystemArgument2)
{
    PCONFORMANCE_DPC record = DeferredContext;

    UNREFERENCED_PARAMETER(Dpc);
    UNREFERENCED_PARAMETER(SystemArgument2);
    record->Runs++;
    record->Irql = KeGetCurrentIrql();
    record->Argument1 = SystemArgument1;
    KeSetEvent(&record->Ran, IO_NO_INCREMENT, FALSE);
}

static VOID InitializeDpcRecord(PCONFORMANCE_DPC Record)
{
    Record->Runs = 0;
    Record->Irql = PASSIVE_LEVEL;
    Record->Argument1 = NULL;
    KeInitializeEvent(&Record->Ran, NotificationEvent, FALSE);
}

static VOID ConformTimers(VOID)
{
    KTIMER timer;
    KTIMER periodic;
    KDPC dpc;
    CONFORMANCE_DPC record;
    LARGE_INTEGER dueTime;
    KIRQL oldIrql;

    KeInitializeTimer(&timer);
    EXPECT(timer.Header.Type == 8 && timer.Header.Size == sizeof(KTIMER) / sizeof(ULONG));
    EXPECT(KeReadStateTimer(&timer) == FALSE);
    dueTime.QuadPart = -ONE_MINUTE;
    KeRaiseIrql(DISPATCH_LEVEL, &oldIrql);
    EXPECT(KeSetTimer(&timer, dueTime, NULL) == FALSE);
    EXPECT(KeSetTimer(&timer, dueTime, NULL) == TRUE);
    EXPECT(KeCancelTimer(&timer) == TRUE);
    EXPECT(KeCancelTimer(&timer) == FALSE);
    KeLowerIrql(oldIrql);

    dueTime.QuadPart = -ONE_MILLISECOND;
    EXPECT(KeSetTimer(&timer, dueTime, NULL) == FALSE);
    EXPECT(KeWaitForSingleObject(&timer, Executive, KernelMode, FALSE, NULL) == STATUS_SUCCESS);
    EXPECT(KeReadStateTimer(&timer) == TRUE);
    EXPECT(KeCancelTimer(&timer) == FALSE);

    /* A periodic synchronization timer with a DPC: it stays queued until cancelled. */
    InitializeDpcRecord(&record);
    KeInitializeDpc(&dpc, ConformanceDpc, &record);
    KeInitializeTimerEx(&periodic, SynchronizationTimer);
    EXPECT(KeSetTimerEx(&periodic, dueTime, 1, &dpc) == FALSE);
    EXPECT(KeWaitForSingleObject(&periodic, Executive, KernelMode, FALSE, NULL) == STATUS_SUCCESS);
    EXPECT(KeWaitForSingleObject(&record.Ran, Executive, KernelMode, FALSE, NULL) == STATUS_SUCCESS);
    EXPECT(KeCancelTimer(&periodic) == TRUE);
    KeFlushQueuedDpcs();
    EXPECT(record.Runs >= 1 && record.Irql == DISPATCH_LEVEL);

    /* Initialising a set timer leaves it queued: its expiry still signals it. */
    EXPECT(KeSetTimer(&timer, dueTime, NULL) == FALSE);
    KeInitializeTimerEx(&timer, SynchronizationTimer);
    EXPECT(KeWaitForSingleObject(&timer, Executive, KernelMode, FALSE, NULL) == STATUS_SUCCESS);
    EXPECT(KeReadStateTimer(&timer) == FALSE);
}

static VOID ConformDpcs(VOID)
{
    KDPC dpc;
    CONFORMANCE_DPC record;
    BOOLEAN requeued;
    BOOLEAN removed;
    KIRQL oldIrql;

    InitializeDpcRecord(&record);
    KeInitializeDpc(&dpc, ConformanceDpc, &record);

    /* Windows runs the DPC on this processor once the IRQL drops, so here the second insertion
     * finds it queued and the removal takes it back; a simulator whose DPCs run on their own
     * processor may run it in between. Either way each insertion that queued it either ran or
     * was removed. */
    KeRaiseIrql(DISPATCH_LEVEL, &oldIrql);
    EXPECT(KeInsertQueueDpc(&dpc, NULL, NULL) == TRUE);
    requeued = KeInsertQueueDpc(&dpc, NULL, NULL);
    removed = KeRemoveQueueDpc(&dpc);
    KeLowerIrql(oldIrql);
    KeFlushQueuedDpcs();
    EXPECT(record.Runs == 1U + (requeued ? 1U : 0U) - (removed ? 1U : 0U));
    EXPECT(KeRemoveQueueDpc(&dpc) == FALSE);

    EXPECT(KeInsertQueueDpc(&dpc, &record, NULL) == TRUE);
    KeFlushQueuedDpcs();
    EXPECT(KeReadStateEvent(&record.Ran) != 0);
    EXPECT(record.Irql == DISPATCH_LEVEL && record.Argument1 == &record);
    EXPECT(KeRemoveQueueDpc(&dpc) == FALSE);
}

static VOID NTAPI ConformanceThread(PVOID StartContext)
{
    PCONFORMANCE_THREAD record = StartContext;

    record->Irql = KeGetCurrentIrql();
    record->Self = KeGetCurrentThread();
    record->SelfAsEthread = PsGetCurrentThread();
    record->SelfId = PsGetCurrentThreadId();
    record->InitialPriority = KeQueryPriorityThread(record->Self);
    record->OldPriority = KeSetPriorityThread(record->Self, LOW_REALTIME_PRIORITY);
    record->NewPriority = KeQueryPriorityThread(record->Self);
    PsTerminateSystemThread(STATUS_SUCCESS);
}

static VOID ConformSystemThreads(VOID)
{
    CONFORMANCE_THREAD record;
    OBJECT_ATTRIBUTES attributes;
    HANDLE handle;
    PVOID thread;
    NTSTATUS status;

    RtlZeroMemory(&record, sizeof(record));
    record.Irql = HIGH_LEVEL;
    EXPECT(KeQueryPriorityThread(KeGetCurrentThread()) > 0);
    InitializeObjectAttributes(&attributes, NULL, OBJ_KERNEL_HANDLE, NULL, NULL);
    status = PsCreateSystemThread(&handle, THREAD_ALL_ACCESS, &attributes, NULL, NULL, ConformanceThread,
                                  &record);
    EXPECT(status == STATUS_SUCCESS);
    if (!NT_SUCCESS(status))
        return;
    status = ObReferenceObjectByHandle(handle, THREAD_ALL_ACCESS, *PsThreadType, KernelMode, &thread, NULL);
    EXPECT(status == STATUS_SUCCESS);
    EXPECT(ZwClose(handle) == STATUS_SUCCESS);
    if (!NT_SUCCESS(status))
        return;
    EXPECT(KeWaitForSingleObject(thread, Executive, KernelMode, FALSE, NULL) == STATUS_SUCCESS);
    EXPECT(thread == (PVOID)record.Self);
    EXPECT(PsGetThreadId((PETHREAD)thread) == record.SelfId);
    EXPECT(PsGetThreadProcessId((PETHREAD)thread) == PsGetProcessId(PsInitialSystemProcess));
    EXPECT(PsIsSystemThread((PETHREAD)thread));
    ObDereferenceObject(thread);
    EXPECT(PsGetThreadId(PsGetCurrentThread()) == PsGetCurrentThreadId());
    EXPECT(ExGetPreviousMode() == KernelMode);

    EXPECT(record.Irql == PASSIVE_LEVEL);
    EXPECT(record.Self != NULL && record.Self != KeGetCurrentThread());
    EXPECT((PVOID)record.SelfAsEthread == (PVOID)record.Self);
    EXPECT(record.SelfId != PsGetCurrentThreadId());
    EXPECT(record.OldPriority == record.InitialPriority);
    EXPECT(record.NewPriority == LOW_REALTIME_PRIORITY);
}

/* The item is dequeued before its routine runs, so the routine may free it. */
static VOID NTAPI ConformanceWorkItem(PVOID Parameter)
{
    PCONFORMANCE_WORK work = Parameter;
    PCONFORMANCE_WORK_RESULT result = work->Result;

    ExFreePoolWithTag(work, CONFORMANCE_TAG);
    result->Irql = KeGetCurrentIrql();
    result->Thread = KeGetCurrentThread();
    KeSetEvent(&result->Done, IO_NO_INCREMENT, FALSE);
}

static VOID ConformWorkItems(VOID)
{
    CONFORMANCE_WORK_RESULT result;
    PCONFORMANCE_WORK work;
    KIRQL oldIrql;

    work = ExAllocatePoolWithTag(NonPagedPool, sizeof(CONFORMANCE_WORK), CONFORMANCE_TAG);
    EXPECT(work != NULL);
    if (work == NULL)
        return;
    result.Irql = HIGH_LEVEL;
    result.Thread = NULL;
    KeInitializeEvent(&result.Done, NotificationEvent, FALSE);
    work->Result = &result;
    ExInitializeWorkItem(&work->Item, ConformanceWorkItem, work);
    KeRaiseIrql(DISPATCH_LEVEL, &oldIrql);
    ExQueueWorkItem(&work->Item, DelayedWorkQueue);
    KeLowerIrql(oldIrql);
    EXPECT(KeWaitForSingleObject(&result.Done, Executive, KernelMode, FALSE, NULL) == STATUS_SUCCESS);
    EXPECT(result.Irql == PASSIVE_LEVEL);
    EXPECT(result.Thread != NULL && result.Thread != KeGetCurrentThread());
}

#define CONFORMANCE_IOCTL_INCREMENT CTL_CODE(FILE_DEVICE_UNKNOWN, 0x800, METHOD_BUFFERED, FILE_ANY_ACCESS)
#define CONFORMANCE_DATA_SIZE 16
/* min() is the DDK's (windef.h) but not our headers'. */
#define CONFORMANCE_MIN(a, b) ((a) < (b) ? (a) : (b))

/* One extension type for both devices: the filter has Lower set, the function device does not. */
typedef struct _CONFORMANCE_DEVICE {
    PDEVICE_OBJECT Lower;
    LONG FilterCompletions;
    LONG Opens;
    ULONG DataLength;
    UCHAR Data[CONFORMANCE_DATA_SIZE];
    PIRP PendingRead;          /* guarded by the cancel spin lock */
    KEVENT ReadPended;
    PEPROCESS DispatchProcess;
} CONFORMANCE_DEVICE, *PCONFORMANCE_DEVICE;

/* What the I/O work item's read saw; it waits on the device until a write completes it. */
typedef struct _CONFORMANCE_PENDED_READ {
    HANDLE File;
    NTSTATUS Status;
    IO_STATUS_BLOCK IoStatus;
    UCHAR Buffer[CONFORMANCE_DATA_SIZE];
    PDEVICE_OBJECT DeviceRan;
    KEVENT Done;
} CONFORMANCE_PENDED_READ, *PCONFORMANCE_PENDED_READ;

static NTSTATUS CompleteIrp(PIRP Irp, NTSTATUS Status, ULONG_PTR Information)
{
    Irp->IoStatus.Status = Status;
    Irp->IoStatus.Information = Information;
    IoCompleteRequest(Irp, IO_NO_INCREMENT);
    return Status;
}

/* The filter counts every IRP that comes back up; a pended one must stay marked pending. */
static NTSTATUS NTAPI ConformanceFilterCompletion(PDEVICE_OBJECT DeviceObject, PIRP Irp, PVOID Context)
{
    PCONFORMANCE_DEVICE filter = Context;

    UNREFERENCED_PARAMETER(DeviceObject);
    if (Irp->PendingReturned)
        IoMarkIrpPending(Irp);
    InterlockedIncrement(&filter->FilterCompletions);
    return STATUS_SUCCESS; /* STATUS_CONTINUE_COMPLETION, which our wdm.h does not name */
}

static NTSTATUS ConformanceFunctionDispatch(PCONFORMANCE_DEVICE device, PIRP Irp)
{
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(Irp);
    PFILE_STANDARD_INFORMATION standard;
    PIRP pended;
    KIRQL cancelIrql;
    ULONG length;

    device->DispatchProcess = IoGetCurrentProcess();
    switch (stack->MajorFunction) {
    case IRP_MJ_CREATE:
        InterlockedIncrement(&device->Opens);
        return CompleteIrp(Irp, STATUS_SUCCESS, 0);
    case IRP_MJ_CLOSE:
        InterlockedDecrement(&device->Opens);
        return CompleteIrp(Irp, STATUS_SUCCESS, 0);
    case IRP_MJ_CLEANUP:
        return CompleteIrp(Irp, STATUS_SUCCESS, 0);
    case IRP_MJ_READ:
        /* Nothing written yet: the read waits for the next write. */
        IoAcquireCancelSpinLock(&cancelIrql);
        if (device->DataLength == 0 && device->PendingRead == NULL) {
            IoMarkIrpPending(Irp);
            device->PendingRead = Irp;
            IoReleaseCancelSpinLock(cancelIrql);
            KeSetEvent(&device->ReadPended, IO_NO_INCREMENT, FALSE);
            return STATUS_PENDING;
        }
        length = CONFORMANCE_MIN(device->DataLength, stack->Parameters.Read.Length);
        RtlCopyMemory(Irp->AssociatedIrp.SystemBuffer, device->Data, length);
        device->DataLength = 0;
        IoReleaseCancelSpinLock(cancelIrql);
        return CompleteIrp(Irp, STATUS_SUCCESS, length);
    case IRP_MJ_WRITE:
        length = CONFORMANCE_MIN(stack->Parameters.Write.Length, (ULONG)CONFORMANCE_DATA_SIZE);
        IoAcquireCancelSpinLock(&cancelIrql);
        pended = InterlockedExchangePointer((PVOID volatile *)&device->PendingRead, NULL);
        if (pended == NULL) {
            RtlCopyMemory(device->Data, Irp->AssociatedIrp.SystemBuffer, length);
            device->DataLength = length;
        }
        IoReleaseCancelSpinLock(cancelIrql);
        if (pended != NULL) {
            length = CONFORMANCE_MIN(length, IoGetCurrentIrpStackLocation(pended)->Parameters.Read.Length);
            RtlCopyMemory(pended->AssociatedIrp.SystemBuffer, Irp->AssociatedIrp.SystemBuffer, length);
            CompleteIrp(pended, STATUS_SUCCESS, length);
        }
        return CompleteIrp(Irp, STATUS_SUCCESS, length);
    case IRP_MJ_DEVICE_CONTROL:
        if (stack->Parameters.DeviceIoControl.IoControlCode != CONFORMANCE_IOCTL_INCREMENT ||
            stack->Parameters.DeviceIoControl.InputBufferLength < sizeof(ULONG) ||
            stack->Parameters.DeviceIoControl.OutputBufferLength < sizeof(ULONG))
            return CompleteIrp(Irp, STATUS_INVALID_DEVICE_REQUEST, 0);
        *(PULONG)Irp->AssociatedIrp.SystemBuffer += 1;
        return CompleteIrp(Irp, STATUS_SUCCESS, sizeof(ULONG));
    case IRP_MJ_QUERY_INFORMATION:
        /* Windows asks the driver; a device has no size and one link. */
        if (stack->Parameters.QueryFile.FileInformationClass != FileStandardInformation)
            return CompleteIrp(Irp, STATUS_INVALID_PARAMETER, 0);
        if (stack->Parameters.QueryFile.Length < sizeof(FILE_STANDARD_INFORMATION))
            return CompleteIrp(Irp, STATUS_INFO_LENGTH_MISMATCH, 0);
        standard = Irp->AssociatedIrp.SystemBuffer;
        RtlZeroMemory(standard, sizeof(*standard));
        standard->NumberOfLinks = 1;
        return CompleteIrp(Irp, STATUS_SUCCESS, sizeof(*standard));
    case IRP_MJ_SET_INFORMATION:
        /* A device has no size to change, but accepts the request. */
        if (stack->Parameters.SetFile.FileInformationClass != FileEndOfFileInformation)
            return CompleteIrp(Irp, STATUS_INVALID_PARAMETER, 0);
        return CompleteIrp(Irp, STATUS_SUCCESS, 0);
    case IRP_MJ_FLUSH_BUFFERS:
        return CompleteIrp(Irp, STATUS_SUCCESS, 0);
    default:
        return CompleteIrp(Irp, STATUS_INVALID_DEVICE_REQUEST, 0);
    }
}

static NTSTATUS NTAPI ConformanceDispatch(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    PCONFORMANCE_DEVICE device = DeviceObject->DeviceExtension;

    if (device->Lower == NULL)
        return ConformanceFunctionDispatch(device, Irp);
    IoCopyCurrentIrpStackLocationToNext(Irp);
    IoSetCompletionRoutine(Irp, ConformanceFilterCompletion, device, TRUE, TRUE, TRUE);
    return IoCallDriver(device->Lower, Irp);
}

static VOID NTAPI ConformanceDriverUnload(PDRIVER_OBJECT DriverObject)
{
    /* DriverEntry leaves nothing behind, so there is nothing to undo; a driver without
     * DriverUnload could not be unloaded at all. */
    UNREFERENCED_PARAMETER(DriverObject);
}

/* Runs in a system worker thread (System process): a synchronous read that the device pends. */
static VOID NTAPI ConformanceIoWorkItem(PDEVICE_OBJECT DeviceObject, PVOID Context)
{
    PCONFORMANCE_PENDED_READ read = Context;

    read->DeviceRan = DeviceObject;
    read->Status = ZwReadFile(read->File, NULL, NULL, NULL, &read->IoStatus, read->Buffer,
                              sizeof(read->Buffer), NULL, NULL);
    KeSetEvent(&read->Done, IO_NO_INCREMENT, FALSE);
}

static NTSTATUS OpenDevice(PUNICODE_STRING Name, PHANDLE File)
{
    OBJECT_ATTRIBUTES attributes;
    IO_STATUS_BLOCK ioStatus;

    InitializeObjectAttributes(&attributes, Name, OBJ_CASE_INSENSITIVE | OBJ_KERNEL_HANDLE, NULL, NULL);
    return ZwCreateFile(File, GENERIC_READ | GENERIC_WRITE | SYNCHRONIZE, &attributes, &ioStatus, NULL,
                        FILE_ATTRIBUTE_NORMAL, FILE_SHARE_READ | FILE_SHARE_WRITE, FILE_OPEN,
                        FILE_SYNCHRONOUS_IO_NONALERT, NULL, 0);
}

/* ZwOpenFile is ZwCreateFile's FILE_OPEN form. */
static NTSTATUS OpenDeviceAgain(PUNICODE_STRING Name, PHANDLE File)
{
    OBJECT_ATTRIBUTES attributes;
    IO_STATUS_BLOCK ioStatus;

    InitializeObjectAttributes(&attributes, Name, OBJ_CASE_INSENSITIVE | OBJ_KERNEL_HANDLE, NULL, NULL);
    return ZwOpenFile(File, GENERIC_READ | GENERIC_WRITE | SYNCHRONIZE, &attributes, &ioStatus,
                      FILE_SHARE_READ | FILE_SHARE_WRITE, FILE_SYNCHRONOUS_IO_NONALERT);
}

static VOID ConformFileCalls(PDEVICE_OBJECT Device, PCONFORMANCE_DEVICE Function,
                             PCONFORMANCE_DEVICE Filter, PUNICODE_STRING Name)
{
    static const UCHAR message[] = "conformance";
    CONFORMANCE_PENDED_READ read;
    FILE_STANDARD_INFORMATION standard;
    FILE_POSITION_INFORMATION position;
    FILE_END_OF_FILE_INFORMATION endOfFile;
    IO_STATUS_BLOCK ioStatus;
    LARGE_INTEGER offset;
    PIO_WORKITEM workItem;
    UCHAR buffer[CONFORMANCE_DATA_SIZE];
    HANDLE file;
    ULONG value;

    EXPECT(OpenDevice(Name, &file) == STATUS_SUCCESS);
    EXPECT(OpenDeviceAgain(Name, &read.File) == STATUS_SUCCESS);
    EXPECT(Function->Opens == 2 && Filter->FilterCompletions == 2);
    EXPECT(Function->DispatchProcess == IoGetCurrentProcess());

    /* A write with nothing waiting is kept; a read with an explicit offset takes it back. */
    EXPECT(ZwWriteFile(file, NULL, NULL, NULL, &ioStatus, (PVOID)message, 4, NULL, NULL) == STATUS_SUCCESS);
    EXPECT(ioStatus.Status == STATUS_SUCCESS && ioStatus.Information == 4);
    offset.QuadPart = 0;
    EXPECT(ZwReadFile(file, NULL, NULL, NULL, &ioStatus, buffer, sizeof(buffer), &offset, NULL) ==
           STATUS_SUCCESS);
    EXPECT(ioStatus.Information == 4 && RtlCompareMemory(buffer, message, 4) == 4);

    value = 41;
    EXPECT(ZwDeviceIoControlFile(file, NULL, NULL, NULL, &ioStatus, CONFORMANCE_IOCTL_INCREMENT, &value,
                                 sizeof(value), &value, sizeof(value)) == STATUS_SUCCESS);
    EXPECT(value == 42 && ioStatus.Information == sizeof(value));
    EXPECT(ZwDeviceIoControlFile(file, NULL, NULL, NULL, &ioStatus, CONFORMANCE_IOCTL_INCREMENT, NULL, 0,
                                 NULL, 0) == STATUS_INVALID_DEVICE_REQUEST);

    RtlFillMemory(&standard, sizeof(standard), 0xFF);
    EXPECT(ZwQueryInformationFile(file, &ioStatus, &standard, sizeof(standard), FileStandardInformation) ==
           STATUS_SUCCESS);
    EXPECT(ioStatus.Information == sizeof(standard) && standard.NumberOfLinks == 1);
    EXPECT(standard.Directory == FALSE && standard.DeletePending == FALSE);

    /* A synchronous file's position is the I/O manager's; the end of file and a flush are the driver's. */
    position.CurrentByteOffset.QuadPart = 100;
    EXPECT(ZwSetInformationFile(file, &ioStatus, &position, sizeof(position), FilePositionInformation) ==
           STATUS_SUCCESS);
    position.CurrentByteOffset.QuadPart = 0;
    EXPECT(ZwQueryInformationFile(file, &ioStatus, &position, sizeof(position), FilePositionInformation) ==
           STATUS_SUCCESS);
    EXPECT(position.CurrentByteOffset.QuadPart == 100);
    endOfFile.EndOfFile.QuadPart = 0;
    EXPECT(ZwSetInformationFile(file, &ioStatus, &endOfFile, sizeof(endOfFile), FileEndOfFileInformation) ==
           STATUS_SUCCESS);
    EXPECT(ZwFlushBuffersFile(file, &ioStatus) == STATUS_SUCCESS && ioStatus.Status == STATUS_SUCCESS);

    /* A read pended on the second handle in a worker thread, completed by a write on the first. */
    read.Status = STATUS_UNSUCCESSFUL;
    read.DeviceRan = NULL;
    KeInitializeEvent(&read.Done, NotificationEvent, FALSE);
    workItem = IoAllocateWorkItem(Device);
    EXPECT(workItem != NULL);
    if (workItem != NULL) {
        IoQueueWorkItem(workItem, ConformanceIoWorkItem, DelayedWorkQueue, &read);
        EXPECT(KeWaitForSingleObject(&Function->ReadPended, Executive, KernelMode, FALSE, NULL) ==
               STATUS_SUCCESS);
        EXPECT(ZwWriteFile(file, NULL, NULL, NULL, &ioStatus, (PVOID)message, sizeof(message), NULL, NULL) ==
               STATUS_SUCCESS);
        EXPECT(KeWaitForSingleObject(&read.Done, Executive, KernelMode, FALSE, NULL) == STATUS_SUCCESS);
        IoFreeWorkItem(workItem);
        EXPECT(read.DeviceRan == Device);
        EXPECT(read.Status == STATUS_SUCCESS && read.IoStatus.Information == sizeof(message));
        EXPECT(RtlCompareMemory(read.Buffer, message, sizeof(message)) == sizeof(message));
        EXPECT(Function->PendingRead == NULL && Function->DataLength == 0);
    }

    EXPECT(ZwClose(read.File) == STATUS_SUCCESS);
    EXPECT(ZwClose(file) == STATUS_SUCCESS);
    EXPECT(Function->Opens == 0);
}

static KDEVICE_QUEUE ConformanceQueue;
static KDEVICE_QUEUE_ENTRY ConformanceQueueEntries[3];

static VOID ConformDeviceQueues(VOID)
{
    PKDEVICE_QUEUE queue = &ConformanceQueue;
    PKDEVICE_QUEUE_ENTRY entries = ConformanceQueueEntries;
    KIRQL old;

    KeInitializeDeviceQueue(queue);
    EXPECT(!queue->Busy && IsListEmpty(&queue->DeviceListHead));
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    EXPECT(!KeInsertDeviceQueue(queue, &entries[0]));
    EXPECT(queue->Busy && !entries[0].Inserted);
    EXPECT(KeInsertByKeyDeviceQueue(queue, &entries[1], 20));
    EXPECT(KeInsertByKeyDeviceQueue(queue, &entries[2], 10));
    EXPECT(KeRemoveByKeyDeviceQueue(queue, 15) == &entries[1]);
    EXPECT(KeRemoveEntryDeviceQueue(queue, &entries[2]));
    EXPECT(!KeRemoveEntryDeviceQueue(queue, &entries[2]));
    EXPECT(queue->Busy);
    EXPECT(KeRemoveByKeyDeviceQueueIfBusy(queue, 0) == NULL && !queue->Busy);
    EXPECT(KeRemoveByKeyDeviceQueueIfBusy(queue, 0) == NULL && !queue->Busy);
    EXPECT(!KeInsertDeviceQueue(queue, &entries[0]));
    EXPECT(KeInsertDeviceQueue(queue, &entries[1]));
    EXPECT(KeRemoveDeviceQueue(queue) == &entries[1]);
    EXPECT(KeRemoveDeviceQueue(queue) == NULL && !queue->Busy);
    KeLowerIrql(old);
}

static VOID NTAPI ConformanceStartIo(PDEVICE_OBJECT DeviceObject, PIRP Irp)
{
    UNREFERENCED_PARAMETER(DeviceObject);
    CompleteIrp(Irp, STATUS_SUCCESS, 0);
}

/* IoCreateDevice gave the device an idle queue: a next packet finds nothing to start. */
static VOID ConformStartIo(PDEVICE_OBJECT Device)
{
    KIRQL old;

    EXPECT(!Device->DeviceQueue.Busy && Device->CurrentIrp == NULL);
    IoSetStartIoAttributes(Device, TRUE, FALSE);
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    IoStartNextPacket(Device, TRUE);
    KeLowerIrql(old);
    IoStartNextPacketByKey(Device, FALSE, 7);
    EXPECT(!Device->DeviceQueue.Busy && Device->CurrentIrp == NULL);
}

static NTSTATUS NTAPI ConformanceBuiltIrpDone(PDEVICE_OBJECT DeviceObject, PIRP Irp, PVOID Context)
{
    UNREFERENCED_PARAMETER(DeviceObject);
    *(PNTSTATUS)Context = Irp->IoStatus.Status;
    IoFreeIrp(Irp);
    return STATUS_MORE_PROCESSING_REQUIRED;
}

/* A threaded request waited for if it pends (the I/O manager frees it). */
static VOID SendAndWait(PDEVICE_OBJECT Device, PIRP Irp, PKEVENT Event)
{
    EXPECT(Irp != NULL);
    if (Irp != NULL && IoCallDriver(Device, Irp) == STATUS_PENDING)
        KeWaitForSingleObject(Event, Executive, KernelMode, FALSE, NULL);
}

/* IRPs the driver builds and sends to its own device: an IOCTL, a write it frees itself, a read. */
static VOID ConformBuiltIrps(PDEVICE_OBJECT Device)
{
    LARGE_INTEGER offset = { .QuadPart = 0 };
    NTSTATUS written = STATUS_UNSUCCESSFUL;
    UCHAR text[3] = { 'a', 'b', 'c' };
    IO_STATUS_BLOCK iosb;
    ULONG value = 41;
    KEVENT event;
    PIRP irp;

    KeInitializeEvent(&event, NotificationEvent, FALSE);
    SendAndWait(Device, IoBuildDeviceIoControlRequest(CONFORMANCE_IOCTL_INCREMENT, Device, &value, sizeof(value),
                                                      &value, sizeof(value), FALSE, &event, &iosb), &event);
    EXPECT(iosb.Status == STATUS_SUCCESS && iosb.Information == sizeof(ULONG) && value == 42);
    irp = IoBuildAsynchronousFsdRequest(IRP_MJ_WRITE, Device, text, sizeof(text), &offset, &iosb);
    EXPECT(irp != NULL);
    if (irp != NULL) {
        IoSetCompletionRoutine(irp, ConformanceBuiltIrpDone, &written, TRUE, TRUE, TRUE);
        IoCallDriver(Device, irp);
    }
    EXPECT(written == STATUS_SUCCESS);
    RtlZeroMemory(text, sizeof(text));
    KeClearEvent(&event);
    SendAndWait(Device, IoBuildSynchronousFsdRequest(IRP_MJ_READ, Device, text, sizeof(text), &offset, &event, &iosb),
                &event);
    EXPECT(iosb.Status == STATUS_SUCCESS && iosb.Information == sizeof(text) && text[2] == 'c');
    irp = IoAllocateIrp(Device->StackSize, FALSE);
    EXPECT(irp != NULL && irp->Size == IoSizeOfIrp(Device->StackSize));
    if (irp != NULL) {
        IoReuseIrp(irp, STATUS_NOT_SUPPORTED);
        EXPECT(irp->IoStatus.Status == STATUS_NOT_SUPPORTED && irp->CurrentLocation == irp->StackCount + 1);
        IoFreeIrp(irp);
    }
}

static VOID NTAPI ConformanceTimer(PDEVICE_OBJECT DeviceObject, PVOID Context)
{
    PCONFORMANCE_DPC record = Context;

    UNREFERENCED_PARAMETER(DeviceObject);
    record->Irql = KeGetCurrentIrql();
    InterlockedIncrement((PLONG)&record->Runs);
    KeSetEvent(&record->Ran, IO_NO_INCREMENT, FALSE);
}

static VOID NTAPI ConformanceDpcForIsr(PKDPC Dpc, PDEVICE_OBJECT DeviceObject, PIRP Irp, PVOID Context)
{
    PCONFORMANCE_DPC record = Context;

    UNREFERENCED_PARAMETER(Dpc);
    UNREFERENCED_PARAMETER(Irp);
    record->Irql = KeGetCurrentIrql();
    record->Argument1 = DeviceObject;
    KeSetEvent(&record->Ran, IO_NO_INCREMENT, FALSE);
}

/* The device's timer ticks within a second or so; its DpcForIsr runs with the device. */
static VOID ConformDeviceTimerAndDpc(PDEVICE_OBJECT Device)
{
    LARGE_INTEGER timeout = { .QuadPart = -5 * 10000000LL };
    CONFORMANCE_DPC record;

    InitializeDpcRecord(&record);
    EXPECT(IoInitializeTimer(Device, ConformanceTimer, &record) == STATUS_SUCCESS);
    IoStartTimer(Device);
    EXPECT(KeWaitForSingleObject(&record.Ran, Executive, KernelMode, FALSE, &timeout) == STATUS_SUCCESS);
    IoStopTimer(Device);
    KeFlushQueuedDpcs();
    EXPECT(record.Runs >= 1 && record.Irql == DISPATCH_LEVEL);

    InitializeDpcRecord(&record);
    IoInitializeDpcRequest(Device, ConformanceDpcForIsr);
    EXPECT(IoRequestDpc(Device, NULL, &record) == TRUE);
    KeFlushQueuedDpcs();
    EXPECT(KeReadStateEvent(&record.Ran) != 0);
    EXPECT(record.Irql == DISPATCH_LEVEL && record.Argument1 == Device);
}

/* A device by name: a referenced file object on it, and the top of its stack. */
static VOID ConformDevicePointer(PUNICODE_STRING Name, PDEVICE_OBJECT Top)
{
    PFILE_OBJECT fileObject = NULL;
    PDEVICE_OBJECT device = NULL;

    EXPECT(IoGetDeviceObjectPointer(Name, FILE_READ_DATA, &fileObject, &device) == STATUS_SUCCESS);
    EXPECT(device == Top);
    if (fileObject != NULL) {
        EXPECT(IoGetRelatedDeviceObject(fileObject) == Top);
        ObDereferenceObject(fileObject);
    }
}

static PDEVICE_OBJECT CreateConformanceDevice(PDRIVER_OBJECT DriverObject, PUNICODE_STRING Name)
{
    PDEVICE_OBJECT device = NULL;
    PCONFORMANCE_DEVICE extension;

    EXPECT(IoCreateDevice(DriverObject, sizeof(CONFORMANCE_DEVICE), Name, FILE_DEVICE_UNKNOWN, 0, FALSE,
                          &device) == STATUS_SUCCESS);
    if (device == NULL)
        return NULL;
    extension = device->DeviceExtension;
    RtlZeroMemory(extension, sizeof(*extension));
    KeInitializeEvent(&extension->ReadPended, NotificationEvent, FALSE);
    EXPECT((device->Flags & DO_DEVICE_INITIALIZING) != 0);
    device->Flags |= DO_BUFFERED_IO;
    return device;
}

/* An entry for the event log; one allocated and freed unwritten. */
static VOID ConformErrorLog(PDEVICE_OBJECT Device)
{
    PIO_ERROR_LOG_PACKET entry = IoAllocateErrorLogEntry(Device, sizeof(IO_ERROR_LOG_PACKET));

    EXPECT(entry != NULL);
    if (entry != NULL) {
        EXPECT(entry->ErrorCode == 0 && entry->DumpDataSize == 0);
        entry->ErrorCode = STATUS_DEVICE_BUSY;
        entry->UniqueErrorValue = 1;
        IoWriteErrorLogEntry(entry);
    }
    entry = IoAllocateErrorLogEntry(Device, sizeof(IO_ERROR_LOG_PACKET));
    EXPECT(entry != NULL);
    if (entry != NULL)
        IoFreeErrorLogEntry(entry);
    EXPECT(IoAllocateErrorLogEntry(Device, ERROR_LOG_MAXIMUM_SIZE + 1) == NULL);
}

static VOID ConformIo(PDRIVER_OBJECT DriverObject)
{
    UNICODE_STRING deviceName = RTL_CONSTANT_STRING(L"\\Device\\WdmsimConformance");
    UNICODE_STRING linkName = RTL_CONSTANT_STRING(L"\\DosDevices\\WdmsimConformance");
    UNICODE_STRING linkPath = RTL_CONSTANT_STRING(L"\\??\\WdmsimConformance");
    PDEVICE_OBJECT function;
    PDEVICE_OBJECT filter;
    PCONFORMANCE_DEVICE filterExtension;
    HANDLE file;
    ULONG i;

    for (i = 0; i <= IRP_MJ_MAXIMUM_FUNCTION; i++)
        DriverObject->MajorFunction[i] = ConformanceDispatch;
    DriverObject->DriverUnload = ConformanceDriverUnload;
    DriverObject->DriverStartIo = ConformanceStartIo;

    function = CreateConformanceDevice(DriverObject, &deviceName);
    if (function == NULL)
        return;
    ConformStartIo(function);
    ConformBuiltIrps(function);
    ConformDeviceTimerAndDpc(function);
    ConformErrorLog(function);
    /* Device and driver objects are objects: they take references like any other. */
    ObReferenceObject(function);
    ObReferenceObject(DriverObject);
    ObDereferenceObject(DriverObject);
    ObDereferenceObject(function);
    filter = CreateConformanceDevice(DriverObject, NULL);
    if (filter != NULL) {
        filterExtension = filter->DeviceExtension;
        filterExtension->Lower = IoAttachDeviceToDeviceStack(filter, function);
        EXPECT(filterExtension->Lower == function);
        EXPECT(filter->StackSize == function->StackSize + 1);
        /* The opens come before DriverEntry returns, so the driver ends initialization itself. */
        filter->Flags &= ~DO_DEVICE_INITIALIZING;
        function->Flags &= ~DO_DEVICE_INITIALIZING;

        EXPECT(IoCreateSymbolicLink(&linkName, &deviceName) == STATUS_SUCCESS);
        EXPECT(IoCreateSymbolicLink(&linkName, &deviceName) == STATUS_OBJECT_NAME_COLLISION);
        if (filterExtension->Lower != NULL) {
            ConformFileCalls(function, function->DeviceExtension, filterExtension, &linkPath);
            /* The filter saw both opens, every call above and its two closes and cleanups. */
            EXPECT(filterExtension->FilterCompletions >= 12);
            EXPECT(OpenDevice(&linkPath, &file) == STATUS_SUCCESS && ZwClose(file) == STATUS_SUCCESS);
            ConformDevicePointer(&deviceName, filter);
            IoDetachDevice(function);
        }
        EXPECT(IoDeleteSymbolicLink(&linkName) == STATUS_SUCCESS);
        EXPECT(OpenDevice(&linkPath, &file) == STATUS_OBJECT_NAME_NOT_FOUND);
        IoDeleteDevice(filter);
    }
    IoDeleteDevice(function);
}

static IO_REMOVE_LOCK ConformanceRemoveLock;

static VOID ConformRemoveLocks(VOID)
{
    PIO_REMOVE_LOCK lock = &ConformanceRemoveLock;
    int request, removal;

    IoInitializeRemoveLock(lock, CONFORMANCE_TAG, 1, 10);
    EXPECT(IoAcquireRemoveLock(lock, &request) == STATUS_SUCCESS);
    EXPECT(IoAcquireRemoveLock(lock, &removal) == STATUS_SUCCESS);
    IoReleaseRemoveLock(lock, &request);
    IoReleaseRemoveLockAndWait(lock, &removal);
    EXPECT(IoAcquireRemoveLock(lock, &request) == STATUS_DELETE_PENDING);
}

static LIST_ENTRY ConformanceCsqList;
static KSPIN_LOCK ConformanceCsqLock;
static IO_CSQ ConformanceCsq;

static VOID NTAPI ConformanceCsqInsert(PIO_CSQ Csq, PIRP Irp)
{
    UNREFERENCED_PARAMETER(Csq);
    InsertTailList(&ConformanceCsqList, &Irp->Tail.Overlay.ListEntry);
}

static VOID NTAPI ConformanceCsqRemove(PIO_CSQ Csq, PIRP Irp)
{
    UNREFERENCED_PARAMETER(Csq);
    RemoveEntryList(&Irp->Tail.Overlay.ListEntry);
}

static PIRP NTAPI ConformanceCsqPeek(PIO_CSQ Csq, PIRP Irp, PVOID PeekContext)
{
    PLIST_ENTRY next = Irp != NULL ? Irp->Tail.Overlay.ListEntry.Flink : ConformanceCsqList.Flink;

    UNREFERENCED_PARAMETER(Csq);
    UNREFERENCED_PARAMETER(PeekContext);
    return next == &ConformanceCsqList ? NULL : CONTAINING_RECORD(next, IRP, Tail.Overlay.ListEntry);
}

static VOID NTAPI ConformanceCsqAcquire(PIO_CSQ Csq, PKIRQL Irql)
{
    UNREFERENCED_PARAMETER(Csq);
    KeAcquireSpinLock(&ConformanceCsqLock, Irql);
}

static VOID NTAPI ConformanceCsqRelease(PIO_CSQ Csq, KIRQL Irql)
{
    UNREFERENCED_PARAMETER(Csq);
    KeReleaseSpinLock(&ConformanceCsqLock, Irql);
}

static VOID NTAPI ConformanceCsqCompleteCanceled(PIO_CSQ Csq, PIRP Irp)
{
    UNREFERENCED_PARAMETER(Csq);
    CompleteIrp(Irp, STATUS_CANCELLED, 0);
}

/* An empty cancel-safe queue has nothing to give. */
static VOID ConformCancelSafeQueues(VOID)
{
    InitializeListHead(&ConformanceCsqList);
    KeInitializeSpinLock(&ConformanceCsqLock);
    EXPECT(IoCsqInitialize(&ConformanceCsq, ConformanceCsqInsert, ConformanceCsqRemove, ConformanceCsqPeek,
                           ConformanceCsqAcquire, ConformanceCsqRelease, ConformanceCsqCompleteCanceled) ==
           STATUS_SUCCESS);
    EXPECT(IoCsqRemoveNextIrp(&ConformanceCsq, NULL) == NULL);
}

static VOID ConformNamedEvents(VOID)
{
    UNICODE_STRING notificationName = RTL_CONSTANT_STRING(L"\\BaseNamedObjects\\WdmsimConformanceN");
    UNICODE_STRING synchronizationName = RTL_CONSTANT_STRING(L"\\BaseNamedObjects\\WdmsimConformanceS");
    HANDLE notificationHandle = NULL;
    HANDLE synchronizationHandle = NULL;
    PKEVENT notification;
    PKEVENT synchronization;

    /* Both are created signalled. */
    notification = IoCreateNotificationEvent(&notificationName, &notificationHandle);
    EXPECT(notification != NULL && notificationHandle != NULL);
    if (notification != NULL) {
        EXPECT(KeReadStateEvent(notification) != 0);
        EXPECT(ZwClose(notificationHandle) == STATUS_SUCCESS);
    }
    synchronization = IoCreateSynchronizationEvent(&synchronizationName, &synchronizationHandle);
    EXPECT(synchronization != NULL && synchronizationHandle != NULL);
    if (synchronization != NULL) {
        EXPECT(KeReadStateEvent(synchronization) != 0);
        EXPECT(KeWaitForSingleObject(synchronization, Executive, KernelMode, FALSE, NULL) == STATUS_SUCCESS);
        EXPECT(KeReadStateEvent(synchronization) == 0);
        EXPECT(ZwClose(synchronizationHandle) == STATUS_SUCCESS);
    }
    /* No name: a new unnamed event and a kernel handle. */
    synchronization = IoCreateSynchronizationEvent(NULL, &synchronizationHandle);
    EXPECT(synchronization != NULL);
    if (synchronization != NULL) {
        EXPECT(KeReadStateEvent(synchronization) != 0);
        EXPECT(ZwClose(synchronizationHandle) == STATUS_SUCCESS);
    }
}

static VOID ConformProcesses(VOID)
{
    KAPC_STATE apcState;
    PEPROCESS process = IoGetCurrentProcess();
    PEPROCESS found = NULL;
    PETHREAD thread = NULL;

    /* DriverEntry runs in the System process. */
    EXPECT(process == PsInitialSystemProcess);
    EXPECT(PsGetCurrentProcessId() == (HANDLE)4);
    KeStackAttachProcess((PKPROCESS)PsInitialSystemProcess, &apcState);
    EXPECT(IoGetCurrentProcess() == PsInitialSystemProcess);
    KeUnstackDetachProcess(&apcState);
    EXPECT(IoGetCurrentProcess() == process);

    /* Lookups by id return a reference to the object with that id. */
    EXPECT(PsLookupProcessByProcessId((HANDLE)4, &found) == STATUS_SUCCESS && found == PsInitialSystemProcess);
    if (found != NULL)
        ObDereferenceObject(found);
    EXPECT(PsLookupThreadByThreadId(PsGetCurrentThreadId(), &thread) == STATUS_SUCCESS &&
           thread == PsGetCurrentThread());
    if (thread != NULL)
        ObDereferenceObject(thread);
}

static VOID ConformVersion(VOID)
{
    RTL_OSVERSIONINFOEXW info;
    ULONG major = 0, build = 0;
    ULONG_PTR low = 0, high = 0;

    PsGetVersion(&major, NULL, &build, NULL);
    RtlZeroMemory(&info, sizeof(info));
    info.dwOSVersionInfoSize = sizeof(info);
    EXPECT(RtlGetVersion((PRTL_OSVERSIONINFOW)&info) == STATUS_SUCCESS);
    EXPECT(info.dwMajorVersion == major && info.dwBuildNumber == build && major >= 10);
    IoGetStackLimits(&low, &high);
    EXPECT(low < high && IoGetRemainingStackSize() != 0 && IoGetRemainingStackSize() < high - low);
}

static VOID ConformRoutineAddresses(VOID)
{
    UNICODE_STRING present = RTL_CONSTANT_STRING(L"KeSetEvent");
    UNICODE_STRING absent = RTL_CONSTANT_STRING(L"WdmsimNoSuchRoutine");

    EXPECT(MmGetSystemRoutineAddress(&present) != NULL);
    EXPECT(MmGetSystemRoutineAddress(&absent) == NULL);
}

static VOID ConformInterlocked(VOID)
{
    LONG volatile value = 5;
    PVOID volatile pointer = NULL;

    EXPECT(InterlockedIncrement(&value) == 6);
    EXPECT(InterlockedDecrement(&value) == 5);
    EXPECT(InterlockedExchange(&value, 9) == 5 && value == 9);
    EXPECT(InterlockedCompareExchange(&value, 1, 2) == 9 && value == 9);
    EXPECT(InterlockedCompareExchange(&value, 1, 9) == 9 && value == 1);
    EXPECT(InterlockedExchangePointer(&pointer, (PVOID)&value) == NULL && pointer == (PVOID)&value);
}

/* KeMemoryBarrier is left out: mingw-w64's x64 DDK does not declare it. */
static VOID ConformInterlockedFamily(VOID)
{
    LONG volatile value = 0x0F;
    LONGLONG volatile wide = 1;
    LARGE_INTEGER statistic;
    ULONG counter = 40;
    KSPIN_LOCK lock;

    EXPECT(InterlockedExchangeAdd(&value, 1) == 0x0F && value == 0x10);
    EXPECT(InterlockedOr(&value, 1) == 0x10 && InterlockedAnd(&value, 1) == 0x11 && value == 1);
    EXPECT(InterlockedXor(&value, 3) == 1 && value == 2);
    EXPECT(InterlockedIncrement64(&wide) == 2 && InterlockedAdd64(&wide, 0x100000000LL) == 0x100000002LL);
    EXPECT(InterlockedCompareExchange64(&wide, 7, 0x100000002LL) == 0x100000002LL && wide == 7);
    statistic.QuadPart = 1;
    ExInterlockedAddLargeStatistic(&statistic, 2);
    EXPECT(statistic.QuadPart == 3);
    KeInitializeSpinLock(&lock);
    EXPECT(ExInterlockedAddUlong(&counter, 2, &lock) == 40 && counter == 42);
}

static KGUARDED_MUTEX ConformanceGuardedMutex;
static FAST_MUTEX ConformanceUnsafeMutex;

static VOID ConformGuardedMutexes(VOID)
{
    KeInitializeGuardedMutex(&ConformanceGuardedMutex);
    KeAcquireGuardedMutex(&ConformanceGuardedMutex);
    EXPECT(KeGetCurrentIrql() == PASSIVE_LEVEL);
    EXPECT(KeTryToAcquireGuardedMutex(&ConformanceGuardedMutex) == FALSE);
    KeReleaseGuardedMutex(&ConformanceGuardedMutex);
    EXPECT(KeTryToAcquireGuardedMutex(&ConformanceGuardedMutex) == TRUE);
    KeReleaseGuardedMutex(&ConformanceGuardedMutex);
    KeEnterGuardedRegion();
    KeAcquireGuardedMutexUnsafe(&ConformanceGuardedMutex);
    KeReleaseGuardedMutexUnsafe(&ConformanceGuardedMutex);
    KeLeaveGuardedRegion();
    ExInitializeFastMutex(&ConformanceUnsafeMutex);
    KeEnterCriticalRegion();
    ExAcquireFastMutexUnsafe(&ConformanceUnsafeMutex);
    EXPECT(KeGetCurrentIrql() == PASSIVE_LEVEL);
    ExReleaseFastMutexUnsafe(&ConformanceUnsafeMutex);
    KeLeaveCriticalRegion();
}

static NPAGED_LOOKASIDE_LIST ConformanceLookaside;

static VOID ConformLookasideLists(VOID)
{
    PVOID first, again;

    ExInitializeNPagedLookasideList(&ConformanceLookaside, NULL, NULL, 0, 64, CONFORMANCE_TAG, 0);
    first = ExAllocateFromNPagedLookasideList(&ConformanceLookaside);
    EXPECT(first != NULL);
    if (first == NULL) {
        ExDeleteNPagedLookasideList(&ConformanceLookaside);
        return;
    }
    ExFreeToNPagedLookasideList(&ConformanceLookaside, first);
    again = ExAllocateFromNPagedLookasideList(&ConformanceLookaside);
    EXPECT(again != NULL);
    if (again != NULL)
        ExFreeToNPagedLookasideList(&ConformanceLookaside, again);
    ExDeleteNPagedLookasideList(&ConformanceLookaside);
}

static SLIST_HEADER ConformanceSList;
static SLIST_ENTRY ConformanceSListEntries[2];

static VOID ConformSLists(VOID)
{
    InitializeSListHead(&ConformanceSList);
    EXPECT(ExQueryDepthSList(&ConformanceSList) == 0);
    EXPECT(ExInterlockedPushEntrySList(&ConformanceSList, &ConformanceSListEntries[0], NULL) == NULL);
    EXPECT(ExInterlockedPushEntrySList(&ConformanceSList, &ConformanceSListEntries[1], NULL) ==
           &ConformanceSListEntries[0]);
    EXPECT(ExQueryDepthSList(&ConformanceSList) == 2);
    EXPECT(ExInterlockedPopEntrySList(&ConformanceSList, NULL) == &ConformanceSListEntries[1]);
    EXPECT(ExInterlockedFlushSList(&ConformanceSList) == &ConformanceSListEntries[0]);
    EXPECT(ExQueryDepthSList(&ConformanceSList) == 0);
}

/* The driver's own service key, as DriverEntry finds it: a value written, read three ways,
 * enumerated and deleted, a subkey made and deleted, and the Rtl helpers on the same key. */
static VOID ConformRegistryKeys(HANDLE Service)
{
    UNICODE_STRING valueName = RTL_CONSTANT_STRING(L"ConformanceValue");
    UNICODE_STRING subkeyName = RTL_CONSTANT_STRING(L"ConformanceSubkey");
    OBJECT_ATTRIBUTES attributes;
    ULONG value = 0x1234, disposition = 0, length = 0;
    UCHAR buffer[128];
    PKEY_VALUE_PARTIAL_INFORMATION partial = (PKEY_VALUE_PARTIAL_INFORMATION)buffer;
    PKEY_FULL_INFORMATION full = (PKEY_FULL_INFORMATION)buffer;
    HANDLE subkey;

    EXPECT(ZwSetValueKey(Service, &valueName, 0, REG_DWORD, &value, sizeof value) == STATUS_SUCCESS);
    EXPECT(ZwQueryValueKey(Service, &valueName, KeyValuePartialInformation, NULL, 0, &length) ==
           STATUS_BUFFER_TOO_SMALL);
    EXPECT(length == FIELD_OFFSET(KEY_VALUE_PARTIAL_INFORMATION, Data) + sizeof value);
    EXPECT(ZwQueryValueKey(Service, &valueName, KeyValuePartialInformation, buffer,
                           FIELD_OFFSET(KEY_VALUE_PARTIAL_INFORMATION, Data) + 1, &length) == STATUS_BUFFER_OVERFLOW);
    EXPECT(ZwQueryValueKey(Service, &valueName, KeyValuePartialInformation, buffer, sizeof buffer, &length) ==
           STATUS_SUCCESS);
    EXPECT(partial->Type == REG_DWORD && partial->DataLength == sizeof value && *(PULONG)partial->Data == 0x1234);
    InitializeObjectAttributes(&attributes, &subkeyName, OBJ_CASE_INSENSITIVE | OBJ_KERNEL_HANDLE, Service, NULL);
    EXPECT(ZwCreateKey(&subkey, KEY_ALL_ACCESS, &attributes, 0, NULL, REG_OPTION_VOLATILE, &disposition) ==
           STATUS_SUCCESS);
    EXPECT(disposition == REG_CREATED_NEW_KEY);
    EXPECT(ZwQueryKey(Service, KeyFullInformation, buffer, sizeof buffer, &length) == STATUS_SUCCESS);
    EXPECT(full->SubKeys >= 1 && full->Values >= 1);
    EXPECT(ZwEnumerateKey(Service, full->SubKeys, KeyBasicInformation, buffer, sizeof buffer, &length) ==
           STATUS_NO_MORE_ENTRIES);
    EXPECT(ZwEnumerateValueKey(Service, 0, KeyValueBasicInformation, buffer, sizeof buffer, &length) == STATUS_SUCCESS);
    EXPECT(ZwFlushKey(Service) == STATUS_SUCCESS);
    EXPECT(ZwDeleteKey(subkey) == STATUS_SUCCESS);
    EXPECT(ZwQueryKey(subkey, KeyBasicInformation, buffer, sizeof buffer, &length) == STATUS_KEY_DELETED);
    EXPECT(ZwClose(subkey) == STATUS_SUCCESS);
    EXPECT(ZwDeleteValueKey(Service, &valueName) == STATUS_SUCCESS);
    EXPECT(ZwDeleteValueKey(Service, &valueName) == STATUS_OBJECT_NAME_NOT_FOUND);
}

static VOID ConformRtlRegistry(PCWSTR ServicePath)
{
    ULONG written = 77, read = 0, fallback = 5, missing = 0;
    RTL_QUERY_REGISTRY_TABLE table[3];

    RtlZeroMemory(table, sizeof table);
    table[0].Flags = RTL_QUERY_REGISTRY_DIRECT | RTL_QUERY_REGISTRY_REQUIRED;
    table[0].Name = L"RtlValue";
    table[0].EntryContext = &read;
    table[1].Flags = RTL_QUERY_REGISTRY_DIRECT;
    table[1].Name = L"RtlMissing";
    table[1].EntryContext = &missing;
    table[1].DefaultType = REG_DWORD;
    table[1].DefaultData = &fallback;
    table[1].DefaultLength = sizeof fallback;
    EXPECT(RtlCheckRegistryKey(RTL_REGISTRY_ABSOLUTE, (PWSTR)ServicePath) == STATUS_SUCCESS);
    EXPECT(RtlWriteRegistryValue(RTL_REGISTRY_ABSOLUTE, ServicePath, L"RtlValue", REG_DWORD, &written,
                                 sizeof written) == STATUS_SUCCESS);
    EXPECT(RtlQueryRegistryValues(RTL_REGISTRY_ABSOLUTE, ServicePath, table, NULL, NULL) == STATUS_SUCCESS);
    EXPECT(read == 77 && missing == 5);
    EXPECT(RtlDeleteRegistryValue(RTL_REGISTRY_ABSOLUTE, ServicePath, L"RtlValue") == STATUS_SUCCESS);
    EXPECT(RtlQueryRegistryValues(RTL_REGISTRY_ABSOLUTE, ServicePath, table, NULL, NULL) ==
           STATUS_OBJECT_NAME_NOT_FOUND);
    EXPECT(RtlCreateRegistryKey(RTL_REGISTRY_CONTROL, L"WdmsimConformance") == STATUS_SUCCESS);
    EXPECT(RtlCheckRegistryKey(RTL_REGISTRY_CONTROL, L"WdmsimConformance") == STATUS_SUCCESS);
}

static VOID ConformRegistry(PUNICODE_STRING RegistryPath)
{
    WCHAR path[256];
    UNICODE_STRING copy;
    OBJECT_ATTRIBUTES attributes;
    HANDLE service;

    copy.Buffer = path;
    copy.Length = 0;
    copy.MaximumLength = sizeof path - sizeof(WCHAR);
    RtlCopyUnicodeString(&copy, RegistryPath);
    path[copy.Length / sizeof(WCHAR)] = L'\0';
    InitializeObjectAttributes(&attributes, &copy, OBJ_CASE_INSENSITIVE | OBJ_KERNEL_HANDLE, NULL, NULL);
    EXPECT(ZwOpenKey(&service, KEY_ALL_ACCESS, &attributes) == STATUS_SUCCESS);
    if (service == NULL)
        return;
    ConformRegistryKeys(service);
    EXPECT(ZwClose(service) == STATUS_SUCCESS);
    ConformRtlRegistry(path);
}

NTSTATUS NTAPI DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    /* Never taken: the I/O manager always passes a registry path, and no IRQL exceeds
     * HIGH_LEVEL. The calls prove the bug check DDIs compile and link on both sides. */
    if (RegistryPath == NULL)
        KeBugCheckEx(MANUALLY_INITIATED_CRASH_CODE, 0, 0, 0, 0);
    if (KeGetCurrentIrql() > HIGH_LEVEL)
        KeBugCheck(IRQL_NOT_LESS_OR_EQUAL_CODE);

    ConformanceFailures = 0;
    ConformanceFirstFailure = NULL;
    ConformanceFirstFailureLine = 0;

    ConformStatusMacros();
    ConformIrql();
    ConformSpinLocks();
    ConformLists();
    ConformInterlockedLists();
    ConformPool();
    ConformTimeConversions();
    ConformClock();
    ConformCounters();
    ConformProcessors();
    ConformStrings();
    ConformConversions();
    ConformSafeStrings();
    ConformMemory();
    ConformDebugOutput();
    ConformRegions();
    ConformResources();
    ConformEvents();
    ConformWaits();
    ConformMutexes();
    ConformSemaphores();
    ConformTimers();
    ConformDpcs();
    ConformSystemThreads();
    ConformWorkItems();
    ConformInterlocked();
    ConformInterlockedFamily();
    ConformSLists();
    ConformLookasideLists();
    ConformGuardedMutexes();
    ConformProcesses();
    ConformVersion();
    ConformRoutineAddresses();
    ConformNamedEvents();
    ConformDeviceQueues();
    ConformRemoveLocks();
    ConformCancelSafeQueues();
    ConformRegistry(RegistryPath);
    ConformIo(DriverObject);

    EXPECT(KeGetCurrentIrql() == PASSIVE_LEVEL);
    return ConformanceFailures == 0 ? STATUS_SUCCESS : STATUS_UNSUCCESSFUL;
}
