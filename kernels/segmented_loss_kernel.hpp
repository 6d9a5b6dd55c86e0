// The fused segmented loss kernel body: for every segment, one read of each logit and one write
// of each requested gradient and element loss per pass, and the segment's totals and
// statistics, without a second launch for the reduction. See segmented_loss_plan.hpp for the
// mapping onto warps, blocks and chunks, and segment_math.hpp for the passes.
//
// Device code only through detail/simt.hpp, so that the host emulator can run it; the
// __global__ wrapper and its launch live in segmented_loss_launch.cuh.
#ifndef GANLOSS_KERNELS_SEGMENTED_LOSS_KERNEL_HPP_
#define GANLOSS_KERNELS_SEGMENTED_LOSS_KERNEL_HPP_

#include <cstdint>

#include "detail/fast_math.hpp"
#include "detail/reduce.hpp"
#include "detail/simt.hpp"
#include "detail/vector_io.hpp"
#include "ganloss/losses.hpp"
#include "segment_math.hpp"
#include "segmented_loss_plan.hpp"

namespace ganloss {
namespace detail {
namespace kernel {

using LossSums = Sums<float, kAccumulators>;

// The compile-time description of an instantiation (see Spec in segmented_loss_plan.hpp).
template <uint32_t kSpec>
struct Traits {
  static constexpr Spec spec = decode(kSpec);
  static constexpr Pass pass = spec.pass;
  static constexpr bool paired = spec.paired;
  static constexpr bool average = spec.average;
  static constexpr Family d = spec.d;
  static constexpr bool weighted = spec.weighted;
  static constexpr bool stats = spec.stats;
  static constexpr bool losses = spec.losses;  // element losses may be written
  // Outside the relativistic average the real side has no G term.
  static constexpr bool real_g = average || paired;
  static constexpr Family g = spec.g;
  static constexpr uint32_t active = active_accumulators(spec);  // the sums this pass forms
  static constexpr bool indexed_rows = losses;                   // see Row
};

// Per-element arrays of one side, each at its own element type: logits T, gradients G, weights
// and element losses float; null = absent. The logits are addressed from the row's current
// start. The other arrays either are advanced to it too, or (kIndexed) stay the call's own
// pointers, from element 0, with the start as an index: the kernel's parameters, which the
// element loop reads where it stores instead of holding six advanced pointers in registers
// through it. The loops that write element losses take the second form (indexed_rows):
// their four more arrays made them spill; the others take the first, one instruction less per
// store.
template <class T, class G, bool kIndexed>
struct Row {
  const T* x;
  const float* w;
  G* grad_d;
  G* grad_g;
  float* loss_d;
  float* loss_g;
  int64_t start;  // kIndexed: of x[0] in the other arrays

  // Element i of the row in the arrays other than x.
  GANLOSS_DEVICE int64_t index(uint32_t i) const {
    if constexpr (kIndexed) {
      return start + i;
    } else {
      return i;
    }
  }

  // The same arrays from element `offset` on.
  GANLOSS_DEVICE Row at(int64_t offset) const {
    Row r = *this;
    r.x = x + offset;
    if constexpr (kIndexed) {
      r.start = start + offset;
    } else {
      r.w = w ? w + offset : nullptr;
      r.grad_d = grad_d ? grad_d + offset : nullptr;
      r.grad_g = grad_g ? grad_g + offset : nullptr;
      r.loss_d = loss_d ? loss_d + offset : nullptr;
      r.loss_g = loss_g ? loss_g + offset : nullptr;
    }
    return r;
  }
};

template <class T, class G, bool kIndexed>
GANLOSS_DEVICE Row<T, G, kIndexed> row_at(const SideParams& side, void* grad_d, void* grad_g,
                                          float* loss_d, float* loss_g, int64_t begin) {
  Row<T, G, kIndexed> r;
  r.x = static_cast<const T*>(side.logits);
  r.w = side.weights;
  r.grad_d = static_cast<G*>(grad_d);
  r.grad_g = static_cast<G*>(grad_g);
  r.loss_d = loss_d;
  r.loss_g = loss_g;
  r.start = 0;
  return r.at(begin);
}

// A term as the element loop evaluates it: its constants (TermConstants, kernel parameters, so
// that the loop reads them from the constant bank rather than registers) and its gradient
// coefficients. A logistic term sign [w_pos sp(x) + w_neg sp(-x)] is evaluated without its
// sign, whose value `scale` multiplies the gradient coefficients, the element losses and the
// totals instead: with ap = sign w_pos >= 0, an = sign w_neg >= 0,
//   loss / sign = max(c |x|, 0) + log1p(e),  c = ap if x > 0 else an,  e = exp(-|x|),
//   grad / sign = ap sigma(x) - an sigma(-x),
// (ap + an = (1 - t) + t = 1 for a cross-entropy against target t), where the max turns the
// 0 * inf of a zero weight at an infinite logit into the term's 0 (a NaN logit still gives NaN
// through log1p(e)). The other kinds have scale 1. A slot without terms evaluated as a logistic
// one (ap = an = 0, see Family) has loss log1p(e) and gradient 0, which reach no output.
// The gradient is formed as gp sigma(x) - gn sigma(-x) with gp = ap m, gn = an m where the pass
// multiplies a gradient by the side's coefficient alone (kFolded: a logistic family's main and
// VJP passes outside the relativistic average), m being that coefficient and the product the
// gradient as stored; elsewhere gp = ap and gn = an, the parameters themselves.
struct LoopTerm {
  TermConstants c;
  float gp;
  float gn;
};

template <bool kFolded>
GANLOSS_DEVICE LoopTerm loop_term(const TermConstants& t, double multiplier) {
  LoopTerm l;
  l.c = t;
  if constexpr (kFolded) {
    l.gp = static_cast<float>(static_cast<double>(t.ap) * multiplier);
    l.gn = static_cast<float>(static_cast<double>(t.an) * multiplier);
  } else {
    (void)multiplier;
    l.gp = t.ap;
    l.gn = t.an;
  }
  return l;
}

GANLOSS_DEVICE TermValue logistic_value(const LoopTerm& t, float x, const fast::Logistic& lg) {
  TermValue v;
  const float c = lg.positive ? t.c.ap : t.c.an;
  v.loss = fmaxf(c * fabsf(x), 0.0f) + lg.l;
  v.grad = t.gp * lg.sig_pos - t.gn * lg.sig_neg;
  return v;
}

GANLOSS_DEVICE TermValue cheap_value(const Term& t, float x) {
  switch (t.kind) {
    case TermKind::hinge:
      return hinge_term(t.sign, t.param, x);
    case TermKind::linear:
      return linear_term(t.sign, x);
    case TermKind::squared:
      return squared_term(t.param, x);
    default:
      return TermValue{0.0f, 0.0f};
  }
}

// A term of family F at x: each kind family evaluates its kind without a test; `cheap` by the
// switch, `any` logistic or not.
template <Family F>
GANLOSS_DEVICE TermValue term_value(const LoopTerm& t, float x, const fast::Logistic& lg) {
  if constexpr (F == Family::logistic) {
    return logistic_value(t, x, lg);
  } else if constexpr (F == Family::hinge) {
    return hinge_term(t.c.term.sign, t.c.term.param, x);
  } else if constexpr (F == Family::linear) {
    return linear_term(t.c.term.sign, x);
  } else if constexpr (F == Family::squared) {
    return squared_term(t.c.term.param, x);
  } else if constexpr (F == Family::cheap) {
    return cheap_value(t.c.term, x);
  } else {
    return t.c.term.kind == TermKind::logistic ? logistic_value(t, x, lg)
                                               : cheap_value(t.c.term, x);
  }
}

// The term `loss` at x times a weight w, for an x that is 0 where w is 0 (evaluate_group): the
// product, or for the least-squares term weighted_square, without the overflow of d^2.
template <Family F>
GANLOSS_DEVICE float weighted_term(const LoopTerm& t, float w, float x, float loss) {
  if constexpr (F == Family::logistic || F == Family::hinge || F == Family::linear) {
    (void)t;
    (void)x;
    return w * loss;
  } else if constexpr (F == Family::squared) {
    return weighted_square(w, x - t.c.term.param);
  } else {
    return t.c.term.kind == TermKind::squared ? weighted_square(w, x - t.c.term.param) : w * loss;
  }
}

// Whether a pass's logistic gradients come out of logistic_value already multiplied by the
// side's coefficient (LoopTerm::gp, gn): the logistic family's main and VJP passes outside the
// relativistic average, whose derivative sums need the bare gradients (pairs excepted).
template <class S, Family F>
constexpr bool kFoldedGradients = F == Family::logistic && !S::average && !S::paired &&
                                  (S::pass == Pass::main || S::pass == Pass::vjp);

// Everything a pass needs about one segment of one side.
struct SideContext {
  LoopTerm d;
  LoopTerm g;
  bool logistic;          // a term of the side is logistic
  bool vector_ok;         // 16-byte groups
  float shift;            // relativistic average: the other side's mean
  float coef_d;           // gradient multipliers, with the terms' scales
  float coef_g;           //   (VJP: the cotangents' multipliers)
  float offset_d;         // additive gradient terms (relativistic average)
  float offset_g;         //   (VJP: offset_d holds the combined offset)
  float weight_scale[2];  // see SideScale
  bool has_d;             // VJP: the side has a D term (a cotangent for it), and a G term
  bool has_g;
};

template <class T, class G, int N>
GANLOSS_DEVICE void store_group(G* p, int64_t i, const Vec<G, N>& v) {
  if constexpr (N == 1) {
    store_global(p + i, v.v[0]);
  } else {
    store_vector(p + i, v);
  }
}

template <int N>
GANLOSS_DEVICE void store_floats(float* p, int64_t i, const Vec<float, N>& v) {
  if constexpr (N == 1) {
    store_global(p + i, v.v[0]);
  } else {
    store_vector(p + i, v);
  }
}

// The statistics of one raw logit into the side's accumulators.
GANLOSS_DEVICE void add_statistics(LossSums& acc, int side, float x, float sigma) {
  if (!(x - x == 0.0f)) return;  // NaN or infinite: only counted as non-finite
  acc.v[kSigmoid + side] += sigma;
  acc.v[kCorrect + side] += (side == 0 ? x > 0.0f : x < 0.0f) ? 1.0f : 0.0f;
  if (side == 0) acc.v[kSignReal] += x > 0.0f ? 1.0f : (x < 0.0f ? -1.0f : 0.0f);
  acc.v[kFinite + side] += 1.0f;
}

// N weights from index i, a negative one read as NaN. A weighted mean of negative weights is
// not defined; the host backends refuse such a call before it runs, and the kernel, which
// cannot, makes the losses of the weight's segment NaN this way (its weight sum, its terms and
// the gradients they scale), never a number.
template <int N>
GANLOSS_DEVICE Vec<float, N> load_weight_vector(const float* w, int64_t i) {
  Vec<float, N> out;
  if constexpr (N == 1) {
    out.v[0] = load_global(w + i);
  } else {
    out = load_vector<float, N>(w + i);
  }
  GANLOSS_UNROLL
  for (int j = 0; j < N; ++j)
    out.v[j] = out.v[j] < 0.0f ? __builtin_nanf("") : out.v[j];
  return out;
}

// A weight as the terms use it: (w weight_scale[0]) weight_scale[1], and at least
// kSmallestScaledWeight where w is not 0 (see there and SideScale). The weights are non-negative
// or NaN (load_weight_vector) and the scale factors positive. Such floats order as their bits
// do, as unsigned integers, so the floor is two integer min/max: min(bits(w), 1) is 0 for +0
// and 1 (the bits of 2^-149) for a positive w, and the product's bits are at least that. A NaN
// product (bits above +inf's) stays NaN, and -0 (bits 2^31) stays -0, masked as a zero weight.
// (Two compares and a select, the same rule, made one weighted kernel spill at 64 registers.)
GANLOSS_DEVICE float scaled_weight(float w, const float* weight_scale) {
  static_assert(kSmallestScaledWeight == 0x1p-149f, "bits 1");
  const uint32_t v = bits_from_float((w * weight_scale[0]) * weight_scale[1]);
  const uint32_t floor = bits_from_float(w) < 1u ? bits_from_float(w) : 1u;
  return float_from_bits(v > floor ? v : floor);
}

// The weights of N elements from index i: loaded in weighted instantiations (1 where the side
// has none), constant 1 otherwise.
template <class S, int N>
GANLOSS_DEVICE Vec<float, N> load_weights(const float* w, int64_t i) {
  Vec<float, N> out;
  if constexpr (S::weighted) {
    if (w) return load_weight_vector<N>(w, i);
  }
  GANLOSS_UNROLL
  for (int j = 0; j < N; ++j)
    out.v[j] = 1.0f;
  (void)w;
  (void)i;
  return out;
}

// N consecutive elements of one side (kSide) from index i: evaluated for the pass, stored, and
// added to the running sums in element order. N > 1 only at 16-byte aligned indices of a side
// whose arrays share that alignment.
template <class T, class G, class S, int kSide, int N>
GANLOSS_DEVICE void evaluate_group(const Row<T, G, S::indexed_rows>& r, uint32_t i,
                                   const Vec<T, N>& x, const SideContext& c, LossSums& acc) {
  if constexpr (S::pass == Pass::prepass) {
    Vec<float, N> w;
    if (r.w) {
      w = load_weight_vector<N>(r.w, r.index(i));
    } else {
      GANLOSS_UNROLL
      for (int j = 0; j < N; ++j)
        w.v[j] = 1.0f;
    }
    float xv[N];
    to_floats(x, xv);
    GANLOSS_UNROLL
    for (int j = 0; j < N; ++j) {
      acc.v[kLogitSum + kSide] += xv[j];
      acc.v[kWeightSum + kSide] += w.v[j];
      acc.v[kNonzeroWeights + kSide] += w.v[j] != 0.0f ? 1.0f : 0.0f;
    }
    (void)c;
  } else {
    const Vec<float, N> w = load_weights<S, N>(r.w, r.index(i));
    constexpr bool kHasG = kSide == 1 || S::real_g;
    constexpr bool kLogistic = S::d == Family::logistic || (kHasG && S::g == Family::logistic);
    constexpr bool kMaybeLogistic = kLogistic || S::d == Family::any;
    constexpr bool kFoldD = kFoldedGradients<S, S::d>;
    constexpr bool kFoldG = kFoldedGradients<S, S::g>;
    Vec<G, N> gd, gg;
    Vec<float, N> ld, lg;
    float xv[N];
    to_floats(x, xv);
    GANLOSS_UNROLL
    for (int j = 0; j < N; ++j) {
      const float v = xv[j];
      // An element of weight 0 contributes nothing, even where its term is infinite or NaN:
      // its terms are evaluated at 0 instead, where every term and derivative is finite, so
      // the products with its zero weight below are 0 without a test of their own.
      const float t0 = S::average ? v - c.shift : v;
      const float t = S::weighted && w.v[j] == 0.0f ? 0.0f : t0;
      fast::Logistic parts{};
      if constexpr (kLogistic) {
        parts = fast::logistic(t);
      } else if constexpr (kMaybeLogistic) {
        if (c.logistic) parts = fast::logistic(t);
      }
      const float ws = S::weighted ? scaled_weight(w.v[j], c.weight_scale) : 1.0f;
      const TermValue a = term_value<S::d>(c.d, t, parts);
      const float wa = S::weighted ? ws * a.grad : a.grad;
      TermValue b{0.0f, 0.0f};
      float wb = 0.0f;
      if constexpr (kHasG) {
        b = term_value<S::g>(c.g, t, parts);
        wb = S::weighted ? ws * b.grad : b.grad;
      }
      if constexpr (S::pass == Pass::vjp) {
        const float o = c.has_d ? (kFoldD ? wa : wa * c.coef_d) : 0.0f;
        float u = o;
        if constexpr (kHasG) {
          if (c.has_g) u = kFoldG ? wb + o : wb * c.coef_g + o;
        }
        gd.v[j] = from_float<G>(u + c.offset_d);
      } else if constexpr (S::pass == Pass::gradients) {
        gd.v[j] = from_float<G>(wa * c.coef_d + c.offset_d);
        gg.v[j] = from_float<G>(wb * c.coef_g + c.offset_g);
      } else {
        if constexpr (S::weighted) {
          acc.v[kLossD + kSide] += weighted_term<S::d>(c.d, ws, t, a.loss);
          if constexpr (kHasG) acc.v[kLossG + kSide] += weighted_term<S::g>(c.g, ws, t, b.loss);
        } else {
          acc.v[kLossD + kSide] += a.loss;
          if constexpr (kHasG) acc.v[kLossG + kSide] += b.loss;
        }
        if constexpr (S::average) {
          acc.v[kDerivativeD + kSide] += wa;
          acc.v[kDerivativeG + kSide] += wb;
        }
        gd.v[j] = from_float<G>(kFoldD ? wa : wa * c.coef_d);
        gg.v[j] = from_float<G>(kFoldG ? wb : wb * c.coef_g);
        if constexpr (S::losses) {
          const float ad = S::weighted ? weighted_term<S::d>(c.d, w.v[j], t, a.loss) : a.loss;
          ld.v[j] = ad * c.d.c.scale;
          if constexpr (kHasG) {
            const float bg = S::weighted ? weighted_term<S::g>(c.g, w.v[j], t, b.loss) : b.loss;
            lg.v[j] = bg * c.g.c.scale;
          } else {
            lg.v[j] = 0.0f;
          }
        }
        if constexpr (S::stats) {
          // parts are of t: v itself unless the relativistic average shifts it or a zero
          // weight replaced it
          const bool of_v = !S::average && (!S::weighted || w.v[j] != 0.0f);
          const float sigma = (of_v && c.logistic) ? parts.sig_pos : fast::sigmoid(v);
          add_statistics(acc, kSide, v, sigma);
        }
      }
    }
    if constexpr (S::pass == Pass::vjp) {
      if (r.grad_d) store_group<T, G, N>(r.grad_d, r.index(i), gd);
    } else if constexpr (S::pass == Pass::gradients || !S::average) {
      if (r.grad_d) store_group<T, G, N>(r.grad_d, r.index(i), gd);
      if (r.grad_g) store_group<T, G, N>(r.grad_g, r.index(i), gg);
    }
    if constexpr (S::pass == Pass::main && S::losses) {
      if (r.loss_d) store_floats<N>(r.loss_d, r.index(i), ld);
      if (r.loss_g) store_floats<N>(r.loss_g, r.index(i), lg);
    }
  }
}

// N consecutive pairs from index i (paired relativistic loss): their weights (prepass), or
// d = f - r, the D term sp(d) and the G term sp(-d), their gradients with respect to r (-) and
// f (+) (main and VJP passes).
template <class T, class G, class S, int N>
GANLOSS_DEVICE void evaluate_pair_group(const Row<T, G, S::indexed_rows>& r,
                                        const Row<T, G, S::indexed_rows>& f, uint32_t i,
                                        const Vec<T, N>& x, const Vec<T, N>& y,
                                        const SideContext& c, LossSums& acc) {
  Vec<float, N> w;
  if constexpr (S::pass == Pass::prepass) {
    if (r.w) {
      w = load_weight_vector<N>(r.w, r.index(i));
    } else {
      GANLOSS_UNROLL
      for (int j = 0; j < N; ++j)
        w.v[j] = 1.0f;
    }
    GANLOSS_UNROLL
    for (int j = 0; j < N; ++j) {
      acc.v[kWeightSum] += w.v[j];
      acc.v[kNonzeroWeights] += w.v[j] != 0.0f ? 1.0f : 0.0f;
    }
    (void)f;
    (void)x;
    (void)y;
    (void)c;
  } else {
    w = load_weights<S, N>(r.w, r.index(i));
    Vec<G, N> grd, grg, gfd, gfg;
    Vec<float, N> lrd, lfg, zero;
    float xv[N], yv[N];
    to_floats(x, xv);
    to_floats(y, yv);
    GANLOSS_UNROLL
    for (int j = 0; j < N; ++j) {
      const float rv = xv[j];
      const float fv = yv[j];
      const float d = fv - rv;
      const fast::Logistic parts = fast::logistic(d);
      const TermValue a = logistic_value(c.d, d, parts);
      const TermValue b = logistic_value(c.g, d, parts);
      const float ws = S::weighted ? scaled_weight(w.v[j], c.weight_scale) : 1.0f;
      const float wa = S::weighted ? weighted(ws, a.grad) : a.grad;
      const float wb = S::weighted ? weighted(ws, b.grad) : b.grad;
      if constexpr (S::pass == Pass::vjp) {
        const float o = wa * c.coef_d + wb * c.coef_g;
        grd.v[j] = from_float<G>(-o);
        gfd.v[j] = from_float<G>(o);
      } else {
        lrd.v[j] = weighted(w.v[j], a.loss) * c.d.c.scale;
        lfg.v[j] = weighted(w.v[j], b.loss) * c.g.c.scale;
        zero.v[j] = 0.0f;
        acc.v[kLossD + 0] += S::weighted ? weighted(ws, a.loss) : a.loss;
        acc.v[kLossG + 1] += S::weighted ? weighted(ws, b.loss) : b.loss;
        const float ga = wa * c.coef_d;
        const float gb = wb * c.coef_g;
        grd.v[j] = from_float<G>(-ga);
        grg.v[j] = from_float<G>(-gb);
        gfd.v[j] = from_float<G>(ga);
        gfg.v[j] = from_float<G>(gb);
        if constexpr (S::stats) {
          add_statistics(acc, 0, rv, fast::sigmoid(rv));
          add_statistics(acc, 1, fv, fast::sigmoid(fv));
        }
      }
    }
    if constexpr (S::pass == Pass::vjp) {
      if (r.grad_d) store_group<T, G, N>(r.grad_d, r.index(i), grd);
      if (f.grad_d) store_group<T, G, N>(f.grad_d, f.index(i), gfd);
    } else {
      if (r.grad_d) store_group<T, G, N>(r.grad_d, r.index(i), grd);
      if (r.grad_g) store_group<T, G, N>(r.grad_g, r.index(i), grg);
      if (f.grad_d) store_group<T, G, N>(f.grad_d, f.index(i), gfd);
      if (f.grad_g) store_group<T, G, N>(f.grad_g, f.index(i), gfg);
      if (r.loss_d) store_floats<N>(r.loss_d, r.index(i), lrd);
      if (r.loss_g) store_floats<N>(r.loss_g, r.index(i), zero);
      if (f.loss_d) store_floats<N>(f.loss_d, f.index(i), zero);
      if (f.loss_g) store_floats<N>(f.loss_g, f.index(i), lfg);
    }
  }
}

// A run of at most this many elements is indexed with 32-bit offsets from its start; a row
// longer than that (a ragged segment) is walked in such slices, a multiple of every thread
// count, so that which thread adds which element does not change.
constexpr int64_t kSliceLength = int64_t{1} << 30;

// Bytes of logits in one group of the element loop. 16 (one vector load per group) in the loops
// held to the instruction budget and every other loop that fits in 64 registers so. At 16 bytes
// the loops that write element losses, with two more output vectors per element, and the
// 16-bit loops of the `any` family, with the code of every kind, held more live values than 64
// registers and spilled: they take 8 bytes, and the loops that write element losses with
// statistics, the relativistic average or pairs one logit per group. A warp's accesses stay
// whole 32-byte sectors at every width (its lanes' bytes are contiguous).
template <class T, class S>
constexpr int kGroupBytesFor = S::losses && (S::stats || S::average || S::paired)
                                   ? static_cast<int>(sizeof(T))
                                   : (S::losses || (sizeof(T) < 4 && S::d == Family::any) ? 8 : 16);

// Elements [0, n) of a row (of pairs, when kPaired) from a 16-byte aligned start (when `vector`)
// or any start, shared by `threads` threads of which this is `rank`: groups of kGroupBytesFor
// bytes of logits (kUnroll loads in flight per thread, see kUnrollFor) then a scalar tail, or
// scalar throughout.
template <class T, class G, class S, int kSide, bool kPaired, int kUnroll>
GANLOSS_DEVICE void evaluate_run(const Row<T, G, S::indexed_rows>& r,
                                 const Row<T, G, S::indexed_rows>& f, uint32_t n, bool vector,
                                 const SideContext& c, uint32_t rank, uint32_t threads,
                                 LossSums& acc) {
  constexpr int kWidth = kGroupBytesFor<T, S> / static_cast<int>(sizeof(T));
  auto scalar = [&](uint32_t i) {
    Vec<T, 1> x;
    x.v[0] = r.x[i];
    if constexpr (kPaired) {
      Vec<T, 1> y;
      y.v[0] = f.x[i];
      evaluate_pair_group<T, G, S, 1>(r, f, i, x, y, c, acc);
    } else {
      evaluate_group<T, G, S, kSide, 1>(r, i, x, c, acc);
    }
  };
  uint32_t body = 0;
  if (vector) {
    const uint32_t groups = n / kWidth;
    auto group = [&](uint32_t gu, const Vec<T, kWidth>& x, const Vec<T, kWidth>& y) {
      if constexpr (kPaired) {
        evaluate_pair_group<T, G, S, kWidth>(r, f, gu * kWidth, x, y, c, acc);
      } else {
        (void)y;
        evaluate_group<T, G, S, kSide, kWidth>(r, gu * kWidth, x, c, acc);
      }
    };
    // Rounds of kUnroll groups, all loads first, while every group of the round is in the row;
    // then the remaining group, if any. Either way a thread takes its groups in index
    // order, so the order of its sums does not depend on the unroll.
    uint32_t g = rank;
    const T* xp = r.x + g * kWidth;  // the round's first group, of each row
    const T* yp = f.x + g * kWidth;
    for (; g + (kUnroll - 1) * threads < groups; g += kUnroll * threads) {
      Vec<T, kWidth> x[kUnroll];
      Vec<T, kWidth> y[kPaired ? kUnroll : 1];
      GANLOSS_UNROLL
      for (int u = 0; u < kUnroll; ++u) {
        x[u] = load_vector<T, kWidth>(xp + u * threads * kWidth);
        if constexpr (kPaired) y[u] = load_vector<T, kWidth>(yp + u * threads * kWidth);
      }
      xp += kUnroll * threads * kWidth;
      if constexpr (kPaired) yp += kUnroll * threads * kWidth;
      GANLOSS_UNROLL
      for (int u = 0; u < kUnroll; ++u)
        group(g + u * threads, x[u], y[kPaired ? u : 0]);
    }
    static_assert(kUnroll <= 2, "the rounds leave at most one group for each thread");
    if (kUnroll > 1 && g < groups) {
      Vec<T, kWidth> x = load_vector<T, kWidth>(r.x + g * kWidth);
      Vec<T, kWidth> y;
      if constexpr (kPaired) y = load_vector<T, kWidth>(f.x + g * kWidth);
      group(g, x, y);
    }
    body = groups * kWidth;
  }
  for (uint32_t i = body + rank; i < n; i += threads)
    scalar(i);
}

// Elements [begin, end) of a row (of pairs, when kPaired), shared by `threads` threads of
// which this is `rank`: a scalar head up to 16-byte alignment, then evaluate_run in slices.
// Which thread adds which element, and in which order, depends only on the indices and the
// row's alignment, never on timing.
template <class T, class G, class S, int kSide, bool kPaired, int kUnroll>
GANLOSS_DEVICE void evaluate_range(const Row<T, G, S::indexed_rows>& r,
                                   const Row<T, G, S::indexed_rows>& f, int64_t begin, int64_t end,
                                   const SideContext& c, unsigned rank, unsigned threads,
                                   LossSums& acc) {
  int64_t body = begin;
  if (c.vector_ok) {
    const int64_t head = elements_to_alignment(r.x + begin);
    body = begin + (head < end - begin ? head : end - begin);
    evaluate_run<T, G, S, kSide, kPaired, kUnroll>(r.at(begin), f.at(begin),
                                                   static_cast<uint32_t>(body - begin), false, c,
                                                   rank, threads, acc);
  }
  for (int64_t start = body; start < end; start += kSliceLength) {
    const int64_t n = end - start < kSliceLength ? end - start : kSliceLength;
    evaluate_run<T, G, S, kSide, kPaired, kUnroll>(
        r.at(start), f.at(start), static_cast<uint32_t>(n), c.vector_ok, c, rank, threads, acc);
  }
}

// A segment as one pass sees it.
struct SegmentState {
  Extent extent[2];
  SideScale scale[2];
  AverageCoupling coupling;
  bool valid;
};

GANLOSS_DEVICE SegmentState segment_state(const KernelArgs& k, int64_t s) {
  const CallParams& q = k.call;
  SegmentState st;
  st.extent[0] = segment_extent(q.real, k.real.used, s);
  st.extent[1] = segment_extent(q.fake, k.fake.used, s);
  // A malformed offset anywhere (see offsets_check_body) voids every segment: segments of
  // offsets that are not monotone may overlap, and their gradients would race.
  const bool offsets_ok = k.offsets_flag == nullptr || simt::load_coherent(k.offsets_flag) == 0;
  st.valid = offsets_ok && st.extent[0].valid && st.extent[1].valid &&
             (!k.paired || st.extent[0].size == st.extent[1].size);
  if (!st.valid) st.extent[0].size = st.extent[1].size = 0;
  const double* state = k.state ? k.state + s * kStateFields : nullptr;
  const double* totals = (k.weighted && k.pass != Pass::prepass) ? state : nullptr;
  st.scale[0] = side_scale(q, q.real, 0, st.extent[0].size, totals);
  st.scale[1] = side_scale(q, q.fake, 1, st.extent[1].size, totals);
  if (k.paired) {
    st.scale[1] = st.scale[0];
    st.scale[1].count = static_cast<double>(st.extent[1].size);
  }
  if (k.average && k.pass != Pass::prepass) st.coupling = average_coupling(st.scale, state);
  return st;
}

template <class S>
GANLOSS_DEVICE SideContext side_context(const KernelArgs& k, const SegmentState& st, int64_t s,
                                        int side) {
  const CallParams& q = k.call;
  SideContext c;
  const SideArgs& a = side == 0 ? k.real : k.fake;
  const Term& d = a.d.term;
  const Term& g = a.g.term;
  c.logistic = a.logistic;
  c.vector_ok = a.vector_ok;
  c.weight_scale[0] = st.scale[side].weight_scale[0];
  c.weight_scale[1] = st.scale[side].weight_scale[1];
  c.has_d = d.kind != TermKind::none;
  c.has_g = g.kind != TermKind::none;
  c.shift = 0.0f;
  double offset_d = 0.0, offset_g = 0.0;
  if (k.average && k.pass != Pass::prepass) {
    c.shift = static_cast<float>(st.coupling.shift[side]);
    offset_d = st.coupling.offset_d[side];
    offset_g = st.coupling.offset_g[side];
  }
  // The gradient multipliers, with the terms' scales.
  double coef_d, coef_g;
  if (k.pass == Pass::vjp) {
    const GradientMultipliers m = vjp_multipliers(q, s, st.scale[side], offset_d, offset_g);
    coef_d = m.coef_d;
    coef_g = m.coef_g;
    c.offset_d = static_cast<float>(m.offset);
    c.offset_g = 0.0f;
  } else {
    coef_d = coef_g = st.scale[side].coef;
    c.offset_d = static_cast<float>(offset_d);
    c.offset_g = static_cast<float>(offset_g);
  }
  const float scale_d = a.d.scale;
  const float scale_g = a.g.scale;
  c.coef_d = static_cast<float>(coef_d) * scale_d;
  c.coef_g = static_cast<float>(coef_g) * scale_g;
  c.d = loop_term<kFoldedGradients<S, S::d>>(a.d, coef_d * scale_d);
  c.g = loop_term<kFoldedGradients<S, S::g>>(a.g, coef_g * scale_g);
  return c;
}

// Elements [begin, end) of segment s's virtual row: its real row, then its fake row (or its
// pairs), shared by `threads` threads.
template <class T, class G, class S, int kUnroll>
GANLOSS_DEVICE LossSums evaluate_segment_part(const KernelArgs& k, const SegmentState& st,
                                              int64_t s, int64_t begin, int64_t end, unsigned rank,
                                              unsigned threads) {
  const CallParams& q = k.call;
  LossSums acc = LossSums::zero();
  const Row<T, G, S::indexed_rows> real = row_at<T, G, S::indexed_rows>(
      q.real, q.grad_real, q.grad_real_g, q.loss_real, q.loss_real_g, st.extent[0].begin);
  const Row<T, G, S::indexed_rows> fake = row_at<T, G, S::indexed_rows>(
      q.fake, q.grad_fake_d, q.grad_fake_g, q.loss_fake_d, q.loss_fake_g, st.extent[1].begin);
  if constexpr (S::paired) {
    evaluate_range<T, G, S, 0, true, kUnroll>(real, fake, begin, end, side_context<S>(k, st, s, 0),
                                              rank, threads, acc);
    return acc;
  }
  const int64_t nr = st.extent[0].size;
  if (begin < nr) {
    evaluate_range<T, G, S, 0, false, kUnroll>(real, real, begin, end < nr ? end : nr,
                                               side_context<S>(k, st, s, 0), rank, threads, acc);
  }
  if (end > nr) {
    evaluate_range<T, G, S, 1, false, kUnroll>(fake, fake, begin > nr ? begin - nr : 0, end - nr,
                                               side_context<S>(k, st, s, 1), rank, threads, acc);
  }
  return acc;
}

GANLOSS_DEVICE int64_t segment_length(const KernelArgs& k, const SegmentState& st) {
  return k.paired ? st.extent[0].size : st.extent[0].size + st.extent[1].size;
}

// The factor accumulator j's sum is multiplied by before use: the scale of the term it sums
// (the sign of a logistic term, evaluated without it; see LoopTerm), 1 otherwise.
GANLOSS_DEVICE double accumulator_scale(const KernelArgs& k, int j) {
  if (k.pass != Pass::main || j >= kSigmoid) return 1.0;
  const int side = j & 1;
  const bool d = j == kLossD + side || j == kDerivativeD + side;
  // pairs: the real side's D term and the fake side's G term (k.real.g)
  const SideArgs& a = side == 0 || k.paired ? k.real : k.fake;
  return static_cast<double>(d ? a.d.scale : a.g.scale);
}

// A segment's totals of one pass (any accumulator type): the state for the next pass, and the
// per-segment outputs after the main pass.
// The segment's state is formed again here rather than kept live through the element loop,
// whose registers it would take.
template <class A>
GANLOSS_DEVICE void finish_segment(const KernelArgs& k, int64_t s, const A& totals) {
  // The passes that write the state have one (make_kernel_args), so no null test here: one
  // made at the start of the kernel and held to this point took a register through the loop.
  if (k.pass == Pass::prepass) {
    double* state = k.state + s * kStateFields;
    for (int side = 0; side < 2; ++side) {
      state[kStateLogitSum + side] = static_cast<double>(totals.v[kLogitSum + side]);
      state[kStateWeightSum + side] = static_cast<double>(totals.v[kWeightSum + side]);
      state[kStateNonzero + side] = static_cast<double>(totals.v[kNonzeroWeights + side]);
    }
    return;
  }
  if (k.pass != Pass::main) return;
  const SegmentState st = segment_state(k, s);
  struct Indexed {
    const KernelArgs& k;
    const A& a;
    GANLOSS_DEVICE double operator[](int i) const {
      return static_cast<double>(a.v[i]) * accumulator_scale(k, i);
    }
  };
  const Indexed scaled_totals{k, totals};
  if (k.average) {
    double* state = k.state + s * kStateFields;
    for (int side = 0; side < 2; ++side) {
      state[kStateDerivativeD + side] = scaled_totals[kDerivativeD + side];
      state[kStateDerivativeG + side] = scaled_totals[kDerivativeG + side];
    }
  }
  write_segment_outputs(k.call, s, scaled_totals, st.scale, st.valid);
}

// 16-byte loads in flight per thread in a regime's element loop: two for the f32 loops of one
// side's logits outside the warp regime, one elsewhere, so that every kernel fits in 64
// registers (four 256-thread blocks per SM, half the SM's threads). The pairs, the statistics,
// element losses and the `any` family carry too many live values for two; some of those
// kernels still spill loop invariants (docs/benchmarks.md, "Kernel resources").
// A warp holds a whole segment of at most kWarpMaxLength elements, 64 per lane (kWarpShortLength,
// 8 per lane, unless the call has many segments).
template <class T, class S, Regime R>
constexpr int kUnrollFor = R == Regime::warp || sizeof(T) < 4 || S::paired || S::stats || S::losses
                                   || S::d == Family::any
                               ? 1
                               : 2;

// The segment of warp group `unit` that this warp holds, if there is one.
template <class T, class G, class S>
GANLOSS_DEVICE void warp_unit(const KernelArgs& k, int64_t unit, unsigned lane, unsigned warp) {
  constexpr int kUnroll = kUnrollFor<T, S, Regime::warp>;
  const int64_t s = unit * kWarpsPerBlock + warp;
  if (s >= k.call.segments) return;  // the whole warp skips together
  const SegmentState st = segment_state(k, s);
  [[maybe_unused]] LossSums acc = evaluate_segment_part<T, G, S, kUnroll>(
      k, st, s, 0, segment_length(k, st), lane, simt::kWarpSize);
  if constexpr (S::active != 0) {  // gradient and VJP passes: nothing to sum
    acc = warp_sum<S::active>(acc);
    if (lane == 0) finish_segment(k, s, acc);
  }
}

template <class T, class G, class S>
GANLOSS_DEVICE void warp_regime(const KernelArgs& k) {
  for (int64_t unit = simt::block_index(); unit < k.units; unit += simt::grid_size()) {
    // Formed for each unit rather than held through the loop (three instructions a unit): held,
    // the warp's index took a register through the element loop and spilled in the fullest
    // kernels.
    const unsigned lane = simt::lane_index();
    // Uniform across the warp, and known to be: the segment's constants take uniform registers.
    const unsigned warp = simt::warp_uniform(simt::warp_index());
    warp_unit<T, G, S>(k, unit, lane, warp);
  }
}

// Segment s, held by the whole block.
template <class T, class G, class S>
GANLOSS_DEVICE void block_unit(const KernelArgs& k, int64_t s, unsigned tid) {
  constexpr int kUnroll = kUnrollFor<T, S, Regime::block>;
  const SegmentState st = segment_state(k, s);
  [[maybe_unused]] LossSums acc =
      evaluate_segment_part<T, G, S, kUnroll>(k, st, s, 0, segment_length(k, st), tid, kThreads);
  if constexpr (S::active != 0) {
    acc = block_sum<kThreads, S::active>(acc);
    if (tid == 0) finish_segment(k, s, acc);
  }
}

template <class T, class G, class S>
GANLOSS_DEVICE void block_regime(const KernelArgs& k) {
  const unsigned tid = simt::thread_index();
  for (int64_t s = simt::block_index(); s < k.call.segments; s += simt::grid_size()) {
    block_unit<T, G, S>(k, s, tid);
  }
}

// A segment's totals as finish_segment reads them (`v[j]`), from shared memory.
struct SharedTotals {
  simt::SharedArray<double, kAccumulators>& v;
};

template <class T, class G, class S>
GANLOSS_DEVICE void chunk_regime(const KernelArgs& k) {
  constexpr int kUnroll = kUnrollFor<T, S, Regime::chunk>;
  const unsigned tid = simt::thread_index();
  GANLOSS_SHARED simt::SharedArray<int, 1> last_block;
  GANLOSS_SHARED simt::SharedArray<double, kAccumulators> totals;  // the last block's lane 0
  for (int64_t unit = simt::block_index(); unit < k.units; unit += simt::grid_size()) {
    const int64_t s = unit / k.chunks;
    const int64_t chunk = unit - s * k.chunks;
    const int64_t begin = chunk * k.chunk_length;
    const int64_t end = begin + k.chunk_length < k.length ? begin + k.chunk_length : k.length;
    const SegmentState st = segment_state(k, s);
    [[maybe_unused]] LossSums acc =
        evaluate_segment_part<T, G, S, kUnroll>(k, st, s, begin, end, tid, kThreads);
    if constexpr (S::active != 0) {
      acc = block_sum<kThreads, S::active>(acc);
      if (tid == 0) {
        // Segment s's partials, accumulator-major: accumulator j of its chunks side by side,
        // so that the last block's warp reads them coalesced.
        float* partials = k.partials + s * k.chunks * kAccumulators + chunk;
        GANLOSS_UNROLL
        for (int j = 0; j < kAccumulators; ++j) {
          if (S::active & (1u << j)) partials[j * k.chunks] = acc.v[j];
        }
        simt::thread_fence();  // the partials are visible before the ticket is
        const unsigned arrived = simt::atomic_add(&k.tickets[s], 1u);
        const bool last = arrived + 1 == static_cast<unsigned>(k.chunks);
        if (last) simt::atomic_exchange(&k.tickets[s], 0u);  // ready for the next pass or call
        last_block[0] = last ? 1 : 0;
      }
      simt::sync_block();
      if (last_block[0] != 0) {
        simt::thread_fence();
        // Warp 0 adds the chunks' partials in double, one accumulator at a time (each lane its
        // chunks in index order, then the butterfly): no barrier, one double sum live. Lane 0
        // keeps the totals in shared memory, not in up to 32 registers through finish_segment.
        if (simt::warp_index() == 0) {
          const unsigned lane = simt::lane_index();
          const float* partials = k.partials + s * k.chunks * kAccumulators;
          GANLOSS_UNROLL
          for (int j = 0; j < kAccumulators; ++j) {
            if (!(S::active & (1u << j))) continue;
            Sums<double, 1> t = Sums<double, 1>::zero();
            for (int64_t c = lane; c < k.chunks; c += simt::kWarpSize) {
              t.v[0] += static_cast<double>(simt::load_coherent(partials + j * k.chunks + c));
            }
            t = warp_sum<1u>(t);
            if (lane == 0) totals[j] = t.v[0];
          }
          if (lane == 0) finish_segment(k, s, SharedTotals{totals});
        }
      }
    }
  }
}

// The offsets check of a ragged call, one block launched before its passes: writes 1 to the
// flag if any offset of a side the call reads is outside [0, count], decreases, or (paired) if
// a segment's real and fake lengths differ, and 0 otherwise, so the flag needs no zeroing.
GANLOSS_DEVICE void offsets_check_body(const KernelArgs& k) {
  const CallParams& q = k.call;
  const unsigned tid = simt::thread_index();
  Sums<float, 1> bad = Sums<float, 1>::zero();
  for (int64_t s = tid; s <= q.segments; s += kThreads) {
    bool b = false;
    for (int side = 0; side < 2; ++side) {
      const SideParams& sp = side == 0 ? q.real : q.fake;
      const bool used = side == 0 ? k.real.used : k.fake.used;
      if (!used || sp.offsets == nullptr) continue;
      const int64_t a = sp.offsets[s];
      b |= a < 0 || a > sp.count;
      if (s < q.segments) b |= sp.offsets[s + 1] < a;
    }
    if (k.paired && s < q.segments) {
      b |= q.real.offsets[s + 1] - q.real.offsets[s] != q.fake.offsets[s + 1] - q.fake.offsets[s];
    }
    if (b) bad.v[0] = 1.0f;
  }
  bad = block_sum<kThreads, 1u>(bad);
  if (tid == 0) *k.offsets_flag = bad.v[0] != 0.0f ? 1u : 0u;
}

// The kernel body of instantiation kSpec (k.spec) in regime R (k.regime) for logits of type T
// and gradients of type G: every block of the launch runs it with kThreads threads. The CUDA
// build compiles one kernel per instantiation and regime, each with only its own loop.
template <class T, class G, uint32_t kSpec, Regime R>
GANLOSS_DEVICE void segmented_loss_regime_body(const KernelArgs& k) {
  using S = Traits<kSpec>;
  if constexpr (R == Regime::warp) {
    warp_regime<T, G, S>(k);
  } else if constexpr (R == Regime::block) {
    block_regime<T, G, S>(k);
  } else {
    chunk_regime<T, G, S>(k);
  }
}

// The passes of a fused sequence, decoded at compile time (a third equal to the second when
// the sequence has two).
template <uint64_t kSequence>
struct SequenceTraits {
  static constexpr int count = sequence_count(kSequence);
  static constexpr uint32_t first = sequence_pass(kSequence, 0);
  static constexpr uint32_t second = sequence_pass(kSequence, 1);
  static constexpr uint32_t third = count == 3 ? sequence_pass(kSequence, 2) : second;
};

// Every pass of a fused sequence (see sequence_code) in one launch, regime R (warp or block):
// for each unit, its passes in order with a block barrier between them, which makes the state
// a pass's finish_segment wrote visible to the next pass's threads. Every thread of the block
// reaches each barrier: a warp without a segment skips its passes, not the barriers.
template <class T, class G, uint64_t kSequence, Regime R>
GANLOSS_DEVICE void sequence_body(const LaunchSequence& q) {
  static_assert(R != Regime::chunk, "a chunked segment spans blocks: one launch per pass");
  using Q = SequenceTraits<kSequence>;
  constexpr int kCount = Q::count;
  using S0 = Traits<Q::first>;
  using S1 = Traits<Q::second>;
  using S2 = Traits<Q::third>;
  auto pass = [](auto traits, const KernelArgs& k, int64_t unit) {
    using S = decltype(traits);
    if constexpr (R == Regime::warp) {
      warp_unit<T, G, S>(k, unit, simt::lane_index(), simt::warp_uniform(simt::warp_index()));
    } else {
      block_unit<T, G, S>(k, unit, simt::thread_index());
    }
  };
  for (int64_t unit = simt::block_index(); unit < q.args[0].units; unit += simt::grid_size()) {
    pass(S0{}, q.args[0], unit);
    simt::sync_block();
    pass(S1{}, q.args[1], unit);
    if constexpr (kCount == 3) {
      simt::sync_block();
      pass(S2{}, q.args[2], unit);
    }
  }
}

template <class T, class G, uint64_t kSequence>
GANLOSS_DEVICE void sequence_body(const LaunchSequence& q) {
  if (q.args[0].regime == Regime::warp) {
    sequence_body<T, G, kSequence, Regime::warp>(q);
  } else {
    sequence_body<T, G, kSequence, Regime::block>(q);
  }
}

// The same, the regime read from k.regime (the host emulator).
template <class T, class G, uint32_t kSpec>
GANLOSS_DEVICE void segmented_loss_body(const KernelArgs& k) {
  switch (k.regime) {
    case Regime::warp:
      segmented_loss_regime_body<T, G, kSpec, Regime::warp>(k);
      break;
    case Regime::block:
      segmented_loss_regime_body<T, G, kSpec, Regime::block>(k);
      break;
    default:
      segmented_loss_regime_body<T, G, kSpec, Regime::chunk>(k);
  }
}

}  // namespace kernel
}  // namespace detail
}  // namespace ganloss

#endif  // GANLOSS_KERNELS_SEGMENTED_LOSS_KERNEL_HPP_
