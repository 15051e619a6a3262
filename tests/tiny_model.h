/* tiny_model.h: a tiny random Gemma 3 model in memory (2 layers: sliding,
 * global; window 3; F32 weights) and the small helpers tests share. */
#ifndef G3_TINY_MODEL_H
#define G3_TINY_MODEL_H

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "quant.h"

static inline float frand(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return (float)((*s >> 8) * (1.0 / 16777216.0)) * 2.0f - 1.0f;
}

static inline g3_weight f32_weight(const float *data, int64_t cols, int64_t rows)
{
    return (g3_weight){.name = "w", .type = G3_TYPE_F32, .ne = {cols, rows},
                       .row_bytes = (uint64_t)cols * 4, .data = data};
}

/* A tiny random model in memory: 2 layers (sliding, global), window 3. */
typedef struct tiny {
    g3_model_desc m;
    g3_layer layers[2];
    float *blob;
} tiny;

static inline void tiny_init(tiny *t)
{
    enum { E = 16, HD = 8, NH = 2, NKV = 1, FF = 24, V = 20 };
    memset(t, 0, sizeof(*t));
    g3_model_info *in = &t->m.info;
    *in = (g3_model_info){.n_vocab = V, .n_embd = E, .n_layer = 2, .n_ff = FF, .n_head = NH,
                          .n_head_kv = NKV, .head_dim = HD, .n_ctx_train = 64,
                          .sliding_window = 3, .swa_pattern = 2, .rms_eps = 1e-6f,
                          .rope_base = 1e6f, .rope_base_swa = 1e4f,
                          .query_scale = (float)(1.0 / sqrt(HD)), .tied_output = true};
    t->m.rope_freq_scale = 1.0f;
    t->blob = malloc(100000 * sizeof(float));
    float *p = t->blob;
    uint32_t s = 99;
#define MAT(dst, cols, rows, amp, base)                                                        \
    do {                                                                                       \
        for (int i_ = 0; i_ < (cols) * (rows); i_++)                                           \
            p[i_] = (base) + (amp)*frand(&s);                                                  \
        dst = f32_weight(p, cols, rows);                                                       \
        p += (cols) * (rows);                                                                  \
    } while (0)
    MAT(t->m.token_embd, E, V, 0.5f, 0.0f);
    t->m.output = t->m.token_embd;
    MAT(t->m.output_norm, E, 1, 0.1f, 1.0f);
    for (int l = 0; l < 2; l++) {
        g3_layer *L = &t->layers[l];
        MAT(L->attn_norm, E, 1, 0.1f, 1.0f);
        MAT(L->attn_q, E, NH * HD, 0.3f, 0.0f);
        MAT(L->attn_k, E, NKV * HD, 0.3f, 0.0f);
        MAT(L->attn_v, E, NKV * HD, 0.3f, 0.0f);
        MAT(L->attn_q_norm, HD, 1, 0.1f, 1.0f);
        MAT(L->attn_k_norm, HD, 1, 0.1f, 1.0f);
        MAT(L->attn_output, NH * HD, E, 0.3f, 0.0f);
        MAT(L->post_attn_norm, E, 1, 1.0f, 5.0f);
        MAT(L->ffn_norm, E, 1, 0.1f, 1.0f);
        MAT(L->ffn_gate, E, FF, 0.3f, 0.0f);
        MAT(L->ffn_up, E, FF, 0.3f, 0.0f);
        MAT(L->ffn_down, FF, E, 0.3f, 0.0f);
        MAT(L->post_ffw_norm, E, 1, 1.0f, 5.0f);
        L->is_global = l == 1;
    }
#undef MAT
    t->m.layers = t->layers;
}

#endif /* G3_TINY_MODEL_H */
