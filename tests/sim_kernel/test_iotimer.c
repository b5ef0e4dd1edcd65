/*
 * test_iotimer.c - a device's one-second timer and its DpcForIsr, as the book's WdmIo uses them for
 * its timeouts and interrupt completion: the routine runs once a second of virtual time at
 * DISPATCH_LEVEL while started, may stop itself, goes with its device; and IoRequestDpc runs the
 * routine IoInitializeDpcRequest gave with the device, IRP and context. The stops: initialising
 * twice or above PASSIVE_LEVEL, starting a timer never initialised, an unload leaving one started.
 */
#include <stdbool.h>
#include <wdm.h>

#include <wdmsim/test.h>

#define ONE_SECOND (-10000000LL)

static struct {
    PDEVICE_OBJECT device;
    LONG ticks;
    LONG stop_after;                /* the routine stops its own timer after this many ticks (0: never) */
    KIRQL irql;
    PDEVICE_OBJECT seen_device;
    PVOID seen_context;
    LONGLONG tick_times[8];         /* system time of each tick */
    LONG dpcs;
    PIRP seen_irp;
    PVOID seen_dpc_context;
    KIRQL dpc_irql;
    bool keep_on_unload;            /* Unload deletes nothing and leaves the timer started */
} dev;

static LONGLONG now(void)
{
    LARGE_INTEGER time;

    KeQuerySystemTime(&time);
    return time.QuadPart;
}

static VOID NTAPI dev_tick(PDEVICE_OBJECT device, PVOID context)
{
    LONG n = InterlockedIncrement(&dev.ticks);

    dev.irql = KeGetCurrentIrql();
    dev.seen_device = device;
    dev.seen_context = context;
    if (n <= 8)
        dev.tick_times[n - 1] = now();
    if (n == dev.stop_after)
        IoStopTimer(device);
}

static VOID NTAPI dev_dpc_for_isr(PKDPC dpc, PDEVICE_OBJECT device, PIRP irp, PVOID context)
{
    (void)dpc;
    dev.seen_device = device;
    dev.seen_irp = irp;
    dev.seen_dpc_context = context;
    dev.dpc_irql = KeGetCurrentIrql();
    InterlockedIncrement(&dev.dpcs);
}

static VOID NTAPI dev_unload(PDRIVER_OBJECT driver)
{
    if (!dev.keep_on_unload)
        IoDeleteDevice(driver->DeviceObject);
}

static NTSTATUS NTAPI dev_entry(PDRIVER_OBJECT driver, PUNICODE_STRING registry_path)
{
    NTSTATUS status;

    (void)registry_path;
    driver->DriverUnload = dev_unload;
    status = IoCreateDevice(driver, 0, NULL, FILE_DEVICE_UNKNOWN, 0, FALSE, &dev.device);
    if (!NT_SUCCESS(status))
        return status;
    IoInitializeDpcRequest(dev.device, dev_dpc_for_isr);
    status = IoInitializeTimer(dev.device, dev_tick, &dev);
    if (!NT_SUCCESS(status))
        IoDeleteDevice(dev.device);
    else
        dev.device->Flags &= ~DO_DEVICE_INITIALIZING;
    return status;
}

static PDRIVER_OBJECT dev_driver;

static int setup(void **state)
{
    memset(&dev, 0, sizeof dev);
    wdmsim_test_boot(state);
    assert_int_equal(wdmsim_driver_load("dev", dev_entry, &dev_driver), STATUS_SUCCESS);
    return 0;
}

static int teardown(void **state)
{
    wdmsim_driver_unload(dev_driver);
    return wdmsim_test_shutdown(state);
}

#define iotimer_test(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

static void sleep_seconds(LONGLONG tenths)
{
    LARGE_INTEGER delay = { .QuadPart = ONE_SECOND / 10 * tenths };

    KeDelayExecutionThread(KernelMode, FALSE, &delay);
}

/* ---- The timer ---- */

static void IoInitializeTimer_gives_the_device_a_stopped_timer(void **state)
{
    (void)state;
    assert_non_null(dev.device->Timer);
    sleep_seconds(30);
    assert_int_equal(dev.ticks, 0);
}

static void a_started_timer_runs_its_routine_once_a_second_at_DISPATCH_LEVEL_until_stopped(void **state)
{
    LONGLONG started;

    (void)state;
    started = now();
    IoStartTimer(dev.device);
    sleep_seconds(35);
    assert_int_equal(dev.ticks, 3);
    assert_int_equal(dev.irql, DISPATCH_LEVEL);
    assert_ptr_equal(dev.seen_device, dev.device);
    assert_ptr_equal(dev.seen_context, &dev);
    for (int i = 0; i < 3; i++)
        assert_int_equal(dev.tick_times[i] - started, (i + 1) * -ONE_SECOND);
    IoStopTimer(dev.device);
    sleep_seconds(30);
    assert_int_equal(dev.ticks, 3);
    /* Started again, it goes on; starting a started timer changes nothing. */
    IoStartTimer(dev.device);
    IoStartTimer(dev.device);
    sleep_seconds(15);
    assert_int_equal(dev.ticks, 4);
    IoStopTimer(dev.device);
}

static void a_timer_routine_may_stop_its_own_timer(void **state)
{
    (void)state;
    dev.stop_after = 2;
    IoStartTimer(dev.device);
    sleep_seconds(50);
    assert_int_equal(dev.ticks, 2);
}

/* A timer at DISPATCH_LEVEL is started from a DPC as well as from a dispatch routine. */
static void IoStartTimer_and_IoStopTimer_work_at_DISPATCH_LEVEL(void **state)
{
    KIRQL old;

    (void)state;
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    IoStartTimer(dev.device);
    KeLowerIrql(old);
    sleep_seconds(15);
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    IoStopTimer(dev.device);
    KeLowerIrql(old);
    assert_int_equal(dev.ticks, 1);
}

static void IoDeleteDevice_takes_a_started_timer_with_it(void **state)
{
    PDEVICE_OBJECT device = dev.device;

    (void)state;
    IoStartTimer(device);
    sleep_seconds(15);
    IoDeleteDevice(device);
    dev.keep_on_unload = true;      /* nothing left to delete */
    sleep_seconds(30);
    assert_int_equal(dev.ticks, 1);
}

/* ---- IoRequestDpc ---- */

static void IoRequestDpc_runs_the_DpcForIsr_with_the_device_IRP_and_context_at_DISPATCH_LEVEL(void **state)
{
    PIRP irp = (PIRP)(ULONG_PTR)0x1000;
    int context;
    KIRQL old;

    (void)state;
    /* As an ISR would, at its DIRQL. The DPC runs on a processor of its own here, so it may run
     * before this one lowers its IRQL. */
    KeRaiseIrql(HIGH_LEVEL, &old);
    assert_true(IoRequestDpc(dev.device, irp, &context));
    KeLowerIrql(old);
    sleep_seconds(1);
    assert_int_equal(dev.dpcs, 1);
    assert_ptr_equal(dev.seen_device, dev.device);
    assert_ptr_equal(dev.seen_irp, irp);
    assert_ptr_equal(dev.seen_dpc_context, &context);
    assert_int_equal(dev.dpc_irql, DISPATCH_LEVEL);
}

/* ---- Stops ---- */

static PDEVICE_OBJECT load_dev(void)
{
    PDRIVER_OBJECT driver;

    memset(&dev, 0, sizeof dev);
    wdmsim_driver_load("dev", dev_entry, &driver);
    return dev.device;
}

static void initialize_twice(void *context)
{
    (void)context;
    IoInitializeTimer(load_dev(), dev_tick, NULL);
}

static void IoInitializeTimer_twice_stops_with_0xC9_0x0A(void **state)
{
    (void)state;
    wdmsim_assert_stops(initialize_twice, NULL, 0xC9, 0x0A, "iotimer.initialized_twice", NULL);
}

static NTSTATUS NTAPI timerless_entry(PDRIVER_OBJECT driver, PUNICODE_STRING registry_path)
{
    (void)registry_path;
    return IoCreateDevice(driver, 0, NULL, FILE_DEVICE_UNKNOWN, 0, FALSE, &dev.device);
}

static void start_without_timer(void *context)
{
    PDRIVER_OBJECT driver;

    (void)context;
    if (NT_SUCCESS(wdmsim_driver_load("timerless", timerless_entry, &driver)))
        IoStartTimer(dev.device);
}

static void IoStartTimer_without_IoInitializeTimer_stops_with_an_access_violation(void **state)
{
    (void)state;
    wdmsim_assert_stops(start_without_timer, NULL, 0x1E, 0xC0000005, "iotimer.not_initialized", NULL);
}

static void initialize_at_dispatch(void *context)
{
    PDRIVER_OBJECT driver;
    KIRQL old;

    (void)context;
    if (!NT_SUCCESS(wdmsim_driver_load("timerless", timerless_entry, &driver)))
        return;
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    IoInitializeTimer(dev.device, dev_tick, NULL);
}

static void IoInitializeTimer_above_PASSIVE_LEVEL_stops_with_IrqlIoPassive5(void **state)
{
    (void)state;
    wdmsim_assert_stops(initialize_at_dispatch, NULL, 0xC4, 0x2000E, "iotimer.initialize_not_passive", NULL);
}

static void unload_with_the_timer_started(void *context)
{
    PDRIVER_OBJECT driver;

    (void)context;
    memset(&dev, 0, sizeof dev);
    dev.keep_on_unload = true;
    if (!NT_SUCCESS(wdmsim_driver_load("dev", dev_entry, &driver)))
        return;
    IoStartTimer(dev.device);
    wdmsim_driver_unload(driver);
}

static void an_unload_leaving_a_started_timer_stops_with_0xCE_naming_it(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(unload_with_the_timer_started, NULL, 0xCE, WDMSIM_ANY_PARAM,
                        "driver.unload_pending_operations", &stop);
    wdmsim_assert_report_has(&stop, "I/O timer");
    wdmsim_assert_report_has(&stop, "IoStartTimer without IoStopTimer");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        iotimer_test(IoInitializeTimer_gives_the_device_a_stopped_timer),
        iotimer_test(a_started_timer_runs_its_routine_once_a_second_at_DISPATCH_LEVEL_until_stopped),
        iotimer_test(a_timer_routine_may_stop_its_own_timer),
        iotimer_test(IoStartTimer_and_IoStopTimer_work_at_DISPATCH_LEVEL),
        iotimer_test(IoDeleteDevice_takes_a_started_timer_with_it),
        iotimer_test(IoRequestDpc_runs_the_DpcForIsr_with_the_device_IRP_and_context_at_DISPATCH_LEVEL),
        cmocka_unit_test(IoInitializeTimer_twice_stops_with_0xC9_0x0A),
        cmocka_unit_test(IoStartTimer_without_IoInitializeTimer_stops_with_an_access_violation),
        cmocka_unit_test(IoInitializeTimer_above_PASSIVE_LEVEL_stops_with_IrqlIoPassive5),
        cmocka_unit_test(an_unload_leaving_a_started_timer_stops_with_0xCE_naming_it),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
