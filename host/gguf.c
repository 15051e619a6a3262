/* gguf.c: a bounds-checked GGUF v2/v3 reader.
 *
 * The whole file is untrusted. Parsing walks a cursor over the mapping and
 * checks every length, count and offset against the bytes that are left
 * before it reads or allocates anything that depends on it, so a hostile file
 * can make us allocate at most a small multiple of its own size. Values are
 * not copied: a key-value entry points into the mapping, and only keys and
 * tensor names are copied (NUL-terminated, for lookups and messages).
 *
 * Design decisions:
 * - Arrays of arrays are accepted up to G3_GGUF_MAX_ARRAY_DEPTH levels and
 *   validated element by element; the outer kv has arr_type G3_GGUF_ARRAY and
 *   no accessors for the inner elements (nothing in a Gemma file uses them).
 * - Keys and tensor names must be non-empty and contain no NUL byte (they are
 *   printed and compared as C strings). Other bytes are allowed; messages
 *   replace control characters with '?'.
 * - Lookups go through open-addressing hash tables, which also make the
 *   duplicate-key and duplicate-name checks linear in time for hostile files
 *   with hundreds of thousands of entries.
 * - Integers are assembled byte by byte (little-endian) so that unaligned
 *   reads are never UB and the reader does not depend on the host byte order. */
#include "gguf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gguf_private.h"
#include "quant.h"

#define G3_GGUF_HEADER_SIZE 24
#define G3_GGUF_MAX_ARRAY_DEPTH 8
/* Smallest possible kv: u64 key length, 1 key byte (empty keys are rejected),
 * u32 value type, 1 value byte. Smallest tensor info: u64 name length, 1 name
 * byte, u32 n_dims, one u64 dim, u32 type, u64 offset. */
#define G3_GGUF_MIN_KV_BYTES 14u
#define G3_GGUF_MIN_TENSOR_BYTES 33u
#define G3_QUOTE_MAX 80 /* name bytes shown in a message */

/* The public struct first, so g3_gguf * and g3_gguf_impl * convert both ways. */
typedef struct g3_gguf_impl {
    g3_gguf pub;
    uint64_t *kv_slot; /* hash slots: index + 1, 0 = empty */
    uint64_t kv_mask;
    uint64_t *t_slot;
    uint64_t t_mask;
    uint64_t kv_cap, t_cap; /* allocated entries of pub.kv / pub.tensors */
} g3_gguf_impl;

typedef struct g3_cur {
    const uint8_t *p;
    uint64_t size, pos;
    g3_err *err;
} g3_cur;

const char *g3_gguf_vtype_name(uint32_t type)
{
    static const char *const names[G3_GGUF_VTYPE_COUNT] = {
        "u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool", "string", "array", "u64", "i64", "f64"};
    return type < G3_GGUF_VTYPE_COUNT ? names[type] : "unknown";
}

/* Least number of bytes an element of this type occupies in a file. */
static uint64_t g3_min_elem_bytes(uint32_t type)
{
    if (type == G3_GGUF_STRING)
        return 8;
    if (type == G3_GGUF_ARRAY)
        return 12;
    return g3_vsize[type];
}

/* A name made safe to print: at most G3_QUOTE_MAX bytes, control bytes as '?'. */
static const char *g3_quote(char *buf, size_t cap, const char *s)
{
    size_t n = strlen(s), k = G3_MIN(n, (size_t)G3_QUOTE_MAX);
    if (k + 4 > cap)
        k = cap - 4;
    /* Do not cut a UTF-8 sequence in half. */
    while (k < n && k > 0 && ((unsigned char)s[k] & 0xC0) == 0x80)
        k--;
    for (size_t i = 0; i < k; i++) {
        unsigned char ch = (unsigned char)s[i];
        buf[i] = (ch < 0x20 || ch == 0x7F) ? '?' : (char)ch;
    }
    if (k < n) {
        memcpy(buf + k, "...", 4);
    } else {
        buf[k] = '\0';
    }
    return buf;
}

static uint64_t g3_left(const g3_cur *c)
{
    return c->size - c->pos;
}

/* Records an error; returns false so that `return g3_fail(...)` reads well. */
static bool g3_fail(g3_cur *c, g3_status st, const char *fmt, ...) G3_PRINTF(3, 4);
static bool g3_fail(g3_cur *c, g3_status st, const char *fmt, ...)
{
    if (c->err->status == G3_OK) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->err->msg, sizeof(c->err->msg), fmt, ap);
        va_end(ap);
        c->err->status = st;
    }
    return false;
}

static bool g3_truncated(g3_cur *c, const char *where, const char *field, uint64_t need)
{
    return g3_fail(c, G3_ERR_FORMAT,
                   "%s: %s at byte %" PRIu64 " needs %" PRIu64 " bytes but the file ends at byte %" PRIu64,
                   where, field, c->pos, need, c->size);
}

static bool g3_rd_u32(g3_cur *c, const char *where, const char *field, uint32_t *v)
{
    if (g3_left(c) < 4)
        return g3_truncated(c, where, field, 4);
    *v = g3_ld_u32(c->p + c->pos);
    c->pos += 4;
    return true;
}

static bool g3_rd_u64(g3_cur *c, const char *where, const char *field, uint64_t *v)
{
    if (g3_left(c) < 8)
        return g3_truncated(c, where, field, 8);
    *v = g3_ld_u64(c->p + c->pos);
    c->pos += 8;
    return true;
}

/* A length-prefixed string: checks the length against what is left. */
static bool g3_rd_str(g3_cur *c, const char *where, const char *field, const uint8_t **s,
                      uint64_t *len)
{
    uint64_t at = c->pos;
    if (!g3_rd_u64(c, where, field, len))
        return false;
    if (*len > g3_left(c))
        return g3_fail(c, G3_ERR_FORMAT,
                       "%s: %s length %" PRIu64 " (at byte %" PRIu64 ") exceeds the %" PRIu64
                       " bytes left in the file",
                       where, field, *len, at, g3_left(c));
    *s = c->p + c->pos;
    c->pos += *len;
    return true;
}

/* Copies a key or tensor name, rejecting empty names and embedded NULs. */
static bool g3_copy_name(g3_cur *c, const char *where, const char *field, const uint8_t *s,
                         uint64_t len, char **out)
{
    if (len == 0)
        return g3_fail(c, G3_ERR_FORMAT, "%s: empty %s", where, field);
    const uint8_t *nul = memchr(s, 0, (size_t)len);
    if (nul)
        return g3_fail(c, G3_ERR_FORMAT, "%s: %s contains a NUL byte at position %zu", where,
                       field, (size_t)(nul - s));
    if (!(*out = malloc((size_t)len + 1)))
        return g3_fail(c, G3_ERR_OUT_OF_MEMORY, "%s: cannot allocate a %s of %" PRIu64 " bytes",
                       where, field, len);
    memcpy(*out, s, (size_t)len);
    (*out)[len] = '\0';
    return true;
}

/* The string elements of an array whose count was checked: each length
 * against what is left; offsets recorded when `off` is not NULL. */
static bool g3_parse_strings(g3_cur *c, const char *where, uint64_t n, uint64_t *off)
{
    uint64_t base = c->pos;
    for (uint64_t i = 0; i < n; i++) {
        uint64_t at = c->pos, len;
        if (g3_left(c) < 8)
            return g3_truncated(c, where, "string length", 8);
        len = g3_ld_u64(c->p + at);
        if (len > g3_left(c) - 8)
            return g3_fail(c, G3_ERR_FORMAT,
                           "%s: string #%" PRIu64 " length %" PRIu64 " (at byte %" PRIu64
                           ") exceeds the %" PRIu64 " bytes left in the file",
                           where, i, len, at, g3_left(c) - 8);
        if (off)
            off[i] = at - base;
        c->pos += 8 + len;
    }
    return true;
}

/* One value of `type` at the cursor. For the top-level value of a kv, `kv` receives
 * the value pointer, and for arrays the element type, count and string offsets. */
static bool g3_parse_value(g3_cur *c, const char *where, uint32_t type, unsigned depth,
                           g3_gguf_kv *kv)
{
    const uint8_t *s = NULL;
    uint64_t len = 0;
    if (kv)
        kv->val = c->p + c->pos;
    if (type == G3_GGUF_STRING)
        return g3_rd_str(c, where, "string value", &s, &len);
    if (type != G3_GGUF_ARRAY) {
        uint64_t sz = g3_vsize[type];
        if (g3_left(c) < sz)
            return g3_truncated(c, where, g3_gguf_vtype_name(type), sz);
        if (type == G3_GGUF_BOOL && c->p[c->pos] > 1)
            return g3_fail(c, G3_ERR_FORMAT,
                           "%s: bool value %u (at byte %" PRIu64 ") is neither 0 nor 1", where,
                           c->p[c->pos], c->pos);
        c->pos += sz;
        return true;
    }

    uint64_t at = c->pos, n, need;
    uint32_t et = 0;
    if (depth + 1 > G3_GGUF_MAX_ARRAY_DEPTH)
        return g3_fail(c, G3_ERR_FORMAT, "%s: arrays nested deeper than %d levels (at byte %" PRIu64
                       ")", where, G3_GGUF_MAX_ARRAY_DEPTH, at);
    if (!g3_rd_u32(c, where, "array element type", &et))
        return false;
    if (et >= G3_GGUF_VTYPE_COUNT)
        return g3_fail(c, G3_ERR_FORMAT,
                       "%s: array element type %" PRIu32 " (at byte %" PRIu64
                       ") is not a GGUF value type",
                       where, et, at);
    if (!g3_rd_u64(c, where, "array count", &n))
        return false;
    /* Each element takes at least g3_min_elem_bytes: check before anything is
     * allocated or looped over in proportion to n. */
    if (!g3_mul_u64(n, g3_min_elem_bytes(et), &need) || need > g3_left(c))
        return g3_fail(c, G3_ERR_FORMAT,
                       "%s: array count %" PRIu64 " (at byte %" PRIu64 ") of %s elements does "
                       "not fit in the %" PRIu64 " bytes left in the file",
                       where, n, at + 4, g3_gguf_vtype_name(et), g3_left(c));
    if (kv) {
        kv->arr_type = et;
        kv->n = n;
        kv->val = c->p + c->pos;
    }
    if (et == G3_GGUF_STRING) {
        /* n * 8 <= the bytes left: this allocation is bounded by the file size. */
        if (kv && n > 0 && !(kv->str_off = malloc((size_t)n * sizeof(uint64_t))))
            return g3_fail(c, G3_ERR_OUT_OF_MEMORY,
                           "%s: cannot allocate %" PRIu64 " string offsets", where, n);
        return g3_parse_strings(c, where, n, kv ? kv->str_off : NULL);
    }
    for (uint64_t i = 0; et == G3_GGUF_ARRAY && i < n; i++)
        if (!g3_parse_value(c, where, G3_GGUF_ARRAY, depth + 1, NULL))
            return false;
    if (et == G3_GGUF_ARRAY)
        return true;
    for (uint64_t i = 0; et == G3_GGUF_BOOL && i < n; i++)
        if (c->p[c->pos + i] > 1)
            return g3_fail(c, G3_ERR_FORMAT,
                           "%s: bool element #%" PRIu64 " = %u (at byte %" PRIu64
                           ") is neither 0 nor 1",
                           where, i, c->p[c->pos + i], c->pos + i);
    c->pos += need; /* fixed-size elements: need == n * size */
    return true;
}

static uint64_t g3_hash(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
    return h;
}

typedef const char *(*g3_name_fn)(const g3_gguf *g, uint64_t i);

static const char *g3_kv_name(const g3_gguf *g, uint64_t i)
{
    return g->kv[i].key;
}

static const char *g3_tensor_name(const g3_gguf *g, uint64_t i)
{
    return g->tensors[i].name;
}

/* Builds a hash index over n names. On a duplicate, returns false with *dup_a <
 * *dup_b the two indices (and the table freed); on OOM returns false with
 * *slots NULL and *dup_a == *dup_b. */
static bool g3_build_index(const g3_gguf *g, uint64_t n, g3_name_fn name_at, uint64_t **slots,
                           uint64_t *mask, uint64_t *dup_a, uint64_t *dup_b)
{
    uint64_t cap = 16;
    while (cap < 2 * n)
        cap *= 2;
    *dup_a = *dup_b = 0;
    *slots = calloc((size_t)cap, sizeof(uint64_t));
    if (!*slots)
        return false;
    *mask = cap - 1;
    for (uint64_t i = 0; i < n; i++) {
        const char *name = name_at(g, i);
        uint64_t h = g3_hash(name) & *mask;
        while ((*slots)[h]) {
            uint64_t j = (*slots)[h] - 1;
            if (strcmp(name_at(g, j), name) == 0) {
                *dup_a = j;
                *dup_b = i;
                free(*slots);
                *slots = NULL;
                return false;
            }
            h = (h + 1) & *mask;
        }
        (*slots)[h] = i + 1;
    }
    return true;
}

static const uint64_t *g3_lookup(const g3_gguf *g, const uint64_t *slots, uint64_t mask,
                                 g3_name_fn name_at, const char *name)
{
    if (!slots || !name)
        return NULL;
    uint64_t h = g3_hash(name) & mask;
    while (slots[h]) {
        if (strcmp(name_at(g, slots[h] - 1), name) == 0)
            return &slots[h];
        h = (h + 1) & mask;
    }
    return NULL;
}

const g3_gguf_kv *g3_gguf_find_kv(const g3_gguf *g, const char *key)
{
    if (!g)
        return NULL;
    const g3_gguf_impl *gi = (const g3_gguf_impl *)g;
    const uint64_t *s = g3_lookup(g, gi->kv_slot, gi->kv_mask, g3_kv_name, key);
    return s ? &g->kv[*s - 1] : NULL;
}

const g3_gguf_tensor *g3_gguf_find_tensor(const g3_gguf *g, const char *name)
{
    if (!g)
        return NULL;
    const g3_gguf_impl *gi = (const g3_gguf_impl *)g;
    const uint64_t *s = g3_lookup(g, gi->t_slot, gi->t_mask, g3_tensor_name, name);
    return s ? &g->tensors[*s - 1] : NULL;
}

/* Grows an array of `elem`-byte entries to hold at least need entries (zeroed). */
static bool g3_grow(void **arr, uint64_t *cap, uint64_t need, size_t elem)
{
    if (need <= *cap)
        return true;
    uint64_t nc = *cap ? *cap * 2 : 64;
    if (nc < need)
        nc = need;
    if (nc > SIZE_MAX / elem)
        return false;
    void *p = realloc(*arr, (size_t)nc * elem);
    if (!p)
        return false;
    memset((uint8_t *)p + (size_t)*cap * elem, 0, (size_t)(nc - *cap) * elem);
    *arr = p;
    *cap = nc;
    return true;
}

void g3_kv_where(char *buf, size_t cap, const g3_gguf_kv *kv)
{
    char q[G3_QUOTE_MAX + 8];
    snprintf(buf, cap, "key '%s' (at byte %" PRIu64 ")", g3_quote(q, sizeof(q), kv->key),
             kv->offset);
}

static void g3_tensor_where(char *buf, size_t cap, const g3_gguf_tensor *t)
{
    char q[G3_QUOTE_MAX + 8];
    snprintf(buf, cap, "tensor '%s' (info at byte %" PRIu64 ")",
             g3_quote(q, sizeof(q), t->name), t->info_offset);
}

static g3_status g3_parse_header(g3_gguf *g, g3_cur *c)
{
    const uint8_t *p = g->base;
    if (g->size >= 4 && memcmp(p, "GGUF", 4) != 0)
        return g3_err_set(c->err, G3_ERR_FORMAT,
                          "bad magic at byte 0: expected \"GGUF\", found %02x %02x %02x %02x "
                          "(not a GGUF file)",
                          p[0], p[1], p[2], p[3]);
    if (g->size < G3_GGUF_HEADER_SIZE)
        return g3_err_set(c->err, G3_ERR_FORMAT,
                          "file is %" PRIu64 " bytes, smaller than the %d-byte GGUF header",
                          g->size, G3_GGUF_HEADER_SIZE);
    uint32_t v = g3_ld_u32(p + 4);
    if (v == 1)
        return g3_err_set(c->err, G3_ERR_UNSUPPORTED,
                          "GGUF version 1 (at byte 4) is not supported: only versions 2 and 3 "
                          "are (re-convert the model with a current llama.cpp)");
    if (v == 0)
        return g3_err_set(c->err, G3_ERR_FORMAT, "GGUF version 0 (at byte 4) is invalid");
    if (v > 3 && (v & 0xFFFF) == 0)
        return g3_err_set(c->err, G3_ERR_UNSUPPORTED,
                          "GGUF version field 0x%08" PRIx32 " (at byte 4) looks byte-swapped: "
                          "big-endian GGUF files are not supported",
                          v);
    if (v > 3)
        return g3_err_set(c->err, G3_ERR_UNSUPPORTED,
                          "GGUF version %" PRIu32 " (at byte 4) is not supported: only versions "
                          "2 and 3 are",
                          v);
    g->version = v;
    uint64_t n_tensors = g3_ld_u64(p + 8), n_kv = g3_ld_u64(p + 16);
    c->pos = G3_GGUF_HEADER_SIZE;
    uint64_t rest = g3_left(c), a, b, sum;
    /* Counts beyond what the file could hold are rejected before any loop or
     * allocation is sized by them. */
    if (!g3_mul_u64(n_kv, G3_GGUF_MIN_KV_BYTES, &a) || a > rest)
        return g3_err_set(c->err, G3_ERR_FORMAT,
                          "n_kv %" PRIu64 " (at byte 16) is more than the file could hold (%" PRIu64
                          " bytes after the header, at least %u per key)",
                          n_kv, rest, G3_GGUF_MIN_KV_BYTES);
    if (!g3_mul_u64(n_tensors, G3_GGUF_MIN_TENSOR_BYTES, &b) || b > rest ||
        !g3_add_u64(a, b, &sum) || sum > rest)
        return g3_err_set(c->err, G3_ERR_FORMAT,
                          "n_tensors %" PRIu64 " (at byte 8) is more than the file could hold (%" PRIu64
                          " bytes after the header, at least %u per tensor info and %u per key)",
                          n_tensors, rest, G3_GGUF_MIN_TENSOR_BYTES, G3_GGUF_MIN_KV_BYTES);
    g->n_kv = n_kv;         /* the counts the file declares; reset by the caller */
    g->n_tensors = n_tensors;
    return G3_OK;
}

static g3_status g3_parse_kvs(g3_gguf_impl *gi, g3_cur *c, uint64_t n_kv)
{
    g3_gguf *g = &gi->pub;
    char where[256];
    for (uint64_t i = 0; i < n_kv; i++) {
        if (!g3_grow((void **)&g->kv, &gi->kv_cap, i + 1, sizeof(g3_gguf_kv)))
            return g3_err_set(c->err, G3_ERR_OUT_OF_MEMORY, "cannot allocate %" PRIu64 " keys",
                              i + 1);
        g3_gguf_kv *kv = &g->kv[g->n_kv++];
        kv->offset = c->pos;
        kv->n = 1;
        snprintf(where, sizeof(where), "kv #%" PRIu64 " (at byte %" PRIu64 ")", i, kv->offset);
        const uint8_t *s = NULL;
        uint64_t len = 0;
        if (!g3_rd_str(c, where, "key", &s, &len))
            return c->err->status;
        if (!g3_copy_name(c, where, "key", s, len, &kv->key))
            return c->err->status;
        g3_kv_where(where, sizeof(where), kv);
        uint32_t type = 0;
        uint64_t tat = c->pos;
        if (!g3_rd_u32(c, where, "value type", &type))
            return c->err->status;
        if (type >= G3_GGUF_VTYPE_COUNT)
            return g3_err_set(c->err, G3_ERR_FORMAT,
                              "%s: unknown value type %" PRIu32 " (at byte %" PRIu64 ")", where,
                              type, tat);
        kv->type = type;
        if (!g3_parse_value(c, where, type, 0, kv))
            return c->err->status;
    }
    uint64_t da, db;
    if (!g3_build_index(g, g->n_kv, g3_kv_name, &gi->kv_slot, &gi->kv_mask, &da, &db)) {
        if (da == db)
            return g3_err_set(c->err, G3_ERR_OUT_OF_MEMORY, "cannot allocate the key index");
        char q[G3_QUOTE_MAX + 8];
        return g3_err_set(c->err, G3_ERR_FORMAT,
                          "duplicate key '%s' (at bytes %" PRIu64 " and %" PRIu64 ")",
                          g3_quote(q, sizeof(q), g->kv[db].key), g->kv[da].offset,
                          g->kv[db].offset);
    }
    return G3_OK;
}


/* Known keys whose type the reader itself relies on, or that every consumer
 * would misread if mistyped. */
static g3_status g3_check_known_keys(g3_gguf *g, g3_err *err)
{
    static const struct {
        const char *key;
        uint32_t type, arr_type;
    } known[] = {
        {"general.alignment", G3_GGUF_U32, 0},
        {"general.architecture", G3_GGUF_STRING, 0},
        {"tokenizer.ggml.tokens", G3_GGUF_ARRAY, G3_GGUF_STRING},
    };
    for (size_t i = 0; i < G3_ARRAY_LEN(known); i++) {
        const g3_gguf_kv *kv = g3_gguf_find_kv(g, known[i].key);
        if (!kv)
            continue;
        if (kv->type != known[i].type ||
            (kv->type == G3_GGUF_ARRAY && kv->arr_type != known[i].arr_type)) {
            char want[32];
            if (known[i].type == G3_GGUF_ARRAY)
                snprintf(want, sizeof(want), "array of %s", g3_gguf_vtype_name(known[i].arr_type));
            else
                snprintf(want, sizeof(want), "%s", g3_gguf_vtype_name(known[i].type));
            return g3_wrong_type(kv, want, err);
        }
    }
    g->alignment = G3_GGUF_DEFAULT_ALIGNMENT;
    const g3_gguf_kv *al = g3_gguf_find_kv(g, "general.alignment");
    if (al) {
        uint32_t a = g3_ld_u32(al->val);
        if (a == 0 || (a & (a - 1)) != 0) {
            char where[256];
            g3_kv_where(where, sizeof(where), al);
            return g3_err_set(err, G3_ERR_FORMAT, "%s: alignment %" PRIu32
                              " is not a non-zero power of two", where, a);
        }
        g->alignment = a;
    }
    return G3_OK;
}

static g3_status g3_parse_tensor_info(g3_cur *c, g3_gguf *g, g3_gguf_tensor *t, uint64_t i)
{
    char where[256];
    t->info_offset = c->pos;
    snprintf(where, sizeof(where), "tensor info #%" PRIu64 " (at byte %" PRIu64 ")", i,
             t->info_offset);
    const uint8_t *s = NULL;
    uint64_t len = 0;
    if (!g3_rd_str(c, where, "tensor name", &s, &len))
        return c->err->status;
    if (!g3_copy_name(c, where, "tensor name", s, len, &t->name))
        return c->err->status;
    g3_tensor_where(where, sizeof(where), t);

    uint64_t at = c->pos;
    if (!g3_rd_u32(c, where, "n_dims", &t->n_dims))
        return c->err->status;
    if (t->n_dims < 1 || t->n_dims > G3_GGUF_MAX_DIMS)
        return g3_err_set(c->err, G3_ERR_FORMAT,
                          "%s: n_dims %" PRIu32 " (at byte %" PRIu64 ") is not in 1..%d", where,
                          t->n_dims, at, G3_GGUF_MAX_DIMS);
    uint64_t prod = 1;
    for (uint32_t d = 0; d < G3_GGUF_MAX_DIMS; d++) {
        t->ne[d] = 1;
        if (d >= t->n_dims)
            continue;
        uint64_t v;
        at = c->pos;
        if (!g3_rd_u64(c, where, "dimension", &v))
            return c->err->status;
        if (v == 0)
            return g3_err_set(c->err, G3_ERR_FORMAT, "%s: ne[%" PRIu32 "] (at byte %" PRIu64
                              ") is 0", where, d, at);
        if (v > (uint64_t)INT64_MAX)
            return g3_err_set(c->err, G3_ERR_FORMAT,
                              "%s: ne[%" PRIu32 "] = %" PRIu64 " (at byte %" PRIu64
                              ") is negative as an int64",
                              where, d, v, at);
        if (prod > (uint64_t)INT64_MAX / v)
            return g3_err_set(c->err, G3_ERR_FORMAT,
                              "%s: element count overflows int64 at ne[%" PRIu32 "] = %" PRIu64
                              " (at byte %" PRIu64 ")",
                              where, d, v, at);
        prod *= v;
        t->ne[d] = (int64_t)v;
    }
    t->n_elems = prod;

    at = c->pos;
    if (!g3_rd_u32(c, where, "tensor type", &t->type))
        return c->err->status;
    const g3_type_info *ti = g3_type_get(t->type);
    if (!ti->name)
        return g3_err_set(c->err, G3_ERR_UNSUPPORTED,
                          "%s: unknown tensor type id %" PRIu32 " (at byte %" PRIu64 ")", where,
                          t->type, at);
    if (!ti->supported || ti->block_size == 0 || ti->type_size == 0)
        return g3_err_set(c->err, G3_ERR_UNSUPPORTED,
                          "%s: tensor type %s (id %" PRIu32 ", at byte %" PRIu64
                          ") is not supported by g3vk",
                          where, ti->name, t->type, at);
    if ((uint64_t)t->ne[0] % ti->block_size != 0)
        return g3_err_set(c->err, G3_ERR_FORMAT,
                          "%s: row length ne[0] = %" PRId64 " is not a multiple of the %s block "
                          "size %" PRIu32,
                          where, t->ne[0], ti->name, ti->block_size);
    uint64_t row_bytes;
    if (!g3_mul_u64((uint64_t)t->ne[0] / ti->block_size, ti->type_size, &row_bytes) ||
        !g3_mul_u64(row_bytes, t->n_elems / (uint64_t)t->ne[0], &t->n_bytes))
        return g3_err_set(c->err, G3_ERR_FORMAT,
                          "%s: data size of %" PRIu64 " %s elements overflows 64 bits", where,
                          t->n_elems, ti->name);

    at = c->pos;
    if (!g3_rd_u64(c, where, "data offset", &t->offset))
        return c->err->status;
    if (t->offset % g->alignment != 0)
        return g3_err_set(c->err, G3_ERR_FORMAT,
                          "%s: data offset %" PRIu64 " (at byte %" PRIu64
                          ") is not a multiple of the alignment %" PRIu32,
                          where, t->offset, at, g->alignment);
    return G3_OK;
}

typedef struct g3_span {
    uint64_t off;
    uint64_t idx;
} g3_span;

static int g3_span_cmp(const void *a, const void *b)
{
    const g3_span *x = a, *y = b;
    return x->off < y->off ? -1 : x->off > y->off ? 1 : (x->idx > y->idx) - (x->idx < y->idx);
}

static g3_status g3_parse_tensors(g3_gguf_impl *gi, g3_cur *c, uint64_t n_tensors)
{
    g3_gguf *g = &gi->pub;
    for (uint64_t i = 0; i < n_tensors; i++) {
        if (!g3_grow((void **)&g->tensors, &gi->t_cap, i + 1, sizeof(g3_gguf_tensor)))
            return g3_err_set(c->err, G3_ERR_OUT_OF_MEMORY,
                              "cannot allocate %" PRIu64 " tensor infos", i + 1);
        g3_gguf_tensor *t = &g->tensors[g->n_tensors++];
        g3_status st = g3_parse_tensor_info(c, g, t, i);
        if (st != G3_OK)
            return st;
    }
    uint64_t da, db;
    char wa[256], wb[256];
    if (!g3_build_index(g, g->n_tensors, g3_tensor_name, &gi->t_slot, &gi->t_mask, &da, &db)) {
        if (da == db)
            return g3_err_set(c->err, G3_ERR_OUT_OF_MEMORY, "cannot allocate the tensor index");
        char q[G3_QUOTE_MAX + 8];
        return g3_err_set(c->err, G3_ERR_FORMAT,
                          "duplicate tensor name '%s' (infos at bytes %" PRIu64 " and %" PRIu64 ")",
                          g3_quote(q, sizeof(q), g->tensors[db].name),
                          g->tensors[da].info_offset, g->tensors[db].info_offset);
    }

    /* The data section starts at the aligned end of the infos. */
    uint64_t info_end = c->pos, start;
    if (!g3_add_u64(info_end, g->alignment - 1, &start))
        return g3_err_set(c->err, G3_ERR_FORMAT, "data section offset overflows");
    g->data_offset = start / g->alignment * g->alignment;

    for (uint64_t i = 0; i < g->n_tensors; i++) {
        g3_gguf_tensor *t = &g->tensors[i];
        uint64_t s, e;
        if (!g3_add_u64(g->data_offset, t->offset, &s) || !g3_add_u64(s, t->n_bytes, &e)) {
            g3_tensor_where(wa, sizeof(wa), t);
            return g3_err_set(c->err, G3_ERR_FORMAT,
                              "%s: data offset %" PRIu64 " + size %" PRIu64 " overflows", wa,
                              t->offset, t->n_bytes);
        }
        if (e > g->size) {
            g3_tensor_where(wa, sizeof(wa), t);
            return g3_err_set(c->err, G3_ERR_FORMAT,
                              "%s: data [%" PRIu64 ", %" PRIu64 ") extends past end of file (%" PRIu64
                              " bytes)",
                              wa, s, e, g->size);
        }
        t->data = g->base + s;
    }

    /* Overlap: sorted by offset, each tensor must end before the next begins. */
    if (g->n_tensors > 1) {
        g3_span *sp = malloc((size_t)g->n_tensors * sizeof(*sp));
        if (!sp)
            return g3_err_set(c->err, G3_ERR_OUT_OF_MEMORY, "cannot allocate %" PRIu64 " spans",
                              g->n_tensors);
        for (uint64_t i = 0; i < g->n_tensors; i++)
            sp[i] = (g3_span){g->tensors[i].offset, i};
        qsort(sp, (size_t)g->n_tensors, sizeof(*sp), g3_span_cmp);
        for (uint64_t i = 0; i + 1 < g->n_tensors; i++) {
            const g3_gguf_tensor *a = &g->tensors[sp[i].idx], *b = &g->tensors[sp[i + 1].idx];
            if (a->offset + a->n_bytes > b->offset) {
                free(sp);
                g3_tensor_where(wa, sizeof(wa), a);
                g3_tensor_where(wb, sizeof(wb), b);
                return g3_err_set(c->err, G3_ERR_FORMAT,
                                  "%s: data [%" PRIu64 ", %" PRIu64 ") overlaps %s: data [%" PRIu64
                                  ", %" PRIu64 ")",
                                  wa, g->data_offset + a->offset,
                                  g->data_offset + a->offset + a->n_bytes, wb,
                                  g->data_offset + b->offset,
                                  g->data_offset + b->offset + b->n_bytes);
            }
        }
        free(sp);
    }
    return G3_OK;
}

static g3_status g3_parse(g3_gguf_impl *gi, g3_err *err)
{
    g3_gguf *g = &gi->pub;
    g3_cur c = {g->base, g->size, 0, err};
    g3_status st = g3_parse_header(g, &c);
    if (st != G3_OK)
        return st;
    /* g->n_kv / n_tensors count the entries parsed so far, so that close() frees
     * exactly what was allocated whatever the point of failure. */
    uint64_t n_kv = g->n_kv, n_tensors = g->n_tensors;
    g->n_kv = g->n_tensors = 0;
    if ((st = g3_parse_kvs(gi, &c, n_kv)) != G3_OK)
        return st;
    if ((st = g3_check_known_keys(g, err)) != G3_OK)
        return st;
    return g3_parse_tensors(gi, &c, n_tensors);
}

static g3_gguf_impl *g3_gguf_alloc(const char *path, g3_err *err)
{
    g3_gguf_impl *gi = calloc(1, sizeof(*gi));
    if (gi)
        gi->pub.path = malloc(strlen(path) + 1);
    if (!gi || !gi->pub.path) {
        free(gi);
        g3_err_set(err, G3_ERR_OUT_OF_MEMORY, "cannot allocate a GGUF reader");
        return NULL;
    }
    strcpy(gi->pub.path, path);
    gi->pub.alignment = G3_GGUF_DEFAULT_ALIGNMENT;
    return gi;
}

g3_status g3_gguf_open_memory(const void *buf, size_t size, g3_gguf **out, g3_err *err)
{
    if (out)
        *out = NULL;
    if (!out || (!buf && size > 0))
        return g3_err_set(err, G3_ERR_INVALID_ARG, "g3_gguf_open_memory: NULL argument");
    g3_gguf_impl *gi = g3_gguf_alloc("<memory>", err);
    if (!gi)
        return G3_ERR_OUT_OF_MEMORY;
    gi->pub.base = buf ? buf : (const uint8_t *)"";
    gi->pub.size = size;
    g3_err local = {0};
    g3_status st = g3_parse(gi, &local);
    if (st != G3_OK) {
        g3_gguf_close(&gi->pub);
        return g3_err_set(err, st, "%s", local.msg);
    }
    *out = &gi->pub;
    return G3_OK;
}

g3_status g3_gguf_open(const char *path, g3_gguf **out, g3_err *err)
{
    if (out)
        *out = NULL;
    if (!path || !out)
        return g3_err_set(err, G3_ERR_INVALID_ARG, "g3_gguf_open: NULL argument");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return g3_err_set(err, G3_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        int e = errno;
        close(fd);
        return g3_err_set(err, G3_ERR_IO, "%s: cannot stat: %s", path, strerror(e));
    }
    if (!S_ISREG(sb.st_mode)) {
        close(fd);
        return g3_err_set(err, G3_ERR_IO, "%s: not a regular file", path);
    }
    if (sb.st_size < 0 || (uint64_t)sb.st_size > (uint64_t)SIZE_MAX) {
        close(fd);
        return g3_err_set(err, G3_ERR_IO, "%s: too large to map", path);
    }
    size_t size = (size_t)sb.st_size;
    void *map = NULL;
    if (size > 0) { /* mmap of 0 bytes fails; the parser rejects empty files itself */
        map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (map == MAP_FAILED) {
            int e = errno;
            close(fd);
            return g3_err_set(err, G3_ERR_IO, "%s: cannot map %zu bytes: %s", path, size,
                              strerror(e));
        }
    }
    close(fd); /* the mapping keeps the file alive */
    g3_gguf_impl *gi = g3_gguf_alloc(path, err);
    if (!gi) {
        if (map)
            munmap(map, size);
        return G3_ERR_OUT_OF_MEMORY;
    }
    gi->pub.map = map;
    gi->pub.map_size = size;
    gi->pub.base = map ? map : (const uint8_t *)"";
    gi->pub.size = size;
    g3_err local = {0};
    g3_status st = g3_parse(gi, &local);
    if (st != G3_OK) {
        g3_gguf_close(&gi->pub);
        return g3_err_set(err, st, "%s: %s", path, local.msg);
    }
    *out = &gi->pub;
    return G3_OK;
}

void g3_gguf_close(g3_gguf *g)
{
    if (!g)
        return;
    g3_gguf_impl *gi = (g3_gguf_impl *)g;
    for (uint64_t i = 0; i < g->n_kv; i++) {
        free(g->kv[i].key);
        free(g->kv[i].str_off);
    }
    for (uint64_t i = 0; i < g->n_tensors; i++)
        free(g->tensors[i].name);
    free(g->kv);
    free(g->tensors);
    free(gi->kv_slot);
    free(gi->t_slot);
    if (g->map)
        munmap(g->map, g->map_size);
    free(g->path);
    free(gi);
}
