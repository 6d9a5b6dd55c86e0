// Body of cpu_pieces_<isa>.cpp: included once per instruction set with GANLOSS_CPU_ISA naming
// the namespace. See cpu_pieces.hpp.
#include <algorithm>
#include <array>
#include <type_traits>
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

// out[j] = scale * in[j] + offset, formed in double (the product is exact there, so a
// product past FLT_MAX meets the offset before it rounds), rounded to fp32 and stored as
// `type`. Without an offset, fp32 gives the same bits: one rounding of the exact product.
template <class T>
void store_gradients(const T* in, int n, float scale, float offset, float* scratch, DType type,
                     void* y, int64_t base) {
  if (y == nullptr) return;
  if constexpr (std::is_same_v<T, float>) {
    if (offset == 0.0f) {
      for (int j = 0; j < n; ++j)
        scratch[j] = in[j] * scale + 0.0f;  // + 0: -0 becomes +0, as with an offset
      store_tile(scratch, n, type, y, base);
      return;
    }
  }
  const double a = scale;
  const double b = offset;
  for (int j = 0; j < n; ++j)
    scratch[j] = static_cast<float>(static_cast<double>(in[j]) * a + b);
  store_tile(scratch, n, type, y, base);
}

void store_losses(const float* in, int n, float* y, int64_t base) {
  if (y != nullptr) std::copy(in, in + n, y + base);
}

void store_zeros(int n, float* scratch, DType type, void* y, int64_t base) {
  if (y == nullptr) return;
  std::fill(scratch, scratch + n, 0.0f);
  store_tile(scratch, n, type, y, base);
}

// Adds v[0..padded) (float or double) to the lanes of one accumulator (padded: a multiple of
// kLanes, zeros past the data), in a fixed order.
template <class T>
void accumulate(double* lanes, const T* v, int padded) {
  for (int j = 0; j < padded; j += kLanes) {
    for (int k = 0; k < kLanes; ++k)
      lanes[k] += v[j + k];
  }
}

// Zeros v[len..padded), then accumulate.
template <class T>
void accumulate_padded(double* lanes, T* v, int len, int padded) {
  std::fill(v + len, v + padded, T{0});
  accumulate(lanes, v, padded);
}

// What a total adds for a term of kind K with value `loss` at argument x under weight w: the
// product w * loss formed in double, exact and so never past fp32's range where the weighted
// term is not (a term near FLT_MAX under a weight above 1, in a sum whose other terms cancel it
// or a mean by count); 0 for a zero weight, whatever the term. A least-squares term is formed
// from its argument, (x - label)^2 / 2 exactly in double, as its fp32 value may be +inf.
template <TermKind K>
double total_term(const Term& term, float w, float x, float loss) {
  if constexpr (K == TermKind::none) {
    return 0.0;
  } else if constexpr (K == TermKind::squared) {
    const double d = static_cast<double>(x - term.param);
    return w != 0.0f ? static_cast<double>(w) * (0.5 * d * d) : 0.0;
  } else {
    (void)x;
    return w != 0.0f ? static_cast<double>(w) * static_cast<double>(loss) : 0.0;
  }
}

double lanes_sum(const double* a) {
  static_assert(kLanes == 8, "lanes_sum adds eight lanes");
  return ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
}

// Statistics of one side's raw logits: sigma over finite x, the "correct" count (x > 0 for
// real, x < 0 for fake), sign (real only), and the finite count.
void tile_statistics(const float* x, int len, int padded, int side, double (*acc)[kLanes],
                     float* sig, float* correct, float* sign, float* finite) {
  for (int j = 0; j < len; ++j) {
    const float v = x[j];
    const float ok = (v - v) == 0.0f ? 1.0f : 0.0f;  // 0 for NaN and +-inf
    const float safe = ok != 0.0f ? v : 0.0f;
    sig[j] = ok * math::logistic(safe).sig_pos;
    correct[j] = ok * ((side == 0 ? v > 0.0f : v < 0.0f) ? 1.0f : 0.0f);
    sign[j] = ok * ((v > 0.0f ? 1.0f : 0.0f) - (v < 0.0f ? 1.0f : 0.0f));
    finite[j] = ok;
  }
  for (float* a : {sig, correct, sign, finite})
    std::fill(a + len, a + padded, 0.0f);
  accumulate(acc[kSigmoid + side], sig, padded);
  accumulate(acc[kCorrect + side], correct, padded);
  if (side == 0) accumulate(acc[kSignReal], sign, padded);
  accumulate(acc[kFinite + side], finite, padded);
}

template <TermKind KD, TermKind KG>
void evaluate_piece(const Piece& p, const Term& term_d, const Term& term_g) {
  constexpr bool kD = KD != TermKind::none;
  constexpr bool kG = KG != TermKind::none;
  constexpr bool kLogistic = KD == TermKind::logistic || KG == TermKind::logistic;
  const Term td = term_d;  // locals, so that the compiler sees them loop-invariant
  const Term tg = term_g;
  const float shift = p.shift;
  alignas(64) float xs[kTile], ys[kTile], ts[kTile], ws[kTile], scratch[kTile];
  alignas(64) float ld[kTile], lg[kTile], gd[kTile], gg[kTile];
  // The weighted terms a total adds and the weighted derivatives, in double: the product of a
  // weight and a term (or derivative) is exact there, so it never passes fp32's range where
  // the total or the gradient it enters does not (a term near FLT_MAX under a weight above 1).
  // Unweighted calls add the fp32 terms and scale the fp32 derivatives (adding an offset in
  // double, see store_gradients), where nothing overflows that the result does not, except a
  // least-squares term (x - a)^2 / 2, which the totals form in double from its argument.
  alignas(64) double sd[kTile], sg[kTile], wgd[kTile], wgg[kTile];
  const bool double_d = p.w != nullptr || KD == TermKind::squared;
  const bool double_g = p.w != nullptr || KG == TermKind::squared;
  alignas(64) float s0[kTile], s1[kTile], s2[kTile], s3[kTile];
  double acc[kAccumulators][kLanes] = {};
  const int side = p.paired ? 0 : p.side;
  const float scale0 = p.weight_scale[0];
  const float scale1 = p.weight_scale[1];

  for (int64_t base = 0; base < p.n; base += kTile) {
    const int len = static_cast<int>(std::min<int64_t>(kTile, p.n - base));
    // Zero padding to whole lanes leaves every sum unchanged.
    const int padded = (len + kLanes - 1) / kLanes * kLanes;
    load_tile(p.x, p.x_type, base, len, xs);
    if (p.w) std::copy(p.w + base, p.w + base + len, ws);

    if (p.pass == Pass::prepass) {
      std::fill(xs + len, xs + padded, 0.0f);
      accumulate(acc[kLogitSum + side], xs, padded);
      if (p.w) {
        std::fill(ws + len, ws + padded, 0.0f);
        for (int j = 0; j < padded; ++j)
          scratch[j] = ws[j] != 0.0f ? 1.0f : 0.0f;
        accumulate(acc[kWeightSum + side], ws, padded);
        accumulate(acc[kNonzeroWeights + side], scratch, padded);
      }
      continue;
    }

    // The argument of the terms: x, x - shift, or f - r for pairs.
    if (p.paired) {
      load_tile(p.y, p.x_type, base, len, ys);
      for (int j = 0; j < len; ++j)
        ts[j] = ys[j] - xs[j];
    } else {
      for (int j = 0; j < len; ++j)
        ts[j] = xs[j] - shift;
    }
    for (int j = 0; j < len; ++j) {
      const float v = ts[j];
      math::Logistic parts{};
      if constexpr (kLogistic) parts = math::logistic(v);
      if constexpr (kD) {
        const TermValue t = evaluate_term<KD>(td, v, parts);
        ld[j] = t.loss;
        gd[j] = t.grad;
      } else {
        ld[j] = 0.0f;
        gd[j] = 0.0f;
      }
      if constexpr (kG) {
        const TermValue t = evaluate_term<KG>(tg, v, parts);
        lg[j] = t.loss;
        gg[j] = t.grad;
      } else {
        lg[j] = 0.0f;
        gg[j] = 0.0f;
      }
    }
    // What the totals add (main pass): the terms times the scaled weights (see SideScale), in
    // double. Element losses keep the weights as given.
    if (p.pass == Pass::main && (double_d || double_g)) {
      for (int j = 0; j < len; ++j) {
        const float v = p.w ? (ws[j] * scale0) * scale1 : 1.0f;
        sd[j] = total_term<KD>(td, v, ts[j], ld[j]);
        sg[j] = total_term<KG>(tg, v, ts[j], lg[j]);
      }
    }
    if (p.w) {
      for (int j = 0; j < len; ++j) {
        const float w = ws[j];
        const float v = (w * scale0) * scale1;
        ld[j] = weighted_loss<KD>(td, w, ts[j], ld[j]);
        lg[j] = weighted_loss<KG>(tg, w, ts[j], lg[j]);
        wgd[j] = v != 0.0f ? static_cast<double>(v) * gd[j] : 0.0;
        wgg[j] = v != 0.0f ? static_cast<double>(v) * gg[j] : 0.0;
      }
    }
    // The D (g false) or G derivatives times `scale` plus `offset`, stored at y.
    auto store = [&](bool g, float scale, float offset, void* y) {
      if (p.w) {
        store_gradients(g ? wgg : wgd, len, scale, offset, scratch, p.grad_type, y, base);
      } else {
        store_gradients(g ? gg : gd, len, scale, offset, scratch, p.grad_type, y, base);
      }
    };
    // The D (g false) or G terms, or their derivatives, into accumulator k: from the double
    // values where they were formed (`exact`), else from the fp32 ones.
    auto add = [&](bool exact, double* dv, float* fv, int k) {
      if (exact) {
        accumulate_padded(acc[k], dv, len, padded);
      } else {
        accumulate_padded(acc[k], fv, len, padded);
      }
    };
    auto add_terms = [&](bool g, int k) {
      add(g ? double_g : double_d, g ? sg : sd, g ? lg : ld, k);
    };
    auto add_derivatives = [&](bool g, int k) {
      add(p.w != nullptr, g ? wgg : wgd, g ? gg : gd, k);
    };

    if (p.pass == Pass::gradients) {
      store(false, p.coef, p.offset_d, p.out.grad_d);
      store(true, p.coef, p.offset_g, p.out.grad_g);
      continue;
    }

    // Main pass: sums, element losses, and (unless relativistic average) gradients.
    if (p.paired) {
      // d = f - r: the D term is the real side's, the G term the fake side's.
      add_terms(false, kLossD + 0);
      add_terms(true, kLossG + 1);
      store(false, -p.coef, 0.0f, p.out.grad_d);
      store(true, -p.coef, 0.0f, p.out.grad_g);
      store(false, p.coef, 0.0f, p.out_y.grad_d);
      store(true, p.coef, 0.0f, p.out_y.grad_g);
      store_losses(ld, len, p.out.loss_d, base);
      store_losses(lg, len, p.out_y.loss_g, base);
      if (p.out.loss_g) std::fill(p.out.loss_g + base, p.out.loss_g + base + len, 0.0f);
      if (p.out_y.loss_d) std::fill(p.out_y.loss_d + base, p.out_y.loss_d + base + len, 0.0f);
    } else {
      add_terms(false, kLossD + side);
      add_terms(true, kLossG + side);
      if (p.average) {
        add_derivatives(false, kDerivativeD + side);
        add_derivatives(true, kDerivativeG + side);
      } else {
        store(false, p.coef, 0.0f, p.out.grad_d);
        if (kG) {
          store(true, p.coef, 0.0f, p.out.grad_g);
        } else {
          store_zeros(len, scratch, p.grad_type, p.out.grad_g, base);
        }
      }
      store_losses(ld, len, p.out.loss_d, base);
      store_losses(lg, len, p.out.loss_g, base);
    }
    if (p.stats) {
      tile_statistics(xs, len, padded, side, acc, s0, s1, s2, s3);
      if (p.paired) tile_statistics(ys, len, padded, 1, acc, s0, s1, s2, s3);
    }
  }
  for (int k = 0; k < kAccumulators; ++k)
    p.sums[k] += lanes_sum(acc[k]);
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
