"""The measurement tooling: ``ndconv bench``, ``benchmarks/sweep_auto.py`` and
``benchmarks/plot_performance.py`` on tiny sizes.

No timing is asserted (the machine is shared and noisy); what is checked is
that every peer call computes the same thing as the reference, that the
results are well formed, and that the ratios and summaries follow from the
measured times.
"""
import argparse
import collections
import importlib.util
import io
import json
import os
import time

import numpy as np
import pytest

from ndconv._tools import bench as _bench
from ndconv._tools.bench import to_numpy
from ndconv._tools.progress import Progress

scipy_ndimage = pytest.importorskip("scipy.ndimage")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _load(name):
    path = os.path.join(ROOT, "benchmarks", name + ".py")
    spec = importlib.util.spec_from_file_location("_ndconv_bench_" + name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


# ---------------------------------------------------------------- peer conventions
NDIMAGE = {"constant": "constant", "reflect": "mirror", "symmetric": "reflect"}


@pytest.mark.parametrize("ndim", [1, 2, 3])
@pytest.mark.parametrize("boundary", ["constant", "reflect", "symmetric"])
def test_peers_compute_the_same_convolution(ndim, boundary):
    # Reference: scipy.ndimage.convolve in float64 (whole-array, independent of the
    # peers' code paths).  float64 throughout, so FFT peers differ from the direct
    # sum by ~eps*log2(N) relative to the largest output; 1e-10 leaves a wide margin
    # yet a wrong boundary or centre gives O(1) differences.
    rng = np.random.default_rng(ndim)
    shape = {1: (57,), 2: (23, 17), 3: (11, 9, 8)}[ndim]
    kshape = {1: (7,), 2: (5, 3), 3: (3, 5, 3)}[ndim]
    x = rng.standard_normal(shape)
    k = rng.standard_normal(kshape)
    ref = scipy_ndimage.convolve(x, k, mode=NDIMAGE[boundary])
    calls = _bench.peers(x, k, boundary, "same")
    libs = {c.lib for c in calls}
    assert {"scipy.signal", "scipy.ndimage", "numpy"} <= libs
    for c in calls:
        y = to_numpy(c.call(1))
        assert y.shape == ref.shape, c.name
        np.testing.assert_allclose(y, ref, rtol=0, atol=1e-10 * np.abs(ref).max(), err_msg=c.name)


def test_peers_refuse_a_boundary_they_cannot_compute():
    # OpenCV's filter2D and torch have no wrap or edge convention in the bench
    x, k = np.ones(20), np.ones(3)
    for boundary in ("edge", "wrap", "mirror"):
        with pytest.raises(ValueError, match="boundary must be one of constant, reflect, symmetric"):
            _bench.peers(x, k, boundary, "same")


def test_peers_full_mode_and_separable_factors():
    rng = np.random.default_rng(5)
    x = rng.standard_normal(300)
    k = rng.standard_normal(40)  # even: W2's long kernels are powers of two
    ref = np.array([sum(x[i - j] * k[j] for j in range(40) if 0 <= i - j < 300) for i in range(339)])
    for c in _bench.peers(x, k, "constant", "full"):
        np.testing.assert_allclose(to_numpy(c.call(1)), ref, rtol=0, atol=1e-10 * np.abs(ref).max(),
                                   err_msg=c.name)
    w = _bench.workload("W4b")
    x2, k2, factors = w.data("tiny")
    assert factors is not None and len(factors) == 2
    np.testing.assert_allclose(np.multiply.outer(*factors), k2, rtol=1e-6)
    ref2 = scipy_ndimage.convolve(x2.astype(np.float64), k2.astype(np.float64), mode="mirror")
    names = []
    for c in _bench.peers(x2, k2, "reflect", "same", factors):
        names.append(c.name)
        # float32 data: differences of a few eps per tap relative to the largest output
        np.testing.assert_allclose(to_numpy(c.call(1)), ref2, rtol=0, atol=1e-5 * np.abs(ref2).max(),
                                   err_msg=c.name)
    assert any("per axis" in n for n in names)


def test_peers_reject_what_they_cannot_compare():
    x, k = np.zeros(10), np.zeros(4)
    with pytest.raises(ValueError, match="odd"):
        _bench.peers(x, k, "constant", "same")
    with pytest.raises(ValueError, match="mode"):
        _bench.peers(x, np.zeros(3), "reflect", "full")


def test_thread_settings_restore():
    mods = _bench.peer_modules()
    before = [m.getNumThreads() for m in [mods["cv2"]] if m is not None]
    before += [m.get_num_threads() for m in [mods["torch"]] if m is not None]
    with _bench.thread_settings(1, mods):
        pass
    after = [m.getNumThreads() for m in [mods["cv2"]] if m is not None]
    after += [m.get_num_threads() for m in [mods["torch"]] if m is not None]
    assert before == after


# ---------------------------------------------------------------- ndconv bench
@pytest.fixture(scope="module")
def tiny_result():
    return _bench.run(size="tiny", threads=(1, 2), only="W1,W3a,W8", progress=False)


def test_bench_rows_well_formed(tiny_result):
    rows = tiny_result["rows"]
    assert {r["wid"] for r in rows} == {"W1", "W3a", "W8"}
    for r in rows:
        assert r["status"] == "ok", (r["call"], r["status"])  # every peer agrees with ndconv
        assert r["median_s"] > 0 and r["reps"] >= 1
        if r["lib"] != "ndconv":
            nd = [q for q in rows if q["lib"] == "ndconv" and q["wid"] == r["wid"]
                  and q["boundary"] == r["boundary"] and q["threads"] == r["threads"]]
            assert len(nd) == 1
            assert r["ratio"] == pytest.approx(nd[0]["median_s"] / r["median_s"])
            assert r["rel_err"] <= _bench.agreement_tolerance(r["dtype"])
    # calls that ignore thread settings are timed once and reused at 2 threads
    reused = [r for r in rows if r.get("reused")]
    assert reused and all(not r["threaded"] and r["threads"] == 2 for r in reused)
    assert {r["boundary"] for r in rows if r["wid"] == "W3a"} == {"reflect", "symmetric"}
    json.dumps(tiny_result)  # serialisable as it stands


def test_bench_summary_and_table(tiny_result):
    summ = _bench.summarize(tiny_result)
    assert len(summ) == 2 * (1 + 2 + 1)  # (W1, W3a x 2 boundaries, W8) x 2 thread counts
    for e in summ:
        peers = [r for r in tiny_result["rows"] if r["lib"] != "ndconv" and r["wid"] == e["wid"]
                 and r["boundary"] == e["boundary"] and r["threads"] == e["threads"]]
        for fam, best in e["peers"].items():
            assert best["median_s"] == min(r["median_s"] for r in peers if r["family"] == fam)
        assert e["ratio_fastest"] == pytest.approx(e["ndconv_s"] / min(r["median_s"] for r in peers))
    table = _bench.format_table(tiny_result)
    lines = table.splitlines()
    assert lines[0].split()[:4] == ["workload", "boundary", "thr", "ndconv"]
    assert "/scipy" in lines[0] and "/numpy" in lines[0]
    assert sum(line.startswith(("W1 ", "W3a ", "W8 ")) for line in lines) == len(summ)


def test_bench_main_and_cli_registration(tmp_path, capsys):
    path = tmp_path / "bench.json"
    assert _bench.main(["--size", "tiny", "--threads", "1", "--only", "W2", "--no-progress",
                        "--json", str(path)]) == 0
    out = capsys.readouterr().out
    assert "W2a" in out and "W2b" in out
    data = json.loads(path.read_text())
    assert {r["wid"] for r in data["rows"]} == {"W2a", "W2b"}
    assert data["meta"]["size"] == "tiny" and data["meta"]["threads"] == [1]

    parser = argparse.ArgumentParser(prog="ndconv")
    sub = parser.add_subparsers(dest="command")
    _bench.add_parser(sub)
    args = parser.parse_args(["bench", "--quick", "--only", "W1"])
    assert args.quick and args.only == "W1" and callable(args.func)


@pytest.mark.parametrize("argv, message", [
    (["--size", "tiny", "--threads", "one"], "--threads"),
    (["--size", "tiny", "--threads", "0"], "threads"),
    (["--size", "tiny", "--only", "W10"], "W10"),
    (["--quick", "--size", "tiny"], "contradict"),
])
def test_bench_bad_arguments(argv, message):
    with pytest.raises(SystemExit, match=message):
        _bench.main(argv + ["--no-progress"])


def test_bench_without_optional_peers():
    # scipy, OpenCV and torch are all optional at run time: with none of them the
    # bench still runs, compares against numpy only and says what is missing.
    bare = {name: None for name in _bench.peer_modules()}
    res = _bench.run(size="tiny", threads=(1,), only="W1,W5", progress=False, mods=bare)
    assert {r["lib"] for r in res["rows"]} == {"ndconv", "numpy"}
    assert all(r["status"] == "ok" for r in res["rows"])
    table = _bench.format_table(res)
    assert "/numpy" in table and "/scipy" not in table
    assert "Not installed (not compared): OpenCV, torch, scipy." in table


def test_interleaved_rounds_alternate_the_calls():
    # every round calls each function once, the order rotated; each function's
    # first call is untimed (its result is returned); rewarm_below adds an
    # untimed call before each timed one of a fast function
    from ndconv._tools.timing import interleaved
    log = []

    def fn(name, seconds):
        def call():
            log.append(name)
            t_end = time.perf_counter() + seconds
            while time.perf_counter() < t_end:
                pass
            return name
        return call
    timed = interleaved([fn("a", 0.002), fn("b", 0.0)], budget=0.004, min_reps=3, max_reps=5)
    assert [t[2] for t in timed] == ["a", "b"]
    reps = timed[0][4]
    assert 3 <= reps <= 5 and timed[1][4] == reps
    assert log[:2] == ["a", "b"]
    rounds = [log[2 + 2 * r:4 + 2 * r] for r in range(reps)]
    assert rounds == [["a", "b"], ["b", "a"]] * (reps // 2) + [["a", "b"]] * (reps % 2)
    assert timed[0][0] >= 0.002 > timed[1][0]
    log.clear()
    interleaved([fn("a", 0.0), fn("b", 0.05)], budget=0.001, min_reps=2, max_reps=2,
                rewarm_below=0.01)
    assert log == ["a", "b", "a", "a", "b", "b", "a", "a"]


def test_interleaved_rounds_vary_who_goes_before_whom():
    # with three or more functions no function always follows the same one
    # (a call right after torch's ran twice as long), and each still comes
    # first in some round
    from ndconv._tools.timing import interleaved
    log = []
    names = "abcd"
    interleaved([lambda c=c: log.append(c) for c in names], budget=1.0, min_reps=12, max_reps=12)
    rounds = [log[4 + 4 * r:8 + 4 * r] for r in range(12)]
    assert all(sorted(r) == list(names) for r in rounds)
    timed = log[4:]
    for c in names:
        before = collections.Counter(timed[i - 1] for i in range(1, len(timed)) if timed[i] == c)
        assert max(before.values()) <= 6, (c, before)   # rotated alone: 8-9 of 11
    assert {r[0] for r in rounds} == set(names)


def test_bench_times_the_calls_of_a_workload_together(monkeypatch):
    # ndconv's call and the peers of one workload go through one interleaved
    # timing; a call far slower than the fastest is timed on its own
    from ndconv._tools.bench import measure
    seen = []
    real = measure.interleaved

    def spy(fns, *args, **kw):
        seen.append([f.func for f in fns])
        return real(fns, *args, **kw)
    monkeypatch.setattr(measure, "interleaved", spy)
    x = np.random.default_rng(0).standard_normal(300).astype(np.float32)
    k = np.ones(5, np.float32)
    calls = [_bench.ndconv_call(x, k, "constant", "same")] + _bench.peers(x, k, "constant", "same")
    def slow_call(threads):
        time.sleep(0.05)
        return calls[0].call(threads)
    slow = _bench.Peer("slow", "a call far slower than the others", slow_call)
    rows = _bench.time_calls(calls + [slow], 1, x.dtype, 0.0, 1, 1)
    assert all(r["status"] == "ok" for r in rows), rows
    assert len(seen) == 1 and calls[0].call in seen[0] and slow_call not in seen[0]
    assert all(r["rel_err"] < 1e-5 for r in rows[1:])
    # a peer that fails after its first runs is reported, the others still timed
    runs = []

    def flaky_call(threads):
        runs.append(1)
        if len(runs) > 2:
            raise RuntimeError("out of luck")
        return calls[0].call(threads)
    flaky = _bench.Peer("flaky", "fails from its third run on", flaky_call)
    rows = _bench.time_calls(calls + [flaky], 1, x.dtype, 0.0, 1, 1)
    assert rows[-1]["status"].startswith("error: RuntimeError: out of luck")
    assert all(r["status"] == "ok" for r in rows[:-1]), rows


def test_run_rejects_unknown_size():
    with pytest.raises(ValueError, match="size"):
        _bench.run(size="huge")


def test_select_prefixes():
    assert [w.wid for w in _bench.select("W2")] == ["W2a", "W2b"]
    assert [w.wid for w in _bench.select("w4b, W1")] == ["W1", "W4b"]
    assert [w.wid for w in _bench.select("W9")] == ["W9a", "W9b", "W9c"]
    assert len(_bench.select("")) == len(_bench.WORKLOADS)


def test_progress_bar_draws_and_clears():
    buf = io.StringIO()
    bar = Progress(4, stream=buf, enabled=True)
    bar.step("W1")
    bar.step("W2")
    assert "[############............]   2/4" in buf.getvalue()
    bar.close()
    assert buf.getvalue().endswith("\r")
    quiet = io.StringIO()
    bar = Progress(4, stream=quiet)  # not a terminal: silent
    bar.step("W1")
    bar.close()
    assert quiet.getvalue() == ""


# ---------------------------------------------------------------- sweep_auto
@pytest.fixture(scope="module")
def sweep_auto():
    return _load("sweep_auto")


def test_sweep_auto_tiny(sweep_auto):
    res = sweep_auto.run(size="tiny")
    cases = res["cases"]
    assert [(c["ndim"], c["n"], c["k"]) for c in cases] == sweep_auto.cases("tiny")
    for c in cases:
        t = c["times"]
        assert set(t) == {"direct", "fft", "auto"} and min(t.values()) > 0
        assert c["best"] == min(("direct", "fft"), key=t.get)
        assert c["ratio"] == pytest.approx(t["auto"] / min(t["direct"], t["fft"]))
        assert c["auto_choice"] in ("direct", "fft", "separable")
        assert c["estimated"] == []
    s = res["summary"]
    assert s["cases"] == len(cases)
    assert s["within_1.15"] == pytest.approx(np.mean([c["ratio"] <= 1.15 for c in cases]))
    assert s["worst_ratio"] == max(c["ratio"] for c in cases)
    assert s["target_met"] == (s["within_1.15"] >= 0.95 and s["worst_ratio"] <= 1.5)
    assert ("target met" if s["target_met"] else "target NOT met") in sweep_auto.format_summary(s)


def test_sweep_auto_skips_long_direct_runs(sweep_auto):
    # With a limit of ~0 s every direct run after the first of each dimension is
    # "too long": it is estimated from the fastest rate measured so far, not run.
    res = sweep_auto.run(size="tiny", dims=(1,), limit=1e-12)
    first, second = res["cases"]
    assert first["estimated"] == []
    assert "direct" in second["estimated"]
    rate = first["times"]["direct"] / (first["n"] * first["k"])
    assert second["times"]["direct"] == pytest.approx(rate * second["n"] * second["k"])
    if second["auto_choice"] == "direct":  # auto would run the long direct path: estimated too
        assert second["times"]["auto"] == second["times"]["direct"]


def test_sweep_auto_cases_cover_the_documented_ranges(sweep_auto):
    full = sweep_auto.cases("full")
    one = [(n, k) for nd, n, k in full if nd == 1]
    assert min(n for n, _ in one) == 10 ** 3 and max(n for n, _ in one) == 10 ** 7
    assert min(k for _, k in one) == 3 and max(k for _, k in one) == 10 ** 5
    assert all(k <= n for n, k in one)
    two = [(n, k) for nd, n, k in full if nd == 2]
    assert (min(two)[0], max(two)[0], min(k for _, k in two), max(k for _, k in two)) == (128, 4096, 3, 63)
    three = [(n, k) for nd, n, k in full if nd == 3]
    assert (min(three)[0], max(three)[0], min(k for _, k in three),
            max(k for _, k in three)) == (32, 256, 3, 15)


def test_sweep_auto_main_writes_json(sweep_auto, tmp_path, capsys):
    path = tmp_path / "sweep.json"
    assert sweep_auto.main(["--size", "tiny", "--dims", "2", "--json", str(path)]) == 0
    data = json.loads(path.read_text())
    assert data["summary"]["cases"] == len(data["cases"]) == 2
    assert "within 1.15x" in capsys.readouterr().out


# ---------------------------------------------------------------- plot_performance
def test_plot_performance_tiny(tmp_path):
    pytest.importorskip("matplotlib")
    plot = _load("plot_performance")
    assert plot.main(["--size", "tiny", "--outdir", str(tmp_path)]) == 0
    for name in ("kernel_size.png", "signal_size.png", "auto_choices.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    data = json.loads((tmp_path / "perf.json").read_text())
    assert data["command"] == "python benchmarks/plot_performance.py --size tiny"
    for key in ("kernel", "signal_1d", "signal_2d"):
        for p in data["curves"][key]["points"]:
            assert "ndconv" in p["times"] and all(v["s"] > 0 for v in p["times"].values())
    rows = (tmp_path / "workloads.csv").read_text().splitlines()
    assert rows[0].startswith("Workload,Boundary,Threads,ndconv (ms)")
    assert len(rows) - 1 == len(_bench.summarize(data["bench"]))
    prov = (tmp_path / "provenance.inc").read_text()
    assert "python benchmarks/plot_performance.py --size tiny" in prov and "Preliminary" in prov
    # redraw from the stored JSON only
    os.remove(tmp_path / "kernel_size.png")
    assert plot.main(["--replot", "--outdir", str(tmp_path)]) == 0
    assert (tmp_path / "kernel_size.png").exists()
    assert data["wall_s"] > 0


# ---------------------------------------------------------------- ndconv bench --dask
TINY_DASK = [("tiny-2d", (64, 48), (5, 5), (16, 32), False),
             ("tiny-1d", (3000,), (31,), (500, 1000), True)]


@pytest.fixture
def tiny_dask(monkeypatch):
    pytest.importorskip("dask.array")
    from ndconv._tools.bench import chunked
    monkeypatch.setattr(chunked, "CASES", TINY_DASK)
    return chunked


def test_bench_dask_rows_follow_from_the_times(tiny_dask):
    result = tiny_dask.run(big=True, budget=0.0, progress=False)
    rows = result["rows"]
    cases = [r["case"] for r in rows if r["lib"] == "ndconv in memory"]
    assert cases == ["tiny-2d", "tiny-1d"]
    mem = {r["case"]: r["median_s"] for r in rows if r["lib"] == "ndconv in memory"}
    dask_rows = [r for r in rows if r["lib"] == "ndconv.dask threads"]
    assert [(r["case"], r["chunks"]) for r in dask_rows] == [
        ("tiny-2d", 16), ("tiny-2d", 32), ("tiny-1d", 500), ("tiny-1d", 1000)]
    for r in dask_rows:
        assert r["bitwise"] is True
        assert r["ratio"] == pytest.approx(r["median_s"] / mem[r["case"]])
        shape = next(c[1] for c in TINY_DASK if c[0] == r["case"])
        n_chunks = int(np.prod([-(-n // r["chunks"]) for n in shape]))
        # per chunk: its read, its block, at most 3^ndim - 1 halo pieces (and a few for the
        # array and kernel); never per element
        assert 0 < r["tasks"] <= (3 ** len(shape) + 3) * n_chunks
    di = {(r["case"], r["chunks"]): r for r in rows if r["lib"] == "dask_image threads"}
    if importlib.util.find_spec("dask_image") is not None:
        # 2-D only: dask-image's 1-D convolve is not the same problem here
        assert sorted(di) == [("tiny-2d", 16), ("tiny-2d", 32)]
        for r in dask_rows[:2]:
            d = di[(r["case"], r["chunks"])]
            # in the rounds with dask-image (ndconv's rows have many of their own)
            assert r["vs_dask_image"] == pytest.approx(d["median_s"] / r["pair_s"])
            assert r["vs_dask_image_cpu"] == pytest.approx(d["cpu_s"] / max(r["pair_cpu_s"], 1e-9))
    assert all(r["cpu_s"] >= 0 for r in rows)
    assert "load_before" in result["meta"] and result["meta"]["versions"]["dask"]
    table = tiny_dask.format_table(result)
    # the da.store rows: into a preallocated array, bitwise too
    stores = [r for r in rows if r["lib"] == "ndconv.dask threads, da.store"]
    assert [(r["case"], r["chunks"]) for r in stores] == [(r["case"], r["chunks"]) for r in dask_rows]
    assert all(r["bitwise"] is True for r in stores)
    outs = [r for r in rows if r["lib"] == "ndconv in memory, out="]
    assert [r["case"] for r in outs] == ["tiny-2d", "tiny-1d"]
    for r in stores + outs:
        assert r["ratio"] == pytest.approx(r["median_s"] / mem[r["case"]])
    assert all(r["faults"] >= 0 for r in rows)
    assert "tiny-1d" in table and table.count("bitwise") == 8 and "load average" in table


def test_bench_dask_command_line(tiny_dask, capsys, tmp_path):
    out = tmp_path / "d.json"
    assert _bench.main(["--dask", "--quick", "--no-progress", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "tiny-2d" in text and "tiny-1d" not in text       # big cases only with --big
    assert json.loads(out.read_text())["rows"][0]["case"] == "tiny-2d"
    assert _bench.main(["--dask", "--quick", "--no-progress", "--only", "tiny-1d"]) == 0
    assert "tiny-1d" in capsys.readouterr().out
    for argv, words in ((["--big"], "--dask"), (["--dask", "--only", "nope"], "nope")):
        with pytest.raises(SystemExit) as exc:
            _bench.main(argv)
        assert words in str(exc.value)


def test_asv_dask_benchmark_runs_every_runner(tiny_dask):
    spec = importlib.util.spec_from_file_location(
        "_ndconv_asv_dask", os.path.join(ROOT, "benchmarks", "benchmarks", "dask_chunked.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    ran = []
    for runner in ("in memory", "threads", "in memory, out=", "store", "dask-image"):
        b = mod.DaskConvolve()
        try:
            b.setup("tiny-2d", 0, runner)
        except NotImplementedError:
            assert runner == "dask-image" and importlib.util.find_spec("dask_image") is None
            continue
        b.time_convolve("tiny-2d", 0, runner)
        b.teardown()
        ran.append(runner)
    assert ran[:4] == ["in memory", "threads", "in memory, out=", "store"]
    with pytest.raises(NotImplementedError):
        mod.DaskConvolve().setup("tiny-2d", 1, "in memory")


# ---------------------------------------------------------------- busy_machine
def test_busy_machine_parts_do_the_calls_work():
    # the parts' column times them as the call's work without coordination:
    # they must tile its result exactly (no row lost or computed twice)
    bm = _load("busy_machine")
    rows = [(1, 0), (2, 1), (5, 4), (6, 2), (7, 3)]
    for n, reach in rows:
        xp = np.arange(n + reach)
        parts = bm.slabs(xp, reach, 3)
        assert [len(p) - reach for p in parts] == [n * (i + 1) // 3 - n * i // 3 for i in range(3)]
        assert np.array_equal(np.concatenate([p[:len(p) - reach] for p in parts]), xp[:n])
    for group, label, work, call, parts in bm.problems(3):
        if work < bm.LARGE_WORK:
            continue
        whole = call(1)
        axis = 1 if group == "layer" else 0
        pieces = np.concatenate([p() for p in parts], axis=axis)
        assert pieces.shape == whole.shape, label
        # the same products summed in the same order, the boundary's rows padded
        # beforehand instead of gathered: the same bits
        np.testing.assert_array_equal(pieces, whole, err_msg=label)


def test_asv_layer_benchmark_runs_every_call(monkeypatch):
    spec = importlib.util.spec_from_file_location(
        "_ndconv_asv_layer", os.path.join(ROOT, "benchmarks", "benchmarks", "layer.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    monkeypatch.setattr(mod, "SHAPE", (1, 12, 16))
    ran = []
    for call in mod.W6Layer.params[0]:
        b = mod.W6Layer()
        try:
            b.setup(call, 1)
        except NotImplementedError:
            assert call == "torch" and importlib.util.find_spec("torch") is None
            continue
        y = b.fn()
        b.time_forward(call, 1)
        b.teardown()
        ran.append(call)
        if call != "torch":
            assert y.shape == (1, 12, 12, 16)
    assert ran[:3] == ["auto", "direct", "winograd"]
    g = mod.W6LayerGradients()
    g.setup(2)
    g.time_gradients(2)
    assert [a.shape for a in g.fn()] == [(1, 12, 12, 16), (3, 3, 16, 16), (16,)]
