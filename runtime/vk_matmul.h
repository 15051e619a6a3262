/* vk_matmul.h: matrix-matrix products for prompt processing (prefill), y[t][r] =
 * sum_c W[r][c] * x[t][c] for a chunk of up to hundreds of tokens in one pass, for
 * every weight type the loader accepts (F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1,
 * IQ4_NL, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_XS), on weights uploaded by vk_matvec.h
 * (GGUF blocks, or Q8_0 / Q4_0 in its STREAMS layout; split by rows into pieces).
 * Activations are fp32, sums are fp32; each weight value is decoded with the same
 * float operations as the matvec kernels and the CPU reference (only the order of the
 * sums differs).
 *
 * Two kernels, chosen by device type:
 * - TILE (GPUs): a workgroup dequantizes a tile of W's rows into shared memory next
 *   to a tile of tokens' x and accumulates register micro tiles; tile sizes follow the
 *   device's shared memory and workgroup limits.
 * - LANE (CPU devices such as lavapipe): each invocation owns a few rows and tokens,
 *   all lanes walk the same columns; W (a uniform texel buffer) is decoded once per
 *   unit and reused for every token, x (a uniform buffer holding the tokens of one
 *   dispatch) is loaded once per subgroup and spread by subgroup shuffles.
 * No cooperative-matrix path (VK_KHR_cooperative_matrix) yet.
 *
 * The contracts of vk.h hold here too (statuses, err messages, NULL-safe frees, one
 * thread per context). */
#ifndef G3_VK_MATMUL_H
#define G3_VK_MATMUL_H

#include "vk.h"
#include "vk_matvec.h" /* g3_vk_weight */

typedef enum g3_vk_matmul_mode {
    G3_VK_MATMUL_AUTO = 0, /* LANE on CPU devices that can run it, TILE elsewhere      */
    G3_VK_MATMUL_TILE = 1, /* shared-memory tiles (matmul_tile.comp): GPUs            */
    G3_VK_MATMUL_LANE = 2, /* rows per invocation (matmul_lane.comp): SIMD-on-CPU
                              devices; needs subgroup shuffles and 16 KiB uniform
                              buffers; a weight it cannot bind (one token's x larger
                              than a uniform buffer, a piece larger than a texel view)
                              goes to the tile kernel                                 */
} g3_vk_matmul_mode;

/* Zero-initialize and set only what you need; zero means "the device's default"
 * (tests and benchmarks force sizes). */
typedef struct g3_vk_matmul_options {
    g3_vk_matmul_mode mode;
    uint32_t rows;         /* LANE: rows per invocation; TILE: rows per workgroup tile
                              (the most: halved per type until the tile fits the
                              device's shared memory)                                */
    uint32_t tokens;       /* LANE: tokens per invocation; TILE: tokens per tile     */
    uint32_t wg_size;      /* LANE: invocations per workgroup (TILE derives it:
                              (rows / tile_m) * (tokens / tile_n))                    */
    uint32_t tile_m;       /* TILE: rows per invocation (micro tile)                  */
    uint32_t tile_n;       /* TILE: tokens per invocation (micro tile)                */
    /* (In LANE mode the tile kernel, used for weights the lane kernel cannot bind,
       takes its defaults.)                                                           */
    uint32_t max_groups_x; /* cap on workgroups per dispatch dimension, below
                              maxComputeWorkGroupCount (tests force the fold)         */
    uint32_t max_x_bytes;  /* LANE: cap on the x bytes one dispatch binds, below the
                              device's uniform-buffer range (tests force small token
                              chunks, and the tile kernel for wide rows)              */
} g3_vk_matmul_options;

typedef struct g3_vk_matmul g3_vk_matmul;

/* Resolves the options against the device (g3_vk_matmul_get_options shows the result).
 * G3_ERR_UNSUPPORTED when the asked kernel does not fit the device (named: workgroup
 * size, shared memory, Vulkan version); G3_ERR_INVALID_ARG for sizes that do not
 * divide (TILE: rows by tile_m, tokens by tile_n). opt may be NULL. Creates no
 * pipeline: they are created per weight type by g3_vk_matmul_prepare or at the first
 * record that needs them. */
g3_status g3_vk_matmul_create(g3_vk_context *ctx, const g3_vk_matmul_options *opt,
                              g3_vk_matmul **out, g3_err *err);
/* Frees the pipelines; the GPU must no longer use them. NULL is a no-op. */
void g3_vk_matmul_free(g3_vk_matmul *mm);
/* The options in force (defaults resolved; TILE rows/tokens before the per-type
 * shared-memory fit). */
g3_vk_matmul_options g3_vk_matmul_get_options(const g3_vk_matmul *mm);

/* Whether g3_vk_matmul_record accepts weights of this ggml type id (every type
 * g3_vk_weight_upload accepts). */
bool g3_vk_matmul_type_supported(uint32_t type);

/* Creates the pipelines a product with w needs (its type, layout and alignment; for
 * F32/F16/BF16 both x alignments), so that recording creates none. Pipelines are
 * shared by the weights that need the same one. lavapipe compiles a pipeline at its
 * first dispatch (1-3 s for the lane kernel): record the prefill step at load time. */
g3_status g3_vk_matmul_prepare(g3_vk_matmul *mm, const g3_vk_weight *w, g3_err *err);

/* Records y = W x for n_tokens tokens, with the buffer contract of
 * g3_vk_matvec_record: x holds n_tokens rows of cols floats from byte x_offset, y
 * receives n_tokens rows of rows floats from byte y_offset; x_offset a multiple of 16
 * for the block types and of 4 for F32/F16/BF16, y_offset a multiple of 4. Emits one
 * dispatch per piece of W and per token chunk: chunks keep each binding within its
 * limit (lane kernel: x in a uniform buffer, 64 KiB on lavapipe: 25 tokens of 640
 * columns, 8 of 2048; tile kernel: maxStorageBufferRange). Barriers only between its
 * own dispatches whose bound output ranges overlap (the pieces of one chunk); implies
 * no barrier before or after. Reads W's pieces whole (the lane kernel binds each as a
 * texel buffer) and x and y only in the ranges it uses. Errors are kept in cmd as for
 * g3_vk_cmd_dispatch: G3_ERR_INVALID_ARG for out-of-range or misaligned buffers,
 * n_tokens 0, a kernel set of another context; pipeline creation failures. */
g3_status g3_vk_matmul_record(g3_vk_cmd *cmd, g3_vk_matmul *mm, const g3_vk_weight *w,
                              g3_vk_buffer *x, uint64_t x_offset, g3_vk_buffer *y,
                              uint64_t y_offset, uint32_t n_tokens);

#endif /* G3_VK_MATMUL_H */
