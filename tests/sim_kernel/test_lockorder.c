/*
 * test_lockorder.c - the lock-order checker: an inversion seen across runs that never deadlocked
 * stops with 0xC4/0x1001 naming both chains, across lock kinds, with classes shared by every lock
 * one site initialised; the other deadlock-detection subcodes (0x1003, 0x100A, 0x100B); freed
 * locks and unloaded drivers' classes forgotten; the lock-order lesson and its fixed twin.
 * Threads run one after another: nothing ever waits for a lock another thread holds.
 * The routines that take locks are not static, so that reports name them.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lessons.h>

#include "wdmsim_test_threads.h"

#define LOCKORDER_TEST_TAG 'tsoL'
/* After the last call of a routine a report names: an optimised build would make it a tail call
 * (a jump), and the report would name the caller instead, as it does for driver code built so. */
#define NOT_A_TAIL_CALL() __asm__ __volatile__("" ::: "memory")

void lock_order_init_a(void);
void lock_order_init_b(void);
void lock_order_take_a_then_b(void *context);
void lock_order_take_b_then_a(void *context);
void lock_order_init_shared(PKSPIN_LOCK lock);
void lock_order_take_one_then_b(void *context);
void lock_order_take_b_then_one(void *context);
void lock_order_resource_then_mutex(void *context);
void lock_order_mutex_then_resource(void *context);
void lock_order_fast_then_guarded(void *context);
void lock_order_guarded_then_fast(void *context);
void lock_order_a_then_pool_lock(PKSPIN_LOCK pool_lock);
void lock_order_pool_lock_then_a(PKSPIN_LOCK pool_lock);
void lock_order_a_then_zeroed(void *context);
void lock_order_nest(PKSPIN_LOCK outer, PKSPIN_LOCK inner);
void lock_order_init_fast(void);
void lock_order_init_guarded(void);
void lock_order_zeroed_then_a(void *context);

static KSPIN_LOCK lock_a, lock_b, lock_one, lock_two, zeroed_lock;
static ERESOURCE resource;
static KMUTEX mutex;
static FAST_MUTEX fast_mutex;
static KGUARDED_MUTEX guarded_mutex;

/* Two initialisers, so lock_a and lock_b are of two classes. */
__attribute__((noinline)) void lock_order_init_a(void)
{
    KeInitializeSpinLock(&lock_a);
    NOT_A_TAIL_CALL();
}

__attribute__((noinline)) void lock_order_init_b(void)
{
    KeInitializeSpinLock(&lock_b);
    NOT_A_TAIL_CALL();
}

__attribute__((noinline)) void lock_order_nest(PKSPIN_LOCK outer, PKSPIN_LOCK inner)
{
    KIRQL outer_irql, inner_irql;

    KeAcquireSpinLock(outer, &outer_irql);
    KeAcquireSpinLock(inner, &inner_irql);
    KeReleaseSpinLock(inner, inner_irql);
    KeReleaseSpinLock(outer, outer_irql);
}

void lock_order_take_a_then_b(void *context)
{
    (void)context;
    lock_order_nest(&lock_a, &lock_b);
    NOT_A_TAIL_CALL();
}

void lock_order_take_b_then_a(void *context)
{
    (void)context;
    lock_order_nest(&lock_b, &lock_a);
    NOT_A_TAIL_CALL();
}

/* Runs first, then second, each on a thread of its own: one after the other, never at once. */
static void run_in_turn(void (*first)(void *), void (*second)(void *))
{
    struct wdmsim_test_thread thread;

    wdmsim_test_thread_start(&thread, first, NULL);
    wdmsim_test_thread_join(&thread);
    wdmsim_test_thread_start(&thread, second, NULL);
    wdmsim_test_thread_join(&thread);
}

static void spin_locks_in_both_orders(void *context)
{
    (void)context;
    lock_order_init_a();
    lock_order_init_b();
    run_in_turn(lock_order_take_a_then_b, lock_order_take_b_then_a);
}

static void two_threads_taking_two_spin_locks_in_opposite_orders_stop_with_C4_1001_naming_both_chains(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(spin_locks_in_both_orders, NULL, 0xC4, 0x1001, "lockorder.cycle", &stop);
    assert_int_equal(stop.params[1], (ULONG_PTR)&lock_a);
    assert_int_equal(stop.params[2], (ULONG_PTR)&lock_b);
    wdmsim_assert_report_has(&stop, "class initialised at lock_order_init_a");
    wdmsim_assert_report_has(&stop, "class initialised at lock_order_init_b");
    wdmsim_assert_report_has(&stop, "Now, thread");
    wdmsim_assert_report_has(&stop, "Before, the other order:");
    wdmsim_assert_report_has(&stop, "lock_order_take_a_then_b");
    wdmsim_assert_report_has(&stop, "lock_order_take_b_then_a");
}

static void spin_locks_in_one_order(void *context)
{
    (void)context;
    lock_order_init_a();
    lock_order_init_b();
    run_in_turn(lock_order_take_a_then_b, lock_order_take_a_then_b);
    lock_order_nest(&lock_a, &lock_b);
    NOT_A_TAIL_CALL();
}

static void taking_two_locks_in_the_same_order_again_and_again_is_fine(void **state)
{
    (void)state;
    spin_locks_in_one_order(NULL);
}

/* ---- Classes ---- */

__attribute__((noinline)) void lock_order_init_shared(PKSPIN_LOCK lock)
{
    KeInitializeSpinLock(lock);
    NOT_A_TAIL_CALL();
}

void lock_order_take_one_then_b(void *context)
{
    (void)context;
    lock_order_nest(&lock_one, &lock_b);
    NOT_A_TAIL_CALL();
}

void lock_order_take_b_then_one(void *context)
{
    (void)context;
    lock_order_nest(&lock_b, &lock_two);
    NOT_A_TAIL_CALL();
}

/* lock_one and lock_two come from one initialiser: lock_two inherits what lock_one taught. */
static void two_instances_of_one_class(void *context)
{
    (void)context;
    lock_order_init_shared(&lock_one);
    lock_order_init_shared(&lock_two);
    lock_order_init_b();
    run_in_turn(lock_order_take_one_then_b, lock_order_take_b_then_one);
}

static void locks_initialised_at_one_site_share_a_class(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(two_instances_of_one_class, NULL, 0xC4, 0x1001, "lockorder.cycle", &stop);
    assert_int_equal(stop.params[1], (ULONG_PTR)&lock_two);
    wdmsim_assert_report_has(&stop, "class initialised at lock_order_init_shared");
}

void lock_order_a_then_zeroed(void *context)
{
    (void)context;
    lock_order_nest(&lock_a, &zeroed_lock);
    NOT_A_TAIL_CALL();
}

void lock_order_zeroed_then_a(void *context)
{
    (void)context;
    lock_order_nest(&zeroed_lock, &lock_a);
    NOT_A_TAIL_CALL();
}

/* A KSPIN_LOCK that is only zeroed, never passed to KeInitializeSpinLock, as drivers often have. */
static void a_zeroed_lock_in_both_orders(void *context)
{
    (void)context;
    lock_order_init_a();
    run_in_turn(lock_order_a_then_zeroed, lock_order_zeroed_then_a);
}

static void a_lock_no_DDI_initialised_is_classed_by_where_it_was_first_taken(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(a_zeroed_lock_in_both_orders, NULL, 0xC4, 0x1001, "lockorder.cycle", &stop);
    wdmsim_assert_report_has(&stop, "class first taken at lock_order_nest");
}

void lock_order_init_b_again(void);

/* The same lock_b, initialised again by other code: it now belongs to that code's class. */
__attribute__((noinline)) void lock_order_init_b_again(void)
{
    KeInitializeSpinLock(&lock_b);
    NOT_A_TAIL_CALL();
}

static void a_lock_initialised_again_in_both_orders(void *context)
{
    (void)context;
    lock_order_init_a();
    lock_order_init_b();
    lock_order_take_a_then_b(NULL);
    lock_order_init_b_again();
    lock_order_take_a_then_b(NULL);
    lock_order_take_b_then_a(NULL);
}

static void a_lock_initialised_again_elsewhere_takes_the_class_of_its_new_initialiser(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(a_lock_initialised_again_in_both_orders, NULL, 0xC4, 0x1001, "lockorder.cycle", &stop);
    wdmsim_assert_report_has(&stop, "class initialised at lock_order_init_b_again");
}

/* ---- Across kinds ---- */

void lock_order_resource_then_mutex(void *context)
{
    (void)context;
    KeEnterCriticalRegion();
    ExAcquireResourceExclusiveLite(&resource, TRUE);
    KeWaitForSingleObject(&mutex, Executive, KernelMode, FALSE, NULL);
    KeReleaseMutex(&mutex, FALSE);
    ExReleaseResourceLite(&resource);
    KeLeaveCriticalRegion();
}

void lock_order_mutex_then_resource(void *context)
{
    (void)context;
    KeWaitForSingleObject(&mutex, Executive, KernelMode, FALSE, NULL);
    ExAcquireResourceSharedLite(&resource, TRUE);
    ExReleaseResourceLite(&resource);
    KeReleaseMutex(&mutex, FALSE);
}

static void resource_and_mutex_in_both_orders(void *context)
{
    (void)context;
    ExInitializeResourceLite(&resource);
    KeInitializeMutex(&mutex, 0);
    run_in_turn(lock_order_resource_then_mutex, lock_order_mutex_then_resource);
}

static void an_inversion_between_an_ERESOURCE_and_a_KMUTEX_stops_with_C4_1001(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(resource_and_mutex_in_both_orders, NULL, 0xC4, 0x1001, "lockorder.cycle", &stop);
    assert_int_equal(stop.params[1], (ULONG_PTR)&resource);
    assert_int_equal(stop.params[2], (ULONG_PTR)&mutex);
    wdmsim_assert_report_has(&stop, "resource (ERESOURCE)");
    wdmsim_assert_report_has(&stop, "mutex (KMUTEX)");
}

void lock_order_fast_then_guarded(void *context)
{
    (void)context;
    ExAcquireFastMutex(&fast_mutex);
    KeAcquireGuardedMutex(&guarded_mutex);
    KeReleaseGuardedMutex(&guarded_mutex);
    ExReleaseFastMutex(&fast_mutex);
}

void lock_order_guarded_then_fast(void *context)
{
    (void)context;
    KeAcquireGuardedMutex(&guarded_mutex);
    ExAcquireFastMutex(&fast_mutex);
    ExReleaseFastMutex(&fast_mutex);
    KeReleaseGuardedMutex(&guarded_mutex);
}

/* ExInitializeFastMutex is inline in wdm.h, as in the DDK: the class is still this function. */
__attribute__((noinline)) void lock_order_init_fast(void)
{
    ExInitializeFastMutex(&fast_mutex);
    NOT_A_TAIL_CALL();
}

__attribute__((noinline)) void lock_order_init_guarded(void)
{
    KeInitializeGuardedMutex(&guarded_mutex);
    NOT_A_TAIL_CALL();
}

static void fast_and_guarded_in_both_orders(void *context)
{
    (void)context;
    lock_order_init_fast();
    lock_order_init_guarded();
    run_in_turn(lock_order_fast_then_guarded, lock_order_guarded_then_fast);
}

static void an_inversion_between_a_fast_mutex_and_a_guarded_mutex_stops_with_C4_1001(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(fast_and_guarded_in_both_orders, NULL, 0xC4, 0x1001, "lockorder.cycle", &stop);
    assert_int_equal(stop.params[1], (ULONG_PTR)&fast_mutex);
    wdmsim_assert_report_has(&stop, "the fast mutex at");
    wdmsim_assert_report_has(&stop, "class initialised at lock_order_init_fast+");
    wdmsim_assert_report_has(&stop, "class initialised at lock_order_init_guarded+");
}

static void spin_lock_under_fast_mutex_then_the_reverse(void *context)
{
    KIRQL old;

    (void)context;
    ExInitializeFastMutex(&fast_mutex);
    lock_order_init_a();
    ExAcquireFastMutex(&fast_mutex);
    KeAcquireSpinLock(&lock_a, &old);
    KeReleaseSpinLock(&lock_a, old);
    ExReleaseFastMutex(&fast_mutex);
    KeAcquireSpinLock(&lock_a, &old);
    ExAcquireFastMutex(&fast_mutex);
}

/* A cycle through a spin lock would need a wait at DISPATCH_LEVEL: the IRQL rule stops first. */
static void a_fast_mutex_under_a_spin_lock_stops_on_its_IRQL_rule_before_the_order_check(void **state)
{
    (void)state;
    wdmsim_assert_stops(spin_lock_under_fast_mutex_then_the_reverse, NULL, 0xC4, 0x33,
                        "fast_mutex.acquire_above_apc", NULL);
}

/* ---- 0x1003: a release that lowers the IRQL under a lock taken later ---- */

static void release_the_first_spin_lock_first(void *context)
{
    KIRQL a_irql, b_irql;

    (void)context;
    lock_order_init_a();
    lock_order_init_b();
    KeAcquireSpinLock(&lock_a, &a_irql);
    KeAcquireSpinLock(&lock_b, &b_irql);
    KeReleaseSpinLock(&lock_a, a_irql);
}

static void releasing_spin_locks_out_of_order_below_DISPATCH_LEVEL_stops_with_C4_1003(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(release_the_first_spin_lock_first, NULL, 0xC4, 0x1003, "lockorder.release_out_of_order",
                        &stop);
    assert_int_equal(stop.params[1], (ULONG_PTR)&lock_a);
    assert_int_equal(stop.params[2], (ULONG_PTR)&lock_b);
}

static void release_out_of_order_at_dispatch(void *context)
{
    KIRQL old = KeRaiseIrqlToDpcLevel();
    KIRQL a_irql, b_irql;

    (void)context;
    lock_order_init_a();
    lock_order_init_b();
    KeAcquireSpinLock(&lock_a, &a_irql);
    KeAcquireSpinLock(&lock_b, &b_irql);
    KeReleaseSpinLock(&lock_a, a_irql);
    KeReleaseSpinLock(&lock_b, b_irql);
    KeLowerIrql(old);
}

static void releasing_out_of_order_where_the_IRQL_stays_at_DISPATCH_LEVEL_is_fine(void **state)
{
    (void)state;
    release_out_of_order_at_dispatch(NULL);
}

static void release_the_first_fast_mutex_first(void *context)
{
    KIRQL old;

    (void)context;
    ExInitializeFastMutex(&fast_mutex);
    lock_order_init_a();
    ExAcquireFastMutex(&fast_mutex);
    KeAcquireSpinLock(&lock_a, &old);
    ExReleaseFastMutex(&fast_mutex);
}

static void releasing_a_fast_mutex_under_a_later_spin_lock_stops_on_its_IRQL_rule(void **state)
{
    (void)state;
    wdmsim_assert_stops(release_the_first_fast_mutex_first, NULL, 0xC4, 0x34, "fast_mutex.release_not_at_apc", NULL);
}

static FAST_MUTEX second_fast_mutex;

static void release_fast_mutexes_out_of_order(void *context)
{
    (void)context;
    ExInitializeFastMutex(&fast_mutex);
    ExInitializeFastMutex(&second_fast_mutex);
    ExAcquireFastMutex(&fast_mutex);
    ExAcquireFastMutex(&second_fast_mutex);
    ExReleaseFastMutex(&fast_mutex);
}

static void releasing_fast_mutexes_out_of_order_stops_with_C4_1003(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(release_fast_mutexes_out_of_order, NULL, 0xC4, 0x1003, "lockorder.release_out_of_order",
                        &stop);
    assert_int_equal(stop.params[1], (ULONG_PTR)&fast_mutex);
    assert_int_equal(stop.params[2], (ULONG_PTR)&second_fast_mutex);
}

/* ---- 0x100A and 0x100B ---- */

static void take_a_and_end(void *context)
{
    KIRQL old;

    (void)context;
    KeAcquireSpinLock(&lock_a, &old);
}

static void a_thread_ends_holding_a_spin_lock(void *context)
{
    struct wdmsim_test_thread thread;

    (void)context;
    lock_order_init_a();
    wdmsim_test_thread_start(&thread, take_a_and_end, NULL);
    wdmsim_test_thread_join(&thread);
}

static void a_thread_that_ends_holding_a_spin_lock_stops_with_C4_100A(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(a_thread_ends_holding_a_spin_lock, NULL, 0xC4, 0x100A, "lockorder.held_at_thread_exit",
                        &stop);
    assert_int_equal(stop.params[1], (ULONG_PTR)&lock_a);
    wdmsim_assert_report_has(&stop, "ends holding the spin lock");
}

static void take_fast_mutex_and_end(void *context)
{
    (void)context;
    ExAcquireFastMutex(&fast_mutex);
}

static void a_thread_ends_holding_a_fast_mutex(void *context)
{
    struct wdmsim_test_thread thread;

    (void)context;
    ExInitializeFastMutex(&fast_mutex);
    wdmsim_test_thread_start(&thread, take_fast_mutex_and_end, NULL);
    wdmsim_test_thread_join(&thread);
}

static void a_thread_that_ends_holding_a_fast_mutex_stops_with_C4_100A(void **state)
{
    (void)state;
    wdmsim_assert_stops(a_thread_ends_holding_a_fast_mutex, NULL, 0xC4, 0x100A, "lockorder.held_at_thread_exit",
                        NULL);
}

static void free_a_held_spin_lock(void *context)
{
    PKSPIN_LOCK lock = ExAllocatePoolWithTag(NonPagedPoolNx, sizeof *lock, LOCKORDER_TEST_TAG);
    KIRQL old;

    (void)context;
    KeInitializeSpinLock(lock);
    KeAcquireSpinLock(lock, &old);
    ExFreePoolWithTag(lock, LOCKORDER_TEST_TAG);
}

static void freeing_pool_that_holds_a_held_spin_lock_stops_with_C4_100B(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(free_a_held_spin_lock, NULL, 0xC4, 0x100B, "lockorder.freed_while_held", &stop);
    assert_int_equal(stop.params[1], stop.params[3]);
}

static void free_an_owned_mutex(void *context)
{
    PKMUTEX owned = ExAllocatePoolWithTag(NonPagedPoolNx, sizeof *owned, LOCKORDER_TEST_TAG);

    (void)context;
    KeInitializeMutex(owned, 0);
    KeWaitForSingleObject(owned, Executive, KernelMode, FALSE, NULL);
    ExFreePoolWithTag(owned, LOCKORDER_TEST_TAG);
}

static void freeing_pool_that_holds_an_owned_KMUTEX_stops_with_C4_100B(void **state)
{
    (void)state;
    wdmsim_assert_stops(free_an_owned_mutex, NULL, 0xC4, 0x100B, "lockorder.freed_while_held", NULL);
}

/* ---- Bad input: freed locks, unloaded drivers ---- */

void lock_order_a_then_pool_lock(PKSPIN_LOCK pool_lock)
{
    lock_order_nest(&lock_a, pool_lock);
    NOT_A_TAIL_CALL();
}

void lock_order_pool_lock_then_a(PKSPIN_LOCK pool_lock)
{
    lock_order_nest(pool_lock, &lock_a);
    NOT_A_TAIL_CALL();
}

#define REUSE_TRIES 4096

static PVOID reuse_blocks[REUSE_TRIES];

/* The pool keeps freed blocks in quarantine: push freed out of it with other frees, then allocate
 * (keeping every block) until the host allocator hands out freed's memory again. */
static void reuse_address(PVOID freed, bool *reused)
{
    size_t kept = 0;

    for (size_t i = 0; i < REUSE_TRIES; i++)
        reuse_blocks[i] = ExAllocatePoolWithTag(NonPagedPoolNx, 64, LOCKORDER_TEST_TAG);
    for (size_t i = 0; i < REUSE_TRIES; i++)
        ExFreePoolWithTag(reuse_blocks[i], LOCKORDER_TEST_TAG);
    *reused = false;
    while (kept < REUSE_TRIES && !*reused) {
        reuse_blocks[kept] = ExAllocatePoolWithTag(NonPagedPoolNx, 64, LOCKORDER_TEST_TAG);
        *reused = reuse_blocks[kept++] == freed;
    }
    for (size_t i = 0; i < kept - (*reused ? 1 : 0); i++)
        ExFreePoolWithTag(reuse_blocks[i], LOCKORDER_TEST_TAG);
}

/* A zeroed lock in pool is classed by where it was first taken; freed, the next lock at the same
 * address is another lock and starts anew. */
static void reuse_the_memory_of_a_freed_lock(void *context)
{
    bool *reused = context;
    PKSPIN_LOCK first = ExAllocatePoolWithTag(NonPagedPoolNx, 64, LOCKORDER_TEST_TAG);
    PKSPIN_LOCK second;

    lock_order_init_a();
    RtlZeroMemory(first, 64);
    lock_order_a_then_pool_lock(first);
    ExFreePoolWithTag(first, LOCKORDER_TEST_TAG);
    reuse_address(first, reused);
    if (!*reused)
        return;
    second = first;
    RtlZeroMemory(second, 64);
    lock_order_pool_lock_then_a(second);
    ExFreePoolWithTag(second, LOCKORDER_TEST_TAG);
}

static void a_lock_in_freed_pool_is_forgotten(void **state)
{
    bool reused = false;

    (void)state;
    reuse_the_memory_of_a_freed_lock(&reused);
    if (!reused)
        skip();     /* the pool gave another address (AddressSanitizer's quarantine): nothing to show */
}

static PDRIVER_OBJECT load_order_module(void)
{
    PDRIVER_OBJECT driver = NULL;

    if (wdmsim_driver_load_module(LOCKORDER_MODULE, "lockorder", &driver) != STATUS_SUCCESS)
        abort();
    return driver;
}

static void call(PDRIVER_OBJECT driver, const char *routine)
{
    VOID (*fn)(VOID) = (VOID (*)(VOID))wdmsim_driver_symbol(driver, routine);

    fn();
}

static void one_copy_in_both_orders(void *context)
{
    PDRIVER_OBJECT driver = load_order_module();

    (void)context;
    call(driver, "OrderQueueThenDevice");
    call(driver, "OrderDeviceThenQueue");
}

static void a_drivers_inversion_is_caught_by_its_classes(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(one_copy_in_both_orders, NULL, 0xC4, 0x1001, "lockorder.cycle", &stop);
    wdmsim_assert_report_has(&stop, "class initialised at DriverEntry");
}

/* The second copy is mapped where the first was: same code addresses, another driver. */
static void an_unloaded_drivers_lock_classes_are_forgotten(void **state)
{
    PDRIVER_OBJECT first, second;
    void *first_lock;

    (void)state;
    first = load_order_module();
    first_lock = wdmsim_driver_symbol(first, "QueueLock");
    call(first, "OrderQueueThenDevice");
    wdmsim_driver_unload(first);
    second = load_order_module();
    if (wdmsim_driver_symbol(second, "QueueLock") != first_lock)
        skip();     /* mapped elsewhere: the classes would differ anyway */
    call(second, "OrderDeviceThenQueue");
    wdmsim_driver_unload(second);
}

#define MORE_LOCKS_THAN_KEPT 16385

static KSPIN_LOCK many_locks[MORE_LOCKS_THAN_KEPT];

static void initialise_too_many_locks(void *context)
{
    (void)context;
    for (size_t i = 0; i < MORE_LOCKS_THAN_KEPT; i++)
        KeInitializeSpinLock(&many_locks[i]);
    for (size_t i = 0; i < MORE_LOCKS_THAN_KEPT; i++)
        KeInitializeSpinLock(&many_locks[i]);
    lock_order_init_a();
    lock_order_init_b();
    run_in_turn(lock_order_take_a_then_b, lock_order_take_a_then_b);
}

static void a_full_lock_table_is_said_once_and_the_run_goes_on(void **state)
{
    struct wdmsim_stop result;
    FILE *output = tmpfile();
    char line[256];
    int said = 0;

    (void)state;
    assert_non_null(output);
    wdmsim_run_isolated(initialise_too_many_locks, NULL, output, 0, &result);
    rewind(output);
    while (fgets(line, sizeof line, output) != NULL)
        said += strstr(line, "wdmsim: lock order: the table of locks is full (16384)") != NULL;
    fclose(output);
    assert_true(result.finished);
    assert_int_equal(said, 1);
}

static void run_the_lesson(void *context)
{
    (void)context;
    LessonLockOrderInversion();
}

static void the_lock_order_lesson_stops_and_its_fixed_twin_runs_clean(void **state)
{
    (void)state;
    wdmsim_assert_stops(run_the_lesson, NULL, 0xC4, 0x1001, "lockorder.cycle", NULL);
    LessonLockOrderInversionFixed();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        wdmsim_test(two_threads_taking_two_spin_locks_in_opposite_orders_stop_with_C4_1001_naming_both_chains),
        wdmsim_test(taking_two_locks_in_the_same_order_again_and_again_is_fine),
        wdmsim_test(locks_initialised_at_one_site_share_a_class),
        wdmsim_test(a_lock_no_DDI_initialised_is_classed_by_where_it_was_first_taken),
        wdmsim_test(a_lock_initialised_again_elsewhere_takes_the_class_of_its_new_initialiser),
        wdmsim_test(an_inversion_between_an_ERESOURCE_and_a_KMUTEX_stops_with_C4_1001),
        wdmsim_test(an_inversion_between_a_fast_mutex_and_a_guarded_mutex_stops_with_C4_1001),
        wdmsim_test(a_fast_mutex_under_a_spin_lock_stops_on_its_IRQL_rule_before_the_order_check),
        wdmsim_test(releasing_spin_locks_out_of_order_below_DISPATCH_LEVEL_stops_with_C4_1003),
        wdmsim_test(releasing_out_of_order_where_the_IRQL_stays_at_DISPATCH_LEVEL_is_fine),
        wdmsim_test(releasing_a_fast_mutex_under_a_later_spin_lock_stops_on_its_IRQL_rule),
        wdmsim_test(releasing_fast_mutexes_out_of_order_stops_with_C4_1003),
        wdmsim_test(a_thread_that_ends_holding_a_spin_lock_stops_with_C4_100A),
        wdmsim_test(a_thread_that_ends_holding_a_fast_mutex_stops_with_C4_100A),
        wdmsim_test(freeing_pool_that_holds_a_held_spin_lock_stops_with_C4_100B),
        wdmsim_test(freeing_pool_that_holds_an_owned_KMUTEX_stops_with_C4_100B),
        wdmsim_test(a_lock_in_freed_pool_is_forgotten),
        wdmsim_test(a_drivers_inversion_is_caught_by_its_classes),
        wdmsim_test(an_unloaded_drivers_lock_classes_are_forgotten),
        wdmsim_test(a_full_lock_table_is_said_once_and_the_run_goes_on),
        wdmsim_test(the_lock_order_lesson_stops_and_its_fixed_twin_runs_clean),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
