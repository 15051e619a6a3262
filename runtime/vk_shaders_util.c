/* vk_shaders_util.c: lookups in the generated shader registry. */
#include <string.h>

#include "vk_shaders.h"

const g3_shader_blob *g3_vk_shader_blob(g3_shader_id id)
{
    if ((int)id < 0 || id >= G3_SHADER_COUNT)
        return NULL;
    return &g3_shader_blobs[id];
}

int g3_vk_shader_find(const char *name)
{
    if (!name)
        return -1;
    for (int i = 0; i < G3_SHADER_COUNT; i++)
        if (!strcmp(g3_shader_blobs[i].name, name))
            return i;
    return -1;
}
