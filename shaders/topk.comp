#version 450
// The k largest logits (k <= G3_TOPK_MAX_K), best first, ties to the lowest id: the
// candidates a top-k sampler needs, read back as k (id, value) pairs instead of the
// 1 MiB logits row.
//
// Two passes of this shader (spec constant FINAL), as argmax.comp:
//   pass 1: workgroup g selects the k best of logits [g * per_group, ...) and writes
//           them as (key, id) pairs (key 0 pads a slice with fewer than k logits);
//   FINAL:  one workgroup selects the k best of those n pairs and writes
//           (id, value bits) pairs.
// Selection is k rounds of a workgroup argmax. The order (key desc, id asc) is
// strict, so round r takes the best candidate ordered after round r-1's winner.
// Each invocation keeps its own best eligible candidate between rounds: only the
// invocation that owned the winner rescans its candidates (the others' bests still
// come after the winner), so a slice is read about once, not k times.
#extension GL_GOOGLE_include_directive : require
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#include "g3_shared.h"

layout(local_size_x_id = G3_SPEC_WG_SIZE) in;
layout(constant_id = G3_SELECT_SPEC_FINAL) const bool FINAL = false;

layout(std430, binding = G3_SELECT_BINDING_SRC) readonly buffer Sb { uint SRC[]; };
layout(std430, binding = G3_SELECT_BINDING_DST) writeonly buffer Db { uint DST[]; };
layout(push_constant) uniform PC { g3_pc_select p; };

#define G3_REDUCE_KEY
#include "reduce_ops.glsl"

// This invocation's best candidate in [start, end) ordered after (lk, li).
void scan(uint start, uint end, uint lk, uint li, out uint bk, out uint bi)
{
    bk = 0u;
    bi = 0xffffffffu;
    for (uint i = start + gl_LocalInvocationID.x; i < end; i += gl_WorkGroupSize.x) {
        uint k, d;
        if (FINAL) {
            k = SRC[p.src_off + 2u * i];
            d = SRC[p.src_off + 2u * i + 1u];
        } else {
            k = g3_order_key(SRC[p.src_off + i]);
            d = i;
        }
        if (g3_key_before(lk, li, k, d) && g3_key_before(k, d, bk, bi)) {
            bk = k;
            bi = d;
        }
    }
}

void main()
{
    const uint g = gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x;
    const uint start = FINAL ? 0u : g * p.per_group;
    if (start >= p.n) // the folded grid's overshoot; uniform per group
        return;
    const uint end = FINAL ? p.n : min(p.n, start + p.per_group);
    uint bk, bi;
    // 0xffffffff is above every real key (FLT_MAX's is 0xff7fffff): all eligible.
    scan(start, end, 0xffffffffu, 0u, bk, bi);
    for (uint r = 0u; r < p.k; r++) {
        uint wk = bk, wi = bi;
        g3_wg_best(wk, wi);
        if (gl_LocalInvocationID.x == 0u) {
            if (FINAL) {
                DST[p.dst_off + 2u * r] = wi;
                DST[p.dst_off + 2u * r + 1u] = g3_key_value(wk);
            } else {
                DST[p.dst_off + 2u * (g * p.k + r)] = wk;
                DST[p.dst_off + 2u * (g * p.k + r) + 1u] = wi;
            }
        }
        if (bk == wk && bi == wi)
            scan(start, end, wk, wi, bk, bi);
    }
}
