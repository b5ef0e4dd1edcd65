/*
 * test_csq.c - cancel-safe queues as a driver uses them: reads wait in the driver's own list behind
 * an IO_CSQ and each write takes the next one; a read cancelled while it waits, or even before it
 * is queued, is taken out and completed through CsqCompleteCanceledIrp; IoCsqRemoveIrp takes back
 * the IRP of a context; a peek context picks a file's IRPs for its cleanup; an Ex queue may refuse
 * an IRP. The race the queue exists for, a cancel against the removal of the same IRP, is explored
 * under controlled schedules.
 */
#include <stdbool.h>
#include <wdm.h>

#include <wdmsim/test.h>

#define LINE_DEVICE L"\\Device\\WdmsimLine"
#define LINE_IOCTL_WAIT CTL_CODE(FILE_DEVICE_UNKNOWN, 0x800, METHOD_BUFFERED, FILE_ANY_ACCESS)
#define LINE_IOCTL_RELEASE CTL_CODE(FILE_DEVICE_UNKNOWN, 0x801, METHOD_BUFFERED, FILE_ANY_ACCESS)
#define LINE_MAX 8
#define NOT_DONE STATUS_UNSUCCESSFUL

/* ---- The driver: reads wait for writes ---- */

static struct {
    PDEVICE_OBJECT device;
    IO_CSQ csq;
    LIST_ENTRY queue;               /* under lock */
    KSPIN_LOCK lock;
    LONG queued;
    LONG limit;                     /* an Ex queue refuses beyond this many (0: no limit) */
    bool cancel_first;              /* the read dispatch cancels its IRP before queuing it */
    IO_CSQ_IRP_CONTEXT wait_context;
    PIRP reads[LINE_MAX];
    LONG read_count;
    LONG cancelled;
} line;

static VOID NTAPI line_insert(PIO_CSQ csq, PIRP irp)
{
    (void)csq;
    InsertTailList(&line.queue, &irp->Tail.Overlay.ListEntry);
    line.queued++;
}

static NTSTATUS NTAPI line_insert_ex(PIO_CSQ csq, PIRP irp, PVOID context)
{
    (void)context;
    if (line.limit != 0 && line.queued >= line.limit)
        return STATUS_DEVICE_BUSY;
    line_insert(csq, irp);
    return STATUS_SUCCESS;
}

static VOID NTAPI line_remove(PIO_CSQ csq, PIRP irp)
{
    (void)csq;
    RemoveEntryList(&irp->Tail.Overlay.ListEntry);
    line.queued--;
}

/* The next IRP after irp (from the head for NULL) of the file PeekContext names, if any. */
static PIRP NTAPI line_peek(PIO_CSQ csq, PIRP irp, PVOID peek_context)
{
    PLIST_ENTRY e = irp != NULL ? irp->Tail.Overlay.ListEntry.Flink : line.queue.Flink;

    (void)csq;
    for (; e != &line.queue; e = e->Flink) {
        PIRP next = CONTAINING_RECORD(e, IRP, Tail.Overlay.ListEntry);

        if (peek_context == NULL || IoGetCurrentIrpStackLocation(next)->FileObject == peek_context)
            return next;
    }
    return NULL;
}

static VOID NTAPI line_acquire(PIO_CSQ csq, PKIRQL irql)
{
    (void)csq;
    KeAcquireSpinLock(&line.lock, irql);
}

static VOID NTAPI line_release(PIO_CSQ csq, KIRQL irql)
{
    (void)csq;
    KeReleaseSpinLock(&line.lock, irql);
}

static NTSTATUS line_complete(PIRP irp, NTSTATUS status, ULONG_PTR information)
{
    irp->IoStatus.Status = status;
    irp->IoStatus.Information = information;
    IoCompleteRequest(irp, IO_NO_INCREMENT);
    return status;
}

static VOID NTAPI line_complete_canceled(PIO_CSQ csq, PIRP irp)
{
    (void)csq;
    InterlockedIncrement(&line.cancelled);
    line_complete(irp, STATUS_CANCELLED, 0);
}

static NTSTATUS NTAPI line_read(PDEVICE_OBJECT device, PIRP irp)
{
    NTSTATUS status;

    (void)device;
    if (line.read_count < LINE_MAX)
        line.reads[line.read_count++] = irp;
    if (line.cancel_first)
        IoCancelIrp(irp);
    status = IoCsqInsertIrpEx(&line.csq, irp, NULL, NULL);
    return NT_SUCCESS(status) ? STATUS_PENDING : line_complete(irp, status, 0);
}

/* A write hands its first byte to the next waiting read. */
static NTSTATUS NTAPI line_write(PDEVICE_OBJECT device, PIRP irp)
{
    PIRP reader = IoCsqRemoveNextIrp(&line.csq, NULL);

    (void)device;
    if (reader != NULL) {
        *(PUCHAR)reader->AssociatedIrp.SystemBuffer = *(PUCHAR)irp->AssociatedIrp.SystemBuffer;
        line_complete(reader, STATUS_SUCCESS, 1);
    }
    return line_complete(irp, STATUS_SUCCESS, 1);
}

static NTSTATUS NTAPI line_ioctl(PDEVICE_OBJECT device, PIRP irp)
{
    PIRP waiting;

    (void)device;
    if (IoGetCurrentIrpStackLocation(irp)->Parameters.DeviceIoControl.IoControlCode == LINE_IOCTL_WAIT) {
        IoCsqInsertIrp(&line.csq, irp, &line.wait_context);
        return STATUS_PENDING;
    }
    waiting = IoCsqRemoveIrp(&line.csq, &line.wait_context);
    if (waiting != NULL)
        line_complete(waiting, STATUS_SUCCESS, 0);
    return line_complete(irp, waiting != NULL ? STATUS_SUCCESS : STATUS_NOT_SUPPORTED, 0);
}

/* The closing file's waiting IRPs, and only its. */
static NTSTATUS NTAPI line_cleanup(PDEVICE_OBJECT device, PIRP irp)
{
    PFILE_OBJECT file = IoGetCurrentIrpStackLocation(irp)->FileObject;
    PIRP waiting;

    (void)device;
    while ((waiting = IoCsqRemoveNextIrp(&line.csq, file)) != NULL)
        line_complete(waiting, STATUS_CANCELLED, 0);
    return line_complete(irp, STATUS_SUCCESS, 0);
}

static NTSTATUS NTAPI line_create_close(PDEVICE_OBJECT device, PIRP irp)
{
    (void)device;
    return line_complete(irp, STATUS_SUCCESS, 0);
}

static VOID NTAPI line_unload(PDRIVER_OBJECT driver)
{
    IoDeleteDevice(driver->DeviceObject);
}

static NTSTATUS NTAPI line_entry(PDRIVER_OBJECT driver, PUNICODE_STRING registry_path)
{
    UNICODE_STRING name;
    NTSTATUS status;

    (void)registry_path;
    driver->MajorFunction[IRP_MJ_CREATE] = line_create_close;
    driver->MajorFunction[IRP_MJ_CLOSE] = line_create_close;
    driver->MajorFunction[IRP_MJ_CLEANUP] = line_cleanup;
    driver->MajorFunction[IRP_MJ_READ] = line_read;
    driver->MajorFunction[IRP_MJ_WRITE] = line_write;
    driver->MajorFunction[IRP_MJ_DEVICE_CONTROL] = line_ioctl;
    driver->DriverUnload = line_unload;
    InitializeListHead(&line.queue);
    KeInitializeSpinLock(&line.lock);
    IoCsqInitializeEx(&line.csq, line_insert_ex, line_remove, line_peek, line_acquire, line_release,
                      line_complete_canceled);
    RtlInitUnicodeString(&name, LINE_DEVICE);
    status = IoCreateDevice(driver, 0, &name, FILE_DEVICE_UNKNOWN, 0, FALSE, &line.device);
    if (NT_SUCCESS(status))
        line.device->Flags = (line.device->Flags | DO_BUFFERED_IO) & ~DO_DEVICE_INITIALIZING;
    return status;
}

/* ---- Helpers ---- */

struct session {
    PDRIVER_OBJECT driver;
    HANDLE handle;
    IO_STATUS_BLOCK iosb[LINE_MAX];
    char bytes[LINE_MAX];
    int reads;
};

static NTSTATUS session_open_handle(PHANDLE handle)
{
    UNICODE_STRING name;
    OBJECT_ATTRIBUTES attributes;
    IO_STATUS_BLOCK iosb;

    RtlInitUnicodeString(&name, LINE_DEVICE);
    InitializeObjectAttributes(&attributes, &name, OBJ_CASE_INSENSITIVE | OBJ_KERNEL_HANDLE, NULL, NULL);
    return ZwCreateFile(handle, GENERIC_READ | GENERIC_WRITE, &attributes, &iosb, NULL, FILE_ATTRIBUTE_NORMAL, 0,
                        FILE_OPEN, 0, NULL, 0);
}

static NTSTATUS session_open(struct session *s)
{
    NTSTATUS status;

    memset(s, 0, sizeof *s);
    memset(&line, 0, sizeof line);
    status = wdmsim_driver_load("line", line_entry, &s->driver);
    return NT_SUCCESS(status) ? session_open_handle(&s->handle) : status;
}

static NTSTATUS session_read_on(struct session *s, HANDLE handle)
{
    LARGE_INTEGER offset = { .QuadPart = 0 };
    int i = s->reads++;

    s->iosb[i].Status = NOT_DONE;
    return ZwReadFile(handle, NULL, NULL, NULL, &s->iosb[i], &s->bytes[i], 1, &offset, NULL);
}

static NTSTATUS session_read(struct session *s)
{
    return session_read_on(s, s->handle);
}

static NTSTATUS session_write(struct session *s, char byte)
{
    LARGE_INTEGER offset = { .QuadPart = 0 };
    IO_STATUS_BLOCK iosb;

    return ZwWriteFile(s->handle, NULL, NULL, NULL, &iosb, &byte, 1, &offset, NULL);
}

static void session_close(struct session *s)
{
    ZwClose(s->handle);
    wdmsim_driver_unload(s->driver);
}

static struct session *open_ok(void)
{
    static struct session s;

    assert_int_equal(session_open(&s), STATUS_SUCCESS);
    return &s;
}

static NTSTATUS session_ioctl(struct session *s, ULONG code, PIO_STATUS_BLOCK iosb)
{
    iosb->Status = NOT_DONE;
    return ZwDeviceIoControlFile(s->handle, NULL, NULL, NULL, iosb, code, NULL, 0, NULL, 0);
}

/* ---- Queue and dequeue ---- */

static void a_read_waits_in_the_queue_until_a_write_takes_it_with_IoCsqRemoveNextIrp(void **state)
{
    struct session *s = open_ok();

    (void)state;
    assert_int_equal(session_read(s), STATUS_PENDING);
    assert_int_equal(session_read(s), STATUS_PENDING);
    assert_int_equal(line.queued, 2);
    assert_non_null(line.reads[0]->CancelRoutine);
    assert_true(IoGetCurrentIrpStackLocation(line.reads[0])->Control & SL_PENDING_RETURNED);
    session_write(s, 'x');
    assert_int_equal(s->iosb[0].Status, STATUS_SUCCESS);
    assert_int_equal(s->bytes[0], 'x');
    assert_int_equal(s->iosb[1].Status, NOT_DONE);
    session_write(s, 'y');
    assert_int_equal(s->bytes[1], 'y');
    assert_int_equal(line.queued, 0);
    session_close(s);
}

static void IoCancelIrp_on_a_queued_read_takes_it_out_and_completes_it_through_CsqCompleteCanceledIrp(void **state)
{
    struct session *s = open_ok();

    (void)state;
    session_read(s);
    session_read(s);
    assert_true(IoCancelIrp(line.reads[0]));
    assert_int_equal(line.cancelled, 1);
    assert_int_equal(s->iosb[0].Status, STATUS_CANCELLED);
    assert_int_equal(line.queued, 1);
    session_write(s, 'z');
    assert_int_equal(s->iosb[1].Status, STATUS_SUCCESS);
    assert_int_equal(s->bytes[1], 'z');
    session_close(s);
}

/* IoCancelIrp found no cancel routine yet, so it only marked the IRP: the insert sees the mark. */
static void a_read_cancelled_before_it_is_queued_comes_out_again_as_cancelled(void **state)
{
    struct session *s = open_ok();

    (void)state;
    line.cancel_first = true;
    session_read(s);
    assert_int_equal(s->iosb[0].Status, STATUS_CANCELLED);
    assert_int_equal(line.cancelled, 1);
    assert_int_equal(line.queued, 0);
    session_close(s);
}

static void IoCsqRemoveIrp_takes_back_the_IRP_of_its_context_and_NULL_once_it_is_gone(void **state)
{
    struct session *s = open_ok();
    IO_STATUS_BLOCK wait, release;

    (void)state;
    assert_int_equal(session_ioctl(s, LINE_IOCTL_WAIT, &wait), STATUS_PENDING);
    assert_ptr_equal(line.wait_context.Csq, &line.csq);
    assert_non_null(line.wait_context.Irp);
    session_ioctl(s, LINE_IOCTL_RELEASE, &release);
    assert_int_equal(release.Status, STATUS_SUCCESS);
    assert_int_equal(wait.Status, STATUS_SUCCESS);
    assert_null(line.wait_context.Irp);
    /* Cancelled, the IRP leaves its context too: a later remove finds nothing. */
    session_ioctl(s, LINE_IOCTL_WAIT, &wait);
    assert_true(IoCancelIrp(line.wait_context.Irp));
    assert_int_equal(wait.Status, STATUS_CANCELLED);
    assert_null(line.wait_context.Irp);
    session_ioctl(s, LINE_IOCTL_RELEASE, &release);
    assert_int_equal(release.Status, STATUS_NOT_SUPPORTED);   /* nothing to release */
    session_close(s);
}

/* The peek context is the file: closing one handle cancels its reads and leaves the other's. */
static void a_peek_context_lets_cleanup_take_only_the_closing_files_IRPs(void **state)
{
    struct session *s = open_ok();
    HANDLE other;

    (void)state;
    assert_int_equal(session_open_handle(&other), STATUS_SUCCESS);
    session_read(s);
    session_read_on(s, other);
    session_read(s);
    assert_int_equal(ZwClose(other), STATUS_SUCCESS);
    assert_int_equal(s->iosb[1].Status, STATUS_CANCELLED);
    assert_int_equal(s->iosb[0].Status, NOT_DONE);
    assert_int_equal(line.queued, 2);
    session_close(s);
    assert_int_equal(s->iosb[0].Status, STATUS_CANCELLED);
    assert_int_equal(s->iosb[2].Status, STATUS_CANCELLED);
}

static void an_Ex_queue_may_refuse_an_IRP_and_IoCsqInsertIrpEx_returns_why(void **state)
{
    struct session *s = open_ok();

    (void)state;
    line.limit = 1;
    assert_int_equal(session_read(s), STATUS_PENDING);
    assert_int_equal(session_read(s), STATUS_DEVICE_BUSY);
    assert_int_equal(line.queued, 1);
    session_close(s);
}

/* ---- The race ---- */

struct race {
    struct session session;
    PIRP victim;
    char byte;
    NTSTATUS victim_status;
};

static void cancel_the_first(void *context)
{
    IoCancelIrp(((struct race *)context)->victim);
}

/* The victim's completion keeps it: the scenario frees it once both threads are done with it. */
static NTSTATUS NTAPI victim_completed(PDEVICE_OBJECT device, PIRP irp, PVOID context)
{
    (void)device;
    ((struct race *)context)->victim_status = irp->IoStatus.Status;
    return STATUS_MORE_PROCESSING_REQUIRED;
}

/* A scenario: run by wdmsim_explore in child kernels, so it asserts nothing. Another thread
 * cancels the first read while this one's write takes it: it ends cancelled or served, exactly
 * once, and the second read is served by the write or the closing. The first read is an IRP the
 * scenario built and keeps until the end, so the cancel always names a live IRP - a caller of
 * IoCancelIrp must make sure of that (a read the I/O manager frees when the write completes it
 * would leave the canceller a freed IRP: an earlier version of this test did, and schedule 185 of
 * a later build found it). */
static void cancel_races_IoCsqRemoveNextIrp(void *context)
{
    struct race *r = context;
    LARGE_INTEGER offset = { .QuadPart = 0 };
    PKTHREAD canceller;

    if (!NT_SUCCESS(session_open(&r->session)))
        return;
    r->victim_status = NOT_DONE;
    r->victim = IoBuildAsynchronousFsdRequest(IRP_MJ_READ, line.device, &r->byte, 1, &offset, NULL);
    if (r->victim == NULL)
        return;
    IoSetCompletionRoutine(r->victim, victim_completed, r, TRUE, TRUE, TRUE);
    IoCallDriver(line.device, r->victim);
    session_read(&r->session);
    canceller = wdmsim_thread_start(NULL, cancel_the_first, r);
    session_write(&r->session, 'w');
    wdmsim_thread_join(canceller);
    if (r->victim_status != STATUS_CANCELLED && r->victim_status != STATUS_SUCCESS)
        KeBugCheckEx(0xDEAD, (ULONG_PTR)r->victim_status, 0, 0, 0);
    IoFreeIrp(r->victim);
    session_close(&r->session);
}

static void a_cancel_racing_IoCsqRemoveNextIrp_completes_the_IRP_exactly_once_under_every_schedule(void **state)
{
    struct wdmsim_explore_config config = { .strategy = "random", .first_seed = 1, .seeds = 200 };
    struct wdmsim_explore_result result;
    static struct race r;

    (void)state;
    assert_int_equal(wdmsim_explore(&config, cancel_races_IoCsqRemoveNextIrp, &r, &result), 0);
    assert_int_equal(result.schedules, 200);
}

/* ---- Stops ---- */

static void insert_above_dispatch(void *context)
{
    IO_CSQ csq;
    KIRQL old;

    (void)context;
    IoCsqInitialize(&csq, line_insert, line_remove, line_peek, line_acquire, line_release, line_complete_canceled);
    KeRaiseIrql(HIGH_LEVEL, &old);
    IoCsqRemoveNextIrp(&csq, NULL);
}

static void IoCsqRemoveNextIrp_above_DISPATCH_LEVEL_stops_with_IrqlIoDispatch(void **state)
{
    (void)state;
    wdmsim_assert_stops(insert_above_dispatch, NULL, 0xC4, 0x20022, "csq.above_dispatch", NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        wdmsim_test(a_read_waits_in_the_queue_until_a_write_takes_it_with_IoCsqRemoveNextIrp),
        wdmsim_test(IoCancelIrp_on_a_queued_read_takes_it_out_and_completes_it_through_CsqCompleteCanceledIrp),
        wdmsim_test(a_read_cancelled_before_it_is_queued_comes_out_again_as_cancelled),
        wdmsim_test(IoCsqRemoveIrp_takes_back_the_IRP_of_its_context_and_NULL_once_it_is_gone),
        wdmsim_test(a_peek_context_lets_cleanup_take_only_the_closing_files_IRPs),
        wdmsim_test(an_Ex_queue_may_refuse_an_IRP_and_IoCsqInsertIrpEx_returns_why),
        cmocka_unit_test(a_cancel_racing_IoCsqRemoveNextIrp_completes_the_IRP_exactly_once_under_every_schedule),
        cmocka_unit_test(IoCsqRemoveNextIrp_above_DISPATCH_LEVEL_stops_with_IrqlIoDispatch),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
