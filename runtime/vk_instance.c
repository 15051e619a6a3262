/* vk_instance.c: the VkInstance, the validation layer and the messenger that turns
 * validation messages into a count tests can assert on. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vk_internal.h"

#define G3_VK_LAYER_VALIDATION "VK_LAYER_KHRONOS_validation"

/* Messages of every non-quiet context of the process: what tests and the CLI
 * check at the end, whoever created the context (the engine does, inside). */
static atomic_uint g3_vk_total_messages;

uint32_t g3_vk_validation_total(void)
{
    return atomic_load(&g3_vk_total_messages);
}

/* Counts every warning and error (validation, performance and general alike: the
 * loader reports broken drivers this way too), keeps the last one for the test's
 * message and prints it unless the context is quiet. */
static VKAPI_ATTR VkBool32 VKAPI_CALL
messenger_cb(VkDebugUtilsMessageSeverityFlagBitsEXT severity,
             VkDebugUtilsMessageTypeFlagsEXT types,
             const VkDebugUtilsMessengerCallbackDataEXT *data, void *user)
{
    g3_vk_context *ctx = user;
    const char *msg = data && data->pMessage ? data->pMessage : "(no message)";
    atomic_fetch_add(&ctx->n_validation, 1);
    if (!ctx->quiet)
        atomic_fetch_add(&g3_vk_total_messages, 1);
    snprintf(ctx->last_validation, sizeof(ctx->last_validation), "%s", msg);
    if (!ctx->quiet)
        fprintf(stderr, "g3vk: vulkan %s%s: %s\n",
                (types & VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT) ? "performance " : "",
                severity >= VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT ? "error" : "warning",
                msg);
    if (ctx->validation_fn)
        ctx->validation_fn(ctx->validation_user,
                           severity >= VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT, msg);
    return VK_FALSE; /* never abort the call: the caller's status handling decides */
}

static bool has_extension(const VkExtensionProperties *exts, uint32_t n, const char *name)
{
    for (uint32_t i = 0; i < n; i++)
        if (!strcmp(exts[i].extensionName, name))
            return true;
    return false;
}

/* Instance extensions offered by the loader and its drivers (layer NULL) or by one
 * layer. Returns a malloc'd array (NULL with *n = 0 when there is none). */
static g3_status list_extensions(const char *layer, VkExtensionProperties **out, uint32_t *n,
                                 g3_err *err)
{
    g3_status st = G3_OK;
    VkExtensionProperties *exts = NULL;
    *out = NULL;
    *n = 0;
    uint32_t count = 0;
    G3_VK_TRY(NULL, err, vkEnumerateInstanceExtensionProperties(layer, &count, NULL));
    if (count == 0)
        return G3_OK;
    exts = calloc(count, sizeof(*exts));
    if (!exts)
        return g3_err_set(err, G3_ERR_OUT_OF_MEMORY, "out of host memory");
    VkResult r = vkEnumerateInstanceExtensionProperties(layer, &count, exts);
    if (r != VK_SUCCESS && r != VK_INCOMPLETE) /* INCOMPLETE: the list shrank meanwhile */
        G3_VK_TRY(NULL, err, r);
    *out = exts;
    *n = count;
    return G3_OK;
out:
    free(exts);
    return st;
}

static g3_status check_validation_layer(g3_err *err)
{
    g3_status st = G3_OK;
    VkLayerProperties *layers = NULL;
    uint32_t n = 0;
    G3_VK_TRY(NULL, err, vkEnumerateInstanceLayerProperties(&n, NULL));
    layers = calloc(n ? n : 1, sizeof(*layers));
    if (!layers)
        return g3_err_set(err, G3_ERR_OUT_OF_MEMORY, "out of host memory");
    VkResult r = vkEnumerateInstanceLayerProperties(&n, layers);
    if (r != VK_SUCCESS && r != VK_INCOMPLETE)
        G3_VK_TRY(NULL, err, r);
    bool found = false;
    for (uint32_t i = 0; i < n; i++)
        found = found || !strcmp(layers[i].layerName, G3_VK_LAYER_VALIDATION);
    if (!found)
        st = g3_err_set(err, G3_ERR_UNSUPPORTED,
                           "Vulkan validation was requested but the layer %s is not "
                           "installed (Debian: apt-get install vulkan-validationlayers)",
                           G3_VK_LAYER_VALIDATION);
out:
    free(layers);
    return st;
}

g3_status g3_vk_instance_create(g3_vk_context *ctx, g3_err *err)
{
    g3_status st = g3_vk_loader_init(err);
    VkExtensionProperties *exts = NULL, *layer_exts = NULL;
    uint32_t n_exts = 0, n_layer_exts = 0;
    if (st != G3_OK)
        return st;

    /* vkEnumerateInstanceVersion is absent from 1.0 loaders (volk then says 1.0). */
    const uint32_t loader_api = volkGetInstanceVersion();
    if (loader_api < G3_VK_MIN_API) {
        char v[32];
        return g3_err_set(err, G3_ERR_UNSUPPORTED,
                             "the Vulkan loader supports only Vulkan %s; 1.1 or newer is "
                             "required (update libvulkan1)",
                             g3_vk_api_version_string(loader_api, v, sizeof(v)));
    }
    ctx->api_version = loader_api < G3_VK_MAX_API ? loader_api : G3_VK_MAX_API;

    if ((st = list_extensions(NULL, &exts, &n_exts, err)) != G3_OK)
        goto out;
    const char *enabled[4];
    uint32_t n_enabled = 0;
    const char *layers[1];
    uint32_t n_layers = 0;
    VkInstanceCreateFlags flags = 0;

    bool debug_utils = has_extension(exts, n_exts, VK_EXT_DEBUG_UTILS_EXTENSION_NAME);
    if (ctx->validation) {
        if ((st = check_validation_layer(err)) != G3_OK)
            goto out;
        if ((st = list_extensions(G3_VK_LAYER_VALIDATION, &layer_exts, &n_layer_exts, err)) !=
            G3_OK)
            goto out;
        debug_utils = debug_utils ||
                      has_extension(layer_exts, n_layer_exts, VK_EXT_DEBUG_UTILS_EXTENSION_NAME);
        if (!debug_utils) {
            st = g3_err_set(err, G3_ERR_UNSUPPORTED,
                               "Vulkan validation was requested but %s is missing, so its "
                               "messages could not be counted",
                               VK_EXT_DEBUG_UTILS_EXTENSION_NAME);
            goto out;
        }
        if (!has_extension(layer_exts, n_layer_exts, VK_EXT_VALIDATION_FEATURES_EXTENSION_NAME)) {
            st = g3_err_set(err, G3_ERR_UNSUPPORTED,
                               "Vulkan validation was requested but %s does not offer %s "
                               "(needed for synchronization validation): update "
                               "vulkan-validationlayers",
                               G3_VK_LAYER_VALIDATION, VK_EXT_VALIDATION_FEATURES_EXTENSION_NAME);
            goto out;
        }
        layers[n_layers++] = G3_VK_LAYER_VALIDATION;
        enabled[n_enabled++] = VK_EXT_VALIDATION_FEATURES_EXTENSION_NAME;
    }
    /* Debug utils also without validation: object names show up in RenderDoc/Nsight. */
    if (debug_utils)
        enabled[n_enabled++] = VK_EXT_DEBUG_UTILS_EXTENSION_NAME;
    /* MoltenVK (macOS) lists its devices only to instances that accept portability. */
    if (has_extension(exts, n_exts, VK_KHR_PORTABILITY_ENUMERATION_EXTENSION_NAME)) {
        enabled[n_enabled++] = VK_KHR_PORTABILITY_ENUMERATION_EXTENSION_NAME;
        flags |= VK_INSTANCE_CREATE_ENUMERATE_PORTABILITY_BIT_KHR;
    }

    /* Synchronization validation is off by default in the layer, and it is the check
     * that catches a missing barrier lavapipe would forgive (vulkan-devices.md). */
    static const VkValidationFeatureEnableEXT features_on[] = {
        VK_VALIDATION_FEATURE_ENABLE_SYNCHRONIZATION_VALIDATION_EXT,
    };
    VkDebugUtilsMessengerCreateInfoEXT mci = {
        .sType = VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT,
        .messageSeverity = VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT |
                           VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT,
        .messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT |
                       VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT |
                       VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT,
        .pfnUserCallback = messenger_cb,
        .pUserData = ctx,
    };
    /* The messenger in pNext also covers vkCreateInstance/vkDestroyInstance. */
    VkValidationFeaturesEXT vf = {
        .sType = VK_STRUCTURE_TYPE_VALIDATION_FEATURES_EXT,
        .pNext = &mci,
        .enabledValidationFeatureCount = (uint32_t)G3_ARRAY_LEN(features_on),
        .pEnabledValidationFeatures = features_on,
    };
    const VkApplicationInfo app = {
        .sType = VK_STRUCTURE_TYPE_APPLICATION_INFO,
        .pApplicationName = "g3vk",
        .applicationVersion = VK_MAKE_API_VERSION(0, 0, 1, 0),
        .pEngineName = "g3vk",
        .engineVersion = VK_MAKE_API_VERSION(0, 0, 1, 0),
        .apiVersion = ctx->api_version,
    };
    const VkInstanceCreateInfo ici = {
        .sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO,
        .pNext = ctx->validation ? (const void *)&vf : NULL,
        .flags = flags,
        .pApplicationInfo = &app,
        .enabledLayerCount = n_layers,
        .ppEnabledLayerNames = layers,
        .enabledExtensionCount = n_enabled,
        .ppEnabledExtensionNames = enabled,
    };
    VkResult r = vkCreateInstance(&ici, NULL, &ctx->instance);
    if (r == VK_ERROR_INCOMPATIBLE_DRIVER) {
        /* What the loader says when it found no driver (ICD) at all. */
        st = g3_err_set(err, G3_ERR_NO_DEVICE,
                           "no Vulkan driver found (vkCreateInstance: "
                           "VK_ERROR_INCOMPATIBLE_DRIVER): install one, e.g. "
                           "mesa-vulkan-drivers for lavapipe, or check VK_ICD_FILENAMES");
        ctx->instance = VK_NULL_HANDLE;
        goto out;
    }
    G3_VK_TRY(NULL, err, r);
    g3_vk_loader_load_instance(ctx->instance);

    if (debug_utils) {
        ctx->create_messenger = (PFN_vkCreateDebugUtilsMessengerEXT)vkGetInstanceProcAddr(
            ctx->instance, "vkCreateDebugUtilsMessengerEXT");
        ctx->destroy_messenger = (PFN_vkDestroyDebugUtilsMessengerEXT)vkGetInstanceProcAddr(
            ctx->instance, "vkDestroyDebugUtilsMessengerEXT");
        ctx->set_object_name = (PFN_vkSetDebugUtilsObjectNameEXT)vkGetInstanceProcAddr(
            ctx->instance, "vkSetDebugUtilsObjectNameEXT");
    }
    if (ctx->validation) {
        if (!ctx->create_messenger || !ctx->destroy_messenger) {
            st = g3_err_set(err, G3_ERR_UNSUPPORTED,
                               "vkCreateDebugUtilsMessengerEXT is not available although %s "
                               "was enabled", VK_EXT_DEBUG_UTILS_EXTENSION_NAME);
            goto out;
        }
        G3_VK_TRY(NULL, err, ctx->create_messenger(ctx->instance, &mci, NULL, &ctx->messenger));
    }
    st = G3_OK;
out:
    if (st != G3_OK)
        g3_vk_instance_destroy(ctx);
    free(exts);
    free(layer_exts);
    return st;
}

void g3_vk_instance_destroy(g3_vk_context *ctx)
{
    if (ctx->messenger && ctx->destroy_messenger)
        ctx->destroy_messenger(ctx->instance, ctx->messenger, NULL);
    ctx->messenger = VK_NULL_HANDLE;
    if (ctx->instance)
        vkDestroyInstance(ctx->instance, NULL);
    ctx->instance = VK_NULL_HANDLE;
}
