// The documented results for NaN and infinite logits (docs/numerics.md) on the reference, the
// CPU backend and the emulated CUDA kernel, for every loss kind and both sides.
#include <gtest/gtest.h>

#include "emulator/emulated_backend.hpp"
#include "nonfinite_table.hpp"
#include "test_support.hpp"

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
  const std::size_t bytes = emulator::emulated_workspace_size(call.problem);
  call.workspace = testing::GuardedBuffer(bytes);
  ASSERT_EQ(emulator::emulated_compute(call.problem, call.inputs(), call.all_outputs(),
                                       call.workspace.data(), bytes)
                .status,
            GANLOSS_STATUS_SUCCESS);
  testing::expect_documented(call, c, "emulated kernel");
}

INSTANTIATE_TEST_SUITE_P(Table, Nonfinite, ::testing::ValuesIn(testing::nonfinite_cases()),
                         [](const ::testing::TestParamInfo<NonfiniteCase>& i) {
                           return i.param.name();
                         });

}  // namespace
}  // namespace ganloss
