/* test_vk_ops.c (label gpu): the ops of runtime/vk_ops.h against the CPU reference
 * kernels (host/ref_ops.h), op by op, under the validation layer when
 * G3_VK_VALIDATION=1 (with synchronization validation): any message fails.
 *
 * Each output is checked by NMSE and per element against atol + rtol * |ref| (NaN
 * failing), with sentinel guard words before and after it (and around every other
 * region an op may touch) checked untouched:
 * 1. embed: all 15 table types, 640 and odd 641 columns, a table split in 3 pieces
 *    at offsets, a token outside every piece (writes nothing), and a 262144-row
 *    table in 2 pieces with ids at both ends;
 * 2. rms_norm: 640 x 1 and 3, per-head 256 x 4, odd 641 x 3, fused residual add,
 *    in place, and a folded grid; norm_add_norm (NORM_ADD + the next RMS_NORM);
 * 3. gelu_mul: 2048, odd 2047, extremes (x^3 overflow), a folded grid;
 * 4. rope_kv: positions 0, 5, 511, 512, 513, 1000, 32767 with both bases, f16 and f32
 *    caches, a ring of 512 slots, 3 tokens across the ring's wrap, in place; every
 *    other cache slot untouched;
 * 5. attention: positions 0, 5, 511, 512, 513, 1000 on global and sliding (window
 *    512, ring of 512) layers, f16 and f32 caches, 270M's 4:1 GQA, 8:2 and 2:2
 *    heads, one split (direct), automatic and forced splits, odd workgroups, 3 tokens
 *    per call;
 * 6. argmax and top-k (k = 1, 40, 64) over 262144 logits: exact ids and values,
 *    ties to the lowest id, NaN and +inf, odd counts, a folded grid.
 * 7. error paths: bad arguments come back from submit as statuses naming the op.
 * (6 and 7 live in test_vk_ops_select.c.)
 * A decode chain (rope_kv, barrier, attention; recorded once, replayed at positions
 * 0..39, sliding and global) checks what the cache accumulates over steps. G3_OPS_VERBOSE=1 prints every case's
 * NMSE and largest error (tolerance calibration). Runs in ~3 s on lavapipe.
 * Exit 77 only when no Vulkan device exists at all. */
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdatomic.h>

#include "g3_shared.h"
#include "quant.h"
#include "ref_ops.h"
#include "test.h"
#include "vk.h"
#include "vk_ops.h"
#include "vk_ops_test.h"

g3_vk_context *ctx;
g3_vk_cmd *cmd;
g3_vk_ops *ops270; /* the 270M attention shape: 4 heads, 1 KV head, 256 */
static atomic_uint teardown_msgs;

static void on_validation(void *user, bool is_error, const char *msg)
{
    (void)user, (void)is_error, (void)msg;
    atomic_fetch_add(&teardown_msgs, 1);
}

/* ---- deterministic random numbers -------------------------------------------------- */

#include "test_rng.h"

/* ---- device buffers with guarded regions ------------------------------------------- */

void img_init(image *im, size_t n_words)
{
    im->n = n_words;
    im->w = malloc(n_words * 4);
    G3_ASSERT(im->w);
    for (size_t i = 0; i < n_words; i++)
        im->w[i] = SENTINEL;
    im->buf = NULL;
}

void img_put(image *im, size_t at, const void *src, size_t n_words)
{
    G3_ASSERT(at + n_words <= im->n);
    memcpy(im->w + at, src, n_words * 4);
}

bool img_upload(image *im, const char *name)
{
    g3_err err = {0};
    if (!im->buf && g3_vk_buffer_create(ctx, im->n * 4, G3_VK_MEMORY_DEVICE, name, &im->buf,
                                        &err) != G3_OK) {
        CHECK(0, "buffer %s: %s", name, err.msg);
        return false;
    }
    const bool ok = g3_vk_buffer_upload(ctx, im->buf, 0, im->w, im->n * 4, &err) == G3_OK;
    CHECK(ok, "upload %s: %s", name, err.msg);
    return ok;
}

/* Downloads into got (a copy of the image's size) and checks that every word outside
 * the listed [start, start + len) regions still equals the uploaded image. */
bool img_fetch(const image *im, uint32_t *got, const size_t (*regions)[2], int n_regions,
                      const char *what)
{
    g3_err err = {0};
    if (g3_vk_buffer_download(ctx, im->buf, 0, got, im->n * 4, &err) != G3_OK) {
        CHECK(0, "%s: download: %s", what, err.msg);
        return false;
    }
    size_t bad = 0, first = 0;
    for (size_t i = 0; i < im->n; i++) {
        bool inside = false;
        for (int r = 0; r < n_regions && !inside; r++)
            inside = i >= regions[r][0] && i < regions[r][0] + regions[r][1];
        if (!inside && got[i] != im->w[i] && bad++ == 0)
            first = i;
    }
    CHECK(bad == 0, "%s: %zu words outside the outputs changed (first at %zu: 0x%08x)", what,
          bad, first, got[first]);
    return true;
}

void img_free(image *im)
{
    g3_vk_buffer_free(ctx, im->buf);
    free(im->w);
    memset(im, 0, sizeof(*im));
}

g3_vk_loc at(const image *im, size_t word)
{
    return (g3_vk_loc){im->buf, word * 4};
}

bool run(const char *what)
{
    g3_err err = {0};
    const bool ok = g3_vk_cmd_submit_wait(cmd, &err) == G3_OK;
    CHECK(ok, "%s: %s", what, err.msg);
    return ok;
}

/* ---- comparison (style.md snippet 9) ------------------------------------------------ */

static double worst_nmse;
static bool verbose; /* G3_OPS_VERBOSE=1 */

void check_close(const char *what, const float *ref, const float *got, int64_t n,
                        double atol, double rtol, double nmse_max)
{
    double num = 0.0, den = 0.0, max_d = 0.0;
    int64_t n_bad = 0, worst = 0;
    for (int64_t i = 0; i < n; i++) {
        const double d = (double)got[i] - ref[i];
        num += d * d;
        den += (double)ref[i] * ref[i];
        if (!(fabs(d) <= atol + rtol * fabs(ref[i])) && n_bad++ < 3)
            fprintf(stderr, "  %s: [%" PRId64 "] = %.9g, ref %.9g\n", what, i, got[i], ref[i]);
        if (!(fabs(d) <= max_d)) {
            max_d = fabs(d);
            worst = i;
        }
    }
    const double nmse = den > 0 ? num / den : num;
    if (nmse > worst_nmse)
        worst_nmse = nmse;
    if (verbose) /* calibration: every case's errors */
        printf("%-76s nmse %.3g, max |d| %.3g\n", what, nmse, max_d);
    CHECK(n_bad == 0 && nmse <= nmse_max, "%s: %" PRId64 " of %" PRId64 " outside %.2g + %.2g "
          "|ref|, nmse %.3g (max %.2g), max |d| %.3g at %" PRId64, what, n_bad, n, atol, rtol,
          nmse, nmse_max, max_d, worst);
}

double max_abs(const float *x, int64_t n)
{
    double m = 0.0;
    for (int64_t i = 0; i < n; i++)
        m = fmax(m, fabs((double)x[i]));
    return m;
}

/* ---- 1. embed ------------------------------------------------------------------------ */

/* One table row: quantized from random values, or random bytes with sane f16 scales
 * for the types without a quantizer here (as test_vk_matvec.c). */
static void make_row(uint32_t type, int64_t n, uint8_t *dst, uint64_t row_bytes, float *tmp)
{
    if (g3_type_can_quantize(type)) {
        const float scale = 0.05f + 0.95f * fabsf(rng_f());
        for (int64_t i = 0; i < n; i++)
            tmp[i] = rng_f() * scale;
        G3_ASSERT(g3_quantize_row(type, tmp, dst, n));
        return;
    }
    const g3_type_info *ti = g3_type_get(type);
    for (uint64_t i = 0; i < row_bytes; i++)
        dst[i] = (uint8_t)rng_u64();
    for (uint64_t b = 0; b < row_bytes / ti->type_size; b++) {
        uint8_t *blk = dst + b * ti->type_size;
        const uint16_t d = g3_f32_to_fp16(0.001f + 0.01f * fabsf(rng_f()));
        const int d_at = type == G3_TYPE_Q2_K ? 80 : type == G3_TYPE_Q3_K ? 108 : 0;
        memcpy(blk + d_at, &d, 2);
        if (type == G3_TYPE_Q2_K)
            memcpy(blk + 82, &d, 2);
    }
}

/* Gathers `toks` from a rows x cols table of `type` split at the given row bounds
 * (bounds[0] = 0 < ... < bounds[n_pieces] <= rows; rows past the last bound are in no
 * piece), each piece in its own buffer at an odd word offset with padding after. */
static void embed_case(uint32_t type, int64_t cols, int64_t rows, const uint32_t *bounds,
                       int n_pieces, const int32_t *toks, int n_tok)
{
    char what[96];
    snprintf(what, sizeof(what), "embed %s %lld x %lld, %d pieces, %d tokens",
             g3_type_name(type), (long long)cols, (long long)rows, n_pieces, n_tok);
    uint64_t rb = 0;
    REQUIRE_VOID(g3_type_row_bytes(type, (uint64_t)cols, &rb));
    uint8_t *table = malloc(rb * (uint64_t)rows);
    float *tmp = malloc((size_t)cols * sizeof(float));
    G3_ASSERT(table && tmp);
    for (int64_t r = 0; r < rows; r++)
        make_row(type, cols, table + (uint64_t)r * rb, rb, tmp);
    free(tmp);
    const g3_weight w = {.name = "token_embd", .type = type, .ne = {cols, rows},
                         .row_bytes = rb, .data = table};
    image pieces_img[4] = {{0}};
    g3_vk_rows pieces[4];
    bool ok = n_pieces <= 4;
    for (int p = 0; p < n_pieces && ok; p++) {
        const uint64_t bytes = (bounds[p + 1] - bounds[p]) * rb;
        const size_t lead = 3; /* words before the first row */
        img_init(&pieces_img[p], lead + (bytes + 3) / 4 + G3_MATVEC_PAD_BYTES / 4);
        memcpy((uint8_t *)(pieces_img[p].w + lead), table + bounds[p] * rb, bytes);
        ok = img_upload(&pieces_img[p], "embed piece");
        pieces[p] = (g3_vk_rows){pieces_img[p].buf, lead * 4, bounds[p], bounds[p + 1] - bounds[p]};
    }
    image step, out;
    img_init(&step, 8 + (size_t)n_tok);
    img_put(&step, 5, toks, (size_t)n_tok);
    const size_t ny = (size_t)cols * (size_t)n_tok;
    img_init(&out, GUARD + 1 + ny + GUARD);
    ok = ok && img_upload(&step, "embed step") && img_upload(&out, "embed out");
    const g3_vk_embedding emb = {.type = type, .cols = (uint32_t)cols, .row_bytes = rb,
                                 .n_pieces = (uint32_t)n_pieces, .pieces = pieces};
    uint32_t *got = malloc(out.n * 4);
    float *ref = malloc(ny * sizeof(float));
    G3_ASSERT(got && ref);
    const float scale = sqrtf(640.0f);
    if (ok) {
        g3_vk_cmd_begin(cmd);
        g3_vk_record_embed(cmd, ops270, &emb, at(&step, 5), (uint32_t)n_tok, scale,
                           at(&out, GUARD + 1));
        if (run(what)) {
            /* Rows of tokens in no piece must stay sentinel: checked as "outside". */
            size_t regions[16][2];
            int nr = 0;
            for (int t = 0; t < n_tok && nr < 16; t++)
                if ((uint32_t)toks[t] < bounds[n_pieces])
                    regions[nr][0] = GUARD + 1 + (size_t)t * cols, regions[nr++][1] = cols;
            img_fetch(&out, got, (const size_t(*)[2])regions, nr, what);
            int nref = 0;
            for (int t = 0; t < n_tok; t++) {
                if ((uint32_t)toks[t] >= bounds[n_pieces])
                    continue;
                g3_ref_embed(&w, &toks[t], 1, scale, ref + (size_t)nref * cols);
                memmove(got + (size_t)nref * cols, got + GUARD + 1 + (size_t)t * cols, cols * 4);
                nref++;
            }
            /* The decoders repeat quant.c's float operations: equal up to rounding. */
            check_close(what, ref, (const float *)got, (int64_t)nref * cols,
                        1e-6 * max_abs(ref, (int64_t)nref * cols), 1e-6, 1e-12);
        }
    }
    free(got);
    free(ref);
    img_free(&step);
    img_free(&out);
    for (int p = 0; p < n_pieces && p < 4; p++)
        img_free(&pieces_img[p]);
    free(table);
}

static void test_embed(void)
{
    static const uint32_t types[] = {
        G3_TYPE_F32,  G3_TYPE_F16,  G3_TYPE_BF16, G3_TYPE_Q8_0, G3_TYPE_Q4_0,
        G3_TYPE_Q4_1, G3_TYPE_Q5_0, G3_TYPE_Q5_1, G3_TYPE_IQ4_NL, G3_TYPE_Q2_K,
        G3_TYPE_Q3_K, G3_TYPE_Q4_K, G3_TYPE_Q5_K, G3_TYPE_Q6_K, G3_TYPE_IQ4_XS,
    };
    static const uint32_t b3[] = {0, 100, 211, 300};
    static const int32_t toks[] = {0, 299, 100, 99, 211, 57, 210};
    for (size_t i = 0; i < G3_ARRAY_LEN(types); i++) {
        const bool k = g3_type_get(types[i])->block_size == 256;
        CHECK(g3_vk_embed_type_supported(types[i]), "type %s", g3_type_name(types[i]));
        embed_case(types[i], k ? 768 : 640, 300, b3, 3, toks, 7);
        if (g3_type_get(types[i])->block_size == 1) /* any width: the last unit is partial */
            embed_case(types[i], 641, 300, b3, 3, toks, 7);
    }
    /* Tokens 250 and 299 lie in no piece (the pieces cover rows 0..210): no write. */
    static const int32_t outside[] = {250, 3, 299};
    embed_case(G3_TYPE_Q8_0, 640, 300, b3, 2, outside, 3);
    /* The vocabulary's full row range in two halves (narrow rows keep it small). */
    static const uint32_t bv[] = {0, N_VOCAB / 2, N_VOCAB};
    static const int32_t tv[] = {N_VOCAB - 1, N_VOCAB / 2, N_VOCAB / 2 - 1, 0, 2};
    embed_case(G3_TYPE_Q8_0, 64, N_VOCAB, bv, 2, tv, 5);
}

/* ---- 2. rms_norm ------------------------------------------------------------------------ */

/* mode 0: y separate; 1: in place (y = x); 2 (fused only): y = residual. */
static void norm_case(g3_vk_ops *ops, uint32_t n, uint32_t groups, bool fused, int mode)
{
    char what[96];
    snprintf(what, sizeof(what), "rms_norm %u x %u%s%s", n, groups, fused ? " + residual" : "",
             mode == 1 ? " (y = x)" : mode == 2 ? " (y = r)" : "");
    const size_t m = (size_t)n * groups;
    float *x = malloc(m * 4), *r = malloc(m * 4), *ref = malloc(m * 4), *w = malloc(n * 4);
    uint32_t *got = NULL;
    G3_ASSERT(x && r && ref && w);
    for (size_t i = 0; i < m; i++) {
        x[i] = rng_f() * (i % 7 == 0 ? 300.0f : 3.0f); /* a few large: residual-like */
        r[i] = rng_f() * 50.0f;
    }
    for (uint32_t i = 0; i < n; i++)
        w[i] = 1.0f + 0.5f * rng_f();
    for (uint32_t g = 0; g < groups; g++)
        g3_ref_rms_norm(x + (size_t)g * n, w, n, 1e-6f, ref + (size_t)g * n);
    if (fused)
        for (size_t i = 0; i < m; i++)
            ref[i] += r[i];
    /* One buffer: [G][x][G][w][G][r][G][y][G], odd starts. */
    const size_t xo = GUARD + 1, wo = xo + m + GUARD, ro = wo + n + GUARD, yo = ro + m + GUARD;
    image im;
    img_init(&im, yo + m + GUARD);
    img_put(&im, xo, x, m);
    img_put(&im, wo, w, n);
    img_put(&im, ro, r, m);
    const size_t out = mode == 1 ? xo : mode == 2 ? ro : yo;
    if (img_upload(&im, "norm")) {
        const g3_vk_loc rl = at(&im, ro);
        g3_vk_cmd_begin(cmd);
        g3_vk_record_rms_norm(cmd, ops, at(&im, xo), at(&im, wo), n, groups, 1e-6f,
                              fused ? &rl : NULL, at(&im, out));
        got = malloc(im.n * 4);
        G3_ASSERT(got);
        if (run(what)) {
            const size_t reg[1][2] = {{out, m}};
            img_fetch(&im, got, reg, 1, what);
            check_close(what, ref, (const float *)got + out, (int64_t)m,
                        1e-6 * max_abs(ref, (int64_t)m), 2e-6, 1e-12);
        }
    }
    free(got);
    img_free(&im);
    free(x), free(r), free(ref), free(w);
}

/* NORM_ADD and the next RMS_NORM in one dispatch; in_place: y is the residual. */
static void norm2_case(g3_vk_ops *ops, uint32_t n, uint32_t groups, bool in_place)
{
    char what[96];
    snprintf(what, sizeof(what), "norm_add_norm %u x %u%s", n, groups, in_place ? " (y = r)" : "");
    const size_t m = (size_t)n * groups;
    /* Draws from its own stream: the later cases keep the inputs they were tuned on
     * (the decode chain's tolerance depends on how K rounds to f16). */
    const uint64_t saved_rng = rng_state;
    rng_state = 0x5eed0000u + n * 31u + groups;
    float *x = malloc(m * 4), *r = malloc(m * 4), *ref = malloc(m * 4), *ref2 = malloc(m * 4);
    float *w = malloc(n * 4), *w2 = malloc(n * 4);
    uint32_t *got = NULL;
    G3_ASSERT(x && r && ref && ref2 && w && w2);
    for (size_t i = 0; i < m; i++) {
        x[i] = rng_f() * (i % 7 == 0 ? 300.0f : 3.0f);
        r[i] = rng_f() * 50.0f;
    }
    for (uint32_t i = 0; i < n; i++) {
        w[i] = 1.0f + 0.5f * rng_f();
        w2[i] = 1.0f + 0.5f * rng_f();
    }
    for (uint32_t g = 0; g < groups; g++) {
        g3_ref_rms_norm(x + (size_t)g * n, w, n, 1e-6f, ref + (size_t)g * n);
        for (uint32_t i = 0; i < n; i++)
            ref[(size_t)g * n + i] += r[(size_t)g * n + i];
        g3_ref_rms_norm(ref + (size_t)g * n, w2, n, 1e-6f, ref2 + (size_t)g * n);
    }
    /* [G][x][G][w][G][r][G][y][G][w2][G][y2][G], odd starts; y2 before w2's end order
     * is arbitrary in the arena: here y2 comes last. */
    const size_t xo = GUARD + 1, wo = xo + m + GUARD, ro = wo + n + GUARD, yo = ro + m + GUARD;
    const size_t w2o = yo + m + GUARD, y2o = w2o + n + GUARD;
    image im;
    img_init(&im, y2o + m + GUARD);
    img_put(&im, xo, x, m);
    img_put(&im, wo, w, n);
    img_put(&im, ro, r, m);
    img_put(&im, w2o, w2, n);
    const size_t out = in_place ? ro : yo;
    if (img_upload(&im, "norm2")) {
        g3_vk_cmd_begin(cmd);
        g3_vk_record_norm_add_norm(cmd, ops, at(&im, xo), at(&im, wo), n, groups, 1e-6f,
                                   at(&im, ro), at(&im, out), at(&im, w2o), at(&im, y2o));
        got = malloc(im.n * 4);
        G3_ASSERT(got);
        if (run(what)) {
            const size_t reg[2][2] = {{out, m}, {y2o, m}};
            img_fetch(&im, got, reg, 2, what);
            check_close(what, ref, (const float *)got + out, (int64_t)m,
                        1e-6 * max_abs(ref, (int64_t)m), 2e-6, 1e-12);
            check_close(what, ref2, (const float *)got + y2o, (int64_t)m,
                        1e-6 * max_abs(ref2, (int64_t)m), 2e-6, 1e-12);
        }
    }
    free(got);
    img_free(&im);
    free(x), free(r), free(ref), free(ref2), free(w), free(w2);
    rng_state = saved_rng;
}

static void test_rms_norm(g3_vk_ops *folded)
{
    norm2_case(ops270, 640, 1, false);
    norm2_case(ops270, 640, 5, true);
    norm2_case(folded, 641, 7, false);
    norm_case(ops270, 640, 1, false, 0);
    norm_case(ops270, 640, 3, false, 0);
    norm_case(ops270, 256, 4, false, 1);  /* QK-norm: 4 heads of q, in place */
    norm_case(ops270, 256, 1, false, 0);  /* one KV head                    */
    norm_case(ops270, 641, 3, false, 0);
    norm_case(ops270, 640, 1, true, 0);   /* NORM_ADD                       */
    norm_case(ops270, 641, 3, true, 2);   /* into the residual stream       */
    norm_case(folded, 256, 7, true, 1);   /* 7 groups on a 2-wide grid: (2, 4) */
}

/* ---- 3. gelu_mul ------------------------------------------------------------------------ */

static void gelu_case(g3_vk_ops *ops, uint32_t n, bool extremes)
{
    char what[64];
    snprintf(what, sizeof(what), "gelu_mul %u%s", n, extremes ? " extremes" : "");
    float *g = malloc(n * 4), *u = malloc(n * 4), *ref = malloc(n * 4);
    G3_ASSERT(g && u && ref);
    static const float ext[] = {0.0f, -0.0f, 1e-30f, -1e-30f, 8.0f, -8.0f, 9.5f, -9.5f, 15.0f,
                                -15.0f, 50.0f, -50.0f, 1e4f, -1e4f, 1e20f, -1e20f, 3e38f, -3e38f};
    for (uint32_t i = 0; i < n; i++) {
        g[i] = extremes && i < G3_ARRAY_LEN(ext) ? ext[i] : rng_f() * 6.0f;
        u[i] = extremes && i < G3_ARRAY_LEN(ext) ? 0.5f : rng_f() * 2.0f;
    }
    g3_ref_gelu_mul(g, u, ref, n);
    const size_t go = GUARD, uo = go + n + GUARD + 1, yo = uo + n + GUARD;
    image im;
    img_init(&im, yo + n + GUARD);
    img_put(&im, go, g, n);
    img_put(&im, uo, u, n);
    uint32_t *got = malloc(im.n * 4);
    G3_ASSERT(got);
    if (img_upload(&im, "gelu")) {
        g3_vk_cmd_begin(cmd);
        g3_vk_record_gelu_mul(cmd, ops, at(&im, go), at(&im, uo), n, at(&im, yo));
        if (run(what)) {
            const size_t reg[1][2] = {{yo, n}};
            img_fetch(&im, got, reg, 1, what);
            check_close(what, ref, (const float *)got + yo, n, 1e-6, 1e-5, 1e-11);
        }
    }
    free(got);
    img_free(&im);
    free(g), free(u), free(ref);
}

/* ---- 4. rope_kv -------------------------------------------------------------------------- */

static float f16_round(float v)
{
    return g3_fp16_to_f32(g3_f32_to_fp16(v));
}

/* Decodes n cache elements starting at element e of a word image. */
static void kv_decode(const uint32_t *words, size_t e, size_t n, bool f32, float *dst)
{
    for (size_t i = 0; i < n; i++) {
        if (f32) {
            memcpy(&dst[i], &words[e + i], 4);
        } else {
            const uint32_t w = words[(e + i) / 2];
            dst[i] = g3_fp16_to_f32((uint16_t)((e + i) % 2 ? w >> 16 : w & 0xffff));
        }
    }
}

typedef struct rope_cfg {
    const g3_vk_rope_table *table;
    float base, scale;
} rope_cfg;

static void rope_case(const rope_cfg *rc, uint32_t pos, uint32_t n_tok, uint32_t n_slots,
                      bool f32, bool in_place)
{
    char what[128];
    snprintf(what, sizeof(what), "rope_kv base %g scale %g pos %u x %u, %u slots, %s%s",
             (double)rc->base, (double)rc->scale, pos, n_tok, n_slots, f32 ? "f32" : "f16",
             in_place ? ", in place" : "");
    const int H = 4, HKV = 1, HD = 256, QW = H * HD, KW = HKV * HD;
    const size_t nq = (size_t)QW * n_tok, nk = (size_t)KW * n_tok;
    float *q = malloc(nq * 4), *k = malloc(nk * 4), *v = malloc(nk * 4);
    float *qr = malloc(nq * 4), *kr = malloc(nk * 4), *dec = malloc(nk * 4);
    G3_ASSERT(q && k && v && qr && kr && dec);
    for (size_t i = 0; i < nq; i++)
        q[i] = rng_f() * 2.0f;
    for (size_t i = 0; i < nk; i++)
        k[i] = rng_f() * 2.0f, v[i] = rng_f() * 4.0f;
    for (uint32_t t = 0; t < n_tok; t++) {
        g3_ref_rope(q + (size_t)t * QW, qr + (size_t)t * QW, H, HD, pos + t, rc->base, rc->scale);
        g3_ref_rope(k + (size_t)t * KW, kr + (size_t)t * KW, HKV, HD, pos + t, rc->base,
                    rc->scale);
    }
    /* act: [G][q_in][G][q_out][G][k_in][G][k_out][G][v][G]; in place: outs = ins. */
    const size_t qi = GUARD + 1, qo = in_place ? qi : qi + nq + GUARD;
    const size_t ki = (in_place ? qi + nq : qo + nq) + GUARD, ko = in_place ? ki : ki + nk + GUARD;
    const size_t vi = ko + nk + GUARD;
    image act, kvi, step;
    img_init(&act, vi + nk + GUARD);
    img_put(&act, qi, q, nq);
    img_put(&act, ki, k, nk);
    img_put(&act, vi, v, nk);
    /* cache: [G][K (KW x n_slots)][G][V][G] in words; every slot sentinel. */
    const size_t el_words = f32 ? 1 : 2; /* elements per word: 1 or 2 */
    const size_t cw = (size_t)KW * n_slots / (f32 ? 1 : el_words);
    const size_t kc = GUARD, vc = kc + cw + GUARD;
    img_init(&kvi, vc + cw + GUARD);
    img_init(&step, 4);
    step.w[3] = pos;
    const g3_vk_kv kv = {.n_slots = n_slots, .f32 = f32, .k_offset = kc * 4, .v_offset = vc * 4};
    uint32_t *ga = malloc(act.n * 4), *gk = malloc(kvi.n * 4);
    G3_ASSERT(ga && gk);
    if (img_upload(&act, "rope act") && img_upload(&kvi, "rope kv") &&
        img_upload(&step, "rope step")) {
        g3_vk_kv kvb = kv;
        kvb.buf = kvi.buf;
        const g3_vk_rope_kv_args a = {
            .pos = at(&step, 3), .act = act.buf, .q_in = qi * 4, .q_out = qo * 4,
            .k_in = ki * 4, .k_out = ko * 4, .v_in = vi * 4, .n_tokens = n_tok,
            .table = rc->table, .kv = &kvb,
        };
        g3_vk_cmd_begin(cmd);
        g3_vk_record_rope_kv(cmd, ops270, &a);
        if (run(what)) {
            const size_t ra[2][2] = {{qo, nq}, {ko, nk}};
            img_fetch(&act, ga, ra, 2, what);
            const float *gq = (const float *)ga + qo, *gkr = (const float *)ga + ko;
            check_close(what, qr, gq, (int64_t)nq, 2e-6 * max_abs(qr, (int64_t)nq), 1e-5, 1e-12);
            check_close(what, kr, gkr, (int64_t)nk, 2e-6 * max_abs(kr, (int64_t)nk), 1e-5, 1e-12);
            /* The cache: only the tokens' slots changed; they hold k_rope and v. */
            size_t rk[8][2];
            int nr = 0;
            for (uint32_t t = 0; t < n_tok; t++) {
                const size_t s = (pos + t) % n_slots;
                rk[nr][0] = kc + s * KW / el_words, rk[nr++][1] = KW / el_words;
                rk[nr][0] = vc + s * KW / el_words, rk[nr++][1] = KW / el_words;
            }
            img_fetch(&kvi, gk, (const size_t(*)[2])rk, nr, what);
            for (uint32_t t = 0; t < n_tok; t++) {
                const size_t s = (pos + t) % n_slots;
                float *krt = kr + (size_t)t * KW, *vt = v + (size_t)t * KW;
                kv_decode(gk, kc * el_words + s * KW, KW, f32, dec);
                /* f16: within half an f16 ulp (2^-11 relative) of the reference, plus
                 * the rope error; f32: the rope error only. */
                check_close("K cache", krt, dec, KW, 1e-5, f32 ? 1e-5 : 6e-4, f32 ? 1e-12 : 1e-7);
                kv_decode(gk, vc * el_words + s * KW, KW, f32, dec);
                check_close("V cache", vt, dec, KW, f32 ? 0.0 : 1e-7, f32 ? 0.0 : 4.9e-4,
                            f32 ? 0.0 : 1e-7);
            }
        }
    }
    free(ga), free(gk);
    img_free(&act), img_free(&kvi), img_free(&step);
    free(q), free(k), free(v), free(qr), free(kr), free(dec);
}

static void test_rope_kv(void)
{
    g3_err err = {0};
    g3_vk_rope_table *slide = NULL, *global = NULL;
    CHECK(g3_vk_rope_table_create(ops270, 10000.0f, 1.0f, 2048, &slide, &err) == G3_OK,
          "table: %s", err.msg);
    CHECK(g3_vk_rope_table_create(ops270, 1e6f, 0.125f, 32768, &global, &err) == G3_OK,
          "table: %s", err.msg);
    if (slide && global) {
        const rope_cfg rs = {slide, 10000.0f, 1.0f}, rg = {global, 1e6f, 0.125f};
        static const uint32_t pos[] = {0, 5, 511, 512, 513, 1000};
        for (size_t i = 0; i < G3_ARRAY_LEN(pos); i++) {
            rope_case(&rs, pos[i], 1, 512, i % 2, false); /* sliding: a ring of 512 */
            rope_case(&rg, pos[i], 1, 2048, i % 2 == 0, i == 2);
        }
        rope_case(&rg, 32767, 1, 4096, false, false);   /* the table's last position  */
        rope_case(&rs, 510, 3, 512, false, true);       /* slots 510, 511, 0          */
        rope_case(&rs, 1021, 3, 514, true, false);      /* window + 2 slots, wrapping */
    }
    g3_vk_rope_table_free(slide);
    g3_vk_rope_table_free(global);
}

/* ---- 5. attention -------------------------------------------------------------------- */

typedef struct attn_shape {
    g3_vk_ops *ops;
    int H, HKV, HD;
} attn_shape;

/* Keys and values for positions [0, pos + n_tok) stored in a ring of n_slots, the
 * queries of tokens pos..pos+n_tok-1, and the GPU against g3_ref_attention on the
 * cache as stored (f16-rounded for an f16 cache: the attention math is compared
 * tightly; the rounding itself is reported against the unrounded reference). */
static void attn_case(const attn_shape *sh, uint32_t pos, uint32_t n_tok, uint32_t window,
                      uint32_t n_slots, bool f32, uint32_t n_splits)
{
    const int H = sh->H, HKV = sh->HKV, HD = sh->HD, KW = HKV * HD, QW = H * HD;
    const g3_vk_kv kv0 = {.n_slots = n_slots, .f32 = f32};
    const uint32_t splits = n_splits ? n_splits : g3_vk_attn_splits(sh->ops, &kv0, window);
    char what[160];
    snprintf(what, sizeof(what), "attn %d:%d x %d %s pos %u x %u, %u slots, %s, %u splits", H,
             HKV, HD, window ? "sliding" : "global", pos, n_tok, n_slots, f32 ? "f32" : "f16",
             splits);
    const size_t ncache = (size_t)KW * n_slots, nq = (size_t)QW * n_tok;
    float *k = calloc(ncache, 4), *v = calloc(ncache, 4), *kx = calloc(ncache, 4),
          *vx = calloc(ncache, 4), *q = malloc(nq * 4), *ref = malloc(nq * 4),
          *refx = malloc(nq * 4);
    double *scratch = malloc(((size_t)HD + pos + n_tok) * sizeof(double));
    G3_ASSERT(k && v && kx && vx && q && ref && refx && scratch);
    for (uint32_t p = 0; p < pos + n_tok; p++) {
        const size_t s = (size_t)(p % n_slots) * KW;
        for (int i = 0; i < KW; i++) {
            kx[s + i] = rng_f() * 2.0f;
            vx[s + i] = rng_f();
            k[s + i] = f32 ? kx[s + i] : f16_round(kx[s + i]);
            v[s + i] = f32 ? vx[s + i] : f16_round(vx[s + i]);
        }
    }
    for (size_t i = 0; i < nq; i++)
        q[i] = rng_f() * 4.0f; /* scores of a few units: a peaked softmax */
    const float scale = 1.0f / sqrtf((float)HD);
    const g3_ref_kv rk = {.k = k, .v = v, .n_slots = (int)n_slots};
    const g3_ref_kv rkx = {.k = kx, .v = vx, .n_slots = (int)n_slots};
    for (uint32_t t = 0; t < n_tok; t++) {
        g3_ref_attention(q + (size_t)t * QW, &rk, H, HKV, HD, pos + t, window, window == 0,
                         scale, scratch, ref + (size_t)t * QW);
        g3_ref_attention(q + (size_t)t * QW, &rkx, H, HKV, HD, pos + t, window, window == 0,
                         scale, scratch, refx + (size_t)t * QW);
    }
    /* Device images: the cache [G][K][G][V][G] in its element type, q, out, scratch. */
    const size_t cw = f32 ? ncache : ncache / 2, kc = GUARD, vc = kc + cw + GUARD;
    image cache, qi, oi, si, step;
    img_init(&cache, vc + cw + GUARD);
    for (size_t i = 0; i < ncache; i++) {
        if (f32) {
            memcpy(&cache.w[kc + i], &k[i], 4);
            memcpy(&cache.w[vc + i], &v[i], 4);
        } else {
            const int hs = i % 2 ? 16 : 0; /* element i is half i % 2 of word i / 2 */
            const uint32_t mk = 0xffffu << hs;
            uint32_t *wk = &cache.w[kc + i / 2], *wv = &cache.w[vc + i / 2];
            *wk = (*wk & ~mk) | (uint32_t)g3_f32_to_fp16(k[i]) << hs;
            *wv = (*wv & ~mk) | (uint32_t)g3_f32_to_fp16(v[i]) << hs;
        }
    }
    img_init(&qi, GUARD + 1 + nq + GUARD);
    img_put(&qi, GUARD + 1, q, nq);
    img_init(&oi, GUARD + 3 + nq + GUARD);
    const size_t sw = g3_vk_attn_scratch_bytes(sh->ops, splits, n_tok) / 4;
    img_init(&si, GUARD + sw + GUARD);
    img_init(&step, 2);
    step.w[1] = pos;
    uint32_t *got = malloc(oi.n * 4), *tmp = malloc(G3_MAX(cache.n, G3_MAX(qi.n, si.n)) * 4);
    G3_ASSERT(got && tmp);
    if (img_upload(&cache, "kv") && img_upload(&qi, "q") && img_upload(&oi, "attn out") &&
        img_upload(&si, "attn scratch") && img_upload(&step, "attn step")) {
        g3_vk_kv kv = kv0;
        kv.buf = cache.buf;
        kv.k_offset = kc * 4;
        kv.v_offset = vc * 4;
        const g3_vk_attn_args a = {
            .pos = at(&step, 1), .q = at(&qi, GUARD + 1), .out = at(&oi, GUARD + 3),
            .scratch = at(&si, GUARD), .n_tokens = n_tok, .kv = &kv, .window = window,
            .scale = scale, .n_splits = n_splits,
        };
        g3_vk_cmd_begin(cmd);
        g3_vk_record_attn(cmd, sh->ops, &a);
        if (run(what)) {
            const size_t ro[1][2] = {{GUARD + 3, nq}}, rs[1][2] = {{GUARD, sw}};
            img_fetch(&oi, got, ro, 1, what);
            img_fetch(&cache, tmp, NULL, 0, what);
            img_fetch(&qi, tmp, NULL, 0, what);
            img_fetch(&si, tmp, rs, 1, what);
            const float *o = (const float *)got + GUARD + 3;
            check_close(what, ref, o, (int64_t)nq, 8e-6, 1e-4, 1e-10);
            if (!f32) { /* f16 storage: relative error ~2^-11 per element */
                snprintf(what + strlen(what), sizeof(what) - strlen(what), " vs unrounded");
                check_close(what, refx, o, (int64_t)nq, 5e-3, 1e-2, 1e-5);
            }
        }
    }
    free(got), free(tmp);
    img_free(&cache), img_free(&qi), img_free(&oi), img_free(&si), img_free(&step);
    free(k), free(v), free(kx), free(vx), free(q), free(ref), free(refx), free(scratch);
}

static void test_attn(void)
{
    g3_err err = {0};
    const attn_shape s270 = {ops270, 4, 1, 256};
    static const uint32_t pos[] = {0, 5, 511, 512, 513, 1000};
    for (size_t i = 0; i < G3_ARRAY_LEN(pos); i++) {
        for (int w = 0; w < 2; w++) {
            const uint32_t window = w ? 512 : 0, slots = w ? 512 : 2048;
            attn_case(&s270, pos[i], 1, window, slots, false, 0);
            attn_case(&s270, pos[i], 1, window, slots, true, 0);
            attn_case(&s270, pos[i], 1, window, slots, i % 2 == 0, 1);
            attn_case(&s270, pos[i], 1, window, slots, i % 2 == 1, 7);
        }
    }
    attn_case(&s270, 510, 3, 512, 514, false, 0); /* 3 tokens, the ring wraps */
    attn_case(&s270, 998, 3, 0, 2048, true, 0);

    /* 8:2 heads with an odd workgroup; 2:2 (no sharing) at head_dim 64 with small
     * splits (many of them) and a 128 window. */
    g3_vk_ops *o82 = NULL, *o22 = NULL;
    const g3_vk_ops_options p82 = {.n_head = 8, .n_head_kv = 2, .head_dim = 256,
                                   .attn_wg_size = 40};
    const g3_vk_ops_options p22 = {.n_head = 2, .n_head_kv = 2, .head_dim = 64,
                                   .attn_wg_size = 32, .attn_split_min = 16};
    CHECK(g3_vk_ops_create(ctx, &p82, &o82, &err) == G3_OK, "ops 8:2: %s", err.msg);
    CHECK(g3_vk_ops_create(ctx, &p22, &o22, &err) == G3_OK, "ops 2:2: %s", err.msg);
    if (o82 && o22) {
        const attn_shape s82 = {o82, 8, 2, 256}, s22 = {o22, 2, 2, 64};
        attn_case(&s82, 0, 1, 512, 512, false, 0);
        attn_case(&s82, 513, 1, 512, 512, false, 0);
        attn_case(&s82, 1000, 1, 0, 1024, true, 0);
        attn_case(&s82, 77, 2, 0, 1024, false, 1);
        attn_case(&s22, 5, 1, 0, 1024, true, 0);
        attn_case(&s22, 700, 1, 0, 1024, false, 0);
        attn_case(&s22, 300, 1, 128, 128, true, 0);
        attn_case(&s22, 300, 2, 128, 129, false, 3);
    }
    g3_vk_ops_free(o82);
    g3_vk_ops_free(o22);
}

/* ---- 5b. decode chain, replayed ------------------------------------------------------- */

/* One recording (rope_kv, barrier, attention), replayed for positions 0..n_steps-1 as
 * the decode step is: between replays the host rewrites only mapped buffers (the
 * position in the step buffer, q/k/v in the activations). The CPU runs the same chain
 * with g3_ref_rope and g3_ref_attention on f16-rounded cache entries. Catches what
 * single calls cannot: slots written by earlier steps, the ring overwriting the oldest
 * position, anything per-token baked into the recording. */
static void chain_case(uint32_t window, uint32_t n_slots, uint32_t n_steps)
{
    char what[96];
    const int H = 4, HD = 256, QW = H * HD, KW = HD;
    const size_t ao = (size_t)QW + 2 * KW; /* act: [q][k][v][attention out] */
    g3_err err = {0};
    g3_vk_rope_table *table = NULL;
    g3_vk_buffer *act = NULL, *step = NULL;
    g3_vk_cmd *rec = NULL;
    image cache, sc;
    img_init(&cache, (size_t)KW * n_slots);
    img_init(&sc, 1 + g3_vk_attn_scratch_bytes(ops270, 64, 1) / 4);
    float *qr = malloc((size_t)QW * 4), *ref = malloc((size_t)QW * 4);
    float *kc = calloc((size_t)KW * n_slots, 4), *vc = calloc((size_t)KW * n_slots, 4);
    double *scratch = malloc(((size_t)HD + n_steps) * sizeof(double));
    G3_ASSERT(qr && ref && kc && vc && scratch);
    bool ok = g3_vk_rope_table_create(ops270, 10000.0f, 1.0f, n_steps, &table, &err) == G3_OK &&
              g3_vk_buffer_create(ctx, (ao + QW) * 4, G3_VK_MEMORY_READBACK, "chain act", &act,
                                  &err) == G3_OK &&
              g3_vk_buffer_create(ctx, 4, G3_VK_MEMORY_UPLOAD, "chain step", &step, &err) ==
                  G3_OK &&
              g3_vk_cmd_create(ctx, &rec, &err) == G3_OK && img_upload(&cache, "chain kv") &&
              img_upload(&sc, "chain scratch");
    CHECK(ok, "chain setup: %s", err.msg);
    if (ok) {
        g3_vk_kv kv = {.buf = cache.buf, .v_offset = (uint64_t)KW * n_slots * 2,
                       .n_slots = n_slots};
        const g3_vk_loc pos = {step, 0};
        const g3_vk_rope_kv_args ra = {
            .pos = pos, .act = act, .k_in = (uint64_t)QW * 4, .k_out = (uint64_t)QW * 4,
            .v_in = (uint64_t)(QW + KW) * 4, .n_tokens = 1, .table = table, .kv = &kv,
        };
        const g3_vk_attn_args aa = {
            .pos = pos, .q = {act, 0}, .out = {act, ao * 4}, .scratch = at(&sc, 1),
            .n_tokens = 1, .kv = &kv, .window = window, .scale = 1.0f / 16.0f,
        };
        g3_vk_cmd_begin_reusable(rec);
        g3_vk_record_rope_kv(rec, ops270, &ra);
        g3_vk_cmd_barrier(rec);
        g3_vk_record_attn(rec, ops270, &aa);
        ok = g3_vk_cmd_end(rec, &err) == G3_OK;
        CHECK(ok, "chain recording: %s", err.msg);
    }
    float *x = ok ? g3_vk_buffer_map(act) : NULL;
    uint32_t *pos_w = ok ? g3_vk_buffer_map(step) : NULL;
    for (uint32_t pos = 0; pos < n_steps && ok; pos++) {
        for (int i = 0; i < QW + 2 * KW; i++)
            x[i] = rng_f() * (i < QW ? 4.0f : 2.0f);
        *pos_w = pos;
        snprintf(what, sizeof(what), "chain %s window %u, %u slots: step %u",
                 window ? "sliding" : "global", window, n_slots, pos);
        /* The CPU chain, from the inputs before the GPU rotates them in place. */
        g3_ref_rope(x, qr, H, HD, pos, 10000.0f, 1.0f);
        float *ks = kc + (size_t)(pos % n_slots) * KW, *vs = vc + (size_t)(pos % n_slots) * KW;
        g3_ref_rope(x + QW, ks, 1, HD, pos, 10000.0f, 1.0f);
        for (int i = 0; i < KW; i++) {
            ks[i] = f16_round(ks[i]);
            vs[i] = f16_round(x[QW + KW + i]);
        }
        const g3_ref_kv rk = {.k = kc, .v = vc, .n_slots = (int)n_slots};
        g3_ref_attention(qr, &rk, H, 1, HD, pos, window, window == 0, 1.0f / 16.0f, scratch, ref);
        ok = g3_vk_cmd_replay(rec, &err) == G3_OK;
        CHECK(ok, "%s: replay: %s", what, err.msg);
        /* Looser than attn_case: a K entry may round to the other f16 neighbour. */
        if (ok)
            check_close(what, ref, x + ao, QW, 1e-4, 1e-3, 1e-7);
    }
    g3_vk_cmd_free(rec);
    g3_vk_buffer_free(ctx, act);
    g3_vk_buffer_free(ctx, step);
    img_free(&cache), img_free(&sc);
    g3_vk_rope_table_free(table);
    free(qr), free(kc), free(vc), free(ref), free(scratch);
}

int main(void)
{
    g3_err err = {0};
    const g3_vk_options vo = {.validation_fn = on_validation};
    g3_status st = g3_vk_context_create(&vo, &ctx, &err);
    if (st == G3_ERR_NO_DEVICE) {
        printf("SKIPPED: no Vulkan device: %s\n", err.msg);
        return TEST_SKIP;
    }
    REQUIRE(st == G3_OK, "context: %s", err.msg);
    const g3_vk_device_info *d = g3_vk_context_device(ctx);
    printf("device %s, validation %s, subgroup %u\n", d->name,
           g3_vk_validation_enabled(ctx) ? "on" : "OFF", d->subgroup_size);
    REQUIRE(g3_vk_cmd_create(ctx, &cmd, &err) == G3_OK, "cmd: %s", err.msg);
    const g3_vk_ops_options o270 = {.n_head = 4, .n_head_kv = 1, .head_dim = 256};
    REQUIRE(g3_vk_ops_create(ctx, &o270, &ops270, &err) == G3_OK, "ops: %s", err.msg);
    g3_vk_ops_options of = o270;
    of.max_groups_x = 2;
    of.wg_size = 40;       /* not a power of two; 5 subgroups of 8, or 32 + 8 */
    of.select_wg_size = 96;
    g3_vk_ops *folded = NULL;
    REQUIRE(g3_vk_ops_create(ctx, &of, &folded, &err) == G3_OK, "ops: %s", err.msg);

    verbose = getenv("G3_OPS_VERBOSE") && strcmp(getenv("G3_OPS_VERBOSE"), "0");
    const double t0 = g3_time_s();
    test_embed();
    const double t1 = g3_time_s();
    test_rms_norm(folded);
    gelu_case(ops270, 2048, false);
    gelu_case(ops270, 2047, true);
    gelu_case(folded, 1001, true);
    const double t2 = g3_time_s();
    test_rope_kv();
    const double t3 = g3_time_s();
    test_attn();
    chain_case(16, 16, 40);   /* the ring wraps twice */
    chain_case(0, 64, 40);
    const double t4 = g3_time_s();
    test_select(folded);
    test_errors();
    const double t5 = g3_time_s();
    printf("times: embed %.1f s, norm+gelu %.1f s, rope %.1f s, attn %.1f s, select %.1f s; "
           "worst nmse %.3g\n", t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4, worst_nmse);

    CHECK(g3_vk_validation_message_count(ctx) == 0, "%u validation message(s), last: %s",
          g3_vk_validation_message_count(ctx), g3_vk_validation_last_message(ctx));
    g3_vk_ops_free(folded);
    g3_vk_ops_free(ops270);
    g3_vk_cmd_free(cmd);
    g3_vk_context_free(ctx);
    CHECK(atomic_load(&teardown_msgs) == 0,
          "%u validation message(s) including teardown", atomic_load(&teardown_msgs));
    int sel_passed = 0, sel_failed = 0;
    test_select_counts(&sel_passed, &sel_failed);
    test_passed_ += sel_passed;
    test_failed_ += sel_failed;
    return test_finish("test_vk_ops");
}
