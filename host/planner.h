/* planner.h: turns a step graph into what an executor needs to run it on a
 * device: where each activation lives in one arena (buffers reused once their
 * tensor is dead), which dispatches need a barrier before them, which weights
 * are used (each once, the tied LM head included), and the memory report.
 * Pure host logic: tested on the CPU, used by the Vulkan executor. */
#ifndef G3_PLANNER_H
#define G3_PLANNER_H

#include "ops.h"

typedef struct g3_plan_options {
    uint64_t alignment;  /* offset alignment in the arena; default 0 = 256 bytes       */
    bool no_reuse;       /* every tensor gets its own range (op-by-op diffing)          */
    int n_ctx;           /* KV positions, for the report; default 0 = 4096              */
    int kv_bytes_per_el; /* 2 (f16, default 0) or 4 (f32)                               */
} g3_plan_options;

typedef struct g3_plan_tensor {
    uint64_t offset;   /* byte offset in the arena                                   */
    uint64_t bytes;    /* ne[0] * ne[1] * 4 (fp32 activations)                       */
    int first, last;   /* node that writes it, last node that reads it (n_nodes when
                          it must survive the step: the logits)                      */
} g3_plan_tensor;

typedef struct g3_plan {
    const g3_graph *graph;
    g3_plan_tensor *tensors;   /* per graph tensor                                     */
    uint64_t arena_bytes;      /* peak activation memory                               */
    uint64_t naive_bytes;      /* what no reuse would take (for the report)            */
    uint8_t *barrier_before;   /* per node: a memory barrier must precede it           */
    int n_barriers;
    const g3_weight **weights; /* distinct weights the step reads, in first-use order  */
    int n_weights;
    uint64_t weight_bytes;
    uint64_t kv_bytes;         /* KV cache at n_ctx: sliding layers a ring of window   */
} g3_plan;

g3_status g3_plan_build(const g3_graph *g, const g3_plan_options *opt, g3_plan *out,
                        g3_err *err);
void g3_plan_free(g3_plan *p);

/* KV slots a layer needs: the whole context on global layers, a ring of
 * window + n_tokens - 1 on sliding ones (a step writes all its tokens before
 * its first query reads), never more than n_ctx. */
int g3_plan_kv_slots(const g3_model_desc *m, int layer, int n_ctx, int n_tokens);

#endif /* G3_PLANNER_H */
