/*
 * test_errorlog.c - the error log (errorlog.c): a driver allocates an entry for its device, fills
 * it (codes, dump data, insertion strings) and writes it, and the host reads it back with the
 * driver's and device's names; sizes out of range; an entry written twice, and one left at unload.
 */
#include "wdmsim_test_drivers.h"

#define LOG_DEVICE L"\\Device\\LogDevice"
#define LOG_ERROR_CODE ((NTSTATUS)0xC0040001L)

static struct {
    bool leave_one;                 /* DriverEntry allocates an entry it never writes */
    bool write_twice;
    PVOID too_small, too_large, of_nothing;
} logdrv;

static VOID NTAPI LogUnload(PDRIVER_OBJECT DriverObject)
{
    IoDeleteDevice(DriverObject->DeviceObject);
}

/* An entry with two dump ULONGs and one insertion string after them. */
static void write_entry(PDEVICE_OBJECT device)
{
    static const WCHAR text[] = L"port 378";
    UCHAR size = (UCHAR)(sizeof(IO_ERROR_LOG_PACKET) + sizeof(ULONG) + sizeof text);
    PIO_ERROR_LOG_PACKET entry = IoAllocateErrorLogEntry(device, size);

    if (entry == NULL)
        return;
    entry->ErrorCode = LOG_ERROR_CODE;
    entry->UniqueErrorValue = 7;
    entry->FinalStatus = STATUS_DEVICE_BUSY;
    entry->MajorFunctionCode = IRP_MJ_WRITE;
    entry->DumpDataSize = 2 * sizeof(ULONG);
    entry->DumpData[0] = 0x11111111;
    entry->DumpData[1] = 0x22222222;
    entry->NumberOfStrings = 1;
    entry->StringOffset = (USHORT)(sizeof(IO_ERROR_LOG_PACKET) + sizeof(ULONG));
    RtlCopyMemory((PUCHAR)entry + entry->StringOffset, text, sizeof text);
    IoWriteErrorLogEntry(entry);
    if (logdrv.write_twice)
        IoWriteErrorLogEntry(entry);
}

static NTSTATUS NTAPI LogEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    UNICODE_STRING name;
    PDEVICE_OBJECT device;
    NTSTATUS status;

    UNREFERENCED_PARAMETER(RegistryPath);
    DriverObject->DriverUnload = LogUnload;
    RtlInitUnicodeString(&name, LOG_DEVICE);
    status = IoCreateDevice(DriverObject, 0, &name, FILE_DEVICE_UNKNOWN, 0, FALSE, &device);
    if (!NT_SUCCESS(status))
        return status;
    logdrv.too_small = IoAllocateErrorLogEntry(device, sizeof(IO_ERROR_LOG_PACKET) - 1);
    logdrv.too_large = IoAllocateErrorLogEntry(DriverObject, ERROR_LOG_MAXIMUM_SIZE + 1);
    logdrv.of_nothing = IoAllocateErrorLogEntry(&name, sizeof(IO_ERROR_LOG_PACKET));
    write_entry(device);
    if (logdrv.leave_one)
        IoAllocateErrorLogEntry(DriverObject, sizeof(IO_ERROR_LOG_PACKET));
    return STATUS_SUCCESS;
}

static void a_written_entry_reaches_the_log_with_the_drivers_and_devices_names(void **state)
{
    struct wdmsim_error_log_entry entry, past_the_end;
    PDRIVER_OBJECT driver;

    (void)state;
    assert_int_equal(wdmsim_error_log_count(), 0);
    driver = load("logdrv", LogEntry);
    assert_int_equal(wdmsim_error_log_count(), 1);
    assert_true(wdmsim_error_log_entry(0, &entry));
    assert_false(wdmsim_error_log_entry(1, &past_the_end));
    assert_string_equal(entry.driver, "\\Driver\\logdrv");
    assert_string_equal(entry.device, "\\Device\\LogDevice");
    assert_int_equal(entry.error_code, LOG_ERROR_CODE);
    assert_int_equal(entry.unique_error_value, 7);
    assert_int_equal(entry.final_status, STATUS_DEVICE_BUSY);
    assert_int_equal(entry.major_function, IRP_MJ_WRITE);
    assert_int_equal(entry.dump_data_size, 8);
    assert_int_equal(entry.dump_data[1], 0x22222222);
    assert_int_equal(entry.number_of_strings, 1);
    assert_string_equal(entry.strings, "port 378\n");
    assert_true(entry.time > 0);
    wdmsim_driver_unload(driver);
}

static void an_entry_smaller_than_a_packet_or_larger_than_the_maximum_is_refused(void **state)
{
    PDRIVER_OBJECT driver;

    (void)state;
    driver = load("logdrv", LogEntry);
    assert_null(logdrv.too_small);
    assert_null(logdrv.too_large);
    assert_null(logdrv.of_nothing);
    wdmsim_driver_unload(driver);
}

static void load_writing_twice(void *context)
{
    (void)context;
    logdrv.write_twice = true;
    load_in_child("logdrv", LogEntry);
}

static void an_entry_written_twice_stops_as_the_double_free_it_is(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(load_writing_twice, NULL, 0xC2, 0x07, "errorlog.not_an_entry", &stop);
    wdmsim_assert_report_has(&stop, "IoWriteErrorLogEntry");
}

static void load_and_unload_leaving_one(void *context)
{
    PDRIVER_OBJECT driver;

    (void)context;
    logdrv.leave_one = true;
    driver = load_in_child("logdrv", LogEntry);
    if (driver != NULL)
        wdmsim_driver_unload(driver);
}

static void an_entry_neither_written_nor_freed_at_unload_is_a_leak(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(load_and_unload_leaving_one, NULL, 0xC4, 0x62, "driver.unload_leaked_references", &stop);
    wdmsim_assert_report_has(&stop, "error log entry");
}

static void IoFreeErrorLogEntry_drops_an_entry_unwritten(void **state)
{
    PDRIVER_OBJECT driver;
    PVOID entry;

    (void)state;
    driver = load("logdrv", LogEntry);
    entry = IoAllocateErrorLogEntry(driver, sizeof(IO_ERROR_LOG_PACKET));
    assert_non_null(entry);
    IoFreeErrorLogEntry(entry);
    assert_int_equal(wdmsim_error_log_count(), 1);
    wdmsim_driver_unload(driver);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        wdmsim_test(a_written_entry_reaches_the_log_with_the_drivers_and_devices_names),
        wdmsim_test(an_entry_smaller_than_a_packet_or_larger_than_the_maximum_is_refused),
        wdmsim_test(an_entry_written_twice_stops_as_the_double_free_it_is),
        wdmsim_test(an_entry_neither_written_nor_freed_at_unload_is_a_leak),
        wdmsim_test(IoFreeErrorLogEntry_drops_an_entry_unwritten),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
