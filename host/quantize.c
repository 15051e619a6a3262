/* quantize.c: reference quantizers for the types `g3vk synth` writes.
 *
 * Q8_0, Q4_0, Q4_1, Q5_0 and Q5_1 follow ggml's quantize_row_*_ref formulas
 * operation for operation, so their output is byte-identical to ggml's. The
 * others (IQ4_NL, Q4_K, Q5_K, Q6_K) are our own round-to-nearest quantizers
 * with a small scale search: they write ggml's exact block layouts (so that
 * g3_dequantize_row and llama.cpp read them back) but need not pick the same
 * scales as ggml. All inputs are treated as untrusted floats: NaN or inf never
 * reach a float-to-int conversion. */
#include "quant.h"

#include <float.h>
#include <math.h>
#include <string.h>

static inline void g3_wr16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v & 0xff);
    p[1] = (uint8_t)(v >> 8);
}

static inline void g3_wrh(uint8_t *p, float f)
{
    g3_wr16(p, g3_f32_to_fp16(f));
}

/* min(hi, (int)trunc(v)) for v >= lo, as ggml's MIN(15, (int8_t)(x + 8.5f)),
 * but defined for every float (NaN and anything below lo give lo). Identical
 * to ggml's expression wherever that one is defined. */
static inline int g3_trunc_clamp(float v, int lo, int hi)
{
    if (!(v >= (float)lo))
        return lo;
    if (v >= (float)hi)
        return hi;
    return (int)v;
}

/* Nearest integer (halves away from zero, as roundf), clamped to [lo, hi]. */
static inline int g3_round_clamp(float v, int lo, int hi)
{
    if (!(v >= (float)lo)) /* also NaN */
        return lo;
    if (v >= (float)hi)
        return hi;
    return (int)roundf(v);
}

/* ---------------------------------------------------------------- ggml's _ref formulas */

static void g3_quant_q8_0(const float *x, uint8_t *y)
{
    float amax = 0.0f;
    for (int j = 0; j < 32; j++)
        amax = G3_MAX(amax, fabsf(x[j]));
    const float d = amax / 127;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    g3_wrh(y, d);
    for (int j = 0; j < 32; j++)
        y[2 + j] = (uint8_t)(int8_t)g3_round_clamp(x[j] * id, -127, 127);
}

/* The value of largest magnitude, with its sign (the first one on ties). */
static float g3_signed_absmax(const float *x, int n)
{
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < n; j++) {
        if (amax < fabsf(x[j])) {
            amax = fabsf(x[j]);
            max = x[j];
        }
    }
    return max;
}

static void g3_quant_q4_0(const float *x, uint8_t *y)
{
    const float d = g3_signed_absmax(x, 32) / -8;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    g3_wrh(y, d);
    for (int j = 0; j < 16; j++) {
        int a = g3_trunc_clamp(x[j] * id + 8.5f, 0, 15);
        int b = g3_trunc_clamp(x[j + 16] * id + 8.5f, 0, 15);
        y[2 + j] = (uint8_t)(a | (b << 4));
    }
}

static void g3_minmax(const float *x, int n, float *mn, float *mx)
{
    float lo = FLT_MAX, hi = -FLT_MAX;
    for (int j = 0; j < n; j++) {
        if (x[j] < lo)
            lo = x[j];
        if (x[j] > hi)
            hi = x[j];
    }
    *mn = lo;
    *mx = hi;
}

static void g3_quant_q4_1(const float *x, uint8_t *y)
{
    float min, max;
    g3_minmax(x, 32, &min, &max);
    const float d = (max - min) / 15;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    g3_wrh(y, d);
    g3_wrh(y + 2, min);
    for (int j = 0; j < 16; j++) {
        int a = g3_trunc_clamp((x[j] - min) * id + 0.5f, 0, 15);
        int b = g3_trunc_clamp((x[j + 16] - min) * id + 0.5f, 0, 15);
        y[4 + j] = (uint8_t)(a | (b << 4));
    }
}

/* Packs 32 five-bit values as ggml's Q5 blocks: low nibbles in qs (element j
 * and j+16 share byte j), 5th bits in the little-endian u32 qh. */
static void g3_pack_q5(const int *v, uint8_t *qh, uint8_t *qs)
{
    uint32_t h = 0;
    for (int j = 0; j < 16; j++) {
        qs[j] = (uint8_t)((v[j] & 0x0f) | ((v[j + 16] & 0x0f) << 4));
        h |= (uint32_t)((v[j] >> 4) & 1) << j;
        h |= (uint32_t)((v[j + 16] >> 4) & 1) << (j + 16);
    }
    for (int k = 0; k < 4; k++)
        qh[k] = (uint8_t)(h >> (8 * k));
}

static void g3_quant_q5_0(const float *x, uint8_t *y)
{
    const float d = g3_signed_absmax(x, 32) / -16;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    int v[32];
    g3_wrh(y, d);
    for (int j = 0; j < 32; j++)
        v[j] = g3_trunc_clamp(x[j] * id + 16.5f, 0, 31);
    g3_pack_q5(v, y + 2, y + 6);
}

static void g3_quant_q5_1(const float *x, uint8_t *y)
{
    float min, max;
    g3_minmax(x, 32, &min, &max);
    const float d = (max - min) / 31;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    int v[32];
    g3_wrh(y, d);
    g3_wrh(y + 2, min);
    /* ggml has no upper clamp here ((uint8_t)(x0 + 0.5f) stays <= 31 for finite
     * input); ours only matters for non-finite input. */
    for (int j = 0; j < 32; j++)
        v[j] = g3_trunc_clamp((x[j] - min) * id + 0.5f, 0, 31);
    g3_pack_q5(v, y + 4, y + 8);
}

/* ---------------------------------------------------------------- IQ4_NL */

static const int8_t g3_iq4nl_tab[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                        1,    13,   25,  38,  53,  69,  89,  113};

/* Index of the table entry nearest to v (v in table units). */
static int g3_iq4nl_nearest(float v)
{
    if (!(v > -127.0f)) /* also NaN */
        return 0;
    int best = 0;
    float bd = fabsf(v - (float)g3_iq4nl_tab[0]);
    for (int k = 1; k < 16; k++) {
        float dk = fabsf(v - (float)g3_iq4nl_tab[k]);
        if (dk < bd) {
            bd = dk;
            best = k;
        }
    }
    return best;
}

/* Tries scales that map the extreme value onto either end of the table
 * (slightly stretched or squeezed), fits the least-squares scale for each
 * index assignment and keeps the smallest error; then re-picks every index
 * against the fp16-rounded scale that will actually be stored. */
static void g3_quant_iq4_nl(const float *x, uint8_t *y)
{
    const float max = g3_signed_absmax(x, 32);
    float best_d = 0.0f;
    if (max != 0.0f && isfinite(max)) {
        double best_err = INFINITY;
        for (int end = 0; end < 2; end++) {
            const float target = end == 0 ? -127.0f : 113.0f;
            for (int t = -8; t <= 8; t++) {
                const float id = (target + (float)t * (end == 0 ? 1.5f : -1.5f)) / max;
                double sxl = 0.0, sll = 0.0, sxx = 0.0;
                for (int j = 0; j < 32; j++) {
                    double l = g3_iq4nl_tab[g3_iq4nl_nearest(x[j] * id)];
                    sxl += (double)x[j] * l;
                    sll += l * l;
                    sxx += (double)x[j] * x[j];
                }
                if (sll <= 0.0)
                    continue;
                double err = sxx - sxl * sxl / sll;
                if (err < best_err) {
                    best_err = err;
                    best_d = (float)(sxl / sll);
                }
            }
        }
    }
    const uint16_t dh = g3_f32_to_fp16(best_d);
    const float d = g3_fp16_to_f32(dh);
    g3_wr16(y, dh);
    int v[32];
    for (int j = 0; j < 32; j++) {
        int best = 0;
        float be = INFINITY;
        for (int k = 0; k < 16; k++) { /* nearest in dequantized terms, exactly as read back */
            float e = fabsf(x[j] - d * (float)g3_iq4nl_tab[k]);
            if (e < be) {
                be = e;
                best = k;
            }
        }
        v[j] = best;
    }
    for (int j = 0; j < 16; j++)
        y[2 + j] = (uint8_t)(v[j] | (v[j + 16] << 4));
}

/* ---------------------------------------------------------------- K-quants */

/* Fits x ~= a*q - m (q in 0..nmax, m >= 0) for one group of n <= 256 values:
 * tries grids whose step stretches the min..max range by up to +-12% (the
 * plain min/max grid wastes levels on outliers), fits (a, m) by least squares
 * for each and keeps the smallest squared error. */
static void g3_fit_affine(const float *x, int n, int nmax, float *a_out, float *m_out)
{
    float lo, hi;
    g3_minmax(x, n, &lo, &hi);
    if (lo > 0.0f)
        lo = 0.0f; /* m >= 0 in the format: groups above zero keep min 0 */
    if (!(hi > lo) || !isfinite(hi - lo)) {
        *a_out = 0.0f;
        *m_out = isfinite(lo) ? -lo : 0.0f;
        return;
    }
    double best_err = INFINITY, best_a = (hi - lo) / nmax, best_m = -lo;
    for (int t = -6; t <= 6; t++) {
        const float range = (hi - lo) * (1.0f + 0.02f * (float)t);
        const float iscale = (float)nmax / range;
        double sl = 0, sll = 0, sx = 0, sxl = 0;
        int q[256];
        for (int i = 0; i < n; i++) {
            q[i] = g3_round_clamp((x[i] - lo) * iscale, 0, nmax);
            sl += q[i];
            sll += (double)q[i] * q[i];
            sx += x[i];
            sxl += (double)x[i] * q[i];
        }
        /* Unconstrained fit x = a*q + b, then b <= 0 enforced (b = -m). */
        double den = n * sll - sl * sl;
        double a, b;
        if (den > 0.0) {
            a = (n * sxl - sl * sx) / den;
            b = (sx - a * sl) / n;
        } else {
            a = 0.0;
            b = sx / n;
        }
        if (b > 0.0) {
            b = 0.0;
            a = sll > 0.0 ? sxl / sll : 0.0;
        }
        if (a < 0.0)
            continue;
        double err = 0.0;
        for (int i = 0; i < n; i++) {
            double e = a * q[i] + b - x[i];
            err += e * e;
        }
        if (err < best_err) {
            best_err = err;
            best_a = a;
            best_m = -b;
        }
    }
    *a_out = (float)best_a;
    *m_out = (float)best_m;
}

/* Writes the 12-byte 6-bit scale/min packing read by g3_scale_min_k4. */
static void g3_pack_scale_min_k4(const int *sc, const int *mn, uint8_t *q)
{
    for (int j = 0; j < 4; j++) {
        q[j] = (uint8_t)((sc[j] & 63) | ((sc[j + 4] >> 4) << 6));
        q[j + 4] = (uint8_t)((mn[j] & 63) | ((mn[j + 4] >> 4) << 6));
        q[j + 8] = (uint8_t)((sc[j + 4] & 0x0f) | ((mn[j + 4] & 0x0f) << 4));
    }
}

/* Shared by Q4_K (nmax 15) and Q5_K (nmax 31): eight 32-groups with 6-bit
 * scales and mins under fp16 super-scales d and dmin. Writes d, dmin, the
 * scales and the final q values (0..nmax) in element order. */
static void g3_quant_k_affine(const float *x, int nmax, uint8_t *hdr, int *q)
{
    float a[8], m[8], amax = 0.0f, mmax = 0.0f;
    for (int g = 0; g < 8; g++) {
        g3_fit_affine(x + 32 * g, 32, nmax, &a[g], &m[g]);
        amax = G3_MAX(amax, a[g]);
        mmax = G3_MAX(mmax, m[g]);
    }
    const uint16_t dh = g3_f32_to_fp16(amax / 63), mh = g3_f32_to_fp16(mmax / 63);
    const float d = g3_fp16_to_f32(dh), dmin = g3_fp16_to_f32(mh);
    int sc[8], mn[8];
    for (int g = 0; g < 8; g++) {
        sc[g] = d > 0.0f ? g3_round_clamp(a[g] / d, 0, 63) : 0;
        mn[g] = dmin > 0.0f ? g3_round_clamp(m[g] / dmin, 0, 63) : 0;
    }
    g3_wr16(hdr, dh);
    g3_wr16(hdr + 2, mh);
    g3_pack_scale_min_k4(sc, mn, hdr + 4);
    for (int g = 0; g < 8; g++) {
        /* Requantize against the scale and min the reader will use. */
        const float dl = d * (float)sc[g], ml = dmin * (float)mn[g];
        for (int i = 0; i < 32; i++) {
            const float v = x[32 * g + i];
            q[32 * g + i] = dl > 0.0f ? g3_round_clamp((v + ml) / dl, 0, nmax) : 0;
        }
    }
}

static void g3_quant_q4_K(const float *x, uint8_t *y)
{
    int q[256];
    g3_quant_k_affine(x, 15, y, q);
    uint8_t *qs = y + 16;
    for (int c = 0; c < 4; c++) /* 64-chunk c: group 2c in low nibbles, 2c+1 in high */
        for (int l = 0; l < 32; l++)
            qs[32 * c + l] = (uint8_t)(q[64 * c + l] | (q[64 * c + 32 + l] << 4));
}

static void g3_quant_q5_K(const float *x, uint8_t *y)
{
    int q[256];
    g3_quant_k_affine(x, 31, y, q);
    uint8_t *qh = y + 16, *ql = y + 48;
    memset(qh, 0, 32);
    for (int c = 0; c < 4; c++) {
        for (int l = 0; l < 32; l++) {
            const int lo = q[64 * c + l], hi = q[64 * c + 32 + l];
            ql[32 * c + l] = (uint8_t)((lo & 0x0f) | ((hi & 0x0f) << 4));
            qh[l] |= (uint8_t)(((lo >> 4) << (2 * c)) | ((hi >> 4) << (2 * c + 1)));
        }
    }
}

/* Q6_K: sixteen 16-groups, x ~= (d * sc) * q with q in -32..31 and int8 sc. */
static void g3_quant_q6_K(const float *x, uint8_t *y)
{
    float s[16], smax = 0.0f;
    for (int g = 0; g < 16; g++) {
        const float *xg = x + 16 * g;
        const float max = g3_signed_absmax(xg, 16);
        double best_err = INFINITY, best = 0.0;
        if (max != 0.0f && isfinite(max)) {
            for (int t = -6; t <= 6; t++) {
                const float id = (-32.0f + 0.25f * (float)t) / max;
                double sxl = 0, sll = 0, sxx = 0;
                for (int i = 0; i < 16; i++) {
                    int l = g3_round_clamp(xg[i] * id, -32, 31);
                    sxl += (double)xg[i] * l;
                    sll += (double)l * l;
                    sxx += (double)xg[i] * xg[i];
                }
                if (sll <= 0.0)
                    continue;
                double err = sxx - sxl * sxl / sll;
                if (err < best_err) {
                    best_err = err;
                    best = sxl / sll;
                }
            }
        }
        s[g] = (float)best;
        smax = G3_MAX(smax, fabsf(s[g]));
    }
    const uint16_t dh = g3_f32_to_fp16(smax / 127);
    const float d = g3_fp16_to_f32(dh);
    uint8_t *ql = y, *qh = y + 128;
    int8_t sc[16];
    int q[256];
    for (int g = 0; g < 16; g++) {
        sc[g] = (int8_t)(d > 0.0f ? g3_round_clamp(s[g] / d, -127, 127) : 0);
        const float dl = d * (float)sc[g];
        for (int i = 0; i < 16; i++)
            q[16 * g + i] = (dl != 0.0f ? g3_round_clamp(x[16 * g + i] / dl, -32, 31) : 0) + 32;
    }
    memcpy(y + 192, sc, 16);
    g3_wr16(y + 208, dh);
    memset(qh, 0, 64);
    for (int n = 0; n < 2; n++) {
        const int *qn = q + 128 * n;
        for (int l = 0; l < 32; l++) {
            const int q1 = qn[l], q2 = qn[l + 32], q3 = qn[l + 64], q4 = qn[l + 96];
            ql[64 * n + l] = (uint8_t)((q1 & 0x0f) | ((q3 & 0x0f) << 4));
            ql[64 * n + l + 32] = (uint8_t)((q2 & 0x0f) | ((q4 & 0x0f) << 4));
            qh[32 * n + l] = (uint8_t)((q1 >> 4) | ((q2 >> 4) << 2) | ((q3 >> 4) << 4) |
                                       ((q4 >> 4) << 6));
        }
    }
}

/* ---------------------------------------------------------------- dispatch */

typedef void (*g3_quant_block_fn)(const float *x, uint8_t *y);

static g3_quant_block_fn g3_block_quantizer(uint32_t type)
{
    switch (type) {
    case G3_TYPE_Q8_0: return g3_quant_q8_0;
    case G3_TYPE_Q4_0: return g3_quant_q4_0;
    case G3_TYPE_Q4_1: return g3_quant_q4_1;
    case G3_TYPE_Q5_0: return g3_quant_q5_0;
    case G3_TYPE_Q5_1: return g3_quant_q5_1;
    case G3_TYPE_IQ4_NL: return g3_quant_iq4_nl;
    case G3_TYPE_Q4_K: return g3_quant_q4_K;
    case G3_TYPE_Q5_K: return g3_quant_q5_K;
    case G3_TYPE_Q6_K: return g3_quant_q6_K;
    default: return NULL;
    }
}

bool g3_type_can_quantize(uint32_t type)
{
    return type == G3_TYPE_F32 || type == G3_TYPE_F16 || type == G3_TYPE_BF16 ||
           g3_block_quantizer(type) != NULL;
}

bool g3_quantize_row(uint32_t type, const float *src, void *dst, int64_t n)
{
    if (!g3_type_can_quantize(type) || n < 0)
        return false;
    const g3_type_info *ti = g3_type_get(type);
    if (n % ti->block_size != 0)
        return false;
    uint8_t *y = dst;
    switch (type) {
    case G3_TYPE_F32:
        memcpy(dst, src, (size_t)n * sizeof(float));
        return true;
    case G3_TYPE_F16:
        for (int64_t i = 0; i < n; i++)
            g3_wr16(y + 2 * i, g3_f32_to_fp16(src[i]));
        return true;
    case G3_TYPE_BF16:
        for (int64_t i = 0; i < n; i++)
            g3_wr16(y + 2 * i, g3_f32_to_bf16(src[i]));
        return true;
    default:
        break;
    }
    g3_quant_block_fn fn = g3_block_quantizer(type);
    for (int64_t ib = 0; ib < n / ti->block_size; ib++)
        fn(src + ib * ti->block_size, y + (size_t)ib * ti->type_size);
    return true;
}
