// Reference backend: the loss definitions of docs/losses.md evaluated term by term in double.
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

// The three terms of a problem, from its loss kinds and parameters.
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

int64_t stride_of(const ganloss_problem_t& p, int64_t count, int64_t stride) {
  return (stride == 0 || p.segments == 1) ? count : stride;
}

// Walks every element of every segment in order. on_real(s, i, index, d) and
// on_fake(s, i, index, d, g) receive each term with its gradient already scaled (and divided
// by the count for mean); on_segment(s, totals) receives each segment's totals.
template <class OnReal, class OnFake, class OnSegment>
void walk(const ganloss_problem_t& p, const void* real, const void* fake, OnReal&& on_real,
          OnFake&& on_fake, OnSegment&& on_segment) {
  const Terms terms{p.d_loss, p.g_loss, p.params};
  const bool mean = p.reduction == GANLOSS_REDUCTION_MEAN;
  const double scale = p.grad_scale;
  const int64_t nr = real ? p.real_count : 0;
  const int64_t nf = fake ? p.fake_count : 0;
  const int64_t sr = stride_of(p, p.real_count, p.real_stride);
  const int64_t sf = stride_of(p, p.fake_count, p.fake_stride);
  const double real_norm = mean && nr > 0 ? 1.0 / static_cast<double>(nr) : 1.0;
  const double fake_norm = mean && nf > 0 ? 1.0 / static_cast<double>(nf) : 1.0;
  for (int64_t s = 0; s < p.segments; ++s) {
    Sum real_sum, real_abs, fake_d_sum, fake_d_abs, fake_g_sum, fake_g_abs;
    for (int64_t i = 0; i < nr; ++i) {
      const int64_t index = s * sr + i;
      const Value d = terms.real_d(load(real, p.dtype, index));
      real_sum.add(d.loss);
      real_abs.add(std::fabs(d.loss));
      on_real(s, i, index, Value{d.loss, scale * d.grad * real_norm});
    }
    for (int64_t i = 0; i < nf; ++i) {
      const int64_t index = s * sf + i;
      const double f = load(fake, p.dtype, index);
      const Value d = terms.fake_d(f);
      const Value g = terms.fake_g(f);
      fake_d_sum.add(d.loss);
      fake_d_abs.add(std::fabs(d.loss));
      fake_g_sum.add(g.loss);
      fake_g_abs.add(std::fabs(g.loss));
      on_fake(s, i, index, Value{d.loss, scale * d.grad * fake_norm},
              Value{g.loss, scale * g.grad * fake_norm});
    }
    SegmentTotals t;
    t.d_loss_real = real_sum.value() * real_norm;
    t.d_loss_fake = fake_d_sum.value() * fake_norm;
    t.g_loss = fake_g_sum.value() * fake_norm;
    t.d_loss = t.d_loss_real + t.d_loss_fake;
    t.abs_real = real_abs.value() * real_norm;
    t.abs_fake_d = fake_d_abs.value() * fake_norm;
    t.abs_fake_g = fake_g_abs.value() * fake_norm;
    on_segment(s, t);
  }
}

// A gradient in the storage type of the call (the backend's output, not used by evaluate()).
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

Result evaluate(const ganloss_problem_t& p, const void* real, const void* fake) {
  Result r;
  const int64_t nr = real ? p.real_count : 0;
  const int64_t nf = fake ? p.fake_count : 0;
  r.segments.resize(static_cast<size_t>(p.segments));
  for (auto* v : {&r.grad_real, &r.loss_real})
    v->resize(static_cast<size_t>(p.segments * nr));
  for (auto* v : {&r.grad_fake_d, &r.grad_fake_g, &r.loss_fake_d, &r.loss_fake_g}) {
    v->resize(static_cast<size_t>(p.segments * nf));
  }
  walk(
      p, real, fake,
      [&](int64_t s, int64_t i, int64_t, Value d) {
        r.loss_real[s * nr + i] = d.loss;
        r.grad_real[s * nr + i] = d.grad;
      },
      [&](int64_t s, int64_t i, int64_t, Value d, Value g) {
        r.loss_fake_d[s * nf + i] = d.loss;
        r.grad_fake_d[s * nf + i] = d.grad;
        r.loss_fake_g[s * nf + i] = g.loss;
        r.grad_fake_g[s * nf + i] = g.grad;
      },
      [&](int64_t s, const SegmentTotals& t) { r.segments[s] = t; });
  return r;
}

Status run(const ganloss_problem_t& p, const detail::CallParams& q) {
  const auto grad_dtype = static_cast<int32_t>(q.grad_dtype);
  const bool use_real = q.real_d.kind != TermKind::none;
  const bool use_fake = q.fake_d.kind != TermKind::none || q.fake_g.kind != TermKind::none;
  walk(
      p, use_real ? q.real.logits : nullptr, use_fake ? q.fake.logits : nullptr,
      [&](int64_t, int64_t, int64_t index, Value d) {
        if (q.grad_real) store(q.grad_real, grad_dtype, index, d.grad);
        if (q.loss_real) q.loss_real[index] = static_cast<float>(d.loss);
      },
      [&](int64_t, int64_t, int64_t index, Value d, Value g) {
        if (q.grad_fake_d) store(q.grad_fake_d, grad_dtype, index, d.grad);
        if (q.grad_fake_g) store(q.grad_fake_g, grad_dtype, index, g.grad);
        if (q.loss_fake_d) q.loss_fake_d[index] = static_cast<float>(d.loss);
        if (q.loss_fake_g) q.loss_fake_g[index] = static_cast<float>(g.loss);
      },
      [&](int64_t s, const SegmentTotals& t) {
        if (q.d_loss) q.d_loss[s] = static_cast<float>(t.d_loss);
        if (q.d_loss_real) q.d_loss_real[s] = static_cast<float>(t.d_loss_real);
        if (q.d_loss_fake) q.d_loss_fake[s] = static_cast<float>(t.d_loss_fake);
        if (q.g_loss) q.g_loss[s] = static_cast<float>(t.g_loss);
      });
  return Status::Success;
}

}  // namespace reference
}  // namespace ganloss
