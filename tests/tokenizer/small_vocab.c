/* small_vocab.c: part of test_tokenizer: a small hand-made vocabulary, as
 * GGUF metadata (scores) and as a g3_vocab (merge ranks): BPE order, byte
 * fallback, added pieces with and without special parsing, invalid UTF-8, the
 * encode API contract, malformed GGUF metadata, streaming and whole decoding,
 * and both builds agreeing on random strings. */
#include <math.h>
#include <string.h>

#include "gguf_write.h"
#include "test.h"
#include "tokenizer.h"
#include "tokenizer/small_vocab.h"

#define BYTE0 9 /* id of <0x00> in the small vocabulary */

static uint64_t rng_state = 0x853C49E6748FEA9Bull;
static uint32_t rng(void)
{
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(rng_state >> 33);
}

/* ---- helpers: GGUF metadata in memory ------------------------------------------ */

typedef struct gguf_spec {
    uint32_t n;
    const char *const *pieces;
    const uint64_t *lens;
    const float *scores;
    const int32_t *types;
    const char *model;   /* NULL: "llama"                         */
    int drop;            /* 1 tokens, 2 scores, 3 types, 4 model  */
    bool short_scores;   /* one score fewer                       */
    bool tokens_as_i32;  /* wrong element type                    */
    int64_t bos;         /* -1: no key                            */
} gguf_spec;

typedef struct mem_gguf {
    uint8_t *buf;
    g3_gguf *g;
} mem_gguf;

static g3_status make_gguf(const gguf_spec *s, mem_gguf *m, g3_err *err)
{
    g3_gguf_writer *w = g3_gguf_writer_new();
    if (!w)
        return G3_ERR_OUT_OF_MEMORY;
    if (s->drop != 4)
        g3_gguf_w_str(w, "tokenizer.ggml.model", s->model ? s->model : "llama");
    if (s->drop != 1) {
        if (s->tokens_as_i32)
            g3_gguf_w_arr(w, "tokenizer.ggml.tokens", G3_GGUF_I32, s->types, s->n);
        else
            g3_gguf_w_arr_str(w, "tokenizer.ggml.tokens", s->pieces, s->lens, s->n);
    }
    if (s->drop != 2)
        g3_gguf_w_arr(w, "tokenizer.ggml.scores", G3_GGUF_F32, s->scores,
                      s->n - (s->short_scores ? 1 : 0));
    if (s->drop != 3)
        g3_gguf_w_arr(w, "tokenizer.ggml.token_type", G3_GGUF_I32, s->types, s->n);
    if (s->bos >= 0)
        g3_gguf_w_u32(w, "tokenizer.ggml.bos_token_id", (uint32_t)s->bos);
    size_t size = 0;
    g3_status st = g3_gguf_writer_to_memory(w, &m->buf, &size, err);
    g3_gguf_writer_free(w);
    if (st == G3_OK)
        st = g3_gguf_open_memory(m->buf, size, &m->g, err);
    return st;
}

static void free_gguf(mem_gguf *m)
{
    g3_gguf_close(m->g);
    free(m->buf);
    *m = (mem_gguf){0};
}

/* Tokenizer from GGUF metadata built out of arrays (the file is closed again). */
static g3_tokenizer *tok_from_arrays(const gguf_spec *s, g3_err *err)
{
    mem_gguf m = {0};
    g3_tokenizer *t = NULL;
    if (make_gguf(s, &m, err) == G3_OK)
        g3_tokenizer_from_gguf(m.g, &t, err);
    free_gguf(&m);
    return t;
}

static int enc(const g3_tokenizer *t, const char *s, size_t len, unsigned flags, int32_t *out,
               int cap)
{
    return g3_tokenizer_encode(t, s, len, flags, out, cap);
}

bool ids_eq(const int32_t *a, int na, const int32_t *b, int nb)
{
    return na == nb && (na == 0 || !memcmp(a, b, (size_t)na * sizeof(*a)));
}

void print_ids(const char *what, const int32_t *ids, int n)
{
    fprintf(stderr, "  %s (%d):", what, n);
    for (int i = 0; i < n && i < 40; i++)
        fprintf(stderr, " %d", ids[i]);
    fprintf(stderr, n > 40 ? " ...\n" : "\n");
}

#define CHECK_ENC(t, str, flags, ...)                                                  \
    do {                                                                               \
        const int32_t want_[] = {__VA_ARGS__};                                         \
        int32_t got_[64];                                                              \
        const int n_ = enc(t, str, sizeof(str) - 1, flags, got_, 64);                  \
        const bool ok_ = ids_eq(got_, n_, want_, (int)G3_ARRAY_LEN(want_));            \
        CHECK(ok_, "encode(\"%s\", %u)", str, (unsigned)(flags));                      \
        if (!ok_) {                                                                    \
            print_ids("got", got_, n_);                                                \
            print_ids("want", want_, (int)G3_ARRAY_LEN(want_));                        \
        }                                                                              \
    } while (0)

/* ---- 1. a small vocabulary ---------------------------------------------------- */

enum { SMALL_N = 9 + 256 + 16 };
static const char *small_pieces[SMALL_N];
static uint64_t small_lens[SMALL_N];
static float small_scores[SMALL_N];
static int32_t small_types[SMALL_N];
static char small_bytes[256][7];
/* merges in rank order: left, right (pieces), as Hugging Face's converter
 * would list them; the scores are minus the rank of each result's first merge */
static const char *const small_merges[][2] = {
    {"\xe2\x96\x81", "a"}, {"b", "c"}, {"a", "b"},  {"aa", "a"}, {"a", "aa"},
    {"a", "a"},            {"ab", "c"}, {"a", "bc"}, {"<", "s"},  {"x", "x"},
    {"a", "\xe2\x96\x81"},
};

static int32_t small_id(const char *p)
{
    for (int i = 0; i < SMALL_N; i++)
        if (!strcmp(small_pieces[i], p))
            return i;
    return -1;
}

static void small_setup(void)
{
    static const char *const head[9] = {"<pad>", "<eos>", "<bos>", "<unk>", "<start_of_turn>",
                                        "<end_of_turn>", "\n", "\n\n", "<mask>"};
    static const int32_t head_t[9] = {3, 3, 3, 2, 3, 3, 4, 4, 4};
    static const char *const tail[16] = {"a", "b", "c", "\xe2\x96\x81", "ab", "bc", "abc",
                                         "\xe2\x96\x81" "a", "aa", "aaa", "<", "s", "<s", "x",
                                         "xx", "a\xe2\x96\x81"};
    for (int i = 0; i < 9; i++) {
        small_pieces[i] = head[i];
        small_types[i] = head_t[i];
    }
    for (int b = 0; b < 256; b++) {
        snprintf(small_bytes[b], sizeof(small_bytes[b]), "<0x%02X>", b);
        small_pieces[BYTE0 + b] = small_bytes[b];
        small_types[BYTE0 + b] = G3_TOKEN_BYTE;
    }
    for (int i = 0; i < 16; i++) {
        small_pieces[BYTE0 + 256 + i] = tail[i];
        small_types[BYTE0 + 256 + i] = i == 14 ? G3_TOKEN_CONTROL : G3_TOKEN_NORMAL;
    }
    for (int i = 0; i < SMALL_N; i++)
        small_lens[i] = strlen(small_pieces[i]);
    for (int r = (int)G3_ARRAY_LEN(small_merges) - 1; r >= 0; r--) {
        char joined[16];
        snprintf(joined, sizeof(joined), "%s%s", small_merges[r][0], small_merges[r][1]);
        small_scores[small_id(joined)] = (float)-r;
    }
}

static gguf_spec small_spec(void)
{
    return (gguf_spec){.n = SMALL_N, .pieces = small_pieces, .lens = small_lens,
                       .scores = small_scores, .types = small_types, .bos = -1};
}

/* The same vocabulary with explicit merges, as vocab_json.h would load it. */
static g3_vocab small_vocab(g3_vocab_merge *merges)
{
    for (uint32_t r = 0; r < G3_ARRAY_LEN(small_merges); r++) {
        char joined[16];
        snprintf(joined, sizeof(joined), "%s%s", small_merges[r][0], small_merges[r][1]);
        merges[r] = (g3_vocab_merge){.left = small_id(small_merges[r][0]),
                                     .right = small_id(small_merges[r][1]),
                                     .result = small_id(joined), .rank = r};
    }
    return (g3_vocab){.n = SMALL_N, .pieces = small_pieces, .lens = small_lens,
                      .scores = small_scores, .types = small_types,
                      .n_merges = G3_ARRAY_LEN(small_merges), .merges = merges,
                      .bos_id = 2, .eos_id = 1, .unk_id = 3, .pad_id = 0, .eot_id = -1,
                      .add_bos = true};
}

static void test_small_encode(const g3_tokenizer *t)
{
    const unsigned SP = G3_TOK_PARSE_SPECIAL, BOS = G3_TOK_ADD_BOS;
    const int32_t a = small_id("a"), b = small_id("b"), c = small_id("c");
    const int32_t u = small_id("\xe2\x96\x81"), ua = small_id("\xe2\x96\x81" "a");
    CHECK_ENC(t, "abc", 0, small_id("abc"));          /* (b,c) first, then (a,bc) */
    CHECK_ENC(t, "cab", 0, c, small_id("ab"));
    CHECK_ENC(t, "aaaa", 0, small_id("aaa"), a);      /* aa, then aaa beats aa */
    CHECK_ENC(t, " a b", 0, ua, u, b);                /* ' ' -> U+2581, no prefix */
    /* "a\u2581" is a piece: no word cut between "a" and a space */
    CHECK_ENC(t, "a b", 0, small_id("a\xe2\x96\x81"), b);
    CHECK_ENC(t, "a a", 0, a, ua);
    CHECK_ENC(t, "c b", 0, c, u, b);
    CHECK_ENC(t, "", 0);
    CHECK_ENC(t, "", BOS, 2);
    CHECK_ENC(t, "a", BOS | SP, 2, a);
    CHECK_ENC(t, "\xc3\xa9", 0, BYTE0 + 0xC3, BYTE0 + 0xA9); /* byte fallback */
    /* invalid UTF-8: each stray byte alone through byte fallback */
    CHECK_ENC(t, "a\xff", 0, a, BYTE0 + 0xFF);
    CHECK_ENC(t, "a\xe2\x96" "b", 0, a, BYTE0 + 0xE2, BYTE0 + 0x96, b);
    CHECK_ENC(t, "\xed\xa0\x80", 0, BYTE0 + 0xED, BYTE0 + 0xA0, BYTE0 + 0x80);
    CHECK_ENC(t, "\xc0\xaf" "a", 0, BYTE0 + 0xC0, BYTE0 + 0xAF, a);
    /* added pieces: user-defined always, longest first; control only with SP */
    CHECK_ENC(t, "a\nb\n\n\nc", 0, a, 6, b, 7, 6, c);
    CHECK_ENC(t, "<mask>a", 0, 8, a);
    CHECK_ENC(t, "<bos>a", SP, 2, a);
    CHECK_ENC(t, "<bos>a", 0, small_id("<"), b, BYTE0 + 'o', small_id("s"), BYTE0 + '>', a);
    CHECK_ENC(t, "<s<end_of_turn>", SP, small_id("<s"), 5);
    CHECK_ENC(t, "<start_of_turn>\n<mask>", SP, 4, 6, 8);
    /* BPE never builds a control piece: "xx" is one only with SP */
    CHECK_ENC(t, "xx", 0, small_id("x"), small_id("x"));
    CHECK_ENC(t, "xx", SP, small_id("xx"));
    /* a byte (0x00) inside the text */
    CHECK_ENC(t, "a\0b", 0, a, BYTE0, b);
}

static void test_encode_contract(const g3_tokenizer *t)
{
    int32_t out[4] = {-7, -7, -7, -7};
    /* sizing with cap 0, truncation to cap, the full count returned */
    CHECK(enc(t, "c b c", 5, 0, NULL, 0) == 5, "size with cap 0");
    CHECK(enc(t, "c b c", 5, 0, out, 2) == 5 && out[0] == small_id("c") && out[2] == -7,
          "truncated to cap");
    CHECK(enc(t, NULL, 0, G3_TOK_ADD_BOS, out, 4) == 1 && out[0] == 2, "NULL, 0");
    CHECK(enc(t, NULL, 3, 0, out, 4) == G3_ERR_INVALID_ARG, "NULL text");
    CHECK(enc(t, "a", 1, 0, NULL, 3) == G3_ERR_INVALID_ARG, "NULL out");
    CHECK(enc(t, "a", 1, 0, out, -1) == G3_ERR_INVALID_ARG, "negative cap");
    CHECK(enc(t, "a", (size_t)G3_TOK_MAX_TEXT_BYTES + 1, 0, out, 4) == G3_ERR_INVALID_ARG,
          "too long");
    CHECK(g3_tokenizer_encode(NULL, "a", 1, 0, out, 4) == G3_ERR_INVALID_ARG, "NULL t");

    const g3_tokenizer_specials *sp = g3_tokenizer_get_specials(t);
    CHECK(sp->bos == 2 && sp->eos == 1 && sp->unk == 3 && sp->pad == 0 &&
              sp->start_of_turn == 4 && sp->end_of_turn == 5 && sp->add_bos,
          "specials");
    CHECK(g3_tokenizer_is_eog(t, 1) && g3_tokenizer_is_eog(t, 5) && !g3_tokenizer_is_eog(t, 2),
          "end of generation ids");
    CHECK(g3_tokenizer_find(t, "abc", 3) == small_id("abc") && g3_tokenizer_find(t, "q", 1) < 0,
          "find");
    size_t len = 0;
    CHECK(!strcmp(g3_tokenizer_piece(t, 8, &len), "<mask>") && len == 6 &&
              !g3_tokenizer_piece(t, SMALL_N, &len) && !g3_tokenizer_piece(t, -1, NULL),
          "piece");
    CHECK(g3_tokenizer_type(t, 3) == G3_TOKEN_UNKNOWN && g3_tokenizer_type(t, SMALL_N) == 0,
          "type");
}

static void test_small_decode(const g3_tokenizer *t)
{
    char buf[64];
    const int32_t ids[] = {2, small_id("\xe2\x96\x81" "a"), small_id("abc"), 6,
                           BYTE0 + 0xC3, BYTE0 + 0xA9, 5};
    int n = g3_tokenizer_decode(t, ids, 7, 0, buf, sizeof(buf));
    CHECK(n == 26 && !strcmp(buf, "<bos> aabc\n\xc3\xa9<end_of_turn>"), "decode: %d '%s'", n,
          buf);
    n = g3_tokenizer_decode(t, ids, 7, G3_DETOK_SKIP_SPECIAL, buf, sizeof(buf));
    CHECK(n == 8 && !strcmp(buf, " aabc\n\xc3\xa9"), "decode, skip special: '%s'", buf);
    CHECK(g3_tokenizer_decode(t, ids, 7, 0, buf, 4) == 26 && !memcmp(buf, "<bos", 4),
          "decode truncated");
    const int32_t bad[] = {1, SMALL_N};
    CHECK(g3_tokenizer_decode(t, bad, 2, 0, buf, sizeof(buf)) == G3_ERR_INVALID_ARG, "bad id");
    /* invalid byte sequences: one U+FFFD per maximal ill-formed subpart */
    static const struct {
        uint8_t in[6];
        int n;
        const char *out;
    } cases[] = {
        {{0xE2, 0x82, 'A'}, 3, "\xef\xbf\xbd" "A"},
        {{0xF0, 0x9F, 0x98}, 3, "\xef\xbf\xbd"},
        {{0x80}, 1, "\xef\xbf\xbd"},
        {{0xED, 0xA0, 0x80}, 3, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},
        {{0xF0, 0x9F, 0x98, 0x80}, 4, "\xf0\x9f\x98\x80"},
        {{0xC3, 0xC3, 0xA9}, 3, "\xef\xbf\xbd\xc3\xa9"},
        {{0xFF, 'a'}, 2, "\xef\xbf\xbd" "a"},
    };
    for (size_t k = 0; k < G3_ARRAY_LEN(cases); k++) {
        int32_t bid[6];
        for (int i = 0; i < cases[k].n; i++)
            bid[i] = cases[k].in[i] == 'A' || cases[k].in[i] == 'a'
                         ? small_id("a") : BYTE0 + cases[k].in[i];
        char expect[16];
        snprintf(expect, sizeof(expect), "%s", cases[k].out);
        for (char *p = expect; *p; p++)
            if (*p == 'A')
                *p = 'a';
        n = g3_tokenizer_decode(t, bid, cases[k].n, 0, buf, sizeof(buf));
        CHECK(n == (int)strlen(expect) && !strcmp(buf, expect), "invalid bytes case %zu", k);
    }

    /* streaming: byte pieces one at a time never release part of a character */
    const uint8_t emoji[] = {0xF0, 0x9F, 0x98, 0x80, 0xC3, 0xA9, 0xE2, 0x82};
    g3_detok d;
    g3_detok_init(&d, t, 0);
    char all[64];
    int total = 0;
    for (size_t i = 0; i < sizeof(emoji); i++) {
        char chunk[64];
        /* too small a buffer: nothing consumed */
        if (i == 3) {
            const int need = g3_detok_push(&d, BYTE0 + emoji[i], chunk, 1);
            CHECK(need == 4, "push with cap 1 reports %d", need);
        }
        n = g3_detok_push(&d, BYTE0 + emoji[i], chunk, sizeof(chunk));
        CHECK(n >= 0 && n <= g3_detok_max_bytes(t), "push");
        CHECK(g3_utf8_valid(chunk, (size_t)n), "chunk %zu is whole UTF-8", i);
        CHECK(n == (i == 3 ? 4 : i == 5 ? 2 : 0), "push %zu released %d bytes", i, n);
        memcpy(all + total, chunk, (size_t)n);
        total += n;
    }
    n = g3_detok_flush(&d, all + total, 8);
    CHECK(n == 3, "flush of an unfinished sequence: U+FFFD");
    total += n;
    CHECK(total == 9 && !memcmp(all, "\xf0\x9f\x98\x80\xc3\xa9\xef\xbf\xbd", 9), "stream");
    CHECK(g3_detok_flush(&d, all, 8) == 0, "second flush is empty");
    CHECK(g3_detok_push(&d, -1, all, 8) == G3_ERR_INVALID_ARG, "push of a bad id");
}

/* Malformed GGUF metadata: each is G3_ERR_FORMAT (or UNSUPPORTED) naming the key. */
static void test_bad_gguf(void)
{
    static const struct {
        const char *what, *key;
        g3_status st;
    } cases[] = {
        {"no tokens", "tokenizer.ggml.tokens", G3_ERR_FORMAT},
        {"no scores", "tokenizer.ggml.scores", G3_ERR_FORMAT},
        {"no types", "tokenizer.ggml.token_type", G3_ERR_FORMAT},
        {"no model", "tokenizer.ggml.model", G3_ERR_FORMAT},
        {"short scores", "scores", G3_ERR_FORMAT},
        {"tokens not strings", "tokenizer.ggml.tokens", G3_ERR_FORMAT},
        {"model gpt2", "tokenizer.ggml.model", G3_ERR_UNSUPPORTED},
        {"bos out of range", "tokenizer.ggml.bos_token_id", G3_ERR_FORMAT},
        {"bad type", "tokenizer.ggml.token_type[20]", G3_ERR_FORMAT},
        {"NaN score", "tokenizer.ggml.scores[21]", G3_ERR_FORMAT},
        {"bad byte piece", "tokenizer.ggml.tokens[265]", G3_ERR_FORMAT},
    };
    for (size_t k = 0; k < G3_ARRAY_LEN(cases); k++) {
        gguf_spec s = small_spec();
        float sc[SMALL_N];
        int32_t ty[SMALL_N];
        memcpy(sc, small_scores, sizeof(sc));
        memcpy(ty, small_types, sizeof(ty));
        s.scores = sc;
        s.types = ty;
        if (k < 4)
            s.drop = (int)k + 1;
        s.short_scores = k == 4;
        s.tokens_as_i32 = k == 5;
        s.model = k == 6 ? "gpt2" : NULL;
        s.bos = k == 7 ? SMALL_N : -1;
        if (k == 8)
            ty[20] = 9;
        if (k == 9)
            sc[21] = (float)NAN;
        if (k == 10)
            ty[BYTE0 + 256] = G3_TOKEN_BYTE; /* "a" is not spelled <0xNN> */
        g3_err err = {0};
        g3_tokenizer *t = tok_from_arrays(&s, &err);
        CHECK(!t && err.status == cases[k].st && strstr(err.msg, cases[k].key), "%s: %d '%s'",
              cases[k].what, err.status, err.msg);
        g3_tokenizer_free(t);
    }
    g3_tokenizer *t = NULL;
    g3_err err = {0};
    CHECK(g3_tokenizer_from_gguf(NULL, &t, &err) == G3_ERR_INVALID_ARG && !t, "NULL gguf");
    g3_tokenizer_free(NULL);
}

/* Random strings over the small alphabet: the score build and the merge-rank
 * build must agree. */
static void test_small_agree(const g3_tokenizer *a, const g3_tokenizer *b)
{
    static const char *const alpha[] = {"a", "b", "c", " ", "<", "s", "x", "\n", "\xe2\x96\x81",
                                        "\xc3\xa9", "<mask>", "<bos>", "\xff", "aa", "  "};
    int bad = 0;
    for (int k = 0; k < 3000; k++) {
        char s[256];
        size_t len = 0;
        const int parts = 1 + (int)(rng() % 24);
        for (int i = 0; i < parts; i++) {
            const char *p = alpha[rng() % G3_ARRAY_LEN(alpha)];
            memcpy(s + len, p, strlen(p));
            len += strlen(p);
        }
        for (unsigned flags = 0; flags < 4; flags++) {
            int32_t x[256], y[256];
            const int nx = enc(a, s, len, flags, x, 256), ny = enc(b, s, len, flags, y, 256);
            if (!ids_eq(x, nx, y, ny) && bad++ < 5) {
                CHECK(0, "builds differ on '%.*s' (flags %u)", (int)len, s, flags);
                print_ids("scores", x, nx);
                print_ids("merges", y, ny);
            }
        }
    }
    CHECK(bad == 0, "score and merge builds differ on %d random strings", bad);
}

void tokenizer_small_tests(int *passed, int *failed)
{
    small_setup();
    gguf_spec s = small_spec();
    g3_err err = {0};
    g3_tokenizer *ts = tok_from_arrays(&s, &err);
    CHECK(ts && !g3_tokenizer_uses_merges(ts), "small vocabulary from GGUF: %s", err.msg);
    g3_vocab_merge merges[G3_ARRAY_LEN(small_merges)];
    g3_vocab v = small_vocab(merges);
    g3_tokenizer *tr = NULL;
    CHECK(g3_tokenizer_from_vocab(&v, &tr, &err) == G3_OK && g3_tokenizer_uses_merges(tr),
          "small vocabulary with merges: %s", err.msg);
    if (ts && tr) {
        test_small_encode(ts);
        test_small_encode(tr);
        test_encode_contract(ts);
        test_small_decode(ts);
        test_small_agree(ts, tr);
    }
    /* a vocabulary without BOS */
    s.n = 2;
    s.pieces = small_pieces + BYTE0 + 256;
    s.lens = small_lens + BYTE0 + 256;
    s.scores = small_scores + BYTE0 + 256;
    s.types = small_types + BYTE0 + 256;
    g3_tokenizer *t2 = tok_from_arrays(&s, &err);
    int32_t out[4];
    CHECK(t2 && enc(t2, "ab", 2, G3_TOK_ADD_BOS, out, 4) == G3_ERR_UNSUPPORTED &&
              enc(t2, "ab\xc3", 3, 0, out, 4) == 2,
          "no BOS, no byte pieces, no unknown piece: the stray byte is dropped");
    g3_tokenizer_free(t2);
    g3_tokenizer_free(ts);
    g3_tokenizer_free(tr);
    test_bad_gguf();
    *passed = test_passed_;
    *failed = test_failed_;
}

g3_tokenizer *tokenizer_from_gguf_arrays(uint32_t n, const char *const *pieces,
                                         const uint64_t *lens, const float *scores,
                                         const int32_t *types, g3_err *err)
{
    const gguf_spec s = {.n = n, .pieces = pieces, .lens = lens, .scores = scores,
                         .types = types, .bos = -1};
    return tok_from_arrays(&s, err);
}

