// Body of cpu_pieces_<isa>.cpp: included once per instruction set with GANLOSS_CPU_ISA naming
// the namespace. See cpu_pieces.hpp.
#include <algorithm>
#include <array>
#include <utility>

#include "cpu_pieces.hpp"
#include "host_dtype.hpp"

namespace ganloss {
namespace detail {
namespace cpu {
namespace GANLOSS_CPU_ISA {
namespace {

constexpr int kTile = 256;  // elements evaluated into stack buffers at a time
constexpr int kLanes = 8;   // independent accumulators per sum, added pairwise at the end

// `n` elements of type `type` from element `base` of `x`, as floats.
void load_tile(const void* x, DType type, int64_t base, int n, float* out) {
  switch (type) {
    case DType::f16: {
      const uint16_t* h = static_cast<const uint16_t*>(x) + base;
      for (int j = 0; j < n; ++j)
        out[j] = half_to_float(h[j]);
      break;
    }
    case DType::bf16: {
      const uint16_t* h = static_cast<const uint16_t*>(x) + base;
      for (int j = 0; j < n; ++j)
        out[j] = bfloat16_to_float(h[j]);
      break;
    }
    default:
      std::copy(static_cast<const float*>(x) + base, static_cast<const float*>(x) + base + n, out);
  }
}

// `n` floats stored as `type` at element `base` of `y`, rounded to nearest even.
void store_tile(const float* in, int n, DType type, void* y, int64_t base) {
  switch (type) {
    case DType::f16: {
      uint16_t* h = static_cast<uint16_t*>(y) + base;
      for (int j = 0; j < n; ++j)
        h[j] = float_to_half(in[j]);
      break;
    }
    case DType::bf16: {
      uint16_t* h = static_cast<uint16_t*>(y) + base;
      for (int j = 0; j < n; ++j)
        h[j] = float_to_bfloat16(in[j]);
      break;
    }
    default:
      std::copy(in, in + n, static_cast<float*>(y) + base);
  }
}

double lanes_sum(const double* a) {
  static_assert(kLanes == 8, "lanes_sum adds eight lanes");
  return ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
}

template <TermKind KD, TermKind KG>
void evaluate_piece(const Piece& p, const Term& term_d, const Term& term_g, float coef) {
  constexpr bool kD = KD != TermKind::none;
  constexpr bool kG = KG != TermKind::none;
  constexpr bool kLogistic = KD == TermKind::logistic || KG == TermKind::logistic;
  const Term td = term_d;  // locals, so that the compiler sees them loop-invariant
  const Term tg = term_g;
  alignas(64) float xs[kTile], ld[kTile], lg[kTile], gd[kTile], gg[kTile];
  double acc_d[kLanes] = {};
  double acc_g[kLanes] = {};
  for (int64_t base = 0; base < p.n; base += kTile) {
    const int len = static_cast<int>(std::min<int64_t>(kTile, p.n - base));
    load_tile(p.x, p.x_type, base, len, xs);
    for (int j = 0; j < len; ++j) {
      const float v = xs[j];
      math::Logistic parts{};
      if constexpr (kLogistic) parts = math::logistic(v);
      if constexpr (kD) {
        const TermValue t = evaluate_term<KD>(td, v, parts);
        ld[j] = t.loss;
        gd[j] = t.grad * coef;
      }
      if constexpr (kG) {
        const TermValue t = evaluate_term<KG>(tg, v, parts);
        lg[j] = t.loss;
        gg[j] = t.grad * coef;
      }
    }
    // Zero padding to whole lanes leaves the sums unchanged.
    const int padded = (len + kLanes - 1) / kLanes * kLanes;
    if constexpr (kD) {
      if (p.grad_d) store_tile(gd, len, p.grad_type, p.grad_d, base);
      if (p.loss_d) std::copy(ld, ld + len, p.loss_d + base);
      std::fill(ld + len, ld + padded, 0.0f);
      for (int j = 0; j < padded; j += kLanes) {
        for (int k = 0; k < kLanes; ++k)
          acc_d[k] += ld[j + k];
      }
    }
    if constexpr (kG) {
      if (p.grad_g) store_tile(gg, len, p.grad_type, p.grad_g, base);
      if (p.loss_g) std::copy(lg, lg + len, p.loss_g + base);
      std::fill(lg + len, lg + padded, 0.0f);
      for (int j = 0; j < padded; j += kLanes) {
        for (int k = 0; k < kLanes; ++k)
          acc_g[k] += lg[j + k];
      }
    }
  }
  p.sums[0] = kD ? lanes_sum(acc_d) : 0.0;
  if (kG) p.sums[1] = lanes_sum(acc_g);
}

constexpr TermKind kKinds[] = {TermKind::none, TermKind::logistic, TermKind::hinge,
                               TermKind::linear, TermKind::squared};
constexpr int kKindCount = 5;

template <std::size_t... I>
constexpr std::array<PieceFn, sizeof...(I)> piece_table(std::index_sequence<I...>) {
  return {{&evaluate_piece<kKinds[I / kKindCount], kKinds[I % kKindCount]>...}};
}

}  // namespace

// The one place where the runtime term kinds become template parameters.
PieceFn select_piece(TermKind d, TermKind g) {
  static constexpr auto table = piece_table(std::make_index_sequence<kKindCount * kKindCount>{});
  return table[static_cast<int>(d) * kKindCount + static_cast<int>(g)];
}

}  // namespace GANLOSS_CPU_ISA
}  // namespace cpu
}  // namespace detail
}  // namespace ganloss
