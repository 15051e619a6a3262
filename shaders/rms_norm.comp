#version 450
// Gemma RMSNorm over groups of n values: y = x / sqrt(mean(x^2) + eps) * w, with w
// as GGUF stores it (Gemma's 1 + w already added by the converter). A group is a
// residual-stream row (n = 640) or one head of q or k (n = head_dim: QK-norm). With
// FUSE_ADD (the NORM_ADD op) the residual r is added: y = r + rmsnorm(x) * w, which
// saves a dispatch and a round trip of the residual stream per sub-layer.
//
// One workgroup per group, grid folded into two dimensions when the groups exceed
// the device's x limit. All arithmetic is fp32: the residual stream of trained Gemma
// models overflows fp16.
//
// y may alias x, and (with FUSE_ADD) r: every element is read and then written by
// the same invocation, after the group's sum has been taken.
//
// NORM2 (with FUSE_ADD): then the next sub-layer's input norm of the new residual
// row, y2 = rmsnorm(y) * w2 (w2 in W, y2 in Y, disjoint from y): the post-norm +
// residual of one sub-layer and the pre-norm of the next in one dispatch (on
// lavapipe every dispatch costs tens of microseconds, whatever its size).
#extension GL_GOOGLE_include_directive : require
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#include "g3_shared.h"

layout(local_size_x_id = G3_SPEC_WG_SIZE) in;
layout(constant_id = G3_RMS_NORM_SPEC_FUSE_ADD) const bool FUSE_ADD = false;
layout(constant_id = G3_RMS_NORM_SPEC_NORM2) const bool NORM2 = false;

layout(std430, binding = G3_RMS_NORM_BINDING_X) readonly buffer Xb { float X[]; };
layout(std430, binding = G3_RMS_NORM_BINDING_W) readonly buffer Wb { float Wn[]; };
layout(std430, binding = G3_RMS_NORM_BINDING_Y) buffer Yb { float Y[]; };
// Always bound (the plain variant binds x again) so both variants share one layout.
layout(std430, binding = G3_RMS_NORM_BINDING_R) readonly buffer Rb { float R[]; };
layout(push_constant) uniform PC { g3_pc_rms_norm p; };

#define G3_REDUCE_F32
#include "reduce_ops.glsl"

void main()
{
    const uint g = gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x;
    if (g >= p.n_groups) // the folded grid's last line may overshoot; uniform per group
        return;
    const uint tid = gl_LocalInvocationID.x;
    const uint xb = p.x_off + g * p.n;
    float ss = 0.0;
    for (uint i = tid; i < p.n; i += gl_WorkGroupSize.x) {
        const float v = X[xb + i];
        ss += v * v;
    }
    ss = g3_wg_sum(ss);
    const float scale = inversesqrt(ss / float(p.n) + p.eps);
    const uint yb = p.y_off + g * p.n, rb = p.r_off + g * p.n;
    float ss2 = 0.0;
    for (uint i = tid; i < p.n; i += gl_WorkGroupSize.x) {
        float v = X[xb + i] * scale * Wn[p.w_off + i];
        if (FUSE_ADD)
            v += R[rb + i];
        Y[yb + i] = v;
        ss2 += v * v;
    }
    if (NORM2) {
        // Each invocation reads back only what it wrote itself: no barrier needed.
        ss2 = g3_wg_sum(ss2);
        const float scale2 = inversesqrt(ss2 / float(p.n) + p.eps);
        const uint y2b = p.y2_off + g * p.n;
        for (uint i = tid; i < p.n; i += gl_WorkGroupSize.x)
            Y[y2b + i] = Y[yb + i] * scale2 * Wn[p.w2_off + i];
    }
}
