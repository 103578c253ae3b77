"""ndconv.conv by Winograd's F(2x2, 3x3): ``method="winograd"`` and the choice of
``method="auto"``.

The reference is the chapter's formula in float64 (``naive_layer`` of
test_layer.py); the bound is the error analysis of the algorithm's own steps
(``winograd_bound``), evaluated on the same data.  ``level`` (conftest.py)
runs a test with every build this CPU runs.
"""
import zlib

import numpy as np
import pytest
from test_layer import naive_layer

import ndconv
from ndconv import _layer

# the transforms of F(2x2, 3x3): V = BT d BT^T, U = G g G^T, Y = AT M AT^T
BT = np.array([[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]], dtype=float)
G = np.array([[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]])
AT = np.array([[1, 1, 1, 0], [0, 1, -1, -1]], dtype=float)


def extended(x, pads, boundary, cval):
    kw = {"constant_values": cval} if boundary == "constant" else {}
    return np.pad(x.astype(np.float64), [(0, 0)] + list(pads) + [(0, 0)], mode=boundary, **kw)


def winograd_bound(x, w, b, pads, boundary, cval, dtype):
    """Bound on |computed - exact| per output of the Winograd layer.

    Per tile, with u = eps / 2: V = BT d BT^T takes two rounded additions per
    element (error <= 2u |BT| |d| |BT|^T), U = G g G^T is rounded once from
    float64 (<= u |G| |g| |G|^T, and for float64 the three roundings of the
    transform itself, 3u), each of the 16 products sums c_in terms with fused
    multiply-adds (<= c_in u sum |V| |U|), and Y = AT M AT^T + bias five rounded
    additions (<= 5u).  To first order |err| <= (c_in + 11) u S with S the same
    algorithm on absolute values: |AT| (sum_c (|BT| |d_c| |BT|^T) * (|G| |g_c|
    |G|^T)) |AT|^T + |bias|.  Bound used: (c_in + 12) eps S, twice that, which
    covers the second-order terms.
    """
    xe = np.abs(extended(x, pads, boundary, abs(cval)))
    bsz, he, we, cin = xe.shape
    ho, wo = he - 2, we - 2
    th, tw = -(-ho // 2), -(-wo // 2)
    # patches of the tiles (a tile's missing row or column reads zeros here:
    # it does not enter the outputs that exist)
    xp = np.zeros((bsz, 2 * th + 2, 2 * tw + 2, cin))
    xp[:, :he, :we] = xe
    d = np.lib.stride_tricks.sliding_window_view(xp, (4, 4), axis=(1, 2))[:, ::2, ::2]
    d = d.reshape(bsz * th, tw, cin, 4, 4)
    v = np.einsum("ir,btcrq,jq->btcij", np.abs(BT), d, np.abs(BT))     # tiles (t, c) of a row b
    u = np.einsum("ia,abco,jb->ijco", G, np.abs(w.astype(np.float64)), G)
    m = np.einsum("btcij,ijco->btijo", v, u)
    y = np.einsum("pi,btijo,qj->btpqo", np.abs(AT), m, np.abs(AT))
    y = y.reshape(bsz, th, tw, 2, 2, -1).transpose(0, 1, 3, 2, 4, 5)
    y = y.reshape(bsz, 2 * th, 2 * tw, -1)[:, :ho, :wo]
    if b is not None:
        y = y + np.abs(b)
    return (cin + 12) * np.finfo(dtype).eps * y + np.finfo(dtype).tiny


# (spatial, pads, c_in, c_out, boundary): odd and even output sizes, down to
# 1x1 (a tile of one pixel); channels in whole vectors and with tails
CASES = [
    ((8, 8), [(1, 1), (1, 1)], 16, 16, "constant"),
    ((7, 9), [(1, 1), (1, 1)], 3, 5, "constant"),
    ((9, 6), [(0, 0), (0, 0)], 17, 19, "reflect"),
    ((5, 11), [(2, 0), (1, 3)], 1, 1, "edge"),
    ((3, 3), [(0, 0), (0, 0)], 8, 33, "wrap"),                 # one output pixel
    ((3, 4), [(0, 0), (0, 0)], 9, 2, "symmetric"),
    ((10, 13), [(1, 1), (1, 1)], 64, 40, "symmetric"),
    ((4, 20), [(3, 3), (1, 1)], 5, 70, "wrap"),                # padding wider than x
    ((6, 7), [(1, 1), (1, 1)], 32, 24, "constant"),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", CASES)
def test_winograd_within_its_bound(case, dtype, level):
    spatial, pads, cin, cout, bnd = case
    rng = np.random.default_rng(zlib.crc32(repr(case).encode()))
    x = rng.standard_normal((2,) + spatial + (cin,)).astype(dtype)
    w = rng.standard_normal((3, 3, cin, cout)).astype(dtype)
    b = rng.standard_normal(cout).astype(dtype)
    cval = 0.75 if bnd == "constant" else 0.0
    x0, w0, b0 = x.copy(), w.copy(), b.copy()
    got = ndconv.conv(x, w, b, padding=pads, boundary=bnd, cval=cval, method="winograd")
    ref = naive_layer(x, w, b, (1, 1), pads, (1, 1), 1, bnd, cval)
    assert got.dtype == dtype and got.shape == ref.shape
    err = np.abs(got - ref)
    assert np.all(err <= winograd_bound(x, w, b, pads, bnd, cval, dtype))
    # the bound is not loose to the point of passing anything: the errors
    # are at least a thousandth of it somewhere
    assert err.max() > 1e-3 * winograd_bound(x, w, b, pads, bnd, cval, dtype).max() or cin * cout == 1
    # channels_first, out= (in place and through a copy) give the same bits
    got_cf = ndconv.conv(np.moveaxis(x, -1, 1), np.moveaxis(w, (-1, -2), (0, 1)), b, padding=pads,
                         boundary=bnd, cval=cval, layout="channels_first", method="winograd")
    np.testing.assert_array_equal(got_cf, np.moveaxis(got, -1, 1))
    out = np.full_like(got, np.nan)
    ndconv.conv(x, w, b, padding=pads, boundary=bnd, cval=cval, method="winograd", out=out)
    np.testing.assert_array_equal(out, got)
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_array_equal(w, w0)
    np.testing.assert_array_equal(b, b0)


def test_winograd_cval_per_axis_and_no_bias(level):
    rng = np.random.default_rng(4)
    x = rng.standard_normal((1, 7, 8, 6)).astype(np.float32)
    w = rng.standard_normal((3, 3, 6, 10)).astype(np.float32)
    got = ndconv.conv(x, w, padding=1, cval=[2.0, -1.0], method="winograd")
    # numpy.pad one axis at a time: rows with 2.0, then columns (corners too) with -1.0
    xe = np.pad(x.astype(np.float64), [(0, 0), (1, 1), (0, 0), (0, 0)], constant_values=2.0)
    xe = np.pad(xe, [(0, 0), (0, 0), (1, 1), (0, 0)], constant_values=-1.0)
    ref = naive_layer(xe, w, None, (1, 1), [(0, 0), (0, 0)], (1, 1), 1)
    bound = winograd_bound(xe, w, None, [(0, 0), (0, 0)], "constant", 0.0, np.float32)
    assert np.all(np.abs(got - ref) <= bound)


def test_winograd_bitwise_across_threads_and_items(monkeypatch):
    # every tile is computed alone in a fixed order: the thread count and how
    # the tiles are cut into work items change nothing
    rng = np.random.default_rng(9)
    x = rng.standard_normal((3, 21, 30, 24)).astype(np.float32)
    w = rng.standard_normal((3, 3, 24, 20)).astype(np.float32)
    b = rng.standard_normal(20).astype(np.float32)
    ref = ndconv.conv(x, w, b, padding="same", method="winograd", workers=1)
    np.testing.assert_array_equal(ndconv.conv(x, w, b, padding="same", method="winograd", workers=2),
                                  ref)
    seen = set()
    real = _layer._winograd_segment
    for cols in (2, 6, 14):
        monkeypatch.setattr(_layer, "_winograd_segment", lambda p, dp, n, c=cols: (seen.add(c), c)[1])
        for workers in (1, 2, 3):
            np.testing.assert_array_equal(
                ndconv.conv(x, w, b, padding="same", method="winograd", workers=workers), ref)
    monkeypatch.setattr(_layer, "_winograd_segment", real)
    assert seen == {2, 6, 14}


def test_winograd_segments_are_even_and_bounded():
    rng = np.random.default_rng(1)
    for shape, cin, n_threads in (((1, 9, 9), 4, 1), ((1, 4, 200), 16, 2), ((8, 56, 56), 64, 2),
                                  ((1, 30, 31), 512, 2)):
        x = rng.standard_normal(shape + (cin,)).astype(np.float32)
        w = np.zeros((3, 3, cin, cin), np.float32)
        p = _layer._setup(x, w, None, 1, "same", 1, 1, "constant", 0.0, "channels_last", None)
        seg = _layer._winograd_segment(p, cin, n_threads)
        wo = p.out_spatial[-1]
        assert seg % 2 == 0 and 2 <= seg <= wo + 1
        tiles = seg // 2
        assert tiles >= min(_layer._WINO_MIN_TILES, -(-wo // 2))
        assert tiles * 16 * 2 * cin * 4 <= max(_layer._WINO_ITEM_BYTES,
                                               _layer._WINO_MIN_TILES * 16 * 2 * cin * 4)


def _auto_cases():
    rng = np.random.default_rng(3)
    big = rng.standard_normal((2, 30, 30, 16)).astype(np.float32)          # 1,800 pixels
    wbig = rng.standard_normal((3, 3, 16, 16)).astype(np.float32)
    return [
        # (x, w, kwargs, the method auto must take)
        (big, wbig, dict(padding="same"), "winograd"),
        (big, wbig, dict(padding=0), "winograd"),                               # 2 x 28^2
        (big.astype(np.float64), wbig, dict(padding="same"), "direct"),          # float64
        (big[:, :, :, :8], wbig[:, :, :8], dict(padding="same"), "direct"),      # 8 channels in
        (big, wbig[..., :8], dict(padding="same"), "direct"),                    # 8 out
        (big[:1, :27], wbig, dict(padding="same"), "direct"),                    # 810 pixels
        (big, wbig, dict(padding="same", stride=2), "direct"),
        (big, wbig, dict(padding="same", dilation=2), "direct"),
        (big, wbig[:, :, :8], dict(padding="same", groups=2), "direct"),
        (big, wbig[:2], dict(padding="same"), "direct"),                          # 2x3
    ]


@pytest.mark.parametrize("index", range(10))
def test_auto_takes_winograd_where_it_pays(index):
    x, w, kw, want = _auto_cases()[index]
    got = ndconv.conv(x, w, **kw)
    np.testing.assert_array_equal(got, ndconv.conv(x, w, method=want, **kw))
    other = "direct" if want == "winograd" else "winograd"
    if other == "direct" or _layer._winograd_fits(
            _layer._setup(x, w, None, kw.get("stride", 1), kw["padding"], kw.get("dilation", 1),
                          kw.get("groups", 1), "constant", 0.0, "channels_last", None)):
        # the methods differ in their last bits here, so the check above can fail
        assert not np.array_equal(got, ndconv.conv(x, w, method=other, **kw))


def test_gradient_of_a_winograd_layer_is_the_direct_one():
    # conv_grad always sums directly; its input gradient is a forward layer too
    rng = np.random.default_rng(6)
    x = rng.standard_normal((2, 30, 30, 16)).astype(np.float32)
    w = rng.standard_normal((3, 3, 16, 16)).astype(np.float32)
    g = rng.standard_normal((2, 30, 30, 16)).astype(np.float32)
    gx, gw, gb = ndconv.conv_grad(x, w, g, padding="same")
    gx64, gw64, gb64 = ndconv.conv_grad(x.astype(np.float64), w.astype(np.float64),
                                        g.astype(np.float64), padding="same")
    for a, ref in ((gx, gx64), (gw, gw64), (gb, gb64)):
        np.testing.assert_allclose(a, ref, rtol=0, atol=1e-3 * np.abs(ref).max())
    # the input gradient is conv of g with the flipped, transposed kernel
    wt = np.ascontiguousarray(w[::-1, ::-1].transpose(0, 1, 3, 2))
    np.testing.assert_array_equal(gx, ndconv.conv(g, wt, padding="same", method="direct"))


@pytest.mark.parametrize("kwargs, match", [
    (dict(method="fft"), "method"),
    (dict(method=None), "method"),
    (dict(method="winograd", stride=2), "stride 1"),
    (dict(method="winograd", dilation=2), "dilation 1"),
    (dict(method="winograd", groups=2), "groups=1"),
])
def test_bad_method(kwargs, match):
    x = np.ones((1, 6, 6, 4), np.float32)
    w = np.ones((3, 3, 4 // kwargs.get("groups", 1), 4), np.float32)
    with pytest.raises(ValueError, match=match):
        ndconv.conv(x, w, **kwargs)


@pytest.mark.parametrize("shape", [(5, 5, 4, 4), (3, 3, 3, 4, 4), (3, 4, 4)])
def test_winograd_needs_a_2d_3x3_kernel(shape):
    w = np.ones(shape, np.float32)
    x = np.ones((1,) + (7,) * (len(shape) - 2) + (4,), np.float32)
    with pytest.raises(ValueError, match="2-D 3x3 kernel"):
        ndconv.conv(x, w, method="winograd")
