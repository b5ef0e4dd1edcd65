/*
 * test_time.c - the clock (virtual and real) and the time DDIs of sim_kernel/src/time.c.
 * Every case boots a fresh kernel on the virtual clock with a fixed zone (UTC+1, bias -60), so
 * nothing depends on the host's wall clock or zone except the one REAL-mode plausibility case.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include <wdm.h>
#include <wdmsim/wdmsim.h>

#define TICKS_PER_MS 10000LL
#define TICKS_PER_SECOND 10000000LL
#define TICKS_PER_HOUR (3600 * TICKS_PER_SECOND)
#define TICKS_PER_DAY (24 * TICKS_PER_HOUR)
#define UNIX_EPOCH 116444736000000000LL
#define JAN_1_2026 134116992000000000LL

enum { SUNDAY, MONDAY, TUESDAY, WEDNESDAY, THURSDAY, FRIDAY, SATURDAY };

static struct wdmsim_config virtual_config(int bias_minutes)
{
    struct wdmsim_config config = { .clock = WDMSIM_CLOCK_VIRTUAL,
                                    .time_zone_bias_minutes = bias_minutes,
                                    .time_zone_bias_set = 1 };
    return config;
}

static int boot_virtual_utc_plus_1(void **state)
{
    struct wdmsim_config config = virtual_config(-60);

    (void)state;
    wdmsim_boot(&config);
    return 0;
}

static int shutdown_kernel(void **state)
{
    (void)state;
    wdmsim_shutdown();
    return 0;
}

static TIME_FIELDS fields_of(LONGLONG time)
{
    LARGE_INTEGER t = { .QuadPart = time };
    TIME_FIELDS f;

    memset(&f, 0x5A, sizeof f);
    RtlTimeToTimeFields(&t, &f);
    return f;
}

static TIME_FIELDS make_fields(int year, int month, int day, int hour, int minute, int second, int ms)
{
    TIME_FIELDS f = { (CSHORT)year, (CSHORT)month, (CSHORT)day, (CSHORT)hour, (CSHORT)minute,
                      (CSHORT)second, (CSHORT)ms, 0 };
    return f;
}

static LONGLONG time_of(int year, int month, int day, int hour, int minute, int second, int ms)
{
    TIME_FIELDS f = make_fields(year, month, day, hour, minute, second, ms);
    LARGE_INTEGER t;

    assert_true(RtlTimeFieldsToTime(&f, &t));
    return t.QuadPart;
}

static void check_fields(const TIME_FIELDS *f, int year, int month, int day, int hour, int minute, int second,
                         int ms, int weekday)
{
    assert_int_equal(f->Year, year);
    assert_int_equal(f->Month, month);
    assert_int_equal(f->Day, day);
    assert_int_equal(f->Hour, hour);
    assert_int_equal(f->Minute, minute);
    assert_int_equal(f->Second, second);
    assert_int_equal(f->Milliseconds, ms);
    assert_int_equal(f->Weekday, weekday);
}

static LONGLONG system_time(void)
{
    LARGE_INTEGER t;

    KeQuerySystemTime(&t);
    return t.QuadPart;
}

static LONGLONG tick_count(void)
{
    LARGE_INTEGER t;

    KeQueryTickCount(&t);
    return t.QuadPart;
}

static LONGLONG to_local(LONGLONG system)
{
    LARGE_INTEGER s = { .QuadPart = system }, l;

    ExSystemTimeToLocalTime(&s, &l);
    return l.QuadPart;
}

static LONGLONG to_system(LONGLONG local)
{
    LARGE_INTEGER l = { .QuadPart = local }, s;

    ExLocalTimeToSystemTime(&l, &s);
    return s.QuadPart;
}

/* ---- Layout and constants ---- */

static void TIME_FIELDS_is_eight_CSHORTs_in_DDK_order(void **state)
{
    (void)state;
    assert_int_equal(sizeof(TIME_FIELDS), 16);
    assert_int_equal(offsetof(TIME_FIELDS, Year), 0);
    assert_int_equal(offsetof(TIME_FIELDS, Month), 2);
    assert_int_equal(offsetof(TIME_FIELDS, Day), 4);
    assert_int_equal(offsetof(TIME_FIELDS, Hour), 6);
    assert_int_equal(offsetof(TIME_FIELDS, Minute), 8);
    assert_int_equal(offsetof(TIME_FIELDS, Second), 10);
    assert_int_equal(offsetof(TIME_FIELDS, Milliseconds), 12);
    assert_int_equal(offsetof(TIME_FIELDS, Weekday), 14);
}

static void KeQueryTimeIncrement_returns_a_15_625_ms_tick(void **state)
{
    (void)state;
    assert_int_equal(KeQueryTimeIncrement(), 156250);
}

/* ---- The virtual clock ---- */

static void KeQuerySystemTime_in_virtual_mode_starts_on_1_January_2026_by_default(void **state)
{
    TIME_FIELDS f;

    (void)state;
    assert_int_equal(wdmsim_clock_mode(), WDMSIM_CLOCK_VIRTUAL);
    assert_true(system_time() == JAN_1_2026);
    f = fields_of(system_time());
    check_fields(&f, 2026, 1, 1, 0, 0, 0, 0, THURSDAY);
}

static void KeQuerySystemTime_in_virtual_mode_starts_at_config_start_time(void **state)
{
    struct wdmsim_config config = virtual_config(0);
    LONGLONG start = time_of(2001, 9, 9, 1, 46, 40, 0);

    (void)state;
    config.start_time = start;
    wdmsim_boot(&config);
    assert_true(system_time() == start);
}

static void KeQuerySystemTime_in_virtual_mode_stands_still_until_advanced(void **state)
{
    LONGLONG before = system_time();

    (void)state;
    assert_true(system_time() == before);
    assert_true(system_time() == before);
    wdmsim_clock_advance(TICKS_PER_SECOND);
    assert_true(system_time() == before + TICKS_PER_SECOND);
    wdmsim_clock_advance(0);
    assert_true(system_time() == before + TICKS_PER_SECOND);
}

static void KeQueryTickCount_in_virtual_mode_counts_whole_increments_since_boot(void **state)
{
    LONGLONG increment = KeQueryTimeIncrement();

    (void)state;
    assert_true(tick_count() == 0);
    wdmsim_clock_advance(increment - 1);
    assert_true(tick_count() == 0);
    wdmsim_clock_advance(1);
    assert_true(tick_count() == 1);
    wdmsim_clock_advance(10 * increment + increment / 2);
    assert_true(tick_count() == 11);
}

static void KeQueryTickCount_times_increment_follows_system_time_after_an_hour(void **state)
{
    LONGLONG start = system_time();

    (void)state;
    wdmsim_clock_advance(TICKS_PER_HOUR);
    assert_true(tick_count() == TICKS_PER_HOUR / KeQueryTimeIncrement());
    assert_true(tick_count() * KeQueryTimeIncrement() <= system_time() - start);
    assert_true((tick_count() + 1) * KeQueryTimeIncrement() > system_time() - start);
}

static void wdmsim_boot_puts_the_virtual_clock_back_to_its_start(void **state)
{
    struct wdmsim_config config = virtual_config(-60);

    (void)state;
    wdmsim_clock_advance(5 * TICKS_PER_DAY);
    wdmsim_boot(&config);
    assert_true(system_time() == JAN_1_2026);
    assert_true(tick_count() == 0);
}

static void time_DDIs_work_at_HIGH_LEVEL(void **state)
{
    KIRQL old;
    TIME_FIELDS f;

    (void)state;
    KeRaiseIrql(HIGH_LEVEL, &old);
    assert_true(system_time() == JAN_1_2026);
    assert_true(tick_count() == 0);
    assert_true(to_local(JAN_1_2026) == JAN_1_2026 + TICKS_PER_HOUR);
    assert_true(to_system(JAN_1_2026) == JAN_1_2026 - TICKS_PER_HOUR);
    f = fields_of(JAN_1_2026);
    assert_true(RtlTimeFieldsToTime(&f, &(LARGE_INTEGER){ .QuadPart = 0 }));
    assert_int_equal(KeGetCurrentIrql(), HIGH_LEVEL);
    KeLowerIrql(old);
}

/* The child kernel boots like the test's own, so the test boots the clock it wants there: a
 * second boot inside the child would start threads ThreadSanitizer cannot follow after a fork. */
static void advance_on_real_clock(void *context)
{
    (void)context;
    wdmsim_clock_advance(TICKS_PER_SECOND);
}

static void wdmsim_clock_advance_on_the_real_clock_aborts(void **state)
{
    struct wdmsim_config config = { .clock = WDMSIM_CLOCK_REAL, .schedule = "free" };
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_boot(&config);
    wdmsim_run_expecting_stop(advance_on_real_clock, NULL, &stop);
    assert_int_equal(stop.stopped, 0);
    assert_int_equal(stop.exit_signal, SIGABRT);
}

static void advance_backwards(void *context)
{
    (void)context;
    wdmsim_clock_advance(-1);
}

static void wdmsim_clock_advance_by_a_negative_delta_aborts(void **state)
{
    struct wdmsim_stop stop;

    (void)state;
    wdmsim_run_expecting_stop(advance_backwards, NULL, &stop);
    assert_int_equal(stop.stopped, 0);
    assert_int_equal(stop.exit_signal, SIGABRT);
}

/* ---- The real clock: plausibility only, never timing ---- */

static void KeQuerySystemTime_in_real_mode_is_after_2024_and_tick_count_never_goes_back(void **state)
{
    struct wdmsim_config config = { .clock = WDMSIM_CLOCK_REAL, .schedule = "free" };
    LONGLONG ticks = 0;
    TIME_FIELDS f;

    (void)state;
    wdmsim_boot(&config);
    assert_int_equal(wdmsim_clock_mode(), WDMSIM_CLOCK_REAL);
    f = fields_of(system_time());
    assert_true(f.Year >= 2024);
    for (int i = 0; i < 1000; i++) {
        LONGLONG now = tick_count();

        assert_true(now >= ticks);
        ticks = now;
    }
}

/* ---- RtlTimeToTimeFields ---- */

static void RtlTimeToTimeFields_on_1601_epoch_gives_Monday_1_January_1601(void **state)
{
    TIME_FIELDS f = fields_of(0);

    (void)state;
    check_fields(&f, 1601, 1, 1, 0, 0, 0, 0, MONDAY);
}

static void RtlTimeToTimeFields_on_Unix_epoch_gives_Thursday_1_January_1970(void **state)
{
    TIME_FIELDS f = fields_of(UNIX_EPOCH);

    (void)state;
    check_fields(&f, 1970, 1, 1, 0, 0, 0, 0, THURSDAY);
}

static void RtlTimeToTimeFields_truncates_below_a_millisecond(void **state)
{
    LONGLONG t = JAN_1_2026 + 12 * TICKS_PER_HOUR + (34 * 60 + 56) * TICKS_PER_SECOND + 789 * TICKS_PER_MS + 9999;
    TIME_FIELDS f = fields_of(t);

    (void)state;
    check_fields(&f, 2026, 1, 1, 12, 34, 56, 789, THURSDAY);
}

static void RtlTimeToTimeFields_on_largest_time_gives_Thursday_14_September_30828(void **state)
{
    TIME_FIELDS f = fields_of(0x7FFFFFFFFFFFFFFFLL);

    (void)state;
    check_fields(&f, 30828, 9, 14, 2, 48, 5, 477, THURSDAY);
}

static void RtlTimeToTimeFields_one_tick_before_1601_gives_Sunday_31_December_1600(void **state)
{
    TIME_FIELDS f = fields_of(-1);

    (void)state;
    check_fields(&f, 1600, 12, 31, 23, 59, 59, 999, SUNDAY);
}

static void RtlTimeToTimeFields_on_leap_days_of_2000_and_2024(void **state)
{
    TIME_FIELDS f = fields_of(time_of(2000, 2, 29, 0, 0, 0, 0));

    (void)state;
    check_fields(&f, 2000, 2, 29, 0, 0, 0, 0, TUESDAY);
    f = fields_of(time_of(2024, 2, 29, 23, 59, 59, 999));
    check_fields(&f, 2024, 2, 29, 23, 59, 59, 999, THURSDAY);
}

/* ---- RtlTimeFieldsToTime ---- */

static void RtlTimeFieldsToTime_of_known_dates_gives_their_system_time(void **state)
{
    (void)state;
    assert_true(time_of(1601, 1, 1, 0, 0, 0, 0) == 0);
    assert_true(time_of(1970, 1, 1, 0, 0, 0, 0) == UNIX_EPOCH);
    assert_true(time_of(2026, 1, 1, 0, 0, 0, 0) == JAN_1_2026);
    assert_true(time_of(2026, 1, 1, 0, 0, 0, 1) == JAN_1_2026 + TICKS_PER_MS);
    assert_true(time_of(2025, 12, 31, 23, 0, 0, 0) == JAN_1_2026 - TICKS_PER_HOUR);
}

/* Consecutive days must give consecutive dates and weekdays, and each date must map back. */
static void check_next_day(const TIME_FIELDS *prev, const TIME_FIELDS *next)
{
    if (next->Day != 1) {
        assert_int_equal(next->Day, prev->Day + 1);
        assert_int_equal(next->Month, prev->Month);
    } else if (next->Month != 1) {
        assert_int_equal(next->Month, prev->Month + 1);
        assert_int_equal(next->Year, prev->Year);
    } else {
        assert_int_equal(prev->Month, 12);
        assert_int_equal(prev->Day, 31);
        assert_int_equal(next->Year, prev->Year + 1);
    }
    assert_int_equal(next->Weekday, (prev->Weekday + 1) % 7);
}

static void RtlTimeFieldsToTime_round_trips_every_day_from_1601_to_2401(void **state)
{
    TIME_FIELDS prev = fields_of(0);
    LARGE_INTEGER back;
    int leap_days = 0;

    (void)state;
    for (LONGLONG day = 1; day <= 292194; day++) {
        LONGLONG t = (day + 1) * TICKS_PER_DAY - TICKS_PER_MS;
        TIME_FIELDS f = fields_of(t);

        check_next_day(&prev, &f);
        assert_true(RtlTimeFieldsToTime(&f, &back));
        assert_true(back.QuadPart == t);
        leap_days += f.Month == 2 && f.Day == 29;
        prev = f;
    }
    check_fields(&prev, 2401, 1, 1, 23, 59, 59, 999, MONDAY);
    /* 1601-2400: 200 multiples of 4, minus 1700, 1800, 1900, 2100, 2200, 2300. */
    assert_int_equal(leap_days, 194);
}

static void RtlTimeFieldsToTime_round_trips_year_ends_up_to_30827(void **state)
{
    (void)state;
    for (int year = 1601; year <= 30827; year += 7) {
        LONGLONG t = time_of(year, 12, 31, 23, 59, 59, 999);
        TIME_FIELDS f = fields_of(t);
        TIME_FIELDS next = fields_of(t + TICKS_PER_MS);

        check_fields(&f, year, 12, 31, 23, 59, 59, 999, f.Weekday);
        check_fields(&next, year + 1, 1, 1, 0, 0, 0, 0, (f.Weekday + 1) % 7);
    }
}

static void RtlTimeFieldsToTime_accepts_the_first_and_last_instants_of_its_range(void **state)
{
    TIME_FIELDS f;

    (void)state;
    assert_true(time_of(1601, 1, 1, 0, 0, 0, 0) == 0);
    f = fields_of(time_of(30827, 12, 31, 23, 59, 59, 999));
    check_fields(&f, 30827, 12, 31, 23, 59, 59, 999, FRIDAY);
}

static void RtlTimeFieldsToTime_accepts_29_February_in_2000_but_not_in_1900_or_2023(void **state)
{
    TIME_FIELDS f1900 = make_fields(1900, 2, 29, 0, 0, 0, 0);
    TIME_FIELDS f2023 = make_fields(2023, 2, 29, 0, 0, 0, 0);
    TIME_FIELDS f2000 = make_fields(2000, 2, 29, 0, 0, 0, 0);
    LARGE_INTEGER t;

    (void)state;
    assert_false(RtlTimeFieldsToTime(&f1900, &t));
    assert_false(RtlTimeFieldsToTime(&f2023, &t));
    assert_true(RtlTimeFieldsToTime(&f2000, &t));
    assert_true(t.QuadPart == time_of(2000, 3, 1, 0, 0, 0, 0) - TICKS_PER_DAY);
}

static void RtlTimeFieldsToTime_rejects_out_of_range_fields_and_leaves_time_alone(void **state)
{
    static const TIME_FIELDS invalid[] = {
        { 1600, 12, 31, 23, 59, 59, 999, 0 }, { 30828, 1, 1, 0, 0, 0, 0, 0 },
        { 2026, 0, 1, 0, 0, 0, 0, 0 },       { 2026, 13, 1, 0, 0, 0, 0, 0 },
        { 2026, 1, 0, 0, 0, 0, 0, 0 },       { 2026, 1, 32, 0, 0, 0, 0, 0 },
        { 2026, 4, 31, 0, 0, 0, 0, 0 },      { 2026, 6, 31, 0, 0, 0, 0, 0 },
        { 2026, 9, 31, 0, 0, 0, 0, 0 },      { 2026, 11, 31, 0, 0, 0, 0, 0 },
        { 2024, 2, 30, 0, 0, 0, 0, 0 },      { 2026, 1, 1, 24, 0, 0, 0, 0 },
        { 2026, 1, 1, -1, 0, 0, 0, 0 },      { 2026, 1, 1, 0, 60, 0, 0, 0 },
        { 2026, 1, 1, 0, -1, 0, 0, 0 },      { 2026, 1, 1, 0, 0, 60, 0, 0 },
        { 2026, 1, 1, 0, 0, -1, 0, 0 },      { 2026, 1, 1, 0, 0, 0, 1000, 0 },
        { 2026, 1, 1, 0, 0, 0, -1, 0 },      { -1, 1, 1, 0, 0, 0, 0, 0 },
    };

    (void)state;
    for (size_t i = 0; i < sizeof invalid / sizeof invalid[0]; i++) {
        TIME_FIELDS f = invalid[i];
        LARGE_INTEGER t = { .QuadPart = 12345 };

        assert_false(RtlTimeFieldsToTime(&f, &t));
        assert_true(t.QuadPart == 12345);
    }
}

static void RtlTimeFieldsToTime_ignores_Weekday(void **state)
{
    TIME_FIELDS f = make_fields(2026, 1, 1, 0, 0, 0, 0);
    LARGE_INTEGER t;

    (void)state;
    f.Weekday = 99;
    assert_true(RtlTimeFieldsToTime(&f, &t));
    assert_true(t.QuadPart == JAN_1_2026);
}

/* ---- Local time ---- */

static void ExSystemTimeToLocalTime_with_bias_minus_60_is_one_hour_ahead(void **state)
{
    TIME_FIELDS f = fields_of(to_local(time_of(2026, 7, 1, 23, 30, 0, 0)));

    (void)state;
    check_fields(&f, 2026, 7, 2, 0, 30, 0, 0, THURSDAY);
}

static void ExLocalTimeToSystemTime_with_bias_minus_60_is_one_hour_behind(void **state)
{
    TIME_FIELDS f = fields_of(to_system(time_of(2026, 1, 1, 0, 30, 0, 0)));

    (void)state;
    check_fields(&f, 2025, 12, 31, 23, 30, 0, 0, WEDNESDAY);
}

static void ExSystemTimeToLocalTime_with_bias_300_is_five_hours_behind(void **state)
{
    struct wdmsim_config config = virtual_config(300);

    (void)state;
    wdmsim_boot(&config);
    assert_true(to_local(JAN_1_2026) == JAN_1_2026 - 5 * TICKS_PER_HOUR);
    assert_true(to_system(JAN_1_2026 - 5 * TICKS_PER_HOUR) == JAN_1_2026);
}

static void ExSystemTimeToLocalTime_and_back_is_the_identity(void **state)
{
    (void)state;
    for (LONGLONG t = JAN_1_2026; t < JAN_1_2026 + 366 * TICKS_PER_DAY; t += 7 * TICKS_PER_HOUR + 1)
        assert_true(to_system(to_local(t)) == t);
}

static void ExSystemTimeToLocalTime_accepts_the_same_variable_for_both_arguments(void **state)
{
    LARGE_INTEGER t = { .QuadPart = JAN_1_2026 };

    (void)state;
    ExSystemTimeToLocalTime(&t, &t);
    assert_true(t.QuadPart == JAN_1_2026 + TICKS_PER_HOUR);
    ExLocalTimeToSystemTime(&t, &t);
    assert_true(t.QuadPart == JAN_1_2026);
}

static void KeQuerySystemTime_is_UTC_whatever_the_bias(void **state)
{
    struct wdmsim_config config = virtual_config(-540);

    (void)state;
    wdmsim_boot(&config);
    assert_true(system_time() == JAN_1_2026);
}

/*
 * A POSIX TZ rule (no zoneinfo file needed) stands in for the host's zone, so the case is the
 * same on every machine: Central European Time, summer time from March to October.
 */
static void ExSystemTimeToLocalTime_without_a_bias_follows_the_host_zone_at_that_instant(void **state)
{
    struct wdmsim_config config = { .clock = WDMSIM_CLOCK_VIRTUAL };
    LONGLONG winter = time_of(2026, 1, 15, 12, 0, 0, 0);
    LONGLONG summer = time_of(2026, 7, 15, 12, 0, 0, 0);
    const char *saved = getenv("TZ");
    char *copy = saved != NULL ? strdup(saved) : NULL;

    (void)state;
    setenv("TZ", "CET-1CEST,M3.5.0,M10.5.0/3", 1);
    wdmsim_boot(&config);
    assert_true(to_local(winter) == winter + TICKS_PER_HOUR);
    assert_true(to_local(summer) == summer + 2 * TICKS_PER_HOUR);
    assert_true(to_system(winter + TICKS_PER_HOUR) == winter);
    assert_true(to_system(summer + 2 * TICKS_PER_HOUR) == summer);
    if (copy != NULL)
        setenv("TZ", copy, 1);
    else
        unsetenv("TZ");
    free(copy);
    tzset();
}

/* ---- Interrupt time and the performance counter ---- */

static void KeQueryInterruptTime_moves_by_whole_ticks(void **state)
{
    ULONGLONG increment = KeQueryTimeIncrement();

    (void)state;
    assert_true(KeQueryInterruptTime() == 0);
    wdmsim_clock_advance((LONGLONG)increment - 1);
    assert_true(KeQueryInterruptTime() == 0);
    wdmsim_clock_advance(1 + (LONGLONG)increment / 2);
    assert_true(KeQueryInterruptTime() == increment);
    assert_true(KeQueryUnbiasedInterruptTime() == KeQueryInterruptTime());
}

static void KeQueryInterruptTimePrecise_is_exact_and_gives_the_counter(void **state)
{
    ULONG64 qpc = 0;

    (void)state;
    wdmsim_clock_advance(123457);
    assert_true(KeQueryInterruptTimePrecise(&qpc) == 123457);
    assert_true(qpc == (ULONG64)KeQueryPerformanceCounter(NULL).QuadPart);
}

static void KeQueryPerformanceCounter_runs_at_10_MHz_on_the_one_clock(void **state)
{
    LARGE_INTEGER frequency = { .QuadPart = 0 };
    LARGE_INTEGER before = KeQueryPerformanceCounter(&frequency);

    (void)state;
    assert_true(frequency.QuadPart == 10000000);
    wdmsim_clock_advance(TICKS_PER_SECOND);
    assert_true(KeQueryPerformanceCounter(NULL).QuadPart - before.QuadPart == frequency.QuadPart);
}

static void interrupt_time_and_the_counter_work_at_HIGH_LEVEL(void **state)
{
    ULONG64 qpc;
    KIRQL old;

    (void)state;
    KeRaiseIrql(HIGH_LEVEL, &old);
    assert_true(KeQueryInterruptTime() == 0);
    assert_true(KeQueryInterruptTimePrecise(&qpc) == 0);
    assert_true(KeQueryPerformanceCounter(NULL).QuadPart == 0);
    KeLowerIrql(old);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define CASE(name) cmocka_unit_test_setup_teardown(name, boot_virtual_utc_plus_1, shutdown_kernel)
        CASE(TIME_FIELDS_is_eight_CSHORTs_in_DDK_order),
        CASE(KeQueryTimeIncrement_returns_a_15_625_ms_tick),
        CASE(KeQuerySystemTime_in_virtual_mode_starts_on_1_January_2026_by_default),
        CASE(KeQuerySystemTime_in_virtual_mode_starts_at_config_start_time),
        CASE(KeQuerySystemTime_in_virtual_mode_stands_still_until_advanced),
        CASE(KeQueryTickCount_in_virtual_mode_counts_whole_increments_since_boot),
        CASE(KeQueryTickCount_times_increment_follows_system_time_after_an_hour),
        CASE(wdmsim_boot_puts_the_virtual_clock_back_to_its_start),
        CASE(time_DDIs_work_at_HIGH_LEVEL),
        CASE(KeQueryInterruptTime_moves_by_whole_ticks),
        CASE(KeQueryInterruptTimePrecise_is_exact_and_gives_the_counter),
        CASE(KeQueryPerformanceCounter_runs_at_10_MHz_on_the_one_clock),
        CASE(interrupt_time_and_the_counter_work_at_HIGH_LEVEL),
        CASE(wdmsim_clock_advance_on_the_real_clock_aborts),
        CASE(wdmsim_clock_advance_by_a_negative_delta_aborts),
        CASE(KeQuerySystemTime_in_real_mode_is_after_2024_and_tick_count_never_goes_back),
        CASE(RtlTimeToTimeFields_on_1601_epoch_gives_Monday_1_January_1601),
        CASE(RtlTimeToTimeFields_on_Unix_epoch_gives_Thursday_1_January_1970),
        CASE(RtlTimeToTimeFields_truncates_below_a_millisecond),
        CASE(RtlTimeToTimeFields_on_largest_time_gives_Thursday_14_September_30828),
        CASE(RtlTimeToTimeFields_one_tick_before_1601_gives_Sunday_31_December_1600),
        CASE(RtlTimeToTimeFields_on_leap_days_of_2000_and_2024),
        CASE(RtlTimeFieldsToTime_of_known_dates_gives_their_system_time),
        CASE(RtlTimeFieldsToTime_round_trips_every_day_from_1601_to_2401),
        CASE(RtlTimeFieldsToTime_round_trips_year_ends_up_to_30827),
        CASE(RtlTimeFieldsToTime_accepts_the_first_and_last_instants_of_its_range),
        CASE(RtlTimeFieldsToTime_accepts_29_February_in_2000_but_not_in_1900_or_2023),
        CASE(RtlTimeFieldsToTime_rejects_out_of_range_fields_and_leaves_time_alone),
        CASE(RtlTimeFieldsToTime_ignores_Weekday),
        CASE(ExSystemTimeToLocalTime_with_bias_minus_60_is_one_hour_ahead),
        CASE(ExLocalTimeToSystemTime_with_bias_minus_60_is_one_hour_behind),
        CASE(ExSystemTimeToLocalTime_with_bias_300_is_five_hours_behind),
        CASE(ExSystemTimeToLocalTime_and_back_is_the_identity),
        CASE(ExSystemTimeToLocalTime_accepts_the_same_variable_for_both_arguments),
        CASE(KeQuerySystemTime_is_UTC_whatever_the_bias),
        CASE(ExSystemTimeToLocalTime_without_a_bias_follows_the_host_zone_at_that_instant),
#undef CASE
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
