/*
 * test_devqueue.c - device queues as a driver uses them: an insert into an idle queue only makes it
 * busy (the caller starts that request itself), inserts into a busy one queue in arrival or key
 * order, a remove from an empty queue makes it idle again; the DISPATCH_LEVEL rule, and an entry
 * left in a queue at unload.
 */
#include <wdm.h>

#include <wdmsim/test.h>

static KDEVICE_QUEUE queue;
static KDEVICE_QUEUE_ENTRY entries[4];

static KIRQL raise_to_dispatch(void)
{
    KIRQL old;

    KeRaiseIrql(DISPATCH_LEVEL, &old);
    return old;
}

/* Busy, and exactly the entries given are queued, in that order (NULL-ended). */
static void assert_queue(BOOLEAN busy, PKDEVICE_QUEUE_ENTRY const *expected)
{
    PLIST_ENTRY e = queue.DeviceListHead.Flink;

    assert_int_equal(queue.Busy, busy);
    for (; *expected != NULL; expected++, e = e->Flink) {
        assert_ptr_not_equal(e, &queue.DeviceListHead);
        assert_ptr_equal(CONTAINING_RECORD(e, KDEVICE_QUEUE_ENTRY, DeviceListEntry), *expected);
        assert_true((*expected)->Inserted);
    }
    assert_ptr_equal(e, &queue.DeviceListHead);
}

static int setup(void **state)
{
    memset(&queue, 0xA5, sizeof queue);
    memset(entries, 0, sizeof entries);
    wdmsim_test_boot(state);
    KeInitializeDeviceQueue(&queue);
    return 0;
}

#define devqueue_test(fn) cmocka_unit_test_setup_teardown(fn, setup, wdmsim_test_shutdown)

static void KeInitializeDeviceQueue_makes_an_idle_empty_queue_object(void **state)
{
    PKDEVICE_QUEUE_ENTRY none[] = { NULL };

    (void)state;
    assert_int_equal(queue.Type, 0x14);     /* DeviceQueueObject */
    assert_int_equal(queue.Size, sizeof(KDEVICE_QUEUE));
    assert_int_equal(queue.Lock, 0);
    assert_queue(FALSE, none);
}

static void an_insert_into_an_idle_queue_returns_FALSE_and_only_makes_it_busy(void **state)
{
    PKDEVICE_QUEUE_ENTRY none[] = { NULL };
    KIRQL old = raise_to_dispatch();

    (void)state;
    entries[0].Inserted = TRUE;
    assert_false(KeInsertDeviceQueue(&queue, &entries[0]));
    assert_false(entries[0].Inserted);
    assert_queue(TRUE, none);
    KeLowerIrql(old);
}

static void inserts_into_a_busy_queue_queue_at_the_tail_and_removes_take_them_in_order_until_idle(void **state)
{
    PKDEVICE_QUEUE_ENTRY two[] = { &entries[1], &entries[2], NULL };
    PKDEVICE_QUEUE_ENTRY one[] = { &entries[2], NULL };
    PKDEVICE_QUEUE_ENTRY none[] = { NULL };
    KIRQL old = raise_to_dispatch();

    (void)state;
    assert_false(KeInsertDeviceQueue(&queue, &entries[0]));
    assert_true(KeInsertDeviceQueue(&queue, &entries[1]));
    assert_true(KeInsertDeviceQueue(&queue, &entries[2]));
    assert_queue(TRUE, two);
    assert_ptr_equal(KeRemoveDeviceQueue(&queue), &entries[1]);
    assert_false(entries[1].Inserted);
    assert_queue(TRUE, one);
    assert_ptr_equal(KeRemoveDeviceQueue(&queue), &entries[2]);
    assert_queue(TRUE, none);
    /* Empty but busy until a remove finds nothing: the device finished its last request. */
    assert_null(KeRemoveDeviceQueue(&queue));
    assert_queue(FALSE, none);
    KeLowerIrql(old);
}

static void KeInsertByKeyDeviceQueue_orders_by_key_and_keeps_equal_keys_in_arrival_order(void **state)
{
    PKDEVICE_QUEUE_ENTRY sorted[] = { &entries[3], &entries[1], &entries[2], NULL };
    KIRQL old = raise_to_dispatch();

    (void)state;
    assert_false(KeInsertByKeyDeviceQueue(&queue, &entries[0], 50));
    assert_int_equal(entries[0].SortKey, 50);
    assert_true(KeInsertByKeyDeviceQueue(&queue, &entries[1], 20));
    assert_true(KeInsertByKeyDeviceQueue(&queue, &entries[2], 20));
    assert_true(KeInsertByKeyDeviceQueue(&queue, &entries[3], 10));
    assert_queue(TRUE, sorted);
    KeLowerIrql(old);
}

/* The elevator: from the key on, else wrapped around to the lowest. */
static void KeRemoveByKeyDeviceQueue_takes_the_first_entry_at_or_above_the_key_else_the_first_of_all(void **state)
{
    KIRQL old = raise_to_dispatch();

    (void)state;
    KeInsertDeviceQueue(&queue, &entries[0]);
    KeInsertByKeyDeviceQueue(&queue, &entries[1], 10);
    KeInsertByKeyDeviceQueue(&queue, &entries[2], 30);
    KeInsertByKeyDeviceQueue(&queue, &entries[3], 20);
    assert_ptr_equal(KeRemoveByKeyDeviceQueue(&queue, 15), &entries[3]);
    assert_ptr_equal(KeRemoveByKeyDeviceQueue(&queue, 30), &entries[2]);
    assert_ptr_equal(KeRemoveByKeyDeviceQueue(&queue, 40), &entries[1]);
    assert_null(KeRemoveByKeyDeviceQueue(&queue, 0));
    assert_false(queue.Busy);
    KeLowerIrql(old);
}

static void KeRemoveByKeyDeviceQueueIfBusy_returns_NULL_for_an_idle_queue_and_else_removes_by_key(void **state)
{
    PKDEVICE_QUEUE_ENTRY none[] = { NULL };
    KIRQL old = raise_to_dispatch();

    (void)state;
    assert_null(KeRemoveByKeyDeviceQueueIfBusy(&queue, 0));
    assert_queue(FALSE, none);
    KeInsertDeviceQueue(&queue, &entries[0]);
    KeInsertByKeyDeviceQueue(&queue, &entries[1], 7);
    assert_ptr_equal(KeRemoveByKeyDeviceQueueIfBusy(&queue, 5), &entries[1]);
    assert_null(KeRemoveByKeyDeviceQueueIfBusy(&queue, 5));
    assert_queue(FALSE, none);
    KeLowerIrql(old);
}

/* What a cancel routine does for an IRP still waiting: out of the queue, exactly once. */
static void KeRemoveEntryDeviceQueue_takes_a_queued_entry_out_once_and_leaves_the_queue_busy(void **state)
{
    PKDEVICE_QUEUE_ENTRY rest[] = { &entries[2], NULL };
    PKDEVICE_QUEUE_ENTRY none[] = { NULL };
    KIRQL old = raise_to_dispatch();

    (void)state;
    KeInsertDeviceQueue(&queue, &entries[0]);
    KeInsertDeviceQueue(&queue, &entries[1]);
    KeInsertDeviceQueue(&queue, &entries[2]);
    KeLowerIrql(old);
    /* Below DISPATCH_LEVEL too: it raises itself. */
    assert_true(KeRemoveEntryDeviceQueue(&queue, &entries[1]));
    assert_false(entries[1].Inserted);
    assert_false(KeRemoveEntryDeviceQueue(&queue, &entries[1]));
    assert_false(KeRemoveEntryDeviceQueue(&queue, &entries[0]));  /* the one being served: never queued */
    assert_queue(TRUE, rest);
    assert_true(KeRemoveEntryDeviceQueue(&queue, &entries[2]));
    assert_queue(TRUE, none);
    assert_int_equal(KeGetCurrentIrql(), PASSIVE_LEVEL);
}

/* ---- Rules ---- */

static void insert_at_passive(void *context)
{
    (void)context;
    KeInitializeDeviceQueue(&queue);
    KeInsertDeviceQueue(&queue, &entries[0]);
}

static void KeInsertDeviceQueue_below_DISPATCH_LEVEL_stops_with_IrqlDispatch(void **state)
{
    (void)state;
    wdmsim_assert_stops(insert_at_passive, NULL, 0xC4, 0x20003, "devqueue.not_at_dispatch", NULL);
}

static void remove_above_dispatch(void *context)
{
    KIRQL old;

    (void)context;
    KeInitializeDeviceQueue(&queue);
    KeRaiseIrql(HIGH_LEVEL, &old);
    KeRemoveDeviceQueue(&queue);
}

static void KeRemoveDeviceQueue_above_DISPATCH_LEVEL_stops_with_IrqlDispatch(void **state)
{
    (void)state;
    wdmsim_assert_stops(remove_above_dispatch, NULL, 0xC4, 0x20003, "devqueue.not_at_dispatch", NULL);
}

/* ---- Unload ---- */

static KDEVICE_QUEUE driver_queue;
static KDEVICE_QUEUE_ENTRY driver_entries[2];

static VOID NTAPI forgetful_unload(PDRIVER_OBJECT driver)
{
    (void)driver;
}

/* Starts one request and queues another behind it, then forgets both. */
static NTSTATUS NTAPI forgetful_entry(PDRIVER_OBJECT driver, PUNICODE_STRING registry_path)
{
    KIRQL old;

    (void)registry_path;
    driver->DriverUnload = forgetful_unload;
    KeInitializeDeviceQueue(&driver_queue);
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    KeInsertDeviceQueue(&driver_queue, &driver_entries[0]);
    KeInsertDeviceQueue(&driver_queue, &driver_entries[1]);
    KeLowerIrql(old);
    return STATUS_SUCCESS;
}

static void unload_with_an_entry_queued(void *context)
{
    PDRIVER_OBJECT driver;

    (void)context;
    if (NT_SUCCESS(wdmsim_driver_load("forgetful", forgetful_entry, &driver)))
        wdmsim_driver_unload(driver);
}

static void an_unload_with_an_entry_still_in_a_device_queue_stops_with_0xCE_naming_it(void **state)
{
    struct wdmsim_stop stop;
    char line[64];

    (void)state;
    wdmsim_assert_stops(unload_with_an_entry_queued, NULL, 0xCE, WDMSIM_ANY_PARAM,
                        "driver.unload_pending_operations", &stop);
    snprintf(line, sizeof line, "device queue entry %p", (void *)&driver_entries[1]);
    wdmsim_assert_report_has(&stop, line);
    /* The first was never queued: the driver was serving it. */
    snprintf(line, sizeof line, "device queue entry %p", (void *)&driver_entries[0]);
    assert_null(strstr(stop.report, line));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        devqueue_test(KeInitializeDeviceQueue_makes_an_idle_empty_queue_object),
        devqueue_test(an_insert_into_an_idle_queue_returns_FALSE_and_only_makes_it_busy),
        devqueue_test(inserts_into_a_busy_queue_queue_at_the_tail_and_removes_take_them_in_order_until_idle),
        devqueue_test(KeInsertByKeyDeviceQueue_orders_by_key_and_keeps_equal_keys_in_arrival_order),
        devqueue_test(KeRemoveByKeyDeviceQueue_takes_the_first_entry_at_or_above_the_key_else_the_first_of_all),
        devqueue_test(KeRemoveByKeyDeviceQueueIfBusy_returns_NULL_for_an_idle_queue_and_else_removes_by_key),
        devqueue_test(KeRemoveEntryDeviceQueue_takes_a_queued_entry_out_once_and_leaves_the_queue_busy),
        cmocka_unit_test(KeInsertDeviceQueue_below_DISPATCH_LEVEL_stops_with_IrqlDispatch),
        cmocka_unit_test(KeRemoveDeviceQueue_above_DISPATCH_LEVEL_stops_with_IrqlDispatch),
        cmocka_unit_test(an_unload_with_an_entry_still_in_a_device_queue_stops_with_0xCE_naming_it),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
