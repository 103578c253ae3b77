# cython: language_level=3
"""Compiled core of the convolution layer (``ndconv.conv`` / ``ndconv.conv_grad``).

The layer is an implicit GEMM: no im2col copy and no materialised boundary
extension.  Work items are runs of output pixels along the last spatial axis.
For each item a small table gives, per kernel tap and output pixel, a pointer to
the input pixel the tap reads (into ``x``, or to a pixel of ``cval`` for the
constant boundary); strides, dilations, padding and every boundary rule live in
that table, so one register-blocked micro-kernel serves all of them.

Micro-kernels are written once with GCC/Clang vector extensions and instantiated
per instruction set (AVX-512, AVX2+FMA, the compiler's baseline) with function
``target`` attributes, picked once from the CPU at import.  Other compilers get
the same code on scalars.
"""
from cython.parallel cimport parallel, prange
from libc.string cimport memcpy

from ndconv._core.csrc cimport (
    ndconv_scratch,
    ndconv_scratch_alloc,
    ndconv_scratch_free,
    ndconv_scratch_parts,
    ndconv_scratch_spec,
)

ctypedef fused real:
    float
    double

cdef extern from *:
    """
    #include <stddef.h>
    #include <string.h>

    #if defined(__GNUC__) || defined(__clang__)
    #define LK_VEC 1
    #else
    #define LK_VEC 0
    #endif
    #if LK_VEC && (defined(__x86_64__) || defined(__i386__))
    #define LK_X86 1
    #else
    #define LK_X86 0
    #endif

    /* One register block of the forward pass: R output pixels x NV vectors of
       output channels, summed over every tap and input channel of a group.
       P[t * pstride + r] points at the input pixel tap t reads for pixel r. */
    #define LK_FWD_BLOCK(T, VT, VW, R, NV) do {                                    \\
        VT acc[R][NV];                                                             \\
        for (int v = 0; v < NV; v++) {                                             \\
            VT b_; memcpy(&b_, BIAS + v * VW, sizeof(VT));                         \\
            for (int r = 0; r < R; r++) acc[r][v] = b_;                            \\
        }                                                                          \\
        for (int t = 0; t < ntap; t++) {                                           \\
            const T* pp[R];                                                        \\
            for (int r = 0; r < R; r++) pp[r] = P[(ptrdiff_t)t * pstride + r] + c0; \\
            const T* wt = W + (ptrdiff_t)t * Cg * wld;                             \\
            for (int c = 0; c < Cg; c++) {                                         \\
                VT wv[NV];                                                         \\
                for (int v = 0; v < NV; v++) memcpy(&wv[v], wt + v * VW, sizeof(VT)); \\
                for (int r = 0; r < R; r++) {                                      \\
                    const T xs = pp[r][c];                                         \\
                    for (int v = 0; v < NV; v++) acc[r][v] += xs * wv[v];          \\
                }                                                                  \\
                wt += wld;                                                         \\
            }                                                                      \\
        }                                                                          \\
        for (int r = 0; r < R; r++) {                                              \\
            T* o_ = O + (ptrdiff_t)r * ostride;                                    \\
            for (int v = 0; v < NV; v++) {                                         \\
                const int left = nd - v * VW;                                      \\
                VT tmp = acc[r][v];                                                \\
                if (left >= VW) memcpy(o_ + v * VW, &tmp, sizeof(VT));             \\
                else if (left > 0) memcpy(o_ + v * VW, &tmp, left * sizeof(T));    \\
            }                                                                      \\
        }                                                                          \\
    } while (0)

    /* One register block of the weight gradient: R input channels x NV vectors
       of output channels, summed over npix pixels; added into DST (row DLD). */
    #define LK_GW_BLOCK(T, VT, VW, R, NV) do {                                     \\
        VT acc[R][NV];                                                             \\
        for (int r = 0; r < R; r++) for (int v = 0; v < NV; v++) acc[r][v] = (VT){0}; \\
        for (int j = 0; j < npix; j++) {                                           \\
            const T* xp = P[j] + c0;                                               \\
            const T* gp = GB + (ptrdiff_t)j * gld;                                 \\
            VT gv[NV];                                                             \\
            for (int v = 0; v < NV; v++) memcpy(&gv[v], gp + v * VW, sizeof(VT)); \\
            for (int r = 0; r < R; r++) {                                          \\
                const T xs = xp[r];                                                \\
                for (int v = 0; v < NV; v++) acc[r][v] += xs * gv[v];              \\
            }                                                                      \\
        }                                                                          \\
        for (int r = 0; r < R; r++) for (int v = 0; v < NV; v++) {                 \\
            VT tmp; T* d_ = DST + (ptrdiff_t)r * DLD + v * VW;                     \\
            memcpy(&tmp, d_, sizeof(VT)); tmp += acc[r][v]; memcpy(d_, &tmp, sizeof(VT)); \\
        }                                                                          \\
    } while (0)

    /* Depthwise (one input channel per output channel): R output pixels x NV
       vectors of channels from d0, the vectors running along the channels. */
    #define LK_DW_BLOCK(T, VT, VW, R, NV) do {                                     \\
        VT acc[R][NV];                                                             \\
        for (int v = 0; v < NV; v++) {                                             \\
            VT b_; memcpy(&b_, BIAS + v * VW, sizeof(VT));                         \\
            for (int r = 0; r < R; r++) acc[r][v] = b_;                            \\
        }                                                                          \\
        for (int t = 0; t < ntap; t++) {                                           \\
            VT wv[NV];                                                             \\
            for (int v = 0; v < NV; v++) memcpy(&wv[v], W + (ptrdiff_t)t * wld + v * VW, sizeof(VT)); \\
            for (int r = 0; r < R; r++) {                                          \\
                const T* xp = P[(ptrdiff_t)t * pstride + r] + d0;                  \\
                for (int v = 0; v < NV; v++) {                                     \\
                    VT xv; memcpy(&xv, xp + v * VW, sizeof(VT));                   \\
                    acc[r][v] += xv * wv[v];                                       \\
                }                                                                  \\
            }                                                                      \\
        }                                                                          \\
        for (int r = 0; r < R; r++) {                                              \\
            T* o_ = O + (ptrdiff_t)r * ostride;                                    \\
            for (int v = 0; v < NV; v++) { VT tmp = acc[r][v]; memcpy(o_ + v * VW, &tmp, sizeof(VT)); } \\
        }                                                                          \\
    } while (0)

    /* Depthwise weight gradient: NV vectors of channels from d0, summed over npix
       pixels, added into DST. */
    #define LK_DWG_BLOCK(T, VT, VW, NV) do {                                       \\
        VT acc[NV];                                                                \\
        for (int v = 0; v < NV; v++) { VT z_; memset(&z_, 0, sizeof(VT)); acc[v] = z_; } \\
        for (int j = 0; j < npix; j++) {                                           \\
            const T* xp = P[j] + d0;                                               \\
            const T* gp = GS + (ptrdiff_t)j * gld + d0;                            \\
            for (int v = 0; v < NV; v++) {                                         \\
                VT xv, gv;                                                         \\
                memcpy(&xv, xp + v * VW, sizeof(VT)); memcpy(&gv, gp + v * VW, sizeof(VT)); \\
                acc[v] += xv * gv;                                                 \\
            }                                                                      \\
        }                                                                          \\
        for (int v = 0; v < NV; v++) {                                             \\
            VT tmp; memcpy(&tmp, DST + v * VW, sizeof(VT)); tmp += acc[v];          \\
            memcpy(DST + v * VW, &tmp, sizeof(VT));                                \\
        }                                                                          \\
    } while (0)

    #define LK_CASE(BLOCK, T, VT, VW, R, NV) case (R) * 8 + (NV): BLOCK(T, VT, VW, R, NV); break;
    #define LK_NV4(B, T, VT, VW, R) LK_CASE(B, T, VT, VW, R, 1) LK_CASE(B, T, VT, VW, R, 2) \\
                                    LK_CASE(B, T, VT, VW, R, 3) LK_CASE(B, T, VT, VW, R, 4)
    #define LK_NV2(B, T, VT, VW, R) LK_CASE(B, T, VT, VW, R, 1) LK_CASE(B, T, VT, VW, R, 2)
    #define LK_CASES_6x4(B, T, VT, VW) LK_NV4(B, T, VT, VW, 1) LK_NV4(B, T, VT, VW, 2) \\
        LK_NV4(B, T, VT, VW, 3) LK_NV4(B, T, VT, VW, 4) LK_NV4(B, T, VT, VW, 5) LK_NV4(B, T, VT, VW, 6)
    #define LK_CASES_6x2(B, T, VT, VW) LK_NV2(B, T, VT, VW, 1) LK_NV2(B, T, VT, VW, 2) \\
        LK_NV2(B, T, VT, VW, 3) LK_NV2(B, T, VT, VW, 4) LK_NV2(B, T, VT, VW, 5) LK_NV2(B, T, VT, VW, 6)
    #define LK_CASES_R1(B, T) LK_CASE(B, T, T, 1, 1, 1) LK_CASE(B, T, T, 1, 2, 1) \\
        LK_CASE(B, T, T, 1, 3, 1) LK_CASE(B, T, T, 1, 4, 1) LK_CASE(B, T, T, 1, 5, 1) LK_CASE(B, T, T, 1, 6, 1)
    #define LK_CASES_4x4(B, T, VT, VW) LK_NV4(B, T, VT, VW, 1) LK_NV4(B, T, VT, VW, 2) \\
        LK_NV4(B, T, VT, VW, 3) LK_NV4(B, T, VT, VW, 4)

    /* Line drivers for one instruction set: every group, output-channel block
       and pixel run of one work item (forward), or every group, tap,
       input-channel block and output-channel block (weight gradient). */
    #define LK_DEFINE(SFX, ATTR, T, VT, VW, RMAX, NVMAX, CASES)                    \\
    static ATTR void lk_fwd_##SFX(const T* const* ptr, ptrdiff_t pstride, int npix,  \\
            int ntap, int G, int Cg, int Dg, int DP, const T* wpack, const T* bpack, \\
            T* out, ptrdiff_t ostride)                                             \\
    {                                                                              \\
        for (int g = 0; g < G; g++) {                                              \\
            const int c0 = g * Cg;                                                 \\
            for (int d0 = 0; d0 < DP; d0 += NVMAX * VW) {                          \\
                const int nvr = (DP - d0) / VW < NVMAX ? (DP - d0) / VW : NVMAX;   \\
                const int nd = Dg - d0;                                            \\
                const T* W = wpack + (ptrdiff_t)g * ntap * Cg * DP + d0;           \\
                const T* BIAS = bpack + (ptrdiff_t)g * DP + d0;                    \\
                const ptrdiff_t wld = DP;                                          \\
                for (int j0 = 0; j0 < npix; j0 += RMAX) {                          \\
                    const int rr = npix - j0 < RMAX ? npix - j0 : RMAX;            \\
                    const T* const* P = ptr + j0;                                  \\
                    T* O = out + (ptrdiff_t)j0 * ostride + (ptrdiff_t)g * Dg + d0; \\
                    switch (rr * 8 + nvr) { CASES(LK_FWD_BLOCK, T, VT, VW) default: break; } \\
                }                                                                  \\
            }                                                                      \\
        }                                                                          \\
    }                                                                              \\
    static ATTR void lk_gw_##SFX(const T* const* ptr, ptrdiff_t pstride, int npix,   \\
            int ntap, int G, int Cg, int DP, const T* gbuf, ptrdiff_t gld, T* part)  \\
    {                                                                              \\
        for (int g = 0; g < G; g++) {                                              \\
            for (int t = 0; t < ntap; t++) {                                       \\
                const T* const* P = ptr + (ptrdiff_t)t * pstride;                  \\
                for (int cb = 0; cb < Cg; cb += RMAX) {                            \\
                    const int rr = Cg - cb < RMAX ? Cg - cb : RMAX;                \\
                    const int c0 = g * Cg + cb;                                    \\
                    for (int d0 = 0; d0 < DP; d0 += NVMAX * VW) {                  \\
                        const int nvr = (DP - d0) / VW < NVMAX ? (DP - d0) / VW : NVMAX; \\
                        const T* GB = gbuf + (ptrdiff_t)g * DP + d0;               \\
                        const ptrdiff_t DLD = DP;                                  \\
                        T* DST = part + (((ptrdiff_t)g * ntap + t) * Cg + cb) * DP + d0; \\
                        switch (rr * 8 + nvr) { CASES(LK_GW_BLOCK, T, VT, VW) default: break; } \\
                    }                                                              \\
                }                                                                  \\
            }                                                                      \\
        }                                                                          \\
    }                                                                              \\
    static ATTR void lk_dw_##SFX(const T* const* ptr, ptrdiff_t pstride, int npix,   \\
            int ntap, int C, int CP, const T* wpack, const T* bpack, T* out,         \\
            ptrdiff_t ostride)                                                     \\
    {                                                                              \\
        const ptrdiff_t wld = CP;                                                  \\
        const int cfull = C / VW * VW;   /* channels in whole vectors */           \\
        for (int d0 = 0; d0 < cfull; d0 += NVMAX * VW) {                           \\
            const int nvr = (cfull - d0) / VW < NVMAX ? (cfull - d0) / VW : NVMAX; \\
            const T* W = wpack + d0;                                               \\
            const T* BIAS = bpack + d0;                                            \\
            for (int j0 = 0; j0 < npix; j0 += RMAX) {                              \\
                const int rr = npix - j0 < RMAX ? npix - j0 : RMAX;                \\
                const T* const* P = ptr + j0;                                      \\
                T* O = out + (ptrdiff_t)j0 * ostride + d0;                         \\
                switch (rr * 8 + nvr) { CASES(LK_DW_BLOCK, T, VT, VW) default: break; } \\
            }                                                                      \\
        }                                                                          \\
        for (int d0 = cfull; d0 < C; d0++) {   /* the rest one channel at a time */ \\
            const T* W = wpack + d0;                                               \\
            const T* BIAS = bpack + d0;                                            \\
            for (int j0 = 0; j0 < npix; j0 += RMAX) {                              \\
                const int rr = npix - j0 < RMAX ? npix - j0 : RMAX;                \\
                const T* const* P = ptr + j0;                                      \\
                T* O = out + (ptrdiff_t)j0 * ostride + d0;                         \\
                switch (rr * 8 + 1) { LK_CASES_R1(LK_DW_BLOCK, T) default: break; } \\
            }                                                                      \\
        }                                                                          \\
    }                                                                              \\
    static ATTR void lk_dwg_##SFX(const T* const* ptr, ptrdiff_t pstride, int npix,  \\
            int ntap, int C, int CP, const T* gsrc, ptrdiff_t gld, T* part)          \\
    {                                                                              \\
        const int cfull = C / VW * VW;                                             \\
        const T* GS = gsrc;                                                        \\
        for (int t = 0; t < ntap; t++) {                                           \\
            const T* const* P = ptr + (ptrdiff_t)t * pstride;                      \\
            for (int d0 = 0; d0 < cfull; d0 += NVMAX * VW) {                       \\
                const int nvr = (cfull - d0) / VW < NVMAX ? (cfull - d0) / VW : NVMAX; \\
                T* DST = part + (ptrdiff_t)t * CP + d0;                            \\
                if (nvr >= 4) LK_DWG_BLOCK(T, VT, VW, 4);                          \\
                else if (nvr == 3) LK_DWG_BLOCK(T, VT, VW, 3);                     \\
                else if (nvr == 2) LK_DWG_BLOCK(T, VT, VW, 2);                     \\
                else LK_DWG_BLOCK(T, VT, VW, 1);                                   \\
            }                                                                      \\
            for (int d0 = cfull; d0 < C; d0++) {                                   \\
                T* DST = part + (ptrdiff_t)t * CP + d0;                            \\
                LK_DWG_BLOCK(T, T, 1, 1);                                          \\
            }                                                                      \\
        }                                                                          \\
    }

    typedef void (*lk_fwd_f_t)(const float* const*, ptrdiff_t, int, int, int, int, int, int,
                               const float*, const float*, float*, ptrdiff_t);
    typedef void (*lk_fwd_d_t)(const double* const*, ptrdiff_t, int, int, int, int, int, int,
                               const double*, const double*, double*, ptrdiff_t);
    typedef void (*lk_gw_f_t)(const float* const*, ptrdiff_t, int, int, int, int, int,
                              const float*, ptrdiff_t, float*);
    typedef void (*lk_gw_d_t)(const double* const*, ptrdiff_t, int, int, int, int, int,
                              const double*, ptrdiff_t, double*);
    typedef void (*lk_dw_f_t)(const float* const*, ptrdiff_t, int, int, int, int,
                              const float*, const float*, float*, ptrdiff_t);
    typedef void (*lk_dw_d_t)(const double* const*, ptrdiff_t, int, int, int, int,
                              const double*, const double*, double*, ptrdiff_t);
    typedef void (*lk_dwg_f_t)(const float* const*, ptrdiff_t, int, int, int, int,
                               const float*, ptrdiff_t, float*);
    typedef void (*lk_dwg_d_t)(const double* const*, ptrdiff_t, int, int, int, int,
                               const double*, ptrdiff_t, double*);

    #if LK_VEC
    typedef float lk_f16 __attribute__((vector_size(16)));
    typedef double lk_d16 __attribute__((vector_size(16)));
    LK_DEFINE(f_base, , float, lk_f16, 4, 6, 2, LK_CASES_6x2)
    LK_DEFINE(d_base, , double, lk_d16, 2, 6, 2, LK_CASES_6x2)
    #define LK_VW_F_BASE 4
    #define LK_VW_D_BASE 2
    #else
    LK_DEFINE(f_base, , float, float, 1, 4, 4, LK_CASES_4x4)
    LK_DEFINE(d_base, , double, double, 1, 4, 4, LK_CASES_4x4)
    #define LK_VW_F_BASE 1
    #define LK_VW_D_BASE 1
    #endif

    #if LK_X86
    typedef float lk_f32b __attribute__((vector_size(32)));
    typedef double lk_d32b __attribute__((vector_size(32)));
    typedef float lk_f64b __attribute__((vector_size(64)));
    typedef double lk_d64b __attribute__((vector_size(64)));
    #define LK_AVX2 __attribute__((target("avx2,fma")))
    #define LK_AVX512 __attribute__((target("avx512f,avx2,fma")))
    LK_DEFINE(f_avx2, LK_AVX2, float, lk_f32b, 8, 6, 2, LK_CASES_6x2)
    LK_DEFINE(d_avx2, LK_AVX2, double, lk_d32b, 4, 6, 2, LK_CASES_6x2)
    LK_DEFINE(f_avx512, LK_AVX512, float, lk_f64b, 16, 6, 4, LK_CASES_6x4)
    LK_DEFINE(d_avx512, LK_AVX512, double, lk_d64b, 8, 6, 4, LK_CASES_6x4)
    #endif

    static lk_fwd_f_t lk_fwd_f = lk_fwd_f_base;
    static lk_fwd_d_t lk_fwd_d = lk_fwd_d_base;
    static lk_gw_f_t lk_gw_f = lk_gw_f_base;
    static lk_gw_d_t lk_gw_d = lk_gw_d_base;
    static lk_dw_f_t lk_dw_f = lk_dw_f_base;
    static lk_dw_d_t lk_dw_d = lk_dw_d_base;
    static lk_dwg_f_t lk_dwg_f = lk_dwg_f_base;
    static lk_dwg_d_t lk_dwg_d = lk_dwg_d_base;
    static int lk_vw_f = LK_VW_F_BASE, lk_vw_d = LK_VW_D_BASE, lk_level = 0;

    static int lk_cpu_level(void) {
    #if LK_X86
        __builtin_cpu_init();
        if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx2")
                && __builtin_cpu_supports("fma")) return 2;
        if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return 1;
    #endif
        return 0;
    }

    /* Use the best kernels this CPU runs, but none above max_level. */
    static int lk_set_level(int max_level) {
        int level = lk_cpu_level();
        if (level > max_level) level = max_level;
        lk_fwd_f = lk_fwd_f_base; lk_fwd_d = lk_fwd_d_base;
        lk_gw_f = lk_gw_f_base; lk_gw_d = lk_gw_d_base;
        lk_dw_f = lk_dw_f_base; lk_dw_d = lk_dw_d_base;
        lk_dwg_f = lk_dwg_f_base; lk_dwg_d = lk_dwg_d_base;
        lk_vw_f = LK_VW_F_BASE; lk_vw_d = LK_VW_D_BASE; lk_level = 0;
    #if LK_X86
        if (level == 2) {
            lk_fwd_f = lk_fwd_f_avx512; lk_fwd_d = lk_fwd_d_avx512;
            lk_gw_f = lk_gw_f_avx512; lk_gw_d = lk_gw_d_avx512;
            lk_dw_f = lk_dw_f_avx512; lk_dw_d = lk_dw_d_avx512;
            lk_dwg_f = lk_dwg_f_avx512; lk_dwg_d = lk_dwg_d_avx512;
            lk_vw_f = 16; lk_vw_d = 8; lk_level = 2;
        } else if (level == 1) {
            lk_fwd_f = lk_fwd_f_avx2; lk_fwd_d = lk_fwd_d_avx2;
            lk_gw_f = lk_gw_f_avx2; lk_gw_d = lk_gw_d_avx2;
            lk_dw_f = lk_dw_f_avx2; lk_dw_d = lk_dw_d_avx2;
            lk_dwg_f = lk_dwg_f_avx2; lk_dwg_d = lk_dwg_d_avx2;
            lk_vw_f = 8; lk_vw_d = 4; lk_level = 1;
        }
    #endif
        return lk_level;
    }
    """
    ctypedef void (*lk_fwd_f_t)(const float* const*, Py_ssize_t, int, int, int, int, int, int,
                                const float*, const float*, float*, Py_ssize_t) noexcept nogil
    ctypedef void (*lk_fwd_d_t)(const double* const*, Py_ssize_t, int, int, int, int, int, int,
                                const double*, const double*, double*, Py_ssize_t) noexcept nogil
    ctypedef void (*lk_gw_f_t)(const float* const*, Py_ssize_t, int, int, int, int, int,
                               const float*, Py_ssize_t, float*) noexcept nogil
    ctypedef void (*lk_gw_d_t)(const double* const*, Py_ssize_t, int, int, int, int, int,
                               const double*, Py_ssize_t, double*) noexcept nogil
    ctypedef void (*lk_dw_f_t)(const float* const*, Py_ssize_t, int, int, int, int,
                               const float*, const float*, float*, Py_ssize_t) noexcept nogil
    ctypedef void (*lk_dw_d_t)(const double* const*, Py_ssize_t, int, int, int, int,
                               const double*, const double*, double*, Py_ssize_t) noexcept nogil
    ctypedef void (*lk_dwg_f_t)(const float* const*, Py_ssize_t, int, int, int, int,
                                const float*, Py_ssize_t, float*) noexcept nogil
    ctypedef void (*lk_dwg_d_t)(const double* const*, Py_ssize_t, int, int, int, int,
                                const double*, Py_ssize_t, double*) noexcept nogil
    lk_dw_f_t lk_dw_f
    lk_dw_d_t lk_dw_d
    lk_dwg_f_t lk_dwg_f
    lk_dwg_d_t lk_dwg_d
    lk_fwd_f_t lk_fwd_f
    lk_fwd_d_t lk_fwd_d
    lk_gw_f_t lk_gw_f
    lk_gw_d_t lk_gw_d
    int lk_vw_f
    int lk_vw_d
    int lk_level
    int lk_cpu_level() noexcept nogil
    int lk_set_level(int max_level) noexcept nogil

LEVELS = ("baseline", "avx2+fma", "avx512")

lk_set_level(2)


def set_level(name):
    """Use the kernels of instruction set ``name`` (one of ``LEVELS``) or the best
    below it this CPU runs; returns the level now in use.  For tests and benchmarks."""
    return LEVELS[lk_set_level(LEVELS.index(name))]


def level():
    """Name of the instruction set whose kernels are in use."""
    return LEVELS[lk_level]


def vector_width(itemsize):
    """Lanes per vector of the kernels in use, for elements of ``itemsize`` bytes.

    Packed weights pad each group's output channels to a multiple of it.
    """
    return lk_vw_f if itemsize == 4 else lk_vw_d


cdef inline void _fill_ptrs(const real** ptrs, const real* base, const real* cv,
                            const Py_ssize_t[:, ::1] rowtab, const Py_ssize_t[:, ::1] coltab,
                            const Py_ssize_t[::1] colgeom,
                            Py_ssize_t line, Py_ssize_t j0, Py_ssize_t npix) noexcept nogil:
    """Pointer table of one work item: ``ptrs[t * npix + j]`` is the input pixel
    tap ``t`` reads for output pixel ``j0 + j`` of output line ``line``.

    Columns ``jlo <= j < jhi`` (all taps inside the input) are at element offset
    ``start + j * step + tap * tap_step`` of their row; the others are looked up
    in ``coltab[tap, border column]`` (``-1``: cval)."""
    cdef Py_ssize_t lt, kl, j, jj, t, ro, co
    cdef Py_ssize_t nlt = rowtab.shape[1], klast = coltab.shape[0]
    cdef Py_ssize_t jlo = colgeom[0], jhi = colgeom[1], start = colgeom[2]
    cdef Py_ssize_t step = colgeom[3], tap_step = colgeom[4]
    for lt in range(nlt):
        ro = rowtab[line, lt]
        for kl in range(klast):
            t = lt * klast + kl
            for j in range(npix):
                jj = j0 + j
                if jj >= jlo and jj < jhi:
                    co = start + jj * step + kl * tap_step
                else:
                    co = coltab[kl, jj if jj < jlo else jj - jhi + jlo]
                if ro < 0 or co < 0:
                    ptrs[t * npix + j] = cv
                else:
                    ptrs[t * npix + j] = base + ro + co


def forward(const real[::1] x, Py_ssize_t batch, Py_ssize_t img_size,
            const Py_ssize_t[:, ::1] rowtab, const Py_ssize_t[:, ::1] coltab,
            const Py_ssize_t[::1] colgeom, Py_ssize_t wo,
            const real[::1] cval_pixel, const real[::1] wpack, const real[::1] bpack,
            int groups, int cg, int dg, int dp, real[::1] out, Py_ssize_t seg, int n_threads,
            bint depthwise=False):
    """Valid correlation of the (implicitly extended) input with the packed weights.

    ``x`` is the flat channels-last input, ``img_size`` elements per batch item;
    ``rowtab[line, lead_tap]`` is the element offset of the input row leading taps
    ``lead_tap`` read for output line ``line``, and ``coltab`` / ``colgeom``
    (``jlo, jhi, start, step, tap_step``) give the offset within the row per last
    tap and output column (see ``_fill_ptrs``); ``-1`` means the constant
    boundary's ``cval``.  ``wo`` is the number of output columns.  ``wpack`` is ``(groups, taps, cg, dp)``, ``bpack``
    ``(groups, dp)``; ``out`` is the flat ``(batch, lines, columns, groups*dg)``
    result.  Work items are runs of at most ``seg`` output pixels of one line.
    ``depthwise`` (``cg == dg == 1``): ``wpack`` is ``(taps, dp)`` with ``dp >=
    groups`` and ``bpack`` ``(dp,)``, and the vectors run along the channels.
    """
    cdef Py_ssize_t nl = rowtab.shape[0]
    cdef int ntap = <int>(rowtab.shape[1] * coltab.shape[0])
    cdef Py_ssize_t nseg = (wo + seg - 1) // seg
    cdef Py_ssize_t ntask = batch * nl * nseg
    cdef Py_ssize_t cout = <Py_ssize_t>groups * dg
    cdef Py_ssize_t task, li, j0, npix
    cdef const real** ptrs = NULL
    cdef const real* xb
    cdef const real* cv
    cdef real* ob
    cdef int failed = 0
    cdef int* failp = &failed   # shared: plain locals are thread-private in a parallel block
    cdef ndconv_scratch sc
    cdef ndconv_scratch_spec spec = ndconv_scratch_parts(ntap * seg * sizeof(real*), 0, 0, 0, 0, 0, 0)
    if ntask == 0:
        return
    xb, cv, ob = &x[0], &cval_pixel[0], &out[0]
    ptrs = NULL   # set per thread below
    with nogil, parallel(num_threads=n_threads):
        sc = ndconv_scratch_alloc(&spec, failp)
        ptrs = <const real**>sc.part[0]
        for task in prange(ntask, schedule="dynamic", chunksize=1):
            li = task // nseg
            j0 = (task % nseg) * seg
            npix = wo - j0 if wo - j0 < seg else seg
            if sc.block == NULL:
                continue
            _fill_ptrs(ptrs, xb + (li // nl) * img_size, cv, rowtab, coltab, colgeom, li % nl, j0, npix)
            if depthwise:
                if real is float:
                    lk_dw_f(ptrs, npix, <int>npix, ntap, groups, dp, &wpack[0], &bpack[0],
                            ob + (li * wo + j0) * cout, cout)
                else:
                    lk_dw_d(ptrs, npix, <int>npix, ntap, groups, dp, &wpack[0], &bpack[0],
                            ob + (li * wo + j0) * cout, cout)
            elif real is float:
                lk_fwd_f(ptrs, npix, <int>npix, ntap, groups, cg, dg, dp, &wpack[0], &bpack[0],
                         ob + (li * wo + j0) * cout, cout)
            else:
                lk_fwd_d(ptrs, npix, <int>npix, ntap, groups, cg, dg, dp, &wpack[0], &bpack[0],
                         ob + (li * wo + j0) * cout, cout)
        ndconv_scratch_free(&sc)
    if failed:
        raise MemoryError("ndconv.conv could not allocate its per-thread pointer tables")


def weight_grad(const real[::1] x, Py_ssize_t batch, Py_ssize_t img_size,
                const Py_ssize_t[:, ::1] rowtab, const Py_ssize_t[:, ::1] coltab,
                const Py_ssize_t[::1] colgeom, Py_ssize_t wo,
                const real[::1] cval_pixel, const real[::1] gout, int groups, int cg, int dg,
                int dp, real[:, ::1] part, Py_ssize_t seg, int n_threads, bint depthwise=False):
    """Weight gradient ``sum over pixels of x_tap (outer) grad_out``, per group.

    Same tables and work items as :func:`forward`; ``gout`` is the flat
    ``(batch, lines, columns, groups*dg)`` output gradient.  The work items are
    split into ``part.shape[0]`` contiguous chunks; chunk ``i`` adds its items,
    in order, into ``part[i]`` (``(groups, taps, cg, dp)``), so the sums do not
    depend on the number of threads.  The caller adds the rows.  ``depthwise``
    (``cg == dg == 1``): ``part`` rows are ``(taps, dp)``, vectors along channels.
    """
    cdef Py_ssize_t nl = rowtab.shape[0]
    cdef int ntap = <int>(rowtab.shape[1] * coltab.shape[0])
    cdef Py_ssize_t nseg = (wo + seg - 1) // seg
    cdef Py_ssize_t ntask = batch * nl * nseg
    cdef Py_ssize_t nchunk = part.shape[0]
    cdef Py_ssize_t cout = <Py_ssize_t>groups * dg
    cdef Py_ssize_t gld = <Py_ssize_t>groups * dp
    cdef Py_ssize_t chunk, task, li, j0, npix, j, g
    cdef const real** ptrs = NULL
    cdef real* gbuf = NULL
    cdef const real* xb
    cdef const real* cv
    cdef const real* gsrc
    cdef int failed = 0
    cdef int* failp = &failed   # shared: plain locals are thread-private in a parallel block
    cdef ndconv_scratch sc
    # pointer tables, and the output gradient with each group padded to dp
    # lanes (zeroed once: the padding lanes past dg stay zero, only dg lanes
    # are copied)
    cdef ndconv_scratch_spec spec = ndconv_scratch_parts(ntap * seg * sizeof(real*),
                                                         seg * gld * sizeof(real), 0, 0, 0, 0, 1u << 1)
    if ntask == 0 or nchunk == 0:
        return
    xb, cv = &x[0], &cval_pixel[0]
    ptrs, gbuf = NULL, NULL   # set per thread below
    with nogil, parallel(num_threads=n_threads):
        sc = ndconv_scratch_alloc(&spec, failp)
        ptrs = <const real**>sc.part[0]
        gbuf = <real*>sc.part[1]
        for chunk in prange(nchunk, schedule="dynamic", chunksize=1):
            if sc.block == NULL:
                continue
            for task in range(chunk * ntask // nchunk, (chunk + 1) * ntask // nchunk):
                li = task // nseg
                j0 = (task % nseg) * seg
                npix = wo - j0 if wo - j0 < seg else seg
                _fill_ptrs(ptrs, xb + (li // nl) * img_size, cv, rowtab, coltab, colgeom,
                           li % nl, j0, npix)
                gsrc = &gout[0] + (li * wo + j0) * cout
                if depthwise:
                    if real is float:
                        lk_dwg_f(ptrs, npix, <int>npix, ntap, groups, dp, gsrc, cout, &part[chunk, 0])
                    else:
                        lk_dwg_d(ptrs, npix, <int>npix, ntap, groups, dp, gsrc, cout, &part[chunk, 0])
                    continue
                for j in range(npix):
                    for g in range(groups):
                        memcpy(gbuf + j * gld + g * dp, gsrc + j * cout + g * dg,
                               dg * sizeof(real))
                if real is float:
                    lk_gw_f(ptrs, npix, <int>npix, ntap, groups, cg, dp, gbuf, gld, &part[chunk, 0])
                else:
                    lk_gw_d(ptrs, npix, <int>npix, ntap, groups, cg, dp, gbuf, gld, &part[chunk, 0])
        ndconv_scratch_free(&sc)
    if failed:
        raise MemoryError("ndconv.conv_grad could not allocate its per-thread buffers")
