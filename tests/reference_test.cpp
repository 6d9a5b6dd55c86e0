// The reference backend against closed-form values and against central finite differences
// of its own losses, for every loss kind and reduction.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "ganloss/ganloss.h"
#include "reference.hpp"
#include "test_support.hpp"

namespace ganloss {
namespace {

using testing::make_problem;

constexpr double kLn2 = 0.69314718055994530942;
constexpr double kInf = std::numeric_limits<double>::infinity();

reference::Result eval(const ganloss_problem_t& p, const std::vector<float>& r,
                       const std::vector<float>& f, const std::vector<float>& rw = {},
                       const std::vector<float>& fw = {}) {
  ganloss_inputs_t in;
  ganloss_inputs_init(&in);
  in.real = r.empty() ? nullptr : r.data();
  in.fake = f.empty() ? nullptr : f.data();
  in.real_weights = rw.empty() ? nullptr : rw.data();
  in.fake_weights = fw.empty() ? nullptr : fw.data();
  return reference::evaluate(p, in);
}

TEST(ReferenceClosedForm, NonsaturatingAtZero) {
  const auto p = make_problem(1, 4, 2, GANLOSS_LOSS_NONSATURATING, GANLOSS_LOSS_NONSATURATING,
                              GANLOSS_REDUCTION_MEAN);
  const auto r = eval(p, std::vector<float>(4, 0.0f), std::vector<float>(2, 0.0f));
  EXPECT_DOUBLE_EQ(r.segments[0].d_loss_real, kLn2);
  EXPECT_DOUBLE_EQ(r.segments[0].d_loss_fake, kLn2);
  EXPECT_DOUBLE_EQ(r.segments[0].d_loss, 2 * kLn2);
  EXPECT_DOUBLE_EQ(r.segments[0].g_loss, kLn2);
  for (double g : r.grad_real)
    EXPECT_DOUBLE_EQ(g, -0.5 / 4);
  for (double g : r.grad_fake_d)
    EXPECT_DOUBLE_EQ(g, 0.5 / 2);
  for (double g : r.grad_fake_g)
    EXPECT_DOUBLE_EQ(g, -0.5 / 2);
}

TEST(ReferenceClosedForm, NonsaturatingSaturatedTails) {
  auto p = make_problem(1, 2, 2, GANLOSS_LOSS_NONSATURATING, GANLOSS_LOSS_NONSATURATING,
                        GANLOSS_REDUCTION_SUM);
  const auto r = eval(p, {40.0f, -40.0f}, {40.0f, -40.0f});
  const double e40 = std::exp(-40.0);
  // sp(-40) and sigma(-40) are about 4.25e-18: a naive 1 - sigma would give 0.
  EXPECT_NEAR(r.loss_real[0], e40, 1e-12 * e40);
  EXPECT_NEAR(r.grad_real[0], -e40, 1e-12 * e40);
  EXPECT_NEAR(r.loss_real[1], 40.0 + e40, 1e-14);
  EXPECT_NEAR(r.grad_real[1], -1.0, 1e-15);
  EXPECT_NEAR(r.loss_fake_d[1], e40, 1e-12 * e40);
  EXPECT_NEAR(r.grad_fake_d[1], e40, 1e-12 * e40);
  EXPECT_NEAR(r.loss_fake_g[0], e40, 1e-12 * e40);
  EXPECT_NEAR(r.grad_fake_g[0], -e40, 1e-12 * e40);
}

TEST(ReferenceClosedForm, MinimaxGenerator) {
  const auto p = make_problem(1, 1, 2, GANLOSS_LOSS_NONSATURATING, GANLOSS_LOSS_MINIMAX,
                              GANLOSS_REDUCTION_SUM);
  const auto r = eval(p, {0.0f}, {0.0f, 40.0f});
  EXPECT_DOUBLE_EQ(r.loss_fake_g[0], -kLn2);
  EXPECT_DOUBLE_EQ(r.grad_fake_g[0], -0.5);
  EXPECT_NEAR(r.loss_fake_g[1], -(40.0 + std::exp(-40.0)), 1e-14);
  EXPECT_NEAR(r.grad_fake_g[1], -1.0, 1e-15);
}

TEST(ReferenceClosedForm, LabelSmoothing) {
  auto p = make_problem(1, 1, 1, GANLOSS_LOSS_NONSATURATING, GANLOSS_LOSS_NONSATURATING,
                        GANLOSS_REDUCTION_SUM);
  p.params.real_target = 0.875f;  // two-sided smoothing, ls = 0.25
  p.params.fake_target = 0.25f;
  const auto r = eval(p, {0.0f}, {2.0f});
  EXPECT_DOUBLE_EQ(r.loss_real[0], kLn2);
  EXPECT_DOUBLE_EQ(r.grad_real[0], 0.5 - 0.875);
  const double sp2 = std::log1p(std::exp(2.0)), spm2 = std::log1p(std::exp(-2.0));
  EXPECT_NEAR(r.loss_fake_d[0], 0.25 * spm2 + 0.75 * sp2, 1e-15);
  EXPECT_NEAR(r.grad_fake_d[0], 1.0 / (1.0 + std::exp(-2.0)) - 0.25, 1e-15);
}

TEST(ReferenceClosedForm, Hinge) {
  auto p = make_problem(1, 3, 3, GANLOSS_LOSS_HINGE, GANLOSS_LOSS_HINGE, GANLOSS_REDUCTION_SUM);
  p.params.margin_fake = 0.5f;
  const auto r = eval(p, {0.25f, 1.0f, 3.0f}, {-0.25f, -0.5f, -2.0f});
  EXPECT_DOUBLE_EQ(r.loss_real[0], 0.75);
  EXPECT_DOUBLE_EQ(r.grad_real[0], -1.0);
  EXPECT_DOUBLE_EQ(r.loss_real[1], 0.0);  // the kink: gradient 0
  EXPECT_DOUBLE_EQ(r.grad_real[1], 0.0);
  EXPECT_DOUBLE_EQ(r.loss_real[2], 0.0);
  EXPECT_DOUBLE_EQ(r.grad_real[2], 0.0);
  EXPECT_DOUBLE_EQ(r.loss_fake_d[0], 0.25);
  EXPECT_DOUBLE_EQ(r.grad_fake_d[0], 1.0);
  EXPECT_DOUBLE_EQ(r.grad_fake_d[1], 0.0);
  EXPECT_DOUBLE_EQ(r.loss_fake_d[2], 0.0);
  EXPECT_DOUBLE_EQ(r.segments[0].g_loss, 0.25 + 0.5 + 2.0);
  for (double g : r.grad_fake_g)
    EXPECT_DOUBLE_EQ(g, -1.0);
}

TEST(ReferenceClosedForm, Wasserstein) {
  const auto p = make_problem(2, 2, 1, GANLOSS_LOSS_WASSERSTEIN, GANLOSS_LOSS_WASSERSTEIN,
                              GANLOSS_REDUCTION_MEAN);
  const auto r = eval(p, {1.0f, 3.0f, -2.0f, 4.0f}, {0.5f, -1.5f});
  EXPECT_DOUBLE_EQ(r.segments[0].d_loss, -2.0 + 0.5);
  EXPECT_DOUBLE_EQ(r.segments[1].d_loss, -1.0 - 1.5);
  EXPECT_DOUBLE_EQ(r.segments[1].g_loss, 1.5);
  for (double g : r.grad_real)
    EXPECT_DOUBLE_EQ(g, -0.5);
  for (double g : r.grad_fake_d)
    EXPECT_DOUBLE_EQ(g, 1.0);
  for (double g : r.grad_fake_g)
    EXPECT_DOUBLE_EQ(g, -1.0);
}

TEST(ReferenceClosedForm, LeastSquares) {
  auto p = make_problem(1, 1, 1, GANLOSS_LOSS_LEAST_SQUARES, GANLOSS_LOSS_LEAST_SQUARES,
                        GANLOSS_REDUCTION_SUM);
  p.params.ls_fake_label = -1.0f;
  p.params.ls_real_label = 1.0f;
  p.params.ls_gen_label = 0.0f;
  p.grad_scale = 2.0f;
  const auto r = eval(p, {3.0f}, {0.5f});
  EXPECT_DOUBLE_EQ(r.loss_real[0], 2.0);
  EXPECT_DOUBLE_EQ(r.grad_real[0], 2.0 * 2.0);
  EXPECT_DOUBLE_EQ(r.loss_fake_d[0], 0.5 * 1.5 * 1.5);
  EXPECT_DOUBLE_EQ(r.grad_fake_d[0], 2.0 * 1.5);
  EXPECT_DOUBLE_EQ(r.loss_fake_g[0], 0.125);
  EXPECT_DOUBLE_EQ(r.grad_fake_g[0], 2.0 * 0.5);
}

TEST(ReferenceClosedForm, NoneReductionGivesSumsAndRawGradients) {
  const auto p = make_problem(1, 2, 2, GANLOSS_LOSS_NONSATURATING, GANLOSS_LOSS_NONSATURATING,
                              GANLOSS_REDUCTION_NONE);
  const auto r = eval(p, {0.0f, 0.0f}, {0.0f, 0.0f});
  EXPECT_DOUBLE_EQ(r.segments[0].d_loss_real, 2 * kLn2);
  EXPECT_DOUBLE_EQ(r.grad_real[0], -0.5);
}

TEST(ReferenceClosedForm, NonFiniteLogits) {
  for (int32_t kind = GANLOSS_LOSS_NONSATURATING; kind <= GANLOSS_LOSS_LEAST_SQUARES; ++kind) {
    SCOPED_TRACE(testing::kind_name(kind));
    const auto p = make_problem(1, 3, 3, kind, kind, GANLOSS_REDUCTION_SUM);
    const float nan = std::numeric_limits<float>::quiet_NaN();
    const float inf = std::numeric_limits<float>::infinity();
    const auto r = eval(p, {nan, inf, -inf}, {nan, inf, -inf});
    // NaN in, NaN out, for the term and its gradient, and the segment totals.
    EXPECT_TRUE(std::isnan(r.loss_real[0]) && std::isnan(r.grad_real[0]));
    EXPECT_TRUE(std::isnan(r.loss_fake_d[0]) && std::isnan(r.grad_fake_d[0]));
    EXPECT_TRUE(std::isnan(r.loss_fake_g[0]) && std::isnan(r.grad_fake_g[0]));
    EXPECT_TRUE(std::isnan(r.segments[0].d_loss));
    EXPECT_TRUE(std::isnan(r.segments[0].g_loss));
    // Infinities give the limits of the term and of its gradient.
    for (double v : {r.loss_real[1], r.grad_real[1], r.loss_real[2], r.grad_real[2],
                     r.loss_fake_d[1], r.grad_fake_d[1], r.loss_fake_g[2], r.grad_fake_g[2]}) {
      EXPECT_FALSE(std::isnan(v));
    }
  }
  const auto p = make_problem(1, 2, 2, GANLOSS_LOSS_NONSATURATING, GANLOSS_LOSS_NONSATURATING,
                              GANLOSS_REDUCTION_SUM);
  const float inf = std::numeric_limits<float>::infinity();
  const auto r = eval(p, {inf, -inf}, {inf, -inf});
  EXPECT_EQ(r.loss_real[0], 0.0);
  EXPECT_EQ(r.grad_real[0], 0.0);
  EXPECT_EQ(r.loss_real[1], kInf);
  EXPECT_EQ(r.grad_real[1], -1.0);
  EXPECT_EQ(r.loss_fake_d[0], kInf);
  EXPECT_EQ(r.grad_fake_d[0], 1.0);
  EXPECT_EQ(r.loss_fake_d[1], 0.0);
  EXPECT_EQ(r.grad_fake_d[1], 0.0);
  EXPECT_EQ(r.loss_fake_g[0], 0.0);
  EXPECT_EQ(r.grad_fake_g[0], 0.0);
  EXPECT_EQ(r.loss_fake_g[1], kInf);
  EXPECT_EQ(r.grad_fake_g[1], -1.0);
}

// Central differences of the reference's own totals. Logits lie on a grid of 2^-6 and the
// step is 2^-12, so x +- h is exact in float; grid points within 2h of a hinge kink are moved.
class ReferenceFiniteDifference
    : public ::testing::TestWithParam<std::tuple<int32_t, int32_t, int32_t>> {};

TEST_P(ReferenceFiniteDifference, GradientsMatchDerivativesOfTotals) {
  const auto [d_kind, g_kind, reduction] = GetParam();
  auto p = make_problem(2, 5, 4, d_kind, g_kind, reduction);
  p.grad_scale = 0.75f;
  p.params.real_target = 0.875f;
  p.params.fake_target = 0.125f;
  p.params.margin_real = 0.5f;
  p.params.margin_fake = 1.5f;
  p.params.ls_fake_label = -0.5f;
  p.params.ls_real_label = 1.25f;
  p.params.ls_gen_label = 0.75f;
  std::mt19937_64 rng(static_cast<uint64_t>(d_kind * 100 + g_kind * 10 + reduction));
  std::uniform_int_distribution<int> grid(-6 * 64, 6 * 64);
  auto logit = [&](float kink) {
    for (;;) {
      const float x = static_cast<float>(grid(rng)) / 64.0f;
      if (std::fabs(x - kink) > 0x1p-10f) return x;
    }
  };
  std::vector<float> r(10), f(8);
  for (float& x : r)
    x = logit(p.params.margin_real);
  for (float& x : f)
    x = logit(-p.params.margin_fake);
  const auto base = eval(p, r, f);
  const double h = 0x1p-12;
  auto totals = [&](const std::vector<float>& rr, const std::vector<float>& ff) {
    const auto res = eval(p, rr, ff);
    double d = 0, g = 0;
    for (const auto& t : res.segments) {
      d += t.d_loss;
      g += t.g_loss;
    }
    return std::pair<double, double>(d, g);
  };
  for (size_t i = 0; i < r.size(); ++i) {
    auto plus = r, minus = r;
    plus[i] += static_cast<float>(h);
    minus[i] -= static_cast<float>(h);
    const double fd = p.grad_scale * (totals(plus, f).first - totals(minus, f).first) / (2 * h);
    EXPECT_NEAR(base.grad_real[i], fd, 1e-7) << "real " << i << " x=" << r[i];
  }
  for (size_t i = 0; i < f.size(); ++i) {
    auto plus = f, minus = f;
    plus[i] += static_cast<float>(h);
    minus[i] -= static_cast<float>(h);
    const auto tp = totals(r, plus), tm = totals(r, minus);
    EXPECT_NEAR(base.grad_fake_d[i], p.grad_scale * (tp.first - tm.first) / (2 * h), 1e-7)
        << "fake D " << i << " x=" << f[i];
    EXPECT_NEAR(base.grad_fake_g[i], p.grad_scale * (tp.second - tm.second) / (2 * h), 1e-7)
        << "fake G " << i << " x=" << f[i];
  }
  // The totals are the reduced element terms.
  for (int64_t s = 0; s < 2; ++s) {
    double sr = 0, sf = 0, sg = 0;
    for (int i = 0; i < 5; ++i)
      sr += base.loss_real[s * 5 + i];
    for (int i = 0; i < 4; ++i) {
      sf += base.loss_fake_d[s * 4 + i];
      sg += base.loss_fake_g[s * 4 + i];
    }
    const double nr = reduction == GANLOSS_REDUCTION_MEAN ? 5 : 1;
    const double nf = reduction == GANLOSS_REDUCTION_MEAN ? 4 : 1;
    EXPECT_NEAR(base.segments[s].d_loss_real, sr / nr, 1e-13);
    EXPECT_NEAR(base.segments[s].d_loss_fake, sf / nf, 1e-13);
    EXPECT_NEAR(base.segments[s].g_loss, sg / nf, 1e-13);
    EXPECT_DOUBLE_EQ(base.segments[s].d_loss,
                     base.segments[s].d_loss_real + base.segments[s].d_loss_fake);
  }
}

std::string fd_name(const ::testing::TestParamInfo<std::tuple<int32_t, int32_t, int32_t>>& info) {
  return std::string(testing::kind_name(std::get<0>(info.param))) + "_" +
         testing::kind_name(std::get<1>(info.param)) + "_" +
         testing::reduction_name(std::get<2>(info.param));
}

INSTANTIATE_TEST_SUITE_P(
    AllKinds, ReferenceFiniteDifference,
    ::testing::Combine(
        ::testing::Values(GANLOSS_LOSS_NONSATURATING, GANLOSS_LOSS_MINIMAX, GANLOSS_LOSS_HINGE,
                          GANLOSS_LOSS_WASSERSTEIN, GANLOSS_LOSS_LEAST_SQUARES),
        ::testing::Values(GANLOSS_LOSS_NONSATURATING, GANLOSS_LOSS_MINIMAX, GANLOSS_LOSS_HINGE,
                          GANLOSS_LOSS_WASSERSTEIN, GANLOSS_LOSS_LEAST_SQUARES),
        ::testing::Values(GANLOSS_REDUCTION_NONE, GANLOSS_REDUCTION_SUM, GANLOSS_REDUCTION_MEAN)),
    fd_name);

}  // namespace
}  // namespace ganloss
