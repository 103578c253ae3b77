"""Kernels by name: Gaussian (and its derivatives), box, Sobel, Prewitt, Scharr,
Laplacian, Laplacian of Gaussian, disk; and :func:`separate`, which writes any
kernel as a sum of outer products of 1-D factors.

Every builder returns a float64 array with one axis per filtered axis, oriented
for :func:`ndconv.correlate`: where scipy.ndimage has a filter of the same name,

    ndconv.correlate(x, kernels.NAME(...), "same", boundary="symmetric")

equals ``scipy.ndimage.NAME_filter(x, ..., mode="reflect")`` (``sobel``,
``prewitt``, ``laplace``, ``gaussian_laplace`` without the suffix) within
rounding.  :func:`ndconv.convolve` flips the kernel: use ``np.flip(k)`` with it
for the odd kernels (derivatives), the even ones are the same either way.
Separable kernels are outer products of 1-D profiles, which ``method="auto"``
recognises and runs as one pass per axis.
"""
from __future__ import annotations

import math
import numbers
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any

    from numpy.typing import ArrayLike, NDArray

__all__ = ["gaussian", "uniform", "sobel", "prewitt", "scharr", "laplace", "gaussian_laplace",
           "disk", "separate"]


def _ndim(ndim, name="ndim"):
    if isinstance(ndim, bool) or not isinstance(ndim, numbers.Integral) or ndim < 1:
        raise ValueError("%s must be a positive int, got %r" % (name, ndim))
    if ndim > 32:
        raise ValueError("%s must be at most 32, got %d" % (name, ndim))
    return int(ndim)


def _per_axis(value, ndim, name, kind, check):
    """``value`` (a scalar or one per axis) as a list of ``ndim`` checked values."""
    values = list(value) if isinstance(value, (list, tuple, np.ndarray)) else [value] * ndim
    if len(values) != ndim:
        raise ValueError("%s has %d values for %d axes" % (name, len(values), ndim))
    out = []
    for v in values:
        if isinstance(v, bool) or not isinstance(v, kind):
            raise TypeError("%s must be %s, got %r" % (name, check, v))
        out.append(v)
    return out


def _axes_of(value, ndim):
    """The number of axes a builder makes: ``ndim``, or the length of a per-axis
    ``value``, or 1."""
    if ndim is not None:
        return _ndim(ndim)
    if isinstance(value, (list, tuple, np.ndarray)):
        return _ndim(len(value), "the number of values")
    return 1


def _outer(profiles):
    """The N-D kernel whose axis ``a`` carries ``profiles[a]``."""
    k = np.ones((), dtype=np.float64)
    for p in profiles:
        k = np.multiply.outer(k, np.asarray(p, dtype=np.float64))
    return k


def _gaussian_1d(sigma, order, radius):
    """Samples ``-radius..radius`` of the ``order``-th derivative of the unit-sum
    sampled Gaussian, reversed so that correlating with it differentiates.

    The n-th derivative of ``g(t) = exp(-t^2 / (2 sigma^2))`` is ``h_n(t) g(t)``
    with ``h_0 = 1`` and ``h_{n+1} = h_n' - t h_n / sigma^2``; the sampled
    Gaussian is normalised to sum 1 before the polynomial is applied, as
    scipy.ndimage does.
    """
    t = np.arange(-radius, radius + 1, dtype=np.float64)
    g = np.exp(-0.5 * (t / sigma) ** 2)
    g /= g.sum()
    if order:
        h = np.polynomial.Polynomial([1.0])
        slope = np.polynomial.Polynomial([0.0, -1.0 / (sigma * sigma)])
        for _ in range(order):
            h = h.deriv() + h * slope
        g = g * h(t)
    # a convolution with the derivative is a correlation with it reversed
    return g[::-1].copy()


def gaussian(sigma: float | Sequence[float], *, ndim: int | None = None,
             order: int | Sequence[int] = 0, truncate: float = 4.0,
             radius: int | Sequence[int] | None = None) -> NDArray[np.float64]:
    """Sampled Gaussian kernel, or its derivatives, as ``scipy.ndimage.gaussian_filter``.

    Parameters
    ----------
    sigma : float or sequence of float
        Standard deviation in samples, one for all axes or one per axis (> 0).
    ndim : int, optional
        Number of axes.  Default: the length of a per-axis argument, else 1.
    order : int or sequence of int, optional
        Derivative order per axis (0 smooths, 1 is the first derivative, ...).
    truncate : float, optional
        Half-width in standard deviations: ``radius = int(truncate * sigma + 0.5)``.
    radius : int or sequence of int, optional
        Half-width in samples instead of ``truncate``.

    Returns
    -------
    ndarray
        float64, ``2 * radius + 1`` samples per axis.  For order 0 it sums to 1.

    Examples
    --------
    >>> from ndconv import kernels
    >>> kernels.gaussian(1.0, radius=1).round(4)
    array([0.2741, 0.4519, 0.2741])
    >>> kernels.gaussian((1.0, 2.0)).shape
    (9, 17)
    """
    sequences = [v for v in (sigma, order, radius) if isinstance(v, (list, tuple, np.ndarray))]
    n = _axes_of(sequences[0] if sequences else sigma, ndim)
    sigmas = _per_axis(sigma, n, "sigma", numbers.Real, "a number")
    orders = _per_axis(order, n, "order", numbers.Integral, "an int")
    if not (isinstance(truncate, numbers.Real) and not isinstance(truncate, bool)
            and math.isfinite(truncate) and truncate > 0):
        raise ValueError("truncate must be a positive number, got %r" % (truncate,))
    if radius is None:
        radii = [int(truncate * float(s) + 0.5) if math.isfinite(float(s)) else -1
                 for s in sigmas]
    else:
        radii = _per_axis(radius, n, "radius", numbers.Integral, "an int")
    profiles = []
    for s, o, r in zip(sigmas, orders, radii):
        s = float(s)
        if not (math.isfinite(s) and s > 0):
            raise ValueError("sigma must be positive and finite, got %r" % (s,))
        if o < 0:
            raise ValueError("order must be >= 0, got %d" % o)
        if r < 0:
            raise ValueError("radius must be >= 0, got %d" % r)
        if r > 1 << 20:
            raise ValueError("radius %d is too large (at most 2**20 samples a side)" % r)
        profiles.append(_gaussian_1d(s, int(o), int(r)))
    return _outer(profiles)


def uniform(size: int | Sequence[int], ndim: int | None = None) -> NDArray[np.float64]:
    """Box (moving-average) kernel, as ``scipy.ndimage.uniform_filter``.

    Parameters
    ----------
    size : int or sequence of int
        Taps per axis (>= 1).  With an even size the window covers one more
        sample before the centre than after it, as in scipy.ndimage.
    ndim : int, optional
        Number of axes.  Default: the length of ``size`` if it is a sequence, else 1.

    Returns
    -------
    ndarray
        float64, summing to 1.

    Examples
    --------
    >>> from ndconv import kernels
    >>> kernels.uniform((1, 3))
    array([[0.33333333, 0.33333333, 0.33333333]])
    """
    n = _axes_of(size, ndim)
    sizes = _per_axis(size, n, "size", numbers.Integral, "an int")
    for s in sizes:
        if s < 1:
            raise ValueError("size must be >= 1, got %d" % s)
        if s > 1 << 21:
            raise ValueError("size %d is too large (at most 2**21 taps)" % s)
    return _outer([np.full(int(s), 1.0 / int(s)) for s in sizes])


def _derivative(name, axis, ndim, smooth):
    ndim = _ndim(ndim)
    if isinstance(axis, bool) or not isinstance(axis, numbers.Integral):
        raise TypeError("axis must be an int, got %r" % (axis,))
    if not -ndim <= axis < ndim:
        raise ValueError("axis %d is out of range for %d axes" % (axis, ndim))
    axis = int(axis) % ndim
    return _outer([np.array([-1.0, 0.0, 1.0]) if a == axis else np.asarray(smooth, float)
                   for a in range(ndim)])


def sobel(axis: int = -1, ndim: int = 2) -> NDArray[np.float64]:
    """Sobel derivative kernel along ``axis``, as ``scipy.ndimage.sobel``.

    ``[-1, 0, 1]`` along ``axis`` (correlating with it gives the forward
    difference ``x[i+1] - x[i-1]``), ``[1, 2, 1]`` along every other axis.

    Examples
    --------
    >>> from ndconv import kernels
    >>> kernels.sobel(axis=1)
    array([[-1.,  0.,  1.],
           [-2.,  0.,  2.],
           [-1.,  0.,  1.]])
    """
    return _derivative("sobel", axis, ndim, [1.0, 2.0, 1.0])


def prewitt(axis: int = -1, ndim: int = 2) -> NDArray[np.float64]:
    """Prewitt derivative kernel along ``axis``, as ``scipy.ndimage.prewitt``:
    ``[-1, 0, 1]`` along ``axis``, ``[1, 1, 1]`` along the others."""
    return _derivative("prewitt", axis, ndim, [1.0, 1.0, 1.0])


def scharr(axis: int = -1, ndim: int = 2) -> NDArray[np.float64]:
    """Scharr derivative kernel along ``axis``: ``[-1, 0, 1]`` along ``axis``,
    ``[3, 10, 3]`` along the others (better rotational symmetry than Sobel;
    scipy.ndimage has no Scharr filter)."""
    return _derivative("scharr", axis, ndim, [3.0, 10.0, 3.0])


def laplace(ndim: int = 2) -> NDArray[np.float64]:
    """Discrete Laplacian, as ``scipy.ndimage.laplace``: the sum over axes of
    the second difference ``[1, -2, 1]``, a ``3**ndim`` kernel.

    Examples
    --------
    >>> from ndconv import kernels
    >>> kernels.laplace(2)
    array([[ 0.,  1.,  0.],
           [ 1., -4.,  1.],
           [ 0.,  1.,  0.]])
    """
    ndim = _ndim(ndim)
    k = np.zeros((3,) * ndim)
    centre = (1,) * ndim
    for a in range(ndim):
        for i, v in enumerate((1.0, -2.0, 1.0)):
            idx = list(centre)
            idx[a] = i
            k[tuple(idx)] += v
    return k


def gaussian_laplace(sigma: float | Sequence[float], ndim: int = 2,
                     truncate: float = 4.0) -> NDArray[np.float64]:
    """Laplacian of Gaussian, as ``scipy.ndimage.gaussian_laplace``: the sum
    over axes of the Gaussian with a second derivative along that axis.

    Not separable; it is the sum of ``ndim`` separable terms.
    """
    ndim = _ndim(ndim)
    total = None
    for a in range(ndim):
        term = gaussian(sigma, ndim=ndim, order=[2 if b == a else 0 for b in range(ndim)],
                        truncate=truncate)
        total = term if total is None else total + term
    return total


def disk(radius: float, ndim: int = 2, *, normalize: bool = True) -> NDArray[np.float64]:
    """Disk (ball in N-D): the samples within ``radius`` of the centre.

    Parameters
    ----------
    radius : float
        Radius in samples (>= 0); the kernel has ``2 * floor(radius) + 1``
        samples per axis.
    ndim : int, optional
        Number of axes.
    normalize : bool, optional
        Scale to sum 1 (a defocus blur), else ones and zeros.

    Examples
    --------
    >>> from ndconv import kernels
    >>> kernels.disk(1, normalize=False)
    array([[0., 1., 0.],
           [1., 1., 1.],
           [0., 1., 0.]])
    """
    ndim = _ndim(ndim)
    if isinstance(radius, bool) or not isinstance(radius, numbers.Real) \
            or not math.isfinite(radius) or radius < 0:
        raise ValueError("radius must be a finite number >= 0, got %r" % (radius,))
    r = int(math.floor(radius))
    if (2 * r + 1) ** ndim > 1 << 26:
        raise ValueError("a disk of radius %g in %d dimensions has too many samples" % (radius, ndim))
    grid = np.indices((2 * r + 1,) * ndim, dtype=np.float64) - r
    k = ((grid ** 2).sum(axis=0) <= float(radius) ** 2).astype(np.float64)
    return k / k.sum() if normalize else k


def separate(k: ArrayLike, *, rtol: float = 0.0) -> list[list[NDArray[Any]]]:
    """``k`` as a sum of separable terms: ``k == sum(outer(*term) for term in terms)``.

    The first axis is split off by a singular value decomposition of ``k``
    unfolded along it, and each right factor is separated the same way, so the
    number of terms is the product of the ranks of the successive unfoldings
    (1 for a Gaussian or a box, 2 for the 3x3 Laplacian or a difference of
    Gaussians).

    Parameters
    ----------
    k : array_like
        Kernel, 1-D or more (float or complex; integers and bool become float64).
    rtol : float, optional
        ``0`` keeps every term above the rounding level, so the terms reproduce
        ``k`` to within ``4 * n_terms * k.ndim * eps * max|k|`` per entry; a
        positive value drops the smallest terms of each split while the dropped
        part stays below ``rtol`` times that unfolding's norm (a low-rank
        approximation).

    Returns
    -------
    list of list of ndarray
        One list of ``k.ndim`` 1-D factors per term, largest term first; in
        ``k``'s float dtype (float64 for integer input).

    Examples
    --------
    >>> import numpy as np
    >>> from ndconv import kernels
    >>> len(kernels.separate(kernels.gaussian(1.0, ndim=2)))
    1
    >>> terms = kernels.separate(kernels.laplace(2))
    >>> len(terms), np.allclose(sum(np.outer(*t) for t in terms), kernels.laplace(2))
    (2, True)
    """
    a = np.asarray(k)
    if a.dtype.kind not in "biufc":
        raise TypeError("k must be numeric, got dtype %s" % a.dtype)
    if a.ndim == 0 or a.size == 0:
        raise ValueError("k must have at least one dimension and one element, got shape %s"
                         % (a.shape,))
    if isinstance(rtol, bool) or not isinstance(rtol, numbers.Real) or not 0 <= rtol < 1:
        raise ValueError("rtol must be a number in [0, 1), got %r" % (rtol,))
    if a.dtype.kind in "biu" or a.dtype == np.float16:
        a = a.astype(np.float64)
    if not np.all(np.isfinite(a)):
        raise ValueError("k holds NaN or inf")
    work = a.astype(np.complex128 if a.dtype.kind == "c" else np.float64)
    terms = _split(work, float(rtol))
    return [[f.astype(a.dtype) for f in term] for term in terms]


def split_rank(s, rows, rtol):
    """Terms ``separate`` keeps of a split with singular values ``s`` (descending)
    of an unfolding with ``rows`` rows."""
    if not s[0]:
        return 0
    if rtol == 0:
        # the numerical rank: singular values above the rounding of the largest
        return int(np.sum(s > max(rows, s.size) * np.finfo(np.float64).eps * s[0]))
    # the fewest terms whose dropped tail stays below rtol of the norm
    tail = np.sqrt(np.cumsum((s ** 2)[::-1]))[::-1]     # tail[i] = norm of s[i:]
    return int(np.sum(tail > rtol * tail[0]))


def _split(a, rtol):
    """The terms of ``a`` (float64 or complex128), first axis split first."""
    if a.ndim == 1:
        return [[a]] if np.any(a) else []
    u, s, vh = np.linalg.svd(a.reshape(a.shape[0], -1), full_matrices=False)
    keep = split_rank(s, a.shape[0], rtol)
    terms = []
    for i in range(keep):
        for rest in _split(vh[i].reshape(a.shape[1:]), rtol):
            terms.append([u[:, i] * s[i]] + rest)
    return terms
