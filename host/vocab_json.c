/* vocab_json.c: Hugging Face tokenizer.json -> GGUF-style vocabulary arrays.
 *
 * Jansson parses the whole file into a tree (the real 33 MB Gemma 3 file: about
 * 0.5 s and 185 MB peak), which is simple and fast enough for a conversion
 * tool. model.vocab stays a Jansson object while the merges are resolved, so
 * its hash table serves the piece -> id lookups and we need no table of our own. */
#include "vocab_json.h"

#include <errno.h>
#include <jansson.h>
#include <string.h>

/* ---- small helpers -------------------------------------------------------- */

/* A printable, bounded copy of a piece for messages: control bytes become '?'. */
static const char *printable(const char *s, size_t len, char *buf, size_t cap)
{
    size_t n = len < cap - 1 ? len : cap - 1;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        buf[i] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
    }
    buf[n] = 0;
    if (n < len && cap > 4)
        memcpy(buf + cap - 4, "...", 4);
    return buf;
}

static g3_status read_whole_file(const char *path, char **out, size_t *out_len, g3_err *err)
{
    *out = NULL;
    *out_len = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return g3_err_set(err, G3_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    g3_status st = G3_OK;
    char *buf = NULL;
    long size = -1;
    if (fseek(f, 0, SEEK_END) == 0)
        size = ftell(f);
    if (size < 0 || fseek(f, 0, SEEK_SET) != 0) {
        st = g3_err_set(err, G3_ERR_IO, "%s: cannot determine the file size", path);
        goto out;
    }
    if ((unsigned long long)size > G3_VOCAB_MAX_FILE_BYTES) {
        st = g3_err_set(err, G3_ERR_FORMAT, "%s: file is %ld bytes, more than the limit of %llu",
                        path, size, (unsigned long long)G3_VOCAB_MAX_FILE_BYTES);
        goto out;
    }
    buf = malloc((size_t)size + 1);
    if (!buf) {
        st = g3_err_set(err, G3_ERR_OUT_OF_MEMORY, "%s: cannot allocate %ld bytes", path, size);
        goto out;
    }
    if (size > 0 && fread(buf, 1, (size_t)size, f) != (size_t)size) {
        st = g3_err_set(err, G3_ERR_IO, "%s: read failed", path);
        goto out;
    }
    buf[size] = 0;
    *out = buf;
    *out_len = (size_t)size;
    buf = NULL;
out:
    free(buf);
    fclose(f);
    return st;
}

static g3_status parse_json(const char *text, size_t len, const char *name, json_t **out,
                            g3_err *err)
{
    json_error_t je;
    /* Duplicate keys would make model.vocab ambiguous: reject them. */
    *out = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (!*out)
        return g3_err_set(err, G3_ERR_FORMAT, "%s: not valid JSON (line %d, column %d): %s", name,
                          je.line, je.column, je.text);
    if (!json_is_object(*out)) {
        json_decref(*out);
        *out = NULL;
        return g3_err_set(err, G3_ERR_FORMAT, "%s: the top level is not a JSON object", name);
    }
    return G3_OK;
}

/* An id: a JSON integer in [0, limit). */
static bool get_id(const json_t *v, uint32_t limit, uint32_t *id)
{
    if (!json_is_integer(v))
        return false;
    json_int_t x = json_integer_value(v);
    if (x < 0 || (unsigned long long)x >= limit)
        return false;
    *id = (uint32_t)x;
    return true;
}

/* ---- loading ---------------------------------------------------------------- */

/* Where each id's piece comes from while the vocabulary is assembled. */
typedef struct slot {
    const char *s; /* borrowed from the JSON tree */
    size_t len;
    int8_t added;  /* 0 none, 1 added non-special, 2 added special */
    bool used;
} slot;

typedef struct loader {
    const char *name; /* tokenizer.json's name, for messages */
    json_t *root, *model, *vocab;
    slot *slots;      /* (n_slots) by id */
    uint32_t n_slots;
    uint32_t n_model; /* 1 + the largest id in model.vocab */
    const char *unk;  /* model.unk_token, may be NULL */
    size_t unk_len;
    bool byte_fallback;
} loader;

static g3_status load_model_vocab(loader *L, g3_err *err)
{
    L->model = json_object_get(L->root, "model");
    if (!json_is_object(L->model))
        return g3_err_set(err, G3_ERR_FORMAT, "%s: 'model' is %s, expected an object", L->name,
                          L->model ? "not an object" : "missing");
    const json_t *type = json_object_get(L->model, "type");
    if (type && (!json_is_string(type) || strcmp(json_string_value(type), "BPE") != 0))
        return g3_err_set(err, G3_ERR_UNSUPPORTED,
                          "%s: model.type is not \"BPE\": only BPE tokenizers are supported",
                          L->name);
    L->vocab = json_object_get(L->model, "vocab");
    if (!json_is_object(L->vocab))
        return g3_err_set(err, G3_ERR_FORMAT, "%s: model.vocab is %s, expected an object",
                          L->name, L->vocab ? "not an object" : "missing");
    size_t n = json_object_size(L->vocab);
    if (n == 0)
        return g3_err_set(err, G3_ERR_FORMAT, "%s: model.vocab is empty", L->name);
    if (n > G3_VOCAB_MAX_TOKENS)
        return g3_err_set(err, G3_ERR_FORMAT, "%s: model.vocab has %zu entries, more than %u",
                          L->name, n, G3_VOCAB_MAX_TOKENS);
    const json_t *unk = json_object_get(L->model, "unk_token");
    if (json_is_string(unk)) {
        L->unk = json_string_value(unk);
        L->unk_len = json_string_length(unk);
    }
    const json_t *bf = json_object_get(L->model, "byte_fallback");
    L->byte_fallback = json_is_true(bf);

    /* Pass 1: validate ids and find the largest, to size the id table. */
    uint32_t max_id = 0;
    char pbuf[64];
    for (void *it = json_object_iter(L->vocab); it; it = json_object_iter_next(L->vocab, it)) {
        const char *key = json_object_iter_key(it);
        size_t klen = json_object_iter_key_len(it);
        uint32_t id;
        if (!get_id(json_object_iter_value(it), G3_VOCAB_MAX_TOKENS, &id))
            return g3_err_set(err, G3_ERR_FORMAT,
                              "%s: model.vocab['%s']: the id is not an integer in [0, %u)",
                              L->name, printable(key, klen, pbuf, sizeof(pbuf)),
                              G3_VOCAB_MAX_TOKENS);
        if (klen > G3_VOCAB_MAX_PIECE_BYTES)
            return g3_err_set(err, G3_ERR_FORMAT,
                              "%s: model.vocab: the piece of id %u is %zu bytes, more than %u",
                              L->name, id, klen, G3_VOCAB_MAX_PIECE_BYTES);
        if (id > max_id)
            max_id = id;
    }
    L->n_model = max_id + 1;
    L->n_slots = L->n_model;
    L->slots = calloc(L->n_slots, sizeof(*L->slots));
    if (!L->slots)
        return g3_err_set(err, G3_ERR_OUT_OF_MEMORY, "%s: cannot allocate %u vocabulary slots",
                          L->name, L->n_slots);
    /* Pass 2: fill the table; two pieces with one id would make the id ambiguous. */
    char pbuf2[64];
    for (void *it = json_object_iter(L->vocab); it; it = json_object_iter_next(L->vocab, it)) {
        uint32_t id = (uint32_t)json_integer_value(json_object_iter_value(it));
        slot *s = &L->slots[id];
        const char *key = json_object_iter_key(it);
        size_t klen = json_object_iter_key_len(it);
        if (s->used)
            return g3_err_set(err, G3_ERR_FORMAT,
                              "%s: model.vocab: id %u is used by both '%s' and '%s'", L->name, id,
                              printable(s->s, s->len, pbuf, sizeof(pbuf)),
                              printable(key, klen, pbuf2, sizeof(pbuf2)));
        s->s = key;
        s->len = klen;
        s->used = true;
    }
    return G3_OK;
}

static g3_status load_added_tokens(loader *L, uint32_t *n_ignored, g3_err *err)
{
    *n_ignored = 0;
    const json_t *added = json_object_get(L->root, "added_tokens");
    if (!added || json_is_null(added))
        return G3_OK;
    if (!json_is_array(added))
        return g3_err_set(err, G3_ERR_FORMAT, "%s: added_tokens is not an array", L->name);
    size_t n = json_array_size(added);
    if (n > G3_VOCAB_MAX_TOKENS)
        return g3_err_set(err, G3_ERR_FORMAT, "%s: added_tokens has %zu entries, more than %u",
                          L->name, n, G3_VOCAB_MAX_TOKENS);
    char pbuf[64], pbuf2[64];
    for (size_t i = 0; i < n; i++) {
        const json_t *a = json_array_get(added, i);
        const json_t *jid = json_object_get(a, "id"), *jc = json_object_get(a, "content");
        const json_t *jsp = json_object_get(a, "special");
        uint32_t id;
        if (!json_is_object(a) || !get_id(jid, G3_VOCAB_MAX_TOKENS, &id))
            return g3_err_set(err, G3_ERR_FORMAT,
                              "%s: added_tokens[%zu]: 'id' is missing or not an integer in "
                              "[0, %u)",
                              L->name, i, G3_VOCAB_MAX_TOKENS);
        if (!json_is_string(jc))
            return g3_err_set(err, G3_ERR_FORMAT,
                              "%s: added_tokens[%zu]: 'content' is missing or not a string",
                              L->name, i);
        if (jsp && !json_is_boolean(jsp))
            return g3_err_set(err, G3_ERR_FORMAT,
                              "%s: added_tokens[%zu]: 'special' is not a boolean", L->name, i);
        const char *c = json_string_value(jc);
        size_t clen = json_string_length(jc);
        if (clen > G3_VOCAB_MAX_PIECE_BYTES)
            return g3_err_set(err, G3_ERR_FORMAT,
                              "%s: added_tokens[%zu]: content is %zu bytes, more than %u",
                              L->name, i, clen, G3_VOCAB_MAX_PIECE_BYTES);
        if (id >= L->n_model) { /* beyond the model vocabulary: see the header */
            (*n_ignored)++;
            continue;
        }
        slot *s = &L->slots[id];
        if (s->added)
            return g3_err_set(err, G3_ERR_FORMAT, "%s: added_tokens[%zu]: id %u appears twice",
                              L->name, i, id);
        if (s->used && (s->len != clen || memcmp(s->s, c, clen) != 0))
            return g3_err_set(err, G3_ERR_FORMAT,
                              "%s: added_tokens[%zu]: id %u is '%s' here but '%s' in model.vocab",
                              L->name, i, id, printable(c, clen, pbuf, sizeof(pbuf)),
                              printable(s->s, s->len, pbuf2, sizeof(pbuf2)));
        s->s = c;
        s->len = clen;
        s->used = true;
        s->added = json_is_true(jsp) ? 2 : 1;
    }
    return G3_OK;
}

static bool is_upper_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F');
}

/* SentencePiece's byte-fallback pieces are exactly "<0xNN>" with upper-case hex. */
static bool is_byte_piece(const char *s, size_t len)
{
    return len == 6 && s[0] == '<' && s[1] == '0' && s[2] == 'x' && is_upper_hex(s[3]) &&
           is_upper_hex(s[4]) && s[5] == '>';
}

/* Splits merge i into its two pieces: "a b" (the older format) or ["a", "b"]. */
static g3_status merge_parts(const loader *L, const json_t *m, size_t i, const char **a,
                             size_t *alen, const char **b, size_t *blen, g3_err *err)
{
    if (json_is_string(m)) {
        const char *s = json_string_value(m);
        size_t len = json_string_length(m);
        const char *sp = memchr(s, ' ', len);
        if (!sp || memchr(sp + 1, ' ', len - (size_t)(sp + 1 - s)))
            return g3_err_set(err, G3_ERR_FORMAT,
                              "%s: model.merges[%zu]: expected \"left right\" with one space",
                              L->name, i);
        *a = s;
        *alen = (size_t)(sp - s);
        *b = sp + 1;
        *blen = len - *alen - 1;
        return G3_OK;
    }
    if (json_is_array(m) && json_array_size(m) == 2 && json_is_string(json_array_get(m, 0)) &&
        json_is_string(json_array_get(m, 1))) {
        const json_t *x = json_array_get(m, 0), *y = json_array_get(m, 1);
        *a = json_string_value(x);
        *alen = json_string_length(x);
        *b = json_string_value(y);
        *blen = json_string_length(y);
        return G3_OK;
    }
    return g3_err_set(err, G3_ERR_FORMAT,
                      "%s: model.merges[%zu]: expected a string \"left right\" or an array of "
                      "two strings",
                      L->name, i);
}

static g3_status vocab_id_of(const loader *L, const char *s, size_t len, size_t i,
                             const char *what, int32_t *id, g3_err *err)
{
    char pbuf[64];
    const json_t *v = json_object_getn(L->vocab, s, len);
    if (!v)
        return g3_err_set(err, G3_ERR_FORMAT, "%s: model.merges[%zu]: %s '%s' is not in model.vocab",
                          L->name, i, what, printable(s, len, pbuf, sizeof(pbuf)));
    *id = (int32_t)json_integer_value(v); /* validated in load_model_vocab */
    return G3_OK;
}

/* Derives the scores from the merges and keeps the merges among the first n ids. */
static g3_status load_merges(const loader *L, g3_vocab *v, bool keep, g3_err *err)
{
    const json_t *merges = json_object_get(L->model, "merges");
    if (!merges || json_is_null(merges))
        return G3_OK; /* a BPE vocabulary without merges: every score stays 0 */
    if (!json_is_array(merges))
        return g3_err_set(err, G3_ERR_FORMAT, "%s: model.merges is not an array", L->name);
    size_t n = json_array_size(merges);
    if (n > G3_VOCAB_MAX_MERGES)
        return g3_err_set(err, G3_ERR_FORMAT, "%s: model.merges has %zu entries, more than %u",
                          L->name, n, G3_VOCAB_MAX_MERGES);
    v->n_merges_source = (uint32_t)n;
    if (keep && n > 0) {
        v->merges = malloc(n * sizeof(*v->merges));
        if (!v->merges)
            return g3_err_set(err, G3_ERR_OUT_OF_MEMORY, "%s: cannot allocate %zu merges",
                              L->name, n);
    }
    /* Scores are only set by the first merge producing a piece; the marks live in
     * a bitmap over the full model vocabulary, since ids >= v->n still count. */
    uint8_t *seen = calloc((L->n_model + 7) / 8, 1);
    char *cat = malloc(2 * (size_t)G3_VOCAB_MAX_PIECE_BYTES);
    g3_status st = G3_OK;
    if (!seen || !cat) {
        st = g3_err_set(err, G3_ERR_OUT_OF_MEMORY, "%s: out of memory for the merges", L->name);
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        const char *a = NULL, *b = NULL;
        size_t alen = 0, blen = 0;
        int32_t ia = 0, ib = 0, ir = 0;
        if ((st = merge_parts(L, json_array_get(merges, i), i, &a, &alen, &b, &blen, err)) ||
            (st = vocab_id_of(L, a, alen, i, "left piece", &ia, err)) ||
            (st = vocab_id_of(L, b, blen, i, "right piece", &ib, err)))
            goto out;
        /* Both parts are vocabulary keys, so each is at most MAX_PIECE bytes. */
        memcpy(cat, a, alen);
        memcpy(cat + alen, b, blen);
        if ((st = vocab_id_of(L, cat, alen + blen, i, "merged piece", &ir, err)))
            goto out;
        if (!(seen[ir >> 3] & (1u << (ir & 7)))) {
            seen[ir >> 3] |= (uint8_t)(1u << (ir & 7));
            if ((uint32_t)ir < v->n) /* i < 2^24: exact as a float */
                v->scores[ir] = -(float)i;
        }
        if (v->merges && (uint32_t)ia < v->n && (uint32_t)ib < v->n && (uint32_t)ir < v->n)
            v->merges[v->n_merges++] =
                (g3_vocab_merge){.left = ia, .right = ib, .result = ir, .rank = (uint32_t)i};
    }
out:
    free(seen);
    free(cat);
    return st;
}

/* bos_token / eos_token in tokenizer_config.json: a string or {"content": "..."}. */
static const json_t *config_token(const json_t *cfg, const char *key)
{
    const json_t *t = json_object_get(cfg, key);
    if (json_is_object(t))
        t = json_object_get(t, "content");
    return json_is_string(t) ? t : NULL;
}

static g3_status load_config(g3_vocab *v, const char *text, size_t len, const char *name,
                             g3_err *err)
{
    json_t *cfg = NULL;
    g3_status st = parse_json(text, len, name, &cfg, err);
    if (st)
        return st;
    const json_t *b = json_object_get(cfg, "add_bos_token");
    const json_t *e = json_object_get(cfg, "add_eos_token");
    const json_t *tpl = json_object_get(cfg, "chat_template");
    if ((b && !json_is_boolean(b)) || (e && !json_is_boolean(e))) {
        st = g3_err_set(err, G3_ERR_FORMAT, "%s: %s is not a boolean", name,
                        b && !json_is_boolean(b) ? "add_bos_token" : "add_eos_token");
        goto out;
    }
    if (b)
        v->add_bos = json_is_true(b);
    if (e)
        v->add_eos = json_is_true(e);
    if (json_is_array(tpl)) {
        /* The list form [{"name": "default", "template": "..."}, ...]. */
        const json_t *pick = NULL;
        for (size_t i = 0; i < json_array_size(tpl); i++) {
            const json_t *t = json_array_get(tpl, i);
            const json_t *nm = json_object_get(t, "name");
            if (json_is_string(nm) && !strcmp(json_string_value(nm), "default"))
                pick = json_object_get(t, "template");
        }
        tpl = pick;
        if (!json_is_string(tpl)) {
            st = g3_err_set(err, G3_ERR_FORMAT,
                            "%s: chat_template is a list without a \"default\" template", name);
            goto out;
        }
    }
    if (tpl && !json_is_null(tpl)) {
        if (!json_is_string(tpl)) {
            st = g3_err_set(err, G3_ERR_FORMAT, "%s: chat_template is not a string", name);
            goto out;
        }
        size_t tl = json_string_length(tpl);
        if (!(v->chat_template = malloc(tl + 1))) {
            st = g3_err_set(err, G3_ERR_OUT_OF_MEMORY, "%s: out of memory", name);
            goto out;
        }
        memcpy(v->chat_template, json_string_value(tpl), tl + 1);
    }
    const json_t *eos = config_token(cfg, "eos_token");
    if (eos) {
        int32_t id = g3_vocab_find(v, json_string_value(eos), json_string_length(eos));
        if (id >= 0 && id != v->eos_id)
            v->eot_id = id;
    }
out:
    json_decref(cfg);
    return st;
}

g3_status g3_vocab_load_json_memory(const char *json, size_t json_len, const char *json_name,
                                    const char *config, size_t config_len,
                                    const char *config_name, const g3_vocab_options *opt,
                                    g3_vocab **out, g3_err *err)
{
    g3_vocab_options o = opt ? *opt : (g3_vocab_options){0};
    loader L = {.name = json_name ? json_name : "tokenizer.json"};
    g3_vocab *v = NULL;
    g3_status st;
    *out = NULL;
    if (!json) {
        return g3_err_set(err, G3_ERR_INVALID_ARG, "%s: no data", L.name);
    }
    if (json_len > G3_VOCAB_MAX_FILE_BYTES)
        return g3_err_set(err, G3_ERR_FORMAT, "%s: %zu bytes, more than the limit of %llu",
                          L.name, json_len, (unsigned long long)G3_VOCAB_MAX_FILE_BYTES);
    if ((st = parse_json(json, json_len, L.name, &L.root, err)) ||
        (st = load_model_vocab(&L, err)))
        goto fail;
    if (!(v = calloc(1, sizeof(*v)))) {
        st = g3_err_set(err, G3_ERR_OUT_OF_MEMORY, "%s: out of memory", L.name);
        goto fail;
    }
    if ((st = load_added_tokens(&L, &v->n_added_ignored, err)))
        goto fail;
    for (uint32_t id = 0; id < L.n_slots; id++)
        if (!L.slots[id].used) {
            st = g3_err_set(err, G3_ERR_FORMAT,
                            "%s: model.vocab: id %u has no piece (ids must be 0..%u without gaps)",
                            L.name, id, L.n_slots - 1);
            goto fail;
        }
    v->n_source = L.n_slots;
    v->n = o.max_tokens && o.max_tokens < L.n_slots ? o.max_tokens : L.n_slots;
    v->bos_id = v->eos_id = v->unk_id = v->pad_id = v->eot_id = -1;
    v->add_bos = true;

    /* Pieces: one blob, NUL-terminated each, so callers may use them as C strings. */
    uint64_t blob_bytes = 0;
    for (uint32_t id = 0; id < v->n; id++)
        blob_bytes += L.slots[id].len + 1; /* bounded: n <= 2^22, len <= 2^14 */
    v->pieces = malloc(v->n * sizeof(*v->pieces));
    v->lens = malloc(v->n * sizeof(*v->lens));
    v->scores = calloc(v->n, sizeof(*v->scores));
    v->types = malloc(v->n * sizeof(*v->types));
    v->blob = malloc((size_t)blob_bytes);
    if (!v->pieces || !v->lens || !v->scores || !v->types || !v->blob) {
        st = g3_err_set(err, G3_ERR_OUT_OF_MEMORY, "%s: cannot allocate %u pieces", L.name, v->n);
        goto fail;
    }
    char *p = v->blob;
    for (uint32_t id = 0; id < v->n; id++) {
        const slot *s = &L.slots[id];
        memcpy(p, s->s, s->len);
        p[s->len] = 0;
        v->pieces[id] = p;
        v->lens[id] = s->len;
        p += s->len + 1;
        int32_t t = G3_TOKEN_NORMAL;
        if (L.unk && s->len == L.unk_len && !memcmp(s->s, L.unk, s->len))
            t = G3_TOKEN_UNKNOWN;
        else if (s->added)
            t = s->added == 2 ? G3_TOKEN_CONTROL : G3_TOKEN_USER_DEFINED;
        else if (L.byte_fallback && is_byte_piece(s->s, s->len))
            t = G3_TOKEN_BYTE;
        v->types[id] = t;
    }
    if ((st = load_merges(&L, v, !o.skip_merges, err)))
        goto fail;
    v->bos_id = g3_vocab_find(v, "<bos>", 5);
    v->eos_id = g3_vocab_find(v, "<eos>", 5);
    v->pad_id = g3_vocab_find(v, "<pad>", 5);
    v->unk_id = L.unk ? g3_vocab_find(v, L.unk, L.unk_len) : -1;
    if (v->unk_id < 0)
        v->unk_id = g3_vocab_find(v, "<unk>", 5);
    if (config && (st = load_config(v, config, config_len,
                                    config_name ? config_name : "tokenizer_config.json", err)))
        goto fail;
    free(L.slots);
    json_decref(L.root);
    *out = v;
    return G3_OK;
fail:
    free(L.slots);
    json_decref(L.root);
    g3_vocab_free(v);
    return st;
}

g3_status g3_vocab_load_json(const char *tokenizer_json, const char *tokenizer_config,
                             const g3_vocab_options *opt, g3_vocab **out, g3_err *err)
{
    char *j = NULL, *c = NULL;
    size_t jl = 0, cl = 0;
    *out = NULL;
    if (!tokenizer_json)
        return g3_err_set(err, G3_ERR_INVALID_ARG, "no tokenizer.json path given");
    g3_status st = read_whole_file(tokenizer_json, &j, &jl, err);
    if (!st && tokenizer_config)
        st = read_whole_file(tokenizer_config, &c, &cl, err);
    if (!st)
        st = g3_vocab_load_json_memory(j, jl, tokenizer_json, c, cl, tokenizer_config, opt, out,
                                       err);
    free(j);
    free(c);
    return st;
}

void g3_vocab_free(g3_vocab *v)
{
    if (!v)
        return;
    free(v->pieces);
    free(v->lens);
    free(v->scores);
    free(v->types);
    free(v->merges);
    free(v->chat_template);
    free(v->blob);
    free(v);
}

int32_t g3_vocab_find(const g3_vocab *v, const char *piece, size_t len)
{
    for (uint32_t i = 0; v && i < v->n; i++)
        if (v->lens[i] == len && !memcmp(v->pieces[i], piece, len))
            return (int32_t)i;
    return -1;
}
