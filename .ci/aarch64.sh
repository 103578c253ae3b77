#!/usr/bin/env bash
# CI stage: the core cross-built for aarch64 and the whole test suite run under qemu-user
# (tools/test_aarch64.sh: an arm64 Python root, aarch64 wheels, no ARM hardware).  Takes CI's
# scratch folder as $1 and works in $1/aarch64; set AARCH64_WORK to a kept folder to reuse the
# root and wheels between runs.  About 8 minutes from nothing on an idle 2-core machine.
set -euo pipefail
cd "$(dirname "$0")/.."
WORK=${AARCH64_WORK:-$1/aarch64} tools/test_aarch64.sh -q
