"""ndconv.xarray: DataArrays convolved over named dimensions, numpy- or dask-backed."""
import numpy as np
import pytest

import ndconv

xr = pytest.importorskip("xarray")
nxr = pytest.importorskip("ndconv.xarray")


def _cube(rng, chunks=None):
    data = rng.standard_normal((12, 20, 3))
    obj = xr.DataArray(
        data, dims=("y", "x", "band"), name="radiance", attrs={"units": "W m-2"},
        coords={"y": np.arange(12) * 10.0, "x": np.linspace(0, 1, 20), "band": ["r", "g", "b"],
                "lat": (("y", "x"), rng.standard_normal((12, 20))), "time": 5})
    return obj.chunk(chunks) if chunks else obj


@pytest.mark.parametrize("chunks", [None, {"y": 5, "x": 7}])
@pytest.mark.parametrize("mode", ["full", "same", "valid"])
def test_values_coords_and_attrs(rng, chunks, mode):
    obj = _cube(rng, chunks)
    k = rng.standard_normal((3, 5))          # kernel axis 0 along "x", 1 along "y"
    res = nxr.convolve(obj, k, mode, dims=("x", "y"), boundary="reflect", method="direct")
    ref = ndconv.convolve(obj.values, k, mode, axes=(1, 0), boundary="reflect", method="direct")
    assert res.dims == obj.dims and res.name == obj.name and res.attrs == obj.attrs
    assert res.chunks is not None if chunks else res.chunks is None   # dask stays lazy
    np.testing.assert_array_equal(res.values, ref)
    assert res.coords["band"].values.tolist() == ["r", "g", "b"] and int(res["time"]) == 5
    if mode == "same":
        for name in ("y", "x", "lat"):
            np.testing.assert_array_equal(res[name].values, obj[name].values)
    elif mode == "valid":
        # output i is centred on sample i + K//2 of each convolved dim
        np.testing.assert_array_equal(res["x"].values, obj["x"].values[1:19])
        np.testing.assert_array_equal(res["y"].values, obj["y"].values[2:10])
        np.testing.assert_array_equal(res["lat"].values, obj["lat"].values[2:10, 1:19])
    else:
        assert "x" not in res.coords and "y" not in res.coords and "lat" not in res.coords
        assert res.shape == (16, 22, 3)


def test_correlate_one_dim_and_kernel_by_name(rng):
    obj = _cube(rng)
    k = xr.DataArray(rng.standard_normal((4, 3)), dims=("x", "y"))
    res = nxr.correlate(obj, k.T, "same", dims=("x", "y"), method="direct")   # matched by name
    ref = ndconv.correlate(obj.values, k.values, "same", axes=(1, 0), method="direct")
    np.testing.assert_array_equal(res.values, ref)
    res = nxr.correlate(obj, [1.0, 2.0, 1.0], "same", dims="y", boundary="edge")
    np.testing.assert_allclose(res.values, ndconv.correlate(obj.values, [1.0, 2.0, 1.0], "same",
                                                            axes=0, boundary="edge"))


def test_bad_arguments(rng):
    obj = _cube(rng)
    with pytest.raises(ValueError, match="not dimensions of obj"):
        nxr.convolve(obj, np.ones(3), dims="z")
    with pytest.raises(TypeError, match="DataArray"):
        nxr.convolve(obj.values, np.ones(3), dims="x")
    with pytest.raises(ValueError, match="k's dimensions"):
        nxr.convolve(obj, xr.DataArray(np.ones(3), dims="t"), dims="x")
    with pytest.raises(ValueError, match="boundary must be one of"):
        nxr.convolve(obj, np.ones(3), dims="x", boundary="mirror")
