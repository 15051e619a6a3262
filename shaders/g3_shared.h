/* g3_shared.h: layouts shared by the C runtime and the GLSL shaders.
 *
 * Included by runtime/ and host C files and by the shaders (.comp files, through
 * GL_GOOGLE_include_directive). Keep to 32-bit scalars so a struct has the same
 * layout in C, in std430 buffers and in push-constant blocks; every struct has a
 * _Static_assert on its size so a field added on one side only fails the build.
 *
 * Rules (style.md 4.3): push constants carry what changes per dispatch, spec
 * constants what is fixed at pipeline creation (workgroup size, model dims),
 * #define variants only a type change. Binding numbers are named here. */
#ifndef G3_SHARED_H
#define G3_SHARED_H

#ifdef GL_core_profile
#define G3_U32 uint
#else
#include <stdint.h>
#define G3_U32 uint32_t
#endif

/* Specialization constant ids common to every pipeline. The workgroup size is a
 * spec constant (layout(local_size_x_id = G3_SPEC_WG_SIZE)) so it can follow the
 * device (subgroup size 8 on lavapipe, 32/64 on desktop GPUs) without a rebuild. */
#define G3_SPEC_WG_SIZE 0

/* ---- fill.comp: y[out_off + i] = a * i + b for i < n (the smoke-test kernel) ---- */
#define G3_FILL_BINDING_OUT 0

struct g3_pc_fill {
    G3_U32 n;       /* elements to write                              */
    G3_U32 out_off; /* element offset of y[0] in the output binding   */
    float a;        /* slope                                          */
    float b;        /* intercept                                      */
};

#ifndef GL_core_profile
_Static_assert(sizeof(struct g3_pc_fill) == 16, "g3_pc_fill: push-constant layout");
#endif

/* ---- scale.comp: y[out_off + i] = a * x[in_off + i] + b for i < n ---------------- */
#define G3_SCALE_BINDING_IN 0
#define G3_SCALE_BINDING_OUT 1

struct g3_pc_scale {
    G3_U32 n;       /* elements                                        */
    G3_U32 in_off;  /* element offset of x[0] in the input binding     */
    G3_U32 out_off; /* element offset of y[0] in the output binding    */
    float a;        /* scale (sqrt(n_embd) for the Gemma embedding)    */
    float b;        /* bias                                            */
};

#ifndef GL_core_profile
_Static_assert(sizeof(struct g3_pc_scale) == 20, "g3_pc_scale: push-constant layout");
#endif

/* ---- matvec.comp: y[t][r] = sum_c W[r][c] * x[t][c] (runtime/vk_matvec.c) ---------
 * W is bound as uint[] in its GGUF block layout (one piece of a split weight), x and
 * y as float[]. Offsets and strides count elements of the bound ranges; W's in bytes. */
#define G3_MATVEC_BINDING_W 0
#define G3_MATVEC_BINDING_X 1
#define G3_MATVEC_BINDING_Y 2
#define G3_MATVEC_SPEC_ROWS 1     /* rows per workgroup                              */
#define G3_MATVEC_SPEC_ALIGNED4 2 /* every 32-bit field is 4-byte aligned (bool)     */
#define G3_MATVEC_SPEC_LANE_ROWS 3 /* whole rows per invocation (bool): CPU devices */
#define G3_MATVEC_SPEC_TOKENS 4   /* tokens per dispatch, 1..G3_MATVEC_MAX_TOKENS     */
#define G3_MATVEC_MAX_TOKENS 4    /* most tokens per dispatch (accumulators per row) */
#define G3_MATVEC_PAD_BYTES 16    /* slack after a piece's last row (word-pair reads)*/
#define G3_MATVEC_UBO_VEC4 1024   /* x of a uniform-x kernel: 16 KiB, any device     */

/* STREAMS layout (vk_matvec.h) of one piece: Q8_0 / Q4_0 rows re-laid out at upload for
 * kernels that give each lane whole rows (CPU devices). Rows go in groups of
 * G3_STREAMS_LANES, the SIMD width of lavapipe's 8-lane subgroups: the qb quant bytes
 * (Q8_0 32, Q4_0 16) of block b of the group's rows lie side by side, so that the
 * lanes of one load read one contiguous run of memory instead of 8 rows qrow bytes
 * apart (64 streams per thread at 8 rows per lane: 2x slower on lavapipe's LM head).
 * Then, from s_off (32-byte aligned), the f16 block scales: per group of rows, per 8
 * blocks, 16 bytes (8 scales) of each row side by side. qrow = quant bytes per row,
 * sb = G3_STREAMS_SB(n_cols) scale bytes per row. Offsets in bytes from the piece. */
#define G3_STREAMS_LANES 8u
#define G3_STREAMS_SB(n_cols) (((n_cols) / 32u * 2u + 31u) / 32u * 32u)
#define G3_STREAMS_QOFF(r, b, qrow, qb)                                                   \
    ((r) / G3_STREAMS_LANES * G3_STREAMS_LANES * (qrow) + (b) * (G3_STREAMS_LANES * (qb)) + \
     (r) % G3_STREAMS_LANES * (qb))
#define G3_STREAMS_ROUND_ROWS(n_rows) \
    (((n_rows) + G3_STREAMS_LANES - 1u) / G3_STREAMS_LANES * G3_STREAMS_LANES)
#define G3_STREAMS_SOFF(n_rows, qrow) ((G3_STREAMS_ROUND_ROWS(n_rows) * (qrow) + 31u) / 32u * 32u)
#define G3_STREAMS_SCALE_OFF(r, b, sb)                                                    \
    ((r) / G3_STREAMS_LANES * G3_STREAMS_LANES * (sb) + (b) / 8u * (G3_STREAMS_LANES * 16u) + \
     (r) % G3_STREAMS_LANES * 16u + (b) % 8u * 2u)
#define G3_STREAMS_BYTES(n_rows, qrow, sb) \
    (G3_STREAMS_SOFF(n_rows, qrow) + G3_STREAMS_ROUND_ROWS(n_rows) * (sb))
/* Q4_1 / Q5_1: from G3_STREAMS_BYTES(...) (the end of the scales), the f16 block minima
 * m, laid out as the scales. Q5_0 / Q5_1: then, from G3_STREAMS_QH_OFF, the qh words
 * (bit j = 5th bit of column j): per group of rows, per 4 blocks, 16 bytes (4 words)
 * of each row side by side; hb = G3_STREAMS_HB(n_cols) bytes per row. */
#define G3_STREAMS_QH_OFF(n_rows, qrow, sb, has_min) \
    (G3_STREAMS_BYTES(n_rows, qrow, sb) + (has_min) * G3_STREAMS_ROUND_ROWS(n_rows) * (sb))
#define G3_STREAMS_HB(n_cols) (((n_cols) / 32u * 4u + 15u) / 16u * 16u)
#define G3_STREAMS_HOFF(r, b, hb)                                                         \
    ((r) / G3_STREAMS_LANES * G3_STREAMS_LANES * (hb) + (b) / 4u * (G3_STREAMS_LANES * 16u) + \
     (r) % G3_STREAMS_LANES * 16u + (b) % 4u * 4u)

struct g3_pc_matvec {
    G3_U32 n_cols;   /* weights per row (x length)                                    */
    G3_U32 n_rows;   /* rows of this piece                                            */
    G3_U32 row_bytes;/* bytes per row in W                                            */
    G3_U32 w_off;    /* byte offset of the piece's row 0 in the W binding             */
    G3_U32 x_off;    /* element offset of token 0's x in the X binding                */
    G3_U32 x_stride; /* elements between two tokens' x                                */
    G3_U32 y_off;    /* element offset of (token 0, piece row 0) in the Y binding     */
    G3_U32 y_stride; /* elements between two tokens' y (the weight's total rows)      */
    G3_U32 n_tokens; /* 1..the pipeline's G3_MATVEC_SPEC_TOKENS                       */
};

#ifndef GL_core_profile
_Static_assert(sizeof(struct g3_pc_matvec) == 36, "g3_pc_matvec: push-constant layout");
#endif

/* ---- runtime/vk_ops.c: the non-matvec ops of a step ---------------------------------
 * Every offset below counts elements (32-bit words; halves for an f16 KV cache) of
 * the bound range, which starts at the aligned offset at or below the tensor. Per-token
 * values that change at every step (position, token id) are never push constants:
 * they are read from a "step" storage buffer (a uint at word *_off), so that one
 * recorded command buffer can be replayed for every token. Spec-constant ids 1..3
 * are op-specific (0 is the workgroup size for all). */

/* embed.comp: Y[y_off + t*n_cols + c] = dequant(W row (token_t - row0))[c] * scale, for
 * the tokens whose row lies in this piece [row0, row0 + n_rows) of a row-split table. */
#define G3_EMBED_BINDING_STEP 0
#define G3_EMBED_BINDING_W 1
#define G3_EMBED_BINDING_Y 2
#define G3_EMBED_SPEC_ALIGNED4 1 /* every 32-bit field 4-byte aligned (dequant.glsl) */

struct g3_pc_embed {
    G3_U32 n_cols;    /* values per row (n_embd)                                      */
    G3_U32 row_bytes; /* bytes per row in W                                           */
    G3_U32 row0;      /* vocabulary row of the piece's first row                      */
    G3_U32 n_rows;    /* rows in this piece                                           */
    G3_U32 w_off;     /* byte offset of the piece's first row in the W binding        */
    G3_U32 tok_off;   /* word of token 0's id in the step binding                     */
    G3_U32 y_off;     /* element offset of token 0's row in Y                         */
    G3_U32 n_tokens;  /* rows of Y (grid y)                                           */
    float scale;      /* sqrtf(n_embd), computed in fp32 on the host as llama.cpp does */
};

/* rms_norm.comp: per group g of n values: y = x / sqrt(mean(x^2) + eps) * w (+ r). */
#define G3_RMS_NORM_BINDING_X 0
#define G3_RMS_NORM_BINDING_W 1
#define G3_RMS_NORM_BINDING_Y 2
#define G3_RMS_NORM_BINDING_R 3
#define G3_RMS_NORM_SPEC_FUSE_ADD 1 /* bool: add the residual R (NORM_ADD)           */
#define G3_RMS_NORM_SPEC_NORM2 2    /* bool (with FUSE_ADD): then y2 = rmsnorm(y) * w2  */

struct g3_pc_rms_norm {
    G3_U32 n;        /* values per group = len(w): 640 rows, 256 per-head QK-norm      */
    G3_U32 n_groups; /* groups (tokens, or heads x tokens)                             */
    G3_U32 x_off;
    G3_U32 w_off;
    G3_U32 y_off;
    G3_U32 r_off;    /* unused unless FUSE_ADD                                         */
    float eps;
    G3_U32 w2_off;   /* NORM2: the second norm's weights (in W) and output (in Y)     */
    G3_U32 y2_off;
};

/* rope_kv.comp: NEOX RoPE of q and k (in place or to another range of the same
 * activation binding), and k, v stored at slot (pos + t) % n_slots of the layer's
 * KV cache (f16 by default, f32 with -DKV_F32). Angles come from a two-level table
 * of (cos, sin) computed in double on the host (runtime/vk_ops.c). */
#define G3_ROPE_KV_BINDING_STEP 0
#define G3_ROPE_KV_BINDING_ACT 1
#define G3_ROPE_KV_BINDING_KV 2
#define G3_ROPE_KV_BINDING_TABLE 3

struct g3_pc_rope_kv {
    G3_U32 pos_off;   /* word of token 0's position in the step binding               */
    G3_U32 n_head;
    G3_U32 n_head_kv;
    G3_U32 head_dim;  /* a multiple of 4                                              */
    G3_U32 q_in;      /* element offsets in ACT of token 0 (token t adds t * width)   */
    G3_U32 q_out;
    G3_U32 k_in;
    G3_U32 k_out;
    G3_U32 v_in;
    G3_U32 k_cache;   /* element offset of slot 0 of K in KV (even)                   */
    G3_U32 v_cache;   /* element offset of slot 0 of V in KV (even)                   */
    G3_U32 n_slots;
    G3_U32 lo_bits;   /* table: (1 << lo_bits) low-position rows, then n_hi rows      */
    G3_U32 n_hi;
    G3_U32 n_tokens;
};

/* attn.comp: one query token per (split, KV head, token) workgroup; all query heads of
 * the KV head's group at once. With one split it writes the output directly, else
 * partials (max, sum, unnormalized acc[head_dim]) that attn_combine.comp merges. */
#define G3_ATTN_BINDING_STEP 0
#define G3_ATTN_BINDING_Q 1
#define G3_ATTN_BINDING_KV 2
#define G3_ATTN_BINDING_OUT 3
#define G3_ATTN_SPEC_HEAD_DIM 1
#define G3_ATTN_SPEC_GROUP 2 /* query heads per KV head                                */

struct g3_pc_attn {
    G3_U32 pos_off;  /* word of token 0's position in the step binding                */
    G3_U32 q_off;    /* element offset of token 0's q in Q                            */
    G3_U32 q_stride; /* elements between two tokens' q (n_head * head_dim)            */
    G3_U32 out_off;  /* direct: token 0's output in OUT; else the partials            */
    G3_U32 out_stride;
    G3_U32 k_cache;  /* element offset of slot 0 of K in KV                           */
    G3_U32 v_cache;
    G3_U32 n_slots;
    G3_U32 window;   /* 0: global (positions [0, pos]); else [pos - window + 1, pos]  */
    G3_U32 n_splits; /* workgroups per (KV head, token); 1 = direct output            */
    G3_U32 n_head;
    float scale;     /* query scale (1/sqrt(head_dim) for Gemma 3 270M)               */
};

#define G3_ATTN_COMBINE_BINDING_PART 0
#define G3_ATTN_COMBINE_BINDING_OUT 1

struct g3_pc_attn_combine {
    G3_U32 head_dim;
    G3_U32 n_head;
    G3_U32 n_splits;
    G3_U32 part_off; /* element offset of the partials                                */
    G3_U32 out_off;
    G3_U32 out_stride;
};

/* gelu_mul.comp: y = gelu_tanh(g) * u, elementwise. */
#define G3_GELU_MUL_BINDING_G 0
#define G3_GELU_MUL_BINDING_U 1
#define G3_GELU_MUL_BINDING_Y 2

struct g3_pc_gelu_mul {
    G3_U32 n;
    G3_U32 g_off;
    G3_U32 u_off;
    G3_U32 y_off;
};

/* argmax.comp / topk.comp: two passes. Pass 1 reads fp32 logits and writes, per
 * workgroup, its best (key, id) pairs; the FINAL pass reads those pairs and writes
 * (id, value bits) pairs, best first, ties to the lowest id. key is an order-
 * preserving uint of the value (reduce_ops.glsl); NaN counts as -inf and +inf as
 * FLT_MAX, as in host/sampler.c. */
#define G3_SELECT_BINDING_SRC 0
#define G3_SELECT_BINDING_DST 1
#define G3_SELECT_SPEC_FINAL 1 /* bool: the second pass                               */
#define G3_TOPK_MAX_K 64

struct g3_pc_select {
    G3_U32 n;         /* pass 1: logits; FINAL: candidate pairs                        */
    G3_U32 per_group; /* pass 1: logits per workgroup                                  */
    G3_U32 k;         /* pairs kept (argmax: 1)                                        */
    G3_U32 src_off;   /* word offsets in the bindings                                  */
    G3_U32 dst_off;
};

#ifndef GL_core_profile
_Static_assert(sizeof(struct g3_pc_embed) == 36, "g3_pc_embed: push-constant layout");
_Static_assert(sizeof(struct g3_pc_rms_norm) == 36, "g3_pc_rms_norm: push-constant layout");
_Static_assert(sizeof(struct g3_pc_rope_kv) == 60, "g3_pc_rope_kv: push-constant layout");
_Static_assert(sizeof(struct g3_pc_attn) == 48, "g3_pc_attn: push-constant layout");
_Static_assert(sizeof(struct g3_pc_attn_combine) == 24, "g3_pc_attn_combine: layout");
_Static_assert(sizeof(struct g3_pc_gelu_mul) == 16, "g3_pc_gelu_mul: push-constant layout");
_Static_assert(sizeof(struct g3_pc_select) == 20, "g3_pc_select: push-constant layout");
#endif

/* copy.comp: DST[i] = SRC[i] for i < n 16-byte words (the profiler's bandwidth
 * yardstick, runtime/vk_profile.c). */
#define G3_COPY_BINDING_SRC 0
#define G3_COPY_BINDING_DST 1

struct g3_pc_copy {
    G3_U32 n; /* 16-byte words to copy */
};

#ifndef GL_core_profile
_Static_assert(sizeof(struct g3_pc_copy) == 4, "g3_pc_copy: push-constant layout");
#endif

#endif /* G3_SHARED_H */
