// The reference backend: sequential, double precision, Neumaier-compensated sums, written from
// the loss definitions alone (it shares no formula with losses.hpp), so that it can check the
// CPU and CUDA backends.
#ifndef GANLOSS_SRC_REFERENCE_HPP_
#define GANLOSS_SRC_REFERENCE_HPP_

#include <cstdint>
#include <vector>

#include "call_params.hpp"
#include "ganloss/ganloss.h"
#include "ganloss/ganloss.hpp"

namespace ganloss {
namespace reference {

// Reduced values of one segment (sums, or means for the mean reduction), with the same
// reduction applied to the absolute values of the terms: abs_* bound the rounding error a
// float implementation may make in the corresponding total.
struct SegmentTotals {
  double d_loss = 0;
  double d_loss_real = 0;
  double d_loss_fake = 0;
  double g_loss = 0;
  double abs_real = 0;
  double abs_fake_d = 0;
  double abs_fake_g = 0;
};

// Everything a call can produce, in double, dense [segments x count] for per-element values.
struct Result {
  std::vector<SegmentTotals> segments;
  std::vector<double> grad_real, grad_fake_d, grad_fake_g;
  std::vector<double> loss_real, loss_fake_d, loss_fake_g;
};

// Evaluates every term of `problem` (which must be valid) on host logits in the problem's
// layout and dtype. A side whose count is 0 or whose pointer is null contributes nothing.
Result evaluate(const ganloss_problem_t& problem, const void* real, const void* fake);

// The backend: the requested outputs of a validated call, rounded to their storage types.
Status run(const ganloss_problem_t& problem, const detail::CallParams& params);

}  // namespace reference
}  // namespace ganloss

#endif  // GANLOSS_SRC_REFERENCE_HPP_
