"""Packaging metadata: one source of the version, the typing marker, the compiled modules' stubs."""
import ast
import importlib
import importlib.metadata
import os
import platform
import re
import types

import pytest
from conftest import installed_metadata

import ndconv
from ndconv import _core

PKG = os.path.dirname(ndconv.__file__)
CORE = os.path.join(PKG, "_core")
COMPILED = ("baseline", "avx2", "avx512", "neon")


def test_version_has_one_source():
    assert ndconv.__version__ == installed_metadata()["Version"]
    from ndconv._version import __version__
    assert ndconv.__version__ is __version__


def test_typed_marker_is_shipped():
    assert os.path.isfile(os.path.join(PKG, "py.typed"))


def _stub_names(name, folder=CORE):
    """Top-level names a stub declares: functions, constants and re-exports."""
    with open(os.path.join(folder, name + ".pyi")) as f:
        tree = ast.parse(f.read())
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.AnnAssign):
            names.add(node.target.id)
        elif isinstance(node, ast.ImportFrom) and node.module != "typing" and node.level:
            # only the explicit `import a as a` form re-exports from a stub
            names.update(a.asname for a in node.names if a.asname == a.name)
    return {n for n in names if not n.startswith("_")}


def _source_names(name):
    """Python-visible top-level names of a .pyx and the .pxi files it includes."""
    def read(fname):
        with open(os.path.join(CORE, fname)) as f:
            text = f.read()
        for inc in re.findall(r'^include "([^"]+)"', text, re.M):
            text += read(inc)
        return text
    text = read(name + ".pyx")
    names = set(re.findall(r"^(?:async )?def (\w+)", text, re.M))
    names.update(re.findall(r"^cpdef enum (\w+)", text, re.M))
    names.update(re.findall(r"^(?:cdef )?class (\w+)", text, re.M))
    names.update(re.findall(r"^([A-Za-z]\w*)\s*=", text, re.M))
    return {n for n in names if not n.startswith("_")}


def _runnable(name):
    if name == "avx512":
        return _core._base.cpu_has_avx512()
    if name == "avx2":
        return _core._base.cpu_has_avx2_fma()
    if name == "neon":
        return platform.machine().lower() in ("aarch64", "arm64")
    return True


@pytest.mark.parametrize("name", COMPILED)
def test_stub_names_the_sources_definitions(name):
    """Every build, the ones this CPU cannot import included: stub and source agree."""
    assert _stub_names(name) == _source_names(name)


@pytest.mark.parametrize("name", COMPILED)
def test_stub_names_the_compiled_module(name):
    if not _runnable(name):
        pytest.skip("this CPU cannot import the %s build" % name)
    try:
        mod = importlib.import_module("ndconv._core." + name)
    except ImportError:
        pytest.skip("this install has no %s build" % name)
    public = {n for n, v in vars(mod).items()
              if not n.startswith("_") and not isinstance(v, types.ModuleType)}
    assert _stub_names(name) == public


def test_a_stale_stub_fails(tmp_path):
    """A stub that lost or renamed a function no longer matches the sources."""
    with open(os.path.join(CORE, "baseline.pyi")) as f:
        text = f.read()
    (tmp_path / "baseline.pyi").write_text(text.replace("def vector_width(", "def vector_widths("))
    stale = _stub_names("baseline", str(tmp_path))
    assert "vector_widths" in stale and "vector_width" not in stale
    assert stale != _source_names("baseline")
