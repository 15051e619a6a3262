/* threadpool.h: a minimal pool of pthreads for the CPU reference. */
#ifndef G3_THREADPOOL_H
#define G3_THREADPOOL_H

#include "g3_internal.h"

typedef struct g3_threadpool g3_threadpool;

/* task(ctx, i, n) is called once for each i in [0, n). */
typedef void (*g3_task_fn)(void *ctx, int i, int n);

/* n_threads <= 0: the number of online CPUs. Returns NULL on failure. */
g3_threadpool *g3_threadpool_create(int n_threads);
void g3_threadpool_free(g3_threadpool *pool);
int g3_threadpool_size(const g3_threadpool *pool);

/* Runs n tasks on the pool (the calling thread takes part) and returns when all
 * are done. Not reentrant: one run at a time per pool. A NULL pool runs inline. */
void g3_threadpool_run(g3_threadpool *pool, g3_task_fn task, void *ctx, int n);

#endif /* G3_THREADPOOL_H */
