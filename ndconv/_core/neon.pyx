# cython: language_level=3
"""Compiled core with the NEON (ASIMD) blocks and fused multiply-adds; aarch64's default."""

include "kernels.pxi"
include "layer.pxi"
