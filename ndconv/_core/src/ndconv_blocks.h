/* The direct path's row-sharing blocks for the build that includes this file
   (declared to Cython in csrc.pxd):

     NDCONV_ROW_BLOCKS      1 where the four-row and rolling-row blocks run
     NDCONV_ROW_LANES_F32   lanes per vector (F64 likewise)
     NDCONV_QUAD_COLS_F32   columns per four-row block (F64 likewise)
     ndconv_roll_width      columns per rolling-row strip for a kernel of kb rows
     ndconv_roll_weights_*  the rolling rows' weights, tap-major (ndconv_simd.h)
     ndconv_blk4_*, ndconv_roll_*   the blocks

   The AVX-512 build keeps its own blocks (ndconv_blocks_avx512.h: shifted
   vectors half from aligned loads and shuffles, for its 512-bit loads that
   nearly all cross a cache line); the other builds get the blocks written
   once over the vector layer (ndconv_rows.h), which run in the AVX2 and NEON
   builds.
   The scalar instantiation is compiled in the baseline build but not used
   there: its one-row blocks, vectorised by the compiler, are faster than
   row-sharing on scalars. */
#ifndef NDCONV_BLOCKS_H
#define NDCONV_BLOCKS_H

/* Output rows per tile of the rolling rows, in every build, for kernels of
   2-3 rows and up to 5 columns when the output is larger than the caches hold
   (the caller's flag: tuning.Settings.uncached_bytes).  A tall tile sweeps each
   strip down ~130 source rows a row length apart: once those rows no longer
   stay in L2 between strips, every strip's first loads of a row wait on
   memory, in a pattern the hardware prefetchers do not follow.  Tiles of 6
   rows read their 8 source rows along their whole length, as 8 sequential
   streams, at the cost of 2 source rows of 8 read twice, which kernels this
   short afford (their multiply-adds per load are few either way).  On AMD
   Zen 4, one process, 1 and 2 threads: 2048^2 float32 3x3 0.50-0.60x the
   time of 32-row tiles (AVX2 build) and 0.59-0.88x of 128-row ones
   (AVX-512), float64 0.50-0.90x, 4096^2 0.63-0.85x; 4 and 8 rows about as
   fast; taller kernels gained little or lost (their strips are narrower
   and reuse each load more), and so did wider ones, whose multiply-adds,
   not memory, set the pace (3x9 to 3x31: 1.05-1.2x the time).  In-cache
   outputs (512^2 to 1024^2) run 1.1-1.3x slower with short tiles, hence
   the flag; from 1448^2 float32 (8 MB) on they gain (0.54-0.87x).  Where
   the caches end is the CPU's: on an Intel Xeon (2 MB of L2 per core) short
   tiles already gained from 512^2 (tuning's _uncached_default). */
#define NDCONV_STREAM_TILE_ROWS 6
static inline int ndconv_short_tiles(ptrdiff_t kb, ptrdiff_t klast, int uncached) {
    return uncached && kb <= 3 && klast <= 5;
}

#include "ndconv_blocks_avx512.h"

#if NDCONV_SHUFFLE_BLOCK
#define NDCONV_ROW_BLOCKS 1
#define NDCONV_ROW_LANES_F32 16
#define NDCONV_ROW_LANES_F64 8
#define NDCONV_QUAD_COLS_F32 64
#define NDCONV_QUAD_COLS_F64 32
#define NDCONV_ROW_ISA "avx512 (aligned loads + shuffles)"
/* Output rows per tile of the rolling rows (fewer when that leaves too few
   tiles to share between threads, or when threads that share the last-level
   cache would sweep more source rows than their part of L2 holds: see
   ``shared_bytes`` in ``_correlate_nd``): at one thread 128 rather than 64
   was faster on 2048^2 5x5, as each tile re-reads kb - 1 source rows and
   computes kb - 1 ramp rows.  Outputs larger than the caches hold take short
   tiles for the smallest kernels (ndconv_short_tiles). */
static inline ptrdiff_t ndconv_tile_rows(ptrdiff_t kb, ptrdiff_t klast, int uncached) {
    return ndconv_short_tiles(kb, klast, uncached) ? NDCONV_STREAM_TILE_ROWS : 128;
}
#else
#include "ndconv_rows.h"
#define NDCONV_ROW_BLOCKS (NDV_ISA >= 2)
#define NDCONV_ROW_LANES_F32 NDV_F32_LANES
#define NDCONV_ROW_LANES_F64 NDV_F64_LANES
#define NDCONV_QUAD_COLS_F32 (NDV_QUAD_NV * NDV_F32_LANES)
#define NDCONV_QUAD_COLS_F64 (NDV_QUAD_NV * NDV_F64_LANES)
#define NDCONV_ROW_ISA NDV_ISA_NAME
static inline ptrdiff_t ndconv_roll_width(ptrdiff_t kb, ptrdiff_t lanes) {
    return NDCONV_ROW_BLOCKS ? ndv_roll_width(kb, lanes) : 0;
}
/* Output rows per tile of the rolling rows, as in the AVX-512 build: 128.
   Tiles of 32 rows (which keep a 2048-wide float image's 36 source rows,
   300 KB, in L2) were this build's choice for kernels of up to 5 rows; timed
   again on a quiet AMD Zen 4 (one thread, one process), 128-row tiles took
   0.89-0.99x their time from 512^2 to 4096^2 (3x3 to 5x5).  Calls on several
   threads, whose tiles' rows would meet in the shared cache, shorten them
   (``shared_bytes`` in ``_correlate_nd``).  NEON's strips are as narrow as
   AVX2's, so it takes the same heights: chosen by that reasoning only, as no
   ARM machine was at hand to time them. */
static inline ptrdiff_t ndconv_tile_rows(ptrdiff_t kb, ptrdiff_t klast, int uncached) {
    return ndconv_short_tiles(kb, klast, uncached) ? NDCONV_STREAM_TILE_ROWS : 128;
}
#define ndconv_blk4_f32 ndv_quad_f32
#define ndconv_blk4_f64 ndv_quad_f64
#define ndconv_roll_f32 ndv_roll_f32
#define ndconv_roll_f64 ndv_roll_f64
#endif
/* after a work item's non-temporal stores (the rolling rows' nt) */
#define ndconv_stream_fence ndv_stream_fence

#endif
