#!/usr/bin/env bash
# Builds ganloss with its tests and runs them all:
#  1. the release build: reference, CPU backend, CLI, C ABI, installed package, the CUDA kernels
#     on the host SIMT emulator, and the GPU tests (which run when a GPU is usable and say why
#     they skip when not); the CUDA sources compile with warnings as errors; with nvcc, the
#     kernel resource report for sm_90 (scripts/kernel-report.sh);
#  2. a ThreadSanitizer build of the emulated kernels and the multi-threaded CPU tests;
#  3. the sanitizer build (scripts/run-fuzz.sh): the host suite under AddressSanitizer,
#     UndefinedBehaviorSanitizer and LeakSanitizer, and each libFuzzer harness for a fixed number
#     of executions from a fixed seed;
#  4. the Python package: `pip install .` into a virtual environment and its pytest suite
#     (python/run-tests.sh).
# The release build includes the benchmarks, whose quick forms run as ctest tests.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
jobs=$(nproc)
build=${GANLOSS_BUILD_DIR:-build}

# shellcheck disable=SC2046
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DGANLOSS_BUILD_BENCHMARKS=ON \
  $(scripts/cuda-flags.sh)
cmake --build "$build" -j"$jobs"
ctest --test-dir "$build" -j"$jobs" --output-on-failure

# The kernel resource report (scripts/kernel-report.sh), where nvcc is: every kernel file compiled
# for sm_90, each kernel's registers, stack, spills, shared memory, occupancy and SASS
# instructions per logit printed, and the table written to $build/kernel-report.json.
# GANLOSS_KERNEL_REPORT=check (the default) fails the run when a kernel misses a target of
# docs/benchmarks.md ("Kernel resources"); =report prints the table only; =off skips it.
kernel_report=${GANLOSS_KERNEL_REPORT:-check}
case $kernel_report in
  report | check | off) ;;
  *) echo "GANLOSS_KERNEL_REPORT must be report, check or off, not '$kernel_report'" >&2; exit 2 ;;
esac
if [[ $kernel_report != off ]] && command -v nvcc >/dev/null; then
  # All ten files (no file argument): about 270 s on two cores, nearly all of it ptxas.
  report_args=(--out "$build/kernel-report" --json "$build/kernel-report.json" -j "$jobs")
  [[ $kernel_report == check ]] && report_args+=(--check)
  scripts/kernel-report.sh "${report_args[@]}"
fi

tsan="$build-tsan"
cmake -S . -B "$tsan" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGANLOSS_SANITIZE=thread \
  -DGANLOSS_ENABLE_CUDA=OFF -DGANLOSS_BUILD_CLI=OFF -DGANLOSS_INSTALL=OFF
cmake --build "$tsan" -j"$jobs" --target emulated_kernel_test cpu_backend_test concurrency_test
# Under ThreadSanitizer every emulated lane is an instrumented OS thread, so this run takes the
# kernel matrix and, of the loss family, the weighted means, which go through every pass of the
# kernel in every regime. The alignment sweep (every offset and tail of every dtype: ten minutes
# under TSan), the output subsets (which only leave stores out) and the negative weights (a
# value read as NaN) share nothing between threads that the matrix does not, nor do the 2048
# long segments of the warp regime (EmulatedRegimes: half a minute, ten under TSan); the
# release and ASan builds run them.
ctest --test-dir "$tsan" -j"$jobs" --output-on-failure \
  -E '^(EmulatedAlignment|EmulatedOutputs|EmulatedWeights|EmulatedRegimes)\.' \
  -R '^(Cases/EmulatedMatrix|Emulated[A-Za-z]+\.|Cases/EmulatedFamily.*_mean_weighted|CpuDeterminism|Concurrency|tsan_)'

# Fuzzing in CI is a fixed number of executions from a fixed seed per harness (about 30 s
# each on two cores): repeatable, so a red run points at the code, not at the draw.
# scripts/run-fuzz.sh with FUZZ_SECONDS searches further from random seeds.
FUZZ_RUNS=${FUZZ_RUNS:-fuzz_c_abi=60000 fuzz_cpu_backend=1500 fuzz_logits_parser=60000} \
  GANLOSS_FUZZ_BUILD_DIR="$build-asan" scripts/run-fuzz.sh

python/run-tests.sh
