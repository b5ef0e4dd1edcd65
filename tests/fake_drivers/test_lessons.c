/*
 * test_lessons.c - the lessons of fake_drivers/lessons added for the book's mistakes and the
 * executive's rules: each stops on its rule, with the Windows code, and its fixed twin runs clean.
 * (`wdmsim lesson all`, the ctest test "lessons", runs every lesson and twin through the command;
 * the race lesson, which the explorer runs, is checked through the command only: tests/tools.)
 */
#include <lessons.h>
#include <wdmsim/test.h>

struct lesson_case {
    VOID (*routine)(VOID);          /* a routine lesson, or */
    PDRIVER_INITIALIZE entry;       /* a driver lesson */
};

/* What the application does to a driver lesson's device: opens it and writes to it. */
static void application(void *context)
{
    LARGE_INTEGER offset = { .QuadPart = 0 };
    UNICODE_STRING name;
    OBJECT_ATTRIBUTES attributes;
    IO_STATUS_BLOCK iosb;
    HANDLE handle;
    char text[] = "hello";

    (void)context;
    RtlInitUnicodeString(&name, LESSON_HANDLE_LINK);
    InitializeObjectAttributes(&attributes, &name, OBJ_CASE_INSENSITIVE, NULL, NULL);
    assert_int_equal(ZwCreateFile(&handle, GENERIC_WRITE, &attributes, &iosb, NULL, FILE_ATTRIBUTE_NORMAL, 0,
                                  FILE_OPEN, 0, NULL, 0), STATUS_SUCCESS);
    assert_int_equal(ZwWriteFile(handle, NULL, NULL, NULL, &iosb, text, sizeof text - 1, &offset, NULL),
                     STATUS_SUCCESS);
    ZwClose(handle);
}

static void run(void *context)
{
    const struct lesson_case *lesson = context;
    PDRIVER_OBJECT driver;
    PEPROCESS process;

    if (lesson->routine != NULL) {
        lesson->routine();
        return;
    }
    assert_int_equal(wdmsim_driver_load("lesson", lesson->entry, &driver), STATUS_SUCCESS);
    if (lesson->entry == LessonSameProcessHandleEntry || lesson->entry == LessonSameProcessHandleFixedEntry) {
        process = wdmsim_process_create("lesson.exe");
        wdmsim_process_run(process, application, NULL);
        wdmsim_process_terminate(process);
    }
    wdmsim_driver_unload(driver);
}

static void assert_runs_clean(struct lesson_case fixed)
{
    struct wdmsim_stop result;

    wdmsim_run_isolated(run, &fixed, NULL, 60, &result);
    assert_false(result.stopped);
    assert_true(result.finished);
    assert_int_equal(result.leaks, 0);
}

static void a_handle_from_DriverEntry_used_in_an_application_s_process_stops_with_0xC4_0xF6(void **state)
{
    struct lesson_case lesson = { NULL, LessonSameProcessHandleEntry };

    (void)state;
    wdmsim_assert_stops(run, &lesson, 0xC4, 0xF6, "handle.user_handle_as_kernel", NULL);
    assert_runs_clean((struct lesson_case){ NULL, LessonSameProcessHandleFixedEntry });
}

static void an_unload_leaving_its_system_thread_running_stops_with_0xCE(void **state)
{
    struct lesson_case lesson = { NULL, LessonUnloadLeavesThreadEntry };

    (void)state;
    wdmsim_assert_stops(run, &lesson, 0xCE, WDMSIM_ANY_PARAM, "driver.unload_pending_operations", NULL);
    assert_runs_clean((struct lesson_case){ NULL, LessonUnloadLeavesThreadFixedEntry });
}

static void freeing_pool_that_holds_a_queued_DPC_stops_with_0xC7(void **state)
{
    struct lesson_case lesson = { LessonFreePoolWithDpcQueued, NULL };

    (void)state;
    wdmsim_assert_stops(run, &lesson, 0xC7, 1, "pool.free_queued_dpc", NULL);
    assert_runs_clean((struct lesson_case){ LessonFreePoolWithDpcQueuedFixed, NULL });
}

static void an_ERESOURCE_taken_outside_a_critical_region_stops_with_0xC4_0x37(void **state)
{
    struct lesson_case lesson = { LessonResourceWithoutCriticalRegion, NULL };

    (void)state;
    wdmsim_assert_stops(run, &lesson, 0xC4, 0x37, "resource.acquire_with_apcs_enabled", NULL);
    assert_runs_clean((struct lesson_case){ LessonResourceWithoutCriticalRegionFixed, NULL });
}

static void a_fast_mutex_taken_again_by_its_owner_stops_with_0xC4_0x1000(void **state)
{
    struct lesson_case lesson = { LessonFastMutexRecursion, NULL };

    (void)state;
    wdmsim_assert_stops(run, &lesson, 0xC4, 0x1000, "fast_mutex.recursive_acquire", NULL);
    assert_runs_clean((struct lesson_case){ LessonFastMutexRecursionFixed, NULL });
}

static void a_system_thread_ending_with_a_KMUTEX_held_stops_with_0x4000008A(void **state)
{
    struct lesson_case lesson = { LessonMutexHeldAtThreadExit, NULL };

    (void)state;
    wdmsim_assert_stops(run, &lesson, 0x4000008A, WDMSIM_ANY_PARAM, "mutex.held_at_thread_exit", NULL);
    assert_runs_clean((struct lesson_case){ LessonMutexHeldAtThreadExitFixed, NULL });
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        wdmsim_test(a_handle_from_DriverEntry_used_in_an_application_s_process_stops_with_0xC4_0xF6),
        wdmsim_test(an_unload_leaving_its_system_thread_running_stops_with_0xCE),
        wdmsim_test(freeing_pool_that_holds_a_queued_DPC_stops_with_0xC7),
        wdmsim_test(an_ERESOURCE_taken_outside_a_critical_region_stops_with_0xC4_0x37),
        wdmsim_test(a_fast_mutex_taken_again_by_its_owner_stops_with_0xC4_0x1000),
        wdmsim_test(a_system_thread_ending_with_a_KMUTEX_held_stops_with_0x4000008A),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
