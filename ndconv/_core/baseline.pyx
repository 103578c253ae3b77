# cython: language_level=3
"""Compiled core, baseline instruction set.

The kernels live in ``kernels.pxi`` and ``layer.pxi`` (shared with ``avx2``, ``neon`` and
``avx512``); this module adds what only needs to exist once: OpenMP and
CPU-feature queries.
"""

include "kernels.pxi"
include "layer.pxi"

from ndconv._core.csrc cimport (
    NDCONV_OPENMP,
    ndconv_cpu_avx2_fma,
    ndconv_cpu_avx512,
    ndconv_omp_max_threads,
    ndconv_omp_num_procs,
)


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
