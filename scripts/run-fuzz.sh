#!/usr/bin/env bash
# The sanitizer build of ganloss: Clang with AddressSanitizer, UndefinedBehaviorSanitizer and
# LeakSanitizer (part of ASan on Linux), no CUDA.
#  1. the whole host test suite (reference, CPU backend, C ABI, CLI, the emulated kernels),
#  2. the libFuzzer harnesses, each replaying its seed corpus and past findings (a ctest test),
#     then fuzzing from a copy of its corpus (FUZZ_HARNESSES: which harnesses, default all).
# How long each harness fuzzes:
#  - FUZZ_RUNS (what CI sets): a number of executions for every harness, or per harness as
#    "fuzz_c_abi=N fuzz_cpu_backend=M ...", from seed FUZZ_SEED (default 1), one process.
#    The same inputs every time, so a CI run is repeatable: it passes or fails for a reason in
#    the code, not for the luck of the draw.
#  - FUZZ_SECONDS=S (default 60, when FUZZ_RUNS is unset): S seconds from a random seed, to
#    search further.
# A finding stops the script with the crashing input under $build/fuzz/findings/<harness>/;
# once fixed, it becomes a regression input in tests/fuzz/regressions/<harness>/.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${GANLOSS_FUZZ_BUILD_DIR:-build-asan}
seconds=${FUZZ_SECONDS:-60}
runs=${FUZZ_RUNS:-}
seed=${FUZZ_SEED:-1}
harnesses=${FUZZ_HARNESSES:-fuzz_c_abi fuzz_cpu_backend fuzz_logits_parser}
jobs=$(nproc)

# -O1 and line tables only: what the sanitizers' reports need, at about half the compile time
# of -O2 -g.
CC=clang CXX=clang++ cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -gline-tables-only" \
  -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -gline-tables-only" \
  -DGANLOSS_SANITIZE='address;undefined' -DGANLOSS_BUILD_FUZZERS=ON -DGANLOSS_ENABLE_CUDA=OFF \
  -DGANLOSS_TEST_SHARDS=4 \
  -DGANLOSS_INSTALL=OFF
cmake --build "$build" -j"$jobs"

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
# The emulated kernel's alignment sweep and output subsets (every offset, tail and subset of
# outputs of every dtype, minutes each) run in the release build, whose guard bytes catch any
# write out of bounds; here they would add a quarter of an hour and nothing the emulated matrix
# under the sanitizers does not exercise.
GTEST_FILTER=${GTEST_FILTER:--EmulatedAlignment.*:EmulatedOutputs.*} \
  ctest --test-dir "$build" -j"$jobs" --output-on-failure

for harness in $harnesses; do
  work="$build/fuzz/work/$harness"
  findings="$build/fuzz/findings/$harness"
  rm -rf "$work"
  mkdir -p "$work" "$findings"
  cp tests/fuzz/corpus/"$harness"/* "$work"/
  count=$runs
  for entry in $runs; do
    [[ "$entry" == "$harness="* ]] && count=${entry#*=}
  done
  if [[ -n "$count" ]]; then
    if ! [[ "$count" =~ ^[0-9]+$ ]]; then
      echo "FUZZ_RUNS gives no number of executions for $harness: $runs" >&2
      exit 2
    fi
    budget=(-runs="$count" -seed="$seed")
    echo "== $harness: $count executions from seed $seed"
  else
    budget=(-max_total_time="$seconds")
    echo "== $harness: ${seconds}s"
  fi
  # Every input libFuzzer adds stays in $work; the log keeps its final statistics.
  log="$build/fuzz/$harness.log"
  status=0
  start=$SECONDS
  "$build/fuzz/$harness" "${budget[@]}" -timeout=20 -rss_limit_mb=4096 -print_final_stats=1 \
    -artifact_prefix="$findings/" "$work" >"$log" 2>&1 || status=$?
  echo "$harness: $((SECONDS - start)) s"
  grep -E '^(stat::number_of_executed_units|stat::average_exec_per_sec|stat::new_units_added|INFO: seed corpus|#[0-9]+ +DONE)' "$log" || true
  if ((status != 0)); then
    tail -n 60 "$log" >&2
    echo "$harness: finding (exit $status), input in $findings" >&2
    exit 1
  fi
done
