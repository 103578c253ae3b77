"""The standalone C harness (benchmarks/c/): the kernel headers compiled
without Python, every row-sharing block checked bit for bit against a scalar
reference with the same tap order and multiply-add chain, per instruction set."""
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
# the headers of the ndconv under test (installed or built in place; the wheel ships them)
SRC = os.path.join(os.path.dirname(os.path.abspath(ndconv.__file__)), "_core", "src")
CC = (os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc").split()[0]

X86 = platform.machine().lower() in ("x86_64", "amd64")
FLAGS = {
    "scalar": [],
    "avx2+fma": ["-mavx2", "-mfma"],
    "avx512": ["-mavx2", "-mfma", "-mavx512f", "-mavx512vl", "-mavx512bw", "-mavx512dq",
               "-mprefer-vector-width=512", "-DNDCONV_WIDE_BLOCKS=1"],
}



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
    shutil.which(CC) is None or not os.path.exists(HARNESS) or not os.path.isdir(SRC)
    or not _compiled_programs_run(),
    reason="needs a C compiler for this machine and the source tree")


@pytest.mark.parametrize("isa", ["scalar", "avx2+fma", "avx512"])
def test_blocks_bitwise_against_scalar_reference(isa, tmp_path):
    if isa != "scalar" and not X86:
        pytest.skip("x86-64 instruction set")
    exe = str(tmp_path / "rows_check")
    subprocess.run([CC, "-O3", "-ffp-contract=off", "-I" + SRC, *FLAGS[isa], HARNESS, "-o", exe, "-lm"],
                   check=True, capture_output=True, text=True)
    out = subprocess.run([exe], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout[-3000:]
    first = out.stdout.splitlines()[0]
    assert first.startswith(isa), first
    if "not run" not in first:
        # e.g. "avx2+fma: 378 checks, 0 failures"
        assert first.endswith(" 0 failures") and int(first.split()[1]) > 100, first
