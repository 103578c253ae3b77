"""The cost model of ``method="auto"``: constants per kernel build, chosen by the build in use."""
import json
import os

import numpy as np
import pytest

from ndconv import _core
from ndconv._plan import method as _method

FIELDS = {"call", "per_tap", "per_setup", "per_row_tap", "per_merged", "per_roll",
          "per_roll_shift", "per_roll_out", "per_tap_single", "thread_eff"}
DTYPES = ("float32", "float64", "complex64", "complex128")


def test_every_calibrated_build_has_complete_constants():
    path = os.path.join(os.path.dirname(_method.__file__), "cost_model.json")
    with open(path) as f:
        model = json.load(f)
    assert model["direct"], "no build is calibrated"
    for build, table in model["direct"].items():
        assert build in _method._NEAREST, build
        for dt in DTYPES:
            assert set(table[dt]) == FIELDS, (build, dt)
            assert all(v >= 0 for v in table[dt].values()), (build, dt)
            assert 0 < table[dt]["thread_eff"] <= 1


@pytest.mark.parametrize("build", sorted(_method._NEAREST))
def test_every_build_gets_constants(build):
    # a build without its own calibration (e.g. neon, measured nowhere yet)
    # borrows the nearest calibrated one's, never none
    table = _method.direct_constants(build)
    own = _method.MODEL["direct"].get(build)
    assert table is own if own is not None else table in _method.MODEL["direct"].values()
    assert set(DTYPES) <= set(table)


def test_estimates_follow_the_build_in_use():
    shape, k = (512, 512), (7, 7)
    seen = {}
    for level, module in _core.builds().items():
        with _core.use(level):
            name = _method.build_name()
            assert name == module.__name__.rsplit(".", 1)[-1]
            t = _method.direct_seconds(shape, k, np.float32, 1)
            want = _method.direct_constants(name)["float32"]
            features = _method.direct_features(shape, k, np.float32, 1)
            assert t == pytest.approx(want["call"] + features[1] * want["per_tap"]
                                      + features[2] * want["per_setup"]
                                      + features[3] * want["per_row_tap"]
                                      + features[4] * want["per_merged"]
                                      + features[5] * want["per_roll"]
                                      + features[6] * want["per_roll_shift"]
                                      + features[7] * want["per_roll_out"]
                                      + features[8] * want["per_tap_single"], rel=1e-12)
            seen[name] = t
    assert len(seen) == len(_core.builds())
