/* tokenizer_bpe.c: g3_tokenizer_encode: the added-piece split, space
 * normalization, BPE with a priority queue over adjacent pairs, byte fallback.
 *
 * BPE works on one stretch of normalized text at a time, cut further into
 * words before each U+2581 that no merge can reach across (cuts_before),
 * which keeps the heap small and in cache without changing any result.
 * Symbols are spans of that text in a doubly linked list (a merge joins a
 * symbol with its right neighbour and unlinks the neighbour); candidate pairs
 * sit in a binary heap keyed by priority and then by the left symbol's
 * position (leftmost first, like the reference's fractional position bias).
 * An entry goes stale when either side has changed since it was pushed; that
 * is detected on pop by comparing byte sizes, as llama.cpp does. Each merge
 * pushes at most two pairs, so the work is O(n log n).
 *
 * Why scores reproduce the merge ranks (GGUF vs tokenizer.json): Hugging
 * Face's converter lists, for every piece p, all splits p = l + r with both
 * parts in the vocabulary, sorted by (score of p, length of l, length of r),
 * descending; the GGUF score of p is minus the rank of its first merge. For
 * every piece of Gemma 3 except the user-defined whitespace runs the splits
 * of p occupy consecutive ranks, so comparing (score(p), len l, len r) is
 * comparing ranks, and "l + r is a piece" is "(l, r) is a merge" (no piece
 * lacks a merge for any of its splits). The whitespace runs share one original
 * score and their merges interleave; but newlines and tabs never reach BPE
 * (every run of them is an added piece), and a run of U+2581 merges the same
 * way under both orders (left to right into runs of 31). The corpus test
 * checks both paths against each other and against the reference. */
#include "tokenizer_private.h"

typedef struct sym {
    uint32_t start, len; /* bytes of the normalized text; len 0 = merged away */
    uint32_t nch;        /* characters                                        */
    int32_t prev, next;
    int32_t id;          /* vocabulary piece, -1 = none (byte fallback)       */
} sym;

/* 16 bytes: the heap is the hot loop. The right symbol is the left one's
 * next, and the merged piece's length tells a stale entry (see pop). */
typedef struct pair {
    uint64_t key;   /* priority: smaller first */
    int32_t left;
    int32_t result; /* the merged piece */
} pair;

typedef struct enc {
    const g3_tokenizer *t;
    int32_t *out;
    int cap;
    int count;
    /* scratch, grown as needed */
    char *norm;
    size_t norm_cap;
    sym *syms;
    size_t syms_cap;
    pair *heap;
    size_t heap_n, heap_cap;
    bool oom;
} enc;

static void emit(enc *e, int32_t id)
{
    if (e->count < e->cap)
        e->out[e->count] = id;
    e->count++; /* cannot overflow: at most one id per input byte (+ BOS) */
}

static bool pair_less(const pair *a, const pair *b)
{
    return a->key < b->key || (a->key == b->key && a->left < b->left);
}

static void heap_push(enc *e, pair p)
{
    if (e->heap_n == e->heap_cap) {
        const size_t ncap = e->heap_cap ? e->heap_cap * 2 : 256;
        pair *nh = realloc(e->heap, ncap * sizeof(*nh));
        if (!nh) {
            e->oom = true;
            return;
        }
        e->heap = nh;
        e->heap_cap = ncap;
    }
    size_t i = e->heap_n++;
    while (i > 0) {
        const size_t parent = (i - 1) / 2;
        if (!pair_less(&p, &e->heap[parent]))
            break;
        e->heap[i] = e->heap[parent];
        i = parent;
    }
    e->heap[i] = p;
}

static pair heap_pop(enc *e)
{
    const pair top = e->heap[0];
    const pair last = e->heap[--e->heap_n];
    size_t i = 0;
    const size_t n = e->heap_n;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && pair_less(&e->heap[c + 1], &e->heap[c]))
            c++;
        if (!pair_less(&e->heap[c], &last))
            break;
        e->heap[i] = e->heap[c];
        i = c;
    }
    if (n)
        e->heap[i] = last;
    return top;
}

/* Pushes the pair (l, r) when it can merge. */
static void try_pair(enc *e, const char *text, int32_t l, int32_t r)
{
    if (l < 0 || r < 0)
        return;
    const sym *a = &e->syms[l], *b = &e->syms[r];
    if (a->id < 0 || b->id < 0)
        return; /* only vocabulary pieces merge (HF merges name pieces) */
    const g3_tokenizer *t = e->t;
    pair p = {.left = l};
    if (t->by_rank) {
        uint32_t rank;
        if (!g3_tok_merge(t, a->id, b->id, &rank, &p.result))
            return;
        p.key = rank;
    } else {
        p.result = g3_tok_lookup(t, text + a->start, a->len + b->len);
        if (p.result < 0)
            return;
        const uint32_t nl = G3_MIN(a->nch, 0xFFFFu), nr = G3_MIN(b->nch, 0xFFFFu);
        p.key = (uint64_t)t->pc[p.result].score_key << 32 | (0xFFFFu - nl) << 16 |
                (0xFFFFu - nr);
    }
    if (g3_tok_is_special_type(t->pc[p.result].type))
        return; /* control pieces come from PARSE_SPECIAL only */
    heap_push(e, p);
}

static void fallback(enc *e, const char *text, const sym *s)
{
    const g3_tokenizer *t = e->t;
    for (uint32_t i = 0; i < s->len; i++)
        if (t->byte_id[(uint8_t)text[s->start + i]] < 0) {
            /* as the reference: one unknown piece for the whole character */
            if (t->sp.unk >= 0)
                emit(e, t->sp.unk);
            return;
        }
    for (uint32_t i = 0; i < s->len; i++)
        emit(e, t->byte_id[(uint8_t)text[s->start + i]]);
}

static bool grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return true;
    void *np = realloc(*p, need * elem);
    if (!np)
        return false;
    *p = np;
    *cap = need;
    return true;
}

/* Whether no vocabulary piece holds the character cp followed by U+2581, so
 * that no merge can join a symbol ending in cp with one starting with U+2581
 * (any merged symbol is a piece containing both). In Gemma 3 only ">" (in
 * ">\u2581</") and U+2581 itself (the runs) do: nearly every space starts a
 * new word. */
static bool cuts_before(const g3_tokenizer *t, uint32_t cp)
{
    if (cp == UINT32_MAX)
        return true; /* a stray byte never merges */
    if (cp >= 0x10000)
        return !t->pre_u2581_astral;
    return !(t->pre_u2581[cp >> 3] & (1u << (cp & 7)));
}

/* BPE over the word of linked symbols starting at syms[lo], then its ids. */
static void bpe_word(enc *e, const char *text, int32_t lo)
{
    const g3_tokenizer *t = e->t;
    e->heap_n = 0;
    for (int32_t i = lo; e->syms[i].next >= 0; i = e->syms[i].next)
        try_pair(e, text, i, e->syms[i].next);
    while (e->heap_n && !e->oom) {
        const pair p = heap_pop(e);
        /* Stale when either side changed since the push: symbols only grow,
         * and the left one's next changes only when it grows, so the pair is
         * current exactly when the two lengths still add up to the result's. */
        sym *a = &e->syms[p.left];
        if (a->len == 0 || a->next < 0)
            continue;
        sym *b = &e->syms[a->next];
        if (a->len + b->len != t->pc[p.result].len)
            continue;
        a->len += b->len;
        a->nch += b->nch;
        a->id = p.result;
        a->next = b->next;
        if (b->next >= 0)
            e->syms[b->next].prev = p.left;
        b->len = 0;
        try_pair(e, text, a->prev, p.left);
        try_pair(e, text, p.left, a->next);
    }
    if (e->oom)
        return;
    for (int32_t i = lo; i >= 0; i = e->syms[i].next) {
        const sym *s = &e->syms[i];
        if (s->id >= 0)
            emit(e, s->id);
        else
            fallback(e, text, s);
    }
}

/* Normalizes raw[0..n) (' ' -> U+2581), runs BPE and emits the ids. */
static void encode_stretch(enc *e, const char *raw, size_t n)
{
    if (n == 0)
        return;
    const g3_tokenizer *t = e->t;
    size_t spaces = 0;
    for (size_t i = 0; i < n; i++)
        spaces += raw[i] == ' ';
    const size_t m = n + 2 * spaces;
    if (!grow((void **)&e->norm, &e->norm_cap, m, 1) ||
        !grow((void **)&e->syms, &e->syms_cap, n, sizeof(sym))) {
        e->oom = true;
        return;
    }
    char *text = e->norm;
    for (size_t i = 0, j = 0; i < n; i++) {
        if (raw[i] == ' ') {
            memcpy(text + j, "\xE2\x96\x81", 3);
            j += 3;
        } else {
            text[j++] = raw[i];
        }
    }

    /* One symbol per character; each byte of an invalid sequence alone. The
     * stretch is cut into words where no merge can cross (see cuts_before),
     * and each word runs through BPE on its own: same result, smaller heaps. */
    int32_t ns = 0, lo = 0;
    uint32_t prev_cp = UINT32_MAX; /* none / not a character */
    for (size_t i = 0; i < m && !e->oom;) {
        const uint8_t c = (uint8_t)text[i];
        size_t l;
        int32_t id;
        uint32_t cp = c;
        if (c < 0x80) {
            l = 1;
            id = t->ascii_id[c];
        } else {
            l = g3_utf8_len((const uint8_t *)text + i, m - i, &cp);
            if (l) {
                id = g3_tok_lookup(t, text + i, l);
            } else {
                l = 1;
                id = -1; /* not a character: always byte fallback */
                cp = UINT32_MAX;
            }
        }
        if (id >= 0 && g3_tok_is_special_type(t->pc[id].type))
            id = -1;
        if (cp == 0x2581 && ns > lo && cuts_before(t, prev_cp)) {
            e->syms[ns - 1].next = -1;
            bpe_word(e, text, lo);
            lo = ns;
        }
        e->syms[ns] = (sym){.start = (uint32_t)i, .len = (uint32_t)l, .nch = 1,
                            .prev = ns > lo ? ns - 1 : -1, .next = ns + 1, .id = id};
        ns++;
        i += l;
        prev_cp = cp;
    }
    e->syms[ns - 1].next = -1;
    if (!e->oom)
        bpe_word(e, text, lo);
}

/* Longest added piece starting at text[i], honouring PARSE_SPECIAL; its id
 * and length, or -1. */
static int32_t match_added(const g3_tokenizer *t, const uint8_t *text, size_t n, size_t i,
                           bool special, size_t *mlen)
{
    int32_t node = t->root[text[i]], best = -1;
    for (size_t j = i;;) {
        const g3_tok_trie_node *nd = &t->trie[node];
        if (nd->id >= 0 && (nd->always || special)) {
            best = nd->id;
            *mlen = j - i + 1;
        }
        if (++j >= n)
            break;
        node = nd->child;
        while (node >= 0 && t->trie[node].byte != text[j])
            node = t->trie[node].sibling;
        if (node < 0)
            break;
    }
    return best;
}

int g3_tokenizer_encode(const g3_tokenizer *t, const char *text, size_t len, unsigned flags,
                        int32_t *out, int cap)
{
    if (!t || (!text && len) || cap < 0 || (!out && cap > 0) ||
        len > G3_TOK_MAX_TEXT_BYTES)
        return G3_ERR_INVALID_ARG;
    enc e = {.t = t, .out = out, .cap = cap};
    if (flags & G3_TOK_ADD_BOS) {
        if (t->sp.bos < 0)
            return G3_ERR_UNSUPPORTED;
        emit(&e, t->sp.bos);
    }
    const bool special = (flags & G3_TOK_PARSE_SPECIAL) != 0;
    const uint8_t *s = (const uint8_t *)text;
    size_t start = 0;
    for (size_t i = 0; i < len && !e.oom;) {
        if (t->root[s[i]] >= 0) {
            size_t mlen = 0;
            const int32_t id = match_added(t, s, len, i, special, &mlen);
            if (id >= 0) {
                encode_stretch(&e, text + start, i - start);
                emit(&e, id);
                i += mlen;
                start = i;
                continue;
            }
        }
        /* step one character (or one invalid byte): matches start on boundaries */
        size_t l = s[i] < 0x80 ? 1 : g3_utf8_len(s + i, len - i, NULL);
        i += l ? l : 1;
    }
    if (!e.oom)
        encode_stretch(&e, text + start, len - start);
    free(e.norm);
    free(e.syms);
    free(e.heap);
    return e.oom ? G3_ERR_OUT_OF_MEMORY : e.count;
}
