/* The vector layer: the few operations the row-sharing blocks need (load,
   aligned load, store, fused multiply-add, broadcast, lane shift), under one
   set of names, for the instruction set this file is compiled for:

     AVX-512 build  (__AVX512F__ and NDCONV_WIDE_BLOCKS): 16 float / 8 double lanes, 32 registers
     AVX2 build     (__AVX2__ and __FMA__):                8 float / 4 double lanes, 16 registers
     NEON build     (aarch64 and NDCONV_NEON):            4 float / 2 double lanes, 32 registers
     anything else:                                        scalars (1 lane)

   Thin inline wrappers over the intrinsics rather than GCC/Clang vector
   extensions, for three reasons.  The multiply-add must be explicit: the
   bitwise contract (every block computes each output with the same chain of
   fused multiply-adds) cannot depend on whether the compiler contracts a*b + c,
   which -ffp-contract and the compiler (gcc on aarch64, Apple clang) decide
   differently.  A shift of lanes across two registers has no portable
   vector-extension spelling (__builtin_shuffle in gcc, __builtin_shufflevector
   in clang) and needs a variable amount here.  And aligned and unaligned loads
   are distinct operations the blocks choose between on purpose.

   NEON's vectors are single 128-bit registers, not pairs: with 32 of them
   the blocks widen by taking more vectors per row (NDV_REGS sets the
   register blocking in ndconv_rows.h), which a pair type would only
   constrain to even counts.

   NDV_FUSED says whether ndv_*_fma rounds once (the FMA builds) or rounds the
   product and then the sum (the scalar layer of an unfused build, as that
   build's other blocks do). */
#ifndef NDCONV_VEC_H
#define NDCONV_VEC_H

#include <stddef.h>
#include <stdint.h>

#include "ndconv_simd.h"   /* NDCONV_WIDE_BLOCKS, NDCONV_NEON, the scalar multiply-add */

#if defined(__GNUC__) || defined(__clang__)
#define NDV_INLINE static inline __attribute__((always_inline))
#define NDV_NOINLINE static __attribute__((noinline))
#define NDV_PRAGMA(x) _Pragma(#x)
#define NDV_UNROLL(n) NDV_PRAGMA(GCC unroll n)
#else
#define NDV_INLINE static inline
#define NDV_NOINLINE static
#define NDV_UNROLL(n)
#endif

/* The wrappers of one element type S (f32, f64) over vector type V, the same
   set for every instruction set: ZERO is an expression, the others name an
   operation of the ISA (FMA(a, b, c) = a * b + c, rounded once where fused). */
#define NDV_DEFINE(S, T, V, ZERO, SET1, LOAD, LOADU, STOREU, FMA)                        \
    typedef V ndv_##S;                                                                   \
    NDV_INLINE ndv_##S ndv_##S##_zero(void) { return ZERO; }                              \
    NDV_INLINE ndv_##S ndv_##S##_set1(T a) { return SET1(a); }                            \
    NDV_INLINE ndv_##S ndv_##S##_load(const T* p) { return LOAD(p); }                     \
    NDV_INLINE ndv_##S ndv_##S##_loadu(const T* p) { return LOADU(p); }                   \
    NDV_INLINE void ndv_##S##_storeu(T* p, ndv_##S v) { STOREU(p, v); }                   \
    NDV_INLINE ndv_##S ndv_##S##_fma(ndv_##S a, ndv_##S b, ndv_##S c) { return FMA(a, b, c); }

/* The x86 wrappers: intrinsics named P_op_ps / P_op_pd (P = _mm256, _mm512). */
#define NDV_DEFINE_X86(P, VF, VD)                                                               \
    NDV_DEFINE(f32, float, VF, P##_setzero_ps(), P##_set1_ps, P##_load_ps, P##_loadu_ps,       \
               P##_storeu_ps, P##_fmadd_ps)                                                     \
    NDV_DEFINE(f64, double, VD, P##_setzero_pd(), P##_set1_pd, P##_load_pd, P##_loadu_pd,      \
               P##_storeu_pd, P##_fmadd_pd)

/* Per instruction set: NDV_ISA (1 scalar, 2 AVX2, 3 AVX-512, 4 NEON), the
   vector width in bits, the wrappers and the lane shift; the rest follows
   from those below. */
#if NDCONV_WIDE_BLOCKS && defined(__AVX512F__)
#include <immintrin.h>
#define NDV_ISA 3
#define NDV_BITS 512
NDV_DEFINE_X86(_mm512, __m512, __m512d)
/* lanes s .. s + 15 of the 32 lanes lo:hi (0 <= s < 16) */
NDV_INLINE ndv_f32 ndv_f32_shift(ndv_f32 lo, ndv_f32 hi, int s) {
    __m512i ix = _mm512_add_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                  _mm512_set1_epi32(s));
    return _mm512_permutex2var_ps(lo, ix, hi);
}
NDV_INLINE ndv_f64 ndv_f64_shift(ndv_f64 lo, ndv_f64 hi, int s) {
    __m512i ix = _mm512_add_epi64(_mm512_setr_epi64(0, 1, 2, 3, 4, 5, 6, 7), _mm512_set1_epi64(s));
    return _mm512_permutex2var_pd(lo, ix, hi);
}

/* lanes R .. R + L - 1 of the 2 L lanes lo:hi for a constant R (0 < R < L):
   valignd / valignq, one shuffle with an immediate.  On AMD Zen 4 the
   separable horizontal pass ran at 52 G multiply-adds/s with these for half
   its taps, 39 with vpermt2ps (the shift above, whose index is a register)
   and 31-35 with unaligned loads only.  A macro: the amount must be a
   constant expression for clang as well as gcc. */
#define ndv_f32_alignr(lo, hi, R)                                                                   \
    _mm512_castsi512_ps(_mm512_alignr_epi32(_mm512_castps_si512(hi), _mm512_castps_si512(lo), (R)))
#define ndv_f64_alignr(lo, hi, R)                                                                   \
    _mm512_castsi512_pd(_mm512_alignr_epi64(_mm512_castpd_si512(hi), _mm512_castpd_si512(lo), (R)))
/* lanes 0 .. m - 1 from p (0 <= m < L), the others zero: a masked load,
   which reads nothing past p[m - 1]; under ASan a lane-by-lane copy, which
   it checks */
#if NDCONV_ASAN
#define NDV_LOADN_CHECKED(S, T, L)                                                               \
    NDV_INLINE ndv_##S ndv_##S##_loadn(const T* p, int m) {                                      \
        T lanes[L] __attribute__((aligned(64)));                                                 \
        for (int e = 0; e < L; e++) lanes[e] = e < m ? p[e] : (T)0;                               \
        return ndv_##S##_load(lanes);                                                            \
    }
NDV_LOADN_CHECKED(f32, float, 16)
NDV_LOADN_CHECKED(f64, double, 8)
#else
NDV_INLINE ndv_f32 ndv_f32_loadn(const float* p, int m) {
    return _mm512_maskz_loadu_ps((__mmask16)((1u << m) - 1u), p);
}
NDV_INLINE ndv_f64 ndv_f64_loadn(const double* p, int m) {
    return _mm512_maskz_loadu_pd((__mmask8)((1u << m) - 1u), p);
}
#endif
/* the layer has ndv_*_alignr and ndv_*_loadn */
#define NDV_HAS_ALIGNR 1

#elif defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#define NDV_ISA 2
#define NDV_BITS 256
NDV_DEFINE_X86(_mm256, __m256, __m256d)
/* lanes s .. s + 7 of the 16 lanes lo:hi (0 <= s < 8): each source permuted
   by (i + s) mod 8, then the lanes past the end of lo taken from hi */
NDV_INLINE ndv_f32 ndv_f32_shift(ndv_f32 lo, ndv_f32 hi, int s) {
    __m256i ix = _mm256_add_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), _mm256_set1_epi32(s));
    __m256 from_hi = _mm256_castsi256_ps(_mm256_cmpgt_epi32(ix, _mm256_set1_epi32(7)));
    return _mm256_blendv_ps(_mm256_permutevar8x32_ps(lo, ix), _mm256_permutevar8x32_ps(hi, ix), from_hi);
}
/* as for float, on pairs of 32-bit lanes */
NDV_INLINE ndv_f64 ndv_f64_shift(ndv_f64 lo, ndv_f64 hi, int s) {
    __m256i ix = _mm256_add_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), _mm256_set1_epi32(2 * s));
    __m256 from_hi = _mm256_castsi256_ps(_mm256_cmpgt_epi32(ix, _mm256_set1_epi32(7)));
    __m256 r = _mm256_blendv_ps(_mm256_permutevar8x32_ps(_mm256_castpd_ps(lo), ix),
                                _mm256_permutevar8x32_ps(_mm256_castpd_ps(hi), ix), from_hi);
    return _mm256_castps_pd(r);
}

#elif NDCONV_NEON && defined(__aarch64__)
/* ASIMD is part of every aarch64 CPU's baseline, so the NEON build needs no
   -m flag; NDCONV_NEON (set by setup.py for that module only) keeps the
   baseline build, compiled from the same sources, on the unfused scalars. */
#include <arm_neon.h>
#define NDV_ISA 4
#define NDV_BITS 128
/* vfmaq_*(c, a, b) = c + a * b, rounded once (fmla); NEON loads have no
   alignment requirement, so load and loadu are the same ld1 */
#define NDV_NEON_FMA_F32(a, b, c) vfmaq_f32((c), (a), (b))
#define NDV_NEON_FMA_F64(a, b, c) vfmaq_f64((c), (a), (b))
NDV_DEFINE(f32, float, float32x4_t, vdupq_n_f32(0.0f), vdupq_n_f32, vld1q_f32, vld1q_f32, vst1q_f32,
           NDV_NEON_FMA_F32)
NDV_DEFINE(f64, double, float64x2_t, vdupq_n_f64(0.0), vdupq_n_f64, vld1q_f64, vld1q_f64, vst1q_f64,
           NDV_NEON_FMA_F64)
/* lanes s .. s + 3 of the 8 lanes lo:hi (0 <= s < 4): ext takes its amount
   as an immediate, hence one case per amount */
NDV_INLINE ndv_f32 ndv_f32_shift(ndv_f32 lo, ndv_f32 hi, int s) {
    switch (s) {
    case 1: return vextq_f32(lo, hi, 1);
    case 2: return vextq_f32(lo, hi, 2);
    case 3: return vextq_f32(lo, hi, 3);
    default: return lo;
    }
}
NDV_INLINE ndv_f64 ndv_f64_shift(ndv_f64 lo, ndv_f64 hi, int s) { return s ? vextq_f64(lo, hi, 1) : lo; }

#else
#define NDV_ISA 1
#define NDV_BITS 0   /* one element of either type */
#define NDV_SCALAR(a) (a)
#define NDV_SCALAR_LOAD(p) (*(p))
#define NDV_SCALAR_STORE(p, v) (*(p) = (v))
/* the build's scalar multiply-add (ndconv_simd.h): fused exactly where the
   build's other scalar code is */
NDV_DEFINE(f32, float, float, 0.0f, NDV_SCALAR, NDV_SCALAR_LOAD, NDV_SCALAR_LOAD, NDV_SCALAR_STORE,
           ndconv_fmaf)
NDV_DEFINE(f64, double, double, 0.0, NDV_SCALAR, NDV_SCALAR_LOAD, NDV_SCALAR_LOAD, NDV_SCALAR_STORE,
           ndconv_fmad)
NDV_INLINE ndv_f32 ndv_f32_shift(ndv_f32 lo, ndv_f32 hi, int s) { return s ? hi : lo; }
NDV_INLINE ndv_f64 ndv_f64_shift(ndv_f64 lo, ndv_f64 hi, int s) { return s ? hi : lo; }
#endif

/* Stores that bypass the caches (x86 movntps / movntpd: a cache line is
   written without being read first, and does not evict the input), for
   outputs larger than the caches; p aligned to the vector.
   ndv_stream_fence() orders them before anything stored after it, as a work
   item's last step.  The AVX-512 layer only: its rolling rows write 3-4
   lines per output row and strip, and ran 8-19 % faster with them on 2048^2
   float32 3x3 and 5x5 (AMD Zen 4, 1 and 2 threads); the AVX2 rolling rows,
   writing one or two lines at a time, ran 1.35-1.9x slower with _mm256_stream_*
   there.  Plain stores in the other layers and under ASan (which does not
   see non-temporal stores). */
#if NDV_ISA == 3 && !NDCONV_ASAN
NDV_INLINE void ndv_f32_stream(float* p, ndv_f32 v) { _mm512_stream_ps(p, v); }
NDV_INLINE void ndv_f64_stream(double* p, ndv_f64 v) { _mm512_stream_pd(p, v); }
NDV_INLINE void ndv_stream_fence(void) { _mm_sfence(); }
#else
NDV_INLINE void ndv_f32_stream(float* p, ndv_f32 v) { ndv_f32_storeu(p, v); }
NDV_INLINE void ndv_f64_stream(double* p, ndv_f64 v) { ndv_f64_storeu(p, v); }
NDV_INLINE void ndv_stream_fence(void) {}
#endif
/* NV vectors (L lanes) from q with STREAM (a layer's _stream) when NT is
   set and q starts a cache line (so lines are written whole), else with
   STOREU (its _storeu). */
#define NDV_STORE_ROW(STREAM, STOREU, L, NV, Q, ACC, NT)                                        \
    if ((NT) && ((uintptr_t)(Q) & 63) == 0) {                                                   \
        NDV_UNROLL(8) for (int v_ = 0; v_ < (NV); v_++) STREAM((Q) + v_ * (L), (ACC)[v_]);      \
    } else {                                                                                    \
        NDV_UNROLL(8) for (int v_ = 0; v_ < (NV); v_++) STOREU((Q) + v_ * (L), (ACC)[v_]);      \
    }

#ifndef NDV_HAS_ALIGNR
#define NDV_HAS_ALIGNR 0
#endif

#define NDV_ISA_NAME (NDV_ISA == 3 ? "avx512" : NDV_ISA == 2 ? "avx2+fma" : NDV_ISA == 4 ? "neon" : "scalar")
#define NDV_F32_LANES (NDV_ISA == 1 ? 1 : NDV_BITS / 32)
#define NDV_F64_LANES (NDV_ISA == 1 ? 1 : NDV_BITS / 64)
/* vector registers: 16 in AVX2 (and x86-64's scalar SSE), 32 in AVX-512 and NEON */
#define NDV_REGS (NDV_ISA == 3 || NDV_ISA == 4 ? 32 : 16)
/* the vector builds fuse; the scalar layer is as the build's scalar code */
#define NDV_FUSED (NDV_ISA == 1 ? NDCONV_FUSED : 1)

#endif
