"""Signal size x kernel size, for each of ndconv's methods, scipy.ndimage alongside.

One thread, float32, ``mode="same"``, ``boundary="reflect"`` (scipy.ndimage's
"mirror").  ``impl`` is ndconv's ``method`` or ``"scipy.ndimage"``; direct
runs of more than ~2e9 multiply-adds (seconds each) are skipped.
"""
import numpy as np

import ndconv

_MAX_DIRECT_MACS = 2e9


class _Sweep:
    param_names = ["n", "k", "impl"]
    timeout = 120
    ndim = None

    def setup(self, n, k, impl):
        rng = np.random.default_rng(0)
        self.x = rng.standard_normal((n,) * self.ndim).astype(np.float32)
        self.k = rng.standard_normal((k,) * self.ndim).astype(np.float32)
        if impl in ("direct", "scipy.ndimage") and float(n) ** self.ndim * k ** self.ndim > _MAX_DIRECT_MACS:
            raise NotImplementedError("direct run too long for the suite")
        if impl == "scipy.ndimage":
            from scipy import ndimage
            fn = ndimage.convolve1d if self.ndim == 1 else ndimage.convolve
            self.fn = lambda: fn(self.x, self.k, mode="mirror")
        else:
            self.fn = lambda: ndconv.convolve(self.x, self.k, "same", boundary="reflect", method=impl,
                                              workers=1)

    def time_convolve(self, n, k, impl):
        self.fn()


IMPLS = ["auto", "direct", "fft", "scipy.ndimage"]


class Sweep1D(_Sweep):
    ndim = 1
    params = [[10 ** 4, 10 ** 6], [3, 31, 301, 3001], IMPLS]


class Sweep2D(_Sweep):
    ndim = 2
    params = [[256, 1024, 2048], [3, 7, 15, 31], IMPLS]


class Sweep3D(_Sweep):
    ndim = 3
    params = [[32, 128], [3, 7, 11], IMPLS]
