/*
 * test_handle.c - handle tables: what a kernel handle looks like, what ObReferenceObjectByHandle
 * and ZwClose return for good, unknown, closed and mistyped handles and for the NtCurrentThread()
 * and NtCurrentProcess() pseudo-handles, ObOpenObjectByPointer, a table per process (the same value
 * in two processes, kernel handles from any process, a handle used in the wrong process and what
 * the log says about it), the IRQL rules, and handles left open at shutdown.
 */
#include <stdio.h>
#include <unistd.h>

#include <ntifs.h>

#include <wdmsim/test.h>
#include "wdmsim_test_threads.h"

#define KERNEL_HANDLE_BITS ((ULONG_PTR)0xFFFFFFFF80000000ull)

#define handle_test(fn) cmocka_unit_test_setup_teardown(fn, wdmsim_test_boot_with_release, wdmsim_test_shutdown)

static HANDLE create_thread(PKSTART_ROUTINE routine, ACCESS_MASK access)
{
    HANDLE handle = NULL;

    assert_int_equal(PsCreateSystemThread(&handle, access, NULL, NULL, NULL, routine, NULL), STATUS_SUCCESS);
    return handle;
}

static PVOID reference(HANDLE handle)
{
    PVOID object = NULL;

    assert_int_equal(ObReferenceObjectByHandle(handle, SYNCHRONIZE, *PsThreadType, KernelMode, &object, NULL),
                     STATUS_SUCCESS);
    assert_non_null(object);
    return object;
}

/* Waits for the thread behind handle to end, then closes the handle. */
static void finish(HANDLE handle)
{
    PVOID thread = reference(handle);

    KeSetEvent(&wdmsim_test_thread_release, IO_NO_INCREMENT, FALSE);
    assert_int_equal(KeWaitForSingleObject(thread, Executive, KernelMode, FALSE, NULL), STATUS_SUCCESS);
    ObDereferenceObject(thread);
    assert_int_equal(ZwClose(handle), STATUS_SUCCESS);
}

/* The status of a reference that must fail, which must also leave *Object NULL. */
static NTSTATUS failed_reference(HANDLE handle, POBJECT_TYPE type, KPROCESSOR_MODE mode)
{
    PVOID object = (PVOID)1;
    NTSTATUS status = ObReferenceObjectByHandle(handle, SYNCHRONIZE, type, mode, &object, NULL);

    assert_null(object);
    return status;
}

/* ---- Good handles ---- */

static void PsCreateSystemThread_returns_kernel_handles_with_the_top_bit_set(void **state)
{
    HANDLE first, second;

    (void)state;
    first = create_thread(wdmsim_test_return_at_once, THREAD_ALL_ACCESS);
    second = create_thread(wdmsim_test_return_at_once, THREAD_ALL_ACCESS);
    assert_int_equal((ULONG_PTR)first & KERNEL_HANDLE_BITS, KERNEL_HANDLE_BITS);
    assert_int_equal((ULONG_PTR)second & KERNEL_HANDLE_BITS, KERNEL_HANDLE_BITS);
    assert_int_equal((ULONG_PTR)first & 3, 0);
    assert_int_not_equal((ULONG_PTR)first & ~KERNEL_HANDLE_BITS, 0);
    assert_ptr_not_equal(first, second);
    finish(first);
    finish(second);
    assert_int_equal(wdmsim_shutdown(), 0);
}

static void ObReferenceObjectByHandle_reports_the_granted_access(void **state)
{
    OBJECT_HANDLE_INFORMATION info = { 0xFF, 0 };
    HANDLE handle;
    PVOID thread;

    (void)state;
    handle = create_thread(wdmsim_test_return_at_once, SYNCHRONIZE);
    assert_int_equal(ObReferenceObjectByHandle(handle, SYNCHRONIZE, NULL, KernelMode, &thread, &info),
                     STATUS_SUCCESS);
    assert_int_equal(info.GrantedAccess, SYNCHRONIZE);
    assert_int_equal(info.HandleAttributes, 0);
    ObDereferenceObject(thread);
    finish(handle);
}

static void closing_the_last_handle_of_an_ended_thread_deletes_its_object(void **state)
{
    HANDLE handle;
    PVOID thread;

    (void)state;
    handle = create_thread(wdmsim_test_return_at_once, THREAD_ALL_ACCESS);
    thread = reference(handle);
    assert_int_equal(KeWaitForSingleObject(thread, Executive, KernelMode, FALSE, NULL), STATUS_SUCCESS);
    assert_int_equal(ObDereferenceObject(thread), 1);
    assert_int_equal(ZwClose(handle), STATUS_SUCCESS);
    assert_int_equal(wdmsim_shutdown(), 0);
}

/* ---- Bad handles ---- */

static void ObReferenceObjectByHandle_of_an_unknown_handle_returns_STATUS_INVALID_HANDLE(void **state)
{
    (void)state;
    assert_int_equal(failed_reference((HANDLE)(KERNEL_HANDLE_BITS | 0x400), NULL, KernelMode), STATUS_INVALID_HANDLE);
    assert_int_equal(failed_reference(NULL, NULL, KernelMode), STATUS_INVALID_HANDLE);
    assert_int_equal(failed_reference((HANDLE)(ULONG_PTR)4, NULL, KernelMode), STATUS_INVALID_HANDLE);
    assert_int_equal(ZwClose((HANDLE)(KERNEL_HANDLE_BITS | 0x400)), STATUS_INVALID_HANDLE);
    assert_int_equal(ZwClose((HANDLE)(ULONG_PTR)4), STATUS_INVALID_HANDLE);
}

static void ObReferenceObjectByHandle_with_another_type_returns_STATUS_OBJECT_TYPE_MISMATCH(void **state)
{
    HANDLE handle;

    (void)state;
    handle = create_thread(wdmsim_test_wait_for_release, THREAD_ALL_ACCESS);
    assert_int_equal(failed_reference(handle, *ExEventObjectType, KernelMode), STATUS_OBJECT_TYPE_MISMATCH);
    finish(handle);
    assert_int_equal(wdmsim_shutdown(), 0);
}

static void a_closed_handle_is_invalid(void **state)
{
    HANDLE handle;

    (void)state;
    handle = create_thread(wdmsim_test_wait_for_release, THREAD_ALL_ACCESS);
    finish(handle);
    assert_int_equal(failed_reference(handle, NULL, KernelMode), STATUS_INVALID_HANDLE);
    assert_int_equal(ZwClose(handle), STATUS_INVALID_HANDLE);
}

static void a_UserMode_reference_to_a_kernel_handle_returns_STATUS_INVALID_HANDLE(void **state)
{
    HANDLE handle;

    (void)state;
    handle = create_thread(wdmsim_test_wait_for_release, THREAD_ALL_ACCESS);
    assert_int_equal(failed_reference(handle, *PsThreadType, UserMode), STATUS_INVALID_HANDLE);
    finish(handle);
}

/* ---- NtCurrentThread() ---- */

struct current {
    PVOID referenced;
    PKTHREAD self;
    NTSTATUS status;
    NTSTATUS mismatch;
};

static VOID NTAPI reference_current_thread(PVOID context)
{
    struct current *c = context;
    PVOID wrong = (PVOID)1;

    c->self = KeGetCurrentThread();
    c->status = ObReferenceObjectByHandle(NtCurrentThread(), SYNCHRONIZE, *PsThreadType, KernelMode,
                                          &c->referenced, NULL);
    c->mismatch = ObReferenceObjectByHandle(NtCurrentThread(), SYNCHRONIZE, *ExEventObjectType, KernelMode,
                                            &wrong, NULL);
    if (wrong != NULL)
        c->mismatch = STATUS_UNSUCCESSFUL;
}

static void NtCurrentThread_in_a_system_thread_references_that_thread(void **state)
{
    struct current c = { NULL, NULL, STATUS_PENDING, STATUS_PENDING };
    HANDLE handle;

    (void)state;
    assert_int_equal(PsCreateSystemThread(&handle, THREAD_ALL_ACCESS, NULL, NULL, NULL, reference_current_thread, &c),
                     STATUS_SUCCESS);
    assert_int_equal(ZwClose(handle), STATUS_SUCCESS);
    wdmsim_test_settle();
    assert_int_equal(c.status, STATUS_SUCCESS);
    assert_int_equal(c.mismatch, STATUS_OBJECT_TYPE_MISMATCH);
    assert_ptr_equal(c.referenced, c.self);
    /* The ended thread's object lives on the reference it took on itself. */
    assert_int_equal(KeWaitForSingleObject(c.referenced, Executive, KernelMode, FALSE, NULL), STATUS_SUCCESS);
    ObDereferenceObject(c.referenced);
    assert_int_equal(wdmsim_shutdown(), 0);
}

static void NtCurrentThread_in_a_host_thread_references_its_thread(void **state)
{
    PVOID thread = NULL;
    OBJECT_HANDLE_INFORMATION info;

    (void)state;
    assert_int_equal(ObReferenceObjectByHandle(NtCurrentThread(), SYNCHRONIZE, NULL, KernelMode, &thread, &info),
                     STATUS_SUCCESS);
    assert_ptr_equal(thread, KeGetCurrentThread());
    assert_int_equal(info.GrantedAccess, THREAD_ALL_ACCESS);
    assert_int_equal(ObReferenceObject(thread), 2);
    assert_int_equal(ObDereferenceObject(thread), 1);
    assert_int_equal(ObDereferenceObject(thread), 0);
    assert_int_equal(wdmsim_shutdown(), 0);
}

/* ---- A table per process ---- */

/* What a thread of a process does with a handle, and what it gets back. */
struct use {
    PVOID object;                   /* in: what to open a handle to */
    ULONG attributes;
    POBJECT_TYPE type;              /* the type a reference asks for */
    KPROCESSOR_MODE mode;
    HANDLE handle;                  /* out of open_handle, in to reference_handle and close_handle */
    NTSTATUS status;
    PVOID referenced;
};

static void open_handle(void *context)
{
    struct use *use = context;

    use->status = ObOpenObjectByPointer(use->object, use->attributes, NULL, SYNCHRONIZE, NULL, KernelMode,
                                        &use->handle);
}

/* References use->handle and drops the reference at once, keeping what it pointed at. */
static void reference_handle(void *context)
{
    struct use *use = context;

    use->status = ObReferenceObjectByHandle(use->handle, SYNCHRONIZE, use->type, use->mode, &use->referenced, NULL);
    if (use->referenced != NULL)
        ObDereferenceObject(use->referenced);
}

static void close_handle(void *context)
{
    struct use *use = context;

    use->status = ZwClose(use->handle);
}

static HANDLE open_in(PEPROCESS process, PVOID object, ULONG attributes)
{
    struct use use = { .object = object, .attributes = attributes, .status = STATUS_PENDING };

    if (process != NULL)
        wdmsim_process_run(process, open_handle, &use);
    else
        open_handle(&use);
    assert_int_equal(use.status, STATUS_SUCCESS);
    return use.handle;
}

static void close_in(PEPROCESS process, HANDLE handle)
{
    struct use use = { .handle = handle, .status = STATUS_PENDING };

    wdmsim_process_run(process, close_handle, &use);
    assert_int_equal(use.status, STATUS_SUCCESS);
}

/* What referencing handle in process (NULL: here, in System) with type and mode gives. */
static NTSTATUS reference_in(PEPROCESS process, HANDLE handle, POBJECT_TYPE type, KPROCESSOR_MODE mode,
                             PVOID *referenced)
{
    struct use use = { .handle = handle, .type = type, .mode = mode, .status = STATUS_PENDING };

    if (process != NULL)
        wdmsim_process_run(process, reference_handle, &use);
    else
        reference_handle(&use);
    if (referenced != NULL)
        *referenced = use.referenced;
    if (!NT_SUCCESS(use.status))
        assert_null(use.referenced);
    return use.status;
}

static void the_same_handle_value_in_two_processes_refers_to_two_different_objects(void **state)
{
    PEPROCESS first, second;
    HANDLE in_first, in_second;
    PVOID object;

    (void)state;
    first = wdmsim_process_create("first.exe");
    second = wdmsim_process_create("second.exe");
    in_first = open_in(first, PsInitialSystemProcess, 0);
    in_second = open_in(second, first, 0);
    assert_ptr_equal(in_first, in_second);
    assert_int_equal((ULONG_PTR)in_first & KERNEL_HANDLE_BITS, 0);
    assert_int_equal(reference_in(first, in_first, *PsProcessType, KernelMode, &object), STATUS_SUCCESS);
    assert_ptr_equal(object, PsInitialSystemProcess);
    assert_int_equal(reference_in(second, in_second, *PsProcessType, KernelMode, &object), STATUS_SUCCESS);
    assert_ptr_equal(object, first);
    close_in(first, in_first);
    close_in(second, in_second);
    wdmsim_process_terminate(first);
    wdmsim_process_terminate(second);
    assert_int_equal(wdmsim_shutdown(), 0);
}

static void a_kernel_handle_works_in_KernelMode_from_any_process(void **state)
{
    PEPROCESS app;
    HANDLE handle;
    PVOID object;

    (void)state;
    app = wdmsim_process_create("app.exe");
    handle = open_in(app, app, OBJ_KERNEL_HANDLE);
    assert_int_equal((ULONG_PTR)handle & KERNEL_HANDLE_BITS, KERNEL_HANDLE_BITS);
    assert_int_equal(reference_in(NULL, handle, *PsProcessType, KernelMode, &object), STATUS_SUCCESS);
    assert_ptr_equal(object, app);
    assert_int_equal(reference_in(app, handle, *PsProcessType, KernelMode, &object), STATUS_SUCCESS);
    assert_ptr_equal(object, app);
    assert_int_equal(reference_in(app, handle, *PsProcessType, UserMode, NULL), STATUS_INVALID_HANDLE);
    assert_int_equal(ZwClose(handle), STATUS_SUCCESS);
    wdmsim_process_terminate(app);
    assert_int_equal(wdmsim_shutdown(), 0);
}

struct misuse {
    PEPROCESS user;
    HANDLE handle;
    POBJECT_TYPE type;
    NTSTATUS status;
};

static void reference_in_user(void *context)
{
    struct misuse *m = context;

    m->status = reference_in(m->user, m->handle, m->type, KernelMode, NULL);
}

static void a_handle_used_in_another_process_is_invalid_and_the_log_names_its_process(void **state)
{
    struct misuse m = { .type = *PsProcessType };
    PEPROCESS owner;
    char log[1024];

    (void)state;
    owner = wdmsim_process_create("owner.exe");
    m.user = wdmsim_process_create("user.exe");
    m.handle = open_in(owner, owner, 0);
    wdmsim_capture_stderr(reference_in_user, &m, log, sizeof log);
    assert_int_equal(m.status, STATUS_INVALID_HANDLE);
    assert_non_null(strstr(log, "wdmsim: handle 0x4 is not open in process user.exe (id 1004): it is a handle of "
                                "owner.exe (id 1000), to the Process object"));
    assert_non_null(strstr(log, "valid only in the process that opened it"));
    assert_non_null(strstr(log, "OBJ_KERNEL_HANDLE"));
    close_in(owner, m.handle);
    wdmsim_process_terminate(owner);
    wdmsim_process_terminate(m.user);
    assert_int_equal(wdmsim_shutdown(), 0);
}

static VOID NTAPI return_at_once_routine(PVOID unused)
{
    (void)unused;
}

static void create_thread_here(void *handle)
{
    OBJECT_ATTRIBUTES attributes;
    HANDLE thread_handle;
    PVOID thread;

    InitializeObjectAttributes(&attributes, NULL, OBJ_KERNEL_HANDLE, NULL, NULL);
    if (PsCreateSystemThread(&thread_handle, THREAD_ALL_ACCESS, &attributes, NULL, NULL, return_at_once_routine,
                             NULL) != STATUS_SUCCESS ||
        ObReferenceObjectByHandle(thread_handle, SYNCHRONIZE, *PsThreadType, KernelMode, &thread, NULL) !=
            STATUS_SUCCESS)
        return;
    KeWaitForSingleObject(thread, Executive, KernelMode, FALSE, NULL);
    ZwClose(thread_handle);
    ObOpenObjectByPointer(thread, 0, NULL, SYNCHRONIZE, *PsThreadType, KernelMode, handle);
    ObDereferenceObject(thread);
}

static void a_handle_whose_slot_holds_another_type_in_this_process_is_a_type_mismatch(void **state)
{
    struct misuse m = { .type = *PsThreadType };
    PEPROCESS owner;
    HANDLE mine;
    char log[1024];

    (void)state;
    owner = wdmsim_process_create("owner.exe");
    m.user = wdmsim_process_create("user.exe");
    wdmsim_process_run(owner, create_thread_here, &m.handle);
    mine = open_in(m.user, m.user, 0);
    assert_ptr_equal(mine, m.handle);
    wdmsim_capture_stderr(reference_in_user, &m, log, sizeof log);
    assert_int_equal(m.status, STATUS_OBJECT_TYPE_MISMATCH);
    assert_non_null(strstr(log, "wdmsim: handle 0x4 names an object of another type in process user.exe (id 1004): "
                                "it is a handle of owner.exe (id 1000), to the Thread object"));
    close_in(owner, m.handle);
    close_in(m.user, mine);
    wdmsim_process_terminate(owner);
    wdmsim_process_terminate(m.user);
    assert_int_equal(wdmsim_shutdown(), 0);
}

static void a_handle_opened_in_System_without_OBJ_KERNEL_HANDLE_is_invalid_in_a_user_process(void **state)
{
    struct misuse m = { .type = *PsProcessType };
    PVOID object;
    char log[1024];

    (void)state;
    m.user = wdmsim_process_create("app.exe");
    m.handle = open_in(NULL, m.user, 0);
    assert_int_equal((ULONG_PTR)m.handle & KERNEL_HANDLE_BITS, 0);
    assert_int_equal(reference_in(NULL, m.handle, *PsProcessType, KernelMode, &object), STATUS_SUCCESS);
    assert_ptr_equal(object, m.user);
    wdmsim_capture_stderr(reference_in_user, &m, log, sizeof log);
    assert_int_equal(m.status, STATUS_INVALID_HANDLE);
    assert_non_null(strstr(log, "it is a handle of System (id 4), to the Process object"));
    assert_int_equal(ZwClose(m.handle), STATUS_SUCCESS);
    wdmsim_process_terminate(m.user);
    assert_int_equal(wdmsim_shutdown(), 0);
}

static void ZwClose_of_another_process_s_handle_fails_and_leaves_it_open(void **state)
{
    PEPROCESS owner, user;
    struct use use = { .status = STATUS_PENDING };

    (void)state;
    owner = wdmsim_process_create("owner.exe");
    user = wdmsim_process_create("user.exe");
    use.handle = open_in(owner, owner, 0);
    wdmsim_process_run(user, close_handle, &use);
    assert_int_equal(use.status, STATUS_INVALID_HANDLE);
    assert_int_equal(reference_in(owner, use.handle, *PsProcessType, KernelMode, NULL), STATUS_SUCCESS);
    wdmsim_process_run(owner, close_handle, &use);
    assert_int_equal(use.status, STATUS_SUCCESS);
    wdmsim_process_terminate(owner);
    wdmsim_process_terminate(user);
    assert_int_equal(wdmsim_shutdown(), 0);
}

static void NtCurrentProcess_references_the_current_process(void **state)
{
    PEPROCESS app;
    PVOID object;

    (void)state;
    app = wdmsim_process_create("app.exe");
    assert_int_equal(reference_in(NULL, NtCurrentProcess(), *PsProcessType, KernelMode, &object), STATUS_SUCCESS);
    assert_ptr_equal(object, PsInitialSystemProcess);
    assert_int_equal(reference_in(app, NtCurrentProcess(), NULL, KernelMode, &object), STATUS_SUCCESS);
    assert_ptr_equal(object, app);
    assert_int_equal(reference_in(app, NtCurrentProcess(), *PsThreadType, KernelMode, NULL),
                     STATUS_OBJECT_TYPE_MISMATCH);
    wdmsim_process_terminate(app);
    assert_int_equal(wdmsim_shutdown(), 0);
}

static void ObOpenObjectByPointer_with_another_type_fails_with_STATUS_OBJECT_TYPE_MISMATCH(void **state)
{
    HANDLE handle = (HANDLE)1;

    (void)state;
    assert_int_equal(ObOpenObjectByPointer(PsInitialSystemProcess, 0, NULL, 0, *PsThreadType, KernelMode, &handle),
                     STATUS_OBJECT_TYPE_MISMATCH);
    assert_null(handle);
    assert_int_equal(wdmsim_shutdown(), 0);
}

static void ObOpenObjectByPointer_from_UserMode_never_makes_a_kernel_handle(void **state)
{
    HANDLE handle;

    (void)state;
    assert_int_equal(ObOpenObjectByPointer(PsInitialSystemProcess, OBJ_KERNEL_HANDLE, NULL, 0, NULL, UserMode,
                                           &handle), STATUS_SUCCESS);
    assert_int_equal((ULONG_PTR)handle & KERNEL_HANDLE_BITS, 0);
    assert_int_equal(ZwClose(handle), STATUS_SUCCESS);
}

/* ---- ZwWaitForSingleObject ---- */

static void ZwWaitForSingleObject_on_a_thread_handle_returns_once_the_thread_has_ended(void **state)
{
    LARGE_INTEGER poll = { .QuadPart = 0 };
    HANDLE handle;

    (void)state;
    handle = create_thread(wdmsim_test_wait_for_release, THREAD_ALL_ACCESS);
    assert_int_equal(ZwWaitForSingleObject(handle, FALSE, &poll), STATUS_TIMEOUT);
    KeSetEvent(&wdmsim_test_thread_release, IO_NO_INCREMENT, FALSE);
    assert_int_equal(ZwWaitForSingleObject(handle, FALSE, NULL), STATUS_SUCCESS);
    assert_int_equal(ZwClose(handle), STATUS_SUCCESS);
}

/* A process is signalled when it ends, which the System process never does. */
static void ZwWaitForSingleObject_of_a_bad_handle_fails_and_of_the_System_process_times_out(void **state)
{
    LARGE_INTEGER one_second = { .QuadPart = -10000000LL };
    HANDLE process;

    (void)state;
    assert_int_equal(ZwWaitForSingleObject((HANDLE)(KERNEL_HANDLE_BITS | 0x400), FALSE, NULL), STATUS_INVALID_HANDLE);
    assert_int_equal(ObOpenObjectByPointer(PsInitialSystemProcess, OBJ_KERNEL_HANDLE, NULL, 0, NULL, KernelMode,
                                           &process), STATUS_SUCCESS);
    assert_int_equal(ZwWaitForSingleObject(process, FALSE, &one_second), STATUS_TIMEOUT);
    assert_int_equal(ZwClose(process), STATUS_SUCCESS);
}

struct application_wait {
    PVOID thread;
    NTSTATUS without_synchronize;
    NTSTATUS with_synchronize;
};

/* Host code in a user process: UserMode, which the handle's granted access binds. */
static void application_waits(void *context)
{
    struct application_wait *w = context;
    LARGE_INTEGER poll = { .QuadPart = 0 };
    HANDLE handle = NULL;

    ObOpenObjectByPointer(w->thread, 0, NULL, READ_CONTROL, *PsThreadType, UserMode, &handle);
    w->without_synchronize = ZwWaitForSingleObject(handle, FALSE, &poll);
    ZwClose(handle);
    ObOpenObjectByPointer(w->thread, 0, NULL, SYNCHRONIZE, *PsThreadType, UserMode, &handle);
    w->with_synchronize = ZwWaitForSingleObject(handle, FALSE, &poll);
    ZwClose(handle);
}

static void ZwWaitForSingleObject_from_an_application_needs_SYNCHRONIZE_access(void **state)
{
    PEPROCESS process = wdmsim_process_create("app.exe");
    HANDLE handle = create_thread(wdmsim_test_wait_for_release, THREAD_ALL_ACCESS);
    struct application_wait w = { reference(handle), STATUS_UNSUCCESSFUL, STATUS_UNSUCCESSFUL };

    (void)state;
    wdmsim_process_run(process, application_waits, &w);
    assert_int_equal(w.without_synchronize, STATUS_ACCESS_DENIED);
    assert_int_equal(w.with_synchronize, STATUS_TIMEOUT);
    ObDereferenceObject(w.thread);
    finish(handle);
    wdmsim_process_terminate(process);
}

/* ---- IRQL rules ---- */

static void reference_at_apc_level(void *unused)
{
    PVOID object;
    KIRQL old;

    (void)unused;
    KeRaiseIrql(APC_LEVEL, &old);
    ObReferenceObjectByHandle(NtCurrentThread(), SYNCHRONIZE, NULL, KernelMode, &object, NULL);
}

static void ObReferenceObjectByHandle_above_PASSIVE_LEVEL_stops_with_C4_2001B(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(reference_at_apc_level, NULL, 0xC4, 0x2001B, "ob.not_passive", &stop);
    assert_int_equal(stop.params[1], APC_LEVEL);
}

static void close_at_dispatch_level(void *unused)
{
    KIRQL old;

    (void)unused;
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    ZwClose((HANDLE)(KERNEL_HANDLE_BITS | 4));
}

static void ZwClose_above_PASSIVE_LEVEL_stops_with_C4_2001F(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(close_at_dispatch_level, NULL, 0xC4, 0x2001F, "zw.not_passive", &stop);
    assert_int_equal(stop.params[1], DISPATCH_LEVEL);
}

/* ---- Shutdown ---- */

static void run_thread_as_driver(void *handle)
{
    *(HANDLE *)handle = create_thread(wdmsim_test_return_at_once, THREAD_ALL_ACCESS);
}

static void a_handle_left_open_at_shutdown_is_counted_as_a_leak(void **state)
{
    char report[1024] = "";
    HANDLE handle = NULL;
    size_t leaked;

    (void)state;
    wdmsim_allow_leaks();           /* the leaks are what this case checks */
    wdmsim_run_as_driver("tracedrv", run_thread_as_driver, &handle);
    wdmsim_test_settle();
    leaked = wdmsim_shutdown_capturing_stderr(report, sizeof report);
    assert_int_equal(leaked, 1);
    assert_non_null(strstr(report, "leaked kernel handle"));
    assert_non_null(strstr(report, "to the Thread object"));
    assert_non_null(strstr(report, "(thread tracedrv-1"));
    assert_non_null(strstr(report, "opened by tracedrv"));
}

/* ---- ObCloseHandle ---- */

/* With KernelMode it is ZwClose; with UserMode a kernel handle is refused and stays open. */
static void ObCloseHandle_closes_a_kernel_handle_only_for_KernelMode(void **state)
{
    HANDLE handle;
    PVOID thread;

    (void)state;
    handle = create_thread(wdmsim_test_return_at_once, THREAD_ALL_ACCESS);
    thread = reference(handle);
    assert_int_equal(ObCloseHandle(handle, UserMode), STATUS_INVALID_HANDLE);
    assert_int_equal(ObCloseHandle(handle, KernelMode), STATUS_SUCCESS);
    assert_int_equal(ObCloseHandle(handle, KernelMode), STATUS_INVALID_HANDLE);
    assert_int_equal(KeWaitForSingleObject(thread, Executive, KernelMode, FALSE, NULL), STATUS_SUCCESS);
    ObDereferenceObject(thread);
    assert_int_equal(wdmsim_shutdown(), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        handle_test(ObCloseHandle_closes_a_kernel_handle_only_for_KernelMode),
        handle_test(PsCreateSystemThread_returns_kernel_handles_with_the_top_bit_set),
        handle_test(ObReferenceObjectByHandle_reports_the_granted_access),
        handle_test(closing_the_last_handle_of_an_ended_thread_deletes_its_object),
        handle_test(ObReferenceObjectByHandle_of_an_unknown_handle_returns_STATUS_INVALID_HANDLE),
        handle_test(ObReferenceObjectByHandle_with_another_type_returns_STATUS_OBJECT_TYPE_MISMATCH),
        handle_test(a_closed_handle_is_invalid),
        handle_test(a_UserMode_reference_to_a_kernel_handle_returns_STATUS_INVALID_HANDLE),
        handle_test(NtCurrentThread_in_a_system_thread_references_that_thread),
        handle_test(NtCurrentThread_in_a_host_thread_references_its_thread),
        handle_test(the_same_handle_value_in_two_processes_refers_to_two_different_objects),
        handle_test(a_kernel_handle_works_in_KernelMode_from_any_process),
        handle_test(a_handle_used_in_another_process_is_invalid_and_the_log_names_its_process),
        handle_test(a_handle_whose_slot_holds_another_type_in_this_process_is_a_type_mismatch),
        handle_test(a_handle_opened_in_System_without_OBJ_KERNEL_HANDLE_is_invalid_in_a_user_process),
        handle_test(ZwClose_of_another_process_s_handle_fails_and_leaves_it_open),
        handle_test(NtCurrentProcess_references_the_current_process),
        handle_test(ObOpenObjectByPointer_with_another_type_fails_with_STATUS_OBJECT_TYPE_MISMATCH),
        handle_test(ObOpenObjectByPointer_from_UserMode_never_makes_a_kernel_handle),
        handle_test(ZwWaitForSingleObject_on_a_thread_handle_returns_once_the_thread_has_ended),
        handle_test(ZwWaitForSingleObject_of_a_bad_handle_fails_and_of_the_System_process_times_out),
        handle_test(ZwWaitForSingleObject_from_an_application_needs_SYNCHRONIZE_access),
        handle_test(ObReferenceObjectByHandle_above_PASSIVE_LEVEL_stops_with_C4_2001B),
        handle_test(ZwClose_above_PASSIVE_LEVEL_stops_with_C4_2001F),
        handle_test(a_handle_left_open_at_shutdown_is_counted_as_a_leak),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
