"""Build and runtime configuration report."""
from __future__ import annotations

import sys
from typing import Any, TextIO

import numpy as np

from . import _core as _dispatch
from ._plan import fft as _fft
from ._plan import method as _method


def config() -> dict[str, Any]:
    """The build and runtime configuration as a dict."""
    return {
        "ndconv": __import__("ndconv").__version__,
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "openmp": _dispatch.openmp_enabled(),
        "max_threads": _dispatch.omp_max_threads(),
        "num_procs": _dispatch.omp_num_procs(),
        "omp_wait_policy": _dispatch.WAIT_POLICY,
        "simd": _dispatch.SIMD_LEVEL,
        "kernel_module": _dispatch.core().__name__,
        **{"%s_path" % path: what for path, what in _dispatch.describe().items()},
        "fft": _fft.backend(),
        "auto_cost_model": _method.constants_name(_method.build_name()),
    }


def show_config(file: TextIO | None = None) -> None:
    """Print how ndconv was built and what it will use at run time.

    Reports whether the core has OpenMP (and how many threads it would use),
    the wait policy its OpenMP runtime was loaded with (unless you set
    ``OMP_WAIT_POLICY`` or ``GOMP_SPINCOUNT`` yourself, ndconv's runtime gets
    ``PASSIVE`` with a short spin, ``GOMP_SPINCOUNT=100000``: long spinning
    starves threads on a busy machine, none at all makes every call wait for a
    sleeping worker; on a shared, busy machine set ``GOMP_SPINCOUNT=0``.  The
    variables are set only while ndconv's runtime loads: the process
    environment, other OpenMP runtimes and subprocesses are left as they
    were), the SIMD level of the kernel module picked for this CPU
    (``NDCONV_SIMD`` overrides it) and what each compiled path runs on it
    (direct kernels, the layer ``ndconv.conv``, the unfused core), the FFT
    library, and whose constants ``method="auto"`` weighs the direct method
    with (the build's own for this CPU model, the build's, or another's).  Without OpenMP
    the core still works, single-threaded.
    """
    file = sys.stdout if file is None else file
    cfg = config()
    width = max(len(k) for k in cfg)
    for key, val in cfg.items():
        if key == "openmp" and not val:
            val = "False (single-threaded build: the compiler had no OpenMP)"
        print("%-*s : %s" % (width, key, val), file=file)
