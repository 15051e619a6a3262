/* g3_shared.h: layouts shared by the C runtime and the GLSL shaders.
 *
 * Included by runtime/ and host C files and by the shaders (.comp files, through
 * GL_GOOGLE_include_directive). Keep to 32-bit scalars so a struct has the same
 * layout in C, in std430 buffers and in push-constant blocks; every struct has a
 * _Static_assert on its size so a field added on one side only fails the build.
 *
 * Rules (style.md 4.3): push constants carry what changes per dispatch, spec
 * constants what is fixed at pipeline creation (workgroup size, model dims),
 * #define variants only a type change. Binding numbers are named here. */
#ifndef G3_SHARED_H
#define G3_SHARED_H

#ifdef GL_core_profile
#define G3_U32 uint
#else
#include <stdint.h>
#define G3_U32 uint32_t
#endif

/* Specialization constant ids common to every pipeline. The workgroup size is a
 * spec constant (layout(local_size_x_id = G3_SPEC_WG_SIZE)) so it can follow the
 * device (subgroup size 8 on lavapipe, 32/64 on desktop GPUs) without a rebuild. */
#define G3_SPEC_WG_SIZE 0

/* ---- fill.comp: y[out_off + i] = a * i + b for i < n (the smoke-test kernel) ---- */
#define G3_FILL_BINDING_OUT 0

struct g3_pc_fill {
    G3_U32 n;       /* elements to write                              */
    G3_U32 out_off; /* element offset of y[0] in the output binding   */
    float a;        /* slope                                          */
    float b;        /* intercept                                      */
};

#ifndef GL_core_profile
_Static_assert(sizeof(struct g3_pc_fill) == 16, "g3_pc_fill: push-constant layout");
#endif

#endif /* G3_SHARED_H */
