/* vk_matmul.c: the matrix-matrix kernels of prompt processing (matmul_lane.comp,
 * matmul_tile.comp): options against the device, pipelines per weight type, and the
 * recording of dispatches over a weight's pieces and token chunks. */
#include <stdio.h>
#include <stdlib.h>

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

/* A pipeline slot: [type][variant], variant = (streams * 2 + aligned4) * 3 + xalign
 * (G3_MM_SPEC_XALIGN: 0 floats, 1 vec4, 2 32-byte loads of the lane kernel). */
#define G3_VK_MM_VARIANTS 12

struct g3_vk_matmul {
    g3_vk_context *ctx;
    g3_vk_matmul_options opt; /* resolved                                         */
    uint32_t max_groups[2];   /* per-dispatch workgroup counts in x and y          */
    bool bcast;               /* LANE: x spread by subgroup shuffles               */
    g3_vk_pipeline *pipes[G3_VK_MM_NTYPES][G3_VK_MM_VARIANTS];
    uint32_t tile_rows[G3_VK_MM_NTYPES], tile_tokens[G3_VK_MM_NTYPES]; /* TILE, fitted */
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
    /* The lane kernel: SPIR-V 1.5 (a shuffle lane from a loop index), 64-bit loads,
     * subgroup shuffles in compute shaders. */
    const bool lane_ok = VK_API_VERSION_MINOR(ctx->api_version) >= 2 && d->shader_int64 &&
                         d->subgroup_in_compute && (d->subgroup_ops & G3_VK_SUBGROUP_SHUFFLE);
    if (o.mode > G3_VK_MATMUL_LANE)
        return g3_err_set(err, G3_ERR_INVALID_ARG, "matmul: unknown mode %d", (int)o.mode);
    if (o.mode == G3_VK_MATMUL_AUTO)
        o.mode = d->type == G3_VK_DEVICE_CPU && lane_ok ? G3_VK_MATMUL_LANE : G3_VK_MATMUL_TILE;
    const uint32_t max_wg = G3_MIN(d->max_compute_work_group_invocations,
                                   d->max_compute_work_group_size[0]);
    bool bcast = false;
    if (o.mode == G3_VK_MATMUL_LANE) {
        if (!lane_ok)
            return g3_err_set(err, G3_ERR_UNSUPPORTED,
                              "matmul: the lane kernel needs Vulkan 1.2, shaderInt64 and "
                              "subgroup shuffles in compute shaders (%s: Vulkan 1.%u, int64 "
                              "%s, shuffle %s)", d->name, VK_API_VERSION_MINOR(ctx->api_version),
                              d->shader_int64 ? "yes" : "no",
                              d->subgroup_in_compute && (d->subgroup_ops & G3_VK_SUBGROUP_SHUFFLE)
                                  ? "yes" : "no");
        /* Defaults measured on lavapipe (bench/bench_matmul.c): see the README table. */
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
        bcast = d->subgroup_size_min >= 8 && o.wg_size % d->subgroup_size_max == 0;
    } else {
        /* 64 x 64 tiles of 4 x 4 per invocation (256 invocations) where the device
         * allows; rows/tokens shrink per type to fit shared memory (at pipeline time). */
        if (!o.tile_m)
            o.tile_m = 4;
        if (!o.tile_n)
            o.tile_n = 4;
        if (!o.rows)
            o.rows = 64;
        if (!o.tokens)
            o.tokens = 64;
        while ((o.rows / o.tile_m) * (o.tokens / o.tile_n) > max_wg && o.rows > o.tile_m &&
               !(opt && opt->rows))
            o.rows /= 2;
        while ((o.rows / o.tile_m) * (o.tokens / o.tile_n) > max_wg && o.tokens > o.tile_n &&
               !(opt && opt->tokens))
            o.tokens /= 2;
        if (o.rows % o.tile_m || o.tokens % o.tile_n || !is_pow2(o.rows / o.tile_m) ||
            !is_pow2(o.tokens / o.tile_n))
            return g3_err_set(err, G3_ERR_INVALID_ARG,
                              "matmul: tile of %u rows x %u tokens does not split into "
                              "a power of two of %u x %u micro tiles",
                              o.rows, o.tokens, o.tile_m, o.tile_n);
        o.wg_size = (o.rows / o.tile_m) * (o.tokens / o.tile_n);
        if (o.wg_size > max_wg || o.tile_m > 16 || o.tile_n > 16)
            return g3_err_set(err, G3_ERR_UNSUPPORTED,
                              "matmul: tile of %u x %u with %u x %u per invocation needs %u "
                              "invocations; %s allows %u (micro tiles at most 16 x 16)",
                              o.rows, o.tokens, o.tile_m, o.tile_n, o.wg_size, d->name, max_wg);
    }
    g3_vk_matmul *mm = calloc(1, sizeof(*mm));
    if (!mm)
        return g3_err_set(err, G3_ERR_OUT_OF_MEMORY, "out of host memory");
    mm->ctx = ctx;
    mm->bcast = bcast;
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
    for (size_t i = 0; i < G3_VK_MM_NTYPES; i++)
        for (int v = 0; v < G3_VK_MM_VARIANTS; v++)
            g3_vk_pipeline_free(mm->ctx, mm->pipes[i][v]);
    free(mm);
}

g3_vk_matmul_options g3_vk_matmul_get_options(const g3_vk_matmul *mm)
{
    return mm ? mm->opt : (g3_vk_matmul_options){0};
}

/* ---- pipelines --------------------------------------------------------------------- */

/* The TILE sizes of type ti: the asked tile, halved (rows first) until its two shared
 * arrays of (rows + tokens) x (xg_cols + 1) floats fit the device. */
static g3_status tile_fit(g3_vk_matmul *mm, int ti, g3_err *err)
{
    const uint32_t cols = g3_vk_mm_types[ti].xg_cols + 1;
    const uint32_t limit = mm->ctx->info.max_compute_shared_memory_size;
    uint32_t rows = mm->opt.rows, toks = mm->opt.tokens;
    while ((uint64_t)(rows + toks) * cols * 4 > limit) {
        if (rows >= toks && rows > mm->opt.tile_m)
            rows /= 2;
        else if (toks > mm->opt.tile_n)
            toks /= 2;
        else
            return g3_err_set(err, G3_ERR_UNSUPPORTED,
                              "matmul: no tile of %u-column groups fits %u bytes of shared "
                              "memory on %s", cols - 1, limit, mm->ctx->info.name);
    }
    mm->tile_rows[ti] = rows;
    mm->tile_tokens[ti] = toks;
    return G3_OK;
}

static g3_status mm_pipeline(g3_vk_matmul *mm, int ti, bool streams, bool aligned4,
                             uint32_t xalign, const g3_vk_pipeline **out, g3_err *err)
{
    const int v = (streams * 2 + aligned4) * 3 + (int)xalign;
    g3_vk_pipeline **slot = &mm->pipes[ti][v];
    if (*slot) {
        *out = *slot;
        return G3_OK;
    }
    const g3_vk_mm_type *t = &g3_vk_mm_types[ti];
    const bool lane = mm->opt.mode == G3_VK_MATMUL_LANE;
    g3_shader_id shader = lane ? t->lane : t->tile;
    if (streams)
        shader = t->type == G3_TYPE_Q4_0
                     ? (lane ? G3_SHADER_MATMUL_LANE_STREAMS_Q4_0 : G3_SHADER_MATMUL_TILE_STREAMS_Q4_0)
                     : (lane ? G3_SHADER_MATMUL_LANE_STREAMS_Q8_0 : G3_SHADER_MATMUL_TILE_STREAMS_Q8_0);
    uint32_t wg = mm->opt.wg_size, rows = mm->opt.rows, toks = mm->opt.tokens;
    if (!lane) {
        g3_status st = tile_fit(mm, ti, err);
        if (st != G3_OK)
            return st;
        rows = mm->tile_rows[ti];
        toks = mm->tile_tokens[ti];
        wg = (rows / mm->opt.tile_m) * (toks / mm->opt.tile_n);
    }
    const g3_vk_pipeline_desc desc = {
        .shader = shader,
        .n_bindings = 3,
        .push_size = sizeof(struct g3_pc_matmul),
        .n_spec = 9,
        .spec = {{G3_SPEC_WG_SIZE, wg},
                 {G3_MM_SPEC_LANE, lane},
                 {G3_MM_SPEC_ROWS, rows},
                 {G3_MM_SPEC_TOKENS, toks},
                 {G3_MM_SPEC_TM, mm->opt.tile_m ? mm->opt.tile_m : 1},
                 {G3_MM_SPEC_TN, mm->opt.tile_n ? mm->opt.tile_n : 1},
                 {G3_MM_SPEC_ALIGNED4, aligned4},
                 {G3_MM_SPEC_XALIGN, xalign},
                 {G3_MM_SPEC_BCAST, mm->bcast}},
    };
    g3_status st = g3_vk_pipeline_create(mm->ctx, &desc, slot, err);
    if (st == G3_OK)
        *out = *slot;
    return st;
}

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
                        ? (uint32_t)(mw->in.cols / (mw->in.type == G3_TYPE_Q4_0 ? 2 : 1))
                        : (uint32_t)mw->in.row_bytes;
    return true;
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
    const uint32_t top = mm->opt.mode == G3_VK_MATMUL_LANE ? 2 : 1;
    const g3_vk_pipeline *p = NULL;
    g3_status st = G3_OK;
    for (uint32_t xa = any_x ? 0 : 1; xa <= top && st == G3_OK; xa++)
        st = mm_pipeline(mm, mw.ti, mw.in.streams, mw.aligned4, xa, &p, err);
    return st;
}

/* ---- recording --------------------------------------------------------------------- */

/* As vk_matvec.c: binds [offset, offset + size) of buf from the offset at or below it
 * aligned to the device's binding alignment and to `align` (a power of two); *elem
 * receives the element index of `offset` inside the binding. */
static g3_vk_binding bind_range(const g3_vk_context *ctx, g3_vk_buffer *buf, uint64_t offset,
                                uint64_t size, uint64_t align, uint32_t *elem)
{
    align = G3_MAX(align, ctx->info.min_storage_buffer_offset_alignment);
    const uint64_t base = offset / align * align;
    *elem = (uint32_t)((offset - base) / 4);
    return (g3_vk_binding){.buf = buf, .offset = base, .size = offset - base + size};
}

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
    /* How x may be read: every token's x 32-byte aligned (the lane kernel's 8-float
     * loads), 16-byte aligned (vec4: always for the block types, whose rows are
     * multiples of 32 columns), or only as floats. */
    const bool lane = mm->opt.mode == G3_VK_MATMUL_LANE;
    const uint32_t xalign = lane && x_offset % 32 == 0 && cols % 8 == 0   ? 2
                            : x_offset % 16 == 0 && cols % 4 == 0 ? 1
                                                                  : 0;
    const g3_vk_pipeline *pipe = NULL;
    g3_status st = mm_pipeline(mm, mw.ti, mw.in.streams, mw.aligned4, xalign, &pipe, &cmd->err);
    if (st != G3_OK)
        return st;
    const uint32_t g_rows = lane ? mm->opt.rows * mm->opt.wg_size : mm->tile_rows[mw.ti];
    const uint32_t g_toks = lane ? mm->opt.tokens : mm->tile_tokens[mw.ti];
    /* Token chunks: each binding of x and y within the device's range (the 262144-row
     * LM head holds 1 MiB of y per token), in whole token groups. */
    const uint64_t range = cmd->ctx->info.max_storage_buffer_range - 256;
    uint64_t chunk = G3_MIN(range / G3_MAX(xb, yb), (uint64_t)n_tokens);
    if (chunk > g_toks)
        chunk = chunk / g_toks * g_toks;
    if (chunk == 0)
        return g3_err_set(&cmd->err, G3_ERR_UNSUPPORTED,
                          "matmul %s: one token's x or y exceeds a binding", mw.in.name);
    uint64_t lo_u = 0, hi_u = 0; /* union of the y ranges bound since the last barrier */
    for (uint32_t t0 = 0; t0 < n_tokens; t0 += (uint32_t)chunk) {
        const uint32_t nt = (uint32_t)G3_MIN(chunk, (uint64_t)(n_tokens - t0));
        struct g3_pc_matmul pc = {
            .n_cols = mw.in.cols,
            .row_bytes = mw.row_bytes,
            .x_stride = mw.in.cols,
            .y_stride = mw.in.rows,
            .n_tokens = nt,
        };
        g3_vk_binding b[3];
        b[G3_MM_BINDING_X] = bind_range(cmd->ctx, x, x_offset + t0 * xb, nt * xb,
                                         xalign == 2 ? 32 : 16, &pc.x_off);
        for (uint32_t i = 0; i < mw.in.n_pieces; i++) {
            const g3_vk_rows piece = g3_vk_weight_piece(w, i);
            const uint64_t lo = y_offset + (t0 * rows + piece.row0) * 4;
            const uint64_t hi = y_offset + ((t0 + nt - 1) * rows + piece.row0 + piece.n_rows) * 4;
            b[G3_MM_BINDING_W] = (g3_vk_binding){.buf = piece.buf, .offset = piece.offset};
            b[G3_MM_BINDING_Y] = bind_range(cmd->ctx, y, lo, hi - lo, 4, &pc.y_off);
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
            pc.row_groups = (piece.n_rows + g_rows - 1) / g_rows;
            pc.tok_groups = (nt + g_toks - 1) / g_toks;
            /* The shader linearizes (y, x) and skips the overshoot of the last line. */
            const uint64_t groups = (uint64_t)pc.row_groups * pc.tok_groups;
            uint32_t g[3] = {(uint32_t)groups, 1, 1};
            if (groups > mm->max_groups[0]) {
                g[1] = (uint32_t)((groups + mm->max_groups[0] - 1) / mm->max_groups[0]);
                g[0] = (uint32_t)((groups + g[1] - 1) / g[1]);
            }
            if (groups > UINT32_MAX || g[1] > mm->max_groups[1])
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
