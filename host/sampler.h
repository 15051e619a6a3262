/* sampler.h: token sampling over a logits vector, the way llama.cpp users expect.
 *
 * The chain, in llama.cpp's default order (common/sampling: penalties; top_k;
 * top_p; min_p; temperature; dist):
 *
 *   1. penalties over the last repeat_last_n accepted tokens, for a token seen
 *      `count` times in that window (llama.cpp's penalties sampler):
 *        repetition (llama.cpp): logit = logit <= 0 ? logit * repeat_penalty
 *                                                   : logit / repeat_penalty
 *        frequency/presence (OpenAI): logit -= count * frequency_penalty
 *                                              + (count > 0) * presence_penalty
 *   2. top_k:  keep the k highest logits
 *   3. top_p:  softmax over what is left; keep the smallest prefix (by
 *              probability, descending) whose cumulative probability >= top_p
 *   4. min_p:  keep tokens whose probability >= min_p * the highest one, that is
 *              logit >= max_logit + log(min_p)
 *   5. temperature: logit /= temp
 *   6. dist:   softmax, then one draw from the sampler's own seeded RNG
 *              (xoshiro256**, seeded by splitmix64).
 *
 * Greedy (temp < 0 in the options, G3_SAMPLER_GREEDY): penalties, then argmax
 * with ties to the lowest id; filters are irrelevant since they always keep the
 * maximum. This is llama.cpp's `--temp 0`.
 *
 * Ordering ties: candidates are totally ordered by (logit descending, id
 * ascending), so every filter's result is unique and reproducible.
 *
 * Cost over a 262144-entry vocabulary: the vocabulary is never fully sorted.
 * top_k uses an in-place bounded min-heap selection (one pass, O(n log k)
 * worst case, about n comparisons on model logits) and sorts only the k
 * survivors. top_p without top_k: one O(n) pass computes the softmax mass per
 * logit bucket (4096 buckets of equal width between the smallest and largest
 * finite logit), a walk from the top finds the bucket where the cumulative
 * probability crosses top_p, an O(n) partition moves everything above it and
 * that bucket to the front, and only the crossing bucket is searched for the
 * exact cut: its best 256 candidates are selected and sorted, then a doubling
 * batch from the rest, until the target is reached. So a flat distribution
 * (untrained weights) that keeps most of the vocabulary costs O(n) too. Sets of
 * at most 16384 candidates use the batch search directly. min_p, temperature
 * and the draw are O(candidates) and need no order. The kept set is exactly
 * the one a full sort by (logit desc, id asc) and a cumulative sum would keep
 * (up to rounding of the sums).

 * NaN logits count as -inf and +inf as FLT_MAX, so one bad value cannot poison
 * the softmax; a vector with no finite logit is an error.
 *
 * Thread-safety: one sampler per thread at a time. */
#ifndef G3_SAMPLER_H
#define G3_SAMPLER_H

#include "g3_internal.h"

/* Values that switch a stage off where zero already means "default". */
#define G3_SAMPLER_OFF (-1)      /* top_k, min_p, repeat_last_n              */
#define G3_SAMPLER_GREEDY (-1.0f) /* temp: argmax (llama.cpp's --temp 0)     */

/* Zero-initialize and set what you need; each field's zero value means the
 * default written next to it (llama.cpp's CLI defaults). */
typedef struct g3_sampler_options {
    float temp;              /* 0 = 0.8; < 0 (G3_SAMPLER_GREEDY) = greedy          */
    int top_k;               /* 0 = 40; < 0 (G3_SAMPLER_OFF) = off; > n_vocab = off */
    float top_p;             /* 0 = 0.95; 1 = off; must be in [0, 1]               */
    float min_p;             /* 0 = 0.05; < 0 (G3_SAMPLER_OFF) = off; must be <= 1  */
    float repeat_penalty;    /* 0 = 1.0 (off); otherwise must be > 0               */
    int repeat_last_n;       /* 0 = 64; < 0 (G3_SAMPLER_OFF) = no penalties at all;
                                at most G3_SAMPLER_MAX_LAST_N                       */
    float frequency_penalty; /* 0 = off; any finite value (OpenAI: -2..2)           */
    float presence_penalty;  /* 0 = off; any finite value                           */
    bool has_seed;           /* false = seed from the clock (see g3_sampler_seed)   */
    uint64_t seed;           /* used when has_seed; every value, 0 included, valid   */
} g3_sampler_options;

#define G3_SAMPLER_MAX_LAST_N (1 << 20)

/* One candidate of the final distribution. */
typedef struct g3_sampler_cand {
    int32_t id;
    float logit; /* after penalties and temperature */
    float p;     /* probability; the candidates' p sum to 1 */
} g3_sampler_cand;

typedef struct g3_sampler g3_sampler;

/* Applies the defaults and checks ranges: the one place where zero becomes a
 * default. Resolved values: temp > 0 or temp < 0 (greedy); top_k >= 0 (0 = off);
 * top_p in (0, 1]; min_p in [0, 1] (0 = off); repeat_penalty > 0;
 * repeat_last_n >= 0 (0 = off); has_seed true with the seed actually used.
 * G3_ERR_INVALID_ARG with a message naming the field for a bad value. */
g3_status g3_sampler_options_resolve(const g3_sampler_options *opt, g3_sampler_options *out,
                                     g3_err *err);

/* opt may be NULL (all defaults). *out is NULL on failure. */
g3_status g3_sampler_create(const g3_sampler_options *opt, g3_sampler **out, g3_err *err);
void g3_sampler_free(g3_sampler *s);

/* Runs the chain over n_vocab logits and draws a token. The caller's logits are
 * not modified: the sampler works in a scratch buffer allocated on the first
 * call (and again only if a later call has a larger n_vocab). Does not record
 * the token: call g3_sampler_accept() for that. Returns the token id, or -1
 * with g3_sampler_last_error() set (NULL logits, n_vocab <= 0, no finite
 * logit, out of memory). */
int32_t g3_sampler_sample(g3_sampler *s, const float *logits, int n_vocab);

/* The final candidate distribution the draw would use (for tests and
 * debugging), without drawing (the RNG does not advance). *cands is borrowed
 * until the next call on s; in no particular order (greedy: one candidate
 * with p = 1). */
g3_status g3_sampler_dist(g3_sampler *s, const float *logits, int n_vocab,
                          const g3_sampler_cand **cands, int *n_cands);

/* Records a token in the penalty history (a ring of repeat_last_n tokens).
 * llama.cpp accepts the prompt tokens too; do the same for the same results. */
void g3_sampler_accept(g3_sampler *s, int32_t token);

/* Clears the history and restarts the RNG from the seed, so that a reset
 * sampler repeats its draws. */
void g3_sampler_reset(g3_sampler *s);

/* The resolved options (the seed in use included, to print for reruns). */
const g3_sampler_options *g3_sampler_get_options(const g3_sampler *s);
uint64_t g3_sampler_seed(const g3_sampler *s);

/* One line describing the chain, e.g. "penalties(last_n=64 repeat=1.000 freq=0.000
 * presence=0.000) -> top_k=40 -> top_p=0.950 -> min_p=0.050 -> temp=0.800 -> dist(seed=42)";
 * snprintf semantics. */
void g3_sampler_describe(const g3_sampler *s, char *buf, size_t cap);

/* Detail of the last failure of g3_sampler_sample / g3_sampler_dist; "" if none. */
const char *g3_sampler_last_error(const g3_sampler *s);

#endif /* G3_SAMPLER_H */
