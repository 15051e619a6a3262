/* diff.h: runs the same tokens through the CPU reference and the Vulkan
 * executor, step by step, and compares every named tensor of the step graph:
 * the tool that turns "the logits are wrong" into "rope on global layers is
 * wrong". Used by `g3vk diff` and the tests. */
#ifndef G3_DIFF_H
#define G3_DIFF_H

#include "engine.h"

typedef struct g3_diff_row {
    int tensor;        /* graph tensor id                                        */
    g3_op op;          /* the op that writes it                                  */
    double max_abs;    /* over all positions                                     */
    double nmse;       /* worst position: sum (g - c)^2 / sum c^2                */
    double tol;        /* NMSE budget for this op                                */
    int worst_pos;     /* first position of the step with the worst NMSE         */
    bool over;
} g3_diff_row;

typedef struct g3_diff_report {
    g3_graph graph;    /* the step: `batch` tokens, logits of every one          */
    g3_diff_row *rows; /* one per written tensor, in graph order                 */
    int n_rows;
    int first_over;    /* index into rows of the first tensor over budget, or -1 */
    int n_over;
    int n_positions;
    char device[256];
} g3_diff_report;

typedef struct g3_diff_options {
    bool kv_f32;       /* device KV cache f32 (default f16; the CPU then rounds K/V to
                          f16 the same way, so both see the same cache)           */
    int device;        /* 1-based Vulkan device; 0 = the best                     */
    int batch;         /* tokens per step (0 = 1: decode). More: prefill steps of
                          min(batch, n) tokens (matrix-matrix products, flash
                          attention); a remainder shorter than a step is left out */
} g3_diff_options;

/* Feeds tokens[0..n) to both backends, one step of `batch` tokens at a time,
 * and fills report. Errors: the device cannot be used, allocation. */
g3_status g3_diff_run(g3_model *model, const int32_t *tokens, int n, const g3_diff_options *opt,
                      g3_diff_report *report, g3_err *err);
void g3_diff_report_free(g3_diff_report *r);

#endif /* G3_DIFF_H */
