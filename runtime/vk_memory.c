/* vk_memory.c: buffers (device-local, upload staging, readback) and the simple
 * copy-in / copy-out helpers built on them. One allocation per buffer for now: the
 * engine creates few, large buffers (weights, activations, KV cache), far below
 * maxMemoryAllocationCount; sub-allocation can come with the planner. */
#include <stdlib.h>
#include <string.h>

#include "vk_internal.h"

static int popcount32(uint32_t x)
{
    int n = 0;
    for (; x; x &= x - 1)
        n++;
    return n;
}

/* The memory type for a buffer: must have `need`; then the most `want` bits, then the
 * fewest `avoid` bits, then the lowest index (drivers list their best types first).
 * -1 when no allowed type has `need`. */
static int pick_memory_type(const VkPhysicalDeviceMemoryProperties *mem, uint32_t allowed,
                            VkMemoryPropertyFlags need, VkMemoryPropertyFlags want,
                            VkMemoryPropertyFlags avoid)
{
    int best = -1, best_score = 0;
    for (uint32_t i = 0; i < mem->memoryTypeCount; i++) {
        const VkMemoryPropertyFlags f = mem->memoryTypes[i].propertyFlags;
        if (!(allowed & (1u << i)) || (f & need) != need)
            continue;
        const int score = 4 * popcount32(f & want) - popcount32(f & avoid);
        if (best < 0 || score > best_score) {
            best = (int)i;
            best_score = score;
        }
    }
    return best;
}

static const char *memory_kind_name(g3_vk_memory kind)
{
    switch (kind) {
    case G3_VK_MEMORY_DEVICE:
        return "device-local";
    case G3_VK_MEMORY_UPLOAD:
        return "upload";
    case G3_VK_MEMORY_READBACK:
        return "readback";
    }
    return "?";
}

g3_status g3_vk_buffer_create(g3_vk_context *ctx, uint64_t size, g3_vk_memory kind,
                              const char *name, g3_vk_buffer **out, g3_err *err)
{
    g3_status st = g3_vk_check_lost(ctx, err);
    g3_vk_buffer *b = NULL;
    const bool fresh = err && err->status == G3_OK;
    if (!out)
        return g3_err_set(err, G3_ERR_INVALID_ARG, "g3_vk_buffer_create: out is NULL");
    *out = NULL;
    if (st != G3_OK)
        return st;
    if (size == 0 || kind > G3_VK_MEMORY_READBACK)
        return g3_err_set(err, G3_ERR_INVALID_ARG, "buffer %s: size 0 or bad memory kind",
                             name ? name : "(unnamed)");
    if (size > ctx->info.max_memory_allocation_size)
        return g3_err_set(err, G3_ERR_UNSUPPORTED,
                             "buffer %s: %llu bytes exceed maxMemoryAllocationSize (%llu) of %s",
                             name ? name : "(unnamed)", (unsigned long long)size,
                             (unsigned long long)ctx->info.max_memory_allocation_size,
                             ctx->info.name);
    b = calloc(1, sizeof(*b));
    if (!b)
        return g3_err_set(err, G3_ERR_OUT_OF_MEMORY, "out of host memory");
    b->size = size;
    b->kind = kind;

    /* Every buffer can be bound as storage and copied both ways: the usage flags cost
     * nothing and spare callers from predicting every use. */
    const VkBufferCreateInfo bci = {
        .sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO,
        .size = size,
        .usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_UNIFORM_BUFFER_BIT |
                 VK_BUFFER_USAGE_UNIFORM_TEXEL_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_SRC_BIT |
                 VK_BUFFER_USAGE_TRANSFER_DST_BIT,
        .sharingMode = VK_SHARING_MODE_EXCLUSIVE,
    };
    G3_VK_TRY(ctx, err, ctx->vk.vkCreateBuffer(ctx->device, &bci, NULL, &b->buffer));
    VkMemoryRequirements req;
    ctx->vk.vkGetBufferMemoryRequirements(ctx->device, b->buffer, &req);

    /* Host-visible kinds are always coherent (every implementation has such a type),
     * so no flush/invalidate is ever needed. Staging avoids device-local memory (the
     * small BAR window on discrete GPUs without ReBAR); readback wants cached memory,
     * as reading uncached (write-combined) memory from the CPU is very slow. */
    const VkMemoryPropertyFlags host =
        VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
    int type = -1;
    switch (kind) {
    case G3_VK_MEMORY_DEVICE:
        type = pick_memory_type(&ctx->mem, req.memoryTypeBits, VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT,
                                0, VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT);
        if (type < 0) /* no device-local type for this buffer: any type works, slower */
            type = pick_memory_type(&ctx->mem, req.memoryTypeBits, 0, 0, 0);
        break;
    case G3_VK_MEMORY_UPLOAD:
        type = pick_memory_type(&ctx->mem, req.memoryTypeBits, host, 0,
                                VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT |
                                    VK_MEMORY_PROPERTY_HOST_CACHED_BIT);
        break;
    case G3_VK_MEMORY_READBACK:
        type = pick_memory_type(&ctx->mem, req.memoryTypeBits, host,
                                VK_MEMORY_PROPERTY_HOST_CACHED_BIT,
                                VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT);
        break;
    }
    if (type < 0) {
        st = g3_err_set(err, G3_ERR_UNSUPPORTED, "no %s memory type on %s",
                           memory_kind_name(kind), ctx->info.name);
        goto out;
    }
    const VkMemoryAllocateInfo mai = {
        .sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO,
        .allocationSize = req.size,
        .memoryTypeIndex = (uint32_t)type,
    };
    G3_VK_TRY(ctx, err, ctx->vk.vkAllocateMemory(ctx->device, &mai, NULL, &b->memory));
    G3_VK_TRY(ctx, err, ctx->vk.vkBindBufferMemory(ctx->device, b->buffer, b->memory, 0));
    if (kind != G3_VK_MEMORY_DEVICE)
        G3_VK_TRY(ctx, err,
                  ctx->vk.vkMapMemory(ctx->device, b->memory, 0, VK_WHOLE_SIZE, 0, &b->mapped));
    g3_vk_set_name(ctx, VK_OBJECT_TYPE_BUFFER, G3_VK_HANDLE(b->buffer), name);
    *out = b;
    return G3_OK;
out:
    if (fresh && err && err->status != G3_OK)
        g3_err_prefix(err, "buffer %s (%llu bytes)", name ? name : "(unnamed)",
                     (unsigned long long)size);
    g3_vk_buffer_free(ctx, b);
    return st;
}

void g3_vk_buffer_free(g3_vk_context *ctx, g3_vk_buffer *b)
{
    if (!b)
        return;
    /* vkFreeMemory unmaps implicitly. */
    if (b->texels)
        ctx->vk.vkDestroyBufferView(ctx->device, b->texels, NULL);
    if (b->buffer)
        ctx->vk.vkDestroyBuffer(ctx->device, b->buffer, NULL);
    if (b->memory)
        ctx->vk.vkFreeMemory(ctx->device, b->memory, NULL);
    free(b);
}

uint64_t g3_vk_buffer_size(const g3_vk_buffer *b)
{
    return b ? b->size : 0;
}

void *g3_vk_buffer_map(const g3_vk_buffer *b)
{
    return b ? b->mapped : NULL;
}

static g3_status check_range(const g3_vk_buffer *b, uint64_t offset, uint64_t size,
                             const void *data, const char *what, g3_err *err)
{
    if (!b || (!data && size) || offset > b->size || size > b->size - offset)
        return g3_err_set(err, G3_ERR_INVALID_ARG,
                             "%s: range [%llu, +%llu) outside a buffer of %llu bytes", what,
                             (unsigned long long)offset, (unsigned long long)size,
                             (unsigned long long)(b ? b->size : 0));
    return G3_OK;
}

/* Runs one copy through a temporary recorder and waits. */
static g3_status copy_and_wait(g3_vk_context *ctx, g3_vk_buffer *src, uint64_t src_off,
                               g3_vk_buffer *dst, uint64_t dst_off, uint64_t size, g3_err *err)
{
    g3_vk_cmd *cmd = NULL;
    g3_status st = g3_vk_cmd_create(ctx, &cmd, err);
    if (st != G3_OK)
        return st;
    g3_vk_cmd_begin(cmd);
    g3_vk_cmd_copy(cmd, src, src_off, dst, dst_off, size);
    st = g3_vk_cmd_submit_wait(cmd, err); /* reports any recording failure too */
    g3_vk_cmd_free(cmd);
    return st;
}

g3_status g3_vk_buffer_upload(g3_vk_context *ctx, g3_vk_buffer *buf, uint64_t offset,
                              const void *data, uint64_t size, g3_err *err)
{
    g3_status st = check_range(buf, offset, size, data, "g3_vk_buffer_upload", err);
    g3_vk_buffer *staging = NULL;
    if (st != G3_OK || (st = g3_vk_check_lost(ctx, err)) != G3_OK || size == 0)
        return st;
    if (buf->mapped) { /* coherent, and the contract says the GPU is not using it */
        memcpy((char *)buf->mapped + offset, data, size);
        return G3_OK;
    }
    if ((st = g3_vk_buffer_create(ctx, size, G3_VK_MEMORY_UPLOAD, "g3 upload staging",
                                  &staging, err)) != G3_OK)
        return st;
    memcpy(staging->mapped, data, size);
    st = copy_and_wait(ctx, staging, 0, buf, offset, size, err);
    g3_vk_buffer_free(ctx, staging);
    return st;
}

g3_status g3_vk_buffer_download(g3_vk_context *ctx, g3_vk_buffer *buf, uint64_t offset,
                                void *data, uint64_t size, g3_err *err)
{
    g3_status st = check_range(buf, offset, size, data, "g3_vk_buffer_download", err);
    g3_vk_buffer *staging = NULL;
    if (st != G3_OK || (st = g3_vk_check_lost(ctx, err)) != G3_OK || size == 0)
        return st;
    if (buf->mapped) { /* submit-and-wait already made device writes host-visible */
        memcpy(data, (const char *)buf->mapped + offset, size);
        return G3_OK;
    }
    if ((st = g3_vk_buffer_create(ctx, size, G3_VK_MEMORY_READBACK, "g3 readback staging",
                                  &staging, err)) != G3_OK)
        return st;
    st = copy_and_wait(ctx, buf, offset, staging, 0, size, err);
    if (st == G3_OK)
        memcpy(data, staging->mapped, size);
    g3_vk_buffer_free(ctx, staging);
    return st;
}
