/* cli_bench.c: `g3vk bench`: end-to-end speed in the shape llama-bench users
 * know. For each model: load time (file to device), then prefill (ppN: N tokens
 * in one g3_context_eval, logits of the last) and decode (tgN: N greedy steps
 * after a 1-token start), each after an uncounted warm-up run and repeated -r
 * times, reported as tokens/s mean +- stddev. Every row also carries what makes
 * two numbers comparable: device and driver, build commit, weight types, and a
 * hash of the logits after a fixed prompt (a speed change that changed the
 * numbers shows). Speed is measured here, never asserted. --kernels runs each
 * test once more on a context that times every dispatch (cli_bench_kernels.c,
 * cli_bench_svg.c); --micro times single kernels (cli_bench_micro.c). */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "cli_bench.h"
#include "cli_util.h"
#include "gguf.h"
#include "quant.h"
#include "vk.h"

#include "g3_build_info.h" /* G3_GIT_COMMIT, written at every build */

const char *g3_bench_commit(void)
{
    return G3_GIT_COMMIT;
}


static int usage(FILE *f)
{
    fprintf(f,
            "usage: g3vk bench -m MODEL.gguf [-m MODEL2.gguf ...] [-p N] [-n N] [-r N]\n"
            "                  [--backend cpu|vulkan|auto] [--device N] [-t THREADS]\n"
            "                  [--depth N] [--json | --csv] [--kernels] [--svg FILE]\n"
            "                  [--peak GBPS]\n"
            "       g3vk bench --micro [--types q8_0,q4_0,...] [--vocab N] [-r N] [--json]\n"
            "  -p N         prefill test ppN: N tokens in one eval (default 512; 0 skips it)\n"
            "  -n N         decode test tgN: N greedy steps after a 1-token start\n"
            "               (default 128; 0 skips it; end-of-sequence is ignored)\n"
            "  -r N         repetitions per test after one uncounted warm-up (default 5)\n"
            "  --depth N    measure with N tokens already in the context (prefilled, untimed)\n"
            "  -b N         Vulkan: prompt tokens per prefill step (default 512; 1 feeds the\n"
            "               prompt token by token)\n"
            "  --backend    default auto (best Vulkan device, else the CPU reference)\n"
            "  --device N   Vulkan device, 1-based as `g3vk devices` lists them\n"
            "  -t N         CPU threads (default: all online CPUs)\n"
            "  --json/--csv machine-readable rows on stdout (default: a markdown table)\n"
            "  --kernels    run each test once more with a timestamp around every dispatch and\n"
            "               print per op kind and weight type: calls, ms and share of the\n"
            "               token, MB read and written, GB/s and %% of the device's peak (a\n"
            "               copy kernel measured in the same run), and the CPU + submission\n"
            "               time the GPU timeline leaves; in --json as \"kernel_profile\"\n"
            "  --svg FILE   --kernels, and the time breakdown as a bar chart (SVG)\n"
            "  --peak GBPS  the peak bandwidth for the %% column instead of measuring it\n"
            "  --micro      time each kernel alone over the real shapes and weight types,\n"
            "               checked against the CPU reference first (g3vk bench --micro --help)\n"
            "Also reported: load time (g3_model_load + g3_context_create), time to first\n"
            "token (the -p prompt, then its logits), device and driver, build commit, weight\n"
            "types and an FNV-1a 64 hash of the logits after a fixed %d-token prompt.\n"
            "Defaults match llama-bench; pick -p/-n/-r for your device (a full-size model\n"
            "decodes at a few tokens/s on lavapipe or the CPU reference).\n",
            G3_BENCH_HASH_PROMPT);
    return f == stdout ? 0 : 2;
}

static int parse(int argc, char **argv, g3_bench_opts *o)
{
    *o = (g3_bench_opts){.n_prompt = 512, .n_gen = 128, .reps = 5, .backend = G3_BACKEND_AUTO};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help"))
            return usage(stdout) - 1; /* -1: done, exit 0 */
        if (!strcmp(a, "--json")) {
            o->out = G3_BENCH_JSON;
            continue;
        }
        if (!strcmp(a, "--csv")) {
            o->out = G3_BENCH_CSV;
            continue;
        }
        if (!strcmp(a, "--kernels")) {
            o->kernels = true;
            continue;
        }
        if (!strcmp(a, "-m") || !strcmp(a, "--model") || !strcmp(a, "-p") ||
            !strcmp(a, "--n-prompt") || !strcmp(a, "-n") || !strcmp(a, "--n-gen") ||
            !strcmp(a, "-r") || !strcmp(a, "--repetitions") || !strcmp(a, "--backend") ||
            !strcmp(a, "--device") || !strcmp(a, "--depth") || !strcmp(a, "-d") ||
            !strcmp(a, "-t") || !strcmp(a, "--threads") || !strcmp(a, "--svg") ||
            !strcmp(a, "--peak") || !strcmp(a, "-b") || !strcmp(a, "--batch-size")) {
            if (!(v = g3_cli_value(argc, argv, &i)))
                return 2;
        } else {
            fprintf(stderr, "g3vk bench: unknown option '%s'\n", a);
            return usage(stderr);
        }
        if (!strcmp(a, "-m") || !strcmp(a, "--model")) {
            if (o->n_models == G3_BENCH_MAX_MODELS) {
                fprintf(stderr, "g3vk bench: at most %d models\n", G3_BENCH_MAX_MODELS);
                return 2;
            }
            o->models[o->n_models++] = v;
        } else if ((!strcmp(a, "-p") || !strcmp(a, "--n-prompt")) &&
                   !g3_cli_int(a, v, 0, 1 << 20, &o->n_prompt))
            return 2;
        else if ((!strcmp(a, "-n") || !strcmp(a, "--n-gen")) &&
                 !g3_cli_int(a, v, 0, 1 << 20, &o->n_gen))
            return 2;
        else if ((!strcmp(a, "-r") || !strcmp(a, "--repetitions")) &&
                 !g3_cli_int(a, v, 1, 100000, &o->reps))
            return 2;
        else if ((!strcmp(a, "-b") || !strcmp(a, "--batch-size")) &&
                 !g3_cli_int(a, v, 1, 1 << 16, &o->n_batch))
            return 2;
        else if ((!strcmp(a, "--depth") || !strcmp(a, "-d")) &&
                 !g3_cli_int(a, v, 0, 1 << 20, &o->depth))
            return 2;
        else if ((!strcmp(a, "-t") || !strcmp(a, "--threads")) &&
                 !g3_cli_int(a, v, 1, 1024, &o->threads))
            return 2;
        else if (!strcmp(a, "--device") && !g3_cli_int(a, v, 0, 64, &o->device))
            return 2;
        else if (!strcmp(a, "--backend") && !g3_cli_backend(v, &o->backend))
            return 2;
        else if (!strcmp(a, "--peak") && !g3_cli_float(a, v, 1e-6, 1e9, &o->peak))
            return 2;
        else if (!strcmp(a, "--svg"))
            o->svg = v, o->kernels = true;
    }
    if (o->kernels && o->out == G3_BENCH_CSV) {
        fprintf(stderr, "g3vk bench: --kernels prints with the table or --json, not --csv\n");
        return 2;
    }
    if (!o->n_models) {
        fprintf(stderr, "g3vk bench: no model given: pass -m MODEL.gguf\n");
        return 2;
    }
    if (!o->n_prompt && !o->n_gen) {
        fprintf(stderr, "g3vk bench: -p 0 and -n 0 leave nothing to measure\n");
        return 2;
    }
    return 0;
}

/* ---- deterministic tokens, argmax, hash ------------------------------------ */

/* BOS, then ids from a fixed LCG, above the control ids when the vocabulary
 * allows. Position k of the sequence is the same for every caller. */
static void make_tokens(const g3_model_info *in, int32_t *tok, int n)
{
    uint64_t s = 0x9e3779b97f4a7c15ull;
    const int lo = in->n_vocab > 512 ? 256 : 0;
    for (int i = 0; i < n; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        tok[i] = (int32_t)(lo + (int)((s >> 33) % (uint64_t)(in->n_vocab - lo)));
    }
    if (n > 0 && in->token_bos >= 0 && in->token_bos < in->n_vocab)
        tok[0] = in->token_bos;
}

int32_t g3_bench_argmax(const float *x, int n)
{
    int best = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[best])
            best = i;
    return best;
}

static uint64_t fnv1a64(const void *p, size_t n)
{
    const unsigned char *b = p;
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}

/* ---- model facts ------------------------------------------------------------ */

/* "q8_0 x127, f32 x109": tensor count per type, most frequent first. */
static void weight_types(const char *path, char *buf, size_t cap)
{
    g3_err err = {0};
    g3_gguf *g = NULL;
    snprintf(buf, cap, "?");
    if (g3_gguf_open(path, &g, &err) != G3_OK)
        return;
    uint64_t count[G3_TYPE_COUNT] = {0};
    for (uint64_t i = 0; i < g->n_tensors; i++)
        if (g->tensors[i].type < G3_TYPE_COUNT)
            count[g->tensors[i].type]++;
    size_t len = 0;
    buf[0] = '\0';
    for (;;) {
        uint32_t best = G3_TYPE_COUNT;
        for (uint32_t t = 0; t < G3_TYPE_COUNT; t++)
            if (count[t] && (best == G3_TYPE_COUNT || count[t] > count[best]))
                best = t;
        if (best == G3_TYPE_COUNT || len >= cap)
            break;
        len += (size_t)snprintf(buf + len, cap - len, "%s%s x%" PRIu64, len ? ", " : "",
                                g3_type_name(best), count[best]);
        count[best] = 0;
    }
    g3_gguf_close(g);
}

/* The driver of the Vulkan device the model runs on: the device the same
 * --device choice gives, checked by name. */
static void vk_driver(const g3_model_info *in, int device, char *buf, size_t cap)
{
    g3_vk_device_info infos[16];
    int count = 0, chosen = 0;
    g3_err err = {0};
    snprintf(buf, cap, "?");
    if (g3_vk_enumerate(&(g3_vk_options){.device = device}, infos, 16, &count, &chosen, &err) !=
        G3_OK)
        return;
    for (int i = 0; i < count && i < 16; i++) {
        const g3_vk_device_info *d = &infos[i];
        if (strcmp(d->name, in->device) || (chosen > 0 && d->index != chosen))
            continue;
        char ver[32];
        snprintf(buf, cap, "%s %s%s%s%s", d->driver_name[0] ? d->driver_name : "?",
                 g3_vk_driver_version_string(d, ver, sizeof(ver)), d->driver_info[0] ? " (" : "",
                 d->driver_info, d->driver_info[0] ? ")" : "");
        return;
    }
}

/* ---- measuring ------------------------------------------------------------- */

/* Resets, prefills depth tokens (untimed), then runs one test and returns its
 * seconds, or a negative number after printing the error. */
static double run_once(g3_context *ctx, const g3_model_info *in, const int32_t *seq, int depth,
                       int n_prompt, int n_gen)
{
    g3_context_reset(ctx);
    if (depth > 0 && g3_context_eval(ctx, seq, depth, false) != G3_OK)
        goto fail;
    if (n_prompt > 0) {
        const double t0 = g3_time_s();
        if (g3_context_eval(ctx, seq + depth, n_prompt, true) != G3_OK)
            goto fail;
        const float *l = g3_context_logits(ctx);
        if (!l)
            goto fail;
        volatile int32_t t = g3_bench_argmax(l, in->n_vocab); /* the first token is known here */
        (void)t;
        return g3_time_s() - t0;
    }
    /* decode: a 1-token start (untimed), then n_gen greedy steps */
    int32_t tok = seq[depth];
    if (g3_context_eval(ctx, &tok, 1, true) != G3_OK)
        goto fail;
    const double t0 = g3_time_s();
    for (int i = 0; i < n_gen; i++) {
        const float *l = g3_context_logits(ctx);
        if (!l)
            goto fail;
        tok = g3_bench_argmax(l, in->n_vocab);
        if (g3_context_eval(ctx, &tok, 1, true) != G3_OK)
            goto fail;
    }
    return g3_time_s() - t0;
fail:
    fprintf(stderr, "g3vk bench: %s\n", g3_context_error(ctx));
    return -1;
}

static void stats(g3_bench_test *r)
{
    const int n = r->reps;
    const double work = r->n_prompt ? r->n_prompt : r->n_gen;
    double sts = 0, sns = 0, qts = 0, qns = 0;
    for (int i = 0; i < n; i++) {
        sts += work / r->secs[i];
        sns += r->secs[i] * 1e9;
    }
    r->avg_ts = sts / n;
    r->avg_ns = sns / n;
    for (int i = 0; i < n; i++) {
        const double ts = work / r->secs[i] - r->avg_ts, ns = r->secs[i] * 1e9 - r->avg_ns;
        qts += ts * ts;
        qns += ns * ns;
    }
    r->dev_ts = n > 1 ? sqrt(qts / (n - 1)) : 0;
    r->dev_ns = n > 1 ? sqrt(qns / (n - 1)) : 0;
}

/* ---- one model ------------------------------------------------------------- */

/* --kernels: every test once more, on a second context that times each dispatch
 * (the rows are measured without the timestamps' cost). */
static int profile_tests(const g3_bench_opts *o, g3_model *model, g3_context **ctx,
                         const g3_model_info *in, const int32_t *seq, long long n_ctx,
                         const g3_bench_test *rows, int n_tests, g3_bench_model *m)
{
    if (in->backend == G3_BACKEND_VULKAN) {
        g3_context_free(*ctx);
        *ctx = NULL;
        if (g3_context_create(model,
                              &(g3_context_options){.n_ctx = (int)n_ctx, .profile = true,
                                                    .n_batch = (int)o->n_batch},
                              ctx) != G3_OK) {
            fprintf(stderr, "g3vk bench: %s: profiled context: %s\n", m->path,
                    g3_model_last_error(model));
            return 1;
        }
    }
    for (int t = 0; t < n_tests; t++) {
        const g3_bench_test *r = &rows[t];
        g3_bench_profile *p = &m->prof[m->n_prof++];
        snprintf(p->model, sizeof(p->model), "%s", m->file);
        snprintf(p->device, sizeof(p->device), "%s", m->device);
        snprintf(p->test, sizeof(p->test), "%.47s", r->name);
        p->unprofiled_ns = r->avg_ns / (r->n_prompt ? r->n_prompt : r->n_gen);
        if (!g3_bench_profile_test(*ctx, in, seq, (int)o->depth, r->n_prompt,
                                   r->n_prompt ? 0 : r->n_gen, p))
            return 1;
    }
    return 0;
}

/* Loads the model, measures its tests, prints its rows. Returns 0 or 1. */
static int bench_model(const g3_bench_opts *o, const char *path, g3_bench_model *m, int *n_rows)
{
    int rc = 1;
    char msg[600];
    g3_model *model = NULL;
    g3_context *ctx = NULL;
    int32_t *seq = NULL;
    g3_bench_test rows[2] = {{.reps = 0}, {.reps = 0}};
    int n_tests = 0;

    *m = (g3_bench_model){.path = path, .ttft_s = -1};
    const char *slash = strrchr(path, '/');
    m->file = slash ? slash + 1 : path;
    weight_types(path, m->types, sizeof(m->types));

    const double t0 = g3_time_s();
    if (g3_model_load(path,
                      &(g3_model_options){.backend = o->backend, .n_threads = (int)o->threads,
                                          .device = (int)o->device},
                      &model, msg, sizeof(msg)) != G3_OK) {
        fprintf(stderr, "g3vk bench: %s\n", msg);
        return 1;
    }
    const g3_model_info *in = g3_model_get_info(model);
    const long long need_pp = o->depth + o->n_prompt, need_tg = o->depth + 1 + o->n_gen;
    const long long n_ctx = G3_MAX(G3_MAX(need_pp, need_tg), G3_BENCH_HASH_PROMPT);
    if (n_ctx > in->n_ctx_train) {
        fprintf(stderr, "g3vk bench: %s: --depth %lld with -p %lld / -n %lld needs %lld positions "
                "but the model's context is %d\n", path, o->depth, o->n_prompt, o->n_gen, n_ctx,
                in->n_ctx_train);
        goto done;
    }
    if (g3_context_create(model, &(g3_context_options){.n_ctx = (int)n_ctx, .n_batch = (int)o->n_batch},
                          &ctx) != G3_OK) {
        fprintf(stderr, "g3vk bench: %s: cannot create a context of %lld positions: %s\n", path,
                n_ctx, g3_model_last_error(model));
        goto done;
    }
    m->load_s = g3_time_s() - t0;
    if (in->backend_note[0])
        fprintf(stderr, "g3vk bench: %s\n", in->backend_note);

    m->n_bytes = in->n_bytes;
    m->n_params = in->n_params;
    g3_cli_bytes(in->n_bytes, m->size, (int)sizeof(m->size));
    snprintf(m->params, sizeof(m->params), "%.2f M", (double)in->n_params / 1e6);
    snprintf(m->backend, sizeof(m->backend), "%s",
             in->backend == G3_BACKEND_VULKAN ? "vulkan" : "cpu");
    snprintf(m->device, sizeof(m->device), "%s", in->device);
    const long ncpu = sysconf(_SC_NPROCESSORS_ONLN); /* the engine's default */
    m->n_threads = o->threads ? (int)o->threads : (int)(ncpu > 0 ? ncpu : 1);
    if (in->backend == G3_BACKEND_VULKAN)
        vk_driver(in, (int)o->device, m->driver, sizeof(m->driver));
    else
        snprintf(m->driver, sizeof(m->driver), "CPU reference, %d threads", m->n_threads);

    seq = malloc((size_t)n_ctx * sizeof(*seq));
    if (!seq) {
        fprintf(stderr, "g3vk bench: out of memory\n");
        goto done;
    }
    make_tokens(in, seq, (int)n_ctx);

    /* The numbers: logits after the fixed prompt (the first G3_BENCH_HASH_PROMPT ids). */
    if (g3_context_eval(ctx, seq, G3_BENCH_HASH_PROMPT, true) != G3_OK || !g3_context_logits(ctx)) {
        fprintf(stderr, "g3vk bench: %s\n", g3_context_error(ctx));
        goto done;
    }
    const float *logits = g3_context_logits(ctx);
    m->hash = fnv1a64(logits, (size_t)in->n_vocab * sizeof(float));
    m->first_token = g3_bench_argmax(logits, in->n_vocab);
    for (int i = 0; i < in->n_vocab; i++)
        m->nonfinite += !isfinite(logits[i]);
    if (m->nonfinite)
        fprintf(stderr, "g3vk bench: WARNING: %s on %s: %d of %d logits are NaN or infinite\n",
                m->file, m->backend, m->nonfinite, in->n_vocab);

    if (o->n_prompt)
        rows[n_tests++] = (g3_bench_test){.n_prompt = (int)o->n_prompt};
    if (o->n_gen)
        rows[n_tests++] = (g3_bench_test){.n_gen = (int)o->n_gen};
    for (int t = 0; t < n_tests; t++) {
        g3_bench_test *r = &rows[t];
        int len = snprintf(r->name, sizeof(r->name), "%s%d", r->n_prompt ? "pp" : "tg",
                           r->n_prompt ? r->n_prompt : r->n_gen);
        if (o->depth)
            snprintf(r->name + len, sizeof(r->name) - (size_t)len, " @ d%lld", o->depth);
        r->reps = (int)o->reps;
        if (!(r->secs = malloc((size_t)r->reps * sizeof(double)))) {
            fprintf(stderr, "g3vk bench: out of memory\n");
            goto done;
        }
        for (int i = -1; i < r->reps; i++) { /* -1: the warm-up */
            const double s =
                run_once(ctx, in, seq, (int)o->depth, r->n_prompt, r->n_prompt ? 0 : r->n_gen);
            if (s < 0)
                goto done;
            if (i >= 0)
                r->secs[i] = s > 1e-9 ? s : 1e-9;
        }
        stats(r);
        if (r->n_prompt) /* the prompt, then its logits and the first token */
            m->ttft_s = r->avg_ns / 1e9;
        if (!o->kernels) {
            g3_bench_print_row(o, m, r, NULL, *n_rows == 0);
            ++*n_rows;
            fflush(stdout);
        }
    }
    if (o->kernels) {
        if (profile_tests(o, model, &ctx, in, seq, n_ctx, rows, n_tests, m) != 0)
            goto done;
        for (int t = 0; t < n_tests; t++, ++*n_rows)
            g3_bench_print_row(o, m, &rows[t], &m->prof[t], *n_rows == 0);
        fflush(stdout);
    }
    rc = 0;
done:
    for (int t = 0; t < 2; t++)
        free(rows[t].secs);
    free(seq);
    g3_context_free(ctx);
    g3_model_free(model);
    return rc;
}

int g3_cli_bench(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--micro"))
            return g3_bench_micro(argc, argv);
    g3_bench_opts o;
    int rc = parse(argc, argv, &o);
    if (rc)
        return rc < 0 ? 0 : rc;
    static g3_bench_model runs[G3_BENCH_MAX_MODELS]; /* static: the profiles make it large */
    int n_rows = 0, n_done = 0, n_tried = 0;
    if (o.kernels && o.peak > 0) {
        o.pk.gbps = o.peak;
        snprintf(o.pk.source, sizeof(o.pk.source), "--peak");
    } else if (o.kernels && o.backend != G3_BACKEND_CPU) {
        g3_bench_measure_peak((int)o.device, &o.pk); /* before the models: memory */
    }
    if (o.out == G3_BENCH_MD)
        printf("| %-26s | %10s | %8s | %-7s | %-32s | %14s | %20s |\n"
               "| %.26s | %.10s: | %.8s: | %.7s | %.32s | %.14s: | %.20s: |\n",
               "model", "size", "params", "backend", "device", "test", "t/s",
               "--------------------------", "---------", "-------", "-------",
               "--------------------------------", "-------------", "-------------------");
    else if (o.out == G3_BENCH_CSV)
        fputs(g3_bench_csv_header, stdout);
    else
        printf("[\n");
    fflush(stdout);
    for (int i = 0; i < o.n_models && rc == 0; i++, n_tried++) {
        rc = bench_model(&o, o.models[i], &runs[i], &n_rows);
        if (rc == 0)
            n_done++;
    }
    if (o.out == G3_BENCH_JSON)
        printf("%s]\n", n_rows ? "\n" : "");
    if (o.out == G3_BENCH_MD && n_done) {
        printf("\n");
        for (int i = 0; i < n_done; i++) {
            const g3_bench_model *m = &runs[i];
            char ttft[48] = "n/a (-p 0)";
            if (m->ttft_s >= 0)
                snprintf(ttft, sizeof(ttft), "%.1f ms", m->ttft_s * 1e3);
            printf("%s on %s: load %.1f ms, time to first token (pp%lld%s) %s, "
                   "logits hash %016" PRIx64 " (first token %d)%s\n"
                   "    weights: %s\n    driver: %s\n",
                   m->file, m->backend, m->load_s * 1e3, o.n_prompt, o.depth ? " @ depth" : "",
                   ttft, m->hash, (int)m->first_token,
                   m->nonfinite ? " WARNING: NaN/Inf logits" : "", m->types, m->driver);
        }
        printf("\nbuild: %s\n", G3_GIT_COMMIT);
        for (int i = 0; i < n_done; i++)
            for (int t = 0; t < runs[i].n_prof; t++)
                g3_bench_print_profile(&runs[i].prof[t], &o.pk);
    }
    const g3_bench_profile *charts[2 * G3_BENCH_MAX_MODELS];
    int n_charts = 0;
    for (int i = 0; i < n_done; i++)
        for (int t = 0; t < runs[i].n_prof; t++)
            charts[n_charts++] = &runs[i].prof[t];
    if (o.svg && rc == 0 && !g3_bench_write_svg(o.svg, charts, n_charts, &o.pk))
        rc = 1;
    for (int i = 0; i < n_tried; i++)
        for (int t = 0; t < runs[i].n_prof; t++)
            g3_bench_profile_free(&runs[i].prof[t]);
    return rc;
}
