// The documented results for NaN and infinite logits (docs/numerics.md), as calls and expected
// values that every backend's test checks the same way.
#ifndef GANLOSS_TESTS_NONFINITE_TABLE_HPP_
#define GANLOSS_TESTS_NONFINITE_TABLE_HPP_

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <ostream>
#include <string>
#include <vector>

#include "test_support.hpp"

namespace ganloss {
namespace testing {

constexpr double kPosInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// One row of the table: the loss kind (D = G kind), where the special value sits, the value,
// and the term / gradient expected at that element for D and G on its side.
struct NonfiniteCase {
  int32_t kind;
  bool on_real;  // the special value is real logit 1 (else fake logit 1)
  float value;
  double d_loss, d_grad, g_loss, g_grad;  // NaN in the table means "NaN expected"

  std::string name() const {
    const char* v = std::isnan(value) ? "nan" : value > 0 ? "posinf" : "neginf";
    return std::string(kind_name(kind)) + (on_real ? "_real_" : "_fake_") + v;
  }
};

// GoogleTest prints a parameter with PrintTo: the case's name, not its bytes.
inline void PrintTo(const NonfiniteCase& c, std::ostream* os) {
  *os << c.name();
}

inline std::vector<NonfiniteCase> nonfinite_cases() {
  const float inf = std::numeric_limits<float>::infinity();
  const float nan = std::numeric_limits<float>::quiet_NaN();
  std::vector<NonfiniteCase> c;
  // Real side: the D term, and the G term on real logits (zero for non-relativistic kinds).
  c.push_back({GANLOSS_LOSS_NONSATURATING, true, inf, 0, 0, 0, 0});
  c.push_back({GANLOSS_LOSS_NONSATURATING, true, -inf, kPosInf, -1, 0, 0});
  c.push_back({GANLOSS_LOSS_HINGE, true, inf, 0, 0, 0, 0});
  c.push_back({GANLOSS_LOSS_HINGE, true, -inf, kPosInf, -1, 0, 0});
  c.push_back({GANLOSS_LOSS_WASSERSTEIN, true, inf, -kPosInf, -1, 0, 0});
  c.push_back({GANLOSS_LOSS_WASSERSTEIN, true, -inf, kPosInf, -1, 0, 0});
  c.push_back({GANLOSS_LOSS_LEAST_SQUARES, true, inf, kPosInf, kPosInf, 0, 0});
  c.push_back({GANLOSS_LOSS_LEAST_SQUARES, true, -inf, kPosInf, -kPosInf, 0, 0});
  // Fake side: the D term and the G term.
  c.push_back({GANLOSS_LOSS_NONSATURATING, false, inf, kPosInf, 1, 0, 0});
  c.push_back({GANLOSS_LOSS_NONSATURATING, false, -inf, 0, 0, kPosInf, -1});
  c.push_back({GANLOSS_LOSS_MINIMAX, false, inf, kPosInf, 1, -kPosInf, -1});
  c.push_back({GANLOSS_LOSS_MINIMAX, false, -inf, 0, 0, 0, 0});
  c.push_back({GANLOSS_LOSS_HINGE, false, inf, kPosInf, 1, -kPosInf, -1});
  c.push_back({GANLOSS_LOSS_HINGE, false, -inf, 0, 0, kPosInf, -1});
  c.push_back({GANLOSS_LOSS_WASSERSTEIN, false, inf, kPosInf, 1, -kPosInf, -1});
  c.push_back({GANLOSS_LOSS_WASSERSTEIN, false, -inf, -kPosInf, 1, kPosInf, -1});
  c.push_back({GANLOSS_LOSS_LEAST_SQUARES, false, inf, kPosInf, kPosInf, kPosInf, kPosInf});
  c.push_back({GANLOSS_LOSS_LEAST_SQUARES, false, -inf, kPosInf, -kPosInf, kPosInf, -kPosInf});
  // Paired relativistic, of d = f - r with the special value in r (d = -value) or f (d = value):
  // here d_loss, d_grad are the pair's D term and dL_D/dr (on the real element), g_loss, g_grad
  // its G term and dL_G/df (on the fake element).
  c.push_back({GANLOSS_LOSS_RELATIVISTIC, true, -inf, kPosInf, -1, 0, 0});   // d = +inf
  c.push_back({GANLOSS_LOSS_RELATIVISTIC, true, inf, 0, 0, kPosInf, -1});    // d = -inf
  c.push_back({GANLOSS_LOSS_RELATIVISTIC, false, -inf, 0, 0, kPosInf, -1});  // d = -inf
  c.push_back({GANLOSS_LOSS_RELATIVISTIC, false, inf, kPosInf, -1, 0, 0});   // d = +inf
  // NaN: NaN terms and gradients for every kind.
  for (int32_t kind = 0; kind < 9; ++kind) {
    for (bool on_real : {true, false}) {
      const bool g_on_real = kind >= GANLOSS_LOSS_RELATIVISTIC;
      c.push_back({kind, on_real, nan, kNaN, kNaN, on_real && !g_on_real ? 0 : kNaN,
                   on_real && !g_on_real ? 0 : kNaN});
    }
  }
  return c;
}

inline ganloss_problem_t nonfinite_problem(const NonfiniteCase& c) {
  ganloss_problem_t p;
  ganloss_problem_init(&p);
  p.real_count = 4;
  p.fake_count = 4;
  p.d_loss = c.kind;
  p.g_loss = c.kind;
  p.reduction = GANLOSS_REDUCTION_SUM;
  return p;
}

// Fills the logits: finite values, and the special value at index 1 of its side.
inline void fill_nonfinite(HostCall& call, const NonfiniteCase& c) {
  const float real[] = {0.5f, -1.25f, 2.0f, -0.75f};
  const float fake[] = {-0.5f, 1.5f, -2.0f, 0.25f};
  for (int64_t i = 0; i < 4; ++i) {
    call.set_real(i, real[i]);
    call.set_fake(i, fake[i]);
  }
  if (c.on_real) {
    call.set_real(1, c.value);
  } else {
    call.set_fake(1, c.value);
  }
}

inline bool same_value(double got, double want) {
  return (std::isnan(want) && std::isnan(got)) || got == want;
}

// Checks the documented values after a call with all outputs on `call`.
inline void expect_documented(HostCall& call, const NonfiniteCase& c, const std::string& backend) {
  const std::string where = backend + " " + c.name();
  const bool paired = c.kind == GANLOSS_LOSS_RELATIVISTIC;
  const bool average = c.kind > GANLOSS_LOSS_RELATIVISTIC;
  const float* loss_d = c.on_real ? call.loss_real.as<float>() : call.loss_fake_d.as<float>();
  const float* loss_g = c.on_real ? call.loss_real_g.as<float>() : call.loss_fake_g.as<float>();
  const void* grad_d = c.on_real ? call.grad_real.data() : call.grad_fake_d.data();
  const void* grad_g = c.on_real ? call.grad_real_g.data() : call.grad_fake_g.data();
  const int32_t gt = grad_dtype(call.problem);
  if (average) {
    // The mean of its side is non-finite: so is every term of the other side, its own term, and
    // through the means every gradient of the segment.
    const float* other = c.on_real ? call.loss_fake_d.as<float>() : call.loss_real.as<float>();
    EXPECT_FALSE(std::isfinite(loss_d[1])) << where;
    for (int64_t i = 0; i < 4; ++i) {
      EXPECT_FALSE(std::isfinite(other[i])) << where << " " << i;
      EXPECT_FALSE(std::isfinite(load_element(call.grad_real.data(), gt, i))) << where << " " << i;
      EXPECT_FALSE(std::isfinite(load_element(call.grad_fake_d.data(), gt, i)))
          << where << " " << i;
    }
  } else if (paired) {
    // The pair's D term sits on the real element, its G term on the fake one.
    EXPECT_TRUE(same_value(call.loss_real.as<float>()[1], c.d_loss)) << where;
    EXPECT_TRUE(same_value(load_element(call.grad_real.data(), gt, 1), c.d_grad)) << where;
    EXPECT_TRUE(same_value(call.loss_fake_g.as<float>()[1], c.g_loss)) << where;
    EXPECT_TRUE(same_value(load_element(call.grad_fake_g.data(), gt, 1), c.g_grad)) << where;
  } else {
    EXPECT_TRUE(same_value(loss_d[1], c.d_loss)) << where << " D term " << loss_d[1];
    EXPECT_TRUE(same_value(load_element(grad_d, gt, 1), c.d_grad)) << where << " D gradient";
    EXPECT_TRUE(same_value(loss_g[1], c.g_loss)) << where << " G term " << loss_g[1];
    EXPECT_TRUE(same_value(load_element(grad_g, gt, 1), c.g_grad)) << where << " G gradient";
    // No other element's gradient is touched by it.
    for (int64_t i = 0; i < 4; ++i) {
      if (i == 1) continue;
      EXPECT_TRUE(std::isfinite(load_element(call.grad_real.data(), gt, i))) << where << " " << i;
      EXPECT_TRUE(std::isfinite(load_element(call.grad_fake_d.data(), gt, i))) << where << " " << i;
    }
  }
  const ganloss_segment_stats_t& st = call.stats.as<ganloss_segment_stats_t>()[0];
  EXPECT_EQ(st.nonfinite_real, c.on_real ? 1 : 0) << where;
  EXPECT_EQ(st.nonfinite_fake, c.on_real ? 0 : 1) << where;
  EXPECT_TRUE(std::isfinite(st.mean_sigmoid_real) && std::isfinite(st.mean_sigmoid_fake)) << where;
}

}  // namespace testing
}  // namespace ganloss

#endif  // GANLOSS_TESTS_NONFINITE_TABLE_HPP_
