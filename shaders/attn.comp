#version 450
// Attention of one query token over the cached positions [lo, pos]: lo = 0 on
// global layers (window 0), pos - window + 1 on sliding ones; pos is read from the
// step binding (replayable command buffers). K and V come from the layer's cache,
// f16 by default (halves packed in uint words) or f32 with -DKV_F32; all arithmetic
// is fp32.
//
// Split-K ("flash decoding"): the host records n_splits workgroups per (KV head,
// token), fixed at record time from the layer's longest possible span, since pos is
// unknown then. Each split takes a slice of the span sized from the actual length
// (whole tiles, so short spans leave the trailing splits empty and idle) and keeps
// an online softmax over it: running max m, sum l, unnormalized acc. With one
// split it normalizes and writes the output itself; otherwise it writes
// (m, l, acc[head_dim]) per query head, and attn_combine.comp merges the splits.
//
// A workgroup serves all GROUP query heads that share its KV head (GQA 4:1 on
// 270M), so each K and V row is read once for all of them. Tiles of WG positions:
// invocation i scores position base + i against every head (q in shared memory),
// then each invocation accumulates its own head_dim pairs over the tile's V rows.
// Reductions go through subgroups and one shared slot per subgroup: any subgroup
// size works.
#extension GL_GOOGLE_include_directive : require
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#include "g3_shared.h"

layout(local_size_x_id = G3_SPEC_WG_SIZE) in;
layout(constant_id = G3_ATTN_SPEC_HEAD_DIM) const uint HEAD_DIM = 256;
layout(constant_id = G3_ATTN_SPEC_GROUP) const uint GROUP = 4;

layout(std430, binding = G3_ATTN_BINDING_STEP) readonly buffer Sb { uint S[]; };
layout(std430, binding = G3_ATTN_BINDING_Q) readonly buffer Qb { float Q[]; };
#ifdef KV_F32
layout(std430, binding = G3_ATTN_BINDING_KV) readonly buffer KVb { float KV[]; };
#else
layout(std430, binding = G3_ATTN_BINDING_KV) readonly buffer KVb { uint KV[]; };
#endif
layout(std430, binding = G3_ATTN_BINDING_OUT) writeonly buffer Ob { float O[]; };
layout(push_constant) uniform PC { g3_pc_attn p; };

#define WG gl_WorkGroupSize.x
const uint HALF = HEAD_DIM / 2u;
const uint PPI = (HALF + WG - 1u) / WG; // head_dim pairs per invocation
// A finite "minus infinity": exp(NEG - m) is 0 with no inf - inf = NaN anywhere.
const float NEG = -3.402823466e38;

shared float qs[GROUP * HEAD_DIM]; // the group's queries, pre-scaled
shared float sc[GROUP * WG];       // the tile's probabilities, [head][position]
shared float red[GROUP * WG];      // one slot per (head, subgroup)

// Two adjacent cache values at even element offset e.
vec2 kv2(uint e)
{
#ifdef KV_F32
    return vec2(KV[e], KV[e + 1u]);
#else
    return unpackHalf2x16(KV[e >> 1]);
#endif
}

void main()
{
    const uint split = gl_WorkGroupID.x, kh = gl_WorkGroupID.y, t = gl_WorkGroupID.z;
    const uint tid = gl_LocalInvocationID.x;
    const uint kv_dim = (p.n_head / GROUP) * HEAD_DIM;
    const uint pos = S[p.pos_off] + t;
    const uint lo = (p.window == 0u || pos < p.window) ? 0u : pos - p.window + 1u;
    const uint n = pos - lo + 1u;
    // This split's slice [a, b): whole tiles of the actual span, so that a short
    // span runs in the first splits only.
    const uint chunk = ((n + p.n_splits - 1u) / p.n_splits + WG - 1u) / WG * WG;
    const uint a = lo + split * chunk;
    const uint b = a > pos ? a : min(a + chunk, pos + 1u);
    if (a == b) {
        // An idle split (never split 0, so never with n_splits = 1): an empty
        // record, which the combine skips, without loading q.
        for (uint g = 0u; g < GROUP; g++) {
            const uint pb = p.out_off + ((t * p.n_head + kh * GROUP + g) * p.n_splits + split) *
                                            (HEAD_DIM + 2u);
            for (uint i = tid; i < HEAD_DIM + 2u; i += WG)
                O[pb + i] = i == 0u ? NEG : 0.0;
        }
        return;
    }

    for (uint i = tid; i < GROUP * HEAD_DIM; i += WG)
        qs[i] = Q[p.q_off + t * p.q_stride + kh * GROUP * HEAD_DIM + i] * p.scale;
    barrier();

    float m[GROUP], l[GROUP];
    vec2 acc[GROUP * PPI];
    for (uint g = 0u; g < GROUP; g++) {
        m[g] = NEG;
        l[g] = 0.0;
        for (uint e = 0u; e < PPI; e++)
            acc[g * PPI + e] = vec2(0.0);
    }

    for (uint base = a; base < b; base += WG) { // uniform bounds: every invocation loops
        const uint j = base + tid;
        const bool valid = j < b;
        float s[GROUP];
        for (uint g = 0u; g < GROUP; g++)
            s[g] = valid ? 0.0 : NEG;
        if (valid) {
            const uint kb = p.k_cache + (j % p.n_slots) * kv_dim + kh * HEAD_DIM;
            for (uint d = 0u; d < HEAD_DIM; d += 2u) {
                const vec2 kk = kv2(kb + d);
                for (uint g = 0u; g < GROUP; g++)
                    s[g] += qs[g * HEAD_DIM + d] * kk.x + qs[g * HEAD_DIM + d + 1u] * kk.y;
            }
        }
        // The tile's max per head, then the online-softmax rescale.
        for (uint g = 0u; g < GROUP; g++) {
            const float v = subgroupMax(s[g]);
            if (subgroupElect())
                red[g * WG + gl_SubgroupID] = v;
        }
        barrier();
        for (uint g = 0u; g < GROUP; g++) {
            float tm = red[g * WG];
            for (uint q = 1u; q < gl_NumSubgroups; q++)
                tm = max(tm, red[g * WG + q]);
            const float mn = max(m[g], tm);
            const float alpha = exp(m[g] - mn);
            const float pj = valid ? exp(s[g] - mn) : 0.0;
            sc[g * WG + tid] = pj;
            l[g] = l[g] * alpha + pj; // this invocation's share; summed at the end
            for (uint e = 0u; e < PPI; e++)
                acc[g * PPI + e] *= alpha;
            m[g] = mn;
        }
        barrier();
        const uint cnt = min(WG, b - base);
        for (uint k = 0u; k < cnt; k++) {
            const uint vb = p.v_cache + ((base + k) % p.n_slots) * kv_dim + kh * HEAD_DIM;
            for (uint e = 0u; e < PPI; e++) {
                const uint pp = tid + e * WG;
                if (pp < HALF) {
                    const vec2 vv = kv2(vb + 2u * pp);
                    for (uint g = 0u; g < GROUP; g++)
                        acc[g * PPI + e] += sc[g * WG + k] * vv;
                }
            }
        }
        barrier(); // sc and red are rewritten by the next tile
    }

    // Sum of the invocations' shares of l (all were rescaled to the same m).
    for (uint g = 0u; g < GROUP; g++) {
        const float v = subgroupAdd(l[g]);
        if (subgroupElect())
            red[g * WG + gl_SubgroupID] = v;
    }
    barrier();
    for (uint g = 0u; g < GROUP; g++) {
        float sum = 0.0;
        for (uint q = 0u; q < gl_NumSubgroups; q++)
            sum += red[g * WG + q];
        const uint h = kh * GROUP + g;
        if (p.n_splits == 1u) {
            const uint ob = p.out_off + t * p.out_stride + h * HEAD_DIM;
            for (uint e = 0u; e < PPI; e++) {
                const uint pp = tid + e * WG;
                if (pp < HALF) {
                    const vec2 o = acc[g * PPI + e] / sum;
                    O[ob + 2u * pp] = o.x;
                    O[ob + 2u * pp + 1u] = o.y;
                }
            }
        } else {
            // Partial record: m, l, acc[HEAD_DIM].
            const uint pb = p.out_off + ((t * p.n_head + h) * p.n_splits + split) * (HEAD_DIM + 2u);
            if (tid == 0u) {
                O[pb] = m[g];
                O[pb + 1u] = sum;
            }
            for (uint e = 0u; e < PPI; e++) {
                const uint pp = tid + e * WG;
                if (pp < HALF) {
                    O[pb + 2u + 2u * pp] = acc[g * PPI + e].x;
                    O[pb + 3u + 2u * pp] = acc[g * PPI + e].y;
                }
            }
        }
    }
}
