"""``ndconv bench``: ndconv against the convolution libraries installed here.

Runs the reference workloads W1-W8 of the speed issue (1-D FIR and long FIR,
2-D images with 3x3 to 15x15 kernels, a separable Gaussian, a 3-D volume,
float64, 4-D) at 1 and 2 threads and prints, for each workload, boundary
convention and thread count, ndconv's median time and its ratio to the fastest
call of each installed library (scipy, numpy, OpenCV as ``cv2``, PyTorch) for
the same problem and the same boundary convention.  Every library's output is
checked against ndconv's, so a ratio is only shown for calls that compute the
same thing.

This module is also the one definition of the workloads and of how each peer
library is called: the asv suite and ``benchmarks/plot_performance.py`` import
it.  W6 (the multi-channel layer) is not part of it.
"""
import argparse
import contextlib
import json
import math
import os
import platform
import sys
import time

import numpy as np

from ..timing import median_time

LIBRARIES = ("scipy.signal", "scipy.ndimage", "numpy", "OpenCV", "torch")
FAMILIES = ("scipy", "numpy", "OpenCV", "torch")
SIZES = ("full", "quick", "tiny")

# ndconv's boundary names are numpy.pad's; the same conventions in the peers' words.
_NDIMAGE_MODE = {"constant": "constant", "reflect": "mirror", "symmetric": "reflect"}
_CV2_BORDER = {"constant": "BORDER_CONSTANT", "reflect": "BORDER_REFLECT_101",
               "symmetric": "BORDER_REFLECT"}
_TORCH_PAD = {"reflect": "reflect"}  # torch has no half-sample ("symmetric") padding


def _optional(name):
    try:
        return __import__(name, fromlist=["_"])
    except Exception:  # noqa: BLE001 - a broken optional install counts as missing
        return None


_MODULES = {"scipy.signal": ["scipy.signal"], "scipy.ndimage": ["scipy.ndimage"], "numpy": [],
            "OpenCV": ["cv2"], "torch": ["torch", "torch.nn.functional"]}


def peer_modules(libs=LIBRARIES):
    """The optional modules of the peer libraries ``libs`` (default all), ``None``
    where not importable or not asked for; scipy.fft and threadpoolctl (thread
    settings) always.  Asking for fewer saves seconds of imports (torch)."""
    mods = {name: None for names in _MODULES.values() for name in names}
    for name in ["scipy.fft", "threadpoolctl"] + [n for lib in libs for n in _MODULES[lib]]:
        mods[name] = _optional(name)
    if mods["torch"] is None:
        mods["torch.nn.functional"] = None
    return mods


# ----------------------------------------------------------------------------- workloads
class Workload:
    """One reference problem.

    ``sizes`` maps ``"full"`` (the issue's size), ``"quick"`` and ``"tiny"`` to
    ``(x_shape, k_shape)``; ``None`` leaves the workload out of that run.
    ``kernel`` is ``"random"`` or ``"gauss"`` (a separable Gaussian of radius
    ``k//2`` and sigma ``k/6.4``, as 15x15 with sigma 7/3).
    """

    def __init__(self, wid, label, dtype, sizes, mode="same", boundaries=("reflect",),
                 kernel="random"):
        self.wid, self.label, self.dtype, self.sizes = wid, label, np.dtype(dtype), sizes
        self.mode, self.boundaries, self.kernel = mode, tuple(boundaries), kernel

    def __repr__(self):
        return "Workload(%s)" % self.wid

    def describe(self, size="full"):
        """The label, with the sizes of a ``quick`` or ``tiny`` run spelled out."""
        if size == "full":
            return self.label
        x_shape, k_shape = self.sizes[size]
        text = "%d-D %s %s, %s%s" % (len(x_shape), {"float32": "f32", "float64": "f64"}[self.dtype.name],
                                     "x".join(map(str, x_shape)), "x".join(map(str, k_shape)),
                                     " Gaussian" if self.kernel == "gauss" else "")
        return text + (", full" if self.mode == "full" else "")

    def data(self, size="full", seed=0):
        """``(x, k, factors)``: seeded input and kernel, and the kernel's 1-D factors
        (first axis first) when it is separable by construction, else ``None``."""
        x_shape, k_shape = self.sizes[size]
        rng = np.random.default_rng(seed)
        x = rng.standard_normal(x_shape, dtype=self.dtype)
        if self.kernel == "gauss":
            factors = [_gauss1d(n).astype(self.dtype) for n in k_shape]
            k = factors[0]
            for f in factors[1:]:
                k = np.multiply.outer(k, f)
            return x, np.ascontiguousarray(k, dtype=self.dtype), factors
        k = rng.standard_normal(k_shape)
        if self.mode == "full":
            k /= math.sqrt(k.size)  # long FIR: keep outputs O(1)
        return x, k.astype(self.dtype), None


def _gauss1d(n):
    r = n // 2
    t = np.arange(-r, r + 1, dtype=np.float64)
    g = np.exp(-0.5 * (t / (n / 6.4)) ** 2)
    return g / g.sum()


WORKLOADS = [
    Workload("W1", "1-D FIR f32 2^20, 31 taps", "float32",
             {"full": ((1 << 20,), (31,)), "quick": ((1 << 18,), (31,)), "tiny": ((3000,), (31,))},
             boundaries=("constant",)),
    Workload("W2a", "1-D long FIR f32 2^20, 2^14 taps, full", "float32",
             {"full": ((1 << 20,), (1 << 14,)), "quick": ((1 << 18,), (1 << 12,)), "tiny": ((4096,), (257,))},
             mode="full", boundaries=("constant",)),
    Workload("W2b", "1-D long FIR f32 2^20, 2^16 taps, full", "float32",
             {"full": ((1 << 20,), (1 << 16,)), "quick": None, "tiny": ((4096,), (1025,))},
             mode="full", boundaries=("constant",)),
    Workload("W3a", "2-D f32 2048^2, 3x3", "float32",
             {"full": ((2048, 2048), (3, 3)), "quick": ((1024, 1024), (3, 3)), "tiny": ((64, 48), (3, 3))},
             boundaries=("reflect", "symmetric")),
    Workload("W3b", "2-D f32 2048^2, 5x5", "float32",
             {"full": ((2048, 2048), (5, 5)), "quick": ((1024, 1024), (5, 5)), "tiny": ((64, 48), (5, 5))},
             boundaries=("reflect", "symmetric")),
    Workload("W4a", "2-D f32 2048^2, 15x15 random", "float32",
             {"full": ((2048, 2048), (15, 15)), "quick": ((1024, 1024), (15, 15)),
              "tiny": ((64, 48), (15, 15))},
             boundaries=("reflect", "symmetric")),
    Workload("W4b", "2-D f32 2048^2, 15x15 Gaussian", "float32",
             {"full": ((2048, 2048), (15, 15)), "quick": ((1024, 1024), (15, 15)),
              "tiny": ((64, 48), (15, 15))},
             kernel="gauss"),
    Workload("W5", "3-D f32 256^3, 5x5x5", "float32",
             {"full": ((256, 256, 256), (5, 5, 5)), "quick": ((96, 96, 96), (5, 5, 5)),
              "tiny": ((16, 12, 10), (5, 5, 5))}),
    Workload("W7", "2-D f64 1024^2, 7x7", "float64",
             {"full": ((1024, 1024), (7, 7)), "quick": ((512, 512), (7, 7)), "tiny": ((48, 40), (7, 7))},
             boundaries=("reflect", "symmetric")),
    Workload("W8", "4-D f32 48^4, 3^4", "float32",
             {"full": ((48,) * 4, (3,) * 4), "quick": ((24,) * 4, (3,) * 4),
              "tiny": ((8, 7, 6, 5), (3,) * 4)},
             boundaries=("constant",)),
]


def workload(wid):
    """The workload called ``wid`` (``"W3a"``; ``"W3"`` selects all of W3 in ``select``)."""
    for w in WORKLOADS:
        if w.wid == wid:
            return w
    raise ValueError("no workload %r; known: %s" % (wid, ", ".join(w.wid for w in WORKLOADS)))


def select(only):
    """The workloads named in ``only`` (comma-separated ids, case-insensitive; ``"W3"``
    means both W3a and W3b); all of them when ``only`` is empty."""
    if not only:
        return list(WORKLOADS)
    wanted = [s.strip().upper() for s in only.split(",") if s.strip()]
    chosen = [w for w in WORKLOADS if any(w.wid.upper() == s or w.wid.upper().rstrip("AB") == s
                                          for s in wanted)]
    unknown = [s for s in wanted if not any(w.wid.upper() == s or w.wid.upper().rstrip("AB") == s
                                            for w in WORKLOADS)]
    if unknown:
        raise ValueError("only: unknown workload(s) %s; known: %s"
                         % (", ".join(unknown), ", ".join(w.wid for w in WORKLOADS)))
    return chosen


# ----------------------------------------------------------------------------- peers
class Peer:
    """One way to compute a workload: ``call(threads)`` runs it once.

    ``threaded`` is False for calls that ignore every thread setting (timed once,
    reused at other thread counts).  ``macs`` is the multiply-add count of a
    direct (non-FFT) algorithm, used to leave slow calls out of quick runs;
    ``probe`` (1-D direct calls only) times a small slice to estimate a long call.
    """

    def __init__(self, lib, name, call, threaded=True, macs=0, probe=None):
        self.lib, self.name, self.call = lib, name, call
        self.threaded, self.macs, self.probe = threaded, macs, probe

    @property
    def family(self):
        return "scipy" if self.lib.startswith("scipy") else self.lib

    def __repr__(self):
        return "Peer(%s: %s)" % (self.lib, self.name)


def _flip(k):
    return np.ascontiguousarray(k[(slice(None, None, -1),) * k.ndim])


def _numpy_fft_convolve(x, k, out_shape_mode):
    """Linear convolution by numpy.fft (5-smooth sizes): "full" output, or "valid"
    (for an input already padded with the boundary rule)."""
    from ..._plan.fft import next_fast_len
    axes = tuple(range(x.ndim))
    full = [n + m - 1 for n, m in zip(x.shape, k.shape)]
    s = [next_fast_len(n, True) for n in full]
    y = np.fft.irfftn(np.fft.rfftn(x, s, axes) * np.fft.rfftn(k, s, axes), s, axes)
    if out_shape_mode == "full":
        sl = tuple(slice(0, n) for n in full)
    else:
        sl = tuple(slice(m - 1, n) for n, m in zip(x.shape, k.shape))
    return y[sl]


def peers(x, k, boundary, mode="same", factors=None, mods=None):
    """Every installed library's way to compute ``ndconv.convolve(x, k, mode,
    boundary=boundary)`` (odd kernel sizes; ``mode`` "same" or "full" with the
    constant boundary), best-known call of each library first.

    ndconv itself is not in the list: see :func:`ndconv_call`.
    """
    mods = peer_modules() if mods is None else mods
    if mode not in ("same", "full") or (mode == "full" and boundary != "constant"):
        raise ValueError("peers: mode 'same', or 'full' with boundary 'constant'")
    if mode == "same" and any(s % 2 == 0 for s in k.shape):
        raise ValueError("peers: 'same' needs odd kernel sizes (the peers centre even kernels differently)")
    out = []
    nd = x.ndim
    r = [s // 2 for s in k.shape]
    macs = int(np.prod(x.shape, dtype=np.int64)) * k.size
    pad = [(ri, ri) for ri in r]

    def padded():
        return np.pad(x, pad, mode=boundary)

    def probe_for(fn):
        # 1-D direct calls: the same call on a slice of the signal and the kernel,
        # scaled by the ratio of multiply-adds (outputs x taps)
        m, kp = min(x.shape[0], 8192), min(k.shape[0], 1023)
        xs, ks = x[:m], np.ascontiguousarray(k[:kp])

        def n_macs(n, kk):
            return (n + kk - 1 if mode == "full" else n) * kk
        return (lambda: fn(xs, ks)), n_macs(x.shape[0], k.shape[0]) / n_macs(m, kp)

    sig, ndi = mods.get("scipy.signal"), mods.get("scipy.ndimage")
    if sig is not None:
        if boundary == "constant":
            out.append(Peer("scipy.signal", "scipy.signal.oaconvolve", lambda t: sig.oaconvolve(x, k, mode)))
            out.append(Peer("scipy.signal", "scipy.signal.fftconvolve",
                            lambda t: sig.fftconvolve(x, k, mode)))
            meth = sig.choose_conv_method(x, k, mode=mode)
            out.append(Peer("scipy.signal", "scipy.signal.convolve (auto: %s)" % meth,
                            lambda t: sig.convolve(x, k, mode), threaded=(meth == "fft"),
                            macs=macs if meth == "direct" else 0))
        else:
            out.append(Peer("scipy.signal", "scipy.signal.fftconvolve (np.pad %s, valid)" % boundary,
                            lambda t: sig.fftconvolve(padded(), k, "valid")))
            if nd == 2 and boundary == "symmetric":
                out.append(Peer("scipy.signal", "scipy.signal.convolve2d (symm)",
                                lambda t: sig.convolve2d(x, k, "same", boundary="symm"),
                                threaded=False, macs=macs))
    if ndi is not None and mode == "same":
        nm = _NDIMAGE_MODE[boundary]
        if factors is not None:
            def sep(t, nm=nm):
                y = x
                for a, f in enumerate(factors):
                    y = ndi.convolve1d(y, f, axis=a, mode=nm)
                return y
            out.append(Peer("scipy.ndimage", "scipy.ndimage.convolve1d per axis (%s)" % nm, sep,
                            threaded=False))
        if nd == 1:
            out.append(Peer("scipy.ndimage", "scipy.ndimage.convolve1d (%s)" % nm,
                            lambda t: ndi.convolve1d(x, k, mode=nm), threaded=False, macs=macs))
        else:
            out.append(Peer("scipy.ndimage", "scipy.ndimage.convolve (%s)" % nm,
                            lambda t: ndi.convolve(x, k, mode=nm), threaded=False, macs=macs))
    # numpy: np.convolve for 1-D zero padding (first unless the kernel is long),
    # and FFT of the (padded) input
    np_calls = []
    if nd == 1 and boundary == "constant":
        probe = probe_for(lambda xs, ks: np.convolve(xs, ks, mode))
        np_calls.append(Peer("numpy", "numpy.convolve", lambda t: np.convolve(x, k, mode), macs=macs,
                             probe=probe))
    if mode == "full":
        np_calls.insert(0, Peer("numpy", "numpy.fft (rfftn)", lambda t: _numpy_fft_convolve(x, k, "full"),
                                threaded=False))
    else:
        np_calls.append(Peer("numpy", "numpy.fft (rfftn, np.pad %s)" % boundary,
                             lambda t: _numpy_fft_convolve(padded(), k, "valid"), threaded=False))
    out.extend(np_calls)
    cv2 = mods.get("cv2")
    if cv2 is not None and nd <= 2 and mode == "same":
        border = getattr(cv2, _CV2_BORDER[boundary])
        shape2 = x.shape if nd == 2 else (1, x.shape[0])
        x2 = x.reshape(shape2)
        kf = _flip(k).reshape(k.shape if nd == 2 else (1, k.shape[0]))
        if factors is not None and nd == 2:
            fy, fx = _flip(factors[0]), _flip(factors[1])
            out.append(Peer("OpenCV", "cv2.sepFilter2D (%s)" % _CV2_BORDER[boundary],
                            lambda t: cv2.sepFilter2D(x2, -1, fx, fy, borderType=border)))
        out.append(Peer("OpenCV", "cv2.filter2D (%s)" % _CV2_BORDER[boundary],
                        lambda t: cv2.filter2D(x2, -1, kf, borderType=border).reshape(x.shape)))
    torch = mods.get("torch")
    if torch is not None and nd <= 3 and (boundary == "constant" or boundary in _TORCH_PAD):
        F = mods["torch.nn.functional"]
        conv = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}[nd]
        tx = torch.from_numpy(np.ascontiguousarray(x)).reshape((1, 1) + x.shape)
        tw = torch.from_numpy(_flip(k)).reshape((1, 1) + k.shape)
        if mode == "full":
            width = tuple(s - 1 for s in k.shape)

            def tconv(t, xx=tx):
                return conv(xx, tw, padding=width).reshape(-1)

            def tprobe_fn(xs, ks):
                return conv(torch.from_numpy(np.ascontiguousarray(xs)).reshape(1, 1, -1),
                            torch.from_numpy(_flip(ks)).reshape(1, 1, -1), padding=ks.shape[0] - 1)
            out.append(Peer("torch", "torch conv1d (padding K-1)", tconv, macs=macs,
                            probe=probe_for(tprobe_fn)))
        elif boundary == "constant":
            out.append(Peer("torch", "torch conv%dd (zero padding)" % nd,
                            lambda t: conv(tx, tw, padding=tuple(r)).reshape(x.shape)))
        else:
            tpad = [p for ri in reversed(r) for p in (ri, ri)]
            if factors is not None and nd == 2:
                th = torch.from_numpy(_flip(factors[1])).reshape(1, 1, 1, -1)
                tv = torch.from_numpy(_flip(factors[0])).reshape(1, 1, -1, 1)
                out.append(Peer("torch", "torch conv2d 1xK then Kx1 (F.pad reflect)",
                                lambda t: F.conv2d(F.conv2d(F.pad(tx, tpad, mode="reflect"), th), tv)
                                .reshape(x.shape)))
            out.append(Peer("torch", "torch conv%dd (F.pad reflect)" % nd,
                            lambda t: conv(F.pad(tx, tpad, mode="reflect"), tw).reshape(x.shape)))
    return out


def ndconv_call(x, k, boundary, mode="same"):
    """ndconv with default options (``method="auto"``), as a :class:`Peer`."""
    import ndconv
    return Peer("ndconv", "ndconv.convolve (%s, %s)" % (mode, boundary),
                lambda t: ndconv.convolve(x, k, mode, boundary=boundary, workers=t))


@contextlib.contextmanager
def thread_settings(n, mods=None):
    """Run the peers with ``n`` threads: OpenCV, torch, scipy.fft workers and BLAS
    (threadpoolctl); the previous settings are restored afterwards."""
    mods = peer_modules() if mods is None else mods
    cv2, torch = mods.get("cv2"), mods.get("torch")
    saved_cv2 = cv2.getNumThreads() if cv2 is not None else None
    saved_torch = torch.get_num_threads() if torch is not None else None
    try:
        with contextlib.ExitStack() as stack:
            if mods.get("scipy.fft") is not None:
                stack.enter_context(mods["scipy.fft"].set_workers(n))
            if mods.get("threadpoolctl") is not None:
                stack.enter_context(mods["threadpoolctl"].threadpool_limits(limits=n, user_api="blas"))
            # after threadpoolctl: restoring BLAS limits can reset torch's count
            if cv2 is not None:
                cv2.setNumThreads(n)
            if torch is not None:
                torch.set_num_threads(n)
            yield
    finally:
        if cv2 is not None:
            cv2.setNumThreads(saved_cv2)
        if torch is not None:
            torch.set_num_threads(saved_torch)


# ----------------------------------------------------------------------------- timing


def _to_numpy(y):
    if hasattr(y, "detach"):  # torch tensor
        y = y.detach().numpy()
    return np.asarray(y)


def relative_error(y, ref):
    """``max|y - ref| / max|ref|`` (inf when the shapes differ)."""
    y = _to_numpy(y)
    if y.shape != ref.shape:
        return math.inf
    scale = float(np.max(np.abs(ref))) or 1.0
    return float(np.max(np.abs(y.astype(np.float64) - ref))) / scale


def agreement_tolerance(dtype):
    """Largest relative difference from ndconv's result that still counts as the
    same computation.  This checks conventions (a wrong boundary or centring
    gives O(1) differences), not accuracy: float32 FFT and DFT paths of the
    peers differ from a direct sum by about eps*log2(N)*sqrt(K) relative to the
    largest output, far below 1e-3 for these sizes."""
    return 1e-3 if np.dtype(dtype).itemsize <= 4 else 1e-9


class _Progress:
    """A one-line progress bar on a terminal (silent when the stream is not one)."""

    def __init__(self, total, stream=None, enabled=None, width=24):
        self.stream = sys.stderr if stream is None else stream
        if enabled is None:
            enabled = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.total, self.done, self.enabled, self.width = max(1, total), 0, enabled, width
        self.t0 = time.perf_counter()

    def update(self, label):
        if not self.enabled:
            return
        frac = min(1.0, self.done / self.total)
        fill = int(round(frac * self.width))
        line = "[%s%s] %3d/%d %4.0fs  %s" % ("#" * fill, "." * (self.width - fill), self.done, self.total,
                                             time.perf_counter() - self.t0, label)
        self.stream.write("\r" + line[:100].ljust(100))
        self.stream.flush()

    def step(self, label=""):
        self.done += 1
        self.update(label)

    def close(self):
        if self.enabled:
            self.stream.write("\r" + " " * 100 + "\r")
            self.stream.flush()


# ----------------------------------------------------------------------------- run
# size -> (budget s per call, min reps, max reps, max MACs of a slow direct peer, probe limit s)
_SETTINGS = {
    "full": (0.5, 5, 15, math.inf, 10.0),
    "quick": (0.08, 3, 9, 3e8, 2.0),
    "tiny": (0.0, 1, 1, math.inf, 2.0),
}


def run(size="full", threads=(1, 2), only="", budget=None, progress=None, seed=0, verbose=None):
    """Time ndconv and every installed peer on the workloads.

    Returns a dict: ``meta`` (machine, versions, settings) and ``rows``, one per
    (workload, boundary, threads, call) with ``median_s``, ``status`` ("ok",
    "mismatch", "skipped: ...", "error: ...") and, for ok peer calls,
    ``ratio`` = ndconv's median / this call's median.
    """
    if size not in SIZES:
        raise ValueError("size must be one of %s, got %r" % (", ".join(map(repr, SIZES)), size))
    threads = [int(t) for t in threads]
    if not threads or min(threads) < 1:
        raise ValueError("threads must be positive integers, got %r" % (threads,))
    b_default, min_reps, max_reps, max_macs, probe_limit = _SETTINGS[size]
    budget = b_default if budget is None else float(budget)
    mods = peer_modules()
    chosen = [w for w in select(only) if w.sizes.get(size) is not None]

    plans = []  # (workload, arrays, [(boundary, [calls])])
    for w in chosen:
        x, k, factors = w.data(size, seed)
        per_b = []
        for b in w.boundaries:
            calls = [ndconv_call(x, k, b, w.mode)] + peers(x, k, b, w.mode, factors, mods)
            per_b.append((b, calls))
        plans.append((w, per_b))
    total = sum(len(calls) * len(threads) for _, per_b in plans for _, calls in per_b)
    bar = _Progress(total, enabled=progress)

    rows = []
    single = {}  # results of calls that ignore thread settings, by (wid, boundary, name)
    for w, per_b in plans:
        for b, calls in per_b:
            for t in threads:
                ref, t_nd = None, None
                with thread_settings(t, mods):
                    for c in calls:
                        bar.update("%s %s t=%d %s" % (w.wid, b, t, c.name))
                        row = {"wid": w.wid, "workload": w.describe(size), "boundary": b, "threads": t,
                               "lib": c.lib, "family": c.family if c.lib != "ndconv" else "ndconv",
                               "call": c.name, "threaded": c.threaded, "size": size,
                               "shape": list(w.sizes[size][0]), "kshape": list(w.sizes[size][1]),
                               "dtype": w.dtype.name}
                        key = (w.wid, b, c.name)
                        if not c.threaded and key in single:
                            row.update({kk: v for kk, v in single[key].items()
                                        if kk in ("median_s", "reps", "status", "rel_err")})
                            row["reused"] = True
                        else:
                            row.update(time_call(c, t, ref, w.dtype, budget, min_reps, max_reps,
                                                  max_macs, probe_limit))
                            if c.lib == "ndconv":
                                ref = row.pop("_result")
                            row.pop("_result", None)
                            if not c.threaded:
                                single[key] = row
                        if c.lib == "ndconv" and row["status"] == "ok":
                            t_nd = row["median_s"]
                        if row["status"] == "ok" and c.lib != "ndconv" and t_nd:
                            row["ratio"] = t_nd / row["median_s"]
                        rows.append(row)
                        bar.step()
                        if verbose:
                            _print_row(row, verbose)
                del ref
    bar.close()
    return {"meta": machine_info(size=size, threads=threads, budget=budget, seed=seed,
                                 only=only, mods=mods), "rows": rows}


def estimate_seconds(peer):
    """Estimated seconds of one call of a peer with a ``probe`` (long 1-D direct
    calls), from a small slice; None for other peers."""
    if peer.probe is None:
        return None
    fn, scale = peer.probe
    fn()
    t0 = time.perf_counter()
    fn()
    return (time.perf_counter() - t0) * scale


def time_call(c, t, ref, dtype, budget, min_reps=3, max_reps=15, max_macs=math.inf, probe_limit=math.inf):
    """Time one :class:`Peer` at ``t`` threads (inside :func:`thread_settings`).

    Returns a dict with ``status`` ("ok", "mismatch", "skipped: ...", "error: ...")
    and, when it ran, ``median_s``, ``reps`` and ``rel_err`` against ``ref`` (a
    float64 array; None skips the check).  For ndconv's own call, ``_result``
    holds its output in float64, to serve as ``ref`` for the peers.
    """
    out = {}
    try:
        if c.lib != "ndconv" and c.macs > max_macs:
            out["status"] = "skipped: %.1e multiply-adds (slow direct path; not in this run size)" % c.macs
            return out
        est = estimate_seconds(c)
        if est is not None:
            out["estimate_s"] = est
            if est > probe_limit:
                out["status"] = "skipped: estimated %.0f s per call" % est
                return out
        med, reps, y = median_time(lambda: c.call(t), budget, min_reps, max_reps)
        out.update(median_s=med, reps=reps, status="ok")
        y = _to_numpy(y)
        if c.lib == "ndconv":
            out["_result"] = y.astype(np.float64)
        elif ref is not None:
            err = relative_error(y, ref)
            out["rel_err"] = err
            if not err <= agreement_tolerance(dtype):
                out["status"] = "mismatch"
    except Exception as exc:  # noqa: BLE001 - one failing peer must not stop the run
        out["status"] = "error: %s: %s" % (type(exc).__name__, str(exc)[:100])
    return out


def _print_row(row, stream):
    stream = sys.stderr if stream is True else stream
    if row["status"] == "ok":
        extra = "  x%.2f" % row["ratio"] if "ratio" in row else ""
        print("  %-5s %-9s t=%d  %-52s %9.3f ms%s" % (row["wid"], row["boundary"], row["threads"],
                                                       row["call"][:52], row["median_s"] * 1e3, extra),
              file=stream)
    else:
        print("  %-5s %-9s t=%d  %-52s %s" % (row["wid"], row["boundary"], row["threads"], row["call"][:52],
                                              row["status"]), file=stream)


def _cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info(mods=None, **settings):
    """Machine, library versions and ndconv's configuration, for the record."""
    import ndconv

    from ..._config import config
    mods = peer_modules() if mods is None else mods
    versions = {"numpy": np.__version__}
    for name, mod in (("scipy", "scipy.signal"), ("OpenCV", "cv2"), ("torch", "torch")):
        m = mods.get(mod)
        if m is not None:
            versions[name] = getattr(sys.modules.get(mod.split(".")[0]), "__version__", "?")
    try:
        load = os.getloadavg()[0]
    except OSError:
        load = None
    meta = {"date": time.strftime("%Y-%m-%d %H:%M"), "cpu": _cpu_model(), "cores": os.cpu_count(),
            "machine": platform.machine(), "python": platform.python_version(),
            "ndconv": ndconv.__version__, "ndconv_config": config(), "versions": versions,
            "load_average_1min": load,
            # these slow numpy's OpenBLAS (peerbench warns about them too)
            "openblas_env": {v: os.environ[v] for v in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
                             if v in os.environ}}
    meta.update(settings)
    return meta


# ----------------------------------------------------------------------------- report
def summarize(result):
    """One entry per (workload, boundary, threads): ndconv's time and, per family,
    the fastest agreeing call, its time and ndconv's ratio to it."""
    out = []
    index = {}
    for r in result["rows"]:
        key = (r["wid"], r["boundary"], r["threads"])
        if key not in index:
            index[key] = {"wid": r["wid"], "workload": r["workload"], "boundary": r["boundary"],
                          "threads": r["threads"], "ndconv_s": None, "peers": {}, "notes": []}
            out.append(index[key])
        e = index[key]
        if r["lib"] == "ndconv":
            if r["status"] == "ok":
                e["ndconv_s"] = r["median_s"]
            else:
                e["notes"].append("ndconv: %s" % r["status"])
            continue
        if r["status"] == "mismatch":
            e["notes"].append("%s disagrees with ndconv (rel. difference %.1e): left out"
                              % (r["call"], r["rel_err"]))
        if r["status"] != "ok":
            continue
        best = e["peers"].get(r["family"])
        if best is None or r["median_s"] < best["median_s"]:
            e["peers"][r["family"]] = {"call": r["call"], "median_s": r["median_s"], "ratio": r.get("ratio")}
    for e in out:
        ok = [p for p in e["peers"].values()]
        fastest = min(ok, key=lambda p: p["median_s"]) if ok else None
        e["fastest"] = fastest
        e["ratio_fastest"] = (e["ndconv_s"] / fastest["median_s"]) if (fastest and e["ndconv_s"]) else None
    return out


def table_rows(result, ms, fastest, missing):
    """``(families, rows)`` of the comparison table: per workload, boundary and
    thread count, ndconv's time (format ``ms``, milliseconds), its ratio to each
    library family's fastest call, and that call (format ``fastest``, name and
    milliseconds); ``missing`` where there is nothing to show."""
    summ = summarize(result)
    fams = [f for f in FAMILIES if any(f in e["peers"] for e in summ)]
    rows = []
    for e in summ:
        cells = [e["wid"] + " " + e["workload"], e["boundary"], str(e["threads"]),
                 ms % (e["ndconv_s"] * 1e3) if e["ndconv_s"] else missing]
        for f in fams:
            p = e["peers"].get(f)
            cells.append("%.2f" % p["ratio"] if p and p["ratio"] is not None else missing)
        fb = e["fastest"]
        cells.append(fastest % (fb["call"], fb["median_s"] * 1e3) if fb else missing)
        rows.append(cells)
    return fams, rows


def format_table(result):
    """The comparison as a plain-text table."""
    fams, body = table_rows(result, "%.3f", "%s %.3f ms", "-")
    head = ["workload", "boundary", "thr", "ndconv ms"] + ["/%s" % f for f in fams] + ["fastest peer"]
    lines = []
    widths = [max(len(r[i]) for r in [head] + body) for i in range(len(head))]
    right = set(range(2, len(head) - 1))

    def fmt(cells):
        return "  ".join(c.rjust(wd) if i in right else c.ljust(wd)
                         for i, (c, wd) in enumerate(zip(cells, widths))).rstrip()
    lines.append(fmt(head))
    lines.append("  ".join("-" * wd for wd in widths))
    lines.extend(fmt(c) for c in body)
    m = result["meta"]
    lines.append("")
    lines.append("/lib = ndconv's median time / the fastest call of that library for the same problem and")
    lines.append("boundary convention (below 1: ndconv is faster).  Medians of repeats, size %r, %s, "
                 "%s cores," % (m["size"], m["cpu"], m["cores"]))
    lines.append("%s; %s." % (", ".join("%s %s" % kv for kv in m["versions"].items()), m["date"]))
    missing = [lib for lib, mod in (("OpenCV", "cv2"), ("torch", "torch"), ("scipy", "scipy"))
               if lib not in m["versions"]]
    if missing:
        lines.append("Not installed (not compared): %s." % ", ".join(missing))
    notes = [n for e in summarize(result) for n in e["notes"]]
    for n in dict.fromkeys(notes):
        lines.append("Note: " + n)
    if m.get("load_average_1min") is not None and m["load_average_1min"] > 0.5:
        lines.append("Warning: load average %.2f when the run started; timings are noisy."
                     % m["load_average_1min"])
    return "\n".join(lines)


# ----------------------------------------------------------------------------- CLI
_DESCRIPTION = """\
Time ndconv against the convolution libraries installed here (scipy, numpy,
OpenCV, PyTorch) on the reference workloads W1-W8 and print ndconv's time and
its ratio to each library's fastest call, at 1 and 2 threads.  Takes a few
minutes (--quick: under a minute).  Run it on an otherwise idle machine."""


def _add_arguments(p):
    p.add_argument("--quick", action="store_true", help="smaller sizes, fewer repeats (under a minute)")
    p.add_argument("--size", choices=SIZES, default=None,
                   help="problem sizes: full (the default), quick (= --quick), or tiny (seconds; "
                        "checks that every library computes the same thing, timings meaningless)")
    p.add_argument("--threads", default="1,2", help="comma-separated thread counts (default 1,2)")
    p.add_argument("--only", default="", help="comma-separated workloads, e.g. W1,W3 (default all)")
    p.add_argument("--budget", type=float, default=None,
                   help="seconds of timed calls per measurement (default 0.5; quick 0.08)")
    p.add_argument("--json", default=None, metavar="PATH", help="also write every measurement as JSON")
    p.add_argument("--verbose", action="store_true", help="print every call's time on stderr")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def _run_args(args):
    size = args.size or ("quick" if args.quick else "full")
    if args.quick and args.size not in (None, "quick"):
        raise SystemExit("ndconv bench: --quick and --size %s contradict each other" % args.size)
    try:
        threads = [int(s) for s in args.threads.split(",") if s.strip()]
    except ValueError:
        raise SystemExit("ndconv bench: --threads must be a comma-separated list of integers, got %r"
                         % args.threads) from None
    try:
        result = run(size=size, threads=threads, only=args.only, budget=args.budget,
                     progress=False if args.no_progress else None,
                     verbose=sys.stderr if args.verbose else None)
    except ValueError as exc:
        raise SystemExit("ndconv bench: %s" % exc) from None
    print(format_table(result))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1, default=str)
    return 0


def add_parser(subparsers):
    """Register ``bench`` on an argparse subparsers object (for ``ndconv``'s CLI)."""
    p = subparsers.add_parser("bench", help="time ndconv against scipy, numpy, OpenCV and torch",
                              description=_DESCRIPTION)
    _add_arguments(p)
    p.set_defaults(func=_run_args)
    return p


def main(argv=None):
    """``ndconv bench [--quick] ...``; returns the exit status."""
    p = argparse.ArgumentParser(prog="ndconv bench", description=_DESCRIPTION)
    _add_arguments(p)
    return _run_args(p.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
