#version 450
// x[t] = E[token_t] * scale for a Q8_0 / Q4_0 / Q4_1 / Q5_0 / Q5_1 table in the "streams" layout of
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
#include "streams.glsl"

void main()
{
    const uint t = gl_WorkGroupID.y;
    const uint tok = S[p.tok_off + t];
    const uint r = tok - p.row0; // unsigned: a token below row0 wraps and is skipped
    const uint c = gl_GlobalInvocationID.x;
    if (r >= p.n_rows || c >= p.n_cols)
        return;
    const uint b = c / 32u;
    const uint so = p.w_off + st_soff() + G3_STREAMS_SCALE_OFF(r, b, st_sb());
    const float d = st_f16(W[so >> 2], so);
#if defined(W_Q8_0)
    const uint o = p.w_off + G3_STREAMS_QOFF(r, b, p.row_bytes, 32u) + c % 32u;
    const float w = float(bitfieldExtract(int(W[o >> 2]), int(8u * (o & 3u)), 8)) * d;
#else
    const uint j = c % 32u, o = p.w_off + G3_STREAMS_QOFF(r, b, p.row_bytes, 16u) + (j & 15u);
    uint q = bitfieldExtract(W[o >> 2], int(8u * (o & 3u) + (j < 16u ? 0u : 4u)), 4);
#ifdef ST_QH
    const uint ho = p.w_off + st_hoff() + G3_STREAMS_HOFF(r, b, st_hb());
    q |= bitfieldExtract(W[ho >> 2], int(j), 1) << 4;
#endif
#ifdef ST_MIN
    const uint mo = p.w_off + st_moff() + G3_STREAMS_SCALE_OFF(r, b, st_sb());
    const float w = float(q) * d + st_f16(W[mo >> 2], mo);
#else
    const float w = float(int(q) - int(ST_OFF)) * d;
#endif
#endif
    Y[p.y_off + t * p.n_cols + c] = w * p.scale;
}
