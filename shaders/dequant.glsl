// dequant.glsl: GGUF block decoding for matvec.comp, one section per weight type
// (selected by a -D W_<TYPE>=1 define), on weights bound as a plain uint[] W.
//
// No 8/16-bit storage or arithmetic is needed: fields are pulled out of 32-bit words
// with shifts, halves with unpackHalf2x16. Blocks of 18/22/34/110/210 bytes start at
// 2 mod 4 every other block, so a 32-bit field may straddle two words: mv_w32 joins
// them (the weight buffer has G3_MATVEC_PAD_BYTES of slack after the last row, so
// reading the next word is always inside the binding).
//
// A row is cut into blocks (MV_BV values in MV_BB bytes; the float types use blocks
// of 32 values), a block into MV_UPB "units": what one invocation decodes per step.
// Each section defines
//   MV_U    values per unit (a multiple of 4), in MV_U/4 runs of 4 adjacent columns
//   MV_RS   column distance between runs
//   mv_cb(k)              column of unit k's first value inside its block
//   mv_deq_at(bo, k, w)   unit k's values, bo = byte offset of the block in W
// and, from those, for any row:
//   mv_units(n_cols)      units per row (float types: the last may be partial)
//   mv_c0(u)              column of unit u's first value
//   mv_deq(rb, u, w)      unit u's values, rb = byte offset of the row in W
// A caller that walks a block's units with constant k lets the compiler load each
// word of the block once (the unit decoders index words from the block's start).
// Values are computed with the same float operations, in the same order, as
// host/quant.c (hence ggml), so the kernel differs from the CPU reference only by
// the order of the final sums.

// MV_UNROLL: [[unroll]] where the includer enabled GL_EXT_control_flow_attributes.
// Unrolled loops keep vector indices constant (lavapipe turns a dynamic component
// index into memory traffic).
#ifndef MV_UNROLL
#define MV_UNROLL
#endif

// ---- word access -------------------------------------------------------------------

// MV_WORD(a): 32-bit word a of the weights. W[a] unless the includer reads them some
// other way (matmul_lane.comp: through a uniform texel buffer).
#ifndef MV_WORD
#define MV_WORD(a) W[a]
#endif

// 32 bits at an even byte offset o. ALIGNED4 (a spec constant) says every offset the
// kernel will see is a multiple of 4: then one load suffices.
uint mv_w32(uint o)
{
    if (ALIGNED4)
        return MV_WORD(o >> 2);
    const uint a = o >> 2, s = (o & 2u) << 3; // s = 0 or 16
    // (hi << 16) << (16 - s) is 0 when s = 0: no shift by 32, which GLSL leaves undefined.
    return (MV_WORD(a) >> s) | ((MV_WORD(a + 1u) << 16) << (16u - s));
}

// Word i of a run of 32-bit fields that starts at even byte offset o, given
// a = o >> 2 and s = (o & 2) << 3: the same words for every i of one run, so a
// decoder that reads a whole run loads each word once.
uint mv_run32(uint a, uint s, uint i)
{
    if (ALIGNED4)
        return MV_WORD(a + i);
    return (MV_WORD(a + i) >> s) | ((MV_WORD(a + i + 1u) << 16) << (16u - s));
}

// The 16-bit field at even byte offset o (never straddles a word).
uint mv_u16(uint o)
{
    return (MV_WORD(o >> 2) >> ((o & 2u) << 3)) & 0xffffu;
}

float mv_f16(uint o)
{
    return unpackHalf2x16(mv_u16(o)).x;
}

// Byte i (0..3) of a word, as unsigned and as sign-extended int8.
uint mv_byte(uint w, uint i)
{
    return bitfieldExtract(w, int(i * 8u), 8);
}

int mv_sbyte(uint w, uint i)
{
    return bitfieldExtract(int(w), int(i * 8u), 8);
}

#if defined(W_IQ4_NL) || defined(W_IQ4_XS)
// The IQ4_NL code book {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53,
// 69, 89, 113} as int8 bytes of 4 words, picked with selects: a table indexed per
// lane becomes a memory access per lane on SIMD devices (8x slower on lavapipe).
float mv_iq4nl(uint q)
{
    const uint lo = q < 4u ? 0xbfad9881u : 0xf6eaddcfu;   // values 0..3 | 4..7
    const uint hi = q < 12u ? 0x26190d01u : 0x71594535u;  // values 8..11 | 12..15
    return float(bitfieldExtract(int(q < 8u ? lo : hi), int(8u * (q & 3u)), 8));
}
#endif

// ---- F32 / F16 / BF16: units of 4 columns, blocks of 32; rows of any length (the
// last unit of a row may be partial: MV_TAIL asks the caller to mask it) ------------

#if defined(W_F32) || defined(W_F16) || defined(W_BF16)
#define MV_U 4
#define MV_RS 4
#define MV_TAIL 1
#define MV_BV 32
#define MV_UPB 8
uint mv_cb(uint k) { return 4u * k; }
#endif

#if defined(W_F32)
#define MV_BB 128
void mv_deq_at(uint bo, uint k, out vec4 w[1])
{
    const uint a = (bo >> 2) + 4u * k; // F32 rows are always 4-byte aligned
    w[0] = uintBitsToFloat(uvec4(MV_WORD(a), MV_WORD(a + 1u), MV_WORD(a + 2u), MV_WORD(a + 3u)));
}
#elif defined(W_F16)
#define MV_BB 64
void mv_deq_at(uint bo, uint k, out vec4 w[1])
{
    const uint a = bo >> 2, s = (bo & 2u) << 3;
    w[0] = vec4(unpackHalf2x16(mv_run32(a, s, 2u * k)), unpackHalf2x16(mv_run32(a, s, 2u * k + 1u)));
}
#elif defined(W_BF16)
#define MV_BB 64
void mv_deq_at(uint bo, uint k, out vec4 w[1])
{
    const uint a = bo >> 2, s = (bo & 2u) << 3;
    const uint x = mv_run32(a, s, 2u * k), y = mv_run32(a, s, 2u * k + 1u);
    w[0] = uintBitsToFloat(uvec4(x << 16, x & 0xffff0000u, y << 16, y & 0xffff0000u));
}
#endif

// ---- 32-value blocks --------------------------------------------------------------

#if defined(W_Q8_0)
// 34 bytes: f16 d, i8 q[32]. Unit = 8 quants (a quarter block), adjacent columns.
#define MV_U 8
#define MV_RS 4
#define MV_BV 32
#define MV_BB 34
#define MV_UPB 4
uint mv_cb(uint k) { return 8u * k; }
void mv_deq_at(uint bo, uint k, out vec4 w[2])
{
    const float d = mv_f16(bo);
    const uint a = (bo + 2u) >> 2, s = ((bo + 2u) & 2u) << 3;
    const uint q0 = mv_run32(a, s, 2u * k), q1 = mv_run32(a, s, 2u * k + 1u);
    MV_UNROLL for (uint i = 0u; i < 4u; i++) {
        w[0][i] = float(mv_sbyte(q0, i)) * d;
        w[1][i] = float(mv_sbyte(q1, i)) * d;
    }
}
#endif

#if defined(W_Q4_0) || defined(W_Q4_1) || defined(W_Q5_0) || defined(W_Q5_1) || defined(W_IQ4_NL)
// qs[16]: byte j holds column j (low nibble) and j + 16 (high nibble). Unit k = bytes
// 4k..4k+3 of qs = columns 4k..4k+3 and 16+4k..16+4k+3 of the block.
#define MV_U 8
#define MV_RS 16
#define MV_BV 32
#define MV_UPB 4
uint mv_cb(uint k) { return 4u * k; }
#endif

#if defined(W_Q4_0)
#define MV_BB 18
void mv_deq_at(uint bo, uint k, out vec4 w[2])
{
    const float d = mv_f16(bo);
    const uint q = mv_run32((bo + 2u) >> 2, ((bo + 2u) & 2u) << 3, k);
    MV_UNROLL for (uint i = 0u; i < 4u; i++) {
        w[0][i] = float(int(bitfieldExtract(q, int(8u * i), 4)) - 8) * d;
        w[1][i] = float(int(bitfieldExtract(q, int(8u * i + 4u), 4)) - 8) * d;
    }
}
#elif defined(W_Q4_1)
#define MV_BB 20
void mv_deq_at(uint bo, uint k, out vec4 w[2])
{
    const float d = mv_f16(bo), m = mv_f16(bo + 2u);
    const uint q = mv_run32((bo + 4u) >> 2, ((bo + 4u) & 2u) << 3, k);
    MV_UNROLL for (uint i = 0u; i < 4u; i++) {
        w[0][i] = float(bitfieldExtract(q, int(8u * i), 4)) * d + m;
        w[1][i] = float(bitfieldExtract(q, int(8u * i + 4u), 4)) * d + m;
    }
}
#elif defined(W_Q5_0)
// 22 bytes: f16 d, u32 qh (bit j = 5th bit of column j), qs[16].
#define MV_BB 22
void mv_deq_at(uint bo, uint k, out vec4 w[2])
{
    const float d = mv_f16(bo);
    const uint qh = mv_w32(bo + 2u), q = mv_run32((bo + 6u) >> 2, ((bo + 6u) & 2u) << 3, k);
    MV_UNROLL for (uint i = 0u; i < 4u; i++) {
        const uint j = 4u * k + i;
        const uint x0 = bitfieldExtract(q, int(8u * i), 4) | (bitfieldExtract(qh, int(j), 1) << 4);
        const uint x1 = bitfieldExtract(q, int(8u * i + 4u), 4) | (bitfieldExtract(qh, int(j + 16u), 1) << 4);
        w[0][i] = float(int(x0) - 16) * d;
        w[1][i] = float(int(x1) - 16) * d;
    }
}
#elif defined(W_Q5_1)
// 24 bytes: f16 d, f16 m, u32 qh, qs[16].
#define MV_BB 24
void mv_deq_at(uint bo, uint k, out vec4 w[2])
{
    const float d = mv_f16(bo), m = mv_f16(bo + 2u);
    const uint qh = mv_w32(bo + 4u), q = mv_run32((bo + 8u) >> 2, ((bo + 8u) & 2u) << 3, k);
    MV_UNROLL for (uint i = 0u; i < 4u; i++) {
        const uint j = 4u * k + i;
        const uint x0 = bitfieldExtract(q, int(8u * i), 4) | (bitfieldExtract(qh, int(j), 1) << 4);
        const uint x1 = bitfieldExtract(q, int(8u * i + 4u), 4) | (bitfieldExtract(qh, int(j + 16u), 1) << 4);
        w[0][i] = float(x0) * d + m;
        w[1][i] = float(x1) * d + m;
    }
}
#elif defined(W_IQ4_NL)
#define MV_BB 18
void mv_deq_at(uint bo, uint k, out vec4 w[2])
{
    const float d = mv_f16(bo);
    const uint q = mv_run32((bo + 2u) >> 2, ((bo + 2u) & 2u) << 3, k);
    MV_UNROLL for (uint i = 0u; i < 4u; i++) {
        w[0][i] = d * mv_iq4nl(bitfieldExtract(q, int(8u * i), 4));
        w[1][i] = d * mv_iq4nl(bitfieldExtract(q, int(8u * i + 4u), 4));
    }
}
#endif

// ---- 256-value K-quant blocks -----------------------------------------------------

#if defined(W_Q2_K) || defined(W_Q3_K)
// qs[64]: byte 32n + 16h + l holds, at bit pairs 0,2,4,6 (shift s), column
// 128n + 32s + 16h + l. Unit k = word k of qs (4 l's) at all 4 shifts = 16 values:
// n = k / 8, h = (k / 4) % 2, l0 = 4 (k % 4).
#define MV_U 16
#define MV_RS 32
#define MV_BV 256
#define MV_UPB 16
uint mv_cb(uint k) { return (k >> 3) * 128u + ((k >> 2) & 1u) * 16u + (k & 3u) * 4u; }
#endif

#if defined(W_Q2_K)
// 84 bytes: scales[16] (low nibble scale, high nibble min), qs[64], f16 d, f16 dmin.
// Group (n, s, h) uses scales[8n + 2s + h].
#define MV_BB 84
void mv_deq_at(uint bo, uint k, out vec4 w[4])
{
    const uint n = k >> 3, h = (k >> 2) & 1u;
    const float d = mv_f16(bo + 80u), dmin = mv_f16(bo + 82u);
    const uint q = mv_run32((bo + 16u) >> 2, ((bo + 16u) & 2u) << 3, k);
    const uint sa = (bo >> 2) + 2u * n, ss = (bo & 2u) << 3; // scales[8n .. 8n+7]
    const uint sc0 = mv_run32(sa, ss, 0u), sc1 = mv_run32(sa, ss, 1u);
    MV_UNROLL for (uint s = 0u; s < 4u; s++) {
        const uint sc = mv_byte(s < 2u ? sc0 : sc1, ((2u * s) & 3u) + h);
        const float dl = d * float(sc & 15u), ml = dmin * float(sc >> 4);
        MV_UNROLL for (uint i = 0u; i < 4u; i++)
            w[s][i] = dl * float(bitfieldExtract(q, int(8u * i + 2u * s), 2)) - ml;
    }
}
#elif defined(W_Q3_K)
// 110 bytes: hmask[32], qs[64], scales[12], f16 d. Group (n, s, h) has scale index
// is = 8n + 2s + h (6 bits, biased by 32): low 4 bits in nibble n of scales[2s + h],
// top 2 bits at bit 2 (is / 4) of scales[8 + (is % 4)]. The value's 3rd bit is bit
// 4n + s of hmask[16h + l]; when clear the value is reduced by 4.
#define MV_BB 110
void mv_deq_at(uint bo, uint k, out vec4 w[4])
{
    const uint n = k >> 3, h = (k >> 2) & 1u;
    const float d = mv_f16(bo + 108u);
    const uint a = bo >> 2, s0 = (bo & 2u) << 3; // every field sits at an even offset
    const uint q = mv_run32(a + 8u, s0, k);             // qs at byte 32
    const uint hm = mv_run32(a, s0, 4u * h + (k & 3u)); // hmask[16h + l0]
    const uint sa = mv_run32(a + 24u, s0, 0u), sb = mv_run32(a + 24u, s0, 1u),
               sh = mv_run32(a + 24u, s0, 2u);           // scales at byte 96
    MV_UNROLL for (uint s = 0u; s < 4u; s++) {
        const uint is = 8u * n + 2u * s + h;
        const uint lo = bitfieldExtract(s < 2u ? sa : sb, int(8u * ((2u * s + h) & 3u) + 4u * n), 4);
        const uint hi = bitfieldExtract(sh, int(8u * (is & 3u) + 2u * (is >> 2)), 2);
        const float dl = d * float(int(lo | (hi << 4)) - 32);
        MV_UNROLL for (uint i = 0u; i < 4u; i++) {
            const int v = int(bitfieldExtract(q, int(8u * i + 2u * s), 2)) -
                          (bitfieldExtract(hm, int(8u * i + 4u * n + s), 1) != 0u ? 0 : 4);
            w[s][i] = dl * float(v);
        }
    }
}
#endif

#if defined(W_Q4_K) || defined(W_Q5_K)
// Q4_K 144 bytes: f16 d, f16 dmin, scales[12], qs[128]. Q5_K 176 bytes: the same
// plus qh[32] before qs. Each 32 bytes of qs (pair p) hold group 2p in the low
// nibbles and group 2p+1 in the high ones. Unit k = word k of qs: columns
// 64p + l0 .. +3 and 64p + 32 + l0 .. +3, p = k / 8, l0 = 4 (k % 8).
#define MV_U 8
#define MV_RS 32
#define MV_BV 256
#define MV_UPB 32
uint mv_cb(uint k) { return (k >> 3) * 64u + (k & 7u) * 4u; }

// ggml's get_scale_min_k4 over the 12 scale bytes held in 3 words.
void mv_scale_min_k4(uint j, uvec3 s, out uint sc, out uint mn)
{
    if (j < 4u) {
        sc = bitfieldExtract(s[0], int(8u * j), 6);
        mn = bitfieldExtract(s[1], int(8u * j), 6);
    } else {
        const uint b8 = mv_byte(s[2], j - 4u); // scales[j + 4]
        sc = (b8 & 15u) | (bitfieldExtract(s[0], int(8u * (j - 4u) + 6u), 2) << 4);
        mn = (b8 >> 4) | (bitfieldExtract(s[1], int(8u * (j - 4u) + 6u), 2) << 4);
    }
}
#endif

#if defined(W_Q4_K)
#define MV_BB 144
void mv_deq_at(uint bo, uint k, out vec4 w[2])
{
    const uint p = k >> 3;
    const float d = mv_f16(bo), dmin = mv_f16(bo + 2u);
    const uint a = (bo + 4u) >> 2, s0 = ((bo + 4u) & 2u) << 3;
    const uvec3 s = uvec3(mv_run32(a, s0, 0u), mv_run32(a, s0, 1u), mv_run32(a, s0, 2u));
    uint sc, mn;
    mv_scale_min_k4(2u * p, s, sc, mn);
    const float d1 = d * float(sc), m1 = dmin * float(mn);
    mv_scale_min_k4(2u * p + 1u, s, sc, mn);
    const float d2 = d * float(sc), m2 = dmin * float(mn);
    const uint q = mv_run32(a, s0, 3u + k); // qs at byte 16
    MV_UNROLL for (uint i = 0u; i < 4u; i++) {
        w[0][i] = d1 * float(bitfieldExtract(q, int(8u * i), 4)) - m1;
        w[1][i] = d2 * float(bitfieldExtract(q, int(8u * i + 4u), 4)) - m2;
    }
}
#elif defined(W_Q5_K)
// Group g's 5th bit is bit g of qh[l].
#define MV_BB 176
void mv_deq_at(uint bo, uint k, out vec4 w[2])
{
    const uint p = k >> 3;
    const float d = mv_f16(bo), dmin = mv_f16(bo + 2u);
    const uint a = (bo + 4u) >> 2, s0 = ((bo + 4u) & 2u) << 3;
    const uvec3 s = uvec3(mv_run32(a, s0, 0u), mv_run32(a, s0, 1u), mv_run32(a, s0, 2u));
    uint sc, mn;
    mv_scale_min_k4(2u * p, s, sc, mn);
    const float d1 = d * float(sc), m1 = dmin * float(mn);
    mv_scale_min_k4(2u * p + 1u, s, sc, mn);
    const float d2 = d * float(sc), m2 = dmin * float(mn);
    const uint qh = mv_run32(a, s0, 3u + (k & 7u)); // qh[l0..l0+3] at byte 16
    const uint q = mv_run32(a, s0, 11u + k);        // qs at byte 48
    MV_UNROLL for (uint i = 0u; i < 4u; i++) {
        const uint lo = bitfieldExtract(q, int(8u * i), 4) |
                        (bitfieldExtract(qh, int(8u * i + 2u * p), 1) << 4);
        const uint hi = bitfieldExtract(q, int(8u * i + 4u), 4) |
                        (bitfieldExtract(qh, int(8u * i + 2u * p + 1u), 1) << 4);
        w[0][i] = d1 * float(lo) - m1;
        w[1][i] = d2 * float(hi) - m2;
    }
}
#endif

#if defined(W_Q6_K)
// 210 bytes: ql[128], qh[64], i8 scales[16], f16 d. In half n (128 columns), l < 32:
// ql[64n + l] low/high nibble -> columns l, l + 64; ql[64n + 32 + l] -> l + 32, l + 96;
// their top 2 bits are bit pairs 0, 4 and 2, 6 of qh[32n + l]. Scale per 16 columns:
// scales[8n + l/16 + 2r] for run r. Unit k = 4 l's = 16 values, n = k / 8.
#define MV_U 16
#define MV_RS 32
#define MV_BV 256
#define MV_BB 210
#define MV_UPB 16
uint mv_cb(uint k) { return (k >> 3) * 128u + (k & 7u) * 4u; }
void mv_deq_at(uint bo, uint k, out vec4 w[4])
{
    const uint n = k >> 3, l0 = (k & 7u) * 4u;
    const float d = mv_f16(bo + 208u);
    const uint a = bo >> 2, s0 = (bo & 2u) << 3; // every field sits at an even offset
    const uint qa = mv_run32(a, s0, 16u * n + (k & 7u));
    const uint qb = mv_run32(a, s0, 16u * n + 8u + (k & 7u));
    const uint qh = mv_run32(a, s0, 32u + 8u * n + (k & 7u));
    // scales[8n + l0/16 + 2r], r = 0..3: bytes is0, +2, +4, +6 of the 4 words at 192.
    const uint is0 = 8u * n + (l0 >> 4);
    const uint s01 = mv_run32(a, s0, 48u + (is0 >> 2)), s23 = mv_run32(a, s0, 49u + (is0 >> 2));
    const uint sh = 8u * (is0 & 3u); // is0 & 3 is 0 or 1
    const float sc0 = float(bitfieldExtract(int(s01), int(sh), 8));
    const float sc1 = float(bitfieldExtract(int(s01), int(sh + 16u), 8));
    const float sc2 = float(bitfieldExtract(int(s23), int(sh), 8));
    const float sc3 = float(bitfieldExtract(int(s23), int(sh + 16u), 8));
    MV_UNROLL for (uint i = 0u; i < 4u; i++) {
        const uint h = mv_byte(qh, i), x = mv_byte(qa, i), y = mv_byte(qb, i);
        w[0][i] = d * sc0 * float(int((x & 15u) | (bitfieldExtract(h, 0, 2) << 4)) - 32);
        w[1][i] = d * sc1 * float(int((y & 15u) | (bitfieldExtract(h, 2, 2) << 4)) - 32);
        w[2][i] = d * sc2 * float(int((x >> 4) | (bitfieldExtract(h, 4, 2) << 4)) - 32);
        w[3][i] = d * sc3 * float(int((y >> 4) | (bitfieldExtract(h, 6, 2) << 4)) - 32);
    }
}
#endif

#if defined(W_IQ4_XS)
// 136 bytes: f16 d, u16 scales_h, scales_l[4], qs[128]. 32-group ib: qs[16 ib + j]
// holds columns 32 ib + j (low) and 32 ib + 16 + j (high); its 6-bit scale is nibble
// ib of scales_l with bits 2ib..2ib+1 of scales_h on top, biased by 32. Unit k =
// bytes 4k..4k+3 of qs: ib = k / 4.
#define MV_U 8
#define MV_RS 16
#define MV_BV 256
#define MV_BB 136
#define MV_UPB 32
uint mv_cb(uint k) { return (k >> 2) * 32u + (k & 3u) * 4u; }
void mv_deq_at(uint bo, uint k, out vec4 w[2])
{
    const uint ib = k >> 2;
    const uint a = bo >> 2, s0 = (bo & 2u) << 3;
    const uint hd = mv_run32(a, s0, 0u); // f16 d | scales_h << 16
    const float d = unpackHalf2x16(hd).x;
    const uint ls = bitfieldExtract(mv_run32(a, s0, 1u), int(4u * ib), 4) |
                    (bitfieldExtract(hd, int(16u + 2u * ib), 2) << 4);
    const float dl = d * float(int(ls) - 32);
    const uint q = mv_run32(a, s0, 2u + k);
    MV_UNROLL for (uint i = 0u; i < 4u; i++) {
        w[0][i] = dl * mv_iq4nl(bitfieldExtract(q, int(8u * i), 4));
        w[1][i] = dl * mv_iq4nl(bitfieldExtract(q, int(8u * i + 4u), 4));
    }
}
#endif

#ifndef MV_U
#error "define one W_<TYPE> (W_Q8_0, W_F16, ...)"
#endif

// ---- any unit of a row ------------------------------------------------------------

uint mv_units(uint n)
{
#ifdef MV_TAIL
    return (n + 3u) >> 2;
#else
    return n / MV_BV * MV_UPB;
#endif
}

uint mv_c0(uint u)
{
    return (u / MV_UPB) * MV_BV + mv_cb(u % MV_UPB);
}

void mv_deq(uint rb, uint u, out vec4 w[MV_U / 4])
{
    mv_deq_at(rb + (u / MV_UPB) * MV_BB, u % MV_UPB, w);
}
