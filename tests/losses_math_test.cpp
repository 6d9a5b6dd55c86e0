// The per-element math of losses.hpp on the host: accuracy of the vectorizable exp and log1p,
// the logistic identities, and the documented results for non-finite logits.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>

#include "call_params.hpp"
#include "ganloss/losses.hpp"

namespace ganloss {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

// Error of `got` in units of the float spacing at the exact value `want` (the subnormal
// spacing below the normal range).
double ulp_error(float got, double want) {
  const double spacing = std::max(std::ldexp(1.0, std::ilogb(want) - 23), 0x1p-149);
  return std::fabs(static_cast<double>(got) - want) / spacing;
}

TEST(HostMath, ExpNegAbsWithinTwoUlp) {
  double worst = 0;
  float worst_x = 0;
  // Every 4099th float in [-110, 110]: all binades, many mantissa patterns.
  for (float x = -110.0f; x <= 110.0f;) {
    const double want = std::exp(-std::fabs(static_cast<double>(x)));
    const double err = ulp_error(math::host_exp_neg_abs(x), want);
    if (err > worst) {
      worst = err;
      worst_x = x;
    }
    float next = x;
    for (int k = 0; k < 4099; ++k)
      next = std::nextafter(next, 200.0f);
    x = next;
  }
  EXPECT_LE(worst, 2.0) << "at x = " << worst_x;
  EXPECT_EQ(math::host_exp_neg_abs(0.0f), 1.0f);
  EXPECT_EQ(math::host_exp_neg_abs(-0.0f), 1.0f);
  EXPECT_EQ(math::host_exp_neg_abs(kInf), 0.0f);
  EXPECT_EQ(math::host_exp_neg_abs(-kInf), 0.0f);
  EXPECT_EQ(math::host_exp_neg_abs(200.0f), 0.0f);
  EXPECT_TRUE(std::isnan(math::host_exp_neg_abs(kNaN)));
}

TEST(HostMath, Log1pUnitWithinTwoUlp) {
  double worst = 0;
  float worst_e = 0;
  for (float e = 1.0f; e > 1e-30f; e = std::nextafter(e * 0.9993f, 0.0f)) {
    const double err = ulp_error(math::host_log1p_unit(e), std::log1p(static_cast<double>(e)));
    if (err > worst) {
      worst = err;
      worst_e = e;
    }
  }
  EXPECT_LE(worst, 2.0) << "at e = " << worst_e;
  EXPECT_EQ(math::host_log1p_unit(0.0f), 0.0f);
  EXPECT_LE(std::fabs(math::host_log1p_unit(1e-40f) - 1e-40f), 0x1p-148f);  // log1p(e) ~ e
  EXPECT_TRUE(std::isnan(math::host_log1p_unit(kNaN)));
}

TEST(HostMath, LogisticIdentities) {
  for (float x :
       {-100.0f, -30.0f, -17.5f, -1.0f, -1e-6f, 0.0f, 1e-6f, 1.0f, 17.5f, 30.0f, 100.0f}) {
    const math::Logistic l = math::logistic(x);
    EXPECT_NEAR(l.sig_pos + l.sig_neg, 1.0f, 1e-6f) << x;
    EXPECT_NEAR(l.sp_pos - l.sp_neg, x, 1e-5f * std::max(1.0f, std::fabs(x))) << x;
    EXPECT_GT(l.sig_neg + l.sig_pos, 0.0f);
    // sigma(-|x|) keeps full relative accuracy in the tail.
    const double tail = 1.0 / (1.0 + std::exp(std::fabs(static_cast<double>(x))));
    EXPECT_LE(ulp_error(x >= 0 ? l.sig_neg : l.sig_pos, tail), 4.0) << x;
  }
}

TEST(HostMath, LogisticAtInfinities) {
  const math::Logistic p = math::logistic(kInf);
  EXPECT_EQ(p.sp_pos, kInf);
  EXPECT_EQ(p.sp_neg, 0.0f);
  EXPECT_EQ(p.sig_pos, 1.0f);
  EXPECT_EQ(p.sig_neg, 0.0f);
  const math::Logistic n = math::logistic(-kInf);
  EXPECT_EQ(n.sp_pos, 0.0f);
  EXPECT_EQ(n.sp_neg, kInf);
  EXPECT_EQ(n.sig_pos, 0.0f);
  EXPECT_EQ(n.sig_neg, 1.0f);
  const math::Logistic q = math::logistic(kNaN);
  EXPECT_TRUE(std::isnan(q.sp_pos) && std::isnan(q.sp_neg));
  EXPECT_TRUE(std::isnan(q.sig_pos) && std::isnan(q.sig_neg));
}

TermValue eval(const Term& t, float x) {
  return evaluate_term(t, x, math::logistic(x));
}

// The CUDA kernel's per-segment division (detail::divide on the device) from a reciprocal as
// coarse as its contract allows: 1 / b cut to 8 significant bits, or off by 2^-8 either way.
// Over totals and normalisers of every magnitude (b from 0.5 to 2^62: scaled weight sums,
// counts), the quotient is within one unit in the last place of the IEEE one and equal to it
// in nearly every case; infinities, NaN and signed zeros pass through.
TEST(KernelMath, DivideFromReciprocalWithinOneUlp) {
  auto cut = [](double r) {  // r with 8 significant bits, truncated
    int e = 0;
    const double m = std::frexp(r, &e);
    return std::ldexp(std::trunc(std::ldexp(m, 8)), e - 8);
  };
  std::mt19937_64 rng(42);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  int64_t cases = 0, inexact = 0;
  double worst = 0;
  for (int i = 0; i < 200000; ++i) {
    const double b = std::ldexp(0.5 + 0.5 * unit(rng), static_cast<int>(unit(rng) * 63));
    const double a = (unit(rng) < 0.5 ? -1 : 1) *
                     std::ldexp(0.5 + 0.5 * unit(rng), static_cast<int>(unit(rng) * 400) - 200);
    const double want = a / b;
    const double spacing = std::ldexp(1.0, std::ilogb(want) - 52);
    for (const double r : {cut(1.0 / b), (1.0 / b) * (1 + 0x1p-8), (1.0 / b) * (1 - 0x1p-8)}) {
      const double got = detail::divide_from_reciprocal(a, b, r);
      ++cases;
      inexact += got != want;
      worst = std::max(worst, std::fabs(got - want) / spacing);
    }
  }
  EXPECT_LE(worst, 1.0);
  EXPECT_LE(inexact, cases / 1000) << inexact << " of " << cases << " differ from a / b";
  const double r3 = cut(1.0 / 3.0);
  EXPECT_EQ(detail::divide_from_reciprocal(1.0, 3.0, r3), 1.0 / 3.0);
  EXPECT_EQ(detail::divide_from_reciprocal(HUGE_VAL, 3.0, r3), HUGE_VAL);
  EXPECT_EQ(detail::divide_from_reciprocal(-HUGE_VAL, 3.0, r3), -HUGE_VAL);
  EXPECT_TRUE(std::isnan(detail::divide_from_reciprocal(std::nan(""), 3.0, r3)));
  EXPECT_TRUE(std::isnan(detail::divide_from_reciprocal(1.0, std::nan(""), std::nan(""))));
  EXPECT_TRUE(std::isnan(detail::divide_from_reciprocal(HUGE_VAL, std::nan(""), std::nan(""))));
  EXPECT_FALSE(std::signbit(detail::divide_from_reciprocal(0.0, 3.0, r3)));
  EXPECT_TRUE(std::signbit(detail::divide_from_reciprocal(-0.0, 3.0, r3)));
}

TEST(TermPolicy, NaNGivesNaNForEveryKind) {
  for (const Term& t :
       {make_logistic_term(1.0f, 1.0f), make_logistic_term(-1.0f, 0.0f),
        make_logistic_term(1.0f, 0.9f), make_hinge_term(1.0f, 1.0f), make_hinge_term(-1.0f, 1.0f),
        make_linear_term(-1.0f), make_squared_term(1.0f)}) {
    const TermValue v = eval(t, kNaN);
    EXPECT_TRUE(std::isnan(v.loss)) << static_cast<int>(t.kind);
    EXPECT_TRUE(std::isnan(v.grad)) << static_cast<int>(t.kind);
  }
}

TEST(TermPolicy, InfinitiesGiveLimits) {
  // Non-saturating D real term sp(-r): 0 at +inf, +inf (gradient -1) at -inf.
  const Term real = make_logistic_term(1.0f, 1.0f);
  EXPECT_EQ(eval(real, kInf).loss, 0.0f);
  EXPECT_EQ(eval(real, kInf).grad, 0.0f);
  EXPECT_EQ(eval(real, -kInf).loss, kInf);
  EXPECT_EQ(eval(real, -kInf).grad, -1.0f);
  // Minimax G -sp(f): -inf at +inf with gradient -1.
  const Term minimax = make_logistic_term(-1.0f, 0.0f);
  EXPECT_EQ(eval(minimax, kInf).loss, -kInf);
  EXPECT_EQ(eval(minimax, kInf).grad, -1.0f);
  EXPECT_EQ(eval(minimax, -kInf).loss, 0.0f);
  // Smoothed target: both softplus terms weigh in, the infinite one wins.
  const Term smooth = make_logistic_term(1.0f, 0.9f);
  EXPECT_EQ(eval(smooth, kInf).loss, kInf);
  EXPECT_NEAR(eval(smooth, kInf).grad, 0.1f, 1e-7f);
  EXPECT_EQ(eval(smooth, -kInf).loss, kInf);
  EXPECT_NEAR(eval(smooth, -kInf).grad, -0.9f, 1e-7f);
  // Hinge relu(1 - r): 0 at +inf, +inf with gradient -1 at -inf.
  const Term hinge = make_hinge_term(1.0f, 1.0f);
  EXPECT_EQ(eval(hinge, kInf).loss, 0.0f);
  EXPECT_EQ(eval(hinge, kInf).grad, 0.0f);
  EXPECT_EQ(eval(hinge, -kInf).loss, kInf);
  EXPECT_EQ(eval(hinge, -kInf).grad, -1.0f);
  // Linear and squared.
  EXPECT_EQ(eval(make_linear_term(-1.0f), kInf).loss, -kInf);
  EXPECT_EQ(eval(make_linear_term(-1.0f), kInf).grad, -1.0f);
  EXPECT_EQ(eval(make_squared_term(1.0f), -kInf).loss, kInf);
  EXPECT_EQ(eval(make_squared_term(1.0f), -kInf).grad, -kInf);
}

TEST(TermPolicy, HingeKinkHasZeroGradientAndPositiveZeroLoss) {
  const TermValue v = eval(make_hinge_term(1.0f, 1.0f), 1.0f);
  EXPECT_EQ(v.grad, 0.0f);
  EXPECT_EQ(v.loss, 0.0f);
  EXPECT_FALSE(std::signbit(v.loss));
}

TEST(TermPolicy, CompileTimeAndRunTimeKindsAgree) {
  const Term terms[] = {make_logistic_term(1.0f, 0.8f), make_hinge_term(-1.0f, 0.5f),
                        make_linear_term(1.0f), make_squared_term(-0.25f)};
  for (float x : {-50.0f, -2.0f, -0.5f, 0.0f, 0.5f, 2.0f, 50.0f}) {
    const math::Logistic l = math::logistic(x);
    const TermValue a = evaluate_term<TermKind::logistic>(terms[0], x, l);
    const TermValue b = evaluate_term<TermKind::hinge>(terms[1], x, l);
    const TermValue c = evaluate_term<TermKind::linear>(terms[2], x, l);
    const TermValue d = evaluate_term<TermKind::squared>(terms[3], x, l);
    for (int k = 0; k < 4; ++k) {
      const TermValue rt = evaluate_term(terms[k], x, l);
      const TermValue ct = k == 0 ? a : k == 1 ? b : k == 2 ? c : d;
      EXPECT_EQ(std::memcmp(&rt, &ct, sizeof rt), 0) << k << " at " << x;
    }
  }
}

}  // namespace
}  // namespace ganloss
