/* utf8.h: strict UTF-8 decoding and a streaming repairer.
 *
 * "Valid" is RFC 3629 / Unicode Table 3-7: no overlong forms, no surrogates
 * (U+D800..U+DFFF), nothing above U+10FFFF. The tokenizer segments its input
 * with g3_utf8_len(); the detokenizer turns an arbitrary byte stream into valid
 * UTF-8 with g3_utf8_stream, which replaces each maximal ill-formed subpart
 * by one U+FFFD exactly as the WHATWG/Encoding-standard decoder does (Python's
 * errors="replace" and JavaScript's TextDecoder give the same output). */
#ifndef G3_UTF8_H
#define G3_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Length (1..4) of the valid sequence starting at s[0] (n > 0 bytes available),
 * or 0 when s[0] does not start one (bad lead byte, truncated, overlong,
 * surrogate, beyond U+10FFFF). *cp (may be NULL) receives the code point. */
size_t g3_utf8_len(const uint8_t *s, size_t n, uint32_t *cp);

/* True when all n bytes are valid UTF-8. */
bool g3_utf8_valid(const char *s, size_t n);

/* A byte sink that counts everything and stores what fits (snprintf style). */
typedef struct g3_utf8_out {
    char *buf;
    size_t cap;
    size_t len; /* bytes produced so far, stored or not */
} g3_utf8_out;

static inline void g3_utf8_out_put(g3_utf8_out *o, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++, o->len++)
        if (o->len < o->cap)
            o->buf[o->len] = s[i];
}

/* Incremental repairer: bytes in, valid UTF-8 out. At most 3 bytes of an
 * unfinished sequence are held back between calls. Zero-initialize. */
typedef struct g3_utf8_stream {
    uint8_t pend[4];
    uint8_t n_pend; /* bytes held (0..3)                          */
    uint8_t need;   /* total length of the sequence being built    */
    uint8_t lo, hi; /* allowed range of the next continuation byte */
} g3_utf8_stream;

#define G3_UTF8_REPLACEMENT "\xEF\xBF\xBD"

void g3_utf8_stream_push(g3_utf8_stream *st, const uint8_t *s, size_t n, g3_utf8_out *o);
/* End of stream: an unfinished sequence becomes one U+FFFD. */
void g3_utf8_stream_flush(g3_utf8_stream *st, g3_utf8_out *o);

#endif /* G3_UTF8_H */
