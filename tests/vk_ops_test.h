/* vk_ops_test.h: what the two halves of test_vk_ops (test_vk_ops.c: setup, buffers
 * with guard words, comparison, the per-op cases; test_vk_ops_select.c: argmax /
 * top-k and the error paths) share. */
#ifndef G3_VK_OPS_TEST_H
#define G3_VK_OPS_TEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vk.h"
#include "vk_ops.h"

#define GUARD 64              /* sentinel words around every output region        */
#define SENTINEL 0x7fc0deadu  /* a NaN payload no float computation produces        */
#define N_VOCAB 262144

extern g3_vk_context *ctx;
extern g3_vk_cmd *cmd;
extern g3_vk_ops *ops270; /* the 270M attention shape: 4 heads, 1 KV head, 256 */

/* A host image of a device buffer: words, all sentinel except what the test puts. */
typedef struct image {
    uint32_t *w;
    size_t n;
    g3_vk_buffer *buf;
} image;

void img_init(image *im, size_t n_words);
void img_put(image *im, size_t at, const void *src, size_t n_words);
bool img_upload(image *im, const char *name);
/* Downloads the buffer into got and checks that every word outside the regions
 * ({first word, count}) still holds its sentinel or what the test put there. */
bool img_fetch(const image *im, uint32_t *got, const size_t (*regions)[2], int n_regions,
               const char *what);
void img_free(image *im);
g3_vk_loc at(const image *im, size_t word);
/* Submits cmd and waits; false (and a failed check) on error. */
bool run(const char *what);
void check_close(const char *what, const float *ref, const float *got, int64_t n, double atol,
                 double rtol, double nmse_max);
double max_abs(const float *x, int64_t n);

/* test_vk_ops_select.c */
void test_select(g3_vk_ops *folded);
void test_errors(void);
/* The checks that file counted (test.h keeps its counters per file). */
void test_select_counts(int *passed, int *failed);

#endif /* G3_VK_OPS_TEST_H */
