/* vk_flash_attn.c: options, pipelines and dispatch recording of the chunked flash
 * attention (see vk_flash_attn.h; flash_attn.comp says how it computes). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "flash_attn.h"
#include "vk_flash_attn.h"
#include "vk_internal.h"

#define G3_FATTN_MAX_TILE 32

struct g3_vk_flash_attn {
    g3_vk_context *ctx;
    g3_vk_flash_attn_options opt; /* resolved */
    g3_vk_pipeline *pipes[2][3];  /* [f32 cache][log2 of words per cache load], created
                                     at first use                                       */
};


/* [loc.offset, + size) as a binding (g3_vk_bind_checked). */
static bool bind(const g3_vk_context *ctx, g3_vk_loc loc, uint64_t size, uint32_t elem_bytes,
                 g3_vk_binding *b, uint32_t *elem)
{
    return g3_vk_bind_checked(ctx, loc.buf, loc.offset, size, elem_bytes, b, elem);
}

/* K and V of a layer as one binding (they must not overlap); their element offsets. */
static bool bind_kv(const g3_vk_flash_attn *fa, const g3_vk_kv *kv, g3_vk_binding *b,
                    uint32_t *k_el, uint32_t *v_el)
{
    if (!kv->n_slots || kv->k_offset % 4 || kv->v_offset % 4)
        return false;
    const uint32_t el = kv->f32 ? 4 : 2;
    const uint64_t bytes = (uint64_t)fa->opt.n_head_kv * fa->opt.head_dim * kv->n_slots * el;
    const uint64_t lo = G3_MIN(kv->k_offset, kv->v_offset);
    const uint64_t hi = G3_MAX(kv->k_offset, kv->v_offset) + bytes;
    uint32_t lo_el;
    if (G3_MAX(kv->k_offset, kv->v_offset) - lo < bytes ||
        !bind(fa->ctx, (g3_vk_loc){kv->buf, lo}, hi - lo, el, b, &lo_el))
        return false;
    *k_el = lo_el + (uint32_t)((kv->k_offset - lo) / el);
    *v_el = lo_el + (uint32_t)((kv->v_offset - lo) / el);
    return true;
}

static bool is_pow2(uint32_t x)
{
    return x && !(x & (x - 1));
}

g3_status g3_vk_flash_attn_create(g3_vk_context *ctx, const g3_vk_flash_attn_options *opt,
                                  g3_vk_flash_attn **out, g3_err *err)
{
    if (!ctx || !opt || !out)
        return g3_err_set(err, G3_ERR_INVALID_ARG, "g3_vk_flash_attn_create: NULL argument");
    *out = NULL;
    g3_status st = g3_vk_check_lost(ctx, err);
    if (st != G3_OK)
        return st;
    const g3_vk_device_info *d = &ctx->info;
    g3_vk_flash_attn_options o = *opt;
    if (!o.n_head || !o.n_head_kv || o.n_head % o.n_head_kv || !o.head_dim || o.head_dim % 4)
        return g3_err_set(err, G3_ERR_INVALID_ARG,
                          "flash attention: shape n_head %u, n_head_kv %u, head_dim %u: "
                          "n_head_kv must divide n_head, head_dim a multiple of 4",
                          o.n_head, o.n_head_kv, o.head_dim);
    if (o.head_dim > G3_VK_FLASH_ATTN_MAX_DIM)
        return g3_err_set(err, G3_ERR_UNSUPPORTED,
                          "flash attention: head_dim %u is above %d (each invocation holds "
                          "its slice of the query and output rows)", o.head_dim,
                          G3_VK_FLASH_ATTN_MAX_DIM);
    if (!d->subgroup_in_compute || !(d->subgroup_ops & G3_VK_SUBGROUP_SHUFFLE))
        return g3_err_set(err, G3_ERR_UNSUPPORTED,
                          "flash attention: %s has no subgroup shuffle in compute shaders",
                          d->name);
    if (!o.reads)
        o.reads = d->type == G3_VK_DEVICE_CPU ? G3_VK_FLASH_ATTN_READS_DIRECT
                                               : G3_VK_FLASH_ATTN_READS_TILED;
    if (o.reads != G3_VK_FLASH_ATTN_READS_TILED && o.reads != G3_VK_FLASH_ATTN_READS_DIRECT)
        return g3_err_set(err, G3_ERR_INVALID_ARG, "flash attention: reads mode %d",
                          (int)o.reads);
    /* Teams live inside one subgroup: at most the smallest size the device may use. */
    const uint32_t sg_min = G3_MAX(1u, G3_MIN(d->subgroup_size_min, d->subgroup_size));
    if (!o.lanes) {
        o.lanes = 1;
        while (o.lanes * 2 <= G3_MIN(sg_min, 32u) && o.head_dim % (4 * o.lanes * 2) == 0)
            o.lanes *= 2;
    }
    if (!is_pow2(o.lanes) || o.lanes > sg_min || o.head_dim % (4 * o.lanes))
        return g3_err_set(err, G3_ERR_INVALID_ARG,
                          "flash attention: %u lanes per token: a power of two, at most "
                          "the smallest subgroup (%u on %s), dividing head_dim %u / 4",
                          o.lanes, sg_min, d->name, o.head_dim);
    if (!o.team_tokens)
        o.team_tokens = 1;
    const uint32_t max_wg =
        G3_MIN(d->max_compute_work_group_invocations, d->max_compute_work_group_size[0]);
    if (!o.tokens)
        o.tokens = G3_MAX(1u, G3_MIN(64u, max_wg) / o.lanes) * o.team_tokens;
    if (o.tokens % o.team_tokens || o.team_tokens > 64 ||
        (uint64_t)o.tokens / o.team_tokens * o.lanes > max_wg)
        return g3_err_set(err, G3_ERR_INVALID_ARG,
                          "flash attention: %u tokens per workgroup in teams of %u tokens x %u "
                          "lanes: not whole teams, or above the workgroup limit %u of %s",
                          o.tokens, o.team_tokens, o.lanes, max_wg, d->name);
    /* Shared memory: K and V of a tile as f32 (DIRECT declares a one-position tile). */
    const uint64_t per_pos = 2ull * o.head_dim * 4;
    const uint64_t fit = d->max_compute_shared_memory_size / per_pos;
    if (o.reads == G3_VK_FLASH_ATTN_READS_DIRECT) {
        o.tile = 1;
    } else if (fit == 0) {
        return g3_err_set(err, G3_ERR_UNSUPPORTED,
                          "flash attention: a one-position KV tile needs %llu bytes of shared "
                          "memory (head_dim %u); %s has %u", (unsigned long long)per_pos,
                          o.head_dim, d->name, d->max_compute_shared_memory_size);
    } else if (o.tile > fit) {
        return g3_err_set(err, G3_ERR_INVALID_ARG,
                          "flash attention: a tile of %u positions needs %llu bytes of shared "
                          "memory; %s has %u", o.tile, (unsigned long long)(o.tile * per_pos),
                          d->name, d->max_compute_shared_memory_size);
    } else if (!o.tile) {
        o.tile = (uint32_t)G3_MIN(fit, (uint64_t)G3_FATTN_MAX_TILE);
    }
    g3_vk_flash_attn *fa = calloc(1, sizeof(*fa));
    if (!fa)
        return g3_err_set(err, G3_ERR_OUT_OF_MEMORY, "out of host memory");
    fa->ctx = ctx;
    fa->opt = o;
    *out = fa;
    return G3_OK;
}

void g3_vk_flash_attn_free(g3_vk_flash_attn *fa)
{
    if (!fa)
        return;
    for (int i = 0; i < 2; i++)
        for (int w = 0; w < 3; w++)
            g3_vk_pipeline_free(fa->ctx, fa->pipes[i][w]);
    free(fa);
}

g3_vk_flash_attn_options g3_vk_flash_attn_get_options(const g3_vk_flash_attn *fa)
{
    return fa ? fa->opt : (g3_vk_flash_attn_options){0};
}

static const g3_vk_pipeline *get_pipe(g3_vk_cmd *cmd, g3_vk_flash_attn *fa, bool f32,
                                      uint32_t kv_words)
{
    const int w = kv_words == 4 ? 2 : kv_words == 2 ? 1 : 0;
    if (fa->pipes[f32][w])
        return fa->pipes[f32][w];
    const g3_vk_flash_attn_options *o = &fa->opt;
    const g3_vk_pipeline_desc d = {
        .shader = f32 ? G3_SHADER_FLASH_ATTN_F32 : G3_SHADER_FLASH_ATTN_F16,
        .n_bindings = 4,
        .push_size = sizeof(struct g3_pc_flash_attn),
        .n_spec = 8,
        .spec = {{G3_SPEC_WG_SIZE, o->tokens / o->team_tokens * o->lanes},
                 {G3_FATTN_SPEC_HEAD_DIM, o->head_dim},
                 {G3_FATTN_SPEC_GROUP, o->n_head / o->n_head_kv},
                 {G3_FATTN_SPEC_LANES, o->lanes},
                 {G3_FATTN_SPEC_TILE, o->tile},
                 {G3_FATTN_SPEC_DIRECT, o->reads == G3_VK_FLASH_ATTN_READS_DIRECT},
                 {G3_FATTN_SPEC_KV_WORDS, kv_words},
                 {G3_FATTN_SPEC_TEAM_TOKENS, o->team_tokens}},
    };
    g3_err err = {0};
    if (g3_vk_pipeline_create(fa->ctx, &d, &fa->pipes[f32][w], &err) != G3_OK) {
        g3_vk_cmd_fail(cmd, err.status, "%s", err.msg);
        return NULL;
    }
    return fa->pipes[f32][w];
}

g3_status g3_vk_record_flash_attn(g3_vk_cmd *cmd, g3_vk_flash_attn *fa, const g3_vk_attn_args *a)
{
    if (!cmd)
        return G3_ERR_INVALID_ARG;
    if (cmd->err.status != G3_OK)
        return cmd->err.status;
    if (!fa || fa->ctx != cmd->ctx)
        return g3_vk_cmd_fail(cmd, G3_ERR_INVALID_ARG, "flash attn: object missing or of another context");
    if (!a || !a->n_tokens || !a->kv)
        return g3_vk_cmd_fail(cmd, G3_ERR_INVALID_ARG, "flash attn: missing arguments or no token");
    const g3_vk_flash_attn_options *o = &fa->opt;
    const uint32_t width = o->n_head * o->head_dim;
    const uint64_t bytes = 4ull * width * a->n_tokens;
    struct g3_pc_flash_attn pc = {
        .q_stride = width,
        .out_stride = width,
        .n_slots = a->kv->n_slots,
        .window = a->window,
        .n_tokens = a->n_tokens,
        .n_head = o->n_head,
        .scale = a->scale,
    };
    g3_vk_binding b[4];
    if (!bind(cmd->ctx, a->pos, 4, 4, &b[G3_FATTN_BINDING_STEP], &pc.pos_off) ||
        !bind(cmd->ctx, a->q, bytes, 4, &b[G3_FATTN_BINDING_Q], &pc.q_off) ||
        !bind(cmd->ctx, a->out, bytes, 4, &b[G3_FATTN_BINDING_OUT], &pc.out_off) ||
        !bind_kv(fa, a->kv, &b[G3_FATTN_BINDING_KV], &pc.k_cache, &pc.v_cache))
        return g3_vk_cmd_fail(cmd, G3_ERR_INVALID_ARG, "flash attn: the position, q or out (%u tokens) "
                    "or the KV cache (%u slots) is outside its buffer or misaligned",
                    a->n_tokens, a->kv->n_slots);
    if (a->q.buf == a->out.buf && a->q.offset < a->out.offset + bytes &&
        a->out.offset < a->q.offset + bytes)
        return g3_vk_cmd_fail(cmd, G3_ERR_INVALID_ARG, "flash attn: q and out overlap");
    pc.vec = (pc.q_off % 4 == 0 ? G3_FATTN_VEC_Q : 0) |
             (pc.out_off % 4 == 0 ? G3_FATTN_VEC_OUT : 0);
    /* The widest cache loads the element offsets allow (the shader's slices start at
     * k_cache + multiples of 4 * head_dim / lanes / 4 elements). */
    uint32_t kv_words = 1;
    const uint32_t dv = o->head_dim / o->lanes / 4;
    if (a->kv->f32) {
        if (pc.k_cache % 4 == 0 && pc.v_cache % 4 == 0)
            kv_words = 4;
        else if (pc.k_cache % 2 == 0 && pc.v_cache % 2 == 0)
            kv_words = 2;
    } else if (pc.k_cache % 8 == 0 && pc.v_cache % 8 == 0 && o->head_dim % 8 == 0 && dv % 2 == 0) {
        kv_words = 4;
    } else if (pc.k_cache % 4 == 0 && pc.v_cache % 4 == 0) {
        kv_words = 2;
    }
    const uint32_t g[3] = {(a->n_tokens + o->tokens - 1) / o->tokens, o->n_head_kv, 1};
    const g3_vk_pipeline *pp = get_pipe(cmd, fa, a->kv->f32, kv_words);
    if (!pp)
        return cmd->err.status;
    return g3_vk_cmd_dispatch(cmd, pp, b, 4, &pc, sizeof(pc), g);
}
