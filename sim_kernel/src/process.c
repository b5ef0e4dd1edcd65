/*
 * process.c - processes: System, made at boot, and the user processes the host runs code in; each
 * thread's own and current process; KeStackAttachProcess. A deleted process keeps its body (name,
 * id) until shutdown, so any report can name it without a lock.
 * Locking: process_lock guards the list, each process's `deleted` and `handles`, and the count of
 * handles left open at process exit; it comes before a table's lock. A thread's processes and
 * attach stack are touched only by the thread itself.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include "internal.h"

#define PROCESS_SYSTEM_ID 4
#define PROCESS_FIRST_USER_ID 1000
/* Windows keeps 15 characters of the image name (EPROCESS.ImageFileName). */
#define PROCESS_IMAGE_NAME_SIZE 16
/* What ROS stores in a KAPC_STATE when the thread already runs in the target process: the
 * matching detach then has nothing to undo. */
#define PROCESS_ATTACH_MARKER ((PKPROCESS)1)
/* KTHREAD.ApcStateIndex as Windows reports it in the 0x5 parameters: 1 while attached. */
#define PROCESS_ATTACHED_APC_ENVIRONMENT 1

struct _EPROCESS {
    DISPATCHER_HEADER header;       /* first, as in KPROCESS: signalled once the process has ended */
    ULONG_PTR id;
    char image_name[PROCESS_IMAGE_NAME_SIZE];
    struct handle_table *handles;   /* the kernel's table for System; NULL once deleted */
    atomic_uint thread_serial;      /* names the threads wdmsim_process_run starts */
    bool deleted;                   /* its object is gone; the body stays until shutdown */
    struct _EPROCESS *next;         /* every process since boot, under process_lock */
};

static pthread_mutex_t process_lock = PTHREAD_MUTEX_INITIALIZER;
static struct _EPROCESS *process_list;
static struct _EPROCESS *system_process;
static ULONG_PTR next_user_id;
static size_t closed_at_exit;       /* handles processes left open when they ended: leaks */

PEPROCESS PsInitialSystemProcess;

static void process_lock_acquire(void)
{
    host_lock(&process_lock);
}

static void process_lock_release(void)
{
    host_unlock(&process_lock);
}

/* As in NT, the KPROCESS a driver passes to the Ke routines is the start of its EPROCESS. */
static struct _EPROCESS *process_from_pcb(PRKPROCESS pcb)
{
    return (struct _EPROCESS *)(void *)pcb;
}

static struct _EPROCESS *process_new(const char *image_name, ULONG_PTR id, struct handle_table *handles)
{
    struct _EPROCESS *process = calloc(1, sizeof *process);

    if (process == NULL)
        abort();
    disp_init_header(&process->header, DISP_PROCESS, sizeof *process, 0);
    snprintf(process->image_name, sizeof process->image_name, "%s", image_name);
    process->handles = handles;
    process_lock_acquire();
    process->id = id != 0 ? id : next_user_id;
    if (id == 0)
        next_user_id += 4;
    process->next = process_list;
    process_list = process;
    process_lock_release();
    return process;
}

/* "process app.exe (id 1000)": how handle reports name a table's owner. */
static void process_label(const struct _EPROCESS *process, char *buf, size_t size)
{
    snprintf(buf, size, "process %s (id %lu)", process->image_name, (unsigned long)process->id);
}

void process_boot(void)
{
    if (pthread_mutex_init(&process_lock, NULL) != 0)
        abort();
    /* In a child made by fork() these are the parent's processes, gone with its kernel. */
    process_list = NULL;
    next_user_id = PROCESS_FIRST_USER_ID;
    closed_at_exit = 0;
    system_process = process_new("System", PROCESS_SYSTEM_ID, handle_kernel_table());
    PsInitialSystemProcess = system_process;
    object_create(system_process, *PsProcessType);
}

size_t process_shutdown(void)
{
    struct _EPROCESS *next;
    size_t leaked;

    process_lock_acquire();
    for (struct _EPROCESS *p = process_list; p != NULL; p = next) {
        next = p->next;
        if (p != system_process && p->handles != NULL)
            handle_table_free(p->handles);
        free(p);
    }
    process_list = NULL;
    leaked = closed_at_exit;
    process_lock_release();
    system_process = NULL;
    PsInitialSystemProcess = NULL;
    return leaked;
}

PEPROCESS process_system(void)
{
    return system_process;
}

PEPROCESS process_current(void)
{
    return thread_current()->current_process;
}

struct handle_table *process_handle_table(PEPROCESS process)
{
    return process->handles;
}

void process_describe(PEPROCESS process, char *buf, size_t size)
{
    snprintf(buf, size, "%s (id %lu)", process->image_name, (unsigned long)process->id);
}

bool process_find_handle_owner(HANDLE handle, PEPROCESS except, char *owner, size_t owner_size, char *what,
                               size_t what_size)
{
    bool found = false;

    process_lock_acquire();
    for (struct _EPROCESS *p = process_list; p != NULL && !found; p = p->next) {
        if (p != except && !p->deleted && handle_table_describe(p->handles, handle, what, what_size)) {
            process_describe(p, owner, owner_size);
            found = true;
        }
    }
    process_lock_release();
    return found;
}

void process_for_each_table(void (*fn)(void *context, struct handle_table *table, const char *owner),
                            void *context)
{
    char owner[80];

    process_lock_acquire();
    for (struct _EPROCESS *p = process_list; p != NULL; p = p->next) {
        if (p == system_process || p->deleted)
            continue;
        process_label(p, owner, sizeof owner);
        fn(context, p->handles, owner);
    }
    process_lock_release();
}

void process_set_thread_owner(struct _KTHREAD *thread, PEPROCESS process)
{
    if (process != system_process)
        object_hold(process);
    thread->process = process;
    thread->current_process = process;
}

void process_thread_ended(const struct _KTHREAD *thread)
{
    if (thread->process != system_process)
        object_release(thread->process);
}

void process_check_exit(const struct _KTHREAD *self)
{
    char owner[64], attached[64];

    if (self->attach_top == NULL)
        return;
    process_describe(self->process, owner, sizeof owner);
    process_describe(self->current_process, attached, sizeof attached);
    rule_stop_detail(RULE_PROCESS_ATTACHED_AT_THREAD_EXIT, (ULONG_PTR)self->process,
                     (ULONG_PTR)self->current_process, PROCESS_ATTACHED_APC_ENVIRONMENT, (ULONG_PTR)self,
                     "thread %s of process %s ends still attached to process %s", self->name, owner, attached);
}

void process_describe_context(const struct _KTHREAD *thread, char *buf, size_t size)
{
    char current[64], owner[64];

    process_describe(thread->current_process, current, sizeof current);
    if (thread->attach_top == NULL) {
        snprintf(buf, size, "%s", current);
        return;
    }
    process_describe(thread->process, owner, sizeof owner);
    snprintf(buf, size, "%s, attached; the thread belongs to %s", current, owner);
}

/* ---- Attaching ---- */

/* Where the state below this one in the thread's attach stack is kept: Windows saves the thread's
 * APC queues in ApcListHead, and the simulator, having no APCs, links the stack through it. */
static PRKAPC_STATE process_state_below(PRKAPC_STATE state)
{
    return (PRKAPC_STATE)(void *)state->ApcListHead[KernelMode].Flink;
}

/* <= APC_LEVEL, never in a DPC. Nests: ApcState saves the context the attach replaces. */
VOID NTAPI KeStackAttachProcess(PRKPROCESS Process, PRKAPC_STATE ApcState)
{
    struct _KTHREAD *self = thread_current();
    struct _EPROCESS *target = process_from_pcb(Process);
    ULONG_PTR index = self->attach_top != NULL ? PROCESS_ATTACHED_APC_ENVIRONMENT : 0;

    RULE_CHECK_ARGUMENT(ApcState, RULE_WRITES);
    if (self->in_dpc)
        rule_stop(RULE_PROCESS_ATTACH_IN_DPC, (ULONG_PTR)Process, (ULONG_PTR)self->current_process, index, 1);
    rule_check_irql(RULE_PROCESS_ATTACH_ABOVE_APC, (ULONG_PTR)Process, (ULONG_PTR)self->current_process, index, 0);
    if (object_type_of(Process) != *PsProcessType)
        rule_stop_detail(RULE_PROCESS_ATTACH_NOT_A_PROCESS, (ULONG_PTR)Process, 0, 0, 0,
                         "%p is not a process the object manager knows", (void *)Process);
    if (target == self->current_process) {
        ApcState->Process = PROCESS_ATTACH_MARKER;
        return;
    }
    ApcState->Process = self->attach_top != NULL ? (PKPROCESS)(void *)self->current_process : NULL;
    ApcState->ApcListHead[KernelMode].Flink = (PLIST_ENTRY)(void *)self->attach_top;
    self->attach_top = ApcState;
    self->current_process = target;
}

static SIM_NORETURN void process_stop_out_of_order(const struct _KTHREAD *self, PRKAPC_STATE state)
{
    char attached[64];
    bool older = false;

    for (PRKAPC_STATE s = process_state_below(self->attach_top); s != NULL && !older; s = process_state_below(s))
        older = s == state;
    process_describe(self->current_process, attached, sizeof attached);
    rule_stop_detail(RULE_PROCESS_DETACH_OUT_OF_ORDER, 0, 0, 0, 0,
                     "thread %s is attached to process %s by the KAPC_STATE at %p; the one passed, at %p, %s",
                     self->name, attached, (void *)self->attach_top, (void *)state,
                     older ? "belongs to an earlier attach that must be detached later"
                           : "is not the state of any attach of this thread");
}

/* <= APC_LEVEL. Undoes the latest KeStackAttachProcess, whose ApcState this must be. */
VOID NTAPI KeUnstackDetachProcess(PRKAPC_STATE ApcState)
{
    struct _KTHREAD *self = thread_current();
    char owner[64];

    rule_check_irql(RULE_PROCESS_DETACH_ABOVE_APC, (ULONG_PTR)ApcState, 0, 0, 0);
    RULE_CHECK_ARGUMENT(ApcState, RULE_READS);
    if (ApcState->Process == PROCESS_ATTACH_MARKER)
        return;
    if (self->attach_top == NULL) {
        process_describe(self->process, owner, sizeof owner);
        rule_stop_detail(RULE_PROCESS_DETACH_NOT_ATTACHED, 0, 0, 0, 0,
                         "thread %s runs in its own process %s: there is no attach to undo", self->name, owner);
    }
    if (ApcState != self->attach_top)
        process_stop_out_of_order(self, ApcState);
    self->current_process = ApcState->Process != NULL ? process_from_pcb(ApcState->Process) : self->process;
    self->attach_top = process_state_below(ApcState);
}

/* Any IRQL. The process the thread is attached to, else its own. */
PEPROCESS NTAPI IoGetCurrentProcess(VOID)
{
    return process_current();
}

/* Any IRQL. The id of the process the thread is attached to, else of its own (as ROS). */
HANDLE NTAPI PsGetCurrentProcessId(VOID)
{
    return (HANDLE)process_current()->id;
}

/* Any IRQL. */
HANDLE NTAPI PsGetProcessId(PEPROCESS Process)
{
    return (HANDLE)Process->id;
}

/* IRQL <= APC_LEVEL. A new reference to the process with this id, for ObDereferenceObject;
 * STATUS_INVALID_PARAMETER when no process object has it (never used, or its object is gone). */
NTSTATUS NTAPI PsLookupProcessByProcessId(HANDLE ProcessId, PEPROCESS *Process)
{
    struct _EPROCESS *found = NULL;

    rule_check_irql(RULE_PS_LOOKUP_ABOVE_APC, irql_current(), (ULONG_PTR)ProcessId, 0, 0);
    RULE_CHECK_ARGUMENT(Process, RULE_WRITES);
    process_lock_acquire();
    for (struct _EPROCESS *p = process_list; p != NULL && found == NULL; p = p->next) {
        /* A process on its way out may have lost its object already: then it is not found. */
        if (p->id == (ULONG_PTR)ProcessId && !p->deleted && object_reference_typed(p, *PsProcessType))
            found = p;
    }
    process_lock_release();
    if (found == NULL)
        return STATUS_INVALID_PARAMETER;
    *Process = found;
    return STATUS_SUCCESS;
}

/* What ZwQueryInformationProcess reports as a process's base priority: NORMAL_PRIORITY_CLASS's. */
#define PROCESS_BASE_PRIORITY 8

static void process_basic_information(struct _EPROCESS *process, PPROCESS_BASIC_INFORMATION info)
{
    LONG ended;

    disp_lock();
    ended = process->header.SignalState;
    disp_unlock();
    /* A process ends only through wdmsim_process_terminate, which has no exit status to give. */
    info->ExitStatus = ended ? STATUS_SUCCESS : STATUS_PENDING;
    info->PebBaseAddress = NULL;    /* no user address space is simulated */
    info->AffinityMask = KeQueryActiveProcessors();
    info->BasePriority = PROCESS_BASE_PRIORITY;
    info->UniqueProcessId = process->id;
    info->InheritedFromUniqueProcessId = 0;
}

/* PASSIVE_LEVEL. ProcessBasicInformation about the process a handle (or NtCurrentProcess()) names;
 * STATUS_INVALID_INFO_CLASS for another class, STATUS_INFO_LENGTH_MISMATCH unless the buffer is
 * exactly the record's size, the handle's failure status otherwise. */
NTSTATUS NTAPI ZwQueryInformationProcess(HANDLE ProcessHandle, PROCESSINFOCLASS ProcessInformationClass,
                                         PVOID ProcessInformation, ULONG ProcessInformationLength,
                                         PULONG ReturnLength)
{
    PROCESS_BASIC_INFORMATION info;
    PVOID process;
    NTSTATUS status;

    rule_check_irql(RULE_ZW_NOT_PASSIVE, irql_current(), (ULONG_PTR)ProcessHandle, 0, 0);
    if (ProcessInformationClass != ProcessBasicInformation)
        return STATUS_INVALID_INFO_CLASS;
    if (ProcessInformationLength != sizeof info)
        return STATUS_INFO_LENGTH_MISMATCH;
    RULE_CHECK_ARGUMENT(ProcessInformation, RULE_WRITES);
    status = handle_reference(ProcessHandle, *PsProcessType, KernelMode, &process, NULL);
    if (!NT_SUCCESS(status))
        return status;
    process_basic_information(process, &info);
    ObDereferenceObject(process);
    RtlCopyMemory(ProcessInformation, &info, sizeof info);
    if (ReturnLength != NULL)
        *ReturnLength = sizeof info;
    return STATUS_SUCCESS;
}

/* ---- Host API ---- */

PEPROCESS wdmsim_process_create(const char *image_name)
{
    struct _EPROCESS *process;

    thread_current();
    process = process_new(image_name, 0, handle_table_create());
    object_create(process, *PsProcessType);
    return process;
}

PKTHREAD wdmsim_thread_start(PEPROCESS process, wdmsim_scenario_fn *fn, void *context)
{
    struct _KTHREAD *thread;
    char name[32];

    /* First: the kernel may not have booted yet, and System is made at boot. */
    thread_current();
    if (process == NULL)
        process = process_system();
    snprintf(name, sizeof name, "%.20s:%u", process->image_name, atomic_fetch_add(&process->thread_serial, 1) + 1);
    thread = thread_new(name);
    process_set_thread_owner(thread, process);
    thread_spawn(thread, fn, context);
    return (PKTHREAD)thread;
}

void wdmsim_thread_join(PKTHREAD thread)
{
    thread_join((struct _KTHREAD *)thread);
    thread_free_ended((struct _KTHREAD *)thread);
}

void wdmsim_process_run(PEPROCESS process, wdmsim_scenario_fn *fn, void *context)
{
    wdmsim_thread_join(wdmsim_thread_start(process, fn, context));
}

void wdmsim_process_terminate(PEPROCESS process)
{
    KAPC_STATE state;
    char name[64];
    size_t closed;

    if (process == system_process) {
        fprintf(stderr, "wdmsim: wdmsim_process_terminate: the System process ends only with the machine\n");
        abort();
    }
    process_describe(process, name, sizeof name);
    /* Windows closes a dying process's handles in its own context: close procedures see it. */
    KeStackAttachProcess((PRKPROCESS)(void *)process, &state);
    closed = handle_table_close_all(process->handles, name);
    KeUnstackDetachProcess(&state);
    process_lock_acquire();
    closed_at_exit += closed;
    process_lock_release();
    disp_lock();
    process->header.SignalState = 1;
    disp_wait_test(&process->header);
    disp_unlock();
    object_release(process);
}

/* The process type's delete procedure: the last reference went after wdmsim_process_terminate.
 * Handles a straggling thread of the process opened since then are closed here. */
static void process_object_delete(PVOID body)
{
    struct _EPROCESS *process = body;
    struct handle_table *handles;
    char name[64];
    size_t closed;

    process_describe(process, name, sizeof name);
    closed = handle_table_close_all(process->handles, name);
    process_lock_acquire();
    closed_at_exit += closed;
    process->deleted = true;
    handles = process->handles;
    process->handles = NULL;
    process_lock_release();
    handle_table_free(handles);
}

static bool process_type_describe(PVOID body, char *buf, size_t size)
{
    char name[64];

    process_describe(body, name, sizeof name);
    snprintf(buf, size, "process %s", name);
    return true;
}

/* A process is its own dispatcher object, signalled once it has ended. */
static PVOID process_type_wait_target(PVOID body)
{
    return body;
}

static struct _OBJECT_TYPE process_type = {
    .name = "Process",
    .delete_procedure = process_object_delete,
    .describe_procedure = process_type_describe,
    .wait_procedure = process_type_wait_target,
};
static POBJECT_TYPE process_type_pointer = &process_type;
POBJECT_TYPE *PsProcessType = &process_type_pointer;
