/* test.h: the tiny test harness every test uses.
 *
 * CHECK(cond, fmt, ...) records a failure and continues; REQUIRE returns from main.
 * A test's main() ends with `return test_finish("name");`, which prints
 * "name: N passed, N failed" and returns 0 or 1. Exit code 77 = skipped (CTest's
 * SKIP_RETURN_CODE): only where no Vulkan device exists at all, or ../shared is absent. */
#ifndef G3_TEST_H
#define G3_TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int test_passed_, test_failed_;

#define CHECK(cond, ...)                                                               \
    do {                                                                               \
        if (cond) {                                                                    \
            test_passed_++;                                                            \
        } else {                                                                       \
            test_failed_++;                                                            \
            fprintf(stderr, "%s:%d: FAIL: %s: ", __FILE__, __LINE__, #cond);           \
            fprintf(stderr, __VA_ARGS__);                                              \
            fputc('\n', stderr);                                                       \
        }                                                                              \
    } while (0)

/* cond is evaluated once (it may have side effects). */
#define REQUIRE(cond, ...)                                                             \
    do {                                                                               \
        const int ok_ = !!(cond);                                                      \
        CHECK(ok_, __VA_ARGS__);                                                       \
        if (!ok_)                                                                      \
            return test_finish(__FILE__);                                              \
    } while (0)

/* REQUIRE for void helper functions. */
#define REQUIRE_VOID(cond)                                                             \
    do {                                                                               \
        const int ok_ = !!(cond);                                                      \
        CHECK(ok_, "required: %s", #cond);                                             \
        if (!ok_)                                                                      \
            return;                                                                    \
    } while (0)

#define TEST_SKIP 77

static inline int test_finish(const char *name)
{
    printf("%s: %d passed, %d failed\n", name, test_passed_, test_failed_);
    return test_failed_ ? 1 : 0;
}

/* ../shared (CI always has it; a plain clone does not). Returns NULL, after printing
 * why, when it is missing: the caller then exits with TEST_SKIP. */
static inline const char *test_shared_dir(void)
{
    const char *d = getenv("G3_SHARED_DIR");
    static char buf[4096];
    if (!d || !*d)
        d = "../shared";
    snprintf(buf, sizeof(buf), "%s/reference/README.md", d);
    FILE *f = fopen(buf, "rb");
    if (!f) {
        printf("SKIPPED: the shared reference files are missing (%s): set G3_SHARED_DIR\n",
               buf);
        return NULL;
    }
    fclose(f);
    return d;
}

/* A path inside the build tree (G3_BUILD_DIR, set by CTest), for scratch files. */
static inline const char *test_build_path(char *buf, size_t cap, const char *name)
{
    const char *d = getenv("G3_BUILD_DIR");
    snprintf(buf, cap, "%s/%s", d && *d ? d : ".", name);
    return buf;
}

#endif /* G3_TEST_H */
