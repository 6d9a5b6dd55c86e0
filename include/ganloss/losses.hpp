// Per-element GAN loss math: the one place where every loss formula and its gradient lives.
//
// Every function is __host__ __device__ and works in fp32. The CUDA kernels and the CPU
// backend both evaluate terms through evaluate_term(); the reference backend deliberately
// does not (it is written independently, in double precision, to check this file).
//
// Numerics (see docs/losses.md): exp(-|x|) is computed once per logit and gives softplus and
// sigmoid of both signs; 1 - sigmoid is never formed. Non-finite logits: a NaN logit gives a
// NaN loss term and a NaN gradient; +-inf gives the limit of the term and its gradient.
#ifndef GANLOSS_LOSSES_HPP_
#define GANLOSS_LOSSES_HPP_

#include <cstdint>
#include <cstring>

#if defined(__CUDACC__)
#define GANLOSS_HOST_DEVICE __host__ __device__ __forceinline__
#else
#define GANLOSS_HOST_DEVICE inline
#endif

#if defined(__CUDA_ARCH__)
#include <math.h>
#endif

namespace ganloss {
namespace math {

// exp(-|x|) on the host: a branch-free Cody-Waite reduction and a degree-7 polynomial
// (about 1 ulp), written so that compilers vectorize loops over it. Subnormal results are
// exact to within their spacing; anything below exp(-104) is 0. NaN propagates.
inline float host_exp_neg_abs(float x) {
  float y = x < 0.0f ? x : -x;  // -|x| without fabs so that NaN keeps flowing
  const bool is_nan = !(y == y);
  y = y < -104.0f ? -104.0f : y;
  y = is_nan ? 0.0f : y;
  const float n = (y * 1.44269504088896341f + 12582912.0f) - 12582912.0f;  // round to nearest
  const float r = (y - n * 0.693145751953125f) - n * 1.42860682030941723e-6f;
  float p = 1.98412698412698413e-4f;  // 1/7!
  p = p * r + 1.38888888888888889e-3f;
  p = p * r + 8.33333333333333333e-3f;
  p = p * r + 4.16666666666666667e-2f;
  p = p * r + 1.66666666666666667e-1f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  // 2^n in two normal factors: n >= -151, so each half is >= -76.
  const int32_t ni = static_cast<int32_t>(n);
  const int32_t n1 = ni / 2;
  const int32_t n2 = ni - n1;
  const int32_t b1 = (n1 + 127) << 23;
  const int32_t b2 = (n2 + 127) << 23;
  float s1, s2;
  std::memcpy(&s1, &b1, sizeof s1);
  std::memcpy(&s2, &b2, sizeof s2);
  const float result = (p * s1) * s2;
  return is_nan ? x : result;
}

// log1p(e) for e in [0, 1] (or NaN) on the host: log1p(e) = 2 atanh(s), s = e / (2 + e) <= 1/3,
// as an odd series in s truncated where its remainder is below 2^-29 relative.
inline float host_log1p_unit(float e) {
  const float s = e / (2.0f + e);
  const float z = s * s;
  // 2s + 2s (z/3 + z^2/5 + ...): the correction is below 8% of the result, so its rounding
  // errors shrink accordingly and s's own rounding dominates.
  float p = 2.0f / 15.0f;
  p = p * z + 2.0f / 13.0f;
  p = p * z + 2.0f / 11.0f;
  p = p * z + 2.0f / 9.0f;
  p = p * z + 2.0f / 7.0f;
  p = p * z + 2.0f / 5.0f;
  p = p * z + 2.0f / 3.0f;
  return 2.0f * s + s * (z * p);
}

GANLOSS_HOST_DEVICE float exp_neg_abs(float x) {
#if defined(__CUDA_ARCH__)
  return expf(-fabsf(x));
#else
  return host_exp_neg_abs(x);
#endif
}

GANLOSS_HOST_DEVICE float log1p_unit(float e) {
#if defined(__CUDA_ARCH__)
  return log1pf(e);
#else
  return host_log1p_unit(e);
#endif
}

// softplus and sigmoid of x and of -x, from one exp(-|x|).
struct Logistic {
  float sp_pos;   // sp(x)  = log(1 + exp(x))
  float sp_neg;   // sp(-x) = log(1 + exp(-x))
  float sig_pos;  // sigma(x)
  float sig_neg;  // sigma(-x)
};

GANLOSS_HOST_DEVICE Logistic logistic(float x) {
  const float e = exp_neg_abs(x);
  const float l = log1p_unit(e);
  const float big = 1.0f / (1.0f + e);  // sigma(|x|)
  const float small = e * big;          // sigma(-|x|), never 1 - big
  Logistic out;
  out.sp_pos = (x > 0.0f ? x : 0.0f) + l;
  out.sp_neg = (x < 0.0f ? -x : 0.0f) + l;
  out.sig_pos = x >= 0.0f ? big : small;
  out.sig_neg = x >= 0.0f ? small : big;
  return out;
}

}  // namespace math

// The shape of one loss term, as a function of one logit x:
//   none      no term (not requested)
//   logistic  w_pos sp(x) + w_neg sp(-x),  grad w_pos sigma(x) - w_neg sigma(-x)
//             (a cross-entropy against target t, times sign: w_pos = sign (1-t), w_neg = sign t)
//   hinge     relu(param - sign x),        grad -sign [param - sign x > 0]
//   linear    sign * x,                    grad sign
//   squared   (x - param)^2 / 2,           grad x - param
// Build terms with the make_*_term functions, which also fill the derived fields.
enum class TermKind : int32_t { none = 0, logistic = 1, hinge = 2, linear = 3, squared = 4 };

struct Term {
  TermKind kind;
  float sign;
  float param;
  float w_pos;
  float w_neg;
  // w * sp where sp = +inf: +-inf, or exactly 0 for a zero weight (never 0 * inf = NaN).
  float inf_pos;
  float inf_neg;
};

struct TermValue {
  float loss;
  float grad;
};

namespace detail {
GANLOSS_HOST_DEVICE float times_infinity(float w) {
  return w > 0.0f ? __builtin_huge_valf() : (w < 0.0f ? -__builtin_huge_valf() : 0.0f);
}
}  // namespace detail

GANLOSS_HOST_DEVICE Term make_none_term() {
  return Term{TermKind::none, 0, 0, 0, 0, 0, 0};
}

// sign * [t sp(-x) + (1-t) sp(x)]: binary cross-entropy of x against target t in [0, 1].
GANLOSS_HOST_DEVICE Term make_logistic_term(float sign, float target) {
  const float w_pos = sign * (1.0f - target);
  const float w_neg = sign * target;
  return Term{
      TermKind::logistic,           sign, target, w_pos, w_neg, detail::times_infinity(w_pos),
      detail::times_infinity(w_neg)};
}

GANLOSS_HOST_DEVICE Term make_hinge_term(float sign, float margin) {
  return Term{TermKind::hinge, sign, margin, 0, 0, 0, 0};
}

GANLOSS_HOST_DEVICE Term make_linear_term(float sign) {
  return Term{TermKind::linear, sign, 0, 0, 0, 0, 0};
}

GANLOSS_HOST_DEVICE Term make_squared_term(float label) {
  return Term{TermKind::squared, 1.0f, label, 0, 0, 0, 0};
}

// The selects below depend on the data only, never on a loop-invariant flag, so that host
// compilers vectorize loops over them.
GANLOSS_HOST_DEVICE TermValue logistic_term(const Term& t, const math::Logistic& lg) {
  const float inf = __builtin_huge_valf();
  const float pos = lg.sp_pos == inf ? t.inf_pos : t.w_pos * lg.sp_pos;
  const float neg = lg.sp_neg == inf ? t.inf_neg : t.w_neg * lg.sp_neg;
  TermValue v;
  v.loss = pos + neg;
  v.grad = t.w_pos * lg.sig_pos - t.w_neg * lg.sig_neg;
  return v;
}

GANLOSS_HOST_DEVICE TermValue hinge_term(float sign, float margin, float x) {
  const float v = margin - sign * x;
  TermValue out;
  out.loss = v < 0.0f ? 0.0f : v + 0.0f;              // relu; NaN stays NaN, -0 becomes +0
  out.grad = v > 0.0f ? -sign : (v == v ? 0.0f : v);  // 0 at the kink, as autograd frameworks do
  return out;
}

GANLOSS_HOST_DEVICE TermValue linear_term(float sign, float x) {
  TermValue out;
  out.loss = sign * x;
  out.grad = x == x ? sign : x;
  return out;
}

GANLOSS_HOST_DEVICE TermValue squared_term(float label, float x) {
  const float d = x - label;
  TermValue out;
  out.loss = 0.5f * d * d;
  out.grad = d;
  return out;
}

// One term at one logit, the kind known at compile time (CPU loops) ...
template <TermKind K>
GANLOSS_HOST_DEVICE TermValue evaluate_term(const Term& term, float x, const math::Logistic& lg) {
  if constexpr (K == TermKind::logistic) {
    return logistic_term(term, lg);
  } else if constexpr (K == TermKind::hinge) {
    return hinge_term(term.sign, term.param, x);
  } else if constexpr (K == TermKind::linear) {
    return linear_term(term.sign, x);
  } else if constexpr (K == TermKind::squared) {
    return squared_term(term.param, x);
  } else {
    return TermValue{0.0f, 0.0f};
  }
}

// ... or at run time (GPU kernels, where the kind is uniform across a launch).
GANLOSS_HOST_DEVICE TermValue evaluate_term(const Term& term, float x, const math::Logistic& lg) {
  switch (term.kind) {
    case TermKind::logistic:
      return logistic_term(term, lg);
    case TermKind::hinge:
      return hinge_term(term.sign, term.param, x);
    case TermKind::linear:
      return linear_term(term.sign, x);
    case TermKind::squared:
      return squared_term(term.param, x);
    default:
      return TermValue{0.0f, 0.0f};
  }
}

}  // namespace ganloss

#endif  // GANLOSS_LOSSES_HPP_
