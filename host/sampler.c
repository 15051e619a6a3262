/* sampler.c: the sampling chain of sampler.h. The candidate array is the one
 * scratch buffer: it starts in id order (so penalties index it by token), the
 * filters shrink and partially order it, the draw walks it. */
#include <float.h>
#include <math.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "sampler.h"

/* Logit buckets of the top_p cut over large unsorted sets (see top_p_cut). */
#define G3_SAMPLER_BUCKETS 4096

struct g3_sampler {
    g3_sampler_options o;   /* resolved                                       */
    uint64_t rng[4];        /* xoshiro256** state                             */
    int32_t *hist;          /* ring of the last o.repeat_last_n accepted ids  */
    int32_t *win;           /* scratch copy of the ring, sorted to count      */
    int hist_len, hist_pos;
    g3_sampler_cand *cand;  /* n_vocab scratch candidates                     */
    int cand_cap;
    double bmass[G3_SAMPLER_BUCKETS]; /* top_p: probability mass per bucket   */
    g3_err err;
};

/* ---- RNG: splitmix64 seeds xoshiro256** (both public domain, Vigna) ----- */

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static uint64_t rotl64(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t xoshiro_next(uint64_t st[4])
{
    const uint64_t result = rotl64(st[1] * 5, 7) * 9;
    const uint64_t t = st[1] << 17;
    st[2] ^= st[0];
    st[3] ^= st[1];
    st[1] ^= st[2];
    st[0] ^= st[3];
    st[2] ^= t;
    st[3] = rotl64(st[3], 45);
    return result;
}

/* Uniform in [0, 1) with 53 random bits. */
static double rng_uniform(uint64_t st[4]) { return (double)(xoshiro_next(st) >> 11) * 0x1.0p-53; }

static void rng_seed(g3_sampler *s)
{
    uint64_t x = s->o.seed;
    for (int i = 0; i < 4; i++)
        s->rng[i] = splitmix64(&x); /* never all zero: splitmix64 is a bijection of distinct inputs */
}

/* A seed nobody asked for: wall clock, an address (ASLR) and a process-wide
 * counter, so that two samplers created in the same nanosecond still differ. */
static uint64_t clock_seed(void)
{
    static atomic_uint_fast64_t counter;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t x = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
    x ^= (uint64_t)(uintptr_t)&ts;
    x += atomic_fetch_add(&counter, 1) * 0xD1B54A32D192ED03ull;
    return splitmix64(&x);
}

/* ---- options -------------------------------------------------------------- */

g3_status g3_sampler_options_resolve(const g3_sampler_options *opt, g3_sampler_options *out,
                                     g3_err *err)
{
    g3_sampler_options o;
    if (opt)
        o = *opt;
    else
        memset(&o, 0, sizeof(o));

    if (!isfinite(o.temp))
        return g3_err_set(err, G3_ERR_INVALID_ARG, "sampler: temp must be finite (got %g)",
                          (double)o.temp);
    if (o.temp == 0.0f)
        o.temp = 0.8f;
    else if (o.temp < 0.0f)
        o.temp = G3_SAMPLER_GREEDY;

    if (o.top_k == 0)
        o.top_k = 40;
    else if (o.top_k < 0)
        o.top_k = 0;

    if (!(o.top_p >= 0.0f && o.top_p <= 1.0f)) /* also catches NaN */
        return g3_err_set(err, G3_ERR_INVALID_ARG,
                          "sampler: top_p must be in [0, 1] (0 = default 0.95, 1 = off), got %g",
                          (double)o.top_p);
    if (o.top_p == 0.0f)
        o.top_p = 0.95f;

    if (isnan(o.min_p) || o.min_p > 1.0f)
        return g3_err_set(err, G3_ERR_INVALID_ARG,
                          "sampler: min_p must be <= 1 (0 = default 0.05, negative = off), got %g",
                          (double)o.min_p);
    if (o.min_p == 0.0f)
        o.min_p = 0.05f;
    else if (o.min_p < 0.0f)
        o.min_p = 0.0f;

    if (!(o.repeat_penalty >= 0.0f) || !isfinite(o.repeat_penalty))
        return g3_err_set(err, G3_ERR_INVALID_ARG,
                          "sampler: repeat_penalty must be finite and > 0 (0 = default 1.0), got %g",
                          (double)o.repeat_penalty);
    if (o.repeat_penalty == 0.0f)
        o.repeat_penalty = 1.0f;

    if (o.repeat_last_n > G3_SAMPLER_MAX_LAST_N)
        return g3_err_set(err, G3_ERR_INVALID_ARG,
                          "sampler: repeat_last_n %d exceeds the limit %d", o.repeat_last_n,
                          G3_SAMPLER_MAX_LAST_N);
    if (o.repeat_last_n == 0)
        o.repeat_last_n = 64;
    else if (o.repeat_last_n < 0)
        o.repeat_last_n = 0;

    if (!isfinite(o.frequency_penalty) || !isfinite(o.presence_penalty))
        return g3_err_set(err, G3_ERR_INVALID_ARG,
                          "sampler: frequency_penalty (%g) and presence_penalty (%g) must be finite",
                          (double)o.frequency_penalty, (double)o.presence_penalty);

    if (!o.has_seed) {
        o.has_seed = true;
        o.seed = clock_seed();
    }
    *out = o;
    return G3_OK;
}

g3_status g3_sampler_create(const g3_sampler_options *opt, g3_sampler **out, g3_err *err)
{
    *out = NULL;
    g3_sampler_options o;
    g3_status st = g3_sampler_options_resolve(opt, &o, err);
    if (st != G3_OK)
        return st;
    g3_sampler *s = calloc(1, sizeof(*s));
    if (!s)
        return g3_err_set(err, G3_ERR_OUT_OF_MEMORY, "sampler: out of memory");
    s->o = o;
    if (o.repeat_last_n > 0) {
        s->hist = malloc((size_t)o.repeat_last_n * sizeof(*s->hist));
        s->win = malloc((size_t)o.repeat_last_n * sizeof(*s->win));
        if (!s->hist || !s->win) {
            g3_sampler_free(s);
            return g3_err_set(err, G3_ERR_OUT_OF_MEMORY,
                              "sampler: out of memory for a history of %d tokens",
                              o.repeat_last_n);
        }
    }
    rng_seed(s);
    *out = s;
    return G3_OK;
}

void g3_sampler_free(g3_sampler *s)
{
    if (!s)
        return;
    free(s->hist);
    free(s->win);
    free(s->cand);
    free(s);
}

void g3_sampler_accept(g3_sampler *s, int32_t token)
{
    if (!s || s->o.repeat_last_n == 0)
        return;
    s->hist[s->hist_pos] = token;
    s->hist_pos = (s->hist_pos + 1) % s->o.repeat_last_n;
    if (s->hist_len < s->o.repeat_last_n)
        s->hist_len++;
}

void g3_sampler_reset(g3_sampler *s)
{
    if (!s)
        return;
    s->hist_len = s->hist_pos = 0;
    rng_seed(s);
}

const g3_sampler_options *g3_sampler_get_options(const g3_sampler *s) { return &s->o; }
uint64_t g3_sampler_seed(const g3_sampler *s) { return s->o.seed; }
const char *g3_sampler_last_error(const g3_sampler *s) { return s ? s->err.msg : ""; }

void g3_sampler_describe(const g3_sampler *s, char *buf, size_t cap)
{
    if (!buf || cap == 0)
        return;
    const g3_sampler_options *o = &s->o;
    char k[32] = "off", p[32] = "off", m[32] = "off", pen[160];
    if (o->top_k > 0)
        snprintf(k, sizeof(k), "%d", o->top_k);
    if (o->top_p < 1.0f)
        snprintf(p, sizeof(p), "%.3f", (double)o->top_p);
    if (o->min_p > 0.0f)
        snprintf(m, sizeof(m), "%.3f", (double)o->min_p);
    snprintf(pen, sizeof(pen), "penalties(last_n=%d repeat=%.3f freq=%.3f presence=%.3f) -> ",
             o->repeat_last_n, (double)o->repeat_penalty, (double)o->frequency_penalty,
             (double)o->presence_penalty);
    if (o->temp < 0.0f)
        snprintf(buf, cap, "%sgreedy", pen);
    else
        snprintf(buf, cap, "%stop_k=%s -> top_p=%s -> min_p=%s -> temp=%.3f -> dist(seed=%llu)",
                 pen, k, p, m, (double)o->temp, (unsigned long long)o->seed);
}

/* ---- candidate ordering and selection -------------------------------------- */

/* The total order of every filter: higher logit first, then lower id. */
static inline bool better(const g3_sampler_cand *a, const g3_sampler_cand *b)
{
    return a->logit > b->logit || (a->logit == b->logit && a->id < b->id);
}

static int cmp_cand(const void *pa, const void *pb)
{
    const g3_sampler_cand *a = pa, *b = pb;
    return better(a, b) ? -1 : better(b, a) ? 1 : 0;
}

/* Restores the heap below i: a min-heap whose root is the WORST of the kept set. */
static void sift_down(g3_sampler_cand *h, int k, int i)
{
    for (;;) {
        int w = i;
        const int l = 2 * i + 1, r = l + 1;
        if (l < k && better(&h[w], &h[l]))
            w = l;
        if (r < k && better(&h[w], &h[r]))
            w = r;
        if (w == i)
            return;
        const g3_sampler_cand t = h[i];
        h[i] = h[w];
        h[w] = t;
        i = w;
    }
}

/* Moves the k best of a[0..n) into a[0..k) (unordered), in place. One pass with
 * a bounded min-heap: an element that does not beat the worst kept one costs a
 * single comparison, which is nearly all of them on real logits. */
static void select_top(g3_sampler_cand *a, int n, int k)
{
    if (k <= 0 || k >= n)
        return;
    for (int i = k / 2 - 1; i >= 0; i--)
        sift_down(a, k, i);
    for (int i = k; i < n; i++) {
        if (better(&a[i], &a[0])) {
            const g3_sampler_cand t = a[0];
            a[0] = a[i];
            a[i] = t;
            sift_down(a, k, 0);
        }
    }
}

static void sort_cands(g3_sampler_cand *a, int n)
{
    if (n > 1)
        qsort(a, (size_t)n, sizeof(*a), cmp_cand);
}

/* ---- the chain ----------------------------------------------------------- */

static int cmp_i32(const void *pa, const void *pb)
{
    const int32_t a = *(const int32_t *)pa, b = *(const int32_t *)pb;
    return (a > b) - (a < b);
}

/* Penalties need cand in id order (cand[t].id == t). Counting sorts a copy of
 * the window (at most repeat_last_n ids) instead of touching n_vocab counters. */
static void apply_penalties(g3_sampler *s, int n_vocab)
{
    const g3_sampler_options *o = &s->o;
    if (s->hist_len == 0 ||
        (o->repeat_penalty == 1.0f && o->frequency_penalty == 0.0f && o->presence_penalty == 0.0f))
        return;
    memcpy(s->win, s->hist, (size_t)s->hist_len * sizeof(*s->win));
    qsort(s->win, (size_t)s->hist_len, sizeof(*s->win), cmp_i32);
    for (int i = 0; i < s->hist_len;) {
        const int32_t t = s->win[i];
        int j = i;
        while (j < s->hist_len && s->win[j] == t)
            j++;
        const int count = j - i;
        i = j;
        if (t < 0 || t >= n_vocab)
            continue; /* accepted ids outside this vocabulary have no logit */
        float l = s->cand[t].logit;
        if (l == -INFINITY)
            continue;
        l = l <= 0.0f ? l * o->repeat_penalty : l / o->repeat_penalty;
        l -= (float)count * o->frequency_penalty + (float)(count > 0) * o->presence_penalty;
        /* A finite logit stays finite: the softmax needs one finite maximum. */
        s->cand[t].logit = isnan(l)       ? -FLT_MAX
                           : l > FLT_MAX  ? FLT_MAX
                           : l < -FLT_MAX ? -FLT_MAX
                                          : l;
    }
}

/* The cut of top_p inside a[0..n), given the mass `cum` of what is already
 * kept above it: the count of a's best candidates to keep, n when the target
 * is never reached (rounding). Unsorted input is never fully sorted: batches
 * of the best remaining candidates (256, then doubling) are selected and sorted
 * until the cumulative mass reaches the target; a[0..result) ends up sorted. */
static int grow_cut(g3_sampler_cand *a, int n, bool sorted, double maxl, double cum,
                    double target)
{
    int done = 0, batch = sorted ? n : 256;
    while (done < n) {
        const int end = batch >= n - done ? n : done + batch;
        if (!sorted) {
            select_top(a + done, n - done, end - done);
            sort_cands(a + done, end - done);
        }
        for (int i = done; i < end; i++) {
            cum += exp((double)a[i].logit - maxl);
            if (cum >= target)
                return i + 1;
        }
        done = end;
        batch = batch > INT32_MAX / 2 ? INT32_MAX : batch * 2;
    }
    return n;
}

/* Bucket of a logit: 0 holds the maximum; monotone, so bucket order never
 * contradicts logit order. -inf lands in the last bucket. */
static inline int bucket_of(float l, double maxl, double scale)
{
    const double x = (maxl - (double)l) * scale;
    return x >= (double)(G3_SAMPLER_BUCKETS - 1) ? G3_SAMPLER_BUCKETS - 1 : (int)x;
}

/* top_p over a[0..n): returns how many to keep, moved to the front; *sorted
 * says whether they are in order. A large unsorted set is cut without
 * sorting it: one pass puts the probability mass into G3_SAMPLER_BUCKETS
 * buckets of equal logit width, a walk from the top finds the bucket where the
 * cumulative mass crosses top_p, a partition moves the buckets above it and
 * that bucket to the front, and only that bucket is searched for the exact
 * cut. O(n) however many candidates are kept (the flat distributions of
 * untrained models keep most of the vocabulary). */
static int top_p_cut(g3_sampler *s, g3_sampler_cand *a, int n, bool *sorted, double top_p)
{
    double maxl = a[0].logit, minl = INFINITY;
    for (int i = 0; i < n && !*sorted; i++) {
        const double l = a[i].logit;
        maxl = l > maxl ? l : maxl;
        minl = l < minl && l != -INFINITY ? l : minl;
    }
    if (*sorted || n <= 4 * G3_SAMPLER_BUCKETS || !(maxl > minl)) {
        double sum = 0.0;
        for (int i = 0; i < n; i++)
            sum += exp((double)a[i].logit - maxl);
        const int k = grow_cut(a, n, *sorted, maxl, 0.0, top_p * sum);
        *sorted = true; /* grow_cut sorted everything it returns */
        return k;
    }
    const double scale = (double)G3_SAMPLER_BUCKETS / (maxl - minl);
    double *mass = s->bmass, sum = 0.0;
    memset(mass, 0, sizeof(s->bmass));
    for (int i = 0; i < n; i++) {
        const double e = exp((double)a[i].logit - maxl);
        mass[bucket_of(a[i].logit, maxl, scale)] += e;
        sum += e;
    }
    const double target = top_p * sum;
    double cum = 0.0;
    int bb = 0;
    while (bb < G3_SAMPLER_BUCKETS && cum + mass[bb] < target)
        cum += mass[bb++];
    *sorted = false;
    if (bb == G3_SAMPLER_BUCKETS)
        return n; /* rounding kept the total short of the target: keep everything */
    int above = 0, end;
    for (int i = 0; i < n; i++) {
        if (bucket_of(a[i].logit, maxl, scale) < bb) {
            const g3_sampler_cand t = a[above];
            a[above++] = a[i];
            a[i] = t;
        }
    }
    end = above;
    for (int i = above; i < n; i++) {
        if (bucket_of(a[i].logit, maxl, scale) == bb) {
            const g3_sampler_cand t = a[end];
            a[end++] = a[i];
            a[i] = t;
        }
    }
    return above + grow_cut(a + above, end - above, false, maxl, cum, target);
}

/* Runs everything but the draw; leaves the final candidates in s->cand with p set. */
static g3_status run_chain(g3_sampler *s, const float *logits, int n_vocab, int *n_out)
{
    s->err.status = G3_OK;
    s->err.msg[0] = 0;
    if (!logits || n_vocab <= 0)
        return g3_err_set(&s->err, G3_ERR_INVALID_ARG, "sampler: %s",
                          logits ? "n_vocab must be > 0" : "logits is NULL");
    if (n_vocab > s->cand_cap) {
        g3_sampler_cand *c = realloc(s->cand, (size_t)n_vocab * sizeof(*c));
        if (!c)
            return g3_err_set(&s->err, G3_ERR_OUT_OF_MEMORY,
                              "sampler: out of memory for %d candidates", n_vocab);
        s->cand = c;
        s->cand_cap = n_vocab;
    }
    g3_sampler_cand *c = s->cand;
    bool any_finite = false;
    for (int i = 0; i < n_vocab; i++) {
        float l = logits[i];
        if (isnan(l))
            l = -INFINITY;
        else if (l == INFINITY)
            l = FLT_MAX;
        any_finite |= l != -INFINITY;
        c[i].id = i;
        c[i].logit = l;
        c[i].p = 0.0f;
    }
    if (!any_finite)
        return g3_err_set(&s->err, G3_ERR_INVALID_ARG,
                          "sampler: none of the %d logits is finite", n_vocab);
    apply_penalties(s, n_vocab);

    const g3_sampler_options *o = &s->o;
    int n = n_vocab;
    if (o->temp < 0.0f) {
        int best = 0;
        float bv = c[0].logit;
        for (int i = 1; i < n; i++) {
            if (c[i].logit > bv) { /* strict: ties keep the lowest id */
                bv = c[i].logit;
                best = i;
            }
        }
        c[0] = c[best];
        c[0].p = 1.0f;
        *n_out = 1;
        return G3_OK;
    }

    bool sorted = false;
    if (o->top_k > 0 && o->top_k < n) {
        select_top(c, n, o->top_k);
        n = o->top_k;
        sort_cands(c, n);
        sorted = true;
    }
    if (o->top_p < 1.0f)
        n = top_p_cut(s, c, n, &sorted, o->top_p);
    if (o->min_p > 0.0f) {
        double maxl = c[0].logit;
        for (int i = 1; i < n && !sorted; i++)
            if (c[i].logit > maxl)
                maxl = c[i].logit;
        const double thr = maxl + log((double)o->min_p);
        int m = 0;
        for (int i = 0; i < n; i++) /* stable: keeps the order of a sorted prefix */
            if ((double)c[i].logit >= thr)
                c[m++] = c[i];
        n = m; /* >= 1: the maximum always passes */
    }

    /* Temperature, then the softmax of the draw, in double so that a large
     * logit over a small temperature cannot overflow into inf - inf. */
    const double inv_t = 1.0 / (double)o->temp;
    double maxx = -INFINITY;
    for (int i = 0; i < n; i++)
        if ((double)c[i].logit * inv_t > maxx)
            maxx = (double)c[i].logit * inv_t;
    double sum = 0.0;
    for (int i = 0; i < n; i++) {
        const double x = (double)c[i].logit * inv_t, e = exp(x - maxx);
        sum += e;
        c[i].p = (float)e;
        c[i].logit = (float)x;
    }
    const double inv_sum = 1.0 / sum;
    for (int i = 0; i < n; i++)
        c[i].p = (float)(c[i].p * inv_sum);
    *n_out = n;
    return G3_OK;
}

g3_status g3_sampler_dist(g3_sampler *s, const float *logits, int n_vocab,
                          const g3_sampler_cand **cands, int *n_cands)
{
    int n = 0;
    g3_status st = run_chain(s, logits, n_vocab, &n);
    *cands = st == G3_OK ? s->cand : NULL;
    *n_cands = st == G3_OK ? n : 0;
    return st;
}

int32_t g3_sampler_sample(g3_sampler *s, const float *logits, int n_vocab)
{
    int n = 0;
    if (run_chain(s, logits, n_vocab, &n) != G3_OK)
        return -1;
    if (s->o.temp < 0.0f)
        return s->cand[0].id; /* greedy: nothing to draw */
    /* Inverse CDF over the stored probabilities, summed in double; the last
     * candidate with p > 0 absorbs rounding. */
    double total = 0.0;
    for (int i = 0; i < n; i++)
        total += s->cand[i].p;
    const double u = rng_uniform(s->rng) * total;
    double cum = 0.0;
    int last = 0;
    for (int i = 0; i < n; i++) {
        if (s->cand[i].p <= 0.0f)
            continue;
        last = i;
        cum += s->cand[i].p;
        if (u < cum)
            return s->cand[i].id;
    }
    return s->cand[last].id;
}
