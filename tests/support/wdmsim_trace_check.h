/*
 * wdmsim_trace_check.h - a validator of the timelines wdmsim writes (WDMSIM_TIMELINE), written
 * from the Chrome trace-event format's rules, not from the writer: a minimal JSON reader, then
 * every event with its required fields (ph, ts, pid, tid, name), B/E well nested on each thread
 * (an E closes the innermost open B of the same name, not before it), nothing left open, and each
 * flow id with exactly one start and one end. load_valid_trace() asserts it (CMocka) and returns
 * the events; count_events() and tid_named() ask what they show. For the SVG picture:
 * xml_elements() (well formed?) and occurrences().
 */
#ifndef WDMSIM_TRACE_CHECK_H
#define WDMSIM_TRACE_CHECK_H

#include <ctype.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <wdmsim/test.h>

/* ---- A minimal JSON reader: enough to validate what the timeline writes ---- */

enum json_type { JSON_NULL, JSON_BOOL, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT };

struct json {
    enum json_type type;
    double number;
    char *string;                   /* a string's text, an object member's key */
    struct json *items;             /* an array's elements or an object's members */
    size_t count;
    struct json *value;             /* an object member's value */
};

struct json_reader {
    const char *p;
    bool failed;
};

static void json_skip(struct json_reader *r)
{
    while (isspace((unsigned char)*r->p))
        r->p++;
}

static bool json_expect(struct json_reader *r, char c)
{
    json_skip(r);
    if (*r->p != c)
        return !(r->failed = true);
    r->p++;
    return true;
}

static void json_value(struct json_reader *r, struct json *v);

static char *json_string_text(struct json_reader *r)
{
    size_t cap = 16, n = 0;
    char *text = malloc(cap);

    if (!json_expect(r, '"'))
        return text;
    while (*r->p && *r->p != '"') {
        char c = *r->p++;

        if (c == '\\') {
            c = *r->p++;
            if (c == 'u') {
                c = (char)strtol((char[]){ r->p[0], r->p[1], r->p[2], r->p[3], 0 }, NULL, 16);
                r->p += 4;
            } else if (c == 'n') {
                c = '\n';
            } else if (c != '"' && c != '\\' && c != '/') {
                r->failed = true;
            }
        } else if ((unsigned char)c < 0x20) {
            r->failed = true;
        }
        if (n + 2 > cap)
            text = realloc(text, cap *= 2);
        text[n++] = c;
    }
    text[n] = '\0';
    r->failed |= *r->p != '"';
    if (*r->p)
        r->p++;
    return text;
}

static void json_list(struct json_reader *r, struct json *v, char close, bool members)
{
    size_t cap = 8;

    v->items = calloc(cap, sizeof *v->items);
    json_skip(r);
    if (*r->p == close) {
        r->p++;
        return;
    }
    do {
        struct json *item;

        if (v->count == cap) {
            v->items = realloc(v->items, (cap *= 2) * sizeof *v->items);
            memset(v->items + v->count, 0, (cap - v->count) * sizeof *v->items);
        }
        item = &v->items[v->count++];
        if (members) {
            json_skip(r);
            item->string = json_string_text(r);
            json_expect(r, ':');
            item->value = calloc(1, sizeof *item->value);
            json_value(r, item->value);
        } else {
            json_value(r, item);
        }
        json_skip(r);
    } while (!r->failed && *r->p == ',' && r->p++);
    json_expect(r, close);
}

static void json_value(struct json_reader *r, struct json *v)
{
    char *end;

    json_skip(r);
    if (*r->p == '{') {
        r->p++;
        v->type = JSON_OBJECT;
        json_list(r, v, '}', true);
    } else if (*r->p == '[') {
        r->p++;
        v->type = JSON_ARRAY;
        json_list(r, v, ']', false);
    } else if (*r->p == '"') {
        v->type = JSON_STRING;
        v->string = json_string_text(r);
    } else if (strncmp(r->p, "true", 4) == 0 || strncmp(r->p, "null", 4) == 0) {
        v->type = *r->p == 't' ? JSON_BOOL : JSON_NULL;
        r->p += 4;
    } else if (strncmp(r->p, "false", 5) == 0) {
        v->type = JSON_BOOL;
        r->p += 5;
    } else {
        v->type = JSON_NUMBER;
        v->number = strtod(r->p, &end);
        r->failed |= end == r->p;
        r->p = end;
    }
}

static void json_free(struct json *v)
{
    for (size_t i = 0; i < v->count; i++) {
        if (v->type == JSON_OBJECT) {
            free(v->items[i].string);
            json_free(v->items[i].value);
            free(v->items[i].value);
        } else {
            json_free(&v->items[i]);
        }
    }
    free(v->items);
    free(v->string);
}

static const struct json *json_get(const struct json *object, const char *key)
{
    for (size_t i = 0; object->type == JSON_OBJECT && i < object->count; i++) {
        if (strcmp(object->items[i].string, key) == 0)
            return object->items[i].value;
    }
    return NULL;
}

static const char *json_text(const struct json *object, const char *key)
{
    const struct json *v = json_get(object, key);

    return v != NULL && v->type == JSON_STRING ? v->string : NULL;
}

static char *read_file(const char *path)
{
    FILE *in = fopen(path, "r");
    char *text;
    long size;

    assert_non_null(in);
    fseek(in, 0, SEEK_END);
    size = ftell(in);
    rewind(in);
    text = calloc(1, (size_t)size + 1);
    assert_int_equal(fread(text, 1, (size_t)size, in), (size_t)size);
    fclose(in);
    return text;
}

/* ---- The validator: the trace-event format's rules, as Perfetto and chrome://tracing read them ---- */

#define MAX_TRACKS 256
#define MAX_DEPTH 64

struct track {
    double pid, tid;
    const char *open[MAX_DEPTH];    /* the names of its open B events */
    double open_ts[MAX_DEPTH];
    size_t depth;
};

struct trace_check {
    struct track tracks[MAX_TRACKS];
    size_t track_count;
    char problem[256];
};

static struct track *track_of(struct trace_check *c, double pid, double tid)
{
    for (size_t i = 0; i < c->track_count; i++) {
        if (c->tracks[i].pid == pid && c->tracks[i].tid == tid)
            return &c->tracks[i];
    }
    assert_true(c->track_count < MAX_TRACKS);
    c->tracks[c->track_count].pid = pid;
    c->tracks[c->track_count].tid = tid;
    return &c->tracks[c->track_count++];
}

static bool trace_fail(struct trace_check *c, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(c->problem, sizeof c->problem, fmt, ap);
    va_end(ap);
    return false;
}

static bool trace_nesting(struct trace_check *c, const struct json *e, const char *ph, size_t index)
{
    struct track *t = track_of(c, json_get(e, "pid")->number, json_get(e, "tid")->number);
    double ts = json_get(e, "ts")->number;

    if (*ph == 'B') {
        if (t->depth == MAX_DEPTH)
            return trace_fail(c, "event %zu: nesting deeper than %d", index, MAX_DEPTH);
        t->open_ts[t->depth] = ts;
        t->open[t->depth++] = json_text(e, "name");
    } else if (*ph == 'E') {
        if (t->depth == 0)
            return trace_fail(c, "event %zu: E with no open B on its thread", index);
        if (strcmp(t->open[--t->depth], json_text(e, "name")) != 0)
            return trace_fail(c, "event %zu: E '%s' closes B '%s'", index, json_text(e, "name"), t->open[t->depth]);
        if (ts < t->open_ts[t->depth])
            return trace_fail(c, "event %zu: E before its B", index);
    }
    return true;
}

/* Every flow id has exactly one start and one end, all its events with one category and name (Perfetto
 * joins a flow's events by the three). */
static bool trace_flows(struct trace_check *c, const struct json *events)
{
    for (size_t i = 0; i < events->count; i++) {
        const struct json *e = &events->items[i];
        const char *ph = json_text(e, "ph");
        size_t starts = 0, ends = 0;

        if (strcmp(ph, "s") != 0 && strcmp(ph, "f") != 0 && strcmp(ph, "t") != 0)
            continue;
        if (json_get(e, "id") == NULL)
            return trace_fail(c, "event %zu: a flow event without an id", i);
        for (size_t k = 0; k < events->count; k++) {
            const char *other = json_text(&events->items[k], "ph");
            const struct json *id = json_get(&events->items[k], "id");

            if (id == NULL || id->number != json_get(e, "id")->number)
                continue;
            if (strcmp(json_text(&events->items[k], "name"), json_text(e, "name")) != 0 ||
                json_text(&events->items[k], "cat") == NULL || json_text(e, "cat") == NULL ||
                strcmp(json_text(&events->items[k], "cat"), json_text(e, "cat")) != 0)
                return trace_fail(c, "flow %g: its events differ in name or category", json_get(e, "id")->number);
            starts += strcmp(other, "s") == 0;
            ends += strcmp(other, "f") == 0;
        }
        if (starts != 1 || ends != 1)
            return trace_fail(c, "flow %g: %zu starts and %zu ends", json_get(e, "id")->number, starts, ends);
    }
    return true;
}

static bool trace_event_fields(struct trace_check *c, const struct json *e, size_t i)
{
    static const char *const numbers[] = { "ts", "pid", "tid" };
    const char *ph = json_text(e, "ph");

    if (e->type != JSON_OBJECT || ph == NULL || strlen(ph) != 1 || strchr("BEXisftM", *ph) == NULL)
        return trace_fail(c, "event %zu: no valid ph", i);
    if (json_text(e, "name") == NULL)
        return trace_fail(c, "event %zu: no name", i);
    for (size_t k = 0; k < 3; k++) {
        if (json_get(e, numbers[k]) == NULL || json_get(e, numbers[k])->type != JSON_NUMBER)
            return trace_fail(c, "event %zu: no numeric %s", i, numbers[k]);
    }
    if (*ph == 'X' && json_get(e, "dur") == NULL)
        return trace_fail(c, "event %zu: X without dur", i);
    return true;
}

/* Whether text is a valid trace: c->problem says why not. */
static bool trace_valid(const char *text, struct json *root, struct trace_check *c)
{
    struct json_reader r = { text, false };
    const struct json *events;

    json_value(&r, root);
    json_skip(&r);
    if (r.failed || *r.p != '\0')
        return trace_fail(c, "not JSON (at offset %zu)", (size_t)(r.p - text));
    events = json_get(root, "traceEvents");
    if (events == NULL || events->type != JSON_ARRAY)
        return trace_fail(c, "no traceEvents array");
    for (size_t i = 0; i < events->count; i++) {
        if (!trace_event_fields(c, &events->items[i], i) ||
            !trace_nesting(c, &events->items[i], json_text(&events->items[i], "ph"), i))
            return false;
    }
    for (size_t t = 0; t < c->track_count; t++) {
        if (c->tracks[t].depth != 0)
            return trace_fail(c, "thread %g: B '%s' never ends", c->tracks[t].tid, c->tracks[t].open[0]);
    }
    return trace_flows(c, events);
}

/* Reads and validates a timeline; the caller frees root. */
static const struct json *load_valid_trace(const char *path, struct json *root)
{
    static struct trace_check check;
    char *text = read_file(path);
    bool valid;

    memset(&check, 0, sizeof check);
    memset(root, 0, sizeof *root);
    valid = trace_valid(text, root, &check);
    if (!valid)
        print_message("%s: %s\n", path, check.problem);
    free(text);
    assert_true(valid);
    return json_get(root, "traceEvents");
}

/* How many events have this phase and category, and a name containing `name` (NULL: any). */
static size_t count_events(const struct json *events, const char *ph, const char *cat, const char *name)
{
    size_t n = 0;

    for (size_t i = 0; i < events->count; i++) {
        const struct json *e = &events->items[i];
        const char *c = json_text(e, "cat");

        n += strcmp(json_text(e, "ph"), ph) == 0 && (cat == NULL || (c && strcmp(c, cat) == 0)) &&
             (name == NULL || strstr(json_text(e, "name"), name) != NULL);
    }
    return n;
}

/* The tid of the thread whose thread_name metadata contains name (-1: none). */
static double tid_named(const struct json *events, const char *name)
{
    for (size_t i = 0; i < events->count; i++) {
        const struct json *e = &events->items[i];
        const struct json *args = json_get(e, "args");

        if (strcmp(json_text(e, "name"), "thread_name") == 0 && args && strstr(json_text(args, "name"), name))
            return json_get(e, "tid")->number;
    }
    return -1;
}

/* ---- The picture (WDMSIM_TIMELINE=*.svg) ---- */

/* Every element closed in order; returns how many elements there are (-1: not well formed). */
static long xml_elements(const char *text)
{
    char stack[64][32];
    int depth = 0;
    long elements = 0;

    for (const char *p = strchr(text, '<'); p != NULL; p = strchr(p + 1, '<')) {
        const char *end = strchr(p, '>');
        size_t n = strcspn(p + 1, " />\n");

        if (end == NULL)
            return -1;
        if (p[1] == '?')
            continue;
        if (p[1] == '/') {
            n = strcspn(p + 2, " >");
            if (depth == 0 || strncmp(stack[depth - 1], p + 2, n) != 0 || stack[depth - 1][n] != '\0')
                return -1;
            depth--;
        } else if (n == 0 || n >= sizeof stack[0]) {
            return -1;
        } else if (end[-1] != '/') {
            if (depth == 64)
                return -1;
            memcpy(stack[depth], p + 1, n);
            stack[depth++][n] = '\0';
            elements++;
        } else {
            elements++;
        }
    }
    return depth == 0 ? elements : -1;
}

static size_t occurrences(const char *text, const char *what)
{
    size_t n = 0;

    for (const char *p = strstr(text, what); p != NULL; p = strstr(p + 1, what))
        n++;
    return n;
}

#endif /* WDMSIM_TRACE_CHECK_H */
