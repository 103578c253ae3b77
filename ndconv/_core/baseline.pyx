# cython: language_level=3
"""Compiled core, baseline instruction set.

The kernels live in ``kernels.pxi`` (shared with ``avx2`` and ``avx512``); this module
adds what only needs to exist once: OpenMP and CPU-feature queries.
"""

include "kernels.pxi"

cdef extern from *:
    """
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
    """
    int NDCONV_OPENMP
    int ndconv_omp_max_threads() noexcept nogil
    int ndconv_omp_num_procs() noexcept nogil
    int ndconv_cpu_avx2_fma() noexcept nogil
    int ndconv_cpu_avx512() noexcept nogil


def openmp_enabled():
    """True if the core was compiled with OpenMP."""
    return bool(NDCONV_OPENMP)


def omp_max_threads():
    """Threads an OpenMP region would use now (honours OMP_NUM_THREADS and threadpoolctl)."""
    return ndconv_omp_max_threads()


def omp_num_procs():
    """Processors available to OpenMP (1 without OpenMP)."""
    return ndconv_omp_num_procs()


def cpu_has_avx2_fma():
    """True if this CPU runs the AVX2+FMA build of the kernels."""
    return bool(ndconv_cpu_avx2_fma())


def cpu_has_avx512():
    """True if this CPU (and OS) runs the AVX-512 build of the kernels."""
    return bool(ndconv_cpu_avx512())
