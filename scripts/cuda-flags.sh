#!/usr/bin/env bash
# Prints the CMake flags for the CUDA part of a build: the visible GPU's architecture when one
# is usable, sm_90 alone (a compile check, kept lean) when nvcc is present without a GPU, and
# the CUDA backend off when there is no nvcc at all.
set -euo pipefail
if ! command -v nvcc >/dev/null; then
  echo "-DGANLOSS_ENABLE_CUDA=OFF"
elif command -v nvidia-smi >/dev/null && nvidia-smi -L >/dev/null 2>&1; then
  echo "-DGANLOSS_ENABLE_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=native"
else
  echo "-DGANLOSS_ENABLE_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90"
fi
