/* The separable path's fused passes, written once over the vector layer
   (ndconv_vec.h) and instantiated for float and double by including
   ndconv_sep_tmpl.h twice.

   A 2-D separable kernel (kv rows x kh columns = outer(wv, wh)) runs as a
   horizontal 1-D pass of every source row followed by a vertical 1-D pass of
   the filtered rows.  Done as two sweeps, the intermediate image goes out to
   memory (or L3) and back.  Here one sweep does both: a work item is a tile
   of output rows by a chunk of columns; each source row it needs is filtered
   horizontally into a ring of kv + 1 rows, and as soon as the ring holds
   kv + 1 rows the next two output rows are their vertical sums.  The ring is sized (per ISA,
   NDV_SEP_RING_BYTES) to stay in L1, so the intermediate never leaves the
   core; a tile recomputes only the kv - 1 filtered rows it shares with the
   tile above.

   Bitwise contract: a filtered row element is, from +0.0, the chain of
   multiply-adds wh[j] * s[c + j] for j = 0 .. kh - 1 (ndv_*_fma), and an
   output the chain wv[t] * h[i + t][c] for t = 0 .. kv - 1: the tap order and
   chains of the direct path's one-row blocks applied to a 1 x kh and then a
   kv x 1 kernel, so every tile, chunk and block width gives the same bits
   (and the same as the two separate passes of the same build).

   Register blocking: NDV_SEP_NV vectors of outputs per block, each with its
   own accumulator (independent chains to hide the multiply-add latency),
   plus one loaded vector and one broadcast weight: 8 + 2 of AVX2's 16
   registers; AVX-512 and NEON have 32 and take more (NEON's vectors hold 4
   floats only, so it needs them most).  The vertical pass loads every
   input vector, half as often as it multiplies (two output rows share
   each load).  The horizontal pass loads every input vector unaligned in
   the AVX2 and NEON layers; nearly every such 512-bit load crosses a cache
   line and costs two load slots, so in the AVX-512 layer the odd taps shift
   lanes instead (ndv_sep_hsum_): on AMD Zen 4 that pass went from 31-35 to
   52 G multiply-adds/s on a row in L1, and a 2048^2 15x15 sweep of
   interior tiles from 5.6-6.4 to 5.2-5.5 ms (one thread, the two builds
   run in turn).  The same shifts with AVX2's two-step lane shift measured
   no steadier gain than the noise there. */
#ifndef NDCONV_SEP_H
#define NDCONV_SEP_H

#include <string.h>

#include "ndconv_simd.h"
#include "ndconv_vec.h"

#if NDV_ISA == 4
#define NDV_SEP_NV 12
/* Bytes of the ring of filtered rows: under the L1 data cache (32-64 KB on
   the aarch64 cores in use), leaving room for the source and output rows */
#define NDV_SEP_RING_BYTES (24 * 1024)
#elif NDV_ISA == 3
#define NDV_SEP_NV 12
/* 48 KB L1 on the Intel cores that have AVX-512 (32 KB on older ones) */
#define NDV_SEP_RING_BYTES (24 * 1024)
#else
/* 8 vectors beat 10 and 12 (fewer chains, but no remainder blocks in
   chunks of 256-320 columns) */
#define NDV_SEP_NV 8
/* 32 KB L1 on AMD Zen 2-4 and most Intel client cores */
#define NDV_SEP_RING_BYTES (20 * 1024)
#endif

/* Source rows are prefetched this many rows ahead: a chunk's rows lie in
   different pages, where the hardware prefetchers stop.  On the AMD EPYC
   (AVX2) where this was measured, 2048^2 15x15 went from 7.4 to 6.6-6.9 ms
   at one thread with 1-8 rows ahead (the harness's `make time`; a shared,
   loaded machine, so only the direction is reliable); the same image held
   in L2 takes 4.8 ms, the rest is memory. */
/* Vectors per row of the vertical pass's two-row blocks: 2 x NDV_SEP_NV2
   accumulators, as many as the one-row blocks have (plus a second broadcast
   weight: 11 of AVX2's registers), so a chunk (a multiple of NDV_SEP_NV
   vectors) is a whole number of blocks.  Pairing the rows halves the
   vertical pass's loads, which with one load per multiply-add set its pace:
   on the AMD EPYC (AVX2) where this was measured, the fused 2048^2 15x15
   lines of `make time` in benchmarks/c went from 6.9-8.9 to 6.5-7.1 ms
   (chunks of 256-320 columns, one thread; builds before and after run in
   turn under `chrt -f 10` on a shared, loaded machine: re-measure quiet). */
#define NDV_SEP_NV2 (NDV_SEP_NV / 2)

#ifndef NDV_SEP_PF
#define NDV_SEP_PF 4
#endif

#ifndef NDV_GLUE
#define NDV_GLUE(a, b) a##b
#define NDV_XGLUE(a, b) NDV_GLUE(a, b)
#endif

/* the template takes NDV_SEP_T and NDV_SEP_SUF and undefines them */
#define NDV_SEP_T float
#define NDV_SEP_SUF f32
#include "ndconv_sep_tmpl.h"
#define NDV_SEP_T double
#define NDV_SEP_SUF f64
#include "ndconv_sep_tmpl.h"

/* 1 in the builds whose vector layer has vectors (the fused passes then
   run); the scalar build keeps the two passes of its direct path, whose
   one-row blocks the compiler vectorises better than scalar blocks. */
#define NDCONV_SEP_FUSED (NDV_ISA >= 2)

/* Columns per chunk for a kernel of kv rows: the ring of kv + 1 filtered
   rows within NDV_SEP_RING_BYTES, at least one block wide; itemsize is the
   element's size in bytes. */
static inline ptrdiff_t ndconv_sep_chunk(ptrdiff_t kv, ptrdiff_t itemsize) {
    ptrdiff_t lanes = itemsize == 4 ? NDV_F32_LANES : NDV_F64_LANES;
    ptrdiff_t block = NDV_SEP_NV * lanes;
    ptrdiff_t cw = NDV_SEP_RING_BYTES / (kv > 0 ? kv + 1 : 1) / itemsize;
    cw -= cw % block;
    return cw < block ? block : cw;
}

#endif
