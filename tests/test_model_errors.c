/* test_model_errors: model-level problems in otherwise well-formed GGUF files
 * (another architecture, wrong-typed or out-of-range hyperparameters, missing
 * tensors, shape mismatches...) and file-level ones the user meets (missing
 * file, directory, empty file). Each must give its status and a message naming
 * the key or tensor, with no crash and no leak (this test runs under ASan). */
#include "g3.h"
#include "gguf_write.h"
#include "quant.h"
#include "test.h"

typedef struct spec {
    const char *arch;          /* "gemma3"                                    */
    const char *as_string;     /* this hparam key is written as a string      */
    const char *drop_key;      /* this key is not written                     */
    const char *drop_tensor;   /* this tensor is not written                  */
    const char *swap_tensor;   /* this 2-D tensor is written transposed       */
    const char *long_tensor;   /* this vector gets one element too many       */
    uint32_t block_count, head_count, head_count_kv, key_length, value_length;
    uint32_t emb_rows;         /* token_embd rows (default: vocab)            */
    float softcap;             /* written when non-zero                       */
    const char *rope_scaling;  /* written when set                            */
} spec;

enum { E = 32, FF = 48, V = 40 };

static void write_u32(g3_gguf_writer *w, const spec *s, const char *key, uint32_t v)
{
    if (s->drop_key && !strcmp(s->drop_key, key))
        return;
    if (s->as_string && !strcmp(s->as_string, key))
        g3_gguf_w_str(w, key, "oops");
    else
        g3_gguf_w_u32(w, key, v);
}

static void tensor(g3_gguf_writer *w, const spec *s, const char *name, int64_t c, int64_t r,
                   const float *zeros)
{
    if (s->drop_tensor && !strcmp(s->drop_tensor, name))
        return;
    int64_t ne[2] = {c, r};
    if (s->swap_tensor && !strcmp(s->swap_tensor, name)) {
        ne[0] = r;
        ne[1] = c;
    }
    g3_gguf_w_tensor(w, name, r > 1 ? 2 : 1, ne, G3_TYPE_F32, zeros,
                     (uint64_t)(c * r) * sizeof(float), true);
}

/* Writes a tiny gemma3 file following spec (zero fields = a valid model). */
static bool write_model(const char *path, spec s)
{
    static float zeros[E * 4 * 8 * 8 + FF * E + V * E];
    if (!s.arch)
        s.arch = "gemma3";
    if (!s.block_count)
        s.block_count = 2;
    if (!s.head_count)
        s.head_count = 2;
    if (!s.head_count_kv)
        s.head_count_kv = 1;
    if (!s.key_length)
        s.key_length = 8;
    if (!s.value_length)
        s.value_length = s.key_length;
    if (!s.emb_rows)
        s.emb_rows = V;
    g3_gguf_writer *w = g3_gguf_writer_new();
    if (!w)
        return false;
    if (!s.drop_key || strcmp(s.drop_key, "general.architecture"))
        g3_gguf_w_str(w, "general.architecture", s.arch);
    write_u32(w, &s, "gemma3.embedding_length", E);
    write_u32(w, &s, "gemma3.block_count", s.block_count);
    write_u32(w, &s, "gemma3.feed_forward_length", FF);
    write_u32(w, &s, "gemma3.attention.head_count", s.head_count);
    write_u32(w, &s, "gemma3.attention.head_count_kv", s.head_count_kv);
    write_u32(w, &s, "gemma3.attention.key_length", s.key_length);
    write_u32(w, &s, "gemma3.attention.value_length", s.value_length);
    write_u32(w, &s, "gemma3.context_length", 128);
    write_u32(w, &s, "gemma3.attention.sliding_window", 16);
    if (s.as_string && !strcmp(s.as_string, "gemma3.attention.layer_norm_rms_epsilon"))
        g3_gguf_w_str(w, s.as_string, "1e-6");
    else
        g3_gguf_w_f32(w, "gemma3.attention.layer_norm_rms_epsilon", 1e-6f);
    if (s.softcap != 0.0f)
        g3_gguf_w_f32(w, "gemma3.final_logit_softcapping", s.softcap);
    if (s.rope_scaling) {
        g3_gguf_w_str(w, "gemma3.rope.scaling.type", s.rope_scaling);
        g3_gguf_w_f32(w, "gemma3.rope.scaling.factor", 8.0f);
    }
    const char *toks[V];
    char names[V][12];
    for (int i = 0; i < V; i++) {
        snprintf(names[i], sizeof(names[i]), "t%d", i);
        toks[i] = names[i];
    }
    if (!s.drop_key || strcmp(s.drop_key, "tokenizer.ggml.tokens"))
        g3_gguf_w_arr_str(w, "tokenizer.ggml.tokens", toks, NULL, V);

    const int64_t q = (int64_t)s.head_count * s.key_length, kv = (int64_t)s.head_count_kv * s.key_length;
    tensor(w, &s, "token_embd.weight", E, s.emb_rows, zeros);
    tensor(w, &s, "output_norm.weight", E, 1, zeros);
    for (uint32_t l = 0; l < s.block_count && l < 4; l++) {
        const struct {
            const char *n;
            int64_t c, r;
        } t[] = {{"attn_norm", E, 1},         {"attn_q", E, q},     {"attn_k", E, kv},
                 {"attn_v", E, kv},           {"attn_q_norm", s.key_length, 1},
                 {"attn_k_norm", s.key_length, 1}, {"attn_output", q, E},
                 {"post_attention_norm", E, 1}, {"ffn_norm", E, 1}, {"ffn_gate", E, FF},
                 {"ffn_up", E, FF},           {"ffn_down", FF, E},  {"post_ffw_norm", E, 1}};
        for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
            char name[64];
            snprintf(name, sizeof(name), "blk.%u.%s.weight", l, t[i].n);
            if (s.long_tensor && !strcmp(s.long_tensor, name)) {
                tensor(w, &s, name, t[i].c + 1, t[i].r, zeros);
                continue;
            }
            tensor(w, &s, name, t[i].c, t[i].r, zeros);
        }
    }
    g3_err err = {0};
    bool ok = g3_gguf_writer_save(w, path, &err) == G3_OK;
    if (!ok)
        fprintf(stderr, "write %s: %s\n", path, err.msg);
    g3_gguf_writer_free(w);
    return ok;
}

static void expect(const char *what, spec s, g3_status want, const char *needle)
{
    char path[4096], err[600] = "";
    test_build_path(path, sizeof(path), "test_model_errors.gguf");
    if (!write_model(path, s)) {
        CHECK(0, "%s: could not write the test file", what);
        return;
    }
    g3_model *m = (g3_model *)(uintptr_t)1;
    g3_status st = g3_model_load(path, &(g3_model_options){.backend = G3_BACKEND_CPU, .n_threads = 1},
                                 &m, err, sizeof(err));
    CHECK(st == want, "%s: status %d (%s), want %d: %s", what, st, g3_status_string(st), want,
          err);
    if (want != G3_OK) {
        CHECK(m == NULL, "%s: *out is NULL on failure", what);
        CHECK(needle && strstr(err, needle), "%s: message '%s' should mention '%s'", what, err,
              needle);
    }
    if (st == G3_OK)
        printf("  ok: %s\n", what);
    else
        printf("  %-40s -> %s\n", what, err);
    g3_model_free(st == G3_OK ? m : NULL);
}

int main(void)
{
    expect("valid tiny model", (spec){0}, G3_OK, NULL);
    expect("another architecture", (spec){.arch = "llama"}, G3_ERR_UNSUPPORTED, "'llama'");
    expect("no architecture", (spec){.drop_key = "general.architecture"}, G3_ERR_FORMAT,
           "general.architecture");
    expect("block_count as a string", (spec){.as_string = "gemma3.block_count"}, G3_ERR_FORMAT,
           "gemma3.block_count");
    expect("embedding_length as a string", (spec){.as_string = "gemma3.embedding_length"},
           G3_ERR_FORMAT, "gemma3.embedding_length");
    expect("rms eps as a string", (spec){.as_string = "gemma3.attention.layer_norm_rms_epsilon"},
           G3_ERR_FORMAT, "layer_norm_rms_epsilon");
    expect("sliding_window as a string", (spec){.as_string = "gemma3.attention.sliding_window"},
           G3_ERR_FORMAT, "sliding_window");
    expect("missing block_count", (spec){.drop_key = "gemma3.block_count"}, G3_ERR_FORMAT,
           "gemma3.block_count");
    expect("missing feed_forward_length", (spec){.drop_key = "gemma3.feed_forward_length"},
           G3_ERR_FORMAT, "feed_forward_length");
    expect("block_count out of range", (spec){.block_count = 100000}, G3_ERR_FORMAT,
           "gemma3.block_count");
    expect("heads not a multiple of KV heads", (spec){.head_count = 3, .head_count_kv = 2},
           G3_ERR_FORMAT, "head_count_kv");
    expect("odd head dimension", (spec){.key_length = 7}, G3_ERR_FORMAT, "even");
    expect("value_length != key_length", (spec){.value_length = 16}, G3_ERR_UNSUPPORTED,
           "value_length");
    expect("missing attn_q", (spec){.drop_tensor = "blk.1.attn_q.weight"}, G3_ERR_FORMAT,
           "blk.1.attn_q.weight");
    expect("missing output_norm", (spec){.drop_tensor = "output_norm.weight"}, G3_ERR_FORMAT,
           "output_norm.weight");
    expect("missing token_embd", (spec){.drop_tensor = "token_embd.weight"}, G3_ERR_FORMAT,
           "token_embd.weight");
    expect("transposed ffn_down", (spec){.swap_tensor = "blk.0.ffn_down.weight"}, G3_ERR_FORMAT,
           "blk.0.ffn_down.weight");
    expect("embedding rows != vocabulary", (spec){.emb_rows = V + 1}, G3_ERR_FORMAT,
           "token_embd.weight");
    expect("norm with wrong length", (spec){.long_tensor = "blk.0.ffn_norm.weight"}, G3_ERR_FORMAT,
           "blk.0.ffn_norm.weight");
    expect("logit soft-capping", (spec){.softcap = 30.0f}, G3_ERR_UNSUPPORTED,
           "final_logit_softcapping");
    expect("yarn rope scaling", (spec){.rope_scaling = "yarn"}, G3_ERR_UNSUPPORTED, "yarn");
    expect("linear rope scaling loads", (spec){.rope_scaling = "linear"}, G3_OK, NULL);
    expect("no tokenizer: vocabulary from the embedding", (spec){.drop_key = "tokenizer.ggml.tokens"},
           G3_OK, NULL);

    /* Files a person gets wrong. */
    char err[600] = "";
    g3_model *m = NULL;
    CHECK(g3_model_load("/nonexistent/model.gguf", NULL, &m, err, sizeof(err)) == G3_ERR_IO &&
              strstr(err, "/nonexistent/model.gguf"),
          "missing file: %s", err);
    CHECK(g3_model_load("/tmp", NULL, &m, err, sizeof(err)) != G3_OK && strstr(err, "/tmp"),
          "directory: %s", err);
    char path[4096];
    test_build_path(path, sizeof(path), "test_model_errors_empty.gguf");
    FILE *f = fopen(path, "wb");
    REQUIRE(f, "create %s", path);
    fclose(f);
    CHECK(g3_model_load(path, NULL, &m, err, sizeof(err)) == G3_ERR_FORMAT && strstr(err, path),
          "empty file: %s", err);
    CHECK(g3_model_load(NULL, NULL, &m, err, sizeof(err)) == G3_ERR_INVALID_ARG, "NULL path");
    CHECK(m == NULL, "out stays NULL");
    g3_model_free(NULL);
    return test_finish("test_model_errors");
}
