/* cli_run.c: `g3vk run`: one prompt in, the streamed reply out. */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "chat.h"
#include "cli.h"
#include "cli_session.h"
#include "cli_util.h"

static int usage(FILE *f)
{
    fprintf(f, "usage: g3vk run -m MODEL.gguf [-p PROMPT | -f FILE | < FILE] [options]\n"
               "  Answers one prompt, streaming the reply. The prompt goes through the model's\n"
               "  chat template unless --raw.\n\n"
               "  -p, --prompt TEXT       the prompt\n"
               "  -f, --file FILE         read the prompt from FILE (- for standard input)\n");
    g3_cli_session_usage(f);
    return f == stdout ? 0 : 2;
}

/* Reads a whole stream (bounded: a prompt larger than this is surely a mistake). */
static char *read_all(FILE *in, size_t *len)
{
    const size_t max = (size_t)256 << 20;
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        n += fread(buf + n, 1, cap - n, in);
        if (n < cap) {
            if (ferror(in)) {
                free(buf);
                return NULL;
            }
            break;
        }
        if (cap >= max) {
            free(buf);
            errno = EFBIG;
            return NULL;
        }
        char *grown = realloc(buf, cap * 2);
        if (!grown)
            free(buf);
        buf = grown;
        cap *= 2;
    }
    if (buf)
        buf[n < cap ? n : cap - 1] = 0;
    *len = n;
    return buf;
}

int g3_cli_run(int argc, char **argv)
{
    g3_cli_session s;
    g3_cli_session_defaults(&s);
    const char *prompt = NULL, *file = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help"))
            return usage(stdout);
        int r = g3_cli_session_flag(&s, argc, argv, &i);
        if (r < 0)
            return 2;
        if (r > 0)
            continue;
        if (!strcmp(a, "-p") || !strcmp(a, "--prompt")) {
            if (!(prompt = g3_cli_value(argc, argv, &i)))
                return 2;
        } else if (!strcmp(a, "-f") || !strcmp(a, "--file")) {
            if (!(file = g3_cli_value(argc, argv, &i)))
                return 2;
        } else {
            fprintf(stderr, "g3vk run: unknown option '%s'\n", a);
            return usage(stderr);
        }
    }
    if (!s.model_path) {
        fprintf(stderr, "g3vk run: no model given: pass -m MODEL.gguf\n");
        return 2;
    }
    char *owned = NULL;
    size_t prompt_len = prompt ? strlen(prompt) : 0;
    if (!prompt) {
        if (!file && isatty(0)) {
            fprintf(stderr, "g3vk run: no prompt: pass -p TEXT, -f FILE, or pipe it on standard "
                            "input\n");
            return 2;
        }
        FILE *in = !file || !strcmp(file, "-") ? stdin : fopen(file, "rb");
        if (!in) {
            fprintf(stderr, "g3vk run: cannot open %s: %s\n", file, strerror(errno));
            return 1;
        }
        owned = read_all(in, &prompt_len);
        if (in != stdin)
            fclose(in);
        if (!owned) {
            fprintf(stderr, "g3vk run: cannot read the prompt from %s: %s\n",
                    file ? file : "standard input", strerror(errno));
            return 1;
        }
        prompt = owned;
    }

    int rc = 1;
    char *text = NULL;
    int32_t *ids = NULL;
    g3_cli_catch_sigint();
    if (!g3_cli_session_open(&s, "run"))
        goto done;
    size_t text_len = prompt_len;
    if (!s.raw) {
        g3_chat_template t;
        g3_err e = {0};
        g3_cli_chat_template(&s, "run", &t);
        if (g3_cli_render_first_turn(&s, &t, prompt, &text, &text_len, &e) != G3_OK) {
            fprintf(stderr, "g3vk run: %s\n", e.msg);
            goto done;
        }
    }
    int n_ids = 0;
    ids = g3_cli_encode(&s, "run", s.raw ? prompt : text, text_len, true, !s.raw || s.special,
                          &n_ids);
    if (!ids || !g3_cli_feed(&s, "run", ids, n_ids))
        goto done;
    g3_cli_stop_reason why = g3_cli_generate(&s, "run", stdout);
    printf("\n");
    fflush(stdout);
    if (why == G3_CLI_STOP_INTERRUPTED)
        fprintf(stderr, "g3vk run: interrupted\n");
    g3_cli_print_timings(&s, stderr);
    rc = why == G3_CLI_STOP_ERROR ? 1 : 0;
done:
    free(ids);
    free(text);
    free(owned);
    g3_cli_session_close(&s);
    return rc;
}
