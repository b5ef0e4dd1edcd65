/*
 * wdmsim.c - the wdmsim command: a demonstration of the simulated kernel, the lessons (one
 * classic mistake each, with the STOP it causes), the shipped scenarios under many controlled
 * schedules, and the rule catalog as Markdown.
 * Simulator world: host code that drives the kernel through DDIs and the wdmsim_ host API.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <wdmsim/wdmsim.h>

#include "demo.h"
#include "lesson.h"
#include "scenarios.h"

/* Each command's lines of the usage text: `wdmsim --help` prints them all, `wdmsim help COMMAND`
 * and `wdmsim COMMAND --help` its own. */
static const struct command_help {
    const char *name;
    const char *text;
} command_helps[] = {
    { "demo",
      "  demo                 the DebugPrint pipeline end to end: the DebugPrint driver, TraceDrv\n"
      "                       and an application process, the Monitor showing each trace as it\n"
      "                       arrives, then unload and a summary that accounts for every event\n"
      "  demo --save FILE     the same, the Monitor also saving its rows as tab-separated text\n"
      "  demo --timeline FILE the same, writing its timeline to FILE (JSON, or a picture: *.svg)\n" },
    { "lesson",
      "  lesson --list        list the lessons: one classic driver mistake each\n"
      "  lesson NAME          run one lesson: the faulty lines of its source, the STOP report it\n"
      "                       causes, and what to change\n"
      "  lesson NAME --fixed  run the lesson's fixed twin; exit 1 unless it runs clean\n"
      "  lesson all           run every lesson and twin; exit 1 unless each lesson stops on its\n"
      "                       rule and each twin runs clean\n"
      "  lesson --markdown    print the lesson table as Markdown (docs/lessons.md)\n"
      "  lesson --check FILE  exit 1 unless FILE is exactly what `wdmsim lesson --markdown` prints\n"
      "  lesson NAME --timeline FILE\n"
      "                       the same, writing the lesson's timeline (up to its STOP) to FILE\n" },
    { "explore",
      "  explore              list the scenarios explore runs\n"
      "  explore NAME [--strategy S] [--seeds N | --seeds A..B] [--first-seed F]\n"
      "                       run scenario NAME once per seed, each time under another controlled\n"
      "                       schedule on a fresh kernel, until one fails (a STOP, a failed check,\n"
      "                       a deadlock, a crash or a leak), which is shown with its replay token.\n"
      "                       S: pct:D (default pct:3, D from 1 to 32), random, or dfs:P (every\n"
      "                       schedule with at most P preemptions, at most N of them, from seed 0);\n"
      "                       N seeds from F (default 100 from 0), or seeds A to B inclusive.\n"
      "                       Exit status 0: all\n"
      "                       passed, 1: one failed, 2: refused (bad arguments; nothing was run).\n"
      "                       A long run says on stderr every 2 s how far it got\n"
      "  explore NAME --replay TOKEN\n"
      "                       run again the one schedule a failure's token names\n"
      "  explore ... --timeline FILE\n"
      "                       the same, writing the timeline of the last schedule run (the failing\n"
      "                       one, when one fails) to FILE\n" },
    { "rules",
      "  rules                print the rule catalog as Markdown (docs/irql-rules.md)\n"
      "  rules --check FILE   exit 1 unless FILE is exactly what `wdmsim rules` prints\n" },
    { "ddis",
      "  ddis                 print the DDIs the simulator provides, with their rules, and the DDK\n"
      "                       families it lacks, as Markdown (docs/ddi-coverage.md)\n"
      "  ddis --check FILE    exit 1 unless FILE is exactly what `wdmsim ddis` prints\n" },
    { "help",
      "  help [COMMAND]       this text, or the lines of one command\n"
      "  --help, --version    this text; the version of wdmsim\n" },
};

#define COMMAND_COUNT (sizeof command_helps / sizeof command_helps[0])

static const struct command_help *command_help_find(const char *name)
{
    for (size_t i = 0; i < COMMAND_COUNT; i++) {
        if (strcmp(command_helps[i].name, name) == 0)
            return &command_helps[i];
    }
    return NULL;
}

static void usage(FILE *out)
{
    fputs("usage: wdmsim <command> [arguments]\n"
          "\n"
          "A user-mode simulation of the Windows Driver Model kernel that enforces the kernel's\n"
          "rules and stops with a Windows-style bug check report when driver code breaks one.\n"
          "\n"
          "commands:\n",
          out);
    for (size_t i = 0; i < COMMAND_COUNT; i++)
        fputs(command_helps[i].text, out);
    fputs("\n"
          "environment:\n"
          "  WDMSIM_CLOCK=virtual|real   the clock the kernel boots with (default real)\n"
          "  WDMSIM_SCHED=random:SEED|pct:D:SEED|replay:TOKEN\n"
          "                              run one simulated thread at a time, as that strategy decides\n"
          "                              (virtual clock); explore obeys replay:TOKEN only\n"
          "  WDMSIM_DRIVER_DIR=DIR       where the demo and explore find debugprint.so and tracedrv.so\n"
          "  WDMSIM_TIMELINE=FILE        write a timeline of every kernel run (see --timeline)\n"
          "  WDMSIM_TIMELINE_EVENTS=N    the timeline keeps the last N events (default 65536)\n"
          "  WDMSIM_WARNINGS=fatal       a rule warning stops the machine instead\n"
          "\n"
          "option of demo, lesson and explore:\n"
          "  --timeline FILE             write the run's timeline to FILE: Chrome trace-event JSON for\n"
          "                              Perfetto (ui.perfetto.dev) or chrome://tracing, or, for a FILE\n"
          "                              ending in .svg, a picture any browser opens. Written when the\n"
          "                              kernel shuts down or stops; lesson all and explore leave the\n"
          "                              last run's (explore: the failing schedule's). See docs/timeline.md\n",
          out);
}

static int command_usage(const char *name, FILE *out)
{
    fprintf(out, "usage:\n%s", command_help_find(name)->text);
    return out == stdout ? 0 : 2;
}

/* Wrong arguments to a command: what is wrong, that command's usage, exit status 2. */
static int command_refuse(const char *name, const char *problem, const char *argument)
{
    fprintf(stderr, "wdmsim %s: %s '%s'\n", name, problem, argument);
    return command_usage(name, stderr);
}

static bool is_help(const char *argument)
{
    return strcmp(argument, "--help") == 0 || strcmp(argument, "-h") == 0;
}

/* Exit 0 when the file at path is exactly what write prints, 1 when not (how to regenerate it is
 * said), 2 when it cannot be read. */
static int generated_check(const char *path, void (*write)(FILE *), const char *command)
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
    write(out);
    fclose(out);
    actual = calloc(1, expected_size + 2);
    actual_size = fread(actual, 1, expected_size + 1, in);
    fclose(in);
    same = actual_size == expected_size && memcmp(actual, expected, expected_size) == 0;
    if (!same)
        fprintf(stderr, "wdmsim: %s is out of date; regenerate it with `wdmsim %s > %s`\n", path, command, path);
    free(actual);
    free(expected);
    return same ? 0 : 1;
}

/* lesson [--list | NAME [--fixed] | all | --markdown | --check FILE] */
static int lesson_command(int argc, char **argv)
{
    const char *name = argc >= 3 ? argv[2] : "--list";
    const struct lesson *lesson;

    if (is_help(name))
        return command_usage("lesson", stdout);
    if (strcmp(name, "--check") == 0)
        return argc != 4 ? command_refuse("lesson", "needs one FILE after", name)
                         : generated_check(argv[3], lessons_write_markdown, "lesson --markdown");
    if (argc > 4 || (argc == 4 && (strcmp(argv[3], "--fixed") != 0 || name[0] == '-')))
        return command_refuse("lesson", "takes one argument, not also", argv[3]);
    if (strcmp(name, "--list") == 0 || strcmp(name, "list") == 0) {
        lessons_list(stdout);
        return 0;
    }
    if (strcmp(name, "--markdown") == 0) {
        lessons_write_markdown(stdout);
        return 0;
    }
    if (name[0] == '-')
        return command_refuse("lesson", "unknown option", name);
    if (strcmp(name, "all") == 0)
        return argc == 4 ? command_refuse("lesson", "runs every lesson and twin; takes nothing after it, not",
                                          argv[3])
                         : lessons_all();
    lesson = lesson_find(name);
    if (lesson == NULL) {
        fprintf(stderr, "wdmsim: no lesson named '%s'; `wdmsim lesson --list` shows them\n", name);
        return 2;
    }
    return lesson_show(lesson, argc == 4);
}

/* ---- explore ---- */

#define EXPLORE_DEFAULT_SEEDS 100
#define EXPLORE_TOKEN_MAX 256

struct explore_options {
    const struct scenario *scenario;
    const char *strategy;           /* NULL: the default */
    char replay[8 + EXPLORE_TOKEN_MAX];
    unsigned long long first_seed, seeds;
    bool seeds_given, first_given, range_given;
};

static int explore_refuse(const char *format, ...) __attribute__((format(printf, 1, 2)));

/* Bad arguments: says which, and that nothing was run; returns the exit status 2. */
static int explore_refuse(const char *format, ...)
{
    va_list args;

    fputs("wdmsim explore: ", stderr);
    va_start(args, format);
    vfprintf(stderr, format, args);
    va_end(args);
    fputs("; nothing was run\n", stderr);
    return 2;
}

static void explore_list(void)
{
    for (size_t i = 0; i < scenario_count(); i++)
        printf("%-22s %s\n", scenario_at(i)->name, scenario_at(i)->description);
}

/* A decimal number, nothing else: no sign, no spaces, no overflow. */
static bool explore_number(const char *text, unsigned long long *value)
{
    char *end;

    if (*text < '0' || *text > '9')
        return false;
    errno = 0;
    *value = strtoull(text, &end, 10);
    return errno == 0 && *end == '\0';
}

/* A..B, dots pointing at the "..": seeds A to B inclusive. */
static int explore_parse_range(const char *text, const char *dots, struct explore_options *o)
{
    size_t length = (size_t)(dots - text);
    unsigned long long last;
    char first[32];

    if (length == 0 || dots[2] == '\0')
        return explore_refuse("--seeds '%s': a range needs both ends, A..B (seeds A to B inclusive)", text);
    if (length >= sizeof first)
        return explore_refuse("--seeds '%s' is not a range of seed numbers A..B", text);
    memcpy(first, text, length);
    first[length] = '\0';
    if (!explore_number(first, &o->first_seed) || !explore_number(dots + 2, &last))
        return explore_refuse("--seeds '%s' is not a range of seed numbers A..B", text);
    if (last < o->first_seed)
        return explore_refuse("--seeds %s: the range is reversed (A..B runs seeds A to B, so A <= B)", text);
    if (last - o->first_seed == ~0ULL)
        return explore_refuse("--seeds %s: the range is too large", text);
    o->seeds = last - o->first_seed + 1;
    o->range_given = true;
    return 0;
}

/* --seeds N or --seeds A..B. */
static int explore_parse_seeds(const char *text, struct explore_options *o)
{
    const char *dots = strstr(text, "..");

    o->seeds_given = true;
    if (dots != NULL)
        return explore_parse_range(text, dots, o);
    if (!explore_number(text, &o->seeds))
        return explore_refuse("--seeds '%s' is not a number of schedules nor a range A..B", text);
    return o->seeds == 0 ? explore_refuse("--seeds %s: say how many schedules to run, 1 or more", text) : 0;
}

/* --strategy random, pct:D or dfs:P; the explorer checks D, P and replay tokens itself. */
static int explore_parse_strategy(const char *text, struct explore_options *o)
{
    bool depth = (strncmp(text, "pct:", 4) == 0 || strncmp(text, "dfs:", 4) == 0) && strchr(text + 4, ':') == NULL;

    if (strcmp(text, "random") != 0 && strncmp(text, "replay:", 7) != 0 && !depth)
        return explore_refuse("unknown strategy '%s': use pct:D (D from 1 to 32), dfs:P (P from 0 to 32), random "
                              "or replay:TOKEN; the seeds come from --seeds and --first-seed", text);
    o->strategy = text;
    return 0;
}

static int explore_parse_option(const char *option, const char *value, struct explore_options *o)
{
    if (value == NULL)
        return explore_refuse("%s needs a value", option);
    if (strcmp(option, "--seeds") == 0)
        return explore_parse_seeds(value, o);
    if (strcmp(option, "--first-seed") == 0) {
        o->first_given = true;
        return explore_number(value, &o->first_seed) ? 0
                                                     : explore_refuse("--first-seed '%s' is not a seed number", value);
    }
    if (strcmp(option, "--strategy") == 0)
        return o->strategy != NULL ? explore_refuse("%s is given twice (--replay TOKEN means --strategy "
                                                    "replay:TOKEN)", option)
                                   : explore_parse_strategy(value, o);
    if (strcmp(option, "--replay") == 0) {
        if (o->strategy != NULL)
            return explore_refuse("%s and --strategy both give the strategy", option);
        if (strlen(value) >= EXPLORE_TOKEN_MAX)
            return explore_refuse("the replay token '%.40s...' is too long", value);
        snprintf(o->replay, sizeof o->replay, "replay:%s", value);
        o->strategy = o->replay;
        return 0;
    }
    return explore_refuse("unknown option '%s' (see wdmsim --help)", option);
}

static int explore_parse(int argc, char **argv, struct explore_options *o)
{
    memset(o, 0, sizeof *o);
    o->seeds = EXPLORE_DEFAULT_SEEDS;
    o->scenario = scenario_find(argv[2]);
    if (o->scenario == NULL)
        return explore_refuse("no scenario named '%s' (`wdmsim explore` lists them)", argv[2]);
    for (int i = 3; i < argc; i += 2) {
        int refused = explore_parse_option(argv[i], i + 1 < argc ? argv[i + 1] : NULL, o);

        if (refused)
            return refused;
    }
    if (o->range_given && o->first_given)
        return explore_refuse("--first-seed and a range --seeds A..B both give the first seed");
    if (o->first_seed + (o->seeds - 1) < o->first_seed)
        return explore_refuse("--first-seed and --seeds run past the last seed number, %llu", ~0ULL);
    if (o->strategy != NULL && strncmp(o->strategy, "replay:", 7) == 0 && (o->seeds_given || o->first_given))
        return explore_refuse("a replay runs the one schedule its token names: drop --seeds and --first-seed");
    return 0;
}

static double explore_seconds(void)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec + (double)now.tv_nsec / 1e9;
}

static void explore_what_failed(const struct wdmsim_explore_result *result, char *what, size_t size)
{
    const struct wdmsim_stop *stop = &result->stop;

    if (stop->stopped && (stop->code & SCENARIO_CHECK_MASK) == SCENARIO_CHECK_FAILED)
        snprintf(what, size, "STOP 0x%08X: the scenario's check at scenarios.c:%u failed, as it says above",
                 stop->code, stop->code & ~SCENARIO_CHECK_MASK);
    else if (stop->stopped)
        snprintf(what, size, "STOP 0x%08X %s%s%s", stop->code, stop->code_name, stop->rule[0] ? ", rule " : "",
                 stop->rule);
    else if (stop->exit_signal != 0)
        snprintf(what, size, "crashed with signal %d", stop->exit_signal);
    else if (result->leaks != 0)
        snprintf(what, size, "%zu leaked resource(s) at shutdown", result->leaks);
    else
        snprintf(what, size, "ended without a report");
}

static void explore_summary(const struct explore_options *o, const struct wdmsim_explore_result *result,
                            bool replayed, double seconds)
{
    const char *strategy = o->strategy ? o->strategy : "pct:3";
    char plan[128], what[192];

    if (replayed)
        snprintf(plan, sizeof plan, "a replay");
    else
        snprintf(plan, sizeof plan, "%s, seeds %llu..%llu", strategy, o->first_seed, o->first_seed + o->seeds - 1);
    printf("explore %s: %llu schedule%s (%s)", o->scenario->name, result->schedules,
           result->schedules == 1 ? "" : "s", plan);
    if (!result->failed) {
        printf(": all passed in %.1f s (%.0f schedules/s)\n", seconds,
               seconds > 0 ? (double)result->schedules / seconds : 0.0);
        return;
    }
    explore_what_failed(result, what, sizeof what);
    if (!replayed && result->schedules == 0)
        printf(": the run that measures the scenario's length (%s) failed: %s\n", result->strategy, what);
    else
        printf(": seed %llu failed (%s): %s\n", result->seed, result->strategy, what);
    printf("replay it: wdmsim explore %s --replay %s\n", o->scenario->name, result->token);
}

static int explore_command(int argc, char **argv)
{
    static struct wdmsim_explore_result result;
    static struct scenario_modules modules;
    const char *env = getenv("WDMSIM_SCHED");
    struct explore_options o;
    struct wdmsim_explore_config config;
    double started;
    int refused, status;

    if (argc < 3) {
        explore_list();
        return 0;
    }
    if (is_help(argv[2]))
        return command_usage("explore", stdout);
    if ((refused = explore_parse(argc, argv, &o)) != 0)
        return refused;
    demo_module_path("debugprint.so", WDMSIM_BUILT_DEBUGPRINT, modules.debugprint, sizeof modules.debugprint);
    demo_module_path("tracedrv.so", WDMSIM_BUILT_TRACEDRV, modules.tracedrv, sizeof modules.tracedrv);
    if (access(modules.debugprint, R_OK) != 0 || access(modules.tracedrv, R_OK) != 0)
        return explore_refuse("there is no driver module %s (WDMSIM_DRIVER_DIR says where they are)",
                              access(modules.debugprint, R_OK) != 0 ? modules.debugprint : modules.tracedrv);
    config = (struct wdmsim_explore_config){ .strategy = o.strategy, .first_seed = o.first_seed, .seeds = o.seeds,
                                             .report = stderr };
    fflush(stdout);
    started = explore_seconds();
    status = wdmsim_explore(&config, o.scenario->run, &modules, &result);
    if (status < 0)
        return 2;
    /* WDMSIM_SCHED=replay:TOKEN, as a failure's report says, replays like --replay TOKEN. */
    explore_summary(&o, &result,
                    (o.strategy != NULL && strncmp(o.strategy, "replay:", 7) == 0) ||
                        (env != NULL && strncmp(env, "replay:", 7) == 0),
                    explore_seconds() - started);
    return status == 0 ? 0 : 1;
}

#define COMMAND_GO_ON (-1)

/* COMMAND [OPTION FILE], as demo, rules and ddis take: *file is FILE, or NULL for the command alone.
 * Returns COMMAND_GO_ON, or the exit status of a --help or of a refusal. */
static int command_file_option(const char *name, const char *option, int argc, char **argv, const char **file)
{
    *file = NULL;
    if (argc == 3 && is_help(argv[2]))
        return command_usage(name, stdout);
    if (argc == 2)
        return COMMAND_GO_ON;
    if (strcmp(argv[2], option) != 0)
        return command_refuse(name, "unknown option", argv[2]);
    if (argc < 4)
        return command_refuse(name, "needs a FILE after", argv[2]);
    if (argc > 4)
        return command_refuse(name, "takes nothing after its FILE, not", argv[4]);
    *file = argv[3];
    return COMMAND_GO_ON;
}

static int demo_command(int argc, char **argv)
{
    const char *file;
    int status = command_file_option("demo", "--save", argc, argv, &file);

    return status != COMMAND_GO_ON ? status : demo(file);
}

static int rules_command(int argc, char **argv)
{
    const char *file;
    int status = command_file_option("rules", "--check", argc, argv, &file);

    if (status != COMMAND_GO_ON)
        return status;
    if (file != NULL)
        return generated_check(file, wdmsim_rules_write_markdown, "rules");
    wdmsim_rules_write_markdown(stdout);
    return 0;
}

static int ddis_command(int argc, char **argv)
{
    const char *file;
    int status = command_file_option("ddis", "--check", argc, argv, &file);

    if (status != COMMAND_GO_ON)
        return status;
    if (file != NULL)
        return generated_check(file, wdmsim_ddis_write_markdown, "ddis");
    wdmsim_ddis_write_markdown(stdout);
    return 0;
}

static int help_command(int argc, char **argv)
{
    if (argc == 2) {
        usage(stdout);
        return 0;
    }
    if (argc > 3)
        return command_refuse("help", "takes one command, not also", argv[3]);
    if (command_help_find(argv[2]) == NULL) {
        fprintf(stderr, "wdmsim help: unknown command '%s'\n\n", argv[2]);
        usage(stderr);
        return 2;
    }
    return command_usage(argv[2], stdout);
}

/* --timeline FILE anywhere after demo, lesson or explore: taken out of argv and handed to every
 * kernel the command boots, here or in a forked child, through WDMSIM_TIMELINE. Returns
 * COMMAND_GO_ON, or 2 (with the command's usage) when FILE is missing or cannot be written. */
static int timeline_option(int *argc, char **argv)
{
    FILE *probe;
    int i = 2;

    if (strcmp(argv[1], "demo") != 0 && strcmp(argv[1], "lesson") != 0 && strcmp(argv[1], "explore") != 0)
        return COMMAND_GO_ON;
    while (i < *argc && strcmp(argv[i], "--timeline") != 0)
        i++;
    if (i == *argc)
        return COMMAND_GO_ON;
    if (i + 1 == *argc)
        return command_refuse(argv[1], "needs a FILE after", "--timeline");
    probe = fopen(argv[i + 1], "w");
    if (probe == NULL) {
        fprintf(stderr, "wdmsim %s: --timeline: cannot write the timeline to %s: %s\n", argv[1], argv[i + 1],
                strerror(errno));
        return command_usage(argv[1], stderr);
    }
    fclose(probe);
    setenv("WDMSIM_TIMELINE", argv[i + 1], 1);
    for (int k = i; k + 2 <= *argc; k++)
        argv[k] = argv[k + 2];
    *argc -= 2;
    return COMMAND_GO_ON;
}

int main(int argc, char **argv)
{
    int status;

    if (argc >= 2 && (status = timeline_option(&argc, argv)) != COMMAND_GO_ON)
        return status;
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (is_help(argv[1]))
        return help_command(2, argv);
    if (strcmp(argv[1], "--version") == 0) {
        printf("wdmsim %s\n", WDMSIM_VERSION);
        return 0;
    }
    if (strcmp(argv[1], "help") == 0)
        return help_command(argc, argv);
    if (strcmp(argv[1], "demo") == 0)
        return demo_command(argc, argv);
    if (strcmp(argv[1], "lesson") == 0)
        return lesson_command(argc, argv);
    if (strcmp(argv[1], "explore") == 0)
        return explore_command(argc, argv);
    if (strcmp(argv[1], "rules") == 0)
        return rules_command(argc, argv);
    if (strcmp(argv[1], "ddis") == 0)
        return ddis_command(argc, argv);
    fprintf(stderr, "wdmsim: unknown %s '%s'\n\n", argv[1][0] == '-' ? "option" : "command", argv[1]);
    usage(stderr);
    return 2;
}
