// The plain parameter block every backend consumes: validated pointers, int64 shapes and the
// per-term descriptions, filled once by the host layer (src/validate.cpp).
#ifndef GANLOSS_KERNELS_CALL_PARAMS_HPP_
#define GANLOSS_KERNELS_CALL_PARAMS_HPP_

#include <cstdint>

#include "ganloss/ganloss.hpp"
#include "ganloss/losses.hpp"

namespace ganloss {
namespace detail {

// One side (real or fake) of the problem: `count` logits per segment, row s starting at
// element s * stride. Per-element outputs share this layout.
struct SideParams {
  const void* logits;
  int64_t count;
  int64_t stride;
  bool mean;  // divide this side's reduced terms and gradients by count
};

struct CallParams {
  int64_t segments;
  DType dtype;       // logits
  DType grad_dtype;  // gradients: the logits' dtype, or f32
  SideParams real;
  SideParams fake;

  // Terms; kind none where no requested output needs the term.
  Term real_d;
  Term fake_d;
  Term fake_g;

  // Gradient multipliers: grad_scale, divided by the side's count for mean.
  float real_grad_coef;
  float fake_grad_coef;

  // Per-element outputs (logit dtype for gradients, float for losses); null = not wanted.
  void* grad_real;
  void* grad_fake_d;
  void* grad_fake_g;
  float* loss_real;
  float* loss_fake_d;
  float* loss_fake_g;

  // Per-segment outputs; null = not wanted.
  float* d_loss;
  float* d_loss_real;
  float* d_loss_fake;
  float* g_loss;
};

inline int64_t dtype_size(DType t) {
  return t == DType::f32 ? 4 : 2;
}

}  // namespace detail
}  // namespace ganloss

#endif  // GANLOSS_KERNELS_CALL_PARAMS_HPP_
