/* cli_logits.c: `g3vk logits`: feeds a reference file's token sequence
 * through the model (teacher forcing) and writes the logits of every position
 * in the same format, then says how they compare with the reference's own. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "cli_util.h"
#include "logits_file.h"

static int usage(FILE *f)
{
    fprintf(f,
            "usage: g3vk logits -m MODEL.gguf --ref REF.logits [--out OUT.logits]\n"
            "                   [--backend cpu|vulkan|auto] [--device N] [-t THREADS]\n"
            "                   [--cache-type f16|f32] [-b N]\n"
            "  Reads the token sequence (prompt ++ generated) from REF.logits, computes the\n"
            "  logits after every position, writes them to OUT.logits in the same format and\n"
            "  prints max abs difference, top-1 agreement and mean KL against REF.\n"
            "  --cache-type: the KV cache element type on Vulkan (default f16; the CPU\n"
            "  reference keeps f32 unless f16 is asked for, then it rounds the same way).\n"
            "  -b, --batch-size: tokens per prefill step on Vulkan (default 512; 1 feeds\n"
            "  one token per step, as decoding does).\n");
    return f == stdout ? 0 : 2;
}

int g3_cli_logits(int argc, char **argv)
{
    const char *model_path = NULL, *ref_path = NULL, *out_path = NULL;
    g3_backend backend = G3_BACKEND_AUTO;
    long long threads = 0, device = 0, batch = 0;
    int kv_type = 0; /* 0 default, 16, 32 */
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help"))
            return usage(stdout);
        if (!strcmp(a, "-m") || !strcmp(a, "--model") || !strcmp(a, "--ref") ||
            !strcmp(a, "--out") || !strcmp(a, "--backend") || !strcmp(a, "-t") ||
            !strcmp(a, "--threads") || !strcmp(a, "--device") || !strcmp(a, "--cache-type") ||
            !strcmp(a, "-ctk") || !strcmp(a, "-ctv") || !strcmp(a, "-b") ||
            !strcmp(a, "--batch-size")) {
            if (!(v = g3_cli_value(argc, argv, &i)))
                return 2;
        } else {
            fprintf(stderr, "g3vk logits: unknown option '%s'\n", a);
            return usage(stderr);
        }
        if (!strcmp(a, "-m") || !strcmp(a, "--model"))
            model_path = v;
        else if (!strcmp(a, "--ref"))
            ref_path = v;
        else if (!strcmp(a, "--out"))
            out_path = v;
        else if (!strcmp(a, "--backend") && !g3_cli_backend(v, &backend))
            return 2;
        else if ((!strcmp(a, "-t") || !strcmp(a, "--threads")) &&
                 !g3_cli_int(a, v, 1, 1024, &threads))
            return 2;
        else if (!strcmp(a, "--device") && !g3_cli_int(a, v, 0, 64, &device))
            return 2;
        else if ((!strcmp(a, "-b") || !strcmp(a, "--batch-size")) &&
                 !g3_cli_int(a, v, 1, 1 << 16, &batch))
            return 2;
        else if (!strcmp(a, "--cache-type") || !strcmp(a, "-ctk") || !strcmp(a, "-ctv")) {
            if (!strcmp(v, "f16"))
                kv_type = 16;
            else if (!strcmp(v, "f32"))
                kv_type = 32;
            else {
                fprintf(stderr, "g3vk logits: %s expects f16 or f32, got '%s'\n", a, v);
                return 2;
            }
        }
    }
    if (!model_path || !ref_path) {
        fprintf(stderr, "g3vk logits: pass -m MODEL.gguf and --ref REF.logits\n");
        return 2;
    }

    g3_err err = {0};
    g3_logits_file ref;
    if (g3_logits_file_read(ref_path, true, &ref, &err) != G3_OK) {
        fprintf(stderr, "g3vk logits: %s\n", err.msg);
        return 1;
    }
    int rc = 1;
    char msg[600];
    g3_model *m = NULL;
    g3_context *ctx = NULL;
    g3_logits_file out = {0};
    const int n = ref.n_prompt + ref.n_gen;
    if (g3_model_load(model_path,
                      &(g3_model_options){.backend = backend, .n_threads = (int)threads,
                                          .device = (int)device},
                      &m, msg,
                      sizeof(msg)) != G3_OK) {
        fprintf(stderr, "g3vk logits: %s\n", msg);
        goto done;
    }
    const g3_model_info *in = g3_model_get_info(m);
    if (in->n_vocab != ref.n_vocab) {
        fprintf(stderr, "g3vk logits: %s has a %d-token vocabulary but %s has %d\n", model_path,
                in->n_vocab, ref_path, ref.n_vocab);
        goto done;
    }
    const g3_context_options co = {.n_ctx = n, .kv_f32 = kv_type == 32, .kv_f16 = kv_type == 16,
                                   .n_batch = (int)batch};
    if (g3_context_create(m, &co, &ctx) != G3_OK) {
        fprintf(stderr, "g3vk logits: cannot create a context of %d positions: %s\n", n,
                g3_model_last_error(m));
        goto done;
    }
    if (in->backend_note[0])
        fprintf(stderr, "g3vk logits: %s\n", in->backend_note);
    out = (g3_logits_file){.n_vocab = ref.n_vocab, .n_prompt = ref.n_prompt, .n_gen = ref.n_gen,
                           .ids = ref.ids,
                           .logits = malloc((size_t)n * (size_t)ref.n_vocab * sizeof(float))};
    if (!out.logits) {
        fprintf(stderr, "g3vk logits: out of memory for %d x %d logits\n", n, ref.n_vocab);
        goto done;
    }
    const double t0 = g3_time_s();
    if (g3_context_eval_all(ctx, ref.ids, n, out.logits) != G3_OK) {
        fprintf(stderr, "g3vk logits: %s\n", g3_context_error(ctx));
        goto done;
    }
    const double dt = g3_time_s() - t0;
    if (out_path && g3_logits_file_write(out_path, &out, &err) != G3_OK) {
        fprintf(stderr, "g3vk logits: %s\n", err.msg);
        goto done;
    }
    g3_logits_diff d = g3_logits_compare(out.logits, ref.logits, n, ref.n_vocab);
    printf("%d positions in %.2f s (%.1f tokens/s)\n", n, dt, n / dt);
    printf("vs %s: max abs diff %.6f (position %d), top-1 agreement %d/%d (%.1f%%), "
           "mean KL %.3g\n",
           ref_path, d.max_abs, d.worst_row, d.top1_agree, n, 100.0 * d.top1_agree / n,
           d.mean_kl);
    rc = 0;
done:
    free(out.logits);
    g3_context_free(ctx);
    g3_model_free(m);
    g3_logits_file_free(&ref);
    return rc;
}
