"""Method choice: one place decides between the direct, separable and FFT paths.

The cost model estimates seconds for each method from sizes alone.  Its
constants live in ``cost_model.json`` beside this file, fitted by least squares
to timings by ``benchmarks/calibrate_auto.py`` (which rewrites the part it
measured): the direct method's per kernel build, since each build's blocks have
their own speeds and thresholds, the FFT's per machine.  One build runs at
different speeds on different CPUs (the AVX-512 blocks did 97 G multiply-adds
per second in float32 on the CPU the build was first calibrated on, 40 on an
AMD Zen 4, which issues 512-bit instructions as two halves), so a build may
also have constants for particular CPU models (``"avx512@AuthenticAMD 25
17"``), taken where the CPU is that model: the choice stays a function of the
machine, never of a timing taken at run time, so ``auto`` picks the same
method, and gives the same bits, in every process.  The FFT constants are
used by ``_fft.plan`` too, so the overlap-save block choice and ``auto`` agree.
"""
import functools
import json
import math
import os

import numpy as np

from . import cpu as _cpu
from . import direct as _direct
from . import fft as _fft
from . import separable as _separable


def _load():
    path = os.path.join(os.path.dirname(__file__), "cost_model.json")
    with open(path) as f:
        return json.load(f)


MODEL = _load()
_fft.configure(MODEL["fft"])

# A build without constants of its own borrows those of the nearest build that
# has them (its blocks' shapes, then its vector width).
_NEAREST = {"avx512": ("avx2", "baseline"), "avx2": ("avx512", "baseline"),
            "neon": ("avx2", "baseline"), "baseline": ("avx2", "avx512")}


def build_name(module=None):
    """The kernel build the direct method runs (``"baseline"``, ``"avx2"``, ...)."""
    return (module or _direct.core()).__name__.rsplit(".", 1)[-1]


# The CPU model as the cost model names it (tests replace it here)
cpu_model = _cpu.model


def constants_name(build):
    """The entry of ``cost_model.json`` whose direct constants ``build`` uses on
    this CPU: its own for this CPU model (``"build@model"``), its own, or the
    nearest build's (``_NEAREST``)."""
    table = MODEL["direct"]
    cpu = cpu_model()
    names = ((build + "@" + cpu,) if cpu else ()) + (build,) + _NEAREST.get(build, ())
    for name in names:
        if name in table:
            return name
    return next(iter(table))


@functools.cache
def direct_constants(build):
    """``{dtype name: constants}`` of the direct model for kernel build ``build``
    on this CPU (see ``constants_name``)."""
    return MODEL["direct"][constants_name(build)]


def _key(dtype):
    return _fft.DTYPE_NAMES.get(np.dtype(dtype).char, "float64")


def direct_features(out_shape, w_shape, dtype, n_threads, order=None):
    """The direct model's features: ``[1, multiply-adds, pointer setups,
    (output, leading tap) pairs, merged-path cost, rolling-rows multiply-adds,
    rolling-rows shifted vectors, rolling-rows outputs, multiply-adds in
    one-row blocks]``.

    The merged path (its cost in multiply-adds, copies included) and the
    rolling rows have features of their own (the rolling rows build one
    shifted vector per output and tap of a kernel row, shared by the kernel
    rows, and small kernels there are bound by that and by memory); the
    plain path has the second to fourth, with a quarter of the block starts
    when the core computes four rows at a time (``_core.row_mode``), and the
    last where it does not: a one-row block loads an input vector per
    multiply-add where the four-row blocks share each load between rows, so
    its rate is lower (AVX2, float32: 1-D 10^6 x 316 ran at 26 G/s where the
    common rate, fitted mostly on four-row blocks, said 34, and auto chose it
    over an FFT 1.6x faster)."""
    if order is not None:
        out_shape = tuple(out_shape[a] for a in order)
        w_shape = tuple(w_shape[a] for a in order)
    plan = _direct._merge_plan(out_shape, w_shape, np.dtype(dtype).itemsize, n_threads)
    if plan is not None:
        return [1.0, 0.0, 0.0, 0.0, float(plan[2]), 0.0, 0.0, 0.0, 0.0]
    taps = math.prod(w_shape)
    n_out = math.prod(out_shape)
    m_last, k_last = out_shape[-1], w_shape[-1]
    n_lead = taps // k_last
    core = _direct.core()
    mode = core.row_mode(np.dtype(dtype).char, n_lead, w_shape[-2] if len(w_shape) > 1 else 1, m_last)
    if mode == core.RowMode.ROWS_ROLLING:
        return [1.0, 0.0, 0.0, 0.0, 0.0, float(n_out * taps), float(n_out * k_last), float(n_out),
                0.0]
    chunks = -(-m_last // _direct._MAX_CHUNK) if m_last else 0
    setups = (n_out // max(1, m_last)) * chunks * n_lead
    four = mode == core.RowMode.ROWS_FOUR
    row_taps = n_out * n_lead / (4 if four else 1)
    return [1.0, float(n_out * taps), float(setups), float(row_taps), 0.0, 0.0, 0.0, 0.0,
            0.0 if four else float(n_out * taps)]


def direct_seconds(out_shape, w_shape, dtype, n_threads, order=None):
    """Estimated seconds of the direct kernel: a per-call cost, then the plain
    path's multiply-adds (and those of one-row blocks again, at their extra
    cost), per-(row, chunk, leading tap) pointer setups and
    per-(output, leading tap) block starts, or the merged path's cost, or the
    rolling rows' multiply-adds, shifted vectors and outputs.  ``order`` is the
    axis permutation the kernel runs in (rows along its last)."""
    p = direct_constants(build_name())[_key(dtype)]
    f = direct_features(out_shape, w_shape, dtype, n_threads, order)
    work = (f[1] * p["per_tap"] + f[2] * p["per_setup"] + f[3] * p.get("per_row_tap", 0.0)
            + f[4] * p.get("per_merged", p["per_tap"]) + f[5] * p.get("per_roll", p["per_tap"])
            + f[6] * p.get("per_roll_shift", 0.0) + f[7] * p.get("per_roll_out", 0.0)
            + f[8] * p.get("per_tap_single", 0.0))
    return p["call"] + work / max(1.0, p["thread_eff"] * n_threads)


def estimate(x_shape, w_shape, out_shape, dtype, n_threads, order=None):
    """Estimated seconds ``(direct, fft)`` for one call; ``order`` is the direct
    kernel's axis order (default: as given)."""
    dtype = np.dtype(dtype)
    t_direct = direct_seconds(out_shape, w_shape, dtype, n_threads, order)
    if math.prod(w_shape) == 1 or dtype.kind not in "fc" or t_direct <= _fft.FFT_CALL:
        return t_direct, math.inf
    t_fft, _, _, _, nblocks, _ = _fft.plan(out_shape, w_shape, dtype)
    # scipy.fft threads over batches of transforms, not within one
    batch = nblocks * math.prod(out_shape[a] for a in range(len(w_shape)) if w_shape[a] == 1)
    if batch > 1:
        t_fft /= max(1.0, MODEL["fft"]["thread_eff"] * min(n_threads, batch))
    return t_direct, t_fft + _fft.FFT_CALL


def separable_seconds(x_shape, w_shape, out_shape, axes, dtype, n_threads, order=None):
    """Estimated seconds for one direct 1-D pass per convolved axis (last axis first)."""
    shape = list(x_shape)
    t = 0.0
    for a in sorted(axes, reverse=True):
        shape[a] = out_shape[a]
        k = [1] * len(shape)
        k[a] = w_shape[a]
        t += direct_seconds(tuple(shape), tuple(k), dtype, n_threads, order)
    return t


@functools.lru_cache(maxsize=512)
def _estimates(x_shape, w_shape, out_shape, dtype_char, n_threads, order, build):
    """``(direct, fft, separable)`` estimated seconds on kernel build ``build``,
    from sizes alone (cached: repeated small calls would otherwise spend more on
    deciding than on computing).  Separable is inf where it cannot win (see
    ``_separable.worthwhile``)."""
    dtype = np.dtype(dtype_char)
    t_direct, t_fft = estimate(x_shape, w_shape, out_shape, dtype, n_threads, order)
    axes = [a for a in range(len(w_shape)) if w_shape[a] > 1]
    t_sep = math.inf
    if _separable.worthwhile(w_shape, axes):
        t_sep = separable_seconds(x_shape, w_shape, out_shape, axes, dtype, n_threads, order)
    return t_direct, t_fft, t_sep


def _all_finite(a):
    """False if ``a`` holds NaN or inf.

    One reduction instead of an elementwise mask: any NaN or inf makes the sum
    non-finite.  A sum that overflows gives a false alarm, which only means
    the direct method is used.
    """
    with np.errstate(over="ignore", invalid="ignore"):
        return bool(np.isfinite(np.add.reduce(a, axis=None)))


@functools.lru_cache(maxsize=512)
def _term_seconds(out_shape, dtype_char, n_threads, build):
    """Estimated seconds of adding one more separable term to an output of
    ``out_shape`` (a direct pass of a one-tap kernel), on kernel build ``build``."""
    return direct_seconds(out_shape, (1,) * len(out_shape), np.dtype(dtype_char), n_threads)


# FFT must be estimated this much faster to be chosen: its estimates scatter
# more (1-D transforms ran up to 1.4x over the model), and a close call lost to
# direct costs little, while direct also keeps NaN local and is more accurate.
_FFT_MARGIN = 0.8

# Multiply-adds below which the direct sum (a couple of microseconds) cannot
# lose enough to pay for weighing the alternatives.
_TRIVIAL_TAPS = 1 << 16


def _trivial(x, w, out_shape):
    """True where nothing but the direct method is weighed: exact (integer)
    computation, or too few multiply-adds to pay for weighing."""
    return x.dtype.kind not in "fc" or w.size * math.prod(out_shape) <= _TRIVIAL_TAPS


def direct_by_size(x, w, out_shape, n_threads, order=None):
    """True when the sizes alone make ``choose`` pick the direct method: no
    alternative is estimated faster, so no value (NaN, inf, rank) is looked at,
    and the choice holds for every array of these sizes, strides and dtype.
    ``order``: ``_direct.compute_order(x, out_shape)``, where the caller has it."""
    if _trivial(x, w, out_shape):
        return True
    # the direct kernel's rows run along the last axis of its compute order
    if order is None:
        order = _direct.compute_order(x, out_shape)
    t_direct, t_fft, t_sep = _estimates(x.shape, w.shape, tuple(out_shape), x.dtype.char,
                                        n_threads, order, build_name())
    return t_sep >= t_direct and not t_fft < _FFT_MARGIN * t_direct


def direct_for_any_values(x, w, out_shape, n_threads):
    """For a call ``choose`` sent to the direct method: ``(True, None)`` if it
    would for any values of these sizes, ``(True, axes)`` if it would unless the
    kernel factorizes over ``axes`` (the one value-dependent alternative left),
    ``(False, None)`` if other values could take FFT."""
    if direct_by_size(x, w, out_shape, n_threads):
        return True, None
    t_direct, t_fft, _ = _estimates(x.shape, w.shape, tuple(out_shape), x.dtype.char,
                                    n_threads, _direct.compute_order(x, out_shape), build_name())
    if t_fft < _FFT_MARGIN * t_direct:
        return False, None
    return True, [a for a in range(w.ndim) if w.shape[a] > 1]


def choose(x, w, out_shape, n_threads, cval=0):
    """``(method, factors)``: ``"direct"``, ``"separable"`` (with its 1-D factors),
    ``"lowrank"`` (with a list of such factors, one per term) or ``"fft"``, for
    arrays already in the compute dtype.

    FFT is never chosen for integer (exact) computation or when an input holds
    NaN or inf: FFT spreads a non-finite value over the whole output, while the
    direct method keeps it local, as scipy.ndimage does.
    """
    if _trivial(x, w, out_shape):
        return "direct", None
    order = _direct.compute_order(x, out_shape)
    if direct_by_size(x, w, out_shape, n_threads, order):
        return "direct", None
    sizes = (x.shape, tuple(out_shape), x.dtype.char, n_threads, order, build_name())
    if w.nbytes <= _separable.CACHED_BYTES:
        method, factors, fft = _weigh_cached(_separable.kernel_key(w), w.shape, w.dtype.str,
                                             *sizes)
    else:
        method, factors, fft = _weigh(w, *sizes)
    # the input's values, unlike the kernel's, are looked at on every call
    if fft and x.ndim <= _fft.MAX_NDIM and np.isfinite(cval) and _all_finite(x):
        return "fft", None
    if method == "separable":
        return method, dict(factors)
    if method == "lowrank":
        return method, [dict(term) for term in factors]
    return method, None


@functools.lru_cache(maxsize=64)
def _weigh_cached(data, w_shape, w_dtype, *sizes):
    """``_weigh`` remembered for small kernels, keyed by their bytes: weighing
    a kernel (its factors, its terms, its values' finiteness) cost 40-60 us
    right after an FFT call of 0.4 ms (128^2 x 63^2, in-process); remembered,
    the one scan left per call is the input's finiteness."""
    return _weigh(np.frombuffer(data, dtype=w_dtype).reshape(w_shape), *sizes)


def _weigh(w, x_shape, out_shape, dtype_char, n_threads, order, build):
    """What ``choose`` takes for kernel ``w`` whatever the input's values:
    ``(method, factors, fft)``, the best method but FFT with its factors as
    tuples (separable: of ``(axis, vector)``; low rank: one such tuple per
    term), and whether FFT beats it for these sizes and this kernel (``w`` is
    finite)."""
    t_direct, t_fft, t_sep = _estimates(x_shape, w.shape, out_shape, dtype_char, n_threads, order,
                                        build)
    best, factors = ("direct", t_direct), None
    if t_sep < best[1]:
        # the estimate is arithmetic; factorizing is not, so it comes second
        axes = [a for a in range(w.ndim) if w.shape[a] > 1]
        found = _separable.factorize(w, axes)
        if found is not None:
            best, factors = ("separable", t_sep), tuple(found.items())
        else:
            # a sum of a few separable terms (a difference of Gaussians is two):
            # as many terms as are estimated faster than direct, and than FFT
            t_add = _term_seconds(out_shape, dtype_char, n_threads, build)
            bar = min(t_direct, t_fft / _FFT_MARGIN)
            terms = _separable.lowrank(w, axes, int((bar + t_add) // (t_sep + t_add)))
            if terms is not None:
                best = ("lowrank", len(terms) * (t_sep + t_add) - t_add)
                factors = tuple(tuple(term.items()) for term in terms)
    return best[0], factors, bool(t_fft < _FFT_MARGIN * best[1] and _all_finite(w))
