#!/usr/bin/env bash
# Installs what building and testing ganloss needs and this machine lacks, from Debian's
# packages: a compiler, CMake, Ninja, Google Highway (the CPU backend's SIMD), GoogleTest and
# Google Benchmark, and Clang with its sanitizer and libFuzzer runtimes for the sanitizer build.
# The CUDA toolkit is not installed here: without nvcc the library builds its CPU backends only. With nvcc but without cuobjdump
# (the toolkit's redistributable nvcc lacks it), the kernel report (scripts/kernel-report.sh)
# needs cuobjdump, and nvdisasm beside it, from PyPI: see install_cuda_tools below.
set -euo pipefail
cd "$(dirname "$0")/.."

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
if command -v nvcc >/dev/null && ! python3 -m pip --version >/dev/null 2>&1; then
  missing+=(python3-pip)
fi

if ((${#missing[@]} > 0)); then
  echo "installing: ${missing[*]}"
  sudo=()
  if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null || { echo "need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
    sudo=(sudo)
  fi
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# cuobjdump and nvdisasm from PyPI (NVIDIA's wheels) when nvcc is here and they are not: on
# PATH, beside nvcc, or in an installed wheel. The 13.x wheels put them in nvidia/cu13/bin of
# the package, where scripts/kernel-report.sh looks. Into the current Python when it accepts
# packages; else (a distribution's Python that is externally managed, PEP 668) into
# .cache/cuda-tools, git-ignored, which scripts/kernel-report.sh also searches.
install_cuda_tools() {
  local dir=.cache/cuda-tools
  local packages=("nvidia-cuda-cuobjdump~=13.0" "nvidia-cuda-nvdisasm~=13.0")
  command -v nvcc >/dev/null || return 0
  command -v cuobjdump >/dev/null && return 0
  [[ -x $(dirname "$(command -v nvcc)")/cuobjdump ]] && return 0
  python3 -c 'import nvidia.cu13 as m, os, sys; sys.exit(not os.path.exists(
    os.path.join(list(m.__path__)[0], "bin", "cuobjdump")))' 2>/dev/null && return 0
  [[ -x $dir/nvidia/cu13/bin/cuobjdump ]] && return 0
  echo "installing from PyPI: ${packages[*]}"
  python3 -m pip install --quiet --disable-pip-version-check "${packages[@]}" 2>/dev/null ||
    python3 -m pip install --quiet --disable-pip-version-check --target "$dir" "${packages[@]}"
}
install_cuda_tools
