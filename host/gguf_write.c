/* gguf_write.c: builds GGUF v3 files (alignment 32).
 *
 * Metadata is serialized as it is added, into one growing buffer; tensors are
 * kept as descriptors (data copied, or borrowed so that synth's ~300 MB of
 * weights are not duplicated). Saving streams header, metadata, infos and
 * data through one emitter that either writes to a FILE or fills a buffer,
 * so the file and the in-memory image are byte-identical.
 *
 * The writer refuses to produce a file its own reader would reject
 * (duplicate or empty keys and names, a bad alignment key, wrong data sizes,
 * unsupported types). Such a failure is remembered: later calls keep
 * working, and save / to_memory return the first error with its message, so
 * a caller may check only the final status. */
#include "gguf_write.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gguf.h"
#include "quant.h"

#define G3_W_ALIGN 32u
#define G3_W_MAX_NAME 63u /* ggml's GGML_MAX_NAME - 1: longer names break llama.cpp */

typedef struct g3_w_tensor {
    char *name;
    uint32_t n_dims, type;
    int64_t ne[G3_GGUF_MAX_DIMS];
    const void *data;
    void *owned; /* our copy, when not borrowed */
    uint64_t n_bytes, offset;
} g3_w_tensor;

struct g3_gguf_writer {
    uint8_t *meta;
    size_t meta_len, meta_cap;
    uint64_t n_kv;
    char **keys; /* for duplicate checks */
    size_t keys_cap;
    g3_w_tensor *t;
    size_t n_t, t_cap;
    uint64_t data_size; /* aligned end of the last tensor */
    g3_err err;         /* first failure, reported by save */
};

g3_gguf_writer *g3_gguf_writer_new(void)
{
    return calloc(1, sizeof(g3_gguf_writer));
}

void g3_gguf_writer_free(g3_gguf_writer *w)
{
    if (!w)
        return;
    for (uint64_t i = 0; i < w->n_kv; i++)
        free(w->keys[i]);
    for (size_t i = 0; i < w->n_t; i++) {
        free(w->t[i].name);
        free(w->t[i].owned);
    }
    free(w->keys);
    free(w->t);
    free(w->meta);
    free(w);
}

/* Records the first failure (the message is the one save() will report). */
static g3_status g3_w_fail(g3_gguf_writer *w, g3_status st, const char *what, const char *name)
{
    g3_err_set(&w->err, st, "gguf writer: %s '%s'", what, name ? name : "(null)");
    return st;
}

static bool g3_w_reserve(g3_gguf_writer *w, size_t more)
{
    if (more <= w->meta_cap - w->meta_len)
        return true;
    size_t cap = w->meta_cap ? w->meta_cap : 4096;
    while (cap - w->meta_len < more) {
        if (cap > SIZE_MAX / 2)
            return false;
        cap *= 2;
    }
    uint8_t *p = realloc(w->meta, cap);
    if (!p)
        return false;
    w->meta = p;
    w->meta_cap = cap;
    return true;
}

/* Callers reserve first; these then cannot fail. */
static void g3_w_put(g3_gguf_writer *w, const void *p, size_t n)
{
    if (n)
        memcpy(w->meta + w->meta_len, p, n);
    w->meta_len += n;
}

static void g3_le32(uint8_t *b, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        b[i] = (uint8_t)(v >> (8 * i));
}

static void g3_le64(uint8_t *b, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(v >> (8 * i));
}

static void g3_w_put_u32(g3_gguf_writer *w, uint32_t v)
{
    uint8_t b[4];
    g3_le32(b, v);
    g3_w_put(w, b, 4);
}

static void g3_w_put_u64(g3_gguf_writer *w, uint64_t v)
{
    uint8_t b[8];
    g3_le64(b, v);
    g3_w_put(w, b, 8);
}

static const uint8_t g3_w_vsize[G3_GGUF_VTYPE_COUNT] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};

/* Values are given in host order; GGUF is little-endian. */
static void g3_w_put_scalar(g3_gguf_writer *w, uint32_t type, const uint8_t *v)
{
    uint64_t x = 0;
    switch (g3_w_vsize[type]) {
    case 1: g3_w_put(w, v, 1); return;
    case 2: { uint16_t y; memcpy(&y, v, 2); x = y; break; }
    case 4: { uint32_t y; memcpy(&y, v, 4); x = y; break; }
    default: memcpy(&x, v, 8); break;
    }
    uint8_t b[8];
    g3_le64(b, x);
    g3_w_put(w, b, g3_w_vsize[type]);
}

/* Checks the key and reserves room for it plus `value_bytes`; then writes the
 * key and type. Returns false (with w->err set) on a bad key or OOM. */
static bool g3_w_begin_kv(g3_gguf_writer *w, const char *key, uint32_t type, uint64_t value_bytes)
{
    if (!key || !*key) {
        g3_w_fail(w, G3_ERR_INVALID_ARG, "empty key", key);
        return false;
    }
    for (uint64_t i = 0; i < w->n_kv; i++)
        if (strcmp(w->keys[i], key) == 0) {
            g3_w_fail(w, G3_ERR_INVALID_ARG, "duplicate key", key);
            return false;
        }
    size_t klen = strlen(key);
    uint64_t need;
    if (!g3_add_u64(klen + 12, value_bytes, &need) || need > SIZE_MAX ||
        w->n_kv + 1 > SIZE_MAX / sizeof(char *)) {
        g3_w_fail(w, G3_ERR_INVALID_ARG, "value too large for key", key);
        return false;
    }
    char *copy = malloc(klen + 1);
    char **keys = w->keys;
    if (w->n_kv + 1 > w->keys_cap) {
        size_t cap = w->keys_cap ? w->keys_cap * 2 : 32;
        if ((keys = realloc(w->keys, cap * sizeof(char *))) != NULL) {
            w->keys = keys;
            w->keys_cap = cap;
        }
    }
    if (!copy || !keys || !g3_w_reserve(w, (size_t)need)) {
        free(copy);
        g3_w_fail(w, G3_ERR_OUT_OF_MEMORY, "out of memory adding key", key);
        return false;
    }
    memcpy(copy, key, klen + 1);
    w->keys[w->n_kv++] = copy;
    g3_w_put_u64(w, klen);
    g3_w_put(w, key, klen);
    g3_w_put_u32(w, type);
    return true;
}

g3_status g3_gguf_w_val(g3_gguf_writer *w, const char *key, uint32_t vtype, const void *v)
{
    if (!w)
        return G3_ERR_INVALID_ARG;
    if (vtype >= G3_GGUF_VTYPE_COUNT || g3_w_vsize[vtype] == 0 || !v)
        return g3_w_fail(w, G3_ERR_INVALID_ARG, "scalar of a non-scalar type for key", key);
    if (vtype == G3_GGUF_BOOL && *(const uint8_t *)v > 1)
        return g3_w_fail(w, G3_ERR_INVALID_ARG, "bool value not 0 or 1 for key", key);
    /* general.alignment is fixed: data offsets are laid out for 32. */
    if (key && strcmp(key, "general.alignment") == 0) {
        uint32_t a = 0;
        if (vtype == G3_GGUF_U32)
            memcpy(&a, v, 4);
        if (a != G3_W_ALIGN)
            return g3_w_fail(w, G3_ERR_INVALID_ARG, "only u32 32 is allowed for", key);
    }
    if (!g3_w_begin_kv(w, key, vtype, g3_w_vsize[vtype]))
        return w->err.status;
    g3_w_put_scalar(w, vtype, v);
    return G3_OK;
}

g3_status g3_gguf_w_u32(g3_gguf_writer *w, const char *key, uint32_t v)
{
    return g3_gguf_w_val(w, key, G3_GGUF_U32, &v);
}

g3_status g3_gguf_w_i32(g3_gguf_writer *w, const char *key, int32_t v)
{
    return g3_gguf_w_val(w, key, G3_GGUF_I32, &v);
}

g3_status g3_gguf_w_f32(g3_gguf_writer *w, const char *key, float v)
{
    return g3_gguf_w_val(w, key, G3_GGUF_F32, &v);
}

g3_status g3_gguf_w_bool(g3_gguf_writer *w, const char *key, bool v)
{
    uint8_t b = v ? 1 : 0;
    return g3_gguf_w_val(w, key, G3_GGUF_BOOL, &b);
}

g3_status g3_gguf_w_str(g3_gguf_writer *w, const char *key, const char *v)
{
    if (!w)
        return G3_ERR_INVALID_ARG;
    if (!v)
        return g3_w_fail(w, G3_ERR_INVALID_ARG, "NULL string for key", key);
    if (key && strcmp(key, "general.alignment") == 0)
        return g3_w_fail(w, G3_ERR_INVALID_ARG, "only u32 32 is allowed for", key);
    size_t n = strlen(v);
    if (!g3_w_begin_kv(w, key, G3_GGUF_STRING, 8 + (uint64_t)n))
        return w->err.status;
    g3_w_put_u64(w, n);
    g3_w_put(w, v, n);
    return G3_OK;
}

g3_status g3_gguf_w_arr(g3_gguf_writer *w, const char *key, uint32_t elem_type, const void *data,
                        uint64_t n)
{
    if (!w)
        return G3_ERR_INVALID_ARG;
    if (elem_type >= G3_GGUF_VTYPE_COUNT || g3_w_vsize[elem_type] == 0 || (!data && n > 0))
        return g3_w_fail(w, G3_ERR_INVALID_ARG, "bad array element type or data for key", key);
    uint64_t sz = g3_w_vsize[elem_type], bytes;
    if (!g3_mul_u64(n, sz, &bytes) || bytes > SIZE_MAX - 12)
        return g3_w_fail(w, G3_ERR_INVALID_ARG, "array too large for key", key);
    const uint8_t *p = data;
    if (elem_type == G3_GGUF_BOOL)
        for (uint64_t i = 0; i < n; i++)
            if (p[i] > 1)
                return g3_w_fail(w, G3_ERR_INVALID_ARG, "bool element not 0 or 1 in key", key);
    if (!g3_w_begin_kv(w, key, G3_GGUF_ARRAY, 12 + bytes))
        return w->err.status;
    g3_w_put_u32(w, elem_type);
    g3_w_put_u64(w, n);
    for (uint64_t i = 0; i < n; i++)
        g3_w_put_scalar(w, elem_type, p + i * sz);
    return G3_OK;
}

g3_status g3_gguf_w_arr_str(g3_gguf_writer *w, const char *key, const char *const *strs,
                            const uint64_t *lens, uint64_t n)
{
    if (!w)
        return G3_ERR_INVALID_ARG;
    if (!strs && n > 0)
        return g3_w_fail(w, G3_ERR_INVALID_ARG, "NULL string array for key", key);
    uint64_t bytes = 12;
    for (uint64_t i = 0; i < n; i++) {
        if (!strs[i] && (!lens || lens[i] > 0))
            return g3_w_fail(w, G3_ERR_INVALID_ARG, "NULL string in array", key);
        uint64_t len = lens ? lens[i] : strlen(strs[i]);
        if (!g3_add_u64(bytes, 8, &bytes) || !g3_add_u64(bytes, len, &bytes))
            return g3_w_fail(w, G3_ERR_INVALID_ARG, "array too large for key", key);
    }
    if (!g3_w_begin_kv(w, key, G3_GGUF_ARRAY, bytes))
        return w->err.status;
    g3_w_put_u32(w, G3_GGUF_STRING);
    g3_w_put_u64(w, n);
    for (uint64_t i = 0; i < n; i++) {
        uint64_t len = lens ? lens[i] : strlen(strs[i]);
        g3_w_put_u64(w, len);
        g3_w_put(w, strs[i], (size_t)len);
    }
    return G3_OK;
}

g3_status g3_gguf_w_tensor(g3_gguf_writer *w, const char *name, uint32_t n_dims,
                           const int64_t *ne, uint32_t type, const void *data, uint64_t n_bytes,
                           bool borrow)
{
    if (!w)
        return G3_ERR_INVALID_ARG;
    if (!name || !*name || strlen(name) > G3_W_MAX_NAME)
        return g3_w_fail(w, G3_ERR_INVALID_ARG, "empty or over-long (> 63 bytes) tensor name",
                         name);
    for (size_t i = 0; i < w->n_t; i++)
        if (strcmp(w->t[i].name, name) == 0)
            return g3_w_fail(w, G3_ERR_INVALID_ARG, "duplicate tensor name", name);
    if (n_dims < 1 || n_dims > G3_GGUF_MAX_DIMS || !ne)
        return g3_w_fail(w, G3_ERR_INVALID_ARG, "n_dims not in 1..4 for tensor", name);
    const g3_type_info *ti = g3_type_get(type);
    if (!ti->supported || ti->block_size == 0 || ti->type_size == 0)
        return g3_w_fail(w, G3_ERR_UNSUPPORTED, "unsupported type for tensor", name);
    g3_w_tensor t = {0};
    uint64_t elems = 1;
    for (uint32_t d = 0; d < G3_GGUF_MAX_DIMS; d++) {
        t.ne[d] = d < n_dims ? ne[d] : 1;
        if (t.ne[d] < 1 || !g3_mul_u64(elems, (uint64_t)t.ne[d], &elems) ||
            elems > (uint64_t)INT64_MAX)
            return g3_w_fail(w, G3_ERR_INVALID_ARG, "bad dimensions for tensor", name);
    }
    uint64_t row, size, padded, end;
    if ((uint64_t)t.ne[0] % ti->block_size != 0)
        return g3_w_fail(w, G3_ERR_INVALID_ARG, "row length not a multiple of the block size "
                         "for tensor", name);
    if (!g3_mul_u64((uint64_t)t.ne[0] / ti->block_size, ti->type_size, &row) ||
        !g3_mul_u64(row, elems / (uint64_t)t.ne[0], &size) || size != n_bytes || !data)
        return g3_w_fail(w, G3_ERR_INVALID_ARG, "n_bytes does not match the type and shape "
                         "(or data is NULL) for tensor", name);
    if (!g3_add_u64(size, G3_W_ALIGN - 1, &padded) ||
        !g3_add_u64(w->data_size, padded / G3_W_ALIGN * G3_W_ALIGN, &end) ||
        (!borrow && size > SIZE_MAX))
        return g3_w_fail(w, G3_ERR_INVALID_ARG, "data too large for tensor", name);
    t.n_dims = n_dims;
    t.type = type;
    t.n_bytes = size;
    t.offset = w->data_size;
    t.name = malloc(strlen(name) + 1);
    if (!borrow)
        t.owned = malloc(size ? (size_t)size : 1);
    if (w->n_t == w->t_cap) {
        size_t cap = w->t_cap ? w->t_cap * 2 : 64;
        g3_w_tensor *nt = realloc(w->t, cap * sizeof(*nt));
        if (nt) {
            w->t = nt;
            w->t_cap = cap;
        }
    }
    if (!t.name || (!borrow && !t.owned) || w->n_t == w->t_cap) {
        free(t.name);
        free(t.owned);
        return g3_w_fail(w, G3_ERR_OUT_OF_MEMORY, "out of memory adding tensor", name);
    }
    strcpy(t.name, name);
    if (!borrow)
        memcpy(t.owned, data, (size_t)size);
    t.data = borrow ? data : t.owned;
    w->t[w->n_t++] = t;
    w->data_size = end;
    return G3_OK;
}

g3_status g3_gguf_writer_status(const g3_gguf_writer *w, g3_err *err)
{
    if (!w)
        return g3_err_set(err, G3_ERR_INVALID_ARG, "gguf writer: NULL argument");
    if (w->err.status != G3_OK)
        return g3_err_set(err, w->err.status, "%s", w->err.msg);
    return G3_OK;
}

/* ---- emitting ---- */

typedef struct g3_sink {
    FILE *f;      /* file sink, or */
    uint8_t *buf; /* memory sink of exactly the file's size */
    uint64_t pos;
    bool failed;
} g3_sink;

static void g3_emit(g3_sink *s, const void *p, uint64_t n)
{
    if (s->failed || n == 0)
        return;
    if (s->f) {
        if (fwrite(p, 1, (size_t)n, s->f) != (size_t)n)
            s->failed = true;
    } else {
        memcpy(s->buf + s->pos, p, (size_t)n);
    }
    s->pos += n;
}

static void g3_emit_pad(g3_sink *s)
{
    static const uint8_t zeros[G3_W_ALIGN];
    g3_emit(s, zeros, (G3_W_ALIGN - s->pos % G3_W_ALIGN) % G3_W_ALIGN);
}

static uint64_t g3_w_infos_size(const g3_gguf_writer *w)
{
    uint64_t n = 0;
    for (size_t i = 0; i < w->n_t; i++)
        n += 8 + strlen(w->t[i].name) + 4 + 8ull * w->t[i].n_dims + 4 + 8;
    return n;
}

/* Total file size: header, metadata, infos, padding, data (each tensor padded). */
static bool g3_w_total(const g3_gguf_writer *w, uint64_t *total)
{
    uint64_t head = 24 + (uint64_t)w->meta_len + g3_w_infos_size(w);
    head = (head + G3_W_ALIGN - 1) / G3_W_ALIGN * G3_W_ALIGN;
    return g3_add_u64(head, w->data_size, total);
}

static void g3_w_emit_all(const g3_gguf_writer *w, g3_sink *s)
{
    uint8_t b[8];
    g3_emit(s, "GGUF", 4);
    g3_le32(b, 3);
    g3_emit(s, b, 4);
    g3_le64(b, w->n_t);
    g3_emit(s, b, 8);
    g3_le64(b, w->n_kv);
    g3_emit(s, b, 8);
    g3_emit(s, w->meta, w->meta_len);
    for (size_t i = 0; i < w->n_t; i++) {
        const g3_w_tensor *t = &w->t[i];
        size_t len = strlen(t->name);
        g3_le64(b, len);
        g3_emit(s, b, 8);
        g3_emit(s, t->name, len);
        g3_le32(b, t->n_dims);
        g3_emit(s, b, 4);
        for (uint32_t d = 0; d < t->n_dims; d++) {
            g3_le64(b, (uint64_t)t->ne[d]);
            g3_emit(s, b, 8);
        }
        g3_le32(b, t->type);
        g3_emit(s, b, 4);
        g3_le64(b, t->offset);
        g3_emit(s, b, 8);
    }
    g3_emit_pad(s);
    for (size_t i = 0; i < w->n_t; i++) {
        g3_emit(s, w->t[i].data, w->t[i].n_bytes);
        g3_emit_pad(s);
    }
}

g3_status g3_gguf_writer_to_memory(const g3_gguf_writer *w, uint8_t **out, size_t *size,
                                   g3_err *err)
{
    if (out)
        *out = NULL;
    if (size)
        *size = 0;
    if (!w || !out || !size)
        return g3_err_set(err, G3_ERR_INVALID_ARG, "gguf writer: NULL argument");
    if (w->err.status != G3_OK)
        return g3_err_set(err, w->err.status, "%s", w->err.msg);
    uint64_t total;
    if (!g3_w_total(w, &total) || total > SIZE_MAX)
        return g3_err_set(err, G3_ERR_OUT_OF_MEMORY, "gguf writer: file too large for memory");
    g3_sink s = {NULL, malloc((size_t)total), 0, false};
    if (!s.buf)
        return g3_err_set(err, G3_ERR_OUT_OF_MEMORY,
                          "gguf writer: cannot allocate %" PRIu64 " bytes", total);
    g3_w_emit_all(w, &s);
    G3_ASSERT(s.pos == total);
    *out = s.buf;
    *size = (size_t)total;
    return G3_OK;
}

/* Writes to a temporary file next to `path` and renames it into place, so a
 * failed save never leaves a truncated model behind. */
g3_status g3_gguf_writer_save(const g3_gguf_writer *w, const char *path, g3_err *err)
{
    if (!w || !path)
        return g3_err_set(err, G3_ERR_INVALID_ARG, "gguf writer: NULL argument");
    if (w->err.status != G3_OK)
        return g3_err_set(err, w->err.status, "%s", w->err.msg);
    size_t plen = strlen(path);
    char *tmp = malloc(plen + 8);
    if (!tmp)
        return g3_err_set(err, G3_ERR_OUT_OF_MEMORY, "gguf writer: out of memory");
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, ".XXXXXX", 8);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        g3_status st = g3_err_set(err, G3_ERR_IO, "%s: cannot create a file next to it: %s", path,
                                  strerror(errno));
        free(tmp);
        return st;
    }
    (void)fchmod(fd, 0644); /* mkstemp makes 0600; a model file is not secret */
    FILE *f = fdopen(fd, "wb");
    if (!f) {
        int e = errno;
        close(fd);
        unlink(tmp);
        free(tmp);
        return g3_err_set(err, G3_ERR_IO, "%s: cannot open a stream: %s", path, strerror(e));
    }
    setvbuf(f, NULL, _IOFBF, 1 << 20);
    g3_sink s = {f, NULL, 0, false};
    g3_w_emit_all(w, &s);
    int e = s.failed ? errno : 0;
    if (fclose(f) != 0 && !e)
        e = errno ? errno : EIO;
    if (s.failed || e) {
        unlink(tmp);
        free(tmp);
        return g3_err_set(err, G3_ERR_IO, "%s: write failed: %s", path, strerror(e ? e : EIO));
    }
    if (rename(tmp, path) != 0) {
        e = errno;
        unlink(tmp);
        free(tmp);
        return g3_err_set(err, G3_ERR_IO, "%s: cannot rename the finished file into place: %s",
                          path, strerror(e));
    }
    free(tmp);
    return G3_OK;
}
