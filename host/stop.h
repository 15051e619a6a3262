/* stop.h: streaming stop-string matcher for generated text.
 *
 * Generated text arrives in pieces (one detokenized token at a time), and a
 * stop string may straddle pieces ("<end" + "_of_turn>"). The matcher holds
 * back the longest tail of the text that is still the beginning of some stop
 * string, so nothing that might turn out to be part of a stop string is ever
 * printed, and releases it as soon as the next piece rules the match out.
 *
 *   g3_stop_out o;
 *   for each piece: g3_stop_feed(st, piece, len, &o);
 *                   fwrite(o.text, 1, o.len, stdout);
 *                   if (o.stopped) break;
 *   at the end (no stop): o = g3_stop_flush(st); fwrite(o.text, 1, o.len, stdout);
 *
 * Matching is on bytes (stop strings are UTF-8 like the text). When several
 * stop strings match, the one that starts first wins; at the same start, the
 * one listed first. The result does not depend on how the text is cut into
 * pieces: a complete match waits while a rival that would win may still
 * complete. The output excludes the stop string and everything after it. */
#ifndef G3_STOP_H
#define G3_STOP_H

#include "g3_internal.h"

typedef struct g3_stop g3_stop;

typedef struct g3_stop_out {
    const char *text;      /* bytes that are safe to print now; borrowed until the
                              next call on the matcher; never NUL-terminated      */
    size_t len;            /* how many                                            */
    bool stopped;          /* a stop string matched: text ends right before it    */
    int which;             /* index of the matched stop string, -1 if none        */
    uint64_t match_offset; /* byte offset of the match in all text fed so far     */
} g3_stop_out;

/* Copies n_stops stop strings (may be 0: everything passes through). An empty
 * or NULL stop string is G3_ERR_INVALID_ARG naming its index. */
g3_status g3_stop_create(const char *const *stops, int n_stops, g3_stop **out, g3_err *err);
void g3_stop_free(g3_stop *st);

/* Feeds len bytes. Once a stop string matched, later feeds return nothing and
 * report stopped again. G3_ERR_OUT_OF_MEMORY is the only failure. */
g3_status g3_stop_feed(g3_stop *st, const char *piece, size_t len, g3_stop_out *out);

/* End of the text: releases what was held back (a partial match that never
 * completed), or stops at a complete match that was waiting for a rival.
 * Cannot fail. Nothing after a stop. */
g3_stop_out g3_stop_flush(g3_stop *st);

/* Forgets all text and the stop state (for the next reply). */
void g3_stop_reset(g3_stop *st);

#endif /* G3_STOP_H */
