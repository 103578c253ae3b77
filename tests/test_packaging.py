"""Packaging metadata: one source of the version."""
import importlib.metadata

import ndconv


def test_version_has_one_source():
    assert ndconv.__version__ == importlib.metadata.version("ndconv")
    from ndconv._version import __version__
    assert ndconv.__version__ is __version__
