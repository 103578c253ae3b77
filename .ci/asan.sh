#!/usr/bin/env bash
# Stage: the core under AddressSanitizer + UndefinedBehaviorSanitizer (gcc).  One copy of
# the tree is built in place with both sanitizers; a representative part of the suite
# (every path of the direct method, the layer, threads, bad input) then runs once per
# build this CPU runs (NDCONV_SIMD=baseline, avx2, avx512), and any report fails the stage.
# Python itself is not instrumented: libasan is preloaded, and leak checking is off
# (the interpreter keeps its objects until exit, by design).
# Usage: .ci/asan.sh SCRATCH
set -euo pipefail
cd "$(dirname "$0")/.."
here=$(pwd)
work="$1/asan"
mkdir -p "$work"
t0=$(date +%s)

TESTS=(tests/test_correlate.py tests/test_merged.py tests/test_separable.py tests/test_row_blocks.py
       tests/test_tables.py tests/test_layer.py tests/test_threads.py tests/test_validation.py)

python3 -m venv "$work/venv"
# shellcheck disable=SC1091
. "$work/venv/bin/activate"
python -m pip install --quiet --upgrade pip
python .ci/source_tree.py requirements > "$work/requirements.txt"
python -m pip install --quiet -r "$work/requirements.txt"

dir="$work/tree"
python "$here/.ci/source_tree.py" copy "$dir"
# CFLAGS replaces Python's own flags, -fwrapv among them: the integer kernels'
# wrapping arithmetic (exact int64 results modulo 2**64) relies on it
san="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer -fwrapv"
# preloaded from the build on: setup.py's OpenMP probe loads a sanitized library into Python
libasan=$(gcc -print-file-name=libasan.so)
export LD_PRELOAD="$libasan"
export ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
# a build this CPU cannot run is not tested here: skip compiling it
grep -qw avx512f /proc/cpuinfo || export NDCONV_DISABLE_AVX512=1
s=$(date +%s)
# -O1 (after setup.py's -O3, so it wins): the instrumented baseline + AVX2 modules
# compiled in 139 s of CPU time against 345 s at -O3 (gcc 12, -j 2, a shared machine),
# and ASan's documentation recommends -O1 for stack traces that name every frame.  This
# build is also CI's check that the direct path's blocks agree bit for bit whatever the
# optimiser does: gcc contracts a*b + c into fused multiply-adds only from -O2 on, so a
# block that relied on contraction would differ here (tests/test_row_blocks.py).
(cd "$dir" && CC=gcc CFLAGS="$san" LDFLAGS="$san" NDCONV_EXTRA_CFLAGS="-O1" NDCONV_REQUIRE_OPENMP=1 \
    python setup.py -q build_ext --inplace -j 2 > build.log 2>&1) || { tail -30 "$dir/build.log"; exit 1; }
grep "^ndconv:" "$dir/build.log"
echo "-- built with ASan + UBSan in $(( $(date +%s) - s )) s"
deps=$(ldd "$dir"/ndconv/_core/baseline*.so)
grep -q libasan <<<"$deps" || { echo "the core is not linked against libasan"; echo "$deps"; exit 1; }

levels=$(cd "$dir" && python -c "from ndconv import _core; print(' '.join(l.split('+')[0] for l in _core.builds()))")
for level in $levels; do
    s=$(date +%s)
    log="$work/tests-$level.log"
    # what this level runs (the AVX-512 level: its own window, four-row and rolling-row blocks)
    (cd "$dir" && NDCONV_SIMD=$level python -c "from ndconv import _core; print('-- NDCONV_SIMD=$level runs', _core.describe()['direct'])")
    # the sanitizers report on stderr; pytest's capture would hide reports from passing tests
    (cd "$dir" && NDCONV_SIMD=$level python -m pytest -q -x -p no:cacheprovider -s "${TESTS[@]}") \
        > "$log" 2>&1 || { tail -40 "$log"; echo "-- asan: tests failed under NDCONV_SIMD=$level"; exit 1; }
    if grep -q "ERROR: AddressSanitizer\|runtime error:\|ERROR: LeakSanitizer" "$log"; then
        grep -m 5 -A 20 "ERROR: AddressSanitizer\|runtime error:" "$log"
        echo "-- asan: sanitizer report under NDCONV_SIMD=$level"; exit 1
    fi
    echo "-- NDCONV_SIMD=$level: $(tail -1 "$log") in $(( $(date +%s) - s )) s"
done
unset LD_PRELOAD
deactivate
echo "-- asan stage: $(( $(date +%s) - t0 )) s"
