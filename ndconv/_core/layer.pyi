# Type stub of the compiled module ndconv._core.layer (the convolution layer's core).
# tests/test_packaging.py checks that the names here are the module's.
from typing import Any

from numpy.typing import NDArray

LEVELS: tuple[str, ...]

def set_level(name: str) -> str: ...
def level() -> str: ...
def vector_width(itemsize: int) -> int: ...

# forward and weight_grad are fused over float32 and float64: every real array of one
# call has the same dtype; the index tables are intp.
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
