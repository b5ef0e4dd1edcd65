/*
 * lesson.c - the lessons of `wdmsim lesson`: one classic driver mistake each, from
 * fake_drivers/lessons. A lesson runs in a child on a fresh kernel until the STOP its mistake
 * causes; the report's backtrace names the faulting line (`at file:line`), which is shown with the
 * lines around it. Its fixed twin runs the same way and must end clean: no STOP, nothing leaked.
 * Simulator world: host code that drives the lessons through the wdmsim_ host API.
 */
#include <stdlib.h>
#include <string.h>

#include <lessons.h>
#include <wdmsim/wdmsim.h>

#include "lesson.h"

/* Host seconds a fixed twin may take before it counts as hung. */
#define LESSON_TIMEOUT_SECONDS 60
/* Lines shown before and after the faulting one. */
#define LESSON_LINES_BEFORE 3
#define LESSON_LINES_AFTER 2
#define LESSON_SOURCE_PREFIX "fake_drivers/lessons/"

/* What the host does with a driver lesson between loading and unloading it. */
enum lesson_use {
    LESSON_NOTHING,
    LESSON_APPLICATION_WRITES,      /* an application writes to LESSON_HANDLE_LINK */
    LESSON_READ_RACES_WRITE,        /* a reader's pending read races a write and its thread's end;
                                     * the explorer runs it under many schedules */
};

/* A lesson that is a whole driver: loaded, used, then unloaded. */
struct lesson_driver {
    PDRIVER_INITIALIZE entry;
    PDRIVER_INITIALIZE fixed_entry;
    enum lesson_use use;
};

static const struct lesson_driver unload_leaves_thread = { LessonUnloadLeavesThreadEntry,
                                                           LessonUnloadLeavesThreadFixedEntry, LESSON_NOTHING };
static const struct lesson_driver same_process_handle = { LessonSameProcessHandleEntry,
                                                          LessonSameProcessHandleFixedEntry,
                                                          LESSON_APPLICATION_WRITES };
static const struct lesson_driver pending_read_race = { LessonPendingReadRaceEntry, LessonPendingReadRaceFixedEntry,
                                                        LESSON_READ_RACES_WRITE };

/* The schedules the explorer tries for a race lesson: fixed, so the lesson does not depend on a
 * replay token that a rebuild would invalidate. */
#define LESSON_EXPLORE_STRATEGY "pct:3"
#define LESSON_EXPLORE_SEEDS 200

struct lesson {
    const char *name;
    const char *mistake;
    const char *rule;               /* the rule the mistake breaks */
    const char *shows;              /* what the lesson shows, for docs/lessons.md */
    const char *change;             /* what the fixed twin changes */
    const char *source;             /* its file in fake_drivers/lessons */
    /* Where the mistake is when the machine stops elsewhere (at unload, in the other path of a
     * race, inside an inline DDK routine): the first line of source that holds this text. */
    const char *marker;
    VOID (*run)(VOID);
    VOID (*fixed)(VOID);
    const struct lesson_driver *driver;     /* a lesson that is a driver instead */
};

static const struct lesson lessons[] = {
    { "spinlock-recursion", "acquiring a spin lock you already hold", "spinlock.recursive_acquire",
      "the second KeAcquireSpinLock on one processor spins for ever", "release the lock before taking it again",
      "spinlock_lessons.c", NULL, LessonSpinLockRecursion, LessonSpinLockRecursionFixed, NULL },
    { "interlocked-with-held-lock", "calling ExInterlockedInsertTailList with a lock you hold",
      "spinlock.recursive_acquire", "an ExInterlocked list call takes its lock itself",
      "under a lock you hold, use the plain InsertTailList", "spinlock_lessons.c", NULL,
      LessonInterlockedWithHeldLock, LessonInterlockedWithHeldLockFixed, NULL },
    { "paged-pool-at-dispatch", "allocating PagedPool at DISPATCH_LEVEL", "pool.paged_alloc_above_apc",
      "paged memory cannot be paged in at DISPATCH_LEVEL", "allocate NonPagedPoolNx at DISPATCH_LEVEL",
      "pool_lessons.c", NULL, LessonPagedPoolAtDispatch, LessonPagedPoolAtDispatchFixed, NULL },
    { "pool-double-free", "freeing the same pool block twice", "pool.double_free",
      "the second free is caught at the call, not later as corruption",
      "free once and set the pointer to NULL", "pool_lessons.c", NULL, LessonPoolDoubleFree,
      LessonPoolDoubleFreeFixed, NULL },
    { "list-double-remove", "removing a list entry twice", "list.corrupt_links",
      "RemoveEntryList checks the links, as the DDK's safe unlinking does",
      "after RemoveEntryList, InitializeListHead on the entry", "list_lessons.c", "/* again",
      LessonListDoubleRemove, LessonListDoubleRemoveFixed, NULL },
    { "wait-at-dispatch", "waiting for an event at DISPATCH_LEVEL", "wait.at_dispatch_forever",
      "a thread at DISPATCH_LEVEL cannot be switched out, so it cannot wait",
      "at DISPATCH_LEVEL only poll, with a zero timeout", "dispatcher_lessons.c", NULL, LessonWaitAtDispatch,
      LessonWaitAtDispatchFixed, NULL },
    { "mutex-release-not-owner", "releasing a KMUTEX the thread does not own", "mutex.release_not_owner",
      "a KMUTEX has an owner thread, and only it may release", "acquire the mutex before releasing it",
      "dispatcher_lessons.c", NULL, LessonMutexReleaseNotOwner, LessonMutexReleaseNotOwnerFixed, NULL },
    { "free-pool-with-timer-set", "freeing pool that holds a timer still set", "pool.free_active_timer",
      "the timer would expire in freed memory", "KeCancelTimer before freeing the block",
      "dispatcher_lessons.c", NULL, LessonFreePoolWithTimerSet, LessonFreePoolWithTimerSetFixed, NULL },
    { "zw-at-dispatch", "a Zw call at DISPATCH_LEVEL (the reason DebugPrint has a system thread)",
      "zw.not_passive", "Zw calls run at PASSIVE_LEVEL only",
      "make the Zw call at PASSIVE_LEVEL, from a system thread if the caller is raised",
      "dispatcher_lessons.c", NULL, LessonZwAtDispatch, LessonZwAtDispatchFixed, NULL },
    { "dereference-address-of-pointer",
      "ObDereferenceObject(&Pointer) instead of ObDereferenceObject(Pointer), as the book's DebugPrintClose does",
      "ob.not_an_object", "the book's mistake: the address of a pointer is not an object",
      "pass the pointer itself: ObDereferenceObject(ThreadObjectPointer)", "dispatcher_lessons.c", NULL,
      LessonDereferenceAddressOfPointer, LessonDereferenceAddressOfPointerFixed, NULL },
    { "lock-order-inversion",
      "two paths taking the same two spin locks in opposite orders, in a run that never deadlocks",
      "lockorder.cycle", "a potential deadlock found from a run in which nothing deadlocked",
      "take the pair in one order on every path", "lockorder_lessons.c", NULL, LessonLockOrderInversion,
      LessonLockOrderInversionFixed, NULL },
    { "free-pool-with-dpc-queued", "freeing pool that holds a DPC still queued", "pool.free_queued_dpc",
      "the queued DPC would run from freed memory", "KeRemoveQueueDpc (or KeFlushQueuedDpcs) before the free",
      "dpc_lessons.c", NULL, LessonFreePoolWithDpcQueued, LessonFreePoolWithDpcQueuedFixed, NULL },
    { "resource-without-critical-region", "taking an ERESOURCE with normal kernel APCs enabled",
      "resource.acquire_with_apcs_enabled", "a resource's holder must not be suspended by an APC",
      "KeEnterCriticalRegion before acquiring, KeLeaveCriticalRegion after releasing",
      "executive_lessons.c", NULL, LessonResourceWithoutCriticalRegion, LessonResourceWithoutCriticalRegionFixed,
      NULL },
    { "fast-mutex-recursion", "calling a helper that takes the fast mutex the caller already holds",
      "fast_mutex.recursive_acquire", "a fast mutex cannot be taken twice, even by its owner",
      "call the helper without the mutex held", "executive_lessons.c", NULL, LessonFastMutexRecursion,
      LessonFastMutexRecursionFixed, NULL },
    { "mutex-held-at-thread-exit", "a system thread's error path ending it with a KMUTEX still held",
      "mutex.held_at_thread_exit", "a mutex abandoned by its ending owner",
      "release on every path before PsTerminateSystemThread", "executive_lessons.c", NULL,
      LessonMutexHeldAtThreadExit, LessonMutexHeldAtThreadExitFixed, NULL },
    { "unload-leaves-thread-running", "a DriverUnload that leaves the driver's system thread running",
      "driver.unload_pending_operations", "the thread would run code from an unloaded image",
      "signal the thread to end and wait for its thread object before returning from DriverUnload",
      "unload_lessons.c", "static VOID NTAPI LessonUnloadForgettingThread", NULL, NULL, &unload_leaves_thread },
    { "same-process-handle",
      "the book's first DebugPrint design: a handle opened in DriverEntry, used from a dispatch routine an "
      "application calls",
      "handle.user_handle_as_kernel",
      "DriverEntry runs in the System process, a dispatch routine in its caller's: a process handle does not "
      "travel", "open the handle with OBJ_KERNEL_HANDLE (or use it from a system thread only)",
      "handle_lessons.c", NULL, NULL, NULL, &same_process_handle },
    { "pending-read-race",
      "the book's DebugPrint race: a pending read completed by an event while its thread's end cancels it",
      "io.irp_completed_twice",
      "a race the explorer finds at run time, among 200 pct:3 schedules (seeds 0..199) of a scenario that usually passes",
      "when IoSetCancelRoutine(Irp, NULL) returns NULL, leave the IRP to the cancel routine",
      "race_lessons.c", "/* the mistake", NULL, NULL, &pending_read_race },
};

#define LESSON_COUNT (sizeof lessons / sizeof lessons[0])

struct lesson_run {
    const struct lesson *lesson;
    bool fixed;
};

const struct lesson *lesson_find(const char *name)
{
    for (size_t i = 0; i < LESSON_COUNT; i++) {
        if (strcmp(lessons[i].name, name) == 0)
            return &lessons[i];
    }
    return NULL;
}

void lessons_list(FILE *out)
{
    for (size_t i = 0; i < LESSON_COUNT; i++)
        fprintf(out, "%-32s %s\n", lessons[i].name, lessons[i].mistake);
}

void lessons_write_markdown(FILE *out)
{
    fputs("# Lessons\n\n"
          "<!-- Generated by `wdmsim lesson --markdown`; a test checks this file is current. -->\n\n"
          "Each lesson is a small driver routine in `fake_drivers/lessons/` that makes one classic\n"
          "mistake, and its fixed twin (the same routine, named `...Fixed`). `wdmsim lesson NAME` runs the\n"
          "mistake to the STOP it causes and shows the faulty lines of the source, the report and what to\n"
          "change; `wdmsim lesson NAME --fixed` runs the twin, which must end clean; `wdmsim lesson all`\n"
          "checks every lesson stops on its rule and every twin passes.\n\n"
          "| Lesson | The mistake | Rule | What the lesson shows | The fix | Source |\n"
          "|---|---|---|---|---|---|\n",
          out);
    for (size_t i = 0; i < LESSON_COUNT; i++) {
        const struct lesson *l = &lessons[i];

        fprintf(out, "| `%s` | %s | `%s` | %s | %s | `%s%s` |\n", l->name, l->mistake, l->rule, l->shows, l->change,
                LESSON_SOURCE_PREFIX, l->source);
    }
}

/* The application of a driver lesson: opens the lesson's device and writes to it. */
static void lesson_application(void *context)
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
    if (!NT_SUCCESS(ZwCreateFile(&handle, GENERIC_WRITE, &attributes, &iosb, NULL, FILE_ATTRIBUTE_NORMAL, 0,
                                 FILE_OPEN, 0, NULL, 0)))
        return;
    ZwWriteFile(handle, NULL, NULL, NULL, &iosb, text, sizeof text - 1, &offset, NULL);
    ZwClose(handle);
}

/* The race lesson's reader process: its handle to the device, and the read's buffer and status. */
struct lesson_reader {
    HANDLE handle;
    IO_STATUS_BLOCK iosb;
    char buffer[16];
};

/* Opens the device for overlapped I/O and starts a read, which pends; the thread's end cancels it
 * (IoCancelThreadIo) unless the write completed it first. */
static void lesson_reader(void *context)
{
    struct lesson_reader *reader = context;
    LARGE_INTEGER offset = { .QuadPart = 0 };
    UNICODE_STRING name;
    OBJECT_ATTRIBUTES attributes;

    RtlInitUnicodeString(&name, LESSON_READ_LINK);
    InitializeObjectAttributes(&attributes, &name, OBJ_CASE_INSENSITIVE, NULL, NULL);
    if (NT_SUCCESS(ZwCreateFile(&reader->handle, GENERIC_READ | SYNCHRONIZE, &attributes, &reader->iosb, NULL,
                                FILE_ATTRIBUTE_NORMAL, 0, FILE_OPEN, 0, NULL, 0)))
        ZwReadFile(reader->handle, NULL, NULL, NULL, &reader->iosb, reader->buffer, sizeof reader->buffer, &offset,
                   NULL);
}

static void lesson_reader_close(void *context)
{
    struct lesson_reader *reader = context;

    if (reader->handle != NULL)
        ZwClose(reader->handle);
}

/* The race lesson's writer: an event arrives, from a kernel handle. */
static void lesson_writer(void *context)
{
    LARGE_INTEGER offset = { .QuadPart = 0 };
    UNICODE_STRING name;
    OBJECT_ATTRIBUTES attributes;
    IO_STATUS_BLOCK iosb;
    char text[] = "event";
    HANDLE handle;

    (void)context;
    RtlInitUnicodeString(&name, LESSON_READ_LINK);
    InitializeObjectAttributes(&attributes, &name, OBJ_CASE_INSENSITIVE | OBJ_KERNEL_HANDLE, NULL, NULL);
    if (!NT_SUCCESS(ZwCreateFile(&handle, GENERIC_WRITE, &attributes, &iosb, NULL, FILE_ATTRIBUTE_NORMAL, 0,
                                 FILE_OPEN, 0, NULL, 0)))
        return;
    ZwWriteFile(handle, NULL, NULL, NULL, &iosb, text, sizeof text - 1, &offset, NULL);
    ZwClose(handle);
}

static void lesson_read_race(void)
{
    PEPROCESS process = wdmsim_process_create("Reader");
    struct lesson_reader reader = { NULL, { { 0 }, 0 }, { 0 } };
    PKTHREAD reading, writing;

    reading = wdmsim_thread_start(process, lesson_reader, &reader);
    writing = wdmsim_thread_start(NULL, lesson_writer, NULL);
    wdmsim_thread_join(reading);
    wdmsim_thread_join(writing);
    wdmsim_process_run(process, lesson_reader_close, &reader);
    wdmsim_process_terminate(process);
}

static void lesson_run_driver(const struct lesson *lesson, bool fixed)
{
    PDRIVER_OBJECT driver;
    PEPROCESS process;

    if (!NT_SUCCESS(wdmsim_driver_load(lesson->name, fixed ? lesson->driver->fixed_entry : lesson->driver->entry,
                                       &driver)))
        return;
    if (lesson->driver->use == LESSON_APPLICATION_WRITES) {
        process = wdmsim_process_create("lesson.exe");
        wdmsim_process_run(process, lesson_application, NULL);
        wdmsim_process_terminate(process);
    } else if (lesson->driver->use == LESSON_READ_RACES_WRITE) {
        lesson_read_race();
    }
    wdmsim_driver_unload(driver);
}

static void lesson_run(void *context)
{
    const struct lesson_run *run = context;

    if (run->lesson->driver != NULL)
        lesson_run_driver(run->lesson, run->fixed);
    else
        (run->fixed ? run->lesson->fixed : run->lesson->run)();
}

/* Prints the lines of path around line, the faulting one marked. */
static void lesson_print_source(const char *path, unsigned line)
{
    char full[1024], text[512];
    unsigned number = 0;
    FILE *in;

    snprintf(full, sizeof full, "%s/%s", WDMSIM_SOURCE_DIR, path);
    in = fopen(full, "r");
    if (in == NULL) {
        printf("The mistake is at %s:%u (the source is not at %s).\n\n", path, line, full);
        return;
    }
    printf("The mistake, at %s:%u:\n\n", path, line);
    while (fgets(text, sizeof text, in) != NULL && ++number <= line + LESSON_LINES_AFTER) {
        if (number + LESSON_LINES_BEFORE >= line)
            printf("%s%5u  %s", number == line ? ">" : " ", number, text);
    }
    fclose(in);
    printf("\n");
}

/* The line of the lesson's source that holds its marker; 0 when none does. */
static unsigned lesson_marker_line(const struct lesson *lesson)
{
    char full[1024], text[512];
    unsigned number = 0;
    FILE *in;

    snprintf(full, sizeof full, "%s/%s%s", WDMSIM_SOURCE_DIR, LESSON_SOURCE_PREFIX, lesson->source);
    in = fopen(full, "r");
    if (in == NULL)
        return 0;
    while (fgets(text, sizeof text, in) != NULL) {
        number++;
        if (strstr(text, lesson->marker) != NULL) {
            fclose(in);
            return number;
        }
    }
    fclose(in);
    return 0;
}

/* The innermost frame of the report's own backtrace (its last, after any a lock-order report
 * shows) in the lessons' code: " at PATH:LINE". */
static bool lesson_fault_frame(const char *report, char *path, size_t size, unsigned *line)
{
    const char *backtrace = NULL, *at, *colon;

    for (const char *next = strstr(report, "\nBacktrace:"); next != NULL; next = strstr(next + 1, "\nBacktrace:"))
        backtrace = next;
    at = backtrace != NULL ? strstr(backtrace, " at " LESSON_SOURCE_PREFIX) : NULL;
    if (at == NULL)
        return false;
    at += 4;
    colon = strchr(at, ':');
    if (colon == NULL || (size_t)(colon - at) >= size)
        return false;
    memcpy(path, at, (size_t)(colon - at));
    path[colon - at] = '\0';
    *line = (unsigned)strtoul(colon + 1, NULL, 10);
    return *line != 0;
}

/* The faulty lines: where the lesson's marker says the mistake is, else the innermost frame of the
 * lessons' code in the report's backtrace. */
static void lesson_show_fault(const struct lesson *lesson, const char *report)
{
    char path[256];
    unsigned line;
    bool frame = lesson_fault_frame(report, path, sizeof path, &line);

    if (lesson->marker != NULL && (line = lesson_marker_line(lesson)) != 0) {
        snprintf(path, sizeof path, "%s%s", LESSON_SOURCE_PREFIX, lesson->source);
        lesson_print_source(path, line);
        if (frame && lesson_fault_frame(report, path, sizeof path, &line))
            printf("The machine stopped at %s:%u, as the report's backtrace shows.\n\n", path, line);
    } else if (frame) {
        lesson_print_source(path, line);
    }
}

static bool lesson_explored(const struct lesson *lesson)
{
    return lesson->driver != NULL && lesson->driver->use == LESSON_READ_RACES_WRITE;
}

/* Runs the lesson once per seed of the fixed range, each under another controlled schedule, until
 * one fails; *stop: how that one ended (stopped 0: none failed). */
static void lesson_explore(struct lesson_run *run, struct wdmsim_stop *stop)
{
    static struct wdmsim_explore_result result;
    struct wdmsim_explore_config config = { LESSON_EXPLORE_STRATEGY, 0, LESSON_EXPLORE_SEEDS, NULL };
    char *progress = NULL;
    size_t size = 0;

    /* The explorer's own account (the token, the last decisions) is for `wdmsim explore`. */
    config.report = open_memstream(&progress, &size);
    memset(&result, 0, sizeof result);
    wdmsim_explore(&config, lesson_run, run, &result);
    fclose(config.report);
    free(progress);
    *stop = result.stop;
    if (result.failed)
        printf("The explorer ran %llu schedules (%s, seeds 0..%d); seed %llu (%s) failed:\n\n", result.schedules,
               LESSON_EXPLORE_STRATEGY, LESSON_EXPLORE_SEEDS - 1, result.seed, result.strategy);
    else
        printf("The explorer ran %llu schedules (%s, seeds 0..%d): all passed.\n", result.schedules,
               LESSON_EXPLORE_STRATEGY, LESSON_EXPLORE_SEEDS - 1);
    if (!result.failed)
        stop->stopped = 0;
}

static int lesson_show_mistake(const struct lesson *lesson)
{
    struct lesson_run run = { lesson, false };
    static struct wdmsim_stop stop;

    printf("Lesson %s: %s.\n\n", lesson->name, lesson->mistake);
    fflush(stdout);
    if (lesson_explored(lesson))
        lesson_explore(&run, &stop);
    else
        wdmsim_run_expecting_stop(lesson_run, &run, &stop);
    lesson_show_fault(lesson, stop.report);
    fputs(stop.report, stdout);
    if (!stop.stopped || strcmp(stop.rule, lesson->rule) != 0) {
        printf("\nThe lesson should have stopped on rule %s: the simulator missed this mistake.\n", lesson->rule);
        return 1;
    }
    printf("\nOn a real machine this is a blue screen; here the simulator stopped with %s.\n", stop.code_name);
    printf("What to change: %s (the fixed twin in %s%s; `wdmsim lesson %s --fixed` runs it).\n", lesson->change,
           LESSON_SOURCE_PREFIX, lesson->source, lesson->name);
    return 0;
}

static int lesson_show_fixed(const struct lesson *lesson)
{
    struct lesson_run run = { lesson, true };
    static struct wdmsim_stop result;

    printf("Lesson %s, fixed: %s.\n", lesson->name, lesson->change);
    fflush(stdout);
    if (lesson_explored(lesson)) {
        lesson_explore(&run, &result);
        result.finished = !result.stopped;
    } else {
        wdmsim_run_isolated(lesson_run, &run, NULL, LESSON_TIMEOUT_SECONDS, &result);
    }
    if (result.stopped)
        fputs(result.report, stdout);
    if (!result.finished || result.stopped || result.leaks != 0) {
        printf("The fixed twin did not run clean (%s).\n",
               result.stopped ? result.code_name
               : result.leaks ? "it leaked; see above"
                              : "it crashed, hung or exited");
        return 1;
    }
    printf("The fixed twin ran clean: no STOP, nothing leaked.\n");
    return 0;
}

int lesson_show(const struct lesson *lesson, bool fixed)
{
    return fixed ? lesson_show_fixed(lesson) : lesson_show_mistake(lesson);
}

int lessons_all(void)
{
    int failed = 0;

    for (size_t i = 0; i < LESSON_COUNT; i++) {
        int status = lesson_show(&lessons[i], false) | lesson_show(&lessons[i], true);

        failed += status != 0;
        printf("\n");
    }
    printf("lessons: %zu passed, %d failed (each stops on its rule, and its fixed twin runs clean)\n",
           LESSON_COUNT - (size_t)failed, failed);
    return failed ? 1 : 0;
}
