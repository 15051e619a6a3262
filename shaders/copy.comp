#version 450
// Storage-buffer copy, DST[i] = SRC[i] for i < n 16-byte words: not an op of the
// model but the yardstick of the kernel profiler. `g3vk bench --kernels` times it
// over buffers far larger than any cache, and the bandwidth it reaches is the
// "peak" that every kernel's GB/s is compared with, so the percentage is honest on
// any device (a number from a data sheet is not reachable by a shader on lavapipe).
//
// Grid-stride loop over a grid the host sizes to fill the device: adjacent
// invocations move adjacent 16-byte words (coalesced on GPUs, contiguous vectors on
// SIMD-on-CPU devices), and no invocation does a tail of its own.
#extension GL_GOOGLE_include_directive : require
#include "g3_shared.h"

layout(local_size_x_id = G3_SPEC_WG_SIZE) in;
layout(std430, binding = G3_COPY_BINDING_SRC) restrict readonly buffer Sb { uvec4 S[]; };
layout(std430, binding = G3_COPY_BINDING_DST) restrict writeonly buffer Db { uvec4 D[]; };
layout(push_constant) uniform PC { g3_pc_copy p; };

void main()
{
    const uint stride = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
    for (uint i = gl_GlobalInvocationID.x; i < p.n; i += stride)
        D[i] = S[i];
}
