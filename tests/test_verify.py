"""check_commutativity and compare_with_scipy.

The commutativity rule is tested against brute force: with integer-valued
float64 inputs every product and sum is exact (|values| <= 1000, a few hundred
terms, far below 2**53), so ``convolve(f, g) == convolve(g, f)`` holds bit for
bit exactly when it holds in exact arithmetic, and a rule that calls a case
commutative must see equality, one that calls it not commutative a difference.
A bilinear identity that is false vanishes at a random integer point with
probability at most 2/2001 per output (Schwartz-Zippel); two draws make a false
"not commutative" verdict practically impossible and the seeds make it
deterministic.
"""
import itertools
import sys

import numpy as np
import pytest

import ndconv
from ndconv._tools import verify as _verify

pytest.importorskip("scipy")

BOUNDARIES = ("constant", "edge", "symmetric", "reflect", "wrap")


def _ints(rng, shape):
    return rng.integers(-1000, 1001, shape).astype(np.float64)


def _exactly_commutative(f_shape, g_shape, mode, boundary, cval, rng):
    """Brute force: do two random integer draws commute exactly?"""
    for _ in range(2):
        f, g = _ints(rng, f_shape), _ints(rng, g_shape)
        a = ndconv.convolve(f, g, mode, boundary=boundary, cval=cval, method="direct")
        b = ndconv.convolve(g, f, mode, boundary=boundary, cval=cval, method="direct")
        if a.shape != b.shape or not np.array_equal(a, b):
            return False
    return True


@pytest.mark.parametrize("mode", ["full", "same", "valid"])
def test_rule_matches_brute_force_1d(mode):
    rng = np.random.default_rng(1)
    for n, K in itertools.product(range(1, 8), repeat=2):
        for boundary, cval in [(b, 0.0) for b in BOUNDARIES] + [("constant", 7.0)]:
            rule, why = _verify.commutativity_rule((n,), (K,), mode, boundary, cval)
            truth = _exactly_commutative((n,), (K,), mode, boundary, cval, rng)
            assert rule == truth, (n, K, mode, boundary, cval, why)


@pytest.mark.parametrize("mode", ["full", "same", "valid"])
def test_rule_matches_brute_force_2d(mode):
    rng = np.random.default_rng(2)
    shapes = list(itertools.product(range(1, 4), repeat=2))
    for fs, gs in itertools.product(shapes, repeat=2):
        if mode == "valid" and not (all(a >= b for a, b in zip(fs, gs))
                                    or all(a <= b for a, b in zip(fs, gs))):
            continue  # undefined: ndconv (like scipy) raises
        for boundary, cval in [(b, 0.0) for b in BOUNDARIES] + [("constant", -3.0)]:
            rule, why = _verify.commutativity_rule(fs, gs, mode, boundary, cval)
            truth = _exactly_commutative(fs, gs, mode, boundary, cval, rng)
            assert rule == truth, (fs, gs, mode, boundary, cval, why)


@pytest.mark.parametrize("method", ["direct", "fft", "auto"])
@pytest.mark.parametrize("dtype", [np.float32, np.complex128])
def test_commutative_cases_pass_with_default_tolerance(method, dtype):
    rng = np.random.default_rng(3)

    def arr(shape):
        a = rng.standard_normal(shape)
        if np.dtype(dtype).kind == "c":
            a = a + 1j * rng.standard_normal(shape)
        return a.astype(dtype)

    cases = [((300,), (41,), "full", "constant"), ((64,), (64,), "full", "wrap"),
             ((37, 23), (37, 23), "same", "wrap"), ((30, 20), (5, 4), "valid", "edge"),
             ((2, 2), (2, 2), "same", "reflect"), ((40, 40), (40, 40), "same", "constant")]
    for fs, gs, mode, boundary in cases:
        r = ndconv.check_commutativity(arr(fs), arr(gs), mode, boundary, method=method)
        assert r.commutative_by_definition, r
        assert r.passed and not r.failed, r
        assert r.error_to_tolerance <= 1
        assert r.shape_fg == r.shape_gf


def test_not_commutative_by_definition_is_not_a_failure():
    rng = np.random.default_rng(4)
    f, g = rng.standard_normal((20, 9)), rng.standard_normal((5, 9))
    r = ndconv.check_commutativity(f, g, "same")
    assert not r.commutative_by_definition and not r.passed and not r.failed
    assert r.shape_fg == (20, 9) and r.shape_gf == (5, 9)
    assert "not commutative by definition" in r.explanation and "axis 0" in r.explanation
    assert "not commutative by definition" in str(r)
    assert np.isnan(r.max_abs_error)
    r = ndconv.check_commutativity(f[:5], g, "full", "symmetric")
    assert not r.commutative_by_definition and "symmetric" in r.explanation
    assert r.max_abs_error > 0.1          # they really differ
    r = ndconv.check_commutativity(f[:5], g, "full", cval=1.5)
    assert not r.commutative_by_definition and "cval" in r.explanation


def test_numerical_failure_is_reported():
    # an absurdly tight explicit tolerance turns rounding differences into failures
    rng = np.random.default_rng(5)
    f, g = rng.standard_normal(500).astype(np.float32), rng.standard_normal(300).astype(np.float32)
    r = ndconv.check_commutativity(f, g, method="direct", atol=0.0, rtol=0.0)
    if r.max_abs_error > 0:
        assert r.failed and not r.passed and "FAILED" in str(r)
    loose = ndconv.check_commutativity(f, g, method="direct", rtol=1e-3, atol=1e-3)
    assert loose.passed and "atol=0.001" in loose.tolerance


def test_error_measures():
    a = np.array([1.0, 2.0, 3.0 + 2e-15])
    b = np.array([1.0, 2.0, 3.0])
    e = _verify._differences(a, b, np.float64)
    assert e["where_abs"] == (2,) and e["where_ulp"] == (2,)
    assert e["max_abs"] == pytest.approx(abs(a[2] - 3.0))
    assert e["max_ulp"] == pytest.approx(abs(a[2] - 3.0) / np.spacing(3.0))
    assert e["max_rel"] == pytest.approx(e["max_abs"] / 3.0)
    # equal non-finite values agree; a NaN against a number does not
    e = _verify._differences(np.array([np.nan, np.inf, 1.0]), np.array([np.nan, np.inf, np.nan]),
                             np.float64)
    assert e["diff"].tolist() == [0.0, 0.0, np.inf]


def test_commutativity_bad_input():
    with pytest.raises(ValueError, match="mode"):
        ndconv.check_commutativity([1.0], [1.0], "nope")
    with pytest.raises(ValueError, match="boundary"):
        ndconv.check_commutativity([1.0], [1.0], boundary="mirror")
    with pytest.raises(ValueError, match="same number of dimensions"):
        ndconv.check_commutativity(np.ones((2, 2)), [1.0])
    with pytest.raises(ValueError, match="rtol"):
        ndconv.check_commutativity([1.0], [1.0], rtol=-1)
    with pytest.raises(TypeError, match="f"):
        ndconv.check_commutativity(["a"], [1.0])


# ----------------------------------------------------------------------------- scipy
def _reference(op, x, k, mode, boundary, cval, origin, axes):
    """Independent definition: np.pad then a naive loop over output positions."""
    x = np.asarray(x, dtype=np.complex128)
    k = np.asarray(k, dtype=np.complex128)
    if axes is None:
        axes = tuple(range(x.ndim))
    kf = k.reshape([k.shape[list(axes).index(a)] if a in axes else 1 for a in range(x.ndim)])
    if op == "convolve":
        kf = kf[(slice(None, None, -1),) * kf.ndim]
    else:
        kf = np.conj(kf)
    origins = [0] * x.ndim
    if np.ndim(origin) == 0:
        origin = [origin] * len(axes)
    for a, o in zip(axes, origin):
        origins[a] = o
    widths = []
    for K, o in zip(kf.shape, origins):
        if mode == "full":
            widths.append((K - 1, K - 1))
        else:
            lo = K // 2 + o
            widths.append((lo, K - 1 - lo))
    kw = {"constant_values": cval} if boundary == "constant" else {}
    xp = np.pad(x, widths, mode=boundary, **kw)
    out_shape = [p - K + 1 for p, K in zip(xp.shape, kf.shape)]
    out = np.empty(out_shape, dtype=np.complex128)
    for idx in np.ndindex(*out_shape):
        window = xp[tuple(slice(i, i + K) for i, K in zip(idx, kf.shape))]
        out[idx] = np.sum(window * kf)
    return out


@pytest.mark.parametrize("op", ["convolve", "correlate"])
@pytest.mark.parametrize("boundary", BOUNDARIES)
def test_compare_translation_is_exact(op, boundary):
    """Every translated scipy call equals the definition (np.pad + loop), for
    odd and even kernels, shifted origins, axes subsets, cval and kernels more
    than twice as wide as x (where scipy.ndimage's "reflect" is wrong and the
    translation pads instead); ndconv and scipy then agree."""
    rng = np.random.default_rng(6)
    cases = [((3, 4), "same", 0, None), ((4, 4), "same", (-2, 1), None),
             ((2, 5), "full", 0, None), ((4,), "same", 1, (1,)), ((3,), "full", 0, (0,)),
             ((12, 3), "same", (0, -1), None), ((25, 3), "same", (3, -1), None)]
    for i, (kshape, mode, origin, axes) in enumerate(cases + [((16, 3), "same", (2, 0), None)]):
        # the last case: an axis of 2 samples, where ndimage's "reflect" fails
        x = rng.standard_normal((9, 8) if i < len(cases) else (2, 7))
        k = rng.standard_normal(kshape)
        cval = 0.5 if boundary == "constant" else 0.0
        kwargs = dict(boundary=boundary, cval=cval, origin=origin, axes=axes)
        _, theirs, desc, _, _ = _verify._unified_reference(op, (x, k, mode), kwargs)
        ref = _reference(op, x, k, mode, boundary, cval, origin, axes)
        # scipy and the loop sum at most 60 float64 products of |values| < 5
        # in different orders: differences of a few eps * 60 * 25
        np.testing.assert_allclose(theirs(), ref.real, rtol=0, atol=1e-12, err_msg=desc)
        r = ndconv.compare_with_scipy(op, x, k, mode, **kwargs)
        assert r.passed, r


def test_compare_routes_and_conventions():
    rng = np.random.default_rng(7)
    x = rng.standard_normal((40, 30)).astype(np.float32)
    k = rng.standard_normal((3, 4)).astype(np.float32)
    r = ndconv.compare_with_scipy("convolve", x, k, "same", boundary="edge")
    # ndimage moves an even kernel's anchor in convolve; the translation undoes it
    assert r.scipy_function == "scipy.ndimage.convolve(x, k, mode='nearest', origin=[0, -1])"
    assert r.passed and r.dtype == np.float32 and r.shape == (40, 30)
    assert r.ndconv_time > 0 and r.scipy_time > 0 and r.repeats >= 3
    assert r.speedup == pytest.approx(r.scipy_time / r.ndconv_time)
    assert "agree" in str(r) and "median of" in str(r)
    r = ndconv.compare_with_scipy(ndconv.correlate, x, k, "full", boundary="reflect")
    assert r.scipy_function.startswith("scipy.signal.correlate(np.pad(x, K-1, mode='reflect')")
    assert r.passed
    r = ndconv.compare_with_scipy("correlate", x + 1j * x, k, "valid")
    assert r.scipy_function == "scipy.signal.correlate(x, k, 'valid')" and r.passed
    # a kernel wider than x along the convolved axis only
    r = ndconv.compare_with_scipy("convolve", x, rng.standard_normal(50), "valid", axes=0)
    assert r.passed and r.shape == (11, 30)
    # integers follow ndconv's dtype rule (float64), compared exactly
    r = ndconv.compare_with_scipy("convolve", np.arange(20), np.array([1, 2, 3]))
    assert r.passed and r.dtype == np.float64 and r.max_abs_error == 0


def test_compare_dropins():
    rng = np.random.default_rng(8)
    img = rng.standard_normal((30, 20))
    r = ndconv.compare_with_scipy("signal.convolve2d", img, np.ones((3, 2)), "same", boundary="symm")
    assert r.scipy_function == "scipy.signal.convolve2d" and r.passed
    r = ndconv.compare_with_scipy(ndconv.ndimage.correlate1d, img, [1.0, 2.0, -1.0], axis=0, mode="wrap")
    assert r.scipy_function == "scipy.ndimage.correlate1d" and r.passed
    r = ndconv.compare_with_scipy("numpy.convolve", img[0], [1.0, 2.0])
    assert r.scipy_function == "numpy.convolve" and r.passed


def test_compare_detects_a_wrong_result(monkeypatch):
    """A result that is off by one sample must be reported as disagreeing."""
    x = np.random.default_rng(9).standard_normal(100)
    real_convolve = ndconv._api.convolve

    def shifted(*args, **kwargs):
        return np.roll(real_convolve(*args, **kwargs), 1)

    monkeypatch.setattr(ndconv._api, "convolve", shifted)
    r = _verify.compare("convolve", (x, np.ones(3)), {}, timed=False)
    assert not r.passed and "DISAGREE" in str(r) and r.error_to_tolerance > 1


def test_compare_bad_names():
    with pytest.raises(ValueError, match="known"):
        ndconv.compare_with_scipy("signal.choose_conv_method", [1.0], [1.0])
    with pytest.raises(ValueError, match="known"):
        ndconv.compare_with_scipy("fftconvolve2", [1.0], [1.0])
    with pytest.raises(ValueError, match="ndconv's own functions"):
        ndconv.compare_with_scipy(np.convolve, [1.0], [1.0])
    with pytest.raises(TypeError, match="name_or_callable"):
        ndconv.compare_with_scipy(3, [1.0], [1.0])
    with pytest.raises(ValueError, match="mode"):        # ndconv's own validation
        ndconv.compare_with_scipy("convolve", [1.0], [1.0], "middle")


def test_compare_without_scipy(monkeypatch):
    for name in [m for m in sys.modules if m == "scipy" or m.startswith("scipy.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "scipy", None)     # import scipy -> ImportError
    with pytest.raises(ImportError, match="pip install scipy"):
        ndconv.compare_with_scipy("convolve", [1.0, 2.0], [1.0])
    # commutativity needs no scipy
    assert ndconv.check_commutativity([1.0, 2.0], [3.0]).passed


# ----------------------------------------------------------------------------- result objects
class _Printer:
    """What IPython passes to ``_repr_pretty_``: collects the text."""

    def __init__(self):
        self.parts = []

    def text(self, s):
        self.parts.append(s)


def _html_table(html):
    """(caption, [(header, cell), ...]) of a result's HTML table, parsed strictly."""
    from html.parser import HTMLParser

    class Parser(HTMLParser):
        def __init__(self):
            super().__init__()
            self.stack, self.caption, self.rows, self.cell = [], "", [], None

        def handle_starttag(self, tag, attrs):
            self.stack.append(tag)
            if tag == "tr":
                self.rows.append([])

        def handle_endtag(self, tag):
            assert self.stack and self.stack.pop() == tag, (tag, html)

        def handle_data(self, data):
            if "caption" in self.stack:
                self.caption += data
            elif self.stack and self.stack[-1] in ("th", "td"):
                self.rows[-1].append(data)

    p = Parser()
    p.feed(html)
    p.close()
    assert p.stack == [], html
    return p.caption, [tuple(r) for r in p.rows]


def test_results_are_false_when_the_check_fails(monkeypatch):
    rng = np.random.default_rng(10)
    f, g = rng.standard_normal(40), rng.standard_normal(9)
    ok = ndconv.check_commutativity(f, g)
    assert ok.passed and bool(ok)
    assert ndconv.check_commutativity(f, g)
    # not commutative by definition: not passed, so false
    same = ndconv.check_commutativity(f, g, "same")
    assert not same.passed and not bool(same)
    with pytest.raises(AssertionError):
        assert ndconv.check_commutativity(f, g, "same")

    # a numerical failure: g * f made wrong by 1e-6 in one element (only for
    # signed inputs: the tolerance is computed from |g| and |f|, left exact)
    real = ndconv._api.convolve

    def wrong_when_swapped(a, b, *args, **kwargs):
        y = np.array(real(a, b, *args, **kwargs))
        a = np.asarray(a)
        if a.size < np.asarray(b).size and a.min() < 0:
            y.flat[3] += 1e-6
        return y

    monkeypatch.setattr(ndconv._api, "convolve", wrong_when_swapped)
    bad = ndconv.check_commutativity(f, g)
    assert bad.failed and not bad.passed and not bool(bad)
    with pytest.raises(AssertionError):
        assert ndconv.check_commutativity(f, g)
    # the scipy comparison of the same wrong convolve
    r = _verify.compare("convolve", (g, f), {}, timed=False)
    assert not r.passed and not bool(r)
    with pytest.raises(AssertionError):
        assert _verify.compare("convolve", (g, f), {}, timed=False)
    monkeypatch.undo()
    assert _verify.compare("convolve", (g, f), {}, timed=False)


def test_error_relative_to_the_output_scale():
    """FFT against a direct sum: outputs near zero (large products cancelling)
    have tiny ULPs, so the per-element ULP count is huge although every output
    is as accurate as the arithmetic allows; the printed measure is the error
    against the largest output, in eps, computed here independently."""
    from scipy import signal
    rng = np.random.default_rng(11)
    x, k = rng.standard_normal(4096), rng.standard_normal(65)
    r = ndconv.compare_with_scipy("convolve", x, k, method="fft")
    got = ndconv.convolve(x, k, method="fft")
    ref = signal.convolve(x, k)                          # what compare_with_scipy calls
    assert r.scipy_function == "scipy.signal.convolve(x, k, 'full')"
    diff = np.abs(got - ref)
    eps = np.finfo(np.float64).eps
    expected = diff.max() / (eps * np.abs(ref).max())
    assert r.max_error_in_eps == pytest.approx(expected, rel=1e-12)
    assert r.max_abs_error == pytest.approx(diff.max(), rel=1e-12)
    ulps = diff / np.spacing(np.abs(ref))
    assert r.max_ulp_error == pytest.approx(ulps.max(), rel=1e-12)
    assert r.passed and r.max_ulp_error > 1000 * r.max_error_in_eps   # the alarming number
    text = str(r)
    assert "ULP" not in text and "%.3g eps of float64" % expected in text
    assert "relative to the largest output %.3g" % (diff.max() / np.abs(ref).max()) in text

    # float32 commutativity: eps of float32, against max|g*f|
    f, g = rng.standard_normal(300).astype(np.float32), rng.standard_normal(50).astype(np.float32)
    c = ndconv.check_commutativity(f, g, method="fft")
    fg = ndconv.convolve(f, g, method="fft").astype(np.float64)
    gf = ndconv.convolve(g, f, method="fft").astype(np.float64)
    expected = np.abs(fg - gf).max() / (np.finfo(np.float32).eps * np.abs(gf).max())
    assert c.max_error_in_eps == pytest.approx(expected, rel=1e-6)
    assert "eps of float32" in str(c) and "ULP" not in str(c)


def test_result_displays():
    rng = np.random.default_rng(12)
    x, k = rng.standard_normal((30, 20)), rng.standard_normal((3, 3))
    results = [_verify.compare("convolve", (x, k, "same"), {"boundary": "symmetric"}, timed=False),
               ndconv.check_commutativity(x[:5, :5], k, "full"),
               ndconv.check_commutativity(x[:3], k, "same")]
    for r in results:
        text = repr(r)
        assert "\n" not in text and len(text) < 200, text
        assert text.startswith("<%s " % type(r).__name__) and text.endswith(">")
        assert ("agree" in text or "commutative" in text)
        p = _Printer()
        r._repr_pretty_(p, False)
        assert "".join(p.parts) == str(r)
        p = _Printer()
        r._repr_pretty_(p, True)
        assert "".join(p.parts) == repr(r)
        caption, rows = _html_table(r._repr_html_())
        assert caption == str(r).splitlines()[0]
        # the table holds what print shows, one row per detail line
        assert len(rows) == len(str(r).splitlines()) - 1
        for (label, value), line in zip(rows, str(r).splitlines()[1:]):
            assert line.split() == (label + " " + value).split()
    cmp_, comm, undefined = results
    assert "agree" in repr(cmp_) and "scipy.ndimage.convolve" in repr(cmp_)
    assert "mode='full'" in repr(comm) and "commutative" in repr(comm)
    assert "not commutative by definition" in repr(undefined)
    # a quote in the reference call is escaped, not markup
    assert "mode=&#x27;reflect&#x27;" in cmp_._repr_html_()
