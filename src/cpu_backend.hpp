// The CPU backend: the same contract as the CUDA backend on host memory, multi-threaded, with
// vectorizable inner loops and results independent of the thread count.
#ifndef GANLOSS_SRC_CPU_BACKEND_HPP_
#define GANLOSS_SRC_CPU_BACKEND_HPP_

#include <cstddef>
#include <cstdint>

#include "call_params.hpp"
#include "ganloss/ganloss.h"
#include "ganloss/ganloss.hpp"

namespace ganloss {
namespace detail {
namespace cpu {

// Elements per work item. A compile-time constant: the partial sums, and therefore every
// result, depend on it but not on the number of threads.
constexpr int64_t kChunk = 8192;

// Host workspace for a problem (shapes, kinds and reduction only): partial sums of the chunks
// of long segments, and the per-segment state of multi-pass calls.
std::size_t workspace_bytes(const ganloss_problem_t& problem);

// Runs a validated call. `threads` <= 0 means the hardware concurrency.
Status run(const CallParams& params, void* workspace, int threads);

}  // namespace cpu
}  // namespace detail
}  // namespace ganloss

#endif  // GANLOSS_SRC_CPU_BACKEND_HPP_
