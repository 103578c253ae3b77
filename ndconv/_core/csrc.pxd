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
    ndconv_scratch ndconv_scratch_alloc_in(const ndconv_scratch_spec* spec, int* failed,
                                           void* buf, size_t cap) noexcept
    void ndconv_scratch_free(ndconv_scratch* s) noexcept


cdef extern from "src/ndconv_simd.h" nogil:
    void NDCONV_PREFETCH(const void* p) noexcept
    void NDCONV_PREFETCHW(const void* p) noexcept
    float ndconv_fmaf(float a, float b, float c) noexcept
    double ndconv_fmad(double a, double b, double c) noexcept
    int NDCONV_WIDE_BLOCKS

cdef extern from "src/ndconv_blocks.h" nogil:
    int NDCONV_SHUFFLE_BLOCK
    int NDCONV_ROW_BLOCKS
    Py_ssize_t NDCONV_ROW_LANES_F32
    Py_ssize_t NDCONV_ROW_LANES_F64
    Py_ssize_t NDCONV_QUAD_COLS_F32
    Py_ssize_t NDCONV_QUAD_COLS_F64
    const char* NDCONV_ROW_ISA
    Py_ssize_t ndconv_tile_rows(Py_ssize_t kb, Py_ssize_t klast, int uncached) noexcept
    void ndconv_blk128_f32(float* o, Py_ssize_t c, const float** ptrs, const float** wrows,
                           Py_ssize_t ntaps, Py_ssize_t klast) noexcept
    void ndconv_blk64_f64(double* o, Py_ssize_t c, const double** ptrs, const double** wrows,
                          Py_ssize_t ntaps, Py_ssize_t klast) noexcept
    Py_ssize_t ndconv_roll_width(Py_ssize_t kb, Py_ssize_t lanes) noexcept
    void ndconv_roll_weights_f32(const float* w, Py_ssize_t kb, Py_ssize_t klast,
                                 float* wt) noexcept
    void ndconv_roll_weights_f64(const double* w, Py_ssize_t kb, Py_ssize_t klast,
                                 double* wt) noexcept
    void ndconv_roll_f32(Py_ssize_t kb, float* o, Py_ssize_t ostr, Py_ssize_t c, const float** src,
                         Py_ssize_t h, const float* wt, Py_ssize_t klast, Py_ssize_t pfd,
                         int nt) noexcept
    void ndconv_roll_f64(Py_ssize_t kb, double* o, Py_ssize_t ostr, Py_ssize_t c,
                         const double** src, Py_ssize_t h, const double* wt, Py_ssize_t klast,
                         Py_ssize_t pfd, int nt) noexcept
    void ndconv_stream_fence() noexcept
    void ndconv_blk4_f32(float* o, Py_ssize_t ostr, Py_ssize_t c, const float** src,
                         const float* w, Py_ssize_t n_groups, Py_ssize_t kb,
                         Py_ssize_t klast) noexcept
    void ndconv_blk4_f64(double* o, Py_ssize_t ostr, Py_ssize_t c, const double** src,
                         const double* w, Py_ssize_t n_groups, Py_ssize_t kb,
                         Py_ssize_t klast) noexcept


cdef extern from "src/ndconv_missing.h" nogil:
    void ndconv_split_f32(const float* src, float* xz, float* pr, Py_ssize_t n) noexcept
    void ndconv_split_f64(const double* src, double* xz, double* pr, Py_ssize_t n) noexcept
    void ndconv_finish_f32(float* o, const float* den, Py_ssize_t n, float ksum, float limit,
                           int strict, int neg, const float* own) noexcept
    void ndconv_finish_f64(double* o, const double* den, Py_ssize_t n, double ksum, double limit,
                           int strict, int neg, const double* own) noexcept


cdef extern from "src/ndconv_sep.h" nogil:
    int NDCONV_SEP_FUSED
    int NDV_SEP_NV
    Py_ssize_t ndconv_sep_chunk(Py_ssize_t kv, Py_ssize_t itemsize) noexcept
    void ndconv_sep_tile_f32(const float* x, float* out, Py_ssize_t ostr, const Py_ssize_t* vrow,
                             const Py_ssize_t* hcol, Py_ssize_t lin_lo, Py_ssize_t lin_hi,
                             const float* wv, Py_ssize_t kv, const float* wh, Py_ssize_t kh,
                             float cval, Py_ssize_t i0, Py_ssize_t i1, Py_ssize_t c0, Py_ssize_t c1,
                             float* ring, Py_ssize_t rstr, float* g, const float* cline,
                             const float** rp) noexcept
    void ndconv_sep_tile_f64(const double* x, double* out, Py_ssize_t ostr, const Py_ssize_t* vrow,
                             const Py_ssize_t* hcol, Py_ssize_t lin_lo, Py_ssize_t lin_hi,
                             const double* wv, Py_ssize_t kv, const double* wh, Py_ssize_t kh,
                             double cval, Py_ssize_t i0, Py_ssize_t i1, Py_ssize_t c0,
                             Py_ssize_t c1, double* ring, Py_ssize_t rstr, double* g,
                             const double* cline, const double** rp) noexcept

cdef extern from "src/ndconv_layer.h" nogil:
    int LK_VW_F
    int LK_VW_D
    void lk_fwd_f(const float* const*, Py_ssize_t, int, int, int, int, int, int,
                  const float*, const float*, float*, Py_ssize_t) noexcept
    void lk_fwd_d(const double* const*, Py_ssize_t, int, int, int, int, int, int,
                  const double*, const double*, double*, Py_ssize_t) noexcept
    void lk_gw_f(const float* const*, Py_ssize_t, int, int, int, int, int,
                 const float*, Py_ssize_t, float*) noexcept
    void lk_gw_d(const double* const*, Py_ssize_t, int, int, int, int, int,
                 const double*, Py_ssize_t, double*) noexcept
    void lk_dw_f(const float* const*, Py_ssize_t, int, int, int, int,
                 const float*, const float*, float*, Py_ssize_t) noexcept
    void lk_dw_d(const double* const*, Py_ssize_t, int, int, int, int,
                 const double*, const double*, double*, Py_ssize_t) noexcept
    void lk_dwg_f(const float* const*, Py_ssize_t, int, int, int, int,
                  const float*, Py_ssize_t, float*) noexcept
    void lk_dwg_d(const double* const*, Py_ssize_t, int, int, int, int,
                  const double*, Py_ssize_t, double*) noexcept


cdef extern from "src/ndconv_winograd.h" nogil:
    void lk_win_in_f(const float* const*, Py_ssize_t, int, int, float*) noexcept
    void lk_win_in_d(const double* const*, Py_ssize_t, int, int, double*) noexcept
    void lk_win_out_f(const float*, int, int, int, const float*, float*, float*, Py_ssize_t,
                      int) noexcept
    void lk_win_out_d(const double*, int, int, int, const double*, double*, double*, Py_ssize_t,
                      int) noexcept
    void lk_win_weights_f(const float*, int, int, int, float*) noexcept
    void lk_win_weights_d(const double*, int, int, int, double*) noexcept


cdef extern from "src/ndconv_cpu.h" nogil:
    int NDCONV_OPENMP
    int ndconv_omp_max_threads() noexcept
    int ndconv_omp_num_procs() noexcept
    int ndconv_cpu_avx2_fma() noexcept
    int ndconv_cpu_avx512() noexcept


cdef extern from "src/ndconv_region.h" nogil:
    double ndconv_region_begin() noexcept
    void ndconv_region_enter(double t0, int tid) noexcept
    void ndconv_region_end() noexcept
    void ndconv_region_times(double* since_end, double* ready) noexcept


cdef extern from "src/ndconv_interrupt.h" nogil:
    int ndconv_stop_arm() noexcept
    int ndconv_stop_disarm() noexcept
    int ndconv_stop_requested(int armed) noexcept


cdef extern from "src/ndconv_call.h" nogil:
    void ndconv_copy_kernel(char* dst, const char* src, int nd, const Py_ssize_t* shape,
                            const Py_ssize_t* step, size_t itemsize, int conj) noexcept
