/* Winograd's F(2x2, 3x3) for the convolution layer (ndconv.conv): the two
   transforms around the layer's own GEMM micro-kernel (ndconv_layer.h).

   A 2x2 tile of outputs of a 3x3, stride-1 correlation reads a 4x4 patch d
   of the (extended) input.  With V = B^T d B per input channel (adds only)
   and U = G g G^T per channel pair (the weights, transformed once per call
   in Python), the 16 products M[p] = sum_c V[p, c] U[p, c, :] are 16 GEMMs
   that lk_fwd runs as one layer call of 16 "groups" of one tap, and
   Y = A^T M A + bias (adds only) is the tile.  16 multiplies per tile and
   channel pair instead of 36: what the AVX2 build needs to match a 16-lane
   direct kernel (issue 12).

       B^T = [1  0 -1  0]     A^T = [1  1  1  0]
             [0  1  1  0]           [0  1 -1 -1]
             [0 -1  1  0]
             [0  1  0 -1]

   Layouts (per work item of ntile tiles): pointers ptr[(r * 4 + s) * pstride
   + t] to the C channels of patch pixel (r, s) of tile t; V[t][16][C];
   M[t][16][DP] (DP: output channels padded to the vector width).  Every
   output is computed by one tile in a fixed order of operations, so results
   do not depend on threads or work items. */
#ifndef NDCONV_WINOGRAD_H
#define NDCONV_WINOGRAD_H

#include "ndconv_layer.h"

/* V of one tile for the channels from c0, LOAD giving a VT from a pointer.
   One column k of d B at a time (two loads per row), then B^T of it: eight
   values live instead of sixteen, so nothing spills to the stack (a 4x4
   array of vectors did, and its 32-byte reloads of 16-byte stores stalled). */
#define LK_WIN_IN(T, VT, LOAD, c0) do {                                        \
    const T* const* pt_ = ptr + t;                                             \
    T* v_ = V + (ptrdiff_t)t * 16 * C + (c0);                                  \
    for (int k = 0; k < 4; k++) {                                              \
        /* column k of B: d[:, i] + sg * d[:, j] */                            \
        const int i_ = k == 0 ? 0 : k == 2 ? 2 : 1;                            \
        const int j_ = k == 0 ? 2 : k == 2 ? 1 : k == 1 ? 2 : 3;               \
        VT q_[4];                                                              \
        for (int r = 0; r < 4; r++) {                                          \
            const VT a_ = LOAD(pt_[(ptrdiff_t)(r * 4 + i_) * pstride] + (c0)); \
            const VT b_ = LOAD(pt_[(ptrdiff_t)(r * 4 + j_) * pstride] + (c0)); \
            q_[r] = k == 1 ? a_ + b_ : a_ - b_;                                \
        }                                                                      \
        const VT v0_ = q_[0] - q_[2], v1_ = q_[1] + q_[2];                     \
        const VT v2_ = q_[2] - q_[1], v3_ = q_[1] - q_[3];                     \
        memcpy(v_ + (ptrdiff_t)(0 + k) * C, &v0_, sizeof(VT));                 \
        memcpy(v_ + (ptrdiff_t)(4 + k) * C, &v1_, sizeof(VT));                 \
        memcpy(v_ + (ptrdiff_t)(8 + k) * C, &v2_, sizeof(VT));                 \
        memcpy(v_ + (ptrdiff_t)(12 + k) * C, &v3_, sizeof(VT));                \
    }                                                                          \
} while (0)

/* Y of one tile for the output channels from d0 (VT vectors or scalars),
   stored by STORE to the pixels that exist: row 1 when o1 is not NULL,
   column 1 when the tile has one (2 t + 1 < ncol). */
#define LK_WIN_OUT(T, VT, LOAD, d0, STORE) do {                                \
    const T* m_ = M + (ptrdiff_t)t * 16 * DP + (d0);                           \
    VT h0_[4], h1_[4];                                                         \
    for (int s = 0; s < 4; s++) {                                              \
        const VT a_ = LOAD(m_ + (ptrdiff_t)(4 + s) * DP);                      \
        const VT b_ = LOAD(m_ + (ptrdiff_t)(8 + s) * DP);                      \
        h0_[s] = LOAD(m_ + (ptrdiff_t)s * DP) + a_ + b_;                       \
        h1_[s] = a_ - b_ - LOAD(m_ + (ptrdiff_t)(12 + s) * DP);                \
    }                                                                          \
    const VT bb_ = LOAD(bias + (d0));                                          \
    T* r0_ = o0 + (ptrdiff_t)(2 * t) * ostride + (d0);                         \
    const VT y00_ = h0_[0] + h0_[1] + h0_[2] + bb_;                            \
    const VT y01_ = h0_[1] - h0_[2] - h0_[3] + bb_;                            \
    STORE(r0_, y00_);                                                          \
    if (2 * t + 1 < ncol) STORE(r0_ + ostride, y01_);                          \
    if (o1 != NULL) {                                                          \
        T* r1_ = o1 + (ptrdiff_t)(2 * t) * ostride + (d0);                     \
        const VT y10_ = h1_[0] + h1_[1] + h1_[2] + bb_;                        \
        const VT y11_ = h1_[1] - h1_[2] - h1_[3] + bb_;                        \
        STORE(r1_, y10_);                                                      \
        if (2 * t + 1 < ncol) STORE(r1_ + ostride, y11_);                      \
    }                                                                          \
} while (0)

#define LK_WIN_STORE_FULL(o, y) memcpy((o), &(y), sizeof(y))
#define LK_WIN_STORE_PART(o, y) memcpy((o), &(y), (size_t)left * sizeof(*(o)))
#define LK_WIN_SCALAR(p) (*(p))

#define LK_WIN_DEFINE(SFX, T, VT, VW)                                          \
static inline VT lk_win_load_##SFX(const T* p) { VT v; memcpy(&v, p, sizeof v); return v; } \
/* V for ntile tiles of C input channels. */                                   \
static void lk_win_in_##SFX(const T* const* ptr, ptrdiff_t pstride, int ntile, \
                            int C, T* V)                                       \
{                                                                              \
    const int cfull = C / VW * VW;                                             \
    for (int t = 0; t < ntile; t++) {                                          \
        for (int c0 = 0; c0 < cfull; c0 += VW)                                 \
            LK_WIN_IN(T, VT, lk_win_load_##SFX, c0);                           \
        for (int c0 = cfull; c0 < C; c0++) LK_WIN_IN(T, T, LK_WIN_SCALAR, c0); \
    }                                                                          \
}                                                                              \
/* Outputs of ntile tiles: Dg channels of the pixels from o0 (row 0) and o1   \
   (row 1, NULL if the tiles have one row), pixels ostride apart, ncol        \
   columns (the last tile has one when ncol is odd).  M and bias are padded   \
   to DP, a multiple of VW, so their loads are whole vectors. */              \
static void lk_win_out_##SFX(const T* M, int ntile, int DP, int Dg,            \
                             const T* bias, T* o0, T* o1, ptrdiff_t ostride,   \
                             int ncol)                                         \
{                                                                              \
    for (int t = 0; t < ntile; t++) {                                          \
        for (int d0 = 0; d0 < Dg; d0 += VW) {                                  \
            const int left = Dg - d0;                                          \
            if (left >= VW)                                                    \
                LK_WIN_OUT(T, VT, lk_win_load_##SFX, d0, LK_WIN_STORE_FULL);   \
            else                                                               \
                LK_WIN_OUT(T, VT, lk_win_load_##SFX, d0, LK_WIN_STORE_PART);   \
        }                                                                      \
    }                                                                          \
}

/* The weights' transform U = G g G^T, G = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2;
   0 0 1]: w (3, 3, C, O) as U (16, C, DP), the output channels from O to DP
   left as they are (zero).  In double, rounded once to T; the loop over o
   is the compiler's to vectorise. */
#define LK_WIN_WEIGHTS(SFX, T)                                                 \
static void lk_win_weights_##SFX(const T* w, int C, int O, int DP, T* U)      \
{                                                                              \
    const ptrdiff_t tap = (ptrdiff_t)C * O, plane = (ptrdiff_t)C * DP;         \
    for (int c = 0; c < C; c++) {                                              \
        const T* g = w + (ptrdiff_t)c * O;                                     \
        T* u = U + (ptrdiff_t)c * DP;                                          \
        for (int o = 0; o < O; o++) {                                          \
            double e[4][3];                                                    \
            for (int b = 0; b < 3; b++) {                                      \
                const double g0 = g[(0 * 3 + b) * tap + o];                    \
                const double g1 = g[(1 * 3 + b) * tap + o];                    \
                const double g2 = g[(2 * 3 + b) * tap + o];                    \
                e[0][b] = g0;                                                  \
                e[1][b] = 0.5 * (g0 + g1 + g2);                                \
                e[2][b] = 0.5 * (g0 - g1 + g2);                                \
                e[3][b] = g2;                                                  \
            }                                                                  \
            for (int i = 0; i < 4; i++) {                                      \
                T* ui = u + (ptrdiff_t)(4 * i) * plane + o;                    \
                ui[0] = (T)e[i][0];                                            \
                ui[plane] = (T)(0.5 * (e[i][0] + e[i][1] + e[i][2]));          \
                ui[2 * plane] = (T)(0.5 * (e[i][0] - e[i][1] + e[i][2]));      \
                ui[3 * plane] = (T)e[i][2];                                    \
            }                                                                  \
        }                                                                      \
    }                                                                          \
}
LK_WIN_WEIGHTS(f, float)
LK_WIN_WEIGHTS(d, double)

#if LK_VEC
LK_WIN_DEFINE(f, float, lk_fv, LK_VW_F)
LK_WIN_DEFINE(d, double, lk_dv, LK_VW_D)
#else
LK_WIN_DEFINE(f, float, float, 1)
LK_WIN_DEFINE(d, double, double, 1)
#endif

#endif
