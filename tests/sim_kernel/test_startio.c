/*
 * test_startio.c - StartIo as a driver of the book's kind uses it: writes go through IoStartPacket
 * to one StartIo at a time, the "hardware" (the test) finishes the current one, and the driver's
 * DPC-side code completes it and calls IoStartNextPacket. Packets wait in arrival or key order,
 * can be cancelled while they wait or while current (the driver's cancel routine takes a waiting
 * one out of the device queue), and a device may ask for non-cancelable or deferred StartIo.
 * The race the cancel spin lock exists for, a cancel against the next packet's start, is explored
 * under controlled schedules. The stops: no StartIo, a queued IRP completed, the IRQL rule.
 */
#include <stdbool.h>
#include <wdm.h>

#include <wdmsim/test.h>

#define SERIAL_DEVICE L"\\Device\\WdmsimSerial"
#define SERIAL_MAX 8
/* What a write's IO_STATUS_BLOCK holds until it completes: the I/O manager writes it only then. */
#define NOT_DONE STATUS_UNSUCCESSFUL

/* ---- The driver: one request on the "hardware" at a time ---- */

static struct {
    PDEVICE_OBJECT device;
    bool by_key;                    /* IoStartPacket with the byte written as the key */
    bool complete_in_start_io;      /* StartIo finishes at once and starts the next itself */
    bool cancel_first;              /* the dispatch routine cancels the IRP before starting it */
    bool sloppy_cancel;             /* the cancel routine forgets to take a waiting IRP out */
    PIRP irps[SERIAL_MAX];          /* every write, in arrival order */
    LONG writes;
    char started[SERIAL_MAX + 1];   /* the bytes StartIo was handed, in order */
    LONG starts;
    KIRQL start_irql;
    PIRP current_at_start;          /* DeviceObject->CurrentIrp as StartIo saw it */
    LONG depth, max_depth;          /* StartIo calls inside StartIo */
    LONG cancels;
} serial;

static void serial_complete(PIRP irp, NTSTATUS status)
{
    irp->IoStatus.Status = status;
    irp->IoStatus.Information = NT_SUCCESS(status) ? 1 : 0;
    IoCompleteRequest(irp, IO_NO_INCREMENT);
}

/* The driver's DPC side, at DISPATCH_LEVEL: the current write is done, or, if it was cancelled
 * meanwhile, cancelled. The current IRP is always completed here, never by the cancel routine:
 * StartIo may still be about to look at it. */
static void serial_finish_at_dispatch(void)
{
    PIRP irp = serial.device->CurrentIrp;

    if (irp == NULL)
        return;
    IoSetCancelRoutine(irp, NULL);
    serial_complete(irp, irp->Cancel ? STATUS_CANCELLED : STATUS_SUCCESS);
    IoStartNextPacket(serial.device, TRUE);
}

/* A waiting IRP is taken out of the queue and completed; the current one is left to the DPC side,
 * which sees Irp->Cancel (the book's WdmIo cancels its current request from its timeout path). */
static VOID NTAPI serial_cancel(PDEVICE_OBJECT device, PIRP irp)
{
    InterlockedIncrement(&serial.cancels);
    if (irp == device->CurrentIrp) {
        IoReleaseCancelSpinLock(irp->CancelIrql);
        return;
    }
    if (!serial.sloppy_cancel)
        KeRemoveEntryDeviceQueue(&device->DeviceQueue, &irp->Tail.Overlay.DeviceQueueEntry);
    IoReleaseCancelSpinLock(irp->CancelIrql);
    serial_complete(irp, STATUS_CANCELLED);
}

/* Under the cancel spin lock: a write cancelled on its way in belongs to its cancel routine. */
static VOID NTAPI serial_start_io(PDEVICE_OBJECT device, PIRP irp)
{
    KIRQL old;
    LONG depth = InterlockedIncrement(&serial.depth);

    if (depth > serial.max_depth)
        serial.max_depth = depth;
    serial.start_irql = KeGetCurrentIrql();
    serial.current_at_start = device->CurrentIrp;
    IoAcquireCancelSpinLock(&old);
    if (!irp->Cancel && serial.starts < SERIAL_MAX)
        serial.started[serial.starts++] = *(char *)irp->AssociatedIrp.SystemBuffer;
    IoReleaseCancelSpinLock(old);
    if (serial.complete_in_start_io)
        serial_finish_at_dispatch();
    InterlockedDecrement(&serial.depth);
}

static NTSTATUS NTAPI serial_write(PDEVICE_OBJECT device, PIRP irp)
{
    ULONG key = *(UCHAR *)irp->AssociatedIrp.SystemBuffer;

    if (serial.writes < SERIAL_MAX)
        serial.irps[serial.writes++] = irp;
    if (serial.cancel_first)
        IoCancelIrp(irp);
    IoMarkIrpPending(irp);
    IoStartPacket(device, irp, serial.by_key ? &key : NULL, serial_cancel);
    return STATUS_PENDING;
}

static NTSTATUS NTAPI serial_create_close(PDEVICE_OBJECT device, PIRP irp)
{
    (void)device;
    serial_complete(irp, STATUS_SUCCESS);
    return STATUS_SUCCESS;
}

static VOID NTAPI serial_unload(PDRIVER_OBJECT driver)
{
    IoDeleteDevice(driver->DeviceObject);
}

static NTSTATUS serial_create_device(PDRIVER_OBJECT driver)
{
    UNICODE_STRING name;
    NTSTATUS status;

    driver->MajorFunction[IRP_MJ_CREATE] = serial_create_close;
    driver->MajorFunction[IRP_MJ_CLOSE] = serial_create_close;
    driver->MajorFunction[IRP_MJ_WRITE] = serial_write;
    driver->DriverUnload = serial_unload;
    RtlInitUnicodeString(&name, SERIAL_DEVICE);
    status = IoCreateDevice(driver, 0, &name, FILE_DEVICE_UNKNOWN, 0, FALSE, &serial.device);
    if (!NT_SUCCESS(status))
        return status;
    serial.device->Flags |= DO_BUFFERED_IO;
    serial.device->Flags &= ~DO_DEVICE_INITIALIZING;
    return STATUS_SUCCESS;
}

static NTSTATUS NTAPI serial_entry(PDRIVER_OBJECT driver, PUNICODE_STRING registry_path)
{
    (void)registry_path;
    driver->DriverStartIo = serial_start_io;
    return serial_create_device(driver);
}

static NTSTATUS NTAPI serial_entry_non_cancelable(PDRIVER_OBJECT driver, PUNICODE_STRING registry_path)
{
    NTSTATUS status = serial_entry(driver, registry_path);

    if (NT_SUCCESS(status))
        IoSetStartIoAttributes(serial.device, FALSE, TRUE);
    return status;
}

static NTSTATUS NTAPI serial_entry_deferred(PDRIVER_OBJECT driver, PUNICODE_STRING registry_path)
{
    NTSTATUS status = serial_entry(driver, registry_path);

    if (NT_SUCCESS(status))
        IoSetStartIoAttributes(serial.device, TRUE, FALSE);
    return status;
}

/* ---- Helpers ---- */

static int setup(void **state)
{
    memset(&serial, 0, sizeof serial);
    return wdmsim_test_boot(state);
}

#define startio_test(fn) cmocka_unit_test_setup_teardown(fn, setup, wdmsim_test_shutdown)

/* The test is the hardware: the current write is done. */
static void hardware_done(void)
{
    KIRQL old;

    KeRaiseIrql(DISPATCH_LEVEL, &old);
    serial_finish_at_dispatch();
    KeLowerIrql(old);
}

struct session {
    PDRIVER_OBJECT driver;
    HANDLE handle;
    IO_STATUS_BLOCK iosb[SERIAL_MAX];
    char bytes[SERIAL_MAX];
    int writes;
};

static NTSTATUS session_open(struct session *s, PDRIVER_INITIALIZE entry)
{
    UNICODE_STRING name;
    OBJECT_ATTRIBUTES attributes;
    IO_STATUS_BLOCK iosb;
    NTSTATUS status;

    memset(s, 0, sizeof *s);
    status = wdmsim_driver_load("serial", entry, &s->driver);
    if (!NT_SUCCESS(status))
        return status;
    RtlInitUnicodeString(&name, SERIAL_DEVICE);
    InitializeObjectAttributes(&attributes, &name, OBJ_CASE_INSENSITIVE | OBJ_KERNEL_HANDLE, NULL, NULL);
    /* Asynchronous: each write returns STATUS_PENDING while it waits or runs. */
    return ZwCreateFile(&s->handle, GENERIC_WRITE, &attributes, &iosb, NULL, FILE_ATTRIBUTE_NORMAL, 0, FILE_OPEN, 0,
                        NULL, 0);
}

static NTSTATUS session_write(struct session *s, char byte)
{
    LARGE_INTEGER offset = { .QuadPart = 0 };
    int i = s->writes++;

    s->bytes[i] = byte;
    s->iosb[i].Status = NOT_DONE;
    return ZwWriteFile(s->handle, NULL, NULL, NULL, &s->iosb[i], &s->bytes[i], 1, &offset, NULL);
}

static void session_close(struct session *s)
{
    ZwClose(s->handle);
    wdmsim_driver_unload(s->driver);
}

static struct session *open_ok(PDRIVER_INITIALIZE entry)
{
    static struct session s;

    assert_int_equal(session_open(&s, entry), STATUS_SUCCESS);
    return &s;
}

static void write_all(struct session *s, const char *bytes)
{
    for (; *bytes != '\0'; bytes++)
        assert_int_equal(session_write(s, *bytes), STATUS_PENDING);
}

static void assert_statuses(const struct session *s, const NTSTATUS *expected)
{
    for (int i = 0; i < s->writes; i++)
        assert_int_equal(s->iosb[i].Status, expected[i]);
}

/* ---- Starting packets ---- */

static void IoStartPacket_on_an_idle_device_makes_the_IRP_current_and_calls_StartIo_at_DISPATCH_LEVEL(void **state)
{
    struct session *s = open_ok(serial_entry);

    (void)state;
    write_all(s, "a");
    assert_string_equal(serial.started, "a");
    assert_int_equal(serial.start_irql, DISPATCH_LEVEL);
    assert_ptr_equal(serial.current_at_start, serial.irps[0]);
    assert_ptr_equal(serial.device->CurrentIrp, serial.irps[0]);
    assert_true(serial.device->DeviceQueue.Busy);
    assert_true(IsListEmpty(&serial.device->DeviceQueue.DeviceListHead));
    assert_int_equal(KeGetCurrentIrql(), PASSIVE_LEVEL);
    hardware_done();
    assert_int_equal(s->iosb[0].Status, STATUS_SUCCESS);
    assert_null(serial.device->CurrentIrp);
    assert_false(serial.device->DeviceQueue.Busy);
    session_close(s);
}

static void packets_started_while_busy_wait_in_arrival_order_for_IoStartNextPacket(void **state)
{
    struct session *s = open_ok(serial_entry);
    const NTSTATUS done[] = { STATUS_SUCCESS, STATUS_SUCCESS, NOT_DONE };

    (void)state;
    write_all(s, "abc");
    assert_string_equal(serial.started, "a");
    hardware_done();
    assert_string_equal(serial.started, "ab");
    assert_ptr_equal(serial.device->CurrentIrp, serial.irps[1]);
    hardware_done();
    assert_string_equal(serial.started, "abc");
    assert_statuses(s, done);
    hardware_done();
    assert_int_equal(s->iosb[2].Status, STATUS_SUCCESS);
    assert_false(serial.device->DeviceQueue.Busy);
    session_close(s);
}

/* The byte is the key: waiting packets are sorted, and each next one is the first from the key on
 * (here the last byte served plus one), wrapping around to the lowest. */
static void with_a_key_packets_wait_sorted_and_IoStartNextPacketByKey_serves_from_the_key_on(void **state)
{
    struct session *s = open_ok(serial_entry);
    KIRQL old;

    (void)state;
    serial.by_key = true;
    write_all(s, "mzcp");
    for (int i = 0; i < 3; i++) {
        PIRP irp = serial.device->CurrentIrp;
        ULONG next = (ULONG)(UCHAR)serial.started[serial.starts - 1] + 1;

        IoSetCancelRoutine(irp, NULL);
        serial_complete(irp, STATUS_SUCCESS);
        /* Below DISPATCH_LEVEL too: IoStartNextPacketByKey raises itself. */
        IoStartNextPacketByKey(serial.device, TRUE, next);
    }
    assert_string_equal(serial.started, "mpzc");
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    serial_finish_at_dispatch();
    KeLowerIrql(old);
    assert_false(serial.device->DeviceQueue.Busy);
    session_close(s);
}

/* ---- Cancel ---- */

static void IoCancelIrp_on_a_waiting_packet_runs_its_cancel_routine_which_takes_it_out_of_the_queue(void **state)
{
    struct session *s = open_ok(serial_entry);
    const NTSTATUS cancelled[] = { NOT_DONE, STATUS_CANCELLED, NOT_DONE };

    (void)state;
    write_all(s, "abc");
    assert_true(IoCancelIrp(serial.irps[1]));
    assert_int_equal(serial.cancels, 1);
    assert_statuses(s, cancelled);
    assert_ptr_equal(serial.device->CurrentIrp, serial.irps[0]);
    hardware_done();
    assert_string_equal(serial.started, "ac");
    hardware_done();
    assert_int_equal(s->iosb[2].Status, STATUS_SUCCESS);
    session_close(s);
}

static void IoCancelIrp_on_the_current_packet_calls_its_cancel_routine_with_the_IRP_still_current(void **state)
{
    struct session *s = open_ok(serial_entry);

    (void)state;
    write_all(s, "ab");
    assert_true(IoCancelIrp(serial.irps[0]));
    assert_int_equal(serial.cancels, 1);
    assert_ptr_equal(serial.device->CurrentIrp, serial.irps[0]);
    assert_int_equal(s->iosb[0].Status, NOT_DONE);
    hardware_done();
    assert_int_equal(s->iosb[0].Status, STATUS_CANCELLED);
    assert_string_equal(serial.started, "ab");
    assert_ptr_equal(serial.device->CurrentIrp, serial.irps[1]);
    hardware_done();
    assert_int_equal(s->iosb[1].Status, STATUS_SUCCESS);
    session_close(s);
}

/* IoCancelIrp found no cancel routine yet, so it only marked the IRP: IoStartPacket, which sets
 * the routine, sees the mark and calls it at once instead of leaving the IRP to wait. */
static void a_packet_cancelled_before_IoStartPacket_queues_it_goes_straight_to_its_cancel_routine(void **state)
{
    struct session *s = open_ok(serial_entry);

    (void)state;
    write_all(s, "a");
    serial.cancel_first = true;
    write_all(s, "b");
    assert_int_equal(serial.cancels, 1);
    assert_int_equal(s->iosb[1].Status, STATUS_CANCELLED);
    assert_true(IsListEmpty(&serial.device->DeviceQueue.DeviceListHead));
    hardware_done();
    assert_int_equal(s->iosb[0].Status, STATUS_SUCCESS);
    assert_string_equal(serial.started, "a");
    session_close(s);
}

/* NonCancelable: the cancel routine goes as a packet becomes current; waiting ones keep theirs. */
static void IoSetStartIoAttributes_NonCancelable_makes_only_the_current_packet_non_cancelable(void **state)
{
    struct session *s = open_ok(serial_entry_non_cancelable);

    (void)state;
    write_all(s, "ab");
    assert_null(serial.irps[0]->CancelRoutine);
    assert_false(IoCancelIrp(serial.irps[0]));
    assert_ptr_equal(serial.irps[1]->CancelRoutine, serial_cancel);
    assert_true(IoCancelIrp(serial.irps[1]));
    assert_int_equal(s->iosb[1].Status, STATUS_CANCELLED);
    assert_int_equal(serial.cancels, 1);
    /* The current one was only marked: the driver sees Irp->Cancel when it finishes it. */
    assert_true(serial.irps[0]->Cancel);
    assert_int_equal(s->iosb[0].Status, NOT_DONE);
    hardware_done();
    assert_int_equal(s->iosb[0].Status, STATUS_CANCELLED);
    session_close(s);
}

/* ---- Deferred StartIo ---- */

/* A StartIo that finishes at once and starts the next itself: Windows calls StartIo inside StartIo
 * (one level deeper per waiting packet) unless the device asked for deferred StartIo. */
static void serve_the_rest_from_inside_start_io(PDRIVER_INITIALIZE entry)
{
    struct session *s = open_ok(entry);
    const NTSTATUS done[] = { STATUS_SUCCESS, STATUS_SUCCESS, STATUS_SUCCESS, STATUS_SUCCESS };

    write_all(s, "abcd");
    serial.complete_in_start_io = true;
    hardware_done();
    assert_string_equal(serial.started, "abcd");
    assert_statuses(s, done);
    assert_false(serial.device->DeviceQueue.Busy);
    session_close(s);
}

static void without_deferred_StartIo_a_StartIo_that_starts_the_next_packet_runs_StartIo_recursively(void **state)
{
    (void)state;
    serve_the_rest_from_inside_start_io(serial_entry);
    assert_int_equal(serial.max_depth, 3);
}

static void with_deferred_StartIo_the_next_packet_starts_only_once_StartIo_has_returned(void **state)
{
    (void)state;
    serve_the_rest_from_inside_start_io(serial_entry_deferred);
    assert_int_equal(serial.max_depth, 1);
}

/* ---- The race the cancel spin lock is for, under controlled schedules ---- */

struct race {
    struct session session;
    PIRP victim;
};

static void cancel_the_second(void *context)
{
    IoCancelIrp(((struct race *)context)->victim);
}

/* A scenario: run by wdmsim_explore in child kernels, so it asserts nothing. Another thread
 * cancels the second write while this one finishes the first and so starts the second: it is
 * cancelled while waiting (its cancel routine completes it), or as or after it becomes current
 * (the DPC side does); either way it completes exactly once, cancelled, the queue ends idle and
 * the unload finds nothing left. */
static void cancel_races_the_start_of_the_next_packet(void *context)
{
    struct race *r = context;
    PKTHREAD canceller;

    memset(&serial, 0, sizeof serial);
    if (!NT_SUCCESS(session_open(&r->session, serial_entry)))
        return;
    session_write(&r->session, 'a');
    session_write(&r->session, 'b');
    r->victim = serial.irps[1];
    canceller = wdmsim_thread_start(NULL, cancel_the_second, r);
    hardware_done();
    wdmsim_thread_join(canceller);
    hardware_done();
    if (r->session.iosb[1].Status != STATUS_CANCELLED || serial.device->DeviceQueue.Busy)
        KeBugCheckEx(0xDEAD, (ULONG_PTR)r->session.iosb[1].Status, 0, 0, 0);
    session_close(&r->session);
}

static void a_cancel_racing_IoStartNextPacket_completes_the_packet_exactly_once_under_every_schedule(void **state)
{
    struct wdmsim_explore_config config = { .strategy = "random", .first_seed = 1, .seeds = 200 };
    struct wdmsim_explore_result result;
    static struct race r;

    (void)state;
    assert_int_equal(wdmsim_explore(&config, cancel_races_the_start_of_the_next_packet, &r, &result), 0);
    assert_int_equal(result.schedules, 200);
}

/* ---- Stops ---- */

static NTSTATUS NTAPI no_start_io_entry(PDRIVER_OBJECT driver, PUNICODE_STRING registry_path)
{
    (void)registry_path;
    return serial_create_device(driver);
}

static void start_next_without_start_io(void *context)
{
    PDRIVER_OBJECT driver;
    KIRQL old;

    (void)context;
    memset(&serial, 0, sizeof serial);
    if (!NT_SUCCESS(wdmsim_driver_load("serial", no_start_io_entry, &driver)))
        return;
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    IoStartNextPacket(serial.device, FALSE);
}

static void IoStartNextPacket_for_a_driver_without_StartIo_stops_with_0xD1_at_address_0(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(start_next_without_start_io, NULL, 0xD1, 0, "io.start_packet_without_start_io", &stop);
    assert_int_equal(stop.params[1], DISPATCH_LEVEL);
    assert_int_equal(stop.params[2], 8);
}

static void start_next_at_passive(void *context)
{
    struct session s;

    (void)context;
    memset(&serial, 0, sizeof serial);
    if (NT_SUCCESS(session_open(&s, serial_entry)))
        IoStartNextPacket(serial.device, TRUE);
}

static void IoStartNextPacket_below_DISPATCH_LEVEL_stops_with_IrqlDispatch(void **state)
{
    (void)state;
    wdmsim_assert_stops(start_next_at_passive, NULL, 0xC4, 0x20003, "devqueue.not_at_dispatch", NULL);
}

static void cancel_a_waiting_packet_sloppily(void *context)
{
    struct session s;

    (void)context;
    memset(&serial, 0, sizeof serial);
    serial.sloppy_cancel = true;
    if (!NT_SUCCESS(session_open(&s, serial_entry)))
        return;
    session_write(&s, 'a');
    session_write(&s, 'b');
    IoCancelIrp(serial.irps[1]);
}

static void a_cancel_routine_that_completes_a_waiting_packet_left_in_the_queue_stops_with_0xC9_0x209(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(cancel_a_waiting_packet_sloppily, NULL, 0xC9, 0x209, "io.complete_irp_in_device_queue",
                        &stop);
    assert_int_not_equal(stop.params[1], 0);
    assert_int_not_equal(stop.params[2], 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        startio_test(IoStartPacket_on_an_idle_device_makes_the_IRP_current_and_calls_StartIo_at_DISPATCH_LEVEL),
        startio_test(packets_started_while_busy_wait_in_arrival_order_for_IoStartNextPacket),
        startio_test(with_a_key_packets_wait_sorted_and_IoStartNextPacketByKey_serves_from_the_key_on),
        startio_test(IoCancelIrp_on_a_waiting_packet_runs_its_cancel_routine_which_takes_it_out_of_the_queue),
        startio_test(IoCancelIrp_on_the_current_packet_calls_its_cancel_routine_with_the_IRP_still_current),
        startio_test(a_packet_cancelled_before_IoStartPacket_queues_it_goes_straight_to_its_cancel_routine),
        startio_test(IoSetStartIoAttributes_NonCancelable_makes_only_the_current_packet_non_cancelable),
        startio_test(without_deferred_StartIo_a_StartIo_that_starts_the_next_packet_runs_StartIo_recursively),
        startio_test(with_deferred_StartIo_the_next_packet_starts_only_once_StartIo_has_returned),
        cmocka_unit_test(a_cancel_racing_IoStartNextPacket_completes_the_packet_exactly_once_under_every_schedule),
        cmocka_unit_test(IoStartNextPacket_for_a_driver_without_StartIo_stops_with_0xD1_at_address_0),
        cmocka_unit_test(IoStartNextPacket_below_DISPATCH_LEVEL_stops_with_IrqlDispatch),
        cmocka_unit_test(a_cancel_routine_that_completes_a_waiting_packet_left_in_the_queue_stops_with_0xC9_0x209),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
