/*
 * test_thread.c - system threads: PsCreateSystemThread and the DebugPrint way of waiting for one
 * (reference the object, close the handle, wait, dereference), how a thread ends, its context,
 * the misuse that stops the machine, leaks at shutdown, and a one-second poll loop that costs no
 * wall time on the virtual clock. System threads record what they see; the test thread asserts.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <ntifs.h>
#include <wdmsim/test.h>
#include "wdmsim_test_threads.h"

#define ONE_SECOND (10LL * 1000 * 1000)
#define POLL_ITERATIONS 10000
#define MANY_THREADS 100
#define SYSTEM_PROCESS_ID 4

/* The DebugPrint steps after PsCreateSystemThread, without CMocka asserts so STOP scenarios
 * can use them: NULL if any step failed. */
static PVOID reference_new_thread(PKSTART_ROUTINE routine, PVOID context, POBJECT_TYPE type)
{
    HANDLE handle;
    PVOID thread = NULL;

    if (PsCreateSystemThread(&handle, THREAD_ALL_ACCESS, NULL, NULL, NULL, routine, context) != STATUS_SUCCESS)
        return NULL;
    if (ObReferenceObjectByHandle(handle, THREAD_ALL_ACCESS, type, KernelMode, &thread, NULL) != STATUS_SUCCESS)
        return NULL;
    return ZwClose(handle) == STATUS_SUCCESS ? thread : NULL;
}

static PVOID start_thread(PKSTART_ROUTINE routine, PVOID context)
{
    PVOID thread = reference_new_thread(routine, context, *PsThreadType);

    assert_non_null(thread);
    return thread;
}

static void wait_for(PVOID object)
{
    assert_int_equal(KeWaitForSingleObject(object, Executive, KernelMode, FALSE, NULL), STATUS_SUCCESS);
}


/* ---- The DebugPrint pattern ---- */

struct debugprint {
    KEVENT thread_event;            /* synchronization: work to do, or time to exit */
    atomic_bool exit_now;
    atomic_int loops;
};

static VOID NTAPI debugprint_thread(PVOID context)
{
    struct debugprint *dp = context;
    LARGE_INTEGER one_second = { .QuadPart = -ONE_SECOND };

    KeSetPriorityThread(KeGetCurrentThread(), LOW_REALTIME_PRIORITY);
    for (;;) {
        KeWaitForSingleObject(&dp->thread_event, Executive, KernelMode, FALSE, &one_second);
        atomic_fetch_add(&dp->loops, 1);
        if (atomic_load(&dp->exit_now))
            break;
    }
}

static void run_debugprint_pattern(POBJECT_TYPE type)
{
    struct debugprint dp = { .exit_now = false, .loops = 0 };
    HANDLE handle;
    PVOID thread = (PVOID)1;

    KeInitializeEvent(&dp.thread_event, SynchronizationEvent, FALSE);
    assert_int_equal(PsCreateSystemThread(&handle, THREAD_ALL_ACCESS, NULL, NULL, NULL, debugprint_thread, &dp),
                     STATUS_SUCCESS);
    assert_int_equal(ObReferenceObjectByHandle(handle, THREAD_ALL_ACCESS, type, KernelMode, &thread, NULL),
                     STATUS_SUCCESS);
    assert_int_equal(ZwClose(handle), STATUS_SUCCESS);
    atomic_store(&dp.exit_now, true);
    KeSetEvent(&dp.thread_event, IO_NO_INCREMENT, FALSE);
    wait_for(thread);
    ObDereferenceObject(thread);
    assert_true(atomic_load(&dp.loops) >= 1);
    assert_int_equal(wdmsim_shutdown(), 0);
}

static void the_DebugPrint_pattern_with_a_NULL_type_waits_for_the_thread_through_its_object(void **state)
{
    (void)state;
    run_debugprint_pattern(NULL);
}

static void the_DebugPrint_pattern_with_PsThreadType_waits_for_the_thread_through_its_object(void **state)
{
    (void)state;
    run_debugprint_pattern(*PsThreadType);
}

/* ---- How a thread ends ---- */

static atomic_int routine_ran;

static VOID NTAPI count_and_return(PVOID unused)
{
    (void)unused;
    atomic_fetch_add(&routine_ran, 1);
}

static void a_start_routine_that_returns_ends_the_thread_and_signals_its_object(void **state)
{
    PVOID thread;

    (void)state;
    atomic_store(&routine_ran, 0);
    thread = start_thread(count_and_return, NULL);
    wait_for(thread);
    assert_int_equal(atomic_load(&routine_ran), 1);
    assert_int_equal(KeWaitForSingleObject(thread, Executive, KernelMode, FALSE, NULL), STATUS_SUCCESS);
    ObDereferenceObject(thread);
    assert_int_equal(wdmsim_shutdown(), 0);
}

/* A program's first DDI may be any DDI: the kernel boots itself whole before the call goes on. */
static void PsCreateSystemThread_as_the_first_DDI_boots_the_kernel_first(void **state)
{
    PVOID thread;

    (void)state;
    wdmsim_shutdown();
    atomic_store(&routine_ran, 0);
    thread = start_thread(count_and_return, NULL);
    wait_for(thread);
    assert_int_equal(atomic_load(&routine_ran), 1);
    ObDereferenceObject(thread);
    assert_int_equal(wdmsim_shutdown(), 0);
}

static atomic_bool ran_past_terminate;

static VOID NTAPI terminate_with_status(PVOID status)
{
    PsTerminateSystemThread((NTSTATUS)(ULONG_PTR)status);
    atomic_store(&ran_past_terminate, true);
}

static void PsTerminateSystemThread_ends_the_thread_without_returning(void **state)
{
    PVOID thread;

    (void)state;
    atomic_store(&ran_past_terminate, false);
    thread = start_thread(terminate_with_status, (PVOID)(ULONG_PTR)STATUS_CANCELLED);
    wait_for(thread);
    assert_false(atomic_load(&ran_past_terminate));
    ObDereferenceObject(thread);
    assert_int_equal(wdmsim_shutdown(), 0);
}

/* The deadlock report lists every thread, the ended one with its exit status. */
static void terminate_then_deadlock(void *unused)
{
    static KEVENT never_set;
    PVOID thread = reference_new_thread(terminate_with_status, (PVOID)(ULONG_PTR)STATUS_CANCELLED, NULL);

    (void)unused;
    if (thread == NULL || KeWaitForSingleObject(thread, Executive, KernelMode, FALSE, NULL) != STATUS_SUCCESS ||
        atomic_load(&ran_past_terminate))
        return;
    KeInitializeEvent(&never_set, NotificationEvent, FALSE);
    KeWaitForSingleObject(&never_set, Executive, KernelMode, FALSE, NULL);
}

static void PsTerminateSystemThread_records_its_exit_status(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(terminate_then_deadlock, NULL, 0xE2, WDMSIM_ANY_PARAM, "sched.deadlock", &stop);
    assert_non_null(strstr(stop.report, "system-1: ended with status 0xC0000120"));
}

static void PsTerminateSystemThread_from_a_host_thread_returns_STATUS_INVALID_PARAMETER(void **state)
{
    (void)state;
    assert_int_equal(PsTerminateSystemThread(STATUS_SUCCESS), STATUS_INVALID_PARAMETER);
    assert_int_equal(KeGetCurrentIrql(), PASSIVE_LEVEL);
}

/* ---- The thread's context ---- */

struct seen {
    KIRQL irql;
    PKTHREAD self;
    HANDLE tid;
    KPRIORITY first_old, second_old, queried;
};

static VOID NTAPI record_context(PVOID context)
{
    struct seen *seen = context;

    seen->irql = KeGetCurrentIrql();
    seen->self = KeGetCurrentThread();
    seen->tid = PsGetCurrentThreadId();
    seen->first_old = KeSetPriorityThread(seen->self, LOW_REALTIME_PRIORITY);
    seen->second_old = KeSetPriorityThread(seen->self, LOW_REALTIME_PRIORITY);
    seen->queried = KeQueryPriorityThread(seen->self);
}

static void a_system_thread_runs_at_PASSIVE_LEVEL_in_System_as_the_referenced_object(void **state)
{
    struct seen seen = { .irql = HIGH_LEVEL };
    CLIENT_ID client = { NULL, NULL };
    HANDLE handle;
    PVOID thread;

    (void)state;
    assert_int_equal(PsCreateSystemThread(&handle, THREAD_ALL_ACCESS, NULL, NtCurrentProcess(), &client,
                                          record_context, &seen), STATUS_SUCCESS);
    assert_int_equal(ObReferenceObjectByHandle(handle, SYNCHRONIZE, *PsThreadType, KernelMode, &thread, NULL),
                     STATUS_SUCCESS);
    assert_int_equal(ZwClose(handle), STATUS_SUCCESS);
    wait_for(thread);
    assert_int_equal(seen.irql, PASSIVE_LEVEL);
    assert_ptr_equal(seen.self, thread);
    assert_ptr_equal(client.UniqueThread, seen.tid);
    assert_ptr_equal(client.UniqueProcess, (HANDLE)SYSTEM_PROCESS_ID);
    assert_ptr_not_equal(seen.self, KeGetCurrentThread());
    ObDereferenceObject(thread);
}

static void KeSetPriorityThread_returns_the_old_priority(void **state)
{
    struct seen seen;
    PVOID thread;

    (void)state;
    thread = start_thread(record_context, &seen);
    wait_for(thread);
    assert_int_equal(seen.first_old, 8);
    assert_int_equal(seen.second_old, LOW_REALTIME_PRIORITY);
    assert_int_equal(seen.queried, LOW_REALTIME_PRIORITY);
    ObDereferenceObject(thread);
}

static VOID NTAPI allocate_pool(PVOID result)
{
    *(PVOID *)result = ExAllocatePoolWithTag(NonPagedPool, 32, 'dTsT');
}

static void create_and_wait_as_driver(void *block)
{
    PVOID thread = start_thread(allocate_pool, block);

    wait_for(thread);
    ObDereferenceObject(thread);
}

static void a_system_thread_is_charged_to_the_driver_that_created_it(void **state)
{
    PVOID block = NULL;

    (void)state;
    wdmsim_run_as_driver("tracedrv", create_and_wait_as_driver, &block);
    assert_non_null(block);
    assert_int_equal(wdmsim_pool_outstanding_by_driver("tracedrv", NULL), 1);
    ExFreePoolWithTag(block, 'dTsT');
}

static void PsCreateSystemThread_into_another_process_returns_STATUS_INVALID_HANDLE(void **state)
{
    HANDLE handle = NULL;

    (void)state;
    atomic_store(&routine_ran, 0);
    assert_int_equal(PsCreateSystemThread(&handle, THREAD_ALL_ACCESS, NULL, (HANDLE)(ULONG_PTR)0x124, NULL,
                                          count_and_return, NULL), STATUS_INVALID_HANDLE);
    assert_null(handle);
    assert_int_equal(wdmsim_shutdown(), 0);
    assert_int_equal(atomic_load(&routine_ran), 0);
}

/* ---- Many threads ---- */

static void a_hundred_threads_are_created_and_waited_for(void **state)
{
    PVOID threads[MANY_THREADS];

    (void)state;
    atomic_store(&routine_ran, 0);
    for (int i = 0; i < MANY_THREADS; i++)
        threads[i] = start_thread(count_and_return, NULL);
    for (int i = 0; i < MANY_THREADS; i++)
        wait_for(threads[i]);
    for (int i = 0; i < MANY_THREADS; i++)
        ObDereferenceObject(threads[i]);
    assert_int_equal(atomic_load(&routine_ran), MANY_THREADS);
    assert_int_equal(wdmsim_shutdown(), 0);
}

/* ---- The acceptance test: a driver's one-second poll loop on the virtual clock ---- */

struct poller {
    KEVENT wake;                    /* synchronization: work to do, or time to exit */
    KEVENT exiting;                 /* notification: the thread is done */
    atomic_bool exit_now;
    long timeouts;                  /* the thread's own; read after `exiting` is set */
};

static VOID NTAPI poll_every_second(PVOID context)
{
    struct poller *p = context;
    LARGE_INTEGER one_second = { .QuadPart = -ONE_SECOND };

    for (;;) {
        if (KeWaitForSingleObject(&p->wake, Executive, KernelMode, FALSE, &one_second) == STATUS_TIMEOUT)
            p->timeouts++;
        if (atomic_load(&p->exit_now))
            break;
    }
    KeSetEvent(&p->exiting, IO_NO_INCREMENT, FALSE);
}

/* Both the poller's 10,000th timeout and the test thread's delay fall due at the same instant; the
 * poller's next wait ends on the wake event, never by a timeout, because the test thread can run
 * until it has set the flag and the event. */
static void a_thread_polling_every_second_runs_10000_iterations_in_virtual_time(void **state)
{
    struct poller p = { .exit_now = false, .timeouts = 0 };
    LARGE_INTEGER polling_time = { .QuadPart = -POLL_ITERATIONS * ONE_SECOND };
    LARGE_INTEGER start, end;
    PVOID thread;

    (void)state;
    KeInitializeEvent(&p.wake, SynchronizationEvent, FALSE);
    KeInitializeEvent(&p.exiting, NotificationEvent, FALSE);
    KeQuerySystemTime(&start);
    thread = start_thread(poll_every_second, &p);
    KeDelayExecutionThread(KernelMode, FALSE, &polling_time);
    atomic_store(&p.exit_now, true);
    KeSetEvent(&p.wake, IO_NO_INCREMENT, FALSE);
    wait_for(&p.exiting);
    wait_for(thread);
    ObDereferenceObject(thread);
    KeQuerySystemTime(&end);
    assert_int_equal(p.timeouts, POLL_ITERATIONS);
    assert_int_equal(end.QuadPart - start.QuadPart, POLL_ITERATIONS * ONE_SECOND);
}

/* ---- Misuse ---- */

static void create_at_apc_level(void *unused)
{
    HANDLE handle;
    KIRQL old;

    (void)unused;
    KeRaiseIrql(APC_LEVEL, &old);
    PsCreateSystemThread(&handle, THREAD_ALL_ACCESS, NULL, NULL, NULL, count_and_return, NULL);
}

static void PsCreateSystemThread_above_PASSIVE_LEVEL_stops_with_C4_2001C(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(create_at_apc_level, NULL, 0xC4, 0x2001C, "ps.not_passive", &stop);
    assert_int_equal(stop.params[1], APC_LEVEL);
}

static void terminate_at_dispatch_level(void *unused)
{
    KIRQL old;

    (void)unused;
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    PsTerminateSystemThread(STATUS_SUCCESS);
}

static void PsTerminateSystemThread_above_PASSIVE_LEVEL_stops_with_C4_2001C(void **state)
{
    (void)state;
    wdmsim_assert_stops(terminate_at_dispatch_level, NULL, 0xC4, 0x2001C, "ps.not_passive", NULL);
}

static KMUTEX scenario_mutex;

static VOID NTAPI take_the_mutex_and_return(PVOID unused)
{
    (void)unused;
    KeWaitForSingleObject(&scenario_mutex, Executive, KernelMode, FALSE, NULL);
}

static void end_owning_a_mutex(void *unused)
{
    PVOID thread;

    (void)unused;
    KeInitializeMutex(&scenario_mutex, 0);
    thread = reference_new_thread(take_the_mutex_and_return, NULL, NULL);
    if (thread != NULL)
        KeWaitForSingleObject(thread, Executive, KernelMode, FALSE, NULL);
}

static void a_thread_that_ends_owning_a_KMUTEX_stops_with_THREAD_TERMINATE_HELD_MUTEX(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(end_owning_a_mutex, NULL, 0x4000008A, WDMSIM_ANY_PARAM, "mutex.held_at_thread_exit", &stop);
    assert_int_equal(stop.params[1], (ULONG_PTR)&scenario_mutex);
    assert_non_null(strstr(stop.report, "Thread:   system-1"));
}

/* ---- Leaks at shutdown ---- */

static KEVENT never_set;

static VOID NTAPI wait_for_ever(PVOID unused)
{
    (void)unused;
    KeWaitForSingleObject(&never_set, Executive, KernelMode, FALSE, NULL);
}

/* The thread stays parked in the dispatcher for the rest of the program: its memory is its own. */
static void a_thread_still_running_at_shutdown_is_counted_as_a_leak(void **state)
{
    char report[1024];
    PVOID thread;

    (void)state;
    wdmsim_allow_leaks();           /* the leaks are what this case checks */
    KeInitializeEvent(&never_set, NotificationEvent, FALSE);
    thread = start_thread(wait_for_ever, NULL);
    ObDereferenceObject(thread);
    wdmsim_test_settle();
    assert_int_equal(wdmsim_shutdown_capturing_stderr(report, sizeof report), 1);
    assert_non_null(strstr(report, "leaked a running system thread, charged to host code"));
    assert_non_null(strstr(report, "system-1: in KeWaitForSingleObject, for notification event"));
}

static KMUTEX host_owned_mutex;

static void *acquire_mutex_and_end(void *unused)
{
    (void)unused;
    KeWaitForSingleObject(&host_owned_mutex, Executive, KernelMode, FALSE, NULL);
    return NULL;
}

static void host_thread_ends_owning_a_mutex(void *context)
{
    pthread_t host;

    (void)context;
    KeInitializeMutex(&host_owned_mutex, 0);
    pthread_create(&host, NULL, acquire_mutex_and_end, NULL);
    pthread_join(host, NULL);
}

static void an_adopted_host_thread_that_ends_owning_a_KMUTEX_stops_with_THREAD_TERMINATE_HELD_MUTEX(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(host_thread_ends_owning_a_mutex, NULL, 0x4000008A, WDMSIM_ANY_PARAM,
                        "mutex.held_at_thread_exit", &stop);
    assert_int_equal(stop.params[1], (ULONG_PTR)&host_owned_mutex);
    assert_non_null(strstr(stop.report, "ends owning the mutex"));
}

/* ---- Another thread's identity ---- */

struct identity {
    PETHREAD self;
    HANDLE tid, pid, thread_pid;
    PEPROCESS process;
    BOOLEAN system;
    KPROCESSOR_MODE previous_mode;
};

static VOID NTAPI record_identity(PVOID context)
{
    struct identity *seen = context;

    seen->self = PsGetCurrentThread();
    seen->tid = PsGetCurrentThreadId();
    seen->pid = PsGetCurrentProcessId();
    seen->previous_mode = ExGetPreviousMode();
    seen->thread_pid = PsGetThreadProcessId(seen->self);
    seen->process = PsGetThreadProcess(seen->self);
    seen->system = PsIsSystemThread(seen->self);
}

static KEVENT forever_stop;

static VOID NTAPI wait_for_stop(PVOID unused)
{
    (void)unused;
    KeWaitForSingleObject(&forever_stop, Executive, KernelMode, FALSE, NULL);
}

static void PsGetThreadId_PsGetThreadProcess_and_PsIsSystemThread_describe_a_system_thread(void **state)
{
    struct identity seen;
    PVOID thread;

    (void)state;
    thread = start_thread(record_identity, &seen);
    wait_for(thread);
    assert_ptr_equal(seen.self, thread);
    assert_ptr_equal(PsGetThreadId(thread), seen.tid);
    assert_ptr_equal(PsGetThreadProcessId(thread), (HANDLE)SYSTEM_PROCESS_ID);
    assert_ptr_equal(PsGetThreadProcess(thread), PsInitialSystemProcess);
    assert_true(PsIsSystemThread(thread));
    assert_int_equal(seen.previous_mode, KernelMode);
    ObDereferenceObject(thread);
}

static void record_application_identity(void *context)
{
    record_identity(context);
}

/* An application's thread: its own process, UserMode as the previous mode, not a system thread. */
static void an_application_thread_is_no_system_thread_and_calls_from_UserMode(void **state)
{
    struct identity seen;
    PEPROCESS app;

    (void)state;
    app = wdmsim_process_create("identity.exe");
    wdmsim_process_run(app, record_application_identity, &seen);
    assert_ptr_equal(seen.pid, PsGetProcessId(app));
    assert_ptr_equal(seen.thread_pid, seen.pid);
    assert_ptr_equal(seen.process, app);
    assert_false(seen.system);
    assert_int_equal(seen.previous_mode, UserMode);
    assert_ptr_not_equal(seen.tid, PsGetCurrentThreadId());
    wdmsim_process_terminate(app);
}

/* ---- Stack limits ---- */

static VOID NTAPI record_stack(PVOID context)
{
    ULONG_PTR *limits = context;
    ULONG_PTR here = (ULONG_PTR)__builtin_frame_address(0);

    IoGetStackLimits(&limits[0], &limits[1]);
    limits[2] = (limits[0] < here && here < limits[1]) ? IoGetRemainingStackSize() : 0;
}

/* The limits bound the caller's own frame, in the test thread and in a system thread alike. */
static void IoGetStackLimits_brackets_the_calling_threads_stack(void **state)
{
    ULONG_PTR mine[3], other[3] = { 0 };
    PVOID thread;

    (void)state;
    record_stack(mine);
    assert_true(mine[0] < mine[1]);
    assert_int_not_equal(mine[2], 0);
    assert_true(mine[2] < mine[1] - mine[0]);
    thread = start_thread(record_stack, other);
    wait_for(thread);
    ObDereferenceObject(thread);
    assert_int_not_equal(other[2], 0);
    assert_true(other[1] <= mine[0] || other[0] >= mine[1]);
}

/* ---- PsLookupThreadByThreadId ---- */

static void PsLookupThreadByThreadId_references_a_running_thread_and_not_an_ended_one(void **state)
{
    struct identity seen;
    PVOID thread;
    PETHREAD found = NULL;
    HANDLE ended;

    (void)state;
    assert_int_equal(PsLookupThreadByThreadId(PsGetCurrentThreadId(), &found), STATUS_SUCCESS);
    assert_ptr_equal(found, PsGetCurrentThread());
    ObDereferenceObject(found);
    thread = start_thread(record_identity, &seen);
    wait_for(thread);
    ended = PsGetThreadId(thread);
    ObDereferenceObject(thread);
    assert_int_equal(PsLookupThreadByThreadId(ended, &found), STATUS_INVALID_PARAMETER);
    assert_int_equal(PsLookupThreadByThreadId((HANDLE)(ULONG_PTR)0x7FFFFFF0, &found), STATUS_INVALID_PARAMETER);
}

static void a_running_system_thread_is_found_by_its_id(void **state)
{
    PVOID thread;
    PETHREAD found = NULL;

    (void)state;
    KeInitializeEvent(&forever_stop, NotificationEvent, FALSE);
    thread = start_thread(wait_for_stop, NULL);
    assert_int_equal(PsLookupThreadByThreadId(PsGetThreadId(thread), &found), STATUS_SUCCESS);
    assert_ptr_equal(found, thread);
    ObDereferenceObject(found);
    KeSetEvent(&forever_stop, IO_NO_INCREMENT, FALSE);
    wait_for(thread);
    ObDereferenceObject(thread);
}

/* ---- Priority boosts ---- */

#define BOOST_SLICES 3

/* A thread at base priority `base` waits on `object`, then reads its priority on waking and after
 * each of BOOST_SLICES more waits (the simulator's time slices). */
struct boosted {
    struct wdmsim_test_thread thread;
    KPRIORITY base;
    PVOID object;
    atomic_int seen[BOOST_SLICES + 1];
};

static void wait_and_watch_priority(void *context)
{
    struct boosted *b = context;
    LARGE_INTEGER tick = { .QuadPart = -1 };

    KeSetPriorityThread(KeGetCurrentThread(), b->base);
    KeWaitForSingleObject(b->object, Executive, KernelMode, FALSE, NULL);
    atomic_store(&b->seen[0], KeQueryPriorityThread(KeGetCurrentThread()));
    for (int i = 1; i <= BOOST_SLICES; i++) {
        KeDelayExecutionThread(KernelMode, FALSE, &tick);
        atomic_store(&b->seen[i], KeQueryPriorityThread(KeGetCurrentThread()));
    }
    if (((DISPATCHER_HEADER *)b->object)->Type == 2)   /* a mutex: the wait made it the owner */
        KeReleaseMutex(b->object, FALSE);
}

static void start_boosted(struct boosted *b, KPRIORITY base, PVOID object)
{
    b->base = base;
    b->object = object;
    wdmsim_test_thread_start(&b->thread, wait_and_watch_priority, b);
    wdmsim_test_settle();
}

static void check_priorities(struct boosted *b, int woken, int then, int later, int last)
{
    wdmsim_test_thread_join(&b->thread);
    assert_int_equal(atomic_load(&b->seen[0]), woken);
    assert_int_equal(atomic_load(&b->seen[1]), then);
    assert_int_equal(atomic_load(&b->seen[2]), later);
    assert_int_equal(atomic_load(&b->seen[3]), last);
}

/* As Windows: the woken thread runs at base + increment, one level less per time slice. */
static void KeSetEvent_with_an_increment_boosts_the_woken_thread_and_the_boost_decays_per_slice(void **state)
{
    struct boosted b;
    KEVENT event;

    (void)state;
    KeInitializeEvent(&event, SynchronizationEvent, FALSE);
    start_boosted(&b, 8, &event);
    KeSetEvent(&event, 2, FALSE);
    check_priorities(&b, 10, 9, 8, 8);
}

static void KePulseEvent_KeReleaseSemaphore_and_KeReleaseMutex_boost_the_thread_they_wake(void **state)
{
    struct boosted pulsed, released, owner;
    KEVENT event;
    KSEMAPHORE semaphore;
    KMUTEX mutex;

    (void)state;
    KeInitializeEvent(&event, NotificationEvent, FALSE);
    start_boosted(&pulsed, 8, &event);
    KePulseEvent(&event, 3, FALSE);
    check_priorities(&pulsed, 11, 10, 9, 8);

    KeInitializeSemaphore(&semaphore, 0, 1);
    start_boosted(&released, 8, &semaphore);
    KeReleaseSemaphore(&semaphore, SEMAPHORE_INCREMENT, 1, FALSE);
    check_priorities(&released, 9, 8, 8, 8);

    /* KeReleaseMutex has no increment: Windows gives MUTANT_INCREMENT, 1. */
    KeInitializeMutex(&mutex, 0);
    KeWaitForSingleObject(&mutex, Executive, KernelMode, FALSE, NULL);
    start_boosted(&owner, 8, &mutex);
    KeReleaseMutex(&mutex, FALSE);
    check_priorities(&owner, 9, 8, 8, 8);
}

/* A boost never passes 15, the top of the variable range; a real-time thread gets none; no
 * increment, none. */
static void a_boost_stops_at_15_and_leaves_real_time_threads_alone(void **state)
{
    struct boosted high, real_time, none;
    KEVENT event;

    (void)state;
    KeInitializeEvent(&event, SynchronizationEvent, FALSE);
    start_boosted(&high, 14, &event);
    KeSetEvent(&event, 4, FALSE);
    check_priorities(&high, 15, 14, 14, 14);
    start_boosted(&real_time, LOW_REALTIME_PRIORITY, &event);
    KeSetEvent(&event, 4, FALSE);
    check_priorities(&real_time, 16, 16, 16, 16);
    start_boosted(&none, 8, &event);
    KeSetEvent(&event, IO_NO_INCREMENT, FALSE);
    check_priorities(&none, 8, 8, 8, 8);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        wdmsim_test(PsGetThreadId_PsGetThreadProcess_and_PsIsSystemThread_describe_a_system_thread),
        wdmsim_test(an_application_thread_is_no_system_thread_and_calls_from_UserMode),
        wdmsim_test(IoGetStackLimits_brackets_the_calling_threads_stack),
        wdmsim_test(PsLookupThreadByThreadId_references_a_running_thread_and_not_an_ended_one),
        wdmsim_test(a_running_system_thread_is_found_by_its_id),
        wdmsim_test(KeSetEvent_with_an_increment_boosts_the_woken_thread_and_the_boost_decays_per_slice),
        wdmsim_test(KePulseEvent_KeReleaseSemaphore_and_KeReleaseMutex_boost_the_thread_they_wake),
        wdmsim_test(a_boost_stops_at_15_and_leaves_real_time_threads_alone),
        wdmsim_test(the_DebugPrint_pattern_with_a_NULL_type_waits_for_the_thread_through_its_object),
        wdmsim_test(the_DebugPrint_pattern_with_PsThreadType_waits_for_the_thread_through_its_object),
        wdmsim_test(a_start_routine_that_returns_ends_the_thread_and_signals_its_object),
        cmocka_unit_test(PsCreateSystemThread_as_the_first_DDI_boots_the_kernel_first),
        wdmsim_test(PsTerminateSystemThread_ends_the_thread_without_returning),
        wdmsim_test(PsTerminateSystemThread_records_its_exit_status),
        wdmsim_test(PsTerminateSystemThread_from_a_host_thread_returns_STATUS_INVALID_PARAMETER),
        wdmsim_test(a_system_thread_runs_at_PASSIVE_LEVEL_in_System_as_the_referenced_object),
        wdmsim_test(KeSetPriorityThread_returns_the_old_priority),
        wdmsim_test(a_system_thread_is_charged_to_the_driver_that_created_it),
        wdmsim_test(PsCreateSystemThread_into_another_process_returns_STATUS_INVALID_HANDLE),
        wdmsim_test(a_hundred_threads_are_created_and_waited_for),
        wdmsim_test(a_thread_polling_every_second_runs_10000_iterations_in_virtual_time),
        wdmsim_test(PsCreateSystemThread_above_PASSIVE_LEVEL_stops_with_C4_2001C),
        wdmsim_test(PsTerminateSystemThread_above_PASSIVE_LEVEL_stops_with_C4_2001C),
        wdmsim_test(a_thread_that_ends_owning_a_KMUTEX_stops_with_THREAD_TERMINATE_HELD_MUTEX),
        wdmsim_test(a_thread_still_running_at_shutdown_is_counted_as_a_leak),
        wdmsim_test(an_adopted_host_thread_that_ends_owning_a_KMUTEX_stops_with_THREAD_TERMINATE_HELD_MUTEX),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
