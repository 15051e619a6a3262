/* bench_matmul.c: the prompt-processing matrix products, matmul (vk_matmul.h) against
 * the decode path's matvec (vk_matvec.h, G3_MATVEC_MAX_TOKENS tokens per dispatch) on
 * the same weights and tokens, interleaved in one run.
 *
 *   bench_matmul [--types q8_0,q4_K] [--tokens N] [--reps N] [--shapes 640x2048,...]
 *
 * Shapes are cols x rows (x length -> y length); default: the Gemma 3 270M FFN
 * shapes 640 -> 2048 and 2048 -> 640 (K-quants: 2048 -> 640 and 1024 -> 640, their
 * shapes in real files), types q8_0, q4_0, q5_0, q4_K, q6_K, 512 tokens. Each product
 * is checked against the CPU reference on sampled outputs before it is timed. Time
 * is wall clock around submit-and-wait of `reps` products in one command buffer, the
 * best of 5 (the machine is shared: the minimum is the least disturbed); GFLOP/s
 * counts 2 * rows * cols * tokens; GFLOP/cpu-s divides by the process's CPU time
 * instead (lavapipe's threads run in it), which other load on a shared machine
 * disturbs less than the wall clock. Kernel options come from the environment for
 * tuning: G3_MM_MODE (1 tile, 2 lane), G3_MM_ROWS, G3_MM_TOKENS, G3_MM_WG, and
 * G3_MATVEC_LAYOUT (1 GGUF, 2 streams) for the weights; G3_MM_FIRST=1 also prints
 * the pipeline creation time and that of the first products (lavapipe compiles at
 * the first dispatch; set MESA_SHADER_CACHE_DISABLE=true to see it every time).
 *
 * Measured on the 2-core build machine (lavapipe, 512 tokens, default kernels; see
 * the commit that added this file for the table): the lane kernel runs 3-8x the
 * matvec path's rate, 40-50 GFLOP/s on both cores for Q8_0 / Q4_0 / Q4_K. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "quant.h"
#include "vk.h"
#include "vk_matmul.h"
#include "vk_matvec.h"

static uint64_t rng = 0x853c49e6748fea9bull;

static float rnd(void) /* uniform in [-1, 1) */
{
    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((double)(rng >> 11) * 0x1p-52 - 1.0);
}

static uint32_t env_u32(const char *name)
{
    const char *v = getenv(name);
    return v ? (uint32_t)strtoul(v, NULL, 10) : 0;
}

/* A weight of random values quantized to `type` (random bytes with small f16 scales
 * for the types without a quantizer). */
static uint8_t *make_weight(uint32_t type, int64_t cols, int64_t rows, uint64_t *row_bytes)
{
    if (!g3_type_row_bytes(type, (uint64_t)cols, row_bytes))
        return NULL;
    uint8_t *w = malloc(*row_bytes * (uint64_t)rows);
    float *tmp = malloc((size_t)cols * sizeof(float));
    if (!w || !tmp) {
        free(w);
        free(tmp);
        return NULL;
    }
    for (int64_t r = 0; r < rows; r++) {
        uint8_t *dst = w + (uint64_t)r * *row_bytes;
        if (g3_type_can_quantize(type)) {
            for (int64_t c = 0; c < cols; c++)
                tmp[c] = rnd() * 0.1f;
            g3_quantize_row(type, tmp, dst, cols);
        } else {
            const g3_type_info *ti = g3_type_get(type);
            for (uint64_t i = 0; i < *row_bytes; i++)
                dst[i] = (uint8_t)(rnd() * 127.0f);
            for (uint64_t b = 0; b < *row_bytes / ti->type_size; b++) {
                const uint16_t d = g3_f32_to_fp16(0.002f);
                const int at = type == G3_TYPE_Q2_K ? 80 : type == G3_TYPE_Q3_K ? 108 : 0;
                memcpy(dst + b * ti->type_size + at, &d, 2);
                if (type == G3_TYPE_Q2_K)
                    memcpy(dst + b * ti->type_size + 82, &d, 2);
            }
        }
    }
    free(tmp);
    return w;
}

typedef struct bench_ctx {
    g3_vk_context *ctx;
    g3_vk_cmd *cmd;
    g3_vk_matmul *mm;
    g3_vk_buffer *x, *y;
} bench_ctx;

/* CPU seconds of this process (lavapipe's threads run in it): what a kernel costs
 * on a CPU device whatever else the shared machine runs. */
static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Seconds per product: best of 5 submits of `reps` products each; *cpu: the CPU
 * seconds of the best. */
static double time_products(bench_ctx *b, const g3_vk_weight *w, bool matmul, uint32_t n_tok,
                            int reps, double *cpu, g3_err *err)
{
    double best = 1e30;
    for (int k = 0; k < 5; k++) {
        g3_vk_cmd_begin(b->cmd);
        for (int r = 0; r < reps; r++) {
            if (r)
                g3_vk_cmd_barrier(b->cmd); /* y is rewritten: order the writes */
            if (matmul)
                g3_vk_matmul_record(b->cmd, b->mm, w, b->x, 0, b->y, 0, n_tok);
            else
                g3_vk_matvec_record(b->cmd, w, b->x, 0, b->y, 0, n_tok);
        }
        const double t0 = g3_time_s(), c0 = cpu_s();
        if (g3_vk_cmd_submit_wait(b->cmd, err) != G3_OK)
            return -1;
        const double t = (g3_time_s() - t0) / reps;
        if (t < best) {
            best = t;
            *cpu = (cpu_s() - c0) / reps;
        }
    }
    return best;
}

/* Largest |got - ref| / (1e-5 + sum|w x| * 1e-6) over sampled outputs (< 1 passes). */
static double check(bench_ctx *b, const g3_weight *hw, const float *x, uint32_t n_tok,
                    g3_err *err)
{
    const int64_t cols = hw->ne[0], rows = hw->ne[1];
    float *y = malloc((size_t)(rows * n_tok) * sizeof(float));
    float *deq = malloc((size_t)cols * sizeof(float));
    double worst = -1;
    if (!y || !deq ||
        g3_vk_buffer_download(b->ctx, b->y, 0, y, (uint64_t)(rows * n_tok) * 4, err) != G3_OK)
        goto out;
    worst = 0;
    for (int s = 0; s < 64; s++) {
        const int64_t r = (int64_t)(rng % (uint64_t)rows), t = (int64_t)((rng >> 32) % n_tok);
        rnd();
        g3_dequantize_row(hw->type, (const uint8_t *)hw->data + (uint64_t)r * hw->row_bytes,
                          deq, cols);
        double ref = 0, mag = 0;
        for (int64_t c = 0; c < cols; c++) {
            ref += (double)deq[c] * x[t * cols + c];
            mag += fabs((double)deq[c] * x[t * cols + c]);
        }
        const double e = fabs(y[t * rows + r] - ref) / (1e-5 + 1e-6 * mag);
        worst = isnan(e) ? 1e30 : G3_MAX(worst, e);
    }
out:
    free(y);
    free(deq);
    return worst;
}

int main(int argc, char **argv)
{
    const char *types = "q8_0,q4_0,q5_0,q4_K,q6_K", *shapes = NULL;
    uint32_t n_tok = 512;
    int reps = 3;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--types"))
            types = argv[i + 1];
        else if (!strcmp(argv[i], "--tokens"))
            n_tok = (uint32_t)atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--reps"))
            reps = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--shapes"))
            shapes = argv[i + 1];
        else {
            fprintf(stderr, "usage: %s [--types LIST] [--tokens N] [--reps N] [--shapes "
                            "CxR,...]\n", argv[0]);
            return 2;
        }
    }
    if (n_tok < 1 || reps < 1)
        return 2;
    g3_err err = {0};
    bench_ctx b = {0};
    g3_vk_matvec *mv = NULL;
    if (g3_vk_context_create(NULL, &b.ctx, &err) != G3_OK) {
        fprintf(stderr, "bench_matmul: %s\n", err.msg);
        return 1;
    }
    const g3_vk_matmul_options mo = {.mode = (g3_vk_matmul_mode)env_u32("G3_MM_MODE"),
                                     .rows = env_u32("G3_MM_ROWS"),
                                     .tokens = env_u32("G3_MM_TOKENS"),
                                     .wg_size = env_u32("G3_MM_WG")};
    const g3_vk_matvec_options vo = {.layout = (g3_vk_matvec_layout)env_u32("G3_MATVEC_LAYOUT")};
    if (g3_vk_cmd_create(b.ctx, &b.cmd, &err) != G3_OK ||
        g3_vk_matvec_create(b.ctx, &vo, &mv, &err) != G3_OK ||
        g3_vk_matmul_create(b.ctx, &mo, &b.mm, &err) != G3_OK ||
        g3_vk_buffer_create(b.ctx, 2048ull * 4 * n_tok, G3_VK_MEMORY_DEVICE, "bench x", &b.x,
                            &err) != G3_OK ||
        g3_vk_buffer_create(b.ctx, 2048ull * 4 * n_tok, G3_VK_MEMORY_DEVICE, "bench y", &b.y,
                            &err) != G3_OK) {
        fprintf(stderr, "bench_matmul: %s\n", err.msg);
        return 1;
    }
    const g3_vk_matmul_options o = g3_vk_matmul_get_options(b.mm);
    printf("device %s; matmul %s: %u rows x %u tokens per %s, workgroup %u\n",
           g3_vk_context_device(b.ctx)->name, o.mode == G3_VK_MATMUL_LANE ? "lane" : "tile",
           o.rows, o.tokens, o.mode == G3_VK_MATMUL_LANE ? "invocation" : "tile", o.wg_size);
    printf("| type   | cols x rows | layout  | tokens | matmul ms | GFLOP/s | GFLOP/cpu-s | "
           "matvec ms | GFLOP/s | GFLOP/cpu-s | speedup |\n");
    float *x = malloc(2048ull * n_tok * sizeof(float));
    if (!x)
        return 1;
    for (uint64_t i = 0; i < 2048ull * n_tok; i++)
        x[i] = rnd();
    char tbuf[256];
    snprintf(tbuf, sizeof(tbuf), "%s", types);
    for (char *tn = strtok(tbuf, ","); tn; tn = strtok(NULL, ",")) {
        const int type = g3_type_from_name(tn);
        if (type < 0 || !g3_vk_matmul_type_supported((uint32_t)type)) {
            fprintf(stderr, "bench_matmul: unknown type %s\n", tn);
            continue;
        }
        const bool k = g3_type_get((uint32_t)type)->block_size == 256;
        char sbuf[256];
        snprintf(sbuf, sizeof(sbuf), "%s", shapes ? shapes : k ? "2048x640,1024x640"
                                                                 : "640x2048,2048x640");
        char *save = NULL;
        for (char *sh = strtok_r(sbuf, ",", &save); sh; sh = strtok_r(NULL, ",", &save)) {
            int64_t cols = 0, rows = 0;
            if (sscanf(sh, "%" SCNd64 "x%" SCNd64, &cols, &rows) != 2 || cols < 1 || rows < 1 ||
                cols > 2048 || rows > 2048)
                continue;
            uint64_t rb = 0;
            uint8_t *data = make_weight((uint32_t)type, cols, rows, &rb);
            if (!data)
                continue;
            const g3_weight hw = {.name = tn, .type = (uint32_t)type, .ne = {cols, rows},
                                  .row_bytes = rb, .data = data};
            g3_vk_weight *w = NULL;
            if (g3_vk_weight_upload(mv, &hw, NULL, NULL, &w, &err) != G3_OK ||
                g3_vk_buffer_upload(b.ctx, b.x, 0, x, (uint64_t)cols * 4 * n_tok, &err) !=
                    G3_OK) {
                fprintf(stderr, "bench_matmul: %s\n", err.msg);
                return 1;
            }
            const double tp = g3_time_s();
            if (g3_vk_matmul_prepare(b.mm, w, &err) != G3_OK) {
                fprintf(stderr, "bench_matmul: %s\n", err.msg);
                return 1;
            }
            const double prep = g3_time_s() - tp;
            /* The first product includes the pipeline's compilation (lavapipe compiles
             * at the first dispatch): reported apart. */
            double c1 = 0;
            const double tf = g3_time_s();
            time_products(&b, w, true, n_tok, 1, &c1, &err);
            const double first = g3_time_s() - tf;
            const double flop = 2.0 * (double)cols * (double)rows * n_tok;
            double tm = 1e30, tv = 1e30, cm = 0, cv = 0;
            /* Interleaved: matmul, matvec, matmul, matvec. */
            for (int round = 0; round < 2; round++) {
                double c = 0, t = time_products(&b, w, true, n_tok, reps, &c, &err);
                if (t < tm)
                    tm = t, cm = c;
                const double ok = round ? 0 : check(&b, &hw, x, n_tok, &err);
                if (ok < 0 || ok > 1)
                    printf("  %s %s: matmul WRONG (%.3g)\n", tn, sh, ok);
                t = time_products(&b, w, false, n_tok, 1, &c, &err);
                if (t < tv)
                    tv = t, cv = c;
                const double okv = round ? 0 : check(&b, &hw, x, n_tok, &err);
                if (okv < 0 || okv > 1)
                    printf("  %s %s: matvec WRONG (%.3g)\n", tn, sh, okv);
            }
            if (err.status != G3_OK) {
                fprintf(stderr, "bench_matmul: %s\n", err.msg);
                return 1;
            }
            printf("| %-6s | %4lld x %4lld | %-7s | %6u | %9.2f | %7.2f | %11.2f | %9.2f | "
                   "%7.2f | %11.2f | %6.2fx |\n", tn, (long long)cols, (long long)rows,
                   g3_vk_weight_get_info(w).streams ? "streams" : "gguf", n_tok, tm * 1e3,
                   flop / tm * 1e-9, flop / cm * 1e-9, tv * 1e3, flop / tv * 1e-9,
                   flop / cv * 1e-9, tv / tm);
            if (getenv("G3_MM_FIRST"))
                printf("  pipelines %.2f s, first 5 matmuls %.2f s\n", prep, first);
            fflush(stdout);
            g3_vk_weight_free(w);
            free(data);
        }
    }
    free(x);
    g3_vk_buffer_free(b.ctx, b.x);
    g3_vk_buffer_free(b.ctx, b.y);
    g3_vk_matmul_free(b.mm);
    g3_vk_matvec_free(mv);
    g3_vk_cmd_free(b.cmd);
    const uint32_t nval = g3_vk_validation_message_count(b.ctx);
    g3_vk_context_free(b.ctx);
    return nval ? 1 : 0;
}
