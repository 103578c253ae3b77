"""The build: OpenMP, both SIMD builds, show_config."""
import io
import json
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
    if "neon" in _dispatch.builds():
        levels.append("neon")
    return levels


@pytest.mark.parametrize("level", ["baseline", "avx2+fma", "avx512", "neon"])
def test_every_simd_build_is_selectable_and_correct(level, tmp_path):
    if level not in _available_levels():
        pytest.skip("this CPU cannot run the %s build" % level)
    env = subprocess_env(NDCONV_SIMD=level.split("+")[0])
    out = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, check=True,
                         cwd=tmp_path)
    assert out.stdout.split() == [level, "True"]


def test_best_simd_build_is_the_default():
    """The selection rule: the widest build this CPU runs, unless NDCONV_SIMD
    names one (``neon`` is aarch64's baseline build)."""
    want = os.environ.get("NDCONV_SIMD", "").strip().lower()
    if want in ("", "auto"):
        assert _dispatch.SIMD_LEVEL == _available_levels()[-1]
    else:
        names = {"baseline": "baseline", "neon": "baseline", "avx2": "avx2+fma", "avx512": "avx512"}
        assert _dispatch.SIMD_LEVEL == names[want]


@pytest.mark.parametrize("value", ["", "auto", "baseline", "avx2"])
def test_default_build_test_holds_under_ndconv_simd(value, tmp_path):
    """test_best_simd_build_is_the_default passes whatever NDCONV_SIMD says
    (for a build this CPU runs)."""
    if value == "avx2" and "avx2+fma" not in _available_levels():
        pytest.skip("this CPU cannot run the avx2 build")
    here = os.path.dirname(os.path.abspath(__file__))
    out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                          os.path.join(here, "test_build.py") + "::test_best_simd_build_is_the_default"],
                         env=subprocess_env(NDCONV_SIMD=value), capture_output=True, text=True,
                         cwd=tmp_path)
    assert out.returncode == 0, out.stdout[-3000:]


@pytest.mark.parametrize("level", ["baseline", "avx2+fma", "avx512", "neon"])
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


LAYER_SCRIPT = r"""
import numpy as np, ndconv
from ndconv import _core as _dispatch
rng = np.random.default_rng(5)
x = rng.standard_normal((2, 9, 11, 6)).astype(np.float32)
w = rng.standard_normal((3, 3, 6, 10)).astype(np.float32)
y = ndconv.conv(x, w, padding=1)
np.save(%r, y)
print(_dispatch.SIMD_LEVEL, _dispatch.core().vector_width(4), _dispatch.describe()["layer"])
"""


@pytest.mark.parametrize("level", ["baseline", "avx2+fma", "avx512", "neon"])
def test_simd_switch_governs_the_layer(level, tmp_path):
    # one selection: NDCONV_SIMD picks the layer's kernels too, and the
    # result is the same layer (within the accumulation error) on each build
    if level not in _available_levels():
        pytest.skip("this CPU cannot run the %s build" % level)
    import numpy as np
    path = str(tmp_path / "y.npy")
    env = dict(os.environ, NDCONV_SIMD=level.split("+")[0])
    out = subprocess.run([sys.executable, "-c", LAYER_SCRIPT % path], env=env,
                         capture_output=True, text=True, check=True)
    name, lanes = out.stdout.split()[:2]
    assert name == level
    assert int(lanes) == {"baseline": 4, "avx2+fma": 8, "avx512": 16, "neon": 4}[level]
    assert out.stdout.split(None, 2)[2].startswith(level)
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 9, 11, 6)).astype(np.float32)
    w = rng.standard_normal((3, 3, 6, 10)).astype(np.float32)
    xp = np.pad(x.astype(np.float64), [(0, 0), (1, 1), (1, 1), (0, 0)])
    ref = sum(np.einsum("bijc,cd->bijd", xp[:, a:a + 9, b:b + 11], w[a, b].astype(np.float64))
              for a in range(3) for b in range(3))
    mag = sum(np.einsum("bijc,cd->bijd", np.abs(xp[:, a:a + 9, b:b + 11]), np.abs(w[a, b]).astype(np.float64))
              for a in range(3) for b in range(3))
    # 54 products per output, recursive summation: |err| <= 54 eps sum|terms| (x2 slack)
    assert np.all(np.abs(np.load(path) - ref) <= 2 * 54 * np.finfo(np.float32).eps * mag)


def test_show_config_reports_every_path():
    buf = io.StringIO()
    ndconv.show_config(file=buf)
    text = buf.getvalue()
    for path in ("direct_path", "layer_path", "unfused_path"):
        assert path in text
    assert _dispatch.describe()["layer"].startswith(_dispatch.SIMD_LEVEL)


def test_use_switches_every_path():
    import numpy as np
    x = np.random.default_rng(2).standard_normal((1, 6, 7, 3))
    w = np.random.default_rng(3).standard_normal((3, 3, 3, 4))
    for level, mod in _dispatch.builds().items():
        with _dispatch.use(level) as m:
            assert m is mod and _dispatch.core() is mod
            ndconv.conv(x, w)
    assert _dispatch.core() is _dispatch.builds()[_dispatch.SIMD_LEVEL]
    with pytest.raises(ValueError, match="not available"):
        with _dispatch.use("sse9"):
            pass


def test_bad_simd_switch_is_an_import_error(tmp_path):
    env = subprocess_env(NDCONV_SIMD="sse9")
    out = subprocess.run([sys.executable, "-c", "import ndconv"], env=env, capture_output=True, text=True,
                         cwd=tmp_path)
    assert out.returncode != 0
    assert "NDCONV_SIMD must be" in out.stderr


_ENV_AFTER_IMPORT = """
import ctypes, json, os
before = dict(os.environ)
import ndconv, ndconv._config
libc = ctypes.CDLL(None)
libc.getenv.restype = ctypes.c_char_p
print(json.dumps({"unchanged": dict(os.environ) == before,
                  "c_env": [libc.getenv(k.encode()) and libc.getenv(k.encode()).decode()
                            for k in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")],
                  "policy": ndconv._config.config()["omp_wait_policy"]}))
"""


def _import_in_subprocess(user):
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    env.update(user, OMP_DISPLAY_ENV="VERBOSE")   # libgomp prints what it read when it loads
    out = subprocess.run([sys.executable, "-c", _ENV_AFTER_IMPORT], env=env, capture_output=True,
                         text=True, check=True)
    return json.loads(out.stdout.splitlines()[-1]), out.stderr


def test_import_leaves_the_environment_unchanged():
    # os.environ and the C-level environment (what a later OpenMP runtime or a
    # subprocess reads) are as before the import, with and without user settings
    for user in ({}, {"OMP_WAIT_POLICY": "active"}, {"GOMP_SPINCOUNT": "0"}):
        res, _ = _import_in_subprocess(user)
        assert res["unchanged"], user
        assert res["c_env"] == [user.get("OMP_WAIT_POLICY"), user.get("GOMP_SPINCOUNT")], user


@pytest.mark.skipif(not _dispatch.openmp_enabled(),
                    reason="a build without OpenMP has no runtime to configure")
def test_own_openmp_runtime_gets_the_wait_policy():
    res, display = _import_in_subprocess({})
    if "GOMP_" not in display:     # LLVM's libomp prints its KMP_ settings instead
        pytest.skip("the OpenMP runtime is not libgomp")
    # libgomp read ndconv's short spin when it loaded, and show_config says so
    assert "OMP_WAIT_POLICY = 'PASSIVE'" in display and "GOMP_SPINCOUNT = '100000'" in display
    assert "GOMP_SPINCOUNT=100000" in res["policy"]
    # what the user sets is what the runtime reads, and ndconv adds nothing
    res, display = _import_in_subprocess({"GOMP_SPINCOUNT": "5000"})
    assert "GOMP_SPINCOUNT = '5000'" in display and "100000" not in display
    assert res["policy"] == "GOMP_SPINCOUNT=5000"


def _package_without_core(dest):
    """A copy of the ndconv under test in ``dest`` with no compiled modules (as in a fresh clone)."""
    src = os.path.dirname(os.path.abspath(ndconv.__file__))
    shutil.copytree(src, dest / "ndconv",
                    ignore=shutil.ignore_patterns("*.so", "*.pyd", "*.dylib", "*.c", "__pycache__"))
    assert not list((dest / "ndconv").rglob("*.so"))


def _import_in(folder):
    # numpy stays importable (it may come from PYTHONPATH, as under emulation); the copy in
    # ``folder`` comes first on sys.path, ahead of any installed ndconv
    import numpy
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(os.path.abspath(numpy.__file__))))
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




def _builds(*names):
    import importlib
    try:
        return [importlib.import_module("ndconv." + n) for n in names]
    except ImportError:
        return None


@pytest.mark.skipif(not (_dispatch._base.cpu_has_avx512() and _builds("_core.avx2", "_core.avx512")),
                    reason="needs a CPU and an install with both the AVX2 and AVX-512 builds")
def test_avx512_shuffle_block_is_bitwise_the_fma_sum():
    # The AVX-512 float32/float64 blocks build half their shifted vectors by
    # shuffling aligned loads, and share them between output rows (rolling
    # rows for kernels of 2-7 rows, four rows at a time above); every output
    # keeps its tap order and fused multiply-adds, so they must equal the AVX2
    # build's plain FMA blocks bit for bit, for every misalignment of the rows
    # (the column offsets) and kernel width.  tests/test_row_blocks.py covers
    # the row-sharing geometry.
    import numpy as np

    from ndconv._plan import tuning
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
            with tuning.override(kernels=mod):
                res[mod] = ndconv.correlate(x, k, "same", boundary="reflect", method="direct")
        np.testing.assert_array_equal(res[_core_avx512], res[_core_avx2])
