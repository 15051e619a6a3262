/* cli_tokenize.c: `g3vk tokenize` and `g3vk detokenize`: JSON lines in, JSON
 * lines out, one output line per input line.
 *
 * A line that fails (not JSON, wrong type, an id out of range) is reported on
 * stderr with its line number, gives `null` on stdout so that output line k
 * still answers input line k, and does not stop the others; the exit status
 * is 1 when any line failed. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_util.h"
#include "tokenizer.h"

typedef struct tok_args {
    const char *model, *tokenizer_json;
    bool no_special, no_bos, skip_special;
} tok_args;

static int usage(FILE *f, bool detok)
{
    if (detok)
        fprintf(f,
                "usage: g3vk detokenize (-m MODEL.gguf | --tokenizer tokenizer.json)\n"
                "                       [--skip-special]\n"
                "  Reads one JSON array of token ids per line on stdin and writes the text\n"
                "  of each as one JSON string per line. Byte pieces are reassembled into\n"
                "  UTF-8; bytes that form no character become U+FFFD. --skip-special drops\n"
                "  control pieces (<bos>, <end_of_turn>, ...).\n");
    else
        fprintf(f,
                "usage: g3vk tokenize (-m MODEL.gguf | --tokenizer tokenizer.json)\n"
                "                     [--no-special] [--no-bos]\n"
                "  Reads one JSON string per line on stdin (e.g. \"Hello\\nworld\") and writes\n"
                "  its token ids as one JSON array per line: BOS first, control-piece text\n"
                "  such as <start_of_turn> mapped to its id. --no-special makes that text\n"
                "  plain text; --no-bos leaves BOS out.\n");
    fprintf(f, "  A line that cannot be handled gives 'null' and a message with its line\n"
               "  number on stderr; the exit status is then 1.\n");
    return f == stdout ? 0 : 2;
}

/* Parses the flags; returns -1 to go on, else the exit status. */
static int parse_args(int argc, char **argv, bool detok, tok_args *a)
{
    const char *cmd = detok ? "detokenize" : "tokenize";
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i];
        if (!strcmp(s, "-h") || !strcmp(s, "--help"))
            return usage(stdout, detok);
        if (!strcmp(s, "-m") || !strcmp(s, "--model")) {
            if (!(a->model = g3_cli_value(argc, argv, &i)))
                return 2;
        } else if (!strcmp(s, "--tokenizer")) {
            if (!(a->tokenizer_json = g3_cli_value(argc, argv, &i)))
                return 2;
        } else if (!detok && !strcmp(s, "--no-special")) {
            a->no_special = true;
        } else if (!detok && !strcmp(s, "--no-bos")) {
            a->no_bos = true;
        } else if (detok && !strcmp(s, "--skip-special")) {
            a->skip_special = true;
        } else {
            fprintf(stderr, "g3vk %s: unknown option '%s'\n", cmd, s);
            return usage(stderr, detok);
        }
    }
    if (!a->model == !a->tokenizer_json) {
        fprintf(stderr, "g3vk %s: pass exactly one of -m MODEL.gguf or --tokenizer FILE\n", cmd);
        return 2;
    }
    return -1;
}

static g3_tokenizer *load(const tok_args *a, const char *cmd)
{
    g3_err err = {0};
    g3_tokenizer *t = NULL;
    if (a->model) {
        g3_gguf *g = NULL;
        if (g3_gguf_open(a->model, &g, &err) == G3_OK)
            g3_tokenizer_from_gguf(g, &t, &err);
        g3_gguf_close(g);
    } else {
        g3_vocab *v = NULL;
        if (g3_vocab_load_json(a->tokenizer_json, NULL, NULL, &v, &err) == G3_OK)
            g3_tokenizer_from_vocab(v, &t, &err);
        g3_vocab_free(v);
    }
    if (!t)
        fprintf(stderr, "g3vk %s: %s\n", cmd, err.msg);
    return t;
}

static json_t *parse_line(const char *line, size_t len, long lineno, const char *cmd)
{
    json_error_t je;
    json_t *j = json_loadb(line, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
    if (!j)
        fprintf(stderr, "g3vk %s: line %ld: not valid JSON (column %d): %s\n", cmd, lineno,
                je.column, je.text);
    return j;
}

static bool tokenize_line(const g3_tokenizer *t, const json_t *j, unsigned flags, long lineno)
{
    if (!json_is_string(j)) {
        fprintf(stderr, "g3vk tokenize: line %ld: expected a JSON string\n", lineno);
        return false;
    }
    const char *text = json_string_value(j);
    const size_t len = json_string_length(j);
    int32_t small[1024], *ids = small;
    int n = g3_tokenizer_encode(t, text, len, flags, small, (int)G3_ARRAY_LEN(small));
    if (n > (int)G3_ARRAY_LEN(small)) {
        ids = malloc((size_t)n * sizeof(*ids));
        n = ids ? g3_tokenizer_encode(t, text, len, flags, ids, n) : G3_ERR_OUT_OF_MEMORY;
    }
    if (n < 0) {
        fprintf(stderr, "g3vk tokenize: line %ld: %s\n", lineno, g3_status_string(n));
        if (ids != small)
            free(ids);
        return false;
    }
    putchar('[');
    for (int i = 0; i < n; i++)
        printf(i ? ",%d" : "%d", (int)ids[i]);
    fputs("]\n", stdout);
    if (ids != small)
        free(ids);
    return true;
}

static bool detokenize_line(const g3_tokenizer *t, const json_t *j, unsigned flags, long lineno)
{
    if (!json_is_array(j)) {
        fprintf(stderr, "g3vk detokenize: line %ld: expected a JSON array of ids\n", lineno);
        return false;
    }
    const size_t n = json_array_size(j);
    const int n_vocab = g3_tokenizer_n_vocab(t);
    if (n > (size_t)G3_TOK_MAX_TEXT_BYTES) {
        fprintf(stderr, "g3vk detokenize: line %ld: %zu ids, too many\n", lineno, n);
        return false;
    }
    int32_t *ids = malloc((n ? n : 1) * sizeof(*ids));
    char *text = NULL;
    bool ok = ids != NULL;
    for (size_t i = 0; ok && i < n; i++) {
        const json_t *e = json_array_get(j, i);
        const json_int_t v = json_is_integer(e) ? json_integer_value(e) : -1;
        if (!json_is_integer(e) || v < 0 || v >= n_vocab) {
            fprintf(stderr,
                    "g3vk detokenize: line %ld: element %zu is not an id in [0, %d)\n",
                    lineno, i, n_vocab);
            ok = false;
        } else {
            ids[i] = (int32_t)v;
        }
    }
    int len = ok ? g3_tokenizer_decode(t, ids, (int)n, flags, NULL, 0) : -1;
    if (ok && len >= 0) {
        text = malloc((size_t)len + 1);
        if (text)
            len = g3_tokenizer_decode(t, ids, (int)n, flags, text, len + 1);
    }
    json_t *s = ok && len >= 0 && text ? json_stringn(text, (size_t)len) : NULL;
    if (ok && !s) {
        fprintf(stderr, "g3vk detokenize: line %ld: cannot decode (%s)\n", lineno,
                len < 0 ? g3_status_string(len) : "out of memory");
        ok = false;
    }
    if (s) {
        json_dumpf(s, stdout, JSON_ENCODE_ANY);
        putchar('\n');
        json_decref(s);
    }
    free(text);
    free(ids);
    return ok;
}

static int run(int argc, char **argv, bool detok)
{
    const char *cmd = detok ? "detokenize" : "tokenize";
    tok_args a = {0};
    int rc = parse_args(argc, argv, detok, &a);
    if (rc >= 0)
        return rc;
    g3_tokenizer *t = load(&a, cmd);
    if (!t)
        return 1;
    const unsigned flags = detok ? (a.skip_special ? G3_DETOK_SKIP_SPECIAL : 0u)
                                 : (a.no_bos ? 0u : G3_TOK_ADD_BOS) |
                                       (a.no_special ? 0u : G3_TOK_PARSE_SPECIAL);
    char *line = NULL;
    size_t line_cap = 0;
    long lineno = 0, failed = 0;
    ssize_t got;
    while ((got = getline(&line, &line_cap, stdin)) >= 0) {
        lineno++;
        json_t *j = parse_line(line, (size_t)got, lineno, cmd);
        const bool ok = j && (detok ? detokenize_line(t, j, flags, lineno)
                                    : tokenize_line(t, j, flags, lineno));
        if (!ok) {
            fputs("null\n", stdout);
            failed++;
        }
        json_decref(j);
    }
    free(line);
    g3_tokenizer_free(t);
    if (fflush(stdout) != 0) {
        fprintf(stderr, "g3vk %s: cannot write the output\n", cmd);
        return 1;
    }
    if (failed)
        fprintf(stderr, "g3vk %s: %ld of %ld lines failed\n", cmd, failed, lineno);
    return failed ? 1 : 0;
}

int g3_cli_tokenize(int argc, char **argv)
{
    return run(argc, argv, false);
}

int g3_cli_detokenize(int argc, char **argv)
{
    return run(argc, argv, true);
}
