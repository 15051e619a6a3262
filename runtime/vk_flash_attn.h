/* vk_flash_attn.h: flash attention for a chunk of query tokens (batched prompt
 * processing): softmax(q K^T * scale) V for n_tokens tokens at positions pos + t in
 * one dispatch, with the causal mask and, on sliding layers, the window mask. Same
 * arguments and result as g3_vk_record_attn (vk_ops.h), which remains the kernel for
 * one token; checked against g3_ref_attention by tests/test_vk_flash_attn.c.
 *
 * Design (flash_attn.comp says more): one workgroup per (group of query tokens, KV
 * head); per token a team of `lanes` invocations splits head_dim and holds all the
 * query heads sharing the KV head (GQA: each K / V load serves the 4 heads of 270M),
 * with an online softmax in fp32 per query row. K / V come either in tiles loaded
 * once per workgroup into shared memory (GPUs) or straight from the cache (CPU
 * devices). Positions outside a token's causal / sliding range are masked; the
 * workgroup reads only positions some of its tokens attend. Needs subgroup shuffle
 * (the team's dot-product sums).
 *
 * Measured on lavapipe (2-core build machine, 270M shape, f16 cache, bench_flash_attn,
 * CPU time): 512 tokens at 0..511 in 42 ms (global) against 663 ms for
 * g3_vk_record_attn with n_tokens = 512; 64 tokens at 900..963 in 18 ms against 261 ms.
 *
 * The conventions of vk_ops.h hold: tensors as g3_vk_loc (byte offsets, multiples of
 * 4), the position read on the device from the step buffer (replayable recordings),
 * errors kept in cmd (G3_ERR_INVALID_ARG for ranges outside their buffers or shapes
 * this object was not created for; pipeline failures), no barrier implied before or
 * after, NULL-safe free, one thread per context. */
#ifndef G3_VK_FLASH_ATTN_H
#define G3_VK_FLASH_ATTN_H

#include "vk.h"
#include "vk_ops.h" /* g3_vk_attn_args, g3_vk_kv, g3_vk_loc */

/* Where the kernel reads K and V from. */
typedef enum g3_vk_flash_attn_reads {
    G3_VK_FLASH_ATTN_READS_AUTO = 0, /* DIRECT on CPU devices, TILED elsewhere          */
    G3_VK_FLASH_ATTN_READS_TILED,    /* tiles of positions loaded once per workgroup into
                                        shared memory (as f32)                          */
    G3_VK_FLASH_ATTN_READS_DIRECT,   /* every team reads the positions straight from the
                                        cache (lavapipe: a load whose address differs per
                                        lane costs the same from any memory, so staging
                                        only adds work: 2x slower tiled)                */
} g3_vk_flash_attn_reads;

/* Zero-initialize and set the shape; zero elsewhere means the default. */
typedef struct g3_vk_flash_attn_options {
    uint32_t n_head;    /* query heads (required; 4 on 270M)                           */
    uint32_t n_head_kv; /* KV heads (required; 1 on 270M), divides n_head              */
    uint32_t head_dim;  /* required; a multiple of 4, at most G3_VK_FLASH_ATTN_MAX_DIM */
    uint32_t lanes;     /* invocations per token, each holding head_dim / lanes
                           dimensions of the token's query heads: a power of two, at
                           most the device's smallest subgroup, head_dim a multiple of
                           4 * lanes. Default: the largest such value up to 32          */
    uint32_t team_tokens; /* tokens per team: each invocation holds the query and
                           output slices of all their heads, so one K / V load serves
                           team_tokens x (n_head / n_head_kv) rows. Default 1 (lavapipe,
                           270M, 512 tokens: 2 is ~10% faster but its pipeline compiles
                           in ~5 s instead of ~2)                                       */
    uint32_t tokens;    /* tokens per workgroup, a multiple of team_tokens. Default: 64 /
                           lanes teams (at least 1), capped by the device's limits     */
    uint32_t tile;      /* TILED: KV positions per shared-memory tile. Default: as many
                           as the device's shared memory holds (2 * tile * head_dim * 4
                           bytes), at most 32. DIRECT: unused (1)                       */
    g3_vk_flash_attn_reads reads;
} g3_vk_flash_attn_options;

/* Each invocation keeps its slice of the query and output rows of its group's heads
 * in registers; head_dim bounds that. */
#define G3_VK_FLASH_ATTN_MAX_DIM 256

typedef struct g3_vk_flash_attn g3_vk_flash_attn;

/* Resolves the options against the device. G3_ERR_INVALID_ARG for a missing or
 * inconsistent shape, or lanes / tokens / tile / reads that cannot be honoured (not a
 * power of two, above the smallest subgroup or the workgroup limits, a tile above the
 * shared memory); G3_ERR_UNSUPPORTED when head_dim is above G3_VK_FLASH_ATTN_MAX_DIM,
 * the device has no subgroup shuffle in compute shaders, or (TILED) even a
 * one-position tile (2 * head_dim * 4 bytes) does not fit its shared memory. No
 * pipeline is created yet (at first record). */
g3_status g3_vk_flash_attn_create(g3_vk_context *ctx, const g3_vk_flash_attn_options *opt,
                                  g3_vk_flash_attn **out, g3_err *err);
void g3_vk_flash_attn_free(g3_vk_flash_attn *fa);
/* The options in force (defaults resolved), for logs and tests. */
g3_vk_flash_attn_options g3_vk_flash_attn_get_options(const g3_vk_flash_attn *fa);

/* Records the attention of a->n_tokens tokens (a->n_splits and a->scratch are
 * ignored: no scratch, one dispatch). Token t at position pos + t attends [0, pos + t]
 * (window 0) or [pos + t - window + 1, pos + t]; the KV cache must hold every one of
 * those positions (rope_kv of the whole chunk recorded, and a barrier, before: a
 * sliding layer's ring needs window + n_tokens - 1 slots, as g3_plan_kv_slots
 * gives). q and out are (n_head * head_dim, n_tokens) and must not overlap. The
 * pipeline (one per cache type and the cache load width its offsets allow) is created
 * at the first record that needs it: record at load time (lavapipe compiles it at its
 * first run, ~2 s for 270M). */
g3_status g3_vk_record_flash_attn(g3_vk_cmd *cmd, g3_vk_flash_attn *fa, const g3_vk_attn_args *a);

#endif /* G3_VK_FLASH_ATTN_H */
