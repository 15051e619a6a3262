/* cli_bench_micro.h: what the two files of `g3vk bench --micro` share: the run's
 * state and helpers (cli_bench_micro.c) and the kernels' cases (cli_bench_micro_ops.c). */
#ifndef G3_CLI_BENCH_MICRO_H
#define G3_CLI_BENCH_MICRO_H

#include "cli_bench.h"
#include "model.h"
#include "vk.h"
#include "vk_matmul.h"
#include "vk_matvec.h"
#include "vk_ops.h"

#define G3_MICRO_POOL_ROWS 256 /* distinct random rows of a weight, tiled over its rows */
#define G3_MICRO_NMSE_OK 1e-6  /* the sanity gate: a wrong kernel is off by far more    */

/* 270M's attention shape: 4 query heads, 1 KV head of 256. */
#define G3_MICRO_N_HEAD 4
#define G3_MICRO_HEAD_DIM 256
#define G3_MICRO_Q_LEN (G3_MICRO_N_HEAD * G3_MICRO_HEAD_DIM)

typedef struct g3_micro {
    g3_vk_context *ctx;
    g3_vk_cmd *cmd;      /* profiled, reusable: one case at a time               */
    g3_vk_matvec *mv;
    g3_vk_matmul *mm;    /* the prefill products                                  */
    g3_vk_ops *ops;      /* created for 270M's attention shape                   */
    g3_vk_buffer *step;  /* UPLOAD: position (word 0), token id (word 1)        */
    g3_bench_peak peak;
    int reps, n_rows, fails;
    bool json, timed;    /* timed: timestamps (else the host clock)             */
    uint64_t rng;
} g3_micro;

/* A matvec shape: columns (x length), rows, and which weights of 270M have it. */
typedef struct g3_micro_shape {
    int64_t cols, rows;
    const char *what;
} g3_micro_shape;

/* ---- helpers (cli_bench_micro.c) ---- */

float g3_micro_rnd(g3_micro *m);                /* uniform in [-1, 1), seeded         */
float *g3_micro_vec(g3_micro *m, size_t n);     /* n of them, malloc'd (NULL: OOM)     */
double g3_micro_nmse(const float *ref, const float *got, size_t n);
/* n floats on the device (data NULL: zeros); NULL after printing why. */
g3_vk_buffer *g3_micro_buf(g3_micro *m, const float *data, size_t n, const char *name);
bool g3_micro_begin(g3_micro *m);               /* starts the case's recording         */
bool g3_micro_run(g3_micro *m, const char *what); /* ends it and runs it once          */
bool g3_micro_download(g3_micro *m, g3_vk_buffer *b, uint64_t off, void *dst, uint64_t n);
/* Replays the recording (a warm-up, then m->reps timed) and prints the case's row
 * (flops: floating-point operations of one call, 0 for the ops that are not
 * products); err is the check's NMSE (or 0/1), ok whether it passed. */
void g3_micro_report(g3_micro *m, const char *op, const char *type, const char *shape,
                     double flops, double err, bool ok);
/* A row for a case that cannot run, saying why. */
void g3_micro_skip(g3_micro *m, const char *op, const char *type, const char *shape,
                   const char *why);

/* ---- the cases (cli_bench_micro_ops.c) ---- */

/* y = W x for n_tokens tokens of a random `type` weight of shape s: the matvec
 * kernel for one token, the matmul kernel for more. When keep is not NULL and s
 * matches keep_host's shape, the uploaded weight and its host copy are handed over
 * (the LM head doubles as the embedding table). */
void g3_micro_product(g3_micro *m, uint32_t type, const g3_micro_shape *s, uint32_t n_tokens,
                      g3_vk_weight **keep, g3_weight *keep_host);
void g3_micro_embed(g3_micro *m, const g3_vk_weight *vw, const g3_weight *w);
void g3_micro_rms_norm(g3_micro *m, uint32_t n, uint32_t groups, bool fused, const char *what);
void g3_micro_rope(g3_micro *m);
void g3_micro_attn(g3_micro *m, uint32_t slots, uint32_t window, uint32_t pos);
void g3_micro_gelu(g3_micro *m, uint32_t n);
void g3_micro_argmax(g3_micro *m, uint32_t n);

#endif /* G3_CLI_BENCH_MICRO_H */
