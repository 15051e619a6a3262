/* test_chat.c: the Gemma 3 chat template (host/chat.h) against outputs of the
 * model's own Jinja template (rendered with jinja2 3.1 when this test was
 * written), template detection, and the streaming stop-string matcher
 * (host/stop.h). */
#include <string.h>

#include "chat.h"
#include "gguf.h"
#include "gguf_write.h"
#include "stop.h"
#include "test.h"

/* tokenizer.chat_template of the Gemma 3 GGUF files (shared/reference/mini-f32.gguf);
 * the test checks the library's copy against the file's byte for byte. */
#define gemma3_template g3_chat_gemma3_jinja

#define U "user"
#define M "model"
#define SOT "<start_of_turn>"
#define EOT "<end_of_turn>\n"

static void check_render(const char *name, const g3_chat_template *t, const g3_chat_msg *m,
                         int n, bool gen, const char *want)
{
    char *out = NULL;
    size_t len = 0;
    g3_err err = {0};
    g3_status st = g3_chat_render(t, m, n, gen, &out, &len, &err);
    CHECK(st == G3_OK && out, "%s: %s", name, err.msg);
    if (out) {
        CHECK(strcmp(out, want) == 0 && len == strlen(want), "%s:\n got: [%s]\nwant: [%s]", name,
              out, want);
    }
    free(out);
}

static void check_error(const char *name, const g3_chat_template *t, const g3_chat_msg *m, int n,
                        const char *must1, const char *must2)
{
    char *out = (char *)"not reset";
    g3_err err = {0};
    g3_status st = g3_chat_render(t, m, n, true, &out, NULL, &err);
    CHECK(st == G3_ERR_INVALID_ARG && out == NULL, "%s: status %d", name, (int)st);
    CHECK(strstr(err.msg, must1) && strstr(err.msg, must2), "%s: message '%s' lacks '%s'/'%s'",
          name, err.msg, must1, must2);
    printf("  %s -> %s\n", name, err.msg);
}

static void test_render(void)
{
    const g3_chat_msg single[] = {{"user", "Hello!"}};
    check_render("single", NULL, single, 1, true, SOT U "\nHello!" EOT SOT M "\n");
    check_render("single, no generation prompt", NULL, single, 1, false, SOT U "\nHello!" EOT);
    const g3_chat_template bos = {.include_bos = true};
    check_render("single with <bos>", &bos, single, 1, true,
                 "<bos>" SOT U "\nHello!" EOT SOT M "\n");

    const g3_chat_msg sys[] = {{"system", "You are terse. "}, {"user", "Hi"}};
    check_render("system + user", NULL, sys, 2, true,
                 SOT U "\nYou are terse. \n\nHi" EOT SOT M "\n");

    const g3_chat_msg three[] = {
        {"user", "What is 2+2?"}, {"assistant", "4"}, {"user", "And 3+3?"}};
    check_render("three turns", NULL, three, 3, true,
                 SOT U "\nWhat is 2+2?" EOT SOT M "\n4" EOT SOT U "\nAnd 3+3?" EOT SOT M "\n");
    const g3_chat_template verbatim = {.assistant_verbatim = true};
    check_render("assistant kept verbatim", &verbatim, three, 3, false,
                 SOT U "\nWhat is 2+2?" EOT SOT "assistant\n4" EOT SOT U "\nAnd 3+3?" EOT);

    /* Trim strips Python's whitespace (ASCII incl. \v \f \x1c, NBSP, U+3000,
     * U+2003, U+2029) but not U+200B; the system prompt is not trimmed. */
    const g3_chat_msg ws[] = {
        {"system", "  sys \n"},
        {"user", " \t\n hi there \r\n\v\f\x1c"
                 "\xc2\xa0"
                 "\xe3\x80\x80"},
        {"model", "\xe2\x80\x83 ok \xe2\x80\xa9"},
        {"user", "\xe2\x80\x8b"
                 "x"
                 "\xe2\x80\x8b"},
    };
    check_render("whitespace", &bos, ws, 4, false,
                 "<bos>" SOT U "\n  sys \n\n\nhi there" EOT SOT M "\nok" EOT SOT U
                 "\n\xe2\x80\x8b"
                 "x"
                 "\xe2\x80\x8b" EOT);

    const struct {
        const char *in, *out;
    } trims[] = {
        {"", ""},
        {" \t\r\n ", ""},
        {"\xc2\x85"
         "a b"
         "\xc2\x85",
         "a b"},
        {"\xe1\x9a\x80\xe2\x80\x80\xe2\x80\x8a"
         "x"
         "\xe2\x80\xaf\xe2\x81\x9f\xe2\x80\xa8",
         "x"},
        {"\xef\xbb\xbfx\xef\xbb\xbf", "\xef\xbb\xbfx\xef\xbb\xbf"}, /* U+FEFF stays */
        {"\xc3\xa9 ", "\xc3\xa9"},                                 /* a 2-byte letter */
        {" \xe2\x80\x8c", "\xe2\x80\x8c"},                         /* U+200C stays */
    };
    for (size_t i = 0; i < G3_ARRAY_LEN(trims); i++) {
        size_t start = 99;
        const size_t n = g3_chat_trim(trims[i].in, strlen(trims[i].in), &start);
        CHECK(n == strlen(trims[i].out) && memcmp(trims[i].in + start, trims[i].out, n) == 0,
              "trim case %zu: start %zu len %zu", i, start, n);
    }
}

static void test_errors(void)
{
    const g3_chat_msg two_users[] = {{"user", "a"}, {"user", "b"}};
    check_error("two users", NULL, two_users, 2, "message 1 has role 'user'", "'model'");
    const g3_chat_msg model_first[] = {{"model", "a"}, {"user", "b"}};
    check_error("model first", NULL, model_first, 2, "message 0 has role 'model'", "'user'");
    const g3_chat_msg sys_model[] = {{"system", "s"}, {"assistant", "a"}};
    check_error("model after system", NULL, sys_model, 2, "message 1 has role 'assistant'",
                "after 'system'");
    const g3_chat_msg two_models[] = {{"user", "a"}, {"model", "b"}, {"assistant", "c"}};
    check_error("two models", NULL, two_models, 3, "message 2 has role 'assistant'",
                "after 'model' (message 1)");
    const g3_chat_msg unknown[] = {{"user", "a"}, {"tool", "b"}};
    check_error("unknown role", NULL, unknown, 2, "message 1", "unknown role 'tool'");
    const g3_chat_msg late_sys[] = {{"user", "a"}, {"model", "b"}, {"system", "c"}};
    check_error("late system", NULL, late_sys, 3, "message 2", "only as the first message");
    const g3_chat_msg sys_only[] = {{"system", "s"}};
    check_error("system only", NULL, sys_only, 1, "message 0", "no user message");
    check_error("empty", NULL, NULL, 0, "empty", "conversation");
    const g3_chat_msg no_content[] = {{"user", NULL}};
    check_error("no content", NULL, no_content, 1, "message 0", "no content");
    const g3_chat_template reject = {.system_mode = G3_CHAT_SYSTEM_REJECT};
    const g3_chat_msg sys[] = {{"system", "s"}, {"user", "u"}};
    check_error("system rejected", &reject, sys, 2, "message 0", "does not support");
}

/* full(history + reply + next user) == full(history, gen) + reply + next_turn(). */
static void test_incremental(void)
{
    g3_chat_msg conv[] = {{"system", "Be brief."},  {"user", "  Hi  "},  {"assistant", "Hello."},
                          {"user", "Name a color"}, {"model", "Blue."}, {"user", "\nAnother\n"}};
    for (int with_sys = 0; with_sys < 2; with_sys++) {
        const g3_chat_msg *m = conv + (with_sys ? 0 : 1);
        const int n = with_sys ? 6 : 5;
        const int first_reply = with_sys ? 2 : 1;
        char *ctx = NULL;
        REQUIRE_VOID(g3_chat_render(NULL, m, first_reply, true, &ctx, NULL, NULL) == G3_OK);
        size_t cap = 4096;
        char *acc = malloc(cap);
        REQUIRE_VOID(acc);
        snprintf(acc, cap, "%s", ctx);
        free(ctx);
        for (int r = first_reply; r < n; r += 2) {
            /* The model generated m[r].content; the first reply's <end_of_turn>
             * is not in the context, the second one's is. */
            const bool eot = r != first_reply;
            strncat(acc, m[r].content, cap - strlen(acc) - 1);
            if (eot)
                strncat(acc, "<end_of_turn>", cap - strlen(acc) - 1);
            char *next = NULL;
            REQUIRE_VOID(g3_chat_render_next_turn(NULL, m[r + 1].content, eot, &next, NULL,
                                                  NULL) == G3_OK);
            strncat(acc, next, cap - strlen(acc) - 1);
            free(next);
            char *full = NULL;
            REQUIRE_VOID(g3_chat_render(NULL, m, r + 2, true, &full, NULL, NULL) == G3_OK);
            CHECK(strcmp(acc, full) == 0, "incremental (system %d, turn %d):\n got: [%s]\nwant: [%s]",
                  with_sys, r, acc, full);
            free(full);
        }
        free(acc);
    }
    char *next = NULL;
    CHECK(g3_chat_render_next_turn(NULL, NULL, false, &next, NULL, NULL) == G3_ERR_INVALID_ARG &&
              !next,
          "next turn without content");
}

static void test_detect(void)
{
    g3_chat_template t;
    char warn[256];
    const size_t n = strlen(gemma3_template);
    CHECK(g3_chat_template_detect(gemma3_template, n, &t, warn, sizeof(warn)) && !warn[0] &&
              t.system_mode == G3_CHAT_SYSTEM_FOLD && !t.assistant_verbatim && !t.include_bos,
          "embedded Gemma 3 template: warn '%s'", warn);

    const char *chatml = "{% for message in messages %}{{'<|im_start|>' + message['role'] + "
                         "'\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}";
    t.include_bos = true;
    CHECK(!g3_chat_template_detect(chatml, strlen(chatml), &t, warn, sizeof(warn)) &&
              strstr(warn, "built-in") && t.system_mode == G3_CHAT_SYSTEM_FOLD &&
              !t.assistant_verbatim && !t.include_bos,
          "ChatML falls back: '%s'", warn);
    printf("  ChatML -> %s\n", warn);

    /* Gemma 2's template: a system role raises. */
    const char *gemma2 =
        "{{ bos_token }}{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role "
        "not supported') }}{% endif %}{% for message in messages %}{% if (message['role'] == "
        "'assistant') %}{% set role = 'model' %}{% else %}{% set role = message['role'] %}{% "
        "endif %}{{ '<start_of_turn>' + role + '\\n' + message['content'] | trim + "
        "'<end_of_turn>\\n' }}{% endfor %}";
    CHECK(g3_chat_template_detect(gemma2, strlen(gemma2), &t, warn, sizeof(warn)) && !warn[0] &&
              t.system_mode == G3_CHAT_SYSTEM_REJECT && !t.assistant_verbatim,
          "Gemma 2 template: '%s'", warn);
    const char *odd = "{{ '<start_of_turn>' + message['role'] }}<end_of_turn>";
    CHECK(g3_chat_template_detect(odd, strlen(odd), &t, warn, sizeof(warn)) && warn[0] &&
              t.assistant_verbatim,
          "unrecognized system handling warns: '%s'", warn);

    /* From GGUF files: with the template, without, with a wrong type. */
    for (int v = 0; v < 3; v++) {
        g3_gguf_writer *w = g3_gguf_writer_new();
        REQUIRE_VOID(w);
        g3_gguf_w_str(w, "general.architecture", "gemma3");
        if (v == 0)
            g3_gguf_w_str(w, "tokenizer.chat_template", gemma3_template);
        if (v == 2)
            g3_gguf_w_u32(w, "tokenizer.chat_template", 7);
        uint8_t *buf = NULL;
        size_t size = 0;
        g3_err err = {0};
        g3_gguf *g = NULL;
        CHECK(g3_gguf_writer_to_memory(w, &buf, &size, &err) == G3_OK &&
                  g3_gguf_open_memory(buf, size, &g, &err) == G3_OK,
              "crafted file %d: %s", v, err.msg);
        if (g) {
            t.include_bos = true;
            const g3_status st = g3_chat_template_from_gguf(g, &t, warn, sizeof(warn), &err);
            CHECK(st == (v == 2 ? G3_ERR_FORMAT : G3_OK) && !warn[0] &&
                      t.system_mode == G3_CHAT_SYSTEM_FOLD && !t.include_bos,
                  "from_gguf case %d: status %d '%s' warn '%s'", v, (int)st, err.msg, warn);
        }
        g3_gguf_close(g);
        free(buf);
        g3_gguf_writer_free(w);
    }

    /* The real file, when ../shared is there: its template is the embedded one. */
    const char *dir = getenv("G3_SHARED_DIR");
    char path[4096];
    snprintf(path, sizeof(path), "%s/reference/mini-f32.gguf", dir && *dir ? dir : "../shared");
    FILE *f = fopen(path, "rb");
    if (!f) {
        printf("  (no %s: the embedded template copy stands in)\n", path);
        return;
    }
    fclose(f);
    g3_gguf *g = NULL;
    g3_err err = {0};
    CHECK(g3_gguf_open(path, &g, &err) == G3_OK, "%s", err.msg);
    if (g) {
        const char *s = NULL;
        uint64_t len = 0;
        bool found = false;
        CHECK(g3_gguf_get_str(g, "tokenizer.chat_template", &s, &len, &found, &err) == G3_OK &&
                  found && len == n && memcmp(s, gemma3_template, n) == 0,
              "the model's template differs from the embedded copy");
        CHECK(g3_chat_template_from_gguf(g, &t, warn, sizeof(warn), &err) == G3_OK && !warn[0] &&
                  t.system_mode == G3_CHAT_SYSTEM_FOLD && !t.assistant_verbatim,
              "mini-f32.gguf: %s %s", err.msg, warn);
        printf("  %s: Gemma 3 template recognized (%llu bytes)\n", path,
               (unsigned long long)len);
    }
    g3_gguf_close(g);
}

/* ---- stop strings ------------------------------------------------------------- */

/* Feeds text cut at the given lengths (0-terminated list; the rest in one piece)
 * and returns the printed text and the final state. */
static void run_stop(const char *const *stops, int n_stops, const char *text, const int *cuts,
                     char *printed, size_t cap, g3_stop_out *last)
{
    g3_stop *st = NULL;
    g3_err err = {0};
    printed[0] = 0;
    memset(last, 0, sizeof(*last));
    REQUIRE_VOID(g3_stop_create(stops, n_stops, &st, &err) == G3_OK);
    size_t pos = 0, total = strlen(text), plen = 0;
    for (int i = 0; pos < total; i++) {
        size_t len = cuts && cuts[i] ? (size_t)cuts[i] : total - pos;
        len = G3_MIN(len, total - pos);
        g3_stop_out o;
        REQUIRE_VOID(g3_stop_feed(st, text + pos, len, &o) == G3_OK);
        pos += len;
        REQUIRE_VOID(plen + o.len < cap);
        memcpy(printed + plen, o.text, o.len);
        plen += o.len;
        *last = o;
        if (o.stopped)
            break;
    }
    if (!last->stopped) {
        g3_stop_out o = g3_stop_flush(st);
        REQUIRE_VOID(plen + o.len < cap);
        memcpy(printed + plen, o.text, o.len);
        plen += o.len;
        *last = o;
    }
    printed[plen] = 0;
    g3_stop_free(st);
}

static void test_stop(void)
{
    const char *stops[] = {"<end_of_turn>", "User:"};
    char out[512];
    g3_stop_out o;

    /* Across piece boundaries, with what is held back at each step. */
    g3_stop *st = NULL;
    REQUIRE_VOID(g3_stop_create(stops, 2, &st, NULL) == G3_OK);
    REQUIRE_VOID(g3_stop_feed(st, "Hello <end", 10, &o) == G3_OK);
    CHECK(o.len == 6 && memcmp(o.text, "Hello ", 6) == 0 && !o.stopped, "holds back '<end'");
    REQUIRE_VOID(g3_stop_feed(st, "_of_t", 5, &o) == G3_OK);
    CHECK(o.len == 0 && !o.stopped, "still held: %zu", o.len);
    REQUIRE_VOID(g3_stop_feed(st, "urn> more", 9, &o) == G3_OK);
    CHECK(o.len == 0 && o.stopped && o.which == 0 && o.match_offset == 6,
          "stopped at 6 (len %zu which %d offset %llu)", o.len, o.which,
          (unsigned long long)o.match_offset);
    REQUIRE_VOID(g3_stop_feed(st, "x", 1, &o) == G3_OK);
    CHECK(o.len == 0 && o.stopped, "nothing after a stop");
    o = g3_stop_flush(st);
    CHECK(o.len == 0 && o.stopped, "flush after a stop");

    /* A partial match that fails is released; flush releases a dangling one. */
    g3_stop_reset(st);
    REQUIRE_VOID(g3_stop_feed(st, "a <e", 4, &o) == G3_OK);
    CHECK(o.len == 2 && !o.stopped, "a partial is held");
    REQUIRE_VOID(g3_stop_feed(st, "x <", 3, &o) == G3_OK);
    CHECK(o.len == 4 && memcmp(o.text, "<ex ", 4) == 0, "released when it fails");
    REQUIRE_VOID(g3_stop_feed(st, "end_of", 6, &o) == G3_OK);
    CHECK(o.len == 0, "held again");
    o = g3_stop_flush(st);
    CHECK(o.len == 7 && memcmp(o.text, "<end_of", 7) == 0 && !o.stopped, "flush releases");
    g3_stop_free(st);

    /* The second stop string, fed one byte at a time. */
    const int ones[64] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
                          1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
                          1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
    run_stop(stops, 2, "Sure. Use: x\nUser: hi<end_of_turn>", ones, out, sizeof(out), &o);
    CHECK(strcmp(out, "Sure. Use: x\n") == 0 && o.stopped && o.which == 1 && o.match_offset == 13,
          "User: stop: [%s] which %d", out, o.which);

    /* No false positives: near misses pass through whole. */
    const char *near = "<end_of_turn <end_of_turn! User; Use r: <end_of_tur";
    run_stop(stops, 2, near, ones, out, sizeof(out), &o);
    CHECK(strcmp(out, near) == 0 && !o.stopped && o.which == -1, "near misses: [%s]", out);
    run_stop(NULL, 0, near, NULL, out, sizeof(out), &o);
    CHECK(strcmp(out, near) == 0 && !o.stopped, "no stop strings");

    /* Several overlapping stop strings: the earliest start wins, then the first
     * listed, whatever the cuts. */
    const char *over[] = {"bc", "abcd", "b"};
    const struct {
        const char *text, *want;
        int which;
    } oc[] = {{"xabcd!", "x", 1}, {"xabce", "xa", 0}, {"xab", "xa", 2}, {"xb", "x", 2}};
    const int cuts[][8] = {{0}, {1, 1, 1, 1, 1, 1, 1}, {2, 1, 3}, {1, 2, 2}, {3, 1}};
    for (size_t i = 0; i < G3_ARRAY_LEN(oc); i++) {
        for (size_t c = 0; c < G3_ARRAY_LEN(cuts); c++) {
            run_stop(over, 3, oc[i].text, cuts[c], out, sizeof(out), &o);
            CHECK(strcmp(out, oc[i].want) == 0 && o.stopped && o.which == oc[i].which &&
                      o.match_offset == strlen(oc[i].want),
                  "overlap '%s' cut %zu: [%s] which %d", oc[i].text, c, out, o.which);
        }
    }

    /* Chunking never changes the result: random texts over a small alphabet. */
    unsigned seed = 7;
    const char *rs[] = {"aab", "ba", "abab"};
    int mismatches = 0;
    for (int iter = 0; iter < 2000; iter++) {
        char text[24];
        int cut[25] = {0};
        const int len = 1 + (int)((seed = seed * 1103515245u + 12345u) >> 16) % 23;
        for (int i = 0; i < len; i++)
            text[i] = "ab"[((seed = seed * 1103515245u + 12345u) >> 16) & 1];
        text[len] = 0;
        for (int i = 0; i < 24; i++)
            cut[i] = 1 + (int)(((seed = seed * 1103515245u + 12345u) >> 16) % 4);
        char whole[64];
        g3_stop_out ow;
        run_stop(rs, 3, text, NULL, whole, sizeof(whole), &ow);
        run_stop(rs, 3, text, cut, out, sizeof(out), &o);
        mismatches += strcmp(whole, out) != 0 || ow.stopped != o.stopped || ow.which != o.which ||
                      ow.match_offset != o.match_offset;
    }
    CHECK(mismatches == 0, "%d random texts depend on the cuts", mismatches);

    const char *bad[] = {"ok", ""};
    g3_err err = {0};
    st = (g3_stop *)&err;
    CHECK(g3_stop_create(bad, 2, &st, &err) == G3_ERR_INVALID_ARG && !st &&
              strstr(err.msg, "stop string 1"),
          "empty stop string: %s", err.msg);
}

int main(void)
{
    test_render();
    test_errors();
    test_incremental();
    test_detect();
    test_stop();
    return test_finish("test_chat");
}
