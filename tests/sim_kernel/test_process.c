/*
 * test_process.c - processes: System and the user processes a host creates, the thread's current
 * process (IoGetCurrentProcess, PsGetCurrentProcessId), KeStackAttachProcess and its stops, threads
 * run in a process (wdmsim_process_run, PsCreateSystemThread with a process handle), the STOP
 * report's process line, and the handles a process leaves open. Threads of a process record what
 * they see; the test thread asserts.
 */
#include <stdbool.h>
#include <stdio.h>
#include <unistd.h>

#include <ntifs.h>

#include <wdmsim/test.h>
#include "wdmsim_test_threads.h"

#define SYSTEM_PROCESS_ID 4
#define KERNEL_HANDLE_BITS ((ULONG_PTR)0xFFFFFFFF80000000ull)
#define FIVE_MINUTES (5LL * 60 * 10 * 1000 * 1000)

static void shutdown_into(void *leaked)
{
    *(size_t *)leaked = wdmsim_shutdown();
}

/* ---- System and user processes ---- */

static void a_host_thread_runs_in_System_whose_id_is_4(void **state)
{
    (void)state;
    assert_non_null(PsInitialSystemProcess);
    assert_ptr_equal(IoGetCurrentProcess(), PsInitialSystemProcess);
    assert_ptr_equal(PsGetCurrentProcess(), PsInitialSystemProcess);
    assert_int_equal((ULONG_PTR)PsGetCurrentProcessId(), SYSTEM_PROCESS_ID);
    assert_int_equal((ULONG_PTR)PsGetProcessId(PsInitialSystemProcess), SYSTEM_PROCESS_ID);
}

static void user_processes_get_distinct_ids_that_are_multiples_of_4(void **state)
{
    PEPROCESS first, second;
    ULONG_PTR a, b;

    (void)state;
    first = wdmsim_process_create("first.exe");
    second = wdmsim_process_create("second.exe");
    a = (ULONG_PTR)PsGetProcessId(first);
    b = (ULONG_PTR)PsGetProcessId(second);
    assert_int_not_equal(a, b);
    assert_int_not_equal(a, SYSTEM_PROCESS_ID);
    assert_int_equal(a % 4, 0);
    assert_int_equal(b % 4, 0);
    wdmsim_process_terminate(first);
    wdmsim_process_terminate(second);
    assert_int_equal(wdmsim_shutdown(), 0);
}

/* ---- wdmsim_process_run ---- */

struct seen {
    PEPROCESS process;
    HANDLE process_id;
    KIRQL irql;
    PKTHREAD thread;
    LONGLONG waited;
    bool returned;
};

static void look_around(void *context)
{
    struct seen *seen = context;

    seen->process = IoGetCurrentProcess();
    seen->process_id = PsGetCurrentProcessId();
    seen->irql = KeGetCurrentIrql();
    seen->thread = KeGetCurrentThread();
    seen->returned = true;
}

static void wdmsim_process_run_runs_fn_as_a_new_thread_of_the_process_at_PASSIVE_LEVEL(void **state)
{
    PEPROCESS app;
    struct seen seen = { 0 };

    (void)state;
    app = wdmsim_process_create("app.exe");
    wdmsim_process_run(app, look_around, &seen);
    assert_true(seen.returned);
    assert_ptr_equal(seen.process, app);
    assert_ptr_equal(seen.process_id, PsGetProcessId(app));
    assert_int_equal(seen.irql, PASSIVE_LEVEL);
    assert_ptr_not_equal(seen.thread, KeGetCurrentThread());
    assert_ptr_equal(IoGetCurrentProcess(), PsInitialSystemProcess);
    wdmsim_process_terminate(app);
    assert_int_equal(wdmsim_shutdown(), 0);
}

static void wait_five_minutes(void *context)
{
    struct seen *seen = context;
    LARGE_INTEGER before, after, five_minutes = { .QuadPart = -FIVE_MINUTES };

    KeQuerySystemTime(&before);
    KeDelayExecutionThread(KernelMode, FALSE, &five_minutes);
    KeQuerySystemTime(&after);
    seen->waited = after.QuadPart - before.QuadPart;
    seen->returned = true;
}

static void wdmsim_process_run_returns_when_fn_ends_after_5_simulated_minutes(void **state)
{
    PEPROCESS app;
    struct seen seen = { 0 };

    (void)state;
    app = wdmsim_process_create("app.exe");
    wdmsim_process_run(app, wait_five_minutes, &seen);
    assert_true(seen.returned);
    assert_true(seen.waited >= FIVE_MINUTES);
    wdmsim_process_terminate(app);
}

/* ---- Attaching ---- */

static void KeStackAttachProcess_switches_the_current_process_and_detach_restores_it(void **state)
{
    PEPROCESS app;
    KAPC_STATE apc;

    (void)state;
    app = wdmsim_process_create("app.exe");
    KeStackAttachProcess((PRKPROCESS)app, &apc);
    assert_ptr_equal(IoGetCurrentProcess(), app);
    assert_ptr_equal(PsGetCurrentProcessId(), PsGetProcessId(app));
    KeUnstackDetachProcess(&apc);
    assert_ptr_equal(IoGetCurrentProcess(), PsInitialSystemProcess);
    assert_int_equal((ULONG_PTR)PsGetCurrentProcessId(), SYSTEM_PROCESS_ID);
    wdmsim_process_terminate(app);
}

static void attaches_nest_and_each_detach_restores_the_context_before_its_attach(void **state)
{
    PEPROCESS first, second;
    KAPC_STATE outer, inner;

    (void)state;
    first = wdmsim_process_create("first.exe");
    second = wdmsim_process_create("second.exe");
    KeStackAttachProcess((PRKPROCESS)first, &outer);
    KeStackAttachProcess((PRKPROCESS)second, &inner);
    assert_ptr_equal(IoGetCurrentProcess(), second);
    KeUnstackDetachProcess(&inner);
    assert_ptr_equal(IoGetCurrentProcess(), first);
    KeUnstackDetachProcess(&outer);
    assert_ptr_equal(IoGetCurrentProcess(), PsInitialSystemProcess);
    wdmsim_process_terminate(first);
    wdmsim_process_terminate(second);
}

static void attaching_to_the_current_process_needs_a_detach_that_changes_nothing(void **state)
{
    PEPROCESS app;
    KAPC_STATE outer, same;

    (void)state;
    app = wdmsim_process_create("app.exe");
    KeStackAttachProcess((PRKPROCESS)app, &outer);
    KeStackAttachProcess((PRKPROCESS)app, &same);
    KeUnstackDetachProcess(&same);
    assert_ptr_equal(IoGetCurrentProcess(), app);
    KeUnstackDetachProcess(&outer);
    assert_ptr_equal(IoGetCurrentProcess(), PsInitialSystemProcess);
    wdmsim_process_terminate(app);
}

static void look_while_attached_to_System(void *context)
{
    struct seen *seen = context;
    KAPC_STATE apc;

    KeStackAttachProcess((PRKPROCESS)PsInitialSystemProcess, &apc);
    seen->process = IoGetCurrentProcess();
    KeUnstackDetachProcess(&apc);
    seen->returned = IoGetCurrentProcess() != PsInitialSystemProcess;
}

static void a_thread_of_a_user_process_can_attach_to_System_and_come_back(void **state)
{
    PEPROCESS app;
    struct seen seen = { 0 };

    (void)state;
    app = wdmsim_process_create("app.exe");
    wdmsim_process_run(app, look_while_attached_to_System, &seen);
    assert_ptr_equal(seen.process, PsInitialSystemProcess);
    assert_true(seen.returned);
    wdmsim_process_terminate(app);
}

/* ---- Attach and detach misuse ---- */

static void detach_out_of_order(void *unused)
{
    PEPROCESS first = wdmsim_process_create("first.exe"), second = wdmsim_process_create("second.exe");
    KAPC_STATE outer, inner;

    (void)unused;
    KeStackAttachProcess((PRKPROCESS)first, &outer);
    KeStackAttachProcess((PRKPROCESS)second, &inner);
    KeUnstackDetachProcess(&outer);
}

static void detaching_out_of_order_stops_with_0x6(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(detach_out_of_order, NULL, 0x6, 0, "process.detach_out_of_order", &stop);
    assert_string_equal(stop.code_name, "INVALID_PROCESS_DETACH_ATTEMPT");
    assert_non_null(strstr(stop.report, "belongs to an earlier attach"));
}

static void detach_twice(void *unused)
{
    PEPROCESS app = wdmsim_process_create("app.exe");
    KAPC_STATE apc;

    (void)unused;
    KeStackAttachProcess((PRKPROCESS)app, &apc);
    KeUnstackDetachProcess(&apc);
    KeUnstackDetachProcess(&apc);
}

static void detaching_when_not_attached_stops_with_0x6(void **state)
{
    (void)state;
    wdmsim_assert_stops(detach_twice, NULL, 0x6, 0, "process.detach_not_attached", NULL);
}

static VOID NTAPI attach_and_return(PVOID process)
{
    static KAPC_STATE apc;

    KeStackAttachProcess((PRKPROCESS)process, &apc);
}

static void system_thread_ends_attached(void *unused)
{
    PEPROCESS app = wdmsim_process_create("app.exe");
    static KEVENT never;
    HANDLE handle;

    (void)unused;
    if (PsCreateSystemThread(&handle, THREAD_ALL_ACCESS, NULL, NULL, NULL, attach_and_return, app) != STATUS_SUCCESS)
        return;
    KeInitializeEvent(&never, NotificationEvent, FALSE);
    KeWaitForSingleObject(&never, Executive, KernelMode, FALSE, NULL);
}

static void a_system_thread_that_ends_attached_stops_with_0x5(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(system_thread_ends_attached, NULL, 0x5, WDMSIM_ANY_PARAM,
                        "process.attached_at_thread_exit", &stop);
    assert_string_equal(stop.code_name, "INVALID_PROCESS_ATTACH_ATTEMPT");
    assert_int_equal(stop.params[2], 1);
    assert_non_null(strstr(stop.report, "thread system-1 of process System (id 4) ends still attached to "
                                        "process app.exe (id 1000)"));
}

static void attach_in_process_and_return(void *unused)
{
    static KAPC_STATE apc;

    (void)unused;
    KeStackAttachProcess((PRKPROCESS)PsInitialSystemProcess, &apc);
}

static void run_thread_that_ends_attached(void *unused)
{
    (void)unused;
    wdmsim_process_run(wdmsim_process_create("app.exe"), attach_in_process_and_return, NULL);
}

static void a_process_thread_that_ends_attached_stops_with_0x5(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(run_thread_that_ends_attached, NULL, 0x5, WDMSIM_ANY_PARAM,
                        "process.attached_at_thread_exit", &stop);
    assert_non_null(strstr(stop.report, "of process app.exe (id 1000) ends still attached to process System"));
}

static VOID NTAPI attach_in_dpc(PKDPC dpc, PVOID process, PVOID unused1, PVOID unused2)
{
    static KAPC_STATE apc;

    (void)dpc;
    (void)unused1;
    (void)unused2;
    KeStackAttachProcess((PRKPROCESS)process, &apc);
}

static void queue_attaching_dpc(void *unused)
{
    static KDPC dpc;
    static KEVENT never;

    (void)unused;
    KeInitializeDpc(&dpc, attach_in_dpc, wdmsim_process_create("app.exe"));
    KeInitializeEvent(&never, NotificationEvent, FALSE);
    KeInsertQueueDpc(&dpc, NULL, NULL);
    KeWaitForSingleObject(&never, Executive, KernelMode, FALSE, NULL);
}

static void KeStackAttachProcess_in_a_DPC_stops_with_0x5(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(queue_attaching_dpc, NULL, 0x5, WDMSIM_ANY_PARAM, "process.attach_in_dpc", &stop);
    assert_int_equal(stop.params[3], 1);
}

/* The classic slip: the HANDLE from ObOpenObjectByPointer (or ZwOpenProcess) where the PEPROCESS
 * belongs. */
static void attach_to_a_handle(void *unused)
{
    PEPROCESS process = wdmsim_process_create("app.exe");
    HANDLE handle = NULL;
    KAPC_STATE apc;

    (void)unused;
    ObOpenObjectByPointer(process, OBJ_KERNEL_HANDLE, NULL, 0, *PsProcessType, KernelMode, &handle);
    KeStackAttachProcess((PRKPROCESS)handle, &apc);
}

static void KeStackAttachProcess_of_a_handle_instead_of_a_process_stops_with_0x50(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(attach_to_a_handle, NULL, 0x50, WDMSIM_ANY_PARAM, "process.attach_not_a_process", &stop);
    assert_int_not_equal(stop.params[0], 0);
    wdmsim_assert_report_has(&stop, "is not a process the object manager knows");
}

static void attach_at_dispatch(void *unused)
{
    KAPC_STATE apc;
    KIRQL old;

    (void)unused;
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    KeStackAttachProcess((PRKPROCESS)wdmsim_process_create("app.exe"), &apc);
}

static void KeStackAttachProcess_above_APC_LEVEL_stops_with_0x5(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(attach_at_dispatch, NULL, 0x5, WDMSIM_ANY_PARAM, "process.attach_above_apc", &stop);
    assert_int_equal(stop.params[3], 0);
}

static void detach_at_dispatch(void *unused)
{
    KAPC_STATE apc;
    KIRQL old;

    (void)unused;
    KeStackAttachProcess((PRKPROCESS)wdmsim_process_create("app.exe"), &apc);
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    KeUnstackDetachProcess(&apc);
}

static void KeUnstackDetachProcess_above_APC_LEVEL_stops_with_0x6(void **state)
{
    (void)state;
    wdmsim_assert_stops(detach_at_dispatch, NULL, 0x6, WDMSIM_ANY_PARAM, "process.detach_above_apc", NULL);
}

/* ---- The STOP report ---- */

static void bugcheck_attached(void *unused)
{
    KAPC_STATE apc;

    (void)unused;
    KeStackAttachProcess((PRKPROCESS)PsInitialSystemProcess, &apc);
    KeBugCheckEx(0xE2, 0, 0, 0, 0);
}

static void run_bugcheck_attached(void *unused)
{
    (void)unused;
    wdmsim_process_run(wdmsim_process_create("app.exe"), bugcheck_attached, NULL);
}

static void the_STOP_report_names_the_attached_process_and_the_thread_s_own(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(run_bugcheck_attached, NULL, 0xE2, 0, "", &stop);
    assert_non_null(strstr(stop.report,
                           "Process:  System (id 4), attached; the thread belongs to app.exe (id 1000)\n"));
}

static void bugcheck_in_process(void *unused)
{
    (void)unused;
    KeBugCheckEx(0xE2, 0, 0, 0, 0);
}

static void run_bugcheck_in_process(void *unused)
{
    (void)unused;
    wdmsim_process_run(wdmsim_process_create("app.exe"), bugcheck_in_process, NULL);
}

static void the_STOP_report_names_the_process_the_thread_runs_in(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(run_bugcheck_in_process, NULL, 0xE2, 0, "", &stop);
    assert_non_null(strstr(stop.report, "Process:  app.exe (id 1000)\n"));
}

/* ---- PsCreateSystemThread into a user process ---- */

struct created {
    NTSTATUS status;
    HANDLE handle;
    CLIENT_ID client;
    struct seen seen;
};

static VOID NTAPI record_process(PVOID context)
{
    look_around(context);
}

/* Creates a thread with attributes in process_handle, and waits for it to end. */
static void create_and_wait(struct created *c, ULONG attributes, HANDLE process_handle)
{
    OBJECT_ATTRIBUTES oa;
    PVOID thread;

    InitializeObjectAttributes(&oa, NULL, attributes, NULL, NULL);
    c->status = PsCreateSystemThread(&c->handle, THREAD_ALL_ACCESS, &oa, process_handle, &c->client,
                                     record_process, &c->seen);
    if (!NT_SUCCESS(c->status))
        return;
    if (ObReferenceObjectByHandle(c->handle, SYNCHRONIZE, *PsThreadType, KernelMode, &thread, NULL) != STATUS_SUCCESS)
        return;
    KeWaitForSingleObject(thread, Executive, KernelMode, FALSE, NULL);
    ObDereferenceObject(thread);
    ZwClose(c->handle);
}

static void create_thread_in_current_process(void *context)
{
    create_and_wait(context, OBJ_KERNEL_HANDLE, NtCurrentProcess());
}

static void PsCreateSystemThread_with_NtCurrentProcess_runs_the_thread_in_the_caller_s_process(void **state)
{
    PEPROCESS app;
    struct created c = { .status = STATUS_PENDING };

    (void)state;
    app = wdmsim_process_create("app.exe");
    wdmsim_process_run(app, create_thread_in_current_process, &c);
    assert_int_equal(c.status, STATUS_SUCCESS);
    assert_int_equal((ULONG_PTR)c.handle & KERNEL_HANDLE_BITS, KERNEL_HANDLE_BITS);
    assert_ptr_equal(c.client.UniqueProcess, PsGetProcessId(app));
    assert_ptr_equal(c.seen.process, app);
    assert_int_equal(c.seen.irql, PASSIVE_LEVEL);
    wdmsim_process_terminate(app);
    assert_int_equal(wdmsim_shutdown(), 0);
}

static void PsCreateSystemThread_with_a_process_handle_runs_the_thread_in_that_process(void **state)
{
    PEPROCESS app;
    HANDLE process_handle;
    struct created c = { .status = STATUS_PENDING };

    (void)state;
    app = wdmsim_process_create("app.exe");
    assert_int_equal(ObOpenObjectByPointer(app, OBJ_KERNEL_HANDLE, NULL, 0, *PsProcessType, KernelMode,
                                           &process_handle), STATUS_SUCCESS);
    create_and_wait(&c, 0, process_handle);
    assert_int_equal(ZwClose(process_handle), STATUS_SUCCESS);
    assert_int_equal(c.status, STATUS_SUCCESS);
    assert_ptr_equal(c.seen.process, app);
    assert_ptr_equal(c.seen.process_id, PsGetProcessId(app));
    assert_ptr_equal(c.client.UniqueProcess, PsGetProcessId(app));
    wdmsim_process_terminate(app);
    assert_int_equal(wdmsim_shutdown(), 0);
}

static void PsCreateSystemThread_with_a_handle_that_is_not_a_process_fails(void **state)
{
    struct created thread = { .status = STATUS_PENDING }, c = { .status = STATUS_PENDING };
    HANDLE thread_handle;
    PVOID object;

    (void)state;
    assert_int_equal(PsCreateSystemThread(&thread_handle, THREAD_ALL_ACCESS, NULL, NULL, NULL, record_process,
                                          &thread.seen), STATUS_SUCCESS);
    create_and_wait(&c, OBJ_KERNEL_HANDLE, thread_handle);
    assert_int_equal(c.status, STATUS_OBJECT_TYPE_MISMATCH);
    assert_int_equal(ObReferenceObjectByHandle(thread_handle, SYNCHRONIZE, *PsThreadType, KernelMode, &object, NULL),
                     STATUS_SUCCESS);
    KeWaitForSingleObject(object, Executive, KernelMode, FALSE, NULL);
    ObDereferenceObject(object);
    assert_int_equal(ZwClose(thread_handle), STATUS_SUCCESS);
    assert_int_equal(wdmsim_shutdown(), 0);
}

static void create_thread_without_kernel_handle(void *context)
{
    create_and_wait(context, 0, NULL);
}

static void run_create_without_kernel_handle(void *context)
{
    PEPROCESS app = wdmsim_process_create("app.exe");

    wdmsim_process_run(app, create_thread_without_kernel_handle, context);
    wdmsim_process_terminate(app);
}

static void PsCreateSystemThread_outside_System_without_OBJ_KERNEL_HANDLE_warns_and_gives_a_kernel_handle(void **state)
{
    struct created c = { .status = STATUS_PENDING };
    char log[1024];

    (void)state;
    wdmsim_capture_stderr(run_create_without_kernel_handle, &c, log, sizeof log);
    assert_int_equal(c.status, STATUS_SUCCESS);
    assert_int_equal((ULONG_PTR)c.handle & KERNEL_HANDLE_BITS, KERNEL_HANDLE_BITS);
    assert_ptr_equal(c.seen.process, PsInitialSystemProcess);
    assert_non_null(strstr(log, "PsCreateSystemThread in process app.exe (id 1000) without OBJ_KERNEL_HANDLE"));
}

/* ---- Handles a process leaves open ---- */

static void open_own_process(void *handle)
{
    ObOpenObjectByPointer(IoGetCurrentProcess(), 0, NULL, SYNCHRONIZE, *PsProcessType, KernelMode, handle);
}

static void terminate_process(void *process)
{
    wdmsim_process_terminate(process);
}

static void handles_a_process_leaves_open_are_closed_at_its_end_reported_and_counted(void **state)
{
    PEPROCESS app;
    HANDLE handle = NULL;
    size_t leaked;
    char log[1024];

    (void)state;
    wdmsim_allow_leaks();           /* the leaks are what this case checks */
    app = wdmsim_process_create("app.exe");
    wdmsim_process_run(app, open_own_process, &handle);
    assert_int_equal((ULONG_PTR)handle, 4);
    wdmsim_capture_stderr(terminate_process, app, log, sizeof log);
    assert_non_null(strstr(log, "wdmsim: process exit: app.exe (id 1000) left handle 0x4 to the Process object"));
    assert_non_null(strstr(log, "(process app.exe (id 1000)) open, opened by host code; closing it"));
    wdmsim_capture_stderr(shutdown_into, &leaked, log, sizeof log);
    assert_int_equal(leaked, 1);
}

static void handles_of_a_process_still_there_at_shutdown_are_counted_as_leaks(void **state)
{
    PEPROCESS app;
    HANDLE handle = NULL;
    size_t leaked;
    char log[1024];

    (void)state;
    wdmsim_allow_leaks();           /* the leaks are what this case checks */
    app = wdmsim_process_create("app.exe");
    wdmsim_process_run(app, open_own_process, &handle);
    wdmsim_capture_stderr(shutdown_into, &leaked, log, sizeof log);
    assert_int_equal(leaked, 1);
    assert_non_null(strstr(log, "wdmsim: shutdown: leaked process app.exe (id 1000) handle 0x4 to the Process object"));
}

static void a_referenced_process_outlives_its_end_until_the_last_dereference(void **state)
{
    PEPROCESS app;

    (void)state;
    app = wdmsim_process_create("app.exe");
    ObReferenceObject(app);
    wdmsim_process_terminate(app);
    assert_int_equal(ObReferenceObject(app), 2);
    assert_int_equal(ObDereferenceObject(app), 1);
    assert_int_equal((ULONG_PTR)PsGetProcessId(app), 1000);
    assert_int_equal(ObDereferenceObject(app), 0);
    assert_int_equal(wdmsim_shutdown(), 0);
}

struct process_watch {
    PEPROCESS process;
    NTSTATUS waited;
};

static VOID NTAPI wait_for_the_process(PVOID context)
{
    struct process_watch *w = context;

    w->waited = KeWaitForSingleObject(w->process, Executive, KernelMode, FALSE, NULL);
    PsTerminateSystemThread(STATUS_SUCCESS);
}

/* A process is a dispatcher object, as its KPROCESS header says: signalled once it has ended. */
static void a_thread_waiting_on_a_process_wakes_when_the_process_ends(void **state)
{
    struct process_watch w = { wdmsim_process_create("app.exe"), STATUS_UNSUCCESSFUL };
    LARGE_INTEGER poll = { .QuadPart = 0 };
    HANDLE thread;
    PVOID thread_object;

    (void)state;
    ObReferenceObject(w.process);
    assert_int_equal(KeWaitForSingleObject(w.process, Executive, KernelMode, FALSE, &poll), STATUS_TIMEOUT);
    assert_int_equal(PsCreateSystemThread(&thread, THREAD_ALL_ACCESS, NULL, NULL, NULL, wait_for_the_process, &w),
                     STATUS_SUCCESS);
    assert_int_equal(ObReferenceObjectByHandle(thread, SYNCHRONIZE, *PsThreadType, KernelMode, &thread_object, NULL),
                     STATUS_SUCCESS);
    ZwClose(thread);
    wdmsim_test_settle();
    assert_int_equal(w.waited, STATUS_UNSUCCESSFUL);
    wdmsim_process_terminate(w.process);
    assert_int_equal(KeWaitForSingleObject(thread_object, Executive, KernelMode, FALSE, NULL), STATUS_SUCCESS);
    assert_int_equal(w.waited, STATUS_SUCCESS);
    ObDereferenceObject(thread_object);
    ObDereferenceObject(w.process);
}

struct straggler {
    KEVENT go;
    PVOID thread;
    HANDLE opened;
    struct seen seen;
};

static VOID NTAPI open_after_the_end(PVOID context)
{
    struct straggler *s = context;

    KeWaitForSingleObject(&s->go, Executive, KernelMode, FALSE, NULL);
    look_around(&s->seen);
    ObOpenObjectByPointer(PsInitialSystemProcess, 0, NULL, SYNCHRONIZE, NULL, KernelMode, &s->opened);
}

static void release_straggler(void *context)
{
    struct straggler *s = context;

    KeSetEvent(&s->go, IO_NO_INCREMENT, FALSE);
    KeWaitForSingleObject(s->thread, Executive, KernelMode, FALSE, NULL);
    ObDereferenceObject(s->thread);
}

static void a_thread_created_in_a_process_keeps_it_until_the_thread_ends(void **state)
{
    struct straggler s = { .opened = NULL };
    HANDLE process_handle, thread_handle;
    PEPROCESS app;
    size_t leaked;
    char log[1024];

    (void)state;
    wdmsim_allow_leaks();           /* the leaks are what this case checks */
    KeInitializeEvent(&s.go, NotificationEvent, FALSE);
    app = wdmsim_process_create("app.exe");
    assert_int_equal(ObOpenObjectByPointer(app, OBJ_KERNEL_HANDLE, NULL, 0, *PsProcessType, KernelMode,
                                           &process_handle), STATUS_SUCCESS);
    assert_int_equal(PsCreateSystemThread(&thread_handle, THREAD_ALL_ACCESS, NULL, process_handle, NULL,
                                          open_after_the_end, &s), STATUS_SUCCESS);
    assert_int_equal(ObReferenceObjectByHandle(thread_handle, SYNCHRONIZE, *PsThreadType, KernelMode, &s.thread,
                                               NULL), STATUS_SUCCESS);
    assert_int_equal(ZwClose(thread_handle), STATUS_SUCCESS);
    assert_int_equal(ZwClose(process_handle), STATUS_SUCCESS);
    wdmsim_process_terminate(app);
    wdmsim_capture_stderr(release_straggler, &s, log, sizeof log);
    assert_ptr_equal(s.seen.process, app);
    assert_int_equal((ULONG_PTR)s.seen.process_id, 1000);
    assert_int_equal((ULONG_PTR)s.opened, 4);
    assert_non_null(strstr(log, "wdmsim: process exit: app.exe (id 1000) left handle 0x4 to the Process object"));
    wdmsim_capture_stderr(shutdown_into, &leaked, log, sizeof log);
    assert_int_equal(leaked, 1);
}

/* ---- ZwQueryInformationProcess ---- */

struct basic_seen {
    NTSTATUS status;
    PROCESS_BASIC_INFORMATION info;
    ULONG length;
};

static void query_current_process(void *context)
{
    struct basic_seen *seen = context;

    seen->status = ZwQueryInformationProcess(NtCurrentProcess(), ProcessBasicInformation, &seen->info,
                                             sizeof seen->info, &seen->length);
}

static void ZwQueryInformationProcess_gives_the_basic_information_of_a_running_process(void **state)
{
    PEPROCESS app;
    struct basic_seen seen = { .status = -1 };

    (void)state;
    query_current_process(&seen);
    assert_int_equal(seen.status, STATUS_SUCCESS);
    assert_int_equal(seen.length, sizeof(PROCESS_BASIC_INFORMATION));
    assert_int_equal(seen.info.UniqueProcessId, 4);
    assert_int_equal(seen.info.ExitStatus, STATUS_PENDING);
    assert_int_equal(seen.info.BasePriority, 8);
    assert_int_equal(seen.info.AffinityMask, KeQueryActiveProcessors());

    app = wdmsim_process_create("basic.exe");
    wdmsim_process_run(app, query_current_process, &seen);
    assert_int_equal(seen.status, STATUS_SUCCESS);
    assert_int_equal(seen.info.UniqueProcessId, (ULONG_PTR)PsGetProcessId(app));
    wdmsim_process_terminate(app);
    assert_int_equal(wdmsim_shutdown(), 0);
}

static void ZwQueryInformationProcess_checks_the_class_the_length_and_the_handle(void **state)
{
    PROCESS_BASIC_INFORMATION info;
    ULONG length = 0;

    (void)state;
    assert_int_equal(ZwQueryInformationProcess(NtCurrentProcess(), (PROCESSINFOCLASS)7, &info, sizeof info, &length),
                     STATUS_INVALID_INFO_CLASS);
    assert_int_equal(ZwQueryInformationProcess(NtCurrentProcess(), ProcessBasicInformation, &info, sizeof info - 1,
                                               &length), STATUS_INFO_LENGTH_MISMATCH);
    assert_int_equal(ZwQueryInformationProcess(NtCurrentThread(), ProcessBasicInformation, &info, sizeof info,
                                               NULL), STATUS_OBJECT_TYPE_MISMATCH);
    assert_int_equal(length, 0);
}

/* ---- PsLookupProcessByProcessId ---- */

static void PsLookupProcessByProcessId_references_the_process_with_that_id(void **state)
{
    PEPROCESS app, found = NULL;

    (void)state;
    app = wdmsim_process_create("lookup.exe");
    assert_int_equal(PsLookupProcessByProcessId(PsGetProcessId(app), &found), STATUS_SUCCESS);
    assert_ptr_equal(found, app);
    ObDereferenceObject(found);
    assert_int_equal(PsLookupProcessByProcessId((HANDLE)4, &found), STATUS_SUCCESS);
    assert_ptr_equal(found, PsInitialSystemProcess);
    ObDereferenceObject(found);
    /* Ids are multiples of 4: 6 was never one. */
    assert_int_equal(PsLookupProcessByProcessId((HANDLE)6, &found), STATUS_INVALID_PARAMETER);
    wdmsim_process_terminate(app);
    assert_int_equal(wdmsim_shutdown(), 0);
}

/* A lookup left unmatched is a leaked reference: found at shutdown. */
static void lookup_and_keep(void *context)
{
    PEPROCESS found;

    (void)context;
    PsLookupProcessByProcessId((HANDLE)4, &found);
}

static void a_process_lookup_never_dereferenced_is_a_leak(void **state)
{
    (void)state;
    wdmsim_allow_leaks();
    lookup_and_keep(NULL);
    assert_int_equal(wdmsim_shutdown(), 1);
}

static void lookup_at_dispatch_level(void *context)
{
    PEPROCESS found;
    KIRQL old;

    (void)context;
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    PsLookupProcessByProcessId((HANDLE)4, &found);
}

static void PsLookupProcessByProcessId_above_APC_LEVEL_stops_with_0xC4_0x20024(void **state)
{
    (void)state;
    wdmsim_assert_stops(lookup_at_dispatch_level, NULL, 0xC4, 0x20024, "ps.lookup_above_apc", NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        wdmsim_test(ZwQueryInformationProcess_gives_the_basic_information_of_a_running_process),
        wdmsim_test(ZwQueryInformationProcess_checks_the_class_the_length_and_the_handle),
        wdmsim_test(PsLookupProcessByProcessId_references_the_process_with_that_id),
        wdmsim_test(a_process_lookup_never_dereferenced_is_a_leak),
        wdmsim_test(PsLookupProcessByProcessId_above_APC_LEVEL_stops_with_0xC4_0x20024),
        wdmsim_test(a_host_thread_runs_in_System_whose_id_is_4),
        wdmsim_test(user_processes_get_distinct_ids_that_are_multiples_of_4),
        wdmsim_test(wdmsim_process_run_runs_fn_as_a_new_thread_of_the_process_at_PASSIVE_LEVEL),
        wdmsim_test(wdmsim_process_run_returns_when_fn_ends_after_5_simulated_minutes),
        wdmsim_test(KeStackAttachProcess_switches_the_current_process_and_detach_restores_it),
        wdmsim_test(attaches_nest_and_each_detach_restores_the_context_before_its_attach),
        wdmsim_test(attaching_to_the_current_process_needs_a_detach_that_changes_nothing),
        wdmsim_test(a_thread_of_a_user_process_can_attach_to_System_and_come_back),
        wdmsim_test(detaching_out_of_order_stops_with_0x6),
        wdmsim_test(detaching_when_not_attached_stops_with_0x6),
        wdmsim_test(a_system_thread_that_ends_attached_stops_with_0x5),
        wdmsim_test(a_process_thread_that_ends_attached_stops_with_0x5),
        wdmsim_test(KeStackAttachProcess_in_a_DPC_stops_with_0x5),
        wdmsim_test(KeStackAttachProcess_of_a_handle_instead_of_a_process_stops_with_0x50),
        wdmsim_test(KeStackAttachProcess_above_APC_LEVEL_stops_with_0x5),
        wdmsim_test(KeUnstackDetachProcess_above_APC_LEVEL_stops_with_0x6),
        wdmsim_test(the_STOP_report_names_the_attached_process_and_the_thread_s_own),
        wdmsim_test(the_STOP_report_names_the_process_the_thread_runs_in),
        wdmsim_test(PsCreateSystemThread_with_NtCurrentProcess_runs_the_thread_in_the_caller_s_process),
        wdmsim_test(PsCreateSystemThread_with_a_process_handle_runs_the_thread_in_that_process),
        wdmsim_test(PsCreateSystemThread_with_a_handle_that_is_not_a_process_fails),
        wdmsim_test(PsCreateSystemThread_outside_System_without_OBJ_KERNEL_HANDLE_warns_and_gives_a_kernel_handle),
        wdmsim_test(handles_a_process_leaves_open_are_closed_at_its_end_reported_and_counted),
        wdmsim_test(handles_of_a_process_still_there_at_shutdown_are_counted_as_leaks),
        wdmsim_test(a_referenced_process_outlives_its_end_until_the_last_dereference),
        wdmsim_test(a_thread_waiting_on_a_process_wakes_when_the_process_ends),
        wdmsim_test(a_thread_created_in_a_process_keeps_it_until_the_thread_ends),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
