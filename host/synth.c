/* synth.c: a Gemma 3 GGUF with seeded random weights (see synth.h).
 *
 * Determinism across machines is the point of this file: weights come from
 * splitmix64 and are turned into floats with integer arithmetic, one exact
 * double multiply, one add and a conversion, never with libm, so that FMA
 * contraction, vector width or libm version cannot change a bit. Each row has
 * its own PRNG stream, derived from the seed, the tensor name and the row
 * index, so the values do not depend on generation order or thread count. */
#include "chat.h"
#include "synth.h"

#include <string.h>

#include "gguf.h"
#include "gguf_write.h"
#include "quant.h"
#include "threadpool.h"
#include "vocab_json.h"

/* ---- presets and tensor types ------------------------------------------------ */

static const struct {
    const char *name;
    uint32_t file_type; /* llama_ftype */
    uint32_t type;      /* the type of most matrices */
} g3_presets[G3_SYNTH_PRESET_COUNT] = {
    [G3_SYNTH_DEFAULT] = {"q8_0", 7, G3_TYPE_Q8_0},
    [G3_SYNTH_F32] = {"f32", 0, G3_TYPE_F32},
    [G3_SYNTH_F16] = {"f16", 1, G3_TYPE_F16},
    [G3_SYNTH_BF16] = {"bf16", 32, G3_TYPE_BF16},
    [G3_SYNTH_Q8_0] = {"q8_0", 7, G3_TYPE_Q8_0},
    [G3_SYNTH_Q4_0] = {"q4_0", 2, G3_TYPE_Q4_0},
    [G3_SYNTH_Q4_1] = {"q4_1", 3, G3_TYPE_Q4_1},
    [G3_SYNTH_Q5_0] = {"q5_0", 8, G3_TYPE_Q5_0},
    [G3_SYNTH_Q5_1] = {"q5_1", 9, G3_TYPE_Q5_1},
    [G3_SYNTH_IQ4_NL] = {"iq4_nl", 25, G3_TYPE_IQ4_NL},
    [G3_SYNTH_Q4_K_M] = {"q4_k_m", 15, G3_TYPE_Q4_K},
};

const char *g3_synth_preset_name(g3_synth_preset p)
{
    return (unsigned)p < G3_SYNTH_PRESET_COUNT ? g3_presets[p].name : "?";
}

int g3_synth_preset_from_name(const char *name)
{
    if (!name)
        return -1;
    for (int p = 1; p < G3_SYNTH_PRESET_COUNT; p++) {
        const char *a = g3_presets[p].name, *b = name;
        while (*a && (*a == *b || (*b >= 'A' && *b <= 'Z' && *a == *b + 32))) {
            a++;
            b++;
        }
        if (!*a && !*b)
            return p;
    }
    return -1;
}

uint32_t g3_synth_preset_file_type(g3_synth_preset p)
{
    return (unsigned)p < G3_SYNTH_PRESET_COUNT ? g3_presets[p].file_type : 0;
}

static const char *const g3_tensor_names[G3_ST_COUNT] = {
    [G3_ST_TOKEN_EMBD] = "token_embd",
    [G3_ST_ATTN_NORM] = "attn_norm",
    [G3_ST_ATTN_Q] = "attn_q",
    [G3_ST_ATTN_K] = "attn_k",
    [G3_ST_ATTN_V] = "attn_v",
    [G3_ST_ATTN_OUTPUT] = "attn_output",
    [G3_ST_ATTN_Q_NORM] = "attn_q_norm",
    [G3_ST_ATTN_K_NORM] = "attn_k_norm",
    [G3_ST_POST_ATTENTION_NORM] = "post_attention_norm",
    [G3_ST_FFN_NORM] = "ffn_norm",
    [G3_ST_FFN_GATE] = "ffn_gate",
    [G3_ST_FFN_UP] = "ffn_up",
    [G3_ST_FFN_DOWN] = "ffn_down",
    [G3_ST_POST_FFW_NORM] = "post_ffw_norm",
    [G3_ST_OUTPUT_NORM] = "output_norm",
};

const char *g3_synth_tensor_name(g3_synth_tensor t)
{
    return (unsigned)t < G3_ST_COUNT ? g3_tensor_names[t] : "?";
}

static bool is_norm(g3_synth_tensor t)
{
    return t == G3_ST_ATTN_NORM || t == G3_ST_ATTN_Q_NORM || t == G3_ST_ATTN_K_NORM ||
           t == G3_ST_POST_ATTENTION_NORM || t == G3_ST_FFN_NORM || t == G3_ST_POST_FFW_NORM ||
           t == G3_ST_OUTPUT_NORM;
}

/* llama.cpp's use_more_bits(): the first and last eighth of the layers and
 * every third layer in between get more bits in the _M presets. */
static bool use_more_bits(int l, int n)
{
    return l < n / 8 || l >= 7 * n / 8 || (l - n / 8) % 3 == 2;
}

uint32_t g3_synth_tensor_type(g3_synth_preset p, g3_synth_tensor t, int layer, int n_layer,
                              int64_t row_len)
{
    if ((unsigned)p >= G3_SYNTH_PRESET_COUNT || is_norm(t))
        return G3_TYPE_F32;
    uint32_t type = g3_presets[p].type;
    bool plain = p == G3_SYNTH_F32 || p == G3_SYNTH_F16 || p == G3_SYNTH_BF16;
    if (t == G3_ST_TOKEN_EMBD && !plain)
        type = G3_TYPE_Q8_0; /* the tied LM head keeps 8 bits in every quantized preset */
    else if (p == G3_SYNTH_IQ4_NL && t == G3_ST_ATTN_V)
        type = G3_TYPE_Q5_1;
    else if (p == G3_SYNTH_Q4_K_M && (t == G3_ST_ATTN_V || t == G3_ST_FFN_DOWN) &&
             use_more_bits(layer, n_layer))
        type = G3_TYPE_Q6_K;
    /* llama.cpp's fallbacks when the block does not divide the row. */
    if (type == G3_TYPE_Q4_K && row_len % 256)
        type = G3_TYPE_Q5_0;
    if (type == G3_TYPE_Q6_K && row_len % 256)
        type = G3_TYPE_Q8_0;
    if (row_len % (int64_t)g3_type_get(type)->block_size)
        type = G3_TYPE_F16;
    return type;
}

/* ---- options -------------------------------------------------------------------- */

#define G3_SYNTH_DEFAULT_VOCAB 262144
#define G3_SYNTH_MIN_VOCAB 494 /* the special pieces and the 256 byte pieces (238..493) */

g3_synth_options g3_synth_options_resolve(const g3_synth_options *opt)
{
    g3_synth_options o = opt ? *opt : (g3_synth_options){0};
#define DEF(f, v) o.f = o.f ? o.f : (v)
    DEF(n_layer, 18);
    DEF(n_embd, 640);
    DEF(n_ff, 2048);
    DEF(n_head, 4);
    DEF(n_head_kv, 1);
    DEF(head_dim, 256);
    DEF(sliding_window, 512);
    DEF(swa_pattern, 6);
    DEF(n_ctx_train, 32768);
    DEF(preset, G3_SYNTH_Q8_0);
    DEF(max_bytes, 8ull << 30);
#undef DEF
    if (!o.n_vocab && !o.tokenizer_json)
        o.n_vocab = G3_SYNTH_DEFAULT_VOCAB;
    return o;
}

static g3_status check_range(const char *field, int v, int lo, int hi, g3_err *err)
{
    if (v < lo || v > hi)
        return g3_err_set(err, G3_ERR_INVALID_ARG, "synth: %s = %d is outside [%d, %d]", field, v,
                          lo, hi);
    return G3_OK;
}

static g3_status check_options(const g3_synth_options *o, g3_err *err)
{
    g3_status st;
    if ((st = check_range("n_layer", o->n_layer, 1, 1024, err)) ||
        (st = check_range("n_embd", o->n_embd, 1, 65536, err)) ||
        (st = check_range("n_ff", o->n_ff, 1, 262144, err)) ||
        (st = check_range("n_head", o->n_head, 1, 1024, err)) ||
        (st = check_range("n_head_kv", o->n_head_kv, 1, o->n_head, err)) ||
        (st = check_range("head_dim", o->head_dim, 2, 1024, err)) ||
        (st = check_range("sliding_window", o->sliding_window, 1, 1 << 24, err)) ||
        (st = check_range("swa_pattern", o->swa_pattern, 1, 1024, err)) ||
        (st = check_range("n_ctx_train", o->n_ctx_train, 1, 1 << 24, err)))
        return st;
    if (o->n_vocab && (st = check_range("n_vocab", o->n_vocab, G3_SYNTH_MIN_VOCAB,
                                        (int)G3_VOCAB_MAX_TOKENS, err)))
        return st;
    if (o->n_head % o->n_head_kv)
        return g3_err_set(err, G3_ERR_INVALID_ARG,
                          "synth: n_head (%d) is not a multiple of n_head_kv (%d)", o->n_head,
                          o->n_head_kv);
    if (o->head_dim % 2)
        return g3_err_set(err, G3_ERR_INVALID_ARG,
                          "synth: head_dim (%d) must be even for rotary embeddings", o->head_dim);
    if ((unsigned)o->preset >= G3_SYNTH_PRESET_COUNT)
        return g3_err_set(err, G3_ERR_INVALID_ARG, "synth: unknown preset %d", (int)o->preset);
    return G3_OK;
}

/* ---- the synthetic vocabulary ---------------------------------------------------- */

/* Appends a piece to the vocabulary under construction (blob sized by the caller). */
static void put_piece(g3_vocab *v, char **p, const char *s, size_t len, float score, int32_t type)
{
    uint32_t id = v->n++;
    memcpy(*p, s, len);
    (*p)[len] = 0;
    v->pieces[id] = *p;
    v->lens[id] = len;
    v->scores[id] = score;
    v->types[id] = type;
    *p += len + 1;
}

/* The real Gemma 3 layout where it matters (specials 0-5, <start_of_turn> 105,
 * <end_of_turn> 106, newline runs 107-137, bytes 238-493), then single
 * characters and "▁synthN" filler pieces. Valid for n >= G3_SYNTH_MIN_VOCAB. */
static g3_status synthetic_vocab(uint32_t n, g3_vocab **out, g3_err *err)
{
    g3_vocab *v = calloc(1, sizeof(*v));
    /* No piece is longer than 20 bytes ("▁synth" + 10 digits, "<unused199>"). */
    if (v) {
        v->pieces = malloc(n * sizeof(*v->pieces));
        v->lens = malloc(n * sizeof(*v->lens));
        v->scores = malloc(n * sizeof(*v->scores));
        v->types = malloc(n * sizeof(*v->types));
        v->blob = malloc((size_t)n * 40);
    }
    if (!v || !v->pieces || !v->lens || !v->scores || !v->types || !v->blob) {
        g3_vocab_free(v);
        return g3_err_set(err, G3_ERR_OUT_OF_MEMORY, "synth: cannot allocate %u pieces", n);
    }
    char *p = v->blob, buf[64];
    static const char *const specials[] = {"<pad>", "<eos>", "<bos>", "<unk>", "<mask>",
                                           "[multimodal]"};
    static const int32_t special_types[] = {G3_TOKEN_CONTROL, G3_TOKEN_CONTROL,
                                            G3_TOKEN_CONTROL, G3_TOKEN_UNKNOWN,
                                            G3_TOKEN_USER_DEFINED, G3_TOKEN_USER_DEFINED};
    for (int i = 0; i < 6; i++)
        put_piece(v, &p, specials[i], strlen(specials[i]), 0.0f, special_types[i]);
    int unused = 0;
    while (v->n < 105) {
        int l = snprintf(buf, sizeof(buf), "<unused%d>", unused++);
        put_piece(v, &p, buf, (size_t)l, 0.0f, G3_TOKEN_USER_DEFINED);
    }
    put_piece(v, &p, "<start_of_turn>", 15, 0.0f, G3_TOKEN_CONTROL);
    put_piece(v, &p, "<end_of_turn>", 13, 0.0f, G3_TOKEN_CONTROL);
    memset(buf, '\n', 31);
    for (size_t k = 1; k <= 31; k++)
        put_piece(v, &p, buf, k, 0.0f, G3_TOKEN_USER_DEFINED);
    while (v->n < 238) {
        int l = snprintf(buf, sizeof(buf), "<unused%d>", unused++);
        put_piece(v, &p, buf, (size_t)l, 0.0f, G3_TOKEN_USER_DEFINED);
    }
    for (int b = 0; b < 256; b++) {
        snprintf(buf, sizeof(buf), "<0x%02X>", b);
        put_piece(v, &p, buf, 6, 0.0f, G3_TOKEN_BYTE);
    }
    /* Single characters score 0 like unmerged pieces; fillers score like the
     * products of successive merges. */
    if (v->n < n)
        put_piece(v, &p, "\xe2\x96\x81", 3, 0.0f, G3_TOKEN_NORMAL); /* U+2581, the space */
    for (char c = 0x21; c < 0x7f && v->n < n; c++)
        put_piece(v, &p, &c, 1, 0.0f, G3_TOKEN_NORMAL);
    for (uint32_t k = 0; v->n < n; k++) {
        int l = snprintf(buf, sizeof(buf), "\xe2\x96\x81synth%u", k);
        put_piece(v, &p, buf, (size_t)l, -(float)k, G3_TOKEN_NORMAL);
    }
    G3_ASSERT(v->n == n && p <= v->blob + (size_t)n * 40);
    v->n_source = n;
    v->bos_id = 2;
    v->eos_id = 1;
    v->unk_id = 3;
    v->pad_id = 0;
    v->eot_id = 106;
    v->add_bos = true;
    *out = v;
    return G3_OK;
}


/* ---- weights ----------------------------------------------------------------------- */

static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static uint64_t fnv1a64(const char *s)
{
    uint64_t h = 0xCBF29CE484222325ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001B3ull;
    return h;
}

/* A bell-shaped integer from 63 random bits: the sum of three uniforms over the
 * odd integers in [-(2^21 - 1), 2^21 - 1]. Mean 0, standard deviation 2^21
 * (to one part in 2^42), range +-3 standard deviations; below 2^23 in
 * magnitude, so the conversion to float is exact; odd, so never 0. */
static inline int32_t bell21(uint64_t r)
{
    int32_t a = (int32_t)(r & 0x1FFFFF), b = (int32_t)((r >> 21) & 0x1FFFFF);
    int32_t c = (int32_t)((r >> 42) & 0x1FFFFF);
    return 2 * (a + b + c) - 3 * 0x1FFFFF;
}

/* dst[i] = center + std * bell, one splitmix64 stream per (tensor, row).
 * bell * (std * 2^-21) is exact in double (23 + 24 significant bits), so a
 * fused multiply-add, if a compiler contracts one anyway, rounds the same sum:
 * one rounding to double, one to float, the same bits on every IEEE-754 machine. */
static void gen_row(uint64_t tensor_key, uint64_t row, float center, float std, float *dst,
                    int64_t n)
{
    uint64_t s = mix64(tensor_key ^ mix64(row + 0x632BE59BD9B4E019ull));
    const double scale = (double)std * (1.0 / 2097152.0), c = center;
    for (int64_t i = 0; i < n; i++) {
        s += 0x9E3779B97F4A7C15ull; /* splitmix64 */
        dst[i] = (float)(c + (double)bell21(mix64(s)) * scale);
    }
}

/* One tensor of the file: name, shape, type and distribution. */
typedef struct plan_item {
    char name[64];
    int64_t ne[2]; /* (row length, rows) */
    uint32_t n_dims;
    uint32_t type;
    float center, std;
    uint64_t row_bytes, bytes;
} plan_item;

static void plan_tensor(const g3_synth_options *o, g3_synth_tensor t, int layer, plan_item *it)
{
    const int64_t e = o->n_embd, q = (int64_t)o->n_head * o->head_dim;
    const int64_t kv = (int64_t)o->n_head_kv * o->head_dim;
    int64_t ne0 = e, ne1 = 1;
    switch (t) {
    case G3_ST_TOKEN_EMBD: ne1 = o->n_vocab; break;
    case G3_ST_ATTN_Q: ne1 = q; break;
    case G3_ST_ATTN_K:
    case G3_ST_ATTN_V: ne1 = kv; break;
    case G3_ST_ATTN_OUTPUT: ne0 = q, ne1 = e; break;
    case G3_ST_ATTN_Q_NORM:
    case G3_ST_ATTN_K_NORM: ne0 = o->head_dim; break;
    case G3_ST_FFN_GATE:
    case G3_ST_FFN_UP: ne1 = o->n_ff; break;
    case G3_ST_FFN_DOWN: ne0 = o->n_ff, ne1 = e; break;
    default: break; /* the other norms: (n_embd) */
    }
    memset(it, 0, sizeof(*it));
    if (layer < 0)
        snprintf(it->name, sizeof(it->name), "%s.weight", g3_tensor_names[t]);
    else
        snprintf(it->name, sizeof(it->name), "blk.%d.%s.weight", layer, g3_tensor_names[t]);
    it->ne[0] = ne0;
    it->ne[1] = ne1;
    it->n_dims = is_norm(t) ? 1 : 2;
    it->type = g3_synth_tensor_type(o->preset, t, layer, o->n_layer, ne0);
    if (t == G3_ST_POST_ATTENTION_NORM || t == G3_ST_POST_FFW_NORM)
        it->center = 10.0f, it->std = 1.0f;
    else if (is_norm(t))
        it->center = 1.0f, it->std = 0.1f;
    else
        it->std = t == G3_ST_TOKEN_EMBD ? 0.03f : 0.02f;
    /* Shapes are bounded by check_options, so these cannot overflow. */
    G3_ASSERT(g3_type_row_bytes(it->type, (uint64_t)ne0, &it->row_bytes));
    it->bytes = it->row_bytes * (uint64_t)ne1;
}

/* The whole tensor list, in the converter's order. */
static g3_status make_plan(const g3_synth_options *o, plan_item **out, uint32_t *n_out,
                           uint64_t *total, g3_err *err)
{
    uint32_t n = 2 + 13 * (uint32_t)o->n_layer;
    plan_item *p = calloc(n, sizeof(*p));
    if (!p)
        return g3_err_set(err, G3_ERR_OUT_OF_MEMORY, "synth: out of memory");
    uint32_t k = 0;
    plan_tensor(o, G3_ST_TOKEN_EMBD, -1, &p[k++]);
    for (int l = 0; l < o->n_layer; l++)
        for (int t = G3_ST_ATTN_NORM; t <= G3_ST_POST_FFW_NORM; t++)
            plan_tensor(o, (g3_synth_tensor)t, l, &p[k++]);
    plan_tensor(o, G3_ST_OUTPUT_NORM, -1, &p[k++]);
    G3_ASSERT(k == n);
    uint64_t sum = 0;
    for (uint32_t i = 0; i < n; i++) {
        sum += p[i].bytes;
        if (!g3_type_can_quantize(p[i].type)) {
            g3_err_set(err, G3_ERR_UNSUPPORTED, "synth: no quantizer for %s (tensor '%s')",
                       g3_type_name(p[i].type), p[i].name);
            free(p);
            return G3_ERR_UNSUPPORTED;
        }
    }
    *out = p;
    *n_out = n;
    *total = sum;
    return G3_OK;
}

/* Rows [i*R/n, (i+1)*R/n) of a tensor: one task of the pool. Rows have their
 * own PRNG streams, so the split does not change a single bit. */
typedef struct tensor_job {
    const plan_item *it;
    uint64_t key;
    uint8_t *buf;
    bool *failed; /* (n tasks) */
} tensor_job;

static void tensor_task(void *ctx, int i, int n)
{
    const tensor_job *job = ctx;
    const plan_item *it = job->it;
    const int64_t r0 = it->ne[1] * i / n, r1 = it->ne[1] * (i + 1) / n;
    float *row = malloc((size_t)it->ne[0] * sizeof(float));
    bool ok = row != NULL;
    for (int64_t r = r0; ok && r < r1; r++) {
        gen_row(job->key, (uint64_t)r, it->center, it->std, row, it->ne[0]);
        ok = g3_quantize_row(it->type, row, job->buf + (uint64_t)r * it->row_bytes, it->ne[0]);
    }
    free(row);
    job->failed[i] = !ok;
}

/* Generates and quantizes one tensor into a new buffer, rows spread over the pool. */
static g3_status make_tensor(const plan_item *it, uint64_t seed_key, g3_threadpool *pool,
                             void **out, g3_err *err)
{
    const int n_tasks = (int)G3_MIN((int64_t)4 * G3_MAX(g3_threadpool_size(pool), 1), it->ne[1]);
    bool failed[256] = {false};
    G3_ASSERT(n_tasks >= 1 && n_tasks <= (int)G3_ARRAY_LEN(failed));
    tensor_job job = {.it = it, .key = mix64(seed_key ^ fnv1a64(it->name)), .failed = failed};
    job.buf = malloc(it->bytes ? (size_t)it->bytes : 1);
    if (!job.buf)
        return g3_err_set(err, G3_ERR_OUT_OF_MEMORY, "synth: cannot allocate %llu bytes for '%s'",
                          (unsigned long long)it->bytes, it->name);
    g3_threadpool_run(pool, tensor_task, &job, n_tasks);
    for (int i = 0; i < n_tasks; i++)
        if (failed[i]) {
            free(job.buf);
            return g3_err_set(err, G3_ERR_UNSUPPORTED,
                              "synth: quantizing '%s' to %s failed (or out of memory)", it->name,
                              g3_type_name(it->type));
        }
    *out = job.buf;
    return G3_OK;
}

/* ---- the file ------------------------------------------------------------------------ */

/* The metadata llama.cpp writes for gemma3, in its order (see
 * shared/reference/mini-f32.gguf), with our general.name. */
static g3_status write_metadata(g3_gguf_writer *w, const g3_synth_options *o, const g3_vocab *v,
                                const char *name)
{
    g3_status st;
    const uint32_t hd = (uint32_t)o->head_dim;
    const bool quantized = o->preset != G3_SYNTH_F32;
    if ((st = g3_gguf_w_str(w, "general.architecture", "gemma3")) ||
        (st = g3_gguf_w_str(w, "general.name", name)) ||
        (st = g3_gguf_w_u32(w, "gemma3.context_length", (uint32_t)o->n_ctx_train)) ||
        (st = g3_gguf_w_u32(w, "gemma3.embedding_length", (uint32_t)o->n_embd)) ||
        (st = g3_gguf_w_u32(w, "gemma3.block_count", (uint32_t)o->n_layer)) ||
        (st = g3_gguf_w_u32(w, "gemma3.feed_forward_length", (uint32_t)o->n_ff)) ||
        (st = g3_gguf_w_u32(w, "gemma3.attention.head_count", (uint32_t)o->n_head)) ||
        (st = g3_gguf_w_u32(w, "gemma3.attention.head_count_kv", (uint32_t)o->n_head_kv)) ||
        (st = g3_gguf_w_f32(w, "gemma3.attention.layer_norm_rms_epsilon", 1e-6f)) ||
        (st = g3_gguf_w_u32(w, "gemma3.attention.key_length", hd)) ||
        (st = g3_gguf_w_u32(w, "gemma3.attention.value_length", hd)) ||
        (st = g3_gguf_w_f32(w, "gemma3.rope.freq_base", 1e6f)) ||
        (st = g3_gguf_w_u32(w, "gemma3.attention.sliding_window", (uint32_t)o->sliding_window)) ||
        (st = g3_gguf_w_u32(w, "gemma3.attention.sliding_window_pattern",
                            (uint32_t)o->swa_pattern)) ||
        (quantized && (st = g3_gguf_w_u32(w, "general.quantization_version", 2))) ||
        (st = g3_gguf_w_u32(w, "general.file_type", g3_synth_preset_file_type(o->preset))) ||
        (st = g3_gguf_w_str(w, "tokenizer.ggml.model", "llama")) ||
        (st = g3_gguf_w_str(w, "tokenizer.ggml.pre", "default")) ||
        (st = g3_gguf_w_arr_str(w, "tokenizer.ggml.tokens", v->pieces, v->lens, v->n)) ||
        (st = g3_gguf_w_arr(w, "tokenizer.ggml.scores", G3_GGUF_F32, v->scores, v->n)) ||
        (st = g3_gguf_w_arr(w, "tokenizer.ggml.token_type", G3_GGUF_I32, v->types, v->n)))
        return st;
    const struct {
        const char *key;
        int32_t id;
    } ids[] = {{"tokenizer.ggml.bos_token_id", v->bos_id},
               {"tokenizer.ggml.eos_token_id", v->eos_id},
               {"tokenizer.ggml.unknown_token_id", v->unk_id},
               {"tokenizer.ggml.padding_token_id", v->pad_id}};
    for (size_t i = 0; i < G3_ARRAY_LEN(ids); i++)
        if (ids[i].id >= 0 && (st = g3_gguf_w_u32(w, ids[i].key, (uint32_t)ids[i].id)))
            return st;
    const char *tpl = v->chat_template ? v->chat_template : g3_chat_gemma3_jinja;
    if ((st = g3_gguf_w_bool(w, "tokenizer.ggml.add_bos_token", v->add_bos)) ||
        (st = g3_gguf_w_bool(w, "tokenizer.ggml.add_eos_token", v->add_eos)) ||
        (st = g3_gguf_w_bool(w, "tokenizer.ggml.add_space_prefix", false)) ||
        (st = g3_gguf_w_str(w, "tokenizer.chat_template", tpl)))
        return st;
    return G3_OK;
}

static g3_status load_vocab(const g3_synth_options *o, g3_vocab **v, g3_err *err)
{
    if (!o->tokenizer_json)
        return synthetic_vocab((uint32_t)o->n_vocab, v, err);
    g3_vocab_options vo = {.max_tokens = (uint32_t)o->n_vocab, .skip_merges = true};
    g3_status st = g3_vocab_load_json(o->tokenizer_json, o->tokenizer_config, &vo, v, err);
    if (st)
        return st;
    if (o->n_vocab && (*v)->n_source < (uint32_t)o->n_vocab) {
        st = g3_err_set(err, G3_ERR_INVALID_ARG,
                        "synth: n_vocab = %d is more than the %u pieces of %s", o->n_vocab,
                        (*v)->n_source, o->tokenizer_json);
        g3_vocab_free(*v);
        *v = NULL;
    } else if ((*v)->n < G3_SYNTH_MIN_VOCAB) {
        st = g3_err_set(err, G3_ERR_INVALID_ARG, "synth: %s has %u pieces, fewer than %d",
                        o->tokenizer_json, (*v)->n, G3_SYNTH_MIN_VOCAB);
        g3_vocab_free(*v);
        *v = NULL;
    }
    return st;
}

g3_status g3_synth_write(const char *path, const g3_synth_options *opt, g3_synth_result *result,
                         g3_err *err)
{
    const double t0 = g3_time_s();
    g3_synth_options o = g3_synth_options_resolve(opt);
    g3_vocab *v = NULL;
    g3_gguf_writer *w = NULL;
    plan_item *plan = NULL;
    void **bufs = NULL;
    g3_threadpool *pool = NULL;
    uint32_t n_t = 0;
    uint64_t total = 0;
    g3_status st;
    if (!path)
        return g3_err_set(err, G3_ERR_INVALID_ARG, "synth: no output path");
    if ((st = check_options(&o, err)) || (st = load_vocab(&o, &v, err)))
        goto out;
    o.n_vocab = (int)v->n;
    if ((st = make_plan(&o, &plan, &n_t, &total, err)))
        goto out;
    if (total > o.max_bytes) {
        st = g3_err_set(err, G3_ERR_INVALID_ARG,
                        "synth: the tensors would take %llu bytes, more than the limit of %llu",
                        (unsigned long long)total, (unsigned long long)o.max_bytes);
        goto out;
    }
    char name[160];
    snprintf(name, sizeof(name), "synthetic-gemma-3-270m (random weights, seed %llu%s)",
             (unsigned long long)o.seed, o.tokenizer_json ? "" : ", synthetic vocabulary");
    w = g3_gguf_writer_new();
    bufs = calloc(n_t, sizeof(*bufs));
    /* Without a pool (creation failed) the rows are made inline: same bytes. */
    pool = g3_threadpool_create(G3_MIN(o.n_threads, 64));
    if (!w || !bufs) {
        st = g3_err_set(err, G3_ERR_OUT_OF_MEMORY, "synth: out of memory");
        goto out;
    }
    if ((st = write_metadata(w, &o, v, name))) {
        g3_err_set(err, st, "synth: writing the metadata failed: %s", g3_status_string(st));
        goto out;
    }
    /* The vocabulary was copied into the writer: free it before the weights. */
    g3_vocab_free(v);
    v = NULL;
    const uint64_t seed_key = mix64(o.seed);
    for (uint32_t i = 0; i < n_t; i++) {
        const plan_item *it = &plan[i];
        if ((st = make_tensor(it, seed_key, pool, &bufs[i], err)))
            goto out;
        /* Borrowed: the buffers live until the file is written, so the peak is
         * the tensor data plus one row, never an f32 copy of a whole tensor. */
        if ((st = g3_gguf_w_tensor(w, it->name, it->n_dims, it->ne, it->type, bufs[i], it->bytes,
                                   true))) {
            g3_err_set(err, st, "synth: adding tensor '%s' failed: %s", it->name,
                       g3_status_string(st));
            goto out;
        }
    }
    if ((st = g3_gguf_writer_save(w, path, err)))
        goto out;
    if (result) {
        memset(result, 0, sizeof(*result));
        for (uint32_t i = 0; i < n_t; i++) {
            result->n_params += (uint64_t)(plan[i].ne[0] * plan[i].ne[1]);
            if (plan[i].type < G3_ARRAY_LEN(result->type_count))
                result->type_count[plan[i].type]++;
        }
        result->tensor_bytes = total;
        result->n_tensors = n_t;
        result->n_vocab = o.n_vocab;
        snprintf(result->name, sizeof(result->name), "%s", name);
        FILE *f = fopen(path, "rb");
        if (f && fseek(f, 0, SEEK_END) == 0) {
            long sz = ftell(f);
            result->file_bytes = sz > 0 ? (uint64_t)sz : 0;
        }
        if (f)
            fclose(f);
        result->seconds = g3_time_s() - t0;
    }
out:
    g3_gguf_writer_free(w);
    for (uint32_t i = 0; bufs && i < n_t; i++)
        free(bufs[i]);
    free(bufs);
    g3_threadpool_free(pool);
    free(plan);
    g3_vocab_free(v);
    return st;
}
