# Build options, all prefixed GANLOSS_. Tests, benchmarks and install rules default on only
# when ganloss is the top-level project.
include(CheckLanguage)

set(_ganloss_top ${PROJECT_IS_TOP_LEVEL})

# The Python package (pip install .) builds the CUDA backend only where a GPU is visible, and
# then for that GPU alone (see GanlossCuda.cmake): compiling every architecture takes many
# minutes that a machine without a GPU would spend for nothing. GANLOSS_ENABLE_CUDA=ON|OFF
# decides otherwise. The C++ build keeps its default: CUDA wherever nvcc is found.
set(_ganloss_python_gpu OFF)
set(_ganloss_probe_nvcc ON)
if(GANLOSS_BUILD_PYTHON AND NOT DEFINED CACHE{GANLOSS_ENABLE_CUDA})
  find_program(GANLOSS_NVIDIA_SMI nvidia-smi)
  set(_ganloss_smi_result 1)
  if(GANLOSS_NVIDIA_SMI)
    execute_process(COMMAND "${GANLOSS_NVIDIA_SMI}" -L RESULT_VARIABLE _ganloss_smi_result
                    OUTPUT_QUIET ERROR_QUIET)
  endif()
  if(_ganloss_smi_result EQUAL 0)
    set(_ganloss_python_gpu ON)
  else()
    set(_ganloss_probe_nvcc OFF)
  endif()
endif()

set(_ganloss_cuda_default OFF)
if(_ganloss_probe_nvcc)
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    set(_ganloss_cuda_default ON)
  endif()
endif()
if(GANLOSS_BUILD_PYTHON AND NOT DEFINED CACHE{GANLOSS_ENABLE_CUDA})
  if(_ganloss_cuda_default)
    message(STATUS "ganloss Python: a GPU is visible, building the CUDA backend for it alone")
  else()
    set(_ganloss_python_gpu OFF)
    message(STATUS "ganloss Python: no GPU visible (or no nvcc), building the CPU backends "
                   "only; -C cmake.define.GANLOSS_ENABLE_CUDA=ON builds CUDA anyway")
  endif()
endif()

option(GANLOSS_ENABLE_CUDA "Build the CUDA backend (needs nvcc)" ${_ganloss_cuda_default})
option(GANLOSS_BUILD_CLI "Build the ganloss command-line tool" ON)
option(GANLOSS_BUILD_TESTS "Build the tests (needs GoogleTest)" ${_ganloss_top})
option(GANLOSS_BUILD_BENCHMARKS "Build the benchmarks (needs Google Benchmark)" OFF)
option(GANLOSS_BUILD_PYTHON "Build the Python extension (needs nanobind; pip install . sets it)" OFF)
option(GANLOSS_INSTALL "Generate install rules and the package config" ${_ganloss_top})
option(GANLOSS_WARNINGS_AS_ERRORS "Treat compiler warnings as errors" ON)
set(GANLOSS_SANITIZE "" CACHE STRING
  "Sanitizers for host code: address;undefined, or thread (empty: none)")
# The CPU backend's inner loop (src/cpu_pieces.cpp) is compiled once per instruction set and the
# best one is chosen at run time ("dispatch", the default: AVX-512, AVX2 and a portable fallback
# on x86-64). "avx2" compiles the x86-64 AVX2 code alone, about a third of that file's compile
# time, for builds that run on one known machine (scripts/gpu-validate.sh); the library then
# needs a processor with AVX2, FMA, BMI2, F16C, PCLMUL and AES.
set(GANLOSS_CPU_SIMD "dispatch" CACHE STRING
  "CPU backend instruction sets: dispatch (several, chosen at run time) or avx2 (AVX2 alone)")
set_property(CACHE GANLOSS_CPU_SIMD PROPERTY STRINGS dispatch avx2)
if(NOT GANLOSS_CPU_SIMD MATCHES "^(dispatch|avx2)$")
  message(FATAL_ERROR "GANLOSS_CPU_SIMD must be dispatch or avx2, not '${GANLOSS_CPU_SIMD}'")
endif()
