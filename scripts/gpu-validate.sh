#!/usr/bin/env bash
# One-command validation on a GPU machine: configures for the visible GPU's architecture,
# builds everything, runs the full test suite (the GPU tests must run, not skip), runs
# compute-sanitizer memcheck, racecheck, synccheck and initcheck over the GPU tests, runs
# `ganloss check --backend cuda` and the benchmarks, and writes a summary.
#
#   scripts/gpu-validate.sh [output-dir]     (default: $OUT, else build-gpu/validation)
#
# Where GoogleTest or Google Benchmark are not installed, unpack them first with
# ../shared/device/test-deps.sh (or any prefix holding them) into .devdeps/; this script adds
# .devdeps/usr to CMAKE_PREFIX_PATH when it exists.
set -uo pipefail
cd "$(dirname "$0")/.."
out=${1:-${OUT:-build-gpu/validation}}
mkdir -p "$out"
build=${GANLOSS_BUILD_DIR:-build-gpu}
summary="$out/summary.txt"
: >"$summary"
failed=0

note() { echo "$*" | tee -a "$summary"; }

# step NAME COMMAND...: runs COMMAND with its output in $out/NAME.log; records PASS or FAIL.
step() {
  local name=$1
  shift
  local start=$SECONDS
  if "$@" >"$out/$name.log" 2>&1; then
    note "PASS  $name  ($((SECONDS - start)) s)"
  else
    note "FAIL  $name  ($((SECONDS - start)) s): see $name.log"
    tail -n 30 "$out/$name.log"
    failed=1
  fi
}

if ! command -v nvidia-smi >/dev/null || ! nvidia-smi -L >/dev/null 2>&1; then
  echo "gpu-validate: no GPU visible (nvidia-smi -L failed); nothing to validate" >&2
  exit 2
fi
gpu=$(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | head -n 1)
arch=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader | head -n 1 | tr -d '.')
note "ganloss GPU validation, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
note "GPU: $gpu (sm_$arch)"
note "nvcc: $(nvcc --version | tail -n 1)"
note "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet 2>/dev/null || echo ' (with uncommitted changes)')"

prefix=()
[[ -d .devdeps/usr ]] && prefix=(-DCMAKE_PREFIX_PATH="$PWD/.devdeps/usr")
bench=OFF
if [[ -f /usr/include/benchmark/benchmark.h ]] || ls .devdeps/usr/lib/*/cmake/benchmark >/dev/null 2>&1; then
  bench=ON
fi

step configure cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DGANLOSS_ENABLE_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES="$arch" \
  -DGANLOSS_BUILD_BENCHMARKS=$bench "${prefix[@]}"
step build cmake --build "$build" -j"$(nproc)"

step tests ctest --test-dir "$build" -j"$(nproc)" --output-on-failure
# The GPU tests on their own: they must have run here, not skipped.
gpu_tests="$build/tests/cuda_backend_test"
step gpu-tests "$gpu_tests"
if grep -q "SKIPPED" "$out/gpu-tests.log"; then
  note "FAIL  gpu-tests skipped on a GPU machine: $(grep -m1 'no usable' "$out/gpu-tests.log")"
  failed=1
fi

# compute-sanitizer over the GPU tests (the 100-call determinism test is left to the plain run).
filter='--gtest_filter=-*OneHundredCalls*'
for tool in memcheck racecheck synccheck initcheck; do
  step "sanitizer-$tool" compute-sanitizer --tool "$tool" --error-exitcode 1 \
    "$gpu_tests" "$filter" --gtest_brief=1
done

step check "$build/bin/ganloss" check --backend cuda
step bench-cli bash -c "for d in f32 f16 bf16; do '$build/bin/ganloss' bench --backend all --dtype \$d; done && \
  '$build/bin/ganloss' bench --backend all --json >'$out/bench-cli.json'"
if [[ -x "$build/bench/ganloss_bench" ]]; then
  step bench "$build/bench/ganloss_bench" --benchmark_out="$out/bench.json" \
    --benchmark_out_format=json
fi

# PyTorch eager and torch.compile against ganloss on the same tensors, where PyTorch is installed.
if python3 -c 'import torch; assert torch.cuda.is_available()' >/dev/null 2>&1; then
  step torch-compare python3 bench/torch_compare.py --library "$build/src/libganloss.so" \
    --json "$out/torch.json"
fi

grep -h -E "PASS|FAIL" "$out/check.log" | tail -n 1 | sed 's/^/check: /' >>"$summary"
if ((failed)); then
  note "RESULT: FAIL"
else
  note "RESULT: PASS"
fi
cat "$summary"
exit $failed
