/* gguf_private.h: helpers shared by the GGUF reader's parser (gguf.c) and its
 * typed getters (gguf_get.c). */
#ifndef G3_GGUF_PRIVATE_H
#define G3_GGUF_PRIVATE_H

#include "gguf.h"

/* Bytes per element of the fixed-size value types; 0 for string and array. */
static const uint8_t g3_vsize[G3_GGUF_VTYPE_COUNT] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};

/* Little-endian loads from any address. */
static inline uint32_t g3_ld_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t g3_ld_u64(const uint8_t *p)
{
    return (uint64_t)g3_ld_u32(p) | (uint64_t)g3_ld_u32(p + 4) << 32;
}

/* "key 'name' (at byte N)" for messages. */
void g3_kv_where(char *buf, size_t cap, const g3_gguf_kv *kv);
/* G3_ERR_FORMAT: the key has another type than expected. */
g3_status g3_wrong_type(const g3_gguf_kv *kv, const char *expected, g3_err *err);

#endif /* G3_GGUF_PRIVATE_H */
