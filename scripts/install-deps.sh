#!/usr/bin/env bash
# Installs what building and testing ganloss needs and this machine lacks, from Debian's
# packages: a compiler, CMake, Ninja, Google Highway (the CPU backend's SIMD), GoogleTest and
# Google Benchmark, and Clang with its sanitizer and libFuzzer runtimes for the sanitizer build. The CUDA toolkit is not installed
# here: without nvcc the library builds its CPU backends only.
set -euo pipefail

missing=()
command -v cmake >/dev/null || missing+=(cmake)
command -v ninja >/dev/null || missing+=(ninja-build)
command -v g++ >/dev/null || missing+=(g++)
command -v git >/dev/null || missing+=(git)
[[ -f /usr/include/hwy/highway.h ]] || missing+=(libhwy-dev)
[[ -f /usr/include/gtest/gtest.h ]] || missing+=(libgtest-dev)
[[ -f /usr/include/benchmark/benchmark.h ]] || missing+=(libbenchmark-dev)
command -v python3 >/dev/null || missing+=(python3)
command -v clang++ >/dev/null || missing+=(clang)
compgen -G '/usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a' >/dev/null ||
  missing+=(libclang-rt-dev)

if ((${#missing[@]} == 0)); then
  exit 0
fi
echo "installing: ${missing[*]}"
sudo=()
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
  sudo=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
