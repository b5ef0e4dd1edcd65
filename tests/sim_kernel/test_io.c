/*
 * test_io.c - the I/O core as drivers see it, driven through the Zw calls: IRPs pended and
 * completed from another thread, cancelled with IoCancelIrp or by closing the handle (Cleanup), a
 * filter stacked over a function driver with completion routines (pending propagated, and the
 * forward-and-wait pattern with STATUS_MORE_PROCESSING_REQUIRED), and the stops Driver Verifier
 * raises when a dispatch routine breaks the rules. The function driver "queue" serves one pending
 * read at a time, completed by the next write, cancel-safe as DebugPrint's driver is.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <ntifs.h>

#include <wdmsim/test.h>
#include "wdmsim_test_threads.h"

#define QUEUE_DEVICE L"\\Device\\WdmsimQueue"
#define QUEUE_TAG 'ueuQ'
#define QUEUE_IOCTL(n) CTL_CODE(FILE_DEVICE_UNKNOWN, 0x800 + (n), METHOD_BUFFERED, FILE_ANY_ACCESS)
#define IOCTL_QUEUE_VALUE QUEUE_IOCTL(0)          /* answers QUEUE_VALUE in a ULONG */
#define IOCTL_QUEUE_ALLOCATE QUEUE_IOCTL(1)       /* keeps one pool block until IOCTL_QUEUE_FREE */
#define IOCTL_QUEUE_FREE QUEUE_IOCTL(2)
#define IOCTL_QUEUE_COMPLETE_TWICE QUEUE_IOCTL(3)
#define IOCTL_QUEUE_PENDING_UNMARKED QUEUE_IOCTL(4)
#define IOCTL_QUEUE_RAISE_IRQL QUEUE_IOCTL(5)
#define IOCTL_QUEUE_HOLD_SPIN_LOCK QUEUE_IOCTL(6)
#define IOCTL_QUEUE_CANCEL_ROUTINE_SET QUEUE_IOCTL(7)
#define IOCTL_QUEUE_FORGET QUEUE_IOCTL(8)
#define IOCTL_QUEUE_PEND_COMPLETED QUEUE_IOCTL(9) /* marks pending, completes, returns STATUS_PENDING */
#define IOCTL_QUEUE_STAY_IN_CRITICAL_REGION QUEUE_IOCTL(10)
#define IOCTL_QUEUE_WAIT QUEUE_IOCTL(11)          /* waits on a set event with queue.wait_timeout */
#define QUEUE_VALUE 0x1234u

/* ---- The function driver ---- */

static struct {
    PDEVICE_OBJECT device;
    KSPIN_LOCK lock;                /* guards pending and data */
    PIRP pending;                   /* the one pending read */
    UCHAR data[16];
    ULONG data_length;
    PVOID block;
    PKTHREAD ioctl_thread;
    KIRQL ioctl_irql;
    LONG cancels;                   /* reads the cancel routine completed */
    LONG cleanups;
    LONG cleanups_running;          /* inside queue_cleanup now */
    LONG closes_inside_cleanup;     /* an IRP_MJ_CLOSE that came while a cleanup ran */
    LONG closes;
    PLARGE_INTEGER wait_timeout;    /* IOCTL_QUEUE_WAIT's (NULL: for ever) */
} queue;

static NTSTATUS queue_complete(PIRP irp, NTSTATUS status, ULONG_PTR information)
{
    irp->IoStatus.Status = status;
    irp->IoStatus.Information = information;
    IoCompleteRequest(irp, IO_NO_INCREMENT);
    return status;
}

static VOID NTAPI queue_cancel(PDEVICE_OBJECT device, PIRP irp)
{
    KIRQL old;

    (void)device;
    IoReleaseCancelSpinLock(irp->CancelIrql);
    KeAcquireSpinLock(&queue.lock, &old);
    if (queue.pending == irp)
        queue.pending = NULL;
    KeReleaseSpinLock(&queue.lock, old);
    InterlockedIncrement(&queue.cancels);
    queue_complete(irp, STATUS_CANCELLED, 0);
}

/* Lock held: the pending read, if no cancel routine claimed it first (and only for file, if given). */
static PIRP queue_claim_pending(PFILE_OBJECT file)
{
    PIRP irp = queue.pending;

    if (irp == NULL || (file != NULL && IoGetCurrentIrpStackLocation(irp)->FileObject != file))
        return NULL;
    if (IoSetCancelRoutine(irp, NULL) == NULL)
        return NULL;
    queue.pending = NULL;
    return irp;
}

static ULONG queue_fill(PIRP irp)
{
    ULONG room = IoGetCurrentIrpStackLocation(irp)->Parameters.Read.Length;
    ULONG count = queue.data_length < room ? queue.data_length : room;

    RtlCopyMemory(irp->AssociatedIrp.SystemBuffer, queue.data, count);
    queue.data_length = 0;
    return count;
}

static NTSTATUS NTAPI queue_read(PDEVICE_OBJECT device, PIRP irp)
{
    ULONG count;
    KIRQL old;

    (void)device;
    KeAcquireSpinLock(&queue.lock, &old);
    if (queue.data_length != 0) {
        count = queue_fill(irp);
        KeReleaseSpinLock(&queue.lock, old);
        return queue_complete(irp, STATUS_SUCCESS, count);
    }
    if (queue.pending != NULL) {
        KeReleaseSpinLock(&queue.lock, old);
        return queue_complete(irp, STATUS_DEVICE_BUSY, 0);
    }
    IoSetCancelRoutine(irp, queue_cancel);
    if (irp->Cancel && IoSetCancelRoutine(irp, NULL) != NULL) {
        KeReleaseSpinLock(&queue.lock, old);
        return queue_complete(irp, STATUS_CANCELLED, 0);
    }
    IoMarkIrpPending(irp);
    queue.pending = irp;
    KeReleaseSpinLock(&queue.lock, old);
    return STATUS_PENDING;
}

static NTSTATUS NTAPI queue_write(PDEVICE_OBJECT device, PIRP irp)
{
    ULONG length = IoGetCurrentIrpStackLocation(irp)->Parameters.Write.Length;
    PIRP reader;
    ULONG count = 0;
    KIRQL old;

    (void)device;
    KeAcquireSpinLock(&queue.lock, &old);
    queue.data_length = length < sizeof queue.data ? length : sizeof queue.data;
    RtlCopyMemory(queue.data, irp->AssociatedIrp.SystemBuffer, queue.data_length);
    reader = queue_claim_pending(NULL);
    if (reader != NULL)
        count = queue_fill(reader);
    KeReleaseSpinLock(&queue.lock, old);
    if (reader != NULL)
        queue_complete(reader, STATUS_SUCCESS, count);
    return queue_complete(irp, STATUS_SUCCESS, length);
}

static NTSTATUS NTAPI queue_cleanup(PDEVICE_OBJECT device, PIRP irp)
{
    PIRP reader;
    KIRQL old;

    (void)device;
    InterlockedIncrement(&queue.cleanups);
    InterlockedIncrement(&queue.cleanups_running);
    KeAcquireSpinLock(&queue.lock, &old);
    reader = queue_claim_pending(IoGetCurrentIrpStackLocation(irp)->FileObject);
    KeReleaseSpinLock(&queue.lock, old);
    if (reader != NULL)
        queue_complete(reader, STATUS_CANCELLED, 0);
    InterlockedDecrement(&queue.cleanups_running);
    return queue_complete(irp, STATUS_SUCCESS, 0);
}

static NTSTATUS NTAPI queue_create_close(PDEVICE_OBJECT device, PIRP irp)
{
    (void)device;
    if (IoGetCurrentIrpStackLocation(irp)->MajorFunction == IRP_MJ_CLOSE) {
        InterlockedIncrement(&queue.closes);
        if (queue.cleanups_running != 0)
            InterlockedIncrement(&queue.closes_inside_cleanup);
    }
    return queue_complete(irp, STATUS_SUCCESS, 0);
}

/* The well-behaved IOCTLs. */
static NTSTATUS queue_ioctl_good(PIRP irp, ULONG code)
{
    switch (code) {
    case IOCTL_QUEUE_VALUE:
        *(PULONG)irp->AssociatedIrp.SystemBuffer = QUEUE_VALUE;
        return queue_complete(irp, STATUS_SUCCESS, sizeof(ULONG));
    case IOCTL_QUEUE_ALLOCATE:
        queue.block = ExAllocatePoolWithTag(NonPagedPoolNx, 32, QUEUE_TAG);
        return queue_complete(irp, queue.block ? STATUS_SUCCESS : STATUS_INSUFFICIENT_RESOURCES, 0);
    case IOCTL_QUEUE_FREE:
        ExFreePoolWithTag(queue.block, QUEUE_TAG);
        return queue_complete(irp, STATUS_SUCCESS, 0);
    case IOCTL_QUEUE_WAIT: {
        KEVENT set;

        KeInitializeEvent(&set, NotificationEvent, TRUE);
        return queue_complete(irp, KeWaitForSingleObject(&set, Executive, KernelMode, FALSE, queue.wait_timeout), 0);
    }
    case IOCTL_QUEUE_PEND_COMPLETED:
        IoMarkIrpPending(irp);
        *(PULONG)irp->AssociatedIrp.SystemBuffer = QUEUE_VALUE;
        queue_complete(irp, STATUS_SUCCESS, sizeof(ULONG));
        return STATUS_PENDING;
    default:
        return queue_complete(irp, STATUS_INVALID_DEVICE_REQUEST, 0);
    }
}

/* The broken ones: each breaks one rule of dispatch routines. */
static NTSTATUS NTAPI queue_ioctl(PDEVICE_OBJECT device, PIRP irp)
{
    ULONG code = IoGetCurrentIrpStackLocation(irp)->Parameters.DeviceIoControl.IoControlCode;
    KIRQL old;

    (void)device;
    queue.ioctl_thread = KeGetCurrentThread();
    queue.ioctl_irql = KeGetCurrentIrql();
    switch (code) {
    case IOCTL_QUEUE_COMPLETE_TWICE:
        queue_complete(irp, STATUS_SUCCESS, 0);
        return queue_complete(irp, STATUS_SUCCESS, 0);
    case IOCTL_QUEUE_PENDING_UNMARKED:
        return STATUS_PENDING;
    case IOCTL_QUEUE_RAISE_IRQL:
        KeRaiseIrql(DISPATCH_LEVEL, &old);
        return queue_complete(irp, STATUS_SUCCESS, 0);
    case IOCTL_QUEUE_HOLD_SPIN_LOCK:
        KeAcquireSpinLock(&queue.lock, &old);
        return queue_complete(irp, STATUS_SUCCESS, 0);
    case IOCTL_QUEUE_STAY_IN_CRITICAL_REGION:
        KeEnterCriticalRegion();
        return queue_complete(irp, STATUS_SUCCESS, 0);
    case IOCTL_QUEUE_CANCEL_ROUTINE_SET:
        IoSetCancelRoutine(irp, queue_cancel);
        return queue_complete(irp, STATUS_SUCCESS, 0);
    case IOCTL_QUEUE_FORGET:
        return STATUS_SUCCESS;
    default:
        return queue_ioctl_good(irp, code);
    }
}

static VOID NTAPI queue_unload(PDRIVER_OBJECT driver)
{
    IoDeleteDevice(driver->DeviceObject);
}

static NTSTATUS NTAPI queue_entry(PDRIVER_OBJECT driver, PUNICODE_STRING registry_path)
{
    UNICODE_STRING name;
    NTSTATUS status;

    (void)registry_path;
    driver->MajorFunction[IRP_MJ_CREATE] = queue_create_close;
    driver->MajorFunction[IRP_MJ_CLOSE] = queue_create_close;
    driver->MajorFunction[IRP_MJ_CLEANUP] = queue_cleanup;
    driver->MajorFunction[IRP_MJ_READ] = queue_read;
    driver->MajorFunction[IRP_MJ_WRITE] = queue_write;
    driver->MajorFunction[IRP_MJ_DEVICE_CONTROL] = queue_ioctl;
    driver->DriverUnload = queue_unload;
    KeInitializeSpinLock(&queue.lock);
    RtlInitUnicodeString(&name, QUEUE_DEVICE);
    status = IoCreateDevice(driver, 0, &name, FILE_DEVICE_UNKNOWN, 0, FALSE, &queue.device);
    if (!NT_SUCCESS(status))
        return status;
    queue.device->Flags |= DO_BUFFERED_IO;
    queue.device->Flags &= ~DO_DEVICE_INITIALIZING;
    return STATUS_SUCCESS;
}

/* ---- The filter driver above it ---- */

static struct {
    PDEVICE_OBJECT device;
    PDEVICE_OBJECT lower;
    bool event_in_context;          /* its forward-and-wait's context is a structure holding the event */
    NTSTATUS seen_status;           /* what its completion routine saw of the lower driver's result */
    ULONG_PTR seen_information;
    BOOLEAN seen_pending_returned;
    LONG completions;
} filter;

static NTSTATUS NTAPI filter_pass(PDEVICE_OBJECT device, PIRP irp)
{
    (void)device;
    IoSkipCurrentIrpStackLocation(irp);
    return IoCallDriver(filter.lower, irp);
}

static void filter_saw(PIRP irp)
{
    filter.seen_status = irp->IoStatus.Status;
    filter.seen_information = irp->IoStatus.Information;
    filter.seen_pending_returned = irp->PendingReturned;
    InterlockedIncrement(&filter.completions);
}

/* A pass-through completion routine: it carries the pending mark up, as every one must. */
static NTSTATUS NTAPI filter_read_done(PDEVICE_OBJECT device, PIRP irp, PVOID context)
{
    (void)device;
    (void)context;
    filter_saw(irp);
    if (irp->PendingReturned)
        IoMarkIrpPending(irp);
    return STATUS_SUCCESS;
}

static NTSTATUS NTAPI filter_read(PDEVICE_OBJECT device, PIRP irp)
{
    (void)device;
    IoCopyCurrentIrpStackLocationToNext(irp);
    IoSetCompletionRoutine(irp, filter_read_done, NULL, TRUE, TRUE, TRUE);
    return IoCallDriver(filter.lower, irp);
}

/* Forward and wait: stop the completion here, finish the IRP in the dispatch routine. The context
 * is the event, or (filter.event_in_context) a structure that holds it. */
struct forward_context {
    PIRP irp;
    KEVENT done;
};

static NTSTATUS NTAPI filter_ioctl_done(PDEVICE_OBJECT device, PIRP irp, PVOID context)
{
    (void)device;
    filter_saw(irp);
    KeSetEvent(filter.event_in_context ? &((struct forward_context *)context)->done : context, IO_NO_INCREMENT, FALSE);
    return STATUS_MORE_PROCESSING_REQUIRED;
}

static NTSTATUS NTAPI filter_ioctl(PDEVICE_OBJECT device, PIRP irp)
{
    struct forward_context forward = { .irp = irp };
    NTSTATUS status;

    (void)device;
    KeInitializeEvent(&forward.done, NotificationEvent, FALSE);
    IoCopyCurrentIrpStackLocationToNext(irp);
    IoSetCompletionRoutine(irp, filter_ioctl_done, filter.event_in_context ? (PVOID)&forward : &forward.done, TRUE,
                           TRUE, TRUE);
    if (IoCallDriver(filter.lower, irp) == STATUS_PENDING)
        KeWaitForSingleObject(&forward.done, Executive, KernelMode, FALSE, NULL);
    status = irp->IoStatus.Status;
    if (NT_SUCCESS(status))
        (*(PULONG)irp->AssociatedIrp.SystemBuffer)++;
    IoCompleteRequest(irp, IO_NO_INCREMENT);
    return status;
}

static VOID NTAPI filter_unload(PDRIVER_OBJECT driver)
{
    IoDetachDevice(filter.lower);
    IoDeleteDevice(driver->DeviceObject);
}

static NTSTATUS NTAPI filter_entry(PDRIVER_OBJECT driver, PUNICODE_STRING registry_path)
{
    NTSTATUS status;

    (void)registry_path;
    for (int i = 0; i <= IRP_MJ_MAXIMUM_FUNCTION; i++)
        driver->MajorFunction[i] = filter_pass;
    driver->MajorFunction[IRP_MJ_READ] = filter_read;
    driver->MajorFunction[IRP_MJ_DEVICE_CONTROL] = filter_ioctl;
    driver->DriverUnload = filter_unload;
    status = IoCreateDevice(driver, 0, NULL, FILE_DEVICE_UNKNOWN, 0, FALSE, &filter.device);
    if (!NT_SUCCESS(status))
        return status;
    filter.lower = IoAttachDeviceToDeviceStack(filter.device, queue.device);
    filter.device->Flags |= filter.lower->Flags & (DO_BUFFERED_IO | DO_DIRECT_IO);
    filter.device->Flags &= ~DO_DEVICE_INITIALIZING;
    return STATUS_SUCCESS;
}

/* ---- Helpers ---- */

static int setup(void **state)
{
    memset(&queue, 0, sizeof queue);
    memset(&filter, 0, sizeof filter);
    return wdmsim_test_boot(state);
}

#define io_test(fn) cmocka_unit_test_setup_teardown(fn, setup, wdmsim_test_shutdown)

static PDRIVER_OBJECT load(const char *name, PDRIVER_INITIALIZE entry)
{
    PDRIVER_OBJECT driver = NULL;

    assert_int_equal(wdmsim_driver_load(name, entry, &driver), STATUS_SUCCESS);
    return driver;
}

/* options 0: an asynchronous file (overlapped I/O); FILE_SYNCHRONOUS_IO_NONALERT: a synchronous one. */
static NTSTATUS open_queue_with(PHANDLE handle, ULONG options)
{
    UNICODE_STRING name;
    OBJECT_ATTRIBUTES attributes;
    IO_STATUS_BLOCK iosb;

    RtlInitUnicodeString(&name, QUEUE_DEVICE);
    InitializeObjectAttributes(&attributes, &name, OBJ_CASE_INSENSITIVE | OBJ_KERNEL_HANDLE, NULL, NULL);
    return ZwCreateFile(handle, GENERIC_READ | GENERIC_WRITE | SYNCHRONIZE, &attributes, &iosb, NULL,
                        FILE_ATTRIBUTE_NORMAL, FILE_SHARE_READ | FILE_SHARE_WRITE, FILE_OPEN, options, NULL, 0);
}

static NTSTATUS open_queue(PHANDLE handle)
{
    return open_queue_with(handle, 0);
}

static HANDLE open_ok(void)
{
    HANDLE handle = NULL;

    assert_int_equal(open_queue(&handle), STATUS_SUCCESS);
    return handle;
}

static NTSTATUS ioctl(HANDLE handle, ULONG code, PVOID output, ULONG output_length, PIO_STATUS_BLOCK iosb)
{
    return ZwDeviceIoControlFile(handle, NULL, NULL, NULL, iosb, code, NULL, 0, output, output_length);
}

static void write_text(HANDLE handle, const char *text)
{
    LARGE_INTEGER offset = { .QuadPart = 0 };
    IO_STATUS_BLOCK iosb;

    assert_int_equal(ZwWriteFile(handle, NULL, NULL, NULL, &iosb, (PVOID)text, (ULONG)strlen(text), &offset, NULL),
                     STATUS_SUCCESS);
}

/* A reader on a thread of its own: what its ZwReadFile returned. */
struct reader {
    struct wdmsim_test_thread thread;
    HANDLE handle;
    NTSTATUS status;
    bool pended;                    /* ZwReadFile returned STATUS_PENDING */
    IO_STATUS_BLOCK iosb;
    char buffer[16];
};

/* The handle is asynchronous: a read the driver pends returns STATUS_PENDING, and the reader waits
 * on the file, which the I/O manager signals when the read completes, whoever completes it. */
static void read_once(void *context)
{
    struct reader *r = context;
    LARGE_INTEGER offset = { .QuadPart = 0 };

    r->status = ZwReadFile(r->handle, NULL, NULL, NULL, &r->iosb, r->buffer, sizeof r->buffer - 1, &offset, NULL);
    r->pended = r->status == STATUS_PENDING;
    if (r->pended && ZwWaitForSingleObject(r->handle, FALSE, NULL) == STATUS_SUCCESS)
        r->status = r->iosb.Status;
}

/* Starts the reader and returns once its read is pending in the driver. */
static void start_reader(struct reader *r, HANDLE handle)
{
    memset(r, 0, sizeof *r);
    r->handle = handle;
    r->status = STATUS_UNSUCCESSFUL;
    wdmsim_test_thread_start(&r->thread, read_once, r);
    wdmsim_test_settle();
}

static PIRP pending_read(void)
{
    PIRP irp;
    KIRQL old;

    KeAcquireSpinLock(&queue.lock, &old);
    irp = queue.pending;
    KeReleaseSpinLock(&queue.lock, old);
    return irp;
}

/* ---- Pending and cancel ---- */

/* Overlapped I/O: on an asynchronous file the read returns STATUS_PENDING while the driver holds
 * it; the write that completes it, on another thread, fills the reader's buffer and IO_STATUS_BLOCK
 * and signals the file, which the reader waits on. */
static void a_pending_read_returns_STATUS_PENDING_and_a_later_write_from_another_thread_completes_it(void **state)
{
    PDRIVER_OBJECT driver = load("queue", queue_entry);
    HANDLE handle = open_ok();
    struct reader r;

    (void)state;
    start_reader(&r, handle);
    assert_non_null(pending_read());
    assert_true(r.pended);
    assert_int_equal(r.status, STATUS_PENDING);
    write_text(handle, "late");
    wdmsim_test_thread_join(&r.thread);
    assert_int_equal(r.status, STATUS_SUCCESS);
    assert_int_equal(r.iosb.Information, 4);
    assert_string_equal(r.buffer, "late");
    assert_null(pending_read());
    assert_int_equal(ZwClose(handle), STATUS_SUCCESS);
    wdmsim_driver_unload(driver);
}

static void IoCancelIrp_on_a_pending_read_runs_its_cancel_routine_and_the_read_returns_STATUS_CANCELLED(void **state)
{
    PDRIVER_OBJECT driver = load("queue", queue_entry);
    HANDLE handle = open_ok();
    struct reader r;
    PIRP irp;

    (void)state;
    start_reader(&r, handle);
    irp = pending_read();
    assert_non_null(irp);
    assert_true(IoCancelIrp(irp));
    wdmsim_test_thread_join(&r.thread);
    assert_int_equal(r.status, STATUS_CANCELLED);
    assert_int_equal(r.iosb.Status, STATUS_CANCELLED);
    assert_int_equal(queue.cancels, 1);
    assert_int_equal(ZwClose(handle), STATUS_SUCCESS);
    wdmsim_driver_unload(driver);
}

static void closing_the_handle_cancels_its_pending_read_through_IRP_MJ_CLEANUP(void **state)
{
    PDRIVER_OBJECT driver = load("queue", queue_entry);
    HANDLE handle = open_ok();
    struct reader r;

    (void)state;
    start_reader(&r, handle);
    assert_int_equal(ZwClose(handle), STATUS_SUCCESS);
    wdmsim_test_thread_join(&r.thread);
    assert_int_equal(r.status, STATUS_CANCELLED);
    assert_int_equal(queue.cleanups, 1);
    assert_int_equal(queue.cancels, 0);
    /* The reader's reference kept the file until its read returned; then came the close. */
    assert_int_equal(queue.closes, 1);
    wdmsim_driver_unload(driver);
}

/* The caller's own Event is set instead of the file's, and a wait with a timeout on the file
 * leaves the read pending. Nobody waits here: the completion, on the writer's thread, is all. */
static void a_pended_read_with_an_Event_sets_that_event_and_not_the_file_when_it_completes(void **state)
{
    PDRIVER_OBJECT driver = load("queue", queue_entry);
    HANDLE handle = open_ok(), writer = open_ok(), event_handle = NULL;
    LARGE_INTEGER offset = { .QuadPart = 0 }, one_second = { .QuadPart = -10000000LL };
    UNICODE_STRING name;
    IO_STATUS_BLOCK iosb = { .Status = STATUS_UNSUCCESSFUL };
    PFILE_OBJECT file;
    PKEVENT event;
    char buffer[16] = { 0 };

    (void)state;
    RtlInitUnicodeString(&name, L"\\BaseNamedObjects\\QueueReadDone");
    event = IoCreateNotificationEvent(&name, &event_handle);
    assert_non_null(event);
    assert_int_equal(ObReferenceObjectByHandle(handle, 0, NULL, KernelMode, (PVOID *)&file, NULL), STATUS_SUCCESS);
    assert_int_equal(ZwReadFile(handle, event_handle, NULL, NULL, &iosb, buffer, sizeof buffer - 1, &offset, NULL),
                     STATUS_PENDING);
    assert_int_equal(KeReadStateEvent(event), 0);
    assert_int_equal(iosb.Status, STATUS_UNSUCCESSFUL);
    assert_int_equal(ZwWaitForSingleObject(handle, FALSE, &one_second), STATUS_TIMEOUT);
    assert_non_null(pending_read());
    write_text(writer, "evt");
    assert_int_equal(KeReadStateEvent(event), 1);
    assert_int_equal(KeReadStateEvent(&file->Event), 0);
    assert_int_equal(iosb.Status, STATUS_SUCCESS);
    assert_int_equal(iosb.Information, 3);
    assert_string_equal(buffer, "evt");
    ObDereferenceObject(file);
    assert_int_equal(ZwClose(event_handle), STATUS_SUCCESS);
    assert_int_equal(ZwClose(writer), STATUS_SUCCESS);
    assert_int_equal(ZwClose(handle), STATUS_SUCCESS);
    wdmsim_driver_unload(driver);
}

/* Nobody waits: the read's completion, inside the driver's Cleanup, delivers STATUS_CANCELLED to
 * the reader's IO_STATUS_BLOCK; the read's own reference on the file keeps IRP_MJ_CLOSE until the
 * cleanup is over, so the driver never sees CLOSE inside CLEANUP. */
static void closing_the_handle_under_an_overlapped_read_delivers_STATUS_CANCELLED_before_the_close(void **state)
{
    PDRIVER_OBJECT driver = load("queue", queue_entry);
    HANDLE handle = open_ok();
    LARGE_INTEGER offset = { .QuadPart = 0 };
    IO_STATUS_BLOCK iosb = { .Status = STATUS_UNSUCCESSFUL };
    char buffer[8];

    (void)state;
    assert_int_equal(ZwReadFile(handle, NULL, NULL, NULL, &iosb, buffer, sizeof buffer, &offset, NULL),
                     STATUS_PENDING);
    assert_int_equal(ZwClose(handle), STATUS_SUCCESS);
    assert_int_equal(iosb.Status, STATUS_CANCELLED);
    assert_int_equal(queue.cleanups, 1);
    assert_int_equal(queue.closes, 1);
    assert_int_equal(queue.closes_inside_cleanup, 0);
    wdmsim_driver_unload(driver);
}

/* An application thread that starts an overlapped read and ends without waiting for it: as NT's
 * IoCancelThreadIo does, the thread's end cancels the read and waits for its completion, which
 * lands in the caller's status block before the thread is gone. */
struct leaving_reader {
    HANDLE handle;
    NTSTATUS started;
    IO_STATUS_BLOCK iosb;
    char buffer[8];
};

static void read_and_leave(void *context)
{
    struct leaving_reader *r = context;
    LARGE_INTEGER offset = { .QuadPart = 0 };

    if (NT_SUCCESS(open_queue_with(&r->handle, 0)))
        r->started = ZwReadFile(r->handle, NULL, NULL, NULL, &r->iosb, r->buffer, sizeof r->buffer, &offset, NULL);
}

static void a_thread_that_ends_with_an_overlapped_read_pending_has_it_cancelled_and_completed_first(void **state)
{
    PDRIVER_OBJECT driver = load("queue", queue_entry);
    PEPROCESS app = wdmsim_process_create("app.exe");
    struct leaving_reader r = { NULL, STATUS_UNSUCCESSFUL, { .Status = STATUS_UNSUCCESSFUL }, { 0 } };

    (void)state;
    wdmsim_allow_leaks();           /* the reader leaves its handle for the process's end to close */
    wdmsim_process_run(app, read_and_leave, &r);
    assert_int_equal(r.started, STATUS_PENDING);
    assert_int_equal(queue.cancels, 1);
    assert_int_equal(r.iosb.Status, STATUS_CANCELLED);
    assert_null(pending_read());
    wdmsim_process_terminate(app);
    assert_int_equal(queue.closes, 1);
    wdmsim_driver_unload(driver);
}

/* ---- Dispatch context ---- */

static void a_dispatch_routine_runs_in_the_caller_thread_charged_to_its_driver(void **state)
{
    PDRIVER_OBJECT driver = load("queue", queue_entry);
    HANDLE handle = open_ok();
    IO_STATUS_BLOCK iosb;

    (void)state;
    assert_int_equal(ioctl(handle, IOCTL_QUEUE_ALLOCATE, NULL, 0, &iosb), STATUS_SUCCESS);
    assert_ptr_equal(queue.ioctl_thread, KeGetCurrentThread());
    assert_int_equal(queue.ioctl_irql, PASSIVE_LEVEL);
    assert_int_equal(wdmsim_pool_outstanding_by_driver("queue", NULL), 1);
    assert_int_equal(ioctl(handle, IOCTL_QUEUE_FREE, NULL, 0, &iosb), STATUS_SUCCESS);
    assert_int_equal(wdmsim_pool_outstanding_by_driver("queue", NULL), 0);
    assert_int_equal(ZwClose(handle), STATUS_SUCCESS);
    wdmsim_driver_unload(driver);
}

static void a_major_function_without_a_handler_fails_with_STATUS_INVALID_DEVICE_REQUEST(void **state)
{
    PDRIVER_OBJECT driver = load("queue", queue_entry);
    HANDLE handle = open_ok();
    IO_STATUS_BLOCK iosb;
    UCHAR buffer[8];

    (void)state;
    assert_int_equal(ZwQueryInformationFile(handle, &iosb, buffer, sizeof buffer, FileNameInformation),
                     STATUS_INVALID_DEVICE_REQUEST);
    assert_int_equal(iosb.Status, STATUS_INVALID_DEVICE_REQUEST);
    assert_int_equal(ZwClose(handle), STATUS_SUCCESS);
    wdmsim_driver_unload(driver);
}

/* Legal (the IRP was marked first) and common: the caller of a synchronous file must not wait for a
 * completion that has already happened (a wait would be a deadlock, which the virtual clock
 * reports); the caller of an asynchronous one gets STATUS_PENDING, as the dispatch routine said,
 * with everything delivered and the file signalled already. */
static void an_IRP_marked_pending_and_completed_before_its_dispatch_returns_STATUS_PENDING_ends_at_once(
    void **state)
{
    PDRIVER_OBJECT driver = load("queue", queue_entry);
    HANDLE synchronous = NULL, asynchronous = open_ok();
    LARGE_INTEGER no_wait = { .QuadPart = 0 };
    IO_STATUS_BLOCK iosb;
    ULONG value = 0;

    (void)state;
    assert_int_equal(open_queue_with(&synchronous, FILE_SYNCHRONOUS_IO_NONALERT), STATUS_SUCCESS);
    assert_int_equal(ioctl(synchronous, IOCTL_QUEUE_PEND_COMPLETED, &value, sizeof value, &iosb), STATUS_SUCCESS);
    assert_int_equal(value, QUEUE_VALUE);
    assert_int_equal(iosb.Information, sizeof(ULONG));
    value = 0;
    iosb = (IO_STATUS_BLOCK){ .Status = STATUS_UNSUCCESSFUL };
    assert_int_equal(ioctl(asynchronous, IOCTL_QUEUE_PEND_COMPLETED, &value, sizeof value, &iosb), STATUS_PENDING);
    assert_int_equal(iosb.Status, STATUS_SUCCESS);
    assert_int_equal(value, QUEUE_VALUE);
    assert_int_equal(ZwWaitForSingleObject(asynchronous, FALSE, &no_wait), STATUS_SUCCESS);
    assert_int_equal(ZwClose(synchronous), STATUS_SUCCESS);
    assert_int_equal(ZwClose(asynchronous), STATUS_SUCCESS);
    wdmsim_driver_unload(driver);
}

/* ---- A filter over the function driver ---- */

static void a_filter_completion_routine_sees_the_lower_status_and_MORE_PROCESSING_REQUIRED_lets_it_complete_again(
    void **state)
{
    PDRIVER_OBJECT function = load("queue", queue_entry);
    PDRIVER_OBJECT upper = load("filter", filter_entry);
    HANDLE handle = open_ok();
    IO_STATUS_BLOCK iosb;
    ULONG value = 0;

    (void)state;
    assert_int_equal(filter.device->StackSize, 2);
    assert_int_equal(ioctl(handle, IOCTL_QUEUE_VALUE, &value, sizeof value, &iosb), STATUS_SUCCESS);
    assert_int_equal(filter.seen_status, STATUS_SUCCESS);
    assert_int_equal(filter.seen_information, sizeof(ULONG));
    assert_int_equal(value, QUEUE_VALUE + 1);
    assert_int_equal(iosb.Information, sizeof(ULONG));
    assert_int_equal(ioctl(handle, QUEUE_IOCTL(0x40), &value, sizeof value, &iosb), STATUS_INVALID_DEVICE_REQUEST);
    assert_int_equal(filter.seen_status, STATUS_INVALID_DEVICE_REQUEST);
    assert_int_equal(filter.completions, 2);
    assert_int_equal(ZwClose(handle), STATUS_SUCCESS);
    wdmsim_driver_unload(upper);
    wdmsim_driver_unload(function);
}

static void a_filter_may_return_the_lower_STATUS_PENDING_when_its_completion_routine_marks_the_IRP(void **state)
{
    PDRIVER_OBJECT function = load("queue", queue_entry);
    PDRIVER_OBJECT upper = load("filter", filter_entry);
    HANDLE handle = open_ok();
    struct reader r;

    (void)state;
    start_reader(&r, handle);
    assert_int_equal(filter.completions, 0);
    write_text(handle, "through");
    wdmsim_test_thread_join(&r.thread);
    assert_int_equal(r.status, STATUS_SUCCESS);
    assert_string_equal(r.buffer, "through");
    assert_int_equal(filter.completions, 1);
    assert_true(filter.seen_pending_returned);
    assert_int_equal(filter.seen_information, 7);
    assert_int_equal(ZwClose(handle), STATUS_SUCCESS);
    wdmsim_driver_unload(upper);
    wdmsim_driver_unload(function);
}

/* ---- The seed's guideline: no waiting with a timeout in a dispatch routine (a warning) ---- */

static void send_wait_ioctl(void *timeout)
{
    PDRIVER_OBJECT driver = NULL;
    HANDLE handle = NULL;
    IO_STATUS_BLOCK iosb;

    queue.wait_timeout = timeout;
    wdmsim_driver_load("queue", queue_entry, &driver);
    open_queue(&handle);
    ioctl(handle, IOCTL_QUEUE_WAIT, NULL, 0, &iosb);
    ZwClose(handle);
    wdmsim_driver_unload(driver);
}

static void a_dispatch_routine_waiting_for_ever_gets_a_warning_line_and_goes_on(void **state)
{
    char output[4096] = "";
    FILE *out = tmpfile();
    struct wdmsim_stop result;

    (void)state;
    assert_non_null(out);
    wdmsim_run_isolated(send_wait_ioctl, NULL, out, 30, &result);
    rewind(out);
    output[fread(output, 1, sizeof output - 1, out)] = '\0';
    fclose(out);
    assert_int_equal(result.finished, 1);
    assert_int_equal(result.stopped, 0);
    assert_non_null(strstr(output, "wdmsim: warning: io.dispatch_wait_with_timeout: KeWaitForSingleObject in the "
                                   "dispatch routine queue_ioctl (IRP_MJ_DEVICE_CONTROL, driver queue) waits on the "
                                   "NotificationEvent at 0x"));
    assert_non_null(strstr(output, "with no timeout (for ever)\n"));
}

static void waits_with_a_timeout_are_counted_and_polls_are_not(void **state)
{
    LARGE_INTEGER second = { .QuadPart = -10000000 }, poll = { .QuadPart = 0 };
    size_t before = wdmsim_warning_count();

    (void)state;
    send_wait_ioctl(&poll);
    assert_int_equal(wdmsim_warning_count(), before);
    send_wait_ioctl(&second);
    assert_int_equal(wdmsim_warning_count(), before + 1);
    send_wait_ioctl(NULL);
    assert_int_equal(wdmsim_warning_count(), before + 2);
}

/* The book's ForwardIrpAndWait: the wait is for the completion of an IRP the routine passed down,
 * its completion routine's context being the event or a structure that holds it. */
static void waiting_for_an_IRP_passed_down_as_ForwardIrpAndWait_does_is_no_warning(void **state)
{
    PDRIVER_OBJECT function = load("queue", queue_entry);
    PDRIVER_OBJECT upper = load("filter", filter_entry);
    HANDLE handle = open_ok();
    size_t before = wdmsim_warning_count();
    IO_STATUS_BLOCK iosb;
    ULONG value = 0;

    (void)state;
    assert_int_equal(ioctl(handle, IOCTL_QUEUE_PEND_COMPLETED, &value, sizeof value, &iosb), STATUS_SUCCESS);
    filter.event_in_context = true;
    assert_int_equal(ioctl(handle, IOCTL_QUEUE_PEND_COMPLETED, &value, sizeof value, &iosb), STATUS_SUCCESS);
    assert_int_equal(filter.completions, 2);
    assert_int_equal(wdmsim_warning_count(), before);
    assert_int_equal(ZwClose(handle), STATUS_SUCCESS);
    wdmsim_driver_unload(upper);
    wdmsim_driver_unload(function);
}

/* A PnP dispatch routine may wait (the seed's guideline exempts PnP handlers). */
static PDEVICE_OBJECT pnp_lower;

static NTSTATUS NTAPI pnp_waiting_dispatch(PDEVICE_OBJECT fdo, PIRP irp)
{
    UCHAR minor = IoGetCurrentIrpStackLocation(irp)->MinorFunction;
    PDEVICE_OBJECT lower = pnp_lower;
    KEVENT set;
    NTSTATUS status;

    KeInitializeEvent(&set, NotificationEvent, TRUE);
    KeWaitForSingleObject(&set, Executive, KernelMode, FALSE, NULL);
    IoSkipCurrentIrpStackLocation(irp);
    status = IoCallDriver(lower, irp);
    if (minor == IRP_MN_REMOVE_DEVICE) {
        IoDetachDevice(lower);
        IoDeleteDevice(fdo);
    }
    return status;
}

static NTSTATUS NTAPI pnp_waiting_add_device(PDRIVER_OBJECT driver, PDEVICE_OBJECT pdo)
{
    PDEVICE_OBJECT fdo;
    NTSTATUS status = IoCreateDevice(driver, 0, NULL, FILE_DEVICE_UNKNOWN, 0, FALSE, &fdo);

    if (!NT_SUCCESS(status))
        return status;
    pnp_lower = IoAttachDeviceToDeviceStack(fdo, pdo);
    fdo->Flags &= ~DO_DEVICE_INITIALIZING;
    return STATUS_SUCCESS;
}

static VOID NTAPI pnp_waiting_unload(PDRIVER_OBJECT driver)
{
    (void)driver;
}

static NTSTATUS NTAPI pnp_waiting_entry(PDRIVER_OBJECT driver, PUNICODE_STRING registry_path)
{
    (void)registry_path;
    driver->DriverExtension->AddDevice = pnp_waiting_add_device;
    driver->DriverUnload = pnp_waiting_unload;
    driver->MajorFunction[IRP_MJ_PNP] = pnp_waiting_dispatch;
    return STATUS_SUCCESS;
}

static void a_PnP_dispatch_routine_may_wait_without_a_warning(void **state)
{
    size_t before = wdmsim_warning_count();
    PDRIVER_OBJECT driver = load("pnpwaits", pnp_waiting_entry);

    (void)state;
    wdmsim_driver_unload(driver);
    assert_int_equal(wdmsim_warning_count(), before);
}

static void send_wait_ioctl_with_fatal_warnings(void *context)
{
    (void)context;
    wdmsim_warnings_fatal(1);
    send_wait_ioctl(NULL);
}

static void warnings_made_fatal_by_the_API_stop_the_machine_on_their_rule(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(send_wait_ioctl_with_fatal_warnings, NULL, 0, WDMSIM_ANY_PARAM, "io.dispatch_wait_with_timeout",
                        &stop);
    wdmsim_assert_report_has(&stop, "WDMSIM_WARNING_MADE_FATAL");
    wdmsim_assert_report_has(&stop, "Detail:   KeWaitForSingleObject in the dispatch routine queue_ioctl");
}

static void warnings_made_fatal_by_WDMSIM_WARNINGS_stop_the_machine_too(void **state)
{
    (void)state;
    setenv("WDMSIM_WARNINGS", "fatal", 1);
    wdmsim_assert_stops(send_wait_ioctl, NULL, 0, WDMSIM_ANY_PARAM, "io.dispatch_wait_with_timeout", NULL);
    wdmsim_warnings_fatal(0);       /* the API decides over the environment */
    send_wait_ioctl(NULL);
    unsetenv("WDMSIM_WARNINGS");
}

/* A synchronous handle with a read pending on it in another thread (NULL if it cannot be had). */
static HANDLE synchronous_handle_under_a_pending_read(void)
{
    static struct reader r;
    PDRIVER_OBJECT driver;
    HANDLE handle;

    wdmsim_driver_load("queue", queue_entry, &driver);
    if (open_queue_with(&handle, FILE_SYNCHRONOUS_IO_NONALERT) != STATUS_SUCCESS)
        return NULL;
    start_reader(&r, handle);
    return handle;
}

/* NT serialises the requests on a synchronous file, its cleanup included: a close waits for a
 * read in progress, and a read that only the cleanup would end never ends. */
static void close_a_synchronous_handle_under_a_pending_read(void *context)
{
    HANDLE handle = synchronous_handle_under_a_pending_read();

    (void)context;
    if (handle != NULL)
        ZwClose(handle);
}

/* The same turn for an IOCTL: it waits for the read, which only a write could end. */
static void ioctl_on_a_synchronous_handle_under_a_pending_read(void *context)
{
    HANDLE handle = synchronous_handle_under_a_pending_read();
    IO_STATUS_BLOCK iosb;
    ULONG value;

    (void)context;
    if (handle != NULL)
        ioctl(handle, IOCTL_QUEUE_VALUE, &value, sizeof value, &iosb);
}

static void an_IOCTL_on_a_synchronous_handle_waits_for_its_pending_read_so_this_deadlocks(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(ioctl_on_a_synchronous_handle_under_a_pending_read, NULL, 0xE2, WDMSIM_ANY_PARAM,
                        "sched.deadlock", &stop);
    wdmsim_assert_report_has(&stop, "ZwDeviceIoControlFile");
}

static void closing_a_synchronous_handle_waits_for_its_pending_read_so_this_deadlocks(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(close_a_synchronous_handle_under_a_pending_read, NULL, 0xE2, WDMSIM_ANY_PARAM,
                        "sched.deadlock", &stop);
    assert_non_null(strstr(stop.report, "ZwClose"));
}

/* ---- Dispatch routines that break the rules ---- */

static void send_broken_ioctl(void *context)
{
    IO_STATUS_BLOCK iosb;
    PDRIVER_OBJECT driver;
    HANDLE handle;

    wdmsim_driver_load("queue", queue_entry, &driver);
    if (open_queue(&handle) == STATUS_SUCCESS)
        ioctl(handle, (ULONG)(ULONG_PTR)context, NULL, 0, &iosb);
}

static void completing_an_IRP_twice_stops_with_0x44(void **state)
{
    (void)state;
    wdmsim_assert_stops(send_broken_ioctl, (void *)(ULONG_PTR)IOCTL_QUEUE_COMPLETE_TWICE, 0x44, WDMSIM_ANY_PARAM,
                        "io.irp_completed_twice", NULL);
}

static void returning_STATUS_PENDING_without_IoMarkIrpPending_stops_with_0xC9_0x23D(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(send_broken_ioctl, (void *)(ULONG_PTR)IOCTL_QUEUE_PENDING_UNMARKED, 0xC9, 0x23D,
                        "io.pending_not_marked", &stop);
    assert_int_equal(stop.params[1], (ULONG_PTR)queue_ioctl);
    wdmsim_assert_report_has(&stop, "Driver:   queue (the routine below; the thread is the host's)");
    wdmsim_assert_report_has(&stop, "Routine:  queue_ioctl+0x0 (test_io) at tests/sim_kernel/test_io.c:");
}

static void a_dispatch_routine_that_changes_the_IRQL_stops_with_0xC9_0x05(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(send_broken_ioctl, (void *)(ULONG_PTR)IOCTL_QUEUE_RAISE_IRQL, 0xC9, 0x05,
                        "io.dispatch_changed_irql", &stop);
    assert_int_equal(stop.params[2], PASSIVE_LEVEL);
    assert_int_equal(stop.params[3], DISPATCH_LEVEL);
}

static void a_dispatch_routine_that_returns_holding_a_spin_lock_stops_with_0xC4_0x40009(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(send_broken_ioctl, (void *)(ULONG_PTR)IOCTL_QUEUE_HOLD_SPIN_LOCK, 0xC4, 0x40009,
                        "io.dispatch_held_spin_lock", &stop);
    assert_int_equal(stop.params[1], (ULONG_PTR)queue_ioctl);
}

static void a_dispatch_routine_that_returns_inside_a_critical_region_stops_with_0xC4_0xC5(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(send_broken_ioctl, (void *)(ULONG_PTR)IOCTL_QUEUE_STAY_IN_CRITICAL_REGION, 0xC4, 0xC5,
                        "io.dispatch_held_mutex", &stop);
    assert_int_equal(stop.params[1], (ULONG_PTR)queue_ioctl);
    wdmsim_assert_report_has(&stop, "returned with 1 critical and 0 guarded region(s) left unbalanced");
}

static void completing_an_IRP_with_its_cancel_routine_set_stops_with_0xC9_0x07(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(send_broken_ioctl, (void *)(ULONG_PTR)IOCTL_QUEUE_CANCEL_ROUTINE_SET, 0xC9, 0x07,
                        "io.complete_with_cancel_routine", &stop);
    assert_int_equal(stop.params[1], (ULONG_PTR)queue_cancel);
}

static void returning_without_completing_or_pending_the_IRP_stops_with_0xC9_0x226(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(send_broken_ioctl, (void *)(ULONG_PTR)IOCTL_QUEUE_FORGET, 0xC9, 0x226,
                        "io.dispatch_returned_without_completing", &stop);
    assert_int_equal(stop.params[1], (ULONG_PTR)queue_ioctl);
    assert_int_not_equal(stop.params[2], 0);
    assert_non_null(strstr(stop.report, "neither completed nor marked pending"));
    wdmsim_assert_report_has(&stop, "Routine:  queue_ioctl+0x0");
}

typedef struct _TIMED_EXTENSION {
    KTIMER Timer;
} TIMED_EXTENSION;

/* The classic Unload bug in its smallest form: the device goes, its extension's timer stays set. */
static NTSTATUS NTAPI DeleteDeviceWithTimerSetEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    LARGE_INTEGER ten_seconds = { .QuadPart = -100000000LL };
    PDEVICE_OBJECT device;
    TIMED_EXTENSION *extension;

    (void)RegistryPath;
    if (!NT_SUCCESS(IoCreateDevice(DriverObject, sizeof *extension, NULL, FILE_DEVICE_UNKNOWN, 0, FALSE, &device)))
        return STATUS_UNSUCCESSFUL;
    extension = device->DeviceExtension;
    KeInitializeTimer(&extension->Timer);
    KeSetTimer(&extension->Timer, ten_seconds, NULL);
    IoDeleteDevice(device);
    return STATUS_SUCCESS;
}

static void delete_a_device_whose_timer_is_set(void *context)
{
    PDRIVER_OBJECT driver;

    (void)context;
    wdmsim_driver_load("timed", DeleteDeviceWithTimerSetEntry, &driver);
}

static void IoDeleteDevice_of_a_device_whose_extension_holds_a_set_timer_stops_with_0xC4_0x15(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(delete_a_device_whose_timer_is_set, NULL, 0xC4, 0x15, "pool.free_active_timer", &stop);
    assert_non_null(strstr(stop.report, "is still set"));
}

/* ---- Driver and device objects are objects ---- */

static PDEVICE_OBJECT referenced_device;

/* Windows lets a driver reference its device and driver objects like any object; a referenced
 * device stays readable after IoDeleteDevice, until its last reference goes. */
static VOID NTAPI NothingToUnload(PDRIVER_OBJECT DriverObject)
{
    UNREFERENCED_PARAMETER(DriverObject);
}

static NTSTATUS NTAPI ReferenceDeviceEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    (void)RegistryPath;
    if (!NT_SUCCESS(IoCreateDevice(DriverObject, 0, NULL, FILE_DEVICE_UNKNOWN, 0, FALSE, &referenced_device)))
        return STATUS_UNSUCCESSFUL;
    ObReferenceObject(referenced_device);
    ObReferenceObject(DriverObject);
    ObDereferenceObject(DriverObject);
    DriverObject->DriverUnload = NothingToUnload;
    IoDeleteDevice(referenced_device);
    return STATUS_SUCCESS;
}

static void ObReferenceObject_keeps_a_deleted_device_until_its_last_dereference(void **state)
{
    PDRIVER_OBJECT driver;

    (void)state;
    assert_int_equal(wdmsim_driver_load("referencing", ReferenceDeviceEntry, &driver), STATUS_SUCCESS);
    assert_int_equal(referenced_device->Type, IO_TYPE_DEVICE);
    assert_ptr_equal(referenced_device->DriverObject, driver);
    ObDereferenceObject(referenced_device);
    wdmsim_driver_unload(driver);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        io_test(a_pending_read_returns_STATUS_PENDING_and_a_later_write_from_another_thread_completes_it),
        io_test(IoCancelIrp_on_a_pending_read_runs_its_cancel_routine_and_the_read_returns_STATUS_CANCELLED),
        io_test(closing_the_handle_cancels_its_pending_read_through_IRP_MJ_CLEANUP),
        io_test(a_pended_read_with_an_Event_sets_that_event_and_not_the_file_when_it_completes),
        io_test(closing_the_handle_under_an_overlapped_read_delivers_STATUS_CANCELLED_before_the_close),
        io_test(a_thread_that_ends_with_an_overlapped_read_pending_has_it_cancelled_and_completed_first),
        io_test(a_dispatch_routine_runs_in_the_caller_thread_charged_to_its_driver),
        io_test(a_major_function_without_a_handler_fails_with_STATUS_INVALID_DEVICE_REQUEST),
        io_test(
            a_filter_completion_routine_sees_the_lower_status_and_MORE_PROCESSING_REQUIRED_lets_it_complete_again),
        io_test(an_IRP_marked_pending_and_completed_before_its_dispatch_returns_STATUS_PENDING_ends_at_once),
        io_test(a_filter_may_return_the_lower_STATUS_PENDING_when_its_completion_routine_marks_the_IRP),
        io_test(closing_a_synchronous_handle_waits_for_its_pending_read_so_this_deadlocks),
        io_test(an_IOCTL_on_a_synchronous_handle_waits_for_its_pending_read_so_this_deadlocks),
        io_test(completing_an_IRP_twice_stops_with_0x44),
        io_test(returning_STATUS_PENDING_without_IoMarkIrpPending_stops_with_0xC9_0x23D),
        io_test(a_dispatch_routine_that_changes_the_IRQL_stops_with_0xC9_0x05),
        io_test(a_dispatch_routine_that_returns_holding_a_spin_lock_stops_with_0xC4_0x40009),
        io_test(a_dispatch_routine_that_returns_inside_a_critical_region_stops_with_0xC4_0xC5),
        io_test(completing_an_IRP_with_its_cancel_routine_set_stops_with_0xC9_0x07),
        io_test(returning_without_completing_or_pending_the_IRP_stops_with_0xC9_0x226),
        io_test(IoDeleteDevice_of_a_device_whose_extension_holds_a_set_timer_stops_with_0xC4_0x15),
        io_test(a_dispatch_routine_waiting_for_ever_gets_a_warning_line_and_goes_on),
        io_test(waits_with_a_timeout_are_counted_and_polls_are_not),
        io_test(waiting_for_an_IRP_passed_down_as_ForwardIrpAndWait_does_is_no_warning),
        io_test(a_PnP_dispatch_routine_may_wait_without_a_warning),
        io_test(warnings_made_fatal_by_the_API_stop_the_machine_on_their_rule),
        io_test(warnings_made_fatal_by_WDMSIM_WARNINGS_stop_the_machine_too),
        io_test(ObReferenceObject_keeps_a_deleted_device_until_its_last_dereference),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
