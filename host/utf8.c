/* utf8.c: strict UTF-8 decoding and the streaming repairer (see utf8.h). */
#include "utf8.h"

/* Table 3-7 of the Unicode standard, per lead byte: the sequence length and the
 * allowed range of the second byte (the others are always 80..BF). */
static bool lead_info(uint8_t b, uint8_t *need, uint8_t *lo, uint8_t *hi)
{
    *lo = 0x80;
    *hi = 0xBF;
    if (b >= 0xC2 && b <= 0xDF) {
        *need = 2;
    } else if (b >= 0xE0 && b <= 0xEF) {
        *need = 3;
        if (b == 0xE0)
            *lo = 0xA0; /* overlong */
        else if (b == 0xED)
            *hi = 0x9F; /* surrogates */
    } else if (b >= 0xF0 && b <= 0xF4) {
        *need = 4;
        if (b == 0xF0)
            *lo = 0x90; /* overlong */
        else if (b == 0xF4)
            *hi = 0x8F; /* beyond U+10FFFF */
    } else {
        return false; /* 80..C1 (continuation, overlong 2-byte), F5..FF */
    }
    return true;
}

size_t g3_utf8_len(const uint8_t *s, size_t n, uint32_t *cp)
{
    if (n == 0)
        return 0;
    const uint8_t b = s[0];
    if (b < 0x80) {
        if (cp)
            *cp = b;
        return 1;
    }
    uint8_t need, lo, hi;
    if (!lead_info(b, &need, &lo, &hi) || n < need)
        return 0;
    if (s[1] < lo || s[1] > hi)
        return 0;
    uint32_t c = b & (need == 2 ? 0x1F : need == 3 ? 0x0F : 0x07);
    c = (c << 6) | (s[1] & 0x3F);
    for (uint8_t i = 2; i < need; i++) {
        if (s[i] < 0x80 || s[i] > 0xBF)
            return 0;
        c = (c << 6) | (s[i] & 0x3F);
    }
    if (cp)
        *cp = c;
    return need;
}

bool g3_utf8_valid(const char *s, size_t n)
{
    const uint8_t *p = (const uint8_t *)s;
    for (size_t i = 0; i < n;) {
        size_t l = g3_utf8_len(p + i, n - i, NULL);
        if (!l)
            return false;
        i += l;
    }
    return true;
}

static void push_byte(g3_utf8_stream *st, uint8_t b, g3_utf8_out *o)
{
    if (st->n_pend) {
        if (b >= st->lo && b <= st->hi) {
            st->pend[st->n_pend++] = b;
            st->lo = 0x80;
            st->hi = 0xBF;
            if (st->n_pend == st->need) {
                g3_utf8_out_put(o, (const char *)st->pend, st->need);
                st->n_pend = 0;
            }
            return;
        }
        /* The held bytes are a maximal ill-formed subpart: one U+FFFD, then b
         * starts afresh (it is not consumed by the broken sequence). */
        g3_utf8_out_put(o, G3_UTF8_REPLACEMENT, 3);
        st->n_pend = 0;
    }
    if (b < 0x80) {
        char c = (char)b;
        g3_utf8_out_put(o, &c, 1);
        return;
    }
    uint8_t need, lo, hi;
    if (!lead_info(b, &need, &lo, &hi)) {
        g3_utf8_out_put(o, G3_UTF8_REPLACEMENT, 3);
        return;
    }
    st->pend[0] = b;
    st->n_pend = 1;
    st->need = need;
    st->lo = lo;
    st->hi = hi;
}

void g3_utf8_stream_push(g3_utf8_stream *st, const uint8_t *s, size_t n, g3_utf8_out *o)
{
    for (size_t i = 0; i < n; i++) {
        /* Fast path: plain ASCII with nothing held. */
        if (!st->n_pend && s[i] < 0x80) {
            if (o->len < o->cap)
                o->buf[o->len] = (char)s[i];
            o->len++;
            continue;
        }
        push_byte(st, s[i], o);
    }
}

void g3_utf8_stream_flush(g3_utf8_stream *st, g3_utf8_out *o)
{
    if (st->n_pend) {
        g3_utf8_out_put(o, G3_UTF8_REPLACEMENT, 3);
        st->n_pend = 0;
    }
}
