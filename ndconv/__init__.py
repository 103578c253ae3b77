"""ndconv: fast, exact N-dimensional convolution and correlation.

The unified API is :func:`convolve` and :func:`correlate`; the drop-in
namespaces ``ndconv.signal``, ``ndconv.ndimage`` and ``ndconv.numpy`` mirror
scipy and numpy.
"""
from ._api import convolve, correlate
from ._config import show_config
from . import signal, ndimage, numpy

__version__ = "0.1.0"

__all__ = ["convolve", "correlate", "show_config", "__version__", "signal", "ndimage", "numpy"]
