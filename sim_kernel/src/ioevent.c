/*
 * ioevent.c - named events: IoCreateNotificationEvent and IoCreateSynchronizationEvent create (in
 * the signalled state) or open an Event object named in \BaseNamedObjects (or, with no name, create
 * an unnamed one) and give the caller a kernel handle to it. The name goes with the event's last handle (the Event type's close
 * procedure), the memory with its last reference (the delete procedure).
 * Locking: ioevent_lock makes "find the name, then open a handle" one step against the last
 * close's "no handle left, take the name away", so an open never reaches an object on its way out.
 * It is taken before the handle table, object and name-space locks.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static const char ioevent_directory[] = "\\BASENAMEDOBJECTS\\";

static pthread_mutex_t ioevent_lock = PTHREAD_MUTEX_INITIALIZER;

/* An event is its own dispatcher object. */
static PVOID ioevent_wait_target(PVOID body)
{
    return body;
}

static void ioevent_object_close(PVOID body)
{
    host_lock(&ioevent_lock);
    if (object_handle_count(body) == 0)
        ns_remove_target(body);
    host_unlock(&ioevent_lock);
}

static void ioevent_object_delete(PVOID body)
{
    memset(body, 0xDD, sizeof(KEVENT));
    free(body);
}

/* Event objects are what ExEventObjectType names: the named events made here. */
static struct _OBJECT_TYPE event_type = {
    .name = "Event",
    .delete_procedure = ioevent_object_delete,
    .close_procedure = ioevent_object_close,
    .wait_procedure = ioevent_wait_target,
};
static POBJECT_TYPE event_type_pointer = &event_type;
POBJECT_TYPE *ExEventObjectType = &event_type_pointer;

/* \BaseNamedObjects\X, in any case, with X not empty. */
static bool ioevent_name_valid(PCUNICODE_STRING name)
{
    size_t prefix = sizeof ioevent_directory - 1;

    if (name == NULL || name->Buffer == NULL || name->Length / sizeof(WCHAR) <= prefix)
        return false;
    for (size_t i = 0; i < prefix; i++) {
        WCHAR c = name->Buffer[i];

        if ((c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c) != (WCHAR)ioevent_directory[i])
            return false;
    }
    return true;
}

/* Lock held: a new signalled event under name (none: unnamed), or NULL. */
static PKEVENT ioevent_create_locked(PUNICODE_STRING name, EVENT_TYPE type)
{
    PKEVENT event = calloc(1, sizeof *event);

    if (event == NULL)
        return NULL;
    KeInitializeEvent(event, type, TRUE);
    object_create(event, *ExEventObjectType);
    if (name != NULL && !NT_SUCCESS(ns_insert(name, NS_EVENT, event, NULL))) {
        object_release(event);
        return NULL;
    }
    return event;
}

static PKEVENT ioevent_create_or_open(PUNICODE_STRING name, PHANDLE handle, EVENT_TYPE type)
{
    enum ns_kind kind = NS_EVENT;
    PKEVENT event;
    bool created = false;

    /* A NULL name makes an unnamed event, as Windows' ZwCreateEvent underneath does. */
    if (handle == NULL || (name != NULL && !ioevent_name_valid(name)))
        return NULL;
    host_lock(&ioevent_lock);
    event = name != NULL ? ns_lookup(name, &kind) : NULL;
    if (event == NULL) {
        event = ioevent_create_locked(name, type);
        created = event != NULL;
    } else if (kind != NS_EVENT) {
        event = NULL;
    }
    if (event != NULL)
        *handle = handle_create(event, EVENT_ALL_ACCESS, OBJ_KERNEL_HANDLE);
    /* From now on the handle keeps a new event alive. */
    if (created)
        object_release(event);
    host_unlock(&ioevent_lock);
    return event;
}

/* PASSIVE_LEVEL. Creates (signalled) or opens the notification event EventName, a full name in
 * \BaseNamedObjects (NULL: a new unnamed event); returns it, or NULL, with a kernel handle in
 * *EventHandle for ZwClose. */
PKEVENT NTAPI IoCreateNotificationEvent(PUNICODE_STRING EventName, PHANDLE EventHandle)
{
    rule_check_irql(RULE_IO_NOT_PASSIVE, irql_current(), (ULONG_PTR)EventName, 0, 0);
    RULE_CHECK_ARGUMENT(EventHandle, RULE_WRITES);
    return ioevent_create_or_open(EventName, EventHandle, NotificationEvent);
}

/* PASSIVE_LEVEL. The same for a synchronization (auto-reset) event, also created signalled. */
PKEVENT NTAPI IoCreateSynchronizationEvent(PUNICODE_STRING EventName, PHANDLE EventHandle)
{
    rule_check_irql(RULE_IO_NOT_PASSIVE, irql_current(), (ULONG_PTR)EventName, 0, 0);
    RULE_CHECK_ARGUMENT(EventHandle, RULE_WRITES);
    return ioevent_create_or_open(EventName, EventHandle, SynchronizationEvent);
}
