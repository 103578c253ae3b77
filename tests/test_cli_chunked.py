"""``ndconv apply`` in blocks: .npy (memory-mapped) and .zarr through ndconv.dask."""
import io
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from conftest import subprocess_env
from test_cli import assert_usage_error, run

import ndconv
from ndconv._tools import cli as _cli
from ndconv._tools import io as _io
from ndconv._tools.named_kernels import named_kernel
from ndconv._tools.progress import dask_progress

dask = pytest.importorskip("dask")
pytest.importorskip("dask.array")


def tree(folder):
    """{relative path: bytes (None for a folder)} of everything under ``folder``."""
    out = {}
    for root, dirs, files in os.walk(folder):
        for d in dirs:
            out[os.path.relpath(os.path.join(root, d), folder)] = None
        for f in files:
            p = os.path.join(root, f)
            with open(p, "rb") as fh:
                out[os.path.relpath(p, folder)] = fh.read()
    return out


def same_bits(a, b):
    return a.shape == b.shape and a.dtype == b.dtype and np.array_equal(
        np.ascontiguousarray(a).view(np.uint8), np.ascontiguousarray(b).view(np.uint8))


@pytest.fixture
def data(tmp_path):
    rng = np.random.default_rng(14)
    x = rng.standard_normal((23, 17, 12)).astype(np.float32)
    x[3, 4, 5] = np.nan          # NaN and inf travel like any value
    x[20, 1, 2] = np.inf
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "k.npy", rng.standard_normal((3, 4, 5)).astype(np.float32))
    np.save(tmp_path / "k2.npy", rng.standard_normal((5, 3)).astype(np.float32))
    return tmp_path


def load(path):
    if str(path).endswith(".zarr"):
        import zarr
        return zarr.open_array(str(path), mode="r")[...]
    return np.load(path)


def to_zarr(src, dst, chunks):
    import zarr
    a = np.load(src)
    z = zarr.open_array(str(dst), mode="w", shape=a.shape, chunks=chunks, dtype=a.dtype)
    z[...] = a


@pytest.mark.parametrize("src, dst", [("npy", "npy"), ("npy", "zarr"), ("zarr", "zarr"),
                                      ("zarr", "npy")])
@pytest.mark.parametrize("opts", [
    ["--mode", "same", "--boundary", "reflect"],
    ["--mode", "full", "--boundary", "constant", "--cval", "1.5"],
    ["--mode", "valid", "--boundary", "wrap", "--correlate"],
    ["--mode", "same", "--boundary", "symmetric", "--axes", "0", "2", "KERNEL2"],
])
def test_round_trips_are_bitwise_the_in_memory_result(data, capsys, src, dst, opts):
    if "zarr" in (src, dst):
        pytest.importorskip("zarr")
    x = np.load(data / "x.npy")
    kname = "k2.npy" if "KERNEL2" in opts else "k.npy"
    opts = [o for o in opts if o != "KERNEL2"]
    k = np.load(data / kname)
    inp = data / ("x." + src)
    if src == "zarr":
        to_zarr(data / "x.npy", inp, (7, 5, 12))
    out = data / ("y." + dst)
    argv = ["apply", str(inp), str(data / kname), "-o", str(out), "--method", "direct",
            "--no-progress"] + opts + (["--chunks", "6,5,4"] if src == "npy" else [])
    code, stdout, err = run(argv, capsys)
    assert code == 0, err
    assert "blocks of up to" in stdout
    mode = opts[1]
    boundary = opts[3]
    cval = float(opts[opts.index("--cval") + 1]) if "--cval" in opts else 0.0
    axes = (0, 2) if "--axes" in opts else None
    fn = ndconv.correlate if "--correlate" in opts else ndconv.convolve
    ref = fn(x, k, mode, boundary=boundary, cval=cval, axes=axes, method="direct")
    assert same_bits(load(out), ref)
    # nothing else left in the folder
    names = set(os.listdir(data))
    assert not any(n.startswith(".") for n in names), names


def test_auto_method_is_within_the_fft_bound(data, capsys):
    x, k = np.load(data / "x.npy"), np.load(data / "k.npy")
    x = np.nan_to_num(x, posinf=0.0)
    np.save(data / "x.npy", x)
    code, _, err = run(["apply", str(data / "x.npy"), str(data / "k.npy"), "-o", str(data / "y.npy"),
                        "--chunks", "8", "--no-progress"], capsys)
    assert code == 0, err
    ref = ndconv.convolve(x.astype(np.float64), k.astype(np.float64), "same")
    # float32: per-sample rounding of 60 products and an FFT's eps * log2(n) * sum|x||k|
    bound = 60 * 4 * np.finfo(np.float32).eps * np.abs(x).max() * np.abs(k).sum()
    assert np.max(np.abs(np.load(data / "y.npy") - ref)) <= bound


def test_npy_input_is_read_block_by_block(data, capsys, monkeypatch):
    reads = []
    real = _io._NpyBlocks.__getitem__

    def recorded(self, index):
        block = real(self, index)
        reads.append(block.shape)
        return block

    monkeypatch.setattr(_io._NpyBlocks, "__getitem__", recorded)

    def whole(*args, **kwargs):
        raise AssertionError("the input was read whole")

    monkeypatch.setattr(_io, "read", whole)
    code, out, err = run(["apply", str(data / "x.npy"), "box:3", "-o", str(data / "y.npy"),
                          "--chunks", "8,17,12", "--method", "direct", "--no-progress"], capsys)
    assert code == 0, err
    # three slabs of at most 8 planes, each read once (halos are sliced from them)
    assert sorted(reads) == [(7, 17, 12), (8, 17, 12), (8, 17, 12)]
    monkeypatch.undo()
    ref = ndconv.convolve(np.load(data / "x.npy"), named_kernel("box:3", 3), "same",
                          method="direct")
    assert same_bits(np.load(data / "y.npy"), ref)


def test_default_blocks_are_slabs_of_the_leading_axes():
    # 1 MiB planes, 32 MiB blocks: slabs of 32 planes
    assert _cli._slabs((8192, 512, 512), 4, 32 << 20, [6, 6, 6]) == (32, 512, 512)
    # a short reach cannot make a slab thinner than 4 times it
    assert _cli._slabs((8192, 512, 512), 4, 8 << 20, [6, 6, 6]) == (24, 512, 512)
    # planes larger than the limit: rows of planes
    assert _cli._slabs((4, 4096, 4096), 4, 32 << 20, [0, 2, 2]) == (1, 2048, 4096)
    # small arrays stay whole
    assert _cli._slabs((10, 10), 8, 32 << 20, [2, 2]) == (10, 10)


def test_large_npy_goes_in_blocks_and_small_stays_in_memory(data, capsys, monkeypatch):
    x, k = str(data / "x.npy"), str(data / "k.npy")
    code, out, _ = run(["apply", x, k, "-o", str(data / "a.npy"), "--method", "direct"], capsys)
    assert code == 0 and "blocks of up to" not in out
    monkeypatch.setattr(_cli, "_LARGE_NPY", 100)
    code, out, _ = run(["apply", x, k, "-o", str(data / "b.npy"), "--method", "direct",
                        "--no-progress"], capsys)
    assert code == 0 and "blocks of up to" in out
    assert same_bits(np.load(data / "a.npy"), np.load(data / "b.npy"))
    # an output other than .npy keeps the in-memory path
    np.save(data / "x2.npy", np.load(x)[0])
    code, out, err = run(["apply", str(data / "x2.npy"), "box:3", "-o", str(data / "c.txt")],
                         capsys)
    assert code == 0 and "blocks of up to" not in out, err


def test_memory_stays_at_a_few_blocks(tmp_path):
    """A 64 MiB float32 array in 1 MiB blocks: the command's peak memory grows
    by far less than its input and float64 output, 192 MiB, which the
    in-memory path would hold."""
    x = np.lib.format.open_memmap(tmp_path / "x.npy", mode="w+", dtype=np.float32,
                                  shape=(1024, 128, 128))
    x[...] = 1.0
    del x
    np.save(tmp_path / "small.npy", np.ones((8, 8, 8), np.float32))
    script = textwrap.dedent("""
        import sys
        from ndconv._tools import cli

        def hwm():
            with open("/proc/self/status") as f:
                return next(int(l.split()[1]) for l in f if l.startswith("VmHWM")) / 1024.0

        d = sys.argv[1]
        # warm up: imports, the thread pool, the core's per-thread scratch
        assert cli.main(["apply", d + "/small.npy", "box:3", "-o", d + "/s.npy", "--chunks", "2",
                         "--no-progress"]) == 0
        before = hwm()
        assert cli.main(["apply", d + "/x.npy", "box:3", "-o", d + "/y.npy", "--chunks", "1MiB",
                         "--no-progress", "--workers", "2"]) == 0
        print("GROWTH", hwm() - before)
    """)
    if not os.path.exists("/proc/self/status"):
        pytest.skip("needs /proc (Linux) to read the peak resident memory")
    p = subprocess.run([sys.executable, "-c", script, str(tmp_path)], capture_output=True,
                       text=True, env=subprocess_env(), timeout=300)
    assert p.returncode == 0, p.stderr
    growth = float(p.stdout.split("GROWTH")[1])
    assert growth < 48, growth
    y = np.load(tmp_path / "y.npy", mmap_mode="r")
    # 27 (corner: 8) ones times 1/27, summed in float64 (box:3 is float64)
    assert abs(y[512, 64, 64] - 1.0) <= 27 * 2.3e-16 and abs(y[0, 0, 0] - 8 / 27) <= 8 * 2.3e-16


# ----------------------------------------------------------------------------- errors
def test_blocks_need_npy_or_zarr_and_sane_chunks(data, capsys):
    x, k = str(data / "x.npy"), str(data / "k.npy")
    before = tree(data)
    cases = [
        (["apply", x, k, "-o", str(data / "y.png"), "--chunks", "4"], ["OUTPUT", ".npy or .zarr"]),
        (["apply", str(data / "speech.wav"), "box:3", "-o", str(data / "y.npy"), "--chunks", "4"],
         ["INPUT", ".npy or .zarr"]),
        (["apply", x, k, "-o", str(data / "y.npy"), "--chunks", "0"], ["--chunks 0"]),
        (["apply", x, k, "-o", str(data / "y.npy"), "--chunks", "4,4"], ["--chunks 4,4", "(3)"]),
        (["apply", x, k, "-o", str(data / "y.npy"), "--chunks", "lots"], ["--chunks lots"]),
        (["apply", x, k, "-o", str(data / "y.npy"), "--chunks", "4", "--rescale"], ["--rescale"]),
        (["apply", x, k, "-o", str(data / "y.npy"), "--chunks", "4", "--workers", "0"],
         ["workers"]),
        (["apply", x, "box:3", "-o", str(data / "y.npy"), "--chunks", "4", "--axes", "7"],
         ["--axes 7"]),
        (["apply", x, str(data / "k2.npy"), "-o", str(data / "y.npy"), "--chunks", "4"],
         ["2-D", "3 axes"]),
        (["apply", x, k, "-o", x, "--chunks", "4"], ["is the input file", "--force"]),
    ]
    for argv, words in cases:
        code, _, err = run(argv + ["--no-progress"], capsys)
        assert_usage_error(code, err, *words)
        assert tree(data) == before, argv


def test_zarr_errors(data, capsys, monkeypatch):
    zarr = pytest.importorskip("zarr")
    x, k = str(data / "x.npy"), str(data / "k.npy")
    zarr.open_group(str(data / "g.zarr"), mode="w")
    (data / "plain.zarr").mkdir()
    (data / "plain.zarr" / "notes.txt").write_text("mine")
    (data / "file.zarr").write_text("not a folder")
    to_zarr(data / "x.npy", data / "x.zarr", (8, 8, 8))
    before = tree(data)
    cases = [
        (["apply", str(data / "g.zarr"), k, "-o", str(data / "y.npy")],
         ["g.zarr", "not a readable zarr array"]),
        (["apply", str(data / "none.zarr"), k, "-o", str(data / "y.npy")], ["no such .zarr"]),
        (["apply", str(data / "file.zarr"), k, "-o", str(data / "y.npy")], ["is a file"]),
        (["apply", x, k, "-o", str(data / "plain.zarr")], ["cannot write", "not a zarr store"]),
        (["apply", x, k, "-o", str(data / "file.zarr")], ["cannot write", "not a .zarr folder"]),
        (["apply", str(data / "x.zarr"), k, "-o", str(data / "x.zarr")],
         ["is the input file", "--force"]),
    ]
    for argv, words in cases:
        code, _, err = run(argv + ["--no-progress"], capsys)
        assert_usage_error(code, err, *words)
        assert tree(data) == before, argv
    # zarr or dask missing: say which extra to install
    monkeypatch.setitem(sys.modules, "zarr", None)
    code, _, err = run(["apply", x, k, "-o", str(data / "y.zarr")], capsys)
    assert_usage_error(code, err, "zarr", "ndconv[dask]")
    monkeypatch.setitem(sys.modules, "dask.array", None)
    code, _, err = run(["apply", x, k, "-o", str(data / "y.npy"), "--chunks", "4"], capsys)
    assert_usage_error(code, err, "dask", "ndconv[dask]")
    monkeypatch.undo()
    assert tree(data) == before


def test_existing_zarr_output_and_force_replace_it_whole(data, capsys):
    pytest.importorskip("zarr")
    k = str(data / "k.npy")
    to_zarr(data / "x.npy", data / "x.zarr", (8, 8, 8))
    to_zarr(data / "x.npy", data / "y.zarr", (4, 4, 4))
    x = np.load(data / "x.npy")
    ref = ndconv.convolve(x, np.load(k), "same", method="direct")
    code, _, err = run(["apply", str(data / "x.zarr"), k, "-o", str(data / "y.zarr"), "--method",
                        "direct", "--no-progress"], capsys)
    assert code == 0, err
    assert same_bits(load(data / "y.zarr"), ref)
    code, _, err = run(["apply", str(data / "x.zarr"), k, "-o", str(data / "x.zarr"), "--method",
                        "direct", "--force", "--no-progress"], capsys)
    assert code == 0, err
    assert same_bits(load(data / "x.zarr"), ref)
    assert sorted(os.listdir(data)) == ["k.npy", "k2.npy", "x.npy", "x.zarr", "y.zarr"]


@pytest.mark.parametrize("dst", ["npy", "zarr"])
@pytest.mark.parametrize("failure", ["read", "write", "space", "interrupt"])
def test_a_failure_midway_leaves_every_file_as_it_was(data, capsys, monkeypatch, dst, failure):
    if dst == "zarr":
        pytest.importorskip("zarr")
        if failure in ("write", "space"):
            pytest.skip("the .npy writer's failures")
    np.save(data / "old.npy", np.arange(3.0))
    calls = []
    if failure in ("read", "interrupt"):
        real = _io._NpyBlocks.__getitem__

        def flaky(self, index):
            calls.append(index)
            if len(calls) == 3:
                if failure == "interrupt":
                    raise KeyboardInterrupt
                raise OSError("cannot read %s: Input/output error" % self.path)
            return real(self, index)

        monkeypatch.setattr(_io._NpyBlocks, "__getitem__", flaky)
    elif failure == "write":
        real_set = _io._NpyTarget.__setitem__

        def flaky_set(self, index, value):
            calls.append(index)
            if len(calls) == 2:
                raise OSError(28, "No space left on device")
            real_set(self, index, value)

        monkeypatch.setattr(_io._NpyTarget, "__setitem__", flaky_set)
    else:
        if not hasattr(os, "posix_fallocate"):
            pytest.skip("no posix_fallocate here")

        def full(fd, offset, length):
            raise OSError(28, "No space left on device")

        monkeypatch.setattr(os, "posix_fallocate", full)
    before = tree(data)
    for target in ("old." + dst if dst == "npy" else "new.zarr", "new." + dst):
        code, _, err = run(["apply", str(data / "x.npy"), str(data / "k.npy"), "-o",
                            str(data / target), "--chunks", "4", "--workers", "1",
                            "--no-progress"], capsys)
        if failure == "interrupt":
            assert code == 130 and "interrupted" in err
        else:
            words = {"read": ["cannot read", "x.npy", "Input/output error"],
                     "write": ["cannot write", target, "No space"],
                     "space": ["cannot write", target, "No space"]}[failure]
            assert_usage_error(code, err, *words)
        assert tree(data) == before, target       # no partial output, no temporary left
        calls.clear()


def test_progress_bar_counts_the_tasks():
    import dask.array as da
    stream = io.StringIO()
    x = da.ones((12, 12), chunks=4)
    with dask.config.set(scheduler="threads"), dask_progress("blurring", stream, enabled=True):
        total = float((x + 1).sum().compute())
    assert total == 288.0
    text = stream.getvalue()
    assert "blurring" in text
    frames = [f for f in text.split("\r") if "/" in f]
    done, n = frames[-1].split("]")[1].split()[0].split("/")
    assert done == n and int(n) >= 9
    assert text.endswith("\r")           # the line is cleared at the end
    quiet = io.StringIO()
    with dask_progress("x", quiet, enabled=False):
        x.sum().compute()
    assert quiet.getvalue() == ""
