// Shared test machinery: random problems, output buffers fenced by guard bytes, and the
// comparison of a backend's outputs with the double-precision reference under the
// dtype-derived tolerances of src/tolerance.hpp.
#ifndef GANLOSS_TESTS_TEST_SUPPORT_HPP_
#define GANLOSS_TESTS_TEST_SUPPORT_HPP_

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "ganloss/ganloss.h"
#include "ganloss/ganloss.hpp"
#include "host_dtype.hpp"
#include "reference.hpp"
#include "tolerance.hpp"

namespace ganloss {
namespace testing {

constexpr uint8_t kGuardByte = 0xA5;
constexpr std::size_t kGuardBytes = 64;

// A host buffer of `bytes` usable bytes, 64-byte aligned, with kGuardBytes of guard pattern
// before and after, and every usable byte preset to the guard pattern too, so that a test
// can tell which bytes a call wrote.
class GuardedBuffer {
 public:
  GuardedBuffer() : GuardedBuffer(0) {}
  explicit GuardedBuffer(std::size_t bytes)
      : bytes_(bytes), storage_(bytes + 2 * kGuardBytes + 64, kGuardByte) {}

  void* data() { return bytes_ ? base() + kGuardBytes : nullptr; }
  const void* data() const { return const_cast<GuardedBuffer*>(this)->data(); }
  template <class T>
  T* as() {
    return static_cast<T*>(data());
  }
  template <class T>
  const T* as() const {
    return static_cast<const T*>(data());
  }
  std::size_t bytes() const { return bytes_; }

  // The whole allocation, guards included, and where the usable bytes start in it: for
  // mirroring the buffer on a device byte for byte.
  uint8_t* raw() { return base(); }
  std::size_t raw_bytes() const { return bytes_ + 2 * kGuardBytes; }
  static constexpr std::size_t data_offset() { return kGuardBytes; }

  bool guards_intact() const {
    const uint8_t* b = const_cast<GuardedBuffer*>(this)->base();
    for (std::size_t i = 0; i < kGuardBytes; ++i) {
      if (b[i] != kGuardByte || b[kGuardBytes + bytes_ + i] != kGuardByte) return false;
    }
    return true;
  }

  // Whether byte `i` of the usable area still holds the guard pattern.
  bool untouched(std::size_t i) const {
    return static_cast<const uint8_t*>(data())[i] == kGuardByte;
  }

  bool all_untouched() const {
    for (std::size_t i = 0; i < bytes_; ++i) {
      if (!untouched(i)) return false;
    }
    return guards_intact();
  }

 private:
  uint8_t* base() {
    const auto p = reinterpret_cast<uintptr_t>(storage_.data());
    return storage_.data() + ((64 - p % 64) % 64);
  }
  std::size_t bytes_ = 0;
  std::vector<uint8_t> storage_;
};

inline int64_t stride_of(const ganloss_problem_t& p, int64_t count, int64_t stride) {
  return (stride == 0 || p.segments == 1) ? count : stride;
}

// Elements spanned by one side's rows.
inline int64_t extent(const ganloss_problem_t& p, int64_t count, int64_t stride) {
  if (count == 0) return 0;
  return (p.segments - 1) * stride_of(p, count, stride) + count;
}

// Logit generator: a mixture that exercises every regime of the formulas, from |x| < 1e-3 to
// the saturated tails, in float.
inline float random_logit(std::mt19937_64& rng) {
  std::uniform_int_distribution<int> pick(0, 9);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  switch (pick(rng)) {
    case 0:
      return normal(rng) * 1e-3f;
    case 1:
      return normal(rng) * 30.0f;
    case 2:
      return normal(rng) * 100.0f;
    default:
      return normal(rng) * 4.0f;
  }
}

inline int64_t logit_bytes(const ganloss_problem_t& p) {
  return p.dtype == GANLOSS_DTYPE_F32 ? 4 : 2;
}

inline int64_t grad_bytes(const ganloss_problem_t& p) {
  return p.fp32_gradients ? 4 : logit_bytes(p);
}

inline int32_t grad_dtype(const ganloss_problem_t& p) {
  return p.fp32_gradients ? GANLOSS_DTYPE_F32 : p.dtype;
}

inline void store_element(void* base, int32_t dtype, int64_t i, float v) {
  switch (dtype) {
    case GANLOSS_DTYPE_F16:
      static_cast<uint16_t*>(base)[i] = detail::float_to_half(v);
      break;
    case GANLOSS_DTYPE_BF16:
      static_cast<uint16_t*>(base)[i] = detail::float_to_bfloat16(v);
      break;
    default:
      static_cast<float*>(base)[i] = v;
  }
}

inline double load_element(const void* base, int32_t dtype, int64_t i) {
  switch (dtype) {
    case GANLOSS_DTYPE_F16:
      return detail::half_to_float(static_cast<const uint16_t*>(base)[i]);
    case GANLOSS_DTYPE_BF16:
      return detail::bfloat16_to_float(static_cast<const uint16_t*>(base)[i]);
    default:
      return static_cast<const float*>(base)[i];
  }
}

// Host inputs and guarded outputs for one problem.
struct HostCall {
  ganloss_problem_t problem{};
  GuardedBuffer real, fake;
  GuardedBuffer d_loss, d_loss_real, d_loss_fake, g_loss;
  GuardedBuffer grad_real, grad_fake_d, grad_fake_g;
  GuardedBuffer loss_real, loss_fake_d, loss_fake_g;
  GuardedBuffer workspace;

  // Allocates every buffer; the logits (random, over the whole extent, gaps included) are
  // rounded to the problem's dtype.
  explicit HostCall(const ganloss_problem_t& p, uint64_t seed = 1) : problem(p) {
    const int64_t t = logit_bytes(p);
    const int64_t g = grad_bytes(p);
    const int64_t er = extent(p, p.real_count, p.real_stride);
    const int64_t ef = extent(p, p.fake_count, p.fake_stride);
    real = GuardedBuffer(static_cast<std::size_t>(er * t));
    fake = GuardedBuffer(static_cast<std::size_t>(ef * t));
    std::mt19937_64 rng(seed);
    for (int64_t i = 0; i < er; ++i)
      set_real(i, random_logit(rng));
    for (int64_t i = 0; i < ef; ++i)
      set_fake(i, random_logit(rng));
    const auto seg = static_cast<std::size_t>(p.segments * 4);
    for (GuardedBuffer* b : {&d_loss, &d_loss_real, &d_loss_fake, &g_loss}) {
      *b = GuardedBuffer(seg);
    }
    grad_real = GuardedBuffer(static_cast<std::size_t>(er * g));
    loss_real = GuardedBuffer(static_cast<std::size_t>(er * 4));
    for (GuardedBuffer* b : {&grad_fake_d, &grad_fake_g}) {
      *b = GuardedBuffer(static_cast<std::size_t>(ef * g));
    }
    for (GuardedBuffer* b : {&loss_fake_d, &loss_fake_g}) {
      *b = GuardedBuffer(static_cast<std::size_t>(ef * 4));
    }
  }

  // Element i of the real or fake logits (in elements from the start, gaps included), rounded
  // to the problem's dtype.
  void set_real(int64_t i, float v) { store_element(real.data(), problem.dtype, i, v); }
  void set_fake(int64_t i, float v) { store_element(fake.data(), problem.dtype, i, v); }
  double real_at(int64_t i) const { return load_element(real.data(), problem.dtype, i); }
  double fake_at(int64_t i) const { return load_element(fake.data(), problem.dtype, i); }

  ganloss_outputs_t all_outputs() {
    ganloss_outputs_t o;
    o.d_loss = d_loss.as<float>();
    o.d_loss_real = d_loss_real.as<float>();
    o.d_loss_fake = d_loss_fake.as<float>();
    o.g_loss = g_loss.as<float>();
    o.grad_real = grad_real.data();
    o.grad_fake_d = grad_fake_d.data();
    o.grad_fake_g = grad_fake_g.data();
    o.loss_real = loss_real.as<float>();
    o.loss_fake_d = loss_fake_d.as<float>();
    o.loss_fake_g = loss_fake_g.as<float>();
    return o;
  }

  // Runs `backend` with a workspace of exactly the queried size.
  ganloss_status_t run(const ganloss_outputs_t& o, int32_t backend, int threads = 0) {
    std::size_t bytes = 0;
    ganloss_status_t s = ganloss_workspace_size(&problem, backend, &bytes);
    if (s != GANLOSS_STATUS_SUCCESS) return s;
    workspace = GuardedBuffer(bytes);
    ganloss_execution_t e;
    ganloss_execution_init(&e);
    e.backend = backend;
    e.cpu_threads = threads;
    return ganloss_compute(&problem, real.data(), fake.data(), &o, workspace.data(), bytes, &e,
                           nullptr);
  }

  std::vector<GuardedBuffer*> output_buffers() {
    return {&d_loss,      &d_loss_real, &d_loss_fake, &g_loss,      &grad_real,
            &grad_fake_d, &grad_fake_g, &loss_real,   &loss_fake_d, &loss_fake_g};
  }
};

// Worst error ratio (|got - ref| / bound, <= 1 passes) of each output of a call.
struct Comparison {
  double worst = 0.0;
  std::string first_failure;

  void add(double ratio, const std::string& what) {
    if (ratio > 1.0 && first_failure.empty()) first_failure = what;
    worst = std::max(worst, ratio);
  }
};

inline std::string describe(const ganloss_problem_t& p) {
  std::ostringstream s;
  s << "S=" << p.segments << " Nr=" << p.real_count << " Nf=" << p.fake_count
    << " sr=" << p.real_stride << " sf=" << p.fake_stride << " d=" << p.d_loss << " g=" << p.g_loss
    << " red=" << p.reduction << " dtype=" << p.dtype << (p.fp32_gradients ? "/f32grad" : "")
    << " scale=" << p.grad_scale << " t=" << p.params.real_target << "/" << p.params.fake_target;
  return s.str();
}

// Checks the values of every requested output of `call` against the reference (per-element
// outputs inside their rows only).
inline Comparison compare_values_with_reference(HostCall& call, const ganloss_outputs_t& o,
                                                int depth) {
  using ganloss::DType;
  const ganloss_problem_t& p = call.problem;
  const reference::Result ref = reference::evaluate(p, call.real.data(), call.fake.data());
  const int32_t gd = grad_dtype(p);
  const auto gdtype = static_cast<DType>(gd);
  const bool mean = p.reduction == GANLOSS_REDUCTION_MEAN;
  const double coef_r = mean ? p.grad_scale / static_cast<double>(p.real_count) : p.grad_scale;
  const double coef_f = mean ? p.grad_scale / static_cast<double>(p.fake_count) : p.grad_scale;
  Comparison c;
  auto element = [&](const void* out, int32_t out_dtype, const std::vector<double>& expect,
                     int64_t count, int64_t stride_arg, detail::Tolerance tol, const char* name) {
    if (out == nullptr) return;
    const int64_t stride = stride_of(p, count, stride_arg);
    for (int64_t s = 0; s < p.segments; ++s) {
      for (int64_t i = 0; i < count; ++i) {
        const double got = load_element(out, out_dtype, s * stride + i);
        const double want = expect[static_cast<std::size_t>(s * count + i)];
        std::ostringstream what;
        what << name << "[" << s << "," << i << "] got " << got << " want " << want;
        c.add(tol.ratio(got, want), what.str());
      }
    }
  };
  element(o.grad_real, gd, ref.grad_real, p.real_count, p.real_stride,
          detail::gradient_tolerance(gdtype, coef_r), "grad_real");
  element(o.grad_fake_d, gd, ref.grad_fake_d, p.fake_count, p.fake_stride,
          detail::gradient_tolerance(gdtype, coef_f), "grad_fake_d");
  element(o.grad_fake_g, gd, ref.grad_fake_g, p.fake_count, p.fake_stride,
          detail::gradient_tolerance(gdtype, coef_f), "grad_fake_g");
  element(o.loss_real, GANLOSS_DTYPE_F32, ref.loss_real, p.real_count, p.real_stride,
          detail::element_loss_tolerance(), "loss_real");
  element(o.loss_fake_d, GANLOSS_DTYPE_F32, ref.loss_fake_d, p.fake_count, p.fake_stride,
          detail::element_loss_tolerance(), "loss_fake_d");
  element(o.loss_fake_g, GANLOSS_DTYPE_F32, ref.loss_fake_g, p.fake_count, p.fake_stride,
          detail::element_loss_tolerance(), "loss_fake_g");
  for (int64_t s = 0; s < p.segments; ++s) {
    const reference::SegmentTotals& t = ref.segments[static_cast<std::size_t>(s)];
    auto total = [&](const float* out, double want, double abs_total, const char* name) {
      if (out == nullptr) return;
      std::ostringstream what;
      what << name << "[" << s << "] got " << out[s] << " want " << want;
      c.add(detail::total_tolerance(abs_total, depth).ratio(out[s], want), what.str());
    };
    total(o.d_loss, t.d_loss, t.abs_real + t.abs_fake_d, "d_loss");
    total(o.d_loss_real, t.d_loss_real, t.abs_real, "d_loss_real");
    total(o.d_loss_fake, t.d_loss_fake, t.abs_fake_d, "d_loss_fake");
    total(o.g_loss, t.g_loss, t.abs_fake_g, "g_loss");
  }
  return c;
}

// compare_values_with_reference, and every byte outside the rows (gaps between rows, guard
// bytes, outputs not requested) untouched.
inline Comparison compare_with_reference(HostCall& call, const ganloss_outputs_t& o, int depth) {
  const ganloss_problem_t& p = call.problem;
  Comparison c = compare_values_with_reference(call, o, depth);
  auto fenced = [&](GuardedBuffer& b, const void* out, int64_t count, int64_t stride_arg,
                    int64_t elem, const char* name) {
    if (!b.guards_intact()) c.add(INFINITY, std::string(name) + ": guard bytes overwritten");
    if (out == nullptr) {
      if (!b.all_untouched()) c.add(INFINITY, std::string(name) + ": written though not requested");
      return;
    }
    const int64_t stride = stride_of(p, count, stride_arg);
    for (int64_t s = 0; s + 1 < p.segments; ++s) {
      for (int64_t i = count; i < stride; ++i) {
        for (int64_t k = 0; k < elem; ++k) {
          if (!b.untouched(static_cast<std::size_t>((s * stride + i) * elem + k))) {
            c.add(INFINITY, std::string(name) + ": gap between rows written");
            return;
          }
        }
      }
    }
  };
  const int64_t t = grad_bytes(p);
  fenced(call.grad_real, o.grad_real, p.real_count, p.real_stride, t, "grad_real");
  fenced(call.grad_fake_d, o.grad_fake_d, p.fake_count, p.fake_stride, t, "grad_fake_d");
  fenced(call.grad_fake_g, o.grad_fake_g, p.fake_count, p.fake_stride, t, "grad_fake_g");
  fenced(call.loss_real, o.loss_real, p.real_count, p.real_stride, 4, "loss_real");
  fenced(call.loss_fake_d, o.loss_fake_d, p.fake_count, p.fake_stride, 4, "loss_fake_d");
  fenced(call.loss_fake_g, o.loss_fake_g, p.fake_count, p.fake_stride, 4, "loss_fake_g");
  for (GuardedBuffer* b : {&call.d_loss, &call.d_loss_real, &call.d_loss_fake, &call.g_loss}) {
    if (!b->guards_intact()) c.add(INFINITY, "per-segment output guard bytes overwritten");
  }
  if (!call.workspace.guards_intact()) c.add(INFINITY, "workspace guard bytes overwritten");
  return c;
}

// Only output number `which` (0-9, in ganloss_outputs_t order) of `all`.
inline ganloss_outputs_t only(const ganloss_outputs_t& all, int which) {
  ganloss_outputs_t o;
  ganloss_outputs_init(&o);
  switch (which) {
    case 0:
      o.d_loss = all.d_loss;
      break;
    case 1:
      o.d_loss_real = all.d_loss_real;
      break;
    case 2:
      o.d_loss_fake = all.d_loss_fake;
      break;
    case 3:
      o.g_loss = all.g_loss;
      break;
    case 4:
      o.grad_real = all.grad_real;
      break;
    case 5:
      o.grad_fake_d = all.grad_fake_d;
      break;
    case 6:
      o.grad_fake_g = all.grad_fake_g;
      break;
    case 7:
      o.loss_real = all.loss_real;
      break;
    case 8:
      o.loss_fake_d = all.loss_fake_d;
      break;
    default:
      o.loss_fake_g = all.loss_fake_g;
      break;
  }
  return o;
}

inline ganloss_problem_t make_problem(int64_t segments, int64_t nr, int64_t nf, int32_t d_kind,
                                      int32_t g_kind, int32_t reduction) {
  ganloss_problem_t p;
  ganloss_problem_init(&p);
  p.segments = segments;
  p.real_count = nr;
  p.fake_count = nf;
  p.d_loss = d_kind;
  p.g_loss = g_kind;
  p.reduction = reduction;
  return p;
}

inline const char* kind_name(int32_t k) {
  static const char* names[] = {"nonsaturating", "minimax", "hinge", "wasserstein",
                                "least_squares"};
  return (k >= 0 && k < 5) ? names[k] : "unknown";
}

inline const char* dtype_name(int32_t t) {
  static const char* names[] = {"f32", "f16", "bf16"};
  return (t >= 0 && t < 3) ? names[t] : "unknown";
}

inline const char* reduction_name(int32_t r) {
  static const char* names[] = {"none", "sum", "mean"};
  return (r >= 0 && r < 3) ? names[r] : "unknown";
}

}  // namespace testing
}  // namespace ganloss

#endif  // GANLOSS_TESTS_TEST_SUPPORT_HPP_
