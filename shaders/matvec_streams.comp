#version 450
// y[t][r] = sum_c W[r][c] * x[t][c] for Q8_0 / Q4_0 weights that the host re-laid out
// at upload into "streams" (vk_matvec.c, CPU devices with 64-bit integers; the layout
// is G3_STREAMS_* in g3_shared.h): quants of block b of 8 adjacent rows side by side
// (Q8_0 32 bytes, Q4_0 the 16 qs bytes), then the f16 block scales in the same
// grouping; Q5_0 then its qh words (G3_STREAMS_HOFF). p.row_bytes is the quant bytes
// per row (qrow).
//
// Lane mode only (each invocation computes ROWS whole rows, as in matvec.comp): on
// lavapipe every load of a storage buffer whose address differs per lane costs a
// per-lane loop with a bounds check per component, so the kernel reads 32 bytes of
// quants (one u64vec4, Q8_0) or 16 (one u64vec2, Q4_0) per block and row with one
// load, and 4 block scales per row with one more; x is loaded once per subgroup and
// block and spread with subgroupBroadcast where lanes 0..7 are active. Measured on
// lavapipe (2 cores): 10-20% over the GGUF-layout lane kernel on the layers' matrices,
// the same on the LM head; 8 rows per invocation (the STREAMS default) add ~20%.
// The block scale multiplies a unit's dot product of the raw quants with x, once per
// 8 weights instead of once per weight (and Q4_0's offset of 8 comes off through x
// sums shared by all rows): -30% time on the Q8_0 LM head on lavapipe. The sums thus
// differ from matvec.comp's in the last bits.
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
#extension GL_EXT_shader_explicit_arithmetic_types_int64 : require
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_ballot : require
#include "g3_shared.h"

layout(local_size_x_id = G3_SPEC_WG_SIZE) in;
layout(constant_id = G3_MATVEC_SPEC_ROWS) const uint ROWS = 4;
layout(constant_id = G3_MATVEC_SPEC_TOKENS) const uint NT = 1;

#ifdef W_TEXEL
// The weights as uvec4 texels (a uniform texel buffer): on lavapipe a texel fetch with
// per-lane addresses is a vector gather, where a storage-buffer load is a loop over
// the lanes with a bounds check per component.
layout(binding = G3_MATVEC_BINDING_W) uniform usamplerBuffer Wt;
#else
layout(std430, binding = G3_MATVEC_BINDING_W) restrict readonly buffer Wb4 { u64vec4 W4[]; };
layout(std430, binding = G3_MATVEC_BINDING_W) restrict readonly buffer Wb2 { u64vec2 W2[]; };
layout(std430, binding = G3_MATVEC_BINDING_W) restrict readonly buffer Wb1 { uint64_t W1[]; };
#endif
#ifdef X_UNIFORM
// The 1-token variant: x as a uniform buffer (at most G3_MATVEC_UBO_VEC4 vec4, the
// 16 KiB every device binds). lavapipe reads a uniform buffer with a vector gather
// (or one scalar load where the offset is uniform) instead of a per-lane loop with a
// bounds check per component (about +10% on its 640 x 2048 Q8_0 / Q4_0 products).
layout(std140, binding = G3_MATVEC_BINDING_X) uniform Xu { vec4 X4[G3_MATVEC_UBO_VEC4]; };
#else
layout(std430, binding = G3_MATVEC_BINDING_X) restrict readonly buffer Xb4 { vec4 X4[]; };
#endif
layout(std430, binding = G3_MATVEC_BINDING_Y) restrict writeonly buffer Yb { float Y[]; };
layout(push_constant) uniform PC { g3_pc_matvec p; };
#include "streams.glsl"

float acc[ROWS][NT];
vec4 xa[NT][8]; // x of the current block, 8 runs of 4 columns
float xs[NT][4]; // 16-byte types: x summed over each unit's two runs (k and k + 4)

// x of block b for every token.
void load_x(uint b, bool bcast)
{
    [[unroll]] for (uint t = 0u; t < NT; t++) {
        if (t < p.n_tokens) {
            const uint x0 = (p.x_off + t * p.x_stride) / 4u + 8u * b;
#ifdef X_UNIFORM
            [[unroll]] for (uint k = 0u; k < 8u; k++)
                xa[t][k] = X4[x0 + k];
#else
            if (bcast) {
                const vec4 v = X4[x0 + (gl_SubgroupInvocationID & 7u)];
                xa[t][0] = subgroupBroadcast(v, 0u);
                xa[t][1] = subgroupBroadcast(v, 1u);
                xa[t][2] = subgroupBroadcast(v, 2u);
                xa[t][3] = subgroupBroadcast(v, 3u);
                xa[t][4] = subgroupBroadcast(v, 4u);
                xa[t][5] = subgroupBroadcast(v, 5u);
                xa[t][6] = subgroupBroadcast(v, 6u);
                xa[t][7] = subgroupBroadcast(v, 7u);
            } else {
                [[unroll]] for (uint k = 0u; k < 8u; k++)
                    xa[t][k] = X4[x0 + k];
            }
#endif
#ifdef ST_16
            [[unroll]] for (uint k = 0u; k < 4u; k++)
                xs[t][k] = dot(xa[t][k] + xa[t][k + 4u], vec4(1.0));
#endif
        }
    }
}

// acc[r] += d * (q0 . x[i0] + q1 . x[i1] - ST_OFF * xsum) + m * xsum, for every token,
// xsum the sum of those x (load_x, shared by all rows): the block scale, the offset of
// Q4_0 / Q5_0 and the minimum of Q4_1 / Q5_1 applied once per unit instead of once
// per weight.
void unit(uint r, vec4 q0, vec4 q1, uint i0, uint i1, float d, float m)
{
    [[unroll]] for (uint t = 0u; t < NT; t++) {
        if (t < p.n_tokens) {
            float s = dot(q0, xa[t][i0]) + dot(q1, xa[t][i1]);
#ifdef ST_16
            if (ST_OFF != 0.0)
                s -= ST_OFF * xs[t][i0];
#endif
#ifdef ST_MIN
            acc[r][t] += s * d + m * xs[t][i0];
#else
            acc[r][t] += s * d;
#endif
        }
    }
}

#ifdef ST_QH
// Unit k of a Q5_0 / Q5_1 block: as Q4_0's, each nibble with its 5th bit (qh bit
// 4k + i for the low nibbles, 16 + 4k + i for the high ones) moved to bit 4 of its
// byte: bits b0..b3 to bytes 0..3 by one multiply (the shifted copies do not overlap).
void q5_unit(uint r, uint u, uint qh, float d, float m, uint k)
{
    const uint hl = (((qh >> (4u * k)) & 15u) * 0x00204081u) & 0x01010101u;
    const uint hh = (((qh >> (16u + 4u * k)) & 15u) * 0x00204081u) & 0x01010101u;
    const uint lo = (u & 0x0f0f0f0fu) | (hl << 4), hi = ((u >> 4) & 0x0f0f0f0fu) | (hh << 4);
    const vec4 q0 = vec4(float(lo & 31u), float((lo >> 8) & 31u), float((lo >> 16) & 31u),
                         float(lo >> 24));
    const vec4 q1 = vec4(float(hi & 31u), float((hi >> 8) & 31u), float((hi >> 16) & 31u),
                         float(hi >> 24));
    unit(r, q0, q1, k, k + 4u, d, m);
}
#else
// Unit k of a Q4_0 / Q4_1 block: qs word u = columns 4k..4k+3 (low nibbles) and
// 16+4k.. (high), nibbles as they are.
void q4_unit(uint r, uint u, float d, float m, uint k)
{
    const vec4 q0 = vec4(float(u & 15u), float((u >> 8) & 15u), float((u >> 16) & 15u),
                         float((u >> 24) & 15u));
    const vec4 q1 = vec4(float((u >> 4) & 15u), float((u >> 12) & 15u), float((u >> 20) & 15u),
                         float(u >> 28));
    unit(r, q0, q1, k, k + 4u, d, m);
}
#endif

// Block b of row `row` with scale d (minimum m, qh word: where the type has them) into
// acc[r].
void block(uint r, uint row, uint b, float d, float m, uint qh)
{
#if defined(W_Q8_0)
#ifdef W_TEXEL
    const uint t = G3_STREAMS_QOFF(row, b, p.row_bytes, 32u) / 16u;
    const uvec4 qa = texelFetch(Wt, int(t)), qb = texelFetch(Wt, int(t + 1u));
    const uvec2 us[4] = uvec2[4](qa.xy, qa.zw, qb.xy, qb.zw);
#else
    const u64vec4 q = W4[G3_STREAMS_QOFF(row, b, p.row_bytes, 32u) / 32u];
#endif
    [[unroll]] for (uint k = 0u; k < 4u; k++) {
#ifdef W_TEXEL
        const uvec2 u = us[k];
#else
        const uvec2 u = unpackUint2x32(q[k]);
#endif
        vec4 w0, w1;
        [[unroll]] for (uint i = 0u; i < 4u; i++) {
            w0[i] = float(bitfieldExtract(int(u.x), int(8u * i), 8));
            w1[i] = float(bitfieldExtract(int(u.y), int(8u * i), 8));
        }
        unit(r, w0, w1, 2u * k, 2u * k + 1u, d, m);
    }
#else // the 16-byte types
#ifdef W_TEXEL
    const uvec4 q = texelFetch(Wt, int(G3_STREAMS_QOFF(row, b, p.row_bytes, 16u) / 16u));
#else
    const u64vec2 q2 = W2[G3_STREAMS_QOFF(row, b, p.row_bytes, 16u) / 16u];
    const uvec4 q = uvec4(unpackUint2x32(q2.x), unpackUint2x32(q2.y));
#endif
#ifdef ST_QH
    q5_unit(r, q.x, qh, d, m, 0u);
    q5_unit(r, q.y, qh, d, m, 1u);
    q5_unit(r, q.z, qh, d, m, 2u);
    q5_unit(r, q.w, qh, d, m, 3u);
#else
    q4_unit(r, q.x, d, m, 0u);
    q4_unit(r, q.y, d, m, 1u);
    q4_unit(r, q.z, d, m, 2u);
    q4_unit(r, q.w, d, m, 3u);
#endif
#endif
}

void main()
{
    [[unroll]] for (uint r = 0u; r < ROWS; r++)
        [[unroll]] for (uint t = 0u; t < NT; t++)
            acc[r][t] = 0.0;
    const uint wg = gl_WorkGroupSize.x;
    const uint group = gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x;
    const uint rbase = group * ROWS * wg + gl_LocalInvocationID.x;
    const uint nblk = p.n_cols / 32u;
    const uint sb = st_sb(), s_off = st_soff(), m_off = st_moff();
    const uint hb = st_hb(), h_off = st_hoff();
    // Broadcast only where lanes 0..7 of the subgroup are active (uniform per subgroup).
    const bool bcast = gl_SubgroupSize >= 8u && (subgroupBallot(true).x & 0xffu) == 0xffu;
    // Blocks in groups of 4: one 64-bit load brings a row's 4 scales (4 blocks from a
    // multiple of 4 lie in one 8-byte half of a 16-byte run). (Unrolling more
    // blocks per step costs lavapipe minutes of LLVM time per pipeline.) Rows past the
    // end compute row n_rows - 1 again and store nothing: no per-lane branch in the
    // loop (lavapipe turns every register write under one into a masked store).
    for (uint g = 0u; g < nblk; g += 4u) {
        uvec2 sc[ROWS], mc[ROWS]; // scales (and minima) of blocks g..g + 3
        uvec4 qh[ROWS];           // Q5_0 / Q5_1: their qh words
        [[unroll]] for (uint r = 0u; r < ROWS; r++) {
            const uint row = min(rbase + r * wg, p.n_rows - 1u);
#ifdef ST_MIN
#ifdef W_TEXEL
            const uvec4 m4 = texelFetch(Wt, int((m_off + G3_STREAMS_SCALE_OFF(row, g, sb)) / 16u));
            mc[r] = (g & 4u) == 0u ? m4.xy : m4.zw;
#else
            mc[r] = unpackUint2x32(W1[(m_off + G3_STREAMS_SCALE_OFF(row, g, sb)) / 8u]);
#endif
#else
            mc[r] = uvec2(0u);
#endif
#ifdef ST_QH
#ifdef W_TEXEL
            qh[r] = texelFetch(Wt, int((h_off + G3_STREAMS_HOFF(row, g, hb)) / 16u));
#else
            const u64vec2 h2 = W2[(h_off + G3_STREAMS_HOFF(row, g, hb)) / 16u];
            qh[r] = uvec4(unpackUint2x32(h2.x), unpackUint2x32(h2.y));
#endif
#else
            qh[r] = uvec4(0u);
#endif
#ifdef W_TEXEL
            const uvec4 s4 = texelFetch(Wt, int((s_off + G3_STREAMS_SCALE_OFF(row, g, sb)) / 16u));
            sc[r] = (g & 4u) == 0u ? s4.xy : s4.zw;
#else
            sc[r] = unpackUint2x32(W1[(s_off + G3_STREAMS_SCALE_OFF(row, g, sb)) / 8u]);
#endif
        }
        [[unroll]] for (uint j = 0u; j < 4u; j++) {
            const uint b = g + j;
            if (b < nblk) { // uniform
                load_x(b, bcast);
                [[unroll]] for (uint r = 0u; r < ROWS; r++) {
                    const uint row = min(rbase + r * wg, p.n_rows - 1u);
                    const uvec2 h = sc[r], hm = mc[r];
                    const vec2 d2 = unpackHalf2x16((j & 2u) == 0u ? h.x : h.y);
                    const vec2 m2 = unpackHalf2x16((j & 2u) == 0u ? hm.x : hm.y);
                    block(r, row, b, (j & 1u) == 0u ? d2.x : d2.y,
                          (j & 1u) == 0u ? m2.x : m2.y, qh[r][j]);
                }
            }
        }
    }
    [[unroll]] for (uint r = 0u; r < ROWS; r++) {
        const uint row = rbase + r * wg;
        [[unroll]] for (uint t = 0u; t < NT; t++)
            if (row < p.n_rows && t < p.n_tokens)
                Y[p.y_off + t * p.y_stride + row] = acc[r][t];
    }
}
