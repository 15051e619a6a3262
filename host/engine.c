/* engine.c: implements g3.h on top of the model binding, the step graph and
 * an executor. The CPU reference is the executor for now. */
#include <stdarg.h>
#include <string.h>

#include "engine.h"
#include "vk.h"

static g3_model_options model_options_resolve(const g3_model_options *opt)
{
    g3_model_options r = opt ? *opt : (g3_model_options){0};
    if (r.n_threads <= 0)
        r.n_threads = 0; /* the pool resolves 0 to the online CPUs */
    return r;
}

/* Touches every page of the tensor data once, in file order, reporting
 * progress: the weights are read from disk now (with a progress bar) instead
 * of during the first tokens. */
static void prefault_weights(g3_model *m)
{
    const g3_gguf *g = m->gguf;
    const uint64_t begin = g->data_offset, total = g->size - begin, step = 4u << 20;
    volatile uint8_t sink = 0;
    for (uint64_t off = 0; off < total; off += 4096) {
        sink ^= g->base[begin + off];
        if (off % step == 0)
            m->opt.progress(off, total, m->opt.progress_user);
    }
    (void)sink;
    m->opt.progress(total, total, m->opt.progress_user);
}

/* VULKAN needs a usable device (named error otherwise); AUTO takes the chosen
 * device when there is one and says why when it falls back to the CPU. The
 * device itself is opened per context, with the weights. */
static g3_status choose_backend(g3_model *m, g3_err *err)
{
    g3_model_info *in = &m->desc.info;
    in->backend = G3_BACKEND_CPU;
    snprintf(in->device, sizeof(in->device), "CPU reference");
    if (m->opt.backend == G3_BACKEND_CPU)
        return G3_OK;
    g3_err verr = {0};
    g3_vk_device_info infos[16];
    int count = 0, chosen = -1;
    g3_status st = g3_vk_enumerate(&(g3_vk_options){.device = m->opt.device}, infos, 16, &count,
                                   &chosen, &verr);
    const char *why = NULL;
    char buf[480];
    if (st != G3_OK) {
        why = verr.msg;
    } else if (chosen < 0 || chosen >= G3_MIN(count, 16)) {
        why = "no Vulkan device was chosen";
    } else if (!infos[chosen].usable) {
        snprintf(buf, sizeof(buf), "%s cannot run g3vk: %s", infos[chosen].name,
                 infos[chosen].reject_reason);
        why = buf;
    }
    if (why && m->opt.backend == G3_BACKEND_VULKAN)
        return g3_err_set(err, st != G3_OK ? st : G3_ERR_UNSUPPORTED, "Vulkan backend: %s", why);
    if (why) {
        snprintf(in->backend_note, sizeof(in->backend_note), "using the CPU: %.300s", why);
        return G3_OK;
    }
    in->backend = G3_BACKEND_VULKAN;
    snprintf(in->device, sizeof(in->device), "%s", infos[chosen].name);
    return G3_OK;
}

g3_status g3_model_load(const char *path, const g3_model_options *opt, g3_model **out,
                        char *err_buf, size_t err_cap)
{
    g3_err err = {0};
    g3_status st;
    g3_model *m = NULL;
    if (out)
        *out = NULL;
    if (!path || !out) {
        st = g3_err_set(&err, G3_ERR_INVALID_ARG, "g3_model_load: path and out are required");
        goto fail_msg;
    }
    m = calloc(1, sizeof(*m));
    if (!m) {
        st = g3_err_set(&err, G3_ERR_OUT_OF_MEMORY, "%s: cannot allocate the model", path);
        goto fail_msg;
    }
    m->opt = model_options_resolve(opt);
    if ((st = g3_gguf_open(path, &m->gguf, &err)) != G3_OK)
        goto fail; /* the reader's messages already name the file */
    if ((st = g3_model_desc_init(m->gguf, &m->desc, &err)) != G3_OK) {
        g3_err_prefix(&err, "%s", path);
        goto fail;
    }
    /* A model without a vocabulary still computes logits from ids (the reference
     * files); text commands report why they cannot run. */
    g3_err tok_err = {0};
    if (g3_tokenizer_from_gguf(m->gguf, &m->tok, &tok_err) == G3_OK) {
        const g3_tokenizer_specials *sp = g3_tokenizer_get_specials(m->tok);
        m->desc.info.has_tokenizer = true;
        m->desc.info.token_bos = sp->bos;
        m->desc.info.token_eos = sp->eos;
        m->desc.info.token_eot = sp->end_of_turn;
    } else {
        snprintf(m->tok_error, sizeof(m->tok_error), "%s", tok_err.msg);
        m->desc.info.token_bos = m->desc.info.token_eos = m->desc.info.token_eot = -1;
    }
    if ((st = choose_backend(m, &err)) != G3_OK)
        goto fail;
    if (m->opt.progress && m->desc.info.backend == G3_BACKEND_CPU)
        prefault_weights(m);
    m->pool = g3_threadpool_create(m->opt.n_threads);
    if (!m->pool) {
        st = g3_err_set(&err, G3_ERR_OUT_OF_MEMORY, "cannot start the CPU threads");
        goto fail;
    }
    *out = m;
    return G3_OK;
fail:
    g3_model_free(m);
fail_msg:
    g3_err_copy(&err, err_buf, err_cap);
    return st;
}

void g3_model_free(g3_model *m)
{
    if (!m)
        return;
    g3_tokenizer_free(m->tok);
    g3_threadpool_free(m->pool);
    g3_model_desc_free(&m->desc);
    g3_gguf_close(m->gguf);
    free(m);
}

const g3_model_info *g3_model_get_info(const g3_model *m)
{
    return m ? &m->desc.info : NULL;
}

const char *g3_model_last_error(const g3_model *m)
{
    return m ? m->last_error : "";
}

/* G3_VK_SUBMIT_BUDGET_MS overrides the executor's submission budget (tests make
 * lavapipe behave like a slow GPU with it); 0 or unset: the device's default. */
static double budget_ms(void)
{
    const char *e = getenv("G3_VK_SUBMIT_BUDGET_MS");
    return e ? strtod(e, NULL) : 0.0;
}

/* The Vulkan steps: decode (1 token), prefill chunks of n_batch, 64 and 8
 * tokens (a prompt is cut into the largest that fit, so a 100-token turn is
 * 64 + 4 x 8 + 4 x 1, not 100 single tokens) with the logits of the last
 * token, and for g3_context_eval_all steps with the logits of every token
 * (at most 16 MiB of logits per step: 16 rows of a 262144 vocabulary; their
 * readback buffer is most of the context's scratch, which with the activations
 * stays under 64 MiB at a 4096-token context). */
static g3_status build_vk_steps(g3_context *c, g3_err *err)
{
    const g3_model_desc *d = &c->model->desc;
    const int sizes[3] = {c->n_batch, 64, 8};
    g3_status st = G3_OK;
    for (int i = 0; i < 3 && st == G3_OK; i++)
        if (sizes[i] > 1 && sizes[i] <= c->n_batch && (i == 0 || sizes[i] < c->n_batch))
            st = g3_graph_build(d, sizes[i], 1, &c->steps[c->n_prefill++], err);
    const int64_t rows = G3_MAX(1, (16 << 20) / ((int64_t)d->info.n_vocab * 4));
    const int all = (int)G3_MIN(rows, (int64_t)c->n_batch);
    if (st == G3_OK && all > 1)
        st = g3_graph_build(d, all, all, &c->steps[c->n_prefill + c->n_all++], err);
    if (st == G3_OK && all > 8)
        st = g3_graph_build(d, 8, 8, &c->steps[c->n_prefill + c->n_all++], err);
    return st;
}

g3_status g3_context_create(g3_model *m, const g3_context_options *opt, g3_context **out)
{
    if (!out)
        return G3_ERR_INVALID_ARG;
    *out = NULL;
    if (!m)
        return G3_ERR_INVALID_ARG;
    g3_context_options o = opt ? *opt : (g3_context_options){0};
    if (o.n_ctx < 0 || o.n_batch < 0)
        return G3_ERR_INVALID_ARG;
    int n_ctx = o.n_ctx ? o.n_ctx : 4096;
    if (n_ctx > m->desc.info.n_ctx_train)
        n_ctx = m->desc.info.n_ctx_train;

    g3_context *c = calloc(1, sizeof(*c));
    if (!c)
        return G3_ERR_OUT_OF_MEMORY;
    c->model = m;
    c->n_ctx = n_ctx;
    c->n_batch = G3_MIN(o.n_batch ? o.n_batch : 512, n_ctx);
    g3_err err = {0};
    g3_status st = g3_graph_build(&m->desc, 1, 1, &c->graph, &err);
    if (st == G3_OK && m->desc.info.backend == G3_BACKEND_VULKAN) {
        st = build_vk_steps(c, &err);
        const g3_graph *graphs[6] = {&c->graph};
        for (int i = 0; i < c->n_prefill + c->n_all; i++)
            graphs[1 + i] = &c->steps[i];
        if (st == G3_OK)
            st = g3_vk_exec_create(graphs, 1 + c->n_prefill + c->n_all,
                                   &(g3_vk_exec_options){.n_ctx = n_ctx, .kv_f32 = o.kv_f32,
                                                         .device = m->opt.device,
                                                         .submit_budget_ms = budget_ms(),
                                                         .progress = m->opt.progress,
                                                         .progress_user = m->opt.progress_user,
                                                         .profile = o.profile},
                                   &c->vk, &err);
    } else if (st == G3_OK) {
        c->n_batch = 1;
        st = g3_ref_exec_init(&c->exec, &c->graph, n_ctx, m->pool, &err);
        c->exec.kv_f16 = o.kv_f16;
    }
    if (st != G3_OK) {
        snprintf(c->error, sizeof(c->error), "%s", err.msg);
        snprintf(m->last_error, sizeof(m->last_error), "%s", err.msg);
        g3_context_free(c);
        return st;
    }
    *out = c;
    return G3_OK;
}

void g3_context_free(g3_context *c)
{
    if (!c)
        return;
    g3_vk_exec_free(c->vk);
    g3_ref_exec_free(&c->exec);
    for (int i = 0; i < c->n_prefill + c->n_all; i++)
        g3_graph_free(&c->steps[i]);
    g3_graph_free(&c->graph);
    free(c);
}

static g3_status ctx_fail(g3_context *c, g3_status st, const char *fmt, ...) G3_PRINTF(3, 4);

static g3_status ctx_fail(g3_context *c, g3_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->error, sizeof(c->error), fmt, ap);
    va_end(ap);
    return st;
}

/* Checks the ids and the room left; on failure the context error says why. */
static g3_status check_tokens(g3_context *c, const int32_t *tokens, int n)
{
    if (!c || (!tokens && n > 0) || n < 0)
        return G3_ERR_INVALID_ARG;
    c->error[0] = 0;
    const int n_vocab = c->model->desc.info.n_vocab;
    for (int i = 0; i < n; i++)
        if (tokens[i] < 0 || tokens[i] >= n_vocab)
            return ctx_fail(c, G3_ERR_INVALID_ARG, "token id %d is outside the vocabulary (%d)",
                            (int)tokens[i], n_vocab);
    if ((long long)c->n_past + n > c->n_ctx)
        return ctx_fail(c, G3_ERR_CONTEXT_FULL,
                        "%lld tokens do not fit: the context holds %d positions",
                        (long long)c->n_past + n, c->n_ctx);
    return G3_OK;
}

/* Runs tokens [0, n) in the largest steps that fit; all != NULL: every row of
 * logits into it, else the last token's logits when want_logits. */
static g3_status run_tokens(g3_context *c, const int32_t *tokens, int n, bool want_logits,
                            float *all)
{
    const int64_t n_vocab = c->model->desc.info.n_vocab;
    int i = 0;
    while (i < n) {
        int step = 0, T = 1; /* step 0: one token */
        if (c->vk) {
            const int first = all ? c->n_prefill : c->prefill_from;
            const int end = all ? c->n_prefill + c->n_all : c->n_prefill;
            for (int k = first; k < end; k++)
                if (c->steps[k].n_tokens <= n - i) {
                    step = 1 + k;
                    T = c->steps[k].n_tokens;
                    break;
                }
        }
        const bool logits = all || (want_logits && i + T == n);
        c->have_logits = false;
        if (c->vk) {
            g3_err err = {0};
            g3_status st = g3_vk_exec_run(c->vk, step, &tokens[i], c->n_past, logits, &err);
            if (st != G3_OK)
                return ctx_fail(c, st, "%s", err.msg);
            if (all)
                memcpy(all + i * n_vocab, g3_vk_exec_logits(c->vk),
                       (size_t)T * (size_t)n_vocab * sizeof(float));
            /* A slow GPU: when one layer of a step outlasts the submission budget, the
             * step cannot be split finer; later prompts use smaller steps. */
            const g3_vk_exec_step_info si = g3_vk_exec_get_step_info(c->vk, step);
            if (!all && step >= 1 && step <= c->n_prefill && step - 1 == c->prefill_from &&
                si.budget_ms > 0 && si.segment_ms > si.budget_ms && c->prefill_from + 1 < c->n_prefill)
                c->prefill_from++;
        } else {
            g3_ref_exec_run(&c->exec, &tokens[i], c->n_past, logits);
            if (all)
                memcpy(all + i * n_vocab, c->exec.buf[c->graph.t_logits],
                       (size_t)n_vocab * sizeof(float));
        }
        c->n_past += T;
        i += T;
        c->have_logits = logits;
    }
    return G3_OK;
}

g3_status g3_context_eval(g3_context *c, const int32_t *tokens, int n, bool want_logits)
{
    g3_status st = check_tokens(c, tokens, n);
    return st != G3_OK ? st : run_tokens(c, tokens, n, want_logits, NULL);
}

g3_status g3_context_eval_all(g3_context *c, const int32_t *tokens, int n, float *logits)
{
    if (!logits && n > 0)
        return G3_ERR_INVALID_ARG;
    g3_status st = check_tokens(c, tokens, n);
    return st != G3_OK ? st : run_tokens(c, tokens, n, true, logits);
}

const float *g3_context_logits(const g3_context *c)
{
    if (!c || !c->have_logits)
        return NULL;
    if (c->vk)
        return g3_vk_exec_logits(c->vk);
    return c->exec.buf[c->graph.t_logits];
}

g3_context_memory g3_context_get_memory(const g3_context *c)
{
    if (!c || !c->vk)
        return (g3_context_memory){0};
    const g3_vk_exec_memory m = g3_vk_exec_get_memory(c->vk);
    return (g3_context_memory){.weights = m.weights, .kv_cache = m.kv,
                               .activations = m.activations, .scratch = m.scratch,
                               .activations_decode =
                                   g3_vk_exec_get_step_info(c->vk, 0).activations,
                               .n_batch = c->n_prefill ? c->steps[c->prefill_from].n_tokens : 1};
}

int g3_context_n_past(const g3_context *c)
{
    return c ? c->n_past : 0;
}

void g3_context_reset(g3_context *c)
{
    if (!c)
        return;
    c->n_past = 0;
    c->have_logits = false;
}

const char *g3_context_error(const g3_context *c)
{
    return c ? c->error : "";
}

int g3_tokenize(const g3_model *m, const char *text, size_t len, bool add_bos,
                bool parse_special, int32_t *tokens, int cap)
{
    if (!m)
        return G3_ERR_INVALID_ARG;
    if (!m->tok)
        return G3_ERR_UNSUPPORTED;
    return g3_tokenizer_encode(m->tok, text, len,
                               (add_bos ? G3_TOK_ADD_BOS : 0) |
                                   (parse_special ? G3_TOK_PARSE_SPECIAL : 0),
                               tokens, cap);
}

int g3_detokenize(const g3_model *m, const int32_t *tokens, int n, bool skip_special, char *text,
                  int cap)
{
    if (!m)
        return G3_ERR_INVALID_ARG;
    if (!m->tok)
        return G3_ERR_UNSUPPORTED;
    return g3_tokenizer_decode(m->tok, tokens, n, skip_special ? G3_DETOK_SKIP_SPECIAL : 0, text,
                               cap);
}

int g3_context_get_profile(const g3_context *c, g3_profile_entry *entries, int cap,
                           g3_profile_info *info)
{
    if (c && c->vk)
        return g3_vk_exec_get_profile(c->vk, entries, cap, info);
    if (info) {
        *info = (g3_profile_info){0};
        snprintf(info->note, sizeof(info->note), "%s",
                 c ? "the CPU reference backend has no kernel profile" : "no context");
    }
    return 0;
}

void g3_context_reset_profile(g3_context *c)
{
    if (c && c->vk)
        g3_vk_exec_reset_profile(c->vk);
}
