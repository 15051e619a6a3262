/* stop.c: the streaming stop-string matcher of stop.h.
 *
 * State: `pend`, the held-back tail (shorter than the longest stop string) to
 * which each piece is appended. All possible match starts lie in pend: a start
 * in already released text would have made that text a prefix of a stop string
 * and it would have been held back. So each feed scans pend only. */
#include <string.h>

#include "stop.h"

struct g3_stop {
    char **s;          /* stop strings                                  */
    size_t *len;
    int n;
    size_t max_len;    /* longest stop string                           */
    char *pend;        /* held-back tail + the current piece            */
    size_t pend_len, pend_cap;
    char *outbuf;      /* what the last call released                   */
    size_t out_cap;
    uint64_t released; /* bytes released before pend[0]                 */
    bool stopped;
    int which;
    uint64_t match_offset;
};

g3_status g3_stop_create(const char *const *stops, int n_stops, g3_stop **out, g3_err *err)
{
    *out = NULL;
    if (n_stops < 0 || (n_stops > 0 && !stops))
        return g3_err_set(err, G3_ERR_INVALID_ARG, "stop strings: bad list (%d entries)",
                          n_stops);
    for (int i = 0; i < n_stops; i++)
        if (!stops[i] || !stops[i][0])
            return g3_err_set(err, G3_ERR_INVALID_ARG,
                              "stop string %d is empty: it would match everywhere", i);
    g3_stop *st = calloc(1, sizeof(*st));
    if (!st)
        return g3_err_set(err, G3_ERR_OUT_OF_MEMORY, "stop strings: out of memory");
    st->which = -1;
    if (n_stops > 0) {
        st->s = calloc((size_t)n_stops, sizeof(*st->s));
        st->len = calloc((size_t)n_stops, sizeof(*st->len));
        if (!st->s || !st->len) {
            g3_stop_free(st);
            return g3_err_set(err, G3_ERR_OUT_OF_MEMORY, "stop strings: out of memory");
        }
        st->n = n_stops;
        for (int i = 0; i < n_stops; i++) {
            st->len[i] = strlen(stops[i]);
            st->max_len = G3_MAX(st->max_len, st->len[i]);
            st->s[i] = malloc(st->len[i] + 1);
            if (!st->s[i]) {
                g3_stop_free(st);
                return g3_err_set(err, G3_ERR_OUT_OF_MEMORY, "stop strings: out of memory");
            }
            memcpy(st->s[i], stops[i], st->len[i] + 1);
        }
    }
    *out = st;
    return G3_OK;
}

void g3_stop_free(g3_stop *st)
{
    if (!st)
        return;
    for (int i = 0; i < st->n; i++)
        free(st->s[i]);
    free(st->s);
    free(st->len);
    free(st->pend);
    free(st->outbuf);
    free(st);
}

void g3_stop_reset(g3_stop *st)
{
    st->pend_len = 0;
    st->released = 0;
    st->stopped = false;
    st->which = -1;
    st->match_offset = 0;
}

static bool reserve(char **buf, size_t *cap, size_t need)
{
    if (need <= *cap)
        return true;
    size_t c = *cap ? *cap : 64;
    while (c < need)
        c = c > SIZE_MAX / 2 ? need : c * 2;
    char *b = realloc(*buf, c);
    if (!b)
        return false;
    *buf = b;
    *cap = c;
    return true;
}

/* Releases pend[0..n) as the output and keeps pend[n..) pending, or drops it
 * when drop_rest. The two buffers swap roles, so a release that keeps nothing
 * allocates nothing (flush cannot fail). */
static g3_status release(g3_stop *st, size_t n, bool drop_rest, g3_stop_out *out)
{
    const size_t rest = drop_rest ? 0 : st->pend_len - n;
    if (rest > 0) {
        if (!reserve(&st->outbuf, &st->out_cap, rest))
            return G3_ERR_OUT_OF_MEMORY;
        memcpy(st->outbuf, st->pend + n, rest);
    }
    char *b = st->outbuf;
    const size_t c = st->out_cap;
    st->outbuf = st->pend;
    st->out_cap = st->pend_cap;
    st->pend = b;
    st->pend_cap = c;
    st->pend_len = rest;
    st->released += n;
    out->text = n ? st->outbuf : "";
    out->len = n;
    return G3_OK;
}

/* Could a stop string starting at pend[i] still complete and win over the
 * complete match (best, which)? It wins when it starts earlier, or at the same
 * place and is listed first. Waiting for it makes the result independent of
 * how the text was cut into pieces. */
static bool pending_rival(const g3_stop *st, size_t i, size_t best, int which)
{
    const size_t tail = st->pend_len - i;
    for (int k = 0; k < st->n; k++)
        if (tail < st->len[k] && (i < best || k < which) &&
            memcmp(st->pend + i, st->s[k], tail) == 0)
            return true;
    return false;
}

/* The decision over pend: stop at the earliest complete match unless a rival
 * may still complete; otherwise release all but a tail that may still match. */
static g3_status scan(g3_stop *st, bool at_end, g3_stop_out *out)
{
    size_t best = SIZE_MAX;
    int which = -1;
    for (int k = 0; k < st->n; k++) {
        const size_t m = st->len[k];
        for (size_t i = 0; m <= st->pend_len && i <= st->pend_len - m && i < best; i++) {
            if (memcmp(st->pend + i, st->s[k], m) == 0) {
                best = i;
                which = k;
                break;
            }
        }
    }
    size_t hold = SIZE_MAX;
    if (!at_end) {
        /* Only a tail shorter than the longest stop string can be a prefix. */
        const size_t first = st->pend_len >= st->max_len ? st->pend_len - st->max_len + 1 : 0;
        for (size_t i = first; i < st->pend_len && i <= best; i++) {
            if (pending_rival(st, i, best, which)) {
                hold = i;
                break;
            }
        }
    }
    g3_status s;
    if (hold != SIZE_MAX) {
        s = release(st, hold, false, out);
    } else if (best != SIZE_MAX) {
        st->stopped = true;
        st->which = which;
        st->match_offset = st->released + best;
        s = release(st, best, true, out); /* drops the stop string and what followed */
    } else {
        s = release(st, st->pend_len, false, out);
    }
    out->stopped = st->stopped;
    out->which = st->which;
    out->match_offset = st->match_offset;
    return s;
}

static void init_out(const g3_stop *st, g3_stop_out *out)
{
    memset(out, 0, sizeof(*out));
    out->text = "";
    out->stopped = st->stopped;
    out->which = st->which;
    out->match_offset = st->match_offset;
}

g3_status g3_stop_feed(g3_stop *st, const char *piece, size_t len, g3_stop_out *out)
{
    init_out(st, out);
    if (st->stopped || len == 0)
        return G3_OK;
    if (!reserve(&st->pend, &st->pend_cap, st->pend_len + len))
        return G3_ERR_OUT_OF_MEMORY;
    memcpy(st->pend + st->pend_len, piece, len);
    st->pend_len += len;
    return scan(st, false, out);
}

g3_stop_out g3_stop_flush(g3_stop *st)
{
    g3_stop_out out;
    init_out(st, &out);
    if (!st->stopped && st->pend_len > 0)
        (void)scan(st, true, &out); /* releases without keeping: cannot fail */
    return out;
}
