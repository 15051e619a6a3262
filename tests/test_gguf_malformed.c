/* test_gguf_malformed.c: hand-crafted malformed GGUF files, one per crash
 * class, each rejected with a specific status and a message that names the
 * field, key or tensor and its byte offset; every prefix of a valid file; and
 * seeded random mutations that must never crash (run under ASan + UBSan).
 * Files are built byte by byte here, since the writer refuses to write them. */
#include <stdarg.h>
#include <stdint.h>
#include <string.h>

#include "gguf.h"
#include "quant.h"
#include "test.h"

/* ---- byte builder ---- */
typedef struct bb {
    uint8_t *p;
    size_t n, cap;
} bb;

/* Positions of the length / count / type fields of the valid file, for the
 * mutation loop (8 = u64 field, 4 = u32 field). */
static size_t fld_pos[512];
static uint8_t fld_size[512];
static size_t n_fld;
static bool recording;

static void bb_bytes(bb *b, const void *p, size_t n)
{
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
        if (!b->p)
            abort();
    }
    if (n)
        memcpy(b->p + b->n, p, n);
    b->n += n;
}
static void bb_u8(bb *b, uint8_t v)
{
    bb_bytes(b, &v, 1);
}
static void bb_uint(bb *b, uint64_t v, int size)
{
    if (recording && n_fld < G3_ARRAY_LEN(fld_pos)) {
        fld_pos[n_fld] = b->n;
        fld_size[n_fld++] = (uint8_t)size;
    }
    for (int i = 0; i < size; i++)
        bb_u8(b, (uint8_t)(v >> (8 * i)));
}
static void bb_u32(bb *b, uint32_t v)
{
    bb_uint(b, v, 4);
}
static void bb_u64(bb *b, uint64_t v)
{
    bb_uint(b, v, 8);
}
static void bb_strn(bb *b, const char *s, size_t n)
{
    bb_u64(b, n);
    bb_bytes(b, s, n);
}
static void bb_str(bb *b, const char *s)
{
    bb_strn(b, s, strlen(s));
}

/* ---- GGUF pieces ---- */
static void hdr(bb *b, uint32_t version, uint64_t n_tensors, uint64_t n_kv)
{
    bb_bytes(b, "GGUF", 4);
    bb_u32(b, version);
    bb_u64(b, n_tensors);
    bb_u64(b, n_kv);
}
static void key(bb *b, const char *k, uint32_t type)
{
    bb_str(b, k);
    bb_u32(b, type);
}
static void kv_u32(bb *b, const char *k, uint32_t v)
{
    key(b, k, G3_GGUF_U32);
    bb_u32(b, v);
}
static void kv_str(bb *b, const char *k, const char *v)
{
    key(b, k, G3_GGUF_STRING);
    bb_str(b, v);
}
static void tinfo_n(bb *b, const char *name, uint32_t n_dims, const uint64_t *dims, uint32_t type,
                    uint64_t offset)
{
    bb_str(b, name);
    bb_u32(b, n_dims);
    for (uint32_t i = 0; i < n_dims; i++)
        bb_u64(b, dims[i]);
    bb_u32(b, type);
    bb_u64(b, offset);
}
static void tinfo(bb *b, const char *name, uint64_t ne0, uint32_t type, uint64_t offset)
{
    tinfo_n(b, name, 1, &ne0, type, offset);
}
/* Pads to `align` and appends n data bytes. */
static void data(bb *b, size_t align, size_t n)
{
    while (b->n % align)
        bb_u8(b, 0);
    for (size_t i = 0; i < n; i++)
        bb_u8(b, (uint8_t)(i * 7 + 1));
}
/* A valid one-key, one-tensor tail: kv "k" and a 32-float tensor "w". */
static void one_tensor(bb *b, uint32_t version)
{
    hdr(b, version, 1, 1);
    kv_u32(b, "k", 1);
    tinfo(b, "w", 32, G3_TYPE_F32, 0);
    data(b, 32, 128);
}

/* snprintf into one of a few rotating buffers, for expected substrings. */
static const char *fmt(const char *f, ...) G3_PRINTF(1, 2);
static const char *fmt(const char *f, ...)
{
    static char bufs[4][96];
    static int k;
    char *s = bufs[k++ & 3];
    va_list ap;
    va_start(ap, f);
    vsnprintf(s, 96, f, ap);
    va_end(ap);
    return s;
}

static int n_cases, n_named;

/* One named case: status, no reader returned, both substrings in the message;
 * then the same bytes through the mmap path, whose message starts with the path. */
static void expect(const char *name, bb *b, g3_status want, const char *s1, const char *s2)
{
    n_cases++;
    n_named++;
    g3_err e = {0};
    g3_gguf *g = NULL;
    uint8_t *c = malloc(b->n ? b->n : 1);
    if (b->n)
        memcpy(c, b->p, b->n);
    g3_status st = g3_gguf_open_memory(c, b->n, &g, &e);
    printf("case %2d %-44s -> %s\n", n_named, name, e.msg);
    CHECK(st == want, "[%s] status %d, want %d: %s", name, st, want, e.msg);
    CHECK(g == NULL, "[%s] reader returned on error", name);
    CHECK(e.msg[0] != '\0', "[%s] empty message", name);
    if (s1)
        CHECK(strstr(e.msg, s1) != NULL, "[%s] message '%s' lacks '%s'", name, e.msg, s1);
    if (s2)
        CHECK(strstr(e.msg, s2) != NULL, "[%s] message '%s' lacks '%s'", name, e.msg, s2);
    g3_gguf_close(g);
    free(c);

    char path[4096];
    test_build_path(path, sizeof(path), "test_gguf_malformed.gguf");
    FILE *f = fopen(path, "wb");
    if (f) {
        if (b->n)
            fwrite(b->p, 1, b->n, f);
        fclose(f);
        g3_err fe = {0};
        g = NULL;
        st = g3_gguf_open(path, &g, &fe);
        CHECK(st == want && g == NULL, "[%s] via mmap: status %d: %s", name, st, fe.msg);
        CHECK(strncmp(fe.msg, path, strlen(path)) == 0 && (!s1 || strstr(fe.msg, s1)),
              "[%s] via mmap: message '%s'", name, fe.msg);
        g3_gguf_close(g);
        remove(path);
    }
    free(b->p);
    *b = (bb){0};
}

static void header_cases(void)
{
    bb b = {0};
    expect("empty file", &b, G3_ERR_FORMAT, "0 bytes", "24-byte");
    bb_bytes(&b, "GGUF\3\0\0\0\0\0", 10);
    expect("10-byte file", &b, G3_ERR_FORMAT, "10 bytes", NULL);
    one_tensor(&b, 3);
    memcpy(b.p, "GGML", 4);
    expect("bad magic", &b, G3_ERR_FORMAT, "magic", "byte 0");
    one_tensor(&b, 1);
    expect("version 1", &b, G3_ERR_UNSUPPORTED, "version 1", "byte 4");
    one_tensor(&b, 99);
    expect("version 99", &b, G3_ERR_UNSUPPORTED, "version 99", "byte 4");
    one_tensor(&b, 0);
    expect("version 0", &b, G3_ERR_FORMAT, "version 0", "byte 4");
    one_tensor(&b, 0x03000000u);
    expect("big-endian version", &b, G3_ERR_UNSUPPORTED, "big-endian", "byte 4");

    hdr(&b, 3, 0, 1ull << 40);
    kv_u32(&b, "k", 1);
    expect("n_kv 2^40", &b, G3_ERR_FORMAT, "n_kv 1099511627776", "byte 16");
    hdr(&b, 3, 0, UINT64_MAX);
    kv_u32(&b, "k", 1);
    expect("n_kv UINT64_MAX", &b, G3_ERR_FORMAT, "n_kv 18446744073709551615", NULL);
    hdr(&b, 3, 1ull << 40, 0);
    tinfo(&b, "w", 32, G3_TYPE_F32, 0);
    expect("n_tensors 2^40", &b, G3_ERR_FORMAT, "n_tensors 1099511627776", "byte 8");
    hdr(&b, 3, UINT64_MAX, 1);
    kv_u32(&b, "k", 1);
    expect("n_tensors UINT64_MAX", &b, G3_ERR_FORMAT, "n_tensors 18446744073709551615", NULL);
    /* Each count alone fits the 660 bytes after the header; both together do not. */
    hdr(&b, 3, 20, 47);
    data(&b, 1, 660);
    expect("n_kv + n_tensors together too many", &b, G3_ERR_FORMAT, "n_tensors 20", NULL);
    hdr(&b, 2, 0, 1ull << 50);
    kv_u32(&b, "k", 1);
    expect("v2: n_kv 2^50", &b, G3_ERR_FORMAT, "n_kv", NULL);

    /* Counts larger than what follows: the parser reads on into other fields. */
    one_tensor(&b, 3);
    b.p[8] = 2;
    expect("n_tensors one more than present", &b, G3_ERR_FORMAT, "tensor info #1", "byte");
    one_tensor(&b, 3);
    b.p[16] = 2;
    expect("n_kv one more than present", &b, G3_ERR_FORMAT, "byte", NULL);
}

static void kv_cases(void)
{
    bb b = {0};
    hdr(&b, 3, 0, 1);
    bb_u64(&b, 1ull << 63);
    bb_bytes(&b, "kkkkkkkkk", 9);
    expect("key length 2^63", &b, G3_ERR_FORMAT, "kv #0 (at byte 24)",
           "key length 9223372036854775808");
    hdr(&b, 3, 0, 1);
    bb_u64(&b, UINT64_MAX);
    bb_bytes(&b, "kkkkkkkkk", 9);
    expect("key length UINT64_MAX", &b, G3_ERR_FORMAT, "key length 18446744073709551615", NULL);
    hdr(&b, 3, 0, 1);
    bb_u64(&b, 10);
    bb_bytes(&b, "kkkkkkkkk", 9);
    expect("key length past EOF by 1", &b, G3_ERR_FORMAT, "exceeds the 9 bytes left", NULL);
    hdr(&b, 3, 0, 1);
    bb_u64(&b, 9);
    bb_bytes(&b, "kkkkkkkkk", 9);
    expect("key takes the rest of the file", &b, G3_ERR_FORMAT, "value type", "byte 41");
    hdr(&b, 3, 0, 1);
    kv_u32(&b, "", 1);
    expect("empty key", &b, G3_ERR_FORMAT, "empty key", "byte 24");
    hdr(&b, 3, 0, 1);
    bb_strn(&b, "ab\0c", 4);
    bb_u32(&b, G3_GGUF_U32);
    bb_u32(&b, 1);
    expect("key with a NUL byte", &b, G3_ERR_FORMAT, "NUL byte at position 2", "kv #0");
    hdr(&b, 3, 0, 3);
    kv_u32(&b, "k", 1);
    kv_u32(&b, "j", 1);
    size_t at = b.n;
    kv_u32(&b, "k", 2);
    expect("duplicate key", &b, G3_ERR_FORMAT, "duplicate key 'k'",
           fmt("at bytes 24 and %zu", at));
    hdr(&b, 3, 0, 1);
    key(&b, "k", 13);
    bb_u32(&b, 0);
    expect("value type 13", &b, G3_ERR_FORMAT, "key 'k' (at byte 24)", "unknown value type 13");
    hdr(&b, 3, 0, 1);
    key(&b, "k", UINT32_MAX);
    bb_u32(&b, 0);
    expect("value type 0xFFFFFFFF", &b, G3_ERR_FORMAT, "unknown value type 4294967295", NULL);
    hdr(&b, 3, 0, 1);
    key(&b, "a\x01\x1b[31mb", 13);
    bb_u32(&b, 0);
    expect("control bytes in a key are not printed", &b, G3_ERR_FORMAT, "'a??[31mb'", NULL);
    char longkey[1001];
    memset(longkey, 'x', 1000);
    longkey[1000] = '\0';
    hdr(&b, 3, 0, 1);
    key(&b, longkey, 13);
    bb_u32(&b, 0);
    expect("1000-byte key, shortened in the message", &b, G3_ERR_FORMAT, "xxx...'",
           "unknown value type 13");

    hdr(&b, 3, 0, 1);
    key(&b, "s", G3_GGUF_STRING);
    bb_u64(&b, 1ull << 62);
    bb_bytes(&b, "abcd", 4);
    expect("string value length 2^62", &b, G3_ERR_FORMAT, "key 's'",
           "string value length 4611686018427387904");
    hdr(&b, 3, 0, 1);
    key(&b, "s", G3_GGUF_STRING);
    bb_u64(&b, 5);
    bb_bytes(&b, "abcd", 4);
    expect("string value past EOF by 1", &b, G3_ERR_FORMAT, "key 's'", "4 bytes left");
    hdr(&b, 3, 0, 1);
    key(&b, "b", G3_GGUF_BOOL);
    bb_u8(&b, 2);
    expect("bool value 2", &b, G3_ERR_FORMAT, "key 'b'", "bool value 2 (at byte 37)");
    hdr(&b, 3, 0, 1);
    key(&b, "b", G3_GGUF_BOOL);
    bb_u8(&b, 255);
    expect("bool value 255", &b, G3_ERR_FORMAT, "bool value 255", NULL);
    hdr(&b, 3, 0, 1);
    key(&b, "f", G3_GGUF_F64);
    bb_u32(&b, 0);
    expect("f64 value truncated", &b, G3_ERR_FORMAT, "key 'f'", "f64 at byte 37");
}

static void array_cases(void)
{
    bb b = {0};
    hdr(&b, 3, 0, 1);
    key(&b, "a", G3_GGUF_ARRAY);
    bb_u32(&b, G3_GGUF_U32);
    bb_u64(&b, 1ull << 62);
    bb_u32(&b, 1);
    expect("array count 2^62 (u32)", &b, G3_ERR_FORMAT, "key 'a'",
           "array count 4611686018427387904 (at byte 41)");
    hdr(&b, 3, 0, 1);
    key(&b, "a", G3_GGUF_ARRAY);
    bb_u32(&b, G3_GGUF_U8);
    bb_u64(&b, UINT64_MAX);
    bb_u32(&b, 1);
    expect("array count UINT64_MAX (u8)", &b, G3_ERR_FORMAT, "array count 18446744073709551615",
           NULL);
    hdr(&b, 3, 0, 1);
    key(&b, "a", G3_GGUF_ARRAY);
    bb_u32(&b, G3_GGUF_I32);
    bb_u64(&b, 4);
    bb_u32(&b, 1);
    bb_u32(&b, 2);
    bb_u32(&b, 3);
    expect("array count one too many (i32)", &b, G3_ERR_FORMAT, "array count 4", "12 bytes left");
    hdr(&b, 3, 0, 1);
    key(&b, "a", G3_GGUF_ARRAY);
    bb_u32(&b, G3_GGUF_F64);
    bb_u64(&b, 2);
    bb_u64(&b, 0);
    bb_u32(&b, 0);
    expect("f64 array one element short", &b, G3_ERR_FORMAT, "f64 elements", NULL);
    hdr(&b, 3, 0, 1);
    key(&b, "a", G3_GGUF_ARRAY);
    bb_u32(&b, 13);
    bb_u64(&b, 1);
    bb_u32(&b, 1);
    expect("array of unknown element type 13", &b, G3_ERR_FORMAT, "key 'a'",
           "array element type 13 (at byte 37)");
    hdr(&b, 3, 0, 1);
    key(&b, "a", G3_GGUF_ARRAY);
    bb_u32(&b, UINT32_MAX);
    bb_u64(&b, 0);
    expect("array element type 0xFFFFFFFF", &b, G3_ERR_FORMAT, "array element type 4294967295",
           NULL);
    hdr(&b, 3, 0, 1);
    key(&b, "tokenizer.ggml.tokens", G3_GGUF_ARRAY);
    bb_u32(&b, G3_GGUF_STRING);
    bb_u64(&b, 1ull << 61);
    bb_str(&b, "a");
    expect("string array count 2^61", &b, G3_ERR_FORMAT, "'tokenizer.ggml.tokens'",
           "array count 2305843009213693952");
    hdr(&b, 3, 0, 1);
    key(&b, "t", G3_GGUF_ARRAY);
    bb_u32(&b, G3_GGUF_STRING);
    bb_u64(&b, 3);
    bb_str(&b, "one");
    size_t at = b.n;
    bb_u64(&b, 1ull << 40);
    bb_bytes(&b, "two", 3);
    bb_str(&b, "three");
    expect("string array, element 1 length 2^40", &b, G3_ERR_FORMAT, "key 't'",
           fmt("string #1 length 1099511627776 (at byte %zu)", at));
    hdr(&b, 3, 0, 1);
    key(&b, "t", G3_GGUF_ARRAY);
    bb_u32(&b, G3_GGUF_STRING);
    bb_u64(&b, 3);
    bb_str(&b, "one");
    bb_str(&b, "two");
    bb_u64(&b, 6);
    bb_bytes(&b, "three", 5);
    expect("string array, last element past EOF", &b, G3_ERR_FORMAT, "string #2 length 6",
           "5 bytes left");
    hdr(&b, 3, 0, 1);
    key(&b, "t", G3_GGUF_ARRAY);
    bb_u32(&b, G3_GGUF_STRING);
    bb_u64(&b, 2);
    bb_str(&b, "one");
    bb_bytes(&b, "\0\0\0\0\0\0", 6);
    expect("string array, length field cut", &b, G3_ERR_FORMAT, "string length", NULL);
    hdr(&b, 3, 0, 1);
    key(&b, "a", G3_GGUF_ARRAY);
    bb_u32(&b, G3_GGUF_BOOL);
    bb_u64(&b, 3);
    bb_bytes(&b, "\1\2\0", 3);
    expect("bool array element 2", &b, G3_ERR_FORMAT, "key 'a'", "bool element #1 = 2");

    hdr(&b, 3, 0, 1);
    key(&b, "deep", G3_GGUF_ARRAY);
    for (int i = 0; i < 8; i++) {
        bb_u32(&b, G3_GGUF_ARRAY);
        bb_u64(&b, 1);
    }
    bb_u32(&b, G3_GGUF_U8);
    bb_u64(&b, 1);
    bb_u8(&b, 0);
    expect("arrays nested 9 deep", &b, G3_ERR_FORMAT, "key 'deep'", "nested deeper than 8");
    hdr(&b, 3, 0, 1);
    key(&b, "n", G3_GGUF_ARRAY);
    bb_u32(&b, G3_GGUF_ARRAY);
    bb_u64(&b, 2);
    bb_u32(&b, G3_GGUF_U8);
    bb_u64(&b, 1);
    bb_u8(&b, 0);
    bb_u32(&b, G3_GGUF_U32);
    bb_u64(&b, 1ull << 62);
    bb_u32(&b, 0);
    expect("nested array, inner count 2^62", &b, G3_ERR_FORMAT, "key 'n'",
           "array count 4611686018427387904");
    hdr(&b, 3, 0, 1);
    key(&b, "n", G3_GGUF_ARRAY);
    bb_u32(&b, G3_GGUF_ARRAY);
    bb_u64(&b, 1);
    bb_u32(&b, 77);
    bb_u64(&b, 0);
    expect("nested array, inner type 77", &b, G3_ERR_FORMAT, "array element type 77", NULL);
    hdr(&b, 3, 0, 1);
    key(&b, "n", G3_GGUF_ARRAY);
    bb_u32(&b, G3_GGUF_ARRAY);
    bb_u64(&b, 1000);
    bb_u32(&b, G3_GGUF_U8);
    bb_u64(&b, 0);
    expect("array of 1000 arrays, 1 present", &b, G3_ERR_FORMAT, "array count 1000", NULL);
}

static void known_key_cases(void)
{
    static const uint32_t bad_align[] = {0, 3, 48, 0x80000001u};
    for (size_t i = 0; i < G3_ARRAY_LEN(bad_align); i++) {
        bb b = {0};
        hdr(&b, 3, 1, 1);
        kv_u32(&b, "general.alignment", bad_align[i]);
        tinfo(&b, "w", 32, G3_TYPE_F32, 0);
        data(&b, 32, 128);
        char name[64];
        snprintf(name, sizeof(name), "general.alignment = %u", bad_align[i]);
        expect(name, &b, G3_ERR_FORMAT, "key 'general.alignment' (at byte 24)",
               fmt("alignment %u is not a non-zero power of two", bad_align[i]));
    }
    bb b = {0};
    hdr(&b, 3, 0, 1);
    kv_str(&b, "general.alignment", "32");
    expect("general.alignment as a string", &b, G3_ERR_FORMAT, "'general.alignment'",
           "expected u32, found string");
    hdr(&b, 3, 0, 1);
    key(&b, "general.alignment", G3_GGUF_U64);
    bb_u64(&b, 32);
    expect("general.alignment as u64", &b, G3_ERR_FORMAT, "'general.alignment'",
           "expected u32, found u64");
    hdr(&b, 3, 0, 1);
    key(&b, "general.alignment", G3_GGUF_ARRAY);
    bb_u32(&b, G3_GGUF_U32);
    bb_u64(&b, 1);
    bb_u32(&b, 32);
    expect("general.alignment as an array", &b, G3_ERR_FORMAT, "'general.alignment'",
           "found array of u32");
    hdr(&b, 3, 0, 1);
    kv_u32(&b, "general.architecture", 3);
    expect("general.architecture as u32", &b, G3_ERR_FORMAT, "'general.architecture'",
           "expected string, found u32");
    hdr(&b, 3, 0, 1);
    key(&b, "tokenizer.ggml.tokens", G3_GGUF_ARRAY);
    bb_u32(&b, G3_GGUF_I32);
    bb_u64(&b, 1);
    bb_u32(&b, 5);
    expect("tokenizer.ggml.tokens as i32 array", &b, G3_ERR_FORMAT, "'tokenizer.ggml.tokens'",
           "expected array of string, found array of i32");
}

/* hdr + kv "k" + one tensor info at byte 41 + data. */
static void t1(bb *b, const char *name, uint32_t n_dims, const uint64_t *dims, uint32_t type,
               uint64_t offset, size_t n_data)
{
    hdr(b, 3, 1, 1);
    kv_u32(b, "k", 1);
    tinfo_n(b, name, n_dims, dims, type, offset);
    data(b, 32, n_data);
}

static void tensor_cases(void)
{
    bb b = {0};
    const char *w41 = "tensor 'w' (info at byte 41)";
    hdr(&b, 3, 1, 0);
    bb_u64(&b, 1ull << 63);
    data(&b, 1, 40);
    expect("tensor name length 2^63", &b, G3_ERR_FORMAT, "tensor info #0 (at byte 24)",
           "tensor name length 9223372036854775808");
    hdr(&b, 3, 1, 0);
    bb_u64(&b, 100);
    data(&b, 1, 40);
    expect("tensor name past EOF", &b, G3_ERR_FORMAT, "tensor info #0", "40 bytes left");
    t1(&b, "", 1, (uint64_t[]){32}, G3_TYPE_F32, 0, 128);
    expect("empty tensor name", &b, G3_ERR_FORMAT, "tensor info #0 (at byte 41)",
           "empty tensor name");
    hdr(&b, 3, 1, 1);
    kv_u32(&b, "k", 1);
    bb_strn(&b, "w\0x", 3);
    bb_u32(&b, 1);
    bb_u64(&b, 32);
    bb_u32(&b, G3_TYPE_F32);
    bb_u64(&b, 0);
    data(&b, 32, 128);
    expect("tensor name with a NUL byte", &b, G3_ERR_FORMAT, "tensor info #0",
           "NUL byte at position 1");
    hdr(&b, 3, 2, 1);
    kv_u32(&b, "k", 1);
    tinfo(&b, "w", 32, G3_TYPE_F32, 0);
    size_t at = b.n;
    tinfo(&b, "w", 32, G3_TYPE_F32, 128);
    data(&b, 32, 256);
    expect("duplicate tensor name", &b, G3_ERR_FORMAT, "duplicate tensor name 'w'",
           fmt("infos at bytes 41 and %zu", at));
    hdr(&b, 2, 2, 0);
    tinfo(&b, "x", 32, G3_TYPE_F32, 0);
    tinfo(&b, "x", 32, G3_TYPE_F32, 128);
    data(&b, 32, 256);
    expect("v2: duplicate tensor name", &b, G3_ERR_FORMAT, "duplicate tensor name 'x'", NULL);

    t1(&b, "w", 0, NULL, G3_TYPE_F32, 0, 128);
    expect("n_dims 0", &b, G3_ERR_FORMAT, w41, "n_dims 0 (at byte 50)");
    t1(&b, "w", 5, (uint64_t[]){32, 1, 1, 1, 1}, G3_TYPE_F32, 0, 128);
    expect("n_dims 5", &b, G3_ERR_FORMAT, w41, "n_dims 5");
    hdr(&b, 3, 1, 1);
    kv_u32(&b, "k", 1);
    bb_str(&b, "w");
    bb_u32(&b, UINT32_MAX);
    data(&b, 1, 64);
    expect("n_dims 0xFFFFFFFF", &b, G3_ERR_FORMAT, w41, "n_dims 4294967295");
    t1(&b, "w", 2, (uint64_t[]){32, 0}, G3_TYPE_F32, 0, 128);
    expect("dimension 0", &b, G3_ERR_FORMAT, w41, "ne[1] (at byte 62) is 0");
    t1(&b, "w", 1, (uint64_t[]){UINT64_MAX}, G3_TYPE_F32, 0, 128);
    expect("dimension -1 (as int64)", &b, G3_ERR_FORMAT, "ne[0] = 18446744073709551615",
           "negative");
    t1(&b, "w", 2, (uint64_t[]){32, 1ull << 63}, G3_TYPE_F32, 0, 128);
    expect("dimension 2^63 (as int64: INT64_MIN)", &b, G3_ERR_FORMAT,
           "ne[1] = 9223372036854775808", "negative");
    t1(&b, "w", 2, (uint64_t[]){1ull << 32, 1ull << 32}, G3_TYPE_F32, 0, 128);
    expect("dims product overflow (2 dims)", &b, G3_ERR_FORMAT, w41, "overflows int64 at ne[1]");
    t1(&b, "w", 4, (uint64_t[]){1u << 16, 1u << 16, 1u << 16, 1u << 16}, G3_TYPE_F32, 0, 128);
    expect("dims product overflow (4 dims)", &b, G3_ERR_FORMAT, w41, "overflows int64 at ne[3]");
    t1(&b, "w", 2, (uint64_t[]){1ull << 32, 1ull << 30}, G3_TYPE_F32, 0, 128);
    expect("byte size overflow (2^62 f32)", &b, G3_ERR_FORMAT, w41, "overflows 64 bits");

    static const struct {
        uint32_t type;
        uint64_t ne0;
        const char *what;
    } bad_types[] = {
        {37, 32, "unknown tensor type id 37"},  {1000, 32, "unknown tensor type id 1000"},
        {UINT32_MAX, 32, "type id 4294967295"}, {4, 32, "unknown tensor type id 4"},
        {31, 32, "unknown tensor type id 31"},  {9, 32, "q8_1"},
        {16, 256, "iq2_xxs"},                   {15, 256, "q8_K"},
        {26, 1, "i32"},                         {39, 32, "mxfp4"},
    };
    for (size_t i = 0; i < G3_ARRAY_LEN(bad_types); i++) {
        t1(&b, "w", 2, (uint64_t[]){bad_types[i].ne0, 2}, bad_types[i].type, 0, 1024);
        char name[64];
        snprintf(name, sizeof(name), "tensor type %u", bad_types[i].type);
        expect(name, &b, G3_ERR_UNSUPPORTED, w41, bad_types[i].what);
    }
    t1(&b, "w", 2, (uint64_t[]){33, 2}, G3_TYPE_Q8_0, 0, 128);
    expect("q8_0 row of 33", &b, G3_ERR_FORMAT, "ne[0] = 33", "q8_0 block size 32");
    t1(&b, "blk.0.ffn_down.weight", 2, (uint64_t[]){640, 2}, G3_TYPE_Q4_K, 0, 1024);
    expect("q4_K row of 640", &b, G3_ERR_FORMAT, "'blk.0.ffn_down.weight'", "q4_K block size 256");

    t1(&b, "w", 1, (uint64_t[]){32}, G3_TYPE_F32, 4, 160);
    expect("misaligned offset", &b, G3_ERR_FORMAT, w41, "data offset 4 (at byte 66)");
    hdr(&b, 3, 1, 1);
    kv_u32(&b, "general.alignment", 64);
    tinfo(&b, "w", 32, G3_TYPE_F32, 32);
    data(&b, 64, 256);
    expect("offset 32 with alignment 64", &b, G3_ERR_FORMAT, "data offset 32",
           "alignment 64");
    t1(&b, "w", 1, (uint64_t[]){32}, G3_TYPE_F32, 1ull << 40, 128);
    expect("offset 2^40, outside the file", &b, G3_ERR_FORMAT, w41, "extends past end of file");
    t1(&b, "w", 1, (uint64_t[]){32}, G3_TYPE_F32, UINT64_MAX - 31, 128);
    expect("offset + size overflows", &b, G3_ERR_FORMAT, w41, "overflows");
    t1(&b, "w", 1, (uint64_t[]){32}, G3_TYPE_F32, 128, 128);
    expect("data starts at end of file", &b, G3_ERR_FORMAT, w41,
           "data [224, 352) extends past end of file (224 bytes)");
    one_tensor(&b, 3);
    b.n--;
    expect("data one byte short", &b, G3_ERR_FORMAT, w41,
           "data [96, 224) extends past end of file (223 bytes)");

    hdr(&b, 3, 2, 0);
    tinfo(&b, "a", 32, G3_TYPE_F32, 0);
    tinfo(&b, "b", 32, G3_TYPE_F32, 0);
    data(&b, 32, 256);
    expect("two tensors at the same offset", &b, G3_ERR_FORMAT, "'a'", "overlaps tensor 'b'");
    hdr(&b, 3, 2, 0);
    tinfo(&b, "a", 64, G3_TYPE_F32, 0);
    tinfo(&b, "b", 32, G3_TYPE_F32, 128);
    data(&b, 32, 256);
    expect("partial overlap", &b, G3_ERR_FORMAT, "'a'", "overlaps tensor 'b'");
    hdr(&b, 3, 3, 0);
    tinfo(&b, "late", 32, G3_TYPE_F32, 256);
    tinfo(&b, "mid", 32, G3_TYPE_F32, 128);
    tinfo(&b, "early", 64, G3_TYPE_F32, 0);
    data(&b, 32, 384);
    expect("overlap in reverse info order", &b, G3_ERR_FORMAT, "tensor 'early'",
           "overlaps tensor 'mid'");
}

/* A valid small file with every kind of field; records its length fields. */
static size_t make_valid(bb *b, uint32_t version)
{
    n_fld = 0;
    recording = true;
    hdr(b, version, 3, 6);
    kv_str(b, "general.architecture", "gemma3");
    kv_u32(b, "general.alignment", 32);
    key(b, "b", G3_GGUF_BOOL);
    bb_u8(b, 1);
    key(b, "arr", G3_GGUF_ARRAY);
    bb_u32(b, G3_GGUF_I32);
    bb_u64(b, 3);
    bb_u32(b, 1);
    bb_u32(b, 2);
    bb_u32(b, 3);
    key(b, "tokenizer.ggml.tokens", G3_GGUF_ARRAY);
    bb_u32(b, G3_GGUF_STRING);
    bb_u64(b, 3);
    bb_str(b, "<pad>");
    bb_str(b, "");
    bb_str(b, "tok");
    key(b, "f", G3_GGUF_F32);
    bb_u32(b, 0x3fc00000);
    tinfo_n(b, "t0", 2, (uint64_t[]){8, 2}, G3_TYPE_F32, 0);
    tinfo_n(b, "t1", 1, (uint64_t[]){32}, G3_TYPE_Q8_0, 64);
    tinfo_n(b, "t2", 1, (uint64_t[]){16}, G3_TYPE_F16, 128);
    recording = false;
    data(b, 32, 0);
    size_t start = b->n;
    data(b, 1, 160);
    return start + 160; /* end of the last tensor's data */
}

static void prefix_case(void)
{
    n_cases++;
    n_named++;
    int bad = 0;
    for (uint32_t version = 2; version <= 3; version++) {
        bb b = {0};
        size_t end = make_valid(&b, version);
        for (size_t len = 0; len <= b.n; len++) {
            uint8_t *c = malloc(len ? len : 1);
            memcpy(c, b.p, len);
            g3_gguf *g = NULL;
            g3_err e = {0};
            g3_status st = g3_gguf_open_memory(c, len, &g, &e);
            bool ok = len < end ? (st == G3_ERR_FORMAT && !g && strstr(e.msg, "byte"))
                                : (st == G3_OK && g && g->n_tensors == 3);
            if (!ok && bad++ < 5)
                CHECK(ok, "v%u prefix of %zu/%zu bytes: status %d: %s", version, len, b.n, st,
                      e.msg);
            g3_gguf_close(g);
            free(c);
        }
        CHECK(bad == 0, "v%u: %d prefixes misbehaved", version, bad);
        printf("case %2d every prefix of a valid v%u file (%zu lengths): %s\n", n_named, version,
               b.n + 1, bad ? "FAILED" : "all rejected up to the end of the data, then accepted");
        free(b.p);
    }
}

static uint64_t rng = 0x2545F4914F6CDD1Dull;
static uint64_t xorshift(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* Touches everything a consumer could: ASan flags any pointer that escaped the buffer. */
static unsigned exercise(const g3_gguf *g)
{
    unsigned sum = 0;
    g3_err e = {0};
    for (uint64_t i = 0; i < g->n_kv; i++) {
        const g3_gguf_kv *kv = &g->kv[i];
        uint32_t u;
        float f;
        bool b;
        const char *s;
        uint64_t len;
        const g3_gguf_kv *a;
        CHECK(g3_gguf_find_kv(g, kv->key) == kv, "lookup %s", kv->key);
        g3_gguf_get_u32(g, kv->key, &u, NULL, &e);
        g3_gguf_get_f32(g, kv->key, &f, NULL, &e);
        g3_gguf_get_bool(g, kv->key, &b, NULL, &e);
        if (g3_gguf_get_str(g, kv->key, &s, &len, NULL, &e) == G3_OK && kv->type == G3_GGUF_STRING)
            for (uint64_t k = 0; k < len; k++)
                sum += (unsigned char)s[k];
        if (g3_gguf_get_arr(g, kv->key, kv->arr_type, &a, NULL, &e) == G3_OK &&
            kv->type == G3_GGUF_ARRAY)
            for (uint64_t k = 0; k < a->n && k < 64; k++) {
                sum += (unsigned)g3_gguf_arr_i32(a, k) + (unsigned)(g3_gguf_arr_f32(a, k) != 0);
                if ((s = g3_gguf_arr_str(a, k, &len)) != NULL)
                    for (uint64_t j = 0; j < len; j++)
                        sum += (unsigned char)s[j];
            }
        e = (g3_err){0};
    }
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        const g3_gguf_tensor *t = &g->tensors[i];
        CHECK(g3_gguf_find_tensor(g, t->name) == t, "lookup %s", t->name);
        const uint8_t *d = t->data;
        sum += d[0] + d[t->n_bytes - 1];
    }
    return sum;
}

static void mutation_case(int iters)
{
    n_cases++;
    n_named++;
    bb b = {0};
    make_valid(&b, 3);
    static const uint64_t u64s[] = {0, 1, 2, 31, 32, 255, 0x7FFFFFFFFFFFFFFFull,
                                    0x8000000000000000ull, UINT64_MAX, UINT64_MAX - 31,
                                    1ull << 32, 1ull << 40};
    static const uint32_t u32s[] = {0, 1, 2, 4, 5, 8, 9, 12, 13, 16, 37, 255, UINT32_MAX};
    int opened = 0, rejected = 0, bad = 0;
    unsigned sum = 0;
    for (int it = 0; it < iters; it++) {
        uint8_t *c = malloc(b.n);
        memcpy(c, b.p, b.n);
        size_t n = b.n;
        int muts = 1 + (int)(xorshift() % 4);
        for (int m = 0; m < muts; m++) {
            uint64_t r = xorshift();
            size_t pos = (size_t)(xorshift() % n);
            switch (r % 6) {
            case 0: c[pos] = (uint8_t)xorshift(); break;
            case 1: c[pos] ^= (uint8_t)(1u << (xorshift() % 8)); break;
            case 2: /* a length or count field gets an interesting value */
            case 3: {
                size_t f = (size_t)(xorshift() % n_fld);
                uint64_t v = fld_size[f] == 8 ? u64s[xorshift() % G3_ARRAY_LEN(u64s)]
                                              : u32s[xorshift() % G3_ARRAY_LEN(u32s)];
                if ((r >> 8) % 4 == 0)
                    v += (xorshift() % 5) - 2; /* off by a little */
                for (int k = 0; k < fld_size[f]; k++)
                    c[fld_pos[f] + (size_t)k] = (uint8_t)(v >> (8 * k));
                break;
            }
            case 4: c[pos] = (uint8_t)(c[pos] + 1 - (int)(xorshift() % 3)); break;
            default: /* multi-byte burst */
                for (size_t k = pos; k < n && k < pos + 1 + xorshift() % 8; k++)
                    c[k] = (uint8_t)xorshift();
                break;
            }
        }
        if (xorshift() % 16 == 0)
            n = (size_t)(xorshift() % n);
        uint8_t *exact = malloc(n ? n : 1);
        memcpy(exact, c, n);
        free(c);
        g3_gguf *g = NULL;
        g3_err e = {0};
        g3_status st = g3_gguf_open_memory(exact, n, &g, &e);
        if (st == G3_OK) {
            opened++;
            if (g)
                sum += exercise(g);
            else
                bad++;
        } else {
            rejected++;
            if (g || !e.msg[0] || (st != G3_ERR_FORMAT && st != G3_ERR_UNSUPPORTED)) {
                if (bad++ < 5)
                    CHECK(false, "mutation %d: status %d, message '%s'", it, st, e.msg);
            }
        }
        g3_gguf_close(g);
        free(exact);
    }
    CHECK(bad == 0, "%d mutations misbehaved", bad);
    printf("case %2d %d random mutations: %d opened, %d rejected, %d misbehaved (checksum %u)\n",
           n_named, iters, opened, rejected, bad, sum);
    free(b.p);
}

int main(void)
{
    header_cases();
    kv_cases();
    array_cases();
    known_key_cases();
    tensor_cases();
    prefix_case();
    mutation_case(20000);

    /* The depth limit is 8: exactly 8 levels still open. */
    bb b = {0};
    hdr(&b, 3, 0, 1);
    key(&b, "deep", G3_GGUF_ARRAY);
    for (int i = 0; i < 7; i++) {
        bb_u32(&b, G3_GGUF_ARRAY);
        bb_u64(&b, 1);
    }
    bb_u32(&b, G3_GGUF_U8);
    bb_u64(&b, 1);
    bb_u8(&b, 0);
    g3_gguf *g = NULL;
    g3_err e = {0};
    CHECK(g3_gguf_open_memory(b.p, b.n, &g, &e) == G3_OK, "8 nested levels: %s", e.msg);
    g3_gguf_close(g);
    free(b.p);

    printf("%d malformed cases\n", n_cases);
    CHECK(n_cases >= 55, "only %d cases", n_cases);
    return test_finish("test_gguf_malformed");
}
