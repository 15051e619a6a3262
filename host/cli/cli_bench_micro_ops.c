/* cli_bench_micro_ops.c: the cases of `g3vk bench --micro` (see cli_bench_micro.c):
 * each builds its inputs, records the kernel once, checks the result against the
 * CPU reference (host/ref_ops.h) and hands the recording to g3_micro_report. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli_bench_micro.h"
#include "quant.h"
#include "ref_ops.h"

/* ---- weights ------------------------------------------------------------------------ */

/* One random row of `type`: quantized from random values where the type has a
 * quantizer here, else random bytes with finite f16 scales (Q2_K, Q3_K, IQ4_XS). */
static void random_row(g3_micro *m, uint32_t type, int64_t cols, uint8_t *dst, uint64_t rb,
                       float *tmp)
{
    if (g3_type_can_quantize(type)) {
        for (int64_t i = 0; i < cols; i++)
            tmp[i] = g3_micro_rnd(m) * 0.5f;
        g3_quantize_row(type, tmp, dst, cols);
        return;
    }
    for (uint64_t i = 0; i < rb; i++)
        dst[i] = (uint8_t)(g3_micro_rnd(m) * 128 + 128);
    const uint32_t bs = g3_type_get(type)->type_size;
    const int d_at = type == G3_TYPE_Q2_K ? 80 : type == G3_TYPE_Q3_K ? 108 : 0;
    for (uint64_t b = 0; b < rb / bs; b++) {
        const uint16_t d = g3_f32_to_fp16(0.002f + 0.01f * fabsf(g3_micro_rnd(m)));
        memcpy(dst + b * bs + d_at, &d, 2);
        if (type == G3_TYPE_Q2_K)
            memcpy(dst + b * bs + 82, &d, 2); /* dmin */
    }
}

/* cols x rows of `type`: G3_MICRO_POOL_ROWS random rows, repeated. */
static bool make_weight(g3_micro *m, uint32_t type, int64_t cols, int64_t rows, g3_weight *w,
                        const char *name)
{
    uint64_t rb = 0;
    if (!g3_type_row_bytes(type, (uint64_t)cols, &rb))
        return false;
    uint8_t *bytes = malloc(rb * (uint64_t)rows);
    float *tmp = malloc((size_t)cols * sizeof(float));
    if (!bytes || !tmp) {
        free(bytes);
        free(tmp);
        return false;
    }
    for (int64_t r = 0; r < rows; r++)
        if (r < G3_MICRO_POOL_ROWS)
            random_row(m, type, cols, bytes + (uint64_t)r * rb, rb, tmp);
        else
            memcpy(bytes + (uint64_t)r * rb, bytes + (uint64_t)(r % G3_MICRO_POOL_ROWS) * rb, rb);
    free(tmp);
    *w = (g3_weight){.name = name, .type = type, .ne = {cols, rows}, .row_bytes = rb,
                     .data = bytes};
    return true;
}

/* ---- matrix products and embedding ------------------------------------------------------ */

/* y = W x for n_tokens tokens: the matvec kernel for one token, the matmul kernel
 * (prefill) for more. Checked on rows [0, part) and the last part rows (both
 * pieces of a split table, without a minute of reference work on the LM head). */
void g3_micro_product(g3_micro *m, uint32_t type, const g3_micro_shape *s, uint32_t n_tokens,
                      g3_vk_weight **keep, g3_weight *keep_host)
{
    const char *op = n_tokens > 1 ? "matmul" : "matvec";
    const int64_t T = n_tokens, cols = s->cols, rows = s->rows;
    g3_weight w = {0};
    g3_vk_weight *vw = NULL;
    g3_vk_buffer *bx = NULL, *by = NULL;
    char shape[64];
    snprintf(shape, sizeof(shape), "%lldx%lld%s%s", (long long)cols, (long long)rows,
             T > 1 ? "" : " ", T > 1 ? "" : s->what);
    if (T > 1)
        snprintf(shape + strlen(shape), sizeof(shape) - strlen(shape), " x %lld tok",
                 (long long)T);
    uint64_t rb;
    if (!g3_type_row_bytes(type, (uint64_t)cols, &rb)) {
        char why[64];
        snprintf(why, sizeof(why), "n/a (%lld cols, blocks of %u)", (long long)cols,
                 g3_type_get(type)->block_size);
        g3_micro_skip(m, op, g3_type_name(type), shape, why);
        return;
    }
    float *x = g3_micro_vec(m, (size_t)(cols * T)), *y = malloc((size_t)(rows * T) * 4);
    float *ref = malloc((size_t)(rows * T) * sizeof(float));
    g3_err e = {0};
    if (!x || !y || !ref || !make_weight(m, type, cols, rows, &w, "micro weight")) {
        fprintf(stderr, "g3vk bench --micro: out of memory\n");
        m->fails++;
        goto out;
    }
    if (g3_vk_weight_upload(m->mv, &w, NULL, NULL, &vw, &e) != G3_OK ||
        (T > 1 && g3_vk_matmul_prepare(m->mm, vw, &e) != G3_OK)) {
        fprintf(stderr, "g3vk bench --micro: %s\n", e.msg);
        m->fails++;
        goto out_w;
    }
    if (!(bx = g3_micro_buf(m, x, (size_t)(cols * T), "x")) ||
        !(by = g3_micro_buf(m, NULL, (size_t)(rows * T), "y")))
        goto out_w;
    g3_micro_begin(m);
    if (T > 1)
        g3_vk_matmul_record(m->cmd, m->mm, vw, bx, 0, by, 0, n_tokens);
    else
        g3_vk_matvec_record(m->cmd, vw, bx, 0, by, 0, 1);
    if (!g3_micro_run(m, shape) || !g3_micro_download(m, by, 0, y, (uint64_t)(rows * T) * 4))
        goto out_w;
    const int64_t part = G3_MIN(rows, T > 1 ? (int64_t)256 : (int64_t)2048);
    g3_ref_matvec(&w, x, (int)T, ref, 0, part);
    g3_ref_matvec(&w, x, (int)T, ref, rows - part, rows);
    double err = 0;
    for (int64_t t = 0; t < T; t++) {
        const float *r = ref + t * rows, *g = y + t * rows;
        err = G3_MAX(err, g3_micro_nmse(r, g, (size_t)part));
        err = G3_MAX(err, g3_micro_nmse(r + rows - part, g + rows - part, (size_t)part));
    }
    g3_micro_report(m, op, g3_type_name(type), shape, 2.0 * (double)(rows * cols * T), err,
                    err <= G3_MICRO_NMSE_OK);
    if (keep && rows == keep_host->ne[1] && cols == keep_host->ne[0]) {
        *keep = vw; /* the LM head doubles as the embedding table */
        vw = NULL;
        *keep_host = w;
        w.data = NULL;
    }
out_w:
    free((void *)w.data);
out:
    g3_vk_weight_free(vw);
    g3_vk_buffer_free(m->ctx, bx);
    g3_vk_buffer_free(m->ctx, by);
    free(x);
    free(y);
    free(ref);
}

/* The gather of one token's row (near the table's end: the last piece). */
void g3_micro_embed(g3_micro *m, const g3_vk_weight *vw, const g3_weight *w)
{
    const g3_vk_weight_info in = g3_vk_weight_get_info(vw);
    g3_vk_rows pieces[64];
    const int32_t tok = (int32_t)(w->ne[1] - 7);
    float *ref = malloc((size_t)w->ne[0] * sizeof(float)), *got = malloc((size_t)w->ne[0] * 4);
    g3_vk_buffer *out = g3_micro_buf(m, NULL, (size_t)w->ne[0], "embedding");
    if (!ref || !got || !out || in.n_pieces > 64) {
        m->fails++;
        goto out;
    }
    for (uint32_t p = 0; p < in.n_pieces; p++)
        pieces[p] = g3_vk_weight_piece(vw, p);
    const g3_vk_embedding emb = {.type = in.type, .cols = (uint32_t)in.cols,
                                 .row_bytes = in.row_bytes, .n_pieces = in.n_pieces,
                                 .pieces = pieces, .streams = in.streams};
    ((uint32_t *)g3_vk_buffer_map(m->step))[1] = (uint32_t)tok;
    g3_micro_begin(m);
    g3_vk_record_embed(m->cmd, m->ops, &emb, (g3_vk_loc){m->step, 4}, 1, 25.3f,
                       (g3_vk_loc){out, 0});
    if (!g3_micro_run(m, "embed") || !g3_micro_download(m, out, 0, got, (uint64_t)w->ne[0] * 4))
        goto out;
    g3_ref_embed(w, &tok, 1, 25.3f, ref);
    const double err = g3_micro_nmse(ref, got, (size_t)w->ne[0]);
    char shape[48];
    snprintf(shape, sizeof(shape), "1 of %lldx%lld", (long long)w->ne[0], (long long)w->ne[1]);
    g3_micro_report(m, "embed", g3_type_name(in.type), shape, 0, err, err <= G3_MICRO_NMSE_OK);
out:
    g3_vk_buffer_free(m->ctx, out);
    free(ref);
    free(got);
}

/* ---- the other ops ----------------------------------------------------------------------- */

void g3_micro_rms_norm(g3_micro *m, uint32_t n, uint32_t groups, bool fused, const char *what)
{
    const size_t len = (size_t)n * groups;
    float *x = g3_micro_vec(m, len), *w = g3_micro_vec(m, n), *r = g3_micro_vec(m, len);
    float *ref = malloc(len * 4), *got = malloc(len * 4);
    g3_vk_buffer *bx = g3_micro_buf(m, x, len, "x"), *bw = g3_micro_buf(m, w, n, "w"),
                 *br = g3_micro_buf(m, r, len, "residual"), *by = g3_micro_buf(m, NULL, len, "y");
    if (!ref || !got || !bx || !bw || !br || !by) {
        m->fails++;
        goto out;
    }
    const g3_vk_loc res = {br, 0};
    g3_micro_begin(m);
    g3_vk_record_rms_norm(m->cmd, m->ops, (g3_vk_loc){bx, 0}, (g3_vk_loc){bw, 0}, n, groups,
                          1e-6f, fused ? &res : NULL, (g3_vk_loc){by, 0});
    if (!g3_micro_run(m, what) || !g3_micro_download(m, by, 0, got, len * 4))
        goto out;
    for (uint32_t g = 0; g < groups; g++) {
        g3_ref_rms_norm(x + (size_t)g * n, w, n, 1e-6f, ref + (size_t)g * n);
        for (uint32_t i = 0; fused && i < n; i++)
            ref[(size_t)g * n + i] += r[(size_t)g * n + i];
    }
    char shape[48];
    snprintf(shape, sizeof(shape), "%ux%u %s", n, groups, what);
    const double err = g3_micro_nmse(ref, got, len);
    g3_micro_report(m, fused ? "norm_add" : "rms_norm", "f32", shape, 0, err,
                    err <= G3_MICRO_NMSE_OK);
out:
    g3_vk_buffer_free(m->ctx, bx);
    g3_vk_buffer_free(m->ctx, bw);
    g3_vk_buffer_free(m->ctx, br);
    g3_vk_buffer_free(m->ctx, by);
    free(x), free(w), free(r), free(ref), free(got);
}


/* RoPE of q and k in place at position 1000 and the KV store (f16, 4096 slots). */
void g3_micro_rope(g3_micro *m)
{
    const uint32_t slots = 4096, pos = 1000;
    float *act = g3_micro_vec(m, G3_MICRO_Q_LEN + 2 * G3_MICRO_HEAD_DIM),
          *got = malloc((G3_MICRO_Q_LEN + G3_MICRO_HEAD_DIM) * 4);
    float ref[G3_MICRO_Q_LEN + G3_MICRO_HEAD_DIM];
    g3_vk_buffer *ba = g3_micro_buf(m, act, G3_MICRO_Q_LEN + 2 * G3_MICRO_HEAD_DIM, "q k v");
    const uint64_t half = g3_vk_kv_bytes(m->ops, slots, false);
    g3_vk_buffer *bkv = g3_micro_buf(m, NULL, half / 2, "KV cache");
    g3_vk_rope_table *table = NULL;
    g3_err e = {0};
    if (!act || !got || !ba || !bkv ||
        g3_vk_rope_table_create(m->ops, 10000.0f, 1.0f, slots, &table, &e) != G3_OK) {
        fprintf(stderr, "g3vk bench --micro: rope_kv: %s\n", e.msg);
        m->fails++;
        goto out;
    }
    const g3_vk_kv kv = {.buf = bkv, .k_offset = 0, .v_offset = half, .n_slots = slots};
    ((uint32_t *)g3_vk_buffer_map(m->step))[0] = pos;
    const g3_vk_rope_kv_args a = {.pos = {m->step, 0}, .act = ba, .q_in = 0, .q_out = 0,
                                  .k_in = G3_MICRO_Q_LEN * 4, .k_out = G3_MICRO_Q_LEN * 4,
                                  .v_in = (G3_MICRO_Q_LEN + G3_MICRO_HEAD_DIM) * 4, .n_tokens = 1,
                                  .table = table, .kv = &kv};
    g3_micro_begin(m);
    g3_vk_record_rope_kv(m->cmd, m->ops, &a);
    if (!g3_micro_run(m, "rope_kv") ||
        !g3_micro_download(m, ba, 0, got, (G3_MICRO_Q_LEN + G3_MICRO_HEAD_DIM) * 4))
        goto out;
    g3_ref_rope(act, ref, G3_MICRO_N_HEAD, G3_MICRO_HEAD_DIM, pos, 10000.0f, 1.0f);
    g3_ref_rope(act + G3_MICRO_Q_LEN, ref + G3_MICRO_Q_LEN, 1, G3_MICRO_HEAD_DIM, pos, 10000.0f,
                1.0f);
    const double err = g3_micro_nmse(ref, got, G3_MICRO_Q_LEN + G3_MICRO_HEAD_DIM);
    g3_micro_report(m, "rope_kv", "f16", "q 4x256, k 1x256", 0, err, err <= G3_MICRO_NMSE_OK);
out:
    g3_vk_rope_table_free(table);
    g3_vk_buffer_free(m->ctx, ba);
    g3_vk_buffer_free(m->ctx, bkv);
    free(act), free(got);
}

/* Attention of one token at `pos` over an f16 cache of `slots` slots (random K, V). */
void g3_micro_attn(g3_micro *m, uint32_t slots, uint32_t window, uint32_t pos)
{
    const size_t n = (size_t)slots * G3_MICRO_HEAD_DIM; /* K (or V) values */
    uint16_t *h = malloc(2 * n * sizeof(uint16_t));
    float *kvf = malloc(2 * n * sizeof(float)), *q = g3_micro_vec(m, G3_MICRO_Q_LEN);
    float ref[G3_MICRO_Q_LEN], got[G3_MICRO_Q_LEN];
    double *scratch = malloc((G3_MICRO_HEAD_DIM + (size_t)slots + 1) * sizeof(double));
    g3_vk_buffer *bkv = NULL, *bq = g3_micro_buf(m, q, G3_MICRO_Q_LEN, "q"),
                 *bo = g3_micro_buf(m, NULL, G3_MICRO_Q_LEN, "o");
    g3_vk_buffer *bs = NULL;
    g3_err e = {0};
    if (!h || !kvf || !q || !scratch || !bq || !bo) {
        m->fails++;
        goto out;
    }
    for (size_t i = 0; i < 2 * n; i++) { /* f16 values, the reference sees the same */
        h[i] = g3_f32_to_fp16(g3_micro_rnd(m));
        kvf[i] = g3_fp16_to_f32(h[i]);
    }
    const g3_vk_kv kv = {.k_offset = 0, .v_offset = n * 2, .n_slots = slots};
    const uint32_t splits = g3_vk_attn_splits(m->ops, &kv, window);
    const uint64_t sb = G3_MAX(g3_vk_attn_scratch_bytes(m->ops, splits, 1), 16);
    if (g3_vk_buffer_create(m->ctx, 4 * n, G3_VK_MEMORY_DEVICE, "KV cache", &bkv, &e) != G3_OK ||
        g3_vk_buffer_upload(m->ctx, bkv, 0, h, 4 * n, &e) != G3_OK ||
        g3_vk_buffer_create(m->ctx, sb, G3_VK_MEMORY_DEVICE, "partials", &bs, &e) != G3_OK) {
        fprintf(stderr, "g3vk bench --micro: attn: %s\n", e.msg);
        m->fails++;
        goto out;
    }
    g3_vk_kv kvd = kv;
    kvd.buf = bkv;
    ((uint32_t *)g3_vk_buffer_map(m->step))[0] = pos;
    const g3_vk_attn_args a = {.pos = {m->step, 0}, .q = {bq, 0}, .out = {bo, 0},
                               .scratch = {bs, 0}, .n_tokens = 1, .kv = &kvd, .window = window,
                               .scale = 0.0625f};
    g3_micro_begin(m);
    g3_vk_record_attn(m->cmd, m->ops, &a);
    if (!g3_micro_run(m, "attn") || !g3_micro_download(m, bo, 0, got, sizeof(got)))
        goto out;
    const g3_ref_kv rk = {.k = kvf, .v = kvf + n, .n_slots = (int)slots};
    g3_ref_attention(q, &rk, G3_MICRO_N_HEAD, 1, G3_MICRO_HEAD_DIM, pos, window, window == 0,
                     0.0625f, scratch, ref);
    char shape[64];
    snprintf(shape, sizeof(shape), "%s, %u positions", window ? "sliding" : "global",
             window ? G3_MIN(window, pos + 1) : pos + 1);
    const double err = g3_micro_nmse(ref, got, G3_MICRO_Q_LEN);
    g3_micro_report(m, "attn", "f16", shape, 0, err, err <= G3_MICRO_NMSE_OK);
out:
    g3_vk_buffer_free(m->ctx, bkv);
    g3_vk_buffer_free(m->ctx, bs);
    g3_vk_buffer_free(m->ctx, bq);
    g3_vk_buffer_free(m->ctx, bo);
    free(h), free(kvf), free(q), free(scratch);
}

void g3_micro_gelu(g3_micro *m, uint32_t n)
{
    float *g = g3_micro_vec(m, n), *u = g3_micro_vec(m, n), *ref = malloc(n * 4),
          *got = malloc(n * 4);
    g3_vk_buffer *bg = g3_micro_buf(m, g, n, "gate"), *bu = g3_micro_buf(m, u, n, "up"),
                 *by = g3_micro_buf(m, NULL, n, "y");
    if (!ref || !got || !bg || !bu || !by) {
        m->fails++;
        goto out;
    }
    g3_micro_begin(m);
    g3_vk_record_gelu_mul(m->cmd, m->ops, (g3_vk_loc){bg, 0}, (g3_vk_loc){bu, 0}, n,
                          (g3_vk_loc){by, 0});
    if (!g3_micro_run(m, "gelu_mul") || !g3_micro_download(m, by, 0, got, n * 4))
        goto out;
    g3_ref_gelu_mul(g, u, ref, n);
    const double err = g3_micro_nmse(ref, got, n);
    char shape[32];
    snprintf(shape, sizeof(shape), "%u", n);
    g3_micro_report(m, "gelu_mul", "f32", shape, 0, err, err <= G3_MICRO_NMSE_OK);
out:
    g3_vk_buffer_free(m->ctx, bg);
    g3_vk_buffer_free(m->ctx, bu);
    g3_vk_buffer_free(m->ctx, by);
    free(g), free(u), free(ref), free(got);
}

void g3_micro_argmax(g3_micro *m, uint32_t n)
{
    float *x = g3_micro_vec(m, n);
    g3_vk_buffer *bx = NULL, *bs = NULL, *bo = NULL;
    uint32_t res[2] = {0, 0};
    if (!x || !(bx = g3_micro_buf(m, x, n, "logits")) ||
        !(bs = g3_micro_buf(m, NULL, g3_vk_argmax_scratch_bytes(m->ops, n) / 4 + 1, "partials")) ||
        !(bo = g3_micro_buf(m, NULL, 2, "argmax"))) {
        m->fails++;
        goto out;
    }
    g3_micro_begin(m);
    g3_vk_record_argmax(m->cmd, m->ops, (g3_vk_loc){bx, 0}, n, (g3_vk_loc){bs, 0},
                        (g3_vk_loc){bo, 0});
    if (!g3_micro_run(m, "argmax") || !g3_micro_download(m, bo, 0, res, 8))
        goto out;
    const int32_t want = g3_bench_argmax(x, (int)n);
    char shape[32];
    snprintf(shape, sizeof(shape), "%u", n);
    g3_micro_report(m, "argmax", "f32", shape, 0, res[0] == (uint32_t)want ? 0.0 : 1.0,
           res[0] == (uint32_t)want);
out:
    g3_vk_buffer_free(m->ctx, bx);
    g3_vk_buffer_free(m->ctx, bs);
    g3_vk_buffer_free(m->ctx, bo);
    free(x);
}
