/* logits_file.h: the reference logits format of shared/reference/README.md:
 *   int32 n_vocab, n_prompt, n_gen; int32 prompt_ids[n_prompt]; int32 gen_ids[n_gen];
 *   float logits[n_prompt + n_gen][n_vocab]   (little-endian)
 * Row i holds the logits after feeding token i of prompt_ids ++ gen_ids. */
#ifndef G3_LOGITS_FILE_H
#define G3_LOGITS_FILE_H

#include "g3_internal.h"

typedef struct g3_logits_file {
    int n_vocab, n_prompt, n_gen;
    int32_t *ids;   /* (n_prompt + n_gen)            */
    float *logits;  /* (n_vocab, n_prompt + n_gen)   */
} g3_logits_file;

/* Reads and validates a file (sizes checked against the file length).
 * with_logits false reads the header and ids only. */
g3_status g3_logits_file_read(const char *path, bool with_logits, g3_logits_file *out,
                              g3_err *err);
g3_status g3_logits_file_write(const char *path, const g3_logits_file *f, g3_err *err);
void g3_logits_file_free(g3_logits_file *f);



/* Agreement between two logits matrices of n_rows x n_vocab. */
typedef struct g3_logits_diff {
    double max_abs;   /* max |a - b| over everything              */
    int worst_row;    /* row of max_abs                           */
    int top1_agree;   /* rows whose argmax is the same            */
    double mean_kl;   /* mean KL(softmax(a) || softmax(b)) per row */
} g3_logits_diff;

g3_logits_diff g3_logits_compare(const float *a, const float *b, int n_rows, int n_vocab);
int g3_argmax(const float *x, int n);
#endif /* G3_LOGITS_FILE_H */
