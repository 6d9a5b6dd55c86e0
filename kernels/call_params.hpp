// The plain parameter block every backend consumes: validated pointers, int64 shapes and the
// per-term descriptions, filled once by the host layer (src/validate.cpp); and the per-segment
// normalisation rules all backends share.
#ifndef GANLOSS_KERNELS_CALL_PARAMS_HPP_
#define GANLOSS_KERNELS_CALL_PARAMS_HPP_

#include <cmath>
#include <cstdint>

#include "ganloss/ganloss.h"
#include "ganloss/ganloss.hpp"
#include "ganloss/losses.hpp"

namespace ganloss {
namespace detail {

// How a problem's terms depend on the logits.
enum class Relativity : int32_t {
  none = 0,     // each term is a function of one logit
  paired = 1,   // each term is a function of f_i - r_i (RpGAN)
  average = 2,  // real terms of r - mean(f), fake terms of f - mean(r)
};

// One side (real or fake) of the problem. Fixed length: `count` logits per segment, row s
// starting at element s * stride. Ragged: segment s holds elements [offsets[s], offsets[s+1])
// of an array of `count` elements. Per-element arrays (weights, gradients, element losses)
// share this layout.
struct SideParams {
  const void* logits;
  const float* weights;    // null: every weight is 1
  const int64_t* offsets;  // null: fixed-length rows
  int64_t count;
  int64_t stride;
};

struct CallParams {
  int64_t segments;
  DType dtype;       // logits
  DType grad_dtype;  // gradients: the logits' dtype, or f32
  Reduction reduction;
  Relativity relativity;
  float grad_scale;
  SideParams real;
  SideParams fake;

  // Terms, as functions of the (shifted, for relativistic average) logit; kind none where no
  // requested output needs them. Paired: real_d and fake_g are the D and G terms of d = f - r
  // and real_g, fake_d are none.
  Term real_d;
  Term real_g;
  Term fake_d;
  Term fake_g;
  bool stats;  // statistics requested: both sides' logits are read

  // Per-element outputs (gradients in grad_dtype, losses float); null = not wanted.
  void* grad_real;
  void* grad_real_g;
  void* grad_fake_d;
  void* grad_fake_g;
  float* loss_real;
  float* loss_real_g;
  float* loss_fake_d;
  float* loss_fake_g;

  // Per-segment outputs; null = not wanted.
  float* d_loss;
  float* d_loss_real;
  float* d_loss_fake;
  float* g_loss;
  ganloss_segment_stats_t* stats_out;

  // A VJP call (ganloss_plan_vjp): each logit's single gradient of
  //   sum_s cotangent_d[s] L_D[s] + cotangent_g[s] L_G[s]
  // goes to grad_real (real logits) and grad_fake_d (fake logits); every other output is
  // null. A null cotangent is 0, and its loss's terms are none: real_d and fake_d when
  // cotangent_d is null, real_g and fake_g when cotangent_g is null. See vjp_multipliers().
  bool vjp;
  const float* cotangent_d;
  const float* cotangent_g;
};

constexpr int64_t dtype_size(DType t) {
  return t == DType::f32 ? 4 : 2;
}

// Whether a call reads one side's logits: for its statistics, for a term on that side, or, as
// relativistic terms depend on both sides, for any term at all.
GANLOSS_HOST_DEVICE bool side_used(const CallParams& q, bool real) {
  if (q.stats) return true;
  const bool real_terms = q.real_d.kind != TermKind::none || q.real_g.kind != TermKind::none;
  const bool fake_terms = q.fake_d.kind != TermKind::none || q.fake_g.kind != TermKind::none;
  if (q.relativity != Relativity::none) return real_terms || fake_terms;
  return real ? real_terms : fake_terms;
}

// Whether a reduction needs the weights' sum or non-zero count before the main pass.
GANLOSS_HOST_DEVICE bool needs_weight_totals(Reduction r) {
  return r == Reduction::mean || r == Reduction::mean_nonzero;
}

// The divisor of a side's totals and gradients in one segment: 1 for sum and none; the weight
// sum (or element count, unweighted) for mean; the non-zero weight count (or element count)
// for mean_nonzero. A divisor of 0 (an empty segment, all-zero weights) gives zero totals and
// gradients: see scaled() and coefficient().
GANLOSS_HOST_DEVICE double normaliser(Reduction r, bool weighted, double count, double weight_sum,
                                      double nonzero) {
  switch (r) {
    case Reduction::mean:
      return weighted ? weight_sum : count;
    case Reduction::mean_nonzero:
      return weighted ? nonzero : count;
    default:
      return 1.0;
  }
}

// a / b from r, an approximation of 1 / b good to a relative 2^-8, for a positive normal b or
// a NaN one: three Newton steps r (2 - b r), each squaring r's relative error (2^-8 ends below
// double's 2^-53), then q = a r corrected once by the residual a - b q. Within one unit in the
// last place of the IEEE quotient, which it is in nearly every case (tests/losses_math_test.cpp).
// An infinite, NaN or zero a gives a r: an infinity or a zero of a's sign, or NaN.
GANLOSS_HOST_DEVICE double divide_from_reciprocal(double a, double b, double r) {
  for (int i = 0; i < 3; ++i)
    r = std::fma(r, std::fma(-b, r, 1.0), r);
  const double q = a * r;
  if (!(a - a == 0.0) || a == 0.0) return q;  // a infinite or NaN (a - a is NaN), or zero
  return std::fma(r, std::fma(-b, q, a), q);
}

// a / b for the per-segment divisions (totals over normalisers, means over counts), where b is
// a positive normal number or NaN. The host computes the IEEE quotient. The device's IEEE
// division branches to a called slow path for operands it cannot handle inline, and that call
// costs every kernel a stack frame; b's range needs no slow path, so the device forms the
// quotient from the approximate reciprocal (rcp.approx.ftz.f64) by divide_from_reciprocal,
// within one unit in the last place of double's quotient, far below the fp32 rounding every
// result gets after it.
GANLOSS_HOST_DEVICE double divide(double a, double b) {
#if defined(__CUDA_ARCH__)
  double r;
  asm("rcp.approx.ftz.f64 %0, %1;" : "=d"(r) : "d"(b));
  return divide_from_reciprocal(a, b, r);
#else
  return a / b;
#endif
}

GANLOSS_HOST_DEVICE double scaled(double total, double norm) {
  return norm != 0.0 ? divide(total, norm) : 0.0;
}

// The largest |grad_scale| a call accepts: then the weighted mean's gradient coefficient,
// grad_scale over a weight sum scaled into [0.5, 1) (SideScale), stays within fp32's range.
constexpr float kMaxGradScale = 0x1p126f;

// Multiplier of a side's per-element gradients in one segment.
GANLOSS_HOST_DEVICE double coefficient(double grad_scale, double norm) {
  return norm != 0.0 ? divide(grad_scale, norm) : 0.0;
}

}  // namespace detail
}  // namespace ganloss

#endif  // GANLOSS_KERNELS_CALL_PARAMS_HPP_
