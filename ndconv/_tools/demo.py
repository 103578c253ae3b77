"""``ndconv demo``: the main job, on the data the package ships.

Audio (reverb, FIR low-pass), images (blur, Sobel edge strength, sharpen) and
the chapter's Waldo search by normalised cross-correlation.  Every step's
convolution is also run through scipy (conventions translated by
:func:`ndconv.compare_with_scipy`) and the agreement and timings are printed
as a table.  Without scipy the scipy columns are skipped; without Pillow the
pictures are saved as ``.npy``; matplotlib, if installed, draws the Waldo
figure.
"""
import math
import os
import sys
import time

import numpy as np

from .. import _api, datasets
from . import io as _io
from . import verify as _verify
from .check import render
from .match import match_template
from .named_kernels import named_kernel

BUDGET = 0.1  # seconds of timed calls per function and step


def _have(module):
    try:
        __import__(module)
    except ImportError:
        return False
    return True


class _Steps:
    """Runs each step's convolution through ndconv (and scipy) and keeps the table rows."""

    def __init__(self, with_scipy):
        self.with_scipy = with_scipy
        self.rows = []
        self.ok = True

    def run(self, step, files, op, *args, **kwargs):
        """ndconv's result of ``op(*args, **kwargs)``, timed and compared."""
        if self.with_scipy:
            r, result = _verify.compare(op, args, kwargs, budget=BUDGET, with_result=True)
            self.rows.append([step, files, _ms(r.ndconv_time), _ms(r.scipy_time),
                              "%.2fx" % r.speedup, "%.1e" % r.max_rel_error,
                              "yes" if r.passed else "NO", r.scipy_function.split("(")[0]])
            self.ok = self.ok and r.passed
            return result
        fn = _api.convolve if op == "convolve" else _api.correlate
        t, _, result = _verify.median_time(lambda: fn(*args, **kwargs), BUDGET)
        self.rows.append([step, files, _ms(t), "-", "-", "-", "-", "-"])
        return result

    def table(self):
        return render(["step", "output", "ndconv", "scipy", "speed-up", "rel. error",
                       "agrees", "compared with"], self.rows)


# what each output file shows, printed under the file list
FILE_NOTES = {
    "speech": "the shipped speech clip, 16 kHz (input)",
    "reverb": "the speech convolved with the room impulse response (reverb), peak 0.9",
    "lowpass": "the speech through a 101-tap FIR low-pass at 1 kHz",
    "image": "the shipped picture (input)",
    "blur": "Gaussian blur, sigma 2.5 pixels, each colour channel alike",
    "edges": "edge strength of the grey picture: the gradient magnitude sqrt(gx^2 + gy^2) of "
             "the Sobel x and y derivatives, divided by its maximum",
    "sharpen": "sharpened: the picture minus 0.8 x its Laplacian",
    "waldo": "left: the scene, the best match boxed in red; right: the match score "
             "(normalised cross-correlation) at each position, its peak circled",
    "waldo_score": "the match score (normalised cross-correlation) at each position",
}


def _ms(s):
    return "%.2f ms" % (s * 1e3) if math.isfinite(s) else "-"


def _save_picture(out, name, data, notes):
    """PNG through Pillow, else .npy (with a note)."""
    if _have("PIL"):
        path = os.path.join(out, name + ".png")
    else:
        path = os.path.join(out, name + ".npy")
    notes.extend(_io.write(path, data))
    return os.path.basename(path)


def _waldo_figure(out, scene, template, score, found):
    """The scene with the match marked, beside the score map with its peak circled."""
    h, w = template.shape
    path = os.path.join(out, "waldo.png")
    if _have("matplotlib"):
        from matplotlib.figure import Figure
        from matplotlib.patches import Rectangle
        fig = Figure(figsize=(10, 3.9), layout="constrained")
        ax1, ax2 = fig.subplots(1, 2)
        ax1.imshow(scene, cmap="gray", vmin=0, vmax=1)
        ax1.add_patch(Rectangle((found[1] - 0.5, found[0] - 0.5), w, h, fill=False,
                                edgecolor="red", linewidth=2))
        ax1.set_title("scene: best match at row %d, column %d" % found)
        # the colours span the scores that occur (see score_colours)
        im = ax2.imshow(score, cmap="magma", vmin=float(score.min()), vmax=float(score.max()))
        ax2.plot(found[1], found[0], "o", markersize=16, markerfacecolor="none",
                 markeredgecolor="cyan", markeredgewidth=2)
        ax2.set_title("match score, peak %.3f circled" % score[found])
        fig.colorbar(im, ax=ax2, shrink=0.8)
        for ax in (ax1, ax2):
            ax.set_xticks([])
            ax.set_yticks([])
        with _io.replaced_when_complete(path) as f:
            fig.savefig(f, format="png", dpi=100)
        return "waldo.png"
    if _have("PIL"):
        with _io.replaced_when_complete(path) as f:
            waldo_picture(scene, template.shape, score, found).save(f, format="PNG")
        return "waldo.png"
    _io.write(os.path.join(out, "waldo_score.npy"), score)
    return "waldo_score.npy"


def score_colours(score):
    """The score map as RGB bytes through a dark-purple-orange-yellow ramp.

    The ramp spans the map's own range, not [-1, 1]: the picture must show one
    position near 1 among scores of 0.2-0.5, and a fixed range would spend
    half the ramp on values that do not occur.
    """
    anchors = np.array([[0, 0, 4], [80, 18, 123], [222, 73, 104], [252, 253, 191]], float)
    lo, hi = float(np.min(score)), float(np.max(score))
    t = (score - lo) / (hi - lo) if hi > lo else np.zeros_like(score)
    t = t * (len(anchors) - 1)
    rgb = np.stack([np.interp(t, np.arange(len(anchors)), anchors[:, i]) for i in range(3)], -1)
    return np.round(rgb).astype(np.uint8)


PEAK_MARK = (0, 255, 255)     # cyan: no colour of the ramp is near it


def waldo_picture(scene, template_shape, score, found, zoom=2):
    """The Waldo figure with Pillow alone (a PIL image): scene and score map
    side by side, zoomed, the match boxed in red, the score's peak ringed in
    cyan, a caption under each."""
    from PIL import Image, ImageDraw
    h, w = template_shape
    r, c = found
    grey = np.round(np.clip(scene, 0, 1) * 255).astype(np.uint8)
    left = Image.fromarray(grey).convert("RGB").resize(
        (zoom * scene.shape[1], zoom * scene.shape[0]), Image.NEAREST)
    right = Image.fromarray(score_colours(score)).resize(
        (zoom * score.shape[1], zoom * score.shape[0]), Image.NEAREST)
    caption = 28
    canvas = Image.new("RGB", (left.width + right.width + 10,
                               max(left.height, right.height) + caption), (255, 255, 255))
    canvas.paste(left, (0, 0))
    x0 = left.width + 10
    canvas.paste(right, (x0, 0))
    draw = ImageDraw.Draw(canvas)
    draw.rectangle([zoom * c - 1, zoom * r - 1, zoom * (c + w), zoom * (r + h)],
                   outline=(255, 0, 0), width=2)
    # the peak is a single position: a ring with four ticks shows it at any size
    # and leaves the peak itself uncovered
    cx, cy = x0 + zoom * c + zoom // 2, zoom * r + zoom // 2
    ring = 6 * zoom
    draw.ellipse([cx - ring, cy - ring, cx + ring, cy + ring], outline=PEAK_MARK, width=2)
    for dx, dy in ((1, 0), (-1, 0), (0, 1), (0, -1)):
        draw.line([cx + dx * (ring + 2), cy + dy * (ring + 2), cx + dx * 2 * ring,
                   cy + dy * 2 * ring], fill=PEAK_MARK, width=2)
    y_text = canvas.height - caption + 8
    draw.text((4, y_text), "scene: best match at row %d, column %d (red box)" % found,
              fill=(0, 0, 0))
    draw.text((x0 + 4, y_text), "match score %.2f (dark) to %.2f (bright), peak circled"
              % (float(score.min()), float(score.max())), fill=(0, 0, 0))
    return canvas


def run(out="demo-output", stream=None):
    """Run the demo, writing its files to ``out``; returns the exit status."""
    stream = sys.stdout if stream is None else stream
    t0 = time.perf_counter()
    os.makedirs(out, exist_ok=True)
    try:
        _verify._import_scipy()
        with_scipy = True
    except ImportError:
        with_scipy = False
    steps = _Steps(with_scipy)
    notes = []

    # 1. audio: the voice in a room, and a 1 kHz low-pass
    voice, rate = datasets.speech()
    rir, _ = datasets.room_impulse_response()
    _io.write(os.path.join(out, "speech.wav"), voice, rate)
    wet = steps.run("reverb (speech * room IR)", "reverb.wav", "convolve", voice, rir)
    _io.write(os.path.join(out, "reverb.wav"), 0.9 * wet / np.abs(wet).max(), rate)
    fir = named_kernel("lowpass:0.125:101", 1).astype(np.float32)      # 1 kHz at 16 kHz
    low = steps.run("FIR low-pass 1 kHz, 101 taps", "lowpass.wav", "convolve", voice, fir, "same")
    _io.write(os.path.join(out, "lowpass.wav"), low, rate)

    # 2. images: blur each colour channel, edges and sharpening
    rgb = datasets.image()
    _save_picture(out, "image", rgb, notes)
    gauss = named_kernel("gaussian:2.5", 2).astype(np.float32)
    blur = steps.run("Gaussian blur, sigma 2.5", "blur.png", "convolve", rgb, gauss, "same",
                     boundary="symmetric", axes=(0, 1))
    _save_picture(out, "blur", np.clip(blur, 0, 1), notes)   # float32 rounding may pass 1
    gray = datasets.image(as_gray=True)
    gx = steps.run("Sobel x derivative", "edges.png", "convolve", gray,
                   named_kernel("sobel-x", 2).astype(np.float32), "same", boundary="edge")
    gy = steps.run("Sobel y derivative", "edges.png", "convolve", gray,
                   named_kernel("sobel-y", 2).astype(np.float32), "same", boundary="edge")
    magnitude = np.hypot(gx, gy)                 # edges.png: the gradient magnitude
    _save_picture(out, "edges", magnitude / magnitude.max(), notes)
    sharp = steps.run("sharpen", "sharpen.png", "convolve", rgb,
                      named_kernel("sharpen:0.8", 2).astype(np.float32), "same", boundary="edge",
                      axes=(0, 1))
    _save_picture(out, "sharpen", np.clip(sharp, 0, 1), notes)

    # 3. Waldo: the zero-mean template correlated with the scene is the
    # numerator of the normalised score
    scene, template, truth = datasets.waldo()
    t_zero = (template - template.mean()).astype(np.float32)
    steps.run("Waldo: correlate(scene, template)", "waldo.png", "correlate", scene, t_zero, "valid")
    t1 = time.perf_counter()
    score = match_template(scene, template)
    t_match = time.perf_counter() - t1
    found = tuple(int(i) for i in np.unravel_index(np.argmax(score), score.shape))
    picture = _waldo_figure(out, scene, template, score, found)

    print("ndconv demo: writing to %s/" % out.rstrip("/"), file=stream)
    print(steps.table(), file=stream)
    print("\nWaldo: found at row %d, column %d with score %.3f (hidden at row %d, column %d): %s; "
          "match_template took %.1f ms; picture %s"
          % (found + (score[found],) + truth + ("correct" if found == truth else "WRONG",
                                               t_match * 1e3, picture)), file=stream)
    if not with_scipy:
        print("scipy is not installed: no comparison with scipy (pip install scipy)", file=stream)
    if not _have("PIL"):
        print("Pillow is not installed: pictures saved as .npy (pip install pillow)", file=stream)
    for note in notes:
        print("note: " + note, file=stream)
    print("\nfiles in %s/:" % out.rstrip("/"), file=stream)
    names = sorted(os.listdir(out))
    width = max(map(len, names), default=0)
    for name in names:
        what = FILE_NOTES.get(os.path.splitext(name)[0])
        print("  %-*s  %s" % (width, name, what or ""), file=stream)
    ok = steps.ok and found == truth
    print("%s in %.1f s" % ("done" if ok else "FAILED", time.perf_counter() - t0), file=stream)
    return 0 if ok else 1
