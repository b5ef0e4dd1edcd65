/*
 * bench_primitives.c - the dispatcher (event ping-pong), the interlocked lists, a spin-lock pair and
 * a pool allocate+free, each against the fastest plain host code doing the same work: a
 * spin-then-futex hand-off, an inline test-and-test-and-set lock, pthread_spin, malloc/free.
 * Real clock: these are throughputs.
 * Simulator world: host code.
 */
#include <stdio.h>
#include <stdlib.h>

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

struct host_ping_pong {
    struct bench_futex_event ping, pong;
    long rounds;
    double start, end;
};

static void *host_ping_pong_server(void *context)
{
    struct host_ping_pong *pp = context;

    for (long i = 0; i < pp->rounds; i++) {
        bench_futex_event_wait(&pp->ping);
        bench_futex_event_set(&pp->pong);
    }
    return NULL;
}

static void *host_ping_pong_client(void *context)
{
    struct host_ping_pong *pp = context;

    pp->start = bench_now_ns();
    for (long i = 0; i < pp->rounds; i++) {
        bench_futex_event_set(&pp->ping);
        bench_futex_event_wait(&pp->pong);
    }
    pp->end = bench_now_ns();
    return NULL;
}

static double ping_pong_host(long rounds)
{
    struct host_ping_pong pp = { .rounds = rounds };
    pthread_t server, client;

    pthread_create(&server, NULL, host_ping_pong_server, &pp);
    pthread_create(&client, NULL, host_ping_pong_client, &pp);
    pthread_join(client, NULL);
    pthread_join(server, NULL);
    return (pp.end - pp.start) / (double)rounds;
}

void bench_event_ping_pong(const struct bench_options *options)
{
    long rounds = options->mode == BENCH_FULL ? 200000 : options->mode == BENCH_QUICK ? 10000 : 200;
    double ours[options->repeats], baseline[options->repeats];
    char note[200];

    bench_boot_real();
    for (int r = 0; r < options->repeats; r++) {
        ours[r] = ping_pong_wdmsim(rounds);
        baseline[r] = ping_pong_host(rounds);
    }
    bench_shutdown("event_ping_pong");
    snprintf(note, sizeof note, "%ld round trips, two adopted threads, two SynchronizationEvents vs a spin-then-futex "
             "hand-off (%d pauses, then FUTEX_WAIT); real clock", rounds, BENCH_SPIN_ROUNDS);
    bench_report("event_ping_pong", true, bench_median(ours, (size_t)options->repeats),
                 bench_median(baseline, (size_t)options->repeats), "ns/round", 2.0, note);
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
    atomic_int lock;
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
        bench_ttas_lock(&b->lock);
        held->prev = b->head.prev;
        held->next = &b->head;
        b->head.prev->next = held;
        b->head.prev = held;
        bench_ttas_unlock(&b->lock);
        bench_ttas_lock(&b->lock);
        held = b->head.next;
        if (held != &b->head) {
            held->next->prev = &b->head;
            b->head.next = held->next;
        }
        bench_ttas_unlock(&b->lock);
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
    start = bench_now_ns();
    if (threads == 2)
        pthread_create(&second, NULL, host_list_worker_run, &workers[1]);
    host_list_worker_run(&workers[0]);
    if (threads == 2)
        pthread_join(second, NULL);
    return (bench_now_ns() - start) / (double)(pairs * threads);
}

void bench_interlocked_list(const struct bench_options *options)
{
    long pairs = options->mode == BENCH_FULL ? 5000000 : options->mode == BENCH_QUICK ? 500000 : 1000;
    char note[200];

    bench_boot_real();
    for (int threads = 1; threads <= 2; threads++) {
        double ours[options->repeats], baseline[options->repeats];

        for (int r = 0; r < options->repeats; r++) {
            ours[r] = list_wdmsim(threads, pairs);
            baseline[r] = list_host(threads, pairs);
        }
        snprintf(note, sizeof note, "%ld ExInterlockedInsertTailList+RemoveHeadList pairs per thread vs the same "
                 "list under an inline test-and-test-and-set lock; PASSIVE_LEVEL", pairs);
        bench_report(threads == 1 ? "interlocked_list_1thread" : "interlocked_list_2threads", true,
                     bench_median(ours, (size_t)options->repeats), bench_median(baseline, (size_t)options->repeats),
                     "ns/pair", threads == 1 ? 1.5 : 1.0, note);
    }
    bench_shutdown("interlocked_list");
}

/* ---- Spin-lock pair ---- */

/* Nanoseconds per KeAcquireSpinLock + KeReleaseSpinLock, one thread, the lock never contended. */
static double spin_lock_wdmsim(long pairs)
{
    KSPIN_LOCK lock;
    KIRQL old;
    double start;

    KeInitializeSpinLock(&lock);
    start = bench_now_ns();
    for (long i = 0; i < pairs; i++) {
        KeAcquireSpinLock(&lock, &old);
        KeReleaseSpinLock(&lock, old);
    }
    return (bench_now_ns() - start) / (double)pairs;
}

static double spin_lock_host(long pairs)
{
    pthread_spinlock_t lock;
    double start;

    pthread_spin_init(&lock, PTHREAD_PROCESS_PRIVATE);
    start = bench_now_ns();
    for (long i = 0; i < pairs; i++) {
        pthread_spin_lock(&lock);
        pthread_spin_unlock(&lock);
    }
    pthread_spin_destroy(&lock);
    return (bench_now_ns() - start) / (double)pairs;
}

void bench_spin_lock(const struct bench_options *options)
{
    long pairs = options->mode == BENCH_FULL ? 20000000 : options->mode == BENCH_QUICK ? 4000000 : 1000;
    double ours[options->repeats], baseline[options->repeats];
    char note[160];

    bench_boot_real();
    for (int r = 0; r < options->repeats; r++) {
        ours[r] = spin_lock_wdmsim(pairs);
        baseline[r] = spin_lock_host(pairs);
    }
    bench_shutdown("spin_lock_pair");
    snprintf(note, sizeof note, "%ld KeAcquireSpinLock+KeReleaseSpinLock pairs (PASSIVE -> DISPATCH -> PASSIVE) vs "
             "pthread_spin_lock+unlock; Wine measured 13.4 ns", pairs);
    bench_report("spin_lock_pair", true, bench_median(ours, (size_t)options->repeats),
                 bench_median(baseline, (size_t)options->repeats), "ns/pair", 2.0, note);
}

/* ---- Pool allocate + free ---- */

#define BENCH_POOL_TAG 'hcnB'
#define BENCH_POOL_BYTES 64

/* Nanoseconds per ExAllocatePoolWithTag(NonPagedPool, 64) + ExFreePoolWithTag, one thread. */
static double pool_wdmsim(long pairs)
{
    double start = bench_now_ns();

    for (long i = 0; i < pairs; i++) {
        PVOID block = ExAllocatePoolWithTag(NonPagedPool, BENCH_POOL_BYTES, BENCH_POOL_TAG);

        if (block == NULL)
            abort();
        ExFreePoolWithTag(block, BENCH_POOL_TAG);
    }
    return (bench_now_ns() - start) / (double)pairs;
}

static double pool_host(long pairs)
{
    double start = bench_now_ns();

    for (long i = 0; i < pairs; i++) {
        void *volatile block = malloc(BENCH_POOL_BYTES);

        if (block == NULL)
            abort();
        free(block);
    }
    return (bench_now_ns() - start) / (double)pairs;
}

void bench_pool(const struct bench_options *options)
{
    long pairs = options->mode == BENCH_FULL ? 4000000 : options->mode == BENCH_QUICK ? 1000000 : 1000;
    double ours[options->repeats], baseline[options->repeats];
    char note[160];

    bench_boot_real();
    for (int r = 0; r < options->repeats; r++) {
        ours[r] = pool_wdmsim(pairs);
        baseline[r] = pool_host(pairs);
    }
    bench_shutdown("pool_alloc_free");
    snprintf(note, sizeof note, "%ld ExAllocatePoolWithTag(NonPagedPool, %d)+ExFreePoolWithTag pairs vs malloc+free; "
             "Wine measured 59 ns", pairs, BENCH_POOL_BYTES);
    bench_report("pool_alloc_free", true, bench_median(ours, (size_t)options->repeats),
                 bench_median(baseline, (size_t)options->repeats), "ns/pair", 5.0, note);
}
