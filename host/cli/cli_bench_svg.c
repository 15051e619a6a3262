/* cli_bench_svg.c: `g3vk bench --svg FILE`: the kernel profile as a bar chart that
 * reads at a glance. One panel per profiled test: a horizontal bar per op kind and
 * weight type, longest first, scaled to the longest, with its time per token, its
 * share of the token and its achieved bandwidth (and % of the measured peak) at the
 * bar's end; the host's share (CPU + submission) is the last, grey bar. Plain SVG
 * text written by hand: no dependency, viewable in any browser. */
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

/* Draws one panel at y; returns its height. */
static int panel(FILE *f, const g3_bench_profile *p, const g3_bench_peak *peak, int y)
{
    g3_bench_row *rows = NULL;
    const int n = p->info.supported ? g3_bench_rows(p, peak, false, &rows) : 0;
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
    fputs("</text>\n", f);
    y += PANEL_HEAD;
    if (n <= 0) {
        fprintf(f, "<text x=\"%d\" y=\"%d\" class=\"label\">no kernel profile: ", MARGIN,
                y + 15);
        xml(f, p->info.note);
        fputs("</text>\n", f);
        free(rows);
        return PANEL_HEAD + ROW_H + MARGIN;
    }
    double longest = 0;
    for (int r = 0; r < n; r++)
        longest = G3_MAX(longest, rows[r].ns);
    for (int r = 0; r < n; r++) {
        const g3_bench_row *w = &rows[r];
        const double len = longest > 0 ? BAR_W * w->ns / longest : 0;
        const int yy = y + r * ROW_H;
        fprintf(f, "<text x=\"%d\" y=\"%d\" class=\"label\" text-anchor=\"end\">", LABEL_W,
                yy + 15);
        xml(f, w->name);
        fprintf(f, "</text>\n<rect x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"%d\" fill=\"%s\"/>\n",
                LABEL_W + 8, yy + 3, G3_MAX(len, 1.0), ROW_H - 6, color(w));
        fmt_time(t, sizeof(t), w->ns);
        fprintf(f, "<text x=\"%.1f\" y=\"%d\" class=\"value\">%s \xc2\xb7 %.1f%%",
                LABEL_W + 14 + len, yy + 15, t, w->share);
        if (!w->host) {
            fprintf(f, " \xc2\xb7 %.2f GB/s", w->gbps);
            if (peak->gbps > 0)
                fprintf(f, " (%.0f%% of peak)", w->peak_pct);
        }
        fputs("</text>\n", f);
    }
    free(rows);
    return PANEL_HEAD + n * ROW_H + MARGIN;
}

bool g3_bench_write_svg(const char *path, const g3_bench_profile *const *profiles, int n,
                        const g3_bench_peak *peak)
{
    /* Heights first: the rows of each panel. */
    int height = MARGIN;
    for (int i = 0; i < n; i++) {
        g3_bench_row *rows = NULL;
        const int r = profiles[i]->info.supported ? g3_bench_rows(profiles[i], peak, false, &rows)
                                                  : 1;
        free(rows);
        height += PANEL_HEAD + G3_MAX(r, 1) * ROW_H + MARGIN;
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
