#!/usr/bin/env bash
# Prints the CMake flags for the CUDA part of a build: the visible GPU's architecture when one
# is usable; without a GPU but with nvcc, PTX for compute_90 alone: a compile check of the CUDA
# sources (nvcc's front end and cicc, warnings as errors) that skips ptxas, two thirds of the
# compile time, as nothing here would run the machine code (the PTX still runs on a GPU of
# compute capability 9.0 or later, compiled when loaded); the CUDA backend off without nvcc.
set -euo pipefail
if ! command -v nvcc >/dev/null; then
  echo "-DGANLOSS_ENABLE_CUDA=OFF"
elif command -v nvidia-smi >/dev/null && nvidia-smi -L >/dev/null 2>&1; then
  echo "-DGANLOSS_ENABLE_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=native"
else
  echo "-DGANLOSS_ENABLE_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90-virtual"
fi
