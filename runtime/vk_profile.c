/* vk_profile.c: kernel profiling with timestamp queries (see vk.h, "profiling"):
 * the bytes each dispatch moves, the timestamps of a profiled recorder, their
 * collection into the context's profile, and the copy kernel that measures the
 * device's achievable bandwidth. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "g3_shared.h"
#include "vk_internal.h"

/* Timestamps per query pool: a decode step writes a few hundred; a recorder that
 * needs more grows by whole pools, like its descriptor pools. */
#define G3_VK_PROF_POOL 512

/* How a dispatch's bytes are counted at collection time. */
typedef enum prof_model {
    M_FIXED, /* read / written as recorded                                          */
    M_ATTN,  /* + K and V over the positions attended (position from the step buffer) */
    M_EMBED, /* + one table row read and one output row written per token in the piece */
} prof_model;

/* One timestamped item of a recording (a dispatch or a copy). */
typedef struct prof_rec {
    uint32_t entry;          /* index in the context's profile                     */
    prof_model model;
    uint64_t read, written;  /* fixed part                                         */
    const uint32_t *step;    /* ATTN: the position; EMBED: the token ids; NULL when
                                the step buffer is not host-visible (upper bound)  */
    uint32_t n_tokens;
    uint32_t a, b, c;        /* ATTN: window, n_slots, -; EMBED: row0, n_rows, -    */
    uint64_t unit;           /* ATTN: K+V bytes per position; EMBED: row bytes read */
    uint64_t unit_out;       /* EMBED: bytes written per token                      */
} prof_rec;

struct g3_vk_cmd_prof {
    VkQueryPool *pools;      /* (n_pools) of G3_VK_PROF_POOL timestamps            */
    uint32_t n_pools;
    uint32_t n_ts;           /* timestamps written by the current recording        */
    prof_rec *recs;          /* (n_ts - 1) items, in recording order               */
    uint32_t cap_recs;
    uint64_t *ticks;         /* (n_pools * G3_VK_PROF_POOL) collection scratch      */
    bool pending;            /* g3_vk_cmd_profile_bytes for the next dispatch       */
    uint64_t pending_read, pending_written;
    bool detached;           /* collect into last_ns only (the bandwidth probe)      */
    double last_ns;          /* the last collected replay: first to last timestamp   */
};

/* ---- SPIR-V binding access ------------------------------------------------------ */

enum {
    SPV_OP_TYPE_IMAGE = 25,
    SPV_OP_TYPE_SAMPLED_IMAGE = 27,
    SPV_OP_TYPE_STRUCT = 30,
    SPV_OP_TYPE_POINTER = 32,
    SPV_OP_VARIABLE = 59,
    SPV_OP_DECORATE = 71,
    SPV_OP_MEMBER_DECORATE = 72,
    SPV_DEC_BLOCK = 2,
    SPV_DEC_NON_WRITABLE = 24,
    SPV_DEC_NON_READABLE = 25,
    SPV_DEC_BINDING = 33,
    SPV_SC_UNIFORM_CONSTANT = 0,
    SPV_SC_UNIFORM = 2,
    SPV_SC_STORAGE_BUFFER = 12,
};

/* Per-id facts of one module. */
typedef struct spv_id {
    uint32_t binding;    /* Binding + 1; 0 = none                               */
    uint32_t pointee;    /* OpTypePointer: the pointed-to type                  */
    uint16_t members, members_nw, members_nr;
    uint8_t nw, nr, block;
    uint8_t image;       /* OpTypeImage: its Sampled operand (1 sampled / texel
                            buffer, 2 storage image); OpTypeSampledImage: 1    */
} spv_id;

void g3_vk_spirv_access(const uint32_t *code, size_t size, uint8_t access[G3_VK_MAX_BINDINGS])
{
    memset(access, 0, G3_VK_MAX_BINDINGS);
    const size_t n = size / 4;
    if (n < 5 || code[0] != 0x07230203u || code[3] == 0 || code[3] > (1u << 22))
        return;
    const uint32_t bound = code[3];
    spv_id *ids = calloc(bound, sizeof(*ids));
    uint32_t *vars = calloc(n, sizeof(*vars)); /* (id, pointer type, storage class) */
    size_t n_vars = 0;
    if (!ids || !vars)
        goto out;
    for (size_t i = 5; i < n;) {
        const uint32_t op = code[i] & 0xffff, wc = code[i] >> 16;
        if (wc == 0 || i + wc > n)
            break;
        const uint32_t *w = &code[i + 1];
        if (op == SPV_OP_DECORATE && wc >= 3 && w[0] < bound) {
            spv_id *d = &ids[w[0]];
            if (w[1] == SPV_DEC_BINDING && wc >= 4)
                d->binding = w[2] + 1;
            d->nw |= w[1] == SPV_DEC_NON_WRITABLE;
            d->nr |= w[1] == SPV_DEC_NON_READABLE;
            d->block |= w[1] == SPV_DEC_BLOCK;
        } else if (op == SPV_OP_MEMBER_DECORATE && wc >= 4 && w[0] < bound) {
            ids[w[0]].members_nw += w[2] == SPV_DEC_NON_WRITABLE;
            ids[w[0]].members_nr += w[2] == SPV_DEC_NON_READABLE;
        } else if (op == SPV_OP_TYPE_STRUCT && wc >= 2 && w[0] < bound) {
            ids[w[0]].members = (uint16_t)(wc - 2);
        } else if (op == SPV_OP_TYPE_IMAGE && wc >= 9 && w[0] < bound) {
            ids[w[0]].image = (uint8_t)G3_MIN(w[6], 2u);
        } else if (op == SPV_OP_TYPE_SAMPLED_IMAGE && wc >= 3 && w[0] < bound) {
            ids[w[0]].image = 1;
        } else if (op == SPV_OP_TYPE_POINTER && wc == 4 && w[0] < bound) {
            ids[w[0]].pointee = w[2];
        } else if (op == SPV_OP_VARIABLE && wc >= 4 && w[1] < bound && w[0] < bound) {
            vars[n_vars++] = w[1];
            vars[n_vars++] = w[0];
            vars[n_vars++] = w[2];
        }
        i += wc;
    }
    for (size_t v = 0; v < n_vars; v += 3) {
        const spv_id *var = &ids[vars[v]];
        const uint32_t ptr = vars[v + 1], sc = vars[v + 2];
        if (!var->binding || var->binding > G3_VK_MAX_BINDINGS ||
            (sc != SPV_SC_UNIFORM && sc != SPV_SC_STORAGE_BUFFER &&
             sc != SPV_SC_UNIFORM_CONSTANT))
            continue;
        /* The variable's type is a pointer to the block struct (or the image). */
        const uint32_t st = ptr < bound ? ids[ptr].pointee : 0;
        const spv_id *s = st < bound ? &ids[st] : NULL;
        uint8_t a;
        if (sc == SPV_SC_UNIFORM_CONSTANT) {
            if (!s || !s->image)
                continue; /* a sampler: no memory of its own */
            /* a texel buffer (or sampled image) is read; a storage image as declared */
            a = s->image == 1 || var->nw ? G3_VK_ACCESS_READ
                : var->nr               ? G3_VK_ACCESS_WRITE
                                        : G3_VK_ACCESS_READ | G3_VK_ACCESS_WRITE;
        } else if (sc == SPV_SC_UNIFORM && s && s->block) {
            a = G3_VK_ACCESS_READ; /* a uniform block */
        } else {
            const bool nw = var->nw || (s && s->members && s->members_nw >= s->members);
            const bool nr = var->nr || (s && s->members && s->members_nr >= s->members);
            a = nw ? G3_VK_ACCESS_READ : nr ? G3_VK_ACCESS_WRITE
                                            : G3_VK_ACCESS_READ | G3_VK_ACCESS_WRITE;
        }
        access[var->binding - 1] |= a; /* aliased blocks of one binding add up */
    }
out:
    free(ids);
    free(vars);
}

/* ---- names ---------------------------------------------------------------------- */

/* Weight / KV types as shader variant names spell them. */
static const char *const g3_vk_prof_types[] = {
    "f32",  "f16",  "bf16", "q8_0", "q4_0", "q4_1", "q5_0", "q5_1",
    "iq4_nl", "q2_k", "q3_k", "q4_k", "q5_k", "q6_k", "iq4_xs",
};

/* Words of a variant name that say how an op is done, not which op it is. */
static const char *const g3_vk_prof_ways[] = {"streams", "lane", "tile"};

/* "matvec_streams_q8_0_u" -> op "matvec", type "q8_0", variant "streams_u";
 * "matmul_lane_streams_q4_0" -> "matmul", "q4_0", "lane_streams"; "rms_norm" -> op
 * "rms_norm". */
static void split_name(const char *name, g3_vk_profile_entry *e)
{
    const size_t len = strlen(name);
    size_t at = len, tl = 0;
    for (size_t i = 1; i < len && at == len; i++) {
        if (name[i - 1] != '_')
            continue;
        for (size_t t = 0; t < G3_ARRAY_LEN(g3_vk_prof_types); t++) {
            const size_t n = strlen(g3_vk_prof_types[t]);
            if (!strncmp(name + i, g3_vk_prof_types[t], n) &&
                (name[i + n] == '\0' || name[i + n] == '_')) {
                at = i;
                tl = n;
                break;
            }
        }
    }
    if (at == len) {
        snprintf(e->op, sizeof(e->op), "%s", name);
        return;
    }
    /* The op is the words before the type, less the "way" words at their end. */
    size_t op_len = at - 1, way = op_len;
    for (bool found = true; found;) {
        found = false;
        for (size_t w = 0; w < G3_ARRAY_LEN(g3_vk_prof_ways) && !found; w++) {
            const size_t n = strlen(g3_vk_prof_ways[w]);
            if (op_len > n + 1 && name[op_len - n - 1] == '_' &&
                !strncmp(name + op_len - n, g3_vk_prof_ways[w], n)) {
                op_len -= n + 1;
                found = true;
            }
        }
    }
    const char *rest = name + at + tl + (name[at + tl] == '_');
    const int ways = (int)(way - op_len); /* "_streams" or "_lane_streams", or 0 */
    snprintf(e->op, sizeof(e->op), "%.*s", (int)op_len, name);
    snprintf(e->type, sizeof(e->type), "%.*s", (int)tl, name + at);
    snprintf(e->variant, sizeof(e->variant), "%.*s%s%s", ways > 0 ? ways - 1 : 0,
             ways > 0 ? name + op_len + 1 : "", ways > 0 && *rest ? "_" : "", rest);
}

/* The entry of (kernel, shape) in the context's profile, added when new. */
static uint32_t entry_index(g3_vk_context *ctx, const char *kernel, const char *shape)
{
    struct g3_vk_profile_acc *acc = &ctx->profile;
    for (uint32_t i = 0; i < acc->n_entries; i++)
        if (!strcmp(acc->entries[i].kernel, kernel) && !strcmp(acc->entries[i].shape, shape))
            return i;
    if (acc->n_entries == G3_VK_PROFILE_MAX_ENTRIES)
        return G3_VK_PROFILE_MAX_ENTRIES - 1;
    g3_vk_profile_entry *e = &acc->entries[acc->n_entries];
    *e = (g3_vk_profile_entry){0};
    if (acc->n_entries == G3_VK_PROFILE_MAX_ENTRIES - 1) {
        snprintf(e->kernel, sizeof(e->kernel), "(other)");
        snprintf(e->op, sizeof(e->op), "(other)");
    } else {
        snprintf(e->kernel, sizeof(e->kernel), "%s", kernel);
        snprintf(e->shape, sizeof(e->shape), "%s", shape);
        split_name(kernel, e);
    }
    return acc->n_entries++;
}

/* ---- bytes ---------------------------------------------------------------------- */

typedef struct range {
    const g3_vk_buffer *buf;
    uint64_t lo, hi;
} range;

static range bound_range(const g3_vk_binding *b)
{
    const uint64_t size = b->size ? b->size : b->buf->size - b->offset;
    return (range){b->buf, b->offset, b->offset + size};
}

/* Bytes of the union of the ranges (two bindings of one tensor count once). */
static uint64_t union_bytes(range *r, int n)
{
    for (bool merged = true; merged;) {
        merged = false;
        for (int i = 0; i < n && !merged; i++)
            for (int j = i + 1; j < n && !merged; j++)
                if (r[i].buf == r[j].buf && r[i].lo <= r[j].hi && r[j].lo <= r[i].hi) {
                    r[i].lo = G3_MIN(r[i].lo, r[j].lo);
                    r[i].hi = G3_MAX(r[i].hi, r[j].hi);
                    r[j] = r[--n];
                    merged = true;
                }
    }
    uint64_t sum = 0;
    for (int i = 0; i < n; i++)
        sum += r[i].hi - r[i].lo;
    return sum;
}

/* The bytes of the bindings with access bit `bit` (all but `skip`, -1 for none). */
static uint64_t access_bytes(const g3_vk_pipeline *pipe, const g3_vk_binding *b, uint8_t bit,
                             int skip)
{
    range r[G3_VK_MAX_BINDINGS];
    int n = 0;
    for (uint32_t i = 0; i < pipe->n_bindings; i++)
        if ((pipe->access[i] & bit) && (int)i != skip)
            r[n++] = bound_range(&b[i]);
    return union_bytes(r, n);
}

static uint64_t range_bytes(const g3_vk_binding *b)
{
    const range r = bound_range(b);
    return r.hi - r.lo;
}

/* A host pointer to word `word` of a binding, NULL when its buffer is not mapped. */
static const uint32_t *host_word(const g3_vk_binding *b, uint32_t word)
{
    const uint8_t *m = b->buf->mapped;
    return m ? (const uint32_t *)(m + b->offset + 4ull * word) : NULL;
}

/* Fills rec's byte model for a dispatch of `pipe`; *shape receives its shape. The
 * models describe what the kernel must move at least, where its bindings overstate
 * it (see vk.h). */
static void byte_model(const g3_vk_profile_entry *e, const g3_vk_pipeline *pipe,
                       const g3_vk_binding *b, const void *push, const uint32_t groups[3],
                       prof_rec *rec)
{
    rec->model = M_FIXED;
    rec->read = access_bytes(pipe, b, G3_VK_ACCESS_READ, -1);
    rec->written = access_bytes(pipe, b, G3_VK_ACCESS_WRITE, -1);
    const uint32_t el = !strcmp(e->type, "f32") ? 4 : 2; /* KV element bytes */
    if (!strcmp(e->op, "rms_norm") && pipe->n_bindings == 4) {
        /* y is read-write only so that it may alias x: it is written. */
        rec->read = access_bytes(pipe, b, G3_VK_ACCESS_READ, G3_RMS_NORM_BINDING_Y);
        rec->written = range_bytes(&b[G3_RMS_NORM_BINDING_Y]);
    } else if (!strcmp(e->op, "rope_kv") && pipe->push_size == sizeof(struct g3_pc_rope_kv)) {
        /* q, k, v in; q, k out; one K and one V slot per token; two table rows of
         * head_dim floats per token. The bindings span the arena and the cache. */
        struct g3_pc_rope_kv p;
        memcpy(&p, push, sizeof(p));
        const uint64_t q = 4ull * p.n_head * p.head_dim, k = 4ull * p.n_head_kv * p.head_dim;
        rec->read = 4 + (q + 2 * k + 8ull * p.head_dim) * p.n_tokens;
        rec->written = (q + k + 2ull * p.n_head_kv * p.head_dim * el) * p.n_tokens;
    } else if (!strcmp(e->op, "attn") && pipe->push_size == sizeof(struct g3_pc_attn)) {
        struct g3_pc_attn p;
        memcpy(&p, push, sizeof(p));
        const uint64_t head_dim = p.n_head ? p.q_stride / p.n_head : 0;
        rec->model = M_ATTN;
        rec->read = 4 + range_bytes(&b[G3_ATTN_BINDING_Q]);
        rec->written = range_bytes(&b[G3_ATTN_BINDING_OUT]);
        rec->step = host_word(&b[G3_ATTN_BINDING_STEP], p.pos_off);
        rec->n_tokens = groups[2];
        rec->a = p.window;
        rec->b = p.n_slots;
        rec->unit = 2ull * groups[1] * head_dim * el; /* K and V of every KV head */
    } else if (!strcmp(e->op, "embed") && pipe->push_size == sizeof(struct g3_pc_embed)) {
        struct g3_pc_embed p;
        memcpy(&p, push, sizeof(p));
        const bool streams = !strncmp(e->variant, "streams", 7);
        rec->model = M_EMBED;
        rec->read = 4ull * p.n_tokens;
        rec->written = 0;
        rec->step = host_word(&b[G3_EMBED_BINDING_STEP], p.tok_off);
        rec->n_tokens = p.n_tokens;
        rec->a = p.row0;
        rec->b = p.n_rows;
        rec->unit = p.row_bytes + (streams ? p.n_cols / 32 * 2ull : 0); /* + f16 scales */
        rec->unit_out = 4ull * p.n_cols;
    }
}

static void shape_of(const char *op, const g3_vk_pipeline *pipe, const void *push, char *shape,
                     size_t cap)
{
    shape[0] = '\0';
    if (!strcmp(op, "matvec") && pipe->push_size == sizeof(struct g3_pc_matvec)) {
        struct g3_pc_matvec p;
        memcpy(&p, push, sizeof(p));
        snprintf(shape, cap, "%ux%u", p.n_cols, p.y_stride);
    } else if (!strcmp(op, "rms_norm") && pipe->push_size == sizeof(struct g3_pc_rms_norm)) {
        struct g3_pc_rms_norm p;
        memcpy(&p, push, sizeof(p));
        snprintf(shape, cap, "%ux%u", p.n, p.n_groups);
    } else if (!strcmp(op, "attn") && pipe->push_size == sizeof(struct g3_pc_attn)) {
        struct g3_pc_attn p;
        memcpy(&p, push, sizeof(p));
        if (p.window)
            snprintf(shape, cap, "window %u", p.window);
        else
            snprintf(shape, cap, "global");
    }
}

/* Adds a replay's bytes of one item to e. */
static void add_bytes(g3_vk_profile_entry *e, const prof_rec *r)
{
    uint64_t read = r->read, written = r->written;
    if (r->model == M_ATTN) {
        /* Token t attends [pos + t - window + 1, pos + t] (sliding) or [0, pos + t]:
         * the union over the tokens, at most the cache. */
        uint64_t span = r->b;
        if (r->step) {
            const uint64_t pos = r->step[0], last = pos + r->n_tokens - 1;
            const uint64_t lo = r->a && pos + 1 > r->a ? pos + 1 - r->a : 0;
            span = G3_MIN(last + 1 - lo, (uint64_t)r->b);
        }
        read += span * r->unit;
    } else if (r->model == M_EMBED) {
        uint32_t hits = r->n_tokens;
        if (r->step) {
            hits = 0;
            for (uint32_t t = 0; t < r->n_tokens; t++)
                hits += r->step[t] >= r->a && r->step[t] - r->a < r->b;
        }
        read += hits * r->unit;
        written += hits * r->unit_out;
    }
    e->bytes_read += read;
    e->bytes_written += written;
}

/* ---- recording -------------------------------------------------------------------- */

g3_status g3_vk_prof_create(g3_vk_cmd *cmd, g3_err *err)
{
    cmd->prof = calloc(1, sizeof(*cmd->prof));
    if (!cmd->prof)
        return g3_err_set(err, G3_ERR_OUT_OF_MEMORY, "out of host memory");
    return G3_OK;
}

void g3_vk_prof_free(g3_vk_cmd *cmd)
{
    struct g3_vk_cmd_prof *p = cmd->prof;
    if (!p)
        return;
    for (uint32_t i = 0; i < p->n_pools; i++)
        cmd->ctx->vk.vkDestroyQueryPool(cmd->ctx->device, p->pools[i], NULL);
    free(p->pools);
    free(p->recs);
    free(p->ticks);
    free(p);
    cmd->prof = NULL;
}

/* Records a timestamp after everything recorded so far; a new pool (reset in the
 * recording, before its first timestamp) every G3_VK_PROF_POOL of them. Returns
 * false after keeping a failure in cmd. */
static bool write_timestamp(g3_vk_cmd *cmd)
{
    g3_status st = G3_OK;
    struct g3_vk_cmd_prof *p = cmd->prof;
    g3_vk_context *ctx = cmd->ctx;
    const uint32_t k = p->n_ts / G3_VK_PROF_POOL, q = p->n_ts % G3_VK_PROF_POOL;
    if (k == p->n_pools) {
        VkQueryPool *pools = realloc(p->pools, (k + 1) * sizeof(*pools));
        uint64_t *ticks = realloc(p->ticks, (k + 1) * G3_VK_PROF_POOL * sizeof(*ticks));
        if (pools)
            p->pools = pools;
        if (ticks)
            p->ticks = ticks;
        if (!pools || !ticks) {
            g3_err_set(&cmd->err, G3_ERR_OUT_OF_MEMORY, "profiling: out of host memory");
            return false;
        }
        const VkQueryPoolCreateInfo ci = {
            .sType = VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO,
            .queryType = VK_QUERY_TYPE_TIMESTAMP,
            .queryCount = G3_VK_PROF_POOL,
        };
        G3_VK_TRY(ctx, &cmd->err,
                  ctx->vk.vkCreateQueryPool(ctx->device, &ci, NULL, &p->pools[k]));
        p->n_pools++;
    }
    if (q == 0) /* this recording's first use of the pool */
        ctx->vk.vkCmdResetQueryPool(cmd->cb, p->pools[k], 0, G3_VK_PROF_POOL);
    /* BOTTOM_OF_PIPE: written once everything recorded before has completed. */
    ctx->vk.vkCmdWriteTimestamp(cmd->cb, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, p->pools[k], q);
    p->n_ts++;
out:
    return st == G3_OK;
}

void g3_vk_prof_begin(g3_vk_cmd *cmd)
{
    cmd->prof->n_ts = 0;
    cmd->prof->pending = false;
    write_timestamp(cmd);
}

/* The item a timestamp just written closes, or NULL after keeping a failure. */
static prof_rec *add_rec(g3_vk_cmd *cmd)
{
    struct g3_vk_cmd_prof *p = cmd->prof;
    if (p->n_ts == 0 || !write_timestamp(cmd))
        return NULL;
    if (p->n_ts - 1 > p->cap_recs) {
        const uint32_t cap = p->cap_recs ? 2 * p->cap_recs : 256;
        prof_rec *recs = realloc(p->recs, cap * sizeof(*recs));
        if (!recs) {
            g3_err_set(&cmd->err, G3_ERR_OUT_OF_MEMORY, "profiling: out of host memory");
            return NULL;
        }
        p->recs = recs;
        p->cap_recs = cap;
    }
    prof_rec *r = &p->recs[p->n_ts - 2];
    *r = (prof_rec){0};
    return r;
}

void g3_vk_prof_dispatch(g3_vk_cmd *cmd, const g3_vk_pipeline *pipe,
                         const g3_vk_binding *bindings, const void *push,
                         const uint32_t groups[3])
{
    struct g3_vk_cmd_prof *p = cmd->prof;
    prof_rec *r = add_rec(cmd);
    if (!r)
        return;
    const g3_shader_blob *blob = g3_vk_shader_blob(pipe->shader);
    const char *name = blob ? blob->name : "?";
    g3_vk_profile_entry e = {0};
    split_name(name, &e);
    char shape[sizeof(e.shape)];
    shape_of(e.op, pipe, push, shape, sizeof(shape));
    r->entry = p->detached ? 0 : entry_index(cmd->ctx, name, shape);
    byte_model(&e, pipe, bindings, push, groups, r);
    if (p->pending) {
        *r = (prof_rec){.entry = r->entry, .read = p->pending_read,
                        .written = p->pending_written};
        p->pending = false;
    }
}

void g3_vk_prof_copy(g3_vk_cmd *cmd, uint64_t size)
{
    prof_rec *r = add_rec(cmd);
    if (!r)
        return;
    r->entry = cmd->prof->detached ? 0 : entry_index(cmd->ctx, "copy", "");
    r->read = r->written = size;
}

/* ---- collection ------------------------------------------------------------------- */

g3_status g3_vk_prof_collect(g3_vk_cmd *cmd, g3_err *err)
{
    g3_status st = G3_OK;
    struct g3_vk_cmd_prof *p = cmd->prof;
    g3_vk_context *ctx = cmd->ctx;
    const uint32_t n = p->n_ts;
    if (n < 2)
        return G3_OK;
    for (uint32_t k = 0; k * G3_VK_PROF_POOL < n; k++) {
        const uint32_t count = G3_MIN(n - k * G3_VK_PROF_POOL, (uint32_t)G3_VK_PROF_POOL);
        G3_VK_TRY(ctx, err, ctx->vk.vkGetQueryPoolResults(
                                ctx->device, p->pools[k], 0, count, count * sizeof(uint64_t),
                                p->ticks + (size_t)k * G3_VK_PROF_POOL, sizeof(uint64_t),
                                VK_QUERY_RESULT_64_BIT | VK_QUERY_RESULT_WAIT_BIT));
    }
    const uint32_t bits = ctx->info.timestamp_valid_bits;
    const uint64_t mask = bits >= 64 ? UINT64_MAX : (1ull << bits) - 1;
    const double period = ctx->info.timestamp_period_ns;
    /* Differences modulo the valid bits: a counter that wrapped still subtracts. */
    p->last_ns = (double)((p->ticks[n - 1] - p->ticks[0]) & mask) * period;
    if (p->detached)
        return G3_OK;
    struct g3_vk_profile_acc *acc = &ctx->profile;
    acc->replays++;
    acc->gpu_ns += (uint64_t)llround(p->last_ns);
    for (uint32_t i = 1; i < n; i++) {
        const prof_rec *r = &p->recs[i - 1];
        g3_vk_profile_entry *e = &acc->entries[r->entry];
        e->calls++;
        e->ns += (uint64_t)llround((double)((p->ticks[i] - p->ticks[i - 1]) & mask) * period);
        add_bytes(e, r);
    }
out:
    return st;
}

/* ---- public ----------------------------------------------------------------------- */

bool g3_vk_cmd_profiled(const g3_vk_cmd *cmd)
{
    return cmd && cmd->prof;
}

void g3_vk_context_set_profiling(g3_vk_context *ctx, bool on)
{
    if (ctx)
        ctx->profile.all = on;
}

bool g3_vk_context_profiling(const g3_vk_context *ctx)
{
    return ctx && ctx->profile.all;
}

void g3_vk_cmd_profile_bytes(g3_vk_cmd *cmd, uint64_t read, uint64_t written)
{
    if (!cmd || !cmd->prof)
        return;
    cmd->prof->pending = true;
    cmd->prof->pending_read = read;
    cmd->prof->pending_written = written;
}

bool g3_vk_profile_supported(const g3_vk_context *ctx, char *why, size_t cap)
{
    const g3_vk_device_info *in = &ctx->info;
    const bool ok = in->timestamp_valid_bits > 0 && in->timestamp_period_ns > 0;
    if (why && cap) {
        if (ok)
            why[0] = '\0';
        else if (in->timestamp_valid_bits == 0)
            snprintf(why, cap, "%s cannot time dispatches: its compute queue (family %d) "
                     "reports timestampValidBits = 0 (no timestamp queries)", in->name,
                     in->compute_queue_family);
        else
            snprintf(why, cap, "%s cannot time dispatches: it reports timestampPeriod = %g",
                     in->name, (double)in->timestamp_period_ns);
    }
    return ok;
}

uint32_t g3_vk_profile_get(const g3_vk_context *ctx, g3_vk_profile_entry *out, uint32_t cap,
                           g3_vk_profile_totals *totals)
{
    const struct g3_vk_profile_acc *acc = &ctx->profile;
    uint32_t n = 0; /* entries that ran since the reset: the others are keys only */
    for (uint32_t i = 0; i < acc->n_entries; i++)
        if (acc->entries[i].calls && n++ < cap && out)
            out[n - 1] = acc->entries[i];
    if (totals)
        *totals = (g3_vk_profile_totals){.replays = acc->replays, .gpu_ns = acc->gpu_ns,
                                         .n_entries = n};
    return n;
}

void g3_vk_profile_reset(g3_vk_context *ctx)
{
    /* The keys stay: recorded dispatches refer to their entries by index. */
    struct g3_vk_profile_acc *acc = &ctx->profile;
    for (uint32_t i = 0; i < acc->n_entries; i++) {
        g3_vk_profile_entry *e = &acc->entries[i];
        e->calls = e->ns = e->bytes_read = e->bytes_written = 0;
    }
    acc->replays = 0;
    acc->gpu_ns = 0;
}

/* ---- bandwidth ------------------------------------------------------------------ */

/* Runs the ended recording reps + 1 times (the first warms up) and returns the best
 * time of one in ns: from its timestamps when profiled, else the host clock. */
static g3_status best_ns(g3_vk_cmd *cmd, int reps, double *best, g3_err *err)
{
    *best = INFINITY;
    for (int i = 0; i <= reps; i++) {
        const double t0 = g3_time_s();
        g3_status st = g3_vk_cmd_replay(cmd, err);
        const double wall = (g3_time_s() - t0) * 1e9;
        if (st != G3_OK)
            return st;
        if (i > 0)
            *best = G3_MIN(*best, cmd->prof ? cmd->prof->last_ns : wall);
    }
    return G3_OK;
}

g3_status g3_vk_measure_copy_gbps(g3_vk_context *ctx, uint64_t bytes, int reps, double *gbps,
                                  double *transfer_gbps, g3_err *err)
{
    if (!ctx || !gbps)
        return g3_err_set(err, G3_ERR_INVALID_ARG, "g3_vk_measure_copy_gbps: NULL argument");
    const g3_vk_device_info *in = &ctx->info;
    if (!bytes)
        bytes = 256ull << 20;
    bytes = G3_MIN(bytes, G3_MIN(in->max_storage_buffer_range, in->max_memory_allocation_size));
    bytes = G3_MIN(bytes, 16ull * UINT32_MAX) / 16 * 16; /* n counts 16-byte words */
    if (bytes < 16)
        return g3_err_set(err, G3_ERR_INVALID_ARG, "bandwidth probe: %llu bytes",
                          (unsigned long long)bytes);
    reps = G3_MAX(reps, 1);
    g3_vk_buffer *src = NULL, *dst = NULL;
    g3_vk_pipeline *pipe = NULL;
    g3_vk_cmd *cmd = NULL, *xfer = NULL;
    const bool timed = g3_vk_profile_supported(ctx, NULL, 0);
    const uint32_t wg = G3_MIN(256u, G3_MIN(in->max_compute_work_group_invocations,
                                            in->max_compute_work_group_size[0]));
    const g3_vk_pipeline_desc desc = {.shader = G3_SHADER_COPY_U32X4, .n_bindings = 2,
                                      .push_size = sizeof(struct g3_pc_copy), .n_spec = 1,
                                      .spec = {{G3_SPEC_WG_SIZE, wg}}};
    const struct g3_pc_copy pc = {.n = (uint32_t)(bytes / 16)};
    /* Enough invocations to keep any device busy, each looping a few times. */
    const uint64_t want = (pc.n + 4ull * wg - 1) / (4ull * wg);
    const uint32_t groups[3] = {
        (uint32_t)G3_MIN(want, (uint64_t)in->max_compute_work_group_count[0]), 1, 1};
    double ns = 0;
    g3_status st;
    if ((st = g3_vk_buffer_create(ctx, bytes, G3_VK_MEMORY_DEVICE, "bandwidth source", &src,
                                  err)) != G3_OK ||
        (st = g3_vk_buffer_create(ctx, bytes, G3_VK_MEMORY_DEVICE, "bandwidth destination", &dst,
                                  err)) != G3_OK ||
        (st = g3_vk_pipeline_create(ctx, &desc, &pipe, err)) != G3_OK ||
        (st = g3_vk_cmd_create_with(ctx, &(g3_vk_cmd_options){.profile = timed}, &cmd, err)) !=
            G3_OK ||
        (st = g3_vk_cmd_create_with(ctx, &(g3_vk_cmd_options){.profile = timed}, &xfer, err)) !=
            G3_OK)
        goto out;
    if (cmd->prof)
        cmd->prof->detached = xfer->prof->detached = true;
    const g3_vk_binding b[2] = {{.buf = src}, {.buf = dst}};
    g3_vk_cmd_begin_reusable(cmd);
    g3_vk_cmd_dispatch(cmd, pipe, b, 2, &pc, sizeof(pc), groups);
    if ((st = g3_vk_cmd_end(cmd, err)) != G3_OK || (st = best_ns(cmd, reps, &ns, err)) != G3_OK)
        goto out;
    *gbps = 2.0 * (double)bytes / G3_MAX(ns, 1.0);
    if (transfer_gbps) {
        g3_vk_cmd_begin_reusable(xfer);
        g3_vk_cmd_copy(xfer, src, 0, dst, 0, bytes);
        if ((st = g3_vk_cmd_end(xfer, err)) != G3_OK ||
            (st = best_ns(xfer, reps, &ns, err)) != G3_OK)
            goto out;
        *transfer_gbps = 2.0 * (double)bytes / G3_MAX(ns, 1.0);
    }
out:
    g3_vk_cmd_free(xfer);
    g3_vk_cmd_free(cmd);
    g3_vk_pipeline_free(ctx, pipe);
    g3_vk_buffer_free(ctx, dst);
    g3_vk_buffer_free(ctx, src);
    return st;
}
