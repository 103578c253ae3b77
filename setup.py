"""Build the compiled core.

Two modules are built from the same kernel source (``ndconv/_core/kernels.pxi``):
``ndconv._core.baseline`` with the compiler's baseline flags, and on x86-64 also
``ndconv._core.avx2`` with ``-mavx2 -mfma`` and ``ndconv._core.avx512`` with
AVX-512 F/VL/BW/DQ, 512-bit vectors and wider register blocks.
``ndconv._core`` picks one at import from the CPU's features, so one wheel
runs everywhere and still uses the widest vectors the CPU has.

Environment switches
--------------------
NDCONV_DISABLE_OPENMP=1   build without OpenMP (single-threaded core)
NDCONV_REQUIRE_OPENMP=1   fail the build if the compiler has no OpenMP (CI, wheels)
NDCONV_BOUNDSCHECK=1      compile with Cython's bounds and wraparound checks (debug job)
NDCONV_DISABLE_AVX2=1     do not build the AVX2 module
NDCONV_DISABLE_AVX512=1   do not build the AVX-512 module
"""
import glob
import os
import platform
import shutil
import subprocess
import sys
import sysconfig
import tempfile

from Cython.Build import cythonize
from setuptools import Extension, setup

OPENMP_PROBE = r"""
#include <omp.h>
#include <stdio.h>
int main(void) {
    int n = 0;
    #pragma omp parallel reduction(+:n)
    n += 1;
    printf("%d\n", n >= 1 && omp_get_max_threads() >= 1);
    return 0;
}
"""


def _env_flag(name):
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def _compiler_kind():
    cc = (os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc").split()[0]
    if sys.platform == "win32":
        return "msvc", cc
    if sys.platform == "darwin":
        return "apple-clang", cc
    return "gnu", cc


def openmp_flags():
    """Return (compile_args, link_args) for OpenMP, or ([], []) if unavailable.

    The flags are validated by compiling and running a tiny OpenMP program:
    a compiler that accepts ``-fopenmp`` but cannot link libgomp would give an
    extension that fails at import with an undefined ``omp_*`` symbol.
    """
    if _env_flag("NDCONV_DISABLE_OPENMP"):
        return [], []
    kind, cc = _compiler_kind()
    if kind == "msvc":
        return ["/openmp"], []
    if kind == "apple-clang":
        candidates = [(["-Xpreprocessor", "-fopenmp"], ["-lomp"]), (["-fopenmp"], ["-fopenmp"])]
    else:
        candidates = [(["-fopenmp"], ["-fopenmp"])]
    if shutil.which(cc) is None:
        return candidates[0]
    for cflags, lflags in candidates:
        with tempfile.TemporaryDirectory() as tmp:
            src = os.path.join(tmp, "probe.c")
            exe = os.path.join(tmp, "probe")
            with open(src, "w") as f:
                f.write(OPENMP_PROBE)
            try:
                subprocess.run([cc, *cflags, src, "-o", exe, *lflags], check=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                res = subprocess.run([exe], check=True, capture_output=True, text=True)
            except (OSError, subprocess.CalledProcessError):
                continue
            if res.stdout.strip() == "1":
                return cflags, lflags
    return [], []


def main():
    omp_c, omp_l = openmp_flags()
    if not omp_c and _env_flag("NDCONV_REQUIRE_OPENMP"):
        raise SystemExit("NDCONV_REQUIRE_OPENMP is set but the compiler has no working OpenMP")
    kind, _ = _compiler_kind()
    if kind == "msvc":
        base = ["/O2"]
        avx2 = ["/arch:AVX2"]
        avx512 = ["/arch:AVX512"]
    else:
        # -O3: gcc 12 does not vectorise the inner loops at the -O2 some Pythons default to.
        # -falign-loops=32: a hot loop straddling a 64-byte boundary ran up to 2x slower.
        # Never -ffast-math: it breaks isnan() and sets flush-to-zero for the whole process.
        # -fcx-limited-range: complex products by the textbook formula (as numpy's), not
        # through the __mulsc3 library call for C99's inf recovery, which blocks vectorising.
        # -fno-tree-loop-distribute-patterns: gcc otherwise turns the register block's
        # zeroing and store loops into memset/memcpy through the stack (rep stosq and
        # 16-byte moves), which cost more than a 3x3 kernel's arithmetic.
        base = ["-O3", "-falign-loops=32", "-fcx-limited-range", "-fno-tree-loop-distribute-patterns",
                "-g0", "-Wno-unused-function", "-Wno-unreachable-code"]
        avx2 = ["-mavx2", "-mfma"]
        # gcc's generic tuning prefers 256-bit vectors even with AVX-512 enabled
        avx512 = avx2 + ["-mavx512f", "-mavx512vl", "-mavx512bw", "-mavx512dq",
                         "-mprefer-vector-width=512"]
    is_x86 = platform.machine().lower() in ("x86_64", "amd64", "i686", "x86")

    macros = [("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")]
    # the C sources every build includes (header-only, compiled per instruction set)
    depends = sorted(glob.glob("ndconv/_core/src/*.[ch]")) + ["ndconv/_core/csrc.pxd"]
    exts = [Extension("ndconv._core.baseline", ["ndconv/_core/baseline.pyx"], extra_compile_args=base + omp_c,
                      extra_link_args=omp_l, define_macros=macros, depends=depends)]
    if is_x86 and not _env_flag("NDCONV_DISABLE_AVX2"):
        exts.append(Extension("ndconv._core.avx2", ["ndconv/_core/avx2.pyx"],
                              extra_compile_args=base + avx2 + omp_c, extra_link_args=omp_l,
                              define_macros=macros, depends=depends))
    if is_x86 and not _env_flag("NDCONV_DISABLE_AVX512"):
        exts.append(Extension("ndconv._core.avx512", ["ndconv/_core/avx512.pyx"],
                              extra_compile_args=base + avx512 + omp_c, extra_link_args=omp_l,
                              define_macros=macros + [("NDCONV_WIDE_BLOCKS", "1")], depends=depends))
    for extra in EXTRA_EXTENSIONS:
        exts.append(Extension(extra, [extra.replace(".", "/") + ".pyx"],
                              extra_compile_args=base + omp_c, extra_link_args=omp_l,
                              define_macros=macros, depends=depends))

    debug = _env_flag("NDCONV_BOUNDSCHECK")
    directives = {
        "language_level": 3,
        "boundscheck": debug,
        "wraparound": debug,
        "initializedcheck": debug,
        "cdivision": True,
        "nonecheck": False,
        "embedsignature": True,
        "freethreading_compatible": True,
    }
    setup(ext_modules=cythonize(exts, compiler_directives=directives, quiet=True))


# Further single-build Cython modules (module name -> its .pyx path).
EXTRA_EXTENSIONS = []

if __name__ == "__main__":
    main()
