/*
 * dispatcher.c - the one place where waits are made and satisfied, as in NT.
 *
 * Every waitable object starts with a DISPATCHER_HEADER. SignalState says how signalled it is:
 * events and timers 0/1, a semaphore its count, a mutex 1 when free and 1 - n when its owner holds
 * it n times, a thread 1 once it has ended. WaitListHead holds the wait blocks of the threads
 * waiting for the object, oldest first.
 *
 * The dispatcher lock, one for the whole machine, guards every header, every wait block, every
 * thread's wait state, the timer queue and the scheduler's counts. A wait is satisfied in exactly
 * one place, disp_satisfy: a synchronization event or timer is reset, a semaphore's count drops,
 * a mutex passes to the waiter. Whoever raises an object's state calls disp_wait_test, which
 * hands the object to its waiters in FIFO order and wakes them; a woken waiter never re-checks.
 * So a SynchronizationEvent releases exactly one waiter, and a WaitAll takes all of its objects
 * at one instant or none.
 */
#include <stdio.h>

#include "internal.h"
#include "timeline.h"

/* The most negative LONGLONG, whose negation does not exist. */
#define DISP_FOREVER_RELATIVE (-DISP_NO_DEADLINE - 1)

static pthread_mutex_t disp_lock_mutex = PTHREAD_MUTEX_INITIALIZER;
static __thread bool disp_holding;
static uint32_t *disp_word_to_set;      /* set once the lock is dropped: a sleeper's baton */
static LIST_ENTRY disp_timeouts;        /* the threads whose wait has a deadline */
static struct disp_wait_check *disp_wait_checks;   /* fixed before main */

/* Adaptive where the host has it: the lock is held for short stretches, so a thread that finds it
 * taken spins a little before sleeping, instead of sleeping and being woken at once. */
void disp_boot(void)
{
    pthread_mutexattr_t attr;

    pthread_mutexattr_init(&attr);
#ifdef PTHREAD_ADAPTIVE_MUTEX_INITIALIZER_NP
    pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_ADAPTIVE_NP);
#endif
    pthread_mutex_init(&disp_lock_mutex, &attr);
    pthread_mutexattr_destroy(&attr);
    disp_holding = false;
    InitializeListHead(&disp_timeouts);
}

PLIST_ENTRY disp_timeout_list(void)
{
    disp_assert_held();
    return &disp_timeouts;
}

void disp_acquire(void)
{
    pthread_mutex_lock(&disp_lock_mutex);
    disp_holding = true;
}

void disp_set_after_release(uint32_t *word)
{
    disp_assert_held();
    disp_word_to_set = word;
}

void disp_release(void)
{
    uint32_t *word = disp_word_to_set;

    disp_word_to_set = NULL;
    disp_holding = false;
    pthread_mutex_unlock(&disp_lock_mutex);
    if (word != NULL)
        host_word_set(word);
}

/* Every DDI that makes no other scheduling point takes this lock: in controlled mode taking it is
 * a point, and dropping it one when a thread was readied meanwhile. */
void disp_lock(void)
{
    struct _KTHREAD *self;

    if (sched_is_controlled() && (self = thread_current_if_known()) != NULL)
        sched_point(self, SCHED_POINT_DDI, __builtin_return_address(0));
    disp_acquire();
}

void disp_unlock(void)
{
    disp_release();
    if (sched_is_controlled())
        sched_after_unlock();
}

const char *disp_type_name(UCHAR type)
{
    switch (type) {
    case DISP_EVENT_NOTIFICATION:
        return "NotificationEvent";
    case DISP_EVENT_SYNCHRONIZATION:
        return "SynchronizationEvent";
    case DISP_MUTANT:
        return "Mutex";
    case DISP_PROCESS:
        return "Process";
    case DISP_SEMAPHORE:
        return "Semaphore";
    case DISP_THREAD:
        return "Thread";
    case DISP_TIMER_NOTIFICATION:
        return "NotificationTimer";
    case DISP_TIMER_SYNCHRONIZATION:
        return "SynchronizationTimer";
    }
    return "object";
}

void disp_wait_check_register(struct disp_wait_check *check)
{
    check->next = disp_wait_checks;
    disp_wait_checks = check;
}

static void disp_run_wait_checks(struct _KTHREAD *self, ULONG count, PVOID objects[], const LARGE_INTEGER *timeout,
                                 const char *ddi)
{
    for (struct disp_wait_check *c = disp_wait_checks; c != NULL; c = c->next)
        c->check(self, count, objects, timeout, ddi);
}

bool disp_held(void)
{
    return disp_holding;
}

pthread_mutex_t *disp_mutex(void)
{
    return &disp_lock_mutex;
}

void disp_init_header(DISPATCHER_HEADER *header, enum disp_type type, size_t size, LONG signal_state)
{
    header->Type = (UCHAR)type;
    header->Absolute = 0;
    /* Truncated to the byte as Windows does for objects larger than 1020 bytes (threads). */
    header->Size = (UCHAR)(size / sizeof(ULONG));
    header->Inserted = 0;
    header->SignalState = signal_state;
    InitializeListHead(&header->WaitListHead);
}

static bool disp_type_known(UCHAR type)
{
    switch (type) {
    case DISP_EVENT_NOTIFICATION:
    case DISP_EVENT_SYNCHRONIZATION:
    case DISP_MUTANT:
    case DISP_PROCESS:
    case DISP_SEMAPHORE:
    case DISP_THREAD:
    case DISP_TIMER_NOTIFICATION:
    case DISP_TIMER_SYNCHRONIZATION:
        return true;
    }
    return false;
}

void disp_check_object(const DISPATCHER_HEADER *header)
{
    const LIST_ENTRY *head = &header->WaitListHead;

    if (header == NULL)
        rule_stop_detail(RULE_DISPATCHER_UNINITIALIZED, 0, 0, 0, 0, "the object pointer is NULL");
    if (!disp_type_known(header->Type) || head->Flink == NULL || head->Blink == NULL)
        rule_stop_detail(RULE_DISPATCHER_UNINITIALIZED, (ULONG_PTR)header, 0, 0, 0,
                         "the object at %p has type %u and wait list %p/%p", (const void *)header,
                         header->Type, (void *)head->Flink, (void *)head->Blink);
}

static bool disp_satisfiable(const DISPATCHER_HEADER *header, const struct _KTHREAD *thread)
{
    if (header->Type == DISP_MUTANT)
        return header->SignalState > 0 || ((const KMUTANT *)header)->OwnerThread == (PKTHREAD)thread;
    return header->SignalState > 0;
}

static bool disp_satisfy_mutant(KMUTANT *mutant, struct _KTHREAD *thread)
{
    bool abandoned = false;

    if (mutant->Header.SignalState == (LONG)MINLONG)
        rule_stop(RULE_MUTEX_RECURSION_LIMIT, (ULONG_PTR)mutant, 0, 0, 0);
    mutant->Header.SignalState--;
    if (mutant->Header.SignalState == 0) {
        mutant->OwnerThread = (PKTHREAD)thread;
        abandoned = mutant->Abandoned;
        mutant->Abandoned = FALSE;
        InsertTailList(&thread->mutants_owned, &mutant->MutantListEntry);
    }
    return abandoned;
}

/* The side effect of a satisfied wait; true when it took an abandoned mutex. */
static bool disp_satisfy(DISPATCHER_HEADER *header, struct _KTHREAD *thread)
{
    switch (header->Type) {
    case DISP_EVENT_SYNCHRONIZATION:
    case DISP_TIMER_SYNCHRONIZATION:
        header->SignalState = 0;
        break;
    case DISP_SEMAPHORE:
        header->SignalState--;
        break;
    case DISP_MUTANT:
        return disp_satisfy_mutant((KMUTANT *)header, thread);
    }
    return false;
}

static DISPATCHER_HEADER *disp_block_object(const KWAIT_BLOCK *block)
{
    return block->Object;
}

static bool disp_all_satisfiable(const struct _KTHREAD *thread)
{
    for (ULONG i = 0; i < thread->wait.count; i++) {
        if (!disp_satisfiable(disp_block_object(&thread->wait.blocks[i]), thread))
            return false;
    }
    return true;
}

static NTSTATUS disp_satisfy_all(struct _KTHREAD *thread)
{
    bool abandoned = false;

    for (ULONG i = 0; i < thread->wait.count; i++)
        abandoned |= disp_satisfy(disp_block_object(&thread->wait.blocks[i]), thread);
    return abandoned ? STATUS_ABANDONED : STATUS_SUCCESS;
}

void disp_end_wait(struct _KTHREAD *thread, NTSTATUS status)
{
    for (ULONG i = 0; i < thread->wait.count; i++)
        RemoveEntryList(&thread->wait.blocks[i].WaitListEntry);
    if (thread->wait.deadline != DISP_NO_DEADLINE)
        RemoveEntryList(&thread->wait.timeout_link);
    thread->wait.count = 0;
    thread->wait.status = status;
    thread->wait.timeline_flow = status == STATUS_TIMEOUT ? 0 : timeline_wake(thread->timeline_thread);
    /* Atomic: a thread spinning in sched_block reads it without the lock. */
    __atomic_store_n(&thread->wait.waiting, false, __ATOMIC_RELEASE);
    sched_ready(thread);
}

/* One pass: the first waiter the object satisfies (boosted by increment), or false when none can be. */
static bool disp_wait_test_once(DISPATCHER_HEADER *header, KPRIORITY increment)
{
    for (PLIST_ENTRY e = header->WaitListHead.Flink; e != &header->WaitListHead; e = e->Flink) {
        KWAIT_BLOCK *block = CONTAINING_RECORD(e, KWAIT_BLOCK, WaitListEntry);
        struct _KTHREAD *thread = (struct _KTHREAD *)block->Thread;

        if (!disp_satisfiable(header, thread))
            return false;
        if (block->WaitType == WaitAny) {
            NTSTATUS status = block->WaitKey;

            if (disp_satisfy(header, thread))
                status += STATUS_ABANDONED_WAIT_0;
            thread_boost_locked(thread, increment);
            disp_end_wait(thread, status);
            return true;
        }
        if (disp_all_satisfiable(thread)) {
            thread_boost_locked(thread, increment);
            disp_end_wait(thread, disp_satisfy_all(thread));
            return true;
        }
    }
    return false;
}

void disp_wait_test_boost(DISPATCHER_HEADER *header, KPRIORITY increment)
{
    while (disp_wait_test_once(header, increment))
        ;
}

void disp_wait_test(DISPATCHER_HEADER *header)
{
    disp_wait_test_boost(header, 0);
}

/* A timeout too far away for the clock to reach (-MAXLONGLONG, say) is a wait for ever. */
LONGLONG disp_deadline(const LARGE_INTEGER *timeout)
{
    LONGLONG now = clock_since_boot();
    LONGLONG interval;

    if (timeout == NULL || timeout->QuadPart == DISP_FOREVER_RELATIVE)
        return DISP_NO_DEADLINE;
    interval = timeout->QuadPart <= 0 ? -timeout->QuadPart : timeout->QuadPart - clock_system_time();
    return interval >= DISP_NO_DEADLINE - now ? DISP_NO_DEADLINE : now + interval;
}

static struct _KTHREAD *disp_first_timed_out(LONGLONG now)
{
    PLIST_ENTRY list = disp_timeout_list();

    for (PLIST_ENTRY e = list->Flink; e != list; e = e->Flink) {
        struct _KTHREAD *thread = CONTAINING_RECORD(e, struct _KTHREAD, wait.timeout_link);

        if (thread->wait.deadline <= now)
            return thread;
    }
    return NULL;
}

void disp_expire(LONGLONG now)
{
    struct _KTHREAD *thread;

    while ((thread = disp_first_timed_out(now)) != NULL)
        disp_end_wait(thread, STATUS_TIMEOUT);
    timer_expire(now);
}

LONGLONG disp_next_deadline(void)
{
    PLIST_ENTRY list = disp_timeout_list();
    LONGLONG next = timer_next_due();

    for (PLIST_ENTRY e = list->Flink; e != list; e = e->Flink) {
        struct _KTHREAD *thread = CONTAINING_RECORD(e, struct _KTHREAD, wait.timeout_link);

        if (thread->wait.deadline < next)
            next = thread->wait.deadline;
    }
    return next;
}

/* ---- Waiting ---- */

/* The IRQL rules of a wait; timeout NULL = forever, 0 = a poll, allowed at DISPATCH_LEVEL. */
static void disp_check_wait_context(struct _KTHREAD *self, PVOID object, const LARGE_INTEGER *timeout)
{
    bool poll = timeout != NULL && timeout->QuadPart == 0;

    rule_check_irql(RULE_WAIT_ABOVE_DISPATCH, self->irql, (ULONG_PTR)object, (ULONG_PTR)timeout, 0);
    if (poll)
        return;
    if (self->in_dpc)
        rule_stop(RULE_WAIT_IN_DPC, (ULONG_PTR)self, (ULONG_PTR)self, 0, 0);
    if (self->irql == DISPATCH_LEVEL)
        rule_stop(timeout == NULL ? RULE_WAIT_AT_DISPATCH_FOREVER : RULE_WAIT_AT_DISPATCH_WITH_TIMEOUT,
                  self->irql, (ULONG_PTR)object, (ULONG_PTR)timeout, 0);
}

static bool disp_has_duplicates(ULONG count, PVOID objects[])
{
    for (ULONG i = 0; i < count; i++) {
        for (ULONG j = i + 1; j < count; j++) {
            if (objects[i] == objects[j])
                return true;
        }
    }
    return false;
}

/* Lock held: satisfy a WaitAny now if some object allows it; STATUS_PENDING when none does. */
static NTSTATUS disp_try_any(struct _KTHREAD *self, ULONG count, PVOID objects[])
{
    for (ULONG i = 0; i < count; i++) {
        if (disp_satisfiable(objects[i], self))
            return (NTSTATUS)i + (disp_satisfy(objects[i], self) ? STATUS_ABANDONED_WAIT_0 : 0);
    }
    return STATUS_PENDING;
}

/* Lock held: satisfy a WaitAll now if every object allows it; STATUS_PENDING when one does not. */
static NTSTATUS disp_try_all(struct _KTHREAD *self, ULONG count, PVOID objects[])
{
    bool abandoned = false;

    for (ULONG i = 0; i < count; i++) {
        if (!disp_satisfiable(objects[i], self))
            return STATUS_PENDING;
    }
    for (ULONG i = 0; i < count; i++)
        abandoned |= disp_satisfy(objects[i], self);
    return abandoned ? STATUS_ABANDONED : STATUS_SUCCESS;
}

/* Lock held: queue a wait block on every object and the deadline, then block until it ends. */
static NTSTATUS disp_block_on(struct _KTHREAD *self, ULONG count, PVOID objects[], WAIT_TYPE type,
                              PKWAIT_BLOCK blocks, LONGLONG deadline, const char *what)
{
    self->wait.type = type;
    self->wait.count = count;
    self->wait.blocks = blocks;
    self->wait.deadline = deadline;
    self->wait.what = what;
    for (ULONG i = 0; i < count; i++) {
        DISPATCHER_HEADER *header = objects[i];

        blocks[i].WaitType = (UCHAR)type;
        blocks[i].WaitKey = (USHORT)i;
        blocks[i].Thread = (PKTHREAD)self;
        blocks[i].Object = header;
        InsertTailList(&header->WaitListHead, &blocks[i].WaitListEntry);
    }
    if (deadline != DISP_NO_DEADLINE) {
        InsertTailList(disp_timeout_list(), &self->wait.timeout_link);
        sched_deadline_added();
    }
    self->wait.waiting = true;
    timeline_wait_begin(count, objects, deadline, what);
    thread_decay_locked(self);
    sched_block(self);
    timeline_wait_end(self->wait.status, self->wait.timeline_flow);
    return self->wait.status;
}

static NTSTATUS disp_wait(struct _KTHREAD *self, ULONG count, PVOID objects[], WAIT_TYPE type,
                          PLARGE_INTEGER timeout, PKWAIT_BLOCK blocks, const char *what)
{
    LONGLONG deadline = disp_deadline(timeout);
    NTSTATUS status;

    disp_lock();
    /* Under the lock: the check reads the wait lists, which other waiters change. */
    for (ULONG i = 0; i < count; i++)
        disp_check_object(objects[i]);
    status = type == WaitAny ? disp_try_any(self, count, objects) : disp_try_all(self, count, objects);
    if (status == STATUS_PENDING) {
        if (deadline <= clock_since_boot())
            status = STATUS_TIMEOUT;
        else
            status = disp_block_on(self, count, objects, type, blocks ? blocks : self->wait.own_blocks,
                                   deadline, what);
    }
    disp_unlock();
    return status;
}

const char disp_fast_mutex_wait[] = "ExAcquireFastMutex";

NTSTATUS disp_wait_for(struct _KTHREAD *self, PVOID object, const char *what)
{
    PVOID objects[1] = { object };

    return disp_wait(self, 1, objects, WaitAny, NULL, NULL, what);
}

/* IRQL <= APC_LEVEL, or <= DISPATCH_LEVEL with a zero timeout. */
NTSTATUS NTAPI KeWaitForSingleObject(PVOID Object, KWAIT_REASON WaitReason, KPROCESSOR_MODE WaitMode,
                                     BOOLEAN Alertable, PLARGE_INTEGER Timeout)
{
    struct _KTHREAD *self = thread_current();
    PVOID objects[1] = { Object };
    NTSTATUS status;

    RULE_CHECK_ARGUMENT(Object, RULE_WRITES);
    (void)WaitReason;
    (void)WaitMode;
    (void)Alertable;
    disp_check_wait_context(self, Object, Timeout);
    disp_run_wait_checks(self, 1, objects, Timeout, "KeWaitForSingleObject");
    status = disp_wait(self, 1, objects, WaitAny, Timeout, NULL, "KeWaitForSingleObject");
    lockorder_waited(self, 1, objects, WaitAny, status, __builtin_return_address(0));
    return status;
}

/* Each object of a multiple wait is used at once, as the array is. */
static void disp_check_objects(ULONG count, PVOID objects[], const void *caller)
{
    for (ULONG i = 0; i < count; i++)
        rule_check_pointer((uintptr_t)objects[i], "KeWaitForMultipleObjects", "an element of Object", RULE_WRITES, caller);
}

/* IRQL <= APC_LEVEL, or <= DISPATCH_LEVEL with a zero timeout. */
NTSTATUS NTAPI KeWaitForMultipleObjects(ULONG Count, PVOID Object[], WAIT_TYPE WaitType,
                                        KWAIT_REASON WaitReason, KPROCESSOR_MODE WaitMode,
                                        BOOLEAN Alertable, PLARGE_INTEGER Timeout,
                                        PKWAIT_BLOCK WaitBlockArray)
{
    struct _KTHREAD *self = thread_current();
    NTSTATUS status;

    (void)WaitReason;
    (void)WaitMode;
    (void)Alertable;
    if (Count > 0)
        RULE_CHECK_ARGUMENT(Object, RULE_READS);
    disp_check_wait_context(self, Count > 0 ? Object[0] : NULL, Timeout);
    if (Count > MAXIMUM_WAIT_OBJECTS || (Count > THREAD_WAIT_OBJECTS && WaitBlockArray == NULL))
        rule_stop_detail(RULE_WAIT_TOO_MANY_OBJECTS, 0, 0, 0, 0, "Count = %u, WaitBlockArray = %p",
                         Count, (void *)WaitBlockArray);
    disp_check_objects(Count, Object, __builtin_return_address(0));
    if (Count == 0 || (WaitType != WaitAll && WaitType != WaitAny))
        return STATUS_INVALID_PARAMETER;
    if (WaitType == WaitAll && disp_has_duplicates(Count, Object))
        return STATUS_INVALID_PARAMETER_MIX;
    disp_run_wait_checks(self, Count, Object, Timeout, "KeWaitForMultipleObjects");
    status = disp_wait(self, Count, Object, WaitType, Timeout, WaitBlockArray, "KeWaitForMultipleObjects");
    lockorder_waited(self, Count, Object, WaitType, status, __builtin_return_address(0));
    return status;
}

/* IRQL <= APC_LEVEL. Interval: negative relative, positive absolute, as for waits. */
NTSTATUS NTAPI KeDelayExecutionThread(KPROCESSOR_MODE WaitMode, BOOLEAN Alertable, PLARGE_INTEGER Interval)
{
    struct _KTHREAD *self = thread_current();

    RULE_CHECK_ARGUMENT(Interval, RULE_READS);
    (void)WaitMode;
    (void)Alertable;
    disp_check_wait_context(self, NULL, Interval);
    disp_wait(self, 0, NULL, WaitAny, Interval, NULL, "KeDelayExecutionThread");
    return STATUS_SUCCESS;
}
