/* tokenizer_private.h: the g3_tokenizer structure, shared by tokenizer.c
 * (construction, lookups), tokenizer_bpe.c (encoding) and tokenizer_decode.c. */
#ifndef G3_TOKENIZER_PRIVATE_H
#define G3_TOKENIZER_PRIVATE_H

#include <string.h>

#include "tokenizer.h"

/* A node of the byte trie over the added pieces (USER_DEFINED, CONTROL,
 * UNKNOWN). Children form a sibling list; the root's are in root[256]. */
typedef struct g3_tok_trie_node {
    int32_t child;   /* first child, -1 for none                      */
    int32_t sibling; /* next child of the same parent, -1 for none    */
    int32_t id;      /* piece ending here, -1 for none                */
    uint8_t byte;
    uint8_t always;  /* USER_DEFINED: matched without PARSE_SPECIAL   */
} g3_tok_trie_node;

/* What encoding needs of a piece, in one cache line's reach. */
typedef struct g3_tok_piece {
    uint32_t off;       /* in blob                                        */
    uint16_t len;       /* bytes (<= G3_TOK_MAX_PIECE_BYTES)              */
    uint8_t type;       /* enum g3_token_type (0 read as normal)          */
    uint8_t pad_;
    uint32_t score_key; /* the score as a key: smaller = higher score     */
} g3_tok_piece;

struct g3_tokenizer {
    uint32_t n;        /* pieces                                          */
    char *blob;        /* every piece, NUL-terminated                     */
    g3_tok_piece *pc;  /* (n)                                             */
    uint32_t max_len;  /* longest piece                                   */

    /* piece text -> id: open addressing; a slot holds id + 1 (0 = empty) in
     * its low G3_TOK_ID_BITS and hash bits above, so most misses touch
     * nothing else (and the table stays small enough for the cache) */
    uint32_t *ht;
    uint32_t ht_mask;

    /* Merge ranks (tokenizer.json): (left << 32 | right) -> rank, result. */
    bool by_rank;
    uint64_t *mkey; /* UINT64_MAX = empty */
    uint32_t *mrank;
    int32_t *mres;
    uint32_t mmask;

    int32_t ascii_id[128]; /* id of each one-byte character, -1 when none */
    int32_t byte_id[256];  /* <0xNN> pieces, -1 when missing              */

    /* Characters some piece holds right before U+2581: a bitmap of the
     * BMP, and whether any beyond it does (tokenizer_bpe.c cuts words). */
    uint8_t pre_u2581[0x10000 / 8];
    bool pre_u2581_astral;

    int32_t root[256];     /* trie roots by first byte, -1 when none      */
    g3_tok_trie_node *trie;
    uint32_t n_trie;

    g3_tokenizer_specials sp;
};

/* Ids take the low bits of a hash slot (G3_TOK_MAX_PIECES = 2^22 fits). */
#define G3_TOK_ID_BITS 23
#define G3_TOK_ID_MASK ((1u << G3_TOK_ID_BITS) - 1)

/* 64-bit hash of a byte string (fast for short pieces). */
static inline uint64_t g3_tok_hash(const uint8_t *p, size_t n)
{
    uint64_t h = 0x9E3779B97F4A7C15ull ^ ((uint64_t)n * 0xD6E8FEB86659FD93ull);
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        h = (h ^ w) * 0xFF51AFD7ED558CCDull;
        h ^= h >> 32;
        p += 8;
        n -= 8;
    }
    uint64_t w = 0;
    for (size_t i = 0; i < n; i++)
        w |= (uint64_t)p[i] << (8 * i);
    h = (h ^ w) * 0xC4CEB9FE1A85EC53ull;
    h ^= h >> 29;
    h *= 0xFF51AFD7ED558CCDull;
    h ^= h >> 32;
    return h;
}

/* a[0..n) == b[0..n) for the short strings pieces are (no libc call). */
static inline bool g3_tok_eq(const char *a, const char *b, size_t n)
{
    for (; n >= 8; a += 8, b += 8, n -= 8) {
        uint64_t x, y;
        memcpy(&x, a, 8);
        memcpy(&y, b, 8);
        if (x != y)
            return false;
    }
    for (size_t i = 0; i < n; i++)
        if (a[i] != b[i])
            return false;
    return true;
}

/* Id of the piece s[0..n), or -1. */
static inline int32_t g3_tok_lookup(const g3_tokenizer *t, const char *s, size_t n)
{
    const uint64_t h = g3_tok_hash((const uint8_t *)s, n);
    for (uint32_t i = (uint32_t)h & t->ht_mask;; i = (i + 1) & t->ht_mask) {
        const uint32_t slot = t->ht[i];
        if (!slot)
            return -1;
        if ((slot ^ (uint32_t)(h >> 32)) & ~G3_TOK_ID_MASK)
            continue;
        const uint32_t id = (slot & G3_TOK_ID_MASK) - 1;
        const g3_tok_piece *p = &t->pc[id];
        if (p->len == n && g3_tok_eq(t->blob + p->off, s, n))
            return (int32_t)id;
    }
}

static inline uint32_t g3_tok_mhash(uint64_t key)
{
    uint64_t h = key * 0x9E3779B97F4A7C15ull;
    return (uint32_t)(h ^ (h >> 31) ^ (h >> 45));
}

/* Merge rank lookup (by_rank only): false when the pair is not a merge. */
static inline bool g3_tok_merge(const g3_tokenizer *t, int32_t l, int32_t r, uint32_t *rank,
                                int32_t *res)
{
    const uint64_t key = (uint64_t)(uint32_t)l << 32 | (uint32_t)r;
    for (uint32_t i = g3_tok_mhash(key) & t->mmask;; i = (i + 1) & t->mmask) {
        if (t->mkey[i] == key) {
            *rank = t->mrank[i];
            *res = t->mres[i];
            return true;
        }
        if (t->mkey[i] == UINT64_MAX)
            return false;
    }
}

static inline bool g3_tok_is_special_type(int type)
{
    return type == G3_TOKEN_CONTROL || type == G3_TOKEN_UNKNOWN;
}

#endif /* G3_TOKENIZER_PRIVATE_H */
