/*
 * lockorder.c - lock-order checking, as Driver Verifier's deadlock detection and Linux's lockdep
 * do it. When a thread takes a lock while it holds others, an edge goes from each held lock's class
 * to the new lock's class; an edge that closes a cycle is a deadlock waiting for the right timing,
 * stopped (0xC4/0x1001) from a run that never deadlocked. A class is the driver code that
 * initialised its locks (for a lock no DDI initialised, the first place that took it), so what one
 * instance teaches holds for all. Also here: a lock held when its memory is freed (0x100B) or its
 * thread ends (0x100A), and a release that lowers the IRQL below what a lock taken later needs
 * (0x1003). docs/lock-order.md explains classes, edges and the report.
 * Locking: a thread's stack of held locks and its known pairs (KTHREAD.lock_order) are its own;
 * others read only its lock addresses (atomics), when pool is freed. order_lock guards the
 * records, classes and edges; it is a leaf, and never held across a STOP.
 */
#include <execinfo.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

#define LOCKORDER_MAX_LOCKS 16384
#define LOCKORDER_MAX_CLASSES 2048
#define LOCKORDER_CLASS_SLOTS 4096      /* the site hash: a power of two, twice the classes */
#define LOCKORDER_MAX_EDGES 8192
#define LOCKORDER_FRAMES 16
#define LOCKORDER_REPORT 4096
#define LOCKORDER_NO_DRIVER 0xFFFFu     /* charged to no driver: driver_check_owns asks image and pool */

/* A lock the checker knows, by the address that identifies it (a fast mutex by its event, which
 * its inline initialiser hands to KeInitializeEvent), and the site its class is named after.
 * Sorted by key, so the records inside a freed block are found by binary search. */
struct lockorder_record {
    uintptr_t key;
    const void *site;
    enum lockorder_kind kind;
    bool initialised;               /* site is an initialiser's caller, not an acquirer */
};

struct lockorder_class {
    const void *site;
    enum lockorder_kind kind;
    bool initialised;
    int first_out;                  /* its first edge, -1: none */
    unsigned visited;               /* the path search's stamp */
    int via;                        /* the path search: the edge it was reached by */
};

/* The class `from` was held when `to` was taken, first seen so by thread, in this backtrace. */
struct lockorder_edge {
    int from, to;
    int next_out;
    const void *from_lock, *to_lock;
    const void *from_site, *to_site;
    char thread[32];
    void *frames[LOCKORDER_FRAMES];
    int frame_count;
};

static pthread_mutex_t order_lock = PTHREAD_MUTEX_INITIALIZER;
static bool enabled;
static struct lockorder_record records[LOCKORDER_MAX_LOCKS];
static size_t record_count;
static struct lockorder_class classes[LOCKORDER_MAX_CLASSES];
static size_t class_count;
static int class_slots[LOCKORDER_CLASS_SLOTS];  /* a class's index + 1; 0: empty */
static struct lockorder_edge edges[LOCKORDER_MAX_EDGES];
static size_t edge_count;
/* Moves when a lock's class may have changed (a record replaced or removed, classes dropped): the
 * class indices and known pairs threads cached are stale. Written under order_lock, read without. */
static unsigned generation;
static unsigned search_stamp;
static bool full_said;

static const char *const kind_names[] = {
    [LOCKORDER_SPIN_LOCK] = "spin lock",
    [LOCKORDER_FAST_MUTEX] = "fast mutex",
    [LOCKORDER_GUARDED_MUTEX] = "guarded mutex",
    [LOCKORDER_MUTEX] = "mutex (KMUTEX)",
    [LOCKORDER_RESOURCE] = "resource (ERESOURCE)",
};

/* order_lock held (or at boot): what threads cached of the tables is stale. */
static void lockorder_moved(void)
{
    __atomic_add_fetch(&generation, 1, __ATOMIC_RELAXED);
}

static bool lockorder_on(void)
{
    return __atomic_load_n(&enabled, __ATOMIC_RELAXED);
}

void lockorder_boot(void)
{
    const char *setting = getenv("WDMSIM_LOCK_ORDER");

    pthread_mutex_init(&order_lock, NULL);
    record_count = 0;
    class_count = 0;
    edge_count = 0;
    memset(class_slots, 0, sizeof class_slots);
    lockorder_moved();
    full_said = false;
    __atomic_store_n(&enabled, !(setting != NULL && (strcmp(setting, "0") == 0 || strcmp(setting, "off") == 0)),
                     __ATOMIC_RELAXED);
}

/* Said once per boot: the checker keeps going with what it has, but sees no new order. */
static void lockorder_full(const char *what, size_t most)
{
    if (full_said)
        return;
    full_said = true;
    fprintf(stderr, "wdmsim: lock order: the table of %s is full (%zu); lock order is not checked for "
            "what is new from now on\n", what, most);
}

static uintptr_t lockorder_key(const void *lock, enum lockorder_kind kind)
{
    if (kind == LOCKORDER_FAST_MUTEX)
        return (uintptr_t)&((const FAST_MUTEX *)lock)->Event;
    return (uintptr_t)lock;
}

/* ---- Records (order_lock held) ---- */

/* The index of the first record whose key is not below key. */
static size_t record_lower_bound(uintptr_t key)
{
    size_t low = 0, high = record_count;

    while (low < high) {
        size_t middle = low + (high - low) / 2;

        if (records[middle].key < key)
            low = middle + 1;
        else
            high = middle;
    }
    return low;
}

static struct lockorder_record *record_find(uintptr_t key)
{
    size_t at = record_lower_bound(key);

    return at < record_count && records[at].key == key ? &records[at] : NULL;
}

static void record_put(uintptr_t key, enum lockorder_kind kind, const void *site, bool initialised)
{
    size_t at = record_lower_bound(key);

    if (at == record_count || records[at].key != key) {
        if (record_count == LOCKORDER_MAX_LOCKS) {
            lockorder_full("locks", LOCKORDER_MAX_LOCKS);
            return;
        }
        memmove(&records[at + 1], &records[at], (record_count - at) * sizeof records[0]);
        record_count++;
    } else if (records[at].site == site && records[at].kind == kind) {
        return;
    } else {
        lockorder_moved();      /* the lock's class changes: threads may have cached the old one */
    }
    records[at] = (struct lockorder_record){ key, site, kind, initialised };
}

static void records_remove_range(uintptr_t start, size_t size)
{
    size_t first = record_lower_bound(start);
    size_t end = first;

    while (end < record_count && records[end].key - start < size)
        end++;
    if (end == first)
        return;
    memmove(&records[first], &records[end], (record_count - end) * sizeof records[0]);
    record_count -= end - first;
    lockorder_moved();
}

/* ---- Classes (order_lock held) ---- */

static size_t class_slot_of(const void *site)
{
    return ((uintptr_t)site * 0x9E3779B97F4A7C15ull >> 40) & (LOCKORDER_CLASS_SLOTS - 1);
}

static int class_find(const void *site)
{
    for (size_t slot = class_slot_of(site); class_slots[slot] != 0; slot = (slot + 1) & (LOCKORDER_CLASS_SLOTS - 1)) {
        if (classes[class_slots[slot] - 1].site == site)
            return class_slots[slot] - 1;
    }
    return -1;
}

static void class_hash(int index)
{
    size_t slot = class_slot_of(classes[index].site);

    while (class_slots[slot] != 0)
        slot = (slot + 1) & (LOCKORDER_CLASS_SLOTS - 1);
    class_slots[slot] = index + 1;
}

/* The class named after site; -1 when the table is full. */
static int class_intern(const void *site, enum lockorder_kind kind, bool initialised)
{
    int index = class_find(site);

    if (index >= 0)
        return index;
    if (class_count == LOCKORDER_MAX_CLASSES) {
        lockorder_full("lock classes", LOCKORDER_MAX_CLASSES);
        return -1;
    }
    index = (int)class_count++;
    classes[index] = (struct lockorder_class){ site, kind, initialised, -1, 0, -1 };
    class_hash(index);
    return index;
}

/* A lock's class: its initialiser's caller, else (and remembered as such) the site taking it now. */
static int class_of_lock(const void *lock, enum lockorder_kind kind, const void *acquire_site)
{
    uintptr_t key = lockorder_key(lock, kind);
    const struct lockorder_record *record = record_find(key);

    if (record != NULL && record->kind == kind)
        return class_intern(record->site, kind, record->initialised);
    record_put(key, kind, acquire_site, false);
    return class_intern(acquire_site, kind, false);
}

static int class_of_held(struct lockorder_held *held)
{
    if (held->class_index < 0 || held->generation != generation) {
        held->class_index = class_of_lock(held->lock, held->kind, held->site);
        held->generation = __atomic_load_n(&generation, __ATOMIC_RELAXED);
    }
    return held->class_index;
}

/* ---- Edges and the path search (order_lock held) ---- */

static bool edge_exists(int from, int to)
{
    for (int e = classes[from].first_out; e >= 0; e = edges[e].next_out) {
        if (edges[e].to == to)
            return true;
    }
    return false;
}

static void edge_add(int from, int to, const struct lockorder_held *held, const void *lock, const void *site,
                     const struct _KTHREAD *self)
{
    struct lockorder_edge *edge;

    if (edge_count == LOCKORDER_MAX_EDGES) {
        lockorder_full("lock-order edges", LOCKORDER_MAX_EDGES);
        return;
    }
    edge = &edges[edge_count];
    *edge = (struct lockorder_edge){ .from = from, .to = to, .next_out = classes[from].first_out,
                                     .from_lock = held->lock, .to_lock = lock, .from_site = held->site,
                                     .to_site = site };
    snprintf(edge->thread, sizeof edge->thread, "%s", self->name);
    edge->frame_count = backtrace(edge->frames, LOCKORDER_FRAMES);
    classes[from].first_out = (int)edge_count++;
}

/* Breadth first, so the chain reported is a shortest one: is goal reachable from start? Each
 * class reached keeps the edge it was reached by. */
static bool path_exists(int start, int goal)
{
    static int queue[LOCKORDER_MAX_CLASSES];
    size_t head = 0, tail = 0;

    search_stamp++;
    classes[start].visited = search_stamp;
    classes[start].via = -1;
    queue[tail++] = start;
    while (head < tail) {
        int c = queue[head++];

        if (c == goal)
            return true;
        for (int e = classes[c].first_out; e >= 0; e = edges[e].next_out) {
            int next = edges[e].to;

            if (classes[next].visited != search_stamp) {
                classes[next].visited = search_stamp;
                classes[next].via = e;
                queue[tail++] = next;
            }
        }
    }
    return false;
}

/* ---- The report ---- */

struct report {
    char *text;
    size_t size, used;
};

static void say(struct report *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void say(struct report *r, const char *fmt, ...)
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

static void say_class(struct report *r, int index)
{
    char site[256];

    bugcheck_name_frame(classes[index].site, site, sizeof site);
    say(r, "class %s at %s", classes[index].initialised ? "initialised" : "first taken", site);
}

static void say_lock(struct report *r, enum lockorder_kind kind, const void *lock, int class_index,
                     const void *site)
{
    char where[256];

    bugcheck_name_frame(site, where, sizeof where);
    say(r, "the %s at %p (", kind_names[kind], lock);
    say_class(r, class_index);
    say(r, "), acquired at %s\n", where);
}

/* The frames from the driver code that took the lock outwards (the checker's own are left out). */
static void say_frames(struct report *r, const struct lockorder_edge *edge)
{
    int first = 0;
    char name[256];

    for (int i = 0; i < edge->frame_count; i++) {
        if (edge->frames[i] == edge->to_site) {
            first = i;
            break;
        }
    }
    for (int i = first; i < edge->frame_count; i++) {
        bugcheck_name_frame(edge->frames[i], name, sizeof name);
        say(r, "        #%-2d %s\n", i - first, name);
    }
}

/* The chain already seen, from the class being taken back to the class held. */
static void say_chain(struct report *r, int start, int goal)
{
    int chain[LOCKORDER_MAX_CLASSES];
    size_t length = 0;

    for (int c = goal; c != start; c = edges[classes[c].via].from)
        chain[length++] = classes[c].via;
    while (length-- > 0) {
        const struct lockorder_edge *edge = &edges[chain[length]];

        say(r, "  thread %s, holding\n    ", edge->thread);
        say_lock(r, classes[edge->from].kind, edge->from_lock, edge->from, edge->from_site);
        say(r, "  took\n    ");
        say_lock(r, classes[edge->to].kind, edge->to_lock, edge->to, edge->to_site);
        say(r, "      backtrace when it took it:\n");
        say_frames(r, edge);
    }
}

static void say_cycle(struct report *r, const struct _KTHREAD *self, const struct lockorder_held *held, int from,
                      const void *lock, enum lockorder_kind kind, int to, const void *site)
{
    say(r, "thread %s takes the %s at %p while it holds the %s at %p, but the opposite order was seen "
        "before: two threads taking them in the two orders at once would each wait for the other for "
        "ever. Nothing deadlocked in this run; the order did.\n",
        self->name, kind_names[kind], lock, kind_names[held->kind], held->lock);
    say(r, "Now, thread %s, holding\n    ", self->name);
    say_lock(r, held->kind, held->lock, from, held->site);
    say(r, "  takes\n    ");
    say_lock(r, kind, lock, to, site);
    say(r, "      (its backtrace is the report's, below)\n");
    say(r, "Before, the other order:\n");
    say_chain(r, to, from);
}

/* ---- Acquire and release ---- */

static bool lockorder_recursive_kind(enum lockorder_kind kind)
{
    return kind == LOCKORDER_MUTEX || kind == LOCKORDER_RESOURCE;
}

static int held_index(const struct lockorder_thread *t, const void *lock)
{
    for (int i = (int)t->count - 1; i >= 0; i--) {
        if (t->held[i].lock == lock)
            return i;
    }
    return -1;
}

static void held_push(struct lockorder_thread *t, const void *lock, enum lockorder_kind kind, const void *site,
                      int class_index)
{
    struct lockorder_held *held;

    if (t->count == LOCKORDER_MAX_HELD) {
        t->overflow++;
        return;
    }
    held = &t->held[t->count];
    __atomic_store_n(&held->lock, lock, __ATOMIC_RELAXED);
    __atomic_store_n(&held->site, site, __ATOMIC_RELAXED);
    __atomic_store_n(&held->kind, kind, __ATOMIC_RELAXED);
    held->depth = 1;
    held->class_index = class_index;
    held->generation = __atomic_load_n(&generation, __ATOMIC_RELAXED);
    __atomic_store_n(&t->count, t->count + 1, __ATOMIC_RELEASE);
}

static void held_remove(struct lockorder_thread *t, int index)
{
    for (unsigned i = (unsigned)index; i + 1 < t->count; i++) {
        __atomic_store_n(&t->held[i].lock, t->held[i + 1].lock, __ATOMIC_RELAXED);
        __atomic_store_n(&t->held[i].site, t->held[i + 1].site, __ATOMIC_RELAXED);
        __atomic_store_n(&t->held[i].kind, t->held[i + 1].kind, __ATOMIC_RELAXED);
        t->held[i].depth = t->held[i + 1].depth;
        t->held[i].class_index = t->held[i + 1].class_index;
        t->held[i].generation = t->held[i + 1].generation;
    }
    __atomic_store_n(&t->count, t->count - 1, __ATOMIC_RELEASE);
}

static struct lockorder_known_pair *known_slot(struct lockorder_thread *t, const void *from, const void *to)
{
    uintptr_t mix = ((uintptr_t)from ^ ((uintptr_t)to >> 3)) * 0x9E3779B97F4A7C15ull;

    return &t->known[(mix >> 32) % LOCKORDER_KNOWN_PAIRS];
}

/* Has this thread had lock checked after each lock it holds, with nothing changed since? Then
 * *class_index is lock's class. Reads only the thread's own memory and the generation. */
static bool lockorder_known(struct lockorder_thread *t, const void *lock, int *class_index)
{
    unsigned now = __atomic_load_n(&generation, __ATOMIC_RELAXED);

    for (unsigned i = 0; i < t->count; i++) {
        const struct lockorder_known_pair *pair = known_slot(t, t->held[i].lock, lock);

        if (pair->from != t->held[i].lock || pair->to != lock || pair->generation != now)
            return false;
        *class_index = pair->to_class;
    }
    return true;
}

/* order_lock held, after the edges into to were checked: remember each pair that has its edge
 * (or needs none: one class), unless a table was full and the classes are not all known. */
static void lockorder_remember(struct lockorder_thread *t, const void *lock, int to)
{
    for (unsigned i = 0; to >= 0 && i < t->count; i++) {
        int from = t->held[i].class_index;

        if (from >= 0 && (from == to || edge_exists(from, to)))
            *known_slot(t, t->held[i].lock, lock) = (struct lockorder_known_pair){ t->held[i].lock, lock, to,
                                                                                  generation };
    }
}

/* The edges from every lock self holds to lock; returns lock's class (-1: none). A cycle stops. */
static int lockorder_check_edges(struct _KTHREAD *self, const void *lock, enum lockorder_kind kind, const void *site)
{
    struct lockorder_thread *t = &self->lock_order;
    char text[LOCKORDER_REPORT];
    struct report r = { text, sizeof text, 0 };
    const struct lockorder_held *closing = NULL;
    int to;

    host_lock(&order_lock);
    to = class_of_lock(lock, kind, site);
    for (unsigned i = 0; to >= 0 && i < t->count && closing == NULL; i++) {
        int from = class_of_held(&t->held[i]);

        if (from < 0 || from == to || edge_exists(from, to))
            continue;
        if (path_exists(to, from)) {
            closing = &t->held[i];
            say_cycle(&r, self, closing, from, lock, kind, to, site);
        } else {
            edge_add(from, to, &t->held[i], lock, site, self);
        }
    }
    if (closing == NULL)
        lockorder_remember(t, lock, to);
    host_unlock(&order_lock);
    if (closing != NULL)
        rule_stop_text(RULE_LOCK_ORDER_CYCLE, (ULONG_PTR)lock, (ULONG_PTR)closing->lock, 0, 0, text);
    return to;
}

void lockorder_acquire(struct _KTHREAD *self, const void *lock, enum lockorder_kind kind, const void *site)
{
    struct lockorder_thread *t = &self->lock_order;
    int index;
    int class_index = -1;

    if (!lockorder_on())
        return;
    index = held_index(t, lock);
    if (index >= 0) {
        /* A recursive KMUTEX or ERESOURCE; any other kind's own check stops right after this. */
        if (lockorder_recursive_kind(kind))
            t->held[index].depth++;
        return;
    }
    if (t->count > 0 && !lockorder_known(t, lock, &class_index))
        class_index = lockorder_check_edges(self, lock, kind, site);
    held_push(t, lock, kind, site, class_index);
}

void lockorder_try_acquired(struct _KTHREAD *self, const void *lock, enum lockorder_kind kind, const void *site)
{
    struct lockorder_thread *t = &self->lock_order;
    int index;

    if (!lockorder_on())
        return;
    index = held_index(t, lock);
    if (index >= 0)
        t->held[index].depth++;
    else
        held_push(t, lock, kind, site, -1);
}

void lockorder_waited(struct _KTHREAD *self, ULONG count, PVOID objects[], WAIT_TYPE type, NTSTATUS status,
                      const void *site)
{
    ULONG first = 0, end = 0;

    if (type == WaitAll && (status == STATUS_SUCCESS || status == STATUS_ABANDONED)) {
        end = count;
    } else if (type == WaitAny && (ULONG)status < count) {
        first = (ULONG)status;
        end = first + 1;
    } else if (type == WaitAny && status >= STATUS_ABANDONED_WAIT_0 && (ULONG)(status - STATUS_ABANDONED_WAIT_0) < count) {
        first = (ULONG)(status - STATUS_ABANDONED_WAIT_0);
        end = first + 1;
    }
    for (ULONG i = first; i < end; i++) {
        const KMUTEX *mutex = objects[i];

        if (mutex->Header.Type == DISP_MUTANT && mutex->OwnerThread == (PKTHREAD)self)
            lockorder_acquire(self, mutex, LOCKORDER_MUTEX, site);
    }
}

void lockorder_release(struct _KTHREAD *self, const void *lock)
{
    struct lockorder_thread *t = &self->lock_order;
    int index;

    if (!lockorder_on())
        return;
    index = held_index(t, lock);
    if (index < 0) {
        if (t->overflow > 0)
            t->overflow--;
        return;
    }
    if (t->held[index].depth > 1)
        t->held[index].depth--;
    else
        held_remove(t, index);
}

/* The IRQL a held lock needs while it is held. */
static KIRQL lockorder_needed_irql(enum lockorder_kind kind)
{
    return kind == LOCKORDER_SPIN_LOCK ? DISPATCH_LEVEL : kind == LOCKORDER_FAST_MUTEX ? APC_LEVEL : PASSIVE_LEVEL;
}

void lockorder_release_lowering(struct _KTHREAD *self, const void *lock, KIRQL new_irql)
{
    const struct lockorder_thread *t = &self->lock_order;
    int index;

    if (!lockorder_on())
        return;
    index = held_index(t, lock);
    for (unsigned later = (unsigned)index + 1; index >= 0 && later < t->count; later++) {
        const struct lockorder_held *held = &t->held[later];

        if (new_irql < lockorder_needed_irql(held->kind))
            rule_stop_detail(RULE_LOCK_RELEASE_OUT_OF_ORDER, (ULONG_PTR)lock, (ULONG_PTR)held->lock, 0, 0,
                             "thread %s releases the %s at %p, lowering the IRQL to %s, while it still holds "
                             "the %s at %p, taken after it, which needs %s: release the later lock first",
                             self->name, kind_names[t->held[index].kind], lock, irql_name(new_irql),
                             kind_names[held->kind], held->lock, irql_name(lockorder_needed_irql(held->kind)));
    }
    lockorder_release(self, lock);
}

/* ---- Initialisers ---- */

void lockorder_init(const void *lock, enum lockorder_kind kind, const void *site)
{
    if (!lockorder_on())
        return;
    host_lock(&order_lock);
    record_put(lockorder_key(lock, kind), kind, site, true);
    host_unlock(&order_lock);
}

void lockorder_init_event(const PRKEVENT event, const void *site)
{
    if (!lockorder_on())
        return;
    host_lock(&order_lock);
    record_put((uintptr_t)event, LOCKORDER_FAST_MUTEX, site, true);
    host_unlock(&order_lock);
}

void lockorder_forget(const void *lock)
{
    if (!lockorder_on())
        return;
    host_lock(&order_lock);
    records_remove_range((uintptr_t)lock, 1);
    host_unlock(&order_lock);
}

/* ---- A thread's end, a free, an unload ---- */

/* The kinds whose own family already stops when their lock outlives its thread: a KMUTEX
 * (0x4000008A, in thread.c) and an ERESOURCE (0x100A, in resource.c). */
static bool lockorder_exit_checked_elsewhere(enum lockorder_kind kind)
{
    return kind == LOCKORDER_MUTEX || kind == LOCKORDER_RESOURCE;
}

/* Dispatcher lock held. */
static void lockorder_check_thread_exit(const struct _KTHREAD *self)
{
    const struct lockorder_thread *t = &self->lock_order;
    char where[256];

    disp_assert_held();
    for (unsigned i = 0; lockorder_on() && i < t->count; i++) {
        const struct lockorder_held *held = &t->held[i];

        if (lockorder_exit_checked_elsewhere(held->kind))
            continue;
        bugcheck_name_frame(held->site, where, sizeof where);
        rule_stop_detail(RULE_LOCK_HELD_AT_THREAD_EXIT, (ULONG_PTR)held->lock, (ULONG_PTR)self, 0, 0,
                         "thread %s ends holding the %s at %p, acquired at %s", self->name, kind_names[held->kind],
                         held->lock, where);
    }
}

static struct thread_exit_check lockorder_exit_check = {
    .order = THREAD_EXIT_OWNERSHIP,
    .check = lockorder_check_thread_exit,
};
THREAD_EXIT_CHECK(lockorder_exit_check)

/* What a free found: the first lock in the block some thread still holds. */
struct lockorder_free_scan {
    uintptr_t start;
    size_t size;
    const void *lock;
    const void *site;
    enum lockorder_kind kind;
    const struct _KTHREAD *owner;
    char owner_name[32];
};

static void lockorder_scan_thread(const struct _KTHREAD *thread, void *context)
{
    struct lockorder_free_scan *scan = context;
    const struct lockorder_thread *t = &thread->lock_order;
    unsigned count = __atomic_load_n(&t->count, __ATOMIC_ACQUIRE);

    for (unsigned i = 0; scan->lock == NULL && i < count && i < LOCKORDER_MAX_HELD; i++) {
        const void *lock = __atomic_load_n(&t->held[i].lock, __ATOMIC_RELAXED);
        enum lockorder_kind kind = __atomic_load_n(&t->held[i].kind, __ATOMIC_RELAXED);

        if ((uintptr_t)lock - scan->start < scan->size && kind != LOCKORDER_RESOURCE) {
            scan->lock = lock;
            scan->kind = kind;
            scan->site = __atomic_load_n(&t->held[i].site, __ATOMIC_RELAXED);
            scan->owner = thread;
            snprintf(scan->owner_name, sizeof scan->owner_name, "%s", thread->name);
        }
    }
}

/* A lock in freed memory: stop if a thread holds it (an ERESOURCE's family stops for it first,
 * as for any resource not deleted), else forget it, so a lock later at that address starts anew. */
static void lockorder_check_free(ULONG_PTR address, size_t size, POOL_TYPE type)
{
    struct lockorder_free_scan scan = { .start = address, .size = size };
    char where[256];

    (void)type;
    if (!lockorder_on())
        return;
    thread_for_each(lockorder_scan_thread, &scan);
    if (scan.lock != NULL) {
        bugcheck_name_frame(scan.site, where, sizeof where);
        rule_stop_detail(RULE_LOCK_FREED_HELD, (ULONG_PTR)scan.lock, (ULONG_PTR)scan.owner, address, 0,
                         "the pool block at %p (%zu bytes) is freed while thread %s holds the %s at %p in it, "
                         "acquired at %s", (void *)address, size, scan.owner_name, kind_names[scan.kind], scan.lock,
                         where);
    }
    host_lock(&order_lock);
    records_remove_range(address, size);
    host_unlock(&order_lock);
}

static struct pool_free_check lockorder_free_check = { .check = lockorder_check_free };
POOL_FREE_CHECK(lockorder_free_check)

/* order_lock held: rebuilds the edge lists and the site hash after classes went. */
static void lockorder_relink(void)
{
    memset(class_slots, 0, sizeof class_slots);
    for (size_t c = 0; c < class_count; c++) {
        classes[c].first_out = -1;
        class_hash((int)c);
    }
    for (size_t e = 0; e < edge_count; e++) {
        edges[e].next_out = classes[edges[e].from].first_out;
        classes[edges[e].from].first_out = (int)e;
    }
    lockorder_moved();
}

/* order_lock held: drops the classes whose site gone() says is going, their edges and records. */
static void lockorder_drop_classes(bool (*gone)(const void *address, const void *context), const void *context)
{
    static int renumbered[LOCKORDER_MAX_CLASSES];
    size_t kept = 0;

    for (size_t c = 0; c < class_count; c++) {
        renumbered[c] = gone(classes[c].site, context) ? -1 : (int)kept;
        if (renumbered[c] >= 0)
            classes[kept++] = classes[c];
    }
    class_count = kept;
    kept = 0;
    for (size_t e = 0; e < edge_count; e++) {
        if (renumbered[edges[e].from] < 0 || renumbered[edges[e].to] < 0)
            continue;
        edges[kept] = edges[e];
        edges[kept].from = renumbered[edges[e].from];
        edges[kept].to = renumbered[edges[e].to];
        kept++;
    }
    edge_count = kept;
    kept = 0;
    for (size_t i = 0; i < record_count; i++) {
        if (!gone(records[i].site, context) && !gone((const void *)records[i].key, context))
            records[kept++] = records[i];
    }
    record_count = kept;
    lockorder_relink();
}

static bool lockorder_in_driver(const void *address, const void *context)
{
    return driver_check_owns(context, LOCKORDER_NO_DRIVER, address);
}

/* Reports nothing: as the driver's image goes, the classes named after its code go with it (a
 * driver loaded later at the same address is another driver), and so do its locks' records. */
static void lockorder_forget_driver(struct driver_check *check)
{
    if (!lockorder_on())
        return;
    host_lock(&order_lock);
    lockorder_drop_classes(lockorder_in_driver, check);
    host_unlock(&order_lock);
}

static struct driver_inventory lockorder_inventory = {
    .order = DRIVER_INVENTORY_NOTES,
    .collect = lockorder_forget_driver,
};
DRIVER_INVENTORY(lockorder_inventory)
