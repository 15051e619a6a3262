/* test_ref_mini: the CPU reference against shared/reference: for every
 * mini-*.gguf, the logits of all 192 positions (teacher forcing) must be within
 * 5e-3 of the exact fp64 computation with the same top-1 everywhere, and as
 * close to llama.cpp's logits as the reference README says llama.cpp is to the
 * exact ones. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "g3.h"
#include "logits_file.h"
#include "test.h"

static const struct {
    const char *name;
    double llama_max_abs; /* README: llama.cpp vs exact */
    double llama_top1;    /* README: fraction           */
} files[] = {
    {"f32", 0.0012, 1.000},   {"bf16", 0.024, 0.984},    {"q8_0", 0.074, 0.958},
    {"q4_k_m", 0.094, 0.963}, {"iq4_nl", 0.076, 0.990},
};

int main(void)
{
    const char *shared = test_shared_dir();
    if (!shared)
        return TEST_SKIP;
    for (size_t f = 0; f < sizeof(files) / sizeof(files[0]); f++) {
        char path[4096], exact_path[4096], llama_path[4096], err[600];
        snprintf(path, sizeof(path), "%s/reference/mini-%s.gguf", shared, files[f].name);
        snprintf(exact_path, sizeof(exact_path), "%s/reference/mini-%s.exact.logits", shared,
                 files[f].name);
        snprintf(llama_path, sizeof(llama_path), "%s/reference/mini-%s.logits", shared,
                 files[f].name);
        g3_err e = {0};
        g3_logits_file exact, llama;
        REQUIRE(g3_logits_file_read(exact_path, true, &exact, &e) == G3_OK, "%s", e.msg);
        REQUIRE(g3_logits_file_read(llama_path, true, &llama, &e) == G3_OK, "%s", e.msg);
        const int n = exact.n_prompt + exact.n_gen;
        CHECK(n == 192 && llama.n_prompt + llama.n_gen == n, "sequence length %d", n);
        CHECK(!memcmp(exact.ids, llama.ids, (size_t)n * sizeof(int32_t)), "same token ids");

        g3_model *m = NULL;
        g3_status st = g3_model_load(path, &(g3_model_options){.backend = G3_BACKEND_CPU}, &m,
                                     err, sizeof(err));
        REQUIRE(st == G3_OK, "%s", err);
        const g3_model_info *in = g3_model_get_info(m);
        CHECK(in->n_vocab == exact.n_vocab && in->n_layer == 2 && in->sliding_window == 64 &&
                  in->swa_pattern == 2 && in->tied_output,
              "hparams of %s", files[f].name);
        g3_context *ctx = NULL;
        REQUIRE(g3_context_create(m, &(g3_context_options){.n_ctx = n}, &ctx) == G3_OK,
                "context");
        float *got = malloc((size_t)n * (size_t)exact.n_vocab * sizeof(float));
        REQUIRE(got, "oom");
        for (int i = 0; i < n; i++) {
            REQUIRE(g3_context_eval(ctx, &exact.ids[i], 1, true) == G3_OK, "eval %d: %s", i,
                    g3_context_error(ctx));
            memcpy(got + (size_t)i * exact.n_vocab, g3_context_logits(ctx),
                   (size_t)exact.n_vocab * sizeof(float));
        }
        g3_logits_diff de = g3_logits_compare(got, exact.logits, n, exact.n_vocab);
        g3_logits_diff dl = g3_logits_compare(got, llama.logits, n, exact.n_vocab);
        g3_logits_diff dle = g3_logits_compare(llama.logits, exact.logits, n, exact.n_vocab);
        printf("mini-%-7s vs exact: max abs %.6f top-1 %d/%d KL %.2e | vs llama.cpp: max abs "
               "%.6f top-1 %d/%d KL %.2e | llama.cpp vs exact: %.6f %d/%d\n",
               files[f].name, de.max_abs, de.top1_agree, n, de.mean_kl, dl.max_abs,
               dl.top1_agree, n, dl.mean_kl, dle.max_abs, dle.top1_agree, n);
        CHECK(de.max_abs < 5e-3, "mini-%s: max abs diff to exact %.6f (position %d)",
              files[f].name, de.max_abs, de.worst_row);
        CHECK(de.top1_agree == n, "mini-%s: top-1 agrees at %d of %d positions", files[f].name,
              de.top1_agree, n);
        /* As close to llama.cpp as llama.cpp is to the exact result (the README's figure,
         * rounded there to two digits, plus our own distance to exact), and top-1
         * agreement at least the README's. */
        CHECK(dl.max_abs <= 1.05 * files[f].llama_max_abs + de.max_abs,
              "mini-%s: max abs diff to llama.cpp %.6f > %.4f", files[f].name, dl.max_abs,
              files[f].llama_max_abs);
        CHECK(dl.top1_agree >= (int)floor(files[f].llama_top1 * n + 1e-9),
              "mini-%s: top-1 agreement with llama.cpp %d/%d", files[f].name, dl.top1_agree, n);
        free(got);
        g3_context_free(ctx);
        g3_model_free(m);
        g3_logits_file_free(&exact);
        g3_logits_file_free(&llama);
    }
    return test_finish("test_ref_mini");
}
