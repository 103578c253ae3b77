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


from numpy import ndarray as _ndarray


def call_key(x, k, mode, boundary, cval, origin, axes, method, workers, out, flip, conj,
             compute_dtype, unfused, module, generation):
    """The plan-cache key of a call of the unified API (``ndconv._api``), or None
    for a call no plan serves: arrays of other types (``out`` too), sequences
    (lists are unhashable, and a bool is equal to an int that validation treats
    differently), a NaN ``cval`` (never equal to itself).

    Everything that decides a plan but the arrays' values: layouts, dtypes
    (``out``'s and its flags too), options, OpenMP's thread limit, the kernel ``module`` and the tuning
    settings' ``generation``.  Compiled because it runs on every call: the same
    checks in Python cost a third of a small call.
    """
    if (type(x) is not _ndarray or type(k) is not _ndarray
            or not (out is None or type(out) is _ndarray)
            or type(origin) is not int or not (axes is None or type(axes) is int)
            or not (workers is None or type(workers) is int)
            or type(cval) not in (float, int, complex) or cval != cval
            or type(mode) is not str or type(boundary) is not str or type(method) is not str):
        return None
    return (x.shape, x.strides, x.dtype, x.flags.aligned, k.shape, k.dtype, mode, boundary,
            type(cval), cval, origin, axes, method, workers, flip, conj, compute_dtype, unfused,
            None if out is None else (out.shape, out.strides, out.dtype, out.flags.aligned,
                                      out.flags.writeable),
            ndconv_omp_max_threads(), module, generation)
