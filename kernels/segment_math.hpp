// What every backend does per segment, besides the per-element terms: where a segment's rows
// are, which running sums a pass keeps, how a side is normalised, how the relativistic average
// couples the sides, and how the sums become the per-segment outputs. __host__ __device__, so
// the CPU backend and the CUDA kernel share it.
#ifndef GANLOSS_KERNELS_SEGMENT_MATH_HPP_
#define GANLOSS_KERNELS_SEGMENT_MATH_HPP_

#include <math.h>

#include <cstdint>

#include "call_params.hpp"

namespace ganloss {
namespace detail {

// The passes of a call. Most calls are one main pass. A prepass comes first when a mean needs
// the weights' totals or the relativistic average needs the means; the relativistic average
// then writes its gradients in a last pass, once the sums through the means are known. A VJP
// call ends with its vjp pass instead of a main pass (see vjp_multipliers()), after the
// prepass and, for the relativistic average, a main pass for the sums through the means.
enum class Pass : int32_t { prepass = 0, main = 1, gradients = 2, vjp = 3 };

// Running sums of a pass, by index; side-relative ones add 0 (real) or 1 (fake).
enum Accumulator : int32_t {
  // main
  kLossD = 0,        // sum w * D term
  kLossG = 2,        // sum w * G term
  kDerivativeD = 4,  // sum w * dD/dx (relativistic average)
  kDerivativeG = 6,  // sum w * dG/dx (relativistic average)
  kSigmoid = 8,      // sum sigma(x) over finite x
  kCorrect = 10,     // count of r > 0 (real) and f < 0 (fake)
  kSignReal = 12,    // sum sign(r) over finite r
  kFinite = 13,      // count of finite x
  // prepass
  kLogitSum = 0,        // sum x
  kWeightSum = 2,       // sum w
  kNonzeroWeights = 4,  // count of w != 0
  kAccumulators = 16,
};

// Per-segment state a multi-pass call keeps between passes (doubles in the workspace).
enum StateField : int32_t {
  kStateLogitSum = 0,     // + side
  kStateWeightSum = 2,    // + side
  kStateNonzero = 4,      // + side
  kStateDerivativeD = 6,  // + side
  kStateDerivativeG = 8,  // + side
  kStateFields = 10,
};

// Whether calls on this problem may keep per-segment state between passes: the size queries
// depend on the problem alone, so this cannot look at the weights' pointers.
inline bool problem_needs_state(const ganloss_problem_t& p) {
  return p.d_loss >= GANLOSS_LOSS_RELATIVISTIC_AVERAGE || p.reduction == GANLOSS_REDUCTION_MEAN ||
         p.reduction == GANLOSS_REDUCTION_MEAN_NONZERO;
}

// The same rule for a validated call, which must find its state where the size query put it.
GANLOSS_HOST_DEVICE bool call_has_state(const CallParams& q) {
  return q.relativity == Relativity::average || needs_weight_totals(q.reduction);
}

GANLOSS_HOST_DEVICE bool needs_prepass(const CallParams& q) {
  const bool weighted = q.real.weights != nullptr || q.fake.weights != nullptr;
  return q.relativity == Relativity::average || (weighted && needs_weight_totals(q.reduction));
}

GANLOSS_HOST_DEVICE bool needs_gradient_pass(const CallParams& q) {
  return q.relativity == Relativity::average &&
         (q.grad_real || q.grad_real_g || q.grad_fake_d || q.grad_fake_g);
}

// Elements [begin, begin + size) of segment s of a side; `valid` is false for a malformed
// ragged segment (offsets decreasing or outside [0, count]), which is then treated as empty.
struct Extent {
  int64_t begin;
  int64_t size;
  bool valid;
};

GANLOSS_HOST_DEVICE Extent segment_extent(const SideParams& side, bool used, int64_t s) {
  if (!used) return Extent{0, 0, true};
  if (side.offsets == nullptr) return Extent{s * side.stride, side.count, true};
  const int64_t a = side.offsets[s];
  const int64_t b = side.offsets[s + 1];
  if (a < 0 || b < a || b > side.count) return Extent{0, 0, false};
  return Extent{a, b - a, true};
}

// Above this, a side's weight sum is out of range for a weighted mean (FLT_MAX: the CUDA
// kernel adds weights in fp32).
constexpr double kMaxWeightSum = 3.4028234663852886e38;

// A side's scale factors in one segment, from the element count and, if the reduction needs
// them, the prepass totals (state; null when there was no prepass).
//
// A weighted mean is unchanged when every weight of the side is multiplied by one factor. The
// backends multiply the weights by the power of two that brings their sum into [0.5, 1):
// exact, so in fp32's normal range every result is bitwise the one of the unscaled weights,
// and at its ends nothing overflows or loses precision that the formula does not: every
// scaled weight is below 1, so a weighted term w' l or derivative w' l' is at most l or l',
// and their sums stay below the largest of them; the terms of a side whose weights sum to a
// subnormal number stay normal; the coefficient grad_scale / sum(w') is below 2 grad_scale,
// within fp32's range as validation bounds grad_scale by 2^126. The factor, up to 2^149 either
// way, is applied as two fp32 factors (weight_scale), each a power of two within fp32's range.
// A sum that is NaN or above kMaxWeightSum makes the normaliser NaN: the side's totals and
// gradients are then NaN, on every backend.
struct SideScale {
  double norm;            // divisor of totals and gradients (0: both are 0)
  double coef;            // gradient multiplier: grad_scale / norm
  double count;           // elements
  float weight_scale[2];  // each weight is used as (w * weight_scale[0]) * weight_scale[1]
};

GANLOSS_HOST_DEVICE SideScale side_scale(const CallParams& q, const SideParams& side,
                                         int side_index, int64_t count, const double* state) {
  const bool weighted = side.weights != nullptr && state != nullptr;
  const double n = static_cast<double>(count);
  double weight_sum = weighted ? state[kStateWeightSum + side_index] : n;
  const double nonzero = weighted ? state[kStateNonzero + side_index] : n;
  SideScale sc;
  sc.weight_scale[0] = sc.weight_scale[1] = 1.0f;
  if (weighted && q.reduction == Reduction::mean) {
    if (!(weight_sum <= kMaxWeightSum)) {
      weight_sum = __builtin_nan("");
    } else if (weight_sum > 0.0) {
      int e = 0;
      frexp(weight_sum, &e);  // weight_sum = m 2^e, m in [0.5, 1)
      const int k = -e;       // weight_sum 2^k in [0.5, 1); |k| <= 149
      const int k0 = k / 2;
      sc.weight_scale[0] = static_cast<float>(ldexp(1.0, k0));
      sc.weight_scale[1] = static_cast<float>(ldexp(1.0, k - k0));
      weight_sum = ldexp(weight_sum, k);
    }
  }
  sc.norm = normaliser(q.reduction, weighted, n, weight_sum, nonzero);
  sc.coef = coefficient(q.grad_scale, sc.norm);
  sc.count = n;
  return sc;
}

// The least a nonzero weight scales to: 2^-149, fp32's smallest positive (subnormal) number.
// Both backends form a weight as the terms use it (see SideScale) as
// (w weight_scale[0]) weight_scale[1], except that a nonzero weight whose product rounds to 0
// (one below 2^-150 of its side's scaled sum) is this. So only a weight of 0 masks its
// element's terms: a nonzero weight under an infinite or NaN term gives the infinite or NaN
// weighted term and gradient its value as given does. Where the product rounds to 0 the floor
// is off by less than 2^-149, within the scaled weight's resolution (two roundings, 2^-148).
// The CUDA kernel's `scaled_weight` and the CPU backend's weighted loop apply it.
constexpr float kSmallestScaledWeight = 0x1p-149f;

// A term (or its gradient) v times a weight w: exactly 0 when w is 0, whatever v. An element of
// weight 0 contributes nothing, even where its term is infinite or NaN.
GANLOSS_HOST_DEVICE float weighted(float w, float v) {
  return w != 0.0f ? w * v : 0.0f;
}

// The least-squares term d^2 / 2 times a weight w, without the overflow of d^2 where the
// weighted term is within fp32's range: above |d| = 2^62 (where d^2 / 2 may pass FLT_MAX) it is
// formed as (w d / 2) d, whose first product is a normal number for every nonzero fp32 w (at
// least 2^-149 2^61); below, as w (d^2 / 2), the term's own bits when w is 1. Exactly 0 for a
// zero weight, as `weighted`.
GANLOSS_HOST_DEVICE float weighted_square(float w, float d) {
  const float h = 0.5f * d;
  const float v = fabsf(d) > 0x1p62f ? (w * h) * d : w * (h * d);
  return w != 0.0f ? v : 0.0f;
}

// The weighted value of term `term` (evaluated as `loss` at argument x): `weighted`, and for
// the least-squares term `weighted_square`, whose value may be finite where `loss` is not.
GANLOSS_HOST_DEVICE float weighted_loss(const Term& term, float w, float x, float loss) {
  return term.kind == TermKind::squared ? weighted_square(w, x - term.param) : weighted(w, loss);
}

// The same for a term kind known at compile time (the CPU loops).
template <TermKind K>
GANLOSS_HOST_DEVICE float weighted_loss(const Term& term, float w, float x, float loss) {
  if constexpr (K == TermKind::squared) {
    return weighted_square(w, x - term.param);
  } else {
    (void)term;
    (void)x;
    return weighted(w, loss);
  }
}

// The relativistic average's per-segment constants: each side's shift (the other side's
// mean), and the additive gradient terms through the means for D and G:
//   dL/dr_k += -a_f sum_j v_j psi'(f~_j) / N_r,  dL/df_k += -a_r sum_i w_i phi'(r~_i) / N_f,
// scaled by grad_scale, where a = 1 / norm (a_other grad_scale: the other side's coef).
struct AverageCoupling {
  double shift[2];
  double offset_d[2];
  double offset_g[2];
};

GANLOSS_HOST_DEVICE AverageCoupling average_coupling(const SideScale* sc, const double* state) {
  AverageCoupling c;
  for (int side = 0; side < 2; ++side) {
    const int other = 1 - side;
    const double n_other = sc[other].count;
    c.shift[side] = n_other > 0 ? divide(state[kStateLogitSum + other], n_other) : 0.0;
    const double n = sc[side].count;
    const double a_other = sc[other].coef;  // grad_scale / norm
    c.offset_d[side] = n > 0 ? divide(-a_other * state[kStateDerivativeD + other], n) : 0.0;
    c.offset_g[side] = n > 0 ? divide(-a_other * state[kStateDerivativeG + other], n) : 0.0;
  }
  return c;
}

// The multipliers of one side's gradients in one segment of a VJP call: each element's
// gradient is  wd * coef_d + wg * coef_g + offset,  where wd and wg are the weighted derivatives
// (scaled weight times term derivative) of the side's D and G terms, formed in fp32 and rounded
// once to the gradient dtype. `offset_d`, `offset_g` are the side's relativistic-average terms
// through the means (0 otherwise). The paired loss's real side negates coef_d and coef_g.
struct GradientMultipliers {
  double coef_d;
  double coef_g;
  double offset;
};

GANLOSS_HOST_DEVICE GradientMultipliers vjp_multipliers(const CallParams& q, int64_t s,
                                                        const SideScale& sc, double offset_d,
                                                        double offset_g) {
  const double ud = q.cotangent_d ? static_cast<double>(q.cotangent_d[s]) : 0.0;
  const double ug = q.cotangent_g ? static_cast<double>(q.cotangent_g[s]) : 0.0;
  GradientMultipliers m;
  m.coef_d = sc.coef * ud;
  m.coef_g = sc.coef * ug;
  m.offset = (q.cotangent_d ? offset_d * ud : 0.0) + (q.cotangent_g ? offset_g * ug : 0.0);
  return m;
}

GANLOSS_HOST_DEVICE float nan_float() {
  return __builtin_nanf("");
}

// The per-segment outputs from the main pass's sums (any type with operator[] of double-
// convertible values). A malformed segment (`valid` false) gets NaN losses and statistics.
template <class Totals>
GANLOSS_HOST_DEVICE void write_segment_outputs(const CallParams& q, int64_t s, const Totals& acc,
                                               const SideScale* sc, bool valid) {
  const double d_real = scaled(static_cast<double>(acc[kLossD + 0]), sc[0].norm);
  const double d_fake = scaled(static_cast<double>(acc[kLossD + 1]), sc[1].norm);
  const double g = scaled(static_cast<double>(acc[kLossG + 0]), sc[0].norm) +
                   scaled(static_cast<double>(acc[kLossG + 1]), sc[1].norm);
  const float bad = nan_float();
  if (q.d_loss) q.d_loss[s] = valid ? static_cast<float>(d_real + d_fake) : bad;
  if (q.d_loss_real) q.d_loss_real[s] = valid ? static_cast<float>(d_real) : bad;
  if (q.d_loss_fake) q.d_loss_fake[s] = valid ? static_cast<float>(d_fake) : bad;
  if (q.g_loss) q.g_loss[s] = valid ? static_cast<float>(g) : bad;
  if (q.stats_out) {
    const double finite_real = static_cast<double>(acc[kFinite + 0]);
    const double finite_fake = static_cast<double>(acc[kFinite + 1]);
    auto mean = [](double sum, double n) {
      return n > 0 ? static_cast<float>(divide(sum, n)) : 0.0f;
    };
    ganloss_segment_stats_t& st = q.stats_out[s];
    st.mean_sigmoid_real = valid ? mean(static_cast<double>(acc[kSigmoid + 0]), finite_real) : bad;
    st.mean_sigmoid_fake = valid ? mean(static_cast<double>(acc[kSigmoid + 1]), finite_fake) : bad;
    st.frac_real_positive = valid ? mean(static_cast<double>(acc[kCorrect + 0]), finite_real) : bad;
    st.frac_fake_negative = valid ? mean(static_cast<double>(acc[kCorrect + 1]), finite_fake) : bad;
    st.mean_sign_real = valid ? mean(static_cast<double>(acc[kSignReal]), finite_real) : bad;
    st.nonfinite_real = static_cast<int64_t>(sc[0].count - finite_real);
    st.nonfinite_fake = static_cast<int64_t>(sc[1].count - finite_fake);
  }
}

}  // namespace detail
}  // namespace ganloss

#endif  // GANLOSS_KERNELS_SEGMENT_MATH_HPP_
