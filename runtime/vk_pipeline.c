/* vk_pipeline.c: compute pipelines from the embedded SPIR-V. Each pipeline owns its
 * module and layouts: there are a few dozen at most, all created at load time, so
 * sharing layouts between them would save nothing worth the bookkeeping. */
#include <stdio.h>
#include <stdlib.h>

#include "g3_shared.h"
#include "vk_internal.h"

static g3_status check_desc(const g3_vk_context *ctx, const g3_vk_pipeline_desc *d,
                            const g3_shader_blob *blob, g3_err *err)
{
    if (!blob)
        return g3_err_set(err, G3_ERR_INVALID_ARG, "pipeline: shader id %d is not in the "
                             "registry", (int)d->shader);
    if (blob->size == 0 || blob->size % 4 || blob->code[0] != 0x07230203u)
        return g3_err_set(err, G3_ERR_INVALID_ARG, "pipeline %s: not a SPIR-V module",
                             blob->name);
    if (VK_API_VERSION_MINOR(ctx->api_version) < blob->api_minor)
        return g3_err_set(err, G3_ERR_UNSUPPORTED,
                             "pipeline %s: the shader needs Vulkan 1.%u, %s offers 1.%u",
                             blob->name, blob->api_minor, ctx->info.name,
                             VK_API_VERSION_MINOR(ctx->api_version));
    if (d->n_bindings > G3_VK_MAX_BINDINGS ||
        d->n_bindings > ctx->info.max_storage_buffers_per_stage)
        return g3_err_set(err, G3_ERR_INVALID_ARG,
                             "pipeline %s: %u bindings (at most %d, and %u on this device)",
                             blob->name, d->n_bindings, G3_VK_MAX_BINDINGS,
                             ctx->info.max_storage_buffers_per_stage);
    if (d->push_size % 4)
        return g3_err_set(err, G3_ERR_INVALID_ARG,
                             "pipeline %s: push-constant size %u is not a multiple of 4",
                             blob->name, d->push_size);
    if (d->push_size > ctx->info.max_push_constants_size)
        return g3_err_set(err, G3_ERR_UNSUPPORTED,
                             "pipeline %s: %u bytes of push constants, device allows %u",
                             blob->name, d->push_size, ctx->info.max_push_constants_size);
    if (d->n_spec > G3_VK_MAX_SPEC)
        return g3_err_set(err, G3_ERR_INVALID_ARG, "pipeline %s: %u spec constants (max %d)",
                             blob->name, d->n_spec, G3_VK_MAX_SPEC);
    /* A workgroup size beyond the device's limit is invalid usage the driver need not
     * report: refuse it here, by name. */
    for (uint32_t i = 0; i < d->n_spec; i++)
        if (d->spec[i].id == G3_SPEC_WG_SIZE &&
            (d->spec[i].value == 0 ||
             d->spec[i].value > ctx->info.max_compute_work_group_size[0] ||
             d->spec[i].value > ctx->info.max_compute_work_group_invocations))
            return g3_err_set(err, G3_ERR_INVALID_ARG,
                                 "pipeline %s: workgroup size %u (device allows 1..%u)",
                                 blob->name, d->spec[i].value,
                                 G3_MIN(ctx->info.max_compute_work_group_size[0],
                                        ctx->info.max_compute_work_group_invocations));
    return G3_OK;
}

g3_status g3_vk_pipeline_create(g3_vk_context *ctx, const g3_vk_pipeline_desc *desc,
                                g3_vk_pipeline **out, g3_err *err)
{
    g3_status st = g3_vk_check_lost(ctx, err);
    g3_vk_pipeline *p = NULL;
    const bool fresh = err && err->status == G3_OK;
    if (!out || !desc)
        return g3_err_set(err, G3_ERR_INVALID_ARG, "g3_vk_pipeline_create: NULL argument");
    *out = NULL;
    if (st != G3_OK)
        return st;
    const g3_shader_blob *blob = g3_vk_shader_blob(desc->shader);
    if ((st = check_desc(ctx, desc, blob, err)) != G3_OK)
        return st;
    p = calloc(1, sizeof(*p));
    if (!p)
        return g3_err_set(err, G3_ERR_OUT_OF_MEMORY, "out of host memory");
    p->shader = desc->shader;
    p->n_bindings = desc->n_bindings;
    p->uniform_mask = desc->uniform_mask;
    p->texel_mask = desc->texel_mask;
    p->push_size = desc->push_size;
    g3_vk_spirv_access(blob->code, blob->size, p->access);

    const VkShaderModuleCreateInfo smci = {
        .sType = VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO,
        .codeSize = blob->size,
        .pCode = blob->code,
    };
    G3_VK_TRY(ctx, err, ctx->vk.vkCreateShaderModule(ctx->device, &smci, NULL, &p->module));

    VkDescriptorSetLayoutBinding b[G3_VK_MAX_BINDINGS];
    for (uint32_t i = 0; i < desc->n_bindings; i++)
        b[i] = (VkDescriptorSetLayoutBinding){
            .binding = i,
            .descriptorType = desc->texel_mask >> i & 1     ? VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER
                              : desc->uniform_mask >> i & 1 ? VK_DESCRIPTOR_TYPE_UNIFORM_BUFFER
                                                            : VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
            .descriptorCount = 1,
            .stageFlags = VK_SHADER_STAGE_COMPUTE_BIT,
        };
    const VkDescriptorSetLayoutCreateInfo dslci = {
        .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO,
        .bindingCount = desc->n_bindings,
        .pBindings = b,
    };
    G3_VK_TRY(ctx, err,
              ctx->vk.vkCreateDescriptorSetLayout(ctx->device, &dslci, NULL, &p->set_layout));
    const VkPushConstantRange pcr = {
        .stageFlags = VK_SHADER_STAGE_COMPUTE_BIT,
        .offset = 0,
        .size = desc->push_size,
    };
    const VkPipelineLayoutCreateInfo plci = {
        .sType = VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO,
        .setLayoutCount = 1,
        .pSetLayouts = &p->set_layout,
        .pushConstantRangeCount = desc->push_size ? 1 : 0,
        .pPushConstantRanges = &pcr,
    };
    G3_VK_TRY(ctx, err, ctx->vk.vkCreatePipelineLayout(ctx->device, &plci, NULL, &p->layout));

    /* Every constant is 32 bits (uint, int, float and bool all are in SPIR-V), so the
     * values are packed in order and entry i points at word i. */
    VkSpecializationMapEntry entries[G3_VK_MAX_SPEC];
    uint32_t values[G3_VK_MAX_SPEC];
    for (uint32_t i = 0; i < desc->n_spec; i++) {
        entries[i] = (VkSpecializationMapEntry){
            .constantID = desc->spec[i].id,
            .offset = i * 4,
            .size = 4,
        };
        values[i] = desc->spec[i].value;
    }
    const VkSpecializationInfo si = {
        .mapEntryCount = desc->n_spec,
        .pMapEntries = entries,
        .dataSize = desc->n_spec * 4u,
        .pData = values,
    };
    const VkComputePipelineCreateInfo cpci = {
        .sType = VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO,
        .stage =
            {
                .sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO,
                .stage = VK_SHADER_STAGE_COMPUTE_BIT,
                .module = p->module,
                .pName = "main",
                .pSpecializationInfo = desc->n_spec ? &si : NULL,
            },
        .layout = p->layout,
    };
    G3_VK_TRY(ctx, err,
              ctx->vk.vkCreateComputePipelines(ctx->device, ctx->pipeline_cache, 1, &cpci, NULL,
                                               &p->pipeline));
    g3_vk_set_name(ctx, VK_OBJECT_TYPE_PIPELINE, G3_VK_HANDLE(p->pipeline), blob->name);
    g3_vk_set_name(ctx, VK_OBJECT_TYPE_SHADER_MODULE, G3_VK_HANDLE(p->module), blob->name);
    *out = p;
    return G3_OK;
out:
    if (fresh && err && err->status != G3_OK)
        g3_err_prefix(err, "pipeline %s", blob->name);
    g3_vk_pipeline_free(ctx, p);
    return st;
}

void g3_vk_pipeline_free(g3_vk_context *ctx, g3_vk_pipeline *p)
{
    if (!p)
        return;
    if (p->pipeline)
        ctx->vk.vkDestroyPipeline(ctx->device, p->pipeline, NULL);
    if (p->layout)
        ctx->vk.vkDestroyPipelineLayout(ctx->device, p->layout, NULL);
    if (p->set_layout)
        ctx->vk.vkDestroyDescriptorSetLayout(ctx->device, p->set_layout, NULL);
    if (p->module)
        ctx->vk.vkDestroyShaderModule(ctx->device, p->module, NULL);
    free(p);
}
