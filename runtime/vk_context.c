/* vk_context.c: the g3_vk_context: instance + chosen device + logical device with
 * one compute queue and a command pool. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vk_internal.h"

void g3_vk_set_name(g3_vk_context *ctx, VkObjectType type, uint64_t handle, const char *name)
{
    if (!ctx || !ctx->set_object_name || !ctx->device || !name || !handle)
        return;
    const VkDebugUtilsObjectNameInfoEXT ni = {
        .sType = VK_STRUCTURE_TYPE_DEBUG_UTILS_OBJECT_NAME_INFO_EXT,
        .objectType = type,
        .objectHandle = handle,
        .pObjectName = name,
    };
    (void)ctx->set_object_name(ctx->device, &ni); /* a label is best effort */
}

/* Creates the logical device with every optional feature the engine's shader
 * variants may use and the device has: enabling a feature costs nothing, and the
 * pipeline code can then pick variants from ctx->info alone. Extension structs are
 * chained only where the feature was found (g3_vk_query_device looked at the same
 * version/extension conditions), and the extension is enabled only below the
 * version that made it core. */
static g3_status create_device(g3_vk_context *ctx, g3_err *err)
{
    g3_status st = G3_OK;
    const g3_vk_device_info *in = &ctx->info;
    const bool v12 = ctx->api_version >= VK_API_VERSION_1_2;
    const bool v13 = ctx->api_version >= VK_API_VERSION_1_3;
    VkExtensionProperties *exts = NULL;
    uint32_t n_ext = 0;
    G3_VK_TRY(ctx, err, vkEnumerateDeviceExtensionProperties(ctx->physical, NULL, &n_ext, NULL));
    exts = calloc(n_ext ? n_ext : 1, sizeof(*exts));
    if (!exts)
        return g3_err_set(err, G3_ERR_OUT_OF_MEMORY, "out of host memory");
    VkResult r = vkEnumerateDeviceExtensionProperties(ctx->physical, NULL, &n_ext, exts);
    if (r != VK_INCOMPLETE)
        G3_VK_TRY(ctx, err, r);

    const char *enabled[8];
    uint32_t n_enabled = 0;
    for (uint32_t i = 0; i < n_ext; i++) {
        const char *e = exts[i].extensionName;
        /* The spec requires enabling portability_subset wherever it is offered. */
        if (!strcmp(e, "VK_KHR_portability_subset") ||
            (!v12 && in->storage_8bit && !strcmp(e, VK_KHR_8BIT_STORAGE_EXTENSION_NAME)) ||
            (!v12 && (in->shader_float16 || in->shader_int8) &&
             !strcmp(e, VK_KHR_SHADER_FLOAT16_INT8_EXTENSION_NAME)) ||
            (!v13 && in->integer_dot_product &&
             !strcmp(e, VK_KHR_SHADER_INTEGER_DOT_PRODUCT_EXTENSION_NAME)) ||
            (!v13 && in->subgroup_size_control &&
             !strcmp(e, VK_EXT_SUBGROUP_SIZE_CONTROL_EXTENSION_NAME)))
            if (n_enabled < G3_ARRAY_LEN(enabled))
                enabled[n_enabled++] = e;
    }
    /* VK_KHR_8bit_storage needs VK_KHR_storage_buffer_storage_class on 1.1 devices. */
    if (!v12 && in->storage_8bit && n_enabled < G3_ARRAY_LEN(enabled))
        enabled[n_enabled++] = VK_KHR_STORAGE_BUFFER_STORAGE_CLASS_EXTENSION_NAME;

    VkPhysicalDevice16BitStorageFeatures s16 = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_16BIT_STORAGE_FEATURES,
        .storageBuffer16BitAccess = in->storage_16bit};
    VkPhysicalDevice8BitStorageFeatures s8 = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_8BIT_STORAGE_FEATURES,
        .storageBuffer8BitAccess = VK_TRUE};
    VkPhysicalDeviceShaderFloat16Int8Features f16i8 = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_FLOAT16_INT8_FEATURES,
        .shaderFloat16 = in->shader_float16,
        .shaderInt8 = in->shader_int8};
    VkPhysicalDeviceShaderIntegerDotProductFeatures idp = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_INTEGER_DOT_PRODUCT_FEATURES,
        .shaderIntegerDotProduct = VK_TRUE};
    VkPhysicalDeviceSubgroupSizeControlFeatures ssc = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_SIZE_CONTROL_FEATURES,
        .subgroupSizeControl = VK_TRUE,
        .computeFullSubgroups = VK_TRUE};
    VkPhysicalDeviceFeatures2 f2 = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2,
        .pNext = &s16,
        .features = {.shaderInt16 = in->shader_int16, .shaderInt64 = in->shader_int64}};
    void **tail = &s16.pNext;
    if (in->storage_8bit) {
        *tail = &s8;
        tail = &s8.pNext;
    }
    if (in->shader_float16 || in->shader_int8) {
        *tail = &f16i8;
        tail = &f16i8.pNext;
    }
    if (in->integer_dot_product) {
        *tail = &idp;
        tail = &idp.pNext;
    }
    if (in->subgroup_size_control) {
        *tail = &ssc;
        tail = &ssc.pNext;
    }

    const float priority = 1.0f;
    const VkDeviceQueueCreateInfo qci = {
        .sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO,
        .queueFamilyIndex = ctx->queue_family,
        .queueCount = 1,
        .pQueuePriorities = &priority,
    };
    const VkDeviceCreateInfo dci = {
        .sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO,
        .pNext = &f2,
        .queueCreateInfoCount = 1,
        .pQueueCreateInfos = &qci,
        .enabledExtensionCount = n_enabled,
        .ppEnabledExtensionNames = enabled,
    };
    G3_VK_TRY(ctx, err, vkCreateDevice(ctx->physical, &dci, NULL, &ctx->device));
    volkLoadDeviceTable(&ctx->vk, ctx->device);
out:
    free(exts);
    return st;
}

g3_status g3_vk_context_create(const g3_vk_options *opt, g3_vk_context **out, g3_err *err)
{
    g3_vk_options o;
    g3_status st;
    VkPhysicalDevice *pds = NULL;
    g3_vk_device_info *infos = NULL;
    uint32_t n = 0;
    g3_vk_context *ctx = NULL;
    if (!out)
        return g3_err_set(err, G3_ERR_INVALID_ARG, "g3_vk_context_create: out is NULL");
    *out = NULL;
    if ((st = g3_vk_options_resolve(opt, &o, err)) != G3_OK)
        return st;
    ctx = calloc(1, sizeof(*ctx));
    if (!ctx)
        return g3_err_set(err, G3_ERR_OUT_OF_MEMORY, "out of host memory");
    atomic_init(&ctx->n_validation, 0);
    ctx->validation = o.validation;
    ctx->quiet = o.quiet;
    ctx->validation_fn = o.validation_fn;
    ctx->validation_user = o.validation_user;

    if ((st = g3_vk_instance_create(ctx, err)) != G3_OK)
        goto out;
    if ((st = g3_vk_list_devices(ctx->instance, ctx->api_version, &pds, &infos, &n, err)) !=
        G3_OK)
        goto out;
    g3_err why = {0};
    const int c = g3_vk_choose_device(infos, n, o.device, &why);
    if (c < 0) {
        st = g3_err_set(err, why.status, "%s", why.msg);
        goto out;
    }
    ctx->physical = pds[c];
    ctx->info = infos[c];
    ctx->queue_family = (uint32_t)ctx->info.compute_queue_family;
    if (ctx->info.api_version < ctx->api_version)
        ctx->api_version = ctx->info.api_version;
    vkGetPhysicalDeviceMemoryProperties(ctx->physical, &ctx->mem);

    if ((st = create_device(ctx, err)) != G3_OK)
        goto out;
    ctx->vk.vkGetDeviceQueue(ctx->device, ctx->queue_family, 0, &ctx->queue);

    const VkCommandPoolCreateInfo pci = {
        .sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO,
        .flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT,
        .queueFamilyIndex = ctx->queue_family,
    };
    G3_VK_TRY(ctx, err, ctx->vk.vkCreateCommandPool(ctx->device, &pci, NULL, &ctx->pool));
    /* In memory for now; a file under $XDG_CACHE_HOME can seed it later. */
    const VkPipelineCacheCreateInfo cci = {.sType = VK_STRUCTURE_TYPE_PIPELINE_CACHE_CREATE_INFO};
    G3_VK_TRY(ctx, err,
              ctx->vk.vkCreatePipelineCache(ctx->device, &cci, NULL, &ctx->pipeline_cache));
    g3_vk_set_name(ctx, VK_OBJECT_TYPE_QUEUE, G3_VK_HANDLE(ctx->queue), "g3 compute queue");
    *out = ctx;
    st = G3_OK;
out:
    free(pds);
    free(infos);
    if (st != G3_OK)
        g3_vk_context_free(ctx);
    return st;
}

void g3_vk_context_free(g3_vk_context *ctx)
{
    if (!ctx)
        return;
    if (ctx->device) {
        /* A lost device returns an error here; there is nothing left to wait for. */
        (void)ctx->vk.vkDeviceWaitIdle(ctx->device);
        if (ctx->pipeline_cache)
            ctx->vk.vkDestroyPipelineCache(ctx->device, ctx->pipeline_cache, NULL);
        if (ctx->pool)
            ctx->vk.vkDestroyCommandPool(ctx->device, ctx->pool, NULL);
        ctx->vk.vkDestroyDevice(ctx->device, NULL);
    }
    g3_vk_instance_destroy(ctx);
    free(ctx);
}

const g3_vk_device_info *g3_vk_context_device(const g3_vk_context *ctx)
{
    return &ctx->info;
}

uint32_t g3_vk_validation_message_count(const g3_vk_context *ctx)
{
    return atomic_load(&((g3_vk_context *)ctx)->n_validation);
}

const char *g3_vk_validation_last_message(const g3_vk_context *ctx)
{
    return ctx->last_validation;
}

void g3_vk_validation_reset(g3_vk_context *ctx)
{
    atomic_store(&ctx->n_validation, 0);
    ctx->last_validation[0] = '\0';
}

bool g3_vk_validation_enabled(const g3_vk_context *ctx)
{
    return ctx->validation;
}
