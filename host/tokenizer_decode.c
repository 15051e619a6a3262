/* tokenizer_decode.c: ids -> UTF-8, whole arrays and streaming (the rules are
 * in tokenizer.h: U+2581 -> ' ', <0xNN> -> byte, then UTF-8 repair). */
#include <limits.h>

#include "tokenizer_private.h"

/* Feeds the bytes id stands for into the repairer. */
static void token_bytes(const g3_tokenizer *t, int32_t id, unsigned flags, g3_utf8_stream *st,
                        g3_utf8_out *o)
{
    const int ty = t->pc[id].type;
    if ((flags & G3_DETOK_SKIP_SPECIAL) && g3_tok_is_special_type(ty))
        return;
    const uint8_t *p = (const uint8_t *)t->blob + t->pc[id].off;
    const size_t n = t->pc[id].len;
    if (ty == G3_TOKEN_BYTE) { /* validated as <0xNN> at load */
        const char *h = (const char *)p + 3;
        const uint8_t b = (uint8_t)(((h[0] & 0x0F) + (h[0] > '9' ? 9 : 0)) << 4 |
                                    ((h[1] & 0x0F) + (h[1] > '9' ? 9 : 0)));
        g3_utf8_stream_push(st, &b, 1, o);
        return;
    }
    size_t done = 0;
    for (size_t i = 0; i + 3 <= n;) {
        if (p[i] == 0xE2 && p[i + 1] == 0x96 && p[i + 2] == 0x81) {
            g3_utf8_stream_push(st, p + done, i - done, o);
            g3_utf8_stream_push(st, (const uint8_t *)" ", 1, o);
            i += 3;
            done = i;
        } else {
            i++;
        }
    }
    g3_utf8_stream_push(st, p + done, n - done, o);
}

int g3_tokenizer_decode(const g3_tokenizer *t, const int32_t *ids, int n, unsigned flags,
                        char *out, int cap)
{
    if (!t || n < 0 || (!ids && n > 0) || cap < 0 || (!out && cap > 0))
        return G3_ERR_INVALID_ARG;
    for (int i = 0; i < n; i++)
        if (ids[i] < 0 || (uint32_t)ids[i] >= t->n)
            return G3_ERR_INVALID_ARG;
    g3_utf8_stream st = {0};
    g3_utf8_out o = {.buf = out, .cap = (size_t)cap};
    for (int i = 0; i < n; i++)
        token_bytes(t, ids[i], flags, &st, &o);
    g3_utf8_stream_flush(&st, &o);
    if (o.len >= INT_MAX)
        return G3_ERR_INVALID_ARG;
    if (o.len < (size_t)cap)
        out[o.len] = 0;
    return (int)o.len;
}

void g3_detok_init(g3_detok *d, const g3_tokenizer *t, unsigned flags)
{
    *d = (g3_detok){.tok = t, .flags = flags};
}

int g3_detok_push(g3_detok *d, int32_t id, char *out, int cap)
{
    if (!d || !d->tok || cap < 0 || (!out && cap > 0))
        return G3_ERR_INVALID_ARG;
    if (id < 0 || (uint32_t)id >= d->tok->n)
        return G3_ERR_INVALID_ARG;
    /* Work on a copy of the state and keep it only when the output fits, so
     * that a call with too small a buffer changes nothing. */
    g3_utf8_stream st = d->u;
    g3_utf8_out o = {.buf = out, .cap = (size_t)cap};
    token_bytes(d->tok, id, d->flags, &st, &o);
    if (o.len <= (size_t)cap)
        d->u = st;
    return (int)o.len;
}

int g3_detok_flush(g3_detok *d, char *out, int cap)
{
    if (!d || cap < 0 || (!out && cap > 0))
        return G3_ERR_INVALID_ARG;
    g3_utf8_stream st = d->u;
    g3_utf8_out o = {.buf = out, .cap = (size_t)cap};
    g3_utf8_stream_flush(&st, &o);
    if (o.len <= (size_t)cap)
        d->u = st;
    return (int)o.len;
}

int g3_detok_max_bytes(const g3_tokenizer *t)
{
    /* One input byte releases at most 6 bytes (a U+FFFD for the sequence it
     * breaks and one for itself), or completes a held sequence (4 bytes). */
    return t ? 6 * ((int)t->max_len + 1) : 0;
}
