/* threadpool.c: workers wait on a generation counter; a run hands out task
 * indices through an atomic-free counter under the mutex (tasks are coarse:
 * one per thread per matvec, so the lock is not contended). */
#include <pthread.h>
#include <unistd.h>

#include "threadpool.h"

struct g3_threadpool {
    pthread_mutex_t mu;
    pthread_cond_t work_cv, done_cv;
    pthread_t *threads;
    int n_threads; /* including the caller */
    uint64_t generation;
    bool quit;
    g3_task_fn task;
    void *ctx;
    int n_tasks, next_task, pending;
};

/* Takes and runs tasks until none are left. Called with the mutex held. */
static void drain(g3_threadpool *p)
{
    while (p->next_task < p->n_tasks) {
        const int i = p->next_task++;
        pthread_mutex_unlock(&p->mu);
        p->task(p->ctx, i, p->n_tasks);
        pthread_mutex_lock(&p->mu);
        if (--p->pending == 0)
            pthread_cond_broadcast(&p->done_cv);
    }
}

static void *worker(void *arg)
{
    g3_threadpool *p = arg;
    uint64_t seen = 0;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->quit && p->generation == seen)
            pthread_cond_wait(&p->work_cv, &p->mu);
        if (p->quit)
            break;
        seen = p->generation;
        drain(p);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

g3_threadpool *g3_threadpool_create(int n_threads)
{
    if (n_threads <= 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        n_threads = n > 0 ? (int)G3_MIN(n, 256) : 1;
    }
    g3_threadpool *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    p->n_threads = 1;
    if (pthread_mutex_init(&p->mu, NULL))
        goto fail_mu;
    if (pthread_cond_init(&p->work_cv, NULL))
        goto fail_work;
    if (pthread_cond_init(&p->done_cv, NULL))
        goto fail_done;
    p->threads = calloc((size_t)n_threads, sizeof(*p->threads));
    if (!p->threads)
        goto fail_threads;
    for (int i = 1; i < n_threads; i++) {
        if (pthread_create(&p->threads[i], NULL, worker, p))
            break; /* fewer threads is still correct */
        p->n_threads++;
    }
    return p;
fail_threads:
    pthread_cond_destroy(&p->done_cv);
fail_done:
    pthread_cond_destroy(&p->work_cv);
fail_work:
    pthread_mutex_destroy(&p->mu);
fail_mu:
    free(p);
    return NULL;
}

void g3_threadpool_free(g3_threadpool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->quit = true;
    pthread_cond_broadcast(&p->work_cv);
    pthread_mutex_unlock(&p->mu);
    for (int i = 1; i < p->n_threads; i++)
        pthread_join(p->threads[i], NULL);
    pthread_cond_destroy(&p->done_cv);
    pthread_cond_destroy(&p->work_cv);
    pthread_mutex_destroy(&p->mu);
    free(p->threads);
    free(p);
}

int g3_threadpool_size(const g3_threadpool *p)
{
    return p ? p->n_threads : 1;
}

void g3_threadpool_run(g3_threadpool *p, g3_task_fn task, void *ctx, int n)
{
    if (!p || p->n_threads == 1 || n <= 1) {
        for (int i = 0; i < n; i++)
            task(ctx, i, n);
        return;
    }
    pthread_mutex_lock(&p->mu);
    p->task = task;
    p->ctx = ctx;
    p->n_tasks = n;
    p->next_task = 0;
    p->pending = n;
    p->generation++;
    pthread_cond_broadcast(&p->work_cv);
    drain(p);
    while (p->pending > 0)
        pthread_cond_wait(&p->done_cv, &p->mu);
    pthread_mutex_unlock(&p->mu);
}
