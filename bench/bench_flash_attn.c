/* bench_flash_attn.c: the chunked flash attention (vk_flash_attn.h) against the
 * per-token split-K attention (g3_vk_record_attn with n_tokens > 1) on the 270M shape
 * (4 query heads, 1 KV head, head_dim 256, f16 cache), interleaved in one run:
 *   512 tokens at positions 0..511, global layer;
 *   512 tokens at positions 0..511, sliding window 512 (ring of 1023 slots);
 *   64 tokens at positions 900..963, global layer;
 *   64 tokens at positions 900..963, sliding window 512 (ring of 575 slots).
 * Each variant is recorded once and replayed; the table gives the median wall time of
 * a submit-and-wait over the rounds, and the median CPU time the process spent in it
 * (lavapipe's threads included: steadier than wall time on a shared machine), after
 * one warm-up run (which compiles the pipeline on lavapipe: its time is printed).
 * Both results are compared (max |diff|) before timing.
 * Usage: bench_flash_attn [rounds (default 5)] [tokens] [tile] [reads: 1 tiled,
 * 2 direct] [lanes] [team_tokens] (0 = the device's default).
 * Speed is measured here, never asserted by tests. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "quant.h"
#include "vk.h"
#include "vk_flash_attn.h"
#include "vk_ops.h"

enum { H = 4, HKV = 1, HD = 256, QW = H * HD, KW = HKV * HD, MAX_SLOTS = 2048, MAX_TOK = 512 };

typedef struct variant {
    const char *name;
    uint32_t pos, n_tok, window, n_slots;
} variant;

/* Deterministic inputs (splitmix64), uniform in [-1, 1). */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static float rng_f(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return (float)((double)(z >> 11) * 0x1p-52 - 1.0);
}

static int cmp_double(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* CPU seconds of this process (all threads: lavapipe's included): on a shared machine
 * less disturbed by other processes than wall time. */
static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* One replay: wall seconds, and CPU seconds in *cpu. */
static double run_once(g3_vk_cmd *rec, double *cpu)
{
    g3_err err = {0};
    const double t0 = g3_time_s(), c0 = cpu_s();
    if (g3_vk_cmd_replay(rec, &err) != G3_OK) {
        fprintf(stderr, "replay: %s\n", err.msg);
        exit(1);
    }
    if (cpu)
        *cpu = cpu_s() - c0;
    return g3_time_s() - t0;
}

int main(int argc, char **argv)
{
    const int rounds = argc > 1 ? atoi(argv[1]) : 5;
    g3_err err = {0};
    g3_vk_context *ctx = NULL;
    if (g3_vk_context_create(NULL, &ctx, &err) != G3_OK) {
        fprintf(stderr, "context: %s\n", err.msg);
        return err.status == G3_ERR_NO_DEVICE ? 77 : 1;
    }
    const g3_vk_flash_attn_options fo = {.n_head = H, .n_head_kv = HKV, .head_dim = HD,
                                         .tokens = argc > 2 ? (uint32_t)atoi(argv[2]) : 0,
                                         .tile = argc > 3 ? (uint32_t)atoi(argv[3]) : 0,
                                         .reads = argc > 4 ? (g3_vk_flash_attn_reads)atoi(argv[4])
                                                           : G3_VK_FLASH_ATTN_READS_AUTO,
                                         .lanes = argc > 5 ? (uint32_t)atoi(argv[5]) : 0,
                                         .team_tokens = argc > 6 ? (uint32_t)atoi(argv[6]) : 0};
    const g3_vk_ops_options oo = {.n_head = H, .n_head_kv = HKV, .head_dim = HD};
    g3_vk_flash_attn *fa = NULL;
    g3_vk_ops *ops = NULL;
    if (g3_vk_flash_attn_create(ctx, &fo, &fa, &err) != G3_OK ||
        g3_vk_ops_create(ctx, &oo, &ops, &err) != G3_OK) {
        fprintf(stderr, "create: %s\n", err.msg);
        return 1;
    }
    const g3_vk_flash_attn_options r = g3_vk_flash_attn_get_options(fa);
    printf("device %s; flash attention: %u tokens per workgroup, teams of %u tokens x %u "
           "lanes, %s\n", g3_vk_context_device(ctx)->name, r.tokens, r.team_tokens, r.lanes,
           r.reads == G3_VK_FLASH_ATTN_READS_DIRECT ? "direct reads" : "tiled");
    if (r.reads == G3_VK_FLASH_ATTN_READS_TILED)
        printf("tile %u positions\n", r.tile);

    /* One buffer: step | q | out flash | out split-K | scratch | K | V (f16). */
    const uint64_t qb = 4ull * QW * MAX_TOK, kvb = 2ull * KW * MAX_SLOTS;
    const g3_vk_kv kv0 = {.n_slots = MAX_SLOTS};
    const uint64_t sb = g3_vk_attn_scratch_bytes(ops, g3_vk_attn_splits(ops, &kv0, 0), MAX_TOK);
    const uint64_t o_q = 256, o_fa = o_q + qb, o_at = o_fa + qb, o_sc = o_at + qb,
                   o_k = o_sc + sb + 256, o_v = o_k + kvb, total = o_v + kvb;
    g3_vk_buffer *buf = NULL;
    if (g3_vk_buffer_create(ctx, total, G3_VK_MEMORY_DEVICE, "bench", &buf, &err) != G3_OK) {
        fprintf(stderr, "buffer: %s\n", err.msg);
        return 1;
    }
    uint8_t *img = calloc(1, total);
    if (!img)
        return 1;
    for (size_t i = 0; i < (size_t)QW * MAX_TOK; i++)
        ((float *)(img + o_q))[i] = rng_f() * 4.0f;
    for (size_t i = 0; i < (size_t)KW * MAX_SLOTS; i++) {
        ((uint16_t *)(img + o_k))[i] = g3_f32_to_fp16(rng_f() * 2.0f);
        ((uint16_t *)(img + o_v))[i] = g3_f32_to_fp16(rng_f());
    }
    static const variant vs[] = {
        {"512 tok @ 0, global", 0, 512, 0, 2048},
        {"512 tok @ 0, window 512", 0, 512, 512, 1023},
        {"64 tok @ 900, global", 900, 64, 0, 2048},
        {"64 tok @ 900, window 512", 900, 64, 512, 575},
    };
    enum { NV = sizeof(vs) / sizeof(vs[0]) };
    g3_vk_cmd *rec[NV][2] = {{NULL}};
    double t_pipe = 0.0;
    float *got[2] = {malloc(qb), malloc(qb)};
    if (!got[0] || !got[1])
        return 1;
    for (int v = 0; v < NV; v++) {
        /* pos lives in word v of the step area: each variant its own. */
        ((uint32_t *)img)[v] = vs[v].pos;
    }
    if (g3_vk_buffer_upload(ctx, buf, 0, img, total, &err) != G3_OK) {
        fprintf(stderr, "upload: %s\n", err.msg);
        return 1;
    }
    for (int v = 0; v < NV; v++) {
        const g3_vk_kv kv = {.buf = buf, .k_offset = o_k, .v_offset = o_v,
                             .n_slots = vs[v].n_slots};
        for (int k = 0; k < 2; k++) {
            g3_vk_attn_args a = {.pos = {buf, 4ull * v}, .q = {buf, o_q},
                                 .out = {buf, k ? o_at : o_fa}, .scratch = {buf, o_sc},
                                 .n_tokens = vs[v].n_tok, .kv = &kv, .window = vs[v].window,
                                 .scale = 1.0f / 16.0f};
            const double t0 = g3_time_s();
            if (g3_vk_cmd_create(ctx, &rec[v][k], &err) != G3_OK ||
                g3_vk_cmd_begin_reusable(rec[v][k]) != G3_OK) {
                fprintf(stderr, "cmd: %s\n", err.msg);
                return 1;
            }
            if (k)
                g3_vk_record_attn(rec[v][k], ops, &a);
            else
                g3_vk_record_flash_attn(rec[v][k], fa, &a);
            if (g3_vk_cmd_end(rec[v][k], &err) != G3_OK) {
                fprintf(stderr, "record %s: %s\n", vs[v].name, err.msg);
                return 1;
            }
            t_pipe += g3_time_s() - t0;
            /* Warm-up, and the result to compare; lavapipe compiles at the first run. */
            const double tw = run_once(rec[v][k], NULL);
            if (v == 0)
                printf("%s: first run (pipeline compilation on lavapipe) %.2f s\n",
                       k ? "split-K" : "flash", tw);
            if (g3_vk_buffer_download(ctx, buf, k ? o_at : o_fa, got[k],
                                      4ull * QW * vs[v].n_tok, &err) != G3_OK) {
                fprintf(stderr, "download: %s\n", err.msg);
                return 1;
            }
        }
        double md = 0.0;
        for (size_t i = 0; i < (size_t)QW * vs[v].n_tok; i++)
            md = fmax(md, fabs((double)got[0][i] - got[1][i]));
        printf("%-26s flash vs split-K max |diff| %.3g\n", vs[v].name, md);
    }
    printf("recording (pipeline creation included): %.2f s\n", t_pipe);

    double *t = malloc(sizeof(double) * (size_t)rounds * NV * 2);
    double *c = malloc(sizeof(double) * (size_t)rounds * NV * 2);
    if (!t || !c)
        return 1;
    for (int i = 0; i < rounds; i++)
        for (int v = 0; v < NV; v++)
            for (int k = 0; k < 2; k++) { /* interleaved: A, B, A, B, ... */
                const size_t at = ((size_t)v * 2 + k) * rounds + i;
                t[at] = run_once(rec[v][k], &c[at]);
            }
    printf("%-26s %9s %11s %8s | %9s %11s %8s\n", "case (270M, f16 cache)", "flash ms",
           "split-K ms", "speedup", "flash cpu", "split-K cpu", "ratio");
    for (int v = 0; v < NV; v++) {
        double med[2], mc[2];
        for (int k = 0; k < 2; k++) {
            double *s = t + ((size_t)v * 2 + k) * rounds, *sc = c + ((size_t)v * 2 + k) * rounds;
            qsort(s, (size_t)rounds, sizeof(double), cmp_double);
            qsort(sc, (size_t)rounds, sizeof(double), cmp_double);
            med[k] = s[rounds / 2] * 1e3;
            mc[k] = sc[rounds / 2] * 1e3;
        }
        printf("%-26s %9.1f %11.1f %7.2fx | %9.1f %11.1f %7.2fx\n", vs[v].name, med[0], med[1],
               med[1] / med[0], mc[0], mc[1], mc[1] / mc[0]);
    }
    free(c);
    for (int v = 0; v < NV; v++)
        for (int k = 0; k < 2; k++)
            g3_vk_cmd_free(rec[v][k]);
    free(t), free(img), free(got[0]), free(got[1]);
    g3_vk_buffer_free(ctx, buf);
    g3_vk_flash_attn_free(fa);
    g3_vk_ops_free(ops);
    g3_vk_context_free(ctx);
    return 0;
}
