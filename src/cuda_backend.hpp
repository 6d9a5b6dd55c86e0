// The CUDA backend's host-side interface: availability, workspace size and the launch of a
// validated call. Built from src/cuda_backend.cpp and kernels/ when GANLOSS_ENABLE_CUDA is on,
// from src/cuda_backend_disabled.cpp otherwise.
#ifndef GANLOSS_SRC_CUDA_BACKEND_HPP_
#define GANLOSS_SRC_CUDA_BACKEND_HPP_

#include <cstddef>
#include <cstdint>

#include "call_params.hpp"
#include "ganloss/ganloss.h"
#include "ganloss/ganloss.hpp"

namespace ganloss {
namespace detail {
namespace cuda {

// Success when a CUDA device is usable from this thread; otherwise BackendUnavailable with a
// message naming the reason.
Status available();

// Device workspace for a problem (shapes, kinds and reduction only).
std::size_t workspace_bytes(const ganloss_problem_t& problem);

// InvalidMemory unless every pointer of the call is memory the current device can access
// (device_expected) or host memory (otherwise). Without a CUDA driver, host memory is assumed.
Status check_pointers(const CallParams& params, bool device_expected);

// Enqueues a validated call on `stream`. `workspace_initialized`: the workspace's tickets are
// known to be zero (see ganloss_execution_t).
Status run(const CallParams& params, void* workspace, bool workspace_initialized,
           ganloss_stream_t stream);

}  // namespace cuda
}  // namespace detail
}  // namespace ganloss

#endif  // GANLOSS_SRC_CUDA_BACKEND_HPP_
