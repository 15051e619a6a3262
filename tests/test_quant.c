/* test_quant: the type table, fp16/bf16 conversions, and dequantization, dot
 * products and quantizers checked against llama.cpp's own output in
 * shared/reference/quant-vectors.gguf. The checks that need no shared files
 * always run; the reference part is skipped (and says so) without them. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "gguf.h"
#include "quant.h"
#include "test.h"

static uint32_t f2u(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof(u));
    return u;
}

static float u2f(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof(f));
    return f;
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint32_t rng_u32(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 16);
}

/* Roughly normal, in [-1, 1] scale, with occasional outliers as real weights have. */
static float rng_weight(void)
{
    float s = 0.0f;
    for (int i = 0; i < 4; i++)
        s += (float)(rng_u32() & 0xffffff) / 16777216.0f - 0.5f;
    if ((rng_u32() & 63) == 0)
        s *= 4.0f;
    return s;
}

/* ---------------------------------------------------------------- fp16 / bf16 */

static void test_fp16(void)
{
    CHECK(g3_f32_to_fp16(0.0f) == 0x0000, "+0");
    CHECK(g3_f32_to_fp16(-0.0f) == 0x8000, "-0");
    CHECK(g3_f32_to_fp16(INFINITY) == 0x7c00, "inf");
    CHECK(g3_f32_to_fp16(-INFINITY) == 0xfc00, "-inf");
    CHECK(g3_f32_to_fp16(65504.0f) == 0x7bff, "max");
    CHECK(g3_f32_to_fp16(65519.99f) == 0x7bff, "just below the overflow tie");
    CHECK(g3_f32_to_fp16(65520.0f) == 0x7c00, "tie at max rounds to inf (even)");
    CHECK(g3_f32_to_fp16(1e10f) == 0x7c00, "overflow");
    CHECK(g3_f32_to_fp16(-1e10f) == 0xfc00, "negative overflow");
    CHECK(g3_f32_to_fp16(1.0f) == 0x3c00, "one");
    CHECK(g3_f32_to_fp16(0x1p-14f) == 0x0400, "smallest normal");
    CHECK(g3_f32_to_fp16(0x1p-24f) == 0x0001, "smallest subnormal");
    CHECK(g3_f32_to_fp16(0x1p-25f) == 0x0000, "half the smallest subnormal: tie to even 0");
    CHECK(g3_f32_to_fp16(-0x1p-25f) == 0x8000, "negative tie to -0");
    CHECK(g3_f32_to_fp16(0x1.0001p-25f) == 0x0001, "just above the tie");
    CHECK(g3_f32_to_fp16(0x3p-25f) == 0x0002, "1.5 ulp ties to even 2");
    CHECK(g3_f32_to_fp16(0x5p-25f) == 0x0002, "2.5 ulp ties to even 2");
    CHECK(g3_f32_to_fp16(1023 * 0x1p-24f) == 0x03ff, "largest subnormal");
    CHECK(g3_f32_to_fp16(1.0f + 0x1p-11f) == 0x3c00, "tie below goes to even");
    CHECK(g3_f32_to_fp16(1.0f + 0x3p-11f) == 0x3c02, "tie above goes to even");
    CHECK(g3_f32_to_fp16(0x1p-149f) == 0x0000, "float subnormal underflows");
    uint16_t hn = g3_f32_to_fp16(NAN);
    CHECK((hn & 0x7c00) == 0x7c00 && (hn & 0x03ff) != 0, "nan stays nan: %04x", hn);
    CHECK((g3_f32_to_fp16(u2f(0x7f800001)) & 0x0200) != 0, "signaling nan becomes quiet");

    CHECK(g3_fp16_to_f32(0x0001) == 0x1p-24f, "subnormal decode");
    CHECK(g3_fp16_to_f32(0x03ff) == 1023 * 0x1p-24f, "largest subnormal decode");
    CHECK(g3_fp16_to_f32(0x7bff) == 65504.0f, "max decode");
    CHECK(f2u(g3_fp16_to_f32(0x8000)) == 0x80000000u, "-0 decode");
    CHECK(g3_fp16_to_f32(0xfc00) == -INFINITY, "-inf decode");
    CHECK(isnan(g3_fp16_to_f32(0x7e00)), "nan decode");

    /* Every half survives the round trip (NaNs stay NaN). */
    int bad = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        float f = g3_fp16_to_f32((uint16_t)h);
        uint16_t back = g3_f32_to_fp16(f);
        bool is_nan = (h & 0x7c00) == 0x7c00 && (h & 0x3ff);
        if (is_nan ? !isnan(f) || (back & 0x7fff) <= 0x7c00 : back != h)
            bad++;
    }
    CHECK(bad == 0, "%d halves do not round-trip", bad);

    /* Narrowing is round-to-nearest-even: check random floats against their
     * neighbours, in double. */
    bad = 0;
    for (int i = 0; i < 200000; i++) {
        float f = u2f((rng_u32() & 0x8fffffffu) | (0x30000000u + (rng_u32() % 0x18000000u)));
        if (!isfinite(f) || fabsf(f) >= 65520.0f)
            continue;
        uint16_t h = g3_f32_to_fp16(f);
        double e = fabs((double)f - g3_fp16_to_f32(h));
        for (int dlt = -1; dlt <= 1; dlt += 2) {
            uint16_t nb = (uint16_t)(h + dlt);
            if ((nb & 0x7c00) == 0x7c00 || ((h & 0x7fff) == 0 && dlt < 0))
                continue;
            double en = fabs((double)f - g3_fp16_to_f32(nb));
            if (en < e || (en == e && (nb & 1) == 0))
                bad++;
        }
    }
    CHECK(bad == 0, "%d floats not rounded to nearest even half", bad);
}

static void test_bf16(void)
{
    CHECK(g3_f32_to_bf16(0.0f) == 0x0000, "+0");
    CHECK(g3_f32_to_bf16(-0.0f) == 0x8000, "-0");
    CHECK(g3_f32_to_bf16(INFINITY) == 0x7f80, "inf");
    CHECK(g3_f32_to_bf16(-INFINITY) == 0xff80, "-inf");
    CHECK(g3_f32_to_bf16(u2f(0x3f808000)) == 0x3f80, "tie to even (down)");
    CHECK(g3_f32_to_bf16(u2f(0x3f818000)) == 0x3f82, "tie to even (up)");
    CHECK(g3_f32_to_bf16(u2f(0x3f808001)) == 0x3f81, "above tie");
    CHECK(g3_f32_to_bf16(u2f(0x7f7fffff)) == 0x7f80, "FLT_MAX rounds to inf as ggml");
    CHECK(g3_f32_to_bf16(u2f(0x00010000)) == 0x0001, "subnormal kept (not flushed)");
    CHECK(g3_f32_to_bf16(u2f(0x7f800001)) == 0x7fc0, "signaling nan made quiet");
    CHECK(g3_f32_to_bf16(u2f(0xffc12345)) == 0xffc1, "quiet nan keeps sign and payload");
    CHECK(f2u(g3_bf16_to_f32(0x8000)) == 0x80000000u, "-0 decode");
    CHECK(g3_bf16_to_f32(0x3f80) == 1.0f, "one decode");
    int bad = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        float f = g3_bf16_to_f32((uint16_t)h);
        if (isnan(f) ? !isnan(g3_bf16_to_f32(g3_f32_to_bf16(f))) : g3_f32_to_bf16(f) != h)
            bad++;
    }
    CHECK(bad == 0, "%d bf16 values do not round-trip", bad);
}

/* ---------------------------------------------------------------- type table */

static void test_table(void)
{
    static const struct {
        uint32_t id;
        const char *name;
        uint32_t bs, ts;
    } known[] = {
        {0, "f32", 1, 4},       {1, "f16", 1, 2},        {2, "q4_0", 32, 18},
        {3, "q4_1", 32, 20},    {6, "q5_0", 32, 22},     {7, "q5_1", 32, 24},
        {8, "q8_0", 32, 34},    {10, "q2_K", 256, 84},   {11, "q3_K", 256, 110},
        {12, "q4_K", 256, 144}, {13, "q5_K", 256, 176},  {14, "q6_K", 256, 210},
        {20, "iq4_nl", 32, 18}, {23, "iq4_xs", 256, 136}, {30, "bf16", 1, 2},
    };
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
        const g3_type_info *ti = g3_type_get(known[i].id);
        CHECK(ti->name && strcmp(ti->name, known[i].name) == 0, "name of %u", known[i].id);
        CHECK(ti->block_size == known[i].bs && ti->type_size == known[i].ts, "sizes of %s",
              known[i].name);
        CHECK(ti->supported, "%s supported", known[i].name);
        CHECK(g3_type_from_name(known[i].name) == (int)known[i].id, "from_name %s",
              known[i].name);
        CHECK(strcmp(g3_type_name(known[i].id), known[i].name) == 0, "g3_type_name %s",
              known[i].name);
    }
    int n_supported = 0;
    for (uint32_t t = 0; t < 64; t++)
        n_supported += g3_type_get(t)->supported;
    CHECK(n_supported == 15, "15 supported types, got %d", n_supported);
    CHECK(strcmp(g3_type_name(39), "mxfp4") == 0 && !g3_type_get(39)->supported, "mxfp4");
    CHECK(strcmp(g3_type_name(29), "iq1_m") == 0, "iq1_m");
    CHECK(strcmp(g3_type_name(15), "q8_K") == 0 && g3_type_get(15)->type_size == 292, "q8_K");

    const uint32_t unknown[] = {4, 5, 31, 33, 36, 37, 38, 40, 63, 99, 0xFFFFFFFFu};
    for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
        const g3_type_info *ti = g3_type_get(unknown[i]);
        CHECK(ti != NULL && ti->name == NULL && !ti->supported, "unknown id %u", unknown[i]);
        const char *nm = g3_type_name(unknown[i]);
        CHECK(nm != NULL && nm[0] != 0, "printable name for %u", unknown[i]);
        uint64_t b = 7;
        CHECK(!g3_type_row_bytes(unknown[i], 32, &b) && b == 7, "no row bytes for %u",
              unknown[i]);
        CHECK(!g3_type_can_quantize(unknown[i]), "no quantizer for %u", unknown[i]);
    }
    CHECK(strcmp(g3_type_name(37), "type#37") == 0, "type#37: %s", g3_type_name(37));
    CHECK(strcmp(g3_type_name(4), "type#4") == 0, "type#4: %s", g3_type_name(4));
    CHECK(g3_type_from_name("Q8_0") == 8, "upper case name");
    CHECK(g3_type_from_name("Q4_k") == 12, "mixed case name");
    CHECK(g3_type_from_name("q8") == -1 && g3_type_from_name("q8_00") == -1, "prefixes");
    CHECK(g3_type_from_name("") == -1 && g3_type_from_name(NULL) == -1, "empty / NULL");

    uint64_t b = 0;
    CHECK(g3_type_row_bytes(G3_TYPE_Q8_0, 640, &b) && b == 680, "q8_0 640: %llu",
          (unsigned long long)b);
    CHECK(g3_type_row_bytes(G3_TYPE_Q4_K, 1024, &b) && b == 576, "q4_K 1024");
    CHECK(g3_type_row_bytes(G3_TYPE_F16, 3, &b) && b == 6, "f16 3");
    CHECK(g3_type_row_bytes(G3_TYPE_Q8_0, 0, &b) && b == 0, "zero length");
    CHECK(!g3_type_row_bytes(G3_TYPE_Q8_0, 33, &b), "not a multiple of 32");
    CHECK(!g3_type_row_bytes(G3_TYPE_Q4_K, 640, &b), "640 is not a multiple of 256");
    CHECK(!g3_type_row_bytes(G3_TYPE_F32, UINT64_MAX / 2, &b), "overflow f32");
    CHECK(g3_type_row_bytes(G3_TYPE_F32, UINT64_MAX / 4, &b) && b == (UINT64_MAX / 4) * 4,
          "largest f32 row");
    CHECK(!g3_type_row_bytes(G3_TYPE_Q8_0, (UINT64_MAX / 32) * 32, &b), "overflow q8_0");

    const uint32_t quantizable[] = {0, 1, 30, 8, 2, 3, 6, 7, 20, 12, 13, 14};
    for (size_t i = 0; i < sizeof(quantizable) / sizeof(quantizable[0]); i++)
        CHECK(g3_type_can_quantize(quantizable[i]), "can quantize %s",
              g3_type_name(quantizable[i]));
    float src[256] = {0};
    uint8_t dst[512];
    CHECK(!g3_quantize_row(G3_TYPE_Q2_K, src, dst, 256), "no q2_K quantizer");
    CHECK(!g3_quantize_row(G3_TYPE_Q8_0, src, dst, 31), "q8_0 needs whole blocks");
    CHECK(!g3_quantize_row(99, src, dst, 32), "unknown type");
}

/* ---------------------------------------------------------------- self-consistency */

static double rms_of(const float *a, const float *b, int64_t n)
{
    double s = 0.0;
    for (int64_t i = 0; i < n; i++) {
        double d = (double)a[i] - (b ? b[i] : 0.0f);
        s += d * d;
    }
    return sqrt(s / (double)n);
}

static double dot_ref(const float *a, const float *x, int64_t n)
{
    double s = 0.0;
    for (int64_t i = 0; i < n; i++)
        s += (double)a[i] * x[i];
    return s;
}

/* Quantizes random rows with every quantizer, dequantizes, and checks the
 * error and that g3_dot_row agrees with the dequantized dot. */
static void test_roundtrip(void)
{
    static const struct {
        uint32_t type;
        double max_rel_rmse;
    } cases[] = {
        {G3_TYPE_F32, 0.0},    {G3_TYPE_F16, 1e-3},    {G3_TYPE_BF16, 5e-3},
        {G3_TYPE_Q8_0, 0.01},  {G3_TYPE_Q4_0, 0.15},   {G3_TYPE_Q4_1, 0.12},
        {G3_TYPE_Q5_0, 0.07},  {G3_TYPE_Q5_1, 0.06},   {G3_TYPE_IQ4_NL, 0.12},
        {G3_TYPE_Q4_K, 0.12},  {G3_TYPE_Q5_K, 0.06},   {G3_TYPE_Q6_K, 0.03},
    };
    enum { N = 2048 };
    static float src[N], x[N], deq[N];
    static uint8_t q[N * 4];
    for (int i = 0; i < N; i++) {
        src[i] = rng_weight() * 0.05f;
        x[i] = rng_weight();
    }
    /* A constant block, an all-zero block and a one-sided block stress the
     * degenerate branches. */
    for (int i = 0; i < 256; i++) {
        src[i] = 0.0f;
        src[256 + i] = 0.01f;
        src[512 + i] = fabsf(src[512 + i]) + 0.02f;
    }
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        const uint32_t t = cases[c].type;
        CHECK(g3_quantize_row(t, src, q, N), "quantize %s", g3_type_name(t));
        g3_dequantize_row(t, q, deq, N);
        int finite = 1;
        for (int i = 0; i < N; i++)
            finite &= isfinite(deq[i]) != 0;
        CHECK(finite, "%s: dequantized values finite", g3_type_name(t));
        for (int i = 0; i < 256; i++)
            finite &= deq[i] == 0.0f;
        CHECK(finite, "%s: zero block stays zero", g3_type_name(t));
        double rel = rms_of(deq, src, N) / rms_of(src, NULL, N);
        if (getenv("G3_TEST_VERBOSE"))
            printf("  roundtrip %-7s rel rmse %.4g\n", g3_type_name(t), rel);
        CHECK(rel <= cases[c].max_rel_rmse, "%s: relative rmse %.4g > %.4g", g3_type_name(t),
              rel, cases[c].max_rel_rmse);
        double y = g3_dot_row(t, q, x, N), r = dot_ref(deq, x, N), mag = 0.0;
        for (int i = 0; i < N; i++)
            mag += fabs((double)deq[i] * x[i]);
        CHECK(fabs(y - r) <= 1e-6 * mag, "%s: dot %.9g vs %.9g", g3_type_name(t), y, r);
    }
}

/* Hostile inputs: non-finite floats into every quantizer and random bytes
 * (NaN and inf scales included) into every decoder must not crash or trip
 * the sanitizers; rows at odd addresses must decode like aligned ones. */
static void test_hostile(void)
{
    enum { N = 512 };
    static float src[N], out[N], out2[N], x[N];
    static uint8_t q[N * 4 + 1];
    for (int i = 0; i < N; i++) {
        src[i] = rng_weight();
        x[i] = rng_weight();
    }
    src[3] = NAN;
    src[40] = INFINITY;
    src[77] = -INFINITY;
    src[300] = 3.0e38f;
    src[301] = -3.0e38f;
    src[400] = 1e-40f;
    for (uint32_t t = 0; t < 64; t++) {
        if (!g3_type_can_quantize(t))
            continue;
        CHECK(g3_quantize_row(t, src, q, N), "quantize %s with non-finite input", g3_type_name(t));
        g3_dequantize_row(t, q, out, N);
        (void)g3_dot_row(t, q, x, N);
    }
    int mismatches = 0;
    for (uint32_t t = 0; t < 64; t++) {
        if (!g3_type_get(t)->supported)
            continue;
        uint64_t rb = 0;
        CHECK(g3_type_row_bytes(t, N, &rb) && rb <= N * 4, "row bytes %s", g3_type_name(t));
        for (uint64_t i = 0; i < rb + 1; i++)
            q[i] = (uint8_t)rng_u32();
        g3_dequantize_row(t, q + 1, out, N); /* odd address */
        (void)g3_dot_row(t, q + 1, x, N);
        memmove(q, q + 1, (size_t)rb);
        g3_dequantize_row(t, q, out2, N);
        mismatches += memcmp(out, out2, sizeof(out)) != 0;
    }
    CHECK(mismatches == 0, "%d types decode differently at odd addresses", mismatches);
}

/* ---------------------------------------------------------------- llama.cpp reference */

typedef struct ref_case {
    const char *name;
    bool exact_quantizer; /* ggml's quantizer is plain round-to-nearest: bytes must match */
    double max_rel_rmse;  /* own quantizer: bound on rmse(deq - src) / rms(src); 0 = none */
} ref_case;

static const g3_gguf_tensor *need(const g3_gguf *g, const char *type, const char *what)
{
    char name[64];
    snprintf(name, sizeof(name), "%s.%s", type, what);
    const g3_gguf_tensor *t = g3_gguf_find_tensor(g, name);
    CHECK(t != NULL, "tensor %s missing", name);
    return t;
}

static float *copy_f32(const g3_gguf_tensor *t)
{
    float *p = malloc((size_t)t->n_elems * sizeof(float));
    if (p)
        memcpy(p, t->data, (size_t)t->n_elems * sizeof(float));
    return p;
}

static void test_reference_type(const g3_gguf *g, const ref_case *rc)
{
    const g3_gguf_tensor *tq = need(g, rc->name, "q"), *tsrc = need(g, rc->name, "src"),
                         *tdeq = need(g, rc->name, "deq"), *tx = need(g, rc->name, "x"),
                         *ty = need(g, rc->name, "y");
    if (!tq || !tsrc || !tdeq || !tx || !ty)
        return;
    const int type = g3_type_from_name(rc->name);
    CHECK(type >= 0 && (uint32_t)type == tq->type, "%s: type id %u", rc->name, tq->type);
    if (type < 0 || (uint32_t)type != tq->type)
        return;
    const int64_t nc = tq->ne[0], nr = tq->ne[1];
    uint64_t rb = 0;
    CHECK(g3_type_row_bytes((uint32_t)type, (uint64_t)nc, &rb) && rb * (uint64_t)nr == tq->n_bytes,
          "%s: row bytes", rc->name);
    CHECK(tsrc->n_elems == (uint64_t)(nc * nr) && tdeq->n_elems == tsrc->n_elems &&
              tx->n_elems == (uint64_t)nc && ty->n_elems == (uint64_t)nr,
          "%s: shapes", rc->name);
    if (tsrc->type != G3_TYPE_F32 || tdeq->type != G3_TYPE_F32 || tx->type != G3_TYPE_F32 ||
        ty->type != G3_TYPE_F32 || tsrc->n_elems != (uint64_t)(nc * nr))
        return;

    float *src = copy_f32(tsrc), *deq = copy_f32(tdeq), *x = copy_f32(tx), *y = copy_f32(ty);
    float *mine = malloc((size_t)nc * sizeof(float)), *rt = malloc((size_t)nc * sizeof(float));
    uint8_t *qb = malloc((size_t)rb);
    if (!src || !deq || !x || !y || !mine || !rt || !qb) {
        CHECK(0, "out of memory");
        goto done;
    }
    const uint8_t *q = tq->data;
    int64_t bad_vals = 0, bad_q = 0;
    double max_rel = 0.0, max_cond_rel = 0.0, err_mine = 0.0, err_ggml = 0.0, ss = 0.0;
    double dy2 = 0.0, y2 = 0.0; /* vector relative error ||y - y_ref|| / ||y_ref|| */
    for (int64_t r = 0; r < nr; r++) {
        const uint8_t *qrow = q + (size_t)r * rb;
        g3_dequantize_row((uint32_t)type, qrow, mine, nc);
        for (int64_t i = 0; i < nc; i++) {
            if (f2u(mine[i]) != f2u(deq[r * nc + i])) {
                if (bad_vals < 3)
                    fprintf(stderr, "%s: row %lld col %lld: %.9g (%08x) != ggml %.9g (%08x)\n",
                            rc->name, (long long)r, (long long)i, mine[i], f2u(mine[i]),
                            deq[r * nc + i], f2u(deq[r * nc + i]));
                bad_vals++;
            }
        }
        /* The file has rows whose dot cancels to ~1e-5 of its terms' magnitude,
         * where any float accumulation is off by more than 1e-5 of the result;
         * the bound is therefore on the error relative to sum |deq_i * x_i|
         * (what float rounding scales with), and the plain one is printed. */
        double d = g3_dot_row((uint32_t)type, qrow, x, nc), mag = 0.0;
        for (int64_t i = 0; i < nc; i++)
            mag += fabs((double)deq[r * nc + i] * x[i]);
        double rel = fabs(d - y[r]) / fabs((double)y[r]), crel = fabs(d - y[r]) / mag;
        max_rel = rel > max_rel ? rel : max_rel;
        max_cond_rel = crel > max_cond_rel ? crel : max_cond_rel;
        dy2 += (d - y[r]) * (d - y[r]);
        y2 += (double)y[r] * y[r];

        const float *srow = src + r * nc;
        if (!g3_type_can_quantize((uint32_t)type))
            continue;
        CHECK(g3_quantize_row((uint32_t)type, srow, qb, nc), "%s: quantize", rc->name);
        if (rc->exact_quantizer) {
            if (memcmp(qb, qrow, (size_t)rb) != 0)
                bad_q++;
        }
        g3_dequantize_row((uint32_t)type, qb, rt, nc);
        for (int64_t i = 0; i < nc; i++) {
            double em = (double)rt[i] - srow[i], eg = (double)deq[r * nc + i] - srow[i];
            err_mine += em * em;
            err_ggml += eg * eg;
            ss += (double)srow[i] * srow[i];
        }
    }
    CHECK(bad_vals == 0, "%s: %lld dequantized values differ from ggml", rc->name,
          (long long)bad_vals);
    CHECK(max_cond_rel < 1e-6, "%s: dot error / sum|terms| %.3g", rc->name, max_cond_rel);
    const double vec_rel = sqrt(dy2 / y2);
    CHECK(vec_rel < 1e-5, "%s: matvec relative error ||y - y_ref|| / ||y_ref|| = %.3g", rc->name,
          vec_rel);
    printf("  %-7s dequant %s, matvec rel err %.2e, per-row max rel err %.2e (%.2e of "
           "sum|terms|)",
           rc->name, bad_vals ? "DIFFERS" : "exact", vec_rel, max_rel, max_cond_rel);
    if (g3_type_can_quantize((uint32_t)type)) {
        double rm = sqrt(err_mine / ss), rg = sqrt(err_ggml / ss);
        if (rc->exact_quantizer) {
            CHECK(bad_q == 0, "%s: %lld rows quantize differently from ggml", rc->name,
                  (long long)bad_q);
            printf(", quantize %s", bad_q ? "DIFFERS" : "byte-exact");
        } else {
            CHECK(rm < rc->max_rel_rmse, "%s: relative rmse %.4g above %.4g", rc->name, rm,
                  rc->max_rel_rmse);
            CHECK(rm <= 1.5 * rg, "%s: relative rmse %.4g vs ggml %.4g", rc->name, rm, rg);
        }
        printf(", rel rmse %.4g (ggml %.4g)", rm, rg);
    }
    printf("\n");
done:
    free(src);
    free(deq);
    free(x);
    free(y);
    free(mine);
    free(rt);
    free(qb);
}

static void test_reference(const char *shared)
{
    static const ref_case cases[] = {
        {"f16", true, 0},       {"bf16", true, 0},      {"q8_0", true, 0},
        {"q4_0", true, 0},      {"q4_1", true, 0},      {"q5_0", true, 0},
        {"q5_1", true, 0},      {"iq4_nl", false, 0.16}, {"q2_K", false, 0},
        {"q3_K", false, 0},     {"q4_K", false, 0.11},   {"q5_K", false, 0.06},
        {"q6_K", false, 0.04},  {"iq4_xs", false, 0},
    };
    char path[4096];
    snprintf(path, sizeof(path), "%s/reference/quant-vectors.gguf", shared);
    g3_gguf *g = NULL;
    g3_err err = {0};
    g3_status st = g3_gguf_open(path, &g, &err);
    CHECK(st == G3_OK && g, "open %s: %s", path, err.msg);
    if (!g)
        return;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        test_reference_type(g, &cases[i]);
    g3_gguf_close(g);
}

int main(void)
{
    test_fp16();
    test_bf16();
    test_table();
    test_roundtrip();
    test_hostile();
    const char *shared = test_shared_dir();
    if (shared)
        test_reference(shared);
    else
        printf("SKIPPED: the llama.cpp reference part (quant-vectors.gguf)\n");
    return test_finish("test_quant");
}
