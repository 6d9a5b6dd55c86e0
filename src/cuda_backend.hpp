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

// The device current on this thread, into *device; BackendUnavailable if there is none.
Status current_device(int* device);

// InvalidMemory unless every pointer of the call (cotangents included) is memory device
// `device` can access (device_expected; -1 = the current device) or host memory (otherwise).
// One cudaPointerGetAttributes per pointer. Without a CUDA driver, host memory is assumed.
Status check_pointers(const CallParams& params, bool device_expected, int device = -1);

// Zeroes, with one cudaMemsetAsync on `stream`, the counters at the start of a workspace for
// `problem` (everything before the chunk partials: per-segment state, the offsets flag and the
// tickets), which every call leaves as it found them.
Status init_workspace(const ganloss_problem_t& problem, void* workspace, ganloss_stream_t stream);

// Enqueues a validated call on `stream`; the caller has checked the pointers' memory spaces
// where it wants them checked. `zero_counters`: zero the workspace's tickets first (one
// cudaMemsetAsync), for a workspace not known to hold zero tickets (see ganloss_execution_t).
Status run(const CallParams& params, void* workspace, bool zero_counters, ganloss_stream_t stream);

}  // namespace cuda
}  // namespace detail
}  // namespace ganloss

#endif  // GANLOSS_SRC_CUDA_BACKEND_HPP_
