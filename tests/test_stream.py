"""ndconv.Stream: blocks in, the one call's result out.

The reference of every test is one ``ndconv.convolve`` call over the whole
signal, zero-extended along the stream axis (the direct method: bitwise), and
for the direct method itself a naive sum written here.
"""
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ndconv
from ndconv.stream import Stream


def naive_full_1d(x, k):
    """Full linear convolution by its definition, in float64 / complex128."""
    n, K = len(x), len(k)
    acc = np.result_type(x, k, np.float64)
    y = np.zeros(n + K - 1, acc)
    for j in range(K):
        y[j:j + n] += k[j] * x.astype(acc)
    return y


def stream_all(s, blocks, axis=-1):
    parts = [s.process(b) for b in blocks] + [s.flush()]
    return np.concatenate(parts, axis=axis)


def one_call(x, k, mode, axis=-1, boundary="constant", cval=0.0):
    """The stream's contract: one convolve call, zero along the stream axis."""
    if k.ndim == 1:
        return ndconv.convolve(x, k, mode, axes=axis, method="direct")
    K = k.shape[axis]
    pad = [(0, 0)] * x.ndim
    pad[axis] = (K - 1, K - 1)
    xp = np.pad(x, pad)
    y = ndconv.convolve(xp, k, mode, boundary=boundary, cval=cval, method="direct")
    n = x.shape[axis]
    keep = slice(K - 1, K - 1 + n + K - 1) if mode == "full" else slice(K - 1, K - 1 + n)
    return y[(slice(None),) * (axis % x.ndim) + (keep,)]


def split(x, sizes, axis=-1):
    cuts = np.cumsum(sizes)[:-1]
    return np.split(x, cuts, axis=axis)


def fft_tolerance(x, k, L, dtype):
    """Overlap-save: each output sums ``P = ceil(K / L)`` partition products
    in the frequency domain after transforms of ``2 L`` samples, each adding
    relative roundings of ``eps`` per stage, on terms bounded by
    ``sum|k| * max|x|`` (which bounds ``|k| (*) |x|``)."""
    eps = np.finfo(dtype).eps
    P = math.ceil(k.shape[-1] / L)
    return 8 * eps * (math.log2(2 * L) + P) * np.abs(k).sum() * max(np.abs(x).max(), 1e-300)


DTYPES = [np.float32, np.float64, np.complex64, np.complex128, np.int16, np.bool_]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("K", [1, 2, 3, 8, 33])
@pytest.mark.parametrize("mode", ["full", "same"])
def test_direct_stream_is_bitwise_one_call(dtype, K, mode):
    rng = np.random.default_rng(K)
    x = (rng.standard_normal(260) * 20).astype(dtype)
    kdt = np.float32 if dtype in (np.float32, np.complex64) else np.float64
    k = rng.standard_normal(K).astype(kdt)
    sizes = [0, 1, 1, 7, 0, 2, 100, 149]
    y = stream_all(Stream(k, mode=mode, method="direct"), split(x, sizes))
    ref = one_call(x, k, mode)
    assert y.dtype == ref.dtype
    assert y.shape == ref.shape
    assert np.array_equal(y, ref)
    # and the one call is the convolution (a naive sum, to float rounding)
    full = naive_full_1d(x, k)
    s = (K - 1) // 2
    want = full if mode == "full" else full[s:s + len(x)]
    eps = np.finfo(ref.dtype).eps
    bound = 4 * K * eps * naive_full_1d(np.abs(x.astype(np.complex128)), np.abs(k))
    if mode == "same":
        bound = bound[s:s + len(x)]
    assert np.all(np.abs(y - want) <= bound + 1e-300)


@settings(max_examples=40, deadline=None)
@given(sizes=st.lists(st.integers(0, 40), min_size=1, max_size=12),
       K=st.integers(1, 20), mode=st.sampled_from(["full", "same"]),
       seed=st.integers(0, 2**31))
def test_any_block_sizes_direct(sizes, K, mode, seed):
    rng = np.random.default_rng(seed)
    n = sum(sizes)
    x = rng.standard_normal((2, n))
    k = rng.standard_normal(K)
    s = Stream(k, mode=mode, method="direct")
    if n == 0:
        y = stream_all(s, split(x, sizes))
        assert y.shape[-1] == 0
        return
    y = stream_all(s, split(x, sizes))
    assert np.array_equal(y, one_call(x, k, mode))


@settings(max_examples=30, deadline=None)
@given(sizes=st.lists(st.integers(0, 70), min_size=1, max_size=10).filter(lambda v: sum(v) > 0),
       K=st.integers(2, 90), L=st.integers(1, 40), mode=st.sampled_from(["full", "same"]),
       seed=st.integers(0, 2**31))
def test_any_block_sizes_overlap_save(sizes, K, L, mode, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(sum(sizes))
    k = rng.standard_normal(K)
    y = stream_all(Stream(k, mode=mode, method="fft", partition=L), split(x, sizes))
    ref = one_call(x, k, mode)
    assert y.shape == ref.shape
    assert np.abs(y - ref).max() <= fft_tolerance(x, k, L, np.float64)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex64, np.complex128])
@pytest.mark.parametrize("axis", [0, 1, -1])
def test_overlap_save_long_kernel_multichannel(dtype, axis):
    rng = np.random.default_rng(3)
    shape = [3, 4, 500]
    shape[axis] = 2000
    x = rng.standard_normal(shape).astype(dtype)
    if np.dtype(dtype).kind == "c":
        x = x + 1j * rng.standard_normal(shape).astype(dtype)
    k = rng.standard_normal(700).astype(dtype)
    if np.dtype(dtype).kind == "c":
        k = k + 1j * rng.standard_normal(700).astype(dtype)
    s = Stream(k, axis=axis, method="fft", partition=128)
    y = stream_all(s, split(x, [5, 300, 0, 1000, 695], axis=axis), axis=axis)
    wide = np.complex128 if x.dtype.kind == "c" else np.float64
    ref = ndconv.convolve(x.astype(wide), k.astype(wide), "full", axes=axis, method="direct")
    assert y.dtype == np.dtype(dtype)
    assert np.abs(y - ref).max() <= fft_tolerance(x, k, 128, dtype)
    assert s.latency == 127


@pytest.mark.parametrize("mode", ["full", "same"])
@pytest.mark.parametrize("boundary", ["constant", "edge", "symmetric", "reflect", "wrap"])
@pytest.mark.parametrize("shape", [(40, 7, 6), (30, 20, 18)])
def test_nd_kernel_direct_bitwise(mode, boundary, shape):
    rng = np.random.default_rng(5)
    x = rng.standard_normal(shape)
    k = rng.standard_normal((3, 4, 3))
    s = Stream(k, axis=0, mode=mode, boundary=boundary, cval=1.5, method="direct")
    y = stream_all(s, split(x, [1, 4, 0, 15, shape[0] - 20], axis=0), axis=0)
    ref = one_call(x, k, mode, axis=0, boundary=boundary, cval=1.5)
    assert y.shape == ref.shape
    assert np.array_equal(y, ref)


@pytest.mark.parametrize("method", ["auto", "fft"])
def test_nd_kernel_other_methods(method):
    rng = np.random.default_rng(6)
    x = rng.standard_normal((50, 12, 9))
    k = rng.standard_normal((5, 3, 3))
    s = Stream(k, axis=0, mode="same", boundary="reflect", method=method)
    y = stream_all(s, split(x, [10, 10, 30], axis=0), axis=0)
    ref = one_call(x, k, "same", axis=0, boundary="reflect")
    eps = np.finfo(np.float64).eps
    assert np.abs(y - ref).max() <= 8 * eps * 12 * np.abs(k).sum() * np.abs(x).max()


def test_delay_and_latency():
    k = np.arange(1.0, 8.0)
    assert Stream(k).delay == 0
    assert Stream(k, mode="same").delay == 3
    s = Stream(k, mode="same", method="direct")
    out = s.process(np.ones(10))
    assert out.shape == (10 - 3,)       # K // 2 samples are held back
    assert s.latency == 0
    f = Stream(k, method="fft", partition=64)
    assert f.process(np.ones(10)).shape == (0,)    # a partition is not full yet
    assert f.latency == 63


def test_reset_and_flush_states():
    k = np.array([1.0, -1.0, 2.0])
    s = Stream(k, method="direct")
    first = stream_all(s, [np.arange(5.0)])
    with pytest.raises(RuntimeError, match="reset"):
        s.process(np.ones(3))
    with pytest.raises(RuntimeError, match="reset"):
        s.flush()
    s.reset()
    again = stream_all(s, [np.arange(5.0)])
    assert np.array_equal(first, again)
    assert Stream(k).flush().shape == (0,)   # nothing streamed: nothing out


@pytest.mark.parametrize("method", ["direct", "fft"])
@pytest.mark.parametrize("fade", [0, 1, 17])
def test_set_kernel_crossfade(method, fade):
    rng = np.random.default_rng(9)
    x = rng.standard_normal(400)
    k1, k2 = rng.standard_normal(9), rng.standard_normal(9)
    s = Stream(k1, method=method, partition=16)
    out = [s.process(x[:150])]
    e0 = sum(len(o) for o in out)
    s.set_kernel(k2, crossfade=fade)
    out += [s.process(x[150:151]), s.process(x[151:])]
    out.append(s.flush())
    y = np.concatenate(out)
    y1, y2 = one_call(x, k1, "full"), one_call(x, k2, "full")
    e = np.arange(len(y))
    w = np.clip((e - e0 + 1) / (fade + 1), 0, 1)
    want = np.where(e < e0, y1, np.where(e >= e0 + fade, y2, y1 + w * (y2 - y1)))
    if method == "direct":
        assert np.array_equal(y[:e0], y1[:e0])
        assert np.array_equal(y[e0 + fade:], y2[e0 + fade:])
    assert np.abs(y - want).max() <= fft_tolerance(x, k1, 16, np.float64) * 4


def test_set_kernel_checks():
    s = Stream(np.ones(5))
    with pytest.raises(ValueError, match="k2"):
        s.set_kernel(np.ones(6))
    with pytest.raises(ValueError, match="crossfade"):
        s.set_kernel(np.ones(5), crossfade=-1)
    s.process(np.ones(3, np.float32))
    with pytest.raises(TypeError, match="k2"):
        s.set_kernel(np.ones(5, np.complex128))


def test_bad_arguments_name_themselves():
    with pytest.raises(ValueError, match="mode"):
        Stream(np.ones(3), mode="valid")
    with pytest.raises(ValueError, match="method"):
        Stream(np.ones(3), method="fast")
    with pytest.raises(ValueError, match="boundary"):
        Stream(np.ones(3), boundary="mirror")
    with pytest.raises(ValueError, match="partition"):
        Stream(np.ones(3), partition=0)
    with pytest.raises(TypeError, match="axis"):
        Stream(np.ones(3), axis=1.0)
    with pytest.raises(ValueError, match="k"):
        Stream(np.ones(0))
    with pytest.raises(ValueError, match="workers"):
        Stream(np.ones(3), workers=0)
    with pytest.raises(TypeError, match="cval"):
        Stream(np.ones(3), cval="0")
    s = Stream(np.ones(3))
    s.process(np.ones((2, 5)))
    with pytest.raises(ValueError, match="block"):
        s.process(np.ones((3, 5)))
    with pytest.raises(ValueError, match="block"):
        s.process(np.ones(5))
    with pytest.raises(TypeError, match="block"):
        s.process(np.ones((2, 5), np.complex128))
    with pytest.raises(TypeError, match="block"):
        s.process(np.array([["a"] * 5] * 2))
    with pytest.raises(ValueError, match="axis"):
        Stream(np.ones(3), axis=2).process(np.ones(4))
    with pytest.raises(ValueError, match="k.ndim"):
        Stream(np.ones((3, 3))).process(np.ones((2, 4, 4)))


def test_inputs_are_not_modified_and_outputs_are_fresh():
    k = np.array([1.0, 2.0, 3.0])
    x = np.arange(20.0)
    kc, xc = k.copy(), x.copy()
    s = Stream(k, method="direct")
    a = s.process(x)
    k[:] = 0                    # the stream kept its own kernel
    b = s.process(x)
    assert np.array_equal(x, xc)
    a_copy = a.copy()
    s.process(x)
    assert np.array_equal(a, a_copy)
    assert np.array_equal(a, ndconv.convolve(xc, kc)[:20])
    assert b.shape == (20,)
    assert not s.kernel.flags.writeable


def test_safe_casting_of_later_blocks():
    k = np.array([0.5, 0.25])
    s = Stream(k, method="direct")
    y = stream_all(s, [np.array([1.0, 2.0]), np.array([3, 4], np.int16)])
    assert np.array_equal(y, one_call(np.array([1.0, 2.0, 3.0, 4.0]), k, "full"))


def test_auto_takes_overlap_save_for_long_kernels_only():
    s = Stream(np.ones(5))
    s.process(np.ones(256))
    assert s.latency == 0
    long = Stream(np.ones(20000))
    long.process(np.ones(1024))
    assert long.latency > 0


@pytest.mark.parametrize("method", ["direct", "fft"])
@pytest.mark.parametrize("mode", ["full", "same"])
def test_one_kernel_per_channel(method, mode):
    rng = np.random.default_rng(11)
    x = rng.standard_normal((5, 900)).astype(np.float32)
    k = rng.standard_normal((5, 65)).astype(np.float32)
    s = Stream(k, axes=-1, mode=mode, method=method, partition=32)
    y = stream_all(s, split(x, [1, 100, 0, 333, 466], axis=-1))
    ref = ndconv.convolve(x, k, mode, axes=-1, method="direct")
    loop = np.stack([ndconv.convolve(x[c], k[c], mode, method="direct") for c in range(5)])
    assert np.array_equal(ref, loop)
    assert y.shape == ref.shape and y.dtype == np.float32
    if method == "direct":
        assert np.array_equal(y, ref)
    else:
        assert np.abs(y - ref).max() <= fft_tolerance(x, k[0], 32, np.float32) * \
            np.abs(k).sum(1).max() / np.abs(k[0]).sum()


def test_kernel_batch_broadcasts_over_a_mono_stream():
    rng = np.random.default_rng(12)
    x = rng.standard_normal((1, 300))
    k = rng.standard_normal((3, 40))
    for method in ("direct", "fft"):
        y = stream_all(Stream(k, axes=1, method=method, partition=16), split(x, [50, 250]))
        ref = np.stack([ndconv.convolve(x[0], k[c], method="direct") for c in range(3)])
        assert y.shape == (3, 339)
        assert np.abs(y - ref).max() <= fft_tolerance(x, k[0], 16, np.float64) * 4


def test_one_psf_per_frame_stack_direct_bitwise():
    rng = np.random.default_rng(13)
    x = rng.standard_normal((4, 60, 9))         # 4 videos of 9-pixel rows, time along axis 1
    k = rng.standard_normal((4, 3, 3))
    s = Stream(k, axis=1, axes=(1, 2), mode="same", boundary="edge", method="direct")
    y = stream_all(s, split(x, [7, 0, 53], axis=1), axis=1)
    for b in range(4):
        assert np.array_equal(y[b], one_call(x[b], k[b], "same", axis=0, boundary="edge"))


def test_axes_must_include_the_stream_axis():
    with pytest.raises(ValueError, match="stream axis"):
        Stream(np.ones((2, 3)), axis=-1, axes=0).process(np.ones((2, 5)))
    with pytest.raises(ValueError, match="broadcast"):
        Stream(np.ones((3, 3)), axes=-1).process(np.ones((2, 5)))
