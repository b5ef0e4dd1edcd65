/*
 * test_handle_context.c - the seed's lesson, replayed: the first DebugPrint design opened its
 * device in DriverEntry and wrote to it from dispatch routines. DriverEntry runs in the System
 * process, so a handle opened there without OBJ_KERNEL_HANDLE lives in System's handle table; a
 * dispatch routine runs in the process of the application that called it, where that handle does
 * not exist: Driver Verifier stops the machine (0xC4 / 0xF6, a user-mode handle referenced as
 * kernel mode), where Windows without it fails the write. The same write from a system thread
 * (System process) works, and so does a kernel handle from anywhere.
 *
 * Two drivers: "sink" owns \Device\WdmsimSink and counts writes; "opener" opens the sink in
 * DriverEntry twice (a process handle, the book's mistake, and a kernel handle, the fix) and
 * forwards what an application writes to it.
 */
#include <wdmsim/test.h>

#define SINK_DEVICE L"\\Device\\WdmsimSink"
#define OPENER_DEVICE L"\\Device\\WdmsimOpener"
#define OPENER_LINK L"\\??\\WdmsimOpener"
#define IOCTL_OPENER_FROM_SYSTEM_THREAD CTL_CODE(FILE_DEVICE_UNKNOWN, 0x800, METHOD_BUFFERED, FILE_ANY_ACCESS)
#define IOCTL_OPENER_WITH_KERNEL_HANDLE CTL_CODE(FILE_DEVICE_UNKNOWN, 0x801, METHOD_BUFFERED, FILE_ANY_ACCESS)

static NTSTATUS complete(PIRP irp, NTSTATUS status, ULONG_PTR information)
{
    irp->IoStatus.Status = status;
    irp->IoStatus.Information = information;
    IoCompleteRequest(irp, IO_NO_INCREMENT);
    return status;
}

/* ---- The sink ---- */

static LONG sink_writes;

static NTSTATUS NTAPI sink_dispatch(PDEVICE_OBJECT device, PIRP irp)
{
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(irp);

    (void)device;
    if (stack->MajorFunction != IRP_MJ_WRITE)
        return complete(irp, STATUS_SUCCESS, 0);
    InterlockedIncrement(&sink_writes);
    return complete(irp, STATUS_SUCCESS, stack->Parameters.Write.Length);
}

static VOID NTAPI sink_unload(PDRIVER_OBJECT driver)
{
    IoDeleteDevice(driver->DeviceObject);
}

static NTSTATUS NTAPI sink_entry(PDRIVER_OBJECT driver, PUNICODE_STRING registry_path)
{
    UNICODE_STRING name;
    PDEVICE_OBJECT device;
    NTSTATUS status;

    (void)registry_path;
    driver->MajorFunction[IRP_MJ_CREATE] = sink_dispatch;
    driver->MajorFunction[IRP_MJ_CLOSE] = sink_dispatch;
    driver->MajorFunction[IRP_MJ_WRITE] = sink_dispatch;
    driver->DriverUnload = sink_unload;
    RtlInitUnicodeString(&name, SINK_DEVICE);
    status = IoCreateDevice(driver, 0, &name, FILE_DEVICE_UNKNOWN, 0, FALSE, &device);
    if (NT_SUCCESS(status))
        device->Flags = (device->Flags | DO_BUFFERED_IO) & ~DO_DEVICE_INITIALIZING;
    return status;
}

/* ---- The opener ---- */

static struct {
    HANDLE process_handle;          /* opened in DriverEntry without OBJ_KERNEL_HANDLE */
    HANDLE kernel_handle;           /* opened in DriverEntry with it */
    NTSTATUS thread_status;         /* what the system thread's write returned */
} opener;

static NTSTATUS open_sink(ULONG attributes, PHANDLE handle)
{
    UNICODE_STRING name;
    OBJECT_ATTRIBUTES object;
    IO_STATUS_BLOCK iosb;

    RtlInitUnicodeString(&name, SINK_DEVICE);
    InitializeObjectAttributes(&object, &name, attributes, NULL, NULL);
    return ZwCreateFile(handle, GENERIC_WRITE, &object, &iosb, NULL, FILE_ATTRIBUTE_NORMAL, 0, FILE_OPEN, 0, NULL, 0);
}

static NTSTATUS write_sink(HANDLE handle)
{
    static char message[] = "event";
    LARGE_INTEGER offset = { .QuadPart = 0 };
    IO_STATUS_BLOCK iosb;

    return ZwWriteFile(handle, NULL, NULL, NULL, &iosb, message, sizeof message - 1, &offset, NULL);
}

static VOID NTAPI opener_thread(PVOID context)
{
    (void)context;
    opener.thread_status = write_sink(opener.process_handle);
}

/* Hands the write to a new system thread and waits for it. */
static NTSTATUS write_from_system_thread(void)
{
    OBJECT_ATTRIBUTES attributes;
    HANDLE handle;
    PVOID thread;
    NTSTATUS status;

    InitializeObjectAttributes(&attributes, NULL, OBJ_KERNEL_HANDLE, NULL, NULL);
    status = PsCreateSystemThread(&handle, THREAD_ALL_ACCESS, &attributes, NULL, NULL, opener_thread, NULL);
    if (!NT_SUCCESS(status))
        return status;
    status = ObReferenceObjectByHandle(handle, SYNCHRONIZE, *PsThreadType, KernelMode, &thread, NULL);
    ZwClose(handle);
    if (!NT_SUCCESS(status))
        return status;
    KeWaitForSingleObject(thread, Executive, KernelMode, FALSE, NULL);
    ObDereferenceObject(thread);
    return opener.thread_status;
}

static NTSTATUS NTAPI opener_dispatch(PDEVICE_OBJECT device, PIRP irp)
{
    PIO_STACK_LOCATION stack = IoGetCurrentIrpStackLocation(irp);

    (void)device;
    switch (stack->MajorFunction) {
    case IRP_MJ_WRITE:
        return complete(irp, write_sink(opener.process_handle), 0);
    case IRP_MJ_DEVICE_CONTROL:
        if (stack->Parameters.DeviceIoControl.IoControlCode == IOCTL_OPENER_FROM_SYSTEM_THREAD)
            return complete(irp, write_from_system_thread(), 0);
        return complete(irp, write_sink(opener.kernel_handle), 0);
    default:
        return complete(irp, STATUS_SUCCESS, 0);
    }
}

static VOID NTAPI opener_unload(PDRIVER_OBJECT driver)
{
    UNICODE_STRING link;

    ZwClose(opener.process_handle);
    ZwClose(opener.kernel_handle);
    RtlInitUnicodeString(&link, OPENER_LINK);
    IoDeleteSymbolicLink(&link);
    IoDeleteDevice(driver->DeviceObject);
}

static NTSTATUS NTAPI opener_entry(PDRIVER_OBJECT driver, PUNICODE_STRING registry_path)
{
    UNICODE_STRING name, link;
    PDEVICE_OBJECT device;
    NTSTATUS status;

    (void)registry_path;
    driver->MajorFunction[IRP_MJ_CREATE] = opener_dispatch;
    driver->MajorFunction[IRP_MJ_CLOSE] = opener_dispatch;
    driver->MajorFunction[IRP_MJ_WRITE] = opener_dispatch;
    driver->MajorFunction[IRP_MJ_DEVICE_CONTROL] = opener_dispatch;
    driver->DriverUnload = opener_unload;
    status = open_sink(OBJ_CASE_INSENSITIVE | OBJ_KERNEL_HANDLE, &opener.kernel_handle);
    if (!NT_SUCCESS(status))
        return status;
    status = open_sink(OBJ_CASE_INSENSITIVE, &opener.process_handle);
    if (!NT_SUCCESS(status)) {
        ZwClose(opener.kernel_handle);
        return status;
    }
    RtlInitUnicodeString(&name, OPENER_DEVICE);
    RtlInitUnicodeString(&link, OPENER_LINK);
    status = IoCreateDevice(driver, 0, &name, FILE_DEVICE_UNKNOWN, 0, FALSE, &device);
    if (NT_SUCCESS(status) && !NT_SUCCESS(status = IoCreateSymbolicLink(&link, &name)))
        IoDeleteDevice(device);
    if (!NT_SUCCESS(status)) {
        ZwClose(opener.process_handle);
        ZwClose(opener.kernel_handle);
        return status;
    }
    device->Flags = (device->Flags | DO_BUFFERED_IO) & ~DO_DEVICE_INITIALIZING;
    return STATUS_SUCCESS;
}

/* ---- The application ---- */

struct application {
    NTSTATUS open;
    NTSTATUS from_system_thread;    /* DeviceIoControl: the driver writes from a system thread */
    NTSTATUS with_kernel_handle;    /* DeviceIoControl: the driver writes with its kernel handle */
    BOOLEAN write;                  /* also WriteFile: the dispatch routine writes in our process */
};

static void application_main(void *context)
{
    struct application *app = context;
    LARGE_INTEGER offset = { .QuadPart = 0 };
    UNICODE_STRING name;
    OBJECT_ATTRIBUTES attributes;
    IO_STATUS_BLOCK iosb;
    HANDLE handle;
    char text[] = "hello";

    RtlInitUnicodeString(&name, OPENER_LINK);
    InitializeObjectAttributes(&attributes, &name, OBJ_CASE_INSENSITIVE, NULL, NULL);
    app->open = ZwCreateFile(&handle, GENERIC_READ | GENERIC_WRITE, &attributes, &iosb, NULL, FILE_ATTRIBUTE_NORMAL,
                             0, FILE_OPEN, 0, NULL, 0);
    if (!NT_SUCCESS(app->open))
        return;
    app->from_system_thread = ZwDeviceIoControlFile(handle, NULL, NULL, NULL, &iosb, IOCTL_OPENER_FROM_SYSTEM_THREAD,
                                                    NULL, 0, NULL, 0);
    app->with_kernel_handle = ZwDeviceIoControlFile(handle, NULL, NULL, NULL, &iosb, IOCTL_OPENER_WITH_KERNEL_HANDLE,
                                                    NULL, 0, NULL, 0);
    if (app->write)
        ZwWriteFile(handle, NULL, NULL, NULL, &iosb, text, sizeof text - 1, &offset, NULL);
    ZwClose(handle);
}

static void run_application(struct application *app)
{
    PDRIVER_OBJECT sink = NULL, driver = NULL;
    PEPROCESS process;

    sink_writes = 0;
    memset(&opener, 0, sizeof opener);
    assert_int_equal(wdmsim_driver_load("sink", sink_entry, &sink), STATUS_SUCCESS);
    assert_int_equal(wdmsim_driver_load("opener", opener_entry, &driver), STATUS_SUCCESS);
    process = wdmsim_process_create("app.exe");
    wdmsim_process_run(process, application_main, app);
    wdmsim_process_terminate(process);
    wdmsim_driver_unload(driver);
    wdmsim_driver_unload(sink);
}

static void a_handle_opened_in_DriverEntry_works_from_a_system_thread_and_as_a_kernel_handle(void **state)
{
    struct application app = { STATUS_UNSUCCESSFUL, STATUS_UNSUCCESSFUL, STATUS_UNSUCCESSFUL, FALSE };

    (void)state;
    run_application(&app);
    assert_int_equal(app.open, STATUS_SUCCESS);
    assert_int_equal(app.from_system_thread, STATUS_SUCCESS);
    assert_int_equal(app.with_kernel_handle, STATUS_SUCCESS);
    assert_int_equal(sink_writes, 2);
    assert_int_equal(wdmsim_shutdown(), 0);
}

static void write_from_the_dispatch_routine(void *context)
{
    struct application app = { STATUS_UNSUCCESSFUL, STATUS_UNSUCCESSFUL, STATUS_UNSUCCESSFUL, TRUE };

    (void)context;
    run_application(&app);
}

static void a_handle_opened_in_DriverEntry_stops_in_a_dispatch_routine_called_by_an_application(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(write_from_the_dispatch_routine, NULL, 0xC4, 0xF6, "handle.user_handle_as_kernel", &stop);
    assert_non_null(strstr(stop.report, "opener_dispatch"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        wdmsim_test(a_handle_opened_in_DriverEntry_works_from_a_system_thread_and_as_a_kernel_handle),
        wdmsim_test(a_handle_opened_in_DriverEntry_stops_in_a_dispatch_routine_called_by_an_application),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
