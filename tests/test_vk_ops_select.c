/* test_vk_ops_select.c: part of test_vk_ops (see test_vk_ops.c): 6. argmax and
 * top-k over the logits, 7. the error paths. */
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "g3_shared.h"
#include "quant.h"
#include "test.h"
#include "test_rng.h"
#include "vk_ops_test.h"

/* ---- 6. argmax / top-k ------------------------------------------------------------------ */

typedef struct cand {
    float v;
    uint32_t id;
} cand;

static int cand_cmp(const void *a, const void *b)
{
    const cand *x = a, *y = b;
    if (x->v != y->v)
        return x->v > y->v ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* The host sampler's conventions (NaN -> -inf, +inf -> FLT_MAX, -0 == +0), then the
 * k best by (value desc, id asc). */
static void cpu_select(const float *l, uint32_t n, uint32_t k, uint32_t *out)
{
    cand *c = malloc((size_t)n * sizeof(*c));
    G3_ASSERT(c);
    for (uint32_t i = 0; i < n; i++) {
        float v = l[i];
        v = isnan(v) ? -INFINITY : v == INFINITY ? FLT_MAX : v == 0.0f ? 0.0f : v;
        c[i] = (cand){v, i};
    }
    qsort(c, n, sizeof(*c), cand_cmp);
    for (uint32_t r = 0; r < k; r++) {
        out[2 * r] = c[r].id;
        memcpy(&out[2 * r + 1], &c[r].v, 4);
    }
    free(c);
}

/* k = 0: argmax. */
static void select_case(g3_vk_ops *ops, const char *name, const float *l, uint32_t n, uint32_t k)
{
    const uint32_t kk = k ? k : 1;
    char what[96];
    snprintf(what, sizeof(what), "%s %s n %u", k ? "top-k" : "argmax", name, n);
    if (k)
        snprintf(what + strlen(what), sizeof(what) - strlen(what), " k %u", k);
    const size_t sw =
        (k ? g3_vk_topk_scratch_bytes(ops, n, k) : g3_vk_argmax_scratch_bytes(ops, n)) / 4;
    image li, si, oi;
    img_init(&li, 3 + n + GUARD);
    img_put(&li, 3, l, n);
    img_init(&si, GUARD + sw + GUARD);
    img_init(&oi, GUARD + 2 * kk + GUARD);
    uint32_t *want = malloc(8 * kk), *got = malloc(G3_MAX(li.n, G3_MAX(si.n, oi.n)) * 4);
    G3_ASSERT(want && got);
    cpu_select(l, n, kk, want);
    if (img_upload(&li, "logits") && img_upload(&si, "select scratch") &&
        img_upload(&oi, "select out")) {
        g3_vk_cmd_begin(cmd);
        if (k)
            g3_vk_record_topk(cmd, ops, at(&li, 3), n, k, at(&si, GUARD), at(&oi, GUARD));
        else
            g3_vk_record_argmax(cmd, ops, at(&li, 3), n, at(&si, GUARD), at(&oi, GUARD));
        if (run(what)) {
            const size_t rs[1][2] = {{GUARD, sw}}, ro[1][2] = {{GUARD, 2 * kk}};
            img_fetch(&li, got, NULL, 0, what);
            img_fetch(&si, got, rs, 1, what);
            img_fetch(&oi, got, ro, 1, what);
            int bad = 0;
            for (uint32_t i = 0; i < 2 * kk; i++)
                if (got[GUARD + i] != want[i] && bad++ < 3)
                    fprintf(stderr, "  %s: rank %u %s: got 0x%08x, want 0x%08x\n", what, i / 2,
                            i % 2 ? "value" : "id", got[GUARD + i], want[i]);
            CHECK(bad == 0, "%s: %d of %u words differ", what, bad, 2 * kk);
        }
    }
    free(want), free(got);
    img_free(&li), img_free(&si), img_free(&oi);
}

void test_select(g3_vk_ops *folded)
{
    float *l = malloc((size_t)N_VOCAB * sizeof(float));
    G3_ASSERT(l);
    for (uint32_t i = 0; i < N_VOCAB; i++)
        l[i] = rng_f() * 10.0f;
    select_case(ops270, "random", l, N_VOCAB, 0);
    select_case(ops270, "random", l, N_VOCAB, 1);
    select_case(ops270, "random", l, N_VOCAB, 40);
    select_case(ops270, "random", l, N_VOCAB, 64);
    select_case(folded, "random, folded grid", l, N_VOCAB, 0);
    select_case(folded, "random, folded grid", l, N_VOCAB, 64);
    select_case(ops270, "random", l, N_VOCAB - 5, 17);
    select_case(ops270, "random", l, 100, 64);
    select_case(ops270, "random", l, 1, 0);
    l[N_VOCAB - 1] = 100.0f; /* the best at the last id */
    select_case(ops270, "last", l, N_VOCAB, 0);
    /* Ties everywhere: integers 0..29, the best value held by ~8700 ids. */
    for (uint32_t i = 0; i < N_VOCAB; i++)
        l[i] = (float)(rng_u64() % 30);
    select_case(ops270, "ties", l, N_VOCAB, 0);
    select_case(ops270, "ties", l, N_VOCAB, 64);
    select_case(folded, "ties", l, N_VOCAB, 33);
    /* NaN is -inf, +inf ties FLT_MAX (lowest id wins), -0 ties +0. */
    for (uint32_t i = 0; i < N_VOCAB; i++)
        l[i] = i % 3 ? NAN : -INFINITY;
    select_case(ops270, "nan/-inf", l, N_VOCAB, 0);
    l[9000] = -0.0f, l[7000] = 0.0f, l[5000] = INFINITY, l[3000] = FLT_MAX, l[1000] = 1.0f;
    select_case(ops270, "inf/max/zeros", l, N_VOCAB, 0);
    select_case(ops270, "inf/max/zeros", l, N_VOCAB, 6);
    free(l);
}


/* ---- 7. errors ---------------------------------------------------------------------- */

/* Bad arguments come back from submit as G3_ERR_INVALID_ARG naming the op. */
static void expect_invalid(const char *op)
{
    g3_err err = {0};
    const g3_status st = g3_vk_cmd_submit_wait(cmd, &err);
    CHECK(st == G3_ERR_INVALID_ARG && strstr(err.msg, op), "%s: %s (%s)", op,
          g3_status_string(st), err.msg);
}

void test_errors(void)
{
    g3_err err = {0};
    g3_vk_ops *bad = NULL;
    const g3_vk_ops_options gqa3 = {.n_head = 4, .n_head_kv = 3, .head_dim = 256};
    CHECK(g3_vk_ops_create(ctx, &gqa3, &bad, &err) == G3_ERR_INVALID_ARG && !bad,
          "4:3 heads accepted: %s", err.msg);
    image im;
    img_init(&im, 4096);
    if (!img_upload(&im, "errors"))
        return;
    g3_vk_rope_table *t = NULL;
    REQUIRE_VOID(g3_vk_rope_table_create(ops270, 1e4f, 1.0f, 16, &t, &err) == G3_OK);
    const g3_vk_kv kv = {.buf = im.buf, .k_offset = 0, .v_offset = 256, .n_slots = 1};
    const g3_vk_kv kv_overlap = {.buf = im.buf, .k_offset = 0, .v_offset = 100, .n_slots = 1};
    g3_vk_cmd_begin(cmd); /* q_out overlaps k_in */
    g3_vk_record_rope_kv(cmd, ops270, &(g3_vk_rope_kv_args){
        .pos = at(&im, 0), .act = im.buf, .q_in = 4096, .q_out = 8192, .k_in = 8192 + 1024,
        .k_out = 12288, .v_in = 13312, .n_tokens = 1, .table = t, .kv = &kv});
    expect_invalid("rope_kv");
    g3_vk_cmd_begin(cmd); /* K and V of the cache overlap */
    g3_vk_record_attn(cmd, ops270, &(g3_vk_attn_args){
        .pos = at(&im, 0), .q = at(&im, 1024), .out = at(&im, 2048), .n_tokens = 1,
        .kv = &kv_overlap, .scale = 1.0f});
    expect_invalid("attn");
    g3_vk_cmd_begin(cmd); /* k > 64 */
    g3_vk_record_topk(cmd, ops270, at(&im, 0), 1000, 65, at(&im, 1024), at(&im, 2048));
    expect_invalid("top-k");
    g3_vk_cmd_begin(cmd); /* misaligned offset */
    g3_vk_record_gelu_mul(cmd, ops270, (g3_vk_loc){im.buf, 2}, at(&im, 100), 10, at(&im, 200));
    expect_invalid("gelu_mul");
    g3_vk_cmd_begin(cmd); /* past the end of the buffer */
    g3_vk_record_rms_norm(cmd, ops270, at(&im, 4000), at(&im, 0), 640, 1, 1e-6f, NULL,
                          at(&im, 0));
    expect_invalid("rms_norm");
    g3_vk_cmd_begin(cmd); /* no padding after the piece's last row */
    const g3_vk_rows piece = {im.buf, im.n * 4 - 24 * 680, 0, 24}; /* ends at the end */
    g3_vk_record_embed(cmd, ops270, &(g3_vk_embedding){G3_TYPE_Q8_0, 640, 680, 1, &piece, false},
                       at(&im, 0), 1, 1.0f, at(&im, 0));
    expect_invalid("embed");
    g3_vk_rope_table_free(t);
    img_free(&im);
    g3_vk_ops_free(NULL);
    g3_vk_rope_table_free(NULL);
}

void test_select_counts(int *passed, int *failed)
{
    *passed = test_passed_;
    *failed = test_failed_;
}
