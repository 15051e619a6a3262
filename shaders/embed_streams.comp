#version 450
// x[t] = E[token_t] * scale for a Q8_0 / Q4_0 table in the "streams" layout of
// matvec_streams.comp (the tied LM head on CPU devices; G3_STREAMS_* in g3_shared.h,
// p.row_bytes the quant bytes per row). Values as embed.comp computes them
// (float(q) * d, then * scale). One invocation per column; y is the token.
#extension GL_GOOGLE_include_directive : require
#include "g3_shared.h"

layout(local_size_x_id = G3_SPEC_WG_SIZE) in;

layout(std430, binding = G3_EMBED_BINDING_STEP) readonly buffer Sb { uint S[]; };
layout(std430, binding = G3_EMBED_BINDING_W) readonly buffer Wb { uint W[]; };
layout(std430, binding = G3_EMBED_BINDING_Y) writeonly buffer Yb { float Y[]; };
layout(push_constant) uniform PC { g3_pc_embed p; };

void main()
{
    const uint t = gl_WorkGroupID.y;
    const uint tok = S[p.tok_off + t];
    const uint r = tok - p.row0; // unsigned: a token below row0 wraps and is skipped
    const uint c = gl_GlobalInvocationID.x;
    if (r >= p.n_rows || c >= p.n_cols)
        return;
    const uint b = c / 32u;
    const uint so = p.w_off + G3_STREAMS_SOFF(p.n_rows, p.row_bytes) +
                    G3_STREAMS_SCALE_OFF(r, b, G3_STREAMS_SB(p.n_cols));
    const float d = unpackHalf2x16(W[so >> 2] >> ((so & 2u) << 3)).x;
#if defined(W_Q8_0)
    const uint o = p.w_off + G3_STREAMS_QOFF(r, b, p.row_bytes, 32u) + c % 32u;
    const float q = float(bitfieldExtract(int(W[o >> 2]), int(8u * (o & 3u)), 8));
#elif defined(W_Q4_0)
    const uint j = c % 32u, o = p.w_off + G3_STREAMS_QOFF(r, b, p.row_bytes, 16u) + (j & 15u);
    const uint nib = bitfieldExtract(W[o >> 2], int(8u * (o & 3u) + (j < 16u ? 0u : 4u)), 4);
    const float q = float(int(nib) - 8);
#elif defined(W_Q5_0)
    const uint j = c % 32u, o = p.w_off + G3_STREAMS_QOFF(r, b, p.row_bytes, 16u) + (j & 15u);
    const uint nib = bitfieldExtract(W[o >> 2], int(8u * (o & 3u) + (j < 16u ? 0u : 4u)), 4);
    const uint sb = G3_STREAMS_SB(p.n_cols);
    const uint ho = p.w_off + G3_STREAMS_BYTES(p.n_rows, p.row_bytes, sb) +
                    G3_STREAMS_HOFF(r, b, G3_STREAMS_HB(p.n_cols));
    const float q = float(int(nib | (bitfieldExtract(W[ho >> 2], int(j), 1) << 4)) - 16);
#else
#error "define W_Q8_0, W_Q4_0 or W_Q5_0"
#endif
    Y[p.y_off + t * p.n_cols + c] = q * d * p.scale;
}
