#version 450
// Merges the split-K partials of attn.comp: for each (query head, token), with the
// splits' running maxima m_s, sums l_s and unnormalized accumulators acc_s,
//   M = max m_s,  out = sum_s acc_s e^(m_s - M) / sum_s l_s e^(m_s - M).
// Splits that got no position (l_s = 0) are skipped, so their m never matters.
// One workgroup per (head, token); every invocation folds the few splits' weights
// itself (no reduction, no barrier) and writes its own output elements.
#extension GL_GOOGLE_include_directive : require
#include "g3_shared.h"

layout(local_size_x_id = G3_SPEC_WG_SIZE) in;

layout(std430, binding = G3_ATTN_COMBINE_BINDING_PART) readonly buffer Pb { float P[]; };
layout(std430, binding = G3_ATTN_COMBINE_BINDING_OUT) writeonly buffer Ob { float O[]; };
layout(push_constant) uniform PC { g3_pc_attn_combine p; };

void main()
{
    const uint h = gl_WorkGroupID.x, t = gl_WorkGroupID.y;
    const uint rec = p.head_dim + 2u;
    const uint pb = p.part_off + (t * p.n_head + h) * p.n_splits * rec;
    float mx = -3.402823466e38;
    for (uint s = 0u; s < p.n_splits; s++)
        if (P[pb + s * rec + 1u] > 0.0)
            mx = max(mx, P[pb + s * rec]);
    float sum = 0.0;
    for (uint s = 0u; s < p.n_splits; s++) {
        const float l = P[pb + s * rec + 1u];
        if (l > 0.0)
            sum += l * exp(P[pb + s * rec] - mx);
    }
    const float inv = 1.0 / sum;
    const uint ob = p.out_off + t * p.out_stride + h * p.head_dim;
    for (uint d = gl_LocalInvocationID.x; d < p.head_dim; d += gl_WorkGroupSize.x) {
        float acc = 0.0;
        for (uint s = 0u; s < p.n_splits; s++) {
            const float l = P[pb + s * rec + 1u];
            if (l > 0.0)
                acc += P[pb + s * rec + 2u + d] * exp(P[pb + s * rec] - mx);
        }
        O[ob + d] = acc * inv;
    }
}
