/* vk_matvec.c: weights on the device (split by rows to fit a binding) and the
 * recording of matvec.comp dispatches over their pieces. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "g3_shared.h"
#include "quant.h" /* type ids only: the runtime links no host/ code */
#include "vk_internal.h"
#include "vk_matvec.h"

/* Per-type facts the runtime needs. The block sizes duplicate host/quant.c's table on
 * purpose: the runtime library sits below the host library in the link order. */
typedef struct g3_vk_mv_type {
    uint32_t type;
    g3_shader_id shader;
    uint32_t block;      /* weights per block                                       */
    uint32_t bytes;      /* bytes per block                                         */
} g3_vk_mv_type;

static const g3_vk_mv_type g3_vk_mv_types[] = {
    {G3_TYPE_F32, G3_SHADER_MATVEC_F32, 1, 4},
    {G3_TYPE_F16, G3_SHADER_MATVEC_F16, 1, 2},
    {G3_TYPE_BF16, G3_SHADER_MATVEC_BF16, 1, 2},
    {G3_TYPE_Q8_0, G3_SHADER_MATVEC_Q8_0, 32, 34},
    {G3_TYPE_Q4_0, G3_SHADER_MATVEC_Q4_0, 32, 18},
    {G3_TYPE_Q4_1, G3_SHADER_MATVEC_Q4_1, 32, 20},
    {G3_TYPE_Q5_0, G3_SHADER_MATVEC_Q5_0, 32, 22},
    {G3_TYPE_Q5_1, G3_SHADER_MATVEC_Q5_1, 32, 24},
    {G3_TYPE_IQ4_NL, G3_SHADER_MATVEC_IQ4_NL, 32, 18},
    {G3_TYPE_Q2_K, G3_SHADER_MATVEC_Q2_K, 256, 84},
    {G3_TYPE_Q3_K, G3_SHADER_MATVEC_Q3_K, 256, 110},
    {G3_TYPE_Q4_K, G3_SHADER_MATVEC_Q4_K, 256, 144},
    {G3_TYPE_Q5_K, G3_SHADER_MATVEC_Q5_K, 256, 176},
    {G3_TYPE_Q6_K, G3_SHADER_MATVEC_Q6_K, 256, 210},
    {G3_TYPE_IQ4_XS, G3_SHADER_MATVEC_IQ4_XS, 256, 136},
};
#define G3_VK_MV_NTYPES (sizeof(g3_vk_mv_types) / sizeof(g3_vk_mv_types[0]))

/* Pieces stay below 1 GiB even where the device binds 4 GiB: the shader indexes
 * bytes with 32-bit unsigned arithmetic, and no Gemma 3 tensor gains from more. */
#define G3_VK_MV_MAX_PIECE (1ull << 30)
/* Staging chunk: large enough that the per-submit cost vanishes, small enough not to
 * matter next to the weights themselves. */
#define G3_VK_MV_STAGING (16ull << 20)

struct g3_vk_matvec {
    g3_vk_context *ctx;
    g3_vk_matvec_options opt; /* resolved                                        */
    uint32_t max_groups[2];   /* per-dispatch workgroup counts in x and y         */
    uint32_t rows_per_group;  /* rows of one workgroup                            */
    /* [type index][aligned4][1 token, G3_MATVEC_MAX_TOKENS]: created on the first
       upload of that type and alignment */
    g3_vk_pipeline *pipes[G3_VK_MV_NTYPES][2][2];
    g3_vk_pipeline *spipes[5][3]; /* STREAMS: [g3_vk_streams_kind][1 token, batch, 1 token
                                     with x in a uniform buffer]                    */
    bool texel;               /* STREAMS weights read as a uniform texel buffer    */
};

typedef struct g3_vk_piece {
    g3_vk_buffer *buf; /* rows * row_bytes + G3_MATVEC_PAD_BYTES bytes             */
    uint32_t row0;     /* first row of the weight held here                        */
    uint32_t rows;
} g3_vk_piece;

struct g3_vk_weight {
    g3_vk_matvec *mv;
    const g3_vk_pipeline *pipe[2]; /* 1 token (decode), up to G3_MATVEC_MAX_TOKENS */
    int ti;                        /* index in g3_vk_mv_types                      */
    char name[128];
    uint32_t type;
    uint32_t cols, rows, row_bytes;
    uint32_t rows_per_piece;
    uint32_t n_pieces;
    bool streams;        /* G3_VK_MATVEC_LAYOUT_STREAMS                              */
    bool x_ubo;          /* pipe[0] reads x from a uniform buffer                    */
    uint32_t qrow;       /* STREAMS: quant bytes per row                             */
    g3_vk_piece *pieces; /* (n_pieces) */
};

static int mv_type_index(uint32_t type)
{
    for (size_t i = 0; i < G3_VK_MV_NTYPES; i++)
        if (g3_vk_mv_types[i].type == type)
            return (int)i;
    return -1;
}

bool g3_vk_matvec_type_supported(uint32_t type)
{
    return mv_type_index(type) >= 0;
}

/* ---- kernel set ------------------------------------------------------------------- */

/* Shared memory the kernel needs: one partial per (row, token, subgroup), sized for
 * subgroups of one invocation so that it holds on any device. */
static uint64_t mv_shared_bytes(uint32_t wg, uint32_t rows)
{
    return (uint64_t)rows * G3_MATVEC_MAX_TOKENS * wg * sizeof(float);
}

g3_status g3_vk_matvec_create(g3_vk_context *ctx, const g3_vk_matvec_options *opt,
                              g3_vk_matvec **out, g3_err *err)
{
    if (!ctx || !out)
        return g3_err_set(err, G3_ERR_INVALID_ARG, "g3_vk_matvec_create: NULL argument");
    *out = NULL;
    g3_status st = g3_vk_check_lost(ctx, err);
    if (st != G3_OK)
        return st;
    const g3_vk_device_info *d = &ctx->info;
    if (!d->subgroup_in_compute || !(d->subgroup_ops & G3_VK_SUBGROUP_ARITHMETIC))
        return g3_err_set(err, G3_ERR_UNSUPPORTED,
                          "matvec: %s has no subgroup arithmetic in compute shaders", d->name);
    g3_vk_matvec_options o = opt ? *opt : (g3_vk_matvec_options){0};
    /* Defaults. GROUP: 64 invocations cover the 80 units of a 640-column Q8_0 row in
     * two steps, the 256 of a 2048-column Q4_K row in four; 2 rows per group share
     * each x load. LANE (measured on lavapipe): 4 rows per invocation share each x
     * load (about 2x over 1 row on the Q8_0 LM head), 64 invocations keep 640-row
     * matrices in 3 groups. */
    const uint32_t max_wg = G3_MIN(d->max_compute_work_group_invocations,
                                   d->max_compute_work_group_size[0]);
    if (o.mode == G3_VK_MATVEC_AUTO)
        o.mode = d->type == G3_VK_DEVICE_CPU ? G3_VK_MATVEC_LANE : G3_VK_MATVEC_GROUP;
    if (o.mode > G3_VK_MATVEC_LANE || o.layout > G3_VK_MATVEC_LAYOUT_STREAMS)
        return g3_err_set(err, G3_ERR_INVALID_ARG, "matvec: unknown mode %d or layout %d",
                          (int)o.mode, (int)o.layout);
    /* STREAMS: lane mode, 64-bit loads, x spread with subgroupBroadcast. */
    const bool can_streams = o.mode == G3_VK_MATVEC_LANE && d->shader_int64 &&
                             (d->subgroup_ops & G3_VK_SUBGROUP_BALLOT);
    if (o.layout == G3_VK_MATVEC_LAYOUT_AUTO)
        o.layout = can_streams ? G3_VK_MATVEC_LAYOUT_STREAMS : G3_VK_MATVEC_LAYOUT_GGUF;
    if (o.layout == G3_VK_MATVEC_LAYOUT_STREAMS && !can_streams)
        return g3_err_set(err, G3_ERR_UNSUPPORTED,
                          "matvec: the streams layout needs lane mode, 64-bit integers and "
                          "subgroup ballot (%s)", d->name);
    /* STREAMS (measured on lavapipe, full-size model): 8 rows per invocation share each
     * x load (+20% over 4 on the LM head); 32 invocations keep 640-row matrices in 3
     * groups for the device's threads. */
    const bool streams = o.layout == G3_VK_MATVEC_LAYOUT_STREAMS;
    if (!o.wg_size)
        o.wg_size = G3_MIN(G3_MAX(streams ? 32u : 64u, d->subgroup_size), max_wg);
    if (!o.rows_per_wg)
        o.rows_per_wg = streams ? 8 : o.mode == G3_VK_MATVEC_LANE ? 4 : 2;
    if (o.wg_size > max_wg || o.rows_per_wg > 64 ||
        mv_shared_bytes(o.wg_size, o.rows_per_wg) > d->max_compute_shared_memory_size)
        return g3_err_set(err, G3_ERR_UNSUPPORTED,
                          "matvec: workgroup of %u invocations x %u rows needs %llu bytes of "
                          "shared memory; %s allows %u invocations and %u bytes",
                          o.wg_size, o.rows_per_wg,
                          (unsigned long long)mv_shared_bytes(o.wg_size, o.rows_per_wg),
                          d->name, d->max_compute_work_group_invocations,
                          d->max_compute_shared_memory_size);
    g3_vk_matvec *mv = calloc(1, sizeof(*mv));
    if (!mv)
        return g3_err_set(err, G3_ERR_OUT_OF_MEMORY, "out of host memory");
    mv->ctx = ctx;
    mv->rows_per_group = o.rows_per_wg * (o.mode == G3_VK_MATVEC_LANE ? o.wg_size : 1);
    mv->max_groups[0] = d->max_compute_work_group_count[0];
    mv->max_groups[1] = d->max_compute_work_group_count[1];
    if (o.max_groups_x && o.max_groups_x < mv->max_groups[0])
        mv->max_groups[0] = o.max_groups_x;
    o.max_groups_x = mv->max_groups[0];
    uint64_t piece = G3_MIN(d->max_storage_buffer_range, d->max_memory_allocation_size);
    piece = G3_MIN(piece, G3_VK_MV_MAX_PIECE);
    if (o.max_piece_bytes && o.max_piece_bytes < piece)
        piece = o.max_piece_bytes;
    o.max_piece_bytes = piece;
    /* Measured on lavapipe (full-size Q8_0 decode): +30-50% over storage-buffer loads.
     * RGBA32UI texel buffers are mandatory; only the view's size limit can say no. */
    mv->texel = streams && !o.no_texel &&
                (piece + G3_MATVEC_PAD_BYTES) / 16 <= d->max_texel_buffer_elements;
    mv->opt = o;
    *out = mv;
    return G3_OK;
}

void g3_vk_matvec_free(g3_vk_matvec *mv)
{
    if (!mv)
        return;
    for (size_t i = 0; i < G3_VK_MV_NTYPES; i++)
        for (int a = 0; a < 2; a++)
            for (int n = 0; n < 2; n++)
                g3_vk_pipeline_free(mv->ctx, mv->pipes[i][a][n]);
    for (int a = 0; a < 5; a++)
        for (int n = 0; n < 3; n++)
            g3_vk_pipeline_free(mv->ctx, mv->spipes[a][n]);
    free(mv);
}

g3_vk_matvec_options g3_vk_matvec_get_options(const g3_vk_matvec *mv)
{
    return mv ? mv->opt : (g3_vk_matvec_options){0};
}

/* streams: the STREAMS kernel of Q8_0 / Q4_0 / Q5_0 (ti's type), aligned4 unused;
 * batch 2: its 1-token variant with x in a uniform buffer. */
/* [g3_vk_streams_kind][texel][x uniform] */
static const g3_shader_id streams_shader[5][2][2] = {
    {{G3_SHADER_MATVEC_STREAMS_Q8_0, G3_SHADER_MATVEC_STREAMS_Q8_0_U},
     {G3_SHADER_MATVEC_STREAMS_Q8_0_T, G3_SHADER_MATVEC_STREAMS_Q8_0_UT}},
    {{G3_SHADER_MATVEC_STREAMS_Q4_0, G3_SHADER_MATVEC_STREAMS_Q4_0_U},
     {G3_SHADER_MATVEC_STREAMS_Q4_0_T, G3_SHADER_MATVEC_STREAMS_Q4_0_UT}},
    {{G3_SHADER_MATVEC_STREAMS_Q5_0, G3_SHADER_MATVEC_STREAMS_Q5_0_U},
     {G3_SHADER_MATVEC_STREAMS_Q5_0_T, G3_SHADER_MATVEC_STREAMS_Q5_0_UT}},
    {{G3_SHADER_MATVEC_STREAMS_Q4_1, G3_SHADER_MATVEC_STREAMS_Q4_1_U},
     {G3_SHADER_MATVEC_STREAMS_Q4_1_T, G3_SHADER_MATVEC_STREAMS_Q4_1_UT}},
    {{G3_SHADER_MATVEC_STREAMS_Q5_1, G3_SHADER_MATVEC_STREAMS_Q5_1_U},
     {G3_SHADER_MATVEC_STREAMS_Q5_1_T, G3_SHADER_MATVEC_STREAMS_Q5_1_UT}},
};

int g3_vk_streams_kind(uint32_t type)
{
    switch (type) {
    case G3_TYPE_Q8_0: return 0;
    case G3_TYPE_Q4_0: return 1;
    case G3_TYPE_Q5_0: return 2;
    case G3_TYPE_Q4_1: return 3;
    case G3_TYPE_Q5_1: return 4;
    default: return -1;
    }
}

static g3_status mv_pipeline(g3_vk_matvec *mv, int ti, bool aligned4, bool streams, int batch,
                             const g3_vk_pipeline **out, g3_err *err)
{
    const int kind = streams ? g3_vk_streams_kind(g3_vk_mv_types[ti].type) : 0;
    G3_ASSERT(kind >= 0);
    g3_vk_pipeline **slot =
        streams ? &mv->spipes[kind][batch] : &mv->pipes[ti][aligned4][batch];
    if (!*slot) {
        const g3_vk_pipeline_desc desc = {
            .shader = !streams   ? g3_vk_mv_types[ti].shader
                      : streams_shader[kind][mv->texel][batch == 2],
            .uniform_mask = batch == 2 ? 1u << G3_MATVEC_BINDING_X : 0,
            .texel_mask = streams && mv->texel ? 1u << G3_MATVEC_BINDING_W : 0,
            .n_bindings = 3,
            .push_size = sizeof(struct g3_pc_matvec),
            .n_spec = 5,
            .spec = {{G3_SPEC_WG_SIZE, mv->opt.wg_size},
                     {G3_MATVEC_SPEC_ROWS, mv->opt.rows_per_wg},
                     {G3_MATVEC_SPEC_ALIGNED4, aligned4},
                     {G3_MATVEC_SPEC_LANE_ROWS, mv->opt.mode == G3_VK_MATVEC_LANE},
                     {G3_MATVEC_SPEC_TOKENS, batch == 1 ? G3_MATVEC_MAX_TOKENS : 1}},
        };
        g3_status st = g3_vk_pipeline_create(mv->ctx, &desc, slot, err);
        if (st != G3_OK)
            return st;
    }
    *out = *slot;
    return G3_OK;
}

/* ---- upload ----------------------------------------------------------------------- */

void g3_vk_weight_free(g3_vk_weight *w)
{
    if (!w)
        return;
    for (uint32_t i = 0; i < w->n_pieces; i++)
        g3_vk_buffer_free(w->mv->ctx, w->pieces[i].buf);
    free(w->pieces);
    free(w);
}

g3_vk_weight_info g3_vk_weight_get_info(const g3_vk_weight *w)
{
    g3_vk_weight_info in = {0};
    if (!w)
        return in;
    in.name = w->name;
    in.type = w->type;
    in.cols = w->cols;
    in.rows = w->rows;
    in.row_bytes = w->row_bytes;
    in.n_pieces = w->n_pieces;
    in.rows_per_piece = w->rows_per_piece;
    in.streams = w->streams;
    for (uint32_t i = 0; i < w->n_pieces; i++)
        in.device_bytes += g3_vk_buffer_size(w->pieces[i].buf);
    return in;
}

/* Checks the weight against its type and the kernel's 32-bit indexing. */
static g3_status check_weight(const g3_weight *w, const char *name, int ti, g3_err *err)
{
    if (ti < 0)
        return g3_err_set(err, G3_ERR_UNSUPPORTED, "tensor '%s': no Vulkan matvec for type %u",
                          name, w->type);
    const g3_vk_mv_type *t = &g3_vk_mv_types[ti];
    if (w->ne[0] < 1 || w->ne[1] < 1 || w->ne[0] > (int64_t)UINT32_MAX / 4 ||
        w->ne[1] > (int64_t)UINT32_MAX / 4 || !w->data)
        return g3_err_set(err, G3_ERR_INVALID_ARG, "tensor '%s': shape %lld x %lld or data "
                          "not usable for a matvec", name, (long long)w->ne[0],
                          (long long)w->ne[1]);
    if (w->ne[0] % t->block != 0 ||
        w->row_bytes != (uint64_t)w->ne[0] / t->block * t->bytes)
        return g3_err_set(err, G3_ERR_INVALID_ARG,
                          "tensor '%s': %lld columns and %llu bytes per row do not fit blocks "
                          "of %u weights in %u bytes",
                          name, (long long)w->ne[0], (unsigned long long)w->row_bytes,
                          t->block, t->bytes);
    return G3_OK;
}

/* Fills buf with [src, src + size) of host memory followed by G3_MATVEC_PAD_BYTES zero
 * bytes, through the staging buffer, one chunk per submit, reporting progress. */
static g3_status stage_copy(g3_vk_cmd *cmd, g3_vk_buffer *staging, const uint8_t *src,
                            uint64_t size, g3_vk_buffer *buf, uint64_t *done, uint64_t total,
                            g3_vk_progress_fn progress, void *user, g3_err *err)
{
    uint8_t *map = g3_vk_buffer_map(staging);
    const uint64_t cap = g3_vk_buffer_size(staging), all = size + G3_MATVEC_PAD_BYTES;
    for (uint64_t off = 0; off < all;) {
        const uint64_t n = G3_MIN(cap, all - off);
        const uint64_t data = off < size ? G3_MIN(n, size - off) : 0;
        memcpy(map, src + off, data);
        memset(map + data, 0, n - data); /* the padding after the last row */
        g3_vk_cmd_begin(cmd);
        g3_vk_cmd_copy(cmd, staging, 0, buf, off, n);
        g3_status st = g3_vk_cmd_submit_wait(cmd, err);
        if (st != G3_OK)
            return st;
        off += n;
        *done += data;
        if (progress && data)
            progress(user, *done, total);
    }
    return G3_OK;
}

/* STREAMS layout of `rows` rows (matvec_streams.comp): bytes of the quants, offset of
 * the scales, scale bytes per row, total. */
typedef struct streams_geom {
    uint64_t s_off, sb; /* scales                                                   */
    uint64_t m_off;     /* minima (Q4_1, Q5_1)                                       */
    uint64_t h_off, hb; /* qh words (Q5_0, Q5_1; hb 0 otherwise)                     */
    uint64_t total;
    bool min;
} streams_geom;

static streams_geom streams_geom_of(uint32_t type, uint64_t cols, uint64_t rows)
{
    streams_geom g;
    const uint64_t qrow = type == G3_TYPE_Q8_0 ? cols : cols / 2;
    g.min = type == G3_TYPE_Q4_1 || type == G3_TYPE_Q5_1;
    g.s_off = G3_STREAMS_SOFF(rows, qrow);
    g.sb = G3_STREAMS_SB(cols);
    g.m_off = G3_STREAMS_BYTES(rows, qrow, g.sb);
    g.h_off = G3_STREAMS_QH_OFF(rows, qrow, g.sb, (uint64_t)g.min);
    g.hb = type == G3_TYPE_Q5_0 || type == G3_TYPE_Q5_1 ? G3_STREAMS_HB(cols) : 0;
    g.total = g.h_off + G3_STREAMS_ROUND_ROWS(rows) * g.hb;
    return g;
}

static streams_geom streams_of(const g3_vk_weight *w, uint64_t rows)
{
    return streams_geom_of(w->type, w->cols, rows);
}

uint64_t g3_vk_streams_bytes(uint32_t type, uint64_t cols, uint64_t rows)
{
    return g3_vk_streams_kind(type) < 0 ? 0 : streams_geom_of(type, cols, rows).total;
}

/* Rows [row0, row0 + rows) of GGUF Q8_0 / Q4_0 data into the STREAMS image dst. */
static void streams_fill(const g3_vk_weight *w, const uint8_t *src, uint64_t rows, uint8_t *dst)
{
    const streams_geom g = streams_of(w, rows);
    const uint32_t nblk = w->cols / 32;
    /* GGUF blocks: f16 d, then Q8_0 qs[32]; Q4_0 qs[16]; Q4_1 f16 m, qs[16]; Q5_0 qh[4],
     * qs[16]; Q5_1 f16 m, qh[4], qs[16]. */
    const uint32_t bb = g3_vk_mv_types[w->ti].bytes;
    const uint32_t qb = w->type == G3_TYPE_Q8_0 ? 32 : 16; /* quant bytes per block   */
    const uint32_t qs = bb - qb;                           /* qs offset in the block  */
    const uint32_t qh = g.min ? 4 : 2;                     /* qh offset (Q5_0, Q5_1)  */
    memset(dst, 0, g.total);
    for (uint64_t r = 0; r < rows; r++) {
        const uint8_t *row = src + r * w->row_bytes;
        for (uint64_t b = 0; b < nblk; b++) {
            memcpy(dst + G3_STREAMS_QOFF(r, b, (uint64_t)w->qrow, (uint64_t)qb), row + b * bb + qs,
                   qb);
            memcpy(dst + g.s_off + G3_STREAMS_SCALE_OFF(r, b, g.sb), row + b * bb, 2);
            if (g.min)
                memcpy(dst + g.m_off + G3_STREAMS_SCALE_OFF(r, b, g.sb), row + b * bb + 2, 2);
            if (g.hb)
                memcpy(dst + g.h_off + G3_STREAMS_HOFF(r, b, g.hb), row + b * bb + qh, 4);
        }
    }
}

g3_status g3_vk_weight_upload(g3_vk_matvec *mv, const g3_weight *w, g3_vk_progress_fn progress,
                              void *user, g3_vk_weight **out, g3_err *err)
{
    if (!mv || !w || !out)
        return g3_err_set(err, G3_ERR_INVALID_ARG, "g3_vk_weight_upload: NULL argument");
    *out = NULL;
    g3_vk_context *ctx = mv->ctx;
    const char *name = w->name ? w->name : "(unnamed)";
    const int ti = mv_type_index(w->type);
    g3_status st = check_weight(w, name, ti, err);
    if (st != G3_OK)
        return st;
    const g3_vk_mv_type *t = &g3_vk_mv_types[ti];
    const uint64_t row_bytes = w->row_bytes;
    const uint64_t limit = mv->opt.max_piece_bytes;
    if (row_bytes + G3_MATVEC_PAD_BYTES > limit)
        return g3_err_set(err, G3_ERR_UNSUPPORTED,
                          "tensor '%s': one row of %llu bytes does not fit a binding of %llu",
                          name, (unsigned long long)row_bytes, (unsigned long long)limit);

    g3_vk_weight *vw = calloc(1, sizeof(*vw));
    g3_vk_buffer *staging = NULL;
    g3_vk_cmd *cmd = NULL;
    if (!vw)
        return g3_err_set(err, G3_ERR_OUT_OF_MEMORY, "out of host memory");
    vw->mv = mv;
    snprintf(vw->name, sizeof(vw->name), "%s", name);
    vw->type = w->type;
    vw->ti = ti;
    vw->cols = (uint32_t)w->ne[0];
    vw->rows = (uint32_t)w->ne[1];
    vw->row_bytes = (uint32_t)row_bytes;
    vw->streams = mv->opt.layout == G3_VK_MATVEC_LAYOUT_STREAMS && g3_vk_streams_kind(w->type) >= 0;
    vw->qrow = vw->cols / (w->type == G3_TYPE_Q8_0 ? 1 : 2);
    /* Whole rows per piece; each piece has its own buffer, so every binding starts
     * at offset 0 and minStorageBufferOffsetAlignment never constrains the split. */
    /* STREAMS: a whole group of rows holds no rounding (its quants are 32-byte runs). */
    const uint64_t per_row =
        vw->streams ? streams_of(vw, G3_STREAMS_LANES).total / G3_STREAMS_LANES : row_bytes;
    uint64_t rpp = (limit - G3_MATVEC_PAD_BYTES - (vw->streams ? 32 : 0)) / per_row;
    /* STREAMS pieces of whole row groups (a piece's image rounds its rows up to one). */
    if (vw->streams && rpp < vw->rows)
        rpp = rpp >= G3_STREAMS_LANES ? rpp / G3_STREAMS_LANES * G3_STREAMS_LANES : 0;
    if (rpp == 0) {
        free(vw);
        return g3_err_set(err, G3_ERR_UNSUPPORTED,
                          "tensor '%s': %u rows of %llu bytes do not fit a binding of %llu",
                          name, G3_STREAMS_LANES, (unsigned long long)per_row,
                          (unsigned long long)limit);
    }
    vw->rows_per_piece = (uint32_t)G3_MIN(rpp, (uint64_t)vw->rows);
    vw->n_pieces = (vw->rows + vw->rows_per_piece - 1) / vw->rows_per_piece;
    vw->pieces = calloc(vw->n_pieces, sizeof(*vw->pieces));
    if (!vw->pieces) {
        st = g3_err_set(err, G3_ERR_OUT_OF_MEMORY, "out of host memory");
        goto out;
    }
    /* Every 32-bit field sits on a 4-byte boundary when blocks and rows are multiples
     * of 4 bytes (F16/BF16: two values per word, units of four). */
    const bool aligned4 = row_bytes % 4 == 0 && (t->bytes % 4 == 0 || t->block == 1);
    /* One token's x in a uniform buffer where it fits the 16 KiB every device binds. */
    vw->x_ubo = vw->streams && (uint64_t)vw->cols * 4 + 256 <=
                                   G3_MIN(G3_MATVEC_UBO_VEC4 * 16u,
                                          ctx->info.max_uniform_buffer_range);
    if ((st = mv_pipeline(mv, ti, aligned4, vw->streams, vw->x_ubo ? 2 : 0, &vw->pipe[0],
                          err)) != G3_OK ||
        (st = mv_pipeline(mv, ti, aligned4, vw->streams, 1, &vw->pipe[1], err)) != G3_OK)
        goto out;

    const uint64_t total = (uint64_t)vw->rows * row_bytes;
    const uint64_t image = vw->streams ? streams_of(vw, vw->rows_per_piece).total : total;
    if ((st = g3_vk_buffer_create(ctx, G3_MIN(G3_VK_MV_STAGING, image + G3_MATVEC_PAD_BYTES),
                                  G3_VK_MEMORY_UPLOAD, "matvec staging", &staging, err)) !=
            G3_OK ||
        (st = g3_vk_cmd_create(ctx, &cmd, err)) != G3_OK)
        goto out;
    uint64_t done = 0;
    for (uint32_t i = 0; i < vw->n_pieces; i++) {
        g3_vk_piece *pc = &vw->pieces[i];
        pc->row0 = i * vw->rows_per_piece;
        pc->rows = G3_MIN(vw->rows_per_piece, vw->rows - pc->row0);
        const uint64_t bytes = (uint64_t)pc->rows * row_bytes;
        const uint64_t dev_bytes = vw->streams ? streams_of(vw, pc->rows).total : bytes;
        char bname[160];
        if (vw->n_pieces == 1)
            snprintf(bname, sizeof(bname), "%s", name);
        else
            snprintf(bname, sizeof(bname), "%s [rows %u..%u]", name, pc->row0,
                     pc->row0 + pc->rows - 1);
        if ((st = g3_vk_buffer_create(ctx, dev_bytes + G3_MATVEC_PAD_BYTES, G3_VK_MEMORY_DEVICE,
                                      bname, &pc->buf, err)) != G3_OK)
            goto out;
        const uint8_t *src = (const uint8_t *)w->data + (uint64_t)pc->row0 * row_bytes;
        if (vw->streams) {
            /* Re-laid out on the host, then copied; progress counts GGUF bytes. */
            uint8_t *img = malloc(dev_bytes);
            if (!img) {
                st = g3_err_set(err, G3_ERR_OUT_OF_MEMORY, "out of host memory");
                goto out;
            }
            streams_fill(vw, src, pc->rows, img);
            uint64_t img_done = 0;
            st = stage_copy(cmd, staging, img, dev_bytes, pc->buf, &img_done, dev_bytes, NULL,
                            NULL, err);
            free(img);
            if (st != G3_OK)
                goto out;
            done += bytes;
            if (progress)
                progress(user, done, total);
        } else if ((st = stage_copy(cmd, staging, src, bytes, pc->buf, &done, total, progress,
                                    user, err)) != G3_OK) {
            goto out;
        }
    }
    g3_vk_cmd_free(cmd);
    g3_vk_buffer_free(ctx, staging);
    *out = vw;
    return G3_OK;
out:
    if (err && err->status != G3_OK)
        g3_err_prefix(err, "uploading tensor '%s' (%s, %u x %u)", name,
                      g3_vk_shader_blob(t->shader) ? g3_vk_shader_blob(t->shader)->name : "?",
                      vw->cols, vw->rows);
    g3_vk_cmd_free(cmd);
    g3_vk_buffer_free(ctx, staging);
    g3_vk_weight_free(vw);
    return st;
}

/* ---- recording --------------------------------------------------------------------- */


g3_status g3_vk_matvec_record(g3_vk_cmd *cmd, const g3_vk_weight *w, g3_vk_buffer *x,
                              uint64_t x_offset, g3_vk_buffer *y, uint64_t y_offset,
                              uint32_t n_tokens)
{
    if (!cmd)
        return G3_ERR_INVALID_ARG;
    if (cmd->err.status != G3_OK)
        return cmd->err.status;
    /* The block types load x 16 bytes at a time (matvec.comp). */
    const uint64_t x_align = w && g3_vk_mv_types[w->ti].block > 1 ? 16 : 4;
    if (!w || !x || !y || n_tokens == 0 || x_offset % x_align || y_offset % 4 ||
        w->mv->ctx != cmd->ctx)
        return g3_err_set(&cmd->err, G3_ERR_INVALID_ARG,
                          "matvec %s: missing weight/buffer, no tokens, an x offset that is not "
                          "a multiple of %u or a y offset not of 4, or a weight of another "
                          "context", w ? w->name : "?", (unsigned)x_align);
    const uint64_t xb = (uint64_t)w->cols * 4, yb = (uint64_t)w->rows * 4;
    if (x_offset > x->size || (x->size - x_offset) / xb < n_tokens || y_offset > y->size ||
        (y->size - y_offset) / yb < n_tokens)
        return g3_err_set(&cmd->err, G3_ERR_INVALID_ARG,
                          "matvec %s: %u tokens of x (%llu bytes each at %llu) or y (%llu at "
                          "%llu) do not fit their buffers (%llu, %llu bytes)",
                          w->name, n_tokens, (unsigned long long)xb,
                          (unsigned long long)x_offset, (unsigned long long)yb,
                          (unsigned long long)y_offset, (unsigned long long)x->size,
                          (unsigned long long)y->size);
    const g3_vk_matvec *mv = w->mv;
    g3_status st = G3_OK;
    uint64_t prev_lo = 0, prev_hi = 0; /* output range of the previous dispatch */
    for (uint32_t t0 = 0; t0 < n_tokens; t0 += G3_MATVEC_MAX_TOKENS) {
        const uint32_t nt = G3_MIN(n_tokens - t0, (uint32_t)G3_MATVEC_MAX_TOKENS);
        struct g3_pc_matvec pc = {
            .n_cols = w->cols,
            .row_bytes = w->streams ? w->qrow : w->row_bytes,
            .x_stride = w->cols,
            .y_stride = w->rows,
            .n_tokens = nt,
        };
        g3_vk_binding b[3];
        const bool ubo = nt == 1 && w->x_ubo;
        const uint64_t xa =
            ubo ? G3_MAX(16, cmd->ctx->info.min_uniform_buffer_offset_alignment) : 16;
        b[G3_MATVEC_BINDING_X] = g3_vk_bind_aligned(cmd->ctx, x, x_offset + t0 * xb, nt * xb, xa, &pc.x_off);
        for (uint32_t i = 0; i < w->n_pieces; i++) {
            const g3_vk_piece *p = &w->pieces[i];
            /* Only the rows of this piece, for these tokens: the y range of each
             * dispatch is as tight as the offset alignment allows. */
            const uint64_t lo = y_offset + (t0 * (uint64_t)w->rows + p->row0) * 4;
            const uint64_t hi = y_offset + ((t0 + nt - 1) * (uint64_t)w->rows + p->row0 +
                                            p->rows) * 4;
            b[G3_MATVEC_BINDING_W] = (g3_vk_binding){.buf = p->buf};
            b[G3_MATVEC_BINDING_Y] = g3_vk_bind_aligned(cmd->ctx, y, lo, hi - lo, 4, &pc.y_off);
            /* Dispatches of one call write disjoint elements, but two that bind
             * overlapping ranges are a hazard to synchronization validation (which
             * sees ranges, not elements): order them. */
            if (prev_hi > b[G3_MATVEC_BINDING_Y].offset &&
                prev_lo < b[G3_MATVEC_BINDING_Y].offset + b[G3_MATVEC_BINDING_Y].size)
                g3_vk_cmd_barrier(cmd);
            prev_lo = b[G3_MATVEC_BINDING_Y].offset;
            prev_hi = prev_lo + b[G3_MATVEC_BINDING_Y].size;
            pc.n_rows = p->rows;
            /* More groups than one dimension allows fold into a second: the shader
             * linearizes (y, x) and skips the overshoot of the last line. */
            const uint32_t groups = (p->rows + mv->rows_per_group - 1) / mv->rows_per_group;
            uint32_t g[3];
            if (!g3_vk_fold_groups(groups, mv->max_groups, g))
                return g3_err_set(&cmd->err, G3_ERR_INVALID_ARG,
                                  "matvec %s: %u workgroups exceed the device grid", w->name,
                                  groups);
            st = g3_vk_cmd_dispatch(cmd, w->pipe[nt > 1], b, 3, &pc, sizeof(pc), g);
            if (st != G3_OK)
                return st;
        }
    }
    return st;
}

g3_vk_rows g3_vk_weight_piece(const g3_vk_weight *w, uint32_t i)
{
    if (!w || i >= w->n_pieces)
        return (g3_vk_rows){0};
    return (g3_vk_rows){.buf = w->pieces[i].buf, .offset = 0, .row0 = w->pieces[i].row0,
                        .n_rows = w->pieces[i].rows};
}
