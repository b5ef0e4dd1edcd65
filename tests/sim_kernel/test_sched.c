/*
 * test_sched.c - the scheduler: virtual time stands still while any simulated thread can run and
 * jumps to the next deadline when all are blocked; wdmsim_clock_advance fires what falls due on
 * the way, in order; a machine where everyone waits for ever stops with a report of every thread;
 * and the real clock's timer thread. Wall time is never measured: only simulated time is asserted.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <wdmsim/test.h>
#include "wdmsim_test_threads.h"

#define TICKS_PER_MS 10000LL
#define TICKS_PER_SECOND 10000000LL
#define TICKS_PER_MINUTE (60 * TICKS_PER_SECOND)
#define BUSY_ROUNDS 10000
#define REBOOTS 500

static LONGLONG system_time(void)
{
    LARGE_INTEGER now;

    KeQuerySystemTime(&now);
    return now.QuadPart;
}

static LONGLONG tick_count(void)
{
    LARGE_INTEGER ticks;

    KeQueryTickCount(&ticks);
    return ticks.QuadPart;
}

static LARGE_INTEGER relative(LONGLONG ticks)
{
    LARGE_INTEGER timeout = { .QuadPart = -ticks };

    return timeout;
}

static void boot_real_clock(void)
{
    struct wdmsim_config config = { .clock = WDMSIM_CLOCK_REAL, .time_zone_bias_set = 1, .schedule = "free" };

    wdmsim_boot(&config);
}

/* ---- Virtual time ---- */

static void a_five_minute_wait_ends_five_minutes_later_in_simulated_time(void **state)
{
    KEVENT event;
    LARGE_INTEGER five_minutes = relative(5 * TICKS_PER_MINUTE);
    LONGLONG start = system_time(), start_ticks = tick_count();

    (void)state;
    KeInitializeEvent(&event, NotificationEvent, FALSE);
    assert_int_equal(KeWaitForSingleObject(&event, Executive, KernelMode, FALSE, &five_minutes), STATUS_TIMEOUT);
    assert_int_equal(system_time() - start, 5 * TICKS_PER_MINUTE);
    /* The tick count moved by the same amount, to within one clock tick. */
    assert_true((tick_count() - start_ticks) * (LONGLONG)KeQueryTimeIncrement() > 5 * TICKS_PER_MINUTE -
                (LONGLONG)KeQueryTimeIncrement());
}

static void time_stands_still_while_the_only_thread_runs(void **state)
{
    KEVENT event;
    LONGLONG start = system_time();

    (void)state;
    KeInitializeEvent(&event, SynchronizationEvent, FALSE);
    for (int i = 0; i < BUSY_ROUNDS; i++) {
        KeSetEvent(&event, IO_NO_INCREMENT, FALSE);
        KeResetEvent(&event);
    }
    assert_int_equal(system_time(), start);
}

struct busy_thread {
    struct wdmsim_test_thread thread;
    KEVENT *finished;
    LONGLONG start;
    atomic_int moved;               /* how often the busy thread saw the time change */
};

static void run_then_set(void *context)
{
    struct busy_thread *b = context;

    for (int i = 0; i < BUSY_ROUNDS; i++) {
        if (system_time() != b->start)
            atomic_fetch_add(&b->moved, 1);
    }
    KeSetEvent(b->finished, IO_NO_INCREMENT, FALSE);
}

/* However long the busy thread takes in wall time, it can run, so no time passes and the timeout
 * cannot beat its KeSetEvent. */
static void wait_for_a_busy_thread(LONGLONG timeout_ticks)
{
    KEVENT finished;
    struct busy_thread busy = { .finished = &finished };
    LARGE_INTEGER timeout = relative(timeout_ticks);

    KeInitializeEvent(&finished, NotificationEvent, FALSE);
    busy.start = system_time();
    atomic_store(&busy.moved, 0);
    wdmsim_test_thread_start(&busy.thread, run_then_set, &busy);
    assert_int_equal(KeWaitForSingleObject(&finished, Executive, KernelMode, FALSE, &timeout), STATUS_SUCCESS);
    wdmsim_test_thread_join(&busy.thread);
    assert_int_equal(atomic_load(&busy.moved), 0);
    assert_int_equal(system_time(), busy.start);
}

static void a_timeout_cannot_expire_while_another_thread_can_run(void **state)
{
    (void)state;
    wait_for_a_busy_thread(TICKS_PER_MS);
}

struct timed_waiter {
    struct wdmsim_test_thread thread;
    KEVENT never;
    LONGLONG timeout;
    atomic_int status;
    atomic_llong woke_at;
};

static void wait_with_timeout(void *context)
{
    struct timed_waiter *w = context;
    LARGE_INTEGER timeout = relative(w->timeout);
    NTSTATUS status = KeWaitForSingleObject(&w->never, Executive, KernelMode, FALSE, &timeout);

    atomic_store(&w->woke_at, system_time());
    atomic_store(&w->status, status);
}

static void start_timed_waiter(struct timed_waiter *w, LONGLONG timeout)
{
    KeInitializeEvent(&w->never, NotificationEvent, FALSE);
    w->timeout = timeout;
    atomic_store(&w->status, -1);
    atomic_store(&w->woke_at, 0);
    wdmsim_test_thread_start(&w->thread, wait_with_timeout, w);
}

static void each_blocked_thread_wakes_at_its_own_deadline(void **state)
{
    struct timed_waiter w;
    KEVENT never;
    LARGE_INTEGER one_second = relative(TICKS_PER_SECOND);
    LONGLONG start = system_time();

    (void)state;
    KeInitializeEvent(&never, NotificationEvent, FALSE);
    /* The waiter may compute its deadline a moment after start, but no time passes meanwhile: the
     * main thread is runnable until it blocks below. */
    start_timed_waiter(&w, 5 * TICKS_PER_SECOND);
    assert_int_equal(KeWaitForSingleObject(&never, Executive, KernelMode, FALSE, &one_second), STATUS_TIMEOUT);
    assert_int_equal(system_time() - start, TICKS_PER_SECOND);
    wdmsim_test_thread_join(&w.thread);
    assert_int_equal(atomic_load(&w.status), STATUS_TIMEOUT);
    assert_int_equal(atomic_load(&w.woke_at) - start, 5 * TICKS_PER_SECOND);
}

/* ---- wdmsim_clock_advance ---- */

static void wdmsim_clock_advance_moves_time_by_exactly_delta(void **state)
{
    LONGLONG start = system_time();

    (void)state;
    wdmsim_clock_advance(42 * TICKS_PER_SECOND + 7);
    assert_int_equal(system_time() - start, 42 * TICKS_PER_SECOND + 7);
    wdmsim_clock_advance(0);
    assert_int_equal(system_time() - start, 42 * TICKS_PER_SECOND + 7);
}

static void KeStallExecutionProcessor_passes_exactly_that_much_virtual_time(void **state)
{
    LONGLONG start = system_time();
    KIRQL old;

    (void)state;
    KeStallExecutionProcessor(50);
    assert_int_equal(system_time() - start, 500);
    KeRaiseIrql(HIGH_LEVEL, &old);
    KeStallExecutionProcessor(1000000);
    KeLowerIrql(old);
    assert_int_equal(system_time() - start, 500 + TICKS_PER_SECOND);
}

static void KeStallExecutionProcessor_fires_a_timer_that_falls_due_while_it_spins(void **state)
{
    KTIMER timer;

    (void)state;
    KeInitializeTimer(&timer);
    KeSetTimer(&timer, relative(30 * TICKS_PER_MS), NULL);
    KeStallExecutionProcessor(29999);
    assert_false(KeReadStateTimer(&timer));
    KeStallExecutionProcessor(1);
    assert_true(KeReadStateTimer(&timer));
}

static void wdmsim_clock_advance_fires_the_timers_and_timeouts_due_on_the_way(void **state)
{
    KTIMER timers[3];
    static const LONGLONG due[3] = { 1 * TICKS_PER_SECOND, 3 * TICKS_PER_SECOND, 10 * TICKS_PER_SECOND };
    struct timed_waiter w;
    LONGLONG start;

    (void)state;
    start_timed_waiter(&w, 2 * TICKS_PER_SECOND);
    wdmsim_test_settle();
    start = system_time();
    for (int i = 0; i < 3; i++) {
        KeInitializeTimer(&timers[i]);
        KeSetTimer(&timers[i], relative(due[i]), NULL);
    }
    wdmsim_clock_advance(5 * TICKS_PER_SECOND);
    assert_int_equal(system_time() - start, 5 * TICKS_PER_SECOND);
    assert_true(KeReadStateTimer(&timers[0]));
    assert_true(KeReadStateTimer(&timers[1]));
    assert_false(KeReadStateTimer(&timers[2]));
    wdmsim_test_thread_join(&w.thread);
    assert_int_equal(atomic_load(&w.status), STATUS_TIMEOUT);
    assert_true(KeCancelTimer(&timers[2]));
}

struct timer_waiter {
    struct wdmsim_test_thread thread;
    KTIMER *timer;
    atomic_int status;
};

static void wait_for_timer_with_timeout(void *context)
{
    struct timer_waiter *w = context;
    LARGE_INTEGER two_seconds = relative(2 * TICKS_PER_SECOND);

    atomic_store(&w->status, KeWaitForSingleObject(w->timer, Executive, KernelMode, FALSE, &two_seconds));
}

static void wdmsim_clock_advance_fires_in_due_order_so_a_timer_due_before_a_timeout_satisfies_the_wait(void **state)
{
    KTIMER timer;
    struct timer_waiter w = { .timer = &timer };

    (void)state;
    KeInitializeTimer(&timer);
    KeSetTimer(&timer, relative(TICKS_PER_SECOND), NULL);
    atomic_store(&w.status, -1);
    wdmsim_test_thread_start(&w.thread, wait_for_timer_with_timeout, &w);
    wdmsim_test_settle();
    /* Past both: at +1 s the timer fires and satisfies the wait, which then has no timeout left. */
    wdmsim_clock_advance(3 * TICKS_PER_SECOND);
    wdmsim_test_thread_join(&w.thread);
    assert_int_equal(atomic_load(&w.status), STATUS_SUCCESS);
}

static VOID NTAPI count_dpc(PKDPC dpc, PVOID context, PVOID argument1, PVOID argument2)
{
    (void)dpc;
    (void)argument1;
    (void)argument2;
    atomic_fetch_add((atomic_int *)context, 1);
}

static void wdmsim_clock_advance_fires_a_timer_set_for_the_very_end(void **state)
{
    KTIMER timer;
    KDPC dpc;
    atomic_int runs;

    (void)state;
    atomic_store(&runs, 0);
    KeInitializeTimer(&timer);
    KeInitializeDpc(&dpc, count_dpc, &runs);
    KeSetTimer(&timer, relative(TICKS_PER_MINUTE), &dpc);
    wdmsim_clock_advance(TICKS_PER_MINUTE - 1);
    assert_false(KeReadStateTimer(&timer));
    wdmsim_clock_advance(1);
    assert_true(KeReadStateTimer(&timer));
    KeFlushQueuedDpcs();
    assert_int_equal(atomic_load(&runs), 1);
}

/* ---- Deadlocks ---- */

static KEVENT scenario_main_event, scenario_other_event;
static struct wdmsim_test_thread scenario_thread;

static void wait_for_other_event(void *context)
{
    (void)context;
    KeWaitForSingleObject(&scenario_other_event, Executive, KernelMode, FALSE, NULL);
}

static void two_threads_wait_for_ever(void *context)
{
    (void)context;
    KeInitializeEvent(&scenario_main_event, NotificationEvent, FALSE);
    KeInitializeEvent(&scenario_other_event, SynchronizationEvent, FALSE);
    wdmsim_test_thread_start(&scenario_thread, wait_for_other_event, NULL);
    KeWaitForSingleObject(&scenario_main_event, Executive, KernelMode, FALSE, NULL);
}

static void assert_report_has(const struct wdmsim_stop *stop, const char *fmt, const void *object)
{
    char expected[160];

    snprintf(expected, sizeof expected, fmt, object);
    if (strstr(stop->report, expected) == NULL)
        print_message("expected \"%s\" in:\n%s", expected, stop->report);
    assert_non_null(strstr(stop->report, expected));
}

static void a_deadlock_report_lists_every_thread_and_what_it_waits_for(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(two_threads_wait_for_ever, NULL, 0xE2, WDMSIM_ANY_PARAM, "sched.deadlock", &stop);
    assert_report_has(&stop, "main: in KeWaitForSingleObject, for notification event %p", &scenario_main_event);
    assert_report_has(&stop, ": in KeWaitForSingleObject, for synchronization event %p", &scenario_other_event);
    assert_non_null(strstr(stop.report, "\n          System:"));
    assert_non_null(strstr(stop.report, "\n          dpc: in KeWaitForSingleObject"));
}

static void wait_for_ever_after_a_timer_nobody_waits_for(void *context)
{
    static KTIMER timer;

    (void)context;
    KeInitializeEvent(&scenario_main_event, NotificationEvent, FALSE);
    KeInitializeTimer(&timer);
    KeSetTimer(&timer, relative(TICKS_PER_MINUTE), NULL);
    KeWaitForSingleObject(&scenario_main_event, Executive, KernelMode, FALSE, NULL);
}

static void a_deadlock_behind_a_pending_timer_is_reported_once_the_timer_has_fired(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(wait_for_ever_after_a_timer_nobody_waits_for, NULL, 0xE2, WDMSIM_ANY_PARAM,
                        "sched.deadlock", &stop);
    assert_report_has(&stop, "main: in KeWaitForSingleObject, for notification event %p", &scenario_main_event);
}

static void delay_then_wait_for_ever(void *context)
{
    LARGE_INTEGER one_hour = relative(60 * TICKS_PER_MINUTE);

    (void)context;
    KeInitializeEvent(&scenario_main_event, NotificationEvent, FALSE);
    KeDelayExecutionThread(KernelMode, FALSE, &one_hour);
    KeWaitForSingleObject(&scenario_main_event, Executive, KernelMode, FALSE, NULL);
}

static void a_delay_is_not_a_deadlock_but_the_wait_after_it_is(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(delay_then_wait_for_ever, NULL, 0xE2, WDMSIM_ANY_PARAM, "sched.deadlock", &stop);
    assert_report_has(&stop, "main: in KeWaitForSingleObject, for notification event %p", &scenario_main_event);
}

static void a_kernel_booted_by_the_first_DDI_counts_its_thread_once(void **state)
{
    LARGE_INTEGER one_second = relative(TICKS_PER_SECOND);
    LONGLONG start;

    (void)state;
    wdmsim_shutdown();
    /* The first DDI that needs a thread boots a kernel (from the environment: the virtual clock)
     * and adopts this thread. Were it counted twice, the machine would never look idle and this
     * delay would never end. */
    start = system_time();
    assert_int_equal(wdmsim_clock_mode(), WDMSIM_CLOCK_VIRTUAL);
    assert_int_equal(KeDelayExecutionThread(KernelMode, FALSE, &one_second), STATUS_SUCCESS);
    assert_int_equal(system_time() - start, TICKS_PER_SECOND);
}

/* ---- The real clock ---- */

static void on_the_real_clock_a_10_ms_wait_times_out(void **state)
{
    KEVENT event;
    LARGE_INTEGER ten_ms = relative(10 * TICKS_PER_MS);
    LONGLONG start;

    (void)state;
    boot_real_clock();
    assert_int_equal(wdmsim_clock_mode(), WDMSIM_CLOCK_REAL);
    KeInitializeEvent(&event, NotificationEvent, FALSE);
    start = tick_count();
    assert_int_equal(KeWaitForSingleObject(&event, Executive, KernelMode, FALSE, &ten_ms), STATUS_TIMEOUT);
    assert_true(tick_count() >= start);
}

static void on_the_real_clock_a_timer_fires_and_queues_its_DPC(void **state)
{
    KTIMER timer;
    KDPC dpc;
    atomic_int runs;

    (void)state;
    boot_real_clock();
    atomic_store(&runs, 0);
    KeInitializeTimer(&timer);
    KeInitializeDpc(&dpc, count_dpc, &runs);
    KeSetTimer(&timer, relative(10 * TICKS_PER_MS), &dpc);
    assert_int_equal(KeWaitForSingleObject(&timer, Executive, KernelMode, FALSE, NULL), STATUS_SUCCESS);
    KeFlushQueuedDpcs();
    assert_int_equal(atomic_load(&runs), 1);
}

/* The real clock's timer thread starts during boot and must find this kernel's timer queue, not
 * the previous kernel's (which still links a timer left set) nor, in a fresh process, an
 * uninitialised one. A race, so it is tried many times. */
static void booting_the_real_clock_never_fires_a_timer_left_set_in_the_previous_kernel(void **state)
{
    static KTIMER stale;

    (void)state;
    for (int i = 0; i < REBOOTS; i++) {
        wdmsim_test_boot(NULL);
        KeInitializeTimer(&stale);
        KeSetTimer(&stale, relative(1), NULL);   /* due a tick after this virtual kernel's boot */
        boot_real_clock();
        assert_false(KeReadStateTimer(&stale));
    }
}

/* Runs scenario in a child kernel on the real clock: the parent boots one, and the environment
 * asks for it too, whichever of the two the child boots from. */
static void assert_deadlock_on_the_real_clock(wdmsim_scenario_fn *scenario, struct wdmsim_stop *stop)
{
    boot_real_clock();
    setenv("WDMSIM_CLOCK", "real", 1);
    wdmsim_run_expecting_stop(scenario, NULL, stop);
    setenv("WDMSIM_CLOCK", "virtual", 1);
    if (!stop->stopped || stop->code != 0xE2)
        print_message("expected a deadlock, got:\n%s", stop->report);
    assert_int_equal(stop->stopped, 1);
    assert_int_equal(stop->code, 0xE2);
    assert_string_equal(stop->rule, "sched.deadlock");
}

static void real_clock_wait_for_ever(void *context)
{
    (void)context;
    KeInitializeEvent(&scenario_main_event, NotificationEvent, FALSE);
    KeWaitForSingleObject(&scenario_main_event, Executive, KernelMode, FALSE, NULL);
}

static void on_the_real_clock_a_thread_waiting_for_ever_is_a_deadlock(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    assert_deadlock_on_the_real_clock(real_clock_wait_for_ever, &stop);
    assert_report_has(&stop, "main: in KeWaitForSingleObject, for notification event %p", &scenario_main_event);
}

static void real_clock_wait_for_ever_after_a_timer(void *context)
{
    static KTIMER timer;

    (void)context;
    KeInitializeEvent(&scenario_main_event, NotificationEvent, FALSE);
    KeInitializeTimer(&timer);
    KeSetTimer(&timer, relative(10 * TICKS_PER_MS), NULL);
    KeWaitForSingleObject(&scenario_main_event, Executive, KernelMode, FALSE, NULL);
}

static void on_the_real_clock_a_deadlock_behind_a_pending_timer_is_reported_once_it_has_fired(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    assert_deadlock_on_the_real_clock(real_clock_wait_for_ever_after_a_timer, &stop);
    assert_report_has(&stop, "main: in KeWaitForSingleObject, for notification event %p", &scenario_main_event);
}

/* ---- Controlled mode: one thread at a time ---- */

static void boot_controlled(const char *schedule)
{
    struct wdmsim_config config = { .clock = WDMSIM_CLOCK_VIRTUAL, .schedule = schedule };

    wdmsim_boot(&config);
}

static KSPIN_LOCK scenario_lock;

static void acquire_and_release_scenario_lock(void *context)
{
    KIRQL irql;

    (void)context;
    KeAcquireSpinLock(&scenario_lock, &irql);
    KeReleaseSpinLock(&scenario_lock, irql);
}

/* The test thread holds the lock across scheduling points while the other wants it: whenever the
 * other has the higher priority it finds the lock taken. */
static void hold_a_spin_lock_across_scheduling_points(void *context)
{
    struct wdmsim_test_thread other;
    KIRQL irql;

    (void)context;
    KeInitializeSpinLock(&scenario_lock);
    KeAcquireSpinLock(&scenario_lock, &irql);
    wdmsim_test_thread_start(&other, acquire_and_release_scenario_lock, NULL);
    for (int i = 0; i < 20; i++)
        system_time();
    KeReleaseSpinLock(&scenario_lock, irql);
    wdmsim_test_thread_join(&other);
}

/* pct:1 never lowers a priority (and with a length this long never turns fair): a spinner that
 * kept the turn would spin until the step bound stops it as a livelock; it must hand the turn to
 * the lock's owner instead. */
static void in_controlled_mode_a_contended_spin_lock_hands_the_turn_to_its_owner(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    setenv("WDMSIM_SCHED_MAX_STEPS", "20000", 1);
    for (int seed = 0; seed < 20; seed++) {
        char schedule[48];

        snprintf(schedule, sizeof schedule, "pct:1:%d:1000000", seed);
        boot_controlled(schedule);
        wdmsim_run_expecting_stop(hold_a_spin_lock_across_scheduling_points, NULL, &stop);
        if (stop.stopped)
            print_message("%s", stop.report);
        assert_int_equal(stop.stopped, 0);
    }
    unsetenv("WDMSIM_SCHED_MAX_STEPS");
}

static void in_controlled_mode_a_deadlock_is_reported_with_every_thread(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    boot_controlled("random:1");
    wdmsim_assert_stops(two_threads_wait_for_ever, NULL, 0xE2, WDMSIM_ANY_PARAM, "sched.deadlock", &stop);
    assert_report_has(&stop, "main: in KeWaitForSingleObject, for notification event %p", &scenario_main_event);
    assert_report_has(&stop, ": in KeWaitForSingleObject, for synchronization event %p", &scenario_other_event);
}

static void in_controlled_mode_a_timeout_cannot_expire_while_another_thread_can_take_the_turn(void **state)
{
    (void)state;
    for (int seed = 0; seed < 5; seed++) {
        char schedule[32];

        snprintf(schedule, sizeof schedule, "random:%d", seed);
        boot_controlled(schedule);
        wait_for_a_busy_thread(1);
        assert_int_equal(wdmsim_shutdown(), 0);
    }
}

static volatile LONG scenario_flag_never_set;

static void spin_without_a_DDI(void *unused)
{
    (void)unused;
    while (scenario_flag_never_set == 0)
        ;
}

static void wait_for_a_thread_that_spins_without_a_DDI(void *unused)
{
    struct wdmsim_test_thread spinner;

    (void)unused;
    wdmsim_test_thread_start(&spinner, spin_without_a_DDI, NULL);
    wdmsim_test_thread_join(&spinner);
}

/* No DDI, no scheduling point: only the watchdog can tell that the run is hung. */
static void in_controlled_mode_a_thread_that_spins_without_a_DDI_stops_as_a_livelock(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    setenv("WDMSIM_SCHED_WATCHDOG_SECONDS", "1", 1);
    boot_controlled("random:1");
    wdmsim_assert_stops(wait_for_a_thread_that_spins_without_a_DDI, NULL, 0xE2, WDMSIM_ANY_PARAM, "sched.livelock",
                        &stop);
    unsetenv("WDMSIM_SCHED_WATCHDOG_SECONDS");
    assert_non_null(strstr(stop.report, "thread System:1 has had the turn for 1 s of host time"));
}

static void *query_time_from_a_host_thread(void *unused)
{
    (void)unused;
    system_time();
    return NULL;
}

static void join_a_host_thread(void *unused)
{
    pthread_t host;

    (void)unused;
    boot_controlled("pct:3:1");
    system_time();
    if (pthread_create(&host, NULL, query_time_from_a_host_thread, NULL) != 0 || pthread_join(host, NULL) != 0)
        abort();
    system_time();
    wdmsim_shutdown();
}

/* The scheduler cannot see a host thread with the turn wait in pthread_join: the joined thread
 * takes the turn after the grace period, and the schedule says it now depends on host timing. */
static void a_host_thread_waiting_in_pthread_join_gives_up_the_turn_after_a_grace_period(void **state)
{
    char err[2048];

    (void)state;
    wdmsim_capture_stderr(join_a_host_thread, NULL, err, sizeof err);
    assert_non_null(strstr(err, "slept in host code without reaching a"));
    assert_non_null(strstr(err, "wdmsim_thread_start"));
}

static atomic_bool main_done_with_host_code;
static atomic_bool ran_before_main_was_done;

static void note_whether_main_is_done(void *unused)
{
    (void)unused;
    system_time();
    atomic_store(&ran_before_main_was_done, !atomic_load(&main_done_with_host_code));
}

/* Host code that keeps a processor busy (as a loaded host would keep the thread off one) for
 * longer than the two grace periods a waiter looks at it for: the thread is running, not waiting,
 * and must keep the turn. */
static void stay_busy_in_host_code_for_700_ms(void)
{
    struct timespec start, now;

    clock_gettime(CLOCK_MONOTONIC, &start);
    do
        clock_gettime(CLOCK_MONOTONIC, &now);
    while ((now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000 < 700);
}

static void run_busy_host_code_while_a_thread_waits(void *unused)
{
    struct wdmsim_test_thread waiter;

    (void)unused;
    boot_controlled("random:1");
    atomic_store(&main_done_with_host_code, false);
    wdmsim_test_thread_start(&waiter, note_whether_main_is_done, NULL);
    stay_busy_in_host_code_for_700_ms();
    atomic_store(&main_done_with_host_code, true);
    wdmsim_test_thread_join(&waiter);
    wdmsim_shutdown();
}

/* The grace period is for a holder asleep in host code; one that runs, however long, or that the
 * host merely keeps waiting for a processor, keeps the turn: one thread at a time still holds. */
static void a_host_thread_busy_in_host_code_keeps_the_turn_past_the_grace_period(void **state)
{
    char err[2048];

    (void)state;
    wdmsim_capture_stderr(run_busy_host_code_while_a_thread_waits, NULL, err, sizeof err);
    assert_false(atomic_load(&ran_before_main_was_done));
    assert_null(strstr(err, "slept in host code without reaching a"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        wdmsim_test(a_five_minute_wait_ends_five_minutes_later_in_simulated_time),
        wdmsim_test(time_stands_still_while_the_only_thread_runs),
        wdmsim_test(a_timeout_cannot_expire_while_another_thread_can_run),
        wdmsim_test(each_blocked_thread_wakes_at_its_own_deadline),
        wdmsim_test(wdmsim_clock_advance_moves_time_by_exactly_delta),
        wdmsim_test(KeStallExecutionProcessor_passes_exactly_that_much_virtual_time),
        wdmsim_test(KeStallExecutionProcessor_fires_a_timer_that_falls_due_while_it_spins),
        wdmsim_test(wdmsim_clock_advance_fires_the_timers_and_timeouts_due_on_the_way),
        wdmsim_test(wdmsim_clock_advance_fires_in_due_order_so_a_timer_due_before_a_timeout_satisfies_the_wait),
        wdmsim_test(wdmsim_clock_advance_fires_a_timer_set_for_the_very_end),
        wdmsim_test(a_deadlock_report_lists_every_thread_and_what_it_waits_for),
        wdmsim_test(a_deadlock_behind_a_pending_timer_is_reported_once_the_timer_has_fired),
        wdmsim_test(a_delay_is_not_a_deadlock_but_the_wait_after_it_is),
        wdmsim_test(a_kernel_booted_by_the_first_DDI_counts_its_thread_once),
        wdmsim_test(on_the_real_clock_a_10_ms_wait_times_out),
        wdmsim_test(on_the_real_clock_a_timer_fires_and_queues_its_DPC),
        wdmsim_test(booting_the_real_clock_never_fires_a_timer_left_set_in_the_previous_kernel),
        wdmsim_test(on_the_real_clock_a_thread_waiting_for_ever_is_a_deadlock),
        wdmsim_test(on_the_real_clock_a_deadlock_behind_a_pending_timer_is_reported_once_it_has_fired),
        wdmsim_test(in_controlled_mode_a_contended_spin_lock_hands_the_turn_to_its_owner),
        wdmsim_test(in_controlled_mode_a_deadlock_is_reported_with_every_thread),
        wdmsim_test(in_controlled_mode_a_timeout_cannot_expire_while_another_thread_can_take_the_turn),
        wdmsim_test(in_controlled_mode_a_thread_that_spins_without_a_DDI_stops_as_a_livelock),
        wdmsim_test(a_host_thread_waiting_in_pthread_join_gives_up_the_turn_after_a_grace_period),
        wdmsim_test(a_host_thread_busy_in_host_code_keeps_the_turn_past_the_grace_period),
    };

    /* A STOP scenario's child boots from the environment: on the virtual clock, like the tests,
     * unless a real-clock case asks otherwise. */
    setenv("WDMSIM_CLOCK", "virtual", 1);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
