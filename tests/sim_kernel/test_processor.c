/*
 * test_processor.c - the simulated machine's processors (sim_kernel/src/processor.c): how many,
 * which one a thread runs on, and the system affinity that moves it and the revert that brings it
 * back, as the DDK documents KeSetSystemAffinityThreadEx and KeRevertToUserAffinityThreadEx.
 */
#include <stdatomic.h>

#include <wdmsim/test.h>

static void the_machine_has_four_active_processors_in_group_0(void **state)
{
    KAFFINITY active = 0;

    (void)state;
    assert_int_equal(KeQueryActiveProcessorCount(&active), 4);
    assert_int_equal(active, 0xF);
    assert_int_equal(KeQueryActiveProcessorCount(NULL), 4);
    assert_int_equal(KeQueryActiveProcessors(), 0xF);
    assert_int_equal(KeQueryActiveProcessorCountEx(0), 4);
    assert_int_equal(KeQueryActiveProcessorCountEx(ALL_PROCESSOR_GROUPS), 4);
    assert_int_equal(KeQueryActiveProcessorCountEx(1), 0);
}

static void a_thread_stays_on_one_processor_and_the_Ex_form_names_its_group(void **state)
{
    PROCESSOR_NUMBER number = { 7, 7, 7 };
    ULONG index = KeGetCurrentProcessorNumber();

    (void)state;
    assert_true(index < 4);
    assert_int_equal(KeGetCurrentProcessorNumber(), index);
    assert_int_equal(KeGetCurrentProcessorNumberEx(&number), index);
    assert_int_equal(number.Group, 0);
    assert_int_equal(number.Number, index);
    assert_int_equal(number.Reserved, 0);
    assert_int_equal(KeGetCurrentProcessorNumberEx(NULL), index);
}

static void a_system_affinity_moves_the_thread_and_reverting_brings_it_back(void **state)
{
    ULONG home = KeGetCurrentProcessorNumber();
    KAFFINITY elsewhere = (KAFFINITY)1 << ((home + 2) % 4);
    KAFFINITY previous;

    (void)state;
    assert_int_equal(KeSetSystemAffinityThreadEx(elsewhere), 0);
    assert_int_equal(KeGetCurrentProcessorNumber(), (home + 2) % 4);
    previous = KeSetSystemAffinityThreadEx(0xF);
    assert_int_equal(previous, elsewhere);
    assert_int_equal(KeGetCurrentProcessorNumber(), (home + 2) % 4);
    KeRevertToUserAffinityThreadEx(previous);
    assert_int_equal(KeGetCurrentProcessorNumber(), (home + 2) % 4);
    KeRevertToUserAffinityThreadEx(0);
    assert_int_equal(KeGetCurrentProcessorNumber(), home);
}

static void an_affinity_of_processors_that_do_not_exist_has_no_effect(void **state)
{
    ULONG home = KeGetCurrentProcessorNumber();

    (void)state;
    assert_int_equal(KeSetSystemAffinityThreadEx(0x10), 0);
    assert_int_equal(KeGetCurrentProcessorNumber(), home);
    assert_int_equal(KeSetSystemAffinityThreadEx(0), 0);
    KeSetSystemAffinityThread((KAFFINITY)1 << ((home + 1) % 4));
    assert_int_equal(KeGetCurrentProcessorNumber(), (home + 1) % 4);
    KeRevertToUserAffinityThread();
    assert_int_equal(KeGetCurrentProcessorNumber(), home);
}

static void affinity_at(void *context)
{
    KIRQL old;

    KeRaiseIrql(*(KIRQL *)context, &old);
    KeSetSystemAffinityThreadEx(1);
    KeRevertToUserAffinityThreadEx(0);
    KeLowerIrql(old);
}

static void affinity_works_at_DISPATCH_LEVEL_and_stops_above(void **state)
{
    KIRQL irql = DISPATCH_LEVEL;

    (void)state;
    affinity_at(&irql);
    irql = HIGH_LEVEL;
    wdmsim_assert_stops(affinity_at, &irql, 0xC4, WDMSIM_ANY_PARAM, "ke.above_dispatch", NULL);
}

static void record_processor(void *context)
{
    atomic_fetch_or((atomic_uint *)context, 1u << KeGetCurrentProcessorNumber());
}

static void four_new_threads_are_placed_on_the_four_processors(void **state)
{
    atomic_uint used = 0;
    PKTHREAD threads[4];

    (void)state;
    for (int i = 0; i < 4; i++)
        threads[i] = wdmsim_thread_start(NULL, record_processor, &used);
    for (int i = 0; i < 4; i++)
        wdmsim_thread_join(threads[i]);
    assert_int_equal(atomic_load(&used), 0xF);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        wdmsim_test(the_machine_has_four_active_processors_in_group_0),
        wdmsim_test(a_thread_stays_on_one_processor_and_the_Ex_form_names_its_group),
        wdmsim_test(a_system_affinity_moves_the_thread_and_reverting_brings_it_back),
        wdmsim_test(an_affinity_of_processors_that_do_not_exist_has_no_effect),
        wdmsim_test(affinity_works_at_DISPATCH_LEVEL_and_stops_above),
        wdmsim_test(four_new_threads_are_placed_on_the_four_processors),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
