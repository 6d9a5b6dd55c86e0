// Reference backend: the loss definitions of docs/losses.md evaluated term by term in double.
// Every segment is walked up to three times: weight totals and means, the sums the relativistic
// average gradients need, then every term with its gradient.
#include "reference.hpp"

#include <cmath>
#include <cstring>
#include <limits>

#include "host_dtype.hpp"

namespace ganloss {
namespace reference {
namespace {

struct Value {
  double loss;
  double grad;
};

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

double softplus(double x) {
  return x > 0 ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x));
}

double sigmoid(double x) {
  if (x >= 0) return 1.0 / (1.0 + std::exp(-x));
  const double e = std::exp(x);
  return e / (1.0 + e);
}

// Cross-entropy of logit x against target t: t*sp(-x) + (1-t)*sp(x), derivative
// (1-t)*sigmoid(x) - t*sigmoid(-x). A zero weight drops its term entirely (no 0 * inf).
Value cross_entropy(double x, double t) {
  Value v{0.0, 0.0};
  if (t != 0) {
    v.loss += t * softplus(-x);
    v.grad -= t * sigmoid(-x);
  }
  if (t != 1) {
    v.loss += (1 - t) * softplus(x);
    v.grad += (1 - t) * sigmoid(x);
  }
  return v;
}

// max(0, v) as a function of x with dv/dx = dvdx; NaN in, NaN out; 0 gradient at the kink.
Value relu(double v, double dvdx) {
  if (std::isnan(v)) return Value{kNaN, kNaN};
  if (v > 0) return Value{v, dvdx};
  return Value{0.0, 0.0};
}

Value linear(double x, double slope) {
  if (std::isnan(x)) return Value{kNaN, kNaN};
  return Value{slope * x, slope};
}

Value half_square(double x, double label) {
  return Value{0.5 * (x - label) * (x - label), x - label};
}

// The terms of the non-relativistic kinds, from their loss kinds and parameters.
struct Terms {
  int32_t d_kind;
  int32_t g_kind;
  ganloss_loss_params_t p;

  Value real_d(double r) const {
    switch (d_kind) {
      case GANLOSS_LOSS_HINGE:
        return relu(p.margin_real - r, -1.0);
      case GANLOSS_LOSS_WASSERSTEIN:
        return linear(r, -1.0);
      case GANLOSS_LOSS_LEAST_SQUARES:
        return half_square(r, p.ls_real_label);
      default:
        return cross_entropy(r, p.real_target);
    }
  }

  Value fake_d(double f) const {
    switch (d_kind) {
      case GANLOSS_LOSS_HINGE:
        return relu(p.margin_fake + f, 1.0);
      case GANLOSS_LOSS_WASSERSTEIN:
        return linear(f, 1.0);
      case GANLOSS_LOSS_LEAST_SQUARES:
        return half_square(f, p.ls_fake_label);
      default:
        return cross_entropy(f, p.fake_target);
    }
  }

  Value fake_g(double f) const {
    switch (g_kind) {
      case GANLOSS_LOSS_MINIMAX: {
        const Value v = cross_entropy(f, 0.0);
        return Value{-v.loss, -v.grad};
      }
      case GANLOSS_LOSS_HINGE:
      case GANLOSS_LOSS_WASSERSTEIN:
        return linear(f, -1.0);
      case GANLOSS_LOSS_LEAST_SQUARES:
        return half_square(f, p.ls_gen_label);
      default:
        return cross_entropy(f, 1.0);
    }
  }
};

// Neumaier's compensated sum.
class Sum {
 public:
  void add(double x) {
    const double t = sum_ + x;
    if (std::fabs(sum_) >= std::fabs(x)) {
      comp_ += (sum_ - t) + x;
    } else {
      comp_ += (x - t) + sum_;
    }
    sum_ = t;
  }
  // Non-finite sums skip the compensation, which would turn inf into NaN.
  double value() const { return std::isfinite(sum_) ? sum_ + comp_ : sum_; }

 private:
  double sum_ = 0;
  double comp_ = 0;
};

// IEEE binary16 from its fields.
double decode_half(uint16_t h) {
  const int exponent = (h >> 10) & 0x1f;
  const int mantissa = h & 0x3ff;
  const double sign = (h & 0x8000) ? -1.0 : 1.0;
  if (exponent == 0x1f) return mantissa ? kNaN : sign * std::numeric_limits<double>::infinity();
  if (exponent == 0) return sign * std::ldexp(mantissa, -24);
  return sign * std::ldexp(1024 + mantissa, exponent - 25);
}

// bfloat16 is the top half of a binary32.
double decode_bfloat16(uint16_t h) {
  const uint32_t bits = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

double load(const void* base, int32_t dtype, int64_t index) {
  switch (dtype) {
    case GANLOSS_DTYPE_F16:
      return decode_half(static_cast<const uint16_t*>(base)[index]);
    case GANLOSS_DTYPE_BF16:
      return decode_bfloat16(static_cast<const uint16_t*>(base)[index]);
    default:
      return static_cast<const float*>(base)[index];
  }
}

// Relativistic average terms: of r~ = r - mean(f) on the real side, f~ = f - mean(r) on the
// fake side.
struct AverageTerms {
  int32_t kind;
  ganloss_loss_params_t p;

  Value real_d(double x) const {
    switch (kind) {
      case GANLOSS_LOSS_RELATIVISTIC_AVERAGE_HINGE:
        return relu(p.margin_real - x, -1.0);
      case GANLOSS_LOSS_RELATIVISTIC_AVERAGE_LEAST_SQUARES:
        return half_square(x, 1.0);
      default:
        return cross_entropy(x, 1.0);  // sp(-x)
    }
  }
  Value fake_d(double x) const {
    switch (kind) {
      case GANLOSS_LOSS_RELATIVISTIC_AVERAGE_HINGE:
        return relu(p.margin_fake + x, 1.0);
      case GANLOSS_LOSS_RELATIVISTIC_AVERAGE_LEAST_SQUARES:
        return half_square(x, -1.0);
      default:
        return cross_entropy(x, 0.0);  // sp(x)
    }
  }
  Value real_g(double x) const {
    switch (kind) {
      case GANLOSS_LOSS_RELATIVISTIC_AVERAGE_HINGE:
        return relu(p.margin_fake + x, 1.0);
      case GANLOSS_LOSS_RELATIVISTIC_AVERAGE_LEAST_SQUARES:
        return half_square(x, -1.0);
      default:
        return cross_entropy(x, 0.0);
    }
  }
  Value fake_g(double x) const {
    switch (kind) {
      case GANLOSS_LOSS_RELATIVISTIC_AVERAGE_HINGE:
        return relu(p.margin_real - x, -1.0);
      case GANLOSS_LOSS_RELATIVISTIC_AVERAGE_LEAST_SQUARES:
        return half_square(x, 1.0);
      default:
        return cross_entropy(x, 1.0);
    }
  }
};

// One side of the problem as the reference walks it.
struct Side {
  const void* x;
  const float* w;
  const int64_t* offsets;
  int64_t count;
  int64_t stride;
  int64_t segments;
  int32_t dtype;

  int64_t begin(int64_t s) const { return offsets ? offsets[s] : s * stride; }
  int64_t size(int64_t s) const {
    return x == nullptr ? 0 : offsets ? offsets[s + 1] - offsets[s] : count;
  }
  int64_t extent() const {
    if (x == nullptr) return 0;
    return offsets ? count : (count == 0 ? 0 : (segments - 1) * stride + count);
  }
  double logit(int64_t index) const { return load(x, dtype, index); }
  double weight(int64_t index) const { return w ? static_cast<double>(w[index]) : 1.0; }
};

Side side_of(const ganloss_problem_t& p, const void* x, const float* w, const int64_t* offsets,
             int64_t count, int64_t stride) {
  const bool ragged = p.ragged == 1;
  const int64_t effective = (stride == 0 || p.segments == 1) ? count : stride;
  return Side{x, w, ragged ? offsets : nullptr, count, ragged ? 0 : effective, p.segments, p.dtype};
}

// The divisor of a side's totals in one segment (0: totals and gradients are 0).
double normaliser(int32_t reduction, const Side& side, int64_t s) {
  const int64_t n = side.size(s);
  if (reduction != GANLOSS_REDUCTION_MEAN && reduction != GANLOSS_REDUCTION_MEAN_NONZERO) {
    return 1.0;
  }
  if (side.w == nullptr) return static_cast<double>(n);
  Sum total;
  int64_t nonzero = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double w = side.weight(side.begin(s) + i);
    total.add(w);
    nonzero += w != 0.0;
  }
  if (reduction == GANLOSS_REDUCTION_MEAN_NONZERO) return static_cast<double>(nonzero);
  // A weight sum beyond fp32's range is outside the contract: NaN, as on every backend.
  const double sum = total.value();
  return sum <= static_cast<double>(std::numeric_limits<float>::max()) ? sum : std::nan("");
}

double reciprocal(double norm) {
  return norm != 0.0 ? 1.0 / norm : 0.0;
}

// The term of an element of weight w: an element of weight 0 contributes nothing, whatever
// its term (no 0 * inf).
Value masked(double w, Value v) {
  return w != 0.0 ? v : Value{0.0, 0.0};
}

// The argument of a relativistic term, f - r or x - mean, is an fp32 number on every backend
// (docs/numerics.md): exact here, except that beyond fp32's range it is the infinity it rounds
// to (from 2^128 - 2^103, halfway between FLT_MAX and 2^128, up), and the term is that of an
// infinite argument.
double fp32_argument(double a) {
  constexpr double kOverflow = 0x1.ffffffp127;
  if (a >= kOverflow) return std::numeric_limits<double>::infinity();
  if (a <= -kOverflow) return -std::numeric_limits<double>::infinity();
  return a;
}

// What one segment produces for one element: the weighted terms, the scaled gradients, and
// the weighted derivatives of the terms with respect to their argument.
struct Element {
  double loss_d = 0, loss_g = 0, grad_d = 0, grad_g = 0, slope_d = 0, slope_g = 0;
};

// Walks segment s: emit_real(index, Element) and emit_fake(index, Element) for every element,
// and returns the segment's totals.
template <class EmitReal, class EmitFake>
SegmentTotals walk_segment(const ganloss_problem_t& p, const Side& real, const Side& fake,
                           int64_t s, EmitReal&& emit_real, EmitFake&& emit_fake) {
  const double scale = p.grad_scale;
  const int64_t nr = real.size(s);
  const int64_t nf = fake.size(s);
  const double ar = reciprocal(normaliser(p.reduction, real, s));
  SegmentTotals t;
  // The means and the statistics read the logits before the terms do: emit_real and emit_fake
  // may write a gradient over its own logits (an in-place call).
  for (int side = 0; side < 2; ++side) {
    const Side& sd = side == 0 ? real : fake;
    const int64_t n = sd.size(s);
    Sum total, magnitude;
    for (int64_t i = 0; i < n; ++i) {
      const double x = sd.logit(sd.begin(s) + i);
      total.add(x);
      magnitude.add(std::fabs(x));
    }
    t.mean[side] = n ? total.value() / static_cast<double>(n) : 0.0;
    t.mean_abs[side] = n ? magnitude.value() / static_cast<double>(n) : 0.0;
  }

  // Statistics over the finite logits, unweighted.
  auto finite_mean = [](double sum, int64_t n) { return n ? sum / static_cast<double>(n) : 0.0; };
  Sum sig_r, sig_f, sign_r;
  int64_t finite_r = 0, finite_f = 0, positive = 0, negative = 0;
  for (int64_t i = 0; i < nr; ++i) {
    const double r = real.logit(real.begin(s) + i);
    if (!std::isfinite(r)) continue;
    ++finite_r;
    sig_r.add(sigmoid(r));
    positive += r > 0;
    sign_r.add(r > 0 ? 1.0 : r < 0 ? -1.0 : 0.0);
  }
  for (int64_t j = 0; j < nf; ++j) {
    const double f = fake.logit(fake.begin(s) + j);
    if (!std::isfinite(f)) continue;
    ++finite_f;
    sig_f.add(sigmoid(f));
    negative += f < 0;
  }
  t.mean_sigmoid_real = finite_mean(sig_r.value(), finite_r);
  t.mean_sigmoid_fake = finite_mean(sig_f.value(), finite_f);
  t.frac_real_positive = finite_mean(static_cast<double>(positive), finite_r);
  t.frac_fake_negative = finite_mean(static_cast<double>(negative), finite_f);
  t.mean_sign_real = finite_mean(sign_r.value(), finite_r);
  t.nonfinite_real = nr - finite_r;
  t.nonfinite_fake = nf - finite_f;

  Sum d_real, d_fake, g, abs_real, abs_fake, abs_g;
  if (p.d_loss == GANLOSS_LOSS_RELATIVISTIC) {
    // Pairs (r_i, f_i), weighted by the real weights: D sp(d), G sp(-d), d = f - r.
    for (int64_t i = 0; i < nr && i < nf; ++i) {
      const double w = real.weight(real.begin(s) + i);
      const double d = fp32_argument(fake.logit(fake.begin(s) + i) - real.logit(real.begin(s) + i));
      const Value vd = masked(w, cross_entropy(d, 0.0));
      const Value vg = masked(w, cross_entropy(d, 1.0));
      d_real.add(w * vd.loss);
      abs_real.add(std::fabs(w * vd.loss));
      g.add(w * vg.loss);
      abs_g.add(std::fabs(w * vg.loss));
      // dd/dr = -1, dd/df = 1.
      emit_real(real.begin(s) + i, Element{w * vd.loss, 0.0, -scale * ar * w * vd.grad,
                                           -scale * ar * w * vg.grad, w * vd.grad, 0.0});
      emit_fake(fake.begin(s) + i, Element{0.0, w * vg.loss, scale * ar * w * vd.grad,
                                           scale * ar * w * vg.grad, 0.0, w * vg.grad});
    }
    t.d_loss_real = d_real.value() * ar;
    t.g_loss = g.value() * ar;
    t.abs_real = abs_real.value() * ar;
    t.abs_g = abs_g.value() * ar;
    t.coef[0] = t.coef[1] = scale * ar;
    t.inv_norm[0] = t.inv_norm[1] = ar;
  } else if (p.d_loss >= GANLOSS_LOSS_RELATIVISTIC_AVERAGE) {
    const AverageTerms terms{p.d_loss, p.params};
    const double af = reciprocal(normaliser(p.reduction, fake, s));
    const double mean_r = t.mean[0];  // formed above, before any element is written
    const double mean_f = t.mean[1];
    // The sums through the means: sum_i w_i phi'(r~_i) and sum_j v_j psi'(f~_j), D and G.
    Sum dr, df, gr, gf;
    for (int64_t i = 0; i < nr; ++i) {
      const int64_t k = real.begin(s) + i;
      const double x = fp32_argument(real.logit(k) - mean_f);
      const double w = real.weight(k);
      dr.add(w * masked(w, terms.real_d(x)).grad);
      gr.add(w * masked(w, terms.real_g(x)).grad);
    }
    for (int64_t j = 0; j < nf; ++j) {
      const int64_t k = fake.begin(s) + j;
      const double x = fp32_argument(fake.logit(k) - mean_r);
      const double w = fake.weight(k);
      df.add(w * masked(w, terms.fake_d(x)).grad);
      gf.add(w * masked(w, terms.fake_g(x)).grad);
    }
    // d/dr_k: a_r w_k phi'(r~_k) - a_f sum_j v_j psi'(f~_j) / N_r (through mean(r)), and
    // likewise for the fake side.
    const double real_shift_d = nr ? -af * df.value() / static_cast<double>(nr) : 0.0;
    const double real_shift_g = nr ? -af * gf.value() / static_cast<double>(nr) : 0.0;
    const double fake_shift_d = nf ? -ar * dr.value() / static_cast<double>(nf) : 0.0;
    const double fake_shift_g = nf ? -ar * gr.value() / static_cast<double>(nf) : 0.0;
    for (int64_t i = 0; i < nr; ++i) {
      const int64_t k = real.begin(s) + i;
      const double w = real.weight(k);
      const double x = fp32_argument(real.logit(k) - mean_f);
      const Value vd = masked(w, terms.real_d(x)), vg = masked(w, terms.real_g(x));
      d_real.add(w * vd.loss);
      abs_real.add(std::fabs(w * vd.loss));
      g.add(w * vg.loss * ar);
      abs_g.add(std::fabs(w * vg.loss) * ar);
      emit_real(k, Element{w * vd.loss, w * vg.loss, scale * (ar * w * vd.grad + real_shift_d),
                           scale * (ar * w * vg.grad + real_shift_g), w * vd.grad, w * vg.grad});
    }
    for (int64_t j = 0; j < nf; ++j) {
      const int64_t k = fake.begin(s) + j;
      const double w = fake.weight(k);
      const double x = fp32_argument(fake.logit(k) - mean_r);
      const Value vd = masked(w, terms.fake_d(x)), vg = masked(w, terms.fake_g(x));
      d_fake.add(w * vd.loss);
      abs_fake.add(std::fabs(w * vd.loss));
      g.add(w * vg.loss * af);
      abs_g.add(std::fabs(w * vg.loss) * af);
      emit_fake(k, Element{w * vd.loss, w * vg.loss, scale * (af * w * vd.grad + fake_shift_d),
                           scale * (af * w * vg.grad + fake_shift_g), w * vd.grad, w * vg.grad});
    }
    t.d_loss_real = d_real.value() * ar;
    t.d_loss_fake = d_fake.value() * af;
    t.g_loss = g.value();
    t.abs_real = abs_real.value() * ar;
    t.abs_fake_d = abs_fake.value() * af;
    t.abs_g = abs_g.value();
    t.coef[0] = scale * ar;
    t.coef[1] = scale * af;
    t.inv_norm[0] = ar;
    t.inv_norm[1] = af;
    t.offset_d[0] = scale * real_shift_d;
    t.offset_g[0] = scale * real_shift_g;
    t.offset_d[1] = scale * fake_shift_d;
    t.offset_g[1] = scale * fake_shift_g;
  } else {
    const Terms terms{p.d_loss, p.g_loss, p.params};
    const double af = reciprocal(normaliser(p.reduction, fake, s));
    for (int64_t i = 0; i < nr; ++i) {
      const int64_t k = real.begin(s) + i;
      const double w = real.weight(k);
      const Value vd = masked(w, terms.real_d(real.logit(k)));
      d_real.add(w * vd.loss);
      abs_real.add(std::fabs(w * vd.loss));
      emit_real(k, Element{w * vd.loss, 0.0, scale * ar * w * vd.grad, 0.0, w * vd.grad, 0.0});
    }
    for (int64_t j = 0; j < nf; ++j) {
      const int64_t k = fake.begin(s) + j;
      const double w = fake.weight(k);
      const double f = fake.logit(k);
      const Value vd = masked(w, terms.fake_d(f)), vg = masked(w, terms.fake_g(f));
      d_fake.add(w * vd.loss);
      abs_fake.add(std::fabs(w * vd.loss));
      g.add(w * vg.loss);
      abs_g.add(std::fabs(w * vg.loss));
      emit_fake(k, Element{w * vd.loss, w * vg.loss, scale * af * w * vd.grad,
                           scale * af * w * vg.grad, w * vd.grad, w * vg.grad});
    }
    t.d_loss_real = d_real.value() * ar;
    t.d_loss_fake = d_fake.value() * af;
    t.g_loss = g.value() * af;
    t.abs_real = abs_real.value() * ar;
    t.abs_fake_d = abs_fake.value() * af;
    t.abs_g = abs_g.value() * af;
    t.coef[0] = scale * ar;
    t.coef[1] = scale * af;
    t.inv_norm[0] = ar;
    t.inv_norm[1] = af;
  }
  t.d_loss = t.d_loss_real + t.d_loss_fake;
  return t;
}

// A value in a storage type of the call (the backend's output, not used by evaluate()).
void store(void* base, int32_t dtype, int64_t index, double value) {
  const float f = static_cast<float>(value);
  switch (dtype) {
    case GANLOSS_DTYPE_F16:
      static_cast<uint16_t*>(base)[index] = detail::float_to_half(f);
      break;
    case GANLOSS_DTYPE_BF16:
      static_cast<uint16_t*>(base)[index] = detail::float_to_bfloat16(f);
      break;
    default:
      static_cast<float*>(base)[index] = f;
  }
}

}  // namespace

Result evaluate(const ganloss_problem_t& p, const ganloss_inputs_t& in) {
  const Side real =
      side_of(p, in.real, in.real_weights, in.real_offsets, p.real_count, p.real_stride);
  const Side fake =
      side_of(p, in.fake, in.fake_weights, in.fake_offsets, p.fake_count, p.fake_stride);
  Result r;
  r.segments.resize(static_cast<size_t>(p.segments));
  for (auto* v : {&r.grad_real, &r.grad_real_g, &r.loss_real, &r.loss_real_g, &r.slope_real_d,
                  &r.slope_real_g}) {
    v->assign(static_cast<size_t>(real.extent()), kNaN);
  }
  for (auto* v : {&r.grad_fake_d, &r.grad_fake_g, &r.loss_fake_d, &r.loss_fake_g, &r.slope_fake_d,
                  &r.slope_fake_g}) {
    v->assign(static_cast<size_t>(fake.extent()), kNaN);
  }
  for (int64_t s = 0; s < p.segments; ++s) {
    r.segments[static_cast<size_t>(s)] = walk_segment(
        p, real, fake, s,
        [&](int64_t k, const Element& e) {
          const auto i = static_cast<size_t>(k);
          r.loss_real[i] = e.loss_d;
          r.loss_real_g[i] = e.loss_g;
          r.grad_real[i] = e.grad_d;
          r.grad_real_g[i] = e.grad_g;
          r.slope_real_d[i] = e.slope_d;
          r.slope_real_g[i] = e.slope_g;
        },
        [&](int64_t k, const Element& e) {
          const auto i = static_cast<size_t>(k);
          r.loss_fake_d[i] = e.loss_d;
          r.loss_fake_g[i] = e.loss_g;
          r.grad_fake_d[i] = e.grad_d;
          r.grad_fake_g[i] = e.grad_g;
          r.slope_fake_d[i] = e.slope_d;
          r.slope_fake_g[i] = e.slope_g;
        });
  }
  return r;
}

namespace {

// A VJP call: each requested gradient is u_d[s] * (the D gradient) + u_g[s] * (the G
// gradient), the double gradients of evaluate(), a null cotangent's loss left out, rounded once
// to the gradient dtype. A side whose gradient is requested is written in full.
Status run_vjp(const ganloss_problem_t& p, const ganloss_inputs_t& in,
               const detail::CallParams& q) {
  const auto grad_dtype = static_cast<int32_t>(q.grad_dtype);
  const bool coupled = q.relativity != detail::Relativity::none &&
                       (q.cotangent_d != nullptr || q.cotangent_g != nullptr);
  const bool read_real = q.grad_real != nullptr || coupled;
  const bool read_fake = q.grad_fake_d != nullptr || coupled;
  const Side real = side_of(p, read_real ? in.real : nullptr, in.real_weights, in.real_offsets,
                            p.real_count, p.real_stride);
  const Side fake = side_of(p, read_fake ? in.fake : nullptr, in.fake_weights, in.fake_offsets,
                            p.fake_count, p.fake_stride);
  for (int64_t s = 0; s < p.segments; ++s) {
    const bool ud = q.cotangent_d != nullptr;
    const bool ug = q.cotangent_g != nullptr;
    const double u_d = ud ? static_cast<double>(q.cotangent_d[s]) : 0.0;
    const double u_g = ug ? static_cast<double>(q.cotangent_g[s]) : 0.0;
    auto combined = [&](const Element& e) {
      return (ud ? u_d * e.grad_d : 0.0) + (ug ? u_g * e.grad_g : 0.0);
    };
    walk_segment(
        p, real, fake, s,
        [&](int64_t k, const Element& e) {
          if (q.grad_real) store(q.grad_real, grad_dtype, k, combined(e));
        },
        [&](int64_t k, const Element& e) {
          if (q.grad_fake_d) store(q.grad_fake_d, grad_dtype, k, combined(e));
        });
  }
  return Status::Success;
}

}  // namespace

Status run(const ganloss_problem_t& p, const ganloss_inputs_t& in, const detail::CallParams& q) {
  if (q.vjp) return run_vjp(p, in, q);
  const auto grad_dtype = static_cast<int32_t>(q.grad_dtype);
  const bool read_real =
      q.real.logits != nullptr && (detail::side_used(q, true) || q.grad_real_g || q.loss_real_g ||
                                   q.relativity != detail::Relativity::none);
  const bool read_fake = q.fake.logits != nullptr &&
                         (detail::side_used(q, false) || q.relativity != detail::Relativity::none);
  const Side real = side_of(p, read_real ? in.real : nullptr, in.real_weights, in.real_offsets,
                            p.real_count, p.real_stride);
  const Side fake = side_of(p, read_fake ? in.fake : nullptr, in.fake_weights, in.fake_offsets,
                            p.fake_count, p.fake_stride);
  for (int64_t s = 0; s < p.segments; ++s) {
    const SegmentTotals t = walk_segment(
        p, real, fake, s,
        [&](int64_t k, const Element& e) {
          if (q.grad_real) store(q.grad_real, grad_dtype, k, e.grad_d);
          if (q.grad_real_g) store(q.grad_real_g, grad_dtype, k, e.grad_g);
          if (q.loss_real) q.loss_real[k] = static_cast<float>(e.loss_d);
          if (q.loss_real_g) q.loss_real_g[k] = static_cast<float>(e.loss_g);
        },
        [&](int64_t k, const Element& e) {
          if (q.grad_fake_d) store(q.grad_fake_d, grad_dtype, k, e.grad_d);
          if (q.grad_fake_g) store(q.grad_fake_g, grad_dtype, k, e.grad_g);
          if (q.loss_fake_d) q.loss_fake_d[k] = static_cast<float>(e.loss_d);
          if (q.loss_fake_g) q.loss_fake_g[k] = static_cast<float>(e.loss_g);
        });
    if (q.d_loss) q.d_loss[s] = static_cast<float>(t.d_loss);
    if (q.d_loss_real) q.d_loss_real[s] = static_cast<float>(t.d_loss_real);
    if (q.d_loss_fake) q.d_loss_fake[s] = static_cast<float>(t.d_loss_fake);
    if (q.g_loss) q.g_loss[s] = static_cast<float>(t.g_loss);
    if (q.stats_out) {
      ganloss_segment_stats_t& st = q.stats_out[s];
      st.mean_sigmoid_real = static_cast<float>(t.mean_sigmoid_real);
      st.mean_sigmoid_fake = static_cast<float>(t.mean_sigmoid_fake);
      st.frac_real_positive = static_cast<float>(t.frac_real_positive);
      st.frac_fake_negative = static_cast<float>(t.frac_fake_negative);
      st.mean_sign_real = static_cast<float>(t.mean_sign_real);
      st.nonfinite_real = t.nonfinite_real;
      st.nonfinite_fake = t.nonfinite_fake;
    }
  }
  return Status::Success;
}

}  // namespace reference
}  // namespace ganloss
