"""Pick the compiled core for this CPU, once, at import.

``NDCONV_SIMD=baseline`` forces the baseline build (for testing both builds on
one machine); ``NDCONV_SIMD=avx2`` insists on the AVX2 build and fails if this
CPU or this install cannot run it.
"""
import os

from . import _core as _base


def _select():
    want = os.environ.get("NDCONV_SIMD", "").strip().lower()
    if want not in ("", "auto", "baseline", "avx2"):
        raise ImportError("NDCONV_SIMD must be 'auto', 'baseline' or 'avx2', got %r" % want)
    if want == "baseline":
        return _base, "baseline"
    if _base.cpu_has_avx2_fma():
        try:
            from . import _core_avx2
        except ImportError:
            if want == "avx2":
                raise
        else:
            return _core_avx2, "avx2+fma"
    if want == "avx2":
        raise ImportError("NDCONV_SIMD=avx2 but this CPU lacks AVX2/FMA")
    return _base, "baseline"


_module, SIMD_LEVEL = _select()


def core():
    """The selected kernel module (``_core`` or ``_core_avx2``)."""
    return _module


def openmp_enabled():
    return _base.openmp_enabled()


def omp_max_threads():
    return _base.omp_max_threads()


def omp_num_procs():
    return _base.omp_num_procs()
