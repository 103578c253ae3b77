"""The build: OpenMP, both SIMD builds, show_config."""
import io
import os
import subprocess
import sys

import pytest

import ndconv
from ndconv import _dispatch


def test_show_config_reports_build():
    buf = io.StringIO()
    ndconv.show_config(file=buf)
    text = buf.getvalue()
    for key in ("openmp", "max_threads", "simd", "fft"):
        assert key in text
    assert _dispatch.SIMD_LEVEL in text


@pytest.mark.skipif(os.environ.get("NDCONV_EXPECT_OPENMP") != "1", reason="CI sets NDCONV_EXPECT_OPENMP=1")
def test_openmp_is_on():
    assert _dispatch.openmp_enabled()
    assert _dispatch.omp_num_procs() >= 1


SCRIPT = r"""
import numpy as np, ndconv, scipy.ndimage as ndi
from ndconv import _dispatch
rng = np.random.default_rng(3)
x = rng.standard_normal((70, 90)).astype(np.float32)
k = rng.standard_normal((5, 6)).astype(np.float32)
res = ndconv.correlate(x, k, "same", boundary="reflect", method="direct")
ref = ndi.correlate(x.astype(np.float64), k.astype(np.float64), mode="mirror")
absref = ndi.correlate(np.abs(x).astype(np.float64), np.abs(k).astype(np.float64), mode="mirror")
ok = np.all(np.abs(res - ref) <= 4 * 30 * np.finfo(np.float32).eps * absref)
print(_dispatch.SIMD_LEVEL, bool(ok))
"""


def test_baseline_build_is_selectable_and_correct():
    env = dict(os.environ, NDCONV_SIMD="baseline")
    out = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["baseline", "True"]


def test_bad_simd_switch_is_an_import_error():
    env = dict(os.environ, NDCONV_SIMD="sse9")
    out = subprocess.run([sys.executable, "-c", "import ndconv"], env=env, capture_output=True, text=True)
    assert out.returncode != 0
    assert "NDCONV_SIMD must be" in out.stderr


def test_wait_policy_passive_unless_user_sets_it():
    code = "import os, ndconv; print(os.environ['OMP_WAIT_POLICY'])"
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "PASSIVE"
    env["OMP_WAIT_POLICY"] = "active"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "active"
