/*
 * event.c - KEVENT: a notification event stays signalled until cleared and releases every waiter;
 * a synchronization event releases exactly one wait and resets itself (dispatcher.c does both).
 * Locking: the dispatcher lock, for every state change and every read that must be exact.
 */
#include "internal.h"

static enum disp_type event_disp_type(EVENT_TYPE type)
{
    return type == SynchronizationEvent ? DISP_EVENT_SYNCHRONIZATION : DISP_EVENT_NOTIFICATION;
}

static bool event_is_event(const DISPATCHER_HEADER *header)
{
    return header->Type == DISP_EVENT_NOTIFICATION || header->Type == DISP_EVENT_SYNCHRONIZATION;
}

/* Stops unless Event is an initialised event; returns its header. */
static DISPATCHER_HEADER *event_header(PRKEVENT Event)
{
    disp_check_object(&Event->Header);
    if (!event_is_event(&Event->Header))
        rule_stop_detail(RULE_DISPATCHER_UNINITIALIZED, (ULONG_PTR)Event, 0, 0, 0,
                         "the object at %p is a dispatcher object of type %u, not an event",
                         (void *)Event, Event->Header.Type);
    return &Event->Header;
}

/* Any IRQL. State TRUE: signalled. */
VOID NTAPI KeInitializeEvent(PRKEVENT Event, EVENT_TYPE Type, BOOLEAN State)
{
    RULE_CHECK_ARGUMENT(Event, RULE_WRITES);
    disp_init_header(&Event->Header, event_disp_type(Type), sizeof *Event, State ? 1 : 0);
    if (Type == SynchronizationEvent)
        lockorder_init_event(Event, __builtin_return_address(0));
}

/* As Windows: the state becomes 1 whatever it was (a driver may have written any value). Each
 * thread the set wakes gets the boost increment. */
static LONG event_set_locked(DISPATCHER_HEADER *header, KPRIORITY increment)
{
    LONG previous = header->SignalState;

    header->SignalState = 1;
    if (previous == 0)
        disp_wait_test_boost(header, increment);
    return previous;
}

LONG event_signal_locked(PRKEVENT event)
{
    return event_set_locked(&event->Header, IO_NO_INCREMENT);
}

/* IRQL <= DISPATCH_LEVEL (<= APC_LEVEL with Wait = TRUE). Returns the previous state. */
LONG NTAPI KeSetEvent(PRKEVENT Event, KPRIORITY Increment, BOOLEAN Wait)
{
    KIRQL irql = irql_current();
    LONG previous;

    RULE_CHECK_ARGUMENT(Event, RULE_WRITES);
    rule_check_irql(RULE_SET_EVENT_ABOVE_DISPATCH, irql, (ULONG_PTR)Event, 0, 0);
    if (Wait)
        rule_check_irql(RULE_WAIT_TRUE_ABOVE_APC, irql, (ULONG_PTR)Event, 0, 0);
    disp_lock();
    previous = event_set_locked(event_header(Event), Increment);
    disp_unlock();
    return previous;
}

/* IRQL <= DISPATCH_LEVEL. Signals, satisfies every wait it can at that instant, then resets. */
LONG NTAPI KePulseEvent(PRKEVENT Event, KPRIORITY Increment, BOOLEAN Wait)
{
    KIRQL irql = irql_current();
    LONG previous;

    RULE_CHECK_ARGUMENT(Event, RULE_WRITES);
    rule_check_irql(RULE_KE_ABOVE_DISPATCH, irql, (ULONG_PTR)Event, 0, 0);
    if (Wait)
        rule_check_irql(RULE_WAIT_TRUE_ABOVE_APC, irql, (ULONG_PTR)Event, 0, 0);
    disp_lock();
    previous = event_set_locked(event_header(Event), Increment);
    Event->Header.SignalState = 0;
    disp_unlock();
    return previous;
}

/* IRQL <= DISPATCH_LEVEL. */
LONG NTAPI KeResetEvent(PRKEVENT Event)
{
    LONG previous;

    rule_check_irql(RULE_KE_ABOVE_DISPATCH, irql_current(), (ULONG_PTR)Event, 0, 0);
    RULE_CHECK_ARGUMENT(Event, RULE_WRITES);
    disp_lock();
    previous = event_header(Event)->SignalState;
    Event->Header.SignalState = 0;
    disp_unlock();
    return previous;
}

/* IRQL <= DISPATCH_LEVEL. */
VOID NTAPI KeClearEvent(PRKEVENT Event)
{
    RULE_CHECK_ARGUMENT(Event, RULE_WRITES);
    KeResetEvent(Event);
}

/* IRQL <= DISPATCH_LEVEL. Nonzero: signalled. */
LONG NTAPI KeReadStateEvent(PRKEVENT Event)
{
    LONG state;

    rule_check_irql(RULE_KE_ABOVE_DISPATCH, irql_current(), (ULONG_PTR)Event, 0, 0);
    RULE_CHECK_ARGUMENT(Event, RULE_READS);
    disp_lock();
    state = event_header(Event)->SignalState;
    disp_unlock();
    return state;
}
