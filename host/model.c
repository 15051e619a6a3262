/* model.c: Gemma 3 hyperparameters and tensor binding.
 *
 * Everything here reads untrusted metadata: every value is range-checked
 * before it sizes anything, and every tensor's type and shape is checked
 * against what the hyperparameters imply, so that the kernels can trust them. */
#include <math.h>
#include <string.h>

#include "model.h"
#include "quant.h"

/* ---- hyperparameters ----------------------------------------------------- */

typedef struct hp_u32 {
    const char *key; /* without the "gemma3." prefix */
    int *dst;
    bool required;
    int64_t min, max;
} hp_u32;

static g3_status read_u32(const g3_gguf *g, const char *arch, const hp_u32 *h, g3_err *err)
{
    char key[160];
    snprintf(key, sizeof(key), "%s.%s", arch, h->key);
    uint32_t v = 0;
    bool found = false;
    g3_status st = g3_gguf_get_u32(g, key, &v, &found, err);
    if (st != G3_OK)
        return st;
    if (!found) {
        if (h->required)
            return g3_err_set(err, G3_ERR_FORMAT, "missing required key '%s'", key);
        return G3_OK; /* keep the preset default */
    }
    if ((int64_t)v < h->min || (int64_t)v > h->max)
        return g3_err_set(err, G3_ERR_FORMAT, "key '%s' = %u is outside [%lld, %lld]", key, v,
                          (long long)h->min, (long long)h->max);
    *h->dst = (int)v;
    return G3_OK;
}

static g3_status read_f32(const g3_gguf *g, const char *arch, const char *name, float *dst,
                          double min, double max, g3_err *err)
{
    char key[160];
    snprintf(key, sizeof(key), "%s.%s", arch, name);
    float v = 0;
    bool found = false;
    g3_status st = g3_gguf_get_f32(g, key, &v, &found, err);
    if (st != G3_OK || !found)
        return st;
    if (!(v >= min && v <= max)) /* NaN fails too */
        return g3_err_set(err, G3_ERR_FORMAT, "key '%s' = %g is outside [%g, %g]", key, v, min,
                          max);
    *dst = v;
    return G3_OK;
}

static g3_status read_hparams(const g3_gguf *g, g3_model_desc *d, g3_err *err)
{
    g3_model_info *in = &d->info;
    const char *arch = NULL;
    uint64_t arch_len = 0;
    bool found = false;
    g3_status st = g3_gguf_get_str(g, "general.architecture", &arch, &arch_len, &found, err);
    if (st != G3_OK)
        return st;
    if (!found)
        return g3_err_set(err, G3_ERR_FORMAT, "missing key 'general.architecture'");
    if (arch_len != 6 || memcmp(arch, "gemma3", 6) != 0) {
        char name[64];
        size_t n = arch_len < sizeof(name) - 1 ? (size_t)arch_len : sizeof(name) - 1;
        memcpy(name, arch, n);
        name[n] = 0;
        for (size_t i = 0; i < n; i++) /* printable in a terminal, whatever the file holds */
            if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f)
                name[i] = '?';
        return g3_err_set(err, G3_ERR_UNSUPPORTED,
                          "architecture '%s' is not supported: g3vk runs Gemma 3 ('gemma3') "
                          "models only",
                          name);
    }
    snprintf(in->arch, sizeof(in->arch), "gemma3");

    const char *name = NULL;
    uint64_t name_len = 0;
    st = g3_gguf_get_str(g, "general.name", &name, &name_len, &found, err);
    if (st != G3_OK)
        return st;
    if (found) {
        size_t n = name_len < sizeof(in->name) - 1 ? (size_t)name_len : sizeof(in->name) - 1;
        memcpy(in->name, name, n);
        in->name[n] = 0;
        for (size_t i = 0; i < n; i++)
            if ((unsigned char)in->name[i] < 0x20)
                in->name[i] = '?';
    }

    /* Defaults from gemma3-model.md; the first four have no sensible default. */
    in->n_ctx_train = 32768;
    in->sliding_window = 512;
    in->swa_pattern = 6;
    in->n_head_kv = -1;
    in->head_dim = -1;
    int value_len = -1;
    const hp_u32 keys[] = {
        {"embedding_length", &in->n_embd, true, 1, G3_MAX_EMBD},
        {"block_count", &in->n_layer, true, 1, G3_MAX_LAYERS},
        {"feed_forward_length", &in->n_ff, true, 1, G3_MAX_FF},
        {"attention.head_count", &in->n_head, true, 1, G3_MAX_HEADS},
        {"attention.head_count_kv", &in->n_head_kv, false, 1, G3_MAX_HEADS},
        {"attention.key_length", &in->head_dim, false, 1, G3_MAX_HEAD_DIM},
        {"attention.value_length", &value_len, false, 1, G3_MAX_HEAD_DIM},
        {"context_length", &in->n_ctx_train, false, 1, G3_MAX_CTX},
        {"attention.sliding_window", &in->sliding_window, false, 1, G3_MAX_CTX},
        {"attention.sliding_window_pattern", &in->swa_pattern, false, 1, G3_MAX_LAYERS},
    };
    for (size_t i = 0; i < G3_ARRAY_LEN(keys); i++)
        if ((st = read_u32(g, "gemma3", &keys[i], err)) != G3_OK)
            return st;
    if (in->n_head_kv < 0)
        in->n_head_kv = in->n_head;
    if (in->head_dim < 0)
        in->head_dim = in->n_embd / in->n_head;
    if (value_len < 0)
        value_len = in->head_dim;
    if (value_len != in->head_dim)
        return g3_err_set(err, G3_ERR_UNSUPPORTED,
                          "gemma3.attention.value_length (%d) differs from key_length (%d)",
                          value_len, in->head_dim);
    if (in->head_dim < 2 || in->head_dim % 2)
        return g3_err_set(err, G3_ERR_FORMAT,
                          "head dimension %d must be even for rotary embeddings", in->head_dim);
    if (in->n_head % in->n_head_kv)
        return g3_err_set(err, G3_ERR_FORMAT,
                          "gemma3.attention.head_count (%d) is not a multiple of head_count_kv "
                          "(%d)",
                          in->n_head, in->n_head_kv);

    in->rms_eps = 1e-6f;
    in->rope_base = 1e6f;
    in->rope_base_swa = 1e4f;
    if ((st = read_f32(g, "gemma3", "attention.layer_norm_rms_epsilon", &in->rms_eps, 0.0, 1.0,
                       err)) != G3_OK ||
        (st = read_f32(g, "gemma3", "rope.freq_base", &in->rope_base, 1.0, 1e12, err)) != G3_OK ||
        (st = read_f32(g, "gemma3", "rope.freq_base_swa", &in->rope_base_swa, 1.0, 1e12, err)) !=
            G3_OK)
        return st;

    /* Linear RoPE scaling (Gemma 3 4B and up) applies to the global layers only. */
    d->rope_freq_scale = 1.0f;
    const char *stype = NULL;
    uint64_t stype_len = 0;
    if ((st = g3_gguf_get_str(g, "gemma3.rope.scaling.type", &stype, &stype_len, &found, err)) !=
        G3_OK)
        return st;
    if (found && !(stype_len == 4 && !memcmp(stype, "none", 4))) {
        if (!(stype_len == 6 && !memcmp(stype, "linear", 6)))
            return g3_err_set(err, G3_ERR_UNSUPPORTED,
                              "gemma3.rope.scaling.type '%.*s' is not supported (only linear)",
                              (int)G3_MIN(stype_len, 32), stype);
        float factor = 1.0f;
        if ((st = read_f32(g, "gemma3", "rope.scaling.factor", &factor, 1e-3, 1e6, err)) != G3_OK)
            return st;
        d->rope_freq_scale = 1.0f / factor;
    }
    float softcap = 0.0f;
    if ((st = read_f32(g, "gemma3", "final_logit_softcapping", &softcap, 0.0, 1e9, err)) != G3_OK)
        return st;
    if (softcap != 0.0f)
        return g3_err_set(err, G3_ERR_UNSUPPORTED,
                          "gemma3.final_logit_softcapping = %g: logit soft-capping is not "
                          "implemented (Gemma 3 has none)",
                          softcap);

    /* Gemma 3 27B scales queries by 1/sqrt(hidden/heads) instead of 1/sqrt(head_dim)
     * (as llama.cpp does, keyed on its 62 layers). */
    const double qdim = in->n_layer == 62 ? (double)in->n_embd / in->n_head : in->head_dim;
    in->query_scale = (float)(1.0 / sqrt(qdim));
    return G3_OK;
}

/* ---- tensors ------------------------------------------------------------- */

static g3_status bind(const g3_gguf *g, const char *name, int64_t cols, int64_t rows,
                      bool optional, g3_weight *w, g3_err *err)
{
    const g3_gguf_tensor *t = g3_gguf_find_tensor(g, name);
    memset(w, 0, sizeof(*w));
    if (!t) {
        if (optional)
            return G3_OK;
        return g3_err_set(err, G3_ERR_FORMAT, "missing tensor '%s'", name);
    }
    const bool matrix = rows > 1 || t->n_dims > 1;
    const bool shape_ok = matrix ? (t->n_dims == 2 && t->ne[0] == cols && t->ne[1] == rows)
                                 : (t->n_dims == 1 && t->ne[0] == cols);
    if (!shape_ok) {
        char got[96] = "";
        for (uint32_t i = 0; i < t->n_dims && i < G3_GGUF_MAX_DIMS; i++) {
            size_t l = strlen(got);
            snprintf(got + l, sizeof(got) - l, "%s%lld", i ? ", " : "", (long long)t->ne[i]);
        }
        if (matrix && rows > 1)
            return g3_err_set(err, G3_ERR_FORMAT,
                              "tensor '%s' has shape [%s], expected [%lld, %lld] from the "
                              "hyperparameters",
                              name, got, (long long)cols, (long long)rows);
        return g3_err_set(err, G3_ERR_FORMAT,
                          "tensor '%s' has shape [%s], expected [%lld] from the hyperparameters",
                          name, got, (long long)cols);
    }
    const g3_type_info *ti = g3_type_get(t->type);
    if (!ti->supported) /* the reader already refuses these; keep the kernels safe anyway */
        return g3_err_set(err, G3_ERR_UNSUPPORTED, "tensor '%s' has unsupported type %s", name,
                          g3_type_name(t->type));
    uint64_t row_bytes = 0;
    if (!g3_type_row_bytes(t->type, (uint64_t)cols, &row_bytes))
        return g3_err_set(err, G3_ERR_FORMAT,
                          "tensor '%s': row length %lld is not a multiple of the %s block (%u)",
                          name, (long long)cols, ti->name, ti->block_size);
    w->name = t->name;
    w->type = t->type;
    w->ne[0] = cols;
    w->ne[1] = matrix ? rows : 1;
    w->row_bytes = row_bytes;
    w->data = t->data;
    return G3_OK;
}

g3_status g3_model_desc_init(const g3_gguf *g, g3_model_desc *d, g3_err *err)
{
    memset(d, 0, sizeof(*d));
    g3_status st = read_hparams(g, d, err);
    if (st != G3_OK)
        return st;
    g3_model_info *in = &d->info;

    /* The vocabulary size is the tokenizer's; the embedding must agree with it. */
    const g3_gguf_tensor *emb = g3_gguf_find_tensor(g, "token_embd.weight");
    if (!emb)
        return g3_err_set(err, G3_ERR_FORMAT, "missing tensor 'token_embd.weight'");
    const g3_gguf_kv *tokens = NULL;
    bool found = false;
    if ((st = g3_gguf_get_arr(g, "tokenizer.ggml.tokens", G3_GGUF_STRING, &tokens, &found, err)) !=
        G3_OK)
        return st;
    if (found)
        in->n_vocab = tokens->n > G3_MAX_VOCAB ? -1 : (int)tokens->n;
    else
        in->n_vocab = emb->n_dims == 2 && emb->ne[1] <= G3_MAX_VOCAB ? (int)emb->ne[1] : -1;
    if (in->n_vocab < 1)
        return g3_err_set(err, G3_ERR_FORMAT, "vocabulary size must be in [1, %d]", G3_MAX_VOCAB);

    const int64_t n_embd = in->n_embd, q_dim = (int64_t)in->n_head * in->head_dim,
                  kv_dim = (int64_t)in->n_head_kv * in->head_dim;
    if ((st = bind(g, "token_embd.weight", n_embd, in->n_vocab, false, &d->token_embd, err)) ||
        (st = bind(g, "output_norm.weight", n_embd, 1, false, &d->output_norm, err)) ||
        (st = bind(g, "output.weight", n_embd, in->n_vocab, true, &d->output, err)))
        return st;
    in->tied_output = d->output.data == NULL;
    if (in->tied_output)
        d->output = d->token_embd;

    d->layers = calloc((size_t)in->n_layer, sizeof(*d->layers));
    if (!d->layers)
        return g3_err_set(err, G3_ERR_OUT_OF_MEMORY, "cannot allocate %d layers", in->n_layer);
    for (int l = 0; l < in->n_layer; l++) {
        g3_layer *L = &d->layers[l];
        const struct {
            const char *suffix;
            int64_t cols, rows;
            g3_weight *w;
        } want[] = {
            {"attn_norm", n_embd, 1, &L->attn_norm},
            {"attn_q", n_embd, q_dim, &L->attn_q},
            {"attn_k", n_embd, kv_dim, &L->attn_k},
            {"attn_v", n_embd, kv_dim, &L->attn_v},
            {"attn_q_norm", in->head_dim, 1, &L->attn_q_norm},
            {"attn_k_norm", in->head_dim, 1, &L->attn_k_norm},
            {"attn_output", q_dim, n_embd, &L->attn_output},
            {"post_attention_norm", n_embd, 1, &L->post_attn_norm},
            {"ffn_norm", n_embd, 1, &L->ffn_norm},
            {"ffn_gate", n_embd, in->n_ff, &L->ffn_gate},
            {"ffn_up", n_embd, in->n_ff, &L->ffn_up},
            {"ffn_down", in->n_ff, n_embd, &L->ffn_down},
            {"post_ffw_norm", n_embd, 1, &L->post_ffw_norm},
        };
        for (size_t i = 0; i < G3_ARRAY_LEN(want); i++) {
            char name[96];
            snprintf(name, sizeof(name), "blk.%d.%s.weight", l, want[i].suffix);
            if ((st = bind(g, name, want[i].cols, want[i].rows, false, want[i].w, err)) != G3_OK)
                goto fail;
        }
        L->is_global = (l % in->swa_pattern) == in->swa_pattern - 1;
    }

    /* Count what the file holds (for `info`). */
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        in->n_params += g->tensors[i].n_elems;
        in->n_bytes += g->tensors[i].n_bytes;
    }
    return G3_OK;
fail:
    g3_model_desc_free(d);
    return st;
}

void g3_model_desc_free(g3_model_desc *d)
{
    if (!d)
        return;
    free(d->layers);
    d->layers = NULL;
}

void g3_weight_row_f32(const g3_weight *w, int64_t row, float *dst)
{
    G3_ASSERT(row >= 0 && row < w->ne[1]);
    g3_dequantize_row(w->type, (const uint8_t *)w->data + (uint64_t)row * w->row_bytes, dst,
                      w->ne[0]);
}
