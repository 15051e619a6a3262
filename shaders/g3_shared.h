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

/* ---- scale.comp: y[out_off + i] = a * x[in_off + i] + b for i < n ---------------- */
#define G3_SCALE_BINDING_IN 0
#define G3_SCALE_BINDING_OUT 1

struct g3_pc_scale {
    G3_U32 n;       /* elements                                        */
    G3_U32 in_off;  /* element offset of x[0] in the input binding     */
    G3_U32 out_off; /* element offset of y[0] in the output binding    */
    float a;        /* scale (sqrt(n_embd) for the Gemma embedding)    */
    float b;        /* bias                                            */
};

#ifndef GL_core_profile
_Static_assert(sizeof(struct g3_pc_scale) == 20, "g3_pc_scale: push-constant layout");
#endif

/* ---- matvec.comp: y[t][r] = sum_c W[r][c] * x[t][c] (runtime/vk_matvec.c) ---------
 * W is bound as uint[] in its GGUF block layout (one piece of a split weight), x and
 * y as float[]. Offsets and strides count elements of the bound ranges; W's in bytes. */
#define G3_MATVEC_BINDING_W 0
#define G3_MATVEC_BINDING_X 1
#define G3_MATVEC_BINDING_Y 2
#define G3_MATVEC_SPEC_ROWS 1     /* rows per workgroup                              */
#define G3_MATVEC_SPEC_ALIGNED4 2 /* every 32-bit field is 4-byte aligned (bool)     */
#define G3_MATVEC_MAX_TOKENS 4    /* tokens per dispatch: accumulators per row      */
#define G3_MATVEC_PAD_BYTES 16    /* slack after a piece's last row (word-pair reads)*/

struct g3_pc_matvec {
    G3_U32 n_cols;   /* weights per row (x length)                                    */
    G3_U32 n_rows;   /* rows of this piece                                            */
    G3_U32 row_bytes;/* bytes per row in W                                            */
    G3_U32 w_off;    /* byte offset of the piece's row 0 in the W binding             */
    G3_U32 x_off;    /* element offset of token 0's x in the X binding                */
    G3_U32 x_stride; /* elements between two tokens' x                                */
    G3_U32 y_off;    /* element offset of (token 0, piece row 0) in the Y binding     */
    G3_U32 y_stride; /* elements between two tokens' y (the weight's total rows)      */
    G3_U32 n_tokens; /* 1..G3_MATVEC_MAX_TOKENS                                       */
};

#ifndef GL_core_profile
_Static_assert(sizeof(struct g3_pc_matvec) == 36, "g3_pc_matvec: push-constant layout");
#endif

#endif /* G3_SHARED_H */
