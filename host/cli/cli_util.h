/* cli_util.h: small helpers shared by the subcommands. */
#ifndef G3_CLI_UTIL_H
#define G3_CLI_UTIL_H

#include <stdbool.h>

#include "g3.h"

/* Parses a decimal integer in [min, max] for flag `flag`; prints an error and
 * returns false otherwise. */
bool g3_cli_int(const char *flag, const char *s, long long min, long long max, long long *out);
/* Parses a finite number in [min, max] for flag `flag`. */
bool g3_cli_float(const char *flag, const char *s, double min, double max, double *out);
/* Returns argv[++*i] for a flag that takes a value, or NULL after printing an error. */
const char *g3_cli_value(int argc, char **argv, int *i);
/* Parses --backend cpu|vulkan|auto. */
bool g3_cli_backend(const char *s, g3_backend *out);
/* Prints s as a JSON string literal (quotes, backslashes and control
 * characters escaped) to stdout. */
void g3_cli_json_str(const char *s);
/* "1.23 GiB"-style size into buf. */
const char *g3_cli_bytes(unsigned long long n, char *buf, int cap);

#endif /* G3_CLI_UTIL_H */
