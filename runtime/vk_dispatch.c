/* vk_dispatch.c: command recorders: dispatches with their descriptor sets, barriers,
 * copies, and a submit that waits. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "vk_internal.h"

/* Sets per descriptor pool: one set per dispatch. A decode step records a few hundred
 * dispatches; a recorder that needs more grows by whole pools. */
#define G3_VK_SETS_PER_POOL 256

/* Records the first failure of a recording: later records become no-ops and submit
 * reports it (so callers may record a whole step and check once). */
static g3_status cmd_fail(g3_vk_cmd *cmd, g3_status st)
{
    if (cmd->err.status == G3_OK)
        cmd->err.status = st;
    return st;
}

static g3_status add_pool(g3_vk_cmd *cmd)
{
    g3_status st = G3_OK;
    g3_vk_context *ctx = cmd->ctx;
    VkDescriptorPool *pools = realloc(cmd->pools, (cmd->n_pools + 1) * sizeof(*pools));
    if (!pools)
        return g3_err_set(&cmd->err, G3_ERR_OUT_OF_MEMORY, "out of host memory");
    cmd->pools = pools;
    const VkDescriptorPoolSize size[3] = {
        {.type = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
         .descriptorCount = G3_VK_SETS_PER_POOL * G3_VK_MAX_BINDINGS},
        {.type = VK_DESCRIPTOR_TYPE_UNIFORM_BUFFER,
         .descriptorCount = G3_VK_SETS_PER_POOL * G3_VK_MAX_BINDINGS},
        {.type = VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER,
         .descriptorCount = G3_VK_SETS_PER_POOL * G3_VK_MAX_BINDINGS},
    };
    const VkDescriptorPoolCreateInfo ci = {
        .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO,
        .maxSets = G3_VK_SETS_PER_POOL,
        .poolSizeCount = 3,
        .pPoolSizes = size,
    };
    VkDescriptorPool pool = VK_NULL_HANDLE;
    G3_VK_TRY(ctx, &cmd->err, ctx->vk.vkCreateDescriptorPool(ctx->device, &ci, NULL, &pool));
    cmd->pools[cmd->n_pools++] = pool;
out:
    return st;
}

g3_status g3_vk_cmd_create(g3_vk_context *ctx, g3_vk_cmd **out, g3_err *err)
{
    return g3_vk_cmd_create_with(ctx, NULL, out, err);
}

g3_status g3_vk_cmd_create_with(g3_vk_context *ctx, const g3_vk_cmd_options *opt,
                                g3_vk_cmd **out, g3_err *err)
{
    g3_status st = g3_vk_check_lost(ctx, err);
    g3_vk_cmd *cmd = NULL;
    if (!out)
        return g3_err_set(err, G3_ERR_INVALID_ARG, "g3_vk_cmd_create: out is NULL");
    *out = NULL;
    if (st != G3_OK)
        return st;
    cmd = calloc(1, sizeof(*cmd));
    if (!cmd)
        return g3_err_set(err, G3_ERR_OUT_OF_MEMORY, "out of host memory");
    cmd->ctx = ctx;
    const VkCommandBufferAllocateInfo ai = {
        .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
        .commandPool = ctx->pool,
        .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY,
        .commandBufferCount = 1,
    };
    G3_VK_TRY(ctx, err, ctx->vk.vkAllocateCommandBuffers(ctx->device, &ai, &cmd->cb));
    const VkFenceCreateInfo fci = {.sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
    G3_VK_TRY(ctx, err, ctx->vk.vkCreateFence(ctx->device, &fci, NULL, &cmd->fence));
    if ((st = add_pool(cmd)) != G3_OK) {
        g3_err_set(err, st, "%s", cmd->err.msg);
        goto out;
    }
    if (((opt && opt->profile) || ctx->profile.all) && g3_vk_profile_supported(ctx, NULL, 0) &&
        (st = g3_vk_prof_create(cmd, err)) != G3_OK)
        goto out;
    *out = cmd;
    return G3_OK;
out:
    g3_vk_cmd_free(cmd);
    return st;
}

void g3_vk_cmd_free(g3_vk_cmd *cmd)
{
    if (!cmd)
        return;
    g3_vk_context *ctx = cmd->ctx;
    g3_vk_prof_free(cmd);
    for (uint32_t i = 0; i < cmd->n_pools; i++)
        ctx->vk.vkDestroyDescriptorPool(ctx->device, cmd->pools[i], NULL);
    free(cmd->pools);
    if (cmd->fence)
        ctx->vk.vkDestroyFence(ctx->device, cmd->fence, NULL);
    if (cmd->cb)
        ctx->vk.vkFreeCommandBuffers(ctx->device, ctx->pool, 1, &cmd->cb);
    free(cmd);
}

/* A global memory barrier between compute shaders and transfers (both ways). Global,
 * not per buffer: one barrier per graph level is what a decode step needs, and
 * drivers implement buffer barriers as global ones anyway. */
static void record_barrier(g3_vk_cmd *cmd, VkPipelineStageFlags dst_stage, VkAccessFlags dst)
{
    const VkMemoryBarrier mb = {
        .sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
        .srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT,
        .dstAccessMask = dst,
    };
    cmd->ctx->vk.vkCmdPipelineBarrier(
        cmd->cb, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT,
        dst_stage, 0, 1, &mb, 0, NULL, 0, NULL);
}

static const VkAccessFlags g3_vk_device_rw =
    VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_READ_BIT |
    VK_ACCESS_TRANSFER_WRITE_BIT;
static const VkPipelineStageFlags g3_vk_device_stages =
    VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT;

static g3_status begin(g3_vk_cmd *cmd, bool reusable)
{
    g3_status st = G3_OK;
    g3_vk_context *ctx = cmd->ctx;
    cmd->err = (g3_err){0};
    cmd->recording = false;
    cmd->ended = false;
    cmd->reusable = reusable;
    if ((st = g3_vk_check_lost(ctx, &cmd->err)) != G3_OK)
        return st;
    /* The previous submit was waited for, so its sets and commands may be recycled. */
    for (uint32_t i = 0; i < cmd->n_pools; i++)
        G3_VK_TRY(ctx, &cmd->err, ctx->vk.vkResetDescriptorPool(ctx->device, cmd->pools[i], 0));
    cmd->pool_cur = 0;
    G3_VK_TRY(ctx, &cmd->err, ctx->vk.vkResetCommandBuffer(cmd->cb, 0));
    const VkCommandBufferBeginInfo bi = {
        .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO,
        .flags = reusable ? 0 : VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT,
    };
    G3_VK_TRY(ctx, &cmd->err, ctx->vk.vkBeginCommandBuffer(cmd->cb, &bi));
    cmd->recording = true;
    /* Orders this recording after earlier submissions' device writes (a barrier's
     * first scope reaches back over previous submits on the queue): callers then never
     * think about dependencies between two submit-and-wait rounds. */
    record_barrier(cmd, g3_vk_device_stages, g3_vk_device_rw);
    if (cmd->prof)
        g3_vk_prof_begin(cmd);
out:
    return st;
}

g3_status g3_vk_cmd_begin(g3_vk_cmd *cmd)
{
    return begin(cmd, false);
}

g3_status g3_vk_cmd_begin_reusable(g3_vk_cmd *cmd)
{
    return begin(cmd, true);
}

static g3_status recording(g3_vk_cmd *cmd, const char *what)
{
    if (cmd->err.status != G3_OK)
        return cmd->err.status;
    if (!cmd->recording)
        return g3_err_set(&cmd->err, G3_ERR_INVALID_ARG, "%s outside begin/submit", what);
    return G3_OK;
}

/* One descriptor set from the current pool, moving on to (or creating) the next pool
 * when it is exhausted. */
static g3_status alloc_set(g3_vk_cmd *cmd, VkDescriptorSetLayout layout, VkDescriptorSet *set)
{
    g3_status st = G3_OK;
    g3_vk_context *ctx = cmd->ctx;
    for (;;) {
        const VkDescriptorSetAllocateInfo ai = {
            .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO,
            .descriptorPool = cmd->pools[cmd->pool_cur],
            .descriptorSetCount = 1,
            .pSetLayouts = &layout,
        };
        VkResult r = ctx->vk.vkAllocateDescriptorSets(ctx->device, &ai, set);
        if (r != VK_ERROR_OUT_OF_POOL_MEMORY && r != VK_ERROR_FRAGMENTED_POOL) {
            G3_VK_TRY(ctx, &cmd->err, r);
            return G3_OK;
        }
        if (cmd->pool_cur + 1 == cmd->n_pools && (st = add_pool(cmd)) != G3_OK)
            return st;
        cmd->pool_cur++;
    }
out:
    return st;
}

/* A texel binding sees the whole buffer as RGBA32UI texels through one view, made
 * at the buffer's first texel binding and kept with it. */
static g3_status texel_view(g3_vk_cmd *cmd, const g3_vk_binding *b, const char *name, uint32_t i)
{
    g3_status st = G3_OK;
    g3_vk_context *ctx = cmd->ctx;
    if (!b->buf || b->offset != 0)
        return g3_err_set(&cmd->err, G3_ERR_INVALID_ARG,
                          "dispatch %s: texel binding %u must bind a whole buffer", name, i);
    if (b->buf->texels)
        return G3_OK;
    const uint64_t texels = b->buf->size / 16;
    if (texels == 0 || texels > ctx->info.max_texel_buffer_elements)
        return g3_err_set(&cmd->err, G3_ERR_INVALID_ARG,
                          "dispatch %s: texel binding %u holds %llu texels, the device allows "
                          "1 to %u (maxTexelBufferElements)",
                          name, i, (unsigned long long)texels, ctx->info.max_texel_buffer_elements);
    const VkBufferViewCreateInfo ci = {
        .sType = VK_STRUCTURE_TYPE_BUFFER_VIEW_CREATE_INFO,
        .buffer = b->buf->buffer,
        .format = VK_FORMAT_R32G32B32A32_UINT,
        .offset = 0,
        .range = texels * 16,
    };
    G3_VK_TRY(ctx, &cmd->err, ctx->vk.vkCreateBufferView(ctx->device, &ci, NULL, &b->buf->texels));
out:
    return st;
}

g3_status g3_vk_cmd_dispatch(g3_vk_cmd *cmd, const g3_vk_pipeline *pipe,
                             const g3_vk_binding *bindings, uint32_t n_bindings,
                             const void *push, uint32_t push_size, const uint32_t groups[3])
{
    g3_status st = recording(cmd, "g3_vk_cmd_dispatch");
    if (st != G3_OK)
        return st;
    g3_vk_context *ctx = cmd->ctx;
    const g3_vk_device_info *in = &ctx->info;
    const char *name = pipe ? g3_vk_shader_blob(pipe->shader)->name : "?";
    if (!pipe || !groups || n_bindings != pipe->n_bindings || push_size != pipe->push_size ||
        (push_size && !push) || (n_bindings && !bindings))
        return g3_err_set(&cmd->err, G3_ERR_INVALID_ARG,
                             "dispatch %s: %u bindings and %u push bytes given, the pipeline "
                             "has %u and %u",
                             name, n_bindings, push_size, pipe ? pipe->n_bindings : 0,
                             pipe ? pipe->push_size : 0);
    for (int i = 0; i < 3; i++)
        if (groups[i] > in->max_compute_work_group_count[i])
            return g3_err_set(&cmd->err, G3_ERR_INVALID_ARG,
                                 "dispatch %s: %u groups in dimension %d, the device allows %u "
                                 "(fold the grid into another dimension)",
                                 name, groups[i], i, in->max_compute_work_group_count[i]);
    if (!groups[0] || !groups[1] || !groups[2])
        return G3_OK; /* nothing to run */

    VkDescriptorBufferInfo bi[G3_VK_MAX_BINDINGS];
    VkWriteDescriptorSet w[G3_VK_MAX_BINDINGS];
    VkDescriptorSet set = VK_NULL_HANDLE;
    for (uint32_t i = 0; i < n_bindings; i++) {
        const g3_vk_binding *b = &bindings[i];
        const uint64_t range = b->buf && b->size == 0 && b->offset < b->buf->size
                                   ? b->buf->size - b->offset
                                   : b->size;
        if (!b->buf || b->offset >= b->buf->size || range > b->buf->size - b->offset)
            return g3_err_set(&cmd->err, G3_ERR_INVALID_ARG,
                                 "dispatch %s: binding %u [%llu, +%llu) is outside its buffer",
                                 name, i, (unsigned long long)b->offset,
                                 (unsigned long long)range);
        const bool ubo = pipe && (pipe->uniform_mask >> i & 1);
        if (pipe && (pipe->texel_mask >> i & 1)) {
            if ((st = texel_view(cmd, b, name, i)) != G3_OK)
                return st;
            continue;
        }
        if (ubo && (range > in->max_uniform_buffer_range ||
                    b->offset % in->min_uniform_buffer_offset_alignment))
            return g3_err_set(&cmd->err, G3_ERR_INVALID_ARG,
                              "dispatch %s: uniform binding %u [%llu, +%llu) exceeds "
                              "maxUniformBufferRange (%u) or is misaligned (%llu)",
                              name, i, (unsigned long long)b->offset,
                              (unsigned long long)range, in->max_uniform_buffer_range,
                              (unsigned long long)in->min_uniform_buffer_offset_alignment);
        /* The planner splits tensors so these hold; failing here beats a device fault. */
        if (range > in->max_storage_buffer_range)
            return g3_err_set(&cmd->err, G3_ERR_INVALID_ARG,
                                 "dispatch %s: binding %u spans %llu bytes, above "
                                 "maxStorageBufferRange (%llu): split the tensor",
                                 name, i, (unsigned long long)range,
                                 (unsigned long long)in->max_storage_buffer_range);
        if (b->offset % in->min_storage_buffer_offset_alignment)
            return g3_err_set(&cmd->err, G3_ERR_INVALID_ARG,
                                 "dispatch %s: binding %u offset %llu is not a multiple of "
                                 "minStorageBufferOffsetAlignment (%llu)",
                                 name, i, (unsigned long long)b->offset,
                                 (unsigned long long)in->min_storage_buffer_offset_alignment);
        bi[i] = (VkDescriptorBufferInfo){.buffer = b->buf->buffer, .offset = b->offset,
                                         .range = range};
    }
    if (n_bindings) {
        if ((st = alloc_set(cmd, pipe->set_layout, &set)) != G3_OK)
            return cmd_fail(cmd, st);
        for (uint32_t i = 0; i < n_bindings; i++) {
            const bool texel = pipe->texel_mask >> i & 1;
            w[i] = (VkWriteDescriptorSet){
                .sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET,
                .dstSet = set,
                .dstBinding = i,
                .descriptorCount = 1,
                .descriptorType = texel                          ? VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER
                                  : pipe->uniform_mask >> i & 1 ? VK_DESCRIPTOR_TYPE_UNIFORM_BUFFER
                                                                : VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
                .pBufferInfo = texel ? NULL : &bi[i],
                .pTexelBufferView = texel ? &bindings[i].buf->texels : NULL,
            };
        }
        ctx->vk.vkUpdateDescriptorSets(ctx->device, n_bindings, w, 0, NULL);
    }
    ctx->vk.vkCmdBindPipeline(cmd->cb, VK_PIPELINE_BIND_POINT_COMPUTE, pipe->pipeline);
    if (n_bindings)
        ctx->vk.vkCmdBindDescriptorSets(cmd->cb, VK_PIPELINE_BIND_POINT_COMPUTE, pipe->layout, 0,
                                        1, &set, 0, NULL);
    if (push_size)
        ctx->vk.vkCmdPushConstants(cmd->cb, pipe->layout, VK_SHADER_STAGE_COMPUTE_BIT, 0,
                                   push_size, push);
    ctx->vk.vkCmdDispatch(cmd->cb, groups[0], groups[1], groups[2]);
    if (cmd->prof)
        g3_vk_prof_dispatch(cmd, pipe, bindings, push, groups);
    return cmd->err.status;
}

g3_status g3_vk_cmd_barrier(g3_vk_cmd *cmd)
{
    g3_status st = recording(cmd, "g3_vk_cmd_barrier");
    if (st == G3_OK)
        record_barrier(cmd, g3_vk_device_stages, g3_vk_device_rw);
    return st;
}

g3_status g3_vk_cmd_copy(g3_vk_cmd *cmd, g3_vk_buffer *src, uint64_t src_offset,
                         g3_vk_buffer *dst, uint64_t dst_offset, uint64_t size)
{
    g3_status st = recording(cmd, "g3_vk_cmd_copy");
    if (st != G3_OK)
        return st;
    if (!src || !dst || src_offset > src->size || size > src->size - src_offset ||
        dst_offset > dst->size || size > dst->size - dst_offset)
        return g3_err_set(&cmd->err, G3_ERR_INVALID_ARG,
                             "copy of %llu bytes: source or destination range out of bounds",
                             (unsigned long long)size);
    if (size == 0)
        return G3_OK;
    const VkBufferCopy region = {.srcOffset = src_offset, .dstOffset = dst_offset, .size = size};
    cmd->ctx->vk.vkCmdCopyBuffer(cmd->cb, src->buffer, dst->buffer, 1, &region);
    if (cmd->prof)
        g3_vk_prof_copy(cmd, size);
    return cmd->err.status;
}

g3_status g3_vk_cmd_end(g3_vk_cmd *cmd, g3_err *err)
{
    g3_status st = recording(cmd, "g3_vk_cmd_end");
    g3_vk_context *ctx = cmd->ctx;
    if (st != G3_OK) {
        cmd->recording = false; /* begin resets the command buffer from any state */
        return g3_err_set(err, st, "%s", cmd->err.msg);
    }
    cmd->recording = false;
    /* A fence wait alone does not make device writes visible to the host: this
     * barrier does, for every mapped buffer the host reads next. */
    record_barrier(cmd, VK_PIPELINE_STAGE_HOST_BIT, VK_ACCESS_HOST_READ_BIT);
    G3_VK_TRY(ctx, err, ctx->vk.vkEndCommandBuffer(cmd->cb));
    cmd->ended = true;
out:
    return st;
}

g3_status g3_vk_cmd_replay(g3_vk_cmd *cmd, g3_err *err)
{
    g3_status st = G3_OK;
    g3_vk_context *ctx = cmd->ctx;
    if (!cmd->ended)
        return g3_err_set(err, G3_ERR_INVALID_ARG, "g3_vk_cmd_replay: nothing recorded and ended");
    if ((st = g3_vk_check_lost(ctx, err)) != G3_OK)
        return st;
    /* Host writes to mapped coherent memory before vkQueueSubmit are visible to the
     * device without a barrier (the submit is a host-to-device dependency). */
    G3_VK_TRY(ctx, err, ctx->vk.vkResetFences(ctx->device, 1, &cmd->fence));
    const VkSubmitInfo si = {
        .sType = VK_STRUCTURE_TYPE_SUBMIT_INFO,
        .commandBufferCount = 1,
        .pCommandBuffers = &cmd->cb,
    };
    G3_VK_TRY(ctx, err, ctx->vk.vkQueueSubmit(ctx->queue, 1, &si, cmd->fence));
    /* No timeout: a hung device ends in VK_ERROR_DEVICE_LOST from the driver. */
    G3_VK_TRY(ctx, err, ctx->vk.vkWaitForFences(ctx->device, 1, &cmd->fence, VK_TRUE, UINT64_MAX));
    if (cmd->prof && (st = g3_vk_prof_collect(cmd, err)) != G3_OK)
        goto out;
    if (!cmd->reusable)
        cmd->ended = false; /* a one-time command buffer is spent */
out:
    return st;
}

g3_status g3_vk_cmd_submit_wait(g3_vk_cmd *cmd, g3_err *err)
{
    g3_status st = g3_vk_cmd_end(cmd, err);
    return st == G3_OK ? g3_vk_cmd_replay(cmd, err) : st;
}

g3_status g3_vk_cmd_replay_group(g3_vk_cmd *const *cmds, uint32_t n, g3_err *err)
{
    if (n == 1)
        return g3_vk_cmd_replay(cmds[0], err);
    enum { MAX_GROUP = 64 };
    if (n == 0 || n > MAX_GROUP)
        return g3_err_set(err, G3_ERR_INVALID_ARG, "g3_vk_cmd_replay_group: %u recordings "
                          "(1 to %d)", n, MAX_GROUP);
    VkCommandBuffer cbs[MAX_GROUP];
    g3_vk_context *ctx = cmds[0]->ctx;
    for (uint32_t i = 0; i < n; i++) {
        if (!cmds[i]->ended || !cmds[i]->reusable || cmds[i]->ctx != ctx)
            return g3_err_set(err, G3_ERR_INVALID_ARG, "g3_vk_cmd_replay_group: recording %u "
                              "is not an ended reusable recording of this context", i);
        cbs[i] = cmds[i]->cb;
    }
    g3_status st = G3_OK;
    if ((st = g3_vk_check_lost(ctx, err)) != G3_OK)
        return st;
    g3_vk_cmd *last = cmds[n - 1];
    G3_VK_TRY(ctx, err, ctx->vk.vkResetFences(ctx->device, 1, &last->fence));
    const VkSubmitInfo si = {
        .sType = VK_STRUCTURE_TYPE_SUBMIT_INFO,
        .commandBufferCount = n,
        .pCommandBuffers = cbs,
    };
    G3_VK_TRY(ctx, err, ctx->vk.vkQueueSubmit(ctx->queue, 1, &si, last->fence));
    G3_VK_TRY(ctx, err, ctx->vk.vkWaitForFences(ctx->device, 1, &last->fence, VK_TRUE, UINT64_MAX));
    for (uint32_t i = 0; i < n && st == G3_OK; i++)
        if (cmds[i]->prof)
            st = g3_vk_prof_collect(cmds[i], err);
out:
    return st;
}

g3_status g3_vk_cmd_fail(g3_vk_cmd *cmd, g3_status st, const char *fmt, ...)
{
    if (cmd->err.status != G3_OK)
        return cmd->err.status;
    char msg[sizeof(cmd->err.msg)];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return g3_err_set(&cmd->err, st, "%s", msg);
}

g3_vk_binding g3_vk_bind_aligned(const g3_vk_context *ctx, g3_vk_buffer *buf, uint64_t offset,
                                 uint64_t size, uint64_t align, uint32_t *elem)
{
    align = G3_MAX(align, ctx->info.min_storage_buffer_offset_alignment);
    const uint64_t base = offset / align * align;
    *elem = (uint32_t)((offset - base) / 4);
    return (g3_vk_binding){.buf = buf, .offset = base, .size = offset - base + size};
}

bool g3_vk_bind_checked(const g3_vk_context *ctx, g3_vk_buffer *buf, uint64_t offset,
                        uint64_t size, uint32_t elem_bytes, g3_vk_binding *b, uint32_t *elem)
{
    if (!buf || offset % 4 || offset > buf->size || size > buf->size - offset || size == 0)
        return false;
    uint32_t words;
    *b = g3_vk_bind_aligned(ctx, buf, offset, size, 0, &words);
    if ((offset - b->offset) / elem_bytes > UINT32_MAX)
        return false;
    *elem = (uint32_t)((offset - b->offset) / elem_bytes);
    return true;
}

bool g3_vk_fold_groups(uint64_t groups, const uint32_t max[2], uint32_t g[3])
{
    g[0] = (uint32_t)G3_MIN(groups, (uint64_t)max[0]);
    g[1] = 1;
    g[2] = 1;
    if (groups > max[0]) {
        const uint64_t y = (groups + max[0] - 1) / max[0];
        if (y > max[1])
            return false;
        g[1] = (uint32_t)y;
        g[0] = (uint32_t)((groups + y - 1) / y);
    }
    return true;
}
