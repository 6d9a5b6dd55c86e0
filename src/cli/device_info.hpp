// What can run on this machine: the backend a command-line choice stands for, whether it is
// usable, and the names of the processor and GPU that reports print beside timings.
#ifndef GANLOSS_CLI_DEVICE_INFO_HPP_
#define GANLOSS_CLI_DEVICE_INFO_HPP_

#include <cstdint>
#include <string>

#include "enum_names.hpp"

namespace ganloss {
namespace cli {

// Whether the library can run `backend` (a ganloss_backend_t) here.
bool backend_available(int32_t backend);

// The library backend for a single-backend choice: auto is CUDA when usable, else the CPU
// backend; an explicit backend that cannot run here is a failure naming the library's reason.
int32_t resolve_backend(BackendChoice choice);

// Worker threads the CPU backend uses for a --threads value (0 = all hardware threads).
int effective_threads(int requested);

// "model name" from /proc/cpuinfo, or a fallback when it cannot be read.
std::string cpu_model_name();

// The current CUDA device's name; a failure if the tool has no CUDA.
std::string gpu_name();

}  // namespace cli
}  // namespace ganloss

#endif  // GANLOSS_CLI_DEVICE_INFO_HPP_
