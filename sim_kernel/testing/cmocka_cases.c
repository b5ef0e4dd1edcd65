/*
 * cmocka_cases.c - the library wdmsim::test that add_wdmsim_test() links into every CMocka suite
 * (<wdmsim/test.h>). The program's cmocka_run_group_tests is wrapped (ld --wrap): the cases the
 * filter selects go to CMocka as stand-ins that each run the real case - its setup, the case, its
 * teardown - in a child process (wdmsim_run_isolated), and turn how the child ended into a CMocka
 * pass, skip or failure whose message holds the report and what the case printed. CMocka itself,
 * and so its output in every format, stays in the parent, which nothing the case does can end.
 * Locking: host code on the test program's main thread; the child is a process of its own.
 */
#define _GNU_SOURCE
#include <fnmatch.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>

#include <cmocka.h>
#include <wdmsim/test.h>

#define CASES_CMDLINE_MAX 8192
#define CASES_MESSAGE_PIECE 900

/* The real CMocka functions the wrapped names stand for. cm_print_error (exported by CMocka, not
 * declared in cmocka.h) adds to the failure message that every output format reports. */
int __real__cmocka_run_group_tests(const char *group_name, const struct CMUnitTest *tests, size_t count,
                                   CMFixtureFunction group_setup, CMFixtureFunction group_teardown);
void __real__skip(const char *file, int line);
void cm_print_error(const char *format, ...) __attribute__((format(printf, 1, 2)));

struct cases_options {
    const char *filter;             /* NULL: every case */
    bool list;
    bool isolate;
};

static unsigned case_timeout_seconds;   /* WDMSIM_TEST_TIMEOUT; 0: none */

enum case_end { CASE_RAN, CASE_SKIPPED, CASE_SETUP_FAILED, CASE_TEARDOWN_FAILED };

/* How a case's child ended where wdmsim_run_isolated cannot see it: shared with the child. */
struct case_note {
    enum case_end end;
    char file[256];
    int line;
};

static struct case_note *note;
static bool in_case_child;
static CMFixtureFunction real_group_setup, real_group_teardown;
static void *group_state;
static char cmdline[CASES_CMDLINE_MAX];

/* ---- Options: the command line (read from /proc, since main may take no arguments) and the
 * environment ---- */

static bool cases_env_says_no(const char *name)
{
    const char *value = getenv(name);

    return value != NULL && (strcmp(value, "0") == 0 || strcmp(value, "off") == 0 || strcmp(value, "no") == 0);
}

/* The arguments NUL-separated, program name first; returns where they end. Other options are the
 * program's own business. */
static const char *cases_read_cmdline(void)
{
    FILE *f = fopen("/proc/self/cmdline", "r");
    size_t size = f ? fread(cmdline, 1, sizeof cmdline - 1, f) : 0;

    if (f != NULL)
        fclose(f);
    cmdline[size] = '\0';
    return cmdline + size;
}

static void cases_read_options(struct cases_options *options)
{
    const char *end = cases_read_cmdline();

    options->filter = getenv("WDMSIM_TEST_FILTER");
    options->list = false;
    options->isolate = !cases_env_says_no("WDMSIM_TEST_ISOLATION");
    case_timeout_seconds = getenv("WDMSIM_TEST_TIMEOUT") ? (unsigned)strtoul(getenv("WDMSIM_TEST_TIMEOUT"), NULL, 10)
                                                         : 0;
    for (const char *arg = cmdline + strlen(cmdline) + 1; arg < end; arg += strlen(arg) + 1) {
        const char *next = arg + strlen(arg) + 1;

        if (strcmp(arg, "--list") == 0)
            options->list = true;
        else if (strcmp(arg, "--no-isolation") == 0)
            options->isolate = false;
        else if (strncmp(arg, "--filter=", 9) == 0)
            options->filter = arg + 9;
        else if (strcmp(arg, "--filter") == 0 && next < end) {
            options->filter = next;
            arg = next;
        }
    }
}

static bool cases_selected(const struct cases_options *options, const struct CMUnitTest *test)
{
    return test->name != NULL && test->test_func != NULL &&
           (options->filter == NULL || fnmatch(options->filter, test->name, 0) == 0);
}

/* ---- The child: one case ---- */

static void cases_note_end(enum case_end end)
{
    note->end = end;
    fflush(NULL);
}

/* A case that skips itself ends its child there: CMocka's own skip would jump back into the
 * child's copy of the runner, which would go on with the next case. */
void __wrap__skip(const char *file, int line)
{
    if (!in_case_child) {
        __real__skip(file, line);
        return;
    }
    snprintf(note->file, sizeof note->file, "%s", file);
    note->line = line;
    cases_note_end(CASE_SKIPPED);
    _exit(0);
}

static void cases_child(void *context)
{
    const struct CMUnitTest *test = context;
    void *state = group_state != NULL ? group_state : (void *)test->initial_state;

    in_case_child = true;
    /* A failed assertion prints its message and aborts the child, instead of jumping back into
     * the child's copy of the runner. */
    setenv("CMOCKA_TEST_ABORT", "1", 1);
    if (test->setup_func != NULL && test->setup_func(&state) != 0) {
        cases_note_end(CASE_SETUP_FAILED);
        return;
    }
    test->test_func(&state);
    if (test->teardown_func != NULL && test->teardown_func(&state) != 0)
        cases_note_end(CASE_TEARDOWN_FAILED);
}

/* ---- The parent: a stand-in for each case ---- */

static char *cases_read_output(FILE *output)
{
    long size;
    char *text;

    fflush(output);
    size = ftell(output);
    text = malloc((size_t)(size > 0 ? size : 0) + 1);
    if (text == NULL)
        abort();
    rewind(output);
    size = (long)fread(text, 1, (size_t)(size > 0 ? size : 0), output);
    text[size] = '\0';
    return text;
}

static void cases_describe(const struct wdmsim_stop *result, char *what, size_t size)
{
    if (note->end == CASE_SETUP_FAILED)
        snprintf(what, size, "its setup failed");
    else if (note->end == CASE_TEARDOWN_FAILED)
        snprintf(what, size, "its teardown failed");
    else if (result->timed_out)
        snprintf(what, size, "it did not finish within WDMSIM_TEST_TIMEOUT=%u s", case_timeout_seconds);
    else if (result->stopped)
        snprintf(what, size, "it stopped the machine: STOP 0x%08X %s%s%s", result->code, result->code_name,
                 result->rule[0] ? ", rule " : "", result->rule);
    else if (result->exit_signal == SIGABRT)
        snprintf(what, size, "it aborted: a failed assertion (CMocka's message is in what it printed), or "
                 "abort()");
    else if (result->exit_signal != 0)
        snprintf(what, size, "it crashed with signal %d (%s)", result->exit_signal, strsignal(result->exit_signal));
    else if (!result->finished)
        snprintf(what, size, "it ended its process with exit status %d", result->exit_status);
    else
        snprintf(what, size, "it leaked %zu resource(s)", result->leaks);
}

static bool cases_passed(const struct wdmsim_stop *result)
{
    return note->end == CASE_RAN && result->finished && result->leaks == 0;
}

static void cases_print_stderr(const char *text)
{
    fputs(text, stderr);
}

/* Adds text to the failure message in pieces: CMocka 1.1.5 garbles a piece of 1 KB or more. */
static void cases_print_error(const char *text)
{
    while (*text != '\0') {
        size_t n = strnlen(text, CASES_MESSAGE_PIECE);
        const char *newline = memrchr(text, '\n', n);

        if (text[n] != '\0' && newline != NULL)
            n = (size_t)(newline - text) + 1;
        cm_print_error("%.*s", (int)n, text);
        text += n;
    }
}

/* CMocka's console and subunit output print a failure message through a 1 KB buffer (subunit's
 * closing bracket is lost with the rest), so there the report goes straight to stderr and the
 * message only points to it; TAP (a line at a time) and XML carry it whole. */
static bool cases_message_is_cut(void)
{
    const char *format = getenv("CMOCKA_MESSAGE_OUTPUT");

    return format == NULL || (strcasecmp(format, "tap") != 0 && strcasecmp(format, "xml") != 0);
}

/* Takes output, and frees it before CMocka's failure jumps away. */
static void cases_fail(const char *name, const struct wdmsim_stop *result, char *output)
{
    bool cut = cases_message_is_cut();
    void (*print)(const char *text) = cut ? cases_print_stderr : cases_print_error;
    char what[256];

    cases_describe(result, what, sizeof what);
    cm_print_error("%s: %s%s\n", name, what, cut ? " (the report is on stderr)" : "");
    if (cut)
        fprintf(stderr, "%s: %s\n", name, what);
    if (result->report[0] != '\0')
        print(result->report);
    if (output[0] != '\0') {
        print("What the case printed:\n");
        print(output);
        if (output[strlen(output) - 1] != '\n')
            print("\n");
    }
    free(output);
    _fail(__FILE__, __LINE__);
}

static void cases_run_one(void **state)
{
    const struct CMUnitTest *test = *state;
    static struct wdmsim_stop result;
    FILE *output = tmpfile();
    char *text;

    if (output == NULL)
        abort();
    memset(note, 0, sizeof *note);
    wdmsim_run_isolated(cases_child, (void *)test, output, case_timeout_seconds, &result);
    text = cases_read_output(output);
    fclose(output);
    if (note->end == CASE_SKIPPED || cases_passed(&result)) {
        fputs(text, stderr);
        free(text);
        if (note->end == CASE_SKIPPED)
            __real__skip(note->file, note->line);
        return;
    }
    cases_fail(test->name, &result, text);
}

/* The real group fixtures run in the parent, once, and their state reaches each case's child.
 * CMocka is told of no state, so it hands each stand-in its own case. */
static int cases_group_setup(void **state)
{
    (void)state;
    return real_group_setup != NULL ? real_group_setup(&group_state) : 0;
}

static int cases_group_teardown(void **state)
{
    (void)state;
    return real_group_teardown != NULL ? real_group_teardown(&group_state) : 0;
}

static struct CMUnitTest cases_stand_in(const struct CMUnitTest *test)
{
    struct CMUnitTest stand_in = { test->name, cases_run_one, NULL, NULL, (void *)test };

    return stand_in;
}

static int cases_run_group(const char *group_name, const struct CMUnitTest *tests, size_t count,
                           const struct cases_options *options, CMFixtureFunction group_setup,
                           CMFixtureFunction group_teardown)
{
    struct CMUnitTest *selected = calloc(count ? count : 1, sizeof *selected);
    size_t n = 0;
    int failed;

    if (selected == NULL)
        abort();
    for (size_t i = 0; i < count; i++) {
        if (cases_selected(options, &tests[i]))
            selected[n++] = options->isolate ? cases_stand_in(&tests[i]) : tests[i];
    }
    if (options->isolate) {
        real_group_setup = group_setup;
        real_group_teardown = group_teardown;
        group_state = NULL;
        group_setup = cases_group_setup;
        group_teardown = cases_group_teardown;
    }
    failed = __real__cmocka_run_group_tests(group_name, selected, n, group_setup, group_teardown);
    free(selected);
    return failed;
}

int __wrap__cmocka_run_group_tests(const char *group_name, const struct CMUnitTest *tests, size_t count,
                                   CMFixtureFunction group_setup, CMFixtureFunction group_teardown)
{
    struct cases_options options;

    cases_read_options(&options);
    if (options.list) {
        for (size_t i = 0; i < count; i++) {
            if (cases_selected(&options, &tests[i]))
                printf("%s\n", tests[i].name);
        }
        return 0;
    }
    if (note == NULL) {
        note = mmap(NULL, sizeof *note, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (note == MAP_FAILED)
            abort();
    }
    return cases_run_group(group_name, tests, count, &options, group_setup, group_teardown);
}
