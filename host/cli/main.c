/* main.c: the g3vk command line: dispatches to one file per subcommand. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "vk.h"

static const struct {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *help;
} commands[] = {
    {"run", g3_cli_run, "answer one prompt, streaming the reply"},
    {"chat", g3_cli_chat, "an interactive conversation"},
    {"info", g3_cli_info, "print a model file's hyperparameters and tensor types"},
    {"devices", g3_cli_devices, "list Vulkan devices and their properties"},
    {"synth", g3_cli_synth, "write a synthetic Gemma 3 GGUF with seeded random weights"},
    {"logits", g3_cli_logits, "compute logits for a reference token sequence"},
    {"diff", g3_cli_diff, "compare every op of the Vulkan backend with the CPU reference"},
    {"tokenize", g3_cli_tokenize, "text (JSON lines) -> token ids"},
    {"detokenize", g3_cli_detokenize, "token ids (JSON lines) -> text"},
    {"bench", g3_cli_bench, "measure prefill and decode speed (llama-bench style)"},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: g3vk COMMAND [options]   (g3vk COMMAND --help for its options)\n\n");
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].help);
}

int main(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (!strcmp(argv[1], commands[i].name)) {
            int rc = commands[i].fn(argc - 1, argv + 1);
            /* With the validation layer on (G3_VK_VALIDATION=1), any message fails the
             * run: that is how scripted GPU tests see them. */
            const unsigned n = g3_vk_validation_total();
            if (n) {
                fprintf(stderr, "g3vk: %u Vulkan validation message(s) (printed above)\n", n);
                if (rc == 0)
                    rc = 1;
            }
            return rc;
        }
    fprintf(stderr, "g3vk: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
