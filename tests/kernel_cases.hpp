// The kernel test matrix shared by the emulated and the GPU kernel tests: shapes at and around
// every regime boundary of kernels/segmented_loss_plan.hpp, and the loss kind and reduction
// combinations run on them.
#ifndef GANLOSS_TESTS_KERNEL_CASES_HPP_
#define GANLOSS_TESTS_KERNEL_CASES_HPP_

#include <algorithm>
#include <ostream>
#include <string>
#include <vector>

#include "segmented_loss_plan.hpp"
#include "test_support.hpp"

namespace ganloss {
namespace testing {

using detail::kernel::Regime;

struct Shape {
  const char* name;
  int64_t segments, real_count, fake_count, real_stride, fake_stride;
  Regime regime;  // expected for D + G outputs
};

inline constexpr int64_t W = detail::kernel::kWarpMaxLength;
inline constexpr int64_t WS = detail::kernel::kWarpShortLength;
inline constexpr int64_t BS = detail::kernel::kBlockShortLength;
inline constexpr int64_t C = detail::kernel::kChunkLength;

// Lengths L = Nr + Nf at and around each regime boundary, with odd sizes, Nr != Nf, strided
// rows whose starts are not 16-byte aligned, and several segments per block and per grid. The
// boundaries that only calls of many segments reach (kWarpMaxLength for kWarpManySegments
// segments, kChunkLength for kTargetUnits) are tested apart (EmulatedRegimes): such calls are
// too large for this matrix.
inline const Shape kShapes[] = {
    {"L2", 1, 1, 1, 0, 0, Regime::warp},
    {"L31_S9", 9, 17, 14, 0, 0, Regime::warp},
    {"L32_S9", 9, 16, 16, 0, 0, Regime::warp},
    {"L33_S17_strided", 17, 20, 13, 23, 15, Regime::warp},
    {"LWSm1", 3, WS / 2, WS / 2 - 1, 0, 0, Regime::warp},
    {"LWS", 3, WS / 2, WS / 2, 0, 0, Regime::warp},
    {"LWSp1", 3, WS / 2 + 1, WS / 2, 0, 0, Regime::block},
    {"LWSp1_strided", 2, WS / 2 + 1, WS / 2, WS / 2 + 3, WS / 2 + 5, Regime::block},
    {"LBS", 2, BS / 2, BS / 2, 0, 0, Regime::block},
    {"LBSp1", 2, BS / 2 + 1, BS / 2, 0, 0, Regime::chunk},
    {"LCp1", 2, C / 2 + 1, C / 2, 0, 0, Regime::chunk},
    {"L2C_split_at_chunk", 1, C, C, 0, 0, Regime::chunk},
    {"L3Cp5_split_inside", 1, C + 5000, 2 * C, 0, 0, Regime::chunk},
    {"L3C_strided", 2, 2 * C + 1, C - 3, 2 * C + 7, C + 1, Regime::chunk},
};

struct KernelCase {
  int32_t d_kind, g_kind, reduction;
  Shape shape;
  int32_t dtype = GANLOSS_DTYPE_F32;
  bool fp32_gradients = false;

  std::string name() const {
    return std::string(dtype_name(dtype)) + (fp32_gradients ? "_f32grad_" : "_") +
           kind_name(d_kind) + "_" + kind_name(g_kind) + "_" + reduction_name(reduction) + "_" +
           shape.name;
  }
};

inline void PrintTo(const KernelCase& c, std::ostream* os) {
  *os << c.name();
}

inline ganloss_problem_t problem_of(const KernelCase& c) {
  auto p = make_problem(c.shape.segments, c.shape.real_count, c.shape.fake_count, c.d_kind,
                        c.g_kind, c.reduction);
  p.real_stride = c.shape.real_stride;
  p.fake_stride = c.shape.fake_stride;
  p.dtype = c.dtype;
  p.fp32_gradients = c.fp32_gradients ? 1 : 0;
  p.grad_scale = 0.5f;
  p.params.real_target = 0.9f;
  p.params.margin_fake = 0.75f;
  p.params.ls_gen_label = 0.5f;
  return p;
}

inline std::vector<KernelCase> kernel_cases() {
  std::vector<KernelCase> out;
  const int32_t pairs[][2] = {{GANLOSS_LOSS_NONSATURATING, GANLOSS_LOSS_NONSATURATING},
                              {GANLOSS_LOSS_NONSATURATING, GANLOSS_LOSS_MINIMAX},
                              {GANLOSS_LOSS_HINGE, GANLOSS_LOSS_HINGE},
                              {GANLOSS_LOSS_WASSERSTEIN, GANLOSS_LOSS_WASSERSTEIN},
                              {GANLOSS_LOSS_LEAST_SQUARES, GANLOSS_LOSS_LEAST_SQUARES}};
  for (const Shape& s : kShapes) {
    for (int32_t red : {GANLOSS_REDUCTION_NONE, GANLOSS_REDUCTION_SUM, GANLOSS_REDUCTION_MEAN}) {
      // The logistic pair on every shape and reduction; the others spread over them.
      out.push_back({pairs[0][0], pairs[0][1], red, s});
      const auto& other = pairs[1 + (&s - kShapes + red) % 4];
      out.push_back({other[0], other[1], red, s});
    }
  }
  // Every D x G pairing once.
  for (int32_t d = 0; d < 5; ++d) {
    for (int32_t g = 0; g < 5; ++g) {
      const KernelCase c{d, g, GANLOSS_REDUCTION_MEAN, kShapes[2]};
      const bool seen = std::any_of(out.begin(), out.end(),
                                    [&](const KernelCase& o) { return o.name() == c.name(); });
      if (!seen) out.push_back(c);
    }
  }
  // 16-bit logits, with gradients in their own dtype and in f32, on every shape.
  for (int32_t dtype : {GANLOSS_DTYPE_F16, GANLOSS_DTYPE_BF16}) {
    for (const Shape& s : kShapes) {
      const int32_t red = (&s - kShapes) % 2 ? GANLOSS_REDUCTION_SUM : GANLOSS_REDUCTION_MEAN;
      const auto& other = pairs[1 + (&s - kShapes) % 4];
      out.push_back({pairs[0][0], pairs[0][1], GANLOSS_REDUCTION_MEAN, s, dtype, false});
      out.push_back({other[0], other[1], red, s, dtype, (&s - kShapes) % 3 == 0});
    }
    out.push_back({pairs[2][0], pairs[2][1], GANLOSS_REDUCTION_NONE, kShapes[6], dtype, true});
  }
  return out;
}

}  // namespace testing
}  // namespace ganloss

#endif  // GANLOSS_TESTS_KERNEL_CASES_HPP_
