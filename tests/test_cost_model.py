"""The cost model of ``method="auto"``: constants per kernel build, chosen by the build in use."""
import json
import os

import numpy as np
import pytest

from ndconv import _core
from ndconv._plan import cpu as _cpu
from ndconv._plan import method as _method
from ndconv._plan import tuning

FIELDS = {"call", "per_tap", "per_setup", "per_row_tap", "per_merged", "per_roll",
          "per_roll_shift", "per_roll_out", "per_tap_single", "thread_eff"}
DTYPES = ("float32", "float64", "complex64", "complex128")


def test_every_calibrated_build_has_complete_constants():
    path = os.path.join(os.path.dirname(_method.__file__), "cost_model.json")
    with open(path) as f:
        model = json.load(f)
    assert model["direct"], "no build is calibrated"
    for name, table in model["direct"].items():
        # "build" or "build@cpu model"
        build, _, cpu = name.partition("@")
        assert build in _method._NEAREST, name
        assert cpu == "" or len(cpu.split()) in (2, 3), name
        for dt in DTYPES:
            assert set(table[dt]) == FIELDS, (name, dt)
            assert all(v >= 0 for v in table[dt].values()), (name, dt)
            assert 0 < table[dt]["thread_eff"] <= 1


@pytest.mark.parametrize("build", sorted(_method._NEAREST))
def test_every_build_gets_constants(build):
    # a build without its own calibration (e.g. neon, measured nowhere yet)
    # borrows the nearest calibrated one's, never none
    table = _method.direct_constants(build)
    own = _method.MODEL["direct"].get(build)
    mine = _method.MODEL["direct"].get("%s@%s" % (build, _method.cpu_model()))
    if mine is not None:
        assert table is mine
    elif own is not None:
        assert table is own
    else:
        assert table in _method.MODEL["direct"].values()
    assert set(DTYPES) <= set(table)


CPUINFO_X86 = """processor	: 0
vendor_id	: AuthenticAMD
cpu family	: 25
model		: 17
model name	: AMD EPYC

processor	: 1
vendor_id	: GenuineIntel
cpu family	: 6
model		: 143
"""
CPUINFO_ARM = """processor	: 0
BogoMIPS	: 50.00
CPU implementer	: 0x41
CPU architecture: 8
CPU part	: 0xd0c
"""


def test_cpu_model_reads_the_first_processor():
    assert _cpu.model_from(CPUINFO_X86) == "AuthenticAMD 25 17"
    assert _cpu.model_from(CPUINFO_ARM) == "0x41 0xd0c"
    assert _cpu.model_from("processor\t: 0\nflags\t: fpu\n") is None
    assert _cpu.model_from("") is None


def test_non_temporal_stores_follow_the_vendor(monkeypatch):
    # measured: AMD Zen 4 gained from them on outputs of 16 MB and more, an
    # Intel Xeon lost on every size (up to 256 MB); elsewhere none
    for model, expected in (("AuthenticAMD 25 17", 16 << 20), ("GenuineIntel 6 143", None),
                            ("0x41 0xd0c", None), (None, None)):
        monkeypatch.setattr(_cpu, "model", lambda model=model: model)
        assert tuning.Settings().stream_bytes == expected


def test_short_tiles_follow_the_vendor(monkeypatch):
    # measured: an Intel Xeon's 3x3 and 2x2 filters gained from short tiles on
    # outputs of 1 MB and more, AMD Zen 4's only from about 7 MB
    for model, expected in (("AuthenticAMD 25 17", 7 << 20), ("GenuineIntel 6 143", 1 << 20),
                            ("0x41 0xd0c", 7 << 20), (None, 7 << 20)):
        monkeypatch.setattr(_cpu, "model", lambda model=model: model)
        assert tuning.Settings().uncached_bytes == expected


def test_one_thread_tiles_follow_the_vendor(monkeypatch):
    # measured: an Intel Xeon's one-thread calls gained from tiles whose source
    # rows fit half a MB (4096^2 5x5 0.64-0.80x the time), AMD Zen 4's did not
    for model, expected in (("AuthenticAMD 25 17", None), ("GenuineIntel 6 143", 512 << 10),
                            ("0x41 0xd0c", None), (None, None)):
        monkeypatch.setattr(_cpu, "model", lambda model=model: model)
        assert tuning.Settings().alone_tile_bytes == expected


def test_window_tiles_follow_the_vendor(monkeypatch):
    # measured: an Intel Xeon's windows of wider arrays (dask blocks) gained
    # from 24-row tiles (1024-wide 5x5 0.65-0.89x the time); AMD not measured
    for model, expected in (("AuthenticAMD 25 17", None), ("GenuineIntel 6 143", 24),
                            ("0x41 0xd0c", None), (None, None)):
        monkeypatch.setattr(_cpu, "model", lambda model=model: model)
        assert tuning.Settings().window_tile_rows == expected


def test_a_cpu_models_constants_come_first(monkeypatch):
    # constants calibrated for this CPU model beat the build's own, which beat
    # the nearest build's; other CPU models' are never taken
    gen, zen4, other = ({"mark": i} for i in range(3))
    table = {"avx2": gen, "avx2@AuthenticAMD 25 17": zen4, "avx512@GenuineIntel 6 143": other}
    monkeypatch.setitem(_method.MODEL, "direct", table)
    for cpu, avx2, avx512 in (("AuthenticAMD 25 17", zen4, gen), ("GenuineIntel 6 143", gen, other),
                              (None, gen, gen), ("AuthenticAMD 26 68", gen, gen)):
        monkeypatch.setattr(_method, "cpu_model", lambda cpu=cpu: cpu)
        assert table[_method.constants_name("avx2")] is avx2, cpu
        assert table[_method.constants_name("avx512")] is avx512, cpu


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


def test_a_kernels_weighing_is_remembered_but_the_inputs_values_are_not(monkeypatch):
    """``choose`` weighs a small kernel once (factors, terms, finiteness), keyed
    by its bytes: an equal kernel in another array is not weighed again, a
    kernel changed in place is, and an input that holds NaN or inf still never
    takes FFT however the kernel was weighed."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((128, 128))
    k = rng.standard_normal((63, 63))
    weighed = []
    real = _method._weigh
    monkeypatch.setattr(_method, "_weigh", lambda *a: weighed.append(1) or real(*a))
    _method._weigh_cached.cache_clear()
    first = _method.choose(x, k, x.shape, 1)
    if first[0] != "fft":
        pytest.skip("this build's cost model takes %s here" % first[0])
    assert _method.choose(x, k.copy(), x.shape, 1) == first
    assert len(weighed) == 1
    k[5, 7] = np.nan
    assert _method.choose(x, k, x.shape, 1)[0] != "fft"
    assert len(weighed) == 2
    k[5, 7] = 0.5
    for bad in (np.nan, np.inf, -np.inf):
        y = x.copy()
        y[100, 3] = bad
        assert _method.choose(y, k, y.shape, 1)[0] != "fft"
    assert _method.choose(x, k, x.shape, 1)[0] == "fft"
    assert len(weighed) == 3


def test_remembered_factors_are_the_callers_to_keep():
    """The factors ``choose`` hands out are fresh containers: changing them does
    not change what the next call gets."""
    g = np.exp(-np.arange(-7, 8) ** 2 / 10.0)
    k = np.outer(g, g)
    x = np.zeros((512, 512))
    method, factors = _method.choose(x, k, x.shape, 1)
    assert method == "separable"
    factors.clear()
    method, again = _method.choose(x, k, x.shape, 1)
    assert sorted(again) == [0, 1]
    np.testing.assert_allclose(np.outer(again[0], again[1]), k, rtol=1e-12, atol=1e-15)
