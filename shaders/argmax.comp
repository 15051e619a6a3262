#version 450
// Greedy pick on the device: the id of the largest logit (ties to the lowest id),
// so that decoding reads back 8 bytes instead of the 1 MiB logits row.
//
// Two passes of this shader (spec constant FINAL):
//   pass 1: workgroup g reduces logits [g * per_group, ...) to its best (key, id);
//   FINAL:  one workgroup reduces those n pairs and writes (id, value bits).
// key = g3_order_key(value): an order-preserving uint, with NaN as -inf and +inf as
// FLT_MAX (the host sampler's rules), so a (key, id) pair reduces exactly with
// integer max/min. Pass 1's grid is folded into two dimensions when it exceeds the
// device's x limit.
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

void main()
{
    const uint g = gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x;
    const uint start = FINAL ? 0u : g * p.per_group;
    if (start >= p.n) // the folded grid's overshoot; uniform per group
        return;
    const uint end = FINAL ? p.n : min(p.n, start + p.per_group);
    uint key = 0u, id = 0xffffffffu; // key 0: no candidate yet
    for (uint i = start + gl_LocalInvocationID.x; i < end; i += gl_WorkGroupSize.x) {
        uint k, d;
        if (FINAL) {
            k = SRC[p.src_off + 2u * i];
            d = SRC[p.src_off + 2u * i + 1u];
        } else {
            k = g3_order_key(SRC[p.src_off + i]);
            d = i;
        }
        if (g3_key_before(k, d, key, id)) {
            key = k;
            id = d;
        }
    }
    g3_wg_best(key, id);
    if (gl_LocalInvocationID.x == 0u) {
        if (FINAL) {
            DST[p.dst_off] = id;
            DST[p.dst_off + 1u] = g3_key_value(key);
        } else {
            DST[p.dst_off + 2u * g] = key;
            DST[p.dst_off + 2u * g + 1u] = id;
        }
    }
}
