/*
 * fuzz_monitor.c - the Monitor's decoder and rows (tools/monitor.c) on any bytes a read could
 * return. Input: one byte of row options, two of row buffer size, then the event as read.
 * Besides the sanitizers it checks what monitor.h promises: strings that end inside their
 * fields, a decoded event that is exactly the bytes it came from, rows that are snprintf-exact.
 */
#include <stdlib.h>

#include "fuzz_input.h"
#include "fuzz_check.h"
#include "monitor.h"

static FILE *tsv_sink;

/* One kernel for the process (local time is UTC+1) and a sink for the tab-separated rows. */
static void monitor_fuzz_start(void)
{
    struct wdmsim_config config = { .clock = WDMSIM_CLOCK_VIRTUAL, .time_zone_bias_set = 1,
                                    .time_zone_bias_minutes = -60 };

    wdmsim_boot(&config);
    tsv_sink = fopen("/dev/null", "w");
    FUZZ_CHECK(tsv_sink != NULL, "cannot open /dev/null");
}

static void check_terminated(const char *field, size_t size, const char *what)
{
    FUZZ_CHECK(memchr(field, '\0', size) != NULL, "%s is not NUL-terminated", what);
}

/* A well-formed event is its bytes: GMT time, the name and the message, each with its NUL. */
static void check_decoded(const uint8_t *data, size_t size, const struct monitor_event *event)
{
    size_t name = strlen(event->driver), message = strlen(event->message);

    check_terminated(event->driver, sizeof event->driver, "driver");
    check_terminated(event->message, sizeof event->message, "message");
    check_terminated(event->problem, sizeof event->problem, "problem");
    if (!event->ok) {
        FUZZ_CHECK(event->problem[0] != '\0', "a failed decode without a problem");
        return;
    }
    FUZZ_CHECK(size >= sizeof(TIME_FIELDS) + 2, "a %zu-byte read decoded", size);
    FUZZ_CHECK(memcmp(data + sizeof(TIME_FIELDS), event->driver, name) == 0, "the driver name is not the data's");
    if (name + 1 < sizeof event->driver)
        FUZZ_CHECK(data[sizeof(TIME_FIELDS) + name] == '\0', "the driver name ends early");
    if (name + 1 == sizeof event->driver || message + 1 == sizeof event->message)
        return;
    FUZZ_CHECK(memcmp(data + sizeof(TIME_FIELDS) + name + 1, event->message, message) == 0,
               "the message is not the data's");
    FUZZ_CHECK(event->truncated == (sizeof(TIME_FIELDS) + name + 1 + message == size),
               "truncated says %d for a message that ends %s", event->truncated,
               event->truncated ? "inside the data" : "at its end");
}

/* A row is what snprintf makes: the full length returned, the part that fits written. */
static void check_row(const struct monitor_event *event, unsigned options, size_t size)
{
    char *row = size > 0 ? malloc(size) : NULL;
    int length = monitor_format_row(event, options, row, size);

    FUZZ_CHECK(length >= 0, "monitor_format_row failed");
    if (row != NULL) {
        FUZZ_CHECK(strlen(row) == ((size_t)length < size ? (size_t)length : size - 1),
                   "a %zu-byte row of length %d holds %zu characters", size, length, strlen(row));
        free(row);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_input in = { data, size, 0 };
    struct monitor_event event;
    unsigned options;
    size_t row_size;

    if (tsv_sink == NULL)
        monitor_fuzz_start();
    options = fuzz_u8(&in) & (MONITOR_SHOW_MILLISECONDS | MONITOR_SHOW_DATE);
    row_size = fuzz_u16(&in) % (MONITOR_ROW_MAX + 1);
    monitor_decode(in.data + in.at, (ULONG)fuzz_left(&in), &event);
    check_decoded(in.data + in.at, fuzz_left(&in), &event);
    check_row(&event, options, row_size);
    monitor_write_tsv(tsv_sink, &event, options);
    return 0;
}
