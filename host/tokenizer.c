/* tokenizer.c: building a g3_tokenizer from GGUF metadata or a g3_vocab, and
 * the vocabulary queries. Encoding lives in tokenizer_bpe.c, decoding in
 * tokenizer_decode.c. */
#include "tokenizer_private.h"

#include <math.h>

/* Where the pieces come from: GGUF string arrays or g3_vocab arrays. */
typedef struct piece_src {
    const g3_gguf_kv *tokens; /* GGUF: tokens, scores, types */
    const g3_gguf_kv *scores;
    const g3_gguf_kv *types;
    const g3_vocab *v;        /* or a vocabulary             */
    const char *what;         /* names for messages          */
    const char *tokens_key, *scores_key, *types_key;
} piece_src;

static const char *src_piece(const piece_src *s, uint32_t i, uint64_t *len)
{
    if (s->v) {
        *len = s->v->lens[i];
        return s->v->pieces[i];
    }
    return g3_gguf_arr_str(s->tokens, i, len);
}

static float src_score(const piece_src *s, uint32_t i)
{
    return s->v ? s->v->scores[i] : g3_gguf_arr_f32(s->scores, i);
}

static int32_t src_type(const piece_src *s, uint32_t i)
{
    return s->v ? s->v->types[i] : g3_gguf_arr_i32(s->types, i);
}

/* Scores as unsigned keys where a smaller key means a higher score (IEEE bit
 * trick), so BPE priorities compare as integers. -0.0 counts as 0.0. */
static uint32_t score_to_key(float s)
{
    if (s == 0.0f)
        s = 0.0f;
    uint32_t b;
    memcpy(&b, &s, 4);
    b = (b & 0x80000000u) ? ~b : (b | 0x80000000u); /* ascending with the score */
    return ~b;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* "<0xNN>" -> NN, or -1. */
static int byte_piece_value(const char *s, size_t len)
{
    if (len != 6 || memcmp(s, "<0x", 3) || s[5] != '>')
        return -1;
    const int hi = hexval(s[3]), lo = hexval(s[4]);
    return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

static uint32_t pow2_at_least(uint64_t n)
{
    uint32_t p = 16;
    while (p < n)
        p <<= 1;
    return p;
}

static g3_status trie_add(g3_tokenizer *t, const uint8_t *s, uint32_t n, int32_t id, bool always,
                          uint32_t *cap, g3_err *err)
{
    int32_t node = -1; /* the parent; -1 = the root, whose children are root[] */
    for (uint32_t i = 0; i < n; i++) {
        int32_t c = node < 0 ? t->root[s[0]] : t->trie[node].child;
        while (c >= 0 && t->trie[c].byte != s[i])
            c = t->trie[c].sibling;
        if (c < 0) {
            if (t->n_trie == *cap) {
                const uint32_t ncap = *cap ? *cap * 2 : 1024;
                g3_tok_trie_node *nt = realloc(t->trie, ncap * sizeof(*nt));
                if (!nt)
                    return g3_err_set(err, G3_ERR_OUT_OF_MEMORY, "tokenizer: out of memory");
                t->trie = nt;
                *cap = ncap;
            }
            c = (int32_t)t->n_trie++;
            /* pointers into t->trie would not survive the realloc: index by node */
            int32_t *first = node < 0 ? &t->root[s[0]] : &t->trie[node].child;
            t->trie[c] = (g3_tok_trie_node){.child = -1, .sibling = *first, .id = -1,
                                            .byte = s[i]};
            *first = c;
        }
        node = c;
    }
    if (t->trie[node].id < 0) { /* duplicates: the first id wins */
        t->trie[node].id = id;
        t->trie[node].always = always;
    }
    return G3_OK;
}

/* Fills pre_u2581: every character that some piece holds right before a
 * U+2581. A byte that does not decode as a character there (pieces may be any
 * bytes) marks every character: encoding then never cuts. */
static void mark_pre_u2581(g3_tokenizer *t)
{
    for (uint32_t id = 0; id < t->n; id++) {
        const uint8_t *p = (const uint8_t *)t->blob + t->pc[id].off;
        const uint32_t n = t->pc[id].len;
        for (uint32_t i = 1; i + 3 <= n; i++) {
            if (p[i] != 0xE2 || p[i + 1] != 0x96 || p[i + 2] != 0x81)
                continue;
            uint32_t s = i - 1, cp = 0;
            while (s > 0 && i - s < 4 && (p[s] & 0xC0) == 0x80)
                s--;
            if (g3_utf8_len(p + s, i - s, &cp) != i - s) {
                memset(t->pre_u2581, 0xFF, sizeof(t->pre_u2581));
                t->pre_u2581_astral = true;
                return;
            }
            if (cp >= 0x10000)
                t->pre_u2581_astral = true;
            else
                t->pre_u2581[cp >> 3] |= (uint8_t)(1u << (cp & 7));
        }
    }
}

/* The common part: copies and validates the pieces, builds the lookups. */
static g3_status build(g3_tokenizer *t, const piece_src *s, uint32_t n, g3_err *err)
{
    if (n == 0)
        return g3_err_set(err, G3_ERR_FORMAT, "%s: %s: empty vocabulary", s->what, s->tokens_key);
    if (n > G3_TOK_MAX_PIECES)
        return g3_err_set(err, G3_ERR_FORMAT, "%s: %s: %u pieces, more than the limit of %u",
                          s->what, s->tokens_key, n, G3_TOK_MAX_PIECES);
    t->n = n;
    t->pc = calloc(n, sizeof(*t->pc));
    if (!t->pc)
        return g3_err_set(err, G3_ERR_OUT_OF_MEMORY, "tokenizer: out of memory");

    uint64_t total = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint64_t len = 0;
        if (!src_piece(s, i, &len))
            return g3_err_set(err, G3_ERR_FORMAT, "%s: %s[%u]: unreadable", s->what,
                              s->tokens_key, i);
        if (len > G3_TOK_MAX_PIECE_BYTES)
            return g3_err_set(err, G3_ERR_FORMAT,
                              "%s: %s[%u]: piece of %llu bytes, more than the limit of %u",
                              s->what, s->tokens_key, i, (unsigned long long)len,
                              G3_TOK_MAX_PIECE_BYTES);
        t->pc[i].off = (uint32_t)total;
        t->pc[i].len = (uint16_t)len;
        total += len + 1;
        if (len > t->max_len)
            t->max_len = (uint32_t)len;
    }
    if (total > UINT32_MAX)
        return g3_err_set(err, G3_ERR_FORMAT, "%s: %s: %llu bytes of pieces", s->what,
                          s->tokens_key, (unsigned long long)total);
    t->blob = malloc(total);
    if (!t->blob)
        return g3_err_set(err, G3_ERR_OUT_OF_MEMORY, "tokenizer: out of memory");

    for (int i = 0; i < 256; i++)
        t->byte_id[i] = t->root[i] = -1;
    for (int i = 0; i < 128; i++)
        t->ascii_id[i] = -1;

    for (uint32_t i = 0; i < n; i++) {
        uint64_t len;
        const char *p = src_piece(s, i, &len);
        memcpy(t->blob + t->pc[i].off, p, len);
        t->blob[t->pc[i].off + len] = 0;

        const float sc = src_score(s, i);
        if (isnan(sc))
            return g3_err_set(err, G3_ERR_FORMAT, "%s: %s[%u] is NaN", s->what, s->scores_key, i);
        t->pc[i].score_key = score_to_key(sc);

        const int32_t ty = src_type(s, i);
        if (ty < 0 || ty > G3_TOKEN_BYTE)
            return g3_err_set(err, G3_ERR_FORMAT,
                              "%s: %s[%u] = %d is not a token type (1..6)", s->what,
                              s->types_key, i, ty);
        t->pc[i].type = (uint8_t)ty;
        if (ty == G3_TOKEN_BYTE) {
            const int b = byte_piece_value(p, len);
            if (b < 0)
                return g3_err_set(err, G3_ERR_FORMAT,
                                  "%s: %s[%u]: a byte piece (type 6) must be spelled <0xNN>",
                                  s->what, s->tokens_key, i);
            if (t->byte_id[b] < 0)
                t->byte_id[b] = (int32_t)i;
        }
    }

    /* piece -> id, at most half full; duplicates keep the lowest id */
    const uint32_t slots = pow2_at_least((uint64_t)n * 2);
    t->ht = calloc(slots, sizeof(*t->ht));
    if (!t->ht)
        return g3_err_set(err, G3_ERR_OUT_OF_MEMORY, "tokenizer: out of memory");
    t->ht_mask = slots - 1;
    for (uint32_t id = 0; id < n; id++) {
        const char *p = t->blob + t->pc[id].off;
        if (g3_tok_lookup(t, p, t->pc[id].len) >= 0)
            continue;
        const uint64_t h = g3_tok_hash((const uint8_t *)p, t->pc[id].len);
        uint32_t i = (uint32_t)h & t->ht_mask;
        while (t->ht[i])
            i = (i + 1) & t->ht_mask;
        t->ht[i] = ((uint32_t)(h >> 32) & ~G3_TOK_ID_MASK) | (id + 1);
    }
    for (int c = 0; c < 128; c++) {
        const char ch = (char)c;
        t->ascii_id[c] = g3_tok_lookup(t, &ch, 1);
    }

    mark_pre_u2581(t);

    /* the trie of added pieces */
    uint32_t cap = 0;
    for (uint32_t id = 0; id < n; id++) {
        const int ty = t->pc[id].type;
        if (ty != G3_TOKEN_USER_DEFINED && !g3_tok_is_special_type(ty))
            continue;
        const char *p = t->blob + t->pc[id].off;
        if (t->pc[id].len == 0 || !g3_utf8_valid(p, t->pc[id].len))
            continue;
        g3_status st = trie_add(t, (const uint8_t *)p, t->pc[id].len, (int32_t)id,
                                ty == G3_TOKEN_USER_DEFINED, &cap, err);
        if (st != G3_OK)
            return st;
    }
    return G3_OK;
}

static int32_t find_type(const g3_tokenizer *t, int type)
{
    for (uint32_t i = 0; i < t->n; i++)
        if (t->pc[i].type == type)
            return (int32_t)i;
    return -1;
}

static int32_t find_str(const g3_tokenizer *t, const char *s)
{
    return g3_tok_lookup(t, s, strlen(s));
}

/* Special ids by piece where no explicit id was given (-2 = not given). */
static void resolve_specials(g3_tokenizer *t, int32_t bos, int32_t eos, int32_t unk, int32_t pad)
{
    t->sp.bos = bos != -2 ? bos : find_str(t, "<bos>");
    t->sp.eos = eos != -2 ? eos : find_str(t, "<eos>");
    t->sp.unk = unk != -2 ? unk : find_str(t, "<unk>");
    if (t->sp.unk < 0 && unk == -2)
        t->sp.unk = find_type(t, G3_TOKEN_UNKNOWN);
    t->sp.pad = pad != -2 ? pad : find_str(t, "<pad>");
    t->sp.start_of_turn = find_str(t, "<start_of_turn>");
    t->sp.end_of_turn = find_str(t, "<end_of_turn>");
}

static g3_status get_array(const g3_gguf *g, const char *key, uint32_t type,
                           const g3_gguf_kv **kv, g3_err *err)
{
    bool found = false;
    g3_status st = g3_gguf_get_arr(g, key, type, kv, &found, err);
    if (st != G3_OK)
        return st;
    if (!found)
        return g3_err_set(err, G3_ERR_FORMAT, "%s: %s is missing", g->path, key);
    return G3_OK;
}

static g3_status gguf_special(const g3_gguf *g, const char *key, uint32_t n, int32_t *out,
                              g3_err *err)
{
    uint32_t v = 0;
    bool found = false;
    g3_status st = g3_gguf_get_u32(g, key, &v, &found, err);
    if (st != G3_OK)
        return st;
    if (!found) {
        *out = -2;
        return G3_OK;
    }
    if (v >= n)
        return g3_err_set(err, G3_ERR_FORMAT, "%s: %s = %u is not below the %u pieces",
                          g->path, key, v, n);
    *out = (int32_t)v;
    return G3_OK;
}

g3_status g3_tokenizer_from_gguf(const g3_gguf *g, g3_tokenizer **out, g3_err *err)
{
    if (!out)
        return g3_err_set(err, G3_ERR_INVALID_ARG, "g3_tokenizer_from_gguf: out is NULL");
    *out = NULL;
    if (!g)
        return g3_err_set(err, G3_ERR_INVALID_ARG, "g3_tokenizer_from_gguf: g is NULL");

    const char *model = NULL;
    uint64_t model_len = 0;
    bool found = false;
    g3_status st = g3_gguf_get_str(g, "tokenizer.ggml.model", &model, &model_len, &found, err);
    if (st != G3_OK)
        return st;
    if (!found)
        return g3_err_set(err, G3_ERR_FORMAT, "%s: tokenizer.ggml.model is missing", g->path);
    if (model_len != 5 || memcmp(model, "llama", 5))
        return g3_err_set(err, G3_ERR_UNSUPPORTED,
                          "%s: tokenizer.ggml.model is '%.*s': only 'llama' (SentencePiece "
                          "BPE) is supported",
                          g->path, (int)G3_MIN(model_len, 64), model);

    piece_src s = {.what = g->path,
                   .tokens_key = "tokenizer.ggml.tokens",
                   .scores_key = "tokenizer.ggml.scores",
                   .types_key = "tokenizer.ggml.token_type"};
    if ((st = get_array(g, s.tokens_key, G3_GGUF_STRING, &s.tokens, err)) ||
        (st = get_array(g, s.scores_key, G3_GGUF_F32, &s.scores, err)) ||
        (st = get_array(g, s.types_key, G3_GGUF_I32, &s.types, err)))
        return st;
    if (s.scores->n != s.tokens->n || s.types->n != s.tokens->n)
        return g3_err_set(err, G3_ERR_FORMAT,
                          "%s: tokenizer.ggml.tokens has %llu entries but scores %llu and "
                          "token_type %llu",
                          g->path, (unsigned long long)s.tokens->n,
                          (unsigned long long)s.scores->n, (unsigned long long)s.types->n);
    if (s.tokens->n > G3_TOK_MAX_PIECES)
        return g3_err_set(err, G3_ERR_FORMAT, "%s: %s: %llu pieces, more than the limit of %u",
                          g->path, s.tokens_key, (unsigned long long)s.tokens->n,
                          G3_TOK_MAX_PIECES);
    const uint32_t n = (uint32_t)s.tokens->n;

    int32_t bos = -2, eos = -2, unk = -2, pad = -2;
    if ((st = gguf_special(g, "tokenizer.ggml.bos_token_id", n, &bos, err)) ||
        (st = gguf_special(g, "tokenizer.ggml.eos_token_id", n, &eos, err)) ||
        (st = gguf_special(g, "tokenizer.ggml.unknown_token_id", n, &unk, err)) ||
        (st = gguf_special(g, "tokenizer.ggml.padding_token_id", n, &pad, err)))
        return st;
    bool add_bos = true;
    if ((st = g3_gguf_get_bool(g, "tokenizer.ggml.add_bos_token", &add_bos, NULL, err)))
        return st;

    g3_tokenizer *t = calloc(1, sizeof(*t));
    if (!t)
        return g3_err_set(err, G3_ERR_OUT_OF_MEMORY, "tokenizer: out of memory");
    st = build(t, &s, n, err);
    if (st != G3_OK) {
        g3_tokenizer_free(t);
        return st;
    }
    resolve_specials(t, bos, eos, unk, pad);
    t->sp.add_bos = add_bos;
    *out = t;
    return G3_OK;
}

static g3_status build_merges(g3_tokenizer *t, const g3_vocab *v, g3_err *err)
{
    const uint32_t slots = pow2_at_least((uint64_t)v->n_merges * 2);
    t->mkey = malloc(slots * sizeof(*t->mkey));
    t->mrank = malloc(slots * sizeof(*t->mrank));
    t->mres = malloc(slots * sizeof(*t->mres));
    if (!t->mkey || !t->mrank || !t->mres)
        return g3_err_set(err, G3_ERR_OUT_OF_MEMORY, "tokenizer: out of memory");
    memset(t->mkey, 0xFF, slots * sizeof(*t->mkey));
    t->mmask = slots - 1;
    for (uint32_t k = 0; k < v->n_merges; k++) {
        const g3_vocab_merge *m = &v->merges[k];
        if (m->left < 0 || m->right < 0 || m->result < 0 || (uint32_t)m->left >= v->n ||
            (uint32_t)m->right >= v->n || (uint32_t)m->result >= v->n)
            return g3_err_set(err, G3_ERR_FORMAT, "tokenizer: merge %u has an id out of range",
                              k);
        /* encoding relies on the result being the two pieces joined */
        const g3_tok_piece *l = &t->pc[m->left], *r = &t->pc[m->right], *p = &t->pc[m->result];
        if (p->len != l->len + r->len || memcmp(t->blob + p->off, t->blob + l->off, l->len) ||
            memcmp(t->blob + p->off + l->len, t->blob + r->off, r->len))
            return g3_err_set(err, G3_ERR_FORMAT,
                              "tokenizer: merge %u: piece %d is not pieces %d and %d joined", k,
                              m->result, m->left, m->right);
        const uint64_t key = (uint64_t)(uint32_t)m->left << 32 | (uint32_t)m->right;
        uint32_t i = g3_tok_mhash(key) & t->mmask;
        while (t->mkey[i] != UINT64_MAX && t->mkey[i] != key)
            i = (i + 1) & t->mmask;
        /* A pair listed twice: the later rank wins, as in Hugging Face's
         * tokenizers and transformers.js (both fill a map in list order). */
        t->mkey[i] = key;
        t->mrank[i] = m->rank;
        t->mres[i] = m->result;
    }
    t->by_rank = true;
    return G3_OK;
}

g3_status g3_tokenizer_from_vocab(const g3_vocab *v, g3_tokenizer **out, g3_err *err)
{
    if (!out)
        return g3_err_set(err, G3_ERR_INVALID_ARG, "g3_tokenizer_from_vocab: out is NULL");
    *out = NULL;
    if (!v)
        return g3_err_set(err, G3_ERR_INVALID_ARG, "g3_tokenizer_from_vocab: v is NULL");
    piece_src s = {.v = v,
                   .what = "tokenizer.json",
                   .tokens_key = "model.vocab",
                   .scores_key = "scores",
                   .types_key = "types"};
    g3_tokenizer *t = calloc(1, sizeof(*t));
    if (!t)
        return g3_err_set(err, G3_ERR_OUT_OF_MEMORY, "tokenizer: out of memory");
    g3_status st = build(t, &s, v->n, err);
    if (st == G3_OK && v->merges)
        st = build_merges(t, v, err);
    if (st != G3_OK) {
        g3_tokenizer_free(t);
        return st;
    }
    const int32_t n = (int32_t)v->n;
    resolve_specials(t, v->bos_id < n ? v->bos_id : -1, v->eos_id < n ? v->eos_id : -1,
                     v->unk_id < n ? v->unk_id : -1, v->pad_id < n ? v->pad_id : -1);
    t->sp.add_bos = v->add_bos;
    *out = t;
    return G3_OK;
}

void g3_tokenizer_free(g3_tokenizer *t)
{
    if (!t)
        return;
    free(t->blob);
    free(t->pc);
    free(t->ht);
    free(t->mkey);
    free(t->mrank);
    free(t->mres);
    free(t->trie);
    free(t);
}

int g3_tokenizer_n_vocab(const g3_tokenizer *t)
{
    return t ? (int)t->n : 0;
}

const char *g3_tokenizer_piece(const g3_tokenizer *t, int32_t id, size_t *len)
{
    if (!t || id < 0 || (uint32_t)id >= t->n)
        return NULL;
    if (len)
        *len = t->pc[id].len;
    return t->blob + t->pc[id].off;
}

int g3_tokenizer_type(const g3_tokenizer *t, int32_t id)
{
    if (!t || id < 0 || (uint32_t)id >= t->n)
        return 0;
    return t->pc[id].type ? t->pc[id].type : G3_TOKEN_NORMAL;
}

int32_t g3_tokenizer_find(const g3_tokenizer *t, const char *piece, size_t len)
{
    if (!t || (!piece && len))
        return -1;
    return g3_tok_lookup(t, piece ? piece : "", len);
}

const g3_tokenizer_specials *g3_tokenizer_get_specials(const g3_tokenizer *t)
{
    return t ? &t->sp : NULL;
}

bool g3_tokenizer_is_eog(const g3_tokenizer *t, int32_t id)
{
    return t && id >= 0 && (id == t->sp.eos || id == t->sp.end_of_turn);
}

bool g3_tokenizer_uses_merges(const g3_tokenizer *t)
{
    return t && t->by_rank;
}
