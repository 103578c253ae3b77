"""Memory of ``ndconv apply`` out of core: the resident memory over time.

Writes a float32 volume larger than the memory it should take (default
8192 x 512 x 512, 8 GiB) as .npy, block by block, and a float32 Gaussian
kernel; runs ``python -m ndconv apply volume.npy kernel.npy -o smooth.npy``
(blocks of ``--chunks``, the .npy input mapped one block at a time, the output
written block by block) and samples the command's resident memory (RSS, with
psutil, every ``--interval`` s) until it ends.  Then checks a slab of the
output against one in-memory ``ndconv.convolve`` call on the slab and its halo,
stores the samples in ``docs/_static/dask/ooc_rss.json``, draws
``docs/_static/dask/ooc_rss.png`` from them and deletes the big files.
psutil and matplotlib are needed here only (the ``test`` and ``docs`` extras).
Disk: twice the volume.  Time: a few minutes on 2 cores::

    python benchmarks/ooc_rss.py                       # the 8 GiB run of the docs
    python benchmarks/ooc_rss.py --shape 512,512,512   # 0.5 GiB, a minute
    python benchmarks/ooc_rss.py --replot              # redraw from the stored JSON
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
OUT = os.path.join(ROOT, "docs", "_static", "dask")
GiB = float(1 << 30)


def write_volume(path, shape, seed=0, slab_bytes=256 << 20):
    """A float32 .npy of uniform samples in [0, 1), written one slab of planes
    at a time (never the whole volume in memory)."""
    shape = tuple(shape)
    header = {"descr": np.lib.format.dtype_to_descr(np.dtype(np.float32)),
              "fortran_order": False, "shape": shape}
    plane = int(np.prod(shape[1:])) * 4
    step = max(1, slab_bytes // plane)
    rng = np.random.default_rng(seed)
    with open(path, "wb") as f:
        np.lib.format.write_array_header_1_0(f, header)
        for i in range(0, shape[0], step):
            n = min(step, shape[0] - i)
            f.write(rng.random((n,) + shape[1:], dtype=np.float32).tobytes())


def sample_rss(cmd, interval):
    """Run ``cmd``; ``(seconds, rss_bytes, returncode, stderr)`` sampled until it exits."""
    import psutil
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc = psutil.Process(p.pid)
    ts, rss = [], []
    while p.poll() is None:
        try:
            rss.append(proc.memory_info().rss)
            ts.append(time.perf_counter() - t0)
        except psutil.Error:      # exited between poll() and the sample
            break
        time.sleep(interval)
    out, err = p.communicate()
    return ts, rss, p.returncode, out.decode(), err.decode()


def check_slab(x_path, k, y_path, planes=32):
    """Max |difference| between the output's first planes and one in-memory
    call on the input's first planes plus the kernel's reach (the zero
    boundary at the top is the volume's own; below, the reach is real data)."""
    import ndconv
    x = np.load(x_path, mmap_mode="r")
    y = np.load(y_path, mmap_mode="r")
    r = k.shape[0] - 1
    ref = ndconv.convolve(np.array(x[:planes + r]), k, "same")[:planes]
    return float(np.max(np.abs(np.array(y[:planes]) - ref)))


def plot(data, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    ts, rss = np.array(data["t_s"]), np.array(data["rss_bytes"]) / GiB
    fig, ax = plt.subplots(figsize=(7.5, 3.4))
    ax.plot(ts, rss, color="black", lw=1.2, label="resident memory of ndconv apply")
    ax.axhline(data["input_bytes"] / GiB, color="tab:red", ls="--", lw=1,
               label="the input volume (%.1f GiB)" % (data["input_bytes"] / GiB))
    ax.axhline(1.5, color="tab:orange", ls=":", lw=1, label="1.5 GiB")
    ax.annotate("peak %.2f GiB" % (data["peak_rss_bytes"] / GiB),
                (ts[int(np.argmax(rss))], rss.max()), xytext=(0, 8),
                textcoords="offset points", ha="center", fontsize=9)
    ax.set_xlabel("seconds")
    ax.set_ylabel("GiB")
    ax.set_ylim(0, data["input_bytes"] / GiB * 1.1)
    ax.set_xlim(0, ts[-1] if ts.size else 1)
    ax.set_title("ndconv apply %s float32 (%.0f GiB), %s, --chunks %s, %d threads"
                 % ("x".join(map(str, data["shape"])), data["input_bytes"] / GiB, data["kernel"],
                    data["chunks"], data["threads"]), fontsize=9)
    ax.legend(loc="center right", fontsize=8, frameon=False)
    fig.tight_layout()
    fig.savefig(path, dpi=96)
    plt.close(fig)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--shape", default="8192,512,512", help="volume shape (default 8 GiB)")
    p.add_argument("--sigma", type=float, default=0.75, help="Gaussian sigma (7x7x7 at 0.75)")
    p.add_argument("--chunks", default="32MiB")
    p.add_argument("--workers", type=int, default=None)
    p.add_argument("--interval", type=float, default=0.1, help="seconds between RSS samples")
    p.add_argument("--dir", default=None, help="scratch folder for the big files (default: a "
                   "new one in the system's temporary folder)")
    p.add_argument("--keep", action="store_true", help="keep the input and output files")
    p.add_argument("--out", default=OUT, help="folder of the JSON and PNG (docs/_static/dask)")
    p.add_argument("--replot", action="store_true", help="only redraw the PNG from the JSON")
    args = p.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    json_path, png_path = (os.path.join(args.out, "ooc_rss." + e) for e in ("json", "png"))
    if args.replot:
        with open(json_path) as f:
            plot(json.load(f), png_path)
        return 0

    from ndconv._tools.named_kernels import named_kernel
    shape = tuple(int(s) for s in args.shape.split(","))
    k = named_kernel("gaussian:%g" % args.sigma, len(shape)).astype(np.float32)
    scratch = tempfile.mkdtemp(prefix="ooc-", dir=args.dir)
    x_path, k_path, y_path = (os.path.join(scratch, n) for n in ("x.npy", "k.npy", "y.npy"))
    try:
        t0 = time.perf_counter()
        write_volume(x_path, shape)
        np.save(k_path, k)
        print("wrote the %.2f GiB input in %.0f s" % (os.path.getsize(x_path) / GiB,
                                                       time.perf_counter() - t0), flush=True)
        cmd = [sys.executable, "-m", "ndconv", "apply", x_path, k_path, "-o", y_path,
               "--chunks", args.chunks, "--no-progress"]
        if args.workers:
            cmd += ["--workers", str(args.workers)]
        load_before = os.getloadavg()
        ts, rss, code, out, err = sample_rss(cmd, args.interval)
        if code != 0:
            raise SystemExit("ndconv apply failed (%d): %s" % (code, err))
        print(out.strip())
        wall = ts[-1] if ts else 0.0
        diff = check_slab(x_path, k, y_path)
        import ndconv._core as _core
        data = {"shape": list(shape), "input_bytes": os.path.getsize(x_path),
                "kernel": "%dx%dx%d Gaussian (sigma %g)" % (k.shape + (args.sigma,)),
                "chunks": args.chunks, "threads": args.workers or _core.omp_max_threads(),
                "wall_s": wall, "peak_rss_bytes": max(rss), "check_max_abs_diff": diff,
                "load_before": load_before, "load_after": os.getloadavg(),
                "cores": os.cpu_count(), "date": time.strftime("%Y-%m-%d %H:%M"),
                "command": "ndconv apply x.npy k.npy -o y.npy --chunks %s" % args.chunks,
                "t_s": [round(t, 3) for t in ts], "rss_bytes": rss}
        with open(json_path, "w") as f:
            json.dump(data, f)
            f.write("\n")
        plot(data, png_path)
        print("peak RSS %.3f GiB over %.0f s; slab check max |diff| %.2e; load %s -> %s"
              % (max(rss) / GiB, wall, diff, load_before, data["load_after"]))
    finally:
        if not args.keep:
            for path in (x_path, k_path, y_path):
                if os.path.exists(path):
                    os.unlink(path)
            for name in os.listdir(scratch):     # a temporary file left by a failed run
                os.unlink(os.path.join(scratch, name))
            os.rmdir(scratch)
    return 0


if __name__ == "__main__":
    sys.exit(main())
