# Build options, all prefixed GANLOSS_. Tests, benchmarks and install rules default on only
# when ganloss is the top-level project.
include(CheckLanguage)

set(_ganloss_top ${PROJECT_IS_TOP_LEVEL})

check_language(CUDA)
if(CMAKE_CUDA_COMPILER)
  set(_ganloss_cuda_default ON)
else()
  set(_ganloss_cuda_default OFF)
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
