/* vk.h: the Vulkan backend boundary. Host code (engine, CLI, tests, bench) talks
 * to the GPU only through this header, and no Vulkan type appears in it: code that
 * only lists devices or drives dispatches needs neither vulkan.h nor volk.h. The
 * runtime's own files share Vulkan-typed internals through vk_internal.h.
 *
 * Contracts that hold for every function below:
 * - Fallible calls return a g3_status (G3_OK = 0) and, when err is not NULL, put a
 *   message naming the failing Vulkan call or the missing feature in it. A VkResult
 *   never asserts: VK_ERROR_OUT_OF_{HOST,DEVICE}_MEMORY -> G3_ERR_OUT_OF_MEMORY,
 *   VK_ERROR_DEVICE_LOST -> G3_ERR_DEVICE_LOST (sticky on the context: every later
 *   call on it returns it), anything else -> G3_ERR_DEVICE.
 * - G3_ERR_NO_DEVICE means exactly "no Vulkan device exists": the loader is missing,
 *   no driver is installed, or the drivers report zero physical devices. A device that
 *   exists but lacks a required feature gives G3_ERR_UNSUPPORTED naming the feature.
 * - Every *_free(NULL) is a no-op; every **out is NULL after a failure.
 * - Thread-safety: one g3_vk_context (and everything created from it) is used by one
 *   thread at a time. Different contexts may be used from different threads.
 * - Device indexes are 1-based, as `g3vk devices` prints them; 0 means "choose".
 */
#ifndef G3_VK_H
#define G3_VK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "g3_internal.h"
#include "g3_shader_ids.h"

/* ---- options --------------------------------------------------------------------- */

/* Zero-initialize and set only what you need; resolved in one place
 * (g3_vk_options_resolve), where the environment fills what the caller left at zero:
 *   G3_VK_DEVICE=N       choose device N (1-based) instead of the automatic choice
 *   G3_VK_VALIDATION=1   enable the Khronos validation layer (with sync validation) */
typedef struct g3_vk_options {
    int device;      /* default 0 = automatic: discrete > integrated > virtual > CPU  */
    bool validation; /* default false (or G3_VK_VALIDATION=1): VK_LAYER_KHRONOS_validation
                        with synchronization validation, and a messenger that counts and
                        prints every warning and error                               */
    bool quiet;      /* default false: validation messages are printed to stderr;
                        true: only counted (tests that provoke them on purpose)       */
    /* default NULL; called for every validation warning/error, from whichever thread
       the layer reports on, until g3_vk_context_free returns: unlike the context's
       count it also sees what the layer reports while the context is destroyed
       (leaked objects). */
    void (*validation_fn)(void *user, bool is_error, const char *message);
    void *validation_user; /* passed back to validation_fn */
} g3_vk_options;

/* Applies the environment and defaults. Returns G3_ERR_INVALID_ARG when G3_VK_DEVICE
 * or G3_VK_VALIDATION holds something other than a number. opt may be NULL. */
g3_status g3_vk_options_resolve(const g3_vk_options *opt, g3_vk_options *out, g3_err *err);

/* ---- devices --------------------------------------------------------------------- */

typedef enum g3_vk_device_type {
    G3_VK_DEVICE_OTHER = 0,
    G3_VK_DEVICE_INTEGRATED = 1,
    G3_VK_DEVICE_DISCRETE = 2,
    G3_VK_DEVICE_VIRTUAL = 3,
    G3_VK_DEVICE_CPU = 4, /* same values as VkPhysicalDeviceType */
} g3_vk_device_type;

/* Subgroup operations (same bits as VkSubgroupFeatureFlagBits). */
enum {
    G3_VK_SUBGROUP_BASIC = 1u << 0,
    G3_VK_SUBGROUP_VOTE = 1u << 1,
    G3_VK_SUBGROUP_ARITHMETIC = 1u << 2,
    G3_VK_SUBGROUP_BALLOT = 1u << 3,
    G3_VK_SUBGROUP_SHUFFLE = 1u << 4,
    G3_VK_SUBGROUP_SHUFFLE_RELATIVE = 1u << 5,
    G3_VK_SUBGROUP_CLUSTERED = 1u << 6,
    G3_VK_SUBGROUP_QUAD = 1u << 7,
};

/* A snapshot of what the engine needs to know about one physical device: limits that
 * shape the plan (binding range, allocation size, workgroup limits, subgroup size),
 * the features that select shader variants, and whether it is usable at all. */
typedef struct g3_vk_device_info {
    int index;               /* 1-based, in the order the loader enumerates devices   */
    char name[256];          /* deviceName                                            */
    g3_vk_device_type type;
    uint32_t vendor_id;      /* PCI vendor (0x10de NVIDIA, 0x1002 AMD, 0x8086 Intel),
                                or a Khronos id (0x10005 Mesa) for software devices  */
    uint32_t device_id;
    uint32_t api_version;    /* the device's VK_MAKE_API_VERSION                      */
    uint32_t driver_version; /* raw, vendor-encoded: see g3_vk_driver_version_string  */
    uint32_t driver_id;      /* VkDriverId, 0 when the driver does not say            */
    char driver_name[256];   /* "llvmpipe", "NVIDIA", "" when unknown                 */
    char driver_info[256];   /* "Mesa 22.3.6 (LLVM 15.0.6)"                           */

    /* limits */
    uint64_t max_storage_buffer_range;     /* largest bytes one binding may see      */
    uint64_t max_memory_allocation_size;   /* largest single VkDeviceMemory (Maint3) */
    uint64_t min_storage_buffer_offset_alignment; /* binding offsets are multiples   */
    uint32_t max_storage_buffers_per_stage;
    uint32_t max_push_constants_size;
    uint32_t max_uniform_buffer_range;     /* largest bytes one uniform binding may see */
    uint32_t max_texel_buffer_elements;    /* texels one texel-buffer view may see     */
    uint64_t min_uniform_buffer_offset_alignment;
    uint32_t max_compute_shared_memory_size;
    uint32_t max_compute_work_group_count[3];
    uint32_t max_compute_work_group_size[3];
    uint32_t max_compute_work_group_invocations;

    /* subgroups */
    uint32_t subgroup_size;      /* default size (8 lavapipe, 32 NVIDIA, 64/32 AMD)  */
    uint32_t subgroup_size_min;  /* with subgroup size control; else = subgroup_size */
    uint32_t subgroup_size_max;
    bool subgroup_size_control;  /* VK_EXT_subgroup_size_control / 1.3 for compute   */
    bool subgroup_in_compute;    /* supportedStages includes COMPUTE                 */
    uint32_t subgroup_ops;       /* G3_VK_SUBGROUP_* bits                             */

    /* shader arithmetic and storage features */
    bool storage_16bit;          /* storageBuffer16BitAccess                          */
    bool storage_8bit;           /* storageBuffer8BitAccess                           */
    bool shader_float16;
    bool shader_int8;
    bool shader_int16;
    bool shader_int64;
    bool integer_dot_product;    /* VK_KHR_shader_integer_dot_product (or 1.3) feature*/
    bool integer_dot_4x8_accel;  /* ... and packed signed 4x8-bit dot is accelerated  */
    bool cooperative_matrix;     /* VK_KHR_cooperative_matrix extension present       */
    bool cooperative_matrix_nv;  /* VK_NV_cooperative_matrix extension present        */
    bool buffer_device_address;  /* bufferDeviceAddress feature                       */

    /* timing */
    bool timestamp_compute_and_graphics; /* all graphics/compute queues time        */
    float timestamp_period_ns;           /* nanoseconds per timestamp tick           */
    uint32_t timestamp_valid_bits;       /* of the chosen compute queue; 0 = none    */

    /* memory and queues */
    uint64_t device_local_bytes; /* size of the largest DEVICE_LOCAL heap             */
    bool unified_memory;         /* some memory type is DEVICE_LOCAL | HOST_VISIBLE   */
    int compute_queue_family;    /* -1 when the device has no compute queue           */

    /* verdict */
    bool usable;                 /* meets the engine's requirements                   */
    char reject_reason[192];     /* why not, naming the feature; "" when usable       */
} g3_vk_device_info;

/* Lists the physical devices (through a short-lived instance without validation) and
 * says which one a context created with the same options would choose.
 * Writes min(count, cap) entries to infos (infos may be NULL when cap is 0), the total
 * count to *count, and the 0-based position of the chosen one in *chosen (-1 when none:
 * no usable device, or the requested one is unusable; the reason is in err and the
 * status is still G3_OK as long as the listing itself worked). Call it with cap 0 to
 * size the array. Returns G3_ERR_NO_DEVICE when there is no loader, no driver or no
 * device at all. Options may be NULL (defaults + environment). */
g3_status g3_vk_enumerate(const g3_vk_options *opt, g3_vk_device_info *infos, int cap,
                          int *count, int *chosen, g3_err *err);

/* "discrete", "integrated", "virtual", "cpu" or "other". Never NULL. */
const char *g3_vk_device_type_name(g3_vk_device_type type);

/* Writes "major.minor.patch" of a VK_MAKE_API_VERSION value into buf. Returns buf. */
char *g3_vk_api_version_string(uint32_t api_version, char *buf, size_t cap);

/* Decodes a driver version with the vendor's encoding (NVIDIA 10.8.8.6 bits, Intel on
 * Windows 18.14, otherwise the Vulkan major.minor.patch layout). Returns buf. */
char *g3_vk_driver_version_string(const g3_vk_device_info *info, char *buf, size_t cap);

/* The Vulkan loader's instance version (VK_MAKE_API_VERSION), 0 when no loader. */
uint32_t g3_vk_loader_version(void);

/* ---- context ----------------------------------------------------------------------- */

/* One device, one compute queue, one command pool: everything that follows hangs off it. */
typedef struct g3_vk_context g3_vk_context;

/* Creates the instance (with validation when asked), chooses the device, creates the
 * logical device with the optional features the device has (16/8-bit storage,
 * float16/int8/int16/int64, integer dot product), one compute queue and a command
 * pool. Errors: G3_ERR_NO_DEVICE (no loader/driver/device), G3_ERR_UNSUPPORTED
 * (validation asked for but VK_LAYER_KHRONOS_validation or VK_EXT_debug_utils missing;
 * chosen device lacks a requirement), G3_ERR_INVALID_ARG (device index out of range),
 * or a failed Vulkan call. opt may be NULL. */
g3_status g3_vk_context_create(const g3_vk_options *opt, g3_vk_context **out, g3_err *err);

/* Waits for the device to be idle, then destroys the device, the messenger and the
 * instance. Every buffer, pipeline and command recorder of the context must have been
 * freed before (their memory would otherwise leak; validation reports them). */
void g3_vk_context_free(g3_vk_context *ctx);

/* The chosen device's snapshot. Borrowed; valid while the context lives. */
const g3_vk_device_info *g3_vk_context_device(const g3_vk_context *ctx);

/* Validation warnings and errors seen since creation or the last reset (0 when
 * validation is off). Tests assert it is 0 at the end. */
uint32_t g3_vk_validation_message_count(const g3_vk_context *ctx);
/* The text of the last such message, "" when none. Borrowed; changes with each one. */
const char *g3_vk_validation_last_message(const g3_vk_context *ctx);
void g3_vk_validation_reset(g3_vk_context *ctx);
/* Validation messages of every non-quiet context this process created, freed
 * ones included: the CLI and the tests fail when it is not 0 at the end. */
uint32_t g3_vk_validation_total(void);
/* Whether the layer is actually enabled on this context. */
bool g3_vk_validation_enabled(const g3_vk_context *ctx);

/* ---- buffers ----------------------------------------------------------------------- */

typedef enum g3_vk_memory {
    G3_VK_MEMORY_DEVICE = 0, /* device-local: weights, activations, KV cache          */
    G3_VK_MEMORY_UPLOAD,     /* host-visible + coherent, persistently mapped: staging */
    G3_VK_MEMORY_READBACK,   /* host-visible + coherent (cached when available),
                                persistently mapped: results the host reads          */
} g3_vk_memory;

typedef struct g3_vk_buffer g3_vk_buffer;

/* Creates a storage buffer usable as a transfer source and destination, with its own
 * memory allocation. name (may be NULL) labels it in validation messages and tools.
 * Errors: G3_ERR_UNSUPPORTED when size exceeds maxMemoryAllocationSize or no memory
 * type fits; G3_ERR_OUT_OF_MEMORY when the heap is full; G3_ERR_INVALID_ARG for size 0. */
g3_status g3_vk_buffer_create(g3_vk_context *ctx, uint64_t size, g3_vk_memory memory,
                              const char *name, g3_vk_buffer **out, g3_err *err);
/* Frees the buffer; the GPU must no longer use it (after submit-and-wait it does not). */
void g3_vk_buffer_free(g3_vk_context *ctx, g3_vk_buffer *buf);
uint64_t g3_vk_buffer_size(const g3_vk_buffer *buf);
/* Host pointer of an UPLOAD/READBACK buffer (mapped for the buffer's life); NULL for a
 * DEVICE buffer, which host code reaches through the upload/download helpers (even on
 * unified-memory devices, so that one code path serves every device). */
void *g3_vk_buffer_map(const g3_vk_buffer *buf);

/* Copies host bytes into buf at offset (through a temporary staging buffer unless buf
 * is host-visible) and waits until they are on the device. Simple, not fast: the bulk
 * weight upload batches its copies instead. G3_ERR_INVALID_ARG when out of range. */
g3_status g3_vk_buffer_upload(g3_vk_context *ctx, g3_vk_buffer *buf, uint64_t offset,
                              const void *data, uint64_t size, g3_err *err);
/* Copies size bytes at offset of buf to host memory, after all submitted work. */
g3_status g3_vk_buffer_download(g3_vk_context *ctx, g3_vk_buffer *buf, uint64_t offset,
                                void *data, uint64_t size, g3_err *err);

/* ---- pipelines --------------------------------------------------------------------- */

#define G3_VK_MAX_BINDINGS 8
#define G3_VK_MAX_SPEC 16

/* A specialization constant: constant_id and its 32-bit value (bool as 0/1, float as
 * its bits: use g3_vk_spec_f32). */
typedef struct g3_vk_spec {
    uint32_t id;
    uint32_t value;
} g3_vk_spec;

static inline g3_vk_spec g3_vk_spec_f32(uint32_t id, float v)
{
    g3_vk_spec s = {id, 0};
    memcpy(&s.value, &v, sizeof(v));
    return s;
}

typedef struct g3_vk_pipeline_desc {
    g3_shader_id shader;        /* G3_SHADER_<NAME>                                   */
    uint32_t n_bindings;        /* storage buffers at bindings 0..n-1 (<= MAX_BINDINGS)*/
    uint32_t uniform_mask;      /* bit i: binding i is a uniform buffer instead       */
    uint32_t texel_mask;        /* bit i: binding i is a uniform texel buffer of uvec4
                                   texels (usamplerBuffer, RGBA32UI) over the whole
                                   buffer bound (offset 0): on lavapipe a texel fetch
                                   is a vector gather, a storage-buffer load with
                                   per-lane addresses a loop over lanes              */
    uint32_t push_size;         /* bytes of the push-constant block (multiple of 4)   */
    uint32_t n_spec;            /* entries used in spec                               */
    g3_vk_spec spec[G3_VK_MAX_SPEC];
} g3_vk_pipeline_desc;

typedef struct g3_vk_pipeline g3_vk_pipeline;

/* Creates a compute pipeline (module, descriptor-set layout, layout, pipeline) from the
 * embedded SPIR-V. Pipelines are created at load time, never per dispatch.
 * G3_ERR_UNSUPPORTED when the shader targets a newer Vulkan than the device has or
 * push_size exceeds maxPushConstantsSize; G3_ERR_INVALID_ARG for a bad descriptor. */
g3_status g3_vk_pipeline_create(g3_vk_context *ctx, const g3_vk_pipeline_desc *desc,
                                g3_vk_pipeline **out, g3_err *err);
void g3_vk_pipeline_free(g3_vk_context *ctx, g3_vk_pipeline *pipe);

/* ---- recording and submission ----------------------------------------------------- */

/* A command recorder: one command buffer, its descriptor pools and a fence, reusable
 * for any number of begin / record / submit-and-wait rounds. */
typedef struct g3_vk_cmd g3_vk_cmd;

/* A range of a buffer bound to one binding. size 0 = from offset to the end. */
typedef struct g3_vk_binding {
    g3_vk_buffer *buf;
    uint64_t offset; /* multiple of min_storage_buffer_offset_alignment */
    uint64_t size;   /* at most max_storage_buffer_range                */
} g3_vk_binding;

g3_status g3_vk_cmd_create(g3_vk_context *ctx, g3_vk_cmd **out, g3_err *err);
void g3_vk_cmd_free(g3_vk_cmd *cmd);

/* Starts a recording (previous descriptor sets are recycled). The recording functions
 * below return a status and also keep the first failure: submit returns it, so a
 * sequence of records may be checked once, at submit. */
g3_status g3_vk_cmd_begin(g3_vk_cmd *cmd);

/* Records one dispatch of groups[0] x groups[1] x groups[2] workgroups with the given
 * bindings (exactly the pipeline's n_bindings) and push constants (exactly push_size
 * bytes). Checks each binding against the device's range and alignment limits and
 * the group counts against maxComputeWorkGroupCount. No barrier is implied. */
g3_status g3_vk_cmd_dispatch(g3_vk_cmd *cmd, const g3_vk_pipeline *pipe,
                             const g3_vk_binding *bindings, uint32_t n_bindings,
                             const void *push, uint32_t push_size, const uint32_t groups[3]);

/* A full execution and memory dependency between everything recorded before (compute
 * shaders and transfers) and everything after. Record one between two dispatches
 * whenever the second reads or writes what the first wrote (or writes what it read);
 * the synchronization validation in tests reports a missing one. */
g3_status g3_vk_cmd_barrier(g3_vk_cmd *cmd);

/* Records a buffer-to-buffer copy. No barrier is implied. */
g3_status g3_vk_cmd_copy(g3_vk_cmd *cmd, g3_vk_buffer *src, uint64_t src_offset,
                         g3_vk_buffer *dst, uint64_t dst_offset, uint64_t size);

/* Like g3_vk_cmd_begin, for a recording that is submitted many times with
 * g3_vk_cmd_replay (the decode step: recorded once per context, replayed for every
 * token; what changes per token lives in buffers the host rewrites in between). */
g3_status g3_vk_cmd_begin_reusable(g3_vk_cmd *cmd);

/* Ends the recording (making every device write visible to the host at its end). */
g3_status g3_vk_cmd_end(g3_vk_cmd *cmd, g3_err *err);

/* Submits the ended recording and waits for it. A reusable recording may be
 * replayed any number of times; host writes to mapped buffers made before the
 * call are visible to it. */
g3_status g3_vk_cmd_replay(g3_vk_cmd *cmd, g3_err *err);

/* Submits n ended reusable recordings of one context, in order, in one queue submission
 * and waits for the last. Nothing orders one recording after another but the barriers
 * recorded in them (a barrier at the start of a recording orders it after everything
 * submitted before it on the queue). Splitting a long step into several recordings
 * lets the caller choose, at run time, how much work one submission carries (a slow
 * GPU must not run into the operating system's GPU timeout). */
g3_status g3_vk_cmd_replay_group(g3_vk_cmd *const *cmds, uint32_t n, g3_err *err);

/* Ends the recording, makes every write visible to the host, submits it to the
 * compute queue and waits for it. Returns the first recording failure, if any (then
 * nothing is submitted), or the submit/wait failure; G3_ERR_DEVICE_LOST is sticky. */
g3_status g3_vk_cmd_submit_wait(g3_vk_cmd *cmd, g3_err *err);

/* ---- profiling --------------------------------------------------------------------- */

/* Kernel profiling with timestamp queries. A recorder created with .profile writes a
 * timestamp at the start of each recording and after every dispatch and copy; each
 * replay (g3_vk_cmd_replay, g3_vk_cmd_replay_group, g3_vk_cmd_submit_wait) then adds,
 * per dispatch, the time since the previous timestamp and the bytes the dispatch
 * moves to the context's profile, keyed by (kernel, shape). An unprofiled recorder
 * records exactly what it did before: no query pool, no timestamp, no cost.
 *
 * Time: on a GPU, dispatches without a barrier between them may overlap; each one is
 * charged the interval since the previous timestamp, so the times always add up to
 * the recording's GPU time, and a barrier's drain is charged to the dispatch after it.
 *
 * Bytes: by default the union of the ranges bound to the bindings the shader reads
 * (readonly or read-write in GLSL) and of those it writes. A few kernels bind more
 * than they touch, and the profiler models them: attention reads K and V over the
 * positions the step attends (the position is read from the step buffer after the
 * replay, when it is host-visible; else the whole cache), the embedding gather one
 * row per token of its piece, rope_kv one KV slot per token, rms_norm's in-place
 * output is written, not read. g3_vk_cmd_profile_bytes overrides the next dispatch. */

typedef struct g3_vk_cmd_options {
    bool profile; /* default false; ignored (the recorder is unprofiled) where the
                     device has no timestamps on its compute queue:
                     g3_vk_profile_supported says why                               */
} g3_vk_cmd_options;

/* g3_vk_cmd_create with options (opt may be NULL: the defaults). */
g3_status g3_vk_cmd_create_with(g3_vk_context *ctx, const g3_vk_cmd_options *opt,
                                g3_vk_cmd **out, g3_err *err);

/* Whether the recorder writes timestamps. */
bool g3_vk_cmd_profiled(const g3_vk_cmd *cmd);

/* on: every recorder created on ctx from now on is profiled, as if created with
 * .profile (for an executor whose recorders are created in many places); off: only
 * those that ask. Recorders that exist keep what they were created with. */
void g3_vk_context_set_profiling(g3_vk_context *ctx, bool on);
/* Whether g3_vk_context_set_profiling is on. */
bool g3_vk_context_profiling(const g3_vk_context *ctx);

/* Sets the bytes the next dispatch recorded on cmd reads and writes, instead of the
 * default (for a record function that binds more than its kernel touches). No-op on
 * an unprofiled recorder. */
void g3_vk_cmd_profile_bytes(g3_vk_cmd *cmd, uint64_t read, uint64_t written);

/* Whether the device can time dispatches (its compute queue has timestampValidBits
 * > 0 and a timestamp period); when not, why, in why (may be NULL). */
bool g3_vk_profile_supported(const g3_vk_context *ctx, char *why, size_t cap);

/* One (kernel, shape) of the profile, summed over the replays since the last reset:
 * the public g3_profile_entry (g3.h), whose fields say what they hold. */
typedef g3_profile_entry g3_vk_profile_entry;

typedef struct g3_vk_profile_totals {
    uint64_t replays;   /* recordings collected (a decode step of one segment is one) */
    uint64_t gpu_ns;    /* sum over them of last minus first timestamp               */
    uint32_t n_entries; /* entries in the profile                                    */
} g3_vk_profile_totals;

/* Copies min(n_entries, cap) entries, in first-recorded order, to out (may be NULL
 * with cap 0) and the totals to *totals (may be NULL). Returns n_entries: the
 * entries that ran since the last reset. */
uint32_t g3_vk_profile_get(const g3_vk_context *ctx, g3_vk_profile_entry *out, uint32_t cap,
                           g3_vk_profile_totals *totals);

/* Forgets every entry and total (recordings stay profiled). */
void g3_vk_profile_reset(g3_vk_context *ctx);

/* The device's achievable bandwidth: copies one buffer of `bytes` (rounded down to
 * 16; 0 = the default, 256 MiB capped by the binding and allocation limits) into
 * another with the copy_u32x4 kernel, reps times after a warm-up, and returns the
 * best (read + written bytes) / time in GB/s (1e9 bytes/s), timed with timestamps
 * where the device has them, else with the host clock around submit-and-wait.
 * *transfer_gbps (may be NULL) receives the same for vkCmdCopyBuffer. */
g3_status g3_vk_measure_copy_gbps(g3_vk_context *ctx, uint64_t bytes, int reps, double *gbps,
                                  double *transfer_gbps, g3_err *err);

#endif /* G3_VK_H */
