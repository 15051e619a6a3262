/* cli_devices.c: `g3vk devices [--json] [--device N]`: every Vulkan device with the
 * properties that shape the engine's plan, and the one it would choose. Uses only
 * the function API of runtime/vk.h (g3_vk_enumerate), never Vulkan itself. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_util.h"
#include "vk.h"

static int usage(FILE *f)
{
    fprintf(f, "usage: g3vk devices [--json] [--device N]\n"
               "  Lists the Vulkan devices with their limits and features and marks with '*'\n"
               "  the one the engine would choose (discrete > integrated > virtual > cpu).\n"
               "  --device N   show the choice when device N (1-based, as listed) is asked for;\n"
               "               the default is G3_VK_DEVICE, or automatic\n"
               "  --json       machine-readable output on stdout\n"
               "Exits 1 when there is no Vulkan loader, driver or usable device (and says why).\n");
    return f == stdout ? 0 : 2;
}

static const char *yes(bool b)
{
    return b ? "yes" : "no";
}

static void subgroup_ops(uint32_t ops, char *buf, size_t cap)
{
    static const struct {
        uint32_t bit;
        const char *name;
    } names[] = {
        {G3_VK_SUBGROUP_BASIC, "basic"},
        {G3_VK_SUBGROUP_VOTE, "vote"},
        {G3_VK_SUBGROUP_ARITHMETIC, "arithmetic"},
        {G3_VK_SUBGROUP_BALLOT, "ballot"},
        {G3_VK_SUBGROUP_SHUFFLE, "shuffle"},
        {G3_VK_SUBGROUP_SHUFFLE_RELATIVE, "shuffle_relative"},
        {G3_VK_SUBGROUP_CLUSTERED, "clustered"},
        {G3_VK_SUBGROUP_QUAD, "quad"},
    };
    size_t len = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]) && len < cap; i++)
        if (ops & names[i].bit)
            len += (size_t)snprintf(buf + len, cap - len, "%s%s", len ? " " : "", names[i].name);
}

static void print_text(const g3_vk_device_info *d, bool chosen)
{
    char api[32], drv[32], b1[32], b2[32], ops[160];
    printf("%s [%d] %s%s\n", chosen ? "*" : " ", d->index, d->name,
           chosen ? "   <- chosen" : "");
    if (!d->usable)
        printf("      UNUSABLE           %s\n", d->reject_reason);
    printf("      type               %s\n", g3_vk_device_type_name(d->type));
    printf("      vendor / device    0x%04x / 0x%04x\n", d->vendor_id, d->device_id);
    printf("      driver             %s %s%s%s%s\n", d->driver_name[0] ? d->driver_name : "?",
           g3_vk_driver_version_string(d, drv, sizeof(drv)), d->driver_info[0] ? " (" : "",
           d->driver_info, d->driver_info[0] ? ")" : "");
    printf("      Vulkan             %s\n",
           g3_vk_api_version_string(d->api_version, api, sizeof(api)));
    printf("      storage range      %s per binding (offset alignment %" PRIu64 ")\n",
           g3_cli_bytes(d->max_storage_buffer_range, b1, sizeof(b1)),
           d->min_storage_buffer_offset_alignment);
    printf("      max allocation     %s\n",
           g3_cli_bytes(d->max_memory_allocation_size, b1, sizeof(b1)));
    printf("      device-local heap  %s%s\n", g3_cli_bytes(d->device_local_bytes, b2, sizeof(b2)),
           d->unified_memory ? " (unified: host-visible device-local memory)" : "");
    printf("      shared memory      %u bytes per workgroup\n", d->max_compute_shared_memory_size);
    printf("      workgroups         count %u x %u x %u, size %u x %u x %u, %u invocations\n",
           d->max_compute_work_group_count[0], d->max_compute_work_group_count[1],
           d->max_compute_work_group_count[2], d->max_compute_work_group_size[0],
           d->max_compute_work_group_size[1], d->max_compute_work_group_size[2],
           d->max_compute_work_group_invocations);
    subgroup_ops(d->subgroup_ops, ops, sizeof(ops));
    printf("      subgroup           %u (range %u..%u, size control %s, in compute %s): %s\n",
           d->subgroup_size, d->subgroup_size_min, d->subgroup_size_max,
           yes(d->subgroup_size_control), yes(d->subgroup_in_compute), ops);
    printf("      16-bit             storage %s, float16 %s, int16 %s\n", yes(d->storage_16bit),
           yes(d->shader_float16), yes(d->shader_int16));
    printf("      8-bit              storage %s, int8 %s\n", yes(d->storage_8bit),
           yes(d->shader_int8));
    printf("      int64              %s\n", yes(d->shader_int64));
    printf("      integer dot        %s (4x8 packed accelerated: %s)\n",
           yes(d->integer_dot_product), yes(d->integer_dot_4x8_accel));
    printf("      cooperative matrix KHR %s, NV %s\n", yes(d->cooperative_matrix),
           yes(d->cooperative_matrix_nv));
    printf("      timestamps         %u valid bits, %.3g ns period, compute+graphics %s\n",
           d->timestamp_valid_bits, d->timestamp_period_ns,
           yes(d->timestamp_compute_and_graphics));
    printf("      buffer address     %s\n", yes(d->buffer_device_address));
    printf("      push constants     %u bytes; %u storage buffers per stage\n",
           d->max_push_constants_size, d->max_storage_buffers_per_stage);
    printf("      compute queue      family %d\n", d->compute_queue_family);
}


static void json_kv_str(const char *key, const char *value, bool last)
{
    printf("      \"%s\": ", key);
    g3_cli_json_str(value);
    printf(last ? "\n" : ",\n");
}

static void print_json_device(const g3_vk_device_info *d, bool chosen, bool last)
{
    char api[32], drv[32], ops[160];
    printf("    {\n");
    printf("      \"index\": %d,\n      \"chosen\": %s,\n", d->index, chosen ? "true" : "false");
    json_kv_str("name", d->name, false);
    json_kv_str("type", g3_vk_device_type_name(d->type), false);
    printf("      \"vendor_id\": %u,\n      \"device_id\": %u,\n", d->vendor_id, d->device_id);
    json_kv_str("api_version", g3_vk_api_version_string(d->api_version, api, sizeof(api)), false);
    json_kv_str("driver_name", d->driver_name, false);
    json_kv_str("driver_info", d->driver_info, false);
    json_kv_str("driver_version", g3_vk_driver_version_string(d, drv, sizeof(drv)), false);
    printf("      \"driver_id\": %u,\n", d->driver_id);
    printf("      \"max_storage_buffer_range\": %" PRIu64 ",\n", d->max_storage_buffer_range);
    printf("      \"max_memory_allocation_size\": %" PRIu64 ",\n", d->max_memory_allocation_size);
    printf("      \"min_storage_buffer_offset_alignment\": %" PRIu64 ",\n",
           d->min_storage_buffer_offset_alignment);
    printf("      \"max_storage_buffers_per_stage\": %u,\n", d->max_storage_buffers_per_stage);
    printf("      \"max_push_constants_size\": %u,\n", d->max_push_constants_size);
    printf("      \"max_compute_shared_memory_size\": %u,\n", d->max_compute_shared_memory_size);
    printf("      \"max_compute_work_group_count\": [%u, %u, %u],\n",
           d->max_compute_work_group_count[0], d->max_compute_work_group_count[1],
           d->max_compute_work_group_count[2]);
    printf("      \"max_compute_work_group_size\": [%u, %u, %u],\n",
           d->max_compute_work_group_size[0], d->max_compute_work_group_size[1],
           d->max_compute_work_group_size[2]);
    printf("      \"max_compute_work_group_invocations\": %u,\n",
           d->max_compute_work_group_invocations);
    printf("      \"subgroup_size\": %u,\n      \"subgroup_size_min\": %u,\n"
           "      \"subgroup_size_max\": %u,\n",
           d->subgroup_size, d->subgroup_size_min, d->subgroup_size_max);
    printf("      \"subgroup_size_control\": %s,\n      \"subgroup_in_compute\": %s,\n",
           d->subgroup_size_control ? "true" : "false", d->subgroup_in_compute ? "true" : "false");
    subgroup_ops(d->subgroup_ops, ops, sizeof(ops));
    json_kv_str("subgroup_ops", ops, false);
#define B(name) printf("      \"" #name "\": %s,\n", d->name ? "true" : "false")
    B(storage_16bit);
    B(storage_8bit);
    B(shader_float16);
    B(shader_int8);
    B(shader_int16);
    B(shader_int64);
    B(integer_dot_product);
    B(integer_dot_4x8_accel);
    B(cooperative_matrix);
    B(cooperative_matrix_nv);
    B(buffer_device_address);
    B(timestamp_compute_and_graphics);
    B(unified_memory);
#undef B
    printf("      \"timestamp_period_ns\": %g,\n", d->timestamp_period_ns);
    printf("      \"timestamp_valid_bits\": %u,\n", d->timestamp_valid_bits);
    printf("      \"device_local_bytes\": %" PRIu64 ",\n", d->device_local_bytes);
    printf("      \"compute_queue_family\": %d,\n", d->compute_queue_family);
    printf("      \"usable\": %s,\n", d->usable ? "true" : "false");
    json_kv_str("reject_reason", d->reject_reason, true);
    printf("    }%s\n", last ? "" : ",");
}

int g3_cli_devices(int argc, char **argv)
{
    bool json = false;
    g3_vk_options opt = {0};
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
            return usage(stdout);
        if (!strcmp(argv[i], "--json")) {
            json = true;
        } else if (!strcmp(argv[i], "--device")) {
            const char *v = g3_cli_value(argc, argv, &i);
            long long n = 0;
            if (!v || !g3_cli_int("--device", v, 1, 1000, &n))
                return 2;
            opt.device = (int)n;
        } else {
            fprintf(stderr, "g3vk devices: unknown option '%s'\n", argv[i]);
            return usage(stderr);
        }
    }

    g3_err err = {0};
    int count = 0, chosen = -1;
    g3_status st = g3_vk_enumerate(&opt, NULL, 0, &count, &chosen, &err);
    g3_vk_device_info *infos = NULL;
    if (st == G3_OK && count > 0) {
        infos = calloc((size_t)count, sizeof(*infos));
        if (!infos) {
            fprintf(stderr, "g3vk devices: out of memory\n");
            return 1;
        }
        err = (g3_err){0};
        /* A second listing: a device could come or go in between; show what it says. */
        st = g3_vk_enumerate(&opt, infos, count, &count, &chosen, &err);
    }
    if (st != G3_OK) {
        fprintf(stderr, "g3vk devices: %s\n", err.msg);
        if (json) {
            printf("{\n  \"error\": ");
            g3_cli_json_str(err.msg);
            printf(",\n  \"status\": ");
            g3_cli_json_str(g3_status_string(st));
            printf(",\n  \"devices\": []\n}\n");
        }
        free(infos);
        return 1;
    }

    g3_vk_options resolved = opt; /* the listing above already validated the options */
    (void)g3_vk_options_resolve(&opt, &resolved, NULL);
    char lv[32];
    const uint32_t loader = g3_vk_loader_version();
    if (json) {
        printf("{\n  \"loader_version\": ");
        g3_cli_json_str(g3_vk_api_version_string(loader, lv, sizeof(lv)));
        printf(",\n  \"chosen\": %d,\n", chosen >= 0 ? chosen + 1 : 0);
        if (chosen < 0) {
            printf("  \"error\": ");
            g3_cli_json_str(err.msg);
            printf(",\n");
        }
        printf("  \"devices\": [\n");
        for (int i = 0; i < count; i++)
            print_json_device(&infos[i], i == chosen, i + 1 == count);
        printf("  ]\n}\n");
    } else {
        printf("Vulkan loader %s, %d device%s (choice: %s; G3_VK_DEVICE=N or --device N "
               "overrides)\n\n",
               g3_vk_api_version_string(loader, lv, sizeof(lv)), count, count == 1 ? "" : "s",
               resolved.device ? "requested" : "discrete > integrated > virtual > cpu");
        for (int i = 0; i < count; i++) {
            print_text(&infos[i], i == chosen);
            if (i + 1 < count)
                putchar('\n');
        }
    }
    free(infos);
    if (chosen < 0) {
        fprintf(stderr, "g3vk devices: no device would be chosen: %s\n", err.msg);
        return 1;
    }
    return 0;
}
