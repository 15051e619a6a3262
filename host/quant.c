/* quant.c: the ggml type table, fp16/bf16 conversions, exact dequantization
 * of every supported block type and dot products against fp32 vectors.
 *
 * Dequantization reproduces ggml's dequantize_row_* bit for bit: every value
 * is computed with the same float operations in the same order (for example
 * Q4_K's `(d * sc) * q - (dmin * m)`, never a fused or reassociated form).
 * Block fields are read byte by byte (little-endian, no alignment needed), so
 * tensor data may sit at any offset of a mapped file. */
#include "quant.h"

#include <math.h>
#include <string.h>

/* F32/F16/BF16 rows are copied with memcpy, which assumes the file's byte order. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "g3vk reads little-endian GGUF data with native loads: big-endian hosts are not supported"
#endif

/* ---------------------------------------------------------------- type table */

/* Holes (4, 5: removed Q4_2/Q4_3; 31..33: removed Q4_0_4_4/4_8/8_8;
 * 36..38: removed IQ4_NL_4_4/4_8/8_8) stay zero: name NULL, unsupported. */
static const g3_type_info g3_types[G3_TYPE_COUNT] = {
    [0] = {"f32", 1, 4, true},
    [1] = {"f16", 1, 2, true},
    [2] = {"q4_0", 32, 18, true},
    [3] = {"q4_1", 32, 20, true},
    [6] = {"q5_0", 32, 22, true},
    [7] = {"q5_1", 32, 24, true},
    [8] = {"q8_0", 32, 34, true},
    [9] = {"q8_1", 32, 36, false},
    [10] = {"q2_K", 256, 84, true},
    [11] = {"q3_K", 256, 110, true},
    [12] = {"q4_K", 256, 144, true},
    [13] = {"q5_K", 256, 176, true},
    [14] = {"q6_K", 256, 210, true},
    [15] = {"q8_K", 256, 292, false},
    [16] = {"iq2_xxs", 256, 66, false},
    [17] = {"iq2_xs", 256, 74, false},
    [18] = {"iq3_xxs", 256, 98, false},
    [19] = {"iq1_s", 256, 50, false},
    [20] = {"iq4_nl", 32, 18, true},
    [21] = {"iq3_s", 256, 110, false},
    [22] = {"iq2_s", 256, 82, false},
    [23] = {"iq4_xs", 256, 136, true},
    [24] = {"i8", 1, 1, false},
    [25] = {"i16", 1, 2, false},
    [26] = {"i32", 1, 4, false},
    [27] = {"i64", 1, 8, false},
    [28] = {"f64", 1, 8, false},
    [29] = {"iq1_m", 256, 56, false},
    [30] = {"bf16", 1, 2, true},
    [34] = {"tq1_0", 256, 54, false},
    [35] = {"tq2_0", 256, 66, false},
    [39] = {"mxfp4", 32, 17, false},
};

static const g3_type_info g3_type_unknown = {NULL, 0, 0, false};

const g3_type_info *g3_type_get(uint32_t type)
{
    if (type >= G3_TYPE_COUNT || !g3_types[type].name)
        return &g3_type_unknown;
    return &g3_types[type];
}

/* Names for unknown ids are compile-time constants, so g3_type_name needs no
 * buffer and is thread-safe. */
#define G3_TN10(t)                                                                     \
    "type#" #t "0", "type#" #t "1", "type#" #t "2", "type#" #t "3", "type#" #t "4",    \
        "type#" #t "5", "type#" #t "6", "type#" #t "7", "type#" #t "8", "type#" #t "9"
static const char *const g3_unknown_names[] = {
    "type#0", "type#1", "type#2", "type#3", "type#4", "type#5", "type#6", "type#7",
    "type#8", "type#9", G3_TN10(1), G3_TN10(2), G3_TN10(3), G3_TN10(4), G3_TN10(5),
    G3_TN10(6),
};
#undef G3_TN10

const char *g3_type_name(uint32_t type)
{
    const g3_type_info *ti = g3_type_get(type);
    if (ti->name)
        return ti->name;
    if (type < G3_ARRAY_LEN(g3_unknown_names))
        return g3_unknown_names[type];
    return "unknown type";
}

static int g3_lower(int c)
{
    return (c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c;
}

int g3_type_from_name(const char *name)
{
    if (!name)
        return -1;
    for (uint32_t t = 0; t < G3_TYPE_COUNT; t++) {
        const char *a = g3_types[t].name;
        if (!a)
            continue;
        size_t i = 0;
        while (a[i] && name[i] && g3_lower((unsigned char)a[i]) == g3_lower((unsigned char)name[i]))
            i++;
        if (!a[i] && !name[i])
            return (int)t;
    }
    return -1;
}

bool g3_type_row_bytes(uint32_t type, uint64_t n, uint64_t *bytes)
{
    const g3_type_info *ti = g3_type_get(type);
    if (ti->block_size == 0 || n % ti->block_size != 0)
        return false;
    return g3_mul_u64(n / ti->block_size, ti->type_size, bytes);
}

/* ---------------------------------------------------------------- fp16 / bf16 */

static inline float g3_bits_f32(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof(f));
    return f;
}

static inline uint32_t g3_f32_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof(u));
    return u;
}

/* Branch-free so that the F16 dot loop vectorizes. Placing the 15 exponent and
 * mantissa bits at bit 13 gives a float whose value is the half's times 2^-112
 * (subnormal halves become subnormal floats, still exact), so one exact
 * multiplication rebiases. For inf/NaN that product keeps the mantissa and
 * has exponent 143: OR-ing in the all-ones exponent finishes them. */
static inline float g3_h2f(uint16_t h)
{
    uint32_t v = (uint32_t)(h & 0x7fff) << 13;
    uint32_t r = g3_f32_bits(g3_bits_f32(v) * 0x1p112f);
    uint32_t special = 0u - (uint32_t)((h & 0x7c00) == 0x7c00);
    return g3_bits_f32(r | (special & 0x7f800000u) | ((uint32_t)(h & 0x8000) << 16));
}

float g3_fp16_to_f32(uint16_t h)
{
    return g3_h2f(h);
}

uint16_t g3_f32_to_fp16(float f)
{
    uint32_t x = g3_f32_bits(f);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000);
    uint32_t ax = x & 0x7fffffffu;
    if (ax > 0x7f800000u) /* NaN: quiet, top payload bits kept (as F16C does) */
        return (uint16_t)(sign | 0x7e00 | ((ax >> 13) & 0x3ff));
    if (ax >= 0x477ff000u) /* >= 65520 rounds (ties to even) past 65504: inf */
        return (uint16_t)(sign | 0x7c00);
    if (ax >= 0x38800000u) { /* >= 2^-14: normal half; a mantissa carry bumps the exponent */
        uint32_t r = ax - 0x38000000u;
        r += 0xfffu + ((r >> 13) & 1);
        return (uint16_t)(sign | (r >> 13));
    }
    if (ax <= 0x33000000u) /* <= 2^-25: ties to even gives 0 */
        return sign;
    /* Subnormal half: round(|f| * 2^24) to nearest even; 1024 is the smallest normal. */
    uint32_t m = (ax & 0x7fffffu) | 0x800000u;
    uint32_t shift = 126 - (ax >> 23); /* 14..24 */
    uint32_t q = m >> shift, rem = m & ((1u << shift) - 1), half = 1u << (shift - 1);
    if (rem > half || (rem == half && (q & 1)))
        q++;
    return (uint16_t)(sign | q);
}

static inline float g3_b2f(uint16_t h)
{
    return g3_bits_f32((uint32_t)h << 16);
}

float g3_bf16_to_f32(uint16_t h)
{
    return g3_b2f(h);
}

/* As ggml_compute_fp32_to_bf16: NaN keeps its top bits with the quiet bit
 * forced, everything else (subnormals included) rounds to nearest even. */
uint16_t g3_f32_to_bf16(float f)
{
    uint32_t u = g3_f32_bits(f);
    if ((u & 0x7fffffffu) > 0x7f800000u)
        return (uint16_t)((u >> 16) | 64);
    return (uint16_t)((u + (0x7fffu + ((u >> 16) & 1))) >> 16);
}

/* ---------------------------------------------------------------- block decoders */

static inline uint16_t g3_rd16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}

static inline float g3_rdh(const uint8_t *p)
{
    return g3_h2f(g3_rd16(p));
}

static const int8_t g3_iq4nl_values[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                           1,    13,   25,  38,  53,  69,  89,  113};

/* Each decoder writes one block of floats with ggml's exact expression. */

static void g3_deq_q4_0(const uint8_t *b, float *y)
{
    const float d = g3_rdh(b);
    const uint8_t *qs = b + 2;
    for (int j = 0; j < 16; j++) {
        y[j] = (float)((qs[j] & 0x0f) - 8) * d;
        y[j + 16] = (float)((qs[j] >> 4) - 8) * d;
    }
}

static void g3_deq_q4_1(const uint8_t *b, float *y)
{
    const float d = g3_rdh(b), m = g3_rdh(b + 2);
    const uint8_t *qs = b + 4;
    for (int j = 0; j < 16; j++) {
        y[j] = (float)(qs[j] & 0x0f) * d + m;
        y[j + 16] = (float)(qs[j] >> 4) * d + m;
    }
}

/* Q5_0/Q5_1 qh: bit j of the little-endian u32 is the 5th bit of element j. */
static inline uint32_t g3_rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
           ((uint32_t)p[3] << 24);
}

static void g3_deq_q5_0(const uint8_t *b, float *y)
{
    const float d = g3_rdh(b);
    const uint32_t qh = g3_rd32(b + 2);
    const uint8_t *qs = b + 6;
    for (int j = 0; j < 16; j++) {
        int x0 = (int)((qs[j] & 0x0f) | (((qh >> j) & 1) << 4)) - 16;
        int x1 = (int)((qs[j] >> 4) | (((qh >> (j + 16)) & 1) << 4)) - 16;
        y[j] = (float)x0 * d;
        y[j + 16] = (float)x1 * d;
    }
}

static void g3_deq_q5_1(const uint8_t *b, float *y)
{
    const float d = g3_rdh(b), m = g3_rdh(b + 2);
    const uint32_t qh = g3_rd32(b + 4);
    const uint8_t *qs = b + 8;
    for (int j = 0; j < 16; j++) {
        int x0 = (int)((qs[j] & 0x0f) | (((qh >> j) & 1) << 4));
        int x1 = (int)((qs[j] >> 4) | (((qh >> (j + 16)) & 1) << 4));
        y[j] = (float)x0 * d + m;
        y[j + 16] = (float)x1 * d + m;
    }
}

static void g3_deq_q8_0(const uint8_t *b, float *y)
{
    const float d = g3_rdh(b);
    const int8_t *qs = (const int8_t *)(b + 2);
    for (int j = 0; j < 32; j++)
        y[j] = (float)qs[j] * d;
}

static void g3_deq_iq4_nl(const uint8_t *b, float *y)
{
    const float d = g3_rdh(b);
    const uint8_t *qs = b + 2;
    for (int j = 0; j < 16; j++) {
        y[j] = d * (float)g3_iq4nl_values[qs[j] & 0x0f];
        y[j + 16] = d * (float)g3_iq4nl_values[qs[j] >> 4];
    }
}

/* Q2_K: scales[16] (low nibble scale, high nibble min), qs[64], d, dmin.
 * Each 128 half uses 32 bytes of qs four times (shift 0, 2, 4, 6); each shift
 * covers two 16-groups: bytes 0..15 and 16..31. */
static void g3_deq_q2_K(const uint8_t *b, float *y)
{
    const uint8_t *sc = b, *q = b + 16;
    const float d = g3_rdh(b + 80), dmin = g3_rdh(b + 82);
    int is = 0;
    for (int n = 0; n < 256; n += 128) {
        for (int shift = 0; shift < 8; shift += 2) {
            for (int half = 0; half < 2; half++) {
                const uint8_t s = sc[is++];
                const float dl = d * (float)(s & 0x0f), ml = dmin * (float)(s >> 4);
                const uint8_t *qq = q + 16 * half;
                for (int l = 0; l < 16; l++)
                    *y++ = dl * (float)((qq[l] >> shift) & 3) - ml;
            }
        }
        q += 32;
    }
}

/* Q3_K: hmask[32], qs[64], scales[12], d. Scale i (6 bits, biased by 32) has
 * its low 4 bits in nibble (i & 7) of scales[0..7] (low nibbles for i < 8, high
 * nibbles for i >= 8) and its top 2 bits at bit 2*(i/4) of scales[8 + i%4].
 * A value's 3rd bit is set in hmask when the value is NOT reduced by 4. */
static void g3_deq_q3_K(const uint8_t *b, float *y)
{
    const uint8_t *hm = b, *q = b + 32, *sc = b + 96;
    const float d_all = g3_rdh(b + 108);
    int8_t scales[16];
    for (int i = 0; i < 16; i++) {
        int lo = i < 8 ? (sc[i] & 0x0f) : (sc[i - 8] >> 4);
        int hi = (sc[8 + (i & 3)] >> (2 * (i / 4))) & 3;
        scales[i] = (int8_t)((lo | (hi << 4)) - 32);
    }
    int is = 0;
    uint8_t m = 1;
    for (int n = 0; n < 256; n += 128) {
        for (int shift = 0; shift < 8; shift += 2) {
            for (int half = 0; half < 2; half++) {
                const float dl = d_all * (float)scales[is++];
                const uint8_t *qq = q + 16 * half, *hh = hm + 16 * half;
                for (int l = 0; l < 16; l++) {
                    int v = ((qq[l] >> shift) & 3) - ((hh[l] & m) ? 0 : 4);
                    *y++ = dl * (float)v;
                }
            }
            m = (uint8_t)(m << 1);
        }
        q += 32;
    }
}

/* The 12-byte packing of eight 6-bit scales and mins shared by Q4_K and Q5_K
 * (ggml's get_scale_min_k4): entries 0..3 are the low 6 bits of bytes 0..3
 * (scales) and 4..7 (mins); entries 4..7 take their low nibbles from bytes
 * 8..11 (scale low, min high) and their top 2 bits from the top of bytes 0..7. */
static inline void g3_scale_min_k4(int j, const uint8_t *q, int *sc, int *mn)
{
    if (j < 4) {
        *sc = q[j] & 63;
        *mn = q[j + 4] & 63;
    } else {
        *sc = (q[j + 4] & 0x0f) | ((q[j - 4] >> 6) << 4);
        *mn = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
    }
}

/* Q4_K: d, dmin, scales[12], qs[128]; each 32 bytes of qs hold two 32-groups
 * (low nibbles, then high nibbles). */
static void g3_deq_q4_K(const uint8_t *b, float *y)
{
    const float d = g3_rdh(b), dmin = g3_rdh(b + 2);
    const uint8_t *scales = b + 4, *q = b + 16;
    for (int j = 0; j < 8; j += 2) {
        int sc, mn;
        g3_scale_min_k4(j, scales, &sc, &mn);
        const float d1 = d * (float)sc, m1 = dmin * (float)mn;
        g3_scale_min_k4(j + 1, scales, &sc, &mn);
        const float d2 = d * (float)sc, m2 = dmin * (float)mn;
        for (int l = 0; l < 32; l++)
            *y++ = d1 * (float)(q[l] & 0x0f) - m1;
        for (int l = 0; l < 32; l++)
            *y++ = d2 * (float)(q[l] >> 4) - m2;
        q += 32;
    }
}

/* Q5_K: as Q4_K plus qh[32]; group g's 5th bit is bit g of qh[l]. */
static void g3_deq_q5_K(const uint8_t *b, float *y)
{
    const float d = g3_rdh(b), dmin = g3_rdh(b + 2);
    const uint8_t *scales = b + 4, *qh = b + 16, *ql = b + 48;
    for (int j = 0; j < 8; j += 2) {
        int sc, mn;
        g3_scale_min_k4(j, scales, &sc, &mn);
        const float d1 = d * (float)sc, m1 = dmin * (float)mn;
        g3_scale_min_k4(j + 1, scales, &sc, &mn);
        const float d2 = d * (float)sc, m2 = dmin * (float)mn;
        for (int l = 0; l < 32; l++)
            *y++ = d1 * (float)((ql[l] & 0x0f) + (((qh[l] >> j) & 1) << 4)) - m1;
        for (int l = 0; l < 32; l++)
            *y++ = d2 * (float)((ql[l] >> 4) + (((qh[l] >> (j + 1)) & 1) << 4)) - m2;
        ql += 32;
    }
}

/* Q6_K: ql[128], qh[64], int8 scales[16], d. In each 128 half, l = 0..31 of
 * ql[0..31] / ql[32..63] low nibbles give elements l and l+32, high nibbles
 * elements l+64 and l+96; qh[l] bit pairs 0,2,4,6 give their top 2 bits.
 * Values are (d * sc) * (q - 32), one scale per 16 elements. */
static void g3_deq_q6_K(const uint8_t *b, float *y)
{
    const uint8_t *ql = b, *qh = b + 128;
    const int8_t *sc = (const int8_t *)(b + 192);
    const float d = g3_rdh(b + 208);
    for (int n = 0; n < 2; n++) {
        for (int l = 0; l < 32; l++) {
            int is = l / 16;
            int q1 = ((ql[l] & 0x0f) | (((qh[l] >> 0) & 3) << 4)) - 32;
            int q2 = ((ql[l + 32] & 0x0f) | (((qh[l] >> 2) & 3) << 4)) - 32;
            int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
            int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
            y[l] = d * (float)sc[is] * (float)q1;
            y[l + 32] = d * (float)sc[is + 2] * (float)q2;
            y[l + 64] = d * (float)sc[is + 4] * (float)q3;
            y[l + 96] = d * (float)sc[is + 6] * (float)q4;
        }
        y += 128;
        ql += 64;
        qh += 32;
        sc += 8;
    }
}

/* IQ4_XS: d, u16 scales_h, scales_l[4], qs[128]; 32-group g's 6-bit scale is
 * nibble g of scales_l with bits 2g..2g+1 of scales_h on top, biased by 32. */
static void g3_deq_iq4_xs(const uint8_t *b, float *y)
{
    const float d = g3_rdh(b);
    const uint16_t sh = g3_rd16(b + 2);
    const uint8_t *sl = b + 4, *qs = b + 8;
    for (int ib = 0; ib < 8; ib++) {
        int ls = ((sl[ib / 2] >> (4 * (ib % 2))) & 0x0f) | (((sh >> (2 * ib)) & 3) << 4);
        const float dl = d * (float)(ls - 32);
        for (int j = 0; j < 16; j++) {
            y[j] = dl * (float)g3_iq4nl_values[qs[j] & 0x0f];
            y[j + 16] = dl * (float)g3_iq4nl_values[qs[j] >> 4];
        }
        y += 32;
        qs += 16;
    }
}

typedef void (*g3_deq_block_fn)(const uint8_t *blk, float *y);

static g3_deq_block_fn g3_block_decoder(uint32_t type)
{
    switch (type) {
    case G3_TYPE_Q4_0: return g3_deq_q4_0;
    case G3_TYPE_Q4_1: return g3_deq_q4_1;
    case G3_TYPE_Q5_0: return g3_deq_q5_0;
    case G3_TYPE_Q5_1: return g3_deq_q5_1;
    case G3_TYPE_Q8_0: return g3_deq_q8_0;
    case G3_TYPE_IQ4_NL: return g3_deq_iq4_nl;
    case G3_TYPE_Q2_K: return g3_deq_q2_K;
    case G3_TYPE_Q3_K: return g3_deq_q3_K;
    case G3_TYPE_Q4_K: return g3_deq_q4_K;
    case G3_TYPE_Q5_K: return g3_deq_q5_K;
    case G3_TYPE_Q6_K: return g3_deq_q6_K;
    case G3_TYPE_IQ4_XS: return g3_deq_iq4_xs;
    default: return NULL;
    }
}

void g3_dequantize_row(uint32_t type, const void *src, float *dst, int64_t n)
{
    const uint8_t *s = src;
    switch (type) {
    case G3_TYPE_F32:
        memcpy(dst, src, (size_t)n * sizeof(float));
        return;
    case G3_TYPE_F16:
        for (int64_t i = 0; i < n; i++)
            dst[i] = g3_h2f(g3_rd16(s + 2 * i));
        return;
    case G3_TYPE_BF16:
        for (int64_t i = 0; i < n; i++)
            dst[i] = g3_b2f(g3_rd16(s + 2 * i));
        return;
    default:
        break;
    }
    const g3_type_info *ti = g3_type_get(type);
    g3_deq_block_fn fn = g3_block_decoder(type);
    G3_ASSERT(ti->supported && fn && n % ti->block_size == 0);
    for (int64_t i = 0; i < n / ti->block_size; i++)
        fn(s + (size_t)i * ti->type_size, dst + i * ti->block_size);
}

/* ---------------------------------------------------------------- dot products */

/* The exact-reference contract is "dot(dequant(row), x) to rounding, summed in
 * double". Each 32 values are summed in float with 8 independent lanes (a fixed
 * order, so the compiler vectorizes it without -ffast-math) and every partial
 * goes into a double: the error stays ~1e-8 of sum |w_i * x_i| (measured on
 * llama.cpp's vectors), at float-loop speed. Products summed in double would
 * be exact but cost ~3x on the Q8_0 LM head. */
#define G3_LANES 8

/* The hot dot products get an AVX2 clone picked at load time (ifunc) on x86-64:
 * the baseline x86-64 has no vector int8 -> float conversion, which makes the
 * Q8_0 LM head 2-3x slower. The clones compute the same lanes in the same order
 * (no FMA contraction in ISO C mode), so every clone gives identical bits. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && defined(__ELF__)
#define G3_HOT __attribute__((target_clones("avx2", "default")))
#else
#define G3_HOT
#endif

static inline float g3_lanes_sum(const float *acc)
{
    return ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
}

#if defined(__GNUC__)
/* GCC/Clang vector extensions: the 8 lanes as one value, so the loop becomes
 * SIMD at any -march (the plain loop below was left scalar by GCC 12). The
 * arithmetic per lane is the same as the plain loop's, so the bits are too. */
typedef float g3_v8f __attribute__((vector_size(32)));

static inline float g3_dot32(const float *a, const float *x)
{
    g3_v8f acc = {0}, va, vx;
    for (int i = 0; i < 32; i += G3_LANES) {
        memcpy(&va, a + i, sizeof(va));
        memcpy(&vx, x + i, sizeof(vx));
        acc += va * vx;
    }
    float lanes[G3_LANES];
    memcpy(lanes, &acc, sizeof(lanes));
    return g3_lanes_sum(lanes);
}
#else
static inline float g3_dot32(const float *a, const float *x)
{
    float acc[G3_LANES] = {0};
    for (int i = 0; i < 32; i += G3_LANES)
        for (int k = 0; k < G3_LANES; k++)
            acc[k] += a[i + k] * x[i + k];
    return g3_lanes_sum(acc);
}
#endif

/* Copies through a stack buffer: the row may sit at any byte offset. */
static double g3_dot_f32(const uint8_t *row, const float *x, int64_t n)
{
    double sum = 0.0;
    float w[32];
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        memcpy(w, row + 4 * i, sizeof(w));
        sum += (double)g3_dot32(w, x + i);
    }
    for (; i < n; i++) {
        memcpy(w, row + 4 * i, sizeof(float));
        sum += (double)w[0] * (double)x[i];
    }
    return sum;
}

/* F16/BF16: convert 32 values at a time (the conversions are branch-free and
 * vectorize), then the common float dot. */
static double g3_dot_half(const uint8_t *row, const float *x, int64_t n, bool bf16)
{
    double sum = 0.0;
    float tmp[32];
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        uint16_t h[32];
        memcpy(h, row + 2 * i, sizeof(h)); /* little-endian host: checked at the top */
        if (bf16) {
            for (int k = 0; k < 32; k++)
                tmp[k] = g3_b2f(h[k]);
        } else {
            for (int k = 0; k < 32; k++)
                tmp[k] = g3_h2f(h[k]);
        }
        sum += (double)g3_dot32(tmp, x + i);
    }
    for (; i < n; i++) {
        uint16_t h = g3_rd16(row + 2 * i);
        sum += (double)(bf16 ? g3_b2f(h) : g3_h2f(h)) * (double)x[i];
    }
    return sum;
}

/* Q8_0 is the LM head: sum q*x in float per block, scale once by d. */
static double g3_dot_q8_0(const uint8_t *row, const float *x, int64_t n)
{
    double sum = 0.0;
    for (int64_t ib = 0; ib < n / 32; ib++, row += 34, x += 32) {
        const int8_t *q = (const int8_t *)(row + 2);
        float qf[32];
        for (int j = 0; j < 32; j++)
            qf[j] = (float)q[j];
        sum += (double)g3_rdh(row) * (double)g3_dot32(qf, x);
    }
    return sum;
}

static double g3_dot_q4_0(const uint8_t *row, const float *x, int64_t n)
{
    double sum = 0.0;
    for (int64_t ib = 0; ib < n / 32; ib++, row += 18, x += 32) {
        const uint8_t *qs = row + 2;
        float q[32];
        for (int j = 0; j < 16; j++) {
            q[j] = (float)((qs[j] & 0x0f) - 8);
            q[j + 16] = (float)((qs[j] >> 4) - 8);
        }
        sum += (double)g3_rdh(row) * (double)g3_dot32(q, x);
    }
    return sum;
}

G3_HOT double g3_dot_row(uint32_t type, const void *row, const float *x, int64_t n)
{
    switch (type) {
    case G3_TYPE_F32: return g3_dot_f32(row, x, n);
    case G3_TYPE_F16: return g3_dot_half(row, x, n, false);
    case G3_TYPE_BF16: return g3_dot_half(row, x, n, true);
    case G3_TYPE_Q8_0: return g3_dot_q8_0(row, x, n);
    case G3_TYPE_Q4_0: return g3_dot_q4_0(row, x, n);
    default: break;
    }
    const g3_type_info *ti = g3_type_get(type);
    g3_deq_block_fn fn = g3_block_decoder(type);
    G3_ASSERT(ti->supported && fn && n % ti->block_size == 0 && ti->block_size <= 256);
    const uint8_t *b = row;
    double sum = 0.0;
    float tmp[256];
    for (int64_t ib = 0; ib < n / ti->block_size; ib++) {
        fn(b + (size_t)ib * ti->type_size, tmp);
        const float *xb = x + ib * ti->block_size;
        for (uint32_t i = 0; i < ti->block_size; i += 32)
            sum += (double)g3_dot32(tmp + i, xb + i);
    }
    return sum;
}
