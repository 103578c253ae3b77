"""A batch of kernels: k's leading axes broadcast against x's other axes.

The reference is a loop of single calls written here (bitwise for the direct
method: the batch runs exactly those calls)."""
import numpy as np
import pytest

import ndconv


@pytest.mark.parametrize("op", ["convolve", "correlate"])
@pytest.mark.parametrize("mode", ["full", "same", "valid"])
@pytest.mark.parametrize("boundary", ["constant", "reflect", "wrap"])
def test_one_fir_per_channel(op, mode, boundary):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((6, 700)).astype(np.float32)
    k = rng.standard_normal((6, 31)).astype(np.float32)
    f = getattr(ndconv, op)
    y = f(x, k, mode, axes=-1, boundary=boundary, cval=0.5, method="direct")
    ref = np.stack([f(x[c], k[c], mode, boundary=boundary, cval=0.5, method="direct")
                    for c in range(6)])
    assert y.dtype == ref.dtype
    assert np.array_equal(y, ref)


@pytest.mark.parametrize("method", ["direct", "fft"])
def test_one_psf_per_image(method):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((5, 40, 33))
    k = rng.standard_normal((5, 7, 7))
    y = ndconv.convolve(x, k, "same", axes=(1, 2), boundary="symmetric", method=method)
    ref = np.stack([ndconv.convolve(x[b], k[b], "same", boundary="symmetric", method=method)
                    for b in range(5)])
    if method == "direct":
        assert np.array_equal(y, ref)
    else:
        eps = np.finfo(np.float64).eps
        assert np.abs(y - ref).max() <= 8 * eps * np.log2(40 * 33) * 49 * np.abs(k).max() * \
            np.abs(x).max()


def test_broadcasting_rules():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((3, 1, 50))          # one signal per row, shared across kernels
    k = rng.standard_normal((4, 9))              # 4 kernels along x's axis 1
    y = ndconv.convolve(x, k, axes=2, method="direct")
    assert y.shape == (3, 4, 58)
    for i in range(3):
        for j in range(4):
            assert np.array_equal(y[i, j], ndconv.convolve(x[i, 0], k[j], method="direct"))
    # a size-1 kernel batch axis applies its kernel to every index of x's axis
    k1 = rng.standard_normal((1, 9))
    y1 = ndconv.convolve(x[:, 0, :], k1, axes=1, method="direct")
    assert np.array_equal(y1, ndconv.convolve(x[:, 0, :], k1[0], axes=1, method="direct"))
    # extra leading axes of x share the kernel of their batch index
    x3 = rng.standard_normal((2, 4, 60))
    y3 = ndconv.correlate(x3, k, "valid", axes=-1, method="direct")
    for i in range(2):
        for j in range(4):
            assert np.array_equal(y3[i, j], ndconv.correlate(x3[i, j], k[j], "valid",
                                                             method="direct"))


def test_integer_batch_with_dtype():
    rng = np.random.default_rng(3)
    x = rng.integers(0, 256, (3, 20, 20)).astype(np.uint8)
    k = rng.integers(-2, 3, (3, 3, 3))
    y = ndconv.correlate(x, k, "same", axes=(1, 2), dtype=np.uint8)
    for b in range(3):
        want = ndconv.correlate(x[b].astype(np.int64), k[b], "same", method="direct")
        assert np.array_equal(y[b], np.clip(want, 0, 255).astype(np.uint8))


def test_batch_errors():
    x = np.ones((4, 30))
    with pytest.raises(ValueError, match="broadcast"):
        ndconv.convolve(x, np.ones((3, 5)), axes=-1)
    with pytest.raises(ValueError, match="batch axes"):
        ndconv.convolve(x, np.ones((2, 4, 5)), axes=-1)
    with pytest.raises(ValueError, match="k.ndim"):
        ndconv.convolve(x, np.ones((2, 4, 5)))     # no axes: no batch, k.ndim must be x.ndim
    x_in, k_in = x.copy(), np.ones((4, 5))
    ndconv.convolve(x_in, k_in, axes=-1)
    assert np.array_equal(x_in, x)


@pytest.mark.parametrize("mode", ["full", "same", "valid"])
@pytest.mark.parametrize("boundary", ["constant", "symmetric", "wrap"])
def test_fft_batch_broadcasts_in_one_pass(mode, boundary):
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, 1, 120))        # x shared by 3 kernels on axis 1
    k = rng.standard_normal((3, 11)) + 1j * rng.standard_normal((3, 11))
    y = ndconv.correlate(x, k, mode, axes=-1, boundary=boundary, cval=0.25, method="fft")
    ref = np.empty(y.shape, y.dtype)
    for i in range(2):
        for j in range(3):
            ref[i, j] = ndconv.correlate(x[i, 0], k[j], mode, boundary=boundary, cval=0.25,
                                         method="direct")
    eps = np.finfo(np.float64).eps
    bound = 8 * eps * np.log2(256) * 11 * np.abs(k).max() * max(np.abs(x).max(), 0.25)
    assert np.abs(y - ref).max() <= bound


def test_auto_batch_is_a_loop_of_auto_calls():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((3, 2000))
    k = rng.standard_normal((3, 300))
    y = ndconv.convolve(x, k, axes=-1)
    for c in range(3):
        assert np.array_equal(y[c], ndconv.convolve(x[c], k[c]))


@pytest.mark.parametrize("method", ["direct", "fft"])
@pytest.mark.parametrize("boundary, cval", [(["wrap", "reflect"], 0.0),
                                            (["constant", "constant"], [1.0, -2.0]),
                                            ({1: "edge"}, [0.5, 0.0]), ({-1: "wrap"}, 0.0)])
def test_per_axis_boundaries_in_a_batch(method, boundary, cval):
    rng = np.random.default_rng(6)
    x = rng.standard_normal((3, 20, 17))
    k = rng.standard_normal((3, 5, 4))
    y = ndconv.convolve(x, k, "same", axes=(1, 2), boundary=boundary, cval=cval, method=method)
    # a dict names axes of x; each slice's axes are one lower
    sub = {(a - 1 if a > 0 else a): v for a, v in boundary.items()} \
        if isinstance(boundary, dict) else boundary
    ref = np.stack([ndconv.convolve(x[i], k[i], "same", boundary=sub, cval=cval, method="direct")
                    for i in range(3)])
    if method == "direct":
        assert np.array_equal(y, ref)
    else:
        eps = np.finfo(np.float64).eps
        assert np.abs(y - ref).max() <= 8 * eps * np.log2(24 * 21) * 20 * np.abs(k).max() * 3
