/* test_weights.h: random weights of every type for the GPU product tests
 * (test_vk_matvec, test_vk_matmul), drawn from test_rng.h's stream, and the check of
 * a product against its double-precision reference. */
#ifndef G3_TEST_WEIGHTS_H
#define G3_TEST_WEIGHTS_H

#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "quant.h"
#include "test.h"
#include "test_rng.h"

/* One row of type `type` and n columns: quantized from random values (with a random
 * row scale so that block scales vary), or, for the types without a quantizer here
 * (Q2_K, Q3_K, IQ4_XS), random bytes with sane f16 scale fields. */
static inline void make_row(uint32_t type, int64_t n, uint8_t *dst, uint64_t row_bytes, float *tmp)
{
    if (g3_type_can_quantize(type)) {
        const float scale = 0.05f + 0.95f * fabsf(rng_f());
        for (int64_t i = 0; i < n; i++)
            tmp[i] = rng_f() * scale;
        G3_ASSERT(g3_quantize_row(type, tmp, dst, n));
        return;
    }
    for (uint64_t i = 0; i < row_bytes; i++)
        dst[i] = (uint8_t)rng_u64();
    const g3_type_info *ti = g3_type_get(type);
    for (uint64_t b = 0; b < row_bytes / ti->type_size; b++) {
        uint8_t *blk = dst + b * ti->type_size;
        const uint16_t d = g3_f32_to_fp16(0.001f + 0.01f * fabsf(rng_f()));
        const uint16_t dmin = g3_f32_to_fp16(0.001f + 0.005f * fabsf(rng_f()));
        int d_at = 0, dmin_at = -1;
        if (type == G3_TYPE_Q2_K)
            d_at = 80, dmin_at = 82;
        else if (type == G3_TYPE_Q3_K)
            d_at = 108;
        memcpy(blk + d_at, &d, 2); /* little-endian host (quant.c checks) */
        if (dmin_at >= 0)
            memcpy(blk + dmin_at, &dmin, 2);
    }
}

typedef struct host_weight {
    g3_weight w;
    uint8_t *bytes;
    float *deq; /* (rows, cols): the exact values, when asked for; else NULL */
} host_weight;

/* rows random rows of `type` (make_row), and with_deq: their exact dequantization. */
static inline bool make_weight(host_weight *hw, uint32_t type, int64_t cols, int64_t rows,
                               const char *name, bool with_deq)
{
    memset(hw, 0, sizeof(*hw));
    uint64_t rb = 0;
    if (!g3_type_row_bytes(type, (uint64_t)cols, &rb))
        return false;
    hw->bytes = malloc(rb * (uint64_t)rows);
    hw->deq = with_deq ? malloc((size_t)(cols * rows) * sizeof(float)) : NULL;
    float *tmp = malloc((size_t)cols * sizeof(float));
    G3_ASSERT(hw->bytes && (hw->deq || !with_deq) && tmp);
    for (int64_t r = 0; r < rows; r++) {
        make_row(type, cols, hw->bytes + (uint64_t)r * rb, rb, tmp);
        if (with_deq)
            g3_dequantize_row(type, hw->bytes + (uint64_t)r * rb, hw->deq + r * cols, cols);
    }
    free(tmp);
    hw->w = (g3_weight){.name = name, .type = type, .ne = {cols, rows}, .row_bytes = rb,
                        .data = hw->bytes};
    return true;
}

static inline void free_weight(host_weight *hw)
{
    free(hw->bytes);
    free(hw->deq);
}

/* ---- checking a product ------------------------------------------------------------ */

/* Per-element bound: |got - ref| <= K_EPS * FLT_EPSILON * sum|w x| + RTOL * |ref|.
 * An fp32 sum of n terms is within about sqrt(n) eps sum|w x| of the truth in
 * practice (n eps worst case); measured ratios stay below 4 here (see the printed
 * "worst" column), so 8 leaves room without letting a wrong lane pass. */
#define K_EPS 8.0
#define RTOL 1e-6
#define NMSE_MAX 1e-10

static double worst_ratio; /* max |got - ref| / (eps * sum|w x|) seen */

/* NMSE and the per-element bound (style.md snippet 9); NaN counts as bad. */
static inline void check_close(const char *what, const float *ref, const float *got,
                        const double *abs_sum, int64_t n)
{
    double num = 0.0, den = 0.0, worst = 0.0;
    int64_t n_bad = 0, worst_i = 0;
    for (int64_t i = 0; i < n; i++) {
        const double d = (double)got[i] - ref[i];
        num += d * d;
        den += (double)ref[i] * ref[i];
        const double atol = K_EPS * FLT_EPSILON * abs_sum[i];
        if (!(fabs(d) <= atol + RTOL * fabs(ref[i])) && n_bad++ < 3)
            fprintf(stderr, "  %s: y[%" PRId64 "] = %.9g, ref %.9g (sum|wx| %.4g)\n", what, i,
                    got[i], ref[i], abs_sum[i]);
        const double ratio = abs_sum[i] > 0 ? fabs(d) / (FLT_EPSILON * abs_sum[i]) : fabs(d);
        if (!(ratio <= worst)) {
            worst = ratio;
            worst_i = i;
        }
    }
    const double nmse = den > 0 ? num / den : num;
    if (worst > worst_ratio)
        worst_ratio = worst;
    CHECK(n_bad == 0 && nmse <= NMSE_MAX, "%s: %" PRId64 " bad of %" PRId64 ", nmse %.3g, "
          "worst %.3g eps*sum|wx| at %" PRId64, what, n_bad, n, nmse, worst, worst_i);
}

#endif /* G3_TEST_WEIGHTS_H */
