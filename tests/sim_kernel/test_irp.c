/*
 * test_irp.c - IRPs a driver builds and sends itself: IoAllocateIrp with a completion routine that
 * frees it (or keeps it for IoReuseIrp), IoBuildAsynchronousFsdRequest the same way, associated
 * IRPs that complete their master, and the threaded IoBuildSynchronousFsdRequest and
 * IoBuildDeviceIoControlRequest, which the I/O manager finishes (output copied back, the caller's
 * status block and event set, the IRP freed) and cancels when their thread ends. The lower driver
 * "disk" answers at once or pends. The stops: an IRP freed twice, while in use, while queued or
 * when the I/O manager owns it, a stack too small for the device, an IRP never freed at unload,
 * and the IRQL rule of the threaded builders.
 */
#include <stdbool.h>
#include <wdm.h>

#include <wdmsim/test.h>

#define DISK_DEVICE L"\\Device\\WdmsimDisk"
#define DISK_IOCTL_SUM CTL_CODE(FILE_DEVICE_UNKNOWN, 0x800, METHOD_BUFFERED, FILE_ANY_ACCESS)
#define DISK_SIZE 16

/* ---- The lower driver: a lower device and a top one attached over it ---- */

static struct {
    PDEVICE_OBJECT lower;
    PDEVICE_OBJECT top;
    bool pend;                      /* reads and IOCTLs wait for disk_complete_pending */
    PIRP pending;
    UCHAR data[DISK_SIZE];
    ULONG written;
    LONG cancels;
} disk;

static NTSTATUS disk_complete(PIRP irp, NTSTATUS status, ULONG_PTR information)
{
    irp->IoStatus.Status = status;
    irp->IoStatus.Information = information;
    IoCompleteRequest(irp, IO_NO_INCREMENT);
    return status;
}

static VOID NTAPI disk_cancel(PDEVICE_OBJECT device, PIRP irp)
{
    (void)device;
    IoReleaseCancelSpinLock(irp->CancelIrql);
    disk.pending = NULL;
    InterlockedIncrement(&disk.cancels);
    disk_complete(irp, STATUS_CANCELLED, 0);
}

static NTSTATUS disk_pend(PIRP irp)
{
    IoMarkIrpPending(irp);
    disk.pending = irp;
    IoSetCancelRoutine(irp, disk_cancel);
    return STATUS_PENDING;
}

/* A read fills the buffer with 1, 2, 3 ...; the IOCTL answers the sum of its input bytes. An
 * associated IRP's AssociatedIrp is its master: its buffer is UserBuffer. */
static NTSTATUS disk_answer(PIRP irp)
{
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(irp);
    PUCHAR buffer = (irp->Flags & IRP_ASSOCIATED_IRP) ? irp->UserBuffer : irp->AssociatedIrp.SystemBuffer;
    ULONG sum = 0;

    if (stack->MajorFunction == IRP_MJ_READ) {
        for (ULONG i = 0; i < stack->Parameters.Read.Length; i++)
            buffer[i] = (UCHAR)(i + 1);
        return disk_complete(irp, STATUS_SUCCESS, stack->Parameters.Read.Length);
    }
    for (ULONG i = 0; i < stack->Parameters.DeviceIoControl.InputBufferLength; i++)
        sum += buffer[i];
    *(PULONG)buffer = sum;
    return disk_complete(irp, STATUS_SUCCESS, sizeof(ULONG));
}

static void disk_complete_pending(void)
{
    PIRP irp = disk.pending;

    disk.pending = NULL;
    IoSetCancelRoutine(irp, NULL);
    disk_answer(irp);
}

static NTSTATUS NTAPI disk_dispatch(PDEVICE_OBJECT device, PIRP irp)
{
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(irp);

    if (device == disk.top) {
        IoCopyCurrentIrpStackLocationToNext(irp);
        return IoCallDriver(disk.lower, irp);
    }
    switch (stack->MajorFunction) {
    case IRP_MJ_WRITE:
        disk.written = stack->Parameters.Write.Length < DISK_SIZE ? stack->Parameters.Write.Length : DISK_SIZE;
        RtlCopyMemory(disk.data, irp->AssociatedIrp.SystemBuffer, disk.written);
        return disk_complete(irp, STATUS_SUCCESS, disk.written);
    case IRP_MJ_READ:
    case IRP_MJ_DEVICE_CONTROL:
        return disk.pend ? disk_pend(irp) : disk_answer(irp);
    default:
        return disk_complete(irp, STATUS_SUCCESS, 0);
    }
}

static VOID NTAPI disk_unload(PDRIVER_OBJECT driver)
{
    (void)driver;
    IoDetachDevice(disk.lower);
    IoDeleteDevice(disk.top);
    IoDeleteDevice(disk.lower);
}

static NTSTATUS NTAPI disk_entry(PDRIVER_OBJECT driver, PUNICODE_STRING registry_path)
{
    UNICODE_STRING name;

    (void)registry_path;
    for (int i = 0; i <= IRP_MJ_MAXIMUM_FUNCTION; i++)
        driver->MajorFunction[i] = disk_dispatch;
    driver->DriverUnload = disk_unload;
    if (!NT_SUCCESS(IoCreateDevice(driver, 0, NULL, FILE_DEVICE_UNKNOWN, 0, FALSE, &disk.lower)))
        return STATUS_UNSUCCESSFUL;
    RtlInitUnicodeString(&name, DISK_DEVICE);
    if (!NT_SUCCESS(IoCreateDevice(driver, 0, &name, FILE_DEVICE_UNKNOWN, 0, FALSE, &disk.top))) {
        IoDeleteDevice(disk.lower);
        return STATUS_UNSUCCESSFUL;
    }
    IoAttachDeviceToDeviceStack(disk.top, disk.lower);
    disk.lower->Flags = (disk.lower->Flags | DO_BUFFERED_IO) & ~DO_DEVICE_INITIALIZING;
    disk.top->Flags = (disk.top->Flags | DO_BUFFERED_IO) & ~DO_DEVICE_INITIALIZING;
    return STATUS_SUCCESS;
}

/* ---- The builder's completion routines ---- */

struct sent {
    KEVENT done;
    NTSTATUS status;
    ULONG_PTR information;
    bool free_it;
};

/* Sees the result; frees the IRP if told to; the IRP is the builder's again either way. */
static NTSTATUS NTAPI sent_done(PDEVICE_OBJECT device, PIRP irp, PVOID context)
{
    struct sent *sent = context;

    (void)device;
    sent->status = irp->IoStatus.Status;
    sent->information = irp->IoStatus.Information;
    if (sent->free_it)
        IoFreeIrp(irp);
    KeSetEvent(&sent->done, IO_NO_INCREMENT, FALSE);
    return STATUS_MORE_PROCESSING_REQUIRED;
}

static void sent_init(struct sent *sent, bool free_it)
{
    KeInitializeEvent(&sent->done, NotificationEvent, FALSE);
    sent->status = STATUS_UNSUCCESSFUL;
    sent->information = 0;
    sent->free_it = free_it;
}

/* ---- Helpers ---- */

static PDRIVER_OBJECT disk_driver;

static int setup(void **state)
{
    memset(&disk, 0, sizeof disk);
    wdmsim_test_boot(state);
    assert_int_equal(wdmsim_driver_load("disk", disk_entry, &disk_driver), STATUS_SUCCESS);
    return 0;
}

static int teardown(void **state)
{
    wdmsim_driver_unload(disk_driver);
    return wdmsim_test_shutdown(state);
}

#define irp_test(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

/* A read IRP of IoAllocateIrp's into buffer, with sent_done as its completion routine. */
static PIRP allocate_read(PVOID buffer, ULONG length, struct sent *sent)
{
    PIRP irp = IoAllocateIrp(disk.top->StackSize, FALSE);
    PIO_STACK_LOCATION next;

    assert_non_null(irp);
    next = IoGetNextIrpStackLocation(irp);
    next->MajorFunction = IRP_MJ_READ;
    next->Parameters.Read.Length = length;
    irp->AssociatedIrp.SystemBuffer = buffer;
    IoSetCompletionRoutine(irp, sent_done, sent, TRUE, TRUE, TRUE);
    return irp;
}

/* ---- IoAllocateIrp, IoFreeIrp, IoReuseIrp ---- */

static void IoAllocateIrp_gives_an_empty_IRP_of_IoSizeOfIrp_bytes_that_no_driver_holds_yet(void **state)
{
    PIRP irp = IoAllocateIrp(3, FALSE);

    (void)state;
    assert_non_null(irp);
    assert_int_equal(irp->Type, IO_TYPE_IRP);
    assert_int_equal(irp->Size, IoSizeOfIrp(3));
    assert_int_equal(irp->StackCount, 3);
    assert_int_equal(irp->CurrentLocation, 4);
    assert_ptr_equal(IoGetNextIrpStackLocation(irp), (PIO_STACK_LOCATION)(irp + 1) + 2);
    assert_null(irp->CancelRoutine);
    assert_false(irp->Cancel);
    IoFreeIrp(irp);
}

static void an_allocated_IRP_comes_back_to_its_completion_routine_which_may_free_it(void **state)
{
    UCHAR buffer[4] = { 0 };
    struct sent sent;
    PIRP irp;

    (void)state;
    sent_init(&sent, true);
    irp = allocate_read(buffer, sizeof buffer, &sent);
    assert_int_equal(IoCallDriver(disk.top, irp), STATUS_SUCCESS);  /* what the disk returned */
    assert_int_equal(KeReadStateEvent(&sent.done), 1);
    assert_int_equal(sent.status, STATUS_SUCCESS);
    assert_int_equal(sent.information, 4);
    assert_int_equal(buffer[3], 4);
}

static void IoReuseIrp_makes_a_finished_IRP_new_again_for_a_second_request(void **state)
{
    UCHAR buffer[4] = { 0 };
    struct sent sent;
    PIRP irp;

    (void)state;
    sent_init(&sent, false);
    irp = allocate_read(buffer, 2, &sent);
    IoCallDriver(disk.top, irp);
    assert_int_equal(sent.information, 2);
    IoReuseIrp(irp, STATUS_NOT_SUPPORTED);
    assert_int_equal(irp->IoStatus.Status, STATUS_NOT_SUPPORTED);
    assert_int_equal(irp->CurrentLocation, irp->StackCount + 1);
    assert_null(IoGetNextIrpStackLocation(irp)->CompletionRoutine);
    sent_init(&sent, true);
    IoGetNextIrpStackLocation(irp)->MajorFunction = IRP_MJ_READ;
    IoGetNextIrpStackLocation(irp)->Parameters.Read.Length = 3;
    irp->AssociatedIrp.SystemBuffer = buffer;
    IoSetCompletionRoutine(irp, sent_done, &sent, TRUE, TRUE, TRUE);
    IoCallDriver(disk.top, irp);
    assert_int_equal(sent.status, STATUS_SUCCESS);
    assert_int_equal(sent.information, 3);
}

/* ---- The builders ---- */

static void IoBuildAsynchronousFsdRequest_sends_a_copy_of_the_buffer_and_the_completion_routine_frees_it(void **state)
{
    char text[] = "hello";
    struct sent sent;
    LARGE_INTEGER offset = { .QuadPart = 0 };
    IO_STATUS_BLOCK iosb;
    PIRP irp;

    (void)state;
    sent_init(&sent, true);
    irp = IoBuildAsynchronousFsdRequest(IRP_MJ_WRITE, disk.top, text, 5, &offset, &iosb);
    assert_non_null(irp);
    assert_ptr_not_equal(irp->AssociatedIrp.SystemBuffer, text);  /* a buffered device: a copy */
    IoSetCompletionRoutine(irp, sent_done, &sent, TRUE, TRUE, TRUE);
    IoCallDriver(disk.top, irp);
    assert_int_equal(sent.status, STATUS_SUCCESS);
    assert_int_equal(disk.written, 5);
    assert_memory_equal(disk.data, "hello", 5);
    /* The I/O manager's copy went with the IRP. */
    assert_int_equal(wdmsim_pool_outstanding_by_tag('fBoI', NULL), 0);
}

/* Threaded: nobody frees it; when the lower driver completes it (later, here), the I/O manager
 * copies the data back, fills the status block and only then sets the event. */
static void IoBuildSynchronousFsdRequest_read_is_finished_by_the_I_O_manager_when_it_completes(void **state)
{
    UCHAR buffer[6] = { 0 };
    LARGE_INTEGER offset = { .QuadPart = 0 };
    IO_STATUS_BLOCK iosb = { .Status = STATUS_UNSUCCESSFUL };
    KEVENT event;
    PIRP irp;

    (void)state;
    disk.pend = true;
    KeInitializeEvent(&event, NotificationEvent, FALSE);
    irp = IoBuildSynchronousFsdRequest(IRP_MJ_READ, disk.top, buffer, sizeof buffer, &offset, &event, &iosb);
    assert_non_null(irp);
    assert_int_equal(IoCallDriver(disk.top, irp), STATUS_PENDING);
    assert_int_equal(KeReadStateEvent(&event), 0);
    assert_int_equal(buffer[5], 0);
    disk_complete_pending();
    assert_int_equal(KeReadStateEvent(&event), 1);
    assert_int_equal(iosb.Status, STATUS_SUCCESS);
    assert_int_equal(iosb.Information, 6);
    assert_int_equal(buffer[5], 6);
    assert_int_equal(wdmsim_pool_outstanding_by_tag('fBoI', NULL), 0);
}

static void IoBuildDeviceIoControlRequest_passes_the_input_and_returns_Information_bytes_of_output(void **state)
{
    UCHAR input[3] = { 1, 2, 3 };
    ULONG output = 0;
    IO_STATUS_BLOCK iosb;
    KEVENT event;
    PIRP irp;

    (void)state;
    KeInitializeEvent(&event, NotificationEvent, FALSE);
    irp = IoBuildDeviceIoControlRequest(DISK_IOCTL_SUM, disk.top, input, sizeof input, &output, sizeof output, FALSE,
                                        &event, &iosb);
    assert_non_null(irp);
    assert_int_equal(IoGetNextIrpStackLocation(irp)->MajorFunction, IRP_MJ_DEVICE_CONTROL);
    assert_int_equal(IoGetNextIrpStackLocation(irp)->Parameters.DeviceIoControl.IoControlCode, DISK_IOCTL_SUM);
    assert_int_equal(IoCallDriver(disk.top, irp), STATUS_SUCCESS);
    assert_int_equal(KeReadStateEvent(&event), 1);
    assert_int_equal(iosb.Status, STATUS_SUCCESS);
    assert_int_equal(iosb.Information, sizeof(ULONG));
    assert_int_equal(output, 6);
}

static void IoCancelIrp_on_a_built_IRP_pending_below_completes_it_STATUS_CANCELLED(void **state)
{
    ULONG output = 0;
    IO_STATUS_BLOCK iosb;
    KEVENT event;
    PIRP irp;

    (void)state;
    disk.pend = true;
    KeInitializeEvent(&event, NotificationEvent, FALSE);
    irp = IoBuildDeviceIoControlRequest(DISK_IOCTL_SUM, disk.top, NULL, 0, &output, sizeof output, FALSE, &event,
                                        &iosb);
    assert_int_equal(IoCallDriver(disk.top, irp), STATUS_PENDING);
    assert_true(IoCancelIrp(irp));
    assert_int_equal(disk.cancels, 1);
    assert_int_equal(KeReadStateEvent(&event), 1);
    assert_int_equal(iosb.Status, STATUS_CANCELLED);
}

/* ---- A thread that ends ---- */

static IO_STATUS_BLOCK leaving_iosb;
static ULONG leaving_output;
static KEVENT leaving_event;

/* Sends an IOCTL the disk pends, and ends without waiting for it. */
static void send_and_leave(void *context)
{
    PIRP irp;

    (void)context;
    KeInitializeEvent(&leaving_event, NotificationEvent, FALSE);
    leaving_iosb.Status = STATUS_UNSUCCESSFUL;
    irp = IoBuildDeviceIoControlRequest(DISK_IOCTL_SUM, disk.top, NULL, 0, &leaving_output, sizeof leaving_output,
                                        FALSE, &leaving_event, &leaving_iosb);
    IoCallDriver(disk.top, irp);
}

/* As IoCancelThreadIo does: the request is cancelled and waited for before the thread is gone. */
static void a_thread_that_ends_with_a_built_request_pending_has_it_cancelled_and_completed_first(void **state)
{
    PKTHREAD thread;

    (void)state;
    disk.pend = true;
    thread = wdmsim_thread_start(NULL, send_and_leave, NULL);
    wdmsim_thread_join(thread);
    assert_int_equal(disk.cancels, 1);
    assert_null(disk.pending);
    assert_int_equal(leaving_iosb.Status, STATUS_CANCELLED);
    assert_int_equal(KeReadStateEvent(&leaving_event), 1);
    assert_int_equal(wdmsim_pool_outstanding_by_tag('fBoI', NULL), 0);
}

/* ---- Associated IRPs ---- */

#define SPLIT_DEVICE L"\\Device\\WdmsimSplit"
#define SPLIT_PART 4

static PDEVICE_OBJECT split_device;

/* A neither-I/O read split in two associated reads of the disk, one per half of the caller's buffer:
 * the master (whose AssociatedIrp now counts its parts) completes when both have. */
static NTSTATUS NTAPI split_read(PDEVICE_OBJECT device, PIRP master)
{
    (void)device;
    IoMarkIrpPending(master);
    master->IoStatus.Status = STATUS_SUCCESS;
    master->IoStatus.Information = 2 * SPLIT_PART;
    master->AssociatedIrp.IrpCount = 2;
    for (int i = 0; i < 2; i++) {
        PIRP part = IoMakeAssociatedIrp(master, disk.top->StackSize);
        PIO_STACK_LOCATION next = IoGetNextIrpStackLocation(part);

        next->MajorFunction = IRP_MJ_READ;
        next->Parameters.Read.Length = SPLIT_PART;
        /* AssociatedIrp holds the part's master, so the part carries its buffer in UserBuffer. */
        part->UserBuffer = (PUCHAR)master->UserBuffer + i * SPLIT_PART;
        IoCallDriver(disk.top, part);
    }
    return STATUS_PENDING;
}

static NTSTATUS NTAPI split_create_close(PDEVICE_OBJECT device, PIRP irp)
{
    (void)device;
    return disk_complete(irp, STATUS_SUCCESS, 0);
}

static VOID NTAPI split_unload(PDRIVER_OBJECT driver)
{
    IoDeleteDevice(driver->DeviceObject);
}

static NTSTATUS NTAPI split_entry(PDRIVER_OBJECT driver, PUNICODE_STRING registry_path)
{
    UNICODE_STRING name;
    NTSTATUS status;

    (void)registry_path;
    driver->MajorFunction[IRP_MJ_CREATE] = split_create_close;
    driver->MajorFunction[IRP_MJ_CLOSE] = split_create_close;
    driver->MajorFunction[IRP_MJ_CLEANUP] = split_create_close;
    driver->MajorFunction[IRP_MJ_READ] = split_read;
    driver->DriverUnload = split_unload;
    RtlInitUnicodeString(&name, SPLIT_DEVICE);
    status = IoCreateDevice(driver, 0, &name, FILE_DEVICE_UNKNOWN, 0, FALSE, &split_device);
    if (NT_SUCCESS(status))
        split_device->Flags &= ~DO_DEVICE_INITIALIZING;
    return status;
}

static void a_master_IRP_completes_when_the_last_of_its_associated_IRPs_has(void **state)
{
    PDRIVER_OBJECT split;
    UNICODE_STRING name;
    OBJECT_ATTRIBUTES attributes;
    IO_STATUS_BLOCK iosb;
    LARGE_INTEGER offset = { .QuadPart = 0 };
    UCHAR buffer[2 * SPLIT_PART] = { 0 };
    const UCHAR expected[2 * SPLIT_PART] = { 1, 2, 3, 4, 1, 2, 3, 4 };
    HANDLE handle;

    (void)state;
    assert_int_equal(wdmsim_driver_load("split", split_entry, &split), STATUS_SUCCESS);
    RtlInitUnicodeString(&name, SPLIT_DEVICE);
    InitializeObjectAttributes(&attributes, &name, OBJ_CASE_INSENSITIVE | OBJ_KERNEL_HANDLE, NULL, NULL);
    assert_int_equal(ZwCreateFile(&handle, GENERIC_READ | SYNCHRONIZE, &attributes, &iosb, NULL, 0, 0, FILE_OPEN,
                                  FILE_SYNCHRONOUS_IO_NONALERT, NULL, 0),
                     STATUS_SUCCESS);
    assert_int_equal(ZwReadFile(handle, NULL, NULL, NULL, &iosb, buffer, sizeof buffer, &offset, NULL),
                     STATUS_SUCCESS);
    assert_int_equal(iosb.Information, sizeof buffer);
    assert_memory_equal(buffer, expected, sizeof buffer);
    assert_int_equal(ZwClose(handle), STATUS_SUCCESS);
    wdmsim_driver_unload(split);
}

/* ---- Stops ---- */

static void boot_with_disk(void)
{
    PDRIVER_OBJECT driver;

    memset(&disk, 0, sizeof disk);
    wdmsim_driver_load("disk", disk_entry, &driver);
}

static void free_twice(void *context)
{
    PIRP irp = IoAllocateIrp(1, FALSE);

    (void)context;
    IoFreeIrp(irp);
    IoFreeIrp(irp);
}

static void IoFreeIrp_twice_stops_with_0xC9_0x01(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(free_twice, NULL, 0xC9, 0x01, "irp.free_not_an_irp", &stop);
    wdmsim_assert_report_has(&stop, "was freed already");
}

static void free_while_pending_below(void *context)
{
    struct sent sent;
    UCHAR buffer[2];
    PIRP irp;

    (void)context;
    boot_with_disk();
    disk.pend = true;
    sent_init(&sent, false);
    irp = allocate_read(buffer, sizeof buffer, &sent);
    IoCallDriver(disk.top, irp);
    IoFreeIrp(irp);
}

static void IoFreeIrp_on_an_IRP_a_lower_driver_still_holds_stops_with_0xC9_0x20B(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(free_while_pending_below, NULL, 0xC9, 0x20B, "irp.free_in_use", &stop);
    wdmsim_assert_report_has(&stop, "has not completed back up");
}

static void free_while_queued(void *context)
{
    KDEVICE_QUEUE queue;
    KDEVICE_QUEUE_ENTRY first;
    PIRP irp = IoAllocateIrp(1, FALSE);
    KIRQL old;

    (void)context;
    KeInitializeDeviceQueue(&queue);
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    KeInsertDeviceQueue(&queue, &first);
    KeInsertDeviceQueue(&queue, &irp->Tail.Overlay.DeviceQueueEntry);
    IoFreeIrp(irp);
}

static void IoFreeIrp_on_an_IRP_still_in_a_device_queue_stops_with_0xC9_0x20B(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(free_while_queued, NULL, 0xC9, 0x20B, "irp.free_in_use", &stop);
    wdmsim_assert_report_has(&stop, "still in the device queue");
}

static void free_a_threaded_irp(void *context)
{
    IO_STATUS_BLOCK iosb;
    KEVENT event;

    (void)context;
    boot_with_disk();
    KeInitializeEvent(&event, NotificationEvent, FALSE);
    IoFreeIrp(IoBuildSynchronousFsdRequest(IRP_MJ_FLUSH_BUFFERS, disk.top, NULL, 0, NULL, &event, &iosb));
}

static void IoFreeIrp_on_a_threaded_IRP_stops_with_0xC9_0x20C(void **state)
{
    (void)state;
    wdmsim_assert_stops(free_a_threaded_irp, NULL, 0xC9, 0x20C, "irp.free_threaded", NULL);
}

/* The top device forwards to the one below: an IRP with one stack location runs out. */
static void send_with_too_few_stack_locations(void *context)
{
    struct sent sent;
    PIRP irp;

    (void)context;
    boot_with_disk();
    sent_init(&sent, true);
    irp = IoAllocateIrp(1, FALSE);
    IoGetNextIrpStackLocation(irp)->MajorFunction = IRP_MJ_FLUSH_BUFFERS;
    IoCallDriver(disk.top, irp);
}

static void an_IRP_with_fewer_stack_locations_than_the_stack_is_deep_stops_with_0x35(void **state)
{
    (void)state;
    wdmsim_assert_stops(send_with_too_few_stack_locations, NULL, 0x35, WDMSIM_ANY_PARAM,
                        "io.no_more_stack_locations", NULL);
}

static void build_synchronous_at_dispatch(void *context)
{
    IO_STATUS_BLOCK iosb;
    KEVENT event;
    KIRQL old;

    (void)context;
    boot_with_disk();
    KeInitializeEvent(&event, NotificationEvent, FALSE);
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    IoBuildSynchronousFsdRequest(IRP_MJ_FLUSH_BUFFERS, disk.top, NULL, 0, NULL, &event, &iosb);
}

static void IoBuildSynchronousFsdRequest_above_PASSIVE_LEVEL_stops_with_IrqlIoPassive1(void **state)
{
    (void)state;
    wdmsim_assert_stops(build_synchronous_at_dispatch, NULL, 0xC4, 0x2000A, "irp.build_not_passive", NULL);
}

/* ---- Unload ---- */

static PIRP kept_irp;

static VOID NTAPI keeper_unload(PDRIVER_OBJECT driver)
{
    (void)driver;
}

static NTSTATUS NTAPI keeper_entry(PDRIVER_OBJECT driver, PUNICODE_STRING registry_path)
{
    (void)registry_path;
    driver->DriverUnload = keeper_unload;
    kept_irp = IoAllocateIrp(2, FALSE);
    return kept_irp != NULL ? STATUS_SUCCESS : STATUS_INSUFFICIENT_RESOURCES;
}

static void unload_keeping_an_irp(void *context)
{
    PDRIVER_OBJECT driver;

    (void)context;
    if (NT_SUCCESS(wdmsim_driver_load("keeper", keeper_entry, &driver)))
        wdmsim_driver_unload(driver);
}

static void an_allocated_IRP_never_freed_is_a_leak_at_unload_0xC4_0x62(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(unload_keeping_an_irp, NULL, 0xC4, 0x62, "driver.unload_leaked_pool", &stop);
    wdmsim_assert_report_has(&stop, "never freed (IoFreeIrp)");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        irp_test(IoAllocateIrp_gives_an_empty_IRP_of_IoSizeOfIrp_bytes_that_no_driver_holds_yet),
        irp_test(an_allocated_IRP_comes_back_to_its_completion_routine_which_may_free_it),
        irp_test(IoReuseIrp_makes_a_finished_IRP_new_again_for_a_second_request),
        irp_test(IoBuildAsynchronousFsdRequest_sends_a_copy_of_the_buffer_and_the_completion_routine_frees_it),
        irp_test(IoBuildSynchronousFsdRequest_read_is_finished_by_the_I_O_manager_when_it_completes),
        irp_test(IoBuildDeviceIoControlRequest_passes_the_input_and_returns_Information_bytes_of_output),
        irp_test(IoCancelIrp_on_a_built_IRP_pending_below_completes_it_STATUS_CANCELLED),
        irp_test(a_master_IRP_completes_when_the_last_of_its_associated_IRPs_has),
        irp_test(a_thread_that_ends_with_a_built_request_pending_has_it_cancelled_and_completed_first),
        cmocka_unit_test(IoFreeIrp_twice_stops_with_0xC9_0x01),
        cmocka_unit_test(IoFreeIrp_on_an_IRP_a_lower_driver_still_holds_stops_with_0xC9_0x20B),
        cmocka_unit_test(IoFreeIrp_on_an_IRP_still_in_a_device_queue_stops_with_0xC9_0x20B),
        cmocka_unit_test(IoFreeIrp_on_a_threaded_IRP_stops_with_0xC9_0x20C),
        cmocka_unit_test(an_IRP_with_fewer_stack_locations_than_the_stack_is_deep_stops_with_0x35),
        cmocka_unit_test(IoBuildSynchronousFsdRequest_above_PASSIVE_LEVEL_stops_with_IrqlIoPassive1),
        cmocka_unit_test(an_allocated_IRP_never_freed_is_a_leak_at_unload_0xC4_0x62),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
