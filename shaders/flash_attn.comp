#version 450
// Flash attention for a chunk of query tokens (prefill). Token t of the chunk sits at
// position pos + t (pos read from the step binding: replayable recordings) and
// attends the cached positions [lo, pos + t]: lo = 0 on global layers (window 0),
// pos + t - window + 1 on sliding ones. K and V come from the layer's cache, f16 by
// default (halves packed in uint words) or f32 with -DKV_F32; all arithmetic is fp32.
//
// A workgroup holds WG_TOKENS tokens of the chunk for one KV head, in teams of TPT
// tokens x LANES invocations; each invocation owns HEAD_DIM / LANES dimensions of the
// RW = TPT x GROUP query rows of its team (GQA: one K or V load serves all the query
// heads of the KV head, 4 on 270M). Per KV position, each invocation forms its slice
// of the RW dot products, the team sums them with subgroupShuffleXor (a team is
// LANES aligned invocations of one subgroup: the host keeps LANES a power of two no
// larger than the device's smallest subgroup), and every invocation keeps the online
// softmax (running max m, sum l, unnormalized o for its slice) of the RW rows, in
// fp32. Positions go STEP at a time: one reduction and one rescale of o per STEP.
//
// Where K and V come from (spec constant DIRECT):
// - false (GPUs): the workgroup walks the positions any of its tokens needs,
//   [lo of its first token, its last token], in tiles of TILE positions that it loads
//   once into shared memory (as f32); each team masks the tile to its own range.
// - true (CPU-like devices): every team walks the same range straight from the
//   cache, masked likewise. On lavapipe (SIMD-8 subgroups run on one thread) a load
//   whose address differs per lane costs a per-lane loop per 32-bit word from shared
//   memory as from a buffer, so a shared tile only adds the stores and barriers
//   (270M, 512 tokens: 2x slower tiled).
// Also for lavapipe: the state (q, o, m, l) is indexed by constants only, in unrolled
// loops, so it stays in registers (a dynamically indexed array lives in memory, every
// access a per-lane loop); and the position loops have workgroup-uniform bounds, with
// per-token masks instead of per-token bounds (a loop whose trip count differs
// between invocations makes every register write in it a masked per-lane store: ~10x
// slower).
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_shuffle : require
#include "flash_attn.h"

layout(local_size_x_id = G3_SPEC_WG_SIZE) in;
layout(constant_id = G3_FATTN_SPEC_HEAD_DIM) const uint HEAD_DIM = 256;
layout(constant_id = G3_FATTN_SPEC_GROUP) const uint GROUP = 4;
layout(constant_id = G3_FATTN_SPEC_LANES) const uint LANES = 8;
layout(constant_id = G3_FATTN_SPEC_TILE) const uint TILE = 16;
layout(constant_id = G3_FATTN_SPEC_DIRECT) const bool DIRECT = false;
layout(constant_id = G3_FATTN_SPEC_KV_WORDS) const uint KVW = 4;
layout(constant_id = G3_FATTN_SPEC_TEAM_TOKENS) const uint TPT = 1;

layout(std430, binding = G3_FATTN_BINDING_STEP) readonly buffer Sb { uint S[]; };
// Scalar and 16-byte views of q and out: the vector ones serve when the host says
// offsets allow (p.vec; outside the hot loop, so a run-time test is fine).
layout(std430, binding = G3_FATTN_BINDING_Q) readonly buffer Qb { float Q[]; };
layout(std430, binding = G3_FATTN_BINDING_Q) readonly buffer Qb4 { vec4 Q4[]; };
// The cache in loads of KVW 32-bit words (spec constant: the host picks the widest
// its offsets allow).
layout(std430, binding = G3_FATTN_BINDING_KV) readonly buffer KVb1 { uint KV1[]; };
layout(std430, binding = G3_FATTN_BINDING_KV) readonly buffer KVb2 { uvec2 KV2[]; };
layout(std430, binding = G3_FATTN_BINDING_KV) readonly buffer KVb4 { uvec4 KV4[]; };
layout(std430, binding = G3_FATTN_BINDING_OUT) writeonly buffer Ob { float O[]; };
layout(std430, binding = G3_FATTN_BINDING_OUT) writeonly buffer Ob4 { vec4 O4[]; };
layout(push_constant) uniform PC { g3_pc_flash_attn p; };

#define WG gl_WorkGroupSize.x
const uint WG_TOKENS = WG / LANES * TPT; // tokens per workgroup
const uint RW = TPT * GROUP;     // query rows per invocation: [team token][head]
const uint DV = HEAD_DIM / LANES / 4u; // vec4 per invocation and row
const uint STEP = 4u;            // positions per online-softmax update (a bvec4 of them)
const uint NP = (RW * STEP + 3u) / 4u; // vec4 of partial dot products
const uint QV = HEAD_DIM / 4u;   // vec4 per head
// A finite "minus infinity": exp(NEG - m) is 0 with no inf - inf = NaN anywhere.
const float NEG = -3.402823466e38;

// (HEAD_DIM, TILE) each: the tile's keys and values as f32 (DIRECT: unused, TILE 1).
shared vec4 Ks[TILE * QV];
shared vec4 Vs[TILE * QV];

// Per-invocation state, indexed only by constants (unrolled loops): registers.
vec4 q[RW * DV];     // [row][vec4]: the slice of each row's query, pre-scaled
vec4 o[RW * DV];     // [row][vec4]: unnormalized output slice
vec4 kv[DV];         // one position's K or V slice
float m[RW], l[RW];
bvec4 ok[TPT];       // the STEP positions of attend() each team token attends
uint kv_dim;         // elements per cache row (all KV heads)
uint k_slice, v_slice; // element of this invocation's slice in row 0 of K and V

// 4 cache values from element e (a multiple of 4) of the KV binding, with loads of
// KVW words (the host makes e and every slice start multiples of the load).
vec4 cache4(uint e)
{
#ifdef KV_F32
    if (KVW == 4u)
        return uintBitsToFloat(KV4[e >> 2]);
    if (KVW == 2u)
        return vec4(uintBitsToFloat(KV2[e >> 1]), uintBitsToFloat(KV2[(e >> 1) + 1u]));
    return uintBitsToFloat(uvec4(KV1[e], KV1[e + 1u], KV1[e + 2u], KV1[e + 3u]));
#else
    if (KVW >= 2u) {
        const uvec2 w = KV2[e >> 2];
        return vec4(unpackHalf2x16(w.x), unpackHalf2x16(w.y));
    }
    return vec4(unpackHalf2x16(KV1[e >> 1]), unpackHalf2x16(KV1[(e >> 1) + 1u]));
#endif
}

// The DV vec4 of the cache from element e (this invocation's slice of a row) into kv.
void load_slice(uint e)
{
#ifndef KV_F32
    if (KVW == 4u) { // 8 halves per load (the host makes DV even)
        [[unroll]] for (uint i = 0u; i < DV / 2u; i++) {
            const uvec4 w = KV4[(e >> 3) + i];
            kv[2u * i] = vec4(unpackHalf2x16(w.x), unpackHalf2x16(w.y));
            kv[2u * i + 1u] = vec4(unpackHalf2x16(w.z), unpackHalf2x16(w.w));
        }
        return;
    }
#endif
    [[unroll]] for (uint i = 0u; i < DV; i++)
        kv[i] = cache4(e + 4u * i);
}

// Slice of position j into kv: from the cache (DIRECT: j is the slot) or from the
// shared tile (j is the tile row).
void slice_k(uint j, uint lane)
{
    if (DIRECT) {
        load_slice(k_slice + j * kv_dim);
    } else {
        [[unroll]] for (uint i = 0u; i < DV; i++)
            kv[i] = Ks[j * QV + lane * DV + i];
    }
}

void slice_v(uint j, uint lane)
{
    if (DIRECT) {
        load_slice(v_slice + j * kv_dim);
    } else {
        [[unroll]] for (uint i = 0u; i < DV; i++)
            kv[i] = Vs[j * QV + lane * DV + i];
    }
}

// STEP positions a, a + 1, ...: position a + s is attended by team token k where
// ok[k][s] (the loops run over the workgroup's range: uniform bounds, see main), and
// read at row r0 + s of its source (tile row or slot; rows past n - 1 repeat row
// r0 + n - 1; slots wrap at `wrap`).
void attend(uint r0, uint n, uint wrap, uint lane)
{
    // This invocation's share of the RW x STEP dot products, packed in vec4.
    vec4 part[NP];
    [[unroll]] for (uint i = 0u; i < NP; i++)
        part[i] = vec4(0.0);
    [[unroll]] for (uint s = 0u; s < STEP; s++) {
        uint r = r0 + min(s, n - 1u);
        if (r >= wrap)
            r -= wrap;
        slice_k(r, lane);
        [[unroll]] for (uint g = 0u; g < RW; g++) {
            vec4 acc = q[g * DV] * kv[0];
            [[unroll]] for (uint i = 1u; i < DV; i++)
                acc += q[g * DV + i] * kv[i];
            part[(g * STEP + s) / 4u][(g * STEP + s) % 4u] = (acc.x + acc.y) + (acc.z + acc.w);
        }
    }
    // The team's sum (a butterfly: every invocation ends with the totals).
    [[unroll]] for (uint mask = LANES / 2u; mask > 0u; mask /= 2u)
        [[unroll]] for (uint i = 0u; i < NP; i++)
            part[i] += subgroupShuffleXor(part[i], mask);

    float pr[RW * STEP];
    [[unroll]] for (uint g = 0u; g < RW; g++) {
        const bvec4 okg = ok[g / GROUP];
        float mx = NEG;
        [[unroll]] for (uint s = 0u; s < STEP; s++)
            mx = max(mx, okg[s] ? part[(g * STEP + s) / 4u][(g * STEP + s) % 4u] : NEG);
        const float mn = max(m[g], mx);
        const float alpha = exp(m[g] - mn);
        float sum = 0.0;
        [[unroll]] for (uint s = 0u; s < STEP; s++) {
            const float e = exp(part[(g * STEP + s) / 4u][(g * STEP + s) % 4u] - mn);
            pr[g * STEP + s] = okg[s] ? e : 0.0;
            sum += pr[g * STEP + s];
        }
        l[g] = l[g] * alpha + sum;
        m[g] = mn;
        [[unroll]] for (uint i = 0u; i < DV; i++)
            o[g * DV + i] *= alpha;
    }
    [[unroll]] for (uint s = 0u; s < STEP; s++) {
        uint r = r0 + min(s, n - 1u);
        if (r >= wrap)
            r -= wrap;
        slice_v(r, lane);
        [[unroll]] for (uint g = 0u; g < RW; g++)
            [[unroll]] for (uint i = 0u; i < DV; i++)
                o[g * DV + i] += pr[g * STEP + s] * kv[i];
    }
}

// Loads positions [base, base + cnt) of K and V into the shared tile (all invocations).
void load_tile(uint base, uint cnt)
{
    const uint s0 = base % p.n_slots; // later positions wrap at most once: cnt <= n_slots
    for (uint u = gl_LocalInvocationID.x; u < cnt * QV; u += WG) {
        const uint j = u / QV, c = u - j * QV;
        uint slot = s0 + j;
        if (slot >= p.n_slots)
            slot -= p.n_slots;
        const uint e = slot * kv_dim + gl_WorkGroupID.y * HEAD_DIM + 4u * c;
        Ks[u] = cache4(p.k_cache + e);
        Vs[u] = cache4(p.v_cache + e);
    }
}

// Positions a + s (s < STEP) that a token attending [lo, hi] keeps.
bvec4 in_range(uint a, uint lo, uint hi)
{
    const uvec4 pa = uvec4(a) + uvec4(0u, 1u, 2u, 3u);
    return bvec4(uvec4(greaterThanEqual(pa, uvec4(lo))) & uvec4(lessThanEqual(pa, uvec4(hi))));
}

void main()
{
    // Teams from the subgroup numbering, so that a team never straddles subgroups.
    const uint team = gl_SubgroupID * (gl_SubgroupSize / LANES) + gl_SubgroupInvocationID / LANES;
    const uint lane = gl_SubgroupInvocationID % LANES;
    const uint t0 = gl_WorkGroupID.x * WG_TOKENS; // the workgroup's first token
    const uint t1 = min(t0 + WG_TOKENS, p.n_tokens) - 1u;
    const uint pos = S[p.pos_off];
    // Each team token's range [lo, hi]; tokens past the chunk's end act as its last.
    uint lo[TPT], hi[TPT];
    [[unroll]] for (uint k = 0u; k < TPT; k++) {
        hi[k] = pos + min(t0 + team * TPT + k, t1);
        lo[k] = (p.window == 0u || hi[k] < p.window) ? 0u : hi[k] - p.window + 1u;
    }
    kv_dim = (p.n_head / GROUP) * HEAD_DIM;
    k_slice = p.k_cache + gl_WorkGroupID.y * HEAD_DIM + lane * DV * 4u;
    v_slice = p.v_cache + gl_WorkGroupID.y * HEAD_DIM + lane * DV * 4u;

    [[unroll]] for (uint g = 0u; g < RW; g++) {
        const uint qb = p.q_off + (hi[g / GROUP] - pos) * p.q_stride +
                        (gl_WorkGroupID.y * GROUP + g % GROUP) * HEAD_DIM + lane * DV * 4u;
        [[unroll]] for (uint i = 0u; i < DV; i++) {
            const uint e = qb + 4u * i;
            if ((p.vec & G3_FATTN_VEC_Q) != 0u)
                q[g * DV + i] = Q4[e >> 2] * p.scale;
            else
                q[g * DV + i] = vec4(Q[e], Q[e + 1u], Q[e + 2u], Q[e + 3u]) * p.scale;
            o[g * DV + i] = vec4(0.0);
        }
        m[g] = NEG;
        l[g] = 0.0;
    }

    // Every loop below has workgroup-uniform bounds, the workgroup's range [wlo, whi]
    // (tiles of it), and masks each team token's positions (see the top).
    const uint wq0 = pos + t0, whi = pos + t1;
    const uint wlo = (p.window == 0u || wq0 < p.window) ? 0u : wq0 - p.window + 1u;
    if (DIRECT) {
        // Straight from the cache: the slot of wlo, then consecutive slots, wrapping
        // once at most (the range is shorter than the ring).
        const uint s0 = wlo % p.n_slots;
        for (uint a = wlo; a <= whi; a += STEP) {
            [[unroll]] for (uint k = 0u; k < TPT; k++)
                ok[k] = in_range(a, lo[k], hi[k]);
            attend(s0 + (a - wlo), min(STEP, whi - a + 1u), p.n_slots, lane);
        }
    } else {
        for (uint base = wlo; base <= whi; base += TILE) {
            const uint cnt = min(TILE, whi - base + 1u);
            load_tile(base, cnt);
            barrier();
            for (uint a = 0u; a < cnt; a += STEP) {
                // Positions of the tile only (TILE need not be a multiple of STEP).
                [[unroll]] for (uint k = 0u; k < TPT; k++)
                    ok[k] = in_range(base + a, lo[k], min(hi[k], base + cnt - 1u));
                attend(a, min(STEP, cnt - a), TILE, lane);
            }
            barrier(); // the tile is rewritten next
        }
    }

    // Every live row attends at least its own position, so l > 0.
    [[unroll]] for (uint g = 0u; g < RW; g++) {
        const uint t = t0 + team * TPT + g / GROUP;
        if (t >= p.n_tokens)
            continue;
        const uint ob = p.out_off + t * p.out_stride +
                        (gl_WorkGroupID.y * GROUP + g % GROUP) * HEAD_DIM + lane * DV * 4u;
        const float inv = 1.0 / l[g];
        [[unroll]] for (uint i = 0u; i < DV; i++) {
            const uint e = ob + 4u * i;
            const vec4 v = o[g * DV + i] * inv;
            if ((p.vec & G3_FATTN_VEC_OUT) != 0u) {
                O4[e >> 2] = v;
            } else {
                O[e] = v.x;
                O[e + 1u] = v.y;
                O[e + 2u] = v.z;
                O[e + 3u] = v.w;
            }
        }
    }
}
