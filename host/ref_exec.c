/* ref_exec.c: the CPU executor. Each node is one reference kernel call; only
 * MATVEC, where all the time goes, is split across the thread pool by rows. */
#include <math.h>
#include <string.h>

#include "quant.h"
#include "ref_exec.h"

g3_status g3_ref_exec_init(g3_ref_exec *ex, const g3_graph *graph, int n_ctx,
                           g3_threadpool *pool, g3_err *err)
{
    memset(ex, 0, sizeof(*ex));
    ex->graph = graph;
    ex->n_ctx = n_ctx;
    ex->pool = pool;
    const g3_model_info *in = &graph->model->info;
    const int64_t kv_dim = (int64_t)in->n_head_kv * in->head_dim;

    ex->buf = calloc((size_t)graph->n_tensors, sizeof(*ex->buf));
    ex->kv = calloc((size_t)in->n_layer, sizeof(*ex->kv));
    ex->scratch = malloc(((size_t)in->head_dim + (size_t)n_ctx) * sizeof(double));
    if (!ex->buf || !ex->kv || !ex->scratch)
        goto oom;
    for (int i = 0; i < graph->n_tensors; i++) {
        const g3_tensor *t = &graph->tensors[i];
        ex->buf[i] = malloc((size_t)(t->ne[0] * t->ne[1]) * sizeof(float));
        if (!ex->buf[i])
            goto oom;
    }
    for (int l = 0; l < in->n_layer; l++) {
        const int64_t ring = (int64_t)in->sliding_window + graph->n_tokens - 1;
        const int slots = graph->model->layers[l].is_global ? n_ctx : (int)G3_MIN(ring, n_ctx);
        ex->kv[l].n_slots = slots;
        /* calloc: never-written slots are never read, but zeros keep tools quiet. */
        ex->kv[l].k = calloc((size_t)(kv_dim * slots), sizeof(float));
        ex->kv[l].v = calloc((size_t)(kv_dim * slots), sizeof(float));
        if (!ex->kv[l].k || !ex->kv[l].v)
            goto oom;
    }
    return G3_OK;
oom:
    g3_ref_exec_free(ex);
    return g3_err_set(err, G3_ERR_OUT_OF_MEMORY,
                      "cannot allocate the CPU activations and KV cache for %d positions", n_ctx);
}

void g3_ref_exec_free(g3_ref_exec *ex)
{
    if (!ex || !ex->graph)
        return;
    if (ex->buf)
        for (int i = 0; i < ex->graph->n_tensors; i++)
            free(ex->buf[i]);
    if (ex->kv)
        for (int l = 0; l < ex->graph->model->info.n_layer; l++) {
            free(ex->kv[l].k);
            free(ex->kv[l].v);
        }
    free(ex->buf);
    free(ex->kv);
    free(ex->scratch);
    memset(ex, 0, sizeof(*ex));
}

typedef struct matvec_job {
    const g3_weight *w;
    const float *x;
    float *y;
    int n_tok;
} matvec_job;

static void matvec_task(void *ctx, int i, int n)
{
    const matvec_job *j = ctx;
    const int64_t rows = j->w->ne[1];
    g3_ref_matvec(j->w, j->x, j->n_tok, j->y, rows * i / n, rows * (i + 1) / n);
}

static void run_node(g3_ref_exec *ex, const g3_node *nd, const int32_t *tokens, int64_t pos0)
{
    const g3_graph *g = ex->graph;
    const g3_model_desc *m = g->model;
    const g3_model_info *in = &m->info;
    const g3_tensor *dt = nd->dst >= 0 ? &g->tensors[nd->dst] : NULL;
    float *dst = nd->dst >= 0 ? ex->buf[nd->dst] : NULL;
    const float *s0 = nd->src[0] >= 0 ? ex->buf[nd->src[0]] : NULL;
    const float *s1 = nd->src[1] >= 0 ? ex->buf[nd->src[1]] : NULL;
    const int64_t s0_cols = nd->src[0] >= 0 ? g->tensors[nd->src[0]].ne[0] : 0;
    float wbuf[G3_MAX_EMBD];

    switch (nd->op) {
    case G3_OP_EMBED:
        g3_ref_embed(nd->w, tokens, (int)dt->ne[1], sqrtf((float)in->n_embd), dst);
        break;
    case G3_OP_RMS_NORM:
    case G3_OP_NORM_ADD: {
        /* Groups of len(w): the whole row for the residual stream, one head for QK-norm. */
        const int64_t gs = nd->w->ne[0];
        g3_weight_row_f32(nd->w, 0, wbuf);
        s0 += (int64_t)nd->src_row0 * s0_cols;
        for (int64_t i = 0; i < dt->ne[0] * dt->ne[1]; i += gs)
            g3_ref_rms_norm(s0 + i, wbuf, gs, nd->eps, dst + i);
        if (nd->op == G3_OP_NORM_ADD)
            for (int64_t i = 0; i < dt->ne[0] * dt->ne[1]; i++)
                dst[i] += s1[i];
        break;
    }
    case G3_OP_MATVEC: {
        matvec_job job = {.w = nd->w, .x = s0, .y = dst, .n_tok = (int)dt->ne[1]};
        /* A few tasks per thread balance the load when a core is busy elsewhere. */
        const int n = nd->w->ne[1] >= 1024 ? 4 * g3_threadpool_size(ex->pool) : 1;
        g3_threadpool_run(ex->pool, matvec_task, &job, n);
        break;
    }
    case G3_OP_ROPE: {
        const int n_heads = (int)(dt->ne[0] / in->head_dim);
        for (int64_t t = 0; t < dt->ne[1]; t++)
            g3_ref_rope(s0 + t * dt->ne[0], dst + t * dt->ne[0], n_heads, in->head_dim, pos0 + t,
                        nd->rope_base, nd->rope_scale);
        break;
    }
    case G3_OP_KV_STORE: {
        const g3_ref_kv *kv = &ex->kv[nd->layer];
        const int64_t kv_dim = g->tensors[nd->src[0]].ne[0];
        for (int64_t t = 0; t < g->tensors[nd->src[0]].ne[1]; t++) {
            const int64_t slot = (pos0 + t) % kv->n_slots;
            float *k = kv->k + slot * kv_dim, *v = kv->v + slot * kv_dim;
            memcpy(k, s0 + t * kv_dim, (size_t)kv_dim * sizeof(float));
            memcpy(v, s1 + t * kv_dim, (size_t)kv_dim * sizeof(float));
            if (ex->kv_f16) /* the rounding an f16 cache applies, nothing else */
                for (int64_t i = 0; i < kv_dim; i++) {
                    k[i] = g3_fp16_to_f32(g3_f32_to_fp16(k[i]));
                    v[i] = g3_fp16_to_f32(g3_f32_to_fp16(v[i]));
                }
        }
        break;
    }
    case G3_OP_ATTN: {
        const g3_layer *L = &m->layers[nd->layer];
        for (int64_t t = 0; t < dt->ne[1]; t++)
            g3_ref_attention(s0 + t * dt->ne[0], &ex->kv[nd->layer], in->n_head, in->n_head_kv,
                             in->head_dim, pos0 + t, in->sliding_window, L->is_global,
                             in->query_scale, ex->scratch, dst + t * dt->ne[0]);
        break;
    }
    case G3_OP_GELU_MUL:
        g3_ref_gelu_mul(s0, s1, dst, dt->ne[0] * dt->ne[1]);
        break;
    case G3_OP_COUNT:
        G3_ASSERT(!"bad op");
    }
}

void g3_ref_exec_run_nodes(g3_ref_exec *ex, const int32_t *tokens, int64_t pos0, int first,
                           int last)
{
    G3_ASSERT(pos0 >= 0 && pos0 + ex->graph->n_tokens <= ex->n_ctx);
    for (int i = first; i < last; i++)
        run_node(ex, &ex->graph->nodes[i], tokens, pos0);
}

void g3_ref_exec_run(g3_ref_exec *ex, const int32_t *tokens, int64_t pos0, bool want_logits)
{
    const g3_graph *g = ex->graph;
    g3_ref_exec_run_nodes(ex, tokens, pos0, 0, want_logits ? g->n_nodes : g->n_body);
}
