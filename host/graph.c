/* graph.c: the Gemma 3 forward step as a list of ops (gemma3-model.md,
 * "Forward pass"), built once per step shape and run by any executor. */
#include <stdarg.h>
#include <string.h>

#include "ops.h"

typedef struct builder {
    g3_graph *g;
    int cap_tensors, cap_nodes;
    bool oom;
} builder;

static int tensor(builder *b, int64_t cols, int64_t rows, const char *fmt, ...) G3_PRINTF(4, 5);

static int tensor(builder *b, int64_t cols, int64_t rows, const char *fmt, ...)
{
    g3_graph *g = b->g;
    if (g->n_tensors == b->cap_tensors) {
        int cap = b->cap_tensors ? 2 * b->cap_tensors : 64;
        g3_tensor *t = realloc(g->tensors, (size_t)cap * sizeof(*t));
        if (!t) {
            b->oom = true;
            return -1;
        }
        g->tensors = t;
        b->cap_tensors = cap;
    }
    g3_tensor *t = &g->tensors[g->n_tensors];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t->name, sizeof(t->name), fmt, ap);
    va_end(ap);
    t->ne[0] = cols;
    t->ne[1] = rows;
    return g->n_tensors++;
}

static g3_node *node(builder *b, g3_op op, int dst, int src0, int src1, const g3_weight *w,
                     int layer)
{
    g3_graph *g = b->g;
    if (b->oom)
        return NULL;
    if (g->n_nodes == b->cap_nodes) {
        int cap = b->cap_nodes ? 2 * b->cap_nodes : 64;
        g3_node *n = realloc(g->nodes, (size_t)cap * sizeof(*n));
        if (!n) {
            b->oom = true;
            return NULL;
        }
        g->nodes = n;
        b->cap_nodes = cap;
    }
    g3_node *n = &g->nodes[g->n_nodes++];
    *n = (g3_node){.op = op, .dst = dst, .src = {src0, src1}, .w = w, .layer = layer,
                   .rope_scale = 1.0f};
    return n;
}

/* y = W x over the token rows: dst has W's row count as its width. */
static int matvec(builder *b, const g3_weight *w, int x, int layer, const char *name)
{
    const int64_t rows = x >= 0 ? b->g->tensors[x].ne[1] : 0;
    int y = tensor(b, w->ne[1], rows, "blk.%d.%s", layer, name);
    node(b, G3_OP_MATVEC, y, x, -1, w, layer);
    return y;
}

static int rms_norm(builder *b, const g3_weight *w, int x, int64_t cols, int64_t rows, int layer,
                    const char *name)
{
    int y = tensor(b, cols, rows, "blk.%d.%s", layer, name);
    g3_node *n = node(b, G3_OP_RMS_NORM, y, x, -1, w, layer);
    if (n)
        n->eps = b->g->model->info.rms_eps;
    return y;
}

static int norm_add(builder *b, const g3_weight *w, int x, int residual, int layer,
                    const char *name)
{
    int y = tensor(b, b->g->tensors[x].ne[0], b->g->tensors[x].ne[1], "blk.%d.%s", layer, name);
    g3_node *n = node(b, G3_OP_NORM_ADD, y, x, residual, w, layer);
    if (n)
        n->eps = b->g->model->info.rms_eps;
    return y;
}

static int rope(builder *b, int x, const g3_layer *L, int layer, const char *name)
{
    const g3_model_desc *m = b->g->model;
    int y = tensor(b, b->g->tensors[x].ne[0], b->g->tensors[x].ne[1], "blk.%d.%s", layer, name);
    g3_node *n = node(b, G3_OP_ROPE, y, x, -1, NULL, layer);
    if (n) {
        n->rope_base = L->is_global ? m->info.rope_base : m->info.rope_base_swa;
        n->rope_scale = L->is_global ? m->rope_freq_scale : 1.0f;
    }
    return y;
}

g3_status g3_graph_build(const g3_model_desc *m, int n_tokens, int n_logits, g3_graph *out,
                         g3_err *err)
{
    G3_ASSERT(n_tokens >= 1 && n_logits >= 0 && n_logits <= n_tokens);
    memset(out, 0, sizeof(*out));
    out->model = m;
    out->n_tokens = n_tokens;
    out->n_logits = n_logits;
    builder b = {.g = out};
    const g3_model_info *in = &m->info;
    const int64_t T = n_tokens, E = in->n_embd, HD = in->head_dim;

    int x = tensor(&b, E, T, "inp_embd"); /* (n_embd, T) */
    node(&b, G3_OP_EMBED, x, -1, -1, &m->token_embd, -1);

    for (int l = 0; l < in->n_layer && !b.oom; l++) {
        const g3_layer *L = &m->layers[l];
        int h = rms_norm(&b, &L->attn_norm, x, E, T, l, "attn_norm");
        int q = matvec(&b, &L->attn_q, h, l, "q");   /* (n_head*HD, T)    */
        int k = matvec(&b, &L->attn_k, h, l, "k");   /* (n_head_kv*HD, T) */
        int v = matvec(&b, &L->attn_v, h, l, "v");   /* (n_head_kv*HD, T) */
        /* Per-head norms: the scale vector is head_dim long, so RMS_NORM groups by it. */
        int qn = rms_norm(&b, &L->attn_q_norm, q, in->n_head * HD, T, l, "q_norm");
        int kn = rms_norm(&b, &L->attn_k_norm, k, in->n_head_kv * HD, T, l, "k_norm");
        int qr = rope(&b, qn, L, l, "q_rope");
        int kr = rope(&b, kn, L, l, "k_rope");
        node(&b, G3_OP_KV_STORE, -1, kr, v, NULL, l);
        int a = tensor(&b, in->n_head * HD, T, "blk.%d.attn", l);
        node(&b, G3_OP_ATTN, a, qr, -1, NULL, l);
        int o = matvec(&b, &L->attn_output, a, l, "attn_out");            /* (E, T) */
        int x1 = norm_add(&b, &L->post_attn_norm, o, x, l, "attn_residual");
        int f = rms_norm(&b, &L->ffn_norm, x1, E, T, l, "ffn_norm");
        int gate = matvec(&b, &L->ffn_gate, f, l, "ffn_gate");            /* (n_ff, T) */
        int up = matvec(&b, &L->ffn_up, f, l, "ffn_up");
        int gu = tensor(&b, in->n_ff, T, "blk.%d.ffn_geglu", l);
        node(&b, G3_OP_GELU_MUL, gu, gate, up, NULL, l);
        int down = matvec(&b, &L->ffn_down, gu, l, "ffn_down");           /* (E, T) */
        x = norm_add(&b, &L->post_ffw_norm, down, x1, l, "out");
    }
    out->n_body = out->n_nodes;

    if (n_logits > 0 && !b.oom) {
        int xn = tensor(&b, E, n_logits, "result_norm");
        g3_node *n = node(&b, G3_OP_RMS_NORM, xn, x, -1, &m->output_norm, -1);
        if (n) {
            n->eps = in->rms_eps;
            n->src_row0 = n_tokens - n_logits; /* only the rows whose logits are wanted */
        }
        out->t_logits = tensor(&b, in->n_vocab, n_logits, "result_output");
        node(&b, G3_OP_MATVEC, out->t_logits, xn, -1, &m->output, -1);
    } else {
        out->t_logits = -1;
    }
    if (b.oom) {
        g3_graph_free(out);
        return g3_err_set(err, G3_ERR_OUT_OF_MEMORY, "cannot allocate the step graph");
    }
    return G3_OK;
}

void g3_graph_free(g3_graph *g)
{
    if (!g)
        return;
    free(g->tensors);
    free(g->nodes);
    memset(g, 0, sizeof(*g));
}

int g3_graph_find(const g3_graph *g, const char *name)
{
    for (int i = 0; i < g->n_tensors; i++)
        if (!strcmp(g->tensors[i].name, name))
            return i;
    return -1;
}
