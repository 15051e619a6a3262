/* vk_exec_record.c: a step graph's nodes as runtime dispatches (vk_exec.h).
 *
 * The nodes map one to one onto the runtime's record functions, except ROPE(q),
 * ROPE(k), KV_STORE of a layer, which one rope_kv dispatch does together, and a
 * NORM_ADD followed by the RMS_NORM of its result (the next sub-layer's pre-norm),
 * which one norm_add_norm dispatch does.
 * Barriers come from the planner (a fused group gets one before it when any of
 * its nodes needed one), plus one at the start of every segment after the first:
 * a barrier orders a recording after everything submitted before it on the
 * queue, whether in the same submission or an earlier one. */
#include <math.h>
#include <string.h>

#include "quant.h"
#include "vk_exec_private.h"

static g3_vk_loc loc(const g3_vk_exec *ex, const vk_step *s, int tensor)
{
    return (g3_vk_loc){ex->arena, s->plan.tensors[tensor].offset};
}

static g3_status record_embed(g3_vk_exec *ex, const vk_step *s, g3_vk_cmd *cmd,
                              const g3_node *nd, int wi, g3_err *err)
{
    const g3_graph *g = s->graph;
    const g3_vk_weight *w = ex->mats[wi];
    const g3_vk_weight_info info = g3_vk_weight_get_info(w);
    g3_vk_rows pieces[64];
    if (info.n_pieces > 64)
        return g3_err_set(err, G3_ERR_UNSUPPORTED, "%s: %u pieces", info.name, info.n_pieces);
    for (uint32_t p = 0; p < info.n_pieces; p++)
        pieces[p] = g3_vk_weight_piece(w, p);
    const g3_vk_embedding emb = {.type = info.type, .cols = (uint32_t)info.cols,
                                 .row_bytes = info.row_bytes, .n_pieces = info.n_pieces,
                                 .pieces = pieces, .streams = info.streams};
    g3_vk_record_embed(cmd, ex->ops, &emb, (g3_vk_loc){ex->step, 4}, (uint32_t)g->n_tokens,
                       sqrtf((float)g->model->info.n_embd), loc(ex, s, nd->dst));
    return G3_OK;
}

/* y = W x over the rows of x: a matrix-vector product for one row (decode), a
 * matrix-matrix product for more (prefill), and for one row too where mm_decode
 * says so (GGUF-layout weights on CPU devices). The y range of one matvec call must
 * fit a binding: the LM head over many logits rows (n_vocab floats each) runs
 * in groups of rows (the matmul splits its own). */
static void record_matvec(g3_vk_exec *ex, const vk_step *s, g3_vk_cmd *cmd, const g3_node *nd,
                          int wi)
{
    const g3_graph *g = s->graph;
    const g3_tensor *xt = &g->tensors[nd->src[0]], *yt = &g->tensors[nd->dst];
    const bool mm = ex->mm && (yt->ne[1] > 1 ||
                               (ex->mm_decode && !g3_vk_weight_get_info(ex->mats[wi]).streams));
    if (mm) {
        g3_vk_matmul_record(cmd, ex->mm, ex->mats[wi], ex->arena,
                            s->plan.tensors[nd->src[0]].offset, ex->arena,
                            s->plan.tensors[nd->dst].offset, (uint32_t)yt->ne[1]);
        return;
    }
    const uint64_t x_row = (uint64_t)xt->ne[0] * 4, y_row = (uint64_t)yt->ne[0] * 4;
    const uint64_t max_range = g3_vk_context_device(ex->ctx)->max_storage_buffer_range;
    uint32_t per_call = (uint32_t)G3_MAX(1, G3_MIN((uint64_t)yt->ne[1], max_range / 2 / y_row));
    const uint32_t rows = (uint32_t)yt->ne[1];
    for (uint32_t t0 = 0; t0 < rows; t0 += per_call) {
        const uint32_t n = G3_MIN(per_call, rows - t0);
        g3_vk_matvec_record(cmd, ex->mats[wi], ex->arena,
                            s->plan.tensors[nd->src[0]].offset + t0 * x_row, ex->arena,
                            s->plan.tensors[nd->dst].offset + t0 * y_row, n);
    }
}

static bool ranges_meet(const g3_plan_tensor *a, const g3_plan_tensor *b)
{
    return a->offset < b->offset + b->bytes && b->offset < a->offset + a->bytes;
}

/* Whether node i (NORM_ADD) and node i + 1 (RMS_NORM of its result, same shape)
 * run as one norm_add_norm. Its second output is written after the workgroup has
 * read all its inputs, so with one group any arena reuse is safe; with more, the
 * second output must not meet the first node's inputs (another group may still
 * read them). */
static bool fuse_norm2(const vk_step *s, int i)
{
    const g3_graph *g = s->graph;
    if (i + 1 >= g->n_nodes)
        return false;
    const g3_node *a = &g->nodes[i], *b = &g->nodes[i + 1];
    if (a->op != G3_OP_NORM_ADD || b->op != G3_OP_RMS_NORM || b->src[0] != a->dst ||
        b->src_row0 != 0 || b->w->ne[0] != a->w->ne[0] ||
        g->tensors[b->dst].ne[0] != g->tensors[a->dst].ne[0] ||
        g->tensors[b->dst].ne[1] != g->tensors[a->dst].ne[1])
        return false;
    if (g->tensors[a->dst].ne[0] * g->tensors[a->dst].ne[1] == a->w->ne[0])
        return true; /* one group */
    const g3_plan_tensor *y2 = &s->plan.tensors[b->dst];
    return !ranges_meet(y2, &s->plan.tensors[a->src[0]]) &&
           !ranges_meet(y2, &s->plan.tensors[a->src[1]]);
}

static g3_status record_node(g3_vk_exec *ex, const vk_step *s, g3_vk_cmd *cmd, int i,
                             g3_err *err)
{
    const g3_graph *g = s->graph;
    const g3_model_desc *m = g->model;
    const g3_model_info *in = &m->info;
    const uint32_t T = (uint32_t)g->n_tokens;
    const g3_vk_loc pos = {ex->step, 0};
    const g3_node *nd = &g->nodes[i];
    const int wi = nd->w ? g3_vk_exec_weight_index(ex, nd->w) : -1;
    switch (nd->op) {
    case G3_OP_EMBED:
        return record_embed(ex, s, cmd, nd, wi, err);
    case G3_OP_RMS_NORM:
    case G3_OP_NORM_ADD: {
        const g3_tensor *dt = &g->tensors[nd->dst];
        const uint32_t n = (uint32_t)nd->w->ne[0];
        g3_vk_loc x = loc(ex, s, nd->src[0]);
        x.offset += (uint64_t)nd->src_row0 * (uint64_t)g->tensors[nd->src[0]].ne[0] * 4;
        const g3_vk_loc res = nd->op == G3_OP_NORM_ADD ? loc(ex, s, nd->src[1]) : (g3_vk_loc){0};
        g3_vk_record_rms_norm(cmd, ex->ops, x, (g3_vk_loc){ex->vectors, ex->vec_offset[wi]}, n,
                              (uint32_t)(dt->ne[0] * dt->ne[1] / n), nd->eps,
                              nd->op == G3_OP_NORM_ADD ? &res : NULL, loc(ex, s, nd->dst));
        return G3_OK;
    }
    case G3_OP_MATVEC:
        record_matvec(ex, s, cmd, nd, wi);
        return G3_OK;
    case G3_OP_ROPE: {
        const g3_node *nk = &g->nodes[i + 1], *ns = &g->nodes[i + 2];
        const g3_vk_rope_kv_args a = {
            .pos = pos, .act = ex->arena,
            .q_in = s->plan.tensors[nd->src[0]].offset,
            .q_out = s->plan.tensors[nd->dst].offset,
            .k_in = s->plan.tensors[nk->src[0]].offset,
            .k_out = s->plan.tensors[nk->dst].offset,
            .v_in = s->plan.tensors[ns->src[1]].offset,
            .n_tokens = T,
            .table = m->layers[nd->layer].is_global ? ex->rope_global : ex->rope_swa,
            .kv = &ex->kv[nd->layer]};
        g3_vk_record_rope_kv(cmd, ex->ops, &a);
        return G3_OK;
    }
    case G3_OP_KV_STORE:
        return g3_err_set(err, G3_ERR_UNSUPPORTED,
                          "node %d: KV_STORE without its ROPE cannot run on Vulkan", i);
    case G3_OP_ATTN: {
        const g3_layer *L = &m->layers[nd->layer];
        const g3_vk_attn_args a = {
            .pos = pos, .q = loc(ex, s, nd->src[0]), .out = loc(ex, s, nd->dst),
            .scratch = {ex->attn_scratch, 0}, .n_tokens = T, .kv = &ex->kv[nd->layer],
            .window = L->is_global ? 0 : (uint32_t)in->sliding_window,
            .scale = in->query_scale};
        if (T > 1 && ex->fa)
            g3_vk_record_flash_attn(cmd, ex->fa, &a);
        else
            g3_vk_record_attn(cmd, ex->ops, &a);
        return G3_OK;
    }
    case G3_OP_GELU_MUL: {
        const g3_tensor *dt = &g->tensors[nd->dst];
        g3_vk_record_gelu_mul(cmd, ex->ops, loc(ex, s, nd->src[0]), loc(ex, s, nd->src[1]),
                              (uint32_t)(dt->ne[0] * dt->ne[1]), loc(ex, s, nd->dst));
        return G3_OK;
    }
    case G3_OP_COUNT:
        break;
    }
    return G3_OK;
}

/* Nodes [first, last) into cmd; with_logits: then the argmax of the last logits
 * row and the copy of the logits into host memory. */
static g3_status record_segment(g3_vk_exec *ex, vk_step *s, g3_vk_cmd *cmd, int seg,
                                bool with_logits, g3_err *err)
{
    const g3_graph *g = s->graph;
    const int first = s->seg_first[seg];
    const int last = with_logits ? g->n_nodes : s->seg_first[seg + 1];
    g3_vk_cmd_begin_reusable(cmd);
    int barriers = 0, dispatched = 0;
    if (seg > 0) {
        g3_vk_cmd_barrier(cmd);
        barriers++;
    }
    for (int i = first; i < last; i++) {
        const g3_node *nd = &g->nodes[i];
        /* ROPE(q), ROPE(k), KV_STORE -> one rope_kv. */
        const bool fused = nd->op == G3_OP_ROPE && i + 2 < last &&
                           g->nodes[i + 1].op == G3_OP_ROPE &&
                           g->nodes[i + 2].op == G3_OP_KV_STORE;
        if (nd->op == G3_OP_ROPE && !fused)
            return g3_err_set(err, G3_ERR_UNSUPPORTED,
                              "node %d: ROPE without its KV_STORE cannot run on Vulkan", i);
        const bool norm2 = i + 1 < last && fuse_norm2(s, i);
        bool barrier = s->plan.barrier_before[i] && i > first;
        if (fused)
            barrier = barrier || s->plan.barrier_before[i + 1] || s->plan.barrier_before[i + 2];
        if (norm2) /* the RMS_NORM's own need is its read of the NORM_ADD's output */
            barrier = barrier || (s->plan.barrier_before[i + 1] && !s->plan.barrier_before[i]);
        if (barrier || (i == first && seg == 0 && s->plan.barrier_before[i])) {
            g3_vk_cmd_barrier(cmd);
            barriers++;
        }
        dispatched++;
        if (norm2) {
            const g3_node *nb = &g->nodes[i + 1];
            const g3_tensor *dt = &g->tensors[nd->dst];
            const uint32_t n = (uint32_t)nd->w->ne[0];
            g3_vk_record_norm_add_norm(
                cmd, ex->ops, loc(ex, s, nd->src[0]),
                (g3_vk_loc){ex->vectors, ex->vec_offset[g3_vk_exec_weight_index(ex, nd->w)]}, n,
                (uint32_t)(dt->ne[0] * dt->ne[1] / n), nd->eps, loc(ex, s, nd->src[1]),
                loc(ex, s, nd->dst),
                (g3_vk_loc){ex->vectors, ex->vec_offset[g3_vk_exec_weight_index(ex, nb->w)]},
                loc(ex, s, nb->dst));
            i += 1;
            continue;
        }
        g3_status st = record_node(ex, s, cmd, i, err);
        if (st != G3_OK)
            return st;
        if (fused)
            i += 2;
    }
    if (with_logits && g->t_logits >= 0) {
        const g3_model_info *in = &g->model->info;
        const uint64_t row = (uint64_t)in->n_vocab * 4;
        const uint64_t bytes = row * (uint64_t)g->n_logits;
        g3_vk_loc lastrow = loc(ex, s, g->t_logits);
        lastrow.offset += bytes - row;
        g3_vk_cmd_barrier(cmd);
        barriers++;
        g3_vk_record_argmax(cmd, ex->ops, lastrow, (uint32_t)in->n_vocab,
                            (g3_vk_loc){ex->select_scratch, 0},
                            (g3_vk_loc){ex->readback, bytes});
        g3_vk_cmd_copy(cmd, ex->arena, s->plan.tensors[g->t_logits].offset, ex->readback, 0,
                       bytes);
    }
    if (ex->arena_rb && seg == s->n_seg - 1) {
        g3_vk_cmd_barrier(cmd);
        g3_vk_cmd_copy(cmd, ex->arena, 0, ex->arena_rb, 0, ex->arena_bytes);
    }
    if (with_logits || seg < s->n_seg - 1) {
        s->n_barriers += barriers;
        s->n_dispatch_nodes += dispatched;
    }
    return g3_vk_cmd_end(cmd, err);
}

g3_status g3_vk_exec_record_step(g3_vk_exec *ex, vk_step *s, g3_err *err)
{
    const g3_graph *g = s->graph;
    const int n_layer = g->model->info.n_layer;
    /* Segment l holds layer l (segment 0 the embedding too). */
    s->n_seg = G3_MAX(n_layer, 1);
    s->seg_first = calloc((size_t)s->n_seg + 1, sizeof(*s->seg_first));
    s->cmds = calloc((size_t)s->n_seg + 1, sizeof(*s->cmds));
    s->order = calloc((size_t)s->n_seg, sizeof(*s->order));
    if (!s->seg_first || !s->cmds || !s->order)
        return g3_err_set(err, G3_ERR_OUT_OF_MEMORY, "cannot allocate the step's recordings");
    /* A layer's first node (its attention pre-norm) stays with the previous
     * segment when it fuses with that segment's last node. */
    int seg = 1;
    for (int i = 0; i < g->n_body && seg < s->n_seg; i++)
        if (g->nodes[i].layer == seg)
            s->seg_first[seg++] = i > 0 && fuse_norm2(s, i - 1) ? i + 1 : i;
    s->seg_first[s->n_seg] = g->n_body;
    G3_ASSERT(seg == s->n_seg);
    s->n_barriers = s->n_dispatch_nodes = 0;
    for (int k = 0; k <= s->n_seg; k++) {
        const bool with_logits = k == s->n_seg;
        if (with_logits && g->t_logits < 0)
            break;
        g3_status st = g3_vk_cmd_create(ex->ctx, &s->cmds[k], err);
        if (st == G3_OK)
            st = record_segment(ex, s, s->cmds[k], with_logits ? s->n_seg - 1 : k, with_logits,
                                err);
        if (st != G3_OK)
            return st;
    }
    return G3_OK;
}
