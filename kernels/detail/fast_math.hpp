// The fused kernel's logistic math on the hardware approximations: 2^t by ex2.approx.f32 and
// 1/a by rcp.approx.ftz.f32 (one MUFU instruction each), with the exp(-|x|) formulation that
// keeps both saturated tails relative-accurate: sigma(-|x|) = e / (1 + e) and
// log1p(e) = 2 atanh(e / (2 + e)) never form 1 - sigma or 1 + e - 1.
//
// Under nvcc the approximations are the PTX instructions. Compiled for the host emulator
// (GANLOSS_EMULATOR), they are correctly rounded fp32 operations with the instructions'
// behaviour at the edges: 2^-inf = +0, 2^+inf = +inf, NaN stays NaN, subnormal results of ex2
// are kept (the non-.ftz form); rcp flushes a subnormal argument or result to a zero of its sign.
// The emulated kernel therefore runs the same formulas; the documented error of the
// approximations (docs/numerics.md, src/tolerance.hpp kFastMath*) covers the difference.
#ifndef GANLOSS_KERNELS_DETAIL_FAST_MATH_HPP_
#define GANLOSS_KERNELS_DETAIL_FAST_MATH_HPP_

#include <math.h>

#include <cstdint>

#include "detail/simt.hpp"

namespace ganloss {
namespace detail {
namespace fast {

#if defined(GANLOSS_EMULATOR)

inline float exp2_approx(float t) {
  return static_cast<float>(exp2(static_cast<double>(t)));
}

inline float flush_subnormal(float a) {
  return (a != 0.0f && fabsf(a) < 0x1p-126f) ? copysignf(0.0f, a) : a;
}

inline float rcp_approx(float a) {
  return flush_subnormal(1.0f / flush_subnormal(a));
}

#else

GANLOSS_DEVICE float exp2_approx(float t) {
  float r;
  asm("ex2.approx.f32 %0, %1;" : "=f"(r) : "f"(t));
  return r;
}

GANLOSS_DEVICE float rcp_approx(float a) {
  float r;
  asm("rcp.approx.ftz.f32 %0, %1;" : "=f"(r) : "f"(a));
  return r;
}

#endif

// log2(e) rounded to fp32 (relative error below 2^-25).
constexpr float kLog2e = 1.44269504088896341f;

// The logistic functions of one argument x from e = exp(-|x|).
struct Logistic {
  bool positive;  // x > 0
  float l;        // log1p(e) = sp(-|x|)
  float sig_pos;  // sigma(x)
  float sig_neg;  // sigma(-x)
};

// log1p(e) for e in [0, 1] (or NaN): 2 atanh(s) with s = e / (2 + e) <= 1/3, as
// 2 s (1 + z q(z)), z = s^2 <= 1/9, where q is the degree-3 polynomial closest in relative
// error to (atanh(s) / s - 1) / z on [0, 1/9] (Lawson's iteration on a dense grid; its fp32
// coefficients, doubled, below): relative remainder 4.5e-9 (2^-27.7) in four fused
// multiply-adds, where the odd Taylor series needs six (to z^6 / 13) for 2^-25. The leading
// 2 s is exact, so a tiny e gives log1p(e) = 2 s to the last bit before rounding.
GANLOSS_DEVICE float log1p_unit(float e) {
  const float s = e * rcp_approx(2.0f + e);
  const float z = s * s;
  float p = 0x1.1ed830p-2f;
  p = p * z + 0x1.1ebcf8p-2f;
  p = p * z + 0x1.99d20ap-2f;
  p = p * z + 0x1.555502p-1f;
  p = p * z + 2.0f;
  return s * p;
}

GANLOSS_DEVICE Logistic logistic(float x) {
  const float e = exp2_approx(fabsf(x) * -kLog2e);  // exp(-|x|); NaN stays NaN
  const float big = rcp_approx(1.0f + e);           // sigma(|x|)
  const float small = e * big;                      // sigma(-|x|)
  Logistic out;
  out.positive = x > 0.0f;
  out.l = log1p_unit(e);
  out.sig_pos = out.positive ? big : small;
  out.sig_neg = out.positive ? small : big;
  return out;
}

// sigma(x) alone (the statistics of a logit whose terms take another argument).
GANLOSS_DEVICE float sigmoid(float x) {
  const float e = exp2_approx(fabsf(x) * -kLog2e);
  const float big = rcp_approx(1.0f + e);
  return x > 0.0f ? big : e * big;
}

}  // namespace fast
}  // namespace detail
}  // namespace ganloss

#endif  // GANLOSS_KERNELS_DETAIL_FAST_MATH_HPP_
