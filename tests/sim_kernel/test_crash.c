/*
 * test_crash.c - a crash of a simulated thread is a STOP: which bug check each fault becomes (a
 * NULL pointer, an invalid address, the same at DISPATCH_LEVEL, in a system thread, a division by
 * zero, an illegal instruction, a stack overflow), what the report says (a driver module's crash
 * names the driver), and the faults that are not the simulator's to report (a signal sent with
 * kill, a thread it does not know).
 */
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <ntifs.h>

#include <wdmsim/test.h>

#define STATUS_ACCESS_VIOLATION_CODE 0xC0000005ULL
#define STATUS_ILLEGAL_INSTRUCTION_CODE 0xC000001DULL
#define STATUS_INTEGER_DIVIDE_BY_ZERO_CODE 0xC0000094ULL

/* Volatile, so that no compiler sees the NULL, the zero or the endless recursion and emits a
 * trap (or a warning) instead of the faulting instruction; and the faulting functions are not
 * checked by UBSan, which would report the NULL or the zero first and end the process. */
#define FAULTS_ON_PURPOSE __attribute__((no_sanitize("undefined")))

static volatile int *volatile null_pointer;
static volatile int zero, one = 1;
static volatile int forever = 1;

FAULTS_ON_PURPOSE static void writes_through_NULL(void *context)
{
    (void)context;
    *null_pointer = 1;
}

static void a_NULL_write_stops_with_KMODE_EXCEPTION_NOT_HANDLED(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(writes_through_NULL, NULL, 0x1E, STATUS_ACCESS_VIOLATION_CODE, "crash.access_violation",
                        &stop);
    assert_int_equal(stop.params[2], 1);    /* a write */
    assert_int_equal(stop.params[3], 0);    /* the address */
    wdmsim_assert_report_has(&stop, "Detail:   SIGSEGV");
    wdmsim_assert_report_has(&stop, "Thread:   main");
}

FAULTS_ON_PURPOSE static VOID NTAPI read_NULL_routine(PVOID context)
{
    (void)context;
    (void)*null_pointer;
}

/* A scenario: the routine (the context) on a system thread, waited for. */
static void runs_in_a_system_thread(void *routine)
{
    HANDLE thread;

    PsCreateSystemThread(&thread, THREAD_ALL_ACCESS, NULL, NULL, NULL, (PKSTART_ROUTINE)routine, NULL);
    ZwWaitForSingleObject(thread, FALSE, NULL);
}

static void a_NULL_read_in_a_system_thread_stops_with_SYSTEM_THREAD_EXCEPTION_NOT_HANDLED(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(runs_in_a_system_thread, (void *)read_NULL_routine, 0x7E, STATUS_ACCESS_VIOLATION_CODE,
                        "crash.access_violation", &stop);
    assert_int_equal(stop.params[2], 0);    /* a read */
    wdmsim_assert_report_has(&stop, "Thread:   system-");
}

FAULTS_ON_PURPOSE static void reads_NULL_at_DISPATCH_LEVEL(void *context)
{
    KIRQL old_irql;

    (void)context;
    KeRaiseIrql(DISPATCH_LEVEL, &old_irql);
    (void)*null_pointer;
}

static void a_NULL_read_at_DISPATCH_LEVEL_stops_with_DRIVER_IRQL_NOT_LESS_OR_EQUAL(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(reads_NULL_at_DISPATCH_LEVEL, NULL, 0xD1, 0, "crash.page_fault_at_dispatch", &stop);
    assert_int_equal(stop.params[1], DISPATCH_LEVEL);
    assert_int_equal(stop.params[2], 0);    /* a read */
    assert_int_not_equal(stop.params[3], 0);    /* the instruction */
}

FAULTS_ON_PURPOSE static void writes_a_protected_page(void *context)
{
    char *page = context;

    page[8] = 1;
}

static void a_write_to_an_invalid_address_stops_with_PAGE_FAULT_IN_NONPAGED_AREA(void **state)
{
    long page_size = sysconf(_SC_PAGESIZE);
    char *page = mmap(NULL, (size_t)page_size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    struct wdmsim_stop stop;

    (void)state;
    assert_true(page != MAP_FAILED);
    wdmsim_assert_stops(writes_a_protected_page, page, 0x50, (long long)(ULONG_PTR)(page + 8), "crash.page_fault",
                        &stop);
    assert_int_equal(stop.params[1], 2);    /* a write */
    munmap(page, (size_t)page_size);
}

FAULTS_ON_PURPOSE static void divides_by_zero(void *context)
{
    volatile int quotient = one / zero;

    (void)context;
    (void)quotient;
}

static void an_integer_division_by_zero_stops_with_STATUS_INTEGER_DIVIDE_BY_ZERO(void **state)
{
    (void)state;
    wdmsim_assert_stops(divides_by_zero, NULL, 0x1E, STATUS_INTEGER_DIVIDE_BY_ZERO_CODE,
                        "crash.integer_divide_by_zero", NULL);
}

static void runs_a_trap(void *context)
{
    (void)context;
    if (forever)
        __builtin_trap();
}

static void an_illegal_instruction_stops_with_STATUS_ILLEGAL_INSTRUCTION(void **state)
{
    (void)state;
    wdmsim_assert_stops(runs_a_trap, NULL, 0x1E, STATUS_ILLEGAL_INSTRUCTION_CODE, "crash.illegal_instruction", NULL);
}

static int recurse(int depth)
{
    volatile char frame[512];

    frame[0] = (char)depth;
    if (!forever)
        return 0;
    return recurse(depth + 1) + frame[0];
}

static VOID NTAPI recurse_routine(PVOID context)
{
    (void)context;
    recurse(0);
}

static void a_stack_overflow_stops_with_UNEXPECTED_KERNEL_MODE_TRAP_8(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(runs_in_a_system_thread, (void *)recurse_routine, 0x7F, 8, "crash.stack_overflow", &stop);
    wdmsim_assert_report_has(&stop, "UNEXPECTED_KERNEL_MODE_TRAP");
}

/* Not NULL, which the DDI checks on entry (ddi.null_argument), but a page nobody may touch. */
static void an_unmapped_spin_lock_in_the_DDI_is_reported_as_inside_the_DDI(void *context)
{
    void *page = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    KIRQL old_irql;

    (void)context;
    assert_true(page != MAP_FAILED);
    KeAcquireSpinLock((PKSPIN_LOCK)page, &old_irql);
}

static void a_crash_inside_a_DDI_names_the_DDI_and_blames_its_argument(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_run_expecting_stop(an_unmapped_spin_lock_in_the_DDI_is_reported_as_inside_the_DDI, NULL, &stop);
    assert_true(stop.stopped);
    assert_non_null(strstr(stop.rule, "crash."));
    wdmsim_assert_report_has(&stop, "bad argument");
}

static void loads_a_driver_that_writes_through_NULL(void *context)
{
    PDRIVER_OBJECT driver;

    (void)context;
    wdmsim_driver_load_module(CRASH_MODULE, "CrashDrv", &driver);
}

static void a_driver_that_crashes_in_DriverEntry_is_named_in_the_report(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(loads_a_driver_that_writes_through_NULL, NULL, 0x7E, STATUS_ACCESS_VIOLATION_CODE,
                        "crash.access_violation", &stop);
    wdmsim_assert_report_has(&stop, "Driver:   CrashDrv");
    wdmsim_assert_report_has(&stop, "DriverEntry+0x");
    wdmsim_assert_report_has(&stop, "the driver module's own code");
}

static void sends_itself_SIGSEGV(void *context)
{
    (void)context;
    KeGetCurrentIrql();
    raise(SIGSEGV);
}

static void a_SIGSEGV_sent_with_kill_is_not_a_crash_to_report(void **state)
{
    struct wdmsim_stop result;

    (void)state;
    wdmsim_run_isolated(sends_itself_SIGSEGV, NULL, NULL, 0, &result);
    assert_false(result.stopped);
    assert_int_equal(result.exit_signal, SIGSEGV);
}

FAULTS_ON_PURPOSE static void *host_thread_reads_NULL(void *unused)
{
    (void)unused;
    return (void *)(ULONG_PTR)*null_pointer;
}

static void crashes_on_a_thread_the_simulator_does_not_know(void *context)
{
    pthread_t thread;

    (void)context;
    KeGetCurrentIrql();
    pthread_create(&thread, NULL, host_thread_reads_NULL, NULL);
    pthread_join(thread, NULL);
}

static void a_crash_on_a_thread_the_simulator_does_not_know_is_left_to_the_host(void **state)
{
    struct wdmsim_stop result;

    (void)state;
    wdmsim_run_isolated(crashes_on_a_thread_the_simulator_does_not_know, NULL, NULL, 0, &result);
    assert_false(result.stopped);
    assert_int_equal(result.exit_signal, SIGSEGV);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        wdmsim_test(a_NULL_write_stops_with_KMODE_EXCEPTION_NOT_HANDLED),
        wdmsim_test(a_NULL_read_in_a_system_thread_stops_with_SYSTEM_THREAD_EXCEPTION_NOT_HANDLED),
        wdmsim_test(a_NULL_read_at_DISPATCH_LEVEL_stops_with_DRIVER_IRQL_NOT_LESS_OR_EQUAL),
        wdmsim_test(a_write_to_an_invalid_address_stops_with_PAGE_FAULT_IN_NONPAGED_AREA),
        wdmsim_test(an_integer_division_by_zero_stops_with_STATUS_INTEGER_DIVIDE_BY_ZERO),
        wdmsim_test(an_illegal_instruction_stops_with_STATUS_ILLEGAL_INSTRUCTION),
        wdmsim_test(a_stack_overflow_stops_with_UNEXPECTED_KERNEL_MODE_TRAP_8),
        wdmsim_test(a_crash_inside_a_DDI_names_the_DDI_and_blames_its_argument),
        wdmsim_test(a_driver_that_crashes_in_DriverEntry_is_named_in_the_report),
        wdmsim_test(a_SIGSEGV_sent_with_kill_is_not_a_crash_to_report),
        wdmsim_test(a_crash_on_a_thread_the_simulator_does_not_know_is_left_to_the_host),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
