/*
 * timeline.c - a record of who ran what, when: each simulated thread's IRQL, spin-lock holds,
 * waits, DPCs, work items, dispatch and completion routines, the signals that ended waits and the
 * way of each IRP, kept in a ring of the last N events and written, at shutdown or when the
 * machine stops, as a Chrome trace-event JSON file (Perfetto, chrome://tracing) or, for a file
 * named *.svg, as a picture (timeline_svg.c). WDMSIM_TIMELINE=FILE turns it on at boot;
 * WDMSIM_TIMELINE_EVENTS=N sizes the ring.
 * Each thread keeps the stack of its open slices itself (thread-local), so what it records is
 * always well nested: an end that is not the innermost (spin locks released out of order) closes
 * the slices inside it and opens them again.
 * Locking: timeline_locked, a spin lock of its own (a leaf, held for a copy into the ring or a write
 * of the file; a host mutex cost twice as much per event), guards the ring, the thread table, the
 * interned strings, the symbol cache and the IRPs' flows. Nothing blocks or reaches a scheduling
 * point while holding it, so in controlled mode, one thread at a time, it is never contended.
 */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "timeline.h"

#define TIMELINE_DEFAULT_EVENTS (1u << 16)
#define TIMELINE_MAX_EVENTS (1u << 26)
#define TIMELINE_MAX_THREADS 1024
#define TIMELINE_MAX_DEPTH 32
#define TIMELINE_SYMBOLS 1024           /* a power of two */
#define TIMELINE_IRP_FLOWS 1024         /* a power of two */
#define TIMELINE_STRING_CHUNK 65536

bool timeline_recording;

struct timeline_string_chunk {
    struct timeline_string_chunk *next;
    size_t used;
    char text[TIMELINE_STRING_CHUNK];
};

static bool timeline_locked;
static char timeline_path[4096];
static bool timeline_svg;
static struct timeline_event *ring;
static size_t capacity;
static unsigned long long next_event;  /* events recorded; the ring holds the last `capacity` */
static uint64_t next_flow;
static struct timeline_thread_info threads[TIMELINE_MAX_THREADS];
static size_t thread_count;
static struct timeline_string_chunk *strings;
static struct { const void *code; const char *name; } symbols[TIMELINE_SYMBOLS];
static struct { const void *irp; uint64_t flow; } irp_flows[TIMELINE_IRP_FLOWS];

/* One open slice of the calling thread, enough to begin it again. */
struct timeline_open {
    uint8_t kind;
    uint8_t x;
    const char *name;
    uint64_t id, a, b;
};

struct timeline_self {
    unsigned generation;
    unsigned lane;                  /* the thread's timeline_thread */
    uint16_t index;
    unsigned depth;
    struct timeline_open open[TIMELINE_MAX_DEPTH];
};

static __thread struct timeline_self me;
static __thread bool writing;          /* this thread holds timeline_locked to write the file */

/* Free mode: a holder preempted by the host is let run (the lock is held for a copy, but simulated
 * threads outnumber processors). */
static void timeline_acquire(void)
{
    for (unsigned spins = 1; __atomic_exchange_n(&timeline_locked, true, __ATOMIC_ACQUIRE); spins++) {
        if (spins % 64 == 0)
            sched_yield();
        else
            spinlock_relax();
    }
}

static void timeline_release(void)
{
    __atomic_store_n(&timeline_locked, false, __ATOMIC_RELEASE);
}

/* ---- Interned strings and symbols (timeline_locked held) ---- */

static const char *timeline_intern(const char *text)
{
    size_t length = strlen(text) + 1;

    if (length > TIMELINE_STRING_CHUNK)
        return "(name too long)";
    if (strings == NULL || strings->used + length > TIMELINE_STRING_CHUNK) {
        struct timeline_string_chunk *chunk = malloc(sizeof *chunk);

        if (chunk == NULL)
            return "(out of memory)";
        chunk->next = strings;
        chunk->used = 0;
        strings = chunk;
    }
    memcpy(strings->text + strings->used, text, length);
    strings->used += length;
    return strings->text + strings->used - length;
}

/* A driver may be unloaded before the file is written, so code is named as it runs. */
static const char *timeline_symbol(const void *code)
{
    size_t slot = ((uintptr_t)code >> 4) & (TIMELINE_SYMBOLS - 1);
    char name[160];

    for (size_t probes = 0; probes < TIMELINE_SYMBOLS; probes++, slot = (slot + 1) & (TIMELINE_SYMBOLS - 1)) {
        if (symbols[slot].code == code)
            return symbols[slot].name;
        if (symbols[slot].code == NULL)
            break;
    }
    bugcheck_describe_code(code, name, sizeof name);
    if (symbols[slot].code == NULL) {
        symbols[slot].code = code;
        symbols[slot].name = timeline_intern(name);
        return symbols[slot].name;
    }
    return timeline_intern(name);
}

static void timeline_forget(void)
{
    while (strings != NULL) {
        struct timeline_string_chunk *next = strings->next;

        free(strings);
        strings = next;
    }
    free(ring);
    ring = NULL;
    next_event = 0;
    next_flow = 0;
    thread_count = 0;
    memset(symbols, 0, sizeof symbols);
    memset(irp_flows, 0, sizeof irp_flows);
}

/* ---- Recording ---- */

static uint16_t timeline_add_thread(const struct _KTHREAD *thread)
{
    struct timeline_thread_info *info;
    PEPROCESS process = thread->process ? thread->process : process_system();

    if (thread_count == TIMELINE_MAX_THREADS)
        return TIMELINE_MAX_THREADS - 1;    /* the last one stands for all later threads */
    info = &threads[thread_count];
    info->tid = thread->tid;
    info->pid = (unsigned long)(ULONG_PTR)PsGetProcessId(process);
    snprintf(info->name, sizeof info->name, "%s (tid %ld)", thread->name, thread->tid);
    process_describe(process, info->process, sizeof info->process);
    return (uint16_t)thread_count++;
}

/* The calling simulated thread's record (its lane made on its first event); NULL for a host thread
 * that is no simulated one. A host thread runs one simulated thread after another (host.c keeps
 * them), so the thread-local record is checked against the KTHREAD's lane each time. */
static struct timeline_self *timeline_self(void)
{
    struct _KTHREAD *self = thread_current_if_known();

    if (self == NULL)
        return NULL;
    if (self->timeline_thread == 0) {
        timeline_acquire();
        self->timeline_thread = timeline_add_thread(self) + 1u;
        timeline_release();
    }
    if (me.generation != kernel_generation() || me.lane != self->timeline_thread) {
        me.generation = kernel_generation();
        me.lane = self->timeline_thread;
        me.index = (uint16_t)(me.lane - 1);
        me.depth = 0;
    }
    return &me;
}

static void timeline_push_locked(uint16_t thread, char ph, const struct timeline_open *o)
{
    struct timeline_event *e;

    if (ring == NULL)
        return;
    e = &ring[next_event++ % capacity];
    e->time = clock_since_boot_coarse();
    e->name = o->name;
    e->id = o->id;
    e->a = o->a;
    e->b = o->b;
    e->thread = thread;
    e->ph = ph;
    e->kind = o->kind;
    e->x = o->x;
}

static void timeline_push(const struct timeline_self *self, char ph, const struct timeline_open *o)
{
    timeline_acquire();
    timeline_push_locked(self->index, ph, o);
    timeline_release();
}

static void timeline_begin(struct timeline_self *self, const struct timeline_open *o)
{
    if (self->depth == TIMELINE_MAX_DEPTH)
        return;
    self->open[self->depth++] = *o;
    timeline_push(self, 'B', o);
}

/* Ends the innermost open slice of this kind and id; those opened inside it end first and begin
 * again after it, so the record stays nested. The end is its begin with b = result (a wait's
 * status). */
static void timeline_end(struct timeline_self *self, uint8_t kind, uint64_t id, uint64_t result)
{
    unsigned i = self->depth;
    struct timeline_open end;

    while (i > 0 && (self->open[i - 1].kind != kind || self->open[i - 1].id != id))
        i--;
    if (i-- == 0)
        return;
    for (unsigned j = self->depth - 1; j > i; j--)
        timeline_push(self, 'E', &self->open[j]);
    end = self->open[i];
    end.b = result;
    timeline_push(self, 'E', &end);
    memmove(&self->open[i], &self->open[i + 1], (self->depth - i - 1) * sizeof self->open[0]);
    self->depth--;
    for (unsigned j = i; j < self->depth; j++)
        timeline_push(self, 'B', &self->open[j]);
}

static void timeline_instant(struct timeline_self *self, enum timeline_kind kind, const char *text, uint64_t a)
{
    struct timeline_open o = { .kind = (uint8_t)kind, .a = a };

    timeline_acquire();
    o.name = timeline_intern(text);
    timeline_push_locked(self->index, 'i', &o);
    timeline_release();
}

static bool timeline_irql_open(const struct timeline_self *self, KIRQL irql)
{
    for (unsigned i = self->depth; i > 0; i--) {
        if (self->open[i - 1].kind == TIMELINE_IRQL)
            return self->open[i - 1].x == irql;
    }
    return false;
}

/* IRQL is raised and lowered as a stack: a raise opens a slice inside the current one (a spin lock
 * taken at DISPATCH_LEVEL stays whole when ExInterlocked* raises further), a lower closes it. */
void timeline_record_irql(KIRQL old_irql, KIRQL new_irql)
{
    struct timeline_self *self = timeline_self();
    struct timeline_open o = { .kind = TIMELINE_IRQL, .x = new_irql, .id = new_irql };

    if (self == NULL)
        return;
    if (new_irql < old_irql)
        timeline_end(self, TIMELINE_IRQL, old_irql, 0);
    if (new_irql > PASSIVE_LEVEL && !timeline_irql_open(self, new_irql))
        timeline_begin(self, &o);
}

void timeline_record_lock(PKSPIN_LOCK lock, bool acquired)
{
    struct timeline_self *self = timeline_self();
    struct timeline_open o = { .kind = TIMELINE_SPIN_LOCK, .id = (uintptr_t)lock };

    if (self == NULL)
        return;
    if (acquired)
        timeline_begin(self, &o);
    else
        timeline_end(self, TIMELINE_SPIN_LOCK, o.id, 0);
}

void timeline_record_wait_begin(ULONG count, PVOID objects[], LONGLONG deadline, const char *ddi)
{
    struct timeline_self *self = timeline_self();
    struct timeline_open o = { .kind = TIMELINE_WAIT, .name = ddi, .a = count };

    if (self == NULL)
        return;
    o.b = deadline == DISP_NO_DEADLINE ? UINT64_MAX : (uint64_t)(deadline - clock_since_boot());
    if (count > 0) {
        o.id = (uintptr_t)objects[0];
        o.x = ((const DISPATCHER_HEADER *)objects[0])->Type;
    }
    timeline_begin(self, &o);
}

void timeline_record_wait_end(NTSTATUS status, uint64_t flow)
{
    struct timeline_self *self = timeline_self();
    struct timeline_open f = { .kind = TIMELINE_WAKE, .name = "wake", .id = flow };
    unsigned i;

    if (self == NULL)
        return;
    for (i = self->depth; i > 0 && self->open[i - 1].kind != TIMELINE_WAIT; i--)
        ;
    if (i == 0)
        return;
    if (flow != 0)
        timeline_push(self, 'f', &f);
    timeline_end(self, TIMELINE_WAIT, self->open[i - 1].id, (uint64_t)(uint32_t)status);
}

/* A short slice on the signalling thread holds the flow's start: a flow binds to a slice. */
uint64_t timeline_record_wake(unsigned waiter_lane)
{
    struct timeline_self *self = timeline_self();
    struct timeline_open o = { .kind = TIMELINE_WAKE, .a = waiter_lane };
    uint64_t flow;

    if (self == NULL)
        return 0;
    timeline_acquire();
    flow = ++next_flow;
    timeline_release();
    o.id = flow;
    timeline_begin(self, &o);
    o.name = "wake";
    timeline_push(self, 's', &o);
    timeline_end(self, TIMELINE_WAKE, flow, 0);
    return flow;
}

void timeline_record_routine(enum timeline_kind kind, const void *routine, const void *object, UCHAR major,
                             bool begins)
{
    struct timeline_self *self = timeline_self();
    struct timeline_open o = { .kind = (uint8_t)kind, .x = major, .id = (uintptr_t)routine,
                               .a = (uintptr_t)object };

    if (self == NULL || routine == NULL)
        return;
    if (!begins) {
        timeline_end(self, (uint8_t)kind, o.id, 0);
        return;
    }
    timeline_acquire();
    o.name = timeline_symbol(routine);
    timeline_release();
    timeline_begin(self, &o);
}

/* Direct-mapped: a few IRPs are on their way at a time, and one that takes over another's slot
 * only loses that other's arrow. */
static size_t timeline_irp_slot(PIRP irp)
{
    return ((uintptr_t)irp >> 4) & (TIMELINE_IRP_FLOWS - 1);
}

/* Its dispatch routine's slice is open: the IRP's flow starts, or goes on when it is passed down.
 * Perfetto joins a flow's events by id, category and name: all three are the same at each step. */
void timeline_record_irp_dispatched(PIRP irp)
{
    struct timeline_self *self = timeline_self();
    struct timeline_open o = { .kind = TIMELINE_COMPLETE_REQUEST, .name = "IRP", .a = (uintptr_t)irp };
    size_t slot;
    char ph = 't';

    if (self == NULL)
        return;
    timeline_acquire();
    slot = timeline_irp_slot(irp);
    if (irp_flows[slot].irp != irp) {
        irp_flows[slot].irp = irp;
        irp_flows[slot].flow = ++next_flow;
        ph = 's';
    }
    o.id = irp_flows[slot].flow;
    timeline_push_locked(self->index, ph, &o);
    timeline_release();
}

void timeline_record_irp_completing(PIRP irp, bool begins)
{
    struct timeline_self *self = timeline_self();
    struct timeline_open o = { .kind = TIMELINE_COMPLETE_REQUEST, .name = "IoCompleteRequest",
                               .id = (uintptr_t)irp };
    struct timeline_open f = { .kind = TIMELINE_COMPLETE_REQUEST, .name = "IRP" };
    size_t slot;

    if (self == NULL)
        return;
    if (!begins) {
        timeline_end(self, TIMELINE_COMPLETE_REQUEST, o.id, 0);
        return;
    }
    timeline_begin(self, &o);
    timeline_acquire();
    slot = timeline_irp_slot(irp);
    if (irp_flows[slot].irp == irp) {
        f.id = irp_flows[slot].flow;
        irp_flows[slot].irp = NULL;
        timeline_push_locked(self->index, 'f', &f);
    }
    timeline_release();
}

/* ---- Reports: STOPs and warnings ---- */

static void timeline_write_file(void);

static void timeline_stopping(const struct wdmsim_stop *stop)
{
    struct timeline_self *self;
    char text[160];

    if (!timeline_on())
        return;
    if ((self = timeline_self()) != NULL && !writing) {
        snprintf(text, sizeof text, "STOP 0x%08X %s%s%s", stop->code, stop->code_name, stop->rule[0] ? " " : "",
                 stop->rule);
        timeline_instant(self, TIMELINE_STOP, text, stop->code);
    }
    timeline_write_file();
}

static struct bugcheck_stop_observer timeline_stop_observer = { .stopping = timeline_stopping };
BUGCHECK_STOP_OBSERVER(timeline_stop_observer)

static void timeline_warned(const struct rule *rule, const char *text)
{
    struct timeline_self *self;
    char line[512];

    if (!timeline_on() || (self = timeline_self()) == NULL)
        return;
    snprintf(line, sizeof line, "warning %s: %s", rule->info.id, text);
    timeline_instant(self, TIMELINE_WARNING, line, 0);
}

static struct rule_warning_observer timeline_warning_observer = { .warned = timeline_warned };
RULE_WARNING_OBSERVER(timeline_warning_observer)

/* ---- Walking the ring for the writers ---- */

struct timeline_walk_state {
    struct timeline_event (*open)[TIMELINE_MAX_DEPTH];     /* per thread: its kept begins */
    unsigned depth[TIMELINE_MAX_THREADS];
    uint8_t *flows;                 /* per flow id: 1 start seen, 2 end seen */
};

static unsigned long long timeline_first(void)
{
    return next_event > capacity ? next_event - capacity : 0;
}

static void timeline_mark_flows(uint8_t *flows)
{
    for (unsigned long long n = timeline_first(); n < next_event; n++) {
        const struct timeline_event *e = &ring[n % capacity];

        if (e->ph == 's' && e->id <= next_flow)
            flows[e->id] |= 1;
        else if (e->ph == 'f' && e->id <= next_flow)
            flows[e->id] |= 2;
    }
}

/* Whether e is shown, and at what depth; keeps the open slices of each thread. */
static bool timeline_keep(struct timeline_walk_state *w, const struct timeline_event *e, unsigned *depth)
{
    unsigned *d = &w->depth[e->thread];

    switch (e->ph) {
    case 'B':
        if (*d == TIMELINE_MAX_DEPTH)
            return false;
        w->open[e->thread][*d] = *e;
        *depth = (*d)++;
        return true;
    case 'E':
        if (*d == 0 || w->open[e->thread][*d - 1].kind != e->kind || w->open[e->thread][*d - 1].id != e->id)
            return false;
        *depth = --*d;
        return true;
    case 's':
    case 't':
    case 'f':
        *depth = *d;
        return e->id <= next_flow && w->flows[e->id] == 3;
    default:
        *depth = *d;
        return true;
    }
}

void timeline_walk(const struct timeline_visitor *visitor, struct timeline_view *view)
{
    struct timeline_walk_state *w = calloc(1, sizeof *w);
    unsigned long long ns = 0;
    unsigned depth;

    memset(view, 0, sizeof *view);
    if (w == NULL || ring == NULL || (w->flows = calloc(next_flow + 1, 1)) == NULL ||
        (w->open = calloc(thread_count + 1, sizeof *w->open)) == NULL) {
        if (w != NULL)
            free(w->flows);
        free(w);
        return;
    }
    view->threads = threads;
    view->thread_count = thread_count;
    view->dropped = timeline_first();
    view->capacity = capacity;
    timeline_mark_flows(w->flows);
    for (unsigned long long n = timeline_first(); n < next_event; n++) {
        const struct timeline_event *e = &ring[n % capacity];
        unsigned long long at = (unsigned long long)e->time * 100;

        if (!timeline_keep(w, e, &depth))
            continue;
        ns = at > ns ? at : ns + 1;
        view->kept++;
        visitor->event(visitor->context, e, ns, depth, false);
    }
    for (size_t t = 0; t < thread_count; t++) {
        while (w->depth[t] > 0) {
            struct timeline_event end = w->open[t][--w->depth[t]];

            end.ph = 'E';
            visitor->event(visitor->context, &end, ++ns, w->depth[t], true);
        }
    }
    free(w->open);
    free(w->flows);
    free(w);
}

/* ---- Labels ---- */

const char *timeline_kind_name(enum timeline_kind kind)
{
    static const char *const names[TIMELINE_KIND_COUNT] = {
        [TIMELINE_IRQL] = "irql", [TIMELINE_SPIN_LOCK] = "spin lock", [TIMELINE_WAIT] = "wait",
        [TIMELINE_DPC] = "dpc", [TIMELINE_WORK_ITEM] = "work item", [TIMELINE_DISPATCH] = "dispatch",
        [TIMELINE_COMPLETION] = "completion", [TIMELINE_COMPLETE_REQUEST] = "irp", [TIMELINE_WAKE] = "wake",
        [TIMELINE_STOP] = "stop", [TIMELINE_WARNING] = "warning", [TIMELINE_NOTE] = "note",
    };

    return kind < TIMELINE_KIND_COUNT ? names[kind] : "?";
}

void timeline_label(const struct timeline_event *e, char *buf, size_t size)
{
    switch (e->kind) {
    case TIMELINE_IRQL:
        snprintf(buf, size, "%s", irql_name(e->x));
        break;
    case TIMELINE_SPIN_LOCK:
        snprintf(buf, size, "spin lock %#llx", (unsigned long long)e->id);
        break;
    case TIMELINE_WAIT:
        if (e->a == 0)
            snprintf(buf, size, "delay");
        else
            snprintf(buf, size, "wait %s%s", disp_type_name(e->x), e->a > 1 ? " +" : "");
        break;
    case TIMELINE_WAKE:
        if (e->ph == 's' || e->ph == 'f')
            snprintf(buf, size, "wake");
        else
            snprintf(buf, size, "wakes %s", e->a > 0 && e->a <= thread_count ? threads[e->a - 1].name : "a thread");
        break;
    default:
        snprintf(buf, size, "%s", e->name ? e->name : timeline_kind_name(e->kind));
        break;
    }
}

/* ---- The JSON file ---- */

/* Plain runs go out whole: the file is written character by character otherwise. */
static void timeline_json_string(FILE *out, const char *text)
{
    const unsigned char *p = (const unsigned char *)text;

    fputc('"', out);
    while (*p) {
        size_t plain = 0;

        while (p[plain] >= 0x20 && p[plain] != '"' && p[plain] != '\\')
            plain++;
        fwrite(p, 1, plain, out);
        p += plain;
        if (*p == '"' || *p == '\\')
            fprintf(out, "\\%c", *p++);
        else if (*p != '\0')
            fprintf(out, "\\u%04x", *p++);
    }
    fputc('"', out);
}

const char *timeline_major_name(UCHAR major)
{
    static const char *const names[IRP_MJ_MAXIMUM_FUNCTION + 1] = {
        [IRP_MJ_CREATE] = "IRP_MJ_CREATE", [IRP_MJ_CLOSE] = "IRP_MJ_CLOSE", [IRP_MJ_READ] = "IRP_MJ_READ",
        [IRP_MJ_WRITE] = "IRP_MJ_WRITE", [IRP_MJ_QUERY_INFORMATION] = "IRP_MJ_QUERY_INFORMATION",
        [IRP_MJ_SET_INFORMATION] = "IRP_MJ_SET_INFORMATION", [IRP_MJ_FLUSH_BUFFERS] = "IRP_MJ_FLUSH_BUFFERS",
        [IRP_MJ_DEVICE_CONTROL] = "IRP_MJ_DEVICE_CONTROL",
        [IRP_MJ_INTERNAL_DEVICE_CONTROL] = "IRP_MJ_INTERNAL_DEVICE_CONTROL", [IRP_MJ_SHUTDOWN] = "IRP_MJ_SHUTDOWN",
        [IRP_MJ_CLEANUP] = "IRP_MJ_CLEANUP", [IRP_MJ_POWER] = "IRP_MJ_POWER",
        [IRP_MJ_SYSTEM_CONTROL] = "IRP_MJ_SYSTEM_CONTROL", [IRP_MJ_PNP] = "IRP_MJ_PNP",
    };

    return major <= IRP_MJ_MAXIMUM_FUNCTION && names[major] ? names[major] : "IRP_MJ_?";
}

static void timeline_json_args(FILE *out, const struct timeline_event *e, bool synthetic)
{
    if (synthetic) {
        fputs(",\"args\":{\"unfinished\":true}", out);
    } else if (e->kind == TIMELINE_WAIT && e->ph == 'B') {
        fprintf(out, ",\"args\":{\"ddi\":\"%s\",\"object\":\"%#llx\",\"objects\":%llu,\"timeout\":", e->name,
                (unsigned long long)e->id, (unsigned long long)e->a);
        if (e->b == UINT64_MAX)
            fputs("\"infinite\"}", out);
        else
            fprintf(out, "\"%.3f ms\"}", (double)e->b / 1e4);
    } else if (e->kind == TIMELINE_WAIT && e->ph == 'E') {
        NTSTATUS status = (NTSTATUS)(uint32_t)e->b;

        fprintf(out, ",\"args\":{\"ended\":\"%s\",\"status\":\"0x%08X\"}",
                status == STATUS_TIMEOUT ? "timed out" : status >= STATUS_ABANDONED ? "abandoned mutex" : "satisfied",
                (unsigned)status);
    } else if (e->kind == TIMELINE_DISPATCH && e->ph == 'B') {
        fprintf(out, ",\"args\":{\"major\":\"%s\",\"irp\":\"%#llx\"}", timeline_major_name(e->x),
                (unsigned long long)e->a);
    } else if ((e->kind == TIMELINE_DPC || e->kind == TIMELINE_WORK_ITEM || e->kind == TIMELINE_COMPLETION) &&
               e->ph == 'B') {
        fprintf(out, ",\"args\":{\"object\":\"%#llx\"}", (unsigned long long)e->a);
    } else if (e->kind == TIMELINE_STOP || e->kind == TIMELINE_WARNING) {
        fputs(",\"s\":\"t\"", out);
    }
}

struct timeline_json {
    FILE *out;
    bool first;
};

static void timeline_json_event(void *context, const struct timeline_event *e, unsigned long long ns,
                                unsigned depth, bool synthetic)
{
    struct timeline_json *j = context;
    const struct timeline_thread_info *t = &threads[e->thread];
    char label[256];

    (void)depth;
    timeline_label(e, label, sizeof label);
    fprintf(j->out, "%s\n{\"ph\":\"%c\",\"ts\":%llu.%03llu,\"pid\":%lu,\"tid\":%u,\"cat\":\"%s\",\"name\":",
            j->first ? "" : ",", e->ph, ns / 1000, ns % 1000, t->pid, e->thread + 1u, timeline_kind_name(e->kind));
    j->first = false;
    timeline_json_string(j->out, label);
    if (e->ph == 's' || e->ph == 't' || e->ph == 'f')
        fprintf(j->out, ",\"id\":%llu%s", (unsigned long long)e->id, e->ph == 'f' ? ",\"bp\":\"e\"" : "");
    timeline_json_args(j->out, e, synthetic);
    fputc('}', j->out);
}

static void timeline_json_metadata(FILE *out)
{
    for (size_t i = 0; i < thread_count; i++) {
        bool process_named = false;

        for (size_t k = 0; k < i; k++)
            process_named |= threads[k].pid == threads[i].pid;
        if (!process_named) {
            fprintf(out, ",\n{\"ph\":\"M\",\"ts\":0,\"pid\":%lu,\"tid\":0,\"name\":\"process_name\",\"args\":{\"name\":",
                    threads[i].pid);
            timeline_json_string(out, threads[i].process);
            fputs("}}", out);
        }
        fprintf(out, ",\n{\"ph\":\"M\",\"ts\":0,\"pid\":%lu,\"tid\":%zu,\"name\":\"thread_name\",\"args\":{\"name\":",
                threads[i].pid, i + 1);
        timeline_json_string(out, threads[i].name);
        fputs("}}", out);
    }
}

static void timeline_write_json(FILE *out)
{
    struct timeline_json j = { out, false };
    struct timeline_visitor visitor = { timeline_json_event, &j };
    struct timeline_view view;

    fputs("{\"displayTimeUnit\":\"ns\",\"traceEvents\":[\n{\"ph\":\"M\",\"ts\":0,\"pid\":0,\"tid\":0,"
          "\"name\":\"process_name\",\"args\":{\"name\":\"wdmsim\"}}", out);
    timeline_walk(&visitor, &view);
    timeline_json_metadata(out);
    if (view.dropped > 0)
        fprintf(out, ",\n{\"ph\":\"i\",\"s\":\"g\",\"ts\":0,\"pid\":0,\"tid\":0,\"cat\":\"note\",\"name\":\"ring full: "
                "the %llu earliest events were dropped (WDMSIM_TIMELINE_EVENTS=%zu)\"}", view.dropped, capacity);
    fprintf(out, "\n],\"otherData\":{\"recorder\":\"wdmsim\",\"clock\":\"interrupt time since boot; events "
            "at one instant 1 ns apart in the order they happened\",\"events_kept\":%llu,\"events_dropped\":%llu,"
            "\"ring_capacity\":%zu}}\n", view.kept, view.dropped, capacity);
}

/* ---- Writing the file ---- */

static void timeline_write_file(void)
{
    FILE *out;

    /* A STOP in the middle of a write (the disk, a fault) must not wait for itself. */
    if (writing)
        return;
    timeline_acquire();
    writing = true;
    out = ring != NULL ? fopen(timeline_path, "w") : NULL;
    if (ring != NULL && out == NULL)
        fprintf(stderr, "wdmsim: cannot write the timeline to %s: %s\n", timeline_path, strerror(errno));
    if (out != NULL) {
        if (timeline_svg)
            timeline_write_svg(out);
        else
            timeline_write_json(out);
        if (fclose(out) != 0)
            fprintf(stderr, "wdmsim: cannot write the timeline to %s: %s\n", timeline_path, strerror(errno));
    }
    writing = false;
    timeline_release();
}

/* ---- Life cycle ---- */

static size_t timeline_capacity_from_env(void)
{
    const char *text = getenv("WDMSIM_TIMELINE_EVENTS");
    char *end;
    unsigned long long n;

    if (text == NULL || *text == '\0')
        return TIMELINE_DEFAULT_EVENTS;
    errno = 0;
    n = strtoull(text, &end, 10);
    if (errno != 0 || *end != '\0' || n < 16 || n > TIMELINE_MAX_EVENTS) {
        fprintf(stderr, "wdmsim: WDMSIM_TIMELINE_EVENTS=%s is not a number of events from 16 to %u; using %u\n", text,
                TIMELINE_MAX_EVENTS, TIMELINE_DEFAULT_EVENTS);
        return TIMELINE_DEFAULT_EVENTS;
    }
    return (size_t)n;
}

/* Opening the file at boot says at once when it cannot be written. */
static bool timeline_path_writable(const char *path)
{
    FILE *probe = fopen(path, "w");

    if (probe == NULL) {
        fprintf(stderr, "wdmsim: WDMSIM_TIMELINE: cannot write the timeline to %s: %s; recording none\n", path,
                strerror(errno));
        return false;
    }
    fclose(probe);
    return true;
}

void timeline_boot(void)
{
    const char *path = getenv("WDMSIM_TIMELINE");
    size_t length;

    __atomic_store_n(&timeline_recording, false, __ATOMIC_RELAXED);
    __atomic_store_n(&timeline_locked, false, __ATOMIC_RELAXED);
    timeline_forget();
    if (path == NULL || *path == '\0' || strlen(path) >= sizeof timeline_path || !timeline_path_writable(path))
        return;
    snprintf(timeline_path, sizeof timeline_path, "%s", path);
    length = strlen(path);
    timeline_svg = length >= 4 && strcmp(path + length - 4, ".svg") == 0;
    capacity = timeline_capacity_from_env();
    ring = calloc(capacity, sizeof *ring);
    if (ring == NULL) {
        fprintf(stderr, "wdmsim: no memory for a timeline of %zu events; recording none\n", capacity);
        return;
    }
    __atomic_store_n(&timeline_recording, true, __ATOMIC_RELAXED);
}

void timeline_shutdown(void)
{
    if (!timeline_on())
        return;
    timeline_write_file();
    __atomic_store_n(&timeline_recording, false, __ATOMIC_RELAXED);
    timeline_acquire();
    timeline_forget();
    timeline_release();
}
