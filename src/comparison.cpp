// Output-by-output comparison with the reference; see comparison.hpp.
//
// The bounds, per element (u = 2^-24, the fp32 roundoff; tolerance.hpp has the constants):
// - A term of an exact logit is a short chain of correctly rounded fp32 operations: a few u
//   relative. Two kinds of term take a computed argument, which is itself inexact by delta:
//   f - r for the paired relativistic loss (delta = u |f - r|) and x - mean for the
//   relativistic average (delta = u (2|x~| + 2|mean| + (depth + 8) mean|x|): the rounding of
//   the subtraction and of the mean, whose sum went through `depth` fp32 additions). The term
//   then moves by up to |slope| delta and its gradient by up to |coef| curvature delta, where
//   the curvature bound is |slope| for the logistic terms (sigma' <= sigma), the weight for
//   least squares, and for hinge a whole step when the argument is within 2 delta of the kink.
//   There a hinge's slope may be either of its two (0 or the weight), so its loss moves by up
//   to max(|slope|, |w|) delta.
// - The relativistic average adds to each gradient a term through the other side's mean,
//   computed from a sum of that side's slopes: its error is bounded the same way.
// - Weighted means divide by a weight sum that went through `depth` fp32 additions. The
//   backends scale a side's weights by the power of two that brings their sum into [0.5, 1)
//   (SideScale): a weight below 2^-126 of its side's sum then keeps 2^-149 of that scaled sum
//   as its resolution, as w / sum(w) computed in fp32 would: the scaled weight may be off by
//   2^-148 (two roundings), so its gradient by up to 2^-147 |grad_scale l'| (the scaled sum is
//   at least 1/2) and the side's totals by up to 2^-147 |l|.
// - Totals add the terms with the accumulation bound of tolerance.hpp and the argument
//   perturbations of the terms; statistics are means of values in [-1, 1] and exact counts.
// - A term in fp32's subnormal range (a logistic term of an argument below about -87) is off
//   by a few units of the subnormal spacing (kFloor) before its weight multiplies that error:
//   the element loss w l and the totals get kFloor |w| more.
#include "comparison.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <string>

#include "host_dtype.hpp"
#include "tolerance.hpp"

namespace ganloss {
namespace detail {
namespace {

constexpr double kU = 0x1p-24;
constexpr double kFloor = 4 * 0x1p-149;

double load_value(const void* base, int32_t dtype, int64_t index) {
  switch (dtype) {
    case GANLOSS_DTYPE_F16:
      return half_to_float(static_cast<const uint16_t*>(base)[index]);
    case GANLOSS_DTYPE_BF16:
      return bfloat16_to_float(static_cast<const uint16_t*>(base)[index]);
    default:
      return static_cast<const float*>(base)[index];
  }
}

// One side of the problem, as the comparison walks it.
struct SideView {
  const void* logits;
  const float* weights;
  const int64_t* offsets;
  int64_t count;
  int64_t stride;

  int64_t begin(int64_t s) const { return offsets ? offsets[s] : s * stride; }
  int64_t size(int64_t s) const {
    if (logits == nullptr) return 0;
    return offsets ? offsets[s + 1] - offsets[s] : count;
  }
  double weight(int64_t k) const { return weights ? static_cast<double>(weights[k]) : 1.0; }
};

SideView side_view(const ganloss_problem_t& p, const void* logits, const float* weights,
                   const int64_t* offsets, int64_t count, int64_t stride) {
  const bool ragged = p.ragged == 1;
  const int64_t effective = (stride == 0 || p.segments == 1) ? count : stride;
  return SideView{logits, weights, ragged ? offsets : nullptr, count, ragged ? 0 : effective};
}

class Recorder {
 public:
  explicit Recorder(Comparison* c) : c_(c) {}

  void note(double* worst, double ratio, const char* name, int64_t s, int64_t k, double got,
            double want) {
    // A NaN ratio (a bound that is NaN) fails: no bound may pass a value by not being one.
    if (std::isnan(ratio)) ratio = std::numeric_limits<double>::infinity();
    *worst = std::max(*worst, ratio);
    if (ratio <= 1.0 || !c_->first_failure.empty()) return;
    char text[200];
    if (k >= 0) {
      std::snprintf(text, sizeof text, "%s[%lld] (segment %lld) = %.9g, reference %.17g", name,
                    static_cast<long long>(k), static_cast<long long>(s), got, want);
    } else {
      std::snprintf(text, sizeof text, "%s[%lld] = %.9g, reference %.17g", name,
                    static_cast<long long>(s), got, want);
    }
    c_->first_failure = text;
  }

 private:
  Comparison* c_;
};

enum class Shape { plain, paired, average };

// Curvature bound of a term (see the file comment), and whether its argument sits within
// 2 delta of a hinge kink.
struct TermShape {
  int32_t kind;  // the problem's loss kind
  double kink;   // hinge kink of this term's argument
  bool logistic;
  bool squared;
  bool hinge;
  double direction;  // a logistic term is sp(direction * argument)
  bool fast;         // a logistic term, of any kind (the hardware math's argument error)

  // |slope| over the whole perturbation interval [x - delta, x + delta]. A logistic term's
  // slope w sigma(+-x) can grow by a factor e^delta across it, so where delta is not small
  // (the mean of a side whose logits cancel in fp32) the slope at x alone is no bound: sigma
  // is monotone, and its value at the far end is.
  double slope_bound(double slope, double argument, double delta, double weight) const {
    // A hinge's slope is 0 or the weight: within 2 delta of its kink, either.
    if (near_kink(argument, delta)) return std::max(std::fabs(slope), std::fabs(weight));
    if (!logistic || delta == 0.0) return std::fabs(slope);
    const double y = direction * argument + delta;
    const double sigma = y >= 0 ? 1.0 / (1.0 + std::exp(-y)) : std::exp(y) / (1.0 + std::exp(y));
    return std::max(std::fabs(slope), std::fabs(weight) * sigma);
  }
  // Curvature over the interval, from slope_bound (sigma' <= sigma).
  double curvature(double slope_max, double weight) const {
    if (logistic) return slope_max;
    if (squared) return std::fabs(weight);
    return 0.0;
  }
  bool near_kink(double argument, double delta) const {
    return hinge && std::fabs(argument - kink) <= 2 * delta;
  }
};

TermShape term_shape(const ganloss_problem_t& p, int side, bool d) {
  TermShape t{p.d_loss, 0.0, false, false, false, 0.0, false};
  const int32_t kind = d ? p.d_loss : p.g_loss;
  t.fast = kind == GANLOSS_LOSS_NONSATURATING || kind == GANLOSS_LOSS_MINIMAX ||
           kind == GANLOSS_LOSS_RELATIVISTIC || kind == GANLOSS_LOSS_RELATIVISTIC_AVERAGE;
  switch (p.d_loss) {
    case GANLOSS_LOSS_RELATIVISTIC:
      // D sp(f - r), G sp(r - f)
      t.logistic = true;
      t.direction = d ? 1.0 : -1.0;
      break;
    case GANLOSS_LOSS_RELATIVISTIC_AVERAGE:
      // real D sp(-x), real G sp(x), fake D sp(x), fake G sp(-x)
      t.logistic = true;
      t.direction = (side == 0) == d ? -1.0 : 1.0;
      break;
    case GANLOSS_LOSS_RELATIVISTIC_AVERAGE_LEAST_SQUARES:
      t.squared = true;
      break;
    case GANLOSS_LOSS_RELATIVISTIC_AVERAGE_HINGE:
      t.hinge = true;
      // real D relu(m_r - x), real G relu(m_f + x), fake D relu(m_f + x), fake G relu(m_r - x)
      t.kink = (side == 0) == d ? p.params.margin_real : -p.params.margin_fake;
      break;
    default:
      break;
  }
  return t;
}

}  // namespace

double Comparison::worst() const {
  return std::max(std::max(gradients, element_losses), std::max(totals, statistics));
}

void Comparison::merge(const Comparison& other) {
  gradients = std::max(gradients, other.gradients);
  element_losses = std::max(element_losses, other.element_losses);
  totals = std::max(totals, other.totals);
  statistics = std::max(statistics, other.statistics);
  if (first_failure.empty()) first_failure = other.first_failure;
}

namespace {

// compare_with_reference, and with `vjp` the gradients of a VJP call in place of `got`'s.
Comparison compare_impl(const ganloss_problem_t& p, const ganloss_inputs_t& in,
                        const reference::Result& ref, const ganloss_outputs_t& got,
                        const VjpGradients* vjp, const ErrorModel& model, GradientBounds* bounds) {
  const int depth = model.depth;
  const double ulps = model.element_ulps;
  const double arg_ulps = model.argument_ulps;
  Comparison c;
  Recorder rec(&c);
  const SideView sides[2] = {
      side_view(p, in.real, in.real_weights, in.real_offsets, p.real_count, p.real_stride),
      side_view(p, in.fake, in.fake_weights, in.fake_offsets, p.fake_count, p.fake_stride)};
  const Shape shape = p.d_loss == GANLOSS_LOSS_RELATIVISTIC           ? Shape::paired
                      : p.d_loss >= GANLOSS_LOSS_RELATIVISTIC_AVERAGE ? Shape::average
                                                                      : Shape::plain;
  const int32_t grad_dtype = p.fp32_gradients ? GANLOSS_DTYPE_F32 : p.dtype;
  const double grad_roundoff = unit_roundoff(static_cast<DType>(grad_dtype));
  const bool weighted_mean =
      (in.real_weights || in.fake_weights) &&
      (p.reduction == GANLOSS_REDUCTION_MEAN || p.reduction == GANLOSS_REDUCTION_MEAN_NONZERO);

  // Per-element outputs of each side: D and G gradients and losses, with the reference's.
  struct Outputs {
    const void* grad[2];
    const float* loss[2];
    const std::vector<double>* ref_grad[2];
    const std::vector<double>* ref_loss[2];
    const std::vector<double>* slope[2];
    const char* grad_name[2];
    const char* loss_name[2];
  };
  const Outputs outs[2] = {{{got.grad_real, got.grad_real_g},
                            {got.loss_real, got.loss_real_g},
                            {&ref.grad_real, &ref.grad_real_g},
                            {&ref.loss_real, &ref.loss_real_g},
                            {&ref.slope_real_d, &ref.slope_real_g},
                            {"grad_real", "grad_real_g"},
                            {"loss_real", "loss_real_g"}},
                           {{got.grad_fake_d, got.grad_fake_g},
                            {got.loss_fake_d, got.loss_fake_g},
                            {&ref.grad_fake_d, &ref.grad_fake_g},
                            {&ref.loss_fake_d, &ref.loss_fake_g},
                            {&ref.slope_fake_d, &ref.slope_fake_g},
                            {"grad_fake_d", "grad_fake_g"},
                            {"loss_fake_d", "loss_fake_g"}}};

  std::vector<double>* bound_of[2][2] = {};
  if (bounds) {
    const std::size_t nr = ref.grad_real.size(), nf = ref.grad_fake_d.size();
    bounds->grad_real.assign(nr, 0.0);
    bounds->grad_real_g.assign(nr, 0.0);
    bounds->grad_fake_d.assign(nf, 0.0);
    bounds->grad_fake_g.assign(nf, 0.0);
    bound_of[0][0] = &bounds->grad_real;
    bound_of[0][1] = &bounds->grad_real_g;
    bound_of[1][0] = &bounds->grad_fake_d;
    bound_of[1][1] = &bounds->grad_fake_g;
  }

  for (int64_t s = 0; s < p.segments; ++s) {
    const reference::SegmentTotals& t = ref.segments[static_cast<std::size_t>(s)];
    const int64_t n[2] = {sides[0].size(s), sides[1].size(s)};
    int depth_s = depth;
    if (p.ragged == 1 && model.ragged_rows) depth_s += static_cast<int>((n[0] + n[1] + 31) / 32);
    const double eta = weighted_mean ? (depth_s + 8) * kU : 0.0;

    // The argument perturbation of element i of a side. A non-finite argument has none: an
    // infinite one is that of an infinite logit or mean, the same infinity in the backend, and a
    // NaN one gives NaN terms, or none under a zero weight.
    auto delta = [&](int side, int64_t i, double* argument) {
      const SideView& sv = sides[side];
      const double x = load_value(sv.logits, p.dtype, sv.begin(s) + i);
      double d = 0.0;
      switch (shape) {
        case Shape::paired: {
          const double r = load_value(sides[0].logits, p.dtype, sides[0].begin(s) + i);
          const double f = load_value(sides[1].logits, p.dtype, sides[1].begin(s) + i);
          *argument = f - r;
          d = kU * std::fabs(*argument);
          break;
        }
        case Shape::average: {
          const int other = 1 - side;
          *argument = x - t.mean[other];
          d = kU * (2 * std::fabs(*argument) + 2 * std::fabs(t.mean[other]) +
                    (depth_s + 8) * t.mean_abs[other]);
          break;
        }
        default:
          *argument = x;
      }
      return std::isfinite(*argument) ? d : 0.0;
    };

    // The slope of term `term` at element i of a side; a pair's terms belong to both sides.
    auto slope_of = [&](int side, int term, int64_t i) {
      if (shape == Shape::paired) {
        return term == 0 ? ref.slope_real_d[static_cast<std::size_t>(sides[0].begin(s) + i)]
                         : ref.slope_fake_g[static_cast<std::size_t>(sides[1].begin(s) + i)];
      }
      return (*outs[side].slope[term])[static_cast<std::size_t>(sides[side].begin(s) + i)];
    };

    // The weight of the terms of element i of a side (a pair's is the real weight).
    auto term_weight = [&](int side, int64_t i) {
      const int owner = shape == Shape::paired ? 0 : side;
      return sides[owner].weight(sides[owner].begin(s) + i);
    };

    // The same for the term itself, unweighted (|w l| / |w|; 0 for a zero weight).
    auto term_of = [&](int side, int term, int64_t i) {
      const int owner = shape == Shape::paired ? term : side;
      const int64_t k = sides[owner].begin(s) + i;
      const double w = term_weight(side, i);
      const std::vector<double>& loss = *outs[owner].ref_loss[term];
      return w != 0.0 ? std::fabs(loss[static_cast<std::size_t>(k)] / w) : 0.0;
    };

    // Per side and term: sum |slope| (for the accumulated sums through the means), the
    // argument perturbations of the terms, in loss (|slope| delta) and gradient (curvature
    // delta, a whole step near a kink) units, and for a weighted mean the sum of |term|, whose
    // weights' resolution (2^-148 of the scaled sum, see above) bounds the totals' error by
    // 2^-147 sum |term|.
    double slope_sum[2][2] = {}, loss_perturbation[2][2] = {}, grad_perturbation[2][2] = {};
    double resolution[2][2] = {};
    // A logistic term's hardware math (arg_ulps, see ErrorModel) at argument a: relative
    // arg_ulps |a| u more on the term and its slope.
    auto arg_error = [&](const TermShape& ts, double argument) {
      return ts.fast && std::isfinite(argument) ? arg_ulps * std::fabs(argument) * kU : 0.0;
    };
    double slope_arg[2][2] = {};
    for (int side = 0; side < 2; ++side) {
      for (int64_t i = 0; i < n[side]; ++i) {
        double argument = 0;
        const double d = delta(side, i, &argument);
        const int64_t k = sides[side].begin(s) + i;
        const double w = sides[side].weight(k);
        for (int term = 0; term < 2; ++term) {
          if (p.reduction == GANLOSS_REDUCTION_MEAN && weighted_mean) {
            resolution[side][term] += 0x1p-147 * term_of(side, term, i);
          }
          const double slope = slope_of(side, term, i);
          if (!std::isfinite(slope)) continue;
          const TermShape ts = term_shape(p, side, term == 0);
          const double tw = term_weight(side, i);
          const double slope_max = ts.slope_bound(slope, argument, d, tw);
          slope_sum[side][term] += std::fabs(slope);
          slope_arg[side][term] += arg_error(ts, argument) * std::fabs(slope);
          loss_perturbation[side][term] +=
              slope_max * d + kFloor * std::fabs(tw) +
              arg_error(ts, argument) * std::fabs(tw) * term_of(side, term, i);
          grad_perturbation[side][term] +=
              ts.curvature(slope_max, w) * d + (ts.near_kink(argument, d) ? std::fabs(w) : 0.0);
        }
      }
    }

    for (int side = 0; side < 2; ++side) {
      const int other = 1 - side;
      for (int64_t i = 0; i < n[side]; ++i) {
        double argument = 0;
        const double d = delta(side, i, &argument);
        const int64_t k = sides[side].begin(s) + i;
        const double w = sides[side].weight(k);
        // A VJP gradient's parts: per term, the reference gradient and the absolute error bound
        // of the compute call's gradient (before storage), and |coef * slope| + |offset|.
        double vjp_want[2] = {0, 0}, vjp_abs[2] = {0, 0}, vjp_magnitude[2] = {0, 0};
        for (int term = 0; term < 2; ++term) {
          const double slope = slope_of(side, term, i);
          const TermShape ts = term_shape(p, side, term == 0);
          const double tw = term_weight(side, i);
          const double slope_max =
              std::isfinite(slope) ? ts.slope_bound(slope, argument, d, tw) : std::fabs(slope);
          if (outs[side].loss[term]) {
            const double want = (*outs[side].ref_loss[term])[static_cast<std::size_t>(k)];
            const double value = outs[side].loss[term][k];
            const Tolerance tol{ulps * kU + kU + arg_error(ts, argument),
                                slope_max * d + kFloor * (1 + std::fabs(tw)), DType::f32};
            rec.note(&c.element_losses, tol.ratio(value, want), outs[side].loss_name[term], s, k,
                     value, want);
          }
          if (outs[side].grad[term] || (vjp && vjp->grad[side])) {
            const double want = (*outs[side].ref_grad[term])[static_cast<std::size_t>(k)];
            const double coef = std::fabs(t.coef[side]);
            double abs = (ulps * kU + arg_error(ts, argument)) * coef * std::fabs(w) +
                         coef * ts.curvature(slope_max, w) * d +
                         (ts.near_kink(argument, d) ? coef * std::fabs(w) : 0.0);
            if (p.reduction == GANLOSS_REDUCTION_MEAN && weighted_mean && w != 0.0) {
              abs += 0x1p-147 * std::fabs(static_cast<double>(p.grad_scale) * slope / w);
            }
            if (shape == Shape::average && n[side] > 0) {
              const double offset = term == 0 ? t.offset_d[side] : t.offset_g[side];
              abs += (2 * kU + eta) * std::fabs(offset) +
                     std::fabs(t.coef[other]) / static_cast<double>(n[side]) *
                         ((depth_s + ulps) * kU * slope_sum[other][term] + slope_arg[other][term] +
                          grad_perturbation[other][term]);
            }
            if (vjp) {
              const double offset =
                  shape == Shape::average ? (term == 0 ? t.offset_d[side] : t.offset_g[side]) : 0.0;
              vjp_want[term] = want;
              vjp_abs[term] = abs + (arg_error(ts, argument) + eta) * std::fabs(want);
              vjp_magnitude[term] = coef * std::fabs(slope) + std::fabs(offset);
              continue;
            }
            const double value = load_value(outs[side].grad[term], grad_dtype, k);
            const Tolerance tol{ulps * kU + arg_error(ts, argument) + grad_roundoff + eta,
                                abs + 4 * subnormal_spacing(static_cast<DType>(grad_dtype)),
                                static_cast<DType>(grad_dtype)};
            rec.note(&c.gradients, tol.ratio(value, want), outs[side].grad_name[term], s, k, value,
                     want);
            if (bounds) (*bound_of[side][term])[static_cast<std::size_t>(k)] = tol.bound(want);
          }
        }
        if (vjp && vjp->grad[side]) {
          // u_d grad_D + u_g grad_G, a null cotangent's term left out; each part's error scales
          // with its cotangent (vjp_gradient_tolerance for the combination itself).
          double want = 0, magnitude = 0, abs = 0;
          for (int term = 0; term < 2; ++term) {
            const float* u = term == 0 ? vjp->cotangent_d : vjp->cotangent_g;
            if (u == nullptr) continue;
            const double us = u[s];
            want += us * vjp_want[term];
            magnitude += std::fabs(us) * vjp_magnitude[term];
            abs += std::fabs(us) * vjp_abs[term];
          }
          Tolerance tol = vjp_gradient_tolerance(static_cast<DType>(grad_dtype), magnitude);
          // vjp_gradient_tolerance counts kElementUlps per element evaluation; a backend whose
          // math is less accurate (the CUDA kernel's hardware approximations) adds the rest.
          tol.abs += abs + std::max(0.0, ulps - kElementUlps) * kU * magnitude;
          const double value = load_value(vjp->grad[side], grad_dtype, k);
          rec.note(&c.gradients, tol.ratio(value, want), side == 0 ? "grad_real" : "grad_fake", s,
                   k, value, want);
        }
      }
    }

    // Totals: the model's, with this segment's depth.
    ErrorModel total_model = model;
    total_model.depth = depth_s;
    auto total = [&](const float* out, double want, double abs_total, double perturbation,
                     const char* name) {
      if (out == nullptr) return;
      Tolerance tol = total_tolerance(abs_total, total_model);
      tol.rel += eta;
      tol.abs += perturbation;
      rec.note(&c.totals, tol.ratio(out[s], want), name, s, -1, out[s], want);
    };
    const double pert_real_d = loss_perturbation[0][0] * t.inv_norm[0];
    const double pert_fake_d = loss_perturbation[1][0] * t.inv_norm[1];
    const double pert_g =
        loss_perturbation[0][1] * t.inv_norm[0] + loss_perturbation[1][1] * t.inv_norm[1];
    const double res_real_d = resolution[0][0];
    const double res_fake_d = resolution[1][0];
    const double res_g = resolution[0][1] + resolution[1][1];
    total(got.d_loss, t.d_loss, t.abs_real + t.abs_fake_d,
          pert_real_d + pert_fake_d + res_real_d + res_fake_d, "d_loss");
    total(got.d_loss_real, t.d_loss_real, t.abs_real, pert_real_d + res_real_d, "d_loss_real");
    total(got.d_loss_fake, t.d_loss_fake, t.abs_fake_d, pert_fake_d + res_fake_d, "d_loss_fake");
    total(got.g_loss, t.g_loss, t.abs_g, pert_g + res_g, "g_loss");

    // Statistics: means of values in [-1, 1] summed in fp32, and exact counts.
    if (got.stats) {
      const ganloss_segment_stats_t& st = got.stats[s];
      const Tolerance mean_tol{0.0, (depth_s + ulps + 2) * kU, DType::f32};
      const Tolerance count_tol{2 * kU, 0.0, DType::f32};
      rec.note(&c.statistics, mean_tol.ratio(st.mean_sigmoid_real, t.mean_sigmoid_real),
               "stats.mean_sigmoid_real", s, -1, st.mean_sigmoid_real, t.mean_sigmoid_real);
      rec.note(&c.statistics, mean_tol.ratio(st.mean_sigmoid_fake, t.mean_sigmoid_fake),
               "stats.mean_sigmoid_fake", s, -1, st.mean_sigmoid_fake, t.mean_sigmoid_fake);
      rec.note(&c.statistics, count_tol.ratio(st.frac_real_positive, t.frac_real_positive),
               "stats.frac_real_positive", s, -1, st.frac_real_positive, t.frac_real_positive);
      rec.note(&c.statistics, count_tol.ratio(st.frac_fake_negative, t.frac_fake_negative),
               "stats.frac_fake_negative", s, -1, st.frac_fake_negative, t.frac_fake_negative);
      rec.note(&c.statistics, count_tol.ratio(st.mean_sign_real, t.mean_sign_real),
               "stats.mean_sign_real", s, -1, st.mean_sign_real, t.mean_sign_real);
      const double inf = std::numeric_limits<double>::infinity();
      rec.note(&c.statistics, st.nonfinite_real == t.nonfinite_real ? 0.0 : inf,
               "stats.nonfinite_real", s, -1, static_cast<double>(st.nonfinite_real),
               static_cast<double>(t.nonfinite_real));
      rec.note(&c.statistics, st.nonfinite_fake == t.nonfinite_fake ? 0.0 : inf,
               "stats.nonfinite_fake", s, -1, static_cast<double>(st.nonfinite_fake),
               static_cast<double>(t.nonfinite_fake));
    }
  }
  return c;
}

}  // namespace

Comparison compare_with_reference(const ganloss_problem_t& p, const ganloss_inputs_t& in,
                                  const reference::Result& ref, const ganloss_outputs_t& got,
                                  const ErrorModel& model, GradientBounds* bounds) {
  return compare_impl(p, in, ref, got, nullptr, model, bounds);
}

Comparison compare_vjp_with_reference(const ganloss_problem_t& p, const ganloss_inputs_t& in,
                                      const reference::Result& ref, const VjpGradients& got,
                                      const ErrorModel& model) {
  ganloss_outputs_t none;
  ganloss_outputs_init(&none);
  return compare_impl(p, in, ref, none, &got, model, nullptr);
}

}  // namespace detail
}  // namespace ganloss
