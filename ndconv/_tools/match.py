"""Template matching by normalised cross-correlation, built on ``correlate``."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .._api import correlate
from .._plan.validation import BOUNDARIES, MODES, as_array, check_choice

if TYPE_CHECKING:
    from numpy.typing import ArrayLike, NDArray

    from .._plan.validation import Boundary, Method, Mode

__all__ = ["match_template"]


def match_template(image: ArrayLike, template: ArrayLike, mode: Mode = "valid", *,
                   boundary: Boundary = "constant", cval: float = 0.0, method: Method = "auto",
                   workers: int | None = None) -> NDArray[np.float64]:
    """Normalised cross-correlation of ``template`` at every position of ``image``.

    The score of a position is the correlation coefficient between the
    template and the patch of the image under it::

        score = sum((t - mean(t)) * (p - mean(p))) / sqrt(sum((t - mean(t))**2) * sum((p - mean(p))**2))

    1 for a patch that is the template up to brightness and contrast, -1 for
    its negative, near 0 for an unrelated patch.  It is computed for all
    positions at once from three correlations: the zero-mean template with the
    image (the patch mean cancels because the zero-mean template sums to 0),
    and a box of ones with the image and with the image squared (sum and sum
    of squares of every patch).

    Parameters
    ----------
    image : array_like
        Real array of any number of dimensions (a grey image, a signal, a volume).
    template : array_like
        Real array with ``template.ndim == image.ndim``.
    mode : {"valid", "same", "full"}, optional
        Positions scored, as in :func:`ndconv.correlate`.  With ``"valid"`` (the
        default) ``score[r, c]`` belongs to the patch whose first (top-left)
        element is ``image[r, c]``; ``"same"`` centres the template on each
        pixel (anchor ``K // 2``) and reads ``boundary`` past the edges.
    boundary : {"constant", "edge", "symmetric", "reflect", "wrap"}, optional
        How ``image`` is extended for ``"same"`` and ``"full"``.
    cval : float, optional
        Value past the edges for ``boundary="constant"``.
    method, workers
        As in :func:`ndconv.correlate`.

    Returns
    -------
    ndarray of float64
        Scores in ``[-1, 1]``.  Where the patch or the template is flat (its
        variance is zero to within rounding), the coefficient is undefined and
        the score is 0.

    Notes
    -----
    The computation runs in float64 whatever the input dtype: the patch
    variance ``sum(p**2) - sum(p)**2 / n`` cancels badly in float32.  A patch
    counts as flat when its variance term is below ``4 * n * eps *
    sum(p**2)``, the rounding bound of the direct sums it is computed from.
    This is the normalisation of OpenCV's ``TM_CCOEFF_NORMED`` and of
    ``skimage.feature.match_template``.

    Examples
    --------
    >>> import numpy as np, ndconv
    >>> rng = np.random.default_rng(0)
    >>> scene = rng.random((60, 80))
    >>> template = scene[20:30, 45:52].copy()
    >>> score = ndconv.match_template(scene, template)
    >>> np.unravel_index(np.argmax(score), score.shape)
    (np.int64(20), np.int64(45))
    >>> round(float(score.max()), 6)
    1.0
    """
    image = as_array(image, "image")
    template = as_array(template, "template")
    for name, a in (("image", image), ("template", template)):
        if a.dtype.kind == "c":
            raise TypeError("%s is complex; match_template scores real arrays" % name)
    check_choice(mode, "mode", MODES)
    check_choice(boundary, "boundary", BOUNDARIES)
    if image.ndim != template.ndim:
        raise ValueError("template.ndim (%d) must equal image.ndim (%d)" % (template.ndim, image.ndim))
    if template.size == 0 or image.size == 0:
        raise ValueError("image and template must not be empty")
    if mode == "valid" and any(t > s for t, s in zip(template.shape, image.shape)):
        raise ValueError("template %s is larger than image %s along some axis; mode='valid' "
                         "needs it to fit" % (template.shape, image.shape))
    x = np.asarray(image, dtype=np.float64)
    t = np.asarray(template, dtype=np.float64)
    # Centring the image on its mean changes no score (scores ignore offsets) but
    # keeps sum(p**2) small, so the variance below loses fewer digits.
    shift = float(np.mean(x)) if np.all(np.isfinite(x)) else 0.0
    x = x - shift
    c = float(cval) - shift
    n = t.size
    t0 = t - t.mean()
    t_energy = float(np.sum(t0 * t0))
    box = np.ones_like(t)
    kw = dict(boundary=boundary, method=method, workers=workers)
    numerator = correlate(x, t0, mode, cval=c, **kw)
    patch_sum = correlate(x, box, mode, cval=c, **kw)
    patch_sq = correlate(x * x, box, mode, cval=c * c, **kw)
    patch_var = patch_sq - patch_sum * patch_sum / n          # n * variance of each patch
    eps = np.finfo(np.float64).eps
    flat = patch_var <= 4 * n * eps * np.abs(patch_sq)
    if t_energy <= 4 * n * eps * float(np.sum(t * t)):
        flat[...] = True
    with np.errstate(invalid="ignore", divide="ignore"):
        score = numerator / np.sqrt(np.where(flat, 1.0, patch_var) * max(t_energy, 1e-300))
    score[flat] = 0.0
    return np.clip(score, -1.0, 1.0, out=score)
