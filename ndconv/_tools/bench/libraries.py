"""How each peer library computes a workload, and its thread settings.

The one definition of how scipy, numpy, OpenCV (``cv2``) and PyTorch are called
for ``ndconv.convolve(x, k, mode, boundary=...)``: ``ndconv bench``, the asv
suite and ``benchmarks/plot_performance.py`` use it.
"""
import contextlib

import numpy as np

from ..._plan import boundary as _boundaries

LIBRARIES = ("scipy.signal", "scipy.ndimage", "numpy", "OpenCV", "torch")
FAMILIES = ("scipy", "numpy", "OpenCV", "torch")
# the boundaries every peer library can compute
BOUNDARIES = ("constant", "reflect", "symmetric")


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
    if boundary not in BOUNDARIES:
        raise ValueError("peers: boundary must be one of %s, got %r" % (", ".join(BOUNDARIES), boundary))
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
            out.append(Peer("scipy.signal", "scipy.signal.oaconvolve",
                            lambda t: sig.oaconvolve(x, k, mode)))
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
        nm = _boundaries.TO_NDIMAGE[boundary]
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
        border = getattr(cv2, _boundaries.TO_CV2_BORDER[boundary])
        shape2 = x.shape if nd == 2 else (1, x.shape[0])
        x2 = x.reshape(shape2)
        kf = _flip(k).reshape(k.shape if nd == 2 else (1, k.shape[0]))
        if factors is not None and nd == 2:
            fy, fx = _flip(factors[0]), _flip(factors[1])
            out.append(Peer("OpenCV", "cv2.sepFilter2D (%s)" % _boundaries.TO_CV2_BORDER[boundary],
                            lambda t: cv2.sepFilter2D(x2, -1, fx, fy, borderType=border)))
        out.append(Peer("OpenCV", "cv2.filter2D (%s)" % _boundaries.TO_CV2_BORDER[boundary],
                        lambda t: cv2.filter2D(x2, -1, kf, borderType=border).reshape(x.shape)))
    torch = mods.get("torch")
    if torch is not None and nd <= 3 and boundary in _boundaries.TO_TORCH_PAD:
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
            tmode = _boundaries.TO_TORCH_PAD[boundary]
            if factors is not None and nd == 2:
                th = torch.from_numpy(_flip(factors[1])).reshape(1, 1, 1, -1)
                tv = torch.from_numpy(_flip(factors[0])).reshape(1, 1, -1, 1)
                out.append(Peer("torch", "torch conv2d 1xK then Kx1 (F.pad reflect)",
                                lambda t: F.conv2d(F.conv2d(F.pad(tx, tpad, mode=tmode), th), tv)
                                .reshape(x.shape)))
            out.append(Peer("torch", "torch conv%dd (F.pad reflect)" % nd,
                            lambda t: conv(F.pad(tx, tpad, mode=tmode), tw).reshape(x.shape)))
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
