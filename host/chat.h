/* chat.h: the Gemma 3 chat template, rendered in C exactly as the model's Jinja
 * template (tokenizer.chat_template) renders it for string contents:
 *
 *   {bos}<start_of_turn>user\n{system}\n\n{user, trimmed}<end_of_turn>\n
 *   <start_of_turn>model\n{reply, trimmed}<end_of_turn>\n
 *   <start_of_turn>user\n{user, trimmed}<end_of_turn>\n
 *   <start_of_turn>model\n                     <- the generation prompt
 *
 * - BOS: the template starts with "<bos>" text, but the tokenizer adds BOS as
 *   token id 2 itself; rendering it as text as well would give two BOS tokens.
 *   So include_bos is false by default: tokenize the result with BOS added.
 *   Set include_bos only when the text goes to a tokenizer that does not add
 *   BOS but parses special tokens.
 * - The system message (only as the first message) is folded into the first
 *   user turn: its content is NOT trimmed (the template does not trim it),
 *   followed by "\n\n".
 * - Roles: "system" (first only), "user", "assistant" or "model" (both render
 *   as "model"). After the optional system message roles must alternate,
 *   starting with user. Unlike the Jinja template, which raises only on a broken
 *   user/non-user alternation and renders any other role verbatim, this
 *   renderer rejects every role but these (and "system" after the first
 *   message), an empty conversation and a system message with no user turn
 *   (the template would silently drop it): G3_ERR_INVALID_ARG with a message
 *   naming the message index and the roles.
 * - Trim is Jinja's `trim` filter, that is Python's str.strip(): it strips the
 *   characters for which str.isspace() is true, in UTF-8: ASCII \t \n \v \f \r
 *   space and \x1c-\x1f, and U+0085, U+00A0, U+1680, U+2000-U+200A, U+2028,
 *   U+2029, U+202F, U+205F, U+3000 (not U+200B or U+FEFF, which Python keeps).
 *
 * Output strings are malloc'ed and NUL-terminated: release them with free(). */
#ifndef G3_CHAT_H
#define G3_CHAT_H

#include "g3_internal.h"
#include "gguf.h"

typedef enum g3_chat_system_mode {
    G3_CHAT_SYSTEM_FOLD = 0, /* Gemma 3: "{system}\n\n" opens the first user turn */
    G3_CHAT_SYSTEM_REJECT,   /* Gemma 1/2: a system message is an error          */
} g3_chat_system_mode;

/* The template's choices plus one rendering choice. Zero = the built-in Gemma 3
 * template, without BOS text. */
typedef struct g3_chat_template {
    g3_chat_system_mode system_mode; /* default fold                           */
    bool assistant_verbatim;         /* default false: "assistant" -> "model"  */
    bool include_bos;                /* default false: see above               */
} g3_chat_template;

typedef struct g3_chat_msg {
    const char *role;    /* "system", "user", "assistant" or "model"          */
    const char *content; /* UTF-8, NUL-terminated                             */
} g3_chat_msg;

/* Renders msgs[0..n) and, when add_generation_prompt, "<start_of_turn>model\n".
 * t may be NULL (built-in). *out is NULL on failure; *out_len may be NULL. */
g3_status g3_chat_render(const g3_chat_template *t, const g3_chat_msg *msgs, int n,
                         bool add_generation_prompt, char **out, size_t *out_len,
                         g3_err *err);

/* Incremental chat: the text to append to the context for the next user turn,
 * so that a chat keeps its history in the KV cache and prefills only this.
 *
 * Contract: the context holds the rendering of the conversation so far with the
 * generation prompt, followed by the model's reply tokens. The model ends its
 * reply by sampling <end_of_turn> (id 106). Generation loops usually stop on it
 * WITHOUT evaluating it: then pass eot_in_context = false and the text starts
 * with "<end_of_turn>" (tokenize it with special-token parsing, no BOS). If
 * the loop did evaluate the <end_of_turn> token, pass true. The text is:
 *
 *   ["<end_of_turn>"] "\n<start_of_turn>user\n" {user, trimmed}
 *   "<end_of_turn>\n<start_of_turn>model\n"
 *
 * It equals the full rendering's continuation when the reply has no leading
 * or trailing whitespace: the template trims a stored reply, the KV cache
 * keeps it as generated (as llama.cpp's server does). A reply that ended on
 * <eos> or a length limit is closed the same way. */
g3_status g3_chat_render_next_turn(const g3_chat_template *t, const char *user_content,
                                   bool eot_in_context, char **out, size_t *out_len,
                                   g3_err *err);

/* Reads the template's choices from Jinja text (not NUL-terminated: len bytes).
 * A Gemma template is recognized by "<start_of_turn>" and "<end_of_turn>"; then
 * an 'assistant' -> 'model' mapping sets assistant_verbatim false (true when
 * the template never names "model" as a role), "first_user_prefix" or a test of
 * messages[0]['role'] == 'system' selects FOLD, "System role not supported"
 * selects REJECT. Anything else falls back to the built-in Gemma 3 template
 * and writes why into warn (snprintf semantics): returns true when the template
 * is a Gemma one. warn is "" unless something was not recognized (also a Gemma
 * template whose system handling is neither of the above: it then folds).
 * include_bos of *out is left false. */
bool g3_chat_template_detect(const char *jinja, size_t len, g3_chat_template *out, char *warn,
                             size_t warn_cap);

/* The same from a model file's tokenizer.chat_template. No key: the built-in
 * template, no warning. A key of the wrong type: G3_ERR_FORMAT with *out set to
 * the built-in template anyway (callers may go on with it). */
g3_status g3_chat_template_from_gguf(const g3_gguf *g, g3_chat_template *out, char *warn,
                                     size_t warn_cap, g3_err *err);

/* Jinja's trim on [s, s+len): sets *start and returns the trimmed length. */
size_t g3_chat_trim(const char *s, size_t len, size_t *start);

/* The Jinja chat template of google/gemma-3-270m-it (tokenizer_config.json),
 * byte for byte: what `g3vk synth` writes and what detection recognizes. */
extern const char g3_chat_gemma3_jinja[];

#endif /* G3_CHAT_H */
