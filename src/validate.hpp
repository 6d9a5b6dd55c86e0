// Argument validation: turns the C ABI's problem and outputs into a CallParams block, or a
// Status with a message naming the offending argument. Nothing is written before this passes.
#ifndef GANLOSS_SRC_VALIDATE_HPP_
#define GANLOSS_SRC_VALIDATE_HPP_

#include <cstddef>

#include "call_params.hpp"
#include "ganloss/ganloss.h"
#include "ganloss/ganloss.hpp"

namespace ganloss {
namespace detail {

// Required alignment of the workspace, in bytes.
constexpr std::size_t kWorkspaceAlignment = 16;

// Enums, sizes, strides and parameters; no pointers. Used by the size query too.
Status validate_problem(const ganloss_problem_t* problem);

// Full validation of a call into `params`: the problem, inputs and outputs (null, alignment,
// address-space wrap, aliasing) and the workspace against the `workspace_required` bytes the
// chosen backend needs (too small, null, misaligned, overlapping another buffer).
Status make_params(const ganloss_problem_t* problem, const ganloss_inputs_t* inputs,
                   const ganloss_outputs_t* outputs, const void* workspace,
                   std::size_t workspace_bytes, std::size_t workspace_required, CallParams* params);

// Ragged problems in host memory: offsets non-decreasing within [0, count], and equal real and
// fake lengths per segment for the paired relativistic loss. (The CUDA kernel cannot read
// them before it runs; ganloss.h says what it makes of a malformed segment.)
Status check_offsets(const CallParams& params);

// Normalised stride: the user's stride, or the count for 0 (dense) and for a single segment.
int64_t effective_stride(int64_t segments, int64_t count, int64_t stride);

}  // namespace detail
}  // namespace ganloss

#endif  // GANLOSS_SRC_VALIDATE_HPP_
