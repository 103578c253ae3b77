"""Package metadata: the installed distribution's fields and CITATION.cff agree
with each other and with ndconv itself."""
import os
import re

import pytest
from conftest import installed_metadata

import ndconv

CITATION = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "CITATION.cff")


def read_citation():
    """CITATION.cff as a dict: with PyYAML when installed, else its top-level
    ``key: value`` lines and the names under ``authors`` (the subset of YAML
    the file uses)."""
    if not os.path.exists(CITATION):
        pytest.skip("CITATION.cff is not beside the tests (not a source tree or sdist)")
    with open(CITATION, encoding="utf-8") as f:
        text = f.read()
    try:
        import yaml
    except ImportError:
        data = {}
        for key, value in re.findall(r"^([a-z][a-z-]*):[ \t]*(.*)$", text, re.MULTILINE):
            data[key] = value.strip().strip('"')
        data["authors"] = [{"name": n} for n in re.findall(r'^  - name: "?([^"\n]+)"?$', text,
                                                          re.MULTILINE)]
        return data
    return yaml.safe_load(text)


def test_citation_cff():
    cff = read_citation()
    assert str(cff["cff-version"]) == "1.2.0"
    for key in ("message", "title", "license", "repository-code"):
        assert cff[key], key
    assert cff["authors"] and all(a["name"] for a in cff["authors"])
    assert str(cff["version"]) == ndconv.__version__
    meta = installed_metadata()
    assert cff["license"] == meta["License-Expression"]
    urls = dict(u.split(", ", 1) for u in meta.get_all("Project-URL"))
    assert cff["repository-code"] == urls["Source"]


def test_distribution_metadata():
    meta = installed_metadata()
    urls = dict(u.split(", ", 1) for u in meta.get_all("Project-URL"))
    assert {"Homepage", "Documentation", "Source", "Issues"} <= set(urls)
    assert all(u.startswith("https://") for u in urls.values())
    assert meta["Author"] or meta["Author-email"]
    classifiers = meta.get_all("Classifier")
    # every CPython from Requires-Python's minimum on is declared, none older
    minimum = tuple(int(p) for p in re.fullmatch(r">=\s*(\d+)\.(\d+)", meta["Requires-Python"]).groups())
    versions = sorted(tuple(int(p) for p in c.rsplit(" ", 1)[1].split("."))
                      for c in classifiers if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c))
    assert versions[0] == minimum
    assert versions == [(3, m) for m in range(minimum[1], versions[-1][1] + 1)]
    for needed in ("Operating System :: POSIX :: Linux", "Operating System :: MacOS",
                   "Operating System :: Microsoft :: Windows", "Programming Language :: Cython"):
        assert needed in classifiers
