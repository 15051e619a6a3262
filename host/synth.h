/* synth.h: writes a Gemma 3 GGUF file with seeded random weights, usable in
 * place of the real (gated, undownloadable) weights: same tensor names,
 * shapes, metadata keys and per-preset type mixes as llama.cpp's files.
 *
 * The weights are a pure function of (seed, tensor name, shape): an integer
 * PRNG (splitmix64) and IEEE float arithmetic only, no libm, so the same
 * options give byte-identical files on every machine.
 *
 * Distributions (those of shared/reference/mini-*.gguf, which make a model
 * whose greedy decoding does not just repeat tokens):
 *   matrices                 mean 0, std 0.02 (bell-shaped: sum of 3 uniforms)
 *   token_embd               mean 0, std 0.03 (logit std ~ 0.03 * sqrt(640) = 0.76)
 *   attn_norm, ffn_norm, attn_q_norm, attn_k_norm, output_norm
 *                            1 + noise of std 0.1 (GGUF stores Gemma's 1 + w)
 *   post_attention_norm, post_ffw_norm
 *                            10 + noise of std 1: the sublayers dominate the
 *                            residual stream, as in the trained model
 */
#ifndef G3_SYNTH_H
#define G3_SYNTH_H

#include "g3_internal.h"

/* Type presets, named as llama.cpp's quantize presets. Zero is the default (Q8_0). */
typedef enum g3_synth_preset {
    G3_SYNTH_DEFAULT = 0, /* = Q8_0 */
    G3_SYNTH_F32,
    G3_SYNTH_F16,
    G3_SYNTH_BF16,
    G3_SYNTH_Q8_0,
    G3_SYNTH_Q4_0,
    G3_SYNTH_Q4_1,
    G3_SYNTH_Q5_0,
    G3_SYNTH_Q5_1,
    G3_SYNTH_IQ4_NL,
    G3_SYNTH_Q4_K_M,
    G3_SYNTH_PRESET_COUNT
} g3_synth_preset;

/* "q8_0" etc.; "?" for an invalid value. */
const char *g3_synth_preset_name(g3_synth_preset p);
/* Case-insensitive; -1 when unknown. */
int g3_synth_preset_from_name(const char *name);
/* llama.cpp's general.file_type (llama_ftype) for a preset: q8_0 7, q4_k_m 15, ... */
uint32_t g3_synth_preset_file_type(g3_synth_preset p);

/* The tensors of a Gemma 3 file, in the order llama.cpp's converter writes them
 * (token_embd, then per layer attn_norm .. post_ffw_norm, then output_norm). */
typedef enum g3_synth_tensor {
    G3_ST_TOKEN_EMBD,
    G3_ST_ATTN_NORM,
    G3_ST_ATTN_Q,
    G3_ST_ATTN_K,
    G3_ST_ATTN_V,
    G3_ST_ATTN_OUTPUT,
    G3_ST_ATTN_Q_NORM,
    G3_ST_ATTN_K_NORM,
    G3_ST_POST_ATTENTION_NORM,
    G3_ST_FFN_NORM,
    G3_ST_FFN_GATE,
    G3_ST_FFN_UP,
    G3_ST_FFN_DOWN,
    G3_ST_POST_FFW_NORM,
    G3_ST_OUTPUT_NORM,
    G3_ST_COUNT
} g3_synth_tensor;

/* "attn_q" etc. (without "blk.N." and ".weight"). */
const char *g3_synth_tensor_name(g3_synth_tensor t);

/* The ggml type a preset gives a tensor of layer `layer` (of n_layer) whose
 * rows hold row_len weights. The mixes follow llama.cpp (see
 * shared/docs/gguf-and-quants.md):
 * - norms (1-D) are always F32;
 * - F32 / F16 / BF16: every matrix in that type, token_embd included;
 * - other presets: token_embd Q8_0 (it is the tied LM head);
 *   Q8_0/Q4_0/Q4_1/Q5_0/Q5_1: every other matrix in that type;
 *   IQ4_NL: attn_v Q5_1, the rest IQ4_NL (llama.cpp also moves two ffn_down
 *     of the 18-layer model to Q5_K, which we have no quantizer for);
 *   Q4_K_M: Q4_K, except attn_v and ffn_down on the "more bits" layers
 *     (llama.cpp's use_more_bits: l < n/8, l >= 7n/8, (l - n/8) % 3 == 2) get Q6_K;
 * - a K-quant whose 256-block does not divide the row falls back as in
 *   llama.cpp: Q4_K -> Q5_0, Q6_K -> Q8_0; a 32-block type that does not divide
 *   the row falls back to F16.
 * For the 270M shape this gives exactly llama.cpp's counts, for example
 * Q4_K_M: Q5_0 x81, Q4_K x27, Q6_K x9, Q8_0 x10. */
uint32_t g3_synth_tensor_type(g3_synth_preset p, g3_synth_tensor t, int layer, int n_layer,
                              int64_t row_len);

/* Options for g3_synth_write(). Zero-initialize: every zero field means the
 * default next to it (the google/gemma-3-270m shape). */
typedef struct g3_synth_options {
    int n_layer;            /* default 18                                           */
    int n_vocab;            /* default: the tokenizer's size, or 262144 without one  */
    int n_embd;             /* default 640                                          */
    int n_ff;               /* default 2048                                         */
    int n_head;             /* default 4                                            */
    int n_head_kv;          /* default 1                                            */
    int head_dim;           /* default 256                                          */
    int sliding_window;     /* default 512                                          */
    int swa_pattern;        /* default 6 (layer l is global when l % 6 == 5)        */
    int n_ctx_train;        /* default 32768                                        */
    uint64_t seed;          /* default 0 (a seed like any other)                    */
    g3_synth_preset preset; /* default Q8_0                                         */
    /* Vocabulary from a Hugging Face tokenizer.json, truncated to n_vocab (an
     * error when n_vocab exceeds it). NULL: a synthetic vocabulary (the Gemma 3
     * special and byte pieces at their real ids, then filler pieces) and
     * general.name says so. */
    const char *tokenizer_json;
    /* Its tokenizer_config.json (chat template, add_bos/add_eos). NULL: the
     * built-in Gemma 3 chat template and add_bos true. */
    const char *tokenizer_config;
    /* Refuse to write more than this many bytes of tensor data (the tensors are
     * held in memory until the file is written); default 0 = 8 GiB. */
    uint64_t max_bytes;
    /* Threads generating and quantizing rows; default 0 = the online CPUs. The
     * bytes written do not depend on it. */
    int n_threads;
} g3_synth_options;

/* Fills in the defaults of every zero field (n_vocab stays 0 when a tokenizer
 * will decide it). */
g3_synth_options g3_synth_options_resolve(const g3_synth_options *opt);

/* What was written. */
typedef struct g3_synth_result {
    uint64_t file_bytes;   /* size of the file                                  */
    uint64_t tensor_bytes; /* bytes of tensor data                              */
    uint64_t n_params;     /* weights in all tensors                            */
    uint32_t n_tensors;
    int n_vocab;
    uint32_t type_count[40]; /* tensors per ggml type id                        */
    double seconds;        /* wall time, tokenizer loading included             */
    char name[160];        /* general.name                                      */
} g3_synth_result;

/* Writes the file. opt may be NULL (all defaults); result may be NULL. Options
 * are validated (G3_ERR_INVALID_ARG with the field named); tokenizer errors are
 * those of vocab_json.h; writing errors G3_ERR_IO. On failure no file is
 * promised at path (a partial one may remain). */
g3_status g3_synth_write(const char *path, const g3_synth_options *opt, g3_synth_result *result,
                         g3_err *err);

#endif /* G3_SYNTH_H */
