# Type stub of the compiled module ndconv._core.baseline (baseline.pyx + kernels.pxi + layer.pxi).
# The kernel entry points are also those of ndconv._core.avx2 and ndconv._core.avx512.
# tests/test_packaging.py checks that the names here are the module's.
from enum import IntEnum
from typing import Any

from numpy.typing import NDArray

# The kernels are fused over float32, float64, complex64, complex128 and int64: every
# array of one call has the same dtype, and ``cval`` is a scalar of it.
class Tables:
    max_chunk: int
    c0: int
    c1: int
    tile_rows: int
    window_rows: int
    shared_bytes: int
    alone_bytes: int
    unit: bool
    uncached: bool
    stream: bool
    def __init__(
        self,
        out_shape: NDArray[Any],
        k_shape: NDArray[Any],
        axis_params: NDArray[Any],
        bands: NDArray[Any],
        bounds: NDArray[Any],
        max_chunk: int,
        c0: int,
        c1: int,
        unit: bool,
        tile_rows: int = 0,
        uncached: bool = False,
        stream: bool = False,
        shared_bytes: int = 0,
        alone_bytes: int = 0,
        window_rows: int = 0,
    ) -> None: ...

class FlatCall:
    def __init__(
        self,
        t: Tables,
        span: int,
        kind: str,
        cval: complex,
        skip_cval: bool,
        k_order: tuple[int, ...],
        flip: bool,
        conj: bool,
        shape: tuple[int, ...],
        dtype: Any,
        empty: Any,
    ) -> None: ...
    def run(self, x: NDArray[Any], k: NDArray[Any]) -> NDArray[Any]: ...

def correlate_nd(
    t: Tables, x: NDArray[Any], out: NDArray[Any], w: NDArray[Any], cval: complex, skip_cval: bool,
    n_threads: int,
) -> None: ...
def correlate_merged(
    t: Tables, x: NDArray[Any], out: NDArray[Any], w: NDArray[Any], g0: int, tile_rows: int,
    cval: complex, n_threads: int,
) -> None: ...
def sep_chunk(kv: int, itemsize: int) -> int: ...
def correlate_sep2d(
    x: NDArray[Any], out: NDArray[Any], wv: NDArray[Any], wh: NDArray[Any], vrow: NDArray[Any],
    hcol: NDArray[Any], lin_lo: int, lin_hi: int, cval: float, tile_rows: int, chunk: int,
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
class LayerTaps:
    x: NDArray[Any]
    cval_pixel: NDArray[Any]
    batch: int
    img_size: int
    wo: int
    seg: int
    groups: int
    cg: int
    dg: int
    dp: int
    depthwise: bool
    def __init__(
        self,
        x: NDArray[Any],
        batch: int,
        img_size: int,
        rowtab: NDArray[Any],
        coltab: NDArray[Any],
        colgeom: NDArray[Any],
        wo: int,
        cval_pixel: NDArray[Any],
        groups: int,
        cg: int,
        dg: int,
        dp: int,
        seg: int,
        depthwise: bool = False,
    ) -> None: ...

def forward(
    taps: LayerTaps, wpack: NDArray[Any], bpack: NDArray[Any], out: NDArray[Any], n_threads: int
) -> None: ...
def weight_grad(taps: LayerTaps, gout: NDArray[Any], part: NDArray[Any], n_threads: int) -> None: ...
def winograd_weights(w: NDArray[Any], upack: NDArray[Any]) -> None: ...
def winograd_forward(
    taps: LayerTaps, upack: NDArray[Any], bpack: NDArray[Any], zeros: NDArray[Any],
    out: NDArray[Any], n_threads: int,
) -> None: ...
def widest_block(kind: str) -> int: ...
def region_times() -> tuple[float, float]: ...

# Only in the baseline build: OpenMP and CPU-feature queries.
def openmp_enabled() -> bool: ...
def omp_max_threads() -> int: ...
def call_key(
    x: Any, k: Any, mode: Any, boundary: Any, cval: Any, origin: Any, axes: Any, method: Any,
    workers: Any, out: Any, flip: bool, conj: bool, compute_dtype: Any, unfused: bool,
    module: Any, generation: int,
) -> tuple[Any, ...] | None: ...
def omp_num_procs() -> int: ...
def cpu_has_avx2_fma() -> bool: ...
def cpu_has_avx512() -> bool: ...
