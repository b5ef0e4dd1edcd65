/*
 * fuzz_check.h - a fuzz target's own assertion: when what it checks does not hold it says why
 * and aborts, which libFuzzer (and ASan, in the replay programs) reports as a crash with the
 * input that caused it. Unlike assert() it stays on in optimised builds.
 */
#ifndef WDMSIM_FUZZ_CHECK_H
#define WDMSIM_FUZZ_CHECK_H

#include <stdio.h>
#include <stdlib.h>

#define FUZZ_CHECK(condition, ...)                                                                 \
    do {                                                                                           \
        if (!(condition)) {                                                                        \
            fprintf(stderr, "%s:%d: fuzz check failed: ", __FILE__, __LINE__);                    \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#endif /* WDMSIM_FUZZ_CHECK_H */
