"""The row-sharing blocks of the direct path (AVX-512, AVX2 and NEON builds).

Kernels whose leading taps are 2-7 rows of one axis (every 2-D kernel of up to
7 rows; AVX2: up to 6) run the rolling-rows kernel: tiles of up to 128 output
rows, column strips (AVX-512: 64 float32 / 32 float64 outputs, 48 / 24 for 6-7
rows; AVX2: 16 to 32 float32 outputs by kernel height) swept down the tile,
border columns from gathered rows.  Other kernels of 2+ rows run four output
rows at a time.  Both keep every output's tap order and fused multiply-adds, so
besides the accuracy contract they must equal the plain one-row blocks bit
for bit: the same build run one row at a time (``use_row_sharing(False)``)
is the reference, and for the AVX-512 build also the AVX2 build.  The shapes
put the tile, strip and quad boundaries, and the border runs, at every kind
of position: partial tiles and strips, rows fewer than a tile, images one
strip wide, cval rows at the top and bottom.  (The blocks alone are checked
against a scalar reference by the C harness, tests/test_c_harness.py.)
"""
import numpy as np
import pytest
from conftest import assert_contract, oracle, random_array

import ndconv
from ndconv import _core as _dispatch
from ndconv._plan import tuning


def _builds():
    import importlib
    try:
        return [importlib.import_module("ndconv." + n) for n in ("_core.avx2", "_core.avx512")]
    except ImportError:
        return None


needs_avx512 = pytest.mark.skipif(
    not (_dispatch._base.cpu_has_avx512() and _builds()),
    reason="needs a CPU and an install with both the AVX2 and AVX-512 builds")

BOUNDARIES = ["constant", "edge", "symmetric", "reflect", "wrap"]
# (x shape, kernel shape): rolling (2-D, 2-7 rows; 3-D with one leading kernel
# axis) and four-row (8+ rows, or taps over two leading axes) cases
CASES = [
    ((70, 170), (5, 5)),       # a tile and a bit; strips + a partial one
    ((13, 100), (3, 3)),       # fewer rows than a tile
    ((129, 200), (7, 6)),      # 48-wide strips
    ((40, 110), (2, 9)),       # even kernel rows, wide rows of taps
    ((66, 300), (4, 1)),       # one tap per row
    ((3, 120), (6, 5)),        # fewer output rows than kernel rows
    ((37, 180), (9, 4)),       # four-row block
    ((4, 23, 170), (1, 5, 3)),  # rolling, 3-D: tiles end with each plane
    ((6, 11, 100), (2, 3, 3)),  # four-row block with two leading axes
]
# (Narrow rows and segments run the 8-wide block and the scalar tail, whose
# sums match every other block's too: tests/test_correlate.py
# ::test_every_row_width_gives_the_same_sums.)


def _bitwise(x, k, **kw):
    avx2, avx512 = _builds()
    res = []
    for mod in (avx2, avx512):
        with tuning.override(kernels=mod):
            res.append(ndconv.correlate(x, k, method="direct", **kw))
    np.testing.assert_array_equal(res[1], res[0])
    return res[1]


@needs_avx512
@pytest.mark.parametrize("xs,ks", CASES)
@pytest.mark.parametrize("boundary", BOUNDARIES)
def test_bitwise_the_one_row_blocks(rng, xs, ks, boundary):
    for dtype in ("float32", "float64"):
        x = random_array(rng, xs, dtype)
        k = random_array(rng, ks, dtype)
        origin = [int(rng.integers(-(kk // 2), (kk - 1) // 2 + 1)) for kk in ks]
        cval = 0.0 if dtype == "float32" else 1.5   # cval 0: cval rows may not be skipped
        modes = ("same", "full", "valid") if all(n >= kk for n, kk in zip(xs, ks)) else ("same", "full")
        for mode in modes:
            res = _bitwise(x, k, mode=mode, boundary=boundary, cval=cval,
                           origin=origin if mode == "same" else 0, workers=2)
            ref, absconv = oracle(x, k, mode, boundary, cval=cval,
                                  origin=origin if mode == "same" else 0)
            assert_contract(res, ref, absconv, k.size, dtype)


@needs_avx512
@pytest.mark.parametrize("layout", ["strided", "reversed", "fortran", "unaligned"])
def test_bitwise_any_layout(rng, layout):
    # non-unit strides gather every column; reversed rows have negative strides
    base = random_array(rng, (170, 340), "float32")
    x = {"strided": base[::2, ::2], "reversed": base[::-1, ::-1],
         "fortran": np.asfortranarray(base)}.get(layout)
    if layout == "unaligned":
        buf = np.zeros(base.nbytes + 4, np.uint8)
        x = np.frombuffer(buf.data, np.float32, base.size, offset=2).reshape(base.shape)
        x[...] = base
        assert not x.flags.aligned
    for ks in ((5, 5), (7, 3), (10, 10)):
        k = random_array(rng, ks, "float32")
        res = _bitwise(x, k, mode="same", boundary="reflect", workers=2)
        ref, absconv = oracle(x, k, "same", "reflect")
        assert_contract(res, ref, absconv, k.size, "float32")


@needs_avx512
def test_nonfinite_kernel_with_zero_padding():
    # a weight of inf times the zero padding is nan, as numpy.pad + a direct
    # sum (and scipy.ndimage) give: rows of padding are computed, not skipped
    import scipy.ndimage as ndi
    x = np.ones((100, 200), np.float32)
    k = np.ones((5, 5), np.float32)
    k[4, 2] = np.inf
    res = _bitwise(x, k, mode="same", boundary="constant", workers=2)
    ref = ndi.correlate(x.astype(np.float64), k.astype(np.float64), mode="constant")
    np.testing.assert_array_equal(np.isnan(res), np.isnan(ref))
    np.testing.assert_array_equal(np.isinf(res), np.isinf(ref))
    assert np.isnan(res[-2:]).all() and np.isinf(res[:-2]).all()


# the builds of this install and CPU that share work between rows
SHARING = [lv for lv, m in _dispatch.builds().items()
           if m.row_mode("f", 5, 5, 4096) != m.RowMode.ROWS_ONE]


def _same_build_bitwise(mod, x, k, **kw):
    res = ndconv.correlate(x, k, method="direct", **kw)
    prev = mod.use_row_sharing(False)
    try:
        ref = ndconv.correlate(x, k, method="direct", **kw)
    finally:
        mod.use_row_sharing(prev)
    np.testing.assert_array_equal(res, ref)
    return res


def test_some_build_shares_rows():
    # on x86-64 CPUs with AVX2 the AVX2 build runs the row-sharing blocks, on aarch64 the NEON build
    for level in ("avx2+fma", "neon"):
        if level in _dispatch.builds():
            assert level in SHARING
    assert "baseline" not in SHARING


@pytest.mark.parametrize("level", SHARING)
@pytest.mark.parametrize("xs,ks", CASES)
def test_bitwise_one_row_blocks_same_build(rng, level, xs, ks):
    with _dispatch.use(level) as mod:
        assert mod.row_mode("f", ks[0], ks[0], 4096) != mod.RowMode.ROWS_ONE or ks[0] < 2
        for dtype in ("float32", "float64"):
            x = random_array(rng, xs, dtype)
            k = random_array(rng, ks, dtype)
            for boundary in ("constant", "symmetric", "wrap"):
                cval = 0.0 if dtype == "float32" else 1.5
                modes = ("same", "full", "valid") if all(n >= kk for n, kk in zip(xs, ks)) else ("same",)
                for mode in modes:
                    res = _same_build_bitwise(mod, x, k, mode=mode, boundary=boundary, cval=cval,
                                              workers=2)
                    ref, absconv = oracle(x, k, mode, boundary, cval=cval)
                    assert_contract(res, ref, absconv, k.size, dtype)


@pytest.mark.parametrize("level", SHARING)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_four_row_borders_of_every_width_same_build(rng, level, dtype):
    # the four-row blocks take border segments one quad block wide where every
    # segment is then a block wide or empty, else the planner's (a one-row
    # block wide); rows of 20 to 300 outputs and borders of 0 to 7 columns a
    # side (origins, "full") cover both, the empty segments and the rows'
    # fallback, each checked against the one-row path bit for bit
    with _dispatch.use(level) as mod:
        for ks in ((9, 9), (8, 15), (10, 3)):
            assert mod.row_mode(np.dtype(dtype).char, ks[0], ks[0], 4096) == mod.RowMode.ROWS_FOUR
            k = random_array(rng, ks, dtype)
            for width in (20, 41, 57, 64, 75, 100, 129, 150, 203, 300):
                x = random_array(rng, (23, width), dtype)
                for mode, boundary, origin in (("same", "reflect", 0), ("same", "constant", (0, -1)),
                                               ("full", "wrap", 0), ("same", "edge", (1, ks[1] // 2 - 1))):
                    kw = dict(mode=mode, boundary=boundary, origin=origin, workers=1)
                    res = _same_build_bitwise(mod, x, k, **kw)
                    ref, absconv = oracle(x, k, mode, boundary, origin=origin)
                    assert_contract(res, ref, absconv, k.size, dtype)


@pytest.mark.parametrize("level", SHARING)
@pytest.mark.parametrize("layout", ["strided", "reversed", "unaligned"])
def test_bitwise_one_row_blocks_same_build_layouts(rng, level, layout):
    base = random_array(rng, (130, 270), "float32")
    x = {"strided": base[::2, ::2], "reversed": base[::-1, ::-1]}.get(layout)
    if layout == "unaligned":
        buf = np.zeros(base.nbytes + 4, np.uint8)
        x = np.frombuffer(buf.data, np.float32, base.size, offset=2).reshape(base.shape)
        x[...] = base
    with _dispatch.use(level) as mod:
        for ks in ((3, 3), (5, 5), (7, 7), (2, 4), (10, 3)):
            k = random_array(rng, ks, "float32")
            res = _same_build_bitwise(mod, x, k, mode="same", boundary="reflect", workers=1)
            ref, absconv = oracle(x, k, "same", "reflect")
            assert_contract(res, ref, absconv, k.size, "float32")


@pytest.mark.parametrize("level", SHARING)
def test_nonfinite_kernel_same_build(level):
    x = np.ones((60, 150), np.float64)
    k = np.ones((5, 5), np.float64)
    k[4, 2] = np.inf
    with _dispatch.use(level) as mod:
        res = ndconv.correlate(x, k, "same", boundary="constant", method="direct", workers=2)
        prev = mod.use_row_sharing(False)
        try:
            ref = ndconv.correlate(x, k, "same", boundary="constant", method="direct", workers=2)
        finally:
            mod.use_row_sharing(prev)
    np.testing.assert_array_equal(np.isnan(res), np.isnan(ref))
    assert np.isnan(res[-2:]).all() and np.isinf(res[:-2]).all()


@pytest.mark.parametrize("xs,ks", CASES)
def test_thread_counts_agree_bitwise(rng, xs, ks):
    x = random_array(rng, xs, "float32")
    k = random_array(rng, ks, "float32")
    res = [ndconv.correlate(x, k, "same", boundary="reflect", method="direct", workers=n)
           for n in (1, 2, 3)]
    np.testing.assert_array_equal(res[1], res[0])
    np.testing.assert_array_equal(res[2], res[0])


def test_large_image_against_oracle(rng):
    # many tiles and strips per thread, both in-place and gathered columns
    x = random_array(rng, (300, 1100), "float32")
    for ks in ((5, 5), (7, 7), (3, 8)):
        k = random_array(rng, ks, "float32")
        ref, absconv = oracle(x, k, "same", "symmetric")
        for workers in (1, 2):
            res = ndconv.correlate(x, k, "same", boundary="symmetric", method="direct",
                                   workers=workers)
            assert_contract(res, ref, absconv, k.size, "float32")


@needs_avx512
def test_bitwise_full_height_tiles(rng):
    # one thread and 600 rows: tiles of the full 128 rows and a partial one
    x = random_array(rng, (600, 200), "float32")
    for ks in ((5, 5), (7, 2)):
        k = random_array(rng, ks, "float32")
        res = _bitwise(x, k, mode="same", boundary="wrap", workers=1)
        ref, absconv = oracle(x, k, "same", "wrap")
        assert_contract(res, ref, absconv, k.size, "float32")


@pytest.mark.parametrize("level", sorted(_dispatch.builds()))
@pytest.mark.parametrize("dtype", [np.complex64, np.complex128])
@pytest.mark.parametrize("k_shape", [(1, 1), (1, 3), (1, 5), (2, 4), (3, 8)])
def test_complex_rows_of_any_length_equal_the_wide_row(rng, level, dtype, k_shape):
    # a run of n outputs is computed by the 128/64/32-wide, 8-wide or scalar
    # code by its length; each output must get the same bits from every one
    x = (rng.standard_normal((k_shape[0], 300)) + 1j * rng.standard_normal((k_shape[0], 300)))
    k = rng.standard_normal(k_shape) + 1j * rng.standard_normal(k_shape)
    x, k = x.astype(dtype), k.astype(dtype)
    with _dispatch.use(level):
        whole = ndconv.correlate(x, k, "valid", method="direct", workers=1)
        for n in range(1, 72):
            part = ndconv.correlate(x[:, :n + k_shape[1] - 1], k, "valid", method="direct",
                                    workers=1)
            np.testing.assert_array_equal(part, whole[:, :n], err_msg="row of %d outputs" % n)


@pytest.mark.parametrize("level", sorted(_dispatch.builds()))
@pytest.mark.parametrize("xs,ks", [((300, 170), (3, 3)), ((140, 200), (5, 5)), ((70, 130), (7, 6)),
                                   ((5, 37, 150), (1, 4, 3))])
def test_any_tile_height_gives_the_same_bits(rng, level, xs, ks):
    # tiles re-read kb - 1 source rows and compute kb - 1 ramp rows: every
    # height (a tile of one row, of the whole image, the CPU's choice) must give
    # each output the same sums, and within the accuracy contract
    x = random_array(rng, xs, "float32")
    k = random_array(rng, ks, "float32")
    ref, absconv = oracle(x, k, "same", "reflect")
    with _dispatch.use(level):
        base = ndconv.correlate(x, k, "same", boundary="reflect", method="direct", workers=1)
        assert_contract(base, ref, absconv, k.size, "float32")
        for rows in (1, 7, 16, 32, 128, 4096):
            with tuning.override(roll_tile_rows=rows):
                for workers in (1, 2):
                    res = ndconv.correlate(x, k, "same", boundary="reflect", method="direct",
                                           workers=workers)
                    np.testing.assert_array_equal(res, base, err_msg="%d-row tiles" % rows)
        # calls shorten the build's tiles to their share of L2 (down to 16
        # rows with a share of one byte): on several threads, and on one
        # (the planned calls and the compiled one-thread call alike)
        for share in (1, 20 << 10, None):
            with tuning.override(shared_tile_bytes=share, alone_tile_bytes=share):
                for workers in (1, 2, 3):
                    res = ndconv.correlate(x, k, "same", boundary="reflect", method="direct",
                                           workers=workers)
                    np.testing.assert_array_equal(res, base, err_msg="share %s" % share)


def test_tile_height_is_checked():
    mod = _dispatch.core()
    args = [np.array(a, dtype=np.intp) for a in ([4, 4], [3, 3], np.zeros((2, 5)), [0], [0, 4])]
    for bad in (-1, 4097):
        with pytest.raises(ValueError, match="tile_rows"):
            mod.Tables(*args, 4, 0, 0, True, bad)
        with pytest.raises(ValueError, match="window_rows"):
            mod.Tables(*args, 4, 0, 0, True, window_rows=bad)


@pytest.mark.parametrize("level", sorted(_dispatch.builds()))
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("ks", [(3, 3), (5, 5), (7, 4)])
def test_windows_of_wider_arrays_take_their_own_tiles(rng, level, dtype, ks):
    # a window whose rows lie a page or more apart (a dask block, a view) takes
    # tiles of at most window_tile_rows rows: the same bits as its copy, whose
    # rows are contiguous and take the build's tiles, at every height and
    # thread count
    from ndconv._plan import direct
    big = random_array(rng, (260, 1400), dtype)
    k = random_array(rng, ks, dtype)
    win = big[3:250, 200:530]           # rows 1400 samples apart, 330 wide
    assert direct._window_rows(win) == (tuning.SETTINGS.window_tile_rows or 0)
    assert direct._window_rows(np.ascontiguousarray(win)) == 0
    assert direct._window_rows(big[:, 1:]) == 0         # rows a few samples apart
    with tuning.override(window_tile_rows=7):
        assert direct._window_rows(win) == 7
        assert direct._window_rows(win[:, ::2]) == 0     # rows of strided samples
    ref, absconv = oracle(np.ascontiguousarray(win), k, "same", "reflect")
    with _dispatch.use(level):
        base = ndconv.correlate(np.ascontiguousarray(win), k, "same", boundary="reflect",
                                method="direct", workers=1)
        assert_contract(base, ref, absconv, k.size, dtype)
        for rows in (1, 5, 24, 4096, None):
            with tuning.override(window_tile_rows=rows):
                for workers in (1, 2, 3):
                    res = ndconv.correlate(win, k, "same", boundary="reflect", method="direct",
                                           workers=workers)
                    np.testing.assert_array_equal(res, base, err_msg="%s-row tiles" % rows)


@pytest.mark.parametrize("level", sorted(_dispatch.builds()))
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("xs,ks", [((300, 390), (3, 3)), ((70, 257), (5, 4)), ((40, 200), (7, 7)),
                                   ((3, 50, 160), (1, 2, 5)), ((200, 90), (3, 7))])
def test_streamed_stores_give_the_same_bits(rng, level, dtype, xs, ks):
    # outputs larger than the caches (tuning.Settings.uncached_bytes) take short
    # tiles for kernels of 2-3 x 2-5 taps; far larger ones (stream_bytes) are also
    # stored with non-temporal stores, only where a row starts a cache line, and
    # each work item fenced: the same values, whatever the row alignment (odd
    # widths) and thread count
    x = random_array(rng, xs, dtype)
    k = random_array(rng, ks, dtype)
    with _dispatch.use(level):
        with tuning.override(stream_bytes=None, uncached_bytes=None):
            plain = ndconv.correlate(x, k, "same", boundary="wrap", method="direct", workers=1)
        for stream in (None, 0):
            with tuning.override(stream_bytes=stream, uncached_bytes=0):
                for workers in (1, 2, 3):
                    for out in (None, np.empty_like(plain)):
                        res = ndconv.correlate(x, k, "same", boundary="wrap", method="direct",
                                               workers=workers, out=out)
                        np.testing.assert_array_equal(res, plain)
    ref, absconv = oracle(x, k, "same", "wrap")
    assert_contract(plain, ref, absconv, k.size, dtype)
