"""ndconv: fast, exact N-dimensional convolution and correlation.

The unified API is :func:`convolve` and :func:`correlate`; the drop-in
namespaces ``ndconv.signal``, ``ndconv.ndimage`` and ``ndconv.numpy`` mirror
scipy and numpy.
"""
from . import ndimage, numpy, signal
from ._api import convolve, correlate
from ._config import show_config
from ._layer import conv, conv_grad
from ._version import __version__

__all__ = ["convolve", "correlate", "show_config", "conv", "conv_grad", "__version__", "signal", "ndimage",
           "numpy"]

# verification, template matching and the shipped data
from . import datasets
from ._tools.match import match_template
from ._tools.verify import check_commutativity, compare_with_scipy

__all__ += ["check_commutativity", "compare_with_scipy", "match_template", "datasets"]
