"""``dtype=`` and ``casting=``: exact sums, rounded half to even, then saturated,
checked, or wrapped -- against an exact reference computed here."""
import numpy as np
import pytest

import ndconv


def exact_same_2d(x, k, boundary):
    """'same' correlation by its definition with Python ints / float64, on the
    numpy.pad extension (the reference for the integer paths)."""
    kh, kw = k.shape
    xp = np.pad(x.astype(np.float64 if k.dtype.kind == "f" else object),
                ((kh // 2, (kh - 1) // 2), (kw // 2, (kw - 1) // 2)), mode=boundary)
    out = np.zeros(x.shape, xp.dtype)
    for i in range(kh):
        for j in range(kw):
            out += k[i, j] * xp[i:i + x.shape[0], j:j + x.shape[1]]
    return out


INT_DTYPES = [np.uint8, np.int8, np.uint16, np.int16, np.int32, np.uint32]


@pytest.mark.parametrize("dt", INT_DTYPES)
@pytest.mark.parametrize("casting", ["saturate", "raise", "wrap"])
def test_integer_inputs_exact_then_cast(dt, casting):
    rng = np.random.default_rng(1)
    info = np.iinfo(dt)
    x = rng.integers(max(info.min, -1000), min(info.max, 1000), (23, 31)).astype(dt)
    k = rng.integers(-3, 4, (3, 5)).astype(np.int64)
    exact = exact_same_2d(x, k, "reflect").astype(np.int64)     # Python ints: exact
    if casting == "raise" and ((exact < info.min) | (exact > info.max)).any():
        n = int(((exact < info.min) | (exact > info.max)).sum())
        with pytest.raises(OverflowError, match="%d outputs are outside" % n):
            ndconv.correlate(x, k, "same", boundary="reflect", dtype=dt, casting=casting)
        return
    y = ndconv.correlate(x, k, "same", boundary="reflect", dtype=dt, casting=casting)
    assert y.dtype == np.dtype(dt)
    if casting == "saturate":
        want = np.clip(exact, info.min, info.max)
    else:
        want = exact % (1 << (8 * np.dtype(dt).itemsize))
        if info.min < 0:
            want = np.where(want > info.max, want - (1 << (8 * np.dtype(dt).itemsize)), want)
    assert np.array_equal(y.astype(np.int64), want)


@pytest.mark.parametrize("casting", ["saturate", "raise", "wrap"])
def test_float_sums_round_half_to_even(casting):
    x = np.array([[1, 3, 5, 7, 2, 4]], np.uint8)
    k = np.array([[0.5, 0.25, 0.25]])
    # sums 0.5*a + 0.25*b + 0.25*c are exact in float64: ties round to even
    y = ndconv.correlate(x, k, "valid", dtype=np.uint8, casting=casting)
    exact = 0.5 * x[0, :-2] + 0.25 * x[0, 1:-1] + 0.25 * x[0, 2:]
    assert np.array_equal(y[0], np.rint(exact).astype(np.uint8))
    ties = exact - np.floor(exact) == 0.5
    assert ties.any()


def test_saturate_float_extremes():
    x = np.array([0.0, 1e30, -1e30, np.inf, -np.inf, 255.5, 256.4, -0.6])
    y = ndconv.convolve(x, [1.0], dtype=np.uint8)
    assert y.tolist() == [0, 255, 0, 255, 0, 255, 255, 0]
    y64 = ndconv.convolve(x[:3], [1.0], dtype=np.int64)
    assert y64.tolist() == [0, np.iinfo(np.int64).max - 1023, np.iinfo(np.int64).min]


def test_nan_cannot_be_an_integer():
    with pytest.raises(ValueError, match="1 outputs are NaN.*index \\(1,\\)"):
        ndconv.convolve([0.0, np.nan, 0.0], [1.0], dtype=np.int16)


def test_raise_names_count_and_first_index():
    x = np.zeros((4, 5), np.uint8)
    x[2, 3] = 200
    x[3, 4] = 250
    with pytest.raises(OverflowError, match="2 outputs .* first at index \\(2, 3\\) is 400"):
        ndconv.convolve(x, [[2]], "same", dtype=np.uint8, casting="raise")


def test_float16_and_float_dtypes():
    rng = np.random.default_rng(2)
    x = rng.standard_normal(100).astype(np.float16)
    k = rng.standard_normal(5).astype(np.float16)
    y = ndconv.convolve(x, k, dtype=np.float16)
    assert y.dtype == np.float16
    ref = np.convolve(x.astype(np.float64), k.astype(np.float64))
    # float32 sums (5 taps) then one rounding to float16
    bound = np.finfo(np.float16).eps * np.abs(ref) + 4 * 5 * np.finfo(np.float32).eps * \
        np.convolve(np.abs(x.astype(np.float64)), np.abs(k.astype(np.float64)))
    assert np.all(np.abs(y.astype(np.float64) - ref) <= bound + 1e-7)
    z = ndconv.convolve(x, k, dtype=np.complex128)
    assert z.dtype == np.complex128


def test_bool_dtype_and_out():
    x = np.array([0, 1, 0, 0, 2], np.int16)
    out = np.empty(5, np.uint8)
    res = ndconv.convolve(x, [1, 1, 1], "same", dtype=np.uint8, out=out)
    assert res is out
    assert out.tolist() == [1, 1, 1, 2, 2]
    assert ndconv.convolve(x, [1, -1], "valid", dtype=bool).tolist() == [True, True, False, True]
    with pytest.raises(ValueError, match="out"):
        ndconv.convolve(x, [1, 1, 1], "same", dtype=np.uint8, out=np.empty(5, np.int8))


def test_bad_dtype_and_casting():
    with pytest.raises(TypeError, match="dtype"):
        ndconv.convolve([1.0], [1.0], dtype="U3")
    with pytest.raises(TypeError, match="dtype"):
        ndconv.convolve([1.0], [1.0], dtype="not a dtype")
    with pytest.raises(ValueError, match="casting"):
        ndconv.convolve([1.0], [1.0], dtype=np.uint8, casting="unsafe")
    with pytest.raises(ValueError, match="casting"):
        ndconv.convolve([1.0], [1.0], dtype=np.float32, casting="wrap")
    with pytest.raises(ValueError, match="casting"):
        ndconv.convolve([1.0], [1.0], casting="wrap")
    with pytest.raises(TypeError, match="complex"):
        ndconv.convolve([1j], [1.0], dtype=np.int32)


def test_matches_opencv_on_integer_images():
    cv2 = pytest.importorskip("cv2")
    rng = np.random.default_rng(0)
    borders = {"reflect": cv2.BORDER_REFLECT_101, "symmetric": cv2.BORDER_REFLECT,
               "edge": cv2.BORDER_REPLICATE}
    for src, top in ((np.uint8, 255), (np.uint16, 3000), (np.int16, 3000)):
        img = (rng.random((97, 131)) * top).astype(src)
        for K in (3, 5, 7, 15):
            g = cv2.getGaussianKernel(K, 0).astype(np.float32)
            for k in (np.ones((K, K), np.float32) / K**2, g @ g.T,
                      rng.standard_normal((K, K)).astype(np.float32)):
                for b, cb in borders.items():
                    ref = cv2.filter2D(img, -1, k, borderType=cb)
                    y = ndconv.correlate(img, k, "same", boundary=b, dtype=src)
                    differ = y != ref
                    if not differ.any():
                        continue
                    # OpenCV sums in float32: it may round the other way only where
                    # the float64 sum lies within float32's accumulation error of a tie
                    exact = ndconv.correlate(img, k.astype(np.float64), "same", boundary=b)
                    absum = ndconv.correlate(np.abs(img.astype(np.float64)), np.abs(k), "same",
                                             boundary=b)
                    tol = 2 * K * K * np.finfo(np.float32).eps * absum
                    frac = np.abs(exact - np.floor(exact) - 0.5)
                    assert np.all(np.abs(y.astype(int) - ref.astype(int))[differ] == 1)
                    assert np.all(frac[differ] <= tol[differ])
