/* planner.c: liveness, arena offsets, barriers and the weight list of a step.
 *
 * Allocation is first-fit over free ranges in node order. A tensor's range is
 * released only after its last reader ran, and never reused by the node that
 * reads it (a shader must not write where it reads). Barriers: a node needs
 * one when, since the last barrier, some node wrote memory it touches (read
 * after write, write after write) or read memory it writes (write after read).
 * Memory is tracked as byte ranges of the arena plus one pseudo-range per
 * layer's KV cache (written by KV_STORE, read by ATTN). */
#include <string.h>

#include "planner.h"

int g3_plan_kv_slots(const g3_model_desc *m, int layer, int n_ctx, int n_tokens)
{
    if (m->layers[layer].is_global)
        return n_ctx;
    const int64_t ring = (int64_t)m->info.sliding_window + n_tokens - 1;
    return (int)G3_MIN(ring, (int64_t)n_ctx);
}

typedef struct range {
    uint64_t lo, hi; /* [lo, hi) */
} range;

static bool overlap(range a, range b)
{
    return a.lo < b.hi && b.lo < a.hi;
}

/* Free list: sorted, coalesced ranges of the arena below `top`. */
typedef struct freelist {
    range *r;
    int n, cap;
    uint64_t top;
} freelist;

static uint64_t align_up(uint64_t x, uint64_t a)
{
    return (x + a - 1) / a * a;
}

static bool fl_insert(freelist *fl, range x)
{
    if (fl->n == fl->cap) {
        int cap = fl->cap ? 2 * fl->cap : 32;
        range *r = realloc(fl->r, (size_t)cap * sizeof(*r));
        if (!r)
            return false;
        fl->r = r;
        fl->cap = cap;
    }
    int i = 0;
    while (i < fl->n && fl->r[i].lo < x.lo)
        i++;
    memmove(&fl->r[i + 1], &fl->r[i], (size_t)(fl->n - i) * sizeof(range));
    fl->r[i] = x;
    fl->n++;
    /* Coalesce with the neighbours. */
    if (i + 1 < fl->n && fl->r[i].hi == fl->r[i + 1].lo) {
        fl->r[i].hi = fl->r[i + 1].hi;
        memmove(&fl->r[i + 1], &fl->r[i + 2], (size_t)(fl->n - i - 2) * sizeof(range));
        fl->n--;
    }
    if (i > 0 && fl->r[i - 1].hi == fl->r[i].lo) {
        fl->r[i - 1].hi = fl->r[i].hi;
        memmove(&fl->r[i], &fl->r[i + 1], (size_t)(fl->n - i - 1) * sizeof(range));
        fl->n--;
    }
    return true;
}

static uint64_t fl_alloc(freelist *fl, uint64_t bytes)
{
    for (int i = 0; i < fl->n; i++)
        if (fl->r[i].hi - fl->r[i].lo >= bytes) {
            const uint64_t off = fl->r[i].lo;
            fl->r[i].lo += bytes;
            if (fl->r[i].lo == fl->r[i].hi) {
                memmove(&fl->r[i], &fl->r[i + 1], (size_t)(fl->n - i - 1) * sizeof(range));
                fl->n--;
            }
            return off;
        }
    const uint64_t off = fl->top;
    fl->top += bytes;
    return off;
}

/* The memory a node touches: reads (srcs, or the KV cache for ATTN) and writes. */
typedef struct access {
    range rd[G3_MAX_SRC + 1];
    int n_rd;
    range wr[2];
    int n_wr;
} access;

static range kv_range(const g3_plan *p, int layer)
{
    /* Pseudo-ranges above the arena: one per layer. */
    const uint64_t base = p->arena_bytes + 1;
    return (range){base + (uint64_t)layer, base + (uint64_t)layer + 1};
}

static range tensor_range(const g3_plan *p, int t)
{
    return (range){p->tensors[t].offset, p->tensors[t].offset + p->tensors[t].bytes};
}

static access node_access(const g3_plan *p, const g3_node *nd)
{
    access a = {0};
    for (int s = 0; s < G3_MAX_SRC; s++)
        if (nd->src[s] >= 0)
            a.rd[a.n_rd++] = tensor_range(p, nd->src[s]);
    if (nd->dst >= 0)
        a.wr[a.n_wr++] = tensor_range(p, nd->dst);
    if (nd->op == G3_OP_KV_STORE)
        a.wr[a.n_wr++] = kv_range(p, nd->layer);
    if (nd->op == G3_OP_ATTN)
        a.rd[a.n_rd++] = kv_range(p, nd->layer);
    return a;
}

g3_status g3_plan_build(const g3_graph *g, const g3_plan_options *opt, g3_plan *out,
                        g3_err *err)
{
    memset(out, 0, sizeof(*out));
    const g3_plan_options o = opt ? *opt : (g3_plan_options){0};
    const uint64_t align = o.alignment ? o.alignment : 256;
    const int n_ctx = o.n_ctx > 0 ? o.n_ctx : 4096;
    const int kv_el = o.kv_bytes_per_el ? o.kv_bytes_per_el : 2;
    out->graph = g;
    out->tensors = calloc((size_t)G3_MAX(g->n_tensors, 1), sizeof(*out->tensors));
    out->barrier_before = calloc((size_t)G3_MAX(g->n_nodes, 1), 1);
    out->weights = calloc((size_t)G3_MAX(g->n_nodes, 1), sizeof(*out->weights));
    freelist fl = {0};
    access *acc = NULL;
    if (!out->tensors || !out->barrier_before || !out->weights)
        goto oom;

    /* Liveness. */
    for (int t = 0; t < g->n_tensors; t++) {
        out->tensors[t].first = -1;
        out->tensors[t].last = -1;
        out->tensors[t].bytes = (uint64_t)(g->tensors[t].ne[0] * g->tensors[t].ne[1]) * 4;
    }
    for (int i = 0; i < g->n_nodes; i++) {
        const g3_node *nd = &g->nodes[i];
        if (nd->dst >= 0 && out->tensors[nd->dst].first < 0)
            out->tensors[nd->dst].first = i;
        for (int s = 0; s < G3_MAX_SRC; s++)
            if (nd->src[s] >= 0)
                out->tensors[nd->src[s]].last = i;
    }
    if (g->t_logits >= 0)
        out->tensors[g->t_logits].last = g->n_nodes; /* read back after the step */

    /* Offsets: free what died before node i, then place node i's output. */
    for (int i = 0; i < g->n_nodes; i++) {
        const g3_node *nd = &g->nodes[i];
        if (!o.no_reuse)
            for (int t = 0; t < g->n_tensors; t++) {
                g3_plan_tensor *pt = &out->tensors[t];
                if (pt->last == i - 1 && pt->first >= 0 && pt->first <= i - 1 &&
                    !fl_insert(&fl, (range){pt->offset, pt->offset + align_up(pt->bytes, align)}))
                    goto oom;
            }
        if (nd->dst >= 0 && out->tensors[nd->dst].first == i)
            out->tensors[nd->dst].offset = fl_alloc(&fl, align_up(out->tensors[nd->dst].bytes, align));
    }
    out->arena_bytes = fl.top;
    for (int t = 0; t < g->n_tensors; t++)
        out->naive_bytes += align_up(out->tensors[t].bytes, align);

    /* Barriers. */
    acc = calloc((size_t)G3_MAX(g->n_nodes, 1), sizeof(*acc));
    if (!acc)
        goto oom;
    int since = 0; /* first node after the last barrier */
    for (int i = 0; i < g->n_nodes; i++) {
        acc[i] = node_access(out, &g->nodes[i]);
        bool need = false;
        for (int j = since; j < i && !need; j++) {
            for (int a = 0; a < acc[j].n_wr && !need; a++) {
                for (int b = 0; b < acc[i].n_rd && !need; b++)
                    need = overlap(acc[j].wr[a], acc[i].rd[b]);
                for (int b = 0; b < acc[i].n_wr && !need; b++)
                    need = overlap(acc[j].wr[a], acc[i].wr[b]);
            }
            for (int a = 0; a < acc[j].n_rd && !need; a++)
                for (int b = 0; b < acc[i].n_wr && !need; b++)
                    need = overlap(acc[j].rd[a], acc[i].wr[b]);
        }
        if (need) {
            out->barrier_before[i] = 1;
            out->n_barriers++;
            since = i;
        }
    }

    /* Weights, each once (the tied LM head is token_embd). */
    for (int i = 0; i < g->n_nodes; i++) {
        const g3_weight *w = g->nodes[i].w;
        if (!w)
            continue;
        bool seen = false;
        for (int k = 0; k < out->n_weights && !seen; k++)
            seen = out->weights[k]->data == w->data;
        if (!seen) {
            out->weights[out->n_weights++] = w;
            out->weight_bytes += w->row_bytes * (uint64_t)w->ne[1];
        }
    }

    const g3_model_info *in = &g->model->info;
    const uint64_t kv_dim = (uint64_t)in->n_head_kv * in->head_dim;
    for (int l = 0; l < in->n_layer; l++)
        out->kv_bytes += 2 * kv_dim * (uint64_t)g3_plan_kv_slots(g->model, l, n_ctx, g->n_tokens) *
                         (uint64_t)kv_el;
    free(acc);
    free(fl.r);
    return G3_OK;
oom:
    free(acc);
    free(fl.r);
    g3_plan_free(out);
    return g3_err_set(err, G3_ERR_OUT_OF_MEMORY, "cannot allocate the execution plan");
}

void g3_plan_free(g3_plan *p)
{
    if (!p)
        return;
    free(p->tensors);
    free(p->barrier_before);
    free(p->weights);
    memset(p, 0, sizeof(*p));
}
