/* cli_info.c: `g3vk info -m FILE`: hyperparameters, tensor types, sizes. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "cli_util.h"
#include "engine.h"
#include "quant.h"

static int usage(FILE *f)
{
    fprintf(f, "usage: g3vk info -m MODEL.gguf\n"
               "  Prints the model's hyperparameters, its tensor types with counts and bytes,\n"
               "  and the totals; or the reason the file cannot be used.\n");
    return f == stdout ? 0 : 2;
}

int g3_cli_info(int argc, char **argv)
{
    const char *path = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
            return usage(stdout);
        if (!strcmp(argv[i], "-m") || !strcmp(argv[i], "--model")) {
            if (!(path = g3_cli_value(argc, argv, &i)))
                return 2;
        } else {
            fprintf(stderr, "g3vk info: unknown option '%s'\n", argv[i]);
            return usage(stderr);
        }
    }
    if (!path) {
        fprintf(stderr, "g3vk info: no model given: pass -m MODEL.gguf\n");
        return 2;
    }
    char err[600];
    g3_model *m = NULL;
    g3_status st = g3_model_load(path, &(g3_model_options){.backend = G3_BACKEND_CPU, .n_threads = 1},
                                 &m, err, sizeof(err));
    if (st != G3_OK) {
        fprintf(stderr, "g3vk info: %s\n", err);
        return 1;
    }
    const g3_model_info *in = g3_model_get_info(m);
    const g3_gguf *g = m->gguf;
    char b1[32];
    printf("file:            %s (GGUF v%u, %llu tensors, %llu metadata keys)\n", path,
           g->version, (unsigned long long)g->n_tensors, (unsigned long long)g->n_kv);
    printf("architecture:    %s%s%s\n", in->arch, in->name[0] ? ", " : "", in->name);
    printf("vocabulary:      %d\n", in->n_vocab);
    printf("hidden:          %d\n", in->n_embd);
    printf("layers:          %d (", in->n_layer);
    for (int l = 0, first = 1; l < in->n_layer; l++)
        if (m->desc.layers[l].is_global) {
            printf("%s%d", first ? "global: " : ", ", l);
            first = 0;
        }
    printf("; the rest sliding)\n");
    printf("feed-forward:    %d\n", in->n_ff);
    printf("heads:           %d query, %d KV, head dim %d\n", in->n_head, in->n_head_kv,
           in->head_dim);
    printf("context:         %d (sliding window %d, pattern %d)\n", in->n_ctx_train,
           in->sliding_window, in->swa_pattern);
    printf("rope base:       %g global, %g sliding", in->rope_base, in->rope_base_swa);
    if (m->desc.rope_freq_scale != 1.0f)
        printf(", linear scaling x%g on global layers", 1.0 / m->desc.rope_freq_scale);
    printf("\nrms eps:         %g\n", in->rms_eps);
    printf("query scale:     1/sqrt(%g)\n", 1.0 / ((double)in->query_scale * in->query_scale));
    printf("LM head:         %s\n", in->tied_output ? "tied to token_embd" : "output.weight");

    printf("\n| type   | tensors |   parameters |        bytes |\n"
           "|--------|--------:|-------------:|-------------:|\n");
    for (uint32_t t = 0; t < G3_TYPE_COUNT; t++) {
        unsigned long long n = 0, params = 0, bytes = 0;
        for (uint64_t i = 0; i < g->n_tensors; i++)
            if (g->tensors[i].type == t) {
                n++;
                params += g->tensors[i].n_elems;
                bytes += g->tensors[i].n_bytes;
            }
        if (n)
            printf("| %-6s | %7llu | %12llu | %12s |\n", g3_type_name(t), n, params,
                   g3_cli_bytes(bytes, b1, sizeof(b1)));
    }
    printf("| total  | %7llu | %12llu | %12s |\n", (unsigned long long)g->n_tensors,
           (unsigned long long)in->n_params, g3_cli_bytes(in->n_bytes, b1, sizeof(b1)));
    g3_model_free(m);
    return 0;
}
