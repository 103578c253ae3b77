/* Compiler and instruction-set helpers shared by every block: prefetch
   hints, the scalar fused multiply-add, and the width of the register
   blocks.  Each build of the core compiles this with its own flags. */
#ifndef NDCONV_SIMD_H
#define NDCONV_SIMD_H

#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__) || defined(__clang__)
#define NDCONV_PREFETCH(p) __builtin_prefetch((const void*)(p), 0, 3)
#define NDCONV_PREFETCHW(p) __builtin_prefetch((const void*)(p), 1, 3)
#else
#define NDCONV_PREFETCH(p) ((void)0)
#define NDCONV_PREFETCHW(p) ((void)0)
#endif

/* 1 when built with AddressSanitizer (gcc: __SANITIZE_ADDRESS__; clang:
   the feature): the blocks then read and write only what ASan can check. */
#if defined(__SANITIZE_ADDRESS__)
#define NDCONV_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define NDCONV_ASAN 1
#endif
#endif
#ifndef NDCONV_ASAN
#define NDCONV_ASAN 0
#endif

/* 1 in the NEON build (set by setup.py): aarch64's baseline build, compiled
   from the same sources, has the FMA instructions too but must not use them. */
#ifndef NDCONV_NEON
#define NDCONV_NEON 0
#endif

/* The multiply-add of the one-row blocks (kernels.pxi's _madd, _cmac),
   fused where the row-sharing blocks are (the FMA builds), so that an
   output is the same sum whichever code computes it.  Explicit, because
   contraction of a*b + c is the compiler's choice: gcc vectorised the
   8-wide loop with each product rounded before the add (1 ulp off), and
   contracts nothing at -O0/-O1.  NDCONV_FUSED says which of the two this
   build's scalar multiply-add is. */
#if defined(__FMA__) || (NDCONV_NEON && defined(__ARM_FEATURE_FMA))
#define NDCONV_FUSED 1
#define ndconv_fmaf(a, b, c) __builtin_fmaf((a), (b), (c))
#define ndconv_fmad(a, b, c) __builtin_fma((a), (b), (c))
#else
#define NDCONV_FUSED 0
#define ndconv_fmaf(a, b, c) ((a) * (b) + (c))
#define ndconv_fmad(a, b, c) ((a) * (b) + (c))
#endif

/* 1 in the AVX-512 build (set by setup.py): 512-bit registers hold twice the
   outputs, so the register blocks double to stay at 8 accumulators. */
#ifndef NDCONV_WIDE_BLOCKS
#define NDCONV_WIDE_BLOCKS 0
#endif

#endif
