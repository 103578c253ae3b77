"""A boundary and a fill value per axis.

The reference is written here, independent of ndconv: ``numpy.pad`` applied
one convolved axis at a time in ``axes`` order (the specification), then a
direct sum over the kernel taps of the padded array.
"""
import numpy as np
import pytest
from conftest import per_axis_geometry
from hypothesis import given, settings
from hypothesis import strategies as st

import ndconv

NAMES = ["constant", "edge", "symmetric", "reflect", "wrap"]
MODES = ["full", "same", "valid"]


def sequential_pad(x, pads, names, cvals, axes):
    """numpy.pad, one axis at a time in ``axes`` order."""
    for a, p, name, c in zip(axes, pads, names, cvals):
        width = [(0, 0)] * x.ndim
        width[a] = p
        kw = {"constant_values": c} if name == "constant" else {}
        x = np.pad(x, width, mode=name, **kw)
    return x


def reference(x, k, mode, names, cvals, axes, op="correlate"):
    """The per-axis boundary's meaning: sequential numpy.pad + a direct sum."""
    x = np.asarray(x, dtype=np.complex128 if np.iscomplexobj(x) else np.float64)
    k = np.asarray(k, dtype=x.dtype)
    if op == "convolve":
        k = k[(slice(None, None, -1),) * k.ndim]
    else:
        k = np.conj(k)
    if axes is None:
        axes = tuple(range(x.ndim))
    pads = []
    for K in k.shape:
        pads.append({"full": (K - 1, K - 1), "same": (K // 2, K - 1 - K // 2),
                     "valid": (0, 0)}[mode])
    xp = sequential_pad(x, pads, names, cvals, axes) if mode != "valid" else x
    out_shape = list(xp.shape)
    for i, a in enumerate(axes):
        out_shape[a] = xp.shape[a] - k.shape[i] + 1
    out = np.zeros(out_shape, dtype=x.dtype)
    for tap in np.ndindex(*k.shape):
        sl = [slice(None)] * x.ndim
        for i, a in enumerate(axes):
            sl[a] = slice(tap[i], tap[i] + out_shape[a])
        out += k[tap] * xp[tuple(sl)]
    return out


def bound(x, k, cvals):
    """Scale of the sums: |k| summed times the largest value read."""
    big = max([np.abs(x).max()] + [abs(c) for c in cvals])
    return np.abs(k).sum() * big + 1e-300


def check(x, k, mode, names, cvals, axes=None, method="direct", op="correlate", **kw):
    got = getattr(ndconv, op)(x, k, mode, boundary=kw.get("boundary", list(names)),
                              cval=kw.get("cval", list(cvals)), axes=axes, method=method)
    want = reference(x, k, mode, names, cvals, axes, op)
    eps = np.finfo(got.dtype).eps
    # direct: k.size rounded products summed; fft: transform error ~ eps * log2(size)
    factor = k.size if method == "direct" else 50 * np.log2(max(4, x.size))
    np.testing.assert_allclose(got, want, rtol=0, atol=4 * factor * eps * bound(x, k, cvals))
    return got


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("method", ["direct", "fft"])
@pytest.mark.parametrize("op", ["correlate", "convolve"])
def test_every_pair_of_names(mode, method, op):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((7, 6))
    k = rng.standard_normal((4, 3))   # an even and an odd size
    for a in NAMES:
        for b in NAMES:
            check(x, k, mode, [a, b], [1.5, -2.0], method=method, op=op)


@pytest.mark.parametrize("method", ["direct", "fft"])
def test_corner_takes_the_later_axis(method):
    """Two "constant" axes with their own fill: at a corner the later axis in
    ``axes`` order wins, as numpy.pad gives."""
    x = np.zeros((3, 3))
    k = np.zeros((3, 3))
    k[0, 0] = 1.0   # reads the top-left corner of the extension for output (0, 0)
    got = ndconv.correlate(x, k, "same", boundary="constant", cval=[5.0, 7.0], method=method)
    assert got[0, 0] == pytest.approx(7.0)
    assert got[0, 1] == pytest.approx(5.0)   # above the input: axis 0's fill
    assert got[1, 0] == pytest.approx(7.0)
    # axes=(1, 0): axis 1 extended first, axis 0 last wins the corner
    got = ndconv.correlate(x, k.T, "same", boundary="constant", cval=[7.0, 5.0], axes=(1, 0),
                           method=method)
    assert got[0, 0] == pytest.approx(5.0)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("method", ["direct", "fft"])
def test_axes_order_and_subset(mode, method):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((5, 4, 6))
    k = rng.standard_normal((3, 2))
    for axes in [(2, 0), (0, 2), (-1, 1)]:
        names = ["constant", "constant"] if axes != (-1, 1) else ["wrap", "constant"]
        norm = tuple(a % 3 for a in axes)
        check(x, k, mode, names, [2.0, -3.0], axes=norm, method=method)
        got = ndconv.correlate(x, k, mode, boundary=names, cval=[2.0, -3.0], axes=axes,
                               method=method)
        want = reference(x, k, mode, names, [2.0, -3.0], norm)
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-9)


def test_dict_boundary():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((6, 5, 4))
    k = rng.standard_normal((3, 3, 3))
    got = ndconv.correlate(x, k, "same", boundary={-1: "wrap", 0: "reflect"}, cval=2.5)
    want = reference(x, k, "same", ["reflect", "constant", "wrap"], [2.5] * 3, None)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)
    # keys are axes of x, also with axes= given
    got = ndconv.correlate(x, k[0], "full", boundary={2: "edge"}, axes=(2, 1), cval=[1.0, 4.0])
    want = reference(x, k[0], "full", ["edge", "constant"], [1.0, 4.0], (2, 1))
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)


@pytest.mark.parametrize("dtype", ["float32", "complex64", "complex128"])
def test_dtypes(dtype):
    rng = np.random.default_rng(4)
    x = rng.standard_normal((9, 8)).astype(dtype)
    k = rng.standard_normal((3, 4)).astype(dtype)
    if np.dtype(dtype).kind == "c":
        x = x + 1j * rng.standard_normal(x.shape).astype(dtype)
    for method in ["direct", "fft"]:
        got = check(x, k, "same", ["symmetric", "constant"], [0.0, 1.0 + 2.0j
                    if np.dtype(dtype).kind == "c" else 1.0], method=method)
        assert got.dtype == np.result_type(x, k)


def test_integers_exact():
    """Exact integer arithmetic with per-axis fills (the drop-ins' int64 path)."""
    from ndconv._api import correlate_nd
    rng = np.random.default_rng(5)
    x = rng.integers(-50, 50, (6, 7))
    k = rng.integers(-5, 5, (3, 2))
    got = correlate_nd(x, k, "full", ["wrap", "constant"], [0, 9], 0, None, "direct", 1, None,
                       compute_dtype=np.int64)
    want = reference(x, k, "full", ["wrap", "constant"], [0, 9], None)
    np.testing.assert_array_equal(got, want.real.astype(np.int64))


def test_separable_kernel_auto():
    """A rank-1 kernel large enough for the separable passes under "auto"."""
    rng = np.random.default_rng(6)
    x = rng.standard_normal((120, 130))
    k = np.outer(rng.standard_normal(15), rng.standard_normal(13))
    for names, cvals in [(["wrap", "symmetric"], [0, 0]), (["constant", "reflect"], [3.0, 0]),
                         (["edge", "constant"], [0, -2.0]), (["constant"] * 2, [1.0, 2.0])]:
        check(x, k, "same", names, cvals, method="auto")
        check(x, k, "full", names, cvals, method="auto")


def test_equal_names_are_the_single_name():
    rng = np.random.default_rng(7)
    x = rng.standard_normal((8, 9))
    k = rng.standard_normal((3, 3))
    for name in NAMES:
        a = ndconv.correlate(x, k, "same", boundary=[name, name], cval=[2.0, 2.0], method="direct")
        b = ndconv.correlate(x, k, "same", boundary=name, cval=2.0, method="direct")
        assert np.array_equal(a, b)


def test_inputs_unmodified():
    x = np.arange(12.0).reshape(3, 4)
    names, cvals = ["wrap", "constant"], [1.0, 2.0]
    d = {0: "edge"}
    ndconv.correlate(x, np.ones((2, 2)), boundary=names, cval=cvals)
    ndconv.correlate(x, np.ones((2, 2)), boundary=d)
    assert names == ["wrap", "constant"] and cvals == [1.0, 2.0] and d == {0: "edge"}


@pytest.mark.parametrize("boundary, cval, exc, words", [
    (["wrap"], 0.0, ValueError, "boundary must be one name, or one per convolved axis (2)"),
    (["wrap", "edge", "edge"], 0.0, ValueError, "boundary"),
    (["wrap", "mirror"], 0.0, ValueError, "boundary must be one of"),
    ({5: "wrap"}, 0.0, ValueError, "boundary has an entry for axis 5"),
    ({"a": "wrap"}, 0.0, TypeError, "boundary keys"),
    ({0: "nearest"}, 0.0, ValueError, "boundary must be one of"),
    (7, 0.0, TypeError, "boundary must be a name"),
    ("wrap", [1.0], ValueError, "cval must be a scalar, or one value per convolved axis (2)"),
    ("constant", [1.0, "a"], TypeError, "cval must be a number"),
    ("constant", [1.0, 1j], ValueError, "cval"),
])
def test_errors_name_the_argument(boundary, cval, exc, words):
    x = np.ones((4, 5))
    with pytest.raises(exc, match=words.replace("(", r"\(").replace(")", r"\)")):
        ndconv.correlate(x, np.ones((2, 2)), "same", boundary=boundary, cval=cval)


def test_dict_key_not_convolved():
    with pytest.raises(ValueError, match="boundary has an entry for axis 0"):
        ndconv.correlate(np.ones((4, 5)), np.ones(2), boundary={0: "wrap"}, axes=1)


def test_valid_still_checks():
    with pytest.raises(ValueError, match="boundary"):
        ndconv.correlate(np.ones((4, 5)), np.ones((2, 2)), "valid", boundary=["wrap"])
    with pytest.raises(ValueError, match="cval"):
        ndconv.correlate(np.ones((4, 5)), np.ones((2, 2)), "valid", cval=[1, 2, 3])


def test_ndimage_keeps_rejecting_sequences():
    """scipy.ndimage.correlate/convolve reject a sequence of modes; the drop-in too."""
    x = np.ones((4, 5))
    for f in (ndconv.ndimage.correlate, ndconv.ndimage.convolve):
        with pytest.raises(RuntimeError, match="sequence of modes is not supported"):
            f(x, np.ones((3, 3)), mode=["wrap", "reflect"])


def test_layer_per_axis():
    """ndconv.conv's boundary per spatial axis against numpy.pad per axis."""
    rng = np.random.default_rng(8)
    x = rng.standard_normal((2, 6, 7, 3))            # batch, h, w, c_in
    w = rng.standard_normal((3, 2, 3, 4))            # kh, kw, c_in, c_out
    pads = [(2, 1), (1, 2)]
    for names, cval in [(["wrap", "reflect"], 0.0), (["constant", "edge"], 1.5),
                        ({1: "symmetric"}, [2.0, 9.0])]:
        got = ndconv.conv(x, w, padding=pads, boundary=names, cval=cval)
        seq = names if isinstance(names, list) else ["constant", "symmetric"]
        c = cval if np.isscalar(cval) else cval[0]
        xe = sequential_pad(x, pads, seq, [c, c], (1, 2))
        want = np.zeros(got.shape)
        for i in range(3):
            for j in range(2):
                want += np.einsum("bhwc,cd->bhwd", xe[:, i:i + got.shape[1], j:j + got.shape[2]],
                                  w[i, j])
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-11)
        # the gradients go back through the same per-axis extension: the input
        # gradient is the adjoint of the (affine) map x -> conv(x)
        g = rng.standard_normal(got.shape)
        dx = rng.standard_normal(x.shape)
        gx, _, _ = ndconv.conv_grad(x, w, g, padding=pads, boundary=names, cval=cval)
        moved = ndconv.conv(x + dx, w, padding=pads, boundary=names, cval=cval) - got
        np.testing.assert_allclose(np.vdot(moved, g), np.vdot(dx, gx), rtol=1e-9)
    with pytest.raises(ValueError, match="boundary must be one name, or one per"):
        ndconv.conv(x, w, padding=1, boundary=["wrap"])
    with pytest.raises(ValueError, match=r"cval must be a scalar, or one value per convolved axis \(2\)"):
        ndconv.conv(x, w, padding=1, cval=[1.0, 2.0, 3.0])


def naive_layer_per_axis(x, w, stride, pads, dilation, groups, names, cvals):
    """The layer on channels-last batched ``x``: a loop over the taps and groups,
    each adding the strided view of the input that the tap reads (for every
    output position) times its weights, on ``x`` padded by numpy.pad one
    spatial axis at a time (float64)."""
    nsp = x.ndim - 2
    xe = sequential_pad(x.astype(np.float64), pads, names, cvals, range(1, nsp + 1))
    ks, (cg, cout) = w.shape[:-2], w.shape[-2:]
    dg = cout // groups
    osz = [(xe.shape[1 + a] - dilation[a] * (ks[a] - 1) - 1) // stride[a] + 1 for a in range(nsp)]
    out = np.zeros((x.shape[0],) + tuple(osz) + (cout,))
    for t in np.ndindex(*ks):
        pix = xe[(slice(None),) + tuple(
            slice(t[a] * dilation[a], t[a] * dilation[a] + (osz[a] - 1) * stride[a] + 1, stride[a])
            for a in range(nsp))]
        for g in range(groups):
            out[..., g * dg:(g + 1) * dg] += (pix[..., g * cg:(g + 1) * cg]
                                              @ w[t][:, g * dg:(g + 1) * dg].astype(np.float64))
    return out


# spatial, kernel, stride, pads, dilation, groups, c_in, c_out, names, cvals
LAYER_CASES = [
    ((6, 7), (3, 2), (1, 1), [(2, 1), (1, 2)], (1, 1), 1, 3, 4,
     ["constant", "constant"], [1.5, -2.0]),
    ((6, 7), (3, 3), (2, 1), [(3, 3), (2, 0)], (1, 2), 2, 4, 6,
     ["constant", "constant"], [-1.0, 4.0]),
    ((5, 8), (2, 3), (1, 2), [(4, 2), (3, 5)], (2, 1), 3, 3, 3,
     ["wrap", "constant"], [9.0, 2.5]),
    ((7,), (4,), (2,), [(5, 6)], (1,), 1, 2, 3, ["reflect"], [0.0]),
    ((3, 4, 5), (2, 2, 3), (1, 2, 1), [(2, 1), (1, 1), (2, 3)], (1, 1, 1), 1, 2, 2,
     ["constant", "symmetric", "constant"], [3.0, 0.0, -5.0]),
    ((4, 5, 3), (2, 3, 2), (1, 1, 1), [(1, 2), (2, 2), (1, 1)], (1, 1, 2), 1, 1, 2,
     ["edge", "constant", "constant"], [0.0, 7.0, -7.0]),
]


@pytest.mark.parametrize("case", LAYER_CASES)
@pytest.mark.parametrize("layout", ["channels_last", "channels_first"])
def test_layer_per_axis_fills(case, layout):
    """Per-axis names and fills of their own on ndconv.conv/conv_grad against
    sequential numpy.pad + loops; the gradients against the layer's linear
    maps probed one unit at a time in the reference (exact: the layer is
    affine in x and linear in w)."""
    sp, ks, st_, pads, dl, groups, c_in, c_out, names, cvals = case
    rng = np.random.default_rng(9)
    x = rng.standard_normal((2,) + sp + (c_in,))
    w = rng.standard_normal(ks + (c_in // groups, c_out))
    kw = dict(stride=st_, padding=pads, dilation=dl, groups=groups, boundary=names, cval=cvals)
    want = naive_layer_per_axis(x, w, st_, pads, dl, groups, names, cvals)
    g = rng.standard_normal(want.shape)
    if layout == "channels_first":
        cf = (0, x.ndim - 1) + tuple(range(1, x.ndim - 1))
        got = ndconv.conv(x.transpose(cf), w.transpose((-1, -2) + tuple(range(len(sp)))),
                          layout=layout, **kw)
        got = np.moveaxis(got, 1, -1)
        gx, gw, gb = ndconv.conv_grad(x.transpose(cf),
                                      w.transpose((-1, -2) + tuple(range(len(sp)))),
                                      np.moveaxis(g, -1, 1), layout=layout, **kw)
        gx, gw = np.moveaxis(gx, 1, -1), np.moveaxis(gw, (0, 1), (-1, -2))
    else:
        got = ndconv.conv(x, w, **kw)
        gx, gw, gb = ndconv.conv_grad(x, w, g, **kw)
    scale = naive_layer_per_axis(np.abs(x), np.abs(w), st_, pads, dl, groups, names,
                                 np.abs(cvals)).max()
    np.testing.assert_allclose(got, want, rtol=0, atol=8 * w.size * 2.2e-16 * scale)
    # d/dx: the change of the reference layer's output for a unit step of each sample
    ref_gx = np.zeros(x.shape)
    for i in np.ndindex(*x.shape):
        e = x.copy()
        e[i] += 1.0
        ref_gx[i] = np.vdot(naive_layer_per_axis(e, w, st_, pads, dl, groups, names, cvals)
                            - want, g)
    ref_gw = np.zeros(w.shape)
    for i in np.ndindex(*w.shape):
        e = np.zeros(w.shape)
        e[i] = 1.0
        ref_gw[i] = np.vdot(naive_layer_per_axis(x, e, st_, pads, dl, groups, names, cvals), g)
    gscale = np.abs(g).sum() * (np.abs(x).max() + np.abs(cvals).max() + 1)
    np.testing.assert_allclose(gx, ref_gx, rtol=0, atol=1e-12 * gscale)
    np.testing.assert_allclose(gw, ref_gw, rtol=0, atol=1e-12 * gscale)
    np.testing.assert_allclose(gb, g.reshape(-1, c_out).sum(axis=0), rtol=1e-12)


def test_layer_per_axis_fills_dict_and_float32():
    """A dict boundary keyed by spatial axis; float32 stays float32; ``out=``;
    nothing the caller passed is modified."""
    rng = np.random.default_rng(10)
    x = rng.standard_normal((6, 5, 2)).astype(np.float32)        # unbatched
    w = rng.standard_normal((3, 3, 2, 3)).astype(np.float32)
    cvals = [2.0, -3.0]
    x0, cv0 = x.copy(), list(cvals)
    got = ndconv.conv(x, w, padding="same", boundary={1: "constant"}, cval=cvals)
    assert got.dtype == np.float32 and got.shape == (6, 5, 3)
    want = naive_layer_per_axis(x[None], w, (1, 1), [(1, 1), (1, 1)], (1, 1), 1,
                                ["constant", "constant"], cvals)[0]
    scale = naive_layer_per_axis(np.abs(x[None]), np.abs(w), (1, 1), [(1, 1), (1, 1)], (1, 1),
                                 1, ["constant"] * 2, np.abs(cvals))[0]
    np.testing.assert_array_less(np.abs(got - want), 4 * w[..., 0].size * 1.2e-7 * scale)
    out = np.empty_like(got)
    assert ndconv.conv(x, w, padding="same", cval=cvals, out=out) is out
    np.testing.assert_array_equal(out, got)
    assert np.array_equal(x, x0) and cvals == cv0
    # one fill per axis that agree: the scalar's result, bit for bit
    np.testing.assert_array_equal(ndconv.conv(x, w, padding=2, cval=[1.5, 1.5]),
                                  ndconv.conv(x, w, padding=2, cval=1.5))


# ------------------------------------------------------------------ property
@st.composite
def problems(draw):
    xs, ks, axes, mode, names, cvals = per_axis_geometry(draw, st, NAMES, 5, [0.0, 1.0, -2.5, 4.0])
    seed = draw(st.integers(0, 2 ** 16))
    method = draw(st.sampled_from(["direct", "fft", "auto"]))
    op = draw(st.sampled_from(["correlate", "convolve"]))
    as_dict = draw(st.booleans())
    return xs, ks, axes, mode, names, cvals, seed, method, op, as_dict


@settings(max_examples=150, deadline=None)
@given(problems())
def test_property_per_axis_is_sequential_pad(p):
    """Per-axis boundary == numpy.pad applied one axis at a time in ``axes`` order."""
    xs, ks, axes, mode, names, cvals, seed, method, op, as_dict = p
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(xs)
    k = rng.standard_normal(ks)
    boundary = dict(zip(axes, names)) if as_dict else names
    check(x, k, mode, names, cvals, axes=axes, method=method, op=op, boundary=boundary)
