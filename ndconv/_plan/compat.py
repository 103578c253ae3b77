"""The few numpy and scipy names that moved between the supported versions.

ndconv supports numpy >= 1.25 and scipy >= 1.11; each name that differs across
that range is resolved here once, so the rest of the package imports one
spelling.
"""
try:  # numpy >= 2 moved the helper into a public module
    from numpy.lib.array_utils import normalize_axis_index
except ImportError:  # numpy 1.x
    from numpy.core.multiarray import normalize_axis_index

__all__ = ["normalize_axis_index"]
