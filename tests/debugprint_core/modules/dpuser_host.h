/*
 * dpuser_host.h - the host side of dpuser.h, shared by the suites that load the DebugPrint user
 * test driver: loading it, calling its helpers as its own code (so what they allocate is charged
 * to it), reading its statistics, and producer threads that trace through it concurrently.
 * CMocka asserts happen on the test's thread only; producer threads just count.
 */
#ifndef DPUSER_HOST_H
#define DPUSER_HOST_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "DebugPrint.h"
#include "dpuser.h"
#include <wdmsim/test.h>
#include "wdmsim_test_threads.h"

typedef VOID dpuser_statistics_fn(PDEBUGPRINT_STATISTICS Statistics);

struct dpuser {
    char name[64];
    PDRIVER_OBJECT driver;
    DPUSER_PRINT_SERIES *print_series;
    DPUSER_PRINT_MSG *print_msg;
    DPUSER_CLOSE *close;
    dpuser_statistics_fn *statistics;
};

/* Loads the module at path as driver name; returns the loader's status. */
/* Simulated system time, 100 ns since 1601. */
static inline LONGLONG dpuser_now(void)
{
    LARGE_INTEGER time;

    KeQuerySystemTime(&time);
    return time.QuadPart;
}

/* Waits until the absolute simulated time when; every other thread runs meanwhile. */
static inline void dpuser_wait_until(LONGLONG when)
{
    LARGE_INTEGER due = { .QuadPart = when };

    KeDelayExecutionThread(KernelMode, FALSE, &due);
}

static inline NTSTATUS dpuser_try_load(struct dpuser *user, const char *path, const char *name)
{
    NTSTATUS status;

    memset(user, 0, sizeof *user);
    snprintf(user->name, sizeof user->name, "%s", name);
    status = wdmsim_driver_load_module(path, name, &user->driver);
    if (!NT_SUCCESS(status))
        return status;
    user->print_series = (DPUSER_PRINT_SERIES *)wdmsim_driver_symbol(user->driver, "DpUserPrintSeries");
    user->print_msg = (DPUSER_PRINT_MSG *)wdmsim_driver_symbol(user->driver, "DpUserPrintMsg");
    user->close = (DPUSER_CLOSE *)wdmsim_driver_symbol(user->driver, "DpUserClose");
    user->statistics = (dpuser_statistics_fn *)wdmsim_driver_symbol(user->driver, "DebugPrintGetStatistics");
    return status;
}

static inline void dpuser_load(struct dpuser *user, const char *path, const char *name)
{
    assert_int_equal(dpuser_try_load(user, path, name), STATUS_SUCCESS);
    assert_non_null(user->print_series);
    assert_non_null(user->print_msg);
    assert_non_null(user->close);
    assert_non_null(user->statistics);
}

static inline void dpuser_unload(struct dpuser *user)
{
    wdmsim_driver_unload(user->driver);
    user->driver = NULL;
}

struct dpuser_call {
    const struct dpuser *user;
    ULONG where;
    const char *prefix;
    ULONG first;
    ULONG count;
    char *msg;
    bool close;
};

static inline void dpuser_call_main(void *context)
{
    const struct dpuser_call *call = context;

    if (call->close)
        call->user->close();
    else if (call->msg != NULL)
        call->user->print_msg(call->where, call->msg);
    else
        call->user->print_series(call->where, call->prefix, call->first, call->count);
}

/* count messages "<prefix> <n>", n from first, made where (a DPUSER_ constant). */
static inline void dpuser_series(const struct dpuser *user, ULONG where, const char *prefix, ULONG first,
                                 ULONG count)
{
    struct dpuser_call call = { user, where, prefix, first, count, NULL, false };

    wdmsim_run_as_driver(user->name, dpuser_call_main, &call);
}

static inline void dpuser_msg(const struct dpuser *user, ULONG where, char *msg)
{
    struct dpuser_call call = { user, where, NULL, 0, 0, msg, false };

    wdmsim_run_as_driver(user->name, dpuser_call_main, &call);
}

/* DebugPrintClose, as the driver's Unload would call it. */
static inline void dpuser_close(const struct dpuser *user)
{
    struct dpuser_call call = { user, 0, NULL, 0, 0, NULL, true };

    wdmsim_run_as_driver(user->name, dpuser_call_main, &call);
}

/* The statistics, with the identity every moment must satisfy. */
static inline DEBUGPRINT_STATISTICS dpuser_statistics(const struct dpuser *user)
{
    DEBUGPRINT_STATISTICS s;

    user->statistics(&s);
    assert_int_equal(s.Dropped, s.DroppedQueueFull + s.DroppedNoMemory + s.DroppedWriteFailed);
    assert_int_equal(s.Produced, s.Delivered + s.Cleared + s.Dropped + s.Queued);
    return s;
}

static inline size_t dpuser_pool_blocks(const struct dpuser *user)
{
    return wdmsim_pool_outstanding_by_driver(user->name, NULL);
}

/* ---- Producers ---- */

/* A simulated thread tracing "<prefix> <n>" through one driver, one message a call, n = 0, 1, ...,
 * until it has made limit calls (0: no limit) or stop is set. */
struct dpuser_producer {
    const struct dpuser *user;
    ULONG where;
    char prefix[16];
    ULONG limit;
    atomic_bool *stop;
    ULONG calls;                    /* read once the thread is joined */
    struct wdmsim_test_thread thread;
};

static inline void dpuser_producer_loop(void *context)
{
    struct dpuser_producer *p = context;

    while ((p->limit == 0 || p->calls < p->limit) && !atomic_load(p->stop)) {
        p->user->print_series(p->where, p->prefix, p->calls, 1);
        p->calls++;
    }
}

static inline void dpuser_producer_main(void *context)
{
    struct dpuser_producer *p = context;

    wdmsim_run_as_driver(p->user->name, dpuser_producer_loop, p);
}

static inline void dpuser_producer_start(struct dpuser_producer *p, const struct dpuser *user, ULONG where,
                                         const char *prefix, ULONG limit, atomic_bool *stop)
{
    p->user = user;
    p->where = where;
    snprintf(p->prefix, sizeof p->prefix, "%s", prefix);
    p->limit = limit;
    p->stop = stop;
    p->calls = 0;
    wdmsim_test_thread_start(&p->thread, dpuser_producer_main, p);
}

static inline void dpuser_producer_join(struct dpuser_producer *p)
{
    wdmsim_test_thread_join(&p->thread);
}

/* Checks the producers' messages among messages (delivery order; others are skipped): each one's
 * numbers strictly increase, and with complete they are exactly 0 .. calls - 1. Returns how many
 * of messages are the producers'. */
static inline size_t dpuser_assert_in_order(const char *const *messages, size_t count,
                                            const struct dpuser_producer *producers, size_t n, bool complete)
{
    long *last = calloc(n, sizeof *last);
    size_t theirs = 0;

    assert_non_null(last);
    for (size_t p = 0; p < n; p++)
        last[p] = -1;
    for (size_t i = 0; i < count; i++) {
        for (size_t p = 0; p < n; p++) {
            size_t length = strlen(producers[p].prefix);
            char *end;
            long number;

            if (strncmp(messages[i], producers[p].prefix, length) != 0 || messages[i][length] != ' ')
                continue;
            number = strtol(messages[i] + length + 1, &end, 10);
            assert_int_equal(*end, '\0');
            if (number <= last[p] || (complete && number != last[p] + 1))
                print_message("%s: \"%s\" after number %ld\n", producers[p].prefix, messages[i], last[p]);
            assert_true(number > last[p]);
            if (complete)
                assert_int_equal(number, last[p] + 1);
            last[p] = number;
            theirs++;
        }
    }
    for (size_t p = 0; complete && p < n; p++)
        assert_int_equal(last[p] + 1, producers[p].calls);
    free(last);
    return theirs;
}

#endif /* DPUSER_HOST_H */
