// A call's outputs against the double-precision reference, output by output, with error bounds
// derived from the dtypes (src/tolerance.hpp) and from how each result is computed. Shared by
// the tests and `ganloss check`, so that both accept the same results for the same reasons.
#ifndef GANLOSS_SRC_COMPARISON_HPP_
#define GANLOSS_SRC_COMPARISON_HPP_

#include <string>
#include <vector>

#include "ganloss/ganloss.h"
#include "reference.hpp"
#include "tolerance.hpp"

namespace ganloss {
namespace detail {

// The worst |got - reference| / bound per kind of output (<= 1 passes; +inf for a mismatched
// NaN or infinity), and the first failure in words.
struct Comparison {
  double gradients = 0;
  double element_losses = 0;
  double totals = 0;
  double statistics = 0;
  std::string first_failure;

  double worst() const;
  void merge(const Comparison& other);
};

// Compares every non-null output of `got` (host memory, in the call's layouts and storage
// types) with `ref` = reference::evaluate(problem, inputs). `model` is the error model of the
// backend that produced `got` (tolerance.hpp): its elementwise math, and the number of fp32
// additions a term may pass through on its way into a sum (for the CPU backend 3 for the loss
// totals, whose unweighted terms go through fp32 blocks before double, ErrorModel::loss_depth,
// and 0 for its other sums, added in double; for ragged problems the CUDA kernel's threads add
// whole rows, so the bound grows with each segment's length: ErrorModel::ragged_rows).
// The error bound of each requested gradient element (index as the arrays; 0 elsewhere), which
// the VJP tests combine: a VJP gradient is u_d grad_D + u_g grad_G of two such gradients.
struct GradientBounds {
  std::vector<double> grad_real, grad_real_g, grad_fake_d, grad_fake_g;
};

Comparison compare_with_reference(const ganloss_problem_t& problem, const ganloss_inputs_t& inputs,
                                  const reference::Result& ref, const ganloss_outputs_t& got,
                                  const ErrorModel& model, GradientBounds* bounds = nullptr);

// The gradients of a VJP call (ganloss_plan_vjp) with the cotangents it was given, all in host
// memory.
struct VjpGradients {
  const float* cotangent_d;  // null: 0, the D loss left out
  const float* cotangent_g;
  const void* grad[2];  // real, fake; null: not requested
};

// Compares a VJP call's gradients with u_d[s] * grad_D + u_g[s] * grad_G formed from `ref`'s
// double gradients, under vjp_gradient_tolerance plus each part's bound as a gradient of a
// compute call under `model` (argument perturbations, sums through the means), scaled by its
// |cotangent|.
Comparison compare_vjp_with_reference(const ganloss_problem_t& problem,
                                      const ganloss_inputs_t& inputs, const reference::Result& ref,
                                      const VjpGradients& got, const ErrorModel& model);

}  // namespace detail
}  // namespace ganloss

#endif  // GANLOSS_SRC_COMPARISON_HPP_
