"""Where the large outputs go in memory (ndconv._plan.placement): half a page
from the input modulo the page, on huge pages; every result the same bits."""
import numpy as np
import pytest

import ndconv
from ndconv._plan import placement


def _addr(a):
    return a.__array_interface__["data"][0]


@pytest.mark.parametrize("shape, dtype", [((1024, 1024), np.float32), ((700, 800), np.float64),
                                          ((3, 5), np.int16), ((256, 1024), np.float64),
                                          ((2, 600, 700), np.complex64)])
@pytest.mark.parametrize("near", [None, 16, 2048, 4080, 100 * 4096 + 64])
def test_large_outputs_are_placed(shape, dtype, near):
    dtype = np.dtype(dtype)
    a = placement.empty(shape, dtype, near=near)
    assert a.shape == shape and a.dtype == dtype and a.flags.c_contiguous and a.flags.writeable
    if a.nbytes >= placement.MIN_PLACED:
        start = _addr(a)
        assert start % 64 == 0
        # on a huge page's boundary but for the spread from the input's page offset
        assert start % placement.HUGE_PAGE < placement.PAGE
        if near is not None:
            assert (start - near) % placement.PAGE in range(placement.SPREAD - 63,
                                                             placement.SPREAD + 1)
        else:
            assert start % placement.HUGE_PAGE == 0
    a[...] = 7   # the whole of it is writable memory of its own
    assert (a == 7).all()


def test_memory_order_is_kept():
    a = placement.empty((300, 400, 50), np.float32, near=0, perm=(2, 0, 1))
    assert a.shape == (300, 400, 50)
    assert a.transpose(2, 0, 1).flags.c_contiguous
    assert (_addr(a) - 0) % placement.PAGE == placement.SPREAD


def _placed_from(out, x):
    return _addr(out) % placement.PAGE == (_addr(x) + placement.SPREAD) % placement.PAGE // 64 * 64


def test_results_are_placed(rng):
    # a direct call's own output (unplanned, then planned calls), the layer's:
    # placed apart from the input, and the naive sum
    x = rng.standard_normal((800, 700)).astype(np.float32)
    k = rng.standard_normal((3, 3)).astype(np.float32)
    ref = np.zeros((798, 698), np.float64)
    for i in range(3):
        for j in range(3):
            ref += k[i, j].astype(np.float64) * x[i:i + 798, j:j + 698]
    # nine float32 products and sums: a few ulps of the sum of magnitudes
    bound = 9 * 2 * np.finfo(np.float32).eps * (np.abs(k).sum() * np.abs(x).max())
    for workers in (1, 1, 2):
        out = ndconv.correlate(x, k, "valid", workers=workers, method="direct")
        assert _placed_from(out, x)
        assert np.abs(out - ref).max() <= bound
    xl = rng.standard_normal((2, 120, 100, 64)).astype(np.float32)
    wl = rng.standard_normal((3, 3, 64, 32)).astype(np.float32)
    y = ndconv.conv(xl, wl, padding="same", layout="channels_last")
    assert _placed_from(y, xl)
    i, j, c = 37, 0, 5   # a pixel at the left edge: zero padding
    patch = np.zeros((3, 3, 64))
    patch[:, 1:] = xl[1, i - 1:i + 2, :2]
    assert np.isclose(y[1, i, j, c], np.einsum("ijc,ijc->", patch, wl[..., c]), rtol=1e-4,
                      atol=1e-4)


@pytest.mark.parametrize("shape, dtype", [((1, 9, 64, 64), np.float32), ((3, 5), np.float64),
                                          ((0,), np.float32), ((7,), np.complex128)])
def test_packed_arrays_start_on_a_line(shape, dtype):
    # 40 arrays with odd-sized ones between them: numpy's own would start
    # 16 bytes into a line in some of them
    keep = []
    for n in range(40):
        keep.append(np.empty(16 * n + 8, np.uint8))
        a = placement.zeros(shape, dtype)
        assert a.shape == shape and a.dtype == np.dtype(dtype) and a.flags.c_contiguous
        # (an empty array has no first element: numpy may point it anywhere)
        assert (a.size == 0 or _addr(a) % 64 == 0) and not a.any()
        a[...] = 1   # writable, and none of it shared with the array before it
        keep.append(a)
    assert all((b == 1).all() for b in keep[1::2])


def test_the_layer_reads_weights_from_whole_lines(rng, monkeypatch):
    # the forward pass and the weight gradient get their packed weights, bias
    # and partial sums on a line whatever the heap held before the call
    from ndconv import _layer
    seen = []
    real = _layer._dispatch.core

    class Spy:
        def __init__(self, mod):
            self.mod = mod

        def __getattr__(self, name):
            return getattr(self.mod, name)

        def forward(self, taps, wpack, bpack, out, n):
            seen.extend([_addr(wpack), _addr(bpack)])
            return self.mod.forward(taps, wpack, bpack, out, n)

        def weight_grad(self, taps, g, part, n):
            seen.append(_addr(part))
            return self.mod.weight_grad(taps, g, part, n)

    monkeypatch.setattr(_layer._dispatch, "core", lambda: Spy(real()))
    xl = rng.standard_normal((2, 9, 10, 8)).astype(np.float32)
    wl = rng.standard_normal((3, 3, 8, 20)).astype(np.float32)
    keep = []
    for n in range(12):
        keep.append(np.empty(16 * n + 8, np.uint8))
        y = ndconv.conv(xl, wl, bias=np.ones(20, np.float32), padding="same")
        ndconv.conv_grad(xl, wl, np.ones_like(y), padding="same")
    assert len(seen) >= 36 and all(a % 64 == 0 for a in seen)
