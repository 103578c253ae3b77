"""ndconv: fast, exact N-dimensional convolution and correlation.

The unified API is :func:`convolve` and :func:`correlate`; the drop-in
namespaces ``ndconv.signal``, ``ndconv.ndimage`` and ``ndconv.numpy`` mirror
scipy and numpy.
"""
from typing import TYPE_CHECKING

from . import ndimage, numpy, signal
from ._api import convolve, correlate
from ._config import show_config
from ._layer import conv, conv_grad
from ._version import __version__

__all__ = ["convolve", "correlate", "show_config", "conv", "conv_grad", "__version__", "signal", "ndimage",
           "numpy"]

# Verification, template matching and the shipped data are imported on first
# access (PEP 562): they pull in modules (dataclasses, statistics, wave, ...)
# that a plain convolution never needs, and ``import ndconv`` should cost
# little more than ``import numpy``.
_LAZY = {"check_commutativity": "._tools.verify", "compare_with_scipy": "._tools.verify",
         "match_template": "._tools.match", "datasets": ".datasets", "kernels": ".kernels",
         "separate": ".kernels", "Stream": ".stream"}

__all__ += list(_LAZY)

if TYPE_CHECKING:   # what type checkers see of the lazy names
    from . import datasets as datasets
    from . import kernels as kernels
    from ._tools.match import match_template as match_template
    from ._tools.verify import check_commutativity as check_commutativity
    from ._tools.verify import compare_with_scipy as compare_with_scipy
    from .kernels import separate as separate
    from .stream import Stream as Stream


def __getattr__(name):
    if name not in _LAZY:
        raise AttributeError(f"module 'ndconv' has no attribute {name!r}")
    import importlib

    module = importlib.import_module(_LAZY[name], __name__)
    value = module if module.__name__ == f"{__name__}.{name}" else getattr(module, name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
