/*
 * monitor.h - the DebugPrint Monitor's logic: decoding the events the DebugPrint driver hands to a
 * reader, converting their GMT time to local time, and formatting rows for people or files.
 * Simulator world: host code; the reading loop (monitor_run) runs as a thread of a user process.
 */
#ifndef WDMSIM_MONITOR_H
#define WDMSIM_MONITOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <wdmsim/wdmsim.h>

/* The Monitor reads with buffers this size, as the book's does. */
#define MONITOR_READ_BUFFER 1024

/* The longest row monitor_format_row makes: driver, time with date, problem or mark, message. */
#define MONITOR_ROW_MAX 1280

/* Row options. */
#define MONITOR_SHOW_MILLISECONDS 0x1
#define MONITOR_SHOW_DATE 0x2

struct monitor_event {
    char driver[64];
    char message[MONITOR_READ_BUFFER];
    TIME_FIELDS local;              /* the event's time, converted to local time */
    bool ok;                        /* false: a short or malformed event; problem says why */
    bool truncated;                 /* the driver cut the event to the reader's buffer */
    char problem[96];
};

/* Decodes one event as a read returned it: TIME_FIELDS (GMT), driver name, message, each NUL-
 * terminated. Never reads past length. A short or malformed event comes back with ok = false. */
void monitor_decode(const UCHAR *data, ULONG length, struct monitor_event *event);
/* "Driver  Time  Event" as one line for people (no newline), cut to size if need be; returns the
 * row's full length, as snprintf does, so a caller can tell a row was cut. */
int monitor_format_row(const struct monitor_event *event, unsigned options, char *out, size_t size);
/* The same as tab-separated text, one line with its newline, as the Monitor saves a file. */
void monitor_write_tsv(FILE *out, const struct monitor_event *event, unsigned options);

/* ---- The Monitor as an application ---- */

struct monitor;

/* Starts the Monitor as its own user process: it finds the DebugPrint device through its
 * interface, opens it and prints a row per event to out as events arrive (and to tsv if not NULL).
 * Returns NULL, with a row saying why, when the device cannot be opened. */
struct monitor *monitor_start(FILE *out, FILE *tsv, unsigned options);
/* Stops it: its handle is closed in its own process, so the DebugPrint driver's Cleanup cancels
 * the pending read. Returns the number of event rows it printed. */
size_t monitor_stop(struct monitor *monitor);

#endif /* WDMSIM_MONITOR_H */
