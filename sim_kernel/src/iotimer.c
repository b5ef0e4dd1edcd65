/*
 * iotimer.c - a device's one-second timer: IoInitializeTimer, IoStartTimer, IoStopTimer. As in NT,
 * one I/O manager tick, a periodic kernel timer with its DPC, calls every started timer's routine
 * once a second at DISPATCH_LEVEL, charged to the device's driver; the tick is set only while some
 * timer is started, so an idle machine has no deadline and virtual time can stop. IoDeleteDevice
 * takes the device's timer away (a hook registered with io.c); an unload finds a started timer of
 * a device the driver did not delete.
 * Locking: iotimer_lock (a spin lock) guards the list, each timer's state and the tick's setting;
 * the routines run without it, each call holding a reference on its device.
 */
#include "internal.h"

#define IOTIMER_TYPE 9              /* IO_TYPE_TIMER */
#define IOTIMER_PERIOD_MS 1000

/* Opaque to drivers (they see a PIO_TIMER in DEVICE_OBJECT.Timer): the fields NT keeps. */
struct _IO_TIMER {
    CSHORT Type;
    CSHORT TimerFlag;               /* started */
    LIST_ENTRY TimerList;
    PIO_TIMER_ROUTINE TimerRoutine;
    PVOID Context;
    PDEVICE_OBJECT DeviceObject;
};

/* One routine call of a tick, taken under the lock. */
struct iotimer_call {
    PIO_TIMER_ROUTINE routine;
    PDEVICE_OBJECT device;
    PVOID context;
};

static KSPIN_LOCK iotimer_lock;
static LIST_ENTRY iotimer_list;
static LONG iotimer_started;        /* timers started now: the tick runs while there are some */
static KTIMER iotimer_tick;
static KDPC iotimer_dpc;

static KDEFERRED_ROUTINE iotimer_tick_routine;

static bool iotimer_tick_ready;

/* A new boot starts with no timers (the last one's were in its devices). */
void iotimer_boot(void)
{
    iotimer_lock = 0;
    InitializeListHead(&iotimer_list);
    iotimer_started = 0;
    iotimer_tick_ready = false;
}

/* Lock held. The tick is the kernel's, charged to no driver: an unload never counts it as the
 * driver's timer. */
static void iotimer_prepare_tick(void)
{
    struct _KTHREAD *self = thread_current();
    const struct sim_driver *caller = self->driver;

    if (iotimer_tick_ready)
        return;
    thread_charge(self, NULL);
    KeInitializeTimer(&iotimer_tick);
    KeInitializeDpc(&iotimer_dpc, iotimer_tick_routine, NULL);
    thread_charge(self, caller);
    iotimer_tick_ready = true;
}

/* Lock held. */
static void iotimer_enable(PIO_TIMER timer)
{
    LARGE_INTEGER period = { .QuadPart = -(LONGLONG)IOTIMER_PERIOD_MS * 10000 };

    if (timer->TimerFlag)
        return;
    timer->TimerFlag = TRUE;
    iotimer_prepare_tick();
    if (iotimer_started++ == 0)
        KeSetTimerEx(&iotimer_tick, period, IOTIMER_PERIOD_MS, &iotimer_dpc);
}

/* Lock held. */
static void iotimer_disable(PIO_TIMER timer)
{
    if (!timer->TimerFlag)
        return;
    timer->TimerFlag = FALSE;
    if (--iotimer_started == 0)
        KeCancelTimer(&iotimer_tick);
}

/* The calls this tick makes, each device referenced; *count of them (NULL: none, or no memory). */
static struct iotimer_call *iotimer_collect(size_t *count)
{
    struct iotimer_call *calls;
    KIRQL old;

    KeAcquireSpinLock(&iotimer_lock, &old);
    *count = 0;
    calls = iotimer_started > 0 ? malloc((size_t)iotimer_started * sizeof *calls) : NULL;
    for (PLIST_ENTRY e = iotimer_list.Flink; calls != NULL && e != &iotimer_list; e = e->Flink) {
        PIO_TIMER timer = CONTAINING_RECORD(e, struct _IO_TIMER, TimerList);

        if (!timer->TimerFlag)
            continue;
        io_device_reference(timer->DeviceObject);
        calls[(*count)++] = (struct iotimer_call){ timer->TimerRoutine, timer->DeviceObject, timer->Context };
    }
    KeReleaseSpinLock(&iotimer_lock, old);
    return calls;
}

/* The tick's DPC, at DISPATCH_LEVEL: each started timer's routine, charged to its driver. A routine
 * may start or stop timers, its own too. */
static VOID NTAPI iotimer_tick_routine(PKDPC dpc, PVOID context, PVOID argument1, PVOID argument2)
{
    struct _KTHREAD *self = thread_current();
    const struct sim_driver *caller = self->driver;
    struct iotimer_call *calls;
    size_t count;

    (void)dpc;
    (void)context;
    (void)argument1;
    (void)argument2;
    calls = iotimer_collect(&count);
    for (size_t i = 0; i < count; i++) {
        thread_charge(self, io_driver_of(calls[i].device));
        calls[i].routine(calls[i].device, calls[i].context);
        thread_charge(self, caller);
        io_device_release(calls[i].device);
    }
    free(calls);
}

/* PASSIVE_LEVEL. The device's timer, stopped; its routine will run at DISPATCH_LEVEL. */
NTSTATUS NTAPI IoInitializeTimer(PDEVICE_OBJECT DeviceObject, PIO_TIMER_ROUTINE TimerRoutine, PVOID Context)
{
    PIO_TIMER timer;
    KIRQL old;

    rule_check_irql(RULE_IOTIMER_NOT_PASSIVE, irql_current(), (ULONG_PTR)DeviceObject, 0, 0);
    if (DeviceObject->Timer != NULL)
        rule_stop(RULE_IOTIMER_INITIALIZED_TWICE, (ULONG_PTR)DeviceObject, 0, 0, 0);
    timer = calloc(1, sizeof *timer);
    if (timer == NULL)
        return STATUS_INSUFFICIENT_RESOURCES;
    timer->Type = IOTIMER_TYPE;
    timer->TimerRoutine = TimerRoutine;
    timer->Context = Context;
    timer->DeviceObject = DeviceObject;
    KeAcquireSpinLock(&iotimer_lock, &old);
    InsertTailList(&iotimer_list, &timer->TimerList);
    DeviceObject->Timer = timer;
    KeReleaseSpinLock(&iotimer_lock, old);
    return STATUS_SUCCESS;
}

static PIO_TIMER iotimer_of(PDEVICE_OBJECT device)
{
    if (device->Timer == NULL)
        rule_stop_detail(RULE_IOTIMER_NOT_INITIALIZED, 0, 0, (ULONG_PTR)offsetof(struct _IO_TIMER, TimerFlag), 0,
                         "device %p has no timer: IoInitializeTimer was never called for it", (void *)device);
    return device->Timer;
}

/* IRQL <= DISPATCH_LEVEL. The routine runs at each tick from now on, about a second apart. */
VOID NTAPI IoStartTimer(PDEVICE_OBJECT DeviceObject)
{
    KIRQL old;

    rule_check_irql(RULE_IOTIMER_ABOVE_DISPATCH, irql_current(), (ULONG_PTR)DeviceObject, 0, 0);
    KeAcquireSpinLock(&iotimer_lock, &old);
    iotimer_enable(iotimer_of(DeviceObject));
    KeReleaseSpinLock(&iotimer_lock, old);
}

/* IRQL <= DISPATCH_LEVEL. No further calls start (one already running on another thread ends). */
VOID NTAPI IoStopTimer(PDEVICE_OBJECT DeviceObject)
{
    KIRQL old;

    rule_check_irql(RULE_IOTIMER_ABOVE_DISPATCH, irql_current(), (ULONG_PTR)DeviceObject, 0, 0);
    KeAcquireSpinLock(&iotimer_lock, &old);
    iotimer_disable(iotimer_of(DeviceObject));
    KeReleaseSpinLock(&iotimer_lock, old);
}

/* IoDeleteDevice: the timer goes with its device, started or not. */
static void iotimer_device_deleted(PDEVICE_OBJECT device)
{
    PIO_TIMER timer;
    KIRQL old;

    KeAcquireSpinLock(&iotimer_lock, &old);
    timer = device->Timer;
    if (timer != NULL) {
        iotimer_disable(timer);
        RemoveEntryList(&timer->TimerList);
        device->Timer = NULL;
    }
    KeReleaseSpinLock(&iotimer_lock, old);
    free(timer);
}

__attribute__((constructor)) static void iotimer_register(void)
{
    io_register_delete_hook(iotimer_device_deleted);
}

/* A started timer of a device the driver still has: its routine would run in an unloaded image. */
static void iotimer_collect_leftovers(struct driver_check *check)
{
    PDRIVER_OBJECT driver = driver_check_object(check);
    KIRQL old;

    KeAcquireSpinLock(&iotimer_lock, &old);
    for (PLIST_ENTRY e = iotimer_list.Flink; e != &iotimer_list; e = e->Flink) {
        PIO_TIMER timer = CONTAINING_RECORD(e, struct _IO_TIMER, TimerList);

        if (timer->TimerFlag && timer->DeviceObject->DriverObject == driver)
            driver_check_pending(check, "I/O timer", timer, (const void *)timer->TimerRoutine,
                                 "started on device %p (IoStartTimer without IoStopTimer)",
                                 (void *)timer->DeviceObject);
    }
    KeReleaseSpinLock(&iotimer_lock, old);
}

static struct driver_inventory iotimer_inventory = {
    .order = DRIVER_INVENTORY_QUEUED,
    .collect = iotimer_collect_leftovers,
};
DRIVER_INVENTORY(iotimer_inventory)
