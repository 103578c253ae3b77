"""Drop-in replacements for ``numpy.convolve`` and ``numpy.correlate``.

``from ndconv import numpy as npc`` and call ``npc.convolve`` / ``npc.correlate``
where you called numpy's: same arguments, defaults, result shapes and dtypes
(integer results wrap exactly like numpy's, bool results are bool), same
exceptions.  Both add one keyword, ``workers=``, with the meaning it has in
:func:`ndconv.convolve`.
"""
from __future__ import annotations

import operator
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from ._plan import dropin as _dropin

if TYPE_CHECKING:
    from numpy.typing import ArrayLike, NDArray

    from ._plan.validation import Mode

__all__ = ["convolve", "correlate"]

_MODES = {"valid": "valid", "same": "same", "full": "full", 0: "valid", 1: "same", 2: "full"}


def _mode(mode):
    """numpy's mode rules: the three names, or the integers 0, 1, 2."""
    if isinstance(mode, str):
        if mode in _MODES:
            return _MODES[mode]
        if mode[:1].lower() in ("v", "s", "f"):
            raise ValueError("Use one of 'valid', 'same', or 'full' for convolve/correlate mode")
        raise ValueError("mode must be one of 'valid', 'same', or 'full' (got %r)" % (mode,))
    if isinstance(mode, (bool, np.bool_)):
        raise TypeError("convolve/correlate mode not understood")
    try:
        m = operator.index(mode)
    except TypeError:
        raise TypeError("convolve/correlate mode not understood") from None
    if m not in (0, 1, 2):
        raise ValueError("integer convolve/correlate mode must be 0, 1, or 2")
    return _MODES[m]


def _as_1d(a, name, allow_0d):
    arr = np.asarray(a)
    if arr.ndim == 0:
        if not allow_0d:
            raise ValueError("object of too small depth for desired array")
        arr = arr.reshape(1)
    if arr.ndim > 1:
        raise ValueError("object too deep for desired array")
    _dropin.check_numeric(arr, name, allow_object=True)
    return arr


def convolve(a: ArrayLike, v: ArrayLike, mode: Mode | Literal[0, 1, 2] = "full", *,
             workers: int | None = None) -> NDArray[Any]:
    """Discrete, linear convolution of two one-dimensional sequences.

    As ``numpy.convolve``: ``(a * v)[n] = sum_m a[m] v[n - m]``; the longer
    input slides over the shorter one, so the arguments may come in either
    order.

    Parameters
    ----------
    a : (N,) array_like
        First one-dimensional input (0-d inputs count as length 1).
    v : (M,) array_like
        Second one-dimensional input.
    mode : {"full", "valid", "same"} or {2, 0, 1}, optional
        ``"full"`` (default) every overlap, length ``N + M - 1``; ``"same"``
        length ``max(M, N)``; ``"valid"`` length ``max(M, N) - min(M, N) + 1``.
    workers : int, optional
        Threads, as in :func:`ndconv.convolve` (``None`` all OpenMP allows,
        ``-1`` every core, ``n`` exactly ``n``).

    Returns
    -------
    ndarray
        In ``np.result_type(a, v)``: integer results wrap exactly as numpy's,
        bool results are the logical "or" of the "and" of the terms.

    Raises
    ------
    ValueError
        An empty input, an input of more than one dimension, a bad ``mode``.
    TypeError
        A ``mode`` of the wrong type; an input dtype ndconv cannot compute with
        (string, datetime: the error is also a ValueError).  Object arrays are
        computed with Python arithmetic, as numpy does.

    Notes
    -----
    long double inputs give a long double result computed in float64.

    Examples
    --------
    >>> from ndconv import numpy as npc
    >>> npc.convolve([1, 2, 3], [0, 1, 0.5])
    array([0. , 1. , 2.5, 4. , 1.5])
    >>> npc.convolve([1, 2, 3], [0, 1, 0.5], "same")
    array([1. , 2.5, 4. ])
    """
    a = _as_1d(a, "a", True)
    v = _as_1d(v, "v", True)
    if a.shape[0] == 0:
        raise ValueError("a cannot be empty")
    if v.shape[0] == 0:
        raise ValueError("v cannot be empty")
    mode = _mode(mode)
    if v.shape[0] > a.shape[0]:
        a, v = v, a
    result = np.result_type(a, v)
    if result.kind == "O":
        return _dropin.run_object(a, v, mode, flip=True)
    return _dropin.run(a, v, mode, result, flip=True, workers=workers)


def correlate(a: ArrayLike, v: ArrayLike, mode: Mode | Literal[0, 1, 2] = "valid", *,
              workers: int | None = None) -> NDArray[Any]:
    """Cross-correlation of two one-dimensional sequences.

    As ``numpy.correlate`` (numpy 2.x):
    ``c[k] = sum_n a[n + k] * conj(v[n])``, with ``k`` running over the
    positions ``mode`` selects.  When ``v`` is longer than ``a`` the result is
    that of the swapped inputs, reversed and conjugated, as numpy's.

    Parameters
    ----------
    a, v : array_like
        One-dimensional inputs.
    mode : {"valid", "same", "full"} or {0, 1, 2}, optional
        Output extent; default ``"valid"``.  See :func:`convolve`.
    workers : int, optional
        Threads, as in :func:`ndconv.correlate`.

    Returns
    -------
    ndarray
        In ``np.result_type(a, v)`` (integer and bool results exact).

    Raises
    ------
    ValueError
        An empty or 0-d input, more than one dimension, a bad ``mode``.
    TypeError
        A ``mode`` of the wrong type; an unsupported input dtype (also a
        ValueError).

    Examples
    --------
    >>> from ndconv import numpy as npc
    >>> npc.correlate([1, 2, 3], [0, 1, 0.5])
    array([3.5])
    >>> npc.correlate([1, 2, 3], [0, 1, 0.5], "full")
    array([0.5, 2. , 3.5, 3. , 0. ])
    """
    for arr in (a, v):
        if np.ndim(arr) > 1:
            raise ValueError("setting an array element with a sequence. The requested array "
                             "would exceed the maximum number of dimension of 1.")
    a = _as_1d(a, "a", False)
    v = _as_1d(v, "v", False)
    mode = _mode(mode)
    if a.shape[0] == 0:
        raise ValueError("first array argument cannot be empty")
    if v.shape[0] == 0:
        raise ValueError("second array argument cannot be empty")
    result = np.result_type(a, v)
    if result.kind == "O":
        if v.shape[0] > a.shape[0]:
            return _dropin.run_object(v, a, mode)[::-1].copy()
        return _dropin.run_object(a, v, mode)
    if v.shape[0] > a.shape[0]:
        res = _dropin.run(v, a, mode, result, conj=True, workers=workers)[::-1]
        return np.conj(res) if result.kind == "c" else res.copy()
    return _dropin.run(a, v, mode, result, conj=True, workers=workers)
