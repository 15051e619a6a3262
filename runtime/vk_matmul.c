/* vk_matmul.c: the matrix-matrix kernels of prompt processing (matmul_lane.comp,
 * matmul_tile.comp): options against the device, pipelines per weight type, and the
 * recording of dispatches over a weight's pieces and token chunks. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "matmul_shared.h"
#include "quant.h" /* type ids only: the runtime links no host/ code */
#include "vk_internal.h"
#include "vk_matmul.h"

/* Per-type kernel facts. block/bytes duplicate host/quant.c's table on purpose (the
 * runtime sits below the host library); xg_cols is the column group the shaders step
 * by (matmul_common.glsl), which sizes the TILE kernel's shared memory. */
typedef struct g3_vk_mm_type {
    uint32_t type;
    g3_shader_id lane, tile;
    uint32_t block, bytes, xg_cols;
} g3_vk_mm_type;

#define MM_T(t, name, block, bytes, xg)                                                    \
    {G3_TYPE_##t, G3_SHADER_MATMUL_LANE_##name, G3_SHADER_MATMUL_TILE_##name, block, bytes, xg}
static const g3_vk_mm_type g3_vk_mm_types[] = {
    MM_T(F32, F32, 1, 4, 32),         MM_T(F16, F16, 1, 2, 32),
    MM_T(BF16, BF16, 1, 2, 32),       MM_T(Q8_0, Q8_0, 32, 34, 32),
    MM_T(Q4_0, Q4_0, 32, 18, 32),     MM_T(Q4_1, Q4_1, 32, 20, 32),
    MM_T(Q5_0, Q5_0, 32, 22, 32),     MM_T(Q5_1, Q5_1, 32, 24, 32),
    MM_T(IQ4_NL, IQ4_NL, 32, 18, 32), MM_T(Q2_K, Q2_K, 256, 84, 128),
    MM_T(Q3_K, Q3_K, 256, 110, 128),  MM_T(Q4_K, Q4_K, 256, 144, 64),
    MM_T(Q5_K, Q5_K, 256, 176, 64),   MM_T(Q6_K, Q6_K, 256, 210, 128),
    MM_T(IQ4_XS, IQ4_XS, 256, 136, 32),
};
#undef MM_T
#define G3_VK_MM_NTYPES G3_ARRAY_LEN(g3_vk_mm_types)

/* A pipeline is specialized for a type, a kernel, a W layout and alignment, an x
 * alignment and (lane kernel) the tokens per invocation; the few a model needs are
 * kept in a list. */
typedef struct mm_key {
    int ti;
    bool lane, streams, aligned4;
    bool row4;       /* lane: rows are multiples of 4 bytes (G3_MM_SPEC_ROW4)       */
    uint32_t xalign; /* G3_MM_SPEC_XALIGN                                          */
    uint32_t tokens; /* lane: tokens per invocation (the UBO may hold fewer)         */
} mm_key;

typedef struct mm_pipe {
    mm_key key;
    g3_vk_pipeline *pipe;
} mm_pipe;

struct g3_vk_matmul {
    g3_vk_context *ctx;
    g3_vk_matmul_options opt; /* resolved                                           */
    uint32_t max_groups[2];   /* per-dispatch workgroup counts in x and y            */
    bool bcast;               /* lane: x spread by subgroup shuffles                 */
    uint32_t lane_rows, lane_tokens, lane_wg;  /* lane kernel (mode LANE)           */
    uint32_t tile_rows, tile_tokens, tile_m, tile_n; /* tile kernel: the mode TILE
                                 sizes, or the fallback's where the lane kernel cannot
                                 take a weight                                       */
    uint32_t ubo_range;       /* lane: bytes of x one dispatch binds at most          */
    mm_pipe *pipes;           /* (n_pipes)                                           */
    uint32_t n_pipes, cap_pipes;
};

static int mm_type_index(uint32_t type)
{
    for (size_t i = 0; i < G3_VK_MM_NTYPES; i++)
        if (g3_vk_mm_types[i].type == type)
            return (int)i;
    return -1;
}

bool g3_vk_matmul_type_supported(uint32_t type)
{
    return mm_type_index(type) >= 0;
}

static bool is_pow2(uint32_t v)
{
    return v && !(v & (v - 1));
}

/* The tile kernel's sizes from the options (0 = default): 64 x 64 tiles of 4 x 4 per
 * invocation (256 invocations) where the device allows. */
static g3_status tile_sizes(const g3_vk_device_info *d, const g3_vk_matmul_options *o,
                            g3_vk_matmul *mm, g3_err *err)
{
    const uint32_t max_wg = G3_MIN(d->max_compute_work_group_invocations,
                                   d->max_compute_work_group_size[0]);
    uint32_t tm = o->tile_m ? o->tile_m : 4, tn = o->tile_n ? o->tile_n : 4;
    uint32_t rows = o->rows ? o->rows : 64, toks = o->tokens ? o->tokens : 64;
    while ((rows / tm) * (toks / tn) > max_wg && rows > tm && !o->rows)
        rows /= 2;
    while ((rows / tm) * (toks / tn) > max_wg && toks > tn && !o->tokens)
        toks /= 2;
    if (rows % tm || toks % tn || !is_pow2(rows / tm) || !is_pow2(toks / tn))
        return g3_err_set(err, G3_ERR_INVALID_ARG,
                          "matmul: tile of %u rows x %u tokens does not split into a power "
                          "of two of %u x %u micro tiles", rows, toks, tm, tn);
    if ((rows / tm) * (toks / tn) > max_wg || tm > 16 || tn > 16)
        return g3_err_set(err, G3_ERR_UNSUPPORTED,
                          "matmul: tile of %u x %u with %u x %u per invocation needs %u "
                          "invocations; %s allows %u (micro tiles at most 16 x 16)",
                          rows, toks, tm, tn, (rows / tm) * (toks / tn), d->name, max_wg);
    mm->tile_rows = rows;
    mm->tile_tokens = toks;
    mm->tile_m = tm;
    mm->tile_n = tn;
    return G3_OK;
}

g3_status g3_vk_matmul_create(g3_vk_context *ctx, const g3_vk_matmul_options *opt,
                              g3_vk_matmul **out, g3_err *err)
{
    if (!ctx || !out)
        return g3_err_set(err, G3_ERR_INVALID_ARG, "g3_vk_matmul_create: NULL argument");
    *out = NULL;
    g3_status st = g3_vk_check_lost(ctx, err);
    if (st != G3_OK)
        return st;
    const g3_vk_device_info *d = &ctx->info;
    g3_vk_matmul_options o = opt ? *opt : (g3_vk_matmul_options){0};
    /* The lane kernel: subgroup shuffles in compute shaders, x in a uniform buffer that
     * holds a useful number of tokens. */
    const bool lane_ok = d->subgroup_in_compute && (d->subgroup_ops & G3_VK_SUBGROUP_SHUFFLE) &&
                         d->max_uniform_buffer_range >= 16384;
    if (o.mode > G3_VK_MATMUL_LANE)
        return g3_err_set(err, G3_ERR_INVALID_ARG, "matmul: unknown mode %d", (int)o.mode);
    if (o.mode == G3_VK_MATMUL_AUTO)
        o.mode = d->type == G3_VK_DEVICE_CPU && lane_ok ? G3_VK_MATMUL_LANE : G3_VK_MATMUL_TILE;
    const uint32_t max_wg = G3_MIN(d->max_compute_work_group_invocations,
                                   d->max_compute_work_group_size[0]);
    g3_vk_matmul tmp = {0};
    const g3_vk_matmul_options no_sizes = {0};
    if ((st = tile_sizes(d, o.mode == G3_VK_MATMUL_TILE ? &o : &no_sizes, &tmp, err)) != G3_OK)
        return st;
    if (o.mode == G3_VK_MATMUL_LANE) {
        if (!lane_ok)
            return g3_err_set(err, G3_ERR_UNSUPPORTED,
                              "matmul: the lane kernel needs subgroup shuffles in compute "
                              "shaders and 16 KiB uniform buffers (%s: shuffle %s, %u bytes)",
                              d->name,
                              d->subgroup_in_compute && (d->subgroup_ops & G3_VK_SUBGROUP_SHUFFLE)
                                  ? "yes" : "no", d->max_uniform_buffer_range);
        /* Defaults measured on lavapipe (bench/bench_matmul.c, see the file). */
        if (!o.wg_size)
            o.wg_size = G3_MIN(G3_MAX(16u, d->subgroup_size_max), max_wg);
        if (!o.rows)
            o.rows = 4;
        if (!o.tokens)
            o.tokens = 8;
        if (o.wg_size > max_wg || o.rows > 16 || o.tokens > 32)
            return g3_err_set(err, G3_ERR_UNSUPPORTED,
                              "matmul: lane kernel of %u invocations x %u rows x %u tokens "
                              "(%s allows %u invocations; at most 16 rows and 32 tokens)",
                              o.wg_size, o.rows, o.tokens, d->name, max_wg);
        /* Spreading x by shuffles needs lanes 0..7 of every subgroup active: subgroups
         * of 8 or more lanes (whatever size the driver picks) that the workgroup fills. */
        tmp.bcast = d->subgroup_size_min >= 8 && o.wg_size % d->subgroup_size_max == 0;
        tmp.lane_rows = o.rows;
        tmp.lane_tokens = o.tokens;
        tmp.lane_wg = o.wg_size;
        tmp.ubo_range = G3_MIN(d->max_uniform_buffer_range, G3_MM_XUBO_VEC4 * 16u);
        if (o.max_x_bytes && o.max_x_bytes < tmp.ubo_range)
            tmp.ubo_range = o.max_x_bytes;
        o.max_x_bytes = tmp.ubo_range;
        o.tile_m = o.tile_n = 0;
    } else {
        o.rows = tmp.tile_rows;
        o.tokens = tmp.tile_tokens;
        o.tile_m = tmp.tile_m;
        o.tile_n = tmp.tile_n;
        o.wg_size = (o.rows / o.tile_m) * (o.tokens / o.tile_n);
        o.max_x_bytes = 0;
    }
    g3_vk_matmul *mm = calloc(1, sizeof(*mm));
    if (!mm)
        return g3_err_set(err, G3_ERR_OUT_OF_MEMORY, "out of host memory");
    *mm = tmp;
    mm->ctx = ctx;
    mm->max_groups[0] = d->max_compute_work_group_count[0];
    mm->max_groups[1] = d->max_compute_work_group_count[1];
    if (o.max_groups_x && o.max_groups_x < mm->max_groups[0])
        mm->max_groups[0] = o.max_groups_x;
    o.max_groups_x = mm->max_groups[0];
    mm->opt = o;
    *out = mm;
    return G3_OK;
}

void g3_vk_matmul_free(g3_vk_matmul *mm)
{
    if (!mm)
        return;
    for (uint32_t i = 0; i < mm->n_pipes; i++)
        g3_vk_pipeline_free(mm->ctx, mm->pipes[i].pipe);
    free(mm->pipes);
    free(mm);
}

g3_vk_matmul_options g3_vk_matmul_get_options(const g3_vk_matmul *mm)
{
    return mm ? mm->opt : (g3_vk_matmul_options){0};
}

/* ---- plans and pipelines ----------------------------------------------------------- */

/* What a weight needs: its type index, layout and W alignment. */
typedef struct mm_weight {
    g3_vk_weight_info in;
    int ti;
    bool aligned4;
    uint32_t row_bytes; /* as the shader addresses rows (STREAMS: quant bytes)      */
} mm_weight;

static bool mm_weight_of(const g3_vk_weight *w, mm_weight *mw)
{
    mw->in = g3_vk_weight_get_info(w);
    mw->ti = mm_type_index(mw->in.type);
    if (mw->ti < 0)
        return false;
    const g3_vk_mm_type *t = &g3_vk_mm_types[mw->ti];
    /* Every 32-bit field 4-byte aligned (as vk_matvec.c decides for its kernels). */
    mw->aligned4 = mw->in.row_bytes % 4 == 0 && (t->bytes % 4 == 0 || t->block == 1);
    mw->row_bytes = mw->in.streams
                        ? (uint32_t)(mw->in.cols / (mw->in.type == G3_TYPE_Q8_0 ? 1 : 2))
                        : (uint32_t)mw->in.row_bytes;
    return true;
}

/* How one product runs: the kernel and its pipeline key, the rows and tokens of a
 * workgroup, the tokens of a dispatch. */
typedef struct mm_plan {
    mm_key key;
    uint32_t wg, g_rows, g_toks;
    uint32_t tm, tn;        /* tile kernel: micro tile                               */
    uint64_t chunk;         /* tokens per dispatch (every binding within its limit)  */
    uint64_t x_align;       /* binding alignment of x                                */
} mm_plan;

/* The plan for weight mw with x at byte x_offset (its alignment class matters). The
 * lane kernel takes a weight when a dispatch's uniform buffer holds at least one
 * token's x and its pieces fit a texel view; otherwise the tile kernel does. */
static g3_status mm_plan_of(const g3_vk_matmul *mm, const g3_vk_weight *w, const mm_weight *mw,
                            uint64_t x_offset, mm_plan *pl, g3_err *err)
{
    const g3_vk_device_info *d = &mm->ctx->info;
    const uint64_t xb = (uint64_t)mw->in.cols * 4, yb = (uint64_t)mw->in.rows * 4;
    const uint32_t xalign = x_offset % 16 == 0 && mw->in.cols % 4 == 0;
    *pl = (mm_plan){.key = {.ti = mw->ti, .streams = mw->in.streams,
                            .aligned4 = mw->aligned4, .xalign = xalign}};
    bool lane = mm->opt.mode == G3_VK_MATMUL_LANE;
    uint64_t x_room = 0;
    if (lane) {
        /* The x binding starts at the uniform-buffer alignment at or below the token's
         * x: up to alignment - 4 bytes of slack. */
        pl->x_align = G3_MAX(16, d->min_uniform_buffer_offset_alignment);
        x_room = mm->ubo_range > pl->x_align ? (mm->ubo_range - (pl->x_align - 4)) / xb : 0;
        for (uint32_t i = 0; lane && i < mw->in.n_pieces; i++)
            lane = g3_vk_buffer_size(g3_vk_weight_piece(w, i).buf) / 16 <=
                   d->max_texel_buffer_elements;
        lane = lane && x_room > 0;
    }
    const uint64_t s_room = (d->max_storage_buffer_range - 256) / G3_MAX(xb, yb);
    if (lane) {
        pl->key.lane = true;
        pl->key.row4 = mw->row_bytes % 4 == 0;
        pl->key.tokens = (uint32_t)G3_MIN((uint64_t)mm->lane_tokens, x_room);
        pl->wg = mm->lane_wg;
        pl->g_rows = mm->lane_rows * mm->lane_wg;
        pl->g_toks = pl->key.tokens;
        pl->chunk = G3_MIN(x_room, (d->max_storage_buffer_range - 256) / yb);
    } else {
        /* Tile sizes per type: halved (rows first) until the two shared arrays of
         * (rows + tokens) x (xg_cols + 1) floats fit the device. */
        const uint32_t cols = g3_vk_mm_types[mw->ti].xg_cols + 1;
        const uint32_t limit = d->max_compute_shared_memory_size;
        uint32_t rows = mm->tile_rows, toks = mm->tile_tokens;
        while ((uint64_t)(rows + toks) * cols * 4 > limit) {
            if (rows >= toks && rows > mm->tile_m)
                rows /= 2;
            else if (toks > mm->tile_n)
                toks /= 2;
            else
                return g3_err_set(err, G3_ERR_UNSUPPORTED,
                                  "matmul %s: no tile of %u-column groups fits %u bytes of "
                                  "shared memory on %s", mw->in.name, cols - 1, limit,
                                  d->name);
        }
        pl->tm = mm->tile_m;
        pl->tn = mm->tile_n;
        pl->g_rows = rows;
        pl->g_toks = toks;
        pl->wg = (rows / pl->tm) * (toks / pl->tn);
        pl->key.tokens = toks;
        pl->chunk = s_room;
        pl->x_align = 16;
    }
    if (pl->chunk == 0)
        return g3_err_set(err, G3_ERR_UNSUPPORTED,
                          "matmul %s: one token's x or y exceeds a binding", mw->in.name);
    if (pl->chunk > pl->g_toks) /* whole token groups per dispatch */
        pl->chunk = pl->chunk / pl->g_toks * pl->g_toks;
    return G3_OK;
}

static bool mm_key_eq(const mm_key *a, const mm_key *b)
{
    return a->ti == b->ti && a->lane == b->lane && a->streams == b->streams &&
           a->aligned4 == b->aligned4 && a->row4 == b->row4 && a->xalign == b->xalign &&
           a->tokens == b->tokens;
}

static g3_status mm_pipeline(g3_vk_matmul *mm, const mm_plan *pl, const g3_vk_pipeline **out,
                             g3_err *err)
{
    for (uint32_t i = 0; i < mm->n_pipes; i++) {
        if (mm_key_eq(&mm->pipes[i].key, &pl->key)) {
            *out = mm->pipes[i].pipe;
            return G3_OK;
        }
    }
    if (mm->n_pipes == mm->cap_pipes) {
        const uint32_t cap = mm->cap_pipes ? 2 * mm->cap_pipes : 8;
        mm_pipe *p = realloc(mm->pipes, cap * sizeof(*p));
        if (!p)
            return g3_err_set(err, G3_ERR_OUT_OF_MEMORY, "out of host memory");
        mm->pipes = p;
        mm->cap_pipes = cap;
    }
    const g3_vk_mm_type *t = &g3_vk_mm_types[pl->key.ti];
    const bool lane = pl->key.lane;
    g3_shader_id shader = lane ? t->lane : t->tile;
    static const g3_shader_id streams_shader[5][2] = {/* [g3_vk_streams_kind][lane] */
        {G3_SHADER_MATMUL_TILE_STREAMS_Q8_0, G3_SHADER_MATMUL_LANE_STREAMS_Q8_0},
        {G3_SHADER_MATMUL_TILE_STREAMS_Q4_0, G3_SHADER_MATMUL_LANE_STREAMS_Q4_0},
        {G3_SHADER_MATMUL_TILE_STREAMS_Q5_0, G3_SHADER_MATMUL_LANE_STREAMS_Q5_0},
        {G3_SHADER_MATMUL_TILE_STREAMS_Q4_1, G3_SHADER_MATMUL_LANE_STREAMS_Q4_1},
        {G3_SHADER_MATMUL_TILE_STREAMS_Q5_1, G3_SHADER_MATMUL_LANE_STREAMS_Q5_1},
    };
    const int kind = g3_vk_streams_kind(t->type);
    if (pl->key.streams && kind >= 0)
        shader = streams_shader[kind][lane];
    const g3_vk_pipeline_desc desc = {
        .shader = shader,
        .n_bindings = 3,
        /* lane: W as a uniform texel buffer, x as a uniform buffer (matmul_common.glsl) */
        .texel_mask = lane ? 1u << G3_MM_BINDING_W : 0,
        .uniform_mask = lane ? 1u << G3_MM_BINDING_X : 0,
        .push_size = sizeof(struct g3_pc_matmul),
        .n_spec = 10,
        .spec = {{G3_SPEC_WG_SIZE, pl->wg},
                 {G3_MM_SPEC_LANE, lane},
                 {G3_MM_SPEC_ROWS, lane ? mm->lane_rows : pl->g_rows},
                 {G3_MM_SPEC_TOKENS, pl->key.tokens},
                 {G3_MM_SPEC_TM, lane ? 1 : pl->tm},
                 {G3_MM_SPEC_TN, lane ? 1 : pl->tn},
                 {G3_MM_SPEC_ALIGNED4, pl->key.aligned4},
                 {G3_MM_SPEC_XALIGN, pl->key.xalign},
                 {G3_MM_SPEC_BCAST, mm->bcast},
                 {G3_MM_SPEC_ROW4, pl->key.row4}},
    };
    g3_vk_pipeline *pipe = NULL;
    g3_status st = g3_vk_pipeline_create(mm->ctx, &desc, &pipe, err);
    if (st != G3_OK)
        return st;
    mm->pipes[mm->n_pipes++] = (mm_pipe){.key = pl->key, .pipe = pipe};
    *out = pipe;
    return G3_OK;
}

g3_status g3_vk_matmul_prepare(g3_vk_matmul *mm, const g3_vk_weight *w, g3_err *err)
{
    mm_weight mw;
    if (!mm || !w)
        return g3_err_set(err, G3_ERR_INVALID_ARG, "g3_vk_matmul_prepare: NULL argument");
    if (!mm_weight_of(w, &mw))
        return g3_err_set(err, G3_ERR_UNSUPPORTED, "matmul: no kernel for tensor '%s' "
                          "(type %u)", mw.in.name, mw.in.type);
    /* The x alignments a record may meet: block types have rows of 32 columns and x
     * at a multiple of 16 bytes; F32/F16/BF16 x at any 4 bytes. */
    const bool any_x = g3_vk_mm_types[mw.ti].block == 1;
    g3_status st = G3_OK;
    for (uint64_t x_off = 0; x_off <= (any_x ? 4u : 0u) && st == G3_OK; x_off += 4) {
        mm_plan pl;
        const g3_vk_pipeline *p = NULL;
        if ((st = mm_plan_of(mm, w, &mw, x_off, &pl, err)) == G3_OK)
            st = mm_pipeline(mm, &pl, &p, err);
    }
    return st;
}

/* ---- recording --------------------------------------------------------------------- */


g3_status g3_vk_matmul_record(g3_vk_cmd *cmd, g3_vk_matmul *mm, const g3_vk_weight *w,
                              g3_vk_buffer *x, uint64_t x_offset, g3_vk_buffer *y,
                              uint64_t y_offset, uint32_t n_tokens)
{
    if (!cmd)
        return G3_ERR_INVALID_ARG;
    if (cmd->err.status != G3_OK)
        return cmd->err.status;
    mm_weight mw;
    if (!mm || !w || !mm_weight_of(w, &mw))
        return g3_err_set(&cmd->err, mm && w ? G3_ERR_UNSUPPORTED : G3_ERR_INVALID_ARG,
                          "matmul: %s", !mm || !w ? "missing kernel set or weight"
                                                  : "no kernel for this weight type");
    const g3_vk_mm_type *t = &g3_vk_mm_types[mw.ti];
    const uint64_t x_align = t->block > 1 ? 16 : 4;
    if (!x || !y || n_tokens == 0 || x_offset % x_align || y_offset % 4 ||
        mm->ctx != cmd->ctx)
        return g3_err_set(&cmd->err, G3_ERR_INVALID_ARG,
                          "matmul %s: missing buffer, no tokens, an x offset that is not a "
                          "multiple of %u or a y offset not of 4, or a kernel set of another "
                          "context", mw.in.name, (unsigned)x_align);
    const uint64_t cols = (uint64_t)mw.in.cols, rows = (uint64_t)mw.in.rows;
    const uint64_t xb = cols * 4, yb = rows * 4;
    if (x_offset > x->size || (x->size - x_offset) / xb < n_tokens || y_offset > y->size ||
        (y->size - y_offset) / yb < n_tokens)
        return g3_err_set(&cmd->err, G3_ERR_INVALID_ARG,
                          "matmul %s: %u tokens of x (%llu bytes each at %llu) or y (%llu at "
                          "%llu) do not fit their buffers (%llu, %llu bytes)",
                          mw.in.name, n_tokens, (unsigned long long)xb,
                          (unsigned long long)x_offset, (unsigned long long)yb,
                          (unsigned long long)y_offset, (unsigned long long)x->size,
                          (unsigned long long)y->size);
    mm_plan pl;
    const g3_vk_pipeline *pipe = NULL;
    g3_status st = mm_plan_of(mm, w, &mw, x_offset, &pl, &cmd->err);
    if (st != G3_OK || (st = mm_pipeline(mm, &pl, &pipe, &cmd->err)) != G3_OK)
        return st;
    uint64_t lo_u = 0, hi_u = 0; /* union of the y ranges bound since the last barrier */
    for (uint32_t t0 = 0; t0 < n_tokens; t0 += (uint32_t)pl.chunk) {
        const uint32_t nt = (uint32_t)G3_MIN(pl.chunk, (uint64_t)(n_tokens - t0));
        struct g3_pc_matmul pc = {
            .n_cols = mw.in.cols,
            .row_bytes = mw.row_bytes,
            .x_stride = mw.in.cols,
            .y_stride = mw.in.rows,
            .n_tokens = nt,
        };
        g3_vk_binding b[3];
        b[G3_MM_BINDING_X] = g3_vk_bind_aligned(cmd->ctx, x, x_offset + t0 * xb, nt * xb, pl.x_align,
                                         &pc.x_off);
        for (uint32_t i = 0; i < mw.in.n_pieces; i++) {
            const g3_vk_rows piece = g3_vk_weight_piece(w, i);
            const uint64_t lo = y_offset + (t0 * rows + piece.row0) * 4;
            const uint64_t hi = y_offset + ((t0 + nt - 1) * rows + piece.row0 + piece.n_rows) * 4;
            /* The whole piece: a texel binding must start at 0 (and a storage one may). */
            b[G3_MM_BINDING_W] = (g3_vk_binding){.buf = piece.buf};
            b[G3_MM_BINDING_Y] = g3_vk_bind_aligned(cmd->ctx, y, lo, hi - lo, 4, &pc.y_off);
            /* Dispatches of one call write disjoint elements, but synchronization
             * validation sees bound ranges: order those that overlap. */
            const uint64_t blo = b[G3_MM_BINDING_Y].offset, bhi = blo + b[G3_MM_BINDING_Y].size;
            if (hi_u > lo_u && blo < hi_u && lo_u < bhi) {
                g3_vk_cmd_barrier(cmd);
                lo_u = hi_u = 0;
            }
            lo_u = hi_u > lo_u ? G3_MIN(lo_u, blo) : blo;
            hi_u = G3_MAX(hi_u, bhi);
            pc.n_rows = piece.n_rows;
            pc.row_groups = (piece.n_rows + pl.g_rows - 1) / pl.g_rows;
            pc.tok_groups = (nt + pl.g_toks - 1) / pl.g_toks;
            /* The shader linearizes (y, x) and skips the overshoot of the last line. */
            const uint64_t groups = (uint64_t)pc.row_groups * pc.tok_groups;
            uint32_t g[3];
            if (!g3_vk_fold_groups(groups, mm->max_groups, g))
                return g3_err_set(&cmd->err, G3_ERR_INVALID_ARG,
                                  "matmul %s: %llu workgroups exceed the device grid",
                                  mw.in.name, (unsigned long long)groups);
            st = g3_vk_cmd_dispatch(cmd, pipe, b, 3, &pc, sizeof(pc), g);
            if (st != G3_OK)
                return st;
        }
    }
    return G3_OK;
}
