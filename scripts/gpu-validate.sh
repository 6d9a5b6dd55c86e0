#!/usr/bin/env bash
# Validation on a GPU machine in one command, sized to fit a short lease: about 8 minutes on an
# H200-class machine (16 cores) from a clean checkout, the build included. It prints one summary
# (and writes it, with every stage's log and JSON, to the results directory):
#
#   card      the GPU's name, driver and memory (nvidia-smi), nvcc, the commit
#   build     configure and build for the GPU's architecture: the library, the CLI, the GPU
#             tests and the CUDA benchmarks only
#   gpu-tests the GPU test matrix: ctest of the GPU tests (they must run, not skip)
#   sanitizer compute-sanitizer memcheck, racecheck, synccheck and initcheck over a
#             representative subset of the GPU tests (SANITIZER_FILTER below)
#   check     `ganloss check --backend cuda`
#   python-gpu-tests
#             python/tests/test_gpu.py on the staged Python package (PyTorch, JAX, CuPy on the
#             GPU; torch.compile with CUDA graphs)
#             (the tests, the four sanitizers, the check and the Python tests run at once, then
#             the timings alone)
#   bench     ganloss_bench on a subset: copy_ratio at 2^16, 2^20, 2^24 and 2^28 logits for f32
#             and bf16, non-saturating and relativistic average; us_over_empty at 2^10; the host
#             overhead of ganloss_plan_execute against an empty launch; the VJP call
#   bench-cli `ganloss bench --backend cuda` (f32, bf16) at 2^20, 2^24 and 2^26 logits: the CLI's
#             table with its copy_ratio column
#   torch     bench/torch_compare.py on two sizes, where PyTorch is installed
#   kernels   scripts/kernel-report.sh for the GPU's architecture (while the GPU tests run)
#
# The results directory gets summary.txt, bench.json, torch.json, kernel-report.json and
# logs.tar.gz (every stage's log and result line).
#
#   scripts/gpu-validate.sh [--full] [--no-build] [--dry-run] [results-dir]
#
#   results-dir  default: $OUT when set, else build-gpu/validation
#   --full       the complete validation without a time budget: every target built, the whole
#                test suite, the sanitizers over every GPU test (but the 100-call determinism
#                test), the full benchmark sweep and `ganloss bench`, PyTorch on its defaults
#   --no-build   use the build directory as it is (configured and built elsewhere for this GPU's
#                architecture with the same paths, e.g. where compile time is not leased) and
#                leave out the kernel report, which needs no GPU
#   --dry-run    print the stages, their time limits and commands; needs no GPU
#
# Every stage runs under `timeout`, so that one hang cannot use up the lease: its limit is the
# smaller of its own and what is left of the budget (GANLOSS_VALIDATE_BUDGET seconds, 465 by
# default; none with --full); a stage that would get less than 10 s is skipped and says so.
# Without a GPU it stops at once with exit status 2.
#
# The GPU machines have no GoogleTest, Google Benchmark, Highway or cuobjdump and no network:
# unpack them first with scripts/gpu-deps.sh into .devdeps/ (carried with the checkout); this
# script adds .devdeps/usr to CMAKE_PREFIX_PATH, PATH and LD_LIBRARY_PATH when it exists.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2

full=0
dry_run=0
no_build=0
out=""
while (($#)); do
  case $1 in
    --full) full=1 ;;
    --dry-run) dry_run=1 ;;
    --no-build) no_build=1 ;;
    -h | --help)
      sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'
      exit 0
      ;;
    -*)
      echo "gpu-validate: unknown option '$1' (see --help)" >&2
      exit 2
      ;;
    *) out=$1 ;;
  esac
  shift
done
out=${out:-${OUT:-build-gpu/validation}}
build=${GANLOSS_BUILD_DIR:-build-gpu}
budget=${GANLOSS_VALIDATE_BUDGET:-465}
((full)) && budget=0
mode=$( ((full)) && echo full || echo quick)

# The sanitizers' subset of the GPU tests: the basic kinds in f32 on every regime boundary
# (warp, block, chunks, strided rows, splits inside a chunk), bf16 and f16 with f32 gradients
# on the long shapes, the weighted means (prepass) and relativistic kinds (paired, and the
# average's three passes) in each regime and ragged, each output alone in every regime, graph
# capture, two streams, in-place gradients, a workspace reused without zeroing, the fused
# multi-pass launches, and the plan and VJP tests. Left out: the 100-call determinism test and
# the 2^31-element rows (their sizes, not their code paths, are what they add).
SANITIZER_FILTER=${SANITIZER_FILTER:-'Cases/CudaMatrix.*/f32_nonsaturating_nonsaturating_mean_*:Cases/CudaMatrix.*/bf16_*_L3C*:Cases/CudaMatrix.*/f16_f32grad_*:Cases/CudaFamily.*/*_mean_weighted_f32_*:Cases/CudaFamily.*/*_ragged_bf16_*:CudaTest.EachOutputAloneInEveryRegime:CudaTest.GraphCaptureAndReplay:CudaTest.TwoStreamsAtOnce:CudaTest.InPlaceGradientsInEveryDtypeAndRegime:CudaTest.WorkspaceZeroedOnceServesManyCalls:CudaTest.MultiPassCallsThatFitOnChipAreOneKernel:*Plan*:*Vjp*:*VJP*-*OneHundredCalls*:*TwoToTheThirtyOne*'}
# The GPU tests among the CTest tests: every GoogleTest test of the CUDA suites, and the
# benchmark smoke run.
GPU_TESTS_REGEX='Cuda|^bench_cuda_smoke$'
# The benchmark subset (Google Benchmark regular expression over the names of
# docs/benchmarks.md): the sizes of the targets, and the small and few-segment calls whose
# regime depends on the segment count (one segment of 2^10 to 2^14 logits, segments of 64 and
# 1024), in both kinds.
BENCH_FILTER='^(empty_kernel|copy/(f32|bf16)/log2n:(10|12|14|16|20|24|28)/|fused/(nonsaturating|relativistic-average)/(f32|bf16)/seg:single/log2n:(10|12|14|16|20|24|28)/|fused/(nonsaturating|relativistic-average)/(f32|bf16)/seg:(64|1024)/log2n:(10|14|20)/|host/|vjp/(nonsaturating|relativistic-average)/(f32|bf16)/seg:single/log2n:(10|16|20|24|28)/)'
TORCH_ARGS=(--sizes '2^12,2^26' --dtypes 'f32,bf16' --losses nonsaturating --min-seconds 0.1)
if ((full)); then
  SANITIZER_FILTER='-*OneHundredCalls*'
  GPU_TESTS_REGEX='.'
  BENCH_FILTER='.'
  TORCH_ARGS=()
fi

start=$SECONDS
summary="$out/summary.txt"
# Every stage's log and result line; packed into logs.tar.gz at the end, so that the results
# directory holds five files (summary.txt, bench.json, torch.json, kernel-report.json and the
# logs), few enough for a lease's copy-back.
logs="$out/logs"
failed=0

note() {
  ((dry_run)) || echo "$*" >>"$summary"
}

# The seconds a stage may take: its own limit, within what is left of the budget.
allowance() {
  local limit=$1
  if ((budget > 0)); then
    local left=$((budget - (SECONDS - start)))
    ((left < limit)) && limit=$left
  fi
  echo "$limit"
}

# run_stage NAME LIMIT COMMAND...: COMMAND under `timeout`, its output in $logs/NAME.log; writes
# the stage's result line to $logs/NAME.result and returns COMMAND's status.
run_stage() {
  local name=$1 limit rc t0=$SECONDS
  limit=$(allowance "$2")
  shift 2
  if ((limit < 10)); then
    printf '%-20s SKIP     no time left in the %s s budget\n' "$name" "$budget" >"$logs/$name.result"
    return 3
  fi
  timeout -k 10 "$limit" "$@" >"$logs/$name.log" 2>&1
  rc=$?
  local took=$((SECONDS - t0)) word=PASS why=""
  if ((rc == 124 || rc == 137)); then
    word=TIMEOUT why="stopped after its ${limit} s limit"
  elif ((rc != 0)); then
    word=FAIL why="exit status $rc"
  fi
  printf '%-20s %-8s %4d s %s%s\n' "$name" "$word" "$took" "${why:+$why, }" "log: $name.log" \
    >"$logs/$name.result"
  return "$rc"
}

# stage NAME LIMIT COMMAND...: run_stage in the foreground; its result goes into the summary.
stage() {
  local name=$1
  if ((dry_run)); then
    printf '%-20s <= %4s s  %s\n' "$name" "$2" "${*:3}"
    return 0
  fi
  run_stage "$@"
  local rc=$?
  cat "$logs/$name.result" >>"$summary"
  ((rc == 0)) || failed=1
  if ((rc != 0 && rc != 3)); then
    echo "--- $name: last lines of $logs/$name.log" >&2
    tail -n 20 "$logs/$name.log" >&2
  fi
  return "$rc"
}

# stage_bg NAME LIMIT COMMAND...: run_stage in the background; collect NAME... waits for it.
declare -A bg_pids=()
stage_bg() {
  local name=$1
  if ((dry_run)); then
    printf '%-20s <= %4s s  %s  (in parallel)\n' "$name" "$2" "${*:3}"
    return 0
  fi
  run_stage "$@" &
  bg_pids[$name]=$!
}
collect() {
  local name rc
  for name in "$@"; do
    [[ -n ${bg_pids[$name]:-} ]] || continue
    wait "${bg_pids[$name]}"
    rc=$?
    unset "bg_pids[$name]"
    cat "$logs/$name.result" >>"$summary"
    ((rc == 0)) || failed=1
  done
}

# --- Before anything else: a GPU, and the tools.
if ((!dry_run)); then
  if ! command -v nvidia-smi >/dev/null || ! nvidia-smi -L >/dev/null 2>&1; then
    echo "gpu-validate: no GPU visible (nvidia-smi -L failed); nothing to validate" >&2
    exit 2
  fi
  for tool in nvcc cmake ninja timeout python3; do
    command -v "$tool" >/dev/null || { echo "gpu-validate: $tool not found" >&2; exit 2; }
  done
fi
sanitizer=$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)
prefix=()
if [[ -d .devdeps/usr ]]; then
  prefix=(-DCMAKE_PREFIX_PATH="$PWD/.devdeps/usr")
  # Highway's and Google Benchmark's shared libraries, cuobjdump and nvdisasm, where
  # scripts/gpu-deps.sh put them.
  export PATH="$PWD/.devdeps/usr/bin:$PATH"
  export LD_LIBRARY_PATH="$PWD/.devdeps/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi
# The quick build compiles the CPU backend's inner loop for AVX2 alone: its several instruction
# sets take GCC 13 over four minutes, more than the whole build's share of the lease. The
# kernels' five files, compiled at once, took about 235 s on an H200 machine's 16 cores: the
# build's limit is 300 s.
cpu_simd=(-DGANLOSS_CPU_SIMD=avx2)
((full)) && cpu_simd=()
has_gtest=0
has_bench=0
if [[ -f /usr/include/gtest/gtest.h ]] || compgen -G '.devdeps/usr/lib/*/cmake/GTest' >/dev/null; then
  has_gtest=1
fi
if [[ -f /usr/include/benchmark/benchmark.h ]] ||
  compgen -G '.devdeps/usr/lib/*/cmake/benchmark' >/dev/null; then
  has_bench=1
fi
if ((!dry_run && !has_gtest)); then
  echo "gpu-validate: GoogleTest not found: run scripts/gpu-deps.sh first (.devdeps/)" >&2
  exit 2
fi

arch=90
card="(dry run)"
if ((!dry_run)); then
  card=$(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | head -n 1)
  arch=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader | head -n 1 | tr -d '.[:space:]')
  mkdir -p "$out" "$logs"
  : >"$summary"
  nvidia-smi >"$logs/nvidia-smi.txt" 2>&1
fi
bench_on=$( ((has_bench)) && echo ON || echo OFF)
# The package's extension, staged as build/python-package for bench/torch_compare.py, where
# nanobind and Python's headers are there (the GPU machines' image has both).
has_python=0
if python3 -m nanobind --cmake_dir >/dev/null 2>&1 &&
  python3 -c 'import os, sysconfig; assert os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h"))' \
    >/dev/null 2>&1; then
  has_python=1
fi
python_on=$( ((has_python)) && echo ON || echo OFF)
targets=(ganloss ganloss_cli cuda_backend_test)
((has_bench)) && targets+=(ganloss_bench)
((has_python)) && targets+=(ganloss_python_package)
build_args=(--target "${targets[@]}")
((full)) && build_args=()

if ((dry_run)); then
  echo "gpu-validate --dry-run ($mode; budget ${budget} s, 0 = none; results in $out)"
  printf '%-20s %-9s %s\n' stage limit command
fi
note "ganloss GPU validation ($mode), $(date -u +%Y-%m-%dT%H:%M:%SZ)"
note "GPU: $card (sm_$arch)"
note "nvcc: $(nvcc --version 2>/dev/null | tail -n 1)"
note "compute-sanitizer: $("$sanitizer" --version 2>/dev/null | grep -m1 -i version || echo 'not found')"
note "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet 2>/dev/null || echo ' (with uncommitted changes)')"
note "budget: $( ((budget > 0)) && echo "$budget s" || echo none)"
note ""

# --- Build.
give_up() {
  note "RESULT: FAIL ($1, $((SECONDS - start)) s)"
  cat "$summary"
  exit 1
}
if ((no_build)); then
  note "build                SKIP     --no-build: $build as it is"
else
  stage configure 60 cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DGANLOSS_ENABLE_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES="$arch" -DGANLOSS_BUILD_TESTS=ON \
    -DGANLOSS_BUILD_BENCHMARKS="$bench_on" -DGANLOSS_BUILD_PYTHON="$python_on" \
    "${cpu_simd[@]}" "${prefix[@]}" || give_up configure
  stage build 300 cmake --build "$build" -j"$(nproc)" "${build_args[@]}" || give_up build
fi

gpu_tests="$build/tests/cuda_backend_test"
# --- The GPU phase, everything at once: the tests, the sanitizers and `ganloss check` share the
# GPU (their timings do not matter); the kernel report uses the CPUs only.
((no_build)) || stage_bg kernel-report 200 scripts/kernel-report.sh --arch "sm_$arch" --out "$build/kernel-report" \
  --json "$out/kernel-report.json" -j 8
stage_bg gpu-tests 150 ctest --test-dir "$build" -R "$GPU_TESTS_REGEX" -j 8 --timeout 120 \
  --output-on-failure
for tool in memcheck racecheck synccheck initcheck; do
  stage_bg "sanitizer-$tool" 150 "$sanitizer" --tool "$tool" --error-exitcode 1 --print-limit 20 \
    "$gpu_tests" "--gtest_filter=$SANITIZER_FILTER" --gtest_brief=1
done
stage_bg check 90 "$build/bin/ganloss" check --backend cuda
# The Python package's GPU tests (PyTorch, JAX and CuPy on their streams, torch.compile with
# CUDA graphs), on the staged package; each skips with its reason where its framework is
# missing.
# The staged package, where this run built it (or, with --no-build, where the build directory
# holds one): for these tests and for torch-compare.
package=1
if ((!has_python && !no_build)) || [[ ! -d $build/python-package/ganloss ]]; then
  package=0
fi
python_gpu=0
if ((dry_run || package)); then
  python_gpu=1
  stage_bg python-gpu-tests 120 env PYTHONPATH="$build/python-package" python3 -m pytest \
    -q -rs -p no:cacheprovider python/tests/test_gpu.py
fi
collect gpu-tests sanitizer-memcheck sanitizer-racecheck sanitizer-synccheck sanitizer-initcheck \
  check python-gpu-tests
if ((!dry_run)) && [[ -f $logs/gpu-tests.log ]]; then
  # Only a test that cannot run on one GPU may skip on a GPU machine.
  skipped=$(grep -E '\(Skipped\)$' "$logs/gpu-tests.log" |
    grep -v 'AnotherDevicesMemoryIsRefused' | sed -E 's/^[[:space:]]*[0-9]+ - //; s/ \(Skipped\)//' || true)
  if [[ -n $skipped ]]; then
    note "FAIL  gpu-tests skipped on a GPU machine: $(echo "$skipped" | head -n 5 | tr '\n' ' ')"
    failed=1
  fi
  note "gpu-tests: $(grep -E 'tests passed|tests failed' "$logs/gpu-tests.log" | tail -n 1)"
  for tool in memcheck racecheck synccheck initcheck; do
    note "sanitizer-$tool: $(grep -h -E 'ERROR SUMMARY|RACECHECK SUMMARY|tests? ran|PASSED|FAILED' \
      "$logs/sanitizer-$tool.log" 2>/dev/null | tr '\n' ' ' | cut -c1-160)"
  done
fi

if ((!dry_run)) && [[ -f $logs/check.log ]]; then
  note "check: $(grep -E 'PASS|FAIL' "$logs/check.log" | tail -n 1)"
fi
if ((!dry_run && python_gpu)); then
  note "python-gpu-tests: $(grep -E '(passed|failed|skipped|error)' "$logs/python-gpu-tests.log" | tail -n 1)"
elif ((!dry_run)); then
  note "python-gpu-tests     SKIP     no $build/python-package (nanobind or Python.h missing)"
fi

# --- Timings run alone: the kernel report's compiles finish first.
collect kernel-report
if ((has_bench)) || ((dry_run)); then
  stage bench 120 "$build/bench/ganloss_bench" "--benchmark_filter=$BENCH_FILTER" \
    "--benchmark_out=$out/bench.json" --benchmark_out_format=json
else
  note "bench                SKIP     Google Benchmark not found (scripts/gpu-deps.sh)"
fi
# `ganloss bench`, the README's main job, with its copy_ratio column; its tables go into the
# summary. Quick: the CUDA backend at three sizes; --full: every backend and dtype.
if ((full)); then
  stage bench-cli 300 bash -c "for d in f32 f16 bf16; do '$build/bin/ganloss' bench --backend all --dtype \$d; done"
else
  stage bench-cli 60 bash -c "for d in f32 bf16; do '$build/bin/ganloss' bench --backend cuda --dtype \$d --sizes 2^20,2^24,2^26; done"
fi
if ((!dry_run)) && ! python3 -c 'import torch; assert torch.cuda.is_available()' >/dev/null 2>&1; then
  note "torch-compare        SKIP     PyTorch with CUDA not importable"
elif ((!dry_run && !package)); then
  note "torch-compare        SKIP     no $build/python-package (nanobind or Python.h missing)"
else
  stage torch-compare 120 env PYTHONPATH="$build/python-package" python3 bench/torch_compare.py \
    --json "$out/torch.json" "${TORCH_ARGS[@]}"
fi

if ((dry_run)); then
  echo "then: the summary (stage results, test and sanitizer counts, the benchmark table from"
  echo "scripts/bench_summary.py, PyTorch's ratios, the kernel report) to stdout and $summary"
  exit 0
fi

{
  echo
  python3 scripts/bench_summary.py --bench "$out/bench.json" --torch "$out/torch.json" 2>&1
  echo
  if [[ -s $logs/bench-cli.log ]]; then
    echo "ganloss bench (the CLI):"
    cat "$logs/bench-cli.log"
    echo
  fi
  # The kernel table itself (hundreds of rows) is in kernel-report.json and the logs.
  miss=$(grep -E 'kernels miss a target' "$logs/kernel-report.log" 2>/dev/null)
  [[ -n $miss ]] && echo "kernel report: $miss (table: kernel-report.json, logs/kernel-report.log)"
  echo
} >>"$summary"
tar czf "$out/logs.tar.gz" -C "$out" logs && rm -rf "$logs"
if ((failed)); then
  note "RESULT: FAIL ($((SECONDS - start)) s)"
else
  note "RESULT: PASS ($((SECONDS - start)) s)"
fi
cat "$summary"
exit "$failed"
