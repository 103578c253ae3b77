"""The version of ndconv, in one place.

pyproject.toml reads it statically (``[tool.setuptools.dynamic]`` parses this
file without importing the package, so building needs no compiled code) and
``ndconv.__version__`` re-exports it.
"""
__version__ = "0.1.0"
