"""Pick the compiled core for this CPU, once, at import.

``NDCONV_SIMD=baseline`` forces the baseline build and ``NDCONV_SIMD=avx2`` the
AVX2 build (for testing every build on one machine); ``NDCONV_SIMD=avx2`` and
``NDCONV_SIMD=avx512`` fail if this CPU or this install cannot run that build.
"""
import os

# libgomp reads the wait policy once, when it is loaded (with _core below).
# Its default spins threads for 300,000 rounds at every barrier; on a 2-core
# machine with one other busy process a spinning thread starves the one still
# working, and 2-thread calls ran 10-20x slower than 1-thread ones.  Purely
# passive waiting (spin 0) has the opposite problem on an idle VM: the worker
# sleeps between calls, its vCPU halts, and waking it costs 50 us to
# milliseconds -- 2-thread calls of 1-4 ms then ran no faster than 1-thread
# ones (15-call medians, the pattern of a benchmark after a pause).  A short
# spin bridges the gap between back-to-back calls and then sleeps: measured on
# 2048^2 float32 5x5, 2 threads, idle machine, 1.7-1.9 ms against 3.5-4.4 ms
# passive; with another process busy, 5.9 ms against 3.5 ms.  Values the user
# sets for either variable are kept (PASSIVE with GOMP_SPINCOUNT=0 is the
# setting for a shared, busy machine).
if "OMP_WAIT_POLICY" not in os.environ and "GOMP_SPINCOUNT" not in os.environ:
    os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
    os.environ["GOMP_SPINCOUNT"] = "100000"
    WAIT_POLICY_SET_BY_NDCONV = True
else:
    WAIT_POLICY_SET_BY_NDCONV = False

try:
    from . import baseline as _base  # noqa: E402  (after the wait policy, on purpose)
except ImportError:
    import importlib.util

    if importlib.util.find_spec(__name__ + ".baseline") is not None:
        raise      # built, but cannot load (a missing runtime library, say): the error says why
    # Most often a clone after `pip install .`: its ndconv/ folder (the current
    # directory, first on sys.path) shadows the installed package and has no compiled core.
    _pkg = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    _tree = os.path.dirname(_pkg)
    if not os.path.isfile(os.path.join(_tree, "setup.py")):
        raise ImportError("ndconv's compiled core is missing from %s: reinstall ndconv "
                          "(pip install --force-reinstall ndconv)" % _pkg) from None
    raise ImportError(
        "you are importing ndconv from its source tree (%s) without the compiled core.\n"
        "Either install it with `pip install .` and run Python from another folder, or build it "
        "in place with `pip install -e .` (or `python setup.py build_ext --inplace`) in %s."
        % (_pkg, _tree)) from None


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
