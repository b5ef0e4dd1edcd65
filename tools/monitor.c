/*
 * monitor.c - the DebugPrint Monitor's decoding and formatting. Every byte it looks at comes
 * from a driver, so nothing is trusted: lengths are checked before each read and strings must end
 * inside the buffer.
 */
#include <stdlib.h>
#include <string.h>

#include <ntifs.h>

#include "DbgPrtGUID.h"
#include "monitor.h"

#define MONITOR_MIN_EVENT (sizeof(TIME_FIELDS) + 2)

static void monitor_problem(struct monitor_event *event, const char *problem)
{
    event->ok = false;
    snprintf(event->problem, sizeof event->problem, "%s", problem);
}

/* The length of a string starting at data[at] that ends inside [at, length); -1 if it does not. */
static long monitor_string_at(const UCHAR *data, ULONG length, ULONG at)
{
    const UCHAR *end = at < length ? memchr(data + at, '\0', length - at) : NULL;

    return end ? (long)(end - (data + at)) : -1;
}

static bool monitor_local_time(const TIME_FIELDS *gmt, TIME_FIELDS *local)
{
    TIME_FIELDS fields = *gmt;
    LARGE_INTEGER system, converted;

    if (!RtlTimeFieldsToTime(&fields, &system))
        return false;
    ExSystemTimeToLocalTime(&system, &converted);
    RtlTimeToTimeFields(&converted, local);
    return true;
}

static void monitor_copy(char *out, size_t size, const UCHAR *from, size_t length)
{
    if (length >= size)
        length = size - 1;
    memcpy(out, from, length);
    out[length] = '\0';
}

void monitor_decode(const UCHAR *data, ULONG length, struct monitor_event *event)
{
    TIME_FIELDS gmt;
    long name_length, message_length;
    ULONG message_at;

    memset(event, 0, sizeof *event);
    event->ok = true;
    if (length < MONITOR_MIN_EVENT) {
        monitor_problem(event, "Short read msg");
        return;
    }
    memcpy(&gmt, data, sizeof gmt);
    if (!monitor_local_time(&gmt, &event->local))
        monitor_problem(event, "event time is not a valid date");
    name_length = monitor_string_at(data, length, sizeof gmt);
    if (name_length < 0) {
        monitor_problem(event, "driver name not terminated");
        return;
    }
    monitor_copy(event->driver, sizeof event->driver, data + sizeof gmt, (size_t)name_length);
    message_at = (ULONG)(sizeof gmt + (size_t)name_length + 1);
    message_length = monitor_string_at(data, length, message_at);
    if (message_length < 0) {
        monitor_copy(event->message, sizeof event->message, data + message_at,
                     message_at < length ? length - message_at : 0);
        event->truncated = true;
        return;
    }
    monitor_copy(event->message, sizeof event->message, data + message_at, (size_t)message_length);
}

static void monitor_format_time(const TIME_FIELDS *t, unsigned options, char *out, size_t size)
{
    static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                          "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
    int used = snprintf(out, size, "%02d:%02d:%02d", t->Hour, t->Minute, t->Second);

    if ((options & MONITOR_SHOW_MILLISECONDS) && used > 0 && (size_t)used < size)
        used += snprintf(out + used, size - (size_t)used, ".%03d", t->Milliseconds);
    if ((options & MONITOR_SHOW_DATE) && used > 0 && (size_t)used < size && t->Month >= 1 && t->Month <= 12)
        snprintf(out + used, size - (size_t)used, ", %02d %s %04d", t->Day, months[t->Month - 1], t->Year);
}

int monitor_format_row(const struct monitor_event *event, unsigned options, char *out, size_t size)
{
    char time[40];

    monitor_format_time(&event->local, options, time, sizeof time);
    if (event->ok)
        return snprintf(out, size, "%-16s %-12s %s%s", event->driver, time, event->message,
                        event->truncated ? " [truncated]" : "");
    return snprintf(out, size, "%-16s %-12s [%s] %s", "Monitor", time, event->problem, event->message);
}

void monitor_write_tsv(FILE *out, const struct monitor_event *event, unsigned options)
{
    char time[40];

    monitor_format_time(&event->local, options, time, sizeof time);
    fprintf(out, "%s\t%s\t%s\n", event->ok ? event->driver : "Monitor", time,
            event->ok ? event->message : event->problem);
}

/* ---- The Monitor as an application ---- */

struct monitor {
    PEPROCESS process;
    HANDLE device;                  /* in the Monitor process's handle table */
    FILE *out;
    FILE *tsv;
    unsigned options;
    size_t rows;
    KEVENT ready;                   /* the device is open, or the Monitor gave up */
    NTSTATUS open_status;
    PKTHREAD listener;              /* a thread of the Monitor's process */
    /* Where the read in progress delivers: here, not on the listener's stack, because a read the
     * close cancels completes on the closing thread, maybe after the listener has stopped. */
    UCHAR buffer[MONITOR_READ_BUFFER];
    IO_STATUS_BLOCK iosb;
};

static void monitor_note(struct monitor *m, const char *text)
{
    struct monitor_event note = { .ok = true };
    LARGE_INTEGER now, local;
    char row[MONITOR_ROW_MAX];

    KeQuerySystemTime(&now);
    ExSystemTimeToLocalTime(&now, &local);
    RtlTimeToTimeFields(&local, &note.local);
    snprintf(note.driver, sizeof note.driver, "Monitor");
    snprintf(note.message, sizeof note.message, "%s", text);
    monitor_format_row(&note, m->options | MONITOR_SHOW_DATE, row, sizeof row);
    fprintf(m->out, "%s\n", row);
    fflush(m->out);
}

static NTSTATUS monitor_open(struct monitor *m)
{
    static const GUID debugprint = DEBUGPRINT_GUID_INIT;
    struct wdmsim_device_interface found;
    UNICODE_STRING name;
    OBJECT_ATTRIBUTES attributes;
    IO_STATUS_BLOCK iosb;

    if (wdmsim_device_interfaces(&debugprint, &found, 1) == 0)
        return STATUS_OBJECT_NAME_NOT_FOUND;
    RtlInitUnicodeString(&name, found.name);
    InitializeObjectAttributes(&attributes, &name, OBJ_CASE_INSENSITIVE, NULL, NULL);
    /* Overlapped I/O (no FILE_SYNCHRONOUS_IO_*), as the book's Monitor reads; SYNCHRONIZE lets the
     * Monitor, an application, wait on the file. */
    return ZwCreateFile(&m->device, GENERIC_READ | GENERIC_WRITE | SYNCHRONIZE, &attributes, &iosb, NULL, 0,
                        FILE_SHARE_READ | FILE_SHARE_WRITE, FILE_OPEN, 0, NULL, 0);
}

static void monitor_show(struct monitor *m, const UCHAR *data, ULONG length)
{
    struct monitor_event event;
    char row[MONITOR_ROW_MAX];

    monitor_decode(data, length, &event);
    monitor_format_row(&event, m->options, row, sizeof row);
    fprintf(m->out, "%s\n", row);
    fflush(m->out);
    if (m->tsv != NULL)
        monitor_write_tsv(m->tsv, &event, m->options);
    m->rows++;
}

/* One event: a read the driver holds until an event arrives returns STATUS_PENDING, and the
 * Monitor waits on the file until the read completes (or the close cancels it). */
static NTSTATUS monitor_read(struct monitor *m)
{
    LARGE_INTEGER offset = { .QuadPart = 0 };
    NTSTATUS status = ZwReadFile(m->device, NULL, NULL, NULL, &m->iosb, m->buffer, sizeof m->buffer, &offset, NULL);

    if (status != STATUS_PENDING)
        return status;
    status = ZwWaitForSingleObject(m->device, FALSE, NULL);
    return NT_SUCCESS(status) ? m->iosb.Status : status;
}

/* The listener: one read at a time, each returning one event, until the read is cancelled. */
static void monitor_listen(void *context)
{
    struct monitor *m = context;

    m->open_status = monitor_open(m);
    KeSetEvent(&m->ready, IO_NO_INCREMENT, FALSE);
    if (!NT_SUCCESS(m->open_status))
        return;
    monitor_note(m, "Monitor listening (wdmsim DebugPrint Monitor)");
    while (NT_SUCCESS(monitor_read(m)))
        monitor_show(m, m->buffer, (ULONG)m->iosb.Information);
    monitor_note(m, "Stopped listening");
}

struct monitor *monitor_start(FILE *out, FILE *tsv, unsigned options)
{
    struct monitor *m = calloc(1, sizeof *m);

    if (m == NULL)
        return NULL;
    m->out = out;
    m->tsv = tsv;
    m->options = options;
    m->process = wdmsim_process_create("DbgPrtMonitor");
    KeInitializeEvent(&m->ready, NotificationEvent, FALSE);
    m->listener = wdmsim_thread_start(m->process, monitor_listen, m);
    KeWaitForSingleObject(&m->ready, Executive, KernelMode, FALSE, NULL);
    if (NT_SUCCESS(m->open_status))
        return m;
    wdmsim_thread_join(m->listener);
    monitor_note(m, "Could not open the DebugPrint driver");
    wdmsim_process_terminate(m->process);
    free(m);
    return NULL;
}

static void monitor_close_handle(void *context)
{
    struct monitor *m = context;

    ZwClose(m->device);
}

size_t monitor_stop(struct monitor *monitor)
{
    size_t rows;

    wdmsim_process_run(monitor->process, monitor_close_handle, monitor);
    wdmsim_thread_join(monitor->listener);
    wdmsim_process_terminate(monitor->process);
    rows = monitor->rows;
    free(monitor);
    return rows;
}
