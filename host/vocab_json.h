/* vocab_json.h: reads a Hugging Face tokenizer.json (and optionally its
 * tokenizer_config.json) into the arrays a GGUF file stores for a
 * SentencePiece-style vocabulary: tokenizer.ggml.tokens / scores / token_type,
 * plus the BPE merges for the tokenizer and the special ids.
 *
 * Both files are untrusted: sizes, counts, ids, piece lengths and nesting are
 * limited, and every problem comes back as a g3_status (G3_ERR_IO for a file
 * that cannot be read, G3_ERR_FORMAT for bad contents, G3_ERR_OUT_OF_MEMORY)
 * with a message naming the file and the field (for example
 * "tokenizer.json: model.vocab: id 7 is used by both 'a' and 'b'").
 *
 * How the arrays are derived (checked against llama.cpp's conversion of the
 * real Gemma 3 vocabulary: identical tokens, scores and types for the ids in
 * shared/reference/mini-f32.gguf):
 * - scores: the piece produced by merge rank r (the r-th entry of
 *   model.merges, counting from 0) scores -r, using the first merge that
 *   produces it. Pieces no merge produces (single characters, <0xNN> bytes,
 *   added tokens) score 0. Ranks always count over the whole merges list, so
 *   truncating the vocabulary does not change any score.
 * - types: model.unk_token -> 2 (unknown); another added token with
 *   "special": true -> 3 (control), with "special": false -> 4 (user-defined);
 *   a <0xNN> piece when model.byte_fallback is true -> 6 (byte); everything
 *   else 1 (normal). Type 5 (unused) is never produced: llama.cpp's
 *   converter marks Gemma's <unusedN> pieces user-defined too.
 * - added_tokens whose id lies beyond model.vocab are not part of the
 *   vocabulary (Gemma 3's <image_soft_token> at 262144: llama.cpp's GGUF has
 *   262144 pieces); they are counted in n_added_ignored.
 */
#ifndef G3_VOCAB_JSON_H
#define G3_VOCAB_JSON_H

#include "g3_internal.h"

/* Limits on what a file may hold (the real Gemma 3 tokenizer.json: 33 MB,
 * 262144 pieces of at most 93 bytes, 514906 merges). */
#define G3_VOCAB_MAX_FILE_BYTES (512ull << 20)
#define G3_VOCAB_MAX_TOKENS (1u << 22)
#define G3_VOCAB_MAX_MERGES (1u << 24)
#define G3_VOCAB_MAX_PIECE_BYTES 16384u
/* JSON nesting is limited by Jansson itself (2048 levels): deeper input is
 * rejected as malformed before any recursion can exhaust the stack. */

/* GGUF tokenizer.ggml.token_type values. */
enum g3_token_type {
    G3_TOKEN_NORMAL = 1,
    G3_TOKEN_UNKNOWN = 2,
    G3_TOKEN_CONTROL = 3,
    G3_TOKEN_USER_DEFINED = 4,
    G3_TOKEN_UNUSED = 5,
    G3_TOKEN_BYTE = 6,
};

/* One BPE merge: pieces left + right join into result (all vocabulary ids). */
typedef struct g3_vocab_merge {
    int32_t left, right, result;
    uint32_t rank; /* position in the file's merges list (lower merges first) */
} g3_vocab_merge;

typedef struct g3_vocab {
    uint32_t n;            /* pieces: ids 0..n-1                                  */
    const char **pieces;   /* (n) NUL-terminated UTF-8, never containing NUL      */
    uint64_t *lens;        /* (n) byte lengths (the type gguf_write.h wants)      */
    float *scores;         /* (n) see the header comment                          */
    int32_t *types;        /* (n) enum g3_token_type                              */

    uint32_t n_merges;     /* merges whose three ids are all < n, in rank order   */
    g3_vocab_merge *merges; /* (n_merges); NULL when options.skip_merges          */

    /* Special ids as llama.cpp's SentencePiece conversion writes them to GGUF:
     * the pieces <bos>, <eos>, model.unk_token (or <unk>) and <pad>; -1 when
     * absent or truncated away. */
    int32_t bos_id, eos_id, unk_id, pad_id;
    /* tokenizer_config.json's eos_token where it names another piece (the
     * instruction-tuned Gemma 3 config says <end_of_turn>, 106); -1 otherwise. */
    int32_t eot_id;
    bool add_bos;          /* tokenizer_config add_bos_token, default true        */
    bool add_eos;          /* tokenizer_config add_eos_token, default false       */
    char *chat_template;   /* tokenizer_config chat_template; NULL when absent    */

    uint32_t n_source;     /* pieces in the file before truncation                */
    uint32_t n_added_ignored; /* added_tokens with ids beyond model.vocab         */
    uint32_t n_merges_source; /* merges in the file                               */
    char *blob;            /* storage of the pieces                               */
} g3_vocab;

/* Zero-initialize for the defaults. */
typedef struct g3_vocab_options {
    uint32_t max_tokens; /* keep ids < max_tokens only; default 0 = all            */
    bool skip_merges;    /* do not keep the merges array (scores are still derived) */
} g3_vocab_options;

/* Loads tokenizer_json (required) and tokenizer_config (NULL: defaults, no chat
 * template). opt may be NULL. On success *out owns everything (g3_vocab_free);
 * on failure *out is NULL and err names the file and field. */
g3_status g3_vocab_load_json(const char *tokenizer_json, const char *tokenizer_config,
                             const g3_vocab_options *opt, g3_vocab **out, g3_err *err);

/* The same over caller buffers (tests, fuzzing). config may be NULL. The names
 * are used in messages only. */
g3_status g3_vocab_load_json_memory(const char *json, size_t json_len, const char *json_name,
                                    const char *config, size_t config_len,
                                    const char *config_name, const g3_vocab_options *opt,
                                    g3_vocab **out, g3_err *err);

void g3_vocab_free(g3_vocab *v);

/* Id of a piece (exact bytes), or -1. Linear scan: for tests and small lookups. */
int32_t g3_vocab_find(const g3_vocab *v, const char *piece, size_t len);

#endif /* G3_VOCAB_JSON_H */
