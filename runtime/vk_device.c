/* vk_device.c: physical devices: what each offers (the g3_vk_device_info snapshot),
 * whether the engine can use it, which one it prefers, and the listing API. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vk_internal.h"

_Static_assert((int)G3_VK_SUBGROUP_ARITHMETIC == (int)VK_SUBGROUP_FEATURE_ARITHMETIC_BIT &&
                   (int)G3_VK_SUBGROUP_QUAD == (int)VK_SUBGROUP_FEATURE_QUAD_BIT,
               "g3 subgroup bits mirror VkSubgroupFeatureFlagBits");
_Static_assert(G3_VK_DEVICE_DISCRETE == (int)VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU &&
                   G3_VK_DEVICE_CPU == (int)VK_PHYSICAL_DEVICE_TYPE_CPU,
               "g3 device types mirror VkPhysicalDeviceType");

/* ---- options ---------------------------------------------------------------------- */

/* An environment variable holding a non-negative integer; *set false when unset/empty. */
static g3_status env_int(const char *name, int *value, bool *set, g3_err *err)
{
    const char *s = getenv(name);
    *set = false;
    if (!s || !*s)
        return G3_OK;
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < 0 || v > 1000000)
        return g3_err_set(err, G3_ERR_INVALID_ARG,
                             "%s=\"%s\": expected a non-negative integer", name, s);
    *value = (int)v;
    *set = true;
    return G3_OK;
}

g3_status g3_vk_options_resolve(const g3_vk_options *opt, g3_vk_options *out, g3_err *err)
{
    g3_vk_options r = opt ? *opt : (g3_vk_options){0};
    g3_status st;
    int v = 0;
    bool set = false;
    if (r.device < 0)
        return g3_err_set(err, G3_ERR_INVALID_ARG,
                             "device index %d: expected 0 (automatic) or a 1-based index",
                             r.device);
    /* The caller's explicit choice wins over the environment. */
    if (r.device == 0) {
        if ((st = env_int("G3_VK_DEVICE", &v, &set, err)) != G3_OK)
            return st;
        if (set)
            r.device = v;
    }
    if (!r.validation) {
        if ((st = env_int("G3_VK_VALIDATION", &v, &set, err)) != G3_OK)
            return st;
        r.validation = set && v != 0;
    }
    *out = r;
    return G3_OK;
}

/* ---- strings ---------------------------------------------------------------------- */

const char *g3_vk_device_type_name(g3_vk_device_type type)
{
    switch (type) {
    case G3_VK_DEVICE_DISCRETE:
        return "discrete";
    case G3_VK_DEVICE_INTEGRATED:
        return "integrated";
    case G3_VK_DEVICE_VIRTUAL:
        return "virtual";
    case G3_VK_DEVICE_CPU:
        return "cpu";
    case G3_VK_DEVICE_OTHER:
        break;
    }
    return "other";
}

char *g3_vk_api_version_string(uint32_t v, char *buf, size_t cap)
{
    snprintf(buf, cap, "%u.%u.%u", VK_API_VERSION_MAJOR(v), VK_API_VERSION_MINOR(v),
             VK_API_VERSION_PATCH(v));
    return buf;
}

char *g3_vk_driver_version_string(const g3_vk_device_info *info, char *buf, size_t cap)
{
    const uint32_t v = info->driver_version;
    if (info->vendor_id == 0x10de) /* NVIDIA: 10.8.8.6 bits */
        snprintf(buf, cap, "%u.%u.%u.%u", (v >> 22) & 0x3ff, (v >> 14) & 0xff,
                 (v >> 6) & 0xff, v & 0x3f);
#ifdef _WIN32
    else if (info->vendor_id == 0x8086) /* Intel's Windows driver: 18.14 bits */
        snprintf(buf, cap, "%u.%u", v >> 14, v & 0x3fff);
#endif
    else
        g3_vk_api_version_string(v, buf, cap);
    return buf;
}

/* ---- one device ------------------------------------------------------------------- */

static bool has_ext(const VkExtensionProperties *exts, uint32_t n, const char *name)
{
    for (uint32_t i = 0; i < n; i++)
        if (!strcmp(exts[i].extensionName, name))
            return true;
    return false;
}

static void reject(g3_vk_device_info *info, const char *why)
{
    if (!info->usable)
        return; /* keep the first reason */
    info->usable = false;
    snprintf(info->reject_reason, sizeof(info->reject_reason), "%s", why);
}

/* The compute queue family we would use: compute is required; a family that can
 * time (timestampValidBits > 0) is preferred, then one without graphics, since a
 * dedicated compute family does not compete with a display on desktop GPUs. */
static int pick_queue_family(VkPhysicalDevice pd, uint32_t *valid_bits)
{
    uint32_t n = 0;
    vkGetPhysicalDeviceQueueFamilyProperties(pd, &n, NULL);
    VkQueueFamilyProperties *q = calloc(n ? n : 1, sizeof(*q));
    if (!q)
        return -1;
    vkGetPhysicalDeviceQueueFamilyProperties(pd, &n, q);
    int best = -1, best_score = -1;
    for (uint32_t i = 0; i < n; i++) {
        if (!(q[i].queueFlags & VK_QUEUE_COMPUTE_BIT) || q[i].queueCount == 0)
            continue;
        const int score = (q[i].timestampValidBits > 0 ? 2 : 0) +
                          (q[i].queueFlags & VK_QUEUE_GRAPHICS_BIT ? 0 : 1);
        if (score > best_score) {
            best = (int)i;
            best_score = score;
            *valid_bits = q[i].timestampValidBits;
        }
    }
    free(q);
    return best;
}

void g3_vk_query_device(VkPhysicalDevice pd, uint32_t instance_api, int index,
                        g3_vk_device_info *info)
{
    memset(info, 0, sizeof(*info));
    info->index = index;
    info->usable = true;
    info->compute_queue_family = -1;

    /* 1.0 properties first: enough to name a device we are about to reject. */
    VkPhysicalDeviceProperties p;
    vkGetPhysicalDeviceProperties(pd, &p);
    snprintf(info->name, sizeof(info->name), "%s", p.deviceName);
    info->type = (g3_vk_device_type)p.deviceType;
    if (info->type > G3_VK_DEVICE_CPU)
        info->type = G3_VK_DEVICE_OTHER;
    info->vendor_id = p.vendorID;
    info->device_id = p.deviceID;
    info->api_version = p.apiVersion;
    info->driver_version = p.driverVersion;
    const VkPhysicalDeviceLimits *l = &p.limits;
    info->max_storage_buffer_range = l->maxStorageBufferRange;
    info->min_storage_buffer_offset_alignment = l->minStorageBufferOffsetAlignment;
    info->max_storage_buffers_per_stage = l->maxPerStageDescriptorStorageBuffers;
    info->max_push_constants_size = l->maxPushConstantsSize;
    info->max_uniform_buffer_range = l->maxUniformBufferRange;
    info->max_texel_buffer_elements = l->maxTexelBufferElements;
    info->min_uniform_buffer_offset_alignment = l->minUniformBufferOffsetAlignment;
    info->max_compute_shared_memory_size = l->maxComputeSharedMemorySize;
    for (int i = 0; i < 3; i++) {
        info->max_compute_work_group_count[i] = l->maxComputeWorkGroupCount[i];
        info->max_compute_work_group_size[i] = l->maxComputeWorkGroupSize[i];
    }
    info->max_compute_work_group_invocations = l->maxComputeWorkGroupInvocations;
    info->timestamp_compute_and_graphics = l->timestampComputeAndGraphics;
    info->timestamp_period_ns = l->timestampPeriod;

    VkPhysicalDeviceMemoryProperties mem;
    vkGetPhysicalDeviceMemoryProperties(pd, &mem);
    for (uint32_t i = 0; i < mem.memoryHeapCount; i++)
        if ((mem.memoryHeaps[i].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT) &&
            mem.memoryHeaps[i].size > info->device_local_bytes)
            info->device_local_bytes = mem.memoryHeaps[i].size;
    const VkMemoryPropertyFlags uma =
        VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT | VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT;
    for (uint32_t i = 0; i < mem.memoryTypeCount; i++)
        if ((mem.memoryTypes[i].propertyFlags & uma) == uma)
            info->unified_memory = true;

    uint32_t valid_bits = 0;
    info->compute_queue_family = pick_queue_family(pd, &valid_bits);
    info->timestamp_valid_bits = valid_bits;

    const uint32_t dev_api = p.apiVersion;
    const uint32_t api = dev_api < instance_api ? dev_api : instance_api;
    if (api < G3_VK_MIN_API) {
        char v[32];
        snprintf(info->reject_reason, sizeof(info->reject_reason),
                 "Vulkan %s: 1.1 or newer is required",
                 g3_vk_api_version_string(dev_api, v, sizeof(v)));
        info->usable = false;
        return; /* the 1.1 queries below are not allowed on it */
    }

    uint32_t n_ext = 0;
    VkExtensionProperties *exts = NULL;
    if (vkEnumerateDeviceExtensionProperties(pd, NULL, &n_ext, NULL) == VK_SUCCESS && n_ext)
        exts = calloc(n_ext, sizeof(*exts));
    if (exts && vkEnumerateDeviceExtensionProperties(pd, NULL, &n_ext, exts) < 0)
        n_ext = 0; /* VK_INCOMPLETE (>0) still gives a usable prefix */
    if (!exts)
        n_ext = 0;
    const bool v12 = api >= VK_API_VERSION_1_2, v13 = api >= VK_API_VERSION_1_3;
    const bool has_driver = v12 || has_ext(exts, n_ext, VK_KHR_DRIVER_PROPERTIES_EXTENSION_NAME);
    const bool has_8bit = v12 || has_ext(exts, n_ext, VK_KHR_8BIT_STORAGE_EXTENSION_NAME);
    const bool has_f16i8 = v12 || has_ext(exts, n_ext, VK_KHR_SHADER_FLOAT16_INT8_EXTENSION_NAME);
    const bool has_bda = v12 || has_ext(exts, n_ext, VK_KHR_BUFFER_DEVICE_ADDRESS_EXTENSION_NAME);
    const bool has_idp =
        v13 || has_ext(exts, n_ext, VK_KHR_SHADER_INTEGER_DOT_PRODUCT_EXTENSION_NAME);
    const bool has_ssc = v13 || has_ext(exts, n_ext, VK_EXT_SUBGROUP_SIZE_CONTROL_EXTENSION_NAME);
    info->cooperative_matrix = has_ext(exts, n_ext, "VK_KHR_cooperative_matrix");
    info->cooperative_matrix_nv = has_ext(exts, n_ext, "VK_NV_cooperative_matrix");
    free(exts);

    /* Properties: each struct is chained only where the device has it (core in its
     * version or as an extension); chaining an unknown struct is invalid usage. */
    VkPhysicalDeviceSubgroupProperties sub = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES};
    VkPhysicalDeviceMaintenance3Properties m3 = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MAINTENANCE_3_PROPERTIES, .pNext = &sub};
    VkPhysicalDeviceDriverProperties drv = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_DRIVER_PROPERTIES};
    VkPhysicalDeviceSubgroupSizeControlProperties sscp = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_SIZE_CONTROL_PROPERTIES};
    VkPhysicalDeviceShaderIntegerDotProductProperties idpp = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_INTEGER_DOT_PRODUCT_PROPERTIES};
    VkPhysicalDeviceProperties2 p2 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2,
                                      .pNext = &m3};
    if (has_driver) {
        drv.pNext = p2.pNext;
        p2.pNext = &drv;
    }
    if (has_ssc) {
        sscp.pNext = p2.pNext;
        p2.pNext = &sscp;
    }
    if (has_idp) {
        idpp.pNext = p2.pNext;
        p2.pNext = &idpp;
    }
    vkGetPhysicalDeviceProperties2(pd, &p2);

    VkPhysicalDevice16BitStorageFeatures s16 = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_16BIT_STORAGE_FEATURES};
    VkPhysicalDevice8BitStorageFeatures s8 = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_8BIT_STORAGE_FEATURES};
    VkPhysicalDeviceShaderFloat16Int8Features f16i8 = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_FLOAT16_INT8_FEATURES};
    VkPhysicalDeviceBufferDeviceAddressFeatures bda = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_BUFFER_DEVICE_ADDRESS_FEATURES};
    VkPhysicalDeviceShaderIntegerDotProductFeatures idpf = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_INTEGER_DOT_PRODUCT_FEATURES};
    VkPhysicalDeviceSubgroupSizeControlFeatures sscf = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_SIZE_CONTROL_FEATURES};
    VkPhysicalDeviceFeatures2 f2 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2,
                                    .pNext = &s16};
    void **tail = &s16.pNext;
#define G3_CHAIN(cond, s)                                                              \
    do {                                                                               \
        if (cond) {                                                                    \
            *tail = &(s);                                                              \
            tail = &(s).pNext;                                                         \
        }                                                                              \
    } while (0)
    G3_CHAIN(has_8bit, s8);
    G3_CHAIN(has_f16i8, f16i8);
    G3_CHAIN(has_bda, bda);
    G3_CHAIN(has_idp, idpf);
    G3_CHAIN(has_ssc, sscf);
#undef G3_CHAIN
    vkGetPhysicalDeviceFeatures2(pd, &f2);

    info->max_memory_allocation_size = m3.maxMemoryAllocationSize;
    info->subgroup_size = sub.subgroupSize;
    info->subgroup_size_min = sub.subgroupSize;
    info->subgroup_size_max = sub.subgroupSize;
    info->subgroup_in_compute = (sub.supportedStages & VK_SHADER_STAGE_COMPUTE_BIT) != 0;
    info->subgroup_ops = sub.supportedOperations & 0xffu;
    if (has_driver) {
        info->driver_id = (uint32_t)drv.driverID;
        snprintf(info->driver_name, sizeof(info->driver_name), "%s", drv.driverName);
        snprintf(info->driver_info, sizeof(info->driver_info), "%s", drv.driverInfo);
    }
    if (has_ssc && sscp.minSubgroupSize) {
        info->subgroup_size_min = sscp.minSubgroupSize;
        info->subgroup_size_max = sscp.maxSubgroupSize;
        /* Usable for us only when a compute pipeline may ask for a size and for full
         * subgroups (otherwise the last subgroup of a workgroup may be partial). */
        info->subgroup_size_control = sscf.subgroupSizeControl && sscf.computeFullSubgroups &&
                                      (sscp.requiredSubgroupSizeStages &
                                       VK_SHADER_STAGE_COMPUTE_BIT);
    }
    info->storage_16bit = s16.storageBuffer16BitAccess;
    info->storage_8bit = has_8bit && s8.storageBuffer8BitAccess;
    info->shader_float16 = has_f16i8 && f16i8.shaderFloat16;
    info->shader_int8 = has_f16i8 && f16i8.shaderInt8;
    info->shader_int16 = f2.features.shaderInt16;
    info->shader_int64 = f2.features.shaderInt64;
    info->buffer_device_address = has_bda && bda.bufferDeviceAddress;
    info->integer_dot_product = has_idp && idpf.shaderIntegerDotProduct;
    info->integer_dot_4x8_accel =
        info->integer_dot_product && idpp.integerDotProduct4x8BitPackedSignedAccelerated;

    /* Requirements, first failure named. */
    char why[160];
    if (info->compute_queue_family < 0)
        reject(info, "no queue family with VK_QUEUE_COMPUTE_BIT");
    if (info->max_storage_buffers_per_stage < G3_VK_MIN_STORAGE_BINDINGS) {
        snprintf(why, sizeof(why),
                 "maxPerStageDescriptorStorageBuffers is %u: %d storage buffers are required",
                 info->max_storage_buffers_per_stage, G3_VK_MIN_STORAGE_BINDINGS);
        reject(info, why);
    }
    if (info->max_storage_buffer_range == 0)
        reject(info, "maxStorageBufferRange is 0: storage buffers are required");
}

/* ---- all devices ------------------------------------------------------------------ */

g3_status g3_vk_list_devices(VkInstance instance, uint32_t instance_api, VkPhysicalDevice **pds,
                             g3_vk_device_info **infos, uint32_t *count, g3_err *err)
{
    g3_status st = G3_OK;
    VkPhysicalDevice *p = NULL;
    g3_vk_device_info *in = NULL;
    uint32_t n = 0;
    *pds = NULL;
    *infos = NULL;
    *count = 0;
    G3_VK_TRY(NULL, err, vkEnumeratePhysicalDevices(instance, &n, NULL));
    if (n == 0)
        return g3_err_set(err, G3_ERR_NO_DEVICE,
                             "the Vulkan drivers report no device (vkEnumeratePhysicalDevices "
                             "returned 0): install a driver, e.g. mesa-vulkan-drivers for "
                             "lavapipe, or check VK_ICD_FILENAMES");
    p = calloc(n, sizeof(*p));
    in = calloc(n, sizeof(*in));
    if (!p || !in) {
        st = g3_err_set(err, G3_ERR_OUT_OF_MEMORY, "out of host memory");
        goto out;
    }
    VkResult r = vkEnumeratePhysicalDevices(instance, &n, p);
    if (r != VK_INCOMPLETE) /* INCOMPLETE: one went away meanwhile; list the rest */
        G3_VK_TRY(NULL, err, r);
    for (uint32_t i = 0; i < n; i++)
        g3_vk_query_device(p[i], instance_api, (int)i + 1, &in[i]);
    *pds = p;
    *infos = in;
    *count = n;
    return G3_OK;
out:
    free(p);
    free(in);
    return st;
}

static int type_rank(g3_vk_device_type t)
{
    switch (t) {
    case G3_VK_DEVICE_DISCRETE:
        return 0;
    case G3_VK_DEVICE_INTEGRATED:
        return 1;
    case G3_VK_DEVICE_VIRTUAL:
        return 2;
    case G3_VK_DEVICE_CPU:
        return 3;
    case G3_VK_DEVICE_OTHER:
        break;
    }
    return 4;
}

int g3_vk_choose_device(const g3_vk_device_info *infos, uint32_t n, int requested,
                        g3_err *err)
{
    if (requested > 0) {
        if ((uint32_t)requested > n) {
            g3_err_set(err, G3_ERR_INVALID_ARG,
                          "Vulkan device %d was requested (G3_VK_DEVICE or option) but "
                          "there %s only %u",
                          requested, n == 1 ? "is" : "are", n);
            return -1;
        }
        const g3_vk_device_info *d = &infos[requested - 1];
        if (!d->usable) {
            g3_err_set(err, G3_ERR_UNSUPPORTED, "Vulkan device %d (%s) cannot be used: %s",
                          requested, d->name, d->reject_reason);
            return -1;
        }
        return requested - 1;
    }
    /* Discrete > integrated > virtual > CPU; the loader's order breaks ties. */
    int best = -1;
    for (uint32_t i = 0; i < n; i++)
        if (infos[i].usable && (best < 0 || type_rank(infos[i].type) < type_rank(infos[best].type)))
            best = (int)i;
    if (best < 0) {
        char why[400] = "";
        size_t len = 0;
        for (uint32_t i = 0; i < n && len < sizeof(why); i++)
            len += (size_t)snprintf(why + len, sizeof(why) - len, "%s%s: %s", i ? "; " : "",
                                    infos[i].name, infos[i].reject_reason);
        g3_err_set(err, G3_ERR_UNSUPPORTED, "no usable Vulkan device: %s", why);
    }
    return best;
}

g3_status g3_vk_enumerate(const g3_vk_options *opt, g3_vk_device_info *infos, int cap,
                          int *count, int *chosen, g3_err *err)
{
    g3_vk_options o;
    g3_status st;
    VkPhysicalDevice *pds = NULL;
    g3_vk_device_info *all = NULL;
    uint32_t n = 0;
    if (count)
        *count = 0;
    if (chosen)
        *chosen = -1;
    if (cap < 0 || (cap > 0 && !infos))
        return g3_err_set(err, G3_ERR_INVALID_ARG, "g3_vk_enumerate: bad output array");
    if ((st = g3_vk_options_resolve(opt, &o, err)) != G3_OK)
        return st;
    /* Listing never needs the validation layer: a short-lived plain instance. */
    g3_vk_context tmp = {0};
    atomic_init(&tmp.n_validation, 0);
    if ((st = g3_vk_instance_create(&tmp, err)) != G3_OK)
        return st;
    st = g3_vk_list_devices(tmp.instance, tmp.api_version, &pds, &all, &n, err);
    if (st == G3_OK) {
        for (uint32_t i = 0; i < n && (int)i < cap; i++)
            infos[i] = all[i];
        if (count)
            *count = (int)n;
        const int c = g3_vk_choose_device(all, n, o.device, err);
        if (chosen)
            *chosen = c;
    }
    free(pds);
    free(all);
    g3_vk_instance_destroy(&tmp);
    return st;
}
