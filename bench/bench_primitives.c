/*
 * bench_primitives.c - figures 1 and 2: the dispatcher (event ping-pong) and the interlocked lists,
 * each against the same work done with plain pthreads. Real clock: these are throughputs.
 * Simulator world: host code.
 */
#include <stdio.h>

#include "bench.h"

static void bench_boot_real(void)
{
    struct wdmsim_config config = { .clock = WDMSIM_CLOCK_REAL };

    wdmsim_boot(&config);
}

static void bench_shutdown(const char *figure)
{
    size_t leaks = wdmsim_shutdown();

    if (leaks != 0)
        bench_report_failure(figure, "the kernel reported leaks at shutdown");
}

/* ---- 1. Event ping-pong ---- */

struct ping_pong {
    KEVENT ping, pong;              /* synchronization events: each wait consumes the signal */
    long rounds;
    double start, end;              /* measured by the thread that starts each round trip */
};

static void ping_pong_server(void *context)
{
    struct ping_pong *pp = context;

    for (long i = 0; i < pp->rounds; i++) {
        KeWaitForSingleObject(&pp->ping, Executive, KernelMode, FALSE, NULL);
        KeSetEvent(&pp->pong, IO_NO_INCREMENT, FALSE);
    }
}

static void ping_pong_client(void *context)
{
    struct ping_pong *pp = context;

    pp->start = bench_now_ns();
    for (long i = 0; i < pp->rounds; i++) {
        KeSetEvent(&pp->ping, IO_NO_INCREMENT, FALSE);
        KeWaitForSingleObject(&pp->pong, Executive, KernelMode, FALSE, NULL);
    }
    pp->end = bench_now_ns();
}

/* Nanoseconds per round trip between two adopted threads. */
static double ping_pong_wdmsim(long rounds)
{
    struct ping_pong pp = { .rounds = rounds };
    struct bench_thread server, client;

    KeInitializeEvent(&pp.ping, SynchronizationEvent, FALSE);
    KeInitializeEvent(&pp.pong, SynchronizationEvent, FALSE);
    bench_thread_start(&server, ping_pong_server, &pp);
    bench_thread_start(&client, ping_pong_client, &pp);
    bench_thread_join(&client);
    bench_thread_join(&server);
    return (pp.end - pp.start) / (double)rounds;
}

/* The baseline's auto-reset event: a flag under a mutex, a condition variable to wait on it. */
struct host_event {
    pthread_mutex_t lock;
    pthread_cond_t changed;
    bool signalled;
};

struct host_ping_pong {
    struct host_event ping, pong;
    long rounds;
    double start, end;
};

static void host_event_set(struct host_event *e)
{
    pthread_mutex_lock(&e->lock);
    e->signalled = true;
    pthread_cond_signal(&e->changed);
    pthread_mutex_unlock(&e->lock);
}

static void host_event_wait(struct host_event *e)
{
    pthread_mutex_lock(&e->lock);
    while (!e->signalled)
        pthread_cond_wait(&e->changed, &e->lock);
    e->signalled = false;
    pthread_mutex_unlock(&e->lock);
}

static void *host_ping_pong_server(void *context)
{
    struct host_ping_pong *pp = context;

    for (long i = 0; i < pp->rounds; i++) {
        host_event_wait(&pp->ping);
        host_event_set(&pp->pong);
    }
    return NULL;
}

static void *host_ping_pong_client(void *context)
{
    struct host_ping_pong *pp = context;

    pp->start = bench_now_ns();
    for (long i = 0; i < pp->rounds; i++) {
        host_event_set(&pp->ping);
        host_event_wait(&pp->pong);
    }
    pp->end = bench_now_ns();
    return NULL;
}

static double ping_pong_host(long rounds)
{
    struct host_ping_pong pp = {
        .ping = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false },
        .pong = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false },
        .rounds = rounds,
    };
    pthread_t server, client;

    pthread_create(&server, NULL, host_ping_pong_server, &pp);
    pthread_create(&client, NULL, host_ping_pong_client, &pp);
    pthread_join(client, NULL);
    pthread_join(server, NULL);
    return (pp.end - pp.start) / (double)rounds;
}

void bench_event_ping_pong(const struct bench_options *options)
{
    long rounds = options->mode == BENCH_FULL ? 200000 : options->mode == BENCH_QUICK ? 50000 : 200;
    double ours[options->repeats], baseline[options->repeats];
    char note[160];

    bench_boot_real();
    for (int r = 0; r < options->repeats; r++) {
        ours[r] = ping_pong_wdmsim(rounds);
        baseline[r] = ping_pong_host(rounds);
    }
    bench_shutdown("event_ping_pong");
    snprintf(note, sizeof note, "%ld round trips, two adopted threads, two SynchronizationEvents vs mutex+condvar; "
             "real clock", rounds);
    bench_report("event_ping_pong", true, bench_median(ours, (size_t)options->repeats),
                 bench_median(baseline, (size_t)options->repeats), "ns/round", 1.25, note);
}

/* ---- 2. Interlocked list ---- */

/* Each thread holds one entry off the list: it inserts it at the tail and takes the head back, so
 * an entry is never inserted twice however the threads interleave. */
struct list_bench {
    LIST_ENTRY head;
    KSPIN_LOCK lock;
    long pairs;
};

struct list_worker {
    struct list_bench *bench;
    LIST_ENTRY entry;
};

static void list_worker_run(void *context)
{
    struct list_worker *w = context;
    PLIST_ENTRY held = &w->entry;

    for (long i = 0; i < w->bench->pairs; i++) {
        ExInterlockedInsertTailList(&w->bench->head, held, &w->bench->lock);
        held = ExInterlockedRemoveHeadList(&w->bench->head, &w->bench->lock);
    }
}

/* Nanoseconds per insert+remove pair, threads (1 or 2) each doing pairs of them. */
static double list_wdmsim(int threads, long pairs)
{
    struct list_bench bench = { .pairs = pairs };
    struct list_worker workers[2] = { { .bench = &bench }, { .bench = &bench } };
    struct bench_thread second;
    double start;

    InitializeListHead(&bench.head);
    KeInitializeSpinLock(&bench.lock);
    start = bench_now_ns();
    if (threads == 2)
        bench_thread_start(&second, list_worker_run, &workers[1]);
    list_worker_run(&workers[0]);
    if (threads == 2)
        bench_thread_join(&second);
    return (bench_now_ns() - start) / (double)(pairs * threads);
}

struct host_link {
    struct host_link *next, *prev;
};

struct host_list_bench {
    struct host_link head;
    pthread_spinlock_t lock;
    long pairs;
};

struct host_list_worker {
    struct host_list_bench *bench;
    struct host_link entry;
};

static void *host_list_worker_run(void *context)
{
    struct host_list_worker *w = context;
    struct host_list_bench *b = w->bench;
    struct host_link *held = &w->entry;

    for (long i = 0; i < b->pairs; i++) {
        pthread_spin_lock(&b->lock);
        held->prev = b->head.prev;
        held->next = &b->head;
        b->head.prev->next = held;
        b->head.prev = held;
        pthread_spin_unlock(&b->lock);
        pthread_spin_lock(&b->lock);
        held = b->head.next;
        if (held != &b->head) {
            held->next->prev = &b->head;
            b->head.next = held->next;
        }
        pthread_spin_unlock(&b->lock);
    }
    return NULL;
}

static double list_host(int threads, long pairs)
{
    struct host_list_bench bench = { .pairs = pairs };
    struct host_list_worker workers[2] = { { .bench = &bench }, { .bench = &bench } };
    pthread_t second;
    double start;

    bench.head.next = bench.head.prev = &bench.head;
    pthread_spin_init(&bench.lock, PTHREAD_PROCESS_PRIVATE);
    start = bench_now_ns();
    if (threads == 2)
        pthread_create(&second, NULL, host_list_worker_run, &workers[1]);
    host_list_worker_run(&workers[0]);
    if (threads == 2)
        pthread_join(second, NULL);
    pthread_spin_destroy(&bench.lock);
    return (bench_now_ns() - start) / (double)(pairs * threads);
}

void bench_interlocked_list(const struct bench_options *options)
{
    long pairs = options->mode == BENCH_FULL ? 5000000 : options->mode == BENCH_QUICK ? 1000000 : 1000;
    char note[160];

    bench_boot_real();
    for (int threads = 1; threads <= 2; threads++) {
        double ours[options->repeats], baseline[options->repeats];

        for (int r = 0; r < options->repeats; r++) {
            ours[r] = list_wdmsim(threads, pairs);
            baseline[r] = list_host(threads, pairs);
        }
        snprintf(note, sizeof note, "%ld ExInterlockedInsertTailList+RemoveHeadList pairs per thread vs "
                 "pthread_spinlock_t list; PASSIVE_LEVEL", pairs);
        bench_report(threads == 1 ? "interlocked_list_1thread" : "interlocked_list_2threads", true,
                     bench_median(ours, (size_t)options->repeats), bench_median(baseline, (size_t)options->repeats),
                     "ns/pair", 1.5, note);
    }
    bench_shutdown("interlocked_list");
}
