/* model.h: a Gemma 3 model bound to a GGUF file: hyperparameters with their
 * documented defaults, and every tensor looked up and shape-checked. */
#ifndef G3_MODEL_H
#define G3_MODEL_H

#include "g3_internal.h"
#include "gguf.h"

/* A weight as every backend sees it: a view of one GGUF tensor, in its file
 * type and block layout. A matrix used as y = W x has ne = {len(x), len(y)}. */
typedef struct g3_weight {
    const char *name;  /* the GGUF tensor name (borrowed from the reader)  */
    uint32_t type;     /* ggml type id                                      */
    int64_t ne[2];     /* (cols, rows); rows = 1 for vectors                */
    uint64_t row_bytes;/* bytes per row                                     */
    const void *data;  /* mapped file bytes, rows * row_bytes               */
} g3_weight;

typedef struct g3_layer {
    g3_weight attn_norm;      /* (n_embd)                      */
    g3_weight attn_q;         /* (n_embd, n_head * head_dim)   */
    g3_weight attn_k;         /* (n_embd, n_head_kv * head_dim)*/
    g3_weight attn_v;         /* (n_embd, n_head_kv * head_dim)*/
    g3_weight attn_q_norm;    /* (head_dim)                    */
    g3_weight attn_k_norm;    /* (head_dim)                    */
    g3_weight attn_output;    /* (n_head * head_dim, n_embd)   */
    g3_weight post_attn_norm; /* (n_embd)                      */
    g3_weight ffn_norm;       /* (n_embd)                      */
    g3_weight ffn_gate;       /* (n_embd, n_ff)                */
    g3_weight ffn_up;         /* (n_embd, n_ff)                */
    g3_weight ffn_down;       /* (n_ff, n_embd)                */
    g3_weight post_ffw_norm;  /* (n_embd)                      */
    bool is_global;           /* full-context attention, rope_base; else sliding, rope_base_swa */
} g3_layer;

/* Upper bounds that keep every derived size far from overflow; generous for
 * any Gemma 3 (27B: hidden 5376, 62 layers, vocab 262144). */
#define G3_MAX_EMBD 65536
#define G3_MAX_LAYERS 1024
#define G3_MAX_FF 262144
#define G3_MAX_HEADS 1024
#define G3_MAX_HEAD_DIM 1024
#define G3_MAX_VOCAB (1 << 22)
#define G3_MAX_CTX (1 << 24)

typedef struct g3_model_desc {
    g3_model_info info;
    g3_weight token_embd;  /* (n_embd, n_vocab)                          */
    g3_weight output_norm; /* (n_embd)                                   */
    g3_weight output;      /* (n_embd, n_vocab): token_embd when tied    */
    g3_layer *layers;      /* n_layer                                    */
    float rope_freq_scale; /* global layers (linear scaling: 1/factor)   */
} g3_model_desc;

/* Reads the hyperparameters and binds every tensor of a gemma3 GGUF. Errors:
 * G3_ERR_UNSUPPORTED for another architecture (named) and G3_ERR_FORMAT for
 * wrong-typed keys, missing tensors and shape mismatches (tensor named, with
 * the expected and the actual shape). On success desc->layers is allocated. */
g3_status g3_model_desc_init(const g3_gguf *g, g3_model_desc *desc, g3_err *err);
void g3_model_desc_free(g3_model_desc *desc);

/* Reads n floats of a (small) weight vector, dequantizing as needed. */
void g3_weight_row_f32(const g3_weight *w, int64_t row, float *dst);

#endif /* G3_MODEL_H */
