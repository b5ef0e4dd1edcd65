/*
 * wdmsim.h - the host API: what tests and tools (never driver code) use to start, stop, observe
 * and steer the simulated kernel. Simulator world: every name starts with wdmsim_.
 */
#ifndef WDMSIM_WDMSIM_H
#define WDMSIM_WDMSIM_H

#include <stddef.h>
#include <stdio.h>
#include <wdm.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Machine life cycle ----
 * The kernel boots itself on the first DDI call; a test that wants a fresh kernel per case calls
 * wdmsim_boot() in its setup and wdmsim_shutdown() in its teardown. */

enum wdmsim_clock_mode { WDMSIM_CLOCK_REAL, WDMSIM_CLOCK_VIRTUAL };

struct wdmsim_config {
    enum wdmsim_clock_mode clock;   /* default: WDMSIM_CLOCK env var, else real */
    long long start_time;           /* virtual clock start, 100 ns since 1601; 0: a fixed date */
    int time_zone_bias_minutes;     /* local = UTC - bias, as Windows; used when bias_set */
    int time_zone_bias_set;         /* 0: the host's time zone */
};

/* Boots a fresh kernel (config NULL: defaults). Stopping an already-booted kernel first. */
void wdmsim_boot(const struct wdmsim_config *config);
/* Stops the kernel: returns the number of leaked resources it found (pool blocks, running system
 * threads, open handles, objects with references left), each also named on stderr. */
size_t wdmsim_shutdown(void);
int wdmsim_is_booted(void);

/* ---- Stops (bug checks) ----
 * By default a STOP prints its report to stderr and ends the process with WDMSIM_STOP_EXIT_STATUS.
 * wdmsim_run_expecting_stop() runs a scenario in a forked child with a fresh kernel, so the
 * STOP may happen on any simulated thread and the caller's process is never affected. The
 * scenario must not use CMocka asserts (it runs in the child): record, and assert afterwards. */

#define WDMSIM_STOP_EXIT_STATUS 86

struct wdmsim_stop {
    int stopped;                    /* 1: the machine stopped; 0: the scenario returned */
    int exit_signal;                /* the child died by this signal without a report (crash) */
    unsigned int code;              /* bug check code, e.g. 0xC4 */
    unsigned long long params[4];   /* the four bug check parameters */
    char code_name[64];             /* e.g. "DRIVER_VERIFIER_DETECTED_VIOLATION" */
    char rule[64];                  /* rule catalog id, "" when a driver called KeBugCheckEx */
    char report[8192];              /* the report, exactly as it would be printed */
};

typedef void wdmsim_scenario_fn(void *context);
void wdmsim_run_expecting_stop(wdmsim_scenario_fn *scenario, void *context, struct wdmsim_stop *stop);

/* ---- Drivers ----
 * Resources (pool, and later threads, timers, handles) are charged to the driver whose code runs.
 * Until a driver is loaded for real, host code can run a function as a named driver's code. */

void wdmsim_run_as_driver(const char *driver_name, wdmsim_scenario_fn *fn, void *context);

/* ---- The rule catalog ---- */

struct wdmsim_rule_info {
    const char *id;                 /* stable id, e.g. "spinlock.recursive_acquire" */
    const char *ddi;                /* the DDI or DDIs it guards */
    const char *condition;          /* what breaks the rule */
    unsigned int code;              /* bug check code */
    const char *code_name;
    long long subcode;              /* parameter 1 when the code has subcodes, else -1 */
    const char *explanation;
    const char *fix;
};

size_t wdmsim_rule_count(void);
const struct wdmsim_rule_info *wdmsim_rule_at(size_t index);
/* Writes the catalog as the Markdown page docs/irql-rules.md. */
void wdmsim_rules_write_markdown(FILE *out);

/* ---- Pool ---- */

struct wdmsim_pool_stats {
    size_t allocations;             /* successful allocations since boot */
    size_t frees;
    size_t outstanding_blocks;
    size_t outstanding_bytes;
    size_t failed_injected;         /* allocations failed on purpose (fault injection) */
};

void wdmsim_pool_stats(struct wdmsim_pool_stats *stats);
/* Outstanding blocks and bytes carrying this tag. */
size_t wdmsim_pool_outstanding_by_tag(ULONG tag, size_t *bytes);
/* Outstanding blocks and bytes charged to the named driver ("" or NULL: host code). */
size_t wdmsim_pool_outstanding_by_driver(const char *driver_name, size_t *bytes);
/* Prints every outstanding block (tag, type, size, address), returns their number. */
size_t wdmsim_pool_report(FILE *out);
/* Fault injection: fail the nth allocation from now on (1 = the next one); 0 disables. */
void wdmsim_pool_fail_nth(size_t nth);
/* Fault injection: fail every allocation with this tag (0 disables). */
void wdmsim_pool_fail_tag(ULONG tag);

/* ---- Clock ---- */

/* Virtual clock only: moves simulated time forward by delta (100 ns units). */
void wdmsim_clock_advance(long long delta);
enum wdmsim_clock_mode wdmsim_clock_mode(void);

#ifdef __cplusplus
}
#endif

#endif /* WDMSIM_WDMSIM_H */
