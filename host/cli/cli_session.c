/* cli_session.c: shared machinery of `g3vk run` and `g3vk chat`. */
#include <string.h>
#include <unistd.h>

#include "cli_session.h"
#include "cli_util.h"

volatile sig_atomic_t g3_cli_interrupted;

static void on_sigint(int sig)
{
    (void)sig;
    g3_cli_interrupted = 1;
}

void g3_cli_catch_sigint(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0; /* no SA_RESTART: a read waiting for input returns */
    sigaction(SIGINT, &sa, NULL);
}

void g3_cli_session_defaults(g3_cli_session *s)
{
    memset(s, 0, sizeof(*s));
    s->n_predict = -1;
    s->n_ctx = 4096;
    s->backend = G3_BACKEND_AUTO;
}

void g3_cli_session_usage(FILE *f)
{
    fprintf(f,
            "  -m, --model FILE        Gemma 3 GGUF model (required)\n"
            "  -n, --n-predict N       tokens per reply (default -1: until the end of the turn)\n"
            "  -c, --ctx-size N        context size in tokens (default 4096)\n"
            "  -b, --batch-size N      prompt tokens per prefill step on Vulkan (default 512)\n"
            "  -t, --threads N         CPU threads (default: all cores)\n"
            "  --backend B             cpu, vulkan or auto (default auto)\n"
            "  --device N              Vulkan device index from `g3vk devices` (default: best)\n"
            "  --system TEXT           system prompt (folded into the first user turn)\n"
            "  --temp T                temperature (default 0.8; 0 = greedy)\n"
            "  --top-k N               top-k (default 40; 0 = off)\n"
            "  --top-p P               top-p (default 0.95; 1 = off)\n"
            "  --min-p P               min-p (default 0.05; 0 = off)\n"
            "  --repeat-penalty X      repetition penalty (default 1.0 = off)\n"
            "  --repeat-last-n N       penalty window (default 64; 0 = off)\n"
            "  --presence-penalty X    presence penalty (default 0)\n"
            "  --frequency-penalty X   frequency penalty (default 0)\n"
            "  --seed N                sampling seed (default -1: random; printed with -v)\n"
            "  -r, --stop TEXT         stop when TEXT appears (repeatable)\n"
            "  --raw                   no chat template: the prompt is fed as it is\n"
            "  --special               with --raw: control-token text (<start_of_turn>) maps to its id\n"
            "  --verbose-prompt        print the token ids fed to the model\n"
            "  --no-timings            do not print the timings line\n"
            "  -v, --verbose           print device memory and the sampler chain\n");
}

int g3_cli_session_flag(g3_cli_session *s, int argc, char **argv, int *i)
{
    const char *a = argv[*i];
    static const char *const with_value[] = {
        "-m", "--model", "-n", "--n-predict", "-c", "--ctx-size", "-b", "--batch-size",
        "-t", "--threads", "--backend",
        "--device", "--system", "--temp", "--top-k", "--top-p", "--min-p", "--repeat-penalty",
        "--repeat-last-n", "--presence-penalty", "--frequency-penalty", "--seed", "-r", "--stop"};
    if (!strcmp(a, "--raw")) {
        s->raw = true;
        return 1;
    }
    if (!strcmp(a, "--special")) {
        s->special = true;
        return 1;
    }
    if (!strcmp(a, "--verbose-prompt")) {
        s->verbose_prompt = true;
        return 1;
    }
    if (!strcmp(a, "--no-timings")) {
        s->no_timings = true;
        return 1;
    }
    if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) {
        s->verbose = true;
        return 1;
    }
    bool known = false;
    for (size_t k = 0; k < sizeof(with_value) / sizeof(with_value[0]) && !known; k++)
        known = !strcmp(a, with_value[k]);
    if (!known)
        return 0;
    const char *v = g3_cli_value(argc, argv, i);
    if (!v)
        return -1;
    long long n = 0;
    double x = 0;
    g3_sampler_options *so = &s->sampling;
    if (!strcmp(a, "-m") || !strcmp(a, "--model")) {
        s->model_path = v;
    } else if (!strcmp(a, "-n") || !strcmp(a, "--n-predict")) {
        if (!g3_cli_int(a, v, -1, 1 << 24, &n))
            return -1;
        s->n_predict = (int)n;
    } else if (!strcmp(a, "-c") || !strcmp(a, "--ctx-size")) {
        if (!g3_cli_int(a, v, 1, 1 << 24, &n))
            return -1;
        s->n_ctx = (int)n;
    } else if (!strcmp(a, "-b") || !strcmp(a, "--batch-size")) {
        if (!g3_cli_int(a, v, 1, 1 << 16, &n))
            return -1;
        s->n_batch = (int)n;
    } else if (!strcmp(a, "-t") || !strcmp(a, "--threads")) {
        if (!g3_cli_int(a, v, 1, 1024, &n))
            return -1;
        s->n_threads = (int)n;
    } else if (!strcmp(a, "--backend")) {
        if (!g3_cli_backend(v, &s->backend))
            return -1;
    } else if (!strcmp(a, "--device")) {
        if (!g3_cli_int(a, v, 0, 64, &n))
            return -1;
        s->device = (int)n;
    } else if (!strcmp(a, "--system")) {
        s->system = v;
    } else if (!strcmp(a, "--temp")) {
        if (!g3_cli_float(a, v, 0, 100, &x))
            return -1;
        so->temp = x <= 0 ? G3_SAMPLER_GREEDY : (float)x;
    } else if (!strcmp(a, "--top-k")) {
        if (!g3_cli_int(a, v, 0, 1 << 24, &n))
            return -1;
        so->top_k = n == 0 ? G3_SAMPLER_OFF : (int)n;
    } else if (!strcmp(a, "--top-p")) {
        if (!g3_cli_float(a, v, 0, 1, &x))
            return -1;
        so->top_p = x <= 0 ? 1e-9f : (float)x; /* 0 would mean "default" */
    } else if (!strcmp(a, "--min-p")) {
        if (!g3_cli_float(a, v, 0, 1, &x))
            return -1;
        so->min_p = x <= 0 ? (float)G3_SAMPLER_OFF : (float)x;
    } else if (!strcmp(a, "--repeat-penalty")) {
        if (!g3_cli_float(a, v, 1e-3, 100, &x))
            return -1;
        so->repeat_penalty = (float)x;
    } else if (!strcmp(a, "--repeat-last-n")) {
        if (!g3_cli_int(a, v, 0, G3_SAMPLER_MAX_LAST_N, &n))
            return -1;
        so->repeat_last_n = n == 0 ? G3_SAMPLER_OFF : (int)n;
    } else if (!strcmp(a, "--presence-penalty")) {
        if (!g3_cli_float(a, v, -100, 100, &x))
            return -1;
        so->presence_penalty = (float)x;
    } else if (!strcmp(a, "--frequency-penalty")) {
        if (!g3_cli_float(a, v, -100, 100, &x))
            return -1;
        so->frequency_penalty = (float)x;
    } else if (!strcmp(a, "--seed")) {
        if (!g3_cli_int(a, v, -1, (long long)UINT32_MAX, &n))
            return -1;
        so->has_seed = n >= 0;
        so->seed = n >= 0 ? (uint64_t)n : 0;
    } else { /* -r, --stop */
        if (s->n_stops == G3_CLI_MAX_STOPS) {
            fprintf(stderr, "g3vk: at most %d stop strings\n", G3_CLI_MAX_STOPS);
            return -1;
        }
        s->stops[s->n_stops++] = v;
    }
    return 1;
}

/* ---- loading ---------------------------------------------------------------- */

static void progress_bar(uint64_t done, uint64_t total, void *user)
{
    (void)user;
    const int width = 30, pct = total ? (int)(100 * done / total) : 100;
    const int fill = width * pct / 100;
    fprintf(stderr, "\rloading weights [%.*s%*s] %3d%%", fill,
            "##############################", width - fill, "", pct);
    if (done >= total)
        fprintf(stderr, "\r%*s\r", width + 26, "");
    fflush(stderr);
}

bool g3_cli_session_open(g3_cli_session *s, const char *cmd)
{
    if (!s->model_path) {
        fprintf(stderr, "g3vk %s: no model given: pass -m MODEL.gguf (a Gemma 3 GGUF, for "
                        "example gemma-3-270m-it-Q8_0.gguf)\n", cmd);
        return false;
    }
    char err[700];
    const double t0 = g3_time_s();
    g3_status st = g3_model_load(
        s->model_path,
        &(g3_model_options){.backend = s->backend, .n_threads = s->n_threads, .device = s->device,
                            .progress = isatty(2) ? progress_bar : NULL},
        &s->model, err, sizeof(err));
    if (st != G3_OK) {
        fprintf(stderr, "g3vk %s: %s\n", cmd, err);
        return false;
    }
    const g3_model_info *in = g3_model_get_info(s->model);
    if (in->backend_note[0])
        fprintf(stderr, "g3vk %s: %s\n", cmd, in->backend_note);
    else if (in->backend == G3_BACKEND_VULKAN)
        fprintf(stderr, "g3vk %s: running on %s (Vulkan)\n", cmd, in->device);
    if (!in->has_tokenizer) {
        fprintf(stderr, "g3vk %s: %s has no usable vocabulary (%s): text generation needs "
                        "one; `g3vk logits` works from token ids\n",
                cmd, s->model_path, s->model->tok_error);
        return false;
    }
    if (s->n_ctx > in->n_ctx_train) {
        fprintf(stderr, "g3vk %s: -c %d is larger than the model's context (%d): using %d\n",
                cmd, s->n_ctx, in->n_ctx_train, in->n_ctx_train);
        s->n_ctx = in->n_ctx_train;
    }
    if ((st = g3_context_create(s->model,
                                 &(g3_context_options){.n_ctx = s->n_ctx, .n_batch = s->n_batch},
                                 &s->ctx)) !=
        G3_OK) {
        fprintf(stderr, "g3vk %s: cannot create a context of %d tokens: %s\n", cmd, s->n_ctx,
                g3_model_last_error(s->model)[0] ? g3_model_last_error(s->model)
                                                 : g3_status_string(st));
        return false;
    }
    s->t_load = g3_time_s() - t0; /* file to device: the upload happens with the context */
    if (s->verbose && in->backend == G3_BACKEND_VULKAN) {
        const g3_context_memory mem = g3_context_get_memory(s->ctx);
        char a[32], b[32], c[32], d[32];
        char e[32];
        fprintf(stderr, "g3vk %s: device memory: weights %s, KV cache %s (%d positions), "
                        "activations %s (prefill chunk of %d; decode step %s), scratch %s\n",
                cmd, g3_cli_bytes(mem.weights, a, sizeof(a)), g3_cli_bytes(mem.kv_cache, b, sizeof(b)),
                s->n_ctx, g3_cli_bytes(mem.activations, c, sizeof(c)), mem.n_batch,
                g3_cli_bytes(mem.activations_decode, e, sizeof(e)),
                g3_cli_bytes(mem.scratch, d, sizeof(d)));
    }
    g3_err e = {0};
    if (g3_sampler_create(&s->sampling, &s->sampler, &e) != G3_OK ||
        (s->n_stops && g3_stop_create(s->stops, s->n_stops, &s->stop, &e) != G3_OK)) {
        fprintf(stderr, "g3vk %s: %s\n", cmd, e.msg);
        return false;
    }
    if (s->verbose) {
        char chain[256];
        g3_sampler_describe(s->sampler, chain, sizeof(chain));
        fprintf(stderr, "g3vk %s: sampling: %s\n", cmd, chain);
    }
    return true;
}

void g3_cli_session_close(g3_cli_session *s)
{
    g3_stop_free(s->stop);
    g3_sampler_free(s->sampler);
    g3_context_free(s->ctx);
    g3_model_free(s->model);
    s->stop = NULL;
    s->sampler = NULL;
    s->ctx = NULL;
    s->model = NULL;
}

int32_t *g3_cli_encode(g3_cli_session *s, const char *cmd, const char *text, size_t len,
                         bool add_bos, bool parse_special, int *n)
{
    int need = g3_tokenize(s->model, text, len, add_bos, parse_special, NULL, 0);
    int32_t *ids = need >= 0 ? malloc((size_t)(need > 0 ? need : 1) * sizeof(int32_t)) : NULL;
    if (!ids || g3_tokenize(s->model, text, len, add_bos, parse_special, ids, need) != need) {
        fprintf(stderr, "g3vk %s: cannot tokenize the text: %s\n", cmd,
                g3_status_string(need < 0 ? (g3_status)need : G3_ERR_OUT_OF_MEMORY));
        free(ids);
        return NULL;
    }
    *n = need;
    return ids;
}

/* ---- generation -------------------------------------------------------------- */

bool g3_cli_feed(g3_cli_session *s, const char *cmd, const int32_t *tokens, int n)
{
    const int past = g3_context_n_past(s->ctx);
    if ((long long)past + n + 1 > s->n_ctx) {
        if (past == 0)
            fprintf(stderr, "g3vk %s: the prompt is %d tokens but the context holds %d (-c %d): "
                            "shorten the prompt or raise -c (this model allows up to %d)\n",
                    cmd, n, s->n_ctx, s->n_ctx, g3_model_get_info(s->model)->n_ctx_train);
        else
            fprintf(stderr, "g3vk %s: this turn is %d tokens and the conversation already holds "
                            "%d of the %d-token context: /reset to start over, or restart with "
                            "a larger -c\n",
                    cmd, n, past, s->n_ctx);
        return false;
    }
    if (s->verbose_prompt) {
        fprintf(stderr, "prompt tokens:");
        for (int i = 0; i < n; i++)
            fprintf(stderr, " %d", tokens[i]);
        fprintf(stderr, "\n");
    }
    for (int i = 0; i < n; i++)
        g3_sampler_accept(s->sampler, tokens[i]);
    const double t0 = g3_time_s();
    g3_status st = g3_context_eval(s->ctx, tokens, n, true);
    s->t_prompt += g3_time_s() - t0;
    s->n_prompt_tokens += n;
    if (st != G3_OK) {
        fprintf(stderr, "g3vk %s: %s\n", cmd, g3_context_error(s->ctx));
        return false;
    }
    return true;
}

/* Writes released text through the stop matcher; true when a stop string hit. */
static bool emit(g3_cli_session *s, const char *text, int len, FILE *out)
{
    if (!s->stop) {
        fwrite(text, 1, (size_t)len, out);
        fflush(out);
        return false;
    }
    g3_stop_out so;
    if (g3_stop_feed(s->stop, text, (size_t)len, &so) != G3_OK)
        return false;
    fwrite(so.text, 1, so.len, out);
    fflush(out);
    return so.stopped;
}

g3_cli_stop_reason g3_cli_generate(g3_cli_session *s, const char *cmd, FILE *out)
{
    g3_detok dt;
    g3_detok_init(&dt, s->model->tok, G3_DETOK_SKIP_SPECIAL);
    char *buf = malloc((size_t)g3_detok_max_bytes(s->model->tok) + 1);
    if (!buf)
        return G3_CLI_STOP_ERROR;
    if (s->stop)
        g3_stop_reset(s->stop);
    g3_cli_interrupted = 0;
    g3_cli_stop_reason why = G3_CLI_STOP_LIMIT;
    const double t0 = g3_time_s();
    int n_gen = 0;
    for (;;) {
        if (g3_cli_interrupted) {
            why = G3_CLI_STOP_INTERRUPTED;
            break;
        }
        if (s->n_predict >= 0 && n_gen >= s->n_predict) {
            why = G3_CLI_STOP_LIMIT;
            break;
        }
        const int32_t tok = g3_sampler_sample(s->sampler, g3_context_logits(s->ctx),
                                              g3_model_get_info(s->model)->n_vocab);
        if (tok < 0) {
            fprintf(stderr, "\ng3vk %s: sampling failed: %s\n", cmd,
                    g3_sampler_last_error(s->sampler));
            why = G3_CLI_STOP_ERROR;
            break;
        }
        g3_sampler_accept(s->sampler, tok);
        if (g3_tokenizer_is_eog(s->model->tok, tok)) {
            why = G3_CLI_STOP_EOG;
            break;
        }
        if (g3_context_n_past(s->ctx) >= s->n_ctx) {
            why = G3_CLI_STOP_CONTEXT;
            break;
        }
        if (g3_context_eval(s->ctx, &tok, 1, true) != G3_OK) {
            fprintf(stderr, "\ng3vk %s: %s\n", cmd, g3_context_error(s->ctx));
            why = G3_CLI_STOP_ERROR;
            break;
        }
        n_gen++;
        const int nb = g3_detok_push(&dt, tok, buf, g3_detok_max_bytes(s->model->tok));
        if (nb > 0 && emit(s, buf, nb, out)) {
            why = G3_CLI_STOP_STRING;
            break;
        }
    }
    if (why != G3_CLI_STOP_STRING) {
        const int nb = g3_detok_flush(&dt, buf, g3_detok_max_bytes(s->model->tok));
        bool hit = nb > 0 && emit(s, buf, nb, out);
        if (s->stop && !hit) {
            g3_stop_out so = g3_stop_flush(s->stop);
            fwrite(so.text, 1, so.len, out);
        }
    }
    fflush(out);
    s->t_gen += g3_time_s() - t0;
    s->n_gen_tokens += n_gen;
    free(buf);
    if (why == G3_CLI_STOP_CONTEXT)
        fprintf(stderr, "\ng3vk %s: the context is full (%d tokens): the reply was cut; raise "
                        "-c for longer conversations\n", cmd, s->n_ctx);
    return why;
}

void g3_cli_print_timings(const g3_cli_session *s, FILE *f)
{
    if (s->no_timings)
        return;
    fprintf(f, "g3vk: load %.2f s | prompt %d tokens at %.1f tokens/s | generation %d tokens at "
               "%.1f tokens/s\n",
            s->t_load, s->n_prompt_tokens,
            s->t_prompt > 0 ? s->n_prompt_tokens / s->t_prompt : 0.0, s->n_gen_tokens,
            s->t_gen > 0 ? s->n_gen_tokens / s->t_gen : 0.0);
}

void g3_cli_chat_template(g3_cli_session *s, const char *cmd, g3_chat_template *t)
{
    char warn[256] = "";
    g3_err e = {0};
    g3_chat_template_from_gguf(s->model->gguf, t, warn, sizeof(warn), &e);
    if (warn[0])
        fprintf(stderr, "g3vk %s: %s\n", cmd, warn);
}

g3_status g3_cli_render_first_turn(const g3_cli_session *s, const g3_chat_template *t,
                                   const char *user, char **text, size_t *len, g3_err *err)
{
    g3_chat_msg msgs[2];
    int n = 0;
    if (s->system)
        msgs[n++] = (g3_chat_msg){"system", s->system};
    msgs[n++] = (g3_chat_msg){"user", user};
    return g3_chat_render(t, msgs, n, true, text, len, err);
}
