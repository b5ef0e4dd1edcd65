/*
 * test_namespace.c - the object name space (namespace.c) as drivers reach it: names compare
 * case-insensitively, \DosDevices\ is \??\, a name is taken once, and with thousands of names
 * each one still finds its own object and goes with it.
 */
#include <stdio.h>

#include <wdmsim/test.h>

#define MANY_NAMES 3000
#define NAME_CHARS 64

/* name: ASCII, widened into buffer. */
static PUNICODE_STRING wide_name(UNICODE_STRING *string, WCHAR buffer[NAME_CHARS], const char *name)
{
    size_t n = 0;

    for (; name[n] != '\0' && n + 1 < NAME_CHARS; n++)
        buffer[n] = (WCHAR)name[n];
    buffer[n] = 0;
    string->Buffer = buffer;
    string->Length = (USHORT)(n * sizeof(WCHAR));
    string->MaximumLength = (USHORT)((n + 1) * sizeof(WCHAR));
    return string;
}

static PKEVENT open_event(const char *name, HANDLE *handle)
{
    WCHAR buffer[NAME_CHARS];
    UNICODE_STRING string;

    return IoCreateNotificationEvent(wide_name(&string, buffer, name), handle);
}

static void thousands_of_named_events_are_each_opened_by_their_name_in_any_case(void **state)
{
    static PKEVENT events[MANY_NAMES];
    static HANDLE handles[MANY_NAMES];
    char name[NAME_CHARS];
    HANDLE again;

    (void)state;
    for (int i = 0; i < MANY_NAMES; i++) {
        snprintf(name, sizeof name, "\\BaseNamedObjects\\Event%d", i);
        events[i] = open_event(name, &handles[i]);
        assert_non_null(events[i]);
    }
    for (int i = 0; i < MANY_NAMES; i++) {
        snprintf(name, sizeof name, "\\basenamedobjects\\EVENT%d", i);
        assert_ptr_equal(open_event(name, &again), events[i]);
        assert_int_equal(ZwClose(again), STATUS_SUCCESS);
    }
    for (int i = 0; i < MANY_NAMES; i++)
        assert_int_equal(ZwClose(handles[i]), STATUS_SUCCESS);
}

/* Closing the last handle takes the name away (the reference kept here keeps the object): opening
 * the name again makes a new event, while the names left still open their own. */
static void a_name_goes_with_its_objects_last_handle_and_the_others_stay(void **state)
{
    static PKEVENT events[MANY_NAMES];
    static HANDLE handles[MANY_NAMES];
    char name[NAME_CHARS];
    HANDLE again;

    (void)state;
    for (int i = 0; i < MANY_NAMES; i++) {
        snprintf(name, sizeof name, "\\BaseNamedObjects\\Gone%d", i);
        events[i] = open_event(name, &handles[i]);
        assert_non_null(events[i]);
    }
    for (int i = 0; i < MANY_NAMES; i += 2) {
        ObReferenceObject(events[i]);
        assert_int_equal(ZwClose(handles[i]), STATUS_SUCCESS);
    }
    for (int i = 0; i < MANY_NAMES; i++) {
        PKEVENT opened;

        snprintf(name, sizeof name, "\\BaseNamedObjects\\gone%d", i);
        opened = open_event(name, &again);
        if (i % 2 == 0)
            assert_ptr_not_equal(opened, events[i]);
        else
            assert_ptr_equal(opened, events[i]);
        assert_int_equal(ZwClose(again), STATUS_SUCCESS);
    }
    for (int i = 0; i < MANY_NAMES; i++) {
        if (i % 2 == 0)
            ObDereferenceObject(events[i]);
        else
            assert_int_equal(ZwClose(handles[i]), STATUS_SUCCESS);
    }
}

static void a_symbolic_link_name_is_taken_once_whatever_its_case_or_alias(void **state)
{
    WCHAR link_buffer[NAME_CHARS], other_buffer[NAME_CHARS], target_buffer[NAME_CHARS];
    UNICODE_STRING link, other, target;

    (void)state;
    wide_name(&link, link_buffer, "\\DosDevices\\NsLink");
    wide_name(&target, target_buffer, "\\Device\\NsTarget");
    assert_int_equal(IoCreateSymbolicLink(&link, &target), STATUS_SUCCESS);
    wide_name(&other, other_buffer, "\\??\\nslink");
    assert_int_equal(IoCreateSymbolicLink(&other, &target), STATUS_OBJECT_NAME_COLLISION);
    wide_name(&other, other_buffer, "\\dosdevices\\NSLINK");
    assert_int_equal(IoDeleteSymbolicLink(&other), STATUS_SUCCESS);
    assert_int_equal(IoDeleteSymbolicLink(&link), STATUS_OBJECT_NAME_NOT_FOUND);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        wdmsim_test(thousands_of_named_events_are_each_opened_by_their_name_in_any_case),
        wdmsim_test(a_name_goes_with_its_objects_last_handle_and_the_others_stay),
        wdmsim_test(a_symbolic_link_name_is_taken_once_whatever_its_case_or_alias),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
