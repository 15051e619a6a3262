/* gguf.h: a bounds-checked reader for GGUF v2 and v3 files.
 *
 * The file is untrusted: every count, length, offset, dimension and type id is
 * checked against the file size and for overflow before it is used, and every
 * problem comes back as G3_ERR_FORMAT (or G3_ERR_UNSUPPORTED for a valid
 * file with an unknown tensor type) with a message naming the field or tensor
 * and its byte offset. Nothing here asserts or aborts on file contents.
 *
 * Data is memory-mapped (or borrowed, for g3_gguf_open_memory); tensor data
 * pointers stay valid until g3_gguf_close(). */
#ifndef G3_GGUF_H
#define G3_GGUF_H

#include "g3_internal.h"

enum g3_gguf_vtype {
    G3_GGUF_U8 = 0,
    G3_GGUF_I8 = 1,
    G3_GGUF_U16 = 2,
    G3_GGUF_I16 = 3,
    G3_GGUF_U32 = 4,
    G3_GGUF_I32 = 5,
    G3_GGUF_F32 = 6,
    G3_GGUF_BOOL = 7,
    G3_GGUF_STRING = 8,
    G3_GGUF_ARRAY = 9,
    G3_GGUF_U64 = 10,
    G3_GGUF_I64 = 11,
    G3_GGUF_F64 = 12,
    G3_GGUF_VTYPE_COUNT
};

#define G3_GGUF_MAX_DIMS 4
#define G3_GGUF_DEFAULT_ALIGNMENT 32

typedef struct g3_gguf_kv {
    char *key;          /* NUL-terminated copy                                   */
    uint32_t type;      /* enum g3_gguf_vtype                                    */
    uint32_t arr_type;  /* element type when type == G3_GGUF_ARRAY               */
    uint64_t n;         /* element count for arrays, 1 otherwise                 */
    const uint8_t *val; /* value bytes in the mapping (for a string: its length
                           prefix; for an array: its first element)              */
    uint64_t offset;    /* byte offset of the key in the file, for messages      */
    uint64_t *str_off;  /* string arrays: n offsets (from val) of each string's
                           length prefix; NULL otherwise                         */
} g3_gguf_kv;

typedef struct g3_gguf_tensor {
    char *name;          /* NUL-terminated copy                                  */
    uint32_t n_dims;     /* 1..4                                                 */
    int64_t ne[G3_GGUF_MAX_DIMS]; /* ne[0] is the row length; unused dims are 1  */
    uint32_t type;       /* ggml type id, validated against quant.h's table      */
    uint64_t offset;     /* relative to the data section start                   */
    uint64_t n_elems;    /* product of ne                                        */
    uint64_t n_bytes;    /* size of the data                                     */
    const void *data;    /* in the mapping                                       */
    uint64_t info_offset; /* byte offset of the tensor info in the file          */
} g3_gguf_tensor;

typedef struct g3_gguf {
    char *path;            /* for messages; "<memory>" for buffers               */
    const uint8_t *base;   /* whole file                                         */
    uint64_t size;
    uint32_t version;      /* 2 or 3                                             */
    uint32_t alignment;    /* general.alignment or 32                            */
    uint64_t data_offset;  /* start of the tensor data section                   */
    uint64_t n_kv;
    g3_gguf_kv *kv;
    uint64_t n_tensors;
    g3_gguf_tensor *tensors;
    void *map;             /* mmap base when the reader owns a mapping           */
    size_t map_size;
} g3_gguf;

/* Opens and fully validates a file. *out is NULL on failure. */
g3_status g3_gguf_open(const char *path, g3_gguf **out, g3_err *err);
/* Same over a caller buffer, which must outlive the g3_gguf (tests, fuzzing). */
g3_status g3_gguf_open_memory(const void *buf, size_t size, g3_gguf **out, g3_err *err);
void g3_gguf_close(g3_gguf *g);

/* Lookups: NULL / -1 when absent. */
const g3_gguf_kv *g3_gguf_find_kv(const g3_gguf *g, const char *key);
const g3_gguf_tensor *g3_gguf_find_tensor(const g3_gguf *g, const char *name);

const char *g3_gguf_vtype_name(uint32_t type);

/* Typed getters for known keys. Absent key: G3_OK with *found = false (found may be
 * NULL when the caller does not care) and *out untouched, so defaults can be
 * preset. Present with the wrong type: G3_ERR_FORMAT naming the key, the
 * expected and the actual type. Integer getters accept any integer type whose
 * value fits (GGUF writers differ: u32 vs i32 vs u64). */
g3_status g3_gguf_get_u32(const g3_gguf *g, const char *key, uint32_t *out, bool *found, g3_err *err);
g3_status g3_gguf_get_f32(const g3_gguf *g, const char *key, float *out, bool *found, g3_err *err);
g3_status g3_gguf_get_bool(const g3_gguf *g, const char *key, bool *out, bool *found, g3_err *err);
/* Wider variants (same rules): any integer type whose value fits; f32 or f64. */
g3_status g3_gguf_get_u64(const g3_gguf *g, const char *key, uint64_t *out, bool *found, g3_err *err);
g3_status g3_gguf_get_i64(const g3_gguf *g, const char *key, int64_t *out, bool *found, g3_err *err);
g3_status g3_gguf_get_f64(const g3_gguf *g, const char *key, double *out, bool *found, g3_err *err);
/* Borrowed, not NUL-terminated: *len bytes at *out. */
g3_status g3_gguf_get_str(const g3_gguf *g, const char *key, const char **out, uint64_t *len,
                          bool *found, g3_err *err);
/* Arrays: checks the element type; *n = count. */
g3_status g3_gguf_get_arr(const g3_gguf *g, const char *key, uint32_t elem_type,
                          const g3_gguf_kv **out, bool *found, g3_err *err);

/* Element i of a string array (i < kv->n, checked by caller). Borrowed. */
const char *g3_gguf_arr_str(const g3_gguf_kv *kv, uint64_t i, uint64_t *len);
/* Element i of a numeric array read as the array's own type. */
float g3_gguf_arr_f32(const g3_gguf_kv *kv, uint64_t i);
int32_t g3_gguf_arr_i32(const g3_gguf_kv *kv, uint64_t i);

#endif /* G3_GGUF_H */
