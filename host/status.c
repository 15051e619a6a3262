/* status.c: status strings and the g3_err detail buffer. */
#include <stdarg.h>
#include <string.h>
#include <time.h>

#include "g3_internal.h"

const char *g3_status_string(g3_status st)
{
    switch (st) {
#define G3_X(name, value, text)                                                        \
    case name:                                                                         \
        return text;
        G3_STATUS_LIST(G3_X)
#undef G3_X
    }
    return "unknown status";
}

g3_status g3_err_set(g3_err *err, g3_status st, const char *fmt, ...)
{
    if (err && err->status == G3_OK) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
        va_end(ap);
        err->status = st;
    }
    return st;
}

void g3_err_prefix(g3_err *err, const char *fmt, ...)
{
    if (!err)
        return;
    char prefix[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof(prefix), fmt, ap);
    va_end(ap);
    /* Shift the message right and put "prefix: " in front, truncating the tail. */
    const size_t cap = sizeof(err->msg), plen = strlen(prefix) + 2;
    if (plen >= cap)
        return;
    const size_t mlen = strnlen(err->msg, cap - 1);
    const size_t keep = mlen < cap - 1 - plen ? mlen : cap - 1 - plen;
    memmove(err->msg + plen, err->msg, keep);
    err->msg[plen + keep] = 0;
    memcpy(err->msg, prefix, plen - 2);
    memcpy(err->msg + plen - 2, ": ", 2);
}

void g3_err_copy(const g3_err *err, char *buf, size_t cap)
{
    if (!buf || cap == 0)
        return;
    snprintf(buf, cap, "%s", err ? err->msg : "");
}

double g3_time_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
