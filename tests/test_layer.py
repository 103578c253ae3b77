"""ndconv.conv / ndconv.conv_grad: the chapter's multi-channel convolution layer.

References, all independent of ndconv's code:
- ``naive_layer``: a loop over output positions and taps of the chapter's formula
  ``H[i, j, d] = u_d + sum_{a,b,c} V[a, b, c, d] X[i + a, j + b, c]`` (with stride,
  dilation, groups), on the input padded by ``np.pad`` (the boundary rules'
  specification), in float64;
- PyTorch's ``conv1d/2d/3d`` and autograd, where torch is installed;
- ``x @ W + b`` for a 1x1 kernel; scipy.signal for single-channel correlation;
- central finite differences for the gradients.
"""
import itertools
import tracemalloc
import zlib

import numpy as np
import pytest

import ndconv


def naive_layer(x, w, b, stride, pads, dilation, groups, boundary="constant", cval=0.0):
    """The chapter's formula as loops; channels-last, batched, any spatial rank."""
    nsp = x.ndim - 2
    kw = {"constant_values": cval} if boundary == "constant" else {}
    xe = np.pad(x.astype(np.float64), [(0, 0)] + list(pads) + [(0, 0)], mode=boundary, **kw)
    ks, (cg, cout) = w.shape[:-2], w.shape[-2:]
    dg = cout // groups
    osz = [(xe.shape[1 + a] - dilation[a] * (ks[a] - 1) - 1) // stride[a] + 1 for a in range(nsp)]
    out = np.zeros((x.shape[0],) + tuple(osz) + (cout,))
    for o in itertools.product(*map(range, osz)):
        for k in itertools.product(*map(range, ks)):
            pix = xe[(slice(None),) + tuple(o[a] * stride[a] + k[a] * dilation[a] for a in range(nsp))]
            for g in range(groups):
                out[(slice(None),) + o + (slice(g * dg, (g + 1) * dg),)] += (
                    pix[:, g * cg:(g + 1) * cg] @ w[k][:, g * dg:(g + 1) * dg].astype(np.float64))
    if b is not None:
        out += b
    return out


def tolerance(x, w, b, stride, pads, dilation, groups, boundary, cval, dtype):
    """Forward error bound: each output is a sum of n = taps * cg products (plus
    the bias) accumulated in ``dtype``; recursive summation with FMA errs by at
    most ~n * eps * sum|terms| (Higham, Thm 3.1), and sum|terms| is the same
    layer on absolute values.  Factor 2 for the bias term and slack."""
    n = np.prod(w.shape[:-2]) * w.shape[-2] + 1
    mag = naive_layer(np.abs(x), np.abs(w), None if b is None else np.abs(b), stride, pads,
                      dilation, groups, boundary, abs(cval))
    return 2 * n * np.finfo(dtype).eps * mag + np.finfo(dtype).tiny


# (spatial, kernel, stride, pads, dilation, groups, c_in, c_out, boundary)
CASES = [
    ((9,), (3,), (1,), [(1, 1)], (1,), 1, 3, 5, "constant"),
    ((11,), (4,), (3,), [(5, 5)], (2,), 3, 6, 9, "wrap"),            # pad wider than x
    ((7, 9), (3, 3), (1, 1), [(1, 1), (1, 1)], (1, 1), 1, 4, 20, "constant"),
    ((7, 9), (2, 3), (2, 1), [(0, 2), (3, 1)], (1, 2), 2, 6, 36, "reflect"),
    ((6, 5), (3, 3), (2, 2), [(2, 2), (2, 2)], (1, 1), 1, 2, 3, "symmetric"),
    ((8, 8), (3, 3), (1, 1), [(1, 1), (1, 1)], (1, 1), 6, 6, 6, "edge"),   # depthwise
    ((8, 7), (3, 2), (1, 3), [(1, 1), (0, 1)], (2, 1), 4, 4, 8, "constant"),  # multiplier 2
    ((5, 6, 4), (2, 3, 2), (1, 2, 1), [(1, 1), (2, 0), (1, 1)], (1, 1, 2), 1, 3, 17, "edge"),
    ((4, 3, 5, 4), (2, 1, 3, 2), (1, 1, 2, 1), [(1, 0), (0, 0), (1, 1), (0, 1)], (1, 1, 1, 2), 1,
     2, 3, "wrap"),                                                   # 4 spatial axes
    ((10, 12), (1, 1), (1, 1), [(0, 0), (0, 0)], (1, 1), 1, 70, 33, "constant"),  # wide channels
    ((6, 7), (3, 3), (2, 1), [(1, 1), (1, 1)], (1, 2), 37, 37, 37, "reflect"),   # depthwise, wide
    ((9,), (5,), (1,), [(4, 0)], (1,), 64, 64, 64, "constant"),   # depthwise, whole vectors
    ((4,), (3,), (2,), [(7, 6)], (3,), 1, 2, 3, "reflect"),         # reflect wider than x
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", CASES)
def test_matches_naive_loop(case, dtype, level):
    spatial, ks, st, pads, dl, groups, cin, cout, bnd = case
    rng = np.random.default_rng(zlib.crc32(repr(case).encode()))
    x = rng.standard_normal((2,) + spatial + (cin,)).astype(dtype)
    w = rng.standard_normal(ks + (cin // groups, cout)).astype(dtype)
    b = rng.standard_normal(cout).astype(dtype)
    cval = 0.75 if bnd == "constant" else 0.0
    x0, w0, b0 = x.copy(), w.copy(), b.copy()
    got = ndconv.conv(x, w, b, stride=st, padding=pads, dilation=dl, groups=groups,
                      boundary=bnd, cval=cval)
    ref = naive_layer(x, w, b, st, pads, dl, groups, bnd, cval)
    assert got.dtype == dtype and got.shape == ref.shape
    tol = tolerance(x, w, b, st, pads, dl, groups, bnd, cval, dtype)
    assert np.all(np.abs(got - ref) <= tol)
    # channels_first is the same layer with the axes moved
    got_cf = ndconv.conv(np.moveaxis(x, -1, 1), np.moveaxis(w, (-1, -2), (0, 1)), b, stride=st,
                         padding=pads, dilation=dl, groups=groups, boundary=bnd, cval=cval,
                         layout="channels_first")
    np.testing.assert_array_equal(got_cf, np.moveaxis(got, -1, 1))
    # nothing the caller passed is modified
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_array_equal(w, w0)
    np.testing.assert_array_equal(b, b0)


def test_unbatched_input():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((6, 7, 3))
    w = rng.standard_normal((3, 3, 3, 4))
    np.testing.assert_array_equal(ndconv.conv(x, w, padding=1), ndconv.conv(x[None], w, padding=1)[0])
    xf, wf = np.moveaxis(x, -1, 0), np.moveaxis(w, (-1, -2), (0, 1))
    np.testing.assert_array_equal(ndconv.conv(xf, wf, padding=1, layout="channels_first"),
                                  np.moveaxis(ndconv.conv(x, w, padding=1), -1, 0))
    g = rng.standard_normal((6, 7, 4))
    for a, c in zip(ndconv.conv_grad(x, w, g, padding=1), ndconv.conv_grad(x[None], w, g[None], padding=1)):
        np.testing.assert_array_equal(a, c[0] if a.ndim == x.ndim else c)


@pytest.mark.parametrize("n, k, s, expect", [
    (7, 3, 1, (1, 1)), (7, 4, 1, (1, 2)), (7, 4, 2, (1, 2)), (8, 4, 2, (1, 1)),
    (8, 3, 3, (0, 1)), (5, 1, 2, (0, 0)), (9, 2, 4, (0, 1)), (9, 1, 4, (0, 0)), (6, 5, 1, (2, 2))])
def test_same_padding(n, k, s, expect):
    # output ceil(n / s); total padding (out - 1) * s + k - n, the odd sample after
    rng = np.random.default_rng(n * 100 + k * 10 + s)
    x = rng.standard_normal((1, n, 2))
    w = rng.standard_normal((k, 2, 3))
    got = ndconv.conv(x, w, stride=s, padding="same")
    assert got.shape == (1, -(-n // s), 3)
    np.testing.assert_array_equal(got, ndconv.conv(x, w, stride=s, padding=[expect]))


def test_same_padding_dilated_2d():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 9, 10, 2))
    w = rng.standard_normal((2, 3, 2, 2))
    # axis 0: extent 3, out ceil(9/2) = 5, total 4*2+3-9 = 2 -> (1, 1);
    # axis 1: extent 5, out 10, total 9*1+5-10 = 4 -> (2, 2)
    got = ndconv.conv(x, w, stride=(2, 1), dilation=(2, 2), padding="same", boundary="reflect")
    ref = naive_layer(x, w, None, (2, 1), [(1, 1), (2, 2)], (2, 2), 1, "reflect")
    assert got.shape == (2, 5, 10, 2)
    np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-12)


def test_padding_forms_agree():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((1, 6, 7, 2))
    w = rng.standard_normal((3, 3, 2, 2))
    a = ndconv.conv(x, w, padding=1)
    np.testing.assert_array_equal(a, ndconv.conv(x, w, padding=(1, 1)))
    np.testing.assert_array_equal(a, ndconv.conv(x, w, padding=[(1, 1), (1, 1)]))
    np.testing.assert_array_equal(a, ndconv.conv(x, w, padding="same"))
    np.testing.assert_array_equal(ndconv.conv(x, w), ndconv.conv(x, w, padding="valid"))


def test_1x1_kernel_is_a_per_pixel_mlp():
    # the chapter's exercise 1: Delta = 0 makes the layer x @ W + b at every pixel
    rng = np.random.default_rng(5)
    x = rng.standard_normal((3, 10, 11, 7))
    W = rng.standard_normal((7, 5))
    b = rng.standard_normal(5)
    got = ndconv.conv(x, W[None, None], b)
    ref = x @ W + b
    # 7 products and the bias per output: a few eps of the magnitudes
    magnitude = (np.abs(x) @ np.abs(W) + np.abs(b)).max()
    np.testing.assert_allclose(got, ref, rtol=0, atol=32 * np.finfo(float).eps * magnitude)


def test_single_channel_is_cross_correlation():
    signal = pytest.importorskip("scipy.signal")
    rng = np.random.default_rng(6)
    img = rng.standard_normal((12, 13))
    k = rng.standard_normal((3, 4))
    got = ndconv.conv(img[..., None], k[..., None, None])[..., 0]
    np.testing.assert_allclose(got, signal.correlate(img, k, "valid"), rtol=1e-12, atol=1e-12)
    # a true convolution: flip the kernel axes
    got = ndconv.conv(img[..., None], k[::-1, ::-1, None, None])[..., 0]
    np.testing.assert_allclose(got, signal.convolve(img, k, "valid"), rtol=1e-12, atol=1e-12)


# ----------------------------------------------------------------------------- gradients
GRAD_CASES = [
    ((6, 5), (3, 3), (1, 1), "same", (1, 1), 1, 2, 3, "constant"),
    ((7, 6), (2, 3), (2, 1), [(0, 2), (3, 1)], (1, 2), 2, 4, 2, "reflect"),
    ((9,), (4,), (3,), [(5, 5)], (2,), 3, 3, 3, "wrap"),
    ((5, 4), (3, 2), (2, 2), "same", (1, 1), 1, 2, 2, "edge"),
    ((5, 5), (3, 3), (1, 2), [(2, 2), (1, 1)], (1, 1), 2, 2, 4, "symmetric"),
    ((4, 3, 4), (2, 2, 3), (1, 2, 1), [(1, 0), (1, 1), (1, 1)], (1, 1, 1), 1, 2, 2, "constant"),
    ((4, 5), (3, 3), (1, 1), "same", (1, 1), 19, 19, 19, "edge"),      # depthwise
]


@pytest.mark.parametrize("case", GRAD_CASES)
def test_grad_central_differences(case, level):
    spatial, ks, st, pad, dl, groups, cin, cout, bnd = case
    rng = np.random.default_rng(zlib.crc32(repr(case).encode()))
    x = rng.standard_normal((2,) + spatial + (cin,))
    w = rng.standard_normal(ks + (cin // groups, cout))
    b = rng.standard_normal(cout)
    kw = dict(stride=st, padding=pad, dilation=dl, groups=groups, boundary=bnd, cval=0.5)
    g = rng.standard_normal(ndconv.conv(x, w, b, **kw).shape)
    gx, gw, gb = ndconv.conv_grad(x, w, g, **kw)
    assert gx.shape == x.shape and gw.shape == w.shape and gb.shape == b.shape

    def loss(xx, ww, bb):
        return np.sum(g * ndconv.conv(xx, ww, bb, **kw))

    # The loss is affine in each argument, so the central difference has no
    # truncation error: with step h = 1 its error is the rounding of two loss
    # evaluations, a few eps of sum|g * terms|, bounded below by 1e-11.
    h = 1.0
    for arr, grad, which in ((x, gx, 0), (w, gw, 1), (b, gb, 2)):
        fd = np.empty(arr.shape)
        for idx in np.ndindex(arr.shape):
            args = [x, w, b]
            plus, minus = arr.copy(), arr.copy()
            plus[idx] += h
            minus[idx] -= h
            args[which] = plus
            lp = loss(*args)
            args[which] = minus
            fd[idx] = (lp - loss(*args)) / (2 * h)
        np.testing.assert_allclose(grad, fd, rtol=0, atol=1e-11)


def test_grad_bias_and_channels_first():
    rng = np.random.default_rng(7)
    x = rng.standard_normal((2, 6, 5, 4))
    w = rng.standard_normal((3, 2, 2, 6))
    g = rng.standard_normal((2, 3, 4, 6))
    kw = dict(stride=(2, 1), padding=[(1, 0), (0, 0)], groups=2, boundary="edge")
    gx, gw, gb = ndconv.conv_grad(x, w, g, **kw)
    np.testing.assert_allclose(gb, g.sum(axis=(0, 1, 2)), rtol=1e-14)
    gxf, gwf, gbf = ndconv.conv_grad(np.moveaxis(x, -1, 1), np.moveaxis(w, (-1, -2), (0, 1)),
                                     np.moveaxis(g, -1, 1), layout="channels_first", **kw)
    np.testing.assert_array_equal(gxf, np.moveaxis(gx, -1, 1))
    np.testing.assert_array_equal(gwf, np.moveaxis(gw, (-1, -2), (0, 1)))
    np.testing.assert_array_equal(gbf, gb)


def test_workers_do_not_change_results():
    rng = np.random.default_rng(8)
    x = rng.standard_normal((3, 20, 21, 8)).astype(np.float32)
    w = rng.standard_normal((3, 3, 8, 24)).astype(np.float32)
    g = rng.standard_normal((3, 20, 21, 24)).astype(np.float32)
    a = ndconv.conv(x, w, padding="same", workers=1)
    np.testing.assert_array_equal(a, ndconv.conv(x, w, padding="same", workers=2))
    for r1, r2 in zip(ndconv.conv_grad(x, w, g, padding="same", workers=1),
                      ndconv.conv_grad(x, w, g, padding="same", workers=3)):
        np.testing.assert_array_equal(r1, r2)


# ----------------------------------------------------------------------------- torch
TORCH_CASES = [
    ((11,), (3,), 1, 1, 1, 1, "zeros"),
    ((12,), (4,), 2, 3, 2, 2, "reflect"),
    ((9, 10), (3, 3), 1, 1, 1, 1, "zeros"),
    ((9, 10), (3, 2), 2, 2, 1, 3, "replicate"),
    ((8, 9), (3, 3), 1, 1, 2, 6, "circular"),        # depthwise
    ((5, 6, 7), (3, 2, 3), 1, 1, 1, 1, "zeros"),
    ((6, 5, 6), (2, 3, 3), 2, 1, 2, 3, "reflect"),
]
TORCH_BOUNDARY = {"zeros": "constant", "reflect": "reflect", "replicate": "edge", "circular": "wrap"}


def torch_layer(x, w, b, g, stride, pad, dil, groups, mode):
    """PyTorch's layer in float64 and its autograd gradients, as numpy arrays."""
    import torch
    F = torch.nn.functional
    nsp = x.ndim - 2
    tx, tw, tb = (torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in (x, w, b))
    txp = tx if mode == "zeros" else F.pad(tx, [pad] * (2 * nsp), mode=mode)
    y = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}[nsp](
        txp, tw, tb, stride=stride, padding=pad if mode == "zeros" else 0, dilation=dil,
        groups=groups)
    if g is None:
        return y.detach().numpy()
    (y * torch.tensor(g, dtype=torch.float64)).sum().backward()
    return [t.detach().numpy() for t in (y, tx.grad, tw.grad, tb.grad)]


def assert_close_to_torch(mine, x, w, b, g, stride, pad, dil, groups, mode, dtype):
    """Compare (y, grad_x, grad_w, grad_b) with torch's within n * eps * sum|terms|.

    The same graph on absolute values gives sum|terms| of every output and
    gradient entry; n = batch * output pixels * taps * channels + 1 bounds the
    number of terms of any of them (an input sample is read at most that often),
    and recursive summation errs by at most n * eps * sum|terms| (Higham 3.1)."""
    ref = torch_layer(x, w, b, g, stride, pad, dil, groups, mode)
    mag = torch_layer(np.abs(x), np.abs(w), np.abs(b), np.abs(g), stride, pad, dil, groups, mode)
    n = g.size * np.prod(w.shape[2:]) * max(w.shape[:2]) + 1
    for m, r, bound in zip(mine, ref, mag):
        assert m.shape == r.shape
        assert np.all(np.abs(m - r) <= n * np.finfo(dtype).eps * bound)


@pytest.mark.parametrize("case", TORCH_CASES)
def test_against_torch(case):
    pytest.importorskip("torch")
    spatial, ks, stride, pad, dil, groups, mode = case
    cin, cout = 6, 12
    rng = np.random.default_rng(zlib.crc32(repr(case).encode()))
    x = rng.standard_normal((2, cin) + spatial)
    w = rng.standard_normal((cout, cin // groups) + ks)
    b = rng.standard_normal(cout)
    g = rng.standard_normal(torch_layer(x, w, b, None, stride, pad, dil, groups, mode).shape)
    kw = dict(stride=stride, padding=pad, dilation=dil, groups=groups,
              boundary=TORCH_BOUNDARY[mode], layout="channels_first")
    mine = [ndconv.conv(x, w, b, **kw)] + list(ndconv.conv_grad(x, w, g, **kw))
    assert_close_to_torch(mine, x, w, b, g, stride, pad, dil, groups, mode, np.float64)


def test_against_torch_depthwise_float32():
    pytest.importorskip("torch")
    rng = np.random.default_rng(12)
    x = rng.standard_normal((3, 40, 11, 13)).astype(np.float32)
    w = rng.standard_normal((40, 1, 3, 3)).astype(np.float32)
    b = rng.standard_normal(40).astype(np.float32)
    g = rng.standard_normal((3, 40, 11, 7)).astype(np.float32)
    kw = dict(stride=(1, 2), padding=1, groups=40, layout="channels_first")
    mine = [ndconv.conv(x, w, b, **kw)] + list(ndconv.conv_grad(x, w, g, **kw))
    assert_close_to_torch(mine, x, w, b, g, (1, 2), 1, 1, 40, "zeros", np.float32)


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
def test_against_torch_same_even_kernel_float32():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(9)
    x = rng.standard_normal((2, 16, 13, 12)).astype(np.float32)
    w = rng.standard_normal((32, 16, 4, 2)).astype(np.float32)
    ref = torch.nn.functional.conv2d(torch.from_numpy(x).double(), torch.from_numpy(w).double(),
                                     padding="same").numpy()
    got = ndconv.conv(x, w, padding="same", layout="channels_first")
    # float32 sums of 16*4*2 = 128 products: error <= 2 * 128 * eps32 * sum|terms|
    mag = torch.nn.functional.conv2d(torch.from_numpy(np.abs(x)).double(),
                                     torch.from_numpy(np.abs(w)).double(), padding="same").numpy()
    assert np.all(np.abs(got - ref) <= 256 * np.finfo(np.float32).eps * mag)


# ----------------------------------------------------------------------------- dtype, out, memory
def test_dtypes():
    x = np.arange(2 * 5 * 5 * 2).reshape(2, 5, 5, 2)
    w = np.ones((3, 3, 2, 1), dtype=np.int32)
    r = ndconv.conv(x, w)
    assert r.dtype == np.float64
    np.testing.assert_array_equal(r, naive_layer(x, w, None, (1, 1), [(0, 0)] * 2, (1, 1), 1))
    assert ndconv.conv(x.astype(np.float16), w.astype(np.float16)).dtype == np.float32
    assert ndconv.conv(x.astype(np.float32), w.astype(np.float32)).dtype == np.float32
    assert ndconv.conv(x.astype(np.float32), w.astype(np.float64)).dtype == np.float64
    assert ndconv.conv(x.astype(np.float32), w.astype(np.float32), np.ones(1)).dtype == np.float32
    gx, gw, gb = ndconv.conv_grad(x.astype(np.float32), w.astype(np.float32), np.ones((2, 3, 3, 1)))
    assert gx.dtype == gw.dtype == gb.dtype == np.float32
    with pytest.raises(TypeError, match="complex"):
        ndconv.conv(x + 0j, w)
    with pytest.raises(TypeError, match="x"):
        ndconv.conv(np.array(["a"]), w)


def test_out_argument():
    rng = np.random.default_rng(10)
    x = rng.standard_normal((2, 6, 6, 3))
    w = rng.standard_normal((3, 3, 3, 4))
    ref = ndconv.conv(x, w, padding=1)
    out = np.empty_like(ref)
    assert ndconv.conv(x, w, padding=1, out=out) is out
    np.testing.assert_array_equal(out, ref)
    outf = np.empty((2, 4, 6, 6))
    ndconv.conv(np.moveaxis(x, -1, 1), np.moveaxis(w, (-1, -2), (0, 1)), padding=1,
                layout="channels_first", out=outf)
    np.testing.assert_array_equal(outf, np.moveaxis(ref, -1, 1))
    strided = np.empty((2, 6, 6, 8))[..., ::2]
    ndconv.conv(x, w, padding=1, out=strided)
    np.testing.assert_array_equal(strided, ref)
    with pytest.raises(ValueError, match="out has shape"):
        ndconv.conv(x, w, out=np.empty((2, 6, 6, 4)))
    with pytest.raises(ValueError, match="out has dtype"):
        ndconv.conv(x, w, padding=1, out=np.empty((2, 6, 6, 4), np.float32))
    with pytest.raises(TypeError, match="out must be"):
        ndconv.conv(x, w, padding=1, out=[0])


def test_extra_memory_is_bounded():
    # W6's geometry at a smaller batch: the numpy allocations made while the layer
    # runs stay within the output plus 10% (index tables and packed weights), far
    # below an im2col matrix (9x the input); the compiled core's per-thread
    # pointer tables are bounded separately (_MAX_PTRS pointers per thread).
    rng = np.random.default_rng(11)
    x = rng.standard_normal((2, 56, 56, 64)).astype(np.float32)
    w = rng.standard_normal((3, 3, 64, 64)).astype(np.float32)
    ndconv.conv(x, w, padding="same")     # warm up imports and caches
    tracemalloc.start()
    try:
        y = ndconv.conv(x, w, padding="same")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak <= 1.1 * y.nbytes + 300_000


# ----------------------------------------------------------------------------- validation
@pytest.mark.parametrize("kwargs, exc, match", [
    (dict(stride=0), ValueError, "stride"),
    (dict(stride=(1,)), ValueError, "stride"),
    (dict(stride=1.5), TypeError, "stride"),
    (dict(stride=True), TypeError, "stride"),
    (dict(dilation=-1), ValueError, "dilation"),
    (dict(dilation="2"), TypeError, "dilation"),
    (dict(padding=-1), ValueError, "padding"),
    (dict(padding="full"), ValueError, "padding"),
    (dict(padding=(1, 2, 3)), ValueError, "padding"),
    (dict(padding=[(1, 2, 3), 1]), ValueError, "padding"),
    (dict(padding=1.0), TypeError, "padding"),
    (dict(groups=0), ValueError, "groups"),
    (dict(groups=2), ValueError, "groups"),
    (dict(groups=2.0), TypeError, "groups"),
    (dict(boundary="zeros"), ValueError, "boundary"),
    (dict(layout="NHWC"), ValueError, "layout"),
    (dict(cval="a"), TypeError, "cval"),
    (dict(workers=0), ValueError, "workers"),
    (dict(bias=np.ones(3)), ValueError, "bias"),
])
def test_bad_arguments(kwargs, exc, match):
    x = np.ones((1, 5, 5, 3))
    w = np.ones((3, 3, 3, 4))
    with pytest.raises(exc, match=match):
        ndconv.conv(x, w, **kwargs)
    if "bias" not in kwargs:
        with pytest.raises(exc, match=match):
            ndconv.conv_grad(x, w, np.ones((1, 3, 3, 4)), **kwargs)


def test_bad_shapes():
    x = np.ones((1, 5, 5, 3))
    with pytest.raises(ValueError, match="w must have at least 3"):
        ndconv.conv(x, np.ones((3, 3)))
    with pytest.raises(ValueError, match="x must have"):
        ndconv.conv(np.ones((5, 5)), np.ones((3, 3, 3, 4)))
    with pytest.raises(ValueError, match="input channels"):
        ndconv.conv(x, np.ones((3, 3, 2, 4)))
    with pytest.raises(ValueError, match="larger than the padded input"):
        ndconv.conv(x, np.ones((7, 3, 3, 4)))
    with pytest.raises(ValueError, match="empty"):
        ndconv.conv(np.ones((1, 0, 5, 3)), np.ones((3, 3, 3, 4)))
    with pytest.raises(ValueError, match="grad_out must have shape"):
        ndconv.conv_grad(x, np.ones((3, 3, 3, 4)), np.ones((1, 5, 5, 4)))
    with pytest.raises(TypeError, match="grad_out"):
        ndconv.conv_grad(x, np.ones((3, 3, 3, 4)), np.ones((1, 3, 3, 4)) * 1j)


def test_empty_batch():
    y = ndconv.conv(np.ones((0, 5, 5, 3)), np.ones((3, 3, 3, 4)), np.ones(4))
    assert y.shape == (0, 3, 3, 4)
    gx, gw, gb = ndconv.conv_grad(np.ones((0, 5, 5, 3)), np.ones((3, 3, 3, 4)), np.ones((0, 3, 3, 4)))
    assert gx.shape == (0, 5, 5, 3) and not gw.any() and not gb.any()
