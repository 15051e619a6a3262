/* test_vk_matmul.c (label gpu): the prompt-processing matrix products (vk_matmul.h)
 * against the exact CPU reference, under the validation layer with synchronization
 * validation on.
 *
 * Reference: each weight row dequantized exactly (host/quant.c), times x in double;
 * each output checked by NMSE and per element against atol = K_EPS * eps * sum_c
 * |w_c x_c| (the fp32 accumulation bound), NaN failing, with sentinel guard words
 * before and after the output untouched.
 *
 * 1. the device's default kernel (lane on lavapipe, tile on GPUs), on the weights of
 *    the default matvec layout (STREAMS for Q8_0 / Q4_0 / Q5_0 / Q4_1 / Q5_1 on lavapipe):
 *    all 15 types with 1, 7 and 64 tokens on a Gemma 3 270M shape (640 -> 256; the
 *    K-quants 1024 -> 256), x and y at unaligned offsets on odd cases;
 *    the real shapes 640 -> 1024, 1024 -> 640, 640 -> 2048, 2048 -> 640 (K-quants:
 *    1024 -> 640, 2048 -> 640) with 64 tokens on a few types, 512 tokens on Q8_0,
 *    Q4_0, Q5_0, Q4_K, Q6_K, F16;
 *    awkward shapes: rows not a multiple of the rows of a workgroup (37, 333), tokens
 *    not a multiple of a token group (13), float rows of 67 / 641 / 33 columns with x
 *    at 4-byte offsets, an odd number of 32-column groups (96 and 160 columns), rows
 *    that are not a multiple of 4 bytes (Q5_0 x 96, IQ4_NL x 160);
 * 2. the STREAMS types in the other layout (GGUF where the device takes STREAMS);
 * 3. forced pieces (a small max_piece_bytes for the upload), a folded grid
 *    (max_groups_x 2), small rows / tokens per workgroup (the lane kernel in 1.5
 *    subgroups, so without its x shuffles); the lane kernel with x in a
 *    small uniform buffer (token chunks of 3, and rows too wide for it taken by the
 *    tile kernel); the 262144 x 640 Q8_0 LM head in 16 MiB pieces with 3 tokens;
 * 4. the other kernel (tile on lavapipe: the GPU path) on every type with 7 and 33
 *    tokens, with small forced tiles and a folded grid;
 * 5. the error paths (misaligned x, no tokens, a kernel set of another context);
 * 6. zero validation messages at the end.
 * Exit 77 only when no Vulkan device exists at all. */
#include <float.h>
#include <inttypes.h>
#include <math.h>

#include "quant.h"
#include "test.h"
#include "vk.h"
#include "vk_matmul.h"
#include "vk_matvec.h"

#define GUARD 64
#define SENTINEL 0x7fc0deadu

static g3_vk_context *ctx;
static g3_vk_cmd *cmd;

#include "test_weights.h"

/* ---- one product --------------------------------------------------------------------- */

/* Uploads x at byte x_off of a fresh buffer and y's sentinel-filled buffer, records
 * the product with y at element y_lead, and returns y (n_tok * rows floats, malloc'd)
 * after checking the guard words. NULL when something failed (already reported). */
static float *gpu_matmul(g3_vk_matmul *mm, const g3_vk_weight *vw, const float *x, int n_tok,
                         uint64_t x_off, uint32_t y_lead)
{
    const g3_vk_weight_info in = g3_vk_weight_get_info(vw);
    const uint64_t nx = (uint64_t)n_tok * (uint64_t)in.cols;
    const uint64_t ny = (uint64_t)n_tok * (uint64_t)in.rows;
    const uint64_t ntot = y_lead + ny + GUARD;
    g3_err err = {0};
    g3_vk_buffer *bx = NULL, *by = NULL;
    uint32_t *host = malloc(ntot * 4);
    float *y = NULL;
    G3_ASSERT(host);
    for (uint64_t i = 0; i < ntot; i++)
        host[i] = SENTINEL;
    if (g3_vk_buffer_create(ctx, x_off + nx * 4, G3_VK_MEMORY_DEVICE, "mm x", &bx, &err) ||
        g3_vk_buffer_create(ctx, ntot * 4, G3_VK_MEMORY_DEVICE, "mm y", &by, &err) ||
        g3_vk_buffer_upload(ctx, bx, x_off, x, nx * 4, &err) ||
        g3_vk_buffer_upload(ctx, by, 0, host, ntot * 4, &err)) {
        CHECK(0, "%s: buffers: %s", in.name, err.msg);
        goto out;
    }
    g3_vk_cmd_begin(cmd);
    g3_vk_matmul_record(cmd, mm, vw, bx, x_off, by, (uint64_t)y_lead * 4, (uint32_t)n_tok);
    if (g3_vk_cmd_submit_wait(cmd, &err) != G3_OK ||
        g3_vk_buffer_download(ctx, by, 0, host, ntot * 4, &err) != G3_OK) {
        CHECK(0, "%s: run: %s", in.name, err.msg);
        goto out;
    }
    int bad_guard = 0;
    for (uint64_t i = 0; i < y_lead; i++)
        bad_guard += host[i] != SENTINEL;
    for (uint64_t i = y_lead + ny; i < ntot; i++)
        bad_guard += host[i] != SENTINEL;
    CHECK(bad_guard == 0, "%s: %d guard words overwritten", in.name, bad_guard);
    y = malloc(ny * sizeof(float));
    G3_ASSERT(y);
    memcpy(y, host + y_lead, ny * sizeof(float));
out:
    free(host);
    g3_vk_buffer_free(ctx, bx);
    g3_vk_buffer_free(ctx, by);
    return y;
}

/* ref[t][r] = sum_c deq[r][c] x[t][c] in double, and sum_c |deq[r][c] x[t][c]|. */
static void reference(const host_weight *hw, const float *x, int n_tok, float *ref,
                      double *abs_sum)
{
    const int64_t cols = hw->w.ne[0], rows = hw->w.ne[1];
    for (int64_t r = 0; r < rows; r++) {
        const float *w = hw->deq + r * cols;
        for (int t = 0; t < n_tok; t++) {
            const float *xt = x + (int64_t)t * cols;
            double s = 0.0, a = 0.0;
            for (int64_t c = 0; c < cols; c++) {
                const double p = (double)w[c] * xt[c];
                s += p;
                a += fabs(p);
            }
            ref[(int64_t)t * rows + r] = (float)s;
            abs_sum[(int64_t)t * rows + r] = a;
        }
    }
}


/* Uploads hw through mv, runs mm for each token count and checks. variant picks the
 * x / y offsets: odd variants put x 4 (float types) or 16 bytes in and y one element
 * past an aligned start, so the aligned-down bindings are exercised. */
static void run_case(g3_vk_matvec *mv, g3_vk_matmul *mm, const host_weight *hw,
                     const int *toks, int n_toks, int variant)
{
    const g3_weight *w = &hw->w;
    g3_err err = {0};
    g3_vk_weight *vw = NULL;
    char what[192];
    if (g3_vk_weight_upload(mv, w, NULL, NULL, &vw, &err) != G3_OK) {
        CHECK(0, "upload %s: %s", w->name, err.msg);
        return;
    }
    const bool flt = g3_type_get(w->type)->block_size == 1;
    for (int k = 0; k < n_toks; k++) {
        const int nt = toks[k];
        const int64_t nx = nt * w->ne[0], ny = nt * w->ne[1];
        float *x = malloc((size_t)nx * sizeof(float)), *ref = malloc((size_t)ny * sizeof(float));
        double *as = malloc((size_t)ny * sizeof(double));
        G3_ASSERT(x && ref && as);
        for (int64_t i = 0; i < nx; i++)
            x[i] = rng_f();
        reference(hw, x, nt, ref, as);
        const bool odd = (variant + k) % 2;
        const uint64_t x_off = odd ? (flt ? 4 : 16) : 0;
        float *got = gpu_matmul(mm, vw, x, nt, x_off, GUARD + (uint32_t)odd);
        const g3_vk_weight_info in = g3_vk_weight_get_info(vw);
        snprintf(what, sizeof(what), "%s %s %lldx%lld (cols x rows) T=%d%s", w->name,
                 in.streams ? "streams" : "gguf", (long long)w->ne[0], (long long)w->ne[1],
                 nt, odd ? " (x, y unaligned)" : "");
        if (got)
            check_close(what, ref, got, as, ny);
        free(got);
        free(x);
        free(ref);
        free(as);
    }
    g3_vk_weight_free(vw);
}

/* ---- cases ----------------------------------------------------------------------------- */

static const uint32_t all_types[] = {
    G3_TYPE_F32,  G3_TYPE_F16,  G3_TYPE_BF16, G3_TYPE_Q8_0, G3_TYPE_Q4_0,
    G3_TYPE_Q4_1, G3_TYPE_Q5_0, G3_TYPE_Q5_1, G3_TYPE_IQ4_NL, G3_TYPE_Q2_K,
    G3_TYPE_Q3_K, G3_TYPE_Q4_K, G3_TYPE_Q5_K, G3_TYPE_Q6_K, G3_TYPE_IQ4_XS,
};

typedef struct mm_case {
    uint32_t type;
    int64_t cols, rows;
    int toks[3];
} mm_case;

static int run_cases(g3_vk_matvec *mv, g3_vk_matmul *mm, const mm_case *cs, size_t n,
                     int variant)
{
    for (size_t i = 0; i < n; i++) {
        host_weight hw;
        if (!make_weight(&hw, cs[i].type, cs[i].cols, cs[i].rows, g3_type_name(cs[i].type),
                         true)) {
            CHECK(0, "weight %s %lld x %lld", g3_type_name(cs[i].type), (long long)cs[i].cols,
                  (long long)cs[i].rows);
            continue;
        }
        int nt = 0;
        while (nt < 3 && cs[i].toks[nt])
            nt++;
        run_case(mv, mm, &hw, cs[i].toks, nt, variant++);
        free_weight(&hw);
    }
    return variant;
}

/* 1. every type on one shape; real shapes; awkward shapes. */
static void test_default(g3_vk_matvec *mv, g3_vk_matmul *mm)
{
    int variant = 0;
    double t0 = g3_time_s();
    for (size_t ti = 0; ti < G3_ARRAY_LEN(all_types); ti++) {
        const uint32_t type = all_types[ti];
        const bool k = g3_type_get(type)->block_size == 256;
        const mm_case c = {type, k ? 1024 : 640, 256, {1, 7, 64}};
        variant = run_cases(mv, mm, &c, 1, variant);
    }
    printf("all types, 1/7/64 tokens: %.1f s\n", g3_time_s() - t0);
    t0 = g3_time_s();
    static const mm_case real[] = {
        {G3_TYPE_Q8_0, 640, 2048, {512, 0}}, {G3_TYPE_Q8_0, 2048, 640, {64, 0}},
        {G3_TYPE_Q4_0, 2048, 640, {512, 0}}, {G3_TYPE_Q4_0, 640, 1024, {64, 0}},
        {G3_TYPE_Q5_0, 640, 1024, {512, 0}}, {G3_TYPE_Q5_0, 640, 2048, {7, 0}},
        {G3_TYPE_Q4_K, 2048, 640, {512, 0}}, {G3_TYPE_Q4_K, 1024, 640, {64, 0}},
        {G3_TYPE_Q6_K, 1024, 640, {512, 0}}, {G3_TYPE_Q6_K, 2048, 640, {7, 0}},
        {G3_TYPE_F16, 1024, 640, {512, 0}},  {G3_TYPE_BF16, 640, 1024, {7, 0}},
        {G3_TYPE_IQ4_NL, 1024, 640, {64, 0}}, {G3_TYPE_Q5_K, 2048, 640, {64, 0}},
    };
    variant = run_cases(mv, mm, real, G3_ARRAY_LEN(real), variant);
    printf("real shapes, 7/64/512 tokens: %.1f s\n", g3_time_s() - t0);
    t0 = g3_time_s();
    static const mm_case awkward[] = {
        {G3_TYPE_Q8_0, 640, 37, {13, 1}},    {G3_TYPE_Q4_0, 96, 333, {13, 2}},
        {G3_TYPE_Q5_1, 160, 37, {13, 3}},    {G3_TYPE_Q4_K, 1024, 333, {13, 0}},
        {G3_TYPE_Q3_K, 256, 5, {13, 0}},     {G3_TYPE_F32, 67, 333, {13, 1}},
        {G3_TYPE_F16, 641, 37, {13, 2}},     {G3_TYPE_BF16, 33, 5, {13, 0}},
        {G3_TYPE_F32, 1, 3, {5, 0}},         {G3_TYPE_IQ4_XS, 256, 1, {13, 0}},
        /* rows of 66 / 90 bytes: the lane kernel's word-by-word path (not ROW4) */
        {G3_TYPE_Q5_0, 96, 37, {13, 0}},     {G3_TYPE_IQ4_NL, 160, 5, {13, 0}},
    };
    run_cases(mv, mm, awkward, G3_ARRAY_LEN(awkward), variant);
    printf("awkward shapes: %.1f s\n", g3_time_s() - t0);
}

/* 2. The STREAMS types (Q8_0, Q4_0, Q5_0, Q4_1, Q5_1) in the other layout. */
static void test_other_layout(g3_vk_matmul *mm, g3_vk_matvec_layout layout)
{
    const g3_vk_matvec_options o = {.mode = G3_VK_MATVEC_LANE, .layout = layout};
    g3_vk_matvec *mv = NULL;
    g3_err err = {0};
    if (g3_vk_matvec_create(ctx, &o, &mv, &err) != G3_OK) {
        printf("layout %d not available here: %s\n", (int)layout, err.msg);
        return;
    }
    static const mm_case cs[] = {
        {G3_TYPE_Q8_0, 640, 1024, {7, 64, 0}}, {G3_TYPE_Q4_0, 2048, 640, {7, 64, 0}},
        {G3_TYPE_Q8_0, 96, 37, {13, 0}},       {G3_TYPE_Q4_0, 160, 333, {1, 13, 0}},
        {G3_TYPE_Q5_0, 640, 256, {7, 64, 0}},  {G3_TYPE_Q5_0, 96, 37, {1, 13, 0}},
        {G3_TYPE_Q4_1, 640, 256, {7, 64, 0}},  {G3_TYPE_Q5_1, 96, 37, {1, 13, 0}},
    };
    const double t0 = g3_time_s();
    run_cases(mv, mm, cs, G3_ARRAY_LEN(cs), 0);
    printf("the STREAMS types in the %s layout: %.1f s\n",
           layout == G3_VK_MATVEC_LAYOUT_GGUF ? "GGUF" : "streams", g3_time_s() - t0);
    g3_vk_matvec_free(mv);
}

/* 3. pieces, folded grid, small workgroups; the LM head in pieces. */
static void test_split_fold(g3_vk_matmul_mode mode)
{
    const g3_vk_device_info *d = g3_vk_context_device(ctx);
    g3_err err = {0};
    g3_vk_matvec *mv = NULL;
    g3_vk_matmul *mm = NULL;
    /* ~58 rows of 680 bytes per piece: several pieces of every weight below. */
    const g3_vk_matvec_options vo = {.max_piece_bytes = 40000};
    const g3_vk_matmul_options mo =
        mode == G3_VK_MATMUL_LANE
            /* 1.5 subgroups: partial subgroups, so x is read without shuffles */
            ? (g3_vk_matmul_options){.mode = mode, .rows = 3, .tokens = 5,
                                     .wg_size = d->subgroup_size + d->subgroup_size / 2,
                                     .max_groups_x = 2}
            : (g3_vk_matmul_options){.mode = mode, .rows = 16, .tokens = 8, .tile_m = 2,
                                     .tile_n = 2, .max_groups_x = 2};
    REQUIRE_VOID(g3_vk_matvec_create(ctx, &vo, &mv, &err) == G3_OK);
    const g3_status st = g3_vk_matmul_create(ctx, &mo, &mm, &err);
    if (st != G3_OK) {
        /* The lane kernel needs what some GPUs lack; the tile kernel runs anywhere. */
        if (mode == G3_VK_MATMUL_LANE && st == G3_ERR_UNSUPPORTED)
            printf("lane kernel not available here: %s\n", err.msg);
        else
            CHECK(0, "forced split/fold: %s", err.msg);
        g3_vk_matvec_free(mv);
        return;
    }
    static const mm_case cs[] = {
        {G3_TYPE_Q8_0, 640, 1000, {7, 13, 0}}, {G3_TYPE_Q4_K, 1024, 333, {13, 0}},
        {G3_TYPE_F16, 67, 700, {1, 13, 0}},    {G3_TYPE_Q6_K, 2048, 41, {13, 0}},
    };
    const double t0 = g3_time_s();
    run_cases(mv, mm, cs, G3_ARRAY_LEN(cs), 1);
    printf("%s kernel, forced pieces, folded grid, small groups: %.1f s\n",
           mode == G3_VK_MATMUL_LANE ? "lane" : "tile", g3_time_s() - t0);
    g3_vk_matmul_free(mm);
    g3_vk_matvec_free(mv);
}

/* Lane kernel with a small uniform buffer for x: token chunks of 3 tokens on 640
 * columns, and the tile kernel for rows wider than the buffer. */
static void test_small_x(g3_vk_matvec *mv)
{
    const g3_vk_matmul_options mo = {.mode = G3_VK_MATMUL_LANE, .max_x_bytes = 3 * 640 * 4 + 12};
    g3_vk_matmul *mm = NULL;
    g3_err err = {0};
    const g3_status st = g3_vk_matmul_create(ctx, &mo, &mm, &err);
    if (st != G3_OK) {
        CHECK(st == G3_ERR_UNSUPPORTED, "lane kernel, small x: %s", err.msg);
        printf("lane kernel not available here: %s\n", err.msg);
        return;
    }
    static const mm_case cs[] = {
        {G3_TYPE_Q8_0, 640, 256, {13, 0}},  {G3_TYPE_Q4_K, 1024, 64, {5, 0}},
        {G3_TYPE_F16, 641, 37, {7, 0}},     {G3_TYPE_Q5_0, 2048, 70, {7, 0}},
    };
    const double t0 = g3_time_s();
    run_cases(mv, mm, cs, G3_ARRAY_LEN(cs), 0);
    printf("lane kernel, x in %u bytes (token chunks, tile kernel past 1 token): %.1f s\n",
           g3_vk_matmul_get_options(mm).max_x_bytes, g3_time_s() - t0);
    g3_vk_matmul_free(mm);
}

static void test_lm_head(g3_vk_matmul *mm)
{
    const g3_vk_matvec_options vo = {.max_piece_bytes = 16u << 20};
    g3_vk_matvec *mv = NULL;
    g3_err err = {0};
    if (g3_vk_matvec_create(ctx, &vo, &mv, &err) != G3_OK) {
        CHECK(0, "matvec: %s", err.msg);
        return;
    }
    const double t0 = g3_time_s();
    host_weight hw;
    if (make_weight(&hw, G3_TYPE_Q8_0, 640, 262144, "token_embd.weight", true)) {
        g3_vk_weight *vw = NULL;
        if (g3_vk_weight_upload(mv, &hw.w, NULL, NULL, &vw, &err) == G3_OK) {
            const g3_vk_weight_info in = g3_vk_weight_get_info(vw);
            CHECK(in.n_pieces >= 8, "LM head in %u pieces of <= 16 MiB", in.n_pieces);
            printf("LM head 640 x 262144: %u pieces of %u rows\n", in.n_pieces,
                   in.rows_per_piece);
            g3_vk_weight_free(vw);
        }
        static const int toks[] = {3};
        run_case(mv, mm, &hw, toks, 1, 1);
        free_weight(&hw);
    }
    printf("LM head, 3 tokens: %.1f s\n", g3_time_s() - t0);
    g3_vk_matvec_free(mv);
}

/* 4. the other kernel on every type. */
static void test_other_kernel(g3_vk_matvec *mv, g3_vk_matmul_mode mode)
{
    g3_vk_matmul *mm = NULL;
    g3_err err = {0};
    const g3_vk_matmul_options mo = {.mode = mode};
    if (g3_vk_matmul_create(ctx, &mo, &mm, &err) != G3_OK) {
        printf("%s kernel not available here: %s\n",
               mode == G3_VK_MATMUL_LANE ? "lane" : "tile", err.msg);
        return;
    }
    const double t0 = g3_time_s();
    int variant = 0;
    for (size_t ti = 0; ti < G3_ARRAY_LEN(all_types); ti++) {
        const uint32_t type = all_types[ti];
        const bool k = g3_type_get(type)->block_size == 256;
        const mm_case c = {type, k ? 256 : 96, 70, {7, 33, 0}};
        variant = run_cases(mv, mm, &c, 1, variant);
    }
    printf("%s kernel, every type: %.1f s\n", mode == G3_VK_MATMUL_LANE ? "lane" : "tile",
           g3_time_s() - t0);
    g3_vk_matmul_free(mm);
}

/* 5. errors are kept in the recorder until submit. */
static void test_errors(g3_vk_matvec *mv, g3_vk_matmul *mm)
{
    host_weight hw;
    REQUIRE_VOID(make_weight(&hw, G3_TYPE_Q8_0, 64, 2, "bad", true));
    g3_err err = {0};
    g3_vk_weight *vw = NULL;
    g3_vk_buffer *buf = NULL;
    if (g3_vk_weight_upload(mv, &hw.w, NULL, NULL, &vw, &err) == G3_OK &&
        g3_vk_buffer_create(ctx, 4096, G3_VK_MEMORY_DEVICE, "bad x/y", &buf, &err) == G3_OK) {
        g3_vk_cmd_begin(cmd);
        CHECK(g3_vk_matmul_record(cmd, mm, vw, buf, 8, buf, 1024, 2) == G3_ERR_INVALID_ARG,
              "x at byte 8 accepted for Q8_0");
        CHECK(g3_vk_matmul_record(cmd, mm, vw, buf, 0, buf, 1024, 2) == G3_ERR_INVALID_ARG,
              "a record after a failed one must keep the failure");
        err = (g3_err){0};
        CHECK(g3_vk_cmd_submit_wait(cmd, &err) == G3_ERR_INVALID_ARG && strstr(err.msg, "bad"),
              "submit: %s", err.msg);
        g3_vk_cmd_begin(cmd);
        CHECK(g3_vk_matmul_record(cmd, mm, vw, buf, 0, buf, 1024, 0) == G3_ERR_INVALID_ARG,
              "0 tokens accepted");
        err = (g3_err){0};
        CHECK(g3_vk_cmd_submit_wait(cmd, &err) == G3_ERR_INVALID_ARG, "submit: %s", err.msg);
        g3_vk_cmd_begin(cmd);
        CHECK(g3_vk_matmul_record(cmd, mm, vw, buf, 0, buf, 4096 - 8, 2) == G3_ERR_INVALID_ARG,
              "y past the buffer accepted");
        err = (g3_err){0};
        CHECK(g3_vk_cmd_submit_wait(cmd, &err) == G3_ERR_INVALID_ARG, "submit: %s", err.msg);
    }
    CHECK(vw && buf, "error setup: %s", err.msg);
    CHECK(!g3_vk_matmul_type_supported(G3_TYPE_Q8_1) &&
              g3_vk_matmul_type_supported(G3_TYPE_IQ4_XS), "type_supported");
    g3_vk_buffer_free(ctx, buf);
    g3_vk_weight_free(vw);
    free_weight(&hw);
}

int main(void)
{
    g3_err err = {0};
    g3_status st = g3_vk_context_create(NULL, &ctx, &err);
    if (st == G3_ERR_NO_DEVICE) {
        printf("SKIPPED: no Vulkan device: %s\n", err.msg);
        return TEST_SKIP;
    }
    REQUIRE(st == G3_OK, "context: %s", err.msg);
    const g3_vk_device_info *d = g3_vk_context_device(ctx);
    printf("device %s, validation %s, subgroup %u, shared memory %u, storage range %" PRIu64
           " MiB\n", d->name, g3_vk_validation_enabled(ctx) ? "on" : "OFF", d->subgroup_size,
           d->max_compute_shared_memory_size, d->max_storage_buffer_range >> 20);
    REQUIRE(g3_vk_cmd_create(ctx, &cmd, &err) == G3_OK, "cmd: %s", err.msg);
    g3_vk_matvec *mv = NULL;
    g3_vk_matmul *mm = NULL;
    REQUIRE(g3_vk_matvec_create(ctx, NULL, &mv, &err) == G3_OK, "matvec: %s", err.msg);
    REQUIRE(g3_vk_matmul_create(ctx, NULL, &mm, &err) == G3_OK, "matmul: %s", err.msg);
    const g3_vk_matmul_options o = g3_vk_matmul_get_options(mm);
    const bool lane = o.mode == G3_VK_MATMUL_LANE;
    printf("matmul: %s kernel, %u rows x %u tokens per %s, workgroup %u; matvec layout %s\n",
           lane ? "lane" : "tile", o.rows, o.tokens, lane ? "invocation" : "tile", o.wg_size,
           g3_vk_matvec_get_options(mv).layout == G3_VK_MATVEC_LAYOUT_STREAMS ? "streams"
                                                                              : "GGUF");
    const double t0 = g3_time_s();
    test_default(mv, mm);
    test_other_layout(mm, g3_vk_matvec_get_options(mv).layout == G3_VK_MATVEC_LAYOUT_STREAMS
                              ? G3_VK_MATVEC_LAYOUT_GGUF
                              : G3_VK_MATVEC_LAYOUT_STREAMS);
    test_split_fold(G3_VK_MATMUL_LANE);
    test_split_fold(G3_VK_MATMUL_TILE);
    test_small_x(mv);
    test_lm_head(mm);
    test_other_kernel(mv, lane ? G3_VK_MATMUL_TILE : G3_VK_MATMUL_LANE);
    test_errors(mv, mm);
    printf("worst error: %.3g eps * sum|w x| (bound %.0f); %.1f s\n", worst_ratio, K_EPS,
           g3_time_s() - t0);

    g3_vk_matmul_free(mm);
    g3_vk_matvec_free(mv);
    g3_vk_cmd_free(cmd);
    CHECK(g3_vk_validation_message_count(ctx) == 0, "%u validation message(s), last: %s",
          g3_vk_validation_message_count(ctx), g3_vk_validation_last_message(ctx));
    g3_vk_context_free(ctx);
    return test_finish("test_vk_matmul");
}
