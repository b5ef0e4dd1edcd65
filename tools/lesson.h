/*
 * lesson.h - the lessons of `wdmsim lesson`: the table of classic mistakes in fake_drivers/lessons,
 * each run to the STOP it causes (with the faulty source lines) or, fixed, to a clean end.
 * Simulator world: host code.
 */
#ifndef WDMSIM_TOOLS_LESSON_H
#define WDMSIM_TOOLS_LESSON_H

#include <stdbool.h>
#include <stdio.h>

struct lesson;

/* The lesson named name, or NULL. */
const struct lesson *lesson_find(const char *name);
/* One line per lesson: its name and the mistake. */
void lessons_list(FILE *out);
/* The lesson table as Markdown (docs/lessons.md). */
void lessons_write_markdown(FILE *out);
/* Runs the lesson: the faulty source lines, the report and what to change; exit status 0 when it
 * stopped on its rule, 1 when not. fixed: runs the fixed twin instead; 0 when it ran clean. */
int lesson_show(const struct lesson *lesson, bool fixed);
/* Every lesson and every twin; exit status 0 when each lesson stopped on its rule and each twin ran
 * clean, 1 when not. */
int lessons_all(void);

#endif /* WDMSIM_TOOLS_LESSON_H */
