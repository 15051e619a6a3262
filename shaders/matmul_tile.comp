#version 450
// Y[t][r] = sum_c W[r][c] X[t][c] for many tokens at once (prompt processing), on
// GPUs: a workgroup computes a tile of ROWS rows x NT tokens. Per column group (32,
// 64 or 128 columns, matmul_common.glsl) it dequantizes the tile's units of W into
// shared memory (each unit decoded once, by one invocation), copies the tokens' x
// values next to them, and every invocation then accumulates a TM x TN micro tile
// (rows tr, tr + ROWS/TM, ...; tokens tt, tt + NT/TN, ...) in fp32 registers. The
// host sizes ROWS, NT, TM, TN from the device's shared memory and workgroup limits
// (vk_matmul.c); the workgroup has (ROWS/TM) * (NT/TN) invocations.
//
// Shared rows are MM_XG_COLS + 1 floats apart, so that the invocations reading one
// column of different rows hit different banks. No subgroup operations: any device.
#extension GL_GOOGLE_include_directive : require
#include "matmul_common.glsl"

layout(constant_id = G3_MM_SPEC_ROWS) const uint ROWS = 32;
layout(constant_id = G3_MM_SPEC_TOKENS) const uint NT = 32;
layout(constant_id = G3_MM_SPEC_TM) const uint TM = 4;
layout(constant_id = G3_MM_SPEC_TN) const uint TN = 4;

#define SSTR (MM_XG_COLS + 1u)

shared float ws[ROWS * SSTR];
shared float xs[NT * SSTR];

// Dequantizes the tile's units of group g into ws (zeros past n_cols).
void load_w(uint g, uint row0)
{
    const uint tid = gl_LocalInvocationID.x, wg = gl_WorkGroupSize.x;
    const uint blk = g / MM_GPB, k0 = (g % MM_GPB) * MM_XG_UNITS;
    for (uint u = tid; u < ROWS * MM_XG_UNITS; u += wg) {
        const uint r = u / MM_XG_UNITS, j = u % MM_XG_UNITS;
        const uint c0 = g * MM_XG_COLS + mv_cb(j);
        vec4 w[NRUN];
        if (c0 < p.n_cols) {
            mm_deq(mm_row(min(row0 + r, p.n_rows - 1u)), blk, k0 + j, w);
#ifdef MV_TAIL
            [[unroll]] for (uint i = 0u; i < 4u; i++)
                w[0][i] = c0 + i < p.n_cols ? w[0][i] : 0.0; // select: no NaN leaks
#endif
        } else {
            [[unroll]] for (uint i = 0u; i < NRUN; i++)
                w[i] = vec4(0.0);
        }
        [[unroll]] for (uint i = 0u; i < NRUN; i++)
            [[unroll]] for (uint e = 0u; e < 4u; e++)
                ws[r * SSTR + mm_run_col(j, i) + e] = w[i][e];
    }
}

// Copies the tile's tokens' x values of group g into xs (zeros past n_cols).
void load_x(uint g, uint t0)
{
    const uint tid = gl_LocalInvocationID.x, wg = gl_WorkGroupSize.x;
    const uint q = MM_XG_COLS / 4u;
    for (uint v = tid; v < NT * q; v += wg) {
        const uint t = v / q, c4 = 4u * (v % q);
        const uint xr = p.x_off + min(t0 + t, p.n_tokens - 1u) * p.x_stride;
        const uint c = g * MM_XG_COLS + c4;
        vec4 xv;
        if (c + 4u <= p.n_cols)
            xv = mm_x4(xr + c);
        else
            xv = mm_x4_tail(xr, c);
        [[unroll]] for (uint e = 0u; e < 4u; e++)
            xs[t * SSTR + c4 + e] = xv[e];
    }
}

void main()
{
    uint rg, tg;
    if (!mm_groups(rg, tg))
        return; // uniform per workgroup, before any barrier
    const uint tid = gl_LocalInvocationID.x;
    const uint MR = ROWS / TM, MN = NT / TN;
    const uint tr = tid % MR, tt = tid / MR;
    const uint row0 = rg * ROWS, t0 = tg * NT;
    float acc[TM][TN];
    [[unroll]] for (uint i = 0u; i < TM; i++)
        [[unroll]] for (uint j = 0u; j < TN; j++)
            acc[i][j] = 0.0;

    const uint ng = (p.n_cols + MM_XG_COLS - 1u) / MM_XG_COLS;
    for (uint g = 0u; g < ng; g++) {
        load_w(g, row0);
        load_x(g, t0);
        barrier();
        for (uint k = 0u; k < MM_XG_COLS; k++) {
            float a[TM], b[TN];
            [[unroll]] for (uint i = 0u; i < TM; i++)
                a[i] = ws[(tr + i * MR) * SSTR + k];
            [[unroll]] for (uint j = 0u; j < TN; j++)
                b[j] = xs[(tt + j * MN) * SSTR + k];
            [[unroll]] for (uint i = 0u; i < TM; i++)
                [[unroll]] for (uint j = 0u; j < TN; j++)
                    acc[i][j] += a[i] * b[j];
        }
        barrier();
    }

    [[unroll]] for (uint i = 0u; i < TM; i++) {
        const uint row = row0 + tr + i * MR;
        [[unroll]] for (uint j = 0u; j < TN; j++) {
            const uint t = t0 + tt + j * MN;
            if (row < p.n_rows && t < p.n_tokens)
                Y[p.y_off + t * p.y_stride + row] = acc[i][j];
        }
    }
}
