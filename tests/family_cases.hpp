// The test matrix of the loss family beyond the basic kinds: relativistic losses, reductions,
// weights, ragged segments and 16-bit logits, with every output and the statistics. Shared by
// the CPU, emulated and GPU tests.
#ifndef GANLOSS_TESTS_FAMILY_CASES_HPP_
#define GANLOSS_TESTS_FAMILY_CASES_HPP_

#include <ostream>
#include <string>
#include <vector>

#include "test_support.hpp"

namespace ganloss {
namespace testing {

struct FamilyCase {
  int32_t kind;
  int32_t reduction;
  bool weighted;
  bool ragged;
  int32_t dtype;
  int64_t segments, real_count, fake_count;

  std::string name() const {
    return std::string(kind_name(kind)) + "_" + reduction_name(reduction) +
           (weighted ? "_weighted" : "") + (ragged ? "_ragged" : "") + "_" + dtype_name(dtype) +
           "_S" + std::to_string(segments) + "x" + std::to_string(real_count) + "x" +
           std::to_string(fake_count);
  }
};

inline void PrintTo(const FamilyCase& c, std::ostream* os) {
  *os << c.name();
}

inline std::vector<FamilyCase> family_cases() {
  std::vector<FamilyCase> out;
  const int32_t reductions[] = {GANLOSS_REDUCTION_NONE, GANLOSS_REDUCTION_SUM,
                                GANLOSS_REDUCTION_MEAN, GANLOSS_REDUCTION_MEAN_NONZERO};
  const int32_t kinds[] = {GANLOSS_LOSS_NONSATURATING,
                           GANLOSS_LOSS_HINGE,
                           GANLOSS_LOSS_RELATIVISTIC,
                           GANLOSS_LOSS_RELATIVISTIC_AVERAGE,
                           GANLOSS_LOSS_RELATIVISTIC_AVERAGE_HINGE,
                           GANLOSS_LOSS_RELATIVISTIC_AVERAGE_LEAST_SQUARES};
  for (int32_t kind : kinds) {
    const bool paired = kind == GANLOSS_LOSS_RELATIVISTIC;
    for (int32_t red : reductions) {
      for (bool weighted : {false, true}) {
        out.push_back({kind, red, weighted, false, GANLOSS_DTYPE_F32, 50, 37, paired ? 37 : 23});
        out.push_back(
            {kind, red, weighted, false, GANLOSS_DTYPE_F32, 2, 9000, paired ? 9000 : 7001});
        out.push_back({kind, red, weighted, true, GANLOSS_DTYPE_F32, 40, 60, paired ? 60 : 30});
      }
    }
    out.push_back(
        {kind, GANLOSS_REDUCTION_MEAN, true, false, GANLOSS_DTYPE_F16, 7, 300, paired ? 300 : 200});
    out.push_back(
        {kind, GANLOSS_REDUCTION_MEAN, false, true, GANLOSS_DTYPE_BF16, 13, 50, paired ? 50 : 40});
  }
  return out;
}

inline HostCall make_family_call(const FamilyCase& c) {
  auto p = make_problem(c.segments, c.real_count, c.fake_count, c.kind,
                        c.kind == GANLOSS_LOSS_HINGE || c.kind == GANLOSS_LOSS_NONSATURATING
                            ? GANLOSS_LOSS_NONSATURATING
                            : c.kind,
                        c.reduction);
  p.dtype = c.dtype;
  p.grad_scale = 0.5f;
  CallData data;
  data.real_weights = c.weighted;
  data.fake_weights = c.weighted && c.kind != GANLOSS_LOSS_RELATIVISTIC;
  if (c.ragged) {
    p.ragged = 1;
    data.real_offsets = random_offsets(c.segments, c.real_count, 31);
    data.fake_offsets = c.kind == GANLOSS_LOSS_RELATIVISTIC
                            ? data.real_offsets
                            : random_offsets(c.segments, c.fake_count, 32);
  }
  return HostCall(p, std::hash<std::string>{}(c.name()), data);
}

}  // namespace testing
}  // namespace ganloss

#endif  // GANLOSS_TESTS_FAMILY_CASES_HPP_
