/* test_sampler.c: the sampling chain of host/sampler.h: option defaults and
 * errors, seed determinism, greedy, each filter on a known distribution,
 * empirical frequencies, penalties, and the partial selection over a
 * 262144-entry vocabulary against a naive full sort. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "sampler.h"
#include "test.h"

#define NV_BIG 262144

static g3_sampler *make(g3_sampler_options o)
{
    g3_sampler *s = NULL;
    g3_err err = {0};
    g3_status st = g3_sampler_create(&o, &s, &err);
    CHECK(st == G3_OK && s, "create: %s", err.msg);
    return s;
}

/* Options with every filter off and temperature 1: the plain softmax. */
static g3_sampler_options plain(uint64_t seed)
{
    g3_sampler_options o = {0};
    o.temp = 1.0f;
    o.top_k = G3_SAMPLER_OFF;
    o.top_p = 1.0f;
    o.min_p = G3_SAMPLER_OFF;
    o.has_seed = true;
    o.seed = seed;
    return o;
}

static uint64_t test_rng = 12345;
static double urand(void)
{
    test_rng = test_rng * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(test_rng >> 11) * 0x1.0p-53;
}
static double nrand(void)
{
    const double u = urand() + 1e-300, v = urand();
    return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

/* Probability of id in a dist, 0 if absent. */
static double prob_of(const g3_sampler_cand *c, int n, int id)
{
    for (int i = 0; i < n; i++)
        if (c[i].id == id)
            return c[i].p;
    return 0.0;
}

static void test_options(void)
{
    g3_sampler_options r;
    g3_err err = {0};
    CHECK(g3_sampler_options_resolve(NULL, &r, &err) == G3_OK, "%s", err.msg);
    CHECK(r.temp == 0.8f && r.top_k == 40 && r.top_p == 0.95f && r.min_p == 0.05f,
          "defaults: temp %g top_k %d top_p %g min_p %g", (double)r.temp, r.top_k,
          (double)r.top_p, (double)r.min_p);
    CHECK(r.repeat_penalty == 1.0f && r.repeat_last_n == 64 && r.frequency_penalty == 0.0f &&
              r.presence_penalty == 0.0f && r.has_seed,
          "penalty defaults");
    g3_sampler_options o = {0};
    o.seed = 0;
    o.has_seed = true;
    CHECK(g3_sampler_options_resolve(&o, &r, NULL) == G3_OK && r.seed == 0, "seed 0 kept");
    o = (g3_sampler_options){.temp = G3_SAMPLER_GREEDY, .top_k = G3_SAMPLER_OFF,
                             .min_p = G3_SAMPLER_OFF, .repeat_last_n = G3_SAMPLER_OFF};
    CHECK(g3_sampler_options_resolve(&o, &r, NULL) == G3_OK && r.temp < 0 && r.top_k == 0 &&
              r.min_p == 0.0f && r.repeat_last_n == 0,
          "off values");

    struct {
        g3_sampler_options o;
        const char *field;
    } bad[] = {
        {{.top_p = -0.1f}, "top_p"},         {{.top_p = 1.5f}, "top_p"},
        {{.top_p = NAN}, "top_p"},           {{.min_p = 1.5f}, "min_p"},
        {{.temp = NAN}, "temp"},             {{.repeat_penalty = -1.0f}, "repeat_penalty"},
        {{.repeat_last_n = G3_SAMPLER_MAX_LAST_N + 1}, "repeat_last_n"},
        {{.frequency_penalty = INFINITY}, "frequency_penalty"},
    };
    for (size_t i = 0; i < G3_ARRAY_LEN(bad); i++) {
        g3_err e = {0};
        g3_sampler *s = (g3_sampler *)&e; /* must come back NULL */
        g3_status st = g3_sampler_create(&bad[i].o, &s, &e);
        CHECK(st == G3_ERR_INVALID_ARG && !s && strstr(e.msg, bad[i].field),
              "bad option %zu: status %d, message '%s' should name %s", i, (int)st, e.msg,
              bad[i].field);
    }
    /* An unseeded sampler reports the seed it picked; two of them differ. */
    g3_sampler *a = make((g3_sampler_options){0}), *b = make((g3_sampler_options){0});
    if (a && b)
        CHECK(g3_sampler_seed(a) != g3_sampler_seed(b), "clock seeds should differ");
    char line[256];
    g3_sampler_describe(a, line, sizeof(line));
    CHECK(strstr(line, "top_k=40") && strstr(line, "dist(seed="), "describe: %s", line);
    g3_sampler_free(a);
    g3_sampler_free(b);
}

static void test_determinism(void)
{
    enum { NV = 1000, DRAWS = 1000 };
    static float logits[NV];
    for (int i = 0; i < NV; i++)
        logits[i] = (float)nrand();
    g3_sampler *a = make(plain(42)), *b = make(plain(42)), *c = make(plain(43));
    REQUIRE_VOID(a && b && c);
    static int32_t seq[DRAWS];
    int same = 1, differ = 0;
    for (int i = 0; i < DRAWS; i++) {
        seq[i] = g3_sampler_sample(a, logits, NV);
        const int32_t tb = g3_sampler_sample(b, logits, NV);
        const int32_t tc = g3_sampler_sample(c, logits, NV);
        same &= seq[i] == tb;
        differ += seq[i] != tc;
        CHECK(seq[i] >= 0 && seq[i] < NV, "draw %d: token %d", i, (int)seq[i]);
    }
    CHECK(same, "same seed must give the same %d draws", DRAWS);
    CHECK(differ > DRAWS / 2, "a different seed should differ (%d of %d differ)", differ, DRAWS);
    /* reset restarts the stream */
    g3_sampler_reset(a);
    int again = 1;
    for (int i = 0; i < DRAWS; i++)
        again &= g3_sampler_sample(a, logits, NV) == seq[i];
    CHECK(again, "reset must repeat the draws");
    g3_sampler_free(a);
    g3_sampler_free(b);
    g3_sampler_free(c);
}

static void test_greedy(void)
{
    float l[8] = {0.5f, 3.0f, -1.0f, 3.0f, 2.9f, NAN, -INFINITY, 1.0f};
    g3_sampler_options o = plain(1);
    o.temp = G3_SAMPLER_GREEDY;
    g3_sampler *s = make(o);
    REQUIRE_VOID(s);
    CHECK(g3_sampler_sample(s, l, 8) == 1, "greedy: argmax with ties to the lowest id");
    l[6] = INFINITY;
    CHECK(g3_sampler_sample(s, l, 8) == 6, "greedy: +inf wins");
    const g3_sampler_cand *c;
    int n;
    CHECK(g3_sampler_dist(s, l, 8, &c, &n) == G3_OK && n == 1 && c[0].id == 6 && c[0].p == 1.0f,
          "greedy dist is one candidate");
    float none[3] = {NAN, -INFINITY, NAN};
    CHECK(g3_sampler_sample(s, none, 3) == -1 && strstr(g3_sampler_last_error(s), "finite"),
          "no finite logit: %s", g3_sampler_last_error(s));
    CHECK(g3_sampler_sample(s, NULL, 3) == -1 && g3_sampler_sample(s, l, 0) == -1, "bad args");
    CHECK(g3_sampler_sample(s, l, 8) == 6 && g3_sampler_last_error(s)[0] == 0,
          "the error clears on success");
    g3_sampler_free(s);
}

/* Logits log(p) for a known distribution over 10 ids (shuffled order). */
static const int order10[10] = {7, 2, 9, 0, 5, 3, 8, 1, 6, 4};
static const double p10[10] = {0.30, 0.20, 0.15, 0.10, 0.08, 0.07, 0.05, 0.03, 0.015, 0.005};
static void known10(float *l)
{
    for (int r = 0; r < 10; r++)
        l[order10[r]] = (float)log(p10[r]);
}

static void test_filters(void)
{
    float l[10];
    known10(l);
    const g3_sampler_cand *c;
    int n;

    /* top-k keeps exactly k: the k most likely, renormalized. */
    for (int k = 1; k <= 10; k++) {
        g3_sampler_options o = plain(1);
        o.top_k = k;
        g3_sampler *s = make(o);
        REQUIRE_VOID(s);
        REQUIRE_VOID(g3_sampler_dist(s, l, 10, &c, &n) == G3_OK);
        CHECK(n == k, "top_k=%d kept %d", k, n);
        double mass = 0;
        for (int r = 0; r < k; r++)
            mass += p10[r];
        /* Sorted when the filter ran (k < n_vocab); k = n_vocab is a no-op. */
        for (int r = 0; r < k && r < n; r++) {
            CHECK(k == 10 || c[r].id == order10[r], "top_k=%d rank %d: id %d", k, r,
                  (int)c[r].id);
            CHECK(fabs(prob_of(c, n, order10[r]) - p10[r] / mass) < 1e-6, "top_k=%d rank %d", k,
                  r);
        }
        g3_sampler_free(s);
    }

    /* top-p keeps the smallest prefix whose mass reaches p, with and without top_k. */
    const struct {
        float p;
        int keep;
    } tp[] = {{0.25f, 1}, {0.45f, 2}, {0.55f, 3}, {0.70f, 4}, {0.80f, 5}, {0.99f, 9}, {1.0f, 10}};
    for (size_t i = 0; i < G3_ARRAY_LEN(tp); i++) {
        for (int with_k = 0; with_k < 2; with_k++) {
            g3_sampler_options o = plain(1);
            o.top_p = tp[i].p;
            /* top_k 9 takes the sorted path; its renormalization moves no cut here */
            o.top_k = with_k ? 9 : G3_SAMPLER_OFF;
            g3_sampler *s = make(o);
            REQUIRE_VOID(s);
            REQUIRE_VOID(g3_sampler_dist(s, l, 10, &c, &n) == G3_OK);
            const int want = with_k ? G3_MIN(tp[i].keep, 9) : tp[i].keep;
            CHECK(n == want, "top_p=%g (top_k %d) kept %d, want %d", (double)tp[i].p, o.top_k,
                  n, want);
            for (int r = 0; r < n && tp[i].p < 1.0f; r++)
                CHECK(prob_of(c, n, order10[r]) > 0, "top_p rank %d missing", r);
            g3_sampler_free(s);
        }
    }

    /* min-p drops what is below min_p * max: 0.3 * 0.2 = 0.06 keeps 0.07 and up. */
    {
        g3_sampler_options o = plain(1);
        o.min_p = 0.2f;
        g3_sampler *s = make(o);
        REQUIRE_VOID(s);
        REQUIRE_VOID(g3_sampler_dist(s, l, 10, &c, &n) == G3_OK);
        CHECK(n == 6, "min_p=0.2 kept %d, want 6", n);
        for (int r = 0; r < 10; r++)
            CHECK((prob_of(c, n, order10[r]) > 0) == (r < 6), "min_p: rank %d", r);
        g3_sampler_free(s);
    }

    /* Temperature: p^(1/T), renormalized. */
    const float temps[] = {0.5f, 1.0f, 2.0f};
    for (size_t ti = 0; ti < G3_ARRAY_LEN(temps); ti++) {
        g3_sampler_options o = plain(7);
        o.temp = temps[ti];
        g3_sampler *s = make(o);
        REQUIRE_VOID(s);
        REQUIRE_VOID(g3_sampler_dist(s, l, 10, &c, &n) == G3_OK && n == 10);
        double want[10], z = 0;
        for (int r = 0; r < 10; r++)
            z += want[r] = pow(p10[r], 1.0 / temps[ti]);
        for (int r = 0; r < 10; r++) {
            want[r] /= z;
            CHECK(fabs(prob_of(c, n, order10[r]) - want[r]) < 1e-6, "temp %g rank %d",
                  (double)temps[ti], r);
        }
        if (ti == 0)
            CHECK(prob_of(c, n, order10[0]) > p10[0], "low temperature sharpens");
        if (ti == 2)
            CHECK(prob_of(c, n, order10[0]) < p10[0], "high temperature flattens");

        /* Empirical frequencies: Pearson chi-square over the 10 ids (9 degrees
         * of freedom; 40 is far beyond the 0.9999 quantile, 33.7). */
        enum { DRAWS = 200000 };
        long cnt[10] = {0};
        for (int d = 0; d < DRAWS; d++) {
            const int32_t t = g3_sampler_sample(s, l, 10);
            if (t >= 0 && t < 10)
                cnt[t]++;
        }
        double chi2 = 0;
        for (int r = 0; r < 10; r++) {
            const double e = want[r] * DRAWS;
            chi2 += (cnt[order10[r]] - e) * (cnt[order10[r]] - e) / e;
        }
        CHECK(chi2 < 40.0, "temp %g: chi-square %.2f over %d draws", (double)temps[ti], chi2,
              DRAWS);
        g3_sampler_free(s);
    }
}

static void test_penalties(void)
{
    const float l[6] = {2.0f, -2.0f, 1.0f, 0.5f, 0.0f, -0.5f};
    float copy[6];
    memcpy(copy, l, sizeof(l));
    const g3_sampler_cand *c;
    int n;

    struct {
        float rep, freq, pres;
        float want[6];
    } cases[] = {
        /* history 0, 1, 0, 3 with last_n 3: window {1, 0, 3}, counts 0:1 1:1 3:1 */
        {2.0f, 0.0f, 0.0f, {1.0f, -4.0f, 1.0f, 0.25f, 0.0f, -0.5f}},
        {1.0f, 0.5f, 0.0f, {1.5f, -2.5f, 1.0f, 0.0f, 0.0f, -0.5f}},
        {1.0f, 0.0f, 0.25f, {1.75f, -2.25f, 1.0f, 0.25f, 0.0f, -0.5f}},
        {2.0f, 0.5f, 0.25f, {0.25f, -4.75f, 1.0f, -0.5f, 0.0f, -0.5f}},
    };
    for (size_t i = 0; i < G3_ARRAY_LEN(cases); i++) {
        g3_sampler_options o = plain(1);
        o.repeat_penalty = cases[i].rep;
        o.frequency_penalty = cases[i].freq;
        o.presence_penalty = cases[i].pres;
        o.repeat_last_n = 3;
        g3_sampler *s = make(o);
        REQUIRE_VOID(s);
        const int32_t hist[] = {0, 1, 0, 3};
        for (int h = 0; h < 4; h++)
            g3_sampler_accept(s, hist[h]);
        REQUIRE_VOID(g3_sampler_dist(s, l, 6, &c, &n) == G3_OK && n == 6);
        for (int t = 0; t < 6; t++)
            CHECK(c[t].id == t && fabsf(c[t].logit - cases[i].want[t]) < 1e-6f,
                  "case %zu token %d: logit %g, want %g", i, t, (double)c[t].logit,
                  (double)cases[i].want[t]);
        /* reset clears the history */
        g3_sampler_reset(s);
        REQUIRE_VOID(g3_sampler_dist(s, l, 6, &c, &n) == G3_OK);
        CHECK(c[0].logit == 2.0f && c[1].logit == -2.0f, "after reset: no penalty");
        g3_sampler_free(s);
    }
    /* Counts within the window: last_n 4 of (5, 0, 0, 1, 99) is 0 twice, 1, 99. */
    g3_sampler_options o = plain(1);
    o.frequency_penalty = 0.5f;
    o.repeat_last_n = 4;
    g3_sampler *s = make(o);
    REQUIRE_VOID(s);
    const int32_t hist[] = {5, 0, 0, 1, 99 /* outside the vocabulary: ignored */};
    for (int h = 0; h < 5; h++)
        g3_sampler_accept(s, hist[h]);
    REQUIRE_VOID(g3_sampler_dist(s, l, 6, &c, &n) == G3_OK);
    CHECK(c[0].logit == 1.0f && c[1].logit == -2.5f && c[5].logit == -0.5f,
          "window of 4: %g %g %g", (double)c[0].logit, (double)c[1].logit, (double)c[5].logit);
    /* Greedy after penalties: a repeated argmax loses. */
    g3_sampler_free(s);
    o.temp = G3_SAMPLER_GREEDY;
    o.frequency_penalty = 0.0f;
    o.repeat_penalty = 4.0f;
    s = make(o);
    REQUIRE_VOID(s);
    g3_sampler_accept(s, 0);
    CHECK(g3_sampler_sample(s, l, 6) == 2, "greedy after repeat penalty picks token 2");
    g3_sampler_free(s);
    CHECK(memcmp(copy, l, sizeof(l)) == 0, "the caller's logits are untouched");
}

/* ---- partial selection against a naive full sort ---------------------------- */

typedef struct {
    int32_t id;
    float logit;
} ref_cand;

static int ref_cmp(const void *pa, const void *pb)
{
    const ref_cand *a = pa, *b = pb;
    if (a->logit != b->logit)
        return a->logit > b->logit ? -1 : 1;
    return (a->id > b->id) - (a->id < b->id);
}

/* The chain done the obvious way: sort everything, then cut. */
static int naive(const float *l, int nv, int top_k, double top_p, double min_p, ref_cand *out)
{
    for (int i = 0; i < nv; i++)
        out[i] = (ref_cand){i, l[i]};
    qsort(out, (size_t)nv, sizeof(*out), ref_cmp);
    int n = top_k > 0 && top_k < nv ? top_k : nv;
    if (top_p < 1.0) {
        double sum = 0, cum = 0;
        for (int i = 0; i < n; i++)
            sum += exp((double)out[i].logit - out[0].logit);
        for (int i = 0; i < n; i++) {
            cum += exp((double)out[i].logit - out[0].logit) / sum;
            if (cum >= top_p) {
                n = i + 1;
                break;
            }
        }
    }
    if (min_p > 0) {
        int m = 0;
        while (m < n && (double)out[m].logit >= out[0].logit + log(min_p))
            m++;
        n = m;
    }
    return n;
}

static void test_big_vocab(void)
{
    float *l = malloc(NV_BIG * sizeof(*l));
    ref_cand *ref = malloc(NV_BIG * sizeof(*ref));
    REQUIRE_VOID(l && ref);
    const struct {
        const char *name;
        int top_k;
        float top_p, min_p;
        int shape; /* 0 gaussian, 1 ties, 2 flat, 3 gaussian and 4 flat with 1/8 at -inf */
    } cases[] = {
        {"top_p=0.9", G3_SAMPLER_OFF, 0.9f, G3_SAMPLER_OFF, 0},
        {"top_p=0.9 ties", G3_SAMPLER_OFF, 0.9f, G3_SAMPLER_OFF, 1},
        {"top_p=0.5 flat", G3_SAMPLER_OFF, 0.5f, G3_SAMPLER_OFF, 2},
        {"top_p=0.999", G3_SAMPLER_OFF, 0.999f, G3_SAMPLER_OFF, 0},
        {"top_k=40", 40, 1.0f, G3_SAMPLER_OFF, 1},
        {"defaults", 0, 0.0f, 0.0f, 0},
        {"top_p=0.95 min_p=0.01", G3_SAMPLER_OFF, 0.95f, 0.01f, 0},
        {"min_p=0.05", G3_SAMPLER_OFF, 1.0f, 0.05f, 1},
        {"top_p=0.9 masked", G3_SAMPLER_OFF, 0.9f, G3_SAMPLER_OFF, 3},
        {"top_p=0.3 masked flat", G3_SAMPLER_OFF, 0.3f, G3_SAMPLER_OFF, 4},
    };
    for (size_t ci = 0; ci < G3_ARRAY_LEN(cases); ci++) {
        for (int i = 0; i < NV_BIG; i++) {
            const double g = 2.5 * nrand();
            const int sh = cases[ci].shape;
            l[i] = sh == 2 || sh == 4 ? 0.0f
                   : sh == 1          ? (float)(floor(g * 4.0) / 4.0)
                                      : (float)g;
            if (sh >= 3 && i % 8 == 3)
                l[i] = -INFINITY;
        }
        g3_sampler_options o = plain(5);
        o.top_k = cases[ci].top_k;
        o.top_p = cases[ci].top_p;
        o.min_p = cases[ci].min_p;
        g3_sampler_options r;
        REQUIRE_VOID(g3_sampler_options_resolve(&o, &r, NULL) == G3_OK);
        g3_sampler *s = make(o);
        REQUIRE_VOID(s);
        const g3_sampler_cand *c;
        int n;
        REQUIRE_VOID(g3_sampler_dist(s, l, NV_BIG, &c, &n) == G3_OK);
        const int want = naive(l, NV_BIG, r.top_k, r.top_p, r.min_p, ref);
        CHECK(n == want, "%s: kept %d, the full sort keeps %d", cases[ci].name, n, want);
        /* Same candidates (the order is unspecified). */
        int bad = 0;
        int *seen = calloc(NV_BIG, sizeof(int));
        REQUIRE_VOID(seen);
        for (int i = 0; i < n; i++)
            seen[c[i].id] = 1;
        for (int i = 0; i < want; i++)
            bad += !seen[ref[i].id];
        free(seen);
        CHECK(bad == 0, "%s: %d candidates differ from the full sort", cases[ci].name, bad);
        double psum = 0;
        for (int i = 0; i < n; i++)
            psum += c[i].p;
        CHECK(fabs(psum - 1.0) < 1e-4, "%s: probabilities sum to %g", cases[ci].name, psum);
        const int32_t t = g3_sampler_sample(s, l, NV_BIG);
        CHECK(t >= 0 && prob_of(c, n, t) > 0, "%s: drew %d, not a candidate", cases[ci].name,
              (int)t);
        printf("  %-22s %6d candidates\n", cases[ci].name, n);
        g3_sampler_free(s);
    }
    free(l);
    free(ref);
}

int main(void)
{
    test_options();
    test_determinism();
    test_greedy();
    test_filters();
    test_penalties();
    test_big_vocab();
    return test_finish("test_sampler");
}
