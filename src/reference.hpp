// The reference backend: sequential, double precision, Neumaier-compensated sums, written from
// the loss definitions alone (it shares no formula with losses.hpp and none of the other
// backends' code), so that it can check the CPU and CUDA backends.
#ifndef GANLOSS_SRC_REFERENCE_HPP_
#define GANLOSS_SRC_REFERENCE_HPP_

#include <cstdint>
#include <vector>

#include "call_params.hpp"
#include "ganloss/ganloss.h"
#include "ganloss/ganloss.hpp"

namespace ganloss {
namespace reference {

// Reduced values of one segment, with the same reduction applied to the absolute values of
// the weighted terms: abs_* bound the rounding error a float implementation may make in the
// corresponding total.
struct SegmentTotals {
  double d_loss = 0;
  double d_loss_real = 0;
  double d_loss_fake = 0;
  double g_loss = 0;
  double abs_real = 0;    // D term, real side
  double abs_fake_d = 0;  // D term, fake side
  double abs_g = 0;       // G terms, both sides
  // Per side (0 real, 1 fake): the gradient multiplier grad_scale / norm (0 for an empty
  // norm), the mean and the mean |x| of the logits, and for the relativistic average the
  // additive gradient terms through the means (D and G).
  double coef[2] = {0, 0};
  double inv_norm[2] = {0, 0};  // 1 / the divisor of the side's totals (0 for an empty one)
  double mean[2] = {0, 0};
  double mean_abs[2] = {0, 0};
  double offset_d[2] = {0, 0};
  double offset_g[2] = {0, 0};
  // Statistics over the segment's finite logits.
  double mean_sigmoid_real = 0;
  double mean_sigmoid_fake = 0;
  double frac_real_positive = 0;
  double frac_fake_negative = 0;
  double mean_sign_real = 0;
  int64_t nonfinite_real = 0;
  int64_t nonfinite_fake = 0;
};

// Everything a call can produce, in double. Per-element values are indexed like the arrays
// they describe (row s of a fixed-length side at s * stride, a ragged side by its flat index);
// positions outside every row are NaN.
struct Result {
  std::vector<SegmentTotals> segments;
  std::vector<double> grad_real, grad_real_g, grad_fake_d, grad_fake_g;
  std::vector<double> loss_real, loss_real_g, loss_fake_d, loss_fake_g;
  // w * dl/dx of each term at its argument (x, x - shift, or f - r for pairs): how sensitive
  // the term is to its argument.
  std::vector<double> slope_real_d, slope_real_g, slope_fake_d, slope_fake_g;
};

// Evaluates every term of a valid `problem` on host inputs. A side whose logits are null
// contributes nothing.
Result evaluate(const ganloss_problem_t& problem, const ganloss_inputs_t& inputs);

// The backend: the requested outputs of a validated call, rounded to their storage types.
Status run(const ganloss_problem_t& problem, const ganloss_inputs_t& inputs,
           const detail::CallParams& params);

}  // namespace reference
}  // namespace ganloss

#endif  // GANLOSS_SRC_REFERENCE_HPP_
