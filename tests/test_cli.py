"""The ``ndconv`` command through ``main([...])``, and once through ``python -m ndconv``."""
import io
import os
import subprocess
import sys

import numpy as np
import pytest
from conftest import subprocess_env

import ndconv
from ndconv import datasets
from ndconv._tools import check as _check
from ndconv._tools import cli as _cli
from ndconv._tools import io as _io
from ndconv._tools.named_kernels import named_kernel
from ndconv._tools.progress import Progress

scipy_ndimage = pytest.importorskip("scipy.ndimage")


def run(argv, capsys):
    code = _cli.main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def assert_usage_error(code, err, *words):
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    for w in words:
        assert w in err, (w, err)


# ----------------------------------------------------------------------------- demo
def test_demo_writes_its_files_and_agrees_with_scipy(tmp_path, capsys):
    code, out, _ = run(["demo", "--out", str(tmp_path)], capsys)
    assert code == 0, out
    names = set(os.listdir(tmp_path))
    assert {"speech.wav", "reverb.wav", "lowpass.wav", "image.png", "blur.png", "edges.png",
            "sharpen.png", "waldo.png"} <= names
    for step in ("reverb", "low-pass", "blur", "Sobel x", "Sobel y", "sharpen", "Waldo"):
        assert step in out
    assert out.count(" yes ") == 7 and "NO" not in out
    assert "found at row 161, column 207" in out and "correct" in out
    # every file is listed with what it shows; nothing temporary is left
    listed = out.split("files in")[1].splitlines()[1:]
    for name in names:
        assert any(line.split()[0] == name and len(line.split()) > 3 for line in listed), name
    assert not any(n.startswith(".") for n in names)
    assert "gradient magnitude" in next(line for line in listed if "edges.png" in line)
    wet, rate = _io.read_wav(str(tmp_path / "reverb.wav"))
    voice, _ = datasets.speech()
    rir, _ = datasets.room_impulse_response()
    assert rate == 16000 and wet.size == voice.size + rir.size - 1
    # edges.png shows what its label says: the Sobel gradient magnitude, scaled to
    # a maximum of 1 (scipy.ndimage.sobel correlates; the sign does not matter)
    edges = _io.read_image(str(tmp_path / "edges.png"))
    gray = datasets.image(as_gray=True).astype(np.float64)
    mag = np.hypot(scipy_ndimage.sobel(gray, axis=1, mode="nearest"),
                   scipy_ndimage.sobel(gray, axis=0, mode="nearest"))
    assert edges.shape == (256, 384) and edges.max() == 1.0
    # 8-bit storage: half a step; float32 sums of 9 taps: ~1e-6
    np.testing.assert_allclose(edges, mag / mag.max(), rtol=0, atol=0.5 / 255 + 1e-5)


def test_waldo_picture_without_matplotlib_shows_the_peak(tmp_path, monkeypatch):
    from ndconv._tools import demo as _demo
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    scene, template, truth = datasets.waldo()
    score = ndconv.match_template(scene, template)
    found = tuple(int(i) for i in np.unravel_index(np.argmax(score), score.shape))
    assert _demo._waldo_figure(str(tmp_path), scene, template, score, found) == "waldo.png"
    assert os.listdir(tmp_path) == ["waldo.png"]
    from PIL import Image
    with Image.open(tmp_path / "waldo.png") as im:
        pic = np.asarray(im.convert("RGB")).astype(int)
    zoom = 2
    h, w = score.shape
    x0 = zoom * scene.shape[1] + 10                    # where the score panel starts
    panel = pic[:zoom * h, x0:x0 + zoom * w]
    # the ramp spans the scores that occur: the peak is its brightest colour and
    # the lowest score its darkest
    r, c = found
    assert tuple(panel[zoom * r, zoom * c]) == (252, 253, 191)
    lo = np.unravel_index(np.argmin(score), score.shape)
    assert tuple(panel[zoom * lo[0], zoom * lo[1]]) == (0, 0, 4)
    # and a ring of the mark colour surrounds it, nowhere else
    mark = np.all(panel == _demo.PEAK_MARK, axis=-1)
    ys, xs = np.nonzero(mark)
    assert mark.sum() > 50
    cy, cx = zoom * r + zoom // 2, zoom * c + zoom // 2
    assert np.max(np.hypot(ys - cy, xs - cx)) <= 2 * 6 * zoom + 2
    # the scene keeps the red box round the match
    red = np.all(pic[:, :x0] == (255, 0, 0), axis=-1)
    ys, xs = np.nonzero(red)
    th, tw = template.shape
    assert ys.min() >= zoom * r - 2 and ys.max() <= zoom * (r + th) + 1
    assert xs.min() >= zoom * c - 2 and xs.max() <= zoom * (c + tw) + 1


def test_demo_without_scipy_pillow_or_matplotlib(tmp_path, capsys, monkeypatch):
    for mod in ("scipy", "scipy.signal", "scipy.ndimage", "PIL", "matplotlib"):
        monkeypatch.setitem(sys.modules, mod, None)
    code, out, _ = run(["demo", "--out", str(tmp_path)], capsys)
    assert code == 0, out
    assert "scipy is not installed" in out and "Pillow is not installed" in out
    assert {"blur.npy", "edges.npy", "waldo_score.npy", "reverb.wav"} <= set(os.listdir(tmp_path))
    assert "correct" in out


# ----------------------------------------------------------------------------- check
class _Tty(io.StringIO):
    def isatty(self):
        return True


def test_check_quick_passes_with_a_progress_bar(capsys, monkeypatch):
    tty = _Tty()
    monkeypatch.setattr(sys, "stderr", tty)
    code = _cli.main(["check", "--quick"])
    out, _ = capsys.readouterr()
    assert code == 0, out
    assert "all checks passed" in out and "scipy agrees" in out
    for mode in ("full", "same", "valid"):
        assert mode in out
    assert "[" in tty.getvalue() and "#" in tty.getvalue()     # the bar went to stderr


def test_check_fails_on_a_wrong_convolution(capsys, monkeypatch):
    real = ndconv._api.convolve

    def wrong(*args, **kwargs):                # one output element off
        y = np.array(real(*args, **kwargs))
        y.flat[0] += 1.0
        return y

    monkeypatch.setattr(ndconv._api, "convolve", wrong)
    monkeypatch.setattr(_check, "NDIMS_QUICK", (1,))
    code, out, _ = run(["check", "--quick", "--no-progress"], capsys)
    assert code == 1
    assert "FAILED" in out and "disagrees with scipy" in out


def test_progress_bar_only_on_a_terminal():
    s = io.StringIO()
    bar = Progress(2, stream=s)
    bar.step("a")
    bar.close()
    assert s.getvalue() == ""
    t = _Tty()
    bar = Progress(2, stream=t)
    bar.step("a")
    assert "1/2" in t.getvalue()


# ----------------------------------------------------------------------------- apply
def test_apply_wav_with_an_impulse_response(tmp_path, capsys):
    out = tmp_path / "wet.wav"
    code, stdout, _ = run(["apply", datasets.path("speech.wav"), datasets.path("room_ir.wav"),
                           "-o", str(out), "--mode", "full"], capsys)
    assert code == 0 and "wrote" in stdout
    voice, _ = _io.read_wav(datasets.path("speech.wav"))
    rir, _ = _io.read_wav(datasets.path("room_ir.wav"))
    got, rate = _io.read_wav(str(out))
    ref = ndconv.convolve(voice, rir)
    ref = ref / max(1.0, np.abs(ref).max())        # scaled down to fit, as the note says
    assert rate == 16000
    # written as round(y * 32767), read as int / 32768: half a step of rounding
    # plus a gain of 32767/32768 (at most one step at full scale)
    assert np.max(np.abs(got - ref)) <= 1.5 / 32768


def test_apply_png_gaussian_matches_scipy_gaussian_filter(tmp_path, capsys):
    src = tmp_path / "in.png"
    _io.write(str(src), datasets.image(as_gray=True)[:64, :80])
    x = _io.read_image(str(src))
    code, _, _ = run(["apply", str(src), "gaussian:1.5", "-o", str(tmp_path / "o.npy"),
                      "--boundary", "symmetric"], capsys)
    assert code == 0
    got = np.load(tmp_path / "o.npy")
    ref = scipy_ndimage.gaussian_filter(x, 1.5, mode="reflect", truncate=4.0)
    # 169 taps of a normalised kernel on values in [0, 1]: float64 sums agree
    # to 4 * 169 * eps
    np.testing.assert_allclose(got, ref, rtol=0, atol=4 * 169 * 2.3e-16)


def test_apply_npy_axes_correlate_and_text_kernel(tmp_path, capsys):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 10, 12))
    np.save(tmp_path / "x.npy", x)
    k = rng.standard_normal((2, 3))
    np.savetxt(tmp_path / "k.csv", k, delimiter=",")
    code, _, _ = run(["apply", str(tmp_path / "x.npy"), str(tmp_path / "k.csv"), "-o",
                      str(tmp_path / "y.npy"), "--axes", "1", "2", "--correlate", "--mode", "valid"],
                     capsys)
    assert code == 0
    got = np.load(tmp_path / "y.npy")
    k_read = np.loadtxt(tmp_path / "k.csv", delimiter=",")
    # ndimage anchors the (2, 3) kernel at (1, 1): 'valid' is its output from (1, 1) on
    ref = np.stack([scipy_ndimage.correlate(x[i], k_read, mode="constant")[1:10, 1:11]
                    for i in range(3)])
    # 6 taps of standard normals: 4 * 6 * eps * sum|k||x| ~ 1e-13
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-12)


def test_apply_rescale_png(tmp_path, capsys):
    src = tmp_path / "in.png"
    _io.write(str(src), datasets.image()[:40, :50])
    code, _, err = run(["apply", str(src), "sobel-x", "-o", str(tmp_path / "o.png")], capsys)
    assert code == 0 and "clipped" in err
    code, _, err = run(["apply", str(src), "sobel-x", "-o", str(tmp_path / "o.png"), "--rescale"],
                       capsys)
    assert code == 0 and err == ""
    y = _io.read_image(str(tmp_path / "o.png"))
    assert y.min() == 0 and y.max() == 1


@pytest.mark.parametrize("argv_tail, words", [
    (["nope:3"], ["unknown kernel 'nope:3'", "gaussian:SIGMA"]),
    (["gaussian:x"], ["SIGMA must be a number"]),
    (["gaussian:-1"], ["SIGMA must be > 0"]),
    (["box:2:3"], ["expected the form box:N"]),
    (["missing.npy"], ["kernel file missing.npy: no such file"]),
])
def test_apply_bad_kernels(tmp_path, capsys, argv_tail, words):
    np.save(tmp_path / "x.npy", np.ones((5, 5)))
    code, _, err = run(["apply", str(tmp_path / "x.npy")] + argv_tail
                       + ["-o", str(tmp_path / "y.npy")], capsys)
    assert_usage_error(code, err, *words)


def test_apply_bad_files_and_shapes(tmp_path, capsys):
    (tmp_path / "bad.npy").write_bytes(b"garbage")
    (tmp_path / "bad.wav").write_bytes(b"garbage")
    (tmp_path / "bad.png").write_bytes(b"garbage")
    np.save(tmp_path / "x.npy", np.ones((5, 6)))
    np.save(tmp_path / "k3.npy", np.ones((2, 2, 2)))
    np.save(tmp_path / "c.npy", np.ones(4) * 1j)
    np.save(tmp_path / "mixed.npy", np.ones((2, 9)))   # smaller along one axis, larger along the other
    wav = datasets.path("speech.wav")
    o = ["-o", str(tmp_path / "y.npy")]
    cases = [
        (["apply", str(tmp_path / "bad.npy"), "box:3"] + o, ["not a .npy file"]),
        (["apply", str(tmp_path / "bad.wav"), "box:3"] + o, ["not a readable WAV"]),
        (["apply", str(tmp_path / "bad.png"), "box:3"] + o, ["not a readable image"]),
        (["apply", str(tmp_path / "none.npy"), "box:3"] + o, ["no such file"]),
        (["apply", str(tmp_path / "x.npy"), "box:3", "-o", str(tmp_path / "y.xyz")],
         ["unsupported file type '.xyz'"]),
        (["apply", str(tmp_path / "x.npy"), str(tmp_path / "k3.npy")] + o, ["3-D", "2 axes"]),
        (["apply", wav, str(tmp_path / "x.npy")] + o, ["a WAV file needs a 1-D kernel"]),
        (["apply", str(tmp_path / "x.npy"), str(tmp_path / "mixed.npy"), "--mode", "valid"] + o,
         ["mode='valid' needs"]),
        (["apply", str(tmp_path / "x.npy"), "box:3", "--axes", "5"] + o, ["--axes 5"]),
        (["apply", str(tmp_path / "x.npy"), "sobel-y", "--axes", "1"] + o, ["at least 2 dimensions"]),
        (["apply", str(tmp_path / "c.npy"), "box:3", "-o", str(tmp_path / "c.png")],
         ["complex"]),
    ]
    for argv, words in cases:
        code, _, err = run(argv, capsys)
        assert_usage_error(code, err, *words)


def test_apply_without_pillow(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "PIL", None)
    np.save(tmp_path / "x.npy", np.ones((5, 5)))
    code, _, err = run(["apply", str(tmp_path / "x.npy"), "box:3", "-o", str(tmp_path / "y.png")],
                       capsys)
    assert_usage_error(code, err, "Pillow", "pip install pillow")


def test_usage_errors_and_help(capsys):
    code, _, err = run([], capsys)
    assert code == 2 and "demo" in err and "check" in err and "apply" in err
    code, _, err = run(["frobnicate"], capsys)
    assert code == 2 and "invalid choice" in err
    code, _, err = run(["apply", "x.npy"], capsys)
    assert code == 2 and "required" in err
    code, out, _ = run(["apply", "--help"], capsys)
    assert code == 0 and "sobel-x" in out and "gaussian:SIGMA" in out
    code, out, _ = run(["--version"], capsys)
    assert code == 0 and ndconv.__version__ in out


# ----------------------------------------------------------------------------- named kernels
def test_named_kernels_match_their_definitions():
    sobel_x = np.outer([1, 2, 1], [1, 0, -1])
    np.testing.assert_array_equal(named_kernel("sobel-x", 2), sobel_x)
    np.testing.assert_array_equal(named_kernel("sobel-y", 2), sobel_x.T)
    np.testing.assert_array_equal(named_kernel("laplace", 2), [[0, 1, 0], [1, -4, 1], [0, 1, 0]])
    np.testing.assert_array_equal(named_kernel("sharpen", 2), [[0, -1, 0], [-1, 5, -1], [0, -1, 0]])
    np.testing.assert_array_equal(named_kernel("box:3", 1), np.full(3, 1 / 3))
    assert named_kernel("identity", 3).shape == (1, 1, 1)
    assert named_kernel("laplace", 3).sum() == 0 and named_kernel("laplace", 3)[1, 1, 1] == -6
    # convolving a ramp that increases along x with sobel-x is positive (2 * 4 per step)
    ramp = np.tile(np.arange(8.0), (6, 1))
    assert np.all(ndconv.convolve(ramp, named_kernel("sobel-x", 2), "valid") == 8)
    g = named_kernel("gaussian:2", 2)
    assert g.shape == (17, 17) and g.sum() == pytest.approx(1, abs=1e-12)
    h = named_kernel("lowpass:0.25:63", 1)
    assert h.size == 63 and h.sum() == pytest.approx(1, abs=1e-12)
    response = np.abs(np.fft.rfft(h, 4096))
    freqs = np.fft.rfftfreq(4096) * 2                 # as a fraction of Nyquist
    assert response[freqs < 0.15].min() > 0.99 and response[freqs > 0.35].max() < 1e-3


def test_python_m_ndconv_subprocess(tmp_path):
    out = tmp_path / "low.wav"
    env = subprocess_env()
    p = subprocess.run([sys.executable, "-m", "ndconv", "apply", datasets.path("speech.wav"),
                        "lowpass:0.1", "-o", str(out)], capture_output=True, text=True, env=env,
                       cwd=tmp_path, timeout=120)
    assert p.returncode == 0, p.stderr
    assert "wrote" in p.stdout and out.is_file()
    p = subprocess.run([sys.executable, "-m", "ndconv", "apply", "missing.wav", "box:3", "-o",
                        str(out)], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert p.returncode == 2 and p.stderr.count("\n") == 1 and "no such file" in p.stderr


# ----------------------------------------------------------------------------- apply: images
def _save_png(path, a):
    """uint8 (h, w, 2) is saved as LA, (h, w, 4) as RGBA, uint16 (h, w) as 16-bit grey."""
    from PIL import Image
    Image.fromarray(a).save(path)


def _png_array(path):
    from PIL import Image
    with Image.open(path) as im:
        return im.mode, np.asarray(im)


def test_apply_image_default_boundary_is_mirror(tmp_path, capsys):
    src = tmp_path / "in.png"
    _io.write(str(src), datasets.image(as_gray=True)[:48, :64])
    x = _io.read_image(str(src))
    code, out, _ = run(["apply", str(src), "gaussian:2", "-o", str(tmp_path / "o.npy")], capsys)
    assert code == 0 and "boundary=symmetric" in out
    # numpy.pad's "symmetric" is scipy.ndimage's "reflect" (the edge pixel repeated)
    ref = scipy_ndimage.gaussian_filter(x, 2, mode="reflect", truncate=4.0)
    # 289 taps of a normalised kernel on values in [0, 1]: 4 * 289 * eps
    np.testing.assert_allclose(np.load(tmp_path / "o.npy"), ref, rtol=0, atol=4 * 289 * 2.3e-16)
    # arrays keep the zero boundary, and --boundary still wins for images
    np.save(tmp_path / "x.npy", x)
    code, out, _ = run(["apply", str(tmp_path / "x.npy"), "box:3", "-o", str(tmp_path / "y.npy")],
                       capsys)
    assert code == 0 and "boundary=constant" in out
    code, out, _ = run(["apply", str(src), "box:3", "-o", str(tmp_path / "z.npy"), "--boundary",
                        "edge"], capsys)
    assert code == 0 and "boundary=edge" in out


@pytest.mark.parametrize("mode", ["LA", "RGBA"])
def test_apply_passes_alpha_through(tmp_path, capsys, mode):
    rng = np.random.default_rng(20)
    n = 2 if mode == "LA" else 4
    a = rng.integers(0, 256, (30, 40, n)).astype(np.uint8)
    a[..., -1] = np.linspace(0, 255, 40).astype(np.uint8)[None, :]   # a soft left-right fade
    a[:5, :, -1] = 0                                                    # a transparent band
    src = tmp_path / "in.png"
    _save_png(src, a)
    assert _png_array(src)[0] == mode
    code, out, _ = run(["apply", str(src), "gaussian:1.5", "-o", str(tmp_path / "o.png")], capsys)
    assert code == 0 and "alpha passed through" in out
    got_mode, got = _png_array(tmp_path / "o.png")
    assert got_mode == mode and got.shape == a.shape
    np.testing.assert_array_equal(got[..., -1], a[..., -1])
    # the colour channels are blurred each alike, mirrored at the edges
    for ch in range(n - 1):
        ref = scipy_ndimage.gaussian_filter(a[..., ch] / 255.0, 1.5, mode="reflect", truncate=4.0)
        # stored as round(v * 255): half a step, plus float64 rounding
        assert np.max(np.abs(got[..., ch] / 255.0 - ref)) <= 0.5 / 255 + 1e-12


def test_apply_alpha_follows_the_picture_in_full_and_valid(tmp_path, capsys):
    """An RGBA image whose red channel equals its alpha, convolved with a delta
    kernel: the red channel of the result shows where each input pixel went,
    and the alpha must be exactly there too."""
    rng = np.random.default_rng(21)
    a = rng.integers(0, 256, (12, 15, 4)).astype(np.uint8)
    a[..., 0] = a[..., 3]
    src = tmp_path / "in.png"
    _save_png(src, a)
    delta = np.zeros((5, 4))
    delta[2, 1] = 1.0                          # the centre that keeps the picture in place
    np.save(tmp_path / "d.npy", delta)
    for mode in ("same", "full", "valid"):
        for boundary in ("symmetric", "constant", "wrap"):
            out = tmp_path / ("o_%s_%s.npy" % (mode, boundary))
            code, _, err = run(["apply", str(src), str(tmp_path / "d.npy"), "-o", str(out),
                                "--mode", mode, "--boundary", boundary], capsys)
            assert code == 0, err
            y = np.load(out)
            if mode == "same":
                np.testing.assert_array_equal(y, a / 255.0)       # the delta is centred
            np.testing.assert_array_equal(y[..., 3], y[..., 0])
    assert np.load(tmp_path / "o_full_constant.npy").shape == (16, 18, 4)
    assert np.load(tmp_path / "o_valid_wrap.npy").shape == (8, 12, 4)


def test_apply_keeps_16_bit_grey(tmp_path, capsys):
    levels = np.round(np.linspace(0, 65535, 4000)).astype(np.uint16)
    g = np.tile(levels, (6, 1))
    for ext in (".png", ".tif"):
        src = tmp_path / ("g16" + ext)
        _save_png(src, g)
        assert len(np.unique(_png_array(src)[1])) == 4000
        out = tmp_path / ("o" + ext)
        code, _, err = run(["apply", str(src), "gaussian:1", "-o", str(out)], capsys)
        assert code == 0 and err == ""
        mode, y = _png_array(out)
        assert mode in ("I;16", "I;16B", "I") and y.max() > 255
        assert len(np.unique(y)) > 3000
        ref = scipy_ndimage.gaussian_filter(g / 65535.0, 1, mode="reflect", truncate=4.0)
        # stored as round(v * 65535): half a step plus float64 rounding
        assert np.max(np.abs(y / 65535.0 - ref)) <= 0.5 / 65535 + 1e-12
    # a format without 16-bit grey says it stores 8
    code, _, err = run(["apply", str(tmp_path / "g16.png"), "identity", "-o",
                        str(tmp_path / "o.jpg")], capsys)
    assert code == 0 and "8 bits" in err


def test_apply_notes_16_bit_colour_read_as_8(tmp_path, capsys):
    import struct
    import zlib
    # a 2 x 2 16-bit RGB PNG written by hand (Pillow cannot write one)
    rows = b"".join(b"\0" + struct.pack(">6H", *(v * 257 for v in range(6 * r, 6 * r + 6)))
                    for r in range(2))

    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 2, 2, 16, 2, 0, 0, 0))
           + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))
    (tmp_path / "c16.png").write_bytes(png)
    code, _, err = run(["apply", str(tmp_path / "c16.png"), "identity", "-o",
                        str(tmp_path / "o.npy")], capsys)
    assert code == 0 and "16-bit colour PNG read with 8 bits" in err
    np.testing.assert_array_equal(np.round(np.load(tmp_path / "o.npy") * 255),
                                  np.arange(12).reshape(2, 2, 3))


# ----------------------------------------------------------------------------- apply: files
def _snapshot(folder):
    """{name: bytes} of every file in ``folder``."""
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}


@pytest.fixture
def files(tmp_path):
    rng = np.random.default_rng(22)
    np.save(tmp_path / "x.npy", rng.standard_normal((20, 30)))
    np.save(tmp_path / "k.npy", rng.standard_normal((3, 3)))
    np.save(tmp_path / "old.npy", np.arange(5.0))            # an existing output
    return tmp_path


def test_apply_refuses_to_overwrite_its_input_or_kernel(files, capsys):
    x, k = str(files / "x.npy"), str(files / "k.npy")
    os.symlink(x, files / "link.npy")
    before = _snapshot(files)
    for target, role in ((x, "input"), (k, "kernel"), (str(files / "link.npy"), "input"),
                         (os.path.join(str(files), ".", "x.npy"), "input")):
        code, _, err = run(["apply", x, k, "-o", target], capsys)
        assert_usage_error(code, err, "is the %s file" % role, "--force")
    assert _snapshot(files) == before
    # --force replaces the input once the result is complete
    expected = ndconv.convolve(np.load(x), np.load(k), "same")
    code, _, err = run(["apply", x, k, "-o", x, "--force"], capsys)
    assert code == 0, err
    np.testing.assert_array_equal(np.load(x), expected)
    assert sorted(os.listdir(files)) == ["k.npy", "link.npy", "old.npy", "x.npy"]


def _fail_after_writing_some(monkeypatch, exc):
    """np.save writes half its bytes, then fails with ``exc``."""
    real = np.save

    def half_then_fail(f, arr, *args, **kwargs):
        import io as pyio
        buf = pyio.BytesIO()
        real(buf, arr, *args, **kwargs)
        f.write(buf.getvalue()[:len(buf.getvalue()) // 2])
        raise exc

    monkeypatch.setattr(np, "save", half_then_fail)


@pytest.mark.parametrize("stage", ["encode", "fsync", "replace", "interrupt"])
def test_a_failing_write_leaves_every_file_as_it_was(files, capsys, monkeypatch, stage):
    before = _snapshot(files)
    if stage == "encode":
        _fail_after_writing_some(monkeypatch, OSError(28, "No space left on device"))
    elif stage == "interrupt":
        _fail_after_writing_some(monkeypatch, KeyboardInterrupt())
    else:
        def fail(*args):
            raise OSError(5, "Input/output error")
        monkeypatch.setattr(os, stage, fail)
    for target in ("old.npy", "new.npy", "x.npy"):
        argv = ["apply", str(files / "x.npy"), str(files / "k.npy"), "-o", str(files / target)]
        code, _, err = run(argv + (["--force"] if target == "x.npy" else []), capsys)
        if stage == "interrupt":
            assert code == 130 and "interrupted" in err
        else:
            assert_usage_error(code, err, "cannot write", target,
                               "No space" if stage == "encode" else "Input/output error")
        assert _snapshot(files) == before, target        # no partial, 0-byte or temporary file


def test_apply_bad_rate_truncated_wav_and_unwritable_targets(files, capsys):
    x = str(files / "x.npy")
    wav_bytes = (files / "x.npy").read_bytes()
    np.save(files / "s.npy", np.linspace(-0.5, 0.5, 100))
    s = str(files / "s.npy")
    # a WAV whose header announces 4,000 frames, cut after 8
    import wave
    with wave.open(str(files / "t.wav"), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(np.arange(4000, dtype="<i2").tobytes())
    data = (files / "t.wav").read_bytes()
    (files / "t.wav").write_bytes(data[:44 + 16])
    (files / "folder.npy").mkdir()
    before = _snapshot(files)
    cases = [
        (["apply", s, "box:3", "-o", str(files / "y.wav"), "--rate", "-5"], ["--rate", "-5"]),
        (["apply", s, "box:3", "-o", str(files / "y.wav"), "--rate", "0"], ["--rate"]),
        (["apply", s, "box:3", "-o", str(files / "y.wav"), "--rate", str(2 ** 32)], ["--rate"]),
        (["apply", s, "box:3", "-o", s, "--rate", "-5", "--force"], ["--rate"]),
        (["apply", str(files / "t.wav"), "box:3", "-o", str(files / "y.wav")],
         ["truncated", "4000 frames", "holds 8"]),
        (["apply", str(files / "folder.npy"), "box:3", "-o", str(files / "y.npy")], ["folder"]),
        (["apply", x, "box:3", "-o", str(files / "folder.npy")], ["cannot write", "folder"]),
        (["apply", x, "box:3", "-o", str(files / "nowhere" / "y.npy")],
         ["cannot write", "does not exist"]),
        (["apply", x, "box:3", "-o", str(files / "x.npy" / "y.npy")], ["cannot write"]),
        # a codec's refusal: JPEG holds no alpha
        (["apply", str(files / "rgba.png"), "box:3", "-o", str(files / "y.jpg")],
         ["cannot write", "RGBA"]),
    ]
    _save_png(files / "rgba.png", np.zeros((4, 4, 4), np.uint8))
    before["rgba.png"] = (files / "rgba.png").read_bytes()
    for argv, words in cases:
        code, _, err = run(argv, capsys)
        assert_usage_error(code, err, *words)
        assert _snapshot(files) == before, argv
    assert (files / "x.npy").read_bytes() == wav_bytes


def test_apply_read_errors_are_one_line(files, capsys, monkeypatch):
    """An input the OS refuses to read (simulated: tests may run as root)."""
    real_open = open

    def refuse(path, *args, **kwargs):
        if str(path).endswith("x.npy"):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr("builtins.open", refuse)
    before = _snapshot(files)
    code, _, err = run(["apply", str(files / "x.npy"), "box:3", "-o", str(files / "y.npy")], capsys)
    assert_usage_error(code, err, "cannot read", "x.npy", "Permission denied")
    monkeypatch.undo()
    assert _snapshot(files) == before


def test_wav_reader_never_raises_anything_but_a_format_error(tmp_path):
    """Every truncation and many corruptions of a WAV header: read or refused
    with a FileFormatError, never another exception."""
    _io.write(str(tmp_path / "a.wav"), np.linspace(-0.5, 0.5, 50), 8000)
    good = (tmp_path / "a.wav").read_bytes()
    rng = np.random.default_rng(23)
    cases = [good[:n] for n in range(len(good))]
    for _ in range(300):
        b = bytearray(good)
        for i in rng.integers(0, 44, 3):
            b[i] = rng.integers(0, 256)
        cases.append(bytes(b))
    ok = 0
    for c in cases:
        (tmp_path / "f.wav").write_bytes(c)
        try:
            data, _ = _io.read_wav(str(tmp_path / "f.wav"))
        except _io.FileFormatError:
            continue
        ok += 1
        assert data.size >= 1
    assert ok >= 1                      # the whole file (and some harmless corruptions) read


def test_writes_keep_permissions_and_follow_links(tmp_path):
    target = tmp_path / "t.npy"
    np.save(target, np.zeros(3))
    os.chmod(target, 0o640)
    os.symlink(target, tmp_path / "link.npy")
    _io.write(str(tmp_path / "link.npy"), np.ones(4))
    assert os.path.islink(tmp_path / "link.npy")
    np.testing.assert_array_equal(np.load(target), np.ones(4))
    assert (os.stat(target).st_mode & 0o777) == 0o640
    assert sorted(os.listdir(tmp_path)) == ["link.npy", "t.npy"]
