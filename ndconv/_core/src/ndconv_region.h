/* How late the workers of this build's last parallel region were ready, and
 * when it ended.
 *
 * OpenMP's region ends at a barrier that waits for every thread of the team.
 * A worker whose spin has run out sleeps, and on a virtual machine the host
 * may have descheduled its idle vCPU: on an Intel Xeon with 2 vCPUs a woken
 * worker started 1.3 ms late, and the caller, done with a small call's work
 * long before, got its vCPU back at the barrier 1.3 ms after that (2.6-2.8 ms
 * for a call of 0.03 ms).  The planner (ndconv._plan.threads) reads these
 * figures to learn what waking the workers costs on this machine and to tell
 * whether they are still awake.
 *
 * The caller stamps the region's start before entering it (begin); each
 * thread stamps when it is ready to take work items (enter: the workers'
 * latest counts); the caller stamps the end after the region.  Header-only:
 * each build of the core keeps its own figures, for its own regions
 * (omp_get_wtime's clock).
 * Atomics: a region's threads, and calls from several Python threads, write
 * them at once.
 */
#ifndef NDCONV_REGION_H
#define NDCONV_REGION_H

#ifdef _OPENMP
#include <omp.h>
static double ndconv_region_now(void) { return omp_get_wtime(); }
#else
static double ndconv_region_now(void) { return 0.0; }
#endif

/* nanoseconds */
static long long ndconv_region_end_ns = -1;     /* when the last region ended */
static long long ndconv_region_ready_ns = 0;    /* its latest worker was ready, after its start */

static long long ndconv_region_ns(double seconds) { return (long long)(seconds * 1e9); }

/* Before a region: its start time. */
static double ndconv_region_begin(void) {
    __atomic_store_n(&ndconv_region_ready_ns, 0LL, __ATOMIC_RELAXED);
    return ndconv_region_now();
}

/* A team thread ready to take the work items of the region begun at t0. */
static void ndconv_region_enter(double t0, int tid) {
    long long d, cur;
    if (tid == 0)
        return;     /* the caller is there from the start */
    d = ndconv_region_ns(ndconv_region_now() - t0);
    cur = __atomic_load_n(&ndconv_region_ready_ns, __ATOMIC_RELAXED);
    while (d > cur && !__atomic_compare_exchange_n(&ndconv_region_ready_ns, &cur, d, 0,
                                                  __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
    }
}

/* After a region, on the caller's thread. */
static void ndconv_region_end(void) {
    __atomic_store_n(&ndconv_region_end_ns, ndconv_region_ns(ndconv_region_now()), __ATOMIC_RELAXED);
}

/* Seconds since the last region ended (-1: none has run), and how late its
 * latest worker was ready. */
static void ndconv_region_times(double* since_end, double* ready) {
    long long end = __atomic_load_n(&ndconv_region_end_ns, __ATOMIC_RELAXED);
    *since_end = end < 0 ? -1.0 : ndconv_region_now() - 1e-9 * (double)end;
    *ready = 1e-9 * (double)__atomic_load_n(&ndconv_region_ready_ns, __ATOMIC_RELAXED);
}

#endif
