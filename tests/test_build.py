"""The build: OpenMP, both SIMD builds, show_config."""
import io
import os
import shutil
import subprocess
import sys

import pytest
from conftest import subprocess_env

import ndconv
from ndconv import _core as _dispatch


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
from ndconv import _core as _dispatch
rng = np.random.default_rng(3)
ok = True
# row lengths around every register-block width (8 .. 128) and their overlapping tails
for cols in (90, 130, 300, 517):
    for dtype in (np.float32, np.float64):
        x = rng.standard_normal((40, cols)).astype(dtype)
        k = rng.standard_normal((5, 6)).astype(dtype)
        res = ndconv.correlate(x, k, "same", boundary="reflect", method="direct")
        ref = ndi.correlate(x.astype(np.float64), k.astype(np.float64), mode="mirror")
        absref = ndi.correlate(np.abs(x).astype(np.float64), np.abs(k).astype(np.float64), mode="mirror")
        ok = ok and bool(np.all(np.abs(res - ref) <= 4 * 30 * np.finfo(dtype).eps * absref))
print(_dispatch.SIMD_LEVEL, bool(ok))
"""


def _available_levels():
    levels = ["baseline"]
    if _dispatch._base.cpu_has_avx2_fma():
        levels.append("avx2+fma")
    if _dispatch._base.cpu_has_avx512():
        levels.append("avx512")
    return levels


@pytest.mark.parametrize("level", ["baseline", "avx2+fma", "avx512"])
def test_every_simd_build_is_selectable_and_correct(level, tmp_path):
    if level not in _available_levels():
        pytest.skip("this CPU cannot run the %s build" % level)
    env = subprocess_env(NDCONV_SIMD=level.split("+")[0])
    out = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, check=True,
                         cwd=tmp_path)
    assert out.stdout.split() == [level, "True"]


def test_best_simd_build_is_the_default():
    assert _dispatch.SIMD_LEVEL == _available_levels()[-1]


@pytest.mark.parametrize("level", ["baseline", "avx2+fma", "avx512"])
def test_correlate_suite_under_every_simd_build(level, tmp_path):
    """The direct-kernel grid of test_correlate.py, once per build this CPU runs
    (the default build runs it in the main session)."""
    if level not in _available_levels():
        pytest.skip("this CPU cannot run the %s build" % level)
    if level == _dispatch.SIMD_LEVEL:
        pytest.skip("the default build; covered by the main run")
    env = subprocess_env(NDCONV_SIMD=level.split("+")[0])
    here = os.path.dirname(os.path.abspath(__file__))
    # the configuration comes from the tests' own project folder (found from the paths)
    out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider",
                          os.path.join(here, "test_correlate.py"), os.path.join(here, "test_threads.py")],
                         env=env, capture_output=True, text=True, cwd=tmp_path)
    assert out.returncode == 0, out.stdout[-3000:]


def test_bad_simd_switch_is_an_import_error(tmp_path):
    env = subprocess_env(NDCONV_SIMD="sse9")
    out = subprocess.run([sys.executable, "-c", "import ndconv"], env=env, capture_output=True, text=True,
                         cwd=tmp_path)
    assert out.returncode != 0
    assert "NDCONV_SIMD must be" in out.stderr


def _package_without_core(dest):
    """A copy of the ndconv under test in ``dest`` with no compiled modules (as in a fresh clone)."""
    src = os.path.dirname(os.path.abspath(ndconv.__file__))
    shutil.copytree(src, dest / "ndconv",
                    ignore=shutil.ignore_patterns("*.so", "*.pyd", "*.dylib", "*.c", "__pycache__"))
    assert not list((dest / "ndconv").rglob("*.so"))


def _import_in(folder):
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run([sys.executable, "-c", "import ndconv"], cwd=folder, env=env,
                          capture_output=True, text=True, timeout=120)


def test_unbuilt_source_tree_says_what_happened_and_what_to_do(tmp_path):
    # a clone after `pip install .`, Python started in it: its ndconv/ comes first on sys.path
    _package_without_core(tmp_path)
    (tmp_path / "setup.py").write_text("")
    out = _import_in(tmp_path)
    assert out.returncode != 0
    last = out.stderr.strip().splitlines()
    assert last[-2] == ("ImportError: you are importing ndconv from its source tree (%s) without the "
                        "compiled core." % (tmp_path / "ndconv"))
    assert "`pip install .` and run Python from another folder" in last[-1]
    assert "`pip install -e .`" in last[-1] and "build_ext --inplace" in last[-1]
    assert "circular import" not in out.stderr


def test_install_without_core_says_reinstall(tmp_path):
    _package_without_core(tmp_path)
    out = _import_in(tmp_path)
    assert out.returncode != 0
    assert out.stderr.strip().splitlines()[-1] == (
        "ImportError: ndconv's compiled core is missing from %s: reinstall ndconv "
        "(pip install --force-reinstall ndconv)" % (tmp_path / "ndconv"))


def test_wait_policy_passive_unless_user_sets_it(tmp_path):
    code = "import os, ndconv; print(os.environ['OMP_WAIT_POLICY'], os.environ.get('GOMP_SPINCOUNT'))"
    env = {k: v for k, v in subprocess_env().items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True,
                         cwd=tmp_path)
    assert out.stdout.split() == ["PASSIVE", "100000"]
    for user in ({"OMP_WAIT_POLICY": "active"}, {"GOMP_SPINCOUNT": "0"}):
        lenient = code.replace("['OMP_WAIT_POLICY']", ".get('OMP_WAIT_POLICY')")
        out = subprocess.run([sys.executable, "-c", lenient], env=dict(env, **user), capture_output=True,
                             text=True, check=True, cwd=tmp_path)
        # what the user set is kept, and ndconv adds nothing
        assert out.stdout.split() == [user.get("OMP_WAIT_POLICY", "None"), user.get("GOMP_SPINCOUNT", "None")]


def _builds(*names):
    import importlib
    try:
        return [importlib.import_module("ndconv." + n) for n in names]
    except ImportError:
        return None


@pytest.mark.skipif(not (_dispatch._base.cpu_has_avx512() and _builds("_core.avx2", "_core.avx512")),
                    reason="needs a CPU and an install with both the AVX2 and AVX-512 builds")
def test_avx512_shuffle_block_is_bitwise_the_fma_sum(monkeypatch):
    # The AVX-512 float32/float64 blocks build half their shifted vectors by
    # shuffling aligned loads, and share them between output rows (rolling
    # rows for kernels of 2-7 rows, four rows at a time above); every output
    # keeps its tap order and fused multiply-adds, so they must equal the AVX2
    # build's plain FMA blocks bit for bit, for every misalignment of the rows
    # (the column offsets) and kernel width.  tests/test_row_blocks.py covers
    # the row-sharing geometry.
    import numpy as np

    from ndconv._plan import direct as _direct
    _core_avx2, _core_avx512 = _builds("_core.avx2", "_core.avx512")
    rng = np.random.default_rng(11)
    cases = [(dt, off, ks) for dt, lanes in ((np.float32, 16), (np.float64, 8))
             for off in range(lanes + 1)
             for ks in [(3, 3), (5, 5), (2, 7), (4, 16), (3, 17), (1, 33),
                        (2, 1), (7, 1), (15, 1)]]   # one tap per row
    for dtype, off, kshape in cases:
        x = rng.standard_normal((31, 600)).astype(dtype)[:, off:off + 560]   # rows at every alignment
        k = rng.standard_normal(kshape).astype(dtype)
        res = {}
        for mod in (_core_avx2, _core_avx512):
            monkeypatch.setattr(_direct, "core", lambda m=mod: m)
            res[mod] = ndconv.correlate(x, k, "same", boundary="reflect", method="direct")
        np.testing.assert_array_equal(res[_core_avx512], res[_core_avx2])
