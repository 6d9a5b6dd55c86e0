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
  testing::expect_weight_range(c, "cpu", detail::kCpuError, [](HostCall& call) {
    ASSERT_EQ(call.run(testing::weight_range_outputs(call), GANLOSS_BACKEND_CPU),
              GANLOSS_STATUS_SUCCESS)
        << ganloss_last_error_message();
  });
  testing::expect_weight_range(c, "emulated kernel", detail::kCudaKernelError, [](HostCall& call) {
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

// One run of a call on a host backend: the error model its results are compared under, its name
// for messages, and whether it is the emulated CUDA kernel.
struct HostRun {
  const detail::ErrorModel& error;
  const char* name;
  bool kernel;
};

// Runs a fresh call from `make` on the reference, the CPU backend and the emulated kernel, and
// checks each run's outputs with `check(call, outputs, run)`.
template <class Make, class Check>
void on_host_backends(const Make& make, const Check& check) {
  const detail::ErrorModel exact(0);
  for (int32_t backend : {GANLOSS_BACKEND_REFERENCE, GANLOSS_BACKEND_CPU}) {
    HostCall call = make();
    const ganloss_outputs_t o = call.all_outputs();
    ASSERT_EQ(call.run(o, backend), GANLOSS_STATUS_SUCCESS) << ganloss_last_error_message();
    const bool cpu = backend == GANLOSS_BACKEND_CPU;
    check(call, o, HostRun{cpu ? detail::kCpuError : exact, cpu ? "cpu" : "reference", false});
  }
  HostCall call = make();
  const ganloss_outputs_t o = call.all_outputs();
  ASSERT_EQ(testing::run_emulated(call, o).status, GANLOSS_STATUS_SUCCESS);
  check(call, o, HostRun{detail::kCudaKernelError, "emulated kernel", true});
}

class ZeroWeights : public ::testing::TestWithParam<testing::MaskCase> {};

TEST_P(ZeroWeights, MaskNonfiniteAndOverflowingTerms) {
  const testing::MaskCase& c = GetParam();
  on_host_backends([&] { return testing::mask_call(c); },
                   [](HostCall& call, const ganloss_outputs_t& o, const HostRun& run) {
                     testing::expect_masked(call, o, run.error, run.name);
                   });
}

INSTANTIATE_TEST_SUITE_P(Cases, ZeroWeights, ::testing::ValuesIn(testing::mask_cases()),
                         [](const ::testing::TestParamInfo<testing::MaskCase>& i) {
                           return i.param.name();
                         });

// Terms whose value or argument leaves fp32's range (docs/numerics.md, "Terms beyond fp32's
// range"): a least-squares term above FLT_MAX under a weight small enough to bring it back in
// range is finite (formed as (w d / 2) d), and a relativistic argument f - r or x - mean beyond
// fp32's range is the infinity it rounds to, on every backend.
struct ExtremeCase {
  const char* name;
  int32_t kind;
  int32_t reduction;
  float real;          // logit of real element 1
  float real_weight;   // its weight
  float fake;          // logit of fake element 2 (of fake element 1, the pair, for the paired loss)
  float fake_weight;   // its weight
  float loss;          // the real element's D loss: 0 if finite (checked against the reference)
  bool kernel = true;  // false: the kernel's fp32 products and sums overflow (docs/numerics.md)
};

void PrintTo(const ExtremeCase& c, std::ostream* os) {
  *os << c.name;
}

const float kMax = std::numeric_limits<float>::max();
const float kInf = std::numeric_limits<float>::infinity();

std::vector<ExtremeCase> extreme_cases() {
  return {
      // (FLT_MAX - a)^2 / 2 = 5.8e76, times 1e-40: 5.8e36.
      {"ls_none", GANLOSS_LOSS_LEAST_SQUARES, GANLOSS_REDUCTION_NONE, kMax, 1e-40f, -1e30f, 1e-30f,
       0.0f},
      {"ls_mean", GANLOSS_LOSS_LEAST_SQUARES, GANLOSS_REDUCTION_MEAN, -kMax, 1e-40f, 1e30f, 1e-30f,
       0.0f},
      {"ls_sum", GANLOSS_LOSS_LEAST_SQUARES, GANLOSS_REDUCTION_SUM, 3e25f, 1e-30f, -3e25f, 2e-30f,
       0.0f},
      // r~ = FLT_MAX - mean(f): the relativistic average least-squares term under a tiny weight.
      {"ra_ls_mean", GANLOSS_LOSS_RELATIVISTIC_AVERAGE_LEAST_SQUARES, GANLOSS_REDUCTION_MEAN, kMax,
       1e-40f, 0.5f, 1.0f, 0.0f},
      {"ra_ls_none", GANLOSS_LOSS_RELATIVISTIC_AVERAGE_LEAST_SQUARES, GANLOSS_REDUCTION_NONE,
       -1e30f, 1e-30f, 2.0f, 1.0f, 0.0f},
      // f - r = 2 FLT_MAX: +inf, whatever the weight.
      {"paired_overflow", GANLOSS_LOSS_RELATIVISTIC, GANLOSS_REDUCTION_MEAN, -kMax, 0.25f, kMax,
       1.0f, kInf},
      // r - mean(f) = -FLT_MAX - FLT_MAX / 7 with one fake logit at FLT_MAX: -inf.
      {"ra_hinge_overflow", GANLOSS_LOSS_RELATIVISTIC_AVERAGE_HINGE, GANLOSS_REDUCTION_NONE, -kMax,
       0.25f, kMax, 1.0f, kInf},
      {"ra_overflow", GANLOSS_LOSS_RELATIVISTIC_AVERAGE, GANLOSS_REDUCTION_SUM, -kMax, 0.125f, kMax,
       1.0f, kInf},
      // w l = -2 FLT_MAX (real) and +2 FLT_MAX (fake), past fp32's range, in means by count
      // that are within it; the kernel's fp32 partial sums are -inf and +inf, and d_loss NaN.
      {"weighted_terms_cancel", GANLOSS_LOSS_WASSERSTEIN, GANLOSS_REDUCTION_MEAN_NONZERO, kMax,
       2.0f, kMax, 2.0f, -kInf, false},
      // w (x - a) = 3 (-FLT_MAX - a), past fp32's range, in a gradient divided by the count of
      // nonzero weights (-1.5e38); the kernel's fp32 product is -inf.
      {"weighted_gradient", GANLOSS_LOSS_LEAST_SQUARES, GANLOSS_REDUCTION_MEAN_NONZERO, -kMax, 3.0f,
       1.0f, 1.0f, kInf, false},
  };
}

HostCall extreme_call(const ExtremeCase& c) {
  ganloss_problem_t p = testing::make_problem(2, 7, 7, c.kind, c.kind, c.reduction);
  testing::CallData data;
  data.real_weights = true;
  data.fake_weights = c.kind != GANLOSS_LOSS_RELATIVISTIC;
  HostCall call(p, 5, data);
  for (int64_t s = 0; s < p.segments; ++s) {
    const int64_t r = s * p.real_count;
    const int64_t f = s * p.fake_count;
    call.set_real(r + 1, c.real);
    call.real_weights.as<float>()[r + 1] = c.real_weight;
    if (c.kind == GANLOSS_LOSS_RELATIVISTIC) {
      call.set_fake(f + 1, c.fake);  // the pair of real element 1
      continue;
    }
    call.set_fake(f + 2, c.fake);
    call.fake_weights.as<float>()[f + 2] = c.fake_weight;
  }
  return call;
}

void expect_extreme(HostCall& call, const ganloss_outputs_t& o, const ExtremeCase& c,
                    const detail::ErrorModel& depth, const char* backend) {
  const testing::Comparison cmp = testing::compare_with_reference(call, o, depth);
  EXPECT_LE(cmp.worst(), 1.0) << backend << ": " << cmp.first_failure;
  for (int64_t s = 0; s < call.problem.segments; ++s) {
    const float loss = call.loss_real.as<float>()[s * call.problem.real_count + 1];
    if (c.loss == 0.0f) {
      EXPECT_TRUE(std::isfinite(loss)) << backend << " segment " << s << ": " << loss;
    } else {
      EXPECT_EQ(loss, c.loss) << backend << " segment " << s;
    }
  }
}

class ExtremeTerms : public ::testing::TestWithParam<ExtremeCase> {};

TEST_P(ExtremeTerms, FollowTheDocumentedRangeRules) {
  const ExtremeCase& c = GetParam();
  on_host_backends([&] { return extreme_call(c); },
                   [&](HostCall& call, const ganloss_outputs_t& o, const HostRun& run) {
                     if (run.kernel && !c.kernel) {
                       const testing::Comparison cmp =
                           testing::compare_with_reference(call, o, run.error);
                       EXPECT_GT(cmp.worst(), 1.0) << "the emulated kernel now matches the "
                                                      "reference: docs/numerics.md and this "
                                                      "case are stale";
                     } else {
                       expect_extreme(call, o, c, run.error, run.name);
                     }
                   });
}

INSTANTIATE_TEST_SUITE_P(Cases, ExtremeTerms, ::testing::ValuesIn(extreme_cases()),
                         [](const ::testing::TestParamInfo<ExtremeCase>& i) {
                           return std::string(i.param.name);
                         });

// The comparison at fp32's overflow threshold (2^128 - 2^103, from which rounding to fp32 gives
// +inf): a finite reference whose bound reaches the threshold may come back as the infinity of
// its sign, and one beyond it by more than its bound must.
TEST(ToleranceAtOverflow, InfinityWhereTheBoundReachesTheThreshold) {
  const double threshold = 0x1p128 - 0x1p103;
  const double max = kMax;
  const detail::Tolerance exact{0.0, 0.0, DType::f32};
  const detail::Tolerance four_u{0x1p-22, 0.0, DType::f32};
  EXPECT_FALSE(exact.accepts(kInf, max));
  EXPECT_TRUE(four_u.accepts(kInf, max));  // FLT_MAX (1 + 4 u) is past the threshold
  EXPECT_FALSE(four_u.accepts(-kInf, max));
  EXPECT_FALSE(four_u.accepts(kInf, 0x1p127));  // 2^127 (1 + 4 u) is not
  EXPECT_EQ(four_u.ratio(kInf, max), 0.0);
  EXPECT_EQ(four_u.ratio(kInf, 0x1p127), std::numeric_limits<double>::infinity());
  EXPECT_TRUE(exact.accepts(kInf, threshold));
  EXPECT_FALSE(exact.accepts(max, threshold));
  EXPECT_TRUE(four_u.accepts(max, threshold));  // FLT_MAX is within 4 u of it
  EXPECT_FALSE(four_u.accepts(std::numeric_limits<double>::quiet_NaN(), max));
}

// The relativistic average's gradient term through the other side's mean can pass FLT_MAX
// where the gradient it enters does not: least squares, reduction none, 33 real logits of which
// 6 are -FLT_MAX (mean r = -0.18 FLT_MAX) and 10 fake of which 5 are (mean f = -0.5 FLT_MAX).
// A fake element's D gradient is (f - mean r) - (33 / 10) (mean r - mean f - 1): at f = 0 that
// is 0.18 FLT_MAX - 1.05 FLT_MAX, finite although its second term is not. The CPU backend keeps
// that term in double (a fuzzing finding; its input is a regression input of fuzz_cpu_backend);
// the CUDA kernel adds it in fp32, where it is -inf (docs/numerics.md).
TEST(ExtremeTerms, AverageOffsetPastFltMax) {
  const ganloss_problem_t p = testing::make_problem(
      1, 33, 10, GANLOSS_LOSS_RELATIVISTIC_AVERAGE_LEAST_SQUARES,
      GANLOSS_LOSS_RELATIVISTIC_AVERAGE_LEAST_SQUARES, GANLOSS_REDUCTION_NONE);
  const auto make = [&p] {
    HostCall call(p, 3);
    for (int64_t i = 0; i < p.real_count; ++i)
      call.set_real(i, i < 6 ? -kMax : 0.0f);
    for (int64_t i = 0; i < p.fake_count; ++i)
      call.set_fake(i, i < 5 ? -kMax : 0.0f);
    return call;
  };
  for (int32_t backend : {GANLOSS_BACKEND_REFERENCE, GANLOSS_BACKEND_CPU}) {
    HostCall call = make();
    const ganloss_outputs_t o = call.all_outputs();
    ASSERT_EQ(call.run(o, backend), GANLOSS_STATUS_SUCCESS) << ganloss_last_error_message();
    const bool cpu = backend == GANLOSS_BACKEND_CPU;
    const testing::Comparison cmp =
        testing::compare_with_reference(call, o, cpu ? detail::kCpuError : detail::ErrorModel(0));
    EXPECT_LE(cmp.worst(), 1.0) << cmp.first_failure;
    const float grad = call.grad_fake_d.as<float>()[5];
    EXPECT_TRUE(std::isfinite(grad)) << (cpu ? "cpu" : "reference") << ": " << grad;
    EXPECT_LT(grad, -0.8f * kMax);
  }
  HostCall call = make();
  const ganloss_outputs_t o = call.all_outputs();
  ASSERT_EQ(testing::run_emulated(call, o).status, GANLOSS_STATUS_SUCCESS);
  EXPECT_GT(testing::compare_with_reference(call, o, detail::kCudaKernelError).worst(), 1.0)
      << "the emulated kernel now matches the reference: docs/numerics.md and this test are stale";
}

// A weighted mean's backends scale a side's weights so that they sum into [0.5, 1) (SideScale).
// A nonzero weight far below its side's sum (1e-40 beside 64 weights of 1e4) would scale below
// fp32's smallest subnormal, but it is not a zero weight: it scales to that subnormal, so the
// infinite term under it still reaches the totals (+inf, as 1e-40 inf is) and its gradient, as
// the reference's weight as given does, on every backend (docs/numerics.md, "Weights"). A zero
// weight would mask both. Element 3 of each side holds the weight; its logit is infinite on the
// side that gives an infinite D term (the fake logit for the paired loss, whose weights are the
// real ones).
struct TinyWeightCase {
  const char* name;
  int32_t kind;
  float real;              // real element 3's logit
  float fake;              // fake element 3's logit
  bool infinite_gradient;  // real element 3's D gradient is -inf (least squares: w (x - 1))
};

void PrintTo(const TinyWeightCase& c, std::ostream* os) {
  *os << c.name;
}

class TinyWeights : public ::testing::TestWithParam<TinyWeightCase> {};

HostCall tiny_weight_call(const TinyWeightCase& c) {
  const ganloss_problem_t p =
      testing::make_problem(2, 64, 64, c.kind, c.kind, GANLOSS_REDUCTION_MEAN);
  testing::CallData data;
  data.real_weights = true;
  data.fake_weights = c.kind != GANLOSS_LOSS_RELATIVISTIC;
  HostCall call(p, 9, data);
  for (int64_t i = 0; i < p.segments * p.real_count; ++i) {
    const bool tiny = i % p.real_count == 3;
    call.real_weights.as<float>()[i] = tiny ? 1e-40f : 1e4f;
    if (tiny) call.set_real(i, c.real);
  }
  for (int64_t i = 0; i < p.segments * p.fake_count; ++i) {
    const bool tiny = i % p.fake_count == 3;
    if (data.fake_weights) call.fake_weights.as<float>()[i] = tiny ? 1e-40f : 1e4f;
    if (tiny) call.set_fake(i, c.fake);
  }
  return call;
}

void expect_tiny_weight(HostCall& call, const ganloss_outputs_t& o, const TinyWeightCase& c,
                        const detail::ErrorModel& depth, const char* backend) {
  const testing::Comparison cmp = testing::compare_with_reference(call, o, depth);
  EXPECT_LE(cmp.worst(), 1.0) << backend << ": " << cmp.first_failure;
  for (int64_t s = 0; s < call.problem.segments; ++s) {
    EXPECT_EQ(call.d_loss.as<float>()[s], kInf) << backend << " segment " << s;
    const float grad = call.grad_real.as<float>()[s * call.problem.real_count + 3];
    if (c.infinite_gradient) {
      EXPECT_EQ(grad, -kInf) << backend << " segment " << s;
    } else {
      EXPECT_TRUE(std::isfinite(grad)) << backend << " segment " << s << ": " << grad;
    }
  }
}

TEST_P(TinyWeights, ScaleToTheSmallestSubnormalNotToZero) {
  const TinyWeightCase& c = GetParam();
  on_host_backends([&] { return tiny_weight_call(c); },
                   [&](HostCall& call, const ganloss_outputs_t& o, const HostRun& run) {
                     expect_tiny_weight(call, o, c, run.error, run.name);
                   });
}

INSTANTIATE_TEST_SUITE_P(
    Cases, TinyWeights,
    ::testing::Values(
        // (x - 1)^2 / 2 at x = -inf: +inf, its gradient -inf.
        TinyWeightCase{"least_squares", GANLOSS_LOSS_LEAST_SQUARES, -kInf, 0.5f, true},
        // sp(-x) at x = -inf: +inf, its gradient -1.
        TinyWeightCase{"nonsaturating", GANLOSS_LOSS_NONSATURATING, -kInf, 0.5f, false},
        // sp(f - r) at f = +inf: +inf, its gradients -1 and 1.
        TinyWeightCase{"relativistic", GANLOSS_LOSS_RELATIVISTIC, 0.5f, kInf, false},
        // A fake logit of +inf makes the fake mean +inf, so every real term
        // (r - mean f - 1)^2 / 2 is +inf and its direct gradient -inf; the fake element's own
        // derivative, +inf under the tiny weight, makes the term through the fake mean -inf.
        // Masked, the tiny-weight real element's gradient would be finite.
        TinyWeightCase{"average_least_squares", GANLOSS_LOSS_RELATIVISTIC_AVERAGE_LEAST_SQUARES,
                       0.5f, kInf, true}),
    [](const ::testing::TestParamInfo<TinyWeightCase>& i) { return std::string(i.param.name); });

}  // namespace
}  // namespace ganloss
