/* test_full_synth: a full-size synthetic Gemma 3 270M (18 layers, 262144-token
 * vocabulary, Q8_0 as llama.cpp's preset) written by g3_synth_write, loaded and
 * run on the CPU reference through a 600-token prompt (the 512-position sliding
 * window wraps): logits stay finite, and a second run gives identical bits.
 * Then the same prompt on the Vulkan device (lavapipe in CI: its 170 MiB Q8_0
 * LM head split across two bindings), f32 KV cache: logits within 2e-4 of the
 * CPU reference with the same top-1 at every checkpoint. Last, prefill: a
 * 1000-token prompt in prefill chunks (512 + 7 x 64 + 5 x 8 tokens) gives the
 * logits of token-by-token decoding at the last position (f16 KV, within 2e-3)
 * and the same 8 greedy tokens after it. */
#include <math.h>
#include <stdlib.h>

#include "g3.h"
#include "synth.h"
#include "test.h"
#include "vk.h"

enum { N_PROMPT = 600, N_LONG = 1000, N_GREEDY = 8 };

static int argmax(const float *x, int n)
{
    int best = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[best])
            best = i;
    return best;
}
static const int checkpoints[] = {0, 255, 510, 511, 512, 513, 599};

/* Runs the prompt, copying the logits at each checkpoint into out. */
static bool run(g3_context *ctx, const int32_t *ids, int n_vocab, float *out)
{
    g3_context_reset(ctx);
    int c = 0;
    for (int i = 0; i < N_PROMPT; i++) {
        const bool want = c < (int)(sizeof(checkpoints) / sizeof(checkpoints[0])) &&
                          checkpoints[c] == i;
        if (g3_context_eval(ctx, &ids[i], 1, want) != G3_OK) {
            fprintf(stderr, "eval %d: %s\n", i, g3_context_error(ctx));
            return false;
        }
        if (want)
            memcpy(out + (size_t)c++ * n_vocab, g3_context_logits(ctx),
                   (size_t)n_vocab * sizeof(float));
    }
    return true;
}

/* The N_LONG-token prompt with prefill steps of up to n_batch tokens, then
 * N_GREEDY greedy steps: the last prompt position's logits into logits, the
 * greedy tokens into out. */
static bool run_long(g3_model *m, int n_batch, const int32_t *ids, int n_vocab, float *logits,
                     int32_t *out, double *secs)
{
    g3_context *ctx = NULL;
    if (g3_context_create(m, &(g3_context_options){.n_ctx = N_LONG + N_GREEDY, .n_batch = n_batch},
                          &ctx) != G3_OK) {
        fprintf(stderr, "context: %s\n", g3_model_last_error(m));
        return false;
    }
    const double t0 = g3_time_s();
    bool ok = g3_context_eval(ctx, ids, N_LONG, true) == G3_OK;
    *secs = g3_time_s() - t0;
    if (ok)
        memcpy(logits, g3_context_logits(ctx), (size_t)n_vocab * sizeof(float));
    for (int i = 0; i < N_GREEDY && ok; i++) {
        out[i] = argmax(g3_context_logits(ctx), n_vocab);
        ok = g3_context_eval(ctx, &out[i], 1, true) == G3_OK;
    }
    if (!ok)
        fprintf(stderr, "eval: %s\n", g3_context_error(ctx));
    g3_context_free(ctx);
    return ok;
}

int main(void)
{
    char path[4096];
    test_build_path(path, sizeof(path), "synth-270m-q8_0.gguf");
    const char *tok = getenv("G3_TOKENIZER_JSON");
    FILE *tf = tok ? fopen(tok, "rb") : NULL;
    if (tf)
        fclose(tf);
    else
        printf("note: G3_TOKENIZER_JSON not readable: using the synthetic vocabulary\n");
    g3_err err = {0};
    g3_synth_result res;
    g3_status st = g3_synth_write(
        path, &(g3_synth_options){.preset = G3_SYNTH_Q8_0, .seed = 1, .tokenizer_json = tf ? tok : NULL},
        &res, &err);
    REQUIRE(st == G3_OK, "synth: %s", err.msg);
    printf("wrote %s: %.1f MiB in %.1f s\n", path, res.file_bytes / 1048576.0, res.seconds);

    char msg[600];
    g3_model *m = NULL;
    REQUIRE(g3_model_load(path, &(g3_model_options){.backend = G3_BACKEND_CPU}, &m, msg,
                          sizeof(msg)) == G3_OK,
            "load: %s", msg);
    const g3_model_info *in = g3_model_get_info(m);
    CHECK(in->n_layer == 18 && in->n_vocab == 262144 && in->n_embd == 640 && in->n_ff == 2048 &&
              in->n_head == 4 && in->n_head_kv == 1 && in->head_dim == 256 &&
              in->sliding_window == 512 && in->swa_pattern == 6 && in->tied_output,
          "270M shape");

    g3_context *ctx = NULL;
    REQUIRE(g3_context_create(m, &(g3_context_options){.n_ctx = 1024}, &ctx) == G3_OK, "ctx");
    int32_t ids[N_LONG];
    uint32_t s = 12345;
    ids[0] = 2; /* <bos> */
    for (int i = 1; i < N_LONG; i++) {
        s = s * 1664525u + 1013904223u;
        ids[i] = 300 + (int32_t)(s >> 8) % 20000;
    }
    const int nc = (int)(sizeof(checkpoints) / sizeof(checkpoints[0]));
    float *a = malloc((size_t)nc * in->n_vocab * sizeof(float));
    float *b = malloc((size_t)nc * in->n_vocab * sizeof(float));
    REQUIRE(a && b, "oom");
    const double t0 = g3_time_s();
    REQUIRE(run(ctx, ids, in->n_vocab, a), "first run");
    const double t1 = g3_time_s();
    REQUIRE(run(ctx, ids, in->n_vocab, b), "second run");
    printf("%d-token prompt: %.1f s per run (%.1f tokens/s, logits at %d positions)\n", N_PROMPT,
           t1 - t0, N_PROMPT / (t1 - t0), nc);

    for (int c = 0; c < nc; c++) {
        const float *l = a + (size_t)c * in->n_vocab;
        int bad = 0;
        double ss = 0;
        for (int v = 0; v < in->n_vocab; v++) {
            bad += !isfinite(l[v]);
            ss += (double)l[v] * l[v];
        }
        const double rms = sqrt(ss / in->n_vocab);
        CHECK(bad == 0, "position %d: %d non-finite logits", checkpoints[c], bad);
        CHECK(rms > 1e-3 && rms < 100, "position %d: logit rms %g", checkpoints[c], rms);
        printf("position %3d: logit rms %.4f, argmax %d\n", checkpoints[c], rms,
               argmax(l, in->n_vocab));
    }
    CHECK(!memcmp(a, b, (size_t)nc * in->n_vocab * sizeof(float)),
          "two runs give identical logits");

    /* The same prompt on the GPU. */
    g3_model *gm = NULL;
    g3_context *gctx = NULL;
    const g3_status gst = g3_model_load(path, &(g3_model_options){.backend = G3_BACKEND_VULKAN},
                                        &gm, msg, sizeof(msg));
    if (gst == G3_ERR_NO_DEVICE) {
        printf("SKIPPED (GPU part): no Vulkan device: %s\n", msg);
    } else {
        REQUIRE(gst == G3_OK, "Vulkan load: %s", msg);
        REQUIRE(g3_context_create(gm, &(g3_context_options){.n_ctx = 1024, .kv_f32 = true},
                                  &gctx) == G3_OK,
                "Vulkan context: %s", g3_model_last_error(gm));
        const g3_context_memory mem = g3_context_get_memory(gctx);
        printf("on %s: weights %.1f MiB, KV %.1f MiB, activations %.1f KiB\n",
               g3_model_get_info(gm)->device, mem.weights / 1048576.0, mem.kv_cache / 1048576.0,
               mem.activations / 1024.0);
        const double g0 = g3_time_s();
        REQUIRE(run(gctx, ids, in->n_vocab, b), "GPU run");
        printf("GPU: %.1f s for %d tokens\n", g3_time_s() - g0, N_PROMPT);
        for (int c = 0; c < nc; c++) {
            const float *x = a + (size_t)c * in->n_vocab, *y = b + (size_t)c * in->n_vocab;
            double worst = 0;
            for (int v = 0; v < in->n_vocab; v++) {
                const double d = fabs((double)x[v] - y[v]);
                worst = d > worst || d != d ? d : worst;
            }
            printf("position %3d: GPU vs CPU max abs %.2e, argmax %d vs %d\n", checkpoints[c],
                   worst, argmax(y, in->n_vocab), argmax(x, in->n_vocab));
            CHECK(worst < 2e-4, "position %d: GPU vs CPU max abs %.3g", checkpoints[c], worst);
            CHECK(argmax(x, in->n_vocab) == argmax(y, in->n_vocab), "position %d: same top-1",
                  checkpoints[c]);
        }
        g3_context_free(gctx);
        /* Prefill in chunks against token-by-token decoding (a and b are free now). */
        int32_t ta[N_GREEDY], tb[N_GREEDY];
        double sa = 0, sb = 0;
        REQUIRE(run_long(gm, 0, ids, in->n_vocab, a, ta, &sa), "prefill run");
        REQUIRE(run_long(gm, 1, ids, in->n_vocab, b, tb, &sb), "token-by-token run");
        double worst = 0;
        for (int v = 0; v < in->n_vocab; v++) {
            const double d = fabs((double)a[v] - b[v]);
            worst = d > worst || d != d ? d : worst;
        }
        printf("%d-token prompt: prefill %.1f s (%.1f tokens/s), token by token %.1f s (%.1f "
               "tokens/s); last position max abs %.2e; greedy %d %d %d ... vs %d %d %d ...\n",
               N_LONG, sa, N_LONG / sa, sb, N_LONG / sb, worst, ta[0], ta[1], ta[2], tb[0], tb[1],
               tb[2]);
        CHECK(worst < 2e-3, "prefill vs decode at position %d: max abs %.3g", N_LONG - 1, worst);
        CHECK(!memcmp(ta, tb, sizeof(ta)), "the %d greedy tokens after the prompt match",
              N_GREEDY);
        g3_model_free(gm);
    }
    CHECK(memcmp(a + (size_t)(nc - 1) * in->n_vocab, a + (size_t)(nc - 2) * in->n_vocab,
                 (size_t)in->n_vocab * sizeof(float)),
          "positions differ");
    free(a);
    free(b);
    g3_context_free(ctx);
    g3_model_free(m);
    remove(path);
    CHECK(g3_vk_validation_total() == 0, "%u Vulkan validation messages",
          g3_vk_validation_total());
    return test_finish("test_full_synth");
}
