/* test_vk_matvec.c (label gpu): the Vulkan matrix-vector kernels against the exact
 * CPU reference, under the validation layer with synchronization validation on.
 *
 * 1. llama.cpp's quant-vectors.gguf (shared/reference): for every block type, the GPU
 *    y of `<t>.q` times `<t>.x` matches `<t>.y` with ||y - y_ref|| / ||y_ref|| < 1e-5
 *    (skipped, with a message, when ../shared is missing);
 * 2. all 15 weight types against g3_ref_matvec on the Gemma 3 270M shapes (640->1024,
 *    640->256, 1024->640, 640->2048, 2048->640) and awkward ones (1 row, 33 rows, rows
 *    not a multiple of the workgroup's, odd columns for the float types), with 1, 3
 *    and 5 tokens (5 > G3_MATVEC_MAX_TOKENS: two token chunks), x and y at unaligned
 *    offsets; each output checked by NMSE and per element against
 *    atol = K * eps * sum_c |w_c x_c| (the fp32 accumulation bound), NaN failing, with
 *    sentinel guard words before and after the output untouched;
 *    in the device's default mode, and on two shapes per type in the other mode
 *    (lane on lavapipe by default, group on GPUs);
 * 3. in both modes, a kernel set with small forced pieces, a folded grid, 3 rows per
 *    group (invocation) and a workgroup that is not a multiple of the subgroup size;
 *    the error paths (type without kernel, bad shape, misaligned x kept until submit);
 * 4. the 262144 x 640 Q8_0 LM head, which must be split where maxStorageBufferRange is
 *    128 MiB (lavapipe), uploaded with a progress callback;
 * 5. zero validation messages at the end.
 * G3_MATVEC_BENCH=1 also prints GB/s per type (never asserted; "only" skips the
 * checks; G3_MATVEC_BENCH_TYPES=q8_0,q4_K and G3_MATVEC_BENCH_ROWS=N narrow it), and
 * G3_MATVEC_MODE (1 group, 2 lane), G3_MATVEC_LAYOUT (1 GGUF, 2 streams), G3_MATVEC_WG,
 * G3_MATVEC_ROWS override the kernel
 * defaults, for tuning. Exit 77 only when no Vulkan device exists at all. */
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <time.h>

#include "g3_shared.h"
#include "gguf.h"
#include "quant.h"
#include "ref_ops.h"
#include "test.h"
#include "vk.h"
#include "vk_matvec.h"
#include "vk_ops.h"

#define GUARD 64
#define SENTINEL 0x7fc0deadu

static g3_vk_context *ctx;
static g3_vk_cmd *cmd;

/* ---- deterministic random numbers ------------------------------------------------- */

#include "test_weights.h"

/* ---- running one product ----------------------------------------------------------- */

/* Uploads x at byte x_off of a fresh buffer and y's sentinel-filled buffer, records
 * the product with y at element y_lead, and returns y (n_tok * rows floats, malloc'd)
 * after checking the guard words. NULL when something failed (already reported). */
static float *gpu_matvec(const g3_vk_weight *vw, const float *x, int n_tok, uint64_t x_off,
                         uint32_t y_lead)
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
    if (g3_vk_buffer_create(ctx, x_off + nx * 4, G3_VK_MEMORY_DEVICE, "mv x", &bx, &err) ||
        g3_vk_buffer_create(ctx, ntot * 4, G3_VK_MEMORY_DEVICE, "mv y", &by, &err) ||
        g3_vk_buffer_upload(ctx, bx, x_off, x, nx * 4, &err) ||
        g3_vk_buffer_upload(ctx, by, 0, host, ntot * 4, &err)) {
        CHECK(0, "%s: buffers: %s", in.name, err.msg);
        goto out;
    }
    g3_vk_cmd_begin(cmd);
    g3_vk_matvec_record(cmd, vw, bx, x_off, by, (uint64_t)y_lead * 4, (uint32_t)n_tok);
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

/* sum_c |w_c x_c| for every (token, row), from the exactly dequantized rows. */
static double *abs_sums(const g3_weight *w, const float *x, int n_tok)
{
    const int64_t cols = w->ne[0], rows = w->ne[1];
    double *s = malloc((size_t)(rows * n_tok) * sizeof(double));
    float *deq = malloc((size_t)cols * sizeof(float));
    G3_ASSERT(s && deq);
    for (int64_t r = 0; r < rows; r++) {
        g3_dequantize_row(w->type, (const uint8_t *)w->data + (uint64_t)r * w->row_bytes, deq,
                          cols);
        for (int t = 0; t < n_tok; t++) {
            double a = 0.0;
            for (int64_t c = 0; c < cols; c++)
                a += fabs((double)deq[c] * x[(int64_t)t * cols + c]);
            s[(int64_t)t * rows + r] = a;
        }
    }
    free(deq);
    return s;
}


/* Uploads, runs for each token count and checks one weight. */
static void run_case(g3_vk_matvec *mv, const host_weight *hw, const int *toks, int n_toks,
                     int variant)
{
    const g3_weight *w = &hw->w;
    g3_err err = {0};
    g3_vk_weight *vw = NULL;
    char what[160];
    if (g3_vk_weight_upload(mv, w, NULL, NULL, &vw, &err) != G3_OK) {
        CHECK(0, "upload %s: %s", w->name, err.msg);
        return;
    }
    for (int k = 0; k < n_toks; k++) {
        const int nt = toks[k];
        const int64_t nx = nt * w->ne[0], ny = nt * w->ne[1];
        float *x = malloc((size_t)nx * sizeof(float)), *ref = malloc((size_t)ny * sizeof(float));
        G3_ASSERT(x && ref);
        for (int64_t i = 0; i < nx; i++)
            x[i] = rng_f();
        g3_ref_matvec(w, x, nt, ref, 0, w->ne[1]);
        /* Offsets on odd variants: x 12 bytes in for the float types, 16 for the
         * block types (their contract), y one element past an aligned start, so
         * the aligned-down bindings are exercised. */
        const uint64_t x_off = (variant + k) % 2 ? (w->type == G3_TYPE_F32 ||
                                                    w->type == G3_TYPE_F16 ||
                                                    w->type == G3_TYPE_BF16 ? 12 : 16) : 0;
        const uint32_t y_lead = GUARD + (uint32_t)((variant + k) % 2);
        float *got = gpu_matvec(vw, x, nt, x_off, y_lead);
        snprintf(what, sizeof(what), "%s %lldx%lld (cols x rows) T=%d", w->name,
                 (long long)w->ne[0], (long long)w->ne[1], nt);
        if (got) {
            double *as = abs_sums(w, x, nt);
            check_close(what, ref, got, as, ny);
            free(as);
        }
        free(got);
        free(x);
        free(ref);
    }
    g3_vk_weight_free(vw);
}

/* ---- 1. llama.cpp's vectors ---------------------------------------------------------- */

static void test_reference_vectors(g3_vk_matvec *mv, const char *shared)
{
    static const char *const types[] = {"f16",  "bf16", "q8_0", "q4_0", "q4_1",
                                        "q5_0", "q5_1", "iq4_nl", "q2_K", "q3_K",
                                        "q4_K", "q5_K", "q6_K", "iq4_xs"};
    char path[4096];
    snprintf(path, sizeof(path), "%s/reference/quant-vectors.gguf", shared);
    g3_err err = {0};
    g3_gguf *g = NULL;
    if (g3_gguf_open(path, &g, &err) != G3_OK) {
        CHECK(0, "%s: %s", path, err.msg);
        return;
    }
    for (size_t i = 0; i < G3_ARRAY_LEN(types); i++) {
        char nq[64], nx[64], ny[64];
        snprintf(nq, sizeof(nq), "%s.q", types[i]);
        snprintf(nx, sizeof(nx), "%s.x", types[i]);
        snprintf(ny, sizeof(ny), "%s.y", types[i]);
        const g3_gguf_tensor *tq = g3_gguf_find_tensor(g, nq), *tx = g3_gguf_find_tensor(g, nx),
                             *ty = g3_gguf_find_tensor(g, ny);
        if (!tq || !tx || !ty || tx->type != G3_TYPE_F32 || ty->type != G3_TYPE_F32 ||
            (int64_t)tx->n_elems != tq->ne[0] || (int64_t)ty->n_elems != tq->ne[1]) {
            CHECK(0, "%s: tensors %s/.x/.y missing or inconsistent", path, nq);
            continue;
        }
        const g3_weight w = {.name = nq, .type = tq->type, .ne = {tq->ne[0], tq->ne[1]},
                             .row_bytes = tq->n_bytes / (uint64_t)tq->ne[1], .data = tq->data};
        g3_vk_weight *vw = NULL;
        err = (g3_err){0};
        if (g3_vk_weight_upload(mv, &w, NULL, NULL, &vw, &err) != G3_OK) {
            CHECK(0, "upload %s: %s", nq, err.msg);
            continue;
        }
        float *got = gpu_matvec(vw, tx->data, 1, 0, GUARD);
        if (got) {
            const float *ref = ty->data;
            double num = 0.0, den = 0.0;
            for (int64_t r = 0; r < tq->ne[1]; r++) {
                num += ((double)got[r] - ref[r]) * ((double)got[r] - ref[r]);
                den += (double)ref[r] * ref[r];
            }
            const double rel = sqrt(num) / sqrt(den);
            printf("quant-vectors %-7s %4lld x %2lld: relative error %.3g\n", types[i],
                   (long long)tq->ne[0], (long long)tq->ne[1], rel);
            CHECK(rel < 1e-5, "%s: ||y - y_ref|| / ||y_ref|| = %.3g", nq, rel);
        }
        free(got);
        g3_vk_weight_free(vw);
    }
    g3_gguf_close(g);
}

/* ---- 2./3. shapes against the CPU reference ------------------------------------------ */

static const uint32_t all_types[] = {
    G3_TYPE_F32,  G3_TYPE_F16,  G3_TYPE_BF16, G3_TYPE_Q8_0, G3_TYPE_Q4_0,
    G3_TYPE_Q4_1, G3_TYPE_Q5_0, G3_TYPE_Q5_1, G3_TYPE_IQ4_NL, G3_TYPE_Q2_K,
    G3_TYPE_Q3_K, G3_TYPE_Q4_K, G3_TYPE_Q5_K, G3_TYPE_Q6_K, G3_TYPE_IQ4_XS,
};

typedef struct shape {
    int64_t cols, rows;
} shape;

/* The types of `only` (all 15 when NULL) on every shape (full), or on two shapes each
 * (the mode the device does not use by default, which other devices will). */
static void test_shapes_of(g3_vk_matvec *mv, bool full, const uint32_t *only, size_t n_only)
{
    /* Gemma 3 270M: q/gate/up (640 ->), k/v (640 -> 256), o (1024 -> 640), down
     * (2048 -> 640); then 1 row, 33 rows and 37 rows (not a multiple of the rows per
     * group). K-quants need columns in multiples of 256. */
    static const shape s32[] = {{640, 1024}, {640, 256}, {1024, 640}, {640, 2048},
                                {2048, 640}, {640, 1},   {640, 33},   {640, 37}};
    static const shape s256[] = {{1024, 640}, {2048, 640}, {1024, 256},
                                 {2048, 1},   {1024, 33},  {2048, 37}};
    static const shape sodd[] = {{67, 33}, {641, 5}, {1, 3}}; /* float types: any width */
    static const int toks13[] = {1, 3}, toks5[] = {5};
    int variant = 0;
    for (size_t ti = 0; ti < (only ? n_only : G3_ARRAY_LEN(all_types)); ti++) {
        const uint32_t type = only ? only[ti] : all_types[ti];
        const g3_type_info *info = g3_type_get(type);
        const shape *ss = info->block_size == 256 ? s256 : s32;
        const size_t ns = info->block_size == 256 ? G3_ARRAY_LEN(s256) : G3_ARRAY_LEN(s32);
        const double t0 = g3_time_s();
        for (size_t si = 0; si < ns + (info->block_size == 1 ? G3_ARRAY_LEN(sodd) : 0); si++) {
            if (!full && si != 1 && si != ns - 2)
                continue;
            const shape s = si < ns ? ss[si] : sodd[si - ns];
            host_weight hw;
            REQUIRE_VOID(make_weight(&hw, type, s.cols, s.rows, info->name, false));
            /* T = 5 runs two token chunks; once per type on an awkward shape. */
            const bool five = si == ns - 1;
            run_case(mv, &hw, five ? toks5 : toks13, five ? 1 : 2, variant++);
            free(hw.bytes);
        }
        printf("shapes %-7s %s mode (%.2f s)\n", info->name,
               g3_vk_matvec_get_options(mv).mode == G3_VK_MATVEC_LANE ? "lane" : "group",
               g3_time_s() - t0);
    }
}

static void test_shapes(g3_vk_matvec *mv, bool full)
{
    test_shapes_of(mv, full, NULL, 0);
}

/* Small pieces, a folded grid, 3 rows per group (or invocation), a workgroup of
 * 1.5 subgroups, in one mode. */
static void test_split_fold(g3_vk_matvec_mode mode)
{
    const g3_vk_device_info *d = g3_vk_context_device(ctx);
    const uint32_t sg = d->subgroup_size;
    const g3_vk_matvec_options opt = {
        .mode = mode,
        .wg_size = sg >= 2 ? sg + sg / 2 : 3,
        .rows_per_wg = 3,
        .max_piece_bytes = 40000, /* ~58 rows of 680 bytes: several pieces */
        .max_groups_x = 2,
    };
    g3_err err = {0};
    g3_vk_matvec *mv = NULL;
    if (g3_vk_matvec_create(ctx, &opt, &mv, &err) != G3_OK) {
        CHECK(0, "matvec with forced split: %s", err.msg);
        return;
    }
    static const struct { uint32_t type; shape s; } cases[] = {
        {G3_TYPE_Q8_0, {640, 1000}}, {G3_TYPE_Q4_K, {1024, 333}}, {G3_TYPE_F16, {67, 700}},
        {G3_TYPE_Q6_K, {2048, 41}},
    };
    static const int toks[] = {1, 3, 6};
    for (size_t i = 0; i < G3_ARRAY_LEN(cases); i++) {
        host_weight hw;
        REQUIRE_VOID(make_weight(&hw, cases[i].type, cases[i].s.cols, cases[i].s.rows,
                                 g3_type_name(cases[i].type), false));
        g3_vk_weight *vw = NULL;
        if (g3_vk_weight_upload(mv, &hw.w, NULL, NULL, &vw, &err) == G3_OK) {
            const g3_vk_weight_info in = g3_vk_weight_get_info(vw);
            const uint64_t bytes = hw.w.row_bytes * (uint64_t)hw.w.ne[1] + G3_MATVEC_PAD_BYTES;
            CHECK(in.n_pieces > 1 || bytes <= opt.max_piece_bytes, "%s: %u pieces",
                  in.name, in.n_pieces);
            CHECK((uint64_t)in.rows_per_piece * in.row_bytes + G3_MATVEC_PAD_BYTES <=
                      opt.max_piece_bytes, "%s: %u rows per piece", in.name, in.rows_per_piece);
            printf("split/fold %-5s %lld x %lld, %s mode: %u pieces of %u rows\n", in.name,
                   (long long)in.cols, (long long)in.rows,
                   mode == G3_VK_MATVEC_LANE ? "lane" : "group", in.n_pieces,
                   in.rows_per_piece);
            g3_vk_weight_free(vw);
        } else {
            CHECK(0, "upload: %s", err.msg);
        }
        run_case(mv, &hw, toks, 3, (int)i);
        free(hw.bytes);
    }
    /* Error paths: a type without a kernel, a shape that does not fit the blocks. */
    host_weight hw;
    REQUIRE_VOID(make_weight(&hw, G3_TYPE_Q8_0, 64, 2, "bad", false));
    g3_vk_weight *vw = NULL;
    g3_weight bad = hw.w;
    bad.type = G3_TYPE_Q8_1;
    err = (g3_err){0};
    CHECK(g3_vk_weight_upload(mv, &bad, NULL, NULL, &vw, &err) == G3_ERR_UNSUPPORTED && !vw &&
              strstr(err.msg, "bad"), "Q8_1: %s", err.msg);
    bad = hw.w;
    bad.ne[0] = 48;
    err = (g3_err){0};
    CHECK(g3_vk_weight_upload(mv, &bad, NULL, NULL, &vw, &err) == G3_ERR_INVALID_ARG && !vw &&
              strstr(err.msg, "bad"), "48 columns of Q8_0: %s", err.msg);
    /* A block type's x must be 16-byte aligned; the failure is kept until submit. */
    err = (g3_err){0};
    g3_vk_buffer *buf = NULL;
    if (g3_vk_weight_upload(mv, &hw.w, NULL, NULL, &vw, &err) == G3_OK &&
        g3_vk_buffer_create(ctx, 4096, G3_VK_MEMORY_DEVICE, "bad x/y", &buf, &err) == G3_OK) {
        g3_vk_cmd_begin(cmd);
        CHECK(g3_vk_matvec_record(cmd, vw, buf, 12, buf, 1024, 1) == G3_ERR_INVALID_ARG,
              "x at byte 12 accepted for Q8_0");
        CHECK(g3_vk_matvec_record(cmd, vw, buf, 0, buf, 1024, 1) == G3_ERR_INVALID_ARG,
              "a record after a failed one must keep the failure");
        err = (g3_err){0};
        CHECK(g3_vk_cmd_submit_wait(cmd, &err) == G3_ERR_INVALID_ARG && strstr(err.msg, "bad"),
              "submit: %s", err.msg);
    }
    CHECK(vw && buf, "bad x: %s", err.msg);
    g3_vk_buffer_free(ctx, buf);
    g3_vk_weight_free(vw);
    free(hw.bytes);
    g3_vk_matvec_free(mv);
}

/* ---- 4. the LM head, and the bench ---------------------------------------------------- */

typedef struct progress {
    uint64_t last, total;
    int calls;
    bool monotonic;
} progress;

static void on_progress(void *user, uint64_t done, uint64_t total)
{
    progress *p = user;
    p->monotonic = p->monotonic && done > p->last && done <= total;
    p->last = done;
    p->total = total;
    p->calls++;
}

/* Seconds per product: the fastest of 5 submits of `reps` products each (the build
 * machine is shared: the minimum is the least disturbed), wall clock around
 * submit-and-wait (which adds tens of microseconds per submit). */
static double cpu_s(void) /* lavapipe's threads run in this process */
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double time_matvec(const g3_vk_weight *vw, int reps, double *cpu)
{
    const g3_vk_weight_info in = g3_vk_weight_get_info(vw);
    g3_err err = {0};
    g3_vk_buffer *bx = NULL, *by = NULL;
    double t[5] = {0}, c[5] = {0};
    if (g3_vk_buffer_create(ctx, (uint64_t)in.cols * 4, G3_VK_MEMORY_DEVICE, "bench x", &bx,
                            &err) ||
        g3_vk_buffer_create(ctx, (uint64_t)in.rows * 4, G3_VK_MEMORY_DEVICE, "bench y", &by,
                            &err))
        goto out;
    /* Normal values: recycled device memory read as floats can hold denormals, which
     * cost CPU devices (lavapipe) a microcode assist per operation. */
    {
        float *hx = malloc((size_t)in.cols * sizeof(float));
        G3_ASSERT(hx);
        for (int64_t i = 0; i < in.cols; i++)
            hx[i] = rng_f();
        const g3_status ust =
            g3_vk_buffer_upload(ctx, bx, 0, hx, (uint64_t)in.cols * 4, &err);
        free(hx);
        if (ust != G3_OK)
            goto out;
    }
    for (int k = 0; k < 5; k++) {
        g3_vk_cmd_begin(cmd);
        for (int r = 0; r < reps; r++) {
            if (r)
                g3_vk_cmd_barrier(cmd); /* y is rewritten: order the writes */
            g3_vk_matvec_record(cmd, vw, bx, 0, by, 0, 1);
        }
        const double t0 = g3_time_s(), c0 = cpu_s();
        if (g3_vk_cmd_submit_wait(cmd, &err) != G3_OK)
            goto out;
        t[k] = (g3_time_s() - t0) / reps;
        c[k] = (cpu_s() - c0) / reps;
    }
    for (int i = 1; i < 5; i++) {
        t[0] = G3_MIN(t[0], t[i]);
        c[0] = G3_MIN(c[0], c[i]);
    }
    *cpu = c[0];
out:
    CHECK(err.status == G3_OK, "bench: %s", err.msg);
    g3_vk_buffer_free(ctx, bx);
    g3_vk_buffer_free(ctx, by);
    return t[0];
}

static void test_lm_head(g3_vk_matvec *mv, bool bench)
{
    const int64_t cols = 640, rows = 262144;
    host_weight hw;
    const double t0 = g3_time_s();
    REQUIRE_VOID(make_weight(&hw, G3_TYPE_Q8_0, cols, rows, "token_embd.weight", false));
    const double t1 = g3_time_s();
    g3_err err = {0};
    g3_vk_weight *vw = NULL;
    progress pr = {.monotonic = true};
    if (g3_vk_weight_upload(mv, &hw.w, on_progress, &pr, &vw, &err) != G3_OK) {
        CHECK(0, "LM head upload: %s", err.msg);
        free(hw.bytes);
        return;
    }
    const double t2 = g3_time_s();
    const g3_vk_weight_info in = g3_vk_weight_get_info(vw);
    const uint64_t bytes = hw.w.row_bytes * (uint64_t)rows;
    const g3_vk_device_info *d = g3_vk_context_device(ctx);
    printf("LM head: %.1f MiB in %u piece(s) of %u rows (maxStorageBufferRange %" PRIu64
           " MiB); made in %.2f s, uploaded in %.2f s (%d progress calls)\n",
           bytes / 1048576.0, in.n_pieces, in.rows_per_piece, d->max_storage_buffer_range >> 20,
           t1 - t0, t2 - t1, pr.calls);
    CHECK(pr.monotonic && pr.last == bytes && pr.total == bytes && pr.calls >= 1,
          "progress: %d calls, last %" PRIu64 " of %" PRIu64, pr.calls, pr.last, pr.total);
    if (bytes + G3_MATVEC_PAD_BYTES > d->max_storage_buffer_range)
        CHECK(in.n_pieces > 1, "the LM head (%" PRIu64 " bytes) was not split", bytes);
    if (d->max_storage_buffer_range == (1ull << 27))
        CHECK(in.n_pieces == 2, "LM head in %u pieces on a 128 MiB device", in.n_pieces);

    float *x = malloc(cols * sizeof(float)), *ref = malloc(rows * sizeof(float));
    G3_ASSERT(x && ref);
    for (int64_t i = 0; i < cols; i++)
        x[i] = rng_f();
    g3_ref_matvec(&hw.w, x, 1, ref, 0, rows);
    float *got = gpu_matvec(vw, x, 1, 0, GUARD + 1);
    const double t3 = g3_time_s();
    if (got) {
        double *as = abs_sums(&hw.w, x, 1);
        check_close("LM head Q8_0 640 x 262144", ref, got, as, rows);
        free(as);
    }
    printf("LM head: reference + GPU + check in %.2f s\n", g3_time_s() - t3 + (t3 - t2));
    if (bench) {
        double c = 0;
        const double s = time_matvec(vw, 3, &c);
        printf("bench | q8_0 LM head | 640 x 262144 | %8.2f ms | %6.2f GB/s | %6.2f GB/cpu-s |\n",
               s * 1e3, (double)bytes / s * 1e-9, (double)bytes / c * 1e-9);
    }
    free(got);
    free(x);
    free(ref);
    g3_vk_weight_free(vw);
    free(hw.bytes);
}

static void bench_types(g3_vk_matvec *mv)
{
    const char *only = getenv("G3_MATVEC_BENCH_TYPES"); /* e.g. "q8_0,q4_K" */
    for (size_t ti = 0; ti < G3_ARRAY_LEN(all_types); ti++) {
        const uint32_t type = all_types[ti];
        if (only && !strstr(only, g3_type_name(type)))
            continue;
        const bool k = g3_type_get(type)->block_size == 256;
        /* 2048 x 640 weights: ffn_gate/up for the 32-block types, ffn_down (the
         * K-quant shape in real files) otherwise. */
        const char *er = getenv("G3_MATVEC_BENCH_ROWS"); /* tuning: a taller matrix */
        const int64_t rows = er ? atoll(er) : k ? 640 : 2048;
        host_weight hw;
        REQUIRE_VOID(make_weight(&hw, type, k ? 2048 : 640, rows, g3_type_name(type), false));
        g3_err err = {0};
        g3_vk_weight *vw = NULL;
        if (g3_vk_weight_upload(mv, &hw.w, NULL, NULL, &vw, &err) == G3_OK) {
            double c = 0;
            const double s = time_matvec(vw, 20, &c);
            const double bytes = (double)hw.w.row_bytes * (double)hw.w.ne[1];
            printf("bench | %-7s | %4lld x %4lld | %8.3f ms | %6.2f GB/s | %6.2f GB/cpu-s |\n",
                   g3_type_name(type), (long long)hw.w.ne[0], (long long)hw.w.ne[1], s * 1e3,
                   bytes / s * 1e-9, bytes / c * 1e-9);
        }
        CHECK(vw != NULL, "bench upload: %s", err.msg);
        g3_vk_weight_free(vw);
        free(hw.bytes);
    }
}

/* The embedding gather from STREAMS-layout tables (the tied LM head of a lane-mode
 * device gathers its rows from the matvec's own pieces): Q8_0, Q4_0, Q5_0, Q4_1 and
 * Q5_1 tables of 37 rows forced into pieces of 16 rows (row groups of 8 and a partial
 * last group in every piece), rows at the group and piece edges, against the exact
 * dequantized rows times the scale: float(q) * d * scale on both sides, so equal bit
 * for bit, except that the device may fuse Q4_1 / Q5_1's q * d + m into one fma (one
 * rounding fewer: a few ulp of the row's largest value). */
static void test_streams_embed(void)
{
    g3_vk_ops *ops = NULL;
    g3_err err = {0};
    const g3_vk_ops_options oo = {.n_head = 4, .n_head_kv = 1, .head_dim = 256};
    if (g3_vk_ops_create(ctx, &oo, &ops, &err) != G3_OK) {
        CHECK(0, "streams embed: ops: %s", err.msg);
        return;
    }
    static const uint32_t types[] = {G3_TYPE_Q8_0, G3_TYPE_Q4_0, G3_TYPE_Q5_0, G3_TYPE_Q4_1,
                                     G3_TYPE_Q5_1};
    static const uint32_t toks[] = {0, 7, 8, 15, 16, 23, 36, 31, 17};
    enum { NT = 9, COLS = 640, ROWS = 37 };
    const float scale = 25.3f;
    for (size_t ti = 0; ti < G3_ARRAY_LEN(types); ti++) {
        /* Pieces of 16 rows (and the upload's 32 bytes of slack). */
        const bool has_min = types[ti] == G3_TYPE_Q4_1 || types[ti] == G3_TYPE_Q5_1;
        const g3_vk_matvec_options o = {
            .mode = G3_VK_MATVEC_LANE, .layout = G3_VK_MATVEC_LAYOUT_STREAMS,
            .max_piece_bytes = g3_vk_streams_bytes(types[ti], COLS, 16) + 32 + G3_MATVEC_PAD_BYTES};
        g3_vk_matvec *mv = NULL;
        if (g3_vk_matvec_create(ctx, &o, &mv, &err) != G3_OK) {
            printf("streams embed: no streams layout here: %s\n", err.msg);
            break;
        }
        host_weight hw;
        CHECK(make_weight(&hw, types[ti], COLS, ROWS, "token_embd.weight", true), "weight");
        g3_vk_weight *vw = NULL;
        g3_vk_buffer *bt = NULL, *by = NULL;
        float *y = calloc((size_t)NT * COLS, sizeof(float));
        G3_ASSERT(y);
        if (g3_vk_weight_upload(mv, &hw.w, NULL, NULL, &vw, &err) != G3_OK ||
            g3_vk_buffer_create(ctx, sizeof(toks), G3_VK_MEMORY_DEVICE, "tokens", &bt, &err) ||
            g3_vk_buffer_create(ctx, (uint64_t)NT * COLS * 4, G3_VK_MEMORY_DEVICE, "y", &by,
                                &err) ||
            g3_vk_buffer_upload(ctx, bt, 0, toks, sizeof(toks), &err)) {
            CHECK(0, "streams embed %s: %s", g3_type_name(types[ti]), err.msg);
            goto next;
        }
        const g3_vk_weight_info in = g3_vk_weight_get_info(vw);
        CHECK(in.streams && in.n_pieces == 3, "%s: streams %d, %u pieces", g3_type_name(types[ti]),
              in.streams, in.n_pieces);
        g3_vk_rows pieces[8];
        for (uint32_t i = 0; i < in.n_pieces && i < 8; i++)
            pieces[i] = g3_vk_weight_piece(vw, i);
        const g3_vk_embedding emb = {.type = in.type, .cols = COLS, .row_bytes = in.row_bytes,
                                     .n_pieces = G3_MIN(in.n_pieces, 8u), .pieces = pieces,
                                     .streams = in.streams};
        g3_vk_cmd_begin(cmd);
        g3_vk_record_embed(cmd, ops, &emb, (g3_vk_loc){bt, 0}, NT, scale, (g3_vk_loc){by, 0});
        if (g3_vk_cmd_submit_wait(cmd, &err) != G3_OK ||
            g3_vk_buffer_download(ctx, by, 0, y, (uint64_t)NT * COLS * 4, &err) != G3_OK) {
            CHECK(0, "streams embed %s: run: %s", g3_type_name(types[ti]), err.msg);
            goto next;
        }
        int bad = 0;
        for (int t = 0; t < NT; t++) {
            const float *ref = hw.deq + toks[t] * COLS;
            float amax = 0.0f;
            for (int c = 0; c < COLS; c++)
                amax = fmaxf(amax, fabsf(ref[c]));
            const float tol = has_min ? 4.0f * FLT_EPSILON * amax * scale : 0.0f;
            for (int c = 0; c < COLS; c++)
                bad += !(fabsf(y[t * COLS + c] - ref[c] * scale) <= tol);
        }
        CHECK(bad == 0, "streams embed %s: %d of %d values differ", g3_type_name(types[ti]),
              bad, NT * COLS);
    next:
        free(y);
        g3_vk_buffer_free(ctx, bt);
        g3_vk_buffer_free(ctx, by);
        g3_vk_weight_free(vw);
        g3_vk_matvec_free(mv);
        free_weight(&hw);
    }
    printf("streams embed: Q8_0, Q4_0, Q5_0, Q4_1, Q5_1 tables in 3 pieces\n");
    g3_vk_ops_free(ops);
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
    printf("device %s, validation %s, subgroup %u, storage range %" PRIu64 " MiB, "
           "groups x %u\n", d->name, g3_vk_validation_enabled(ctx) ? "on" : "OFF",
           d->subgroup_size, d->max_storage_buffer_range >> 20, d->max_compute_work_group_count[0]);
    g3_vk_matvec *mv = NULL;
    REQUIRE(g3_vk_cmd_create(ctx, &cmd, &err) == G3_OK, "cmd: %s", err.msg);
    /* G3_MATVEC_WG / G3_MATVEC_ROWS override the defaults (tuning runs). */
    const char *ewg = getenv("G3_MATVEC_WG"), *erows = getenv("G3_MATVEC_ROWS");
    const char *emode = getenv("G3_MATVEC_MODE"), *elay = getenv("G3_MATVEC_LAYOUT");
    const g3_vk_matvec_options mopt = {.mode = emode ? (g3_vk_matvec_mode)atoi(emode) : 0,
                                       .layout = elay ? (g3_vk_matvec_layout)atoi(elay) : 0,
                                       .wg_size = ewg ? (uint32_t)atoi(ewg) : 0,
                                       .rows_per_wg = erows ? (uint32_t)atoi(erows) : 0};
    REQUIRE(g3_vk_matvec_create(ctx, &mopt, &mv, &err) == G3_OK, "matvec: %s", err.msg);
    const g3_vk_matvec_options o = g3_vk_matvec_get_options(mv);
    printf("matvec: %s mode, workgroup %u, %u rows per %s, pieces <= %" PRIu64 " bytes\n",
           o.mode == G3_VK_MATVEC_LANE ? "lane" : "group", o.wg_size, o.rows_per_wg,
           o.mode == G3_VK_MATVEC_LANE ? "invocation" : "group", o.max_piece_bytes);
    const char *b = getenv("G3_MATVEC_BENCH");
    const bool bench = b && *b && strcmp(b, "0");

    const double t0 = g3_time_s();
    const char *shared = test_shared_dir();
    const bool only_bench = bench && !strcmp(b, "only"); /* tuning: skip the checks */
    if (!only_bench) {
        if (shared)
            test_reference_vectors(mv, shared);
        else
            printf("quant-vectors part skipped: ../shared is missing\n");
        test_shapes(mv, true);
        test_split_fold(G3_VK_MATVEC_GROUP);
        test_split_fold(G3_VK_MATVEC_LANE);
        /* The other mode on fewer shapes: CI's lavapipe runs lane mode by default,
         * GPUs run group mode. */
        const g3_vk_matvec_options other = {
            .mode = o.mode == G3_VK_MATVEC_LANE ? G3_VK_MATVEC_GROUP : G3_VK_MATVEC_LANE};
        g3_vk_matvec *mv2 = NULL;
        CHECK(g3_vk_matvec_create(ctx, &other, &mv2, &err) == G3_OK, "%s", err.msg);
        if (mv2)
            test_shapes(mv2, false);
        g3_vk_matvec_free(mv2);
        /* Lane mode in the other layout of Q8_0 / Q4_0 (GGUF where the device takes
         * STREAMS by default, and the reverse where it can). */
        const g3_vk_matvec_options lay = {
            .mode = G3_VK_MATVEC_LANE,
            .layout = o.layout == G3_VK_MATVEC_LAYOUT_STREAMS ? G3_VK_MATVEC_LAYOUT_GGUF
                                                             : G3_VK_MATVEC_LAYOUT_STREAMS};
        mv2 = NULL;
        if (g3_vk_matvec_create(ctx, &lay, &mv2, &err) == G3_OK) {
            printf("lane mode, %s layout:\n",
                   lay.layout == G3_VK_MATVEC_LAYOUT_GGUF ? "GGUF" : "streams");
            test_shapes(mv2, false);
        } else {
            printf("lane mode, streams layout: %s\n", err.msg);
            err = (g3_err){0};
        }
        g3_vk_matvec_free(mv2);
        /* STREAMS read through storage buffers instead of the texel buffer: the 32-byte
         * loads of Q8_0, the 16-byte ones of Q4_0, and Q5_1's minima and qh words (every
         * load the other two types make; lavapipe compiles each variant for ~10 s). */
        static const uint32_t ssbo_types[] = {G3_TYPE_Q8_0, G3_TYPE_Q4_0, G3_TYPE_Q5_1};
        const g3_vk_matvec_options ssbo = {.mode = G3_VK_MATVEC_LANE,
                                           .layout = G3_VK_MATVEC_LAYOUT_STREAMS,
                                           .no_texel = true};
        mv2 = NULL;
        if (g3_vk_matvec_create(ctx, &ssbo, &mv2, &err) == G3_OK) {
            printf("lane mode, streams layout through storage buffers:\n");
            test_shapes_of(mv2, false, ssbo_types, G3_ARRAY_LEN(ssbo_types));
        } else {
            err = (g3_err){0};
        }
        g3_vk_matvec_free(mv2);
        test_streams_embed();
    }
    test_lm_head(mv, bench);
    if (bench)
        bench_types(mv);
    printf("worst error: %.3g eps * sum|w x| (bound %.0f); %.1f s\n", worst_ratio, K_EPS,
           g3_time_s() - t0);

    g3_vk_matvec_free(mv);
    g3_vk_cmd_free(cmd);
    CHECK(g3_vk_validation_message_count(ctx) == 0, "%u validation message(s), last: %s",
          g3_vk_validation_message_count(ctx), g3_vk_validation_last_message(ctx));
    g3_vk_context_free(ctx);
    return test_finish("test_vk_matvec");
}
