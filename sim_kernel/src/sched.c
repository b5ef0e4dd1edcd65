/*
 * sched.c - who can run. The scheduler counts the simulated threads that can run. A thread leaves
 * the count when it blocks in the dispatcher and comes back when whoever ends its wait readies it
 * (the waker counts it, so the count never touches zero between a wake-up and the run).
 *
 * KeStallExecutionProcessor is time a thread spends: it passes virtual time as wdmsim_clock_advance
 * does. When the count reaches zero the machine is idle. On the virtual clock the thread that blocked
 * last moves time to the earliest deadline (a wait's timeout, a timer) and expires it, until some
 * thread can run: a five-minute wait costs microseconds. With no deadline anywhere every thread
 * waits for ever: a deadlock, reported with what each thread waits for. On the real clock a timer
 * thread expires deadlines as host time reaches them.
 *
 * A blocking thread first spins for a few microseconds with the lock dropped when some other
 * simulated thread can run and at most one per host processor can: a hand-off between two busy
 * threads (one sets the event the other waits for) then costs no sleep and no futex wake-up,
 * which on a virtual machine can take tens of microseconds. The bound lets the spinner be one more
 * than the processors because a thread counted as runnable is often blocked in host code instead
 * (a main thread joining the others); with more runnable threads the spin would take a processor
 * from one that needs it, so it is skipped. The spinning thread counts as blocked, so nothing else
 * changes.
 *
 * In controlled mode (a strategy from WDMSIM_SCHED, the boot's config or wdmsim_explore) exactly
 * one simulated thread has the turn. The others sleep on their baton (a futex word) until the holder
 * reaches a scheduling point and the strategy picks them: at a DDI's entry, after a wake-up, when it
 * blocks, when it finds a spin lock taken, when it ends. Whoever can take the turn is known under
 * the dispatcher lock (not blocked, not spinning on a lock still held), so nothing is decided by
 * host timing; virtual time moves only when no thread can take the turn. A spawned thread waits for
 * its first turn before it runs anything. A host thread the simulator did not create joins at its
 * first DDI. A host thread that has the turn may wait in host code (pthread_join, sem_wait) for
 * another that needs the turn: after two grace periods with no decision made, the holder asleep
 * at the end of the first and still, not woken since, at the end of the second (its state and
 * count of sleeps in /proc: a holder that runs, or that a busy host keeps off a processor, keeps
 * the turn), the waiter takes the turn and says once that the schedule now depends on host timing
 * (wdmsim_thread_start avoids it).
 * The baton is set under the dispatcher lock but the sleeper is woken only once the lock is dropped:
 * woken earlier, it would run at once on the explorer's one processor, find the lock taken and
 * sleep again, two more host context switches per hand-off. Batons live in slots that are never
 * freed, so a late wake-up never writes to a thread that has ended meanwhile.
 *
 * Locking: everything here runs under the dispatcher lock, but for the spin, which only reads the
 * thread's own waiting flag (written atomically by disp_end_wait), and the count of spinning
 * threads, an atomic that shutdown waits on: a spinner takes the lock again when its spin ends,
 * which must not happen to the next boot's lock. sched_host_locks is the calling thread's own.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

/* About 5 us at 25 ns a pause: longer than a typical hand-off, far shorter than a sleep. */
#define SCHED_SPIN_ROUNDS 200
/* How long a thread waits for the turn before it decides that the host thread holding it is
 * blocked in host code. */
#define SCHED_HOST_GRACE_MS 200
/* How long the turn may stay with one simulated thread, no decision made, before the run is hung. */
#define SCHED_WATCHDOG_SECONDS 10

bool sched_controlled_mode;
__thread unsigned sched_host_locks;

static size_t runnable;
static struct _KTHREAD *turn;               /* controlled mode: the thread that may run, or NULL */
static LIST_ENTRY sched_threads;            /* controlled mode: every thread, in creation order */
static unsigned sched_next_id;
static struct _KTHREAD **candidates;        /* controlled mode: who can take the turn, at a point */
static size_t candidates_capacity;
static bool host_wait_warned;
static __thread bool sched_woke;            /* readied a thread since the dispatcher lock was taken */

/* Baton slots, by a thread's id in its kernel; a chunk, once made, lives as long as the process. */
#define SCHED_BATONS_PER_CHUNK 256
#define SCHED_BATON_CHUNKS 4096
static uint32_t *batons[SCHED_BATON_CHUNKS];

static pthread_cond_t idle_cond;    /* broadcast when a thread blocks, for sched_wait_boot_idle */

static struct host_thread timer_thread;   /* the real clock's timer, or controlled mode's watchdog */
static pthread_cond_t timer_cond;
static bool timer_running;
static bool timer_stopping;
static bool timer_waiting;          /* the timer thread has reached its first wait */
static size_t host_processors;      /* spinning pays only while a waker has one of its own */
static atomic_int spinners;         /* threads spinning with the lock dropped */

size_t sched_runnable(void)
{
    return runnable;
}

static SIM_NORETURN void sched_deadlock(void)
{
    char threads[2048];

    thread_describe_waits(threads, sizeof threads);
    rule_stop_detail(RULE_DEADLOCK, 0, 0, 0, 0, "the threads and what they wait for:%s", threads);
}

/* The machine is idle: expire deadlines until a thread can run, or report the deadlock. */
static void sched_idle(void)
{
    if (!clock_is_virtual_mode()) {
        if (disp_next_deadline() == DISP_NO_DEADLINE)
            sched_deadlock();
        return;
    }
    while (runnable == 0) {
        LONGLONG next = disp_next_deadline();

        if (next == DISP_NO_DEADLINE)
            sched_deadlock();
        clock_advance_to(next);
        disp_expire(clock_since_boot());
    }
}

/* ---- Controlled mode: the turn ---- */

static bool sched_can_take_turn(const struct _KTHREAD *t)
{
    PKSPIN_LOCK lock = t->sched.spinning_on;

    return !t->wait.waiting && !t->sched.away && (lock == NULL || __atomic_load_n(lock, __ATOMIC_RELAXED) == 0);
}

static uint32_t *sched_baton(const struct _KTHREAD *t)
{
    return &batons[t->sched.id / SCHED_BATONS_PER_CHUNK][t->sched.id % SCHED_BATONS_PER_CHUNK];
}

static void sched_batons_reserve(unsigned id)
{
    uint32_t **chunk = &batons[id / SCHED_BATONS_PER_CHUNK];

    if (id / SCHED_BATONS_PER_CHUNK >= SCHED_BATON_CHUNKS)
        rule_stop_detail(RULE_LIVELOCK, id, 0, 0, 0, "a controlled kernel started more than %u threads",
                         SCHED_BATONS_PER_CHUNK * SCHED_BATON_CHUNKS);
    if (*chunk == NULL && (*chunk = calloc(SCHED_BATONS_PER_CHUNK, sizeof **chunk)) == NULL)
        abort();
}

static void sched_candidates_reserve(void)
{
    if (sched_next_id <= candidates_capacity)
        return;
    candidates_capacity = sched_next_id * 2;
    candidates = realloc(candidates, candidates_capacity * sizeof *candidates);
    if (candidates == NULL)
        abort();
}

/* Lock held: the threads that can take the turn, but except, in creation order; how many. */
static size_t sched_collect(const struct _KTHREAD *except)
{
    size_t count = 0;

    disp_assert_held();
    for (PLIST_ENTRY e = sched_threads.Flink; e != &sched_threads; e = e->Flink) {
        struct _KTHREAD *t = CONTAINING_RECORD(e, struct _KTHREAD, sched.link);

        if (t != except && sched_can_take_turn(t))
            candidates[count++] = t;
    }
    return count;
}

/* Lock held: a thread that can run but cannot take the turn: away in host code, or spinning. */
static bool sched_any_held_back(bool (*which)(const struct _KTHREAD *t))
{
    for (PLIST_ENTRY e = sched_threads.Flink; e != &sched_threads; e = e->Flink) {
        if (which(CONTAINING_RECORD(e, struct _KTHREAD, sched.link)))
            return true;
    }
    return false;
}

static bool sched_is_away(const struct _KTHREAD *t)
{
    return t->sched.away && !t->wait.waiting;
}

static bool sched_is_spinning(const struct _KTHREAD *t)
{
    return t->sched.spinning_on != NULL;
}

/* Lock held: nobody can take the turn. A spinner's lock is held by a thread that cannot run, so
 * it would spin for ever; otherwise time moves to the next deadline, or nothing can ever run. */
static void sched_idle_controlled(void)
{
    LONGLONG next;

    disp_assert_held();
    next = disp_next_deadline();
    if (next == DISP_NO_DEADLINE || sched_any_held_back(sched_is_spinning))
        sched_deadlock();
    clock_advance_to(next);
    disp_expire(clock_since_boot());
}

/* Lock held: the thread the strategy gives the turn to at self's point, moving virtual time while
 * nobody can take it; NULL when only threads away in host code could. */
static struct _KTHREAD *sched_choose(struct _KTHREAD *self, enum sched_point_kind kind, const void *where)
{
    size_t count;

    disp_assert_held();
    while ((count = sched_collect(NULL)) == 0) {
        if (sched_any_held_back(sched_is_away))
            return NULL;
        sched_idle_controlled();
    }
    return candidates[strategy_pick(candidates, count, self, kind, where)];
}

/* Lock held: next runs once the lock is dropped. */
static void sched_give_turn(struct _KTHREAD *next)
{
    turn = next;
    if (next != NULL)
        disp_set_after_release(sched_baton(next));
}

static void sched_warn_host_wait(const struct _KTHREAD *self, const struct _KTHREAD *holder)
{
    if (host_wait_warned)
        return;
    host_wait_warned = true;
    fprintf(stderr, "wdmsim: sched: %s waited %d ms for its turn while %s slept in host code without reaching a "
            "scheduling point (in pthread_join or sem_wait for a host thread?): it takes the turn, and from here this schedule "
            "depends on host timing. Start threads with wdmsim_thread_start and wait with wdmsim_thread_join to keep "
            "it replayable.\n", self->name, 2 * SCHED_HOST_GRACE_MS, holder->name);
}

/* Lock held, holder has the turn: it has slept in host code all along since before was read - not
 * on the dispatcher lock, and not merely kept off a processor by a busy host, which a grace period
 * alone cannot tell from a wait. */
static bool sched_sleeps_in_host_code(const struct _KTHREAD *holder, const struct host_sleep *before)
{
    struct host_sleep now;

    return host_thread_sleep(holder->sched.host_tid, &now) && now.sleeping && now.switches == before->switches &&
           now.futex != (uintptr_t)disp_mutex();
}

/* Lock held. A host thread with the turn may block in host code (pthread_join, sem_wait) for a host
 * thread that needs the turn, which the scheduler cannot see. A thread that has waited for the turn
 * a grace period, no decision made meanwhile, looks at the holder; if it finds it asleep, and finds
 * it still asleep, without having woken, a grace period later, it takes the turn, and the holder
 * is away until its next point. /proc is read only then: a hand-off costs no more than before. */
static void sched_await_turn(struct _KTHREAD *self)
{
    const struct _KTHREAD *sampled = NULL;      /* the holder whose sleep was seen, into before */
    struct host_sleep before;

    disp_assert_held();
    while (turn != self) {
        struct _KTHREAD *holder = turn;
        unsigned long long steps = strategy_steps();
        uint32_t *baton = sched_baton(self);
        /* Read under the lock: once it is dropped the holder may end and be freed. */
        bool in_host_code = holder != NULL && holder->adopted, given;

        __atomic_store_n(baton, 0, __ATOMIC_RELAXED);
        disp_release();
        given = in_host_code ? clock_host_wait_word_ms(baton, SCHED_HOST_GRACE_MS) : host_word_wait(baton, NULL);
        disp_acquire();
        if (given || turn != holder || strategy_steps() != steps || !sched_can_take_turn(self)) {
            sampled = NULL;
        } else if (sampled != holder) {
            sampled = host_thread_sleep(holder->sched.host_tid, &before) && before.sleeping ? holder : NULL;
        } else if (sched_sleeps_in_host_code(holder, &before)) {
            sched_warn_host_wait(self, holder);
            holder->sched.away = true;
            turn = self;
        } else {
            sampled = NULL;
        }
    }
}

/* Lock held, self has the turn: the strategy decides; returns once self has the turn again. */
static void sched_switch(struct _KTHREAD *self, enum sched_point_kind kind, const void *where)
{
    struct _KTHREAD *next = sched_choose(self, kind, where);

    if (next == self)
        return;
    sched_give_turn(next);
    sched_await_turn(self);
}

/* Lock held: self was away in host code and lost the turn; it is back on the schedule. */
static void sched_return(struct _KTHREAD *self)
{
    disp_assert_held();
    self->sched.away = false;
    if (turn == NULL)
        turn = self;
    sched_await_turn(self);
}

void sched_point(struct _KTHREAD *self, enum sched_point_kind kind, const void *where)
{
    if (sched_host_locks != 0 || disp_held() || self->sched.ended)
        return;
    disp_acquire();
    if (turn == self)
        sched_switch(self, kind, where);
    else
        sched_return(self);
    disp_release();
}

void sched_after_unlock(void)
{
    struct _KTHREAD *self;

    if (!sched_woke)
        return;
    sched_woke = false;
    self = thread_current_if_known();
    if (self != NULL)
        sched_point(self, SCHED_POINT_WAKE, NULL);
}

void sched_spin_wait(struct _KTHREAD *self, PKSPIN_LOCK lock)
{
    disp_acquire();
    self->sched.spinning_on = lock;
    if (turn == self)
        sched_switch(self, SCHED_POINT_SPIN, (const void *)lock);
    else
        sched_return(self);
    self->sched.spinning_on = NULL;
    disp_release();
}

void sched_thread_begin(struct _KTHREAD *self)
{
    self->sched.host_tid = host_thread_id();
    disp_acquire();
    sched_await_turn(self);
    disp_release();
}

/* ---- Both modes ---- */

void sched_thread_started(struct _KTHREAD *thread)
{
    runnable++;
    if (!sched_is_controlled())
        return;
    thread->sched.id = sched_next_id++;
    /* Host thread ids change from run to run; a schedule's must not. */
    thread->tid = 4 * (LONG)(thread->sched.id + 1);
    InsertTailList(&sched_threads, &thread->sched.link);
    sched_batons_reserve(thread->sched.id);
    sched_candidates_reserve();
    strategy_thread_added(thread);
    if (turn == NULL && !sched_any_held_back(sched_is_away))
        turn = thread;
}

void sched_thread_ended(struct _KTHREAD *thread)
{
    runnable--;
    if (!sched_is_controlled()) {
        if (runnable == 0)
            sched_idle();
        return;
    }
    RemoveEntryList(&thread->sched.link);
    thread->sched.ended = true;
    /* The ending thread makes no more points: the wake of its joiner waits for the next holder's. */
    sched_woke = false;
    if (turn == thread || turn == NULL)
        sched_give_turn(sched_choose(thread, SCHED_POINT_END, NULL));
}

static bool sched_waiting(const struct _KTHREAD *self)
{
    return __atomic_load_n(&self->wait.waiting, __ATOMIC_ACQUIRE);
}

/* Lock held on entry and exit, dropped while spinning. */
static void sched_spin(struct _KTHREAD *self)
{
    if (runnable == 0 || runnable > host_processors)
        return;
    atomic_fetch_add(&spinners, 1);
    disp_release();
    for (int i = 0; i < SCHED_SPIN_ROUNDS && sched_waiting(self); i++)
        spinlock_relax();
    disp_acquire();
    atomic_fetch_sub(&spinners, 1);
}

void sched_block(struct _KTHREAD *self)
{
    if (sched_is_controlled()) {
        runnable--;
        self->sched.away = false;
        /* A thread back from host code blocks without the turn: whoever has it keeps it. */
        if (turn == self || turn == NULL)
            sched_give_turn(sched_choose(self, SCHED_POINT_BLOCK, self->wait.what));
        sched_await_turn(self);
        return;
    }
    runnable--;
    if (runnable == 0)
        sched_idle();
    pthread_cond_broadcast(&idle_cond);
    if (sched_waiting(self))
        sched_spin(self);
    while (sched_waiting(self))
        pthread_cond_wait(&self->wake, disp_mutex());
}

void sched_ready(struct _KTHREAD *thread)
{
    runnable++;
    if (sched_is_controlled())
        sched_woke = true;
    else
        pthread_cond_signal(&thread->wake);
}

void sched_deadline_added(void)
{
    if (timer_running)
        pthread_cond_signal(&timer_cond);
}

/* The real clock's timer thread: a host thread, not a simulated one, so it never counts as runnable. */
static void *sched_timer_main(void *unused)
{
    (void)unused;
    disp_acquire();
    while (!timer_stopping) {
        LONGLONG next = disp_next_deadline();

        if (next <= clock_since_boot()) {
            disp_expire(clock_since_boot());
            /* What fired may have woken nobody: with no deadline left, everyone waits for ever. */
            if (runnable == 0)
                sched_idle();
        } else {
            timer_waiting = true;
            pthread_cond_broadcast(&idle_cond);
            clock_wait_until(&timer_cond, disp_mutex(), next);
        }
    }
    disp_release();
    return NULL;
}

/* Controlled mode's watchdog, a host thread like the real clock's timer thread: a simulated thread
 * that keeps the turn without reaching a scheduling point (a loop on a flag with no DDI in it)
 * would hang the run for ever; after WDMSIM_SCHED_WATCHDOG_SECONDS (default 10) of host time with
 * no decision made, the machine stops as a livelock naming it. Host time decides only that a run
 * is hung, never an interleaving. A host thread that keeps the turn is not hung: it may be in host
 * code, and the threads waiting for the turn take it after a grace period. */
static unsigned sched_watchdog_seconds(void)
{
    const char *text = getenv("WDMSIM_SCHED_WATCHDOG_SECONDS");
    int seconds = text ? atoi(text) : 0;

    return seconds > 0 ? (unsigned)seconds : SCHED_WATCHDOG_SECONDS;
}

static SIM_NORETURN void sched_stop_hung(const struct _KTHREAD *holder, unsigned seconds)
{
    rule_stop_detail(RULE_LIVELOCK, (ULONG_PTR)strategy_steps(), 0, 0, 0,
                     "thread %s has had the turn for %u s of host time without reaching a scheduling point: it "
                     "runs without calling a DDI (a loop on a flag another thread must set?)", holder->name, seconds);
}

static void *sched_watchdog_main(void *unused)
{
    unsigned seconds = sched_watchdog_seconds(), quiet = 0;
    unsigned long long last = 0;
    const struct _KTHREAD *last_turn = NULL;

    (void)unused;
    disp_acquire();
    while (!timer_stopping) {
        bool stuck = turn != NULL && !turn->adopted && turn == last_turn && strategy_steps() == last;

        quiet = stuck ? quiet + 1 : 0;
        if (quiet >= seconds)
            sched_stop_hung(turn, seconds);
        last = strategy_steps();
        last_turn = turn;
        clock_host_wait_ms(&timer_cond, disp_mutex(), 1000);
    }
    disp_release();
    return NULL;
}

void sched_boot(bool controlled)
{
    runnable = 0;
    turn = NULL;
    InitializeListHead(&sched_threads);
    sched_next_id = 0;
    host_wait_warned = false;
    __atomic_store_n(&sched_controlled_mode, controlled, __ATOMIC_RELAXED);
    pthread_cond_init(&idle_cond, NULL);
    timer_running = false;
    timer_stopping = false;
    timer_waiting = false;
    host_processors = (size_t)sysconf(_SC_NPROCESSORS_ONLN);
    /* A forked child inherits the count of a parent's spinners, which do not exist in it. */
    atomic_store(&spinners, 0);
    if (clock_is_virtual_mode() && !controlled)
        return;
    if (controlled) {
        pthread_cond_init(&timer_cond, NULL);
        host_thread_start(&timer_thread, sched_watchdog_main, NULL);
    } else {
        clock_cond_init(&timer_cond);
        host_thread_start(&timer_thread, sched_timer_main, NULL);
    }
    timer_running = true;
}

/* Controlled mode: the booting thread hands the turn to the kernel's new threads until each waits. */
static void sched_wait_boot_idle_controlled(struct _KTHREAD *self)
{
    size_t count;

    disp_acquire();
    while (runnable > 1 && (count = sched_collect(self)) > 0) {
        sched_give_turn(candidates[strategy_pick(candidates, count, self, SCHED_POINT_BOOT, NULL)]);
        sched_await_turn(self);
    }
    disp_release();
}

void sched_wait_boot_idle(void)
{
    if (sched_is_controlled()) {
        sched_wait_boot_idle_controlled(thread_current_if_known());
        return;
    }
    disp_acquire();
    while (runnable > 1 || (timer_running && !timer_waiting))
        pthread_cond_wait(&idle_cond, disp_mutex());
    disp_release();
}

/* Threads abandoned blocked (a leaked thread waiting for ever) may still be spinning: each takes
 * the dispatcher lock once more, then sleeps for good, before the next boot sets the lock up. */
void sched_shutdown(void)
{
    while (atomic_load(&spinners) > 0)
        spinlock_relax();
    if (sched_is_controlled())
        strategy_finish();
    __atomic_store_n(&sched_controlled_mode, false, __ATOMIC_RELAXED);
    if (!timer_running)
        return;
    disp_acquire();
    timer_stopping = true;
    pthread_cond_signal(&timer_cond);
    disp_release();
    host_thread_join(&timer_thread);
    timer_running = false;
}

/* Lock not held: virtual time moves forward by delta, firing what falls due on the way, each
 * deadline at its own time and in order (a timer due before a wait's timeout satisfies it first). */
static void sched_clock_pass(LONGLONG delta)
{
    LONGLONG target, next;

    disp_lock();
    target = clock_since_boot() + delta;
    while ((next = disp_next_deadline()) <= target) {
        clock_advance_to(next);
        disp_expire(clock_since_boot());
    }
    clock_advance_to(target);
    disp_unlock();
}

/* Host API: move virtual time forward by delta, firing what falls due on the way. */
void wdmsim_clock_advance(long long delta)
{

    kernel_ensure_booted();
    if (!clock_is_virtual_mode()) {
        fprintf(stderr, "wdmsim: wdmsim_clock_advance needs the virtual clock; this kernel runs on "
                        "the real one (boot with .clock = WDMSIM_CLOCK_VIRTUAL or WDMSIM_CLOCK=virtual)\n");
        abort();
    }
    if (delta < 0) {
        fprintf(stderr, "wdmsim: wdmsim_clock_advance(%lld): time never goes back\n", delta);
        abort();
    }
    sched_clock_pass(delta);
}

/*
 * Any IRQL. A busy wait: the processor is held for MicroSeconds, so on the virtual clock that much
 * time passes (and what falls due in it fires), on the real one it is spent spinning. Windows'
 * guideline of at most 50 us is a guideline: no runtime check enforces it (Static Driver
 * Verifier's NDIS rule NdisStallExecution_Delay checks NdisStallExecution at compile time; a DPC
 * that stalls for too long meets the DPC watchdog, 0x133).
 */
VOID NTAPI KeStallExecutionProcessor(ULONG MicroSeconds)
{
    LONGLONG ticks = (LONGLONG)MicroSeconds * 10;

    thread_current();
    if (clock_is_virtual_mode())
        sched_clock_pass(ticks);
    else
        clock_spin_real(ticks);
}
