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
    for step in ("reverb", "low-pass", "blur", "Sobel", "sharpen", "Waldo"):
        assert step in out
    assert out.count(" yes ") == 6 and "NO" not in out
    assert "found at row 161, column 207" in out and "correct" in out
    wet, rate = _io.read_wav(str(tmp_path / "reverb.wav"))
    voice, _ = datasets.speech()
    rir, _ = datasets.room_impulse_response()
    assert rate == 16000 and wet.size == voice.size + rir.size - 1
    edges = _io.read_image(str(tmp_path / "edges.png"))
    assert edges.shape == (256, 384) and edges.max() == 1.0


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
    bar = _check.Progress(2, stream=s)
    bar.step("a")
    bar.close()
    assert s.getvalue() == ""
    t = _Tty()
    bar = _check.Progress(2, stream=t)
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
