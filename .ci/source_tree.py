"""Helpers of the CI stages that build the core from a copy of the source tree.

``python .ci/source_tree.py requirements``  the build requirements and the test
                                           extra, from pyproject.toml, one a line
``python .ci/source_tree.py copy DEST``     the tree as committed or edited,
                                           without anything built, into DEST
"""
import os
import shutil
import sys

import tomllib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def requirements():
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
        cfg = tomllib.load(f)
    return cfg["build-system"]["requires"] + cfg["project"]["optional-dependencies"]["test"]


def copy(dest):
    shutil.copytree(ROOT, dest, ignore=shutil.ignore_patterns(
        ".git", "build", "dist", "*.egg-info", "__pycache__", "*.so", "*.c", ".pytest_cache",
        ".hypothesis", "_build", ".asv", "venv*"))


if __name__ == "__main__":
    if sys.argv[1:] == ["requirements"]:
        print("\n".join(requirements()))
    elif len(sys.argv) == 3 and sys.argv[1] == "copy":
        copy(sys.argv[2])
    else:
        sys.exit(__doc__)
