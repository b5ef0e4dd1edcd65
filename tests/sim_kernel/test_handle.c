/*
 * test_handle.c - the kernel handle table: what a kernel handle looks like, what
 * ObReferenceObjectByHandle and ZwClose return for good, unknown, closed and mistyped handles and
 * for the NtCurrentThread() pseudo-handle, their IRQL rules, and handles left open at shutdown.
 */
#include <stdio.h>
#include <unistd.h>

#include "wdmsim_test.h"

#define KERNEL_HANDLE_BITS ((ULONG_PTR)0xFFFFFFFF80000000ull)

static VOID NTAPI return_at_once(PVOID unused)
{
    (void)unused;
}

static KEVENT release_thread;

static VOID NTAPI wait_for_release(PVOID unused)
{
    (void)unused;
    KeWaitForSingleObject(&release_thread, Executive, KernelMode, FALSE, NULL);
}

/* One tick of virtual time: it can only pass once every other simulated thread is blocked or gone. */
static void settle(void)
{
    LARGE_INTEGER one_tick = { .QuadPart = -1 };

    KeDelayExecutionThread(KernelMode, FALSE, &one_tick);
}

static int setup(void **state)
{
    KeInitializeEvent(&release_thread, NotificationEvent, FALSE);
    return wdmsim_test_boot(state);
}

#define handle_test(fn) cmocka_unit_test_setup_teardown(fn, setup, wdmsim_test_shutdown)

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

    KeSetEvent(&release_thread, IO_NO_INCREMENT, FALSE);
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
    first = create_thread(return_at_once, THREAD_ALL_ACCESS);
    second = create_thread(return_at_once, THREAD_ALL_ACCESS);
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
    handle = create_thread(return_at_once, SYNCHRONIZE);
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
    handle = create_thread(return_at_once, THREAD_ALL_ACCESS);
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
    handle = create_thread(wait_for_release, THREAD_ALL_ACCESS);
    assert_int_equal(failed_reference(handle, *ExEventObjectType, KernelMode), STATUS_OBJECT_TYPE_MISMATCH);
    finish(handle);
    assert_int_equal(wdmsim_shutdown(), 0);
}

static void a_closed_handle_is_invalid(void **state)
{
    HANDLE handle;

    (void)state;
    handle = create_thread(wait_for_release, THREAD_ALL_ACCESS);
    finish(handle);
    assert_int_equal(failed_reference(handle, NULL, KernelMode), STATUS_INVALID_HANDLE);
    assert_int_equal(ZwClose(handle), STATUS_INVALID_HANDLE);
}

static void a_UserMode_reference_to_a_kernel_handle_returns_STATUS_INVALID_HANDLE(void **state)
{
    HANDLE handle;

    (void)state;
    handle = create_thread(wait_for_release, THREAD_ALL_ACCESS);
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
    settle();
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
    *(HANDLE *)handle = create_thread(return_at_once, THREAD_ALL_ACCESS);
}

static void a_handle_left_open_at_shutdown_is_counted_as_a_leak(void **state)
{
    char report[1024] = "";
    FILE *capture = tmpfile();
    int saved = dup(STDERR_FILENO);
    HANDLE handle = NULL;
    size_t leaked;

    (void)state;
    assert_non_null(capture);
    wdmsim_run_as_driver("tracedrv", run_thread_as_driver, &handle);
    settle();
    fflush(stderr);
    dup2(fileno(capture), STDERR_FILENO);
    leaked = wdmsim_shutdown();
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    rewind(capture);
    report[fread(report, 1, sizeof report - 1, capture)] = '\0';
    fclose(capture);
    assert_int_equal(leaked, 1);
    assert_non_null(strstr(report, "leaked kernel handle"));
    assert_non_null(strstr(report, "to the Thread object"));
    assert_non_null(strstr(report, "(thread tracedrv-1"));
    assert_non_null(strstr(report, "opened by tracedrv"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        handle_test(PsCreateSystemThread_returns_kernel_handles_with_the_top_bit_set),
        handle_test(ObReferenceObjectByHandle_reports_the_granted_access),
        handle_test(closing_the_last_handle_of_an_ended_thread_deletes_its_object),
        handle_test(ObReferenceObjectByHandle_of_an_unknown_handle_returns_STATUS_INVALID_HANDLE),
        handle_test(ObReferenceObjectByHandle_with_another_type_returns_STATUS_OBJECT_TYPE_MISMATCH),
        handle_test(a_closed_handle_is_invalid),
        handle_test(a_UserMode_reference_to_a_kernel_handle_returns_STATUS_INVALID_HANDLE),
        handle_test(NtCurrentThread_in_a_system_thread_references_that_thread),
        handle_test(NtCurrentThread_in_a_host_thread_references_its_thread),
        handle_test(ObReferenceObjectByHandle_above_PASSIVE_LEVEL_stops_with_C4_2001B),
        handle_test(ZwClose_above_PASSIVE_LEVEL_stops_with_C4_2001F),
        handle_test(a_handle_left_open_at_shutdown_is_counted_as_a_leak),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
