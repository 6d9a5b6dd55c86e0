// Error bounds of a float backend against the double-precision reference, derived from the
// precision of each dtype. Shared by the tests and `ganloss check`, so that both accept the
// same results for the same reasons.
//
// Per element, every term and gradient is a short chain of correctly rounded fp32 operations
// (the CPU backend's exp within 1.5 ulp, its log1p within 2.1): a relative error of a few units
// of fp32 roundoff u, plus one rounding to the storage dtype. Two places lose relative accuracy and
// get an absolute term: results in the subnormal range, and the logistic gradient w_pos*sigma(x) -
// w_neg*sigma(-x), which cancels near its zero (label smoothing), by at most u * |w| * |coef| with
// |w| <= 1. Reduced totals are bounded relative to the reduced sum of |term| (which the reference
// also returns), times the number of roundings a term can go through on its way into the total.
#ifndef GANLOSS_SRC_TOLERANCE_HPP_
#define GANLOSS_SRC_TOLERANCE_HPP_

#include <cmath>
#include <cstdint>
#include <limits>

#include "call_params.hpp"
#include "cpu_pieces.hpp"
#include "segmented_loss_plan.hpp"

namespace ganloss {
namespace detail {

// fp32 roundoff units allowed for one element's evaluation (about twice the analysed bound).
constexpr double kElementUlps = 8.0;

inline double unit_roundoff(DType t) {
  switch (t) {
    case DType::f16:
      return 0x1p-11;
    case DType::bf16:
      return 0x1p-8;
    default:
      return 0x1p-24;
  }
}

// Spacing of the storage dtype's subnormals: the absolute accuracy floor of tiny results.
inline double subnormal_spacing(DType t) {
  switch (t) {
    case DType::f16:
      return 0x1p-24;
    case DType::bf16:
      return 0x1p-133;
    default:
      return 0x1p-149;
  }
}

inline double largest_finite(DType t) {
  switch (t) {
    case DType::f16:
      return 65504.0;
    case DType::bf16:
      return 0x1.fep127;
    default:
      return std::numeric_limits<float>::max();
  }
}

// |got - ref| <= rel * |ref| + abs, for a value stored as `storage`.
struct Tolerance {
  double rel;
  double abs;
  DType storage;

  // Non-finite references must be matched exactly (NaN by NaN). A finite reference may come
  // back as an infinity of its sign where a value within the bound of it rounds to that infinity
  // in the storage dtype (|ref| + bound reaches the overflow threshold), and must where every such
  // value does (|ref| - bound beyond it).
  bool accepts(double got, double ref) const {
    if (std::isnan(ref)) return std::isnan(got);
    if (std::isinf(ref)) return got == ref;
    const double limit = largest_finite(storage) * (1.0 + unit_roundoff(storage) / 2);
    if (std::isinf(got)) return (got > 0) == (ref > 0) && std::fabs(ref) + bound(ref) >= limit;
    if (std::isnan(got)) return false;
    return std::fabs(got - ref) <= bound(ref);
  }

  double bound(double ref) const { return rel * std::fabs(ref) + abs; }

  // |got - ref| / bound: <= 1 passes. Mismatched non-finite values give +inf.
  double ratio(double got, double ref) const {
    if (got == ref) return 0.0;  // also when the bound is 0
    const bool ok = accepts(got, ref);
    if (!std::isfinite(ref) || !std::isfinite(got)) {
      return ok ? 0.0 : std::numeric_limits<double>::infinity();
    }
    return std::fabs(got - ref) / bound(ref);
  }
};

// The CUDA kernel's elementwise math on the hardware approximations (kernels/detail/
// fast_math.hpp; the derivation is in docs/numerics.md, u = 2^-24): exp(-|a|) is ex2.approx
// (2 ulp) of the rounded product |a| log2(e), within 4 u + 1.25 |a| u; sigma(+-a) within
// 10 u + 1.9 |a| u; log1p(exp(-|a|)) within 12 u + 1.25 |a| u; so a logistic term and its
// gradient at argument a within 14 u + 1.9 |a| u before the weight, the coefficient and the
// store. The other kinds are the same fp32 operations as on the CPU. Allowed, with the margin
// of kElementUlps (twice the analysed bound): kFastMathUlps u, plus kFastMathArgumentUlps |a| u
// for the logistic terms.
constexpr double kFastMathUlps = 36.0;
constexpr double kFastMathArgumentUlps = 4.0;

// How a backend's results may differ from the reference: its elementwise math (element_ulps
// fp32 roundoff units per term and gradient, plus argument_ulps |a| for a logistic term of
// argument a) and the fp32 additions a term may pass through on its way into a sum (depth; 0
// for exact sums in double), loss_depth more for the terms of the loss totals alone, more for
// a ragged row by its length where ragged_rows (the CUDA kernel's threads that share a
// segment). An int converts to exactly rounded math with that depth for every sum.
struct ErrorModel {
  int depth = 0;
  double element_ulps = kElementUlps;
  double argument_ulps = 0.0;
  bool ragged_rows = false;
  int loss_depth = 0;
  ErrorModel() = default;
  ErrorModel(int d) : depth(d) {}  // NOLINT(google-explicit-constructor)
  ErrorModel(int d, double ulps, double per_argument, bool ragged = false, int loss = 0)
      : depth(d),
        element_ulps(ulps),
        argument_ulps(per_argument),
        ragged_rows(ragged),
        loss_depth(loss) {}
};

// The CPU backend's error model: exactly rounded elementwise math, the loss terms of each block
// of 64 elements added in fp32 before double (cpu_pieces.hpp), and every other sum (the weight
// sums, the relativistic average's logit and derivative sums, the statistics) in double.
inline const ErrorModel kCpuError = [] {
  ErrorModel e;
  e.loss_depth = cpu::kAccumulationDepth;
  return e;
}();

// The CUDA kernel's error model (the host emulator runs the same formulas and is held to it).
inline const ErrorModel kCudaKernelError{detail::kernel::kAccumulationDepth, kFastMathUlps,
                                         kFastMathArgumentUlps, true};

// A gradient stored as `storage`, computed with gradient multiplier `coef`.
inline Tolerance gradient_tolerance(DType storage, double coef, double ulps = kElementUlps) {
  const double u = 0x1p-24;
  return Tolerance{ulps * u + unit_roundoff(storage),
                   ulps * u * std::fabs(coef) + 4 * subnormal_spacing(storage), storage};
}

// A VJP gradient (ganloss_plan_vjp) wd * coef_d + wg * coef_g + offset, formed in fp32 and
// stored as `storage`, with magnitude = |wd * coef_d| + |wg * coef_g| + |offset| of its exact
// parts. Derivation, to first order in u = 2^-24: wd and wg are element evaluations, each within
// kElementUlps u of its value; the multipliers coef_d = coef * u_d and coef_g = coef * u_g are
// rounded to fp32 once (u each) and each product rounds once (u); the two additions each round
// by at most u of their result, which is at most `magnitude`. So every part carries at most
// (kElementUlps + 2) u of its own size and the sums 2 u of the whole: in all (kElementUlps + 4) u
// magnitude, relative to the parts rather than to the result, which may cancel. Storing rounds
// once more, by unit_roundoff(storage) of the stored value (of the result plus that error), and
// results in the storage's subnormal range are absolute: 4 spacings. What each part's inputs
// add (a logistic gradient's cancellation, a perturbed argument, an offset's sums) is the
// gradient bound of a compute call scaled by the part's |cotangent| (comparison.cpp).
inline Tolerance vjp_gradient_tolerance(DType storage, double magnitude) {
  const double u = 0x1p-24;
  const double us = unit_roundoff(storage);
  return Tolerance{
      us, (kElementUlps + 4) * u * magnitude * (1 + us) + 4 * subnormal_spacing(storage), storage};
}

// A per-element loss term (always stored as float).
inline Tolerance element_loss_tolerance(double ulps = kElementUlps) {
  const double u = 0x1p-24;
  return Tolerance{ulps * u + u, 4 * subnormal_spacing(DType::f32), DType::f32};
}

// A reduced total (stored as float) whose terms have reduced absolute sum `abs_total`, under
// error model `e` (see ErrorModel; its argument term is the caller's, per element).
inline Tolerance total_tolerance(double abs_total, const ErrorModel& e) {
  const double u = 0x1p-24;
  return Tolerance{
      u,
      (e.element_ulps + e.depth + e.loss_depth) * u * abs_total + 4 * subnormal_spacing(DType::f32),
      DType::f32};
}

}  // namespace detail
}  // namespace ganloss

#endif  // GANLOSS_SRC_TOLERANCE_HPP_
