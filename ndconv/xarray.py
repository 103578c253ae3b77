"""ndconv on xarray DataArrays: convolve over named dimensions.

``ndconv.xarray.convolve(da, k, "same", dims=("y", "x"))`` convolves the
DataArray's data (numpy- or dask-backed; dask stays lazy, through
``ndconv.dask``) over the named dimensions, kernel axis ``i`` along
``dims[i]``.  Coordinates and attrs follow the output mode.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from . import _api

if TYPE_CHECKING:
    from collections.abc import Hashable, Sequence

    from ._plan.validation import Boundary, Method, Mode

__all__ = ["convolve", "correlate"]


def _apply(op, obj, k, mode, dims, boundary, cval, origin, method, workers):
    import xarray as xr

    if not isinstance(obj, xr.DataArray):
        raise TypeError("obj must be an xarray.DataArray, got %s" % type(obj).__name__)
    if dims is None:
        dims = obj.dims
    elif isinstance(dims, str) or not hasattr(dims, "__iter__"):
        dims = (dims,)
    dims = tuple(dims)
    missing = [d for d in dims if d not in obj.dims]
    if missing:
        raise ValueError("dims %r are not dimensions of obj (its dimensions: %r)"
                         % (missing, obj.dims))
    if isinstance(k, xr.DataArray):
        if set(k.dims) != set(dims):
            raise ValueError("k's dimensions %r must be dims %r" % (k.dims, dims))
        k = k.transpose(*dims).data
    axes = tuple(obj.get_axis_num(d) for d in dims)
    data = getattr(_api, op)(obj.data, k, mode, boundary=boundary, cval=cval, origin=origin,
                             axes=axes, method=method, workers=workers)
    kshape = np.shape(k)
    if mode == "same":
        coords = obj.coords
    elif mode == "valid" and all(data.shape[a] <= obj.shape[a] for a in axes):
        # output i of "valid" is output i + K//2 of "same" (origin 0): the
        # coordinates of the samples it is centred on
        index = {d: slice(kk // 2, kk // 2 + data.shape[a])
                 for d, a, kk in zip(dims, axes, kshape)}
        coords = obj.isel(index).coords
    else:
        # "full" (and "valid" with the kernel larger than obj) has samples no
        # coordinate labels: drop those along the convolved dimensions
        coords = {name: c for name, c in obj.coords.items() if not set(c.dims) & set(dims)}
    return xr.DataArray(data, coords=coords, dims=obj.dims, name=obj.name, attrs=dict(obj.attrs))


_DOC = """%s of a DataArray with ``k`` over the dimensions ``dims``.

    Parameters
    ----------
    obj : xarray.DataArray
        numpy- or dask-backed (the result is then lazy, as ``ndconv.dask``).
    k : array_like or xarray.DataArray
        Kernel with one axis per entry of ``dims`` (kernel axis ``i`` along
        ``dims[i]``); a DataArray kernel is matched to ``dims`` by name.
    mode : {"full", "same", "valid"}, optional
        As in ``ndconv.%s``.
    dims : hashable or sequence of hashable, optional
        Dimensions to convolve over, by name.  Default: all of ``obj``'s.
    boundary, cval, origin, method, workers
        As in ``ndconv.%s``.

    Returns
    -------
    xarray.DataArray
        Same dimensions, name and attrs.  Coordinates: all kept for
        ``"same"``; for ``"valid"`` trimmed along ``dims`` to the samples the
        outputs are centred on (``"same"``'s, without the ``K//2`` and
        ``(K-1)//2`` edge samples); for ``"full"`` those along ``dims`` are
        dropped (the others kept).
"""


def correlate(obj: Any, k: Any, mode: Mode = "full", *,
              dims: Hashable | Sequence[Hashable] | None = None, boundary: Boundary = "constant",
              cval: complex | np.number[Any] = 0.0, origin: int | Sequence[int] = 0,
              method: Method = "auto", workers: int | None = None) -> Any:
    return _apply("correlate", obj, k, mode, dims, boundary, cval, origin, method, workers)


def convolve(obj: Any, k: Any, mode: Mode = "full", *,
             dims: Hashable | Sequence[Hashable] | None = None, boundary: Boundary = "constant",
             cval: complex | np.number[Any] = 0.0, origin: int | Sequence[int] = 0,
             method: Method = "auto", workers: int | None = None) -> Any:
    return _apply("convolve", obj, k, mode, dims, boundary, cval, origin, method, workers)


correlate.__doc__ = _DOC % ("Cross-correlation", "correlate", "correlate")
convolve.__doc__ = _DOC % ("Convolution", "convolve", "convolve")
