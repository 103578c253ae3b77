# cython: language_level=3
"""Declarations of the C sources in ``src/`` (header-only: each build of the
core compiles them with its own instruction-set flags)."""

cdef extern from "src/ndconv_scratch.h" nogil:
    enum: NDCONV_SCRATCH_PARTS
    ctypedef struct ndconv_scratch_spec:
        size_t bytes[NDCONV_SCRATCH_PARTS]
        unsigned zero_mask
    ctypedef struct ndconv_scratch:
        void* block
        void* part[NDCONV_SCRATCH_PARTS]
    ndconv_scratch_spec ndconv_scratch_parts(size_t b0, size_t b1, size_t b2, size_t b3, size_t b4,
                                             size_t b5, unsigned zero_mask) noexcept
    ndconv_scratch ndconv_scratch_alloc(const ndconv_scratch_spec* spec, int* failed) noexcept
    void ndconv_scratch_free(ndconv_scratch* s) noexcept
