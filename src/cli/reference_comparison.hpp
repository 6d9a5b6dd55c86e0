// A backend's results against the double-precision reference, under the dtype-derived error
// bounds of src/tolerance.hpp (the same bounds the unit tests use).
#ifndef GANLOSS_CLI_REFERENCE_COMPARISON_HPP_
#define GANLOSS_CLI_REFERENCE_COMPARISON_HPP_

#include <string>

#include "backend_call.hpp"
#include "ganloss/ganloss.h"
#include "reference.hpp"

namespace ganloss {
namespace cli {

// Worst |got - want| / bound per kind of output: <= 1 passes, +inf for a non-finite mismatch.
struct ComparisonRatios {
  double gradients = 0.0;
  double element_losses = 0.0;
  double totals = 0.0;
  std::string first_failure;  // the first output beyond its bound, or a stray write

  bool passed() const { return first_failure.empty(); }
  void merge(const ComparisonRatios& other);
};

// Compares every output present in `got`. `depth` is the number of f32 additions a term may
// go through on its way into a total (0 for the CPU backend, which sums in double).
ComparisonRatios compare_with_reference(const ganloss_problem_t& problem,
                                        const reference::Result& want, const HostResults& got,
                                        int depth);

}  // namespace cli
}  // namespace ganloss

#endif  // GANLOSS_CLI_REFERENCE_COMPARISON_HPP_
