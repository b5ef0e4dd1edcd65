/*
 * test_bad_input.c - the bad-input battery: what the simulated kernel does with each mistake a
 * driver or a test can make at a DDI's door, family by family (spin locks, lists, dispatcher
 * objects, DPCs and timers, pool, handles and objects, threads, strings, files, IRQL, IRPs and
 * devices, the DebugPrint API). Each row is the outcome Windows gives: a status, or the STOP that
 * Windows or Driver Verifier raises - never a bare crash, a hang or a silent acceptance. A NULL
 * pointer a DDI would use at once stops with the bug check of the fault it would take
 * (ddi.null_argument, 0xD1 at DISPATCH_LEVEL), naming the DDI and the argument.
 * Each row is its own case, run on a fresh kernel; the STOP rows run in a child.
 */
#include <ntifs.h>

#include <wdmsim/test.h>

#include "DebugPrint.h"

#define ACCESS_VIOLATION 0xC0000005LL

/* Volatile, so that no compiler sees the NULL and emits a trap instead of the call. */
static void *volatile null;

struct bad_input {
    const char *name;
    /* A STOP row: the scenario, the bug check, its parameter 1 (or WDMSIM_ANY_PARAM), the rule,
     * and a text the report must have (the argument it names). */
    wdmsim_scenario_fn *stops;
    unsigned int code;
    long long param1;
    const char *rule;
    const char *names;
    /* A status row: the call, and the status Windows returns. */
    NTSTATUS (*returns)(void);
    NTSTATUS status;
};

/* ---- Helpers the rows share ---- */

static UNICODE_STRING device_name = RTL_CONSTANT_STRING(L"\\Device\\BadInputNoSuchDevice");

static NTSTATUS create_file(PHANDLE handle, POBJECT_ATTRIBUTES attributes, PIO_STATUS_BLOCK iosb)
{
    return ZwCreateFile(handle, GENERIC_READ, attributes, iosb, NULL, FILE_ATTRIBUTE_NORMAL, 0, FILE_OPEN, 0, NULL, 0);
}

static NTSTATUS open_name(PUNICODE_STRING name, HANDLE root)
{
    OBJECT_ATTRIBUTES attributes;
    IO_STATUS_BLOCK iosb;
    HANDLE handle = NULL;

    InitializeObjectAttributes(&attributes, name, OBJ_KERNEL_HANDLE | OBJ_CASE_INSENSITIVE, root, NULL);
    return create_file(&handle, &attributes, &iosb);
}

static HANDLE an_event_handle(void)
{
    OBJECT_ATTRIBUTES attributes;
    HANDLE handle = NULL;
    PKEVENT event;
    UNICODE_STRING name = RTL_CONSTANT_STRING(L"\\BaseNamedObjects\\BadInputEvent");

    InitializeObjectAttributes(&attributes, &name, OBJ_KERNEL_HANDLE, NULL, NULL);
    event = IoCreateNotificationEvent(&name, &handle);
    assert_non_null(event);
    return handle;
}

static void at_dispatch(void (*fn)(void))
{
    KIRQL old_irql;

    KeRaiseIrql(DISPATCH_LEVEL, &old_irql);
    fn();
    KeLowerIrql(old_irql);
}

/* ---- Spin locks ---- */

static void acquire_NULL_spin_lock(void *context)
{
    KIRQL old_irql;

    (void)context;
    KeAcquireSpinLock(null, &old_irql);
}

static void acquire_at_dpc_level_NULL(void)
{
    KeAcquireSpinLockAtDpcLevel(null);
}

static void acquire_at_dpc_level_NULL_at_dispatch(void *context)
{
    (void)context;
    at_dispatch(acquire_at_dpc_level_NULL);
}

static void acquire_spin_lock_NULL_OldIrql(void *context)
{
    KSPIN_LOCK lock;

    (void)context;
    KeInitializeSpinLock(&lock);
    KeAcquireSpinLock(&lock, (PKIRQL)null);
}

static void release_unheld_spin_lock(void *context)
{
    KSPIN_LOCK lock;
    KIRQL old_irql;

    (void)context;
    KeInitializeSpinLock(&lock);
    KeRaiseIrql(DISPATCH_LEVEL, &old_irql);
    KeReleaseSpinLock(&lock, old_irql);
}

static void acquire_spin_lock_twice(void *context)
{
    KSPIN_LOCK lock;
    KIRQL first, second;

    (void)context;
    KeInitializeSpinLock(&lock);
    KeAcquireSpinLock(&lock, &first);
    KeAcquireSpinLock(&lock, &second);
}

static void acquire_spin_lock_above_dispatch(void *context)
{
    KSPIN_LOCK lock;
    KIRQL old_irql, ignored;

    (void)context;
    KeInitializeSpinLock(&lock);
    KeRaiseIrql(HIGH_LEVEL, &old_irql);
    KeAcquireSpinLock(&lock, &ignored);
}

/* ---- Lists ---- */

static LIST_ENTRY list_head, list_entry;

/* The head, through a pointer the compiler cannot follow: knowing the head is zeroed, an optimiser
 * may fold the inline routine's NULL dereference into anything (clang took the corruption branch). */
static PLIST_ENTRY volatile list_head_pointer = &list_head;

static PLIST_ENTRY zeroed_head(void)
{
    PLIST_ENTRY head = list_head_pointer;

    memset(head, 0, sizeof *head);
    return list_head_pointer;
}

static void interlocked_insert_NULL_lock(void *context)
{
    (void)context;
    InitializeListHead(&list_head);
    ExInterlockedInsertHeadList(&list_head, &list_entry, null);
}

static void interlocked_remove_NULL_head(void *context)
{
    KSPIN_LOCK lock;

    (void)context;
    KeInitializeSpinLock(&lock);
    ExInterlockedRemoveHeadList(null, &lock);
}

static void insert_into_zeroed_head(void *context)
{
    (void)context;
    InsertTailList(zeroed_head(), &list_entry);
}

static void remove_from_zeroed_head(void *context)
{
    (void)context;
    RemoveHeadList(zeroed_head());
}

static void interlocked_insert_into_zeroed_head(void *context)
{
    KSPIN_LOCK lock;

    (void)context;
    KeInitializeSpinLock(&lock);
    memset(&list_head, 0, sizeof list_head);
    ExInterlockedInsertTailList(&list_head, &list_entry, &lock);
}

static void push_onto_NULL_slist(void *context)
{
    static SLIST_ENTRY entry __attribute__((aligned(16)));

    (void)context;
    InterlockedPushEntrySList(null, &entry);
}

static void push_NULL_entry_list(void *context)
{
    static SINGLE_LIST_ENTRY head;
    KSPIN_LOCK lock;

    (void)context;
    KeInitializeSpinLock(&lock);
    ExInterlockedPushEntryList(&head, null, &lock);
}

static void remove_entry_twice(void *context)
{
    (void)context;
    InitializeListHead(&list_head);
    InsertTailList(&list_head, &list_entry);
    InsertTailList(&list_head, &(LIST_ENTRY){ 0 });
    RemoveEntryList(&list_entry);
    list_entry.Flink->Blink = list_entry.Blink->Flink = &list_head;
    RemoveEntryList(&list_entry);
}

/* ---- Dispatcher objects ---- */

static void wait_for_NULL_object(void *context)
{
    (void)context;
    KeWaitForSingleObject(null, Executive, KernelMode, FALSE, NULL);
}

static void wait_for_NULL_object_array(void *context)
{
    (void)context;
    KeWaitForMultipleObjects(2, null, WaitAll, Executive, KernelMode, FALSE, NULL, NULL);
}

static void wait_for_too_many_objects(void *context)
{
    KEVENT events[4];
    PVOID objects[4];

    (void)context;
    for (int i = 0; i < 4; i++) {
        KeInitializeEvent(&events[i], NotificationEvent, TRUE);
        objects[i] = &events[i];
    }
    KeWaitForMultipleObjects(4, objects, WaitAny, Executive, KernelMode, FALSE, NULL, NULL);
}

static void set_NULL_event(void *context)
{
    (void)context;
    KeSetEvent(null, IO_NO_INCREMENT, FALSE);
}

static void initialize_NULL_event(void *context)
{
    (void)context;
    KeInitializeEvent(null, NotificationEvent, FALSE);
}

static void set_uninitialized_event(void *context)
{
    KEVENT event;

    (void)context;
    memset(&event, 0, sizeof event);
    KeSetEvent(&event, IO_NO_INCREMENT, FALSE);
}

static void wait_forever_at_dispatch(void *context)
{
    KEVENT event;
    KIRQL old_irql;

    (void)context;
    KeInitializeEvent(&event, NotificationEvent, FALSE);
    KeRaiseIrql(DISPATCH_LEVEL, &old_irql);
    KeWaitForSingleObject(&event, Executive, KernelMode, FALSE, NULL);
}

static void release_unowned_mutex(void *context)
{
    KMUTEX mutex;

    (void)context;
    KeInitializeMutex(&mutex, 0);
    KeReleaseMutex(&mutex, FALSE);
}

static void release_semaphore_past_limit(void *context)
{
    KSEMAPHORE semaphore;

    (void)context;
    KeInitializeSemaphore(&semaphore, 1, 1);
    KeReleaseSemaphore(&semaphore, IO_NO_INCREMENT, 1, FALSE);
}

static void delay_with_NULL_interval(void *context)
{
    (void)context;
    KeDelayExecutionThread(KernelMode, FALSE, null);
}

static void acquire_NULL_fast_mutex(void *context)
{
    (void)context;
    ExAcquireFastMutex(null);
}

static void acquire_NULL_guarded_mutex(void *context)
{
    (void)context;
    KeAcquireGuardedMutex(null);
}

/* ---- DPCs and timers ---- */

static KDPC dpc;

static void queue_dpc_without_routine(void *context)
{
    (void)context;
    KeInitializeDpc(&dpc, null, NULL);
    KeInsertQueueDpc(&dpc, NULL, NULL);
    KeFlushQueuedDpcs();
}

static VOID NTAPI dpc_routine(PKDPC d, PVOID context, PVOID a, PVOID b)
{
    (void)d, (void)context, (void)a, (void)b;
}

static void initialize_NULL_dpc(void *context)
{
    (void)context;
    KeInitializeDpc(null, dpc_routine, NULL);
}

static void set_NULL_timer(void *context)
{
    LARGE_INTEGER due = { .QuadPart = -10000 };

    (void)context;
    KeSetTimer(null, due, NULL);
}

static void set_timer_with_dpc_without_routine(void *context)
{
    KTIMER timer;
    LARGE_INTEGER due = { .QuadPart = -10000 };

    (void)context;
    KeInitializeTimer(&timer);
    KeInitializeDpc(&dpc, null, NULL);
    KeSetTimer(&timer, due, &dpc);
    due.QuadPart *= 2;
    KeDelayExecutionThread(KernelMode, FALSE, &due);
}

static void query_time_into_NULL(void *context)
{
    (void)context;
    KeQuerySystemTime(null);
}

/* ---- Pool ---- */

static void allocate_zero_bytes(void *context)
{
    (void)context;
    ExAllocatePoolWithTag(NonPagedPool, 0, 'daBT');
}

static void allocate_with_zero_tag(void *context)
{
    (void)context;
    ExAllocatePoolWithTag(NonPagedPool, 16, 0);
}

static void free_twice(void *context)
{
    PVOID block = ExAllocatePoolWithTag(NonPagedPool, 16, 'daBT');

    (void)context;
    ExFreePoolWithTag(block, 'daBT');
    ExFreePoolWithTag(block, 'daBT');
}

static void free_with_wrong_tag(void *context)
{
    PVOID block = ExAllocatePoolWithTag(NonPagedPool, 16, 'daBT');

    (void)context;
    ExFreePoolWithTag(block, 'gnrW');
}

static void free_NULL(void *context)
{
    (void)context;
    ExFreePool(null);
}

static void free_stack_memory(void *context)
{
    char local[32];

    (void)context;
    ExFreePool(local);
}

static void allocate_paged_at_dispatch_body(void)
{
    ExAllocatePoolWithTag(PagedPool, 16, 'daBT');
}

static void allocate_paged_at_dispatch(void *context)
{
    (void)context;
    at_dispatch(allocate_paged_at_dispatch_body);
}

static NTSTATUS allocate_huge(void)
{
    return ExAllocatePoolWithTag(NonPagedPool, (SIZE_T)1 << 50, 'daBT') == NULL ? STATUS_INSUFFICIENT_RESOURCES
                                                                                   : STATUS_SUCCESS;
}

/* ---- Handles and objects ---- */

static NTSTATUS close_garbage_kernel_handle(void)
{
    return ZwClose((HANDLE)(ULONG_PTR)0xFFFFFFFF80001234ull);
}

static NTSTATUS close_handle_twice(void)
{
    HANDLE handle = an_event_handle();

    ZwClose(handle);
    return ZwClose(handle);
}

static void reference_by_handle_into_NULL(void *context)
{
    (void)context;
    ObReferenceObjectByHandle(an_event_handle(), EVENT_ALL_ACCESS, *ExEventObjectType, KernelMode, null, NULL);
}

static NTSTATUS reference_closed_handle(void)
{
    HANDLE handle = an_event_handle();
    PVOID object = NULL;

    ZwClose(handle);
    return ObReferenceObjectByHandle(handle, 0, NULL, KernelMode, &object, NULL);
}

static NTSTATUS reference_with_wrong_type(void)
{
    HANDLE handle = an_event_handle();
    PVOID object = NULL;
    NTSTATUS status = ObReferenceObjectByHandle(handle, 0, *PsThreadType, KernelMode, &object, NULL);

    ZwClose(handle);
    return status;
}

static NTSTATUS reference_user_handle_from_user_mode(void)
{
    PVOID object = NULL;

    return ObReferenceObjectByHandle((HANDLE)(ULONG_PTR)0x1234, 0, NULL, UserMode, &object, NULL);
}

static void dereference_NULL(void *context)
{
    (void)context;
    ObDereferenceObject(null);
}

static void dereference_address_of_pointer(void *context)
{
    PKTHREAD thread = KeGetCurrentThread();

    (void)context;
    ObReferenceObject(thread);
    ObDereferenceObject(&thread);
}

static void attach_with_NULL_apc_state(void *context)
{
    (void)context;
    KeStackAttachProcess((PRKPROCESS)(void *)PsGetCurrentProcess(), null);
}

static NTSTATUS wait_for_garbage_handle(void)
{
    return ZwWaitForSingleObject((HANDLE)(ULONG_PTR)0x7FF0, FALSE, NULL);
}

/* ---- Threads ---- */

static VOID NTAPI thread_routine(PVOID context)
{
    (void)context;
}

static void create_thread_into_NULL_handle(void *context)
{
    (void)context;
    PsCreateSystemThread(null, THREAD_ALL_ACCESS, NULL, NULL, NULL, thread_routine, NULL);
}

static void create_thread_without_routine(void *context)
{
    HANDLE handle;

    (void)context;
    if (NT_SUCCESS(PsCreateSystemThread(&handle, THREAD_ALL_ACCESS, NULL, NULL, NULL, null, NULL)))
        ZwWaitForSingleObject(handle, FALSE, NULL);
}

static void create_thread_at_dispatch_body(void)
{
    HANDLE handle;

    PsCreateSystemThread(&handle, THREAD_ALL_ACCESS, NULL, NULL, NULL, thread_routine, NULL);
}

static void create_thread_at_dispatch(void *context)
{
    (void)context;
    at_dispatch(create_thread_at_dispatch_body);
}

/* ---- Strings ---- */

static void compare_string_with_NULL_buffer(void *context)
{
    UNICODE_STRING broken = { 8, 8, NULL };
    UNICODE_STRING name = RTL_CONSTANT_STRING(L"name");

    (void)context;
    RtlEqualUnicodeString(&name, &broken, TRUE);
}

static void init_NULL_string(void *context)
{
    (void)context;
    RtlInitUnicodeString(null, L"name");
}

static void copy_into_NULL_string(void *context)
{
    UNICODE_STRING name = RTL_CONSTANT_STRING(L"name");

    (void)context;
    RtlCopyUnicodeString(null, &name);
}

static NTSTATUS empty_string_with_NULL_buffer_compares_equal(void)
{
    UNICODE_STRING a = { 0, 0, NULL }, b = { 0, 0, NULL };

    return RtlEqualUnicodeString(&a, &b, FALSE) ? STATUS_SUCCESS : STATUS_UNSUCCESSFUL;
}

/* ---- Files ---- */

static void create_file_into_NULL_handle(void *context)
{
    OBJECT_ATTRIBUTES attributes;
    IO_STATUS_BLOCK iosb;

    (void)context;
    InitializeObjectAttributes(&attributes, &device_name, OBJ_KERNEL_HANDLE, NULL, NULL);
    create_file(null, &attributes, &iosb);
}

static void create_file_without_io_status_block(void *context)
{
    OBJECT_ATTRIBUTES attributes;
    HANDLE handle;

    (void)context;
    InitializeObjectAttributes(&attributes, &device_name, OBJ_KERNEL_HANDLE, NULL, NULL);
    create_file(&handle, &attributes, null);
}

static void create_file_without_attributes(void *context)
{
    IO_STATUS_BLOCK iosb;
    HANDLE handle;

    (void)context;
    create_file(&handle, null, &iosb);
}

static NTSTATUS create_file_of_missing_name(void)
{
    return open_name(&device_name, NULL);
}

static NTSTATUS create_file_of_relative_name_without_root(void)
{
    UNICODE_STRING relative = RTL_CONSTANT_STRING(L"Device\\BadInput");

    return open_name(&relative, NULL);
}

static NTSTATUS create_file_of_odd_length_name(void)
{
    UNICODE_STRING odd = device_name;

    odd.Length -= 1;
    return open_name(&odd, NULL);
}

static NTSTATUS create_file_of_name_longer_than_its_maximum(void)
{
    UNICODE_STRING past = device_name;

    past.MaximumLength = 4;
    return open_name(&past, NULL);
}

static NTSTATUS create_file_with_wrong_attributes_length(void)
{
    OBJECT_ATTRIBUTES attributes;
    IO_STATUS_BLOCK iosb;
    HANDLE handle = NULL;

    InitializeObjectAttributes(&attributes, &device_name, OBJ_KERNEL_HANDLE, NULL, NULL);
    attributes.Length = sizeof attributes - 8;
    return create_file(&handle, &attributes, &iosb);
}

static NTSTATUS create_file_with_no_name(void)
{
    OBJECT_ATTRIBUTES attributes;
    IO_STATUS_BLOCK iosb;
    HANDLE handle = NULL;

    InitializeObjectAttributes(&attributes, NULL, OBJ_KERNEL_HANDLE, NULL, NULL);
    return create_file(&handle, &attributes, &iosb);
}

/* An application's call: its pointers are probed, so a bad one is a status, not a STOP. */
static NTSTATUS application_status;

static void application_creates_a_file_without_io_status_block(void *context)
{
    OBJECT_ATTRIBUTES attributes;
    HANDLE handle;

    (void)context;
    InitializeObjectAttributes(&attributes, &device_name, 0, NULL, NULL);
    application_status = create_file(&handle, &attributes, null);
}

static NTSTATUS application_create_file_without_io_status_block(void)
{
    PEPROCESS application = wdmsim_process_create("BadInputApp");

    wdmsim_process_run(application, application_creates_a_file_without_io_status_block, NULL);
    wdmsim_process_terminate(application);
    return application_status;
}

static NTSTATUS write_to_closed_handle(void)
{
    HANDLE handle = an_event_handle();
    IO_STATUS_BLOCK iosb;
    char data[4] = "bad";

    ZwClose(handle);
    return ZwWriteFile(handle, NULL, NULL, NULL, &iosb, data, sizeof data, NULL, NULL);
}

static NTSTATUS write_to_an_event_handle(void)
{
    HANDLE handle = an_event_handle();
    IO_STATUS_BLOCK iosb;
    char data[4] = "bad";
    NTSTATUS status = ZwWriteFile(handle, NULL, NULL, NULL, &iosb, data, sizeof data, NULL, NULL);

    ZwClose(handle);
    return status;
}

static void read_without_io_status_block(void *context)
{
    HANDLE handle = an_event_handle();
    char data[4];

    (void)context;
    ZwReadFile(handle, NULL, NULL, NULL, null, data, sizeof data, NULL, NULL);
}

static void create_file_at_dispatch_body(void)
{
    open_name(&device_name, NULL);
}

static void create_file_at_dispatch(void *context)
{
    (void)context;
    at_dispatch(create_file_at_dispatch_body);
}

/* ---- IRQL ---- */

static void raise_to_lower(void *context)
{
    KIRQL old_irql, ignored;

    (void)context;
    KeRaiseIrql(DISPATCH_LEVEL, &old_irql);
    KeRaiseIrql(PASSIVE_LEVEL, &ignored);
}

static void lower_to_higher(void *context)
{
    (void)context;
    KeLowerIrql(DISPATCH_LEVEL);
}

static void raise_into_NULL_old_irql(void *context)
{
    (void)context;
    KeRaiseIrql(DISPATCH_LEVEL, (PKIRQL)null);
}

/* ---- IRPs and devices ---- */

static void complete_NULL_irp(void *context)
{
    (void)context;
    IoCompleteRequest(null, IO_NO_INCREMENT);
}

static void complete_something_not_an_irp(void *context)
{
    char not_an_irp[256] = { 0 };

    (void)context;
    IoCompleteRequest((PIRP)not_an_irp, IO_NO_INCREMENT);
}

static void call_with_NULL_irp(void *context)
{
    char not_a_device[512] = { 0 };

    (void)context;
    IoCallDriver((PDEVICE_OBJECT)not_a_device, null);
}

static void delete_something_not_a_device(void *context)
{
    char not_a_device[512] = { 0 };

    (void)context;
    IoDeleteDevice((PDEVICE_OBJECT)not_a_device);
}

static PDEVICE_OBJECT created;

static NTSTATUS NTAPI entry_creating_into_NULL(PDRIVER_OBJECT driver, PUNICODE_STRING registry_path)
{
    (void)registry_path;
    return IoCreateDevice(driver, 0, NULL, FILE_DEVICE_UNKNOWN, 0, FALSE, null);
}

static void create_device_into_NULL(void *context)
{
    PDRIVER_OBJECT driver;

    (void)context;
    wdmsim_driver_load("badinput", entry_creating_into_NULL, &driver);
}

static NTSTATUS NTAPI entry_creating_twice(PDRIVER_OBJECT driver, PUNICODE_STRING registry_path)
{
    UNICODE_STRING name = RTL_CONSTANT_STRING(L"\\Device\\BadInputTwice");
    PDEVICE_OBJECT second = NULL;
    NTSTATUS status;

    (void)registry_path;
    status = IoCreateDevice(driver, 0, &name, FILE_DEVICE_UNKNOWN, 0, FALSE, &created);
    if (!NT_SUCCESS(status))
        return status;
    status = IoCreateDevice(driver, 0, &name, FILE_DEVICE_UNKNOWN, 0, FALSE, &second);
    IoDeleteDevice(created);
    return status == STATUS_OBJECT_NAME_COLLISION ? STATUS_UNSUCCESSFUL : status;
}

static NTSTATUS create_device_name_twice(void)
{
    PDRIVER_OBJECT driver = NULL;

    return wdmsim_driver_load("badinput", entry_creating_twice, &driver);
}

static NTSTATUS symbolic_link_to_itself(void)
{
    UNICODE_STRING link = RTL_CONSTANT_STRING(L"\\DosDevices\\BadInputLink");
    NTSTATUS status = IoCreateSymbolicLink(&link, &device_name);

    if (NT_SUCCESS(status))
        status = IoCreateSymbolicLink(&link, &device_name);
    IoDeleteSymbolicLink(&link);
    return status;
}

static void symbolic_link_with_NULL_name(void *context)
{
    (void)context;
    IoCreateSymbolicLink(null, &device_name);
}

static NTSTATUS NTAPI entry_queueing_without_routine(PDRIVER_OBJECT driver, PUNICODE_STRING registry_path)
{
    PDEVICE_OBJECT device;
    NTSTATUS status = IoCreateDevice(driver, 0, NULL, FILE_DEVICE_UNKNOWN, 0, FALSE, &device);

    (void)registry_path;
    if (NT_SUCCESS(status))
        IoQueueWorkItem(IoAllocateWorkItem(device), null, DelayedWorkQueue, NULL);
    return status;
}

static void queue_work_item_without_routine(void *context)
{
    PDRIVER_OBJECT driver;

    (void)context;
    wdmsim_driver_load("badinput", entry_queueing_without_routine, &driver);
}

static void allocate_work_item_for_NULL_device(void *context)
{
    (void)context;
    IoAllocateWorkItem(null);
}

/* ---- Calls before boot and after shutdown ---- */

static NTSTATUS a_DDI_after_shutdown_boots_a_fresh_kernel(void)
{
    LARGE_INTEGER now;
    KEVENT event;

    wdmsim_shutdown();
    KeQuerySystemTime(&now);
    KeInitializeEvent(&event, NotificationEvent, FALSE);
    KeSetEvent(&event, IO_NO_INCREMENT, FALSE);
    return KeReadStateEvent(&event) == 1 ? STATUS_SUCCESS : STATUS_UNSUCCESSFUL;
}

/* ---- The DebugPrint API ---- */

static void debugprint_NULL_format(void *context)
{
    (void)context;
    DebugPrintInit("BadInput");
    DebugPrint(null);
}

static void debugprint_msg_NULL(void *context)
{
    (void)context;
    DebugPrintInit("BadInput");
    DebugPrintMsg(null);
}

static NTSTATUS debugprint_before_init_is_ignored(void)
{
    DEBUGPRINT_STATISTICS statistics;

    DebugPrintMsg("before DebugPrintInit");
    DebugPrintGetStatistics(&statistics);
    return statistics.Ignored == 1 && statistics.Produced == 0 ? STATUS_SUCCESS : STATUS_UNSUCCESSFUL;
}

static NTSTATUS debugprint_close_twice_is_harmless(void)
{
    DebugPrintInit("BadInput");
    DebugPrintClose();
    DebugPrintClose();
    return STATUS_SUCCESS;
}

static void debugprint_init_NULL_name(void *context)
{
    (void)context;
    DebugPrintInit(null);
}

/* ---- The table ---- */

#define STOPS(fn, code, param1, rule, names) { #fn, fn, code, param1, rule, names, NULL, 0 }
#define RETURNS(fn, status) { #fn, NULL, 0, 0, NULL, NULL, fn, status }
#define NULL_ARGUMENT(fn, names) STOPS(fn, 0x1E, ACCESS_VIOLATION, "ddi.null_argument", names)

static const struct bad_input battery[] = {
    NULL_ARGUMENT(acquire_NULL_spin_lock, "KeAcquireSpinLockRaiseToDpc: SpinLock"),
    STOPS(acquire_spin_lock_NULL_OldIrql, 0xD1, 0, "crash.page_fault_at_dispatch", "SIGSEGV"),
    STOPS(acquire_at_dpc_level_NULL_at_dispatch, 0xD1, 0, "ddi.null_argument_at_dispatch",
          "KeAcquireSpinLockAtDpcLevel: SpinLock"),
    STOPS(release_unheld_spin_lock, 0x10, WDMSIM_ANY_PARAM, "spinlock.release_not_owner", "KeReleaseSpinLock"),
    STOPS(acquire_spin_lock_twice, 0x0F, WDMSIM_ANY_PARAM, "spinlock.recursive_acquire", "KeAcquireSpinLock"),
    STOPS(acquire_spin_lock_above_dispatch, 0xC4, 0x42, "spinlock.acquire_above_dispatch", "KeAcquireSpinLock"),

    NULL_ARGUMENT(interlocked_insert_NULL_lock, "ExInterlockedInsertHeadList: Lock"),
    NULL_ARGUMENT(interlocked_remove_NULL_head, "ExInterlockedRemoveHeadList: ListHead"),
    STOPS(insert_into_zeroed_head, 0x1E, ACCESS_VIOLATION, "crash.access_violation", "SIGSEGV"),
    STOPS(remove_from_zeroed_head, 0x1E, ACCESS_VIOLATION, "crash.access_violation", "SIGSEGV"),
    NULL_ARGUMENT(interlocked_insert_into_zeroed_head, "InitializeListHead"),
    NULL_ARGUMENT(push_onto_NULL_slist, "ExpInterlockedPushEntrySList: ListHead"),
    NULL_ARGUMENT(push_NULL_entry_list, "ExInterlockedPushEntryList: ListEntry"),
    STOPS(remove_entry_twice, 0x139, 3, "list.corrupt_links", "RemoveEntryList"),

    NULL_ARGUMENT(wait_for_NULL_object, "KeWaitForSingleObject: Object"),
    NULL_ARGUMENT(wait_for_NULL_object_array, "KeWaitForMultipleObjects: Object"),
    STOPS(wait_for_too_many_objects, 0xC, WDMSIM_ANY_PARAM, "wait.too_many_objects", "KeWaitForMultipleObjects"),
    NULL_ARGUMENT(set_NULL_event, "KeSetEvent: Event"),
    NULL_ARGUMENT(initialize_NULL_event, "KeInitializeEvent: Event"),
    STOPS(set_uninitialized_event, 0xC4, WDMSIM_ANY_PARAM, "dispatcher.uninitialized_object", "KeSetEvent"),
    STOPS(wait_forever_at_dispatch, 0xC4, 0x121, "wait.at_dispatch_forever", "KeWaitForSingleObject"),
    STOPS(release_unowned_mutex, 0x1E, 0xC0000046LL, "mutex.release_not_owner", "KeReleaseMutex"),
    STOPS(release_semaphore_past_limit, 0x1E, 0xC0000047LL, "semaphore.limit_exceeded", "KeReleaseSemaphore"),
    NULL_ARGUMENT(delay_with_NULL_interval, "KeDelayExecutionThread: Interval"),
    NULL_ARGUMENT(acquire_NULL_fast_mutex, "ExAcquireFastMutex: FastMutex"),
    NULL_ARGUMENT(acquire_NULL_guarded_mutex, "KeAcquireGuardedMutex: Mutex"),
    NULL_ARGUMENT(query_time_into_NULL, "KeQuerySystemTime: CurrentTime"),

    STOPS(queue_dpc_without_routine, 0xD1, 0, "ddi.null_argument_at_dispatch", "DeferredRoutine"),
    NULL_ARGUMENT(initialize_NULL_dpc, "KeInitializeDpc: Dpc"),
    NULL_ARGUMENT(set_NULL_timer, "KeSetTimer: Timer"),
    STOPS(set_timer_with_dpc_without_routine, 0xD1, 0, "ddi.null_argument_at_dispatch", "DeferredRoutine"),

    STOPS(allocate_zero_bytes, 0xC2, 0, "pool.zero_size", "ExAllocatePoolWithTag"),
    STOPS(allocate_with_zero_tag, 0xC2, 0x9B, "pool.zero_tag", "ExAllocatePoolWithTag"),
    STOPS(free_twice, 0xC2, 7, "pool.double_free", "ExFreePoolWithTag"),
    STOPS(free_with_wrong_tag, 0xC2, 0xA, "pool.free_tag_mismatch", "ExFreePoolWithTag"),
    STOPS(free_NULL, 0xC2, WDMSIM_ANY_PARAM, "pool.free_bad_address", "ExFreePool"),
    STOPS(free_stack_memory, 0xC2, WDMSIM_ANY_PARAM, "pool.free_bad_address", "ExFreePool"),
    STOPS(allocate_paged_at_dispatch, 0xC2, 8, "pool.paged_alloc_above_apc", "ExAllocatePoolWithTag"),
    RETURNS(allocate_huge, STATUS_INSUFFICIENT_RESOURCES),

    RETURNS(close_garbage_kernel_handle, STATUS_INVALID_HANDLE),
    RETURNS(close_handle_twice, STATUS_INVALID_HANDLE),
    NULL_ARGUMENT(reference_by_handle_into_NULL, "ObReferenceObjectByHandle: Object"),
    RETURNS(reference_closed_handle, STATUS_INVALID_HANDLE),
    RETURNS(reference_with_wrong_type, STATUS_OBJECT_TYPE_MISMATCH),
    RETURNS(reference_user_handle_from_user_mode, STATUS_INVALID_HANDLE),
    STOPS(dereference_NULL, 0xC4, WDMSIM_ANY_PARAM, "ob.not_an_object", "ObDereferenceObject"),
    STOPS(dereference_address_of_pointer, 0xC4, WDMSIM_ANY_PARAM, "ob.not_an_object", "ObDereferenceObject"),
    RETURNS(wait_for_garbage_handle, STATUS_INVALID_HANDLE),
    NULL_ARGUMENT(attach_with_NULL_apc_state, "KeStackAttachProcess: ApcState"),

    NULL_ARGUMENT(create_thread_into_NULL_handle, "PsCreateSystemThread: ThreadHandle"),
    STOPS(create_thread_without_routine, 0x7E, ACCESS_VIOLATION, "ddi.null_argument",
          "PsCreateSystemThread: StartRoutine"),
    STOPS(create_thread_at_dispatch, 0xC4, WDMSIM_ANY_PARAM, "ps.not_passive", "PsCreateSystemThread"),

    NULL_ARGUMENT(compare_string_with_NULL_buffer, "RtlEqualUnicodeString: String2->Buffer"),
    NULL_ARGUMENT(init_NULL_string, "RtlInitUnicodeString: DestinationString"),
    NULL_ARGUMENT(copy_into_NULL_string, "RtlCopyUnicodeString: DestinationString"),
    RETURNS(empty_string_with_NULL_buffer_compares_equal, STATUS_SUCCESS),

    NULL_ARGUMENT(create_file_into_NULL_handle, "ZwCreateFile: FileHandle"),
    NULL_ARGUMENT(create_file_without_io_status_block, "ZwCreateFile: IoStatusBlock"),
    NULL_ARGUMENT(create_file_without_attributes, "ZwCreateFile: ObjectAttributes"),
    RETURNS(application_create_file_without_io_status_block, STATUS_ACCESS_VIOLATION),
    RETURNS(create_file_of_missing_name, STATUS_OBJECT_NAME_NOT_FOUND),
    RETURNS(create_file_of_relative_name_without_root, STATUS_OBJECT_PATH_SYNTAX_BAD),
    RETURNS(create_file_of_odd_length_name, STATUS_OBJECT_NAME_INVALID),
    RETURNS(create_file_of_name_longer_than_its_maximum, STATUS_OBJECT_NAME_INVALID),
    RETURNS(create_file_with_wrong_attributes_length, STATUS_INVALID_PARAMETER),
    RETURNS(create_file_with_no_name, STATUS_OBJECT_PATH_SYNTAX_BAD),
    RETURNS(write_to_closed_handle, STATUS_INVALID_HANDLE),
    RETURNS(write_to_an_event_handle, STATUS_OBJECT_TYPE_MISMATCH),
    NULL_ARGUMENT(read_without_io_status_block, "ZwReadFile: IoStatusBlock"),
    STOPS(create_file_at_dispatch, 0xC4, WDMSIM_ANY_PARAM, "zw.file_not_passive", "ZwCreateFile"),

    STOPS(raise_to_lower, 0xC4, 0x30, "irql.raise_to_lower", "KeRaiseIrql"),
    STOPS(lower_to_higher, 0xC4, 0x31, "irql.lower_to_higher", "KeLowerIrql"),
    STOPS(raise_into_NULL_old_irql, 0xD1, 0, "crash.page_fault_at_dispatch", "SIGSEGV"),

    NULL_ARGUMENT(complete_NULL_irp, "IofCompleteRequest: Irp"),
    STOPS(complete_something_not_an_irp, 0xC9, 3, "io.not_an_irp", "IoCompleteRequest"),
    NULL_ARGUMENT(call_with_NULL_irp, "IofCallDriver: Irp"),
    STOPS(delete_something_not_a_device, 0xC9, 4, "io.not_a_device", "IoDeleteDevice"),
    STOPS(create_device_into_NULL, 0x7E, ACCESS_VIOLATION, "ddi.null_argument", "IoCreateDevice: DeviceObject"),
    RETURNS(create_device_name_twice, STATUS_UNSUCCESSFUL),
    NULL_ARGUMENT(symbolic_link_with_NULL_name, "IoCreateSymbolicLink: SymbolicLinkName"),
    STOPS(queue_work_item_without_routine, 0x7E, ACCESS_VIOLATION, "ddi.null_argument",
          "IoQueueWorkItem: WorkerRoutine"),
    NULL_ARGUMENT(allocate_work_item_for_NULL_device, "IoAllocateWorkItem: DeviceObject"),
    RETURNS(symbolic_link_to_itself, STATUS_OBJECT_NAME_COLLISION),

    RETURNS(a_DDI_after_shutdown_boots_a_fresh_kernel, STATUS_SUCCESS),

    STOPS(debugprint_NULL_format, 0x1E, ACCESS_VIOLATION, "crash.access_violation", "DebugSprintf"),
    STOPS(debugprint_msg_NULL, 0xD1, 0, "crash.page_fault_at_dispatch", "DebugPrintMsg"),
    STOPS(debugprint_init_NULL_name, 0x1E, ACCESS_VIOLATION, "crash.access_violation", "DebugPrintInit"),
    RETURNS(debugprint_before_init_is_ignored, STATUS_SUCCESS),
    RETURNS(debugprint_close_twice_is_harmless, STATUS_SUCCESS),
};

#define BATTERY_SIZE (sizeof battery / sizeof battery[0])

static void run_bad_input(void **state)
{
    const struct bad_input *row = *state;
    struct wdmsim_stop stop;

    if (row->returns != NULL) {
        assert_int_equal(row->returns(), row->status);
        return;
    }
    wdmsim_assert_stops(row->stops, NULL, row->code, row->param1, row->rule, &stop);
    wdmsim_assert_report_has(&stop, row->names);
}

static int boot_for_row(void **state)
{
    void *row = *state;

    wdmsim_test_boot(state);
    *state = row;
    return 0;
}

int main(void)
{
    struct CMUnitTest cases[BATTERY_SIZE];

    for (size_t i = 0; i < BATTERY_SIZE; i++)
        cases[i] = (struct CMUnitTest){ battery[i].name, run_bad_input, boot_for_row, wdmsim_test_shutdown,
                                        (void *)&battery[i] };
    return cmocka_run_group_tests_name("bad input", cases, NULL, NULL);
}
