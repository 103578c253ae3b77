"""The planners' test switch, ``ndconv._plan.tuning.override``."""
import numpy as np
import pytest
from conftest import assert_contract, oracle

import ndconv
from ndconv import _core as _dispatch
from ndconv._plan import direct as _direct
from ndconv._plan import tuning


def test_override_restores_the_settings_even_on_error():
    before = tuning.SETTINGS.tile_bytes
    with pytest.raises(RuntimeError):
        with tuning.override(tile_bytes=4096, force_g0=1):
            assert (tuning.SETTINGS.tile_bytes, tuning.SETTINGS.force_g0) == (4096, 1)
            raise RuntimeError
    assert (tuning.SETTINGS.tile_bytes, tuning.SETTINGS.force_g0) == (before, None)


def test_override_rejects_unknown_names():
    with pytest.raises(TypeError, match="unknown setting.*tile_byte"):
        with tuning.override(tile_byte=1):
            pass


def test_kernels_switch_runs_the_given_build(rng):
    # the baseline build (no fused multiply-adds) through the direct method,
    # checked against the float64 oracle; afterwards the picked build again
    x = rng.standard_normal((40, 37)).astype(np.float32)
    k = rng.standard_normal((5, 4)).astype(np.float32)
    ref, absconv = oracle(x, k, "same", "reflect")
    with tuning.override(kernels=_dispatch.unfused_core()):
        assert _direct.core() is _dispatch.unfused_core()
        res = ndconv.correlate(x, k, "same", boundary="reflect", method="direct", workers=2)
    assert_contract(res, ref, absconv, k.size, "float32")
    assert _direct.core() is _dispatch.core()


def test_merged_switch_turns_the_merged_path_off():
    shape, kshape = (16, 17, 18), (3, 4, 5)   # takes the merged path by default
    assert _direct._merge_plan(shape, kshape, 8, 1) is not None
    with tuning.override(merged=False):
        assert _direct._merge_plan(shape, kshape, 8, 1) is None
