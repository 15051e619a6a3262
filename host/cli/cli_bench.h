/* cli_bench.h: what the files of `g3vk bench` share: the kernel profile of a test
 * and its table (cli_bench_kernels.c), its chart (cli_bench_svg.c) and the kernel
 * microbenchmarks (cli_bench_micro.c). */
#ifndef G3_CLI_BENCH_H
#define G3_CLI_BENCH_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "g3.h"

/* The bandwidth the "% of peak" columns divide by. */
typedef struct g3_bench_peak {
    double gbps;          /* 0 = unknown (no device, the probe failed): no % column */
    double transfer_gbps; /* vkCmdCopyBuffer over the same buffers, 0 = not measured */
    char source[160];     /* "copy kernel, 2 x 128 MiB, best of 3" or "--peak"       */
} g3_bench_peak;

/* Measures the peak on Vulkan device `device` (1-based, 0 = the automatic choice)
 * with the copy kernel (g3_vk_measure_copy_gbps). Returns false, after printing
 * why on stderr, when there is no device or the probe fails. */
bool g3_bench_measure_peak(int device, g3_bench_peak *peak);

/* The kernel profile of one test (tgN or ppN) of one model. */
typedef struct g3_bench_profile {
    char model[128];           /* file name                                         */
    char device[256];
    char test[48];             /* "tg16", "pp32 @ d100"                            */
    bool decode;               /* tg (per token = per step) or pp (a prompt)        */
    int n_tokens;              /* tokens the profile covers                         */
    double wall_ns;            /* their wall time around g3_context_eval            */
    double unprofiled_ns;      /* the same test's mean on an unprofiled context, per
                                  token (0 = not measured)                          */
    g3_profile_info info;
    g3_profile_entry *entries; /* (info.n_entries), malloc'd                        */
} g3_bench_profile;

/* Runs one test once more on a context created with .profile, after an untimed
 * warm-up: depth tokens untimed, then n_prompt tokens in one eval (pp) or a
 * 1-token start and n_gen greedy steps (tg), with the profile reset right before
 * the timed part. Returns false after printing the context's error. */
bool g3_bench_profile_test(g3_context *ctx, const g3_model_info *in, const int32_t *seq,
                           int depth, int n_prompt, int n_gen, g3_bench_profile *p);
void g3_bench_profile_free(g3_bench_profile *p);

/* ---- the end-to-end bench (cli_bench.c; rows printed by cli_bench_rows.c) ---- */

#define G3_BENCH_MAX_MODELS 16
#define G3_BENCH_HASH_PROMPT 16 /* tokens of the fixed prompt whose logits are hashed */

enum { G3_BENCH_MD, G3_BENCH_JSON, G3_BENCH_CSV }; /* g3_bench_opts.out */

typedef struct g3_bench_opts {
    const char *models[G3_BENCH_MAX_MODELS];
    int n_models;
    long long n_prompt, n_gen, reps, depth, threads, device;
    long long n_batch; /* -b: prefill step tokens (0 = the engine's default, 512) */
    g3_backend backend;
    int out;
    bool kernels;     /* --kernels (or --svg): profile every test once more         */
    const char *svg;  /* --svg FILE                                                  */
    double peak;      /* --peak GBPS; 0 = measure                                    */
    g3_bench_peak pk; /* the peak in force (--peak or measured once per run)         */
} g3_bench_opts;

/* What one model run knows about itself (the same on each of its rows). */
typedef struct g3_bench_model {
    const char *path, *file;
    char size[32], params[32], types[256], backend[16], device[256], driver[320];
    int n_threads;
    uint64_t n_bytes, n_params;
    double load_s, ttft_s;
    uint64_t hash;
    int32_t first_token;
    int nonfinite; /* NaN/Inf among the hashed logits: the numbers are broken */
    g3_bench_profile prof[2]; /* --kernels: per test */
    int n_prof;
} g3_bench_model;

/* One row: a test and its samples. */
typedef struct g3_bench_test {
    char name[48];
    int n_prompt, n_gen;
    double *secs; /* reps samples */
    int reps;
    double avg_ts, dev_ts, avg_ns, dev_ns;
} g3_bench_test;

/* The build's commit (taken when CMake configures; "unknown" outside git). */
const char *g3_bench_commit(void);

/* The CSV header line (with its newline). */
extern const char *const g3_bench_csv_header;

/* Prints one row of a test in the output format of o: a markdown table row, a CSV
 * line, or a JSON object (with its kernel profile when prof is not NULL). */
void g3_bench_print_row(const g3_bench_opts *o, const g3_bench_model *m, const g3_bench_test *r,
                        const g3_bench_profile *prof, bool first);

/* One row of a kernel table, per token: an op kind and weight type (or one kernel
 * variant at one shape), or the host's share ("CPU + submission"). */
typedef struct g3_bench_row {
    char name[64];     /* "matvec q8_0"; by shape: "matvec_streams_q8_0_u 640x2048" */
    char op[24], type[16], shape[32];
    bool host;         /* the wall time the GPU did not account for                 */
    double calls;      /* per token                                                 */
    double ns;         /* per token                                                 */
    double share;      /* % of the token's wall time                                */
    double read, written; /* bytes per token                                        */
    double gbps;       /* (read + written) / time; 0 for the host row               */
    double peak_pct;   /* gbps / peak, %; 0 when the peak is unknown                */
} g3_bench_row;

/* The rows of p, by op kind and weight type (by_shape false) or by kernel and
 * shape, largest time first, then the host row. Returns the count (malloc'd *rows,
 * which the caller frees), or -1 when out of memory. */
int g3_bench_rows(const g3_bench_profile *p, const g3_bench_peak *peak, bool by_shape,
                  g3_bench_row **rows);

/* The markdown tables of a profile (by op kind and type, then by kernel and shape)
 * with the GPU / host summary, on stdout. */
void g3_bench_print_profile(const g3_bench_profile *p, const g3_bench_peak *peak);

/* The profile as one JSON object on stdout, its lines indented by `indent`. */
void g3_bench_json_profile(const g3_bench_profile *p, const g3_bench_peak *peak,
                           const char *indent);

/* Writes the time breakdown of each profile (a chart per profile, one under the
 * other) as an SVG file. Returns false after printing why. */
bool g3_bench_write_svg(const char *path, const g3_bench_profile *const *profiles, int n,
                        const g3_bench_peak *peak);

/* The argmax of x[0..n) (the lowest index among equals): the greedy step. */
int32_t g3_bench_argmax(const float *x, int n);

/* `g3vk bench --micro`: argv as g3_cli_bench received it. */
int g3_bench_micro(int argc, char **argv);

#endif /* G3_CLI_BENCH_H */
