/*
 * timeline.h - the hooks through which kernel components report to the timeline (timeline.c).
 * Each hook is one inline test of a flag when no timeline is being recorded, so components call
 * them unconditionally, each from the thread the event happens on.
 */
#ifndef WDMSIM_TIMELINE_H
#define WDMSIM_TIMELINE_H

#include <stdbool.h>
#include <stdint.h>

#include <wdm.h>

/* The kinds of slice a thread's track shows; each has its colour in the SVG. */
enum timeline_kind {
    TIMELINE_IRQL,                  /* IRQL above PASSIVE_LEVEL */
    TIMELINE_SPIN_LOCK,             /* a spin lock held */
    TIMELINE_WAIT,                  /* blocked in the dispatcher */
    TIMELINE_DPC,                   /* a DPC routine (a timer's too) */
    TIMELINE_WORK_ITEM,             /* a work item's routine */
    TIMELINE_DISPATCH,              /* a driver's dispatch routine */
    TIMELINE_COMPLETION,            /* a completion routine */
    TIMELINE_COMPLETE_REQUEST,      /* IoCompleteRequest: where an IRP's flow ends */
    TIMELINE_WAKE,                  /* a signal that ended another thread's wait: a flow starts */
    TIMELINE_STOP,                  /* instant: the machine stopped */
    TIMELINE_WARNING,               /* instant: a rule warning */
    TIMELINE_NOTE,                  /* instant: the recorder's own note (ring full) */
    TIMELINE_KIND_COUNT
};

extern bool timeline_recording;

static inline bool timeline_on(void)
{
    return __atomic_load_n(&timeline_recording, __ATOMIC_RELAXED);
}

/* At boot: records when WDMSIM_TIMELINE names a file that can be written. */
void timeline_boot(void);
/* At shutdown: writes the file and forgets the events. */
void timeline_shutdown(void);

void timeline_record_irql(KIRQL old_irql, KIRQL new_irql);
void timeline_record_lock(PKSPIN_LOCK lock, bool acquired);
void timeline_record_wait_begin(ULONG count, PVOID objects[], LONGLONG deadline, const char *ddi);
void timeline_record_wait_end(NTSTATUS status, uint64_t flow);
uint64_t timeline_record_wake(unsigned waiter_lane);
void timeline_record_routine(enum timeline_kind kind, const void *routine, const void *object, UCHAR major,
                             bool begins);
void timeline_record_irp_dispatched(PIRP irp);
void timeline_record_irp_completing(PIRP irp, bool begins);

/* The hooks. */
static inline void timeline_irql(KIRQL old_irql, KIRQL new_irql)
{
    if (timeline_on() && old_irql != new_irql)
        timeline_record_irql(old_irql, new_irql);
}

static inline void timeline_lock(PKSPIN_LOCK lock, bool acquired)
{
    if (timeline_on())
        timeline_record_lock(lock, acquired);
}

/* The calling thread blocks on count objects (deadline: interrupt time, or DISP_NO_DEADLINE). */
static inline void timeline_wait_begin(ULONG count, PVOID objects[], LONGLONG deadline, const char *ddi)
{
    if (timeline_on())
        timeline_record_wait_begin(count, objects, deadline, ddi);
}

/* Its wait ended with status; flow: what timeline_wake returned to whoever ended it (0: none). */
static inline void timeline_wait_end(NTSTATUS status, uint64_t flow)
{
    if (timeline_on())
        timeline_record_wait_end(status, flow);
}

/* The calling thread ends the wait of the thread whose KTHREAD.timeline_thread is waiter_lane: the
 * flow's id (0: none). */
static inline uint64_t timeline_wake(unsigned waiter_lane)
{
    return timeline_on() ? timeline_record_wake(waiter_lane) : 0;
}

/* A routine of a driver begins or ends on the calling thread: a DPC (object: the KDPC), a work
 * item, a dispatch routine (major: its IRP_MJ_ code, object: the IRP) or a completion routine. */
static inline void timeline_routine(enum timeline_kind kind, const void *routine, const void *object, UCHAR major,
                                    bool begins)
{
    if (timeline_on())
        timeline_record_routine(kind, routine, object, major, begins);
}

/* Inside its dispatch routine's slice: the IRP's flow starts (or goes on, passed down). */
static inline void timeline_irp_dispatched(PIRP irp)
{
    if (timeline_on())
        timeline_record_irp_dispatched(irp);
}

/* IoCompleteRequest's slice begins (where the IRP's flow ends) or ends. */
static inline void timeline_irp_completing(PIRP irp, bool begins)
{
    if (timeline_on())
        timeline_record_irp_completing(irp, begins);
}

/* ---- For the writers (timeline.c's JSON, timeline_svg.c's picture) ---- */

#include <stdio.h>

/* One recorded event. name is static or interned (kept until shutdown); the rest by kind. */
struct timeline_event {
    LONGLONG time;                  /* interrupt time, 100 ns units */
    const char *name;
    uint64_t id;                    /* a flow's id, a lock's or an object's address */
    uint64_t a, b;                  /* by kind: a wait's object count and timeout, a status ... */
    uint16_t thread;                /* index in the thread table */
    char ph;                        /* the trace-event phase: B, E, i, s, t, f */
    uint8_t kind;                   /* enum timeline_kind */
    uint8_t x;                      /* a wait's object type, an IRQL, a dispatch's major code */
};

struct timeline_thread_info {
    long tid;
    unsigned long pid;
    char name[64];                  /* as reports name it: "worker-0 (tid 12)" */
    char process[64];               /* "System (id 4)" */
};

/* What a writer is shown, in order, of the events the ring still holds: only well-nested slices
 * (an end whose begin fell out is not shown; a slice still open at the end is closed there), only
 * flows whose start and end are both kept. ns: the event's time in ns, made strictly increasing
 * (events at one instant of virtual time are 1 ns apart, in the order they happened); depth: the
 * slice's nesting on its thread (0 outermost). A closing event made up at the end has synthetic. */
struct timeline_visitor {
    void (*event)(void *context, const struct timeline_event *e, unsigned long long ns, unsigned depth,
                  bool synthetic);
    void *context;
};

struct timeline_view {
    const struct timeline_thread_info *threads;
    size_t thread_count;
    unsigned long long kept;        /* events shown */
    unsigned long long dropped;     /* events the full ring overwrote */
    size_t capacity;
};

/* Lock held by the caller (timeline.c's): walks the kept events. */
void timeline_walk(const struct timeline_visitor *visitor, struct timeline_view *view);
/* The label of an event as the JSON and the picture show it ("spin lock 0x...", "wait
 * SynchronizationEvent", "DispatchRead"). */
void timeline_label(const struct timeline_event *e, char *buf, size_t size);
const char *timeline_kind_name(enum timeline_kind kind);
/* "IRP_MJ_READ" ... */
const char *timeline_major_name(UCHAR major);
/* Writes the picture (timeline_svg.c): lanes per thread, slices coloured by kind. */
void timeline_write_svg(FILE *out);

#endif /* WDMSIM_TIMELINE_H */
