/* cli_diff.c: `g3vk diff`: every op of every layer, Vulkan against the CPU
 * reference, for the same tokens. Exits 1 when any op is over its budget. */
#include <string.h>

#include "cli.h"
#include "cli_util.h"
#include "diff.h"
#include "logits_file.h"

static int usage(FILE *f)
{
    fprintf(f, "usage: g3vk diff -m MODEL.gguf [-p PROMPT | --ref REF.logits] [-n N]\n"
               "                 [--cache-type f16|f32] [--device N] [--all] [-b N]\n"
               "  Runs the same tokens through the CPU reference and the Vulkan backend one\n"
               "  step at a time and prints, for every op of every layer, the max abs error\n"
               "  and the NMSE against the CPU (worst position), marking the first op over\n"
               "  its budget. --all prints every tensor (default: one line per op kind and\n"
               "  layer range, plus everything over budget). Exit status 1 when an op is\n"
               "  over its budget. -n caps the positions (default 32). -b N: steps of N\n"
               "  tokens (prefill: matrix-matrix products, flash attention; default 1, the\n"
               "  decode step); positions after the last whole step are left out.\n");
    return f == stdout ? 0 : 2;
}

int g3_cli_diff(int argc, char **argv)
{
    const char *model_path = NULL, *prompt = NULL, *ref_path = NULL;
    long long n_max = 32, device = 0, batch = 1;
    bool kv_f32 = false, all = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help"))
            return usage(stdout);
        if (!strcmp(a, "--all")) {
            all = true;
            continue;
        }
        if (strcmp(a, "-m") && strcmp(a, "--model") && strcmp(a, "-p") && strcmp(a, "--prompt") &&
            strcmp(a, "--ref") && strcmp(a, "-n") && strcmp(a, "--cache-type") &&
            strcmp(a, "--device") && strcmp(a, "-b") && strcmp(a, "--batch-size")) {
            fprintf(stderr, "g3vk diff: unknown option '%s'\n", a);
            return usage(stderr);
        }
        if (!(v = g3_cli_value(argc, argv, &i)))
            return 2;
        if (!strcmp(a, "-m") || !strcmp(a, "--model"))
            model_path = v;
        else if (!strcmp(a, "-p") || !strcmp(a, "--prompt"))
            prompt = v;
        else if (!strcmp(a, "--ref"))
            ref_path = v;
        else if (!strcmp(a, "-n") && !g3_cli_int(a, v, 1, 1 << 20, &n_max))
            return 2;
        else if (!strcmp(a, "--device") && !g3_cli_int(a, v, 0, 64, &device))
            return 2;
        else if ((!strcmp(a, "-b") || !strcmp(a, "--batch-size")) &&
                 !g3_cli_int(a, v, 1, 1 << 16, &batch))
            return 2;
        else if (!strcmp(a, "--cache-type")) {
            if (strcmp(v, "f16") && strcmp(v, "f32")) {
                fprintf(stderr, "g3vk diff: --cache-type expects f16 or f32, got '%s'\n", v);
                return 2;
            }
            kv_f32 = !strcmp(v, "f32");
        }
    }
    if (!model_path) {
        fprintf(stderr, "g3vk diff: no model given: pass -m MODEL.gguf\n");
        return 2;
    }
    char msg[700];
    g3_model *m = NULL;
    if (g3_model_load(model_path, &(g3_model_options){.backend = G3_BACKEND_CPU}, &m, msg,
                      sizeof(msg)) != G3_OK) {
        fprintf(stderr, "g3vk diff: %s\n", msg);
        return 1;
    }
    int rc = 1;
    int32_t *ids = NULL;
    int n = 0;
    g3_err err = {0};
    g3_diff_report rep = {0};
    if (ref_path) {
        g3_logits_file lf;
        if (g3_logits_file_read(ref_path, false, &lf, &err) != G3_OK) {
            fprintf(stderr, "g3vk diff: %s\n", err.msg);
            goto done;
        }
        n = lf.n_prompt + lf.n_gen;
        const int ref_vocab = lf.n_vocab;
        ids = lf.ids;
        lf.ids = NULL;
        g3_logits_file_free(&lf);
        if (ref_vocab != g3_model_get_info(m)->n_vocab) {
            fprintf(stderr, "g3vk diff: %s is for a %d-token vocabulary, the model has %d\n",
                    ref_path, ref_vocab, g3_model_get_info(m)->n_vocab);
            goto done;
        }
    } else {
        const char *text = prompt ? prompt : "The quick brown fox jumps over the lazy dog.";
        n = g3_tokenize(m, text, strlen(text), true, false, NULL, 0);
        if (n <= 0 || !(ids = malloc((size_t)n * sizeof(*ids))) ||
            g3_tokenize(m, text, strlen(text), true, false, ids, n) != n) {
            fprintf(stderr, "g3vk diff: cannot tokenize the prompt (%s): pass --ref FILE\n",
                    n < 0 ? g3_status_string((g3_status)n) : "no tokens");
            goto done;
        }
    }
    if (n > n_max)
        n = (int)n_max;
    if (g3_diff_run(m, ids, n, &(g3_diff_options){.kv_f32 = kv_f32, .device = (int)device,
                                           .batch = (int)batch}, &rep,
                    &err) != G3_OK) {
        fprintf(stderr, "g3vk diff: %s\n", err.msg);
        goto done;
    }
    printf("%s vs CPU reference, %d positions in steps of %d tokens, %s KV cache\n\n",
           rep.device, rep.n_positions, rep.graph.n_tokens, kv_f32 ? "f32" : "f16");
    printf("| tensor               | op       |   max abs |      NMSE |    budget | worst pos |\n"
           "|----------------------|----------|----------:|----------:|----------:|----------:|\n");
    for (int k = 0; k < rep.n_rows; k++) {
        const g3_diff_row *row = &rep.rows[k];
        const char *name = rep.graph.tensors[row->tensor].name;
        /* Without --all: the first two layers, the last one, the head, and what is over. */
        const int n_layer = g3_model_get_info(m)->n_layer;
        int l = -1;
        sscanf(name, "blk.%d.", &l);
        if (!all && !row->over && l >= 2 && l != n_layer - 1)
            continue;
        printf("| %-20s | %-8s | %9.2e | %9.2e | %9.1e | %9d |%s\n", name, g3_op_name(row->op),
               row->max_abs, row->nmse, row->tol, row->worst_pos,
               k == rep.first_over ? "  <- first over budget" : row->over ? "  over" : "");
    }
    if (rep.n_over) {
        printf("\n%d of %d tensors over budget; the first is %s (%s)\n", rep.n_over, rep.n_rows,
               rep.graph.tensors[rep.rows[rep.first_over].tensor].name,
               g3_op_name(rep.rows[rep.first_over].op));
    } else {
        printf("\nall %d tensors within budget\n", rep.n_rows);
        rc = 0;
    }
done:
    g3_diff_report_free(&rep);
    free(ids);
    g3_model_free(m);
    return rc;
}
