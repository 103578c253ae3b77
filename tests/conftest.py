"""Shared test oracle.

The oracle shares no code with ndconv: it extends the input with ``numpy.pad``
(the specification of every boundary), then runs scipy.signal's direct
correlation in float64/complex128 on the padded input with mode "valid".  The
per-axis pad widths are derived here from the definitions of the output modes,
independently of ``ndconv._api.geometry``.

It also provides :func:`subprocess_env`, for tests that start another Python.
"""
import contextlib
import os
import sysconfig
import zlib

import numpy as np
import pytest

from ndconv import _core as _dispatch
from ndconv._plan import tuning

scipy_signal = pytest.importorskip("scipy.signal")

NP_PAD = {"constant", "edge", "symmetric", "reflect", "wrap"}


def exact_dtype(dtype):
    return np.complex128 if np.dtype(dtype).kind == "c" else np.float64


def pad_widths(n, K, mode, origin):
    """(lo, hi) extension of one axis so that a 'valid' correlation gives ``mode``."""
    if mode == "full":
        return K - 1, K - 1
    if mode == "same":
        lo = K // 2 + origin
        return lo, K - 1 - lo
    raise AssertionError(mode)


def full_kernel(k, axes, ndim):
    """Kernel with one axis per x axis (size 1 elsewhere), kernel axis i along x axis axes[i]."""
    k = np.asarray(k)
    order = np.argsort(axes)
    kk = np.transpose(k, order)
    shape = [1] * ndim
    for i, a in enumerate(sorted(axes)):
        shape[a] = kk.shape[i]
    return kk.reshape(shape)


def oracle(x, k, mode="full", boundary="constant", cval=0.0, origin=0, axes=None, op="correlate",
           absolute=False):
    """Exact (float64/complex128) result of ndconv's definition, and ``|k| (*) |x_ext|``.

    Returns ``(ref, absconv)``; ``absconv`` bounds the accumulation error.
    """
    x = np.asarray(x)
    k = np.asarray(k)
    dt = exact_dtype(np.result_type(x, k, np.float64))
    x = x.astype(dt)
    k = k.astype(dt)
    if axes is None:
        axes = tuple(range(x.ndim))
    axes = tuple(a % x.ndim for a in np.atleast_1d(axes))
    if op == "convolve":
        k = k[(slice(None, None, -1),) * k.ndim]
    elif dt == np.complex128:
        k = np.conj(k)
    origins = np.broadcast_to(np.asarray(origin), (len(axes),))
    w = full_kernel(k, axes, x.ndim)
    if mode == "valid":
        xe = x
        if any(x.shape[a] < w.shape[a] for a in range(x.ndim)):
            # k larger: the part of k outside x meets zeros (scipy.signal's valid)
            pads = [(w.shape[a] - x.shape[a], w.shape[a] - x.shape[a]) if x.shape[a] < w.shape[a]
                    else (0, 0) for a in range(x.ndim)]
            xe = np.pad(x, pads)
    else:
        pads = [(0, 0)] * x.ndim
        for i, a in enumerate(axes):
            pads[a] = pad_widths(x.shape[a], w.shape[a], mode, int(origins[i]))
        kw = {"constant_values": cval} if boundary == "constant" else {}
        xe = np.pad(x, pads, mode=boundary, **kw)

    def corr(a, b):
        # scipy.signal.correlate conjugates its second argument; undo that, we
        # conjugated above where the definition asks for it.
        return scipy_signal.correlate(a, np.conj(b), mode="valid", method="direct")

    ref = corr(xe, w)
    absconv = corr(np.abs(xe), np.abs(w)).real
    return ref, absconv


def assert_contract(res, ref, absconv, taps, dtype, method="direct", fft_size=None):
    """Assert ndconv's accuracy contract (the Notes of ``ndconv.convolve``).

    direct: |res - ref| <= 4 * K * eps * (|k| (*) |x_ext|) elementwise, K = taps.
    fft:    |res - ref| <= 8 * eps * log2(N) * max(|k| (*) |x_ext|).
    A floor of a few eps of the largest magnitude covers exactly-cancelling sums.
    """
    eps = np.finfo(np.dtype(dtype)).eps
    assert res.shape == ref.shape, (res.shape, ref.shape)
    err = np.abs(res.astype(ref.dtype) - ref)
    scale = float(absconv.max()) if absconv.size else 0.0
    if method == "direct":
        bound = 4 * taps * eps * absconv + 4 * eps * np.finfo(np.float64).tiny
    else:
        n = max(2, int(fft_size or res.size))
        bound = 8 * eps * np.log2(n) * scale + np.zeros_like(absconv)
    bad = err > bound
    if bad.any():
        i = np.unravel_index(np.argmax(err - bound), err.shape)
        raise AssertionError("accuracy contract violated at %s: err %.3g > bound %.3g (%s, %s)"
                             % (i, err[i], bound[i], dtype, method))


@pytest.fixture
def rng(request):
    # deterministic per test, different across tests
    seed = zlib.crc32(request.node.nodeid.encode())
    return np.random.default_rng(seed)


def random_array(rng, shape, dtype):
    dtype = np.dtype(dtype)
    if dtype.kind == "c":
        return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(dtype)
    if dtype.kind == "b":
        return rng.random(shape) < 0.5
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        return rng.integers(max(info.min, -50), min(info.max, 50), size=shape, endpoint=True).astype(dtype)
    return rng.standard_normal(shape).astype(dtype)


@pytest.fixture(autouse=True)
def _threads_on_small_problems(request):
    """Let every test's ``workers`` reach the core.

    The library runs direct calls below ``tuning.Settings.work_per_thread``
    multiply-adds per thread on fewer threads (waking one costs more than it
    saves); the tests' problems are small, and must still exercise the
    threaded schedule, also when the machine running them is busy (which
    would otherwise limit calls to the idle CPUs).

    Tests marked ``library_threads`` keep the library's own rule: grids of
    thousands of tiny calls that check an API's semantics (the drop-ins), not
    the schedule.  On a busy machine (CI, with the emulated aarch64 run on the
    other core) each forced 2-thread call waited milliseconds for its second
    thread, which made such a grid 50x slower than its arithmetic.
    """
    if request.node.get_closest_marker("library_threads"):
        yield
        return
    with tuning.override(work_per_thread=1, load_aware=False):
        yield


@pytest.fixture(params=list(_dispatch.builds()))
def level(request):
    """Run a test with the kernels of every build this CPU runs."""
    with _dispatch.use(request.param):
        yield request.param


@pytest.fixture
def tuned():
    """``tuned(name=value, ...)`` changes the planners' settings
    (:mod:`ndconv._plan.tuning`) until the end of the test."""
    with contextlib.ExitStack() as stack:
        yield lambda **values: stack.enter_context(tuning.override(**values))


@pytest.fixture
def core_threads(monkeypatch):
    """The thread counts the direct calls of the test run on, in order: those
    handed to the core's entry point (``correlate_nd`` of the build in use), and
    1 for each run of a compiled one-thread call (``FlatCall``) made during the
    test (planned calls' fast path)."""
    from ndconv._plan import direct

    seen = []
    mod = direct.core()
    real, real_flat = mod.correlate_nd, mod.FlatCall

    def spy(tables, x, out, w, cval, skip_cval, n_threads, *rest):
        seen.append(n_threads)
        return real(tables, x, out, w, cval, skip_cval, n_threads, *rest)

    class FlatSpy:
        def __init__(self, *args):
            self.real = real_flat(*args)

        def run(self, *args):
            seen.append(1)
            return self.real.run(*args)

    monkeypatch.setattr(mod, "correlate_nd", spy)
    monkeypatch.setattr(mod, "FlatCall", FlatSpy)
    return seen


def subprocess_env(**overrides):
    """``os.environ`` (with ``overrides``) for a Python subprocess that must import the
    ndconv under test -- installed, or built in place and not installed.

    The source tree is never assumed: the folder holding the imported ``ndconv`` is
    put on ``PYTHONPATH`` unless it is this interpreter's own site-packages.  Run the
    subprocess from a neutral folder (``cwd=tmp_path``): a ``python -c`` or
    ``python -m`` puts its working folder first, ahead of ``PYTHONPATH``.
    """
    import ndconv

    parent = os.path.dirname(os.path.dirname(os.path.abspath(ndconv.__file__)))
    env = dict(os.environ, **overrides)
    site = {os.path.abspath(sysconfig.get_paths()[k]) for k in ("purelib", "platlib")}
    if parent not in site:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (parent, env.get("PYTHONPATH")) if p)
    return env


def installed_metadata():
    """ndconv's distribution metadata; skips the test where ndconv is built in place but not
    installed (as in the emulated aarch64 run), which has none."""
    import importlib.metadata

    try:
        return importlib.metadata.metadata("ndconv")
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("ndconv is not installed here (built in place): no distribution metadata")


def per_axis_geometry(draw, st, names, max_k, fills):
    """A hypothesis draw of a per-axis-boundary problem: ``(shape, kshape, axes,
    mode, names, cvals)`` with 1-3 axes of length 1-7, a random subset and order of
    convolved axes, kernels of 1..``max_k`` taps ("valid": no longer than the axis),
    one boundary from ``names`` and one fill from ``fills`` per convolved axis."""
    nd = draw(st.integers(1, 3))
    shape = tuple(draw(st.integers(1, 7)) for _ in range(nd))
    n_conv = draw(st.integers(1, nd))
    axes = tuple(draw(st.permutations(range(nd)))[:n_conv])
    kshape = tuple(draw(st.integers(1, max_k)) for _ in axes)
    mode = draw(st.sampled_from(("full", "same", "valid")))
    if mode == "valid":
        kshape = tuple(min(K, shape[a]) for K, a in zip(kshape, axes))
    return (shape, kshape, axes, mode, [draw(st.sampled_from(names)) for _ in axes],
            [draw(st.sampled_from(fills)) for _ in axes])
