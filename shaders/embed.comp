#version 450
// x[t] = E[token_t] * scale: the token embedding gather, dequantized from the
// table's GGUF block format (one -D W_<TYPE> variant per type, decoders shared with
// matvec.comp through dequant.glsl), scaled in fp32 by sqrtf(n_embd).
//
// The token ids are read from the step binding, not pushed: the decode command
// buffer is recorded once and replayed for every token. The table may be split by
// rows into pieces (the 262144-row table exceeds a 128 MiB binding): the host
// records one dispatch per piece, and the workgroups of a piece that does not hold
// the token's row do nothing. A token id outside [0, n_vocab) writes nothing; the
// host validates ids before it writes them to the step buffer.
//
// Grid: x covers the row's dequant units, one unit per invocation; y is the token.
// From dequant.glsl this uses W[], the ALIGNED4 spec constant, MV_U, MV_RS, MV_TAIL,
// mv_units, mv_c0 and mv_deq: the same decoders as matvec.comp, so both kernels read
// a table identically.
#extension GL_GOOGLE_include_directive : require
#include "g3_shared.h"

layout(local_size_x_id = G3_SPEC_WG_SIZE) in;
layout(constant_id = G3_EMBED_SPEC_ALIGNED4) const bool ALIGNED4 = false;

layout(std430, binding = G3_EMBED_BINDING_STEP) readonly buffer Sb { uint S[]; };
// dequant.glsl reads the blocks from a uint[] named W.
layout(std430, binding = G3_EMBED_BINDING_W) readonly buffer Wb { uint W[]; };
layout(std430, binding = G3_EMBED_BINDING_Y) writeonly buffer Yb { float Y[]; };
layout(push_constant) uniform PC { g3_pc_embed p; };

#include "dequant.glsl"

#define NRUN (MV_U / 4)

void main()
{
    const uint t = gl_WorkGroupID.y;
    const uint tok = S[p.tok_off + t];
    // Unsigned: a token below row0 wraps to a huge row and is skipped too.
    const uint r = tok - p.row0;
    if (r >= p.n_rows)
        return;
    const uint u = gl_GlobalInvocationID.x;
    if (u >= mv_units(p.n_cols))
        return;
    vec4 w[NRUN];
    mv_deq(p.w_off + r * p.row_bytes, u, w);
    const uint c0 = mv_c0(u), yb = p.y_off + t * p.n_cols;
    for (uint k = 0u; k < NRUN; k++) {
        for (uint i = 0u; i < 4u; i++) {
            const uint c = c0 + k * MV_RS + i;
#ifdef MV_TAIL
            // The float types' last unit may run past the row: those lanes decoded
            // the next row's (or the padding's) bytes and must not be written.
            if (c >= p.n_cols)
                continue;
#endif
            Y[yb + c] = w[k][i] * p.scale;
        }
    }
}
