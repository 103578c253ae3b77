/* Row-sharing blocks of the direct path, written once over the vector layer
   (ndconv_vec.h) and instantiated for float and double by including
   ndconv_rows_tmpl.h twice.

   Both compute several neighbouring output rows from the source rows they
   share: each shifted vector of a source row, p[j + v L ..], is loaded once
   and feeds one fused multiply-add per output row it reaches, instead of one.

   ndv_quad_*   four output rows x NDV_QUAD_NV vectors; the kernel's leading
                taps are n_groups groups of kb rows, and output row i, tap
                (g, t) reads source row src[g * (kb + 3) + t + i].
   ndv_roll_*   rolling rows: a column strip of NV vectors swept down h output
                rows of a kernel of KB rows (2..7).  The accumulators of the KB
                output rows a source row reaches stay in registers; when a
                source row is done the oldest output row is complete, is
                stored, and its registers start the next row.  Each shifted
                vector feeds KB multiply-adds and no output is loaded or stored
                twice.  The KB - 1 source rows before the strip's first output
                row (and after its last) also reach rows outside the strip,
                whose multiply-adds are skipped.

   Bitwise contract: output row i accumulates, from +0.0, w[t][j] * src[i + t]
   [c + j ..] over kernel rows t and then taps j in increasing order, with
   ndv_*_fma: the tap order and multiply-add chain of the one-row blocks, so
   every block gives the same sums.

   Register blocking (NV, vectors per row) is chosen per instruction set so
   that KB x NV accumulators + NV shifted vectors + 1 broadcast weight fit the
   register file without spilling: 16 registers (AVX2, x86-64 scalars) or 32
   (AVX-512, NEON), with at least 8 independent accumulators where possible to
   hide the multiply-add latency.  These blocks load every shifted vector
   unaligned: once a vector feeds KB multiply-adds, loads no longer set the
   pace (the AVX-512 build keeps its own blocks, which also shuffle aligned
   loads). */
#ifndef NDCONV_ROWS_H
#define NDCONV_ROWS_H

#include "ndconv_simd.h"
#include "ndconv_vec.h"

#define NDV_ROLL_MAX 7
#if NDV_ISA == 4
/* 32 registers of 4 floats: strips of 16-24 outputs (up to 6 vectors, more
   than the wider ISAs take), so that the shorter kernels still run 12-20
   accumulators for fmla's latency on cores with 2-4 vector pipes:
   2 x 6 + 6 + 1 = 19; 3 x 5 + 5 + 1 = 21; 4 x 5 + 5 + 1 = 26;
   5 x 4 + 4 + 1 = 25; 6 x 4 + 4 + 1 = 29; 7 x 3 + 3 + 1 = 25 */
#define NDV_ROLL_NV(kb) ((kb) == 2 ? 6 : (kb) <= 4 ? 5 : (kb) <= 6 ? 4 : 3)
#define NDV_ROLL_NVMAX 6
/* 4 x 4 + 4 + 1 = 21 (16 accumulators) */
#define NDV_QUAD_NV 4
#elif NDV_REGS >= 32
/* 32 registers: 5 x 4 + 4 + 1 = 25; 7 x 3 + 3 + 1 = 25 */
#define NDV_ROLL_NV(kb) ((kb) <= 5 ? 4 : 3)
#define NDV_ROLL_NVMAX 4
#define NDV_QUAD_NV 4
#else
/* 16 registers: 2 x 4 + 4 + 1 = 13; 3 x 3 + 3 + 1 = 13; 4, 5, 6 x 2 + 2 + 1
   <= 15; 7 x 1 + 1 + 1 = 9 (7 x 2 would need 17) */
#define NDV_ROLL_NV(kb) ((kb) == 2 ? 4 : (kb) == 3 ? 3 : (kb) <= 6 ? 2 : 1)
#define NDV_ROLL_NVMAX 4
/* 4 x 3 + 3 + 1 = 16: all of the registers, 12 accumulators, which gcc 12
   allocates without a spill.  Against 4 x 2 (8 accumulators, exactly the
   2 pipes x 4 cycles of multiply-add latency on Zen 3/4, so any stall
   shows): 82 against 73 GFLOP/s on 15x15, 72 against 61 on 7x7, 71
   against 49-58 on 5x5 and 6x6 (`make time` in benchmarks/c, float32, AMD
   EPYC, a loaded machine, both in one run). */
#define NDV_QUAD_NV 3
/* Kernels of 7 rows have strips of one vector: each loaded vector feeds 7
   multiply-adds but each of those needs its own weight broadcast, and 7
   accumulators barely cover the latency (7 x 2 vectors would need 17
   registers: gcc spills the broadcasts and an accumulator, and ran no faster).
   The four-row block runs them: 72 against 42 GFLOP/s on 7x7 float32 (`make
   time`, as above); in double it took 0.70-0.86x the rolling rows' time on
   1024^2 7x7 (one thread, process CPU time, medians of 15-21 interleaved runs
   in one process, a loaded machine).  At 6 rows (2 vectors per strip) the
   two blocks are within the noise. */
#define NDV_ROLL_TOP 6
#endif
#ifndef NDV_ROLL_TOP
#define NDV_ROLL_TOP NDV_ROLL_MAX
#endif

#define NDV_GLUE(a, b) a##b
#define NDV_XGLUE(a, b) NDV_GLUE(a, b)

#define NDV_T float
#define NDV_SUF f32
#define NDV_L NDV_F32_LANES
#include "ndconv_rows_tmpl.h"
#undef NDV_T
#undef NDV_SUF
#undef NDV_L

#define NDV_T double
#define NDV_SUF f64
#define NDV_L NDV_F64_LANES
#include "ndconv_rows_tmpl.h"
#undef NDV_T
#undef NDV_SUF
#undef NDV_L

/* Outputs per strip of the rolling rows for a kernel of kb rows (0: none);
   lanes is NDV_F32_LANES or NDV_F64_LANES.  Taller kernels, up to
   NDV_ROLL_MAX, have blocks too (the harness checks them), but where the
   register file holds too few of their accumulators (NDV_ROLL_TOP) the
   four-row block runs them. */
static inline ptrdiff_t ndv_roll_width(ptrdiff_t kb, ptrdiff_t lanes) {
    return (kb < 2 || kb > NDV_ROLL_TOP) ? 0 : NDV_ROLL_NV(kb) * lanes;
}

#endif
