// The documented results for NaN and infinite logits, and for weighted means whose weights sum
// to numbers at either end of fp32's range (docs/numerics.md), on the reference, the CPU
// backend and the emulated CUDA kernel.
#include <gtest/gtest.h>

#include "emulated_call.hpp"
#include "nonfinite_table.hpp"
#include "test_support.hpp"
#include "weight_range.hpp"

namespace ganloss {
namespace {

using testing::HostCall;
using testing::NonfiniteCase;

class Nonfinite : public ::testing::TestWithParam<NonfiniteCase> {};

TEST_P(Nonfinite, EveryBackendGivesTheDocumentedResult) {
  const NonfiniteCase& c = GetParam();
  for (int32_t backend : {GANLOSS_BACKEND_REFERENCE, GANLOSS_BACKEND_CPU}) {
    HostCall call(testing::nonfinite_problem(c));
    testing::fill_nonfinite(call, c);
    ASSERT_EQ(call.run(call.all_outputs(), backend), GANLOSS_STATUS_SUCCESS)
        << ganloss_last_error_message();
    testing::expect_documented(call, c, backend == GANLOSS_BACKEND_CPU ? "cpu" : "reference");
  }
  HostCall call(testing::nonfinite_problem(c));
  testing::fill_nonfinite(call, c);
  ASSERT_EQ(testing::run_emulated(call, call.all_outputs()).status, GANLOSS_STATUS_SUCCESS);
  testing::expect_documented(call, c, "emulated kernel");
}

INSTANTIATE_TEST_SUITE_P(Table, Nonfinite, ::testing::ValuesIn(testing::nonfinite_cases()),
                         [](const ::testing::TestParamInfo<NonfiniteCase>& i) {
                           return i.param.name();
                         });

class WeightRange : public ::testing::TestWithParam<testing::WeightRangeCase> {};

TEST_P(WeightRange, ScaledWeightsGiveTheSameBitsOrNaNBeyondFltMax) {
  const testing::WeightRangeCase& c = GetParam();
  testing::expect_weight_range(c, "cpu", 0, [](HostCall& call) {
    ASSERT_EQ(call.run(testing::weight_range_outputs(call), GANLOSS_BACKEND_CPU),
              GANLOSS_STATUS_SUCCESS)
        << ganloss_last_error_message();
  });
  testing::expect_weight_range(
      c, "emulated kernel", detail::kernel::kAccumulationDepth, [](HostCall& call) {
        ASSERT_EQ(testing::run_emulated(call, testing::weight_range_outputs(call)).status,
                  GANLOSS_STATUS_SUCCESS);
      });
}

// The reference (double precision) has no fp32 range to keep within, but the same contract:
// NaN beyond FLT_MAX, and otherwise the mean of the unscaled weights up to rounding.
TEST_P(WeightRange, ReferenceFollowsTheSameContract) {
  const testing::WeightRangeCase& c = GetParam();
  HostCall scaled = testing::weight_range_call(c, true);
  HostCall unit = testing::weight_range_call(c, false);
  const reference::Result a = reference::evaluate(scaled.problem, scaled.inputs());
  const reference::Result b = reference::evaluate(unit.problem, unit.inputs());
  for (std::size_t s = 0; s < a.segments.size(); ++s) {
    if (c.over_range) {
      EXPECT_TRUE(std::isnan(a.segments[s].d_loss_real)) << s;
    } else {
      EXPECT_NEAR(a.segments[s].d_loss, b.segments[s].d_loss, 1e-12) << s;
      EXPECT_NEAR(a.segments[s].g_loss, b.segments[s].g_loss, 1e-12) << s;
    }
  }
  for (std::size_t i = 0; i < a.grad_real.size(); ++i) {
    if (c.over_range) {
      EXPECT_TRUE(std::isnan(a.grad_real[i])) << i;
    } else {
      EXPECT_NEAR(a.grad_real[i], b.grad_real[i], 1e-12) << i;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Cases, WeightRange, ::testing::ValuesIn(testing::weight_range_cases()),
                         [](const ::testing::TestParamInfo<testing::WeightRangeCase>& i) {
                           return i.param.name();
                         });

class ZeroWeights : public ::testing::TestWithParam<testing::MaskCase> {};

TEST_P(ZeroWeights, MaskNonfiniteAndOverflowingTerms) {
  const testing::MaskCase& c = GetParam();
  for (int32_t backend : {GANLOSS_BACKEND_REFERENCE, GANLOSS_BACKEND_CPU}) {
    HostCall call = testing::mask_call(c);
    const ganloss_outputs_t o = call.all_outputs();
    ASSERT_EQ(call.run(o, backend), GANLOSS_STATUS_SUCCESS) << ganloss_last_error_message();
    testing::expect_masked(call, o, 0, backend == GANLOSS_BACKEND_CPU ? "cpu" : "reference");
  }
  HostCall call = testing::mask_call(c);
  const ganloss_outputs_t o = call.all_outputs();
  ASSERT_EQ(testing::run_emulated(call, o).status, GANLOSS_STATUS_SUCCESS);
  testing::expect_masked(call, o, detail::kernel::kAccumulationDepth, "emulated kernel");
}

INSTANTIATE_TEST_SUITE_P(Cases, ZeroWeights, ::testing::ValuesIn(testing::mask_cases()),
                         [](const ::testing::TestParamInfo<testing::MaskCase>& i) {
                           return i.param.name();
                         });

}  // namespace
}  // namespace ganloss
