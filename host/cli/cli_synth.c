/* cli_synth.c: `g3vk synth`: writes a Gemma 3 GGUF with seeded random weights. */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "cli_util.h"
#include "quant.h"
#include "synth.h"

static void synth_usage(FILE *f)
{
    fprintf(f,
            "usage: g3vk synth --out FILE [options]\n"
            "\n"
            "Writes a Gemma 3 GGUF with the google/gemma-3-270m shape and seeded random\n"
            "weights (identical bytes on every machine for the same options).\n"
            "\n"
            "  --out FILE            output path (required)\n"
            "  --type NAME           f32 f16 bf16 q8_0 q4_0 q4_1 q5_0 q5_1 iq4_nl q4_k_m\n"
            "                        (default q8_0; the mixes follow llama.cpp's presets)\n"
            "  --seed N              PRNG seed (default 0)\n"
            "  --tokenizer FILE      vocabulary from a Hugging Face tokenizer.json; without\n"
            "                        it a synthetic vocabulary is written\n"
            "  --tokenizer-config F  its tokenizer_config.json (default: the one next to\n"
            "                        --tokenizer if present, else the built-in Gemma 3 chat\n"
            "                        template)\n"
            "  --vocab N             vocabulary size (default: the tokenizer's, or 262144);\n"
            "                        a tokenizer is truncated to its first N pieces\n"
            "  --layers N            layers (default 18)\n"
            "  --window N            sliding window (default 512)\n"
            "  --pattern N           every N-th layer is global (default 6)\n"
            "  --embd N              hidden size (default 640)\n"
            "  --ff N                FFN size (default 2048)\n"
            "  --heads N             query heads (default 4)\n"
            "  --kv-heads N          key/value heads (default 1)\n"
            "  --head-dim N          head dimension (default 256)\n"
            "  --ctx N               training context length (default 32768)\n"
            "  -h, --help            this text\n");
}

/* tokenizer_config.json next to tokenizer.json, when it exists (into buf). */
static const char *sibling_config(const char *tokenizer, char *buf, size_t cap)
{
    const char *slash = strrchr(tokenizer, '/');
    int dir_len = slash ? (int)(slash - tokenizer + 1) : 0;
    if (snprintf(buf, cap, "%.*stokenizer_config.json", dir_len, tokenizer) >= (int)cap)
        return NULL;
    FILE *f = fopen(buf, "rb");
    if (!f)
        return NULL;
    fclose(f);
    return buf;
}

int g3_cli_synth(int argc, char **argv)
{
    g3_synth_options o = {0};
    const char *out = NULL;
    const struct {
        const char *flag;
        int *dst;
        long long min, max;
    } ints[] = {
        {"--vocab", &o.n_vocab, 1, 1 << 22},     {"--layers", &o.n_layer, 1, 1024},
        {"--window", &o.sliding_window, 1, 1 << 24}, {"--pattern", &o.swa_pattern, 1, 1024},
        {"--embd", &o.n_embd, 1, 65536},         {"--ff", &o.n_ff, 1, 262144},
        {"--heads", &o.n_head, 1, 1024},         {"--kv-heads", &o.n_head_kv, 1, 1024},
        {"--head-dim", &o.head_dim, 2, 1024},    {"--ctx", &o.n_ctx_train, 1, 1 << 24},
    };
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            synth_usage(stdout);
            return 0;
        }
        bool known = false;
        for (size_t k = 0; k < sizeof(ints) / sizeof(ints[0]) && !known; k++) {
            if (strcmp(a, ints[k].flag))
                continue;
            known = true;
            const char *v = g3_cli_value(argc, argv, &i);
            long long x;
            if (!v || !g3_cli_int(a, v, ints[k].min, ints[k].max, &x))
                return 2;
            *ints[k].dst = (int)x;
        }
        if (known)
            continue;
        const char *v = NULL;
        if (!strcmp(a, "--out") || !strcmp(a, "--type") || !strcmp(a, "--seed") ||
            !strcmp(a, "--tokenizer") || !strcmp(a, "--tokenizer-config")) {
            if (!(v = g3_cli_value(argc, argv, &i)))
                return 2;
        } else {
            fprintf(stderr, "g3vk synth: unknown option '%s' (see g3vk synth --help)\n", a);
            return 2;
        }
        if (!strcmp(a, "--out")) {
            out = v;
        } else if (!strcmp(a, "--type")) {
            int p = g3_synth_preset_from_name(v);
            if (p < 0) {
                fprintf(stderr,
                        "g3vk synth: unknown --type '%s' (f32 f16 bf16 q8_0 q4_0 q4_1 q5_0 q5_1 "
                        "iq4_nl q4_k_m)\n",
                        v);
                return 2;
            }
            o.preset = (g3_synth_preset)p;
        } else if (!strcmp(a, "--seed")) {
            long long s;
            if (!g3_cli_int("--seed", v, 0, LLONG_MAX, &s))
                return 2;
            o.seed = (uint64_t)s;
        } else if (!strcmp(a, "--tokenizer")) {
            o.tokenizer_json = v;
        } else {
            o.tokenizer_config = v;
        }
    }
    if (!out) {
        fprintf(stderr, "g3vk synth: --out FILE is required\n\n");
        synth_usage(stderr);
        return 2;
    }
    char cfg[4096];
    if (o.tokenizer_json && !o.tokenizer_config)
        o.tokenizer_config = sibling_config(o.tokenizer_json, cfg, sizeof(cfg));

    g3_err err = {0};
    g3_synth_result r;
    g3_status st = g3_synth_write(out, &o, &r, &err);
    if (st != G3_OK) {
        fprintf(stderr, "g3vk: %s\n", err.msg[0] ? err.msg : g3_status_string(st));
        return st == G3_ERR_INVALID_ARG ? 2 : 1;
    }
    g3_synth_options res = g3_synth_options_resolve(&o);
    char types[256] = "", size[32];
    size_t len = 0;
    for (uint32_t t = 0; t < sizeof(r.type_count) / sizeof(r.type_count[0]); t++)
        if (r.type_count[t] && len < sizeof(types))
            len += (size_t)snprintf(types + len, sizeof(types) - len, "%s%s x%u",
                                    len ? ", " : "", g3_type_name(t), r.type_count[t]);
    printf("wrote %s: %s, %d layers, vocab %d, %.1fM params, %u tensors (%s), %s in %.1f s\n",
           out, g3_synth_preset_name(res.preset), res.n_layer, r.n_vocab,
           (double)r.n_params / 1e6, r.n_tensors, types,
           g3_cli_bytes(r.file_bytes, size, (int)sizeof(size)), r.seconds);
    return 0;
}
