"""Self-checks users can run: commutativity, and agreement with scipy.

Both checks measure differences against the accuracy contract of the core:
with the direct method every output lies within ``4 * K * eps * (|k| (*) |x_ext|)``
of the exact result (``K`` taps, ``eps`` of the result dtype), with FFT within
``8 * eps * log2(N) * max(|k| (*) |x_ext|)``.  Two results that each honour the
contract differ by at most the sum of their bounds, and that sum is the
default tolerance.
"""
from __future__ import annotations

import dataclasses
import inspect
import math
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import _api
from .._plan import boundary as _boundaries
from .._plan.validation import (
    BOUNDARIES,
    METHODS,
    MODES,
    as_array,
    check_choice,
    normalize_axes,
    normalize_origin,
    result_dtype,
)
from .timing import median_time

if TYPE_CHECKING:
    from collections.abc import Callable

    from numpy.typing import ArrayLike

    from .._plan.validation import Boundary, Method, Mode

__all__ = ["check_commutativity", "compare_with_scipy", "CommutativityResult", "ScipyComparison"]

_SCIPY_MISSING = ("compare_with_scipy needs scipy, which is not installed; install it with "
                  "`pip install scipy` (or `pip install \"ndconv[scipy]\"`)")


# ----------------------------------------------------------------------------- error measures
def _real_eps(dtype):
    return float(np.finfo(np.dtype(dtype)).eps) if np.dtype(dtype).kind in "fc" else 0.0


def _differences(a, b, dtype):
    """Error measures of ``a`` against the reference ``b`` (same shape).

    Returns a dict with ``diff`` (elementwise ``|a - b|`` in float64; equal
    non-finite values count as 0, unequal ones as inf), ``max_abs``/``where_abs``,
    ``max_rel`` (``max|a - b| / max|b|``), ``max_eps`` (the same in units of the
    machine epsilon of ``dtype``, float64's for integers) and ``max_ulp``/``where_ulp``
    (in units in the last place of each ``|b|`` in ``dtype``).
    """
    a = np.asarray(a)
    b = np.asarray(b)
    wide = np.complex128 if (a.dtype.kind == "c" or b.dtype.kind == "c") else np.float64
    aw = a.astype(wide)
    bw = b.astype(wide)
    with np.errstate(invalid="ignore", over="ignore"):
        diff = np.abs(aw - bw)
    same = (aw == bw) | (np.isnan(aw) & np.isnan(bw))
    diff[same] = 0.0
    diff[np.isnan(diff)] = np.inf
    if diff.size == 0:
        return dict(diff=diff, max_abs=0.0, where_abs=(), max_rel=0.0, max_eps=0.0, max_ulp=0.0,
                    where_ulp=())
    i_abs = int(np.argmax(diff))
    finite_b = np.abs(bw[np.isfinite(bw)])
    scale = float(finite_b.max()) if finite_b.size else 0.0
    max_abs = float(diff.flat[i_abs])
    max_rel = max_abs / scale if scale > 0 else (0.0 if max_abs == 0 else math.inf)
    real = np.finfo(np.dtype(dtype)).dtype if np.dtype(dtype).kind in "fc" else np.dtype(np.float64)
    max_eps = max_rel / float(np.finfo(real).eps)
    with np.errstate(invalid="ignore", over="ignore"):
        ulp = np.spacing(np.abs(bw).astype(real)).astype(np.float64)
        ulps = np.where(diff == 0, 0.0, diff / ulp)
    ulps[np.isnan(ulps)] = np.inf
    i_ulp = int(np.argmax(ulps))
    return dict(diff=diff, max_abs=max_abs, where_abs=np.unravel_index(i_abs, diff.shape),
                max_rel=max_rel, max_eps=max_eps, max_ulp=float(ulps.flat[i_ulp]),
                where_ulp=np.unravel_index(i_ulp, diff.shape))


def _contract_bound(op, x, k, mode, boundary, cval, origin, axes, method, dtype):
    """Elementwise bound on ``|result - exact|`` that the accuracy contract gives
    ``ndconv.<op>(x, k, ...)`` computed with ``method`` in ``dtype``.

    ``"auto"`` may take either path, so its bound is the larger of the two.
    """
    eps = _real_eps(dtype)
    xa = np.abs(np.asarray(x)).astype(np.float64)
    ka = np.abs(np.asarray(k)).astype(np.float64)
    fn = _api.convolve if op == "convolve" else _api.correlate
    absconv = fn(xa, ka, mode, boundary=boundary, cval=abs(cval), origin=origin, axes=axes,
                 method="direct" if method == "direct" else "auto")
    conv_axes = normalize_axes(axes, xa.ndim, ka.ndim)
    n_full = math.prod(xa.shape[a] + kk - 1 for a, kk in zip(conv_axes, ka.shape))
    top = float(absconv.max()) if absconv.size else 0.0
    fft_bound = 8 * eps * max(1.0, math.log2(max(n_full, 2))) * top
    # absconv itself carries float64 rounding (an FFT may even leave it slightly
    # negative where it is 0); this margin is ~1e-16 of the largest value.
    absconv = np.maximum(absconv, 0.0) + 8 * np.finfo(np.float64).eps * math.log2(max(n_full, 2)) * top
    direct = 4 * ka.size * eps * absconv
    if method == "direct":
        return direct
    if method == "fft":
        return np.full(absconv.shape, fft_bound)
    return np.maximum(direct, fft_bound)


def _ratio(diff, tol):
    """``max(diff / tol)``: <= 1 means every element is within its tolerance."""
    if diff.size == 0:
        return 0.0
    tol = np.broadcast_to(tol, diff.shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(diff == 0, 0.0, diff / tol)
    return float(np.nan_to_num(r, nan=np.inf).max())


def _fmt_err(v):
    return "%.3g" % v


def _scaled_error_text(max_abs, max_rel, in_eps, dtype, where=None):
    """The largest difference, and what it is against the largest output.

    Per-element ULP counts explode where an output is nearly zero because large
    products cancelled, so the difference is measured against the output's scale.
    """
    at = "" if where is None else " at %s" % _index(where)
    # complex results round like their real parts; integers are compared in float64
    dtype = np.dtype(dtype)
    eps_of = np.finfo(dtype).dtype.name if dtype.kind in "fc" else "float64"
    return ("%s%s; relative to the largest output %s = %s eps of %s"
            % (_fmt_err(max_abs), at, _fmt_err(max_rel), _fmt_err(in_eps), eps_of))


class _Report:
    """What both result objects share: truth value, short repr, notebook display.

    Subclasses provide ``passed``, ``_headline()`` (one line with the verdict),
    ``_short()`` (the repr's text) and ``_rows()`` (label, text pairs for the
    details).
    """

    __slots__ = ()

    def __bool__(self):
        # ``assert ndconv.check_commutativity(...)`` must fail when the check did
        return bool(self.passed)

    def __repr__(self):
        return "<%s %s>" % (type(self).__name__, self._short())

    def __str__(self):
        width = max(len(label) for label, _ in self._rows())
        return "\n".join([self._headline()] + ["  %s  %s" % (label.ljust(width), text)
                                                for label, text in self._rows()])

    def _repr_pretty_(self, p, cycle):
        """IPython's display: the printed form."""
        p.text(repr(self) if cycle else str(self))

    def _repr_html_(self):
        """Jupyter's display: the headline over a two-column table."""
        from html import escape
        colour = "#1a7f37" if self.passed else "#cf222e"
        rows = "".join('<tr><th style="text-align:left;padding-right:1em">%s</th>'
                       '<td style="text-align:left">%s</td></tr>' % (escape(label), escape(text))
                       for label, text in self._rows())
        return ('<table><caption style="text-align:left;caption-side:top">'
                '<b style="color:%s">%s</b></caption>%s</table>'
                % (colour, escape(self._headline()), rows))


# ----------------------------------------------------------------------------- commutativity
@dataclasses.dataclass(frozen=True, repr=False)
class CommutativityResult(_Report):
    """Outcome of :func:`check_commutativity`.

    True in a boolean context exactly when ``passed`` is, so
    ``assert ndconv.check_commutativity(f, g)`` fails when the check fails (or
    when the configuration is not commutative by definition).  ``print`` shows
    a summary; IPython and Jupyter show it as text or a table.

    Attributes
    ----------
    passed : bool
        True when the configuration is commutative by definition and ``f * g``
        and ``g * f`` agree within the tolerance.
    commutative_by_definition : bool
        Whether ``f * g == g * f`` holds in exact arithmetic for every ``f`` and
        ``g`` of these shapes in this configuration.
    max_abs_error, max_rel_error : float
        ``max|fg - gf|`` and the same divided by ``max|gf|`` (nan when the
        shapes differ).
    max_error_in_eps : float
        ``max|fg - gf| / (eps * max|gf|)``: the largest difference in units of
        the result dtype's machine epsilon times the largest output.  Rounding
        of sums of ``K`` products gives up to a few ``K``.
    max_ulp_error : float
        The largest difference in units in the last place of each ``|gf|``.
        Not printed: an output near zero after large products cancelled has a
        tiny ULP, so this can be millions for results that agree as well as
        the arithmetic allows; ``max_error_in_eps`` is the measure to read.
    shape_fg, shape_gf : tuple of int
        Shapes of ``convolve(f, g)`` and ``convolve(g, f)``.
    explanation : str
        One line saying why the configuration is or is not commutative.
    mode, boundary, tolerance : str
        The configuration, and how the tolerance was set.
    error_to_tolerance : float
        Largest ratio of an element's difference to its tolerance (<= 1 when
        they agree; nan when the shapes differ).
    dtype : numpy.dtype
        dtype of ``convolve(f, g)``.
    """

    passed: bool
    commutative_by_definition: bool
    max_abs_error: float
    max_rel_error: float
    max_ulp_error: float
    shape_fg: tuple
    shape_gf: tuple
    explanation: str
    mode: str
    boundary: str
    tolerance: str
    error_to_tolerance: float
    max_error_in_eps: float = float("nan")
    dtype: np.dtype = np.dtype(np.float64)

    @property
    def failed(self):
        """A numerical failure: commutative by definition, yet the results differ."""
        return self.commutative_by_definition and not self.passed

    @property
    def status(self):
        if not self.commutative_by_definition:
            return "not commutative by definition"
        return "commutative" if self.passed else "FAILED: results differ beyond the tolerance"

    def _headline(self):
        return "check_commutativity(mode=%r, boundary=%r): %s" % (self.mode, self.boundary,
                                                                  self.status)

    def _short(self):
        text = "mode=%r, boundary=%r: %s" % (self.mode, self.boundary, self.status)
        if self.commutative_by_definition and self.shape_fg == self.shape_gf:
            text += ", max error %s eps x max|output|" % _fmt_err(self.max_error_in_eps)
        return text

    def _rows(self):
        rows = [("why", self.explanation),
                ("shapes", "f*g %s, g*f %s" % (self.shape_fg, self.shape_gf))]
        if self.shape_fg == self.shape_gf:
            rows += [("max abs error", _scaled_error_text(
                         self.max_abs_error, self.max_rel_error, self.max_error_in_eps,
                         self.dtype)),
                     ("error/tolerance", "%s (<= 1 agrees; tolerance: %s)"
                      % (_fmt_err(self.error_to_tolerance), self.tolerance))]
        return rows


def _axis_rule(n, K, mode, boundary, cval):
    """Is ``convolve(f, g) == convolve(g, f)`` exactly, along one axis where ``f``
    has ``n`` samples and ``g`` has ``K``?  Returns ``(bool, reason)``.

    Written as ``fg[i] = sum_j g[j] f_ext[i + s - j]`` (``s`` = 0 for "full",
    ``(K-1)//2`` for "same"), each output of ``f * g`` multiplies every tap of
    ``g`` with one sample of extended ``f``, and each output of ``g * f`` every
    sample of ``f`` with one of extended ``g``.  Inside the inputs both read the
    same pairs; they differ where an extension is read, unless the extension is
    zero or periodic with the common length.
    """
    if mode == "valid":
        return True, ("'valid' reads no extension and slides the larger input over the "
                      "smaller, so both orders sum the same products")
    if mode == "same" and n != K:
        return False, ("'same' returns the size of the first argument, and the sizes differ "
                       "(%d and %d)" % (n, K))
    if n == 1 and K == 1:
        return True, "single samples: each output is the product f[0] * g[0]"
    if boundary == "constant" and cval == 0:
        return True, ("with a zero boundary f*g[i] = sum_m f[m] g[i-m] is symmetric in f and g"
                      + ("" if mode == "full" else ", and with equal sizes 'same' takes the "
                         "same window of it"))
    if boundary == "constant":
        return False, ("the non-zero cval enters f*g multiplied by taps of g and g*f multiplied "
                       "by samples of f")
    if mode == "full" and n != K:
        return False, ("with boundary=%r each output of f*g sums %d products (one per tap of g) "
                       "and each output of g*f sums %d" % (boundary, K, n))
    if boundary == "wrap" or (boundary == "reflect" and n == 2):
        why = "circular convolution of equal lengths is commutative"
        if boundary == "reflect":
            why += " (reflect on 2 samples repeats with period 2, exactly like wrap)"
        return True, why
    return False, ("boundary=%r extends f in f*g and g in g*f, and the extended samples are "
                   "not the same products" % boundary)


def commutativity_rule(f_shape, g_shape, mode, boundary, cval=0.0):
    """``(commutative, explanation)`` for convolving arrays of these shapes.

    The N-D convolution is a product of per-axis index structures (the
    extension of an N-D array is numpy.pad's per-axis extension), so it is
    commutative exactly when it is along every axis.
    """
    if len(f_shape) != len(g_shape):
        raise ValueError("f and g must have the same number of dimensions, got %d and %d"
                         % (len(f_shape), len(g_shape)))
    reasons = []
    for ax, (n, K) in enumerate(zip(f_shape, g_shape)):
        ok, why = _axis_rule(n, K, mode, boundary, cval)
        if not ok:
            where = "" if len(f_shape) == 1 else " (axis %d)" % ax
            return False, "not commutative by definition%s: %s" % (where, why)
        reasons.append(why)
    # the reason of the most demanding axis: prefer one that reads an extension
    reason = next((r for r in reasons if not r.startswith("single")), reasons[0])
    return True, "commutative by definition: " + reason


def check_commutativity(f: ArrayLike, g: ArrayLike, mode: Mode = "full", boundary: Boundary = "constant",
                        *, cval: complex = 0.0, method: Method = "auto", rtol: float | None = None,
                        atol: float | None = None) -> CommutativityResult:
    """Check that ``convolve(f, g) == convolve(g, f)`` where it should hold.

    Convolution is commutative only in some configurations: always in
    ``"valid"`` mode (the larger input slides over the smaller), and in
    ``"full"`` and ``"same"`` mode when the boundary is zero (``"same"`` also
    needs equal sizes, since it returns the first argument's size) or ``"wrap"``
    with equal sizes (circular convolution).  Other boundaries extend ``f`` in
    ``f * g`` but ``g`` in ``g * f``, which are different numbers.  For such
    configurations the result says "not commutative by definition" and why; it
    is never reported as a numerical failure.

    Parameters
    ----------
    f, g : array_like
        Two arrays with the same number of dimensions.
    mode : {"full", "same", "valid"}, optional
        Output extent, as in :func:`ndconv.convolve`.
    boundary : {"constant", "edge", "symmetric", "reflect", "wrap"}, optional
        How the first argument is extended.
    cval : scalar, optional
        Value past the edges for ``boundary="constant"``.  Keyword only.
    method : {"auto", "direct", "fft"}, optional
        Method of both convolutions.
    rtol, atol : float, optional
        Tolerance ``|fg - gf| <= atol + rtol * |gf|`` elementwise.  By default
        (both None) the sum of the two results' accuracy-contract bounds:
        ``4 * K * eps * (|k| (*) |x_ext|)`` for the direct method, ``8 * eps *
        log2(N) * max(|k| (*) |x_ext|)`` for FFT, the larger of the two for
        ``"auto"``.  Passing one of them sets the other to 0.

    Returns
    -------
    CommutativityResult
        Printable, and true exactly when ``passed``; ``commutative_by_definition``,
        the error measures, both shapes and a one-line ``explanation``.

    Examples
    --------
    >>> import numpy as np, ndconv
    >>> rng = np.random.default_rng(0)
    >>> f, g = rng.standard_normal(50), rng.standard_normal(7)
    >>> ndconv.check_commutativity(f, g).passed
    True
    >>> r = ndconv.check_commutativity(f, g, "same")
    >>> r.commutative_by_definition, r.shape_fg, r.shape_gf
    (False, (50,), (7,))
    """
    f = as_array(f, "f")
    g = as_array(g, "g")
    check_choice(mode, "mode", MODES)
    check_choice(boundary, "boundary", BOUNDARIES)
    check_choice(method, "method", METHODS)
    if f.ndim != g.ndim:
        raise ValueError("f and g must have the same number of dimensions, got f.ndim=%d and "
                         "g.ndim=%d" % (f.ndim, g.ndim))
    for name, v in (("rtol", rtol), ("atol", atol)):
        if v is not None and not (isinstance(v, (int, float, np.floating, np.integer))
                                  and v >= 0 and math.isfinite(v)):
            raise ValueError("%s must be a finite number >= 0, got %r" % (name, v))
    kw = dict(boundary=boundary, cval=cval, method=method)
    fg = _api.convolve(f, g, mode, **kw)
    gf = _api.convolve(g, f, mode, **kw)
    commutative, explanation = commutativity_rule(f.shape, g.shape, mode, boundary, cval)
    dtype = fg.dtype
    if fg.shape != gf.shape:
        nan = float("nan")
        return CommutativityResult(False, commutative, nan, nan, nan, fg.shape, gf.shape,
                                   explanation, mode, boundary, "not applicable (shapes differ)", nan,
                                   nan, dtype)
    e = _differences(fg, gf, dtype)
    if rtol is None and atol is None:
        tol = (_contract_bound("convolve", f, g, mode, boundary, cval, 0, None, method, dtype)
               + _contract_bound("convolve", g, f, mode, boundary, cval, 0, None, method, dtype))
        tol_text = "accuracy contract, method=%r" % method
    else:
        rtol = 0.0 if rtol is None else float(rtol)
        atol = 0.0 if atol is None else float(atol)
        tol = atol + rtol * np.abs(gf.astype(np.complex128 if dtype.kind == "c" else np.float64))
        tol_text = "atol=%g, rtol=%g" % (atol, rtol)
    ratio = _ratio(e["diff"], tol)
    return CommutativityResult(commutative and ratio <= 1, commutative, e["max_abs"], e["max_rel"],
                               e["max_ulp"], fg.shape, gf.shape, explanation, mode, boundary,
                               tol_text, ratio, e["max_eps"], dtype)


# ----------------------------------------------------------------------------- scipy comparison
@dataclasses.dataclass(frozen=True, repr=False)
class ScipyComparison(_Report):
    """Outcome of :func:`compare_with_scipy`.

    True in a boolean context exactly when ``passed`` is, so
    ``assert ndconv.compare_with_scipy(...)`` fails when the results disagree.
    ``print`` shows a summary; IPython and Jupyter show it as text or a table.

    Attributes
    ----------
    function : str
        The ndconv call.
    scipy_function : str
        The reference call it was compared with, conventions translated.
    passed : bool
        Whether every element agrees within the sum of both results'
        accuracy-contract bounds (integer outputs: also one unit, for
        truncation of a sum that lands next to an integer).
    max_abs_error, max_rel_error : float
        ``max|ndconv - scipy|`` and that divided by ``max|scipy|``.
    max_error_in_eps : float
        ``max|ndconv - scipy| / (eps * max|scipy|)``: the largest difference in
        units of the result dtype's machine epsilon (float64's for integer
        results) times the largest output.  Rounding of sums of ``K`` products
        gives up to a few ``K``.
    max_ulp_error : float
        The largest difference in units in the last place of each ``|scipy|``;
        not printed, for the reason given in ``CommutativityResult``.
    where_abs, where_ulp : tuple of int
        Index of the largest absolute and ULP difference.
    ndconv_time, scipy_time : float
        Median seconds of repeated calls (nan when not timed).
    speedup : float
        ``scipy_time / ndconv_time`` (> 1: ndconv is faster).
    repeats : int
        Timed calls of each function.
    shape : tuple of int
        Shape of the result.
    dtype : numpy.dtype
        dtype of ndconv's result.
    error_to_tolerance : float
        Largest ratio of an element's difference to its tolerance (<= 1 when
        they agree).
    """

    function: str
    scipy_function: str
    passed: bool
    max_abs_error: float
    max_rel_error: float
    max_ulp_error: float
    where_abs: tuple
    where_ulp: tuple
    ndconv_time: float
    scipy_time: float
    speedup: float
    repeats: int
    shape: tuple
    dtype: np.dtype
    error_to_tolerance: float
    max_error_in_eps: float = float("nan")

    def _speed(self):
        if not math.isfinite(self.speedup):
            return None
        return "%.2fx %s" % (self.speedup if self.speedup >= 1 else 1 / self.speedup,
                             "faster" if self.speedup >= 1 else "slower")

    def _headline(self):
        return "%s vs %s: %s" % (self.function, self.scipy_function,
                                 "agree" if self.passed else "DISAGREE")

    def _short(self):
        speed = self._speed()
        return "%s vs %s: %s, max error %s eps x max|output|%s" % (
            self.function, self.scipy_function.split("(")[0],
            "agree" if self.passed else "DISAGREE", _fmt_err(self.max_error_in_eps),
            ", ndconv " + speed if speed else "")

    def _rows(self):
        speed = self._speed()
        timing = ("ndconv %s, %s %s (median of %d): ndconv is %s"
                  % (_fmt_time(self.ndconv_time), self.scipy_function.split(".")[0],
                     _fmt_time(self.scipy_time), self.repeats, speed)
                  if speed else "not timed")
        return [("result", "%s %s" % (self.shape, self.dtype)),
                ("max abs error", _scaled_error_text(self.max_abs_error, self.max_rel_error,
                                                     self.max_error_in_eps, self.dtype,
                                                     self.where_abs)),
                ("error/tolerance", "%s (<= 1 agrees; tolerance: both results' accuracy bounds)"
                 % _fmt_err(self.error_to_tolerance)),
                ("time", timing)]


def _index(t):
    return "(" + ", ".join(str(int(i)) for i in t) + ")" if len(t) != 1 else "(%d,)" % int(t[0])


def _fmt_time(s):
    if not math.isfinite(s):
        return "-"
    return "%.3g ms" % (s * 1e3) if s < 1 else "%.3g s" % s


def _import_scipy():
    try:
        import scipy.ndimage
        import scipy.signal
    except ImportError as exc:
        raise ImportError(_SCIPY_MISSING) from exc
    return scipy.signal, scipy.ndimage


# ndconv's boundary names (numpy.pad's) in scipy.ndimage's words
NDIMAGE_MODE = _boundaries.TO_NDIMAGE

_UNIFIED = inspect.signature(_api.correlate)


def _unified_reference(op, args, kwargs):
    """The scipy call that computes exactly ``ndconv.<op>(*args, **kwargs)``.

    Returns ``(ndconv_call, scipy_call, description, bound_fn)``; both calls take
    no arguments.  Inputs are cast to ndconv's result dtype first (scipy keeps
    integers as integers).
    """
    sig, ndi = _import_scipy()
    ba = _UNIFIED.bind(*args, **kwargs)
    ba.apply_defaults()
    p = ba.arguments
    x, k = as_array(p["x"], "x"), as_array(p["k"], "k")
    mode, boundary, cval, origin, axes = p["mode"], p["boundary"], p["cval"], p["origin"], p["axes"]
    fn = _api.convolve if op == "convolve" else _api.correlate
    ndconv_call = lambda: fn(*args, **kwargs)  # noqa: E731
    # validation (and its error messages) is ndconv's own
    expected = fn(*args, **kwargs)
    dtype = result_dtype(x, k)
    xs = x.astype(dtype)
    conv_axes = normalize_axes(axes, x.ndim, k.ndim)
    kf = _api._full_kernel(k.astype(dtype), conv_axes, x.ndim)
    origins = [0] * x.ndim
    for a, o in zip(conv_axes, normalize_origin(origin, k.shape, mode)):
        origins[a] = o
    opts = []
    if axes is not None:
        opts.append("kernel reshaped to %s for axes=%s" % (kf.shape, tuple(conv_axes)))
    if mode == "valid" and not (all(a >= b for a, b in zip(x.shape, kf.shape))
                                or all(a <= b for a, b in zip(x.shape, kf.shape))):
        # a kernel wider than x along the convolved axes only: scipy.signal
        # refuses 'valid', but it is the middle of 'full' (min(n, K) - 1 on)
        ref = getattr(sig, op)
        window = tuple(slice(min(n, kk) - 1, min(n, kk) + abs(n - kk))
                       for n, kk in zip(x.shape, kf.shape))
        call = lambda: ref(xs, kf, "full")[window]  # noqa: E731
        desc = "scipy.signal.%s(x, k, 'full')[min(n, K) - 1:][:|n - K| + 1]" % op
    elif mode == "valid" or (boundary == "constant" and cval == 0 and not any(origins)):
        ref = getattr(sig, op)
        call = lambda: ref(xs, kf, mode)  # noqa: E731
        desc = "scipy.signal.%s(x, k, %r)" % (op, mode)
    elif mode == "same" and all(max(kk // 2 + o, kk - 1 - kk // 2 - o) <= n
                                for n, kk, o in zip(x.shape, kf.shape, origins)):
        # ndimage only where the extension is at most as wide as x: its
        # "reflect" goes wrong beyond that (scipy 1.17, e.g. n=2, K=16)
        ref = getattr(ndi, op)
        if op == "convolve":
            # ndimage.convolve(origin=o) is correlate(flip(k), origin=-o - [K even]);
            # ndconv's convolve keeps the origin of the flipped kernel as given.
            sc_origin = [-o - (1 - kk % 2) for o, kk in zip(origins, kf.shape)]
        else:
            sc_origin = origins
        ndmode = NDIMAGE_MODE[boundary]
        call = lambda: ref(xs, kf, mode=ndmode, cval=cval, origin=sc_origin)  # noqa: E731
        desc = "scipy.ndimage.%s(x, k, mode=%r%s%s)" % (
            op, ndmode, ", cval=%r" % (cval,) if boundary == "constant" else "",
            ", origin=%s" % (sc_origin,) if any(sc_origin) else "")
    else:  # a non-zero extension: pad as numpy.pad, then 'valid'
        if mode == "full":
            widths = [(kk - 1, kk - 1) for kk in kf.shape]
        else:  # "same": anchor K//2 + origin (convolve's flipped kernel has the same size)
            anchors = [kk // 2 + o for kk, o in zip(kf.shape, origins)]
            widths = [(a, kk - 1 - a) for a, kk in zip(anchors, kf.shape)]
        padkw = {"constant_values": cval} if boundary == "constant" else {}
        ref = getattr(sig, op)
        call = lambda: ref(np.pad(xs, widths, mode=boundary, **padkw), kf, "valid")  # noqa: E731
        desc = "scipy.signal.%s(np.pad(x, %s, mode=%r%s), k, 'valid')" % (
            op, "K-1" if mode == "full" else widths, boundary,
            ", constant_values=%r" % (cval,) if padkw else "")
    if opts:
        desc += " [" + "; ".join(opts) + "]"

    def bound(dt):
        mine = _contract_bound(op, x, k, mode, boundary, cval, origin, axes, p["method"], dt)
        # scipy.signal's 'auto' may take an FFT; ndimage sums directly
        theirs = _contract_bound(op, x, k, mode, boundary, cval, origin, axes, "auto", dt)
        return mine + theirs

    return ndconv_call, call, desc, bound, expected


def _dropin_reference(namespace, name, args, kwargs):
    """ndconv.<namespace>.<name> against scipy.<namespace>.<name> (or numpy's):
    the drop-ins take the reference's own arguments, so nothing is translated."""
    import importlib
    mine = getattr(importlib.import_module("ndconv." + namespace), name, None)
    if namespace == "numpy":
        ref_mod, ref_name = np, "numpy"
    else:
        _import_scipy()
        ref_mod, ref_name = importlib.import_module("scipy." + namespace), "scipy." + namespace
    theirs = getattr(ref_mod, name, None)
    if mine is None or theirs is None or name not in _DROPIN_OPS.get(namespace, ()):
        raise ValueError("compare_with_scipy cannot compare %s.%s; known: %s"
                         % (namespace, name, ", ".join(_known_names())))
    if "output" in kwargs and isinstance(kwargs["output"], np.ndarray):
        raise ValueError("output must be a dtype (or omitted) here: both functions would write "
                         "into the same array")
    expected = mine(*args, **kwargs)
    arrays = [np.asarray(a) for a in args[:2]]

    def bound(dt):
        # the same call on |x| and |k| is |k| (*) |x_ext| (for |cval|) in the
        # reference's own geometry
        abs_args = [np.abs(a).astype(np.float64) for a in arrays] + list(args[2:])
        abs_kw = dict(kwargs)
        for key in ("cval", "fillvalue"):
            if key in abs_kw:
                abs_kw[key] = abs(abs_kw[key])
        abs_kw.pop("output", None)
        absconv = np.abs(np.asarray(theirs(*abs_args, **abs_kw), dtype=np.float64))
        eps = _real_eps(dt) or _real_eps(np.float64)
        K = min(a.size for a in arrays)
        n_full = sum(a.size for a in arrays)
        top = float(absconv.max()) if absconv.size else 0.0
        per = np.maximum(4 * K * eps * absconv, 8 * eps * math.log2(max(n_full, 2)) * top)
        return 2 * per + (1.0 if np.dtype(dt).kind in "iub" else 0.0)

    return (lambda: mine(*args, **kwargs), lambda: theirs(*args, **kwargs),
            "%s.%s" % (ref_name, name), bound, expected)


_DROPIN_OPS = {
    "signal": ("convolve", "correlate", "fftconvolve", "oaconvolve", "convolve2d", "correlate2d"),
    "ndimage": ("convolve", "correlate", "convolve1d", "correlate1d"),
    "numpy": ("convolve", "correlate"),
}


def _known_names():
    return ["convolve", "correlate"] + ["%s.%s" % (ns, n) for ns, ops in _DROPIN_OPS.items()
                                        for n in ops]


def _resolve(name_or_callable):
    """``(namespace or None, function name)`` for a name or one of ndconv's functions."""
    if callable(name_or_callable):
        mod = getattr(name_or_callable, "__module__", "") or ""
        name = getattr(name_or_callable, "__name__", "")
        if name_or_callable is _api.convolve or name_or_callable is _api.correlate:
            return None, name
        for ns in _DROPIN_OPS:
            if mod == "ndconv." + ns:
                return ns, name
        raise ValueError("compare_with_scipy compares ndconv's own functions; got %r. Pass one "
                         "of: %s" % (name_or_callable, ", ".join(_known_names())))
    if not isinstance(name_or_callable, str):
        raise TypeError("name_or_callable must be a function name or an ndconv function, got %r"
                        % (name_or_callable,))
    name = name_or_callable
    for prefix in ("ndconv.", "scipy."):
        if name.startswith(prefix):
            name = name[len(prefix):]
    if name in ("convolve", "correlate"):
        return None, name
    ns, _, fn = name.partition(".")
    if ns in _DROPIN_OPS and fn in _DROPIN_OPS[ns]:
        return ns, fn
    raise ValueError("unknown function %r for compare_with_scipy; known: %s"
                     % (name_or_callable, ", ".join(_known_names())))


def compare(name_or_callable, args, kwargs, *, budget=0.2, timed=True, with_result=False):
    """:func:`compare_with_scipy` with control over the timing (``timed=False``
    compares only; ``budget`` is the seconds of timed calls per function);
    ``with_result=True`` returns ``(comparison, ndconv's result)``."""
    ns, name = _resolve(name_or_callable)
    if ns is None:
        mine, theirs, desc, bound, got = _unified_reference(name, args, kwargs)
        label = "ndconv.%s" % name
    else:
        mine, theirs, desc, bound, got = _dropin_reference(ns, name, args, kwargs)
        label = "ndconv.%s.%s" % (ns, name)
    if timed:
        t_mine, reps, got = median_time(mine, budget)
        t_ref, _, ref = median_time(theirs, budget, min_reps=reps, max_reps=reps)
    else:
        ref = theirs()
        t_mine = t_ref = float("nan")
        reps = 0
    got = np.asarray(got)
    ref = np.asarray(ref)
    if got.shape != ref.shape:
        raise AssertionError("ndconv's result has shape %s but %s's has %s; please report this "
                             "as a bug" % (got.shape, desc, ref.shape))
    e = _differences(got, ref, got.dtype)
    ratio = _ratio(e["diff"], bound(got.dtype))
    speedup = t_ref / t_mine if timed and t_mine > 0 else float("nan")
    res = ScipyComparison(label, desc, ratio <= 1, e["max_abs"], e["max_rel"], e["max_ulp"],
                          tuple(int(i) for i in e["where_abs"]),
                          tuple(int(i) for i in e["where_ulp"]),
                          t_mine, t_ref, speedup, reps, got.shape, got.dtype, ratio,
                          e["max_eps"])
    return (res, got) if with_result else res


def compare_with_scipy(name_or_callable: str | Callable[..., Any], *args: Any,
                       **kwargs: Any) -> ScipyComparison:
    """Run an ndconv function and its scipy counterpart on the same input and compare.

    For the unified API (``"convolve"``, ``"correlate"``) the conventions are
    translated, so the scipy call computes exactly the same thing:

    * zero boundary, no origin shift, and every ``"valid"`` call:
      ``scipy.signal.convolve`` / ``correlate`` with the same mode;
    * ``"same"`` with another boundary, a ``cval`` or an ``origin``:
      ``scipy.ndimage.convolve`` / ``correlate`` with the boundary's ndimage
      name (``edge`` -> ``nearest``, ``symmetric`` -> ``reflect``, ``reflect``
      -> ``mirror``, ``wrap`` -> ``grid-wrap``) and the origin translated
      (ndimage's convolve moves the anchor of even kernels, ndconv's does not),
      as long as the extension is at most as wide as ``x`` (ndimage's
      ``reflect`` is wrong beyond that);
    * otherwise (``"full"`` with a non-zero extension, or a kernel more than
      twice as wide as ``x``): ``numpy.pad`` with the same boundary by
      ``K - 1`` (``"full"``) or ``K//2 + origin`` and ``K - 1 - K//2 - origin``
      (``"same"``), then ``scipy.signal`` in ``"valid"`` mode;
    * ``axes``: the kernel gets size-1 axes where ``x`` is not convolved;
    * inputs are cast to ndconv's result dtype (integers to float64).

    The drop-ins (``"signal.convolve2d"``, ``"ndimage.correlate1d"``,
    ``"numpy.convolve"``, ... or the functions themselves) are compared with the
    function of the same name in scipy (numpy for ``ndconv.numpy``), with the
    same arguments.

    Parameters
    ----------
    name_or_callable : str or callable
        ``"convolve"``, ``"correlate"``, ``"signal.<name>"``, ``"ndimage.<name>"``,
        ``"numpy.<name>"``, or the ndconv function itself.
    *args, **kwargs
        Arguments of the ndconv function (``method=``, ``workers=`` included).

    Returns
    -------
    ScipyComparison
        Printable, and true exactly when ``passed``: the scipy call, the largest
        difference (absolute, and relative to the largest output in units of
        eps) and where it occurs, both median timings and
        ``speedup = scipy_time / ndconv_time``.

    Raises
    ------
    ImportError
        If scipy is not installed (with how to install it).

    Notes
    -----
    ``passed`` means every element differs by at most the sum of the two
    results' accuracy-contract bounds (see :func:`check_commutativity`).  Each
    function is timed by repeated calls filling about 0.2 s after one untimed
    call, and the median is reported.

    Examples
    --------
    >>> import numpy as np, ndconv
    >>> x = np.random.default_rng(0).standard_normal((64, 64))
    >>> r = ndconv.compare_with_scipy("convolve", x, np.ones((3, 4)), "same", boundary="edge")
    >>> r.passed, r.scipy_function
    (True, "scipy.ndimage.convolve(x, k, mode='nearest', origin=[0, -1])")
    """
    return compare(name_or_callable, args, kwargs)
