// The relativistic losses, weights, ragged segments and statistics: the reference against finite
// differences, the zero-sum gradients of the relativistic average, weights against repeated
// elements, ragged against fixed-length calls, empty segments; and the CPU backend against the
// reference over all of it.
#include <gtest/gtest.h>

#include <cmath>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "family_cases.hpp"
#include "ganloss/ganloss.h"
#include "reference.hpp"
#include "test_support.hpp"

namespace ganloss {
namespace {

using testing::CallData;
using testing::Comparison;
using testing::HostCall;
using testing::make_problem;

constexpr int32_t kRelativisticKinds[] = {
    GANLOSS_LOSS_RELATIVISTIC, GANLOSS_LOSS_RELATIVISTIC_AVERAGE,
    GANLOSS_LOSS_RELATIVISTIC_AVERAGE_HINGE, GANLOSS_LOSS_RELATIVISTIC_AVERAGE_LEAST_SQUARES};
constexpr int32_t kReductions[] = {GANLOSS_REDUCTION_NONE, GANLOSS_REDUCTION_SUM,
                                   GANLOSS_REDUCTION_MEAN, GANLOSS_REDUCTION_MEAN_NONZERO};

struct Data {
  std::vector<float> real, fake, real_weights, fake_weights;
  std::vector<int64_t> real_offsets, fake_offsets;

  ganloss_inputs_t inputs() const {
    ganloss_inputs_t in;
    ganloss_inputs_init(&in);
    in.real = real.empty() ? nullptr : real.data();
    in.fake = fake.empty() ? nullptr : fake.data();
    in.real_weights = real_weights.empty() ? nullptr : real_weights.data();
    in.fake_weights = fake_weights.empty() ? nullptr : fake_weights.data();
    in.real_offsets = real_offsets.empty() ? nullptr : real_offsets.data();
    in.fake_offsets = fake_offsets.empty() ? nullptr : fake_offsets.data();
    return in;
  }
};

// Logits on a 2^-6 grid, at least 2^-10 from the hinge kinks (of x, and for the average of
// x - mean, which moves with the data: those are checked only for smooth kinds), so that
// x +- 2^-12 is exact in float and central differences do not straddle a kink.
std::vector<float> grid_logits(std::size_t n, std::mt19937_64& rng, float kink) {
  std::uniform_int_distribution<int> grid(-4 * 64, 4 * 64);
  std::vector<float> v(n);
  for (float& x : v) {
    do {
      x = static_cast<float>(grid(rng)) / 64.0f;
    } while (std::fabs(x - kink) <= 0x1p-10f);
  }
  return v;
}

std::pair<double, double> totals(const ganloss_problem_t& p, const Data& d) {
  const reference::Result r = reference::evaluate(p, d.inputs());
  double dl = 0, gl = 0;
  for (const auto& t : r.segments) {
    dl += t.d_loss;
    gl += t.g_loss;
  }
  return {dl, gl};
}

// dL/dx by central differences for every logit, against the reference's gradients.
void expect_gradients_match_differences(const ganloss_problem_t& p, const Data& d,
                                        const std::string& what) {
  const reference::Result base = reference::evaluate(p, d.inputs());
  const double h = 0x1p-12;
  for (int side = 0; side < 2; ++side) {
    const std::vector<float>& x = side == 0 ? d.real : d.fake;
    for (std::size_t i = 0; i < x.size(); ++i) {
      Data plus = d, minus = d;
      (side == 0 ? plus.real : plus.fake)[i] += static_cast<float>(h);
      (side == 0 ? minus.real : minus.fake)[i] -= static_cast<float>(h);
      const auto tp = totals(p, plus), tm = totals(p, minus);
      const double fd_d = p.grad_scale * (tp.first - tm.first) / (2 * h);
      const double fd_g = p.grad_scale * (tp.second - tm.second) / (2 * h);
      const double gd = side == 0 ? base.grad_real[i] : base.grad_fake_d[i];
      const double gg = side == 0 ? base.grad_real_g[i] : base.grad_fake_g[i];
      // Second-order terms: h^2 |f'''| / 6 with |f'''| below a few units for these losses.
      const double tol = 1e-6 * std::max(1.0, std::fabs(fd_d));
      ASSERT_NEAR(gd, fd_d, tol) << what << (side ? " fake" : " real") << " D at " << i;
      ASSERT_NEAR(gg, fd_g, 1e-6 * std::max(1.0, std::fabs(fd_g)))
          << what << (side ? " fake" : " real") << " G at " << i;
    }
  }
}

TEST(RelativisticReference, FiniteDifferencesForEveryKindReductionAndWeighting) {
  std::mt19937_64 rng(17);
  std::uniform_real_distribution<float> weight(0.25f, 2.0f);
  for (int32_t kind : kRelativisticKinds) {
    for (int32_t red : kReductions) {
      for (bool weighted : {false, true}) {
        auto p = make_problem(2, 5, kind == GANLOSS_LOSS_RELATIVISTIC ? 5 : 4, kind, kind, red);
        p.grad_scale = 0.75f;
        p.params.margin_real = 0.5f;
        p.params.margin_fake = 1.5f;
        Data d;
        // The hinge kinks of the average move with the means: keep the logits well inside.
        d.real = grid_logits(10, rng, 1e9f);
        d.fake = grid_logits(static_cast<std::size_t>(2 * p.fake_count), rng, 1e9f);
        if (weighted) {
          d.real_weights.resize(d.real.size());
          for (float& w : d.real_weights)
            w = weight(rng);
          if (kind != GANLOSS_LOSS_RELATIVISTIC) {
            d.fake_weights.resize(d.fake.size());
            for (float& w : d.fake_weights)
              w = weight(rng);
          }
        }
        if (kind == GANLOSS_LOSS_RELATIVISTIC_AVERAGE_HINGE) {
          // Skip data that puts an argument within the differences' reach of a kink.
          const reference::Result r = reference::evaluate(p, d.inputs());
          bool near = false;
          for (int64_t s = 0; s < 2; ++s) {
            for (int64_t i = 0; i < 5; ++i) {
              const double x = d.real[static_cast<std::size_t>(s * 5 + i)] - r.segments[s].mean[1];
              near |= std::fabs(x - 0.5) < 1e-3 || std::fabs(x + 1.5) < 1e-3;
            }
            for (int64_t i = 0; i < p.fake_count; ++i) {
              const double x =
                  d.fake[static_cast<std::size_t>(s * p.fake_count + i)] - r.segments[s].mean[0];
              near |= std::fabs(x - 0.5) < 1e-3 || std::fabs(x + 1.5) < 1e-3;
            }
          }
          if (near) continue;
        }
        expect_gradients_match_differences(p, d,
                                           std::string(testing::kind_name(kind)) + " " +
                                               testing::reduction_name(red) +
                                               (weighted ? " weighted" : ""));
      }
    }
  }
}

TEST(RelativisticReference, PairedClosedForm) {
  const auto p = make_problem(1, 2, 2, GANLOSS_LOSS_RELATIVISTIC, GANLOSS_LOSS_RELATIVISTIC,
                              GANLOSS_REDUCTION_MEAN);
  Data d;
  d.real = {1.0f, 0.0f};
  d.fake = {1.0f, 40.0f};
  const reference::Result r = reference::evaluate(p, d.inputs());
  const double ln2 = std::log(2.0);
  // Pair 0: d = 0, sp(0) = ln 2 for both D and G; pair 1: d = 40.
  EXPECT_NEAR(r.segments[0].d_loss, (ln2 + 40.0 + std::exp(-40.0)) / 2, 1e-15);
  EXPECT_NEAR(r.segments[0].g_loss, (ln2 + std::exp(-40.0)) / 2, 1e-15);
  EXPECT_EQ(r.segments[0].d_loss_fake, 0.0);
  EXPECT_DOUBLE_EQ(r.grad_real[0], -0.25);
  EXPECT_DOUBLE_EQ(r.grad_fake_d[0], 0.25);
  EXPECT_DOUBLE_EQ(r.grad_fake_g[0], -0.25);
  EXPECT_DOUBLE_EQ(r.grad_real_g[0], 0.25);
  EXPECT_NEAR(r.grad_fake_g[1], -std::exp(-40.0) / 2, 1e-12 * std::exp(-40.0));
}

// For every relativistic average loss, the gradients over r and f together sum to zero.
TEST(RelativisticReference, AverageGradientsSumToZero) {
  std::mt19937_64 rng(3);
  for (int32_t kind : {GANLOSS_LOSS_RELATIVISTIC_AVERAGE, GANLOSS_LOSS_RELATIVISTIC_AVERAGE_HINGE,
                       GANLOSS_LOSS_RELATIVISTIC_AVERAGE_LEAST_SQUARES}) {
    for (int32_t red : kReductions) {
      for (bool weighted : {false, true}) {
        auto p = make_problem(3, 40, 25, kind, kind, red);
        HostCall call(p, rng(), CallData{weighted, weighted, {}, {}});
        const reference::Result r = reference::evaluate(p, call.inputs());
        for (int64_t s = 0; s < 3; ++s) {
          double d = 0, g = 0, scale = 0;
          for (int64_t i = 0; i < 40; ++i) {
            d += r.grad_real[static_cast<std::size_t>(s * 40 + i)];
            g += r.grad_real_g[static_cast<std::size_t>(s * 40 + i)];
            scale += std::fabs(r.grad_real[static_cast<std::size_t>(s * 40 + i)]);
          }
          for (int64_t i = 0; i < 25; ++i) {
            d += r.grad_fake_d[static_cast<std::size_t>(s * 25 + i)];
            g += r.grad_fake_g[static_cast<std::size_t>(s * 25 + i)];
          }
          EXPECT_NEAR(d, 0.0, 1e-13 * std::max(1.0, scale)) << testing::kind_name(kind) << " D";
          EXPECT_NEAR(g, 0.0, 1e-13 * std::max(1.0, scale)) << testing::kind_name(kind) << " G";
        }
      }
    }
  }
}

// An integer weight k is the element repeated k times (losses and the gradient per copy
// times k), for the sum and mean reductions and the paired relativistic loss.
TEST(Weights, IntegerWeightsAreRepeatedElements) {
  std::mt19937_64 rng(9);
  std::uniform_int_distribution<int> copies(0, 3);
  for (int32_t kind : {GANLOSS_LOSS_NONSATURATING, GANLOSS_LOSS_HINGE, GANLOSS_LOSS_LEAST_SQUARES,
                       GANLOSS_LOSS_RELATIVISTIC}) {
    for (int32_t red : {GANLOSS_REDUCTION_SUM, GANLOSS_REDUCTION_MEAN}) {
      const int64_t n = 12;
      Data weighted;
      weighted.real = grid_logits(n, rng, 1.0f);
      weighted.fake = grid_logits(n, rng, -1.0f);
      Data expanded;
      std::vector<int> k(n);
      for (int64_t i = 0; i < n; ++i) {
        k[static_cast<std::size_t>(i)] = copies(rng);
        weighted.real_weights.push_back(static_cast<float>(k[static_cast<std::size_t>(i)]));
        for (int c = 0; c < k[static_cast<std::size_t>(i)]; ++c) {
          expanded.real.push_back(weighted.real[static_cast<std::size_t>(i)]);
          if (kind == GANLOSS_LOSS_RELATIVISTIC) {
            expanded.fake.push_back(weighted.fake[static_cast<std::size_t>(i)]);
          }
        }
      }
      if (kind == GANLOSS_LOSS_RELATIVISTIC) {
        if (expanded.real.empty()) continue;
      } else {
        expanded.fake = weighted.fake;  // fake side unweighted
      }
      if (expanded.real.empty()) continue;
      auto pw = make_problem(1, n, n, kind, kind, red);
      auto pe = make_problem(1, static_cast<int64_t>(expanded.real.size()),
                             static_cast<int64_t>(expanded.fake.size()), kind, kind, red);
      const reference::Result rw = reference::evaluate(pw, weighted.inputs());
      const reference::Result re = reference::evaluate(pe, expanded.inputs());
      EXPECT_NEAR(rw.segments[0].d_loss, re.segments[0].d_loss, 1e-12) << kind << " " << red;
      EXPECT_NEAR(rw.segments[0].g_loss, re.segments[0].g_loss, 1e-12) << kind << " " << red;
      // Gradient of a weighted element = sum of its copies' gradients.
      std::size_t e = 0;
      for (int64_t i = 0; i < n; ++i) {
        double sum = 0;
        for (int c = 0; c < k[static_cast<std::size_t>(i)]; ++c)
          sum += re.grad_real[e++];
        EXPECT_NEAR(rw.grad_real[static_cast<std::size_t>(i)], sum, 1e-13) << i;
      }
    }
  }
}

TEST(Weights, MeanOverNonzeroWeights) {
  auto p = make_problem(1, 4, 4, GANLOSS_LOSS_WASSERSTEIN, GANLOSS_LOSS_WASSERSTEIN,
                        GANLOSS_REDUCTION_MEAN_NONZERO);
  Data d;
  d.real = {1.0f, 2.0f, 3.0f, 4.0f};
  d.fake = {0.5f, 0.5f, 0.5f, 0.5f};
  d.real_weights = {1.0f, 0.0f, 2.0f, 0.0f};
  const reference::Result r = reference::evaluate(p, d.inputs());
  EXPECT_DOUBLE_EQ(r.segments[0].d_loss_real, -(1.0 + 6.0) / 2);  // two non-zero weights
  EXPECT_DOUBLE_EQ(r.segments[0].d_loss_fake, 0.5);               // unweighted: a plain mean
  EXPECT_DOUBLE_EQ(r.grad_real[1], 0.0);
  EXPECT_DOUBLE_EQ(r.grad_real[2], -1.0);
}

// A ragged problem is the fixed-length calls of its segments, one by one; an empty segment
// has zero losses and gradients, never a division by zero.
TEST(Ragged, SegmentsAreTheirOwnFixedLengthCalls) {
  for (int32_t kind : {GANLOSS_LOSS_NONSATURATING, GANLOSS_LOSS_HINGE, GANLOSS_LOSS_RELATIVISTIC,
                       GANLOSS_LOSS_RELATIVISTIC_AVERAGE}) {
    for (int32_t red : kReductions) {
      auto p = make_problem(9, 0, 0, kind, kind, red);
      p.ragged = 1;
      std::vector<int64_t> ro = testing::random_offsets(9, 20, 5);
      std::vector<int64_t> fo =
          kind == GANLOSS_LOSS_RELATIVISTIC ? ro : testing::random_offsets(9, 15, 6);
      HostCall call(p, 12, CallData{true, kind != GANLOSS_LOSS_RELATIVISTIC, ro, fo});
      const reference::Result r = reference::evaluate(call.problem, call.inputs());
      for (int64_t s = 0; s < 9; ++s) {
        const int64_t nr = ro[static_cast<std::size_t>(s + 1)] - ro[static_cast<std::size_t>(s)];
        const int64_t nf = fo[static_cast<std::size_t>(s + 1)] - fo[static_cast<std::size_t>(s)];
        const auto& t = r.segments[static_cast<std::size_t>(s)];
        if (nr == 0 && nf == 0) {
          EXPECT_EQ(t.d_loss, 0.0);
          EXPECT_EQ(t.g_loss, 0.0);
          continue;
        }
        if (nr == 0 || nf == 0) continue;  // a one-sided segment has no fixed-length twin
        auto ps = make_problem(1, nr, nf, kind, kind, red);
        Data one;
        const ganloss_inputs_t in = call.inputs();
        for (int64_t i = 0; i < nr; ++i) {
          one.real.push_back(
              static_cast<const float*>(in.real)[ro[static_cast<std::size_t>(s)] + i]);
          one.real_weights.push_back(in.real_weights[ro[static_cast<std::size_t>(s)] + i]);
        }
        for (int64_t i = 0; i < nf; ++i) {
          one.fake.push_back(
              static_cast<const float*>(in.fake)[fo[static_cast<std::size_t>(s)] + i]);
          if (in.fake_weights)
            one.fake_weights.push_back(in.fake_weights[fo[static_cast<std::size_t>(s)] + i]);
        }
        const reference::Result rs = reference::evaluate(ps, one.inputs());
        EXPECT_DOUBLE_EQ(t.d_loss, rs.segments[0].d_loss) << kind << " " << red << " " << s;
        EXPECT_DOUBLE_EQ(t.g_loss, rs.segments[0].g_loss) << kind << " " << red << " " << s;
        for (int64_t i = 0; i < nr; ++i) {
          EXPECT_DOUBLE_EQ(
              r.grad_real[static_cast<std::size_t>(ro[static_cast<std::size_t>(s)] + i)],
              rs.grad_real[static_cast<std::size_t>(i)]);
        }
      }
    }
  }
}

TEST(Statistics, ClosedForm) {
  auto p = make_problem(1, 5, 4, GANLOSS_LOSS_HINGE, GANLOSS_LOSS_HINGE, GANLOSS_REDUCTION_MEAN);
  Data d;
  const float inf = std::numeric_limits<float>::infinity();
  d.real = {2.0f, -1.0f, 0.0f, inf, std::nanf("")};
  d.fake = {-3.0f, -0.5f, 1.0f, -inf};
  const reference::Result r = reference::evaluate(p, d.inputs());
  const auto& t = r.segments[0];
  auto sig = [](double x) { return 1.0 / (1.0 + std::exp(-x)); };
  EXPECT_NEAR(t.mean_sigmoid_real, (sig(2) + sig(-1) + 0.5) / 3, 1e-15);
  EXPECT_NEAR(t.mean_sigmoid_fake, (sig(-3) + sig(-0.5) + sig(1)) / 3, 1e-15);
  EXPECT_DOUBLE_EQ(t.frac_real_positive, 1.0 / 3);
  EXPECT_DOUBLE_EQ(t.frac_fake_negative, 2.0 / 3);
  EXPECT_DOUBLE_EQ(t.mean_sign_real, 0.0);
  EXPECT_EQ(t.nonfinite_real, 2);
  EXPECT_EQ(t.nonfinite_fake, 1);
}

// The CPU backend against the reference over the whole family.
using testing::FamilyCase;

class CpuFamily : public ::testing::TestWithParam<FamilyCase> {};

TEST_P(CpuFamily, MatchesReference) {
  HostCall call = testing::make_family_call(GetParam());
  const ganloss_outputs_t o = call.all_outputs();
  ASSERT_EQ(call.run(o, GANLOSS_BACKEND_CPU), GANLOSS_STATUS_SUCCESS)
      << ganloss_last_error_message();
  const Comparison cmp = testing::compare_with_reference(call, o, detail::kCpuError);
  EXPECT_LE(cmp.worst(), 1.0) << testing::describe(call.problem) << ": " << cmp.first_failure;
}

INSTANTIATE_TEST_SUITE_P(Cases, CpuFamily, ::testing::ValuesIn(testing::family_cases()),
                         [](const ::testing::TestParamInfo<FamilyCase>& i) {
                           return i.param.name();
                         });

// Outputs one at a time for the relativistic kinds (the average's gradients take three passes;
// a paired term needs both sides' logits whichever output asks for it).
TEST(CpuFamilyOutputs, EachOutputAlone) {
  for (int32_t kind : {GANLOSS_LOSS_RELATIVISTIC, GANLOSS_LOSS_RELATIVISTIC_AVERAGE}) {
    for (int which = 0; which < testing::kOutputCount; ++which) {
      auto p = make_problem(4, 3000, kind == GANLOSS_LOSS_RELATIVISTIC ? 3000 : 2500, kind, kind,
                            GANLOSS_REDUCTION_MEAN);
      HostCall call(p, static_cast<uint64_t>(which),
                    CallData{true, kind != GANLOSS_LOSS_RELATIVISTIC, {}, {}});
      const ganloss_outputs_t o = testing::only(call.all_outputs(), which);
      ASSERT_EQ(call.run(o, GANLOSS_BACKEND_CPU), GANLOSS_STATUS_SUCCESS);
      const Comparison cmp = testing::compare_with_reference(call, o, detail::kCpuError);
      EXPECT_LE(cmp.worst(), 1.0) << testing::kind_name(kind) << " output " << which << ": "
                                  << cmp.first_failure;
    }
  }
}

}  // namespace
}  // namespace ganloss
