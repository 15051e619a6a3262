#version 450
// Smoke-test shader: y[out_off + i] = a * i + b for i < n. Proves the whole
// build -> embed -> pipeline -> dispatch -> readback chain, including the
// shared header and the spec-constant workgroup size.
#extension GL_GOOGLE_include_directive : require
#include "g3_shared.h"

layout(local_size_x_id = G3_SPEC_WG_SIZE) in;
layout(std430, binding = G3_FILL_BINDING_OUT) writeonly buffer Out { float y[]; };
layout(push_constant) uniform PC { g3_pc_fill p; };

void main()
{
    const uint i = gl_GlobalInvocationID.x;
    if (i < p.n)  // the last workgroup is partial whenever n % wg_size != 0
        y[p.out_off + i] = p.a * float(i) + p.b;
}
