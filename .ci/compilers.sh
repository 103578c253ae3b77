#!/usr/bin/env bash
# Stage: the core builds and passes the core tests with clang (and LLVM's libomp),
# and with gcc without OpenMP.  One venv with the test dependencies, two copies of
# the source tree built in place, the same test subset on each.
# Usage: .ci/compilers.sh SCRATCH
set -euo pipefail
cd "$(dirname "$0")/.."
here=$(pwd)
work="$1/compilers"
mkdir -p "$work"
t0=$(date +%s)

# correlation (every boundary/mode/dtype against the oracle), the layer, threads and
# the drop-ins; the per-SIMD-build rerun of the correlation suite is left to the main job
TESTS=(tests/test_correlate.py tests/test_layer.py tests/test_threads.py tests/test_dropin_signal.py
       tests/test_dropin_ndimage.py tests/test_dropin_numpy.py tests/test_build.py)
DESELECT=(--deselect "tests/test_build.py::test_correlate_suite_under_every_simd_build")

missing=()
command -v clang >/dev/null || missing+=(clang)
dpkg -s libomp-dev >/dev/null 2>&1 || missing+=(libomp-dev)
if ((${#missing[@]})); then
    echo "-- apt-get install ${missing[*]}"
    apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null
fi

python3 -m venv "$work/venv"
# shellcheck disable=SC1091
. "$work/venv/bin/activate"
python -m pip install --quiet --upgrade pip
# the build requirements and the test extra (no ndconv install: each copy below is
# built in place and tested from its own folder)
python .ci/source_tree.py requirements > "$work/requirements.txt"
python -m pip install --quiet -r "$work/requirements.txt"

copy_tree() {   # the tree as committed or edited, without anything built
    python "$here/.ci/source_tree.py" copy "$1"
}

build_and_test() {  # NAME ENV... : build a copy in place with ENV, run the subset, print show_config
    local name=$1; shift
    local dir="$work/$name" s
    copy_tree "$dir"
    s=$(date +%s)
    (cd "$dir" && env "$@" python setup.py -q build_ext --inplace > build.log 2>&1) \
        || { tail -30 "$dir/build.log"; exit 1; }
    grep "^ndconv:" "$dir/build.log"
    echo "-- $name: built in $(( $(date +%s) - s )) s"
    s=$(date +%s)
    (cd "$dir" && python -m pytest -q -p no:cacheprovider "${TESTS[@]}" "${DESELECT[@]}" | tail -2)
    echo "-- $name: tests in $(( $(date +%s) - s )) s"
    (cd "$dir" && python -c "import ndconv; ndconv.show_config()") > "$dir/config.txt"
}

echo "-- clang $(clang --version | head -1)"
build_and_test clang CC=clang NDCONV_REQUIRE_OPENMP=1
grep -q "^openmp *: True" "$work/clang/config.txt" || { cat "$work/clang/config.txt"; echo "clang build has no OpenMP"; exit 1; }
deps=$(ldd "$work"/clang/ndconv/_core/baseline*.so)
grep -q libomp <<<"$deps" || { echo "clang build is not linked against LLVM's libomp"; echo "$deps"; exit 1; }

# the AVX-512 module only where it runs: without OpenMP it differs from clang's build above
# only in the threading code, which is the same source in every module
no512=()
grep -qw avx512f /proc/cpuinfo || no512=(NDCONV_DISABLE_AVX512=1)
build_and_test gcc-no-openmp CC=gcc NDCONV_DISABLE_OPENMP=1 "${no512[@]}"
grep -q "^openmp *: False" "$work/gcc-no-openmp/config.txt" \
    || { cat "$work/gcc-no-openmp/config.txt"; echo "NDCONV_DISABLE_OPENMP=1 build reports OpenMP"; exit 1; }
deps=$(ldd "$work"/gcc-no-openmp/ndconv/_core/*.so)
if grep -q "gomp\|libomp" <<<"$deps"; then echo "NDCONV_DISABLE_OPENMP=1 build links an OpenMP runtime"; exit 1; fi

deactivate
echo "-- compilers stage: $(( $(date +%s) - t0 )) s"
