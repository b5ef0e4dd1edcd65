/*
 * time.c - the one clock, and the time DDIs: nothing else in the simulator reads the host clock.
 * REAL mode reads CLOCK_REALTIME (system time) and CLOCK_MONOTONIC (time since boot). VIRTUAL
 * mode keeps a single quantity, the virtual time elapsed since boot; system time is the start
 * date plus that, and it moves only forward, when the host advances it.
 * Locking: every clock variable is a C11 atomic, so any thread, at any IRQL, even in a forked
 * child, reads the clock without a lock. clock_boot runs under boot.c's boot lock.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "internal.h"

#define CLOCK_TICKS_PER_SECOND 10000000LL
#define CLOCK_TICKS_PER_MS 10000LL
#define CLOCK_TICKS_PER_MINUTE (60 * CLOCK_TICKS_PER_SECOND)
#define CLOCK_TICKS_PER_DAY (86400 * CLOCK_TICKS_PER_SECOND)
/* 1601-01-01 to 1970-01-01: 134774 days. */
#define CLOCK_UNIX_EPOCH 116444736000000000LL
/* The virtual clock's default start: 2026-01-01 00:00:00 UTC (Unix time 1767225600). */
#define CLOCK_VIRTUAL_DEFAULT_START (CLOCK_UNIX_EPOCH + 1767225600LL * CLOCK_TICKS_PER_SECOND)
/*
 * 15.625 ms, the 64 Hz clock interrupt Windows x64 runs by default: a real value keeps driver
 * arithmetic (ticks x increment) honest and exposes code that assumes a 10 ms tick.
 */
#define CLOCK_TIME_INCREMENT 156250

#define CLOCK_DAYS_PER_400_YEARS 146097
#define CLOCK_DAYS_PER_100_YEARS 36524
#define CLOCK_DAYS_PER_4_YEARS 1461
#define CLOCK_FIRST_YEAR 1601
#define CLOCK_LAST_YEAR 30827
/*
 * Enough 400-year eras to lift the earliest LONGLONG time above 1601, so times before 1601 split
 * with the same arithmetic (proleptic Gregorian); an era is a whole number of weeks.
 */
#define CLOCK_ERAS_BEFORE_1601 74

static atomic_int clock_mode_now;
static atomic_llong clock_virtual_start;    /* system time at boot */
static atomic_llong clock_virtual_elapsed;  /* 100 ns since boot; only ever grows */
static atomic_llong clock_real_boot;        /* CLOCK_MONOTONIC at boot, in 100 ns */
static atomic_bool clock_bias_fixed;
static atomic_int clock_bias_minutes;

static const CSHORT clock_days_before_month[2][13] = {
    { 0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334, 365 },
    { 0, 31, 60, 91, 121, 152, 182, 213, 244, 274, 305, 335, 366 },
};

static LONGLONG clock_read_host(clockid_t id)
{
    struct timespec now;

    if (clock_gettime(id, &now) != 0)
        abort();
    return (LONGLONG)now.tv_sec * CLOCK_TICKS_PER_SECOND + now.tv_nsec / 100;
}

static bool clock_is_virtual(void)
{
    return atomic_load(&clock_mode_now) == WDMSIM_CLOCK_VIRTUAL;
}

void clock_boot(const struct wdmsim_config *config)
{
    atomic_store(&clock_mode_now, config->clock);
    atomic_store(&clock_virtual_start, config->start_time != 0 ? config->start_time : CLOCK_VIRTUAL_DEFAULT_START);
    atomic_store(&clock_virtual_elapsed, 0);
    atomic_store(&clock_real_boot, clock_read_host(CLOCK_MONOTONIC));
    atomic_store(&clock_bias_fixed, config->time_zone_bias_set != 0);
    atomic_store(&clock_bias_minutes, config->time_zone_bias_minutes);
    if (!config->time_zone_bias_set)
        tzset();
}

LONGLONG clock_system_time(void)
{
    if (clock_is_virtual())
        return atomic_load(&clock_virtual_start) + atomic_load(&clock_virtual_elapsed);
    return CLOCK_UNIX_EPOCH + clock_read_host(CLOCK_REALTIME);
}

LONGLONG clock_since_boot(void)
{
    if (clock_is_virtual())
        return atomic_load(&clock_virtual_elapsed);
    return clock_read_host(CLOCK_MONOTONIC) - atomic_load(&clock_real_boot);
}

/* The real clock's coarse form (a few milliseconds' resolution) costs a fraction of a precise
 * read: for stamps many of which come per microsecond (the timeline's). */
LONGLONG clock_since_boot_coarse(void)
{
    LONGLONG since;

    if (clock_is_virtual())
        return atomic_load(&clock_virtual_elapsed);
    since = clock_read_host(CLOCK_MONOTONIC_COARSE) - atomic_load(&clock_real_boot);
    return since > 0 ? since : 0;
}

static LONGLONG clock_floor_div(LONGLONG a, LONGLONG b)
{
    return a / b - (a % b < 0);
}

/* The host zone's offset at that instant, so summer and winter times each get their own bias. */
static LONGLONG clock_host_bias(LONGLONG system_time)
{
    time_t when = (time_t)clock_floor_div(system_time - CLOCK_UNIX_EPOCH, CLOCK_TICKS_PER_SECOND);
    struct tm local;

    if (localtime_r(&when, &local) == NULL)
        return 0;
    return -(LONGLONG)local.tm_gmtoff * CLOCK_TICKS_PER_SECOND;
}

LONGLONG clock_time_zone_bias(LONGLONG system_time)
{
    if (atomic_load(&clock_bias_fixed))
        return atomic_load(&clock_bias_minutes) * CLOCK_TICKS_PER_MINUTE;
    return clock_host_bias(system_time);
}

bool clock_is_virtual_mode(void)
{
    return clock_is_virtual();
}

void clock_advance_to(LONGLONG since_boot)
{
    LONGLONG now = atomic_load(&clock_virtual_elapsed);

    while (since_boot > now && !atomic_compare_exchange_weak(&clock_virtual_elapsed, &now, since_boot))
        ;
}

void clock_cond_init(pthread_cond_t *cond)
{
    pthread_condattr_t attr;

    if (pthread_condattr_init(&attr) != 0 || pthread_condattr_setclock(&attr, CLOCK_MONOTONIC) != 0 ||
        pthread_cond_init(cond, &attr) != 0)
        abort();
    pthread_condattr_destroy(&attr);
}

void clock_wait_until(pthread_cond_t *cond, pthread_mutex_t *mutex, LONGLONG since_boot)
{
    LONGLONG host = since_boot == DISP_NO_DEADLINE ? since_boot : since_boot + atomic_load(&clock_real_boot);
    struct timespec until;

    if (host == DISP_NO_DEADLINE) {
        pthread_cond_wait(cond, mutex);
        return;
    }
    until.tv_sec = (time_t)(host / CLOCK_TICKS_PER_SECOND);
    until.tv_nsec = (long)(host % CLOCK_TICKS_PER_SECOND) * 100;
    pthread_cond_timedwait(cond, mutex, &until);
}

bool clock_host_wait_ms(pthread_cond_t *cond, pthread_mutex_t *mutex, unsigned ms)
{
    struct timespec until;

    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += ms / 1000;
    until.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    return pthread_cond_timedwait(cond, mutex, &until) == 0;
}

bool clock_host_wait_word_ms(uint32_t *word, unsigned ms)
{
    struct timespec relative = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };

    return host_word_wait(word, &relative);
}

double clock_host_seconds(void)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec + (double)now.tv_nsec / 1e9;
}

enum wdmsim_clock_mode wdmsim_clock_mode(void)
{
    kernel_ensure_booted();
    return (enum wdmsim_clock_mode)atomic_load(&clock_mode_now);
}

/* Any IRQL. */
VOID NTAPI KeQuerySystemTime(PLARGE_INTEGER CurrentTime)
{
    RULE_CHECK_ARGUMENT(CurrentTime, RULE_WRITES);
    thread_current();
    CurrentTime->QuadPart = clock_system_time();
}

/* Any IRQL. */
VOID NTAPI KeQueryTickCount(PLARGE_INTEGER CurrentCount)
{
    RULE_CHECK_ARGUMENT(CurrentCount, RULE_WRITES);
    thread_current();
    CurrentCount->QuadPart = clock_since_boot() / CLOCK_TIME_INCREMENT;
}

/* Any IRQL. */
ULONG NTAPI KeQueryTimeIncrement(VOID)
{
    return CLOCK_TIME_INCREMENT;
}

/* Interrupt time as the clock interrupt last stored it: time since boot at the latest tick. */
static ULONGLONG clock_interrupt_time(void)
{
    LONGLONG since_boot = clock_since_boot();

    return (ULONGLONG)(since_boot - since_boot % CLOCK_TIME_INCREMENT);
}

/* Any IRQL. 100 ns units since boot, as of the latest clock tick (KeQueryTimeIncrement apart). */
ULONGLONG NTAPI KeQueryInterruptTime(VOID)
{
    thread_current();
    return clock_interrupt_time();
}

/* Any IRQL. The machine never sleeps, so no time is spent in a sleep state to take out. */
ULONGLONG NTAPI KeQueryUnbiasedInterruptTime(VOID)
{
    thread_current();
    return clock_interrupt_time();
}

/* Any IRQL. Interrupt time to the 100 ns, not the tick, and the performance counter read with it. */
ULONG64 NTAPI KeQueryInterruptTimePrecise(PULONG64 QpcTimeStamp)
{
    LONGLONG since_boot;

    thread_current();
    since_boot = clock_since_boot();
    *QpcTimeStamp = (ULONG64)since_boot;
    return (ULONG64)since_boot;
}

/* Any IRQL. The performance counter at 10 MHz, the frequency Windows 10 and later report on
 * invariant-TSC machines: counts of 100 ns since boot, on the one clock. */
LARGE_INTEGER NTAPI KeQueryPerformanceCounter(PLARGE_INTEGER PerformanceFrequency)
{
    LARGE_INTEGER counter;

    thread_current();
    if (PerformanceFrequency != NULL)
        PerformanceFrequency->QuadPart = CLOCK_TICKS_PER_SECOND;
    counter.QuadPart = clock_since_boot();
    return counter;
}

/* Busy-waits on the real clock for the given 100 ns units (KeStallExecutionProcessor). */
void clock_spin_real(LONGLONG ticks)
{
    LONGLONG until = clock_read_host(CLOCK_MONOTONIC) + ticks;

    while (clock_read_host(CLOCK_MONOTONIC) < until)
        ;
}

static bool clock_is_leap(LONGLONG year)
{
    return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

/* Days since 1601-01-01 to January 1st of year (year >= 1601). */
static LONGLONG clock_days_before_year(LONGLONG year)
{
    LONGLONG y = year - CLOCK_FIRST_YEAR;

    return y * 365 + y / 4 - y / 100 + y / 400;
}

/*
 * Splits days since 1601-01-01 (>= 0) into a year and a day of that year (0-based). 1601 starts a
 * 400-year cycle whose last century, and each of whose 4-year groups, ends with its leap day:
 * that is why the century and year quotients are clamped to 3 on the cycle's last day.
 */
static LONGLONG clock_split_year(LONGLONG days, LONGLONG *day_of_year)
{
    LONGLONG eras = days / CLOCK_DAYS_PER_400_YEARS;
    LONGLONG rest = days % CLOCK_DAYS_PER_400_YEARS;
    LONGLONG centuries = rest / CLOCK_DAYS_PER_100_YEARS;
    LONGLONG groups, years;

    if (centuries == 4)
        centuries = 3;
    rest -= centuries * CLOCK_DAYS_PER_100_YEARS;
    groups = rest / CLOCK_DAYS_PER_4_YEARS;
    rest %= CLOCK_DAYS_PER_4_YEARS;
    years = rest / 365;
    if (years == 4)
        years = 3;
    *day_of_year = rest - years * 365;
    return CLOCK_FIRST_YEAR + eras * 400 + centuries * 100 + groups * 4 + years;
}

/* Any IRQL (resident buffers). Times before 1601 give proleptic Gregorian dates. */
VOID NTAPI RtlTimeToTimeFields(PLARGE_INTEGER Time, PTIME_FIELDS TimeFields)
{
    LONGLONG days = clock_floor_div(Time->QuadPart, CLOCK_TICKS_PER_DAY);
    LONGLONG ticks = Time->QuadPart - days * CLOCK_TICKS_PER_DAY;
    LONGLONG shifted = days + CLOCK_ERAS_BEFORE_1601 * CLOCK_DAYS_PER_400_YEARS;
    LONGLONG day_of_year;
    LONGLONG year = clock_split_year(shifted, &day_of_year) - CLOCK_ERAS_BEFORE_1601 * 400;
    const CSHORT *before = clock_days_before_month[clock_is_leap(year)];
    int month = 1;

    while (day_of_year >= before[month])
        month++;
    TimeFields->Year = (CSHORT)year;
    TimeFields->Month = (CSHORT)month;
    TimeFields->Day = (CSHORT)(day_of_year - before[month - 1] + 1);
    TimeFields->Hour = (CSHORT)(ticks / (60 * CLOCK_TICKS_PER_MINUTE));
    TimeFields->Minute = (CSHORT)(ticks / CLOCK_TICKS_PER_MINUTE % 60);
    TimeFields->Second = (CSHORT)(ticks / CLOCK_TICKS_PER_SECOND % 60);
    TimeFields->Milliseconds = (CSHORT)(ticks / CLOCK_TICKS_PER_MS % 1000);
    /* 1601-01-01 was a Monday (1); an era is a whole number of weeks. */
    TimeFields->Weekday = (CSHORT)((shifted + 1) % 7);
}

static bool clock_fields_valid(const TIME_FIELDS *f)
{
    const CSHORT *before;

    if (f->Year < CLOCK_FIRST_YEAR || f->Year > CLOCK_LAST_YEAR || f->Month < 1 || f->Month > 12)
        return false;
    before = clock_days_before_month[clock_is_leap(f->Year)];
    return f->Day >= 1 && f->Day <= before[f->Month] - before[f->Month - 1] && f->Hour >= 0 &&
           f->Hour <= 23 && f->Minute >= 0 && f->Minute <= 59 && f->Second >= 0 && f->Second <= 59 &&
           f->Milliseconds >= 0 && f->Milliseconds <= 999;
}

/* Any IRQL (resident buffers). Ignores Weekday; leaves *Time alone when it returns FALSE. */
BOOLEAN NTAPI RtlTimeFieldsToTime(PTIME_FIELDS TimeFields, PLARGE_INTEGER Time)
{
    const TIME_FIELDS *f = TimeFields;
    LONGLONG days;

    if (!clock_fields_valid(f))
        return FALSE;
    days = clock_days_before_year(f->Year) + clock_days_before_month[clock_is_leap(f->Year)][f->Month - 1] +
           f->Day - 1;
    Time->QuadPart = days * CLOCK_TICKS_PER_DAY + f->Hour * 60 * CLOCK_TICKS_PER_MINUTE +
                     f->Minute * CLOCK_TICKS_PER_MINUTE + f->Second * CLOCK_TICKS_PER_SECOND +
                     f->Milliseconds * CLOCK_TICKS_PER_MS;
    return TRUE;
}

/* Any IRQL. */
VOID NTAPI ExSystemTimeToLocalTime(PLARGE_INTEGER SystemTime, PLARGE_INTEGER LocalTime)
{
    LONGLONG system = SystemTime->QuadPart;

    thread_current();
    LocalTime->QuadPart = system - clock_time_zone_bias(system);
}

/*
 * Any IRQL. With the host's zone the bias depends on the UTC instant we are looking for: take
 * the bias at a first guess, then at the instant that guess gives. A local time that a DST change
 * skips or repeats has no single answer; this picks one of the candidates.
 */
VOID NTAPI ExLocalTimeToSystemTime(PLARGE_INTEGER LocalTime, PLARGE_INTEGER SystemTime)
{
    LONGLONG local = LocalTime->QuadPart;
    LONGLONG guess;

    thread_current();
    guess = local + clock_time_zone_bias(local);
    SystemTime->QuadPart = local + clock_time_zone_bias(guess);
}
