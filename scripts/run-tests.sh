#!/usr/bin/env bash
# Builds ganloss with its tests and runs them all: reference, CPU backend, CLI, C ABI and the
# installed package.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
jobs=$(nproc)
build=${GANLOSS_BUILD_DIR:-build}

# shellcheck disable=SC2046
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release $(scripts/cuda-flags.sh)
cmake --build "$build" -j"$jobs"
ctest --test-dir "$build" -j"$jobs" --output-on-failure

