# Type stub of the compiled module ndconv._core.baseline (baseline.pyx + kernels.pxi + layer.pxi).
# The kernel entry points are also those of ndconv._core.avx2 and ndconv._core.avx512.
# tests/test_packaging.py checks that the names here are the module's.
from enum import IntEnum
from typing import Any

from numpy.typing import NDArray

# The kernels are fused over float32, float64, complex64, complex128 and int64: every
# array of one call has the same dtype, and ``cval`` is a scalar of it.
def correlate_nd(
    x: NDArray[Any],
    out: NDArray[Any],
    w: NDArray[Any],
    out_shape: NDArray[Any],
    k_shape: NDArray[Any],
    axis_params: NDArray[Any],
    bands: NDArray[Any],
    bounds: NDArray[Any],
    max_chunk: int,
    c0: int,
    c1: int,
    unit: bool,
    cval: complex,
    skip_cval: bool,
    n_threads: int,
) -> None: ...
def correlate_merged(
    x: NDArray[Any],
    out: NDArray[Any],
    w: NDArray[Any],
    out_shape: NDArray[Any],
    k_shape: NDArray[Any],
    axis_params: NDArray[Any],
    bands: NDArray[Any],
    g0: int,
    tile_rows: int,
    cval: complex,
    n_threads: int,
) -> None: ...
class RowMode(IntEnum):
    ROWS_ONE = 0
    ROWS_FOUR = 1
    ROWS_ROLLING = 2

def row_mode(kind: str, n_lead: int, kb: int, m_last: int) -> RowMode: ...
def use_row_sharing(on: bool) -> bool: ...
def build_info() -> dict[str, str]: ...

# The convolution layer (layer.pxi). forward and weight_grad are fused over float32 and
# float64: every real array of one call has the same dtype; the index tables are intp.
def vector_width(itemsize: int) -> int: ...
def forward(
    x: NDArray[Any],
    batch: int,
    img_size: int,
    rowtab: NDArray[Any],
    coltab: NDArray[Any],
    colgeom: NDArray[Any],
    wo: int,
    cval_pixel: NDArray[Any],
    wpack: NDArray[Any],
    bpack: NDArray[Any],
    groups: int,
    cg: int,
    dg: int,
    dp: int,
    out: NDArray[Any],
    seg: int,
    n_threads: int,
    depthwise: bool = False,
) -> None: ...
def weight_grad(
    x: NDArray[Any],
    batch: int,
    img_size: int,
    rowtab: NDArray[Any],
    coltab: NDArray[Any],
    colgeom: NDArray[Any],
    wo: int,
    cval_pixel: NDArray[Any],
    gout: NDArray[Any],
    groups: int,
    cg: int,
    dg: int,
    dp: int,
    part: NDArray[Any],
    seg: int,
    n_threads: int,
    depthwise: bool = False,
) -> None: ...
def widest_block(kind: str) -> int: ...

# Only in the baseline build: OpenMP and CPU-feature queries.
def openmp_enabled() -> bool: ...
def omp_max_threads() -> int: ...
def omp_num_procs() -> int: ...
def cpu_has_avx2_fma() -> bool: ...
def cpu_has_avx512() -> bool: ...
