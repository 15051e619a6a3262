/* vk_internal.h: what the runtime's files share, Vulkan types included. Host code
 * uses vk.h; only runtime/ files (and tests that must reach a raw Vulkan handle)
 * include this header. */
#ifndef G3_VK_INTERNAL_H
#define G3_VK_INTERNAL_H

#include <stdatomic.h>

#include <volk.h>

#include "vk.h"
#include "vk_shaders.h"

/* The Vulkan version the engine is written against: devices below it are rejected,
 * newer features are used only where the device reports them. */
#define G3_VK_MIN_API VK_API_VERSION_1_1
/* The newest version we ask the instance for (features we know how to query). */
#define G3_VK_MAX_API VK_API_VERSION_1_3
/* Bindings our largest kernel uses at once; the spec guarantees only 4 per stage. */
#define G3_VK_MIN_STORAGE_BINDINGS 4
/* Distinct (kernel, shape) entries a context's profile holds (vk_profile.c); later
 * ones are counted in the last entry, named "(other)". */
#define G3_VK_PROFILE_MAX_ENTRIES 256

struct g3_vk_context {
    VkInstance instance;
    VkDebugUtilsMessengerEXT messenger;  /* VK_NULL_HANDLE without validation      */
    VkPhysicalDevice physical;
    VkDevice device;
    struct VolkDeviceTable vk;           /* this device's functions (not volk's
                                            globals, so two devices can coexist)   */
    VkQueue queue;
    uint32_t queue_family;
    VkCommandPool pool;                  /* RESET_COMMAND_BUFFER: recorders reuse  */
    VkPipelineCache pipeline_cache;
    VkPhysicalDeviceMemoryProperties mem;
    g3_vk_device_info info;
    uint32_t api_version;                /* min(instance, device): what we may use */

    /* VK_EXT_debug_utils, loaded per instance: the loader returns NULL for them when
     * the extension is not enabled on *this* instance, so volk's globals (shared by
     * every instance) cannot be trusted for them. */
    PFN_vkCreateDebugUtilsMessengerEXT create_messenger;
    PFN_vkDestroyDebugUtilsMessengerEXT destroy_messenger;
    PFN_vkSetDebugUtilsObjectNameEXT set_object_name;

    bool validation; /* the layer is enabled                                        */
    bool quiet;      /* count validation messages without printing them             */
    bool lost;       /* VK_ERROR_DEVICE_LOST seen: sticky                           */
    void (*validation_fn)(void *user, bool is_error, const char *message);
    void *validation_user;
    /* Written by the messenger callback, which the layer may call from any thread. */
    atomic_uint n_validation;
    char last_validation[1024];
    /* What every profiled recorder of this context measured (vk_profile.c). Inline,
     * so that the context needs no extra allocation or free for it. */
    struct g3_vk_profile_acc {
        g3_vk_profile_entry entries[G3_VK_PROFILE_MAX_ENTRIES];
        uint32_t n_entries;
        uint64_t replays, gpu_ns;
        bool all; /* g3_vk_context_set_profiling: profile every new recorder */
    } profile;
};

struct g3_vk_buffer {
    VkBuffer buffer;
    VkDeviceMemory memory;
    uint64_t size;         /* bytes requested (the allocation may be larger)          */
    g3_vk_memory kind;
    void *mapped;          /* host pointer when the memory is host-visible, else NULL */
    VkBufferView texels;   /* RGBA32UI view of the whole buffer, made at first use as a
                              texel binding                                              */
};

struct g3_vk_pipeline {
    g3_shader_id shader;
    VkShaderModule module;
    VkDescriptorSetLayout set_layout;
    VkPipelineLayout layout;
    VkPipeline pipeline;
    uint32_t n_bindings;
    uint32_t uniform_mask; /* bit i: binding i is a uniform buffer */
    uint32_t texel_mask;   /* bit i: binding i is a uniform texel buffer (RGBA32UI) */
    uint32_t push_size;
    uint8_t access[G3_VK_MAX_BINDINGS]; /* G3_VK_ACCESS_* per binding, from the SPIR-V:
                                           what the profiler counts as read / written */
};

struct g3_vk_cmd {
    g3_vk_context *ctx;
    VkCommandBuffer cb;
    VkFence fence;
    VkDescriptorPool *pools; /* (n_pools) grown when one runs out; reset at begin     */
    uint32_t n_pools;
    uint32_t pool_cur;       /* the pool sets are allocated from now                  */
    bool recording;
    bool ended;              /* ended and submittable (again, when reusable)          */
    bool reusable;           /* begun without ONE_TIME_SUBMIT: replayable             */
    g3_err err;              /* first recording failure (err.status != G3_OK)         */
    struct g3_vk_cmd_prof *prof; /* timestamps of a profiled recorder; NULL otherwise:
                                    an unprofiled recording holds no query at all     */
};

/* ---- profiling (vk_profile.c) ----------------------------------------------------- */

enum { G3_VK_ACCESS_READ = 1, G3_VK_ACCESS_WRITE = 2 };

/* Reads each binding's access from the shader's SPIR-V: NonWritable (GLSL readonly)
 * -> READ, NonReadable (writeonly) -> WRITE, neither -> both; uniform blocks, texel
 * buffers and sampled images READ.
 * Bindings the module does not declare get 0. */
void g3_vk_spirv_access(const uint32_t *code, size_t size, uint8_t access[G3_VK_MAX_BINDINGS]);

/* The recorder's side of profiling, called by vk_dispatch.c only when cmd->prof is
 * set (the unprofiled path does not change): */
g3_status g3_vk_prof_create(g3_vk_cmd *cmd, g3_err *err); /* allocates cmd->prof      */
void g3_vk_prof_free(g3_vk_cmd *cmd);
void g3_vk_prof_begin(g3_vk_cmd *cmd);  /* first timestamp, after the begin barrier   */
/* A timestamp after a dispatch, labelled with the pipeline and the bytes it moves. */
void g3_vk_prof_dispatch(g3_vk_cmd *cmd, const g3_vk_pipeline *pipe,
                         const g3_vk_binding *bindings, const void *push,
                         const uint32_t groups[3]);
void g3_vk_prof_copy(g3_vk_cmd *cmd, uint64_t size); /* ... after a buffer copy        */
/* After the recording's fence signalled: reads its timestamps and adds them to the
 * context's profile. */
g3_status g3_vk_prof_collect(g3_vk_cmd *cmd, g3_err *err);

/* ---- errors (vk_error.c) ---------------------------------------------------------- */

/* Errors use g3_err_set / g3_err_prefix from host/status.c (library g3_base). */

/* "VK_ERROR_OUT_OF_DEVICE_MEMORY", ...; never NULL. */
const char *g3_vk_result_string(VkResult r);

/* OOM -> G3_ERR_OUT_OF_MEMORY, DEVICE_LOST -> G3_ERR_DEVICE_LOST, else G3_ERR_DEVICE. */
g3_status g3_vk_status(VkResult r);

/* Turns a failed call into a status and a message naming the call, e.g.
 * "vkAllocateMemory failed: VK_ERROR_OUT_OF_DEVICE_MEMORY (runtime/vk_memory.c:80)".
 * `call` is the stringified call expression; the function name is taken from it.
 * Marks ctx lost on VK_ERROR_DEVICE_LOST (ctx may be NULL before a device exists). */
g3_status g3_vk_fail(g3_vk_context *ctx, g3_err *err, VkResult r, const char *call,
                     const char *file, int line);

/* Calls a VkResult-returning function; on failure sets `st` and jumps to `out`, the
 * function's single cleanup label (kernel-style unwinding, style.md snippet 4). */
#define G3_VK_TRY(ctx, err, call)                                                      \
    do {                                                                               \
        VkResult vr_ = (call);                                                         \
        if (vr_ != VK_SUCCESS) {                                                       \
            st = g3_vk_fail((ctx), (err), vr_, #call, __FILE__, __LINE__);             \
            goto out;                                                                  \
        }                                                                              \
    } while (0)

/* G3_ERR_DEVICE_LOST with a message when the context already lost its device. */
g3_status g3_vk_check_lost(const g3_vk_context *ctx, g3_err *err);

/* ---- loader (vk_volk.c) ------------------------------------------------------------- */

/* Loads the Vulkan loader once per process (thread-safe). G3_ERR_NO_DEVICE with the
 * install hint when libvulkan cannot be opened. */
g3_status g3_vk_loader_init(g3_err *err);
/* Loads instance-level function pointers into volk's globals (thread-safe). */
void g3_vk_loader_load_instance(VkInstance instance);

/* ---- instance (vk_instance.c) ------------------------------------------------------- */

/* Creates ctx->instance for ctx->validation (layer + sync validation + messenger
 * counting into ctx) and fills ctx->api_version with the instance version and the
 * debug-utils pointers. On failure nothing is left to destroy. */
g3_status g3_vk_instance_create(g3_vk_context *ctx, g3_err *err);
/* Destroys the messenger and the instance; safe on a partly created context. */
void g3_vk_instance_destroy(g3_vk_context *ctx);

/* ---- devices (vk_device.c; g3_vk_set_name in vk_context.c) ---------------------------- */

/* Fills info for one physical device (usable + reject_reason included). */
void g3_vk_query_device(VkPhysicalDevice pd, uint32_t instance_api, int index,
                        g3_vk_device_info *info);

/* Lists the physical devices of an instance with their snapshots (malloc'd arrays the
 * caller frees). G3_ERR_NO_DEVICE when there is none. */
g3_status g3_vk_list_devices(VkInstance instance, uint32_t instance_api, VkPhysicalDevice **pds,
                             g3_vk_device_info **infos, uint32_t *count, g3_err *err);

/* The 0-based position of the device to use: `requested` (1-based) when not 0, else the
 * best usable by type. -1 with err set (INVALID_ARG: out of range; UNSUPPORTED: not
 * usable, reason named) when there is none. */
int g3_vk_choose_device(const g3_vk_device_info *infos, uint32_t n, int requested,
                        g3_err *err);

/* Labels an object for validation messages and debuggers (no-op without debug utils). */
void g3_vk_set_name(g3_vk_context *ctx, VkObjectType type, uint64_t handle, const char *name);
#define G3_VK_HANDLE(h) ((uint64_t)(uintptr_t)(h))

/* ---- helpers of the record functions (vk_dispatch.c) ------------------------------ */

/* Keeps a recording failure in cmd unless an earlier one is kept; returns the kept
 * status (the first failure is what submit reports). */
g3_status g3_vk_cmd_fail(g3_vk_cmd *cmd, g3_status st, const char *fmt, ...) G3_PRINTF(3, 4);

/* The binding of [offset, offset + size) of buf, from the offset at or below it aligned
 * to the device's storage binding alignment and to `align` (a power of two; 0: none);
 * *elem receives the index of `offset` in 4-byte words inside the binding. The range
 * must lie in buf (the caller checked). */
g3_vk_binding g3_vk_bind_aligned(const g3_vk_context *ctx, g3_vk_buffer *buf, uint64_t offset,
                                 uint64_t size, uint64_t align, uint32_t *elem);

/* As g3_vk_bind_aligned (device alignment only) for a range not checked yet, with
 * *elem in elem_bytes units: false when the range is empty, outside buf or not at a
 * 4-byte offset. */
bool g3_vk_bind_checked(const g3_vk_context *ctx, g3_vk_buffer *buf, uint64_t offset,
                        uint64_t size, uint32_t elem_bytes, g3_vk_binding *b, uint32_t *elem);

/* The grid of `groups` workgroups: above max[0] folded into a second dimension (the
 * shaders linearize (y, x) and skip the last line's overshoot). false when even the
 * folded grid exceeds max[1]. */
bool g3_vk_fold_groups(uint64_t groups, const uint32_t max[2], uint32_t g[3]);

#endif /* G3_VK_INTERNAL_H */
