/*
 * test_file.c - FILE_OBJECTs and the Zw file calls, through a small "echo" driver defined here:
 * opening a device by name and through \??, dispositions, exclusive and initializing devices, the
 * three buffering methods for reads, writes and IOCTLs, the file position of synchronous handles,
 * the one class of information the I/O manager answers itself, handle errors, the close sequence
 * (IRP_MJ_CLEANUP with the last handle, IRP_MJ_CLOSE with the last reference), and overlapped reads
 * completed on another thread, explored under controlled schedules.
 */
#include <stdbool.h>
#include <ntifs.h>

#include <wdmsim/test.h>
#include "wdmsim_test_threads.h"

#define ECHO_DEVICE L"\\Device\\WdmsimEcho"
#define ECHO_LINK L"\\??\\WdmsimEcho"
#define IOCTL_ECHO_BUFFERED CTL_CODE(FILE_DEVICE_UNKNOWN, 0x800, METHOD_BUFFERED, FILE_ANY_ACCESS)
#define IOCTL_ECHO_NEITHER CTL_CODE(FILE_DEVICE_UNKNOWN, 0x801, METHOD_NEITHER, FILE_ANY_ACCESS)
#define ECHO_QUERY_ANSWER 0x11
#define ECHO_READ_FILL 0xEE
#define CALLER_FILL 0x55

/* What the echo driver is told before it loads, and what it saw; the test thread reads it once the
 * request it made has returned. */
static struct {
    ULONG device_flags;             /* DO_BUFFERED_IO, DO_DIRECT_IO, or 0 for neither */
    BOOLEAN exclusive;
    NTSTATUS create_status;         /* what IRP_MJ_CREATE completes with */
    PDEVICE_OBJECT device;
    char log[32];                   /* C create, U cleanup, X close, R read, W write, I ioctl, Q query,
                                     * S set information, F flush */
    int log_length;
    PKTHREAD create_thread;
    KIRQL close_irql;
    PKTHREAD close_thread;
    KEVENT closed;                  /* IRP_MJ_CLOSE arrived */
    ULONG create_options;
    PFILE_OBJECT file;              /* of the last request */
    PVOID system_buffer;
    PVOID user_buffer;
    PVOID type3_input;
    PVOID others[4];                /* the IOCTL's Parameters read through the Others view */
    KPROCESSOR_MODE requestor_mode;
    ULONG length;
    ULONG input_length;
    LARGE_INTEGER offset;
    FILE_INFORMATION_CLASS query_class;
    LARGE_INTEGER end_of_file;      /* what IRP_MJ_SET_INFORMATION's FileEndOfFileInformation set */
    UCHAR data[16];                 /* the last write; reads return it */
    ULONG data_length;
    BOOLEAN pend_reads;             /* a read is held in `pending` for echo_complete_pending */
    PIRP pending;
    KEVENT pended;                  /* a read is in `pending` */
} echo;

static ULONG_PTR echo_store_write(PIRP irp, ULONG length)
{
    const UCHAR *from = irp->AssociatedIrp.SystemBuffer ? irp->AssociatedIrp.SystemBuffer : irp->UserBuffer;

    echo.data_length = length < sizeof echo.data ? length : sizeof echo.data;
    RtlCopyMemory(echo.data, from, echo.data_length);
    return length;
}

/* Fills the whole buffer, but reports only the stored bytes: the I/O manager copies back just those. */
static ULONG_PTR echo_read(PIRP irp, ULONG length)
{
    UCHAR *to = irp->AssociatedIrp.SystemBuffer ? irp->AssociatedIrp.SystemBuffer : irp->UserBuffer;
    ULONG count = echo.data_length < length ? echo.data_length : length;

    RtlFillMemory(to, length, ECHO_READ_FILL);
    RtlCopyMemory(to, echo.data, count);
    return count;
}

/* Output: the input reversed, as far as both buffers go. */
static ULONG_PTR echo_ioctl(PIRP irp, PIO_STACK_LOCATION stack)
{
    ULONG in = stack->Parameters.DeviceIoControl.InputBufferLength;
    ULONG out = stack->Parameters.DeviceIoControl.OutputBufferLength;
    ULONG count = in < out ? in : out;
    const UCHAR *from = irp->AssociatedIrp.SystemBuffer;
    UCHAR *to = irp->AssociatedIrp.SystemBuffer;
    UCHAR reversed[16];

    if (stack->Parameters.DeviceIoControl.IoControlCode == IOCTL_ECHO_NEITHER) {
        from = stack->Parameters.DeviceIoControl.Type3InputBuffer;
        to = irp->UserBuffer;
    }
    echo.input_length = in;
    for (ULONG i = 0; i < count && i < sizeof reversed; i++)
        reversed[i] = from[count - 1 - i];
    RtlCopyMemory(to, reversed, count);
    return count;
}

static void echo_note(char what, PIRP irp, PIO_STACK_LOCATION stack)
{
    if (echo.log_length < (int)sizeof echo.log - 1)
        echo.log[echo.log_length++] = what;
    echo.file = stack->FileObject;
    echo.requestor_mode = irp->RequestorMode;
    echo.system_buffer = irp->AssociatedIrp.SystemBuffer;
    echo.user_buffer = irp->UserBuffer;
}

/* Holds a read, which echo_complete_pending completes on another thread. */
static NTSTATUS echo_pend(PIRP irp)
{
    IoMarkIrpPending(irp);
    echo.pending = irp;
    KeSetEvent(&echo.pended, IO_NO_INCREMENT, FALSE);
    return STATUS_PENDING;
}

/* A thread's body: waits for the held read and completes it with the stored data. */
static void echo_complete_pending(void *context)
{
    PIRP irp;

    (void)context;
    KeWaitForSingleObject(&echo.pended, Executive, KernelMode, FALSE, NULL);
    irp = echo.pending;
    echo.pending = NULL;
    irp->IoStatus.Status = STATUS_SUCCESS;
    irp->IoStatus.Information = echo_read(irp, IoGetCurrentIrpStackLocation(irp)->Parameters.Read.Length);
    IoCompleteRequest(irp, IO_NO_INCREMENT);
}

static NTSTATUS NTAPI echo_dispatch(PDEVICE_OBJECT device, PIRP irp)
{
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(irp);
    NTSTATUS status = STATUS_SUCCESS;
    ULONG_PTR information = 0;

    (void)device;
    switch (stack->MajorFunction) {
    case IRP_MJ_CREATE:
        echo_note('C', irp, stack);
        echo.create_thread = KeGetCurrentThread();
        echo.create_options = stack->Parameters.Create.Options;
        status = echo.create_status;
        break;
    case IRP_MJ_CLEANUP:
        echo_note('U', irp, stack);
        break;
    case IRP_MJ_CLOSE:
        echo_note('X', irp, stack);
        echo.close_irql = KeGetCurrentIrql();
        echo.close_thread = KeGetCurrentThread();
        break;
    case IRP_MJ_WRITE:
        echo_note('W', irp, stack);
        echo.length = stack->Parameters.Write.Length;
        echo.offset = stack->Parameters.Write.ByteOffset;
        information = echo_store_write(irp, echo.length);
        break;
    case IRP_MJ_READ:
        echo_note('R', irp, stack);
        echo.length = stack->Parameters.Read.Length;
        echo.offset = stack->Parameters.Read.ByteOffset;
        if (echo.pend_reads)
            return echo_pend(irp);
        information = echo_read(irp, echo.length);
        break;
    case IRP_MJ_DEVICE_CONTROL:
        echo_note('I', irp, stack);
        echo.length = stack->Parameters.DeviceIoControl.OutputBufferLength;
        echo.type3_input = stack->Parameters.DeviceIoControl.Type3InputBuffer;
        echo.others[0] = stack->Parameters.Others.Argument1;
        echo.others[1] = stack->Parameters.Others.Argument2;
        echo.others[2] = stack->Parameters.Others.Argument3;
        echo.others[3] = stack->Parameters.Others.Argument4;
        information = echo_ioctl(irp, stack);
        break;
    case IRP_MJ_QUERY_INFORMATION:
        echo_note('Q', irp, stack);
        echo.length = stack->Parameters.QueryFile.Length;
        echo.query_class = stack->Parameters.QueryFile.FileInformationClass;
        RtlFillMemory(irp->AssociatedIrp.SystemBuffer, echo.length, ECHO_QUERY_ANSWER);
        information = echo.length / 2;
        break;
    case IRP_MJ_SET_INFORMATION:
        echo_note('S', irp, stack);
        echo.length = stack->Parameters.SetFile.Length;
        echo.query_class = stack->Parameters.SetFile.FileInformationClass;
        if (echo.query_class == FileEndOfFileInformation)
            echo.end_of_file = ((PFILE_END_OF_FILE_INFORMATION)irp->AssociatedIrp.SystemBuffer)->EndOfFile;
        break;
    case IRP_MJ_FLUSH_BUFFERS:
        echo_note('F', irp, stack);
        break;
    default:
        status = STATUS_INVALID_DEVICE_REQUEST;
        break;
    }
    irp->IoStatus.Status = status;
    irp->IoStatus.Information = information;
    IoCompleteRequest(irp, IO_NO_INCREMENT);
    if (stack->MajorFunction == IRP_MJ_CLOSE)
        KeSetEvent(&echo.closed, IO_NO_INCREMENT, FALSE);
    return status;
}

static VOID NTAPI echo_unload(PDRIVER_OBJECT driver)
{
    UNICODE_STRING link;

    RtlInitUnicodeString(&link, ECHO_LINK);
    IoDeleteSymbolicLink(&link);
    IoDeleteDevice(driver->DeviceObject);
}

static NTSTATUS NTAPI echo_entry(PDRIVER_OBJECT driver, PUNICODE_STRING registry_path)
{
    static const UCHAR majors[] = { IRP_MJ_CREATE, IRP_MJ_CLEANUP, IRP_MJ_CLOSE, IRP_MJ_READ, IRP_MJ_WRITE,
                                    IRP_MJ_DEVICE_CONTROL, IRP_MJ_QUERY_INFORMATION, IRP_MJ_SET_INFORMATION,
                                    IRP_MJ_FLUSH_BUFFERS };
    UNICODE_STRING name, link;
    NTSTATUS status;

    (void)registry_path;
    for (size_t i = 0; i < sizeof majors; i++)
        driver->MajorFunction[majors[i]] = echo_dispatch;
    driver->DriverUnload = echo_unload;
    RtlInitUnicodeString(&name, ECHO_DEVICE);
    RtlInitUnicodeString(&link, ECHO_LINK);
    status = IoCreateDevice(driver, 0, &name, FILE_DEVICE_UNKNOWN, 0, echo.exclusive, &echo.device);
    if (!NT_SUCCESS(status))
        return status;
    status = IoCreateSymbolicLink(&link, &name);
    if (!NT_SUCCESS(status)) {
        IoDeleteDevice(echo.device);
        return status;
    }
    echo.device->Flags |= echo.device_flags;
    echo.device->Flags &= ~DO_DEVICE_INITIALIZING;
    return STATUS_SUCCESS;
}

/* ---- Helpers ---- */

static void echo_reset(void)
{
    memset(&echo, 0, sizeof echo);
    echo.device_flags = DO_BUFFERED_IO;
    KeInitializeEvent(&echo.closed, NotificationEvent, FALSE);
    KeInitializeEvent(&echo.pended, NotificationEvent, FALSE);
}

static int setup(void **state)
{
    echo_reset();
    return wdmsim_test_boot(state);
}

#define file_test(fn) cmocka_unit_test_setup_teardown(fn, setup, wdmsim_test_shutdown)

static PDRIVER_OBJECT load_echo(void)
{
    PDRIVER_OBJECT driver = NULL;

    assert_int_equal(wdmsim_driver_load("echo", echo_entry, &driver), STATUS_SUCCESS);
    return driver;
}

static NTSTATUS try_open(PCWSTR name, ACCESS_MASK access, ULONG disposition, ULONG options, PHANDLE handle,
                         PIO_STATUS_BLOCK iosb)
{
    UNICODE_STRING string;
    OBJECT_ATTRIBUTES attributes;

    RtlInitUnicodeString(&string, name);
    InitializeObjectAttributes(&attributes, &string, OBJ_CASE_INSENSITIVE | OBJ_KERNEL_HANDLE, NULL, NULL);
    return ZwCreateFile(handle, access, &attributes, iosb, NULL, FILE_ATTRIBUTE_NORMAL,
                        FILE_SHARE_READ | FILE_SHARE_WRITE, disposition, options, NULL, 0);
}

static HANDLE open_with(PCWSTR name, ACCESS_MASK access, ULONG options)
{
    IO_STATUS_BLOCK iosb;
    HANDLE handle = NULL;

    assert_int_equal(try_open(name, access, FILE_OPEN, options, &handle, &iosb), STATUS_SUCCESS);
    assert_non_null(handle);
    assert_int_equal(iosb.Status, STATUS_SUCCESS);
    assert_int_equal(iosb.Information, FILE_OPENED);
    return handle;
}

static HANDLE open_echo(void)
{
    return open_with(ECHO_DEVICE, GENERIC_READ | GENERIC_WRITE, 0);
}

static HANDLE open_synchronous(void)
{
    return open_with(ECHO_DEVICE, GENERIC_READ | GENERIC_WRITE, FILE_SYNCHRONOUS_IO_NONALERT);
}

static NTSTATUS write_at(HANDLE handle, const void *data, ULONG length, PLARGE_INTEGER offset, PIO_STATUS_BLOCK iosb)
{
    return ZwWriteFile(handle, NULL, NULL, NULL, iosb, (PVOID)data, length, offset, NULL);
}

static void write_ok(HANDLE handle, const char *text, PLARGE_INTEGER offset)
{
    IO_STATUS_BLOCK iosb;
    ULONG length = (ULONG)strlen(text);

    assert_int_equal(write_at(handle, text, length, offset, &iosb), STATUS_SUCCESS);
    assert_int_equal(iosb.Status, STATUS_SUCCESS);
    assert_int_equal(iosb.Information, length);
}

static void close_ok(HANDLE handle)
{
    assert_int_equal(ZwClose(handle), STATUS_SUCCESS);
}

static HANDLE create_event(PCWSTR name, PKEVENT *event)
{
    UNICODE_STRING string;
    HANDLE handle = NULL;

    RtlInitUnicodeString(&string, name);
    *event = IoCreateNotificationEvent(&string, &handle);
    assert_non_null(*event);
    return handle;
}

/* ---- ZwCreateFile ---- */

static void ZwCreateFile_opens_a_device_by_name_and_sends_IRP_MJ_CREATE_in_the_caller_thread(void **state)
{
    PDRIVER_OBJECT driver = load_echo();
    HANDLE handle;

    (void)state;
    handle = open_echo();
    assert_string_equal(echo.log, "C");
    assert_ptr_equal(echo.create_thread, KeGetCurrentThread());
    assert_ptr_equal(echo.file->DeviceObject, echo.device);
    assert_int_equal(echo.file->Type, IO_TYPE_FILE);
    assert_true(echo.file->ReadAccess);
    assert_true(echo.file->WriteAccess);
    assert_int_equal(echo.create_options >> 24, FILE_OPEN);
    assert_int_equal(echo.device->ReferenceCount, 1);
    close_ok(handle);
    assert_int_equal(echo.device->ReferenceCount, 0);
    wdmsim_driver_unload(driver);
}

static void ZwCreateFile_follows_symbolic_links_in_DosDevices_whatever_the_case(void **state)
{
    PDRIVER_OBJECT driver = load_echo();

    (void)state;
    close_ok(open_with(ECHO_LINK, GENERIC_READ, 0));
    close_ok(open_with(L"\\DosDevices\\WdmsimEcho", GENERIC_READ, 0));
    close_ok(open_with(L"\\device\\wdmsimecho", GENERIC_READ, 0));
    assert_string_equal(echo.log, "CUXCUXCUX");
    wdmsim_driver_unload(driver);
}

static void ZwCreateFile_of_a_missing_name_returns_STATUS_OBJECT_NAME_NOT_FOUND(void **state)
{
    IO_STATUS_BLOCK iosb;
    HANDLE handle = (HANDLE)1;

    (void)state;
    assert_int_equal(try_open(L"\\Device\\NoSuchDevice", GENERIC_READ, FILE_OPEN, 0, &handle, &iosb),
                     STATUS_OBJECT_NAME_NOT_FOUND);
    assert_null(handle);
    assert_int_equal(try_open(L"\\??\\NoSuchLink", GENERIC_READ, FILE_OPEN_IF, 0, &handle, &iosb),
                     STATUS_OBJECT_NAME_NOT_FOUND);
}

/* The rest of the device's name lies past MaximumLength (as in a caller's larger array): reading it
 * would open the device. Found by fuzzing ZwCreateFile (tests/fuzz/fuzz_zw.c). */
static void ZwCreateFile_of_a_name_whose_Length_exceeds_MaximumLength_or_is_odd_returns_STATUS_OBJECT_NAME_INVALID(
    void **state)
{
    PDRIVER_OBJECT driver = load_echo();
    WCHAR text[] = ECHO_DEVICE;
    UNICODE_STRING past_maximum = { sizeof text - sizeof(WCHAR), 8, text };
    UNICODE_STRING odd = { sizeof text - sizeof(WCHAR) + 1, sizeof text, text };
    OBJECT_ATTRIBUTES attributes;
    IO_STATUS_BLOCK iosb;
    HANDLE handle = (HANDLE)1;

    (void)state;
    InitializeObjectAttributes(&attributes, &past_maximum, OBJ_CASE_INSENSITIVE | OBJ_KERNEL_HANDLE, NULL, NULL);
    assert_int_equal(ZwCreateFile(&handle, GENERIC_READ, &attributes, &iosb, NULL, 0, 0, FILE_OPEN, 0, NULL, 0),
                     STATUS_OBJECT_NAME_INVALID);
    assert_null(handle);
    attributes.ObjectName = &odd;
    assert_int_equal(ZwCreateFile(&handle, GENERIC_READ, &attributes, &iosb, NULL, 0, 0, FILE_OPEN, 0, NULL, 0),
                     STATUS_OBJECT_NAME_INVALID);
    assert_string_equal(echo.log, "");
    wdmsim_driver_unload(driver);
}

static void ZwCreateFile_of_a_name_that_is_not_a_device_returns_STATUS_OBJECT_TYPE_MISMATCH(void **state)
{
    IO_STATUS_BLOCK iosb;
    HANDLE handle, event_handle;
    PKEVENT event;

    (void)state;
    event_handle = create_event(L"\\BaseNamedObjects\\NotADevice", &event);
    assert_int_equal(try_open(L"\\BaseNamedObjects\\NotADevice", GENERIC_READ, FILE_OPEN, 0, &handle, &iosb),
                     STATUS_OBJECT_TYPE_MISMATCH);
    close_ok(event_handle);
}

static void ZwCreateFile_with_FILE_CREATE_collides_with_an_existing_name_and_FILE_OPEN_IF_opens_it(void **state)
{
    PDRIVER_OBJECT driver = load_echo();
    IO_STATUS_BLOCK iosb;
    HANDLE handle = NULL;

    (void)state;
    assert_int_equal(try_open(ECHO_DEVICE, GENERIC_READ, FILE_CREATE, 0, &handle, &iosb),
                     STATUS_OBJECT_NAME_COLLISION);
    assert_null(handle);
    assert_string_equal(echo.log, "");
    assert_int_equal(echo.device->ReferenceCount, 0);
    assert_int_equal(try_open(ECHO_DEVICE, GENERIC_READ, FILE_OPEN_IF, 0, &handle, &iosb), STATUS_SUCCESS);
    assert_int_equal(iosb.Information, FILE_OPENED);
    assert_int_equal(echo.create_options >> 24, FILE_OPEN_IF);
    close_ok(handle);
    assert_int_equal(try_open(L"\\Device\\NoSuchDevice", GENERIC_READ, FILE_CREATE, 0, &handle, &iosb),
                     STATUS_OBJECT_NAME_NOT_FOUND);
    wdmsim_driver_unload(driver);
}

static void ZwCreateFile_of_an_exclusive_device_allows_one_open_at_a_time(void **state)
{
    PDRIVER_OBJECT driver;
    IO_STATUS_BLOCK iosb;
    HANDLE first, second = NULL;

    (void)state;
    echo.exclusive = TRUE;
    driver = load_echo();
    first = open_echo();
    assert_int_equal(try_open(ECHO_DEVICE, GENERIC_READ, FILE_OPEN, 0, &second, &iosb), STATUS_ACCESS_DENIED);
    assert_null(second);
    close_ok(first);
    close_ok(open_echo());
    wdmsim_driver_unload(driver);
}

/* The I/O manager readies the devices DriverEntry creates; one made later (in AddDevice, say)
 * stays initializing until its driver clears the flag, and cannot be opened before that. */
static void ZwCreateFile_of_a_device_its_driver_left_initializing_returns_STATUS_NO_SUCH_DEVICE(void **state)
{
    PDRIVER_OBJECT driver;
    IO_STATUS_BLOCK iosb;
    HANDLE handle;

    (void)state;
    driver = load_echo();
    echo.device->Flags |= DO_DEVICE_INITIALIZING;
    assert_int_equal(try_open(ECHO_DEVICE, GENERIC_READ, FILE_OPEN, 0, &handle, &iosb), STATUS_NO_SUCH_DEVICE);
    assert_string_equal(echo.log, "");
    wdmsim_driver_unload(driver);
}

static void ZwCreateFile_failed_by_the_driver_returns_its_status_and_sends_no_cleanup_or_close(void **state)
{
    PDRIVER_OBJECT driver;
    IO_STATUS_BLOCK iosb;
    HANDLE handle = (HANDLE)1;

    (void)state;
    echo.create_status = STATUS_SHARING_VIOLATION;
    driver = load_echo();
    assert_int_equal(try_open(ECHO_DEVICE, GENERIC_READ, FILE_OPEN, 0, &handle, &iosb), STATUS_SHARING_VIOLATION);
    assert_null(handle);
    assert_int_equal(iosb.Status, STATUS_SHARING_VIOLATION);
    assert_string_equal(echo.log, "C");
    assert_int_equal(echo.device->ReferenceCount, 0);
    wdmsim_driver_unload(driver);
}

static void ZwCreateFile_refuses_synchronous_io_without_SYNCHRONIZE_access(void **state)
{
    PDRIVER_OBJECT driver = load_echo();
    IO_STATUS_BLOCK iosb;
    HANDLE handle;

    (void)state;
    assert_int_equal(try_open(ECHO_DEVICE, FILE_READ_DATA, FILE_OPEN, FILE_SYNCHRONOUS_IO_NONALERT, &handle, &iosb),
                     STATUS_INVALID_PARAMETER);
    assert_int_equal(try_open(ECHO_DEVICE, FILE_READ_DATA, FILE_OVERWRITE_IF + 1, 0, &handle, &iosb),
                     STATUS_INVALID_PARAMETER);
    assert_string_equal(echo.log, "");
    wdmsim_driver_unload(driver);
}

/* ---- Reads and writes ---- */

static void ZwWriteFile_to_a_buffered_device_copies_the_data_into_a_system_buffer(void **state)
{
    PDRIVER_OBJECT driver = load_echo();
    HANDLE handle = open_echo();
    LARGE_INTEGER offset = { .QuadPart = 40 };
    char data[] = "hello";

    (void)state;
    write_ok(handle, data, &offset);
    assert_non_null(echo.system_buffer);
    assert_ptr_not_equal(echo.system_buffer, data);
    assert_ptr_equal(echo.user_buffer, data);
    assert_int_equal(echo.length, 5);
    assert_int_equal(echo.offset.QuadPart, 40);
    assert_memory_equal(echo.data, "hello", 5);
    close_ok(handle);
    wdmsim_driver_unload(driver);
}

static void ZwReadFile_from_a_buffered_device_copies_back_only_Information_bytes(void **state)
{
    PDRIVER_OBJECT driver = load_echo();
    HANDLE handle = open_echo();
    LARGE_INTEGER offset = { .QuadPart = 0 };
    IO_STATUS_BLOCK iosb;
    UCHAR buffer[12];
    struct wdmsim_pool_stats before, after;

    (void)state;
    write_ok(handle, "abc", &offset);
    memset(buffer, CALLER_FILL, sizeof buffer);
    wdmsim_pool_stats(&before);
    assert_int_equal(ZwReadFile(handle, NULL, NULL, NULL, &iosb, buffer, sizeof buffer, &offset, NULL),
                     STATUS_SUCCESS);
    wdmsim_pool_stats(&after);
    assert_int_equal(iosb.Information, 3);
    assert_memory_equal(buffer, "abc", 3);
    for (size_t i = 3; i < sizeof buffer; i++)
        assert_int_equal(buffer[i], CALLER_FILL);
    assert_non_null(echo.system_buffer);
    assert_ptr_equal(echo.user_buffer, buffer);
    assert_int_equal(after.allocations - before.allocations, 1);
    assert_int_equal(after.outstanding_blocks, before.outstanding_blocks);
    close_ok(handle);
    wdmsim_driver_unload(driver);
}

static void ZwReadFile_from_a_neither_device_hands_the_driver_the_caller_buffer(void **state)
{
    PDRIVER_OBJECT driver;
    HANDLE handle;
    LARGE_INTEGER offset = { .QuadPart = 0 };
    IO_STATUS_BLOCK iosb;
    UCHAR buffer[8];

    (void)state;
    echo.device_flags = 0;
    driver = load_echo();
    handle = open_echo();
    write_ok(handle, "xyz", &offset);
    assert_null(echo.system_buffer);
    assert_int_equal(ZwReadFile(handle, NULL, NULL, NULL, &iosb, buffer, sizeof buffer, &offset, NULL),
                     STATUS_SUCCESS);
    assert_null(echo.system_buffer);
    assert_ptr_equal(echo.user_buffer, buffer);
    /* The driver wrote straight into the caller's memory: past Information too. */
    assert_memory_equal(buffer, "xyz", 3);
    assert_int_equal(buffer[3], ECHO_READ_FILL);
    close_ok(handle);
    wdmsim_driver_unload(driver);
}

static void ZwReadFile_from_a_direct_io_device_is_served_as_buffered_until_MDLs_exist(void **state)
{
    PDRIVER_OBJECT driver;
    HANDLE handle;
    LARGE_INTEGER offset = { .QuadPart = 0 };
    IO_STATUS_BLOCK iosb;
    UCHAR buffer[8];

    (void)state;
    echo.device_flags = DO_DIRECT_IO;
    driver = load_echo();
    handle = open_echo();
    write_ok(handle, "dio", &offset);
    memset(buffer, CALLER_FILL, sizeof buffer);
    assert_int_equal(ZwReadFile(handle, NULL, NULL, NULL, &iosb, buffer, sizeof buffer, &offset, NULL),
                     STATUS_SUCCESS);
    assert_non_null(echo.system_buffer);
    assert_memory_equal(buffer, "dio", 3);
    assert_int_equal(buffer[3], CALLER_FILL);
    close_ok(handle);
    wdmsim_driver_unload(driver);
}

static void ZwReadFile_on_an_asynchronous_handle_needs_a_ByteOffset(void **state)
{
    PDRIVER_OBJECT driver = load_echo();
    HANDLE handle = open_echo();
    IO_STATUS_BLOCK iosb;
    UCHAR buffer[4];

    (void)state;
    assert_int_equal(ZwReadFile(handle, NULL, NULL, NULL, &iosb, buffer, sizeof buffer, NULL, NULL),
                     STATUS_INVALID_PARAMETER);
    assert_string_equal(echo.log, "C");
    close_ok(handle);
    wdmsim_driver_unload(driver);
}

static void ZwWriteFile_on_a_synchronous_handle_uses_and_advances_the_file_position(void **state)
{
    PDRIVER_OBJECT driver = load_echo();
    HANDLE handle = open_synchronous();
    LARGE_INTEGER explicit_offset = { .QuadPart = 100 };
    LARGE_INTEGER current = { .u = { .LowPart = FILE_USE_FILE_POINTER_POSITION, .HighPart = -1 } };
    FILE_POSITION_INFORMATION position;
    IO_STATUS_BLOCK iosb;

    (void)state;
    write_ok(handle, "12345", NULL);
    assert_int_equal(echo.offset.QuadPart, 0);
    write_ok(handle, "678", NULL);
    assert_int_equal(echo.offset.QuadPart, 5);
    write_ok(handle, "ab", &explicit_offset);
    assert_int_equal(echo.offset.QuadPart, 100);
    write_ok(handle, "c", &current);
    assert_int_equal(echo.offset.QuadPart, 102);
    assert_int_equal(ZwQueryInformationFile(handle, &iosb, &position, sizeof position, FilePositionInformation),
                     STATUS_SUCCESS);
    assert_int_equal(position.CurrentByteOffset.QuadPart, 103);
    close_ok(handle);
    wdmsim_driver_unload(driver);
}

static VOID NTAPI unused_apc(PVOID context, PIO_STATUS_BLOCK iosb, ULONG reserved)
{
    (void)context;
    (void)iosb;
    (void)reserved;
}

static void ZwReadFile_with_an_ApcRoutine_is_not_implemented_yet(void **state)
{
    PDRIVER_OBJECT driver = load_echo();
    HANDLE handle = open_echo();
    LARGE_INTEGER offset = { .QuadPart = 0 };
    IO_STATUS_BLOCK iosb;
    UCHAR buffer[4];

    (void)state;
    assert_int_equal(ZwReadFile(handle, NULL, unused_apc, NULL, &iosb, buffer, sizeof buffer, &offset, NULL),
                     STATUS_NOT_IMPLEMENTED);
    assert_string_equal(echo.log, "C");
    close_ok(handle);
    wdmsim_driver_unload(driver);
}

/* The I/O manager resets the caller's Event when a request starts and sets it when the request
 * completes, here before the call returns; without an Event, the file object's own event. */
static void a_request_that_completes_at_once_sets_the_callers_Event_or_else_the_file_event(void **state)
{
    PDRIVER_OBJECT driver = load_echo();
    HANDLE handle = open_echo(), event_handle;
    LARGE_INTEGER offset = { .QuadPart = 0 };
    PFILE_OBJECT file;
    IO_STATUS_BLOCK iosb;
    PKEVENT event;
    UCHAR buffer[4];

    (void)state;
    event_handle = create_event(L"\\BaseNamedObjects\\ReadDone", &event);
    KeClearEvent(event);
    assert_int_equal(ObReferenceObjectByHandle(handle, 0, NULL, KernelMode, (PVOID *)&file, NULL), STATUS_SUCCESS);
    KeSetEvent(&file->Event, IO_NO_INCREMENT, FALSE);
    assert_int_equal(ZwWriteFile(handle, event_handle, NULL, NULL, &iosb, "ab", 2, &offset, NULL), STATUS_SUCCESS);
    assert_int_equal(KeReadStateEvent(event), 1);
    assert_int_equal(KeReadStateEvent(&file->Event), 0);
    assert_int_equal(ZwReadFile(handle, NULL, NULL, NULL, &iosb, buffer, sizeof buffer, &offset, NULL),
                     STATUS_SUCCESS);
    assert_int_equal(iosb.Information, 2);
    assert_int_equal(KeReadStateEvent(&file->Event), 1);
    KeClearEvent(event);
    assert_int_equal(ZwReadFile(handle, (HANDLE)(ULONG_PTR)0x4242, NULL, NULL, &iosb, buffer, sizeof buffer, &offset,
                                NULL), STATUS_INVALID_HANDLE);
    assert_string_equal(echo.log, "CWR");
    ObDereferenceObject(file);
    close_ok(event_handle);
    close_ok(handle);
    wdmsim_driver_unload(driver);
}

/* ---- IOCTLs ---- */

static void ZwDeviceIoControlFile_METHOD_BUFFERED_copies_input_in_and_Information_bytes_out(void **state)
{
    PDRIVER_OBJECT driver = load_echo();
    HANDLE handle = open_echo();
    IO_STATUS_BLOCK iosb;
    char input[] = "abc";
    UCHAR output[8];

    (void)state;
    memset(output, CALLER_FILL, sizeof output);
    assert_int_equal(ZwDeviceIoControlFile(handle, NULL, NULL, NULL, &iosb, IOCTL_ECHO_BUFFERED, input, 3, output,
                                           sizeof output),
                     STATUS_SUCCESS);
    assert_int_equal(iosb.Information, 3);
    assert_memory_equal(output, "cba", 3);
    assert_int_equal(output[3], CALLER_FILL);
    assert_non_null(echo.system_buffer);
    assert_ptr_equal(echo.user_buffer, output);
    assert_null(echo.type3_input);
    assert_int_equal(echo.input_length, 3);
    assert_int_equal(echo.length, sizeof output);
    close_ok(handle);
    wdmsim_driver_unload(driver);
}

static void ZwDeviceIoControlFile_METHOD_NEITHER_passes_the_caller_pointers(void **state)
{
    PDRIVER_OBJECT driver = load_echo();
    HANDLE handle = open_echo();
    IO_STATUS_BLOCK iosb;
    char input[] = "wxyz";
    UCHAR output[4];

    (void)state;
    assert_int_equal(ZwDeviceIoControlFile(handle, NULL, NULL, NULL, &iosb, IOCTL_ECHO_NEITHER, input, 4, output,
                                           sizeof output),
                     STATUS_SUCCESS);
    assert_null(echo.system_buffer);
    assert_ptr_equal(echo.type3_input, input);
    assert_ptr_equal(echo.user_buffer, output);
    assert_memory_equal(output, "zyxw", 4);
    close_ok(handle);
    wdmsim_driver_unload(driver);
}

/* Drivers (filters above all) read an IOCTL through the generic view: with the DDK's x64 layout each
 * DeviceIoControl member shares its 8-byte slot with one Argument, so the code is in Argument3. */
static void ZwDeviceIoControlFile_Parameters_read_through_Others_as_on_Windows(void **state)
{
    PDRIVER_OBJECT driver = load_echo();
    HANDLE handle = open_echo();
    IO_STATUS_BLOCK iosb;
    char input[] = "wxyz";
    UCHAR output[2];

    (void)state;
    assert_int_equal(ZwDeviceIoControlFile(handle, NULL, NULL, NULL, &iosb, IOCTL_ECHO_NEITHER, input, 4, output,
                                           sizeof output),
                     STATUS_SUCCESS);
    assert_int_equal((ULONG)(ULONG_PTR)echo.others[0], sizeof output);
    assert_int_equal((ULONG)(ULONG_PTR)echo.others[1], 4);
    assert_int_equal((ULONG)(ULONG_PTR)echo.others[2], IOCTL_ECHO_NEITHER);
    assert_ptr_equal(echo.others[3], input);
    close_ok(handle);
    wdmsim_driver_unload(driver);
}

/* ---- ZwQueryInformationFile ---- */

/* Windows asks the driver: a device driver answers for its device (the conformance driver does). */
static void ZwQueryInformationFile_sends_FileStandardInformation_to_the_driver(void **state)
{
    PDRIVER_OBJECT driver = load_echo();
    HANDLE handle = open_echo();
    FILE_STANDARD_INFORMATION standard;
    IO_STATUS_BLOCK iosb;

    (void)state;
    assert_int_equal(ZwQueryInformationFile(handle, &iosb, &standard, sizeof standard, FileStandardInformation),
                     STATUS_SUCCESS);
    assert_string_equal(echo.log, "CQ");
    assert_int_equal(echo.query_class, FileStandardInformation);
    assert_int_equal(echo.length, sizeof standard);
    assert_int_equal(iosb.Information, sizeof standard / 2);
    close_ok(handle);
    wdmsim_driver_unload(driver);
}

/* Only the I/O manager keeps a synchronous file's position; an asynchronous file has none of its
 * own, so the class goes to the driver like any other. */
static void ZwQueryInformationFile_answers_FilePositionInformation_itself_for_a_synchronous_file_only(void **state)
{
    PDRIVER_OBJECT driver = load_echo();
    HANDLE synchronous = open_synchronous();
    HANDLE asynchronous = open_echo();
    FILE_POSITION_INFORMATION position;
    IO_STATUS_BLOCK iosb;

    (void)state;
    memset(&position, 0xFF, sizeof position);
    assert_int_equal(ZwQueryInformationFile(synchronous, &iosb, &position, sizeof position, FilePositionInformation),
                     STATUS_SUCCESS);
    assert_int_equal(position.CurrentByteOffset.QuadPart, 0);
    assert_int_equal(iosb.Information, sizeof position);
    assert_string_equal(echo.log, "CC");
    assert_int_equal(ZwQueryInformationFile(asynchronous, &iosb, &position, sizeof position, FilePositionInformation),
                     STATUS_SUCCESS);
    assert_string_equal(echo.log, "CCQ");
    assert_int_equal(echo.query_class, FilePositionInformation);
    close_ok(synchronous);
    close_ok(asynchronous);
    wdmsim_driver_unload(driver);
}

static void ZwQueryInformationFile_with_a_short_buffer_returns_STATUS_INFO_LENGTH_MISMATCH(void **state)
{
    PDRIVER_OBJECT driver = load_echo();
    HANDLE handle = open_echo();
    FILE_STANDARD_INFORMATION standard;
    IO_STATUS_BLOCK iosb;

    (void)state;
    assert_int_equal(ZwQueryInformationFile(handle, &iosb, &standard, sizeof standard - 1, FileStandardInformation),
                     STATUS_INFO_LENGTH_MISMATCH);
    assert_string_equal(echo.log, "C");
    assert_int_equal(ZwQueryInformationFile(handle, &iosb, &standard, sizeof standard, FileMaximumInformation),
                     STATUS_INVALID_INFO_CLASS);
    close_ok(handle);
    wdmsim_driver_unload(driver);
}

static void ZwQueryInformationFile_sends_other_classes_to_the_driver_buffered(void **state)
{
    PDRIVER_OBJECT driver = load_echo();
    HANDLE handle = open_echo();
    IO_STATUS_BLOCK iosb;
    UCHAR buffer[8];

    (void)state;
    memset(buffer, CALLER_FILL, sizeof buffer);
    assert_int_equal(ZwQueryInformationFile(handle, &iosb, buffer, sizeof buffer, FileNameInformation),
                     STATUS_SUCCESS);
    assert_string_equal(echo.log, "CQ");
    assert_int_equal(echo.query_class, FileNameInformation);
    assert_int_equal(echo.length, sizeof buffer);
    assert_int_equal(iosb.Information, 4);
    assert_int_equal(buffer[0], ECHO_QUERY_ANSWER);
    assert_int_equal(buffer[3], ECHO_QUERY_ANSWER);
    assert_int_equal(buffer[4], CALLER_FILL);
    close_ok(handle);
    wdmsim_driver_unload(driver);
}

/* ---- ZwSetInformationFile, ZwFlushBuffersFile, ZwOpenFile ---- */

static void ZwSetInformationFile_sends_FileEndOfFileInformation_to_the_driver_buffered(void **state)
{
    PDRIVER_OBJECT driver = load_echo();
    HANDLE handle = open_echo();
    FILE_END_OF_FILE_INFORMATION end = { { .QuadPart = 4096 } };
    IO_STATUS_BLOCK iosb;

    (void)state;
    assert_int_equal(ZwSetInformationFile(handle, &iosb, &end, sizeof end, FileEndOfFileInformation), STATUS_SUCCESS);
    assert_string_equal(echo.log, "CS");
    assert_int_equal(echo.query_class, FileEndOfFileInformation);
    assert_int_equal(echo.length, sizeof end);
    assert_int_equal(echo.end_of_file.QuadPart, 4096);
    assert_ptr_not_equal(echo.system_buffer, &end);
    assert_int_equal(ZwSetInformationFile(handle, &iosb, &end, sizeof end - 1, FileEndOfFileInformation),
                     STATUS_INFO_LENGTH_MISMATCH);
    assert_string_equal(echo.log, "CS");
    close_ok(handle);
    wdmsim_driver_unload(driver);
}

/* The position a synchronous file's next read or write uses is the I/O manager's: it sets it
 * without asking the driver. */
static void ZwSetInformationFile_sets_a_synchronous_file_position_itself(void **state)
{
    PDRIVER_OBJECT driver = load_echo();
    HANDLE handle = open_synchronous();
    FILE_POSITION_INFORMATION position = { { .QuadPart = 100 } };
    IO_STATUS_BLOCK iosb;

    (void)state;
    assert_int_equal(ZwSetInformationFile(handle, &iosb, &position, sizeof position, FilePositionInformation),
                     STATUS_SUCCESS);
    assert_string_equal(echo.log, "C");
    write_ok(handle, "abc", NULL);
    assert_int_equal(echo.offset.QuadPart, 100);
    position.CurrentByteOffset.QuadPart = -1;
    assert_int_equal(ZwSetInformationFile(handle, &iosb, &position, sizeof position, FilePositionInformation),
                     STATUS_INVALID_PARAMETER);
    close_ok(handle);
    wdmsim_driver_unload(driver);
}

static void ZwFlushBuffersFile_sends_IRP_MJ_FLUSH_BUFFERS(void **state)
{
    PDRIVER_OBJECT driver = load_echo();
    HANDLE handle = open_echo();
    IO_STATUS_BLOCK iosb = { .Status = -1 };

    (void)state;
    assert_int_equal(ZwFlushBuffersFile(handle, &iosb), STATUS_SUCCESS);
    assert_int_equal(iosb.Status, STATUS_SUCCESS);
    assert_string_equal(echo.log, "CF");
    close_ok(handle);
    wdmsim_driver_unload(driver);
}

static void ZwOpenFile_opens_an_existing_device_as_ZwCreateFile_with_FILE_OPEN(void **state)
{
    PDRIVER_OBJECT driver = load_echo();
    UNICODE_STRING name;
    OBJECT_ATTRIBUTES attributes;
    IO_STATUS_BLOCK iosb;
    HANDLE handle;

    (void)state;
    RtlInitUnicodeString(&name, ECHO_DEVICE);
    InitializeObjectAttributes(&attributes, &name, OBJ_CASE_INSENSITIVE | OBJ_KERNEL_HANDLE, NULL, NULL);
    assert_int_equal(ZwOpenFile(&handle, GENERIC_READ | GENERIC_WRITE, &attributes, &iosb, 0, 0), STATUS_SUCCESS);
    assert_int_equal(iosb.Information, FILE_OPENED);
    assert_int_equal(echo.create_options >> 24, FILE_OPEN);
    close_ok(handle);
    RtlInitUnicodeString(&name, L"\\Device\\NoSuchDevice");
    assert_int_equal(ZwOpenFile(&handle, GENERIC_READ, &attributes, &iosb, 0, 0), STATUS_OBJECT_NAME_NOT_FOUND);
    wdmsim_driver_unload(driver);
}

/* ---- Handles ---- */

static void Zw_file_calls_on_a_handle_to_another_object_type_return_STATUS_OBJECT_TYPE_MISMATCH(void **state)
{
    LARGE_INTEGER offset = { .QuadPart = 0 };
    IO_STATUS_BLOCK iosb;
    PKEVENT event;
    HANDLE handle;
    UCHAR buffer[4];

    (void)state;
    handle = create_event(L"\\BaseNamedObjects\\NotAFile", &event);
    assert_int_equal(ZwReadFile(handle, NULL, NULL, NULL, &iosb, buffer, sizeof buffer, &offset, NULL),
                     STATUS_OBJECT_TYPE_MISMATCH);
    assert_int_equal(ZwDeviceIoControlFile(handle, NULL, NULL, NULL, &iosb, IOCTL_ECHO_BUFFERED, NULL, 0, NULL, 0),
                     STATUS_OBJECT_TYPE_MISMATCH);
    close_ok(handle);
}

static void Zw_file_calls_on_a_closed_handle_return_STATUS_INVALID_HANDLE(void **state)
{
    PDRIVER_OBJECT driver = load_echo();
    HANDLE handle = open_echo();
    LARGE_INTEGER offset = { .QuadPart = 0 };
    FILE_POSITION_INFORMATION position;
    IO_STATUS_BLOCK iosb;

    (void)state;
    close_ok(handle);
    assert_int_equal(write_at(handle, "a", 1, &offset, &iosb), STATUS_INVALID_HANDLE);
    assert_int_equal(ZwQueryInformationFile(handle, &iosb, &position, sizeof position, FilePositionInformation),
                     STATUS_INVALID_HANDLE);
    wdmsim_driver_unload(driver);
}

/* ---- Closing ---- */

static void the_last_handle_sends_IRP_MJ_CLEANUP_and_the_last_reference_IRP_MJ_CLOSE(void **state)
{
    PDRIVER_OBJECT driver = load_echo();
    HANDLE first = open_echo(), second = open_echo();
    PVOID file = NULL;

    (void)state;
    assert_int_equal(ObReferenceObjectByHandle(first, 0, NULL, KernelMode, &file, NULL), STATUS_SUCCESS);
    close_ok(second);
    assert_string_equal(echo.log, "CCUX");
    close_ok(first);
    assert_string_equal(echo.log, "CCUXU");
    assert_int_equal(echo.device->ReferenceCount, 1);
    ObDereferenceObject(file);
    assert_string_equal(echo.log, "CCUXUX");
    assert_ptr_equal(echo.file, file);
    assert_int_equal(echo.close_irql, PASSIVE_LEVEL);
    assert_int_equal(echo.device->ReferenceCount, 0);
    wdmsim_driver_unload(driver);
}

static void a_last_dereference_above_PASSIVE_LEVEL_sends_IRP_MJ_CLOSE_from_a_worker_thread(void **state)
{
    PDRIVER_OBJECT driver = load_echo();
    HANDLE handle = open_echo();
    PVOID file = NULL;
    KIRQL old;

    (void)state;
    assert_int_equal(ObReferenceObjectByHandle(handle, 0, NULL, KernelMode, &file, NULL), STATUS_SUCCESS);
    close_ok(handle);
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    ObDereferenceObject(file);
    KeLowerIrql(old);
    KeWaitForSingleObject(&echo.closed, Executive, KernelMode, FALSE, NULL);
    assert_string_equal(echo.log, "CUX");
    assert_int_equal(echo.close_irql, PASSIVE_LEVEL);
    assert_ptr_not_equal(echo.close_thread, KeGetCurrentThread());
    wdmsim_driver_unload(driver);
}

/* ---- Applications ---- */

#define KERNEL_HANDLE_BITS ((ULONG_PTR)0xFFFFFFFF80000000ull)

struct application {
    HANDLE kernel_handle;           /* opened by the test, with OBJ_KERNEL_HANDLE */
    HANDLE own_handle;
    NTSTATUS open;
    NTSTATUS read_kernel_handle;
    NTSTATUS write_read_only;
    NTSTATUS read_own;
    KPROCESSOR_MODE read_mode;
};

static void application_main(void *context)
{
    struct application *app = context;
    LARGE_INTEGER offset = { .QuadPart = 0 };
    IO_STATUS_BLOCK iosb;
    UCHAR buffer[4];

    app->read_kernel_handle = ZwReadFile(app->kernel_handle, NULL, NULL, NULL, &iosb, buffer, sizeof buffer,
                                         &offset, NULL);
    /* Asks for a kernel handle, which user mode cannot have. */
    app->open = try_open(ECHO_DEVICE, GENERIC_READ, FILE_OPEN, 0, &app->own_handle, &iosb);
    if (!NT_SUCCESS(app->open))
        return;
    app->write_read_only = write_at(app->own_handle, "a", 1, &offset, &iosb);
    app->read_own = ZwReadFile(app->own_handle, NULL, NULL, NULL, &iosb, buffer, sizeof buffer, &offset, NULL);
    app->read_mode = echo.requestor_mode;
    ZwClose(app->own_handle);
}

static void an_application_gets_process_handles_user_mode_requests_and_access_checks(void **state)
{
    PDRIVER_OBJECT driver = load_echo();
    struct application app = { .kernel_handle = open_echo() };
    PEPROCESS process = wdmsim_process_create("app.exe");

    (void)state;
    wdmsim_process_run(process, application_main, &app);
    wdmsim_process_terminate(process);
    assert_int_equal(app.read_kernel_handle, STATUS_INVALID_HANDLE);
    assert_int_equal(app.open, STATUS_SUCCESS);
    assert_int_equal((ULONG_PTR)app.own_handle & KERNEL_HANDLE_BITS, 0);
    assert_int_equal(app.write_read_only, STATUS_ACCESS_DENIED);
    assert_int_equal(app.read_own, STATUS_SUCCESS);
    assert_int_equal(app.read_mode, UserMode);
    write_ok(app.kernel_handle, "k", &(LARGE_INTEGER){ .QuadPart = 0 });
    assert_int_equal(echo.requestor_mode, KernelMode);
    close_ok(app.kernel_handle);
    wdmsim_driver_unload(driver);
}

/* ---- Overlapped reads completed on another thread ---- */

/* An overlapped read the echo driver pends and another thread completes: its completion may come
 * while the reader is still between handing the IRP over and listing the request, or while the
 * reader's thread is ending and waits for it. */
struct overlapped_read {
    bool reader_leaves;             /* the read is made by a thread that ends without waiting for it */
    struct wdmsim_test_thread reader;
    struct wdmsim_test_thread completer;
    HANDLE handle;
    NTSTATUS loaded;
    NTSTATUS opened;
    NTSTATUS started;               /* ZwReadFile's status */
    NTSTATUS waited;                /* the wait on the file's status */
    IO_STATUS_BLOCK iosb;
    char buffer[8];
};

/* A thread's body as well: the read, then, for a reader that stays, the wait on the file. */
static void read_overlapped(void *context)
{
    struct overlapped_read *r = context;
    LARGE_INTEGER offset = { .QuadPart = 0 };

    r->started = ZwReadFile(r->handle, NULL, NULL, NULL, &r->iosb, r->buffer, sizeof r->buffer - 1, &offset, NULL);
    if (!r->reader_leaves)
        r->waited = ZwWaitForSingleObject(r->handle, FALSE, NULL);
}

static void read_while_another_thread_completes(struct overlapped_read *r)
{
    wdmsim_test_thread_start(&r->completer, echo_complete_pending, NULL);
    if (r->reader_leaves) {
        wdmsim_test_thread_start(&r->reader, read_overlapped, r);
        wdmsim_test_thread_join(&r->reader);
    } else {
        read_overlapped(r);
    }
    wdmsim_test_thread_join(&r->completer);
}

/* A scenario: also run by wdmsim_explore in child kernels, so it records and asserts nothing. */
static void read_completed_by_another_thread(void *context)
{
    struct overlapped_read *r = context;
    bool reader_leaves = r->reader_leaves;
    PDRIVER_OBJECT driver = NULL;
    IO_STATUS_BLOCK iosb;

    memset(r, 0, sizeof *r);
    r->reader_leaves = reader_leaves;
    echo_reset();
    echo.pend_reads = TRUE;
    echo.data_length = 4;
    memcpy(echo.data, "late", echo.data_length);
    r->loaded = wdmsim_driver_load("echo", echo_entry, &driver);
    if (!NT_SUCCESS(r->loaded))
        return;
    r->opened = try_open(ECHO_DEVICE, GENERIC_READ, FILE_OPEN, 0, &r->handle, &iosb);
    if (NT_SUCCESS(r->opened)) {
        read_while_another_thread_completes(r);
        ZwClose(r->handle);
    }
    wdmsim_driver_unload(driver);
}

/* Explores the scenario under random schedules: whoever finishes with the request last frees it,
 * exactly once. A use after free stops the machine (the freed request is poisoned, so setting its
 * `finished` event finds no event), a second free crashes, a request never freed leaks its file. */
static void explore_read_completed_by_another_thread(bool reader_leaves)
{
    struct wdmsim_explore_config config = { .strategy = "random", .first_seed = 1, .seeds = 300 };
    struct wdmsim_explore_result result;
    struct overlapped_read r = { .reader_leaves = reader_leaves };

    assert_int_equal(wdmsim_explore(&config, read_completed_by_another_thread, &r, &result), 0);
    assert_int_equal(result.failed, 0);
    assert_int_equal(result.schedules, config.seeds);
}

static void an_overlapped_read_completed_on_another_thread_before_the_reader_links_it_is_freed_once(void **state)
{
    (void)state;
    explore_read_completed_by_another_thread(false);
}

static void an_overlapped_read_completed_on_another_thread_while_its_thread_ends_is_freed_once(void **state)
{
    (void)state;
    explore_read_completed_by_another_thread(true);
}

/* The first schedule of the exploration above that freed a request under its completion, before
 * the keeper was decided under the lock: the completer has delivered the read and is about to set
 * `finished` when the reader lists its request, finds it done and frees it. (Other scheduling
 * points on this path would move that interleaving to another seed; the exploration still covers
 * it.) */
#define COMPLETED_BEFORE_LINKED_SCHEDULE "random:33"

static void the_schedule_that_completed_an_overlapped_read_before_its_reader_linked_it_runs_clean(void **state)
{
    struct wdmsim_config config = { .clock = WDMSIM_CLOCK_VIRTUAL, .schedule = COMPLETED_BEFORE_LINKED_SCHEDULE };
    struct overlapped_read r = { .reader_leaves = false };

    (void)state;
    wdmsim_boot(&config);
    read_completed_by_another_thread(&r);
    assert_int_equal(r.loaded, STATUS_SUCCESS);
    assert_int_equal(r.opened, STATUS_SUCCESS);
    assert_int_equal(r.started, STATUS_PENDING);
    assert_int_equal(r.waited, STATUS_SUCCESS);
    assert_int_equal(r.iosb.Status, STATUS_SUCCESS);
    assert_int_equal(r.iosb.Information, 4);
    assert_string_equal(r.buffer, "late");
    assert_int_equal(wdmsim_shutdown(), 0);
}

/* ---- IRQL ---- */

static void open_at_dispatch_level(void *context)
{
    IO_STATUS_BLOCK iosb;
    HANDLE handle;
    KIRQL old;

    (void)context;
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    try_open(L"\\Device\\Anything", GENERIC_READ, FILE_OPEN, 0, &handle, &iosb);
}

static void ZwCreateFile_above_PASSIVE_LEVEL_stops_with_0xC4_0xE6(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(open_at_dispatch_level, NULL, 0xC4, 0xE6, "zw.file_not_passive", &stop);
    assert_non_null(strstr(stop.report, "ZwCreateFile"));
}

static void read_at_apc_level(void *context)
{
    IO_STATUS_BLOCK iosb;
    UCHAR buffer[4];
    KIRQL old;

    (void)context;
    KeRaiseIrql(APC_LEVEL, &old);
    ZwReadFile((HANDLE)4, NULL, NULL, NULL, &iosb, buffer, sizeof buffer, NULL, NULL);
}

static void ZwReadFile_at_APC_LEVEL_stops_with_0xC4_0xE6(void **state)
{
    (void)state;
    wdmsim_assert_stops(read_at_apc_level, NULL, 0xC4, 0xE6, "zw.file_not_passive", NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        file_test(ZwCreateFile_opens_a_device_by_name_and_sends_IRP_MJ_CREATE_in_the_caller_thread),
        file_test(ZwCreateFile_follows_symbolic_links_in_DosDevices_whatever_the_case),
        file_test(ZwCreateFile_of_a_missing_name_returns_STATUS_OBJECT_NAME_NOT_FOUND),
        file_test(ZwCreateFile_of_a_name_whose_Length_exceeds_MaximumLength_or_is_odd_returns_STATUS_OBJECT_NAME_INVALID),
        file_test(ZwCreateFile_of_a_name_that_is_not_a_device_returns_STATUS_OBJECT_TYPE_MISMATCH),
        file_test(ZwCreateFile_with_FILE_CREATE_collides_with_an_existing_name_and_FILE_OPEN_IF_opens_it),
        file_test(ZwCreateFile_of_an_exclusive_device_allows_one_open_at_a_time),
        file_test(ZwCreateFile_of_a_device_its_driver_left_initializing_returns_STATUS_NO_SUCH_DEVICE),
        file_test(ZwCreateFile_failed_by_the_driver_returns_its_status_and_sends_no_cleanup_or_close),
        file_test(ZwCreateFile_refuses_synchronous_io_without_SYNCHRONIZE_access),
        file_test(ZwWriteFile_to_a_buffered_device_copies_the_data_into_a_system_buffer),
        file_test(ZwReadFile_from_a_buffered_device_copies_back_only_Information_bytes),
        file_test(ZwReadFile_from_a_neither_device_hands_the_driver_the_caller_buffer),
        file_test(ZwReadFile_from_a_direct_io_device_is_served_as_buffered_until_MDLs_exist),
        file_test(ZwReadFile_on_an_asynchronous_handle_needs_a_ByteOffset),
        file_test(ZwWriteFile_on_a_synchronous_handle_uses_and_advances_the_file_position),
        file_test(ZwReadFile_with_an_ApcRoutine_is_not_implemented_yet),
        file_test(a_request_that_completes_at_once_sets_the_callers_Event_or_else_the_file_event),
        file_test(ZwDeviceIoControlFile_METHOD_BUFFERED_copies_input_in_and_Information_bytes_out),
        file_test(ZwDeviceIoControlFile_METHOD_NEITHER_passes_the_caller_pointers),
        file_test(ZwDeviceIoControlFile_Parameters_read_through_Others_as_on_Windows),
        file_test(ZwQueryInformationFile_sends_FileStandardInformation_to_the_driver),
        file_test(ZwQueryInformationFile_answers_FilePositionInformation_itself_for_a_synchronous_file_only),
        file_test(ZwQueryInformationFile_with_a_short_buffer_returns_STATUS_INFO_LENGTH_MISMATCH),
        file_test(ZwQueryInformationFile_sends_other_classes_to_the_driver_buffered),
        file_test(ZwSetInformationFile_sends_FileEndOfFileInformation_to_the_driver_buffered),
        file_test(ZwSetInformationFile_sets_a_synchronous_file_position_itself),
        file_test(ZwFlushBuffersFile_sends_IRP_MJ_FLUSH_BUFFERS),
        file_test(ZwOpenFile_opens_an_existing_device_as_ZwCreateFile_with_FILE_OPEN),
        file_test(Zw_file_calls_on_a_handle_to_another_object_type_return_STATUS_OBJECT_TYPE_MISMATCH),
        file_test(Zw_file_calls_on_a_closed_handle_return_STATUS_INVALID_HANDLE),
        file_test(the_last_handle_sends_IRP_MJ_CLEANUP_and_the_last_reference_IRP_MJ_CLOSE),
        file_test(a_last_dereference_above_PASSIVE_LEVEL_sends_IRP_MJ_CLOSE_from_a_worker_thread),
        file_test(an_application_gets_process_handles_user_mode_requests_and_access_checks),
        file_test(an_overlapped_read_completed_on_another_thread_before_the_reader_links_it_is_freed_once),
        file_test(an_overlapped_read_completed_on_another_thread_while_its_thread_ends_is_freed_once),
        file_test(the_schedule_that_completed_an_overlapped_read_before_its_reader_linked_it_runs_clean),
        file_test(ZwCreateFile_above_PASSIVE_LEVEL_stops_with_0xC4_0xE6),
        file_test(ZwReadFile_at_APC_LEVEL_stops_with_0xC4_0xE6),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
