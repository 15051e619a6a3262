/* vk_exec.h: runs step graphs (host/ops.h) on a Vulkan device: uploads the
 * weights in their GGUF block formats, lays the activations out as the planner
 * says (host/planner.h), keeps the KV cache on the device, records each step's
 * command buffers once and replays them for every step; the position and the
 * token ids reach the shaders through a small step buffer the host rewrites.
 *
 * One executor holds several steps over the same weights and KV cache: the
 * 1-token decode step and the prefill chunks (a 512-token prompt is one pass of
 * a 512-token step: matrix-matrix products and flash attention). Each step is
 * recorded as one recording per layer, so that a long prefill chunk can be
 * split over several submissions (see submit_budget_ms). The diff tooling reads
 * any tensor of the last step back by its graph id. */
#ifndef G3_VK_EXEC_H
#define G3_VK_EXEC_H

#include "g3.h"
#include "ops.h"
#include "planner.h"

typedef struct g3_vk_exec g3_vk_exec;

typedef struct g3_vk_exec_options {
    int n_ctx;               /* KV positions (required)                                  */
    bool kv_f32;             /* default false: f16 KV cache                               */
    bool keep_all;           /* default false; true: no activation reuse, so every tensor
                                of the last step can be read back (op-by-op diffing)       */
    int device;              /* 1-based device index; default 0 = the best               */
    bool validation;         /* default false (or G3_VK_VALIDATION=1)                     */
    g3_progress_fn progress; /* weight upload progress; may be NULL                       */
    void *progress_user;
    double submit_budget_ms; /* device time one submission should carry at most; a step
                                runs as several submissions (whole layers each) when its
                                measured time is longer. Default 0 = 50 ms on GPUs (the
                                OS resets a GPU after ~2 s), unlimited on CPU devices;
                                < 0: one submission per layer (tests)                     */
    bool profile;            /* default false; true: the steps' recordings write timestamps
                                (g3_vk_exec_get_profile)                                  */
} g3_vk_exec_options;

/* Memory on the device, for reports. */
typedef struct g3_vk_exec_memory {
    uint64_t weights;     /* matrices in block format + norm vectors (f32)  */
    uint64_t kv;          /* KV cache of every layer                        */
    uint64_t activations; /* the arena (planner peak)                       */
    uint64_t scratch;     /* attention partials, argmax, step and readback  */
    int n_barriers;       /* in the full decode step (the first graph)      */
    int n_dispatch_nodes; /* graph nodes recorded (fused ones count once)   */
} g3_vk_exec_memory;

/* What one step (graph) of the executor takes. */
typedef struct g3_vk_exec_step_info {
    int n_tokens, n_logits;
    uint64_t activations; /* this step's planner peak (the arena is their max) */
    int n_barriers;       /* in the step with logits                          */
    int n_dispatch_nodes;
    int n_segments;       /* recordings (one per layer)                       */
    int last_submissions; /* submissions the last run of this step took       */
    double segment_ms;    /* its slowest recording's measured time            */
    double budget_ms;     /* the executor's submission budget (0: none)        */
} g3_vk_exec_step_info;

/* Creates the context on the chosen device, uploads the weights the graphs read
 * and records every step (body only, and body + logits + argmax). The graphs
 * (of one model, which must outlive the executor like them) are the steps, by
 * index; the KV cache is sized for the largest step. Errors name what failed: a
 * device without a required feature, a tensor that did not fit in device memory. */
g3_status g3_vk_exec_create(const g3_graph *const *graphs, int n_graphs,
                            const g3_vk_exec_options *opt, g3_vk_exec **out, g3_err *err);
void g3_vk_exec_free(g3_vk_exec *ex);

/* Runs step `step`: its graph's n_tokens tokens at positions pos0.. (ids and
 * range checked by the caller); the logits nodes run when want_logits. */
g3_status g3_vk_exec_run(g3_vk_exec *ex, int step, const int32_t *tokens, int64_t pos0,
                         bool want_logits, g3_err *err);

/* The logits of the last run, if it had want_logits: (n_vocab, n_logits of its
 * graph) floats in host memory, valid until the next run. */
const float *g3_vk_exec_logits(const g3_vk_exec *ex);
/* The argmax of the last logits row, computed on the device. */
int32_t g3_vk_exec_argmax(const g3_vk_exec *ex);

/* Copies tensor `id` of the last run's graph to dst (ne[0] * ne[1] floats). Only
 * tensors still alive at the end of the step hold their values unless the
 * executor was created with keep_all. */
g3_status g3_vk_exec_read(g3_vk_exec *ex, int id, float *dst, g3_err *err);

g3_vk_exec_memory g3_vk_exec_get_memory(const g3_vk_exec *ex);
g3_vk_exec_step_info g3_vk_exec_get_step_info(const g3_vk_exec *ex, int step);
const char *g3_vk_exec_device_name(const g3_vk_exec *ex);

/* The kernel profile of an executor created with .profile (see g3.h,
 * g3_context_get_profile, whose contract this is). */
int g3_vk_exec_get_profile(const g3_vk_exec *ex, g3_profile_entry *entries, int cap,
                           g3_profile_info *info);
void g3_vk_exec_reset_profile(g3_vk_exec *ex);

#endif /* G3_VK_EXEC_H */
