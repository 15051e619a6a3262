#version 450
// NEOX rotary embedding of q and k, and the KV-cache store of k and v, for the
// tokens t < n_tokens at positions pos + t (pos read from the step binding, so one
// recorded command buffer serves every step). QK-norm ran before, in rms_norm.comp.
//
// NEOX layout: in each head, element i rotates with element i + head_dim/2 by
// angle (pos + t) * pos_scale * base^(-2i/head_dim). The angles are not computed
// here: in fp32, pos * freq loses ~pos * 6e-8 radians, and GPU sin/cos are only
// specified to 2^-11 on [-pi, pi]. The host fills a two-level table in double:
//   row p_lo           (p_lo < 2^lo_bits):  (cos, sin) of p_lo * pos_scale * freq_i
//   row 2^lo_bits + p_hi (p_hi < n_hi):     (cos, sin) of p_hi * 2^lo_bits * pos_scale * freq_i
// and the angle of p = p_hi * 2^lo_bits + p_lo is their sum, combined with the
// angle-addition formulas: a few fp32 roundings at any position. Positions past the
// table (>= n_hi << lo_bits) read its last row: the host sizes it for the context.
//
// The KV cache of a layer holds K then V, each (kv_dim, n_slots) in one binding
// (f16 by default: halves packed in uint words; f32 with -DKV_F32). Position p goes
// to slot p % n_slots: sliding layers keep a ring.
//
// Work items, per token: each rotates two adjacent pairs of a q or k head, (i, i+1)
// with (i + half, i + 1 + half), so that a k item owns whole f16 words of the cache;
// then one item per two adjacent v values. q, k and v live in one activation
// binding (the planner's arena); outputs may alias their inputs (in place).
#extension GL_GOOGLE_include_directive : require
#include "g3_shared.h"

layout(local_size_x_id = G3_SPEC_WG_SIZE) in;

layout(std430, binding = G3_ROPE_KV_BINDING_STEP) readonly buffer Sb { uint S[]; };
layout(std430, binding = G3_ROPE_KV_BINDING_ACT) buffer Ab { float A[]; };
#ifdef KV_F32
layout(std430, binding = G3_ROPE_KV_BINDING_KV) writeonly buffer KVb { float KV[]; };
#else
layout(std430, binding = G3_ROPE_KV_BINDING_KV) writeonly buffer KVb { uint KV[]; };
#endif
layout(std430, binding = G3_ROPE_KV_BINDING_TABLE) readonly buffer Tb { vec2 T[]; };
layout(push_constant) uniform PC { g3_pc_rope_kv p; };

// (cos, sin) of position pos for frequency i.
vec2 angle(uint pos, uint i)
{
    const uint half_dim = p.head_dim / 2u;
    const uint lo = pos & ((1u << p.lo_bits) - 1u);
    const uint hi = min(pos >> p.lo_bits, p.n_hi - 1u);
    const vec2 a = T[lo * half_dim + i];
    const vec2 b = T[((1u << p.lo_bits) + hi) * half_dim + i];
    return vec2(a.x * b.x - a.y * b.y, a.y * b.x + a.x * b.y);
}

// Rotates pairs (i, i + half) and (i + 1, i + 1 + half) of the head at `in_b`,
// writes them at `out_b` and returns them as (x_i, x_i+1, x_i+half, x_i+1+half).
vec4 rotate2(uint in_b, uint out_b, uint i, uint pos)
{
    const uint half_dim = p.head_dim / 2u;
    const vec2 c0 = angle(pos, i), c1 = angle(pos, i + 1u);
    const vec2 a = vec2(A[in_b + i], A[in_b + i + 1u]);
    const vec2 b = vec2(A[in_b + half_dim + i], A[in_b + half_dim + i + 1u]);
    const vec4 y = vec4(a.x * c0.x - b.x * c0.y, a.y * c1.x - b.y * c1.y,
                        a.x * c0.y + b.x * c0.x, a.y * c1.y + b.y * c1.x);
    A[out_b + i] = y.x;
    A[out_b + i + 1u] = y.y;
    A[out_b + half_dim + i] = y.z;
    A[out_b + half_dim + i + 1u] = y.w;
    return y;
}

// Two adjacent values at even element offset e of the cache.
void store2(uint e, vec2 v)
{
#ifdef KV_F32
    KV[e] = v.x;
    KV[e + 1u] = v.y;
#else
    KV[e >> 1] = packHalf2x16(v);
#endif
}

void main()
{
    const uint t = gl_WorkGroupID.y;
    const uint it = gl_GlobalInvocationID.x;
    const uint quarter = p.head_dim / 4u, kv_dim = p.n_head_kv * p.head_dim;
    const uint n_q = p.n_head * quarter, n_k = p.n_head_kv * quarter, n_v = kv_dim / 2u;
    if (it >= n_q + n_k + n_v)
        return;
    const uint pos = S[p.pos_off] + t;
    const uint slot_e = (pos % p.n_slots) * kv_dim; // element of this slot's row
    if (it < n_q) {
        const uint h = it / quarter, i = 2u * (it % quarter);
        const uint w = t * p.n_head * p.head_dim + h * p.head_dim;
        rotate2(p.q_in + w, p.q_out + w, i, pos);
    } else if (it < n_q + n_k) {
        const uint h = (it - n_q) / quarter, i = 2u * ((it - n_q) % quarter);
        const uint w = t * kv_dim + h * p.head_dim;
        const vec4 y = rotate2(p.k_in + w, p.k_out + w, i, pos);
        const uint e = p.k_cache + slot_e + h * p.head_dim + i;
        store2(e, y.xy);
        store2(e + p.head_dim / 2u, y.zw);
    } else {
        const uint e = 2u * (it - n_q - n_k);
        const uint a = p.v_in + t * kv_dim + e;
        store2(p.v_cache + slot_e + e, vec2(A[a], A[a + 1u]));
    }
}
