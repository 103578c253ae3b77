/* OpenMP and CPU-feature queries (compiled into the baseline build only). */
#ifndef NDCONV_CPU_H
#define NDCONV_CPU_H

#ifdef _OPENMP
#include <omp.h>
#define NDCONV_OPENMP 1
static int ndconv_omp_max_threads(void) { return omp_get_max_threads(); }
static int ndconv_omp_num_procs(void) { return omp_get_num_procs(); }
#else
#define NDCONV_OPENMP 0
static int ndconv_omp_max_threads(void) { return 1; }
static int ndconv_omp_num_procs(void) { return 1; }
#endif
#if (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(__i386__))
static int ndconv_cpu_avx2_fma(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}
static int ndconv_cpu_avx512(void) {
    __builtin_cpu_init();
    return ndconv_cpu_avx2_fma() && __builtin_cpu_supports("avx512f")
           && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bw")
           && __builtin_cpu_supports("avx512dq");
}
#else
static int ndconv_cpu_avx2_fma(void) { return 0; }
static int ndconv_cpu_avx512(void) { return 0; }
#endif

#endif
