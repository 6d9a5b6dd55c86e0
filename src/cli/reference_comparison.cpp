// Output-by-output comparison with the reference; see reference_comparison.hpp.
#include "reference_comparison.hpp"

#include <algorithm>
#include <cstdio>
#include <vector>

#include "call_params.hpp"
#include "tolerance.hpp"

namespace ganloss {
namespace cli {
namespace {

std::size_t to_size(int64_t n) {
  return static_cast<std::size_t>(n);
}

void note(double ratio, double* worst, std::string* first_failure, const char* name,
          int64_t segment, int64_t index, double got, double want) {
  *worst = std::max(*worst, ratio);
  if (ratio <= 1.0 || !first_failure->empty()) return;
  char text[160];
  if (index >= 0) {
    std::snprintf(text, sizeof text, "%s[%lld, %lld] = %.9g, reference %.17g", name,
                  static_cast<long long>(segment), static_cast<long long>(index), got, want);
  } else {
    std::snprintf(text, sizeof text, "%s[%lld] = %.9g, reference %.17g", name,
                  static_cast<long long>(segment), got, want);
  }
  *first_failure = text;
}

}  // namespace

void ComparisonRatios::merge(const ComparisonRatios& other) {
  gradients = std::max(gradients, other.gradients);
  element_losses = std::max(element_losses, other.element_losses);
  totals = std::max(totals, other.totals);
  if (first_failure.empty()) first_failure = other.first_failure;
}

ComparisonRatios compare_with_reference(const ganloss_problem_t& p, const reference::Result& want,
                                        const HostResults& got, int depth) {
  using detail::Tolerance;
  ComparisonRatios c;
  // Gradients are bounded by the precision they are stored in (f32 with fp32_gradients, even
  // for 16-bit logits); `got` holds them decoded from that dtype by BackendCall.
  const auto grad_dtype = static_cast<DType>(gradient_dtype(p));
  const bool mean = p.reduction == GANLOSS_REDUCTION_MEAN;
  const double scale = p.grad_scale;
  const double coef_real = mean ? scale / static_cast<double>(p.real_count) : scale;
  const double coef_fake = mean ? scale / static_cast<double>(p.fake_count) : scale;

  // Per-element outputs: `got` spans the strided extent, `want` is dense.
  auto elements = [&](const std::vector<float>& out, const std::vector<double>& ref, int64_t count,
                      int64_t stride_arg, const Tolerance& tol, double* worst, const char* name) {
    if (out.empty()) return;
    const int64_t stride = (stride_arg == 0 || p.segments == 1) ? count : stride_arg;
    for (int64_t s = 0; s < p.segments; ++s) {
      for (int64_t i = 0; i < count; ++i) {
        const double g = out[to_size(s * stride + i)];
        const double w = ref[to_size(s * count + i)];
        note(tol.ratio(g, w), worst, &c.first_failure, name, s, i, g, w);
      }
    }
  };
  elements(got.grad_real, want.grad_real, p.real_count, p.real_stride,
           detail::gradient_tolerance(grad_dtype, coef_real), &c.gradients, "grad_real");
  elements(got.grad_fake_d, want.grad_fake_d, p.fake_count, p.fake_stride,
           detail::gradient_tolerance(grad_dtype, coef_fake), &c.gradients, "grad_fake_d");
  elements(got.grad_fake_g, want.grad_fake_g, p.fake_count, p.fake_stride,
           detail::gradient_tolerance(grad_dtype, coef_fake), &c.gradients, "grad_fake_g");
  const Tolerance loss_tol = detail::element_loss_tolerance();
  elements(got.loss_real, want.loss_real, p.real_count, p.real_stride, loss_tol, &c.element_losses,
           "loss_real");
  elements(got.loss_fake_d, want.loss_fake_d, p.fake_count, p.fake_stride, loss_tol,
           &c.element_losses, "loss_fake_d");
  elements(got.loss_fake_g, want.loss_fake_g, p.fake_count, p.fake_stride, loss_tol,
           &c.element_losses, "loss_fake_g");

  auto total = [&](const std::vector<float>& out, int64_t s, double w, double abs_total,
                   const char* name) {
    if (out.empty()) return;
    const double g = out[to_size(s)];
    note(detail::total_tolerance(abs_total, depth).ratio(g, w), &c.totals, &c.first_failure, name,
         s, -1, g, w);
  };
  for (int64_t s = 0; s < p.segments; ++s) {
    const reference::SegmentTotals& t = want.segments[to_size(s)];
    total(got.d_loss, s, t.d_loss, t.abs_real + t.abs_fake_d, "d_loss");
    total(got.d_loss_real, s, t.d_loss_real, t.abs_real, "d_loss_real");
    total(got.d_loss_fake, s, t.d_loss_fake, t.abs_fake_d, "d_loss_fake");
    total(got.g_loss, s, t.g_loss, t.abs_fake_g, "g_loss");
  }
  if (c.first_failure.empty() && !got.stray_writes.empty()) c.first_failure = got.stray_writes[0];
  return c;
}

}  // namespace cli
}  // namespace ganloss
