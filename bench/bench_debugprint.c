/*
 * bench_debugprint.c - figures 3 to 5: what DebugPrintMsg costs a driver, how many events per
 * second the whole pipeline carries without losing one, and how fast virtual time runs the
 * DebugPrint core's five-minute retry. Simulator world: host code hosting driver modules.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <ntifs.h>

#include "DbgPrtGUID.h"
#include "DebugPrint.h"
#include "bench.h"

#define BENCH_TICKS_PER_SECOND 10000000LL
/* Calls timed between two drains: far below DEBUGPRINT_MAX_QUEUED, so nothing is dropped. */
#define BENCH_MSG_BATCH 256
/* Events in flight (sent, not yet read) in the pipeline: below both drivers' queue bounds
 * (DEBUGPRINT_MAX_QUEUED, DBGPRT_MAX_QUEUED), so a producer waits instead of losing events. */
#define BENCH_PIPELINE_WINDOW 512
#define BENCH_PIPELINE_PRODUCERS 2
#define BENCH_DRIVER_NAME "BenchDrv"

/* The same bytes for ours and the baselines: the DebugPrint core sends time, name and message. */
static char bench_message[] = "bench: one trace event of typical length";

typedef VOID debugprint_msg_fn(char *Msg);
typedef VOID debugprint_statistics_fn(PDEBUGPRINT_STATISTICS Statistics);

/* ---- The rig: the DebugPrint driver, a reader process, and BenchDrv tracing ---- */

struct rig {
    PDRIVER_OBJECT debugprint, benchdrv;
    PEPROCESS reader_process;
    HANDLE reader_device;
    NTSTATUS reader_open;
    KEVENT reader_ready;
    struct bench_thread reader;
    atomic_ulong read;              /* events the reader got */
    /* The read in progress delivers here, not on the reader's stack: the read that the close
     * cancels completes on the closing thread. */
    UCHAR buffer[DEBUGPRINT_MAX_EVENT];
    IO_STATUS_BLOCK iosb;
    debugprint_msg_fn *msg;
    debugprint_statistics_fn *statistics;
};

static NTSTATUS rig_open(PHANDLE handle, ULONG attributes)
{
    UNICODE_STRING name;
    OBJECT_ATTRIBUTES object;
    IO_STATUS_BLOCK iosb;

    RtlInitUnicodeString(&name, DEBUGPRINT_DEVICE_NAME);
    InitializeObjectAttributes(&object, &name, OBJ_CASE_INSENSITIVE | attributes, NULL, NULL);
    return ZwCreateFile(handle, GENERIC_READ | GENERIC_WRITE | SYNCHRONIZE, &object, &iosb, NULL, 0,
                        FILE_SHARE_READ | FILE_SHARE_WRITE, FILE_OPEN, 0, NULL, 0);
}

/* One event, as the Monitor reads it: overlapped, waiting on the file when the read pends. */
static NTSTATUS rig_read(struct rig *rig)
{
    LARGE_INTEGER offset = { .QuadPart = 0 };
    NTSTATUS status = ZwReadFile(rig->reader_device, NULL, NULL, NULL, &rig->iosb, rig->buffer, sizeof rig->buffer,
                                 &offset, NULL);

    if (status != STATUS_PENDING)
        return status;
    status = ZwWaitForSingleObject(rig->reader_device, FALSE, NULL);
    return NT_SUCCESS(status) ? rig->iosb.Status : status;
}

/* The reader, a thread of its own process as the Monitor is: one event per read, until its handle
 * is closed and the pending read cancelled. */
static void rig_reader_main(void *context)
{
    struct rig *rig = context;

    rig->reader_open = rig_open(&rig->reader_device, 0);
    KeSetEvent(&rig->reader_ready, IO_NO_INCREMENT, FALSE);
    if (!NT_SUCCESS(rig->reader_open))
        return;
    while (NT_SUCCESS(rig_read(rig)))
        atomic_fetch_add(&rig->read, 1);
}

static void rig_reader_host(void *context)
{
    struct rig *rig = context;

    wdmsim_process_run(rig->reader_process, rig_reader_main, rig);
}

static void rig_reader_close(void *context)
{
    struct rig *rig = context;

    ZwClose(rig->reader_device);
}

/* Host sleep: the waiting thread stays runnable for the scheduler, which the real clock allows. */
static void rig_pause(void)
{
    struct timespec pause = { 0, 20000 };

    nanosleep(&pause, NULL);
}

/* Waits (up to 10 s) until the reader has got count events. */
static bool rig_wait_read(struct rig *rig, unsigned long count)
{
    double give_up = bench_now_ns() + 10e9;

    while (atomic_load(&rig->read) < count)
        if (bench_now_ns() > give_up)
            return false;
        else
            rig_pause();
    return true;
}

static bool rig_start(struct rig *rig, const char *figure)
{
    struct wdmsim_config config = { .clock = WDMSIM_CLOCK_REAL };

    memset(rig, 0, sizeof *rig);
    wdmsim_boot(&config);
    if (!NT_SUCCESS(wdmsim_driver_load_module(BENCH_DEBUGPRINT_MODULE, "DebugPrint", &rig->debugprint))) {
        bench_report_failure(figure, "cannot load the DebugPrint driver module");
        return false;
    }
    rig->reader_process = wdmsim_process_create("BenchReader");
    KeInitializeEvent(&rig->reader_ready, NotificationEvent, FALSE);
    bench_thread_start(&rig->reader, rig_reader_host, rig);
    KeWaitForSingleObject(&rig->reader_ready, Executive, KernelMode, FALSE, NULL);
    if (!NT_SUCCESS(rig->reader_open) ||
        !NT_SUCCESS(wdmsim_driver_load_module(BENCH_BENCHDRV_MODULE, BENCH_DRIVER_NAME, &rig->benchdrv))) {
        bench_report_failure(figure, "cannot open the DebugPrint device or load BenchDrv");
        return false;
    }
    rig->msg = (debugprint_msg_fn *)wdmsim_driver_symbol(rig->benchdrv, "DebugPrintMsg");
    rig->statistics = (debugprint_statistics_fn *)wdmsim_driver_symbol(rig->benchdrv, "DebugPrintGetStatistics");
    /* "DebugPrint logging started" has come through: BenchDrv's thread has the device open. */
    if (rig->msg == NULL || rig->statistics == NULL || !rig_wait_read(rig, 1)) {
        bench_report_failure(figure, "BenchDrv's DebugPrint thread never delivered its first event");
        return false;
    }
    return true;
}

/* Unloads BenchDrv (DebugPrintClose delivers what is queued), then checks that every event
 * produced reached the reader and none was dropped anywhere. */
static bool rig_stop(struct rig *rig, const char *figure)
{
    DEBUGPRINT_STATISTICS core;
    DBGPRT_STATISTICS driver = { 0 };
    IO_STATUS_BLOCK iosb;
    HANDLE device;
    bool lossless;

    rig->statistics(&core);
    wdmsim_driver_unload(rig->benchdrv);
    /* The closing message makes Produced + 1 delivered events. */
    lossless = rig_wait_read(rig, core.Produced + 1);
    if (NT_SUCCESS(rig_open(&device, OBJ_KERNEL_HANDLE))) {
        ZwDeviceIoControlFile(device, NULL, NULL, NULL, &iosb, IOCTL_DEBUGPRINT_GET_STATISTICS, NULL, 0, &driver,
                              sizeof driver);
        ZwClose(device);
    }
    wdmsim_process_run(rig->reader_process, rig_reader_close, rig);
    bench_thread_join(&rig->reader);
    wdmsim_process_terminate(rig->reader_process);
    wdmsim_driver_unload(rig->debugprint);
    lossless = lossless && core.Dropped == 0 && driver.Dropped == 0 && driver.Read == atomic_load(&rig->read);
    if (wdmsim_shutdown() != 0)
        bench_report_failure(figure, "the kernel reported leaks at shutdown");
    else if (!lossless)
        bench_report_failure(figure, "events were lost: the figure is not valid");
    return lossless;
}

/* ---- The baselines' queue: lock-free pushes, one consumer that sleeps only when it is empty ---- */

struct host_event_node {
    struct bench_mpsc_node link;    /* first */
    size_t length;
    unsigned char data[];
};

struct host_queue {
    _Atomic(struct bench_mpsc_node *) head;
    struct bench_futex_event filled;
    atomic_bool closed;
    struct bench_mpsc_node *taken;  /* the consumer's: taken off head, not yet handed out */
};

static void host_queue_init(struct host_queue *q)
{
    atomic_init(&q->head, NULL);
    atomic_init(&q->filled.state, 0);
    atomic_init(&q->closed, false);
    q->taken = NULL;
}

/* The consumer is woken only by the push that finds the queue empty. */
static void host_queue_put(struct host_queue *q, struct host_event_node *node)
{
    if (bench_mpsc_push(&q->head, &node->link))
        bench_futex_event_set(&q->filled);
}

/* The consumer's: the oldest event, NULL once the queue is closed and empty. */
static struct host_event_node *host_queue_take(struct host_queue *q)
{
    struct bench_mpsc_node *node;

    while (q->taken == NULL) {
        bool closed = atomic_load(&q->closed);

        q->taken = bench_mpsc_take_all(&q->head);
        if (q->taken != NULL)
            break;
        if (closed)
            return NULL;
        bench_futex_event_wait(&q->filled);
    }
    node = q->taken;
    q->taken = node->next;
    return (struct host_event_node *)node;
}

static void host_queue_close(struct host_queue *q)
{
    atomic_store(&q->closed, true);
    bench_futex_event_set(&q->filled);
}

/* What DebugPrintMsg does, in plain C: the time broken into fields, the name and the message in
 * one allocated event. */
static struct host_event_node *host_build_event(const char *message)
{
    static const char name[] = BENCH_DRIVER_NAME;
    size_t message_length = strlen(message) + 1;
    struct host_event_node *node = malloc(sizeof *node + sizeof(TIME_FIELDS) + sizeof name + message_length);
    struct timespec now;
    struct tm fields;
    TIME_FIELDS time_fields;

    if (node == NULL)
        abort();
    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &fields);
    time_fields = (TIME_FIELDS){ (CSHORT)(fields.tm_year + 1900), (CSHORT)(fields.tm_mon + 1), (CSHORT)fields.tm_mday,
                                 (CSHORT)fields.tm_hour, (CSHORT)fields.tm_min, (CSHORT)fields.tm_sec,
                                 (CSHORT)(now.tv_nsec / 1000000), (CSHORT)fields.tm_wday };
    memcpy(node->data, &time_fields, sizeof time_fields);
    memcpy(node->data + sizeof time_fields, name, sizeof name);
    memcpy(node->data + sizeof time_fields + sizeof name, message, message_length);
    node->length = sizeof time_fields + sizeof name + message_length;
    return node;
}

/* ---- 3. DebugPrintMsg per call ---- */

struct msg_run {
    struct rig *rig;
    KIRQL irql;
    double *samples;
    size_t count;
};

/* BenchDrv's code: batches of timed calls, each batch drained by the reader before the next. */
static void msg_run_as_driver(void *context)
{
    struct msg_run *run = context;
    unsigned long expected = atomic_load(&run->rig->read);

    for (size_t done = 0; done < run->count;) {
        size_t batch = run->count - done < BENCH_MSG_BATCH ? run->count - done : BENCH_MSG_BATCH;
        KIRQL old;

        KeRaiseIrql(run->irql, &old);
        for (size_t i = 0; i < batch; i++, done++) {
            double start = bench_now_ns();

            run->rig->msg(bench_message);
            run->samples[done] = bench_now_ns() - start;
        }
        KeLowerIrql(old);
        expected += batch;
        rig_wait_read(run->rig, expected);
    }
}

struct host_msg_rig {
    struct host_queue queue;
    pthread_t consumer;
    atomic_ulong consumed;
};

static void *host_msg_consumer(void *context)
{
    struct host_msg_rig *h = context;
    struct host_event_node *node;

    while ((node = host_queue_take(&h->queue)) != NULL) {
        free(node);
        atomic_fetch_add(&h->consumed, 1);
    }
    return NULL;
}

static void host_msg_batches(struct host_msg_rig *h, double *samples, size_t count)
{
    unsigned long expected = atomic_load(&h->consumed);

    for (size_t done = 0; done < count;) {
        size_t batch = count - done < BENCH_MSG_BATCH ? count - done : BENCH_MSG_BATCH;

        for (size_t i = 0; i < batch; i++, done++) {
            double start = bench_now_ns();

            host_queue_put(&h->queue, host_build_event(bench_message));
            samples[done] = bench_now_ns() - start;
        }
        expected += batch;
        while (atomic_load(&h->consumed) < expected)
            rig_pause();
    }
}

void bench_debugprint_msg(const struct bench_options *options)
{
    static const KIRQL levels[] = { PASSIVE_LEVEL, DISPATCH_LEVEL };
    static const char *const names[][2] = { { "debugprint_msg_passive_p50", "debugprint_msg_passive_p99" },
                                            { "debugprint_msg_dispatch_p50", "debugprint_msg_dispatch_p99" } };
    size_t per_repeat = options->mode == BENCH_FULL ? 50000 : options->mode == BENCH_QUICK ? 10000 : 64;
    size_t total = per_repeat * (size_t)options->repeats;
    double *ours[2], *baseline[2];
    struct host_msg_rig host = { .consumed = 0 };
    struct rig rig;
    bool lossless;

    for (int l = 0; l < 2; l++) {
        ours[l] = malloc(total * sizeof(double));
        baseline[l] = malloc(total * sizeof(double));
        if (ours[l] == NULL || baseline[l] == NULL)
            abort();
    }
    if (!rig_start(&rig, "debugprint_msg"))
        return;
    host_queue_init(&host.queue);
    pthread_create(&host.consumer, NULL, host_msg_consumer, &host);
    for (int r = 0; r < options->repeats; r++)
        for (int l = 0; l < 2; l++) {
            struct msg_run run = { &rig, levels[l], ours[l] + (size_t)r * per_repeat, per_repeat };

            wdmsim_run_as_driver(BENCH_DRIVER_NAME, msg_run_as_driver, &run);
            host_msg_batches(&host, baseline[l] + (size_t)r * per_repeat, per_repeat);
        }
    host_queue_close(&host.queue);
    pthread_join(host.consumer, NULL);
    lossless = rig_stop(&rig, "debugprint_msg");
    for (int l = 0; l < 2 && lossless; l++) {
        char note[200];

        snprintf(note, sizeof note, "%zu timed calls in batches of %d, the DebugPrint driver present and read; "
                 "baseline: time fields + malloc + copy + lock-free push (a futex wake when it was empty)", total,
                 BENCH_MSG_BATCH);
        bench_report(names[l][0], true, bench_median(ours[l], total), bench_median(baseline[l], total), "ns/call",
                     2.0, note);
        bench_report(names[l][1], true, bench_percentile(ours[l], total, 0.99),
                     bench_percentile(baseline[l], total, 0.99), "ns/call", 3.0, NULL);
    }
    for (int l = 0; l < 2; l++) {
        free(ours[l]);
        free(baseline[l]);
    }
}

/* ---- 4. The pipeline ---- */

struct pipeline_producer {
    struct rig *rig;
    atomic_ulong *sent;
    unsigned long base;             /* events the reader had before this run */
    unsigned long events;           /* this producer's share */
    struct bench_thread thread;
};

static void pipeline_produce(void *context)
{
    struct pipeline_producer *p = context;

    for (unsigned long i = 0; i < p->events; i++) {
        while (atomic_load(p->sent) - (atomic_load(&p->rig->read) - p->base) >= BENCH_PIPELINE_WINDOW)
            sched_yield();
        atomic_fetch_add(p->sent, 1);
        p->rig->msg(bench_message);
    }
}

static void pipeline_producer_main(void *context)
{
    wdmsim_run_as_driver(BENCH_DRIVER_NAME, pipeline_produce, context);
}

/* Events per second through BenchDrv, its DebugPrint thread, the DebugPrint driver and the reader. */
static double pipeline_wdmsim(struct rig *rig, unsigned long events)
{
    struct pipeline_producer producers[BENCH_PIPELINE_PRODUCERS];
    atomic_ulong sent = 0;
    unsigned long base = atomic_load(&rig->read);
    double start = bench_now_ns(), end;

    for (int i = 0; i < BENCH_PIPELINE_PRODUCERS; i++) {
        producers[i] = (struct pipeline_producer){ rig, &sent, base, events / BENCH_PIPELINE_PRODUCERS, { 0 } };
        bench_thread_start(&producers[i].thread, pipeline_producer_main, &producers[i]);
    }
    /* Joined first, as the baseline joins its threads: polling for the whole run would take
     * processor time from the pipeline. Only the last window's events are polled for. */
    for (int i = 0; i < BENCH_PIPELINE_PRODUCERS; i++)
        bench_thread_join(&producers[i].thread);
    rig_wait_read(rig, base + events);
    end = bench_now_ns();
    return (double)events / ((end - start) / 1e9);
}

/* The baselines: two producers build each event as DebugPrintMsg does and push it lock-free; the
 * queue's consumer is either the reader itself (the lock-free baseline: it copies each event out
 * and frees it), or a mover that writes each event with one write() into a packet-mode pipe whose
 * reader takes one event per read() (the book's protocol on the host's own I/O path). */
struct host_pipeline {
    struct host_queue queue;
    atomic_ulong sent, read;
    unsigned long per_producer;
    int pipe[2];                    /* the pipe baseline's; -1 for the lock-free one */
};

static void *host_pipeline_producer(void *context)
{
    struct host_pipeline *h = context;

    for (unsigned long i = 0; i < h->per_producer; i++) {
        while (atomic_load(&h->sent) - atomic_load(&h->read) >= BENCH_PIPELINE_WINDOW)
            sched_yield();
        atomic_fetch_add(&h->sent, 1);
        host_queue_put(&h->queue, host_build_event(bench_message));
    }
    return NULL;
}

/* The lock-free baseline's reader: the queue's consumer. */
static void *host_pipeline_consumer(void *context)
{
    struct host_pipeline *h = context;
    unsigned char buffer[DEBUGPRINT_MAX_EVENT];
    struct host_event_node *node;

    while ((node = host_queue_take(&h->queue)) != NULL) {
        memcpy(buffer, node->data, node->length);
        free(node);
        atomic_fetch_add(&h->read, 1);
    }
    return NULL;
}

/* The pipe baseline's system thread: one write per event. */
static void *host_pipeline_mover(void *context)
{
    struct host_pipeline *h = context;
    struct host_event_node *node;

    while ((node = host_queue_take(&h->queue)) != NULL) {
        if (write(h->pipe[1], node->data, node->length) != (ssize_t)node->length)
            abort();
        free(node);
    }
    close(h->pipe[1]);
    return NULL;
}

/* The pipe baseline's reader: one read per event, until the mover closes its end. */
static void *host_pipeline_pipe_reader(void *context)
{
    struct host_pipeline *h = context;
    unsigned char buffer[DEBUGPRINT_MAX_EVENT];

    while (read(h->pipe[0], buffer, sizeof buffer) > 0)
        atomic_fetch_add(&h->read, 1);
    close(h->pipe[0]);
    return NULL;
}

/* Events per second through a baseline: with_pipe for the pipe, else the lock-free queue. */
static double pipeline_host(unsigned long events, bool with_pipe)
{
    struct host_pipeline h = { .sent = 0, .read = 0, .per_producer = events / BENCH_PIPELINE_PRODUCERS,
                               .pipe = { -1, -1 } };
    pthread_t producers[BENCH_PIPELINE_PRODUCERS], consumer, reader;
    double start, end;

    host_queue_init(&h.queue);
    /* O_DIRECT: a packet pipe, each write() one packet that one read() returns whole. */
    if (with_pipe && pipe2(h.pipe, O_DIRECT) != 0)
        abort();
    start = bench_now_ns();
    pthread_create(&consumer, NULL, with_pipe ? host_pipeline_mover : host_pipeline_consumer, &h);
    if (with_pipe)
        pthread_create(&reader, NULL, host_pipeline_pipe_reader, &h);
    for (int i = 0; i < BENCH_PIPELINE_PRODUCERS; i++)
        pthread_create(&producers[i], NULL, host_pipeline_producer, &h);
    for (int i = 0; i < BENCH_PIPELINE_PRODUCERS; i++)
        pthread_join(producers[i], NULL);
    host_queue_close(&h.queue);
    pthread_join(consumer, NULL);
    if (with_pipe)
        pthread_join(reader, NULL);
    end = bench_now_ns();
    if (atomic_load(&h.read) != events)
        abort();
    return (double)events / ((end - start) / 1e9);
}

void bench_debugprint_pipeline(const struct bench_options *options)
{
    unsigned long events = options->mode == BENCH_FULL ? 500000 : options->mode == BENCH_QUICK ? 100000 : 400;
    double ours[options->repeats], lock_free[options->repeats], piped[options->repeats];
    struct rig rig;
    char note[260];

    if (!rig_start(&rig, "debugprint_pipeline"))
        return;
    for (int r = 0; r < options->repeats; r++) {
        ours[r] = pipeline_wdmsim(&rig, events);
        lock_free[r] = pipeline_host(events, false);
        piped[r] = pipeline_host(events, true);
    }
    if (!rig_stop(&rig, "debugprint_pipeline"))
        return;
    snprintf(note, sizeof note, "%lu events, %d producers, at most %d in flight, one event per write and per read, "
             "none lost (statistics checked); baseline: lock-free MPSC queue to one reader", events,
             BENCH_PIPELINE_PRODUCERS, BENCH_PIPELINE_WINDOW);
    bench_report("debugprint_pipeline", false, bench_median(ours, (size_t)options->repeats),
                 bench_median(lock_free, (size_t)options->repeats), "events/s", 4.0, note);
    bench_report("debugprint_pipeline_vs_pipe", false, bench_median(ours, (size_t)options->repeats),
                 bench_median(piped, (size_t)options->repeats), "events/s", 1.0,
                 "baseline: the same protocol on the host: lock-free queue, a mover writing each event to a packet "
                 "pipe, a reader reading one per read()");
    bench_report("debugprint_pipeline_rate", false, bench_median(ours, (size_t)options->repeats), 1e6, "events/s",
                 1.0, "baseline: the goal of 1,000,000 events/s, not a measurement");
}

/* ---- 5. Virtual time ---- */

static LONGLONG bench_system_time(void)
{
    LARGE_INTEGER now;

    KeQuerySystemTime(&now);
    return now.QuadPart;
}

static void bench_boot_virtual(void)
{
    struct wdmsim_config config = { .clock = WDMSIM_CLOCK_VIRTUAL };

    wdmsim_boot(&config);
}

/* TraceDrv without the DebugPrint driver: its DebugPrint thread tries to open the device every
 * 20 s, waking every second to check for Close, and gives up after 300 s. Returns wall seconds for
 * the simulated seconds it stores, or a negative value if the thread had not given up. */
static double virtual_open_retry(double *simulated_s)
{
    LARGE_INTEGER wait = { .QuadPart = -(DEBUGPRINT_OPEN_GIVE_UP_SECONDS + 1) * BENCH_TICKS_PER_SECOND };
    DEBUGPRINT_STATISTICS statistics = { 0 };
    debugprint_statistics_fn *get;
    PDRIVER_OBJECT tracedrv;
    double start = bench_now_ns(), wall;
    LONGLONG simulated_start;

    bench_boot_virtual();
    simulated_start = bench_system_time();
    if (!NT_SUCCESS(wdmsim_driver_load_module(BENCH_TRACEDRV_MODULE, "TraceDrv", &tracedrv))) {
        wdmsim_shutdown();
        return -1;
    }
    KeDelayExecutionThread(KernelMode, FALSE, &wait);
    get = (debugprint_statistics_fn *)wdmsim_driver_symbol(tracedrv, "DebugPrintGetStatistics");
    if (get != NULL)
        get(&statistics);
    *simulated_s = (double)(bench_system_time() - simulated_start) / BENCH_TICKS_PER_SECOND;
    wdmsim_driver_unload(tracedrv);
    wall = (bench_now_ns() - start) / 1e9;
    /* Given up: logging is off and what was queued (at least "logging started") was cleared. */
    return wdmsim_shutdown() == 0 && statistics.Cleared >= 1 && statistics.Queued == 0 ? wall : -1;
}

/* A thread polling an event that is never set, one second at a time. */
static double virtual_polling(long polls, double *simulated_s)
{
    LARGE_INTEGER one_second = { .QuadPart = -BENCH_TICKS_PER_SECOND };
    double start, wall;
    LONGLONG simulated_start;
    KEVENT never;

    bench_boot_virtual();
    KeInitializeEvent(&never, SynchronizationEvent, FALSE);
    start = bench_now_ns();
    simulated_start = bench_system_time();
    for (long i = 0; i < polls; i++)
        KeWaitForSingleObject(&never, Executive, KernelMode, FALSE, &one_second);
    *simulated_s = (double)(bench_system_time() - simulated_start) / BENCH_TICKS_PER_SECOND;
    wall = (bench_now_ns() - start) / 1e9;
    wdmsim_shutdown();
    return wall;
}

void bench_virtual_time(const struct bench_options *options)
{
    long polls = options->mode == BENCH_FULL ? 36000 : options->mode == BENCH_QUICK ? 3600 : 60;
    double retry_wall[options->repeats], poll_wall[options->repeats];
    double retry_simulated = 0, poll_simulated = 0;
    char note[160];

    for (int r = 0; r < options->repeats; r++) {
        retry_wall[r] = virtual_open_retry(&retry_simulated);
        if (retry_wall[r] < 0) {
            bench_report_failure("virtual_time_open_retry", "TraceDrv's DebugPrint thread did not give up");
            return;
        }
        poll_wall[r] = virtual_polling(polls, &poll_simulated);
    }
    bench_report_speedup("virtual_time_open_retry", retry_simulated, bench_median(retry_wall, (size_t)options->repeats),
                         10000, "TraceDrv loaded without the DebugPrint driver: boot, 300 s of retries, give-up, unload");
    snprintf(note, sizeof note, "%ld KeWaitForSingleObject timeouts of 1 s on an event never set", polls);
    bench_report_speedup("virtual_time_polling", poll_simulated, bench_median(poll_wall, (size_t)options->repeats), 10000,
                         note);
}
