/* ref_ops.c: CPU reference kernels (see ref_ops.h). Written to be checked line
 * by line against gemma3-model.md, not to be fast; only the matvec, which
 * reads every weight once per token, uses the type-specialized dot products. */
#include <math.h>
#include <string.h>

#include "quant.h"
#include "ref_ops.h"

void g3_ref_embed(const g3_weight *emb, const int32_t *tokens, int n, float scale, float *dst)
{
    const int64_t E = emb->ne[0];
    for (int t = 0; t < n; t++) {
        float *row = dst + (int64_t)t * E;
        g3_weight_row_f32(emb, tokens[t], row);
        for (int64_t i = 0; i < E; i++)
            row[i] *= scale;
    }
}

void g3_ref_rms_norm(const float *x, const float *w, int64_t n, float eps, float *y)
{
    double ss = 0.0;
    for (int64_t i = 0; i < n; i++)
        ss += (double)x[i] * x[i];
    const double scale = 1.0 / sqrt(ss / (double)n + (double)eps);
    for (int64_t i = 0; i < n; i++)
        y[i] = (float)(x[i] * scale * w[i]);
}

void g3_ref_matvec(const g3_weight *w, const float *x, int n_tok, float *y, int64_t row0,
                   int64_t row1)
{
    const int64_t cols = w->ne[0], rows = w->ne[1];
    for (int64_t r = row0; r < row1; r++) {
        const void *row = (const uint8_t *)w->data + (uint64_t)r * w->row_bytes;
        for (int t = 0; t < n_tok; t++)
            y[(int64_t)t * rows + r] = (float)g3_dot_row(w->type, row, x + (int64_t)t * cols, cols);
    }
}

void g3_ref_rope(const float *x, float *y, int n_heads, int head_dim, int64_t pos, float base,
                 float pos_scale)
{
    const int half = head_dim / 2;
    const double p = (double)pos * (double)pos_scale;
    for (int h = 0; h < n_heads; h++) {
        const float *xh = x + (int64_t)h * head_dim;
        float *yh = y + (int64_t)h * head_dim;
        for (int i = 0; i < half; i++) {
            const double theta = p * pow((double)base, -2.0 * i / (double)head_dim);
            const double c = cos(theta), s = sin(theta);
            const double a = xh[i], b = xh[i + half];
            yh[i] = (float)(a * c - b * s);
            yh[i + half] = (float)(a * s + b * c);
        }
    }
}

void g3_ref_attention(const float *q, const g3_ref_kv *kv, int n_head, int n_head_kv,
                      int head_dim, int64_t pos, int64_t window, bool global, float scale,
                      double *scratch, float *out)
{
    const int64_t lo = global ? 0 : G3_MAX(0, pos - window + 1);
    const int64_t n = pos - lo + 1;
    const int64_t kv_dim = (int64_t)n_head_kv * head_dim;
    const int group = n_head / n_head_kv;
    double *acc = scratch, *p = scratch + head_dim;
    for (int h = 0; h < n_head; h++) {
        const float *qh = q + (int64_t)h * head_dim;
        const int64_t koff = (int64_t)(h / group) * head_dim;
        double max = -INFINITY;
        for (int64_t j = 0; j < n; j++) {
            const float *kj = kv->k + ((lo + j) % kv->n_slots) * kv_dim + koff;
            double s = 0.0;
            for (int d = 0; d < head_dim; d++)
                s += (double)qh[d] * kj[d];
            p[j] = s * scale;
            max = p[j] > max ? p[j] : max;
        }
        double sum = 0.0;
        for (int64_t j = 0; j < n; j++) {
            p[j] = exp(p[j] - max);
            sum += p[j];
        }
        memset(acc, 0, (size_t)head_dim * sizeof(*acc));
        for (int64_t j = 0; j < n; j++) {
            const float *vj = kv->v + ((lo + j) % kv->n_slots) * kv_dim + koff;
            for (int d = 0; d < head_dim; d++)
                acc[d] += p[j] * vj[d];
        }
        for (int d = 0; d < head_dim; d++)
            out[(int64_t)h * head_dim + d] = (float)(acc[d] / sum);
    }
}

float g3_ref_gelu_tanh(float x)
{
    const double xd = x;
    const double sqrt_2_over_pi = 0.79788456080286535587989211986876;
    return (float)(0.5 * xd * (1.0 + tanh(sqrt_2_over_pi * (xd + 0.044715 * xd * xd * xd))));
}

void g3_ref_gelu_mul(const float *g, const float *u, float *y, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = g3_ref_gelu_tanh(g[i]) * u[i];
}
