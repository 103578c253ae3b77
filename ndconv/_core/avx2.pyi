# Type stub of the compiled module ndconv._core.avx2: the kernels of baseline.pyi, built with
# other instruction sets (the same kernels.pxi).
from .baseline import correlate_merged as correlate_merged
from .baseline import correlate_nd as correlate_nd
from .baseline import row_mode as row_mode
from .baseline import widest_block as widest_block
