"""The standalone C harness (benchmarks/c/): the kernel headers compiled
without Python, every row-sharing block and the convolution layer's kernels
checked bit for bit against a scalar reference with the same tap order and
multiply-add chain, per instruction set."""
import os
import platform
import shutil
import subprocess
import sysconfig
import tempfile

import pytest

import ndconv

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HARNESS = os.path.join(ROOT, "benchmarks", "c", "rows_check.c")
LAYER = os.path.join(ROOT, "benchmarks", "c", "layer_kernels.c")
# the headers of the ndconv under test (installed or built in place; the wheel ships them)
SRC = os.path.join(os.path.dirname(os.path.abspath(ndconv.__file__)), "_core", "src")
CC = (os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc").split()[0]

MACHINE = {"amd64": "x86_64", "arm64": "aarch64"}.get(platform.machine().lower(),
                                                     platform.machine().lower())
FLAGS = {
    "scalar": [],
    "neon": ["-DNDCONV_NEON=1"],
    "avx2+fma": ["-mavx2", "-mfma"],
    "avx512": ["-mavx2", "-mfma", "-mavx512f", "-mavx512vl", "-mavx512bw", "-mavx512dq",
               "-mprefer-vector-width=512", "-DNDCONV_WIDE_BLOCKS=1"],
}
# the machine each vector build is for (the scalar build is for any)
ISA_MACHINE = {"avx2+fma": "x86_64", "avx512": "x86_64", "neon": "aarch64"}


def _build(cc, isa, exe, opt="-O3", extra=(), layer_opt="-O3", layer_extra=()):
    """rows_check for ``isa``, as the Makefile builds it: the layer's kernels (layer_kernels.c),
    whose multiply-adds are fused only by the compiler's contraction, with the flags of their
    module (contraction on, except in the scalar build: the baseline module is unfused; gcc
    contracts only from -O2 on), the rest with -ffp-contract=off."""
    obj = exe + ".layer.o"
    contract = ["-ffp-contract=off"] if isa == "scalar" else []
    subprocess.run([cc, layer_opt, "-fno-tree-loop-distribute-patterns", *contract, "-I" + SRC, *FLAGS[isa],
                    *layer_extra, "-c", LAYER, "-o", obj], check=True, capture_output=True, text=True)
    subprocess.run([cc, opt, "-ffp-contract=off", "-I" + SRC, *FLAGS[isa], *extra, HARNESS, obj, "-o", exe,
                    "-lm"], check=True, capture_output=True, text=True)


def _compiled_programs_run():
    """False when a program the C compiler builds cannot be executed here: a compiler for
    another machine, or an emulated Python (qemu-user without binfmt) whose children run
    natively."""
    if shutil.which(CC) is None:
        return False
    with tempfile.TemporaryDirectory() as tmp:
        src, exe = os.path.join(tmp, "probe.c"), os.path.join(tmp, "probe")
        with open(src, "w") as f:
            f.write("int main(void) { return 0; }\n")
        try:
            subprocess.run([CC, src, "-o", exe], check=True, capture_output=True, timeout=120)
            return subprocess.run([exe], timeout=60).returncode == 0
        except (OSError, subprocess.SubprocessError):
            return False


pytestmark = pytest.mark.skipif(
    shutil.which(CC) is None or not os.path.exists(HARNESS) or not os.path.exists(LAYER)
    or not os.path.isdir(SRC)
    or not _compiled_programs_run(),
    reason="needs a C compiler for this machine and the source tree")


@pytest.mark.parametrize("isa", ["scalar", "avx2+fma", "avx512", "neon"])
def test_blocks_bitwise_against_scalar_reference(isa, tmp_path):
    if isa in ISA_MACHINE and ISA_MACHINE[isa] != MACHINE:
        pytest.skip("%s instruction set" % ISA_MACHINE[isa])
    exe = str(tmp_path / "rows_check")
    _build(CC, isa, exe)
    out = subprocess.run([exe], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout[-3000:]
    first = out.stdout.splitlines()[0]
    assert first.startswith(isa), first
    if "not run" not in first:
        # e.g. "avx2+fma: 378 checks, 0 failures"
        assert first.endswith(" 0 failures") and int(first.split()[1]) > 100, first


def _asan_links():
    with tempfile.TemporaryDirectory() as tmp:
        src, exe = os.path.join(tmp, "probe.c"), os.path.join(tmp, "probe")
        with open(src, "w") as f:
            f.write("int main(void) { return 0; }\n")
        try:
            subprocess.run([CC, "-fsanitize=address", src, "-o", exe], check=True, capture_output=True,
                           timeout=120)
            return subprocess.run([exe], timeout=60).returncode == 0
        except (OSError, subprocess.SubprocessError):
            return False


@pytest.mark.skipif(MACHINE != "x86_64" or not ndconv._core._base.cpu_has_avx512(),
                    reason="needs a CPU that runs the AVX-512 build")
def test_avx512_blocks_under_asan(tmp_path):
    """The AVX-512 blocks (aligned windows, four-row, rolling rows) built with ASan + UBSan:
    their window loads then read only the lanes a result depends on, so every source row of
    the harness's tight checks owns exactly the elements the block reads (the rest of its
    cache lines poisoned) and any other read is reported, while the results stay bit for
    bit the scalar reference's.  The layer's kernels, linked in, are built with ASan alone and
    at -O2, the lowest level at which gcc contracts their multiply-adds (12 s to compile; with
    UBSan too or at -O3, 22-45 s)."""
    if not _asan_links():
        pytest.skip("the C compiler cannot build with -fsanitize=address here")
    exe = str(tmp_path / "rows_check")
    san = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-fno-omit-frame-pointer"]
    _build(CC, "avx512", exe, opt="-O1", extra=san, layer_opt="-O2", layer_extra=["-fsanitize=address"])
    env = dict(os.environ, ASAN_OPTIONS="detect_leaks=0:abort_on_error=1")
    env.pop("LD_PRELOAD", None)
    out = subprocess.run([exe], capture_output=True, text=True, env=env, timeout=600)
    assert out.returncode == 0, (out.stdout + out.stderr)[-3000:]
    assert "AddressSanitizer" not in out.stderr and "runtime error" not in out.stderr, out.stderr[-3000:]
    first = out.stdout.splitlines()[0]
    assert first.startswith("avx512") and first.endswith(" 0 failures"), first
    assert int(first.split()[1]) > 1000, first


CROSS_CC = "aarch64-linux-gnu-gcc"
QEMU = "qemu-aarch64-static"


@pytest.mark.skipif(MACHINE == "aarch64" or shutil.which(CROSS_CC) is None or shutil.which(QEMU) is None,
                    reason="needs an aarch64 cross compiler and qemu-user on another machine")
@pytest.mark.parametrize("isa", ["scalar", "neon"])
def test_aarch64_blocks_bitwise_under_emulation(isa, tmp_path):
    """The aarch64 builds of the blocks (NEON: fmla, 4 float lanes), cross-compiled as a
    static program and run by qemu-user: the scalar build unfused like its module (the
    reference then too), the NEON build fused, each bit for bit against its reference."""
    exe = str(tmp_path / "rows_check")
    _build(CROSS_CC, isa, exe, extra=["-static"])
    out = subprocess.run([QEMU, exe], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout[-3000:]
    first = out.stdout.splitlines()[0]
    assert first.startswith(isa) and first.endswith(" 0 failures") and int(first.split()[1]) > 100, first
