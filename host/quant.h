/* quant.h: ggml tensor types: the table of block sizes, exact reference
 * dequantization of every supported type (bit for bit as ggml's
 * dequantize_row_*), dot products against fp32 vectors, and reference
 * quantizers used by `g3vk synth`. */
#ifndef G3_QUANT_H
#define G3_QUANT_H

#include "g3_internal.h"

/* ggml type ids (the numbers are the file format; do not renumber). */
enum g3_type {
    G3_TYPE_F32 = 0,
    G3_TYPE_F16 = 1,
    G3_TYPE_Q4_0 = 2,
    G3_TYPE_Q4_1 = 3,
    G3_TYPE_Q5_0 = 6,
    G3_TYPE_Q5_1 = 7,
    G3_TYPE_Q8_0 = 8,
    G3_TYPE_Q8_1 = 9,
    G3_TYPE_Q2_K = 10,
    G3_TYPE_Q3_K = 11,
    G3_TYPE_Q4_K = 12,
    G3_TYPE_Q5_K = 13,
    G3_TYPE_Q6_K = 14,
    G3_TYPE_Q8_K = 15,
    G3_TYPE_IQ4_NL = 20,
    G3_TYPE_IQ4_XS = 23,
    G3_TYPE_BF16 = 30,
    G3_TYPE_COUNT = 40 /* ids are < 40 in current ggml */
};

typedef struct g3_type_info {
    const char *name;    /* ggml's lower-case name: "q8_0", "q4_K", "bf16"; NULL = unknown id */
    uint32_t block_size; /* weights per block (1 for F32/F16/BF16)                            */
    uint32_t type_size;  /* bytes per block                                                    */
    bool supported;      /* g3vk can load, dequantize and multiply it                          */
} g3_type_info;

/* Info for a type id; for an unknown id (>= G3_TYPE_COUNT or a hole) returns an entry
 * with name NULL and supported false. Never NULL. */
const g3_type_info *g3_type_get(uint32_t type);
/* "q8_0", or "type#N" for unknown ids (static buffer per id range; for messages only). */
const char *g3_type_name(uint32_t type);
/* Parses a name such as "q8_0" / "Q8_0" / "f16"; returns -1 if unknown. */
int g3_type_from_name(const char *name);

/* Bytes for a row of n weights (n must be a multiple of block_size: returns false otherwise
 * or on overflow). */
bool g3_type_row_bytes(uint32_t type, uint64_t n, uint64_t *bytes);

/* fp16 / bf16 <-> f32, exact (round to nearest even when narrowing). */
float g3_fp16_to_f32(uint16_t h);
uint16_t g3_f32_to_fp16(float f);
float g3_bf16_to_f32(uint16_t h);
uint16_t g3_f32_to_bf16(float f);

/* Dequantizes n weights (a multiple of the block size) from src to dst, exactly as ggml.
 * type must be supported (the caller validated it). */
void g3_dequantize_row(uint32_t type, const void *src, float *dst, int64_t n);

/* Dot product of a quantized row of n weights with an fp32 vector x, accumulated in double.
 * Equal (to rounding) to dot(dequantize(row), x). */
double g3_dot_row(uint32_t type, const void *row, const float *x, int64_t n);

/* Reference quantizers for the types `g3vk synth` writes: F32, F16, BF16, Q8_0, Q4_0,
 * Q4_1, Q5_0, Q5_1, IQ4_NL, Q4_K, Q6_K (round-to-nearest, ggml's block layouts).
 * Returns false if the type has no quantizer here or n is not a multiple of the block. */
bool g3_quantize_row(uint32_t type, const float *src, void *dst, int64_t n);
bool g3_type_can_quantize(uint32_t type);

#endif /* G3_QUANT_H */
