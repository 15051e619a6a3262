/* g3.h: the public API of g3vk, an engine for Google's Gemma 3 (270M and its
 * larger siblings) on Vulkan GPUs, with an exact CPU reference.
 *
 * Contracts that hold for every function below:
 * - Every fallible call returns a g3_status; G3_OK is zero, errors are negative.
 *   The detail (file, field, tensor, byte offset, limit) is in g3_last_error()
 *   of the object, or in the err buffer the call takes.
 * - Every *_free(NULL) is a no-op. Every **out is NULL after a failure.
 * - The library never calls exit() or abort() on bad input, never frees caller
 *   memory, and never asserts on bytes it read from a file.
 * - Thread-safety: a g3_model is immutable after load and may be shared by
 *   several contexts; one g3_context is used by one thread at a time.
 */
#ifndef G3_H
#define G3_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- status ------------------------------------------------------------ */

#define G3_STATUS_LIST(X)                                                    \
    X(G3_OK, 0, "ok")                                                        \
    X(G3_ERR_INVALID_ARG, -1, "invalid argument")                           \
    X(G3_ERR_IO, -2, "file could not be opened, read or mapped")            \
    X(G3_ERR_FORMAT, -3, "malformed model file")                            \
    X(G3_ERR_UNSUPPORTED, -4, "unsupported model, type or feature")         \
    X(G3_ERR_OUT_OF_MEMORY, -5, "out of memory")                            \
    X(G3_ERR_NO_DEVICE, -6, "no usable Vulkan device")                      \
    X(G3_ERR_DEVICE, -7, "a Vulkan call failed")                            \
    X(G3_ERR_DEVICE_LOST, -8, "Vulkan device lost")                         \
    X(G3_ERR_CONTEXT_FULL, -9, "context full")

typedef enum g3_status {
#define G3_X(name, value, text) name = value,
    G3_STATUS_LIST(G3_X)
#undef G3_X
} g3_status;

/* A static English string for a status; never NULL. */
const char *g3_status_string(g3_status st);

/* ---- model --------------------------------------------------------------- */

typedef struct g3_model g3_model;     /* weights + hyperparameters; immutable after load */
typedef struct g3_context g3_context; /* one timeline: KV cache, activations, logits     */

typedef enum g3_backend {
    G3_BACKEND_AUTO = 0, /* best Vulkan device, else the CPU (with a message why) */
    G3_BACKEND_CPU = 1,  /* the exact CPU reference                              */
    G3_BACKEND_VULKAN = 2,
} g3_backend;

/* Options for g3_model_load(). Zero-initialize and set only what you need:
 * every field's zero value means the default written next to it. */
/* Progress of a long step (loading weights): done of total bytes. */
typedef void (*g3_progress_fn)(uint64_t done, uint64_t total, void *user);

typedef struct g3_model_options {
    g3_backend backend;      /* default G3_BACKEND_AUTO                               */
    int n_threads;           /* CPU threads; default 0 = number of online CPUs         */
    int device;              /* Vulkan device, 1-based as `g3vk devices` lists them;
                                default 0 = the best (discrete > integrated > cpu)   */
    g3_progress_fn progress; /* default NULL: no progress reports (weights loading from
                                disk on the CPU, uploading to the device on Vulkan)   */
    void *progress_user;     /* passed back to progress                                */
} g3_model_options;

/* Hyperparameters as read from the file (defaults applied). */
typedef struct g3_model_info {
    char arch[32];          /* "gemma3"                                     */
    char name[128];         /* general.name, "" when absent                 */
    int n_vocab;            /* 262144 for the real tokenizer                */
    int n_embd;             /* hidden size, 640                             */
    int n_layer;            /* 18                                           */
    int n_ff;               /* 2048                                         */
    int n_head;             /* query heads, 4                               */
    int n_head_kv;          /* KV heads, 1                                  */
    int head_dim;           /* 256 (key_length == value_length)             */
    int n_ctx_train;        /* context_length, 32768                        */
    int sliding_window;     /* 512                                          */
    int swa_pattern;        /* every swa_pattern-th layer is global, 6      */
    float rms_eps;          /* 1e-6                                         */
    float rope_base;        /* global layers, 1e6                           */
    float rope_base_swa;    /* sliding layers, 1e4                          */
    float query_scale;      /* 1/sqrt(head_dim)                             */
    bool tied_output;       /* LM head is token_embd.weight                 */
    bool has_tokenizer;     /* the file holds a usable vocabulary           */
    int32_t token_bos;      /* <bos> (2), -1 when absent                    */
    int32_t token_eos;      /* <eos> (1)                                    */
    int32_t token_eot;      /* <end_of_turn> (106): ends a chat reply       */
    g3_backend backend;     /* what runs the model: CPU or VULKAN            */
    char device[256];       /* the Vulkan device name, or "CPU reference"   */
    char backend_note[320]; /* why AUTO chose the CPU; "" otherwise          */
    uint64_t n_params;      /* weights in all tensors                       */
    uint64_t n_bytes;       /* bytes of tensor data in the file             */
} g3_model_info;

/* Loads a Gemma 3 GGUF file. On success *out owns the model (the file stays
 * mapped); release it with g3_model_free(). On failure *out is NULL and, when
 * err is not NULL, err holds a message naming the file and the problem.
 * opt may be NULL (all defaults). */
g3_status g3_model_load(const char *path, const g3_model_options *opt, g3_model **out,
                        char *err, size_t err_cap);
void g3_model_free(g3_model *model);

/* Borrowed; valid while the model lives. */
const g3_model_info *g3_model_get_info(const g3_model *model);

/* Why the last g3_context_create on this model failed ("" if it did not):
 * the device, the tensor that did not fit, the limit. Borrowed. */
const char *g3_model_last_error(const g3_model *model);

/* ---- text ---------------------------------------------------------------- */

/* Tokenizes len bytes of UTF-8 text with the model's vocabulary (Gemma 3's
 * SentencePiece-style BPE with byte fallback). add_bos puts <bos> first;
 * parse_special maps control-token text such as "<start_of_turn>" to its id
 * (otherwise it is plain text). Invalid UTF-8 bytes go through byte fallback.
 * Returns the number of ids the text needs and stores min(that, cap) of them
 * (call with cap 0 to size), or a negative g3_status (G3_ERR_UNSUPPORTED when
 * the model has no vocabulary). */
int g3_tokenize(const g3_model *model, const char *text, size_t len, bool add_bos,
                bool parse_special, int32_t *tokens, int cap);

/* Decodes ids into UTF-8 (byte pieces reassembled; control tokens skipped when
 * skip_special). Returns the byte length and stores min(that, cap) bytes,
 * NUL-terminated when shorter than cap; or a negative g3_status. */
int g3_detokenize(const g3_model *model, const int32_t *tokens, int n, bool skip_special,
                  char *text, int cap);

/* ---- context ------------------------------------------------------------- */

typedef struct g3_context_options {
    int n_ctx;   /* KV cache positions; default 0 = 4096 (capped at n_ctx_train) */
    bool kv_f32; /* Vulkan: f32 KV cache; default false = f16                      */
    bool kv_f16; /* CPU: round stored K/V to f16 as the Vulkan default does (to
                    compare the two exactly); default false = f32                    */
    int n_batch; /* Vulkan: most prompt tokens one prefill step processes together
                    (matrix-matrix products, flash attention); longer inputs run in
                    chunks. Default 0 = 512; 1 = token by token. Capped at n_ctx.    */
    bool profile; /* Vulkan: time every dispatch with timestamp queries and keep a
                     per-kernel profile (g3_context_get_profile); costs a little per
                     dispatch. Default false: the recorded steps hold no query.      */
} g3_context_options;

/* Creates a context (KV cache and activations) for a model. The model must
 * outlive the context. On Vulkan this uploads the weights (with progress
 * reports) and records the decode step. */
g3_status g3_context_create(g3_model *model, const g3_context_options *opt, g3_context **out);
void g3_context_free(g3_context *ctx);

/* Appends n tokens at the current position. When want_logits is true the
 * logits after the last token are computed (g3_context_logits); otherwise the
 * LM head is skipped. Returns G3_ERR_CONTEXT_FULL when the tokens do not fit
 * (nothing is appended), G3_ERR_INVALID_ARG for a token id outside the
 * vocabulary. */
g3_status g3_context_eval(g3_context *ctx, const int32_t *tokens, int n, bool want_logits);

/* Like g3_context_eval, and the logits of every one of the n tokens into
 * logits (n * n_vocab floats, row i after token i): what `g3vk logits` and
 * perplexity need. On Vulkan the LM head runs in chunks of a few dozen rows. */
g3_status g3_context_eval_all(g3_context *ctx, const int32_t *tokens, int n, float *logits);

/* Logits (n_vocab floats) after the last evaluated token whose logits were
 * requested; borrowed, valid until the next eval or reset. NULL before any. */
const float *g3_context_logits(const g3_context *ctx);

/* Memory a context holds on its device (all zero on the CPU backend). */
typedef struct g3_context_memory {
    uint64_t weights;     /* the weight buffers on the device: GGUF blocks, or a few %
                             more where CPU devices re-lay 32-value types out into
                             STREAMS; norms as f32                                   */
    uint64_t kv_cache;    /* sliding layers a ring of window entries, global n_ctx   */
    uint64_t activations; /* the planner's arena: peak of live activations           */
    uint64_t scratch;     /* attention partials, argmax, step and logits readback    */
    uint64_t activations_decode; /* the 1-token step's peak (activations is the
                                    largest step's: the prefill chunk's)           */
    int n_batch;          /* largest prefill step in use (tokens): -b, or less once a
                             layer of it outlasted the GPU submission budget          */
} g3_context_memory;

g3_context_memory g3_context_get_memory(const g3_context *ctx);

/* Number of tokens in the KV cache. */
int g3_context_n_past(const g3_context *ctx);

/* Forgets all tokens; keeps the buffers. */
void g3_context_reset(g3_context *ctx);

/* The last error message of this context, "" if none. Borrowed. */
const char *g3_context_error(const g3_context *ctx);

/* ---- profiling ------------------------------------------------------------ */

/* One kernel (at one shape) of a context's profile: what the Vulkan backend's
 * dispatches of that kernel took, summed over the steps run since the context
 * was created or its profile reset. Time comes from timestamp queries around
 * every dispatch (GPU time; on a GPU, dispatches without a barrier between them
 * may overlap, and each is charged the time since the previous one, so the
 * times add up to the GPU time). Bytes are what the dispatch reads and writes
 * at least: the ranges its shader binds (readonly bindings read, writeonly
 * written), except where a kernel binds more than it touches (attention reads
 * K and V of the positions it attends, the embedding gather one row per token). */
typedef struct g3_profile_entry {
    char kernel[40];  /* shader variant: "matvec_streams_q8_0_u", "attn_f16", "copy"   */
    char op[24];      /* op kind: "matvec", "embed", "rms_norm", "rope_kv", "attn", ... */
    char type[16];    /* weight type ("q8_0", "q4_k"), KV type for rope_kv / attn;
                         "" for kernels without one                                  */
    char variant[16]; /* the rest of the variant name ("streams_u"), "" when none     */
    char shape[32];   /* matvec "640x2048" (columns x rows), rms_norm "640x1" (values
                         x groups), attn "window 512" / "global"; "" otherwise        */
    uint64_t calls;   /* dispatches                                                  */
    uint64_t ns;      /* GPU time, nanoseconds                                       */
    uint64_t bytes_read, bytes_written;
} g3_profile_entry;

typedef struct g3_profile_info {
    bool supported;        /* the context records timestamps                          */
    char note[320];        /* why not, when not supported (CPU backend, no profile
                              option, a device without timestamps); "" otherwise     */
    uint64_t submissions;  /* recordings run (a decode step is one or a few)          */
    uint64_t gpu_ns;       /* their summed GPU time, first to last timestamp each     */
    int n_entries;
} g3_profile_info;

/* Copies min(n_entries, cap) entries of the context's profile, in the order the
 * kernels were first recorded, into entries (may be NULL when cap is 0) and the
 * totals into *info (may be NULL). Returns n_entries (0 and info->supported false,
 * with the reason, when the context does not profile). */
int g3_context_get_profile(const g3_context *ctx, g3_profile_entry *entries, int cap,
                           g3_profile_info *info);

/* Forgets the profile's entries and totals (profiling continues). */
void g3_context_reset_profile(g3_context *ctx);

#ifdef __cplusplus
}
#endif
#endif /* G3_H */
