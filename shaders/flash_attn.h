/* flash_attn.h: the layout shared by runtime/vk_flash_attn.c and flash_attn.comp
 * (kept out of g3_shared.h so that the op stays in its own files; same rules: 32-bit
 * scalars only, a _Static_assert on the size). Offsets count elements of the bound
 * range (floats; halves of an f16 KV cache), as in g3_shared.h. */
#ifndef G3_FLASH_ATTN_H
#define G3_FLASH_ATTN_H

#include "g3_shared.h" /* G3_U32 */

#define G3_FATTN_BINDING_STEP 0
#define G3_FATTN_BINDING_Q 1
#define G3_FATTN_BINDING_KV 2
#define G3_FATTN_BINDING_OUT 3
/* Spec constant 0 (G3_SPEC_WG_SIZE) is the workgroup size = teams x LANES. */
#define G3_FATTN_SPEC_HEAD_DIM 1
#define G3_FATTN_SPEC_GROUP 2    /* query heads per KV head                             */
#define G3_FATTN_SPEC_LANES 3    /* invocations per token (a power of two, at most the
                                    device's smallest subgroup)                        */
#define G3_FATTN_SPEC_TILE 4     /* KV positions per shared-memory tile (>= 1)         */
#define G3_FATTN_SPEC_DIRECT 5   /* bool: read K/V from the cache, no shared tile       */
#define G3_FATTN_SPEC_KV_WORDS 6 /* 32-bit words per cache load: 1, 2 or 4              */
#define G3_FATTN_SPEC_TEAM_TOKENS 7 /* tokens per team (each invocation holds the query
                                       and output slices of all their heads)           */

/* Bits of g3_pc_flash_attn.vec: which tensors may be read or written as 16-byte
 * vectors (element offsets multiples of 4). */
#define G3_FATTN_VEC_Q 1u
#define G3_FATTN_VEC_OUT 2u

struct g3_pc_flash_attn {
    G3_U32 pos_off;    /* word of token 0's position in the step binding                */
    G3_U32 q_off;      /* element offset of token 0's q in Q                            */
    G3_U32 q_stride;   /* elements between two tokens' q (n_head * head_dim)            */
    G3_U32 out_off;    /* element offset of token 0's output in OUT                     */
    G3_U32 out_stride;
    G3_U32 k_cache;    /* element offset of slot 0 of K in KV                           */
    G3_U32 v_cache;
    G3_U32 n_slots;
    G3_U32 window;     /* 0: global (positions [0, pos + t]); else the last `window`    */
    G3_U32 n_tokens;
    G3_U32 n_head;
    float scale;       /* query scale (1/sqrt(head_dim) for Gemma 3 270M)               */
    G3_U32 vec;        /* G3_FATTN_VEC_* bits                                           */
};

#ifndef GL_core_profile
_Static_assert(sizeof(struct g3_pc_flash_attn) == 52, "g3_pc_flash_attn: push-constant layout");
#endif

#endif /* G3_FLASH_ATTN_H */
