/*
 * bugcheck.c - stopping the machine: KeBugCheckEx and every rule violation build one report
 * (Windows' STOP line, the rule, IRQL, thread, process, driver, backtrace). The sink prints it and
 * ends the process, or, in a child of an isolated run (isolate.c) or of wdmsim_explore, hands it to
 * the parent through a pipe; the fork and the records they share are here.
 * Locking: the first thread to stop wins `stopping`; any other thread that stops after it waits
 * forever, since the machine is gone.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <execinfo.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "internal.h"

#define BUGCHECK_MAX_FRAMES 24

static atomic_bool stopping;
static int capture_fd = -1;     /* set only in a child of bugcheck_fork */
static pid_t capture_pid;       /* that child: a process it forks in turn stops as a program does */
static struct bugcheck_stop_observer *stop_observers;   /* fixed before main */

static const struct {
    ULONG code;
    const char *name;
} bugcheck_names[] = {
    { 0x00, "WDMSIM_WARNING_MADE_FATAL" },      /* the simulator's own: a warning rule, made fatal */
    { 0x01, "APC_INDEX_MISMATCH" },
    { 0x05, "INVALID_PROCESS_ATTACH_ATTEMPT" },
    { 0x06, "INVALID_PROCESS_DETACH_ATTEMPT" },
    { 0x09, "IRQL_NOT_GREATER_OR_EQUAL" },
    { 0x0A, "IRQL_NOT_LESS_OR_EQUAL" },
    { 0x0C, "MAXIMUM_WAIT_OBJECTS_EXCEEDED" },
    { 0x0F, "SPIN_LOCK_ALREADY_OWNED" },
    { 0x10, "SPIN_LOCK_NOT_OWNED" },
    { 0x1E, "KMODE_EXCEPTION_NOT_HANDLED" },
    { 0x20, "KERNEL_APC_PENDING_DURING_EXIT" },
    { 0x35, "NO_MORE_IRP_STACK_LOCATIONS" },
    { 0x44, "MULTIPLE_IRP_COMPLETE_REQUESTS" },
    { 0x50, "PAGE_FAULT_IN_NONPAGED_AREA" },
    { 0x7E, "SYSTEM_THREAD_EXCEPTION_NOT_HANDLED" },
    { 0x7F, "UNEXPECTED_KERNEL_MODE_TRAP" },
    { 0x93, "INVALID_KERNEL_HANDLE" },
    { 0x96, "INVALID_WORK_QUEUE_ITEM" },
    { 0xB8, "ATTEMPTED_SWITCH_FROM_DPC" },
    { 0xC2, "BAD_POOL_CALLER" },
    { 0xC4, "DRIVER_VERIFIER_DETECTED_VIOLATION" },
    { 0xC7, "TIMER_OR_DPC_INVALID" },
    { 0xC8, "IRQL_UNEXPECTED_VALUE" },
    { 0xC9, "DRIVER_VERIFIER_IOMANAGER_VIOLATION" },
    { 0xCE, "DRIVER_UNLOADED_WITHOUT_CANCELLING_PENDING_OPERATIONS" },
    { 0xD1, "DRIVER_IRQL_NOT_LESS_OR_EQUAL" },
    { 0xE1, "WORKER_THREAD_RETURNED_AT_BAD_IRQL" },
    { 0xE2, "MANUALLY_INITIATED_CRASH" },
    { 0xE4, "WORKER_INVALID" },
    { 0xE9, "ACTIVE_EX_WORKER_THREAD_TERMINATION" },
    { 0x139, "KERNEL_SECURITY_CHECK_FAILURE" },
    { 0x4000008A, "THREAD_TERMINATE_HELD_MUTEX" },
};

/* The four parameters of each bug check as the debugger's !analyze -v labels them (the bug check
 * reference's descriptions). Where parameter 1 is a subcode, the others depend on it: the rule's
 * Why line says what they hold. */
static const struct {
    ULONG code;
    const char *labels[4];
} bugcheck_labels[] = {
    { 0x01, { "address of the system call or worker routine", "current thread's APC state index",
              "current thread's kernel APC disable count", "0 = system call, 1 = worker routine" } },
    { 0x05, { "target process", "current process", "APC state index", "1 = called from a DPC" } },
    { 0x06, { "original process", "current process", "APC state index", "1 = called from a DPC" } },
    { 0x0A, { "memory referenced", "IRQL", "bitfield: bit 0 = write, bit 3 = execute", "address which referenced memory" } },
    { 0x0C, { "the thread's count of wait objects", "the maximum", "0", "0" } },
    { 0x0F, { "spin lock address", "0", "0", "0" } },
    { 0x10, { "spin lock address", "0", "0", "0" } },
    { 0x1E, { "exception code that was not handled", "address of the instruction where the exception occurred",
              "parameter 0 of the exception (0 read, 1 write, 8 execute)", "parameter 1 of the exception (the address)" } },
    { 0x35, { "address of the IRP", "0", "0", "0" } },
    { 0x44, { "address of the IRP", "reserved", "reserved", "reserved" } },
    { 0x50, { "memory referenced", "0 read, 2 write, 0x10 execute", "address which referenced memory", "reserved" } },
    { 0x7E, { "exception code that was not handled", "address of the instruction where the exception occurred",
              "parameter 0 of the exception (0 read, 1 write, 8 execute)", "parameter 1 of the exception (the address)" } },
    { 0x7F, { "trap number (8 = double fault)", "reserved", "reserved", "reserved" } },
    { 0x93, { "handle passed to NtClose", "0 = protected handle, 1 = invalid handle", "0", "0" } },
    { 0xB8, { "original thread", "new thread", "0", "0" } },
    { 0xC2, { "type of violation (subcode)", "depends on the subcode", "depends on the subcode", "depends on the subcode" } },
    { 0xC4, { "violation type (subcode)", "depends on the subcode", "depends on the subcode", "depends on the subcode" } },
    { 0xC7, { "type of object (0 timer, 1 thread, 2 DPC queue, 3 DPC routine)", "address of the object",
              "start of the memory range", "end of the memory range" } },
    { 0xC8, { "the IRQL expected << 16 | the IRQL found << 8", "the routine", "the object", "0" } },
    { 0xC9, { "type of I/O manager violation (subcode)", "depends on the subcode", "depends on the subcode",
              "depends on the subcode" } },
    { 0xCE, { "memory referenced", "0 read, 1 write", "address that referenced memory", "reserved" } },
    { 0xD1, { "memory referenced", "IRQL at the time of the reference", "0 read, 1 write, 8 execute",
              "address which referenced memory" } },
    { 0xE1, { "address of the worker routine", "IRQL it returned at", "work item parameter", "work item address" } },
    { 0xE2, { "0", "0", "0", "0" } },
    { 0xE4, { "subcode", "depends on the subcode", "depends on the subcode", "depends on the subcode" } },
    { 0xE9, { "exiting ETHREAD", "0", "0", "0" } },
    { 0x139, { "type of corruption (3 = a LIST_ENTRY was corrupted)", "address of the trap frame",
               "address of the exception record", "reserved" } },
    { 0x4000008A, { "address of the thread", "address of the held mutex", "0", "0" } },
};

static const char *const *bugcheck_labels_of(ULONG code)
{
    for (size_t i = 0; i < sizeof bugcheck_labels / sizeof bugcheck_labels[0]; i++) {
        if (bugcheck_labels[i].code == code)
            return bugcheck_labels[i].labels;
    }
    return NULL;
}

const char *bugcheck_code_name(ULONG code)
{
    for (size_t i = 0; i < sizeof bugcheck_names / sizeof bugcheck_names[0]; i++) {
        if (bugcheck_names[i].code == code)
            return bugcheck_names[i].name;
    }
    return "(driver-defined bug check code)";
}

struct report_buf {
    char *text;
    size_t size;
    size_t used;
};

static void report_add(struct report_buf *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void report_add(struct report_buf *r, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (r->used >= r->size)
        return;
    va_start(ap, fmt);
    n = vsnprintf(r->text + r->used, r->size - r->used, fmt, ap);
    va_end(ap);
    if (n > 0)
        r->used += (size_t)n < r->size - r->used ? (size_t)n : r->size - r->used;
}

/* The arguments as the debugger shows them, each with what it holds for this bug check. */
static void report_arguments(struct report_buf *r, ULONG code, const ULONG_PTR params[4])
{
    const char *const *labels = bugcheck_labels_of(code);

    report_add(r, "Arguments:\n");
    for (int i = 0; i < 4; i++)
        report_add(r, "Arg%d: %016llx, %s\n", i + 1, (unsigned long long)params[i],
                   labels != NULL ? labels[i] : "defined by the driver that called KeBugCheckEx");
    report_add(r, "\n");
}

static __thread const struct sim_driver *blamed_driver;
static __thread const void *blamed_routine;

void bugcheck_blame(const struct sim_driver *driver, const void *routine)
{
    blamed_driver = driver;
    blamed_routine = driver != NULL ? routine : NULL;
}

static void report_context(struct report_buf *r)
{
    struct _KTHREAD *self = thread_current_if_known();
    char process[160], routine[512];

    if (self == NULL) {
        report_add(r, "Thread:   none: a host thread the simulator has not adopted, or its own clock thread\n");
        return;
    }
    report_add(r, "IRQL:     %s (%u)\n", irql_name(self->irql), self->irql);
    report_add(r, "Thread:   %s (tid %ld%s)\n", self->name, self->tid,
               self->adopted ? ", host thread adopted by the simulator" : "");
    process_describe_context(self, process, sizeof process);
    report_add(r, "Process:  %s\n", process);
    if (blamed_routine != NULL) {
        symbolize(blamed_routine, blamed_routine, routine, sizeof routine);
        report_add(r, "Driver:   %s (the routine below; the thread is %s)\n", blamed_driver->name,
                   self->driver ? self->driver->name : "the host's");
        report_add(r, "Routine:  %s\n", routine);
        return;
    }
    report_add(r, "Driver:   %s\n", self->driver ? self->driver->name : "none (host code)");
}

/* A return address points after the call; after a noreturn call at a function's very end that is
 * already the next function, so look one byte back. */
static void *frame_call_site(void *frame)
{
    return (char *)frame - 1;
}

static bool frame_is_stop_path(void *frame)
{
    Dl_info info;

    return dladdr(frame_call_site(frame), &info) && info.dli_sname != NULL &&
           (strncmp(info.dli_sname, "bugcheck_", 9) == 0 || strncmp(info.dli_sname, "rule_", 5) == 0 ||
            strncmp(info.dli_sname, "lockorder_", 10) == 0);
}

static bool frame_is_named(void *frame)
{
    Dl_info info;

    return dladdr(frame_call_site(frame), &info) && info.dli_sname != NULL;
}

static bool bugcheck_read_at(int fd, void *data, size_t size, off_t offset)
{
    return pread(fd, data, size, offset) == (ssize_t)size;
}

/* size bytes of a file from offset (a symbol table, the section headers), in one read: NULL when
 * they cannot be had. */
static void *bugcheck_read_block(int fd, size_t size, off_t offset)
{
    void *data = size < (64u << 20) ? malloc(size) : NULL;

    if (data != NULL && !bugcheck_read_at(fd, data, size, offset)) {
        free(data);
        return NULL;
    }
    return data;
}

/* The function symbol of an ELF symbol table that holds value, or NULL. */
static const Elf64_Sym *bugcheck_function_at(const Elf64_Sym *symbols, size_t count, uintptr_t value)
{
    for (size_t k = 0; k < count; k++) {
        if (ELF64_ST_TYPE(symbols[k].st_info) == STT_FUNC && value >= symbols[k].st_value &&
            value < symbols[k].st_value + symbols[k].st_size)
            return &symbols[k];
    }
    return NULL;
}

/* The function of an unstripped object's symbol table (.symtab, which dladdr does not read: static
 * functions are only there) that holds offset, an address relative to the object's load base (the
 * address itself in an executable that is not position-independent). */
static bool bugcheck_static_symbol(const char *file, uintptr_t offset, uintptr_t address, char *name, size_t size,
                                   uintptr_t *start)
{
    int fd = open(file, O_RDONLY | O_CLOEXEC);
    Elf64_Ehdr header;
    Elf64_Shdr *sections = NULL;
    bool found = false;

    if (fd < 0)
        return false;
    memset(&header, 0, sizeof header);
    if (bugcheck_read_at(fd, &header, sizeof header, 0) && memcmp(header.e_ident, ELFMAG, SELFMAG) == 0 &&
        header.e_ident[EI_CLASS] == ELFCLASS64 && header.e_shentsize == sizeof(Elf64_Shdr))
        sections = bugcheck_read_block(fd, header.e_shnum * sizeof *sections, (off_t)header.e_shoff);
    if (header.e_type == ET_EXEC)
        offset = address;
    for (unsigned i = 0; sections != NULL && i < header.e_shnum && !found; i++) {
        const Elf64_Shdr *symtab = &sections[i];
        Elf64_Sym *symbols;
        const Elf64_Sym *sym;

        if (symtab->sh_type != SHT_SYMTAB || symtab->sh_entsize != sizeof(Elf64_Sym) || symtab->sh_link >= header.e_shnum ||
            (symbols = bugcheck_read_block(fd, symtab->sh_size, (off_t)symtab->sh_offset)) == NULL)
            continue;
        sym = bugcheck_function_at(symbols, symtab->sh_size / sizeof *symbols, offset);
        if (sym != NULL && pread(fd, name, size - 1, (off_t)(sections[symtab->sh_link].sh_offset + sym->st_name)) > 0) {
            name[size - 1] = '\0';
            *start = sym->st_value + (address - offset);
            found = true;
        }
        free(symbols);
    }
    free(sections);
    close(fd);
    return found;
}

/* A code address as its function and offset (a function's own address as its name alone); a static
 * function has no name dladdr can give, so the object's symbol table names it if it has one, else
 * its file and offset, which addr2line turns into a line. Reports, schedule decisions and the
 * timeline name code this way. */
void bugcheck_describe_code(const void *where, char *buf, size_t size)
{
    Dl_info info;
    const char *file;
    char name[128];
    uintptr_t start;

    if (!dladdr(where, &info)) {
        snprintf(buf, size, "%p", where);
    } else if (info.dli_sname != NULL && where == info.dli_saddr) {
        snprintf(buf, size, "%s", info.dli_sname);
    } else if (info.dli_sname != NULL) {
        snprintf(buf, size, "%s+0x%lx", info.dli_sname, (unsigned long)((const char *)where - (const char *)info.dli_saddr));
    } else if (info.dli_fname != NULL && bugcheck_static_symbol(info.dli_fname, (uintptr_t)where - (uintptr_t)info.dli_fbase,
                                                                  (uintptr_t)where, name, sizeof name, &start)) {
        snprintf(buf, size, (uintptr_t)where == start ? "%s" : "%s+0x%lx", name, (unsigned long)((uintptr_t)where - start));
    } else {
        file = info.dli_fname ? strrchr(info.dli_fname, '/') : NULL;
        snprintf(buf, size, "(%s+0x%lx)", file ? file + 1 : "?",
                 (unsigned long)((const char *)where - (const char *)info.dli_fbase));
    }
}

static __thread const void *backtrace_from;  /* a crash: the backtrace starts there (see crash.c) */

void bugcheck_backtrace_from(const void *ip)
{
    backtrace_from = ip;
}

/* The reader wants the DDI that found the problem and its callers, not the simulator's own stop
 * path: skip the innermost run of bugcheck_/rule_ frames and the unexported helpers right after
 * it (a bugcheck_ frame further out, such as the fork of wdmsim_run_expecting_stop, stays). A
 * crash's report starts at the faulting instruction instead, below the signal's frames. */
static int report_first_frame(void *const *frames, int count)
{
    int first = 0;

    for (int i = 0; backtrace_from != NULL && i < count; i++) {
        if (frames[i] == backtrace_from)
            return i;
    }

    for (int i = 0; i < count; i++) {
        if (frame_is_stop_path(frames[i]))
            first = i + 1;
        else if (first > 0 && frame_is_named(frames[i]))
            break;
    }
    while (first < count && !frame_is_named(frames[first]))
        first++;
    return first < count ? first : 0;
}

void bugcheck_name_frame(const void *frame, char *buf, size_t size)
{
    symbolize(frame, frame_call_site((void *)frame), buf, size);
}

static void report_backtrace(struct report_buf *r)
{
    void *frames[BUGCHECK_MAX_FRAMES];
    int count = backtrace(frames, BUGCHECK_MAX_FRAMES);
    int first = report_first_frame(frames, count);
    char frame[512];

    report_add(r, "Backtrace:\n");
    for (int i = first; i < count; i++) {
        /* A crash's frame is the faulting instruction itself, one byte before what crash.c pushed. */
        void *pc = frames[i] == backtrace_from ? frame_call_site(frames[i]) : frames[i];

        symbolize(pc, frame_call_site(frames[i]), frame, sizeof frame);
        report_add(r, "  #%-2d %s\n", i - first, frame);
    }
}

/* The unhandled-exception bug checks carry the exception's NTSTATUS as parameter 1: named, as
 * !analyze names it. */
static void report_exception_status(struct report_buf *r, ULONG code, ULONG_PTR param1)
{
    if (code != 0x1E && code != 0x7E && code != 0x8E)
        return;
    report_add(r, "Exception: %s (parameter 1)\n", wdmsim_status_text((NTSTATUS)param1).text);
}

static void bugcheck_build(struct wdmsim_stop *stop, ULONG code, const ULONG_PTR params[4],
                           const struct rule *rule, const char *detail)
{
    struct report_buf r = { stop->report, sizeof stop->report, 0 };

    memset(stop, 0, sizeof *stop);
    stop->stopped = 1;
    stop->code = code;
    for (int i = 0; i < 4; i++)
        stop->params[i] = params[i];
    snprintf(stop->code_name, sizeof stop->code_name, "%s", bugcheck_code_name(code));
    snprintf(stop->rule, sizeof stop->rule, "%s", rule ? rule->info.id : "");

    report_add(&r, "*** STOP: 0x%08X (0x%016llX, 0x%016llX, 0x%016llX, 0x%016llX)\n", code, params[0],
               params[1], params[2], params[3]);
    report_add(&r, "%s\n", stop->code_name);
    report_exception_status(&r, code, params[0]);
    report_add(&r, "\n");
    report_arguments(&r, code, params);
    if (rule != NULL) {
        report_add(&r, "Rule:     %s: %s\n", rule->info.id, rule->info.condition);
        report_add(&r, "DDI:      %s\n", rule->info.ddi);
        report_add(&r, "Why:      %s\n", rule->info.explanation);
        report_add(&r, "Fix:      %s\n", rule->info.fix);
    } else {
        report_add(&r, "Rule:     none: the driver called KeBugCheckEx itself\n");
    }
    if (detail != NULL)
        report_add(&r, "Detail:   %s\n", detail);
    report_context(&r);
    report_backtrace(&r);
}

static void bugcheck_write_all(int fd, const void *data, size_t size)
{
    const char *p = data;

    while (size > 0) {
        ssize_t n = write(fd, p, size);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return;
        p += n;
        size -= (size_t)n;
    }
}

void bugcheck_stop_observer_register(struct bugcheck_stop_observer *observer)
{
    observer->next = stop_observers;
    stop_observers = observer;
}

/* A controlled schedule that stops says how to replay it, after the report. */
SIM_NORETURN void bugcheck_stop(ULONG code, const ULONG_PTR params[4], const struct rule *rule,
                                const char *detail)
{
    static struct bugcheck_record record;

    if (atomic_exchange(&stopping, true)) {
        for (;;)
            pause();
    }
    bugcheck_build(&record.stop, code, params, rule, detail);
    for (struct bugcheck_stop_observer *o = stop_observers; o != NULL; o = o->next)
        o->stopping(&record.stop);
    strategy_summarize(&record.schedule);
    fflush(stdout);
    if (capture_fd >= 0 && getpid() == capture_pid) {
        record.kind = BUGCHECK_RECORD_STOP;
        bugcheck_write_record(capture_fd, &record);
    } else {
        bugcheck_write_all(STDERR_FILENO, record.stop.report, strlen(record.stop.report));
        strategy_print_failure(stderr, &record.schedule);
    }
    _exit(WDMSIM_STOP_EXIT_STATUS);
}

/* Any IRQL; never returns. */
DECLSPEC_NORETURN VOID NTAPI KeBugCheckEx(ULONG BugCheckCode, ULONG_PTR BugCheckParameter1,
                                          ULONG_PTR BugCheckParameter2, ULONG_PTR BugCheckParameter3,
                                          ULONG_PTR BugCheckParameter4)
{
    const ULONG_PTR params[4] = { BugCheckParameter1, BugCheckParameter2, BugCheckParameter3,
                                  BugCheckParameter4 };

    thread_current();
    bugcheck_stop(BugCheckCode, params, NULL, NULL);
}

/* Any IRQL; never returns. */
DECLSPEC_NORETURN VOID NTAPI KeBugCheck(ULONG BugCheckCode)
{
    KeBugCheckEx(BugCheckCode, 0, 0, 0, 0);
}

/* A test framework's crash handlers (CMocka longjmps back into its runner) must not resume the
 * parent's test run inside the child: a crash there ends the child, and the parent sees it. */
static void bugcheck_child_default_signals(void)
{
    static const int crash_signals[] = { SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT };

    for (size_t i = 0; i < sizeof crash_signals / sizeof crash_signals[0]; i++)
        signal(crash_signals[i], SIG_DFL);
}

/* A child that a signal ended without a STOP: a crash of no simulated thread (crash.c turns
 * theirs into STOPs), or a signal sent to it. */
void bugcheck_note_signal(struct wdmsim_stop *stop, int signal_number)
{
    stop->exit_signal = signal_number;
    snprintf(stop->report, sizeof stop->report, "the scenario crashed with signal %d (%s), outside the simulated "
             "threads or sent to its process\n", signal_number, strsignal(signal_number));
}

bool bugcheck_record_failed(const struct bugcheck_record *record)
{
    return record->kind == BUGCHECK_RECORD_STOP || record->leaks != 0 || record->sanitizer;
}

void bugcheck_write_record(int fd, const struct bugcheck_record *record)
{
    bugcheck_write_all(fd, record, bugcheck_record_failed(record) ? sizeof *record
                                                                  : offsetof(struct bugcheck_record, stop));
}

size_t bugcheck_read_all(int fd, void *data, size_t size)
{
    char *p = data;
    size_t got = 0;

    while (got < size) {
        ssize_t n = read(fd, p + got, size - got);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    return got;
}

bool bugcheck_read_record(int fd, struct bugcheck_record *record)
{
    size_t head = offsetof(struct bugcheck_record, stop);

    memset(record, 0, sizeof *record);
    if (bugcheck_read_all(fd, record, head) != head)
        return false;
    return !bugcheck_record_failed(record) ||
           bugcheck_read_all(fd, (char *)record + head, sizeof *record - head) == sizeof *record - head;
}

static SIM_NORETURN void bugcheck_child(int fd, void (*body)(int fd, void *context), void *context)
{
    bugcheck_child_default_signals();
    capture_fd = fd;
    capture_pid = getpid();
    atomic_store(&stopping, false);
    kernel_forget_after_fork();
    body(fd, context);
    _exit(0);
}

pid_t bugcheck_fork(void (*body)(int fd, void *context), void *context, int *read_fd)
{
    int fds[2];
    pid_t child;

    kernel_quiesce();
    symbolize_prepare();
    fflush(NULL);
    if (pipe(fds) != 0)
        abort();
    child = fork();
    if (child < 0)
        abort();
    if (child == 0) {
        close(fds[0]);
        bugcheck_child(fds[1], body, context);
    }
    close(fds[1]);
    *read_fd = fds[0];
    return child;
}

int bugcheck_wait_child(pid_t child, int *exit_status)
{
    int status = 0;

    while (waitpid(child, &status, 0) < 0 && errno == EINTR)
        ;
    *exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return WIFSIGNALED(status) ? WTERMSIG(status) : 0;
}

#if defined(__SANITIZE_THREAD__)
#define BUGCHECK_UNDER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define BUGCHECK_UNDER_TSAN 1
#endif
#endif

#ifdef BUGCHECK_UNDER_TSAN
/* wdmsim_run_expecting_stop forks while the kernel's service threads run, and the child boots a
 * kernel with threads of its own: tell ThreadSanitizer, in every program that links the kernel,
 * that this is intended. A STOP's child ends at once with those threads blocked, on purpose, so
 * ThreadSanitizer's second of grace at exit for running threads only costs time (a second per
 * STOP when the parent had no kernel running). */
const char *__tsan_default_options(void);
const char *__tsan_default_options(void)
{
    return "die_after_fork=0:atexit_sleep_ms=0";
}
#endif
