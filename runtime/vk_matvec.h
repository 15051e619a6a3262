/* vk_matvec.h: weights on the device and the matrix-vector products of the decode
 * path, y[t][r] = sum_c W[r][c] * x[t][c], for every weight type the loader accepts
 * (F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, IQ4_NL, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K,
 * IQ4_XS). Activations are fp32, sums are fp32.
 *
 * Weights stay in their GGUF block layout on the device, except Q8_0 / Q4_0 in the
 * STREAMS layout (g3_vk_matvec_layout; CPU devices by default). A weight larger than
 * the device's maxStorageBufferRange (the 262144 x 640 Q8_0 LM head is 170 MiB; lavapipe
 * and many mobile GPUs bind at most 128 MiB) is split by whole rows into pieces, each
 * in its own buffer, and the kernel runs once per piece.
 *
 * The contracts of vk.h hold here too (statuses, err messages, NULL-safe frees, one
 * thread per context). */
#ifndef G3_VK_MATVEC_H
#define G3_VK_MATVEC_H

#include "model.h"
#include "vk.h"
#include "vk_ops.h" /* g3_vk_rows */

/* How invocations share the work (matvec.comp). */
typedef enum g3_vk_matvec_mode {
    G3_VK_MATVEC_AUTO = 0,  /* LANE on CPU devices (lavapipe), GROUP elsewhere         */
    G3_VK_MATVEC_GROUP = 1, /* a workgroup reads each of its rows together (adjacent
                               invocations, adjacent words) and reduces: GPUs         */
    G3_VK_MATVEC_LANE = 2,  /* each invocation computes whole rows, all lanes walking
                               the same columns: each word of a block is loaded once,
                               x serves rows_per_wg rows, no reduction or barrier;
                               SIMD-on-CPU devices, where every load in a loop costs
                               a per-lane loop                                       */
} g3_vk_matvec_mode;

/* How Q8_0 / Q4_0 / Q5_0 / Q4_1 / Q5_1 weights lie on the device (the other types keep
 * GGUF blocks). */
typedef enum g3_vk_matvec_layout {
    G3_VK_MATVEC_LAYOUT_AUTO = 0,    /* STREAMS in LANE mode on devices with 64-bit
                                        integers and subgroup ballot, else GGUF      */
    G3_VK_MATVEC_LAYOUT_GGUF = 1,    /* the file's blocks as they are                */
    G3_VK_MATVEC_LAYOUT_STREAMS = 2, /* re-laid out at upload (G3_STREAMS_* in
                                        g3_shared.h): the quants of a block of 8
                                        adjacent rows side by side, so the lanes of
                                        one load read contiguous memory, then the f16
                                        block scales grouped the same way; LANE mode
                                        only: one vector load per block and row, x as
                                        a uniform buffer (1.3-1.6x decode on lavapipe
                                        over row-major streams)                     */
} g3_vk_matvec_layout;

/* The STREAMS kernels' index of a weight type: 0 Q8_0, 1 Q4_0, 2 Q5_0, 3 Q4_1, 4 Q5_1;
 * -1 for the types that always keep their GGUF blocks. */
int g3_vk_streams_kind(uint32_t type);
/* Bytes of a STREAMS piece of `rows` rows of `cols` columns of a type that has the
 * layout (G3_STREAMS_* in g3_shared.h: quants, scales, minima, qh words), without the
 * padding after it. */
uint64_t g3_vk_streams_bytes(uint32_t type, uint64_t cols, uint64_t rows);

/* Zero-initialize and set only what you need; zero means "the device's default". */
typedef struct g3_vk_matvec_options {
    g3_vk_matvec_mode mode;
    uint32_t wg_size;         /* invocations per workgroup; default by device        */
    uint32_t rows_per_wg;     /* rows per workgroup (GROUP) or per invocation (LANE);
                                 default by device                                   */
    uint64_t max_piece_bytes; /* cap on a piece's bytes, below the device's own limits
                                 (tests force a split on any device)                 */
    uint32_t max_groups_x;    /* cap on workgroups per dispatch dimension, below
                                 maxComputeWorkGroupCount (tests force the fold)      */
    g3_vk_matvec_layout layout; /* resolved to GGUF or STREAMS                       */
    bool no_texel;            /* STREAMS: read the weights as storage buffers instead of
                                 a uniform texel buffer (lavapipe gathers texels with
                                 vector instructions: +30-50% decode; tests compare)  */
} g3_vk_matvec_options;

/* The matvec kernels of one context: a pipeline per weight type (and alignment
 * variant) used so far, created when the first weight of that type is uploaded. */
typedef struct g3_vk_matvec g3_vk_matvec;

/* Resolves the options against the device. G3_ERR_UNSUPPORTED when the device lacks
 * subgroup arithmetic in compute shaders, or when the asked workgroup does not fit
 * its limits (named). opt may be NULL. */
g3_status g3_vk_matvec_create(g3_vk_context *ctx, const g3_vk_matvec_options *opt,
                              g3_vk_matvec **out, g3_err *err);
/* Frees the pipelines. Every weight uploaded through mv must be freed before. */
void g3_vk_matvec_free(g3_vk_matvec *mv);
/* The options in force (defaults resolved), for logs and tests. */
g3_vk_matvec_options g3_vk_matvec_get_options(const g3_vk_matvec *mv);

/* Whether g3_vk_weight_upload accepts this ggml type id. */
bool g3_vk_matvec_type_supported(uint32_t type);

/* ---- weights ----------------------------------------------------------------------- */

typedef struct g3_vk_weight g3_vk_weight;

/* Called after each uploaded chunk with the bytes done so far and the total (the
 * weight's bytes); the last call has done == total. */
typedef void (*g3_vk_progress_fn)(void *user, uint64_t done, uint64_t total);

/* Uploads w (ne = {cols, rows}, rows * row_bytes bytes at w->data, read only during
 * the call) into device-local buffers, splitting it by rows where needed, through a
 * host-visible staging buffer in chunks; creates the pipeline for its type on first
 * use. progress may be NULL. Waits until the data is on the device.
 * Errors: G3_ERR_UNSUPPORTED for a type without a kernel or a single row too large
 * for one binding; G3_ERR_INVALID_ARG for a shape that does not match the type
 * (cols not a multiple of the block, row_bytes inconsistent); G3_ERR_OUT_OF_MEMORY
 * when device (or host) memory runs out. Every message names the tensor. */
g3_status g3_vk_weight_upload(g3_vk_matvec *mv, const g3_weight *w, g3_vk_progress_fn progress,
                              void *user, g3_vk_weight **out, g3_err *err);
/* Frees the device buffers; the GPU must no longer use them. NULL is a no-op. */
void g3_vk_weight_free(g3_vk_weight *w);

typedef struct g3_vk_weight_info {
    const char *name;        /* the tensor name (copied at upload)          */
    uint32_t type;           /* ggml type id                                */
    int64_t cols, rows;      /* ne[0], ne[1]                                */
    uint64_t row_bytes;
    uint32_t n_pieces;       /* dispatches per token chunk                  */
    uint32_t rows_per_piece; /* all pieces but the last have this many rows */
    uint64_t device_bytes;   /* sum of the pieces' buffer sizes             */
    bool streams;            /* G3_VK_MATVEC_LAYOUT_STREAMS (g3_vk_streams_kind >= 0) */
} g3_vk_weight_info;

g3_vk_weight_info g3_vk_weight_get_info(const g3_vk_weight *w);

/* Piece i of an uploaded weight as rows of a buffer (for the embedding gather,
 * which reads the tied token_embd pieces); zeroed for i out of range. */
g3_vk_rows g3_vk_weight_piece(const g3_vk_weight *w, uint32_t i);

/* ---- recording ------------------------------------------------------------------- */

/* Records y = W x for n_tokens tokens: x holds n_tokens rows of cols floats from byte
 * x_offset, y receives n_tokens rows of rows floats from byte y_offset. x_offset is a
 * multiple of 16 for the block types (x is read 16 bytes at a time) and of 4 for
 * F32/F16/BF16; y_offset a multiple of 4; binding alignment is handled here. Emits
 * one dispatch per piece and per chunk of G3_MATVEC_MAX_TOKENS tokens (a 1-token
 * pipeline for a chunk of one), with barriers only between its own dispatches whose
 * output ranges touch. Implies no barrier before (x must have been made visible by
 * the caller) or after. Errors are kept in cmd as for g3_vk_cmd_dispatch:
 * G3_ERR_INVALID_ARG for out-of-range or misaligned buffers or n_tokens 0. */
g3_status g3_vk_matvec_record(g3_vk_cmd *cmd, const g3_vk_weight *w, g3_vk_buffer *x,
                              uint64_t x_offset, g3_vk_buffer *y, uint64_t y_offset,
                              uint32_t n_tokens);

#endif /* G3_VK_MATVEC_H */
