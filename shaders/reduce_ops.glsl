// reduce_ops.glsl: workgroup-wide reductions that hold for any subgroup size (8 on
// lavapipe, 32 on NVIDIA, 16..64 elsewhere) and any workgroup size.
//
// Pattern: a subgroup operation, then one slot per subgroup in shared memory, then
// every invocation folds the slots itself, in the same order, so all of them get the
// bitwise same result without a third barrier. The shared arrays are sized for the
// worst case of one invocation per subgroup (gl_WorkGroupSize.x slots): a device may
// run a workgroup in partly filled subgroups.
//
// Include after `layout(local_size_x_id = ...) in;` with GL_KHR_shader_subgroup_basic
// and _arithmetic enabled. Define, before including, the families you use (unused
// shared arrays would still be allocated):
//   G3_REDUCE_F32  g3_wg_sum, g3_wg_max (one float)
//   G3_REDUCE_KEY  g3_wg_best (an order key with an id: max key, ties to the lowest id)
// Every function contains barriers: call it from uniform control flow only.

#ifdef G3_REDUCE_F32
shared float g3_red_f32[gl_WorkGroupSize.x];

float g3_wg_sum(float v)
{
    v = subgroupAdd(v);
    if (subgroupElect())
        g3_red_f32[gl_SubgroupID] = v;
    barrier();
    float t = 0.0;
    for (uint s = 0u; s < gl_NumSubgroups; s++)
        t += g3_red_f32[s];
    barrier(); // the slots are free for the next call
    return t;
}

float g3_wg_max(float v)
{
    v = subgroupMax(v);
    if (subgroupElect())
        g3_red_f32[gl_SubgroupID] = v;
    barrier();
    float t = g3_red_f32[0];
    for (uint s = 1u; s < gl_NumSubgroups; s++)
        t = max(t, g3_red_f32[s]);
    barrier();
    return t;
}
#endif

// ---- order keys: select the largest value, ties to the lowest id -------------------

// An unsigned key that orders like the float it encodes, after the host sampler's
// conventions (host/sampler.c): NaN is -inf and +inf is FLT_MAX, so that no value
// beats a finite maximum by being undefined; -0 is +0 so that the two tie as floats
// do. Works on the bits: no NaN test a fast-math compiler could fold away. Every real
// value maps above 0, so key 0 means "no candidate".
uint g3_order_key(uint u)
{
    const uint a = u & 0x7fffffffu;
    if (a > 0x7f800000u)
        u = 0xff800000u; // NaN -> -inf
    else if (u == 0x7f800000u)
        u = 0x7f7fffffu; // +inf -> FLT_MAX
    else if (a == 0u)
        u = 0u;          // -0 -> +0
    return (u & 0x80000000u) != 0u ? ~u : (u | 0x80000000u);
}

// The float bits of a key (the inverse of g3_order_key on its image).
uint g3_key_value(uint key)
{
    return (key & 0x80000000u) != 0u ? (key & 0x7fffffffu) : ~key;
}

// (ka, ia) comes before (kb, ib): larger key, or the same key and a smaller id.
bool g3_key_before(uint ka, uint ia, uint kb, uint ib)
{
    return ka > kb || (ka == kb && ia < ib);
}

#ifdef G3_REDUCE_KEY
shared uint g3_red_key[gl_WorkGroupSize.x];
shared uint g3_red_id[gl_WorkGroupSize.x];

// The best (key, id) over the workgroup, written back into key and id for everyone.
void g3_wg_best(inout uint key, inout uint id)
{
    const uint k = subgroupMax(key);
    const uint i = subgroupMin(key == k ? id : 0xffffffffu);
    if (subgroupElect()) {
        g3_red_key[gl_SubgroupID] = k;
        g3_red_id[gl_SubgroupID] = i;
    }
    barrier();
    key = g3_red_key[0];
    id = g3_red_id[0];
    for (uint s = 1u; s < gl_NumSubgroups; s++) {
        if (g3_key_before(g3_red_key[s], g3_red_id[s], key, id)) {
            key = g3_red_key[s];
            id = g3_red_id[s];
        }
    }
    barrier();
}
#endif
