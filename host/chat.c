/* chat.c: the Gemma 3 chat template of chat.h, without a Jinja interpreter:
 * the template only concatenates fixed strings and trimmed contents, so the
 * renderer does the same and tests pin it to the template's output. */
#include <string.h>

#include "chat.h"

/* ---- trim: Python's str.strip() over UTF-8 ------------------------------- */

/* Byte length of the whitespace character at s[i], 0 if there is none. The set
 * is exactly Python's str.isspace() (Jinja's trim calls str.strip()). */
static size_t ws_at(const unsigned char *s, size_t len, size_t i)
{
    const size_t left = len - i;
    const unsigned c = s[i];
    if ((c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x20))
        return 1;
    if (c == 0xc2 && left >= 2 && (s[i + 1] == 0x85 || s[i + 1] == 0xa0))
        return 2; /* U+0085 NEL, U+00A0 NBSP */
    if (left < 3)
        return 0;
    const unsigned c1 = s[i + 1], c2 = s[i + 2];
    if (c == 0xe1 && c1 == 0x9a && c2 == 0x80)
        return 3; /* U+1680 */
    if (c == 0xe2 && c1 == 0x80 &&
        ((c2 >= 0x80 && c2 <= 0x8a) || c2 == 0xa8 || c2 == 0xa9 || c2 == 0xaf))
        return 3; /* U+2000..U+200A, U+2028, U+2029, U+202F */
    if (c == 0xe2 && c1 == 0x81 && c2 == 0x9f)
        return 3; /* U+205F */
    if (c == 0xe3 && c1 == 0x80 && c2 == 0x80)
        return 3; /* U+3000 */
    return 0;
}

size_t g3_chat_trim(const char *str, size_t len, size_t *start)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t b = 0, e = len, w;
    while (b < e && (w = ws_at(s, e, b)) > 0)
        b += w;
    /* From the end: the last character is 1, 2 or 3 bytes; valid UTF-8 has
     * only one reading, so trying each length is unambiguous. */
    for (;;) {
        if (e > b && ws_at(s, e, e - 1) == 1)
            e -= 1;
        else if (e >= b + 2 && ws_at(s, e, e - 2) == 2)
            e -= 2;
        else if (e >= b + 3 && ws_at(s, e, e - 3) == 3)
            e -= 3;
        else
            break;
    }
    *start = b;
    return e - b;
}

/* ---- output buffer ------------------------------------------------------- */

typedef struct sbuf {
    char *p;
    size_t len, cap;
    bool oom;
} sbuf;

static void put(sbuf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t c = b->cap ? b->cap : 256;
        while (c < b->len + n + 1)
            c *= 2;
        char *p = realloc(b->p, c);
        if (!p) {
            b->oom = true;
            return;
        }
        b->p = p;
        b->cap = c;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
}

static void puts_(sbuf *b, const char *s) { put(b, s, strlen(s)); }

static void put_trimmed(sbuf *b, const char *s)
{
    size_t start;
    const size_t n = g3_chat_trim(s, strlen(s), &start);
    put(b, s + start, n);
}

static g3_status finish(sbuf *b, char **out, size_t *out_len, g3_err *err)
{
    if (!b->oom)
        put(b, "", 0); /* an empty result still gets its NUL */
    if (b->oom) {
        free(b->p);
        return g3_err_set(err, G3_ERR_OUT_OF_MEMORY, "chat: out of memory");
    }
    *out = b->p;
    if (out_len)
        *out_len = b->len;
    return G3_OK;
}

/* ---- rendering ------------------------------------------------------------ */

/* The chat template of google/gemma-3-270m-it's tokenizer_config.json, byte for byte. */
const char g3_chat_gemma3_jinja[] =
    "{{ bos_token }}\n"
    "{%- if messages[0]['role'] == 'system' -%}\n"
    "    {%- if messages[0]['content'] is string -%}\n"
    "        {%- set first_user_prefix = messages[0]['content'] + '\n"
    "\n"
    "' -%}\n"
    "    {%- else -%}\n"
    "        {%- set first_user_prefix = messages[0]['content'][0]['text'] + '\n"
    "\n"
    "' -%}\n"
    "    {%- endif -%}\n"
    "    {%- set loop_messages = messages[1:] -%}\n"
    "{%- else -%}\n"
    "    {%- set first_user_prefix = \"\" -%}\n"
    "    {%- set loop_messages = messages -%}\n"
    "{%- endif -%}\n"
    "{%- for message in loop_messages -%}\n"
    "    {%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) -%}\n"
    "        {{ raise_exception(\"Conversation roles must alternate user/assistant/user/assistant/...\") }}\n"
    "    {%- endif -%}\n"
    "    {%- if (message['role'] == 'assistant') -%}\n"
    "        {%- set role = \"model\" -%}\n"
    "    {%- else -%}\n"
    "        {%- set role = message['role'] -%}\n"
    "    {%- endif -%}\n"
    "    {{ '<start_of_turn>' + role + '\n"
    "' + (first_user_prefix if loop.first else \"\") }}\n"
    "    {%- if message['content'] is string -%}\n"
    "        {{ message['content'] | trim }}\n"
    "    {%- elif message['content'] is iterable -%}\n"
    "        {%- for item in message['content'] -%}\n"
    "            {%- if item['type'] == 'image' -%}\n"
    "                {{ '<start_of_image>' }}\n"
    "            {%- elif item['type'] == 'text' -%}\n"
    "                {{ item['text'] | trim }}\n"
    "            {%- endif -%}\n"
    "        {%- endfor -%}\n"
    "    {%- else -%}\n"
    "        {{ raise_exception(\"Invalid content type\") }}\n"
    "    {%- endif -%}\n"
    "    {{ '<end_of_turn>\n"
    "' }}\n"
    "{%- endfor -%}\n"
    "{%- if add_generation_prompt -%}\n"
    "    {{'<start_of_turn>model\n"
    "'}}\n"
    "{%- endif -%}\n"
    "";

static const g3_chat_template builtin; /* all zero: Gemma 3 */

enum role { R_SYSTEM, R_USER, R_MODEL, R_UNKNOWN };

static enum role parse_role(const char *r)
{
    if (!strcmp(r, "system"))
        return R_SYSTEM;
    if (!strcmp(r, "user"))
        return R_USER;
    if (!strcmp(r, "assistant") || !strcmp(r, "model"))
        return R_MODEL;
    return R_UNKNOWN;
}

/* Checks the whole conversation before rendering anything. */
static g3_status check_msgs(const g3_chat_template *t, const g3_chat_msg *msgs, int n,
                            g3_err *err)
{
    if (!msgs || n <= 0)
        return g3_err_set(err, G3_ERR_INVALID_ARG, "chat: the conversation is empty");
    for (int i = 0; i < n; i++) {
        if (!msgs[i].role || !msgs[i].content)
            return g3_err_set(err, G3_ERR_INVALID_ARG, "chat: message %d has no %s", i,
                              msgs[i].role ? "content" : "role");
        const enum role r = parse_role(msgs[i].role);
        if (r == R_UNKNOWN)
            return g3_err_set(err, G3_ERR_INVALID_ARG,
                              "chat: message %d has unknown role '%.40s' (expected system, "
                              "user, assistant or model)",
                              i, msgs[i].role);
        if (r == R_SYSTEM && i > 0)
            return g3_err_set(err, G3_ERR_INVALID_ARG,
                              "chat: message %d has role 'system', which is allowed only as "
                              "the first message",
                              i);
        if (r == R_SYSTEM && t->system_mode == G3_CHAT_SYSTEM_REJECT)
            return g3_err_set(err, G3_ERR_INVALID_ARG,
                              "chat: message 0 has role 'system', which this model's chat "
                              "template does not support");
    }
    const int first = parse_role(msgs[0].role) == R_SYSTEM ? 1 : 0;
    if (first == n)
        return g3_err_set(err, G3_ERR_INVALID_ARG,
                          "chat: message 0 is a system message with no user message after "
                          "it (the template folds the system prompt into the first user turn)");
    for (int i = first; i < n; i++) {
        const bool want_user = (i - first) % 2 == 0;
        const enum role r = parse_role(msgs[i].role);
        if ((r == R_USER) != want_user) {
            const char *prev = i > first ? msgs[i - 1].role : first ? "system" : NULL;
            char after[64] = "";
            if (prev)
                snprintf(after, sizeof(after), " after '%.20s' (message %d)", prev, i - 1);
            return g3_err_set(err, G3_ERR_INVALID_ARG,
                              "chat: message %d has role '%s'%s but %s was expected: roles "
                              "must alternate user/model after the optional system message",
                              i, msgs[i].role, after,
                              want_user ? "'user'" : "'model' (or 'assistant')");
        }
    }
    return G3_OK;
}

g3_status g3_chat_render(const g3_chat_template *t, const g3_chat_msg *msgs, int n,
                         bool add_generation_prompt, char **out, size_t *out_len, g3_err *err)
{
    *out = NULL;
    if (out_len)
        *out_len = 0;
    if (!t)
        t = &builtin;
    g3_status st = check_msgs(t, msgs, n, err);
    if (st != G3_OK)
        return st;

    sbuf b = {0};
    if (t->include_bos)
        puts_(&b, "<bos>");
    const int first = parse_role(msgs[0].role) == R_SYSTEM ? 1 : 0;
    for (int i = first; i < n; i++) {
        const enum role r = parse_role(msgs[i].role);
        puts_(&b, "<start_of_turn>");
        puts_(&b, r == R_USER ? "user" : t->assistant_verbatim ? msgs[i].role : "model");
        puts_(&b, "\n");
        if (i == first && first == 1) {
            /* The template concatenates the system content as is: no trim. */
            puts_(&b, msgs[0].content);
            puts_(&b, "\n\n");
        }
        put_trimmed(&b, msgs[i].content);
        puts_(&b, "<end_of_turn>\n");
    }
    if (add_generation_prompt)
        puts_(&b, "<start_of_turn>model\n");
    return finish(&b, out, out_len, err);
}

g3_status g3_chat_render_next_turn(const g3_chat_template *t, const char *user_content,
                                   bool eot_in_context, char **out, size_t *out_len,
                                   g3_err *err)
{
    *out = NULL;
    if (out_len)
        *out_len = 0;
    if (!user_content)
        return g3_err_set(err, G3_ERR_INVALID_ARG, "chat: the next user turn has no content");
    sbuf b = {0};
    if (!eot_in_context)
        puts_(&b, "<end_of_turn>");
    puts_(&b, "\n<start_of_turn>user\n");
    put_trimmed(&b, user_content);
    puts_(&b, "<end_of_turn>\n<start_of_turn>model\n");
    return finish(&b, out, out_len, err);
}

/* ---- template detection ---------------------------------------------------- */

static bool contains(const char *hay, size_t len, const char *needle)
{
    const size_t m = strlen(needle);
    for (size_t i = 0; m <= len && i <= len - m; i++)
        if (hay[i] == needle[0] && memcmp(hay + i, needle, m) == 0)
            return true;
    return false;
}

bool g3_chat_template_detect(const char *jinja, size_t len, g3_chat_template *out, char *warn,
                             size_t warn_cap)
{
    *out = builtin;
    if (warn && warn_cap)
        warn[0] = 0;
    if (!jinja || !contains(jinja, len, "<start_of_turn>") ||
        !contains(jinja, len, "<end_of_turn>")) {
        if (warn && warn_cap)
            snprintf(warn, warn_cap,
                     "the model's chat template is not a Gemma template (no <start_of_turn> "
                     "and <end_of_turn>): using the built-in Gemma 3 template");
        return false;
    }
    const bool names_model = contains(jinja, len, "\"model\"") || contains(jinja, len, "'model'");
    out->assistant_verbatim = !names_model;
    if (contains(jinja, len, "System role not supported")) {
        out->system_mode = G3_CHAT_SYSTEM_REJECT;
    } else if (contains(jinja, len, "first_user_prefix") ||
               contains(jinja, len, "messages[0]['role'] == 'system'") ||
               contains(jinja, len, "messages[0][\"role\"] == \"system\"")) {
        out->system_mode = G3_CHAT_SYSTEM_FOLD;
    } else if (warn && warn_cap) {
        snprintf(warn, warn_cap,
                 "the model's chat template handles a system message in a way not "
                 "recognized: folding it into the first user turn as Gemma 3 does");
    }
    return true;
}

g3_status g3_chat_template_from_gguf(const g3_gguf *g, g3_chat_template *out, char *warn,
                                     size_t warn_cap, g3_err *err)
{
    *out = builtin;
    if (warn && warn_cap)
        warn[0] = 0;
    const char *s = NULL;
    uint64_t len = 0;
    bool found = false;
    g3_status st = g3_gguf_get_str(g, "tokenizer.chat_template", &s, &len, &found, err);
    if (st != G3_OK || !found)
        return st;
    g3_chat_template_detect(s, (size_t)len, out, warn, warn_cap);
    return G3_OK;
}
