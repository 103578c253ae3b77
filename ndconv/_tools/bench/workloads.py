"""The reference workloads of ``ndconv bench``: W1-W9 (1-D FIR and long FIR,
2-D images with 3x3 to 15x15 kernels, a separable Gaussian, a 3-D volume,
float64, 4-D, small calls), each at three sizes.  W6 (the multi-channel layer)
is not part of them."""
import math

import numpy as np

SIZES = ("full", "quick", "tiny")


class Workload:
    """One reference problem.

    ``sizes`` maps ``"full"`` (the reference size), ``"quick"`` and ``"tiny"`` to
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
    # small calls, where the cost of a call shows (loops over patches, short
    # audio blocks): the same sizes in every run
    Workload("W9a", "2-D f32 256^2, 3x3 (small)", "float32",
             {"full": ((256, 256), (3, 3)), "quick": ((256, 256), (3, 3)), "tiny": ((32, 24), (3, 3))}),
    Workload("W9b", "2-D f32 256^2, 7x7 (small)", "float32",
             {"full": ((256, 256), (7, 7)), "quick": ((256, 256), (7, 7)), "tiny": ((32, 24), (7, 7))}),
    Workload("W9c", "1-D FIR f32 4096, 31 taps (small)", "float32",
             {"full": ((4096,), (31,)), "quick": ((4096,), (31,)), "tiny": ((500,), (31,))},
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

    def named(w, s):
        return w.wid.upper() == s or w.wid.upper().rstrip("ABC") == s
    chosen = [w for w in WORKLOADS if any(named(w, s) for s in wanted)]
    unknown = [s for s in wanted if not any(named(w, s) for w in WORKLOADS)]
    if unknown:
        raise ValueError("only: unknown workload(s) %s; known: %s"
                         % (", ".join(unknown), ", ".join(w.wid for w in WORKLOADS)))
    return chosen
