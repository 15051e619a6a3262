/* logits_file.c: reader and writer of the reference logits format. */
#include <errno.h>
#include <math.h>
#include <string.h>

#include "logits_file.h"

g3_status g3_logits_file_read(const char *path, bool with_logits, g3_logits_file *out,
                              g3_err *err)
{
    memset(out, 0, sizeof(*out));
    FILE *f = fopen(path, "rb");
    if (!f)
        return g3_err_set(err, G3_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    g3_status st = G3_OK;
    int32_t hdr[3];
    long size = -1;
    if (fseek(f, 0, SEEK_END) == 0)
        size = ftell(f);
    if (size < 0 || fseek(f, 0, SEEK_SET) != 0) {
        st = g3_err_set(err, G3_ERR_IO, "%s: cannot determine the file size", path);
        goto out;
    }
    if (fread(hdr, sizeof(int32_t), 3, f) != 3) {
        st = g3_err_set(err, G3_ERR_FORMAT, "%s: shorter than its 12-byte header", path);
        goto out;
    }
    if (hdr[0] < 1 || hdr[1] < 0 || hdr[2] < 0 || hdr[1] + (int64_t)hdr[2] < 1) {
        st = g3_err_set(err, G3_ERR_FORMAT,
                        "%s: bad header (n_vocab %d, n_prompt %d, n_gen %d)", path, hdr[0],
                        hdr[1], hdr[2]);
        goto out;
    }
    const uint64_t n_rows = (uint64_t)hdr[1] + (uint64_t)hdr[2];
    const uint64_t expect = 12 + 4 * n_rows + 4 * n_rows * (uint64_t)hdr[0];
    if ((uint64_t)size != expect) {
        st = g3_err_set(err, G3_ERR_FORMAT,
                        "%s: %ld bytes, but its header (n_vocab %d, n_prompt %d, n_gen %d) "
                        "implies %llu",
                        path, size, hdr[0], hdr[1], hdr[2], (unsigned long long)expect);
        goto out;
    }
    out->n_vocab = hdr[0];
    out->n_prompt = hdr[1];
    out->n_gen = hdr[2];
    out->ids = malloc(n_rows * sizeof(int32_t));
    if (with_logits)
        out->logits = malloc(n_rows * (uint64_t)hdr[0] * sizeof(float));
    if (!out->ids || (with_logits && !out->logits)) {
        st = g3_err_set(err, G3_ERR_OUT_OF_MEMORY, "%s: cannot allocate %llu rows", path,
                        (unsigned long long)n_rows);
        goto out;
    }
    if (fread(out->ids, sizeof(int32_t), n_rows, f) != n_rows ||
        (with_logits && fread(out->logits, sizeof(float), n_rows * (uint64_t)hdr[0], f) !=
                            n_rows * (uint64_t)hdr[0])) {
        st = g3_err_set(err, G3_ERR_IO, "%s: read failed", path);
        goto out;
    }
    for (uint64_t i = 0; i < n_rows; i++)
        if (out->ids[i] < 0 || out->ids[i] >= hdr[0]) {
            st = g3_err_set(err, G3_ERR_FORMAT, "%s: token %llu has id %d, outside [0, %d)",
                            path, (unsigned long long)i, out->ids[i], hdr[0]);
            goto out;
        }
out:
    fclose(f);
    if (st != G3_OK)
        g3_logits_file_free(out);
    return st;
}

g3_status g3_logits_file_write(const char *path, const g3_logits_file *lf, g3_err *err)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return g3_err_set(err, G3_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
    const size_t n_rows = (size_t)lf->n_prompt + (size_t)lf->n_gen;
    const int32_t hdr[3] = {lf->n_vocab, lf->n_prompt, lf->n_gen};
    bool ok = fwrite(hdr, sizeof(hdr), 1, f) == 1 &&
              fwrite(lf->ids, sizeof(int32_t), n_rows, f) == n_rows &&
              fwrite(lf->logits, sizeof(float), n_rows * (size_t)lf->n_vocab, f) ==
                  n_rows * (size_t)lf->n_vocab;
    ok = (fclose(f) == 0) && ok;
    if (!ok)
        return g3_err_set(err, G3_ERR_IO, "%s: write failed: %s", path, strerror(errno));
    return G3_OK;
}

void g3_logits_file_free(g3_logits_file *f)
{
    if (!f)
        return;
    free(f->ids);
    free(f->logits);
    memset(f, 0, sizeof(*f));
}

int g3_argmax(const float *x, int n)
{
    int best = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[best])
            best = i;
    return best;
}

g3_logits_diff g3_logits_compare(const float *a, const float *b, int n_rows, int n_vocab)
{
    g3_logits_diff d = {.worst_row = -1};
    double kl_sum = 0.0;
    for (int r = 0; r < n_rows; r++) {
        const float *ar = a + (size_t)r * n_vocab, *br = b + (size_t)r * n_vocab;
        double amax = -INFINITY, bmax = -INFINITY;
        for (int i = 0; i < n_vocab; i++) {
            const double diff = fabs((double)ar[i] - br[i]);
            if (!(diff <= d.max_abs)) { /* NaN propagates as the worst */
                d.max_abs = diff;
                d.worst_row = r;
            }
            amax = ar[i] > amax ? ar[i] : amax;
            bmax = br[i] > bmax ? br[i] : bmax;
        }
        d.top1_agree += g3_argmax(ar, n_vocab) == g3_argmax(br, n_vocab);
        double za = 0.0, zb = 0.0;
        for (int i = 0; i < n_vocab; i++) {
            za += exp(ar[i] - amax);
            zb += exp(br[i] - bmax);
        }
        const double lza = log(za) + amax, lzb = log(zb) + bmax;
        double kl = 0.0;
        for (int i = 0; i < n_vocab; i++) {
            const double la = ar[i] - lza, lb = br[i] - lzb;
            kl += exp(la) * (la - lb);
        }
        kl_sum += kl;
    }
    d.mean_kl = n_rows ? kl_sum / n_rows : 0.0;
    return d;
}
