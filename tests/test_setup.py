"""setup.py's choices: the target platform's modules, and the flags each compiler accepts.

Needs the source tree's setup.py next to the tests (skipped when testing an installed
wheel with the tests alone) and setuptools; the compiler tests need gcc or clang.
"""
import importlib.util
import os
import platform
import shutil
import subprocess
import sys

import pytest

SETUP = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "setup.py")
if not os.path.isfile(SETUP):
    pytest.skip("no setup.py beside the tests", allow_module_level=True)
pytest.importorskip("setuptools")


@pytest.fixture
def setup_py(monkeypatch):
    for name in ("ARCHFLAGS", "_PYTHON_HOST_PLATFORM", "NDCONV_DISABLE_AVX2", "NDCONV_DISABLE_AVX512",
                 "CC", "CFLAGS", "LDSHARED"):
        monkeypatch.delenv(name, raising=False)
    spec = importlib.util.spec_from_file_location("_ndconv_setup", SETUP)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _modules(mod):
    return [e.name.rsplit(".", 1)[1] for e in mod.extensions()]


@pytest.mark.parametrize("plat, targets, modules", [
    ("linux-x86_64", {"x86_64"}, ["baseline", "avx2", "avx512"]),
    ("linux-aarch64", {"aarch64"}, ["baseline", "neon"]),
    ("macosx-11.0-arm64", {"arm64"}, ["baseline", "neon"]),
    ("macosx-10.9-universal2", {"x86_64", "arm64"}, ["baseline"]),
    # listed for the target; BuildExt leaves them out for MSVC
    ("win-amd64", {"amd64"}, ["baseline", "avx2", "avx512"]),
    ("win-arm64", {"arm64"}, ["baseline", "neon"]),
])
def test_modules_follow_the_target_platform(setup_py, monkeypatch, plat, targets, modules):
    monkeypatch.setenv("_PYTHON_HOST_PLATFORM", plat)
    assert setup_py.target_machines() == targets
    assert _modules(setup_py) == modules


def test_archflags_decide_on_macos(setup_py, monkeypatch):
    monkeypatch.setattr(sys, "platform", "darwin")
    monkeypatch.setenv("_PYTHON_HOST_PLATFORM", "macosx-11.0-x86_64")
    monkeypatch.setenv("ARCHFLAGS", "-arch arm64")
    assert setup_py.target_machines() == {"arm64"}
    assert _modules(setup_py) == ["baseline", "neon"]
    monkeypatch.setenv("ARCHFLAGS", "-arch x86_64")
    assert _modules(setup_py) == ["baseline", "avx2", "avx512"]


def test_switches_leave_modules_out(setup_py, monkeypatch):
    monkeypatch.setenv("_PYTHON_HOST_PLATFORM", "linux-x86_64")
    monkeypatch.setenv("NDCONV_DISABLE_AVX512", "1")
    assert _modules(setup_py) == ["baseline", "avx2"]
    monkeypatch.setenv("NDCONV_DISABLE_AVX2", "yes")
    assert _modules(setup_py) == ["baseline"]
    monkeypatch.setenv("_PYTHON_HOST_PLATFORM", "linux-aarch64")
    assert _modules(setup_py) == ["baseline", "neon"]
    monkeypatch.setenv("NDCONV_DISABLE_NEON", "1")
    assert _modules(setup_py) == ["baseline"]


def _build_ext(mod, monkeypatch, cc):
    from setuptools._distutils.ccompiler import new_compiler
    from setuptools._distutils.sysconfig import customize_compiler
    from setuptools.dist import Distribution

    monkeypatch.setenv("CC", cc)
    monkeypatch.setenv("LDSHARED", cc + " -shared")
    cmd = mod.BuildExt(Distribution({"ext_modules": mod.extensions()}))
    cmd.ensure_finalized()
    cmd.compiler = new_compiler()
    customize_compiler(cmd.compiler)
    return cmd


@pytest.mark.skipif(sys.platform == "win32", reason="gcc/clang flags")
@pytest.mark.parametrize("cc", ["gcc", "clang"])
def test_flags_are_probed_per_compiler(setup_py, monkeypatch, cc):
    if shutil.which(cc) is None:
        pytest.skip("%s is not installed" % cc)
    cmd = _build_ext(setup_py, monkeypatch, cc)
    assert cmd.parallel >= 1
    # a flag no compiler knows is dropped; of alternatives the first accepted is kept
    assert cmd._flags(["-O2", "-fno-such-flag-ndconv", ("-fbogus-ndconv", "-g0")]) == ["-O2", "-g0"]
    base = cmd._flags(setup_py.UNIX_FLAGS)
    assert base[0] == "-O3"
    if cc == "clang":
        # gcc's option, which clang rejects ("unknown argument")
        assert "-fno-tree-loop-distribute-patterns" not in base
    else:
        assert "-fcx-limited-range" in base and "-fno-tree-loop-distribute-patterns" in base
    assert cmd._accepts(base)


def _build_flags(machine, **env):
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    script = os.path.join(root, "tools", "build_flags.py")
    if not os.path.isfile(script):
        pytest.skip("tools/build_flags.py is not beside the tests")
    # the defaults: a CI job's own switches (NDCONV_DISABLE_AVX512 on a CPU without it) left out
    base = {k: v for k, v in os.environ.items() if not k.startswith("NDCONV_DISABLE_")}
    out = subprocess.run([sys.executable, script, machine], env=dict(base, **env), capture_output=True,
                         text=True, check=True, timeout=300)
    return {line.split("\t")[1]: line.split("\t")[3] for line in out.stdout.splitlines()
            if line.startswith("module\t")}


def test_build_flags_for_the_host():
    mods = _build_flags("x86_64") if _host_is_x86() else _build_flags(platform.machine())
    flags = mods["ndconv._core.baseline"].split()
    # the unfused core: products rounded before the add, on every compiler that can say so
    assert "-ffp-contract=off" in flags
    if _host_is_x86():
        assert set(mods) == {"ndconv._core.baseline", "ndconv._core.avx2", "ndconv._core.avx512"}
        assert "-mfma" in mods["ndconv._core.avx2"].split()
        assert "-ffp-contract=off" not in mods["ndconv._core.avx2"].split()


@pytest.mark.skipif(shutil.which("aarch64-linux-gnu-gcc") is None, reason="no aarch64 cross compiler")
def test_build_flags_for_a_cross_build():
    mods = _build_flags("aarch64", CC="aarch64-linux-gnu-gcc")
    assert list(mods) == ["ndconv._core.baseline", "ndconv._core.neon"]
    flags = mods["ndconv._core.baseline"].split()
    assert "-fopenmp" in flags and "-ffp-contract=off" in flags
    assert not [f for f in flags if f.startswith("-m")]
    # the NEON build: fused multiply-adds (explicit in its blocks), no -m flag needed
    neon = mods["ndconv._core.neon"].split()
    assert "-DNDCONV_NEON=1" in neon and "-ffp-contract=off" not in neon
    assert not [f for f in neon if f.startswith("-m")]


def _host_is_x86():
    return platform.machine().lower() in ("x86_64", "amd64")
