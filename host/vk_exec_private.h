/* vk_exec_private.h: the Vulkan executor's state, shared by vk_exec.c (lifetime,
 * upload, running) and vk_exec_record.c (graph nodes -> dispatches). */
#ifndef G3_VK_EXEC_PRIVATE_H
#define G3_VK_EXEC_PRIVATE_H

#include "vk_exec.h"
#include "vk_flash_attn.h"
#include "vk_matmul.h"
#include "vk_matvec.h"
#include "vk_ops.h"

/* One step: a graph, its plan and its recordings. The step is recorded as n_seg
 * segments of whole layers (segment 0 also embeds), so that a long step can be
 * spread over several submissions; cmds[n_seg] is the last segment again with
 * the LM head, the argmax and the logits copy (body and full runs share the
 * others). */
typedef struct vk_step {
    const g3_graph *graph;
    g3_plan plan;
    int n_seg;
    int *seg_first;        /* n_seg + 1: first node of each segment, then n_body   */
    g3_vk_cmd **cmds;      /* n_seg + 1                                            */
    g3_vk_cmd **order;     /* n_seg: what one run submits (body or logits last)    */
    double seg_s;          /* measured device seconds per segment; 0 = not yet     */
    int n_barriers, n_dispatch_nodes, last_submissions;
} vk_step;

struct g3_vk_exec {
    const g3_model_desc *model;
    vk_step *steps;
    int n_steps, last_step;
    int max_tokens;         /* largest step                                            */
    double budget_s;        /* per submission; 0 = unlimited, < 0 = one per segment     */
    g3_vk_context *ctx;
    g3_vk_matvec *mv;
    g3_vk_matmul *mm;       /* steps of more than one token; NULL when there are none  */
    bool mm_decode;         /* mm also runs one-token products of GGUF-layout weights
                               (CPU devices: prepare_matmul in vk_exec.c says why)     */
    g3_vk_flash_attn *fa;   /* likewise: attention over a chunk of queries             */
    g3_vk_ops *ops;
    const g3_weight **weights; /* distinct weights of all steps                       */
    int n_weights;
    g3_vk_weight **mats;    /* per weight: the uploaded matrix, NULL for vectors       */
    uint64_t *vec_offset;   /* per weight: offset of the f32 vector in `vectors`       */
    g3_vk_buffer *vectors;  /* norm weights, f32                                       */
    g3_vk_buffer *arena;    /* activations (planner offsets; the largest step's size)  */
    g3_vk_buffer **kv_buf;  /* per layer: K then V                                     */
    g3_vk_kv *kv;           /* per layer                                               */
    g3_vk_rope_table *rope_swa, *rope_global;
    g3_vk_buffer *attn_scratch, *select_scratch;
    g3_vk_buffer *step;     /* UPLOAD: uint32 pos, uint32 tokens[max_tokens]            */
    g3_vk_buffer *readback; /* READBACK: logits (n_vocab * n_logits), then argmax pair */
    g3_vk_buffer *arena_rb; /* keep_all: READBACK copy of the whole arena per step     */
    uint64_t arena_bytes;
    g3_vk_exec_memory mem;
    bool has_logits;
};

/* Index of w in ex->weights, or -1. */
int g3_vk_exec_weight_index(const g3_vk_exec *ex, const g3_weight *w);

/* Records the segments of step s (vk_exec_record.c). */
g3_status g3_vk_exec_record_step(g3_vk_exec *ex, vk_step *s, g3_err *err);

#endif /* G3_VK_EXEC_PRIVATE_H */
