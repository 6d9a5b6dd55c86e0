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

// Full validation of a call into `params`: validate_problem(), then make_call_params().
Status make_params(const ganloss_problem_t* problem, const ganloss_inputs_t* inputs,
                   const ganloss_outputs_t* outputs, const void* workspace,
                   std::size_t workspace_bytes, std::size_t workspace_required, CallParams* params);

// The checks of a call on a problem validate_problem() has accepted (a plan's): the inputs and
// outputs (null, alignment, address-space wrap, aliasing) and the workspace against the
// `workspace_required` bytes the chosen backend needs (too small, null, misaligned, overlapping
// another buffer). Constant time: a fixed number of pointers, none dereferenced.
Status make_call_params(const ganloss_problem_t& problem, const ganloss_inputs_t* inputs,
                        const ganloss_outputs_t* outputs, const void* workspace,
                        std::size_t workspace_bytes, std::size_t workspace_required,
                        CallParams* params);

// The same for a VJP call (ganloss_plan_vjp) into `params` with `vjp` set: the cotangents
// (`segments` floats each, 4-byte aligned, overlapping no output and not the workspace; null
// means 0 and leaves that loss's terms out), the two gradients (the logits' layout, the
// gradient dtype, in place of their own logits or disjoint from everything else) and the
// logits of every side read: a side whose gradient is requested, and for the relativistic
// kinds with a cotangent, the other side too.
Status make_vjp_params(const ganloss_problem_t& problem, const ganloss_inputs_t* inputs,
                       const ganloss_cotangents_t* cotangents, void* grad_real, void* grad_fake,
                       const void* workspace, std::size_t workspace_bytes,
                       std::size_t workspace_required, CallParams* params);

// A workspace on its own (ganloss_plan_workspace_init): at least `required` bytes, not null
// when any are required, aligned to kWorkspaceAlignment, not wrapping the address space.
Status check_workspace(const void* workspace, std::size_t workspace_bytes,
                       std::size_t workspace_required);

// Whether a validated call touches one side's arrays: reads its logits for a term or the
// statistics, or writes a per-element output of that side (a requested gradient is written in
// full, 0 where no term contributes).
bool touches_side(const CallParams& params, bool real);

// Ragged problems in host memory: offsets non-decreasing within [0, count], and equal real and
// fake lengths per segment for the paired relativistic loss. (The CUDA kernel cannot read
// them before it runs; ganloss.h says what it makes of a malformed segment.)
Status check_offsets(const CallParams& params);

// Host backends, after check_offsets: the weights of every side the call reads are
// non-negative (InvalidValue naming the first negative one). O(weights read).
Status check_weights(const CallParams& params);

// Normalised stride: the user's stride, or the count for 0 (dense) and for a single segment.
int64_t effective_stride(int64_t segments, int64_t count, int64_t stride);

}  // namespace detail
}  // namespace ganloss

#endif  // GANLOSS_SRC_VALIDATE_HPP_
