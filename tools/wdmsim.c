/*
 * wdmsim.c - the wdmsim command: a demonstration of the simulated kernel, the lessons (one
 * classic mistake each, with the STOP it causes), and the rule catalog as Markdown.
 * Simulator world: host code that drives the kernel through DDIs and the wdmsim_ host API.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lessons.h>
#include <wdmsim/wdmsim.h>

#define DEMO_PRODUCERS 2
#define DEMO_EVENTS_PER_PRODUCER 1000
#define DEMO_TAG 'omeD'

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
          "  demo                 boot the simulated kernel and follow trace events through the\n"
          "                       interlocked list, pool and clock; end with one captured STOP\n"
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

struct demo_event {
    LIST_ENTRY link;
    int producer;
    int sequence;
    TIME_FIELDS time;
};

struct demo_queue {
    LIST_ENTRY head;
    KSPIN_LOCK lock;
};

struct demo_producer {
    struct demo_queue *queue;
    int id;
};

/* A producer traces like DebugPrintMsg: time, nonpaged event, interlocked insert. Producer 1
 * does it at DISPATCH_LEVEL, as a DPC would. */
static void *demo_produce(void *context)
{
    struct demo_producer *p = context;
    LARGE_INTEGER now;
    KIRQL old = PASSIVE_LEVEL;

    if (p->id == 1)
        KeRaiseIrql(DISPATCH_LEVEL, &old);
    for (int i = 0; i < DEMO_EVENTS_PER_PRODUCER; i++) {
        struct demo_event *event = ExAllocatePoolWithTag(NonPagedPoolNx, sizeof *event, DEMO_TAG);

        if (event == NULL)
            continue;
        KeQuerySystemTime(&now);
        RtlTimeToTimeFields(&now, &event->time);
        event->producer = p->id;
        event->sequence = i;
        ExInterlockedInsertTailList(&p->queue->head, &event->link, &p->queue->lock);
    }
    if (p->id == 1)
        KeLowerIrql(old);
    return NULL;
}

/* The consumer drains like the DebugPrint system thread; returns how many arrived in order. */
static int demo_drain(struct demo_queue *queue, int expected, TIME_FIELDS *last)
{
    int next[DEMO_PRODUCERS] = { 0 };
    int in_order = 0;

    for (int received = 0; received < expected;) {
        PLIST_ENTRY entry = ExInterlockedRemoveHeadList(&queue->head, &queue->lock);
        struct demo_event *event;

        if (entry == NULL)
            continue;
        event = CONTAINING_RECORD(entry, struct demo_event, link);
        in_order += event->sequence == next[event->producer];
        next[event->producer] = event->sequence + 1;
        *last = event->time;
        ExFreePoolWithTag(event, DEMO_TAG);
        received++;
    }
    return in_order;
}

static void demo_print_time(const char *label, const TIME_FIELDS *t)
{
    static const char *const days[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };

    printf("  %-28s %s %04d-%02d-%02d %02d:%02d:%02d.%03d\n", label, days[t->Weekday % 7], t->Year,
           t->Month, t->Day, t->Hour, t->Minute, t->Second, t->Milliseconds);
}

static int demo_pipeline(void)
{
    struct demo_queue queue;
    struct demo_producer producers[DEMO_PRODUCERS];
    pthread_t threads[DEMO_PRODUCERS];
    struct wdmsim_pool_stats stats;
    TIME_FIELDS last = { 0 };
    int total = DEMO_PRODUCERS * DEMO_EVENTS_PER_PRODUCER;
    int in_order;

    InitializeListHead(&queue.head);
    KeInitializeSpinLock(&queue.lock);
    printf("\n%d producer threads trace %d events each (producer 1 at DISPATCH_LEVEL);\n"
           "the main thread drains the interlocked list like DebugPrint's system thread.\n",
           DEMO_PRODUCERS, DEMO_EVENTS_PER_PRODUCER);
    for (int i = 0; i < DEMO_PRODUCERS; i++) {
        producers[i] = (struct demo_producer){ &queue, i };
        pthread_create(&threads[i], NULL, demo_produce, &producers[i]);
    }
    in_order = demo_drain(&queue, total, &last);
    for (int i = 0; i < DEMO_PRODUCERS; i++)
        pthread_join(threads[i], NULL);
    wdmsim_pool_stats(&stats);
    printf("  events delivered              %d of %d, %d in producer order\n", total, total, in_order);
    demo_print_time("last event's time (UTC)", &last);
    printf("  pool                          %zu allocations, %zu frees, %zu blocks outstanding\n",
           stats.allocations, stats.frees, stats.outstanding_blocks);
    return in_order == total && stats.outstanding_blocks == 0 ? 0 : 1;
}

static void demo_clock(void)
{
    LARGE_INTEGER now, local;
    TIME_FIELDS fields;

    KeQuerySystemTime(&now);
    RtlTimeToTimeFields(&now, &fields);
    printf("The kernel booted itself on the first DDI call; this thread was adopted at %s.\n",
           KeGetCurrentIrql() == PASSIVE_LEVEL ? "PASSIVE_LEVEL" : "a raised IRQL");
    printf("  clock                         %s\n",
           wdmsim_clock_mode() == WDMSIM_CLOCK_VIRTUAL ? "virtual" : "real");
    demo_print_time("KeQuerySystemTime (UTC)", &fields);
    ExSystemTimeToLocalTime(&now, &local);
    RtlTimeToTimeFields(&local, &fields);
    demo_print_time("ExSystemTimeToLocalTime", &fields);
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

static int demo(void)
{
    int status;

    printf("wdmsim demo: the simulated Windows kernel's base layer\n\n");
    demo_clock();
    status = demo_pipeline();
    printf("\nAnd what happens when driver code breaks a rule (captured, so the demo goes on):\n\n");
    status |= lesson_show(&lessons[0]);
    printf("\nShutdown: %zu pool blocks leaked.\n", wdmsim_shutdown());
    return status;
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
        return demo();
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
