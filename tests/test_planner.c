/* test_planner: the execution plan of a step, checked by brute force: tensors
 * alive at the same time never share memory, every hazard between two
 * dispatches is separated by a barrier, no barrier is superfluous, every
 * weight is listed once, and reuse actually saves memory. */
#include "planner.h"
#include "test.h"
#include "tiny_model.h"

static bool overlaps(const g3_plan *p, int a, int b)
{
    const g3_plan_tensor *x = &p->tensors[a], *y = &p->tensors[b];
    return x->offset < y->offset + y->bytes && y->offset < x->offset + x->bytes;
}

/* Does node j's access conflict with node i's (j before i)? */
static bool hazard(const g3_plan *p, const g3_node *j, const g3_node *i)
{
    int jr[3] = {0}, jw[2] = {0}, ir[3] = {0}, iw[2] = {0}, njr = 0, njw = 0, nir = 0, niw = 0;
    for (int s = 0; s < G3_MAX_SRC; s++) {
        if (j->src[s] >= 0)
            jr[njr++] = j->src[s];
        if (i->src[s] >= 0)
            ir[nir++] = i->src[s];
    }
    if (j->dst >= 0)
        jw[njw++] = j->dst;
    if (i->dst >= 0)
        iw[niw++] = i->dst;
    for (int a = 0; a < njw; a++) {
        for (int b = 0; b < nir; b++)
            if (overlaps(p, jw[a], ir[b]))
                return true;
        for (int b = 0; b < niw; b++)
            if (overlaps(p, jw[a], iw[b]))
                return true;
    }
    for (int a = 0; a < njr; a++)
        for (int b = 0; b < niw; b++)
            if (overlaps(p, jr[a], iw[b]))
                return true;
    /* The KV cache: KV_STORE writes it, ATTN of the same layer reads it. */
    return j->op == G3_OP_KV_STORE && i->op == G3_OP_ATTN && j->layer == i->layer;
}

static void check_plan(const g3_graph *g, bool no_reuse, const char *what)
{
    g3_plan p;
    REQUIRE_VOID(g3_plan_build(g, &(g3_plan_options){.no_reuse = no_reuse, .alignment = 64}, &p,
                               NULL) == G3_OK);
    int bad_alias = 0, missing = 0, extra = 0;
    for (int a = 0; a < g->n_tensors; a++)
        for (int b = a + 1; b < g->n_tensors; b++) {
            const g3_plan_tensor *x = &p.tensors[a], *y = &p.tensors[b];
            const bool both_live = x->first <= G3_MAX(y->last, y->first) &&
                                   y->first <= G3_MAX(x->last, x->first);
            if (both_live && overlaps(&p, a, b))
                bad_alias++;
        }
    for (int a = 0; a < g->n_tensors; a++)
        CHECK(p.tensors[a].offset % 64 == 0, "%s: aligned offset", what);
    int last_barrier = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        if (p.barrier_before[i]) {
            bool justified = false;
            for (int j = last_barrier; j < i && !justified; j++)
                justified = hazard(&p, &g->nodes[j], &g->nodes[i]);
            extra += !justified;
            last_barrier = i;
        }
        for (int j = last_barrier; j < i; j++)
            missing += hazard(&p, &g->nodes[j], &g->nodes[i]);
    }
    CHECK(bad_alias == 0, "%s: %d pairs of live tensors share memory", what, bad_alias);
    CHECK(missing == 0, "%s: %d hazards without a barrier", what, missing);
    CHECK(extra == 0, "%s: %d barriers without a hazard", what, extra);
    if (no_reuse)
        CHECK(p.arena_bytes == p.naive_bytes, "%s: no reuse", what);
    else
        CHECK(p.arena_bytes * 4 < p.naive_bytes, "%s: reuse saves memory (%llu of %llu)", what,
              (unsigned long long)p.arena_bytes, (unsigned long long)p.naive_bytes);
    /* token_embd (= the tied head) + output_norm + 13 per layer. */
    CHECK(p.n_weights == 2 + 13 * g->model->info.n_layer, "%s: %d weights", what, p.n_weights);
    CHECK(p.n_barriers > 0 && p.n_barriers < g->n_nodes, "%s: %d barriers for %d nodes", what,
          p.n_barriers, g->n_nodes);
    printf("%-22s nodes %3d, barriers %3d, arena %6llu of %6llu bytes\n", what, g->n_nodes,
           p.n_barriers, (unsigned long long)p.arena_bytes, (unsigned long long)p.naive_bytes);
    g3_plan_free(&p);
}

int main(void)
{
    tiny t;
    tiny_init(&t);
    for (int T = 1; T <= 5; T += 4) {
        g3_graph g;
        REQUIRE(g3_graph_build(&t.m, T, 1, &g, NULL) == G3_OK, "graph");
        char what[64];
        snprintf(what, sizeof(what), "T=%d reuse", T);
        check_plan(&g, false, what);
        snprintf(what, sizeof(what), "T=%d no reuse", T);
        check_plan(&g, true, what);
        g3_graph_free(&g);
    }
    /* KV report: f16, n_ctx 100, window 3: sliding layer 3 slots, global 100. */
    g3_graph g;
    REQUIRE(g3_graph_build(&t.m, 1, 1, &g, NULL) == G3_OK, "graph");
    g3_plan p;
    REQUIRE(g3_plan_build(&g, &(g3_plan_options){.n_ctx = 100}, &p, NULL) == G3_OK, "plan");
    const uint64_t kv_dim = 8;
    CHECK(p.kv_bytes == 2 * kv_dim * (3 + 100) * 2, "kv bytes %llu",
          (unsigned long long)p.kv_bytes);
    CHECK(g3_plan_kv_slots(&t.m, 0, 100, 5) == 7 && g3_plan_kv_slots(&t.m, 1, 100, 5) == 100 &&
              g3_plan_kv_slots(&t.m, 0, 4, 5) == 4,
          "ring of window + n_tokens - 1, capped by the context");
    g3_plan_free(&p);
    g3_graph_free(&g);
    free(t.blob);
    return test_finish("test_planner");
}
