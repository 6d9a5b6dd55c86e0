// Weights at the edges of the contract (docs/numerics.md), as calls and checks that every
// backend's test runs the same way: zero weights that mask non-finite terms, and weighted means
// at the ends of fp32's range. Weights k * 2^e with small integers k: scaling every weight
// of a side by a power of two leaves a weighted mean unchanged, and the backends must give
// bitwise the results of e = 0 whenever the side's weight sum is within fp32's range (however
// far below 1 it is, subnormal included), and NaN for that side once the sum is above FLT_MAX.
#ifndef GANLOSS_TESTS_WEIGHT_RANGE_HPP_
#define GANLOSS_TESTS_WEIGHT_RANGE_HPP_

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <ostream>
#include <string>
#include <vector>

#include "kernel_cases.hpp"
#include "test_support.hpp"

namespace ganloss {
namespace testing {

struct WeightRangeCase {
  int32_t kind;       // D = G kind
  Shape shape;        // which kernel regime
  int exponent;       // real weights are k * 2^exponent, k in 0..3
  int fake_exponent;  // fake weights (where the kind takes them) k * 2^fake_exponent
  bool over_range;    // the real side's weight sum exceeds FLT_MAX: NaN expected there

  std::string name() const {
    std::string e = std::to_string(exponent);
    if (exponent < 0) e[0] = 'm';
    return std::string(kind_name(kind)) + "_" + shape.name + "_2e" + e;
  }
};

inline void PrintTo(const WeightRangeCase& c, std::ostream* os) {
  *os << c.name();
}

inline std::vector<WeightRangeCase> weight_range_cases() {
  std::vector<WeightRangeCase> out;
  const int32_t kinds[] = {GANLOSS_LOSS_NONSATURATING, GANLOSS_LOSS_HINGE,
                           GANLOSS_LOSS_RELATIVISTIC, GANLOSS_LOSS_RELATIVISTIC_AVERAGE};
  // Warp, block and chunk regimes.
  const Shape shapes[] = {kShapes[1], kShapes[6], kShapes[11]};
  for (const int32_t kind : kinds) {
    for (const Shape& s : shapes) {
      // Weight sums subnormal (2^-145 * sum k), tiny but normal, small, large, huge but
      // finite; one side scaled up while the other is scaled down.
      // Every pair in the warp regime; the extremes in the others.
      const int exponents[][2] = {{-145, 100}, {100, -60}, {-130, 60}, {-60, -130}, {60, -145}};
      const int pairs = &s == &shapes[0] ? 5 : 2;
      for (int k = 0; k < pairs; ++k) {
        out.push_back({kind, s, exponents[k][0], exponents[k][1], false});
      }
      out.push_back({kind, s, 126, 0, true});  // 2^126 * sum k > FLT_MAX
    }
  }
  return out;
}

// The call of a case, a weighted mean, with its weights scaled (or, unscaled, the integers k).
inline HostCall weight_range_call(const WeightRangeCase& c, bool scaled) {
  const Shape& s = c.shape;
  ganloss_problem_t p =
      make_problem(s.segments, s.real_count, s.fake_count, c.kind, c.kind, GANLOSS_REDUCTION_MEAN);
  if (c.kind == GANLOSS_LOSS_RELATIVISTIC) p.fake_count = p.real_count;
  CallData data;
  data.real_weights = true;
  data.fake_weights = c.kind != GANLOSS_LOSS_RELATIVISTIC;
  HostCall call(p, 77 + static_cast<uint64_t>(c.kind), data);
  auto fill = [](GuardedBuffer& b, int e) {
    float* w = b.as<float>();
    const std::size_t n = b.bytes() / sizeof(float);
    for (std::size_t i = 0; i < n; ++i) {
      const float k = static_cast<float>((i * 7 + 3) % 4);
      w[i] = std::ldexp(k, e);
    }
  };
  fill(call.real_weights, scaled ? c.exponent : 0);
  if (data.fake_weights) fill(call.fake_weights, scaled ? c.fake_exponent : 0);
  return call;
}

// Every output but the element losses (w * l, which scale with the weights).
inline ganloss_outputs_t weight_range_outputs(HostCall& call) {
  ganloss_outputs_t o = call.all_outputs();
  o.loss_real = o.loss_real_g = o.loss_fake_d = o.loss_fake_g = nullptr;
  return o;
}

// Checks one backend: `run` computes a HostCall's weight_range_outputs in place (and fails the
// test itself if the call does not succeed); `depth` is the backend's accumulation depth.
inline void expect_weight_range(const WeightRangeCase& c, const char* backend,
                                const detail::ErrorModel& depth,
                                const std::function<void(HostCall&)>& run) {
  HostCall scaled = weight_range_call(c, true);
  run(scaled);
  if (::testing::Test::HasFatalFailure()) return;
  if (c.over_range) {
    // The real side's totals and gradients are NaN; under the relativistic average every
    // gradient couples to both sides' sums, and the paired loss is all real-weighted.
    const int64_t segments = scaled.problem.segments;
    for (int64_t s = 0; s < segments; ++s) {
      EXPECT_TRUE(std::isnan(scaled.d_loss_real.as<float>()[s])) << backend << " segment " << s;
      EXPECT_TRUE(std::isnan(scaled.d_loss.as<float>()[s])) << backend << " segment " << s;
    }
    const float* g = scaled.grad_real.as<float>();
    const int64_t n = scaled.grad_real.bytes() / 4;
    int64_t nan = 0;
    for (int64_t i = 0; i < n; ++i)
      nan += std::isnan(g[i]) ? 1 : 0;
    EXPECT_EQ(nan, segments * scaled.problem.real_count)
        << backend << ": every real gradient is NaN (gaps between rows stay as they were)";
    return;
  }
  HostCall unit = weight_range_call(c, false);
  run(unit);
  if (::testing::Test::HasFatalFailure()) return;
  // Bitwise the results of unscaled weights, output by output.
  const char* names[] = {"d_loss",    "d_loss_real", "d_loss_fake", "g_loss",     "stats",
                         "grad_real", "grad_real_g", "grad_fake_d", "grad_fake_g"};
  std::vector<GuardedBuffer*> a = scaled.output_buffers();
  std::vector<GuardedBuffer*> b = unit.output_buffers();
  for (std::size_t k = 0; k < 9; ++k) {
    EXPECT_EQ(std::memcmp(a[k]->data(), b[k]->data(), a[k]->bytes()), 0)
        << backend << ": " << names[k] << " differs from the unscaled weights' bits";
  }
  // And both within the reference's bounds.
  const Comparison cmp = compare_values_with_reference(scaled, weight_range_outputs(scaled), depth);
  EXPECT_LE(cmp.worst(), 1.0) << backend << ": " << cmp.first_failure;
}

// Zero weights mask: every third element of each side has weight 0 and a logit whose term is
// NaN, infinite, or finite but past fp32's range; the rest are ordinary. The relativistic
// average is left out, as a masked logit still enters its side's mean.
struct MaskCase {
  int32_t d_kind, g_kind, reduction;

  std::string name() const {
    return std::string(kind_name(d_kind)) + "_" + kind_name(g_kind) + "_" +
           reduction_name(reduction);
  }
};

inline void PrintTo(const MaskCase& c, std::ostream* os) {
  *os << c.name();
}

inline std::vector<MaskCase> mask_cases() {
  std::vector<MaskCase> out;
  for (const int32_t red :
       {GANLOSS_REDUCTION_NONE, GANLOSS_REDUCTION_MEAN, GANLOSS_REDUCTION_MEAN_NONZERO}) {
    for (int32_t d = GANLOSS_LOSS_NONSATURATING; d <= GANLOSS_LOSS_LEAST_SQUARES; ++d) {
      out.push_back({d, (d + 1) % 5, red});
    }
    out.push_back({GANLOSS_LOSS_RELATIVISTIC, GANLOSS_LOSS_RELATIVISTIC, red});
  }
  return out;
}

inline bool masked_element(int64_t i) {
  return i % 3 == 1;
}

inline HostCall mask_call(const MaskCase& c) {
  const Shape& s = kShapes[6];  // block regime, 16-byte groups and scalar tails
  ganloss_problem_t p =
      make_problem(s.segments, s.real_count, s.fake_count, c.d_kind, c.g_kind, c.reduction);
  if (c.d_kind == GANLOSS_LOSS_RELATIVISTIC) p.fake_count = p.real_count;
  CallData data;
  data.real_weights = true;
  data.fake_weights = c.d_kind != GANLOSS_LOSS_RELATIVISTIC;
  HostCall call(p, 91, data);
  const float specials[] = {std::numeric_limits<float>::quiet_NaN(),
                            std::numeric_limits<float>::infinity(),
                            -std::numeric_limits<float>::infinity(), 1e30f, -1e30f};
  auto mask = [&](GuardedBuffer& w, bool real) {
    const int64_t n = static_cast<int64_t>(w.bytes() / sizeof(float));
    for (int64_t i = 0; i < n; ++i) {
      if (!masked_element(i)) continue;
      w.as<float>()[i] = 0.0f;
      const float v = specials[(i / 3) % 5];
      if (real) {
        call.set_real(i, v);
      } else {
        call.set_fake(i, v);
      }
    }
  };
  mask(call.real_weights, true);
  if (data.fake_weights) {
    mask(call.fake_weights, false);
  } else {
    // Paired: the pair's weight masks the fake logit too.
    const int64_t n = static_cast<int64_t>(call.real_weights.bytes() / sizeof(float));
    for (int64_t i = 0; i < n; ++i) {
      if (masked_element(i)) call.set_fake(i, specials[(i / 3 + 2) % 5]);
    }
  }
  return call;
}

// Checks the outputs of a mask_call: the reference's values within bounds, finite totals, and
// exactly 0 at every masked element's element losses and gradients.
inline void expect_masked(HostCall& call, const ganloss_outputs_t& o,
                          const detail::ErrorModel& depth, const char* backend) {
  const Comparison cmp = compare_with_reference(call, o, depth);
  EXPECT_LE(cmp.worst(), 1.0) << backend << ": " << cmp.first_failure;
  for (int64_t s = 0; s < call.problem.segments; ++s) {
    for (const GuardedBuffer* b : {&call.d_loss, &call.g_loss}) {
      EXPECT_TRUE(std::isfinite(b->as<float>()[s])) << backend << " segment " << s;
    }
  }
  auto zero_at_masks = [&](const GuardedBuffer& b, int64_t size, const char* name) {
    const int64_t n = static_cast<int64_t>(b.bytes()) / size;
    for (int64_t i = 0; i < n; ++i) {
      if (!masked_element(i)) continue;
      const double v = size == 4 ? load_element(b.data(), GANLOSS_DTYPE_F32, i) : 0.0;
      EXPECT_EQ(v, 0.0) << backend << ": " << name << "[" << i << "]";
    }
  };
  zero_at_masks(call.grad_real, 4, "grad_real");
  zero_at_masks(call.grad_fake_d, 4, "grad_fake_d");
  zero_at_masks(call.grad_fake_g, 4, "grad_fake_g");
  zero_at_masks(call.loss_real, 4, "loss_real");
  zero_at_masks(call.loss_fake_d, 4, "loss_fake_d");
  zero_at_masks(call.loss_fake_g, 4, "loss_fake_g");
}

}  // namespace testing
}  // namespace ganloss

#endif  // GANLOSS_TESTS_WEIGHT_RANGE_HPP_
