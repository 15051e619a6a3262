/* g3_internal.h: private helpers shared by every host/ and runtime/ module:
 * the error buffer, overflow-checked arithmetic, invariant asserts. */
#ifndef G3_INTERNAL_H
#define G3_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "g3.h"

/* A detail message that travels with a status. Functions that can fail take a
 * `g3_err *err` (may be NULL) and fill it with g3_err_set(), which returns the
 * status so that `return g3_err_set(err, G3_ERR_FORMAT, "...")` reads well.
 * The first message set wins: callers may add context with g3_err_prefix(). */
typedef struct g3_err {
    g3_status status;
    char msg[512];
} g3_err;

#if defined(__GNUC__)
#define G3_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define G3_PRINTF(a, b)
#endif

g3_status g3_err_set(g3_err *err, g3_status st, const char *fmt, ...) G3_PRINTF(3, 4);
/* Prepends "prefix: " to an existing message (for example the file name). */
void g3_err_prefix(g3_err *err, const char *fmt, ...) G3_PRINTF(2, 3);
/* Copies the message into a caller buffer (snprintf semantics); safe with NULL. */
void g3_err_copy(const g3_err *err, char *buf, size_t cap);

/* Broken invariants of our own code (never untrusted input) abort with file:line. */
#define G3_ASSERT(x)                                                                   \
    do {                                                                               \
        if (!(x)) {                                                                    \
            fprintf(stderr, "%s:%d: g3 internal invariant failed: %s\n", __FILE__,    \
                    __LINE__, #x);                                                     \
            abort();                                                                   \
        }                                                                              \
    } while (0)

/* Overflow-checked size arithmetic for anything derived from file contents.
 * Return false on overflow, leaving *out untouched. */
static inline bool g3_mul_u64(uint64_t a, uint64_t b, uint64_t *out)
{
    if (a != 0 && b > UINT64_MAX / a)
        return false;
    *out = a * b;
    return true;
}

static inline bool g3_add_u64(uint64_t a, uint64_t b, uint64_t *out)
{
    if (b > UINT64_MAX - a)
        return false;
    *out = a + b;
    return true;
}

#define G3_MIN(a, b) ((a) < (b) ? (a) : (b))
#define G3_MAX(a, b) ((a) > (b) ? (a) : (b))
#define G3_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Monotonic wall clock in seconds. */
double g3_time_s(void);

#endif /* G3_INTERNAL_H */
