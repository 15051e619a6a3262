/* vk_exec.c: step graphs on a Vulkan device (see vk_exec.h): the weights, the
 * KV cache and the buffers every step shares, and running a step as one or
 * more submissions. Recording is in vk_exec_record.c. */
#include <math.h>
#include <string.h>

#include "quant.h"
#include "vk_exec_private.h"

int g3_vk_exec_weight_index(const g3_vk_exec *ex, const g3_weight *w)
{
    for (int i = 0; i < ex->n_weights; i++)
        if (ex->weights[i]->data == w->data)
            return i;
    return -1;
}

/* Every distinct weight of every step's plan, in first-use order. */
static g3_status collect_weights(g3_vk_exec *ex, g3_err *err)
{
    int cap = 0;
    for (int s = 0; s < ex->n_steps; s++)
        cap += ex->steps[s].plan.n_weights;
    ex->weights = calloc((size_t)G3_MAX(cap, 1), sizeof(*ex->weights));
    if (!ex->weights)
        return g3_err_set(err, G3_ERR_OUT_OF_MEMORY, "cannot allocate the weight table");
    for (int s = 0; s < ex->n_steps; s++)
        for (int i = 0; i < ex->steps[s].plan.n_weights; i++)
            if (g3_vk_exec_weight_index(ex, ex->steps[s].plan.weights[i]) < 0)
                ex->weights[ex->n_weights++] = ex->steps[s].plan.weights[i];
    return G3_OK;
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
    g3_status st = collect_weights(ex, err);
    if (st != G3_OK)
        return st;
    const int n_weights = ex->n_weights;
    const g3_weight **weights = ex->weights;
    ex->mats = calloc((size_t)G3_MAX(n_weights, 1), sizeof(*ex->mats));
    ex->vec_offset = calloc((size_t)G3_MAX(n_weights, 1), sizeof(*ex->vec_offset));
    if (!ex->mats || !ex->vec_offset)
        return g3_err_set(err, G3_ERR_OUT_OF_MEMORY, "cannot allocate the weight table");
    /* Vectors (norm scales) go to one f32 buffer, dequantized here: they are tiny. */
    uint64_t vec_bytes = 0, mat_bytes = 0;
    for (int i = 0; i < n_weights; i++) {
        const g3_weight *w = weights[i];
        if (w->ne[1] == 1) {
            ex->vec_offset[i] = vec_bytes;
            vec_bytes += ((uint64_t)w->ne[0] * 4 + 255) / 256 * 256;
        } else {
            mat_bytes += w->row_bytes * (uint64_t)w->ne[1];
        }
    }
    float *host = malloc(vec_bytes ? vec_bytes : 4);
    if (!host)
        return g3_err_set(err, G3_ERR_OUT_OF_MEMORY, "cannot allocate %llu bytes of norms",
                          (unsigned long long)vec_bytes);
    for (int i = 0; i < n_weights; i++)
        if (weights[i]->ne[1] == 1)
            g3_weight_row_f32(weights[i], 0, host + ex->vec_offset[i] / 4);
    if ((st = g3_vk_buffer_create(ex->ctx, vec_bytes ? vec_bytes : 4, G3_VK_MEMORY_DEVICE,
                                  "norm weights", &ex->vectors, err)) == G3_OK && vec_bytes)
        st = g3_vk_buffer_upload(ex->ctx, ex->vectors, 0, host, vec_bytes, err);
    free(host);
    if (st != G3_OK)
        return st;
    upload_progress prog = {.opt = opt, .total = mat_bytes};
    for (int i = 0; i < n_weights && st == G3_OK; i++) {
        const g3_weight *w = weights[i];
        if (w->ne[1] == 1)
            continue;
        st = g3_vk_weight_upload(ex->mv, w, on_upload, &prog, &ex->mats[i], err);
        prog.base += w->row_bytes * (uint64_t)w->ne[1];
    }
    /* What the device holds: the STREAMS layout rounds each row's scales up, and
     * every piece has its padding (a few % over the file's bytes). */
    ex->mem.weights = vec_bytes;
    for (int i = 0; i < n_weights; i++)
        if (ex->mats[i])
            ex->mem.weights += g3_vk_weight_get_info(ex->mats[i]).device_bytes;
    return st;
}

/* ---- buffers --------------------------------------------------------------------- */

static g3_status create_buffers(g3_vk_exec *ex, const g3_vk_exec_options *opt, g3_err *err)
{
    const g3_model_desc *m = ex->model;
    const g3_model_info *in = &m->info;
    const uint64_t T = (uint64_t)ex->max_tokens;
    uint64_t logits_bytes = 4;
    for (int s = 0; s < ex->n_steps; s++) {
        ex->arena_bytes = G3_MAX(ex->arena_bytes, ex->steps[s].plan.arena_bytes);
        logits_bytes = G3_MAX(logits_bytes,
                              (uint64_t)in->n_vocab * (uint64_t)ex->steps[s].graph->n_logits * 4);
    }
    g3_status st;
    /* The matvec kernels read whole words past a row's end: keep slack. */
    if ((st = g3_vk_buffer_create(ex->ctx, ex->arena_bytes + 256, G3_VK_MEMORY_DEVICE,
                                  "activations", &ex->arena, err)) != G3_OK)
        return st;
    ex->kv_buf = calloc((size_t)in->n_layer, sizeof(*ex->kv_buf));
    ex->kv = calloc((size_t)in->n_layer, sizeof(*ex->kv));
    if (!ex->kv_buf || !ex->kv)
        return g3_err_set(err, G3_ERR_OUT_OF_MEMORY, "cannot allocate the KV table");
    uint64_t attn_scratch = 4;
    for (int l = 0; l < in->n_layer; l++) {
        /* The ring of a sliding layer holds the largest step's tokens too. */
        const uint32_t slots = (uint32_t)g3_plan_kv_slots(m, l, opt->n_ctx, ex->max_tokens);
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
        /* Split-K partials for the 1-token step (flash attention needs none), or for
         * every step where the device cannot run flash attention. */
        attn_scratch = G3_MAX(attn_scratch, g3_vk_attn_scratch_bytes(ex->ops, splits,
                                                                     ex->fa ? 1 : (uint32_t)T));
    }
    const uint64_t sel = G3_MAX(g3_vk_argmax_scratch_bytes(ex->ops, (uint32_t)in->n_vocab), 4);
    if ((st = g3_vk_buffer_create(ex->ctx, attn_scratch, G3_VK_MEMORY_DEVICE, "attention partials",
                                  &ex->attn_scratch, err)) != G3_OK ||
        (st = g3_vk_buffer_create(ex->ctx, sel, G3_VK_MEMORY_DEVICE, "argmax partials",
                                  &ex->select_scratch, err)) != G3_OK ||
        (st = g3_vk_buffer_create(ex->ctx, 4 * (1 + T), G3_VK_MEMORY_UPLOAD,
                                  "step (pos, tokens)", &ex->step, err)) != G3_OK ||
        (st = g3_vk_buffer_create(ex->ctx, logits_bytes + 8, G3_VK_MEMORY_READBACK,
                                  "logits readback", &ex->readback, err)) != G3_OK)
        return st;
    /* Diffing reads every tensor after every step: one copy of the arena per step
     * beats one staging round trip per tensor. */
    if (opt->keep_all &&
        (st = g3_vk_buffer_create(ex->ctx, ex->arena_bytes + 4, G3_VK_MEMORY_READBACK,
                                  "activations readback", &ex->arena_rb, err)) != G3_OK)
        return st;
    ex->mem.activations = ex->arena_bytes;
    ex->mem.scratch = attn_scratch + sel + 4 * (1 + T) + logits_bytes + 8;
    const uint32_t max_pos = (uint32_t)opt->n_ctx + (uint32_t)T;
    if ((st = g3_vk_rope_table_create(ex->ops, in->rope_base_swa, 1.0f, max_pos, &ex->rope_swa,
                                      err)) != G3_OK ||
        (st = g3_vk_rope_table_create(ex->ops, in->rope_base, m->rope_freq_scale, max_pos,
                                      &ex->rope_global, err)) != G3_OK)
        return st;
    return G3_OK;
}

/* Flash attention for the multi-token steps; a device that cannot run it (no
 * subgroup shuffle, too little shared memory) keeps the split-K kernel. */
static g3_status create_flash_attn(g3_vk_exec *ex, g3_err *err)
{
    if (ex->max_tokens < 2)
        return G3_OK;
    const g3_model_info *in = &ex->model->info;
    g3_err fa_err = {0};
    const g3_status st = g3_vk_flash_attn_create(
        ex->ctx,
        &(g3_vk_flash_attn_options){.n_head = (uint32_t)in->n_head,
                                    .n_head_kv = (uint32_t)in->n_head_kv,
                                    .head_dim = (uint32_t)in->head_dim},
        &ex->fa, &fa_err);
    if (st == G3_ERR_UNSUPPORTED)
        return G3_OK;
    if (st != G3_OK && err)
        *err = fa_err;
    return st;
}

/* The matrix-matrix products of the multi-token steps, their pipelines made now
 * (lavapipe compiles each for about a second) rather than while recording. On CPU
 * devices the lane matmul also takes the one-token products of the weights that keep
 * their GGUF blocks: it reads them as whole 16-byte texels (one gather each) where the
 * lane matvec loads word by word, and is faster even for one token (decode on
 * lavapipe: Q4_K_M 10.7 -> 13.8 t/s, IQ4_NL 9.3 -> 12.3, F16 the same). The STREAMS
 * weights keep their matvec. */
static g3_status prepare_matmul(g3_vk_exec *ex, g3_err *err)
{
    const bool cpu = g3_vk_context_device(ex->ctx)->type == G3_VK_DEVICE_CPU;
    if (ex->max_tokens < 2 && !cpu)
        return G3_OK;
    g3_status st = g3_vk_matmul_create(ex->ctx, NULL, &ex->mm, err);
    for (int i = 0; i < ex->n_weights && st == G3_OK; i++)
        if (ex->mats[i])
            st = g3_vk_matmul_prepare(ex->mm, ex->mats[i], err);
    if (st == G3_OK)
        ex->mm_decode = cpu && g3_vk_matmul_get_options(ex->mm).mode == G3_VK_MATMUL_LANE;
    return st;
}

/* ---- lifetime --------------------------------------------------------------------- */

g3_status g3_vk_exec_create(const g3_graph *const *graphs, int n_graphs,
                            const g3_vk_exec_options *opt, g3_vk_exec **out, g3_err *err)
{
    *out = NULL;
    if (!opt || !graphs || n_graphs < 1)
        return g3_err_set(err, G3_ERR_INVALID_ARG, "g3_vk_exec_create: no steps or no options");
    int max_tokens = 0;
    for (int i = 0; i < n_graphs; i++) {
        if (!graphs[i] || graphs[i]->model != graphs[0]->model)
            return g3_err_set(err, G3_ERR_INVALID_ARG,
                              "g3_vk_exec_create: step %d is not a graph of the same model", i);
        max_tokens = G3_MAX(max_tokens, graphs[i]->n_tokens);
    }
    if (opt->n_ctx < max_tokens)
        return g3_err_set(err, G3_ERR_INVALID_ARG,
                          "g3_vk_exec_create: n_ctx %d is below the largest step (%d tokens)",
                          opt->n_ctx, max_tokens);
    g3_vk_exec *ex = calloc(1, sizeof(*ex));
    if (!ex)
        return g3_err_set(err, G3_ERR_OUT_OF_MEMORY, "cannot allocate the Vulkan executor");
    ex->model = graphs[0]->model;
    ex->max_tokens = max_tokens;
    ex->last_step = -1;
    const g3_model_info *in = &ex->model->info;
    g3_status st = G3_OK;
    if (!(ex->steps = calloc((size_t)n_graphs, sizeof(*ex->steps)))) {
        st = g3_err_set(err, G3_ERR_OUT_OF_MEMORY, "cannot allocate the Vulkan executor");
        goto fail;
    }
    ex->n_steps = n_graphs;
    if ((st = g3_vk_context_create(
             &(g3_vk_options){.device = opt->device, .validation = opt->validation}, &ex->ctx,
             err)) != G3_OK)
        goto fail;
    const g3_vk_device_info *dev = g3_vk_context_device(ex->ctx);
    /* GPUs under a desktop OS are reset when one submission runs for ~2 s; CPU
     * devices have no such watchdog. */
    ex->budget_s = opt->submit_budget_ms < 0   ? -1.0
                   : opt->submit_budget_ms > 0 ? opt->submit_budget_ms / 1000.0
                   : dev->type == G3_VK_DEVICE_CPU ? 0.0
                                                   : 0.050;
    const g3_plan_options po = {.alignment = G3_MAX(dev->min_storage_buffer_offset_alignment, 16),
                                .no_reuse = opt->keep_all, .n_ctx = opt->n_ctx,
                                .kv_bytes_per_el = opt->kv_f32 ? 4 : 2};
    for (int i = 0; i < n_graphs; i++) {
        ex->steps[i].graph = graphs[i];
        if ((st = g3_plan_build(graphs[i], &po, &ex->steps[i].plan, err)) != G3_OK)
            goto fail;
    }
    if ((st = g3_vk_matvec_create(ex->ctx, NULL, &ex->mv, err)) != G3_OK ||
        (st = g3_vk_ops_create(ex->ctx,
                               &(g3_vk_ops_options){.n_head = (uint32_t)in->n_head,
                                                    .n_head_kv = (uint32_t)in->n_head_kv,
                                                    .head_dim = (uint32_t)in->head_dim},
                               &ex->ops, err)) != G3_OK ||
        (st = create_flash_attn(ex, err)) != G3_OK ||
        (st = upload_weights(ex, opt, err)) != G3_OK ||
        (st = create_buffers(ex, opt, err)) != G3_OK ||
        (st = prepare_matmul(ex, err)) != G3_OK)
        goto fail;
    if (opt->profile) /* the steps' recorders, created from here on, are profiled */
        g3_vk_context_set_profiling(ex->ctx, true);
    for (int i = 0; i < n_graphs; i++)
        if ((st = g3_vk_exec_record_step(ex, &ex->steps[i], err)) != G3_OK)
            goto fail;
    ex->mem.n_barriers = ex->steps[0].n_barriers;
    ex->mem.n_dispatch_nodes = ex->steps[0].n_dispatch_nodes;
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
    for (int s = 0; s < ex->n_steps; s++) {
        vk_step *st = &ex->steps[s];
        if (st->cmds)
            for (int k = 0; k <= st->n_seg; k++)
                g3_vk_cmd_free(st->cmds[k]);
        free(st->cmds);
        free(st->order);
        free(st->seg_first);
        g3_plan_free(&st->plan);
    }
    free(ex->steps);
    g3_vk_rope_table_free(ex->rope_global);
    g3_vk_rope_table_free(ex->rope_swa);
    if (ex->ctx) {
        g3_vk_buffer_free(ex->ctx, ex->readback);
        g3_vk_buffer_free(ex->ctx, ex->arena_rb);
        g3_vk_buffer_free(ex->ctx, ex->step);
        g3_vk_buffer_free(ex->ctx, ex->select_scratch);
        g3_vk_buffer_free(ex->ctx, ex->attn_scratch);
        if (ex->kv_buf)
            for (int l = 0; l < ex->model->info.n_layer; l++)
                g3_vk_buffer_free(ex->ctx, ex->kv_buf[l]);
        g3_vk_buffer_free(ex->ctx, ex->arena);
        g3_vk_buffer_free(ex->ctx, ex->vectors);
    }
    if (ex->mats)
        for (int i = 0; i < ex->n_weights; i++)
            g3_vk_weight_free(ex->mats[i]);
    g3_vk_ops_free(ex->ops);
    g3_vk_matmul_free(ex->mm);
    g3_vk_flash_attn_free(ex->fa);
    g3_vk_matvec_free(ex->mv);
    g3_vk_context_free(ex->ctx);
    free(ex->kv);
    free(ex->kv_buf);
    free(ex->mats);
    free(ex->vec_offset);
    free(ex->weights);
    free(ex);
}

/* ---- running ---------------------------------------------------------------------- */

g3_status g3_vk_exec_run(g3_vk_exec *ex, int step, const int32_t *tokens, int64_t pos0,
                         bool want_logits, g3_err *err)
{
    if (step < 0 || step >= ex->n_steps)
        return g3_err_set(err, G3_ERR_INVALID_ARG, "g3_vk_exec_run: no step %d", step);
    vk_step *s = &ex->steps[step];
    uint32_t *buf = g3_vk_buffer_map(ex->step);
    buf[0] = (uint32_t)pos0;
    for (int t = 0; t < s->graph->n_tokens; t++)
        buf[1 + t] = (uint32_t)tokens[t];
    const bool logits = want_logits && s->graph->t_logits >= 0;
    ex->has_logits = false;
    ex->last_step = step;
    g3_vk_cmd **cmds = s->order;
    const int n = s->n_seg;
    for (int k = 0; k < n; k++)
        cmds[k] = s->cmds[k];
    if (logits)
        cmds[n - 1] = s->cmds[n];
    /* Segments per submission: all of them without a budget; one at a time until
     * the step has been timed once; then as many as fit the budget (and at most
     * 64, what one replay_group takes). */
    int per = n;
    if (ex->budget_s < 0 || (ex->budget_s > 0 && s->seg_s == 0))
        per = 1;
    else if (ex->budget_s > 0)
        per = (int)G3_MAX(1.0, G3_MIN((double)n, ex->budget_s / s->seg_s));
    per = G3_MIN(per, 64);
    s->last_submissions = 0;
    double longest = 0;
    for (int k = 0; k < n; k += per) {
        const int cnt = G3_MIN(per, n - k);
        const double t0 = g3_time_s();
        g3_status st = g3_vk_cmd_replay_group(&cmds[k], (uint32_t)cnt, err);
        if (st != G3_OK)
            return st;
        longest = G3_MAX(longest, (g3_time_s() - t0) / cnt);
        s->last_submissions++;
    }
    /* The slowest segment sets the pace (the logits segment included). */
    s->seg_s = longest;
    ex->has_logits = logits;
    return G3_OK;
}

const float *g3_vk_exec_logits(const g3_vk_exec *ex)
{
    return ex->has_logits ? g3_vk_buffer_map(ex->readback) : NULL;
}

int32_t g3_vk_exec_argmax(const g3_vk_exec *ex)
{
    if (!ex->has_logits)
        return -1;
    const g3_graph *g = ex->steps[ex->last_step].graph;
    const uint8_t *p = g3_vk_buffer_map(ex->readback);
    uint32_t id;
    memcpy(&id, p + (uint64_t)g->model->info.n_vocab * 4 * (uint64_t)g->n_logits, 4);
    return (int32_t)id;
}

g3_status g3_vk_exec_read(g3_vk_exec *ex, int id, float *dst, g3_err *err)
{
    if (ex->last_step < 0)
        return g3_err_set(err, G3_ERR_INVALID_ARG, "no step has run");
    const vk_step *s = &ex->steps[ex->last_step];
    if (id < 0 || id >= s->graph->n_tensors)
        return g3_err_set(err, G3_ERR_INVALID_ARG, "no tensor %d", id);
    if (ex->arena_rb) {
        memcpy(dst, (const uint8_t *)g3_vk_buffer_map(ex->arena_rb) + s->plan.tensors[id].offset,
               s->plan.tensors[id].bytes);
        return G3_OK;
    }
    return g3_vk_buffer_download(ex->ctx, ex->arena, s->plan.tensors[id].offset, dst,
                                 s->plan.tensors[id].bytes, err);
}

g3_vk_exec_memory g3_vk_exec_get_memory(const g3_vk_exec *ex)
{
    return ex->mem;
}

g3_vk_exec_step_info g3_vk_exec_get_step_info(const g3_vk_exec *ex, int step)
{
    if (!ex || step < 0 || step >= ex->n_steps)
        return (g3_vk_exec_step_info){0};
    const vk_step *s = &ex->steps[step];
    return (g3_vk_exec_step_info){.n_tokens = s->graph->n_tokens,
                                  .n_logits = s->graph->n_logits,
                                  .activations = s->plan.arena_bytes,
                                  .n_barriers = s->n_barriers,
                                  .n_dispatch_nodes = s->n_dispatch_nodes,
                                  .n_segments = s->n_seg,
                                  .last_submissions = s->last_submissions,
                                  .segment_ms = s->seg_s * 1e3,
                                  .budget_ms = G3_MAX(ex->budget_s, 0.0) * 1e3};
}

const char *g3_vk_exec_device_name(const g3_vk_exec *ex)
{
    return g3_vk_context_device(ex->ctx)->name;
}

/* ---- profiling ------------------------------------------------------------------ */

int g3_vk_exec_get_profile(const g3_vk_exec *ex, g3_profile_entry *entries, int cap,
                           g3_profile_info *info)
{
    g3_profile_info in = {0};
    g3_vk_profile_totals t = {0};
    const uint32_t n = g3_vk_profile_get(ex->ctx, entries, cap > 0 ? (uint32_t)cap : 0, &t);
    in.supported = g3_vk_profile_supported(ex->ctx, in.note, sizeof(in.note));
    if (in.supported && !g3_vk_context_profiling(ex->ctx)) {
        in.supported = false;
        snprintf(in.note, sizeof(in.note), "the context was created without the profile option");
    }
    in.submissions = t.replays;
    in.gpu_ns = t.gpu_ns;
    in.n_entries = (int)n;
    if (info)
        *info = in;
    return (int)n;
}

void g3_vk_exec_reset_profile(g3_vk_exec *ex)
{
    g3_vk_profile_reset(ex->ctx);
}
