/* small_vocab.h: the parts of test_tokenizer that live in small_vocab.c. */
#ifndef G3_TEST_SMALL_VOCAB_H
#define G3_TEST_SMALL_VOCAB_H

#include "tokenizer.h"

/* Runs the small-vocabulary tests; returns their CHECK counts. */
void tokenizer_small_tests(int *passed, int *failed);

/* A tokenizer built from GGUF metadata holding these arrays (tokenizer.ggml.model
 * "llama", tokens, scores, token_type), written and read back in memory. */
g3_tokenizer *tokenizer_from_gguf_arrays(uint32_t n, const char *const *pieces,
                                         const uint64_t *lens, const float *scores,
                                         const int32_t *types, g3_err *err);

/* Whether two id sequences are equal; printing one (first 40 ids) on stderr. */
bool ids_eq(const int32_t *a, int na, const int32_t *b, int nb);
void print_ids(const char *what, const int32_t *ids, int n);

#endif /* G3_TEST_SMALL_VOCAB_H */
