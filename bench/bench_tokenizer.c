/* bench_tokenizer.c: how fast the tokenizer loads and encodes.
 *
 *   bench_tokenizer (-m MODEL.gguf | --tokenizer tokenizer.json) [--text FILE]
 *                   [--mb N] [--runs N]
 *
 * Load: opening the GGUF file and building the tokenizer from its metadata (or
 * loading tokenizer.json), best of --runs. Encode: the file given with --text,
 * or N MB (default 4) of synthetic text mixing English prose, code, other
 * scripts, emoji and whitespace runs; best of --runs, in MB/s of input. Decode
 * of the resulting ids is timed too. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer.h"

static const char *const samples[] = {
    "The quick brown fox jumps over the lazy dog. It was the best of times, it was the "
    "worst of times, it was the age of wisdom, it was the age of foolishness. ",
    "In 1969, Apollo 11 landed on the Moon; Neil Armstrong said: \"That's one small step for "
    "man, one giant leap for mankind.\" ",
    "Machine learning models are trained on large datasets to recognize patterns and make "
    "predictions about new, unseen data.\n\n",
    "static int add(int a, int b)\n{\n    return a + b; /* sum */\n}\n\n",
    "def fib(n):\n    a, b = 0, 1\n    for _ in range(n):\n        a, b = b, a + b\n    return a\n",
    "{\"name\": \"g3vk\", \"tags\": [\"a\", \"b\"], \"n\": 12.5}\n",
    "<start_of_turn>user\nSummarize this text, please.<end_of_turn>\n<start_of_turn>model\n",
    "Les élèves étudient à l'école près de la forêt. Größe, Straße, Mädchen. ",
    "Привет, мир! Как дела? Съешь же ещё этих мягких французских булок. ",
    "你好，世界！今天天气很好。こんにちは世界！안녕하세요 세계! ",
    "مرحبا بالعالم! नमस्ते दुनिया! สวัสดีชาวโลก ",
    "Emoji: 😀👍🏽🇫🇷👨‍👩‍👧 ",
    "    indented\n\t\ttabs\n\n\n   spaced   out   ",
};

static char *synthetic(size_t want, size_t *len)
{
    char *s = malloc(want + 4096);
    uint64_t x = 0x9E3779B97F4A7C15ull;
    size_t n = 0;
    while (s && n < want) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        /* mostly prose, like a chat prompt; the rest spread over the others */
        const size_t k = (x >> 33) % (9 + G3_ARRAY_LEN(samples));
        const char *p = samples[k < 9 ? k % 3 : k - 9];
        const size_t l = strlen(p);
        memcpy(s + n, p, l);
        n += l;
    }
    *len = n;
    return s;
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = NULL;
    size_t cap = 0, n = 0, got;
    do {
        if (n + 65536 > cap) {
            char *nb = realloc(buf, cap = 2 * cap + 65536);
            if (!nb)
                break;
            buf = nb;
        }
        got = fread(buf + n, 1, cap - n, f);
        n += got;
    } while (got > 0);
    fclose(f);
    *len = n;
    return buf;
}

static g3_tokenizer *load(const char *model, const char *json, double *open_s, double *build_s)
{
    g3_err err = {0};
    g3_tokenizer *t = NULL;
    const double t0 = g3_time_s();
    if (model) {
        g3_gguf *g = NULL;
        if (g3_gguf_open(model, &g, &err) == G3_OK) {
            *open_s = g3_time_s() - t0;
            g3_tokenizer_from_gguf(g, &t, &err);
        }
        g3_gguf_close(g);
    } else {
        g3_vocab *v = NULL;
        if (g3_vocab_load_json(json, NULL, NULL, &v, &err) == G3_OK) {
            *open_s = g3_time_s() - t0;
            g3_tokenizer_from_vocab(v, &t, &err);
        }
        g3_vocab_free(v);
    }
    *build_s = g3_time_s() - t0 - *open_s;
    if (!t)
        fprintf(stderr, "bench_tokenizer: %s\n", err.msg);
    return t;
}

int main(int argc, char **argv)
{
    const char *model = NULL, *json = NULL, *text_path = NULL;
    double mb = 4;
    int runs = 5;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-m") && v)
            model = argv[++i];
        else if (!strcmp(a, "--tokenizer") && v)
            json = argv[++i];
        else if (!strcmp(a, "--text") && v)
            text_path = argv[++i];
        else if (!strcmp(a, "--mb") && v)
            mb = atof(argv[++i]);
        else if (!strcmp(a, "--runs") && v)
            runs = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: bench_tokenizer (-m MODEL.gguf | --tokenizer tokenizer.json) "
                            "[--text FILE] [--mb N] [--runs N]\n");
            return 2;
        }
    }
    if (!model == !json || runs < 1 || mb <= 0 || mb > 512) {
        fprintf(stderr, "bench_tokenizer: give -m or --tokenizer (one), --runs >= 1, "
                        "0 < --mb <= 512\n");
        return 2;
    }

    g3_tokenizer *t = NULL;
    double best_open = 1e9, best_build = 1e9, best_total = 1e9;
    for (int r = 0; r < runs; r++) {
        double o = 0, b = 0;
        g3_tokenizer_free(t);
        t = load(model, json, &o, &b);
        if (!t)
            return 1;
        best_open = o < best_open ? o : best_open;
        best_build = b < best_build ? b : best_build;
        best_total = o + b < best_total ? o + b : best_total;
    }
    printf("load (%s, %d pieces, %s): %.1f ms (open %.1f ms + build %.1f ms), best of %d\n",
           model ? model : json, g3_tokenizer_n_vocab(t),
           g3_tokenizer_uses_merges(t) ? "merge ranks" : "scores", best_total * 1e3,
           best_open * 1e3, best_build * 1e3, runs);

    size_t len = 0;
    char *text = text_path ? read_file(text_path, &len) : synthetic((size_t)(mb * 1e6), &len);
    if (!text) {
        fprintf(stderr, "bench_tokenizer: cannot read %s\n", text_path ? text_path : "(memory)");
        return 1;
    }
    const unsigned flags = G3_TOK_ADD_BOS | G3_TOK_PARSE_SPECIAL;
    const int n = g3_tokenizer_encode(t, text, len, flags, NULL, 0);
    int32_t *ids = n >= 0 ? malloc(((size_t)n + 1) * sizeof(*ids)) : NULL;
    char *back = NULL;
    double best_enc = 1e9, best_dec = 1e9;
    int nd = 0;
    for (int r = 0; ids && r < runs; r++) {
        const double t0 = g3_time_s();
        g3_tokenizer_encode(t, text, len, flags, ids, n);
        const double t1 = g3_time_s();
        best_enc = t1 - t0 < best_enc ? t1 - t0 : best_enc;
        nd = g3_tokenizer_decode(t, ids, n, 0, NULL, 0);
        if (!back && nd >= 0)
            back = malloc((size_t)nd + 1);
        if (back)
            g3_tokenizer_decode(t, ids, n, 0, back, nd + 1);
        const double t2 = g3_time_s();
        best_dec = t2 - t1 < best_dec ? t2 - t1 : best_dec;
    }
    if (!ids) {
        fprintf(stderr, "bench_tokenizer: encoding failed (%d)\n", n);
        return 1;
    }
    printf("encode: %.2f MB in %.1f ms = %.1f MB/s, %d ids (%.2f bytes/id), best of %d\n",
           (double)len / 1e6, best_enc * 1e3, (double)len / 1e6 / best_enc, n,
           (double)len / n, runs);
    printf("decode: %.1f ms = %.1f MB/s of text\n", best_dec * 1e3,
           (double)nd / 1e6 / best_dec);
    free(back);
    free(ids);
    free(text);
    g3_tokenizer_free(t);
    return 0;
}
