/* The vector layer: the few operations the row-sharing blocks need (load,
   aligned load, store, fused multiply-add, broadcast, lane shift), under one
   set of names, for the instruction set this file is compiled for:

     AVX-512 build  (__AVX512F__ and NDCONV_WIDE_BLOCKS): 16 float / 8 double lanes
     AVX2 build     (__AVX2__ and __FMA__):                8 float / 4 double lanes
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

   NDV_FUSED says whether ndv_*_fma rounds once (the FMA builds) or rounds the
   product and then the sum (the scalar layer without FMA hardware, as the
   baseline build's other blocks do). */
#ifndef NDCONV_VEC_H
#define NDCONV_VEC_H

#include <stddef.h>
#include <stdint.h>

#ifndef NDCONV_WIDE_BLOCKS
#define NDCONV_WIDE_BLOCKS 0
#endif

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

#if NDCONV_WIDE_BLOCKS && defined(__AVX512F__)
#include <immintrin.h>
#define NDV_ISA 3
#define NDV_ISA_NAME "avx512"
#define NDV_FUSED 1
typedef __m512 ndv_f32;
typedef __m512d ndv_f64;
#define NDV_F32_LANES 16
#define NDV_F64_LANES 8
NDV_INLINE ndv_f32 ndv_f32_zero(void) { return _mm512_setzero_ps(); }
NDV_INLINE ndv_f32 ndv_f32_set1(float a) { return _mm512_set1_ps(a); }
NDV_INLINE ndv_f32 ndv_f32_load(const float* p) { return _mm512_load_ps(p); }
NDV_INLINE ndv_f32 ndv_f32_loadu(const float* p) { return _mm512_loadu_ps(p); }
NDV_INLINE void ndv_f32_storeu(float* p, ndv_f32 v) { _mm512_storeu_ps(p, v); }
NDV_INLINE ndv_f32 ndv_f32_fma(ndv_f32 a, ndv_f32 b, ndv_f32 c) { return _mm512_fmadd_ps(a, b, c); }
/* lanes s .. s + 15 of the 32 lanes lo:hi (0 <= s < 16) */
NDV_INLINE ndv_f32 ndv_f32_shift(ndv_f32 lo, ndv_f32 hi, int s) {
    __m512i ix = _mm512_add_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                  _mm512_set1_epi32(s));
    return _mm512_permutex2var_ps(lo, ix, hi);
}
NDV_INLINE ndv_f64 ndv_f64_zero(void) { return _mm512_setzero_pd(); }
NDV_INLINE ndv_f64 ndv_f64_set1(double a) { return _mm512_set1_pd(a); }
NDV_INLINE ndv_f64 ndv_f64_load(const double* p) { return _mm512_load_pd(p); }
NDV_INLINE ndv_f64 ndv_f64_loadu(const double* p) { return _mm512_loadu_pd(p); }
NDV_INLINE void ndv_f64_storeu(double* p, ndv_f64 v) { _mm512_storeu_pd(p, v); }
NDV_INLINE ndv_f64 ndv_f64_fma(ndv_f64 a, ndv_f64 b, ndv_f64 c) { return _mm512_fmadd_pd(a, b, c); }
NDV_INLINE ndv_f64 ndv_f64_shift(ndv_f64 lo, ndv_f64 hi, int s) {
    __m512i ix = _mm512_add_epi64(_mm512_setr_epi64(0, 1, 2, 3, 4, 5, 6, 7), _mm512_set1_epi64(s));
    return _mm512_permutex2var_pd(lo, ix, hi);
}

#elif defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#define NDV_ISA 2
#define NDV_ISA_NAME "avx2+fma"
#define NDV_FUSED 1
typedef __m256 ndv_f32;
typedef __m256d ndv_f64;
#define NDV_F32_LANES 8
#define NDV_F64_LANES 4
NDV_INLINE ndv_f32 ndv_f32_zero(void) { return _mm256_setzero_ps(); }
NDV_INLINE ndv_f32 ndv_f32_set1(float a) { return _mm256_set1_ps(a); }
NDV_INLINE ndv_f32 ndv_f32_load(const float* p) { return _mm256_load_ps(p); }
NDV_INLINE ndv_f32 ndv_f32_loadu(const float* p) { return _mm256_loadu_ps(p); }
NDV_INLINE void ndv_f32_storeu(float* p, ndv_f32 v) { _mm256_storeu_ps(p, v); }
NDV_INLINE ndv_f32 ndv_f32_fma(ndv_f32 a, ndv_f32 b, ndv_f32 c) { return _mm256_fmadd_ps(a, b, c); }
/* lanes s .. s + 7 of the 16 lanes lo:hi (0 <= s < 8): each source permuted
   by (i + s) mod 8, then the lanes past the end of lo taken from hi */
NDV_INLINE ndv_f32 ndv_f32_shift(ndv_f32 lo, ndv_f32 hi, int s) {
    __m256i ix = _mm256_add_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), _mm256_set1_epi32(s));
    __m256 from_hi = _mm256_castsi256_ps(_mm256_cmpgt_epi32(ix, _mm256_set1_epi32(7)));
    return _mm256_blendv_ps(_mm256_permutevar8x32_ps(lo, ix), _mm256_permutevar8x32_ps(hi, ix), from_hi);
}
NDV_INLINE ndv_f64 ndv_f64_zero(void) { return _mm256_setzero_pd(); }
NDV_INLINE ndv_f64 ndv_f64_set1(double a) { return _mm256_set1_pd(a); }
NDV_INLINE ndv_f64 ndv_f64_load(const double* p) { return _mm256_load_pd(p); }
NDV_INLINE ndv_f64 ndv_f64_loadu(const double* p) { return _mm256_loadu_pd(p); }
NDV_INLINE void ndv_f64_storeu(double* p, ndv_f64 v) { _mm256_storeu_pd(p, v); }
NDV_INLINE ndv_f64 ndv_f64_fma(ndv_f64 a, ndv_f64 b, ndv_f64 c) { return _mm256_fmadd_pd(a, b, c); }
/* as for float, on pairs of 32-bit lanes */
NDV_INLINE ndv_f64 ndv_f64_shift(ndv_f64 lo, ndv_f64 hi, int s) {
    __m256i ix = _mm256_add_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), _mm256_set1_epi32(2 * s));
    __m256 from_hi = _mm256_castsi256_ps(_mm256_cmpgt_epi32(ix, _mm256_set1_epi32(7)));
    __m256 r = _mm256_blendv_ps(_mm256_permutevar8x32_ps(_mm256_castpd_ps(lo), ix),
                                _mm256_permutevar8x32_ps(_mm256_castpd_ps(hi), ix), from_hi);
    return _mm256_castps_pd(r);
}

#else
#define NDV_ISA 1
#define NDV_ISA_NAME "scalar"
typedef float ndv_f32;
typedef double ndv_f64;
#define NDV_F32_LANES 1
#define NDV_F64_LANES 1
#if defined(__FMA__) || defined(__ARM_FEATURE_FMA)
#define NDV_FUSED 1
#define NDV_FMAF(a, b, c) __builtin_fmaf((a), (b), (c))
#define NDV_FMAD(a, b, c) __builtin_fma((a), (b), (c))
#else
/* No FMA hardware (x86-64's baseline): the product is rounded, then the sum,
   as in the baseline build's other blocks (built without contraction). */
#define NDV_FUSED 0
#define NDV_FMAF(a, b, c) ((a) * (b) + (c))
#define NDV_FMAD(a, b, c) ((a) * (b) + (c))
#endif
NDV_INLINE ndv_f32 ndv_f32_zero(void) { return 0.0f; }
NDV_INLINE ndv_f32 ndv_f32_set1(float a) { return a; }
NDV_INLINE ndv_f32 ndv_f32_load(const float* p) { return *p; }
NDV_INLINE ndv_f32 ndv_f32_loadu(const float* p) { return *p; }
NDV_INLINE void ndv_f32_storeu(float* p, ndv_f32 v) { *p = v; }
NDV_INLINE ndv_f32 ndv_f32_fma(ndv_f32 a, ndv_f32 b, ndv_f32 c) { return NDV_FMAF(a, b, c); }
NDV_INLINE ndv_f32 ndv_f32_shift(ndv_f32 lo, ndv_f32 hi, int s) { return s ? hi : lo; }
NDV_INLINE ndv_f64 ndv_f64_zero(void) { return 0.0; }
NDV_INLINE ndv_f64 ndv_f64_set1(double a) { return a; }
NDV_INLINE ndv_f64 ndv_f64_load(const double* p) { return *p; }
NDV_INLINE ndv_f64 ndv_f64_loadu(const double* p) { return *p; }
NDV_INLINE void ndv_f64_storeu(double* p, ndv_f64 v) { *p = v; }
NDV_INLINE ndv_f64 ndv_f64_fma(ndv_f64 a, ndv_f64 b, ndv_f64 c) { return NDV_FMAD(a, b, c); }
NDV_INLINE ndv_f64 ndv_f64_shift(ndv_f64 lo, ndv_f64 hi, int s) { return s ? hi : lo; }
#endif

#endif
