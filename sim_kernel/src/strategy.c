/*
 * strategy.c - who gets the turn in controlled mode. A plan decides at every scheduling point which
 * of the threads that can run takes the turn: `random` (a seeded choice at each point) or `pct`
 * (probabilistic concurrency testing: random priorities, the highest that can run has the turn, and
 * d - 1 random points of the schedule where the running thread drops to the lowest priority). Every
 * decision is counted, folded into a digest and kept in a ring of the last 50 for reports.
 *
 * A replay token names the build, the plan and what the schedule made: its decisions, its digest,
 * the digest at 16, 32, 64 ... decisions, and marks: one character (five bits of a hash of the
 * deciding thread, the kind of point, which DDI, how many could take the turn and who got it) per
 * decision, or, when the schedule is longer than the token has room for (about 150 marks), per
 * group of consecutive decisions. A replay runs the same plan and checks each of those as it gets
 * there, so a schedule that no longer matches (other code, another scenario) stops with status 2
 * at the first decision that differs - or the first group, whose decisions it lists - instead of
 * silently running another schedule. A token of 0 decisions (a schedule whose process died before
 * it could say) replays its plan unchecked.
 *
 * Locking: the decision state belongs to the dispatcher lock (strategy_pick runs under it); the
 * plan is set before a kernel boots, by the booting thread.
 */
#define _GNU_SOURCE
#include <elf.h>
#include <inttypes.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

#define STRATEGY_RING 50
#define STRATEGY_DEFAULT_LENGTH 1000ULL
#define STRATEGY_DEFAULT_MAX_STEPS 1000000ULL
#define STRATEGY_FIRST_CHECKPOINT_SHIFT 4
#define STRATEGY_MAX_DEPTH 32
#define STRATEGY_DIGEST_START 0xCBF29CE484222325ULL
#define STRATEGY_DIGEST_PRIME 0x100000001B3ULL
#define STRATEGY_TOKEN_VERSION "w1"
#define STRATEGY_MARK_DIGITS "0123456789abcdefghijklmnopqrstuv"
#define STRATEGY_MARK_BITS 5

struct strategy_decision {
    unsigned long long step;
    enum sched_point_kind kind;
    const void *where;
    char at[20];
    char to[20];
};

static struct strategy_plan override_plan;
static bool override_set;
static struct strategy_plan plan;           /* this kernel's */
static unsigned long long rng_state;
static unsigned long long steps, digest;
static unsigned long long change_point[STRATEGY_MAX_DEPTH];
static unsigned short made_checkpoint[STRATEGY_MAX_CHECKPOINTS];
static unsigned made_checkpoints;
static unsigned char *decision_marks;       /* one byte per decision made, for the token's marks */
static size_t decision_marks_capacity;
static struct strategy_decision ring[STRATEGY_RING];

/* dfs: every decision of this kernel's schedule, for the next schedule's search. */
struct strategy_trail_entry {
    unsigned count;                 /* candidates */
    unsigned chosen;
    int current;                    /* the deciding thread's index among them, -1 if not one */
};
static struct strategy_trail_entry *trail;
static size_t trail_capacity;
static unsigned forced_next;        /* dfs: the next of plan.forced to apply */

/* ---- The build's identity: a token from another build replays nothing ---- */

static int strategy_find_build_id(struct dl_phdr_info *info, size_t size, void *data)
{
    unsigned *id = data;

    (void)size;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        const char *p = (const char *)(info->dlpi_addr + ph->p_vaddr), *end = p + ph->p_memsz;

        while (ph->p_type == PT_NOTE && p + sizeof(ElfW(Nhdr)) <= end) {
            const ElfW(Nhdr) *note = (const ElfW(Nhdr) *)(const void *)p;
            const unsigned char *desc = (const unsigned char *)p + sizeof *note + ((note->n_namesz + 3) & ~3u);

            if (note->n_type == NT_GNU_BUILD_ID && note->n_descsz >= 4) {
                *id = (unsigned)desc[0] << 24 | (unsigned)desc[1] << 16 | (unsigned)desc[2] << 8 | desc[3];
                return 1;
            }
            p = (const char *)desc + ((note->n_descsz + 3) & ~3u);
        }
    }
    return 1;   /* the first object is the program itself: look no further */
}

/* The image this file is in, where every DDI is: a DDI's offset in it names the DDI, in any process
 * running the same build, whatever address the image was mapped at. */
struct strategy_image {
    uintptr_t base, end;
};

static int strategy_find_own_image(struct dl_phdr_info *info, size_t size, void *data)
{
    struct strategy_image *image = data;
    uintptr_t self = (uintptr_t)&strategy_find_own_image;

    (void)size;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        uintptr_t start = info->dlpi_addr + ph->p_vaddr;

        if (ph->p_type == PT_LOAD && self >= start && self < start + ph->p_memsz) {
            image->base = info->dlpi_addr;
            image->end = start + ph->p_memsz;
            return 1;
        }
    }
    return 0;
}

static const struct strategy_image *strategy_own_image(void)
{
    static struct strategy_image image;
    static bool known;

    if (!known) {
        dl_iterate_phdr(strategy_find_own_image, &image);
        known = true;
    }
    return &image;
}

static unsigned strategy_build_id(void)
{
    static unsigned id;
    static bool known;

    if (!known) {
        dl_iterate_phdr(strategy_find_build_id, &id);
        known = true;
    }
    return id;
}

/* splitmix64's finalizer, to the bits of a mark: every input bit reaches the five kept. */
static unsigned char strategy_mix(unsigned long long x)
{
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
    return (unsigned char)((x ^ (x >> 31)) & ((1u << STRATEGY_MARK_BITS) - 1));
}

/* ---- Plans ---- */

static bool strategy_number(const char *text, unsigned long long *value, const char **rest)
{
    char *end;

    if (*text < '0' || *text > '9')
        return false;
    *value = strtoull(text, &end, 10);
    *rest = end;
    return true;
}

static unsigned long long strategy_max_steps(void)
{
    const char *text = getenv("WDMSIM_SCHED_MAX_STEPS");
    unsigned long long value;
    const char *rest;

    return text && strategy_number(text, &value, &rest) && *rest == '\0' && value > 0 ? value
                                                                                      : STRATEGY_DEFAULT_MAX_STEPS;
}

static bool strategy_hex_checkpoints(const char *text, struct strategy_plan *out)
{
    size_t length = strlen(text);

    if (length % 4 != 0 || length / 4 > STRATEGY_MAX_CHECKPOINTS)
        return false;
    for (size_t i = 0; i < length / 4; i++) {
        unsigned value;
        char digits[5] = { text[4 * i], text[4 * i + 1], text[4 * i + 2], text[4 * i + 3], 0 };

        if (strspn(digits, "0123456789abcdef") != 4 || sscanf(digits, "%4x", &value) != 1)
            return false;
        out->checkpoint[i] = (unsigned short)value;
    }
    out->checkpoints = (unsigned)(length / 4);
    return true;
}

/* A dfs token's forced decisions follow its checkpoints: ".STEP:CHOICE" each, in hex. */
static bool strategy_forced_list(const char *text, struct strategy_plan *out)
{
    while (*text == '.') {
        unsigned long long step;
        unsigned choice;
        int used = 0;

        if (out->forced_count == STRATEGY_MAX_FORCED || sscanf(text, ".%llx:%x%n", &step, &choice, &used) != 2)
            return false;
        out->forced[out->forced_count++] = (struct strategy_forced){ step, choice };
        text += used;
    }
    return *text == '\0' || *text == '~';
}

/* A token's marks follow a '~' (and "G:" when each covers a group of G decisions), one digit each. */
static bool strategy_marks(const char *text, struct strategy_plan *out)
{
    int used = 0;

    out->mark_group = 1;
    if (*text == '\0')
        return true;
    if (sscanf(text, "~%llx:%n", &out->mark_group, &used) == 1 && used > 0 && out->mark_group > 1)
        text += used - 1;
    else if (used > 0)
        return false;
    for (text++; *text != '\0'; text++) {
        const char *digit = strchr(STRATEGY_MARK_DIGITS, *text);

        if (digit == NULL || out->marks == STRATEGY_MAX_MARKS)
            return false;
        out->mark[out->marks++] = (unsigned char)(digit - STRATEGY_MARK_DIGITS);
    }
    return true;
}

/* What follows a token's digest: its checkpoints, a dfs token's forced decisions, the marks. */
static bool strategy_token_tail(const char *text, struct strategy_plan *out)
{
    char checkpoints[4 * STRATEGY_MAX_CHECKPOINTS + 1];
    size_t length = strcspn(text, ".~");

    if (length >= sizeof checkpoints)
        return false;
    memcpy(checkpoints, text, length);
    checkpoints[length] = '\0';
    return strategy_hex_checkpoints(checkpoints, out) && strategy_forced_list(text + length, out) &&
           strategy_marks(text + length + strcspn(text + length, "~"), out);
}

static bool strategy_parse_token(const char *token, struct strategy_plan *out, char *error, size_t size)
{
    unsigned build, depth = 0;
    char kind[8];
    int used = 0;

    if (sscanf(token, STRATEGY_TOKEN_VERSION "-%8x-%7[a-z0-9]-%llu-%llu-%llu-%16llx-%n", &build, kind, &out->seed,
               &out->length, &out->expect_steps, &out->expect_digest, &used) != 6 || used == 0 ||
        !strategy_token_tail(token + used, out)) {
        snprintf(error, size, "the replay token '%.80s' is malformed (a token looks like %s-1a2b3c4d-p3-7-...: "
                 "copy it whole from the report)", token, STRATEGY_TOKEN_VERSION);
        return false;
    }
    if (build != strategy_build_id()) {
        snprintf(error, size, "the replay token comes from another build of the program (build %08x; this one is "
                 "%08x): replay it with the binary that reported it", build, strategy_build_id());
        return false;
    }
    if (strcmp(kind, "r") == 0) {
        out->kind = STRATEGY_RANDOM;
    } else if (sscanf(kind, "p%u", &depth) == 1 && depth >= 1 && depth <= STRATEGY_MAX_DEPTH) {
        out->kind = STRATEGY_PCT;
        out->depth = depth;
    } else if (sscanf(kind, "d%u", &depth) == 1 && depth <= STRATEGY_MAX_DEPTH) {
        out->kind = STRATEGY_DFS;
        out->depth = depth;
    } else {
        snprintf(error, size, "the replay token names an unknown strategy '%s'", kind);
        return false;
    }
    out->replay = true;
    return true;
}

/* "random", "pct:D", each optionally followed by :SEED (and for pct :K), or "replay:TOKEN". ("free",
 * for free-running threads, is the boot's choice, not a plan.) */
static bool strategy_parse_plan(const char *spec, bool need_seed, struct strategy_plan *out, char *error,
                                size_t size)
{
    unsigned long long depth = 3;
    const char *rest = spec;
    bool ok = true;

    memset(out, 0, sizeof *out);
    out->length = STRATEGY_DEFAULT_LENGTH;
    out->max_steps = strategy_max_steps();
    if (strncmp(spec, "replay:", 7) == 0)
        return strategy_parse_token(spec + 7, out, error, size);
    if (strncmp(spec, "random", 6) == 0) {
        out->kind = STRATEGY_RANDOM;
        rest = spec + 6;
    } else if (strncmp(spec, "pct:", 4) == 0) {
        out->kind = STRATEGY_PCT;
        ok = strategy_number(spec + 4, &depth, &rest) && depth >= 1 && depth <= STRATEGY_MAX_DEPTH;
        out->depth = (unsigned)depth;
    } else if (strncmp(spec, "dfs:", 4) == 0 && !need_seed) {
        out->kind = STRATEGY_DFS;
        ok = strategy_number(spec + 4, &depth, &rest) && depth <= STRATEGY_MAX_DEPTH && *rest == '\0';
        out->depth = (unsigned)depth;
    } else {
        ok = false;
    }
    if (ok && *rest == ':')
        ok = strategy_number(rest + 1, &out->seed, &rest);
    else if (ok && need_seed)
        ok = false;
    if (ok && out->kind == STRATEGY_PCT && *rest == ':')
        ok = strategy_number(rest + 1, &out->length, &rest) && out->length > 0;
    if (ok && *rest == '\0')
        return true;
    snprintf(error, size, "unknown schedule '%.80s': use %s, or replay:TOKEN", spec,
             need_seed ? "random:SEED or pct:D:SEED (D from 1 to 32)"
                       : "random, pct:D (D from 1 to 32) or dfs:P (P preemptions at most, 0 to 32)");
    return false;
}

bool strategy_parse(const char *spec, struct strategy_plan *out, char *error, size_t size)
{
    return strategy_parse_plan(spec, true, out, error, size);
}

bool strategy_parse_kind(const char *spec, struct strategy_plan *out, char *error, size_t size)
{
    return strategy_parse_plan(spec, false, out, error, size);
}

void strategy_override(const struct strategy_plan *next)
{
    override_set = next != NULL;
    if (next != NULL)
        override_plan = *next;
}

/* ---- One kernel's schedule ---- */

static unsigned long long strategy_random(void)
{
    unsigned long long z = (rng_state += 0x9E3779B97F4A7C15ULL);

    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static void strategy_refuse(const char *where, const char *error)
{
    fprintf(stderr, "wdmsim: %s: %s; nothing was run\n", where, error);
    exit(2);
}

/* The boot's own schedule comes first (a test that asks for one means it), then WDMSIM_SCHED. */
static void strategy_choose_plan(const char *spec)
{
    const char *text = spec, *source = "wdmsim_config.schedule";
    char error[256];

    if (override_set) {
        plan = override_plan;
        return;
    }
    if (text == NULL || *text == '\0') {
        text = getenv("WDMSIM_SCHED");
        source = "WDMSIM_SCHED";
    }
    if (text == NULL || *text == '\0' || strcmp(text, "free") == 0)
        memset(&plan, 0, sizeof plan);
    else if (!strategy_parse(text, &plan, error, sizeof error))
        strategy_refuse(source, error);
}

bool strategy_begin(const char *spec)
{
    strategy_choose_plan(spec);
    rng_state = plan.seed ^ ((unsigned long long)plan.kind << 56) ^ ((unsigned long long)plan.depth << 48);
    steps = 0;
    digest = STRATEGY_DIGEST_START;
    made_checkpoints = 0;
    forced_next = 0;
    memset(ring, 0, sizeof ring);
    for (unsigned i = 0; plan.kind == STRATEGY_PCT && i + 1 < plan.depth; i++)
        change_point[i] = 1 + strategy_random() % plan.length;
    return plan.kind != STRATEGY_FREE;
}

void strategy_thread_added(struct _KTHREAD *thread)
{
    disp_assert_held();
    /* Above every priority a change point gives (-1 .. 1 - d), and distinct but by chance. */
    thread->sched.priority = plan.kind == STRATEGY_PCT ? (long long)(strategy_random() >> 2) : 0;
}

unsigned long long strategy_steps(void)
{
    return steps;
}

static void strategy_lower_at_change_points(const struct _KTHREAD *current)
{
    for (unsigned i = 0; i + 1 < plan.depth; i++) {
        if (change_point[i] == steps)
            ((struct _KTHREAD *)current)->sched.priority = -1 - (long long)i;
    }
}

/* pct past twice the expected length: a thread that polls a flag (a stop request, a lock) another
 * one must set would keep the turn for ever under fixed priorities; from there the choice is the
 * random strategy's, which lets every thread run. pct's bound holds for bugs within the length. */
#define STRATEGY_PCT_FAIR_AFTER 2

/* ---- dfs: every schedule with at most P preemptions, depth first ---- */

static int strategy_index_of(struct _KTHREAD *const *candidates, size_t count, const struct _KTHREAD *current)
{
    for (size_t i = 0; i < count; i++) {
        if (candidates[i] == current)
            return (int)i;
    }
    return -1;
}

static SIM_NORETURN void strategy_diverged(const char *what);

static void strategy_trail_push(struct strategy_trail_entry entry)
{
    if (steps > trail_capacity) {
        trail_capacity = trail_capacity ? trail_capacity * 2 : 1024;
        trail = realloc(trail, trail_capacity * sizeof *trail);
        if (trail == NULL)
            abort();
    }
    trail[steps - 1] = entry;
}

/* The default goes on with the deciding thread when it can, else with the first: no preemption. */
static size_t strategy_choose_dfs(struct _KTHREAD *const *candidates, size_t count, const struct _KTHREAD *current)
{
    int at = strategy_index_of(candidates, count, current);
    unsigned chosen = at >= 0 ? (unsigned)at : 0;

    if (forced_next < plan.forced_count && plan.forced[forced_next].step == steps) {
        chosen = plan.forced[forced_next++].choice;
        if (chosen >= count)
            strategy_diverged("its schedule names a thread that is not there to choose");
    }
    strategy_trail_push((struct strategy_trail_entry){ (unsigned)count, chosen, at });
    return chosen;
}

/* The candidates of a decision in the order dfs tries them: the default, then the others. */
static unsigned strategy_dfs_order(const struct strategy_trail_entry *e, unsigned position)
{
    unsigned first = e->current >= 0 ? (unsigned)e->current : 0;

    if (position == 0)
        return first;
    return position - 1 < first ? position - 1 : position;
}

static unsigned strategy_dfs_position(const struct strategy_trail_entry *e)
{
    for (unsigned p = 0; p < e->count; p++) {
        if (strategy_dfs_order(e, p) == e->chosen)
            return p;
    }
    return e->count;
}

static bool strategy_is_preemption(const struct strategy_trail_entry *e, unsigned choice)
{
    return e->current >= 0 && choice != (unsigned)e->current;
}

/* The forced decisions of the schedule that follows the trail up to decision `at` (1-based), then
 * takes `choice` there; false when there would be too many to name. */
static bool strategy_dfs_branch(struct strategy_plan *next, unsigned long long at, unsigned choice)
{
    next->forced_count = 0;
    for (unsigned long long step = 1; step <= at; step++) {
        const struct strategy_trail_entry *e = &trail[step - 1];
        unsigned taken = step == at ? choice : e->chosen;

        if (taken == strategy_dfs_order(e, 0))
            continue;
        if (next->forced_count == STRATEGY_MAX_FORCED)
            return false;
        next->forced[next->forced_count++] = (struct strategy_forced){ step, taken };
    }
    return true;
}

bool strategy_dfs_next(struct strategy_plan *next)
{
    unsigned long long used = 0;

    for (unsigned long long step = 1; step <= steps; step++)
        used += strategy_is_preemption(&trail[step - 1], trail[step - 1].chosen);
    for (unsigned long long step = steps; step >= 1; step--) {
        const struct strategy_trail_entry *e = &trail[step - 1];

        used -= strategy_is_preemption(e, e->chosen);
        for (unsigned p = strategy_dfs_position(e) + 1; p < e->count; p++) {
            unsigned choice = strategy_dfs_order(e, p);

            if (used + strategy_is_preemption(e, choice) <= next->depth && strategy_dfs_branch(next, step, choice))
                return true;
        }
    }
    return false;
}

static size_t strategy_choose(struct _KTHREAD *const *candidates, size_t count, const struct _KTHREAD *current)
{
    size_t best = 0;

    if (plan.kind == STRATEGY_DFS)
        return strategy_choose_dfs(candidates, count, current);
    if (plan.kind == STRATEGY_RANDOM || steps > STRATEGY_PCT_FAIR_AFTER * plan.length)
        return (size_t)(strategy_random() % count);
    strategy_lower_at_change_points(current);
    for (size_t i = 1; i < count; i++) {
        if (candidates[i]->sched.priority > candidates[best]->sched.priority)
            best = i;
    }
    return best;
}

static void strategy_describe_where(const struct strategy_decision *d, char *buf, size_t size)
{
    switch (d->kind) {
    case SCHED_POINT_DDI:
        bugcheck_describe_code(d->where, buf, size);
        break;
    case SCHED_POINT_WAKE:
        snprintf(buf, size, "after a wake-up");
        break;
    case SCHED_POINT_BLOCK:
        snprintf(buf, size, "blocks in %s", d->where ? (const char *)d->where : "a wait");
        break;
    case SCHED_POINT_SPIN:
        snprintf(buf, size, "spins on the spin lock at %p", d->where);
        break;
    case SCHED_POINT_START:
        snprintf(buf, size, "starts");
        break;
    case SCHED_POINT_END:
        snprintf(buf, size, "ended");
        break;
    case SCHED_POINT_BOOT:
        snprintf(buf, size, "boots the kernel");
        break;
    }
}

static void strategy_decisions_text(char *buf, size_t size)
{
    unsigned long long first = steps > STRATEGY_RING ? steps - STRATEGY_RING + 1 : 1;
    size_t used = 0;

    buf[0] = '\0';
    for (unsigned long long s = first; s <= steps && used < size; s++) {
        const struct strategy_decision *d = &ring[s % STRATEGY_RING];
        char where[96];
        int n;

        strategy_describe_where(d, where, sizeof where);
        n = snprintf(buf + used, size - used, "  #%-7llu %-16s %-44s -> %s\n", d->step, d->at, where, d->to);
        used += n > 0 ? (size_t)n : 0;
    }
}

static SIM_NORETURN void strategy_diverged(const char *what)
{
    char decisions[sizeof ((struct strategy_summary *)0)->decisions];

    strategy_decisions_text(decisions, sizeof decisions);
    fflush(stdout);
    /* The verdict last, where a report cut to its end (wdmsim_explore keeps the last 4 KB) keeps it. */
    fprintf(stderr, "wdmsim: replay: the run's last decisions:\n%swdmsim: replay: this run's schedule diverged from "
            "the token: %s. The code or the scenario is not the one the token was made with; nothing more is run.\n",
            decisions, what);
    _exit(2);
}

static bool strategy_at_checkpoint(unsigned index)
{
    return steps == 1ULL << (STRATEGY_FIRST_CHECKPOINT_SHIFT + index);
}

/* The mark of the decisions first .. last (counted from 1): one decision's own, or a group's. */
static unsigned char strategy_group_mark(unsigned long long first, unsigned long long last)
{
    unsigned long long x = STRATEGY_DIGEST_START;

    if (first == last)
        return decision_marks[first - 1] & ((1u << STRATEGY_MARK_BITS) - 1);
    for (unsigned long long i = first; i <= last; i++)
        x = (x ^ decision_marks[i - 1]) * STRATEGY_DIGEST_PRIME;
    return strategy_mix(x);
}

/* At the last decision of a group (of one, or of mark_group): its mark must be the token's. */
static void strategy_check_marks(void)
{
    unsigned long long group = plan.mark_group, index = (steps - 1) / group, first = index * group + 1;
    const struct strategy_decision *d = &ring[steps % STRATEGY_RING];
    char what[320], where[96];

    if (index >= plan.marks || (steps % group != 0 && steps != plan.expect_steps) ||
        strategy_group_mark(first, steps) == plan.mark[index])
        return;
    if (group == 1) {
        strategy_describe_where(d, where, sizeof where);
        snprintf(what, sizeof what, "decision #%llu is the first that differs: here thread %s decided at '%s' (it "
                 "gave the turn to %s), not what the token's schedule did there", steps, d->at, where, d->to);
    } else {
        snprintf(what, sizeof what, "the first decision that differs is one of #%llu..#%llu (the token marks its "
                 "%llu decisions in groups of %llu; the last decisions above show them)", first, steps,
                 plan.expect_steps, group);
    }
    strategy_diverged(what);
}

static void strategy_check_replay(void)
{
    unsigned index = made_checkpoints - 1;
    char what[160];

    if (plan.expect_steps == 0)
        return;
    strategy_check_marks();
    if (steps > plan.expect_steps) {
        snprintf(what, sizeof what, "the token's schedule ended after %llu decisions, this one goes on",
                 plan.expect_steps);
        strategy_diverged(what);
    }
    if (made_checkpoints > 0 && strategy_at_checkpoint(index) && index < plan.checkpoints &&
        made_checkpoint[index] != plan.checkpoint[index]) {
        snprintf(what, sizeof what, "its decisions differ from the token's between decision %llu and %llu",
                 index ? steps / 2 + 1 : 1, steps);
        strategy_diverged(what);
    }
}

/* Which DDI a point is in, the same in every process of this build; 0 for other points and for code
 * elsewhere (a driver module's address depends on the order modules were mapped in). */
static unsigned long long strategy_point_identity(enum sched_point_kind kind, const void *where)
{
    const struct strategy_image *image = strategy_own_image();
    uintptr_t address = (uintptr_t)where;

    if (kind != SCHED_POINT_DDI || address < image->base || address >= image->end)
        return 0;
    return address - image->base;
}

static unsigned char strategy_mark(const struct _KTHREAD *current, const struct _KTHREAD *chosen, size_t count,
                                   enum sched_point_kind kind, const void *where)
{
    unsigned long long x = (unsigned long long)kind | (unsigned long long)(current ? current->sched.id + 1 : 0) << 8 |
                           (unsigned long long)chosen->sched.id << 24 | (unsigned long long)count << 40;

    return strategy_mix(x ^ strategy_point_identity(kind, where) * STRATEGY_DIGEST_PRIME);
}

static void strategy_keep_mark(unsigned char mark)
{
    if (steps > decision_marks_capacity) {
        decision_marks_capacity = decision_marks_capacity ? 2 * decision_marks_capacity : 4096;
        decision_marks = realloc(decision_marks, decision_marks_capacity);
        if (decision_marks == NULL)
            abort();
    }
    decision_marks[steps - 1] = mark;
}

static void strategy_record(const struct _KTHREAD *current, const struct _KTHREAD *chosen, size_t count,
                            enum sched_point_kind kind, const void *where)
{
    struct strategy_decision *d = &ring[steps % STRATEGY_RING];

    d->step = steps;
    d->kind = kind;
    d->where = where;
    snprintf(d->at, sizeof d->at, "%.19s", current ? current->name : "-");
    snprintf(d->to, sizeof d->to, "%.19s", chosen->name);
    digest = (digest ^ ((unsigned long long)kind | (unsigned long long)(current ? current->sched.id + 1 : 0) << 8 |
                        (unsigned long long)chosen->sched.id << 32 | (unsigned long long)count << 48)) *
             STRATEGY_DIGEST_PRIME;
    if (made_checkpoints < STRATEGY_MAX_CHECKPOINTS && strategy_at_checkpoint(made_checkpoints))
        made_checkpoint[made_checkpoints++] = (unsigned short)(digest >> 48);
    strategy_keep_mark(strategy_mark(current, chosen, count, kind, where));
}

size_t strategy_pick(struct _KTHREAD *const *candidates, size_t count, const struct _KTHREAD *current,
                     enum sched_point_kind kind, const void *where)
{
    size_t chosen;

    disp_assert_held();
    steps++;
    chosen = strategy_choose(candidates, count, current);
    strategy_record(current, candidates[chosen], count, kind, where);
    if (plan.replay)
        strategy_check_replay();
    if (steps > plan.max_steps)
        rule_stop_detail(RULE_LIVELOCK, (ULONG_PTR)steps, 0, 0, 0,
                         "more than %llu scheduling decisions (WDMSIM_SCHED_MAX_STEPS) and the scenario has not "
                         "finished", plan.max_steps);
    return chosen;
}

void strategy_finish(void)
{
    char what[160];

    if (!plan.replay || plan.expect_steps == 0 || (steps == plan.expect_steps && digest == plan.expect_digest))
        return;
    snprintf(what, sizeof what, "the kernel shut down after %llu decisions, other than the %llu the token's schedule "
             "made", steps, plan.expect_steps);
    strategy_diverged(what);
}

/* ---- Reports ---- */

static void strategy_plan_text(const struct strategy_plan *p, char *buf, size_t size)
{
    if (p->kind == STRATEGY_RANDOM)
        snprintf(buf, size, "random:%llu", p->seed);
    else if (p->kind == STRATEGY_DFS)
        snprintf(buf, size, "dfs:%u", p->depth);
    else
        snprintf(buf, size, "pct:%u:%llu:%llu", p->depth, p->seed, p->length);
}

/* The marks, after a '~': one per decision, or per group of as few consecutive decisions as make
 * them fit (then "~G:" first). */
static void strategy_token_marks(unsigned long long made, char *buf, size_t room)
{
    unsigned long long fit = room > 24 ? room - 24 : 0, group;
    int n;

    if (fit > STRATEGY_MAX_MARKS)
        fit = STRATEGY_MAX_MARKS;
    if (made == 0 || fit == 0)
        return;
    group = (made + fit - 1) / fit;
    n = group > 1 ? snprintf(buf, room, "~%llx:", group) : snprintf(buf, room, "~");
    buf += n;
    for (unsigned long long first = 1; first <= made; first += group) {
        unsigned long long last = first + group - 1 < made ? first + group - 1 : made;

        *buf++ = STRATEGY_MARK_DIGITS[strategy_group_mark(first, last)];
    }
    *buf = '\0';
}

/* With made = 0 decisions the token is unchecked: it replays the plan without comparing. */
static void strategy_token(const struct strategy_plan *p, unsigned long long made, char *buf, size_t size)
{
    char kind[8];
    int n;

    if (p->kind == STRATEGY_RANDOM)
        snprintf(kind, sizeof kind, "r");
    else
        snprintf(kind, sizeof kind, "%c%u", p->kind == STRATEGY_DFS ? 'd' : 'p', p->depth);
    n = snprintf(buf, size, STRATEGY_TOKEN_VERSION "-%08x-%s-%llu-%llu-%llu-%016llx-", strategy_build_id(), kind,
                 p->seed, p->length, made, made ? digest : 0);
    for (unsigned i = 0; made && i < made_checkpoints && n > 0 && (size_t)n < size; i++)
        n += snprintf(buf + n, size - (size_t)n, "%04x", made_checkpoint[i]);
    for (unsigned i = 0; i < p->forced_count && n > 0 && (size_t)n < size; i++)
        n += snprintf(buf + n, size - (size_t)n, ".%llx:%x", p->forced[i].step, p->forced[i].choice);
    /* A token cut short would replay another schedule: better none. */
    if (n < 0 || (size_t)n >= size) {
        buf[0] = '\0';
        return;
    }
    strategy_token_marks(made, buf + n, size - (size_t)n);
}

void strategy_summarize(struct strategy_summary *summary)
{
    memset(summary, 0, sizeof *summary);
    summary->controlled = plan.kind != STRATEGY_FREE;
    if (!summary->controlled)
        return;
    summary->seed = plan.seed;
    summary->steps = steps;
    strategy_plan_text(&plan, summary->strategy, sizeof summary->strategy);
    strategy_token(&plan, steps, summary->token, sizeof summary->token);
    strategy_decisions_text(summary->decisions, sizeof summary->decisions);
}

void strategy_summarize_plan(const struct strategy_plan *p, struct strategy_summary *summary)
{
    memset(summary, 0, sizeof *summary);
    summary->controlled = p->kind != STRATEGY_FREE;
    summary->seed = p->seed;
    strategy_plan_text(p, summary->strategy, sizeof summary->strategy);
    strategy_token(p, 0, summary->token, sizeof summary->token);
    snprintf(summary->decisions, sizeof summary->decisions, "  (the schedule's process ended before it could send "
             "them; the token replays its plan unchecked)\n");
}

/* The running program's command line, as a shell would take it back (arguments quoted). */
static void strategy_command_line(char *buf, size_t size)
{
    char args[1024];
    FILE *in = fopen("/proc/self/cmdline", "rb");
    size_t length = in ? fread(args, 1, sizeof args - 1, in) : 0, used = 0;

    if (in != NULL)
        fclose(in);
    buf[0] = '\0';
    for (size_t i = 0; i < length && used < size; i += strlen(args + i) + 1) {
        args[length] = '\0';
        used += (size_t)snprintf(buf + used, size - used, i ? " '%s'" : "%s", args + i);
    }
    if (buf[0] == '\0')
        snprintf(buf, size, "PROGRAM");
}

void strategy_print_failure(FILE *out, const struct strategy_summary *summary)
{
    char command[1100];

    if (!summary->controlled)
        return;
    strategy_command_line(command, sizeof command);
    fprintf(out, "Schedule: %s, seed %llu, %llu scheduling decisions\n", summary->strategy, summary->seed,
            summary->steps);
    fprintf(out, "Token:    %s\n", summary->token);
    fprintf(out, "Replay:   WDMSIM_SCHED=replay:%s %s\n", summary->token, command);
    fprintf(out, "Decisions (the last %d: thread, where it was, who got the turn):\n%s", STRATEGY_RING,
            summary->decisions);
}
