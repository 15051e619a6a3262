/* cli_bench_kernels.c: `g3vk bench --kernels`: a test run once more on a context
 * that times every dispatch (g3_context_options.profile), and its tables: per op
 * kind and weight type, then per kernel variant and shape, with calls, time and
 * bytes per token, the share of the token's wall time, achieved GB/s and the
 * percentage of the peak the copy kernel reached on the same device. What the GPU
 * timeline does not account for (host work between steps, submission, waiting) is
 * a row of its own, so dispatch overhead shows next to the kernels. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli_bench.h"
#include "cli_util.h"
#include "vk.h"

/* ---- peak ------------------------------------------------------------------------ */

#define PEAK_REPS 5 /* the best of several: a shared machine only ever slows a copy down */

bool g3_bench_measure_peak(int device, g3_bench_peak *peak)
{
    g3_err err = {0};
    g3_vk_context *ctx = NULL;
    *peak = (g3_bench_peak){0};
    if (g3_vk_context_create(&(g3_vk_options){.device = device}, &ctx, &err) != G3_OK) {
        fprintf(stderr, "g3vk bench: no peak bandwidth: %s\n", err.msg);
        return false;
    }
    const g3_vk_device_info *d = g3_vk_context_device(ctx);
    const uint64_t bytes = G3_MIN(256ull << 20, G3_MIN(d->max_storage_buffer_range,
                                                      d->max_memory_allocation_size));
    g3_status st = g3_vk_measure_copy_gbps(ctx, bytes, PEAK_REPS, &peak->gbps,
                                           &peak->transfer_gbps, &err);
    char size[32];
    snprintf(peak->source, sizeof(peak->source), "copy kernel, 2 x %s, best of %d, %s",
             g3_cli_bytes(bytes / 16 * 16, size, (int)sizeof(size)), PEAK_REPS,
             g3_vk_profile_supported(ctx, NULL, 0) ? "timestamps" : "host clock");
    g3_vk_context_free(ctx);
    if (st != G3_OK) {
        fprintf(stderr, "g3vk bench: no peak bandwidth: %s\n", err.msg);
        *peak = (g3_bench_peak){0};
        return false;
    }
    return true;
}

/* ---- the profiled run -------------------------------------------------------------- */

/* One pass of the test; returns its seconds (the timed part) or a negative number. */
static double run(g3_context *ctx, const g3_model_info *in, const int32_t *seq, int depth,
                  int n_prompt, int n_gen)
{
    g3_context_reset(ctx);
    if (depth > 0 && g3_context_eval(ctx, seq, depth, false) != G3_OK)
        return -1;
    if (n_prompt > 0) {
        g3_context_reset_profile(ctx);
        const double t0 = g3_time_s();
        if (g3_context_eval(ctx, seq + depth, n_prompt, true) != G3_OK || !g3_context_logits(ctx))
            return -1;
        volatile int32_t t = g3_bench_argmax(g3_context_logits(ctx), in->n_vocab);
        (void)t;
        return g3_time_s() - t0;
    }
    int32_t tok = seq[depth];
    if (g3_context_eval(ctx, &tok, 1, true) != G3_OK)
        return -1;
    g3_context_reset_profile(ctx);
    const double t0 = g3_time_s();
    for (int i = 0; i < n_gen; i++) {
        const float *l = g3_context_logits(ctx);
        if (!l)
            return -1;
        tok = g3_bench_argmax(l, in->n_vocab);
        if (g3_context_eval(ctx, &tok, 1, true) != G3_OK)
            return -1;
    }
    return g3_time_s() - t0;
}

bool g3_bench_profile_test(g3_context *ctx, const g3_model_info *in, const int32_t *seq,
                           int depth, int n_prompt, int n_gen, g3_bench_profile *p)
{
    /* The warm-up is short: it only brings pages and caches in. */
    const double warm = run(ctx, in, seq, depth, n_prompt, G3_MIN(n_gen, 2));
    const double s = warm < 0 ? warm : run(ctx, in, seq, depth, n_prompt, n_gen);
    if (s < 0) {
        fprintf(stderr, "g3vk bench: profiled run: %s\n", g3_context_error(ctx));
        return false;
    }
    p->decode = n_prompt == 0;
    p->n_tokens = n_prompt ? n_prompt : n_gen;
    p->wall_ns = s * 1e9;
    const int n = g3_context_get_profile(ctx, NULL, 0, &p->info);
    free(p->entries);
    p->entries = n > 0 ? calloc((size_t)n, sizeof(*p->entries)) : NULL;
    if (n > 0 && !p->entries) {
        fprintf(stderr, "g3vk bench: out of memory\n");
        return false;
    }
    p->info.n_entries = g3_context_get_profile(ctx, p->entries, n, &p->info);
    p->info.n_entries = G3_MIN(p->info.n_entries, n);
    return true;
}

void g3_bench_profile_free(g3_bench_profile *p)
{
    free(p->entries);
    p->entries = NULL;
}

/* ---- rows ---------------------------------------------------------------------------- */

static int by_time(const void *a, const void *b)
{
    const double x = ((const g3_bench_row *)a)->ns, y = ((const g3_bench_row *)b)->ns;
    return x < y ? 1 : x > y ? -1 : 0;
}

int g3_bench_rows(const g3_bench_profile *p, const g3_bench_peak *peak, bool by_shape,
                  g3_bench_row **out)
{
    const int n_e = p->info.supported ? p->info.n_entries : 0;
    g3_bench_row *rows = calloc((size_t)n_e + 1, sizeof(*rows));
    *out = rows;
    if (!rows)
        return -1;
    const double tok = G3_MAX(p->n_tokens, 1);
    int n = 0;
    for (int i = 0; i < n_e; i++) {
        const g3_profile_entry *e = &p->entries[i];
        char name[sizeof(rows->name)];
        if (by_shape)
            snprintf(name, sizeof(name), "%s", e->kernel);
        else
            snprintf(name, sizeof(name), "%s%s%s", e->op, e->type[0] ? " " : "", e->type);
        int r = 0;
        while (r < n &&
               (strcmp(rows[r].name, name) || (by_shape && strcmp(rows[r].shape, e->shape))))
            r++;
        if (r == n) {
            n++;
            snprintf(rows[r].name, sizeof(rows[r].name), "%s", name);
            snprintf(rows[r].op, sizeof(rows[r].op), "%s", e->op);
            snprintf(rows[r].type, sizeof(rows[r].type), "%s", e->type);
            if (by_shape)
                snprintf(rows[r].shape, sizeof(rows[r].shape), "%s", e->shape);
        }
        rows[r].calls += (double)e->calls / tok;
        rows[r].ns += (double)e->ns / tok;
        rows[r].read += (double)e->bytes_read / tok;
        rows[r].written += (double)e->bytes_written / tok;
    }
    qsort(rows, (size_t)n, sizeof(*rows), by_time);
    /* The token's time is the wall time; where the clocks disagree (a GPU timeline
     * longer than the host's), the GPU's, so that the shares still add up to 100. */
    const double gpu = (double)p->info.gpu_ns / tok;
    const double wall = G3_MAX(p->wall_ns / tok, gpu);
    g3_bench_row *h = &rows[n++];
    snprintf(h->name, sizeof(h->name), "CPU + submission");
    snprintf(h->op, sizeof(h->op), "host");
    h->host = true;
    h->ns = wall - gpu;
    for (int r = 0; r < n; r++) {
        rows[r].share = wall > 0 ? 100.0 * rows[r].ns / wall : 0;
        if (!rows[r].host && rows[r].ns > 0)
            rows[r].gbps = (rows[r].read + rows[r].written) / rows[r].ns;
        /* Transfers (the logits readback) against vkCmdCopyBuffer's own peak: on
         * lavapipe a transfer is a memcpy, several times the copy kernel's rate. */
        const double yard = !strcmp(rows[r].op, "copy") && peak->transfer_gbps > 0
                                ? peak->transfer_gbps
                                : peak->gbps;
        if (yard > 0)
            rows[r].peak_pct = 100.0 * rows[r].gbps / yard;
    }
    return n;
}

/* ---- markdown -------------------------------------------------------------------------- */

static void print_table(const g3_bench_row *rows, int n, bool by_shape, bool have_peak)
{
    if (by_shape)
        printf("| %-28s | %-12s ", "kernel", "shape");
    else
        printf("| %-20s ", "op and type");
    printf("| %9s | %9s | %6s | %11s | %12s | %8s | %6s |\n", "calls/tok", "ms/tok", "share",
           "read MB/tok", "write MB/tok", "GB/s", "% peak");
    if (by_shape)
        printf("| %.28s | %.12s ", "----------------------------", "------------");
    else
        printf("| %.20s ", "--------------------");
    printf("| --------: | --------: | -----: | ----------: | -----------: | -------: | -----: |\n");
    for (int r = 0; r < n; r++) {
        const g3_bench_row *w = &rows[r];
        if (by_shape && w->host)
            continue; /* the op table shows it */
        if (by_shape)
            printf("| %-28s | %-12s ", w->name, w->shape);
        else
            printf("| %-20s ", w->name);
        char calls[24] = "", rd[24] = "", wr[24] = "", gb[24] = "", pk[24] = "";
        if (!w->host) {
            snprintf(calls, sizeof(calls), "%.1f", w->calls);
            snprintf(rd, sizeof(rd), "%.3f", w->read / 1e6);
            snprintf(wr, sizeof(wr), "%.3f", w->written / 1e6);
            snprintf(gb, sizeof(gb), "%.2f", w->gbps);
            if (have_peak)
                snprintf(pk, sizeof(pk), "%.1f", w->peak_pct);
        }
        printf("| %9s | %9.3f | %5.1f%% | %11s | %12s | %8s | %6s |\n", calls, w->ns / 1e6,
               w->share, rd, wr, gb, pk);
    }
}

void g3_bench_print_profile(const g3_bench_profile *p, const g3_bench_peak *peak)
{
    printf("\nkernel profile: %s %s, %d token%s on %s", p->model, p->test, p->n_tokens,
           p->n_tokens == 1 ? "" : "s", p->device);
    if (peak->gbps > 0)
        printf("; peak %.2f GB/s (%s)", peak->gbps, peak->source);
    if (peak->transfer_gbps > 0)
        printf("; vkCmdCopyBuffer %.2f GB/s (the copy rows' peak)", peak->transfer_gbps);
    printf("\n");
    const double tok = G3_MAX(p->n_tokens, 1);
    if (!p->info.supported) {
        printf("  not available: %s\n  wall %.3f ms/token\n", p->info.note, p->wall_ns / tok / 1e6);
        return;
    }
    g3_bench_row *rows = NULL;
    const int n = g3_bench_rows(p, peak, false, &rows);
    if (n < 0) {
        free(rows);
        return;
    }
    print_table(rows, n, false, peak->gbps > 0);
    const g3_bench_row *h = &rows[n - 1];
    const double gpu = (double)p->info.gpu_ns / tok, wall = gpu + h->ns;
    printf("per token: wall %.3f ms = GPU %.3f ms (%.1f%%) + CPU and submission %.3f ms "
           "(%.1f%%), %.1f recordings per token",
           wall / 1e6, gpu / 1e6, 100.0 - h->share, h->ns / 1e6, h->share,
           (double)p->info.submissions / tok);
    if (p->unprofiled_ns > 0)
        printf("; unprofiled %.3f ms", p->unprofiled_ns / 1e6);
    printf("\n\n");
    free(rows);
    const int m = g3_bench_rows(p, peak, true, &rows);
    if (m > 0)
        print_table(rows, m, true, peak->gbps > 0);
    free(rows);
}

/* ---- JSON -------------------------------------------------------------------------------- */

/* Finite numbers only: JSON has no NaN. */
static double fin(double x)
{
    return isfinite(x) ? x : 0.0;
}

/* The rows as JSON objects, one per line, and the indentation before the "]". */
static void json_rows(const g3_bench_row *rows, int n, bool by_shape, const char *in)
{
    int k = 0;
    for (int r = 0; r < n; r++) {
        const g3_bench_row *w = &rows[r];
        if (by_shape && w->host)
            continue;
        printf("%s\n%s    {\"name\": ", k++ ? "," : "", in);
        g3_cli_json_str(w->name);
        printf(", \"op\": ");
        g3_cli_json_str(w->op);
        printf(", \"type\": ");
        g3_cli_json_str(w->type);
        if (by_shape) {
            printf(", \"shape\": ");
            g3_cli_json_str(w->shape);
        }
        printf(", \"calls_per_token\": %.3f, \"ns_per_token\": %.1f, \"share\": %.4f, "
               "\"bytes_read_per_token\": %.1f, \"bytes_written_per_token\": %.1f, "
               "\"gbps\": %.4f, \"peak_pct\": %.3f}",
               fin(w->calls), fin(w->ns), fin(w->share), fin(w->read), fin(w->written),
               fin(w->gbps), fin(w->peak_pct));
    }
    if (k)
        printf("\n%s  ", in);
}

void g3_bench_json_profile(const g3_bench_profile *p, const g3_bench_peak *peak, const char *in)
{
    const double tok = G3_MAX(p->n_tokens, 1);
    const double gpu = (double)p->info.gpu_ns / tok;
    printf("{\n%s  \"test\": ", in);
    g3_cli_json_str(p->test);
    printf(",\n%s  \"n_tokens\": %d,\n%s  \"supported\": %s,\n%s  \"note\": ", in, p->n_tokens,
           in, p->info.supported ? "true" : "false", in);
    g3_cli_json_str(p->info.note);
    printf(",\n%s  \"peak_gbps\": %.4f,\n%s  \"transfer_gbps\": %.4f,\n%s  \"peak_source\": ", in,
           fin(peak->gbps), in, fin(peak->transfer_gbps), in);
    g3_cli_json_str(peak->source);
    printf(",\n%s  \"wall_ns_per_token\": %.1f,\n%s  \"gpu_ns_per_token\": %.1f,\n"
           "%s  \"host_ns_per_token\": %.1f,\n%s  \"unprofiled_ns_per_token\": %.1f,\n"
           "%s  \"submissions\": %llu",
           in, fin(G3_MAX(p->wall_ns / tok, gpu)), in, fin(gpu), in,
           fin(G3_MAX(p->wall_ns / tok - gpu, 0.0)), in, fin(p->unprofiled_ns), in,
           (unsigned long long)p->info.submissions);
    g3_bench_row *rows = NULL;
    int n = p->info.supported ? g3_bench_rows(p, peak, false, &rows) : 0;
    printf(",\n%s  \"ops\": [", in);
    json_rows(rows, G3_MAX(n, 0), false, in);
    printf("],\n%s  \"kernels\": [", in);
    free(rows);
    rows = NULL;
    n = p->info.supported ? g3_bench_rows(p, peak, true, &rows) : 0;
    json_rows(rows, G3_MAX(n, 0), true, in);
    free(rows);
    printf("]\n%s}", in);
}
