/* ref_exec.h: runs a step graph on the CPU with the reference kernels. */
#ifndef G3_REF_EXEC_H
#define G3_REF_EXEC_H

#include "ops.h"
#include "ref_ops.h"
#include "threadpool.h"

typedef struct g3_ref_exec {
    const g3_graph *graph;
    float **buf;          /* per tensor: (ne[0], ne[1]) floats                   */
    g3_ref_kv *kv;        /* per layer                                           */
    int n_ctx;            /* positions the cache can hold                        */
    double *scratch;      /* attention: head_dim + attended positions            */
    g3_threadpool *pool;  /* borrowed; NULL runs on the calling thread           */
    bool kv_f16;          /* round stored K/V to f16 (as a device's f16 cache)    */
} g3_ref_exec;

/* Allocates activations and an f32 KV cache for n_ctx positions. Sliding layers
 * keep a ring of window + n_tokens - 1 slots (a step writes all its tokens before
 * its first query reads), global layers the whole context. */
g3_status g3_ref_exec_init(g3_ref_exec *ex, const g3_graph *graph, int n_ctx,
                           g3_threadpool *pool, g3_err *err);
void g3_ref_exec_free(g3_ref_exec *ex);

/* Runs the step: tokens[graph->n_tokens] at positions pos0.. (the caller checked
 * the ids and that pos0 + n_tokens <= n_ctx). The logits nodes run only when
 * want_logits. */
void g3_ref_exec_run(g3_ref_exec *ex, const int32_t *tokens, int64_t pos0, bool want_logits);

/* Runs nodes [first, last) only: for op-by-op diffing against another backend. */
void g3_ref_exec_run_nodes(g3_ref_exec *ex, const int32_t *tokens, int64_t pos0, int first,
                           int last);

#endif /* G3_REF_EXEC_H */
