/* test_vk_model: the whole model on the Vulkan device (lavapipe in CI, with
 * the validation layer on) against the CPU reference, for every
 * shared/reference mini model over its 192 positions, token by token (the
 * decode step), in one 192-token prefill pass and in prefill chunks of 64:
 *   f32 KV cache: logits within 2e-4 of the CPU reference, same top-1 everywhere;
 *   f16 KV cache: within 2e-3 of the CPU reference run with the same f16
 *   rounding of K/V, same top-1 everywhere (and within 2e-3 of the f32 one).
 * g3vk diff: every op within budget, decode steps and prefill steps.
 * Also: the decode step is recorded once and replayed (positions only change
 * in the step buffer), so a context reset replays to identical logits. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "diff.h"
#include "g3.h"
#include "logits_file.h"
#include "synth.h"
#include "test.h"
#include "vk.h"

/* All positions' logits of ids[0..n) with the given backend and KV type;
 * batch 0: one g3_context_eval per token, else one g3_context_eval_all with
 * prefill steps of `batch` tokens. */
static float *run(const char *path, g3_backend backend, bool kv_f32, bool kv_f16, int batch,
                  const int32_t *ids, int n, int n_vocab, char *device, size_t device_cap)
{
    char err[700];
    g3_model *m = NULL;
    if (g3_model_load(path, &(g3_model_options){.backend = backend}, &m, err, sizeof(err)) !=
        G3_OK) {
        fprintf(stderr, "load %s: %s\n", path, err);
        return NULL;
    }
    snprintf(device, device_cap, "%s", g3_model_get_info(m)->device);
    g3_context *ctx = NULL;
    float *out = malloc((size_t)n * (size_t)n_vocab * sizeof(float));
    if (!out ||
        g3_context_create(m,
                          &(g3_context_options){.n_ctx = n, .kv_f32 = kv_f32, .kv_f16 = kv_f16,
                                                .n_batch = batch},
                          &ctx) != G3_OK) {
        fprintf(stderr, "context: %s\n", g3_model_last_error(m));
        free(out);
        g3_model_free(m);
        return NULL;
    }
    if (batch && g3_context_eval_all(ctx, ids, n, out) != G3_OK) {
        fprintf(stderr, "eval_all: %s\n", g3_context_error(ctx));
        free(out);
        out = NULL;
    }
    for (int i = 0; i < n && out && !batch; i++) {
        if (g3_context_eval(ctx, &ids[i], 1, true) != G3_OK) {
            fprintf(stderr, "eval %d: %s\n", i, g3_context_error(ctx));
            free(out);
            out = NULL;
            break;
        }
        memcpy(out + (size_t)i * n_vocab, g3_context_logits(ctx), (size_t)n_vocab * sizeof(float));
    }
    g3_context_free(ctx);
    g3_model_free(m);
    return out;
}

/* A GPU too slow for the submission budget (lavapipe with a budget of 1 us):
 * every layer is its own submission, and after the first 64-token step outlasts
 * the budget, the prompt continues in 8-token steps; the logits stay right. */
static void check_slow_gpu(const char *path, const int32_t *ids, int n, int V, const float *cpu16)
{
    char err[700];
    g3_model *m = NULL;
    g3_context *ctx = NULL;
    setenv("G3_VK_SUBMIT_BUDGET_MS", "0.001", 1);
    REQUIRE_VOID(g3_model_load(path, &(g3_model_options){.backend = G3_BACKEND_VULKAN}, &m, err,
                               sizeof(err)) == G3_OK);
    REQUIRE_VOID(g3_context_create(m, &(g3_context_options){.n_ctx = n, .n_batch = 64}, &ctx) ==
                 G3_OK);
    const int before = g3_context_get_memory(ctx).n_batch;
    CHECK(g3_context_eval(ctx, ids, n - 64, false) == G3_OK, "%s", g3_context_error(ctx));
    const int after = g3_context_get_memory(ctx).n_batch;
    CHECK(g3_context_eval(ctx, ids + n - 64, 64, true) == G3_OK, "%s", g3_context_error(ctx));
    const float *l = g3_context_logits(ctx);
    REQUIRE_VOID(l);
    const g3_logits_diff d = g3_logits_compare(l, cpu16 + (size_t)(n - 1) * V, 1, V);
    printf("slow GPU (budget 1 us): prefill steps of %d, then %d; last position max abs %.2e\n",
           before, after, d.max_abs);
    CHECK(before == 64 && after == 8, "prefill steps %d -> %d", before, after);
    CHECK(d.max_abs < 2e-3 && d.top1_agree == 1, "slow GPU: max abs %.3g", d.max_abs);
    g3_context_free(ctx);
    g3_model_free(m);
    unsetenv("G3_VK_SUBMIT_BUDGET_MS");
}

/* The same steps as one submission and as one submission per layer (what a
 * slow GPU gets under the OS timeout): the same bits, and the count of
 * submissions is what the budget asks for. */
static void check_submissions(g3_model *m, const int32_t *ids)
{
    g3_graph steps[2];
    g3_err e = {0};
    REQUIRE_VOID(g3_graph_build(&m->desc, 1, 1, &steps[0], &e) == G3_OK &&
                 g3_graph_build(&m->desc, 24, 1, &steps[1], &e) == G3_OK);
    const g3_graph *graphs[2] = {&steps[0], &steps[1]};
    float *logits[2] = {NULL, NULL};
    const int V = m->desc.info.n_vocab, L = m->desc.info.n_layer;
    for (int split = 0; split < 2; split++) {
        g3_vk_exec *ex = NULL;
        REQUIRE_VOID(g3_vk_exec_create(graphs, 2,
                                       &(g3_vk_exec_options){.n_ctx = 64,
                                                             .submit_budget_ms = split ? -1 : 0},
                                       &ex, &e) == G3_OK);
        logits[split] = malloc(2 * (size_t)V * sizeof(float));
        REQUIRE_VOID(logits[split]);
        REQUIRE_VOID(g3_vk_exec_run(ex, 1, ids, 0, true, &e) == G3_OK);
        memcpy(logits[split], g3_vk_exec_logits(ex), (size_t)V * sizeof(float));
        const g3_vk_exec_step_info pre = g3_vk_exec_get_step_info(ex, 1);
        REQUIRE_VOID(g3_vk_exec_run(ex, 0, ids + 24, 24, true, &e) == G3_OK);
        memcpy(logits[split] + V, g3_vk_exec_logits(ex), (size_t)V * sizeof(float));
        const g3_vk_exec_step_info dec = g3_vk_exec_get_step_info(ex, 0);
        printf("%s: prefill step of %d tokens in %d submissions (%d segments, activations "
               "%.1f KiB), decode step in %d\n",
               split ? "one submission per layer" : "no budget (CPU device)", pre.n_tokens,
               pre.last_submissions, pre.n_segments, pre.activations / 1024.0,
               dec.last_submissions);
        CHECK(pre.n_segments == L && dec.n_segments == L, "one recording per layer");
        CHECK(pre.last_submissions == (split ? L : 1) && dec.last_submissions == (split ? L : 1),
              "submissions: %d and %d", pre.last_submissions, dec.last_submissions);
        g3_vk_exec_free(ex);
    }
    CHECK(!memcmp(logits[0], logits[1], 2 * (size_t)V * sizeof(float)),
          "split submissions give the same bits");
    free(logits[0]);
    free(logits[1]);
    g3_graph_free(&steps[0]);
    g3_graph_free(&steps[1]);
}

/* A deep, narrow synthetic model (70 layers: more recordings per step than one
 * submission groups) prefilled and decoded on the device, one submission per
 * layer, against the CPU reference. */
static void check_deep(void)
{
    char path[4096], err[700];
    test_build_path(path, sizeof(path), "test_vk_model_deep.gguf");
    g3_synth_result res;
    g3_err e = {0};
    REQUIRE_VOID(g3_synth_write(path,
                                &(g3_synth_options){.n_layer = 70, .n_vocab = 512, .n_embd = 64,
                                                    .n_ff = 128, .head_dim = 32,
                                                    .sliding_window = 8, .seed = 7},
                                &res, &e) == G3_OK);
    int32_t ids[20];
    for (int i = 0; i < 20; i++)
        ids[i] = 300 + (i * 37) % 200;
    float *out[2] = {NULL, NULL};
    for (int gpu = 0; gpu < 2; gpu++) {
        g3_model *m = NULL;
        g3_context *ctx = NULL;
        if (gpu)
            setenv("G3_VK_SUBMIT_BUDGET_MS", "-1", 1);
        REQUIRE_VOID(g3_model_load(path,
                                   &(g3_model_options){.backend = gpu ? G3_BACKEND_VULKAN
                                                                      : G3_BACKEND_CPU},
                                   &m, err, sizeof(err)) == G3_OK);
        REQUIRE_VOID(g3_context_create(m, &(g3_context_options){.n_ctx = 32, .kv_f32 = true},
                                       &ctx) == G3_OK);
        out[gpu] = malloc(2 * 512 * sizeof(float));
        REQUIRE_VOID(out[gpu]);
        CHECK(g3_context_eval(ctx, ids, 19, true) == G3_OK, "%s", g3_context_error(ctx));
        memcpy(out[gpu], g3_context_logits(ctx), 512 * sizeof(float));
        CHECK(g3_context_eval(ctx, ids + 19, 1, true) == G3_OK, "%s", g3_context_error(ctx));
        memcpy(out[gpu] + 512, g3_context_logits(ctx), 512 * sizeof(float));
        g3_context_free(ctx);
        g3_model_free(m);
        unsetenv("G3_VK_SUBMIT_BUDGET_MS");
    }
    const g3_logits_diff d = g3_logits_compare(out[1], out[0], 2, 512);
    printf("70 layers, one submission per layer: prefill + decode vs CPU max abs %.2e\n",
           d.max_abs);
    CHECK(d.max_abs < 2e-4 && d.top1_agree == 2, "70 layers: max abs %.3g", d.max_abs);
    free(out[0]);
    free(out[1]);
    remove(path);
}

int main(void)
{
    char err[700];
    g3_model *probe = NULL;
    if (g3_model_load("/nonexistent", &(g3_model_options){.backend = G3_BACKEND_VULKAN}, &probe,
                      err, sizeof(err)) == G3_ERR_NO_DEVICE) {
        printf("SKIPPED: no Vulkan device: %s\n", err);
        return TEST_SKIP;
    }
    const char *shared = test_shared_dir();
    if (!shared)
        return TEST_SKIP;
    static const char *const names[] = {"f32", "bf16", "q8_0", "q4_k_m", "iq4_nl"};
    for (size_t f = 0; f < sizeof(names) / sizeof(names[0]); f++) {
        char path[4096], ref_path[4096], dev[256];
        snprintf(path, sizeof(path), "%s/reference/mini-%s.gguf", shared, names[f]);
        snprintf(ref_path, sizeof(ref_path), "%s/reference/mini-%s.exact.logits", shared, names[f]);
        g3_err e = {0};
        g3_logits_file ref;
        REQUIRE(g3_logits_file_read(ref_path, false, &ref, &e) == G3_OK, "%s", e.msg);
        const int n = ref.n_prompt + ref.n_gen, V = ref.n_vocab;
        float *cpu32 = run(path, G3_BACKEND_CPU, false, false, 0, ref.ids, n, V, dev, sizeof(dev));
        float *cpu16 = run(path, G3_BACKEND_CPU, false, true, 0, ref.ids, n, V, dev, sizeof(dev));
        float *gpu32 = run(path, G3_BACKEND_VULKAN, true, false, 0, ref.ids, n, V, dev, sizeof(dev));
        float *gpu16 = run(path, G3_BACKEND_VULKAN, false, false, 0, ref.ids, n, V, dev, sizeof(dev));
        REQUIRE(cpu32 && cpu16 && gpu32 && gpu16, "mini-%s: all four runs", names[f]);
        /* Prefill: all positions in one pass (f32 and f16 KV), and in chunks of 64. */
        static const struct { int batch; bool f32; } pre[] = {{192, true}, {192, false},
                                                              {64, false}};
        for (size_t k = 0; k < sizeof(pre) / sizeof(pre[0]); k++) {
            float *gp = run(path, G3_BACKEND_VULKAN, pre[k].f32, false, pre[k].batch, ref.ids, n,
                            V, dev, sizeof(dev));
            REQUIRE(gp, "mini-%s: prefill run", names[f]);
            const g3_logits_diff d = g3_logits_compare(gp, pre[k].f32 ? cpu32 : cpu16, n, V);
            const double tol = pre[k].f32 ? 2e-4 : 2e-3;
            printf("mini-%-7s prefill steps of %d, %s KV: max abs %.2e top-1 %d/%d\n", names[f],
                   pre[k].batch, pre[k].f32 ? "f32" : "f16", d.max_abs, d.top1_agree, n);
            CHECK(d.max_abs < tol, "mini-%s prefill %d %s KV: max abs %.3g at position %d",
                  names[f], pre[k].batch, pre[k].f32 ? "f32" : "f16", d.max_abs, d.worst_row);
            CHECK(d.top1_agree == n, "mini-%s prefill %d: top-1 %d/%d", names[f], pre[k].batch,
                  d.top1_agree, n);
            free(gp);
        }
        const g3_logits_diff d32 = g3_logits_compare(gpu32, cpu32, n, V);
        const g3_logits_diff d16 = g3_logits_compare(gpu16, cpu16, n, V);
        const g3_logits_diff d16f = g3_logits_compare(gpu16, cpu32, n, V);
        printf("mini-%-7s on %s: f32 KV max abs %.2e top-1 %d/%d | f16 KV max abs %.2e top-1 "
               "%d/%d (vs f32 CPU %.2e)\n",
               names[f], dev, d32.max_abs, d32.top1_agree, n, d16.max_abs, d16.top1_agree, n,
               d16f.max_abs);
        CHECK(d32.max_abs < 2e-4, "mini-%s f32 KV: max abs %.3g at position %d", names[f],
              d32.max_abs, d32.worst_row);
        CHECK(d32.top1_agree == n, "mini-%s f32 KV: top-1 %d/%d", names[f], d32.top1_agree, n);
        CHECK(d16.max_abs < 2e-3, "mini-%s f16 KV: max abs %.3g at position %d", names[f],
              d16.max_abs, d16.worst_row);
        CHECK(d16.top1_agree == n, "mini-%s f16 KV: top-1 %d/%d", names[f], d16.top1_agree, n);
        CHECK(d16f.max_abs < 2e-3, "mini-%s f16 KV vs f32 CPU: %.3g", names[f], d16f.max_abs);
        if (!strcmp(names[f], "q8_0"))
            check_slow_gpu(path, ref.ids, n, V, cpu16);
        free(cpu32);
        free(cpu16);
        free(gpu32);
        free(gpu16);
        g3_logits_file_free(&ref);
    }
    /* g3vk diff: every op within budget over 70 positions (the 64-position window
     * wraps), with both KV cache types. */
    char path[4096], ref_path[4096];
    snprintf(path, sizeof(path), "%s/reference/mini-q4_k_m.gguf", shared);
    snprintf(ref_path, sizeof(ref_path), "%s/reference/mini-q4_k_m.logits", shared);
    g3_err e = {0};
    g3_logits_file ref;
    REQUIRE(g3_logits_file_read(ref_path, false, &ref, &e) == G3_OK, "%s", e.msg);
    g3_model *m = NULL;
    REQUIRE(g3_model_load(path, &(g3_model_options){.backend = G3_BACKEND_CPU}, &m, err,
                          sizeof(err)) == G3_OK,
            "%s", err);
    /* Decode steps with both KV types, then prefill steps: 70 tokens in one step,
     * and steps of 16 (the last 6 positions left out), chunks starting mid-context. */
    static const struct { int f32, batch, positions; } dc[] = {
        {0, 1, 70}, {1, 1, 70}, {0, 70, 70}, {1, 16, 64}};
    for (size_t c = 0; c < sizeof(dc) / sizeof(dc[0]); c++) {
        const int f32 = dc[c].f32;
        g3_diff_report rep;
        REQUIRE(g3_diff_run(m, ref.ids, 70,
                            &(g3_diff_options){.kv_f32 = f32, .batch = dc[c].batch}, &rep,
                            &e) == G3_OK,
                "diff: %s", e.msg);
        double worst = 0;
        for (int k = 0; k < rep.n_rows; k++)
            worst = rep.rows[k].nmse / rep.rows[k].tol > worst ? rep.rows[k].nmse / rep.rows[k].tol
                                                               : worst;
        printf("diff, %s KV, steps of %d: %d tensors x %d positions, %d over budget, worst "
               "NMSE/budget %.3f\n",
               f32 ? "f32" : "f16", dc[c].batch, rep.n_rows, rep.n_positions, rep.n_over, worst);
        CHECK(rep.n_rows == 37 && rep.n_positions == dc[c].positions, "diff covered every tensor");
        CHECK(rep.n_over == 0 && rep.first_over < 0, "diff: %d tensors over budget, first %s",
              rep.n_over,
              rep.first_over >= 0 ? rep.graph.tensors[rep.rows[rep.first_over].tensor].name : "-");
        g3_diff_report_free(&rep);
    }
    check_submissions(m, ref.ids);
    check_deep();
    g3_model_free(m);
    g3_logits_file_free(&ref);
    CHECK(g3_vk_validation_total() == 0, "%u Vulkan validation messages",
          g3_vk_validation_total());
    return test_finish("test_vk_model");
}
