"""match_template against a naive loop of correlation coefficients."""
import numpy as np
import pytest

import ndconv


def _naive(image, template):
    """np.corrcoef of the template with every patch (valid positions), 0 for flat patches."""
    out = np.zeros(tuple(s - t + 1 for s, t in zip(image.shape, template.shape)))
    t = template.ravel()
    for idx in np.ndindex(*out.shape):
        p = image[tuple(slice(i, i + n) for i, n in zip(idx, template.shape))].ravel()
        if np.ptp(p) > 0:
            out[idx] = np.corrcoef(p, t)[0, 1]
    return out


@pytest.mark.parametrize("method", ["direct", "fft"])
@pytest.mark.parametrize("shapes", [((40, 50), (7, 5)), ((300,), (16,)), ((9, 10, 11), (3, 4, 2))])
def test_matches_naive_corrcoef(method, shapes):
    rng = np.random.default_rng(0)
    image = rng.random(shapes[0]) * 10 + 100          # an offset makes the variance cancel
    template = rng.random(shapes[1])
    got = ndconv.match_template(image, template, method=method)
    # scores are O(1); the float64 sums behind them carry relative errors of
    # about n_taps * eps * (patch energy / patch variance) ~ 100 * 2e-16 * 1e3
    # after centring, far below 1e-9
    np.testing.assert_allclose(got, _naive(image, template), rtol=0, atol=1e-9)
    assert got.dtype == np.float64


def test_finds_a_planted_template_up_to_brightness_and_contrast():
    rng = np.random.default_rng(1)
    image = rng.random((80, 90)).astype(np.float32)
    template = rng.random((9, 6)).astype(np.float32)
    image[33:42, 57:63] = 0.3 * template + 0.5
    score = ndconv.match_template(image, template)
    assert np.unravel_index(np.argmax(score), score.shape) == (33, 57)
    assert score[33, 57] == pytest.approx(1.0, abs=1e-6)
    assert ndconv.match_template(image, -template)[33, 57] == pytest.approx(-1.0, abs=1e-6)
    assert np.all(np.abs(score) <= 1)


def test_flat_patches_and_flat_template_score_zero():
    image = np.zeros((20, 20))
    image[10:, 10:] = np.random.default_rng(2).random((10, 10))
    template = np.random.default_rng(3).random((4, 4))
    score = ndconv.match_template(image, template)
    assert np.all(score[:6, :6] == 0) and np.all(np.isfinite(score))
    assert np.all(ndconv.match_template(image, np.ones((3, 3))) == 0)


def test_same_mode_centres_the_template():
    rng = np.random.default_rng(4)
    image = rng.random((30, 40))
    template = image[10:15, 20:27].copy()
    score = ndconv.match_template(image, template, "same", boundary="reflect")
    assert score.shape == image.shape
    # anchor K//2: the patch starting at (10, 20) is scored at (10 + 2, 20 + 3)
    assert np.unravel_index(np.argmax(score), score.shape) == (12, 23)
    np.testing.assert_allclose(score[2:-2, 3:-3], ndconv.match_template(image, template),
                               atol=1e-12)


def test_bad_input():
    with pytest.raises(ValueError, match="larger than image"):
        ndconv.match_template(np.ones((3, 3)), np.ones((4, 2)))
    with pytest.raises(ValueError, match="ndim"):
        ndconv.match_template(np.ones((3, 3)), np.ones(2))
    with pytest.raises(TypeError, match="complex"):
        ndconv.match_template(np.ones(5) * 1j, np.ones(2))
    with pytest.raises(ValueError, match="mode"):
        ndconv.match_template(np.ones(5), np.ones(2), "middle")
    with pytest.raises(TypeError, match="image"):
        ndconv.match_template(np.array(["a", "b"]), np.ones(1))
    x = np.random.default_rng(5).random((10, 10))
    before = x.copy()
    ndconv.match_template(x, x[:3, :3])
    assert np.array_equal(x, before)
