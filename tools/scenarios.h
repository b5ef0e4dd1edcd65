/*
 * scenarios.h - the scenarios `wdmsim explore` runs under many controlled schedules: small runs of
 * the DebugPrint pipeline and the DebugPrint driver that check their own results and stop the
 * machine (KeBugCheckEx 0xE00xxxxx, the reason on stderr) when a check fails.
 * Simulator world: host code driving the kernel through DDIs and the wdmsim_ host API.
 */
#ifndef WDMSIM_SCENARIOS_H
#define WDMSIM_SCENARIOS_H

#include <limits.h>
#include <stddef.h>

#include <wdmsim/wdmsim.h>

/* The bug check code of a failed check: its low 20 bits are the line of scenarios.c that made it. */
#define SCENARIO_CHECK_FAILED 0xE0000000u
#define SCENARIO_CHECK_MASK 0xFFF00000u

/* Where the driver modules are; a scenario's context. */
struct scenario_modules {
    char debugprint[PATH_MAX + 64];
    char tracedrv[PATH_MAX + 64];
};

struct scenario {
    const char *name;
    const char *description;        /* one line */
    wdmsim_scenario_fn *run;        /* context: const struct scenario_modules * */
};

size_t scenario_count(void);
const struct scenario *scenario_at(size_t index);
/* The scenario called name, or NULL. */
const struct scenario *scenario_find(const char *name);

#endif /* WDMSIM_SCENARIOS_H */
