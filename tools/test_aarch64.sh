#!/usr/bin/env bash
# Cross-build ndconv's compiled core for aarch64 (ARM64) on an x86-64 Debian 12 host and run the
# test suite under qemu-user: no ARM hardware, no binfmt_misc, no chroot.  Needs root for apt-get
# the first time (cross gcc, qemu-user-static, debootstrap) and network access to Debian and PyPI.
#
# Usage: tools/test_aarch64.sh [pytest args]     (default: -q, the whole suite)
#   WORK=dir        keep everything there and reuse it on the next run: the arm64 root, the
#                   aarch64 wheels and the host venv are made once (default: a new temp dir)
#   EXTRA_CFLAGS=.. appended to every module's compile flags (to try a flag)
#   MIRROR=url      Debian mirror for debootstrap (default: the host's apt source)
#
# What it does
# - An arm64 Debian 12 root with python3.11, its headers and libgomp: `debootstrap --foreign`
#   (first stage only) and every downloaded .deb unpacked with dpkg -x; nothing is configured
#   or run inside it.  qemu-aarch64-static runs its python with the root as library prefix.
# - aarch64 manylinux wheels of numpy, scipy and the test requirements, `pip --target`.
# - The modules, sources, flags and Cython directives setup.py builds on aarch64, read from
#   setup.py by tools/build_flags.py; cythonize on the host, compile with aarch64-linux-gnu-gcc
#   (one job per module, in parallel) with the target Python's own CFLAGS first, as setuptools
#   would on an ARM machine.  gcc's vectorisation report: $WORK/build/<module>.<source>.vec.txt.
# - The tests run on a copy of the working tree in $WORK/tree (the host's in-place .so files
#   are left out), with a python3-qemu wrapper as sys.executable so that tests which start
#   `python -m ...` re-enter the emulator.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
WORK=${WORK:-$(mktemp -d)}
mkdir -p "$WORK"; WORK=$(cd "$WORK" && pwd)
ROOT=$WORK/root SITE=$WORK/site TREE=$WORK/tree BUILD=$WORK/build
CROSS=aarch64-linux-gnu-
MIRROR=${MIRROR:-$(sed -n -e 's|^URIs: *\([^ ]*/debian\)/*$|\1|p' \
    -e 's|^deb \(\[[^]]*\] \)\{0,1\}\([^ ]*/debian\)/* .*|\2|p' \
    /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null | head -n1 || true)}
start=$(date +%s)
t() { echo "== $* ($(date +%T), $(( $(date +%s) - start )) s)"; }

t "work dir $WORK; host tools: cross gcc, qemu-user, debootstrap"
if ! command -v ${CROSS}gcc qemu-aarch64-static debootstrap >/dev/null; then
    { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
        gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user-static debootstrap; } >"$WORK/apt.log" 2>&1 ||
        { tail -20 "$WORK/apt.log"; exit 1; }
fi

# The host venv and the aarch64 wheels (PyPI) download while debootstrap fetches the root (Debian).
t "in parallel: host venv (Cython, setuptools) and aarch64 wheels; arm64 Debian root"
(
    if [ ! -e "$WORK/venv/.ready" ]; then
        rm -rf "$WORK/venv"
        python3 -m venv "$WORK/venv"
        "$WORK/venv/bin/pip" install -q "Cython>=3.1" "setuptools>=77"
        touch "$WORK/venv/.ready"
    fi
    if [ ! -e "$SITE/.ready" ]; then
        rm -rf "$SITE"
        "$WORK/venv/bin/pip" install -q --target="$SITE" --only-binary=:all: \
            --platform manylinux_2_28_aarch64 --platform manylinux2014_aarch64 --python-version 3.11 \
            --implementation cp --abi cp311 "numpy>=1.25" "scipy>=1.11" "pytest>=7" "hypothesis>=6" \
            "threadpoolctl>=3" "pillow>=9"
        touch "$SITE/.ready"
    fi
) >"$WORK/pip.log" 2>&1 &
pip_job=$!
# python3.11, its headers and libgomp; first stage only, the .debs unpacked, nothing run in it
if [ ! -e "$ROOT/.unpacked" ]; then
    rm -rf "$ROOT"
    debootstrap --arch=arm64 --foreign --variant=minbase \
        --include=python3.11,libpython3.11-dev,libgomp1 \
        bookworm "$ROOT" ${MIRROR:+"$MIRROR"} >"$WORK/debootstrap.log" 2>&1 ||
        { tail -20 "$WORK/debootstrap.log"; exit 1; }
    for deb in "$ROOT"/var/cache/apt/archives/*.deb; do dpkg -x "$deb" "$ROOT"; done
    touch "$ROOT/.unpacked"
fi
# sys.executable re-enters qemu, so tests that start `python -m ...` work without binfmt_misc.
printf '#!/bin/sh\nexec env QEMU_LD_PREFIX="%s" qemu-aarch64-static -0 "$0" "%s" "$@"\n' \
    "$ROOT" "$ROOT/usr/bin/python3.11" >"$ROOT/usr/bin/python3-qemu"
chmod +x "$ROOT/usr/bin/python3-qemu"
PY=$ROOT/usr/bin/python3-qemu
wait "$pip_job" || { grep -v 'is ignored' "$WORK/pip.log" | tail -20; exit 1; }

t "copy of the working tree; modules and flags from setup.py"
rm -rf "$TREE" "$BUILD"; mkdir -p "$TREE" "$BUILD"
tar -C "$REPO" -cf - --exclude=./.git --exclude=./build --exclude=./.asv --exclude=./docs/_build \
    --exclude='*.so' --exclude=__pycache__ --exclude='*.egg-info' . | tar -xf - -C "$TREE"
CC=${CROSS}gcc "$WORK/venv/bin/python" "$TREE/tools/build_flags.py" aarch64 >"$BUILD/modules.tsv"
# What setuptools puts before an extension's own flags on the target: its Python's CFLAGS and
# CCSHARED for compiling, LDSHARED (minus the compiler) for linking.
IFS=$'\t' read -r SUFFIX PYCFLAGS PYLDFLAGS < <(PYTHONPATH= "$PY" -c '
import sysconfig as s
g = lambda v: " ".join((s.get_config_var(v) or "").split())
print(s.get_config_var("EXT_SUFFIX"), g("CFLAGS") + " " + g("CCSHARED"), g("LDSHARED").partition(" ")[2],
      sep="\t")')
# the kernels' C headers are included as "src/...", relative to ndconv/_core
INCLUDES="-I$TREE/ndconv/_core -I$ROOT/usr/include/python3.11 -idirafter $ROOT/usr/include"
DIRECTIVES=$(sed -n 's/^directives\t//p' "$BUILD/modules.tsv")

build_module() {  # name, sources, compile flags, link flags
    local name=$1 sources=$2 cflags=$3 ldflags=$4 src c objs=() obj
    local so=$TREE/${name//.//}$SUFFIX
    for src in $sources; do
        case $src in
            *.pyx) c=$BUILD/$name.$(basename "${src%.pyx}").c   # the generated C
                   "$WORK/venv/bin/cython" -3 -X "$DIRECTIVES" -I "$TREE" --module-name "$name" \
                       "$TREE/$src" -o "$c" ;;
            *) c=$TREE/$src ;;
        esac
        obj=$BUILD/$name.$(basename "${src%.*}").o
        # shellcheck disable=SC2086  # flag lists split on purpose
        (cd "$TREE" && ${CROSS}gcc $PYCFLAGS $INCLUDES $cflags ${EXTRA_CFLAGS:-} \
            -fopt-info-vec-optimized="${obj%.o}.vec.txt" -c "$c" -o "$obj")
        objs+=("$obj")
    done
    # shellcheck disable=SC2086
    ${CROSS}gcc $PYLDFLAGS "${objs[@]}" $ldflags -o "$so"
}

t "cythonize on the host, compile with ${CROSS}gcc, one job per module"
pids=() names=()
while IFS=$'\t' read -r kind name sources cflags ldflags; do
    [ "$kind" = module ] || continue
    build_module "$name" "$sources" "$cflags" "$ldflags" >"$BUILD/$name.log" 2>&1 &
    pids+=($!) names+=("$name")
done <"$BUILD/modules.tsv"
[ ${#pids[@]} -gt 0 ] || { echo "tools/build_flags.py listed no modules"; exit 1; }
failed=0
for i in "${!pids[@]}"; do
    if wait "${pids[$i]}"; then
        echo "   ${names[$i]}: $(cat "$BUILD/${names[$i]}".*.vec.txt | grep -c 'loop vectorized using 16 byte vectors')" \
             "loops vectorised with 16-byte vectors (128-bit ASIMD)"
    else
        failed=1; echo "   ${names[$i]} failed:"; tail -30 "$BUILD/${names[$i]}.log"
    fi
done
[ $failed = 0 ]

t "import and smoke check under qemu-aarch64"
cd "$TREE"
# NDCONV_EMULATED: tests that time the library (signal latencies) skip; emulation is 10-50x slower
export PYTHONPATH=$SITE NDCONV_EXPECT_OPENMP=1 NDCONV_EMULATED=1
"$PY" -c 'import platform, numpy as np, ndconv; ndconv.show_config(); assert platform.machine() == "aarch64"
x, k = np.random.default_rng(0).standard_normal(1000), np.arange(1.0, 8.0)
assert np.allclose(ndconv.convolve(x, k), np.convolve(x, k), atol=1e-12); print("smoke OK")'

t "pytest under qemu-aarch64"
status=0
"$PY" -m pytest -p no:cacheprovider "${@:--q}" || status=$?
t "done (pytest exit status $status)"
exit $status
