// A small pool of compute threads for the kernels. A decode step runs a few hundred short
// products; waking a thread through the OS for each costs as much as the product, so idle workers
// spin on a generation counter for a while (about a decode step's gap) before they sleep on a
// condition variable. One caller uses the pool at a time; a concurrent caller runs its parts itself.
#include "ckernels.h"

#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdatomic.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define lk_pause() _mm_pause()
#else
#define lk_pause() ((void)0)
#endif

enum { MAX_WORKERS = 63, SPINS_BEFORE_SLEEP = 20000, SPINS_BEFORE_YIELD = 2000 };

static struct {
    pthread_mutex_t busy;          // held by the caller using the pool
    pthread_mutex_t lock;          // guards sleeping workers' wake-up
    pthread_cond_t wake;
    int workers;
    atomic_uint generation;        // bumped for each job
    atomic_int pending;            // workers yet to finish the current job
    atomic_int sleepers;
    lk_task task;
    void *context;
    int parts;
} pool = { .busy = PTHREAD_MUTEX_INITIALIZER, .lock = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER };

static void *worker_main(void *argument) {
    // The creator passes the generation current at creation: a thread that read it itself could
    // start after the job it was made for was posted, miss it, and leave the caller waiting.
    const uintptr_t packed = (uintptr_t)argument;
    const int index = (int)(packed >> 32);   // this worker runs part index + 1
    unsigned seen = (unsigned)(packed & 0xFFFFFFFFu);
    for (;;) {
        int spins = 0;
        while (atomic_load_explicit(&pool.generation, memory_order_acquire) == seen) {
            if (++spins < SPINS_BEFORE_SLEEP) { lk_pause(); continue; }
            pthread_mutex_lock(&pool.lock);
            atomic_fetch_add(&pool.sleepers, 1);
            while (atomic_load(&pool.generation) == seen) pthread_cond_wait(&pool.wake, &pool.lock);
            atomic_fetch_sub(&pool.sleepers, 1);
            pthread_mutex_unlock(&pool.lock);
        }
        seen = atomic_load_explicit(&pool.generation, memory_order_acquire);
        if (index + 1 < pool.parts) pool.task(pool.context, index + 1, pool.parts);
        atomic_fetch_sub_explicit(&pool.pending, 1, memory_order_release);
    }
    return NULL;
}

/// Starts workers until there are `count` (never stops any); returns how many there are.
static int grow(int count) {
    if (count > MAX_WORKERS) count = MAX_WORKERS;
    while (pool.workers < count) {
        pthread_t thread;
        pthread_attr_t attributes;
        pthread_attr_init(&attributes);
        pthread_attr_setdetachstate(&attributes, PTHREAD_CREATE_DETACHED);
        uintptr_t argument = ((uintptr_t)pool.workers << 32) | atomic_load(&pool.generation);
        int failed = pthread_create(&thread, &attributes, worker_main, (void *)argument);
        pthread_attr_destroy(&attributes);
        if (failed) break;
        pool.workers++;
    }
    return pool.workers;
}

void lk_parallel(lk_task task, void *context, int parts) {
    if (parts <= 1 || pthread_mutex_trylock(&pool.busy) != 0) {
        for (int p = 0; p < parts; p++) task(context, p, parts);
        return;
    }
    int workers = grow(parts - 1);
    if (workers < parts - 1) parts = workers + 1;   // could not start more threads: fewer, larger parts
    pool.task = task;
    pool.context = context;
    pool.parts = parts;
    atomic_store_explicit(&pool.pending, workers, memory_order_relaxed);
    atomic_fetch_add(&pool.generation, 1);   // seq_cst with the sleepers check: no lost wake-up
    if (atomic_load(&pool.sleepers) > 0) {
        pthread_mutex_lock(&pool.lock);
        pthread_cond_broadcast(&pool.wake);
        pthread_mutex_unlock(&pool.lock);
    }
    task(context, 0, parts);
    int spins = 0;
    while (atomic_load_explicit(&pool.pending, memory_order_acquire) > 0) {
        if (++spins < SPINS_BEFORE_YIELD) lk_pause(); else sched_yield();
    }
    pthread_mutex_unlock(&pool.busy);
}
