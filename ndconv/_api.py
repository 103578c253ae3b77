"""The unified API: ``correlate`` and ``convolve``.

Validate -> canonicalise (dtype, axes, kernel orientation) -> geometry (starts and
output extents per axis) -> method -> core.  Every public function of ndconv,
the drop-in namespaces included, funnels into ``correlate_nd`` here.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from . import _core as _dispatch
from ._plan import direct as _direct
from ._plan import fft as _fft
from ._plan import method as _method
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
    from collections.abc import Sequence

    from numpy.typing import ArrayLike, NDArray

    from ._plan.validation import Boundary, Method, Mode

    class _Operation(Protocol):
        """``correlate`` / ``convolve`` as type checkers see them."""

        def __call__(self, x: ArrayLike, k: ArrayLike, mode: Mode = "full", *,
                     boundary: Boundary = "constant", cval: complex | np.number[Any] = 0.0,
                     origin: int | Sequence[int] = 0, axes: int | Sequence[int] | None = None,
                     method: Method = "auto", workers: int | None = None,
                     out: NDArray[Any] | None = None) -> NDArray[Any]: ...

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
    boundary : {"constant", "edge", "symmetric", "reflect", "wrap"}, optional
        How ``x`` is extended past its edges, with ``numpy.pad``'s names and
        meaning for any width (also wider than ``x``)::

            constant   k k k | a b c d | k k k      (k = cval)
            edge       a a a | a b c d | d d d
            symmetric  c b a | a b c d | d c b
            reflect    d c b | a b c d | c b a
            wrap       b c d | a b c d | a b c

        It matters for ``"full"`` and ``"same"``; ``"valid"`` reads no extension
        (where ``k`` is larger than ``x``, the part of ``k`` outside ``x`` meets
        zeros, as in scipy.signal).
    cval : scalar, optional
        Value past the edges for ``boundary="constant"``.  Default 0.
    origin : int or sequence of int, optional
        ``"same"`` only: shifts the kernel's anchor to ``K//2 + origin`` along each
        convolved axis (scipy.ndimage's meaning).  ``-(K//2) <= origin <= (K-1)//2``.
    axes : int or sequence of int, optional
        Axes of ``x`` to convolve over (kernel axis ``i`` runs along ``x`` axis
        ``axes[i]``); the same kernel is applied along every other axis.  Default:
        all axes, with ``k.ndim == x.ndim``.
    method : {"auto", "direct", "fft"}, optional
        ``"direct"`` sums the products exactly as written (compiled, threaded);
        ``"fft"`` uses transforms (scipy.fft if installed, else numpy.fft) with
        identical semantics; ``"auto"`` picks the faster by a cost model and never
        picks FFT for inputs holding NaN or inf.
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
        waiting for a busy CPU would hold it up).
    out : ndarray, optional
        Preallocated output of exactly the result's shape and dtype.  It may
        overlap the inputs.

    Returns
    -------
    ndarray
        Result in ``np.result_type(x, k)`` (bool and integers give float64,
        float16 gives float32), laid out in ``x``'s memory order.
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


# Plans of recent single-threaded direct calls, by everything that decides them
# except the arrays' values (``_call_key``): repeated calls of one shape (loops
# over patches, audio blocks) skip validating and planning, which cost more than
# their arithmetic.  Bounded, oldest out first; cleared when a test switch or the
# kernel build changes (both are in the key).
_CALLS: dict[tuple[Any, ...], _CallPlan] = {}
_CALLS_MAX = 256


def _call_key(x, k, mode, boundary, cval, origin, axes, method, workers, out, flip, conj,
              compute_dtype, unfused):
    """The cache key of a call, or None when the call is not one a plan can serve
    (see ``_core.baseline.call_key``)."""
    return _key(x, k, mode, boundary, cval, origin, axes, method, workers, out, flip, conj,
                compute_dtype, unfused, _dispatch._module, _tuning._generation)


_key = _dispatch._base.call_key


# Compute dtypes (kind, itemsize) of the core's ``FlatCall``.
_FAST_KINDS = ("f4", "f8", "c8", "c16", "i8")


def _planned(x, k, mode, boundary, cval, origin, axes, method, workers, flip, conj):
    """The result of a call of ``correlate``/``convolve`` without ``out`` that a
    plan serves directly (``_CALLS``), or None: the call takes ``correlate_nd``.

    The shortest way from the public functions to the kernel for repeated small
    calls: one key, one look-up, one call into the core.  Plans that check the
    kernel's values first (``separable_axes``) are left to ``correlate_nd``.
    """
    # the key as _call_key makes it, without its frame: the state read straight
    # from the modules holding it (function calls would cost a tenth of the call)
    key = _key(x, k, mode, boundary, cval, origin, axes, method, workers, None, flip, conj, None,
               False, _dispatch._module, _tuning._generation)
    if key is None:
        return None
    plan = _CALLS.get(key)
    if plan is None or plan.separable_axes is not None:
        return None
    fast = plan.fast
    if fast is not None:
        return fast.run(x, k)
    return plan.run(x, k)


class _CallPlan:
    """One call's validated geometry and direct plan, for arrays of its key."""

    __slots__ = ("dtype", "conj", "kflip", "korder", "wshape", "out_shape", "perm", "cval",
                 "skip_cval", "direct", "flat", "separable_axes", "fast")

    def __init__(self, x, k, w, dtype, conj, flip, axes, starts, out_shape, boundary, cval,
                 unfused, separable_axes=None, given_dtypes=()):
        self.separable_axes = separable_axes
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
        # ... and where the arrays come in the compute dtype, the core makes the
        # output and the kernel's copy itself: no numpy call per step
        self.fast = None
        kind = "%s%d" % (dtype.kind, dtype.itemsize)
        if (self.flat and separable_axes is None and kind in _FAST_KINDS
                and all(d == dtype for d in given_dtypes)):
            order = tuple(range(k.ndim)) if self.korder is None else self.korder
            self.fast = self.direct.mod.FlatCall(
                self.direct.tables, x.size, kind, cval, self.skip_cval, order, flip, self.conj,
                out_shape, dtype, np.empty)

    def run(self, x, k):
        """The call's result for ``x``, ``k`` (same shapes, strides, dtypes as planned),
        or None for a kernel that factorizes where ``method="auto"`` weighs the
        separable passes."""
        if self.fast is not None:
            return self.fast.run(x, k)
        x = np.asarray(x, dtype=self.dtype)
        k = np.asarray(k, dtype=self.dtype)
        if self.conj:
            k = np.conj(k)
        if self.kflip is not None:
            k = k[self.kflip]
        if self.korder is not None:
            k = k.transpose(self.korder)
        if (self.separable_axes is not None
                and _separable.factorize(k.reshape(self.wshape), self.separable_axes) is not None):
            return None
        if self.flat:
            out = np.empty(self.out_shape, dtype=self.dtype)
            d = self.direct
            d.mod.correlate_nd(d.tables, x.reshape(-1), out.reshape(-1),
                               np.ascontiguousarray(k).reshape(-1), self.cval, self.skip_cval, 1)
            return out
        w = k.reshape(self.wshape)
        if self.perm is None:
            out = np.empty(self.out_shape, dtype=self.dtype)
        else:
            out = _direct.empty_like_order(x, self.out_shape, self.dtype)
        return self.direct.run(x, w, self.cval, out)


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
    if mode == "valid":
        conv_n = [x.shape[a] for a in axes]
        if not (all(n >= kk for n, kk in zip(conv_n, k.shape))
                or all(n <= kk for n, kk in zip(conv_n, k.shape))):
            raise ValueError("mode='valid' needs x at least as large as k in every convolved "
                             "axis, or k at least as large as x in every one; got x %s and k %s"
                             % (tuple(conv_n), k.shape))
        boundary, cval = "constant", 0
    cval = normalize_cval(cval, dtype)
    return k, w, axes, dtype, boundary, cval, origins, n_threads


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
            res = plan.run(x, k)
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

    if out is not None:
        _check_out(out, out_shape, dtype)
    work = w.size * math.prod(out_shape)
    # threads by the size of the call, then only as many as the machine has idle
    by_size = min(n_threads, max(1, work // _tuning.SETTINGS.work_per_thread))
    n_threads = _threads.threads_for(by_size, work)
    factors, requested = None, method
    if method == "auto":
        method, factors = _method.choose(x, w, out_shape, n_threads, cval)
    if method == "fft" and dtype.kind not in "fc":
        raise ValueError("method='fft' is not available for exact integer computation")
    if method == "fft" and x.ndim > _fft.MAX_NDIM:
        raise ValueError("method='fft' handles at most %d dimensions, x has %d; use "
                         "method='direct'" % (_fft.MAX_NDIM, x.ndim))

    # a plan is kept for calls that one thread runs whatever the machine's load,
    # and that take the direct method whatever their values (but for a kernel
    # that factorizes, which the plan checks)
    plannable, separable_axes = False, None
    if key is not None and by_size == 1 and method == "direct":
        plannable = requested == "direct"
        if not plannable:
            plannable, separable_axes = _method.direct_for_any_values(x, w, out_shape, 1)
    if plannable:
        plan = _CallPlan(x, k, w, dtype, conj, flip, axes, starts, out_shape, boundary, cval,
                         unfused, separable_axes, (x_given.dtype, k_given.dtype))
        if len(_CALLS) >= _CALLS_MAX:
            try:
                del _CALLS[next(iter(_CALLS))]   # the oldest entry
            except (KeyError, RuntimeError, StopIteration):
                pass   # another thread changed the cache meanwhile: it stays bounded
        _CALLS[key] = plan
        return plan.run(x_given, k_given)
    if method == "fft":
        if warn_nonfinite:
            _validation.warn_fft_nonfinite((x, w), stacklevel=3)
        res = _fft.correlate_fft(x, w, starts, out_shape, boundary, cval, n_threads)
        if out is None:
            return res
        out[...] = res
        return out

    target = out
    if out is not None:
        perm = _direct.memory_order(x)
        if (not out.transpose(perm).flags.c_contiguous or np.shares_memory(out, x)
                or np.shares_memory(out, w)):
            target = None  # compute into a fresh array, then copy
    if target is None:
        target = _direct.empty_like_order(x, out_shape, dtype)
    if method == "separable":
        _separable.correlate_separable(x, factors, starts, out_shape, boundary, cval, n_threads, target)
    else:
        _direct.correlate_direct(x, w, starts, out_shape, boundary, cval, n_threads, target,
                                 unfused)
    if out is not None and target is not out:
        out[...] = target
        return out
    return target


def _on_dask(op, x, k, mode, boundary, cval, origin, axes, method, workers, out):
    """A dask array goes to ``ndconv.dask`` (lazy result); no ``out`` there."""
    from . import dask as _dask
    if not _dask.is_dask_array(x):   # other dask objects convert as numpy converts them
        return correlate_nd(x, k, mode, boundary, cval, origin, axes, method, workers, out,
                            flip=op == "convolve", conj=op == "correlate", warn_nonfinite=True)
    if out is not None:
        raise TypeError("out is not supported for dask arrays: the result is a lazy dask array")
    return getattr(_dask, op)(x, k, mode, boundary=boundary, cval=cval, origin=origin, axes=axes,
                              method=method, workers=workers)


def _operation(name: str, *, flip: bool = False, conj: bool = False) -> _Operation:
    """A public operation of the unified API: ``correlate_nd`` with ``flip``/``conj`` fixed.

    Both operations take the same arguments; their signature is written once
    (``_Operation`` for type checkers, the definition below at run time).
    """
    def operation(x, k, mode="full", *, boundary="constant", cval=0.0, origin=0, axes=None,
                  method="auto", workers=None, out=None):
        if out is None and type(x) is np.ndarray:
            res = _planned(x, k, mode, boundary, cval, origin, axes, method, workers, flip, conj)
            if res is not None:
                return res
        if type(x).__module__.startswith("dask"):   # never imports dask for other inputs
            return _on_dask(name, x, k, mode, boundary, cval, origin, axes, method, workers, out)
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
