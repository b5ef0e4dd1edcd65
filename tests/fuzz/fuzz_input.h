/*
 * fuzz_input.h - how a fuzz target reads its input: the libFuzzer entry point every target
 * defines, and a cursor that takes numbers and byte runs from the front of the input. An input
 * that runs out reads as zeros, so every input, however short, is a complete case.
 */
#ifndef WDMSIM_FUZZ_INPUT_H
#define WDMSIM_FUZZ_INPUT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fuzz_input {
    const uint8_t *data;
    size_t size;
    size_t at;
};

static inline size_t fuzz_left(const struct fuzz_input *in)
{
    return in->size - in->at;
}

static inline uint8_t fuzz_u8(struct fuzz_input *in)
{
    return in->at < in->size ? in->data[in->at++] : 0;
}

static inline uint16_t fuzz_u16(struct fuzz_input *in)
{
    uint16_t low = fuzz_u8(in);

    return (uint16_t)(low | fuzz_u8(in) << 8);
}

static inline uint32_t fuzz_u32(struct fuzz_input *in)
{
    uint32_t low = fuzz_u16(in);

    return low | (uint32_t)fuzz_u16(in) << 16;
}

static inline uint64_t fuzz_u64(struct fuzz_input *in)
{
    uint64_t low = fuzz_u32(in);

    return low | (uint64_t)fuzz_u32(in) << 32;
}

/* A number in [0, bound), bound > 0. */
static inline uint32_t fuzz_below(struct fuzz_input *in, uint32_t bound)
{
    return (bound <= 256 ? fuzz_u8(in) : fuzz_u16(in)) % bound;
}

/* Up to count bytes copied into out (the rest of out untouched); returns how many were taken. */
static inline size_t fuzz_bytes(struct fuzz_input *in, void *out, size_t count)
{
    size_t taken = count < fuzz_left(in) ? count : fuzz_left(in);

    memcpy(out, in->data + in->at, taken);
    in->at += taken;
    return taken;
}

#endif /* WDMSIM_FUZZ_INPUT_H */
