/* gguf_get.c: typed getters over a parsed GGUF file (gguf.h). Known keys are
 * type-checked here, when the model asks for them: a wrong type is an error
 * naming the key, its byte offset, the expected and the found type. */
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <string.h>

#include "gguf_private.h"


#define G3_BIT(t) (1u << (t))
#define G3_INT_TYPES                                                                       \
    (G3_BIT(G3_GGUF_U8) | G3_BIT(G3_GGUF_I8) | G3_BIT(G3_GGUF_U16) | G3_BIT(G3_GGUF_I16) |  \
     G3_BIT(G3_GGUF_U32) | G3_BIT(G3_GGUF_I32) | G3_BIT(G3_GGUF_U64) | G3_BIT(G3_GGUF_I64))
#define G3_FLOAT_TYPES (G3_BIT(G3_GGUF_F32) | G3_BIT(G3_GGUF_F64))

/* An integer element: *neg with *s for negative values, else *u. */
static void g3_load_int(uint32_t t, const uint8_t *p, bool *neg, uint64_t *u, int64_t *s)
{
    int64_t sv = 0;
    uint64_t uv = 0;
    switch (t) {
    case G3_GGUF_U8: uv = p[0]; break;
    case G3_GGUF_U16: uv = (uint64_t)p[0] | (uint64_t)p[1] << 8; break;
    case G3_GGUF_U32: uv = g3_ld_u32(p); break;
    case G3_GGUF_U64: uv = g3_ld_u64(p); break;
    case G3_GGUF_I8: sv = (int8_t)p[0]; break;
    case G3_GGUF_I16: sv = (int16_t)(uint16_t)((unsigned)p[0] | (unsigned)p[1] << 8); break;
    case G3_GGUF_I32: sv = (int32_t)g3_ld_u32(p); break;
    default: sv = (int64_t)g3_ld_u64(p); break; /* I64 */
    }
    *neg = sv < 0;
    *s = sv;
    *u = sv > 0 ? (uint64_t)sv : uv;
}

static double g3_load_float(uint32_t t, const uint8_t *p)
{
    if (t == G3_GGUF_F32) {
        uint32_t b = g3_ld_u32(p);
        float f;
        memcpy(&f, &b, 4);
        return f;
    }
    uint64_t b = g3_ld_u64(p);
    double d;
    memcpy(&d, &b, 8);
    return d;
}

g3_status g3_wrong_type(const g3_gguf_kv *kv, const char *expected, g3_err *err)
{
    char where[256];
    g3_kv_where(where, sizeof(where), kv);
    return g3_err_set(err, G3_ERR_FORMAT, "%s: expected %s, found %s%s%s", where, expected,
                      g3_gguf_vtype_name(kv->type), kv->type == G3_GGUF_ARRAY ? " of " : "",
                      kv->type == G3_GGUF_ARRAY ? g3_gguf_vtype_name(kv->arr_type) : "");
}

/* Looks a key up and checks its type against a mask of accepted types (and,
 * for arrays, the element type). *kv is set only for an acceptable value;
 * *found is false for an absent key or an error. */
static g3_status g3_get(const g3_gguf *g, const char *key, uint32_t types, int32_t arr_type,
                        const char *want, const g3_gguf_kv **kv, bool *found, g3_err *err)
{
    const g3_gguf_kv *k = g3_gguf_find_kv(g, key);
    *kv = NULL;
    if (found)
        *found = false;
    if (!k)
        return G3_OK;
    if (!(types & G3_BIT(k->type)) || (arr_type >= 0 && k->arr_type != (uint32_t)arr_type))
        return g3_wrong_type(k, want, err);
    *kv = k;
    return G3_OK;
}

static g3_status g3_range_err(const g3_gguf_kv *kv, const char *num, const char *tname,
                              g3_err *err)
{
    char where[256];
    g3_kv_where(where, sizeof(where), kv);
    return g3_err_set(err, G3_ERR_FORMAT, "%s: value %s does not fit in %s", where, num, tname);
}

/* An integer key whose value must lie in [lo, hi], returned as int64 or u64. */
static g3_status g3_get_int(const g3_gguf *g, const char *key, const char *tname, int64_t lo,
                            uint64_t hi, uint64_t *u, int64_t *v, bool *found, g3_err *err)
{
    const g3_gguf_kv *kv;
    bool neg;
    g3_status st = g3_get(g, key, G3_INT_TYPES, -1, tname, &kv, found, err);
    if (!kv)
        return st;
    g3_load_int(kv->type, kv->val, &neg, u, v);
    char num[32];
    if (neg && *v < lo) {
        snprintf(num, sizeof(num), "%" PRId64, *v);
        return g3_range_err(kv, num, tname, err);
    }
    if (!neg && *u > hi) {
        snprintf(num, sizeof(num), "%" PRIu64, *u);
        return g3_range_err(kv, num, tname, err);
    }
    if (!neg)
        *v = (int64_t)G3_MIN(*u, (uint64_t)INT64_MAX);
    if (found)
        *found = true;
    return G3_OK;
}

g3_status g3_gguf_get_u32(const g3_gguf *g, const char *key, uint32_t *out, bool *found,
                          g3_err *err)
{
    uint64_t u;
    int64_t v;
    bool f;
    g3_status st = g3_get_int(g, key, "u32", 0, UINT32_MAX, &u, &v, &f, err);
    if (f)
        *out = (uint32_t)u;
    if (found)
        *found = f;
    return st;
}

g3_status g3_gguf_get_u64(const g3_gguf *g, const char *key, uint64_t *out, bool *found,
                          g3_err *err)
{
    uint64_t u;
    int64_t v;
    bool f;
    g3_status st = g3_get_int(g, key, "u64", 0, UINT64_MAX, &u, &v, &f, err);
    if (f)
        *out = u;
    if (found)
        *found = f;
    return st;
}

g3_status g3_gguf_get_i64(const g3_gguf *g, const char *key, int64_t *out, bool *found,
                          g3_err *err)
{
    uint64_t u;
    int64_t v;
    bool f;
    g3_status st = g3_get_int(g, key, "i64", INT64_MIN, INT64_MAX, &u, &v, &f, err);
    if (f)
        *out = v;
    if (found)
        *found = f;
    return st;
}

g3_status g3_gguf_get_f64(const g3_gguf *g, const char *key, double *out, bool *found,
                          g3_err *err)
{
    const g3_gguf_kv *kv;
    g3_status st = g3_get(g, key, G3_FLOAT_TYPES, -1, "f32 or f64", &kv, found, err);
    if (kv) {
        *out = g3_load_float(kv->type, kv->val);
        if (found)
            *found = true;
    }
    return st;
}

g3_status g3_gguf_get_f32(const g3_gguf *g, const char *key, float *out, bool *found,
                          g3_err *err)
{
    const g3_gguf_kv *kv;
    g3_status st = g3_get(g, key, G3_FLOAT_TYPES, -1, "f32", &kv, found, err);
    if (!kv)
        return st;
    double d = g3_load_float(kv->type, kv->val);
    /* Converting an out-of-range finite double to float is UB. */
    if (isfinite(d) && fabs(d) > FLT_MAX) {
        char num[32];
        snprintf(num, sizeof(num), "%g", d);
        return g3_range_err(kv, num, "f32", err);
    }
    *out = (float)d;
    if (found)
        *found = true;
    return G3_OK;
}

g3_status g3_gguf_get_bool(const g3_gguf *g, const char *key, bool *out, bool *found,
                           g3_err *err)
{
    const g3_gguf_kv *kv;
    g3_status st = g3_get(g, key, G3_BIT(G3_GGUF_BOOL), -1, "bool", &kv, found, err);
    if (kv) {
        *out = kv->val[0] != 0;
        if (found)
            *found = true;
    }
    return st;
}

g3_status g3_gguf_get_str(const g3_gguf *g, const char *key, const char **out, uint64_t *len,
                          bool *found, g3_err *err)
{
    const g3_gguf_kv *kv;
    g3_status st = g3_get(g, key, G3_BIT(G3_GGUF_STRING), -1, "string", &kv, found, err);
    if (kv) {
        *len = g3_ld_u64(kv->val);
        *out = (const char *)kv->val + 8;
        if (found)
            *found = true;
    }
    return st;
}

g3_status g3_gguf_get_arr(const g3_gguf *g, const char *key, uint32_t elem_type,
                          const g3_gguf_kv **out, bool *found, g3_err *err)
{
    const g3_gguf_kv *kv;
    char want[32];
    snprintf(want, sizeof(want), "array of %s", g3_gguf_vtype_name(elem_type));
    /* An element type that is no GGUF type matches no array. */
    int32_t et = elem_type < G3_GGUF_VTYPE_COUNT ? (int32_t)elem_type : INT32_MAX;
    g3_status st = g3_get(g, key, G3_BIT(G3_GGUF_ARRAY), et, want, &kv, found, err);
    if (kv) {
        *out = kv;
        if (found)
            *found = true;
    }
    return st;
}

const char *g3_gguf_arr_str(const g3_gguf_kv *kv, uint64_t i, uint64_t *len)
{
    if (!kv || kv->type != G3_GGUF_ARRAY || kv->arr_type != G3_GGUF_STRING || i >= kv->n ||
        !kv->str_off) {
        if (len)
            *len = 0;
        return NULL;
    }
    const uint8_t *p = kv->val + kv->str_off[i];
    if (len)
        *len = g3_ld_u64(p);
    return (const char *)p + 8;
}

/* Pointer to fixed-size element i, or NULL for strings, arrays or i out of range. */
static const uint8_t *g3_arr_elem(const g3_gguf_kv *kv, uint64_t i)
{
    if (!kv || kv->type != G3_GGUF_ARRAY || i >= kv->n || kv->arr_type >= G3_GGUF_VTYPE_COUNT ||
        g3_vsize[kv->arr_type] == 0)
        return NULL;
    return kv->val + i * g3_vsize[kv->arr_type];
}

float g3_gguf_arr_f32(const g3_gguf_kv *kv, uint64_t i)
{
    const uint8_t *p = g3_arr_elem(kv, i);
    if (!p)
        return 0.0f;
    if ((G3_FLOAT_TYPES & G3_BIT(kv->arr_type))) {
        double d = g3_load_float(kv->arr_type, p);
        if (isfinite(d) && fabs(d) > FLT_MAX)
            return d > 0 ? HUGE_VALF : -HUGE_VALF;
        return (float)d;
    }
    if (kv->arr_type == G3_GGUF_BOOL)
        return p[0] ? 1.0f : 0.0f;
    bool neg;
    uint64_t u;
    int64_t s;
    g3_load_int(kv->arr_type, p, &neg, &u, &s);
    return neg ? (float)s : (float)u;
}

/* Integers out of the int32 range saturate, as do floats (whose out-of-range
 * conversion would be UB); NaN reads as 0. */
int32_t g3_gguf_arr_i32(const g3_gguf_kv *kv, uint64_t i)
{
    const uint8_t *p = g3_arr_elem(kv, i);
    if (!p)
        return 0;
    if ((G3_FLOAT_TYPES & G3_BIT(kv->arr_type))) {
        double d = g3_load_float(kv->arr_type, p);
        return isnan(d) ? 0 : d >= 2147483647.0 ? INT32_MAX
                          : d <= -2147483648.0  ? INT32_MIN : (int32_t)d;
    }
    if (kv->arr_type == G3_GGUF_BOOL)
        return p[0] ? 1 : 0;
    bool neg;
    uint64_t u;
    int64_t s;
    g3_load_int(kv->arr_type, p, &neg, &u, &s);
    if (neg)
        return s < INT32_MIN ? INT32_MIN : (int32_t)s;
    return u > INT32_MAX ? INT32_MAX : (int32_t)u;
}
