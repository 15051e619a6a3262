/* test_vk_smoke.c (label gpu): the Vulkan chain end to end, under the validation
 * layer with synchronization validation on.
 *
 * 1. listing: at least one device, one chosen, snapshot sane;
 * 2. fill.comp on n = 1000 (not a multiple of the workgroup size) into the middle of
 *    a buffer whose head and tail guard words hold a sentinel: every value exact,
 *    every guard untouched, zero validation messages, also during teardown;
 * 3. two dependent dispatches (fill writes x, scale reads it) WITHOUT a barrier:
 *    sync validation must report the hazard (proves the layer and its sync
 *    validation are really on), then a barrier must silence it;
 * 4. error paths: bad dispatch arguments, an oversized buffer, a device index out of
 *    range come back as statuses with messages, not crashes.
 * Exit 77 only when no Vulkan device exists at all. Run on lavapipe with
 * VK_ICD_FILENAMES=/usr/share/vulkan/icd.d/lvp_icd.x86_64.json. */
#include <inttypes.h>
#include <stdatomic.h>

#include "g3_shared.h"
#include "test.h"
#include "vk.h"

#define WG 64            /* workgroup size, passed as spec constant G3_SPEC_WG_SIZE */
#define N 1000           /* elements written: 15 full groups + one of 40            */
#define GUARD 64         /* sentinel words before and after                         */
#define SENTINEL 0x7fc0deadu /* a NaN payload no float computation produces          */

/* Counts messages from every context, including those sent while one is destroyed
 * (leaked objects), which the per-context count cannot report. */
static atomic_uint teardown_safe_count;

static void on_validation(void *user, bool is_error, const char *msg)
{
    (void)user;
    (void)is_error;
    (void)msg;
    atomic_fetch_add(&teardown_safe_count, 1);
}

static g3_status make_fill(g3_vk_context *ctx, g3_vk_pipeline **pipe, g3_err *err)
{
    g3_vk_pipeline_desc d = {
        .shader = G3_SHADER_FILL_F32,
        .n_bindings = 1,
        .push_size = sizeof(struct g3_pc_fill),
        .n_spec = 1,
        .spec = {{G3_SPEC_WG_SIZE, WG}},
    };
    return g3_vk_pipeline_create(ctx, &d, pipe, err);
}

static void print_device(const g3_vk_device_info *d, bool chosen)
{
    char api[32], drv[32];
    printf("%s[%d] %s (%s, vendor 0x%04x, driver %s %s, Vulkan %s)%s%s\n", chosen ? "* " : "  ",
           d->index, d->name, g3_vk_device_type_name(d->type), d->vendor_id, d->driver_name,
           g3_vk_driver_version_string(d, drv, sizeof(drv)),
           g3_vk_api_version_string(d->api_version, api, sizeof(api)),
           d->usable ? "" : " unusable: ", d->reject_reason);
    printf("      storage range %" PRIu64 " MiB, max alloc %" PRIu64 " MiB, shared %u KiB, "
           "subgroup %u [%u..%u], wg invocations %u, f16 %d, int8 %d, int64 %d, "
           "timestamps %d bits @ %.3g ns\n",
           d->max_storage_buffer_range >> 20, d->max_memory_allocation_size >> 20,
           d->max_compute_shared_memory_size >> 10, d->subgroup_size, d->subgroup_size_min,
           d->subgroup_size_max, d->max_compute_work_group_invocations, d->shader_float16,
           d->shader_int8, d->shader_int64, d->timestamp_valid_bits, d->timestamp_period_ns);
}

/* Case 1: listing. Returns false when there is no device at all (skip). */
static bool test_enumerate(void)
{
    g3_err err = {0};
    int count = 0, chosen = -1;
    g3_status st = g3_vk_enumerate(NULL, NULL, 0, &count, &chosen, &err);
    if (st == G3_ERR_NO_DEVICE) {
        printf("SKIPPED: no Vulkan device: %s\n", err.msg);
        return false;
    }
    CHECK(st == G3_OK, "g3_vk_enumerate: %s", err.msg);
    CHECK(count >= 1, "no device listed");
    g3_vk_device_info infos[16];
    err = (g3_err){0};
    st = g3_vk_enumerate(NULL, infos, 16, &count, &chosen, &err);
    CHECK(st == G3_OK && chosen >= 0 && chosen < count, "chosen %d of %d: %s", chosen, count,
          err.msg);
    for (int i = 0; i < count && i < 16; i++) {
        print_device(&infos[i], i == chosen);
        CHECK(infos[i].index == i + 1, "index %d", infos[i].index);
        if (infos[i].usable) {
            CHECK(infos[i].max_storage_buffer_range >= (1u << 27) - 1,
                  "maxStorageBufferRange %" PRIu64, infos[i].max_storage_buffer_range);
            CHECK(infos[i].max_memory_allocation_size >= (1u << 30),
                  "maxMemoryAllocationSize %" PRIu64, infos[i].max_memory_allocation_size);
            CHECK(infos[i].subgroup_size >= 1, "subgroup size 0");
            CHECK(infos[i].compute_queue_family >= 0, "no compute family");
        }
    }
    /* An index past the end is the caller's mistake, not "no device". */
    err = (g3_err){0};
    st = g3_vk_enumerate(&(g3_vk_options){.device = count + 1}, NULL, 0, NULL, &chosen, &err);
    CHECK(st == G3_OK && chosen == -1 && err.status == G3_ERR_INVALID_ARG,
          "device %d of %d: chosen %d, %s", count + 1, count, chosen, err.msg);
    return true;
}

/* Case 2: fill end to end, guards, no validation message. */
static void test_fill(g3_vk_context *ctx)
{
    g3_err err = {0};
    g3_vk_pipeline *fill = NULL;
    g3_vk_buffer *buf = NULL;
    g3_vk_cmd *cmd = NULL;
    static uint32_t host[GUARD + N + GUARD];
    const uint64_t bytes = sizeof(host);

    CHECK(make_fill(ctx, &fill, &err) == G3_OK, "fill pipeline: %s", err.msg);
    CHECK(g3_vk_buffer_create(ctx, bytes, G3_VK_MEMORY_DEVICE, "smoke y", &buf, &err) == G3_OK,
          "buffer: %s", err.msg);
    CHECK(g3_vk_cmd_create(ctx, &cmd, &err) == G3_OK, "cmd: %s", err.msg);
    if (!fill || !buf || !cmd)
        goto out;
    for (size_t i = 0; i < G3_ARRAY_LEN(host); i++)
        host[i] = SENTINEL;
    CHECK(g3_vk_buffer_upload(ctx, buf, 0, host, bytes, &err) == G3_OK, "upload: %s", err.msg);

    /* a = 0.5 and b = 3 keep a*i + b exact in float for every i < N, so the check
     * can be bitwise whatever the device does with fma contraction. */
    const struct g3_pc_fill pc = {.n = N, .out_off = GUARD, .a = 0.5f, .b = 3.0f};
    const g3_vk_binding bind = {.buf = buf};
    const uint32_t groups[3] = {(N + WG - 1) / WG, 1, 1};
    g3_vk_cmd_begin(cmd);
    g3_vk_cmd_dispatch(cmd, fill, &bind, 1, &pc, sizeof(pc), groups);
    CHECK(g3_vk_cmd_submit_wait(cmd, &err) == G3_OK, "submit: %s", err.msg);

    memset(host, 0, sizeof(host));
    CHECK(g3_vk_buffer_download(ctx, buf, 0, host, bytes, &err) == G3_OK, "download: %s",
          err.msg);
    int bad = 0, bad_guard = 0;
    for (int i = 0; i < N; i++) {
        float got;
        memcpy(&got, &host[GUARD + i], sizeof(got));
        const float want = 0.5f * (float)i + 3.0f;
        if (got != want && bad++ < 5)
            fprintf(stderr, "y[%d] = %g (0x%08x), want %g\n", i, got, host[GUARD + i], want);
    }
    for (int i = 0; i < GUARD; i++) {
        if (host[i] != SENTINEL && bad_guard++ < 5)
            fprintf(stderr, "head guard %d overwritten: 0x%08x\n", i, host[i]);
        if (host[GUARD + N + i] != SENTINEL && bad_guard++ < 5)
            fprintf(stderr, "tail guard %d overwritten: 0x%08x\n", i, host[GUARD + N + i]);
    }
    CHECK(bad == 0, "%d of %d values wrong", bad, N);
    CHECK(bad_guard == 0, "%d guard words overwritten", bad_guard);

    /* The recorder is reusable, and bad arguments are statuses kept until submit. */
    g3_vk_cmd_begin(cmd);
    CHECK(g3_vk_cmd_dispatch(cmd, fill, &bind, 0, &pc, sizeof(pc), groups) ==
              G3_ERR_INVALID_ARG, "binding count mismatch accepted");
    err = (g3_err){0};
    CHECK(g3_vk_cmd_submit_wait(cmd, &err) == G3_ERR_INVALID_ARG && strstr(err.msg, "fill_f32"),
          "submit after a bad record: %s", err.msg);
    const g3_vk_binding unaligned = {.buf = buf, .offset = 1};
    g3_vk_cmd_begin(cmd);
    CHECK(g3_vk_cmd_dispatch(cmd, fill, &unaligned, 1, &pc, sizeof(pc), groups) ==
              G3_ERR_INVALID_ARG, "unaligned binding offset accepted");
    CHECK(g3_vk_cmd_submit_wait(cmd, NULL) == G3_ERR_INVALID_ARG, "submit");

    /* Too big for one allocation: a clear status, not a driver error. */
    g3_vk_buffer *huge = NULL;
    const g3_vk_device_info *d = g3_vk_context_device(ctx);
    err = (g3_err){0};
    CHECK(g3_vk_buffer_create(ctx, d->max_memory_allocation_size + 1, G3_VK_MEMORY_DEVICE,
                              "huge", &huge, &err) == G3_ERR_UNSUPPORTED && !huge,
          "oversized buffer: %s", err.msg);

    /* A workgroup size past the device limit is refused by name, before the driver. */
    g3_vk_pipeline *too_wide = NULL;
    g3_vk_pipeline_desc wide = {
        .shader = G3_SHADER_FILL_F32,
        .n_bindings = 1,
        .push_size = sizeof(struct g3_pc_fill),
        .n_spec = 1,
        .spec = {{G3_SPEC_WG_SIZE, d->max_compute_work_group_invocations + 1}},
    };
    err = (g3_err){0};
    CHECK(g3_vk_pipeline_create(ctx, &wide, &too_wide, &err) == G3_ERR_INVALID_ARG &&
              !too_wide && strstr(err.msg, "fill_f32"),
          "oversized workgroup: %s", err.msg);
out:
    g3_vk_cmd_free(cmd);
    g3_vk_buffer_free(ctx, buf);
    g3_vk_pipeline_free(ctx, fill);
}

/* Case 3: two dependent dispatches, fill writes x and scale reads it (and the other
 * way round), with no barrier between them. On lavapipe the result happens to be
 * right, which is exactly why only the sync validation can catch it. (Two dispatches
 * that both only write the same buffer are not reported by the Debian 12 layer,
 * 1.3.239, so the hazards provoked here are read-after-write and write-after-read.) */
static void test_missing_barrier(g3_vk_context *ctx)
{
    g3_err err = {0};
    g3_vk_pipeline *fill = NULL, *scale = NULL;
    g3_vk_buffer *x = NULL, *y = NULL;
    g3_vk_cmd *cmd = NULL;
    const g3_vk_pipeline_desc scale_desc = {
        .shader = G3_SHADER_SCALE_F32,
        .n_bindings = 2,
        .push_size = sizeof(struct g3_pc_scale),
        .n_spec = 1,
        .spec = {{G3_SPEC_WG_SIZE, WG}},
    };
    CHECK(make_fill(ctx, &fill, &err) == G3_OK, "fill pipeline: %s", err.msg);
    CHECK(g3_vk_pipeline_create(ctx, &scale_desc, &scale, &err) == G3_OK, "scale pipeline: %s",
          err.msg);
    CHECK(g3_vk_buffer_create(ctx, N * sizeof(float), G3_VK_MEMORY_DEVICE, "hazard x", &x,
                              &err) == G3_OK, "buffer: %s", err.msg);
    CHECK(g3_vk_buffer_create(ctx, N * sizeof(float), G3_VK_MEMORY_DEVICE, "hazard y", &y,
                              &err) == G3_OK, "buffer: %s", err.msg);
    CHECK(g3_vk_cmd_create(ctx, &cmd, &err) == G3_OK, "cmd: %s", err.msg);
    if (!fill || !scale || !x || !y || !cmd)
        goto out;
    const g3_vk_binding bx = {.buf = x};
    const g3_vk_binding bxy[2] = {{.buf = x}, {.buf = y}};
    const uint32_t groups[3] = {(N + WG - 1) / WG, 1, 1};
    const struct g3_pc_fill pf = {.n = N, .a = 1.0f, .b = 0.0f};         /* x[i] = i      */
    const struct g3_pc_scale ps = {.n = N, .a = 2.0f, .b = 1.0f};        /* y = 2x + 1    */
    static const char *const expect[2] = {"SYNC-HAZARD-READ-AFTER-WRITE",
                                           "SYNC-HAZARD-WRITE-AFTER-READ"};
    for (int order = 0; order < 2; order++) {
        g3_vk_validation_reset(ctx);
        g3_vk_cmd_begin(cmd);
        if (order == 0) { /* scale reads what fill just wrote */
            g3_vk_cmd_dispatch(cmd, fill, &bx, 1, &pf, sizeof(pf), groups);
            g3_vk_cmd_dispatch(cmd, scale, bxy, 2, &ps, sizeof(ps), groups);
        } else { /* fill overwrites what scale may still be reading */
            g3_vk_cmd_dispatch(cmd, scale, bxy, 2, &ps, sizeof(ps), groups);
            g3_vk_cmd_dispatch(cmd, fill, &bx, 1, &pf, sizeof(pf), groups);
        }
        CHECK(g3_vk_cmd_submit_wait(cmd, &err) == G3_OK, "submit: %s", err.msg);
        const uint32_t hazards = g3_vk_validation_message_count(ctx);
        const char *msg = g3_vk_validation_last_message(ctx);
        CHECK(hazards > 0, "sync validation did not report the missing barrier (%s)",
              expect[order]);
        CHECK(strstr(msg, expect[order]) != NULL, "expected %s, got: %s", expect[order], msg);
        printf("missing barrier reported as expected (%u message(s)): %.100s...\n", hazards,
               msg);
    }

    /* The same pair with a barrier is clean, and scale computed 2 * i + 1. */
    g3_vk_validation_reset(ctx);
    g3_vk_cmd_begin(cmd);
    g3_vk_cmd_dispatch(cmd, fill, &bx, 1, &pf, sizeof(pf), groups);
    g3_vk_cmd_barrier(cmd);
    g3_vk_cmd_dispatch(cmd, scale, bxy, 2, &ps, sizeof(ps), groups);
    CHECK(g3_vk_cmd_submit_wait(cmd, &err) == G3_OK, "submit: %s", err.msg);
    CHECK(g3_vk_validation_message_count(ctx) == 0, "with a barrier: %s",
          g3_vk_validation_last_message(ctx));
    static float out[N];
    CHECK(g3_vk_buffer_download(ctx, y, 0, out, sizeof(out), &err) == G3_OK, "download: %s",
          err.msg);
    int bad = 0;
    for (int i = 0; i < N; i++)
        bad += out[i] != 2.0f * (float)i + 1.0f;
    CHECK(bad == 0, "scale: %d of %d wrong (y[%d] = %g)", bad, N, N - 1, out[N - 1]);
out:
    g3_vk_cmd_free(cmd);
    g3_vk_buffer_free(ctx, x);
    g3_vk_buffer_free(ctx, y);
    g3_vk_pipeline_free(ctx, fill);
    g3_vk_pipeline_free(ctx, scale);
    g3_vk_validation_reset(ctx);
}

int main(void)
{
    if (!test_enumerate())
        return TEST_SKIP;

    /* Clean run: validation on (printing), every message fails the test. */
    g3_err err = {0};
    g3_vk_context *ctx = NULL;
    const g3_vk_options opt = {.validation = true, .validation_fn = on_validation};
    g3_status st = g3_vk_context_create(&opt, &ctx, &err);
    if (st == G3_ERR_NO_DEVICE) {
        printf("SKIPPED: %s\n", err.msg);
        return TEST_SKIP;
    }
    REQUIRE(st == G3_OK, "context with validation: %s (%s)", err.msg, g3_status_string(st));
    REQUIRE(g3_vk_validation_enabled(ctx), "validation not enabled");
    printf("context on %s\n", g3_vk_context_device(ctx)->name);
    test_fill(ctx);
    CHECK(g3_vk_validation_message_count(ctx) == 0, "%u validation message(s), last: %s",
          g3_vk_validation_message_count(ctx), g3_vk_validation_last_message(ctx));
    g3_vk_context_free(ctx);
    CHECK(atomic_load(&teardown_safe_count) == 0, "%u validation message(s) including teardown",
          atomic_load(&teardown_safe_count));

    /* Provoked hazard: a quiet context, so the expected message is not mistaken for a
     * failure in the log. */
    ctx = NULL;
    err = (g3_err){0};
    st = g3_vk_context_create(&(g3_vk_options){.validation = true, .quiet = true}, &ctx, &err);
    REQUIRE(st == G3_OK, "quiet context: %s", err.msg);
    test_missing_barrier(ctx);
    g3_vk_context_free(ctx);

    /* Free functions accept NULL. */
    g3_vk_context_free(NULL);
    g3_vk_cmd_free(NULL);
    return test_finish("test_vk_smoke");
}
