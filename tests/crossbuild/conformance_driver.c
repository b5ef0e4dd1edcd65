/*
 * conformance_driver.c - a WDM driver whose DriverEntry calls every DDI that sim_kernel/include/wdm.h
 * and ntddk.h declare, at the IRQL Windows allows, and checks each result against the documented
 * behaviour. The same source builds into the host runner (against wdmsim::kernel) and, with
 * mingw-w64, into conformance.sys. It grows with every issue: each new DDI gets a call here.
 * KfLowerIrql and RtlFailFast are reached only through KeLowerIrql and the list helpers: mingw-w64's
 * x64 DDK does not declare them for drivers.
 */
#include <ntddk.h>

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

static VOID ConformEvents(VOID)
{
    KEVENT notification;
    KEVENT synchronization;
    KIRQL oldIrql;

    KeInitializeEvent(&notification, NotificationEvent, FALSE);
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
    ObDereferenceObject(thread);

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

NTSTATUS NTAPI DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    UNREFERENCED_PARAMETER(DriverObject);

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
    ConformStrings();
    ConformMemory();
    ConformEvents();
    ConformWaits();
    ConformMutexes();
    ConformSemaphores();
    ConformTimers();
    ConformDpcs();
    ConformSystemThreads();
    ConformWorkItems();

    EXPECT(KeGetCurrentIrql() == PASSIVE_LEVEL);
    return ConformanceFailures == 0 ? STATUS_SUCCESS : STATUS_UNSUCCESSFUL;
}
