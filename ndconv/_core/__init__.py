"""Pick the compiled core for this CPU, once, at import.

``NDCONV_SIMD=baseline`` forces the baseline build and ``NDCONV_SIMD=avx2`` the
AVX2 build (for testing every build on one machine); ``NDCONV_SIMD=avx2`` and
``NDCONV_SIMD=avx512`` fail if this CPU or this install cannot run that build.
"""
import importlib
import os

from . import wait_policy as _wait_policy

# the wait policy applies to ndconv's OpenMP runtime only: see wait_policy
_base, WAIT_POLICY = _wait_policy.load(lambda: importlib.import_module(".baseline", __name__))


def _select():
    want = os.environ.get("NDCONV_SIMD", "").strip().lower()
    if want not in ("", "auto", "baseline", "avx2", "avx512"):
        raise ImportError("NDCONV_SIMD must be 'auto', 'baseline', 'avx2' or 'avx512', got %r"
                          % want)
    if want == "baseline":
        return _base, "baseline"
    if want in ("", "auto", "avx512") and _base.cpu_has_avx512():
        try:
            from . import avx512 as _core_avx512
        except ImportError:
            if want == "avx512":
                raise
        else:
            return _core_avx512, "avx512"
    if want == "avx512":
        raise ImportError("NDCONV_SIMD=avx512 but this CPU lacks AVX-512 (F, VL, BW, DQ)")
    if _base.cpu_has_avx2_fma():
        try:
            from . import avx2 as _core_avx2
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
    """The selected kernel module (``_core``, ``_core_avx2`` or ``_core_avx512``)."""
    return _module


def unfused_core():
    """A build without fused multiply-adds (x86-64's baseline has none): the same
    sums, each product rounded, in the same order as a plain C loop."""
    return _base


def openmp_enabled():
    return _base.openmp_enabled()


def omp_max_threads():
    return _base.omp_max_threads()


def omp_num_procs():
    return _base.omp_num_procs()
