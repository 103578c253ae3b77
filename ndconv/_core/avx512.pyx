# cython: language_level=3
"""Compiled core built with AVX-512 (F, VL, BW, DQ) and FMA, 512-bit vectors and
twice as wide register blocks; selected at import on CPUs that have them."""

include "kernels.pxi"
include "layer.pxi"
