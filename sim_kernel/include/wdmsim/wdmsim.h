/*
 * wdmsim.h - the host API: what tests and tools (never driver code) use to start, stop, observe
 * and steer the simulated kernel. Simulator world: every name starts with wdmsim_.
 */
#ifndef WDMSIM_WDMSIM_H
#define WDMSIM_WDMSIM_H

#include <stddef.h>
#include <stdio.h>
#include <wdm.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Machine life cycle ----
 * The kernel boots itself on the first DDI call; a test that wants a fresh kernel per case calls
 * wdmsim_boot() in its setup and wdmsim_shutdown() in its teardown. */

enum wdmsim_clock_mode { WDMSIM_CLOCK_REAL, WDMSIM_CLOCK_VIRTUAL };

struct wdmsim_config {
    enum wdmsim_clock_mode clock;   /* default: WDMSIM_CLOCK env var, else real */
    long long start_time;           /* virtual clock start, 100 ns since 1601; 0: a fixed date */
    int time_zone_bias_minutes;     /* local = UTC - bias, as Windows; used when bias_set */
    int time_zone_bias_set;         /* 0: the host's time zone */
    const char *schedule;           /* "random:SEED", "pct:D:SEED" or "replay:TOKEN": one thread
                                     * at a time, as that strategy decides, on the virtual clock;
                                     * "free": threads run free; NULL: WDMSIM_SCHED decides (free
                                     * when it is not set) */
};

/* Boots a fresh kernel (config NULL: defaults). Stopping an already-booted kernel first. */
void wdmsim_boot(const struct wdmsim_config *config);
/* Stops the kernel: returns the number of leaked resources it found (pool blocks, running system
 * threads, open handles, objects with references left), each also named on stderr. */
size_t wdmsim_shutdown(void);
int wdmsim_is_booted(void);

/* ---- Status names ----
 * Every report prints an NTSTATUS as its 32-bit value and its ntstatus.h name:
 * "0xC0000034 STATUS_OBJECT_NAME_NOT_FOUND" (the value alone when the table does not know it). */

/* "STATUS_OBJECT_NAME_NOT_FOUND" for 0xC0000034; NULL for a value ntstatus.h does not define. */
const char *wdmsim_status_name(NTSTATUS status);
struct wdmsim_status_text {
    char text[64];
};
/* The value and its name, ready for a "%s": printf("%s\n", wdmsim_status_text(status).text). */
struct wdmsim_status_text wdmsim_status_text(NTSTATUS status);
/* The table, for tools: the index-th name and its *value; NULL past the end. */
size_t wdmsim_status_count(void);
const char *wdmsim_status_at(size_t index, NTSTATUS *value);

/* ---- Stops (bug checks) and isolated runs ----
 * By default a STOP prints its report to stderr and ends the process with WDMSIM_STOP_EXIT_STATUS.
 * wdmsim_run_expecting_stop() and wdmsim_run_isolated() run a scenario in a forked child with a
 * fresh kernel, so the STOP may happen on any simulated thread and the caller's process is never
 * affected. The scenario must not use CMocka asserts (it runs in the child): record, and assert
 * afterwards. (Suites built with add_wdmsim_test() run every case that way, and there CMocka
 * asserts work: see <wdmsim/test.h>.) */

#define WDMSIM_STOP_EXIT_STATUS 86

struct wdmsim_stop {
    int stopped;                    /* 1: the machine stopped; 0: the scenario returned */
    int exit_signal;                /* the child died by this signal without a report (crash) */
    int finished;                   /* 1: the scenario returned and its kernel was shut down */
    int exit_status;                /* neither stopped, crashed nor finished: the child exited so */
    int timed_out;                  /* 1: killed (exit_signal SIGKILL) at the run's time limit */
    size_t leaks;                   /* what the shutdowns in the child found (pool blocks, threads,
                                     * handles, references), each named on the child's stderr; 0
                                     * after wdmsim_allow_leaks() */
    unsigned int code;              /* bug check code, e.g. 0xC4 */
    unsigned long long params[4];   /* the four bug check parameters */
    char code_name[64];             /* e.g. "DRIVER_VERIFIER_DETECTED_VIOLATION" */
    char rule[64];                  /* rule catalog id, "" when a driver called KeBugCheckEx */
    char report[8192];              /* the report, exactly as it would be printed */
};

typedef void wdmsim_scenario_fn(void *context);
/* Boots a fresh kernel in a child (the configuration of the caller's latest boot), runs scenario
 * there, then shuts that kernel down; *stop says how it ended. */
void wdmsim_run_expecting_stop(wdmsim_scenario_fn *scenario, void *context, struct wdmsim_stop *stop);
/* Runs scenario in a child on a fresh kernel (booted as the caller's was, when the caller has one
 * running; else none until the scenario boots one or calls a DDI), then shuts down whatever kernel
 * is left; *result says how it ended: a STOP, a crash, an exit, killed at the time limit, or
 * finished, with the leaks the child's shutdowns found. output: where the child's stdout and
 * stderr go (NULL: where the caller's go). timeout_seconds: of host time, for a hang the simulator
 * cannot see (a loop with no DDI in it); 0: none. */
void wdmsim_run_isolated(wdmsim_scenario_fn *scenario, void *context, FILE *output, unsigned timeout_seconds,
                         struct wdmsim_stop *result);
/* Called in such a child: its leaks are the scenario's own business (a test of the leak reports
 * themselves), not a failure; result->leaks stays 0. */
void wdmsim_allow_leaks(void);

/* ---- Controlled scheduling: one thread at a time, seeded and replayable ----
 * With WDMSIM_SCHED=random:SEED, pct:D:SEED or replay:TOKEN in the environment every kernel the
 * program boots (unless its wdmsim_config.schedule says otherwise) runs one simulated thread at a
 * time, on the virtual clock: the turn passes only at scheduling points (each DDI's entry, a
 * wake-up, a block, a contended spin lock, a thread's start and end), to the thread the strategy
 * picks. The
 * same seed and the same binary make the same sequence of DDI calls. A schedule that stops prints
 * its seed, a replay token and the command that replays it after the STOP report.
 * WDMSIM_SCHED_MAX_STEPS bounds a schedule's decisions (default 1,000,000): one that makes more
 * stops as a livelock (sched.livelock), and so does a simulated thread that keeps the turn for
 * WDMSIM_SCHED_WATCHDOG_SECONDS of host time (default 10) without reaching a scheduling point. */

struct wdmsim_explore_config {
    const char *strategy;            /* "random", "pct:3", "dfs:2" or "replay:TOKEN"; NULL: "pct:3" */
    unsigned long long first_seed;   /* seeds first_seed .. first_seed + seeds - 1 (dfs: 0) */
    unsigned long long seeds;        /* how many schedules to try (dfs: at most) */
    FILE *report;                    /* where the failure and the progress go; NULL: stderr */
};

struct wdmsim_explore_result {
    unsigned long long schedules;    /* schedules run */
    int failed;                      /* 1: one failed; the search stops there */
    unsigned long long seed;         /* its seed */
    char token[256];                 /* replay token: the same schedule again, anywhere */
    struct wdmsim_stop stop;         /* what happened: STOP, deadlock, crash, leak */
    size_t leaks;                    /* what wdmsim_shutdown found after the failing schedule */
    char strategy[32];               /* the failing schedule, e.g. "pct:3:17:812" */
};

/* Runs scenario once per seed, each time on a fresh kernel (virtual clock, its own forked process,
 * so a STOP, deadlock or crash in one schedule never ends the search) under the strategy, followed
 * by wdmsim_shutdown. A schedule fails when the machine stops or the shutdown finds leaks; the
 * failure is printed (report, token, replay command, the last 50 decisions). pct first runs the
 * scenario once to learn its length (not counted). dfs:P runs every schedule with at most P
 * preemptions (a switch away from a thread that could go on), depth first, and stops early, with
 * schedules < seeds, once it has run them all. Returns 0 when every schedule passed, 1 when
 * one failed (the search stops there), -1 with a message on stderr for a bad configuration,
 * running nothing (an unknown strategy, seeds 0, a NULL scenario, a malformed token or one from
 * another build), or for a replay whose schedule no longer matches its token (another scenario,
 * changed code: where it diverged goes to report). With WDMSIM_SCHED=replay:TOKEN in the
 * environment it runs that one schedule. */
int wdmsim_explore(const struct wdmsim_explore_config *config, wdmsim_scenario_fn *scenario, void *context,
                   struct wdmsim_explore_result *result);

/* Starts fn(context) on a new simulated thread at PASSIVE_LEVEL, in process (NULL: System), charged
 * to host code. Unlike a host thread that calls a DDI, it is on the schedule from the start, so a
 * controlled schedule stays replayable. wdmsim_thread_join waits for it (in the dispatcher: virtual
 * time moves meanwhile) and frees it; every started thread must be joined. PASSIVE_LEVEL. */
PKTHREAD wdmsim_thread_start(PEPROCESS process, wdmsim_scenario_fn *fn, void *context);
void wdmsim_thread_join(PKTHREAD thread);

/* ---- Drivers ----
 * A driver loads as on Windows: a DRIVER_OBJECT named \Driver\<name>, then DriverEntry on a System
 * thread at PASSIVE_LEVEL with RegistryPath \Registry\Machine\System\CurrentControlSet\Services\
 * <name>, whose buffer is pool freed when DriverEntry returns. A module's section INIT is made
 * inaccessible then. For a PnP driver (DriverEntry set DriverExtension->AddDevice) the PnP manager
 * enumerates one root device: AddDevice, then IRP_MN_START_DEVICE. Unloading sends
 * IRP_MN_REMOVE_DEVICE (PnP), runs DriverUnload on a System thread, and then checks that nothing of
 * the driver is left - threads, timers, DPCs, work items, devices, pool, handles, references -
 * stopping the machine with the list of what is. A failed DriverEntry is not unloaded, but must
 * leave nothing either. Pool, threads, timers, DPCs, work items, objects and handles are charged
 * to the driver whose code creates them. Call these from a host thread at PASSIVE_LEVEL. */

/* Loads a driver linked into the host program. name: 1 to 63 characters, no backslash, unique
 * among loaded drivers. Returns DriverEntry's status (or the PnP start's); *driver is the driver
 * object on success, NULL otherwise. */
NTSTATUS wdmsim_driver_load(const char *name, PDRIVER_INITIALIZE entry, PDRIVER_OBJECT *driver);
/* Loads a driver module built with add_wdmsim_driver(), as Windows maps a .sys: its own code and
 * globals (loading one file twice gives two copies), its DDI calls resolved against the host
 * program, which must be linked with wdmsim_host_drivers(). Fails with STATUS_OBJECT_NAME_NOT_FOUND
 * (no such file), STATUS_PROCEDURE_NOT_FOUND (it calls a DDI the host lacks) or
 * STATUS_INVALID_IMAGE_FORMAT (not loadable), the reason printed on stderr, or with
 * STATUS_DRIVER_ENTRYPOINT_NOT_FOUND (no DriverEntry). Data that DriverEntry alone uses can be put
 * in the section INIT - __attribute__((section("INIT"))), which gcc and mingw-w64 both accept, and
 * which the Windows loader discards too - and touching it later stops the machine
 * (PAGE_FAULT_IN_NONPAGED_AREA). */
NTSTATUS wdmsim_driver_load_module(const char *path, const char *name, PDRIVER_OBJECT *driver);
/* Unloads a loaded driver (a module is unmapped after the check). A driver without DriverUnload
 * cannot be unloaded, as on Windows: it stays loaded, and a line on stderr says why. */
void wdmsim_driver_unload(PDRIVER_OBJECT driver);
/* The address of a global symbol of a loaded module (say its DebugPrintGetStatistics), or NULL. */
void *wdmsim_driver_symbol(PDRIVER_OBJECT driver, const char *symbol);
/* Runs fn as the code of the named driver (the loaded one of that name, if any). */
void wdmsim_run_as_driver(const char *driver_name, wdmsim_scenario_fn *fn, void *context);

/* ---- Processes ----
 * The System process (id 4) exists from boot: DriverEntry, DriverUnload, system threads, work
 * items and the host's own threads run in it. The host adds user processes, each with its own
 * handle table, and runs code as their threads: Zw calls made there act as an application's, their
 * handles going into that process's table and drivers' dispatch routines running in its context.
 * A handle without OBJ_KERNEL_HANDLE resolves only in the process that opened it. Call these from
 * a host thread at PASSIVE_LEVEL. */

/* A new user process (ids are multiples of 4, from 1000); the name is kept to 15 characters. */
PEPROCESS wdmsim_process_create(const char *image_name);
/* Runs fn(context) as a new thread of process, at PASSIVE_LEVEL, and returns when it has ended.
 * The caller waits in the dispatcher, so virtual time moves while fn waits. */
void wdmsim_process_run(PEPROCESS process, wdmsim_scenario_fn *fn, void *context);
/* Ends a user process: each handle it left open is reported on stderr, closed as if by the process
 * (close procedures run in its context) and counted as a leak by wdmsim_shutdown; the process
 * pointer is the host's no more. A thread a driver created in the process keeps its object, but not
 * its handles, until the thread ends. */
void wdmsim_process_terminate(PEPROCESS process);

/* ---- The registry ----
 * The simulated machine's registry lives in memory and starts afresh at every boot, with the
 * keys a fresh Windows has (\Registry\Machine\System\CurrentControlSet\Services, Control\Class,
 * Enum\ROOT, \Registry\Machine\Software\Microsoft\Windows NT\CurrentVersion, the volatile
 * \Registry\Machine\Hardware, \Registry\User\.Default). A driver's service key,
 * WDMSIM_REGISTRY_SERVICES "<name>", and its Parameters subkey exist once it loads; values the host
 * sets there before wdmsim_driver_load are what DriverEntry reads. Paths are narrow strings
 * (ASCII or Latin-1) starting with \Registry, compared case-insensitively. These calls make every
 * missing key on the way (non-volatile; never under a volatile key). Any thread may call them. */
#define WDMSIM_REGISTRY_SERVICES "\\Registry\\Machine\\System\\CurrentControlSet\\Services\\"
/* Makes the key (and every missing key on its way): STATUS_OBJECT_NAME_INVALID for a path it
 * cannot make. */
NTSTATUS wdmsim_registry_create_key(const char *path);
/* Deletes the key with all its subkeys; opens of them see STATUS_KEY_DELETED. */
NTSTATUS wdmsim_registry_delete_key(const char *path);
/* Sets a value of any type (REG_SZ data is WCHARs with their terminator, as a driver stores it). */
NTSTATUS wdmsim_registry_set_value(const char *path, const char *name, ULONG type, const void *data, ULONG length);
NTSTATUS wdmsim_registry_set_dword(const char *path, const char *name, ULONG value);
/* A REG_SZ from a narrow string, widened and terminated. */
NTSTATUS wdmsim_registry_set_string(const char *path, const char *name, const char *value);
/* Reads a value: its type and length, and its data into data (size bytes). STATUS_OBJECT_NAME_NOT_FOUND
 * for no such key or value; STATUS_BUFFER_OVERFLOW when size is too small (*length is what it needs,
 * and what fits is copied). */
NTSTATUS wdmsim_registry_get_value(const char *path, const char *name, ULONG *type, void *data, ULONG size,
                                   ULONG *length);
NTSTATUS wdmsim_registry_delete_value(const char *path, const char *name);

/* ---- The error log ----
 * What drivers wrote with IoWriteErrorLogEntry since boot, oldest first, as the event log would
 * show it. An entry allocated with IoAllocateErrorLogEntry and neither written nor freed when its
 * driver unloads is a leak. Any thread may call these. */
struct wdmsim_error_log_entry {
    long long time;                  /* system time of the write (100 ns since 1601) */
    char driver[64];                 /* the writer's driver object, "\\Driver\\name" */
    char device[64];                 /* the named device of the IoObject's stack; "" for none */
    unsigned char major_function;    /* IO_ERROR_LOG_PACKET's fields */
    unsigned char retry_count;
    unsigned short event_category;
    NTSTATUS error_code;
    ULONG unique_error_value;
    NTSTATUS final_status;
    ULONG sequence_number;
    ULONG io_control_code;
    long long device_offset;
    unsigned short dump_data_size;   /* bytes in dump_data */
    ULONG dump_data[60];             /* the packet's DumpData (ULONGs, as there) */
    unsigned short number_of_strings;
    char strings[256];               /* the insertion strings (narrowed), each ended by '\n' */
};
size_t wdmsim_error_log_count(void);
/* The entry at index (0: the oldest); 0 when there is none. */
int wdmsim_error_log_entry(size_t index, struct wdmsim_error_log_entry *entry);

/* ---- The rule catalog ---- */

/* What breaking a rule does: stop the machine (with the bug check), or print a warning and go on. */
enum wdmsim_rule_severity { WDMSIM_RULE_STOPS = 0, WDMSIM_RULE_WARNS = 1 };

struct wdmsim_rule_info {
    const char *id;                 /* stable id, e.g. "spinlock.recursive_acquire" */
    const char *ddi;                /* the DDI or DDIs it guards */
    const char *condition;          /* what breaks the rule */
    unsigned int code;              /* bug check code */
    const char *code_name;
    long long subcode;              /* parameter 1 when the code has subcodes, else -1 */
    const char *explanation;
    const char *fix;
};

size_t wdmsim_rule_count(void);
const struct wdmsim_rule_info *wdmsim_rule_at(size_t index);
/* Whether the rule at index stops the machine or warns (a warning's code is 0: it stops only when
 * warnings are made fatal). */
enum wdmsim_rule_severity wdmsim_rule_severity(size_t index);
/* Writes the catalog as the Markdown page docs/irql-rules.md. */
void wdmsim_rules_write_markdown(FILE *out);

/* ---- The DDIs the simulator provides ----
 * Every function, inline function and function-like macro the driver headers declare, with the
 * header (as the DDK has it) and the kind: "function", "inline" or "macro". */

struct wdmsim_ddi_info {
    const char *name;
    const char *header;             /* "wdm.h", "ntddk.h", "ntifs.h" or "ntstrsafe.h" */
    const char *kind;
};

/* A DDK family the simulator does not provide, and DDIs of it. */
struct wdmsim_ddi_family {
    const char *family;
    const char *examples;           /* comma-separated DDI names */
};

size_t wdmsim_ddi_count(void);
const struct wdmsim_ddi_info *wdmsim_ddi_at(size_t index);
size_t wdmsim_ddi_missing_family_count(void);
const struct wdmsim_ddi_family *wdmsim_ddi_missing_family_at(size_t index);
/* Writes docs/ddi-coverage.md: each DDI with the rules it checks, and the families not provided. */
void wdmsim_ddis_write_markdown(FILE *out);

/* Warnings: a rule of severity WDMSIM_RULE_WARNS prints "wdmsim: warning: RULE: ..." on stderr and
 * the machine goes on. wdmsim_warnings_fatal(1) (or WDMSIM_WARNINGS=fatal in the environment, when
 * the API has not decided) makes the next ones stop the machine on their rule instead, as a test
 * that wants none does; wdmsim_warnings_fatal(-1) leaves it to the environment again. */
void wdmsim_warnings_fatal(int fatal);
/* Warnings given since the program started (in this process). */
size_t wdmsim_warning_count(void);

/* ---- Pool ---- */

struct wdmsim_pool_stats {
    size_t allocations;             /* successful allocations since boot */
    size_t frees;
    size_t outstanding_blocks;
    size_t outstanding_bytes;
    size_t failed_injected;         /* allocations failed on purpose (fault injection) */
};

void wdmsim_pool_stats(struct wdmsim_pool_stats *stats);
/* Outstanding blocks and bytes carrying this tag. */
size_t wdmsim_pool_outstanding_by_tag(ULONG tag, size_t *bytes);
/* Outstanding blocks and bytes charged to the named driver ("" or NULL: host code). */
size_t wdmsim_pool_outstanding_by_driver(const char *driver_name, size_t *bytes);
/* Prints every outstanding block (tag, type, size, address), returns their number. */
size_t wdmsim_pool_report(FILE *out);
/* Fault injection: fail the nth allocation from now on (1 = the next one); 0 disables. */
void wdmsim_pool_fail_nth(size_t nth);
/* Fault injection: fail every allocation with this tag (0 disables). */
void wdmsim_pool_fail_tag(ULONG tag);

/* ---- Debug output ---- */

/* Where DbgPrint, KdPrint and assertion messages that pass the debug filter go: stderr by
 * default, or a sink called with each whole message (prefix included, at most 511 characters),
 * one at a time. The sink is host code: it must not call DDIs. NULL restores stderr. The filter
 * itself is set as on Windows, with DbgSetDebugFilterState; each boot starts with Windows'
 * default, which lets only DPFLTR_ERROR_LEVEL messages through. */
typedef void wdmsim_debug_sink_fn(void *context, const char *message);
void wdmsim_debug_set_sink(wdmsim_debug_sink_fn *sink, void *context);

/* ---- Clock ---- */

/* Virtual clock only: moves simulated time forward by delta (100 ns units). */
void wdmsim_clock_advance(long long delta);
enum wdmsim_clock_mode wdmsim_clock_mode(void);

/* ---- Device interfaces ----
 * What an application finds with SetupDiGetClassDevs: the enabled instances of an interface class
 * (IoRegisterDeviceInterface, then IoSetDeviceInterfaceState(TRUE)), each a symbolic link such as
 * \??\ROOT#SYSTEM#0000#{guid} that ZwCreateFile opens. */

#define WDMSIM_INTERFACE_NAME_MAX 256

struct wdmsim_device_interface {
    WCHAR name[WDMSIM_INTERFACE_NAME_MAX];  /* NUL-terminated: RtlInitUnicodeString takes it as is */
};

/* Copies the first max enabled interfaces of class guid, oldest registration first, to found and
 * returns how many are enabled (found may be NULL when max is 0). */
size_t wdmsim_device_interfaces(const GUID *guid, struct wdmsim_device_interface *found, size_t max);

#ifdef __cplusplus
}
#endif

#endif /* WDMSIM_WDMSIM_H */
