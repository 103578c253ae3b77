"""The documentation builds offline with warnings as errors, and its examples run.

The full build executes every example and figure of the docs (``runcode`` blocks and
matplotlib ``plot`` directives), so a change in ndconv that breaks or changes an
example fails here.  Needs the ``docs`` extra; skipped cleanly without it.
"""
import html as html_module
import os
import re
import subprocess
import sys
import textwrap

import pytest
from conftest import subprocess_env

import ndconv

# the docs next to the tests (a checkout or an unpacked sdist); ndconv wherever it is imported from
DOCS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "docs")
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
    # a fresh output directory, so every figure is computed again, not taken from a cache
    proc = _sphinx(DOCS, str(tmp_path))
    assert proc.returncode == 0, "sphinx -W failed:\n" + proc.stdout + proc.stderr
    html = tmp_path / "html"
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


def _mini_project(tmp_path, body):
    src = tmp_path / "src"
    src.mkdir()
    (src / "conf.py").write_text(textwrap.dedent("""\
        import os, sys
        sys.path.insert(0, %r)
        sys.path.insert(0, %r)
        extensions = ["runcode"]
        """ % (NDCONV_PARENT, os.path.join(DOCS, "_ext"))))
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
