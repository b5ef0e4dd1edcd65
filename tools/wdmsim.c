/*
 * wdmsim.c - the wdmsim command: a demonstration of the simulated kernel, the lessons (one
 * classic mistake each, with the STOP it causes), and the rule catalog as Markdown.
 * Simulator world: host code that drives the kernel through DDIs and the wdmsim_ host API.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lessons.h>
#include <wdmsim/wdmsim.h>

#include "demo.h"

struct lesson {
    const char *name;
    const char *teaches;
    const char *rule;           /* the rule the mistake breaks */
    VOID (*run)(VOID);
};

static const struct lesson lessons[] = {
    { "spinlock-recursion", "acquiring a spin lock you already hold", "spinlock.recursive_acquire",
      LessonSpinLockRecursion },
    { "interlocked-with-held-lock", "calling ExInterlockedInsertTailList with a lock you hold",
      "spinlock.recursive_acquire", LessonInterlockedWithHeldLock },
    { "paged-pool-at-dispatch", "allocating PagedPool at DISPATCH_LEVEL", "pool.paged_alloc_above_apc",
      LessonPagedPoolAtDispatch },
    { "pool-double-free", "freeing the same pool block twice", "pool.double_free", LessonPoolDoubleFree },
    { "list-double-remove", "removing a list entry twice", "list.corrupt_links", LessonListDoubleRemove },
    { "wait-at-dispatch", "waiting for an event at DISPATCH_LEVEL", "wait.at_dispatch_forever",
      LessonWaitAtDispatch },
    { "mutex-release-not-owner", "releasing a KMUTEX the thread does not own", "mutex.release_not_owner",
      LessonMutexReleaseNotOwner },
    { "free-pool-with-timer-set", "freeing pool that holds a timer still set", "pool.free_active_timer",
      LessonFreePoolWithTimerSet },
    { "zw-at-dispatch", "a Zw call at DISPATCH_LEVEL (the reason DebugPrint has a system thread)",
      "zw.not_passive", LessonZwAtDispatch },
    { "dereference-address-of-pointer",
      "ObDereferenceObject(&Pointer) instead of ObDereferenceObject(Pointer), as the book's DebugPrintClose does",
      "ob.not_an_object", LessonDereferenceAddressOfPointer },
};

#define LESSON_COUNT (sizeof lessons / sizeof lessons[0])

static void usage(FILE *out)
{
    fputs("usage: wdmsim <command> [arguments]\n"
          "\n"
          "A user-mode simulation of the Windows Driver Model kernel that enforces the kernel's\n"
          "rules and stops with a Windows-style bug check report when driver code breaks one.\n"
          "\n"
          "commands:\n"
          "  demo                 the DebugPrint pipeline end to end: the DebugPrint driver, TraceDrv\n"
          "                       and an application process, the Monitor showing each trace as it\n"
          "                       arrives, then unload and a summary that accounts for every event\n"
          "  demo --save FILE     the same, the Monitor also saving its rows as tab-separated text\n"
          "  lesson list          list the lessons: one classic driver mistake each\n"
          "  lesson NAME          run one lesson and show the STOP report it causes\n"
          "  lesson all           run every lesson; exit 1 unless each stops on its rule\n"
          "  rules                print the rule catalog as Markdown (docs/irql-rules.md)\n"
          "  rules --check FILE   exit 1 unless FILE is exactly what `wdmsim rules` prints\n"
          "  --help               this text\n"
          "\n"
          "environment:\n"
          "  WDMSIM_CLOCK=virtual|real   the clock the kernel boots with (default real)\n",
          out);
}

static void lesson_run(void *context)
{
    ((const struct lesson *)context)->run();
}

static int lesson_show(const struct lesson *lesson)
{
    struct wdmsim_stop stop;

    printf("Lesson %s: %s.\n\n", lesson->name, lesson->teaches);
    wdmsim_run_expecting_stop(lesson_run, (void *)lesson, &stop);
    fputs(stop.report, stdout);
    if (!stop.stopped || strcmp(stop.rule, lesson->rule) != 0) {
        printf("\nThe lesson should have stopped on rule %s: the simulator missed this mistake.\n",
               lesson->rule);
        return 1;
    }
    printf("\nOn a real machine this is a blue screen; here the simulator stopped with %s.\n",
           stop.code_name);
    return 0;
}

static int lesson_all(void)
{
    int failed = 0;

    for (size_t i = 0; i < LESSON_COUNT; i++) {
        failed += lesson_show(&lessons[i]) != 0;
        printf("\n");
    }
    printf("lessons: %zu passed, %d failed\n", LESSON_COUNT - (size_t)failed, failed);
    return failed ? 1 : 0;
}

static int lesson_command(int argc, char **argv)
{
    if (argc < 3 || strcmp(argv[2], "list") == 0) {
        for (size_t i = 0; i < LESSON_COUNT; i++)
            printf("%-28s %s\n", lessons[i].name, lessons[i].teaches);
        return 0;
    }
    if (strcmp(argv[2], "all") == 0)
        return lesson_all();
    for (size_t i = 0; i < LESSON_COUNT; i++) {
        if (strcmp(argv[2], lessons[i].name) == 0)
            return lesson_show(&lessons[i]);
    }
    fprintf(stderr, "wdmsim: no lesson named '%s'; `wdmsim lesson list` shows them\n", argv[2]);
    return 2;
}

static int rules_check(const char *path)
{
    char *expected = NULL, *actual = NULL;
    size_t expected_size = 0, actual_size;
    FILE *out = open_memstream(&expected, &expected_size);
    FILE *in = fopen(path, "r");
    int same;

    if (out == NULL || in == NULL) {
        fprintf(stderr, "wdmsim: cannot read %s\n", path);
        return 2;
    }
    wdmsim_rules_write_markdown(out);
    fclose(out);
    actual = calloc(1, expected_size + 2);
    actual_size = fread(actual, 1, expected_size + 1, in);
    fclose(in);
    same = actual_size == expected_size && memcmp(actual, expected, expected_size) == 0;
    if (!same)
        fprintf(stderr, "wdmsim: %s is out of date; regenerate it with `wdmsim rules > %s`\n", path, path);
    free(actual);
    free(expected);
    return same ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "demo") == 0)
        return demo(argc >= 4 && strcmp(argv[2], "--save") == 0 ? argv[3] : NULL);
    if (strcmp(argv[1], "lesson") == 0)
        return lesson_command(argc, argv);
    if (strcmp(argv[1], "rules") == 0) {
        if (argc >= 4 && strcmp(argv[2], "--check") == 0)
            return rules_check(argv[3]);
        wdmsim_rules_write_markdown(stdout);
        return 0;
    }
    fprintf(stderr, "wdmsim: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
