/*
 * test_ioevent.c - named events in \BaseNamedObjects: IoCreateNotificationEvent and
 * IoCreateSynchronizationEvent create them signalled or open the one that exists, hand out kernel
 * handles, and the event keeps its name while a handle is open and its memory while a reference is.
 */
#include <wdmsim/test.h>

#define KERNEL_HANDLE_BITS ((ULONG_PTR)0xFFFFFFFF80000000ull)

static PKEVENT create(PKEVENT (NTAPI *make)(PUNICODE_STRING, PHANDLE), PCWSTR name, PHANDLE handle)
{
    UNICODE_STRING string;

    RtlInitUnicodeString(&string, name);
    *handle = NULL;
    return make(&string, handle);
}

static PKEVENT notification(PCWSTR name, PHANDLE handle)
{
    return create(IoCreateNotificationEvent, name, handle);
}

static LARGE_INTEGER zero_timeout = { .QuadPart = 0 };

static void IoCreateNotificationEvent_creates_a_signalled_event_with_a_kernel_handle(void **state)
{
    HANDLE handle;
    PKEVENT event = notification(L"\\BaseNamedObjects\\Fresh", &handle);
    PVOID object = NULL;

    (void)state;
    assert_non_null(event);
    assert_int_equal((ULONG_PTR)handle & KERNEL_HANDLE_BITS, KERNEL_HANDLE_BITS);
    assert_int_not_equal(KeReadStateEvent(event), 0);
    assert_int_equal(ObReferenceObjectByHandle(handle, SYNCHRONIZE, *ExEventObjectType, KernelMode, &object, NULL),
                     STATUS_SUCCESS);
    assert_ptr_equal(object, event);
    ObDereferenceObject(object);
    assert_int_equal(ZwClose(handle), STATUS_SUCCESS);
}

static void a_second_create_of_the_same_name_opens_the_same_event(void **state)
{
    HANDLE first, second;
    PKEVENT a = notification(L"\\BaseNamedObjects\\Shared", &first);
    PKEVENT b;

    (void)state;
    KeClearEvent(a);
    b = notification(L"\\basenamedobjects\\SHARED", &second);
    assert_ptr_equal(a, b);
    assert_ptr_not_equal(first, second);
    assert_int_equal(KeReadStateEvent(b), 0);
    KeSetEvent(b, IO_NO_INCREMENT, FALSE);
    assert_int_not_equal(KeReadStateEvent(a), 0);
    assert_int_equal(ZwClose(first), STATUS_SUCCESS);
    assert_int_equal(ZwClose(second), STATUS_SUCCESS);
}

static void IoCreateSynchronizationEvent_creates_a_signalled_auto_reset_event(void **state)
{
    HANDLE handle;
    PKEVENT event = create(IoCreateSynchronizationEvent, L"\\BaseNamedObjects\\Once", &handle);

    (void)state;
    assert_non_null(event);
    assert_int_equal(KeWaitForSingleObject(event, Executive, KernelMode, FALSE, &zero_timeout), STATUS_SUCCESS);
    assert_int_equal(KeWaitForSingleObject(event, Executive, KernelMode, FALSE, &zero_timeout), STATUS_TIMEOUT);
    assert_int_equal(ZwClose(handle), STATUS_SUCCESS);
}

static void the_name_goes_with_the_last_handle_and_the_event_with_the_last_reference(void **state)
{
    HANDLE handle, again;
    PKEVENT event = notification(L"\\BaseNamedObjects\\Passing", &handle);
    PKEVENT fresh;
    PVOID object = NULL;

    (void)state;
    assert_int_equal(ObReferenceObjectByHandle(handle, SYNCHRONIZE, *ExEventObjectType, KernelMode, &object, NULL),
                     STATUS_SUCCESS);
    KeClearEvent(event);
    assert_int_equal(ZwClose(handle), STATUS_SUCCESS);
    /* Still referenced, so still an event; but nameless, so the next create makes another one. */
    KeSetEvent(event, IO_NO_INCREMENT, FALSE);
    KeClearEvent(event);
    fresh = notification(L"\\BaseNamedObjects\\Passing", &again);
    assert_ptr_not_equal(fresh, event);
    assert_int_not_equal(KeReadStateEvent(fresh), 0);
    ObDereferenceObject(object);
    assert_int_equal(ZwClose(again), STATUS_SUCCESS);
}

/* As Windows (Wine's ntoskrnl test, validated there): no name makes a new unnamed event, with a
 * kernel handle that is its only hold on it; each call makes another. */
static void a_NULL_name_makes_a_new_unnamed_event_with_a_kernel_handle(void **state)
{
    HANDLE first = NULL, second = NULL;
    PKEVENT sync = IoCreateSynchronizationEvent(NULL, &first);
    PKEVENT other = IoCreateNotificationEvent(NULL, &second);
    PVOID object = NULL;

    (void)state;
    assert_non_null(sync);
    assert_non_null(other);
    assert_ptr_not_equal(sync, other);
    assert_int_equal((ULONG_PTR)first & KERNEL_HANDLE_BITS, KERNEL_HANDLE_BITS);
    assert_int_equal(ObReferenceObjectByHandle(first, SYNCHRONIZE, *ExEventObjectType, KernelMode, &object, NULL),
                     STATUS_SUCCESS);
    assert_ptr_equal(object, sync);
    ObDereferenceObject(object);
    assert_int_equal(KeWaitForSingleObject(sync, Executive, KernelMode, FALSE, &zero_timeout), STATUS_SUCCESS);
    assert_int_equal(KeWaitForSingleObject(sync, Executive, KernelMode, FALSE, &zero_timeout), STATUS_TIMEOUT);
    assert_int_not_equal(KeReadStateEvent(other), 0);
    assert_int_equal(ZwClose(first), STATUS_SUCCESS);
    assert_int_equal(ZwClose(second), STATUS_SUCCESS);
}

static void a_name_outside_BaseNamedObjects_or_taken_by_something_else_gives_NULL(void **state)
{
    HANDLE handle;
    UNICODE_STRING link, target;

    (void)state;
    assert_null(notification(L"\\Elsewhere\\Event", &handle));
    assert_null(notification(L"\\BaseNamedObjects\\", &handle));
    RtlInitUnicodeString(&link, L"\\BaseNamedObjects\\Taken");
    RtlInitUnicodeString(&target, L"\\Device\\Nowhere");
    assert_int_equal(IoCreateSymbolicLink(&link, &target), STATUS_SUCCESS);
    assert_null(notification(L"\\BaseNamedObjects\\Taken", &handle));
    assert_int_equal(IoDeleteSymbolicLink(&link), STATUS_SUCCESS);
}

static void create_at_dispatch_level(void *context)
{
    HANDLE handle;
    KIRQL old;

    (void)context;
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    notification(L"\\BaseNamedObjects\\TooHigh", &handle);
}

static void IoCreateNotificationEvent_above_PASSIVE_LEVEL_stops_with_0xC4_0x2000A(void **state)
{
    (void)state;
    wdmsim_assert_stops(create_at_dispatch_level, NULL, 0xC4, 0x2000A, "io.not_passive", NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        wdmsim_test(IoCreateNotificationEvent_creates_a_signalled_event_with_a_kernel_handle),
        wdmsim_test(a_second_create_of_the_same_name_opens_the_same_event),
        wdmsim_test(IoCreateSynchronizationEvent_creates_a_signalled_auto_reset_event),
        wdmsim_test(the_name_goes_with_the_last_handle_and_the_event_with_the_last_reference),
        wdmsim_test(a_NULL_name_makes_a_new_unnamed_event_with_a_kernel_handle),
        wdmsim_test(a_name_outside_BaseNamedObjects_or_taken_by_something_else_gives_NULL),
        wdmsim_test(IoCreateNotificationEvent_above_PASSIVE_LEVEL_stops_with_0xC4_0x2000A),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
