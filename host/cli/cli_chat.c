/* cli_chat.c: `g3vk chat`: an interactive conversation that keeps its history
 * in the KV cache: each turn feeds only the new text. */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "chat.h"
#include "cli.h"
#include "cli_session.h"
#include "cli_util.h"

static int usage(FILE *f)
{
    fprintf(f, "usage: g3vk chat -m MODEL.gguf [options]\n"
               "  A conversation on the terminal (or scripted through standard input): one\n"
               "  line per user turn; /reset forgets the conversation, /exit (or end of input)\n"
               "  quits; Ctrl-C stops a reply and keeps the conversation.\n\n");
    g3_cli_session_usage(f);
    return f == stdout ? 0 : 2;
}

int g3_cli_chat(int argc, char **argv)
{
    g3_cli_session s;
    g3_cli_session_defaults(&s);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help"))
            return usage(stdout);
        int r = g3_cli_session_flag(&s, argc, argv, &i);
        if (r < 0)
            return 2;
        if (r == 0) {
            fprintf(stderr, "g3vk chat: unknown option '%s'\n", a);
            return usage(stderr);
        }
    }
    if (s.raw) {
        fprintf(stderr, "g3vk chat: --raw makes no sense for a conversation (it needs the chat "
                        "template); use g3vk run --raw\n");
        return 2;
    }
    g3_cli_catch_sigint();
    if (!g3_cli_session_open(&s, "chat")) {
        g3_cli_session_close(&s);
        return s.model_path ? 1 : 2;
    }
    g3_chat_template t;
    g3_cli_chat_template(&s, "chat", &t);
    const bool tty = isatty(0) && isatty(1);
    if (tty)
        fprintf(stderr, "g3vk chat: /reset forgets the conversation, /exit quits, Ctrl-C stops "
                        "a reply\n");

    char *line = NULL;
    size_t line_cap = 0;
    bool started = false; /* the conversation has turns in the KV cache */
    int rc = 0;
    for (;;) {
        if (tty) {
            fputs("> ", stdout);
            fflush(stdout);
        }
        g3_cli_interrupted = 0;
        errno = 0;
        ssize_t n = getline(&line, &line_cap, stdin);
        if (n < 0) {
            if (errno == EINTR && !g3_cli_interrupted)
                continue;
            break; /* end of input, or Ctrl-C at the prompt */
        }
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = 0;
        if (!strcmp(line, "/exit") || !strcmp(line, "/quit"))
            break;
        if (!strcmp(line, "/reset")) {
            g3_context_reset(s.ctx);
            g3_sampler_reset(s.sampler);
            started = false;
            fprintf(stderr, "g3vk chat: the conversation was reset\n");
            continue;
        }
        size_t start = 0;
        if (g3_chat_trim(line, (size_t)n, &start) == 0)
            continue; /* nothing to say: not a turn */

        char *text = NULL;
        size_t text_len = 0;
        g3_err re = {0};
        g3_status st;
        if (!started) {
            st = g3_cli_render_first_turn(&s, &t, line, &text, &text_len, &re);
        } else {
            /* The last reply stopped at <end_of_turn> without feeding it. */
            st = g3_chat_render_next_turn(&t, line, false, &text, &text_len, &re);
        }
        if (st != G3_OK) {
            fprintf(stderr, "g3vk chat: %s\n", re.msg);
            free(text);
            continue;
        }
        int n_ids = 0;
        int32_t *ids = g3_cli_encode(&s, "chat", text, text_len, !started, true, &n_ids);
        free(text);
        if (!ids)
            continue;
        const bool fed = g3_cli_feed(&s, "chat", ids, n_ids);
        free(ids);
        if (!fed)
            continue; /* the conversation is unchanged: the user may /reset */
        started = true;
        g3_cli_stop_reason why = g3_cli_generate(&s, "chat", stdout);
        fputs("\n", stdout);
        fflush(stdout);
        if (why == G3_CLI_STOP_INTERRUPTED)
            fprintf(stderr, "g3vk chat: reply stopped; the conversation goes on\n");
        if (why == G3_CLI_STOP_ERROR) {
            rc = 1;
            break;
        }
    }
    free(line);
    g3_cli_print_timings(&s, stderr);
    g3_cli_session_close(&s);
    return rc;
}
