/* Micro-kernels of the convolution layer (ndconv.conv, ndconv.conv_grad):
   register blocks of output pixels x vectors of output channels, written
   once with GCC/Clang vector extensions (the compiler contracts their
   multiply-adds where the build has FMA; other compilers get scalars) and
   instantiated for the vector width of the build that includes this file.
   Drivers and tables: layer.pxi. */
#ifndef NDCONV_LAYER_H
#define NDCONV_LAYER_H

#include <stddef.h>
#include <string.h>

#if defined(__GNUC__) || defined(__clang__)
#define LK_VEC 1
#else
#define LK_VEC 0
#endif
#include "ndconv_simd.h"   /* NDCONV_WIDE_BLOCKS, NDCONV_NEON */

/* The accumulators of a block, R pixels x NV vectors, each starting at its bias vector. */
#define LK_ACC_FROM_BIAS(VT, VW, R, NV)                                        \
    VT acc[R][NV];                                                             \
    for (int v = 0; v < NV; v++) {                                             \
        VT b_; memcpy(&b_, BIAS + v * VW, sizeof(VT));                         \
        for (int r = 0; r < R; r++) acc[r][v] = b_;                            \
    }

/* One register block of the forward pass: R output pixels x NV vectors of
   output channels, summed over every tap and input channel of a group.
   P[t * pstride + r] points at the input pixel tap t reads for pixel r. */
#define LK_FWD_BLOCK(T, VT, VW, R, NV) do {                                    \
    LK_ACC_FROM_BIAS(VT, VW, R, NV);                                           \
    for (int t = 0; t < ntap; t++) {                                           \
        const T* pp[R];                                                        \
        for (int r = 0; r < R; r++) pp[r] = P[(ptrdiff_t)t * pstride + r] + c0; \
        const T* wt = W + (ptrdiff_t)t * Cg * wld;                             \
        for (int c = 0; c < Cg; c++) {                                         \
            VT wv[NV];                                                         \
            for (int v = 0; v < NV; v++) memcpy(&wv[v], wt + v * VW, sizeof(VT)); \
            for (int r = 0; r < R; r++) {                                      \
                const T xs = pp[r][c];                                         \
                for (int v = 0; v < NV; v++) acc[r][v] += xs * wv[v];          \
            }                                                                  \
            wt += wld;                                                         \
        }                                                                      \
    }                                                                          \
    for (int r = 0; r < R; r++) {                                              \
        T* o_ = O + (ptrdiff_t)r * ostride;                                    \
        for (int v = 0; v < NV; v++) {                                         \
            const int left = nd - v * VW;                                      \
            VT tmp = acc[r][v];                                                \
            if (left >= VW) memcpy(o_ + v * VW, &tmp, sizeof(VT));             \
            else if (left > 0) memcpy(o_ + v * VW, &tmp, left * sizeof(T));    \
        }                                                                      \
    }                                                                          \
} while (0)

/* One register block of the weight gradient: R input channels x NV vectors
   of output channels, summed over npix pixels; added into DST (row DLD). */
#define LK_GW_BLOCK(T, VT, VW, R, NV) do {                                     \
    VT acc[R][NV];                                                             \
    for (int r = 0; r < R; r++) for (int v = 0; v < NV; v++) acc[r][v] = (VT){0}; \
    for (int j = 0; j < npix; j++) {                                           \
        const T* xp = P[j] + c0;                                               \
        const T* gp = GB + (ptrdiff_t)j * gld;                                 \
        VT gv[NV];                                                             \
        for (int v = 0; v < NV; v++) memcpy(&gv[v], gp + v * VW, sizeof(VT)); \
        for (int r = 0; r < R; r++) {                                          \
            const T xs = xp[r];                                                \
            for (int v = 0; v < NV; v++) acc[r][v] += xs * gv[v];              \
        }                                                                      \
    }                                                                          \
    for (int r = 0; r < R; r++) for (int v = 0; v < NV; v++) {                 \
        VT tmp; T* d_ = DST + (ptrdiff_t)r * DLD + v * VW;                     \
        memcpy(&tmp, d_, sizeof(VT)); tmp += acc[r][v]; memcpy(d_, &tmp, sizeof(VT)); \
    }                                                                          \
} while (0)

/* Depthwise (one input channel per output channel): R output pixels x NV
   vectors of channels from d0, the vectors running along the channels. */
#define LK_DW_BLOCK(T, VT, VW, R, NV) do {                                     \
    LK_ACC_FROM_BIAS(VT, VW, R, NV);                                           \
    for (int t = 0; t < ntap; t++) {                                           \
        VT wv[NV];                                                             \
        for (int v = 0; v < NV; v++) memcpy(&wv[v], W + (ptrdiff_t)t * wld + v * VW, sizeof(VT)); \
        for (int r = 0; r < R; r++) {                                          \
            const T* xp = P[(ptrdiff_t)t * pstride + r] + d0;                  \
            for (int v = 0; v < NV; v++) {                                     \
                VT xv; memcpy(&xv, xp + v * VW, sizeof(VT));                   \
                acc[r][v] += xv * wv[v];                                       \
            }                                                                  \
        }                                                                      \
    }                                                                          \
    for (int r = 0; r < R; r++) {                                              \
        T* o_ = O + (ptrdiff_t)r * ostride;                                    \
        for (int v = 0; v < NV; v++) { VT tmp = acc[r][v]; memcpy(o_ + v * VW, &tmp, sizeof(VT)); } \
    }                                                                          \
} while (0)

/* Depthwise weight gradient: NV vectors of channels from d0, summed over npix
   pixels, added into DST. */
#define LK_DWG_BLOCK(T, VT, VW, NV) do {                                       \
    VT acc[NV];                                                                \
    for (int v = 0; v < NV; v++) { VT z_; memset(&z_, 0, sizeof(VT)); acc[v] = z_; } \
    for (int j = 0; j < npix; j++) {                                           \
        const T* xp = P[j] + d0;                                               \
        const T* gp = GS + (ptrdiff_t)j * gld + d0;                            \
        for (int v = 0; v < NV; v++) {                                         \
            VT xv, gv;                                                         \
            memcpy(&xv, xp + v * VW, sizeof(VT)); memcpy(&gv, gp + v * VW, sizeof(VT)); \
            acc[v] += xv * gv;                                                 \
        }                                                                      \
    }                                                                          \
    for (int v = 0; v < NV; v++) {                                             \
        VT tmp; memcpy(&tmp, DST + v * VW, sizeof(VT)); tmp += acc[v];          \
        memcpy(DST + v * VW, &tmp, sizeof(VT));                                \
    }                                                                          \
} while (0)

#define LK_CASE(BLOCK, T, VT, VW, R, NV) case (R) * 8 + (NV): BLOCK(T, VT, VW, R, NV); break;
#define LK_NV4(B, T, VT, VW, R) LK_CASE(B, T, VT, VW, R, 1) LK_CASE(B, T, VT, VW, R, 2) \
                                LK_CASE(B, T, VT, VW, R, 3) LK_CASE(B, T, VT, VW, R, 4)
#define LK_NV2(B, T, VT, VW, R) LK_CASE(B, T, VT, VW, R, 1) LK_CASE(B, T, VT, VW, R, 2)
#define LK_CASES_6x4(B, T, VT, VW) LK_NV4(B, T, VT, VW, 1) LK_NV4(B, T, VT, VW, 2) \
    LK_NV4(B, T, VT, VW, 3) LK_NV4(B, T, VT, VW, 4) LK_NV4(B, T, VT, VW, 5) LK_NV4(B, T, VT, VW, 6)
#define LK_CASES_6x2(B, T, VT, VW) LK_NV2(B, T, VT, VW, 1) LK_NV2(B, T, VT, VW, 2) \
    LK_NV2(B, T, VT, VW, 3) LK_NV2(B, T, VT, VW, 4) LK_NV2(B, T, VT, VW, 5) LK_NV2(B, T, VT, VW, 6)
#define LK_CASES_R1(B, T) LK_CASE(B, T, T, 1, 1, 1) LK_CASE(B, T, T, 1, 2, 1) \
    LK_CASE(B, T, T, 1, 3, 1) LK_CASE(B, T, T, 1, 4, 1) LK_CASE(B, T, T, 1, 5, 1) LK_CASE(B, T, T, 1, 6, 1)
#define LK_CASES_4x4(B, T, VT, VW) LK_NV4(B, T, VT, VW, 1) LK_NV4(B, T, VT, VW, 2) \
    LK_NV4(B, T, VT, VW, 3) LK_NV4(B, T, VT, VW, 4)

/* The depthwise pass over every pixel run for the channels from d0 (W,
   BIAS, P, O as the blocks expect), SWITCH picking the block. */
#define LK_DW_PIXELS(T, RMAX, SWITCH)                                          \
    const T* W = wpack + d0;                                                   \
    const T* BIAS = bpack + d0;                                                \
    for (int j0 = 0; j0 < npix; j0 += RMAX) {                                  \
        const int rr = npix - j0 < RMAX ? npix - j0 : RMAX;                    \
        const T* const* P = ptr + j0;                                          \
        T* O = out + (ptrdiff_t)j0 * ostride + d0;                             \
        SWITCH                                                                 \
    }

/* Line drivers for one instruction set: every group, output-channel block
   and pixel run of one work item (forward), or every group, tap,
   input-channel block and output-channel block (weight gradient). */
#define LK_DEFINE(SFX, ATTR, T, VT, VW, RMAX, NVMAX, CASES)                    \
static ATTR void lk_fwd_##SFX(const T* const* ptr, ptrdiff_t pstride, int npix,  \
        int ntap, int G, int Cg, int Dg, int DP, const T* wpack, const T* bpack, \
        T* out, ptrdiff_t ostride)                                             \
{                                                                              \
    for (int g = 0; g < G; g++) {                                              \
        const int c0 = g * Cg;                                                 \
        for (int d0 = 0; d0 < DP; d0 += NVMAX * VW) {                          \
            const int nvr = (DP - d0) / VW < NVMAX ? (DP - d0) / VW : NVMAX;   \
            const int nd = Dg - d0;                                            \
            const T* W = wpack + (ptrdiff_t)g * ntap * Cg * DP + d0;           \
            const T* BIAS = bpack + (ptrdiff_t)g * DP + d0;                    \
            const ptrdiff_t wld = DP;                                          \
            for (int j0 = 0; j0 < npix; j0 += RMAX) {                          \
                const int rr = npix - j0 < RMAX ? npix - j0 : RMAX;            \
                const T* const* P = ptr + j0;                                  \
                T* O = out + (ptrdiff_t)j0 * ostride + (ptrdiff_t)g * Dg + d0; \
                switch (rr * 8 + nvr) { CASES(LK_FWD_BLOCK, T, VT, VW) default: break; } \
            }                                                                  \
        }                                                                      \
    }                                                                          \
}                                                                              \
static ATTR void lk_gw_##SFX(const T* const* ptr, ptrdiff_t pstride, int npix,   \
        int ntap, int G, int Cg, int DP, const T* gbuf, ptrdiff_t gld, T* part)  \
{                                                                              \
    for (int g = 0; g < G; g++) {                                              \
        for (int t = 0; t < ntap; t++) {                                       \
            const T* const* P = ptr + (ptrdiff_t)t * pstride;                  \
            for (int cb = 0; cb < Cg; cb += RMAX) {                            \
                const int rr = Cg - cb < RMAX ? Cg - cb : RMAX;                \
                const int c0 = g * Cg + cb;                                    \
                for (int d0 = 0; d0 < DP; d0 += NVMAX * VW) {                  \
                    const int nvr = (DP - d0) / VW < NVMAX ? (DP - d0) / VW : NVMAX; \
                    const T* GB = gbuf + (ptrdiff_t)g * DP + d0;               \
                    const ptrdiff_t DLD = DP;                                  \
                    T* DST = part + (((ptrdiff_t)g * ntap + t) * Cg + cb) * DP + d0; \
                    switch (rr * 8 + nvr) { CASES(LK_GW_BLOCK, T, VT, VW) default: break; } \
                }                                                              \
            }                                                                  \
        }                                                                      \
    }                                                                          \
}                                                                              \
static ATTR void lk_dw_##SFX(const T* const* ptr, ptrdiff_t pstride, int npix, \
        int ntap, int C, int CP, const T* wpack, const T* bpack, T* out,       \
        ptrdiff_t ostride)                                                     \
{                                                                              \
    const ptrdiff_t wld = CP;                                                  \
    const int cfull = C / VW * VW;   /* channels in whole vectors */           \
    for (int d0 = 0; d0 < cfull; d0 += NVMAX * VW) {                           \
        const int nvr = (cfull - d0) / VW < NVMAX ? (cfull - d0) / VW : NVMAX; \
        LK_DW_PIXELS(T, RMAX,                                                  \
            switch (rr * 8 + nvr) { CASES(LK_DW_BLOCK, T, VT, VW) default: break; }) \
    }                                                                          \
    for (int d0 = cfull; d0 < C; d0++) {   /* the rest one channel at a time */ \
        LK_DW_PIXELS(T, RMAX,                                                  \
            switch (rr * 8 + 1) { LK_CASES_R1(LK_DW_BLOCK, T) default: break; }) \
    }                                                                          \
}                                                                              \
static ATTR void lk_dwg_##SFX(const T* const* ptr, ptrdiff_t pstride, int npix,  \
        int ntap, int C, int CP, const T* gsrc, ptrdiff_t gld, T* part)          \
{                                                                              \
    const int cfull = C / VW * VW;                                             \
    const T* GS = gsrc;                                                        \
    for (int t = 0; t < ntap; t++) {                                           \
        const T* const* P = ptr + (ptrdiff_t)t * pstride;                      \
        for (int d0 = 0; d0 < cfull; d0 += NVMAX * VW) {                       \
            const int nvr = (cfull - d0) / VW < NVMAX ? (cfull - d0) / VW : NVMAX; \
            T* DST = part + (ptrdiff_t)t * CP + d0;                            \
            if (nvr >= 4) LK_DWG_BLOCK(T, VT, VW, 4);                          \
            else if (nvr == 3) LK_DWG_BLOCK(T, VT, VW, 3);                     \
            else if (nvr == 2) LK_DWG_BLOCK(T, VT, VW, 2);                     \
            else LK_DWG_BLOCK(T, VT, VW, 1);                                   \
        }                                                                      \
        for (int d0 = cfull; d0 < C; d0++) {                                   \
            T* DST = part + (ptrdiff_t)t * CP + d0;                            \
            LK_DWG_BLOCK(T, T, 1, 1);                                          \
        }                                                                      \
    }                                                                          \
}

/* One instantiation, for the instruction set this build is compiled for:
   each build of the core (baseline, AVX2+FMA, AVX-512, NEON) includes this
   file, and ndconv._core picks the build, so the layer runs the same
   instruction set as the correlation kernels.  Register blocks: R output
   pixels (6) x NV vectors of output channels: NV 4 with 32 registers
   (AVX-512, NEON: 6 x 4 accumulators + 4 weight vectors + 1 broadcast
   input = 29), else 2 (6 x 2 + 2 + 1 = 15 of 16). */
#if LK_VEC && NDCONV_WIDE_BLOCKS && defined(__AVX512F__)
#define LK_BYTES 64
#define LK_NVMAX 4
#elif LK_VEC && defined(__AVX2__) && defined(__FMA__)
#define LK_BYTES 32
#define LK_NVMAX 2
#elif LK_VEC && NDCONV_NEON && defined(__aarch64__)
#define LK_BYTES 16
#define LK_NVMAX 4
#elif LK_VEC
#define LK_BYTES 16
#define LK_NVMAX 2
#endif
#if LK_VEC
#define LK_GLUE(a, b) a##b
#define LK_XGLUE(a, b) LK_GLUE(a, b)
#define LK_CASES LK_XGLUE(LK_CASES_6x, LK_NVMAX)
typedef float lk_fv __attribute__((vector_size(LK_BYTES)));
typedef double lk_dv __attribute__((vector_size(LK_BYTES)));
#define LK_VW_F (LK_BYTES / 4)
#define LK_VW_D (LK_BYTES / 8)
LK_DEFINE(f, , float, lk_fv, LK_VW_F, 6, LK_NVMAX, LK_CASES)
LK_DEFINE(d, , double, lk_dv, LK_VW_D, 6, LK_NVMAX, LK_CASES)
#else
LK_DEFINE(f, , float, float, 1, 4, 4, LK_CASES_4x4)
LK_DEFINE(d, , double, double, 1, 4, 4, LK_CASES_4x4)
#define LK_VW_F 1
#define LK_VW_D 1
#endif

#endif
