/* test_vk_flash_attn.c (label gpu): the chunked flash attention of
 * runtime/vk_flash_attn.h against the CPU reference g3_ref_attention, token by token,
 * under the validation layer when G3_VK_VALIDATION=1 (with synchronization
 * validation): any message fails.
 *
 * Each case fills a KV cache (f16 or f32, a ring on sliding layers) with random keys
 * and values for positions [0, pos + n_tokens) at slot p % n_slots, as rope_kv leaves
 * it, and checks the n_tokens outputs by NMSE and per element against atol + rtol *
 * |ref| (NaN failing), with sentinel guard words around the output, and q and the
 * cache checked untouched. Cases: n_tokens 1, 7, 64 and 512 (the real shape), chunks
 * starting at 0 and mid-context (after an existing conversation, the ring wrapped),
 * token ranges that cross the sliding window's edge, global and sliding layers, f16
 * and f32 caches; 270M's 4:1 GQA at head_dim 256 with the device's defaults and with
 * shared-memory tiles (the GPU path), 8:2 heads at head_dim 64 with windows of 5 and
 * 16 (defaults, and tiles of 3 positions with teams of 2 tokens x 4 lanes, two teams
 * per subgroup and one in a partial subgroup), 2:2 heads at head_dim 36 (one lane per
 * token, no 8-half loads; teams of 3 tokens, and one-position tiles); unaligned q, out
 * and cache offsets (the narrow-load paths); a recording replayed after the position
 * changed on the device; the error paths. G3_OPS_VERBOSE=1 prints every case's NMSE
 * and largest error. Exit 77 only when no Vulkan device exists at all. */
#include <inttypes.h>
#include <math.h>
#include <stdatomic.h>

#include "quant.h"
#include "ref_ops.h"
#include "test.h"
#include "test_rng.h"
#include "vk.h"
#include "vk_flash_attn.h"

#define GUARD 64             /* sentinel words around every output region */
#define SENTINEL 0x7fc0deadu /* a NaN payload no float computation produces */

static g3_vk_context *ctx;
static g3_vk_cmd *cmd;
static atomic_uint teardown_msgs;
static double worst_nmse;
static bool verbose; /* G3_OPS_VERBOSE=1 */

static void on_validation(void *user, bool is_error, const char *msg)
{
    (void)user, (void)is_error, (void)msg;
    atomic_fetch_add(&teardown_msgs, 1);
}

/* ---- device buffers with guarded regions (as test_vk_ops.c) -------------------------- */

typedef struct image {
    uint32_t *w; /* host copy: sentinel except what the test puts */
    size_t n;
    g3_vk_buffer *buf;
} image;

static void img_init(image *im, size_t n_words)
{
    im->n = n_words;
    im->w = malloc(n_words * 4);
    G3_ASSERT(im->w);
    for (size_t i = 0; i < n_words; i++)
        im->w[i] = SENTINEL;
    im->buf = NULL;
}

static bool img_upload(image *im, const char *name)
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

/* Downloads into got and checks that every word outside [skip, skip + n_skip) still
 * equals the uploaded image. */
static bool img_fetch(const image *im, uint32_t *got, size_t skip, size_t n_skip,
                      const char *what)
{
    g3_err err = {0};
    if (g3_vk_buffer_download(ctx, im->buf, 0, got, im->n * 4, &err) != G3_OK) {
        CHECK(0, "%s: download: %s", what, err.msg);
        return false;
    }
    size_t bad = 0, first = 0;
    for (size_t i = 0; i < im->n; i++)
        if ((i < skip || i >= skip + n_skip) && got[i] != im->w[i] && bad++ == 0)
            first = i;
    CHECK(bad == 0, "%s: %zu words outside the output changed (first at %zu: 0x%08x)", what,
          bad, first, bad ? got[first] : 0);
    return true;
}

static void img_free(image *im)
{
    g3_vk_buffer_free(ctx, im->buf);
    free(im->w);
    memset(im, 0, sizeof(*im));
}

static g3_vk_loc at(const image *im, size_t word)
{
    return (g3_vk_loc){im->buf, word * 4};
}

static void check_close(const char *what, const float *ref, const float *got, int64_t n,
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
    if (verbose)
        printf("%-84s nmse %.3g, max |d| %.3g\n", what, nmse, max_d);
    CHECK(n_bad == 0 && nmse <= nmse_max, "%s: %" PRId64 " of %" PRId64 " outside %.2g + %.2g "
          "|ref|, nmse %.3g (max %.2g), max |d| %.3g at %" PRId64, what, n_bad, n, atol, rtol,
          nmse, nmse_max, max_d, worst);
}

/* ---- one case -------------------------------------------------------------------------- */

typedef struct fa_shape {
    g3_vk_flash_attn *fa;
    int H, HKV, HD;
    const char *name;
} fa_shape;

/* Where the tensors sit, in words past the guard: 0 everywhere is 16-byte aligned
 * (the vector paths); odd offsets force the scalar ones. */
typedef struct fa_layout {
    uint32_t q, out, cache;
} fa_layout;

static const fa_layout ALIGNED = {0, 0, 0}, UNALIGNED = {1, 3, 1};

/* The chunk's inputs on the host: cache as stored (f16-rounded for an f16 cache) and
 * unrounded, queries. */
typedef struct fa_data {
    float *k, *v, *kx, *vx, *q; /* (KW, n_slots) x 4, (QW, n_tok) */
} fa_data;

static void data_make(const fa_shape *sh, uint32_t pos, uint32_t n_tok, uint32_t n_slots,
                      bool f32, fa_data *d)
{
    const int KW = sh->HKV * sh->HD, QW = sh->H * sh->HD;
    const size_t ncache = (size_t)KW * n_slots, nq = (size_t)QW * n_tok;
    d->k = calloc(ncache, 4), d->v = calloc(ncache, 4), d->kx = calloc(ncache, 4);
    d->vx = calloc(ncache, 4), d->q = malloc(nq * 4);
    G3_ASSERT(d->k && d->v && d->kx && d->vx && d->q);
    /* Only the positions the ring still holds matter; older ones are overwritten. */
    const uint32_t first = pos + n_tok > n_slots ? pos + n_tok - n_slots : 0;
    for (uint32_t p = first; p < pos + n_tok; p++) {
        const size_t s = (size_t)(p % n_slots) * KW;
        for (int i = 0; i < KW; i++) {
            d->kx[s + i] = rng_f() * 2.0f;
            d->vx[s + i] = rng_f();
            d->k[s + i] = f32 ? d->kx[s + i] : g3_fp16_to_f32(g3_f32_to_fp16(d->kx[s + i]));
            d->v[s + i] = f32 ? d->vx[s + i] : g3_fp16_to_f32(g3_f32_to_fp16(d->vx[s + i]));
        }
    }
    for (size_t i = 0; i < nq; i++)
        d->q[i] = rng_f() * 4.0f; /* scores of a few units: a peaked softmax */
}

static void data_free(fa_data *d)
{
    free(d->k), free(d->v), free(d->kx), free(d->vx), free(d->q);
}

/* ref (QW, n_tok) from the cache as stored (rounded) or unrounded. */
static void reference(const fa_shape *sh, const fa_data *d, uint32_t pos, uint32_t n_tok,
                      uint32_t window, uint32_t n_slots, bool rounded, float *ref)
{
    const int QW = sh->H * sh->HD;
    double *scratch = malloc(((size_t)sh->HD + pos + n_tok) * sizeof(double));
    G3_ASSERT(scratch);
    const g3_ref_kv rk = {.k = rounded ? d->k : d->kx, .v = rounded ? d->v : d->vx,
                          .n_slots = (int)n_slots};
    for (uint32_t t = 0; t < n_tok; t++)
        g3_ref_attention(d->q + (size_t)t * QW, &rk, sh->H, sh->HKV, sh->HD, pos + t, window,
                         window == 0, 1.0f / sqrtf((float)sh->HD), scratch,
                         ref + (size_t)t * QW);
    free(scratch);
}

/* The cache image [G][K][G][V][G] (plus lay.cache words before K) in its element type. */
static void cache_image(image *cache, const fa_data *d, size_t ncache, bool f32, size_t kc,
                        size_t vc)
{
    const size_t cw = f32 ? ncache : ncache / 2;
    img_init(cache, vc + cw + GUARD);
    for (size_t i = 0; i < ncache; i++) {
        if (f32) {
            memcpy(&cache->w[kc + i], &d->k[i], 4);
            memcpy(&cache->w[vc + i], &d->v[i], 4);
        } else {
            const int hs = i % 2 ? 16 : 0; /* element i is half i % 2 of word i / 2 */
            const uint32_t mk = 0xffffu << hs;
            uint32_t *wk = &cache->w[kc + i / 2], *wv = &cache->w[vc + i / 2];
            *wk = (*wk & ~mk) | (uint32_t)g3_f32_to_fp16(d->k[i]) << hs;
            *wv = (*wv & ~mk) | (uint32_t)g3_f32_to_fp16(d->v[i]) << hs;
        }
    }
}

static void fa_case(const fa_shape *sh, uint32_t pos, uint32_t n_tok, uint32_t window,
                    uint32_t n_slots, bool f32, fa_layout lay)
{
    const int HD = sh->HD, KW = sh->HKV * HD, QW = sh->H * HD;
    char what[192];
    snprintf(what, sizeof(what), "flash %s %s pos %u x %u (window %u), %u slots, %s%s",
             sh->name, window ? "sliding" : "global", pos, n_tok, window, n_slots,
             f32 ? "f32" : "f16", lay.q ? ", unaligned" : "");
    const size_t ncache = (size_t)KW * n_slots, nq = (size_t)QW * n_tok;
    fa_data d;
    data_make(sh, pos, n_tok, n_slots, f32, &d);
    float *ref = malloc(nq * 4), *refx = malloc(nq * 4);
    G3_ASSERT(ref && refx);
    reference(sh, &d, pos, n_tok, window, n_slots, true, ref);
    if (!f32)
        reference(sh, &d, pos, n_tok, window, n_slots, false, refx);

    const size_t cw = f32 ? ncache : ncache / 2;
    const size_t kc = GUARD + lay.cache, vc = kc + cw + GUARD;
    image cache, qi, oi, step;
    cache_image(&cache, &d, ncache, f32, kc, vc);
    img_init(&qi, GUARD + lay.q + nq + GUARD);
    memcpy(qi.w + GUARD + lay.q, d.q, nq * 4);
    img_init(&oi, GUARD + lay.out + nq + GUARD);
    img_init(&step, 3);
    step.w[2] = pos;
    uint32_t *got = malloc(oi.n * 4), *tmp = malloc(G3_MAX(cache.n, qi.n) * 4);
    G3_ASSERT(got && tmp);
    if (img_upload(&cache, "kv") && img_upload(&qi, "q") && img_upload(&oi, "out") &&
        img_upload(&step, "step")) {
        const g3_vk_kv kv = {.buf = cache.buf, .k_offset = kc * 4, .v_offset = vc * 4,
                             .n_slots = n_slots, .f32 = f32};
        const g3_vk_attn_args a = {
            .pos = at(&step, 2), .q = at(&qi, GUARD + lay.q), .out = at(&oi, GUARD + lay.out),
            .n_tokens = n_tok, .kv = &kv, .window = window,
            .scale = 1.0f / sqrtf((float)HD),
        };
        g3_err err = {0};
        g3_vk_cmd_begin(cmd);
        g3_vk_record_flash_attn(cmd, sh->fa, &a);
        const bool ok = g3_vk_cmd_submit_wait(cmd, &err) == G3_OK;
        CHECK(ok, "%s: %s", what, err.msg);
        if (ok) {
            img_fetch(&oi, got, GUARD + lay.out, nq, what);
            img_fetch(&cache, tmp, 0, 0, what);
            img_fetch(&qi, tmp, 0, 0, what);
            const float *o = (const float *)got + GUARD + lay.out;
            check_close(what, ref, o, (int64_t)nq, 8e-6, 1e-4, 1e-10);
            if (!f32) { /* f16 storage: relative error ~2^-11 per element */
                snprintf(what + strlen(what), sizeof(what) - strlen(what), " vs unrounded");
                check_close(what, refx, o, (int64_t)nq, 5e-3, 1e-2, 1e-5);
            }
        }
    }
    free(got), free(tmp), free(ref), free(refx);
    img_free(&cache), img_free(&qi), img_free(&oi), img_free(&step);
    data_free(&d);
}

/* ---- a recording replayed at another position ------------------------------------------- */

/* One reusable recording, replayed after only the position in the step buffer changed:
 * nothing about pos may be baked into it. The cache holds positions [0, 40) of a global
 * layer; the chunk's 9 tokens are read at pos 3, then 31. */
static void replay_case(const fa_shape *sh)
{
    const int HD = sh->HD, QW = sh->H * HD;
    const uint32_t n_tok = 9, n_slots = 40, pos[2] = {3, 31};
    const size_t ncache = (size_t)sh->HKV * HD * n_slots, nq = (size_t)QW * n_tok;
    fa_data d;
    data_make(sh, n_slots - n_tok, n_tok, n_slots, false, &d);
    float *ref = malloc(nq * 4);
    G3_ASSERT(ref);
    const size_t cw = ncache / 2, kc = GUARD, vc = kc + cw + GUARD;
    image cache, qi, oi, step;
    cache_image(&cache, &d, ncache, false, kc, vc);
    img_init(&qi, GUARD + nq + GUARD);
    memcpy(qi.w + GUARD, d.q, nq * 4);
    img_init(&oi, GUARD + nq + GUARD);
    img_init(&step, 1);
    uint32_t *got = malloc(oi.n * 4);
    g3_vk_cmd *rec = NULL;
    g3_err err = {0};
    G3_ASSERT(got);
    if (img_upload(&cache, "kv") && img_upload(&qi, "q") && img_upload(&oi, "out") &&
        img_upload(&step, "step")) {
        CHECK(g3_vk_cmd_create(ctx, &rec, &err) == G3_OK, "replay cmd: %s", err.msg);
        const g3_vk_kv kv = {.buf = cache.buf, .k_offset = kc * 4, .v_offset = vc * 4,
                             .n_slots = n_slots};
        const g3_vk_attn_args a = {.pos = at(&step, 0), .q = at(&qi, GUARD),
                                   .out = at(&oi, GUARD), .n_tokens = n_tok, .kv = &kv,
                                   .scale = 1.0f / sqrtf((float)HD)};
        bool ok = rec && g3_vk_cmd_begin_reusable(rec) == G3_OK;
        if (ok) {
            g3_vk_record_flash_attn(rec, sh->fa, &a);
            ok = g3_vk_cmd_end(rec, &err) == G3_OK;
            CHECK(ok, "replay: record: %s", err.msg);
        }
        for (int r = 0; r < 2 && ok; r++) {
            char what[96];
            snprintf(what, sizeof(what), "flash %s replayed at pos %u x %u", sh->name, pos[r],
                     n_tok);
            ok = g3_vk_buffer_upload(ctx, step.buf, 0, &pos[r], 4, &err) == G3_OK &&
                 g3_vk_cmd_replay(rec, &err) == G3_OK;
            CHECK(ok, "%s: %s", what, err.msg);
            if (ok) {
                reference(sh, &d, pos[r], n_tok, 0, n_slots, true, ref);
                img_fetch(&oi, got, GUARD, nq, what);
                check_close(what, ref, (const float *)got + GUARD, (int64_t)nq, 8e-6, 1e-4,
                            1e-10);
            }
        }
    }
    g3_vk_cmd_free(rec);
    free(got), free(ref);
    img_free(&cache), img_free(&qi), img_free(&oi), img_free(&step);
    data_free(&d);
}

/* ---- errors ------------------------------------------------------------------------------ */

static void expect_create(const g3_vk_flash_attn_options *o, g3_status want, const char *what)
{
    g3_vk_flash_attn *fa = (g3_vk_flash_attn *)&ctx; /* must come back NULL */
    g3_err err = {0};
    const g3_status st = g3_vk_flash_attn_create(ctx, o, &fa, &err);
    CHECK(st == want && fa == NULL && (st == G3_OK || err.msg[0]), "create %s: status %d (%s)",
          what, (int)st, err.msg);
    if (verbose)
        printf("create %s: %s\n", what, err.msg);
}

static void test_errors(g3_vk_flash_attn *fa)
{
    expect_create(&(g3_vk_flash_attn_options){.n_head = 3, .n_head_kv = 2, .head_dim = 64},
                  G3_ERR_INVALID_ARG, "3:2 heads");
    expect_create(&(g3_vk_flash_attn_options){.n_head = 4, .n_head_kv = 1, .head_dim = 66},
                  G3_ERR_INVALID_ARG, "head_dim 66");
    expect_create(&(g3_vk_flash_attn_options){.n_head = 4, .n_head_kv = 1, .head_dim = 260},
                  G3_ERR_UNSUPPORTED, "head_dim 260");
    expect_create(&(g3_vk_flash_attn_options){.n_head = 4, .n_head_kv = 1, .head_dim = 256,
                                              .tile = 100000,
                                              .reads = G3_VK_FLASH_ATTN_READS_TILED},
                  G3_ERR_INVALID_ARG, "a tile above shared memory");
    expect_create(&(g3_vk_flash_attn_options){.n_head = 8, .n_head_kv = 1, .head_dim = 64,
                                              .lanes = 3},
                  G3_ERR_INVALID_ARG, "3 lanes per token");
    expect_create(&(g3_vk_flash_attn_options){.n_head = 8, .n_head_kv = 1, .head_dim = 64,
                                              .lanes = 256},
                  G3_ERR_INVALID_ARG, "lanes above the subgroup");
    expect_create(&(g3_vk_flash_attn_options){.n_head = 8, .n_head_kv = 1, .head_dim = 64,
                                              .tokens = 1u << 20},
                  G3_ERR_INVALID_ARG, "a workgroup above the device's limit");
    expect_create(&(g3_vk_flash_attn_options){.n_head = 8, .n_head_kv = 1, .head_dim = 64,
                                              .tokens = 5, .team_tokens = 2},
                  G3_ERR_INVALID_ARG, "tokens per workgroup not whole teams");
    expect_create(&(g3_vk_flash_attn_options){.n_head = 8, .n_head_kv = 1, .head_dim = 64,
                                              .reads = (g3_vk_flash_attn_reads)7},
                  G3_ERR_INVALID_ARG, "an unknown reads mode");

    /* Record-time errors come back from submit, naming the op. */
    g3_err err = {0};
    g3_vk_buffer *buf = NULL;
    REQUIRE_VOID(g3_vk_buffer_create(ctx, 1 << 20, G3_VK_MEMORY_DEVICE, "errors", &buf, &err) ==
                 G3_OK);
    const g3_vk_kv kv = {.buf = buf, .k_offset = 0, .v_offset = 1 << 19, .n_slots = 64};
    const g3_vk_kv big = {.buf = buf, .k_offset = 0, .v_offset = 1 << 19, .n_slots = 4096};
    const uint64_t qb = 4ull * 4 * 256 * 8; /* 8 tokens at 4 x 256 */
    const g3_vk_attn_args ok = {.pos = {buf, 0}, .q = {buf, 1 << 18}, .out = {buf, (1 << 18) + qb},
                                .n_tokens = 8, .kv = &kv, .scale = 0.0625f};
    g3_vk_attn_args bad[4] = {ok, ok, ok, ok};
    bad[0].out.offset = ok.q.offset + 16; /* overlaps q */
    bad[1].kv = &big;                     /* K runs into V */
    bad[2].q.offset = (1 << 20) - 64;     /* q past the buffer's end */
    bad[3].n_tokens = 0;
    const char *names[4] = {"out overlapping q", "K overlapping V", "q past the end",
                            "no token"};
    for (int i = 0; i < 4; i++) {
        g3_vk_cmd_begin(cmd);
        g3_vk_record_flash_attn(cmd, fa, &bad[i]);
        const g3_status st = g3_vk_cmd_submit_wait(cmd, &err);
        CHECK(st == G3_ERR_INVALID_ARG && strstr(err.msg, "flash attn"),
              "%s: status %d (%s)", names[i], (int)st, err.msg);
    }
    g3_vk_buffer_free(ctx, buf);
    g3_vk_flash_attn_free(NULL);
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
    const g3_vk_device_info *dev = g3_vk_context_device(ctx);
    REQUIRE(g3_vk_cmd_create(ctx, &cmd, &err) == G3_OK, "cmd: %s", err.msg);
    verbose = getenv("G3_OPS_VERBOSE") && strcmp(getenv("G3_OPS_VERBOSE"), "0");

    /* 270M with the device's defaults (lavapipe: direct reads, teams of 2 tokens x 8
     * lanes), and tiled (shared-memory tiles: the GPU path); 8:2 heads at head_dim 64
     * with the defaults, and tiled with tiny workgroups (3 teams of 2 tokens x 4 lanes:
     * two teams per subgroup of 8 and one in a partial subgroup) and tiles of 3
     * positions; 2:2 at head_dim 36 (one lane per token: 36 / 4 is odd), direct with
     * teams of 3 tokens, and tiled with one-position tiles. */
    const g3_vk_flash_attn_options o270 = {.n_head = 4, .n_head_kv = 1, .head_dim = 256};
    g3_vk_flash_attn_options o270t = o270;
    o270t.reads = G3_VK_FLASH_ATTN_READS_TILED;
    const g3_vk_flash_attn_options o82 = {.n_head = 8, .n_head_kv = 2, .head_dim = 64};
    const g3_vk_flash_attn_options o82t = {.n_head = 8, .n_head_kv = 2, .head_dim = 64,
                                           .lanes = 4, .team_tokens = 2, .tokens = 6,
                                           .tile = 3, .reads = G3_VK_FLASH_ATTN_READS_TILED};
    const g3_vk_flash_attn_options o22 = {.n_head = 2, .n_head_kv = 2, .head_dim = 36,
                                          .team_tokens = 3, .tokens = 6,
                                          .reads = G3_VK_FLASH_ATTN_READS_DIRECT};
    const g3_vk_flash_attn_options o22t = {.n_head = 2, .n_head_kv = 2, .head_dim = 36,
                                           .tokens = 5, .tile = 1,
                                           .reads = G3_VK_FLASH_ATTN_READS_TILED};
    g3_vk_flash_attn *f270 = NULL, *f270t = NULL, *f82 = NULL, *f82t = NULL, *f22 = NULL,
                     *f22t = NULL;
    REQUIRE(g3_vk_flash_attn_create(ctx, &o270, &f270, &err) == G3_OK, "270M: %s", err.msg);
    REQUIRE(g3_vk_flash_attn_create(ctx, &o270t, &f270t, &err) == G3_OK, "270M: %s", err.msg);
    REQUIRE(g3_vk_flash_attn_create(ctx, &o82, &f82, &err) == G3_OK, "8:2: %s", err.msg);
    REQUIRE(g3_vk_flash_attn_create(ctx, &o82t, &f82t, &err) == G3_OK, "8:2 tiny: %s", err.msg);
    REQUIRE(g3_vk_flash_attn_create(ctx, &o22, &f22, &err) == G3_OK, "2:2: %s", err.msg);
    REQUIRE(g3_vk_flash_attn_create(ctx, &o22t, &f22t, &err) == G3_OK, "2:2 tiled: %s", err.msg);
    const g3_vk_flash_attn_options r270 = g3_vk_flash_attn_get_options(f270);
    const g3_vk_flash_attn_options r270t = g3_vk_flash_attn_get_options(f270t);
    const g3_vk_flash_attn_options r22 = g3_vk_flash_attn_get_options(f22);
    CHECK(r22.lanes == 1 && r22.tokens == 6 && r22.team_tokens == 3,
          "2:2 options: %u lanes, %u tokens, teams of %u", r22.lanes, r22.tokens,
          r22.team_tokens);
    CHECK(r270t.tile >= 1 && 2ull * r270t.tile * 256 * 4 <= dev->max_compute_shared_memory_size,
          "270M tile %u", r270t.tile);
    printf("device %s, validation %s, subgroup %u, shared %u bytes; 270M: %s, %u tokens per "
           "workgroup in teams of %u x %u lanes; tiled: tile %u\n", dev->name,
           g3_vk_validation_enabled(ctx) ? "on" : "OFF", dev->subgroup_size,
           dev->max_compute_shared_memory_size,
           r270.reads == G3_VK_FLASH_ATTN_READS_DIRECT ? "direct" : "tiled", r270.tokens,
           r270.team_tokens, r270.lanes, r270t.tile);

    const fa_shape s270 = {f270, 4, 1, 256, "4:1x256"}, s270t = {f270t, 4, 1, 256, "4:1x256 tiled"},
                   s82 = {f82, 8, 2, 64, "8:2x64"}, s82t = {f82t, 8, 2, 64, "8:2x64 tiny"},
                   s22 = {f22, 2, 2, 36, "2:2x36"}, s22t = {f22t, 2, 2, 36, "2:2x36 tile 1"};
    const double t0 = g3_time_s();
    /* 270M: single tokens, 7 tokens, 64 mid-context, 512 from 0; sliding window 512 with
     * rings of window + n_tokens - 1 slots (g3_plan_kv_slots). */
    fa_case(&s270, 0, 1, 0, 2048, false, ALIGNED);
    fa_case(&s270, 1000, 1, 512, 512, true, UNALIGNED);
    fa_case(&s270, 0, 7, 0, 2048, false, ALIGNED);
    fa_case(&s270, 509, 7, 512, 518, false, ALIGNED); /* the window starts cutting at 512 */
    fa_case(&s270, 900, 64, 0, 2048, true, ALIGNED);
    fa_case(&s270, 700, 64, 512, 575, false, ALIGNED); /* mid-context, the ring wrapped */
    fa_case(&s270, 0, 512, 0, 2048, false, ALIGNED);
    fa_case(&s270, 300, 512, 512, 1023, true, ALIGNED); /* crosses the window at 512 */
    fa_case(&s270t, 509, 7, 512, 518, true, UNALIGNED);
    fa_case(&s270t, 700, 64, 512, 575, false, ALIGNED);
    fa_case(&s270t, 900, 64, 0, 2048, false, ALIGNED);
    const double t1 = g3_time_s();

    /* 8:2 at head_dim 64: windows 5 and 16 crossed many times. */
    for (int f = 0; f < 2; f++) {
        const bool f32 = f == 1;
        fa_case(&s82, 0, 7, 5, 11, f32, ALIGNED);
        fa_case(&s82, 37, 7, 5, 11, f32, UNALIGNED);
        fa_case(&s82, 3, 64, 16, 79, f32, ALIGNED);
        fa_case(&s82, 100, 64, 16, 79, f32, UNALIGNED);
        fa_case(&s82, 100, 64, 0, 256, f32, ALIGNED);
        fa_case(&s82, 41, 1, 16, 16, f32, ALIGNED);
        fa_case(&s82t, 3, 7, 5, 11, f32, ALIGNED);
        fa_case(&s82t, 50, 64, 0, 128, f32, UNALIGNED);
        fa_case(&s82t, 10, 20, 16, 35, f32, ALIGNED);
    }
    /* One head per KV head, head_dim 36 (no 8-half loads, one lane per token). */
    fa_case(&s22, 4, 7, 5, 11, false, UNALIGNED);
    fa_case(&s22, 0, 9, 0, 16, false, UNALIGNED);
    fa_case(&s22, 20, 3, 0, 32, true, ALIGNED);
    fa_case(&s22t, 4, 7, 5, 11, false, UNALIGNED);
    fa_case(&s22t, 30, 12, 0, 64, true, ALIGNED);
    replay_case(&s82);
    replay_case(&s270);
    const double t2 = g3_time_s();
    test_errors(f82);
    printf("times: 270M %.1f s, small shapes %.1f s; worst nmse %.3g\n", t1 - t0, t2 - t1,
           worst_nmse);

    CHECK(g3_vk_validation_message_count(ctx) == 0, "%u validation message(s), last: %s",
          g3_vk_validation_message_count(ctx), g3_vk_validation_last_message(ctx));
    g3_vk_flash_attn_free(f270);
    g3_vk_flash_attn_free(f270t);
    g3_vk_flash_attn_free(f82);
    g3_vk_flash_attn_free(f82t);
    g3_vk_flash_attn_free(f22);
    g3_vk_flash_attn_free(f22t);
    g3_vk_cmd_free(cmd);
    g3_vk_context_free(ctx);
    CHECK(atomic_load(&teardown_msgs) == 0,
          "%u validation message(s) including teardown", atomic_load(&teardown_msgs));
    return test_finish("test_vk_flash_attn");
}
