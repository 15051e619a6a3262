/* cli_util.c: flag parsing helpers for the g3vk subcommands. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_util.h"

bool g3_cli_int(const char *flag, const char *s, long long min, long long max, long long *out)
{
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || !end || end == s || *end || v < min || v > max) {
        fprintf(stderr, "g3vk: %s expects an integer in [%lld, %lld], got '%s'\n", flag, min,
                max, s);
        return false;
    }
    *out = v;
    return true;
}

bool g3_cli_float(const char *flag, const char *s, double min, double max, double *out)
{
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || !end || end == s || *end || !(v >= min && v <= max)) {
        fprintf(stderr, "g3vk: %s expects a number in [%g, %g], got '%s'\n", flag, min, max, s);
        return false;
    }
    *out = v;
    return true;
}

const char *g3_cli_value(int argc, char **argv, int *i)
{
    if (*i + 1 >= argc) {
        fprintf(stderr, "g3vk: %s needs a value\n", argv[*i]);
        return NULL;
    }
    return argv[++*i];
}

bool g3_cli_backend(const char *s, g3_backend *out)
{
    if (!strcmp(s, "auto"))
        *out = G3_BACKEND_AUTO;
    else if (!strcmp(s, "cpu"))
        *out = G3_BACKEND_CPU;
    else if (!strcmp(s, "vulkan"))
        *out = G3_BACKEND_VULKAN;
    else {
        fprintf(stderr, "g3vk: --backend expects cpu, vulkan or auto, got '%s'\n", s);
        return false;
    }
    return true;
}

const char *g3_cli_bytes(unsigned long long n, char *buf, int cap)
{
    if (n >= (1ull << 30))
        snprintf(buf, (size_t)cap, "%.2f GiB", (double)n / (1ull << 30));
    else if (n >= (1ull << 20))
        snprintf(buf, (size_t)cap, "%.2f MiB", (double)n / (1ull << 20));
    else if (n >= 1024)
        snprintf(buf, (size_t)cap, "%.2f KiB", (double)n / 1024);
    else
        snprintf(buf, (size_t)cap, "%llu B", n);
    return buf;
}

void g3_cli_json_str(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        const unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            printf("\\%c", c);
        else if (c < 0x20)
            printf("\\u%04x", c);
        else
            putchar(c);
    }
    putchar('"');
}
