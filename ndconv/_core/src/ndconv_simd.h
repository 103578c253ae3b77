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

/* Prefetch (HINT: NDCONV_PREFETCH or NDCONV_PREFETCHW) every cache line
   that the n elements from p touch, once each (stepping a line at a time
   from p misses the last line of a span that starts inside one). */
#define NDCONV_PREFETCH_SPAN(HINT, p, n) do {                                  \
        const uintptr_t last_ = (uintptr_t)((p) + (n) - 1);                    \
        for (uintptr_t l_ = (uintptr_t)(p) & ~(uintptr_t)63; l_ <= last_; l_ += 64) \
            HINT((const void*)l_);                                             \
    } while (0)

/* For a sweep of strips, each reading W elements of a row from its column
   and E more (the window of a strip at p is p[0 .. W + E - 1], the next
   strip's starts W on): prefetch the lines of the window d elements on that
   the window d - W on does not touch, the W / 64 lines after the one holding
   p[d + E - 1].  With d = W, each strip prefetches in every row the lines the
   next strip reads and it does not, so every line of every window is
   fetched, once.  Prefetching the W elements from p + d instead fetches a
   line the strip before has, and never the line holding a window's end
   when its E elements run into one more line than its start's: the AVX2
   rolling rows, 2048^2 5x5 float32 (strips of 64 bytes) took 4.4-4.5 ms at
   the input alignments where that happens against 3.1-3.2 at the others,
   and 3.0-3.1 at all of them this way (the C harness, one thread). */
#define NDCONV_PREFETCH_STRIP(HINT, T, p, d, W, E) do {                         \
        const T* q_ = (p) + (d) + (E) - 1 + 64 / (ptrdiff_t)sizeof(T);          \
        for (ptrdiff_t e_ = 0; e_ < (ptrdiff_t)(W); e_ += 64 / (ptrdiff_t)sizeof(T)) \
            HINT(q_ + e_);                                                     \
    } while (0)

/* The rolling rows take their weights tap-major: wt[j kb + t] = w[t klast + j]
   for the kernel's kb x klast leading taps w, so that the kb weights a shifted
   vector meets are constant offsets of one pointer.  Read row-major, each of
   the kb rows needs a pointer of its own: gcc kept 5 of them for 5x5 in the
   AVX2 build, with two reloaded from the stack at every tap, beside the
   strip's 13 vector registers.  Tap-major, with the full rows' tap loop
   unswitched (ndv_roll_row_), the AVX2 blocks ran 4x4 to 6x6 at 88-95
   against 65-78 G multiply-adds/s in L1 and a 2048^2 float32 5x5 sweep in
   2.89 against 3.43 ms (benchmarks/c `--time`, Intel Xeon, one thread);
   through ndconv.correlate, 3.42-3.48 against 4.26-4.44 ms.  Same sums:
   each output's taps keep their order. */
#define NDCONV_ROLL_WEIGHTS(T, SUF)                                                          \
    static inline void ndconv_roll_weights_##SUF(const T* w, ptrdiff_t kb, ptrdiff_t klast,  \
                                                 T* wt) {                                    \
        for (ptrdiff_t t = 0; t < kb; t++)                                                   \
            for (ptrdiff_t j = 0; j < klast; j++) wt[j * kb + t] = w[t * klast + j];        \
    }
NDCONV_ROLL_WEIGHTS(float, f32)
NDCONV_ROLL_WEIGHTS(double, f64)
#undef NDCONV_ROLL_WEIGHTS

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
