/* matmul_shared.h: the layout matmul.comp and runtime/vk_matmul.c share (push
 * constants, bindings, specialization constants), included by both like g3_shared.h.
 * 32-bit scalars only, so the struct is the same in C and in a push-constant block. */
#ifndef G3_MATMUL_SHARED_H
#define G3_MATMUL_SHARED_H

#include "g3_shared.h"

/* Y[t][r] = sum_c W[r][c] X[t][c] for the rows of one piece of a weight. W is bound as
 * uint[] (GGUF blocks, or the STREAMS layout of matvec_streams.comp); X and Y as
 * float[] (X also as vec4[] where every token's x starts 16 bytes aligned). The lane
 * kernel binds W as a uniform texel buffer of uvec4 texels (the whole piece) and X as
 * a uniform buffer of at most G3_MM_XUBO_VEC4 vec4 (the tokens of one dispatch). */
#define G3_MM_BINDING_W 0
#define G3_MM_BINDING_X 1
#define G3_MM_BINDING_Y 2
#define G3_MM_XUBO_VEC4 4096 /* lane kernel: x of a dispatch in at most 64 KiB         */

/* Spec constant ids (0 = G3_SPEC_WG_SIZE, the workgroup size). */
#define G3_MM_SPEC_LANE 1     /* bool: lane kernel (CPU devices), else tiles          */
#define G3_MM_SPEC_ROWS 2     /* lane: rows per invocation; tiles: rows per tile      */
#define G3_MM_SPEC_TOKENS 3   /* lane: tokens per invocation; tiles: tokens per tile  */
#define G3_MM_SPEC_TM 4       /* tiles: rows per invocation (micro tile)              */
#define G3_MM_SPEC_TN 5       /* tiles: tokens per invocation (micro tile)            */
#define G3_MM_SPEC_ALIGNED4 6 /* bool: every 32-bit field of W 4-byte aligned         */
#define G3_MM_SPEC_XALIGN 7   /* 1: x_off and x_stride are multiples of 4 elements (x
                                 read as vec4); 0: floats                            */
#define G3_MM_SPEC_BCAST 8    /* bool, lane kernel: subgroups of >= 8 full lanes; x is
                                 loaded once per subgroup and spread by shuffles     */
#define G3_MM_SPEC_ROW4 9     /* bool, lane kernel: rows are multiples of 4 bytes (the
                                 32-value GGUF types then fetch a step's blocks as a
                                 few whole texels)                                   */

struct g3_pc_matmul {
    G3_U32 n_cols;     /* weights per row (x length)                                 */
    G3_U32 n_rows;     /* rows of this piece                                         */
    G3_U32 row_bytes;  /* bytes per row in W (STREAMS: quant bytes per row)          */
    G3_U32 x_off;      /* element offset of token 0's x in the X binding             */
    G3_U32 x_stride;   /* elements between two tokens' x                             */
    G3_U32 y_off;      /* element offset of (token 0, piece row 0) in the Y binding  */
    G3_U32 y_stride;   /* elements between two tokens' y (the weight's total rows)   */
    G3_U32 n_tokens;   /* tokens of this dispatch                                    */
    G3_U32 row_groups; /* workgroups along the rows; the grid is linearized as
                          token_group * row_groups + row_group and may be folded     */
    G3_U32 tok_groups; /* workgroups along the tokens                                */
};

#ifndef GL_core_profile
_Static_assert(sizeof(struct g3_pc_matmul) == 40, "g3_pc_matmul: push-constant layout");
#endif

#endif /* G3_MATMUL_SHARED_H */
