/* vk_volk.c: the Vulkan loader, opened at run time through volk (volk.c itself is
 * compiled as the g3_volk target). We never link libvulkan: a machine without it
 * still runs the CPU reference, and says why the GPU path is off. */
#include <pthread.h>

#include "vk_internal.h"

/* volk keeps its function pointers in globals; loading is guarded so that two
 * threads creating contexts at once do not race on them. */
static pthread_mutex_t g3_vk_loader_mutex = PTHREAD_MUTEX_INITIALIZER;
static bool g3_vk_loader_tried;
static VkResult g3_vk_loader_result = VK_ERROR_INITIALIZATION_FAILED;

g3_status g3_vk_loader_init(g3_err *err)
{
    pthread_mutex_lock(&g3_vk_loader_mutex);
    if (!g3_vk_loader_tried) {
        g3_vk_loader_result = volkInitialize();
        g3_vk_loader_tried = true;
    }
    const VkResult r = g3_vk_loader_result;
    pthread_mutex_unlock(&g3_vk_loader_mutex);
    if (r != VK_SUCCESS)
        return g3_err_set(err, G3_ERR_NO_DEVICE,
                             "Vulkan loader not found: install libvulkan1 and a driver "
                             "(mesa-vulkan-drivers for lavapipe)");
    return G3_OK;
}

void g3_vk_loader_load_instance(VkInstance instance)
{
    pthread_mutex_lock(&g3_vk_loader_mutex);
    volkLoadInstanceOnly(instance);
    pthread_mutex_unlock(&g3_vk_loader_mutex);
}

uint32_t g3_vk_loader_version(void)
{
    if (g3_vk_loader_init(NULL) != G3_OK)
        return 0;
    uint32_t v = volkGetInstanceVersion();
    return v;
}
