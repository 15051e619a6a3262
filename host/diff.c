/* diff.c: op-by-op comparison of the Vulkan executor with the CPU reference.
 *
 * Both run the same step graph, so tensors match by id. The device executor
 * keeps every tensor (no arena reuse) so each can be read back after a step.
 * Budgets are NMSE per op kind, calibrated on the reference models: the
 * device sums in a different order (and an f16 KV cache rounds what attention
 * reads), so exact equality is not expected, but a wrong kernel lands many
 * orders of magnitude above these. */
#include <math.h>
#include <string.h>

#include "diff.h"

static double budget(g3_op op, bool kv_f32)
{
    /* After attention, an f16 cache makes the two sides round different K/V
     * values (their inputs differ by float noise): allow more there. */
    const double base = kv_f32 ? 1e-9 : 1e-7;
    switch (op) {
    case G3_OP_ATTN:
        return kv_f32 ? 1e-9 : 1e-5;
    default:
        return base;
    }
}

g3_status g3_diff_run(g3_model *model, const int32_t *tokens, int n, const g3_diff_options *opt,
                      g3_diff_report *r, g3_err *err)
{
    memset(r, 0, sizeof(*r));
    r->first_over = -1;
    const g3_diff_options o = opt ? *opt : (g3_diff_options){0};
    const int B = G3_MAX(1, G3_MIN(o.batch, n));
    g3_status st = g3_graph_build(&model->desc, B, B, &r->graph, err);
    if (st != G3_OK)
        return st;
    const g3_graph *g = &r->graph;
    g3_ref_exec cpu = {0};
    g3_vk_exec *gpu = NULL;
    float *buf = NULL;
    int *row_of = NULL;
    if ((st = g3_ref_exec_init(&cpu, g, n, model->pool, err)) != G3_OK ||
        (st = g3_vk_exec_create(&g, 1, &(g3_vk_exec_options){.n_ctx = n, .kv_f32 = o.kv_f32,
                                                          .keep_all = true, .device = o.device},
                                &gpu, err)) != G3_OK)
        goto out;
    cpu.kv_f16 = !o.kv_f32;
    snprintf(r->device, sizeof(r->device), "%s", g3_vk_exec_device_name(gpu));

    /* One row per tensor an op writes (KV_STORE writes the cache, compared
     * through attention's output). */
    r->rows = calloc((size_t)g->n_nodes, sizeof(*r->rows));
    row_of = malloc((size_t)g->n_tensors * sizeof(*row_of));
    int64_t max_el = 1;
    for (int t = 0; t < g->n_tensors; t++)
        max_el = G3_MAX(max_el, g->tensors[t].ne[0] * g->tensors[t].ne[1]);
    buf = malloc((size_t)max_el * sizeof(float));
    if (!r->rows || !row_of || !buf) {
        st = g3_err_set(err, G3_ERR_OUT_OF_MEMORY, "diff: out of memory");
        goto out;
    }
    for (int t = 0; t < g->n_tensors; t++)
        row_of[t] = -1;
    for (int i = 0; i < g->n_nodes; i++) {
        const g3_node *nd = &g->nodes[i];
        if (nd->dst < 0)
            continue;
        row_of[nd->dst] = r->n_rows;
        r->rows[r->n_rows++] = (g3_diff_row){.tensor = nd->dst, .op = nd->op,
                                             .tol = budget(nd->op, o.kv_f32), .worst_pos = -1};
    }

    for (int p = 0; p + B <= n; p += B) {
        g3_ref_exec_run(&cpu, &tokens[p], p, true);
        if ((st = g3_vk_exec_run(gpu, 0, &tokens[p], p, true, err)) != G3_OK)
            goto out;
        for (int k = 0; k < r->n_rows; k++) {
            g3_diff_row *row = &r->rows[k];
            const g3_tensor *t = &g->tensors[row->tensor];
            const int64_t ne = t->ne[0] * t->ne[1];
            if ((st = g3_vk_exec_read(gpu, row->tensor, buf, err)) != G3_OK)
                goto out;
            const float *ref = cpu.buf[row->tensor];
            double num = 0, den = 0;
            for (int64_t e = 0; e < ne; e++) {
                const double d = (double)buf[e] - ref[e];
                num += d * d;
                den += (double)ref[e] * ref[e];
                if (!(fabs(d) <= row->max_abs)) /* NaN is the worst */
                    row->max_abs = isnan(d) ? INFINITY : fabs(d);
            }
            const double nmse = den > 0 ? num / den : num;
            if (!(nmse <= row->nmse) || row->worst_pos < 0) {
                row->nmse = isnan(nmse) ? INFINITY : nmse;
                row->worst_pos = p;
            }
        }
        r->n_positions = p + B;
    }
    for (int k = 0; k < r->n_rows; k++) {
        g3_diff_row *row = &r->rows[k];
        row->over = !(row->nmse <= row->tol);
        if (row->over) {
            r->n_over++;
            if (r->first_over < 0)
                r->first_over = k;
        }
    }
out:
    free(buf);
    free(row_of);
    g3_vk_exec_free(gpu);
    g3_ref_exec_free(&cpu);
    if (st != G3_OK)
        g3_diff_report_free(r);
    return st;
}

void g3_diff_report_free(g3_diff_report *r)
{
    if (!r)
        return;
    free(r->rows);
    g3_graph_free(&r->graph);
    memset(r, 0, sizeof(*r));
    r->first_over = -1;
}
