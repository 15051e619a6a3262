/* vk_ops.c: pipelines and dispatch recording for the non-matvec ops of a step
 * (see vk_ops.h; the shaders say how each op is computed). */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quant.h" /* type ids only: the runtime links no host/ code */
#include "vk_internal.h"
#include "vk_matvec.h" /* g3_vk_streams_kind */
#include "vk_ops.h"

/* Table types the embedding gather decodes. Block sizes duplicate host/quant.c's
 * table, as vk_matvec.c does: the runtime sits below the host library. */
typedef struct g3_vk_embed_type {
    uint32_t type;
    g3_shader_id shader;
    uint32_t block; /* values per block */
    uint32_t bytes; /* bytes per block  */
} g3_vk_embed_type;

static const g3_vk_embed_type g3_vk_embed_types[] = {
    {G3_TYPE_F32, G3_SHADER_EMBED_F32, 1, 4},
    {G3_TYPE_F16, G3_SHADER_EMBED_F16, 1, 2},
    {G3_TYPE_BF16, G3_SHADER_EMBED_BF16, 1, 2},
    {G3_TYPE_Q8_0, G3_SHADER_EMBED_Q8_0, 32, 34},
    {G3_TYPE_Q4_0, G3_SHADER_EMBED_Q4_0, 32, 18},
    {G3_TYPE_Q4_1, G3_SHADER_EMBED_Q4_1, 32, 20},
    {G3_TYPE_Q5_0, G3_SHADER_EMBED_Q5_0, 32, 22},
    {G3_TYPE_Q5_1, G3_SHADER_EMBED_Q5_1, 32, 24},
    {G3_TYPE_IQ4_NL, G3_SHADER_EMBED_IQ4_NL, 32, 18},
    {G3_TYPE_Q2_K, G3_SHADER_EMBED_Q2_K, 256, 84},
    {G3_TYPE_Q3_K, G3_SHADER_EMBED_Q3_K, 256, 110},
    {G3_TYPE_Q4_K, G3_SHADER_EMBED_Q4_K, 256, 144},
    {G3_TYPE_Q5_K, G3_SHADER_EMBED_Q5_K, 256, 176},
    {G3_TYPE_Q6_K, G3_SHADER_EMBED_Q6_K, 256, 210},
    {G3_TYPE_IQ4_XS, G3_SHADER_EMBED_IQ4_XS, 256, 136},
};
#define G3_VK_EMBED_NTYPES (sizeof(g3_vk_embed_types) / sizeof(g3_vk_embed_types[0]))

/* Logits per workgroup in the first selection pass, per invocation: enough that the
 * second pass sees few candidates (64 groups of 4096 for the 262144 vocabulary). */
#define G3_VK_SELECT_PER_INVOCATION 16

/* Pipelines, created at first use. */
enum {
    P_RMS_NORM,
    P_NORM_ADD,
    P_NORM_ADD_NORM,
    P_GELU_MUL,
    P_ROPE_KV_F16,
    P_ROPE_KV_F32,
    P_ATTN_F16,
    P_ATTN_F32,
    P_ATTN_COMBINE,
    P_ARGMAX,
    P_ARGMAX_FINAL,
    P_TOPK,
    P_TOPK_FINAL,
    P_EMBED_STREAMS_Q8_0, /* STREAMS-layout tables (vk_matvec.h) */
    P_EMBED_STREAMS_Q4_0,
    P_EMBED_STREAMS_Q5_0,
    P_EMBED_STREAMS_Q4_1,
    P_EMBED_STREAMS_Q5_1,
    P_EMBED,                                        /* + 2 * type index + aligned4 */
    P_COUNT = P_EMBED + 2 * (int)G3_VK_EMBED_NTYPES,
};

struct g3_vk_ops {
    g3_vk_context *ctx;
    g3_vk_ops_options opt; /* resolved */
    uint32_t max_groups[2];
    g3_vk_pipeline *pipes[P_COUNT];
};

struct g3_vk_rope_table {
    g3_vk_ops *ops;
    g3_vk_buffer *buf;
    uint32_t lo_bits, n_hi, max_pos;
};

/* ---- helpers -------------------------------------------------------------------- */


/* [loc.offset, + size) as a binding (g3_vk_bind_checked). */
static bool bind(const g3_vk_context *ctx, g3_vk_loc loc, uint64_t size, uint32_t elem_bytes,
                 g3_vk_binding *b, uint32_t *elem)
{
    return g3_vk_bind_checked(ctx, loc.buf, loc.offset, size, elem_bytes, b, elem);
}


/* The pipeline of a slot, created on first use (errors go to cmd). */
static const g3_vk_pipeline *get_pipe(g3_vk_cmd *cmd, g3_vk_ops *ops, int slot)
{
    if (ops->pipes[slot])
        return ops->pipes[slot];
    const g3_vk_ops_options *o = &ops->opt;
    g3_vk_pipeline_desc d = {.n_spec = 1, .spec = {{G3_SPEC_WG_SIZE, o->wg_size}}};
    switch (slot) {
    case P_RMS_NORM:
    case P_NORM_ADD:
    case P_NORM_ADD_NORM:
        d.shader = G3_SHADER_RMS_NORM;
        d.n_bindings = 4;
        d.push_size = sizeof(struct g3_pc_rms_norm);
        d.spec[d.n_spec++] = (g3_vk_spec){G3_RMS_NORM_SPEC_FUSE_ADD, slot != P_RMS_NORM};
        d.spec[d.n_spec++] = (g3_vk_spec){G3_RMS_NORM_SPEC_NORM2, slot == P_NORM_ADD_NORM};
        break;
    case P_GELU_MUL:
        d.shader = G3_SHADER_GELU_MUL;
        d.n_bindings = 3;
        d.push_size = sizeof(struct g3_pc_gelu_mul);
        break;
    case P_ROPE_KV_F16:
    case P_ROPE_KV_F32:
        d.shader = slot == P_ROPE_KV_F16 ? G3_SHADER_ROPE_KV_F16 : G3_SHADER_ROPE_KV_F32;
        d.n_bindings = 4;
        d.push_size = sizeof(struct g3_pc_rope_kv);
        break;
    case P_ATTN_F16:
    case P_ATTN_F32:
        d.shader = slot == P_ATTN_F16 ? G3_SHADER_ATTN_F16 : G3_SHADER_ATTN_F32;
        d.n_bindings = 4;
        d.push_size = sizeof(struct g3_pc_attn);
        d.spec[0].value = o->attn_wg_size;
        d.spec[d.n_spec++] = (g3_vk_spec){G3_ATTN_SPEC_HEAD_DIM, o->head_dim};
        d.spec[d.n_spec++] = (g3_vk_spec){G3_ATTN_SPEC_GROUP, o->n_head / o->n_head_kv};
        break;
    case P_ATTN_COMBINE:
        d.shader = G3_SHADER_ATTN_COMBINE;
        d.n_bindings = 2;
        d.push_size = sizeof(struct g3_pc_attn_combine);
        break;
    case P_ARGMAX:
    case P_ARGMAX_FINAL:
    case P_TOPK:
    case P_TOPK_FINAL:
        d.shader = slot <= P_ARGMAX_FINAL ? G3_SHADER_ARGMAX : G3_SHADER_TOPK;
        d.n_bindings = 2;
        d.push_size = sizeof(struct g3_pc_select);
        d.spec[0].value = o->select_wg_size;
        d.spec[d.n_spec++] =
            (g3_vk_spec){G3_SELECT_SPEC_FINAL, slot == P_ARGMAX_FINAL || slot == P_TOPK_FINAL};
        break;
    case P_EMBED_STREAMS_Q8_0:
    case P_EMBED_STREAMS_Q4_0:
    case P_EMBED_STREAMS_Q5_0:
    case P_EMBED_STREAMS_Q4_1:
    case P_EMBED_STREAMS_Q5_1: {
        static const g3_shader_id sh[] = {G3_SHADER_EMBED_STREAMS_Q8_0, G3_SHADER_EMBED_STREAMS_Q4_0,
                                          G3_SHADER_EMBED_STREAMS_Q5_0, G3_SHADER_EMBED_STREAMS_Q4_1,
                                          G3_SHADER_EMBED_STREAMS_Q5_1};
        d.shader = sh[slot - P_EMBED_STREAMS_Q8_0];
        d.n_bindings = 3;
        d.push_size = sizeof(struct g3_pc_embed);
        break;
    }
    default: {
        const int ti = (slot - P_EMBED) / 2;
        d.shader = g3_vk_embed_types[ti].shader;
        d.n_bindings = 3;
        d.push_size = sizeof(struct g3_pc_embed);
        d.spec[d.n_spec++] = (g3_vk_spec){G3_EMBED_SPEC_ALIGNED4, (uint32_t)(slot - P_EMBED) % 2};
        break;
    }
    }
    g3_err err = {0};
    if (g3_vk_pipeline_create(ops->ctx, &d, &ops->pipes[slot], &err) != G3_OK) {
        g3_vk_cmd_fail(cmd, err.status, "%s", err.msg);
        return NULL;
    }
    return ops->pipes[slot];
}

/* Common entry checks: a recording without a kept error, ops of this context. */
static bool usable(g3_vk_cmd *cmd, const g3_vk_ops *ops, const char *what)
{
    if (cmd->err.status != G3_OK)
        return false;
    if (!ops || ops->ctx != cmd->ctx) {
        g3_vk_cmd_fail(cmd, G3_ERR_INVALID_ARG, "%s: ops missing or of another context", what);
        return false;
    }
    return true;
}

/* ---- the op set ------------------------------------------------------------------ */

g3_status g3_vk_ops_create(g3_vk_context *ctx, const g3_vk_ops_options *opt, g3_vk_ops **out,
                           g3_err *err)
{
    if (!ctx || !out || !opt)
        return g3_err_set(err, G3_ERR_INVALID_ARG, "g3_vk_ops_create: NULL argument");
    *out = NULL;
    g3_status st = g3_vk_check_lost(ctx, err);
    if (st != G3_OK)
        return st;
    const g3_vk_device_info *d = &ctx->info;
    g3_vk_ops_options o = *opt;
    if (!o.n_head || !o.n_head_kv || o.n_head % o.n_head_kv || !o.head_dim ||
        o.head_dim % 4 || o.head_dim > 4096)
        return g3_err_set(err, G3_ERR_INVALID_ARG,
                          "vk ops: attention shape n_head %u, n_head_kv %u, head_dim %u: "
                          "n_head_kv must divide n_head, head_dim a multiple of 4",
                          o.n_head, o.n_head_kv, o.head_dim);
    if (!d->subgroup_in_compute || !(d->subgroup_ops & G3_VK_SUBGROUP_ARITHMETIC))
        return g3_err_set(err, G3_ERR_UNSUPPORTED,
                          "vk ops: %s has no subgroup arithmetic in compute shaders", d->name);
    const uint32_t max_wg =
        G3_MIN(d->max_compute_work_group_invocations, d->max_compute_work_group_size[0]);
    o.wg_size = G3_MIN(o.wg_size ? o.wg_size : 64u, max_wg);
    o.attn_wg_size = G3_MIN(o.attn_wg_size ? o.attn_wg_size : 64u, max_wg);
    o.select_wg_size = G3_MIN(o.select_wg_size ? o.select_wg_size : 256u, max_wg);
    if (!o.attn_max_splits)
        o.attn_max_splits = 64;
    if (!o.attn_split_min)
        o.attn_split_min = 128;
    const uint64_t group = o.n_head / o.n_head_kv;
    const uint64_t shared = (group * o.head_dim + 2 * group * o.attn_wg_size) * 4;
    if (shared > d->max_compute_shared_memory_size)
        return g3_err_set(err, G3_ERR_UNSUPPORTED,
                          "vk ops: attention needs %llu bytes of shared memory (%llu query "
                          "heads per KV head, head_dim %u, workgroup %u); %s has %u",
                          (unsigned long long)shared, (unsigned long long)group, o.head_dim,
                          o.attn_wg_size, d->name, d->max_compute_shared_memory_size);
    g3_vk_ops *ops = calloc(1, sizeof(*ops));
    if (!ops)
        return g3_err_set(err, G3_ERR_OUT_OF_MEMORY, "out of host memory");
    ops->ctx = ctx;
    ops->max_groups[0] = d->max_compute_work_group_count[0];
    ops->max_groups[1] = d->max_compute_work_group_count[1];
    if (o.max_groups_x && o.max_groups_x < ops->max_groups[0])
        ops->max_groups[0] = o.max_groups_x;
    o.max_groups_x = ops->max_groups[0];
    ops->opt = o;
    *out = ops;
    return G3_OK;
}

void g3_vk_ops_free(g3_vk_ops *ops)
{
    if (!ops)
        return;
    for (int i = 0; i < P_COUNT; i++)
        g3_vk_pipeline_free(ops->ctx, ops->pipes[i]);
    free(ops);
}

g3_vk_ops_options g3_vk_ops_get_options(const g3_vk_ops *ops)
{
    return ops ? ops->opt : (g3_vk_ops_options){0};
}

/* ---- EMBED ------------------------------------------------------------------------ */

static int embed_type_index(uint32_t type)
{
    for (size_t i = 0; i < G3_VK_EMBED_NTYPES; i++)
        if (g3_vk_embed_types[i].type == type)
            return (int)i;
    return -1;
}

bool g3_vk_embed_type_supported(uint32_t type)
{
    return embed_type_index(type) >= 0;
}

g3_status g3_vk_record_embed(g3_vk_cmd *cmd, g3_vk_ops *ops, const g3_vk_embedding *emb,
                             g3_vk_loc tokens, uint32_t n_tokens, float scale, g3_vk_loc out)
{
    if (!cmd)
        return G3_ERR_INVALID_ARG;
    if (!usable(cmd, ops, "embed"))
        return cmd->err.status;
    const int ti = emb ? embed_type_index(emb->type) : -1;
    if (ti < 0 || !emb->n_pieces || !emb->pieces || !n_tokens)
        return g3_vk_cmd_fail(cmd, G3_ERR_INVALID_ARG, "embed: no table, type %u without a kernel, no "
                    "piece or no token", emb ? emb->type : 0);
    const g3_vk_embed_type *t = &g3_vk_embed_types[ti];
    if (!emb->cols || emb->cols % t->block ||
        emb->row_bytes != (uint64_t)emb->cols / t->block * t->bytes)
        return g3_vk_cmd_fail(cmd, G3_ERR_INVALID_ARG, "embed: %u columns in %llu bytes per row do not "
                    "fit blocks of %u values in %u bytes", emb->cols,
                    (unsigned long long)emb->row_bytes, t->block, t->bytes);
    const bool streams = emb->streams;
    const int kind = g3_vk_streams_kind(t->type); /* the slots follow the kinds' order */
    if (streams && kind < 0)
        return g3_vk_cmd_fail(cmd, G3_ERR_INVALID_ARG,
                              "embed: the streams layout is for Q8_0, Q4_0, Q5_0, Q4_1, Q5_1");
    /* STREAMS: G3_STREAMS_* (g3_shared.h, embed_streams.comp). */
    const uint64_t qrow = t->type == G3_TYPE_Q8_0 ? emb->cols : emb->cols / 2;
    struct g3_pc_embed pc = {
        .n_cols = emb->cols,
        .row_bytes = (uint32_t)(streams ? qrow : emb->row_bytes),
        .n_tokens = n_tokens,
        .scale = scale,
    };
    g3_vk_binding b[3];
    if (!bind(cmd->ctx, tokens, 4ull * n_tokens, 4, &b[G3_EMBED_BINDING_STEP], &pc.tok_off) ||
        !bind(cmd->ctx, out, 4ull * emb->cols * n_tokens, 4, &b[G3_EMBED_BINDING_Y], &pc.y_off))
        return g3_vk_cmd_fail(cmd, G3_ERR_INVALID_ARG, "embed: %u token ids or their %u x %u outputs "
                    "are outside their buffers or misaligned", n_tokens, emb->cols, n_tokens);
    /* Every 32-bit field is word-aligned when rows and blocks are (F16/BF16 rows of a
     * multiple of 2 values: units of 4 values are 8 bytes). */
    const bool aligned4 = emb->row_bytes % 4 == 0 && (t->bytes % 4 == 0 || t->block == 1);
    const g3_vk_pipeline *pp =
        get_pipe(cmd, ops, !streams ? P_EMBED + 2 * ti + aligned4 : P_EMBED_STREAMS_Q8_0 + kind);
    if (!pp)
        return cmd->err.status;
    /* Dequant units per row (dequant.glsl): 4 values for the float types, 8 or 16
     * for the blocks; counting 8 over-covers the 16-value types, whose surplus
     * invocations return at once. */
    const uint32_t units = streams         ? emb->cols /* one column per invocation */
                           : t->block == 1 ? (emb->cols + 3) / 4
                                           : emb->cols / 8;
    const uint32_t groups = (units + ops->opt.wg_size - 1) / ops->opt.wg_size;
    for (uint32_t i = 0; i < emb->n_pieces; i++) {
        const g3_vk_rows *r = &emb->pieces[i];
        const uint64_t bytes =
            (streams ? g3_vk_streams_bytes(t->type, emb->cols, r->n_rows)
                     : (uint64_t)r->n_rows * emb->row_bytes) + G3_MATVEC_PAD_BYTES;
        if (!r->n_rows || !bind(cmd->ctx, (g3_vk_loc){r->buf, r->offset}, bytes, 1,
                                &b[G3_EMBED_BINDING_W], &pc.w_off))
            return g3_vk_cmd_fail(cmd, G3_ERR_INVALID_ARG, "embed: piece %u (rows %u..+%u, %llu bytes "
                        "with padding at %llu) is empty, misaligned or outside its buffer",
                        i, r->row0, r->n_rows, (unsigned long long)bytes,
                        (unsigned long long)r->offset);
        pc.row0 = r->row0;
        pc.n_rows = r->n_rows;
        /* Only one piece writes a given token's row, but every dispatch binds the
         * whole output: ordered, so that validation sees no write-after-write. */
        if (i > 0)
            g3_vk_cmd_barrier(cmd);
        const uint32_t g[3] = {groups, n_tokens, 1};
        g3_vk_cmd_dispatch(cmd, pp, b, 3, &pc, sizeof(pc), g);
    }
    return cmd->err.status;
}

/* ---- RMS_NORM / NORM_ADD ------------------------------------------------------------ */

g3_status g3_vk_record_rms_norm(g3_vk_cmd *cmd, g3_vk_ops *ops, g3_vk_loc x, g3_vk_loc w,
                                uint32_t n, uint32_t n_groups, float eps,
                                const g3_vk_loc *residual, g3_vk_loc y)
{
    if (!cmd)
        return G3_ERR_INVALID_ARG;
    if (!usable(cmd, ops, "rms_norm"))
        return cmd->err.status;
    struct g3_pc_rms_norm pc = {.n = n, .n_groups = n_groups, .eps = eps};
    const uint64_t bytes = 4ull * n * n_groups;
    g3_vk_binding b[4];
    if (!n || !n_groups || !bind(cmd->ctx, x, bytes, 4, &b[G3_RMS_NORM_BINDING_X], &pc.x_off) ||
        !bind(cmd->ctx, w, 4ull * n, 4, &b[G3_RMS_NORM_BINDING_W], &pc.w_off) ||
        !bind(cmd->ctx, y, bytes, 4, &b[G3_RMS_NORM_BINDING_Y], &pc.y_off) ||
        !bind(cmd->ctx, residual ? *residual : x, bytes, 4, &b[G3_RMS_NORM_BINDING_R],
              &pc.r_off))
        return g3_vk_cmd_fail(cmd, G3_ERR_INVALID_ARG, "rms_norm: %u groups of %u: a tensor is outside "
                    "its buffer or misaligned", n_groups, n);
    const g3_vk_pipeline *pp = get_pipe(cmd, ops, residual ? P_NORM_ADD : P_RMS_NORM);
    uint32_t g[3];
    if (!pp)
        return cmd->err.status;
    if (!g3_vk_fold_groups(n_groups, ops->max_groups, g))
        return g3_vk_cmd_fail(cmd, G3_ERR_INVALID_ARG, "rms_norm: %u groups exceed the grid", n_groups);
    return g3_vk_cmd_dispatch(cmd, pp, b, 4, &pc, sizeof(pc), g);
}

g3_status g3_vk_record_norm_add_norm(g3_vk_cmd *cmd, g3_vk_ops *ops, g3_vk_loc x, g3_vk_loc w,
                                     uint32_t n, uint32_t n_groups, float eps, g3_vk_loc residual,
                                     g3_vk_loc y, g3_vk_loc w2, g3_vk_loc y2)
{
    if (!cmd)
        return G3_ERR_INVALID_ARG;
    if (!usable(cmd, ops, "norm_add_norm"))
        return cmd->err.status;
    struct g3_pc_rms_norm pc = {.n = n, .n_groups = n_groups, .eps = eps};
    const uint64_t bytes = 4ull * n * n_groups;
    /* y and y2 share the Y binding (four storage bindings is all a device must
     * offer), and w and w2 the W binding: each bound over the range holding both. */
    const uint64_t ylo = G3_MIN(y.offset, y2.offset), yhi = G3_MAX(y.offset, y2.offset) + bytes;
    const uint64_t wlo = G3_MIN(w.offset, w2.offset), whi = G3_MAX(w.offset, w2.offset) + 4ull * n;
    g3_vk_binding b[4];
    uint32_t ybase = 0, wbase = 0;
    const bool disjoint = y.offset + bytes <= y2.offset || y2.offset + bytes <= y.offset;
    if (!n || !n_groups || y.buf != y2.buf || w.buf != w2.buf || !disjoint ||
        y.offset % 4 || y2.offset % 4 || w.offset % 4 || w2.offset % 4 ||
        !bind(cmd->ctx, x, bytes, 4, &b[G3_RMS_NORM_BINDING_X], &pc.x_off) ||
        !bind(cmd->ctx, (g3_vk_loc){w.buf, wlo}, whi - wlo, 4, &b[G3_RMS_NORM_BINDING_W], &wbase) ||
        !bind(cmd->ctx, (g3_vk_loc){y.buf, ylo}, yhi - ylo, 4, &b[G3_RMS_NORM_BINDING_Y], &ybase) ||
        !bind(cmd->ctx, residual, bytes, 4, &b[G3_RMS_NORM_BINDING_R], &pc.r_off))
        return g3_vk_cmd_fail(cmd, G3_ERR_INVALID_ARG, "norm_add_norm: %u groups of %u: a tensor is outside "
                    "its buffer, misaligned, or y and y2 overlap or lie in different buffers "
                    "(likewise w and w2)", n_groups, n);
    pc.y_off = ybase + (uint32_t)((y.offset - ylo) / 4);
    pc.y2_off = ybase + (uint32_t)((y2.offset - ylo) / 4);
    pc.w_off = wbase + (uint32_t)((w.offset - wlo) / 4);
    pc.w2_off = wbase + (uint32_t)((w2.offset - wlo) / 4);
    const g3_vk_pipeline *pp = get_pipe(cmd, ops, P_NORM_ADD_NORM);
    uint32_t g[3];
    if (!pp)
        return cmd->err.status;
    if (!g3_vk_fold_groups(n_groups, ops->max_groups, g))
        return g3_vk_cmd_fail(cmd, G3_ERR_INVALID_ARG, "norm_add_norm: %u groups exceed the grid", n_groups);
    return g3_vk_cmd_dispatch(cmd, pp, b, 4, &pc, sizeof(pc), g);
}

/* ---- ROPE + KV_STORE ---------------------------------------------------------------- */

g3_status g3_vk_rope_table_create(g3_vk_ops *ops, float base, float pos_scale, uint32_t max_pos,
                                  g3_vk_rope_table **out, g3_err *err)
{
    if (!ops || !out)
        return g3_err_set(err, G3_ERR_INVALID_ARG, "g3_vk_rope_table_create: NULL argument");
    *out = NULL;
    if (!(base > 1.0f) || !(pos_scale > 0.0f) || !isfinite(base) || !isfinite(pos_scale) ||
        !max_pos)
        return g3_err_set(err, G3_ERR_INVALID_ARG, "rope table: base %g, position scale %g "
                          "and %u positions", (double)base, (double)pos_scale, max_pos);
    /* About sqrt(max_pos) rows on each level. */
    uint32_t bits = 0;
    while (bits < 32 && (1ull << bits) < max_pos)
        bits++;
    const uint32_t lo_bits = (bits + 1) / 2;
    const uint32_t n_lo = 1u << lo_bits;
    const uint32_t n_hi = (uint32_t)(((uint64_t)max_pos + n_lo - 1) >> lo_bits);
    const uint32_t half = ops->opt.head_dim / 2;
    const size_t n_floats = (size_t)(n_lo + n_hi) * half * 2;
    float *host = malloc(n_floats * sizeof(float));
    g3_vk_rope_table *t = calloc(1, sizeof(*t));
    g3_status st = G3_OK;
    if (!host || !t) {
        st = g3_err_set(err, G3_ERR_OUT_OF_MEMORY, "out of host memory");
        goto out;
    }
    /* The same double expression as g3_ref_rope: p * pos_scale * base^(-2i/head_dim). */
    for (uint32_t r = 0; r < n_lo + n_hi; r++) {
        const double p = r < n_lo ? (double)r : (double)((uint64_t)(r - n_lo) << lo_bits);
        for (uint32_t i = 0; i < half; i++) {
            const double theta = p * (double)pos_scale *
                                 pow((double)base, -2.0 * i / (double)ops->opt.head_dim);
            host[((size_t)r * half + i) * 2] = (float)cos(theta);
            host[((size_t)r * half + i) * 2 + 1] = (float)sin(theta);
        }
    }
    t->ops = ops;
    t->lo_bits = lo_bits;
    t->n_hi = n_hi;
    t->max_pos = max_pos;
    if ((st = g3_vk_buffer_create(ops->ctx, n_floats * sizeof(float), G3_VK_MEMORY_DEVICE,
                                  "rope table", &t->buf, err)) != G3_OK ||
        (st = g3_vk_buffer_upload(ops->ctx, t->buf, 0, host, n_floats * sizeof(float), err)) !=
            G3_OK)
        goto out;
    free(host);
    *out = t;
    return G3_OK;
out:
    free(host);
    g3_vk_rope_table_free(t);
    return st;
}

void g3_vk_rope_table_free(g3_vk_rope_table *t)
{
    if (!t)
        return;
    if (t->ops)
        g3_vk_buffer_free(t->ops->ctx, t->buf);
    free(t);
}

uint64_t g3_vk_kv_bytes(const g3_vk_ops *ops, uint32_t n_slots, bool f32)
{
    return (uint64_t)ops->opt.n_head_kv * ops->opt.head_dim * n_slots * (f32 ? 4 : 2);
}

/* Binds a layer's K and V as one range; *k_el and *v_el receive their element
 * offsets inside it. */
static bool bind_kv(const g3_vk_ops *ops, const g3_vk_kv *kv, g3_vk_binding *b, uint32_t *k_el,
                    uint32_t *v_el)
{
    if (!kv || !kv->n_slots || kv->k_offset % 4 || kv->v_offset % 4)
        return false;
    const uint64_t bytes = g3_vk_kv_bytes(ops, kv->n_slots, kv->f32);
    const uint64_t lo = G3_MIN(kv->k_offset, kv->v_offset);
    const uint64_t hi = G3_MAX(kv->k_offset, kv->v_offset) + bytes;
    const uint32_t el = kv->f32 ? 4 : 2;
    uint32_t lo_el;
    if ((kv->k_offset < kv->v_offset ? kv->v_offset - kv->k_offset
                                      : kv->k_offset - kv->v_offset) < bytes ||
        !bind(ops->ctx, (g3_vk_loc){kv->buf, lo}, hi - lo, el, b, &lo_el))
        return false;
    *k_el = lo_el + (uint32_t)((kv->k_offset - lo) / el);
    *v_el = lo_el + (uint32_t)((kv->v_offset - lo) / el);
    return true;
}

/* The binding of act's range [min, max end) of the given (offset, bytes) regions
 * (q in, q out, k in, k out, v in); offsets become element offsets inside it. */
static bool bind_act(const g3_vk_context *ctx, g3_vk_buffer *act, const uint64_t *offs,
                     const uint64_t *bytes, uint32_t *els, int n, g3_vk_binding *b)
{
    uint64_t lo = UINT64_MAX, hi = 0;
    for (int i = 0; i < n; i++) {
        if (offs[i] % 4 || !act || offs[i] > act->size || bytes[i] > act->size - offs[i])
            return false;
        lo = G3_MIN(lo, offs[i]);
        hi = G3_MAX(hi, offs[i] + bytes[i]);
    }
    /* Regions may not overlap, except an output that is exactly its input (in
     * place): pairs (0, 1) and (2, 3) are q and k in and out. */
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++)
            if (offs[i] < offs[j] + bytes[j] && offs[j] < offs[i] + bytes[i] &&
                !(j == i + 1 && i % 2 == 0 && j < 4 && offs[i] == offs[j]))
                return false;
    uint32_t lo_el;
    if (!bind(ctx, (g3_vk_loc){act, lo}, hi - lo, 4, b, &lo_el))
        return false;
    for (int i = 0; i < n; i++)
        els[i] = lo_el + (uint32_t)((offs[i] - lo) / 4);
    return true;
}

g3_status g3_vk_record_rope_kv(g3_vk_cmd *cmd, g3_vk_ops *ops, const g3_vk_rope_kv_args *a)
{
    if (!cmd)
        return G3_ERR_INVALID_ARG;
    if (!usable(cmd, ops, "rope_kv"))
        return cmd->err.status;
    if (!a || !a->n_tokens || !a->table || a->table->ops != ops || !a->kv)
        return g3_vk_cmd_fail(cmd, G3_ERR_INVALID_ARG, "rope_kv: missing arguments, no token, or a "
                    "table of other ops");
    const g3_vk_ops_options *o = &ops->opt;
    const uint64_t qb = 4ull * o->n_head * o->head_dim * a->n_tokens;
    const uint64_t kb = 4ull * o->n_head_kv * o->head_dim * a->n_tokens;
    struct g3_pc_rope_kv pc = {
        .n_head = o->n_head,
        .n_head_kv = o->n_head_kv,
        .head_dim = o->head_dim,
        .n_slots = a->kv->n_slots,
        .lo_bits = a->table->lo_bits,
        .n_hi = a->table->n_hi,
        .n_tokens = a->n_tokens,
    };
    const uint64_t offs[5] = {a->q_in, a->q_out, a->k_in, a->k_out, a->v_in};
    const uint64_t bytes[5] = {qb, qb, kb, kb, kb};
    uint32_t els[5];
    g3_vk_binding b[4];
    if (!bind(cmd->ctx, a->pos, 4, 4, &b[G3_ROPE_KV_BINDING_STEP], &pc.pos_off) ||
        !bind_act(cmd->ctx, a->act, offs, bytes, els, 5, &b[G3_ROPE_KV_BINDING_ACT]) ||
        !bind_kv(ops, a->kv, &b[G3_ROPE_KV_BINDING_KV], &pc.k_cache, &pc.v_cache))
        return g3_vk_cmd_fail(cmd, G3_ERR_INVALID_ARG, "rope_kv: the position, q/k/v (%u tokens) or "
                    "the KV cache (%u slots) is outside its buffer, misaligned or "
                    "overlapping", a->n_tokens, a->kv->n_slots);
    pc.q_in = els[0];
    pc.q_out = els[1];
    pc.k_in = els[2];
    pc.k_out = els[3];
    pc.v_in = els[4];
    b[G3_ROPE_KV_BINDING_TABLE] = (g3_vk_binding){.buf = a->table->buf};
    const g3_vk_pipeline *pp = get_pipe(cmd, ops, a->kv->f32 ? P_ROPE_KV_F32 : P_ROPE_KV_F16);
    if (!pp)
        return cmd->err.status;
    const uint32_t items = (o->n_head + o->n_head_kv) * (o->head_dim / 4) +
                           o->n_head_kv * o->head_dim / 2;
    const uint32_t g[3] = {(items + o->wg_size - 1) / o->wg_size, a->n_tokens, 1};
    return g3_vk_cmd_dispatch(cmd, pp, b, 4, &pc, sizeof(pc), g);
}

/* ---- ATTN --------------------------------------------------------------------------- */

uint32_t g3_vk_attn_splits(const g3_vk_ops *ops, const g3_vk_kv *kv, uint32_t window)
{
    const uint32_t span = window ? G3_MIN(window, kv->n_slots) : kv->n_slots;
    const uint32_t s = (span + ops->opt.attn_split_min - 1) / ops->opt.attn_split_min;
    return G3_MAX(1u, G3_MIN(s, ops->opt.attn_max_splits));
}

uint64_t g3_vk_attn_scratch_bytes(const g3_vk_ops *ops, uint32_t n_splits, uint32_t n_tokens)
{
    if (n_splits <= 1)
        return 0;
    return 4ull * n_tokens * ops->opt.n_head * n_splits * (ops->opt.head_dim + 2);
}

g3_status g3_vk_record_attn(g3_vk_cmd *cmd, g3_vk_ops *ops, const g3_vk_attn_args *a)
{
    if (!cmd)
        return G3_ERR_INVALID_ARG;
    if (!usable(cmd, ops, "attn"))
        return cmd->err.status;
    if (!a || !a->n_tokens || !a->kv)
        return g3_vk_cmd_fail(cmd, G3_ERR_INVALID_ARG, "attn: missing arguments or no token");
    const g3_vk_ops_options *o = &ops->opt;
    const uint32_t splits = a->n_splits ? a->n_splits : g3_vk_attn_splits(ops, a->kv, a->window);
    const uint32_t width = o->n_head * o->head_dim;
    const uint64_t bytes = 4ull * width * a->n_tokens;
    struct g3_pc_attn pc = {
        .q_stride = width,
        .out_stride = width,
        .n_slots = a->kv->n_slots,
        .window = a->window,
        .n_splits = splits,
        .n_head = o->n_head,
        .scale = a->scale,
    };
    g3_vk_binding b[4], bc[2];
    if (!bind(cmd->ctx, a->pos, 4, 4, &b[G3_ATTN_BINDING_STEP], &pc.pos_off) ||
        !bind(cmd->ctx, a->q, bytes, 4, &b[G3_ATTN_BINDING_Q], &pc.q_off) ||
        !bind_kv(ops, a->kv, &b[G3_ATTN_BINDING_KV], &pc.k_cache, &pc.v_cache) ||
        splits > 65535)
        return g3_vk_cmd_fail(cmd, G3_ERR_INVALID_ARG, "attn: the position, q (%u tokens) or the KV "
                    "cache (%u slots) is outside its buffer or misaligned, or %u splits",
                    a->n_tokens, a->kv->n_slots, splits);
    struct g3_pc_attn_combine pcc = {
        .head_dim = o->head_dim,
        .n_head = o->n_head,
        .n_splits = splits,
        .out_stride = width,
    };
    if (splits == 1) {
        if (!bind(cmd->ctx, a->out, bytes, 4, &b[G3_ATTN_BINDING_OUT], &pc.out_off))
            return g3_vk_cmd_fail(cmd, G3_ERR_INVALID_ARG, "attn: out is outside its buffer");
    } else {
        const uint64_t sb = g3_vk_attn_scratch_bytes(ops, splits, a->n_tokens);
        if (!bind(cmd->ctx, a->scratch, sb, 4, &b[G3_ATTN_BINDING_OUT], &pc.out_off) ||
            !bind(cmd->ctx, a->scratch, sb, 4, &bc[G3_ATTN_COMBINE_BINDING_PART],
                  &pcc.part_off) ||
            !bind(cmd->ctx, a->out, bytes, 4, &bc[G3_ATTN_COMBINE_BINDING_OUT], &pcc.out_off))
            return g3_vk_cmd_fail(cmd, G3_ERR_INVALID_ARG, "attn: the scratch (%llu bytes for %u "
                        "splits) or out is outside its buffer", (unsigned long long)sb,
                        splits);
    }
    const g3_vk_pipeline *pa = get_pipe(cmd, ops, a->kv->f32 ? P_ATTN_F32 : P_ATTN_F16);
    const g3_vk_pipeline *pcb = splits > 1 ? get_pipe(cmd, ops, P_ATTN_COMBINE) : NULL;
    if (!pa || (splits > 1 && !pcb))
        return cmd->err.status;
    const uint32_t g[3] = {splits, o->n_head_kv, a->n_tokens};
    g3_vk_cmd_dispatch(cmd, pa, b, 4, &pc, sizeof(pc), g);
    if (splits > 1) {
        g3_vk_cmd_barrier(cmd);
        const uint32_t gc[3] = {o->n_head, a->n_tokens, 1};
        g3_vk_cmd_dispatch(cmd, pcb, bc, 2, &pcc, sizeof(pcc), gc);
    }
    return cmd->err.status;
}

/* ---- GELU_MUL ----------------------------------------------------------------------- */

g3_status g3_vk_record_gelu_mul(g3_vk_cmd *cmd, g3_vk_ops *ops, g3_vk_loc gate, g3_vk_loc up,
                                uint32_t n, g3_vk_loc y)
{
    if (!cmd)
        return G3_ERR_INVALID_ARG;
    if (!usable(cmd, ops, "gelu_mul"))
        return cmd->err.status;
    struct g3_pc_gelu_mul pc = {.n = n};
    g3_vk_binding b[3];
    if (!n || !bind(cmd->ctx, gate, 4ull * n, 4, &b[G3_GELU_MUL_BINDING_G], &pc.g_off) ||
        !bind(cmd->ctx, up, 4ull * n, 4, &b[G3_GELU_MUL_BINDING_U], &pc.u_off) ||
        !bind(cmd->ctx, y, 4ull * n, 4, &b[G3_GELU_MUL_BINDING_Y], &pc.y_off))
        return g3_vk_cmd_fail(cmd, G3_ERR_INVALID_ARG, "gelu_mul: %u elements: a tensor is outside its "
                    "buffer or misaligned", n);
    const g3_vk_pipeline *pp = get_pipe(cmd, ops, P_GELU_MUL);
    uint32_t g[3];
    if (!pp)
        return cmd->err.status;
    if (!g3_vk_fold_groups((n + ops->opt.wg_size - 1) / ops->opt.wg_size, ops->max_groups, g))
        return g3_vk_cmd_fail(cmd, G3_ERR_INVALID_ARG, "gelu_mul: %u elements exceed the grid", n);
    return g3_vk_cmd_dispatch(cmd, pp, b, 3, &pc, sizeof(pc), g);
}

/* ---- argmax / top-k ----------------------------------------------------------------- */

static uint32_t select_per_group(const g3_vk_ops *ops)
{
    return ops->opt.select_wg_size * G3_VK_SELECT_PER_INVOCATION;
}

uint64_t g3_vk_argmax_scratch_bytes(const g3_vk_ops *ops, uint32_t n)
{
    return 8ull * ((n + select_per_group(ops) - 1) / select_per_group(ops));
}

uint64_t g3_vk_topk_scratch_bytes(const g3_vk_ops *ops, uint32_t n, uint32_t k)
{
    return g3_vk_argmax_scratch_bytes(ops, n) * k;
}

/* Both selections: pass 1 over the logits into scratch, a barrier, the final pass
 * over scratch into out. */
static g3_status record_select(g3_vk_cmd *cmd, g3_vk_ops *ops, const char *what, int slot,
                               g3_vk_loc logits, uint32_t n, uint32_t k, g3_vk_loc scratch,
                               g3_vk_loc out)
{
    if (!cmd)
        return G3_ERR_INVALID_ARG;
    if (!usable(cmd, ops, what))
        return cmd->err.status;
    if (!n || !k || k > n || k > G3_TOPK_MAX_K)
        return g3_vk_cmd_fail(cmd, G3_ERR_INVALID_ARG, "%s: k %u of %u values (1 <= k <= min(n, %d))",
                    what, k, n, G3_TOPK_MAX_K);
    const uint32_t per = select_per_group(ops);
    const uint32_t groups = (n + per - 1) / per;
    const uint64_t sb = 8ull * groups * k;
    struct g3_pc_select p1 = {.n = n, .per_group = per, .k = k};
    struct g3_pc_select p2 = {.n = groups * k, .per_group = groups * k, .k = k};
    g3_vk_binding b1[2], b2[2];
    if (!bind(cmd->ctx, logits, 4ull * n, 4, &b1[G3_SELECT_BINDING_SRC], &p1.src_off) ||
        !bind(cmd->ctx, scratch, sb, 4, &b1[G3_SELECT_BINDING_DST], &p1.dst_off) ||
        !bind(cmd->ctx, scratch, sb, 4, &b2[G3_SELECT_BINDING_SRC], &p2.src_off) ||
        !bind(cmd->ctx, out, 8ull * k, 4, &b2[G3_SELECT_BINDING_DST], &p2.dst_off))
        return g3_vk_cmd_fail(cmd, G3_ERR_INVALID_ARG, "%s: the %u logits, the scratch (%llu bytes) or "
                    "the %u results are outside their buffers or misaligned", what, n,
                    (unsigned long long)sb, k);
    const g3_vk_pipeline *pa = get_pipe(cmd, ops, slot), *pb = get_pipe(cmd, ops, slot + 1);
    uint32_t g[3];
    if (!pa || !pb)
        return cmd->err.status;
    if (!g3_vk_fold_groups(groups, ops->max_groups, g))
        return g3_vk_cmd_fail(cmd, G3_ERR_INVALID_ARG, "%s: %u groups exceed the grid", what, groups);
    g3_vk_cmd_dispatch(cmd, pa, b1, 2, &p1, sizeof(p1), g);
    g3_vk_cmd_barrier(cmd);
    const uint32_t one[3] = {1, 1, 1};
    return g3_vk_cmd_dispatch(cmd, pb, b2, 2, &p2, sizeof(p2), one);
}

g3_status g3_vk_record_argmax(g3_vk_cmd *cmd, g3_vk_ops *ops, g3_vk_loc logits, uint32_t n,
                              g3_vk_loc scratch, g3_vk_loc out)
{
    return record_select(cmd, ops, "argmax", P_ARGMAX, logits, n, 1, scratch, out);
}

g3_status g3_vk_record_topk(g3_vk_cmd *cmd, g3_vk_ops *ops, g3_vk_loc logits, uint32_t n,
                            uint32_t k, g3_vk_loc scratch, g3_vk_loc out)
{
    return record_select(cmd, ops, "top-k", P_TOPK, logits, n, k, scratch, out);
}
