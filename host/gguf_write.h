/* gguf_write.h: builds a GGUF v3 file in memory or streams it to disk.
 * Used by `g3vk synth` and by tests that craft valid and malformed files. */
#ifndef G3_GGUF_WRITE_H
#define G3_GGUF_WRITE_H

#include "g3_internal.h"

typedef struct g3_gguf_writer g3_gguf_writer;

g3_gguf_writer *g3_gguf_writer_new(void); /* NULL on OOM */
void g3_gguf_writer_free(g3_gguf_writer *w);

/* Metadata, written in call order. Strings are copied. */
g3_status g3_gguf_w_u32(g3_gguf_writer *w, const char *key, uint32_t v);
g3_status g3_gguf_w_i32(g3_gguf_writer *w, const char *key, int32_t v);
g3_status g3_gguf_w_f32(g3_gguf_writer *w, const char *key, float v);
g3_status g3_gguf_w_bool(g3_gguf_writer *w, const char *key, bool v);
g3_status g3_gguf_w_str(g3_gguf_writer *w, const char *key, const char *v);
/* Any fixed-size scalar type (enum g3_gguf_vtype: u8 .. f64, not string or array);
 * *v is read as that C type (uint8_t for bool). */
g3_status g3_gguf_w_val(g3_gguf_writer *w, const char *key, uint32_t vtype, const void *v);
/* Arrays of numbers (elem_type one of the fixed-size types): n * size bytes copied. */
g3_status g3_gguf_w_arr(g3_gguf_writer *w, const char *key, uint32_t elem_type,
                        const void *data, uint64_t n);
/* Array of strings: strs[i] with lens[i] bytes each (lens NULL: NUL-terminated). */
g3_status g3_gguf_w_arr_str(g3_gguf_writer *w, const char *key, const char *const *strs,
                            const uint64_t *lens, uint64_t n);

/* A tensor: dims ne[0..n_dims-1], ggml type id, and its data (n_bytes must match the
 * type and shape). The data is copied unless `borrow` is true (then it must live until
 * the file is written). Offsets are assigned in call order, aligned to 32. */
g3_status g3_gguf_w_tensor(g3_gguf_writer *w, const char *name, uint32_t n_dims,
                           const int64_t *ne, uint32_t type, const void *data,
                           uint64_t n_bytes, bool borrow);

/* A failed g3_gguf_w_* call is remembered: later calls still work, and save / to_memory
 * return the first failure with its message. This copies that failure into err
 * (G3_OK when there was none), for callers that want the message right away. */
g3_status g3_gguf_writer_status(const g3_gguf_writer *w, g3_err *err);

/* Writes the whole file. */
g3_status g3_gguf_writer_save(const g3_gguf_writer *w, const char *path, g3_err *err);
/* Or returns it as one malloc'ed buffer (caller frees). */
g3_status g3_gguf_writer_to_memory(const g3_gguf_writer *w, uint8_t **out, size_t *size,
                                   g3_err *err);

#endif /* G3_GGUF_WRITE_H */
