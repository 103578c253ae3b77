# cython: language_level=3
"""Compiled core built with -mavx2 -mfma; selected at import on CPUs that have both."""

include "kernels.pxi"
include "layer.pxi"
