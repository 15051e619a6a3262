/* test_vk_profile.c (label gpu): the kernel profiler of runtime/vk_profile.c under the
 * validation layer (with synchronization validation) when G3_VK_VALIDATION=1: any
 * message fails.
 *
 * 1. binding access read from the SPIR-V of real kernels (readonly, writeonly,
 *    read-write, uniform x, texel W), and of every shader in the registry;
 * 2. an unprofiled recorder stays unprofiled and adds nothing;
 * 3. a profiled recording replayed 4 times: calls, bytes (exact for bound ranges),
 *    a copy, the per-dispatch override, positive times that add up to the GPU time,
 *    op/type split of the kernel names, reset;
 * 4. more dispatches than one query pool holds (three pools) in one recording;
 * 5. the byte models: rms_norm in place and fused, attention over the positions the
 *    step buffer says (global and sliding), the embedding gather over a table split
 *    in two pieces;
 * 6. the bandwidth probe returns positive finite GB/s for the kernel and transfers.
 * Skips (77) only when no Vulkan device exists; a device without timestamps passes
 * after checking that profiling is refused with a reason and costs nothing. */
#include <math.h>
#include <stdatomic.h>

#include "g3_shared.h"
#include "quant.h"
#include "test.h"
#include "vk.h"
#include "vk_internal.h"
#include "vk_ops.h"

static g3_vk_context *ctx;
static atomic_uint teardown_msgs;

static void on_validation(void *user, bool is_error, const char *msg)
{
    (void)user, (void)is_error, (void)msg;
    atomic_fetch_add(&teardown_msgs, 1);
}

/* The profile entry of a kernel (and shape, when not NULL), or NULL. */
static const g3_vk_profile_entry *find(const g3_vk_profile_entry *e, uint32_t n,
                                       const char *kernel, const char *shape)
{
    for (uint32_t i = 0; i < n; i++)
        if (!strcmp(e[i].kernel, kernel) && (!shape || !strcmp(e[i].shape, shape)))
            return &e[i];
    return NULL;
}

static void test_access(void)
{
    uint8_t a[G3_VK_MAX_BINDINGS];
    const g3_shader_blob *b = g3_vk_shader_blob(G3_SHADER_MATVEC_Q8_0);
    g3_vk_spirv_access(b->code, b->size, a);
    CHECK(a[G3_MATVEC_BINDING_W] == G3_VK_ACCESS_READ &&
              a[G3_MATVEC_BINDING_X] == G3_VK_ACCESS_READ &&
              a[G3_MATVEC_BINDING_Y] == G3_VK_ACCESS_WRITE && a[3] == 0,
          "matvec_q8_0 access %u %u %u %u", a[0], a[1], a[2], a[3]);
    b = g3_vk_shader_blob(G3_SHADER_MATVEC_STREAMS_Q8_0_U); /* x is a uniform block */
    g3_vk_spirv_access(b->code, b->size, a);
    CHECK(a[G3_MATVEC_BINDING_X] == G3_VK_ACCESS_READ &&
              a[G3_MATVEC_BINDING_Y] == G3_VK_ACCESS_WRITE,
          "matvec_streams_q8_0_u access %u %u %u", a[0], a[1], a[2]);
    b = g3_vk_shader_blob(G3_SHADER_RMS_NORM);
    g3_vk_spirv_access(b->code, b->size, a);
    CHECK(a[G3_RMS_NORM_BINDING_Y] == (G3_VK_ACCESS_READ | G3_VK_ACCESS_WRITE) &&
              a[G3_RMS_NORM_BINDING_R] == G3_VK_ACCESS_READ,
          "rms_norm access %u %u %u %u", a[0], a[1], a[2], a[3]);
    /* Every shader of the registry: its bindings are 0..k-1, so a binding whose kind
     * the parser does not know shows as a gap; every matvec variant (storage, uniform
     * or texel W, uniform x) reads W and x and writes y. */
    for (int i = 0; i < G3_SHADER_COUNT; i++) {
        const g3_shader_blob *sb = g3_vk_shader_blob((g3_shader_id)i);
        g3_vk_spirv_access(sb->code, sb->size, a);
        int k = 0;
        while (k < G3_VK_MAX_BINDINGS && a[k])
            k++;
        bool gap = k == 0;
        for (int j = k; j < G3_VK_MAX_BINDINGS; j++)
            gap |= a[j] != 0;
        CHECK(!gap, "%s: binding access %u %u %u %u %u", sb->name, a[0], a[1], a[2], a[3], a[4]);
        if (!strncmp(sb->name, "matvec", 6))
            CHECK(a[G3_MATVEC_BINDING_W] == G3_VK_ACCESS_READ &&
                      a[G3_MATVEC_BINDING_X] == G3_VK_ACCESS_READ &&
                      a[G3_MATVEC_BINDING_Y] == G3_VK_ACCESS_WRITE,
                  "%s: access %u %u %u", sb->name, a[0], a[1], a[2]);
    }
    const uint32_t junk[4] = {1, 2, 3, 4};
    g3_vk_spirv_access(junk, sizeof(junk), a);
    CHECK(a[0] == 0 && a[1] == 0, "junk module gave access bits");
}

static g3_vk_pipeline *scale_pipe(void)
{
    g3_err err = {0};
    g3_vk_pipeline *p = NULL;
    const g3_vk_pipeline_desc d = {.shader = G3_SHADER_SCALE_F32, .n_bindings = 2,
                                   .push_size = sizeof(struct g3_pc_scale), .n_spec = 1,
                                   .spec = {{G3_SPEC_WG_SIZE, 64}}};
    CHECK(g3_vk_pipeline_create(ctx, &d, &p, &err) == G3_OK, "scale pipeline: %s", err.msg);
    return p;
}

/* Records `n` scale dispatches of 1000 floats x -> y (a barrier between each). */
static void record_scales(g3_vk_cmd *cmd, g3_vk_pipeline *p, g3_vk_buffer *x, g3_vk_buffer *y,
                          int n)
{
    const g3_vk_binding b[2] = {{x, 0, 4000}, {y, 0, 4000}};
    const struct g3_pc_scale pc = {.n = 1000, .a = 2.0f};
    const uint32_t g[3] = {16, 1, 1};
    for (int i = 0; i < n; i++) {
        if (i)
            g3_vk_cmd_barrier(cmd);
        g3_vk_cmd_dispatch(cmd, p, b, 2, &pc, sizeof(pc), g);
    }
}

static void test_basic(bool supported)
{
    g3_err err = {0};
    g3_vk_pipeline *p = scale_pipe();
    g3_vk_buffer *x = NULL, *y = NULL;
    g3_vk_cmd *plain = NULL, *cmd = NULL;
    REQUIRE_VOID(p && g3_vk_buffer_create(ctx, 8192, G3_VK_MEMORY_DEVICE, "x", &x, &err) == G3_OK &&
                 g3_vk_buffer_create(ctx, 8192, G3_VK_MEMORY_DEVICE, "y", &y, &err) == G3_OK);
    g3_vk_profile_reset(ctx);

    /* unprofiled: default create and an explicit false */
    REQUIRE_VOID(g3_vk_cmd_create_with(ctx, &(g3_vk_cmd_options){0}, &plain, &err) == G3_OK);
    CHECK(!g3_vk_cmd_profiled(plain), "a default recorder is profiled");
    g3_vk_cmd_begin(plain);
    record_scales(plain, p, x, y, 2);
    g3_vk_cmd_profile_bytes(plain, 1, 1); /* no-op */
    CHECK(g3_vk_cmd_submit_wait(plain, &err) == G3_OK, "plain submit: %s", err.msg);
    g3_vk_profile_totals tot;
    CHECK(g3_vk_profile_get(ctx, NULL, 0, &tot) == 0 && tot.replays == 0 && tot.gpu_ns == 0,
          "an unprofiled recording added %u entries", tot.n_entries);

    REQUIRE_VOID(g3_vk_cmd_create_with(ctx, &(g3_vk_cmd_options){.profile = true}, &cmd, &err) ==
                 G3_OK);
    CHECK(g3_vk_cmd_profiled(cmd) == supported, "profiled %d, supported %d",
          g3_vk_cmd_profiled(cmd), supported);
    g3_vk_cmd_begin_reusable(cmd);
    record_scales(cmd, p, x, y, 2);
    g3_vk_cmd_barrier(cmd);
    g3_vk_cmd_profile_bytes(cmd, 7, 9);
    record_scales(cmd, p, x, y, 1);
    g3_vk_cmd_barrier(cmd);
    g3_vk_cmd_copy(cmd, y, 0, x, 4096, 256);
    CHECK(g3_vk_cmd_end(cmd, &err) == G3_OK, "end: %s", err.msg);
    for (int r = 0; r < 4; r++)
        CHECK(g3_vk_cmd_replay(cmd, &err) == G3_OK, "replay: %s", err.msg);
    g3_vk_profile_entry e[8];
    const uint32_t n = g3_vk_profile_get(ctx, e, 8, &tot);
    if (!supported) {
        CHECK(n == 0 && tot.replays == 0, "no timestamps, yet %u entries", n);
        goto out;
    }
    CHECK(n == 2 && tot.n_entries == 2 && tot.replays == 4, "%u entries, %llu replays", n,
          (unsigned long long)tot.replays);
    const g3_vk_profile_entry *s = find(e, n, "scale_f32", ""), *c = find(e, n, "copy", "");
    REQUIRE_VOID(s && c);
    CHECK(!strcmp(s->op, "scale") && !strcmp(s->type, "f32") && !s->variant[0] &&
              !strcmp(c->op, "copy") && !c->type[0],
          "names: '%s' '%s' '%s', '%s'", s->op, s->type, s->variant, c->op);
    CHECK(s->calls == 12 && c->calls == 4, "calls %llu, %llu", (unsigned long long)s->calls,
          (unsigned long long)c->calls);
    CHECK(s->bytes_read == 4 * (2 * 4000 + 7) && s->bytes_written == 4 * (2 * 4000 + 9),
          "scale bytes %llu read, %llu written", (unsigned long long)s->bytes_read,
          (unsigned long long)s->bytes_written);
    CHECK(c->bytes_read == 4 * 256 && c->bytes_written == 4 * 256, "copy bytes %llu",
          (unsigned long long)c->bytes_read);
    CHECK(s->ns > 0 && tot.gpu_ns > 0, "times %llu, %llu", (unsigned long long)s->ns,
          (unsigned long long)tot.gpu_ns);
    /* each delta is rounded to whole ns once: the sums agree to a ns per item */
    const double sum = (double)s->ns + (double)c->ns;
    CHECK(fabs(sum - (double)tot.gpu_ns) <= 16 + 1e-6 * (double)tot.gpu_ns,
          "entries add up to %.0f ns, the recordings took %llu", sum,
          (unsigned long long)tot.gpu_ns);
    g3_vk_profile_reset(ctx);
    CHECK(g3_vk_profile_get(ctx, NULL, 0, &tot) == 0 && tot.replays == 0, "reset kept entries");
    /* the recording made before the reset still counts into its entries */
    CHECK(g3_vk_cmd_replay(cmd, &err) == G3_OK, "replay: %s", err.msg);
    CHECK(g3_vk_profile_get(ctx, e, 8, &tot) == 2 && tot.replays == 1 &&
              find(e, 2, "scale_f32", "") && find(e, 2, "scale_f32", "")->calls == 3,
          "after a reset: %u entries", tot.n_entries);
    g3_vk_profile_reset(ctx);

    /* three query pools in one recording */
    g3_vk_cmd_begin(cmd);
    record_scales(cmd, p, x, y, 1100);
    CHECK(g3_vk_cmd_submit_wait(cmd, &err) == G3_OK, "1100 dispatches: %s", err.msg);
    CHECK(g3_vk_profile_get(ctx, e, 8, &tot) == 1 && e[0].calls == 1100 && tot.replays == 1,
          "1100 dispatches: %llu calls", (unsigned long long)e[0].calls);
out:
    g3_vk_profile_reset(ctx);
    g3_vk_cmd_free(cmd);
    g3_vk_cmd_free(plain);
    g3_vk_buffer_free(ctx, y);
    g3_vk_buffer_free(ctx, x);
    g3_vk_pipeline_free(ctx, p);
}

/* rms_norm, attention and embedding byte models on small shapes. */
static void test_models(void)
{
    enum { HD = 16, SLOTS = 32, COLS = 64, ROWS = 50 };
    g3_err err = {0};
    g3_vk_ops *ops = NULL;
    g3_vk_cmd *cmd = NULL;
    g3_vk_buffer *act = NULL, *kvb = NULL, *step = NULL, *table = NULL;
    REQUIRE_VOID(g3_vk_ops_create(ctx, &(g3_vk_ops_options){.n_head = 2, .n_head_kv = 1,
                                                             .head_dim = HD},
                                  &ops, &err) == G3_OK);
    const uint64_t half = g3_vk_kv_bytes(ops, SLOTS, false);
    const uint64_t table_bytes = 2 * ROWS * COLS * 4 + 2 * G3_MATVEC_PAD_BYTES;
    REQUIRE_VOID(
        g3_vk_cmd_create_with(ctx, &(g3_vk_cmd_options){.profile = true}, &cmd, &err) == G3_OK &&
        g3_vk_buffer_create(ctx, 16384, G3_VK_MEMORY_DEVICE, "act", &act, &err) == G3_OK &&
        g3_vk_buffer_create(ctx, 2 * half, G3_VK_MEMORY_DEVICE, "kv", &kvb, &err) == G3_OK &&
        g3_vk_buffer_create(ctx, 64, G3_VK_MEMORY_UPLOAD, "step", &step, &err) == G3_OK &&
        g3_vk_buffer_create(ctx, table_bytes, G3_VK_MEMORY_DEVICE, "table", &table, &err) ==
            G3_OK);
    /* contents matter to no count, but defined inputs keep the kernels tame */
    float *zero = calloc(table_bytes / 4, 4);
    REQUIRE_VOID(zero);
    g3_vk_buffer_upload(ctx, act, 0, zero, 16384, &err);
    g3_vk_buffer_upload(ctx, kvb, 0, zero, 2 * half, &err);
    g3_vk_buffer_upload(ctx, table, 0, zero, table_bytes, &err);
    free(zero);
    const g3_vk_kv kv = {.buf = kvb, .k_offset = 0, .v_offset = half, .n_slots = SLOTS};
    const g3_vk_loc pos = {step, 0}, tokens = {step, 4};
    const uint32_t q_bytes = 2 * HD * 4;

    g3_vk_cmd_begin_reusable(cmd);
    /* in place, 64 x 2; fused with a residual, 64 x 1 */
    g3_vk_record_rms_norm(cmd, ops, (g3_vk_loc){act, 0}, (g3_vk_loc){act, 4096}, COLS, 2, 1e-6f,
                          NULL, (g3_vk_loc){act, 0});
    g3_vk_cmd_barrier(cmd);
    const g3_vk_loc res = {act, 1024};
    g3_vk_record_rms_norm(cmd, ops, (g3_vk_loc){act, 0}, (g3_vk_loc){act, 4096}, COLS, 1, 1e-6f,
                          &res, (g3_vk_loc){act, 2048});
    g3_vk_cmd_barrier(cmd);
    const g3_vk_attn_args global = {.pos = pos, .q = {act, 8192}, .out = {act, 9216},
                                    .n_tokens = 1, .kv = &kv, .scale = 0.25f, .n_splits = 1};
    g3_vk_attn_args sliding = global;
    sliding.window = 8;
    sliding.out.offset = 10240;
    g3_vk_record_attn(cmd, ops, &global);
    g3_vk_record_attn(cmd, ops, &sliding);
    g3_vk_cmd_barrier(cmd);
    /* a 100-row F32 table in two pieces of 50 rows; tokens 3 and 70 */
    const g3_vk_rows pieces[2] = {{table, 0, 0, ROWS},
                                  {table, ROWS * COLS * 4 + G3_MATVEC_PAD_BYTES, ROWS, ROWS}};
    const g3_vk_embedding emb = {.type = G3_TYPE_F32, .cols = COLS, .row_bytes = COLS * 4,
                                 .n_pieces = 2, .pieces = pieces};
    g3_vk_record_embed(cmd, ops, &emb, tokens, 2, 8.0f, (g3_vk_loc){act, 12288});
    CHECK(g3_vk_cmd_end(cmd, &err) == G3_OK, "models: %s", err.msg);

    uint32_t *sp = g3_vk_buffer_map(step);
    const uint32_t positions[2] = {9, 31};
    for (int r = 0; r < 2; r++) {
        sp[0] = positions[r];
        sp[1] = 3;
        sp[2] = 70;
        CHECK(g3_vk_cmd_replay(cmd, &err) == G3_OK, "models replay: %s", err.msg);
    }
    g3_vk_profile_entry e[16];
    const uint32_t n = g3_vk_profile_get(ctx, e, 16, NULL);
    const g3_vk_profile_entry *n2 = find(e, n, "rms_norm", "64x2"),
                              *n1 = find(e, n, "rms_norm", "64x1"),
                              *ag = find(e, n, "attn_f16", "global"),
                              *as = find(e, n, "attn_f16", "window 8"),
                              *em = find(e, n, "embed_f32", "");
    REQUIRE_VOID(n2 && n1 && ag && as && em);
    /* per replay: x + w read, y written (in place: y is x) */
    CHECK(n2->bytes_read == 2 * (512 + 256) && n2->bytes_written == 2 * 512,
          "rms_norm in place: %llu / %llu", (unsigned long long)n2->bytes_read,
          (unsigned long long)n2->bytes_written);
    CHECK(n1->bytes_read == 2 * (256 + 256 + 256) && n1->bytes_written == 2 * 256,
          "rms_norm fused: %llu / %llu", (unsigned long long)n1->bytes_read,
          (unsigned long long)n1->bytes_written);
    /* K and V of one KV head in f16: 64 bytes per position; positions 0..9 then 0..31
     * globally, and the last 8 of each on the sliding layer */
    const uint64_t kvpos = 2 * HD * 2;
    CHECK(ag->bytes_read == 2 * (4 + q_bytes) + (10 + 32) * kvpos &&
              ag->bytes_written == 2 * q_bytes && !strcmp(ag->op, "attn") &&
              !strcmp(ag->type, "f16"),
          "attn global: %llu / %llu (%s %s)", (unsigned long long)ag->bytes_read,
          (unsigned long long)ag->bytes_written, ag->op, ag->type);
    CHECK(as->bytes_read == 2 * (4 + q_bytes) + (8 + 8) * kvpos, "attn sliding: %llu",
          (unsigned long long)as->bytes_read);
    /* each piece: both ids read, one row of its own read and written */
    CHECK(em->calls == 4 && em->bytes_read == 4 * (8 + COLS * 4) &&
              em->bytes_written == 4 * COLS * 4 && !strcmp(em->op, "embed"),
          "embed: %llu calls, %llu / %llu", (unsigned long long)em->calls,
          (unsigned long long)em->bytes_read, (unsigned long long)em->bytes_written);
    g3_vk_profile_reset(ctx);
    g3_vk_cmd_free(cmd);
    g3_vk_buffer_free(ctx, table);
    g3_vk_buffer_free(ctx, step);
    g3_vk_buffer_free(ctx, kvb);
    g3_vk_buffer_free(ctx, act);
    g3_vk_ops_free(ops);
}

static void test_bandwidth(void)
{
    g3_err err = {0};
    double k = 0, t = 0;
    CHECK(g3_vk_measure_copy_gbps(ctx, 8u << 20, 2, &k, &t, &err) == G3_OK, "probe: %s",
          err.msg);
    printf("copy kernel %.2f GB/s, transfer %.2f GB/s (8 MiB, not a benchmark)\n", k, t);
    CHECK(isfinite(k) && k > 0 && isfinite(t) && t > 0, "probe %g %g GB/s", k, t);
    CHECK(g3_vk_profile_get(ctx, NULL, 0, NULL) == 0, "the probe left entries in the profile");
}

int main(void)
{
    g3_err err = {0};
    const g3_vk_options vo = {.validation_fn = on_validation};
    g3_status st = g3_vk_context_create(&vo, &ctx, &err);
    if (st == G3_ERR_NO_DEVICE) {
        printf("SKIPPED: no Vulkan device: %s\n", err.msg);
        return TEST_SKIP;
    }
    REQUIRE(st == G3_OK, "context: %s", err.msg);
    char why[256];
    const bool supported = g3_vk_profile_supported(ctx, why, sizeof(why));
    printf("device %s, validation %s, timestamps %s%s\n", g3_vk_context_device(ctx)->name,
           g3_vk_validation_enabled(ctx) ? "on" : "OFF", supported ? "yes" : "no: ", why);
    CHECK(supported == !why[0], "supported %d with reason '%s'", supported, why);
    test_access();
    test_basic(supported);
    if (supported)
        test_models();
    test_bandwidth();
    CHECK(g3_vk_validation_message_count(ctx) == 0, "%u validation message(s), last: %s",
          g3_vk_validation_message_count(ctx), g3_vk_validation_last_message(ctx));
    g3_vk_context_free(ctx);
    CHECK(atomic_load(&teardown_msgs) == 0, "%u validation message(s) including teardown",
          atomic_load(&teardown_msgs));
    return test_finish("test_vk_profile");
}
