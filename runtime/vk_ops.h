/* vk_ops.h: the ops of a Gemma 3 step other than the matrix-vector products
 * (vk_matvec.h): embedding gather, RMSNorm (plain and fused with the residual add),
 * RoPE with the KV-cache store, attention (split-K), GeGLU, and on-device argmax /
 * top-k over the logits. Each op is checked against its CPU reference kernel
 * (host/ref_ops.h) by tests/test_vk_ops.c.
 *
 * Conventions for every record function below:
 * - Tensors are given as g3_vk_loc: a buffer and a byte offset (a multiple of 4).
 *   Activations are fp32, rows contiguous. The function binds only the range the op
 *   touches, from the aligned offset at or below it, so tensors may sit anywhere in
 *   the planner's activation arena.
 * - Per-token values are NOT parameters: the position and the token ids are read on
 *   the device from a "step" buffer (uint32 values at the g3_vk_loc given), so a decode
 *   command buffer recorded once can be replayed for every token after the host (or
 *   a copy) rewrites the step buffer. Token t of a multi-token call is at position
 *   pos + t and its id at tokens[t].
 * - A record function emits its own dispatches with barriers only between them
 *   (attention split -> combine, the two selection passes, embedding pieces). It
 *   implies no barrier before (inputs must have been made visible with
 *   g3_vk_cmd_barrier) or after.
 * - Errors are kept in cmd as for g3_vk_cmd_dispatch (submit reports the first one):
 *   G3_ERR_INVALID_ARG for ranges outside their buffers, misaligned offsets, shapes
 *   the ops were not created for; pipeline creation failures (pipelines are created
 *   at first use, i.e. when the step is recorded at load time).
 * - The contracts of vk.h hold (NULL-safe frees, one thread per context). */
#ifndef G3_VK_OPS_H
#define G3_VK_OPS_H

#include "g3_shared.h" /* G3_MATVEC_PAD_BYTES, G3_TOPK_MAX_K */
#include "vk.h"

/* Where a tensor lives: a buffer and a byte offset (multiple of 4). */
typedef struct g3_vk_loc {
    g3_vk_buffer *buf;
    uint64_t offset;
} g3_vk_loc;

/* ---- the op set -------------------------------------------------------------------- */

/* Zero-initialize and set the attention shape; zero elsewhere means the default. */
typedef struct g3_vk_ops_options {
    uint32_t n_head;          /* query heads (required; 4 on 270M)                      */
    uint32_t n_head_kv;       /* KV heads (required; 1 on 270M), divides n_head         */
    uint32_t head_dim;        /* required; a multiple of 4 (256 on Gemma 3)             */
    uint32_t wg_size;         /* elementwise / norm / rope workgroups; default 64        */
    uint32_t attn_wg_size;    /* attention workgroup = positions per tile; default 64   */
    uint32_t select_wg_size;  /* argmax / top-k workgroups; default 256                 */
    uint32_t attn_max_splits; /* split-K workgroups per KV head at most; default 64     */
    uint32_t attn_split_min;  /* positions per split at the longest span; default 128   */
    uint32_t max_groups_x;    /* cap below maxComputeWorkGroupCount[0] (tests force the
                                 folded grid)                                          */
} g3_vk_ops_options;

typedef struct g3_vk_ops g3_vk_ops;

/* Resolves the options against the device (every workgroup size is capped by its
 * limits). G3_ERR_INVALID_ARG for a missing or inconsistent attention shape;
 * G3_ERR_UNSUPPORTED when the device lacks subgroup arithmetic in compute shaders or
 * the attention workgroup's shared memory ((GROUP * head_dim + 2 * GROUP * wg) * 4
 * bytes) exceeds its limit. No pipeline is created yet. */
g3_status g3_vk_ops_create(g3_vk_context *ctx, const g3_vk_ops_options *opt, g3_vk_ops **out,
                           g3_err *err);
/* Frees the pipelines. Rope tables created from ops must be freed before. */
void g3_vk_ops_free(g3_vk_ops *ops);
/* The options in force (defaults resolved), for logs and tests. */
g3_vk_ops_options g3_vk_ops_get_options(const g3_vk_ops *ops);

/* ---- EMBED: out[t] = E[tokens[t]] * scale ------------------------------------------ */

/* Rows [row0, row0 + n_rows) of a table split by rows (the 262144 x 640 Q8_0 table
 * is 170 MiB, above a 128 MiB binding). offset: byte offset of the piece's first
 * row in buf (multiple of 4). The buffer must hold G3_MATVEC_PAD_BYTES readable
 * bytes after the piece's last row: the block decoders read whole words (the
 * pieces that vk_matvec.c uploads have exactly this padding). */
typedef struct g3_vk_rows {
    g3_vk_buffer *buf;
    uint64_t offset;
    uint32_t row0, n_rows;
} g3_vk_rows;

typedef struct g3_vk_embedding {
    uint32_t type;            /* ggml type id: see g3_vk_embed_type_supported        */
    uint32_t cols;            /* n_embd; a multiple of the type's block              */
    uint64_t row_bytes;
    uint32_t n_pieces;
    const g3_vk_rows *pieces; /* disjoint; a token in none of them writes nothing    */
    bool streams;             /* pieces in vk_matvec.h's STREAMS layout (its types)
                                 (the tied LM head of a lane-mode device), at offset 0 */
} g3_vk_embedding;

/* F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, IQ4_NL, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K,
 * IQ4_XS: every type the loader accepts (decoders shared with matvec). */
bool g3_vk_embed_type_supported(uint32_t type);

/* Records the gather of n_tokens rows: token ids (uint32) at `tokens` in the step
 * buffer, read on the device; out receives n_tokens x cols floats. scale is
 * sqrtf(n_embd) computed in fp32 on the host (llama.cpp's value). One dispatch per
 * piece; a piece's workgroups do nothing when the token's row is elsewhere. Ids
 * outside every piece write nothing: the host validates ids it writes. */
g3_status g3_vk_record_embed(g3_vk_cmd *cmd, g3_vk_ops *ops, const g3_vk_embedding *emb,
                             g3_vk_loc tokens, uint32_t n_tokens, float scale, g3_vk_loc out);

/* ---- RMS_NORM / NORM_ADD ------------------------------------------------------------- */

/* y = x / sqrt(mean(x^2) + eps) * w over n_groups groups of n values (n = len(w): a
 * 640 row, or a 256 head for QK-norm), w as GGUF stores it (1 + w included), fp32.
 * residual not NULL: y = residual + rmsnorm(x) * w (NORM_ADD). y may alias x or the
 * residual exactly (in place). */
g3_status g3_vk_record_rms_norm(g3_vk_cmd *cmd, g3_vk_ops *ops, g3_vk_loc x, g3_vk_loc w,
                                uint32_t n, uint32_t n_groups, float eps,
                                const g3_vk_loc *residual, g3_vk_loc y);

/* NORM_ADD then the RMS_NORM of its result, in one dispatch: y = residual +
 * rmsnorm(x) * w, y2 = rmsnorm(y) * w2 (the post-norm + residual of a sub-layer and
 * the pre-norm of the next). y and y2 lie in one buffer without overlapping, as do
 * w and w2 (both are bound as the range holding the two). y may alias x or the
 * residual exactly. */
g3_status g3_vk_record_norm_add_norm(g3_vk_cmd *cmd, g3_vk_ops *ops, g3_vk_loc x, g3_vk_loc w,
                                     uint32_t n, uint32_t n_groups, float eps, g3_vk_loc residual,
                                     g3_vk_loc y, g3_vk_loc w2, g3_vk_loc y2);

/* ---- ROPE + KV_STORE ------------------------------------------------------------------ */

/* (cos, sin) of every angle p * pos_scale * base^(-2i/head_dim), i < head_dim / 2,
 * p < max_pos, as a two-level table computed in double (rope_kv.comp says why):
 * about 2 * sqrt(max_pos) rows of head_dim floats, 0.4 MiB at 32768 positions.
 * One per (base, pos_scale): Gemma 3 has two (sliding 1e4, global 1e6). Positions
 * >= max_pos must not be used with it. */
typedef struct g3_vk_rope_table g3_vk_rope_table;

g3_status g3_vk_rope_table_create(g3_vk_ops *ops, float base, float pos_scale, uint32_t max_pos,
                                  g3_vk_rope_table **out, g3_err *err);
void g3_vk_rope_table_free(g3_vk_rope_table *t);

/* One layer's KV cache: K then V, each (kv_dim, n_slots) with kv_dim = n_head_kv *
 * head_dim, in ONE buffer (both are bound as one range, so they must lie within
 * maxStorageBufferRange of each other: 64 MiB per layer at 32768 f32 slots on 270M).
 * Position p lives in slot p % n_slots: n_slots = n_ctx on global layers, a ring
 * (window + n_tokens - 1, see g3_plan_kv_slots) on sliding ones. */
typedef struct g3_vk_kv {
    g3_vk_buffer *buf;
    uint64_t k_offset; /* bytes, multiple of 4                                      */
    uint64_t v_offset;
    uint32_t n_slots;
    bool f32;          /* false (default): f16 elements; true: f32                   */
} g3_vk_kv;

/* Bytes of K (or V) of one layer. */
uint64_t g3_vk_kv_bytes(const g3_vk_ops *ops, uint32_t n_slots, bool f32);

typedef struct g3_vk_rope_kv_args {
    g3_vk_loc pos;        /* uint32 position of token 0, in the step buffer          */
    g3_vk_buffer *act;    /* q, k and v live in this one buffer (the arena): one
                             binding, so that the op stays within the 4 storage
                             bindings every device offers                             */
    uint64_t q_in, q_out; /* byte offsets: (n_head * head_dim, n_tokens); equal = in
                             place. The five ranges are otherwise disjoint.           */
    uint64_t k_in, k_out; /* (kv_dim, n_tokens); equal = in place                     */
    uint64_t v_in;        /* (kv_dim, n_tokens)                                      */
    uint32_t n_tokens;
    const g3_vk_rope_table *table;
    const g3_vk_kv *kv;
} g3_vk_rope_kv_args;

/* Records NEOX RoPE of q and k at positions pos + t (q_out, k_out), and the store of
 * the rotated k and of v into slot (pos + t) % n_slots of the cache (rounded to f16
 * unless kv->f32). One dispatch. */
g3_status g3_vk_record_rope_kv(g3_vk_cmd *cmd, g3_vk_ops *ops, const g3_vk_rope_kv_args *a);

/* ---- ATTN ----------------------------------------------------------------------------- */

typedef struct g3_vk_attn_args {
    g3_vk_loc pos;       /* uint32 position of token 0, in the step buffer           */
    g3_vk_loc q;         /* (n_head * head_dim, n_tokens), RoPE applied, unscaled     */
    g3_vk_loc out;       /* (n_head * head_dim, n_tokens)                             */
    g3_vk_loc scratch;   /* g3_vk_attn_scratch_bytes; unused (may be empty) with one
                            split                                                    */
    uint32_t n_tokens;
    const g3_vk_kv *kv;  /* written by rope_kv for every token of this call before   */
    uint32_t window;     /* 0: global layer (positions [0, pos]); else sliding:
                            [pos - window + 1, pos]                                   */
    float scale;         /* query scale, 1/sqrt(head_dim) on 270M                     */
    uint32_t n_splits;   /* 0 = g3_vk_attn_splits (tests force others)                */
} g3_vk_attn_args;

/* Split-K workgroups per (KV head, token) for a layer: from the longest span the
 * layer can attend (window, or n_slots on global layers), one per attn_split_min
 * positions, at most attn_max_splits. Fixed at record time; at run time each split
 * takes a share of the actual span (short spans leave splits idle). */
uint32_t g3_vk_attn_splits(const g3_vk_ops *ops, const g3_vk_kv *kv, uint32_t window);
/* Scratch bytes for the partials: n_tokens * n_head * n_splits * (head_dim + 2) * 4,
 * 0 when n_splits is 1. */
uint64_t g3_vk_attn_scratch_bytes(const g3_vk_ops *ops, uint32_t n_splits, uint32_t n_tokens);

/* Records softmax(q K^T * scale) V per query head (GQA: head h reads KV head
 * h / (n_head / n_head_kv)), fp32 math, as g3_ref_attention: one split dispatch,
 * then (more than one split) a barrier and the combine dispatch. */
g3_status g3_vk_record_attn(g3_vk_cmd *cmd, g3_vk_ops *ops, const g3_vk_attn_args *a);

/* ---- GELU_MUL ------------------------------------------------------------------------- */

/* y = gelu_tanh(gate) * up for n elements (y may alias either input exactly). */
g3_status g3_vk_record_gelu_mul(g3_vk_cmd *cmd, g3_vk_ops *ops, g3_vk_loc gate, g3_vk_loc up,
                                uint32_t n, g3_vk_loc y);

/* ---- argmax / top-k over the logits --------------------------------------------------- */

/* Results are (uint32 id, fp32 value bits) pairs, best first; equal values go to the
 * lowest id. As in host/sampler.c, NaN counts (and is reported) as -inf and +inf as
 * FLT_MAX. Two passes with a barrier between; the scratch holds the first pass's
 * per-workgroup candidates. */
uint64_t g3_vk_argmax_scratch_bytes(const g3_vk_ops *ops, uint32_t n);
/* out: 8 bytes (id, value). n >= 1. */
g3_status g3_vk_record_argmax(g3_vk_cmd *cmd, g3_vk_ops *ops, g3_vk_loc logits, uint32_t n,
                              g3_vk_loc scratch, g3_vk_loc out);

uint64_t g3_vk_topk_scratch_bytes(const g3_vk_ops *ops, uint32_t n, uint32_t k);
/* out: k * 8 bytes. 1 <= k <= G3_TOPK_MAX_K (64), k <= n. */
g3_status g3_vk_record_topk(g3_vk_cmd *cmd, g3_vk_ops *ops, g3_vk_loc logits, uint32_t n,
                            uint32_t k, g3_vk_loc scratch, g3_vk_loc out);

#endif /* G3_VK_OPS_H */
