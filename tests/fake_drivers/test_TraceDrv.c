/*
 * test_TraceDrv.c - TraceDrv (fake_drivers/tracedrv) through the I/O manager: its shared buffer
 * as reads and writes of each size see it, zero included. The driver is the module a user
 * hosts (tracedrv.so); the DebugPrint driver is not loaded, so its traces wait in its own queue.
 */
#include <stdbool.h>

#include "wdmsim_test.h"

#include "TraceDrv.h"

struct tracedrv_fixture {
    PDRIVER_OBJECT driver;
    HANDLE device;
};

static int tracedrv_setup(void **state)
{
    static struct tracedrv_fixture fixture;
    UNICODE_STRING name;
    OBJECT_ATTRIBUTES attributes;
    IO_STATUS_BLOCK iosb;

    wdmsim_test_boot(state);
    assert_int_equal(wdmsim_driver_load_module(TRACEDRV_MODULE, "TraceDrv", &fixture.driver), STATUS_SUCCESS);
    RtlInitUnicodeString(&name, TRACEDRV_LINK_NAME);
    InitializeObjectAttributes(&attributes, &name, OBJ_CASE_INSENSITIVE | OBJ_KERNEL_HANDLE, NULL, NULL);
    assert_int_equal(ZwCreateFile(&fixture.device, GENERIC_READ | GENERIC_WRITE | SYNCHRONIZE, &attributes, &iosb,
                                  NULL, 0, FILE_SHARE_READ | FILE_SHARE_WRITE, FILE_OPEN,
                                  FILE_SYNCHRONOUS_IO_NONALERT, NULL, 0),
                     STATUS_SUCCESS);
    *state = &fixture;
    return 0;
}

static int tracedrv_teardown(void **state)
{
    struct tracedrv_fixture *fixture = *state;

    ZwClose(fixture->device);
    wdmsim_driver_unload(fixture->driver);
    return wdmsim_test_shutdown(state);
}

#define tracedrv_test(fn) cmocka_unit_test_setup_teardown(fn, tracedrv_setup, tracedrv_teardown)

static NTSTATUS transfer(HANDLE device, bool write, PVOID buffer, ULONG length, ULONG_PTR *count)
{
    LARGE_INTEGER offset = { .QuadPart = 0 };
    IO_STATUS_BLOCK iosb = { .Information = 0xBAD };
    NTSTATUS status = write ? ZwWriteFile(device, NULL, NULL, NULL, &iosb, buffer, length, &offset, NULL)
                            : ZwReadFile(device, NULL, NULL, NULL, &iosb, buffer, length, &offset, NULL);

    *count = iosb.Information;
    return status;
}

static void a_read_returns_what_the_last_write_left_cut_to_its_length(void **state)
{
    struct tracedrv_fixture *fixture = *state;
    char buffer[16] = { 0 };
    ULONG_PTR count;

    assert_int_equal(transfer(fixture->device, true, "shared", 6, &count), STATUS_SUCCESS);
    assert_int_equal(count, 6);
    assert_int_equal(transfer(fixture->device, false, buffer, 4, &count), STATUS_SUCCESS);
    assert_int_equal(count, 4);
    assert_memory_equal(buffer, "shar", 4);
}

/* Zero-length requests come without a system buffer: the driver must not copy to or from it
 * (memcpy with NULL is undefined even for 0 bytes; the asan preset's UBSan stops on it). */
static void zero_length_reads_and_writes_complete_with_no_data(void **state)
{
    struct tracedrv_fixture *fixture = *state;
    char buffer[16] = { 0 };
    ULONG_PTR count;

    assert_int_equal(transfer(fixture->device, false, NULL, 0, &count), STATUS_SUCCESS);
    assert_int_equal(count, 0);
    assert_int_equal(transfer(fixture->device, true, "kept", 4, &count), STATUS_SUCCESS);
    assert_int_equal(transfer(fixture->device, false, NULL, 0, &count), STATUS_SUCCESS);
    assert_int_equal(count, 0);
    assert_int_equal(transfer(fixture->device, true, NULL, 0, &count), STATUS_SUCCESS);
    assert_int_equal(count, 0);
    assert_int_equal(transfer(fixture->device, false, buffer, sizeof buffer, &count), STATUS_SUCCESS);
    assert_int_equal(count, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        tracedrv_test(a_read_returns_what_the_last_write_left_cut_to_its_length),
        tracedrv_test(zero_length_reads_and_writes_complete_with_no_data),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
