#version 450
// y = gelu_tanh(g) * u elementwise: the GeGLU of the Gemma feed-forward block.
//
// gelu_tanh(x) = 0.5 x (1 + tanh(z)), z = sqrt(2/pi) (x + 0.044715 x^3), evaluated
// as x / (1 + exp(-2z)), the same function: tanh through exp would divide inf by inf
// for |z| > ~44 (NaN on some drivers), while this form tends to x and to -0 cleanly,
// even where x^3 overflows to +-inf. fp32 throughout.
//
// One element per invocation; the grid is folded into two dimensions when it
// exceeds the device's x limit.
#extension GL_GOOGLE_include_directive : require
#include "g3_shared.h"

layout(local_size_x_id = G3_SPEC_WG_SIZE) in;

layout(std430, binding = G3_GELU_MUL_BINDING_G) readonly buffer Gb { float G[]; };
layout(std430, binding = G3_GELU_MUL_BINDING_U) readonly buffer Ub { float U[]; };
layout(std430, binding = G3_GELU_MUL_BINDING_Y) writeonly buffer Yb { float Y[]; };
layout(push_constant) uniform PC { g3_pc_gelu_mul p; };

void main()
{
    const uint i = (gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x) *
                   gl_WorkGroupSize.x + gl_LocalInvocationID.x;
    if (i >= p.n)
        return;
    const float x = G[p.g_off + i];
    const float z2 = -1.5957691216057308 * (x + 0.044715 * x * x * x); // -2z
    Y[p.y_off + i] = x / (1.0 + exp(z2)) * U[p.u_off + i];
}
