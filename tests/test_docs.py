"""The documentation builds offline with warnings as errors, and its examples run.

The full build executes every example and figure of the docs (``runcode`` blocks and
matplotlib ``plot`` directives), so a change in ndconv that breaks or changes an
example fails here.  Needs the ``docs`` extra; skipped cleanly without it.
"""
import html as html_module
import json
import os
import pathlib
import re
import subprocess
import sys
import textwrap
import wave

import numpy as np
import pytest
from conftest import subprocess_env

import ndconv

ROOT = pathlib.Path(__file__).resolve().parent.parent
DOCS = str(ROOT / "docs")
NDCONV_PARENT = os.path.dirname(os.path.dirname(os.path.abspath(ndconv.__file__)))

for _mod in ("sphinx", "numpydoc", "matplotlib", "pydata_sphinx_theme"):
    pytest.importorskip(_mod, reason="the docs extra is not installed")


def _sphinx(src, out, *extra):
    """Run ``python -m sphinx -W`` from ``src`` into ``out``; return the finished process."""
    env = subprocess_env(MPLBACKEND="Agg")
    cmd = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html",
           "-d", os.path.join(out, ".doctrees"), *extra, src, os.path.join(out, "html")]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900,
                          cwd=os.path.dirname(os.path.abspath(out)))


@pytest.mark.slow
def test_docs_build_without_warnings(tmp_path):
    # a fresh output directory, so every figure is computed again, not taken from a cache;
    # CI names one (NDCONV_DOCS_BUILD_DIR) to reuse this build instead of making another
    out = pathlib.Path(os.environ.get("NDCONV_DOCS_BUILD_DIR") or tmp_path)
    assert not out.exists() or not any(out.iterdir()), "NDCONV_DOCS_BUILD_DIR must be new or empty"
    proc = _sphinx(DOCS, str(out))
    assert proc.returncode == 0, "sphinx -W failed:\n" + proc.stdout + proc.stderr
    html = out / "html"
    for page in ("index", "getting_started", "api", "switching_opencv_pytorch",
                 "switching_scipy_numpy", "guide/boundaries", "guide/waldo", "guide/layer",
                 "guide/verify"):
        assert (html / (page + ".html")).is_file(), page
    # one figure per boundary rule, drawn during the build
    boundaries = (html / "guide" / "boundaries.html").read_text(encoding="utf-8")
    code = html_module.unescape(re.sub(r"<[^>]+>", "", boundaries))    # highlighted code as text
    for name in ("constant", "edge", "symmetric", "reflect", "wrap"):
        assert 'draw("%s"' % name in code, name
    assert boundaries.count("<img") >= 7
    assert len(list((html / "_images").glob("boundaries-*.png"))) >= 7
    api = (html / "api.html").read_text(encoding="utf-8")
    for name in ("ndconv.convolve", "ndconv.correlate", "ndconv.show_config"):
        assert 'id="%s"' % name in api, name
    # offline: no page loads a script from the network (MathJax came from a CDN)
    for page in html.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        assert not re.search(r'<script[^>]+src="(https?:)?//', text), page
    layer = (html / "guide" / "layer.html").read_text(encoding="utf-8")
    assert layer.count("<math") >= 5 and "\\sum" not in layer
    # the sounds of the audio page, playable and small
    audio = (html / "guide" / "audio.html").read_text(encoding="utf-8")
    for name in ("speech.wav", "reverb.wav", "lowpass.wav"):
        assert '<audio controls preload="metadata" src="../_audio/%s"' % name in audio, name
        with wave.open(str(html / "_audio" / name)) as w:
            assert (w.getnchannels(), w.getframerate(), w.getsampwidth()) == (1, 16000, 2)
            assert 16000 <= w.getnframes() <= 4 * 16000
    # the landing page: the speed figure and the headline table from perf.json
    index = (html / "index.html").read_text(encoding="utf-8")
    assert "perf-table" in index and "index-1.png" in index
    assert (html / "_images" / "index-1.png").is_file()
    rows = json.loads((ROOT / "docs" / "_static" / "perf" / "perf.json").read_text())["bench"]["rows"]
    w3b = [r for r in rows if r["wid"] == "W3b" and r["threads"] == 1 and r["status"] == "ok"
           and r["boundary"] == "reflect"]
    mine = next(r["median_s"] for r in w3b if r["lib"] == "ndconv")
    scipy_best = min(r["median_s"] for r in w3b if r["lib"].startswith("scipy"))
    assert "%.3g\u00a0ms" % (1e3 * mine) in html_module.unescape(index)
    assert "%.1f×" % (scipy_best / mine) in index


def _mini_project(tmp_path, body, extensions=("runcode",)):
    src = tmp_path / "src"
    src.mkdir()
    (src / "conf.py").write_text(textwrap.dedent("""\
        import os, sys
        sys.path.insert(0, %r)
        sys.path.insert(0, %r)
        extensions = %r
        html_math_renderer = "mathml" if "mathml" in extensions else None
        """ % (NDCONV_PARENT, os.path.join(DOCS, "_ext"), list(extensions))))
    (src / "index.rst").write_text("Title\n=====\n\n" + textwrap.dedent(body))
    return str(src)


def test_runcode_shows_real_output(tmp_path):
    src = _mini_project(tmp_path, """\
        .. runcode::

           x = ndconv.convolve([1.0, 2.0], [1.0, 1.0])
           print(x.sum() * 7)
           x
        """)
    proc = _sphinx(src, str(tmp_path / "out"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    page = (tmp_path / "out" / "html" / "index.html").read_text(encoding="utf-8")
    assert "42.0" in page            # printed: (1 + 3 + 2) * 7
    assert "array" in page and "3." in page


def test_runcode_failing_example_fails_the_build(tmp_path):
    src = _mini_project(tmp_path, """\
        .. runcode::

           ndconv.convolve([1.0, 2.0], [1.0], mode="nonsense")
        """)
    proc = _sphinx(src, str(tmp_path / "out"))
    assert proc.returncode != 0
    assert "runcode: the example failed" in proc.stdout + proc.stderr


def test_runcode_raises_option_requires_an_error(tmp_path):
    src = _mini_project(tmp_path, """\
        .. runcode::
           :raises:

           ndconv.convolve([1.0, 2.0], [1.0])
        """)
    proc = _sphinx(src, str(tmp_path / "out"))
    assert proc.returncode != 0
    assert "did not raise" in proc.stdout + proc.stderr


def test_mathml_writes_math_into_the_page(tmp_path):
    src = _mini_project(tmp_path, r"""
        Inline :math:`y_i = \sum_j k_j\, x_{i+j}` and displayed:

        .. math::

           \mathsf{H}_{i,j} = u + \sum_a V_a X_{i+a}
        """, extensions=["mathml"])
    proc = _sphinx(src, str(tmp_path / "out"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    page = (tmp_path / "out" / "html" / "index.html").read_text(encoding="utf-8")
    assert page.count("<math") == 2 and 'display="block"' in page
    assert "<munder>" in page or "<msub>" in page
    assert "\\sum" not in page and "mathjax" not in page.lower()


def test_mathml_unknown_latex_fails_the_build(tmp_path):
    src = _mini_project(tmp_path, r"""
        Inline :math:`\notacommand{x}`.
        """, extensions=["mathml"])
    proc = _sphinx(src, str(tmp_path / "out"))
    assert proc.returncode != 0
    assert "mathml: cannot convert" in proc.stdout + proc.stderr


def test_audio_writes_the_computed_sound(tmp_path):
    src = _mini_project(tmp_path, """\
        .. audio:: tone.wav
           :rate: 8000
           :caption: A *tone*.

           t = np.arange(4000) / 8000
           3.0 * np.sin(2 * np.pi * 440 * t)
        """, extensions=["runcode", "audio"])
    proc = _sphinx(src, str(tmp_path / "out"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    html = tmp_path / "out" / "html"
    page = (html / "index.html").read_text(encoding="utf-8")
    assert '<audio controls preload="metadata" src="_audio/tone.wav"' in page
    assert "<em>tone</em>" in page and "np.sin" in html_module.unescape(re.sub(r"<[^>]+>", "", page))
    with wave.open(str(html / "_audio" / "tone.wav")) as w:
        assert (w.getnchannels(), w.getframerate(), w.getsampwidth()) == (1, 8000, 2)
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    # scaled to a peak of 0.9 of full scale, then 16-bit: within one step of rounding
    tone = np.sin(2 * np.pi * 440 * np.arange(4000) / 8000)
    expected = 0.9 * tone / np.abs(tone).max() * 32767
    assert pcm.size == 4000 and np.max(np.abs(pcm - expected)) <= 1.0


@pytest.mark.parametrize("code, message", [
    ("np.zeros(11 * 8000) + 0.5", "longer than"),
    ("np.zeros(100)", "silent"),
    ("np.ones((2, 100))", "1-D array"),
    ("x = 1", "last line must be an expression"),
])
def test_audio_refuses_bad_sounds(tmp_path, code, message):
    src = _mini_project(tmp_path, """\
        .. audio:: bad.wav
           :rate: 8000

           %s
        """ % code, extensions=["runcode", "audio"])
    proc = _sphinx(src, str(tmp_path / "out"))
    assert proc.returncode != 0
    assert message in proc.stdout + proc.stderr
