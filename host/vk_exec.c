/* vk_exec.c: a step graph on a Vulkan device (see vk_exec.h).
 *
 * The graph's nodes map one to one onto the runtime's record functions, except
 * ROPE(q), ROPE(k), KV_STORE of a layer, which one rope_kv dispatch does
 * together. Barriers come from the planner (a fused group gets one before it
 * when any of its nodes needed one). Two recordings: the body alone (prompt
 * tokens whose logits nobody reads) and body + LM head + argmax + the copy of
 * the logits into host memory. */
#include <math.h>
#include <string.h>

#include "quant.h"
#include "vk_exec.h"
#include "vk_matvec.h"
#include "vk_ops.h"

struct g3_vk_exec {
    const g3_graph *graph;
    g3_plan plan;
    g3_vk_context *ctx;
    g3_vk_matvec *mv;
    g3_vk_ops *ops;
    g3_vk_weight **mats;    /* per plan weight: the uploaded matrix, NULL for vectors */
    uint64_t *vec_offset;   /* per plan weight: offset of the f32 vector in `vectors` */
    g3_vk_buffer *vectors;  /* norm weights, f32                                       */
    g3_vk_buffer *arena;    /* activations (planner offsets)                           */
    g3_vk_buffer **kv_buf;  /* per layer: K then V                                     */
    g3_vk_kv *kv;           /* per layer                                               */
    g3_vk_rope_table *rope_swa, *rope_global;
    g3_vk_buffer *attn_scratch, *select_scratch;
    g3_vk_buffer *step;     /* UPLOAD: uint32 pos, uint32 tokens[n_tokens]             */
    g3_vk_buffer *readback; /* READBACK: logits (n_vocab * n_logits), then argmax pair */
    g3_vk_buffer *arena_rb; /* keep_all: READBACK copy of the whole arena per step     */
    g3_vk_cmd *cmd_body, *cmd_full;
    g3_vk_exec_memory mem;
    bool has_logits;
};

static int weight_index(const g3_vk_exec *ex, const g3_weight *w)
{
    for (int i = 0; i < ex->plan.n_weights; i++)
        if (ex->plan.weights[i]->data == w->data)
            return i;
    return -1;
}

static g3_vk_loc loc(const g3_vk_exec *ex, int tensor)
{
    return (g3_vk_loc){ex->arena, ex->plan.tensors[tensor].offset};
}

/* ---- upload -------------------------------------------------------------------- */

typedef struct upload_progress {
    const g3_vk_exec_options *opt;
    uint64_t base, total;
} upload_progress;

static void on_upload(void *user, uint64_t done, uint64_t total)
{
    (void)total;
    const upload_progress *p = user;
    if (p->opt->progress)
        p->opt->progress(p->base + done, p->total, p->opt->progress_user);
}

static g3_status upload_weights(g3_vk_exec *ex, const g3_vk_exec_options *opt, g3_err *err)
{
    const g3_plan *pl = &ex->plan;
    ex->mats = calloc((size_t)pl->n_weights, sizeof(*ex->mats));
    ex->vec_offset = calloc((size_t)pl->n_weights, sizeof(*ex->vec_offset));
    if (!ex->mats || !ex->vec_offset)
        return g3_err_set(err, G3_ERR_OUT_OF_MEMORY, "cannot allocate the weight table");
    /* Vectors (norm scales) go to one f32 buffer, dequantized here: they are tiny. */
    uint64_t vec_bytes = 0, mat_bytes = 0;
    for (int i = 0; i < pl->n_weights; i++) {
        const g3_weight *w = pl->weights[i];
        if (w->ne[1] == 1) {
            ex->vec_offset[i] = vec_bytes;
            vec_bytes += ((uint64_t)w->ne[0] * 4 + 255) / 256 * 256;
        } else {
            mat_bytes += w->row_bytes * (uint64_t)w->ne[1];
        }
    }
    g3_status st = G3_OK;
    float *host = malloc(vec_bytes ? vec_bytes : 4);
    if (!host)
        return g3_err_set(err, G3_ERR_OUT_OF_MEMORY, "cannot allocate %llu bytes of norms",
                          (unsigned long long)vec_bytes);
    for (int i = 0; i < pl->n_weights; i++)
        if (pl->weights[i]->ne[1] == 1)
            g3_weight_row_f32(pl->weights[i], 0, host + ex->vec_offset[i] / 4);
    if ((st = g3_vk_buffer_create(ex->ctx, vec_bytes ? vec_bytes : 4, G3_VK_MEMORY_DEVICE,
                                  "norm weights", &ex->vectors, err)) == G3_OK && vec_bytes)
        st = g3_vk_buffer_upload(ex->ctx, ex->vectors, 0, host, vec_bytes, err);
    free(host);
    if (st != G3_OK)
        return st;
    upload_progress prog = {.opt = opt, .total = mat_bytes};
    for (int i = 0; i < pl->n_weights && st == G3_OK; i++) {
        const g3_weight *w = pl->weights[i];
        if (w->ne[1] == 1)
            continue;
        st = g3_vk_weight_upload(ex->mv, w, on_upload, &prog, &ex->mats[i], err);
        prog.base += w->row_bytes * (uint64_t)w->ne[1];
    }
    ex->mem.weights = vec_bytes + mat_bytes;
    return st;
}

/* ---- buffers --------------------------------------------------------------------- */

static g3_status create_buffers(g3_vk_exec *ex, const g3_vk_exec_options *opt, g3_err *err)
{
    const g3_graph *g = ex->graph;
    const g3_model_desc *m = g->model;
    const g3_model_info *in = &m->info;
    g3_status st;
    /* The matvec kernels read whole words past a row's end: keep slack. */
    if ((st = g3_vk_buffer_create(ex->ctx, ex->plan.arena_bytes + 256, G3_VK_MEMORY_DEVICE,
                                  "activations", &ex->arena, err)) != G3_OK)
        return st;
    ex->kv_buf = calloc((size_t)in->n_layer, sizeof(*ex->kv_buf));
    ex->kv = calloc((size_t)in->n_layer, sizeof(*ex->kv));
    if (!ex->kv_buf || !ex->kv)
        return g3_err_set(err, G3_ERR_OUT_OF_MEMORY, "cannot allocate the KV table");
    uint64_t attn_scratch = 4;
    for (int l = 0; l < in->n_layer; l++) {
        const uint32_t slots = (uint32_t)g3_plan_kv_slots(m, l, opt->n_ctx, g->n_tokens);
        const uint64_t half = g3_vk_kv_bytes(ex->ops, slots, opt->kv_f32);
        char name[48];
        snprintf(name, sizeof(name), "blk.%d KV cache", l);
        if ((st = g3_vk_buffer_create(ex->ctx, 2 * half, G3_VK_MEMORY_DEVICE, name,
                                      &ex->kv_buf[l], err)) != G3_OK)
            return st;
        ex->kv[l] = (g3_vk_kv){.buf = ex->kv_buf[l], .k_offset = 0, .v_offset = half,
                               .n_slots = slots, .f32 = opt->kv_f32};
        ex->mem.kv += 2 * half;
        const uint32_t window = m->layers[l].is_global ? 0 : (uint32_t)in->sliding_window;
        const uint32_t splits = g3_vk_attn_splits(ex->ops, &ex->kv[l], window);
        attn_scratch = G3_MAX(attn_scratch,
                              g3_vk_attn_scratch_bytes(ex->ops, splits, (uint32_t)g->n_tokens));
    }
    const uint64_t sel = G3_MAX(g3_vk_argmax_scratch_bytes(ex->ops, (uint32_t)in->n_vocab), 4);
    const uint64_t logits_bytes = (uint64_t)in->n_vocab * (uint64_t)G3_MAX(g->n_logits, 1) * 4;
    if ((st = g3_vk_buffer_create(ex->ctx, attn_scratch, G3_VK_MEMORY_DEVICE, "attention partials",
                                  &ex->attn_scratch, err)) != G3_OK ||
        (st = g3_vk_buffer_create(ex->ctx, sel, G3_VK_MEMORY_DEVICE, "argmax partials",
                                  &ex->select_scratch, err)) != G3_OK ||
        (st = g3_vk_buffer_create(ex->ctx, 4 * (1 + (uint64_t)g->n_tokens), G3_VK_MEMORY_UPLOAD,
                                  "step (pos, tokens)", &ex->step, err)) != G3_OK ||
        (st = g3_vk_buffer_create(ex->ctx, logits_bytes + 8, G3_VK_MEMORY_READBACK,
                                  "logits readback", &ex->readback, err)) != G3_OK)
        return st;
    /* Diffing reads every tensor after every step: one copy of the arena per step
     * beats one staging round trip per tensor. */
    if (opt->keep_all &&
        (st = g3_vk_buffer_create(ex->ctx, ex->plan.arena_bytes + 4, G3_VK_MEMORY_READBACK,
                                  "activations readback", &ex->arena_rb, err)) != G3_OK)
        return st;
    ex->mem.activations = ex->plan.arena_bytes;
    ex->mem.scratch = attn_scratch + sel + 4 * (1 + (uint64_t)g->n_tokens) + logits_bytes + 8;
    const uint32_t max_pos = (uint32_t)opt->n_ctx + (uint32_t)g->n_tokens;
    if ((st = g3_vk_rope_table_create(ex->ops, in->rope_base_swa, 1.0f, max_pos, &ex->rope_swa,
                                      err)) != G3_OK ||
        (st = g3_vk_rope_table_create(ex->ops, in->rope_base, m->rope_freq_scale, max_pos,
                                      &ex->rope_global, err)) != G3_OK)
        return st;
    return G3_OK;
}

/* ---- recording -------------------------------------------------------------------- */

static g3_status record(g3_vk_exec *ex, g3_vk_cmd *cmd, bool logits, g3_err *err)
{
    const g3_graph *g = ex->graph;
    const g3_model_desc *m = g->model;
    const g3_model_info *in = &m->info;
    const uint32_t T = (uint32_t)g->n_tokens;
    const g3_vk_loc pos = {ex->step, 0}, tokens = {ex->step, 4};
    const int n_nodes = logits ? g->n_nodes : g->n_body;
    g3_vk_cmd_begin_reusable(cmd);
    int dispatched = 0, barriers = 0;
    for (int i = 0; i < n_nodes; i++) {
        const g3_node *nd = &g->nodes[i];
        /* ROPE(q), ROPE(k), KV_STORE -> one rope_kv. */
        const bool fused = nd->op == G3_OP_ROPE && i + 2 < n_nodes &&
                           g->nodes[i + 1].op == G3_OP_ROPE &&
                           g->nodes[i + 2].op == G3_OP_KV_STORE;
        bool barrier = ex->plan.barrier_before[i];
        if (fused)
            barrier = barrier || ex->plan.barrier_before[i + 1] || ex->plan.barrier_before[i + 2];
        if (barrier) {
            g3_vk_cmd_barrier(cmd);
            barriers++;
        }
        dispatched++;
        const int wi = nd->w ? weight_index(ex, nd->w) : -1;
        switch (nd->op) {
        case G3_OP_EMBED: {
            const g3_vk_weight *w = ex->mats[wi];
            const g3_vk_weight_info info = g3_vk_weight_get_info(w);
            g3_vk_rows pieces[64];
            if (info.n_pieces > 64)
                return g3_err_set(err, G3_ERR_UNSUPPORTED, "%s: %u pieces", info.name,
                                  info.n_pieces);
            for (uint32_t p = 0; p < info.n_pieces; p++)
                pieces[p] = g3_vk_weight_piece(w, p);
            const g3_vk_embedding emb = {.type = info.type, .cols = (uint32_t)info.cols,
                                         .row_bytes = info.row_bytes, .n_pieces = info.n_pieces,
                                         .pieces = pieces, .streams = info.streams};
            g3_vk_record_embed(cmd, ex->ops, &emb, tokens, T, sqrtf((float)in->n_embd),
                               loc(ex, nd->dst));
            break;
        }
        case G3_OP_RMS_NORM:
        case G3_OP_NORM_ADD: {
            const g3_tensor *dt = &g->tensors[nd->dst];
            const uint32_t n = (uint32_t)nd->w->ne[0];
            g3_vk_loc x = loc(ex, nd->src[0]);
            x.offset += (uint64_t)nd->src_row0 * (uint64_t)g->tensors[nd->src[0]].ne[0] * 4;
            const g3_vk_loc res = nd->op == G3_OP_NORM_ADD ? loc(ex, nd->src[1]) : (g3_vk_loc){0};
            g3_vk_record_rms_norm(cmd, ex->ops, x, (g3_vk_loc){ex->vectors, ex->vec_offset[wi]},
                                  n, (uint32_t)(dt->ne[0] * dt->ne[1] / n), nd->eps,
                                  nd->op == G3_OP_NORM_ADD ? &res : NULL, loc(ex, nd->dst));
            break;
        }
        case G3_OP_MATVEC:
            g3_vk_matvec_record(cmd, ex->mats[wi], ex->arena, ex->plan.tensors[nd->src[0]].offset,
                                ex->arena, ex->plan.tensors[nd->dst].offset,
                                (uint32_t)g->tensors[nd->dst].ne[1]);
            break;
        case G3_OP_ROPE: {
            if (!fused)
                return g3_err_set(err, G3_ERR_UNSUPPORTED,
                                  "node %d: ROPE without its KV_STORE cannot run on Vulkan", i);
            const g3_node *nk = &g->nodes[i + 1], *ns = &g->nodes[i + 2];
            const g3_vk_rope_kv_args a = {
                .pos = pos, .act = ex->arena,
                .q_in = ex->plan.tensors[nd->src[0]].offset,
                .q_out = ex->plan.tensors[nd->dst].offset,
                .k_in = ex->plan.tensors[nk->src[0]].offset,
                .k_out = ex->plan.tensors[nk->dst].offset,
                .v_in = ex->plan.tensors[ns->src[1]].offset,
                .n_tokens = T,
                .table = m->layers[nd->layer].is_global ? ex->rope_global : ex->rope_swa,
                .kv = &ex->kv[nd->layer]};
            g3_vk_record_rope_kv(cmd, ex->ops, &a);
            i += 2;
            break;
        }
        case G3_OP_KV_STORE:
            return g3_err_set(err, G3_ERR_UNSUPPORTED,
                              "node %d: KV_STORE without its ROPE cannot run on Vulkan", i);
        case G3_OP_ATTN: {
            const g3_layer *L = &m->layers[nd->layer];
            const g3_vk_attn_args a = {
                .pos = pos, .q = loc(ex, nd->src[0]), .out = loc(ex, nd->dst),
                .scratch = {ex->attn_scratch, 0}, .n_tokens = T, .kv = &ex->kv[nd->layer],
                .window = L->is_global ? 0 : (uint32_t)in->sliding_window,
                .scale = in->query_scale};
            g3_vk_record_attn(cmd, ex->ops, &a);
            break;
        }
        case G3_OP_GELU_MUL: {
            const g3_tensor *dt = &g->tensors[nd->dst];
            g3_vk_record_gelu_mul(cmd, ex->ops, loc(ex, nd->src[0]), loc(ex, nd->src[1]),
                                  (uint32_t)(dt->ne[0] * dt->ne[1]), loc(ex, nd->dst));
            break;
        }
        case G3_OP_COUNT:
            break;
        }
    }
    if (logits && g->t_logits >= 0) {
        /* Argmax of the last logits row on the device, and the logits into host memory. */
        const uint64_t row = (uint64_t)in->n_vocab * 4;
        const uint64_t bytes = row * (uint64_t)g->n_logits;
        g3_vk_loc last = loc(ex, g->t_logits);
        last.offset += bytes - row;
        g3_vk_cmd_barrier(cmd);
        g3_vk_record_argmax(cmd, ex->ops, last, (uint32_t)in->n_vocab,
                            (g3_vk_loc){ex->select_scratch, 0},
                            (g3_vk_loc){ex->readback, bytes});
        g3_vk_cmd_copy(cmd, ex->arena, ex->plan.tensors[g->t_logits].offset, ex->readback, 0,
                       bytes);
        barriers++;
    }
    if (ex->arena_rb) {
        g3_vk_cmd_barrier(cmd);
        g3_vk_cmd_copy(cmd, ex->arena, 0, ex->arena_rb, 0, ex->plan.arena_bytes);
    }
    if (logits) {
        ex->mem.n_barriers = barriers;
        ex->mem.n_dispatch_nodes = dispatched;
    }
    return g3_vk_cmd_end(cmd, err);
}

/* ---- lifetime --------------------------------------------------------------------- */

g3_status g3_vk_exec_create(const g3_graph *graph, const g3_vk_exec_options *opt,
                            g3_vk_exec **out, g3_err *err)
{
    *out = NULL;
    if (!opt || opt->n_ctx < graph->n_tokens)
        return g3_err_set(err, G3_ERR_INVALID_ARG, "g3_vk_exec_create: n_ctx is required");
    g3_vk_exec *ex = calloc(1, sizeof(*ex));
    if (!ex)
        return g3_err_set(err, G3_ERR_OUT_OF_MEMORY, "cannot allocate the Vulkan executor");
    ex->graph = graph;
    const g3_model_info *in = &graph->model->info;
    g3_status st = g3_vk_context_create(
        &(g3_vk_options){.device = opt->device, .validation = opt->validation}, &ex->ctx, err);
    if (st != G3_OK)
        goto fail;
    const g3_vk_device_info *dev = g3_vk_context_device(ex->ctx);
    const g3_plan_options po = {.alignment = G3_MAX(dev->min_storage_buffer_offset_alignment, 16),
                                .no_reuse = opt->keep_all, .n_ctx = opt->n_ctx,
                                .kv_bytes_per_el = opt->kv_f32 ? 4 : 2};
    if ((st = g3_plan_build(graph, &po, &ex->plan, err)) != G3_OK ||
        (st = g3_vk_matvec_create(ex->ctx, NULL, &ex->mv, err)) != G3_OK ||
        (st = g3_vk_ops_create(ex->ctx,
                               &(g3_vk_ops_options){.n_head = (uint32_t)in->n_head,
                                                    .n_head_kv = (uint32_t)in->n_head_kv,
                                                    .head_dim = (uint32_t)in->head_dim},
                               &ex->ops, err)) != G3_OK ||
        (st = upload_weights(ex, opt, err)) != G3_OK ||
        (st = create_buffers(ex, opt, err)) != G3_OK ||
        (st = g3_vk_cmd_create(ex->ctx, &ex->cmd_body, err)) != G3_OK ||
        (st = g3_vk_cmd_create(ex->ctx, &ex->cmd_full, err)) != G3_OK ||
        (st = record(ex, ex->cmd_body, false, err)) != G3_OK ||
        (st = record(ex, ex->cmd_full, true, err)) != G3_OK)
        goto fail;
    *out = ex;
    return G3_OK;
fail:
    g3_vk_exec_free(ex);
    return st;
}

void g3_vk_exec_free(g3_vk_exec *ex)
{
    if (!ex)
        return;
    g3_vk_cmd_free(ex->cmd_full);
    g3_vk_cmd_free(ex->cmd_body);
    g3_vk_rope_table_free(ex->rope_global);
    g3_vk_rope_table_free(ex->rope_swa);
    if (ex->ctx) {
        g3_vk_buffer_free(ex->ctx, ex->readback);
        g3_vk_buffer_free(ex->ctx, ex->arena_rb);
        g3_vk_buffer_free(ex->ctx, ex->step);
        g3_vk_buffer_free(ex->ctx, ex->select_scratch);
        g3_vk_buffer_free(ex->ctx, ex->attn_scratch);
        if (ex->kv_buf)
            for (int l = 0; l < ex->graph->model->info.n_layer; l++)
                g3_vk_buffer_free(ex->ctx, ex->kv_buf[l]);
        g3_vk_buffer_free(ex->ctx, ex->arena);
        g3_vk_buffer_free(ex->ctx, ex->vectors);
    }
    if (ex->mats)
        for (int i = 0; i < ex->plan.n_weights; i++)
            g3_vk_weight_free(ex->mats[i]);
    g3_vk_ops_free(ex->ops);
    g3_vk_matvec_free(ex->mv);
    g3_vk_context_free(ex->ctx);
    free(ex->kv);
    free(ex->kv_buf);
    free(ex->mats);
    free(ex->vec_offset);
    g3_plan_free(&ex->plan);
    free(ex);
}

/* ---- running ---------------------------------------------------------------------- */

g3_status g3_vk_exec_run(g3_vk_exec *ex, const int32_t *tokens, int64_t pos0, bool want_logits,
                         g3_err *err)
{
    uint32_t *step = g3_vk_buffer_map(ex->step);
    step[0] = (uint32_t)pos0;
    for (int t = 0; t < ex->graph->n_tokens; t++)
        step[1 + t] = (uint32_t)tokens[t];
    const bool logits = want_logits && ex->graph->t_logits >= 0;
    g3_status st = g3_vk_cmd_replay(logits ? ex->cmd_full : ex->cmd_body, err);
    ex->has_logits = st == G3_OK && logits;
    return st;
}

const float *g3_vk_exec_logits(const g3_vk_exec *ex)
{
    return ex->has_logits ? g3_vk_buffer_map(ex->readback) : NULL;
}

int32_t g3_vk_exec_argmax(const g3_vk_exec *ex)
{
    if (!ex->has_logits)
        return -1;
    const g3_graph *g = ex->graph;
    const uint8_t *p = g3_vk_buffer_map(ex->readback);
    uint32_t id;
    memcpy(&id, p + (uint64_t)g->model->info.n_vocab * 4 * (uint64_t)g->n_logits, 4);
    return (int32_t)id;
}

g3_status g3_vk_exec_read(g3_vk_exec *ex, int id, float *dst, g3_err *err)
{
    if (id < 0 || id >= ex->graph->n_tensors)
        return g3_err_set(err, G3_ERR_INVALID_ARG, "no tensor %d", id);
    if (ex->arena_rb) {
        memcpy(dst, (const uint8_t *)g3_vk_buffer_map(ex->arena_rb) + ex->plan.tensors[id].offset,
               ex->plan.tensors[id].bytes);
        return G3_OK;
    }
    return g3_vk_buffer_download(ex->ctx, ex->arena, ex->plan.tensors[id].offset, dst,
                                 ex->plan.tensors[id].bytes, err);
}

g3_vk_exec_memory g3_vk_exec_get_memory(const g3_vk_exec *ex)
{
    return ex->mem;
}

const char *g3_vk_exec_device_name(const g3_vk_exec *ex)
{
    return g3_vk_context_device(ex->ctx)->name;
}
