/*
 * test_debugprint_pipeline.c - the DebugPrint pipeline end to end in one simulated machine: the
 * DebugPrint driver module (debugprint.so), copies of the DebugPrint user test driver (dpuser.so,
 * each with its own copy of the core) traced from producer threads at PASSIVE_LEVEL, at
 * DISPATCH_LEVEL and from DPCs, and the Monitor (tools/monitor.c) reading as its own user process
 * and saving its rows as tab-separated text, which the cases read back. Every event is accounted
 * for - produced, delivered, received and read - every driver's pool goes back to 0, and the
 * machine shuts down with nothing left. Time is virtual; no case sleeps or looks at wall time.
 */
#define _GNU_SOURCE
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "DbgPrtGUID.h"
#include "dpuser_host.h"
#include "monitor.h"

#define SECOND 10000000LL

static PDRIVER_OBJECT debugprint_load(void)
{
    PDRIVER_OBJECT driver = NULL;

    assert_int_equal(wdmsim_driver_load_module(DEBUGPRINT_MODULE, "DebugPrint", &driver), STATUS_SUCCESS);
    return driver;
}

/* The DebugPrint driver's own counters, through its IOCTL, as host code in the System process. */
static DBGPRT_STATISTICS debugprint_statistics(void)
{
    UNICODE_STRING name;
    OBJECT_ATTRIBUTES attributes;
    IO_STATUS_BLOCK iosb;
    DBGPRT_STATISTICS s;
    HANDLE device;

    RtlInitUnicodeString(&name, DEBUGPRINT_DEVICE_NAME);
    InitializeObjectAttributes(&attributes, &name, OBJ_CASE_INSENSITIVE | OBJ_KERNEL_HANDLE, NULL, NULL);
    assert_int_equal(ZwCreateFile(&device, GENERIC_READ | GENERIC_WRITE, &attributes, &iosb, NULL, 0,
                                  FILE_SHARE_READ | FILE_SHARE_WRITE, FILE_OPEN, 0, NULL, 0),
                     STATUS_SUCCESS);
    assert_int_equal(ZwDeviceIoControlFile(device, NULL, NULL, NULL, &iosb, IOCTL_DEBUGPRINT_GET_STATISTICS, NULL,
                                           0, &s, sizeof s),
                     STATUS_SUCCESS);
    ZwClose(device);
    return s;
}

/* ---- The Monitor, and the rows it saved ---- */

struct reader {
    struct monitor *monitor;
    FILE *out;                      /* its rows for people: not looked at */
    FILE *tsv;                      /* its rows as a file: what the cases check */
    char *text;
    size_t size;
    size_t rows;
    char **driver;                  /* row i: driver[i], message[i], pointing into text */
    char **message;
};

static void reader_start(struct reader *r)
{
    memset(r, 0, sizeof *r);
    r->out = fopen("/dev/null", "w");
    r->tsv = open_memstream(&r->text, &r->size);
    assert_non_null(r->out);
    assert_non_null(r->tsv);
    r->monitor = monitor_start(r->out, r->tsv, 0);
    assert_non_null(r->monitor);
}

/* Stops the Monitor (its handle closed in its own process) and splits its saved rows. */
static void reader_stop(struct reader *r)
{
    size_t shown = monitor_stop(r->monitor);
    char *line;

    fclose(r->out);
    fclose(r->tsv);
    r->driver = calloc(shown + 1, sizeof *r->driver);
    r->message = calloc(shown + 1, sizeof *r->message);
    assert_non_null(r->driver);
    assert_non_null(r->message);
    line = r->text;
    while (line != NULL && *line != '\0') {
        char *time = strchr(line, '\t');
        char *message = time != NULL ? strchr(time + 1, '\t') : NULL;
        char *end = message != NULL ? strchr(message + 1, '\n') : NULL;

        assert_non_null(end);
        assert_true(r->rows < shown);
        *time = *message = *end = '\0';
        r->driver[r->rows] = line;
        r->message[r->rows] = message + 1;
        r->rows++;
        line = end + 1;
    }
    assert_int_equal(r->rows, shown);
}

/* The messages of one driver, in the order the Monitor showed them; free() the array only. */
static const char **reader_messages(const struct reader *r, const char *driver, size_t *count)
{
    const char **messages = calloc(r->rows + 1, sizeof *messages);

    assert_non_null(messages);
    *count = 0;
    for (size_t i = 0; i < r->rows; i++) {
        if (strcmp(r->driver[i], driver) == 0)
            messages[(*count)++] = r->message[i];
    }
    return messages;
}

static void reader_free(struct reader *r)
{
    free(r->driver);
    free(r->message);
    free(r->text);
}

/* ---- Cases ---- */

static void the_Monitor_shows_logging_started_the_drivers_messages_and_logging_ended(void **state)
{
    static const char *const expected[] = {
        "DebugPrint logging started", "m 0", "m 1", "m 2", "DebugPrint logging ended",
    };
    PDRIVER_OBJECT debugprint = debugprint_load();
    struct reader reader;
    struct dpuser one;

    (void)state;
    reader_start(&reader);
    dpuser_load(&one, DPUSER_MODULE, "DpOne");
    dpuser_series(&one, DPUSER_AT_PASSIVE, "m", 0, 3);
    dpuser_unload(&one);
    assert_int_equal(wdmsim_pool_outstanding_by_driver("DpOne", NULL), 0);
    reader_stop(&reader);
    wdmsim_driver_unload(debugprint);
    assert_int_equal(reader.rows, 5);
    for (size_t i = 0; i < reader.rows; i++) {
        assert_string_equal(reader.driver[i], "DpOne");
        assert_string_equal(reader.message[i], expected[i]);
    }
    reader_free(&reader);
    assert_int_equal(wdmsim_shutdown(), 0);
}

#define PRODUCERS 5
#define PER_PRODUCER 200

/* Two drivers, each traced by two threads at PASSIVE_LEVEL, two at DISPATCH_LEVEL and one through
 * DPCs, all at once. 1,000 messages a driver stay under DEBUGPRINT_MAX_QUEUED, so none may drop. */
static void concurrent_producers_of_two_drivers_at_PASSIVE_DISPATCH_LEVEL_and_in_DPCs_all_arrive_each_in_order(
    void **state)
{
    static const ULONG where[PRODUCERS] = { DPUSER_AT_PASSIVE, DPUSER_AT_PASSIVE, DPUSER_AT_DISPATCH,
                                            DPUSER_AT_DISPATCH, DPUSER_IN_DPC };
    static const char *const prefix[PRODUCERS] = { "P0", "P1", "D0", "D1", "C0" };
    PDRIVER_OBJECT debugprint = debugprint_load();
    struct dpuser_producer producers[2][PRODUCERS];
    struct dpuser users[2];
    struct reader reader;
    atomic_bool stop = false;
    DBGPRT_STATISTICS received;

    (void)state;
    reader_start(&reader);
    dpuser_load(&users[0], DPUSER_MODULE, "DpOne");
    dpuser_load(&users[1], DPUSER_MODULE, "DpTwo");
    for (int u = 0; u < 2; u++) {
        for (int p = 0; p < PRODUCERS; p++)
            dpuser_producer_start(&producers[u][p], &users[u], where[p], prefix[p], PER_PRODUCER, &stop);
    }
    for (int u = 0; u < 2; u++) {
        for (int p = 0; p < PRODUCERS; p++)
            dpuser_producer_join(&producers[u][p]);
    }
    /* Once every thread is blocked, each DebugPrint thread has written all it had. */
    wdmsim_test_settle();
    for (int u = 0; u < 2; u++) {
        DEBUGPRINT_STATISTICS s = dpuser_statistics(&users[u]);

        assert_int_equal(s.Produced, PRODUCERS * PER_PRODUCER + 1);
        assert_int_equal(s.Delivered, s.Produced);
        dpuser_unload(&users[u]);
        assert_int_equal(wdmsim_pool_outstanding_by_driver(users[u].name, NULL), 0);
    }
    wdmsim_test_settle();
    received = debugprint_statistics();
    reader_stop(&reader);
    wdmsim_driver_unload(debugprint);
    assert_int_equal(received.Received, 2 * (PRODUCERS * PER_PRODUCER + 2));
    assert_int_equal(received.Dropped, 0);
    assert_int_equal(reader.rows, received.Received);
    for (int u = 0; u < 2; u++) {
        size_t count;
        const char **messages = reader_messages(&reader, users[u].name, &count);

        assert_int_equal(count, PRODUCERS * PER_PRODUCER + 2);
        assert_string_equal(messages[0], "DebugPrint logging started");
        assert_string_equal(messages[count - 1], "DebugPrint logging ended");
        assert_int_equal(dpuser_assert_in_order(messages, count, producers[u], PRODUCERS, true), count - 2);
        free(messages);
    }
    reader_free(&reader);
    assert_int_equal(wdmsim_shutdown(), 0);
}

/* What is still queued when a driver unloads is delivered if the device is open, and cleared if
 * the thread is still waiting for it; either way the driver's pool is back to 0 and the unload
 * check finds nothing. */
static void unloading_with_events_still_queued_delivers_or_clears_each_one_and_frees_the_drivers_pool(void **state)
{
    LONGLONG start = dpuser_now();
    PDRIVER_OBJECT debugprint;
    DEBUGPRINT_STATISTICS s;
    struct reader reader;
    struct dpuser early, burst;
    const char **messages;
    size_t count;

    (void)state;
    /* early starts before the DebugPrint driver: its thread next tries to open at 20 s. */
    dpuser_load(&early, DPUSER_MODULE, "DpEarly");
    dpuser_series(&early, DPUSER_AT_DISPATCH, "q", 0, 50);
    dpuser_wait_until(start + 5 * SECOND);
    debugprint = debugprint_load();
    reader_start(&reader);
    dpuser_load(&burst, DPUSER_MODULE, "DpBurst");
    dpuser_series(&burst, DPUSER_AT_DISPATCH, "b", 0, 500);
    dpuser_unload(&burst);
    dpuser_wait_until(start + 10 * SECOND);
    assert_int_equal(dpuser_statistics(&early).Queued, 51);
    dpuser_close(&early);
    s = dpuser_statistics(&early);
    assert_int_equal(s.Cleared, 52);
    assert_int_equal(s.Delivered, 0);
    dpuser_unload(&early);
    assert_int_equal(wdmsim_pool_outstanding_by_driver("DpBurst", NULL), 0);
    assert_int_equal(wdmsim_pool_outstanding_by_driver("DpEarly", NULL), 0);
    reader_stop(&reader);
    wdmsim_driver_unload(debugprint);
    messages = reader_messages(&reader, "DpBurst", &count);
    assert_int_equal(count, 502);
    assert_string_equal(messages[0], "DebugPrint logging started");
    for (size_t i = 1; i <= 500; i++) {
        char expected[32];

        snprintf(expected, sizeof expected, "b %zu", i - 1);
        assert_string_equal(messages[i], expected);
    }
    assert_string_equal(messages[501], "DebugPrint logging ended");
    free(messages);
    messages = reader_messages(&reader, "DpEarly", &count);
    assert_int_equal(count, 0);
    free(messages);
    assert_int_equal(reader.rows, 502);
    reader_free(&reader);
    assert_int_equal(wdmsim_shutdown(), 0);
}

static void the_DebugPrint_driver_loaded_after_a_minute_gets_everything_queued_meanwhile_in_order(void **state)
{
    LONGLONG start = dpuser_now();
    PDRIVER_OBJECT debugprint;
    const char **messages;
    struct reader reader;
    struct dpuser one;
    size_t count;

    (void)state;
    dpuser_load(&one, DPUSER_MODULE, "DpOne");
    dpuser_series(&one, DPUSER_AT_PASSIVE, "early", 0, 10);
    dpuser_wait_until(start + 30 * SECOND);
    dpuser_series(&one, DPUSER_IN_DPC, "later", 0, 10);
    dpuser_wait_until(start + 70 * SECOND);
    debugprint = debugprint_load();
    reader_start(&reader);
    dpuser_wait_until(start + 81 * SECOND);
    assert_int_equal(dpuser_statistics(&one).Delivered, 21);
    dpuser_unload(&one);
    reader_stop(&reader);
    wdmsim_driver_unload(debugprint);
    messages = reader_messages(&reader, "DpOne", &count);
    assert_int_equal(count, 22);
    assert_string_equal(messages[0], "DebugPrint logging started");
    for (size_t i = 0; i < 10; i++) {
        char early[32], later[32];

        snprintf(early, sizeof early, "early %zu", i);
        snprintf(later, sizeof later, "later %zu", i);
        assert_string_equal(messages[1 + i], early);
        assert_string_equal(messages[11 + i], later);
    }
    assert_string_equal(messages[21], "DebugPrint logging ended");
    free(messages);
    reader_free(&reader);
    assert_int_equal(wdmsim_shutdown(), 0);
}

#define FLOOD_PRODUCERS 7

/* Seven threads hammer one driver - three at PASSIVE_LEVEL, three at DISPATCH_LEVEL, one through
 * DPCs - while DebugPrintClose runs, and go on after it returned. Each print is delivered, dropped
 * for a full queue, or ignored once logging ended: never lost, never after the final clear (Cleared
 * stays 0), and never touching freed memory (ASan). Each delivered event reaches the DebugPrint
 * driver, which hands it to the Monitor unless its own queue was full. */
static void closing_during_a_flood_loses_nothing_leaks_nothing_and_keeps_each_producers_order(void **state)
{
    PDRIVER_OBJECT debugprint = debugprint_load();
    struct dpuser_producer producers[FLOOD_PRODUCERS];
    atomic_bool stop = false;
    DEBUGPRINT_STATISTICS s;
    DBGPRT_STATISTICS received;
    const char **messages;
    struct reader reader;
    struct dpuser one;
    size_t count, ended;
    ULONG calls = 0;

    (void)state;
    reader_start(&reader);
    dpuser_load(&one, DPUSER_MODULE, "DpFlood");
    for (int i = 0; i < FLOOD_PRODUCERS; i++) {
        static const char kind[] = { 'P', 'D', 'C' };
        static const ULONG where[] = { DPUSER_AT_PASSIVE, DPUSER_AT_DISPATCH, DPUSER_IN_DPC };
        int k = i == FLOOD_PRODUCERS - 1 ? 2 : i % 2;
        char prefix[16];

        snprintf(prefix, sizeof prefix, "%c%d", kind[k], i);
        dpuser_producer_start(&producers[i], &one, where[k], prefix, 0, &stop);
    }
    dpuser_close(&one);
    atomic_store(&stop, true);
    for (int i = 0; i < FLOOD_PRODUCERS; i++) {
        dpuser_producer_join(&producers[i]);
        calls += producers[i].calls;
    }
    s = dpuser_statistics(&one);
    assert_int_equal(s.Produced + s.Ignored, calls + 2);
    assert_int_equal(s.Queued, 0);
    assert_int_equal(s.Cleared, 0);
    assert_int_equal(s.DroppedNoMemory + s.DroppedWriteFailed, 0);
    assert_int_equal(wdmsim_pool_outstanding_by_driver("DpFlood", NULL), 0);
    dpuser_unload(&one);
    wdmsim_test_settle();
    received = debugprint_statistics();
    reader_stop(&reader);
    wdmsim_driver_unload(debugprint);
    assert_int_equal(received.Received, s.Delivered);
    assert_int_equal(received.Queued, 0);
    assert_int_equal(received.Read + received.Dropped, received.Received);
    messages = reader_messages(&reader, "DpFlood", &count);
    assert_int_equal(count, received.Read);
    assert_int_equal(reader.rows, count);
    assert_string_equal(messages[0], "DebugPrint logging started");
    /* "logging ended" is missing when a full queue dropped it, at either end. */
    ended = 0;
    for (size_t i = 1; i < count; i++)
        ended += strcmp(messages[i], "DebugPrint logging ended") == 0;
    assert_true(ended <= 1);
    assert_int_equal(dpuser_assert_in_order(messages, count, producers, FLOOD_PRODUCERS, false) + 1 + ended, count);
    free(messages);
    reader_free(&reader);
    assert_int_equal(wdmsim_shutdown(), 0);
}

/* TraceDrv's DriverEntry fails when the I/O manager has no pool for its work item ("IoWk"). It used
 * to delete its device there but not its symbolic link, so \??\TraceDrv stayed behind and loading
 * the driver again failed with STATUS_OBJECT_NAME_COLLISION. */
static void TraceDrv_failing_in_DriverEntry_closes_DebugPrint_removes_its_link_and_loads_again(void **state)
{
    PDRIVER_OBJECT debugprint = debugprint_load(), tracedrv = NULL;
    const char **messages;
    struct reader reader;
    size_t count;

    (void)state;
    reader_start(&reader);
    wdmsim_pool_fail_tag('kWoI');
    assert_int_equal(wdmsim_driver_load_module(TRACEDRV_MODULE, "TraceDrv", &tracedrv), STATUS_INSUFFICIENT_RESOURCES);
    wdmsim_pool_fail_tag(0);
    assert_int_equal(wdmsim_pool_outstanding_by_driver("TraceDrv", NULL), 0);
    assert_int_equal(wdmsim_driver_load_module(TRACEDRV_MODULE, "TraceDrv", &tracedrv), STATUS_SUCCESS);
    wdmsim_driver_unload(tracedrv);
    reader_stop(&reader);
    wdmsim_driver_unload(debugprint);
    messages = reader_messages(&reader, "TraceDrv", &count);
    assert_true(count > 3);
    assert_string_equal(messages[0], "DebugPrint logging started");
    assert_string_equal(messages[1], "RegistryPath is \\Registry\\Machine\\System\\CurrentControlSet\\Services\\TraceDrv");
    assert_string_equal(messages[2], "DebugPrint logging ended");
    assert_string_equal(messages[3], "DebugPrint logging started");
    free(messages);
    reader_free(&reader);
    assert_int_equal(wdmsim_shutdown(), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        wdmsim_test(the_Monitor_shows_logging_started_the_drivers_messages_and_logging_ended),
        wdmsim_test(
            concurrent_producers_of_two_drivers_at_PASSIVE_DISPATCH_LEVEL_and_in_DPCs_all_arrive_each_in_order),
        wdmsim_test(unloading_with_events_still_queued_delivers_or_clears_each_one_and_frees_the_drivers_pool),
        wdmsim_test(the_DebugPrint_driver_loaded_after_a_minute_gets_everything_queued_meanwhile_in_order),
        wdmsim_test(closing_during_a_flood_loses_nothing_leaks_nothing_and_keeps_each_producers_order),
        wdmsim_test(TraceDrv_failing_in_DriverEntry_closes_DebugPrint_removes_its_link_and_loads_again),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
