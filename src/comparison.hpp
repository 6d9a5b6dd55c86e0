// A call's outputs against the double-precision reference, output by output, with error bounds
// derived from the dtypes (src/tolerance.hpp) and from how each result is computed. Shared by
// the tests and `ganloss check`, so that both accept the same results for the same reasons.
#ifndef GANLOSS_SRC_COMPARISON_HPP_
#define GANLOSS_SRC_COMPARISON_HPP_

#include <string>

#include "ganloss/ganloss.h"
#include "reference.hpp"

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
// types) with `ref` = reference::evaluate(problem, inputs). `depth` is the number of fp32
// additions a term may pass through on its way into a total in the backend that produced
// `got` (0 for the CPU backend, which sums in double; for ragged problems the CUDA kernel's
// threads add whole rows, so the bound grows with each segment's length).
Comparison compare_with_reference(const ganloss_problem_t& problem, const ganloss_inputs_t& inputs,
                                  const reference::Result& ref, const ganloss_outputs_t& got,
                                  int depth);

// The gradients of a VJP call (ganloss_plan_vjp): `grad_real` and `grad_fake` (host memory, the
// logits' layouts, the gradient dtype) against u_d[s] grad_D + u_g[s] grad_G formed from `ref`'s
// per-element gradients, u = the cotangents (null: 0). The bound of each element is the sum of
// its D and G gradients' bounds (as compare_with_reference derives them) times |u|, with two
// more fp32 roundings each (the product with u and the sum), and one rounding to fp32 and one
// to the gradient dtype of the result.
Comparison compare_vjp_with_reference(const ganloss_problem_t& problem,
                                      const ganloss_inputs_t& inputs, const reference::Result& ref,
                                      const float* cotangent_d, const float* cotangent_g,
                                      const void* grad_real, const void* grad_fake, int depth);

}  // namespace detail
}  // namespace ganloss

#endif  // GANLOSS_SRC_COMPARISON_HPP_
