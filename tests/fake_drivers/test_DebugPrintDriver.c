/*
 * test_DebugPrintDriver.c - the receiving DebugPrint driver (fake_drivers/debugprint) through the
 * I/O manager: what a read of each size gets from its event queue, as its statistics count it.
 * The driver is the module a user hosts (debugprint.so); the reads use an overlapped kernel
 * handle, as the Monitor's are overlapped.
 */
#include "wdmsim_test.h"

#include "DbgPrtGUID.h"

static const WCHAR device_name[] = L"\\Device\\PHDDebugPrint";

struct debugprint_fixture {
    PDRIVER_OBJECT driver;
    HANDLE device;
};

static int debugprint_setup(void **state)
{
    static struct debugprint_fixture fixture;
    UNICODE_STRING name;
    OBJECT_ATTRIBUTES attributes;
    IO_STATUS_BLOCK iosb;

    wdmsim_test_boot(state);
    assert_int_equal(wdmsim_driver_load_module(DEBUGPRINT_MODULE, "DebugPrint", &fixture.driver), STATUS_SUCCESS);
    RtlInitUnicodeString(&name, device_name);
    InitializeObjectAttributes(&attributes, &name, OBJ_CASE_INSENSITIVE | OBJ_KERNEL_HANDLE, NULL, NULL);
    assert_int_equal(ZwCreateFile(&fixture.device, GENERIC_READ | GENERIC_WRITE, &attributes, &iosb, NULL, 0,
                                  FILE_SHARE_READ | FILE_SHARE_WRITE, FILE_OPEN, 0, NULL, 0),
                     STATUS_SUCCESS);
    *state = &fixture;
    return 0;
}

static int debugprint_teardown(void **state)
{
    struct debugprint_fixture *fixture = *state;

    ZwClose(fixture->device);
    wdmsim_driver_unload(fixture->driver);
    return wdmsim_test_shutdown(state);
}

#define debugprint_test(fn) cmocka_unit_test_setup_teardown(fn, debugprint_setup, debugprint_teardown)

static void write_event(HANDLE device, const char *text)
{
    LARGE_INTEGER offset = { .QuadPart = 0 };
    IO_STATUS_BLOCK iosb;

    assert_int_equal(ZwWriteFile(device, NULL, NULL, NULL, &iosb, (PVOID)text, (ULONG)strlen(text), &offset, NULL),
                     STATUS_SUCCESS);
    assert_int_equal(iosb.Information, strlen(text));
}

/* A read that must complete at once (it may not pend): its status, its byte count in *count. */
static NTSTATUS read_now(HANDLE device, PVOID buffer, ULONG length, ULONG_PTR *count)
{
    LARGE_INTEGER offset = { .QuadPart = 0 };
    IO_STATUS_BLOCK iosb = { .Information = 0xBAD };
    NTSTATUS status = ZwReadFile(device, NULL, NULL, NULL, &iosb, buffer, length, &offset, NULL);

    assert_int_not_equal(status, STATUS_PENDING);
    assert_int_equal(iosb.Status, status);
    *count = iosb.Information;
    return status;
}

static DBGPRT_STATISTICS statistics(HANDLE device)
{
    DBGPRT_STATISTICS s;
    IO_STATUS_BLOCK iosb;

    assert_int_equal(ZwDeviceIoControlFile(device, NULL, NULL, NULL, &iosb, IOCTL_DEBUGPRINT_GET_STATISTICS, NULL, 0,
                                           &s, sizeof s),
                     STATUS_SUCCESS);
    return s;
}

static void a_zero_length_read_completes_with_no_data_and_leaves_the_event_queued(void **state)
{
    struct debugprint_fixture *fixture = *state;
    char buffer[32] = { 0 };
    ULONG_PTR count;
    DBGPRT_STATISTICS s;

    write_event(fixture->device, "kept");
    assert_int_equal(read_now(fixture->device, buffer, 0, &count), STATUS_SUCCESS);
    assert_int_equal(count, 0);
    s = statistics(fixture->device);
    assert_int_equal(s.Queued, 1);
    assert_int_equal(s.Read, 0);
    assert_int_equal(s.Truncated, 0);
    assert_int_equal(read_now(fixture->device, buffer, sizeof buffer, &count), STATUS_SUCCESS);
    assert_int_equal(count, 4);
    assert_memory_equal(buffer, "kept", 4);
    s = statistics(fixture->device);
    assert_int_equal(s.Queued, 0);
    assert_int_equal(s.Read, 1);
}

static void a_zero_length_read_with_nothing_queued_does_not_wait(void **state)
{
    struct debugprint_fixture *fixture = *state;
    ULONG_PTR count;

    assert_int_equal(read_now(fixture->device, NULL, 0, &count), STATUS_SUCCESS);
    assert_int_equal(count, 0);
    assert_int_equal(statistics(fixture->device).Read, 0);
}

static void a_read_shorter_than_the_event_gets_its_start_and_counts_it_truncated(void **state)
{
    struct debugprint_fixture *fixture = *state;
    char buffer[8] = { 0 };
    ULONG_PTR count;
    DBGPRT_STATISTICS s;

    write_event(fixture->device, "longer than three");
    assert_int_equal(read_now(fixture->device, buffer, 3, &count), STATUS_SUCCESS);
    assert_int_equal(count, 3);
    assert_memory_equal(buffer, "lon", 3);
    s = statistics(fixture->device);
    assert_int_equal(s.Read, 1);
    assert_int_equal(s.Truncated, 1);
    assert_int_equal(s.Queued, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        debugprint_test(a_zero_length_read_completes_with_no_data_and_leaves_the_event_queued),
        debugprint_test(a_zero_length_read_with_nothing_queued_does_not_wait),
        debugprint_test(a_read_shorter_than_the_event_gets_its_start_and_counts_it_truncated),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
