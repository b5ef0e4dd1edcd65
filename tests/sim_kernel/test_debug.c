/*
 * test_debug.c - debug output and assertions: DbgPrint and its forms, the component/level filter
 * Windows applies, the kernel's format codes, DbgBreakPoint, ASSERT and PAGED_CODE.
 */
#include "wdmsim_test.h"

static char captured[2048];
static unsigned messages;

static void capture(void *context, const char *message)
{
    (void)context;
    strncat(captured, message, sizeof captured - strlen(captured) - 1);
    messages++;
}

static int boot_capturing(void **state)
{
    captured[0] = '\0';
    messages = 0;
    wdmsim_debug_set_sink(capture, NULL);
    return wdmsim_test_boot(state);
}

static int shutdown_to_stderr(void **state)
{
    wdmsim_debug_set_sink(NULL, NULL);
    return wdmsim_test_shutdown(state);
}

#define debug_test(fn) cmocka_unit_test_setup_teardown(fn, boot_capturing, shutdown_to_stderr)

/* ---- Filtering, as Windows applies it ---- */

static void DbgPrint_is_filtered_out_by_default_as_DEFAULT_at_INFO_level(void **state)
{
    (void)state;
    assert_int_equal(DbgPrint("hidden %d\n", 1), STATUS_SUCCESS);
    assert_int_equal(messages, 0);
    assert_int_equal(DbgQueryDebugFilterState(DPFLTR_DEFAULT_ID, DPFLTR_INFO_LEVEL), FALSE);
}

static void DbgPrint_gets_through_once_the_DEFAULT_mask_lets_INFO_in(void **state)
{
    (void)state;
    assert_int_equal(DbgSetDebugFilterState(DPFLTR_DEFAULT_ID, DPFLTR_INFO_LEVEL, TRUE), STATUS_SUCCESS);
    DbgPrint("shown %d\n", 2);
    KdPrint(("kd %s\n", "too"));
    assert_string_equal(captured, "shown 2\nkd too\n");
    assert_int_equal(messages, 2);
}

static void DbgPrintEx_at_ERROR_level_passes_the_default_system_wide_mask(void **state)
{
    (void)state;
    DbgPrintEx(DPFLTR_IHVDRIVER_ID, DPFLTR_ERROR_LEVEL, "error\n");
    DbgPrintEx(DPFLTR_IHVDRIVER_ID, DPFLTR_WARNING_LEVEL, "warning\n");
    DbgPrintEx(DPFLTR_IHVDRIVER_ID, DPFLTR_TRACE_LEVEL, "trace\n");
    assert_string_equal(captured, "error\n");
}

static void a_component_mask_lets_in_only_its_own_components_levels(void **state)
{
    (void)state;
    DbgSetDebugFilterState(DPFLTR_IHVDRIVER_ID, DPFLTR_TRACE_LEVEL, TRUE);
    KdPrintEx((DPFLTR_IHVDRIVER_ID, DPFLTR_TRACE_LEVEL, "driver trace\n"));
    DbgPrintEx(DPFLTR_IHVDRIVER_ID, DPFLTR_INFO_LEVEL, "driver info\n");
    DbgPrintEx(DPFLTR_IHVVIDEO_ID, DPFLTR_TRACE_LEVEL, "video trace\n");
    assert_string_equal(captured, "driver trace\n");
    DbgSetDebugFilterState(DPFLTR_IHVDRIVER_ID, DPFLTR_TRACE_LEVEL, FALSE);
    DbgPrintEx(DPFLTR_IHVDRIVER_ID, DPFLTR_TRACE_LEVEL, "gone\n");
    assert_string_equal(captured, "driver trace\n");
}

static void a_Level_above_31_is_a_mask_of_its_own(void **state)
{
    (void)state;
    DbgSetDebugFilterState(DPFLTR_IHVDRIVER_ID, 5, TRUE);
    DbgPrintEx(DPFLTR_IHVDRIVER_ID, DPFLTR_MASK | (1u << 5), "bit 5\n");
    DbgPrintEx(DPFLTR_IHVDRIVER_ID, DPFLTR_MASK | (1u << 6), "bit 6\n");
    assert_string_equal(captured, "bit 5\n");
}

static void the_system_wide_mask_is_component_minus_one(void **state)
{
    (void)state;
    assert_int_equal(DbgQueryDebugFilterState((ULONG)-1, DPFLTR_ERROR_LEVEL), TRUE);
    DbgSetDebugFilterState((ULONG)-1, DPFLTR_WARNING_LEVEL, TRUE);
    DbgPrintEx(DPFLTR_IHVBUS_ID, DPFLTR_WARNING_LEVEL, "any component\n");
    assert_string_equal(captured, "any component\n");
}

static void a_component_beyond_the_table_is_STATUS_INVALID_PARAMETER_1(void **state)
{
    (void)state;
    assert_int_equal(DbgSetDebugFilterState(DPFLTR_ENDOFTABLE_ID, 0, TRUE), STATUS_INVALID_PARAMETER_1);
    assert_int_equal(DbgQueryDebugFilterState(DPFLTR_ENDOFTABLE_ID, 0), STATUS_INVALID_PARAMETER_1);
}

static void a_new_boot_restores_the_default_filter(void **state)
{
    (void)state;
    DbgSetDebugFilterState(DPFLTR_DEFAULT_ID, DPFLTR_INFO_LEVEL, TRUE);
    wdmsim_boot(NULL);
    assert_int_equal(DbgQueryDebugFilterState(DPFLTR_DEFAULT_ID, DPFLTR_INFO_LEVEL), FALSE);
}

/* ---- The kernel's format ---- */

static ULONG print_with_prefix(PCCH prefix, PCCH format, ...)
{
    va_list ap;
    ULONG status;

    va_start(ap, format);
    status = vDbgPrintExWithPrefix(prefix, DPFLTR_IHVDRIVER_ID, DPFLTR_ERROR_LEVEL, format, ap);
    va_end(ap);
    return status;
}

static void vDbgPrintExWithPrefix_puts_the_prefix_first(void **state)
{
    (void)state;
    assert_int_equal(print_with_prefix("tracedrv: ", "x=%d\n", 7), STATUS_SUCCESS);
    assert_string_equal(captured, "tracedrv: x=7\n");
}

static void Unicode_and_counted_strings_print_as_text(void **state)
{
    UNICODE_STRING unicode = RTL_CONSTANT_STRING(L"\\Device\\Tidy");
    ANSI_STRING ansi = RTL_CONSTANT_STRING("counted");

    (void)state;
    DbgPrintEx(DPFLTR_IHVDRIVER_ID, DPFLTR_ERROR_LEVEL, "%wZ %ws %S %Z %wc%C%c|%s\n", &unicode, L"wide",
               L"big", &ansi, L'a', L'b', 'c', (char *)NULL);
    assert_string_equal(captured, "\\Device\\Tidy wide big counted abc|(null)\n");
}

static void integers_have_Windows_sizes_and_I64_is_64_bits(void **state)
{
    (void)state;
    DbgPrintEx(DPFLTR_IHVDRIVER_ID, DPFLTR_ERROR_LEVEL, "%ld %lu %I64d %I64X %hd %5.3d|%-4x|%08X\n", (LONG)-1,
               (ULONG)0xFFFFFFFF, (LONGLONG)-5000000000LL, (ULONGLONG)0x123456789ULL, (SHORT)-2, 7, 0xab,
               0xBEEFu);
    assert_string_equal(captured, "-1 4294967295 -5000000000 123456789 -2   007|ab  |0000BEEF\n");
}

static void a_pointer_prints_as_sixteen_upper_case_hex_digits(void **state)
{
    (void)state;
    DbgPrintEx(DPFLTR_IHVDRIVER_ID, DPFLTR_ERROR_LEVEL, "%p\n", (PVOID)(ULONG_PTR)0xabc);
    assert_string_equal(captured, "0000000000000ABC\n");
}

static void one_message_is_cut_at_512_bytes(void **state)
{
    char long_text[700];

    (void)state;
    memset(long_text, 'x', sizeof long_text - 1);
    long_text[sizeof long_text - 1] = '\0';
    DbgPrintEx(DPFLTR_IHVDRIVER_ID, DPFLTR_ERROR_LEVEL, "%s", long_text);
    assert_int_equal(strlen(captured), 511);
}

static void print_wide_at_dispatch(void *context)
{
    KIRQL old;

    (void)context;
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    DbgPrintEx(DPFLTR_IHVDRIVER_ID, DPFLTR_ERROR_LEVEL, "%ws\n", L"paged tables");
}

static void a_Unicode_format_code_above_PASSIVE_LEVEL_stops_with_0xA(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(print_wide_at_dispatch, NULL, 0x0A, WDMSIM_ANY_PARAM,
                        "debug.unicode_format_above_passive", &stop);
    assert_int_equal(stop.params[1], DISPATCH_LEVEL);
}

static void narrow_text_at_DISPATCH_LEVEL_prints(void **state)
{
    KIRQL old;

    (void)state;
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    DbgPrintEx(DPFLTR_IHVDRIVER_ID, DPFLTR_ERROR_LEVEL, "in a DPC %s\n", "fine");
    KeLowerIrql(old);
    assert_string_equal(captured, "in a DPC fine\n");
}

/* ---- Breakpoints and assertions ---- */

static void break_in(void *context)
{
    (void)context;
    KdBreakPoint();
}

static void DbgBreakPoint_without_a_debugger_stops_with_0x1E_STATUS_BREAKPOINT(void **state)
{
    (void)state;
    wdmsim_assert_stops(break_in, NULL, 0x1E, 0x80000003, "debug.breakpoint", NULL);
}

static void assert_even(void *context)
{
    int *value = context;

    ASSERTMSG("the count must be even", *value % 2 == 0);
}

static void a_failed_ASSERTMSG_stops_with_its_expression_message_file_and_line(void **state)
{
    struct wdmsim_stop stop;
    int odd = 3;

    (void)state;
    wdmsim_assert_stops(assert_even, &odd, 0x1E, 0x80000003, "debug.assertion_failed", &stop);
    wdmsim_assert_report_has(&stop, "ASSERT(*value % 2 == 0) (the count must be even) failed at ");
    wdmsim_assert_report_has(&stop, "test_debug.c, line ");
}

static void a_true_ASSERT_and_NT_VERIFY_let_the_code_go_on(void **state)
{
    int calls = 0;

    (void)state;
    ASSERT(calls == 0);
    NT_ASSERT(sizeof(ULONG) == 4);
    NT_VERIFY(++calls == 1);
    assert_int_equal(calls, 1);
    assert_int_equal(messages, 0);
}

/* Code a driver would put in a pageable section. */
static void pageable_routine(void)
{
    PAGED_CODE();
}

static void paged_code_at_dispatch(void *context)
{
    KIRQL old;

    (void)context;
    KeRaiseIrql(DISPATCH_LEVEL, &old);
    pageable_routine();
}

static void PAGED_CODE_above_APC_LEVEL_stops_with_0xD1_execute(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_assert_stops(paged_code_at_dispatch, NULL, 0xD1, WDMSIM_ANY_PARAM, "irql.paged_code_above_apc", &stop);
    assert_int_equal(stop.params[1], DISPATCH_LEVEL);
    assert_int_equal(stop.params[2], 8);
    wdmsim_assert_report_has(&stop, "PAGED_CODE() at ");
}

static void PAGED_CODE_at_APC_LEVEL_is_allowed(void **state)
{
    KIRQL old;

    (void)state;
    KeRaiseIrql(APC_LEVEL, &old);
    pageable_routine();
    KeLowerIrql(old);
    assert_int_equal(messages, 0);
}

/* ---- Compile-time helpers ---- */

C_ASSERT(sizeof(LONG) == 4);

static void ARRAYSIZE_and_RTL_NUMBER_OF_count_elements(void **state)
{
    USHORT table[7];

    (void)state;
    DBG_UNREFERENCED_LOCAL_VARIABLE(table);
    assert_int_equal(ARRAYSIZE(table), 7);
    assert_int_equal(RTL_NUMBER_OF(table), 7);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        debug_test(DbgPrint_is_filtered_out_by_default_as_DEFAULT_at_INFO_level),
        debug_test(DbgPrint_gets_through_once_the_DEFAULT_mask_lets_INFO_in),
        debug_test(DbgPrintEx_at_ERROR_level_passes_the_default_system_wide_mask),
        debug_test(a_component_mask_lets_in_only_its_own_components_levels),
        debug_test(a_Level_above_31_is_a_mask_of_its_own),
        debug_test(the_system_wide_mask_is_component_minus_one),
        debug_test(a_component_beyond_the_table_is_STATUS_INVALID_PARAMETER_1),
        debug_test(a_new_boot_restores_the_default_filter),
        debug_test(vDbgPrintExWithPrefix_puts_the_prefix_first),
        debug_test(Unicode_and_counted_strings_print_as_text),
        debug_test(integers_have_Windows_sizes_and_I64_is_64_bits),
        debug_test(a_pointer_prints_as_sixteen_upper_case_hex_digits),
        debug_test(one_message_is_cut_at_512_bytes),
        debug_test(a_Unicode_format_code_above_PASSIVE_LEVEL_stops_with_0xA),
        debug_test(narrow_text_at_DISPATCH_LEVEL_prints),
        debug_test(DbgBreakPoint_without_a_debugger_stops_with_0x1E_STATUS_BREAKPOINT),
        debug_test(a_failed_ASSERTMSG_stops_with_its_expression_message_file_and_line),
        debug_test(a_true_ASSERT_and_NT_VERIFY_let_the_code_go_on),
        debug_test(PAGED_CODE_above_APC_LEVEL_stops_with_0xD1_execute),
        debug_test(PAGED_CODE_at_APC_LEVEL_is_allowed),
        debug_test(ARRAYSIZE_and_RTL_NUMBER_OF_count_elements),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
