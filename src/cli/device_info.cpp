// Backend selection and device names for the ganloss tool; see device_info.hpp.
#include "device_info.hpp"

#include <fstream>

#include "cli_error.hpp"
#include "ganloss/ganloss.h"
#include "thread_pool.hpp"

#if defined(GANLOSS_CLI_CUDA)
#include <cuda_runtime.h>
#endif

namespace ganloss {
namespace cli {

bool backend_available(int32_t backend) {
  return ganloss_backend_available(backend) == GANLOSS_STATUS_SUCCESS;
}

int32_t resolve_backend(BackendChoice choice) {
  switch (choice) {
    case BackendChoice::auto_select:
      return backend_available(GANLOSS_BACKEND_CUDA) ? GANLOSS_BACKEND_CUDA : GANLOSS_BACKEND_CPU;
    case BackendChoice::cpu:
      return GANLOSS_BACKEND_CPU;
    case BackendChoice::reference:
      return GANLOSS_BACKEND_REFERENCE;
    case BackendChoice::cuda:
      check_status(ganloss_backend_available(GANLOSS_BACKEND_CUDA), "the cuda backend cannot run");
      return GANLOSS_BACKEND_CUDA;
    case BackendChoice::all:
      break;
  }
  throw_failure("internal error: backend choice 'all' needs no resolution");
}

int effective_threads(int requested) {
  // threads_option keeps a request within [0, GANLOSS_MAX_CPU_THREADS]; for 0, the count the
  // library itself runs.
  return requested > 0 ? requested : detail::hardware_threads();
}

std::string cpu_model_name() {
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line;
  // x86 says "model name"; some ARM kernels only give "Hardware" or "CPU part".
  for (const char* key : {"model name", "Hardware", "cpu model"}) {
    cpuinfo.clear();
    cpuinfo.seekg(0);
    while (std::getline(cpuinfo, line)) {
      if (line.rfind(key, 0) != 0) continue;
      const std::size_t colon = line.find(':');
      if (colon == std::string::npos) continue;
      const std::size_t begin = line.find_first_not_of(" \t", colon + 1);
      if (begin != std::string::npos) return line.substr(begin);
    }
  }
  return "unknown CPU";
}

std::string gpu_name() {
#if defined(GANLOSS_CLI_CUDA)
  int device = 0;
  cudaError_t error = cudaGetDevice(&device);
  cudaDeviceProp properties{};
  if (error == cudaSuccess) error = cudaGetDeviceProperties(&properties, device);
  if (error != cudaSuccess) throw_failure("cannot query the GPU: %s", cudaGetErrorString(error));
  return properties.name;
#else
  throw_failure("this ganloss tool was built without CUDA (GANLOSS_ENABLE_CUDA=OFF)");
#endif
}

}  // namespace cli
}  // namespace ganloss
