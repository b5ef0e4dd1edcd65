/*
 * test_monitor.c - the Monitor's decoding of what a DebugPrint read returns, including short,
 * truncated and malformed events, and its rows in local time.
 */
#include <stdlib.h>

#include "monitor.h"
#include <wdmsim/test.h>

/* One event as DebugPrint's system thread writes it: GMT fields, name, message. */
static ULONG build_event(UCHAR *out, const TIME_FIELDS *gmt, const char *driver, const char *message)
{
    size_t name = strlen(driver) + 1, text = strlen(message) + 1;

    memcpy(out, gmt, sizeof *gmt);
    memcpy(out + sizeof *gmt, driver, name);
    memcpy(out + sizeof *gmt + name, message, text);
    return (ULONG)(sizeof *gmt + name + text);
}

static const TIME_FIELDS noon_gmt = { 2026, 11, 24, 12, 30, 15, 250, 2 };

/* A fresh kernel whose local time is UTC+1 (Windows bias -60 minutes). */
static int boot_utc_plus_one(void **state)
{
    struct wdmsim_config config = { .clock = WDMSIM_CLOCK_VIRTUAL, .time_zone_bias_set = 1,
                                    .time_zone_bias_minutes = -60 };

    (void)state;
    wdmsim_boot(&config);
    return 0;
}

#define monitor_test(fn) cmocka_unit_test_setup_teardown(fn, boot_utc_plus_one, wdmsim_test_shutdown)

static void a_well_formed_event_decodes_to_driver_message_and_local_time(void **state)
{
    UCHAR data[256];
    struct monitor_event event;
    ULONG length = build_event(data, &noon_gmt, "TraceDrv", "Timer tick 3 at IRQL 2");

    (void)state;
    monitor_decode(data, length, &event);
    assert_true(event.ok);
    assert_false(event.truncated);
    assert_string_equal(event.driver, "TraceDrv");
    assert_string_equal(event.message, "Timer tick 3 at IRQL 2");
    assert_int_equal(event.local.Hour, 13);
    assert_int_equal(event.local.Minute, 30);
    assert_int_equal(event.local.Second, 15);
    assert_int_equal(event.local.Milliseconds, 250);
}

static void a_read_shorter_than_the_time_and_two_NULs_is_a_short_read(void **state)
{
    UCHAR data[64] = { 0 };
    struct monitor_event event;

    (void)state;
    monitor_decode(data, sizeof(TIME_FIELDS) + 1, &event);
    assert_false(event.ok);
    assert_string_equal(event.problem, "Short read msg");
}

static void a_driver_name_without_its_NUL_is_malformed(void **state)
{
    UCHAR data[32];
    struct monitor_event event;

    (void)state;
    memcpy(data, &noon_gmt, sizeof noon_gmt);
    memset(data + sizeof noon_gmt, 'x', sizeof data - sizeof noon_gmt);
    monitor_decode(data, sizeof data, &event);
    assert_false(event.ok);
    assert_string_equal(event.problem, "driver name not terminated");
}

static void an_event_cut_to_the_read_buffer_keeps_what_arrived_and_says_so(void **state)
{
    UCHAR data[256];
    struct monitor_event event;
    char row[256];
    ULONG length = build_event(data, &noon_gmt, "TraceDrv", "a long message");

    (void)state;
    monitor_decode(data, length - 6, &event);
    assert_true(event.ok);
    assert_true(event.truncated);
    assert_string_equal(event.message, "a long me");
    monitor_format_row(&event, 0, row, sizeof row);
    assert_non_null(strstr(row, "a long me [truncated]"));
}

static void an_impossible_date_is_reported_not_shown(void **state)
{
    UCHAR data[256];
    struct monitor_event event;
    TIME_FIELDS bad = noon_gmt;

    (void)state;
    bad.Month = 13;
    monitor_decode(data, build_event(data, &bad, "TraceDrv", "x"), &event);
    assert_false(event.ok);
    assert_string_equal(event.problem, "event time is not a valid date");
}

static void rows_show_driver_time_and_event_with_optional_milliseconds_and_date(void **state)
{
    UCHAR data[256];
    struct monitor_event event;
    char row[256];

    (void)state;
    monitor_decode(data, build_event(data, &noon_gmt, "TraceDrv", "hello"), &event);
    monitor_format_row(&event, 0, row, sizeof row);
    assert_string_equal(row, "TraceDrv         13:30:15     hello");
    monitor_format_row(&event, MONITOR_SHOW_MILLISECONDS | MONITOR_SHOW_DATE, row, sizeof row);
    assert_string_equal(row, "TraceDrv         13:30:15.250, 24 Nov 2026 hello");
}

static void saved_rows_are_tab_separated(void **state)
{
    UCHAR data[256];
    struct monitor_event event;
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream(&text, &size);

    (void)state;
    monitor_decode(data, build_event(data, &noon_gmt, "TraceDrv", "hello"), &event);
    monitor_write_tsv(out, &event, MONITOR_SHOW_MILLISECONDS);
    fclose(out);
    assert_string_equal(text, "TraceDrv\t13:30:15.250\thello\n");
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        monitor_test(a_well_formed_event_decodes_to_driver_message_and_local_time),
        monitor_test(a_read_shorter_than_the_time_and_two_NULs_is_a_short_read),
        monitor_test(a_driver_name_without_its_NUL_is_malformed),
        monitor_test(an_event_cut_to_the_read_buffer_keeps_what_arrived_and_says_so),
        monitor_test(an_impossible_date_is_reported_not_shown),
        monitor_test(rows_show_driver_time_and_event_with_optional_milliseconds_and_date),
        monitor_test(saved_rows_are_tab_separated),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
