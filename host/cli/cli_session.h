/* cli_session.h: what `g3vk run` and `g3vk chat` share: the llama.cpp-style
 * flags, loading with a progress bar, the generation loop (sampling, stop
 * tokens and strings, UTF-8-safe streaming, Ctrl-C), and the timings. */
#ifndef G3_CLI_SESSION_H
#define G3_CLI_SESSION_H

#include <signal.h>
#include <stdio.h>

#include "chat.h"
#include "engine.h"
#include "sampler.h"
#include "stop.h"

#define G3_CLI_MAX_STOPS 16

typedef struct g3_cli_session {
    /* flags */
    const char *model_path;
    int n_predict;       /* -n: tokens per reply; -1 = until end of turn or context full */
    int n_ctx;           /* -c                                                         */
    int n_batch;         /* -b: prompt tokens per prefill step (0 = the engine's 512)    */
    int n_threads;       /* -t                                                         */
    g3_backend backend;  /* --backend                                                  */
    int device;          /* --device (1-based; 0 = auto)                               */
    g3_sampler_options sampling;
    const char *system;  /* --system                                                   */
    bool raw;            /* --raw: no chat template                                    */
    bool special;        /* --special: parse control-token text in a raw prompt        */
    bool verbose_prompt; /* --verbose-prompt: print the token ids fed to the model     */
    bool no_timings;     /* --no-timings                                               */
    bool verbose;        /* -v: device memory, sampler chain                           */
    const char *stops[G3_CLI_MAX_STOPS];
    int n_stops;
    /* state */
    g3_model *model;
    g3_context *ctx;
    g3_sampler *sampler;
    g3_stop *stop;
    double t_load;       /* seconds                                                    */
    /* totals for the timings line */
    int n_prompt_tokens, n_gen_tokens;
    double t_prompt, t_gen;
} g3_cli_session;

/* Set by SIGINT while a reply is generated (see g3_cli_catch_sigint). */
extern volatile sig_atomic_t g3_cli_interrupted;
void g3_cli_catch_sigint(void);

void g3_cli_session_defaults(g3_cli_session *s);
/* Parses argv[*i] if it is a shared flag (advancing *i past its value).
 * Returns 1 when consumed, 0 when not a shared flag, -1 on a bad value
 * (message printed). */
int g3_cli_session_flag(g3_cli_session *s, int argc, char **argv, int *i);
/* Help text for the shared flags. */
void g3_cli_session_usage(FILE *f);

/* Loads the model (progress bar on a terminal), creates the context, the
 * sampler and the stop matcher. Prints the reason and returns false on failure. */
bool g3_cli_session_open(g3_cli_session *s, const char *cmd);
void g3_cli_session_close(g3_cli_session *s);

/* Feeds tokens to the model (a prompt or a chat turn), logits of the last one
 * computed. Refuses, with a message naming the lengths and the context size and
 * nothing fed, tokens that do not fit with room for one reply token. */
bool g3_cli_feed(g3_cli_session *s, const char *cmd, const int32_t *tokens, int n);

typedef enum g3_cli_stop_reason {
    G3_CLI_STOP_EOG,         /* <end_of_turn> or <eos> sampled (not fed)  */
    G3_CLI_STOP_STRING,      /* a --stop string appeared                  */
    G3_CLI_STOP_LIMIT,       /* -n tokens generated                       */
    G3_CLI_STOP_CONTEXT,     /* the context is full                       */
    G3_CLI_STOP_INTERRUPTED, /* Ctrl-C                                    */
    G3_CLI_STOP_ERROR,
} g3_cli_stop_reason;

/* Generates a reply after g3_cli_feed, streaming it to out. Every generated
 * token except an end-of-generation one is fed to the model, so the KV cache
 * holds the reply as it was printed. */
g3_cli_stop_reason g3_cli_generate(g3_cli_session *s, const char *cmd, FILE *out);

/* "load 0.52 s | prompt 12 tokens at 85.3 tokens/s | generation 64 tokens at 7.9 tokens/s" */
void g3_cli_print_timings(const g3_cli_session *s, FILE *f);

/* Tokenizes with the model's vocabulary into a malloc'ed array (*n ids);
 * prints why and returns NULL on failure. */
int32_t *g3_cli_encode(g3_cli_session *s, const char *cmd, const char *text, size_t len,
                         bool add_bos, bool parse_special, int *n);

/* The model's chat template choices (the built-in Gemma 3 one, with a warning
 * printed, when the file's template is not recognized). */
void g3_cli_chat_template(g3_cli_session *s, const char *cmd, g3_chat_template *t);

/* The first turn of a conversation: --system (if any) and the user's text,
 * with the generation prompt. */
g3_status g3_cli_render_first_turn(const g3_cli_session *s, const g3_chat_template *t,
                                   const char *user, char **text, size_t *len, g3_err *err);

#endif /* G3_CLI_SESSION_H */
