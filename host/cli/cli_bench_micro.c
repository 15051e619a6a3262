/* cli_bench_micro.c: `g3vk bench --micro`: each kernel of a decode step alone, at
 * Gemma 3 270M's real shapes (matvec 640->1024, 640->256, 1024->640, 640->2048,
 * 2048->640 and the 640 x 262144 LM head, for every weight type asked for, and
 * the prefill matmul of the per-layer ones over a chunk of tokens; the embedding
 * gather from the LM head's table; rms_norm, rope_kv, attention over 512 and 4096
 * positions, gelu_mul, argmax over the vocabulary). Each result is checked against
 * the CPU reference (host/ref_ops.h) once, then the recording is replayed -r times
 * with timestamps: time per call, the bytes the profiler counts, GB/s and the % of
 * the peak the copy kernel reaches on the same device. Inputs are seeded random
 * numbers; weights are random rows (a pool of them, tiled over the big tables). */
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli_bench_micro.h"
#include "cli_util.h"
#include "quant.h"

float g3_micro_rnd(g3_micro *m) /* uniform in [-1, 1): splitmix64 */
{
    uint64_t z = (m->rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return (float)((double)(z >> 11) * 0x1p-52 - 1.0);
}

float *g3_micro_vec(g3_micro *m, size_t n)
{
    float *v = malloc(n * sizeof(float));
    for (size_t i = 0; v && i < n; i++)
        v[i] = g3_micro_rnd(m);
    return v;
}

double g3_micro_nmse(const float *ref, const float *got, size_t n)
{
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        const double d = (double)got[i] - ref[i];
        num += d * d;
        den += (double)ref[i] * ref[i];
    }
    return den > 0 ? num / den : num;
}

/* ---- one result ------------------------------------------------------------------- */

/* Replays the ended recording once (warm-up), then reps times, and prints its row:
 * the best time from the timestamps (else the host clock), bytes from the profile. */
void g3_micro_report(g3_micro *m, const char *op, const char *type, const char *shape,
                     double flops, double err, bool ok)
{
    g3_err e = {0};
    if (g3_vk_cmd_replay(m->cmd, &e) != G3_OK) {
        fprintf(stderr, "g3vk bench --micro: %s %s: %s\n", op, shape, e.msg);
        m->fails++;
        return;
    }
    /* The best replay: a shared machine only ever slows one down. Bytes are the
     * same for each replay; the profile of the last is read. */
    double best_gpu = INFINITY, best_wall = INFINITY;
    g3_vk_profile_entry ent[8];
    g3_vk_profile_totals tot = {0};
    uint32_t n = 0;
    for (int i = 0; i < m->reps; i++) {
        g3_vk_profile_reset(m->ctx);
        const double t0 = g3_time_s();
        if (g3_vk_cmd_replay(m->cmd, &e) != G3_OK) {
            fprintf(stderr, "g3vk bench --micro: %s %s: %s\n", op, shape, e.msg);
            m->fails++;
            return;
        }
        best_wall = G3_MIN(best_wall, (g3_time_s() - t0) * 1e9);
        n = G3_MIN(g3_vk_profile_get(m->ctx, ent, 8, &tot), 8u);
        best_gpu = G3_MIN(best_gpu, (double)tot.gpu_ns);
    }
    for (uint32_t i = 1; i < n; i++) /* the longest first: attn before its combine */
        for (uint32_t j = i; j > 0 && ent[j].ns > ent[j - 1].ns; j--) {
            const g3_vk_profile_entry t = ent[j];
            ent[j] = ent[j - 1];
            ent[j - 1] = t;
        }
    char kernel[96] = "";
    double bytes = 0;
    for (uint32_t i = 0; i < n; i++) {
        bytes += (double)(ent[i].bytes_read + ent[i].bytes_written);
        const size_t len = strlen(kernel);
        snprintf(kernel + len, sizeof(kernel) - len, "%s%.39s", i ? "+" : "", ent[i].kernel);
    }
    const double ns = m->timed ? best_gpu : best_wall;
    const double gbps = ns > 0 ? bytes / ns : 0;
    const double pct = m->peak.gbps > 0 ? 100 * gbps / m->peak.gbps : 0;
    const double gflops = ns > 0 ? flops / ns : 0;
    m->fails += !ok;
    if (m->json) {
        printf("%s\n  {\"op\": \"%s\", \"type\": \"%s\", \"shape\": ", m->n_rows ? "," : "", op,
               type);
        g3_cli_json_str(shape);
        printf(", \"kernel\": ");
        g3_cli_json_str(kernel);
        printf(", \"ns_per_call\": %.1f, \"bytes_per_call\": %.1f, \"gbps\": %.4f, "
               "\"peak_pct\": %.3f, \"gflops\": %.4f, \"nmse\": %.3g, \"ok\": %s}",
               ns, bytes, gbps, pct, gflops, isfinite(err) ? err : 1e300, ok ? "true" : "false");
    } else {
        char pk[16] = "", fl[16] = "", check[32];
        if (m->peak.gbps > 0)
            snprintf(pk, sizeof(pk), "%.1f", pct);
        if (flops > 0)
            snprintf(fl, sizeof(fl), "%.2f", gflops);
        snprintf(check, sizeof(check), "%s %.1e", ok ? "ok" : "FAIL", err);
        printf("| %-8s | %-6s | %-22s | %-32s | %10.2f | %9.4f | %7.2f | %6s | %7s | %-12s |\n",
               op, type, shape, kernel, ns / 1e3, bytes / 1e6, gbps, pk, fl, check);
    }
    m->n_rows++;
    fflush(stdout);
}

void g3_micro_skip(g3_micro *m, const char *op, const char *type, const char *shape,
                   const char *why)
{
    if (m->json) {
        printf("%s\n  {\"op\": \"%s\", \"type\": \"%s\", \"shape\": ", m->n_rows ? "," : "",
               op, type);
        g3_cli_json_str(shape);
        printf(", \"skipped\": ");
        g3_cli_json_str(why);
        printf("}");
    } else {
        printf("| %-8s | %-6s | %-22s | %-32s | %10s | %9s | %7s | %6s | %7s | %-12s |\n", op,
               type, shape, why, "", "", "", "", "", "n/a");
    }
    m->n_rows++;
}

/* Records into m->cmd (reusable); returns false after printing the failure. */
bool g3_micro_begin(g3_micro *m)
{
    return g3_vk_cmd_begin_reusable(m->cmd) == G3_OK;
}

bool g3_micro_run(g3_micro *m, const char *what)
{
    g3_err e = {0};
    if (g3_vk_cmd_end(m->cmd, &e) != G3_OK || g3_vk_cmd_replay(m->cmd, &e) != G3_OK) {
        fprintf(stderr, "g3vk bench --micro: %s: %s\n", what, e.msg);
        m->fails++;
        return false;
    }
    return true;
}

bool g3_micro_download(g3_micro *m, g3_vk_buffer *b, uint64_t off, void *dst, uint64_t n)
{
    g3_err e = {0};
    if (g3_vk_buffer_download(m->ctx, b, off, dst, n, &e) != G3_OK) {
        fprintf(stderr, "g3vk bench --micro: download: %s\n", e.msg);
        m->fails++;
        return false;
    }
    return true;
}

/* A buffer holding n floats (NULL data: zeros), or NULL after printing why. */
g3_vk_buffer *g3_micro_buf(g3_micro *m, const float *data, size_t n, const char *name)
{
    g3_err e = {0};
    g3_vk_buffer *b = NULL;
    float *zero = data ? NULL : calloc(n, sizeof(float));
    if (g3_vk_buffer_create(m->ctx, n * sizeof(float) + 256, G3_VK_MEMORY_DEVICE, name, &b,
                            &e) != G3_OK ||
        g3_vk_buffer_upload(m->ctx, b, 0, data ? data : zero, n * sizeof(float), &e) != G3_OK) {
        fprintf(stderr, "g3vk bench --micro: %s: %s\n", name, e.msg);
        g3_vk_buffer_free(m->ctx, b);
        b = NULL;
    }
    free(zero);
    return b;
}

/* ---- the command ------------------------------------------------------------------------ */

static int usage(FILE *f)
{
    fprintf(f,
            "usage: g3vk bench --micro [--types q8_0,q4_K,...] [--vocab N] [--tokens N] [-r N]\n"
            "                          [--device N] [--peak GBPS] [--json]\n"
            "Times each kernel of a decode step alone on the Vulkan device, at Gemma 3 270M's\n"
            "shapes: matvec 640->1024, 640->256, 1024->640, 640->2048, 2048->640 and the\n"
            "640 x N LM head for every weight type, the prefill matmul of the per-layer\n"
            "matrices, the embedding gather from the LM head's table, rms_norm, rope_kv,\n"
            "attention (f16 cache) over 512 and 4096 positions, gelu_mul and argmax over N\n"
            "logits. Each result is checked against the CPU reference once (NMSE, or the\n"
            "exact argmax), then replayed -r times.\n"
            "  --types L   weight types (default: all 15 the loader accepts)\n"
            "  --vocab N   LM head, embedding and argmax rows (default 262144)\n"
            "  --tokens N  the prefill matmul's tokens per chunk (default 64; 0 or 1: none)\n"
            "  -r N        timed replays per kernel after one warm-up, the best kept (default 10)\n"
            "  --peak G    the %% of peak column's GB/s (default: measured with a copy kernel)\n");
    return f == stdout ? 0 : 2;
}

/* Parses "q8_0,q4_K" into types (case-insensitive ggml names with a Vulkan kernel). */
static bool parse_types(const char *list, uint32_t *types, int *n)
{
    *n = 0;
    for (const char *p = list; *p;) {
        const char *e = strchr(p, ',');
        const size_t len = e ? (size_t)(e - p) : strlen(p);
        char name[16];
        if (len == 0 || len >= sizeof(name)) {
            fprintf(stderr, "g3vk bench: --types: empty or too long name in '%s'\n", list);
            return false;
        }
        snprintf(name, sizeof(name), "%.*s", (int)len, p);
        int t = -1;
        for (uint32_t i = 0; i < G3_TYPE_COUNT && t < 0; i++) {
            const char *tn = g3_type_get(i)->name;
            bool eq = tn && strlen(tn) == len;
            for (size_t c = 0; eq && c < len; c++)
                eq = tolower((unsigned char)tn[c]) == tolower((unsigned char)name[c]);
            if (eq)
                t = (int)i;
        }
        if (t < 0 || !g3_vk_matvec_type_supported((uint32_t)t)) {
            fprintf(stderr, "g3vk bench: --types: '%s' is not a weight type with a Vulkan "
                    "kernel\n", name);
            return false;
        }
        if (*n < G3_TYPE_COUNT)
            types[(*n)++] = (uint32_t)t;
        p += len + (e != NULL);
    }
    return *n > 0;
}

int g3_bench_micro(int argc, char **argv)
{
    g3_micro m = {.reps = 10, .rng = 0x243f6a8885a308d3ull};
    uint32_t types[G3_TYPE_COUNT];
    int n_types = 0;
    long long vocab = 262144, reps = 10, device = 0, tokens = 64;
    double peak = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help"))
            return usage(stdout);
        if (!strcmp(a, "--micro"))
            continue;
        if (!strcmp(a, "--json")) {
            m.json = true;
            continue;
        }
        if (strcmp(a, "--types") && strcmp(a, "--vocab") && strcmp(a, "-r") &&
            strcmp(a, "--device") && strcmp(a, "--peak") && strcmp(a, "--tokens")) {
            fprintf(stderr, "g3vk bench --micro: unknown option '%s'\n", a);
            return usage(stderr);
        }
        if (!(v = g3_cli_value(argc, argv, &i)))
            return 2;
        if ((!strcmp(a, "--types") && !parse_types(v, types, &n_types)) ||
            (!strcmp(a, "--vocab") && !g3_cli_int(a, v, 8192, 1 << 22, &vocab)) ||
            (!strcmp(a, "-r") && !g3_cli_int(a, v, 1, 100000, &reps)) ||
            (!strcmp(a, "--tokens") && !g3_cli_int(a, v, 0, 4096, &tokens)) ||
            (!strcmp(a, "--device") && !g3_cli_int(a, v, 0, 64, &device)) ||
            (!strcmp(a, "--peak") && !g3_cli_float(a, v, 1e-6, 1e9, &peak)))
            return 2;
    }
    if (!n_types)
        for (uint32_t t = 0; t < G3_TYPE_COUNT; t++)
            if (g3_vk_matvec_type_supported(t))
                types[n_types++] = t;
    m.reps = (int)reps;
    if (peak > 0) {
        m.peak.gbps = peak;
        snprintf(m.peak.source, sizeof(m.peak.source), "--peak");
    } else {
        g3_bench_measure_peak((int)device, &m.peak);
    }
    g3_err e = {0};
    char why[256] = "";
    if (g3_vk_context_create(&(g3_vk_options){.device = (int)device}, &m.ctx, &e) != G3_OK ||
        g3_vk_cmd_create_with(m.ctx, &(g3_vk_cmd_options){.profile = true}, &m.cmd, &e) != G3_OK ||
        g3_vk_matvec_create(m.ctx, NULL, &m.mv, &e) != G3_OK ||
        g3_vk_matmul_create(m.ctx, NULL, &m.mm, &e) != G3_OK ||
        g3_vk_ops_create(m.ctx,
                         &(g3_vk_ops_options){.n_head = G3_MICRO_N_HEAD,
                                              .n_head_kv = 1,
                                              .head_dim = G3_MICRO_HEAD_DIM},
                         &m.ops, &e) != G3_OK ||
        g3_vk_buffer_create(m.ctx, 64, G3_VK_MEMORY_UPLOAD, "step", &m.step, &e) != G3_OK) {
        fprintf(stderr, "g3vk bench --micro: %s\n", e.msg);
        m.fails++;
        goto out;
    }
    m.timed = g3_vk_profile_supported(m.ctx, why, sizeof(why));
    if (!m.timed)
        fprintf(stderr, "g3vk bench --micro: %s: timed with the host clock, bytes unknown\n",
                why);
    if (m.json)
        printf("[");
    else
        printf("micro-benchmarks on %s, best of %d replays each; peak %.2f GB/s (%s)\n\n"
               "| %-8s | %-6s | %-22s | %-32s | %10s | %9s | %7s | %6s | %7s | %-12s |\n"
               "| -------- | ------ | ---------------------- | -------------------------------- "
               "| ---------: | --------: | ------: | -----: | ------: | ------------ |\n",
               g3_vk_context_device(m.ctx)->name, m.reps, m.peak.gbps,
               m.peak.gbps > 0 ? m.peak.source : "not measured", "op", "type", "shape",
               "kernel", "us/call", "MB/call", "GB/s", "% peak", "GFLOP/s", "check (NMSE)");
    const g3_micro_shape shapes[] = {{640, 1024, "attn_q"},      {640, 256, "attn_k/v"},
                               {1024, 640, "attn_output"}, {640, 2048, "ffn_gate/up"},
                               {2048, 640, "ffn_down"},    {640, vocab, "output"}};
    for (int t = 0; t < n_types; t++) {
        g3_vk_weight *table = NULL;
        g3_weight host = {.ne = {640, vocab}};
        for (size_t s = 0; s < G3_ARRAY_LEN(shapes); s++)
            g3_micro_product(&m, types[t], &shapes[s], 1, &table, &host);
        /* a prefill chunk: the per-layer matrices (the LM head runs for the last
         * token only) */
        for (size_t s = 0; tokens > 1 && s + 1 < G3_ARRAY_LEN(shapes); s++)
            g3_micro_product(&m, types[t], &shapes[s], (uint32_t)tokens, NULL, NULL);
        if (table)
            g3_micro_embed(&m, table, &host);
        else
            g3_micro_skip(&m, "embed", g3_type_name(types[t]), "1 row of the output",
                          "n/a (no output table)");
        g3_vk_weight_free(table);
        free((void *)host.data);
    }
    g3_micro_rms_norm(&m, 640, 1, false, "residual row");
    g3_micro_rms_norm(&m, 256, 4, false, "q heads");
    g3_micro_rms_norm(&m, 640, 1, true, "+ residual");
    g3_micro_rope(&m);
    g3_micro_attn(&m, 512, 512, 4095);
    g3_micro_attn(&m, 4096, 0, 511);
    g3_micro_attn(&m, 4096, 0, 4095);
    g3_micro_gelu(&m, 2048);
    g3_micro_argmax(&m, (uint32_t)vocab);
    if (m.json)
        printf("\n]\n");
    else
        printf("\nGB/s: bytes the kernel must move (as the kernel profile counts them) per "
               "GPU time; %% peak: of the copy kernel's. %s\n",
               m.fails ? "SOME CHECKS FAILED" : "Every result matched the CPU reference.");
out:
    g3_vk_buffer_free(m.ctx, m.step);
    g3_vk_ops_free(m.ops);
    g3_vk_matmul_free(m.mm);
    g3_vk_matvec_free(m.mv);
    g3_vk_cmd_free(m.cmd);
    g3_vk_context_free(m.ctx);
    return m.fails ? 1 : 0;
}
