/* cli_bench_rows.c: the rows of `g3vk bench`: a markdown table row, a CSV line or
 * a JSON object per test (fields listed in the README's "Benchmarking" section). */
#include <inttypes.h>
#include <string.h>
#include <stdio.h>

#include "cli_bench.h"
#include "cli_util.h"

static void csv_str(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        if (*s == '"')
            putchar('"');
        putchar(*s);
    }
    putchar('"');
}

const char *const g3_bench_csv_header =
    "build_commit,model_filename,model_size,model_n_params,weight_types,backend,device,"
    "driver,n_threads,n_batch,n_depth,n_prompt,n_gen,test,load_ms,ttft_ms,logits_hash,first_token,"
    "logits_nonfinite,avg_ns,stddev_ns,avg_ts,stddev_ts\n";

void g3_bench_print_row(const g3_bench_opts *o, const g3_bench_model *m, const g3_bench_test *r,
                        const g3_bench_profile *prof, bool first)
{
    if (o->out == G3_BENCH_MD) {
        char ts[64];
        snprintf(ts, sizeof(ts), "%.2f ± %.2f", r->avg_ts, r->dev_ts);
        /* %21s: "±" is two bytes and one column */
        printf("| %-26s | %10s | %8s | %-7s | %-32s | %14s | %21s |\n", m->file, m->size,
               m->params, m->backend, m->device, r->name, ts);
        return;
    }
    char hash[24], ttft[32];
    /* Prompt tokens per step as the backend ran them: the CPU reference feeds one. */
    const int n_batch = !strcmp(m->backend, "cpu") ? 1 : o->n_batch ? (int)o->n_batch : 512;
    snprintf(hash, sizeof(hash), "%016" PRIx64, m->hash);
    if (m->ttft_s >= 0)
        snprintf(ttft, sizeof(ttft), "%.3f", m->ttft_s * 1e3);
    else
        snprintf(ttft, sizeof(ttft), "%s", o->out == G3_BENCH_JSON ? "null" : "");
    if (o->out == G3_BENCH_CSV) {
        csv_str(g3_bench_commit());
        putchar(',');
        csv_str(m->file);
        printf(",%" PRIu64 ",%" PRIu64 ",", m->n_bytes, m->n_params);
        csv_str(m->types);
        printf(",%s,", m->backend);
        csv_str(m->device);
        putchar(',');
        csv_str(m->driver);
        printf(",%d,%d,%lld,%d,%d,%s,%.3f,%s,%s,%d,%d,%.0f,%.0f,%.6f,%.6f\n", m->n_threads,
               n_batch, o->depth, r->n_prompt, r->n_gen, r->name, m->load_s * 1e3, ttft, hash,
               (int)m->first_token, m->nonfinite, r->avg_ns, r->dev_ns, r->avg_ts, r->dev_ts);
        return;
    }
    printf("%s  {\n    \"build_commit\": ", first ? "" : ",\n");
    g3_cli_json_str(g3_bench_commit());
    printf(",\n    \"model_filename\": ");
    g3_cli_json_str(m->file);
    printf(",\n    \"model_path\": ");
    g3_cli_json_str(m->path);
    printf(",\n    \"model_size\": %" PRIu64 ",\n    \"model_n_params\": %" PRIu64 ",\n",
           m->n_bytes, m->n_params);
    printf("    \"weight_types\": ");
    g3_cli_json_str(m->types);
    printf(",\n    \"backend\": \"%s\",\n    \"device\": ", m->backend);
    g3_cli_json_str(m->device);
    printf(",\n    \"driver\": ");
    g3_cli_json_str(m->driver);
    printf(",\n    \"n_threads\": %d,\n    \"n_batch\": %d,\n    \"n_depth\": %lld,\n    \"n_prompt\": %d,\n"
           "    \"n_gen\": %d,\n    \"test\": \"%s\",\n    \"load_ms\": %.3f,\n"
           "    \"ttft_ms\": %s,\n    \"logits_hash\": \"%s\",\n    \"first_token\": %d,\n"
           "    \"logits_nonfinite\": %d,\n"
           "    \"avg_ns\": %.0f,\n    \"stddev_ns\": %.0f,\n    \"avg_ts\": %.6f,\n"
           "    \"stddev_ts\": %.6f,\n    \"samples_ns\": [",
           m->n_threads, n_batch, o->depth, r->n_prompt, r->n_gen, r->name, m->load_s * 1e3, ttft, hash,
           (int)m->first_token, m->nonfinite, r->avg_ns, r->dev_ns, r->avg_ts, r->dev_ts);
    for (int i = 0; i < r->reps; i++)
        printf("%s%.0f", i ? ", " : "", r->secs[i] * 1e9);
    printf("],\n    \"samples_ts\": [");
    const double work = r->n_prompt ? r->n_prompt : r->n_gen;
    for (int i = 0; i < r->reps; i++)
        printf("%s%.6f", i ? ", " : "", work / r->secs[i]);
    printf("]");
    if (prof) {
        printf(",\n    \"kernel_profile\": ");
        g3_bench_json_profile(prof, &o->pk, "    ");
    }
    printf("\n  }");
}
