/*
 * boot.c - the machine's life cycle: lazy boot on the first DDI, explicit boot and shutdown for
 * tests, and forgetting an inherited kernel in a forked child.
 * Locking: boot_lock serialises boot and shutdown; `booted` and `kernel_generation_counter` are atomics so the
 * per-DDI check is one load.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "timeline.h"

static pthread_mutex_t boot_lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_bool booted;
atomic_uint kernel_generation_counter;
static atomic_size_t leaks_found;      /* by every shutdown since the process began or forked */
static struct wdmsim_config last_config;
static char last_schedule[320];         /* last_config.schedule points here */

static void kernel_config_from_env(struct wdmsim_config *config)
{
    const char *clock = getenv("WDMSIM_CLOCK");

    memset(config, 0, sizeof *config);
    config->clock = (clock && strcmp(clock, "virtual") == 0) ? WDMSIM_CLOCK_VIRTUAL : WDMSIM_CLOCK_REAL;
}

/* A controlled schedule runs on the virtual clock: host time must decide nothing. */
static void kernel_boot_locked(const struct wdmsim_config *config)
{
    bool controlled = strategy_begin(config->schedule);

    last_config = *config;
    if (config->schedule != last_schedule) {
        snprintf(last_schedule, sizeof last_schedule, "%s", config->schedule ? config->schedule : "");
        last_config.schedule = config->schedule ? last_schedule : NULL;
    }
    if (controlled)
        last_config.clock = WDMSIM_CLOCK_VIRTUAL;
    atomic_fetch_add(&kernel_generation_counter, 1);
    crash_boot();
    clock_boot(&last_config);
    processor_boot();
    timeline_boot();
    disp_boot();
    lockorder_boot();
    /* Before sched_boot: the real clock's timer thread reads the timer queue as soon as it starts. */
    timer_boot();
    sched_boot(controlled);
    pool_boot();
    ns_boot();
    io_boot();
    file_boot();
    deviface_boot();
    object_boot();
    handle_boot();
    registry_boot();
    errorlog_boot();
    process_boot();
    thread_boot();
    driver_boot();
    debug_boot();
    resource_boot();
    lookaside_boot();
    devqueue_boot();
    irp_boot();
    iotimer_boot();
    removelock_boot();
    atomic_store(&booted, true);
    /* The booting thread counts as runnable before any service thread can block, or the first
     * idle DPC thread would find nobody able to run. */
    thread_current();
    dpc_boot();
    workitem_boot();
    sched_wait_boot_idle();
}

static size_t kernel_shutdown_locked(void)
{
    size_t leaked = 0;

    if (atomic_load(&booted)) {
        workitem_shutdown();
        dpc_shutdown();
        sched_shutdown();
        leaked = pool_shutdown();
        ns_shutdown();
        deviface_shutdown();
        leaked += thread_system_shutdown();
        leaked += handle_shutdown();
        leaked += object_shutdown();
        registry_shutdown();
        errorlog_shutdown();
        leaked += process_shutdown();
        timeline_shutdown();
        thread_shutdown();
        driver_shutdown();
        atomic_store(&booted, false);
        atomic_fetch_add(&leaks_found, leaked);
    }
    return leaked;
}

void kernel_ensure_booted(void)
{
    struct wdmsim_config config;

    if (atomic_load_explicit(&booted, memory_order_acquire))
        return;
    host_lock(&boot_lock);
    if (!atomic_load(&booted)) {
        kernel_config_from_env(&config);
        kernel_boot_locked(&config);
    }
    host_unlock(&boot_lock);
}

const struct wdmsim_config *kernel_last_config(void)
{
    return &last_config;
}

/* On the virtual clock time moves only when every other simulated thread is blocked, so one
 * tick of delay leaves them all parked in the dispatcher, holding no host lock: a fork is safe.
 * (A thread forked while another holds, say, the allocator's lock would hang in the child.) */
void kernel_quiesce(void)
{
    LARGE_INTEGER one_tick = { .QuadPart = -1 };

    if (atomic_load(&booted) && clock_is_virtual_mode() && KeGetCurrentIrql() == PASSIVE_LEVEL)
        KeDelayExecutionThread(KernelMode, FALSE, &one_tick);
}

void kernel_forget_after_fork(void)
{
    pthread_mutex_init(&boot_lock, NULL);
    atomic_store(&booted, false);
    atomic_fetch_add(&kernel_generation_counter, 1);
    atomic_store(&leaks_found, 0);
}

size_t kernel_leaks_found(void)
{
    return atomic_load(&leaks_found);
}

void wdmsim_boot(const struct wdmsim_config *config)
{
    struct wdmsim_config defaults;

    if (config == NULL) {
        kernel_config_from_env(&defaults);
        config = &defaults;
    }
    host_lock(&boot_lock);
    kernel_shutdown_locked();
    kernel_boot_locked(config);
    host_unlock(&boot_lock);
}

size_t wdmsim_shutdown(void)
{
    size_t leaked;

    host_lock(&boot_lock);
    leaked = kernel_shutdown_locked();
    host_unlock(&boot_lock);
    return leaked;
}

int wdmsim_is_booted(void)
{
    return atomic_load(&booted);
}
