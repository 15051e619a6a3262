#version 450
// y[t][r] = sum_c W[r][c] * x[t][c]: the matrix-vector products of the decode path,
// for W in its GGUF block format (one -D W_<TYPE> variant per type; the block decoders
// are in dequant.glsl), x and y in fp32, fp32 accumulation.
//
// Two ways to share the work, chosen by the LANE_ROWS spec constant:
// - group (GPUs): a workgroup computes ROWS consecutive rows; its invocations stride
//   over the units of each row (adjacent invocations read adjacent words), each unit's
//   x is loaded once for the ROWS rows, and the partial sums meet through subgroupAdd
//   and then shared memory across subgroups. Any subgroup size works (8 lavapipe,
//   32/64 GPUs): the shared array holds one partial per invocation, the worst case.
// - lane (CPU devices): each invocation computes ROWS whole rows (rows tid, tid + wg,
//   ... of the group's block), walking the blocks of its rows in step with the other
//   lanes. No reduction, no barrier, and every word of a block is loaded once: on
//   lavapipe, where every load inside a loop costs a per-lane loop, that is what
//   counts (2-4x over the group form there).
// Tokens: NT (spec constant) accumulators per row; the host uses a 1-token pipeline
// for decode, since an unused token slot costs about as much as a used one.
//
// The dispatch grid may be folded into two dimensions (more groups than
// maxComputeWorkGroupCount[0]); the host runs one dispatch per piece of a weight
// that was split to fit maxStorageBufferRange, with the piece's rows in n_rows and
// its first output element in y_off.
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#include "g3_shared.h"

layout(local_size_x_id = G3_SPEC_WG_SIZE) in;
layout(constant_id = G3_MATVEC_SPEC_ROWS) const uint ROWS = 2;
layout(constant_id = G3_MATVEC_SPEC_ALIGNED4) const bool ALIGNED4 = false;
layout(constant_id = G3_MATVEC_SPEC_LANE_ROWS) const bool LANE_ROWS = false;
layout(constant_id = G3_MATVEC_SPEC_TOKENS) const uint NT = 1;

// restrict + readonly: loads may be merged and reordered (one load per word).
layout(std430, binding = G3_MATVEC_BINDING_W) restrict readonly buffer Wb { uint W[]; };
layout(std430, binding = G3_MATVEC_BINDING_X) restrict readonly buffer Xb { float X[]; };
layout(std430, binding = G3_MATVEC_BINDING_X) restrict readonly buffer Xb4 { vec4 X4[]; }; // alias
layout(std430, binding = G3_MATVEC_BINDING_Y) restrict writeonly buffer Yb { float Y[]; };
layout(push_constant) uniform PC { g3_pc_matvec p; };

#define MV_UNROLL [[unroll]]
#include "dequant.glsl"

#define NRUN (MV_U / 4)

shared float red[ROWS * NT * gl_WorkGroupSize.x];

float acc[ROWS][NT];
vec4 xv[NT][NRUN];

// xv = the x values of the unit whose first column is c0, for every token. tail: the
// unit may run past the row (float types only).
void load_x(uint c0, bool tail)
{
    MV_UNROLL for (uint t = 0u; t < NT; t++) {
        if (t < p.n_tokens) {
            const uint xb = p.x_off + t * p.x_stride + c0;
            MV_UNROLL for (uint k = 0u; k < NRUN; k++) {
                const uint xk = xb + k * MV_RS;
#ifdef MV_TAIL
                if (tail) {
                    // Never read past the row's x (it could be outside the binding),
                    // and give those columns 0.
                    vec4 v;
                    MV_UNROLL for (uint i = 0u; i < 4u; i++)
                        v[i] = c0 + k * MV_RS + i < p.n_cols ? X[xk + i] : 0.0;
                    xv[t][k] = v;
                } else {
                    // Rows of any length: x may sit at any 4-byte offset.
                    xv[t][k] = vec4(X[xk], X[xk + 1u], X[xk + 2u], X[xk + 3u]);
                }
#else
                // Runs start at multiples of 4 columns, rows are multiples of 32 and
                // the host binds x 16-byte aligned: one 16-byte load per run (one
                // per-lane loop instead of four on lavapipe).
                xv[t][k] = X4[xk >> 2];
#endif
            }
        }
    }
}

// acc[r] += unit w times xv, for every token.
void accumulate(uint r, vec4 w[NRUN])
{
    MV_UNROLL for (uint t = 0u; t < NT; t++) {
        if (t < p.n_tokens) {
            float s = 0.0;
            MV_UNROLL for (uint k = 0u; k < NRUN; k++)
                s += dot(w[k], xv[t][k]);
            acc[r][t] += s;
        }
    }
}

// Unit u of a row, from the generic decoder, masked past the row end for the float
// types (those bytes belong to the next row or the padding: select, not multiply,
// so that garbage NaNs cannot leak in).
void unit_any(uint r, uint rb, uint u)
{
    vec4 w[NRUN];
    mv_deq(rb, u, w);
#ifdef MV_TAIL
    const uint c0 = mv_c0(u);
    MV_UNROLL for (uint i = 0u; i < 4u; i++)
        w[0][i] = c0 + i < p.n_cols ? w[0][i] : 0.0;
#endif
    accumulate(r, w);
}

void lane_rows(uint rbase)
{
    const uint wg = gl_WorkGroupSize.x;
    const uint nblk = p.n_cols / MV_BV; // whole blocks; a float row may end in a part
    for (uint b = 0u; b < nblk; b++) {
        // Constant k: the decoders of one block share their word loads. Not for the
        // 16/32 units of a K-quant block: lavapipe then spends 10-25 s compiling each.
#if MV_UPB <= 8
        [[unroll]]
#else
        [[dont_unroll]]
#endif
        for (uint k = 0u; k < MV_UPB; k++) {
            load_x(b * MV_BV + mv_cb(k), false);
            MV_UNROLL for (uint r = 0u; r < ROWS; r++) {
                const uint row = rbase + r * wg;
                if (row < p.n_rows) {
                    vec4 w[NRUN];
                    mv_deq_at(p.w_off + row * p.row_bytes + b * MV_BB, k, w);
                    accumulate(r, w);
                }
            }
        }
    }
#ifdef MV_TAIL
    for (uint u = nblk * MV_UPB; u < mv_units(p.n_cols); u++) {
        load_x(mv_c0(u), true);
        for (uint r = 0u; r < ROWS; r++) {
            const uint row = rbase + r * wg;
            if (row < p.n_rows)
                unit_any(r, p.w_off + row * p.row_bytes, u);
        }
    }
#endif
    for (uint r = 0u; r < ROWS; r++) {
        const uint row = rbase + r * wg;
        for (uint t = 0u; t < NT; t++)
            if (row < p.n_rows && t < p.n_tokens)
                Y[p.y_off + t * p.y_stride + row] = acc[r][t];
    }
}

void group_rows(uint row0)
{
    const uint tid = gl_LocalInvocationID.x, wg = gl_WorkGroupSize.x;
    const uint nr = min(ROWS, p.n_rows - row0);
    const uint units = mv_units(p.n_cols);
    for (uint u = tid; u < units; u += wg) {
        load_x(mv_c0(u), true);
        for (uint r = 0u; r < ROWS; r++)
            if (r < nr)
                unit_any(r, p.w_off + (row0 + r) * p.row_bytes, u);
    }

    // Subgroups first, then one partial per subgroup in shared memory, laid out
    // [r][t][subgroup]. lavapipe (Mesa 22.3) reports gl_NumSubgroups rounded down when
    // the workgroup ends in a partial subgroup; the rounded-up count is never below
    // the true one, which a conformant driver reports.
    const uint nsg = max(gl_NumSubgroups, (wg + gl_SubgroupSize - 1u) / gl_SubgroupSize);
    for (uint r = 0u; r < ROWS; r++) {
        for (uint t = 0u; t < NT; t++) {
            if (r < nr && t < p.n_tokens) {
                const float s = subgroupAdd(acc[r][t]);
                if (subgroupElect())
                    red[(r * NT + t) * nsg + gl_SubgroupID] = s;
            }
        }
    }
    barrier();
    for (uint k = tid; k < ROWS * NT; k += wg) {
        const uint r = k / NT, t = k % NT;
        if (r < nr && t < p.n_tokens) {
            float s = 0.0;
            for (uint g = 0u; g < nsg; g++)
                s += red[k * nsg + g];
            Y[p.y_off + t * p.y_stride + row0 + r] = s;
        }
    }
}

void main()
{
    for (uint r = 0u; r < ROWS; r++)
        for (uint t = 0u; t < NT; t++)
            acc[r][t] = 0.0;
    const uint group = gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x;
    if (LANE_ROWS) {
        lane_rows(group * ROWS * gl_WorkGroupSize.x + gl_LocalInvocationID.x);
    } else {
        const uint row0 = group * ROWS;
        if (row0 < p.n_rows) // the folded grid may overshoot; uniform per group
            group_rows(row0);
    }
}
