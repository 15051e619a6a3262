/* test_ref_ops: each CPU reference kernel against facts that do not depend on
 * it (closed forms, invariants), and the step graph's executor against itself
 * (one multi-token step == the same tokens one at a time). */
#include <math.h>

#include "quant.h"
#include "ref_exec.h"
#include "test.h"
#include "threadpool.h"
#include "tiny_model.h"

static void test_rms_norm(void)
{
    float x[641], w[641], y[641];
    uint32_t s = 1;
    for (int i = 0; i < 641; i++) {
        x[i] = 3.0f * frand(&s);
        w[i] = 1.0f + 0.1f * frand(&s);
    }
    g3_ref_rms_norm(x, w, 641, 1e-6f, y);
    long double ss = 0;
    for (int i = 0; i < 641; i++)
        ss += (long double)x[i] * x[i];
    const long double sc = 1.0L / sqrtl(ss / 641 + 1e-6L);
    double worst = 0;
    for (int i = 0; i < 641; i++)
        worst = fmax(worst, fabs((double)(y[i] - (float)(x[i] * sc * w[i]))));
    CHECK(worst < 1e-6, "rms_norm max err %g", worst);
    /* With w = 1 the output has unit mean square. */
    for (int i = 0; i < 641; i++)
        w[i] = 1.0f;
    g3_ref_rms_norm(x, w, 641, 0.0f, y);
    double ms = 0;
    for (int i = 0; i < 641; i++)
        ms += (double)y[i] * y[i];
    CHECK(fabs(ms / 641 - 1.0) < 1e-6, "unit mean square %g", ms / 641);
}

static void test_rope(void)
{
    enum { HD = 256, NH = 2 };
    float x[NH * HD], y[NH * HD];
    uint32_t s = 7;
    for (int i = 0; i < NH * HD; i++)
        x[i] = frand(&s);
    g3_ref_rope(x, y, NH, HD, 0, 10000.0f, 1.0f);
    CHECK(!memcmp(x, y, sizeof(x)), "position 0 is the identity");
    /* NEOX pairs (i, i + HD/2): dimension 0 turns by exactly pos radians. */
    g3_ref_rope(x, y, NH, HD, 3, 10000.0f, 1.0f);
    const double c = cos(3.0), sn = sin(3.0);
    CHECK(fabs(y[0] - (x[0] * c - x[128] * sn)) < 1e-6 &&
              fabs(y[128] - (x[0] * sn + x[128] * c)) < 1e-6,
          "dimension 0 pairs with 128 and rotates by pos");
    CHECK(fabs(y[HD + 5] - (x[HD + 5] * cos(3.0 * pow(1e4, -10.0 / 256)) -
                            x[HD + 133] * sin(3.0 * pow(1e4, -10.0 / 256)))) < 1e-6,
          "second head, dimension 5");
    double n0 = 0, n1 = 0;
    for (int i = 0; i < NH * HD; i++) {
        n0 += (double)x[i] * x[i];
        n1 += (double)y[i] * y[i];
    }
    CHECK(fabs(n0 - n1) < 1e-4, "rotation keeps the norm (%g vs %g)", n0, n1);
    /* Linear scaling: position 6 at scale 0.5 equals position 3. */
    float z[NH * HD];
    g3_ref_rope(x, z, NH, HD, 6, 10000.0f, 0.5f);
    CHECK(!memcmp(y, z, sizeof(y)), "pos_scale multiplies the position");
}

static void test_attention(void)
{
    enum { HD = 8, NH = 4, NKV = 2, SLOTS = 16 };
    float k[SLOTS * NKV * HD], v[SLOTS * NKV * HD], q[NH * HD], out[NH * HD];
    double scratch[HD + SLOTS];
    uint32_t s = 3;
    for (int i = 0; i < SLOTS * NKV * HD; i++) {
        k[i] = frand(&s);
        v[i] = frand(&s);
    }
    for (int i = 0; i < NH * HD; i++)
        q[i] = frand(&s);
    g3_ref_kv kv = {.k = k, .v = v, .n_slots = SLOTS};
    /* Position 0 attends only to itself: out = v[0] of the head's KV head. */
    g3_ref_attention(q, &kv, NH, NKV, HD, 0, 4, false, 0.5f, scratch, out);
    double worst = 0;
    for (int h = 0; h < NH; h++)
        for (int d = 0; d < HD; d++)
            worst = fmax(worst, fabs(out[h * HD + d] - v[(h / 2) * HD + d]));
    CHECK(worst < 1e-6, "single position returns v (GQA head h -> KV head h/2): %g", worst);
    /* A zero query gives uniform weights: out = mean of the visible v. */
    memset(q, 0, sizeof(q));
    g3_ref_attention(q, &kv, NH, NKV, HD, 9, 4, false, 1.0f, scratch, out);
    worst = 0;
    for (int d = 0; d < HD; d++) {
        double mean = 0;
        for (int j = 6; j <= 9; j++) /* window 4: positions 6..9 */
            mean += v[j * NKV * HD + d] / 4.0;
        worst = fmax(worst, fabs(out[d] - mean));
    }
    CHECK(worst < 1e-6, "sliding window of 4 at position 9 averages positions 6..9: %g", worst);
    g3_ref_attention(q, &kv, NH, NKV, HD, 9, 4, true, 1.0f, scratch, out);
    worst = 0;
    for (int d = 0; d < HD; d++) {
        double mean = 0;
        for (int j = 0; j <= 9; j++)
            mean += v[j * NKV * HD + d] / 10.0;
        worst = fmax(worst, fabs(out[d] - mean));
    }
    CHECK(worst < 1e-6, "global layer averages positions 0..9: %g", worst);
    /* Ring: position 20 in a ring of 16 slots with window 4 reads slots 1..4. */
    g3_ref_attention(q, &kv, NH, NKV, HD, 20, 4, false, 1.0f, scratch, out);
    worst = 0;
    for (int d = 0; d < HD; d++) {
        double mean = 0;
        for (int j = 17; j <= 20; j++)
            mean += v[(j % SLOTS) * NKV * HD + d] / 4.0;
        worst = fmax(worst, fabs(out[d] - mean));
    }
    CHECK(worst < 1e-6, "ring buffer wraps: %g", worst);
}

static void test_gelu_matvec_embed(void)
{
    /* Reference values of the tanh approximation. */
    CHECK(g3_ref_gelu_tanh(0.0f) == 0.0f, "gelu(0)");
    CHECK(fabs(g3_ref_gelu_tanh(1.0f) - 0.8411920f) < 1e-6, "gelu(1) = %.7f",
          g3_ref_gelu_tanh(1.0f));
    CHECK(fabs(g3_ref_gelu_tanh(-1.0f) + 0.1588080f) < 1e-6, "gelu(-1)");
    CHECK(fabs(g3_ref_gelu_tanh(3.0f) - 2.9963627f) < 1e-6, "gelu(3) = %.7f",
          g3_ref_gelu_tanh(3.0f));

    enum { C = 33, R = 5, T = 2 };
    float w[R * C], x[T * C], y[T * R];
    uint32_t s = 11;
    for (int i = 0; i < R * C; i++)
        w[i] = frand(&s);
    for (int i = 0; i < T * C; i++)
        x[i] = frand(&s);
    g3_weight W = f32_weight(w, C, R);
    g3_ref_matvec(&W, x, T, y, 0, R);
    double worst = 0;
    for (int t = 0; t < T; t++)
        for (int r = 0; r < R; r++) {
            double acc = 0;
            for (int c = 0; c < C; c++)
                acc += (double)w[r * C + c] * x[t * C + c];
            worst = fmax(worst, fabs(y[t * R + r] - acc));
        }
    CHECK(worst < 1e-6, "f32 matvec: %g", worst);

    const int32_t tok[2] = {4, 1};
    float e[2 * C];
    g3_ref_embed(&W, tok, 2, 2.0f, e);
    CHECK(e[0] == 2.0f * w[4 * C] && e[C + 7] == 2.0f * w[1 * C + 7], "embed gathers and scales");
}

static void test_graph_steps(g3_threadpool *pool)
{
    tiny t;
    tiny_init(&t);
    const int32_t toks[7] = {2, 5, 9, 13, 1, 19, 7};
    /* One token per step, logits each time. */
    g3_graph g1, g7;
    REQUIRE_VOID(g3_graph_build(&t.m, 1, 1, &g1, NULL) == G3_OK);
    REQUIRE_VOID(g3_graph_build(&t.m, 7, 7, &g7, NULL) == G3_OK);
    CHECK(g1.n_nodes == 1 + 2 * 18 + 2 && g1.n_body == 1 + 2 * 18, "node count %d", g1.n_nodes);
    for (int i = 0; i < g1.n_tensors; i++)
        for (int j = i + 1; j < g1.n_tensors; j++)
            CHECK(strcmp(g1.tensors[i].name, g1.tensors[j].name), "unique names");
    CHECK(g3_graph_find(&g1, "blk.1.q_rope") >= 0 && g3_graph_find(&g1, "nope") < 0, "find");
    g3_ref_exec e1, e7;
    REQUIRE_VOID(g3_ref_exec_init(&e1, &g1, 16, pool, NULL) == G3_OK);
    REQUIRE_VOID(g3_ref_exec_init(&e7, &g7, 16, NULL, NULL) == G3_OK);
    /* Seven tokens in one step must equal seven single steps: checks causal masking,
     * the window (3) and a sliding ring sized window + n_tokens - 1. */
    g3_ref_exec_run(&e7, toks, 0, true);
    const float *l7 = e7.buf[g7.t_logits];
    double worst = 0;
    for (int i = 0; i < 7; i++) {
        g3_ref_exec_run(&e1, &toks[i], i, true);
        const float *l1 = e1.buf[g1.t_logits];
        for (int v = 0; v < 20; v++)
            worst = fmax(worst, fabs(l1[v] - l7[i * 20 + v]));
        CHECK(isfinite(l1[0]), "finite");
    }
    CHECK(worst < 1e-5, "one 7-token step == seven 1-token steps: %g", worst);
    /* Then a second chunk that continues the cache (positions 7..13). */
    const int32_t more[7] = {3, 3, 8, 17, 4, 0, 11};
    g3_ref_exec_run(&e7, more, 7, true);
    worst = 0;
    for (int i = 0; i < 7; i++) {
        g3_ref_exec_run(&e1, &more[i], 7 + i, true);
        for (int v = 0; v < 20; v++)
            worst = fmax(worst, fabs(e1.buf[g1.t_logits][v] - e7.buf[g7.t_logits][i * 20 + v]));
    }
    CHECK(worst < 1e-5, "second chunk continues the cache: %g", worst);
    g3_ref_exec_free(&e1);
    g3_ref_exec_free(&e7);
    g3_graph_free(&g1);
    g3_graph_free(&g7);
    free(t.blob);
}

int main(void)
{
    test_rms_norm();
    test_rope();
    test_attention();
    test_gelu_matvec_embed();
    g3_threadpool *pool = g3_threadpool_create(3);
    REQUIRE(pool, "threadpool");
    test_graph_steps(pool);
    g3_threadpool_free(pool);
    return test_finish("test_ref_ops");
}
