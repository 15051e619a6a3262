/* test_gguf.c: GGUF writer -> reader round trip (every value type, arrays,
 * tensors of several types and ranks), typed getters and their errors, writer
 * refusals, v2 files, a non-default alignment, nested arrays, open() errors,
 * parse speed with a 262144-string vocabulary, and the real files in
 * shared/reference. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "gguf.h"
#include "gguf_write.h"
#include "quant.h"
#include "test.h"

/* ---- a tiny byte builder for hand-crafted files ---- */
typedef struct bb {
    uint8_t *p;
    size_t n, cap;
} bb;

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
static void bb_u32(bb *b, uint32_t v)
{
    uint8_t x[4];
    for (int i = 0; i < 4; i++)
        x[i] = (uint8_t)(v >> (8 * i));
    bb_bytes(b, x, 4);
}
static void bb_u64(bb *b, uint64_t v)
{
    uint8_t x[8];
    for (int i = 0; i < 8; i++)
        x[i] = (uint8_t)(v >> (8 * i));
    bb_bytes(b, x, 8);
}
static void bb_str(bb *b, const char *s)
{
    bb_u64(b, strlen(s));
    bb_bytes(b, s, strlen(s));
}
static void bb_pad(bb *b, size_t align)
{
    while (b->n % align)
        bb_bytes(b, "", 1);
}

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t xorshift(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* ---- the round-trip file ---- */
typedef struct tspec {
    const char *name;
    uint32_t n_dims;
    int64_t ne[4];
    uint32_t type;
    bool borrow;
    uint8_t *data;
    uint64_t n_bytes;
} tspec;

static tspec specs[] = {
    {"t.f32", 1, {5}, G3_TYPE_F32, false, NULL, 0},
    {"t.f16", 2, {64, 3}, G3_TYPE_F16, true, NULL, 0},
    {"t.q8_0", 4, {64, 2, 1, 2}, G3_TYPE_Q8_0, false, NULL, 0},
    {"t.q4_K", 2, {256, 3}, G3_TYPE_Q4_K, true, NULL, 0},
    {"t.bf16", 3, {7, 2, 3}, G3_TYPE_BF16, false, NULL, 0},
    {"blk.0.attn_q.weight", 2, {32, 1}, G3_TYPE_Q4_0, false, NULL, 0},
};

static const uint8_t a_u8[] = {1, 2, 255};
static const int8_t a_i8[] = {-128, 0, 127};
static const uint16_t a_u16[] = {0, 65535};
static const int16_t a_i16[] = {-32768, 5, 32767};
static const uint32_t a_u32[] = {0, 4000000000u};
static const int32_t a_i32[] = {-1, 7, 100};
static const float a_f32[] = {0.5f, -2.25f, 1e30f};
static const uint8_t a_bool[] = {1, 0, 1};
static const uint64_t a_u64[] = {0xFFFFFFFFFFFFFFFFull, 3};
static const int64_t a_i64[] = {INT64_MIN, -3, INT64_MAX};
static const double a_f64[] = {2.5, -1e300};
static const char *const a_str[] = {"a", "", "x\0y", "ccc"};
static const uint64_t a_str_len[] = {1, 0, 3, 3};

static void build_roundtrip(g3_gguf_writer *w)
{
    uint8_t u8 = 8;
    int8_t i8 = -5;
    uint16_t u16 = 60000;
    int16_t i16 = -30000;
    uint64_t u64 = 0xFFFFFFFFFFFF1234ull;
    int64_t i64 = INT64_MIN + 5;
    double f64 = 3.141592653589793;
    CHECK(g3_gguf_w_str(w, "general.architecture", "gemma3") == G3_OK, "arch");
    CHECK(g3_gguf_w_val(w, "t.u8", G3_GGUF_U8, &u8) == G3_OK, "u8");
    CHECK(g3_gguf_w_val(w, "t.i8", G3_GGUF_I8, &i8) == G3_OK, "i8");
    CHECK(g3_gguf_w_val(w, "t.u16", G3_GGUF_U16, &u16) == G3_OK, "u16");
    CHECK(g3_gguf_w_val(w, "t.i16", G3_GGUF_I16, &i16) == G3_OK, "i16");
    CHECK(g3_gguf_w_u32(w, "t.u32", 4000000000u) == G3_OK, "u32");
    CHECK(g3_gguf_w_i32(w, "t.i32", -2000000000) == G3_OK, "i32");
    CHECK(g3_gguf_w_f32(w, "t.f32", 1.5f) == G3_OK, "f32");
    CHECK(g3_gguf_w_bool(w, "t.bool", true) == G3_OK, "bool");
    CHECK(g3_gguf_w_bool(w, "t.bool0", false) == G3_OK, "bool0");
    CHECK(g3_gguf_w_str(w, "t.str", "hello world") == G3_OK, "str");
    CHECK(g3_gguf_w_str(w, "t.str_empty", "") == G3_OK, "str");
    CHECK(g3_gguf_w_val(w, "t.u64", G3_GGUF_U64, &u64) == G3_OK, "u64");
    CHECK(g3_gguf_w_val(w, "t.i64", G3_GGUF_I64, &i64) == G3_OK, "i64");
    CHECK(g3_gguf_w_val(w, "t.f64", G3_GGUF_F64, &f64) == G3_OK, "f64");
    CHECK(g3_gguf_w_u32(w, "general.alignment", 32) == G3_OK, "alignment 32 is allowed");
    CHECK(g3_gguf_w_arr(w, "a.u8", G3_GGUF_U8, a_u8, 3) == G3_OK, "a.u8");
    CHECK(g3_gguf_w_arr(w, "a.i8", G3_GGUF_I8, a_i8, 3) == G3_OK, "a.i8");
    CHECK(g3_gguf_w_arr(w, "a.u16", G3_GGUF_U16, a_u16, 2) == G3_OK, "a.u16");
    CHECK(g3_gguf_w_arr(w, "a.i16", G3_GGUF_I16, a_i16, 3) == G3_OK, "a.i16");
    CHECK(g3_gguf_w_arr(w, "a.u32", G3_GGUF_U32, a_u32, 2) == G3_OK, "a.u32");
    CHECK(g3_gguf_w_arr(w, "a.i32", G3_GGUF_I32, a_i32, 3) == G3_OK, "a.i32");
    CHECK(g3_gguf_w_arr(w, "a.f32", G3_GGUF_F32, a_f32, 3) == G3_OK, "a.f32");
    CHECK(g3_gguf_w_arr(w, "a.bool", G3_GGUF_BOOL, a_bool, 3) == G3_OK, "a.bool");
    CHECK(g3_gguf_w_arr(w, "a.u64", G3_GGUF_U64, a_u64, 2) == G3_OK, "a.u64");
    CHECK(g3_gguf_w_arr(w, "a.i64", G3_GGUF_I64, a_i64, 3) == G3_OK, "a.i64");
    CHECK(g3_gguf_w_arr(w, "a.f64", G3_GGUF_F64, a_f64, 2) == G3_OK, "a.f64");
    CHECK(g3_gguf_w_arr(w, "a.empty", G3_GGUF_U32, NULL, 0) == G3_OK, "a.empty");
    CHECK(g3_gguf_w_arr_str(w, "a.str", a_str, a_str_len, 4) == G3_OK, "a.str");
    CHECK(g3_gguf_w_arr_str(w, "a.str0", a_str, NULL, 2) == G3_OK, "a.str0 (NUL-terminated)");
    CHECK(g3_gguf_w_arr_str(w, "a.str_empty", NULL, NULL, 0) == G3_OK, "a.str_empty");
    for (size_t i = 0; i < G3_ARRAY_LEN(specs); i++) {
        tspec *s = &specs[i];
        const g3_type_info *ti = g3_type_get(s->type);
        uint64_t rows = 1;
        for (uint32_t d = 1; d < s->n_dims; d++)
            rows *= (uint64_t)s->ne[d];
        s->n_bytes = (uint64_t)s->ne[0] / ti->block_size * ti->type_size * rows;
        if (!s->data) {
            s->data = malloc(s->n_bytes);
            for (uint64_t k = 0; k < s->n_bytes; k++)
                s->data[k] = (uint8_t)xorshift();
        }
        CHECK(g3_gguf_w_tensor(w, s->name, s->n_dims, s->ne, s->type, s->data, s->n_bytes,
                               s->borrow) == G3_OK,
              "tensor %s", s->name);
    }
}

static void check_err(g3_status st, g3_status want, const g3_err *e, const char *a, const char *b)
{
    CHECK(st == want, "status %d, want %d (%s)", st, want, e->msg);
    CHECK(strstr(e->msg, a) != NULL, "message '%s' lacks '%s'", e->msg, a);
    if (b)
        CHECK(strstr(e->msg, b) != NULL, "message '%s' lacks '%s'", e->msg, b);
}

static void check_getters(const g3_gguf *g)
{
    g3_err e = {0};
    bool found = false;
    uint32_t u32 = 123;
    CHECK(g3_gguf_get_u32(g, "nope", &u32, &found, &e) == G3_OK && !found && u32 == 123,
          "absent key leaves the default");
    CHECK(g3_gguf_get_u32(g, "nope", &u32, NULL, &e) == G3_OK, "found may be NULL");
    CHECK(g3_gguf_get_u32(g, "t.u8", &u32, &found, &e) == G3_OK && found && u32 == 8, "u8->u32");
    CHECK(g3_gguf_get_u32(g, "t.u16", &u32, &found, &e) == G3_OK && u32 == 60000, "u16->u32");
    CHECK(g3_gguf_get_u32(g, "t.u32", &u32, &found, &e) == G3_OK && u32 == 4000000000u, "u32");
    e = (g3_err){0};
    check_err(g3_gguf_get_u32(g, "t.i8", &u32, &found, &e), G3_ERR_FORMAT, &e, "'t.i8'", "-5");
    e = (g3_err){0};
    check_err(g3_gguf_get_u32(g, "t.u64", &u32, &found, &e), G3_ERR_FORMAT, &e, "t.u64",
              "does not fit in u32");
    e = (g3_err){0};
    check_err(g3_gguf_get_u32(g, "t.str", &u32, &found, &e), G3_ERR_FORMAT, &e, "t.str",
              "expected u32, found string");
    CHECK(!found, "wrong type is not found");
    uint64_t u64 = 0;
    int64_t i64 = 0;
    CHECK(g3_gguf_get_u64(g, "t.u64", &u64, &found, &e) == G3_OK && u64 == 0xFFFFFFFFFFFF1234ull,
          "u64");
    CHECK(g3_gguf_get_i64(g, "t.i64", &i64, &found, &e) == G3_OK && i64 == INT64_MIN + 5, "i64");
    CHECK(g3_gguf_get_i64(g, "t.i32", &i64, &found, &e) == G3_OK && i64 == -2000000000, "i32");
    CHECK(g3_gguf_get_i64(g, "t.i16", &i64, &found, &e) == G3_OK && i64 == -30000, "i16");
    CHECK(g3_gguf_get_i64(g, "t.i8", &i64, &found, &e) == G3_OK && i64 == -5, "i8");
    e = (g3_err){0};
    check_err(g3_gguf_get_i64(g, "t.u64", &i64, &found, &e), G3_ERR_FORMAT, &e, "t.u64", "i64");
    float f = 0;
    double d = 0;
    CHECK(g3_gguf_get_f32(g, "t.f32", &f, &found, &e) == G3_OK && found && f == 1.5f, "f32");
    CHECK(g3_gguf_get_f32(g, "t.f64", &f, &found, &e) == G3_OK && f == (float)3.141592653589793,
          "f64->f32");
    CHECK(g3_gguf_get_f64(g, "t.f64", &d, &found, &e) == G3_OK && d == 3.141592653589793, "f64");
    e = (g3_err){0};
    check_err(g3_gguf_get_f32(g, "t.u32", &f, &found, &e), G3_ERR_FORMAT, &e, "t.u32",
              "expected f32, found u32");
    bool b = false;
    CHECK(g3_gguf_get_bool(g, "t.bool", &b, &found, &e) == G3_OK && found && b, "bool");
    CHECK(g3_gguf_get_bool(g, "t.bool0", &b, &found, &e) == G3_OK && found && !b, "bool0");
    e = (g3_err){0};
    check_err(g3_gguf_get_bool(g, "t.u8", &b, &found, &e), G3_ERR_FORMAT, &e, "t.u8", "bool");
    const char *s = NULL;
    uint64_t len = 0;
    CHECK(g3_gguf_get_str(g, "t.str", &s, &len, &found, &e) == G3_OK && len == 11 &&
              memcmp(s, "hello world", 11) == 0,
          "str");
    CHECK(g3_gguf_get_str(g, "t.str_empty", &s, &len, &found, &e) == G3_OK && found && len == 0,
          "empty str");
    CHECK(g3_gguf_get_str(g, "general.architecture", &s, &len, &found, &e) == G3_OK && len == 6,
          "arch");

    const g3_gguf_kv *kv = NULL;
    CHECK(g3_gguf_get_arr(g, "a.i32", G3_GGUF_I32, &kv, &found, &e) == G3_OK && kv && kv->n == 3,
          "a.i32");
    for (int i = 0; i < 3; i++) {
        CHECK(g3_gguf_arr_i32(kv, (uint64_t)i) == a_i32[i], "a.i32[%d]", i);
        CHECK(g3_gguf_arr_f32(kv, (uint64_t)i) == (float)a_i32[i], "a.i32[%d] as f32", i);
    }
    CHECK(g3_gguf_arr_i32(kv, 3) == 0, "out of range reads 0");
    e = (g3_err){0};
    check_err(g3_gguf_get_arr(g, "a.i32", G3_GGUF_F32, &kv, &found, &e), G3_ERR_FORMAT, &e,
              "a.i32", "expected array of f32, found array of i32");
    e = (g3_err){0};
    check_err(g3_gguf_get_arr(g, "t.u32", G3_GGUF_U32, &kv, &found, &e), G3_ERR_FORMAT, &e,
              "t.u32", "expected array of u32, found u32");
    struct {
        const char *key;
        uint32_t et;
        uint64_t n;
    } arrs[] = {{"a.u8", G3_GGUF_U8, 3},    {"a.i8", G3_GGUF_I8, 3},   {"a.u16", G3_GGUF_U16, 2},
                {"a.i16", G3_GGUF_I16, 3},  {"a.u32", G3_GGUF_U32, 2}, {"a.f32", G3_GGUF_F32, 3},
                {"a.bool", G3_GGUF_BOOL, 3}, {"a.u64", G3_GGUF_U64, 2}, {"a.i64", G3_GGUF_I64, 3},
                {"a.f64", G3_GGUF_F64, 2},  {"a.empty", G3_GGUF_U32, 0}};
    for (size_t i = 0; i < G3_ARRAY_LEN(arrs); i++) {
        kv = NULL;
        CHECK(g3_gguf_get_arr(g, arrs[i].key, arrs[i].et, &kv, &found, &e) == G3_OK && found &&
                  kv->n == arrs[i].n,
              "%s", arrs[i].key);
    }
    g3_gguf_get_arr(g, "a.u8", G3_GGUF_U8, &kv, &found, &e);
    CHECK(g3_gguf_arr_i32(kv, 2) == 255, "a.u8[2]");
    g3_gguf_get_arr(g, "a.i8", G3_GGUF_I8, &kv, &found, &e);
    CHECK(g3_gguf_arr_i32(kv, 0) == -128 && g3_gguf_arr_i32(kv, 2) == 127, "a.i8");
    g3_gguf_get_arr(g, "a.u16", G3_GGUF_U16, &kv, &found, &e);
    CHECK(g3_gguf_arr_i32(kv, 1) == 65535, "a.u16");
    g3_gguf_get_arr(g, "a.i16", G3_GGUF_I16, &kv, &found, &e);
    CHECK(g3_gguf_arr_i32(kv, 0) == -32768 && g3_gguf_arr_i32(kv, 1) == 5, "a.i16");
    g3_gguf_get_arr(g, "a.u32", G3_GGUF_U32, &kv, &found, &e);
    CHECK(g3_gguf_arr_i32(kv, 1) == INT32_MAX && g3_gguf_arr_f32(kv, 1) == 4e9f, "a.u32 saturates");
    g3_gguf_get_arr(g, "a.f32", G3_GGUF_F32, &kv, &found, &e);
    CHECK(g3_gguf_arr_f32(kv, 0) == 0.5f && g3_gguf_arr_f32(kv, 1) == -2.25f, "a.f32");
    CHECK(g3_gguf_arr_i32(kv, 1) == -2 && g3_gguf_arr_i32(kv, 2) == INT32_MAX, "a.f32 as i32");
    g3_gguf_get_arr(g, "a.bool", G3_GGUF_BOOL, &kv, &found, &e);
    CHECK(g3_gguf_arr_i32(kv, 0) == 1 && g3_gguf_arr_i32(kv, 1) == 0, "a.bool");
    g3_gguf_get_arr(g, "a.u64", G3_GGUF_U64, &kv, &found, &e);
    CHECK(g3_gguf_arr_i32(kv, 0) == INT32_MAX && g3_gguf_arr_i32(kv, 1) == 3, "a.u64");
    g3_gguf_get_arr(g, "a.i64", G3_GGUF_I64, &kv, &found, &e);
    CHECK(g3_gguf_arr_i32(kv, 0) == INT32_MIN && g3_gguf_arr_i32(kv, 1) == -3, "a.i64");
    g3_gguf_get_arr(g, "a.f64", G3_GGUF_F64, &kv, &found, &e);
    CHECK(g3_gguf_arr_f32(kv, 0) == 2.5f && isinf(g3_gguf_arr_f32(kv, 1)), "a.f64");
    CHECK(g3_gguf_arr_str(kv, 0, &len) == NULL, "arr_str on a number array");

    CHECK(g3_gguf_get_arr(g, "a.str", G3_GGUF_STRING, &kv, &found, &e) == G3_OK && kv->n == 4,
          "a.str");
    for (uint64_t i = 0; i < 4; i++) {
        const char *x = g3_gguf_arr_str(kv, i, &len);
        CHECK(x && len == a_str_len[i] && memcmp(x, a_str[i], len) == 0, "a.str[%d]", (int)i);
    }
    CHECK(g3_gguf_arr_str(kv, 4, &len) == NULL && len == 0, "a.str[4] out of range");
    CHECK(g3_gguf_arr_f32(kv, 0) == 0.0f, "arr_f32 on strings");
    CHECK(g3_gguf_get_arr(g, "a.str0", G3_GGUF_STRING, &kv, &found, &e) == G3_OK && kv->n == 2,
          "a.str0");
    CHECK(g3_gguf_arr_str(kv, 1, &len) != NULL && len == 0, "a.str0[1] empty");
    CHECK(g3_gguf_get_arr(g, "a.str_empty", G3_GGUF_STRING, &kv, &found, &e) == G3_OK &&
              kv->n == 0 && g3_gguf_arr_str(kv, 0, &len) == NULL,
          "a.str_empty");
    CHECK(strcmp(g3_gguf_vtype_name(G3_GGUF_F64), "f64") == 0 &&
              strcmp(g3_gguf_vtype_name(99), "unknown") == 0,
          "vtype names");
}

static void check_roundtrip(const g3_gguf *g, uint32_t version)
{
    CHECK(g->version == version, "version %u", g->version);
    CHECK(g->alignment == 32, "alignment %u", g->alignment);
    CHECK(g->data_offset % 32 == 0 && g->data_offset <= g->size, "data offset %llu",
          (unsigned long long)g->data_offset);
    CHECK(g->n_kv == 31, "n_kv %llu", (unsigned long long)g->n_kv);
    /* Metadata in call order. */
    CHECK(g->n_kv > 2 && strcmp(g->kv[0].key, "general.architecture") == 0 &&
              strcmp(g->kv[1].key, "t.u8") == 0 && strcmp(g->kv[g->n_kv - 1].key, "a.str_empty") == 0,
          "kv order");
    CHECK(g->n_tensors == G3_ARRAY_LEN(specs), "n_tensors %llu", (unsigned long long)g->n_tensors);
    if (g->n_tensors != G3_ARRAY_LEN(specs))
        return;
    uint64_t prev_end = 0;
    for (size_t i = 0; i < G3_ARRAY_LEN(specs); i++) {
        const tspec *s = &specs[i];
        const g3_gguf_tensor *t = &g->tensors[i];
        CHECK(strcmp(t->name, s->name) == 0, "tensor %zu name %s", i, t->name);
        CHECK(g3_gguf_find_tensor(g, s->name) == t, "find %s", s->name);
        CHECK(t->n_dims == s->n_dims && t->type == s->type, "%s dims/type", s->name);
        uint64_t n = 1;
        for (uint32_t d = 0; d < 4; d++) {
            int64_t want = d < s->n_dims ? s->ne[d] : 1;
            CHECK(t->ne[d] == want, "%s ne[%u] = %lld", s->name, d, (long long)t->ne[d]);
            n *= (uint64_t)want;
        }
        CHECK(t->n_elems == n && t->n_bytes == s->n_bytes, "%s sizes", s->name);
        CHECK(t->offset % 32 == 0 && t->offset >= prev_end, "%s offset %llu", s->name,
              (unsigned long long)t->offset);
        prev_end = t->offset + t->n_bytes;
        CHECK(t->data == g->base + g->data_offset + t->offset, "%s data pointer", s->name);
        CHECK(memcmp(t->data, s->data, s->n_bytes) == 0, "%s data bytes", s->name);
    }
    CHECK(g3_gguf_find_tensor(g, "missing") == NULL && g3_gguf_find_kv(g, "missing") == NULL,
          "missing lookups");
    check_getters(g);
}

static uint8_t *read_file(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *p = malloc(n > 0 ? (size_t)n : 1);
    *size = p && n >= 0 && fread(p, 1, (size_t)n, f) == (size_t)n ? (size_t)n : 0;
    fclose(f);
    return p;
}

static void test_roundtrip(void)
{
    g3_gguf_writer *w = g3_gguf_writer_new();
    build_roundtrip(w);
    g3_err e = {0};
    uint8_t *buf = NULL;
    size_t size = 0;
    CHECK(g3_gguf_writer_to_memory(w, &buf, &size, &e) == G3_OK, "to_memory: %s", e.msg);
    char path[4096];
    test_build_path(path, sizeof(path), "test_gguf_roundtrip.gguf");
    CHECK(g3_gguf_writer_save(w, path, &e) == G3_OK, "save: %s", e.msg);
    CHECK(g3_gguf_writer_status(w, &e) == G3_OK, "writer status ok");
    g3_gguf_writer_free(w);
    /* Borrowed data may go away once the file is written. */

    size_t fsize = 0;
    uint8_t *fbuf = read_file(path, &fsize);
    CHECK(fbuf && fsize == size && memcmp(fbuf, buf, size) == 0, "saved file == to_memory image");
    CHECK(size % 32 == 0, "file padded to 32");
    free(fbuf);

    g3_gguf *g = NULL;
    CHECK(g3_gguf_open_memory(buf, size, &g, &e) == G3_OK, "open_memory: %s", e.msg);
    if (g) {
        CHECK(strcmp(g->path, "<memory>") == 0 && g->map == NULL, "memory reader");
        check_roundtrip(g, 3);
        g3_gguf_close(g);
    }
    g = NULL;
    CHECK(g3_gguf_open(path, &g, &e) == G3_OK, "open: %s", e.msg);
    if (g) {
        CHECK(g->map != NULL && g->base == g->map && g->size == size, "mapped reader");
        check_roundtrip(g, 3);
        g3_gguf_close(g);
    }

    /* v2 shares v3's layout (u64 counts): the same bytes with version 2. */
    buf[4] = 2;
    g = NULL;
    CHECK(g3_gguf_open_memory(buf, size, &g, &e) == G3_OK, "v2: %s", e.msg);
    if (g) {
        check_roundtrip(g, 2);
        g3_gguf_close(g);
    }
    remove(path);
    free(buf);
    for (size_t i = 0; i < G3_ARRAY_LEN(specs); i++) {
        free(specs[i].data);
        specs[i].data = NULL;
    }
}

/* Each writer refusal fails that call and is reported again by save. */
static void test_writer_refusals(void)
{
    static const uint8_t q[64] = {0};
    struct {
        const char *what;
        int kind;
        g3_status want;
    } cases[] = {
        {"duplicate key", 0, G3_ERR_INVALID_ARG},   {"empty key", 1, G3_ERR_INVALID_ARG},
        {"general.alignment", 2, G3_ERR_INVALID_ARG}, {"general.alignment", 3, G3_ERR_INVALID_ARG},
        {"w.t", 4, G3_ERR_INVALID_ARG},            {"w.t", 5, G3_ERR_INVALID_ARG},
        {"w.t", 6, G3_ERR_UNSUPPORTED},            {"duplicate tensor name", 7, G3_ERR_INVALID_ARG},
        {"over-long", 8, G3_ERR_INVALID_ARG},      {"a.b", 9, G3_ERR_INVALID_ARG},
        {"w.t", 10, G3_ERR_INVALID_ARG},           {"w.t", 11, G3_ERR_INVALID_ARG},
    };
    for (size_t i = 0; i < G3_ARRAY_LEN(cases); i++) {
        g3_gguf_writer *w = g3_gguf_writer_new();
        int64_t ne[4] = {32, 1, 1, 1};
        uint8_t two = 2;
        g3_status st = G3_OK;
        g3_gguf_w_u32(w, "k", 1);
        g3_gguf_w_tensor(w, "t0", 1, ne, G3_TYPE_Q8_0, q, 34, false);
        switch (cases[i].kind) {
        case 0: st = g3_gguf_w_u32(w, "k", 2); break;
        case 1: st = g3_gguf_w_str(w, "", "x"); break;
        case 2: st = g3_gguf_w_u32(w, "general.alignment", 64); break;
        case 3: st = g3_gguf_w_str(w, "general.alignment", "32"); break;
        case 4: st = g3_gguf_w_tensor(w, "w.t", 1, ne, G3_TYPE_Q8_0, q, 33, false); break;
        case 5: ne[0] = 33; st = g3_gguf_w_tensor(w, "w.t", 1, ne, G3_TYPE_Q8_0, q, 34, false); break;
        case 6: st = g3_gguf_w_tensor(w, "w.t", 1, ne, G3_TYPE_Q8_1, q, 36, false); break;
        case 7: st = g3_gguf_w_tensor(w, "t0", 1, ne, G3_TYPE_Q8_0, q, 34, false); break;
        case 8:
            st = g3_gguf_w_tensor(w, "0123456789012345678901234567890123456789012345678901234567890123",
                                  1, ne, G3_TYPE_Q8_0, q, 34, false);
            break;
        case 9: st = g3_gguf_w_arr(w, "a.b", G3_GGUF_BOOL, &two, 1); break;
        case 10: st = g3_gguf_w_tensor(w, "w.t", 0, ne, G3_TYPE_F32, q, 4, false); break;
        default: ne[1] = 0; st = g3_gguf_w_tensor(w, "w.t", 2, ne, G3_TYPE_F32, q, 0, false); break;
        }
        CHECK(st == cases[i].want, "writer case %zu: status %d", i, st);
        CHECK(g3_gguf_w_u32(w, "later", 1) == G3_OK, "later calls still work");
        g3_err e = {0};
        CHECK(g3_gguf_writer_status(w, &e) == cases[i].want && strstr(e.msg, cases[i].what),
              "writer case %zu: writer_status: %s", i, e.msg);
        e = (g3_err){0};
        uint8_t *buf = NULL;
        size_t size = 1;
        CHECK(g3_gguf_writer_to_memory(w, &buf, &size, &e) == cases[i].want && !buf && size == 0,
              "writer case %zu: to_memory reports it", i);
        CHECK(strstr(e.msg, cases[i].what) != NULL, "writer case %zu: '%s' lacks '%s'", i, e.msg,
              cases[i].what);
        char path[4096];
        test_build_path(path, sizeof(path), "test_gguf_refused.gguf");
        e = (g3_err){0};
        CHECK(g3_gguf_writer_save(w, path, &e) == cases[i].want, "writer case %zu: save", i);
        g3_gguf_writer_free(w);
    }
    g3_err e = {0};
    g3_gguf_writer *w = g3_gguf_writer_new();
    CHECK(g3_gguf_writer_save(w, "/nonexistent-dir/x.gguf", &e) == G3_ERR_IO &&
              strstr(e.msg, "/nonexistent-dir/x.gguf"),
          "save to a bad path: %s", e.msg);
    uint8_t *buf = NULL;
    size_t size = 0;
    e = (g3_err){0};
    CHECK(g3_gguf_writer_to_memory(w, &buf, &size, &e) == G3_OK && size == 32, "empty file");
    g3_gguf *g = NULL;
    CHECK(g3_gguf_open_memory(buf, size, &g, &e) == G3_OK && g->n_kv == 0 && g->n_tensors == 0,
          "empty file opens");
    g3_gguf_close(g);
    free(buf);
    g3_gguf_writer_free(w);
}

/* general.alignment = 64, crafted by hand (the writer only writes 32). */
static void test_alignment_64(void)
{
    bb b = {0};
    bb_bytes(&b, "GGUF", 4);
    bb_u32(&b, 3);
    bb_u64(&b, 2);
    bb_u64(&b, 1);
    bb_str(&b, "general.alignment");
    bb_u32(&b, G3_GGUF_U32);
    bb_u32(&b, 64);
    for (int i = 0; i < 2; i++) {
        bb_str(&b, i ? "b" : "a");
        bb_u32(&b, 1);
        bb_u64(&b, 16);
        bb_u32(&b, G3_TYPE_F32);
        bb_u64(&b, (uint64_t)i * 64);
    }
    bb_pad(&b, 64);
    size_t data = b.n;
    for (int i = 0; i < 128; i++)
        bb_bytes(&b, &(uint8_t){(uint8_t)i}, 1);
    g3_gguf *g = NULL;
    g3_err e = {0};
    CHECK(g3_gguf_open_memory(b.p, b.n, &g, &e) == G3_OK, "alignment 64: %s", e.msg);
    if (g) {
        CHECK(g->alignment == 64 && g->data_offset == data && data % 64 == 0, "alignment 64");
        CHECK(g->tensors[1].data == b.p + data + 64 && ((const uint8_t *)g->tensors[1].data)[0] == 64,
              "tensor b data");
        g3_gguf_close(g);
    }
    free(b.p);
}

/* Arrays of arrays are accepted (depth-limited) and exposed as opaque. */
static void test_nested_arrays(void)
{
    bb b = {0};
    bb_bytes(&b, "GGUF", 4);
    bb_u32(&b, 3);
    bb_u64(&b, 0);
    bb_u64(&b, 2);
    bb_str(&b, "nested");
    bb_u32(&b, G3_GGUF_ARRAY);
    bb_u32(&b, G3_GGUF_ARRAY);
    bb_u64(&b, 2);
    bb_u32(&b, G3_GGUF_I32);
    bb_u64(&b, 2);
    bb_u32(&b, 1);
    bb_u32(&b, 2);
    bb_u32(&b, G3_GGUF_STRING);
    bb_u64(&b, 1);
    bb_str(&b, "x");
    bb_str(&b, "after");
    bb_u32(&b, G3_GGUF_U8);
    bb_bytes(&b, "\x07", 1);
    g3_gguf *g = NULL;
    g3_err e = {0};
    CHECK(g3_gguf_open_memory(b.p, b.n, &g, &e) == G3_OK, "nested arrays: %s", e.msg);
    if (g) {
        const g3_gguf_kv *kv = NULL;
        bool found = false;
        CHECK(g3_gguf_get_arr(g, "nested", G3_GGUF_ARRAY, &kv, &found, &e) == G3_OK && found &&
                  kv->n == 2 && kv->str_off == NULL,
              "nested kv");
        CHECK(g3_gguf_arr_str(kv, 0, NULL) == NULL && g3_gguf_arr_i32(kv, 0) == 0, "opaque");
        uint32_t v = 0;
        CHECK(g3_gguf_get_u32(g, "after", &v, &found, &e) == G3_OK && v == 7, "key after nested");
        g3_gguf_close(g);
    }
    free(b.p);
}

static void test_open_errors(void)
{
    g3_err e = {0};
    g3_gguf *g = (g3_gguf *)&e; /* must come back NULL */
    CHECK(g3_gguf_open("/nonexistent/model.gguf", &g, &e) == G3_ERR_IO && g == NULL &&
              strstr(e.msg, "/nonexistent/model.gguf"),
          "missing file: %s", e.msg);
    e = (g3_err){0};
    CHECK(g3_gguf_open("/", &g, &e) == G3_ERR_IO && strstr(e.msg, "regular"), "directory: %s",
          e.msg);
    char path[4096];
    test_build_path(path, sizeof(path), "test_gguf_bad.gguf");
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL, "create %s", path);
    if (!f)
        return;
    fclose(f);
    e = (g3_err){0};
    CHECK(g3_gguf_open(path, &g, &e) == G3_ERR_FORMAT && strncmp(e.msg, path, strlen(path)) == 0,
          "empty file: %s", e.msg);
    f = fopen(path, "wb");
    fwrite("GGUF\x01\0\0\0", 1, 8, f);
    fwrite((uint8_t[16]){0}, 1, 16, f);
    fclose(f);
    e = (g3_err){0};
    CHECK(g3_gguf_open(path, &g, &e) == G3_ERR_UNSUPPORTED && strstr(e.msg, path) == e.msg &&
              strstr(e.msg, "version 1"),
          "v1 file, message prefixed by the path: %s", e.msg);
    remove(path);
    e = (g3_err){0};
    CHECK(g3_gguf_open_memory(NULL, 5, &g, &e) == G3_ERR_INVALID_ARG, "NULL buffer");
    g3_gguf_close(NULL);
}

/* The real vocabulary has 262144 strings: opening must stay far below 100 ms. */
static void test_speed(void)
{
    enum { N = 262144 };
    char **strs = malloc(N * sizeof(char *));
    char *pool = malloc((size_t)N * 16);
    for (int i = 0; i < N; i++) {
        strs[i] = pool + (size_t)i * 16;
        snprintf(strs[i], 16, "tok%d", i);
    }
    float *scores = calloc(N, sizeof(float));
    g3_gguf_writer *w = g3_gguf_writer_new();
    g3_gguf_w_arr_str(w, "tokenizer.ggml.tokens", (const char *const *)strs, NULL, N);
    g3_gguf_w_arr(w, "tokenizer.ggml.scores", G3_GGUF_F32, scores, N);
    char name[64];
    for (int i = 0; i < 300; i++) {
        int64_t ne[1] = {32};
        snprintf(name, sizeof(name), "blk.%d.w", i);
        g3_gguf_w_tensor(w, name, 1, ne, G3_TYPE_F32, scores, 128, true);
    }
    uint8_t *buf = NULL;
    size_t size = 0;
    g3_err e = {0};
    CHECK(g3_gguf_writer_to_memory(w, &buf, &size, &e) == G3_OK, "speed file: %s", e.msg);
    g3_gguf_writer_free(w);
    double best = 1e9;
    for (int rep = 0; rep < 3; rep++) {
        g3_gguf *g = NULL;
        double t0 = g3_time_s();
        g3_status st = g3_gguf_open_memory(buf, size, &g, &e);
        for (int i = 0; i < 300 && st == G3_OK; i++) {
            snprintf(name, sizeof(name), "blk.%d.w", i);
            CHECK(g3_gguf_find_tensor(g, name) == &g->tensors[i], "lookup %s", name);
        }
        double dt = g3_time_s() - t0;
        best = dt < best ? dt : best;
        if (st == G3_OK) {
            const g3_gguf_kv *kv = g3_gguf_find_kv(g, "tokenizer.ggml.tokens");
            uint64_t len = 0;
            const char *s = g3_gguf_arr_str(kv, N - 1, &len);
            CHECK(kv && kv->n == N && s && len == 9 && memcmp(s, "tok262143", 9) == 0, "last token");
        }
        CHECK(st == G3_OK, "open: %s", e.msg);
        g3_gguf_close(g);
    }
    printf("open + 300 lookups, 262144-string vocabulary (%zu bytes): %.2f ms\n", size, best * 1e3);
    CHECK(best < 0.1, "open took %.1f ms", best * 1e3);
    free(buf);
    free(scores);
    free(pool);
    free(strs);
}

/* ---- shared/reference ---- */
typedef struct mini_spec {
    const char *file;
    uint64_t n_kv;
    uint32_t embd_type;
    uint32_t type_count[G3_TYPE_COUNT]; /* tensors per type id */
} mini_spec;

static void check_mini(const char *dir, const mini_spec *m)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/reference/%s", dir, m->file);
    g3_gguf *g = NULL;
    g3_err e = {0};
    double t0 = g3_time_s();
    g3_status st = g3_gguf_open(path, &g, &e);
    double dt = g3_time_s() - t0;
    CHECK(st == G3_OK, "%s: %s", m->file, e.msg);
    if (st != G3_OK)
        return;
    printf("%s: %llu kv, %llu tensors, opened in %.2f ms\n", m->file,
           (unsigned long long)g->n_kv, (unsigned long long)g->n_tensors, dt * 1e3);
    CHECK(g->version == 3 && g->alignment == 32, "%s header", m->file);
    CHECK(g->n_tensors == 28 && g->n_kv == m->n_kv, "%s: %llu tensors, %llu kv", m->file,
          (unsigned long long)g->n_tensors, (unsigned long long)g->n_kv);
    uint32_t counts[G3_TYPE_COUNT] = {0};
    for (uint64_t i = 0; i < g->n_tensors; i++)
        if (g->tensors[i].type < G3_TYPE_COUNT)
            counts[g->tensors[i].type]++;
    CHECK(memcmp(counts, m->type_count, sizeof(counts)) == 0, "%s: tensor type counts", m->file);
    const g3_gguf_tensor *t = g3_gguf_find_tensor(g, "token_embd.weight");
    CHECK(t && t->n_dims == 2 && t->ne[0] == 640 && t->ne[1] == 4096 && t->type == m->embd_type,
          "%s: token_embd.weight", m->file);
    t = g3_gguf_find_tensor(g, "blk.1.ffn_down.weight");
    CHECK(t && t->n_dims == 2 && t->ne[0] == 2048 && t->ne[1] == 640, "%s: ffn_down", m->file);
    t = g3_gguf_find_tensor(g, "output_norm.weight");
    CHECK(t && t->n_dims == 1 && t->ne[0] == 640 && t->type == G3_TYPE_F32 && t->n_bytes == 2560,
          "%s: output_norm", m->file);
    bool found = false;
    const char *s = NULL;
    uint64_t len = 0;
    uint32_t u = 0;
    float f = 0;
    CHECK(g3_gguf_get_str(g, "general.architecture", &s, &len, &found, &e) == G3_OK && found &&
              len == 6 && memcmp(s, "gemma3", 6) == 0,
          "%s: architecture", m->file);
    CHECK(g3_gguf_get_u32(g, "gemma3.embedding_length", &u, &found, &e) == G3_OK && u == 640,
          "%s: embedding_length", m->file);
    CHECK(g3_gguf_get_u32(g, "gemma3.block_count", &u, &found, &e) == G3_OK && u == 2,
          "%s: block_count", m->file);
    CHECK(g3_gguf_get_f32(g, "gemma3.attention.layer_norm_rms_epsilon", &f, &found, &e) == G3_OK &&
              fabsf(f - 1e-6f) < 1e-12f,
          "%s: rms eps", m->file);
    bool b = false;
    CHECK(g3_gguf_get_bool(g, "tokenizer.ggml.add_bos_token", &b, &found, &e) == G3_OK && b,
          "%s: add_bos", m->file);
    const g3_gguf_kv *kv = NULL;
    CHECK(g3_gguf_get_arr(g, "tokenizer.ggml.tokens", G3_GGUF_STRING, &kv, &found, &e) == G3_OK &&
              kv->n == 4096,
          "%s: tokens", m->file);
    s = g3_gguf_arr_str(kv, 2, &len);
    CHECK(s && len == 5 && memcmp(s, "<bos>", 5) == 0, "%s: token 2 is <bos>", m->file);
    CHECK(g3_gguf_get_arr(g, "tokenizer.ggml.scores", G3_GGUF_F32, &kv, &found, &e) == G3_OK &&
              kv->n == 4096,
          "%s: scores", m->file);
    CHECK(g3_gguf_get_arr(g, "tokenizer.ggml.token_type", G3_GGUF_I32, &kv, &found, &e) == G3_OK &&
              kv->n == 4096 && g3_gguf_arr_i32(kv, 0) == 3,
          "%s: token_type", m->file);
    g3_gguf_close(g);
}

static void check_quant_vectors(const char *dir)
{
    static const struct {
        const char *name;
        uint32_t type;
    } qt[] = {{"f16", 1},     {"bf16", 30},    {"q8_0", 8},   {"q4_0", 2},   {"q4_1", 3},
              {"q5_0", 6},    {"q5_1", 7},     {"iq4_nl", 20}, {"q2_K", 10}, {"q3_K", 11},
              {"q4_K", 12},   {"q5_K", 13},    {"q6_K", 14},  {"iq4_xs", 23}};
    char path[4096];
    snprintf(path, sizeof(path), "%s/reference/quant-vectors.gguf", dir);
    g3_gguf *g = NULL;
    g3_err e = {0};
    CHECK(g3_gguf_open(path, &g, &e) == G3_OK, "quant-vectors: %s", e.msg);
    if (!g)
        return;
    CHECK(g->n_tensors == 70 && g->n_kv == 2, "quant-vectors counts");
    const char *s = NULL;
    uint64_t len = 0;
    bool found = false;
    CHECK(g3_gguf_get_str(g, "general.architecture", &s, &len, &found, &e) == G3_OK &&
              len == 13 && memcmp(s, "quant-vectors", 13) == 0,
          "quant-vectors architecture");
    for (size_t i = 0; i < G3_ARRAY_LEN(qt); i++) {
        char n[64];
        const g3_gguf_tensor *t[5];
        static const char *const suffix[5] = {"src", "q", "deq", "x", "y"};
        for (int k = 0; k < 5; k++) {
            snprintf(n, sizeof(n), "%s.%s", qt[i].name, suffix[k]);
            t[k] = g3_gguf_find_tensor(g, n);
        }
        CHECK(t[0] && t[1] && t[2] && t[3] && t[4], "%s: all five tensors", qt[i].name);
        if (!(t[0] && t[1] && t[2] && t[3] && t[4]))
            continue;
        int64_t row = t[0]->ne[0];
        CHECK(t[1]->type == qt[i].type, "%s.q type %u", qt[i].name, t[1]->type);
        CHECK(row == (g3_type_get(qt[i].type)->block_size == 256 ? row : 640) &&
                  (row == 640 || row == 1024 || row == 2048),
              "%s row %lld", qt[i].name, (long long)row);
        for (int k = 0; k < 3; k++)
            CHECK(t[k]->n_dims == 2 && t[k]->ne[0] == row && t[k]->ne[1] == 24, "%s.%s shape",
                  qt[i].name, suffix[k]);
        CHECK(t[0]->type == 0 && t[2]->type == 0 && t[3]->type == 0 && t[4]->type == 0,
              "%s f32 companions", qt[i].name);
        CHECK(t[3]->n_dims == 1 && t[3]->ne[0] == row && t[4]->n_dims == 1 && t[4]->ne[0] == 24,
              "%s x/y shapes", qt[i].name);
        const g3_type_info *ti = g3_type_get(qt[i].type);
        CHECK(t[1]->n_bytes == (uint64_t)row / ti->block_size * ti->type_size * 24,
              "%s.q bytes", qt[i].name);
    }
    g3_gguf_close(g);
}

static int test_shared(const char *dir)
{
    static mini_spec minis[5];
    minis[0] = (mini_spec){"mini-f32.gguf", 28, 0, {0}};
    minis[0].type_count[0] = 28;
    minis[1] = (mini_spec){"mini-bf16.gguf", 29, 30, {0}};
    minis[1].type_count[30] = 15;
    minis[1].type_count[0] = 13;
    minis[2] = (mini_spec){"mini-q8_0.gguf", 29, 8, {0}};
    minis[2].type_count[8] = 15;
    minis[2].type_count[0] = 13;
    minis[3] = (mini_spec){"mini-q4_k_m.gguf", 29, 8, {0}};
    minis[3].type_count[0] = 13;
    minis[3].type_count[6] = 9;
    minis[3].type_count[12] = 3;
    minis[3].type_count[8] = 2;
    minis[3].type_count[14] = 1;
    minis[4] = (mini_spec){"mini-iq4_nl.gguf", 29, 8, {0}};
    minis[4].type_count[0] = 13;
    minis[4].type_count[20] = 12;
    minis[4].type_count[7] = 2;
    minis[4].type_count[8] = 1;
    for (size_t i = 0; i < G3_ARRAY_LEN(minis); i++)
        check_mini(dir, &minis[i]);
    check_quant_vectors(dir);
    return 0;
}

int main(void)
{
    test_roundtrip();
    test_writer_refusals();
    test_alignment_64();
    test_nested_arrays();
    test_open_errors();
    test_speed();
    const char *dir = test_shared_dir();
    if (dir)
        test_shared(dir);
    else
        printf("test_gguf: shared/reference checks skipped; the rest ran\n");
    return test_finish("test_gguf");
}
