// matmul_common.glsl: what the two matrix-matrix kernels (matmul_lane.comp for CPU
// devices, matmul_tile.comp for GPUs) share: bindings, push constants, the weight
// decoders and the "column group" each kernel steps by.
//
// Decoders: dequant.glsl's units (MV_U values in MV_U/4 runs of 4 adjacent columns,
// MV_RS apart; MV_UPB units per block of MV_BV values in MV_BB bytes), for weights in
// their GGUF blocks; with -DMM_STREAMS, the same units read from the STREAMS layout of
// Q8_0 / Q4_0 (G3_STREAMS_* in g3_shared.h; p.row_bytes is the quant bytes per row,
// and a row handle the row's index in the piece). Values come out with the same float
// operations as dequant.glsl's (hence host/quant.c's), so both layouts give the same
// products.
//
// Column group: MM_XG_UNITS consecutive units of a block that together cover MM_XG_COLS
// consecutive columns (a whole 32-value block; 64 or 128 columns of a K-quant block).
// Unit j < MM_XG_UNITS of any group has its runs at columns mv_cb(j) + i * MV_RS of
// the group: the same constants for every group, which the lane kernel uses to pick
// x values out of registers.

#extension GL_EXT_control_flow_attributes : require
#if defined(MM_STREAMS) && !defined(MM_LANE)
#extension GL_EXT_shader_explicit_arithmetic_types_int64 : require
#endif
#include "matmul_shared.h"

layout(local_size_x_id = G3_SPEC_WG_SIZE) in;
layout(constant_id = G3_MM_SPEC_ALIGNED4) const bool ALIGNED4 = false;
layout(constant_id = G3_MM_SPEC_XALIGN) const uint XALIGN = 0;

#ifdef MM_LANE
// W as uvec4 texels of a uniform texel buffer, x as a uniform buffer: on lavapipe
// both are read with branch-free gathers, where a storage-buffer load whose address
// the compiler cannot prove uniform is a loop over the lanes with a bounds check per
// component (measured: x loads were a third of the kernel's time that way).
layout(binding = G3_MM_BINDING_W) uniform usamplerBuffer Wt;
#define MV_WORD(a) (texelFetch(Wt, int((a) >> 2u))[(a) & 3u])
layout(std140, binding = G3_MM_BINDING_X) uniform Xu { vec4 XU[G3_MM_XUBO_VEC4]; };
#define MM_X1(e) (XU[(e) >> 2u][(e) & 3u])
#if !defined(MM_STREAMS) && (defined(W_Q8_0) || defined(W_Q4_0) || defined(W_Q4_1) || \
                             defined(W_Q5_0) || defined(W_Q5_1) || defined(W_IQ4_NL))
// The 32-value GGUF types (blocks of 18-34 bytes, 2 mod 4 for most): a step's two
// blocks start on a word boundary when rows are multiples of 4 bytes (ROW4), so the
// lane kernel fetches the few texels that hold them once per row and step, picks the
// step's words out with a 4-way select on the lane's word offset, and lets the word
// decoders of dequant.glsl read those with constant indices (MV_WORD while mm_local);
// the word-by-word texel fetches they would make otherwise cost ~4x more.
#define MM_STEP_LOCAL 1
#if defined(W_Q8_0)
#define MM_SBB 34
#elif defined(W_Q4_0) || defined(W_IQ4_NL)
#define MM_SBB 18
#elif defined(W_Q4_1)
#define MM_SBB 20
#elif defined(W_Q5_0)
#define MM_SBB 22
#else
#define MM_SBB 24
#endif
#define MM_SW ((2 * MM_SBB + 3) / 4 + 1) // words of two blocks, and one for a straddle
#define MM_STEX ((MM_SW + 6) / 4)         // texels holding them at any word offset
layout(constant_id = G3_MM_SPEC_ROW4) const bool ROW4 = false;
uint mm_sw[MM_SW]; // the step's words of the row being decoded
bool mm_local = false;
uint mm_word(uint a)
{
    if (mm_local)
        return mm_sw[a];
    return texelFetch(Wt, int(a >> 2u))[a & 3u];
}
#undef MV_WORD
#define MV_WORD(a) mm_word(a)
#endif
#else
// restrict + readonly: identical loads of one step merge (NIR CSE), so the decoders of
// one block's units load its shared fields once.
layout(std430, binding = G3_MM_BINDING_W) restrict readonly buffer Wb { uint W[]; };
#ifdef MM_STREAMS
layout(std430, binding = G3_MM_BINDING_W) restrict readonly buffer Wb4 { u64vec4 W4[]; };
layout(std430, binding = G3_MM_BINDING_W) restrict readonly buffer Wb2 { u64vec2 W2[]; };
#endif
layout(std430, binding = G3_MM_BINDING_X) restrict readonly buffer Xb { float X[]; };
layout(std430, binding = G3_MM_BINDING_X) restrict readonly buffer Xb4 { vec4 X4[]; };
#define MM_X1(e) (X[e])
#endif
layout(std430, binding = G3_MM_BINDING_Y) restrict writeonly buffer Yb { float Y[]; };
layout(push_constant) uniform PC { g3_pc_matmul p; };
#ifdef MM_STREAMS
#include "streams.glsl"
#endif

#define MV_UNROLL [[unroll]]
#include "dequant.glsl"

#define NRUN (MV_U / 4)

#if defined(W_F32) || defined(W_F16) || defined(W_BF16)
#define MM_XG_UNITS 8
#define MM_XG_COLS 32
#elif defined(W_Q2_K) || defined(W_Q3_K) || defined(W_Q6_K)
#define MM_XG_UNITS 8
#define MM_XG_COLS 128
#elif defined(W_Q4_K) || defined(W_Q5_K)
#define MM_XG_UNITS 8
#define MM_XG_COLS 64
#else // Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, IQ4_NL, IQ4_XS
#define MM_XG_UNITS 4
#define MM_XG_COLS 32
#endif
#define MM_GPB (MV_UPB / MM_XG_UNITS) // groups per block

// A row as the decoders address it: its byte offset in W (GGUF) or its index in the
// piece (STREAMS).
uint mm_row(uint row)
{
#ifdef MM_STREAMS
    return row;
#else
    return row * p.row_bytes;
#endif
}

#ifdef MM_STREAMS
// f16 scale of block b of row `row`.
float mm_stream_scale(uint row, uint b)
{
    const uint o = st_soff() + G3_STREAMS_SCALE_OFF(row, b, st_sb());
    return st_f16(MV_WORD(o >> 2), o);
}

#ifdef ST_16
// Unit k of a 16-byte-type block from its qs word q, qh word and minimum m (where the
// type has them), with dequant.glsl's float operations.
void mm_st16_values(uint q, uint qh, float m, uint k, float d, out vec4 w[NRUN])
{
    MV_UNROLL for (uint i = 0u; i < 4u; i++) {
        uint x0 = bitfieldExtract(q, int(8u * i), 4), x1 = bitfieldExtract(q, int(8u * i + 4u), 4);
#ifdef ST_QH
        x0 |= bitfieldExtract(qh, int(4u * k + i), 1) << 4;
        x1 |= bitfieldExtract(qh, int(4u * k + i + 16u), 1) << 4;
#endif
#ifdef ST_MIN
        w[0][i] = float(x0) * d + m;
        w[1][i] = float(x1) * d + m;
#else
        w[0][i] = float(int(x0) - int(ST_OFF)) * d;
        w[1][i] = float(int(x1) - int(ST_OFF)) * d;
#endif
    }
}
#endif
#endif

// Unit k of block blk of row handle rh (mm_row).
void mm_deq(uint rh, uint blk, uint k, out vec4 w[NRUN])
{
#if defined(MM_STREAMS) && defined(W_Q8_0)
    const float d = mm_stream_scale(rh, blk);
#ifdef MM_LANE
    const uvec4 q4 = texelFetch(Wt, int(G3_STREAMS_QOFF(rh, blk, p.row_bytes, 32u) / 16u + (k >> 1)));
    const uvec2 u = (k & 1u) == 0u ? q4.xy : q4.zw;
#else
    const uvec2 u = unpackUint2x32(W4[G3_STREAMS_QOFF(rh, blk, p.row_bytes, 32u) / 32u][k]);
#endif
    MV_UNROLL for (uint i = 0u; i < 4u; i++) {
        w[0][i] = float(bitfieldExtract(int(u.x), int(8u * i), 8)) * d;
        w[1][i] = float(bitfieldExtract(int(u.y), int(8u * i), 8)) * d;
    }
#elif defined(MM_STREAMS)
    const float d = mm_stream_scale(rh, blk);
#ifdef ST_MIN
    const uint mo = st_moff() + G3_STREAMS_SCALE_OFF(rh, blk, st_sb());
    const float m = st_f16(MV_WORD(mo >> 2), mo);
#else
    const float m = 0.0;
#endif
#ifdef ST_QH
    const uint qh = MV_WORD((st_hoff() + G3_STREAMS_HOFF(rh, blk, st_hb())) >> 2);
#else
    const uint qh = 0u;
#endif
#ifdef MM_LANE
    const uint q = texelFetch(Wt, int(G3_STREAMS_QOFF(rh, blk, p.row_bytes, 16u) / 16u))[k];
#else
    const u64vec2 q2 = W2[G3_STREAMS_QOFF(rh, blk, p.row_bytes, 16u) / 16u];
    const uvec2 h = unpackUint2x32(q2[k >> 1]);
    const uint q = (k & 1u) == 0u ? h.x : h.y;
#endif
    mm_st16_values(q, qh, m, k, d, w);
#else
    mv_deq_at(rh + blk * MV_BB, k, w);
#endif
}

#ifdef MM_STEP_LOCAL
// The words of blocks 2s, 2s + 1 of row handle rh (a byte offset, ROW4).
void mm_step_words(uint rh, uint s, out uint sw[MM_SW])
{
    const uint wb = (rh + 2u * s * MM_SBB) >> 2u, t0 = wb >> 2u, o = wb & 3u;
    const uint last = uint(textureSize(Wt)) - 1u; // the last row's last step reads past
                                                  // the padding: stay inside the view
    uint a[4 * MM_STEX];
    [[unroll]] for (uint i = 0u; i < MM_STEX; i++) {
        const uvec4 v = texelFetch(Wt, int(min(t0 + i, last)));
        [[unroll]] for (uint c = 0u; c < 4u; c++)
            a[4u * i + c] = v[c];
    }
    [[unroll]] for (uint i = 0u; i < MM_SW; i++)
        sw[i] = o == 0u ? a[i] : o == 1u ? a[i + 1u] : o == 2u ? a[i + 2u] : a[i + 3u];
}
#endif

#ifdef MM_LANE
// Unit j of group gi of step s of matmul_lane.comp (group s * GPS + gi) of row handle
// rh: mm_deq's values, with the loads arranged so that the units of one step ask for
// the same texels with the same expressions, which NIR then fetches once (a texel
// fetch is lavapipe's most expensive part of the kernel after the multiply-adds):
// STREAMS types, one scale word (and minimum and qh words) for the step's two blocks; Q4_K / Q5_K (16-byte
// aligned blocks), one texel for the block's scales and one (Q5_K: two) for a word
// of each unit. Other types go through the word decoders of dequant.glsl.
void mm_deq_step(uint rh, uint s, uint gi, uint j, out vec4 w[NRUN])
{
#if defined(MM_STREAMS)
    // Scales of blocks 2s and 2s + 1: the halves of word s % 4 of one texel (the
    // row's 8 scales from block 8 * (s / 4); s_off is a multiple of 32 bytes).
    const uint so = st_soff() + G3_STREAMS_SCALE_OFF(rh, 2u * s, st_sb());
    const uint sw = texelFetch(Wt, int(so / 16u))[s & 3u];
    const float d = unpackHalf2x16(sw)[gi];
#if defined(W_Q8_0)
    const uvec4 q4 = texelFetch(Wt, int(G3_STREAMS_QOFF(rh, 2u * s + gi, p.row_bytes, 32u) / 16u + (j >> 1)));
    const uvec2 u = (j & 1u) == 0u ? q4.xy : q4.zw;
    MV_UNROLL for (uint i = 0u; i < 4u; i++) {
        w[0][i] = float(bitfieldExtract(int(u.x), int(8u * i), 8)) * d;
        w[1][i] = float(bitfieldExtract(int(u.y), int(8u * i), 8)) * d;
    }
#else
    const uint q = texelFetch(Wt, int(G3_STREAMS_QOFF(rh, 2u * s + gi, p.row_bytes, 16u) / 16u))[j];
#ifdef ST_MIN
    // The minima of blocks 2s and 2s + 1: as the scales, from the minima's region.
    const uint mo = st_moff() + G3_STREAMS_SCALE_OFF(rh, 2u * s, st_sb());
    const float m = unpackHalf2x16(texelFetch(Wt, int(mo / 16u))[s & 3u])[gi];
#else
    const float m = 0.0;
#endif
#ifdef ST_QH
    // The qh words of blocks 2s and 2s + 1: words 2 (s % 2) + gi of one texel.
    const uint ho = st_hoff() + G3_STREAMS_HOFF(rh, 2u * s, st_hb());
    const uint qh = texelFetch(Wt, int(ho / 16u))[2u * (s & 1u) + gi];
#else
    const uint qh = 0u;
#endif
    mm_st16_values(q, qh, m, j, d, w);
#endif
#elif defined(W_Q4_K) || defined(W_Q5_K)
    // Block s / 4 (256 values; rows are whole numbers of 16-byte blocks), units
    // k = 8 (s % 4) + j: the same scale pair p = s % 4 for all of them.
    const uint b = (rh + (s >> 2u) * MV_BB) / 16u, pp = s & 3u, k0 = 8u * pp;
    const uvec4 h = texelFetch(Wt, int(b)); // f16 d | f16 dmin << 16, scales[12]
    const vec2 dm = unpackHalf2x16(h.x);
    uint sc, mn;
    mv_scale_min_k4(2u * pp, h.yzw, sc, mn);
    const float d1 = dm.x * float(sc), m1 = dm.y * float(mn);
    mv_scale_min_k4(2u * pp + 1u, h.yzw, sc, mn);
    const float d2 = dm.x * float(sc), m2 = dm.y * float(mn);
#if defined(W_Q4_K)
    const uint q = texelFetch(Wt, int(b + 1u + (k0 >> 2) + (j >> 2)))[j & 3u]; // qs word k
    MV_UNROLL for (uint i = 0u; i < 4u; i++) {
        w[0][i] = d1 * float(bitfieldExtract(q, int(8u * i), 4)) - m1;
        w[1][i] = d2 * float(bitfieldExtract(q, int(8u * i + 4u), 4)) - m2;
    }
#else
    const uint qh = texelFetch(Wt, int(b + 1u + (j >> 2)))[j & 3u];            // qh word k % 8
    const uint q = texelFetch(Wt, int(b + 3u + (k0 >> 2) + (j >> 2)))[j & 3u]; // qs word k
    MV_UNROLL for (uint i = 0u; i < 4u; i++) {
        const uint lo = bitfieldExtract(q, int(8u * i), 4) |
                        (bitfieldExtract(qh, int(8u * i + 2u * pp), 1) << 4);
        const uint hi = bitfieldExtract(q, int(8u * i + 4u), 4) |
                        (bitfieldExtract(qh, int(8u * i + 2u * pp + 1u), 1) << 4);
        w[0][i] = d1 * float(lo) - m1;
        w[1][i] = d2 * float(hi) - m2;
    }
#endif
#else
    const uint g = s * (MM_XG_COLS > 64 ? 1u : 64u / MM_XG_COLS) + gi;
    mm_deq(rh, g / MM_GPB, (g % MM_GPB) * MM_XG_UNITS + j, w);
#endif
}
#endif

// Column of run i of unit j in its group (constant when j and i are).
uint mm_run_col(uint j, uint i)
{
    return mv_cb(j) + i * MV_RS;
}

// Workgroup -> (row group, token group) of the linearized, possibly folded grid; false
// for the overshoot of a folded grid (uniform per workgroup).
bool mm_groups(out uint rg, out uint tg)
{
    const uint lin = gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x;
    rg = lin % p.row_groups;
    tg = lin / p.row_groups;
    return tg < p.tok_groups;
}

// 4 consecutive x values of a token from element e (a multiple of 4 when XALIGN > 0).
vec4 mm_x4(uint e)
{
    if (XALIGN > 0u) {
#ifdef MM_LANE
        return XU[e >> 2];
#else
        return X4[e >> 2];
#endif
    }
    return vec4(MM_X1(e), MM_X1(e + 1u), MM_X1(e + 2u), MM_X1(e + 3u));
}

// x values c0..c0+3 of the token whose x starts at element xr, zero at and past
// column n_cols (the tail of a float-type row), never read outside the row.
vec4 mm_x4_tail(uint xr, uint c0)
{
    vec4 v;
    MV_UNROLL for (uint i = 0u; i < 4u; i++) {
        const uint c = c0 + i;
        const float x = MM_X1(xr + min(c, p.n_cols - 1u));
        v[i] = c < p.n_cols ? x : 0.0;
    }
    return v;
}
