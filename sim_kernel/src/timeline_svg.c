/*
 * timeline_svg.c - the timeline as a picture a browser opens without tools: one lane per thread,
 * grouped under its process, slices coloured by kind and labelled where they are wide enough
 * (every slice has a tooltip), instants (STOPs, warnings) as marks, flows (wakes, IRPs) as thin
 * lines. The x axis is the order of events, not their time, since virtual time stands still
 * while threads run; the ruler above shows the time at each mark.
 * Locking: timeline.c's lock, held by the caller throughout.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "timeline.h"

#define SVG_LEFT 230.0
#define SVG_TOP 70.0
#define SVG_ROW 16.0
#define SVG_PROCESS_ROW 20.0
#define SVG_LANE_GAP 6.0
#define SVG_MAX_DEPTH 32
#define SVG_CHAR_WIDTH 6.0

static const char *const svg_colours[TIMELINE_KIND_COUNT] = {
    [TIMELINE_IRQL] = "#f4d35e", [TIMELINE_SPIN_LOCK] = "#ee964b", [TIMELINE_WAIT] = "#c9d6df",
    [TIMELINE_DPC] = "#8e7dbe", [TIMELINE_WORK_ITEM] = "#6cc4a1", [TIMELINE_DISPATCH] = "#4f9dde",
    [TIMELINE_COMPLETION] = "#2a6f97", [TIMELINE_COMPLETE_REQUEST] = "#9bc1bc", [TIMELINE_WAKE] = "#b8b8b8",
    [TIMELINE_STOP] = "#d62828", [TIMELINE_WARNING] = "#f77f00", [TIMELINE_NOTE] = "#777777",
};

/* What the first walk learns: how many events, how deep each thread's slices go, the largest flow. */
struct svg_measure {
    unsigned long long events;
    unsigned depth[1024];
    uint64_t max_flow;
};

struct svg_open {
    unsigned long long order;
    struct timeline_event begin;
};

struct svg_draw {
    FILE *out;
    double step;                    /* pixels per event */
    double *lane_y;                 /* per thread */
    struct svg_open (*open)[SVG_MAX_DEPTH];
    struct { double x, y; bool set; } *flow_start;
    uint64_t max_flow;
    unsigned long long order;
    double next_tick;
};

static void svg_measure_event(void *context, const struct timeline_event *e, unsigned long long ns, unsigned depth,
                              bool synthetic)
{
    struct svg_measure *m = context;

    (void)ns;
    (void)synthetic;
    m->events++;
    if (e->ph == 'B' && depth + 1 > m->depth[e->thread])
        m->depth[e->thread] = depth + 1;
    if ((e->ph == 's' || e->ph == 'f') && e->id > m->max_flow)
        m->max_flow = e->id;
}

/* At most max_chars of text, escaped; plain runs go out whole. */
static void svg_text(FILE *out, const char *text, size_t max_chars)
{
    static const char *const entities[] = { ['<'] = "&lt;", ['>'] = "&gt;", ['&'] = "&amp;", ['"'] = "&quot;" };
    size_t length = strnlen(text, max_chars);

    while (length > 0) {
        size_t plain = strcspn(text, "<>&\"");

        if (plain > length)
            plain = length;
        fwrite(text, 1, plain, out);
        text += plain;
        length -= plain;
        if (length > 0) {
            fputs(entities[(unsigned char)*text++], out);
            length--;
        }
    }
}

static double svg_x(const struct svg_draw *d, unsigned long long order)
{
    return SVG_LEFT + (double)order * d->step;
}

static void svg_slice(struct svg_draw *d, const struct svg_open *o, unsigned long long end, unsigned depth)
{
    double x = svg_x(d, o->order);
    double width = (double)(end - o->order) * d->step;
    double y = d->lane_y[o->begin.thread] + depth * SVG_ROW;
    char label[256];

    timeline_label(&o->begin, label, sizeof label);
    fprintf(d->out, "<g class=\"%s\"><rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\"><title>",
            timeline_kind_name(o->begin.kind), x, y, width < 1 ? 1 : width, SVG_ROW - 2, svg_colours[o->begin.kind]);
    svg_text(d->out, label, sizeof label);
    fprintf(d->out, " (%s)</title></rect>", timeline_kind_name(o->begin.kind));
    if (width >= 4 * SVG_CHAR_WIDTH) {
        fprintf(d->out, "<text x=\"%.1f\" y=\"%.1f\">", x + 2, y + SVG_ROW - 5);
        svg_text(d->out, label, (size_t)(width / SVG_CHAR_WIDTH) - 1);
        fputs("</text>", d->out);
    }
    fputs("</g>\n", d->out);
}

static void svg_instant(struct svg_draw *d, const struct timeline_event *e)
{
    double x = svg_x(d, d->order);
    double y = d->lane_y[e->thread];

    fprintf(d->out, "<g class=\"%s\"><path d=\"M%.1f %.1f l5 -9 l-10 0 z\" fill=\"%s\"/>"
            "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" stroke-width=\"2\"/><title>",
            timeline_kind_name(e->kind), x, y, svg_colours[e->kind], x, y, x, y + SVG_ROW * 2, svg_colours[e->kind]);
    svg_text(d->out, e->name ? e->name : "", 512);
    fprintf(d->out, "</title></g><text class=\"instant\" x=\"%.1f\" y=\"%.1f\" fill=\"%s\">", x + 6, y + SVG_ROW,
            svg_colours[e->kind]);
    svg_text(d->out, e->name ? e->name : "", 72);
    fputs("</text>\n", d->out);
}

static void svg_flow(struct svg_draw *d, const struct timeline_event *e, unsigned depth)
{
    double x = svg_x(d, d->order);
    double y = d->lane_y[e->thread] + (depth > 0 ? depth - 1 : 0) * SVG_ROW + SVG_ROW / 2;

    if (e->id > d->max_flow)
        return;
    if (e->ph == 's') {
        d->flow_start[e->id].x = x;
        d->flow_start[e->id].y = y;
        d->flow_start[e->id].set = true;
    } else if (e->ph == 'f' && d->flow_start[e->id].set) {
        fprintf(d->out, "<line class=\"flow\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"><title>%s</title></line>\n",
                d->flow_start[e->id].x, d->flow_start[e->id].y, x, y, e->kind == TIMELINE_WAKE ? "wake" : "IRP");
    }
}

static void svg_tick(struct svg_draw *d, unsigned long long ns)
{
    double x = svg_x(d, d->order);

    if (x < d->next_tick)
        return;
    fprintf(d->out, "<line class=\"tick\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>"
            "<text class=\"ruler\" x=\"%.1f\" y=\"%.1f\">%llu.%06llu s</text>\n",
            x, SVG_TOP - 14, x, SVG_TOP - 4, x + 2, SVG_TOP - 16, ns / 1000000000ull, ns / 1000 % 1000000ull);
    d->next_tick = x + 160;
}

static void svg_draw_event(void *context, const struct timeline_event *e, unsigned long long ns, unsigned depth,
                           bool synthetic)
{
    struct svg_draw *d = context;

    (void)synthetic;
    svg_tick(d, ns);
    if (e->ph == 'B' && depth < SVG_MAX_DEPTH)
        d->open[e->thread][depth] = (struct svg_open){ d->order, *e };
    else if (e->ph == 'E' && depth < SVG_MAX_DEPTH)
        svg_slice(d, &d->open[e->thread][depth], d->order, depth);
    else if (e->ph == 'i')
        svg_instant(d, e);
    else if (e->ph == 's' || e->ph == 'f')
        svg_flow(d, e, depth);
    d->order++;
}

static double svg_lane_height(const struct svg_measure *m, size_t thread)
{
    return (m->depth[thread] > 0 ? m->depth[thread] : 1) * SVG_ROW + SVG_LANE_GAP;
}

static double svg_height(const struct timeline_view *view, const struct svg_measure *m)
{
    double height = SVG_TOP + SVG_LANE_GAP;

    for (size_t i = 0; i < view->thread_count; i++) {
        bool new_process = true;

        for (size_t k = 0; k < i; k++)
            new_process &= view->threads[k].pid != view->threads[i].pid;
        height += svg_lane_height(m, i) + (new_process ? SVG_PROCESS_ROW : 0);
    }
    return height;
}

/* Lanes top to bottom by process, in the order threads first appeared; returns the height. */
static void svg_lanes(FILE *out, const struct timeline_view *view, const struct svg_measure *m, double width,
                      double *lane_y)
{
    double y = SVG_TOP;
    bool *placed = calloc(view->thread_count + 1, sizeof *placed);

    for (size_t i = 0; placed != NULL && i < view->thread_count; i++) {
        if (placed[i])
            continue;
        fprintf(out, "<text class=\"process\" x=\"4\" y=\"%.1f\">", y + 14);
        svg_text(out, view->threads[i].process, 64);
        fputs("</text>\n", out);
        y += SVG_PROCESS_ROW;
        for (size_t k = i; k < view->thread_count; k++) {
            double height = svg_lane_height(m, k);

            if (placed[k] || view->threads[k].pid != view->threads[i].pid)
                continue;
            placed[k] = true;
            lane_y[k] = y;
            fprintf(out, "<rect class=\"lane\" x=\"0\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\"/>"
                    "<text class=\"thread\" x=\"14\" y=\"%.1f\">", y, width, height - 2, y + 12);
            svg_text(out, view->threads[k].name, 36);
            fputs("</text>\n", out);
            y += height;
        }
    }
    free(placed);
}

static void svg_legend(FILE *out, const struct timeline_view *view)
{
    double x = 4;

    for (int k = 0; k < TIMELINE_KIND_COUNT; k++) {
        if (k == TIMELINE_NOTE)
            continue;
        fprintf(out, "<rect x=\"%.1f\" y=\"24\" width=\"12\" height=\"12\" fill=\"%s\"/><text x=\"%.1f\" y=\"34\">%s</text>\n",
                x, svg_colours[k], x + 16, timeline_kind_name(k));
        x += 24 + SVG_CHAR_WIDTH * (double)strlen(timeline_kind_name(k));
    }
    fprintf(out, "<text x=\"4\" y=\"14\" class=\"title\">wdmsim timeline: %llu events, one lane per thread; x is the "
            "order of events, the ruler their virtual time", view->kept);
    if (view->dropped > 0)
        fprintf(out, " (ring full: the %llu earliest events were dropped)", view->dropped);
    fputs("</text>\n", out);
}

void timeline_write_svg(FILE *out)
{
    struct svg_measure *m = calloc(1, sizeof *m);
    struct timeline_visitor measure = { svg_measure_event, m };
    struct svg_draw d = { .out = out };
    struct timeline_visitor draw = { svg_draw_event, &d };
    struct timeline_view view;
    double width, height;

    if (m == NULL)
        return;
    timeline_walk(&measure, &view);
    d.step = m->events > 0 ? 2400.0 / (double)m->events : 1;
    d.step = d.step > 12 ? 12 : d.step < 1 ? 1 : d.step;
    d.max_flow = m->max_flow;
    d.lane_y = calloc(view.thread_count + 1, sizeof *d.lane_y);
    d.open = calloc(view.thread_count + 1, sizeof *d.open);
    d.flow_start = calloc(m->max_flow + 1, sizeof *d.flow_start);
    width = SVG_LEFT + (double)m->events * d.step + 40;
    if (d.lane_y != NULL && d.open != NULL && d.flow_start != NULL) {
        height = svg_height(&view, m);
        fprintf(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" "
                "width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" ", width, height, width, height);
        fprintf(out, "font-family=\"monospace\" font-size=\"10\">\n<style>.lane{fill:#f7f7f7}.flow{stroke:#555;"
                "stroke-width:0.6;opacity:0.5}.tick{stroke:#999}.process{font-weight:bold;font-size:12px}"
                ".title{font-size:12px}.instant{font-weight:bold}</style>\n");
        svg_legend(out, &view);
        svg_lanes(out, &view, m, width, d.lane_y);
        timeline_walk(&draw, &view);
        fprintf(out, "<rect width=\"%.0f\" height=\"%.0f\" fill=\"none\" stroke=\"#ccc\"/>\n</svg>\n", width, height);
    }
    free(d.flow_start);
    free(d.open);
    free(d.lane_y);
    free(m);
}
