"""The unified API: ``correlate`` and ``convolve``.

Validate -> canonicalise (dtype, axes, kernel orientation) -> geometry (starts and
output extents per axis) -> method -> core.  Every public function of ndconv,
the drop-in namespaces included, funnels into ``correlate_nd`` here.
"""
from __future__ import annotations

import functools
import math
import os
import time
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from . import _core as _dispatch
from ._plan import boundary as _boundary
from ._plan import cast as _cast
from ._plan import direct as _direct
from ._plan import fft as _fft
from ._plan import method as _method
from ._plan import missing as _missing
from ._plan import placement as _placement
from ._plan import separable as _separable
from ._plan import threads as _threads
from ._plan import tuning as _tuning
from ._plan import validation as _validation
from ._plan.validation import (
    as_array,
    check_choice,
    normalize_axes,
    normalize_cval,
    normalize_origin,
    resolve_workers,
    result_dtype,
)

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from numpy.typing import ArrayLike, DTypeLike, NDArray

    from ._plan.cast import Casting
    from ._plan.validation import BoundaryOrMissing, Method, Mode, NanPolicy

    class _Operation(Protocol):
        """``correlate`` / ``convolve`` as type checkers see them."""

        def __call__(self, x: ArrayLike, k: ArrayLike, mode: Mode = "full", *,
                     boundary: BoundaryOrMissing | Sequence[BoundaryOrMissing]
                     | Mapping[int, BoundaryOrMissing] = "constant",
                     cval: complex | np.number[Any] | Sequence[complex | np.number[Any]] = 0.0,
                     origin: int | Sequence[int] = 0, axes: int | Sequence[int] | None = None,
                     method: Method = "auto", workers: int | None = None,
                     out: NDArray[Any] | None = None, dtype: DTypeLike = None,
                     casting: Casting | None = None, nan_policy: NanPolicy = "propagate",
                     mask: ArrayLike | None = None, min_weight: float = 0.0,
                     preserve_nan: bool = False) -> NDArray[Any]: ...

_DOC_PARAMS = """
    Parameters
    ----------
    x : array_like
        Input signal, image or volume (bool, integer, float or complex).
    k : array_like
        Kernel.  ``k.ndim == x.ndim``, or ``k.ndim == len(axes)``.
    mode : {"full", "same", "valid"}, optional
        Output extent, as in ``scipy.signal.%(op)s``: ``"full"`` every position where
        ``x`` and ``k`` overlap (size ``n + K - 1``), ``"same"`` the size of ``x``,
        centred like ``scipy.signal``; ``"valid"`` only positions where one input
        covers the other completely (size ``|n - K| + 1``; either input may be the
        larger one, but in every convolved axis the same one).
    boundary : {"constant", "edge", "symmetric", "reflect", "wrap", "missing"}, sequence or dict, optional
        How ``x`` is extended past its edges, with ``numpy.pad``'s names and
        meaning for any width (also wider than ``x``)::

            constant   k k k | a b c d | k k k      (k = cval)
            edge       a a a | a b c d | d d d
            symmetric  c b a | a b c d | d c b
            reflect    d c b | a b c d | c b a
            wrap       b c d | a b c d | a b c
            missing    - - - | a b c d | - - -      (missing samples, see nan_policy)

        One name for every axis, a sequence of names (one per convolved axis, in
        ``axes`` order), or a dict ``{axis: name}`` (axes of ``x``; convolved
        axes without an entry take ``"constant"``).  Per axis, the extension is
        ``numpy.pad`` applied one axis at a time in ``axes`` order, so where
        several ``"constant"`` axes with different ``cval`` meet (a corner),
        the later axis' value wins.
        It matters for ``"full"`` and ``"same"``; ``"valid"`` reads no extension
        (where ``k`` is larger than ``x``, the part of ``k`` outside ``x`` meets
        zeros, as in scipy.signal).  The extension of a missing sample (NaN under
        ``nan_policy="omit"``, False in ``mask``) is missing too, and
        ``"missing"`` may be the name of some axes only (``("missing", "wrap")``:
        no samples past the ends of the first axis, the second wraps).
    cval : scalar or sequence, optional
        Value past the edges for ``boundary="constant"``, or one per convolved
        axis (``axes`` order).  Default 0.
    origin : int or sequence of int, optional
        ``"same"`` only: shifts the kernel's anchor to ``K//2 + origin`` along each
        convolved axis (scipy.ndimage's meaning).  ``-(K//2) <= origin <= (K-1)//2``.
    axes : int or sequence of int, optional
        Axes of ``x`` to convolve over (kernel axis ``i`` runs along ``x`` axis
        ``axes[i]``); the same kernel is applied along every other axis.  Default:
        all axes, with ``k.ndim == x.ndim``.  A kernel with more dimensions than
        ``axes`` is a *batch* of kernels: its leading axes broadcast against the
        other axes of ``x`` (numpy's rules, aligned at the right), e.g. ``x`` of
        shape ``(64, 48000)`` and ``k`` of shape ``(64, 511)`` with ``axes=-1``
        filter each channel with its own kernel.
    method : {"auto", "direct", "fft"}, optional
        ``"direct"`` sums the products exactly as written (compiled, threaded);
        ``"fft"`` uses transforms (scipy.fft if installed, else numpy.fft) with
        identical semantics; ``"auto"`` picks the faster by a cost model and never
        picks FFT for inputs holding NaN or inf.  It also runs kernels that are
        an outer product of 1-D kernels (a Gaussian), or a sum of a few (a
        difference of Gaussians: two), as 1-D passes where that is estimated
        faster and every tap stays within the direct method's accuracy.
    workers : int, optional
        Threads: ``None`` all that OpenMP allows now (honours ``OMP_NUM_THREADS``
        and threadpoolctl), ``-1`` every core, ``n >= 1`` exactly ``n``.  Results
        do not depend on it beyond float rounding (the direct method's are
        bitwise identical).
        At most four threads per CPU available to the process; a process
        forked (``os.fork``, multiprocessing's ``"fork"`` start method) from one
        that imported ndconv runs every call on one thread, as OpenMP's threads
        do not survive a fork.
        A call adds threads only for the CPUs idle when it starts (threads
        waiting for a busy CPU would hold it up), and, when the threads of an
        earlier call have gone to sleep, only if it is long enough to pay for
        waking them (see "Threads after a pause" in the performance guide).
    out : ndarray, optional
        Preallocated output of exactly the result's shape and dtype.  It may
        overlap the inputs.  For large arrays, pass one that ndconv allocated
        (an earlier result) rather than ``np.empty_like(x)``, which starts at
        the same offset within its page as ``x`` and can make the call 1.2-1.8x
        slower (see "Where the output lies in memory" in the performance guide).
    dtype : dtype, optional
        Output dtype.  Default: ``np.result_type(x, k)``, with bool and integers
        giving float64 and float16 float32.  For an integer dtype the sums are
        exact (int64 when ``x`` and ``k`` are both integers, float64 otherwise),
        then rounded half to even and brought into range by ``casting``; a float
        or complex dtype casts the usual result (``float16``: computed in
        float32 or wider).
    casting : {"saturate", "raise", "wrap"}, optional
        Integer ``dtype`` only.  ``"saturate"`` (default) clips to the dtype's
        range, like OpenCV's ``saturate_cast``; ``"raise"`` raises an
        OverflowError saying how many outputs are out of range and where the
        first is; ``"wrap"`` wraps modulo ``2**bits`` as numpy's casts do.
    nan_policy : {"propagate", "omit", "raise"}, optional
        NaN in ``x``: ``"propagate"`` (default) spreads it over the kernel's
        reach, as any product with NaN does; ``"omit"`` treats it as a missing
        sample; ``"raise"`` raises a ValueError.  With missing samples (omit,
        ``mask`` or ``boundary="missing"``) each output is normalized
        convolution: ``(sum k*x over present taps) * (sum k) / (sum k over
        present taps)``, so a constant signal with holes stays constant and,
        where nothing is missing, the result is the plain one (bit for bit on
        the direct method).  ``k`` must then be real and finite with a sum
        that is not zero (a ValueError otherwise: a derivative kernel such as
        Sobel has no weight to rescale by).
    mask : array_like of bool, optional
        Broadcastable to ``x``; False marks a missing sample (whatever its value).
    min_weight : float, optional
        Outputs whose present weight fraction ``(sum k over present taps) /
        (sum k)`` is below ``min_weight`` (in [0, 1]) are NaN; so are outputs
        whose present weight is zero (on the FFT method: within the
        transform's rounding, ``8 * eps * log2(N) * sum|k|``) or negative.
        Default 0.
    preserve_nan : bool, optional
        Put NaN back in the output where ``x`` held NaN (``mode="same"`` only).

    Returns
    -------
    ndarray
        Result in ``dtype``, laid out in ``x``'s memory order (but for a
        batch of kernels or an integer ``dtype``: C order).
"""

_ACCURACY = """
    Notes
    -----
    Accuracy: with the direct method each output lies within
    ``4 * K * eps * (|k| (*) |x_ext|)`` of the exact result, where ``K`` is the
    number of taps, ``eps`` that of the result dtype and ``(*)`` the same
    operation on absolute values; float32 accumulates in float32.  With FFT
    the error is within ``8 * eps * log2(N) * max(|k| (*) |x_ext|)``.
"""


def geometry(x_shape, k_shape, mode, origins):
    """Per-axis ``(starts, out_shape)`` of the valid correlation that ``mode`` means.

    ``k_shape`` and ``origins`` cover every axis of ``x`` (size 1 / origin 0 on
    axes that are not convolved).  Output sample ``i`` reads input coordinates
    ``starts[a] + i + j`` for taps ``j``.
    """
    starts, out_shape = [], []
    for n, k, o in zip(x_shape, k_shape, origins):
        if mode == "full":
            starts.append(-(k - 1))
            out_shape.append(n + k - 1)
        elif mode == "same":
            starts.append(-(k // 2 + o))
            out_shape.append(n)
        else:  # valid: the larger input slides over the smaller one
            starts.append(min(0, n - k))
            out_shape.append(abs(n - k) + 1)
    return starts, tuple(out_shape)


def _full_kernel(k, axes, ndim):
    """``k`` with one axis per axis of ``x`` (size 1 where not convolved)."""
    if k.ndim == ndim and axes == tuple(range(ndim)):
        return k
    order = np.argsort(axes)
    kk = np.transpose(k, order)
    shape = [1] * ndim
    for i, a in enumerate(sorted(axes)):
        shape[a] = kk.shape[i]
    return kk.reshape(shape)


def _check_out(out, shape, dtype):
    if not isinstance(out, np.ndarray):
        raise TypeError("out must be a numpy.ndarray, got %s" % type(out).__name__)
    if out.shape != tuple(shape):
        raise ValueError("out has shape %s but the result has shape %s" % (out.shape, tuple(shape)))
    if out.dtype != dtype:
        raise ValueError("out has dtype %s but the result has dtype %s" % (out.dtype, dtype))
    if not out.flags.writeable:
        raise ValueError("out is read-only")
    _validation.check_out_memory(out)


# Plans of recent direct calls, by everything that decides them except the
# arrays' values (``_call_key``): repeated calls of one shape (loops over
# patches, audio blocks, frames) skip validating and planning, which cost more
# than the arithmetic of small calls, and 40-400 us of threaded ones (a
# 1024^2 float32 5x5 filter on 2 threads: 0.37-0.64 ms through the API against
# 0.31-0.33 ms for its kernel, right after other work had evicted the
# planner's code and data from the caches).  Bounded, oldest out first;
# cleared when a test switch or the kernel build changes (both are in the
# key), and in a forked child (whose calls run on one thread).
_CALLS: dict[tuple[Any, ...], _CallPlan] = {}
_CALLS_MAX = 256
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_CALLS.clear)


def _call_key(x, k, mode, boundary, cval, origin, axes, method, workers, out, flip, conj,
              compute_dtype, unfused):
    """The cache key of a call, or None when the call is not one a plan can serve
    (see ``_core.baseline.call_key``)."""
    return _key(x, k, mode, boundary, cval, origin, axes, method, workers, out, flip, conj,
                compute_dtype, unfused, _dispatch._module, _tuning._generation)


_key = _dispatch._base.call_key


# Compute dtypes (kind, itemsize) of the core's ``FlatCall``.
_FAST_KINDS = ("f4", "f8", "c8", "c16", "i8")


class _CallPlan:
    """One call's validated geometry and direct plan, for arrays of its key."""

    __slots__ = ("dtype", "conj", "kflip", "korder", "wshape", "out_shape", "perm", "cval",
                 "skip_cval", "direct", "flat", "separable_axes", "fast", "one", "placed", "into",
                 "kseen", "by_size", "work", "threaded", "seconds")

    def __init__(self, x, k, w, dtype, conj, flip, axes, starts, out_shape, boundary, cval,
                 unfused, separable_axes=None, given_dtypes=(), out=None, by_size=1):
        self.separable_axes = separable_axes
        # threads by the call's size; each call then takes as many as the
        # machine has idle (``_threads.threads_for``), with a plan per count
        self.by_size = by_size
        self.work = w.size * math.prod(out_shape)
        self.seconds = 0.0   # the last one-thread run's time (threads_for's estimate)
        self.threaded = {}
        self.kseen = None
        self.dtype = dtype
        self.conj = conj and dtype.kind == "c"
        self.kflip = (slice(None, None, -1),) * k.ndim if flip else None
        self.korder = None
        if not (k.ndim == x.ndim and axes == tuple(range(x.ndim))):
            self.korder = tuple(np.argsort(axes))
        self.wshape = w.shape
        self.out_shape = out_shape
        perm = _direct.memory_order(x)
        self.perm = None if perm == tuple(range(x.ndim)) else perm
        self.cval = cval
        self.skip_cval = bool(cval == 0)
        self.direct = _direct.DirectPlan(x, w.shape, starts, out_shape, boundary, 1, unfused)
        # the common case -- x read in place in its own order, the plain path --
        # goes straight to the kernel
        self.flat = (self.perm is None and self.direct.perm is None and self.direct.merge is None
                     and x.flags.c_contiguous and x.flags.aligned)
        self.placed = _placement.placed(out_shape, dtype)
        # ... and where the arrays come in the compute dtype, the core makes the
        # output and the kernel's copy itself: no numpy call per step
        # (``fast``: every call; ``one``: a threaded plan's calls that get one
        # thread, on a busy machine or after a pause)
        self.fast = self.one = None
        kind = "%s%d" % (dtype.kind, dtype.itemsize)
        if self.flat and kind in _FAST_KINDS and all(d == dtype for d in given_dtypes):
            order = tuple(range(k.ndim)) if self.korder is None else self.korder
            flat_call = self.direct.mod.FlatCall(
                self.direct.tables, x.size, kind, cval, self.skip_cval, order, flip, self.conj,
                out_shape, dtype, np.empty,
                functools.partial(_placement.empty, out_shape, dtype) if self.placed else None)
            if by_size == 1:
                self.fast = flat_call
            else:
                self.one = flat_call
        # an ``out`` (part of the plan's key) the core writes as it writes its own
        # output: C-contiguous (the kernel's rows are x's)
        self.into = self.fast is not None and out is not None and out.flags.c_contiguous

    def takes_direct(self, k):
        """Whether kernel ``k`` (as given) takes the planned direct method: always,
        but where ``method="auto"`` weighs the separable passes for a kernel that
        factorizes.  The last kernel found not to factorize is remembered by its
        bytes (kernels up to ``_separable.CACHED_BYTES``), so that a loop over
        one kernel checks it once, for the price of comparing them."""
        if self.separable_axes is None:
            return True
        kb = k.tobytes() if k.nbytes <= _separable.CACHED_BYTES else None
        if kb is not None and kb == self.kseen:
            return True
        w = self._kernel(k).reshape(self.wshape)
        if _separable.factorize(w, self.separable_axes) is not None:
            return False
        self.kseen = kb
        return True

    def _kernel(self, k):
        """``k`` in the compute dtype, conjugated, flipped and in ``x``'s axis order."""
        k = np.asarray(k, dtype=self.dtype)
        if self.conj:
            k = np.conj(k)
        if self.kflip is not None:
            k = k[self.kflip]
        if self.korder is not None:
            k = k.transpose(self.korder)
        return k

    def _count(self):
        """This call's thread count: by its size, and as many as the machine has idle."""
        return 1 if self.by_size == 1 else _threads.threads_for(self.by_size, self.work,
                                                                self.seconds)

    def _plan(self, n):
        """The direct plan for ``n`` threads."""
        if n == 1:
            return self.direct
        plan = self.threaded.get(n)
        if plan is None:
            plan = self.threaded[n] = self.direct.with_threads(n)
        return plan

    def run(self, x, k, out=None):
        """The call's result for ``x``, ``k`` (same shapes, strides, dtypes as planned;
        into ``out`` where it was planned with one), or None for a kernel that
        factorizes where ``method="auto"`` weighs the separable passes."""
        if self.separable_axes is not None and not self.takes_direct(k):
            return None
        if self.into:
            return self.fast.run(x, k, out)
        if out is not None and (self.fast is None or _direct.writable_in_place(
                out if self.perm is None else out.transpose(self.perm))):
            # the kernel writes ``out`` itself where it can (rather than a new
            # array copied into it)
            x = np.asarray(x, dtype=self.dtype)
            w = self._kernel(k).reshape(self.wshape)
            target = _target(out, x, w, self.out_shape, self.dtype, rows=True)
            n = self._count()
            return _deliver(out, self._timed(n, self._plan(n).run, x, w, self.cval, target))
        res = self._run(x, k)
        if out is None or res is None:
            return res
        out[...] = res
        return out

    def _run(self, x, k):
        if self.fast is not None:
            return self.fast.run(x, k)
        n = self._count()
        return self._timed(n, self._run_on, n, x, k)

    def _timed(self, n, run, *args):
        """``run(*args)``, a call on ``n`` threads; on one, its time is kept:
        whether the next call that finds the workers asleep wakes them
        (``threads_for``)."""
        t = time.perf_counter()
        res = run(*args)
        if n == 1:
            self.seconds = time.perf_counter() - t
        return res

    def _run_on(self, n, x, k):
        if n == 1 and self.one is not None:
            return self.one.run(x, k)
        x = np.asarray(x, dtype=self.dtype)
        k = self._kernel(k)
        d = self._plan(n)
        if self.flat and d.merge is None:
            out = (_placement.empty(self.out_shape, self.dtype, near=x) if self.placed
                   else np.empty(self.out_shape, dtype=self.dtype))
            d.mod.correlate_nd(d.tables, x.reshape(-1), out.reshape(-1),
                               np.ascontiguousarray(k).reshape(-1), self.cval, self.skip_cval,
                               d.n_threads)
            return out
        w = k.reshape(self.wshape)
        if self.perm is None and not self.placed:
            out = np.empty(self.out_shape, dtype=self.dtype)
        else:
            out = _direct.empty_like_order(x, self.out_shape, self.dtype)
        return d.run(x, w, self.cval, out)


def prepare(x, k, mode, boundary, cval, origin, axes, method, workers, flip, conj,
            compute_dtype):
    """Check a call's arguments and put them in canonical form.

    ``x`` is read for its ``shape``, ``ndim``, ``size`` and ``dtype`` only (an
    ndarray, or a dask array whose data must not be computed).  Returns
    ``(k, w, axes, dtype, boundary, cval, origins, n_threads)``: the kernel in
    the compute dtype, flipped/conjugated, and as ``w`` with one axis per axis
    of ``x``; the convolved axes; the boundary and cval in force (``"valid"``
    reads a zero extension); the origin of every axis of ``x``; the resolved
    thread count.
    """
    k = as_array(k, "k")
    check_choice(mode, "mode", _validation.MODES)
    if type(boundary) is str:
        check_choice(boundary, "boundary", _validation.BOUNDARIES)
    check_choice(method, "method", _validation.METHODS)
    if x.ndim == 0:
        raise ValueError("x must have at least one dimension, got a 0-d array")
    if k.ndim == 0:
        raise ValueError("k must have at least one dimension, got a 0-d array")
    if x.size == 0:
        raise ValueError("x is empty (shape %s)" % (x.shape,))
    if k.size == 0:
        raise ValueError("k is empty (shape %s)" % (k.shape,))
    axes = normalize_axes(axes, x.ndim, k.ndim)
    if type(boundary) is not str:
        boundary = _validation.normalize_boundary(boundary, axes, x.ndim)
    origins_k = normalize_origin(origin, k.shape, mode)
    if compute_dtype is not None:
        dtype = np.dtype(compute_dtype)
    else:
        dtype = result_dtype(x if isinstance(x, np.ndarray) else np.empty(0, x.dtype), k)
    n_threads = resolve_workers(workers, _dispatch.omp_max_threads(), _dispatch.omp_num_procs())

    k = np.asarray(k, dtype=dtype)
    if conj and dtype.kind == "c":
        k = np.conj(k)
    if flip:
        k = k[(slice(None, None, -1),) * k.ndim]
    w = _full_kernel(k, axes, x.ndim)

    origins = [0] * x.ndim
    for a, o in zip(axes, origins_k):
        origins[a] = o
    if type(cval) not in (int, float, complex):
        # a scalar of the compute dtype, or the per-axis fills (``AxisCvals``)
        cval = _validation.normalize_cvals(cval, boundary, axes, dtype)
    if mode == "valid":
        conv_n = [x.shape[a] for a in axes]
        if not (all(n >= kk for n, kk in zip(conv_n, k.shape))
                or all(n <= kk for n, kk in zip(conv_n, k.shape))):
            raise ValueError("mode='valid' needs x at least as large as k in every convolved "
                             "axis, or k at least as large as x in every one; got x %s and k %s"
                             % (tuple(conv_n), k.shape))
        boundary, cval = "constant", 0
    if type(cval) in (int, float, complex):
        cval = normalize_cval(cval, dtype)
    return k, w, axes, dtype, boundary, cval, origins, n_threads


def _pre_extend(x, w_shape, starts, out_shape, axes, boundary, cval, dtype):
    """``(x, starts, boundary, cval)`` with per-axis fills applied beforehand.

    "constant" axes with fills of their own: which one a corner takes depends
    on the order of the axes, which the core's index tables do not know; the
    extended input is made here instead (numpy.pad's order), and every method
    reads it as with a zero boundary.  Other calls pass through unchanged.
    """
    if not isinstance(cval, _boundary.AxisCvals):
        return x, starts, boundary, cval
    x = _boundary.extend(x, [starts[a] for a in axes],
                         [out_shape[a] + w_shape[a] - 1 for a in axes], boundary, cval, axes)
    starts = [0 if a in axes else s for a, s in enumerate(starts)]
    return x, starts, "constant", dtype.type(0)


def _call_threads(n_threads, work):
    """``(by_size, n)`` for a call of ``work`` multiply-adds that may use
    ``n_threads``: threads by the size of the call, then only as many as the
    machine has idle (``_threads.threads_for``)."""
    by_size = min(n_threads, max(1, work // _tuning.SETTINGS.work_per_thread))
    return by_size, _threads.threads_for(by_size, work)


def _target(out, x, w, out_shape, dtype, rows=False):
    """The array a kernel reading ``x`` and ``w`` writes: ``out`` where it lies
    in ``x``'s memory order (with ``rows``, the direct kernel's, also where its
    rows are part of a larger array's rows) and shares memory with neither,
    else a new array (``_deliver`` copies it into ``out``)."""
    if out is not None:
        op = out.transpose(_direct.memory_order(x))
        if ((op.flags.c_contiguous or rows and _direct.writable_in_place(op))
                and not np.shares_memory(out, x) and not np.shares_memory(out, w)):
            return out
    return _direct.empty_like_order(x, out_shape, dtype)


def _deliver(out, target):
    """``target``, copied into ``out`` if that was given and is another array."""
    if out is not None and target is not out:
        out[...] = target
        return out
    return target


def correlate_nd(x, k, mode, boundary, cval, origin, axes, method, workers, out,
                 *, flip=False, conj=False, compute_dtype=None, unfused=False,
                 warn_nonfinite=False):
    """Shared implementation of ``correlate`` / ``convolve`` (and the drop-ins).

    ``flip`` reverses ``k`` along the convolved axes (convolution), ``conj``
    conjugates it (complex correlation).  ``compute_dtype`` overrides the dtype
    rule; ``np.int64`` gives exact integer (wrapping) arithmetic on the direct path.
    ``unfused`` (with ``method="direct"``) runs the kernel build without fused
    multiply-adds (see ``_direct.correlate_direct``).  ``warn_nonfinite``: warn
    as scipy.signal does when ``method="fft"`` meets NaN or inf (the public
    functions; the drop-ins warn where their scipy counterparts do).
    """
    key = _call_key(x, k, mode, boundary, cval, origin, axes, method, workers, out, flip, conj,
                    compute_dtype, unfused)
    if key is not None:
        plan = _CALLS.get(key)
        if plan is not None:
            res = plan.run(x, k, out)
            if res is not None:
                return res
            key = None   # this kernel takes another method: the long way, unplanned
    x_given, k_given = x, k
    x = as_array(x, "x")
    k, w, axes, dtype, boundary, cval, origins, n_threads = prepare(
        x, k, mode, boundary, cval, origin, axes, method, workers, flip, conj, compute_dtype)
    # np.asarray(dtype=native) also fixes non-native byte order; no copy otherwise
    x = np.asarray(x, dtype=dtype)
    starts, out_shape = geometry(x.shape, w.shape, mode, origins)
    x, starts, boundary, cval = _pre_extend(x, w.shape, starts, out_shape, axes, boundary, cval,
                                            dtype)

    if out is not None:
        _check_out(out, out_shape, dtype)
    by_size, n_threads = _call_threads(n_threads, w.size * math.prod(out_shape))
    factors, requested = None, method
    if method == "auto":
        method, factors = _method.choose(x, w, out_shape, n_threads, cval)
    if method == "fft" and dtype.kind not in "fc":
        raise ValueError("method='fft' is not available for exact integer computation")
    if method == "fft" and x.ndim > _fft.MAX_NDIM:
        raise ValueError("method='fft' handles at most %d dimensions, x has %d; use "
                         "method='direct'" % (_fft.MAX_NDIM, x.ndim))

    # a plan is kept for calls that take the direct method whatever their
    # values (but for a kernel that factorizes, which the plan checks), on one
    # thread as on every thread their size allows (the load decides between)
    plannable, separable_axes = False, None
    if key is not None and method == "direct":
        plannable = requested == "direct"
        if not plannable:
            plannable, separable_axes = _method.direct_for_any_values(x, w, out_shape, 1)
            if plannable and by_size > 1:
                plannable, more = _method.direct_for_any_values(x, w, out_shape, by_size)
                separable_axes = separable_axes if more is None else more
    if plannable:
        plan = _CallPlan(x, k, w, dtype, conj, flip, axes, starts, out_shape, boundary, cval,
                         unfused, separable_axes, (x_given.dtype, k_given.dtype), out, by_size)
        if len(_CALLS) >= _CALLS_MAX:
            try:
                del _CALLS[next(iter(_CALLS))]   # the oldest entry
            except (KeyError, RuntimeError, StopIteration):
                pass   # another thread changed the cache meanwhile: it stays bounded
        _CALLS[key] = plan
        res = plan.run(x_given, k_given, out)
        if res is not None:
            return res
        # a kernel that factorizes, which the plan hands back: direct was chosen
        # for this call's thread count (fewer than the plan's, by the load)
    if method == "fft":
        if warn_nonfinite:
            _validation.warn_fft_nonfinite((x, w), stacklevel=3)
        return _deliver(out, _fft.correlate_fft(x, w, starts, out_shape, boundary, cval,
                                                n_threads))

    target = _target(out, x, w, out_shape, dtype, rows=method == "direct")
    if method == "separable":
        _separable.correlate_separable(x, factors, starts, out_shape, boundary, cval, n_threads, target)
    elif method == "lowrank":
        _separable.correlate_lowrank(x, factors, starts, out_shape, boundary, cval, n_threads, target)
    else:
        _direct.correlate_direct(x, w, starts, out_shape, boundary, cval, n_threads, target,
                                 unfused)
    return _deliver(out, target)


def _on_dask(op, x, k, mode, boundary, cval, origin, axes, method, workers, out, missing_kw):
    """A dask array goes to ``ndconv.dask`` (lazy result); no ``out`` there."""
    from . import dask as _dask
    if not _dask.is_dask_array(x):   # other dask objects convert as numpy converts them
        return with_missing(op, x, k, mode, boundary, cval, origin, axes, method, workers, out,
                            **missing_kw)
    if out is not None:
        raise TypeError("out is not supported for dask arrays: the result is a lazy dask array")
    return getattr(_dask, op)(x, k, mode, boundary=boundary, cval=cval, origin=origin, axes=axes,
                              method=method, workers=workers, **missing_kw)


def with_missing(op, x, k, mode, boundary, cval, origin, axes, method, workers, out,
                 nan_policy="propagate", mask=None, min_weight=0.0, preserve_nan=False):
    """``correlate``/``convolve`` (``op``) with the missing-data keywords
    (``_plan.missing``): two plain calls, for the data and for the weights."""
    flip, conj = op == "convolve", op == "correlate"
    if not _missing.requested(nan_policy, mask, min_weight, preserve_nan, boundary):
        return correlate_nd(x, k, mode, boundary, cval, origin, axes, method, workers, out,
                            flip=flip, conj=conj, warn_nonfinite=True)
    x = as_array(x, "x")
    kk = as_array(k, "k")
    dtype = result_dtype(x, kk)

    def correlate(a, bnd, cv, dst):
        return correlate_nd(a, kk, mode, bnd, cv, origin, axes, method, workers, dst,
                            flip=flip, conj=conj, warn_nonfinite=True)

    def fft_possible(present):
        return method == "fft" or (method == "auto" and _fft_possible(present, kk, mode, origin,
                                                                      axes, workers, flip))

    def one_pass(a, bnd, cv, finish, preserve_nan, dst):
        return _one_pass(a, kk, mode, bnd, cv, origin, axes, method, workers, dst, flip, finish,
                         preserve_nan)

    return _missing.normalized(correlate, x, kk, mode, boundary, cval, nan_policy, mask,
                               min_weight, preserve_nan, flip=flip, dtype=dtype,
                               fft_possible=fft_possible, axes=axes, out=out,
                               one_pass=one_pass)


# The one-pass kernel for missing samples: where the two passes' correlations
# would both take the plain direct path (every geometry of method="direct",
# and those method="auto" sends there by size alone), it computes their bits
# in one pass over x (``_direct.DirectPlan.run``'s ``missing``).
def _one_pass(x, k, mode, boundary, cval, origin, axes, method, workers, out, flip, finish,
              preserve_nan):
    """The normalized correlation of ``x`` (NaN missing) by the one-pass
    kernel, or None where it does not apply (see ``_missing.normalized``)."""
    if method not in ("direct", "auto") or _tuning.SETTINGS.missing_one_pass is False:
        return None
    k, w, axes, dtype, boundary, cval, origins, n_threads = prepare(
        x, k, mode, boundary, cval, origin, axes, method, workers, flip, False, None)
    if dtype.kind != "f" or isinstance(cval, _boundary.AxisCvals):
        return None
    if mode == "valid":
        # "valid" reads past x's edges only where k is the longer: a zero extension
        # (``prepare``), zero in the data and the weights alike on the two passes,
        # so missing samples -- a NaN fill to the one-pass kernel
        cval = dtype.type(np.nan)
    x = np.asarray(x, dtype=dtype)
    starts, out_shape = geometry(x.shape, w.shape, mode, origins)
    if method == "auto" and not all(_method.direct_by_size(x, w, out_shape, n)
                                    for n in range(1, n_threads + 1)):
        return None
    # the two passes correlate C-ordered copies: their order of taps, whatever x's layout
    order = _direct.compute_order_c(x.shape, out_shape, dtype)
    if (_tuning.SETTINGS.missing_one_pass is None
            and not _direct.one_pass_pays([w.shape[a] for a in order])):
        return None
    n_threads = _call_threads(n_threads, w.size * math.prod(out_shape))[1]
    if out is not None:
        _check_out(out, out_shape, dtype)
    target = _target(out, x, w, out_shape, dtype, rows=True)
    # preserve_nan ("same"): output i reads its own sample x[i] with tap -starts
    own_lead, own_last = -1, 0
    if preserve_nan:
        tap = [-starts[a] for a in order]
        own_last = tap[-1]
        own_lead = int(np.ravel_multi_index(tap[:-1], [w.shape[a] for a in order[:-1]]))
    _direct.DirectPlan(x, w.shape, starts, out_shape, boundary, n_threads, order=order).run(
        x, w, cval, target, tuple(finish) + (own_lead, own_last))
    return _deliver(out, target)


def _fft_possible(a, k, mode, origin, axes, workers, flip):
    """Whether ``method="auto"`` may take the FFT path for ``a`` (real) with ``k``
    at some thread count, whatever the values."""
    _, w, _, dtype, _, _, origins, n_threads = prepare(
        a, k, mode, "constant", 0.0, origin, axes, "auto", workers, flip, False, None)
    _, out_shape = geometry(a.shape, w.shape, mode, origins)
    a = np.asarray(a, dtype=dtype)
    return not all(_method.direct_for_any_values(a, w, out_shape, n)[0]
                   for n in {1, n_threads})


_PROPAGATE = "propagate"
_NO_MIN = 0.0


def _n_axes(axes):
    """How many axes ``axes`` (an int or a sequence, not None) names."""
    return 1 if np.ndim(axes) == 0 else len(axes)


def _batched(x, k, axes, call, n_parallel=1):
    """A batch of kernels: ``k``'s leading axes broadcast against the axes of
    ``x`` that are not convolved (aligned at the right), one ``call(x_part,
    kernel, axes_in_part)`` per kernel, each result written into its place;
    ``n_parallel`` calls at a time (threads across the batch: the core
    releases the GIL)."""
    conv = normalize_axes(axes, x.ndim, _n_axes(axes))
    nb = k.ndim - len(conv)
    paired = _batch_pairs(x, k, conv)
    parts = []
    for idx in np.ndindex(*k.shape[:nb]):
        x_index, o_index = [slice(None)] * x.ndim, [slice(None)] * x.ndim
        for a, i, m in zip(paired, idx, k.shape[:nb]):
            if m > 1:                      # this kernel owns one index of the axis
                x_index[a] = i if x.shape[a] > 1 else 0
                o_index[a] = i
        kept = [a for a in range(x.ndim) if not isinstance(x_index[a], int)]
        parts.append((tuple(x_index), idx, tuple(o_index), tuple(kept.index(a) for a in conv)))
    x_index, idx, o_index, sub_axes = parts[0]
    res = call(x[x_index], k[idx], sub_axes)
    shape = list(x.shape)
    for a, m in zip(paired, k.shape[:nb]):
        shape[a] = max(shape[a], m)
    for a, j in zip(conv, sub_axes):
        shape[a] = res.shape[j]
    out = np.empty(shape, res.dtype)
    out[o_index] = res

    def one(part):
        x_index, idx, o_index, sub_axes = part
        out[o_index] = call(x[x_index], k[idx], sub_axes)

    if n_parallel > 1 and len(parts) > 2:
        from concurrent.futures import ThreadPoolExecutor
        with ThreadPoolExecutor(min(n_parallel, len(parts) - 1)) as pool:
            list(pool.map(one, parts[1:]))
    else:
        for part in parts[1:]:
            one(part)
    return out


def _batch_threads(x, k, axes, workers):
    """Threads across a batch of kernels: as many as the call may use when
    one slice is too small to occupy them itself (else 1: each call threads
    within its slice)."""
    n = resolve_workers(workers, _dispatch.omp_max_threads(), _dispatch.omp_num_procs())
    n_conv = _n_axes(axes)
    n_kernels = math.prod(k.shape[:k.ndim - n_conv])
    if n <= 1 or n_kernels < 2:
        return 1
    work = x.size * math.prod(k.shape[k.ndim - n_conv:])   # about the whole batch's
    if work // n_kernels >= _tuning.SETTINGS.work_per_thread * n:
        return 1
    return _threads.threads_for(min(n, n_kernels), work)


def _batched_fft(x, k, mode, boundary, cval, origin, axes, workers, flip, conj, compute,
                 warn_nonfinite=True):
    """A batch of kernels by FFT in one pass: the input's spectra times every
    kernel's (broadcast), one inverse transform.  Arguments as ``correlate_nd``'s;
    ``k``'s leading axes are the batch."""
    n_conv = _n_axes(axes)
    nb = k.ndim - n_conv
    first = k[(0,) * nb]
    _, _, conv, dtype, boundary, cval, origins, n_threads = prepare(
        x, first, mode, boundary, cval, origin, axes, "fft", workers, flip, conj, compute)
    _batch_pairs(x, k, conv)
    dtype = result_dtype(x, k) if compute is None else np.dtype(compute)
    if dtype.kind not in "fc":
        raise ValueError("method='fft' is not available for exact integer computation")
    kk = np.asarray(k, dtype=dtype)
    if conj and dtype.kind == "c":
        kk = np.conj(kk)
    if flip:
        kk = kk[(slice(None),) * nb + (slice(None, None, -1),) * n_conv]
    # k's axes (batch, then convolved) in x's places; size 1 on x's other axes
    other = [a for a in range(x.ndim) if a not in conv]
    paired = other[len(other) - nb:]
    unpaired = other[:len(other) - nb]
    w = kk.reshape((1,) * len(unpaired) + kk.shape)
    w = np.moveaxis(w, list(range(x.ndim)), unpaired + paired + list(conv))
    w_conv = [w.shape[a] if a in conv else 1 for a in range(x.ndim)]
    starts, out_shape = geometry(x.shape, w_conv, mode, origins)
    out_shape = tuple(max(n, w.shape[a]) if a in paired else n for a, n in enumerate(out_shape))
    xc = np.asarray(x, dtype=dtype)
    xc, starts, boundary, cval = _pre_extend(xc, w_conv, starts, out_shape, conv, boundary, cval,
                                             dtype)
    if warn_nonfinite:
        _validation.warn_fft_nonfinite((xc, w), stacklevel=4)
    return _fft.correlate_fft(xc, w, starts, out_shape, boundary, cval, n_threads, axes=conv)


def _batch_pairs(x, k, conv):
    """The axes of ``x`` that ``k``'s batch axes pair with (aligned at the
    right), after checking that they broadcast."""
    nb = k.ndim - len(conv)
    other = [a for a in range(x.ndim) if a not in conv]
    if nb > len(other):
        raise ValueError("k has %d batch axes (k.ndim %d minus %d convolved) but x has only %d "
                         "other axes" % (nb, k.ndim, len(conv), len(other)))
    paired = other[len(other) - nb:]
    for a, m in zip(paired, k.shape[:nb]):
        if x.shape[a] != m and 1 not in (x.shape[a], m):
            raise ValueError("k's batch shape %s does not broadcast against x's axes %s of sizes "
                             "%s" % (k.shape[:nb], tuple(paired),
                                     tuple(x.shape[a] for a in paired)))
    return paired


def _extended(op, flip, conj, x, k, mode, boundary, cval, origin, axes, method, workers, out,
              dtype, casting):
    """A call with an output ``dtype`` or a batch of kernels: the core's result
    per kernel, then the dtype policy (``_plan.cast``)."""
    x = as_array(x, "x")
    k = as_array(k, "k")
    compute, dt = None, None
    if dtype is not None:
        dt = _cast.output_dtype(dtype)
        casting = _cast.check_casting(casting, dt)
        compute = _cast.compute_dtype(dt, x.dtype, k.dtype)
    elif casting is not None:
        raise ValueError("casting needs an integer dtype= (got dtype=None)")

    batched = axes is not None and k.ndim > _n_axes(axes)
    n_across = _batch_threads(x, k, axes, workers) if batched and method != "fft" else 1
    per_call = 1 if n_across > 1 else workers

    def call(xp, kp, ax, target=None):
        return correlate_nd(xp, kp, mode, boundary, cval, origin, ax, method, per_call, target,
                            flip=flip, conj=conj, compute_dtype=compute, warn_nonfinite=True)

    if batched and isinstance(boundary, dict):
        # a dict names axes of x, which the slices of a batch number otherwise:
        # the same names as a sequence in the convolved axes' order
        n_conv = _n_axes(axes)
        conv = normalize_axes(axes, x.ndim, n_conv)
        names = _validation.normalize_boundary(boundary, conv, x.ndim)
        boundary = names if isinstance(names, str) else [names[a] for a in conv]
    if batched and method == "fft":
        res = _batched_fft(x, k, mode, boundary, cval, origin, axes, workers, flip, conj, compute)
    elif batched:
        res = _batched(x, k, axes, call, n_across)
    else:
        res = call(x, k, axes, out if dt is None else None)
        if dt is None:
            return res
    if dt is not None:
        res = _cast.convert(res, dt, casting)
    if out is None:
        return res
    _check_out(out, res.shape, res.dtype)
    out[...] = res
    return out


def _operation(name: str, *, flip: bool = False, conj: bool = False) -> _Operation:
    """A public operation of the unified API: ``correlate_nd`` with ``flip``/``conj`` fixed.

    Both operations take the same arguments; their signature is written once
    (``_Operation`` for type checkers, the definition below at run time).
    """
    def operation(x, k, mode="full", *, boundary="constant", cval=0.0, origin=0, axes=None,
                  method="auto", workers=None, out=None, dtype=None, casting=None,
                  nan_policy=_PROPAGATE, mask=None, min_weight=_NO_MIN, preserve_nan=False):
        # A planned small call (``_CALLS``): one key, one look-up, one call into the
        # core -- written out here, as a function call would cost a tenth of it.
        # Only with every keyword the key does not hold at its default (these very
        # objects: identity tests cost nothing); the key as ``_call_key`` makes it,
        # the state read straight from the modules holding it.  Plans that check the
        # kernel's values first (``separable_axes``) do so; a kernel that factorizes
        # is left to ``correlate_nd``.
        if (type(x) is np.ndarray and dtype is None and casting is None
                and mask is None and nan_policy is _PROPAGATE and min_weight is _NO_MIN
                and preserve_nan is False):
            key = _key(x, k, mode, boundary, cval, origin, axes, method, workers, out, flip, conj,
                       None, False, _dispatch._module, _tuning._generation)
            plan = None if key is None else _CALLS.get(key)
            if plan is not None and (plan.separable_axes is None or plan.takes_direct(k)):
                if out is not None:
                    return plan.run(x, k, out)
                fast = plan.fast
                return fast.run(x, k) if fast is not None else plan.run(x, k)
        if type(x).__module__.startswith("dask"):   # never imports dask for other inputs
            if dtype is not None or casting is not None:
                raise TypeError("dtype= and casting= are not supported for dask arrays yet: "
                                "call .astype on the result")
            return _on_dask(name, x, k, mode, boundary, cval, origin, axes, method, workers, out,
                            {"nan_policy": nan_policy, "mask": mask, "min_weight": min_weight,
                             "preserve_nan": preserve_nan})
        batched = axes is not None and np.ndim(k) > _n_axes(axes)
        # the defaults are these very objects: the plain path costs four identity tests
        if (mask is not None or preserve_nan is not False or nan_policy is not _PROPAGATE
                or min_weight is not _NO_MIN
                or (boundary == "missing" if type(boundary) is str
                    else _missing.names_missing(boundary))):
            if dtype is not None or casting is not None or batched:
                raise TypeError("the missing-data keywords (nan_policy, mask, min_weight, "
                                "preserve_nan, boundary='missing') do not combine with dtype= "
                                "or a batch of kernels yet")
            return with_missing(name, x, k, mode, boundary, cval, origin, axes, method, workers,
                                out, nan_policy, mask, min_weight, preserve_nan)
        if dtype is not None or casting is not None or batched:
            return _extended(name, flip, conj, x, k, mode, boundary, cval, origin, axes, method,
                             workers, out, dtype, casting)
        return correlate_nd(x, k, mode, boundary, cval, origin, axes, method, workers, out,
                            flip=flip, conj=conj, warn_nonfinite=True)

    operation.__name__ = operation.__qualname__ = name
    return operation


correlate: _Operation = _operation("correlate", conj=True)
convolve: _Operation = _operation("convolve", flip=True)

correlate.__doc__ = """N-D cross-correlation of ``x`` with ``k``.

    ``correlate(x, k, "same")[i] = sum_j conj(k[j]) * x_ext[i + j - K//2 - origin]``
    (per axis), where ``x_ext`` is ``x`` extended by ``boundary``.  ``k`` is
    conjugated for complex input, as in ``scipy.signal.correlate`` and
    ``numpy.correlate``.
""" + _DOC_PARAMS % {"op": "correlate"} + """
    See Also
    --------
    convolve : the same with the kernel flipped (and never conjugated).
""" + _ACCURACY + """
    Examples
    --------
    >>> import numpy as np, ndconv
    >>> ndconv.correlate([1.0, 2.0, 3.0], [0.0, 1.0, 0.5], "same")
    array([2. , 3.5, 3. ])
"""

convolve.__doc__ = """N-D convolution of ``x`` with ``k``.

    ``convolve(x, k, ...)`` is ``correlate(x, flip(k), ...)`` with the same origin
    and without conjugation, so ``"full"`` with a zero boundary is commutative
    and origin 0 in ``"same"`` matches ``scipy.signal.convolve``.
""" + _DOC_PARAMS % {"op": "convolve"} + """
    See Also
    --------
    correlate : the same without the flip.
""" + _ACCURACY + """
    Examples
    --------
    >>> import numpy as np, ndconv
    >>> ndconv.convolve([1.0, 2.0, 3.0], [0.0, 1.0, 0.5])
    array([0. , 1. , 2.5, 4. , 1.5])
    >>> img = np.arange(16.0).reshape(4, 4)
    >>> ndconv.convolve(img, np.ones((3, 3)) / 9, "same", boundary="edge").shape
    (4, 4)
"""
