/* vk_error.c: VkResult -> g3_status and messages that name the failing call. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "vk_internal.h"

const char *g3_vk_result_string(VkResult r)
{
    switch (r) {
#define R(x)                                                                           \
    case x:                                                                            \
        return #x;
        R(VK_SUCCESS)
        R(VK_NOT_READY)
        R(VK_TIMEOUT)
        R(VK_EVENT_SET)
        R(VK_EVENT_RESET)
        R(VK_INCOMPLETE)
        R(VK_ERROR_OUT_OF_HOST_MEMORY)
        R(VK_ERROR_OUT_OF_DEVICE_MEMORY)
        R(VK_ERROR_INITIALIZATION_FAILED)
        R(VK_ERROR_DEVICE_LOST)
        R(VK_ERROR_MEMORY_MAP_FAILED)
        R(VK_ERROR_LAYER_NOT_PRESENT)
        R(VK_ERROR_EXTENSION_NOT_PRESENT)
        R(VK_ERROR_FEATURE_NOT_PRESENT)
        R(VK_ERROR_INCOMPATIBLE_DRIVER)
        R(VK_ERROR_TOO_MANY_OBJECTS)
        R(VK_ERROR_FORMAT_NOT_SUPPORTED)
        R(VK_ERROR_FRAGMENTED_POOL)
        R(VK_ERROR_UNKNOWN)
        R(VK_ERROR_OUT_OF_POOL_MEMORY)
        R(VK_ERROR_INVALID_EXTERNAL_HANDLE)
        R(VK_ERROR_FRAGMENTATION)
        R(VK_ERROR_INVALID_OPAQUE_CAPTURE_ADDRESS)
        R(VK_PIPELINE_COMPILE_REQUIRED)
        R(VK_ERROR_VALIDATION_FAILED_EXT)
#undef R
    default:
        return "VK_ERROR_(unknown)";
    }
}

g3_status g3_vk_status(VkResult r)
{
    switch (r) {
    case VK_SUCCESS:
        return G3_OK;
    case VK_ERROR_OUT_OF_HOST_MEMORY:
    case VK_ERROR_OUT_OF_DEVICE_MEMORY:
        return G3_ERR_OUT_OF_MEMORY;
    case VK_ERROR_DEVICE_LOST:
        return G3_ERR_DEVICE_LOST;
    default:
        return G3_ERR_DEVICE;
    }
}

/* "vk->vkCreateBuffer(ctx->device, ...)" -> "vkCreateBuffer": the identifier just
 * before the first '(' so messages stay short whatever the call expression. */
static void call_name(const char *call, char *buf, size_t cap)
{
    const char *paren = strchr(call, '(');
    const char *end = paren ? paren : call + strlen(call);
    const char *start = end;
    while (start > call && (start[-1] == '_' || (start[-1] >= '0' && start[-1] <= '9') ||
                            (start[-1] >= 'a' && start[-1] <= 'z') ||
                            (start[-1] >= 'A' && start[-1] <= 'Z')))
        start--;
    snprintf(buf, cap, "%.*s", (int)(end - start), start);
}

g3_status g3_vk_fail(g3_vk_context *ctx, g3_err *err, VkResult r, const char *call,
                     const char *file, int line)
{
    char name[96];
    call_name(call, name, sizeof(name));
    const g3_status st = g3_vk_status(r);
    if (st == G3_ERR_DEVICE_LOST && ctx)
        ctx->lost = true;
    const char *base = strrchr(file, '/');
    return g3_err_set(err, st, "%s failed: %s (%s:%d)", name, g3_vk_result_string(r),
                         base ? base + 1 : file, line);
}

g3_status g3_vk_check_lost(const g3_vk_context *ctx, g3_err *err)
{
    if (ctx && ctx->lost)
        return g3_err_set(err, G3_ERR_DEVICE_LOST,
                             "the Vulkan device was lost earlier: free the context");
    return G3_OK;
}
