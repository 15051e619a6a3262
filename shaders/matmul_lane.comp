#version 450
// Y[t][r] = sum_c W[r][c] X[t][c] for many tokens at once (prompt processing), on CPU
// devices (lavapipe): each invocation owns ROWS rows (tid, tid + wg, ...) and NT
// consecutive tokens, with ROWS x NT fp32 accumulators; all lanes walk the same
// columns in step. Each lane decodes its rows' units once and uses them for NT
// tokens; each x value serves the ROWS rows of every lane.
//
// Why this shape (lavapipe runs a subgroup as SIMD-8 on one CPU thread; measured with
// bench/bench_matmul.c and perf on the JIT code):
// - loads are what costs: a storage-buffer load whose address the compiler cannot
//   prove uniform (anything indexed by a loop counter) is a loop over the lanes with
//   a bounds check per component, so W comes through a uniform texel buffer and x
//   through a uniform buffer (matmul_common.glsl), both branch-free gathers; W is
//   decoded once per unit and row and reused NT times;
// - x: per step of 64 columns and token, lane l loads columns 8l..8l+7 (two vec4),
//   and every value then reaches all lanes by subgroupShuffle with a constant lane,
//   a register permute (a subgroupBroadcast inside a loop costs lavapipe a search
//   for the first active lane per value: 2x slower overall). That needs subgroups of
//   >= 8 full lanes: BCAST (host-checked); without it each lane reads the x values it
//   needs itself;
// - rows past the piece are clamped, not branched around, so that every lane stays
//   active; their sums are not stored. No barriers, no shared memory;
// - multiply-adds are plain: lavapipe splits fma() into a multiply and an add anyway.
// 4 rows x 8 tokens per invocation and 16 invocations per workgroup (the defaults)
// were as fast as any other mix measured, and compile in 1-3 s per pipeline.
//
// A step is SPAN columns: two 32-column groups, one 64-column group, or one
// 128-column group (matmul_common.glsl); the columns of a row past its last whole
// step (32-column types with an odd number of groups, float types of any width) go
// through a small loop over units (tail()).
#extension GL_GOOGLE_include_directive : require
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_shuffle : require
#define MM_LANE 1
#include "matmul_common.glsl"

layout(constant_id = G3_MM_SPEC_ROWS) const uint ROWS = 4;
layout(constant_id = G3_MM_SPEC_TOKENS) const uint NT = 4;
layout(constant_id = G3_MM_SPEC_BCAST) const bool BCAST = false;

#define SPAN (MM_XG_COLS > 64 ? MM_XG_COLS : 64)
#define GPS (SPAN / MM_XG_COLS) // groups per step
#define XLD (SPAN / 64)         // 8-float x loads per lane, token and step
#if MM_XG_COLS < 64 || defined(MV_TAIL)
#define MM_HAS_TAIL 1
#endif

float acc[ROWS][NT];
uint rh[ROWS];     // row handles (mm_row), clamped into the piece
uint xrow[NT];     // element of each token's x[0], clamped to the last token
vec4 xl[NT][XLD][2];

// x columns c0 + 64q + 8l .. + 7 of token t into xl[t][q] (lane l).
void load_x8(uint t, uint c0, uint q)
{
    const uint e = xrow[t] + c0 + 64u * q + 8u * (gl_SubgroupInvocationID & 7u);
    xl[t][q][0] = mm_x4(e);
    xl[t][q][1] = mm_x4(e + 4u);
}

// The x values of run i of unit j of group gi of the step at column c0, token t.
vec4 x_run(uint c0, uint gi, uint t, uint j, uint i)
{
    const uint c = gi * MM_XG_COLS + mm_run_col(j, i); // in the step: a constant
    if (BCAST)
        return subgroupShuffle(xl[t][c / 64u][(c % 8u) / 4u], (c % 64u) / 8u);
    return mm_x4(xrow[t] + c0 + c);
}

// acc[r][t] += unit w of row r times xv, for every token.
void fma_unit(uint r, vec4 w[NRUN], vec4 xv[NT][NRUN])
{
    [[unroll]] for (uint t = 0u; t < NT; t++)
        [[unroll]] for (uint i = 0u; i < NRUN; i++)
            [[unroll]] for (uint e = 0u; e < 4u; e++)
                acc[r][t] += w[i][e] * xv[t][i][e];
}

// Step s (columns s * SPAN ..): x loads, then every unit of its groups for every row
// and token.
void step(uint s)
{
    const uint c0 = s * SPAN;
    if (BCAST) {
        [[unroll]] for (uint t = 0u; t < NT; t++)
            [[unroll]] for (uint q = 0u; q < XLD; q++)
                load_x8(t, c0, q);
    }
#ifdef MM_STEP_LOCAL
    uint sw[ROWS][MM_SW];
    if (ROW4) {
        [[unroll]] for (uint r = 0u; r < ROWS; r++)
            mm_step_words(rh[r], s, sw[r]);
    }
#endif
    [[unroll]] for (uint gi = 0u; gi < GPS; gi++) {
        [[unroll]] for (uint j = 0u; j < MM_XG_UNITS; j++) {
            vec4 xv[NT][NRUN];
            [[unroll]] for (uint t = 0u; t < NT; t++)
                [[unroll]] for (uint i = 0u; i < NRUN; i++)
                    xv[t][i] = x_run(c0, gi, t, j, i);
            [[unroll]] for (uint r = 0u; r < ROWS; r++) {
                vec4 w[NRUN];
#ifdef MM_STEP_LOCAL
                if (ROW4) {
                    mm_sw = sw[r];
                    mm_local = true;
                    mv_deq_at(gi * MM_SBB, j, w); // byte offsets inside the step
                    mm_local = false;
                } else {
                    mm_deq_step(rh[r], s, gi, j, w);
                }
#else
                mm_deq_step(rh[r], s, gi, j, w);
#endif
                fma_unit(r, w, xv);
            }
        }
    }
}

#ifdef MM_HAS_TAIL
// The columns past the last whole step (a 32-column types' odd last group, a float
// row's last 1..63 columns): one unit at a time, x read directly and masked, W masked
// past the row (float types: the next row's bytes or the padding lie there; select,
// since a multiply would let a NaN through). Small on purpose: it runs once per row.
void tail(uint s)
{
    for (uint u = s * GPS * MM_XG_UNITS;; u++) {
        const uint g = u / MM_XG_UNITS, j = u % MM_XG_UNITS;
        const uint cu = g * MM_XG_COLS + mv_cb(j);
        if (cu >= p.n_cols)
            break; // units past the row: their W bytes may lie outside the binding
        vec4 xv[NT][NRUN];
        [[unroll]] for (uint t = 0u; t < NT; t++)
            [[unroll]] for (uint i = 0u; i < NRUN; i++)
                xv[t][i] = mm_x4_tail(xrow[t], cu + i * MV_RS);
        [[unroll]] for (uint r = 0u; r < ROWS; r++) {
            vec4 w[NRUN];
            mm_deq(rh[r], g / MM_GPB, (g % MM_GPB) * MM_XG_UNITS + j, w);
#ifdef MV_TAIL
            [[unroll]] for (uint e = 0u; e < 4u; e++)
                w[0][e] = cu + e < p.n_cols ? w[0][e] : 0.0;
#endif
            fma_unit(r, w, xv);
        }
    }
}
#endif

void main()
{
    uint rg, tg;
    if (!mm_groups(rg, tg))
        return;
    const uint wg = gl_WorkGroupSize.x;
    const uint rbase = rg * ROWS * wg + gl_LocalInvocationID.x;
    const uint t0 = tg * NT;
    [[unroll]] for (uint r = 0u; r < ROWS; r++) {
        rh[r] = mm_row(min(rbase + r * wg, p.n_rows - 1u));
        [[unroll]] for (uint t = 0u; t < NT; t++)
            acc[r][t] = 0.0;
    }
    [[unroll]] for (uint t = 0u; t < NT; t++)
        xrow[t] = p.x_off + min(t0 + t, p.n_tokens - 1u) * p.x_stride;

    const uint ns = p.n_cols / SPAN;
    for (uint s = 0u; s < ns; s++)
        step(s);
#ifdef MM_HAS_TAIL
    if (ns * SPAN < p.n_cols)
        tail(ns);
#endif

    [[unroll]] for (uint r = 0u; r < ROWS; r++) {
        const uint row = rbase + r * wg;
        [[unroll]] for (uint t = 0u; t < NT; t++)
            if (row < p.n_rows && t0 + t < p.n_tokens)
                Y[p.y_off + (t0 + t) * p.y_stride + row] = acc[r][t];
    }
}
