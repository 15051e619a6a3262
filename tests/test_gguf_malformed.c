/* test_gguf_malformed.c: hand-crafted malformed GGUF files, one per crash
 * class, each rejected with a specific status and a message that names the
 * field, key or tensor and its byte offset; every prefix of a valid file; and
 * seeded random mutations that must never crash (run under ASan + UBSan).
 * Files are built byte by byte here, since the writer refuses to write them. */
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
static const char *fmt(const char *f, unsigned long long v)
{
    static char bufs[4][96];
    static int k;
    char *s = bufs[k++ & 3];
    snprintf(s, 96, f, v);
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
           fmt("at bytes 24 and %llu", at));
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
           fmt("string #1 length 1099511627776 (at byte %llu)", at));
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
               fmt("alignment %llu is not a non-zero power of two", bad_align[i]));
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
