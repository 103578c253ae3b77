"""``ndconv bench``: ndconv against the convolution libraries installed here.

Runs the reference workloads W1-W9 (:mod:`.workloads`) at 1 and 2 threads and
prints, for each workload, boundary convention and thread count, ndconv's
median time and its ratio to the fastest call of each installed library
(scipy, numpy, OpenCV as ``cv2``, PyTorch; :mod:`.libraries`) for the same
problem and the same boundary convention.  Every library's output is checked
against ndconv's (:mod:`.measure`), so a ratio is only shown for calls that
compute the same thing (:mod:`.report`).

The names below are the package's interface: the asv suite and
``benchmarks/plot_performance.py`` use them.
"""
import argparse
import json
import sys

from . import chunked as _chunked
from .libraries import FAMILIES, LIBRARIES, Peer, ndconv_call, peer_modules, peers, thread_settings
from .measure import (
    agreement_tolerance,
    estimate_seconds,
    machine_info,
    relative_error,
    run,
    time_calls,
    to_numpy,
)
from .report import format_table, summarize, table_rows
from .workloads import SIZES, WORKLOADS, Workload, select, workload

__all__ = ["FAMILIES", "LIBRARIES", "Peer", "ndconv_call", "peer_modules", "peers", "thread_settings",
           "agreement_tolerance", "estimate_seconds", "machine_info", "relative_error", "run",
           "time_calls", "to_numpy", "format_table", "summarize", "table_rows", "SIZES", "WORKLOADS",
           "Workload", "select", "workload", "add_parser", "main"]


_DESCRIPTION = """\
Time ndconv against the convolution libraries installed here (scipy, numpy,
OpenCV, PyTorch) on the reference workloads W1-W9 and print ndconv's time and
its ratio to each library's fastest call, at 1 and 2 threads.  The calls of
one workload are timed in interleaved rounds, so that a slow period of a shared
machine falls on all of them alike.  Takes a few minutes (--quick: under a
minute).  Run it on an otherwise idle machine."""


def _add_arguments(p):
    p.add_argument("--quick", action="store_true", help="smaller sizes, fewer repeats (under a minute)")
    p.add_argument("--size", choices=SIZES, default=None,
                   help="problem sizes: full (the default), quick (= --quick), or tiny (seconds; "
                        "checks that every library computes the same thing, timings meaningless)")
    p.add_argument("--threads", default="1,2", help="comma-separated thread counts (default 1,2)")
    p.add_argument("--only", default="", help="comma-separated workloads, e.g. W1,W3 (default all)")
    p.add_argument("--budget", type=float, default=None,
                   help="seconds of timed calls per measurement (default 0.5; quick 0.08)")
    p.add_argument("--json", default=None, metavar="PATH", help="also write every measurement as JSON")
    p.add_argument("--verbose", action="store_true", help="print every call's time on stderr")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    g = p.add_argument_group("dask", "ndconv.dask against one in-memory call and dask-image "
                                     "(needs the dask extra)")
    g.add_argument("--dask", action="store_true",
                   help="time ndconv.dask instead (default: 4096^2 float32 5x5 at 1024^2 and "
                        "512^2 chunks; --only picks cases: %s)"
                        % ", ".join(c[0] for c in _chunked.CASES))
    g.add_argument("--big", action="store_true",
                   help="with --dask: all cases (8192^2, 31x31, 1-D 10^8 x 255, 512^3 x 7^3; "
                        "about 2 GiB of memory and many minutes)")
    g.add_argument("--cluster", action="store_true",
                   help="with --dask: also a LocalCluster of 2 single-threaded processes")


def _run_dask(args):
    try:
        result = _chunked.main_args(args, sys.stdout)
    except ImportError as exc:
        raise SystemExit("ndconv bench --dask: %s (pip install \"ndconv[dask]\")" % exc) from None
    except ValueError as exc:
        raise SystemExit("ndconv bench: %s" % exc) from None
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1, default=str)
    return 0


def _run_args(args):
    if args.dask:
        return _run_dask(args)
    if args.big or args.cluster:
        raise SystemExit("ndconv bench: --big and --cluster go with --dask")
    size = args.size or ("quick" if args.quick else "full")
    if args.quick and args.size not in (None, "quick"):
        raise SystemExit("ndconv bench: --quick and --size %s contradict each other" % args.size)
    try:
        threads = [int(s) for s in args.threads.split(",") if s.strip()]
    except ValueError:
        raise SystemExit("ndconv bench: --threads must be a comma-separated list of integers, got %r"
                         % args.threads) from None
    try:
        result = run(size=size, threads=threads, only=args.only, budget=args.budget,
                     progress=False if args.no_progress else None,
                     verbose=sys.stderr if args.verbose else None)
    except ValueError as exc:
        raise SystemExit("ndconv bench: %s" % exc) from None
    print(format_table(result))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1, default=str)
    return 0


def add_parser(subparsers):
    """Register ``bench`` on an argparse subparsers object (for ``ndconv``'s CLI)."""
    p = subparsers.add_parser("bench", help="time ndconv against scipy, numpy, OpenCV and torch",
                              description=_DESCRIPTION)
    _add_arguments(p)
    p.set_defaults(func=_run_args)
    return p


def main(argv=None):
    """``ndconv bench [--quick] ...``; returns the exit status."""
    p = argparse.ArgumentParser(prog="ndconv bench", description=_DESCRIPTION)
    _add_arguments(p)
    return _run_args(p.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
