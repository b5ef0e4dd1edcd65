/*
 * test_driver.c - the registry of drivers (driver.c): what a thread allocates or sets up is charged
 * to the driver whose code runs - host code through wdmsim_run_as_driver, a DPC through the driver
 * that initialised it - and an unload reads that charge while threads change it.
 */
#include <stdatomic.h>
#include <stdio.h>

#include "wdmsim_test_drivers.h"

/* ---- Charging ---- */

static KTIMER charged_timer;
static KDPC charged_dpc;
static KEVENT dpc_ran;
static PVOID dpc_block;

static VOID NTAPI AllocatingDpc(PKDPC Dpc, PVOID Context, PVOID Argument1, PVOID Argument2)
{
    UNREFERENCED_PARAMETER(Dpc);
    UNREFERENCED_PARAMETER(Context);
    UNREFERENCED_PARAMETER(Argument1);
    UNREFERENCED_PARAMETER(Argument2);
    dpc_block = ExAllocatePoolWithTag(NonPagedPoolNx, 16, LEAK_TAG);
    KeSetEvent(&dpc_ran, IO_NO_INCREMENT, FALSE);
}

static VOID NTAPI FreeDpcBlockUnload(PDRIVER_OBJECT DriverObject)
{
    UNREFERENCED_PARAMETER(DriverObject);
    KeCancelTimer(&charged_timer);
    KeFlushQueuedDpcs();
    ExFreePoolWithTag(dpc_block, LEAK_TAG);
}

static NTSTATUS NTAPI TimerDpcDriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    LARGE_INTEGER due = { .QuadPart = -10000LL * 10 };

    UNREFERENCED_PARAMETER(RegistryPath);
    KeInitializeEvent(&dpc_ran, NotificationEvent, FALSE);
    KeInitializeTimer(&charged_timer);
    KeInitializeDpc(&charged_dpc, AllocatingDpc, NULL);
    KeSetTimer(&charged_timer, due, &charged_dpc);
    DriverObject->DriverUnload = FreeDpcBlockUnload;
    return STATUS_SUCCESS;
}

static void a_timer_DPC_runs_charged_to_the_driver_that_initialised_it(void **state)
{
    PDRIVER_OBJECT driver = load("dpcdrv", TimerDpcDriverEntry);

    (void)state;
    KeWaitForSingleObject(&dpc_ran, Executive, KernelMode, FALSE, NULL);
    assert_int_equal(wdmsim_pool_outstanding_by_driver("dpcdrv", NULL), 1);
    assert_int_equal(wdmsim_pool_outstanding_by_driver("", NULL), 0);
    wdmsim_driver_unload(driver);
    assert_int_equal(wdmsim_pool_outstanding_by_driver("dpcdrv", NULL), 0);
}

/* The unload check reads whose code every thread runs while those threads change it. Relaxed
 * atomics, which order nothing, hand the turn over here, so under ThreadSanitizer the two accesses
 * are concurrent as far as it can tell, and a plain access on either side is reported as a race
 * (bench_smoke once caught the reader thread of a pipeline doing it). */
static atomic_bool busy_charged;
static atomic_bool busy_stop;

static void spin_as_driver(void *context)
{
    (void)context;
    atomic_store_explicit(&busy_charged, true, memory_order_relaxed);
    while (!atomic_load_explicit(&busy_stop, memory_order_relaxed))
        ;
}

static int quiet_entries;

static VOID NTAPI QuietUnload(PDRIVER_OBJECT DriverObject)
{
    UNREFERENCED_PARAMETER(DriverObject);
}

static NTSTATUS NTAPI QuietDriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    UNREFERENCED_PARAMETER(RegistryPath);
    quiet_entries++;
    DriverObject->DriverUnload = QuietUnload;
    return STATUS_SUCCESS;
}

static void run_as_busy_driver(void *context)
{
    wdmsim_run_as_driver("busy", spin_as_driver, context);
}

static void an_unload_checks_threads_while_they_change_whose_code_they_run(void **state)
{
    struct wdmsim_config real = { .clock = WDMSIM_CLOCK_REAL, .schedule = "free" };
    struct wdmsim_test_thread busy;

    (void)state;
    /* The real clock: the busy thread never blocks, and virtual time would wait for it. */
    wdmsim_boot(&real);
    atomic_store(&busy_charged, false);
    atomic_store(&busy_stop, false);
    wdmsim_test_thread_start(&busy, run_as_busy_driver, NULL);
    while (!atomic_load_explicit(&busy_charged, memory_order_relaxed))
        ;
    quiet_entries = 0;
    wdmsim_driver_unload(load("quiet", QuietDriverEntry));
    atomic_store_explicit(&busy_stop, true, memory_order_relaxed);
    wdmsim_test_thread_join(&busy);
    assert_int_equal(quiet_entries, 1);
}

/* ---- The registry's tables ---- */

static VOID NTAPI EmptyUnload(PDRIVER_OBJECT DriverObject)
{
    UNREFERENCED_PARAMETER(DriverObject);
}

static NTSTATUS NTAPI EmptyDriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    UNREFERENCED_PARAMETER(RegistryPath);
    DriverObject->DriverUnload = EmptyUnload;
    return STATUS_SUCCESS;
}

#define MANY_DRIVERS 300

/* Hundreds loaded: each name is taken once, each object finds its own driver at unload, and a name
 * is free again once its driver has gone. */
static void hundreds_of_loaded_drivers_are_each_found_by_name_and_by_object(void **state)
{
    PDRIVER_OBJECT drivers[MANY_DRIVERS], again;
    char name[32];

    (void)state;
    for (int i = 0; i < MANY_DRIVERS; i++) {
        snprintf(name, sizeof name, "many%d", i);
        drivers[i] = load(name, EmptyDriverEntry);
    }
    for (int i = 0; i < MANY_DRIVERS; i += 7) {
        snprintf(name, sizeof name, "many%d", i);
        assert_int_equal(wdmsim_driver_load(name, EmptyDriverEntry, &again), STATUS_OBJECT_NAME_COLLISION);
        assert_null(again);
    }
    for (int i = 0; i < MANY_DRIVERS; i += 2)
        wdmsim_driver_unload(drivers[i]);
    for (int i = 0; i < MANY_DRIVERS; i += 2) {
        snprintf(name, sizeof name, "many%d", i);
        drivers[i] = load(name, EmptyDriverEntry);
    }
    for (int i = 0; i < MANY_DRIVERS; i++)
        wdmsim_driver_unload(drivers[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        wdmsim_test(a_timer_DPC_runs_charged_to_the_driver_that_initialised_it),
        wdmsim_test(an_unload_checks_threads_while_they_change_whose_code_they_run),
        wdmsim_test(hundreds_of_loaded_drivers_are_each_found_by_name_and_by_object),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
