"""Build the compiled core.

Several modules are built from the same kernel source (``ndconv/_core/kernels.pxi``):
``ndconv._core.baseline`` with the compiler's baseline flags (and without fused
multiply-adds); on x86-64 also ``ndconv._core.avx2`` with ``-mavx2 -mfma`` and
``ndconv._core.avx512`` with AVX-512 F/VL/BW/DQ, 512-bit vectors and wider
register blocks; on aarch64 ``ndconv._core.neon``, the NEON (ASIMD) blocks with
fused multiply-adds.  ``ndconv._core`` picks one at import from the CPU's
features, so one wheel runs everywhere and still uses the widest vectors the CPU has.

Compilers
---------
gcc, clang (also Apple clang) and MSVC.  Every optional gcc/clang flag is tried
on a small file with the compiler that builds the extensions (``CC``, ``CFLAGS``,
``CPPFLAGS``, ``LDFLAGS``, ``LDSHARED`` are honoured, as setuptools does) and
left out if rejected.  The AVX modules are built only for an x86 target and the
NEON module only for an aarch64 one, and neither by MSVC: the CPU-feature check
that selects the AVX modules uses gcc/clang builtins, so under MSVC they could
never be selected, and the NEON blocks rely on gcc/clang's vector extensions.  The target is taken from
``ARCHFLAGS`` (macOS), then ``_PYTHON_HOST_PLATFORM`` (cross builds), then
``sysconfig.get_platform()``.

OpenMP is found the usual ways: ``-fopenmp`` (gcc; clang with libomp), then
Apple clang's ``-Xpreprocessor -fopenmp -lomp`` with the include and library
folders from ``CPPFLAGS``/``LDFLAGS``, then libomp under ``$CONDA_PREFIX``,
``$PREFIX`` (conda-build), ``brew --prefix libomp``, ``/opt/homebrew/opt/libomp``
and ``/usr/local/opt/libomp``.  Each candidate is compiled and linked as a
shared library and, when the build runs on its target, loaded and run; a cross
build checks that it links.

Environment switches
--------------------
NDCONV_DISABLE_OPENMP=1   build without OpenMP (single-threaded core)
NDCONV_REQUIRE_OPENMP=1   fail the build if the compiler has no OpenMP (CI, wheels)
NDCONV_BOUNDSCHECK=1      compile with Cython's bounds and wraparound checks (debug job)
NDCONV_DISABLE_AVX2=1     do not build the AVX2 module
NDCONV_DISABLE_AVX512=1   do not build the AVX-512 module
NDCONV_DISABLE_NEON=1     do not build the NEON module (aarch64)
NDCONV_BUILD_JOBS=N       modules cythonized and compiled at once (default: the number
                          of CPUs; ``build_ext -j N`` sets it too)
NDCONV_EXTRA_CFLAGS=...   compile flags put after ndconv's own, so they win (for example
                          ``-O1`` for a sanitizer build: ASan + UBSan at -O3 compile 4x slower)
"""
import glob
import os
import platform
import shlex
import shutil
import subprocess
import sys
import sysconfig
import tempfile

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

# Compile flags for gcc and clang, in order.  Each is kept only if the compiler
# accepts it; a tuple lists alternatives, of which the first accepted is kept.
UNIX_FLAGS = [
    # gcc 12 does not vectorise the inner loops at the -O2 some Pythons default to.
    "-O3",
    # a hot loop straddling a 64-byte boundary ran up to 2x slower.
    "-falign-loops=32",
    # complex products by the textbook formula (as numpy's), not through the
    # __mulsc3 library call for C99's inf recovery, which blocks vectorising
    # (clang >= 18 spells it -fcomplex-arithmetic=basic; older clang has neither).
    ("-fcx-limited-range", "-fcomplex-arithmetic=basic"),
    # gcc otherwise turns the register block's zeroing and store loops into
    # memset/memcpy through the stack, which cost more than a 3x3 kernel's arithmetic.
    "-fno-tree-loop-distribute-patterns",
    "-g0",
    "-Wno-unused-function",
    "-Wno-unreachable-code",
    # Never -ffast-math: it breaks isnan() and sets flush-to-zero for the whole process.
]
MSVC_FLAGS = ["/O2"]

# Modules built from the kernels with extra instruction sets (gcc/clang):
# module -> (compile flags, macros, target machines).  Each is left out if the compiler
# rejects its flags, or if any target of the build is not one of its machines.
AVX2 = ["-mavx2", "-mfma"]
X86 = {"x86_64", "amd64", "i386", "i586", "i686", "x86", "win32"}
ARM64 = {"aarch64", "arm64"}
ISA_MODULES = {
    "ndconv._core.avx2": (AVX2, [], X86),
    # gcc's generic tuning prefers 256-bit vectors even with AVX-512 enabled
    "ndconv._core.avx512": (AVX2 + ["-mavx512f", "-mavx512vl", "-mavx512bw", "-mavx512dq",
                                    "-mprefer-vector-width=512"], [("NDCONV_WIDE_BLOCKS", "1")], X86),
    # ASIMD is in every aarch64 CPU's baseline: no flag, but the macro that gives this
    # module the explicit fused multiply-adds the baseline build must not have
    "ndconv._core.neon": ([], [("NDCONV_NEON", "1")], ARM64),
}
ISA_SWITCHES = {"ndconv._core.avx2": "NDCONV_DISABLE_AVX2", "ndconv._core.avx512": "NDCONV_DISABLE_AVX512",
                "ndconv._core.neon": "NDCONV_DISABLE_NEON"}

# Modules built once, with the baseline flags (the baseline build of the kernels and the
# layer, with the OpenMP and CPU-feature queries; further single-build modules go here).
BASELINE_MODULES = ["ndconv._core.baseline"]

# The baseline build is the unfused core (each product rounded, as in scipy's and numpy's
# loops), which integer outputs and tests rely on: compilers must not contract a*b + c into
# fused multiply-adds there.  gcc does by default wherever the ISA has them (aarch64, not
# x86-64's baseline), in some loops and not others; clang within an expression.  The direct
# path's blocks never rely on contraction: their multiply-adds are spelled out (ndconv_fmaf/
# _fmad, the vector layer's), fused in the ISA builds at every optimisation level, whereas
# gcc contracts only from -O2 on, so that an -O1 build (NDCONV_EXTRA_CFLAGS) is bitwise
# the same across blocks too.
UNFUSED_MODULE = "ndconv._core.baseline"

OPENMP_PROBE = r"""
#include <omp.h>
#ifdef _WIN32
__declspec(dllexport)
#endif
int ndconv_omp_probe(void) {
    int n = 0;
    #pragma omp parallel reduction(+:n)
    n += 1;
    return n >= 1 && omp_get_max_threads() >= 1;
}
"""


def _env_flag(name):
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def target_machines():
    """The CPU architectures the build is for, lower case (several for a macOS universal build)."""
    archflags = os.environ.get("ARCHFLAGS", "")
    if sys.platform == "darwin" and archflags:
        words = shlex.split(archflags)
        archs = {words[i + 1].lower() for i, w in enumerate(words[:-1]) if w == "-arch"}
        if archs:
            return archs
    plat = os.environ.get("_PYTHON_HOST_PLATFORM") or sysconfig.get_platform()
    machine = plat.rsplit("-", 1)[-1].lower()
    if machine == "universal2":
        return {"x86_64", "arm64"}
    if machine in ("intel", "fat", "fat3", "fat64", "universal"):
        return {"x86_64"} if machine == "intel" else {"x86_64", "arm64"}
    return {machine}


def is_cross_build():
    """True if the extensions cannot be loaded by the Python running the build."""
    host = platform.machine().lower()
    host = {"amd64": "x86_64", "aarch64": "arm64"}.get(host, host)
    targets = {{"amd64": "x86_64", "aarch64": "arm64", "win32": "x86"}.get(m, m) for m in target_machines()}
    return host not in targets


def _libomp_prefixes():
    """Folders that may hold libomp (include/omp.h, lib/libomp.*), in the usual order."""
    prefixes = [os.environ.get("CONDA_PREFIX"), os.environ.get("PREFIX")]
    if sys.platform == "darwin":
        brew = shutil.which("brew")
        if brew:
            try:
                prefixes.append(subprocess.run([brew, "--prefix", "libomp"], capture_output=True,
                                               text=True, timeout=60).stdout.strip())
            except (OSError, subprocess.SubprocessError):
                pass
        prefixes += ["/opt/homebrew/opt/libomp", "/usr/local/opt/libomp"]
    seen = []
    for p in prefixes:
        if p and os.path.isfile(os.path.join(p, "include", "omp.h")) and p not in seen:
            seen.append(p)
    return seen


class BuildExt(build_ext):
    """Chooses the flags for the compiler at hand, then cythonizes and compiles in parallel."""

    def finalize_options(self):
        super().finalize_options()
        if not self.parallel:
            jobs = os.environ.get("NDCONV_BUILD_JOBS", "").strip()
            self.parallel = int(jobs) if jobs else (os.cpu_count() or 1)

    # -- probing --------------------------------------------------------------------
    def _try(self, source, compile_args=(), link_args=None, run=None):
        """Compile ``source`` with the extensions' compiler (and link it as a shared
        library if ``link_args`` is given; and call ``run`` in it); True on success."""
        with tempfile.TemporaryDirectory() as tmp:
            src = os.path.join(tmp, "probe.c")
            with open(src, "w") as f:
                f.write(source)
            devnull = os.open(os.devnull, os.O_WRONLY)
            saved = os.dup(1), os.dup(2)
            try:
                # the compiler's complaints about a rejected flag are expected: keep them off the log
                os.dup2(devnull, 1)
                os.dup2(devnull, 2)
                objs = self.compiler.compile([src], output_dir=tmp, extra_postargs=list(compile_args))
                if link_args is None:
                    return True
                lib = os.path.join(tmp, "probe" + (sysconfig.get_config_var("EXT_SUFFIX") or ".so"))
                self.compiler.link_shared_object(objs, lib, extra_postargs=list(link_args),
                                                 export_symbols=["ndconv_omp_probe"])
            except Exception:
                return False
            finally:
                os.dup2(saved[0], 1)
                os.dup2(saved[1], 2)
                for fd in (devnull, *saved):
                    os.close(fd)
            if run is None:
                return True
            code = "import ctypes, sys; print(ctypes.CDLL(sys.argv[1]).%s())" % run
            try:
                res = subprocess.run([sys.executable, "-c", code, lib], capture_output=True,
                                     text=True, timeout=120)
            except (OSError, subprocess.SubprocessError):
                return False
            return res.returncode == 0 and res.stdout.strip() == "1"

    def _accepts(self, flags):
        # -Werror: clang only warns about some flags it ignores ("argument unused")
        return self._try("int ndconv_probe(void);\nint ndconv_probe(void) { return 0; }\n",
                         ["-Werror", *flags])

    def _flags(self, wanted):
        first = [item if isinstance(item, str) else item[0] for item in wanted]
        if self._accepts(first):      # the usual case with gcc: one compile, not one per flag
            return first
        kept = []
        for item in wanted:
            for flag in (item,) if isinstance(item, str) else item:
                if self._accepts(kept + [flag]):
                    kept.append(flag)
                    break
        return kept

    def _openmp(self):
        """(compile_args, link_args) for OpenMP, or None if this compiler has none."""
        if self.compiler.compiler_type == "msvc":
            # every MSVC has OpenMP 2.0 (vcomp), which is all the core's prange needs
            return ["/openmp"], []
        candidates = [(["-fopenmp"], ["-fopenmp"]), (["-Xpreprocessor", "-fopenmp"], ["-lomp"])]
        for prefix in _libomp_prefixes():
            lib = os.path.join(prefix, "lib")
            candidates.append((["-Xpreprocessor", "-fopenmp", "-I" + os.path.join(prefix, "include")],
                               ["-L" + lib, "-lomp", "-Wl,-rpath," + lib]))
        run = None if is_cross_build() else "ndconv_omp_probe"
        # a probe that cannot be run must at least resolve every symbol when it links
        strict = [] if run else ["-Wl,-undefined,error" if sys.platform == "darwin" else "-Wl,-z,defs"]
        for cflags, lflags in candidates:
            if self._try(OPENMP_PROBE, cflags, lflags + strict, run=run):
                return cflags, lflags
        return None

    # -- the build ------------------------------------------------------------------
    def plan(self):
        """Decide, for the compiler at hand, which extensions to build and with which
        flags; returns ``(extensions, Cython directives)``.  ``build_extensions`` runs
        it, and so does ``tools/build_flags.py`` for a cross build that cannot go
        through setuptools (its flags are then exactly the ones a build would use)."""
        msvc = self.compiler.compiler_type == "msvc"
        base = list(MSVC_FLAGS) if msvc else self._flags(UNIX_FLAGS)
        omp = None if _env_flag("NDCONV_DISABLE_OPENMP") else self._openmp()
        if omp is None and _env_flag("NDCONV_REQUIRE_OPENMP"):
            raise SystemExit("NDCONV_REQUIRE_OPENMP is set but the compiler has no working OpenMP")
        omp_c, omp_l = omp or ([], [])

        kept = []
        for ext in self.extensions:
            isa, macros, _ = ISA_MODULES.get(ext.name, ([], [], None))
            if ext.name in ISA_MODULES and (msvc or not self._accepts(base + isa)):
                print("ndconv: not building %s (the compiler cannot, or it could never be selected)"
                      % ext.name)
                continue
            ext.extra_compile_args = base + isa + omp_c + list(ext.extra_compile_args)
            if ext.name == UNFUSED_MODULE and not msvc and self._accepts(base + ["-ffp-contract=off"]):
                ext.extra_compile_args.append("-ffp-contract=off")
            # last on the command line, so they override the flags above (e.g. -O1)
            ext.extra_compile_args += shlex.split(os.environ.get("NDCONV_EXTRA_CFLAGS", ""))
            ext.extra_link_args = omp_l + list(ext.extra_link_args)
            ext.define_macros = list(ext.define_macros) + macros
            kept.append(ext)
        print("ndconv: compile flags %s, OpenMP %s; building %s"
              % (" ".join(base), " ".join(omp_c + omp_l) if omp else "off",
                 ", ".join(e.name.rsplit(".", 1)[-1] for e in kept)))

        return kept, _directives()

    def build_extensions(self):
        from Cython.Build import cythonize

        kept, directives = self.plan()
        # the three kernel modules take most of the build: cythonize them side by side too
        jobs = min(int(self.parallel), len(kept)) if self.parallel is not True else len(kept)
        generated = cythonize(kept, compiler_directives=directives, quiet=True,
                              nthreads=jobs if jobs > 1 else 0, force=self.force)
        sources = {e.name: e.sources for e in generated}
        for ext in kept:     # setuptools' own Extension objects carry its build state
            ext.sources = sources[ext.name]
        self.extensions = kept
        super().build_extensions()


def _directives():
    """Cython's compiler directives for every module (bounds checks with NDCONV_BOUNDSCHECK)."""
    debug = _env_flag("NDCONV_BOUNDSCHECK")
    return {
        "language_level": 3,
        "boundscheck": debug,
        "wraparound": debug,
        "initializedcheck": debug,
        "cdivision": True,
        "nonecheck": False,
        "embedsignature": True,
        "freethreading_compatible": True,
    }


def extensions():
    """The Extensions for the target (without flags: BuildExt adds them for the compiler)."""
    macros = [("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")]
    targets = target_machines()
    names = BASELINE_MODULES[:1]
    names += [m for m, (_, _, machines) in ISA_MODULES.items()
              if targets <= machines and not _env_flag(ISA_SWITCHES[m])]
    names += BASELINE_MODULES[1:]
    # the C sources every build includes (header-only, compiled per instruction set)
    depends = sorted(glob.glob("ndconv/_core/src/*.[ch]")) + ["ndconv/_core/csrc.pxd"]
    return [Extension(name, [name.replace(".", "/") + ".pyx"], define_macros=list(macros), depends=depends)
            for name in names]


if __name__ == "__main__":
    setup(ext_modules=extensions(), cmdclass={"build_ext": BuildExt})
