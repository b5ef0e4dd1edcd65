/*
 * crash.c - every crash of a simulated thread is a STOP: SIGSEGV, SIGBUS, SIGILL and SIGFPE raised
 * by an instruction of a thread the simulator knows (a driver's code, or its own) become the bug
 * check Windows raises for that fault, with the full report. A fault at DISPATCH_LEVEL or above is
 * 0xD1; below it, an access in the first 64 KB (a NULL pointer) or any other exception is the
 * exception nobody handles (0x1E, 0x7E in a system thread), an access elsewhere 0x50; a fault at
 * the end of the thread's stack is a kernel stack overflow (0x7F/8). Each thread gets an
 * alternate signal stack, so the overflow can still be reported. A fault on a thread the simulator
 * does not know, or a signal sent with kill, goes to the action installed before. A component
 * that knows a fault better (a driver's discarded INIT section) claims it first.
 * Locking: the handler is installed and claims registered at boot, which boot.c serialises; the
 * fault record is the faulting thread's own.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <execinfo.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include "internal.h"

#define CRASH_ALT_STACK_SIZE (256u << 10)
#define CRASH_NULL_REGION 0x10000u      /* Windows never maps the first 64 KB */
#define CRASH_STACK_SLACK (64u << 10)   /* a fault this close to the stack's end is an overflow */
#define CRASH_PF_WRITE 0x2              /* x86-64 page fault error code bits */
#define CRASH_PF_FETCH 0x10
#define CRASH_MAX_CLAIMS 4

static const int crash_signals[] = { SIGSEGV, SIGBUS, SIGILL, SIGFPE };
static struct sigaction crash_previous[sizeof crash_signals / sizeof crash_signals[0]];
static void (*claims[CRASH_MAX_CLAIMS])(const struct crash_fault *fault);

/* The faulting thread's own: what the handler saw, for the STOP made outside it. */
static __thread struct crash_fault fault;
static __thread void *alt_stack;
static __thread uintptr_t stack_low;    /* the lowest address of the thread's stack */
static pthread_once_t alt_stack_key_once = PTHREAD_ONCE_INIT;
static pthread_key_t alt_stack_key;

/* ---- The alternate signal stack of each simulated thread ---- */

static void crash_alt_stack_free(void *stack)
{
    stack_t off = { .ss_flags = SS_DISABLE };

    sigaltstack(&off, NULL);
    munmap(stack, CRASH_ALT_STACK_SIZE);
}

static void crash_make_alt_stack_key(void)
{
    if (pthread_key_create(&alt_stack_key, crash_alt_stack_free) != 0)
        abort();
}

static void crash_find_stack_low(void)
{
    pthread_attr_t attr;
    void *low;
    size_t size;

    if (pthread_getattr_np(pthread_self(), &attr) != 0)
        return;
    if (pthread_attr_getstack(&attr, &low, &size) == 0)
        stack_low = (uintptr_t)low;
    pthread_attr_destroy(&attr);
}

void crash_thread_enter(void)
{
    stack_t stack;

    if (alt_stack != NULL)
        return;
    alt_stack = mmap(NULL, CRASH_ALT_STACK_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK,
                     -1, 0);
    if (alt_stack == MAP_FAILED)
        abort();
    stack.ss_sp = alt_stack;
    stack.ss_size = CRASH_ALT_STACK_SIZE;
    stack.ss_flags = 0;
    if (sigaltstack(&stack, NULL) != 0)
        abort();
    pthread_once(&alt_stack_key_once, crash_make_alt_stack_key);
    pthread_setspecific(alt_stack_key, alt_stack);
    crash_find_stack_low();
}

/* ---- From the fault to its bug check ---- */

static const char *crash_signal_name(int signal_number)
{
    switch (signal_number) {
    case SIGSEGV:
        return "SIGSEGV";
    case SIGBUS:
        return "SIGBUS";
    case SIGILL:
        return "SIGILL";
    default:
        return "SIGFPE";
    }
}

static bool crash_is_stack_overflow(void)
{
    return fault.signal_number == SIGSEGV && stack_low != 0 && fault.address + CRASH_STACK_SLACK > stack_low &&
           fault.address < stack_low + CRASH_STACK_SLACK;
}

/* The exception Windows raises for the fault, for the signals that are not page faults. */
static enum rule_id crash_exception_rule(void)
{
    switch (fault.signal_number) {
    case SIGILL:
        return RULE_CRASH_ILLEGAL_INSTRUCTION;
    case SIGBUS:
        return RULE_CRASH_IN_PAGE_ERROR;
    case SIGFPE:
        if (fault.code == FPE_INTDIV)
            return RULE_CRASH_INTEGER_DIVIDE_BY_ZERO;
        return fault.code == FPE_INTOVF ? RULE_CRASH_INTEGER_OVERFLOW : RULE_CRASH_FLOAT;
    default:
        return RULE_CRASH_ACCESS_VIOLATION;
    }
}

ULONG_PTR crash_operation(const struct crash_fault *f, ULONG_PTR write, ULONG_PTR execute)
{
    if ((f->error & CRASH_PF_FETCH) || f->address == f->ip)
        return execute;
    return (f->error & CRASH_PF_WRITE) ? write : 0;
}

/* Boot order registers the same claims each time: a claim already there is not added again. */
void crash_register_claim(void (*claim)(const struct crash_fault *fault))
{
    for (size_t i = 0; i < CRASH_MAX_CLAIMS; i++) {
        if (claims[i] == claim)
            return;
        if (claims[i] == NULL) {
            claims[i] = claim;
            return;
        }
    }
    abort();
}

/* Prefixes of the simulator's own functions (internal.h), against which a fault in the kernel
 * library is told from one in a DDI it exports or in the host program. */
static const char *const crash_simulator_prefixes[] = {
    "bugcheck_", "clock_", "crash_", "deviface_", "disp_", "dpc_", "driver_", "event_", "explore_", "file_",
    "handle_", "host_", "io_", "ioevent_", "iowork_", "irql_", "kernel_", "list_", "mutex_", "ns_", "object_",
    "pool_", "process_", "rtl_", "rule_", "sched_", "semaphore_", "spinlock_", "strategy_", "thread_",
    "timer_", "wdmsim_", "workitem_",
};

static bool crash_in_simulator(const char *name)
{
    for (size_t i = 0; name != NULL && i < sizeof crash_simulator_prefixes / sizeof crash_simulator_prefixes[0];
         i++) {
        if (strncmp(name, crash_simulator_prefixes[i], strlen(crash_simulator_prefixes[i])) == 0)
            return true;
    }
    return false;
}

/* Whose code faulted: the same object as this file is the host program, the kernel linked in; a
 * shared library (lib*.so*: the C library, a sanitizer's runtime) was called by code further down
 * the backtrace; any other object is a driver module. */
static const char *crash_whose_code(const char *name, const char *object)
{
    Dl_info self;
    const char *base = object != NULL ? strrchr(object, '/') : NULL;

    base = base != NULL ? base + 1 : object;
    if (object == NULL || !dladdr((void *)crash_boot, &self) || self.dli_fname == NULL)
        return "";
    if (strcmp(object, self.dli_fname) != 0 && strncmp(base, "lib", 3) == 0 && strstr(base, ".so") != NULL)
        return " - a library, called by the code below it in the backtrace (when that is a DDI, most often "
               "with a bad argument from the DDI's caller)";
    if (strcmp(object, self.dli_fname) != 0)
        return " - the driver module's own code";
    if (crash_in_simulator(name))
        return " - the simulator's own code: unless a DDI below it in the backtrace passed it a bad "
               "argument, this is a crash of wdmsim itself, not of the driver; please report it with this report";
    if (name != NULL && name[0] >= 'A' && name[0] <= 'Z')
        return " - inside a DDI: most often a bad argument from its caller (the next frames)";
    return "";
}

/* Where the faulting instruction is (its function, object and source line), and whose code that is. */
static void crash_describe(char *detail, size_t size)
{
    Dl_info info = { 0 };
    char where[512];

    dladdr((void *)fault.ip, &info);
    symbolize((void *)fault.ip, (void *)fault.ip, where, sizeof where);
    snprintf(detail, size, "%s (si_code %d) at address %p, by the instruction at %p: %s%s",
             crash_signal_name(fault.signal_number), fault.code, (void *)fault.address, (void *)fault.ip, where,
             crash_whose_code(info.dli_sname, info.dli_fname));
}

static SIM_NORETURN void crash_stop(void)
{
    const struct _KTHREAD *self = thread_current_if_known();
    KIRQL irql = self != NULL ? self->irql : PASSIVE_LEVEL;
    char detail[512];

    bugcheck_backtrace_from((void *)(fault.ip + 1));
    if (crash_is_stack_overflow()) {
        crash_describe(detail, sizeof detail);
        rule_stop_text(RULE_CRASH_STACK_OVERFLOW, fault.address, fault.ip, 0, 0, detail);
    }
    for (size_t i = 0; i < CRASH_MAX_CLAIMS && claims[i] != NULL; i++)
        claims[i](&fault);
    crash_describe(detail, sizeof detail);
    if (fault.signal_number == SIGSEGV && irql >= DISPATCH_LEVEL)
        rule_stop_text(RULE_CRASH_PAGE_FAULT_AT_DISPATCH, fault.address, irql, crash_operation(&fault, 1, 8),
                       fault.ip, detail);
    if (fault.signal_number == SIGSEGV && fault.address >= CRASH_NULL_REGION)
        rule_stop_text(RULE_CRASH_PAGE_FAULT, fault.address, crash_operation(&fault, 2, 0x10), fault.ip, 0, detail);
    rule_stop_text(crash_exception_rule(), fault.ip, crash_operation(&fault, 1, 8), fault.address, 0, detail);
}

/* Entered as if the faulting instruction had called it (see crash_handler): the STOP runs on the
 * thread's own stack, outside the signal handler, and its backtrace goes on into the faulting
 * code. */
__attribute__((force_align_arg_pointer, noinline)) static SIM_NORETURN void crash_fault_stop(void)
{
    crash_stop();
}

static size_t crash_signal_index(int signal_number)
{
    size_t i = 0;

    while (crash_signals[i] != signal_number)
        i++;
    return i;
}

/* Not a simulated thread's fault: the action installed before takes it, raised again for a signal
 * that was sent (returning from a fault runs the instruction again, which faults again). */
static void crash_pass_on(int signal_number, const siginfo_t *info)
{
    sigaction(signal_number, &crash_previous[crash_signal_index(signal_number)], NULL);
    if (info->si_code <= 0)
        raise(signal_number);
}

/* The handler only records the fault. On x86-64 it then makes the thread return from the signal
 * into crash_fault_stop, one byte into the faulting instruction as its return address (an unwinder
 * looks a return address up one byte back: so it finds the faulting instruction's own frame rules,
 * even when that is a function's first instruction - a call to unloaded code), since the STOP path
 * allocates, takes locks and unwinds, which a signal handler may not do; a stack overflow leaves no
 * stack to return to, so that one stops here, on the alternate stack. */
static void crash_handler(int signal_number, siginfo_t *info, void *context)
{
    if (info->si_code <= 0 || thread_current_if_known() == NULL) {
        crash_pass_on(signal_number, info);
        return;
    }
    fault.signal_number = signal_number;
    fault.code = info->si_code;
    fault.address = (uintptr_t)info->si_addr;
#if defined(__x86_64__)
    {
        ucontext_t *uc = context;
        greg_t *sp = (greg_t *)uc->uc_mcontext.gregs[REG_RSP] - 1;

        fault.error = (ULONG_PTR)uc->uc_mcontext.gregs[REG_ERR];
        fault.ip = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
        if (crash_is_stack_overflow()) {
            symbolize_from_signal_handler();
            crash_stop();
        }
        *sp = uc->uc_mcontext.gregs[REG_RIP] + 1;
        uc->uc_mcontext.gregs[REG_RSP] = (greg_t)sp;
        uc->uc_mcontext.gregs[REG_RIP] = (greg_t)crash_fault_stop;
    }
#else
    (void)context;
    fault.error = 0;
    fault.ip = fault.address;
    crash_stop();
#endif
}

/* At each boot: a child of bugcheck_fork starts with the default actions, and a test framework may
 * have put its own in. The first backtrace loads the unwinder, which a STOP must not have to do. */
void crash_boot(void)
{
    struct sigaction action, current;
    void *frame;

    backtrace(&frame, 1);
    crash_thread_enter();
    memset(&action, 0, sizeof action);
    action.sa_sigaction = crash_handler;
    action.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&action.sa_mask);
    for (size_t i = 0; i < sizeof crash_signals / sizeof crash_signals[0]; i++) {
        sigaction(crash_signals[i], NULL, &current);
        if ((current.sa_flags & SA_SIGINFO) && current.sa_sigaction == crash_handler)
            continue;
        sigaction(crash_signals[i], &action, &crash_previous[i]);
    }
}
