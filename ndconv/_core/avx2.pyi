# Type stub of the compiled module ndconv._core.avx2: the kernels of baseline.pyi, built with
# other instruction sets (the same kernels.pxi).
from .baseline import FlatCall as FlatCall
from .baseline import LayerTaps as LayerTaps
from .baseline import RowMode as RowMode
from .baseline import Tables as Tables
from .baseline import build_info as build_info
from .baseline import correlate_merged as correlate_merged
from .baseline import correlate_nd as correlate_nd
from .baseline import correlate_sep2d as correlate_sep2d
from .baseline import forward as forward
from .baseline import region_times as region_times
from .baseline import row_mode as row_mode
from .baseline import sep_chunk as sep_chunk
from .baseline import use_row_sharing as use_row_sharing
from .baseline import vector_width as vector_width
from .baseline import weight_grad as weight_grad
from .baseline import widest_block as widest_block
from .baseline import winograd_forward as winograd_forward
from .baseline import winograd_weights as winograd_weights
