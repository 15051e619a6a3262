/* ops.h: the forward step as data.
 *
 * One X-macro table names every op. graph.c builds a step (n_tokens tokens at
 * positions pos0..) as a list of nodes over named activation tensors; the CPU
 * reference executor (ref_exec.c) runs it, and the diff tooling compares the
 * same named tensors between backends. Tensor shapes are (cols, rows): rows
 * are tokens (or heads x tokens for per-head norms). */
#ifndef G3_OPS_H
#define G3_OPS_H

#include "model.h"

/*  op             name             what dst holds                                      */
#define G3_OP_LIST(X)                                                                   \
    X(EMBED,        "embed")        /* token rows of the embedding * sqrt(n_embd)     */ \
    X(RMS_NORM,     "rms_norm")     /* rmsnorm over groups of len(w), times w          */ \
    X(MATVEC,       "matvec")       /* W x for each token row                          */ \
    X(ROPE,         "rope")         /* NEOX rotary embedding per head                  */ \
    X(KV_STORE,     "kv_store")     /* k, v rows into the layer's cache (no dst)       */ \
    X(ATTN,         "attn")         /* softmax(q K^T * scale) V, GQA, sliding window   */ \
    X(NORM_ADD,     "norm_add")     /* src1 + rmsnorm(src0) * w: post-norm + residual */ \
    X(GELU_MUL,     "gelu_mul")     /* gelu_tanh(src0) * src1                          */

typedef enum g3_op {
#define G3_X(op, name) G3_OP_##op,
    G3_OP_LIST(G3_X)
#undef G3_X
    G3_OP_COUNT
} g3_op;

const char *g3_op_name(g3_op op);

#define G3_MAX_SRC 2

/* An activation tensor of the step. Storage belongs to the executor. */
typedef struct g3_tensor {
    char name[48];  /* "blk.3.q_rope", stable across backends */
    int64_t ne[2];  /* (cols, rows)                            */
} g3_tensor;

typedef struct g3_node {
    g3_op op;
    int dst;               /* tensor id; -1 for KV_STORE                          */
    int src[G3_MAX_SRC];   /* tensor ids; -1 when unused                          */
    const g3_weight *w;    /* MATVEC/EMBED matrix, RMS_NORM/NORM_ADD scale vector */
    int layer;             /* -1 outside layers                                   */
    int src_row0;          /* first row of src[0] read (final norm of the last row) */
    float eps;             /* RMS_NORM, NORM_ADD                                  */
    float rope_base;       /* ROPE                                                */
    float rope_scale;      /* ROPE: position multiplier (linear scaling)          */
} g3_node;

/* The graph of one step. Nodes [0, n_body) run for every step; nodes
 * [n_body, n_nodes) compute the logits and run only when they are wanted. */
typedef struct g3_graph {
    const g3_model_desc *model;
    int n_tokens;         /* rows of the token tensors                 */
    int n_logits;         /* rows of the logits tensor (last n tokens) */
    g3_tensor *tensors;
    int n_tensors;
    g3_node *nodes;
    int n_nodes, n_body;
    int t_logits;         /* tensor id of the logits (n_vocab, n_logits) */
} g3_graph;

/* Builds the step graph for n_tokens tokens with logits for the last n_logits.
 * Only allocation can fail. */
g3_status g3_graph_build(const g3_model_desc *m, int n_tokens, int n_logits, g3_graph *out,
                         g3_err *err);
void g3_graph_free(g3_graph *g);
/* Tensor id by name, or -1. */
int g3_graph_find(const g3_graph *g, const char *name);

#endif /* G3_OPS_H */
