#version 450
// y[out_off + i] = a * x[in_off + i] + b for i < n: an elementwise affine map (the
// Gemma embedding scale by sqrt(n_embd) is a = sqrt(n_embd), b = 0). The smoke test
// also uses it as the reader in a write -> read dependency between two dispatches.
#extension GL_GOOGLE_include_directive : require
#include "g3_shared.h"

layout(local_size_x_id = G3_SPEC_WG_SIZE) in;
layout(std430, binding = G3_SCALE_BINDING_IN) readonly buffer In { float x[]; };
layout(std430, binding = G3_SCALE_BINDING_OUT) writeonly buffer Out { float y[]; };
layout(push_constant) uniform PC { g3_pc_scale p; };

void main()
{
    const uint i = gl_GlobalInvocationID.x;
    if (i < p.n)
        y[p.out_off + i] = p.a * x[p.in_off + i] + p.b;
}
