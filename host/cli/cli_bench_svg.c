/* cli_bench_svg.c: `g3vk bench --svg FILE`: the kernel profile as a bar chart that
 * reads at a glance. One panel per profiled test: a horizontal bar per op kind and
 * weight type, longest first, scaled to the longest, with its time per token, its
 * share of the token and its achieved bandwidth (and % of the measured peak) at the
 * bar's end; the host's share (CPU + submission) is the last, grey bar; under
 * them, on the same scale, the largest kernels by shape (the LM head apart from
 * the other matrices). Plain SVG text written by hand: no dependency, viewable in
 * any browser. */
#include <stdlib.h>
#include <string.h>

#include "cli_bench.h"
#include "g3_internal.h"

#define W 980          /* image width                                       */
#define LABEL_W 180    /* label column                                      */
#define BAR_W 430      /* the longest bar                                   */
#define ROW_H 22
#define PANEL_HEAD 52  /* title and subtitle of a panel                     */
#define MARGIN 16
#define SUB_HEAD 22    /* the "by shape" heading                            */
#define SHAPE_ROWS 6   /* kernels by shape under the op rows                */

/* Writes s with the XML specials escaped. */
static void xml(FILE *f, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        default: fputc(*s, f);
        }
    }
}

/* A fixed color per op kind, so that one kind has one color in every panel. */
static const char *color(const g3_bench_row *r)
{
    static const struct {
        const char *op, *fill;
    } known[] = {
        {"matvec", "#4e79a7"}, {"matmul", "#2f5d8a"},   {"embed", "#59a14f"},
        {"attn", "#e15759"},   {"flash_attn", "#b8383a"}, {"attn_combine", "#ff9d9a"},
        {"rope_kv", "#f28e2b"}, {"rms_norm", "#edc948"}, {"gelu_mul", "#b07aa1"},
        {"argmax", "#76b7b2"}, {"topk", "#76b7b2"},     {"copy", "#9c755f"},
    };
    if (r->host)
        return "#bab0ac";
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
        if (!strcmp(r->op, known[i].op))
            return known[i].fill;
    return "#8c8c8c";
}

/* Time with a unit that keeps three significant digits. */
static void fmt_time(char *buf, size_t cap, double ns)
{
    if (ns >= 1e6)
        snprintf(buf, cap, "%.2f ms", ns / 1e6);
    else if (ns >= 1e3)
        snprintf(buf, cap, "%.1f \xc2\xb5s", ns / 1e3);
    else
        snprintf(buf, cap, "%.0f ns", ns);
}

/* The bars of rows[0..n), scaled so that `longest` ns spans BAR_W, from y down;
 * by_shape labels them "op shape". */
static void bars(FILE *f, const g3_bench_row *rows, int n, double longest,
                 const g3_bench_peak *peak, bool by_shape, int y)
{
    char t[32];
    for (int r = 0; r < n; r++) {
        const g3_bench_row *w = &rows[r];
        const double len = longest > 0 ? BAR_W * w->ns / longest : 0;
        const int yy = y + r * ROW_H;
        fprintf(f, "<text x=\"%d\" y=\"%d\" class=\"label\" text-anchor=\"end\">", LABEL_W,
                yy + 15);
        if (by_shape && w->shape[0]) {
            xml(f, w->op);
            fputc(' ', f);
            xml(f, w->shape);
        } else {
            xml(f, w->name);
        }
        fprintf(f,
                "</text>\n<rect x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"%d\" fill=\"%s\"%s/>\n",
                LABEL_W + 8, yy + 3, G3_MAX(len, 1.0), ROW_H - 6, color(w),
                by_shape ? " fill-opacity=\"0.6\"" : "");
        fmt_time(t, sizeof(t), w->ns);
        fprintf(f, "<text x=\"%.1f\" y=\"%d\" class=\"value\">%s \xc2\xb7 %.1f%%",
                LABEL_W + 14 + len, yy + 15, t, w->share);
        if (!w->host) {
            fprintf(f, " \xc2\xb7 %.2f GB/s", w->gbps);
            if (w->peak_pct > 0)
                fprintf(f, " (%.0f%% of peak)", w->peak_pct);
        }
        fputs("</text>\n", f);
    }
}

/* The panel's rows: by op kind and type (n, host row included), then the largest
 * kernels by shape (m, at most SHAPE_ROWS). NULL rows when the profile is empty. */
static void panel_rows(const g3_bench_profile *p, const g3_bench_peak *peak, g3_bench_row **ops,
                       int *n, g3_bench_row **shapes, int *m)
{
    *ops = *shapes = NULL;
    *n = *m = 0;
    if (!p->info.supported)
        return;
    *n = G3_MAX(g3_bench_rows(p, peak, false, ops), 0);
    const int k = g3_bench_rows(p, peak, true, shapes);
    *m = G3_MIN(G3_MAX(k - 1, 0), SHAPE_ROWS); /* the host row is last */
}

static int panel_height(int n, int m)
{
    return PANEL_HEAD + G3_MAX(n, 1) * ROW_H + (m ? SUB_HEAD + m * ROW_H : 0) + MARGIN;
}

/* Draws one panel at y; returns its height. */
static int panel(FILE *f, const g3_bench_profile *p, const g3_bench_peak *peak, int y)
{
    g3_bench_row *rows = NULL, *shapes = NULL;
    int n, m;
    panel_rows(p, peak, &rows, &n, &shapes, &m);
    const double tok = G3_MAX(p->n_tokens, 1);
    const double gpu = (double)p->info.gpu_ns / tok;
    const double wall = G3_MAX(p->wall_ns / tok, gpu);
    char t[32];
    fmt_time(t, sizeof(t), wall);
    fprintf(f, "<text x=\"%d\" y=\"%d\" class=\"title\">", MARGIN, y + 20);
    xml(f, p->model);
    fputs(" \xc2\xb7 ", f);
    xml(f, p->test);
    fprintf(f, " \xc2\xb7 %s per token%s</text>\n", t, p->decode ? "" : " (prompt)");
    fprintf(f, "<text x=\"%d\" y=\"%d\" class=\"sub\">", MARGIN, y + 38);
    xml(f, p->device);
    if (p->info.supported)
        fprintf(f, " \xc2\xb7 GPU %.1f%% of the token's time", wall > 0 ? 100.0 * gpu / wall : 0);
    if (peak->gbps > 0)
        fprintf(f, " \xc2\xb7 peak %.2f GB/s (copy kernel)", peak->gbps);
    if (peak->transfer_gbps > 0)
        fprintf(f, ", %.2f GB/s (vkCmdCopyBuffer, for copies)", peak->transfer_gbps);
    fputs("</text>\n", f);
    y += PANEL_HEAD;
    if (n <= 0) {
        fprintf(f, "<text x=\"%d\" y=\"%d\" class=\"label\">no kernel profile: ", MARGIN,
                y + 15);
        xml(f, p->info.note);
        fputs("</text>\n", f);
    } else {
        double longest = 0;
        for (int r = 0; r < n; r++)
            longest = G3_MAX(longest, rows[r].ns);
        bars(f, rows, n, longest, peak, false, y);
        y += n * ROW_H;
        if (m) {
            fprintf(f, "<text x=\"%d\" y=\"%d\" class=\"sub\">largest kernels by shape "
                       "(matvec: columns x rows)</text>\n", LABEL_W + 8, y + SUB_HEAD - 8);
            bars(f, shapes, m, longest, peak, true, y + SUB_HEAD);
        }
    }
    free(rows);
    free(shapes);
    return panel_height(n, m);
}

bool g3_bench_write_svg(const char *path, const g3_bench_profile *const *profiles, int n,
                        const g3_bench_peak *peak)
{
    /* Heights first: the rows of each panel. */
    int height = MARGIN;
    for (int i = 0; i < n; i++) {
        g3_bench_row *rows = NULL, *shapes = NULL;
        int r, m;
        panel_rows(profiles[i], peak, &rows, &r, &shapes, &m);
        free(rows);
        free(shapes);
        height += panel_height(r, m);
    }
    FILE *f = fopen(path, "w");
    if (!f) {
        perror(path);
        return false;
    }
    fprintf(f,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
            "viewBox=\"0 0 %d %d\">\n"
            "<title>g3vk kernel profile</title>\n"
            "<style>text{font-family:Helvetica,Arial,sans-serif;fill:#222}"
            ".title{font-size:15px;font-weight:bold}.sub{font-size:12px;fill:#555}"
            ".label{font-size:12px}.value{font-size:11px;fill:#333}</style>\n"
            "<rect width=\"100%%\" height=\"100%%\" fill=\"#ffffff\"/>\n",
            W, height, W, height);
    int y = MARGIN / 2;
    for (int i = 0; i < n; i++)
        y += panel(f, profiles[i], peak, y);
    fputs("</svg>\n", f);
    const bool ok = !ferror(f);
    if (fclose(f) != 0 || !ok) {
        perror(path);
        return false;
    }
    return true;
}
