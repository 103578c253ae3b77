"""Regenerate every file in ``ndconv/data/`` from fixed seeds, with numpy only.

    python tools/make_data.py            # rewrites ndconv/data/
    python tools/make_data.py --out DIR  # writes elsewhere (the tests compare)

Nothing is downloaded and no third-party material is used:

* ``speech.wav``   -- a synthesized phrase ("hello world, signal"): a glottal
  pulse train and noise through time-varying formant resonators (a small
  source-filter vocoder in the spirit of Klatt's), 16 kHz mono 16-bit.
* ``room_ir.wav``  -- a modelled room impulse response: direct sound, sparse
  early reflections and a late tail of noise decaying faster at high
  frequencies (RT60 0.5 s low, 0.3 s high), 16 kHz mono 16-bit.
* ``image.npy``    -- a procedural photo-like RGB picture (uint8, 256 x 384):
  sky gradient, sun, mountain ridges, a hill with grass texture, a house and a
  tree, sensor noise.
* ``waldo_scene.npy``, ``waldo_template.npy``, ``waldo.json`` -- a busy grey
  scene (uint8, 240 x 320) full of look-alike figures, the template of the one
  to find, and where he is hidden (top-left corner, row and column).

The same numpy gives the same bytes.  numpy's sin/exp may differ by an ulp
between CPUs (SIMD dispatch), which can move a sample by one quantisation step;
``tests/test_datasets.py`` allows exactly that.
"""
import argparse
import json
import os
import sys
import wave

import numpy as np

RATE = 16_000
HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_OUT = os.path.join(HERE, os.pardir, "ndconv", "data")


# ----------------------------------------------------------------------------- audio helpers
def write_wav(path, samples, rate=RATE):
    """Mono 16-bit PCM with the standard library's ``wave``."""
    pcm = np.clip(np.round(samples * 32767), -32768, 32767).astype("<i2")
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())


def resonator(x, freq, bw, rate=RATE):
    """Klatt's two-pole resonator with per-sample centre frequency and bandwidth
    (unit gain at 0 Hz)."""
    T = 1.0 / rate
    c = -np.exp(-2 * np.pi * bw * T)
    b = 2 * np.exp(-np.pi * bw * T) * np.cos(2 * np.pi * freq * T)
    a = 1 - b - c
    a, b, c = (np.broadcast_to(v, x.shape).tolist() for v in (a, b, c))
    y = [0.0] * len(x)
    y1 = y2 = 0.0
    for n, xn in enumerate(x.tolist()):
        yn = a[n] * xn + b[n] * y1 + c[n] * y2
        y[n] = yn
        y2, y1 = y1, yn
    return np.array(y)


def one_pole_lowpass(x, alpha):
    y = np.empty_like(x)
    acc = 0.0
    for n, xn in enumerate(x.tolist()):
        acc += alpha * (xn - acc)
        y[n] = acc
    return y


# Formant targets (Hz) and source levels: (F1, F2, F3, voicing, frication, fric. centre Hz)
PHONES = {
    "sil": (500, 1500, 2500, 0.0, 0.0, 0),
    "h": (500, 1500, 2500, 0.0, 0.25, 0),      # aspiration: noise through the formants
    "e": (530, 1840, 2480, 1.0, 0.0, 0),
    "l": (360, 1300, 2700, 0.6, 0.0, 0),
    "o": (570, 840, 2410, 1.0, 0.0, 0),
    "w": (300, 610, 2200, 0.6, 0.0, 0),
    "r": (420, 1300, 1600, 0.7, 0.0, 0),
    "d": (300, 1700, 2600, 0.3, 0.3, 4000),
    "s": (400, 1600, 2600, 0.0, 0.5, 5500),
    "i": (270, 2290, 3010, 1.0, 0.0, 0),
    "g": (300, 1900, 2300, 0.3, 0.3, 2500),
    "n": (250, 1400, 2500, 0.4, 0.0, 0),
    "a": (730, 1090, 2440, 1.0, 0.0, 0),
}
PHRASE = [("sil", 0.10), ("h", 0.06), ("e", 0.11), ("l", 0.07), ("o", 0.20), ("sil", 0.07),
          ("w", 0.06), ("o", 0.12), ("r", 0.09), ("l", 0.07), ("d", 0.05), ("sil", 0.14),
          ("s", 0.11), ("i", 0.13), ("g", 0.05), ("n", 0.07), ("a", 0.17), ("l", 0.10),
          ("sil", 0.12)]


def speech(seed=1):
    """The phrase, peak-normalised to 0.9."""
    rng = np.random.default_rng(seed)
    durations = [int(round(d * RATE)) for _, d in PHRASE]
    n = sum(durations)
    targets = np.array([PHONES[p] for p, _ in PHRASE], dtype=float)
    params = np.repeat(targets, durations, axis=0)
    # 25 ms moving average: articulators glide between targets
    w = int(0.025 * RATE)
    padded = np.vstack([np.repeat(params[:1], w // 2, 0), params, np.repeat(params[-1:], w, 0)])
    csum = np.cumsum(np.vstack([np.zeros((1, padded.shape[1])), padded]), axis=0)
    params = (csum[w:w + n] - csum[:n]) / w
    f1, f2, f3, voicing, frication, fric_centre = params.T

    t = np.arange(n) / RATE
    f0 = 125 - 25 * t / t[-1] + 6 * np.sin(2 * np.pi * 3.0 * t)      # falling declarative pitch
    f0 *= 1 + 0.004 * rng.standard_normal(n)                             # jitter
    phase = np.cumsum(f0) / RATE
    # a glottal pulse per cycle: a spike at each phase wrap, then a two-pole
    # low-pass gives the -12 dB/octave glottal spectrum
    pulses = np.diff(np.floor(phase), prepend=0.0)
    glottal = resonator(pulses, np.full(n, 0.0), np.full(n, 200.0))
    glottal = np.diff(glottal, prepend=0.0)                            # lip radiation
    source = voicing * glottal / (np.abs(glottal).max() + 1e-12)
    source += 0.04 * frication * rng.standard_normal(n) * (fric_centre == 0)
    y = source
    for f, bw in ((f1, 80.0), (f2, 100.0), (f3, 140.0), (np.full(n, 3500.0), 250.0)):
        y = resonator(y, f, np.full(n, bw))
    fric = resonator(rng.standard_normal(n), np.maximum(fric_centre, 1000.0), np.full(n, 1500.0))
    fric = np.diff(fric, prepend=0.0)
    y = y / (np.abs(y).max() + 1e-12) + 0.35 * frication * (fric_centre > 0) * fric / (
        np.abs(fric).max() + 1e-12)
    y -= y.mean()
    fade = np.minimum(1.0, np.minimum(np.arange(n), np.arange(n)[::-1]) / (0.01 * RATE))
    y *= fade
    return 0.9 * y / np.abs(y).max()


def room_impulse_response(seed=2, length=0.5):
    """Direct sound, early reflections and a two-band exponentially decaying tail."""
    rng = np.random.default_rng(seed)
    n = int(length * RATE)
    t = np.arange(n) / RATE
    h = np.zeros(n)
    h[int(0.002 * RATE)] = 1.0                                          # direct path, 0.7 m
    delays = np.sort(rng.uniform(0.004, 0.045, 14))
    for d in delays:                                                    # walls, 1/r loss
        h[int(d * RATE)] += rng.choice([-1.0, 1.0]) * 0.8 * 0.002 / d * rng.uniform(0.6, 1.0)
    noise = rng.standard_normal(n)
    low = one_pole_lowpass(noise, 0.15)
    high = noise - low
    tail = (low * np.exp(-6.9 * t / 0.5) + 0.5 * high * np.exp(-6.9 * t / 0.3))
    onset = np.clip((t - 0.015) / 0.02, 0, 1)                           # tail builds up after 15 ms
    h += 0.35 * tail * onset
    return 0.9 * h / np.abs(h).max()


# ----------------------------------------------------------------------------- pictures
def _box_blur(a, r):
    """Separable moving average of radius ``r`` (edge-extended), numpy only."""
    for axis in (0, 1):
        pad = [(0, 0)] * a.ndim
        pad[axis] = (r + 1, r)
        c = np.cumsum(np.pad(a, pad, mode="edge"), axis=axis)
        hi = np.take(c, np.arange(2 * r + 1, c.shape[axis]), axis=axis)
        lo = np.take(c, np.arange(0, c.shape[axis] - 2 * r - 1), axis=axis)
        a = (hi - lo) / (2 * r + 1)
    return a


def _fractal_noise(rng, h, w, octaves=5):
    out = np.zeros((h, w))
    for o in range(octaves):
        step = 2 ** (octaves - o + 1)
        coarse = rng.standard_normal((h // step + 2, w // step + 2))
        fine = np.kron(coarse, np.ones((step, step)))[:h, :w]
        out += _box_blur(fine, max(1, step // 2)) / (1.6 ** o)
    return out / np.abs(out).max()


def image(seed=3, h=256, w=384):
    """A landscape with a house and a tree, RGB uint8."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:h, :w].astype(float)
    img = np.zeros((h, w, 3))
    sky = yy / h
    img[...] = (np.array([0.35, 0.55, 0.90]) * (1 - sky[..., None])
                + np.array([0.85, 0.90, 0.95]) * sky[..., None])
    sun = np.hypot(yy - 50, xx - 300)
    img += np.clip(1 - sun / 22, 0, 1)[..., None] ** 0.3 * np.array([1.0, 0.9, 0.6])
    img += 0.25 * np.exp(-sun / 40)[..., None] * np.array([1.0, 0.8, 0.4])
    cloud = _fractal_noise(rng, h, w)
    img += (np.clip(cloud, 0.2, 1) - 0.2)[..., None] * 0.6 * (yy < 120)[..., None]

    x = np.arange(w)
    ridge = (120 + 18 * np.sin(x / 37.0) + 9 * np.sin(x / 11.0 + 1.3)
             + 4 * _fractal_noise(rng, 1, w, 4)[0] * 3)
    mountains = yy > ridge[None, :]
    rock = 0.15 * _fractal_noise(rng, h, w)
    img[mountains] = (np.array([0.42, 0.45, 0.55]) + rock[mountains, None]) * 0.9
    snow = mountains & (yy < ridge[None, :] + 8 + 6 * rock * 10)
    img[snow] = 0.92 + 0.05 * rock[snow, None]

    hill_line = 175 + 15 * np.sin(x / 60.0 + 0.5)
    hill = yy > hill_line[None, :]
    grass = rng.standard_normal((h, w))
    grass = 0.5 * grass + 0.5 * np.roll(grass, 1, axis=0) + 0.3 * np.roll(grass, 2, axis=0)
    shade = (yy - hill_line[None, :]) / 80
    img[hill] = (np.array([0.25, 0.55, 0.18]) * (1 - 0.3 * shade[hill, None])
                 + 0.06 * grass[hill, None])

    # a house: wall, roof, door and windows
    top, left, hh, ww = 150, 60, 50, 80
    img[top:top + hh, left:left + ww] = [0.80, 0.70, 0.55]
    img[top:top + hh, left:left + ww] += 0.04 * rng.standard_normal((hh, ww, 1))
    for r in range(28):
        img[top - r - 1, left - 8 + r:left + ww + 8 - r] = [0.55, 0.18, 0.12]
    img[top + 22:top + hh, left + 34:left + 48] = [0.35, 0.22, 0.12]
    for c in (left + 10, left + 56):
        img[top + 12:top + 28, c:c + 14] = [0.55, 0.75, 0.90]
        img[top + 19:top + 21, c:c + 14] = [0.9, 0.9, 0.9]
        img[top + 12:top + 28, c + 6:c + 8] = [0.9, 0.9, 0.9]

    # a tree: trunk and a textured canopy
    img[160:215, 250:262] = [0.35, 0.24, 0.14]
    canopy = np.hypot((yy - 140) / 1.1, xx - 256) < 38 + 6 * _fractal_noise(rng, h, w)
    leaves = _fractal_noise(rng, h, w)
    img[canopy] = np.array([0.12, 0.40, 0.12]) + 0.18 * leaves[canopy, None]

    img = _box_blur(img, 1) * 0.6 + img * 0.4                       # lens softness
    img += 0.015 * rng.standard_normal(img.shape)                   # sensor noise
    return np.clip(np.round(img * 255), 0, 255).astype(np.uint8)


def _figure(rng, head=True, hat=True, glasses=True, stripes=True, period=2):
    """A 22 x 13 figure on a transparent (nan) background."""
    f = np.full((22, 13), np.nan)
    yy, xx = np.mgrid[:22, :13]
    if hat:
        f[0:3, 3:10] = 0.15
        f[0:2, 5:8] = 0.95                                           # bobble
    if head:
        face = (yy - 6) ** 2 / 9.0 + (xx - 6) ** 2 / 8.0 <= 1.0
        f[face] = 0.85
        if glasses:
            f[6, 3:5] = 0.1
            f[6, 8:10] = 0.1
            f[6, 5:8] = 0.4
    body = slice(10, 22)
    if stripes:
        rows = np.arange(10, 22)[:, None]
        f[body, 1:12] = np.where((rows // period) % 2 == 0, 0.9, 0.12)
    else:
        f[body, 1:12] = rng.uniform(0.2, 0.8)
    return f


def waldo(seed=4, h=240, w=320):
    """``(scene uint8, template uint8, (row, col))``."""
    rng = np.random.default_rng(seed)
    template = _figure(rng)
    template = np.where(np.isnan(template), 0.5, template)          # the template's own ground
    scene = 0.5 + 0.18 * _fractal_noise(rng, h, w)
    occupied = np.zeros((h, w), bool)
    row, col = 161, 207                                              # where he hides

    def place(fig, r, c, gain=1.0, offset=0.0):
        patch = scene[r:r + fig.shape[0], c:c + fig.shape[1]]
        m = ~np.isnan(fig)
        patch[m] = gain * fig[m] + offset

    occupied[row - 2:row + 24, col - 2:col + 15] = True
    n_placed = 0
    while n_placed < 230:
        r = int(rng.integers(0, h - 22))
        c = int(rng.integers(0, w - 13))
        kind = int(rng.integers(0, 7))
        if kind <= 4:
            if occupied[r:r + 22, c:c + 13].any():
                continue
            # decoys share most of his features, never all of them
            opts = [dict(hat=False), dict(glasses=False), dict(stripes=False),
                    dict(period=3), dict(head=False)][kind]
            place(_figure(rng, **opts), r, c, rng.uniform(0.7, 1.1), rng.uniform(-0.1, 0.1))
            occupied[r:r + 22, c:c + 13] = True
        elif kind == 5:                                              # striped awnings, flags
            dr, dc = int(rng.integers(4, 16)), min(int(rng.integers(6, 30)), w - c)
            if occupied[r:r + dr, c:c + dc].any():
                continue
            rows = np.arange(dr)[:, None]
            scene[r:r + dr, c:c + dc] = np.where((rows // 2) % 2, 0.9, 0.15) * np.ones(dc)
        else:                                                        # balloons and blocks
            rad = int(rng.integers(2, 7))
            if occupied[r:r + 2 * rad, c:c + 2 * rad].any():
                continue
            yy, xx = np.mgrid[:2 * rad, :2 * rad]
            disc = (yy - rad + 0.5) ** 2 + (xx - rad + 0.5) ** 2 <= rad ** 2
            scene[r:r + 2 * rad, c:c + 2 * rad][disc] = rng.uniform(0.05, 0.95)
        n_placed += 1
    # Waldo, a little darker and lower in contrast than his template
    place(np.where(template == 0.5, np.nan, template), row, col, gain=0.8, offset=0.05)
    scene += 0.04 * rng.standard_normal((h, w))
    to8 = lambda a: np.clip(np.round(a * 255), 0, 255).astype(np.uint8)  # noqa: E731
    return to8(scene), to8(template), (row, col)


# ----------------------------------------------------------------------------- main
def make_all(out):
    os.makedirs(out, exist_ok=True)
    write_wav(os.path.join(out, "speech.wav"), speech())
    write_wav(os.path.join(out, "room_ir.wav"), room_impulse_response())
    np.save(os.path.join(out, "image.npy"), image())
    scene, template, (row, col) = waldo()
    np.save(os.path.join(out, "waldo_scene.npy"), scene)
    np.save(os.path.join(out, "waldo_template.npy"), template)
    with open(os.path.join(out, "waldo.json"), "w") as f:
        json.dump({"row": row, "col": col,
                   "note": "top-left corner of the template's placement in waldo_scene.npy"},
                  f, indent=1)
        f.write("\n")
    return sorted(os.listdir(out))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default=DEFAULT_OUT, help="output directory (default ndconv/data)")
    args = p.parse_args(argv)
    total = 0
    for name in make_all(args.out):
        size = os.path.getsize(os.path.join(args.out, name))
        total += size
        print("%-22s %8d bytes" % (name, size))
    print("%-22s %8d bytes" % ("total", total))
    return 0


if __name__ == "__main__":
    sys.exit(main())
