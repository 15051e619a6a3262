/* ref_ops.h: the CPU reference kernels. Plain loops and double accumulators:
 * they define "correct" for every other backend, and each has its own test. */
#ifndef G3_REF_OPS_H
#define G3_REF_OPS_H

#include "model.h"

/* dst[t] = emb.row(tokens[t]) * scale for t < n; dst is (emb.ne[0], n). */
void g3_ref_embed(const g3_weight *emb, const int32_t *tokens, int n, float scale, float *dst);

/* y = x / sqrt(mean(x^2) + eps) * w over one group of n values (w already holds
 * Gemma's 1 + w, as GGUF stores it). x and y may alias. */
void g3_ref_rms_norm(const float *x, const float *w, int64_t n, float eps, float *y);

/* y[t][r] = dot(W.row(r), x[t]) for rows [row0, row1) and tokens t < n_tok.
 * x is (W.ne[0], n_tok), y is (W.ne[1], n_tok). */
void g3_ref_matvec(const g3_weight *w, const float *x, int n_tok, float *y, int64_t row0,
                   int64_t row1);

/* NEOX rotary embedding of n_heads heads of head_dim values at position pos:
 * element i rotates with element i + head_dim/2 by angle
 * pos * pos_scale * base^(-2i/head_dim). x and y may alias. */
void g3_ref_rope(const float *x, float *y, int n_heads, int head_dim, int64_t pos, float base,
                 float pos_scale);

/* One layer's KV cache: rows of kv_dim floats, position p at slot p % n_slots. */
typedef struct g3_ref_kv {
    float *k;    /* (kv_dim, n_slots) */
    float *v;    /* (kv_dim, n_slots) */
    int n_slots;
} g3_ref_kv;

/* Attention of one query token at position pos over the cached positions
 * [lo, pos], lo = 0 on global layers and pos - window + 1 on sliding ones.
 * q: (n_head * head_dim); out: (n_head * head_dim). Query head h reads KV head
 * h / (n_head / n_head_kv). The caller guarantees the positions are in the ring.
 * scratch holds at least head_dim + (number of attended positions) doubles. */
void g3_ref_attention(const float *q, const g3_ref_kv *kv, int n_head, int n_head_kv,
                      int head_dim, int64_t pos, int64_t window, bool global, float scale,
                      double *scratch, float *out);

/* gelu_tanh(g) * u, elementwise. */
void g3_ref_gelu_mul(const float *g, const float *u, float *y, int64_t n);
float g3_ref_gelu_tanh(float x);

#endif /* G3_REF_OPS_H */
