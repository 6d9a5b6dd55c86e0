#!/usr/bin/env bash
# Builds ganloss and runs its main job: `ganloss check` (every loss kind, reduction and shape
# against the double-precision reference) and a short `ganloss bench`, on the GPU when one is
# usable and on the CPU backend otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
build=${GANLOSS_BUILD_DIR:-build}
# shellcheck disable=SC2046
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DGANLOSS_BUILD_TESTS=OFF \
  $(scripts/cuda-flags.sh)
cmake --build "$build" -j"$(nproc)"
"$build/bin/ganloss" check
"$build/bin/ganloss" bench --sizes 65536,1048576,16777216
