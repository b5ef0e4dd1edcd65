/*
 * test_object.c - the object manager: reference counts and deletion (ASan proves the memory goes
 * exactly when the last reference does), the misuse it recognises because headers live outside the
 * objects, and references left at shutdown. Thread objects are the objects drivers get today.
 */
#include <stdio.h>
#include <unistd.h>

#include <wdmsim/test.h>
#include "wdmsim_test_threads.h"

/* PsCreateSystemThread, then reference the thread and close the handle; no CMocka asserts, so STOP
 * scenarios can use it: NULL if a step failed. */
static PVOID reference_new_thread(PKSTART_ROUTINE routine)
{
    HANDLE handle;
    PVOID thread = NULL;

    if (PsCreateSystemThread(&handle, THREAD_ALL_ACCESS, NULL, NULL, NULL, routine, NULL) != STATUS_SUCCESS)
        return NULL;
    if (ObReferenceObjectByHandle(handle, THREAD_ALL_ACCESS, *PsThreadType, KernelMode, &thread, NULL) !=
        STATUS_SUCCESS)
        return NULL;
    return ZwClose(handle) == STATUS_SUCCESS ? thread : NULL;
}

static void wait_for(PVOID object)
{
    assert_int_equal(KeWaitForSingleObject(object, Executive, KernelMode, FALSE, NULL), STATUS_SUCCESS);
}

#define object_test(fn) cmocka_unit_test_setup_teardown(fn, wdmsim_test_boot_with_release, wdmsim_test_shutdown)

/* ---- Counting ---- */

static void ObReferenceObject_and_ObDereferenceObject_return_the_new_count(void **state)
{
    PVOID thread = reference_new_thread(wdmsim_test_return_at_once);

    (void)state;
    wait_for(thread);
    assert_int_equal(ObReferenceObject(thread), 2);
    assert_int_equal(ObDereferenceObject(thread), 1);
    assert_int_equal(ObDereferenceObject(thread), 0);
    assert_int_equal(wdmsim_shutdown(), 0);
}

static void an_ended_thread_stays_waitable_until_its_last_reference_goes(void **state)
{
    PVOID thread = reference_new_thread(wdmsim_test_return_at_once);

    (void)state;
    ObReferenceObject(thread);
    wait_for(thread);
    ObDereferenceObject(thread);
    wait_for(thread);
    ObDereferenceObject(thread);
    assert_int_equal(wdmsim_shutdown(), 0);
}

static void a_running_thread_keeps_its_object_until_it_ends(void **state)
{
    PVOID thread = reference_new_thread(wdmsim_test_wait_for_release);

    (void)state;
    assert_int_equal(ObDereferenceObject(thread), 1);
    KeSetEvent(&wdmsim_test_thread_release, IO_NO_INCREMENT, FALSE);
    wdmsim_test_settle();
    assert_int_equal(wdmsim_shutdown(), 0);
}

static void ObDereferenceObject_at_DISPATCH_LEVEL_may_delete_the_object(void **state)
{
    PVOID thread = reference_new_thread(wdmsim_test_return_at_once);
    KIRQL old;

    (void)state;
    wait_for(thread);
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    assert_int_equal(ObDereferenceObject(thread), 0);
    KeLowerIrql(old);
    assert_int_equal(wdmsim_shutdown(), 0);
}

/* ---- Misuse ---- */

static PVOID ThreadObjectPointer;

static void dereference_the_pointers_address(void *unused)
{
    (void)unused;
    ThreadObjectPointer = reference_new_thread(wdmsim_test_return_at_once);
    ObDereferenceObject(&ThreadObjectPointer);
}

static void ObDereferenceObject_of_the_address_of_the_object_pointer_stops_with_ob_not_an_object(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(dereference_the_pointers_address, NULL, 0xC4, 0x3F, "ob.not_an_object", &stop);
    assert_int_equal(stop.params[1], (ULONG_PTR)&ThreadObjectPointer);
    assert_int_not_equal(stop.params[2], 0);
    assert_non_null(strstr(stop.report, "holds a pointer to the Thread object"));
    assert_non_null(strstr(stop.report, "(thread system-1"));
    assert_non_null(strstr(stop.report, "pass that pointer, not its address"));
}

static ULONG_PTR not_an_object = 42;

static void dereference_a_plain_variable(void *unused)
{
    (void)unused;
    ObDereferenceObject(&not_an_object);
}

static void ObDereferenceObject_of_memory_holding_no_object_stops_with_ob_not_an_object(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(dereference_a_plain_variable, NULL, 0xC4, 0x3F, "ob.not_an_object", &stop);
    assert_int_equal(stop.params[1], (ULONG_PTR)&not_an_object);
    assert_int_equal(stop.params[2], 0);
    assert_non_null(strstr(stop.report, "is not an object the object manager knows"));
}

static void reference_unreadable_memory(void *unused)
{
    (void)unused;
    ObReferenceObject((PVOID)(ULONG_PTR)0x10);
}

static void ObReferenceObject_of_an_unreadable_address_stops_with_ob_not_an_object(void **state)
{
    (void)state;
    wdmsim_assert_stops(reference_unreadable_memory, NULL, 0xC4, 0x3F, "ob.not_an_object", NULL);
}

static void dereference_twice(void *unused)
{
    PVOID thread = reference_new_thread(wdmsim_test_return_at_once);

    (void)unused;
    if (thread == NULL || KeWaitForSingleObject(thread, Executive, KernelMode, FALSE, NULL) != STATUS_SUCCESS)
        return;
    ObDereferenceObject(thread);
    ObDereferenceObject(thread);
}

static void one_ObDereferenceObject_too_many_stops_with_ob_reference_count_zero(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(dereference_twice, NULL, 0xC4, 0x3F, "ob.reference_count_zero", &stop);
    assert_int_equal(stop.params[2], (ULONG_PTR)-1);
    assert_non_null(strstr(stop.report, "this dereference is one too many"));
}

static void reference_after_the_last_dereference(void *unused)
{
    PVOID thread = reference_new_thread(wdmsim_test_return_at_once);

    (void)unused;
    if (thread == NULL || KeWaitForSingleObject(thread, Executive, KernelMode, FALSE, NULL) != STATUS_SUCCESS)
        return;
    ObDereferenceObject(thread);
    ObReferenceObject(thread);
}

static void ObReferenceObject_after_the_last_dereference_stops_with_ob_reference_count_zero(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(reference_after_the_last_dereference, NULL, 0xC4, 0x3F, "ob.reference_count_zero", &stop);
    assert_int_equal(stop.params[2], 1);
    assert_non_null(strstr(stop.report, "this reference comes after the last one was dropped"));
}

static void dereference_what_a_handle_holds(void *unused)
{
    HANDLE handle;
    PVOID thread;

    (void)unused;
    KeInitializeEvent(&wdmsim_test_thread_release, NotificationEvent, FALSE);
    if (PsCreateSystemThread(&handle, THREAD_ALL_ACCESS, NULL, NULL, NULL, wdmsim_test_wait_for_release, NULL) != STATUS_SUCCESS ||
        ObReferenceObjectByHandle(handle, THREAD_ALL_ACCESS, NULL, KernelMode, &thread, NULL) != STATUS_SUCCESS)
        return;
    ObDereferenceObject(thread);
    ObDereferenceObject(thread);
}

static void ObDereferenceObject_of_an_object_only_a_handle_holds_stops_with_ob_reference_count_zero(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(dereference_what_a_handle_holds, NULL, 0xC4, 0x3F, "ob.reference_count_zero", &stop);
    assert_non_null(strstr(stop.report, "only 1 handle(s) and 1 kernel reference(s)"));
}

static void dereference_at_high_level(void *unused)
{
    PVOID thread = reference_new_thread(wdmsim_test_return_at_once);
    KIRQL old;

    (void)unused;
    KeRaiseIrql(HIGH_LEVEL, &old);
    ObDereferenceObject(thread);
}

static void ObDereferenceObject_above_DISPATCH_LEVEL_stops_with_C4_20011(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(dereference_at_high_level, NULL, 0xC4, 0x20011, "ke.above_dispatch", &stop);
    assert_int_equal(stop.params[1], HIGH_LEVEL);
}

/* ---- Shutdown ---- */

static void a_reference_left_at_shutdown_is_counted_as_a_leak(void **state)
{
    char report[1024] = "";
    size_t leaked;

    (void)state;
    wdmsim_allow_leaks();           /* the leaks are what this case checks */
    assert_non_null(reference_new_thread(wdmsim_test_return_at_once));
    wdmsim_test_settle();
    leaked = wdmsim_shutdown_capturing_stderr(report, sizeof report);
    assert_int_equal(leaked, 1);
    assert_non_null(strstr(report, "leaked 1 reference(s) to the Thread object"));
    assert_non_null(strstr(report, "(thread system-1"));
    assert_non_null(strstr(report, "charged to host code"));
}

/* The object table grows: every one of many objects is its own, by handle and by pointer, and
 * goes when its last handle does. Named events are objects a driver can make by the thousand. */
static void each_of_many_objects_is_referenced_by_handle_and_by_pointer(void **state)
{
    enum { OBJECTS = 20000 };
    static PKEVENT events[OBJECTS];
    static HANDLE handles[OBJECTS];
    WCHAR buffer[48];
    UNICODE_STRING name = { 0, sizeof buffer, buffer };

    (void)state;
    for (int i = 0; i < OBJECTS; i++) {
        char text[48];
        int n = snprintf(text, sizeof text, "\\BaseNamedObjects\\Many%d", i);

        for (int c = 0; c <= n; c++)
            buffer[c] = (WCHAR)text[c];
        name.Length = (USHORT)(n * sizeof(WCHAR));
        events[i] = IoCreateNotificationEvent(&name, &handles[i]);
        assert_non_null(events[i]);
    }
    for (int i = 0; i < OBJECTS; i++) {
        PVOID object = NULL;

        assert_int_equal(ObReferenceObjectByHandle(handles[i], EVENT_ALL_ACCESS, *ExEventObjectType, KernelMode,
                                                   &object, NULL), STATUS_SUCCESS);
        assert_ptr_equal(object, events[i]);
        assert_int_equal(ObReferenceObject(object), 3);
        assert_int_equal(ObDereferenceObject(object), 2);
        assert_int_equal(ObDereferenceObject(object), 1);
    }
    for (int i = 0; i < OBJECTS; i++)
        assert_int_equal(ZwClose(handles[i]), STATUS_SUCCESS);
}

/* ---- ObReferenceObjectByPointer ---- */

static void ObReferenceObjectByPointer_references_an_object_of_the_given_type_only(void **state)
{
    PVOID thread = reference_new_thread(wdmsim_test_return_at_once);

    (void)state;
    wait_for(thread);
    assert_int_equal(ObReferenceObjectByPointer(thread, SYNCHRONIZE, *PsThreadType, KernelMode), STATUS_SUCCESS);
    assert_int_equal(ObReferenceObjectByPointer(thread, 0, NULL, KernelMode), STATUS_SUCCESS);
    assert_int_equal(ObReferenceObjectByPointer(thread, SYNCHRONIZE, *ExEventObjectType, KernelMode),
                     STATUS_OBJECT_TYPE_MISMATCH);
    /* Two references taken, the mismatch none: three to drop in all. */
    assert_int_equal(ObDereferenceObject(thread), 2);
    assert_int_equal(ObDereferenceObject(thread), 1);
    assert_int_equal(ObDereferenceObject(thread), 0);
    assert_int_equal(wdmsim_shutdown(), 0);
}

static void reference_a_plain_variable_by_pointer(void *unused)
{
    static int plain;

    (void)unused;
    ObReferenceObjectByPointer(&plain, 0, *PsThreadType, KernelMode);
}

static void ObReferenceObjectByPointer_of_memory_holding_no_object_stops_with_ob_not_an_object(void **state)
{
    (void)state;
    wdmsim_assert_stops(reference_a_plain_variable_by_pointer, NULL, 0xC4, WDMSIM_ANY_PARAM, "ob.not_an_object",
                        NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        wdmsim_test(each_of_many_objects_is_referenced_by_handle_and_by_pointer),
        object_test(ObReferenceObject_and_ObDereferenceObject_return_the_new_count),
        object_test(ObReferenceObjectByPointer_references_an_object_of_the_given_type_only),
        object_test(ObReferenceObjectByPointer_of_memory_holding_no_object_stops_with_ob_not_an_object),
        object_test(an_ended_thread_stays_waitable_until_its_last_reference_goes),
        object_test(a_running_thread_keeps_its_object_until_it_ends),
        object_test(ObDereferenceObject_at_DISPATCH_LEVEL_may_delete_the_object),
        object_test(ObDereferenceObject_of_the_address_of_the_object_pointer_stops_with_ob_not_an_object),
        object_test(ObDereferenceObject_of_memory_holding_no_object_stops_with_ob_not_an_object),
        object_test(ObReferenceObject_of_an_unreadable_address_stops_with_ob_not_an_object),
        object_test(one_ObDereferenceObject_too_many_stops_with_ob_reference_count_zero),
        object_test(ObReferenceObject_after_the_last_dereference_stops_with_ob_reference_count_zero),
        object_test(ObDereferenceObject_of_an_object_only_a_handle_holds_stops_with_ob_reference_count_zero),
        object_test(ObDereferenceObject_above_DISPATCH_LEVEL_stops_with_C4_20011),
        object_test(a_reference_left_at_shutdown_is_counted_as_a_leak),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
