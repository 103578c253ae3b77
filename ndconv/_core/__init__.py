"""Pick the compiled core for this CPU, once, at import.

One CPU probe and one selection serve every compiled path (the correlation
kernels and the convolution layer live in the same build).
``NDCONV_SIMD=baseline`` forces the baseline build and ``NDCONV_SIMD=avx2`` the
AVX2 build (for testing every build on one machine); ``NDCONV_SIMD=avx2``,
``NDCONV_SIMD=avx512`` and ``NDCONV_SIMD=neon`` fail if this CPU or this install
cannot run that build.  On aarch64 the NEON build is the default: ASIMD is part
of every aarch64 CPU, so it needs no probe.
"""
import contextlib
import importlib
import os
import platform

from . import wait_policy as _wait_policy

# the wait policy applies to ndconv's OpenMP runtime only: see wait_policy
try:
    _base, WAIT_POLICY = _wait_policy.load(lambda: importlib.import_module(".baseline", __name__))
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


_NAMES = {"baseline": "baseline", "avx2": "avx2+fma", "avx512": "avx512", "neon": "neon"}
# every build but the baseline, the preferred first (at most one family exists on a CPU)
_LEVELS = ("avx512", "avx2+fma", "neon")


def _load(level):
    """The module of build ``level`` (a value of ``SIMD_LEVEL``), or None when
    this CPU cannot run it or this install lacks it."""
    if level == "baseline":
        return _base
    if level == "avx2+fma" and _base.cpu_has_avx2_fma():
        try:
            from . import avx2 as mod
        except ImportError:
            return None
        return mod
    if level == "avx512" and _base.cpu_has_avx512():
        try:
            from . import avx512 as mod
        except ImportError:
            return None
        return mod
    if level == "neon" and platform.machine().lower() in ("aarch64", "arm64"):
        try:
            from . import neon as mod
        except ImportError:
            return None
        return mod
    return None


def _select():
    want = os.environ.get("NDCONV_SIMD", "").strip().lower()
    if want not in ("", "auto", "baseline", "avx2", "avx512", "neon"):
        raise ImportError("NDCONV_SIMD must be 'auto', 'baseline', 'avx2', 'avx512' or 'neon', got %r"
                          % want)
    if want in ("", "auto"):
        for level in _LEVELS:
            mod = _load(level)
            if mod is not None:
                return mod, level
        return _base, "baseline"
    mod = _load(_NAMES[want])
    if mod is None:
        raise ImportError("NDCONV_SIMD=%s but this CPU or this install cannot run that build"
                          % want)
    return mod, _NAMES[want]


# One selection for every path: the correlation kernels and the layer are in
# the same module, so NDCONV_SIMD governs both.
_module, SIMD_LEVEL = _select()


def core():
    """The selected kernel module (``baseline``, ``avx2``, ``avx512`` or ``neon``): the
    direct correlation kernels and the convolution layer."""
    return _module


def builds():
    """The builds this CPU and this install run, as ``{SIMD_LEVEL name: module}``,
    narrowest first (for tests and benchmarks that compare builds)."""
    out = {}
    for level in ("baseline",) + _LEVELS[::-1]:
        mod = _load(level)
        if mod is not None:
            out[level] = mod
    return out


@contextlib.contextmanager
def use(level):
    """Run every path (correlation kernels, layer) on build ``level`` (a key
    of :func:`builds`) inside the ``with`` block: the test and benchmark hook
    for comparing builds in one process.  Not thread-safe: it swaps the module
    for the whole process."""
    global _module
    mods = builds()
    if level not in mods:
        raise ValueError("build %r is not available here; available: %s" % (level, ", ".join(mods)))
    saved, _module = _module, mods[level]
    try:
        yield _module
    finally:
        _module = saved


def describe():
    """What every path runs, as ``{path: description}`` (for ``show_config``)."""
    level = {m: name for name, m in builds().items()}.get(_module, SIMD_LEVEL)
    info = _module.build_info()
    return {
        "direct": "%s: %s" % (level, info["direct"]),
        "layer": "%s: %s" % (level, info["layer"]),
        "unfused": "baseline (no fused multiply-add; integer outputs of the ndimage drop-in)",
    }


def unfused_core():
    """A build without fused multiply-adds (x86-64's baseline has none): the same
    sums, each product rounded, in the same order as a plain C loop."""
    return _base


# After fork() only the forking thread exists in the child, but libgomp's
# state says its worker threads do: the child's first multi-threaded region
# would wait for them forever.  ndconv cannot tell whether the runtime (shared
# with any other library using the same libgomp) had started its workers, so a
# forked child runs every call on one thread (the results are bitwise the same;
# only the speed differs).  Children started by exec (spawn, forkserver) are not
# affected.
_forked = False
_cap = None     # max_threads(), once known


def _mark_forked():
    global _forked, _cap
    _forked, _cap = True, None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_mark_forked)


def forked():
    """True in a process made by ``fork()`` from one that had imported ndconv
    (its calls then run on one thread)."""
    return _forked


# A call never gets more than this many threads per CPU available to the
# process: compute-bound threads beyond the CPUs only queue behind each other,
# and each costs a stack and per-thread scratch (absurd counts made OpenMP fail
# to create threads, which ends the process).  A small factor, not 1, keeps
# results comparable across thread counts above the core count.
THREADS_PER_CPU = 4


def cpus_available():
    """CPUs this process may run on: its affinity mask where the OS has one,
    else OpenMP's processor count (at least 1)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, omp_num_procs())


def max_threads():
    """The most threads one call uses: ``THREADS_PER_CPU`` per available CPU
    (counted once: the affinity mask is a system call away), or 1 in a forked
    child (see :func:`forked`)."""
    global _cap
    if _cap is None:
        _cap = 1 if _forked else THREADS_PER_CPU * cpus_available()
    return _cap


def openmp_enabled():
    return _base.openmp_enabled()


def omp_max_threads():
    return _base.omp_max_threads()


def omp_num_procs():
    return _base.omp_num_procs()
