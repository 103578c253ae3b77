"""Kernels by name, for ``ndconv apply`` and the demo: ``gaussian:2``, ``sobel-x``, ...

The command line's names for the builders of :mod:`ndconv.kernels`, for any
number of dimensions, oriented for convolution (``ndconv apply`` convolves).
"""
import math

import numpy as np

from .. import kernels as _kernels

# name -> (parameter syntax, description), in the order of the help text
CATALOGUE = {
    "identity": ("identity", "the delta kernel: output = input"),
    "box": ("box:N", "N-tap moving average along each axis"),
    "gaussian": ("gaussian:SIGMA", "Gaussian blur, SIGMA samples, truncated at 4 SIGMA"),
    "lowpass": ("lowpass:CUTOFF[:TAPS]", "windowed-sinc FIR low-pass; CUTOFF as a fraction of "
                "the Nyquist frequency (0..1), TAPS odd (default 101)"),
    "sobel-x": ("sobel-x", "Sobel derivative along the last axis (columns, x)"),
    "sobel-y": ("sobel-y", "Sobel derivative along the second-to-last axis (rows, y)"),
    "laplace": ("laplace", "discrete Laplacian (sum of second differences)"),
    "sharpen": ("sharpen[:AMOUNT]", "identity - AMOUNT * laplace (default AMOUNT 1)"),
}


def describe():
    """One line per named kernel, for help texts."""
    width = max(len(syntax) for syntax, _ in CATALOGUE.values())
    return "\n".join("  %-*s  %s" % (width, syntax, text) for syntax, text in CATALOGUE.values())


def _number(text, what, spec, integer=False):
    try:
        v = int(text) if integer else float(text)
    except ValueError:
        raise ValueError("kernel %r: %s must be %s, got %r"
                         % (spec, what, "an integer" if integer else "a number", text)) from None
    if not math.isfinite(v):
        raise ValueError("kernel %r: %s must be finite" % (spec, what))
    return v


def _outer(profile, ndim):
    k = profile
    for _ in range(ndim - 1):
        k = np.multiply.outer(k, profile)
    return k


def _delta(ndim, size=3):
    k = np.zeros((size,) * ndim)
    k[(size // 2,) * ndim] = 1.0
    return k


def lowpass(cutoff, taps=101):
    """Windowed-sinc FIR low-pass (Blackman window), unit gain at 0 Hz.

    Parameters
    ----------
    cutoff : float
        Cut-off frequency as a fraction of the Nyquist frequency, ``0 < cutoff < 1``.
    taps : int
        Odd number of taps (the filter is symmetric, delay ``taps // 2``).
    """
    n = np.arange(taps) - (taps - 1) / 2
    h = cutoff * np.sinc(cutoff * n) * np.blackman(taps)
    return h / h.sum()


def named_kernel(spec, ndim):
    """The kernel called ``spec`` with ``ndim`` dimensions (float64).

    Parameters
    ----------
    spec : str
        A name from :data:`CATALOGUE` with its parameters after colons,
        e.g. ``"gaussian:1.5"``, ``"box:5"``, ``"lowpass:0.25:63"``.
    ndim : int
        Number of convolved axes.

    Raises
    ------
    ValueError
        For unknown names (the message lists the known ones) and bad parameters.
    """
    name, *params = str(spec).strip().lower().split(":")
    if name not in CATALOGUE:
        raise ValueError("unknown kernel %r; named kernels are: %s (or give a kernel file: "
                         ".npy, .txt, .csv, .wav, .png)"
                         % (spec, ", ".join(s for s, _ in CATALOGUE.values())))
    syntax = CATALOGUE[name][0]
    max_params = syntax.count(":")
    min_params = max_params - syntax.count("[")
    if not min_params <= len(params) <= max_params:
        raise ValueError("kernel %r: expected the form %s" % (spec, syntax))
    if name == "identity":
        return np.ones((1,) * ndim)
    if name == "box":
        n = _number(params[0], "N", spec, integer=True)
        if n < 1:
            raise ValueError("kernel %r: N must be >= 1" % spec)
        return _kernels.uniform(n, ndim)
    if name == "gaussian":
        sigma = _number(params[0], "SIGMA", spec)
        if sigma <= 0:
            raise ValueError("kernel %r: SIGMA must be > 0" % spec)
        return _kernels.gaussian(sigma, ndim=ndim)
    if name == "lowpass":
        cutoff = _number(params[0], "CUTOFF", spec)
        taps = _number(params[1], "TAPS", spec, integer=True) if len(params) > 1 else 101
        if not 0 < cutoff < 1:
            raise ValueError("kernel %r: CUTOFF is a fraction of the Nyquist frequency, "
                             "0 < CUTOFF < 1" % spec)
        if taps < 3 or taps % 2 == 0:
            raise ValueError("kernel %r: TAPS must be odd and >= 3" % spec)
        return _outer(lowpass(cutoff, taps), ndim)
    if name in ("sobel-x", "sobel-y"):
        axis = ndim - 1 if name == "sobel-x" else ndim - 2
        if axis < 0:
            raise ValueError("kernel %r needs at least 2 dimensions, the data has %d" % (spec, ndim))
        # oriented for convolution: positive where the data increase along the axis
        return np.flip(_kernels.sobel(axis, ndim))
    if name == "laplace":
        return _kernels.laplace(ndim)
    amount = _number(params[0], "AMOUNT", spec) if params else 1.0   # sharpen
    return _delta(ndim) - amount * _kernels.laplace(ndim)
